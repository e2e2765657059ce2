/**
 * @file error.h
 * @brief libmyelon's error codes. They continue disruptor_mp's scheme: a
 * function returns >= 0 on success, a negated errno or library code on
 * failure, and dmp_last_error() holds the detail for the whole stack.
 */
#ifndef MYELON_ERROR_H
#define MYELON_ERROR_H

#include <myelon/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** libmyelon codes start here (disruptor_mp's start at DMP_ERR_BASE = 4096).
 * libmyelon registers them with dmp_error_register() when it is loaded, so
 * dmp_strerror() and dmp_err_name() name them too: one error space. */
#define MYELON_ERR_BASE 8192

#define MYELON_ERROR_TABLE(X)                                                                      \
  X(MYELON_E_TRUNCATED, "TRUNCATED", "message ended before all its fragments arrived")          \
  X(MYELON_E_MALFORMED, "MALFORMED", "malformed frame (bad length, flags or fragment order)")   \
  X(MYELON_E_TOOBIG,    "TOOBIG",    "message larger than the configured maximum")               \
  X(MYELON_E_FORMAT,    "FORMAT",    "ring does not carry this frame format or capacity")        \
  X(MYELON_E_CODEC,     "CODEC",     "codec failed to encode or decode a value")                 \
  X(MYELON_E_VIEW,      "VIEW",      "bytes failed zero-copy validation")                        \
  X(MYELON_E_TOPOLOGY,  "TOPOLOGY",  "invalid topology or transport layout")                    \
  X(MYELON_E_TORN,      "TORN",      "journal ends inside a record (torn tail)")                 \
  X(MYELON_E_JCORRUPT,  "JCORRUPT",  "journal record or header is corrupted")                    \
  X(MYELON_E_JVERSION,  "JVERSION",  "journal has an unsupported format version")

enum myelon_error {
  MYELON_E_FIRST_ = MYELON_ERR_BASE - 1,
#define MYELON_X_ENUM(e, name, msg) e,
  MYELON_ERROR_TABLE(MYELON_X_ENUM)
#undef MYELON_X_ENUM
  MYELON_E_LAST_
};

/** Message for any code of the stack (myelon, disruptor_mp or errno). Never NULL. */
MYELON_API const char *myelon_strerror(int err);

/** Symbolic name for any code of the stack. Never NULL. */
MYELON_API const char *myelon_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_ERROR_H */
