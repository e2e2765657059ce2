/* libmyelon_bridge: egress and ingress of a ZeroMQ link (bridge.h).
 *
 * Single-threaded by design: each side is one loop around zmq_poll and the
 * local ring, so there is no lock and no atomic of our own here; the ring
 * (libmyelon / libdisruptor_mp) and ZeroMQ do their own synchronisation. */
#include "bridge_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include <disruptor_mp/inspect.h>
#include <myelon/error.h>

#define RESYNC_AFTER_NS (2000LL * 1000000)   /* no ack progress this long: handshake again */
#define HELLO_EVERY_NS (200LL * 1000000)     /* HELLO retry while no WELCOME */
#define RESYNC_EVERY_NS (100LL * 1000000)    /* ingress: RESYNC at most this often */
#define LOG_EVERY_NS (1000LL * 1000000)      /* rejected-message log at most once a second */
#define PUBLISH_STEP_NS (50LL * 1000000)     /* ingress: one bounded publish attempt */
#define PROBE_EVERY_NS (10LL * 1000000)      /* egress: look for A's next producer this often */
#define STATE_MAGIC 0x4554415453594d42ULL    /* "BMYSTATE" */
#define EGRESS_MAGIC 0x53455247454d5942ULL   /* "BYMEGRES" */

struct held {
  uint8_t *buf;    /* DATA header + payload, ready to send */
  size_t len;      /* payload bytes */
  uint64_t seq;
  int64_t sent_ns; /* 0: not sent in this session */
  int64_t first;   /* hold mode: Layer 0 sequence of its first frame on A's ring */
};

/* Egress state file (hold mode, one record at offset 0): A's ring is
 * released through `pos`, and the first message after it is link
 * sequence `next_seq`. Written before each release, so after a crash the
 * ring's durable cursor is at or before pos + 1 and every frame between
 * is still in the ring (acknowledged: skipped at the restart). */
struct egress_rec {
  uint64_t magic;
  uint64_t epoch;    /* A's ring */
  int64_t pos;
  uint64_t next_seq;
  uint64_t check;
};

struct state_rec { /* ingress state file (one record at offset 0) */
  uint64_t magic;
  uint64_t epoch;    /* the ring the message went to */
  uint64_t seq;      /* the message being (or last) published */
  int64_t before;    /* Layer 0 cursor + 1 before publishing it */
  uint64_t frames;   /* its frame count; 0: seq is applied (clean close) */
  uint64_t check;
};

/* Egress handshake state. HS_WAIT_RING: A's producer is gone and all it
 * published was acknowledged; waiting for the ring's next producer. */
enum hs { HS_HELLO, HS_RUN, HS_WAIT_RING };

struct myelon_bridge {
  bool egress;
  bool curve;
  bool quiet;
  char *endpoint, *ring, *id, *state_path;
  char err[320];
  void *ctx, *sock, *zap, *mon;
  uint8_t peer_pub[32];
  int heartbeat_ms, timeout_ms;
  struct myelon_bridge_stats st;
  int64_t last_log_ns;
  /* ring geometry (egress: read from the ring; ingress: configured) */
  enum myelon_frame_format fmt;
  uint32_t fc;
  uint64_t cap, tag, epoch;
  size_t max_message;
  /* egress */
  struct myelon_consumer *cons;
  /* Hold mode (an egress with a state file): frames are read at Layer 0
   * ahead of what is released; the durable cursor moves only with B's
   * acknowledgements (egress_release_held()). */
  bool hold, resume, oversize_logged;
  struct dmp_consumer *l0;   /* the Layer 0 handle of `cons` */
  struct myelon_reasm ra;    /* the message being read */
  int64_t cur_first;         /* Layer 0 sequence of its first frame */
  bool cur_oversize;         /* it has more frames than the ring holds */
  struct egress_rec rec;     /* recovered at open (resume) */
  struct held *held;
  uint32_t window, hhead, hcount, hsent;
  size_t window_bytes, hbytes;
  bool seq_known, producer_gone, once, end_sent, skip_old;
  enum hs hs;
  int64_t next_hello_ns, last_progress_ns, last_send_ns, next_probe_ns;
  uint64_t old_epoch;    /* the ring whose producer ended (skip_old) */
  /* ingress */
  struct myelon_producer *prod;
  int state_fd;
  uint32_t wait_readers;
  bool readers_ready, ack_due;
  uint8_t active_id[256];
  size_t active_len;
  int64_t last_resync_ns;
  bool have_pending;     /* a DATA message waiting for room in the ring */
  zmq_msg_t pending;
  int64_t last_rx_ns;    /* last message from the active egress */
  uint64_t src_epoch;    /* A's ring epoch of the active stream (src_known) */
  bool src_known;
};

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((format(printf, 3, 4))) static int fail(struct myelon_bridge *b, int rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err, sizeof b->err, fmt, ap);
  va_end(ap);
  return rc;
}

__attribute__((format(printf, 2, 3))) static void logmsg(struct myelon_bridge *b, const char *fmt, ...)
{
  if (b->quiet)
    return;
  char line[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "myelon-bridge %s: %s\n", b->egress ? "egress" : "ingress", line);
}

MYELON_API void myelon_bridge_config_init(struct myelon_bridge_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->consumer_id = "bridge";
  cfg->window = MYELON_BRIDGE_DEFAULT_WINDOW;
  cfg->window_bytes = MYELON_BRIDGE_DEFAULT_WINDOW_BYTES;
  cfg->attach_timeout_ns = 5LL * 1000000000;
  cfg->format = MYELON_FRAME_COMPACT;
  cfg->frame_capacity = MYELON_DEFAULT_FRAME_CAPACITY;
  cfg->ring_capacity = MYELON_DEFAULT_RING_CAPACITY;
  cfg->max_message = MYELON_DEFAULT_MAX_MESSAGE;
  cfg->heartbeat_ms = MYELON_BRIDGE_DEFAULT_HEARTBEAT_MS;
  cfg->timeout_ms = MYELON_BRIDGE_DEFAULT_TIMEOUT_MS;
}

/* The detail of the last failed open on this thread (the handle that held
 * it is gone). */
static __thread char open_err[320];

MYELON_API const char *myelon_bridge_last_error(const struct myelon_bridge *b)
{
  return b ? b->err : open_err;
}

MYELON_API int myelon_bridge_stats(const struct myelon_bridge *b, struct myelon_bridge_stats *out)
{
  if (b == NULL || out == NULL)
    return -EINVAL;
  *out = b->st;
  if (b->egress) {
    out->in_flight = b->hcount;
    out->connected = b->hs == HS_RUN;
  } else {
    out->connected = b->active_len != 0;
  }
  return 0;
}

/* ---- keys ---- */

/* Read one Z85 key (40 characters, surrounding white space allowed) into
 * its 32 binary bytes. A secret key file must not be readable by others. */
