/* libmyelon_bridge: the egress's hold mode (bridge.h, "Egress crashes").
 * With a state file the egress reads A's frames (a raw ring's slots) at
 * Layer 0 ahead of what it releases (its own reassembly) and releases with
 * dmp_consumer_release_to() only up to the oldest message B has not
 * acknowledged, recording first in the state file where the release ends
 * and which link sequence comes next; a restarted egress steps over what
 * was acknowledged and reads the rest again under the old numbers. */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <disruptor_mp/bytes.h>
#include <myelon/error.h>

static uint64_t egress_rec_check(const struct egress_rec *r)
{
  return (r->magic ^ r->epoch ^ (uint64_t)r->pos ^ r->next_seq) * 0x9e3779b97f4a7c15ULL + 3;
}

/* Hold mode: release A's ring up to the first frame of the oldest message
 * B has not acknowledged (held, or being read), recording first where the
 * link's numbering stands there. A message longer than the ring cannot
 * be held whole (its last frames need the room its first ones take): its
 * frames are released as they are read, when it is the oldest. */
void egress_release_held(struct myelon_bridge *b)
{
  if (!b->hold || b->l0 == NULL)
    return;
  int64_t low = dmp_consumer_next(b->l0), released = dmp_consumer_sequence(b->l0);
  uint64_t seq = b->st.next_seq;
  uint32_t i = 0;
  /* Messages whose first frame is released already (longer than the ring)
   * are not held by the ring: the release goes past them. */
  while (i < b->hcount && held_at(b, i)->first <= released)
    i++;
  if (i < b->hcount) {
    low = held_at(b, i)->first;
    seq = held_at(b, i)->seq;
  } else if (b->ra.active && !b->cur_oversize) {
    low = b->cur_first;
  }
  if (low - 1 <= released)
    return;
  struct egress_rec r = {EGRESS_MAGIC, b->epoch, low - 1, seq, 0};
  r.check = egress_rec_check(&r);
  /* No fsync, as for the ingress's file: this guards against the process
   * dying (kill -9), whose page-cache write survives it. A failed write
   * keeps the slots (the producer waits; the next ack tries again). */
  if (pwrite(b->state_fd, &r, sizeof r, 0) != (ssize_t)sizeof r) {
    bridge_log(b, "state file %s: %s; A's ring is not released", b->state_path, strerror(errno));
    return;
  }
  dmp_consumer_release_to(b->l0, low - 1);
}

/* Hold mode, at each attach (the first, a resume, A's next producer),
 * before any frame is read: record where the ring's durable cursor stands
 * and the link sequence its next message takes. Without it, an egress
 * that died before its first release (no acknowledgement processed yet:
 * starved, or B slow to acknowledge) left an empty file (or one of the
 * ring's previous epoch) while its durable entry still held every frame
 * it had sent; its successor, starting fresh, took the ingress's next
 * sequence for the first frame after that cursor and so numbered anew
 * messages B had applied: B applied them twice (kill sweep seed 4,
 * dup=3). 0, or -EIO (the egress must not run without the record). */
int egress_state_mark(struct myelon_bridge *b)
{
  int64_t pos = dmp_consumer_sequence(b->l0);
  /* A resume whose step over the acknowledged frames stopped short (it
   * cannot, they were published): those frames are still acknowledged. */
  if (b->rec.magic == EGRESS_MAGIC && b->rec.epoch == b->epoch && b->rec.pos > pos)
    pos = b->rec.pos;
  struct egress_rec r = {EGRESS_MAGIC, b->epoch, pos, b->st.next_seq, 0};
  r.check = egress_rec_check(&r);
  if (pwrite(b->state_fd, &r, sizeof r, 0) != (ssize_t)sizeof r)
    return bridge_fail(b, -EIO, "state file %s: %s", b->state_path, strerror(errno));
  return 0;
}

/* Hold mode, after a restart: the frames between the durable cursor and
 * the recorded release point belong to messages B acknowledged (the
 * record is written before the release): step over them. */
