/* Typed producer (typed.h): encode a value, then publish it - straight into
 * the claimed slot when the codec knows the size and one frame holds it,
 * else through a reusable buffer bounded by max_message. Codec errors are
 * found before anything is published, and before any wait for space. The
 * library's msgpack codec, whose size pass would be a whole encode, is
 * encoded first into a slot that is free now; only a value that does not
 * fit a frame (or a full ring) takes the size pass; on a byte ring it is
 * encoded into the buffer and published with one copy (a record keeps the
 * room it was claimed with). */
#include "internal.h"
#include <myelon/error.h>
#include <myelon/typed.h>

#include <disruptor_mp/error.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BUFFER 256u

struct myelon_typed_producer {
  struct myelon_producer *fp;
  struct myelon_codec codec;
  uint32_t frame_cap; /* payload bytes of a single frame */
  size_t room;        /* encode_first's claim: a frame's room, at most max_message */
  size_t max;         /* max_message */
  bool encode_first;  /* the library's msgpack codec: encode into a free slot, size only on -ENOSPC */
  bool bytes;         /* a MYELON_FRAME_BYTES ring: a claim keeps its room (framed.h) */
  uint8_t *buf;       /* encode buffer for messages that take several frames, and for batches */
  size_t buf_cap;
  struct myelon_batch_msg *batch; /* publish_batch's message list, grown on demand */
  size_t batch_cap;
  struct myelon_typed_producer_stats stats;
};

int myelon_typed_producer_create(const struct myelon_producer_config *cfg, const struct myelon_codec *codec,
                                 struct myelon_typed_producer **out)
{
  if (out)
    *out = NULL;
  if (!cfg || !codec || !out || !codec->encode)
    return dmp_error_set(__func__, "cfg, codec, codec->encode or out is NULL"), -EINVAL;
  struct myelon_typed_producer *tp = calloc(1, sizeof *tp);
  if (!tp)
    return dmp_error_set(__func__, "out of memory"), -ENOMEM;
  int rc = myelon_producer_create(cfg, &tp->fp); /* checks the format and capacity */
  if (rc < 0) {
    free(tp);
    return rc;
  }
  tp->codec = *codec;
  tp->frame_cap = myelon_producer_frame_capacity(tp->fp);
  tp->max = cfg->max_message;
  tp->room = tp->frame_cap < tp->max ? tp->frame_cap : tp->max;
  tp->encode_first = myelon_impl_mp_codec_encodes_first(codec);
  tp->bytes = cfg->format == MYELON_FRAME_BYTES;
  *out = tp;
  return 0;
}

void myelon_typed_producer_close(struct myelon_typed_producer *tp)
{
  if (!tp)
    return;
  myelon_producer_close(tp->fp);
  free(tp->buf);
  free(tp->batch);
  free(tp);
}

struct myelon_producer *myelon_typed_producer_framed(struct myelon_typed_producer *tp)
{
  return tp ? tp->fp : NULL;
}

void myelon_typed_producer_stats(const struct myelon_typed_producer *tp, struct myelon_typed_producer_stats *out)
{
  if (out)
    *out = tp ? tp->stats : (struct myelon_typed_producer_stats){0};
}

static int encode_failed(struct myelon_typed_producer *tp, int rc)
{
  if (rc == -MYELON_E_CODEC)
    tp->stats.encode_errors++;
  return rc;
}

static int too_big(struct myelon_typed_producer *tp, size_t n)
{
  dmp_error_set("myelon_typed_producer_publish", "%s: encoded value of %zu%s bytes exceeds max_message %zu", tp->codec.name,
                n, n > tp->max ? "" : "+", tp->max);
  return -MYELON_E_TOOBIG;
}

