/**
 * @file subj_net.c
 * @brief The references of the bridge (issue 17): plain ZeroMQ and nng
 * between the two hosts of hosts.h, over TCP on the same veth pair.
 *
 *   zmq-curve  one ZeroMQ DEALER -> ROUTER connection per direction, the
 *              socket types the bridge uses (the receiver binds a ROUTER on
 *              its host's address, the sender connects a DEALER), with
 *              CurveZMQ as the bridge has by default (the same key files;
 *              no ZAP handler, the bridge's handshake-time check); each
 *              message is one ZeroMQ frame, the ROUTER's identity frame is
 *              read and dropped; default high-water marks (1000)
 *   zmq-tcp    the same in plain TCP (the reference of `bridge-tcp`)
 *   nng-tcp    nng pair0 over tcp://, one socket pair per direction,
 *              buffers as `nng` (no encryption: nng has no CURVE)
 *
 * Ping-pong is then a round trip over two connections, as over the two
 * bridge links. Receives block in the library (neither has a spin mode).
 */
#include "bench.h"
#include "hosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BENCH_HAVE_ZMQ
#include <zmq.h>
#endif
#ifdef BENCH_HAVE_NNG
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#endif

#define PORT_ZMQ_CURVE 5631u
#define PORT_ZMQ_TCP 5641u
#define PORT_NNG 5651u

static enum bench_host peer_of(enum bench_host h) { return h == BENCH_HOST_A ? BENCH_HOST_B : BENCH_HOST_A; }

static int hosts_probe(char *why, size_t n) { return bench_hosts_probe(why, n); }

#ifdef BENCH_HAVE_ZMQ

struct zend {
  void *sock;
  bool router;
};

static void *ctx;
static unsigned live_ends;

static int zfail(const char *what)
{
  int e = zmq_errno();
  bench_log("%s: %s", what, zmq_strerror(e));
  return e > 0 ? -e : -EIO;
}

/* A Z85 key file (one 40-character line) into 32 bytes. */
static int load_key(const char *path, uint8_t key[32])
{
  FILE *f = fopen(path, "r");
  char z85[64] = "";
  bool ok = f && fscanf(f, "%63s", z85) == 1 && strlen(z85) == 40 && zmq_z85_decode(key, z85) != NULL;
  if (f)
    fclose(f);
  if (!ok)
    bench_log("key file %s: not a Z85 key", path);
  return ok ? 0 : -EINVAL;
}

static int zend_open(const struct bench_chan *ch, bool tx, bool curve, unsigned base, void **out)
{
  if (!ctx && !(ctx = zmq_ctx_new()))
    return zfail("zmq_ctx_new");
  struct zend *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  e->router = !tx;
  e->sock = zmq_socket(ctx, tx ? ZMQ_DEALER : ZMQ_ROUTER);
  if (!e->sock) {
    free(e);
    return zfail("zmq_socket");
  }
  live_ends++;
  *out = e;
  int linger = 5000;
  zmq_setsockopt(e->sock, ZMQ_LINGER, &linger, sizeof linger);
  enum bench_host here = bench_hosts_current();
  enum bench_host rx_host = tx ? peer_of(here) : here;
  if (curve) {
    char path[BENCH_PATH_MAX + 16];
    uint8_t key[32], pub[32], sec[32];
    int one = 1;
    if (tx) { /* the server's public key, our own pair */
      bench_hosts_key(ch->c, rx_host, false, path, sizeof path);
      int rc = load_key(path, key);
      bench_hosts_key(ch->c, here, false, path, sizeof path);
      rc = rc ? rc : load_key(path, pub);
      bench_hosts_key(ch->c, here, true, path, sizeof path);
      rc = rc ? rc : load_key(path, sec);
      if (rc < 0)
        return rc;
      if (zmq_setsockopt(e->sock, ZMQ_CURVE_SERVERKEY, key, 32) != 0 ||
          zmq_setsockopt(e->sock, ZMQ_CURVE_PUBLICKEY, pub, 32) != 0 ||
          zmq_setsockopt(e->sock, ZMQ_CURVE_SECRETKEY, sec, 32) != 0)
        return zfail("zmq_setsockopt(CURVE client)");
    } else {
      bench_hosts_key(ch->c, here, true, path, sizeof path);
      int rc = load_key(path, sec);
      if (rc < 0)
        return rc;
      if (zmq_setsockopt(e->sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
          zmq_setsockopt(e->sock, ZMQ_CURVE_SECRETKEY, sec, 32) != 0)
        return zfail("zmq_setsockopt(CURVE server)");
    }
  }
  char ep[64];
  snprintf(ep, sizeof ep, "tcp://%s:%u", bench_hosts_addr(rx_host), bench_hosts_port(ch->c, base, ch->dir));
  if ((tx ? zmq_connect(e->sock, ep) : zmq_bind(e->sock, ep)) != 0)
    return zfail(tx ? "zmq_connect" : "zmq_bind");
  return 0;
}

static int ztx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  (void)tx, (void)n, (void)timeout_ns; /* a DEALER's sends wait for a connected peer */
  return 0;
}

static int zsend(void *tx, const void *buf, size_t len)
{
  struct zend *e = tx;
  while (zmq_send(e->sock, buf, len, 0) < 0)
    if (zmq_errno() != EINTR)
      return zfail("zmq_send");
  return 0;
}

