/**
 * @file subj_dmp.c
 * @brief libdisruptor_mp's raw Layer 0 ring as subjects: one ring per
 * direction, slot size = payload size.
 *
 *   dmp-shm, dmp-mmap   the library as an application gets it: default ring
 *                       flags (wake-ups and shared-memory counters on), and
 *                       the library's own waits (dmp_producer_claim_timeout,
 *                       dmp_consumer_peek_timeout) with the case's strategy
 *   dmp-shm-poll        opt-in diagnostic: the same ring, but the harness
 *                       polls the inline dmp_consumer_try_peek() itself,
 *                       so the library's wait path is out of the picture
 *   dmp-shm-lean        opt-in diagnostic: -poll on a ring created with
 *                       DMP_RING_NO_WAKEUPS | DMP_RING_NO_COUNTERS (no fence
 *                       per publish/release, no counters)
 *   dmp-shm-nocnt       dmp-shm with counters off (DMP_RING_NO_COUNTERS on
 *                       the ring, DMP_CONSUMER_NO_COUNTERS on the consumers),
 *                       everything else the same: runs only in paired cases
 *                       against dmp-shm, which give the counters' overhead
 *   dmp-mp              dmp-shm on a ring created with DMP_RING_MULTI_PRODUCER:
 *                       in the paired cases written by its one producer (the
 *                       creator), the cost of the multi-producer protocol
 *                       (claim CAS, per-slot markers, cursor CAS) against
 *                       dmp-shm; in gather N producers write it, the first
 *                       creates it, the others join with dmp_producer_attach;
 *                       in ab_gather_rtt the requests are such a ring and
 *                       each writer's replies a single-producer ring
 *
 * The two diagnostics decompose the distance between dmp-shm and the floor
 * (run them with --only dmp-shm,dmp-shm-poll,dmp-shm-lean,floor).
 * Send = claim + memcpy + publish; receive = peek + memcpy + release.
 * Receivers attach as "c0".."c7"; the producer waits for them first.
 */
#include "bench.h"
#include "subj_rings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <disruptor_mp/disruptor_mp.h>

struct variant {
  enum dmp_backend backend;
  uint32_t ring_flags;
  bool poll; /* the harness spins on the inline try_* calls itself */
};

static const struct variant v_shm = {DMP_BACKEND_SHM, 0, false};
static const struct variant v_mmap = {DMP_BACKEND_MMAP, 0, false};
static const struct variant v_poll = {DMP_BACKEND_SHM, 0, true};
static const struct variant v_lean = {DMP_BACKEND_SHM, DMP_RING_NO_WAKEUPS | DMP_RING_NO_COUNTERS, true};
static const struct variant v_nocnt = {DMP_BACKEND_SHM, DMP_RING_NO_COUNTERS, false};
static const struct variant v_mp = {DMP_BACKEND_SHM, DMP_RING_MULTI_PRODUCER, false};

struct dmp_end {
  struct dmp_producer *p;
  struct dmp_consumer *c;
  bool poll, spin;
};

static enum dmp_wait_kind wait_kind(enum bench_wait w)
{
  switch (w) {
  case BENCH_WAIT_YIELD:
    return DMP_WAIT_YIELD;
  case BENCH_WAIT_BLOCK:
    return DMP_WAIT_BLOCK;
  case BENCH_WAIT_SPIN:
  case BENCH_WAIT_COUNT:
    break;
  }
  return DMP_WAIT_SPIN;
}

static int fail(const char *what, int rc)
{
  bench_log("%s: %s (%s)", what, dmp_strerror(rc), dmp_last_error());
  return rc;
}

static struct dmp_end *end_new(const struct bench_chan *ch, const struct variant *v)
{
  struct dmp_end *e = calloc(1, sizeof *e);
  if (e) {
    e->poll = v->poll;
    e->spin = ch->c->wait == BENCH_WAIT_SPIN;
  }
  return e;
}

