/*
 * Multiprocess life cycle: start-up order, same-id resume, late joiners and
 * the death of a producer, with real processes (dmp_role children; some
 * tests are the producer themselves so they can stop publishing at exact
 * points). Every event a consumer reads is checked byte for byte.
 * Each test runs on both backends (<name>_shm, <name>_mmap).
 *
 *   startup         producer first (rendezvous after create), consumers first
 *   resume          durable same-id hand-over, non-durable resume after overwrite
 *   late_join       LATEST / OLDEST joiners of a running, ungated ring
 *   producer_death  SIGKILLed producer: OWNERDEAD, not a timeout; stale reclaim
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "mp_harness.h"

TestSuite(startup, .fini = mp_fini, .timeout = 240);
TestSuite(resume, .fini = mp_fini, .timeout = 240);
TestSuite(late_join, .fini = mp_fini, .timeout = 240);
TestSuite(producer_death, .fini = mp_fini, .timeout = 240);

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static pid_t spawn_reader(const struct mp_ring *ring, const char *id, int64_t count,
                          const char *first, mp_who who)
{
  struct mp_cmd c;
  mp_consumer_cmd(&c, ring, id, count);
  mp_cmd_add(&c, "--first", "%s", first);
  snprintf(who, sizeof(mp_who), "%s [%s]", c.who, mp_backend_name(ring->backend));
  return mp_cmd_spawn(&c);
}

/* --------------------------------------------------------------- startup */

/* The producer exists and is ready before any consumer starts: consumers
 * use the plain dmp_consumer_attach() (no retry), the producer rendezvous
 * with dmp_producer_wait_for_consumers() after create. */
MP_TEST(startup, producer_first_consumers_attach_without_retry)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "pf");
  const char *created = mp_file("created");
  const int64_t count = 20000;
  pid_t pids[4];
  mp_who who[4];

  struct mp_cmd p;
  mp_producer_cmd(&p, &ring, 256, 64, count);
  mp_cmd_add(&p, "--rendezvous", "3");
  mp_cmd_add(&p, "--created-file", "%s", created);
  pids[0] = mp_cmd_spawn(&p);
  snprintf(who[0], sizeof who[0], "producer [%s]", mp_backend_name(backend));
  cr_assert(ts_wait_path(created, ts_timeout_ms(MP_CHILD_MS)), "producer never created the ring");
  cr_assert(mp_ring_exists(&ring), "ring missing after create returned");

  static const char *const apis[] = {"peek", "process", "copy"};
  for (int i = 0; i < 3; i++) {
    struct mp_cmd c;
    char id[8];
    snprintf(id, sizeof id, "c%d", i);
    mp_consumer_cmd(&c, &ring, id, count);
    mp_cmd_add(&c, "--first", "0");
    mp_cmd_add(&c, "--attach-timeout-ms", "0");
    mp_cmd_add(&c, "--api", "%s", apis[i]);
    pids[i + 1] = mp_cmd_spawn(&c);
    snprintf(who[i + 1], sizeof who[0], "%s [%s]", c.who, mp_backend_name(backend));
  }
  mp_expect_all_ok(pids, who, 4);
  mp_assert_ring_gone(&ring, "after its producer closed");
}

/* Consumers start before the segment exists and retry in
 * dmp_consumer_attach_timeout(); the producer then creates the ring while
 * they poll (the creation race: an attacher may see a half-made segment).
 * Several rounds, alternating WaitForConsumers and wait-for-ids. */
