/*
 * Multiprocess streaming: one producer process broadcasting to N consumer
 * processes (dmp_role children), every event checked byte for byte by every
 * consumer (sequence + checksum + pattern oracle, see mp_payload.h).
 * Each test runs on both backends (<name>_shm, <name>_mmap).
 *
 *   broadcast  1 -> 1, 2, 4 consumers, 200k events, several read APIs
 *   wrap       tiny rings (4, 8 slots) and the 64 Ki boundary of a 512-slot ring
 *   gating     a slow consumer holds the producer back; nothing is overwritten
 *   batch      batch claims of varying size (try and timeout variants)
 *   waiting    every wait strategy; an idle blocked consumer does not burn a core
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <criterion/criterion.h>

#include "mp_harness.h"

TestSuite(broadcast, .fini = mp_fini, .timeout = 240);
TestSuite(wrap, .fini = mp_fini, .timeout = 240);
TestSuite(gating, .fini = mp_fini, .timeout = 240);
TestSuite(batch, .fini = mp_fini, .timeout = 240);
TestSuite(waiting, .fini = mp_fini, .timeout = 240);

#define MAXC 8

/** One consumer of a fan-out: its id, read API and wait strategy. */
struct cons {
  const char *id;
  const char *api;  /* peek | peekt | process | copy */
  const char *wait; /* block | sleep | yield | spin; NULL = default */
};

/** A fan-out run: one producer waiting for every consumer, then `count` events. */
struct fanout {
  uint64_t capacity;
  uint32_t slot;
  int64_t count;
  const char *const *producer_opts; /* extra "--opt", "value" pairs ("" for a flag), NULL-terminated */
  struct cons cons[MAXC];
  int n;
};

static void add_opts(struct mp_cmd *c, const char *const *opts)
{
  for (int i = 0; opts && opts[i] && opts[i + 1]; i += 2) {
    if (opts[i + 1][0])
      mp_cmd_add(c, opts[i], "%s", opts[i + 1]);
    else
      mp_cmd_add(c, opts[i], NULL);
  }
}

/* Spawns the consumers first (they attach with a timeout), then the
 * producer with wait_consumers = n; asserts every child exits 0 and that a
 * cleanly closed producer removed its segment. */
static void run_fanout(enum dmp_backend backend, const char *tag, const struct fanout *f)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, tag);
  pid_t pids[MAXC + 1];
  mp_who who[MAXC + 1];
  for (int i = 0; i < f->n; i++) {
    struct mp_cmd c;
    mp_consumer_cmd(&c, &ring, f->cons[i].id, f->count);
    mp_cmd_add(&c, "--first", "0");
    mp_cmd_add(&c, "--slot", "%u", f->slot);
    mp_cmd_add(&c, "--api", "%s", f->cons[i].api);
    if (f->cons[i].wait)
      mp_cmd_add(&c, "--wait", "%s", f->cons[i].wait);
    pids[i] = mp_cmd_spawn(&c);
    snprintf(who[i], sizeof who[i], "%s [%s]", c.who, mp_backend_name(backend));
  }
  struct mp_cmd p;
  mp_producer_cmd(&p, &ring, f->capacity, f->slot, f->count);
  mp_cmd_add(&p, "--wait-consumers", "%d", f->n);
  add_opts(&p, f->producer_opts);
  pids[f->n] = mp_cmd_spawn(&p);
  snprintf(who[f->n], sizeof who[0], "producer [%s]", mp_backend_name(backend));
  mp_expect_all_ok(pids, who, f->n + 1);
  mp_assert_ring_gone(&ring, "after its producer closed");
}

/* ------------------------------------------------------------- broadcast */

MP_TEST(broadcast, one_consumer_receives_200k_events_intact)
{
  struct fanout f = {.capacity = 1024, .slot = 16, .count = 200000, .n = 1,
                     .cons = {{"c0", "peek", NULL}}};
  run_fanout(backend, "b1", &f);
}

MP_TEST(broadcast, two_consumers_each_receive_200k_events_intact)
{
  /* Claims accumulate: the producer publishes every 8 claims at once. */
  static const char *const popts[] = {"--publish-every", "8", NULL};
  struct fanout f = {.capacity = 512, .slot = 64, .count = 200000, .n = 2,
                     .producer_opts = popts,
                     .cons = {{"c0", "peekt", NULL}, {"c1", "copy", NULL}}};
  run_fanout(backend, "b2", &f);
}