static int read_key(struct myelon_bridge *b, const char *path, bool secret, uint8_t key[32], char z85[41])
{
  if (path == NULL)
    return fail(b, -EACCES, "%s key file not given (CURVE needs --key and --peer-key on tcp://, or --insecure)",
                secret ? "secret" : "peer public");
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return fail(b, -EACCES, "%s key file %s: %s", secret ? "secret" : "peer public", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return fail(b, -EACCES, "key file %s: not a regular file", path);
  }
  if (secret && (sb.st_mode & 077) != 0) {
    close(fd);
    return fail(b, -EACCES, "secret key file %s is readable by others (mode %03o): chmod 600 it", path,
                (unsigned)(sb.st_mode & 0777));
  }
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0)
    return fail(b, -EACCES, "key file %s: %s", path, strerror(errno));
  buf[n] = '\0';
  char *s = buf;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  size_t len = 0;
  while (s[len] != '\0' && s[len] != ' ' && s[len] != '\t' && s[len] != '\n' && s[len] != '\r')
    len++;
  for (size_t i = len; s[i] != '\0'; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      len = 0; /* more than one word: not a key file */
  if (len != 40)
    return fail(b, -EACCES, "key file %s does not hold one 40-character Z85 key", path);
  s[40] = '\0';
  if (zmq_z85_decode(key, s) == NULL)
    return fail(b, -EACCES, "key file %s: not a valid Z85 key", path);
  if (z85 != NULL)
    memcpy(z85, s, 41);
  return 0;
}

static int write_key_file(const char *path, const char *z85, mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return -errno;
  char line[42];
  memcpy(line, z85, 40);
  line[40] = '\n';
  ssize_t n = write(fd, line, 41);
  int rc = n == 41 ? 0 : (n < 0 ? -errno : -EIO);
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc != 0)
    unlink(path);
  return rc;
}

MYELON_API int myelon_bridge_keygen(const char *prefix)
{
  if (prefix == NULL || prefix[0] == '\0' || strlen(prefix) > 4000)
    return -EINVAL;
  if (!zmq_has("curve"))
    return -ENOTSUP;
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    return -ENOTSUP;
  char path_sec[4100], path_pub[4100];
  snprintf(path_sec, sizeof path_sec, "%s.key", prefix);
  snprintf(path_pub, sizeof path_pub, "%s.pub", prefix);
  int rc = write_key_file(path_sec, sec, 0600);
  if (rc != 0)
    return rc;
  rc = write_key_file(path_pub, pub, 0644);
  if (rc != 0)
    unlink(path_sec);
  explicit_bzero(sec, sizeof sec);
  return rc;
}

/* ---- common setup ---- */

static int check_common(struct myelon_bridge *b, const struct myelon_bridge_config *cfg)
{
  if (cfg->endpoint == NULL || cfg->ring == NULL)
    return fail(b, -EINVAL, "%s is required", cfg->endpoint == NULL ? "endpoint" : "ring");
  for (size_t i = 0; i < sizeof cfg->reserved / sizeof cfg->reserved[0]; i++)
    if (cfg->reserved[i] != 0)
      return fail(b, -EINVAL, "cfg.reserved[%zu] is not zero", i);
  bool tcp = strncmp(cfg->endpoint, "tcp://", 6) == 0;
  bool ipc = strncmp(cfg->endpoint, "ipc://", 6) == 0;
  if (!tcp && !ipc)
    return fail(b, -EINVAL, "endpoint %s: only tcp:// and ipc:// are supported", cfg->endpoint);
  if ((cfg->flags & ~(uint64_t)MYELON_BRIDGE_ONCE) != 0)
    return fail(b, -EINVAL, "cfg.flags has unknown bits %#" PRIx64, cfg->flags & ~(uint64_t)MYELON_BRIDGE_ONCE);
  if (cfg->heartbeat_ms <= 0 || cfg->timeout_ms <= 0 || cfg->timeout_ms < cfg->heartbeat_ms)
    return fail(b, -EINVAL, "cfg.heartbeat_ms and cfg.timeout_ms must be > 0, timeout >= heartbeat");
  /* CURVE on tcp:// unless asked for plain; on ipc:// only if keys are given. */
  b->curve = tcp ? !cfg->insecure : (cfg->secret_key_file != NULL || cfg->peer_key_file != NULL);
  if (b->curve && !zmq_has("curve"))
    return fail(b, -EACCES, "this libzmq has no CURVE support; use ipc:// or --insecure");
  b->quiet = cfg->quiet;
  b->heartbeat_ms = cfg->heartbeat_ms;
  b->timeout_ms = cfg->timeout_ms;
  b->endpoint = strdup(cfg->endpoint);
  b->ring = strdup(cfg->ring);
  if (b->endpoint == NULL || b->ring == NULL)
    return fail(b, -ENOMEM, "out of memory");
  return 0;
}

static int setopt_int(struct myelon_bridge *b, void *s, int opt, int v, const char *name)
{
  if (zmq_setsockopt(s, opt, &v, sizeof v) != 0)
    return fail(b, -EPROTO, "zmq_setsockopt(%s): %s", name, zmq_strerror(zmq_errno()));
  return 0;
}

/* Options both sides share: heartbeats (liveness), reconnect pacing, a
 * bounded ZMTP handshake (a peer that never completes it is dropped). */
static int common_sockopts(struct myelon_bridge *b, void *s)
{
  int rc = 0;
  rc = rc ? rc : setopt_int(b, s, ZMQ_LINGER, 0, "ZMQ_LINGER");
  rc = rc ? rc : setopt_int(b, s, ZMQ_HEARTBEAT_IVL, b->heartbeat_ms, "ZMQ_HEARTBEAT_IVL");
  rc = rc ? rc : setopt_int(b, s, ZMQ_HEARTBEAT_TIMEOUT, b->timeout_ms, "ZMQ_HEARTBEAT_TIMEOUT");
  rc = rc ? rc : setopt_int(b, s, ZMQ_HEARTBEAT_TTL, b->timeout_ms < 100 ? 100 : b->timeout_ms, "ZMQ_HEARTBEAT_TTL");
  rc = rc ? rc : setopt_int(b, s, ZMQ_HANDSHAKE_IVL, 2000, "ZMQ_HANDSHAKE_IVL");
  rc = rc ? rc : setopt_int(b, s, ZMQ_RECONNECT_IVL, 100, "ZMQ_RECONNECT_IVL");
  rc = rc ? rc : setopt_int(b, s, ZMQ_RECONNECT_IVL_MAX, 1000, "ZMQ_RECONNECT_IVL_MAX");
  return rc;
}

/* A signal landing in a libzmq call (the CLI's SIGTERM, a debugger) makes
 * it fail with EINTR: that is "not now", like EAGAIN, never a broken link
 * (a kill sweep seed saw an ingress exit 1 with "receive: Interrupted
 * system call" while being stopped). */
static int zmq_err_again(void)
{
  int e = zmq_errno();
  return e == EINTR ? EAGAIN : e;
}

