/* Layer 1 producer: split a message into frames and publish them in
 * batches, one release store per batch (framed.h). A message that fits in
 * one frame takes a fast path: inline claim, header, one memcpy, publish,
 * and no clock read unless the ring is full and a deadline is set. */
#include "internal.h"
#include <myelon/error.h>
#include <myelon/framed.h>

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


struct myelon_producer {
  struct dmp_producer *ring;
  enum myelon_frame_format fmt;
  bool bytes;          /* a byte ring: one record per message (frame.h, MYELON_FRAME_BYTES) */
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
  bool bytes = cfg->format == MYELON_FRAME_BYTES;
  uint32_t cap = 0;
  if (bytes) {
    /* A byte ring: the size in bytes, the block as the caller chose it
     * (Layer 0 checks both), the alignment the block's. */
    rc_cfg.flags |= DMP_RING_BYTES;
    rc_cfg.capacity = cfg->ring_bytes ? cfg->ring_bytes : MYELON_DEFAULT_RING_BYTES;
    rc_cfg.slot_align = 0;
    rc_cfg.type_tag = myelon_frame_tag(MYELON_FRAME_BYTES, 0);
  } else {
    if (cfg->ring_bytes)
      return dmp_error_set(__func__, "cfg.ring_bytes %llu: only a MYELON_FRAME_BYTES ring is sized in bytes",
                           (unsigned long long)cfg->ring_bytes),
             -DMP_E_BADCONFIG;
    rc = myelon_frame_slot(cfg->format, cfg->frame_capacity, &rc_cfg.slot_size, &rc_cfg.slot_align);
    if (rc < 0)
      return rc;
    cap = rc_cfg.slot_size - myelon_frame_header_size(cfg->format); /* rounded up */
    rc_cfg.type_tag = myelon_frame_tag(cfg->format, cap);
  }
  struct myelon_producer *p = calloc(1, sizeof *p);
  if (!p)
    return dmp_error_set(__func__, "out of memory"), -ENOMEM;
  if (attach) {
    /* The ring's geometry is the creator's: the frame format (slot size,
     * alignment, type tag) is what we check; the rest is taken as it is. */
    rc_cfg.capacity = 0;
    rc_cfg.max_consumers = 0;
    rc_cfg.max_producers = 0;
    rc_cfg.flags &= DMP_RING_SHARE_GROUP | DMP_RING_MULTI_PRODUCER | DMP_RING_BYTES; /* BYTES: expect a byte ring */
    rc = dmp_producer_attach(&rc_cfg, &p->ring);
  } else {
    rc = dmp_producer_create(&rc_cfg, &p->ring);
  }
  if (rc < 0) {
    free(p);
    return rc == -DMP_E_BADCONFIG || rc == -DMP_E_BADNAME ? myelon_impl_ring_fail(rc) : rc;
  }
  p->fmt = cfg->format;
  p->bytes = bytes;
  p->cap = cap;
  p->hdr = myelon_frame_header_size(cfg->format);
  p->max = cfg->max_message;
  if (bytes) {
    /* Every message is one record: the largest is the ring's largest
     * record less the frame header (Layer 0 keeps it below 2 GiB). */
    size_t ring_max = dmp_producer_bytes_max(p->ring) - MYELON_FRAME_ALIGNED_HEADER;
    if (p->max > ring_max)
      p->max = ring_max;
    p->cap = (uint32_t)p->max;
  }
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

/* Copy a small payload without a call: two overlapping words for up to
 * 16 bytes, 16-byte blocks (the last one overlapping) up to 64, beyond
 * that the byte ring's copy rule (dmp_bytes_copy(): REP MOVSB from 1 MiB
 * on, memcpy below), so a large message is copied into the ring as
 * Layer 0 copies a record. Reads and writes only [0, len) of each side. */
static inline void copy_payload(uint8_t *dst, const uint8_t *src, uint32_t len)
{
  if (len > 64) {
    dmp_bytes_copy(dst, src, len);
  } else if (len > 16) {
    for (uint32_t o = 0; o + 16 < len; o += 16)
      memcpy(dst + o, src + o, 16);
    memcpy(dst + len - 16, src + len - 16, 16);
  } else if (len >= 8) {
    uint64_t a, b;
    memcpy(&a, src, 8);
    memcpy(&b, src + len - 8, 8);
    memcpy(dst, &a, 8);
    memcpy(dst + len - 8, &b, 8);
  } else if (len >= 4) {
    uint32_t a, b;
    memcpy(&a, src, 4);
    memcpy(&b, src + len - 4, 4);
    memcpy(dst, &a, 4);
    memcpy(dst + len - 4, &b, 4);
  } else {
    for (uint32_t i = 0; i < len; i++)
      dst[i] = src[i];
  }
}

/* The header of a SINGLE frame (frame.h), stored as one 8-byte and one
 * 4-byte word: built in registers, not in a stack struct that is then
 * read back whole (a store-forwarding stall per message). */
static inline void write_single_header(uint8_t *slot, uint32_t len, uint8_t kind, uint32_t id)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* len at 0, kind at 4, flags at 5, frag (0) at 6, as the struct lays them out. */
  uint64_t lo = (uint64_t)len | (uint64_t)kind << 32 | (uint64_t)MYELON_FLAG_SINGLE << 40;
  memcpy(slot, &lo, sizeof lo);
  memcpy(slot + 8, &id, sizeof id);
#else
  struct myelon_frame_header h = {.len = len, .kind = kind, .flags = MYELON_FLAG_SINGLE, .frag = 0, .msg_id = id};
  memcpy(slot, &h, sizeof h);
#endif
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static_assert(offsetof(struct myelon_frame_header, kind) == 4 && offsetof(struct myelon_frame_header, flags) == 5 &&
                  offsetof(struct myelon_frame_header, frag) == 6 && offsetof(struct myelon_frame_header, msg_id) == 8,
              "write_single_header() packs the header fields at these offsets");
#endif

/* A whole message of `len` <= p->cap bytes as one SINGLE frame into a
 * claimed slot: what myelon_frame_write() does for it, without its
 * branches on flags and format (the parse side checks the same fields). */
static inline void write_single(const struct myelon_producer *p, uint8_t *slot, const void *data, uint32_t len,
                                uint8_t kind, uint32_t id)
{
  if (p->fmt != MYELON_FRAME_COMPACT) /* aligned, or a byte ring's record (an aligned frame) */
    memcpy(slot + MYELON_FRAME_COMPACT_HEADER, &len, sizeof len); /* the total: the whole message */
  copy_payload(slot + p->hdr, data, len);
  write_single_header(slot, len, kind, id);
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

/* ---- byte rings: one record per message ---------------------------------- */

enum bytes_wait { BYTES_TRY, BYTES_TIMEOUT, BYTES_MANAGED };

/* Claim a record for a frame of `len` message bytes: without a wait (and
 * a clock read) while there is room, then as `how` says. A managed claim
 * always goes through Layer 0's managed call, which refuses a ring
 * without liveness (-DMP_E_NOLIVENESS) as on a slot ring. */
static int bytes_claim(struct myelon_producer *p, size_t len, void **rec, enum bytes_wait how, int64_t timeout_ns)
{
  size_t n = len + MYELON_FRAME_ALIGNED_HEADER;
  if (how == BYTES_MANAGED)
    return dmp_producer_claim_bytes_managed(p->ring, n, rec, timeout_ns);
  int rc = dmp_producer_try_claim_bytes(p->ring, n, rec);
  if (rc != -EAGAIN || how == BYTES_TRY)
    return rc;
  return dmp_producer_claim_bytes_timeout(p->ring, n, rec, timeout_ns);
}

/* A whole message as one record, published with one release store
 * (dmp_producer_publish(), P1). `len` was checked against p->max. */
static int bytes_publish(struct myelon_producer *p, const void *data, size_t len, uint8_t kind, enum bytes_wait how,
                         int64_t timeout_ns)
{
  void *rec;
  int rc = bytes_claim(p, len, &rec, how, timeout_ns);
  if (rc < 0)
    return rc;
  write_single(p, rec, data, (uint32_t)len, kind, take_id(p));
  dmp_producer_publish(p->ring);
  return 0;
}

int myelon_producer_publish(struct myelon_producer *p, const void *data, size_t len, uint8_t kind, int64_t timeout_ns)
{
  int rc = check_message(p, data, len, __func__);
  if (rc < 0)
    return rc;
  if (p->bytes)
    return bytes_publish(p, data, len, kind, BYTES_TIMEOUT, timeout_ns);
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
  if (rc < 0)
    return rc;
  if (!p->bytes)
    return publish_frames(p, data, len, kind, timeout_ns, true, failed_frame);
  rc = bytes_publish(p, data, len, kind, BYTES_MANAGED, timeout_ns);
  if (rc < 0 && failed_frame)
    *failed_frame = 0; /* one record: nothing was published */
  return rc;
}

int myelon_producer_try_publish(struct myelon_producer *p, const void *data, size_t len, uint8_t kind)
{
  int rc = check_message(p, data, len, __func__);
  if (rc < 0)
    return rc;
  if (p->bytes)
    return bytes_publish(p, data, len, kind, BYTES_TRY, 0);
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
  if (p && p->bytes && max_len > p->max) /* frame capacity and max_message are one on a byte ring */
    return dmp_error_set(__func__, "claim of %zu bytes exceeds max_message %zu", max_len, p->max), -MYELON_E_TOOBIG;
  if (!p || !buf || max_len > p->cap || p->claimed)
    return -EINVAL;
  if (max_len > p->max)
    return dmp_error_set(__func__, "claim of %zu bytes exceeds max_message %zu", max_len, p->max),
           -MYELON_E_TOOBIG;
  void *slot;
  int rc = 0;
  if (p->bytes) {
    if ((rc = bytes_claim(p, max_len, &slot, BYTES_TIMEOUT, timeout_ns)) < 0)
      return rc;
  } else if (dmp_producer_try_claim(p->ring, &slot) < 0 &&
             (rc = dmp_producer_claim_timeout(p->ring, &slot, timeout_ns)) < 0) {
    return rc;
  }
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
  if (p->fmt != MYELON_FRAME_COMPACT) /* aligned, or a byte ring's record (an aligned frame) */
    memcpy(slot + MYELON_FRAME_COMPACT_HEADER, &total, sizeof total);
  struct myelon_frame_header h = {.len = total, .kind = kind, .flags = MYELON_FLAG_SINGLE, .frag = 0, .msg_id = take_id(p)};
  memcpy(slot, &h, sizeof h);
  p->claimed = NULL;
  dmp_producer_publish(p->ring);
  return 0;
}

/* The typed producer's encode-first publish (internal.h): claim, encode
 * and commit in one call, with what myelon_producer_claim() and
 * myelon_producer_commit() check for it checked once. */
int myelon_impl_producer_encode_single(struct myelon_producer *p, size_t room, myelon_codec_encode_fn encode,
                                       const void *value, void *user, uint8_t kind)
{
  void *slot;
  if (p->bytes || room > p->cap || room > p->max || p->claimed)
    return 1;
  if (dmp_producer_try_claim(p->ring, &slot) < 0 && dmp_producer_claim_timeout(p->ring, &slot, 0) < 0)
    return 1;
  uint8_t *s = slot;
  p->claimed = s; /* open while the encoder runs, as a claim through the API */
  p->claimed_max = room;
  size_t len = 0;
  int rc = encode(value, s + p->hdr, room, &len, user);
  p->claimed = NULL;
  if (rc < 0 || len > room) {
    dmp_producer_abort(p->ring); /* consumers see nothing of it; no message id was taken */
    if (rc < 0)
      return rc;
    return dmp_error_set("myelon_typed_producer_publish", "the encoder wrote %zu bytes into a %zu-byte frame; "
                         "nothing was published", len, room),
           -MYELON_E_CODEC;
  }
  uint32_t total = (uint32_t)len;
  if (p->fmt != MYELON_FRAME_COMPACT) /* aligned: the total, the whole message */
    memcpy(s + MYELON_FRAME_COMPACT_HEADER, &total, sizeof total);
  write_single_header(s, total, kind, take_id(p));
  dmp_producer_publish(p->ring);
  return 0;
}

int myelon_producer_abort(struct myelon_producer *p)
{
  if (!p || !p->claimed)
    return -EINVAL;
  /* Nothing else is claimed while a zero-copy claim is open (every other
   * publish path refuses to run), so this drops exactly that slot; no
   * message id was taken for it. On a multi-producer ring Layer 0's abort
   * publishes the slot as a tombstone before it returns (so a producer
   * that aborts and then idles holds back nobody). */
  dmp_producer_abort(p->ring);
  p->claimed = NULL;
  return 0;
}

/* ---- batches ----------------------------------------------------------- */

/* A deadline shared by the waits of one batch: the clock is read first when
 * something has to wait, so a batch that never finds the ring full reads
 * it never. */
struct deadline {
  int64_t timeout_ns; /* < 0: none */
  int64_t t0;         /* 0 until the first wait */
};

static int64_t deadline_left(struct deadline *d)
{
  if (d->timeout_ns < 0)
    return DMP_FOREVER;
  int64_t now = myelon_impl_now_ns();
  if (d->t0 == 0) {
    d->t0 = now ? now : 1;
    return d->timeout_ns;
  }
  int64_t spent = now - d->t0;
  return d->timeout_ns > spent ? d->timeout_ns - spent : 0;
}

/* Slots free now, from the consumer table (a scan: only after a claim
 * found fewer than it asked for). Nothing is claimed between the runs of a
 * batch, so the next sequence is the published one plus one. */
static uint64_t free_now(struct dmp_producer *r)
{
  int64_t used = dmp_producer_sequence(r) - dmp_producer_min_gating_sequence(r);
  uint64_t cap = dmp_producer_capacity(r);
  return used < 0 ? cap : (uint64_t)used >= cap ? 0 : cap - (uint64_t)used;
}

/* Claim between 1 and `want` (<= the capacity) consecutive slots for a run
 * of single-frame messages: all of them when they are free (the cached
 * window, else one table scan), else what is free now, else wait for one
 * and take whatever is free besides. `*got` slots from `*first` are then
 * claimed and unpublished. */
static int claim_run(struct myelon_producer *p, uint64_t want, struct deadline *d, int64_t *first, uint64_t *got)
{
  struct dmp_producer *r = p->ring;
  if (r->mp) {
    /* One claim at a time per handle, sized without a table scan: half a
     * ring, so producers and consumers overlap. */
    uint64_t half = dmp_producer_capacity(r) / 2 ? dmp_producer_capacity(r) / 2 : 1;
    *got = want < half ? want : half;
    int rc = dmp_producer_try_claim_batch(r, *got, first);
    return rc == -EAGAIN ? dmp_producer_claim_batch_timeout(r, *got, first, deadline_left(d)) : rc;
  }
  if (dmp_producer_try_claim_batch(r, want, first) == 0) {
    *got = want;
    return 0;
  }
  uint64_t w = free_now(r);
  if (w > 0) {
    *got = w < want ? w : want;
    if (dmp_producer_try_claim_batch(r, *got, first) == 0)
      return 0;
  }
  int rc = dmp_producer_claim_batch_timeout(r, 1, first, deadline_left(d));
  if (rc < 0)
    return rc;
  *got = 1;
  w = want > 1 ? free_now(r) : 0; /* what the wait found, the slot it claimed included */
  w = w > 0 ? w - 1 : 0;
  if (w > want - 1)
    w = want - 1;
  int64_t more;
  if (w > 0 && dmp_producer_try_claim_batch(r, w, &more) == 0)
    *got += w; /* right after `*first` */
  return 0;
}

/* Every message checked before any is published, so bad input publishes
 * nothing. */
static int check_batch(struct myelon_producer *p, const struct myelon_batch_msg *msgs, size_t n, bool *all_single)
{
  *all_single = true;
  static const char fn[] = "myelon_producer_publish_batch";
  if (!p || (!msgs && n))
    return dmp_error_set(fn, "producer or msgs is NULL"), -EINVAL;
  if (p->claimed)
    return dmp_error_set(fn, "a zero-copy claim is open: myelon_producer_commit() or myelon_producer_abort() it first"),
           -EINVAL;
  if (p->bytes) {
    /* A byte ring: one record per message, so only the data and the
     * length matter; one pass without branches per message, and the loop
     * below (which names the message) only when one is bad. */
    const size_t max = p->max;
    bool bad = false;
    for (size_t i = 0; i < n; i++)
      bad |= (msgs[i].len > max) | (!msgs[i].data & (msgs[i].len != 0));
    if (!bad)
      return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!msgs[i].data && msgs[i].len)
      return dmp_error_set(fn, "message %zu: data is NULL with len %zu", i, msgs[i].len), -EINVAL;
    if (msgs[i].len > p->max)
      return dmp_error_set(fn, "message %zu of %zu bytes exceeds max_message %zu", i, msgs[i].len, p->max),
             -MYELON_E_TOOBIG;
    if (msgs[i].len <= p->cap)
      continue;
    *all_single = false;
    uint64_t frames = myelon_frame_count(p->fmt, p->cap, msgs[i].len);
    if (p->ring->mp && frames > dmp_producer_capacity(p->ring))
      return dmp_error_set(fn, "message %zu needs %llu frames: a multi-producer ring takes messages of at most its "
                           "capacity (%llu frames) in one claim", i, (unsigned long long)frames,
                           (unsigned long long)dmp_producer_capacity(p->ring)),
             -MYELON_E_TOOBIG;
  }
  return 0;
}

/* Write `n` single-frame messages into the slots claimed from `first`:
 * write_single() with the format, header size and message id in locals
 * (the slot stores may alias the handle, so the compiler would reload
 * them for every message). */
static void write_run(struct myelon_producer *p, const struct myelon_batch_msg *m, uint64_t n, int64_t first)
{
  struct dmp_producer *const r = p->ring;
  const bool aligned = p->fmt == MYELON_FRAME_ALIGNED;
  const uint32_t hdr = p->hdr;
  uint32_t id = p->next_id;
  for (uint64_t k = 0; k < n; k++) {
    uint8_t *slot = dmp_producer_slot(r, first + (int64_t)k);
    uint32_t len = (uint32_t)m[k].len;
    if (aligned)
      memcpy(slot + MYELON_FRAME_COMPACT_HEADER, &len, sizeof len); /* the total: the whole message */
    copy_payload(slot + hdr, m[k].data, len);
    write_single_header(slot, len, m[k].kind, id);
    if (++id == 0) /* ids skip 0, as take_id() */
      id = 1;
  }
  p->next_id = id;
}

/* How many messages from `msgs[0]` on fit one frame each (at most `max`). */
static size_t run_length(const struct myelon_producer *p, const struct myelon_batch_msg *msgs, size_t max)
{
  size_t k = 0;
  while (k < max && msgs[k].len <= p->cap)
    k++;
  return k;
}

/* Records per run claim on a byte ring: the run's lengths and record
 * addresses live on the stack. */
#define BYTES_RUN 64

/* Write `n` messages as SINGLE frames (frame.h, MYELON_FRAME_BYTES: the
 * aligned header with its total) into the records at `rec[]`: what
 * write_single() does for a byte ring, with the message id in a local
 * (the record stores may alias the handle). */
static void bytes_write_run(struct myelon_producer *p, const struct myelon_batch_msg *m, size_t n, void *const *rec)
{
  uint32_t id = p->next_id;
  for (size_t k = 0; k < n; k++) {
    uint8_t *r = rec[k];
    uint32_t len = (uint32_t)m[k].len;
    memcpy(r + MYELON_FRAME_COMPACT_HEADER, &len, sizeof len); /* the total: the whole message */
    copy_payload(r + MYELON_FRAME_ALIGNED_HEADER, m[k].data, len);
    write_single_header(r, len, m[k].kind, id);
    if (++id == 0) /* ids skip 0, as take_id() */
      id = 1;
  }
  p->next_id = id;
}

/* A batch on a byte ring: runs of up to BYTES_RUN records, each claimed
 * with one Layer 0 call (dmp_producer_try_claim_bytes_run(): the ring's
 * window checked once per run), back to back while there is room, and all
 * of them made visible with one release store (P1 in
 * dmp_producer_publish()). A full ring publishes what is claimed first
 * (its consumers cannot free what they cannot see), then waits for one
 * record. */
static int bytes_publish_batch(struct myelon_producer *p, const struct myelon_batch_msg *msgs, size_t n,
                               struct deadline *d, size_t *published)
{
  size_t i = 0, done = 0; /* claimed and written, published */
  int rc = 0;
  if (p->ring->mp) {
    /* A multi-producer handle holds one claim at a time (bytes.h; a run
     * claim there is one record): each message is claimed, written and
     * published on its own, a whole record, so no other producer's record
     * lands inside it. The clock is read only if a claim has to wait. */
    for (; i < n; i++) {
      void *one;
      if ((rc = bytes_claim(p, msgs[i].len, &one, BYTES_TRY, 0)) == -EAGAIN)
        rc = bytes_claim(p, msgs[i].len, &one, BYTES_TIMEOUT, deadline_left(d));
      if (rc < 0)
        break;
      bytes_write_run(p, msgs + i, 1, &one);
      dmp_producer_publish(p->ring);
      if (published)
        *published = i + 1;
    }
    return rc;
  }
  while (i < n) {
    size_t want = n - i < BYTES_RUN ? n - i : BYTES_RUN;
    size_t lens[BYTES_RUN];
    void *rec[BYTES_RUN];
    for (size_t k = 0; k < want; k++) /* (each checked against p->max: within the ring's largest record) */
      lens[k] = msgs[i + k].len + MYELON_FRAME_ALIGNED_HEADER;
    int64_t got = dmp_producer_try_claim_bytes_run(p->ring, lens, want, rec);
    if (got > 0) {
      bytes_write_run(p, msgs + i, (size_t)got, rec);
      i += (size_t)got;
      if ((size_t)got == want)
        continue;
    } else if (got != -EAGAIN) {
      rc = (int)got;
      break;
    }
    if (i > done) { /* the ring is full: publish the claimed run first */
      dmp_producer_publish(p->ring);
      done = i;
      if (published)
        *published = done;
      continue;
    }
    void *one;
    if ((rc = bytes_claim(p, msgs[i].len, &one, BYTES_TIMEOUT, deadline_left(d))) < 0)
      break;
    bytes_write_run(p, msgs + i, 1, &one);
    i++;
  }
  if (i > done) {
    dmp_producer_publish(p->ring);
    if (published)
      *published = i;
  }
  return rc;
}

int myelon_producer_publish_batch(struct myelon_producer *p, const struct myelon_batch_msg *msgs, size_t n,
                                  int64_t timeout_ns, size_t *published)
{
  if (published)
    *published = 0;
  bool all_single;
  int rc = check_batch(p, msgs, n, &all_single);
  if (rc < 0)
    return rc;
  struct deadline d = {timeout_ns, 0};
  if (p->bytes)
    return bytes_publish_batch(p, msgs, n, &d, published);
  uint64_t cap = dmp_producer_capacity(p->ring);
  size_t i = 0;
  while (i < n) {
    if (msgs[i].len > p->cap) { /* frames of its own, in batches of its own */
      int64_t left = deadline_left(&d);
      if ((rc = publish_frames(p, msgs[i].data, msgs[i].len, msgs[i].kind, left, false, NULL)) < 0)
        break;
      i++;
    } else {
      size_t max = n - i < cap ? n - i : (size_t)cap;
      size_t run = all_single ? max : run_length(p, msgs + i, max);
      int64_t first;
      uint64_t got;
      if ((rc = claim_run(p, run, &d, &first, &got)) < 0)
        break;
      write_run(p, msgs + i, got, first);
      i += got;
      /* One release store for the run (P1 in dmp_producer_publish()). */
      dmp_producer_publish(p->ring);
    }
    if (published)
      *published = i;
  }
  return rc < 0 ? rc : 0;
}