MP_TEST(startup, consumers_first_attach_while_the_ring_is_created)
{
  for (int round = 0; round < 6; round++) {
    struct mp_ring ring;
    mp_ring_init(&ring, backend, "cf");
    const int64_t count = 3000;
    pid_t pids[4];
    mp_who who[4];
    const char *files[3];
    for (int i = 0; i < 3; i++) {
      struct mp_cmd c;
      char id[8];
      snprintf(id, sizeof id, "c%d", i);
      files[i] = mp_file("attaching");
      mp_consumer_cmd(&c, &ring, id, count);
      mp_cmd_add(&c, "--first", "0");
      mp_cmd_add(&c, "--attach-file", "%s", files[i]);
      mp_cmd_add(&c, "--api", "%s", i == 0 ? "peek" : i == 1 ? "peekt" : "process");
      pids[i] = mp_cmd_spawn(&c);
      snprintf(who[i], sizeof who[0], "%s round %d [%s]", c.who, round, mp_backend_name(backend));
    }
    for (int i = 0; i < 3; i++)
      cr_assert(ts_wait_path(files[i], ts_timeout_ms(MP_CHILD_MS)), "consumer %d never started", i);
    sleep_ms(5 * (round % 3)); /* vary how long they have been polling */
    cr_assert(!mp_ring_exists(&ring), "ring exists before its producer started");

    struct mp_cmd p;
    mp_producer_cmd(&p, &ring, 64, 48, count);
    if (round % 2 == 0)
      mp_cmd_add(&p, "--wait-consumers", "3");
    else
      mp_cmd_add(&p, "--wait-ids", "c0,c1,c2");
    pids[3] = mp_cmd_spawn(&p);
    snprintf(who[3], sizeof who[0], "producer round %d [%s]", round, mp_backend_name(backend));
    mp_expect_all_ok(pids, who, 4);
    mp_assert_ring_gone(&ring, "after its producer closed");
  }
}

/* Read `n` events in this process, from `*seq` on, checking each. */
static void read_in_process(struct dmp_consumer *c, int64_t *seq, int64_t n, const char *what)
{
  uint32_t size = dmp_consumer_slot_size(c);
  for (int64_t i = 0; i < n; i++) {
    const void *ev;
    int64_t got;
    int rc = dmp_consumer_peek_timeout(c, &ev, &got, (int64_t)ts_timeout_ms(10000) * 1000000);
    cr_assert_eq(rc, 0, "%s: peek of seq %" PRId64 ": %d %s", what, *seq, rc, dmp_err_name(rc));
    cr_assert_eq(got, *seq, "%s: got seq %" PRId64 ", expected %" PRId64, what, got, *seq);
    struct mp_mismatch mm;
    cr_assert_eq(mp_verify(ev, size, got, &mm), MP_EX_OK,
                 "%s: seq %" PRId64 " slot holds seq %" PRId64 " (pattern byte %u)", what, got,
                 mm.got_seq, mm.offset);
    dmp_consumer_release(c);
    (*seq)++;
  }
}

/* This process attaches in a tight loop (no sleep) while a child creates
 * the ring, so it lands inside the creation window: before the file has
 * its size, before the header is written, before `ready`. Every answer
 * must be "not there yet" (-ENOENT, -DMP_E_NOTREADY) until it succeeds,
 * never CORRUPT, LAYOUT or OWNERDEAD for a ring that is being born. */
MP_TEST(startup, attach_racing_creation_only_sees_not_yet)
{
  for (int round = 0; round < 20; round++) {
    struct mp_ring ring;
    mp_ring_init(&ring, backend, "ar");
    struct mp_cmd p;
    mp_producer_cmd(&p, &ring, 64, 64, 100);
    mp_cmd_add(&p, "--wait-consumers", "1");
    pid_t prod = mp_cmd_spawn(&p);

    struct dmp_consumer_config cfg;
    dmp_consumer_config_init(&cfg);
    cfg.backend = backend;
    cfg.name = ring.name;
    cfg.id = "racer";
    struct dmp_consumer *c = NULL;
    int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(MP_CHILD_MS) * 1000000;
    long tries = 0, notready = 0;
    int rc;
    while ((rc = dmp_consumer_attach(&cfg, &c)) != 0) {
      tries++;
      notready += rc == -DMP_E_NOTREADY;
      cr_assert(rc == -ENOENT || rc == -DMP_E_NOTREADY,
                "[%s] round %d: attach during creation returned %d %s (%s) after %ld tries"
                " (%ld of them NOTREADY)", mp_backend_name(backend), round, rc, dmp_err_name(rc),
                dmp_last_error(), tries, notready);
      cr_assert_lt(ts_now_ns(), deadline, "ring never became attachable");
    }
    int64_t seq = 0;
    read_in_process(c, &seq, 100, "racer");
    dmp_consumer_close(c);
    mp_expect_ok(prod, "producer");
    mp_assert_ring_gone(&ring, "after its producer closed");
  }
}