void egress_skip_acked(struct myelon_bridge *b)
{
  int64_t skipped = 0;
  while (dmp_consumer_next(b->l0) <= b->rec.pos) {
    const void *slot;
    size_t len;
    int64_t seq;
    /* A byte ring: record by record (the point is a record's end: a
     * release point is always the block before a message's first). */
    if ((b->bytes ? dmp_consumer_try_peek_bytes(b->l0, &slot, &len, &seq) : dmp_consumer_try_peek(b->l0, &slot, &seq)) !=
        0)
      break; /* cannot be: those frames were published */
    if (seq > b->rec.pos)
      break; /* a multi-producer ring: the peek stepped over tombstones up to the point and past it */
    skipped++;
  }
  /* Release up to the point, and give back a slot past it that such a
   * peek returned: it was not acknowledged. */
  int64_t end = dmp_consumer_next(b->l0) - 1 < b->rec.pos ? dmp_consumer_next(b->l0) - 1 : b->rec.pos;
  if (end > dmp_consumer_sequence(b->l0))
    dmp_consumer_release_to(b->l0, end);
  dmp_consumer_unpeek(b->l0);
  bridge_log(b, "resuming ring %s after frame %" PRId64 " (message %" PRIu64 " next; %" PRId64
             " acknowledged frames stepped over)", b->ring, b->rec.pos, b->rec.next_seq, skipped);
}

/* A message lost on A for every reader (truncated, malformed, too big). */
static void egress_lost_on_a(struct myelon_bridge *b)
{
  b->st.errors++;
  myelon_reasm_reset(&b->ra);
}

/* Hold mode: one frame into the reassembly (a raw ring's slot is a
 * message of its own). 1: a message was taken into the window, 0: more
 * frames needed (or the frame was dropped). */
static int egress_hold_frame(struct myelon_bridge *b, const void *slot, int64_t seq)
{
  if (b->raw)
    return egress_window_add(b, slot, b->slot_size, 0, seq);
  struct myelon_frame_view f;
  if (myelon_frame_parse(b->fmt, b->fc, slot, &f) < 0) {
    if (b->ra.active)
      b->st.errors++; /* the message in progress is lost too */
    egress_lost_on_a(b);
    return 0;
  }
  if ((f.flags & MYELON_FLAG_SINGLE) == MYELON_FLAG_SINGLE && !b->ra.active) {
    if (f.len > b->max_message) {
      egress_lost_on_a(b);
      return 0;
    }
    return egress_window_add(b, f.data, f.len, f.kind, seq);
  }
  bool was_active = b->ra.active, consumed;
  int rc = myelon_reasm_feed(&b->ra, &f, &consumed);
  if (!consumed) { /* a START cut the message in progress short: that one is lost; this one starts */
    b->st.errors++;
    was_active = false;
    rc = myelon_reasm_feed(&b->ra, &f, &consumed);
  }
  if (rc < 0) {
    egress_lost_on_a(b);
    return 0;
  }
  if (!was_active && b->ra.active) {
    b->cur_first = seq;
    b->cur_oversize = myelon_frame_count(b->fmt, b->fc, b->ra.total) > b->cap;
    if (b->cur_oversize && !b->oversize_logged) {
      b->oversize_logged = true;
      bridge_log(b, "a message of %" PRIu64 " bytes is longer than ring %s (%" PRIu64 " frames): it cannot be held "
                 "until acknowledged, so a crash of this egress before B acknowledges such a message loses it "
                 "(logged once)", b->ra.total, b->ring, b->cap);
    }
  }
  if (rc == 0)
    return 0;
  return egress_window_add(b, b->ra.buf, b->ra.len, b->ra.kind, was_active ? b->cur_first : seq);
}

/* Hold mode, a byte ring: one record is one message (framed: a SINGLE
 * frame in it, frame.h), never longer than half the ring, so always held
 * whole until acknowledged. 1: taken into the window, 0: none (or dropped:
 * lost on A for every reader). */
static int egress_hold_record(struct myelon_bridge *b, const void *rec, size_t len, int64_t seq)
{
  if (b->raw)
    return egress_window_add(b, rec, len, 0, seq);
  struct myelon_frame_view f;
  if (len < MYELON_FRAME_ALIGNED_HEADER ||
      myelon_frame_parse(MYELON_FRAME_BYTES, (uint32_t)(len - MYELON_FRAME_ALIGNED_HEADER), rec, &f) < 0 ||
      f.len > b->max_message) {
    b->st.errors++;
    return 0;
  }
  return egress_window_add(b, f.data, f.len, f.kind, seq);
}