MP_TEST(broadcast, four_consumers_each_receive_200k_events_intact)
{
  /* 200-byte events, 64-byte aligned slots, the copying publish. */
  static const char *const popts[] = {"--align", "64", "--claim", "copy", NULL};
  struct fanout f = {.capacity = 1024, .slot = 200, .count = 200000, .n = 4,
                     .producer_opts = popts,
                     .cons = {{"c0", "peek", NULL}, {"c1", "process", NULL},
                              {"c2", "copy", NULL}, {"c3", "peekt", NULL}}};
  run_fanout(backend, "b4", &f);
}

/* ------------------------------------------------------------------ wrap */

MP_TEST(wrap, ring_of_4_slots_wraps_10k_times_without_loss)
{
  struct fanout f = {.capacity = 4, .slot = 64, .count = 40000, .n = 2,
                     .cons = {{"c0", "peek", NULL}, {"c1", "copy", NULL}}};
  run_fanout(backend, "w4", &f);
}

MP_TEST(wrap, ring_of_8_slots_wraps_8k_times_without_loss)
{
  static const char *const popts[] = {"--claim", "try", NULL};
  struct fanout f = {.capacity = 8, .slot = 16, .count = 64000, .n = 2,
                     .producer_opts = popts,
                     .cons = {{"c0", "process", NULL}, {"c1", "peekt", NULL}}};
  run_fanout(backend, "w8", &f);
}

/* Upstream regression: a deadlock at the 65,536-event boundary of a
 * 512-slot ring. Cross it by one. */
MP_TEST(wrap, ring_of_512_crosses_the_64ki_event_boundary)
{
  struct fanout f = {.capacity = 512, .slot = 16, .count = 65537, .n = 1,
                     .cons = {{"c0", "peek", NULL}}};
  run_fanout(backend, "w512", &f);
}

/* ---------------------------------------------------------------- gating */

/* The slow consumer sleeps while holding leased (peeked, unreleased) events
 * and re-verifies them before releasing: an overwrite by the producer would
 * show as a checksum mismatch. The producer uses non-blocking claims, which
 * must report "full" while it is held back, and exits without waiting for
 * the consumers, which must still read what was published before it closed. */
MP_TEST(gating, slow_consumer_holds_producer_back_and_fast_one_completes)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "gate");
  const int64_t count = 30000;
  const char *report = mp_file("prod");
  struct mp_cmd c;
  pid_t pids[3];
  mp_who who[3];

  mp_consumer_cmd(&c, &ring, "slow", count);
  mp_cmd_add(&c, "--first", "0");
  mp_cmd_add(&c, "--api", "peek");
  mp_cmd_add(&c, "--slow-every", "97");
  mp_cmd_add(&c, "--slow-us", "300");
  pids[0] = mp_cmd_spawn(&c);
  snprintf(who[0], sizeof who[0], "slow consumer [%s]", mp_backend_name(backend));

  mp_consumer_cmd(&c, &ring, "fast", count);
  mp_cmd_add(&c, "--first", "0");
  mp_cmd_add(&c, "--api", "process");
  mp_cmd_add(&c, "--wait", "yield");
  pids[1] = mp_cmd_spawn(&c);
  snprintf(who[1], sizeof who[1], "fast consumer [%s]", mp_backend_name(backend));

  struct mp_cmd p;
  mp_producer_cmd(&p, &ring, 16, 200, count);
  mp_cmd_add(&p, "--wait-consumers", "2");
  mp_cmd_add(&p, "--claim", "try");
  mp_cmd_add(&p, "--no-drain", NULL);
  mp_cmd_add(&p, "--report-file", "%s", report);
  pids[2] = mp_cmd_spawn(&p);
  snprintf(who[2], sizeof who[2], "producer [%s]", mp_backend_name(backend));

  mp_expect_all_ok(pids, who, 3);
  cr_expect_eq(mp_report(report, "published"), count);
  /* ~300 sleeps of 300 us against a 16-slot ring: the producer must have
   * found it full (a functional check of gating, not a timing one). */
  cr_expect_gt(mp_report(report, "full"), 0, "producer never found the ring full");
}

/* ----------------------------------------------------------------- batch */

MP_TEST(batch, try_claim_batch_up_to_the_capacity_arrives_intact)
{
  static const char *const popts[] = {"--batch", "64", "--claim", "try", NULL};
  struct fanout f = {.capacity = 64, .slot = 64, .count = 100000, .n = 2,
                     .producer_opts = popts,
                     .cons = {{"c0", "process", NULL}, {"c1", "peek", NULL}}};
  run_fanout(backend, "bt", &f);
}

