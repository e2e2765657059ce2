/* libmyelon_bridge: what the egress and the ingress of a ZeroMQ link share
 * (bridge.h): the configuration, error and log helpers, the socket set-up,
 * stats, run and close. The egress lives in egress.c (its hold mode and
 * state file in egress_hold.c), the ingress in ingress.c, the CURVE key
 * files in keys.c, the wire format in wire.c.
 *
 * Single-threaded by design: each side is one loop around zmq_poll and the
 * local ring, so there is no lock and no atomic of our own here; the ring
 * (libmyelon / libdisruptor_mp) and ZeroMQ do their own synchronisation. */
#include "link.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t bridge_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bridge_fail(struct myelon_bridge *b, int rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err, sizeof b->err, fmt, ap);
  va_end(ap);
  return rc;
}

void bridge_log(struct myelon_bridge *b, const char *fmt, ...)
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

/* ---- common setup ---- */

int bridge_check_common(struct myelon_bridge *b, const struct myelon_bridge_config *cfg)
{
  if (cfg->endpoint == NULL || cfg->ring == NULL)
    return bridge_fail(b, -EINVAL, "%s is required", cfg->endpoint == NULL ? "endpoint" : "ring");
  for (size_t i = 0; i < sizeof cfg->reserved / sizeof cfg->reserved[0]; i++)
    if (cfg->reserved[i] != 0)
      return bridge_fail(b, -EINVAL, "cfg.reserved[%zu] is not zero", i);
  bool tcp = strncmp(cfg->endpoint, "tcp://", 6) == 0;
  bool ipc = strncmp(cfg->endpoint, "ipc://", 6) == 0;
  if (!tcp && !ipc)
    return bridge_fail(b, -EINVAL, "endpoint %s: only tcp:// and ipc:// are supported", cfg->endpoint);
  uint64_t known = MYELON_BRIDGE_ONCE | MYELON_BRIDGE_RAW | MYELON_BRIDGE_BYTES;
  if ((cfg->flags & ~known) != 0)
    return bridge_fail(b, -EINVAL, "cfg.flags has unknown bits %#" PRIx64, cfg->flags & ~known);
  if (cfg->heartbeat_ms <= 0 || cfg->timeout_ms <= 0 || cfg->timeout_ms < cfg->heartbeat_ms)
    return bridge_fail(b, -EINVAL, "cfg.heartbeat_ms and cfg.timeout_ms must be > 0, timeout >= heartbeat");
  /* CURVE on tcp:// unless asked for plain; on ipc:// only if keys are given. */
  b->curve = tcp ? !cfg->insecure : (cfg->secret_key_file != NULL || cfg->peer_key_file != NULL);
  if (b->curve && !zmq_has("curve"))
    return bridge_fail(b, -EACCES, "this libzmq has no CURVE support; use ipc:// or --insecure");
  b->quiet = cfg->quiet;
  b->heartbeat_ms = cfg->heartbeat_ms;
  b->timeout_ms = cfg->timeout_ms;
  b->endpoint = strdup(cfg->endpoint);
  b->ring = strdup(cfg->ring);
  if (b->endpoint == NULL || b->ring == NULL)
    return bridge_fail(b, -ENOMEM, "out of memory");
  return 0;
}

int bridge_setopt_int(struct myelon_bridge *b, void *s, int opt, int v, const char *name)
{
  if (zmq_setsockopt(s, opt, &v, sizeof v) != 0)
    return bridge_fail(b, -EPROTO, "zmq_setsockopt(%s): %s", name, zmq_strerror(zmq_errno()));
  return 0;
}

/* Options both sides share: heartbeats (liveness), reconnect pacing, a
 * bounded ZMTP handshake (a peer that never completes it is dropped). */
static int common_sockopts(struct myelon_bridge *b, void *s)
{
  int rc = 0;
  rc = rc ? rc : bridge_setopt_int(b, s, ZMQ_LINGER, 0, "ZMQ_LINGER");
  rc = rc ? rc : bridge_setopt_int(b, s, ZMQ_HEARTBEAT_IVL, b->heartbeat_ms, "ZMQ_HEARTBEAT_IVL");
  /* libzmq times a connection's heartbeats from the last whole message it
   * decoded, so on the ingress, whose messages may take longer than
   * timeout_ms to cross a slow link, its timers would cut the link in the
   * middle of one: there the egress's PINGs ask for no TTL and the ingress
   * sets no heartbeat timeout, and the ingress judges the link itself
   * (ingress.c: whole messages, or bytes still arriving). The egress
   * receives only the ingress's small messages and PINGs: libzmq's
   * timeout stays its dead-link detector. */
  rc = rc ? rc : bridge_setopt_int(b, s, ZMQ_HEARTBEAT_TIMEOUT, b->egress ? b->timeout_ms : 0, "ZMQ_HEARTBEAT_TIMEOUT");
  rc = rc ? rc : bridge_setopt_int(b, s, ZMQ_HEARTBEAT_TTL, b->egress ? 0 : b->timeout_ms < 100 ? 100 : b->timeout_ms,
                                   "ZMQ_HEARTBEAT_TTL");
  rc = rc ? rc : bridge_setopt_int(b, s, ZMQ_HANDSHAKE_IVL, 2000, "ZMQ_HANDSHAKE_IVL");
  rc = rc ? rc : bridge_setopt_int(b, s, ZMQ_RECONNECT_IVL, 100, "ZMQ_RECONNECT_IVL");
  rc = rc ? rc : bridge_setopt_int(b, s, ZMQ_RECONNECT_IVL_MAX, 1000, "ZMQ_RECONNECT_IVL_MAX");
  return rc;
}