/* Hold mode's egress_take() on a byte ring: records peeked stay gated
 * until egress_release_held(). */
static int egress_take_hold_bytes(struct myelon_bridge *b, int64_t timeout_ns)
{
  bool waited = false;
  int taken = 0;
  for (uint64_t budget = b->cap; budget > 0 && taken == 0; budget--) {
    const void *rec;
    size_t len;
    int64_t seq;
    int rc = dmp_consumer_try_peek_bytes(b->l0, &rec, &len, &seq);
    if (rc == -EAGAIN && !waited && timeout_ns >= 0) {
      waited = true;
      int w = egress_await_ring(b, timeout_ns);
      if (w < 0)
        return w;
      if (w == 0)
        break;
      budget++;
      continue;
    }
    if (rc == -EAGAIN)
      break;
    if (rc == -DMP_E_CORRUPT) {
      egress_corrupt_record(b);
      continue;
    }
    if (rc < 0)
      return bridge_fail(b, rc, "reading ring %s: %s", b->ring, myelon_strerror(-rc));
    taken = egress_hold_record(b, rec, len, seq);
    if (taken < 0)
      return taken;
  }
  /* Records of dropped messages go back now. */
  egress_release_held(b);
  return taken;
}

/* Hold mode's egress_take(): frames peeked at Layer 0 stay gated until
 * egress_release_held(). */
int egress_take_hold(struct myelon_bridge *b, int64_t timeout_ns)
{
  if (b->bytes)
    return egress_take_hold_bytes(b, timeout_ns);
  bool waited = false;
  int taken = 0;
  /* At most a ring of frames a call, as myelon_consumer_try_recv(). */
  for (uint64_t budget = b->cap; budget > 0 && taken == 0; budget--) {
    const void *slot;
    int64_t seq;
    int rc = dmp_consumer_try_peek(b->l0, &slot, &seq);
    if (rc == -EAGAIN && !waited && timeout_ns >= 0) {
      waited = true;
      int w = egress_await_ring(b, timeout_ns);
      if (w < 0)
        return w;
      if (w == 0) {
        if (b->ra.active)
          egress_lost_on_a(b); /* cut short by the producer's death, for every reader */
        break;
      }
      budget++;
      continue;
    }
    if (rc == -EAGAIN)
      break;
    if (rc < 0)
      return bridge_fail(b, rc, "reading ring %s: %s", b->ring, myelon_strerror(-rc));
    taken = egress_hold_frame(b, slot, seq);
    if (taken < 0)
      return taken;
  }
  /* Frames of dropped messages, and of one longer than the ring, go back now. */
  egress_release_held(b);
  return taken;
}

/* Hold mode: open (or create) the egress's state file and read where a
 * previous egress left A's ring. A record of another ring (A's producer
 * restarted meanwhile) only says nothing is to be skipped. */
int egress_state_open(struct myelon_bridge *b, const char *path)
{
  b->state_path = strdup(path);
  if (b->state_path == NULL)
    return -ENOMEM;
  b->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (b->state_fd < 0)
    return bridge_fail(b, -errno, "state file %s: %s", path, strerror(errno));
  int rc = myelon_reasm_init(&b->ra, b->max_message);
  if (rc < 0)
    return bridge_fail(b, rc, "reassembly buffer: %s", strerror(-rc));
  b->hold = true;
  struct egress_rec r;
  ssize_t n = pread(b->state_fd, &r, sizeof r, 0);
  if (n == 0)
    return 0; /* a new state file: the ring's own durable position is all there is */
  if (n != (ssize_t)sizeof r || r.magic != EGRESS_MAGIC || r.check != egress_rec_check(&r))
    return bridge_fail(b, -EINVAL, "state file %s is not a myelon-bridge egress state file (or is damaged); remove it to "
                       "start over (messages B applied but did not acknowledge may then be applied twice)", path);
  b->rec = r;
  if (r.epoch == b->epoch) {
    b->resume = true;
    b->seq_known = true;
    b->st.next_seq = r.next_seq;
  }
  return 0;
}