/* Grow the encode buffer to at least n (<= max) bytes. */
static int reserve(struct myelon_typed_producer *tp, size_t n)
{
  if (n <= tp->buf_cap && tp->buf)
    return 0;
  size_t want = tp->buf_cap > tp->max / 2 ? tp->max : tp->buf_cap * 2;
  if (want < n)
    want = n;
  if (want < MIN_BUFFER && tp->max >= MIN_BUFFER)
    want = MIN_BUFFER;
  uint8_t *b = realloc(tp->buf, want ? want : 1);
  if (!b)
    return dmp_error_set("myelon_typed_producer_publish", "out of memory for a %zu-byte encode buffer", want), -ENOMEM;
  tp->buf = b;
  tp->buf_cap = want;
  return 0;
}

/* Encode into tp->buf; `size` is the known encoded size, or SIZE_MAX. */
static int encode_buffered(struct myelon_typed_producer *tp, const void *value, size_t size, size_t *len)
{
  if (size != SIZE_MAX) {
    int rc = reserve(tp, size);
    if (rc == 0)
      rc = myelon_codec_encode(&tp->codec, value, tp->buf, size, len);
    if (rc == -ENOSPC)
      rc = myelon_codec_fail(tp->codec.name, MYELON_CODEC_ENCODE, "encoder needs more than the %zu bytes its "
                             "size function announced", size);
    return encode_failed(tp, rc);
  }
  for (;;) {
    int rc = reserve(tp, tp->buf_cap ? tp->buf_cap : 1);
    if (rc == 0)
      rc = myelon_codec_encode(&tp->codec, value, tp->buf, tp->buf_cap, len);
    if (rc != -ENOSPC)
      return encode_failed(tp, rc);
    if (tp->buf_cap >= tp->max)
      return too_big(tp, tp->buf_cap);
    if ((rc = reserve(tp, tp->buf_cap + 1)) < 0)
      return rc;
  }
}

/* Size the value if the codec can; SIZE_MAX if it cannot say. */
static int size_of(struct myelon_typed_producer *tp, const void *value, size_t *n)
{
  *n = SIZE_MAX;
  if (!tp->codec.size)
    return 0;
  int rc = encode_failed(tp, myelon_codec_size(&tp->codec, value, n));
  if (rc == 0 && *n > tp->max)
    return too_big(tp, *n);
  return rc;
}

/* Single frame: encode straight into the claimed slot. */
static int publish_in_slot(struct myelon_typed_producer *tp, const void *value, size_t n, uint8_t kind,
                           int64_t timeout_ns)
{
  void *slot;
  int rc = myelon_producer_claim(tp->fp, n, &slot, timeout_ns);
  if (rc < 0)
    return rc;
  size_t len = 0;
  rc = myelon_codec_encode(&tp->codec, value, slot, n, &len);
  if (rc < 0) {
    /* The codec broke its size contract after the claim: give the slot
     * back unpublished, so consumers see nothing (typed.h). */
    myelon_producer_abort(tp->fp);
    tp->stats.encode_errors++;
    return myelon_codec_fail(tp->codec.name, MYELON_CODEC_ENCODE, "encode failed (%s) after its size function "
                             "succeeded; nothing was published", myelon_err_name(rc));
  }
  myelon_producer_commit(tp->fp, len, kind);
  tp->stats.published++;
  tp->stats.zero_copy++;
  return 0;
}

/* For a codec whose size pass is a whole encode (encode_first): encode
 * straight into a slot that is free now, with a frame's room, and skip
 * the size pass. -EAGAIN when that does not publish (no free slot, a
 * value longer than a frame, a claim already open): the caller takes the
 * sized path, so a value that fails to encode on a full ring is still
 * reported before any wait. A codec error here publishes nothing. */