static int tx_open(const struct bench_chan *ch, const struct variant *v, void **tx)
{
  char name[BENCH_PATH_MAX + 32];
  subj_ring_name(ch->c, ch->dir, v->backend, name, sizeof name);
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = v->backend;
  cfg.name = name;
  cfg.capacity = ch->c->capacity;
  cfg.slot_size = (uint32_t)ch->c->size;
  cfg.max_consumers = BENCH_MAX_RX;
  cfg.flags = v->ring_flags;
  /* ab_gather_rtt's reply rings have one writer each (the responder):
   * single-producer rings, the natural shape; only the requests need the
   * multi-producer ring. */
  if (ch->c->workload == BENCH_WL_AB_GATHER_RTT && ch->dir > 0)
    cfg.flags &= ~(uint32_t)DMP_RING_MULTI_PRODUCER;
  cfg.wait.kind = wait_kind(ch->c->wait);
  struct dmp_end *e = end_new(ch, v);
  if (!e)
    return -ENOMEM;
  if (ch->writer > 0) { /* gather: join the first writer's ring, once it exists */
    struct dmp_producer_config ac;
    dmp_producer_config_init(&ac);
    ac.backend = v->backend;
    ac.name = name;
    ac.flags = DMP_RING_MULTI_PRODUCER;
    ac.wait = cfg.wait;
    ac.capacity = 0; /* 0: the ring's (the config's defaults would have to match it) */
    ac.slot_size = 0;
    ac.slot_align = 0;
    ac.max_consumers = 0;
    ac.max_producers = 0;
    int64_t deadline = bench_deadline(BENCH_STEP_TIMEOUT_NS);
    int rc;
    while ((rc = dmp_producer_attach(&ac, &e->p)) < 0 && bench_mono_ns() < deadline)
      bench_sleep_ns(1000000);
    if (rc < 0) {
      free(e);
      return fail("dmp_producer_attach", rc);
    }
    *tx = e;
    return 0;
  }
  int rc = dmp_producer_create(&cfg, &e->p);
  if (rc < 0) {
    free(e);
    return fail("dmp_producer_create", rc);
  }
  *tx = e;
  return 0;
}

static int rx_open(const struct bench_chan *ch, const struct variant *v, unsigned idx, void **rx)
{
  char name[BENCH_PATH_MAX + 32], id[8];
  subj_ring_name(ch->c, ch->dir, v->backend, name, sizeof name);
  snprintf(id, sizeof id, "c%u", idx);
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = v->backend;
  cfg.name = name;
  cfg.id = id;
  cfg.slot_size = (uint32_t)ch->c->size;
  cfg.wait.kind = wait_kind(ch->c->wait);
  if (v->ring_flags & DMP_RING_NO_COUNTERS)
    cfg.flags |= DMP_CONSUMER_NO_COUNTERS;
  struct dmp_end *e = end_new(ch, v);
  if (!e)
    return -ENOMEM;
  int64_t deadline = bench_deadline(BENCH_STEP_TIMEOUT_NS);
  int rc;
  /* Workaround: an attach that races the creation of a large ring can see
   * the file mid-posix_fallocate and fail with DMP_E_CORRUPT ("is N bytes,
   * its header needs M (truncated?)") although the ring is fine a moment
   * later (library issue, reported); retry it like DMP_E_NOTREADY. */
  while ((rc = dmp_consumer_attach_timeout(&cfg, BENCH_STEP_TIMEOUT_NS, &e->c)) == -DMP_E_CORRUPT &&
         bench_mono_ns() < deadline)
    bench_sleep_ns(1000000);
  if (rc < 0) {
    free(e);
    return fail("dmp_consumer_attach_timeout", rc);
  }
  *rx = e;
  return 0;
}

static int dmp_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  int rc = dmp_producer_wait_for_consumers(((struct dmp_end *)tx)->p, n, timeout_ns);
  return rc < 0 ? fail("dmp_producer_wait_for_consumers", rc) : 0;
}

