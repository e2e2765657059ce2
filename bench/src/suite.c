/**
 * @file suite.c
 * @brief The two suites. Same sizes, counts, warm-ups and pinning for
 * every subject; only the queue depth is capped where a transport has a
 * hard limit (iceoryx: 256), and blocking transports block.
 *
 * quick (<= 2 min on 2 cores; measured messages per case in brackets):
 *   pingpong    64 B, 1 KiB [5000], 64 KiB [1000], 1 MiB [100]     all subjects
 *   stream      8 B, 64 B, 1 KiB [100k], 64 KiB [5000], 1 MiB [500]  all subjects
 *               (variants marked BENCH_CAP_QUICK_SHORT — aligned frames,
 *               typed layers on mmap — only ping-pong 64 B, 1 KiB and
 *               stream 1 KiB, 64 KiB; typed subjects start at 33 B)
 *   broadcast   64 B [100k], 1 -> 1 (and 1 -> 2)                   Layer 0, floor, competitors
 *   fixed_rate  64 B at 20 k msg/s [2000]                          Layer 0, floor, competitors
 *   wait matrix dmp-shm: ping-pong and stream at 64 B with yield and block
 *               waits, and wake-up (1 s idle, then 200 wakes 1 ms apart) for
 *               spin, yield and block
 * full: the whole 8 B .. 1 MiB ladder (x4 steps) for ping-pong and stream with
 *   10-20x the counts, every subject; broadcast 1 -> 1, 2, 4 at 64 B and
 *   1 KiB, fixed rate at 10 k, 50 k and 200 k msg/s [10000], for every
 *   subject; the wait matrix on dmp-shm, dmp-mmap and framed-shm (3 s idle,
 *   1000 wakes).
 *
 * Paired A/B cases (two subjects alternating in blocks inside one pair of
 * processes, see roles_ab.c) give every ratio the targets are judged on, 3
 * times in quick and 5 times in full, spread over the suite; the report
 * uses the medians:
 *   raw Layer 0 vs floor         64 B ping-pong, 8 B and 64 B streams
 *   dmp-shm vs floor-2line       64 B ping-pong (the two-line floor: one
 *                                line per direction), and floor-2line vs floor
 *   dmp-shm vs iceoryx, zmq      64 B ping-pong
 *   framed vs raw, vs floor      64 B ping-pong vs the raw ring of the same
 *                                backend; 1 KiB and 1 MiB streams vs floor
 *   counters off vs on           dmp-shm-nocnt vs dmp-shm: 64 B ping-pong,
 *                                8 B and 64 B streams
 *   one producer, multi-producer dmp-mp vs dmp-shm: 64 B ping-pong, 8 B and
 *   ring vs single-producer      64 B streams
 *   2 writers -> 1 (ab_gather)   dmp-mp 2 -> 1 vs dmp-shm 1 -> 1 at 8 B and
 *                                64 B; iceoryx, zmq, nng 2 -> 1 vs dmp-mp
 *                                2 -> 1 at 64 B and 1 KiB (quick: once)
 *   2 writers <-> 1 responder    round trips (ab_gather_rtt): dmp-mp vs
 *                                iceoryx, zmq, nng at 64 B and 1 KiB (full:
 *                                also 3 writers at 64 B); per-writer RTT,
 *                                aggregate round trips/s
 *   view vs owned decode         view-shm vs msgpack-shm: 64 B ping-pong,
 *                                1 KiB and 64 KiB streams
 *   byte rings vs floor, iceoryx dmp-bytes (and framed-bytes where built):
 *                                64 KiB, 1 MiB, 16 MiB ping-pong vs floor
 *                                and iceoryx; 64 KiB, 1 MiB streams vs
 *                                iceoryx; 64 KiB ping-pong vs floor-2line,
 *                                and floor-2line vs floor (plan_large)
 *
 *   gather      8 B, 64 B, 1 KiB [50k]: 2 writers -> 1 consumer (full: 2 and 4 where
 *               the cores allow), every subject that can, beside dmp-shm's
 *               1 -> 1 stream
 *
 * Warm-up: at least 1.125 x the ring depth for the size, for all subjects.
 *
 * Broadcast needs a core per process to spin: 1 -> N runs spinning when the
 * host has N + 1 cores; on a smaller host 1 -> 2 still runs, oversubscribed,
 * with yielding waits (labelled so).
 */
