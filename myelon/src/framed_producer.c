/* Layer 1 producer: split a message into frames and publish them in
 * batches, one release store per batch (framed.h). A message that fits in
 * one frame takes a fast path: inline claim, header, one memcpy, publish,
 * and no clock read unless the ring is full and a deadline is set. */
#include "internal.h"
#include <myelon/error.h>
#include <myelon/framed.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


struct myelon_producer {
  struct dmp_producer *ring;
  enum myelon_frame_format fmt;
  uint32_t cap;        /* payload bytes per frame */
  uint32_t hdr;        /* header bytes (12 or 16): the payload's offset */
  size_t max;          /* largest message */
  uint32_t next_id;    /* next message id; 0 is never used */
  void *claimed;       /* zero-copy claim in progress */
  size_t claimed_max;
};

void myelon_producer_config_init(struct myelon_producer_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  dmp_producer_config_init(&cfg->ring);
  /* Layer 0 has no capacity default (a ring of raw events is sized by its
   * caller); a framed ring has one, like every other framed setting. */
  cfg->ring.capacity = MYELON_DEFAULT_RING_CAPACITY;
  cfg->format = MYELON_FRAME_COMPACT;
  cfg->frame_capacity = MYELON_DEFAULT_FRAME_CAPACITY;
  cfg->max_message = MYELON_DEFAULT_MAX_MESSAGE;
}

static int producer_open(const struct myelon_producer_config *cfg, bool attach, struct myelon_producer **out)
{
  if (out)
    *out = NULL;
  if (!cfg || !out)
    return dmp_error_set(__func__, "cfg or out is NULL"), -EINVAL;
  int rc = MYELON_RESERVED_CHECK(cfg, __func__, "cfg.reserved");
  if (rc < 0)
    return rc;
  if (cfg->max_message == 0 || cfg->max_message > MYELON_MAX_MESSAGE_LIMIT)
    return dmp_error_set(__func__, "cfg.max_message %zu is not in 1..%u", cfg->max_message, MYELON_MAX_MESSAGE_LIMIT),
           -DMP_E_BADCONFIG;
  struct dmp_producer_config rc_cfg = cfg->ring;
  rc = myelon_frame_slot(cfg->format, cfg->frame_capacity, &rc_cfg.slot_size, &rc_cfg.slot_align);
  if (rc < 0)
    return rc;
  uint32_t cap = rc_cfg.slot_size - myelon_frame_header_size(cfg->format); /* rounded up */
  rc_cfg.type_tag = myelon_frame_tag(cfg->format, cap);
  struct myelon_producer *p = calloc(1, sizeof *p);
  if (!p)
    return dmp_error_set(__func__, "out of memory"), -ENOMEM;
  if (attach) {
    /* The ring's geometry is the creator's: the frame format (slot size,
     * alignment, type tag) is what we check; the rest is taken as it is. */
    rc_cfg.capacity = 0;
    rc_cfg.max_consumers = 0;
    rc_cfg.max_producers = 0;
    rc_cfg.flags &= DMP_RING_SHARE_GROUP | DMP_RING_MULTI_PRODUCER;
    rc = dmp_producer_attach(&rc_cfg, &p->ring);
  } else {
    rc = dmp_producer_create(&rc_cfg, &p->ring);
  }
  if (rc < 0) {
    free(p);
    return rc == -DMP_E_BADCONFIG || rc == -DMP_E_BADNAME ? myelon_impl_ring_fail(rc) : rc;
  }
  p->fmt = cfg->format;
  p->cap = cap;
  p->hdr = myelon_frame_header_size(cfg->format);
  p->max = cfg->max_message;
  p->next_id = 1;
  *out = p;
  return 0;
}

int myelon_producer_create(const struct myelon_producer_config *cfg, struct myelon_producer **out)
{
  return producer_open(cfg, false, out);
}

int myelon_producer_attach(const struct myelon_producer_config *cfg, struct myelon_producer **out)
{
  return producer_open(cfg, true, out);
}

void myelon_producer_close(struct myelon_producer *p)
{
  if (!p)
    return;
  dmp_producer_close(p->ring);
  free(p);
}

struct dmp_producer *myelon_producer_ring(struct myelon_producer *p)
{
  return p ? p->ring : NULL;
}

uint32_t myelon_producer_frame_capacity(const struct myelon_producer *p)
{
  return p ? p->cap : 0;
}

size_t myelon_producer_max_message(const struct myelon_producer *p)
{
  return p ? p->max : 0;
}

static uint32_t take_id(struct myelon_producer *p)
{
  uint32_t id = p->next_id++;
  if (p->next_id == 0)
    p->next_id = 1;
  return id;
}