static int send_to(struct myelon_bridge *b, const uint8_t *id, size_t id_len, const void *buf, size_t len)
{
  if (id != NULL && zmq_send(b->sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
    return -zmq_err_again();
  if (zmq_send(b->sock, buf, len, ZMQ_DONTWAIT) < 0)
    return -zmq_err_again();
  b->last_send_ns = now_ns(); /* the egress PINGs only when it sent nothing for a heartbeat */
  return 0;
}

/* ---- egress ---- */

static void held_free_head(struct myelon_bridge *b)
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

static struct held *held_at(struct myelon_bridge *b, uint32_t i)
{
  return &b->held[(b->hhead + i) % b->window];
}

static uint64_t egress_rec_check(const struct egress_rec *r)
{
  return (r->magic ^ r->epoch ^ (uint64_t)r->pos ^ r->next_seq) * 0x9e3779b97f4a7c15ULL + 3;
}

/* Hold mode: release A's ring up to the first frame of the oldest message
 * B has not acknowledged (held, or being read), recording first where the
 * link's numbering stands there. A message longer than the ring cannot
 * be held whole (its last frames need the room its first ones take): its
 * frames are released as they are read, when it is the oldest. */
static void egress_release_held(struct myelon_bridge *b)
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
    logmsg(b, "state file %s: %s; A's ring is not released", b->state_path, strerror(errno));
    return;
  }
  dmp_consumer_release_to(b->l0, low - 1);
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
  size_t n = bridge_encode_hello(m, &w);
  int rc = send_to(b, NULL, 0, m, n);
  return rc == -EAGAIN ? 0 : rc; /* not connected yet: the next retry sends it */
}

/* The ring's geometry, read as an inspector reads it (no consumer entry):
 * the HELLO needs it, and a link the ingress refuses must leave nothing
 * on A's ring (a durable entry would gate the producer for good). The
 * frame format and capacity are those whose type tag the ring carries. */
static int egress_probe(struct myelon_bridge *b, int64_t timeout_ns)
{
  int64_t deadline = now_ns() + (timeout_ns > 0 ? timeout_ns : 0);
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
      b->cap = st->capacity;
      b->tag = st->type_tag;
      b->epoch = st->epoch;
      dmp_inspect_close(in);
      if (!found)
        return fail(b, -MYELON_E_FORMAT, "ring %s is not a framed (Layer 1) ring: its type tag %#" PRIx64
                    " names no frame format and capacity", b->ring, b->tag);
      return 0;
    }
    dmp_inspect_close(in);
    if (now_ns() >= deadline)
      return fail(b, rc < 0 ? rc : -DMP_E_OWNERDEAD, "ring %s: %s", b->ring,
                  rc < 0 ? dmp_last_error() : "its producer is not running");
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
}

/* Hold mode, after a restart: the frames between the durable cursor and
 * the recorded release point belong to messages B acknowledged (the
 * record is written before the release): step over them. */
static void egress_skip_acked(struct myelon_bridge *b)
{
  int64_t skipped = 0;
  while (dmp_consumer_next(b->l0) <= b->rec.pos) {
    const void *slot;
    int64_t seq;
    if (dmp_consumer_try_peek(b->l0, &slot, &seq) != 0)
      break; /* cannot be: those frames were published */
    skipped++;
  }
  if (dmp_consumer_next(b->l0) - 1 > dmp_consumer_sequence(b->l0))
    dmp_consumer_release_to(b->l0, dmp_consumer_next(b->l0) - 1);
  logmsg(b, "resuming ring %s after frame %" PRId64 " (message %" PRIu64 " next; %" PRId64
         " acknowledged frames stepped over)", b->ring, b->rec.pos, b->rec.next_seq, skipped);
}

/* Attach as the durable consumer once the ingress accepted the link. */
static int egress_attach(struct myelon_bridge *b)
{
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
    return fail(b, rc, "attach to ring %s as %s: %s (%s)", b->ring, b->id, myelon_strerror(-rc), dmp_last_error());
  struct dmp_consumer *c = myelon_consumer_ring(b->cons);
  if (dmp_consumer_epoch(c) != b->epoch || dmp_consumer_capacity(c) != b->cap)
    return fail(b, -DMP_E_OWNERDEAD, "ring %s was created anew between the handshake and the attach", b->ring);
  if (b->hold) {
    b->l0 = c;
    myelon_reasm_reset(&b->ra);
    if (b->resume && b->rec.epoch == b->epoch)
      egress_skip_acked(b);
    b->resume = false;
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
      logmsg(b, "messages %" PRIu64 " .. %" PRIu64 " were lost in the crash of the previous egress (longer than "
             "ring %s, they could not be held until acknowledged)", next, have - 1, b->ring);
      b->st.errors += have - next;
      b->st.next_seq = have = next;
    }
    if (b->seq_known && next < have)
      return fail(b, -EPROTO,
                  "the ingress expects message %" PRIu64 " but this egress already dropped it as acknowledged "
                  "(its state file was lost or rolled back): cannot resume without loss", next);
    /* A fresh egress continues the ingress's numbering. One that resumed
     * from its state file keeps its own: B may have applied messages
     * whose acknowledgement it never saw, which it reads again from A's
     * ring under their old numbers, and the ingress drops as duplicates. */
    if (b->hcount == 0 && (!b->seq_known || (b->st.next_seq < next && !b->hold)))
      b->st.next_seq = next;
  }
  if (b->cons == NULL) {
    int rc = egress_attach(b);
    if (rc < 0)
      return rc;
  }
  b->seq_known = true;
  b->hs = HS_RUN;
  b->hsent = 0;
  for (uint32_t i = 0; i < b->hcount; i++)
    held_at(b, i)->sent_ns = 0;
  b->last_progress_ns = now;
  b->st.handshakes++;
  if (b->st.handshakes > 1)
    logmsg(b, "resumed at message %" PRIu64 " (%u in flight resent)", b->hcount ? b->held[b->hhead].seq : b->st.next_seq,
           b->hcount);
  return 0;
}

static int egress_incoming(struct myelon_bridge *b, int64_t now)
{
  for (int i = 0; i < 1024; i++) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, b->sock, ZMQ_DONTWAIT) < 0) {
      int e = zmq_err_again();
      zmq_msg_close(&msg);
      return e == EAGAIN ? 0 : fail(b, -EPROTO, "receive: %s", zmq_strerror(e));
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
        if (b->hs == HS_RUN)
          egress_acked(b, w.seq, now);
        break;
      case MYELON_BRIDGE_RESYNC:
        if (b->hs == HS_RUN) {
          b->hs = HS_HELLO;
          b->next_hello_ns = now;
        }
        break;
      case MYELON_BRIDGE_REFUSE:
        b->st.refused++;
        rc = fail(b, -ECONNREFUSED, "the ingress refused the link: %.*s", (int)w.reason_len, w.reason);
        logmsg(b, "%s", b->err);
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
        logmsg(b, "disconnected from %s; reconnecting", b->endpoint);
      b->hs = HS_HELLO;
      b->next_hello_ns = now;
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      return fail(b, -EACCES, "the ingress at %s refused our CURVE key (ZAP status %u): wrong --key, or not the "
                  "key the ingress was given as --peer-key", b->endpoint, value);
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      if (b->curve)
        return fail(b, -EACCES, "CURVE handshake with %s failed (event %u): wrong --peer-key (the ingress's "
                    "public key), or the ingress is not using CURVE", b->endpoint, event);
      break;
    default:
      break;
    }
  }
}