/* Regression (seen in consumers_first_attach_while_the_ring_is_created):
 * an attacher that catches the creator between its first header stores and
 * the ready marker got -DMP_E_LAYOUT ("layout version 0"), which
 * dmp_consumer_attach_timeout() does not retry, so a consumer-first start
 * failed. A header whose ready marker is unset is a ring being created:
 * -DMP_E_NOTREADY. Deterministic form: freeze the creator's state after
 * its first store (the magic) and attach. */
MP_TEST(startup, regression_half_written_header_is_notready_not_layout)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "hw");
  char full[64];
  snprintf(full, sizeof full, "/%s", ring.name);
  int fd = backend == DMP_BACKEND_SHM ? shm_open(full, O_RDWR | O_CREAT | O_EXCL, 0600)
                                      : open(ring.name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  cr_assert_geq(fd, 0, "create %s: %s", ring.name, strerror(errno));
  cr_assert_eq(ftruncate(fd, 65536), 0);
  struct dmp_segment_control *ctl = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  cr_assert_neq(ctl, MAP_FAILED);
  ctl->header.magic = DMP_MAGIC; /* the creator's first store; nothing else yet */

  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = backend;
  cfg.name = ring.name;
  cfg.id = "early";
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach(&cfg, &c);
  cr_expect_eq(rc, -DMP_E_NOTREADY, "[%s] attach to a header being written: %d %s (%s)",
               mp_backend_name(backend), rc, dmp_err_name(rc), dmp_last_error());
  rc = dmp_consumer_attach_timeout(&cfg, 20 * 1000000, &c);
  cr_expect_eq(rc, -ETIMEDOUT, "[%s] attach_timeout must keep retrying: %d %s (%s)",
               mp_backend_name(backend), rc, dmp_err_name(rc), dmp_last_error());
  dmp_consumer_close(c);
  munmap(ctl, 65536);
  close(fd);
}

/* ---------------------------------------------------------------- resume */

/* A durable consumer id is handed from process to process: each reads a
 * share and closes; the next attaches under the same id and must continue
 * at exactly the next sequence (no gap, no duplicate), with nothing missed,
 * although the producer kept running against a 64-slot ring meanwhile. */
MP_TEST(resume, durable_id_resumes_at_exactly_the_next_event_in_a_new_process)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "rd");
  const int64_t count = 100000, share = 25000;
  struct mp_cmd p;
  mp_producer_cmd(&p, &ring, 64, 64, count);
  mp_cmd_add(&p, "--wait-consumers", "1");
  pid_t prod = mp_cmd_spawn(&p);

  for (int64_t first = 0; first < count; first += share) {
    const char *report = mp_file("resume");
    struct mp_cmd c;
    mp_consumer_cmd(&c, &ring, "r", share);
    mp_cmd_add(&c, "--durable", NULL);
    mp_cmd_add(&c, "--first", "%" PRId64, first);
    mp_cmd_add(&c, "--report-file", "%s", report);
    mp_cmd_add(&c, "--api", "%s", first % 2 ? "peek" : "copy");
    pid_t cons = mp_cmd_spawn(&c);
    int rc = ts_wait(cons, ts_timeout_ms(MP_REAP_MS));
    cr_assert_eq(rc, 0, "[%s] consumer 'r' starting at %" PRId64 " exited %d: %s",
                 mp_backend_name(backend), first, rc, mp_exit_name(rc));
    cr_expect_eq(mp_report(report, "missed"), 0, "a durable consumer missed events");
    cr_expect_eq(mp_report(report, "last"), first + share - 1);
  }
  mp_expect_ok(prod, "producer");
  mp_assert_ring_gone(&ring, "after its producer closed");
}

/* Without DMP_CONSUMER_DURABLE a closed consumer stops gating; when the
 * same id comes back after its position was overwritten it resumes at an
 * event still in the ring (never before last - capacity + 1), and
 * dmp_consumer_missed() says exactly how many it lost (consumer.h). The
 * test is the producer, idle during the re-attach. */
