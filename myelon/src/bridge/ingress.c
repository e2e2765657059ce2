/* libmyelon_bridge: the ingress (bridge.h): binds a ROUTER, accepts one
 * egress's HELLO at a time (refusing a geometry mismatch naming the
 * field), creates B's ring and republishes each DATA message in sequence,
 * acknowledges cumulatively, records each message in its state file before
 * publishing it (resume after a restart), and closes B's ring when A's
 * producer ended or the link fell silent. */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include <disruptor_mp/bytes.h>
#include <disruptor_mp/inspect.h>
#include <myelon/error.h>

#define MIN_MSGSIZE (64 * 1024) /* ZMQ_MAXMSGSIZE floor: room for ZMTP handshake commands */
/* ZMQ_MAXMSGSIZE bounds the frame as it arrives: under CURVE each frame
 * comes wrapped in a MESSAGE command (its name, an 8-byte nonce, a flags
 * byte and a 16-byte MAC: 33 bytes). Room for that and more. */
#define TRANSPORT_SLACK 256

static uint64_t state_check(const struct state_rec *r)
{
  return (r->magic ^ r->epoch ^ r->seq ^ (uint64_t)r->before ^ r->frames) * 0x9e3779b97f4a7c15ULL + 1;
}

int ingress_state_write(struct myelon_bridge *b, uint64_t seq, int64_t before, uint64_t frames)
{
  if (b->state_fd < 0)
    return 0;
  struct state_rec r = {STATE_MAGIC, b->epoch, seq, before, frames, 0};
  r.check = state_check(&r);
  /* No fsync: this guards against the process dying (kill -9), whose
   * page-cache write survives it; a host crash loses the ring too. */
  if (pwrite(b->state_fd, &r, sizeof r, 0) != (ssize_t)sizeof r)
    return bridge_fail(b, -EIO, "state file %s: %s", b->state_path, strerror(errno));
  return 0;
}

/* The next sequence to expect after a restart: from the state file and the
 * old ring's producer cursor (its segment outlives a killed producer). */
static int state_recover(struct myelon_bridge *b, uint64_t *next)
{
  *next = MYELON_BRIDGE_NEXT_ANY;
  struct state_rec r;
  ssize_t n = pread(b->state_fd, &r, sizeof r, 0);
  if (n == 0)
    return 0; /* a new state file: take whatever the egress has */
  if (n != (ssize_t)sizeof r || r.magic != STATE_MAGIC || r.check != state_check(&r))
    return bridge_fail(b, -EINVAL, "state file %s is not a myelon-bridge state file (or is damaged); remove it to start "
                       "over (the ingress then takes the egress's oldest unacknowledged message)", b->state_path);
  if (r.frames == 0) {
    *next = r.seq + 1; /* closed cleanly after applying r.seq */
    return 0;
  }
  struct dmp_inspect *in = NULL;
  const struct dmp_ring_stat *st = NULL;
  int64_t pos = -2;
  if (dmp_inspect_open(DMP_BACKEND_SHM, b->ring, &in) == 0 && dmp_inspect_sample(in, &st) == 0 &&
      st->epoch == r.epoch)
    pos = st->position;
  dmp_inspect_close(in);
  if (pos == -2) {
    /* The old ring is gone: we cannot tell whether r.seq reached it.
     * Apply it again (a possible duplicate) rather than risk losing it. */
    bridge_log(b, "state file %s: the ring of message %" PRIu64 " is gone; applying it again", b->state_path, r.seq);
    *next = r.seq;
  } else {
    /* Every frame of r.seq published: it was applied. Fewer: its readers
     * saw it truncated or not at all, so it is applied again. */
    *next = pos >= r.before + (int64_t)r.frames - 1 ? r.seq + 1 : r.seq;
  }
  return 0;
}

/* A raw ring (MYELON_BRIDGE_RAW): Layer 0 only; with MYELON_BRIDGE_BYTES a
 * byte ring of ring_bytes in blocks of `block`, whose largest record is
 * the largest message. */
static int ingress_raw_ring_open(struct myelon_bridge *b)
{
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = b->ring;
  pc.capacity = b->bytes ? b->ring_bytes : b->cap;
  pc.slot_size = b->bytes ? b->block : b->slot_size;
  pc.slot_align = b->bytes ? 0 : b->slot_align;
  pc.flags = b->bytes ? DMP_RING_BYTES : 0;
  pc.type_tag = b->tag;
  int rc = dmp_producer_create(&pc, &b->p0);
  if (rc < 0) {
    b->p0 = NULL;
    return bridge_fail(b, rc, "create raw %sring %s: %s (%s)", b->bytes ? "byte " : "", b->ring, myelon_strerror(-rc),
                       dmp_last_error());
  }
  if (b->bytes) {
    b->cap = dmp_producer_capacity(b->p0);
    b->max_message = dmp_producer_bytes_max(b->p0);
  }
  return 0;
}

static int ingress_framed_ring_open(struct myelon_bridge *b)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = b->ring;
  pc.ring.capacity = b->cap;
  pc.format = b->fmt;
  pc.frame_capacity = b->fc;
  pc.max_message = b->max_message;
  if (b->bytes) {
    pc.ring_bytes = b->ring_bytes;
    pc.ring.slot_size = b->block;
  }
  int rc = myelon_producer_create(&pc, &b->prod);
  if (rc < 0) {
    b->prod = NULL;
    return bridge_fail(b, rc, "create ring %s: %s (%s)", b->ring, myelon_strerror(-rc), dmp_last_error());
  }
  b->p0 = myelon_producer_ring(b->prod);
  b->cap = dmp_producer_capacity(b->p0);
  if (b->bytes) {
    /* Its largest message: max_message capped by half the ring (framed.h). */
    b->max_message = myelon_producer_max_message(b->prod);
    b->tag = myelon_frame_tag(MYELON_FRAME_BYTES, 0);
    return 0;
  }
  b->fc = myelon_producer_frame_capacity(b->prod);
  b->tag = myelon_frame_tag(b->fmt, b->fc);
  return 0;
}