static int publish_encode_first(struct myelon_typed_producer *tp, const void *value, uint8_t kind)
{
  /* The library's own encoder, called without myelon_codec_encode()'s
   * checks: it returns only 0, -ENOSPC, -MYELON_E_CODEC or -ENOMEM and
   * never claims more than `room` (its writer is bounded by it). Claim,
   * encode and commit are one call into the framed layer. */
  int rc = myelon_impl_producer_encode_single(tp->fp, tp->room, tp->codec.encode, value, tp->codec.user, kind);
  if (rc != 0) /* 1: nothing claimed; < 0: nothing published (consumers see nothing of it) */
    return rc > 0 || rc == -ENOSPC ? -EAGAIN : encode_failed(tp, rc);
  tp->stats.published++;
  tp->stats.zero_copy++;
  return 0;
}

/* encode_first on a byte ring: a record keeps the room it was claimed with
 * whatever is committed (framed.h, myelon_producer_claim()), so a claim of
 * a frame's room there (the ring's largest message, half the ring) would
 * spend half the ring on every value. Encode into the producer's buffer
 * instead (no size pass either) and publish the exact length with one
 * copy; a codec error still comes before any wait. */
static __attribute__((noinline)) int publish_encode_buffered(struct myelon_typed_producer *tp, const void *value,
                                                             uint8_t kind, int64_t timeout_ns)
{
  size_t len;
  int rc = encode_buffered(tp, value, SIZE_MAX, &len);
  if (rc == 0)
    rc = myelon_producer_publish(tp->fp, tp->buf, len, kind, timeout_ns);
  if (rc == 0)
    tp->stats.published++;
  return rc;
}

/* Everything but a slot ring's encode-first publish that found a slot:
 * out of line, so that the usual publish saves no registers for it. */
static __attribute__((noinline)) int publish_sized(struct myelon_typed_producer *tp, const void *value, uint8_t kind,
                                                   int64_t timeout_ns)
{
  size_t n, len;
  int rc = size_of(tp, value, &n);
  if (rc < 0)
    return rc;
  if (n <= tp->frame_cap)
    return publish_in_slot(tp, value, n, kind, timeout_ns);
  if ((rc = encode_buffered(tp, value, n, &len)) < 0)
    return rc;
  rc = myelon_producer_publish(tp->fp, tp->buf, len, kind, timeout_ns);
  if (rc == 0)
    tp->stats.published++;
  return rc;
}

int myelon_typed_producer_publish(struct myelon_typed_producer *tp, const void *value, uint8_t kind, int64_t timeout_ns)
{
  if (!tp)
    return -EINVAL;
  if (tp->encode_first) {
    if (tp->bytes)
      return publish_encode_buffered(tp, value, kind, timeout_ns);
    int rc = publish_encode_first(tp, value, kind);
    if (rc != -EAGAIN)
      return rc;
  }
  return publish_sized(tp, value, kind, timeout_ns);
}

int myelon_typed_producer_try_publish(struct myelon_typed_producer *tp, const void *value, uint8_t kind)
{
  if (!tp)
    return -EINVAL;
  size_t n, len;
  int rc = size_of(tp, value, &n);
  if (rc == 0)
    rc = encode_buffered(tp, value, n, &len);
  if (rc == 0)
    rc = myelon_producer_try_publish(tp->fp, tp->buf, len, kind);
  if (rc == 0)
    tp->stats.published++;
  return rc;
}

int myelon_typed_producer_publish_managed(struct myelon_typed_producer *tp, const void *value, uint8_t kind,
                                          int64_t timeout_ns, uint64_t *failed_frame)
{
  if (failed_frame)
    *failed_frame = 0;
  if (!tp)
    return -EINVAL;
  size_t n, len;
  int rc = size_of(tp, value, &n);
  if (rc == 0)
    rc = encode_buffered(tp, value, n, &len);
  if (rc == 0)
    rc = myelon_producer_publish_managed(tp->fp, tp->buf, len, kind, timeout_ns, failed_frame);
  if (rc == 0)
    tp->stats.published++;
  return rc;
}