MP_TEST(resume, non_durable_id_resumes_inside_the_ring_and_counts_what_it_missed)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "rn");
  const uint64_t cap = 16;
  const uint32_t slot = 64;
  const int64_t k = 1000, gap = 100;
  struct dmp_producer *p = mp_create(&ring, cap, slot);
  int64_t seq = 0;
  mp_who who;

  pid_t a = spawn_reader(&ring, "r", k, "0", who);
  mp_wait_active(p, "r", 1);
  mp_publish(p, &seq, k, slot);
  mp_expect_ok(a, who);

  mp_publish(p, &seq, gap, slot); /* nobody gates: overwrites r's position */
  const int64_t oldest = seq - (int64_t)cap, latest = seq;
  const char *report = mp_file("rn");
  struct mp_cmd c;
  mp_consumer_cmd(&c, &ring, "r", 0);
  mp_cmd_add(&c, "--first", "any");
  mp_cmd_add(&c, "--last", "%" PRId64, seq + 49);
  mp_cmd_add(&c, "--report-file", "%s", report);
  pid_t b = mp_cmd_spawn(&c);
  mp_wait_active(p, "r", 2);
  mp_publish(p, &seq, 50, slot);
  mp_expect_ok(b, "consumer r (resumed)");

  int64_t first = mp_report(report, "first");
  cr_expect(first >= oldest && first <= latest,
            "[%s] resumed at %" PRId64 ", the ring held %" PRId64 "..%" PRId64,
            mp_backend_name(backend), first, oldest, latest - 1);
  cr_expect_eq(mp_report(report, "missed"), first - k,
               "[%s] missed %" PRId64 ", but it resumed at %" PRId64 " after reading %" PRId64,
               mp_backend_name(backend), mp_report(report, "missed"), first, k);
  mp_close(p);
  mp_assert_ring_gone(&ring, "after its producer closed");
}

/* dmp_consumer_close_forget() frees the entry: the producer stops being
 * gated by it (even though it was durable), and the same id attaching
 * again in a new process is a new consumer starting at DMP_START_LATEST,
 * with nothing counted as missed. */
MP_TEST(resume, forgotten_id_starts_fresh_in_a_new_process)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "rf");
  const uint32_t slot = 64;
  struct dmp_producer *p = mp_create(&ring, 16, slot);
  int64_t seq = 0;

  struct mp_cmd c;
  mp_consumer_cmd(&c, &ring, "f", 100);
  mp_cmd_add(&c, "--first", "0");
  mp_cmd_add(&c, "--durable", NULL);
  mp_cmd_add(&c, "--forget", NULL);
  pid_t a = mp_cmd_spawn(&c);
  mp_wait_active(p, "f", 1);
  mp_publish(p, &seq, 100, slot);
  mp_expect_ok(a, "consumer f (forgets)");

  mp_publish(p, &seq, 50, slot); /* would block if the forgotten entry still gated */
  const int64_t latest = seq;
  const char *report = mp_file("rf");
  mp_consumer_cmd(&c, &ring, "f", 0);
  mp_cmd_add(&c, "--first", "any");
  mp_cmd_add(&c, "--last", "%" PRId64, latest + 9);
  mp_cmd_add(&c, "--report-file", "%s", report);
  pid_t b = mp_cmd_spawn(&c);
  mp_wait_active(p, "f", 1);
  mp_publish(p, &seq, 10, slot);
  mp_expect_ok(b, "consumer f (fresh)");
  cr_expect_eq(mp_report(report, "first"), latest, "[%s] a forgotten id must start at LATEST",
               mp_backend_name(backend));
  cr_expect_eq(mp_report(report, "missed"), 0);
  mp_close(p);
}

/* ------------------------------------------------------------- late_join */

/* Keep publishing (bounded) until every listed id is ACTIVE. */
static void publish_until_active(struct dmp_producer *p, int64_t *seq, uint32_t slot,
                                 const char *const *ids, int n)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(MP_CHILD_MS) * 1000000;
  for (;;) {
    int active = 0;
    for (int i = 0; i < n; i++) {
      struct dmp_consumer_info info;
      if (dmp_producer_consumer_info(p, ids[i], &info) == 0 && info.state == DMP_ENTRY_ACTIVE)
        active++;
    }
    if (active == n)
      return;
    cr_assert_lt(ts_now_ns(), deadline, "late joiners never attached (%d of %d)", active, n);
    mp_publish(p, seq, 64, slot);
  }
}

/* The producer runs through a 16-slot ring with nobody gating it, so slots
 * are overwritten continuously while two consumers join, one at
 * DMP_START_LATEST and one at DMP_START_OLDEST. Whatever position they get,
 * every event they read must be intact and consecutive from there: a joiner
 * that starts on (or is handed) an overwritten slot fails the oracle. */
