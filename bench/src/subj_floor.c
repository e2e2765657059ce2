/**
 * @file subj_floor.c
 * @brief The floor: the least a message can cost on this host.
 *
 * Ping-pong ("mailbox"): both directions share ONE buffer of `size` bytes
 * in a POSIX shm segment named <tag>f. The payload's first word is the flag:
 * a sender writes bytes 8.. first, then release-stores word 0 with bit 63
 * set for the server -> client direction; a receiver spins (plain loads, no
 * pause hint) until word 0 carries its direction, then copies out. With a
 * 64-byte payload that is literally one cache line bouncing between two
 * cores; with larger payloads it is the copy in and out and nothing else.
 *
 * Streams and broadcast ("ring"): a minimal fixed-slot ring in <tag>r<dir>:
 *
 *   line 0    header: magic, size, capacity, stride, attached count
 *   line 1    head: last published sequence (producer, release store)
 *   line 2+i  tail[i]: last sequence receiver i has copied out
 *   then      capacity x stride bytes of slots
 *
 * The producer caches the slowest tail and rescans only when the cached
 * window is used up; each receiver caches the head and stores its tail in
 * batches: when it has copied out everything the cached head promised
 * (before it loads the head again), and at every quarter of the ring, so
 * the producer streams on meanwhile. One tail store per batch instead of
 * one per message: the line the producer polls moves once per batch,
 * as a Disruptor consumer's sequence does. No fences, no wake-ups, no
 * liveness: what a Disruptor ring would be with every feature removed.
 *
 * Both ends map with MAP_POPULATE, and every copy goes through
 * bench_copy() (REP MOVSB from 1 MiB on, as libdisruptor_mp copies a byte
 * ring's records): no subject may copy faster than the floor.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLOOR_MAGIC UINT64_C(0x524f4f4c46424d) /* "MBFLOOR" */
#define FLOOR_LINE 64u
#define FLOOR_DIR_BIT (UINT64_C(1) << 63)

struct floor_hdr {
  _Atomic uint64_t magic; /* stored last by the creator (release) */
  uint64_t size, capacity, stride;
  _Atomic uint32_t attached[2];
};

struct floor_end {
  uint8_t *map;
  size_t map_len;
  struct floor_hdr *hdr;
  _Atomic int64_t *head;
  _Atomic int64_t *tails;   /* tail i at tails + i * 8 (one line each) */
  uint8_t *data;            /* mailbox buffer or slot 0 */
  uint64_t mask, stride;
  unsigned idx, receivers, dir;
  bool mailbox, creator, spin;
  int64_t next, cached;     /* producer: min tail; receiver: head */
  char name[BENCH_NAME_MAX + 8];
};

static bool is_mailbox(const struct bench_case *c)
{
  return c->workload == BENCH_WL_PINGPONG || c->workload == BENCH_WL_FIXED_RATE ||
         c->workload == BENCH_WL_AB_PINGPONG;
}

static void seg_name(const struct bench_chan *ch, char *out, size_t n)
{
  if (is_mailbox(ch->c))
    snprintf(out, n, "/%sf", ch->c->tag);
  else
    snprintf(out, n, "/%sr%u", ch->c->tag, ch->dir);
}

static size_t seg_len(const struct bench_case *c, unsigned receivers)
{
  if (is_mailbox(c))
    return FLOOR_LINE + ((c->size + FLOOR_LINE - 1) & ~(uint64_t)(FLOOR_LINE - 1));
  uint64_t stride = (c->size + 7) & ~UINT64_C(7);
  return FLOOR_LINE * (2 + receivers) + c->capacity * stride;
}

static void end_layout(struct floor_end *e, const struct bench_case *c)
{
  e->hdr = (struct floor_hdr *)e->map;
  e->mailbox = is_mailbox(c);
  e->spin = c->wait == BENCH_WAIT_SPIN;
  if (e->mailbox) {
    e->data = e->map + FLOOR_LINE;
    return;
  }
  e->head = (_Atomic int64_t *)(e->map + FLOOR_LINE);
  e->tails = (_Atomic int64_t *)(e->map + 2 * FLOOR_LINE);
  e->data = e->map + FLOOR_LINE * (2 + c->receivers);
  e->stride = (c->size + 7) & ~UINT64_C(7);
  e->mask = c->capacity - 1;
}

