/* Multi-producer rings (DMP_RING_MULTI_PRODUCER, issue 18), with real
 * processes on both backends:
 *  - bad input: attaching to a single-producer ring, a full producer
 *    table, a wrong geometry, a second claim before publish;
 *  - an abort and a close with an open claim publish tombstones; the
 *    abort at once: a producer (a process) that aborts and then sleeps
 *    holds back no consumer;
 *  - 4 producers x 2 consumers: every message (producer id, per-producer
 *    sequence, checksum over every byte) seen exactly once by every
 *    consumer, each producer's order kept;
 *  - a producer killed between claim and publish: its slots become
 *    tombstones within 100 ms (reported), nothing it published is lost,
 *    nothing half-written is delivered;
 *  - a seeded fault run (kill -9 between claim and publish, kill -9 from
 *    outside at any moment, SIGSTOP/SIGCONT) with the oracle of
 *    run_seed(). MPR_SEEDS seeds (default 8), from MPR_SEED_BASE (default
 *    1); MPR_SEED=n replays one. Suite 'sweep' runs 500 seeds.
 * Children: mpr_role (tests/mp/mpr_role.c). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mp_harness.h"

#define MPR_SLOT 64
#define MPR_MAX_PROD 16

static struct dmp_producer *creator;

static void fini(void)
{
  if (creator) {
    dmp_producer_close(creator);
    creator = NULL;
  }
  mp_fini(); /* kills children, then removes rings and files */
}

TestSuite(mp_multi, .fini = fini, .timeout = 600);

static struct dmp_producer *create_mp(const struct mp_ring *r, uint64_t capacity, uint32_t max_producers)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r->backend;
  cfg.name = r->name;
  cfg.capacity = capacity;
  cfg.slot_size = MPR_SLOT;
  cfg.flags = DMP_RING_MULTI_PRODUCER;
  cfg.max_producers = max_producers;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  cr_assert(eq(int, rc, 0), "create: %s", dmp_last_error());
  return p;
}

static struct dmp_producer_config attach_cfg(const struct mp_ring *r)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r->backend;
  cfg.name = r->name;
  return cfg;
}

static struct dmp_consumer *consumer_in(const struct mp_ring *r, const char *id)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = r->backend;
  cfg.name = r->name;
  cfg.id = id;
  struct dmp_consumer *c = NULL;
  cr_assert(eq(int, dmp_consumer_attach(&cfg, &c), 0), "consumer attach: %s", dmp_last_error());
  return c;
}

static void expect_error(int rc, int want, const char *needle)
{
  cr_assert(eq(int, rc, want), "rc %d (%s), expected %d; detail: %s", rc, dmp_err_name(rc), want, dmp_last_error());
  cr_assert(strstr(dmp_last_error(), needle) != NULL, "detail '%s' does not name '%s'", dmp_last_error(), needle);
}

/* dmp_producer_config_init() fills slot_align and max_consumers with the
 * creation defaults: an attacher that sets only the name must still join a
 * ring created with other values (it failed with a mismatch on them), and
 * an explicit other value is still checked. */
MP_TEST(mp_multi, attach_from_config_init_joins_a_ring_of_any_geometry)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "mpgeo");
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r.backend;
  cfg.name = r.name;
  cfg.capacity = 16;
  cfg.slot_size = MPR_SLOT;
  cfg.slot_align = 64;
  cfg.max_consumers = 4;
  cfg.flags = DMP_RING_MULTI_PRODUCER;
  cr_assert(eq(int, dmp_producer_create(&cfg, &creator), 0), "create: %s", dmp_last_error());
  cfg = attach_cfg(&r);
  struct dmp_producer *p = NULL;
  cr_assert(eq(int, dmp_producer_attach(&cfg, &p), 0), "attach with config_init's defaults: %s", dmp_last_error());
  dmp_producer_close(p);
  cfg = attach_cfg(&r);
  cfg.max_consumers = 5;
  expect_error(dmp_producer_attach(&cfg, &p), -DMP_E_MISMATCH, "cfg.max_consumers");
  cfg = attach_cfg(&r);
  cfg.slot_align = 16;
  expect_error(dmp_producer_attach(&cfg, &p), -DMP_E_MISMATCH, "cfg.slot_align");
  dmp_producer_close(creator);
  creator = NULL;
}

