/**
 * @file framing.h
 * @brief Shared helpers of the Layer 1 (libmyelon framing) tests: rings of
 * both backends and both frame formats, raw frame images written behind the
 * framed producer's back, and an independent oracle of which messages a
 * frame stream contains.
 *
 * Every suite registers fr_fini() as its `.fini`, so segments, temp files
 * and children are removed even when an assertion fails. Every wait inside
 * a test is bounded far below the suite's `.timeout`.
 */
#ifndef FR_FRAMING_H
#define FR_FRAMING_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <myelon/myelon.h>

#include "frm_payload.h"
#include "support.h"

/** Short bound for waits that are expected to time out. */
#define FR_SHORT_NS INT64_C(20000000) /* 20 ms */
/** Bound for waits that are expected to end early. */
#define FR_LONG_NS INT64_C(5000000000) /* 5 s */
/** Criterion per-test timeout of the single-process suites, seconds. */
#define FR_TIMEOUT 60

static const enum dmp_backend fr_backends[] = {DMP_BACKEND_SHM, DMP_BACKEND_MMAP};
#ifdef FR_BYTES
/* The *_bytes builds of the suites: every ring a byte ring (frm_bytes_ring()
 * stands in for the slot ring a test asks for), both "formats" of a loop
 * MYELON_FRAME_BYTES; a test of what only slot rings do skips itself. */
static const enum myelon_frame_format fr_formats[] = {MYELON_FRAME_BYTES, MYELON_FRAME_BYTES};
#define FR_SLOT_ONLY(why) cr_skip_test("slot formats only: %s", (why))
#else
static const enum myelon_frame_format fr_formats[] = {MYELON_FRAME_COMPACT, MYELON_FRAME_ALIGNED};
#define FR_SLOT_ONLY(why) ((void)0)
#endif

static inline void fr_fini(void)
{
  ts_kill_children();
  ts_cleanup();
}

static inline const char *fr_backend_name(enum dmp_backend b)
{
  return b == DMP_BACKEND_SHM ? "shm" : "mmap";
}

static inline const char *fr_format_name(enum myelon_frame_format f)
{
  return f == MYELON_FRAME_ALIGNED ? "aligned" : f == MYELON_FRAME_BYTES ? "bytes" : "compact";
}

/** Header bytes before the payload (12 compact, 16 aligned). */
static inline uint32_t fr_hdr(enum myelon_frame_format f)
{
  return f == MYELON_FRAME_ALIGNED ? 16u : 12u;
}

static inline uint32_t fr_slot_size(enum myelon_frame_format f, uint32_t cap)
{
  uint32_t size = 0, align = 0;
  int rc = myelon_frame_slot(f, cap, &size, &align);
  cr_assert(eq(int, rc, 0), "myelon_frame_slot(%s, %u): %s", fr_format_name(f), cap, myelon_err_name(rc));
  return size;
}

/** Producer config: fresh name, `capacity` slots of `fcap`-byte frames. */
static inline struct myelon_producer_config fr_pcfg(enum dmp_backend b, enum myelon_frame_format f, uint32_t fcap,
                                                    uint64_t capacity, const char *tag)
{
  struct myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.backend = b;
  cfg.ring.name = b == DMP_BACKEND_SHM ? ts_shm_name(tag) : ts_tmp_path(tag);
  cr_assert(ne(ptr, (void *)cfg.ring.name, NULL), "test support ran out of names");
  cfg.ring.capacity = capacity;
  cfg.format = f;
  cfg.frame_capacity = fcap;
#ifdef FR_BYTES
  cfg.format = MYELON_FRAME_BYTES;
  cfg.ring_bytes = frm_bytes_ring(capacity, fcap, 0);
#endif
  if (cfg.format == MYELON_FRAME_BYTES && !cfg.ring_bytes)
    cfg.ring_bytes = frm_bytes_ring(capacity, fcap, 0);
  return cfg;
}

