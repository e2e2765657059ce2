/**
 * @file internal.h
 * @brief Private helpers shared by the .c files of libmyelon: failing with
 * a detail, the clocks, the preamble of the journal layer's open functions,
 * and the configuration structs' reserved space. Not installed.
 */
#ifndef MYELON_INTERNAL_H
#define MYELON_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <disruptor_mp/error.h>
#include <myelon/codec.h>
#include <myelon/error.h>

/* ---- errors (error.c) ------------------------------------------------------ */

/** Record a detail and evaluate to `rc`. `where` is the public function the
 * caller called, or NULL (never an internal helper: disruptor_mp/error.h). */
#define MYELON_FAIL(rc, where, ...) (dmp_error_set((where), __VA_ARGS__), (rc))
/** An invalid topology or transport layout (topology.c, topology_scheduler.c,
 * transport_layout.c). */
#define TOPO_FAIL(where, ...) MYELON_FAIL(-MYELON_E_TOPOLOGY, (where), __VA_ARGS__)

/** After a call with a config nested in the caller's (`cfg->ring` given to
 * Layer 0, `cfg->layout` to myelon_layout_make()) failed with `rc`: the
 * detail names the fields as "cfg.x", the caller spells them
 * "cfg.<member>.x"; say so, under `where` (a public function or NULL).
 * Returns `rc`. */
int myelon_impl_nest_fields(int rc, const char *where, const char *member);
/** myelon_impl_nest_fields() for Layer 0's fields, `cfg->ring`. */
#define myelon_impl_ring_fail(rc) myelon_impl_nest_fields((rc), NULL, "ring")

/** 0 if the `len` bytes at `reserved` are all zero, else -DMP_E_BADCONFIG
 * naming `field` (disruptor_mp/config.h, "Growing a configuration"). */
int myelon_impl_reserved_check(const void *reserved, size_t len, const char *where, const char *field);
/** myelon_impl_reserved_check() of a config struct's `reserved` member. */
#define MYELON_RESERVED_CHECK(cfg, where, field) \
  myelon_impl_reserved_check((cfg)->reserved, sizeof (cfg)->reserved, (where), (field))

/* ---- framed producer (framed_producer.c) ------------------------------------- */

struct myelon_producer;
/** The typed producer's encode-first publish: claim a slot free now (no
 * wait) with `room` bytes of payload, `encode` the value into it and
 * commit what it wrote as one SINGLE frame, as myelon_producer_claim(),
 * the encoder and myelon_producer_commit() would, in one call. Returns 0
 * (published), 1 when nothing was claimed (a byte ring, `room` beyond a
 * frame or max_message, a claim open, no free slot), or the encoder's
 * negative code (-MYELON_E_CODEC for a length beyond `room`), the slot
 * then given back unpublished and no message id taken. */
int myelon_impl_producer_encode_single(struct myelon_producer *p, size_t room, myelon_codec_encode_fn encode,
                                       const void *value, void *user, uint8_t kind);

/* ---- framed consumer (framed_consumer.c) ------------------------------------- */

struct myelon_consumer;
struct myelon_msg;
/** The typed consumer's receive: myelon_consumer_recv() (`wait`) or
 * myelon_consumer_try_recv() on a consumer and message it knows are not
 * NULL, without their argument checks and without a call through an
 * exported symbol. */
int myelon_impl_consumer_recv(struct myelon_consumer *c, struct myelon_msg *m, bool wait, int64_t timeout_ns);
/** myelon_consumer_release() on a consumer known not to be NULL. */
void myelon_impl_consumer_release(struct myelon_consumer *c);

/* ---- codecs (msgpack_codec.c) ---------------------------------------------- */

struct myelon_codec;
/** True for an untouched msgpack codec of myelon_msgpack_codec_init():
 * its size function is a whole encode that only counts, and its encoder
 * reports a short buffer as -ENOSPC, so the typed producer may encode
 * first and size only what did not fit (typed_producer.c). A codec whose
 * size or encode function was replaced is sized first, as any other. */
bool myelon_impl_mp_codec_encodes_first(const struct myelon_codec *c);

/* ---- clocks ------------------------------------------------------------------ */

/** Clock `id` in nanoseconds. */
static inline int64_t myelon_impl_clock_ns(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/** CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t myelon_impl_now_ns(void)
{
  return myelon_impl_clock_ns(CLOCK_MONOTONIC);
}

/* ---- the journal layer's open functions ---------------------------------------- */

/**
 * The start every open(cfg, out) of the journal layer shares (writer,
 * recorder, replayer): clear `*out`; -EINVAL for a NULL `cfg` or `out`;
 * the config's own validation `check(cfg)` (its code, with its detail);
 * then `obj` = a zeroed object with `obj->cfg` a copy of `*cfg`, or
 * -ENOMEM. Returns from the calling function on any failure.
 */
#define MYELON_OPEN_BEGIN(where, cfg, out, check, obj)                                   \
  do {                                                                                    \
    if (out)                                                                              \
      *(out) = NULL;                                                                      \
    if (!(out) || !(cfg))                                                                 \
      return MYELON_FAIL(-EINVAL, (where), "cfg or out is NULL");                        \
    int open_rc_ = (check)(cfg);                                                          \
    if (open_rc_ < 0)                                                                     \
      return open_rc_;                                                                    \
    if (!((obj) = calloc(1, sizeof *(obj))))                                              \
      return MYELON_FAIL(-ENOMEM, (where), "out of memory");                             \
    (obj)->cfg = *(cfg);                                                                  \
  } while (0)

#endif /* MYELON_INTERNAL_H */
