/**
 * @file subj_bytes.c
 * @brief libdisruptor_mp's byte ring (DMP_RING_BYTES, bytes.h) as a
 * subject: variable-length records, one ring per direction.
 *
 *   dmp-bytes   a byte ring of 64-byte blocks sized by bytes in flight,
 *               not by the case's slot count: the smallest power of two
 *               that holds two records of the case's size and at least
 *               min(capacity records, 1 MiB) - so 64 KiB messages get a
 *               1 MiB ring and 1 MiB ones a 4 MiB ring, where dmp-shm's
 *               ring is capacity x size (64 MiB, 128 MiB) and every
 *               message lands in memory that has gone cold. The
 *               environment variable BENCH_BYTES_RING (bytes, a power of
 *               two) overrides the size, for the sizing experiments of
 *               bench/README.md.
 *
 * Send = dmp_producer_publish_bytes_timeout (claim, the library's copy,
 * publish); receive = dmp_consumer_copy_bytes_timeout (peek, the library's
 * copy, release): the library's own waits, with the case's strategy, as
 * dmp-shm, and its own copy routine (REP MOVSB from 1 MiB on, bytes.c).
 * BENCH_BYTES_COPY=memcpy instead claims / peeks and copies with glibc's
 * memcpy (the experiment of bench/README.md, "Issue 20"). Both ends
 * prefault the ring (DMP_RING_PREFAULT, DMP_CONSUMER_PREFAULT), as the
 * floor maps its memory with MAP_POPULATE. Receivers attach as
 * "c0".."c7"; the producer waits for them first.
 */
#include "bench.h"
#include "subj_rings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <disruptor_mp/disruptor_mp.h>

#define BYTES_BLOCK 64u
#define BYTES_RING_CAP (UINT64_C(1) << 20)

static enum dmp_wait_kind wait_kind(enum bench_wait w)
{
  return w == BENCH_WAIT_YIELD ? DMP_WAIT_YIELD : w == BENCH_WAIT_BLOCK ? DMP_WAIT_BLOCK : DMP_WAIT_SPIN;
}

static int fail(const char *what, int rc)
{
  bench_log("%s: %s (%s)", what, dmp_strerror(rc), dmp_last_error());
  return rc;
}

/* BENCH_BYTES_COPY=memcpy (file comment), read once per process. */
static bool glibc_copy(void)
{
  static int v = -1;
  if (v < 0) {
    const char *env = getenv("BENCH_BYTES_COPY");
    v = env && strcmp(env, "memcpy") == 0;
  }
  return v;
}

static uint64_t pow2_ceil(uint64_t v)
{
  uint64_t p = 1;
  while (p < v)
    p <<= 1;
  return p;
}

/* The ring's bytes for case `c` (file comment). */
static uint64_t ring_bytes(const struct bench_case *c)
{
  const char *env = getenv("BENCH_BYTES_RING");
  if (env && *env)
    return strtoull(env, NULL, 10);
  uint64_t rec = (DMP_BYTES_HEADER + c->size + BYTES_BLOCK - 1) / BYTES_BLOCK * BYTES_BLOCK;
  uint64_t depth = c->capacity * rec < BYTES_RING_CAP ? c->capacity * rec : BYTES_RING_CAP;
  return pow2_ceil(2 * rec > depth ? 2 * rec : depth);
}

static int tx_open(const struct bench_chan *ch, void **tx)
{
  char name[BENCH_PATH_MAX + 32];
  subj_ring_name(ch->c, ch->dir, DMP_BACKEND_SHM, name, sizeof name);
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.name = name;
  cfg.flags = DMP_RING_BYTES | DMP_RING_PREFAULT;
  cfg.capacity = ring_bytes(ch->c);
  cfg.slot_size = BYTES_BLOCK;
  cfg.max_consumers = BENCH_MAX_RX;
  cfg.wait.kind = wait_kind(ch->c->wait);
  struct dmp_producer *p;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0)
    return fail("dmp_producer_create (byte ring)", rc);
  *tx = p;
  return 0;
}

static int rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  char name[BENCH_PATH_MAX + 32], id[8];
  subj_ring_name(ch->c, ch->dir, DMP_BACKEND_SHM, name, sizeof name);
  snprintf(id, sizeof id, "c%u", idx);
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.name = name;
  cfg.id = id;
  cfg.flags |= DMP_CONSUMER_PREFAULT;
  cfg.wait.kind = wait_kind(ch->c->wait);
  struct dmp_consumer *c;
  int rc = dmp_consumer_attach_timeout(&cfg, BENCH_STEP_TIMEOUT_NS, &c);
  if (rc < 0)
    return fail("dmp_consumer_attach_timeout", rc);
  *rx = c;
  return 0;
}

static int bytes_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  int rc = dmp_producer_wait_for_consumers(tx, n, timeout_ns);
  return rc < 0 ? fail("dmp_producer_wait_for_consumers", rc) : 0;
}

static int bytes_send(void *tx, const void *buf, size_t len)
{
  if (!glibc_copy()) {
    int64_t seq = dmp_producer_publish_bytes_timeout(tx, buf, len, DMP_FOREVER);
    return seq < 0 ? (int)seq : 0;
  }
  void *data;
  int rc = dmp_producer_claim_bytes_timeout(tx, len, &data, DMP_FOREVER);
  if (rc < 0)
    return rc;
  memcpy(data, buf, len);
  dmp_producer_publish(tx);
  return 0;
}

static int bytes_recv(void *rx, void *buf, size_t len)
{
  size_t got;
  if (!glibc_copy()) {
    int rc = dmp_consumer_copy_bytes_timeout(rx, buf, len, &got, NULL, DMP_FOREVER);
    return rc < 0 ? rc : got == len ? 0 : -EBADMSG;
  }
  const void *data;
  int rc = dmp_consumer_peek_bytes_timeout(rx, &data, &got, NULL, DMP_FOREVER);
  if (rc < 0)
    return rc;
  memcpy(buf, data, got < len ? got : len);
  dmp_consumer_release(rx);
  return got == len ? 0 : -EBADMSG;
}

static void bytes_tx_close(void *tx)
{
  dmp_producer_close(tx);
}

static void bytes_rx_close(void *rx)
{
  dmp_consumer_close_forget(rx);
}

static void bytes_cleanup(const struct bench_case *c)
{
  subj_rings_gc(c, DMP_BACKEND_SHM);
}

const struct bench_subject bench_subj_dmp_bytes = {
    .name = "dmp-bytes",
    .transport = "POSIX shm byte ring (variable-length records)",
    .family = BENCH_FAMILY_OURS,
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_WAIT,
    .tx_open = tx_open,
    .tx_ready = bytes_tx_ready,
    .send = bytes_send,
    .tx_close = bytes_tx_close,
    .rx_open = rx_open,
    .recv = bytes_recv,
    .rx_close = bytes_rx_close,
    .cleanup = bytes_cleanup,
};
