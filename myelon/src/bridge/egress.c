/* libmyelon_bridge: the egress (bridge.h): attaches to A's ring as a
 * durable consumer once the ingress accepted its HELLO, copies messages
 * into its credit window, sends them and drops them as B acknowledges
 * them; follows A's producer restarts. Its hold mode (a state file: A's
 * slots held until acknowledged) is egress_hold.c. */
#include "link.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <disruptor_mp/bytes.h>
#include <disruptor_mp/inspect.h>
#include <myelon/error.h>

static_assert(MYELON_BRIDGE_MIN_BLOCK == DMP_BYTES_MIN_BLOCK, "bridge.h states libdisruptor_mp's smallest block");
static_assert(MYELON_BRIDGE_MAX_BLOCK == DMP_MAX_SLOT_ALIGN, "bridge.h states libdisruptor_mp's largest block");

void held_free_head(struct myelon_bridge *b)
{
  struct held *h = &b->held[b->hhead];
  b->hbytes -= h->len;
  free(h->buf);
  h->buf = NULL;
  b->hhead = (b->hhead + 1) % b->window;
  b->hcount--;
  if (b->hsent > 0)
    b->hsent--;
}

/* Everything below `next` is applied on B: drop those copies. */
static void egress_acked(struct myelon_bridge *b, uint64_t next, int64_t now)
{
  bool progress = false;
  while (b->hcount > 0 && b->held[b->hhead].seq < next) {
    struct held *h = &b->held[b->hhead];
    if (h->sent_ns != 0)
      b->st.rtt_ns = (uint64_t)(now - h->sent_ns);
    b->st.messages++;
    b->st.bytes += h->len;
    held_free_head(b);
    progress = true;
  }
  if (progress) {
    b->last_progress_ns = now;
    b->ack_asked = false;
    egress_release_held(b);
  }
}

static int egress_send_hello(struct myelon_bridge *b)
{
  uint8_t m[MYELON_BRIDGE_HELLO_SIZE];
  struct myelon_bridge_wire w = {
    .format = (uint32_t)b->fmt, .frame_capacity = b->fc, .ring_capacity = b->cap,
    .max_message = b->max_message, .type_tag = b->tag, .epoch = b->epoch, .window = b->window,
  };
  if (b->bytes) {
    /* A byte ring's shape: framed or raw, its block, bytes and largest record. */
    w.format = b->raw ? MYELON_BRIDGE_FORMAT_RAW_BYTES : (uint32_t)MYELON_FRAME_BYTES;
    w.frame_capacity = b->block;
    w.ring_capacity = b->ring_bytes;
  } else if (b->raw) {
    w.format = MYELON_BRIDGE_FORMAT_RAW;
    w.frame_capacity = b->slot_size;
    w.slot_align = b->slot_align;
    w.max_message = b->slot_size;
  }
  size_t n = bridge_encode_hello(m, &w);
  int rc = bridge_send_to(b, NULL, 0, m, n);
  return rc == -EAGAIN ? 0 : rc; /* not connected yet: the next retry sends it */
}

/* The ring's geometry, read as an inspector reads it (no consumer entry):
 * the HELLO needs it, and a link the ingress refuses must leave nothing
 * on A's ring (a durable entry would gate the producer for good). The
 * frame format and capacity are those whose type tag the ring carries; a
 * ring whose tag names none is a raw ring (bridge.h, "Framed and raw
 * rings"). */
