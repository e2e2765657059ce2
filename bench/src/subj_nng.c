/**
 * @file subj_nng.c
 * @brief Subject "nng": nanomsg-next-gen (1.5) pair0 sockets over ipc://,
 * one per direction, in the case's temp dir; in gather (N -> 1) N push0
 * sockets and one pull0.
 *
 * The receiver listens, the sender dials in the background (NNG retries
 * until the listener is there; sends wait for the peer). Socket buffers are
 * set to the case's capacity (at most nng's 8192 messages) and the receive
 * size limit is lifted so 1 MiB messages pass. Receives block in nng.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

struct nng_end {
  nng_socket sock;
};

static void url(const struct bench_chan *ch, char *out, size_t n)
{
  snprintf(out, n, "ipc://%s/%sn%u", ch->c->tmpdir, ch->c->tag, ch->dir);
}

static int nng_fail(const char *what, int rv)
{
  bench_log("%s: %s", what, nng_strerror(rv));
  return -EIO;
}

static int end_open(const struct bench_chan *ch, bool tx, void **out)
{
  struct nng_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  /* gather (N -> 1): N push0 sockets dial one pull0 that listens. */
  bool gather = bench_chan_gathers(ch);
  int rv = gather ? (tx ? nng_push0_open(&e->sock) : nng_pull0_open(&e->sock)) : nng_pair0_open(&e->sock);
  if (rv != 0) {
    free(e);
    return nng_fail("nng_pair0_open", rv);
  }
  *out = e;
  int depth = ch->c->capacity > 8192 ? 8192 : (int)ch->c->capacity;
  nng_socket_set_int(e->sock, NNG_OPT_SENDBUF, depth);
  nng_socket_set_int(e->sock, NNG_OPT_RECVBUF, depth);
  nng_socket_set_size(e->sock, NNG_OPT_RECVMAXSZ, 0);
  char u[BENCH_PATH_MAX + 48];
  url(ch, u, sizeof u);
  rv = tx ? nng_dial(e->sock, u, NULL, NNG_FLAG_NONBLOCK) : nng_listen(e->sock, u, NULL, 0);
  return rv ? nng_fail(tx ? "nng_dial" : "nng_listen", rv) : 0;
}

static int nng_tx_open(const struct bench_chan *ch, void **tx) { return end_open(ch, true, tx); }

static int nng_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  (void)idx;
  return end_open(ch, false, rx);
}

static int nng_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  (void)tx, (void)n, (void)timeout_ns; /* sends wait for the peer */
  return 0;
}

static int nng_send_(void *tx, const void *buf, size_t len)
{
  struct nng_end *e = tx;
  int rv = nng_send(e->sock, (void *)(uintptr_t)buf, len, 0);
  return rv ? nng_fail("nng_send", rv) : 0;
}

static int nng_recv_(void *rx, void *buf, size_t len)
{
  struct nng_end *e = rx;
  size_t sz = len;
  int rv = nng_recv(e->sock, buf, &sz, 0);
  if (rv)
    return nng_fail("nng_recv", rv);
  return sz == len ? 0 : -EPROTO;
}

static void nng_close_(void *h)
{
  struct nng_end *e = h;
  if (!e)
    return;
  nng_close(e->sock);
  free(e);
}

const struct bench_subject bench_subj_nng = {
    .name = "nng",
    .transport = "nng 1.5 ipc:// (pair0)",
    .family = BENCH_FAMILY_COMPETITOR,
    .caps = BENCH_CAP_GATHER,
    .tx_open = nng_tx_open,
    .tx_ready = nng_tx_ready,
    .send = nng_send_,
    .tx_close = nng_close_,
    .rx_open = nng_rx_open,
    .recv = nng_recv_,
    .rx_close = nng_close_,
};