/* Create B's ring (at start, and again after ingress_ring_close() when a
 * link comes back or A's producer restarted: a new epoch, which B's
 * readers follow as they follow a local producer restart). */
static int ingress_ring_open(struct myelon_bridge *b)
{
  int rc = b->raw ? ingress_raw_ring_open(b) : ingress_framed_ring_open(b);
  if (rc < 0)
    return rc;
  b->readers_ready = b->wait_readers == 0;
  /* Our ring's epoch, for the state file: read as any inspector would. */
  struct dmp_inspect *in = NULL;
  const struct dmp_ring_stat *st = NULL;
  if (dmp_inspect_open(DMP_BACKEND_SHM, b->ring, &in) == 0 && dmp_inspect_sample(in, &st) == 0)
    b->epoch = st->epoch;
  else if (b->state_fd >= 0)
    rc = bridge_fail(b, -EIO, "cannot read the epoch of ring %s (%s)", b->ring, dmp_last_error());
  dmp_inspect_close(in);
  return rc;
}

/* Close B's ring at Layer 1 or 0 (its readers then see the producer gone). */
void ingress_ring_free(struct myelon_bridge *b)
{
  if (b->prod != NULL)
    myelon_producer_close(b->prod); /* p0 is its ring */
  else
    dmp_producer_close(b->p0);
  b->prod = NULL;
  b->p0 = NULL;
}

/* Close B's ring and end the session: B's readers read what was published,
 * then get -DMP_E_OWNERDEAD, as when a local producer dies. Between
 * messages, or (a link that fell silent while a message waited for room)
 * after the caller dropped the waiting message: if it was cut short in the
 * ring, B's readers see it as a message of a producer that died while
 * publishing it (never delivered), and it is applied again in the next
 * ring. The state file records a clean end, so the next ring resumes after
 * the last message applied. */
static void ingress_ring_close(struct myelon_bridge *b, const char *why)
{
  if (b->p0 == NULL)
    return;
  if (b->state_fd >= 0 && b->st.next_seq != MYELON_BRIDGE_NEXT_ANY)
    ingress_state_write(b, b->st.next_seq - 1, 0, 0);
  ingress_held_drop(b); /* the rest of the session: the egress sends it again */
  ingress_ring_free(b);
  b->readers_ready = false;
  b->active_len = 0;
  b->ack_due = b->ack_now = false;
  b->unacked = b->unacked_frames = 0;
  b->unacked_bytes = 0;
  bridge_log(b, "%s: closed ring %s (its readers see the producer gone); a new one is created when the link is back", why,
             b->ring);
}

