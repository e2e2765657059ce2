/* Layer 2 codec interface: checked calls and the error helper (codec.h). */
#include <myelon/codec.h>
#include <myelon/error.h>

#include <disruptor_mp/error.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int myelon_codec_fail(const char *where, enum myelon_codec_op op, const char *fmt, ...)
{
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dmp_error_set(where ? where : "codec", "codec %s: %s", op == MYELON_CODEC_ENCODE ? "encode" : "decode", msg);
  return -MYELON_E_CODEC;
}

/* One error code for "the codec refused"; resource errors pass through. */
static int normalise(const struct myelon_codec *c, enum myelon_codec_op op, int rc)
{
  if (rc >= 0 || rc == -MYELON_E_CODEC || rc == -ENOMEM || (rc == -ENOSPC && op == MYELON_CODEC_ENCODE))
    return rc;
  return myelon_codec_fail(c->name, op, "codec callback failed: %s", myelon_strerror(rc));
}

int myelon_codec_size(const struct myelon_codec *c, const void *value, size_t *len)
{
  if (!c || !c->size || !len)
    return -EINVAL;
  int rc = normalise(c, MYELON_CODEC_ENCODE, c->size(value, len, c->user));
  return rc == -ENOSPC ? myelon_codec_fail(c->name, MYELON_CODEC_ENCODE, "size callback returned ENOSPC") : rc;
}

int myelon_codec_encode(const struct myelon_codec *c, const void *value, void *buf, size_t cap, size_t *len)
{
  if (!c || !c->encode || !len || (!buf && cap))
    return -EINVAL;
  size_t n = 0;
  int rc = normalise(c, MYELON_CODEC_ENCODE, c->encode(value, buf, cap, &n, c->user));
  if (rc < 0)
    return rc;
  if (n > cap)
    return myelon_codec_fail(c->name, MYELON_CODEC_ENCODE, "encoder claims %zu bytes in a %zu-byte buffer", n, cap);
  *len = n;
  return 0;
}

int myelon_codec_decode(const struct myelon_codec *c, const void *data, size_t len, void **value)
{
  if (!c || !c->decode || !value || (!data && len))
    return -EINVAL;
  *value = NULL;
  return normalise(c, MYELON_CODEC_DECODE, c->decode(data, len, value, c->user));
}

void myelon_codec_free(const struct myelon_codec *c, void *value)
{
  if (c && c->free && value)
    c->free(value, c->user);
}
