/* Layer 1 consumer: zero-copy single frames, bounded reassembly of the
 * rest, resynchronisation after bad input (framed.h). A frame that is a
 * whole message, arriving between messages, takes a fast path: inline
 * peek, the header checked in place, no clock read; everything else (and
 * every frame the fast path does not accept) goes through
 * myelon_frame_parse() and the reassembler. */
#include "frame_bytes.h"
#include "internal.h"
#include <myelon/error.h>
#include <myelon/framed.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


struct myelon_consumer {
  struct dmp_consumer *ring;
  enum myelon_frame_format fmt;
  uint32_t cap;
  uint32_t hdr;         /* header bytes (12 or 16): the payload's offset */
  uint32_t single_max;  /* the fast path's largest frame: min(cap, max_message) */
  struct myelon_reasm reasm;
  const void *pending;  /* peeked frame to feed again (starts a new message) */
  bool leased;          /* a received message awaits release */
  uint64_t errors;
  /* Byte rings (frame.h, MYELON_FRAME_BYTES): */
  bool bytes;
  bool non_gating;      /* reads by copy into `copy` */
  int pending_rc;       /* a bad record that ended a batch: reported by the next receive */
  uint8_t *copy;        /* a non-gating consumer's record buffer, 16-byte aligned */
  size_t copy_cap;
};

void myelon_consumer_config_init(struct myelon_consumer_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  dmp_consumer_config_init(&cfg->ring);
  cfg->format = MYELON_FRAME_COMPACT;
  cfg->max_message = MYELON_DEFAULT_MAX_MESSAGE;
}

/* A byte ring must carry framed records: its type tag says so. */
static int check_bytes_format(const struct myelon_consumer_config *cfg, struct dmp_consumer *ring, uint32_t *cap)
{
  size_t max = dmp_consumer_bytes_max(ring);
  if (max <= MYELON_FRAME_ALIGNED_HEADER || dmp_consumer_type_tag(ring) != myelon_frame_tag(MYELON_FRAME_BYTES, 0))
    return dmp_error_set("myelon_consumer_attach", "'%s' is not a framed byte ring (MYELON_FRAME_BYTES)",
                         cfg->ring.name),
           -MYELON_E_FORMAT;
  *cap = (uint32_t)(max - MYELON_FRAME_ALIGNED_HEADER);
  return 0;
}

/* The ring must carry frames of our format, and of `want` capacity if set. */
static int check_format(const struct myelon_consumer_config *cfg, struct dmp_consumer *ring, uint32_t *cap)
{
  if (cfg->format == MYELON_FRAME_BYTES)
    return check_bytes_format(cfg, ring, cap);
  uint32_t hdr = myelon_frame_header_size(cfg->format);
  uint32_t slot = dmp_consumer_slot_size(ring);
  if (hdr == 0 || slot <= hdr)
    return dmp_error_set("myelon_consumer_attach", "ring slots of %u bytes cannot hold %s frames", slot,
                         hdr ? "these" : "unknown-format"),
           -MYELON_E_FORMAT;
  *cap = slot - hdr;
  if (dmp_consumer_type_tag(ring) != myelon_frame_tag(cfg->format, *cap))
    return dmp_error_set("myelon_consumer_attach", "'%s' does not carry %s frames of %u bytes", cfg->ring.name,
                         cfg->format == MYELON_FRAME_ALIGNED ? "aligned" : "compact", *cap),
           -MYELON_E_FORMAT;
  if (cfg->frame_capacity) {
    uint32_t want_slot, want_align;
    int rc = myelon_frame_slot(cfg->format, cfg->frame_capacity, &want_slot, &want_align);
    if (rc < 0)
      return rc;
    if (want_slot != slot)
      return dmp_error_set("myelon_consumer_attach", "'%s' has %u-byte frames, consumer expects %u", cfg->ring.name,
                           *cap, cfg->frame_capacity),
             -MYELON_E_FORMAT;
  }
  return 0;
}

/* MYELON_FRAME_AUTO: the format the ring's type tag names (Layer 0
 * attached accepting any slot size, alignment and tag), or
 * -MYELON_E_FORMAT for a ring that carries no framed messages. */
