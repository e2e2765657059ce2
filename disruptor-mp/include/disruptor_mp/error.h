/**
 * @file error.h
 * @brief Error codes, their names and messages, and the thread-local detail.
 *
 * Every fallible function in disruptor_mp returns an `int`: `>= 0` on success
 * (or a count), `< 0` on failure. A failure is either a negated errno value
 * (`-ENOENT`, `-EAGAIN`, `-ETIMEDOUT`, ...) or one of the library codes below,
 * which start at DMP_ERR_BASE so they can never collide with an errno.
 * Layers built on disruptor_mp continue the scheme with their own ranges
 * (libmyelon: MYELON_ERR_BASE, 8192) and register them, so dmp_strerror()
 * and dmp_err_name() also name a layer's codes: one error space, whichever
 * library's function a program asks.
 *
 * Cold-path failures also record a short context message ("which field,
 * which name, which consumer") in thread-local storage; dmp_last_error()
 * returns it. The return code stays authoritative: the detail is for humans.
 * Hot-path functions (claim, publish, peek, release) never touch it.
 *
 * Expected outcomes are plain return values, not errors with context:
 *  - `-EAGAIN`     a `_try_` call found the ring full / empty;
 *  - `-ETIMEDOUT`  a `_timeout` call ran out of time.
 */
#ifndef DISRUPTOR_MP_ERROR_H
#define DISRUPTOR_MP_ERROR_H

#include <disruptor_mp/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Library error codes start here (as positive numbers; returned negated).
 * disruptor_mp's own range is DMP_ERR_BASE .. DMP_ERR_LAYER_BASE - 1. */
#define DMP_ERR_BASE 4096
/** Codes from here up belong to layers built on disruptor_mp, each in a
 * range it registers (dmp_error_register()); libmyelon's starts here. */
#define DMP_ERR_LAYER_BASE 8192

/* X-macro table: (enum name, short name, message). Generates the enum,
 * dmp_strerror() and dmp_err_name() so the three can never drift apart. */
#define DMP_ERROR_TABLE(X)                                                              \
  X(DMP_E_BADNAME,   "BADNAME",   "invalid segment name or path")                       \
  X(DMP_E_BADCONFIG, "BADCONFIG", "invalid configuration")                               \
  X(DMP_E_LAYOUT,    "LAYOUT",    "segment has an incompatible layout version")          \
  X(DMP_E_CORRUPT,   "CORRUPT",   "segment header is truncated or corrupted")            \
  X(DMP_E_MISMATCH,  "MISMATCH",  "segment slot size, alignment or type tag differs")   \
  X(DMP_E_NOTREADY,  "NOTREADY",  "segment exists but is not initialised yet")           \
  X(DMP_E_TABLEFULL, "TABLEFULL", "consumer table is full")                              \
  X(DMP_E_IDINUSE,   "IDINUSE",   "consumer id is held by a live process")               \
  X(DMP_E_OWNERDEAD, "OWNERDEAD", "the producer of this ring has exited or crashed")     \
  X(DMP_E_EVICTED,   "EVICTED",   "this consumer was evicted from the ring")             \
  X(DMP_E_INUSE,     "INUSE",     "segment is owned by a live producer")                 \
  X(DMP_E_STARTUP,   "STARTUP",   "required consumers did not attach in time")           \
  X(DMP_E_STALLED,   "STALLED",   "a required consumer stalled past its grace period or died") \
  X(DMP_E_NOLIVENESS,"NOLIVENESS","liveness is not enabled on this producer")

/** Library error codes (returned negated, e.g. `return -DMP_E_CORRUPT;`). */
enum dmp_error {
  DMP_E_FIRST_ = DMP_ERR_BASE - 1,
#define DMP_X_ENUM(e, name, msg) e,
  DMP_ERROR_TABLE(DMP_X_ENUM)
#undef DMP_X_ENUM
  DMP_E_LAST_
};

/**
 * Message for an error code: accepts the negative value a function returned
 * (library code, a registered layer's code, or negated errno) and also its
 * positive form. Never NULL; unknown codes give "unknown error". Thread-safe (static strings or
 * strerror of the C library's thread-safe variant into thread-local storage).
 */
DMP_API const char *dmp_strerror(int err);

/** Symbolic name of an error code ("ENOENT", "CORRUPT", "TRUNCATED", ...).
 * Never NULL; unknown codes give "UNKNOWN". */
DMP_API const char *dmp_err_name(int err);

/** How many layers may register error ranges (dmp_error_register()). */
#define DMP_ERROR_LAYERS_MAX 8

/**
 * Register a layer's error codes `base` .. `base + count - 1` (positive
 * values, returned negated by the layer's functions), with a symbolic name
 * and a message for each, so that dmp_strerror() and dmp_err_name() give
 * them too. For libraries built on disruptor_mp, typically from a
 * constructor: libmyelon registers its codes when it is loaded. The arrays
 * are kept (not copied): static storage. Registering the same arrays again
 * is a no-op. Thread-safe; readers never block.
 * @return 0; -EINVAL (NULL arrays, count 0, `base` below DMP_ERR_LAYER_BASE
 *         or a range that overlaps another layer's);
 *         -ENOSPC (DMP_ERROR_LAYERS_MAX layers registered already).
 */
DMP_API int dmp_error_register(int base, int count, const char *const *names, const char *const *messages);

/**
 * Context of the last cold-path failure on this thread: what was wrong,
 * naming what the caller passed - a configuration field as the caller
 * spells it, a segment, a consumer id - e.g. "cfg.capacity 12 is not a
 * power of two >= 1" or "segment '/ring0' is not initialised yet". It never
 * names an internal function; it may start with "[function] " naming the
 * public function the caller called. Empty string if nothing failed yet. At most 511 characters (a longer
 * detail, e.g. one quoting a very long path, is cut). Valid until the next
 * library call on this thread.
 */
DMP_API const char *dmp_last_error(void);

/**
 * Record a detail message for the calling thread, formatted as
 * "[where] message", or just "message" when `where` is NULL. For layers
 * built on disruptor_mp (libmyelon) so one dmp_last_error() serves the whole
 * stack. `where` may only name the public function the user called (never
 * an internal helper); NULL is usual. Cold paths only.
 */
DMP_API void dmp_error_set(const char *where, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_ERROR_H */
