/**
 * @file subj_floor2.c
 * @brief The two-line floor (issue 18): the shortest round trip two
 * processes can make with one cache line per direction.
 *
 * `floor` bounces ONE line: ping and pong are written into the same buffer.
 * A ring cannot do that: its producer writes its slots, its consumer only
 * reads them, so a ring's round trip moves at least one line each way (the
 * ping's line to the server, the pong's line back), and every miss is a
 * transfer of a line the other side wrote. `floor-2line` is that: a POSIX
 * shm segment <tag>g with a header line, then one buffer of `size` bytes
 * (rounded up to whole lines) per direction. The sender writes bytes 8..
 * of its direction's buffer first, then release-stores word 0, the
 * payload's message number (the harness numbers messages 1, 2, 3, ... per
 * direction, never 0, never twice in a row); the receiver spins (plain
 * loads, no pause hint) until word 0 of the other direction's buffer
 * changes, then copies out. At 64 B: two lines, each written by one side
 * and read by the other.
 *
 * Ping-pong only (pingpong, ab_pingpong, fixed_rate): planned in paired
 * cases against `floor` and the raw rings (suite.c); streams are refused.
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

#define F2_MAGIC UINT64_C(0x324c46424d) /* "MBFL2" */
#define F2_LINE 64u

struct f2_hdr {
  _Atomic uint64_t magic; /* stored last by the creator (release) */
  uint64_t size;
};

struct f2_end {
  uint8_t *map;
  size_t map_len;
  struct f2_hdr *hdr;
  uint8_t *buf[2]; /* buffer of direction 0 (client -> server) and 1 */
  unsigned dir;
  bool creator, spin, tx;
  uint64_t last; /* receiver: word 0 of the last message taken */
  char name[BENCH_NAME_MAX + 8];
};

static bool f2_workload_ok(const struct bench_case *c)
{
  return c->workload == BENCH_WL_PINGPONG || c->workload == BENCH_WL_FIXED_RATE ||
         c->workload == BENCH_WL_AB_PINGPONG;
}

static size_t f2_buf_len(const struct bench_case *c)
{
  return (c->size + F2_LINE - 1) & ~(size_t)(F2_LINE - 1);
}

static size_t f2_seg_len(const struct bench_case *c)
{
  return F2_LINE + 2 * f2_buf_len(c);
}

static void f2_layout(struct f2_end *e, const struct bench_case *c)
{
  e->hdr = (struct f2_hdr *)e->map;
  e->buf[0] = e->map + F2_LINE;
  e->buf[1] = e->map + F2_LINE + f2_buf_len(c);
}

static int f2_create(struct f2_end *e, const struct bench_case *c)
{
  e->map_len = f2_seg_len(c);
  int rc = bench_shm_create(e->name, e->map_len, &e->map);
  if (rc < 0)
    return rc;
  e->creator = true;
  f2_layout(e, c);
  e->hdr->size = c->size;
  /* G1: release store of the magic; pairs with G2 in f2_open_existing. */
  atomic_store_explicit(&e->hdr->magic, F2_MAGIC, memory_order_release);
  return 0;
}

/* Open the segment, retrying until it exists, has its size and its magic
 * (bounded by BENCH_STEP_TIMEOUT_NS). */
static int f2_open_existing(struct f2_end *e, const struct bench_case *c)
{
  int64_t deadline = bench_deadline(BENCH_STEP_TIMEOUT_NS);
  size_t len = f2_seg_len(c);
  int rc = bench_shm_open_wait(e->name, len, deadline, &e->map);
  if (rc < 0)
    return rc;
  e->map_len = len;
  f2_layout(e, c);
  /* G2: acquire load of the magic; pairs with G1. */
  while (atomic_load_explicit(&e->hdr->magic, memory_order_acquire) != F2_MAGIC)
    if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
  return 0;
}

static int f2_open(const struct bench_chan *ch, bool tx, void **out)
{
  if (!f2_workload_ok(ch->c) || ch->c->size < 8) {
    bench_log("floor-2line: ping-pong only, 8 bytes or more");
    return -EOPNOTSUPP;
  }
  struct f2_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  snprintf(e->name, sizeof e->name, "/%sg", ch->c->tag);
  e->dir = ch->dir;
  e->tx = tx;
  e->spin = ch->c->wait == BENCH_WAIT_SPIN;
  /* The ping sender creates the segment (as floor's mailbox). */
  int rc = tx && ch->dir == 0 ? f2_create(e, ch->c) : f2_open_existing(e, ch->c);
  if (rc < 0) {
    free(e);
    return rc;
  }
  *out = e;
  return 0;
}

static int f2_tx_open(const struct bench_chan *ch, void **tx) { return f2_open(ch, true, tx); }

static int f2_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  (void)idx;
  return f2_open(ch, false, rx);
}

static int f2_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  (void)tx, (void)n, (void)timeout_ns;
  return 0; /* nothing to attach: the receiver spins on a word the creator zeroed */
}

static int f2_send(void *tx, const void *buf, size_t len)
{
  struct f2_end *e = tx;
  uint8_t *b = e->buf[e->dir];
  uint64_t w0;
  memcpy(&w0, buf, 8);
  bench_copy(b + 8, (const uint8_t *)buf + 8, len - 8);
  /* G3: release store of word 0; pairs with G4. */
  atomic_store_explicit((_Atomic uint64_t *)(void *)b, w0, memory_order_release);
  return 0;
}

static int f2_recv(void *rx, void *buf, size_t len)
{
  struct f2_end *e = rx;
  uint8_t *b = e->buf[e->dir];
  _Atomic uint64_t *flag = (_Atomic uint64_t *)(void *)b;
  uint64_t w0;
  /* G4: acquire load of word 0; pairs with G3. */
  while ((w0 = atomic_load_explicit(flag, memory_order_acquire)) == e->last)
    if (!e->spin)
      sched_yield();
  e->last = w0;
  memcpy(buf, &w0, 8);
  bench_copy((uint8_t *)buf + 8, b + 8, len - 8);
  return 0;
}

static void f2_close(void *h)
{
  struct f2_end *e = h;
  if (!e)
    return;
  munmap(e->map, e->map_len);
  if (e->creator)
    shm_unlink(e->name);
  free(e);
}

static void f2_cleanup(const struct bench_case *c)
{
  char name[BENCH_NAME_MAX + 8];
  snprintf(name, sizeof name, "/%sg", c->tag);
  shm_unlink(name);
}

const struct bench_subject bench_subj_floor2 = {
    .name = "floor-2line",
    .transport = "shm (one line per direction); MAP_POPULATE; copies with REP MOVSB from 1 MiB on (the byte ring's rule), memcpy below",
    .family = BENCH_FAMILY_FLOOR,
    .caps = BENCH_CAP_WAIT | BENCH_CAP_AB_ONLY,
    .tx_open = f2_tx_open,
    .tx_ready = f2_tx_ready,
    .send = f2_send,
    .tx_close = f2_close,
    .rx_open = f2_rx_open,
    .recv = f2_recv,
    .rx_close = f2_close,
    .cleanup = f2_cleanup,
};