#include "orch.h"
#include "roles.h"

#include <stdio.h>
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

/* Append a case; false (nothing added) when the subject cannot carry
 * payloads that small. */
static bool add(struct orch *o, const struct bench_subject *s, enum bench_workload wl, uint64_t size,
                struct counts n, uint32_t receivers, enum bench_wait wait, uint64_t rate)
{
  if (size < s->min_size || o->ncases >= ORCH_MAX_CASES)
    return false;
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
  return true;
}

/* Does subject `s` take part in the main plan (not only in paired cases)
 * at `size`? Quick runs the variants on a short ladder. */
static bool in_plan(const struct bench_subject *s, enum bench_workload wl, uint64_t size, bool quick)
{
  if (s->caps & BENCH_CAP_AB_ONLY)
    return false;
  if (!quick || !(s->caps & BENCH_CAP_QUICK_SHORT))
    return true;
  if (wl == BENCH_WL_PINGPONG)
    return size == 64 || size == 1024;
  if (wl == BENCH_WL_STREAM)
    return size == 1024 || size == 65536;
  return false;
}

/* Broadcast and fixed rate: every subject in full, Layer 0 and the
 * references only in quick (the layers' costs show in the other figures). */
static bool in_side_plan(const struct bench_subject *s, bool quick)
{
  return !(s->caps & BENCH_CAP_AB_ONLY) && (!quick || s->layer == BENCH_LAYER_RAW);
}

static void plan_main(struct orch *o, const uint64_t *pp_sizes, unsigned npp, const uint64_t *sizes,
                      unsigned nsizes, uint64_t scale)
{
  bool quick = scale == 1;
  for (unsigned k = 0; k < npp; k++)
    for (unsigned i = 0; o->subjects[i]; i++)
      if (in_plan(o->subjects[i], BENCH_WL_PINGPONG, pp_sizes[k], quick))
        add(o, o->subjects[i], BENCH_WL_PINGPONG, pp_sizes[k], pp_counts(pp_sizes[k], scale), 1, BENCH_WAIT_SPIN, 0);
  for (unsigned k = 0; k < nsizes; k++)
    for (unsigned i = 0; o->subjects[i]; i++)
      if (in_plan(o->subjects[i], BENCH_WL_STREAM, sizes[k], quick))
        add(o, o->subjects[i], BENCH_WL_STREAM, sizes[k], st_counts(sizes[k], scale), 1, BENCH_WAIT_SPIN, 0);
}

/* --runs N: the ladder's repetitions 1..N-1, after everything else, so the
 * repetitions are spread over the suite's time (the report draws the
 * spread and takes medians). */
static void plan_main_reps(struct orch *o, const uint64_t *pp_sizes, unsigned npp, const uint64_t *sizes,
                           unsigned nsizes, uint64_t scale)
{
  for (uint32_t rep = 1; rep < o->runs; rep++) {
    unsigned first = o->ncases;
    plan_main(o, pp_sizes, npp, sizes, nsizes, scale);
    for (unsigned i = first; i < o->ncases; i++)
      o->cases[i].rep = rep;
  }
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
        if ((o->subjects[i]->caps & BENCH_CAP_BROADCAST) && in_side_plan(o->subjects[i], scale == 1))
          add(o, o->subjects[i], BENCH_WL_BROADCAST, sizes[k], st_counts(sizes[k], scale), fan[f],
              fits ? BENCH_WAIT_SPIN : BENCH_WAIT_YIELD, 0);
    }
}