/* Copy a message into the window. */
static int egress_hold_msg(struct myelon_bridge *b, const void *data, size_t len, uint8_t kind, int64_t first)
{
  uint8_t *buf = malloc(MYELON_BRIDGE_DATA_HEADER + (len ? len : 1));
  if (buf == NULL)
    return fail(b, -ENOMEM, "out of memory copying a %zu-byte message", len);
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

/* A message lost on A for every reader (truncated, malformed, too big). */
static void egress_lost_on_a(struct myelon_bridge *b)
{
  b->st.errors++;
  myelon_reasm_reset(&b->ra);
}

/* Hold mode: one frame into the reassembly. 1: a message was taken into
 * the window, 0: more frames needed (or the frame was dropped). */
static int egress_hold_frame(struct myelon_bridge *b, const void *slot, int64_t seq)
{
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
    return egress_hold_msg(b, f.data, f.len, f.kind, seq);
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
      logmsg(b, "a message of %" PRIu64 " bytes is longer than ring %s (%" PRIu64 " frames): it cannot be held "
             "until acknowledged, so a crash of this egress before B acknowledges such a message loses it "
             "(logged once)", b->ra.total, b->ring, b->cap);
    }
  }
  if (rc == 0)
    return 0;
  return egress_hold_msg(b, b->ra.buf, b->ra.len, b->ra.kind, was_active ? b->cur_first : seq);
}

/* Hold mode's egress_take(): frames peeked at Layer 0 stay gated until
 * egress_release_held(). */
static int egress_take_hold(struct myelon_bridge *b, int64_t timeout_ns)
{
  bool waited = false;
  int taken = 0;
  /* At most a ring of frames a call, as myelon_consumer_try_recv(). */
  for (uint64_t budget = b->cap; budget > 0 && taken == 0; budget--) {
    const void *slot;
    int64_t seq;
    int rc = dmp_consumer_try_peek(b->l0, &slot, &seq);
    if (rc == -EAGAIN && !waited && timeout_ns >= 0) {
      waited = true;
      int64_t n = dmp_consumer_wait(b->l0, timeout_ns);
      if (n == -DMP_E_OWNERDEAD) {
        if (b->ra.active)
          egress_lost_on_a(b); /* cut short by the producer's death, for every reader */
        if (!b->producer_gone)
          logmsg(b, "the producer of %s is gone; delivering the %u messages in flight, then stopping", b->ring,
                 b->hcount);
        b->producer_gone = true;
        break;
      }
      if (n < 0 && n != -ETIMEDOUT)
        return fail(b, (int)n, "reading ring %s: %s", b->ring, myelon_strerror((int)-n));
      budget++;
      continue;
    }
    if (rc == -EAGAIN)
      break;
    if (rc < 0)
      return fail(b, rc, "reading ring %s: %s", b->ring, myelon_strerror(-rc));
    taken = egress_hold_frame(b, slot, seq);
    if (taken < 0)
      return taken;
  }
  /* Frames of dropped messages, and of one longer than the ring, go back now. */
  egress_release_held(b);
  return taken;
}

/* Take one message from the ring into the window (waiting up to
 * `timeout_ns`). Returns 1 if one was taken, 0 if none, < 0 on error. */
static int egress_take(struct myelon_bridge *b, int64_t timeout_ns)
{
  if (b->hold)
    return egress_take_hold(b, timeout_ns);
  struct myelon_msg m;
  int rc = myelon_consumer_recv(b->cons, &m, timeout_ns);
  if (rc == -ETIMEDOUT || rc == -EAGAIN)
    return 0;
  if (rc == -DMP_E_OWNERDEAD) {
    if (!b->producer_gone)
      logmsg(b, "the producer of %s is gone; delivering the %u messages in flight, then stopping", b->ring,
             b->hcount);
    b->producer_gone = true;
    return 0;
  }
  if (rc == -MYELON_E_TRUNCATED || rc == -MYELON_E_MALFORMED || rc == -MYELON_E_TOOBIG) {
    b->st.errors++; /* lost on A for every reader; nothing to forward */
    return 0;
  }
  if (rc < 0)
    return fail(b, rc, "reading ring %s: %s", b->ring, myelon_strerror(-rc));
  uint8_t *buf = malloc(MYELON_BRIDGE_DATA_HEADER + (m.len ? m.len : 1));
  if (buf == NULL) {
    return fail(b, -ENOMEM, "out of memory copying a %zu-byte message", m.len);
  }
  bridge_encode_data_header(buf, b->st.next_seq, m.kind);
  memcpy(buf + MYELON_BRIDGE_DATA_HEADER, m.data, m.len);
  /* Released only now that the copy is ours: from here the window, not the
   * ring, holds the message until B acknowledges it. */
  myelon_consumer_release(b->cons);
  struct held *h = held_at(b, b->hcount);
  h->buf = buf;
  h->len = m.len;
  h->seq = b->st.next_seq++;
  h->sent_ns = 0;
  b->hcount++;
  b->hbytes += m.len;
  return 1;
}

static bool egress_room(const struct myelon_bridge *b)
{
  return b->hcount == 0 || (b->hcount < b->window && b->hbytes < b->window_bytes);
}

static int egress_send_pending(struct myelon_bridge *b, int64_t now)
{
  while (b->hsent < b->hcount) {
    struct held *h = held_at(b, b->hsent);
    int rc = send_to(b, NULL, 0, h->buf, MYELON_BRIDGE_DATA_HEADER + h->len);
    if (rc == -EAGAIN)
      return 0; /* the DEALER blocks (not connected, or its queue is full): back-pressure, retry later */
    if (rc < 0)
      return fail(b, -EPROTO, "send: %s", zmq_strerror(-rc));
    if (b->hsent == 0 && b->last_progress_ns < now - RESYNC_AFTER_NS)
      b->last_progress_ns = now;
    h->sent_ns = now;
    b->hsent++;
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
    (void)send_to(b, NULL, 0, m, sizeof m);
    b->end_sent = true;
  }
  if (b->once)
    return fail(b, -DMP_E_OWNERDEAD, "the producer of %s is gone and every message was acknowledged", b->ring);
  /* Our durable entry dies with the old ring; the new ring gets a new one. */
  egress_release_held(b);
  myelon_consumer_close(b->cons);
  b->cons = NULL;
  b->l0 = NULL;
  b->old_epoch = b->epoch;
  b->skip_old = true;
  b->producer_gone = false;
  b->end_sent = false;
  b->hs = HS_WAIT_RING;
  b->next_probe_ns = now;
  logmsg(b, "every message of ring %s (epoch %" PRIu64 ") was delivered; waiting for its next producer", b->ring,
         b->old_epoch);
  return 0;
}

