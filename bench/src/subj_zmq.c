/**
 * @file subj_zmq.c
 * @brief Subject "zmq": ZeroMQ (libzmq 4.3) PAIR sockets over ipc://, one
 * per direction, in the case's temp dir; in gather (N -> 1) N PUSH sockets
 * and one PULL.
 *
 * The receiver binds, the sender connects (libzmq reconnects until the
 * listener is there and queues meanwhile). Default high-water marks (1000
 * messages) give the back-pressure; receives block in libzmq (it has no
 * spin mode), as in upstream's competitive bench. Linger is bounded (5 s)
 * so a dead peer cannot hang a close.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <zmq.h>

struct zmq_end {
  void *sock;
};

static void *ctx;
static unsigned live_ends;

static void url(const struct bench_chan *ch, char *out, size_t n)
{
  snprintf(out, n, "ipc://%s/%sz%u", ch->c->tmpdir, ch->c->tag, ch->dir);
}

static int zmq_fail(const char *what)
{
  int e = zmq_errno();
  bench_log("%s: %s", what, zmq_strerror(e));
  return e > 0 ? -e : -EIO;
}

static int end_open(const struct bench_chan *ch, bool tx, void **out)
{
  if (!ctx && !(ctx = zmq_ctx_new()))
    return zmq_fail("zmq_ctx_new");
  struct zmq_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  /* gather (N -> 1): N PUSH sockets connect to one PULL that binds. */
  bool gather = bench_chan_gathers(ch);
  e->sock = zmq_socket(ctx, gather ? (tx ? ZMQ_PUSH : ZMQ_PULL) : ZMQ_PAIR);
  if (!e->sock) {
    free(e);
    return zmq_fail("zmq_socket");
  }
  live_ends++;
  *out = e;
  int linger = 5000;
  zmq_setsockopt(e->sock, ZMQ_LINGER, &linger, sizeof linger);
  char u[BENCH_PATH_MAX + 48];
  url(ch, u, sizeof u);
  if ((tx ? zmq_connect(e->sock, u) : zmq_bind(e->sock, u)) != 0)
    return zmq_fail(tx ? "zmq_connect" : "zmq_bind");
  return 0;
}

static int zmq_tx_open(const struct bench_chan *ch, void **tx) { return end_open(ch, true, tx); }

static int zmq_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  (void)idx;
  return end_open(ch, false, rx);
}

static int zmq_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  (void)tx, (void)n, (void)timeout_ns; /* PAIR queues until connected */
  return 0;
}

static int zmq_send_(void *tx, const void *buf, size_t len)
{
  struct zmq_end *e = tx;
  while (zmq_send(e->sock, buf, len, 0) < 0)
    if (zmq_errno() != EINTR)
      return zmq_fail("zmq_send");
  return 0;
}

static int zmq_recv_(void *rx, void *buf, size_t len)
{
  struct zmq_end *e = rx;
  int n;
  while ((n = zmq_recv(e->sock, buf, len, 0)) < 0)
    if (zmq_errno() != EINTR)
      return zmq_fail("zmq_recv");
  return (size_t)n == len ? 0 : -EPROTO;
}

static void zmq_close_(void *h)
{
  struct zmq_end *e = h;
  if (!e)
    return;
  zmq_close(e->sock);
  free(e);
  if (--live_ends == 0 && ctx) {
    zmq_ctx_term(ctx);
    ctx = NULL;
  }
}

static void zmq_cleanup(const struct bench_case *c)
{
  (void)c; /* the temp dir (and the ipc files in it) is removed by the orchestrator */
}

const struct bench_subject bench_subj_zmq = {
    .name = "zmq",
    .transport = "ZeroMQ 4.3 ipc:// (PAIR)",
    .family = BENCH_FAMILY_COMPETITOR,
    .caps = BENCH_CAP_GATHER,
    .tx_open = zmq_tx_open,
    .tx_ready = zmq_tx_ready,
    .send = zmq_send_,
    .tx_close = zmq_close_,
    .rx_open = zmq_rx_open,
    .recv = zmq_recv_,
    .rx_close = zmq_close_,
    .cleanup = zmq_cleanup,
};