static inline struct myelon_consumer_config fr_ccfg(const struct myelon_producer_config *pc, const char *id)
{
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.backend = pc->ring.backend;
  cfg.ring.name = pc->ring.name;
  cfg.ring.id = id;
  cfg.format = pc->format;
  cfg.frame_capacity = pc->frame_capacity;
  cfg.max_message = pc->max_message;
  return cfg;
}

static inline struct myelon_producer *fr_create(const struct myelon_producer_config *cfg)
{
  struct myelon_producer *p = NULL;
  int rc = myelon_producer_create(cfg, &p);
  cr_assert(eq(int, rc, 0), "myelon_producer_create(%s, %s, %u): %s / %s", fr_backend_name(cfg->ring.backend),
            fr_format_name(cfg->format), cfg->frame_capacity, myelon_err_name(rc), dmp_last_error());
  return p;
}

static inline struct myelon_consumer *fr_attach(const struct myelon_consumer_config *cfg)
{
  struct myelon_consumer *c = NULL;
  int rc = myelon_consumer_attach(cfg, &c);
  cr_assert(eq(int, rc, 0), "myelon_consumer_attach(%s, id %s): %s / %s", fr_format_name(cfg->format), cfg->ring.id,
            myelon_err_name(rc), dmp_last_error());
  return c;
}

/** A framed ring with one consumer "c0", both in this process. */
struct fr_ring {
  struct myelon_producer_config pc;
  struct myelon_producer *p;
  struct myelon_consumer *c;
  enum myelon_frame_format fmt;
  uint32_t cap;  /**< frame payload capacity */
  uint32_t slot; /**< slot size */
};

static inline struct fr_ring fr_open_cfg(const struct myelon_producer_config *pc, size_t consumer_max)
{
  struct fr_ring r;
  memset(&r, 0, sizeof r);
  r.pc = *pc;
  r.p = fr_create(&r.pc);
  struct myelon_consumer_config cc = fr_ccfg(&r.pc, "c0");
  if (consumer_max)
    cc.max_message = consumer_max;
  r.c = fr_attach(&cc);
  r.fmt = pc->format;
  r.cap = pc->frame_capacity;
  r.slot = pc->format == MYELON_FRAME_BYTES ? 0 : fr_slot_size(pc->format, pc->frame_capacity);
  return r;
}

static inline struct fr_ring fr_open(enum dmp_backend b, enum myelon_frame_format f, uint32_t fcap, uint64_t capacity)
{
  struct myelon_producer_config pc = fr_pcfg(b, f, fcap, capacity, "frm");
  return fr_open_cfg(&pc, 0);
}

static inline void fr_close(struct fr_ring *r)
{
  myelon_consumer_close(r->c);
  myelon_producer_close(r->p);
  r->c = NULL;
  r->p = NULL;
}

/** Receive one message that must be there now. */
static inline struct myelon_msg fr_recv_now(struct myelon_consumer *c)
{
  struct myelon_msg m;
  memset(&m, 0, sizeof m);
  int rc = myelon_consumer_try_recv(c, &m);
  cr_assert(eq(int, rc, 0), "try_recv: %s / %s", myelon_err_name(rc), dmp_last_error());
  return m;
}

static inline void fr_expect_empty(struct myelon_consumer *c)
{
  struct myelon_msg m;
  int rc = myelon_consumer_try_recv(c, &m);
  cr_assert(eq(int, rc, -EAGAIN), "expected nothing, got %s (len %zu)", myelon_err_name(rc), rc == 0 ? m.len : 0);
}

/** Fill `len` bytes with a pattern of `tag`. */
static inline void fr_pattern(uint8_t *buf, size_t len, uint32_t tag)
{
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(frm_mix(tag * UINT64_C(1000003) + i / 8) >> (8 * (i % 8)));
}

static inline void fr_publish_ok(struct myelon_producer *p, const void *data, size_t len, uint8_t kind)
{
  int rc = myelon_producer_publish(p, data, len, kind, FR_LONG_NS);
  cr_assert(eq(int, rc, 0), "myelon_producer_publish(%zu bytes): %s / %s", len, myelon_err_name(rc), dmp_last_error());
}

