/* libmyelon error names and messages; other codes go to disruptor_mp,
 * which also learns libmyelon's (one error space: dmp_strerror() of a
 * myelon code gives the same text as myelon_strerror()). */
#include "internal.h"

#include <myelon/version.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

_Static_assert(MYELON_ERR_BASE >= DMP_ERR_LAYER_BASE, "libmyelon's codes must lie in the layers' range");

#define MYELON_X_NAME_EL(code, name, msg) [code - MYELON_ERR_BASE] = name,
#define MYELON_X_MSG_EL(code, name, msg) [code - MYELON_ERR_BASE] = msg,
static const char *const names[] = {MYELON_ERROR_TABLE(MYELON_X_NAME_EL)};
static const char *const messages[] = {MYELON_ERROR_TABLE(MYELON_X_MSG_EL)};
#define N_CODES ((int)(sizeof names / sizeof names[0]))

/* Runs when libmyelon is loaded (or, linked statically, when this file is:
 * myelon_strerror() and myelon_err_name() pull it in). Cannot fail but by
 * a misconfigured stack (another layer on this range), which the symbol
 * tests would show; nothing to report to from a constructor. */
__attribute__((constructor)) static void register_codes(void)
{
  (void)dmp_error_register(MYELON_ERR_BASE, N_CODES, names, messages);
}

/* Index of a libmyelon code (negated or positive) in the tables, or -1. */
static int code_index(int err)
{
  if (err == INT_MIN) /* no positive form */
    return -1;
  int e = err < 0 ? -err : err;
  return e >= MYELON_ERR_BASE && e - MYELON_ERR_BASE < N_CODES ? e - MYELON_ERR_BASE : -1;
}

const char *myelon_strerror(int err)
{
  int i = code_index(err);
  return i >= 0 ? messages[i] : dmp_strerror(err);
}

const char *myelon_err_name(int err)
{
  int i = code_index(err);
  return i >= 0 ? names[i] : dmp_err_name(err);
}

/* ---- helpers of the other .c files (internal.h) ------------------------------ */

int myelon_impl_nest_fields(int rc, const char *where, const char *member)
{
  /* Copy first: the detail is rewritten from itself. */
  char was[512], now[512], nested[64];
  const char *d = dmp_last_error();
  const char *close = d[0] == '[' ? strstr(d, "] ") : NULL;
  snprintf(was, sizeof was, "%s", close ? close + 2 : d); /* the inner call's name goes */
  int nlen = snprintf(nested, sizeof nested, "cfg.%s.", member);
  size_t n = 0;
  for (const char *p = was; *p && n + 1 < sizeof now;) {
    bool field = strncmp(p, "cfg.", 4) == 0 && (p == was || p[-1] == ' ' || p[-1] == '(');
    const char *put = field ? nested : p;
    size_t len = field ? (size_t)nlen : 1;
    for (size_t i = 0; i < len && n + 1 < sizeof now; i++)
      now[n++] = put[i];
    p += field ? 4 : 1;
  }
  now[n] = '\0';
  dmp_error_set(where, "%s", now);
  return rc;
}

int myelon_impl_reserved_check(const void *reserved, size_t len, const char *where, const char *field)
{
  const unsigned char *b = reserved;
  for (size_t i = 0; i < len; i++)
    if (b[i])
      return MYELON_FAIL(-DMP_E_BADCONFIG, where,
                         "%s byte %zu is not zero: a field of a later version than %s "
                         "(start from the config's init function)", field, i, MYELON_VERSION_STRING);
  return 0;
}
