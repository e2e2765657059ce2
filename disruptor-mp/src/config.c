/* Configuration: backend names, and the reserved-space rule of the config
 * structs (config.h, "Growing a configuration"). */
#include "internal.h"

#include <errno.h>
#include <string.h>

static const char *const backend_names[] = {[DMP_BACKEND_SHM] = "shm", [DMP_BACKEND_MMAP] = "mmap"};

const char *dmp_backend_name(enum dmp_backend backend)
{
  return (unsigned)backend < sizeof backend_names / sizeof backend_names[0] ? backend_names[backend] : "?";
}

int dmp_backend_parse(const char *name, enum dmp_backend *out)
{
  for (unsigned b = 0; name && out && b < sizeof backend_names / sizeof backend_names[0]; b++)
    if (strcmp(name, backend_names[b]) == 0) {
      *out = (enum dmp_backend)b;
      return 0;
    }
  return -EINVAL;
}

/* A non-zero byte in reserved space is a field this library does not know,
 * set by a program built against a later version: refuse it rather than
 * ignore what the caller asked for. */
int dmp_impl_reserved_check(const void *reserved, size_t len, const char *field)
{
  const unsigned char *b = reserved;
  for (size_t i = 0; i < len; i++)
    if (b[i])
      return DMP_FAIL(-DMP_E_BADCONFIG, "%s byte %zu is not zero: a field of a later version than %s "
                      "(start from the config's init function)", field, i, DMP_VERSION_STRING);
  return 0;
}