static int egress_pass(struct myelon_bridge *b, int64_t ring_wait_ns)
{
  int64_t now = now_ns();
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
    if (rc == -MYELON_E_FORMAT)
      return rc; /* the new producer's ring is not a framed ring */
    if (rc < 0)
      return 0; /* not there yet */
    logmsg(b, "ring %s has a new producer (epoch %" PRIu64 "); handshaking", b->ring, b->epoch);
    b->skip_old = false;
    b->hs = HS_HELLO;
    b->next_hello_ns = now;
  }
  if (b->hs == HS_HELLO) {
    if (now >= b->next_hello_ns) {
      rc = egress_send_hello(b);
      if (rc < 0)
        return fail(b, -EPROTO, "send HELLO: %s", zmq_strerror(-rc));
      b->next_hello_ns = now + HELLO_EVERY_NS;
    }
    return 0;
  }
  if ((rc = egress_send_pending(b, now)) < 0)
    return rc;
  int64_t wait = ring_wait_ns;
  while (!b->producer_gone && egress_room(b)) {
    rc = egress_take(b, wait);
    if (rc < 0)
      return rc;
    if (rc == 0)
      break;
    wait = 0;
    if ((rc = egress_send_pending(b, now_ns())) < 0)
      return rc;
  }
  now = now_ns();
  if (b->hsent > 0 && now - b->last_progress_ns > RESYNC_AFTER_NS) {
    logmsg(b, "no acknowledgement for %lld ms; handshaking again", (long long)(RESYNC_AFTER_NS / 1000000));
    b->hs = HS_HELLO;
    b->next_hello_ns = now;
  }
  if (b->hs == HS_RUN && !b->producer_gone && now - b->last_send_ns >= (int64_t)b->heartbeat_ms * 1000000) {
    /* Nothing sent for a heartbeat (idle, or the window is full): tell the
     * ingress we are alive, so that its silence timer means a dead link. */
    uint8_t m[MYELON_BRIDGE_HEADER];
    bridge_put_header(m, MYELON_BRIDGE_PING);
    rc = send_to(b, NULL, 0, m, sizeof m);
    if (rc < 0 && rc != -EAGAIN)
      return fail(b, -EPROTO, "send PING: %s", zmq_strerror(-rc));
  }
  if (b->producer_gone && b->hcount == 0)
    return egress_producer_ended(b, now);
  return 0;
}

/* Hold mode: open (or create) the egress's state file and read where a
 * previous egress left A's ring. A record of another ring (A's producer
 * restarted meanwhile) only says nothing is to be skipped. */
static int egress_state_open(struct myelon_bridge *b, const char *path)
{
  b->state_path = strdup(path);
  if (b->state_path == NULL)
    return -ENOMEM;
  b->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (b->state_fd < 0)
    return fail(b, -errno, "state file %s: %s", path, strerror(errno));
  int rc = myelon_reasm_init(&b->ra, b->max_message);
  if (rc < 0)
    return fail(b, rc, "reassembly buffer: %s", strerror(-rc));
  b->hold = true;
  struct egress_rec r;
  ssize_t n = pread(b->state_fd, &r, sizeof r, 0);
  if (n == 0)
    return 0; /* a new state file: the ring's own durable position is all there is */
  if (n != (ssize_t)sizeof r || r.magic != EGRESS_MAGIC || r.check != egress_rec_check(&r))
    return fail(b, -EINVAL, "state file %s is not a myelon-bridge egress state file (or is damaged); remove it to "
                "start over (messages B applied but did not acknowledge may then be applied twice)", path);
  b->rec = r;
  if (r.epoch == b->epoch) {
    b->resume = true;
    b->seq_known = true;
    b->st.next_seq = r.next_seq;
  }
  return 0;
}

static int egress_run(struct myelon_bridge *b, int64_t timeout_ns)
{
  int64_t deadline = now_ns() + (timeout_ns > 0 ? timeout_ns : 0);
  for (;;) {
    bool ring_wait = b->hs == HS_RUN && !b->producer_gone && egress_room(b);
    int rc = egress_pass(b, ring_wait ? 200000 : 0);
    if (rc < 0)
      return rc;
    int64_t left = deadline - now_ns();
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
        return fail(b, -EPROTO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
      }
    }
  }
}

static int open_failed(struct myelon_bridge *b, int rc)
{
  memcpy(open_err, b->err, sizeof open_err);
  myelon_bridge_close(b);
  return rc;
}

static struct myelon_bridge *bridge_new(bool egress)
{
  struct myelon_bridge *b = calloc(1, sizeof *b);
  if (b != NULL) {
    b->egress = egress;
    b->state_fd = -1;
  }
  return b;
}

