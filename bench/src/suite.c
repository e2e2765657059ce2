/**
 * @file suite.c
 * @brief The two suites. Same sizes, counts, warm-ups and pinning for
 * every subject; only the queue depth is capped where a transport has a
 * hard limit (iceoryx: 256), and blocking transports block.
 *
 * quick (<= 2 min on 2 cores; measured messages per case in brackets):
 *   pingpong    64 B, 1 KiB [5000], 64 KiB [1000], 1 MiB [100]     all subjects
 *   stream      8 B, 64 B, 1 KiB [100k], 64 KiB [5000], 1 MiB [500]  all subjects
 *   broadcast   64 B [100k], 1 -> 1 (and 1 -> 2)                   subjects that broadcast
 *   fixed_rate  64 B at 20 k msg/s [2000]                          all subjects
 *   wait matrix dmp-shm: ping-pong and stream at 64 B with yield and block
 *               waits, and wake-up (1 s idle, then 200 wakes 1 ms apart) for
 *               spin, yield and block
 * full: the whole 8 B .. 1 MiB ladder (x4 steps) for ping-pong and stream with
 *   10-20x the counts, broadcast 1 -> 1, 2, 4 at 64 B and 1 KiB, fixed rate at
 *   10 k, 50 k and 200 k msg/s [10000], the wait matrix on both backends (3 s
 *   idle, 1000 wakes).
 *
 * Target cases run as paired A/B cases (two subjects alternating in blocks
 * inside one pair of processes, see roles_ab.c), 3 times in quick and 5
 * times in full, spread over the suite; the report uses the medians.
 *
 * Warm-up: at least 1.125 x the ring depth for the size, for all subjects.
 *
 * Broadcast needs a core per process to spin: 1 -> N runs spinning when the
 * host has N + 1 cores; on a smaller host 1 -> 2 still runs, oversubscribed,
 * with yielding waits (labelled so).
 */
#include "orch.h"
#include "roles.h"

#include <string.h>

uint64_t suite_capacity(uint64_t size)
{
  if (size <= 1024)
    return 4096;
  if (size <= 16384)
    return 2048;
  if (size <= 65536)
    return 1024;
  if (size <= 131072)
    return 512;
  if (size <= 524288)
    return 256;
  return 128;
}

struct counts {
  uint64_t count, warmup;
};

/* Measured messages (and warm-up before the ring-coverage rule in add())
 * per case by size; `scale` 1 = quick, 10 = full. */
static struct counts pp_counts(uint64_t size, uint64_t scale)
{
  if (size <= 4096)
    return (struct counts){scale == 1 ? 5000 : 10000 * scale, 1000 * scale};
  if (size <= 65536)
    return (struct counts){1000 * scale, 100 * scale};
  return (struct counts){100 * scale, 10 * scale};
}

static struct counts st_counts(uint64_t size, uint64_t scale)
{
  if (size <= 4096)
    return (struct counts){100000 * scale, 10000 * scale};
  if (size <= 65536)
    return (struct counts){5000 * scale, 500 * scale};
  return (struct counts){500 * scale, 50 * scale};
}

static void add(struct orch *o, const struct bench_subject *s, enum bench_workload wl, uint64_t size,
                struct counts n, uint32_t receivers, enum bench_wait wait, uint64_t rate)
{
  /* The warm-up covers the whole ring (for every subject alike), so every
   * slot's pages are faulted in on both sides before anything is measured:
   * a first touch can cost tens of µs per page on a VM. */
  uint64_t ring = suite_capacity(size);
  if (wl != BENCH_WL_WAKE && n.warmup < ring + ring / 8)
    n.warmup = ring + ring / 8;
  struct bench_case c;
  bench_case_defaults(&c);
  c.workload = wl;
  strncpy(c.subject, s->name, sizeof c.subject - 1);
  c.size = size;
  c.count = n.count;
  c.warmup = n.warmup;
  c.capacity = suite_capacity(size);
  if (s->max_capacity && c.capacity > s->max_capacity)
    c.capacity = s->max_capacity;
  c.receivers = receivers;
  c.wait = wait;
  c.rate = rate;
  orch_add(o, &c);
}

static void plan_main(struct orch *o, const uint64_t *pp_sizes, unsigned npp, const uint64_t *sizes,
                      unsigned nsizes, uint64_t scale)
{
  for (unsigned k = 0; k < npp; k++)
    for (unsigned i = 0; o->subjects[i]; i++)
      add(o, o->subjects[i], BENCH_WL_PINGPONG, pp_sizes[k], pp_counts(pp_sizes[k], scale), 1, BENCH_WAIT_SPIN, 0);
  for (unsigned k = 0; k < nsizes; k++)
    for (unsigned i = 0; o->subjects[i]; i++)
      add(o, o->subjects[i], BENCH_WL_STREAM, sizes[k], st_counts(sizes[k], scale), 1, BENCH_WAIT_SPIN, 0);
}

static void plan_broadcast(struct orch *o, const uint64_t *sizes, unsigned nsizes, const uint32_t *fan,
                           unsigned nfan, uint64_t scale)
{
  for (unsigned k = 0; k < nsizes; k++)
    for (unsigned f = 0; f < nfan; f++) {
      bool fits = (int)fan[f] + 1 <= o->ncpu;
      if (!fits && fan[f] != 2) /* too small a host: only 1 -> 2, oversubscribed */
        continue;
      for (unsigned i = 0; o->subjects[i]; i++)
        if (o->subjects[i]->caps & BENCH_CAP_BROADCAST)
          add(o, o->subjects[i], BENCH_WL_BROADCAST, sizes[k], st_counts(sizes[k], scale), fan[f],
              fits ? BENCH_WAIT_SPIN : BENCH_WAIT_YIELD, 0);
    }
}