static _Atomic int64_t *tail_of(struct floor_end *e, unsigned i)
{
  return (_Atomic int64_t *)((uint8_t *)e->tails + (size_t)i * FLOOR_LINE);
}

static int map_create(struct floor_end *e, const struct bench_case *c)
{
  e->map_len = seg_len(c, c->receivers);
  int rc = bench_shm_create(e->name, e->map_len, &e->map);
  if (rc < 0)
    return rc;
  e->creator = true;
  end_layout(e, c);
  e->hdr->size = c->size;
  e->hdr->capacity = c->capacity;
  if (!e->mailbox) {
    atomic_store_explicit(e->head, -1, memory_order_relaxed);
    for (unsigned i = 0; i < c->receivers; i++)
      atomic_store_explicit(tail_of(e, i), -1, memory_order_relaxed);
  }
  /* F1: release store of the magic; pairs with F2 in map_open. */
  atomic_store_explicit(&e->hdr->magic, FLOOR_MAGIC, memory_order_release);
  return 0;
}

/* Open an existing segment, retrying until it exists, has its size and its
 * magic (bounded by BENCH_STEP_TIMEOUT_NS). */
static int map_open(struct floor_end *e, const struct bench_case *c)
{
  int64_t deadline = bench_deadline(BENCH_STEP_TIMEOUT_NS);
  size_t len = seg_len(c, c->receivers);
  int rc = bench_shm_open_wait(e->name, len, deadline, &e->map);
  if (rc < 0)
    return rc;
  e->map_len = len;
  end_layout(e, c);
  /* F2: acquire load of the magic; pairs with F1. */
  while (atomic_load_explicit(&e->hdr->magic, memory_order_acquire) != FLOOR_MAGIC)
    if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
  return 0;
}

static int floor_open(const struct bench_chan *ch, bool tx, unsigned idx, void **out)
{
  struct floor_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  seg_name(ch, e->name, sizeof e->name);
  e->dir = ch->dir;
  e->idx = idx;
  e->receivers = ch->c->receivers;
  /* The ping sender creates the mailbox, a ring's producer its ring. */
  bool create = tx && (!is_mailbox(ch->c) || ch->dir == 0);
  int rc = create ? map_create(e, ch->c) : map_open(e, ch->c);
  if (rc < 0) {
    free(e);
    return rc;
  }
  e->next = 0;
  e->cached = tx ? (int64_t)ch->c->capacity - 1 : -1; /* ring mode only */
  if (!tx)
    atomic_fetch_add_explicit(&e->hdr->attached[ch->dir], 1, memory_order_acq_rel);
  *out = e;
  return 0;
}

static int floor_tx_open(const struct bench_chan *ch, void **tx) { return floor_open(ch, true, 0, tx); }

static int floor_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  return floor_open(ch, false, idx, rx);
}

static int floor_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  struct floor_end *e = tx;
  int64_t deadline = bench_deadline(timeout_ns);
  while (atomic_load_explicit(&e->hdr->attached[e->dir], memory_order_acquire) < n) {
    if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
    bench_sleep_ns(100000);
  }
  return 0;
}

static inline void floor_wait_step(const struct floor_end *e)
{
  if (!e->spin)
    sched_yield();
}

static int mailbox_send(struct floor_end *e, const void *buf, size_t len)
{
  uint64_t w0;
  memcpy(&w0, buf, 8);
  bench_copy(e->data + 8, (const uint8_t *)buf + 8, len - 8);
  /* F3: release store of the flag word; pairs with F4. */
  atomic_store_explicit((_Atomic uint64_t *)e->data, e->dir ? (w0 | FLOOR_DIR_BIT) : w0,
                        memory_order_release);
  return 0;
}