static int zrecv(void *rx, void *buf, size_t len)
{
  struct zend *e = rx;
  uint8_t id[256];
  int n;
  while ((n = zmq_recv(e->sock, id, sizeof id, 0)) < 0) /* the ROUTER's identity frame */
    if (zmq_errno() != EINTR)
      return zfail("zmq_recv(identity)");
  int more = 0;
  size_t ml = sizeof more;
  if (zmq_getsockopt(e->sock, ZMQ_RCVMORE, &more, &ml) != 0 || !more)
    return -EPROTO;
  while ((n = zmq_recv(e->sock, buf, len, 0)) < 0)
    if (zmq_errno() != EINTR)
      return zfail("zmq_recv");
  return (size_t)n == len ? 0 : -EPROTO;
}

static void zclose(void *h)
{
  struct zend *e = h;
  if (!e)
    return;
  zmq_close(e->sock);
  free(e);
  if (--live_ends == 0 && ctx) {
    zmq_ctx_term(ctx);
    ctx = NULL;
  }
}

#define ZMQ_VARIANT(id, curve, base)                                                                       \
  static int id##_tx_open(const struct bench_chan *ch, void **tx) { return zend_open(ch, true, curve, base, tx); } \
  static int id##_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)                           \
  {                                                                                                       \
    (void)idx;                                                                                            \
    return zend_open(ch, false, curve, base, rx);                                                         \
  }

ZMQ_VARIANT(zc, true, PORT_ZMQ_CURVE)
ZMQ_VARIANT(zt, false, PORT_ZMQ_TCP)

#define ZMQ_SUBJECT(id, label, what)                                                                       \
  {                                                                                                       \
    .name = label, .transport = what, .family = BENCH_FAMILY_COMPETITOR,                                  \
    .caps = BENCH_CAP_AB_ONLY | BENCH_CAP_HOSTS, .probe = hosts_probe, .tx_open = id##_tx_open,           \
    .tx_ready = ztx_ready, .send = zsend, .tx_close = zclose, .rx_open = id##_rx_open, .recv = zrecv,     \
    .rx_close = zclose,                                                                                   \
  }

const struct bench_subject bench_subj_zmq_curve =
    ZMQ_SUBJECT(zc, "zmq-curve", "ZeroMQ 4.3 DEALER -> ROUTER, CURVE tcp:// over a veth");
const struct bench_subject bench_subj_zmq_tcp =
    ZMQ_SUBJECT(zt, "zmq-tcp", "ZeroMQ 4.3 DEALER -> ROUTER, tcp:// over a veth");

#endif /* BENCH_HAVE_ZMQ */

#ifdef BENCH_HAVE_NNG

struct nend {
  nng_socket sock;
};

static int nfail(const char *what, int rv)
{
  bench_log("%s: %s", what, nng_strerror(rv));
  return -EIO;
}

static int nend_open(const struct bench_chan *ch, bool tx, void **out)
{
  struct nend *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  int rv = nng_pair0_open(&e->sock);
  if (rv != 0) {
    free(e);
    return nfail("nng_pair0_open", rv);
  }
  *out = e;
  int depth = ch->c->capacity > 8192 ? 8192 : (int)ch->c->capacity;
  nng_socket_set_int(e->sock, NNG_OPT_SENDBUF, depth);
  nng_socket_set_int(e->sock, NNG_OPT_RECVBUF, depth);
  nng_socket_set_size(e->sock, NNG_OPT_RECVMAXSZ, 0);
  enum bench_host here = bench_hosts_current();
  enum bench_host rx_host = tx ? peer_of(here) : here;
  char url[64];
  snprintf(url, sizeof url, "tcp://%s:%u", bench_hosts_addr(rx_host), bench_hosts_port(ch->c, PORT_NNG, ch->dir));
  rv = tx ? nng_dial(e->sock, url, NULL, NNG_FLAG_NONBLOCK) : nng_listen(e->sock, url, NULL, 0);
  return rv ? nfail(tx ? "nng_dial" : "nng_listen", rv) : 0;
}

static int ntx_open(const struct bench_chan *ch, void **tx) { return nend_open(ch, true, tx); }

static int nrx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  (void)idx;
  return nend_open(ch, false, rx);
}

static int ntx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  (void)tx, (void)n, (void)timeout_ns; /* sends wait for the peer */
  return 0;
}

static int nsend(void *tx, const void *buf, size_t len)
{
  struct nend *e = tx;
  int rv = nng_send(e->sock, (void *)(uintptr_t)buf, len, 0);
  return rv ? nfail("nng_send", rv) : 0;
}

static int nrecv(void *rx, void *buf, size_t len)
{
  struct nend *e = rx;
  size_t sz = len;
  int rv = nng_recv(e->sock, buf, &sz, 0);
  if (rv)
    return nfail("nng_recv", rv);
  return sz == len ? 0 : -EPROTO;
}

static void nclose(void *h)
{
  struct nend *e = h;
  if (!e)
    return;
  nng_close(e->sock);
  free(e);
}

const struct bench_subject bench_subj_nng_tcp = {
    .name = "nng-tcp",
    .transport = "nng 1.5 pair0, tcp:// over a veth",
    .family = BENCH_FAMILY_COMPETITOR,
    .caps = BENCH_CAP_AB_ONLY | BENCH_CAP_HOSTS,
    .probe = hosts_probe,
    .tx_open = ntx_open,
    .tx_ready = ntx_ready,
    .send = nsend,
    .tx_close = nclose,
    .rx_open = nrx_open,
    .recv = nrecv,
    .rx_close = nclose,
};

#endif /* BENCH_HAVE_NNG */