MP_TEST(late_join, joiners_of_a_running_ring_never_read_stale_slots)
{
  const uint32_t slot = 200;
  const uint64_t cap = 16;
  const int64_t after = 20000;
  for (int round = 0; round < 4; round++) {
    struct mp_ring ring;
    mp_ring_init(&ring, backend, "lj");
    struct dmp_producer *p = mp_create(&ring, cap, slot);
    int64_t seq = 0;
    mp_publish(p, &seq, 5000, slot);

    static const char *const ids[] = {"latest", "oldest"};
    pid_t pids[2];
    mp_who who[2];
    for (int i = 0; i < 2; i++) {
      struct mp_cmd c;
      mp_consumer_cmd(&c, &ring, ids[i], after);
      mp_cmd_add(&c, "--first", "any");
      mp_cmd_add(&c, "--start", "%s", ids[i]);
      mp_cmd_add(&c, "--capacity", "%" PRIu64, cap);
      mp_cmd_add(&c, "--settle-us", "2000");
      mp_cmd_add(&c, "--api", "%s", i ? "peek" : "process");
      pids[i] = mp_cmd_spawn(&c);
      snprintf(who[i], sizeof who[0], "%s round %d [%s]", c.who, round, mp_backend_name(backend));
    }
    publish_until_active(p, &seq, slot, ids, 2);
    /* Both now gate; each started at or before `seq`, so `after` more
     * events are enough for both to read `after` events. */
    mp_publish(p, &seq, after, slot);
    mp_expect_all_ok(pids, who, 2);
    mp_close(p);
    mp_assert_ring_gone(&ring, "after its producer closed");
  }
}

/* With an idle producer (config.h): LATEST = exactly the next event to be
 * published; OLDEST = an event still in the ring (not before
 * last - capacity + 1), and exactly 0 while the ring has not wrapped. */
MP_TEST(late_join, start_positions_match_the_ring_while_the_producer_is_idle)
{
  const uint32_t slot = 64;
  const uint64_t cap = 16;
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "ls");
  struct dmp_producer *p = mp_create(&ring, cap, slot);
  int64_t seq = 0;
  mp_publish(p, &seq, 5, slot); /* not wrapped yet: oldest is 0 */

  const char *rep_young = mp_file("young");
  struct mp_cmd c;
  mp_consumer_cmd(&c, &ring, "young", 5);
  mp_cmd_add(&c, "--start", "oldest");
  mp_cmd_add(&c, "--first", "any");
  mp_cmd_add(&c, "--report-file", "%s", rep_young);
  pid_t young = mp_cmd_spawn(&c);
  mp_expect_ok(young, "consumer young");
  cr_expect_eq(mp_report(rep_young, "first"), 0, "[%s] OLDEST on an unwrapped ring",
               mp_backend_name(backend));

  mp_publish(p, &seq, 95, slot); /* last = 99; "young" is idle, not durable */
  const char *rep_old = mp_file("old"), *rep_new = mp_file("new");
  mp_consumer_cmd(&c, &ring, "old", 0);
  mp_cmd_add(&c, "--start", "oldest");
  mp_cmd_add(&c, "--first", "any");
  mp_cmd_add(&c, "--last", "104");
  mp_cmd_add(&c, "--report-file", "%s", rep_old);
  pid_t old = mp_cmd_spawn(&c);
  mp_consumer_cmd(&c, &ring, "new", 5);
  mp_cmd_add(&c, "--start", "latest");
  mp_cmd_add(&c, "--first", "any");
  mp_cmd_add(&c, "--report-file", "%s", rep_new);
  pid_t new = mp_cmd_spawn(&c);
  mp_wait_active(p, "old", 1);
  mp_wait_active(p, "new", 1);
  mp_publish(p, &seq, 5, slot); /* 100..104 */
  mp_expect_ok(old, "consumer old");
  mp_expect_ok(new, "consumer new");
  int64_t first = mp_report(rep_old, "first");
  cr_expect(first >= 99 - (int64_t)cap + 1 && first <= 100,
            "[%s] OLDEST after wrapping started at %" PRId64 ", the ring held %" PRId64 "..99",
            mp_backend_name(backend), first, 99 - (int64_t)cap + 1);
  cr_expect_eq(mp_report(rep_old, "missed"), 0, "[%s] a new id has missed nothing",
               mp_backend_name(backend));
  cr_expect_eq(mp_report(rep_new, "first"), 100, "[%s] LATEST", mp_backend_name(backend));
  mp_close(p);
}

