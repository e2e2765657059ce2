/**
 * @file subj_mark.c
 * @brief Issue 18's single-producer marker experiment, as opt-in subjects
 * (run them with --only; they change no library code):
 *
 *   dmp-shm-mark     a single-producer libdisruptor_mp ring whose slots
 *                    carry an 8-byte marker before the payload (slot =
 *                    8 + size bytes, aligned to 64, so the marker and the
 *                    payload's first 56 bytes share the slot's first cache
 *                    line). The producer claims, copies the payload in,
 *                    stores the marker (sequence + 1, release), then
 *                    publishes as usual (the cursor store and the wake-up
 *                    check stay: gating, waits and dmp-stat still use the
 *                    cursor). The consumer does not read the cursor: it
 *                    polls its next slot's marker (acquire), copies the
 *                    payload out and releases through the library
 *   dmp-shm-markarr  the same with the markers in a parallel array (a
 *                    POSIX shm segment of capacity x 8 bytes beside the
 *                    ring, eight markers per line): slots as dmp-shm's
 *   dmp-shm-markhyb  markarr's ring and producer; the consumer takes a
 *                    batch from the cursor as the library's try_peek does
 *                    (one load for all that is published) and polls the
 *                    next marker only when it has caught up with it
 *
 * The consumers poll with PAUSE, as the library's spinning wait polls the
 * cursor (dmp-shm-poll, subj_dmp.c, polls the inline try_peek without
 * PAUSE: close to, not exactly, the same loop). The consumer sets its handle's `next` itself (ring.h's fields
 * are the inline paths' and an experiment may use them) and releases with
 * dmp_consumer_release(), so the producer's gating is the library's.
 */
#include "bench.h"
#include "subj_rings.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#define MARK_HDR 8u

struct mark_end {
  struct dmp_producer *p;
  struct dmp_consumer *c;
  _Atomic uint64_t *arr; /* parallel markers (markarr), else NULL */
  size_t arr_len;
  uint64_t mask;
  char arr_name[BENCH_PATH_MAX + 40]; /* the producer's, removed at its close */
  bool hybrid; /* read the cursor first; poll the marker only when caught up */
};

static int fail(const char *what, int rc)
{
  bench_log("%s: %s (%s)", what, dmp_strerror(rc), dmp_last_error());
  return rc;
}

static void arr_name(const struct bench_chan *ch, char *out, size_t n)
{
  char ring[BENCH_PATH_MAX + 32];
  subj_ring_name(ch->c, ch->dir, DMP_BACKEND_SHM, ring, sizeof ring);
  snprintf(out, n, "/%sm", ring);
}

static int tx_open(const struct bench_chan *ch, bool arr, void **tx)
{
  char name[BENCH_PATH_MAX + 32];
  subj_ring_name(ch->c, ch->dir, DMP_BACKEND_SHM, name, sizeof name);
  struct mark_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  e->mask = ch->c->capacity - 1;
  if (arr) {
    arr_name(ch, e->arr_name, sizeof e->arr_name);
    e->arr_len = ch->c->capacity * sizeof(uint64_t);
    uint8_t *map;
    int rc = bench_shm_create(e->arr_name, e->arr_len, &map);
    if (rc < 0) {
      free(e);
      return rc;
    }
    e->arr = (_Atomic uint64_t *)(void *)map;
  }
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = DMP_BACKEND_SHM;
  cfg.name = name;
  cfg.capacity = ch->c->capacity;
  cfg.slot_size = (uint32_t)ch->c->size + (arr ? 0 : MARK_HDR);
  if (!arr) /* BENCH_MARK_ALIGN: another slot alignment (diagnostic) */
    cfg.slot_align = getenv("BENCH_MARK_ALIGN") ? (uint32_t)atoi(getenv("BENCH_MARK_ALIGN")) : 64;
  cfg.max_consumers = BENCH_MAX_RX;
  cfg.wait.kind = DMP_WAIT_SPIN;
  int rc = dmp_producer_create(&cfg, &e->p);
  if (rc < 0) {
    if (e->arr) {
      munmap((void *)e->arr, e->arr_len);
      shm_unlink(e->arr_name);
    }
    free(e);
    return fail("dmp_producer_create", rc);
  }
  *tx = e;
  return 0;
}

