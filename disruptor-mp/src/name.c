/* Segment name and consumer id validation; portable unique names. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static bool name_char_ok(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

/* Shared by names and ids: 1..max chars of [A-Za-z0-9_.-], not starting with '.'. */
static int check_chars(const char *s, size_t max, const char *what)
{
  size_t len = strnlen(s, max + 1);
  if (len == 0)
    return DMP_FAIL(-DMP_E_BADNAME, "%s is empty", what);
  if (len > max)
    return DMP_FAIL(-DMP_E_BADNAME, "%s '%.40s...' is longer than %zu characters", what, s, max);
  if (s[0] == '.')
    return DMP_FAIL(-DMP_E_BADNAME, "%s '%s' starts with '.'", what, s);
  for (size_t i = 0; i < len; i++)
    if (!name_char_ok(s[i]))
      return DMP_FAIL(-DMP_E_BADNAME, "%s '%s' has character 0x%02x at %zu (allowed: A-Z a-z 0-9 _ . -)", what,
                      s, (unsigned char)s[i], i);
  return 0;
}

int dmp_name_validate(const char *name)
{
  if (!name)
    return DMP_FAIL(-EINVAL, "name is NULL");
  if (name[0] == '/')
    name++;
  return check_chars(name, DMP_NAME_MAX, "segment name");
}

int dmp_id_validate(const char *id)
{
  if (!id)
    return DMP_FAIL(-EINVAL, "consumer id is NULL");
  return check_chars(id, DMP_ID_MAX, "consumer id");
}

int dmp_name_portable(const char *prefix, char *out, size_t outlen)
{
  if (!out)
    return DMP_FAIL(-EINVAL, "out is NULL");
  if (outlen < DMP_PORTABLE_NAME_MAX + 1)
    return DMP_FAIL(-ENOSPC, "buffer of %zu bytes, need %u", outlen, DMP_PORTABLE_NAME_MAX + 1);
  size_t n = 0;
  for (const char *p = prefix; p && *p && n < 6; p++) {
    char c = *p;
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
      out[n++] = c;
  }
  if (n == 0)
    out[n++] = 'd';
  uint64_t r;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    /* No entropy yet (early boot): time, pid and a counter still make the
     * name unique on this host. */
    static dmp_atomic_u64 counter;
    r = (uint64_t)dmp_impl_realtime_ns() ^ ((uint64_t)getpid() << 40) ^
        (dmp_impl_fetch_add_relaxed(&counter, 1) << 20); /* relaxed: only unique, orders nothing */
  }
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (int i = 7; i >= 0; i--) {
    out[n + (size_t)i] = digits[r % 36];
    r /= 36;
  }
  n += 8;
  out[n] = '\0';
  return (int)n;
}
