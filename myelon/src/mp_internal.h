/* Internal helpers shared by the msgpack codec sources (not installed). */
#ifndef MYELON_MP_INTERNAL_H
#define MYELON_MP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Where codec errors are reported: "[msgpack] codec decode: ...". */
#define MP_WHERE "msgpack"

/* A type name for messages: MYELON_MP_STRUCT(struct x, ...) names the type
 * "struct x"; messages say "x.field". */
static inline const char *mp_type_name(const char *name)
{
  if (!name)
    return "?";
  return strncmp(name, "struct ", 7) == 0 ? name + 7 : name;
}

/* The iterative validator (view_lazy.c): myelon_mp_validate()'s verdicts
 * and messages; `max_depth` already resolved (1..MYELON_MP_MAX_DEPTH),
 * `nodes` may be NULL. */
int myelon_impl_mp_check(const uint8_t *p, size_t len, unsigned max_depth, size_t *nodes);

struct myelon_view_codec;

/* Whether `vc` is the tree view codec (myelon_mp_view_codec_init()): its
 * views share one node arena, which every access reuses, so a batch of
 * them cannot all be valid at once (typed_consumer.c refuses it). */
bool myelon_impl_mp_view_is_tree(const struct myelon_view_codec *vc);

#endif /* MYELON_MP_INTERNAL_H */