static int zap_handle(struct myelon_bridge *b)
{
  /* ZAP request (RFC 27): version, request id, domain, address, identity,
   * mechanism, credentials...; reply: version, request id, status code,
   * status text, user id, metadata. */
  zmq_msg_t part[8];
  int nparts = 0;
  bool more = true;
  while (more) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, b->zap, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&m);
      break;
    }
    more = zmq_msg_more(&m);
    if (nparts < 8)
      part[nparts++] = m;
    else
      zmq_msg_close(&m);
  }
  if (nparts == 0)
    return 0;
  bool ok = false;
  if (nparts >= 7 && zmq_msg_size(&part[5]) == 5 && memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
      zmq_msg_size(&part[6]) == 32 && memcmp(zmq_msg_data(&part[6]), b->peer_pub, 32) == 0)
    ok = true;
  if (!ok) {
    b->st.refused++;
    char addr[64] = "?";
    if (nparts >= 4) {
      size_t n = zmq_msg_size(&part[3]) < sizeof addr - 1 ? zmq_msg_size(&part[3]) : sizeof addr - 1;
      memcpy(addr, zmq_msg_data(&part[3]), n);
      addr[n] = '\0';
    }
    bridge_log(b, "refused a peer at %s: its CURVE key is not the --peer-key", addr);
  }
  if (nparts >= 2) {
    zmq_send(b->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(b->zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    zmq_send(b->zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    zmq_send(b->zap, ok ? "OK" : "key not allowed", ok ? 2 : 15, ZMQ_SNDMORE);
    zmq_send(b->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(b->zap, "", 0, 0);
  }
  for (int i = 0; i < nparts; i++)
    zmq_msg_close(&part[i]);
  return 0;
}

/* ---- liveness of the active egress's link ----
 * A whole message from it proves the link alive; so do bytes still
 * arriving on its TCP connection, read from the kernel (TCP_INFO), when one
 * message takes longer than timeout_ms to cross (a slow or loaded link),
 * so that the link is not declared dead in the middle of it. Bytes are
 * counted twice over: the bytes received in order, and the data segments
 * received (tcpi_data_segs_in, where the kernel has it), in or out of
 * order. While TCP recovers a lost segment the rest of the message piles
 * up out of order and the in-order count stands still (seen on
 * bridge_slow_link's shaped link after the cut: 245 ms without a byte
 * counted while ~1 MB arrived, then all of it at once; past timeout_ms
 * that closes B's ring mid-message, that test's failure: B's reader
 * attached three times); the segments go on counting. ZMTP's own
 * heartbeats (a few dozen bytes, one segment each way a heartbeat) are not
 * counted: a dead or cut link still ends within timeout_ms of its last
 * bytes. */

/* A message from the active egress, which came on connection `fd`
 * (ZMQ_SRCFD; -1 unknown). hello: a HELLO, the first message of every
 * connection (an egress that connects again does so under a new routing
 * id, and is heard only once its HELLO was welcomed): that connection's
 * peer is read again even when its fd number is the one cached, since
 * libzmq may have closed the previous connection and accept() returned
 * the same (lowest free) number for the new one. Kept, the old peer made
 * rx_bytes_now() take the new connection for a closed one, so that the
 * bytes of a message slower than timeout_ms went uncounted until it was
 * whole. */
static void rx_alive(struct myelon_bridge *b, int fd, bool hello)
{
  b->last_rx_ns = bridge_now_ns();
  b->rx_base = false;
  if (fd == b->rx_fd && !hello)
    return;
  socklen_t len = sizeof b->rx_peer;
  b->rx_fd = fd >= 0 && getpeername(fd, (struct sockaddr *)&b->rx_peer, &len) == 0 ? fd : -1;
  b->rx_peer_len = len;
}

/* The kernel's counts of bytes received in order and of data segments
 * received on that connection (segs 0 where the kernel does not report
 * them); false when unknown (ipc://, an older kernel, or the fd is no
 * longer that connection: libzmq closed it and the number was reused). */
static bool rx_bytes_now(struct myelon_bridge *b, uint64_t *n, uint32_t *segs)
{
  if (b->rx_fd < 0)
    return false;
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  struct tcp_info ti;
  socklen_t tl = sizeof ti;
  if (getpeername(b->rx_fd, (struct sockaddr *)&peer, &len) != 0 || len != b->rx_peer_len ||
      memcmp(&peer, &b->rx_peer, len) != 0 || getsockopt(b->rx_fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0 ||
      tl < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received) {
    b->rx_fd = -1;
    return false;
  }
  *n = ti.tcpi_bytes_received;
  *segs = tl >= offsetof(struct tcp_info, tcpi_data_segs_in) + sizeof ti.tcpi_data_segs_in ? ti.tcpi_data_segs_in : 0;
  return true;
}

/* No whole message for a heartbeat: sample the connection's bytes; more
 * than heartbeats account for since the last sample (in bytes, or in
 * segments: a heartbeat's PING and PONG are one each) is progress. */
static void rx_progress(struct myelon_bridge *b)
{
  int64_t now = bridge_now_ns();
  uint64_t n;
  uint32_t segs;
  if (now - b->last_rx_ns < (int64_t)b->heartbeat_ms * 1000000 || !rx_bytes_now(b, &n, &segs))
    return;
  uint64_t nbeats = (uint64_t)b->timeout_ms / (uint64_t)b->heartbeat_ms + 1, beats = 64 * nbeats;
  int64_t hb = (int64_t)b->heartbeat_ms * 1000000, to = (int64_t)b->timeout_ms * 1000000;
  if (b->rx_base && (n - b->rx_bytes > 1024 + beats || (uint32_t)(segs - b->rx_segs) > 16 + 2 * nbeats))
    b->last_rx_ns = now;
  else if (b->rx_base)
    return;
  else if (now - b->last_rx_ns > to - hb)
    /* The first sample after a whole message came late (this process was
     * not running, or was publishing): bytes that arrived meanwhile cannot
     * be told from this base. One more heartbeat, so that the next sample
     * judges, rather than call the link silent on no evidence. */
    b->last_rx_ns = now - (to - hb);
  b->rx_bytes = n;
  b->rx_segs = segs;
  b->rx_base = true;
}

static void reject(struct myelon_bridge *b, const char *why)
{
  b->st.rejected++;
  int64_t now = bridge_now_ns();
  if (now - b->last_log_ns >= LOG_EVERY_NS) {
    b->last_log_ns = now;
    bridge_log(b, "dropped a message: %s (%" PRIu64 " dropped so far)", why, b->st.rejected);
  }
}

static bool is_active(const struct myelon_bridge *b, const uint8_t *id, size_t len)
{
  return b->active_len != 0 && len == b->active_len && memcmp(id, b->active_id, len) == 0;
}

static void send_resync(struct myelon_bridge *b, const uint8_t *id, size_t len)
{
  int64_t now = bridge_now_ns();
  if (now - b->last_resync_ns < RESYNC_EVERY_NS)
    return;
  b->last_resync_ns = now;
  uint8_t m[MYELON_BRIDGE_HEADER];
  bridge_put_header(m, MYELON_BRIDGE_RESYNC);
  bridge_send_to(b, id, len, m, sizeof m);
}

static const char *format_name(uint32_t format)
{
  switch (format) {
  case MYELON_BRIDGE_FORMAT_RAW: return "raw";
  case MYELON_BRIDGE_FORMAT_RAW_BYTES: return "raw bytes";
  case MYELON_FRAME_BYTES: return "bytes";
  case MYELON_FRAME_ALIGNED: return "aligned";
  default: return "compact";
  }
}

/* A byte ring's geometry against the HELLO's: the field that differs, or "". */
static void bytes_mismatch(const struct myelon_bridge *b, const struct myelon_bridge_wire *w, char *why, size_t n)
{
  if (w->ring_capacity != b->ring_bytes)
    snprintf(why, n, "ring_bytes: egress ring %" PRIu64 ", ingress ring %" PRIu64, w->ring_capacity, b->ring_bytes);
  else if (w->frame_capacity != b->block)
    snprintf(why, n, "block: egress ring %u, ingress ring %u", w->frame_capacity, b->block);
  else if (w->type_tag != b->tag)
    snprintf(why, n, "type_tag: egress ring %#" PRIx64 ", ingress ring %#" PRIx64, w->type_tag, b->tag);
  else if (w->max_message > b->max_message)
    snprintf(why, n, "max_message: egress forwards up to %" PRIu64 ", ingress accepts %zu", w->max_message,
             b->max_message);
}

/* A raw ring's geometry against the HELLO's: the field that differs, or "". */
static void raw_mismatch(const struct myelon_bridge *b, const struct myelon_bridge_wire *w, char *why, size_t n)
{
  if (w->frame_capacity != b->slot_size)
    snprintf(why, n, "slot_size: egress ring %u, ingress ring %u", w->frame_capacity, b->slot_size);
  else if (w->slot_align != b->slot_align)
    snprintf(why, n, "slot_align: egress ring %u, ingress ring %u", w->slot_align, b->slot_align);
  else if (w->ring_capacity != b->cap)
    snprintf(why, n, "ring_capacity: egress ring %" PRIu64 ", ingress ring %" PRIu64, w->ring_capacity, b->cap);
  else if (w->type_tag != b->tag)
    snprintf(why, n, "type_tag: egress ring %#" PRIx64 ", ingress ring %#" PRIx64, w->type_tag, b->tag);
}

static int ingress_hello(struct myelon_bridge *b, const uint8_t *id, size_t len, const struct myelon_bridge_wire *w)
{
  char why[MYELON_BRIDGE_REASON_MAX + 1] = "";
  uint32_t format = b->raw ? (b->bytes ? MYELON_BRIDGE_FORMAT_RAW_BYTES : MYELON_BRIDGE_FORMAT_RAW) : (uint32_t)b->fmt;
  if (w->format != format)
    snprintf(why, sizeof why, "format: egress ring %s, ingress ring %s", format_name(w->format),
             format_name(format));
  else if (b->bytes)
    bytes_mismatch(b, w, why, sizeof why);
  else if (b->raw)
    raw_mismatch(b, w, why, sizeof why);
  else if (w->frame_capacity != b->fc)
    snprintf(why, sizeof why, "frame_capacity: egress ring %u, ingress ring %u", w->frame_capacity, b->fc);
  else if (w->ring_capacity != b->cap)
    snprintf(why, sizeof why, "ring_capacity: egress ring %" PRIu64 ", ingress ring %" PRIu64, w->ring_capacity,
             b->cap);
  else if (w->type_tag != b->tag)
    snprintf(why, sizeof why, "type_tag: egress ring %#" PRIx64 ", ingress ring %#" PRIx64, w->type_tag, b->tag);
  else if (w->max_message > b->max_message)
    snprintf(why, sizeof why, "max_message: egress forwards up to %" PRIu64 ", ingress accepts %zu",
             w->max_message, b->max_message);
  if (why[0] != '\0') {
    b->st.refused++;
    bridge_log(b, "refused a link: %s", why);
    uint8_t m[MYELON_BRIDGE_HEADER + MYELON_BRIDGE_REASON_MAX];
    size_t n = bridge_encode_refuse(m, why);
    bridge_send_to(b, id, len, m, n);
    return 0;
  }
  if (b->p0 != NULL && b->src_known && w->epoch != b->src_epoch) {
    /* A's producer restarted (its END was lost, or the egress restarted
     * too): B's readers see a restart as well. */
    if (b->have_pending)
      return 0; /* finish the message in hand first; the egress retries */
    ingress_ring_close(b, "the producer on A restarted (new epoch)");
  }
  if (b->p0 == NULL) {
    int rc = ingress_ring_open(b);
    if (rc < 0)
      return rc;
  }
  if (!b->readers_ready &&
      dmp_producer_wait_for_consumers(b->p0, b->wait_readers, 0) > 0)
    b->readers_ready = true;
  if (!b->readers_ready)
    return 0; /* not yet (the geometry is fine): the egress retries */
  b->src_epoch = w->epoch;
  b->src_known = true;
  b->last_rx_ns = bridge_now_ns();
  /* The newest HELLO wins: an egress that restarted (or reconnected under
   * a new routing id) replaces its older self, whose connection may not
   * have timed out yet. */
  memcpy(b->active_id, id, len);
  b->active_len = len;
  b->ack_every = w->window / 4 > 0 ? w->window / 4 : 1;
  /* "Listening while the ring is full": what this egress can have in
   * flight (its window, bounded as an egress bounds it) and a few more. */
  b->held_max = (w->window < (1u << 20) ? w->window : (1u << 20)) + 64;
  b->st.handshakes++;
  uint8_t m[MYELON_BRIDGE_SEQ_SIZE];
  bridge_encode_seq(m, MYELON_BRIDGE_WELCOME, b->st.next_seq);
  bridge_send_to(b, id, len, m, sizeof m);
  /* What we accept beyond version 1's messages (an older egress ignores
   * it, as any message it cannot parse, and sends only DATA). */
  bridge_encode_seq(m, MYELON_BRIDGE_FEATURES, MYELON_BRIDGE_FEATURE_BATCH);
  bridge_send_to(b, id, len, m, sizeof m);
  return 0;
}

/* Publish message `seq` into the ring, waiting until `deadline` for room.
 * 1: applied, 0: no room yet, < 0: error. */
static int ingress_publish(struct myelon_bridge *b, uint64_t seq, const uint8_t *data, size_t len, uint8_t kind,
                           int64_t deadline)
{
  int64_t before = dmp_producer_sequence(b->p0) + 1;
  /* A byte ring's record (and the padding before it, if any) is published
   * by one cursor store: once the cursor reached `before` it is all there,
   * so it counts as one frame in the state file. Its blocks count towards
   * the ring's quarter that asks for an ACK. */
  uint64_t frames = b->raw || b->bytes ? 1 : myelon_frame_count(b->fmt, b->fc, len);
  uint64_t blocks = frames;
  if (b->bytes)
    blocks = (DMP_BYTES_HEADER + (b->raw ? 0 : MYELON_FRAME_ALIGNED_HEADER) + len + b->block - 1) / b->block;
  int rc = ingress_state_write(b, seq, before, frames);
  if (rc < 0)
    return rc;
  /* A message longer than the ring goes out in batches: give it time for
   * the readers to drain between them rather than cut it short. */
  int64_t left = deadline - bridge_now_ns();
  int64_t t = frames > b->cap ? 10LL * 1000000000 : left > 0 ? left : 0;
  if (b->raw && b->bytes) {
    int64_t s = dmp_producer_publish_bytes_timeout(b->p0, data, len, t);
    rc = s == -EAGAIN ? -ETIMEDOUT : s < 0 ? (int)s : 0;
  } else if (b->raw) {
    int64_t s = dmp_producer_publish_timeout(b->p0, data, len, t);
    rc = s == -EAGAIN ? -ETIMEDOUT : s < 0 ? (int)s : 0;
  } else {
    rc = myelon_producer_publish(b->prod, data, len, kind, t);
  }
  if (frames > b->cap)
    /* That one attempt (up to 10 s) read nothing from the link: its
     * silence is unknown, so the timer starts again (bridge.h's limit). */
    b->last_rx_ns = bridge_now_ns();
  if (rc == -ETIMEDOUT) {
    if (dmp_producer_sequence(b->p0) + 1 != before)
      bridge_log(b, "message %" PRIu64 " was cut short (readers too slow); publishing it again", seq);
    return 0;
  }
  if (rc < 0)
    return bridge_fail(b, rc, "publish to ring %s: %s", b->ring, myelon_strerror(-rc));
  b->st.next_seq = seq + 1;
  b->st.messages++;
  b->st.bytes += len;
  if (b->unacked == 0)
    b->ack_first_ns = bridge_now_ns();
  b->unacked++;
  b->unacked_frames += blocks;
  b->unacked_bytes += len;
  b->ack_due = true;
  return 1;
}

/* Publish the pending DATA message, or the pending BATCH's messages from
 * pend_seq on, into the ring (waiting up to `timeout_ns` in all). 1: all
 * applied (or duplicates skipped), 0: no room yet (the rest still
 * pending), < 0: error. */
static int ingress_apply(struct myelon_bridge *b, int64_t timeout_ns)
{
  struct myelon_bridge_wire w;
  if (myelon_bridge_wire_parse(zmq_msg_data(&b->pending), zmq_msg_size(&b->pending), &w) != 0)
    return 1; /* cannot happen: parsed before it was kept */
  int64_t deadline = bridge_now_ns() + timeout_ns;
  while (b->pend_left > 0) {
    uint8_t kind = w.kind;
    const uint8_t *data = w.payload;
    size_t len = w.len, next = b->pend_off;
    if (w.type == MYELON_BRIDGE_BATCH && bridge_batch_record(&w, &next, &kind, &data, &len) != 0)
      return 1; /* cannot happen: every record was checked before it was kept */
    if (b->st.next_seq != MYELON_BRIDGE_NEXT_ANY && b->pend_seq < b->st.next_seq) {
      b->st.duplicates++; /* resent after a reconnect; applied already */
      b->ack_due = b->ack_now = true;
    } else {
      int rc = ingress_publish(b, b->pend_seq, data, len, kind, deadline);
      if (rc <= 0)
        return rc;
    }
    b->pend_off = next;
    b->pend_seq++;
    b->pend_left--;
  }
  return 1;
}

/* A message the link may carry into this ring: within max_message, and
 * on a raw ring one whole slot of kind 0. */
static bool record_ok(struct myelon_bridge *b, size_t len, uint8_t kind)
{
  if (len > b->max_message) {
    reject(b, "DATA longer than max_message");
    return false;
  }
  if (b->raw && !b->bytes && (len != b->slot_size || kind != 0)) {
    reject(b, "DATA that is not one slot of the raw ring (its size, kind 0)");
    return false;
  }
  if (b->raw && b->bytes && kind != 0) {
    reject(b, "DATA of a kind other than 0 for a raw byte ring");
    return false;
  }
  return true;
}

/* DATA, or a BATCH of consecutive messages (all checked before any is
 * applied: one bad record drops the batch, as a bad DATA is dropped). */
static int ingress_data(struct myelon_bridge *b, const uint8_t *id, size_t len, zmq_msg_t *msg,
                        const struct myelon_bridge_wire *w)
{
  if (!is_active(b, id, len)) {
    send_resync(b, id, len); /* a restarted ingress, or a stale session: ask for a HELLO */
    return 0;
  }
  uint32_t count = 1;
  if (w->type == MYELON_BRIDGE_BATCH) {
    count = w->window;
    size_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
      uint8_t kind;
      const uint8_t *data;
      size_t n;
      if (bridge_batch_record(w, &off, &kind, &data, &n) != 0 || !record_ok(b, n, kind))
        return 0;
    }
  } else if (!record_ok(b, w->len, w->kind)) {
    return 0;
  }
  if (b->st.next_seq != MYELON_BRIDGE_NEXT_ANY && w->seq + count - 1 < b->st.next_seq) {
    b->st.duplicates += count; /* resent after a reconnect; applied already */
    b->ack_due = b->ack_now = true;
    return 0;
  }
  if (b->st.next_seq != MYELON_BRIDGE_NEXT_ANY && w->seq > b->st.next_seq) {
    send_resync(b, id, len); /* a gap: never apply out of order */
    return 0;
  }
  zmq_msg_init(&b->pending);
  zmq_msg_move(&b->pending, msg);
  b->have_pending = true;
  b->pend_seq = w->seq;
  b->pend_left = count;
  b->pend_off = 0;
  int rc = ingress_apply(b, 0);
  if (rc != 0) {
    zmq_msg_close(&b->pending);
    b->have_pending = false;
  }
  return rc < 0 ? rc : 0;
}

static const char not_bridge[] = "not a bridge message (bad magic, version, type, size or padding)";

/* One message from peer `id`. fresh: just read from the socket (it proves
 * the active egress's link alive); false: held while B's ring was full
 * (counted when it arrived). */
static int ingress_dispatch(struct myelon_bridge *b, const uint8_t *id, size_t idlen, zmq_msg_t *msg, int fd,
                            bool fresh)
{
  struct myelon_bridge_wire w;
  if (myelon_bridge_wire_parse(zmq_msg_data(msg), zmq_msg_size(msg), &w) != 0) {
    reject(b, not_bridge);
    return 0;
  }
  int rc = 0;
  if (w.type == MYELON_BRIDGE_HELLO) {
    rc = ingress_hello(b, id, idlen, &w);
    if (fresh && is_active(b, id, idlen))
      rx_alive(b, fd, true);
  } else if (w.type == MYELON_BRIDGE_DATA || w.type == MYELON_BRIDGE_BATCH) {
    if (fresh && is_active(b, id, idlen))
      rx_alive(b, fd, false);
    rc = ingress_data(b, id, idlen, msg, &w);
  } else if (w.type == MYELON_BRIDGE_PING) {
    if (is_active(b, id, idlen)) {
      if (fresh)
        rx_alive(b, fd, false);
      b->ack_due = b->ack_now = true; /* the answer: the egress hears we are alive, and gets credit */
    } else {
      send_resync(b, id, idlen);
    }
  } else if (w.type == MYELON_BRIDGE_END) {
    if (is_active(b, id, idlen) && w.epoch == b->src_epoch)
      ingress_ring_close(b, "the producer on A is gone");
  } else {
    reject(b, "a message only an ingress sends");
  }
  return rc;
}

/* ---- Listening while the ring is full ----
 * A message waiting for room in B's ring (have_pending: B's readers are
 * slow or stopped) does not stop the ingress from hearing its link: it
 * keeps reading the socket, answers the active egress's PINGs at once
 * (with the ACK of what was applied) and counts whatever that egress sends
 * as life, so a link that falls silent meanwhile is silence (ingress_run()
 * closes B's ring after timeout_ms, as on an idle link). The rest of what
 * the active egress sends waits here in arrival order and is handled once
 * the ring has room, as if read then. An egress has at most its window in
 * flight beyond B's acknowledgement, plus a PING or a HELLO now and then:
 * held_max is its window (its HELLO's) and 64. Only an egress that
 * overruns its own window fills it; the ingress then stops reading and,
 * not hearing the link, counts it alive (as before this listening).
 * Messages of other peers are dropped meanwhile: an egress repeats its
 * HELLO, a stale session gets its RESYNC once the ring has room. */

/* Keep `msg` (moved from) for later. 0, or -ENOMEM. */
static int held_rx_push(struct myelon_bridge *b, zmq_msg_t *msg)
{
  if (b->rx_count == b->rx_alloc) {
    uint32_t n = b->rx_alloc ? b->rx_alloc * 2 : 64;
    zmq_msg_t *q = calloc(n, sizeof *q);
    if (q == NULL)
      return bridge_fail(b, -ENOMEM, "out of memory holding messages while ring %s is full", b->ring);
    for (uint32_t i = 0; i < b->rx_count; i++) {
      zmq_msg_t *from = &b->held_rx[(b->rx_head + i) % b->rx_alloc];
      zmq_msg_init(&q[i]);
      zmq_msg_move(&q[i], from);
      zmq_msg_close(from);
    }
    free(b->held_rx);
    b->held_rx = q;
    b->rx_alloc = n;
    b->rx_head = 0;
  }
  zmq_msg_t *to = &b->held_rx[(b->rx_head + b->rx_count) % b->rx_alloc];
  zmq_msg_init(to);
  zmq_msg_move(to, msg);
  b->rx_count++;
  return 0;
}

/* The oldest held message, moved into `out` (initialised here). */
static void held_rx_pop(struct myelon_bridge *b, zmq_msg_t *out)
{
  zmq_msg_t *from = &b->held_rx[b->rx_head];
  zmq_msg_init(out);
  zmq_msg_move(out, from);
  zmq_msg_close(from);
  b->rx_head = (b->rx_head + 1) % b->rx_alloc;
  b->rx_count--;
}

/* Drop what was held (the link is gone: the egress sends it again). */
void ingress_held_drop(struct myelon_bridge *b)
{
  while (b->rx_count > 0) {
    zmq_msg_t m;
    held_rx_pop(b, &m);
    zmq_msg_close(&m);
  }
}

/* A message read while B's ring is full. */
static int ingress_hold(struct myelon_bridge *b, const uint8_t *id, size_t idlen, zmq_msg_t *msg, int fd)
{
  struct myelon_bridge_wire w;
  if (myelon_bridge_wire_parse(zmq_msg_data(msg), zmq_msg_size(msg), &w) != 0) {
    reject(b, not_bridge);
    return 0;
  }
  if (!is_active(b, id, idlen))
    return 0;
  rx_alive(b, fd, w.type == MYELON_BRIDGE_HELLO);
  if (w.type == MYELON_BRIDGE_PING) {
    b->ack_due = b->ack_now = true;
    return 0;
  }
  return held_rx_push(b, msg);
}

static int ingress_incoming(struct myelon_bridge *b)
{
  /* What was held while the ring was full goes first, in order (from the
   * active egress: a ring closed meanwhile dropped it). */
  while (b->rx_count > 0 && !b->have_pending) {
    uint8_t id[sizeof b->active_id];
    size_t idlen = b->active_len;
    memcpy(id, b->active_id, idlen);
    zmq_msg_t msg;
    held_rx_pop(b, &msg);
    int rc = ingress_dispatch(b, id, idlen, &msg, -1, false);
    zmq_msg_close(&msg);
    if (rc < 0)
      return rc;
  }
  for (int i = 0; i < 256 && (!b->have_pending || b->rx_count < b->held_max); i++) {
    zmq_msg_t idm, msg;
    zmq_msg_init(&idm);
    if (zmq_msg_recv(&idm, b->sock, ZMQ_DONTWAIT) < 0) {
      int e = bridge_zmq_err_again();
      zmq_msg_close(&idm);
      return e == EAGAIN ? 0 : bridge_fail(b, -EPROTO, "receive: %s", zmq_strerror(e));
    }
    uint8_t id[256];
    size_t idlen = zmq_msg_size(&idm) <= sizeof id ? zmq_msg_size(&idm) : 0;
    memcpy(id, zmq_msg_data(&idm), idlen);
    bool more = zmq_msg_more(&idm);
    zmq_msg_close(&idm);
    if (!more)
      continue;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, b->sock, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&msg);
      continue;
    }
    int fd = zmq_msg_get(&msg, ZMQ_SRCFD); /* before ingress_data() moves it */
    int rc = 0;
    if (zmq_msg_more(&msg)) {
      /* Every bridge message is one frame: drain the rest and drop it. */
      while (zmq_msg_more(&msg)) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, b->sock, ZMQ_DONTWAIT) < 0)
          break;
      }
      reject(b, "a multipart message");
    } else if (idlen == 0) {
      reject(b, "routing id too long");
    } else if (b->have_pending) {
      rc = ingress_hold(b, id, idlen, &msg, fd);
    } else {
      rc = ingress_dispatch(b, id, idlen, &msg, fd, true);
    }
    zmq_msg_close(&msg);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* Acknowledge what was applied, coalesced (link.h, ACK_DELAY_NS): every
 * ACK is a ZeroMQ message through both sides' I/O threads (and CURVE's
 * box), which a per-pass ACK paid every few messages of a stream and on
 * every round trip of a ping-pong, on the cores the messages need. A
 * quarter of the window keeps the egress's window from draining before
 * its credit returns; an egress whose window is full asks with a PING. */