/* -------------------------------------------------------- producer_death */

static pid_t spawn_waiter(const struct mp_ring *ring, const char *id, const char *wait,
                          int64_t count, const char *ready, mp_who who)
{
  struct mp_cmd c;
  mp_consumer_cmd(&c, ring, id, count);
  mp_cmd_add(&c, "--first", "0");
  mp_cmd_add(&c, "--wait", "%s", wait);
  mp_cmd_add(&c, "--expect-ownerdead", NULL);
  mp_cmd_add(&c, "--ownerdead-wait-ms", "%d", ts_timeout_ms(5000));
  mp_cmd_add(&c, "--ready-file", "%s", ready);
  snprintf(who, sizeof(mp_who), "%s [%s]", c.who, mp_backend_name(ring->backend));
  return mp_cmd_spawn(&c);
}

/* After the crash the name is stale: attaching reports OWNERDEAD,
 * DMP_RING_NO_RECLAIM refuses it, a default create reclaims it, and a
 * clean close removes it. */
static void check_stale_reclaim(const struct mp_ring *ring)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = ring->backend;
  cc.name = ring->name;
  cc.id = "after";
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach(&cc, &c);
  cr_expect_eq(rc, -DMP_E_OWNERDEAD, "[%s] attach to a dead producer's ring: %d %s (%s)",
               mp_backend_name(ring->backend), rc, dmp_err_name(rc), dmp_last_error());
  dmp_consumer_close(c);

  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.backend = ring->backend;
  pc.name = ring->name;
  pc.capacity = 64;
  pc.slot_size = 64;
  pc.flags = DMP_RING_NO_RECLAIM;
  struct dmp_producer *p = NULL;
  rc = dmp_producer_create(&pc, &p);
  cr_expect_lt(rc, 0, "[%s] NO_RECLAIM create over a stale ring succeeded",
               mp_backend_name(ring->backend));
  if (rc == 0)
    dmp_producer_close(p);

  p = mp_create(ring, 64, 64);
  int64_t seq = 0;
  mp_publish(p, &seq, 10, 64);
  mp_close(p);
  mp_assert_ring_gone(ring, "after the reclaiming producer closed");
}

/* Consumers that have read everything park in dmp_consumer_wait() (block
 * and sleep strategies, 5 s bound); the producer is SIGKILLed; they must get
 * -DMP_E_OWNERDEAD, not a timeout. */
MP_TEST(producer_death, parked_consumers_get_ownerdead_not_a_timeout)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "pd");
  const int64_t count = 1000;
  const char *ready[2] = {mp_file("ready"), mp_file("ready")};
  pid_t pids[2];
  mp_who who[2];
  pids[0] = spawn_waiter(&ring, "blk", "block", count, ready[0], who[0]);
  pids[1] = spawn_waiter(&ring, "slp", "sleep", count, ready[1], who[1]);

  struct mp_cmd p;
  mp_producer_cmd(&p, &ring, 64, 64, count);
  mp_cmd_add(&p, "--wait-consumers", "2");
  mp_cmd_add(&p, "--hold-ms", "%d", ts_timeout_ms(MP_CHILD_MS));
  pid_t prod = mp_cmd_spawn(&p);

  for (int i = 0; i < 2; i++)
    cr_assert(ts_wait_path(ready[i], ts_timeout_ms(MP_CHILD_MS)), "%s never read everything",
              who[i]);
  sleep_ms(100); /* let them park; correctness does not depend on it */
  kill(prod, SIGKILL);
  int rc = ts_wait(prod, ts_timeout_ms(MP_REAP_MS));
  cr_assert_eq(rc, 128 + SIGKILL, "producer exited %d before it was killed: %s", rc,
               mp_exit_name(rc));
  mp_expect_all_ok(pids, who, 2);
  check_stale_reclaim(&ring);
}

/* The producer is killed mid-stream; each consumer must read every event
 * published before the kill (intact, consecutive) and then get
 * -DMP_E_OWNERDEAD with nothing left to read. */