MP_TEST(mp_multi, bad_input_is_refused_with_the_field_named)
{
  struct mp_ring sp, r;
  mp_ring_init(&sp, backend, "mpsp");
  mp_ring_init(&r, backend, "mpbad");
  /* A single-producer ring takes no second producer. */
  struct dmp_producer *single = mp_create(&sp, 16, MPR_SLOT);
  struct dmp_producer_config cfg = attach_cfg(&sp);
  struct dmp_producer *p = (struct dmp_producer *)&cfg;
  expect_error(dmp_producer_attach(&cfg, &p), -DMP_E_MISMATCH, "single-producer");
  cr_assert(eq(ptr, p, NULL));
  mp_close(single);
  /* max_producers without the flag. */
  dmp_producer_config_init(&cfg);
  cfg.backend = r.backend;
  cfg.name = r.name;
  cfg.capacity = 16;
  cfg.slot_size = MPR_SLOT;
  cfg.max_producers = 4;
  expect_error(dmp_producer_create(&cfg, &p), -DMP_E_BADCONFIG, "cfg.max_producers");
  cfg.flags = DMP_RING_MULTI_PRODUCER;
  cfg.max_producers = DMP_MAX_PRODUCERS + 1;
  expect_error(dmp_producer_create(&cfg, &p), -DMP_E_BADCONFIG, "cfg.max_producers");
  /* Table of two: the creator and one more. */
  creator = create_mp(&r, 16, 2);
  cfg = attach_cfg(&r);
  cfg.capacity = 32;
  expect_error(dmp_producer_attach(&cfg, &p), -DMP_E_MISMATCH, "cfg.capacity");
  cfg = attach_cfg(&r);
  cfg.slot_size = 8;
  expect_error(dmp_producer_attach(&cfg, &p), -DMP_E_MISMATCH, "cfg.slot_size");
  cfg = attach_cfg(&r);
  cfg.max_producers = 3;
  expect_error(dmp_producer_attach(&cfg, &p), -DMP_E_MISMATCH, "cfg.max_producers");
  cfg = attach_cfg(&r);
  cfg.flags = DMP_RING_KEEP;
  expect_error(dmp_producer_attach(&cfg, &p), -DMP_E_BADCONFIG, "cfg.flags");
  cfg = attach_cfg(&r);
  struct dmp_producer *second = NULL;
  cr_assert(eq(int, dmp_producer_attach(&cfg, &second), 0), "%s", dmp_last_error());
  expect_error(dmp_producer_attach(&cfg, &p), -DMP_E_TABLEFULL, "producer entries");
  /* A non-gating consumer is taken (it was refused before issue 18's
   * follow-up; non_gating_consumer_* below test what it does). */
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r.backend;
  cc.name = r.name;
  cc.id = "lossy";
  cc.flags = DMP_CONSUMER_NON_GATING;
  struct dmp_consumer *c = NULL;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), 0), "non-gating attach: %s", dmp_last_error());
  dmp_consumer_close_forget(c);
  /* One claim per handle at a time. */
  void *slot;
  cr_assert(eq(int, dmp_producer_try_claim(second, &slot), 0));
  expect_error(dmp_producer_try_claim(second, &slot), -EBUSY, "not published yet");
  int64_t first;
  cr_assert(eq(int, dmp_producer_try_claim_batch(second, 2, &first), -EBUSY));
  dmp_producer_abort(second);
  cr_assert(eq(int, dmp_producer_try_claim_batch(second, 2, &first), 0), "%s", dmp_last_error());
  cr_assert(eq(i64, first, 1), "after the aborted slot 0");
  /* Any producer may watch the consumers (every_producer_watches_* below). */
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  cr_assert(eq(int, dmp_producer_enable_liveness(second, &lc), 0), "liveness: %s", dmp_last_error());
  dmp_producer_close(second); /* its open claim: two more tombstones */
  /* After the close its entry is free again. */
  cr_assert(eq(int, dmp_producer_attach(&cfg, &second), 0), "%s", dmp_last_error());
  cr_assert(eq(u64, dmp_producer_tombstones(second), 0));
  dmp_producer_close(second);
  cr_assert(eq(u64, __atomic_load_n(&creator->ring.ctl->mp_tombstones.raw, __ATOMIC_RELAXED), 3));
  dmp_producer_close(creator);
  creator = NULL;
  mp_assert_ring_gone(&r, "creator closed");
}

static void publish_one(struct dmp_producer *p, uint8_t v)
{
  void *slot;
  int rc = dmp_producer_claim_timeout(p, &slot, (int64_t)ts_timeout_ms(5000) * 1000000);
  cr_assert(eq(int, rc, 0), "claim: %s", dmp_last_error());
  memset(slot, v, MPR_SLOT);
  dmp_producer_publish(p);
}

static int collect(const void *ev, int64_t seq, bool end, void *user)
{
  int64_t *seen = user;
  (void)ev;
  (void)end;
  if (seen[0] < 3)
    seen[1 + seen[0]++] = seq;
  return 0;
}

MP_TEST(mp_multi, tombstones_are_stepped_over_in_order)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "mptomb");
  creator = create_mp(&r, 8, 4);
  struct dmp_consumer *c = consumer_in(&r, "c0");
  struct dmp_producer_config cfg = attach_cfg(&r);
  struct dmp_producer *b = NULL;
  cr_assert(eq(int, dmp_producer_attach(&cfg, &b), 0), "%s", dmp_last_error());
  publish_one(creator, 1);                  /* seq 0 */
  void *slot;
  cr_assert(eq(int, dmp_producer_try_claim(b, &slot), 0)); /* seq 1, held open */
  publish_one(creator, 2);                  /* seq 2: behind the open claim */
  const void *ev;
  int64_t seq;
  cr_assert(eq(int, dmp_consumer_peek_timeout(c, &ev, &seq, (int64_t)ts_timeout_ms(5000) * 1000000), 0));
  cr_assert(eq(i64, seq, 0));
  cr_assert(eq(u8, *(const uint8_t *)ev, 1));
  dmp_consumer_release(c);
  /* Seq 1 is claimed by a live producer: nobody may step over it. */
  cr_assert(eq(int, dmp_consumer_peek_timeout(c, &ev, &seq, 60 * 1000000), -ETIMEDOUT));
  memset(slot, 0xee, MPR_SLOT / 2); /* half written... */
  dmp_producer_abort(b);             /* ... and given up */
  dmp_producer_publish(b);           /* publishes the abort: a tombstone */
  cr_assert(eq(u64, dmp_producer_tombstones(b), 1));
  cr_assert(eq(int, dmp_consumer_peek_timeout(c, &ev, &seq, (int64_t)ts_timeout_ms(5000) * 1000000), 0),
            "%s", dmp_last_error());
  cr_assert(eq(i64, seq, 2), "the tombstone at 1 is stepped over");
  cr_assert(eq(u8, *(const uint8_t *)ev, 2));
  cr_assert(eq(u64, dmp_consumer_tombstones(c), 1));
  dmp_consumer_release(c);
  cr_assert(eq(i64, dmp_consumer_sequence(c), 2));
  /* process() skips them too. */
  cr_assert(eq(int, dmp_producer_try_claim(b, &slot), 0)); /* seq 3 */
  dmp_producer_abort(b);
  dmp_producer_close(b);                   /* tombstone at 3 */
  publish_one(creator, 4);                 /* seq 4 */
  cr_assert(eq(i64, dmp_consumer_wait(c, (int64_t)ts_timeout_ms(5000) * 1000000), 2));
  int64_t seen[4] = {0};
  cr_assert(eq(i64, dmp_consumer_process(c, collect, 0, seen), 1), "only the data slot is delivered");
  cr_assert(eq(i64, seen[1], 4));
  cr_assert(eq(u64, dmp_consumer_tombstones(c), 2));
  cr_assert(eq(i64, dmp_consumer_sequence(c), 4), "the tombstone is released with it");
  dmp_consumer_close(c);
  dmp_producer_close(creator);
  creator = NULL;
}

static void publish_seq(struct dmp_producer *p, int64_t want)
{
  void *slot;
  int rc = dmp_producer_claim_timeout(p, &slot, (int64_t)ts_timeout_ms(5000) * 1000000);
  cr_assert(eq(int, rc, 0), "claim: %s", dmp_last_error());
  memset(slot, (int)(want & 0xff), MPR_SLOT);
  cr_assert(eq(i64, dmp_producer_publish(p), want), "one producer at a time: sequences in order");
}

