/* Error codes, messages and the thread-local detail (see error.h). */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512]; /* room for a path and a hint */
static _Thread_local char errno_buf[96];

static void set_error_v(const char *fn, const char *fmt, va_list ap)
{
  /* Format into a scratch buffer: the arguments may be dmp_last_error()
   * itself, when a caller wraps a lower layer's detail. */
  char tmp[sizeof last_error];
  int n = snprintf(tmp, sizeof tmp, "[%s] ", fn);
  if (n < 0 || (size_t)n >= sizeof tmp)
    return;
  vsnprintf(tmp + n, sizeof tmp - (size_t)n, fmt, ap);
  memcpy(last_error, tmp, sizeof tmp);
}

void dmp_impl_set_error(const char *fn, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_error_v(fn, fmt, ap);
  va_end(ap);
}

void dmp_error_set(const char *where, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_error_v(where ? where : "?", fmt, ap);
  va_end(ap);
}

const char *dmp_last_error(void)
{
  return last_error;
}

static int positive(int err)
{
  if (err == INT_MIN)
    return INT_MAX; /* -INT_MIN overflows; no code is that large */
  return err < 0 ? -err : err;
}

const char *dmp_strerror(int err)
{
  int e = positive(err);
  switch (e) {
  case 0:
    return "success";
#define DMP_X_MSG(code, name, msg) case code: return msg;
    DMP_ERROR_TABLE(DMP_X_MSG)
#undef DMP_X_MSG
  default:
    break;
  }
  if (e > 0 && e < DMP_ERR_BASE && strerrorname_np(e) != NULL) {
    /* GNU strerror_r returns the message (possibly not in the buffer). */
    return strerror_r(e, errno_buf, sizeof errno_buf);
  }
  return "unknown error";
}

const char *dmp_err_name(int err)
{
  int e = positive(err);
  switch (e) {
  case 0:
    return "OK";
#define DMP_X_NAME(code, name, msg) case code: return name;
    DMP_ERROR_TABLE(DMP_X_NAME)
#undef DMP_X_NAME
  default:
    break;
  }
  if (e > 0 && e < DMP_ERR_BASE) {
    const char *n = strerrorname_np(e);
    if (n)
      return n;
  }
  return "UNKNOWN";
}