int myelon_typed_producer_publish_raw(struct myelon_typed_producer *tp, const void *data, size_t len, uint8_t kind,
                                      int64_t timeout_ns)
{
  if (!tp)
    return -EINVAL;
  return myelon_producer_publish(tp->fp, data, len, kind, timeout_ns);
}

/* ---- batches --------------------------------------------------------- */

/* Grow the encode buffer to at least `need` bytes, doubling: a batch's
 * bytes may exceed max_message (reserve() stops there). */
static int grow_to(struct myelon_typed_producer *tp, size_t need)
{
  if (need <= tp->buf_cap && tp->buf)
    return 0;
  size_t want = tp->buf_cap > SIZE_MAX / 2 ? SIZE_MAX : tp->buf_cap * 2;
  if (want < need)
    want = need;
  if (want < MIN_BUFFER)
    want = MIN_BUFFER;
  uint8_t *b = realloc(tp->buf, want);
  if (!b)
    return dmp_error_set("myelon_typed_producer_publish_batch", "out of memory for a %zu-byte encode buffer", want),
           -ENOMEM;
  tp->buf = b;
  tp->buf_cap = want;
  return 0;
}

/* Encode one value of a batch at tp->buf + off, without a size pass: with
 * the room a message may take at most (max_message, or a frame's worth
 * first), doubling the room on -ENOSPC up to max_message. */
static int encode_at(struct myelon_typed_producer *tp, const void *value, size_t off, size_t *len)
{
  size_t room = tp->frame_cap > MIN_BUFFER ? tp->frame_cap : MIN_BUFFER;
  if (room > tp->max)
    room = tp->max;
  for (;;) {
    int rc = grow_to(tp, off + room);
    if (rc == 0)
      rc = myelon_codec_encode(&tp->codec, value, tp->buf + off, room, len);
    if (rc != -ENOSPC)
      return encode_failed(tp, rc);
    if (room >= tp->max)
      return too_big(tp, room);
    room = room > tp->max / 2 ? tp->max : room * 2;
  }
}

/* Encode values[0..n) back to back into tp->buf and list them in tp->batch
 * (data pointers filled last: the buffer may move while it grows). */
static int encode_batch(struct myelon_typed_producer *tp, const void *const *values, size_t n, uint8_t kind)
{
  if (n > tp->batch_cap) {
    struct myelon_batch_msg *b = realloc(tp->batch, n * sizeof *b);
    if (!b)
      return dmp_error_set("myelon_typed_producer_publish_batch", "out of memory for a list of %zu messages", n),
             -ENOMEM;
    tp->batch = b;
    tp->batch_cap = n;
  }
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = 0;
    int rc = encode_at(tp, values[i], off, &len);
    if (rc < 0) {
      char why[512];
      snprintf(why, sizeof why, "%s", dmp_last_error());
      dmp_error_set(NULL, "%s (value %zu of the batch of %zu; nothing was published)", why, i, n);
      return rc;
    }
    tp->batch[i] = (struct myelon_batch_msg){.data = (const void *)(uintptr_t)off, .len = len, .kind = kind};
    off += len;
  }
  for (size_t i = 0; i < n; i++)
    tp->batch[i].data = tp->buf + (uintptr_t)tp->batch[i].data;
  return 0;
}

int myelon_typed_producer_publish_batch(struct myelon_typed_producer *tp, const void *const *values, size_t n,
                                        uint8_t kind, int64_t timeout_ns, size_t *published)
{
  if (published)
    *published = 0;
  if (!tp || (!values && n))
    return dmp_error_set(__func__, "tp is NULL, or values is NULL for %zu values", n), -EINVAL;
  if (n == 0)
    return 0;
  int rc = encode_batch(tp, values, n, kind);
  if (rc < 0)
    return rc;
  size_t done = 0;
  rc = myelon_producer_publish_batch(tp->fp, tp->batch, n, timeout_ns, &done);
  tp->stats.published += done;
  if (published)
    *published = done;
  return rc;
}
