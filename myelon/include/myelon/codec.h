/**
 * @file codec.h
 * @brief Layer 2: the codec interface - how a C value becomes message
 * bytes and back.
 *
 * A codec is a small table of functions plus user data. The typed
 * producer (typed.h) asks it for the encoded size first, when it can, so a
 * value that fits in one frame is encoded straight into the claimed ring
 * slot (no intermediate buffer, no copy); anything larger is encoded once
 * into a reusable producer-side buffer and published as a fragmented
 * message. Decoding gives an owned value the caller frees with
 * myelon_codec_free().
 *
 * No type tag, size hint or version is written by the framework: both ends
 * agree on the codec (the ring's frame kind byte is the application's).
 *
 * Errors. A codec reports a bad value or bad bytes as -MYELON_E_CODEC with
 * a detail in dmp_last_error() that reads "[<codec>] codec encode: <what>"
 * or "[<codec>] codec decode: <what>" (use myelon_codec_fail()). Encode
 * callbacks also return -ENOSPC, without a detail, when the output buffer
 * is too small: that is a request for a bigger buffer, not an error.
 *
 * The shipped codecs: msgpack (msgpack_codec.h) and fixed-layout structs
 * (view.h, myelon_fixed_codec_init()).
 */
#ifndef MYELON_CODEC_H
#define MYELON_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <myelon/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Exact encoded size of `value` (optional: NULL if the codec cannot tell
 * without encoding). Must agree with `encode` for the same value.
 * @return 0 and `*len`, or -MYELON_E_CODEC (the value cannot be encoded).
 */
typedef int (*myelon_codec_size_fn)(const void *value, size_t *len, void *user);

/**
 * Encode `value` into `buf` (`cap` writable bytes).
 * @return 0 and `*len` (bytes written, <= cap); -ENOSPC if `cap` is too
 *         small (no detail; the caller retries with more room);
 *         -MYELON_E_CODEC (the value cannot be encoded; detail set).
 */
typedef int (*myelon_codec_encode_fn)(const void *value, void *buf, size_t cap, size_t *len, void *user);

/**
 * Decode `len` bytes into a new value. Must accept any bytes: bad input is
 * -MYELON_E_CODEC (detail set), never a crash, a read outside
 * `data[0..len)` or an allocation not bounded by `len`.
 * @return 0 and `*value` (owned by the caller: myelon_codec_free());
 *         -MYELON_E_CODEC; -ENOMEM.
 */
typedef int (*myelon_codec_decode_fn)(const void *data, size_t len, void **value, void *user);

/** Free a value returned by `decode`. Must accept NULL. */
typedef void (*myelon_codec_free_fn)(void *value, void *user);

/** A codec: plain data, copied by whoever keeps it (the table of functions
 * and `user` must outlive every copy). */
struct myelon_codec {
  const char *name;              /**< for messages, e.g. "msgpack:order" */
  myelon_codec_size_fn size;     /**< optional */
  myelon_codec_encode_fn encode; /**< required */
  myelon_codec_decode_fn decode; /**< required */
  myelon_codec_free_fn free;     /**< required */
  void *user;
};

/** Which direction failed, for myelon_codec_fail(). */
enum myelon_codec_op {
  MYELON_CODEC_ENCODE = 0,
  MYELON_CODEC_DECODE = 1,
};

/**
 * Record "[<where>] codec encode: <message>" (or "codec decode: ...") as
 * the thread's dmp_last_error() detail. For codec implementations.
 * @return -MYELON_E_CODEC, so a callback can `return myelon_codec_fail(...)`.
 */
MYELON_API int myelon_codec_fail(const char *where, enum myelon_codec_op op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Checked calls through a codec (NULL codec or missing function: -EINVAL).
 * A callback returning a negative code other than -ENOSPC, -ENOMEM or
 * -MYELON_E_CODEC is reported as -MYELON_E_CODEC with a generic detail, so
 * callers see one error code for "the codec refused".
 */
MYELON_API int myelon_codec_size(const struct myelon_codec *c, const void *value, size_t *len);
MYELON_API int myelon_codec_encode(const struct myelon_codec *c, const void *value, void *buf, size_t cap,
                                   size_t *len);
/** Fuzzable: any bytes in, a status out (see myelon_codec_decode_fn). */
MYELON_API int myelon_codec_decode(const struct myelon_codec *c, const void *data, size_t len, void **value);
/** Free a decoded value. NULL codec or value ok. */
MYELON_API void myelon_codec_free(const struct myelon_codec *c, void *value);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_CODEC_H */