static void plan_rates(struct orch *o, const uint64_t *rates, unsigned nrates, uint64_t scale)
{
  struct counts n = {2000 * scale, 500};
  for (unsigned r = 0; r < nrates; r++)
    for (unsigned i = 0; o->subjects[i]; i++)
      if (in_side_plan(o->subjects[i], scale == 1))
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

/* Many writers, one reader (issue 18): N producer processes -> 1 consumer
 * for every subject that can (dmp-mp: a multi-producer ring; zmq, nng:
 * PUSH -> PULL; iceoryx: N publishers on one topic), next to dmp-shm's 1 -> 1
 * stream of the same size, back to back as the series "gather" (the
 * target compares them). N + 1 processes spin only where there are N + 1
 * cores; on a smaller host they run with yielding waits, labelled so. */
static void plan_gather(struct orch *o, const uint64_t *sizes, unsigned nsizes, const uint32_t *writers,
                        unsigned nw, uint64_t scale)
{
  const struct bench_subject *ref = bench_subject_find("dmp-shm");
  const struct counts n = {50000 * scale, 10000}; /* the socket competitors move ~30-800 k msgs/s here */
  for (unsigned k = 0; k < nsizes; k++)
    for (unsigned w = 0; w < nw; w++) {
      bool fits = (int)writers[w] + 1 <= o->ncpu;
      if (!fits && writers[w] != 2)
        continue;
      enum bench_wait wait = fits ? BENCH_WAIT_SPIN : BENCH_WAIT_YIELD;
      if (ref && orch_has(o, "dmp-shm") && w == 0 &&
          add(o, ref, BENCH_WL_STREAM, sizes[k], n, 1, wait, 0))
        strcpy(o->cases[o->ncases - 1].series, "gather");
      for (unsigned i = 0; o->subjects[i]; i++)
        if ((o->subjects[i]->caps & BENCH_CAP_GATHER) &&
            add(o, o->subjects[i], BENCH_WL_GATHER, sizes[k], n, 1, wait, 0)) {
          o->cases[o->ncases - 1].writers = writers[w];
          strcpy(o->cases[o->ncases - 1].series, "gather");
        }
    }
}

/* The cases the targets are judged on, as paired A/B runs (roles_ab.c);
 * see the file comment for the list. */
static void add_ab(struct orch *o, const char *a, const char *b, enum bench_workload wl, uint64_t size,
                   struct counts n, uint32_t rep)
{
  const struct bench_subject *sa = bench_subject_find(a), *sb = bench_subject_find(b);
  if (!sa || !sb || !orch_has(o, a) || !orch_has(o, b) || size < sb->min_size)
    return;
  if (!add(o, sa, wl, size, n, 1, BENCH_WAIT_SPIN, 0))
    return;
  struct bench_case *c = &o->cases[o->ncases - 1];
  strncpy(c->pair, b, sizeof c->pair - 1);
  c->rep = rep;
}

/* Paired gather (roles_ab_gather.c): 2 writers on subject `a` in
 * alternating blocks with `b` (1 -> 1 unless `b` can gather too), in the
 * same processes; waits as plan_gather() chooses them. */
static void add_abg(struct orch *o, const char *a, const char *b, uint64_t size, struct counts n, uint32_t rep)
{
  const uint32_t writers = 2;
  unsigned before = o->ncases;
  add_ab(o, a, b, BENCH_WL_AB_GATHER, size, n, rep);
  if (o->ncases == before)
    return;
  struct bench_case *c = &o->cases[o->ncases - 1];
  c->writers = writers;
  c->wait = (int)writers + 1 <= o->ncpu ? BENCH_WAIT_SPIN : BENCH_WAIT_YIELD;
}

/* Issue 18: 2 producers -> 1 consumer on a multi-producer ring against the
 * single-producer stream (the target), and the competitors' many writers
 * against the multi-producer ring (quick: the first repetition only). */
static void plan_ab_gather(struct orch *o, uint32_t rep, uint64_t scale)
{
  const struct counts ring = {400000 * scale, 10000}, comp = {100000 * scale, 5000};
  add_abg(o, "dmp-mp", "dmp-shm", 8, ring, rep);
  add_abg(o, "dmp-mp", "dmp-shm", 64, ring, rep);
  if (scale == 1 && rep > 0)
    return;
  static const char *const comps[] = {"iceoryx", "zmq", "nng"};
  for (unsigned k = 0; k < 3; k++) {
    add_abg(o, comps[k], "dmp-mp", 64, comp, rep);
    add_abg(o, comps[k], "dmp-mp", 1024, comp, rep);
  }
}

/* Paired many-writer round trips (roles_ab_gather_rtt.c): `writers`
 * writers each send a request to one responder and wait for its reply,
 * on `a` in alternating blocks with `b` (both with as many writers).
 * Spinning only where every process has a core, else blocking waits (not
 * yield, as add_abg() has): the writers then share a core, and only a
 * blocking wait's wake-up hands it to the writer whose reply came. With
 * yield a writer whose replies arrive within its spin never yields, the
 * other waits for the scheduler's tick: per-writer RTT p99 34-48 ms, a
 * 1 KiB case with zmq 69 s, one with iceoryx over the 90 s case limit. */
static void add_abg_rtt(struct orch *o, const char *a, const char *b, uint64_t size, struct counts n, uint32_t rep,
                        uint32_t writers)
{
  unsigned before = o->ncases;
  add_ab(o, a, b, BENCH_WL_AB_GATHER_RTT, size, n, rep);
  if (o->ncases == before)
    return;
  struct bench_case *c = &o->cases[o->ncases - 1];
  c->writers = writers;
  c->wait = (int)writers + 1 <= o->ncpu ? BENCH_WAIT_SPIN : BENCH_WAIT_BLOCK;
}

/* Issue 18: the competitors with many writers, round trips: dmp-mp (a
 * multi-producer request ring, a single-producer reply ring per writer)
 * against iceoryx (N publishers on one topic), zmq and nng (N PUSH -> 1
 * PULL, a PAIR back per writer), 2 writers at 64 B and 1 KiB; full adds 3
 * writers at 64 B (4 processes: on 2 cores they time-share). Every
 * repetition, quick included. */
static void plan_ab_gather_rtt(struct orch *o, uint32_t rep, uint64_t scale)
{
  const struct counts n = {10000 * scale, 1000};
  static const char *const comps[] = {"iceoryx", "zmq", "nng"};
  for (unsigned k = 0; k < 3; k++) {
    add_abg_rtt(o, "dmp-mp", comps[k], 64, n, rep, 2);
    add_abg_rtt(o, "dmp-mp", comps[k], 1024, n, rep, 2);
    if (scale > 1)
      add_abg_rtt(o, "dmp-mp", comps[k], 64, n, rep, 3);
  }
}

/* Framed subjects and the raw ring of the same backend. */
static const struct {
  const char *framed, *raw;
} framed_pairs[] = {
    {"framed-shm", "dmp-shm"},
    {"framed-mmap", "dmp-mmap"},
    {"framed-shm-aligned", "dmp-shm"},
    {"framed-mmap-aligned", "dmp-mmap"},
    {"framed-shm-frag", "dmp-shm"},
    {"framed-shm-poll", "dmp-shm"},
};

static void plan_ab(struct orch *o, uint32_t rep, uint64_t scale)
{
  const struct counts pp = {10000 * scale, 1000}, small = {200000 * scale, 10000};
  for (unsigned i = 0; o->subjects[i]; i++) {
    const struct bench_subject *s = o->subjects[i];
    if (s->family != BENCH_FAMILY_OURS || s->layer != BENCH_LAYER_RAW || (s->caps & BENCH_CAP_AB_ONLY))
      continue;
    add_ab(o, s->name, "floor", BENCH_WL_AB_PINGPONG, 64, pp, rep);
    add_ab(o, s->name, "floor", BENCH_WL_AB_STREAM, 8, small, rep);
    add_ab(o, s->name, "floor", BENCH_WL_AB_STREAM, 64, small, rep);
  }
  add_ab(o, "dmp-shm", "floor-2line", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  add_ab(o, "floor-2line", "floor", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  add_ab(o, "dmp-shm", "iceoryx", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  add_ab(o, "dmp-shm", "zmq", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  for (size_t k = 0; k < sizeof framed_pairs / sizeof framed_pairs[0]; k++) {
    const struct bench_subject *f = bench_subject_find(framed_pairs[k].framed);
    if (!f || (scale == 1 && (f->caps & BENCH_CAP_QUICK_SHORT)))
      continue;
    add_ab(o, f->name, framed_pairs[k].raw, BENCH_WL_AB_PINGPONG, 64, pp, rep);
    add_ab(o, f->name, "floor", BENCH_WL_AB_STREAM, 1024, small, rep);
    add_ab(o, f->name, "floor", BENCH_WL_AB_STREAM, 1048576, (struct counts){1000 * scale, 50}, rep);
  }
  add_ab(o, "dmp-shm-nocnt", "dmp-shm", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  add_ab(o, "dmp-shm-nocnt", "dmp-shm", BENCH_WL_AB_STREAM, 8, small, rep);
  add_ab(o, "dmp-shm-nocnt", "dmp-shm", BENCH_WL_AB_STREAM, 64, small, rep);
  add_ab(o, "dmp-mp", "dmp-shm", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  add_ab(o, "dmp-mp", "dmp-shm", BENCH_WL_AB_STREAM, 8, small, rep);
  add_ab(o, "dmp-mp", "dmp-shm", BENCH_WL_AB_STREAM, 64, small, rep);
  plan_ab_gather(o, rep, scale);
  plan_ab_gather_rtt(o, rep, scale);
  /* Framed small messages against the raw ring: with the batched calls
   * (the target) and one message per call (how far batching moves it). */
  add_ab(o, "framed-shm-batch", "dmp-shm", BENCH_WL_AB_STREAM, 8, small, rep);
  add_ab(o, "framed-shm-batch", "dmp-shm", BENCH_WL_AB_STREAM, 64, small, rep);
  add_ab(o, "framed-shm", "dmp-shm", BENCH_WL_AB_STREAM, 8, small, rep);
  add_ab(o, "framed-shm", "dmp-shm", BENCH_WL_AB_STREAM, 64, small, rep);
  /* Typed layers against the raw ring (issue 20): the owned decode and the
   * field view at 64 B ping-pong; the typed 64 B stream batched (the
   * target), one message per call, and batched views (shown beside). */
  add_ab(o, "msgpack-shm", "dmp-shm", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  add_ab(o, "view-shm", "dmp-shm", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  add_ab(o, "msgpack-shm-batch", "dmp-shm", BENCH_WL_AB_STREAM, 64, small, rep);
  add_ab(o, "msgpack-shm", "dmp-shm", BENCH_WL_AB_STREAM, 64, small, rep);
  add_ab(o, "view-shm-batch", "dmp-shm", BENCH_WL_AB_STREAM, 64, small, rep);
  /* Framed small messages on a framed byte ring (MYELON_FRAME_BYTES), the
   * batched calls: records claimed back to back, one cursor store per
   * batch. */
  add_ab(o, "framed-bytes-batch", "dmp-shm", BENCH_WL_AB_STREAM, 8, small, rep);
  add_ab(o, "framed-bytes-batch", "dmp-shm", BENCH_WL_AB_STREAM, 64, small, rep);
  add_ab(o, "view-shm", "msgpack-shm", BENCH_WL_AB_PINGPONG, 64, pp, rep);
  add_ab(o, "view-shm", "msgpack-shm", BENCH_WL_AB_STREAM, 1024, small, rep);
  add_ab(o, "view-shm", "msgpack-shm", BENCH_WL_AB_STREAM, 65536, (struct counts){10000 * scale, 500}, rep);
}

/* Issue 20: large messages on the byte rings, raw (dmp-bytes) and Layer 1
 * (framed-bytes, where built), against the floor and iceoryx: ping-pong at
 * 64 KiB, 1 MiB and 16 MiB, streams at 64 KiB and 1 MiB. 16 MiB is no rung
 * of the ladder: its cases get a depth of 8 (a ping-pong has one message
 * in flight; dmp-bytes still holds two records, iceoryx's pool has 4
 * chunks of 16 MiB, roudi.c) and a warm-up of 20, not 1.125 x 128. */
static void plan_large(struct orch *o, uint32_t rep, uint64_t scale)
{
  static const char *const subjects[] = {"dmp-bytes", "framed-bytes"};
  static const char *const refs[] = {"floor", "iceoryx"};
  for (unsigned k = 0; k < 2; k++)
    for (unsigned r = 0; r < 2; r++) {
      add_ab(o, subjects[k], refs[r], BENCH_WL_AB_PINGPONG, 65536, (struct counts){1000 * scale, 100}, rep);
      add_ab(o, subjects[k], refs[r], BENCH_WL_AB_PINGPONG, 1048576, (struct counts){200 * scale, 20}, rep);
      unsigned before = o->ncases;
      add_ab(o, subjects[k], refs[r], BENCH_WL_AB_PINGPONG, 16777216, (struct counts){30 * scale, 20}, rep);
      if (o->ncases > before) {
        o->cases[o->ncases - 1].capacity = 8;
        o->cases[o->ncases - 1].warmup = 20;
      }
      if (r == 0)
        continue;
      add_ab(o, subjects[k], "iceoryx", BENCH_WL_AB_STREAM, 65536, (struct counts){5000 * scale, 500}, rep);
      add_ab(o, subjects[k], "iceoryx", BENCH_WL_AB_STREAM, 1048576, (struct counts){500 * scale, 50}, rep);
    }
  /* 64 KiB against the two-line floor (one buffer per direction), and that
   * floor against the one-line floor: a ring writes its requests and its
   * replies into different memory, which the one-line floor does not pay
   * for (bench/README.md, "Issue 20: what decides a large round trip");
   * reported beside the target, which stays against `floor`. */
  for (unsigned k = 0; k < 2; k++)
    add_ab(o, subjects[k], "floor-2line", BENCH_WL_AB_PINGPONG, 65536, (struct counts){1000 * scale, 100}, rep);
  add_ab(o, "floor-2line", "floor", BENCH_WL_AB_PINGPONG, 65536, (struct counts){1000 * scale, 100}, rep);
}

/* Issue 17: the bridge between two hosts (hosts.h), paired against plain
 * ZeroMQ with the same socket types and security (and nng against plain
 * ZeroMQ over the same veth), and the cost of an egress to the local
 * readers of a ring. Every end of ours waits with `block` (spin a little,
 * yield, park): the bridge's processes and ZeroMQ's I/O threads need the
 * cores a spinning reader would hold. Quick: CURVE (the bridge's default
 * between hosts) at every size, plain TCP and nng at 64 B and 1 KiB. */
static void add_bridge(struct orch *o, const char *a, const char *b, enum bench_workload wl, uint64_t size,
                       struct counts n, uint32_t rep, enum bench_wait wait)
{
  unsigned before = o->ncases;
  add_ab(o, a, b, wl, size, n, rep);
  if (o->ncases > before)
    o->cases[o->ncases - 1].wait = wait;
}

static void plan_bridge(struct orch *o, uint32_t rep, uint64_t scale)
{
  const struct counts pp = {2000 * scale, 500}, small = {20000 * scale, 2000}, k64 = {2000 * scale, 200},
                      m1 = {200 * scale, 20};
  const enum bench_wait blk = BENCH_WAIT_BLOCK;
  add_bridge(o, "framed-egress", "framed-shm", BENCH_WL_AB_PINGPONG, 64, (struct counts){5000 * scale, 1000}, rep, blk);
  add_bridge(o, "framed-egress", "framed-shm", BENCH_WL_AB_PINGPONG, 64, (struct counts){5000 * scale, 1000}, rep,
             BENCH_WAIT_SPIN);
  static const char *const pairs[][2] = {{"bridge-curve", "zmq-curve"}, {"bridge-tcp", "zmq-tcp"}, {"nng-tcp", "zmq-tcp"}};
  for (unsigned k = 0; k < 3; k++) {
    bool all = k == 0 || scale > 1;
    add_bridge(o, pairs[k][0], pairs[k][1], BENCH_WL_AB_PINGPONG, 64, pp, rep, blk);
    add_bridge(o, pairs[k][0], pairs[k][1], BENCH_WL_AB_STREAM, 64, small, rep, blk);
    add_bridge(o, pairs[k][0], pairs[k][1], BENCH_WL_AB_STREAM, 1024, small, rep, blk);
    if (!all)
      continue;
    add_bridge(o, pairs[k][0], pairs[k][1], BENCH_WL_AB_STREAM, 65536, k64, rep, blk);
    add_bridge(o, pairs[k][0], pairs[k][1], BENCH_WL_AB_STREAM, 1048576, m1, rep, blk);
  }
}

static int plan_suite(struct orch *o, const char *name)
{
  static const uint32_t fan[] = {1, 2, 4};
  if (strcmp(name, "quick") == 0) {
    static const uint64_t pp_sizes[] = {64, 1024, 65536, 1048576};
    static const uint64_t sizes[] = {8, 64, 1024, 65536, 1048576};
    static const uint64_t bsizes[] = {64};
    static const uint64_t rates[] = {20000};
    plan_ab(o, 0, 1);
    plan_bridge(o, 0, 1);
    plan_large(o, 0, 1);
    plan_main(o, pp_sizes, 4, sizes, 5, 1);
    plan_ab(o, 1, 1);
    plan_bridge(o, 1, 1);
    plan_large(o, 1, 1);
    plan_broadcast(o, bsizes, 1, fan, 2, 1);
    plan_rates(o, rates, 1, 1);
    plan_waits(o, "dmp-shm", 1000000000, 200);
    static const uint64_t gsizes[] = {8, 64, 1024};
    static const uint32_t gwriters[] = {2};
    plan_gather(o, gsizes, 3, gwriters, 1, 1);
    plan_ab(o, 2, 1);
    plan_bridge(o, 2, 1);
    plan_large(o, 2, 1);
    plan_main_reps(o, pp_sizes, 4, sizes, 5, 1);
    return 0;
  }
  if (strcmp(name, "full") == 0) {
    static const uint64_t sizes[] = {8, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576};
    static const uint64_t bsizes[] = {64, 1024};
    static const uint64_t rates[] = {10000, 50000, 200000};
    plan_ab(o, 0, 5);
    plan_bridge(o, 0, 5);
    plan_large(o, 0, 5);
    plan_main(o, sizes, 9, sizes, 9, 10);
    plan_ab(o, 1, 5);
    plan_bridge(o, 1, 5);
    plan_large(o, 1, 5);
    plan_broadcast(o, bsizes, 2, fan, 3, 10);
    plan_rates(o, rates, 3, 5);
    plan_ab(o, 2, 5);
    plan_waits(o, "dmp-shm", 3000000000, 1000);
    plan_waits(o, "dmp-mmap", 3000000000, 1000);
    plan_waits(o, "framed-shm", 3000000000, 1000);
    static const uint64_t gsizes[] = {8, 64, 1024};
    static const uint32_t gwriters[] = {2, 4};
    plan_gather(o, gsizes, 3, gwriters, 2, 10);
    plan_bridge(o, 2, 5);
    plan_large(o, 2, 5);
    for (uint32_t rep = 3; rep < 5; rep++) {
      plan_ab(o, rep, 5);
      plan_bridge(o, rep, 5);
      plan_large(o, rep, 5);
    }
    plan_main_reps(o, sizes, 9, sizes, 9, 10);
    return 0;
  }
  return -1;
}

int suite_plan(struct orch *o, const char *name)
{
  if (o->runs == 0)
    o->runs = 1; /* `plan` leaves it unset */
  if (plan_suite(o, name) < 0)
    return -1;
  if (o->ncases >= ORCH_MAX_CASES) { /* orch_add() drops what does not fit: never silently */
    fprintf(stderr, "myelon-bench: the %s suite with --runs %u needs more than %d cases; use fewer runs\n", name,
            o->runs, ORCH_MAX_CASES);
    return -1;
  }
  return 0;
}