static void expect_copy(struct dmp_consumer *c, int64_t want_seq)
{
  uint8_t buf[MPR_SLOT];
  int64_t seq = -1;
  int rc = dmp_consumer_try_copy(c, buf, sizeof buf, &seq);
  cr_assert(eq(int, rc, 0), "copy: %s", dmp_last_error());
  cr_assert(eq(i64, seq, want_seq));
  for (size_t i = 0; i < sizeof buf; i++)
    cr_assert(eq(u8, buf[i], (uint8_t)(want_seq & 0xff)), "byte %zu of seq %" PRId64 " is another lap's", i, seq);
}

static int count_events(const void *ev, int64_t seq, bool end, void *user)
{
  int64_t *n = user;
  cr_assert(eq(u8, *(const uint8_t *)ev, (uint8_t)(seq & 0xff)));
  (void)end;
  n[0]++;
  n[1] = seq;
  return 0;
}

MP_TEST(mp_multi, non_gating_consumer_steps_over_tombstones_and_reports_laps)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "mplossy");
  creator = create_mp(&r, 8, 4);
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r.backend;
  cc.name = r.name;
  cc.id = "lossy";
  cc.flags = DMP_CONSUMER_NON_GATING;
  cc.start = DMP_START_OLDEST;
  struct dmp_consumer *c = NULL;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), 0), "non-gating attach: %s", dmp_last_error());
  struct dmp_producer_config cfg = attach_cfg(&r);
  struct dmp_producer *b = NULL;
  cr_assert(eq(int, dmp_producer_attach(&cfg, &b), 0), "%s", dmp_last_error());
  /* (b claims first: each handle stores the limit of its own scan in
   * gate_limit, and a non-gating reader takes a slot below that limit
   * less a ring as possibly overwritten; this order keeps it exact.) */
  void *slot;
  cr_assert(eq(int, dmp_producer_try_claim(b, &slot), 0)); /* seq 0 */
  memset(slot, 0xee, MPR_SLOT / 2);
  dmp_producer_abort(b);
  dmp_producer_publish(b); /* seq 0: a tombstone */
  publish_seq(creator, 1);
  publish_seq(creator, 2);
  const void *ev;
  int64_t seq;
  cr_assert(eq(int, dmp_consumer_try_peek(c, &ev, &seq), -EINVAL), "no leases on a non-gating consumer");
  expect_copy(c, 1); /* the tombstone at 0 is stepped over, never copied */
  expect_copy(c, 2);
  cr_assert(eq(u64, dmp_consumer_tombstones(c), 1));
  cr_assert(eq(u64, dmp_consumer_missed(c), 0));
  uint8_t buf[MPR_SLOT];
  cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &seq), -EAGAIN));
  /* It gates nobody: three rings more go by without it reading. */
  for (int64_t s = 3; s < 27; s++)
    publish_seq(creator, s);
  /* Lapped: the oldest events it may still read are the last ring's; what
   * it skipped is counted in missed(), and the copy is the newer lap's. */
  cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &seq), 0), "%s", dmp_last_error());
  cr_assert(ge(i64, seq, 27 - 8), "seq %" PRId64 " was overwritten", seq);
  cr_assert(eq(u8, buf[0], (uint8_t)seq));
  cr_assert(eq(u64, dmp_consumer_missed(c), (uint64_t)(seq - 3)));
  while (dmp_consumer_try_copy(c, buf, sizeof buf, &seq) == 0)
    cr_assert(eq(u8, buf[MPR_SLOT - 1], (uint8_t)seq));
  cr_assert(eq(i64, seq, 26));
  /* Tombstones on the process() path: an abort, then data. */
  cr_assert(eq(int, dmp_producer_try_claim(b, &slot), 0)); /* seq 27 */
  dmp_producer_abort(b);
  dmp_producer_publish(b);
  publish_seq(creator, 28);
  int64_t got[2] = {0, -1};
  cr_assert(eq(i64, dmp_consumer_process(c, count_events, 0, got), 1), "%s", dmp_last_error());
  cr_assert(eq(i64, got[1], 28));
  cr_assert(eq(u64, dmp_consumer_tombstones(c), 2));
  cr_assert(eq(i64, dmp_consumer_sequence(c), 28));
  /* A ring of tombstones only: nothing to deliver, all stepped over. */
  for (int k = 0; k < 8; k++) {
    cr_assert(eq(int, dmp_producer_try_claim(b, &slot), 0));
    dmp_producer_abort(b);
    dmp_producer_publish(b);
  }
  cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &seq), -EAGAIN));
  cr_assert(eq(u64, dmp_consumer_tombstones(c), 10));
  cr_assert(eq(i64, dmp_consumer_next(c), 37));
  dmp_producer_close(b);
  dmp_consumer_close_forget(c);
  dmp_producer_close(creator);
  creator = NULL;
  mp_assert_ring_gone(&r, "all closed");
}

/* Producer A in a child process: attaches, claims `n` slots, writes half
 * of the first, aborts, says so on `ready`, then does nothing (blocked in
 * read()) until the test closes `hold` (or dies: EOF either way), and only
 * then closes. Exit 0, or 2 attach, 3 claim, 4 pipe. */
static pid_t idle_aborter(const struct mp_ring *r, uint64_t n, int *ready_fd, int *hold_fd)
{
  int ready[2], hold[2];
  cr_assert(eq(int, pipe(ready), 0));
  cr_assert(eq(int, pipe(hold), 0));
  pid_t pid = fork();
  cr_assert(ge(int, pid, 0), "fork");
  if (pid == 0) {
    close(ready[0]);
    close(hold[1]);
    alarm((unsigned)(ts_timeout_ms(60000) / 1000 + 1)); /* never outlives a lost test */
    struct dmp_producer_config cfg = attach_cfg(r);
    struct dmp_producer *a = NULL;
    if (dmp_producer_attach(&cfg, &a) != 0)
      _exit(2);
    int64_t first;
    if (dmp_producer_claim_batch_timeout(a, n, &first, (int64_t)ts_timeout_ms(5000) * 1000000) != 0)
      _exit(3);
    memset(dmp_producer_slot(a, first), 0xee, MPR_SLOT / 2);
    dmp_producer_abort(a);
    char x = 1;
    if (write(ready[1], &x, 1) != 1)
      _exit(4);
    while (read(hold[0], &x, 1) < 0 && errno == EINTR)
      ; /* idle: no claim, no publish, no close */
    dmp_producer_close(a);
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);
  *ready_fd = ready[0];
  *hold_fd = hold[1];
  return pid;
}