static int egress_probe(struct myelon_bridge *b, int64_t timeout_ns)
{
  int64_t deadline = bridge_now_ns() + (timeout_ns > 0 ? timeout_ns : 0);
  for (;;) {
    struct dmp_inspect *in = NULL;
    const struct dmp_ring_stat *st = NULL;
    int rc = dmp_inspect_open(DMP_BACKEND_SHM, b->ring, &in);
    if (rc == 0)
      rc = dmp_inspect_sample(in, &st);
    /* Following a producer restart: the ring of the producer that ended
     * may still be there (a crashed producer leaves its segment); only a
     * live producer of another epoch is the next one. */
    if (rc == 0 && st->producer_alive && !(b->skip_old && st->epoch == b->old_epoch)) {
      b->cap = st->capacity;
      b->tag = st->type_tag;
      b->epoch = st->epoch;
      b->slot_size = st->slot_size;
      b->slot_align = st->slot_align;
      b->max_message = b->max_cfg;
      b->bytes = (st->flags & DMP_SEG_F_BYTES) != 0;
      if (b->bytes) {
        /* A byte ring (bytes.h): its slots are blocks of variable-length
         * records, carried record by record. Framed when its tag says so;
         * its largest record is half the ring less the record header
         * (framed: and the frame header), as Layer 0 computes it. */
        b->block = st->slot_size;
        b->ring_bytes = st->capacity * st->slot_size;
        b->raw = st->type_tag != myelon_frame_tag(MYELON_FRAME_BYTES, 0);
        b->fmt = MYELON_FRAME_BYTES;
        b->fc = 0;
        uint64_t largest = b->ring_bytes / 2 - DMP_BYTES_HEADER; /* >= 0: the ring has two blocks of >= 16 */
        if (largest > DMP_BYTES_MAX_RECORD)
          largest = DMP_BYTES_MAX_RECORD;
        /* A framed record also holds its frame header (a framed byte ring
         * is never smaller: myelon_producer_create() refuses it). */
        uint64_t framed = largest > MYELON_FRAME_ALIGNED_HEADER ? largest - MYELON_FRAME_ALIGNED_HEADER : 0;
        if (b->raw)
          b->max_message = (size_t)largest;
        else if (b->max_message > framed)
          b->max_message = (size_t)framed;
        dmp_inspect_close(in);
        return 0;
      }
      bool found = false;
      for (int f = 0; f < 2 && !found; f++) {
        enum myelon_frame_format fmt = f == 0 ? MYELON_FRAME_COMPACT : MYELON_FRAME_ALIGNED;
        uint32_t hdr = myelon_frame_header_size(fmt);
        for (uint32_t k = 0; k < 16 && !found && st->slot_size >= hdr + k; k++) {
          uint32_t fc = st->slot_size - hdr - k, ss, sa;
          if (myelon_frame_slot(fmt, fc, &ss, &sa) == 0 && ss == st->slot_size &&
              myelon_frame_tag(fmt, fc) == st->type_tag) {
            b->fmt = fmt;
            b->fc = fc;
            found = true;
          }
        }
      }
      b->raw = !found;
      dmp_inspect_close(in);
      return 0;
    }
    dmp_inspect_close(in);
    if (bridge_now_ns() >= deadline)
      return bridge_fail(b, rc < 0 ? rc : -DMP_E_OWNERDEAD, "ring %s: %s", b->ring,
                         rc < 0 ? dmp_last_error() : "its producer is not running");
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
}

/* A raw ring: attach at Layer 0, with the geometry the handshake named
 * as expectations. */
static int egress_attach_raw(struct myelon_bridge *b)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = b->ring;
  cc.id = b->id;
  cc.flags = DMP_CONSUMER_DURABLE;
  cc.start = DMP_START_OLDEST;
  cc.slot_size = b->slot_size;
  cc.slot_align = b->slot_align;
  cc.type_tag = b->tag;
  int rc = dmp_consumer_attach(&cc, &b->raw_cons);
  if (rc < 0)
    return bridge_fail(b, rc, "attach to ring %s as %s: %s (%s)", b->ring, b->id, myelon_strerror(-rc),
                       dmp_last_error());
  b->l0 = b->raw_cons;
  if (dmp_consumer_epoch(b->l0) != b->epoch || dmp_consumer_capacity(b->l0) != b->cap)
    return bridge_fail(b, -DMP_E_OWNERDEAD, "ring %s was created anew between the handshake and the attach",
                       b->ring);
  if (b->hold && b->resume && b->rec.epoch == b->epoch)
    egress_skip_acked(b);
  b->resume = false;
  return b->hold ? egress_state_mark(b) : 0;
}

/* Attach as the durable consumer once the ingress accepted the link. */
static int egress_attach(struct myelon_bridge *b)
{
  if (b->raw)
    return egress_attach_raw(b); /* a raw byte ring too: its slots are its blocks */
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = b->ring;
  cc.ring.id = b->id;
  cc.ring.flags = DMP_CONSUMER_DURABLE;
  cc.ring.start = DMP_START_OLDEST;
  cc.format = b->fmt;
  cc.frame_capacity = b->fc;
  cc.max_message = b->max_message;
  int rc = myelon_consumer_attach(&cc, &b->cons);
  if (rc < 0)
    return bridge_fail(b, rc, "attach to ring %s as %s: %s (%s)", b->ring, b->id, myelon_strerror(-rc), dmp_last_error());
  struct dmp_consumer *c = myelon_consumer_ring(b->cons);
  if (dmp_consumer_epoch(c) != b->epoch || dmp_consumer_capacity(c) != b->cap)
    return bridge_fail(b, -DMP_E_OWNERDEAD, "ring %s was created anew between the handshake and the attach", b->ring);
  if (b->hold) {
    b->l0 = c;
    myelon_reasm_reset(&b->ra);
    if (b->resume && b->rec.epoch == b->epoch)
      egress_skip_acked(b);
    b->resume = false;
    return egress_state_mark(b);
  }
  return 0;
}