static int rx_open(const struct bench_chan *ch, bool arr, bool hybrid, unsigned idx, void **rx)
{
  char name[BENCH_PATH_MAX + 32], id[8];
  subj_ring_name(ch->c, ch->dir, DMP_BACKEND_SHM, name, sizeof name);
  snprintf(id, sizeof id, "c%u", idx);
  struct mark_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  e->mask = ch->c->capacity - 1;
  e->hybrid = hybrid;
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = DMP_BACKEND_SHM;
  cfg.name = name;
  cfg.id = id;
  cfg.slot_size = (uint32_t)ch->c->size + (arr ? 0 : MARK_HDR);
  cfg.wait.kind = DMP_WAIT_SPIN;
  int rc = dmp_consumer_attach_timeout(&cfg, BENCH_STEP_TIMEOUT_NS, &e->c);
  if (rc < 0) {
    free(e);
    return fail("dmp_consumer_attach_timeout", rc);
  }
  if (arr) { /* the producer created the array before its ring */
    char an[BENCH_PATH_MAX + 40];
    arr_name(ch, an, sizeof an);
    e->arr_len = ch->c->capacity * sizeof(uint64_t);
    uint8_t *map;
    if ((rc = bench_shm_open_wait(an, e->arr_len, bench_deadline(BENCH_STEP_TIMEOUT_NS), &map)) < 0) {
      dmp_consumer_close_forget(e->c);
      free(e);
      return rc;
    }
    e->arr = (_Atomic uint64_t *)(void *)map;
  }
  *rx = e;
  return 0;
}

static int mark_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  int rc = dmp_producer_wait_for_consumers(((struct mark_end *)tx)->p, n, timeout_ns);
  return rc < 0 ? fail("dmp_producer_wait_for_consumers", rc) : 0;
}

static int mark_send(void *tx, const void *buf, size_t len)
{
  struct mark_end *e = tx;
  void *slot;
  if (dmp_producer_try_claim(e->p, &slot) < 0) {
    int rc = dmp_producer_claim_timeout(e->p, &slot, DMP_FOREVER);
    if (rc < 0)
      return rc;
  }
  int64_t seq = e->p->claim_end - 1;
  _Atomic uint64_t *marker;
  if (e->arr) {
    memcpy(slot, buf, len);
    marker = &e->arr[(uint64_t)seq & e->mask];
  } else {
    memcpy((uint8_t *)slot + MARK_HDR, buf, len);
    marker = (_Atomic uint64_t *)slot;
  }
  /* M1: release store of the marker; pairs with M2, so the payload
   * stored above is visible to a consumer that sees the marker. */
  atomic_store_explicit(marker, (uint64_t)seq + 1, memory_order_release);
  dmp_producer_publish(e->p); /* the cursor, for gating, waits and inspection */
  return 0;
}