/* A whole message of `len` <= p->cap bytes as one SINGLE frame into a
 * claimed slot: what myelon_frame_write() does for it, without its
 * branches on flags and format (the parse side checks the same fields). */
static inline void write_single(const struct myelon_producer *p, uint8_t *slot, const void *data, uint32_t len,
                                uint8_t kind, uint32_t id)
{
  if (p->fmt == MYELON_FRAME_ALIGNED)
    memcpy(slot + MYELON_FRAME_COMPACT_HEADER, &len, sizeof len); /* the total: the whole message */
  if (len)
    memcpy(slot + p->hdr, data, len);
  struct myelon_frame_header h = {.len = len, .kind = kind, .flags = MYELON_FLAG_SINGLE, .frag = 0, .msg_id = id};
  memcpy(slot, &h, sizeof h);
}

/* The message being cut into frames. */
struct split {
  const uint8_t *data;
  size_t len;
  size_t offset;
  uint64_t frames;
  uint32_t id;
  uint8_t kind;
};

/* Write frames [frag, frag + n) into the slots claimed from `first`. */
static void write_frames(struct myelon_producer *p, struct split *s, uint64_t frag, uint64_t n, int64_t first)
{
  for (uint64_t i = 0; i < n; i++) {
    uint64_t idx = frag + i;
    uint8_t flags = (uint8_t)((idx == 0 ? MYELON_FLAG_START : 0) | (idx == s->frames - 1 ? MYELON_FLAG_END : 0));
    uint32_t room = p->cap;
    if (p->fmt == MYELON_FRAME_COMPACT && flags == MYELON_FLAG_START)
      room -= MYELON_FRAME_TOTAL_PREFIX;
    size_t left = s->len - s->offset;
    uint32_t chunk = left < room ? (uint32_t)left : room;
    myelon_frame_write(p->fmt, dmp_producer_slot(p->ring, first + (int64_t)i), s->data + s->offset, chunk, s->kind,
                       flags, (uint16_t)idx, s->id, s->len);
    s->offset += chunk;
  }
}

static int check_message(struct myelon_producer *p, const void *data, size_t len, const char *fn)
{
  if (!p || (!data && len))
    return dmp_error_set(fn, "producer or data is NULL"), -EINVAL;
  if (p->claimed) /* publishing would make the claimed, unwritten slot visible */
    return dmp_error_set(fn, "a zero-copy claim is open: myelon_producer_commit() or myelon_producer_abort() it first"), -EINVAL;
  if (len > p->max)
    return dmp_error_set(fn, "message of %zu bytes exceeds max_message %zu", len, p->max), -MYELON_E_TOOBIG;
  return 0;
}

/* Messages that fit in the ring go in one batch (atomic for consumers);
 * longer ones in quarter-ring batches so producer and consumers overlap. */
static uint64_t batch_size(struct myelon_producer *p, uint64_t frames_left, uint64_t total_frames)
{
  uint64_t cap = dmp_producer_capacity(p->ring);
  if (total_frames <= cap)
    return frames_left;
  uint64_t b = cap / 4 ? cap / 4 : 1;
  return frames_left < b ? frames_left : b;
}

static int publish_frames(struct myelon_producer *p, const void *data, size_t len, uint8_t kind,
                          int64_t timeout_ns, bool managed, uint64_t *failed_frame)
{
  uint64_t frames = myelon_frame_count(p->fmt, p->cap, len);
  if (p->ring->mp && frames > dmp_producer_capacity(p->ring))
    /* Batches of one message would interleave with other producers'
     * frames: on a multi-producer ring a message is one batch claim. */
    return dmp_error_set("myelon_producer_publish", "message of %zu bytes needs %llu frames: a multi-producer ring "
                         "takes messages of at most its capacity (%llu frames) in one claim", len,
                         (unsigned long long)frames, (unsigned long long)dmp_producer_capacity(p->ring)),
           -MYELON_E_TOOBIG;
  struct split s = {
      .data = data, .len = len, .offset = 0, .frames = frames, .id = take_id(p), .kind = kind};
  /* The clock matters only for a deadline spread over several batches:
   * the first batch gets the whole timeout (Layer 0 reads the clock only
   * if it has to wait). */
  bool timed = timeout_ns >= 0 && batch_size(p, s.frames, s.frames) < s.frames;
  int64_t t0 = timed ? myelon_impl_now_ns() : 0;
  for (uint64_t frag = 0; frag < s.frames;) {
    uint64_t n = batch_size(p, s.frames - frag, s.frames);
    int64_t left = timeout_ns < 0 ? DMP_FOREVER : timeout_ns;
    if (timed && frag > 0) {
      int64_t spent = myelon_impl_now_ns() - t0;
      left = timeout_ns > spent ? timeout_ns - spent : 0;
    }
    int64_t first;
    int rc = managed ? dmp_producer_claim_batch_managed(p->ring, n, &first, left)
                     : dmp_producer_claim_batch_timeout(p->ring, n, &first, left);
    if (rc < 0) {
      if (failed_frame)
        *failed_frame = frag;
      if (frag > 0)
        dmp_error_set("myelon_producer_publish", "message %u cut after %llu of %llu frames: %s", s.id,
                      (unsigned long long)frag, (unsigned long long)s.frames, dmp_strerror(rc));
      return rc;
    }
    write_frames(p, &s, frag, n, first);
    dmp_producer_publish(p->ring);
    frag += n;
  }
  return 0;
}