static int mailbox_recv(struct floor_end *e, void *buf, size_t len)
{
  _Atomic uint64_t *flag = (_Atomic uint64_t *)e->data;
  uint64_t w0;
  for (;;) {
    /* F4: acquire load of the flag word; pairs with F3. */
    w0 = atomic_load_explicit(flag, memory_order_acquire);
    if (w0 != 0 && ((w0 & FLOOR_DIR_BIT) != 0) == (e->dir != 0))
      break;
    floor_wait_step(e);
  }
  w0 &= ~FLOOR_DIR_BIT;
  memcpy(buf, &w0, 8);
  bench_copy((uint8_t *)buf + 8, e->data + 8, len - 8);
  return 0;
}

static int64_t min_tail(struct floor_end *e)
{
  int64_t m = INT64_MAX;
  for (unsigned i = 0; i < e->receivers; i++) {
    /* F5: acquire load of a tail; pairs with F7 (the slot was copied out). */
    int64_t t = atomic_load_explicit(tail_of(e, i), memory_order_acquire);
    if (t < m)
      m = t;
  }
  return m;
}

static int floor_send(void *tx, const void *buf, size_t len)
{
  struct floor_end *e = tx;
  if (e->mailbox)
    return mailbox_send(e, buf, len);
  int64_t seq = e->next;
  while (seq > e->cached) {
    e->cached = min_tail(e) + (int64_t)e->mask + 1;
    if (seq > e->cached)
      floor_wait_step(e);
  }
  bench_copy(e->data + ((uint64_t)seq & e->mask) * e->stride, buf, len);
  /* F6: release store of the head; pairs with F8. */
  atomic_store_explicit(e->head, seq, memory_order_release);
  e->next = seq + 1;
  return 0;
}

static int floor_recv(void *rx, void *buf, size_t len)
{
  struct floor_end *e = rx;
  if (e->mailbox)
    return mailbox_recv(e, buf, len);
  int64_t seq = e->next;
  while (seq > e->cached) {
    /* F8: acquire load of the head; pairs with F6. */
    e->cached = atomic_load_explicit(e->head, memory_order_acquire);
    if (seq > e->cached)
      floor_wait_step(e);
  }
  bench_copy(buf, e->data + ((uint64_t)seq & e->mask) * e->stride, len);
  /* F7: release store of this receiver's tail, once per batch: when the
   * cached head is used up (the next call loads the head again) or at a
   * quarter of the ring; pairs with F5. */
  uint64_t quarter = (e->mask + 1) / 4 ? (e->mask + 1) / 4 : 1;
  if (seq == e->cached || ((uint64_t)seq + 1) % quarter == 0)
    atomic_store_explicit(tail_of(e, e->idx), seq, memory_order_release);
  e->next = seq + 1;
  return 0;
}

static void floor_close(void *h)
{
  struct floor_end *e = h;
  if (!e)
    return;
  munmap(e->map, e->map_len);
  if (e->creator)
    shm_unlink(e->name);
  free(e);
}

static void floor_cleanup(const struct bench_case *c)
{
  char name[BENCH_NAME_MAX + 8];
  snprintf(name, sizeof name, "/%sf", c->tag);
  shm_unlink(name);
  for (unsigned d = 0; d < 2; d++) {
    snprintf(name, sizeof name, "/%sr%u", c->tag, d);
    shm_unlink(name);
  }
}

const struct bench_subject bench_subj_floor = {
    .name = "floor",
    .transport = "shm; ping-pong: one shared cache line (flag word + payload, release store / acquire spin); "
                 "streams: a minimal ring of the same depth, cached head and tails, each tail stored once per "
                 "batch; MAP_POPULATE on both ends; copies with REP MOVSB from 1 MiB on (the byte ring's rule), "
                 "memcpy below",
    .family = BENCH_FAMILY_FLOOR,
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_WAIT,
    .tx_open = floor_tx_open,
    .tx_ready = floor_tx_ready,
    .send = floor_send,
    .tx_close = floor_close,
    .rx_open = floor_rx_open,
    .recv = floor_recv,
    .rx_close = floor_close,
    .cleanup = floor_cleanup,
};