/** Receive one message now and check it carries `len` bytes of pattern `tag`. */
static inline void fr_expect_pattern(struct myelon_consumer *c, size_t len, uint32_t tag, uint8_t kind)
{
  struct myelon_msg m = fr_recv_now(c);
  cr_assert(eq(sz, m.len, len), "message length");
  cr_assert(eq(u8, m.kind, kind), "message kind");
  uint8_t *want = malloc(len ? len : 1);
  fr_pattern(want, len, tag);
  cr_assert(eq(int, memcmp(m.data, want, len), 0), "message content (%zu bytes, tag %u)", len, tag);
  free(want);
  myelon_consumer_release(c);
}

/* ---- raw frame images -------------------------------------------------- */

/**
 * Build a frame image in `slot` (`slot_size` bytes, zeroed first): a header
 * with any field values, `len` included even beyond the capacity. Payload
 * bytes are copied only as far as they fit in the slot; the total (aligned:
 * header word, compact START: payload prefix) only where the format has it.
 */
static inline void fr_build(enum myelon_frame_format f, void *slot, uint32_t slot_size, const void *data, uint32_t len,
                            uint8_t kind, uint8_t flags, uint16_t frag, uint32_t msg_id, uint32_t total)
{
  uint8_t *s = slot;
  uint32_t hdr = fr_hdr(f);
  memset(s, 0, slot_size);
  uint8_t *payload = s + hdr;
  uint32_t room = slot_size - hdr;
  uint32_t wire = len;
  if (f == MYELON_FRAME_ALIGNED) {
    memcpy(s + 12, &total, 4);
  } else if ((flags & MYELON_FLAG_SINGLE) == MYELON_FLAG_START) {
    if (room >= 4)
      memcpy(payload, &total, 4);
    payload += 4;
    room = room >= 4 ? room - 4 : 0;
    wire += 4;
  }
  if (data)
    memcpy(payload, data, len < room ? len : room);
  struct myelon_frame_header h = {wire, kind, flags, frag, msg_id};
  memcpy(s, &h, sizeof h);
}

/** Publish one raw slot image through the Layer 0 producer under `p`. */
static inline void fr_inject_image(struct myelon_producer *p, const void *image, uint32_t slot_size)
{
  struct dmp_producer *raw = myelon_producer_ring(p);
  void *slot;
  int rc = dmp_producer_try_claim(raw, &slot);
  cr_assert(eq(int, rc, 0), "raw claim: %s (ring full: drain the consumer first)", myelon_err_name(rc));
  memcpy(slot, image, slot_size);
  dmp_producer_publish(raw);
}

/** Build and publish one frame (see fr_build()). */
static inline void fr_inject(struct fr_ring *r, const void *data, uint32_t len, uint8_t kind, uint8_t flags,
                             uint16_t frag, uint32_t msg_id, uint32_t total)
{
  uint8_t *img = aligned_alloc(16, (r->slot + 15) & ~15u);
  cr_assert(ne(ptr, img, NULL));
  fr_build(r->fmt, img, r->slot, data, len, kind, flags, frag, msg_id, total);
  fr_inject_image(r->p, img, r->slot);
  free(img);
}

/**
 * Cut a message into frame images the way the producer does (frame.h):
 * writes myelon_frame_count() images of `slot_size` bytes at `out` (the
 * caller sizes it) and returns their number.
 */
static inline uint64_t fr_split(enum myelon_frame_format f, uint32_t cap, uint32_t slot_size, uint8_t *out,
                                const uint8_t *data, size_t len, uint8_t kind, uint32_t msg_id)
{
  uint64_t n = myelon_frame_count(f, cap, len);
  size_t off = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint8_t flags = (uint8_t)((i == 0 ? MYELON_FLAG_START : 0) | (i == n - 1 ? MYELON_FLAG_END : 0));
    uint32_t room = (f == MYELON_FRAME_COMPACT && flags == MYELON_FLAG_START) ? cap - 4 : cap;
    uint32_t chunk = len - off < room ? (uint32_t)(len - off) : room;
    fr_build(f, out + i * slot_size, slot_size, data + off, chunk, kind, flags, (uint16_t)i, msg_id, (uint32_t)len);
    off += chunk;
  }
  return n;
}