static int egress_welcome(struct myelon_bridge *b, uint64_t next, int64_t now)
{
  if (b->hs != HS_HELLO)
    return 0; /* a late duplicate of the one we acted on */
  if (next != MYELON_BRIDGE_NEXT_ANY) {
    egress_acked(b, next, now);
    uint64_t have = b->hcount > 0 ? b->held[b->hhead].seq : b->st.next_seq;
    if (b->resume && b->hcount == 0 && next < have) {
      /* Restarted from the state file, and B never applied messages the
       * crashed egress had numbered: longer than A's ring, their frames
       * were released before B acknowledged them (bridge.h). They are
       * lost; number on from what B expects. */
      bridge_log(b, "messages %" PRIu64 " .. %" PRIu64 " were lost in the crash of the previous egress (longer than "
                 "ring %s, they could not be held until acknowledged)", next, have - 1, b->ring);
      b->st.errors += have - next;
      b->st.next_seq = have = next;
    }
    if (b->seq_known && next < have)
      return bridge_fail(b, -EPROTO,
                         "the ingress expects message %" PRIu64 " but this egress already dropped it as acknowledged "
                         "(its state file was lost or rolled back): cannot resume without loss", next);
    /* A fresh egress continues the ingress's numbering. One that resumed
     * from its state file keeps its own: B may have applied messages
     * whose acknowledgement it never saw, which it reads again from A's
     * ring under their old numbers, and the ingress drops as duplicates. */
    if (b->hcount == 0 && (!b->seq_known || (b->st.next_seq < next && !b->hold)))
      b->st.next_seq = next;
  }
  if (b->cons == NULL && b->raw_cons == NULL) {
    int rc = egress_attach(b);
    if (rc < 0)
      return rc;
  }
  b->seq_known = true;
  b->hello_since_ns = 0;
  b->ack_asked = false;
  b->batch_ok = false; /* until this session's FEATURES says otherwise */
  b->hs = HS_RUN;
  b->hsent = 0;
  for (uint32_t i = 0; i < b->hcount; i++)
    held_at(b, i)->sent_ns = 0;
  b->last_progress_ns = now;
  b->st.handshakes++;
  if (b->st.handshakes > 1)
    bridge_log(b, "resumed at message %" PRIu64 " (%u in flight resent)", b->hcount ? b->held[b->hhead].seq : b->st.next_seq,
               b->hcount);
  return 0;
}