static int dmp_send(void *tx, const void *buf, size_t len)
{
  struct dmp_end *e = tx;
  void *slot;
  while (dmp_producer_try_claim(e->p, &slot) < 0) {
    if (!e->poll) {
      int rc = dmp_producer_claim_timeout(e->p, &slot, DMP_FOREVER);
      if (rc < 0)
        return rc;
      break;
    }
    if (!e->spin)
      bench_relax();
  }
  memcpy(slot, buf, len);
  dmp_producer_publish(e->p);
  return 0;
}

static int dmp_recv(void *rx, void *buf, size_t len)
{
  struct dmp_end *e = rx;
  const void *ev;
  int64_t seq;
  if (e->poll) {
    while (dmp_consumer_try_peek(e->c, &ev, &seq) < 0)
      ;
  } else {
    int rc = dmp_consumer_peek_timeout(e->c, &ev, &seq, DMP_FOREVER);
    if (rc < 0)
      return rc;
  }
  memcpy(buf, ev, len);
  dmp_consumer_release(e->c);
  return 0;
}

static void dmp_tx_close(void *tx)
{
  struct dmp_end *e = tx;
  if (e)
    dmp_producer_close(e->p);
  free(e);
}

static void dmp_rx_close(void *rx)
{
  struct dmp_end *e = rx;
  if (e)
    dmp_consumer_close_forget(e->c);
  free(e);
}

/* One set of entry points per variant (the seam carries no user pointer). */
#define DMP_VARIANT(id, v, backend)                                                                        \
  static int id##_tx_open(const struct bench_chan *ch, void **tx) { return tx_open(ch, &(v), tx); }        \
  static int id##_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)                           \
  {                                                                                                       \
    return rx_open(ch, &(v), idx, rx);                                                                    \
  }                                                                                                       \
  static void id##_cleanup(const struct bench_case *c) { subj_rings_gc(c, backend); }

DMP_VARIANT(shm, v_shm, DMP_BACKEND_SHM)
DMP_VARIANT(mmap, v_mmap, DMP_BACKEND_MMAP)
DMP_VARIANT(poll, v_poll, DMP_BACKEND_SHM)
DMP_VARIANT(lean, v_lean, DMP_BACKEND_SHM)
DMP_VARIANT(nocnt, v_nocnt, DMP_BACKEND_SHM)
DMP_VARIANT(mp, v_mp, DMP_BACKEND_SHM)

#define DMP_SUBJECT(id, label, what, extra_caps)                                                           \
  {                                                                                                       \
    .name = label, .transport = what, .family = BENCH_FAMILY_OURS,                                        \
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_WAIT | (extra_caps), .tx_open = id##_tx_open,                \
    .tx_ready = dmp_tx_ready, .send = dmp_send, .tx_close = dmp_tx_close, .rx_open = id##_rx_open,        \
    .recv = dmp_recv, .rx_close = dmp_rx_close, .cleanup = id##_cleanup,                                  \
  }

const struct bench_subject bench_subj_dmp_shm = DMP_SUBJECT(shm, "dmp-shm", "POSIX shm ring", 0);
const struct bench_subject bench_subj_dmp_mmap = DMP_SUBJECT(mmap, "dmp-mmap", "mmap file ring (in /tmp)", 0);
const struct bench_subject bench_subj_dmp_poll =
    DMP_SUBJECT(poll, "dmp-shm-poll", "POSIX shm ring, harness polls try_peek", BENCH_CAP_OPTIN);
const struct bench_subject bench_subj_dmp_lean =
    DMP_SUBJECT(lean, "dmp-shm-lean", "POSIX shm ring, no wake-ups/counters, polled", BENCH_CAP_OPTIN);
const struct bench_subject bench_subj_dmp_nocnt =
    DMP_SUBJECT(nocnt, "dmp-shm-nocnt", "POSIX shm ring, counters off", BENCH_CAP_AB_ONLY);
const struct bench_subject bench_subj_dmp_mp =
    DMP_SUBJECT(mp, "dmp-mp", "POSIX shm multi-producer ring", BENCH_CAP_AB_ONLY | BENCH_CAP_GATHER);