int myelon_producer_publish(struct myelon_producer *p, const void *data, size_t len, uint8_t kind, int64_t timeout_ns)
{
  int rc = check_message(p, data, len, __func__);
  if (rc < 0)
    return rc;
  if (len > p->cap)
    return publish_frames(p, data, len, kind, timeout_ns, false, NULL);
  /* One frame: the inline claim inside the cached free window; only a
   * full ring takes the waiting (and clock-reading) path. */
  void *slot;
  if (dmp_producer_try_claim(p->ring, &slot) < 0 && (rc = dmp_producer_claim_timeout(p->ring, &slot, timeout_ns)) < 0)
    return rc;
  write_single(p, slot, data, (uint32_t)len, kind, take_id(p));
  dmp_producer_publish(p->ring);
  return 0;
}

int myelon_producer_publish_managed(struct myelon_producer *p, const void *data, size_t len, uint8_t kind,
                                    int64_t timeout_ns, uint64_t *failed_frame)
{
  int rc = check_message(p, data, len, __func__);
  return rc < 0 ? rc : publish_frames(p, data, len, kind, timeout_ns, true, failed_frame);
}

int myelon_producer_try_publish(struct myelon_producer *p, const void *data, size_t len, uint8_t kind)
{
  int rc = check_message(p, data, len, __func__);
  if (rc < 0)
    return rc;
  if (len <= p->cap) {
    void *slot;
    if (dmp_producer_try_claim(p->ring, &slot) < 0)
      return -EAGAIN;
    write_single(p, slot, data, (uint32_t)len, kind, take_id(p));
    dmp_producer_publish(p->ring);
    return 0;
  }
  struct split s = {
      .data = data, .len = len, .offset = 0, .frames = myelon_frame_count(p->fmt, p->cap, len), .id = 0, .kind = kind};
  if (s.frames > dmp_producer_capacity(p->ring))
    return -EAGAIN;
  int64_t first;
  rc = dmp_producer_try_claim_batch(p->ring, s.frames, &first);
  if (rc < 0)
    return rc;
  s.id = take_id(p);
  write_frames(p, &s, 0, s.frames, first);
  dmp_producer_publish(p->ring);
  return 0;
}

int myelon_producer_claim(struct myelon_producer *p, size_t max_len, void **buf, int64_t timeout_ns)
{
  if (!p || !buf || max_len > p->cap || p->claimed)
    return -EINVAL;
  if (max_len > p->max)
    return dmp_error_set(__func__, "claim of %zu bytes exceeds max_message %zu", max_len, p->max),
           -MYELON_E_TOOBIG;
  void *slot;
  int rc = 0;
  if (dmp_producer_try_claim(p->ring, &slot) < 0 && (rc = dmp_producer_claim_timeout(p->ring, &slot, timeout_ns)) < 0)
    return rc;
  p->claimed = slot;
  p->claimed_max = max_len;
  *buf = (uint8_t *)slot + p->hdr;
  return 0;
}

int myelon_producer_commit(struct myelon_producer *p, size_t len, uint8_t kind)
{
  if (!p || !p->claimed || len > p->claimed_max)
    return -EINVAL;
  uint32_t total = (uint32_t)len;
  uint8_t *slot = p->claimed;
  if (p->fmt == MYELON_FRAME_ALIGNED)
    memcpy(slot + MYELON_FRAME_COMPACT_HEADER, &total, sizeof total);
  struct myelon_frame_header h = {.len = total, .kind = kind, .flags = MYELON_FLAG_SINGLE, .frag = 0, .msg_id = take_id(p)};
  memcpy(slot, &h, sizeof h);
  p->claimed = NULL;
  dmp_producer_publish(p->ring);
  return 0;
}

int myelon_producer_abort(struct myelon_producer *p)
{
  if (!p || !p->claimed)
    return -EINVAL;
  /* Nothing else is claimed while a zero-copy claim is open (every other
   * publish path refuses to run), so this drops exactly that slot; no
   * message id was taken for it. */
  dmp_producer_abort(p->ring);
  p->claimed = NULL;
  return 0;
}