/* Issue 18's "a dead peer blocks nobody", for a live one that aborted: A
 * claims (a slot, then a batch of 3), aborts and then does nothing; the
 * creator publishes after A's claim; the consumer reads the creator's
 * message, stepping over A's tombstones, without A ever claiming,
 * publishing or closing again (the abort used to leave A's slots claimed
 * until that handle's next call: every consumer waited). */
MP_TEST(mp_multi, abort_then_idle_blocks_nobody)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "mpabidle");
  creator = create_mp(&r, 8, 4);
  struct dmp_consumer *c = consumer_in(&r, "c0");
  uint64_t tombs = 0;
  int64_t base = 0; /* A's first slot in this round */
  for (uint64_t n = 1; n <= 3; n += 2) {
    int ready, hold;
    pid_t a = idle_aborter(&r, n, &ready, &hold);
    char x = 0;
    ssize_t got;
    while ((got = read(ready, &x, 1)) < 0 && errno == EINTR)
      ;
    cr_assert(eq(sz, (size_t)got, 1), "producer A ended before its abort (exit %d)", ts_wait(a, ts_timeout_ms(5000)));
    close(ready);
    int64_t want = base + (int64_t)n; /* the creator's slot, right after A's */
    void *slot;
    cr_assert(eq(int, dmp_producer_claim_timeout(creator, &slot, (int64_t)ts_timeout_ms(5000) * 1000000), 0),
              "claim: %s", dmp_last_error());
    memset(slot, (int)n, MPR_SLOT);
    cr_assert(eq(i64, dmp_producer_publish(creator), want), "after A's aborted slots");
    const void *ev;
    int64_t seq;
    int rc = dmp_consumer_peek_timeout(c, &ev, &seq, (int64_t)ts_timeout_ms(5000) * 1000000);
    cr_assert(eq(int, rc, 0), "A aborted and idles: its slots must not hold the consumer (%s)",
              dmp_last_error());
    cr_assert(eq(i64, seq, want));
    cr_assert(eq(u8, *(const uint8_t *)ev, (uint8_t)n), "the creator's message, not A's half-written slot");
    dmp_consumer_release(c);
    tombs += n;
    base = want + 1;
    cr_assert(eq(u64, dmp_consumer_tombstones(c), tombs));
    close(hold); /* A may go now */
    cr_assert(eq(int, ts_wait(a, ts_timeout_ms(10000)), 0), "producer A");
  }
  cr_assert(eq(u64, __atomic_load_n(&creator->ring.ctl->mp_tombstones.raw, __ATOMIC_RELAXED), tombs));
  dmp_consumer_close(c);
  dmp_producer_close(creator);
  creator = NULL;
}

/* ---- processes ------------------------------------------------------------ */

static const char *role(void)
{
  return ts_helper("MPR_ROLE");
}

static pid_t spawn(const char *const *args)
{
  char *argv[16];
  int n = 0;
  argv[n++] = (char *)role();
  for (; args[n - 1] && n < 15; n++)
    argv[n] = (char *)args[n - 1];
  argv[n] = NULL;
  pid_t pid = ts_spawn(argv);
  cr_assert(pid > 0, "spawn %s failed", args[0]);
  return pid;
}

static pid_t spawn_consumer(const struct mp_ring *r, const char *id, uint32_t nprod, const char *report)
{
  char np[16];
  snprintf(np, sizeof np, "%u", nprod);
  const char *args[] = {"consumer", mp_backend_name(r->backend), r->name, id, np, "60000", report, NULL};
  return spawn(args);
}

static pid_t spawn_producer(const struct mp_ring *r, uint32_t id, int64_t count, uint64_t seed, int64_t die_at,
                            const char *progress, const char *death)
{
  char sid[16], scount[24], sseed[24], sdie[24];
  snprintf(sid, sizeof sid, "%u", id);
  snprintf(scount, sizeof scount, "%" PRId64, count);
  snprintf(sseed, sizeof sseed, "%" PRIu64, seed);
  snprintf(sdie, sizeof sdie, "%" PRId64, die_at);
  const char *args[] = {"producer", mp_backend_name(r->backend), r->name, sid, scount, sseed, sdie,
                        progress ? progress : "-", death, NULL};
  return spawn(args);
}

static void wait_consumers(struct dmp_producer *p, uint32_t n)
{
  int rc = dmp_producer_wait_for_consumers(p, n, (int64_t)ts_timeout_ms(10000) * 1000000);
  cr_assert(rc >= (int)n, "consumers did not attach: %s", dmp_last_error());
}

static int64_t report_key(const char *path, const char *fmt, long i)
{
  char key[48];
  snprintf(key, sizeof key, fmt, i);
  return mp_report(path, key);
}

MP_TEST(mp_multi, four_producers_two_consumers_exactly_once_in_order)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "mp4x2");
  const int64_t count = 20000;
  creator = create_mp(&r, 64, 8);
  const char *rep[2] = {mp_file("rep0"), mp_file("rep1")};
  pid_t cons[2] = {spawn_consumer(&r, "c0", 4, rep[0]), spawn_consumer(&r, "c1", 4, rep[1])};
  wait_consumers(creator, 2);
  pid_t prod[4];
  for (uint32_t k = 0; k < 4; k++)
    prod[k] = spawn_producer(&r, k, count, 100 + k, -1, NULL, NULL);
  for (int k = 0; k < 4; k++)
    mp_expect_ok(prod[k], "producer");
  uint64_t tombs = __atomic_load_n(&creator->ring.ctl->mp_tombstones.raw, __ATOMIC_RELAXED);
  dmp_producer_close(creator); /* the last producer: consumers drain, then see OWNERDEAD */
  creator = NULL;
  for (int i = 0; i < 2; i++)
    mp_expect_ok(cons[i], "consumer");
  cr_assert(eq(u64, tombs, 0), "no producer died");
  for (int i = 0; i < 2; i++) {
    for (long k = 0; k < 4; k++)
      cr_expect(eq(i64, report_key(rep[i], "count.%ld", k), count), "consumer %d, producer %ld", i, k);
    cr_expect(eq(i64, mp_report(rep[i], "tombstones"), 0));
  }
  mp_assert_ring_gone(&r, "all closed");
}