static int resolve_auto(const struct myelon_consumer_config *cfg, struct dmp_consumer *ring,
                        enum myelon_frame_format *fmt)
{
  uint64_t tag = dmp_consumer_type_tag(ring);
  if (dmp_consumer_is_bytes(ring)) {
    if (tag == myelon_frame_tag(MYELON_FRAME_BYTES, 0))
      return *fmt = MYELON_FRAME_BYTES, 0;
  } else {
    static const enum myelon_frame_format slot_formats[] = {MYELON_FRAME_COMPACT, MYELON_FRAME_ALIGNED};
    uint32_t slot = dmp_consumer_slot_size(ring);
    for (size_t i = 0; i < sizeof slot_formats / sizeof slot_formats[0]; i++) {
      uint32_t hdr = myelon_frame_header_size(slot_formats[i]);
      if (slot > hdr && tag == myelon_frame_tag(slot_formats[i], slot - hdr))
        return *fmt = slot_formats[i], 0;
    }
  }
  return dmp_error_set("myelon_consumer_attach", "'%s' carries no framed messages (MYELON_FRAME_AUTO: its type tag "
                       "%#llx names no frame format)", cfg->ring.name, (unsigned long long)tag),
         -MYELON_E_FORMAT;
}

/* What Layer 0 can check before it takes a table entry: the slot alignment
 * of the format and, with a frame capacity, the slot size and type tag. A
 * ring of another format or capacity is then refused without leaving an
 * entry behind (a durable one would gate the producer for ever). */
static int expect_format(const struct myelon_consumer_config *cfg, struct dmp_consumer_config *ring)
{
  uint32_t slot, align;
  *ring = cfg->ring;
  if (cfg->format == MYELON_FRAME_AUTO) {
    /* Any shape: resolve_auto() reads the format from the ring's tag. */
    ring->slot_size = 0;
    ring->slot_align = 0;
    ring->type_tag = 0;
    return 0;
  }
  if (cfg->format == MYELON_FRAME_BYTES) {
    /* Any block: the tag says what the records carry. */
    ring->slot_size = 0;
    ring->slot_align = 0;
    ring->type_tag = myelon_frame_tag(MYELON_FRAME_BYTES, 0);
    return 0;
  }
  uint32_t cap = cfg->frame_capacity ? cfg->frame_capacity : MYELON_FRAME_MIN_CAPACITY;
  int rc = myelon_frame_slot(cfg->format, cap, &slot, &align);
  if (rc < 0)
    return rc;
  ring->slot_align = align;
  if (cfg->frame_capacity) {
    ring->slot_size = slot;
    ring->type_tag = myelon_frame_tag(cfg->format, slot - myelon_frame_header_size(cfg->format));
  }
  return 0;
}

/* A format check failed after Layer 0 attached: undo the attach. An entry
 * this attach created is freed; one that existed before keeps its position. */
static void undo_attach(struct dmp_consumer *ring)
{
  if (ring && dmp_consumer_generation(ring) == 1)
    dmp_consumer_close_forget(ring);
  else
    dmp_consumer_close(ring);
}

/* A byte ring's consumer: a non-gating one copies each record into a
 * buffer of its own, as large as the largest message it accepts (bounded
 * by the ring). */
static int bytes_setup(struct myelon_consumer *c, const struct myelon_consumer_config *cfg)
{
  c->bytes = true;
  c->non_gating = (cfg->ring.flags & DMP_CONSUMER_NON_GATING) != 0;
  if (!c->non_gating)
    return 0;
  size_t want = cfg->max_message < c->cap ? cfg->max_message : c->cap;
  c->copy_cap = (want + MYELON_FRAME_ALIGNED_HEADER + 15) & ~(size_t)15;
  c->copy = aligned_alloc(16, c->copy_cap);
  return c->copy ? 0 : (dmp_error_set("myelon_consumer_attach", "out of memory (%zu bytes)", c->copy_cap), -ENOMEM);
}

