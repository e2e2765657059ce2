/* Error codes, messages, the layers' registered ranges and the
 * thread-local detail (see error.h). */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512]; /* room for a path and a hint */
static _Thread_local char errno_buf[96];

/* `where` is a public function the caller called, or NULL: the detail
 * never names an internal function (error.h). */
static void set_error_v(const char *where, const char *fmt, va_list ap)
{
  /* Format into a scratch buffer: the arguments may be dmp_last_error()
   * itself, when a caller wraps a lower layer's detail. */
  char tmp[sizeof last_error];
  int n = where ? snprintf(tmp, sizeof tmp, "[%s] ", where) : 0;
  if (n < 0 || (size_t)n >= sizeof tmp)
    return;
  vsnprintf(tmp + n, sizeof tmp - (size_t)n, fmt, ap);
  memcpy(last_error, tmp, sizeof tmp);
}

void dmp_impl_set_error(const char *where, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_error_v(where, fmt, ap);
  va_end(ap);
}

void dmp_error_set(const char *where, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_error_v(where, fmt, ap);
  va_end(ap);
}

const char *dmp_last_error(void)
{
  return last_error;
}

int dmp_impl_why(char *why, size_t whylen, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return code;
}

/* ---- layers' ranges (dmp_error_register) --------------------------------- */

struct layer_range {
  int base, count;
  const char *const *names;
  const char *const *messages;
};

static struct layer_range layers[DMP_ERROR_LAYERS_MAX];
/* Published count: E1 release store after the new entry is filled; pairs
 * with E2's acquire load, so a reader that sees the count sees the entry.
 * Entries are never changed once published. */
static dmp_atomic_u32 n_layers;
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER; /* writers only */

static bool overlaps(int base, int count, const struct layer_range *r)
{
  return base < r->base + r->count && r->base < base + count;
}

static int register_locked(int base, int count, const char *const *names, const char *const *messages)
{
  uint32_t n = dmp_impl_load_relaxed(&n_layers); /* relaxed: writers hold register_lock */
  for (uint32_t i = 0; i < n; i++) {
    if (layers[i].base == base && layers[i].count == count && layers[i].names == names &&
        layers[i].messages == messages)
      return 0;
    if (overlaps(base, count, &layers[i]))
      return DMP_FAIL(-EINVAL, "codes %d..%d overlap a registered layer's %d..%d", base, base + count - 1,
                      layers[i].base, layers[i].base + layers[i].count - 1);
  }
  if (n == DMP_ERROR_LAYERS_MAX)
    return DMP_FAIL(-ENOSPC, "%u error ranges are registered already", DMP_ERROR_LAYERS_MAX);
  layers[n] = (struct layer_range){.base = base, .count = count, .names = names, .messages = messages};
  dmp_impl_store_release(&n_layers, n + 1); /* E1: pairs with E2 */
  return 0;
}

int dmp_error_register(int base, int count, const char *const *names, const char *const *messages)
{
  if (!names || !messages || count <= 0)
    return DMP_FAIL(-EINVAL, "names or messages is NULL, or count %d is not positive", count);
  if (base < DMP_ERR_LAYER_BASE || base > INT_MAX - count)
    return DMP_FAIL(-EINVAL, "base %d is not in %d..%d (errno values and disruptor_mp's codes lie below)", base,
                    DMP_ERR_LAYER_BASE, INT_MAX - count);
  pthread_mutex_lock(&register_lock);
  int rc = register_locked(base, count, names, messages);
  pthread_mutex_unlock(&register_lock);
  return rc;
}

/* The registered range holding `e`, or NULL. */
static const struct layer_range *layer_of(int e)
{
  uint32_t n = dmp_impl_load_acquire(&n_layers); /* E2: pairs with E1 */
  for (uint32_t i = 0; i < n; i++)
    if (e >= layers[i].base && e - layers[i].base < layers[i].count)
      return &layers[i];
  return NULL;
}

/* ---- messages and names --------------------------------------------------- */

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
  const struct layer_range *l = layer_of(e);
  return l ? l->messages[e - l->base] : "unknown error";
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
  const struct layer_range *l = layer_of(e);
  return l ? l->names[e - l->base] : "UNKNOWN";
}