static int open_socket(struct myelon_bridge *b, int type)
{
  b->ctx = zmq_ctx_new();
  if (b->ctx == NULL)
    return fail(b, -EPROTO, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
  b->sock = zmq_socket(b->ctx, type);
  if (b->sock == NULL)
    return fail(b, -EPROTO, "zmq_socket: %s", zmq_strerror(zmq_errno()));
  return common_sockopts(b, b->sock);
}

MYELON_API int myelon_bridge_egress_open(const struct myelon_bridge_config *cfg, struct myelon_bridge **out)
{
  if (out == NULL || cfg == NULL)
    return -EINVAL;
  *out = NULL;
  struct myelon_bridge *b = bridge_new(true);
  if (b == NULL)
    return -ENOMEM;
  int rc = check_common(b, cfg);
  if (rc == 0 && (cfg->window == 0 || cfg->window > (1u << 20)))
    rc = fail(b, -EINVAL, "cfg.window must be 1 .. 1048576 messages");
  if (rc == 0 && (cfg->max_message == 0 || cfg->max_message > MYELON_MAX_MESSAGE_LIMIT))
    rc = fail(b, -EINVAL, "cfg.max_message must be 1 .. %u", MYELON_MAX_MESSAGE_LIMIT);
  if (rc == 0 && (b->id = strdup(cfg->consumer_id ? cfg->consumer_id : "bridge")) == NULL)
    rc = -ENOMEM;
  uint8_t sec[32], pub_ours[41];
  char sec_z85[41], peer_z85[41];
  if (rc == 0 && b->curve) {
    rc = read_key(b, cfg->secret_key_file, true, sec, sec_z85);
    if (rc == 0)
      rc = read_key(b, cfg->peer_key_file, false, b->peer_pub, peer_z85);
    if (rc == 0 && zmq_curve_public((char *)pub_ours, sec_z85) != 0)
      rc = fail(b, -EACCES, "secret key file %s: cannot derive its public key", cfg->secret_key_file);
  }
  if (rc == 0) {
    b->window = cfg->window;
    b->once = (cfg->flags & MYELON_BRIDGE_ONCE) != 0;
    b->window_bytes = cfg->window_bytes ? cfg->window_bytes : MYELON_BRIDGE_DEFAULT_WINDOW_BYTES;
    b->max_message = cfg->max_message;
    b->held = calloc(b->window, sizeof *b->held);
    if (b->held == NULL)
      rc = -ENOMEM;
  }
  if (rc == 0)
    rc = egress_probe(b, cfg->attach_timeout_ns);
  if (rc == 0 && cfg->state_path != NULL)
    rc = egress_state_open(b, cfg->state_path);
  if (rc == 0)
    rc = open_socket(b, ZMQ_DEALER);
  if (rc == 0) {
    /* IMMEDIATE: queue nothing for a connection that is not up, so
     * nothing sent before a reconnect reaches a restarted ingress ahead
     * of our HELLO. SNDHWM: the window bounds what we queue; the DEALER
     * blocks (EAGAIN here) at the mark, it never drops. */
    rc = setopt_int(b, b->sock, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE");
    rc = rc ? rc : setopt_int(b, b->sock, ZMQ_SNDHWM, (int)(b->window * 4 + 64), "ZMQ_SNDHWM");
  }
  if (rc == 0 && b->curve) {
    if (zmq_setsockopt(b->sock, ZMQ_CURVE_SERVERKEY, b->peer_pub, 32) != 0 ||
        zmq_setsockopt(b->sock, ZMQ_CURVE_PUBLICKEY, pub_ours, 40) != 0 ||
        zmq_setsockopt(b->sock, ZMQ_CURVE_SECRETKEY, sec, 32) != 0)
      rc = fail(b, -EACCES, "CURVE keys refused by libzmq: %s", zmq_strerror(zmq_errno()));
  }
  explicit_bzero(sec, sizeof sec);
  explicit_bzero(sec_z85, sizeof sec_z85);
  if (rc == 0) {
    char monep[64];
    snprintf(monep, sizeof monep, "inproc://myelon-bridge-mon-%p", (void *)b);
    if (zmq_socket_monitor(b->sock, monep,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        (b->mon = zmq_socket(b->ctx, ZMQ_PAIR)) == NULL || zmq_connect(b->mon, monep) != 0)
      rc = fail(b, -EPROTO, "socket monitor: %s", zmq_strerror(zmq_errno()));
  }
  if (rc == 0 && zmq_connect(b->sock, b->endpoint) != 0)
    rc = fail(b, -EPROTO, "connect %s: %s", b->endpoint, zmq_strerror(zmq_errno()));
  if (rc < 0)
    return open_failed(b, rc);
  b->hs = HS_HELLO;
  b->next_hello_ns = 0;
  *out = b;
  return 0;
}

/* ---- ingress ---- */

static uint64_t state_check(const struct state_rec *r)
{
  return (r->magic ^ r->epoch ^ r->seq ^ (uint64_t)r->before ^ r->frames) * 0x9e3779b97f4a7c15ULL + 1;
}

static int state_write(struct myelon_bridge *b, uint64_t seq, int64_t before, uint64_t frames)
{
  if (b->state_fd < 0)
    return 0;
  struct state_rec r = {STATE_MAGIC, b->epoch, seq, before, frames, 0};
  r.check = state_check(&r);
  /* No fsync: this guards against the process dying (kill -9), whose
   * page-cache write survives it; a host crash loses the ring too. */
  if (pwrite(b->state_fd, &r, sizeof r, 0) != (ssize_t)sizeof r)
    return fail(b, -EIO, "state file %s: %s", b->state_path, strerror(errno));
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
    return fail(b, -EINVAL, "state file %s is not a myelon-bridge state file (or is damaged); remove it to start "
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
    logmsg(b, "state file %s: the ring of message %" PRIu64 " is gone; applying it again", b->state_path, r.seq);
    *next = r.seq;
  } else {
    /* Every frame of r.seq published: it was applied. Fewer: its readers
     * saw it truncated or not at all, so it is applied again. */
    *next = pos >= r.before + (int64_t)r.frames - 1 ? r.seq + 1 : r.seq;
  }
  return 0;
}

/* Create B's ring (at start, and again after ingress_ring_close() when a
 * link comes back or A's producer restarted: a new epoch, which B's
 * readers follow as they follow a local producer restart). */
static int ingress_ring_open(struct myelon_bridge *b)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = b->ring;
  pc.ring.capacity = b->cap;
  pc.format = b->fmt;
  pc.frame_capacity = b->fc;
  pc.max_message = b->max_message;
  int rc = myelon_producer_create(&pc, &b->prod);
  if (rc < 0) {
    b->prod = NULL;
    return fail(b, rc, "create ring %s: %s (%s)", b->ring, myelon_strerror(-rc), dmp_last_error());
  }
  struct dmp_producer *p = myelon_producer_ring(b->prod);
  b->fc = myelon_producer_frame_capacity(b->prod);
  b->cap = dmp_producer_capacity(p);
  b->tag = myelon_frame_tag(b->fmt, b->fc);
  b->readers_ready = b->wait_readers == 0;
  /* Our ring's epoch, for the state file: read as any inspector would. */
  struct dmp_inspect *in = NULL;
  const struct dmp_ring_stat *st = NULL;
  if (dmp_inspect_open(DMP_BACKEND_SHM, b->ring, &in) == 0 && dmp_inspect_sample(in, &st) == 0)
    b->epoch = st->epoch;
  else if (b->state_fd >= 0)
    rc = fail(b, -EIO, "cannot read the epoch of ring %s (%s)", b->ring, dmp_last_error());
  dmp_inspect_close(in);
  return rc;
}

/* Close B's ring and end the session: B's readers read what was published,
 * then get -DMP_E_OWNERDEAD, as when a local producer dies. Only between
 * messages (never with one half published): the caller checks
 * have_pending. The state file records a clean end, so the next ring
 * resumes after the last message applied. */
static void ingress_ring_close(struct myelon_bridge *b, const char *why)
{
  if (b->prod == NULL)
    return;
  if (b->state_fd >= 0 && b->st.next_seq != MYELON_BRIDGE_NEXT_ANY)
    state_write(b, b->st.next_seq - 1, 0, 0);
  myelon_producer_close(b->prod);
  b->prod = NULL;
  b->readers_ready = false;
  b->active_len = 0;
  b->ack_due = false;
  logmsg(b, "%s: closed ring %s (its readers see the producer gone); a new one is created when the link is back", why,
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
    logmsg(b, "refused a peer at %s: its CURVE key is not the --peer-key", addr);
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

static void reject(struct myelon_bridge *b, const char *why)
{
  b->st.rejected++;
  int64_t now = now_ns();
  if (now - b->last_log_ns >= LOG_EVERY_NS) {
    b->last_log_ns = now;
    logmsg(b, "dropped a message: %s (%" PRIu64 " dropped so far)", why, b->st.rejected);
  }
}

static bool is_active(const struct myelon_bridge *b, const uint8_t *id, size_t len)
{
  return b->active_len != 0 && len == b->active_len && memcmp(id, b->active_id, len) == 0;
}

static void send_resync(struct myelon_bridge *b, const uint8_t *id, size_t len)
{
  int64_t now = now_ns();
  if (now - b->last_resync_ns < RESYNC_EVERY_NS)
    return;
  b->last_resync_ns = now;
  uint8_t m[MYELON_BRIDGE_HEADER];
  bridge_put_header(m, MYELON_BRIDGE_RESYNC);
  send_to(b, id, len, m, sizeof m);
}

static int ingress_hello(struct myelon_bridge *b, const uint8_t *id, size_t len, const struct myelon_bridge_wire *w)
{
  char why[MYELON_BRIDGE_REASON_MAX + 1] = "";
  if (w->format != (uint32_t)b->fmt)
    snprintf(why, sizeof why, "format: egress ring %s, ingress ring %s",
             w->format == MYELON_FRAME_ALIGNED ? "aligned" : "compact",
             b->fmt == MYELON_FRAME_ALIGNED ? "aligned" : "compact");
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
    logmsg(b, "refused a link: %s", why);
    uint8_t m[MYELON_BRIDGE_HEADER + MYELON_BRIDGE_REASON_MAX];
    size_t n = bridge_encode_refuse(m, why);
    send_to(b, id, len, m, n);
    return 0;
  }
  if (b->prod != NULL && b->src_known && w->epoch != b->src_epoch) {
    /* A's producer restarted (its END was lost, or the egress restarted
     * too): B's readers see a restart as well. */
    if (b->have_pending)
      return 0; /* finish the message in hand first; the egress retries */
    ingress_ring_close(b, "the producer on A restarted (new epoch)");
  }
  if (b->prod == NULL) {
    int rc = ingress_ring_open(b);
    if (rc < 0)
      return rc;
  }
  if (!b->readers_ready &&
      dmp_producer_wait_for_consumers(myelon_producer_ring(b->prod), b->wait_readers, 0) > 0)
    b->readers_ready = true;
  if (!b->readers_ready)
    return 0; /* not yet (the geometry is fine): the egress retries */
  b->src_epoch = w->epoch;
  b->src_known = true;
  b->last_rx_ns = now_ns();
  /* The newest HELLO wins: an egress that restarted (or reconnected under
   * a new routing id) replaces its older self, whose connection may not
   * have timed out yet. */
  memcpy(b->active_id, id, len);
  b->active_len = len;
  b->st.handshakes++;
  uint8_t m[MYELON_BRIDGE_SEQ_SIZE];
  bridge_encode_seq(m, MYELON_BRIDGE_WELCOME, b->st.next_seq);
  send_to(b, id, len, m, sizeof m);
  return 0;
}

/* Publish the pending DATA message into the ring. 1: applied (or a
 * duplicate skipped), 0: no room yet (still pending), < 0: error. */
static int ingress_apply(struct myelon_bridge *b, int64_t timeout_ns)
{
  struct myelon_bridge_wire w;
  if (myelon_bridge_wire_parse(zmq_msg_data(&b->pending), zmq_msg_size(&b->pending), &w) != 0)
    return 1; /* cannot happen: parsed before it was kept */
  int64_t before = dmp_producer_sequence(myelon_producer_ring(b->prod)) + 1;
  uint64_t frames = myelon_frame_count(b->fmt, b->fc, w.len);
  int rc = state_write(b, w.seq, before, frames);
  if (rc < 0)
    return rc;
  /* A message longer than the ring goes out in batches: give it time for
   * the readers to drain between them rather than cut it short. */
  int64_t t = frames > b->cap ? 10LL * 1000000000 : timeout_ns;
  rc = myelon_producer_publish(b->prod, w.payload, w.len, w.kind, t);
  if (rc == -ETIMEDOUT) {
    if (dmp_producer_sequence(myelon_producer_ring(b->prod)) + 1 != before)
      logmsg(b, "message %" PRIu64 " was cut short (readers too slow); publishing it again", w.seq);
    return 0;
  }
  if (rc < 0)
    return fail(b, rc, "publish to ring %s: %s", b->ring, myelon_strerror(-rc));
  b->st.next_seq = w.seq + 1;
  b->st.messages++;
  b->st.bytes += w.len;
  b->ack_due = true;
  return 1;
}

static int ingress_data(struct myelon_bridge *b, const uint8_t *id, size_t len, zmq_msg_t *msg,
                        const struct myelon_bridge_wire *w)
{
  if (!is_active(b, id, len)) {
    send_resync(b, id, len); /* a restarted ingress, or a stale session: ask for a HELLO */
    return 0;
  }
  if (w->len > b->max_message) {
    reject(b, "DATA longer than max_message");
    return 0;
  }
  if (b->st.next_seq != MYELON_BRIDGE_NEXT_ANY && w->seq < b->st.next_seq) {
    b->st.duplicates++; /* resent after a reconnect; applied already */
    b->ack_due = true;
    return 0;
  }
  if (b->st.next_seq != MYELON_BRIDGE_NEXT_ANY && w->seq > b->st.next_seq) {
    send_resync(b, id, len); /* a gap: never apply out of order */
    return 0;
  }
  zmq_msg_init(&b->pending);
  zmq_msg_move(&b->pending, msg);
  b->have_pending = true;
  int rc = ingress_apply(b, 0);
  if (rc != 0) {
    zmq_msg_close(&b->pending);
    b->have_pending = false;
  }
  return rc < 0 ? rc : 0;
}

static int ingress_incoming(struct myelon_bridge *b)
{
  for (int i = 0; i < 256 && !b->have_pending; i++) {
    zmq_msg_t idm, msg;
    zmq_msg_init(&idm);
    if (zmq_msg_recv(&idm, b->sock, ZMQ_DONTWAIT) < 0) {
      int e = zmq_err_again();
      zmq_msg_close(&idm);
      return e == EAGAIN ? 0 : fail(b, -EPROTO, "receive: %s", zmq_strerror(e));
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
    int rc = 0;
    struct myelon_bridge_wire w;
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
    } else if (myelon_bridge_wire_parse(zmq_msg_data(&msg), zmq_msg_size(&msg), &w) != 0) {
      reject(b, "not a bridge message (bad magic, version, type, size or padding)");
    } else if (w.type == MYELON_BRIDGE_HELLO) {
      rc = ingress_hello(b, id, idlen, &w);
    } else if (w.type == MYELON_BRIDGE_DATA) {
      if (is_active(b, id, idlen))
        b->last_rx_ns = now_ns();
      rc = ingress_data(b, id, idlen, &msg, &w);
    } else if (w.type == MYELON_BRIDGE_PING) {
      if (is_active(b, id, idlen)) {
        b->last_rx_ns = now_ns();
        b->ack_due = true; /* the answer: the egress hears we are alive */
      } else {
        send_resync(b, id, idlen);
      }
    } else if (w.type == MYELON_BRIDGE_END) {
      if (is_active(b, id, idlen) && w.epoch == b->src_epoch)
        ingress_ring_close(b, "the producer on A is gone");
    } else {
      reject(b, "a message only an ingress sends");
    }
    zmq_msg_close(&msg);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static void ingress_ack(struct myelon_bridge *b)
{
  if (!b->ack_due || b->active_len == 0)
    return;
  uint8_t m[MYELON_BRIDGE_SEQ_SIZE];
  bridge_encode_seq(m, MYELON_BRIDGE_ACK, b->st.next_seq);
  /* Acks are cumulative: one lost to a full pipe is made good by the next. */
  send_to(b, b->active_id, b->active_len, m, sizeof m);
  b->ack_due = false;
}

static int ingress_run(struct myelon_bridge *b, int64_t timeout_ns)
{
  int64_t deadline = now_ns() + (timeout_ns > 0 ? timeout_ns : 0);
  for (;;) {
    if (!b->readers_ready && b->prod != NULL &&
        dmp_producer_wait_for_consumers(myelon_producer_ring(b->prod), b->wait_readers, 0) > 0)
      b->readers_ready = true;
    int rc = 0;
    if (b->zap != NULL)
      zap_handle(b);
    if (b->have_pending) {
      rc = ingress_apply(b, PUBLISH_STEP_NS);
      if (rc != 0) {
        zmq_msg_close(&b->pending);
        b->have_pending = false;
      }
      /* We were not reading the socket meanwhile: silence from the egress
       * counts from now. */
      b->last_rx_ns = now_ns();
    }
    if (rc >= 0)
      rc = ingress_incoming(b);
    ingress_ack(b);
    if (rc < 0)
      return rc;
    if (b->active_len != 0 && !b->have_pending && now_ns() - b->last_rx_ns > (int64_t)b->timeout_ms * 1000000) {
      char why[96];
      snprintf(why, sizeof why, "nothing from the egress for %d ms (dead link, egress or host)", b->timeout_ms);
      ingress_ring_close(b, why);
    }
    int64_t left = deadline - now_ns();
    if (left <= 0)
      return 0;
    if (!b->have_pending) {
      zmq_pollitem_t items[2] = {{b->sock, 0, ZMQ_POLLIN, 0}, {b->zap, 0, ZMQ_POLLIN, 0}};
      long ms = left / 1000000 + 1;
      if (!b->readers_ready && ms > 10)
        ms = 10;
      if (zmq_poll(items, b->zap ? 2 : 1, ms > 50 ? 50 : ms) < 0) {
        if (zmq_errno() == EINTR)
          return 0;
        return fail(b, -EPROTO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
      }
    }
  }
}

MYELON_API int myelon_bridge_ingress_open(const struct myelon_bridge_config *cfg, struct myelon_bridge **out)
{
  if (out == NULL || cfg == NULL)
    return -EINVAL;
  *out = NULL;
  struct myelon_bridge *b = bridge_new(false);
  if (b == NULL)
    return -ENOMEM;
  int rc = check_common(b, cfg);
  uint8_t sec[32];
  if (rc == 0 && b->curve) {
    rc = read_key(b, cfg->secret_key_file, true, sec, NULL);
    if (rc == 0)
      rc = read_key(b, cfg->peer_key_file, false, b->peer_pub, NULL);
  }
  b->fmt = cfg->format;
  b->max_message = cfg->max_message;
  b->cap = cfg->ring_capacity;
  b->wait_readers = cfg->wait_readers;
  b->readers_ready = cfg->wait_readers == 0;
  b->st.next_seq = MYELON_BRIDGE_NEXT_ANY;
  if (rc == 0 && cfg->state_path != NULL) {
    b->state_path = strdup(cfg->state_path);
    if (b->state_path == NULL)
      rc = -ENOMEM;
    else if ((b->state_fd = open(b->state_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
      rc = fail(b, -errno, "state file %s: %s", b->state_path, strerror(errno));
    else
      rc = state_recover(b, &b->st.next_seq);
  }
  b->fc = cfg->frame_capacity;
  if (rc == 0)
    rc = ingress_ring_open(b);
  if (rc == 0)
    rc = open_socket(b, ZMQ_ROUTER);
  if (rc == 0) {
    /* A message larger than any DATA we accept ends that connection in
     * ZeroMQ itself, before we buffer it. */
    int64_t maxsz = (int64_t)b->max_message + MYELON_BRIDGE_DATA_HEADER;
    if (zmq_setsockopt(b->sock, ZMQ_MAXMSGSIZE, &maxsz, sizeof maxsz) != 0)
      rc = fail(b, -EPROTO, "ZMQ_MAXMSGSIZE: %s", zmq_strerror(zmq_errno()));
  }
  if (rc == 0 && b->curve) {
    /* The ZAP handler must be bound before the socket that uses it. */
    b->zap = zmq_socket(b->ctx, ZMQ_REP);
    if (b->zap == NULL || zmq_bind(b->zap, "inproc://zeromq.zap.01") != 0)
      rc = fail(b, -EPROTO, "ZAP handler: %s", zmq_strerror(zmq_errno()));
    int one = 1;
    if (rc == 0 && (zmq_setsockopt(b->sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
                    zmq_setsockopt(b->sock, ZMQ_CURVE_SECRETKEY, sec, 32) != 0 ||
                    zmq_setsockopt(b->sock, ZMQ_ZAP_DOMAIN, "myelon-bridge", 13) != 0))
      rc = fail(b, -EACCES, "CURVE keys refused by libzmq: %s", zmq_strerror(zmq_errno()));
  }
  explicit_bzero(sec, sizeof sec);
  if (rc == 0 && zmq_bind(b->sock, b->endpoint) != 0)
    rc = fail(b, -EPROTO, "bind %s: %s", b->endpoint, zmq_strerror(zmq_errno()));
  if (rc < 0)
    return open_failed(b, rc);
  *out = b;
  return 0;
}

/* ---- both ---- */

MYELON_API int myelon_bridge_run(struct myelon_bridge *b, int64_t timeout_ns)
{
  if (b == NULL)
    return -EINVAL;
  b->err[0] = '\0';
  return b->egress ? egress_run(b, timeout_ns) : ingress_run(b, timeout_ns);
}

MYELON_API void myelon_bridge_close(struct myelon_bridge *b)
{
  if (b == NULL)
    return;
  if (b->have_pending)
    zmq_msg_close(&b->pending);
  if (b->mon != NULL)
    zmq_close(b->mon);
  if (b->sock != NULL) {
    if (b->egress)
      zmq_socket_monitor(b->sock, NULL, 0);
    zmq_close(b->sock);
  }
  if (b->zap != NULL)
    zmq_close(b->zap);
  /* zmq_ctx_term() returns EINTR when a signal (the CLI's SIGTERM) lands
   * while it waits for ZeroMQ's threads: call it again, or the process
   * may exit with those threads still running (and LeakSanitizer's exit
   * check deadlocks against one of them finishing). */
  if (b->ctx != NULL)
    while (zmq_ctx_term(b->ctx) != 0 && zmq_errno() == EINTR) {
    }
  if (b->held != NULL) {
    while (b->hcount > 0)
      held_free_head(b);
    free(b->held);
  }
  /* Hold mode: what B has not acknowledged stays unreleased (close would
   * release everything peeked), so a restarted egress reads it again. */
  if (b->l0 != NULL)
    dmp_consumer_unpeek(b->l0);
  myelon_consumer_close(b->cons);
  if (b->hold)
    myelon_reasm_fini(&b->ra);
  if (b->prod != NULL && b->state_fd >= 0 && b->st.next_seq != MYELON_BRIDGE_NEXT_ANY)
    state_write(b, b->st.next_seq - 1, 0, 0); /* closed cleanly: next_seq - 1 is applied */
  myelon_producer_close(b->prod);
  if (b->state_fd >= 0)
    close(b->state_fd);
  free(b->endpoint);
  free(b->ring);
  free(b->id);
  free(b->state_path);
  free(b);
}