/* ---- crashes -------------------------------------------------------------- */

static int64_t read_death(const char *path, int64_t *n)
{
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "death file %s missing", path);
  long long t = 0, k = 0;
  cr_assert(eq(int, fscanf(f, "%lld %lld", &t, &k), 2));
  fclose(f);
  *n = k;
  return t;
}

static volatile int64_t *progress_map(const char *path)
{
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  cr_assert(fd >= 0);
  cr_assert(eq(int, ftruncate(fd, 8 * MPR_MAX_PROD), 0));
  volatile int64_t *m = mmap(NULL, 8 * MPR_MAX_PROD, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  cr_assert(m != MAP_FAILED);
  return m;
}

enum fault { F_NONE, F_DIE, F_KILL, F_STOP, F_KILL_REPAIRER };
static const char *fault_name[] = {"none", "die-between-claim-and-publish", "kill -9", "SIGSTOP",
                                   "kill -9 while a dead producer's slots are being tombstoned"};

struct seed_result {
  int64_t detect_max_ns; /* worst death -> first tombstone seen by a consumer (F_DIE only) */
  int deaths;
  int consumer_kills;    /* the restartable consumer killed -9 (and restarted) */
  int repairer_kills;    /* producers killed -9 soon after another one died holding a claim */
};

static pid_t spawn_resumable(const struct mp_ring *r, const char *id, uint32_t nprod, const char *report,
                             const char *progress)
{
  char np[16], mode[600];
  snprintf(np, sizeof np, "%u", nprod);
  snprintf(mode, sizeof mode, "resume:%s", progress);
  const char *args[] = {"consumer", mp_backend_name(r->backend), r->name, id, np, "60000", report, mode, NULL};
  return spawn(args);
}

static uint64_t srnd(uint64_t *s)
{
  *s += UINT64_C(0x9e3779b97f4a7c15);
  return ts_checksum((int64_t)*s);
}

/* One seeded run: 4 producers with a fault each (or none), 2 consumers,
 * and a third one (c2) that a seed may kill -9 at any moment and restart
 * under its id (it resumes after its last release); a seed may also kill a
 * producer soon after another died holding a claim, while waiters are
 * tombstoning its slots (F_KILL_REPAIRER: a producer blocked on the full
 * ring repairs too). The oracle: consumers exit 0 (exactly once, in order,
 * every payload intact; c2 across its restart), nothing published is lost
 * (counts against the progress each producer recorded after each publish),
 * every tombstone belongs to a dead producer (none without deaths; at
 * least the claims the self-killed ones held, at most 4 more per outside
 * kill), all consumers saw the same. */
static void run_seed(enum dmp_backend backend, uint64_t seed, int64_t count, struct seed_result *res)
{
  uint64_t rs = seed * 7919;
  struct mp_ring r;
  mp_ring_init(&r, backend, "mpf");
  uint64_t cap = srnd(&rs) % 2 ? 16 : 64;
  creator = create_mp(&r, cap, 8);
  const char *rep[3] = {mp_file("frep0"), mp_file("frep1"), mp_file("frep2")};
  const char *prog_path = mp_file("prog"), *c2_path = mp_file("c2prog");
  volatile int64_t *prog = progress_map(prog_path), *c2prog = progress_map(c2_path);
  pid_t cons[3] = {spawn_consumer(&r, "c0", 4, rep[0]), spawn_consumer(&r, "c1", 4, rep[1]),
                   spawn_resumable(&r, "c2", 4, rep[2], c2_path)};
  wait_consumers(creator, 3);
  enum fault f[4];
  int64_t die_at[4], at_ms[4], stop_ms[4];
  const char *death[4];
  pid_t prod[4];
  for (uint32_t k = 0; k < 4; k++) {
    f[k] = (enum fault)(srnd(&rs) % 4);
    die_at[k] = f[k] == F_DIE ? (int64_t)(srnd(&rs) % (uint64_t)count) : -1;
    at_ms[k] = (int64_t)(srnd(&rs) % 15);
    stop_ms[k] = 20 + (int64_t)(srnd(&rs) % 80);
    death[k] = mp_file("death");
    prod[k] = spawn_producer(&r, k, count, seed * 16 + k, die_at[k], prog_path, death[k]);
  }
  /* Drawn after the producers' draws, so older seeds keep their faults. */
  uint64_t ck = srnd(&rs), rk = srnd(&rs);
  int64_t c2_kill_ms = ck % 2 == 0 ? (int64_t)((ck >> 8) % 16) : -1;
  int dier = -1, repairer = -1;
  uint32_t c2_gen = 0;
  for (uint32_t k = 0; k < 4; k++) {
    if (f[k] == F_DIE && dier < 0)
      dier = (int)k;
    if (f[k] == F_NONE && repairer < 0)
      repairer = (int)k;
  }
  if (rk % 3 == 0 && dier >= 0 && repairer >= 0)
    f[repairer] = F_KILL_REPAIRER;
  else
    repairer = -1;
  res->consumer_kills = res->repairer_kills = 0;
  /* Outside faults, in the order of their times. */
  int64_t t0 = ts_now_ns();
  for (int64_t ms = 0; ms <= 15; ms++) {
    for (uint32_t k = 0; k < 4; k++)
      if (at_ms[k] == ms && (f[k] == F_KILL || f[k] == F_STOP))
        kill(prod[k], f[k] == F_KILL ? SIGKILL : SIGSTOP);
    if (ms == c2_kill_ms) {
      /* A consumer dies at any moment (in a read, holding a lease, in a
       * repair): restarted under its id, it resumes where it released. */
      struct dmp_consumer_info ci;
      c2_gen = (dmp_producer_consumer_info(creator, "c2", &ci) == 0 ? ci.generation : 0) + 1;
      kill(cons[2], SIGKILL);
      int rc = ts_wait(cons[2], ts_timeout_ms(MP_REAP_MS));
      cr_assert(rc == 128 + SIGKILL || rc == 0, "seed %" PRIu64 ": consumer c2 exited %d before its kill", seed, rc);
      cons[2] = spawn_resumable(&r, "c2", 4, rep[2], c2_path);
      res->consumer_kills++;
    }
    int64_t until = t0 + (ms + 1) * 1000000;
    while (ts_now_ns() < until)
      usleep(200);
  }
  if (repairer >= 0) {
    /* Once producer `dier` died holding a claim, the others block on the
     * full ring and repair; kill one of them 0-30 ms into that. */
    bool died = ts_wait_path(death[dier], ts_timeout_ms(5000));
    if (died) {
      usleep((useconds_t)((rk >> 8) % 31) * 1000);
      kill(prod[repairer], SIGKILL);
      res->repairer_kills++;
    }
  }
  for (uint32_t k = 0; k < 4; k++)
    if (f[k] == F_STOP) {
      usleep((useconds_t)stop_ms[k] * 1000);
      kill(prod[k], SIGCONT);
    }
  int64_t die_n = 0;
  int n_kill = 0;
  res->deaths = 0;
  for (uint32_t k = 0; k < 4; k++) {
    int rc = ts_wait(prod[k], ts_timeout_ms(MP_REAP_MS));
    bool killed = rc == 128 + SIGKILL;
    if (f[k] == F_DIE && killed) {
      int64_t n;
      read_death(death[k], &n);
      die_n += n;
      res->deaths++;
    } else if ((f[k] == F_KILL || f[k] == F_KILL_REPAIRER) && killed) {
      n_kill++; /* may also have finished before the signal: then rc 0 */
      res->deaths++;
    } else {
      cr_assert(eq(int, rc, 0), "seed %" PRIu64 ": producer %u (%s) exited %d", seed, k, fault_name[f[k]], rc);
    }
  }
  uint64_t tombs = __atomic_load_n(&creator->ring.ctl->mp_tombstones.raw, __ATOMIC_RELAXED);
  /* The restarted consumer must be attached before the ring goes: if the
   * producers had room for the rest they may be done before it is. */
  if (res->consumer_kills)
    mp_wait_active(creator, "c2", c2_gen);
  dmp_producer_close(creator);
  creator = NULL;
  for (int i = 0; i < 3; i++) {
    int rc = ts_wait(cons[i], ts_timeout_ms(MP_REAP_MS));
    cr_assert(eq(int, rc, 0), "seed %" PRIu64 ": consumer %d exited %d (%s)", seed, i, rc,
              rc == 4 ? "order/duplicate" : rc == 5 ? "bad payload" : rc == 6 ? "timeout" : "api");
  }
  /* The ring's counter can be ahead of what was read out before the close:
   * consumers repair too. Take theirs (they saw everything). */
  tombs = (uint64_t)mp_report(rep[0], "tombstones");
  for (int i = 0; i < 2; i++) {
    cr_assert(eq(i64, mp_report(rep[i], "tombstones"), (int64_t)tombs), "seed %" PRIu64 ": consumers differ", seed);
    for (uint32_t k = 0; k < 4; k++) {
      int64_t got = report_key(rep[i], "count.%ld", k), pub = prog[k];
      if (f[k] == F_NONE || f[k] == F_STOP || (f[k] == F_KILL && pub == count))
        cr_assert(eq(i64, got, count), "seed %" PRIu64 ": producer %u (%s): %" PRId64 " of %" PRId64, seed, k,
                  fault_name[f[k]], got, count);
      else if (f[k] == F_DIE)
        cr_assert(eq(i64, got, pub), "seed %" PRIu64 ": self-killed producer %u: %" PRId64 " seen, %" PRId64
                  " published", seed, k, got, pub);
      else
        cr_assert(got >= pub && got <= pub + 4, "seed %" PRIu64 ": killed producer %u: %" PRId64 " seen, %" PRId64
                  " recorded", seed, k, got, pub);
    }
  }
  /* The restartable consumer saw what the others saw, across its restart
   * (its next.<k> are cumulative, read back from its progress file). */
  for (uint32_t k = 0; k < 4; k++) {
    int64_t want = report_key(rep[0], "next.%ld", k), got = report_key(rep[2], "next.%ld", k);
    cr_assert(eq(i64, got, want), "seed %" PRIu64 ": consumer c2 (%s) ends at message %" PRId64 " of producer %u, "
              "c0 at %" PRId64, seed, res->consumer_kills ? "killed and restarted" : "never killed", got, k, want);
    cr_assert(eq(i64, c2prog[k], want));
  }
  bool tombs_ok = (int64_t)tombs >= die_n && (int64_t)tombs <= die_n + 4 * n_kill;
  cr_assert(tombs_ok,
            "seed %" PRIu64 ": %" PRIu64 " tombstones, dead producers held %" PRId64 " (+ up to 4 x %d)", seed, tombs,
            die_n, n_kill);
  /* Detection: each self-kill's death to the first tombstone a consumer
   * saw after it (only when no outside kill blurs who died when). */
  res->detect_max_ns = 0;
  if (n_kill == 0)
    for (uint32_t k = 0; k < 4; k++) {
      if (f[k] != F_DIE)
        continue;
      int64_t n, t_death = read_death(death[k], &n), first = INT64_MAX;
      for (int i = 0; i < 2; i++)
        for (long j = 0; j < mp_report(rep[i], "n_tomb") && j < 64; j++) {
          int64_t t = report_key(rep[i], "tomb_ns.%ld", j);
          if (t >= t_death && t < first)
            first = t;
        }
      if (first != INT64_MAX && first - t_death > res->detect_max_ns)
        res->detect_max_ns = first - t_death;
    }
  munmap((void *)prog, 8 * MPR_MAX_PROD);
  munmap((void *)c2prog, 8 * MPR_MAX_PROD);
  mp_assert_ring_gone(&r, "after the run");
  /* Every child is reaped: remove this seed's files and names now (the
   * support library tracks a bounded number per process; a sweep runs
   * hundreds of seeds in one). */
  ts_cleanup();
}

static void check_detection(uint64_t seed, const struct seed_result *res)
{
  int64_t bound_ms = 100 + ts_slack_ms();
  cr_assert(res->detect_max_ns <= bound_ms * 1000000, "seed %" PRIu64 ": a dead producer's slot took %.1f ms to "
            "be tombstoned (bound 100 ms + %d ms slack)", seed, (double)res->detect_max_ns / 1e6, ts_slack_ms());
}

MP_TEST(mp_multi, a_producer_killed_between_claim_and_publish_is_tombstoned)
{
  /* Seed 0's draw is not used: every producer is given its fault here. */
  struct mp_ring r;
  mp_ring_init(&r, backend, "mpdie");
  const int64_t count = 3000;
  creator = create_mp(&r, 16, 8);
  const char *rep[2] = {mp_file("drep0"), mp_file("drep1")};
  const char *prog_path = mp_file("dprog");
  volatile int64_t *prog = progress_map(prog_path);
  pid_t cons[2] = {spawn_consumer(&r, "c0", 4, rep[0]), spawn_consumer(&r, "c1", 4, rep[1])};
  wait_consumers(creator, 2);
  const char *death = mp_file("ddeath");
  pid_t prod[4];
  for (uint32_t k = 0; k < 4; k++)
    prod[k] = spawn_producer(&r, k, count, 7 + k, k == 1 ? 1000 : -1, prog_path, k == 1 ? death : NULL);
  for (uint32_t k = 0; k < 4; k++) {
    int rc = ts_wait(prod[k], ts_timeout_ms(MP_REAP_MS));
    cr_assert(eq(int, rc, k == 1 ? 128 + SIGKILL : 0), "producer %u exited %d", k, rc);
  }
  int64_t n, t_death = read_death(death, &n);
  dmp_producer_close(creator);
  creator = NULL;
  for (int i = 0; i < 2; i++)
    mp_expect_ok(cons[i], "consumer");
  int64_t worst = 0;
  for (int i = 0; i < 2; i++) {
    cr_assert(eq(i64, mp_report(rep[i], "tombstones"), n), "the dead producer's claim of %" PRId64, n);
    cr_assert(eq(i64, report_key(rep[i], "count.%ld", 1), prog[1]), "what it published before");
    cr_assert(le(i64, prog[1], 1000));
    for (long k = 0; k < 4; k++)
      if (k != 1)
        cr_assert(eq(i64, report_key(rep[i], "count.%ld", k), count));
    int64_t t = mp_report(rep[i], "tomb_ns.0") - t_death;
    cr_assert(t >= 0, "a tombstone before the death?");
    worst = t > worst ? t : worst;
  }
  fprintf(stderr, "mp_multi [%s]: dead producer's slot tombstoned and seen %.1f ms after its death\n",
          mp_backend_name(backend), (double)worst / 1e6);
  struct seed_result res = {.detect_max_ns = worst};
  check_detection(0, &res);
  munmap((void *)prog, 8 * MPR_MAX_PROD);
}

static pid_t spawn_lossy(const struct mp_ring *r, const char *id, uint32_t nprod, const char *report,
                         const char *mode)
{
  char np[16];
  snprintf(np, sizeof np, "%u", nprod);
  const char *args[] = {"consumer", mp_backend_name(r->backend), r->name, id, np, "60000", report, mode, NULL};
  return spawn(args);
}

MP_TEST(mp_multi, a_non_gating_consumer_reads_many_producers_in_order_and_steps_over_a_dead_ones_slots)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "mplossyp");
  const int64_t count = 3000;
  creator = create_mp(&r, 16, 8);
  const char *rep = mp_file("grep"), *lrep = mp_file("lrep");
  const char *prog_path = mp_file("lprog");
  volatile int64_t *prog = progress_map(prog_path);
  /* A gating reader that sees every slot (the oracle of the total), and a
   * non-gating one slowed down to be lapped. */
  pid_t cons[2] = {spawn_consumer(&r, "c0", 4, rep), spawn_lossy(&r, "lossy", 4, lrep, "lossy:20")};
  wait_consumers(creator, 2);
  const char *death = mp_file("ldeath");
  pid_t prod[4];
  for (uint32_t k = 0; k < 4; k++)
    prod[k] = spawn_producer(&r, k, count, 11 + k, k == 2 ? 1500 : -1, prog_path, k == 2 ? death : NULL);
  for (uint32_t k = 0; k < 4; k++) {
    int rc = ts_wait(prod[k], ts_timeout_ms(MP_REAP_MS));
    cr_assert(eq(int, rc, k == 2 ? 128 + SIGKILL : 0), "producer %u exited %d", k, rc);
  }
  int64_t n_dead;
  read_death(death, &n_dead);
  dmp_producer_close(creator);
  creator = NULL;
  /* Exit 0: each producer's messages in order, no duplicate, every byte
   * intact (never a half-written or torn copy). */
  mp_expect_ok(cons[0], "gating consumer");
  mp_expect_ok(cons[1], "non-gating consumer");
  int64_t total = mp_report(rep, "tombstones"), got = 0;
  cr_assert(eq(i64, total, n_dead), "the dead producer's claim");
  for (long k = 0; k < 4; k++) {
    int64_t g = report_key(rep, "count.%ld", k), l = report_key(lrep, "count.%ld", k);
    total += g;
    got += l;
    cr_assert(le(i64, l, g), "producer %ld: the non-gating reader saw more than was published", k);
    cr_assert(le(i64, report_key(lrep, "next.%ld", k), report_key(rep, "next.%ld", k)));
  }
  cr_assert(eq(i64, report_key(rep, "count.%ld", 2), prog[2]));
  /* Every slot is accounted for: read, stepped over as a tombstone, or
   * counted as missed (lapped); and it read to the end of the ring. */
  int64_t missed = mp_report(lrep, "missed"), tombs = mp_report(lrep, "tombstones");
  cr_assert(eq(i64, mp_report(lrep, "next"), total), "the non-gating reader stopped at %" PRId64 " of %" PRId64,
            mp_report(lrep, "next"), total);
  cr_assert(eq(i64, got + missed + tombs, total), "read %" PRId64 " + missed %" PRId64 " + tombstones %" PRId64
            " != %" PRId64 " slots", got, missed, tombs, total);
  cr_assert(le(i64, tombs, n_dead), "a tombstone that was not the dead producer's");
  fprintf(stderr, "mp_multi [%s]: non-gating reader: %" PRId64 " read, %" PRId64 " missed (lapped), %" PRId64
          " tombstones of %" PRId64 " slots\n", mp_backend_name(backend), got, missed, tombs, total);
  munmap((void *)prog, 8 * MPR_MAX_PROD);
  mp_assert_ring_gone(&r, "all closed");
}