static void ingress_ack(struct myelon_bridge *b)
{
  if (!b->ack_due || b->active_len == 0)
    return;
  if (b->st.next_seq == MYELON_BRIDGE_NEXT_ANY) {
    /* Nothing applied yet (a fresh ingress answering a PING): an ACK of
     * NEXT_ANY would tell the egress that every message it holds was
     * applied, and it would drop them (seen as a lost stream when the
     * PING's answer overtook the first DATA). */
    b->ack_due = b->ack_now = false;
    return;
  }
  if (!b->ack_now && b->unacked < b->ack_every && b->unacked_frames < (b->cap / 4 > 0 ? b->cap / 4 : 1) &&
      b->unacked_bytes < ACK_BYTES && bridge_now_ns() - b->ack_first_ns < ACK_DELAY_NS)
    return;
  uint8_t m[MYELON_BRIDGE_SEQ_SIZE];
  bridge_encode_seq(m, MYELON_BRIDGE_ACK, b->st.next_seq);
  /* Acks are cumulative: one lost to a full pipe is made good by the next. */
  bridge_send_to(b, b->active_id, b->active_len, m, sizeof m);
  b->ack_due = b->ack_now = false;
  b->unacked = b->unacked_frames = 0;
  b->unacked_bytes = 0;
}

