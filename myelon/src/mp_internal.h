/* Internal helpers shared by the msgpack codec sources (not installed). */
#ifndef MYELON_MP_INTERNAL_H
#define MYELON_MP_INTERNAL_H

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

#endif /* MYELON_MP_INTERNAL_H */