int myelon_impl_consumer_wrap(struct dmp_consumer *ring, bool non_gating, size_t max_message,
                              struct myelon_consumer **out)
{
  *out = NULL;
  if (max_message == 0 || max_message > MYELON_MAX_MESSAGE_LIMIT)
    return -DMP_E_BADCONFIG;
  size_t max = dmp_consumer_bytes_max(ring);
  if (max <= MYELON_FRAME_ALIGNED_HEADER)
    return -MYELON_E_FORMAT;
  struct myelon_consumer *c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.format = MYELON_FRAME_BYTES;
  cfg.max_message = max_message;
  cfg.ring.flags = non_gating ? DMP_CONSUMER_NON_GATING : 0;
  c->ring = ring;
  c->cap = (uint32_t)(max - MYELON_FRAME_ALIGNED_HEADER);
  c->fmt = MYELON_FRAME_BYTES;
  c->hdr = myelon_frame_header_size(MYELON_FRAME_BYTES);
  int rc = myelon_reasm_init(&c->reasm, max_message);
  c->single_max = max_message < c->cap ? (uint32_t)max_message : c->cap;
  if (rc == 0 && (rc = bytes_setup(c, &cfg)) < 0)
    myelon_reasm_fini(&c->reasm);
  if (rc < 0) {
    free(c->copy);
    free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void myelon_impl_consumer_unwrap(struct myelon_consumer *c)
{
  if (!c)
    return;
  myelon_reasm_fini(&c->reasm);
  free(c->copy);
  free(c);
}

/* The checks that need no ring. */
static int check_config(const struct myelon_consumer_config *cfg, struct myelon_consumer **out)
{
  if (!cfg || !out)
    return dmp_error_set("myelon_consumer_attach", "cfg or out is NULL"), -EINVAL;
  if (cfg->max_message == 0 || cfg->max_message > MYELON_MAX_MESSAGE_LIMIT)
    return dmp_error_set("myelon_consumer_attach", "cfg.max_message %zu is not in 1..%u", cfg->max_message,
                         MYELON_MAX_MESSAGE_LIMIT),
           -DMP_E_BADCONFIG;
  return MYELON_RESERVED_CHECK(cfg, "myelon_consumer_attach", "cfg.reserved");
}

/* Messages are leased in place (zero-copy): only a gating consumer's slots
 * are safe from the producer. Layer 0 refuses a non-gating peek, which the
 * receive loop would see as "nothing yet" for ever while the ring says data
 * is there: refused (with an explicit format, before any entry is taken). */
static int check_non_gating(const struct myelon_consumer_config *cfg, enum myelon_frame_format fmt)
{
  if (!(cfg->ring.flags & DMP_CONSUMER_NON_GATING) || fmt == MYELON_FRAME_BYTES)
    return 0;
  return dmp_error_set("myelon_consumer_attach", "'%s': a framed consumer of a slot ring must gate the producer "
                       "(DMP_CONSUMER_NON_GATING is for copying readers such as the journal recorder, and for "
                       "MYELON_FRAME_BYTES rings)",
                       cfg->ring.name ? cfg->ring.name : "(null)"),
         -EINVAL;
}

/* The Layer 1 consumer around an attached ring `ring` of format
 * `cfg->format` (owned from here: closed, or forgotten if this attach made
 * its entry, on failure). */
static int wrap_attached(const struct myelon_consumer_config *cfg, struct dmp_consumer *ring,
                         struct myelon_consumer **out)
{
  uint32_t cap = 0;
  int rc = check_format(cfg, ring, &cap);
  if (rc < 0) {
    undo_attach(ring);
    return rc;
  }
  struct myelon_consumer *c = calloc(1, sizeof *c);
  if (!c) {
    undo_attach(ring);
    return -ENOMEM;
  }
  c->ring = ring;
  c->cap = cap;
  if ((rc = myelon_reasm_init(&c->reasm, cfg->max_message)) < 0) {
    dmp_consumer_close(ring);
    free(c);
    return rc;
  }
  if (cfg->format == MYELON_FRAME_BYTES && (rc = bytes_setup(c, cfg)) < 0) {
    myelon_consumer_close(c);
    return rc;
  }
  c->fmt = cfg->format;
  c->hdr = myelon_frame_header_size(cfg->format);
  c->single_max = c->reasm.max < c->cap ? (uint32_t)c->reasm.max : c->cap;
  *out = c;
  return 0;
}

static int attach(const struct myelon_consumer_config *cfg, int64_t timeout_ns, bool wait,
                  struct myelon_consumer **out)
{
  if (out)
    *out = NULL;
  int rc = check_config(cfg, out);
  if (rc < 0)
    return rc;
  bool autofmt = cfg->format == MYELON_FRAME_AUTO;
  if (!autofmt && (rc = check_non_gating(cfg, cfg->format)) < 0)
    return rc;
  struct dmp_consumer_config ring;
  rc = expect_format(cfg, &ring);
  if (rc < 0)
    return rc;
  struct dmp_consumer *r = NULL;
  rc = wait ? dmp_consumer_attach_timeout(&ring, timeout_ns, &r) : dmp_consumer_attach(&ring, &r);
  if (rc == -DMP_E_BADCONFIG || rc == -DMP_E_BADNAME)
    rc = myelon_impl_ring_fail(rc);
  if (rc == -DMP_E_MISMATCH) {
    dmp_error_set("myelon_consumer_attach", "'%s' does not carry %s frames%s: %s", cfg->ring.name,
                  cfg->format == MYELON_FRAME_ALIGNED ? "aligned" : "compact",
                  cfg->frame_capacity ? " of that capacity" : "", dmp_last_error());
    rc = -MYELON_E_FORMAT;
  }
  if (rc < 0)
    return rc;
  if (!autofmt)
    return wrap_attached(cfg, r, out);
  /* MYELON_FRAME_AUTO: Layer 0 took any shape; go on as a consumer of the
   * format the ring's tag names. */
  struct myelon_consumer_config as = *cfg;
  if ((rc = resolve_auto(cfg, r, &as.format)) < 0 || (rc = check_non_gating(cfg, as.format)) < 0) {
    undo_attach(r);
    return rc;
  }
  return wrap_attached(&as, r, out);
}

int myelon_consumer_attach(const struct myelon_consumer_config *cfg, struct myelon_consumer **out)
{
  return attach(cfg, 0, false, out);
}

int myelon_consumer_attach_timeout(const struct myelon_consumer_config *cfg, int64_t timeout_ns,
                                   struct myelon_consumer **out)
{
  return attach(cfg, timeout_ns, true, out);
}

void myelon_consumer_close(struct myelon_consumer *c)
{
  if (!c)
    return;
  dmp_consumer_close(c->ring);
  myelon_reasm_fini(&c->reasm);
  free(c->copy);
  free(c);
}

struct dmp_consumer *myelon_consumer_ring(struct myelon_consumer *c)
{
  return c ? c->ring : NULL;
}

uint32_t myelon_consumer_frame_capacity(const struct myelon_consumer *c)
{
  return c ? c->cap : 0;
}

size_t myelon_consumer_max_message(const struct myelon_consumer *c)
{
  return c ? c->reasm.max : 0;
}

/* myelon_consumer_release() for the receive paths (no call through the
 * exported symbol). A pending frame is still peeked: it is released when
 * it has been fed. */
static inline void release_lease(struct myelon_consumer *c)
{
  if (!c->leased)
    return;
  c->leased = false;
  if (!c->pending && !c->non_gating)
    dmp_consumer_release(c->ring);
}

void myelon_consumer_release(struct myelon_consumer *c)
{
  if (c)
    release_lease(c);
}

static int lost(struct myelon_consumer *c, int rc)
{
  c->errors++;
  return rc;
}

/* The fast path's test: true only for a frame that myelon_frame_parse()
 * accepts as a SINGLE (flags exactly START|END, so no unknown bits;
 * fragment 0; msg_id not 0; len within the capacity; an aligned frame's
 * stated total equal to len) and that fits max_message, and then `*m`,
 * the message zero-copy in the slot; `*m` is left alone otherwise. Every
 * other frame, malformed ones included, goes the general way, which
 * parses the slot again and decides from its own copy. The header is read
 * once, into registers (the peer may change the slot under us: the values
 * checked are the values used; and a header copied to the stack and read
 * back field by field stalls on store forwarding). */
static inline bool single_msg(const struct myelon_consumer *c, const uint8_t *slot, struct myelon_msg *m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* lo: len at bit 0, kind at 32, flags at 40, frag at 48 (frame.h);
   * flags exactly SINGLE and frag 0 is lo >> 40 == MYELON_FLAG_SINGLE. */
  uint64_t lo;
  uint32_t id;
  memcpy(&lo, slot, sizeof lo);
  memcpy(&id, slot + 8, sizeof id);
  uint32_t len = (uint32_t)lo;
  uint8_t kind = (uint8_t)(lo >> 32);
  if ((lo >> 40) != MYELON_FLAG_SINGLE || id == 0 || len > c->single_max)
    return false;
#else
  struct myelon_frame_header h;
  memcpy(&h, slot, sizeof h);
  uint32_t len = h.len, id = h.msg_id;
  uint8_t kind = h.kind;
  if (h.flags != MYELON_FLAG_SINGLE || h.frag != 0 || id == 0 || len > c->single_max)
    return false;
#endif
  if (c->fmt == MYELON_FRAME_ALIGNED) {
    uint32_t total;
    memcpy(&total, slot + MYELON_FRAME_COMPACT_HEADER, sizeof total);
    if (total != len)
      return false;
  }
  *m = (struct myelon_msg){.data = slot + c->hdr, .len = len, .kind = kind, .msg_id = id, .zero_copy = true};
  return true;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static_assert(offsetof(struct myelon_frame_header, kind) == 4 && offsetof(struct myelon_frame_header, flags) == 5 &&
                  offsetof(struct myelon_frame_header, frag) == 6 && offsetof(struct myelon_frame_header, msg_id) == 8,
              "single_msg() takes the header fields from these offsets");
#endif

/* Everything but the fast path: parse, reassemble, report bad input. */
static int recv_general(struct myelon_consumer *c, struct myelon_msg *m)
{
  /* At most one ring of frames per call: the frames of a message longer
   * than the ring keep coming while the producer streams, and a call that
   * fed them all would last as long as the message, not as its caller's
   * timeout allows. The reassembly keeps its place for the next call. */
  for (int64_t budget = dmp_consumer_capacity(c->ring); budget > 0; budget--) {
    const void *slot = c->pending;
    int64_t seq;
    c->pending = NULL;
    if (!slot && dmp_consumer_try_peek(c->ring, &slot, &seq) < 0)
      return -EAGAIN;
    struct myelon_frame_view f;
    int rc = myelon_frame_parse(c->fmt, c->cap, slot, &f);
    if (rc < 0) {
      dmp_consumer_release(c->ring);
      if (c->reasm.active)
        c->errors++; /* the message in progress is lost too */
      myelon_reasm_reset(&c->reasm);
      return lost(c, rc);
    }
    if ((f.flags & MYELON_FLAG_SINGLE) == MYELON_FLAG_SINGLE && !c->reasm.active) {
      if (f.len > c->reasm.max) {
        dmp_consumer_release(c->ring);
        return lost(c, -MYELON_E_TOOBIG);
      }
      *m = (struct myelon_msg){.data = f.data, .len = f.len, .kind = f.kind, .msg_id = f.msg_id, .zero_copy = true};
      c->leased = true; /* the slot stays peeked until release */
      return 0;
    }
    bool consumed;
    rc = myelon_reasm_feed(&c->reasm, &f, &consumed);
    if (consumed)
      dmp_consumer_release(c->ring);
    else
      c->pending = slot;
    if (rc == 1) {
      *m = (struct myelon_msg){
          .data = c->reasm.buf, .len = c->reasm.len, .kind = c->reasm.kind, .msg_id = c->reasm.msg_id, .zero_copy = false};
      c->leased = true;
      return 0;
    }
    if (rc < 0)
      return lost(c, rc);
  }
  return -EAGAIN;
}

/* ---- byte rings: one record per message ---------------------------------- */

/* Check the frame in a record's payload (`rec`, `len` bytes; frame_bytes.h,
 * as myelon_frame_parse() does for MYELON_FRAME_BYTES): 0 and `*m`, or the
 * error the message is lost to. */
static int bytes_frame(struct myelon_consumer *c, const uint8_t *rec, size_t len, struct myelon_msg *m)
{
  struct myelon_frame_header h = {0, 0, 0, 0, 0};
  uint32_t total = 0;
  if (myelon_impl_bytes_frame(rec, len, &h, &total) < 0)
    return dmp_error_set("myelon_consumer_recv", "record of %zu bytes: bad frame (flags 0x%x, frag %u, id %u, "
                         "len %u, total %u)", len, h.flags, h.frag, h.msg_id, h.len, total),
           -MYELON_E_MALFORMED;
  if (h.len > c->reasm.max)
    return dmp_error_set("myelon_consumer_recv", "message %u of %u bytes exceeds max_message %zu", h.msg_id, h.len,
                         c->reasm.max),
           -MYELON_E_TOOBIG;
  *m = (struct myelon_msg){
      .data = rec + MYELON_FRAME_ALIGNED_HEADER, .len = h.len, .kind = h.kind, .msg_id = h.msg_id, .zero_copy = true};
  return 0;
}

/* A record whose Layer 0 header failed (-DMP_E_CORRUPT; the detail says
 * why): skip to the next boundary the ring can trust, lose the message. */
static int bytes_corrupt(struct myelon_consumer *c)
{
  char why[256];
  snprintf(why, sizeof why, "%s", dmp_last_error());
  dmp_consumer_resync_bytes(c->ring);
  dmp_error_set("myelon_consumer_recv", "%s (resynchronised)", why);
  return lost(c, -MYELON_E_MALFORMED);
}

/* A non-gating consumer: copy the next record (validated by Layer 0
 * against having been overwritten), then check its frame in the copy. */
static int bytes_copy_recv(struct myelon_consumer *c, struct myelon_msg *m)
{
  size_t len;
  int rc = dmp_consumer_try_copy_bytes(c->ring, c->copy, c->copy_cap, &len, NULL);
  if (rc == -DMP_E_CORRUPT)
    return bytes_corrupt(c);
  if (rc == -EMSGSIZE) { /* larger than any message we accept: step over it */
    dmp_consumer_resync_bytes(c->ring);
    dmp_error_set("myelon_consumer_recv", "record of %zu bytes: above max_message %zu", len, c->reasm.max);
    return lost(c, -MYELON_E_TOOBIG);
  }
  if (rc < 0)
    return rc;
  if ((rc = bytes_frame(c, c->copy, len, m)) < 0)
    return lost(c, rc);
  m->zero_copy = false;
  c->leased = true;
  return 0;
}

/* Records per run peek: the run's addresses and lengths live on the stack. */
#define BYTES_RUN 64

/* Up to `max` messages record by record, after a frame in a run failed
 * its check: the run is given back (dmp_consumer_unpeek(); nothing of it
 * was released or handed out) and taken again one record at a time, so
 * that a bad record ends a batch that has messages: it stays peeked, is
 * released with them, and the next call reports it. */
static int bytes_recv_each(struct myelon_consumer *c, struct myelon_msg *msgs, size_t max)
{
  dmp_consumer_unpeek(c->ring);
  size_t n = 0;
  for (; n < max; n++) {
    const void *rec;
    size_t len;
    int rc = dmp_consumer_try_peek_bytes(c->ring, &rec, &len, NULL);
    if (rc == -EAGAIN || (rc < 0 && n > 0))
      break; /* a corrupt header stays where it is: the next call meets it first */
    if (rc == -DMP_E_CORRUPT)
      return bytes_corrupt(c);
    if (rc < 0)
      return rc;
    if ((rc = bytes_frame(c, rec, len, &msgs[n])) < 0) {
      if (n > 0) {
        c->pending_rc = rc;
        break;
      }
      dmp_consumer_release(c->ring);
      return lost(c, rc);
    }
  }
  if (n == 0)
    return -EAGAIN;
  c->leased = true;
  return (int)n;
}

/* Up to `max` messages of a byte ring, zero-copy, all leased together (one
 * release store for them all at the next receive or release): runs of
 * records from one Layer 0 call each (dmp_consumer_try_peek_bytes_run():
 * the producer cursor loaded once per run, every record header checked),
 * every frame checked here as bytes_frame() checks it. A frame that fails
 * sends the batch the record-by-record way, which stops before it. */
static int bytes_recv(struct myelon_consumer *c, struct myelon_msg *msgs, size_t max)
{
  release_lease(c);
  if (c->pending_rc) {
    int rc = c->pending_rc;
    c->pending_rc = 0;
    return lost(c, rc);
  }
  if (c->non_gating) { /* one message per call: one buffer */
    int rc = bytes_copy_recv(c, msgs);
    return rc < 0 ? rc : 1;
  }
  const size_t limit = c->reasm.max; /* (a local: the stores into msgs[] may alias the handle) */
  size_t n = 0;
  while (n < max) {
    const void *rec[BYTES_RUN];
    size_t len[BYTES_RUN];
    size_t want = max - n < BYTES_RUN ? max - n : BYTES_RUN;
    int64_t got = dmp_consumer_try_peek_bytes_run(c->ring, rec, len, NULL, want);
    if (got < 0) {
      if (got == -EAGAIN || n > 0)
        break; /* a corrupt header stays where it is: the next call meets it first */
      if (got == -DMP_E_CORRUPT)
        return bytes_corrupt(c);
      return (int)got;
    }
    for (size_t k = 0; k < (size_t)got; k++) {
      struct myelon_frame_header h;
      uint32_t total;
      if (myelon_impl_bytes_frame(rec[k], len[k], &h, &total) < 0 || h.len > limit)
        return bytes_recv_each(c, msgs, n + k + 1); /* the messages before it, then it */
      msgs[n + k] = (struct myelon_msg){.data = (const uint8_t *)rec[k] + MYELON_FRAME_ALIGNED_HEADER,
                                        .len = h.len,
                                        .kind = h.kind,
                                        .msg_id = h.msg_id,
                                        .zero_copy = true};
    }
    n += (size_t)got;
    if ((size_t)got < want)
      break; /* all that is published (or a bad header next) */
  }
  if (n == 0)
    return -EAGAIN;
  c->leased = true;
  return (int)n;
}

static inline int try_recv(struct myelon_consumer *c, struct myelon_msg *m)
{
  if (c->bytes) {
    int rc = bytes_recv(c, m, 1);
    return rc < 0 ? rc : 0;
  }
  release_lease(c);
  if (!c->pending && !c->reasm.active) {
    const void *slot;
    int64_t seq;
    if (dmp_consumer_try_peek(c->ring, &slot, &seq) < 0)
      return -EAGAIN;
    if (single_msg(c, slot, m)) {
      c->leased = true; /* the slot stays peeked until release */
      return 0;
    }
    c->pending = slot; /* peeked: recv_general takes it from there */
  }
  return recv_general(c, m);
}

/* Up to `max` messages: whole frames from the fast path's test, zero-copy,
 * all leased together (their slots go back with one release store, at the
 * next receive or release). A frame the test does not accept ends the
 * batch and stays peeked as `pending`, so the next call parses it (an
 * error is never mixed with messages); only a batch that meets such a
 * frame first, or a message in progress, goes the general way, for one
 * message. */
static inline int try_recv_batch(struct myelon_consumer *c, struct myelon_msg *msgs, size_t max)
{
  if (c->bytes)
    return bytes_recv(c, msgs, max);
  release_lease(c);
  size_t n = 0;
  if (!c->pending && !c->reasm.active) {
    for (; n < max; n++) {
      const void *slot;
      int64_t seq;
      if (dmp_consumer_try_peek(c->ring, &slot, &seq) < 0)
        break;
      if (!single_msg(c, slot, &msgs[n])) {
        c->pending = slot; /* peeked: the next call (or the general way below) takes it */
        break;
      }
    }
    if (n > 0) {
      /* Leased until release: with a pending frame, release_lease()
       * leaves the slots to the general way's release after it. */
      c->leased = true;
      return (int)n;
    }
    if (!c->pending)
      return -EAGAIN;
  }
  int rc = recv_general(c, msgs);
  return rc < 0 ? rc : 1;
}

int myelon_consumer_try_recv(struct myelon_consumer *c, struct myelon_msg *m)
{
  if (!c || !m)
    return -EINVAL;
  return try_recv(c, m);
}

/* One receive attempt: a single message (0) or a batch (its count). */
static inline int try_some(struct myelon_consumer *c, struct myelon_msg *m, size_t max)
{
  return max == 0 ? try_recv(c, m) : try_recv_batch(c, m, max);
}

/* myelon_consumer_recv() (`max` 0) and myelon_consumer_recv_batch(): a
 * first attempt, then waits and attempts until something complete comes.
 * One function, one frame: the attempt after a wait (the usual way a
 * message is met by a consumer that keeps up) pays no second call. */
static inline __attribute__((always_inline)) int recv_wait(struct myelon_consumer *c, struct myelon_msg *m, size_t max,
                                                          int64_t timeout_ns)
{
  int rc = try_some(c, m, max);
  if (rc != -EAGAIN)
    return rc;
  /* Nothing complete yet: only now does a deadline need a start. */
  int64_t t0 = timeout_ns >= 0 ? myelon_impl_now_ns() : 0;
  for (int64_t left = timeout_ns < 0 ? DMP_FOREVER : timeout_ns;;) {
    int64_t n = dmp_consumer_wait(c->ring, left);
    if (n == -DMP_E_OWNERDEAD && c->reasm.active) {
      dmp_error_set("myelon_consumer_recv", "producer died in the middle of message %u (%zu of %llu bytes)",
                    c->reasm.msg_id, c->reasm.len, (unsigned long long)c->reasm.total);
      myelon_reasm_reset(&c->reasm);
      c->errors++;
    }
    if (n < 0)
      return (int)n;
    if ((rc = try_some(c, m, max)) != -EAGAIN)
      return rc;
    if (timeout_ns >= 0) { /* part of a message came: wait for the rest */
      int64_t spent = myelon_impl_now_ns() - t0;
      /* A message longer than the ring keeps its frames coming, so each
       * wait returns at once: without this check the call would last until
       * the whole message arrived, whatever its timeout. The reassembly
       * keeps its place; the next call goes on with the same message. */
      if (spent >= timeout_ns) {
        dmp_error_set("myelon_consumer_recv", "message %u incomplete after the timeout (%zu of %llu bytes so far; "
                      "the next receive goes on with it)", c->reasm.msg_id, c->reasm.len,
                      (unsigned long long)c->reasm.total);
        return -ETIMEDOUT;
      }
      left = timeout_ns - spent;
    }
  }
}

int myelon_consumer_recv(struct myelon_consumer *c, struct myelon_msg *m, int64_t timeout_ns)
{
  if (!c || !m)
    return -EINVAL;
  return recv_wait(c, m, 0, timeout_ns);
}

int myelon_impl_consumer_recv(struct myelon_consumer *c, struct myelon_msg *m, bool wait, int64_t timeout_ns)
{
  return wait ? recv_wait(c, m, 0, timeout_ns) : try_recv(c, m);
}

void myelon_impl_consumer_release(struct myelon_consumer *c)
{
  release_lease(c);
}

int myelon_consumer_recv_batch(struct myelon_consumer *c, struct myelon_msg *msgs, size_t max, int64_t timeout_ns)
{
  if (!c || !msgs || max == 0)
    return dmp_error_set(__func__, "c or msgs is NULL, or max is 0"), -EINVAL;
  if (max > INT_MAX)
    max = INT_MAX; /* the count is returned as an int */
  if (timeout_ns == 0)
    return try_recv_batch(c, msgs, max);
  return recv_wait(c, msgs, max, timeout_ns);
}

int myelon_consumer_recv_copy(struct myelon_consumer *c, void **data, size_t *len, uint8_t *kind,
                              int64_t timeout_ns)
{
  if (!c || !data || !len)
    return -EINVAL;
  struct myelon_msg m;
  int rc = myelon_consumer_recv(c, &m, timeout_ns);
  if (rc < 0)
    return rc;
  void *copy = malloc(m.len ? m.len : 1);
  if (!copy) {
    myelon_consumer_release(c);
    return -ENOMEM;
  }
  dmp_bytes_copy(copy, m.data, m.len);
  *data = copy;
  *len = m.len;
  if (kind)
    *kind = m.kind;
  myelon_consumer_release(c);
  return 0;
}

/* The binding entry point (Python's fast path): waiting, copying and
 * releasing in one call means one foreign-function crossing per message
 * instead of three (recv, read, release), and the slot goes back to the
 * producer before the call returns. A message longer than `cap` stays
 * leased, so the caller can still read it through m->data. */
int myelon_consumer_recv_into(struct myelon_consumer *c, void *buf, size_t cap, struct myelon_msg *m,
                              int64_t timeout_ns)
{
  if (!c || !m || (!buf && cap))
    return -EINVAL;
  /* 0: no wait at all (and no clock read), so that a binding can make
   * this call without giving up its interpreter lock. */
  int rc = timeout_ns == 0 ? try_recv(c, m) : myelon_consumer_recv(c, m, timeout_ns);
  if (rc < 0)
    return rc;
  if (m->len > cap)
    return 1;
  if (m->len) /* the byte ring's copy rule (dmp_bytes_copy(), bytes.h) */
    dmp_bytes_copy(buf, m->data, m->len);
  m->data = buf;
  release_lease(c);
  return 0;
}

int64_t myelon_consumer_process(struct myelon_consumer *c, myelon_msg_fn fn, size_t max, void *user)
{
  if (!c || !fn)
    return -EINVAL;
  int64_t n = 0;
  while (max == 0 || (size_t)n < max) {
    struct myelon_msg m;
    int rc = myelon_consumer_try_recv(c, &m);
    if (rc == -EAGAIN)
      break;
    if (rc < 0)
      continue; /* counted in errors; the stream goes on */
    n++;
    int stop = fn(&m, user);
    myelon_consumer_release(c);
    if (stop)
      break;
  }
  return n;
}

uint64_t myelon_consumer_errors(const struct myelon_consumer *c)
{
  return c ? c->errors : 0;
}

uint64_t myelon_consumer_orphans(const struct myelon_consumer *c)
{
  return c ? c->reasm.orphans : 0;
}