static pid_t spawn_lproducer(const struct mp_ring *r, uint32_t id, int64_t count, const char *required,
                             const char *report)
{
  char sid[16], scount[24];
  snprintf(sid, sizeof sid, "%u", id);
  snprintf(scount, sizeof scount, "%" PRId64, count);
  const char *args[] = {"lproducer", mp_backend_name(r->backend), r->name, sid, scount, required, report, NULL};
  return spawn(args);
}

static const char *entry_state(struct dmp_producer *p, const char *id)
{
  struct dmp_consumer_info info;
  if (dmp_producer_consumer_info(p, id, &info) != 0)
    return "gone";
  return info.state == DMP_ENTRY_ACTIVE ? (info.alive ? "alive" : "dead") : "idle";
}

MP_TEST(mp_multi, every_producer_watches_the_consumers_stalled_then_dead_and_one_evicts)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "mplive");
  const int64_t count = 200;
  creator = create_mp(&r, 16, 8);
  const char *crep = mp_file("lcrep");
  pid_t cons = spawn_consumer(&r, "c0", 3, crep);
  wait_consumers(creator, 1);
  /* Stopped before anything is published: alive (its lock is held) but
   * without progress, so the ring fills and every producer's managed
   * claim waits on it. Not while it still holds the table lock (its entry
   * shows before its attach lets go of it): a probe attach proves the
   * table free, else it runs a little more. */
  struct dmp_consumer_config pc;
  dmp_consumer_config_init(&pc);
  pc.backend = r.backend;
  pc.name = r.name;
  pc.id = "probe";
  pc.flags = DMP_CONSUMER_NON_GATING | DMP_CONSUMER_NO_COUNTERS;
  for (int tries = 0;; tries++) {
    cr_assert(eq(int, kill(cons, SIGSTOP), 0));
    struct dmp_consumer *probe = NULL;
    if (dmp_consumer_attach(&pc, &probe) == 0) {
      dmp_consumer_close_forget(probe);
      break;
    }
    cr_assert(lt(int, tries, 100), "the consumer keeps the table locked: %s", dmp_last_error());
    cr_assert(eq(int, kill(cons, SIGCONT), 0));
    usleep(5000);
  }
  const char *rep[3] = {mp_file("lp0"), mp_file("lp1"), mp_file("lp2")};
  char stall[3][512];
  pid_t prod[3];
  for (uint32_t k = 0; k < 3; k++) {
    prod[k] = spawn_lproducer(&r, k, count, "c0", rep[k]);
    snprintf(stall[k], sizeof stall[k], "%s.stalled", rep[k]);
  }
  /* Each producer reports it stalled (not dead: never evicted while alive). */
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  for (uint32_t k = 0; k < 3; k++)
    while (access(stall[k], F_OK) != 0) {
      cr_assert(ts_now_ns() < deadline, "producer %u never reported the stopped consumer as stalled", k);
      usleep(2000);
    }
  usleep(20000); /* a few more checks while it is stopped */
  cr_assert(strcmp(entry_state(creator, "c0"), "alive") == 0, "a stopped consumer is alive, never evicted (%s)",
            entry_state(creator, "c0"));
  /* Dead now: all three producers' checks find it at about the same time. */
  int64_t t_kill = ts_now_ns();
  cr_assert(eq(int, kill(cons, SIGKILL), 0));
  while (strcmp(entry_state(creator, "c0"), "gone") != 0) {
    cr_assert(ts_now_ns() < deadline, "the dead consumer was never evicted (%s)", entry_state(creator, "c0"));
    usleep(200);
  }
  int64_t t_evicted = ts_now_ns();
  cr_assert(eq(int, ts_wait(cons, ts_timeout_ms(MP_REAP_MS)), 128 + SIGKILL));
  int evicted = 0, dead = 0;
  for (uint32_t k = 0; k < 3; k++) {
    int rc = ts_wait(prod[k], ts_timeout_ms(MP_REAP_MS));
    cr_assert(eq(int, rc, 0), "producer %u exited %d", k, rc);
    cr_assert(eq(i64, mp_report(rep[k], "published"), count), "producer %u", k);
    cr_assert(ge(i64, mp_report(rep[k], "stalled"), 1), "producer %u", k);
    evicted += (int)mp_report(rep[k], "evicted");
    dead += (int)mp_report(rep[k], "dead");
  }
  /* Idempotent: one producer freed the entry, the others found it gone. */
  cr_assert(eq(int, evicted, 1), "%d evictions of one dead consumer", evicted);
  cr_assert(eq(int, dead, 1), "%d death alerts", dead);
  fprintf(stderr, "mp_multi [%s]: 3 producers watching; a dead consumer evicted %.1f ms after its kill -9\n",
          mp_backend_name(backend), (double)(t_evicted - t_kill) / 1e6);
  dmp_producer_close(creator);
  creator = NULL;
  mp_assert_ring_gone(&r, "all closed");
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
  const char *v = getenv(name);
  return v && *v ? strtoull(v, NULL, 10) : dflt;
}

Test(mp_multi, seeded_faults)
{
  uint64_t n = env_u64("MPR_SEEDS", 8), base = env_u64("MPR_SEED_BASE", 1);
  if (getenv("MPR_SEED")) {
    base = env_u64("MPR_SEED", 1);
    n = 1;
  }
  int64_t worst = 0;
  int deaths = 0, ckills = 0, rkills = 0;
  for (uint64_t s = base; s < base + n; s++) {
    struct seed_result res;
    run_seed(s % 2 ? DMP_BACKEND_SHM : DMP_BACKEND_MMAP, s, 400, &res);
    check_detection(s, &res);
    worst = res.detect_max_ns > worst ? res.detect_max_ns : worst;
    deaths += res.deaths;
    ckills += res.consumer_kills;
    rkills += res.repairer_kills;
  }
  fprintf(stderr, "mp_multi seeded_faults: seeds %" PRIu64 "..%" PRIu64 ", %d producer deaths (%d killed while "
          "another's slots were being tombstoned), %d consumer kills and restarts, worst detection %.1f ms\n", base,
          base + n - 1, deaths, rkills, ckills, (double)worst / 1e6);
}