static int egress_incoming(struct myelon_bridge *b, int64_t now)
{
  for (int i = 0; i < 1024; i++) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, b->sock, ZMQ_DONTWAIT) < 0) {
      int e = bridge_zmq_err_again();
      zmq_msg_close(&msg);
      return e == EAGAIN ? 0 : bridge_fail(b, -EPROTO, "receive: %s", zmq_strerror(e));
    }
    struct myelon_bridge_wire w;
    int rc = myelon_bridge_wire_parse(zmq_msg_data(&msg), zmq_msg_size(&msg), &w);
    bool more = zmq_msg_more(&msg);
    if (rc == 0 && !more) {
      switch (w.type) {
      case MYELON_BRIDGE_WELCOME:
        rc = egress_welcome(b, w.seq, now);
        break;
      case MYELON_BRIDGE_ACK:
        /* Never past what we numbered: an ACK of messages not sent yet
         * (an ingress's NEXT_ANY) would drop what B never applied. */
        if (b->hs == HS_RUN && w.seq <= b->st.next_seq)
          egress_acked(b, w.seq, now);
        break;
      case MYELON_BRIDGE_FEATURES:
        if (b->hs == HS_RUN)
          b->batch_ok = (w.seq & MYELON_BRIDGE_FEATURE_BATCH) != 0;
        break;
      case MYELON_BRIDGE_RESYNC:
        if (b->hs == HS_RUN) {
          b->hs = HS_HELLO;
          b->next_hello_ns = now;
        }
        break;
      case MYELON_BRIDGE_REFUSE:
        b->st.refused++;
        rc = bridge_fail(b, -ECONNREFUSED, "the ingress refused the link: %.*s", (int)w.reason_len, w.reason);
        bridge_log(b, "%s", b->err);
        break;
      default:
        rc = 0; /* HELLO or DATA from the ingress: not ours to act on */
        break;
      }
    } else {
      rc = 0; /* not a bridge message: ignore (the ingress is the only peer we connect to) */
    }
    zmq_msg_close(&msg);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static int egress_monitor(struct myelon_bridge *b, int64_t now)
{
  for (;;) {
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    if (zmq_msg_recv(&ev, b->mon, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&ev);
      return 0;
    }
    uint16_t event = 0;
    uint32_t value = 0;
    if (zmq_msg_size(&ev) >= 6) {
      memcpy(&event, zmq_msg_data(&ev), 2);
      memcpy(&value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
    }
    bool more = zmq_msg_more(&ev);
    zmq_msg_close(&ev);
    if (more) {
      zmq_msg_init(&addr);
      zmq_msg_recv(&addr, b->mon, ZMQ_DONTWAIT);
      zmq_msg_close(&addr);
    }
    switch (event) {
    case ZMQ_EVENT_DISCONNECTED:
      if (b->hs == HS_WAIT_RING)
        break; /* no session to resume until A's next producer */
      if (b->hs == HS_RUN)
        bridge_log(b, "disconnected from %s; reconnecting", b->endpoint);
      b->hs = HS_HELLO;
      b->next_hello_ns = now;
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      return bridge_fail(b, -EACCES, "the ingress at %s refused our CURVE key (ZAP status %u): wrong --key, or not the "
                         "key the ingress was given as --peer-key", b->endpoint, value);
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      /* The ingress only closes the connection: from here we cannot tell
       * why, so name the causes rather than assert one. */
      if (b->curve)
        return bridge_fail(b, -EACCES, "CURVE handshake with %s failed (%s %u): the ingress closed it; possible "
                           "causes: --peer-key is not the ingress's public key, the ingress is not using CURVE "
                           "(--insecure there), or the ingress refused the handshake for another reason (see its log)",
                           b->endpoint, event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error" : "errno",
                           value);
      break;
    default:
      break;
    }
  }
}

/* Copy a message into the window, numbered next. 1, or -ENOMEM. `first`:
 * hold mode, the Layer 0 sequence of its first frame on A's ring. */
int egress_window_add(struct myelon_bridge *b, const void *data, size_t len, uint8_t kind, int64_t first)
{
  uint8_t *buf = malloc(MYELON_BRIDGE_DATA_HEADER + (len ? len : 1));
  if (buf == NULL)
    return bridge_fail(b, -ENOMEM, "out of memory copying a %zu-byte message", len);
  bridge_encode_data_header(buf, b->st.next_seq, kind);
  if (len)
    memcpy(buf + MYELON_BRIDGE_DATA_HEADER, data, len);
  struct held *h = held_at(b, b->hcount);
  h->buf = buf;
  h->len = len;
  h->seq = b->st.next_seq++;
  h->sent_ns = 0;
  h->first = first;
  b->hcount++;
  b->hbytes += len;
  return 1;
}

/* A's producer is gone (its ring reported -DMP_E_OWNERDEAD, read to the
 * end): deliver what is in flight, then egress_producer_ended(). */
void egress_producer_gone(struct myelon_bridge *b)
{
  if (!b->producer_gone)
    bridge_log(b, "the producer of %s is gone; delivering the %u messages in flight, then stopping", b->ring,
               b->hcount);
  b->producer_gone = true;
}

/* A's ring had nothing to read (a peek said -EAGAIN): wait up to
 * `timeout_ns` (>= 0) for it, for every take (plain and hold mode, slots
 * and records). 1: peek again (something came, or the wait timed out and
 * the peek finds nothing); 0: A's producer is gone, read to the end
 * (egress_producer_gone() told); < 0: error. */
int egress_await_ring(struct myelon_bridge *b, int64_t timeout_ns)
{
  int64_t n = dmp_consumer_wait(b->l0, timeout_ns);
  if (n == -DMP_E_OWNERDEAD) {
    egress_producer_gone(b);
    return 0;
  }
  if (n < 0 && n != -ETIMEDOUT)
    return bridge_fail(b, (int)n, "reading ring %s: %s", b->ring, myelon_strerror((int)-n));
  return 1;
}

/* A raw ring without hold mode: one slot, released once copied (the
 * window holds it from there, as a framed message). On a multi-producer
 * ring the peek steps over tombstones. */
static int egress_take_raw(struct myelon_bridge *b, int64_t timeout_ns)
{
  const void *slot;
  int64_t seq;
  int rc = dmp_consumer_try_peek(b->l0, &slot, &seq);
  if (rc == -EAGAIN && timeout_ns >= 0) {
    int w = egress_await_ring(b, timeout_ns);
    if (w <= 0)
      return w;
    rc = dmp_consumer_try_peek(b->l0, &slot, &seq);
  }
  if (rc == -EAGAIN)
    return 0;
  if (rc < 0)
    return bridge_fail(b, rc, "reading ring %s: %s", b->ring, myelon_strerror(-rc));
  rc = egress_window_add(b, slot, b->slot_size, 0, seq);
  if (rc > 0)
    dmp_consumer_release(b->l0);
  return rc;
}

/* A record that failed its checks on A's byte ring (-DMP_E_CORRUPT,
 * bytes.h): lost for every reader there; step to the next boundary. In
 * hold mode this releases what the egress held unacknowledged, too (the
 * resync releases every record peeked): a crash before B acknowledges them
 * loses those. */
void egress_corrupt_record(struct myelon_bridge *b)
{
  b->st.errors++;
  int64_t skipped = dmp_consumer_resync_bytes(b->l0);
  bridge_log(b, "ring %s: a damaged record (%s); stepped over %" PRId64 " blocks", b->ring, dmp_last_error(),
             skipped);
}

/* A raw byte ring without hold mode: one record, released once copied. */
static int egress_take_raw_bytes(struct myelon_bridge *b, int64_t timeout_ns)
{
  const void *data;
  size_t len;
  int64_t seq;
  int rc = dmp_consumer_try_peek_bytes(b->l0, &data, &len, &seq);
  if (rc == -EAGAIN && timeout_ns >= 0) {
    int w = egress_await_ring(b, timeout_ns);
    if (w <= 0)
      return w;
    rc = dmp_consumer_try_peek_bytes(b->l0, &data, &len, &seq);
  }
  if (rc == -EAGAIN)
    return 0;
  if (rc == -DMP_E_CORRUPT) {
    egress_corrupt_record(b);
    return 0;
  }
  if (rc < 0)
    return bridge_fail(b, rc, "reading ring %s: %s", b->ring, myelon_strerror(-rc));
  rc = egress_window_add(b, data, len, 0, seq);
  if (rc > 0)
    dmp_consumer_release(b->l0);
  return rc;
}

/* Take one message from the ring into the window (waiting up to
 * `timeout_ns`). Returns 1 if one was taken, 0 if none, < 0 on error. */
static int egress_take(struct myelon_bridge *b, int64_t timeout_ns)
{
  if (b->hold)
    return egress_take_hold(b, timeout_ns);
  if (b->raw && b->bytes)
    return egress_take_raw_bytes(b, timeout_ns);
  if (b->raw)
    return egress_take_raw(b, timeout_ns);
  struct myelon_msg m;
  int rc = myelon_consumer_recv(b->cons, &m, timeout_ns);
  if (rc == -ETIMEDOUT || rc == -EAGAIN)
    return 0;
  if (rc == -DMP_E_OWNERDEAD) {
    egress_producer_gone(b);
    return 0;
  }
  if (rc == -MYELON_E_TRUNCATED || rc == -MYELON_E_MALFORMED || rc == -MYELON_E_TOOBIG) {
    b->st.errors++; /* lost on A for every reader; nothing to forward */
    return 0;
  }
  if (rc < 0)
    return bridge_fail(b, rc, "reading ring %s: %s", b->ring, myelon_strerror(-rc));
  rc = egress_window_add(b, m.data, m.len, m.kind, 0);
  /* Released only now that the copy is ours: from here the window, not the
   * ring, holds the message until B acknowledges it. */
  if (rc > 0)
    myelon_consumer_release(b->cons);
  return rc;
}

static bool egress_room(const struct myelon_bridge *b)
{
  return b->hcount == 0 || (b->hcount < b->window && b->hbytes < b->window_bytes);
}

/* How many of the unsent messages from hsent on go in one BATCH (their
 * records and its header within BATCH_MAX), and its size. */
static uint32_t egress_batch_count(struct myelon_bridge *b, size_t *bytes)
{
  size_t total = MYELON_BRIDGE_BATCH_HEADER;
  uint32_t n = 0;
  while (b->hsent + n < b->hcount) {
    size_t len = held_at(b, b->hsent + n)->len;
    if (len > BATCH_MAX || total + MYELON_BRIDGE_RECORD_HEADER + len > BATCH_MAX)
      break;
    total += MYELON_BRIDGE_RECORD_HEADER + len;
    n++;
  }
  *bytes = total;
  return n;
}

/* Send messages hsent .. hsent + n - 1 as one BATCH of `bytes`: 0, -EAGAIN
 * or -errno. The held copies keep their DATA header (a resend to an
 * ingress without BATCH sends them as they are). */
static int egress_send_batch(struct myelon_bridge *b, uint32_t n, size_t bytes)
{
  zmq_msg_t m;
  if (zmq_msg_init_size(&m, bytes) != 0)
    return -ENOMEM;
  uint8_t *p = zmq_msg_data(&m);
  struct held *first = held_at(b, b->hsent);
  bridge_encode_batch_header(p, first->seq, n);
  size_t off = MYELON_BRIDGE_BATCH_HEADER;
  for (uint32_t i = 0; i < n; i++) {
    struct held *h = held_at(b, b->hsent + i);
    const uint8_t *data = h->buf + MYELON_BRIDGE_DATA_HEADER;
    off += bridge_encode_record(p + off, data, (uint32_t)h->len, h->buf[16] /* DATA's kind */);
  }
  if (zmq_msg_send(&m, b->sock, ZMQ_DONTWAIT) < 0) {
    int e = bridge_zmq_err_again();
    zmq_msg_close(&m);
    return -e;
  }
  b->last_send_ns = bridge_now_ns();
  return 0;
}

static int egress_send_pending(struct myelon_bridge *b, int64_t now)
{
  while (b->hsent < b->hcount) {
    struct held *h = held_at(b, b->hsent);
    size_t bytes = 0;
    uint32_t n = b->batch_ok ? egress_batch_count(b, &bytes) : 0;
    int rc;
    if (n >= 2) {
      rc = egress_send_batch(b, n, bytes);
    } else {
      n = 1;
      rc = bridge_send_to(b, NULL, 0, h->buf, MYELON_BRIDGE_DATA_HEADER + h->len);
    }
    if (rc == -EAGAIN)
      return 0; /* the DEALER blocks (not connected, or its queue is full): back-pressure, retry later */
    if (rc < 0)
      return bridge_fail(b, -EPROTO, "send: %s", zmq_strerror(-rc));
    if (b->hsent == 0 && b->last_progress_ns < now - RESYNC_AFTER_NS)
      b->last_progress_ns = now;
    for (uint32_t i = 0; i < n; i++)
      held_at(b, b->hsent + i)->sent_ns = now;
    b->hsent += n;
  }
  return 0;
}

/* A's producer is gone and B acknowledged all it published: tell the
 * ingress (END: it closes B's ring, so B's readers see the producer gone),
 * then end (MYELON_BRIDGE_ONCE) or wait for the ring's next producer. The
 * END is best effort: if it is lost, the ingress closes B's ring when the
 * link falls silent (timeout_ms), or when our next HELLO names a new epoch. */
static int egress_producer_ended(struct myelon_bridge *b, int64_t now)
{
  if (!b->end_sent && b->hs == HS_RUN) {
    uint8_t m[MYELON_BRIDGE_SEQ_SIZE];
    bridge_encode_seq(m, MYELON_BRIDGE_END, b->epoch);
    (void)bridge_send_to(b, NULL, 0, m, sizeof m);
    b->end_sent = true;
  }
  if (b->once)
    return bridge_fail(b, -DMP_E_OWNERDEAD, "the producer of %s is gone and every message was acknowledged", b->ring);
  /* Our durable entry dies with the old ring; the new ring gets a new one. */
  egress_release_held(b);
  myelon_consumer_close(b->cons);
  dmp_consumer_close(b->raw_cons);
  b->cons = NULL;
  b->raw_cons = NULL;
  b->l0 = NULL;
  b->old_epoch = b->epoch;
  b->skip_old = true;
  b->producer_gone = false;
  b->end_sent = false;
  b->hs = HS_WAIT_RING;
  b->next_probe_ns = now;
  bridge_log(b, "every message of ring %s (epoch %" PRIu64 ") was delivered; waiting for its next producer", b->ring,
             b->old_epoch);
  return 0;
}

static int egress_pass(struct myelon_bridge *b, int64_t ring_wait_ns)
{
  int64_t now = bridge_now_ns();
  int rc = egress_monitor(b, now);
  if (rc == 0)
    rc = egress_incoming(b, now);
  if (rc < 0)
    return rc;
  if (b->hs == HS_WAIT_RING) {
    if (now < b->next_probe_ns)
      return 0;
    b->next_probe_ns = now + PROBE_EVERY_NS;
    rc = egress_probe(b, 0);
    if (rc < 0)
      return 0; /* not there yet */
    bridge_log(b, "ring %s has a new producer (epoch %" PRIu64 "); handshaking", b->ring, b->epoch);
    b->skip_old = false;
    b->hs = HS_HELLO;
    b->next_hello_ns = now;
  }
  if (b->hs == HS_HELLO) {
    if (b->hello_since_ns == 0)
      b->hello_since_ns = now;
    if (b->bytes && !b->old_peer_logged && now - b->hello_since_ns > (int64_t)MYELON_BRIDGE_OLD_PEER_MS * 1000000) {
      /* bridge.h, "Wire compatibility of byte rings". */
      b->old_peer_logged = true;
      bridge_log(b, "no answer to our HELLO for %d ms: if the ingress at %s is up, it may be of an earlier version "
                 "that does not carry byte rings (it drops their HELLO)", MYELON_BRIDGE_OLD_PEER_MS, b->endpoint);
    }
    if (now >= b->next_hello_ns) {
      rc = egress_send_hello(b);
      if (rc < 0)
        return bridge_fail(b, -EPROTO, "send HELLO: %s", zmq_strerror(-rc));
      b->next_hello_ns = now + HELLO_EVERY_NS;
    }
    return 0;
  }
  if ((rc = egress_send_pending(b, now)) < 0)
    return rc;
  /* Take what the ring holds (waiting for the first), sending as we go:
   * each message at once, or with BATCH once a batch's worth was taken
   * (and what is left when the ring is empty). */
  int64_t wait = ring_wait_ns;
  size_t taken = 0;
  while (!b->producer_gone && egress_room(b)) {
    rc = egress_take(b, wait);
    if (rc < 0)
      return rc;
    if (rc == 0)
      break;
    wait = 0;
    taken += MYELON_BRIDGE_RECORD_HEADER + held_at(b, b->hcount - 1)->len;
    if (!b->batch_ok || taken >= BATCH_MAX) {
      taken = 0;
      if ((rc = egress_send_pending(b, bridge_now_ns())) < 0)
        return rc;
    }
  }
  if (taken > 0 && (rc = egress_send_pending(b, bridge_now_ns())) < 0)
    return rc;
  now = bridge_now_ns();
  if (b->hsent > 0 && now - b->last_progress_ns > RESYNC_AFTER_NS) {
    bridge_log(b, "no acknowledgement for %lld ms; handshaking again", (long long)(RESYNC_AFTER_NS / 1000000));
    b->hs = HS_HELLO;
    b->next_hello_ns = now;
  }
  if (b->hs == HS_RUN && now - b->last_send_ns >= (int64_t)b->heartbeat_ms * 1000000) {
    /* Nothing sent for a heartbeat (idle, the window is full, or A's
     * producer is gone and we wait for the last acknowledgements): tell
     * the ingress we are alive, so that its silence timer means a dead
     * link. It counts on that while B's ring is full too (ingress.c,
     * "Listening while the ring is full"): an egress that fell silent once
     * A's producer was gone had B's ring closed under a slow reader. */
    uint8_t m[MYELON_BRIDGE_HEADER];
    bridge_put_header(m, MYELON_BRIDGE_PING);
    rc = bridge_send_to(b, NULL, 0, m, sizeof m);
    if (rc < 0 && rc != -EAGAIN)
      return bridge_fail(b, -EPROTO, "send PING: %s", zmq_strerror(-rc));
  }
  if (b->producer_gone && b->hcount == 0)
    return egress_producer_ended(b, now);
  return 0;
}

/* The window is full: ask the ingress for its (coalesced) ACK now, once
 * per full window, rather than wait for its timer. */
static int egress_ask_ack(struct myelon_bridge *b)
{
  if (b->hs != HS_RUN || b->ack_asked || b->hsent == 0 || egress_room(b))
    return 0;
  uint8_t m[MYELON_BRIDGE_HEADER];
  bridge_put_header(m, MYELON_BRIDGE_PING);
  int rc = bridge_send_to(b, NULL, 0, m, sizeof m);
  if (rc < 0 && rc != -EAGAIN)
    return bridge_fail(b, -EPROTO, "send PING: %s", zmq_strerror(-rc));
  b->ack_asked = rc == 0;
  return 0;
}

/* How long one pass may wait on A's ring while the window has room: until
 * a PING is due, at most RING_WAIT_MAX_NS (acknowledgements, the socket
 * monitor and the ingress's messages are read between waits; with a state
 * file acknowledgements release A's slots, which its producer may be
 * waiting for: RING_WAIT_HOLD_NS there). Every wait that ends empty costs
 * a wake-up (and the ring's spin and yields before it parks again). */
static int64_t egress_ring_wait(const struct myelon_bridge *b)
{
  if (b->hold)
    return RING_WAIT_HOLD_NS;
  int64_t ping = b->last_send_ns + (int64_t)b->heartbeat_ms * 1000000 - bridge_now_ns();
  return ping < RING_WAIT_HOLD_NS ? RING_WAIT_HOLD_NS : ping > RING_WAIT_MAX_NS ? RING_WAIT_MAX_NS : ping;
}

int egress_run(struct myelon_bridge *b, int64_t timeout_ns)
{
  int64_t deadline = bridge_now_ns() + (timeout_ns > 0 ? timeout_ns : 0);
  for (;;) {
    bool ring_wait = b->hs == HS_RUN && !b->producer_gone && egress_room(b);
    int64_t left = deadline - bridge_now_ns(), wait = ring_wait ? egress_ring_wait(b) : 0;
    int rc = egress_pass(b, wait < left ? wait : left > 0 ? left : 0);
    if (rc == 0)
      rc = egress_ask_ack(b);
    if (rc < 0)
      return rc;
    left = deadline - bridge_now_ns();
    if (left <= 0)
      return 0;
    if (!ring_wait) {
      zmq_pollitem_t items[2] = {{b->sock, 0, ZMQ_POLLIN, 0}, {b->mon, 0, ZMQ_POLLIN, 0}};
      long ms = left / 1000000 + 1;
      if (b->hs != HS_RUN)
        ms = ms > 10 ? 10 : ms;
      if (zmq_poll(items, 2, ms > 50 ? 50 : ms) < 0) {
        if (zmq_errno() == EINTR)
          return 0; /* a signal: let the caller look at it */
        return bridge_fail(b, -EPROTO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
      }
    }
  }
}

MYELON_API int myelon_bridge_egress_open(const struct myelon_bridge_config *cfg, struct myelon_bridge **out)
{
  if (out == NULL || cfg == NULL)
    return -EINVAL;
  *out = NULL;
  struct myelon_bridge *b = bridge_new(true);
  if (b == NULL)
    return -ENOMEM;
  int rc = bridge_check_common(b, cfg);
  if (rc == 0 && (cfg->window == 0 || cfg->window > (1u << 20)))
    rc = bridge_fail(b, -EINVAL, "cfg.window must be 1 .. 1048576 messages");
  if (rc == 0 && (cfg->flags & (MYELON_BRIDGE_RAW | MYELON_BRIDGE_BYTES)) != 0)
    rc = bridge_fail(b, -EINVAL, "MYELON_BRIDGE_RAW and MYELON_BRIDGE_BYTES are ingress flags: the egress reads its "
                     "ring's kind from the ring");
  if (rc == 0 && (cfg->slot_size != 0 || cfg->slot_align != 0 || cfg->type_tag != 0 || cfg->ring_bytes != 0 ||
                  cfg->block != 0 || cfg->reserved32 != 0))
    rc = bridge_fail(b, -EINVAL, "cfg.slot_size, slot_align, type_tag, ring_bytes and block are ingress fields: the "
                     "egress reads them from its ring");
  if (rc == 0 && (cfg->max_message == 0 || cfg->max_message > MYELON_MAX_MESSAGE_LIMIT))
    rc = bridge_fail(b, -EINVAL, "cfg.max_message must be 1 .. %u", MYELON_MAX_MESSAGE_LIMIT);
  if (rc == 0 && (b->id = strdup(cfg->consumer_id ? cfg->consumer_id : "bridge")) == NULL)
    rc = -ENOMEM;
  uint8_t sec[32], pub_ours[41];
  char sec_z85[41], peer_z85[41];
  if (rc == 0 && b->curve) {
    rc = bridge_read_key(b, cfg->secret_key_file, true, sec, sec_z85);
    if (rc == 0)
      rc = bridge_read_key(b, cfg->peer_key_file, false, b->peer_pub, peer_z85);
    if (rc == 0 && zmq_curve_public((char *)pub_ours, sec_z85) != 0)
      rc = bridge_fail(b, -EACCES, "secret key file %s: cannot derive its public key", cfg->secret_key_file);
  }
  if (rc == 0) {
    b->window = cfg->window;
    b->once = (cfg->flags & MYELON_BRIDGE_ONCE) != 0;
    b->window_bytes = cfg->window_bytes ? cfg->window_bytes : MYELON_BRIDGE_DEFAULT_WINDOW_BYTES;
    b->max_message = b->max_cfg = cfg->max_message;
    b->held = calloc(b->window, sizeof *b->held);
    if (b->held == NULL)
      rc = -ENOMEM;
  }
  if (rc == 0)
    rc = egress_probe(b, cfg->attach_timeout_ns);
  if (rc == 0 && cfg->state_path != NULL)
    rc = egress_state_open(b, cfg->state_path);
  if (rc == 0)
    rc = bridge_open_socket(b, ZMQ_DEALER);
  if (rc == 0) {
    /* IMMEDIATE: queue nothing for a connection that is not up, so
     * nothing sent before a reconnect reaches a restarted ingress ahead
     * of our HELLO. SNDHWM: the window bounds what we queue; the DEALER
     * blocks (EAGAIN here) at the mark, it never drops. */
    rc = bridge_setopt_int(b, b->sock, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE");
    rc = rc ? rc : bridge_setopt_int(b, b->sock, ZMQ_SNDHWM, (int)(b->window * 4 + 64), "ZMQ_SNDHWM");
  }
  if (rc == 0 && b->curve) {
    if (zmq_setsockopt(b->sock, ZMQ_CURVE_SERVERKEY, b->peer_pub, 32) != 0 ||
        zmq_setsockopt(b->sock, ZMQ_CURVE_PUBLICKEY, pub_ours, 40) != 0 ||
        zmq_setsockopt(b->sock, ZMQ_CURVE_SECRETKEY, sec, 32) != 0)
      rc = bridge_fail(b, -EACCES, "CURVE keys refused by libzmq: %s", zmq_strerror(zmq_errno()));
  }
  explicit_bzero(sec, sizeof sec);
  explicit_bzero(sec_z85, sizeof sec_z85);
  if (rc == 0) {
    char monep[64];
    snprintf(monep, sizeof monep, "inproc://myelon-bridge-mon-%p", (void *)b);
    if (zmq_socket_monitor(b->sock, monep,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        (b->mon = zmq_socket(b->ctx, ZMQ_PAIR)) == NULL ||
        /* No high-water mark on the events' pipe: libzmq's I/O thread
         * sends an event with a blocking send (holding the monitor's
         * lock), so a full pipe would stall it until we read. */
        zmq_setsockopt(b->mon, ZMQ_RCVHWM, &(int){0}, sizeof(int)) != 0 || zmq_connect(b->mon, monep) != 0)
      rc = bridge_fail(b, -EPROTO, "socket monitor: %s", zmq_strerror(zmq_errno()));
  }
  if (rc == 0 && zmq_connect(b->sock, b->endpoint) != 0)
    rc = bridge_fail(b, -EPROTO, "connect %s: %s", b->endpoint, zmq_strerror(zmq_errno()));
  if (rc < 0)
    return bridge_open_failed(b, rc);
  b->hs = HS_HELLO;
  b->next_hello_ns = 0;
  *out = b;
  return 0;
}
