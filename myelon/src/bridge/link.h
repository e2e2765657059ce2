/* Internal to libmyelon_bridge: the link handle the egress (egress.c,
 * egress_hold.c) and the ingress (ingress.c) share, and the helpers of
 * bridge.c and keys.c. Needs libzmq (wire.c, which the fuzz targets build
 * without it, includes only bridge_internal.h). */
#ifndef MYELON_BRIDGE_LINK_H
#define MYELON_BRIDGE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <zmq.h>

#include <disruptor_mp/consumer.h>
#include <myelon/bridge.h>

#include "bridge_internal.h"

#define RESYNC_AFTER_NS (2000LL * 1000000)   /* no ack progress this long: handshake again */
#define HELLO_EVERY_NS (200LL * 1000000)     /* HELLO retry while no WELCOME */
#define RESYNC_EVERY_NS (100LL * 1000000)    /* ingress: RESYNC at most this often */
#define LOG_EVERY_NS (1000LL * 1000000)      /* rejected-message log at most once a second */
#define PUBLISH_STEP_NS (50LL * 1000000)     /* ingress: one bounded publish attempt */
#define PROBE_EVERY_NS (10LL * 1000000)      /* egress: look for A's next producer this often */
/* Ingress: acknowledgements are coalesced (ingress_ack()): one is sent
 * once a quarter of the egress's window (messages, or frames of the ring),
 * ACK_BYTES of payload, or ACK_DELAY_NS after the oldest message it
 * covers was applied; a PING (the egress's window is full, or it is idle)
 * and a duplicate are answered at once. */
#define RING_WAIT_HOLD_NS (200LL * 1000)     /* egress: longest wait on A's ring in hold mode */
#define RING_WAIT_MAX_NS (5LL * 1000000)     /* egress: longest wait on A's ring otherwise */
/* Egress: consecutive messages not yet sent go as one BATCH of at most
 * BATCH_MAX bytes (below the ingress's smallest ZMQ_MAXMSGSIZE, 64 KiB):
 * ZeroMQ's per-message work (its pipes, CURVE's box) is then paid once
 * per batch. Nothing waits to fill one: a batch is what accumulated. */
#define BATCH_MAX ((size_t)32 << 10)
#define ACK_DELAY_NS (1LL * 1000000)
#define ACK_BYTES ((size_t)256 << 10)
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
  bool raw;              /* a raw Layer 0 ring, carried slot by slot (or, bytes, record by record) */
  bool bytes;            /* a byte ring (bytes.h): framed (fmt MYELON_FRAME_BYTES) or raw; one record a message */
  uint64_t ring_bytes;   /* byte rings: the ring's bytes (cap is its blocks) */
  uint32_t block;        /* byte rings: the block */
  size_t max_cfg;        /* egress: cfg.max_message (max_message is it, capped by a byte ring's largest) */
  enum myelon_frame_format fmt;
  uint32_t fc;
  uint32_t slot_size, slot_align; /* raw rings */
  uint64_t cap, tag, epoch;
  size_t max_message;    /* raw rings: the slot size */
  /* egress */
  struct myelon_consumer *cons;  /* framed ring */
  struct dmp_consumer *raw_cons; /* raw ring (b->l0 too) */
  /* Hold mode (an egress with a state file): frames are read at Layer 0
   * ahead of what is released; the durable cursor moves only with B's
   * acknowledgements (egress_release_held()). */
  bool hold, resume, oversize_logged;
  struct dmp_consumer *l0;   /* the Layer 0 handle of `cons` (hold mode), or `raw_cons` */
  struct myelon_reasm ra;    /* the message being read */
  int64_t cur_first;         /* Layer 0 sequence of its first frame */
  bool cur_oversize;         /* it has more frames than the ring holds */
  struct egress_rec rec;     /* recovered at open (resume) */
  struct held *held;
  uint32_t window, hhead, hcount, hsent;
  size_t window_bytes, hbytes;
  bool seq_known, producer_gone, once, end_sent, skip_old;
  bool batch_ok;         /* this session's ingress applies BATCH (its FEATURES said so) */
  bool ack_asked;        /* the window is full and a PING asked for an ACK (ingress_ack()) */
  enum hs hs;
  int64_t next_hello_ns, last_progress_ns, last_send_ns, next_probe_ns;
  int64_t hello_since_ns;  /* first unanswered HELLO of this handshake (0: none) */
  bool old_peer_logged;
  uint64_t old_epoch;    /* the ring whose producer ended (skip_old) */
  /* ingress */
  struct myelon_producer *prod; /* framed ring */
  struct dmp_producer *p0;      /* B's ring at Layer 0: prod's, or the raw ring (owned) */
  int state_fd;
  uint32_t wait_readers;
  bool readers_ready, ack_due;
  bool ack_now;          /* answer at once: a PING, a duplicate */
  uint32_t ack_every;    /* messages: a quarter of the egress's window (its HELLO), at least 1 */
  uint64_t unacked, unacked_frames; /* applied since the last ACK */
  size_t unacked_bytes;
  int64_t ack_first_ns;  /* when the oldest of those was applied */
  uint8_t active_id[256];
  size_t active_len;
  int64_t last_resync_ns;
  bool have_pending;     /* a DATA message waiting for room in the ring */
  zmq_msg_t pending;
  /* While one waits (have_pending) the link is still read (ingress.c,
   * "Listening while the ring is full"): what the active egress sends
   * besides PINGs waits here, in arrival order, at most held_max. */
  zmq_msg_t *held_rx;
  uint32_t rx_head, rx_count, rx_alloc, held_max;
  uint64_t pend_seq;     /* its next message to apply (a BATCH's may be past the first) */
  uint32_t pend_left;    /* messages of it not applied yet */
  size_t pend_off;       /* BATCH: that message's record, an offset into its records */
  int64_t last_rx_ns;    /* last message from the active egress (or bytes of one, rx_*) */
  int rx_fd;             /* its TCP connection (ZMQ_SRCFD; -1: unknown or not TCP) */
  struct sockaddr_storage rx_peer; /* that connection's peer, to tell a reused fd */
  socklen_t rx_peer_len;
  uint64_t rx_bytes;     /* the kernel's bytes received on it at the last sample */
  uint32_t rx_segs;      /* and its data segments received (in or out of order) */
  bool rx_base;          /* rx_bytes sampled since the last whole message */
  uint64_t src_epoch;    /* A's ring epoch of the active stream (src_known) */
  bool src_known;
};