static int mark_recv(void *rx, void *buf, size_t len)
{
  struct mark_end *e = rx;
  struct dmp_consumer *c = e->c;
  int64_t s = c->next;
  uint8_t *slot = dmp_impl_slot(&c->ring, s);
  if (e->hybrid && s > c->available) {
    /* C1 as the library's try_peek: a batch from the cursor when the
     * producer is ahead; only a consumer that has caught up polls. */
    int64_t a = dmp_impl_load_acquire(&c->ring.ctl->producer_cursor);
    if (a >= s && (uint64_t)a - (uint64_t)c->committed <= c->ring.capacity)
      c->available = a;
  }
  if (e->hybrid && s <= c->available) {
    memcpy(buf, e->arr ? slot : slot + MARK_HDR, len);
    c->next = s + 1;
    dmp_consumer_release(c);
    return 0;
  }
  _Atomic uint64_t *marker = e->arr ? &e->arr[(uint64_t)s & e->mask] : (_Atomic uint64_t *)(void *)slot;
  /* M2: acquire load of the marker; pairs with M1. */
  while (atomic_load_explicit(marker, memory_order_acquire) != (uint64_t)s + 1)
    bench_relax(); /* PAUSE, as the library's spinning wait does */
  memcpy(buf, e->arr ? slot : slot + MARK_HDR, len);
  c->next = s + 1;
  dmp_consumer_release(c);
  return 0;
}

static void mark_tx_close(void *tx)
{
  struct mark_end *e = tx;
  if (!e)
    return;
  dmp_producer_close(e->p);
  if (e->arr) {
    munmap((void *)e->arr, e->arr_len);
    shm_unlink(e->arr_name);
  }
  free(e);
}

static void mark_rx_close(void *rx)
{
  struct mark_end *e = rx;
  if (!e)
    return;
  dmp_consumer_close_forget(e->c);
  if (e->arr)
    munmap((void *)e->arr, e->arr_len);
  free(e);
}

static void mark_cleanup(const struct bench_case *c)
{
  subj_rings_gc(c, DMP_BACKEND_SHM);
  for (unsigned d = 0; d < 2; d++) {
    struct bench_chan ch = {.c = c, .dir = d};
    char an[BENCH_PATH_MAX + 40];
    arr_name(&ch, an, sizeof an);
    shm_unlink(an);
  }
}

static int slot_tx_open(const struct bench_chan *ch, void **tx) { return tx_open(ch, false, tx); }
static int slot_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  return rx_open(ch, false, false, idx, rx);
}
static int arr_tx_open(const struct bench_chan *ch, void **tx) { return tx_open(ch, true, tx); }
static int arr_rx_open(const struct bench_chan *ch, unsigned idx, void **rx) { return rx_open(ch, true, false, idx, rx); }
static int hyb_rx_open(const struct bench_chan *ch, unsigned idx, void **rx) { return rx_open(ch, true, true, idx, rx); }

const struct bench_subject bench_subj_dmp_mark = {
    .name = "dmp-shm-mark", .transport = "POSIX shm ring, per-slot marker in the slot, polled",
    .family = BENCH_FAMILY_OURS, .caps = BENCH_CAP_OPTIN, .tx_open = slot_tx_open, .tx_ready = mark_tx_ready,
    .send = mark_send, .tx_close = mark_tx_close, .rx_open = slot_rx_open, .recv = mark_recv,
    .rx_close = mark_rx_close, .cleanup = mark_cleanup,
};

const struct bench_subject bench_subj_dmp_markarr = {
    .name = "dmp-shm-markarr", .transport = "POSIX shm ring, parallel marker array, polled",
    .family = BENCH_FAMILY_OURS, .caps = BENCH_CAP_OPTIN, .tx_open = arr_tx_open, .tx_ready = mark_tx_ready,
    .send = mark_send, .tx_close = mark_tx_close, .rx_open = arr_rx_open, .recv = mark_recv,
    .rx_close = mark_rx_close, .cleanup = mark_cleanup,
};

const struct bench_subject bench_subj_dmp_markhyb = {
    .name = "dmp-shm-markhyb", .transport = "POSIX shm ring, parallel marker array polled only when caught up",
    .family = BENCH_FAMILY_OURS, .caps = BENCH_CAP_OPTIN, .tx_open = arr_tx_open, .tx_ready = mark_tx_ready,
    .send = mark_send, .tx_close = mark_tx_close, .rx_open = hyb_rx_open, .recv = mark_recv,
    .rx_close = mark_rx_close, .cleanup = mark_cleanup,
};