/* ---- oracle: which messages a frame stream contains -------------------- */

/** A complete, well-formed message found in a frame stream. */
struct fr_run {
  uint64_t first, last; /**< frame indices */
  uint64_t total;
  uint32_t msg_id;
  uint8_t kind;
};

static inline bool fr_parse_at(enum myelon_frame_format f, uint32_t cap, const uint8_t *frames, uint32_t stride,
                               uint64_t k, struct myelon_frame_view *v)
{
  return myelon_frame_parse(f, cap, frames + k * stride, v) == 0;
}

/**
 * Is frame `end` the last frame of a well-formed message of at most `max`
 * bytes? Independent of the reassembler: a message is a START frame with
 * fragment 0 followed by continuation frames of the same id with fragments
 * 1, 2, ... (mod 2^16), none with START and only the last with END, whose
 * lengths add up exactly to the stated total (never reached early), and
 * whose stated totals (where present) all agree.
 */
static inline bool fr_run_ending_at(enum myelon_frame_format f, uint32_t cap, size_t max, const uint8_t *frames,
                                    uint32_t stride, uint64_t end, struct fr_run *run)
{
  struct myelon_frame_view v, e;
  if (!fr_parse_at(f, cap, frames, stride, end, &e) || !(e.flags & MYELON_FLAG_END))
    return false;
  uint64_t first = end;
  bool started = (e.flags & MYELON_FLAG_START) != 0;
  while (!started) { /* walk back to the START */
    if (first == 0)
      return false;
    first--;
    if (!fr_parse_at(f, cap, frames, stride, first, &v) || v.msg_id != e.msg_id)
      return false;
    started = (v.flags & MYELON_FLAG_START) != 0;
    if (!started && (v.flags & MYELON_FLAG_END))
      return false;
  }
  fr_parse_at(f, cap, frames, stride, first, &v);
  bool single = first == end;
  uint64_t total = single ? v.len : v.total;
  if (v.frag != 0 || total > max || (!single && total <= v.len))
    return false;
  uint64_t got = 0;
  for (uint64_t k = first; k <= end; k++) {
    fr_parse_at(f, cap, frames, stride, k, &v);
    if (v.frag != (uint16_t)(k - first) || (v.total && v.total != total) || got + v.len > total)
      return false;
    got += v.len;
    if (k < end && got == total)
      return false;
  }
  if (got != total)
    return false;
  fr_parse_at(f, cap, frames, stride, first, &v);
  *run = (struct fr_run){first, end, total, v.msg_id, v.kind};
  return true;
}

/** Check that `len` bytes at `data` are the payload of `run`. */
static inline bool fr_run_matches(enum myelon_frame_format f, uint32_t cap, const uint8_t *frames, uint32_t stride,
                                  const struct fr_run *run, const void *data, size_t len)
{
  if (len != run->total)
    return false;
  size_t off = 0;
  for (uint64_t k = run->first; k <= run->last; k++) {
    struct myelon_frame_view v;
    fr_parse_at(f, cap, frames, stride, k, &v);
    if (v.len && memcmp((const uint8_t *)data + off, v.data, v.len) != 0)
      return false;
    off += v.len;
  }
  return off == len;
}

/* ---- frame streams in memory ---------------------------------------- */

/* A stream of frame images in a growable array. */
struct fr_stream {
  enum myelon_frame_format f;
  uint32_t cap, slot;
  uint8_t *frames;
  uint64_t n, room;
};

/* A stream of frames of (at least) `cap` bytes: the capacity is rounded up
 * as the producer rounds it (aligned: to 16). */
static inline struct fr_stream fr_stream_new(enum myelon_frame_format f, uint32_t cap)
{
  uint32_t slot = fr_slot_size(f, cap);
  struct fr_stream s = {f, slot - fr_hdr(f), slot, NULL, 0, 0};
  return s;
}