static inline struct held *held_at(struct myelon_bridge *b, uint32_t i)
{
  return &b->held[(b->hhead + i) % b->window];
}

/* bridge.c */
int64_t bridge_now_ns(void);
__attribute__((format(printf, 3, 4))) int bridge_fail(struct myelon_bridge *b, int rc, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void bridge_log(struct myelon_bridge *b, const char *fmt, ...);
int bridge_check_common(struct myelon_bridge *b, const struct myelon_bridge_config *cfg);
int bridge_setopt_int(struct myelon_bridge *b, void *s, int opt, int v, const char *name);
int bridge_zmq_err_again(void);
int bridge_send_to(struct myelon_bridge *b, const uint8_t *id, size_t id_len, const void *buf, size_t len);
struct myelon_bridge *bridge_new(bool egress);
int bridge_open_socket(struct myelon_bridge *b, int type);
int bridge_open_failed(struct myelon_bridge *b, int rc);

/* keys.c */
int bridge_read_key(struct myelon_bridge *b, const char *path, bool secret, uint8_t key[32], char z85[41]);

/* egress.c */
int egress_run(struct myelon_bridge *b, int64_t timeout_ns);
void held_free_head(struct myelon_bridge *b);
int egress_window_add(struct myelon_bridge *b, const void *data, size_t len, uint8_t kind, int64_t first);
void egress_producer_gone(struct myelon_bridge *b);
void egress_corrupt_record(struct myelon_bridge *b);
int egress_await_ring(struct myelon_bridge *b, int64_t timeout_ns);

/* egress_hold.c */
void egress_release_held(struct myelon_bridge *b);
void egress_skip_acked(struct myelon_bridge *b);
int egress_take_hold(struct myelon_bridge *b, int64_t timeout_ns);
int egress_state_open(struct myelon_bridge *b, const char *path);
int egress_state_mark(struct myelon_bridge *b);

/* ingress.c */
int ingress_run(struct myelon_bridge *b, int64_t timeout_ns);
void ingress_ring_free(struct myelon_bridge *b);
void ingress_held_drop(struct myelon_bridge *b);
int ingress_state_write(struct myelon_bridge *b, uint64_t seq, int64_t before, uint64_t frames);

#endif