MP_TEST(batch, claim_batch_timeout_of_varying_size_arrives_intact)
{
  static const char *const popts[] = {"--batch", "100", "--claim", "timeout", NULL};
  struct fanout f = {.capacity = 1024, .slot = 200, .count = 100000, .n = 2,
                     .producer_opts = popts,
                     .cons = {{"c0", "peekt", NULL}, {"c1", "copy", NULL}}};
  run_fanout(backend, "bb", &f);
}

MP_TEST(batch, batches_wrap_a_ring_of_8_slots)
{
  static const char *const popts[] = {"--batch", "8", "--claim", "timeout", NULL};
  struct fanout f = {.capacity = 8, .slot = 32, .count = 50000, .n = 2,
                     .producer_opts = popts,
                     .cons = {{"c0", "peek", NULL}, {"c1", "process", NULL}}};
  run_fanout(backend, "b8", &f);
}

/* --------------------------------------------------------------- waiting */

MP_TEST(waiting, every_wait_strategy_receives_every_event)
{
  struct fanout f = {.capacity = 256, .slot = 32, .count = 50000, .n = 4,
                     .cons = {{"block", "peek", "block"}, {"sleep", "peekt", "sleep"},
                              {"yield", "process", "yield"}, {"spin", "peek", "spin"}}};
  run_fanout(backend, "ws", &f);
}

/* With DMP_RING_NO_WAKEUPS nobody wakes a parked waiter: DMP_WAIT_BLOCK
 * must degrade to sleeping (wait.h) instead of hanging. */
MP_TEST(waiting, block_strategy_on_a_ring_without_wakeups_receives_every_event)
{
  static const char *const popts[] = {"--no-wakeups", "", NULL};
  struct fanout f = {.capacity = 64, .slot = 64, .count = 50000, .n = 2,
                     .producer_opts = popts,
                     .cons = {{"block", "peek", "block"}, {"sleep", "copy", "sleep"}}};
  run_fanout(backend, "wn", &f);
}

/* The producer's own wait strategy, used while the ring is full: an 8-slot
 * ring gated by two consumers makes it wait constantly. (Few events: a
 * spinning producer on a 2-core host slows the parked consumers down.) */
MP_TEST(waiting, every_producer_wait_strategy_respects_gating)
{
  static const char *const kinds[] = {"spin", "yield", "sleep", "block"};
  for (int i = 0; i < 4; i++) {
    const char *popts[] = {"--wait", kinds[i], NULL};
    struct fanout f = {.capacity = 8, .slot = 64, .count = 5000, .n = 2,
                       .producer_opts = popts,
                       .cons = {{"c0", "peek", "block"}, {"c1", "copy", "sleep"}}};
    run_fanout(backend, "pw", &f);
  }
}

/* A consumer parked with DMP_WAIT_BLOCK for ~1 s must not burn a core.
 * Functional bound, deliberately loose: CPU time < 50% of its wall time. */
MP_TEST(waiting, idle_blocked_consumer_does_not_burn_a_core)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "idle");
  struct mp_cmd c, p;
  mp_consumer_cmd(&c, &ring, "idle", 100);
  mp_cmd_add(&c, "--first", "0");
  mp_cmd_add(&c, "--wait", "block");
  mp_producer_cmd(&p, &ring, 64, 64, 100);
  mp_cmd_add(&p, "--wait-consumers", "1");
  mp_cmd_add(&p, "--delay-ms", "1000");

  int64_t t0 = ts_now_ns();
  pid_t cons = mp_cmd_spawn(&c);
  pid_t prod = mp_cmd_spawn(&p);
  struct rusage ru = {0};
  int rc = ts_wait_rusage(cons, ts_timeout_ms(MP_REAP_MS), &ru);
  int64_t wall = ts_now_ns() - t0;
  cr_expect_eq(rc, 0, "consumer exited %d: %s", rc, mp_exit_name(rc));
  mp_expect_ok(prod, "producer");

  int64_t cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
                ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
  cr_expect_lt(cpu * 2, wall,
               "[%s] consumer used %" PRId64 " us CPU in %" PRId64 " us wall (>= 50%%)",
               mp_backend_name(backend), cpu / 1000, wall / 1000);
}