static inline uint8_t *fr_stream_grow(struct fr_stream *s, uint64_t more)
{
  if (s->n + more > s->room) {
    uint64_t room = s->room ? s->room : 64;
    while (room < s->n + more)
      room *= 2;
    uint8_t *p = aligned_alloc(16, room * s->slot);
    cr_assert(ne(ptr, p, NULL));
    if (s->n)
      memcpy(p, s->frames, s->n * s->slot);
    free(s->frames);
    s->frames = p;
    s->room = room;
  }
  return s->frames + s->n * s->slot;
}

/* Append a well-formed message; returns the index of its first frame. */
static inline uint64_t fr_stream_message(struct fr_stream *s, const uint8_t *data, size_t len, uint8_t kind, uint32_t id)
{
  uint64_t n = myelon_frame_count(s->f, s->cap, len);
  uint8_t *at = fr_stream_grow(s, n);
  uint64_t got = fr_split(s->f, s->cap, s->slot, at, data, len, kind, id);
  cr_assert(eq(u64, got, n));
  uint64_t first = s->n;
  s->n += n;
  return first;
}

static inline void fr_stream_frame(struct fr_stream *s, const void *data, uint32_t len, uint8_t kind, uint8_t flags, uint16_t frag,
                         uint32_t id, uint32_t total)
{
  fr_build(s->f, fr_stream_grow(s, 1), s->slot, data, len, kind, flags, frag, id, total);
  s->n++;
}

static inline void fr_stream_free(struct fr_stream *s)
{
  free(s->frames);
  s->frames = NULL;
}

/* Append one random piece of stream: a good message (ids from a small set,
 * so they collide), a mutated good message, a random plausible frame, or
 * random bytes. */
static inline void fr_fuzz_piece(struct fr_stream *s, uint64_t *rng, uint8_t *scratch)
{
  uint64_t x = *rng = frm_mix(*rng);
  uint32_t cap = s->cap;
  uint32_t id = (uint32_t)(x >> 8) % 5 + (((x >> 16) & 15) == 0 ? 0 : 1);
  uint8_t kind = (uint8_t)(x >> 24);
  switch (x % 10) {
  case 0: case 1: case 2: case 3: { /* good message */
    size_t len = (size_t)(x >> 32) % (5u * cap);
    fr_pattern(scratch, len, (uint32_t)x);
    fr_stream_message(s, scratch, len, kind, id ? id : 1);
    break;
  }
  case 4: case 5: { /* good message, then one frame mutated or dropped */
    size_t len = cap + (size_t)(x >> 32) % (4u * cap);
    fr_pattern(scratch, len, (uint32_t)x);
    uint64_t first = fr_stream_message(s, scratch, len, kind, id ? id : 1);
    uint64_t n = s->n - first;
    uint64_t victim = first + (x >> 40) % n;
    uint8_t *fr = s->frames + victim * s->slot;
    switch ((x >> 48) % 4) {
    case 0: /* drop it */
      memmove(fr, fr + s->slot, (s->n - victim - 1) * s->slot);
      s->n--;
      break;
    case 1: fr[(x >> 52) % 16] ^= (uint8_t)(1u << ((x >> 56) % 8)); break; /* flip a header bit */
    case 2: fr[5] ^= MYELON_FLAG_START; break;
    default: fr[6]++; break; /* fragment index */
    }
    break;
  }
  case 6: case 7: case 8: { /* one plausible frame */
    uint8_t flags = (uint8_t)((x >> 32) % 4);
    uint32_t len = (uint32_t)((x >> 36) % (cap + 3));
    uint16_t frag = (uint16_t)((x >> 44) % 4);
    uint32_t total = (uint32_t)((x >> 48) % (4u * cap));
    fr_pattern(scratch, cap + 8, (uint32_t)x);
    fr_stream_frame(s, scratch, len, kind, flags, frag, id, total);
    break;
  }
  default: { /* random bytes */
    uint8_t *fr = fr_stream_grow(s, 1);
    for (uint32_t k = 0; k < s->slot; k++)
      fr[k] = (uint8_t)(*rng = frm_mix(*rng));
    s->n++;
    break;
  }
  }
}

#endif /* FR_FRAMING_H */