MP_TEST(producer_death, consumers_drain_what_was_published_then_see_ownerdead)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "pm");
  const char *ready = mp_file("ready");
  pid_t pids[2];
  mp_who who[2];
  static const char *const apis[] = {"peek", "process"};
  for (int i = 0; i < 2; i++) {
    struct mp_cmd c;
    char id[8];
    snprintf(id, sizeof id, "c%d", i);
    mp_consumer_cmd(&c, &ring, id, 0);
    mp_cmd_add(&c, "--first", "0");
    mp_cmd_add(&c, "--until-ownerdead", NULL);
    mp_cmd_add(&c, "--api", "%s", apis[i]);
    pids[i] = mp_cmd_spawn(&c);
    snprintf(who[i], sizeof who[0], "%s [%s]", c.who, mp_backend_name(backend));
  }
  struct mp_cmd p;
  mp_producer_cmd(&p, &ring, 128, 96, INT64_C(1000000000));
  mp_cmd_add(&p, "--wait-consumers", "2");
  mp_cmd_add(&p, "--pace-every", "64");
  mp_cmd_add(&p, "--pace-us", "100");
  mp_cmd_add(&p, "--ready-at", "5000");
  mp_cmd_add(&p, "--ready-file", "%s", ready);
  pid_t prod = mp_cmd_spawn(&p);

  cr_assert(ts_wait_path(ready, ts_timeout_ms(MP_CHILD_MS)), "producer never reached 5000 events");
  kill(prod, SIGKILL);
  int rc = ts_wait(prod, ts_timeout_ms(MP_REAP_MS));
  cr_assert_eq(rc, 128 + SIGKILL, "producer exited %d before it was killed: %s", rc,
               mp_exit_name(rc));
  mp_expect_all_ok(pids, who, 2);
  check_stale_reclaim(&ring);
}

/* A producer restarts under the same name while a consumer of the dead one
 * is still attached: the reclaim succeeds, the old consumer reports
 * OWNERDEAD instead of reading (or waiting for) the new ring's events, and
 * a new consumer reads the new ring from sequence 0. */
MP_TEST(producer_death, restarted_ring_is_not_confused_with_the_dead_one)
{
  struct mp_ring ring;
  mp_ring_init(&ring, backend, "pr");
  struct mp_cmd p;
  mp_producer_cmd(&p, &ring, 64, 64, 100);
  mp_cmd_add(&p, "--wait-consumers", "1");
  mp_cmd_add(&p, "--hold-ms", "%d", ts_timeout_ms(MP_CHILD_MS));
  pid_t prod = mp_cmd_spawn(&p);

  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = backend;
  cfg.name = ring.name;
  cfg.id = "old";
  struct dmp_consumer *old = NULL;
  int rc = dmp_consumer_attach_timeout(&cfg, (int64_t)ts_timeout_ms(MP_CHILD_MS) * 1000000, &old);
  cr_assert_eq(rc, 0, "attach: %d %s (%s)", rc, dmp_err_name(rc), dmp_last_error());
  int64_t seq = 0;
  read_in_process(old, &seq, 100, "old consumer");

  kill(prod, SIGKILL);
  rc = ts_wait(prod, ts_timeout_ms(MP_REAP_MS));
  cr_assert_eq(rc, 128 + SIGKILL, "producer exited %d before it was killed", rc);

  struct dmp_producer *np = mp_create(&ring, 64, 64); /* reclaims, "old" still attached */
  int64_t nseq = 0;
  mp_publish(np, &nseq, 10, 64);
  int64_t w = dmp_consumer_wait(old, (int64_t)ts_timeout_ms(2000) * 1000000);
  cr_expect_eq(w, -DMP_E_OWNERDEAD, "[%s] old consumer after the restart: wait returned %" PRId64
               " (%s)", mp_backend_name(backend), w, w < 0 ? dmp_err_name((int)w) : "events");
  cr_expect(!dmp_consumer_producer_alive(old), "[%s] old consumer thinks its producer lives",
            mp_backend_name(backend));
  dmp_consumer_close(old);

  cfg.id = "new";
  cfg.start = DMP_START_OLDEST;
  struct dmp_consumer *c = NULL;
  rc = dmp_consumer_attach(&cfg, &c);
  cr_assert_eq(rc, 0, "attach to the new ring: %d %s (%s)", rc, dmp_err_name(rc), dmp_last_error());
  int64_t first = 0;
  read_in_process(c, &first, 10, "new consumer");
  dmp_consumer_close(c);
  mp_close(np);
  mp_assert_ring_gone(&ring, "after the new producer closed");
}