int ingress_run(struct myelon_bridge *b, int64_t timeout_ns)
{
  int64_t deadline = bridge_now_ns() + (timeout_ns > 0 ? timeout_ns : 0);
  for (;;) {
    if (!b->readers_ready && b->p0 != NULL &&
        dmp_producer_wait_for_consumers(b->p0, b->wait_readers, 0) > 0)
      b->readers_ready = true;
    int rc = 0;
    if (b->zap != NULL)
      zap_handle(b);
    if (b->have_pending) {
      rc = ingress_apply(b, PUBLISH_STEP_NS);
      if (rc != 0) {
        zmq_msg_close(&b->pending);
        b->have_pending = false;
      } else if (b->rx_count >= b->held_max) {
        /* Not reading the link (an egress past its window filled what we
         * hold): silence cannot be told from it; count the link alive. */
        b->last_rx_ns = bridge_now_ns();
      }
    }
    if (rc >= 0)
      rc = ingress_incoming(b);
    ingress_ack(b);
    if (rc < 0)
      return rc;
    if (b->active_len != 0)
      rx_progress(b);
    if (b->active_len != 0 && bridge_now_ns() - b->last_rx_ns > (int64_t)b->timeout_ms * 1000000) {
      /* Also while a message waits for room (B's readers are slow): the
       * link is read meanwhile ("Listening while the ring is full"). What
       * is not applied yet is dropped; the egress sends it again. */
      char why[160];
      uint64_t dropped = (b->have_pending ? b->pend_left : 0) + b->rx_count;
      snprintf(why, sizeof why, "nothing from the egress for %d ms (dead link, egress or host)%s", b->timeout_ms,
               dropped ? "; the messages not applied yet will come again" : "");
      if (b->have_pending) {
        zmq_msg_close(&b->pending);
        b->have_pending = false;
      }
      ingress_ring_close(b, why);
    }
    int64_t left = deadline - bridge_now_ns();
    if (left <= 0)
      return 0;
    if (!b->have_pending) {
      zmq_pollitem_t items[2] = {{b->sock, 0, ZMQ_POLLIN, 0}, {b->zap, 0, ZMQ_POLLIN, 0}};
      long ms = left / 1000000 + 1;
      if (!b->readers_ready && ms > 10)
        ms = 10;
      if (b->ack_due && ms > 1)
        ms = 1; /* a coalesced ACK is due within ACK_DELAY_NS */
      if (zmq_poll(items, b->zap ? 2 : 1, ms > 50 ? 50 : ms) < 0) {
        if (zmq_errno() == EINTR)
          return 0;
        return bridge_fail(b, -EPROTO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
      }
    }
  }
}

/* The ring to create: framed (format, frame_capacity, max_message) or,
 * with MYELON_BRIDGE_RAW, raw (slot_size, slot_align, type_tag; its
 * largest message is one slot). */
static int ingress_geometry(struct myelon_bridge *b, const struct myelon_bridge_config *cfg)
{
  b->raw = (cfg->flags & MYELON_BRIDGE_RAW) != 0;
  b->cap = cfg->ring_capacity;
  b->bytes = b->raw ? (cfg->flags & MYELON_BRIDGE_BYTES) != 0 : cfg->format == MYELON_FRAME_BYTES;
  if ((cfg->flags & MYELON_BRIDGE_BYTES) && !b->raw)
    return bridge_fail(b, -EINVAL, "MYELON_BRIDGE_BYTES goes with MYELON_BRIDGE_RAW (a raw byte ring); a framed byte "
                       "ring is cfg.format MYELON_FRAME_BYTES");
  if (!b->bytes && (cfg->ring_bytes != 0 || cfg->block != 0))
    return bridge_fail(b, -EINVAL, "cfg.ring_bytes and block are for a byte ring (format MYELON_FRAME_BYTES, or "
                       "MYELON_BRIDGE_RAW | MYELON_BRIDGE_BYTES)");
  if (cfg->reserved32 != 0)
    return bridge_fail(b, -EINVAL, "cfg.reserved32 is not zero");
  if (b->bytes) {
    /* The ring's bytes and block; Layer 0 checks them when it creates it. */
    b->ring_bytes = cfg->ring_bytes ? cfg->ring_bytes : MYELON_DEFAULT_RING_BYTES;
    b->block = cfg->block ? cfg->block : DMP_BYTES_DEFAULT_BLOCK;
    if (cfg->slot_size != 0 || cfg->slot_align != 0)
      return bridge_fail(b, -EINVAL, "cfg.slot_size and slot_align are for a raw slot ring: a byte ring has "
                         "ring_bytes and block");
    if (b->raw) {
      b->tag = cfg->type_tag;
      return 0;
    }
    if (cfg->type_tag != 0)
      return bridge_fail(b, -EINVAL, "cfg.type_tag is for a raw ring (MYELON_BRIDGE_RAW)");
    b->fmt = MYELON_FRAME_BYTES;
    b->max_message = cfg->max_message;
    return 0;
  }
  if (!b->raw) {
    if (cfg->slot_size != 0 || cfg->slot_align != 0 || cfg->type_tag != 0)
      return bridge_fail(b, -EINVAL, "cfg.slot_size, slot_align and type_tag are for a raw ring (MYELON_BRIDGE_RAW)");
    b->fmt = cfg->format;
    b->fc = cfg->frame_capacity;
    b->max_message = cfg->max_message;
    return 0;
  }
  if (cfg->slot_size == 0 || cfg->slot_size > DMP_MAX_SLOT_SIZE)
    return bridge_fail(b, -EINVAL, "cfg.slot_size must be 1 .. %u for a raw ring", (unsigned)DMP_MAX_SLOT_SIZE);
  b->slot_size = cfg->slot_size;
  b->slot_align = cfg->slot_align ? cfg->slot_align : DMP_DEFAULT_SLOT_ALIGN;
  b->tag = cfg->type_tag;
  b->max_message = cfg->slot_size;
  return 0;
}

MYELON_API int myelon_bridge_ingress_open(const struct myelon_bridge_config *cfg, struct myelon_bridge **out)
{
  if (out == NULL || cfg == NULL)
    return -EINVAL;
  *out = NULL;
  struct myelon_bridge *b = bridge_new(false);
  if (b == NULL)
    return -ENOMEM;
  int rc = bridge_check_common(b, cfg);
  uint8_t sec[32];
  if (rc == 0 && b->curve) {
    rc = bridge_read_key(b, cfg->secret_key_file, true, sec, NULL);
    if (rc == 0)
      rc = bridge_read_key(b, cfg->peer_key_file, false, b->peer_pub, NULL);
  }
  if (rc == 0)
    rc = ingress_geometry(b, cfg);
  b->wait_readers = cfg->wait_readers;
  b->readers_ready = cfg->wait_readers == 0;
  b->st.next_seq = MYELON_BRIDGE_NEXT_ANY;
  if (rc == 0 && cfg->state_path != NULL) {
    b->state_path = strdup(cfg->state_path);
    if (b->state_path == NULL)
      rc = -ENOMEM;
    else if ((b->state_fd = open(b->state_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
      rc = bridge_fail(b, -errno, "state file %s: %s", b->state_path, strerror(errno));
    else
      rc = state_recover(b, &b->st.next_seq);
  }
  if (rc == 0)
    rc = ingress_ring_open(b);
  if (rc == 0)
    rc = bridge_open_socket(b, ZMQ_ROUTER);
  if (rc == 0) {
    /* A message larger than any DATA we accept ends that connection in
     * ZeroMQ itself, before we buffer it. The limit applies to ZMTP's own
     * handshake commands too (a CURVE INITIATE is some 300 bytes and
     * more): never below MIN_MSGSIZE, or a raw ring of small slots (or a
     * small max_message) could not complete a CURVE handshake; and to
     * CURVE's wrapping of each frame: TRANSPORT_SLACK, or a message of
     * max_message bytes never crossed a CURVE link (the connection was
     * dropped and made again forever). */
    int64_t maxsz = (int64_t)b->max_message + MYELON_BRIDGE_DATA_HEADER + TRANSPORT_SLACK;
    if (maxsz < MIN_MSGSIZE)
      maxsz = MIN_MSGSIZE;
    if (zmq_setsockopt(b->sock, ZMQ_MAXMSGSIZE, &maxsz, sizeof maxsz) != 0)
      rc = bridge_fail(b, -EPROTO, "ZMQ_MAXMSGSIZE: %s", zmq_strerror(zmq_errno()));
  }
  if (rc == 0 && b->curve) {
    /* The ZAP handler must be bound before the socket that uses it. */
    b->zap = zmq_socket(b->ctx, ZMQ_REP);
    if (b->zap == NULL || zmq_bind(b->zap, "inproc://zeromq.zap.01") != 0)
      rc = bridge_fail(b, -EPROTO, "ZAP handler: %s", zmq_strerror(zmq_errno()));
    int one = 1;
    if (rc == 0 && (zmq_setsockopt(b->sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
                    zmq_setsockopt(b->sock, ZMQ_CURVE_SECRETKEY, sec, 32) != 0 ||
                    zmq_setsockopt(b->sock, ZMQ_ZAP_DOMAIN, "myelon-bridge", 13) != 0))
      rc = bridge_fail(b, -EACCES, "CURVE keys refused by libzmq: %s", zmq_strerror(zmq_errno()));
  }
  explicit_bzero(sec, sizeof sec);
  if (rc == 0 && zmq_bind(b->sock, b->endpoint) != 0)
    rc = bridge_fail(b, -EPROTO, "bind %s: %s", b->endpoint, zmq_strerror(zmq_errno()));
  if (rc < 0)
    return bridge_open_failed(b, rc);
  *out = b;
  return 0;
}