static void plan_rates(struct orch *o, const uint64_t *rates, unsigned nrates, uint64_t scale)
{
  struct counts n = {2000 * scale, 500};
  for (unsigned r = 0; r < nrates; r++)
    for (unsigned i = 0; o->subjects[i]; i++)
      add(o, o->subjects[i], BENCH_WL_FIXED_RATE, 64, n, 1, BENCH_WAIT_SPIN, rates[r]);
}

/* The wait matrix runs back to back as its own series (spin included), so
 * its rows compare cases measured within seconds of each other. */
static void plan_waits(struct orch *o, const char *subject, int64_t idle_ns, uint64_t wakes)
{
  const struct bench_subject *s = bench_subject_find(subject);
  if (!s || !orch_has(o, subject))
    return;
  for (unsigned w = 0; w < BENCH_WAIT_COUNT; w++) {
    add(o, s, BENCH_WL_PINGPONG, 64, pp_counts(64, 1), 1, (enum bench_wait)w, 0);
    strcpy(o->cases[o->ncases - 1].series, "waits");
    add(o, s, BENCH_WL_STREAM, 64, st_counts(64, 1), 1, (enum bench_wait)w, 0);
    strcpy(o->cases[o->ncases - 1].series, "waits");
    add(o, s, BENCH_WL_WAKE, 64, (struct counts){wakes, 5}, 1, (enum bench_wait)w, 0);
    strcpy(o->cases[o->ncases - 1].series, "waits");
    o->cases[o->ncases - 1].idle_ns = idle_ns;
    o->cases[o->ncases - 1].gap_ns = 1000000;
  }
}

/* The cases the targets are judged on, as paired A/B runs (roles_ab.c):
 * each of our subjects (diagnostic variants too, when selected) against the
 * floor (64 B ping-pong, 8 B and 64 B streams) and dmp-shm against iceoryx
 * and zmq (64 B ping-pong). */
static void add_ab(struct orch *o, const char *a, const char *b, enum bench_workload wl, uint64_t size,
                   struct counts n, uint32_t rep)
{
  const struct bench_subject *sa = bench_subject_find(a);
  if (!sa || !orch_has(o, a) || !orch_has(o, b))
    return;
  add(o, sa, wl, size, n, 1, BENCH_WAIT_SPIN, 0);
  struct bench_case *c = &o->cases[o->ncases - 1];
  strncpy(c->pair, b, sizeof c->pair - 1);
  c->rep = rep;
}

static void plan_ab(struct orch *o, uint32_t rep, uint64_t scale)
{
  for (unsigned i = 0; o->subjects[i]; i++) {
    const char *ours = o->subjects[i]->name;
    if (o->subjects[i]->family != BENCH_FAMILY_OURS)
      continue;
    add_ab(o, ours, "floor", BENCH_WL_AB_PINGPONG, 64, (struct counts){10000 * scale, 1000}, rep);
    add_ab(o, ours, "floor", BENCH_WL_AB_STREAM, 8, (struct counts){200000 * scale, 10000}, rep);
    add_ab(o, ours, "floor", BENCH_WL_AB_STREAM, 64, (struct counts){200000 * scale, 10000}, rep);
  }
  add_ab(o, "dmp-shm", "iceoryx", BENCH_WL_AB_PINGPONG, 64, (struct counts){10000 * scale, 1000}, rep);
  add_ab(o, "dmp-shm", "zmq", BENCH_WL_AB_PINGPONG, 64, (struct counts){10000 * scale, 1000}, rep);
}

int suite_plan(struct orch *o, const char *name)
{
  static const uint32_t fan[] = {1, 2, 4};
  if (strcmp(name, "quick") == 0) {
    static const uint64_t pp_sizes[] = {64, 1024, 65536, 1048576};
    static const uint64_t sizes[] = {8, 64, 1024, 65536, 1048576};
    static const uint64_t bsizes[] = {64};
    static const uint64_t rates[] = {20000};
    plan_ab(o, 0, 1);
    plan_main(o, pp_sizes, 4, sizes, 5, 1);
    plan_ab(o, 1, 1);
    plan_broadcast(o, bsizes, 1, fan, 2, 1);
    plan_rates(o, rates, 1, 1);
    plan_waits(o, "dmp-shm", 1000000000, 200);
    plan_ab(o, 2, 1);
    return 0;
  }
  if (strcmp(name, "full") == 0) {
    static const uint64_t sizes[] = {8, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576};
    static const uint64_t bsizes[] = {64, 1024};
    static const uint64_t rates[] = {10000, 50000, 200000};
    plan_ab(o, 0, 5);
    plan_main(o, sizes, 9, sizes, 9, 10);
    plan_ab(o, 1, 5);
    plan_broadcast(o, bsizes, 2, fan, 3, 10);
    plan_rates(o, rates, 3, 5);
    plan_ab(o, 2, 5);
    plan_waits(o, "dmp-shm", 3000000000, 1000);
    plan_waits(o, "dmp-mmap", 3000000000, 1000);
    for (uint32_t rep = 3; rep < 5; rep++)
      plan_ab(o, rep, 5);
    return 0;
  }
  return -1;
}