/* A signal landing in a libzmq call (the CLI's SIGTERM, a debugger) makes
 * it fail with EINTR: that is "not now", like EAGAIN, never a broken link
 * (a kill sweep seed saw an ingress exit 1 with "receive: Interrupted
 * system call" while being stopped). */
int bridge_zmq_err_again(void)
{
  int e = zmq_errno();
  return e == EINTR ? EAGAIN : e;
}

int bridge_send_to(struct myelon_bridge *b, const uint8_t *id, size_t id_len, const void *buf, size_t len)
{
  if (id != NULL && zmq_send(b->sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
    return -bridge_zmq_err_again();
  if (zmq_send(b->sock, buf, len, ZMQ_DONTWAIT) < 0)
    return -bridge_zmq_err_again();
  b->last_send_ns = bridge_now_ns(); /* the egress PINGs only when it sent nothing for a heartbeat */
  return 0;
}

int bridge_open_failed(struct myelon_bridge *b, int rc)
{
  memcpy(open_err, b->err, sizeof open_err);
  myelon_bridge_close(b);
  return rc;
}

struct myelon_bridge *bridge_new(bool egress)
{
  struct myelon_bridge *b = calloc(1, sizeof *b);
  if (b != NULL) {
    b->egress = egress;
    b->state_fd = -1;
    b->rx_fd = -1;
  }
  return b;
}

int bridge_open_socket(struct myelon_bridge *b, int type)
{
  b->ctx = zmq_ctx_new();
  if (b->ctx == NULL)
    return bridge_fail(b, -EPROTO, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
  /* Every socket of this context (the link's, the ZAP handler's REP, the
   * egress's monitor reader) lingers 0 s: nothing a close leaves unsent
   * matters (the link resumes from B's acknowledgements), and with the
   * default (infinite) a reply the ZAP handler queued for a connection
   * that went away would keep zmq_ctx_term() in myelon_bridge_close() waiting for
   * ever: a process that ignores SIGTERM. Must precede the sockets. */
  if (zmq_ctx_set(b->ctx, ZMQ_BLOCKY, 0) != 0)
    return bridge_fail(b, -EPROTO, "ZMQ_BLOCKY: %s", zmq_strerror(zmq_errno()));
  b->sock = zmq_socket(b->ctx, type);
  if (b->sock == NULL)
    return bridge_fail(b, -EPROTO, "zmq_socket: %s", zmq_strerror(zmq_errno()));
  return common_sockopts(b, b->sock);
}

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
  ingress_held_drop(b);
  free(b->held_rx);
  /* Stop the socket monitor before closing its reader `mon`, never after:
   * libzmq's I/O thread sends each event with a blocking send while it
   * holds the monitor's lock, and a PAIR with no peer blocks that send for
   * ever. With `mon` closed first, an event of the closing connection (a
   * refused CURVE key: the ingress's disconnect right after its ERROR)
   * blocked the I/O thread, and zmq_socket_monitor(NULL) here waited for
   * its lock: the egress hung at exit (bridge_mp/wrong_curve_key_refused,
   * under load). */
  if (b->sock != NULL && b->egress)
    zmq_socket_monitor(b->sock, NULL, 0);
  if (b->mon != NULL)
    zmq_close(b->mon);
  if (b->sock != NULL)
    zmq_close(b->sock);
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
  dmp_consumer_close(b->raw_cons);
  if (b->hold)
    myelon_reasm_fini(&b->ra);
  if (b->p0 != NULL && b->state_fd >= 0 && b->st.next_seq != MYELON_BRIDGE_NEXT_ANY)
    ingress_state_write(b, b->st.next_seq - 1, 0, 0); /* closed cleanly: next_seq - 1 is applied */
  if (!b->egress)
    ingress_ring_free(b);
  if (b->state_fd >= 0)
    close(b->state_fd);
  free(b->endpoint);
  free(b->ring);
  free(b->id);
  free(b->state_path);
  free(b);
}
