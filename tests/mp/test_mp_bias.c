/* Multi-producer rings (issue 18): the biased claim's handover (layout.h,
 * "Biased claims"; multi.c X1..X3, J2, MP2x). The creator (mpr_role
 * owner, a real process) claims with plain stores while it is the only
 * producer; a second producer that attaches revokes that and claims only
 * once the owner is seen outside its plain claim, dead, or has
 * acknowledged. Each test checks, through a gating consumer process that
 * verifies every byte, that every message arrives exactly once and in
 * order per producer across the handover:
 *  - the owner SIGSTOPped between claim and publish, or outside any
 *    claim: the attacher's first claim takes the next sequence at once;
 *  - an attacher that cannot issue membarrier(2) (DMP_MEMBARRIER=0) does
 *    not claim while the owner is stopped (the ring stays REVOKING), and
 *    goes on once the owner runs again (its ack) or is killed (its
 *    claimed slot is then tombstoned);
 *  - producers that attach while the owner streams: all claim at once.
 * Where this process cannot use membarrier(2) the ring starts SHARED and
 * only the exactly-once checks apply (said in the log). */
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
#include <sys/wait.h>
#include <unistd.h>

#include "mp_harness.h"
#include "mpr_msg.h"

static struct dmp_producer *second; /* the in-process attacher */
static struct dmp_consumer *watcher; /* non-gating: only looks at the mp line */

static void fini(void)
{
  if (second) {
    dmp_producer_close(second);
    second = NULL;
  }
  if (watcher) {
    dmp_consumer_close_forget(watcher);
    watcher = NULL;
  }
  mp_fini(); /* kills children (stopped ones too), then removes rings and files */
}

TestSuite(mp_bias, .fini = fini, .timeout = 300);

#define OWNER_COUNT 150
#define STOP_AT 100
#define SECOND_COUNT 50

static pid_t spawn(const char *const *args)
{
  char *argv[16];
  int n = 0;
  argv[n++] = (char *)ts_helper("MPR_ROLE");
  for (; args[n - 1] && n < 15; n++)
    argv[n] = (char *)args[n - 1];
  argv[n] = NULL;
  pid_t pid = ts_spawn(argv);
  cr_assert(pid > 0, "spawn %s failed", args[0]);
  return pid;
}

static pid_t spawn_consumer(const struct mp_ring *r, uint32_t nprod, const char *report)
{
  char np[16];
  snprintf(np, sizeof np, "%u", nprod);
  const char *args[] = {"consumer", mp_backend_name(r->backend), r->name, "c0", np, "60000", report, NULL};
  return spawn(args);
}

/* The owner process creates the ring: wait until it exists (bounded). */
static void wait_ring(const struct mp_ring *r)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  while (!mp_ring_exists(r)) {
    cr_assert(ts_now_ns() < deadline, "the owner did not create the ring");
    usleep(1000);
  }
}

static pid_t spawn_consumer_when_ready(const struct mp_ring *r, uint32_t nprod, const char *report)
{
  wait_ring(r);
  return spawn_consumer(r, nprod, report);
}

static pid_t spawn_owner(const struct mp_ring *r, int64_t count, const char *mode, const char *progress,
                         const char *hold)
{
  char scount[24];
  snprintf(scount, sizeof scount, "%" PRId64, count);
  const char *args[] = {"owner", mp_backend_name(r->backend), r->name, "0", scount, "7", "1", mode, progress,
                        hold, NULL};
  return spawn(args);
}

/* A producer process (attaches), DMP_MEMBARRIER=0 in its environment if
 * `no_membarrier`: it then cannot settle a revocation by itself. */
static pid_t spawn_producer(const struct mp_ring *r, uint32_t id, int64_t count, const char *progress,
                            bool no_membarrier)
{
  char sid[16], scount[24], sseed[24];
  snprintf(sid, sizeof sid, "%u", id);
  snprintf(scount, sizeof scount, "%" PRId64, count);
  snprintf(sseed, sizeof sseed, "%u", 40 + id);
  const char *args[] = {"producer", mp_backend_name(r->backend), r->name, sid, scount, sseed, "-1", progress, NULL};
  if (no_membarrier)
    setenv("DMP_MEMBARRIER", "0", 1);
  pid_t pid = spawn(args);
  unsetenv("DMP_MEMBARRIER");
  return pid;
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

static void wait_stopped(pid_t pid)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  for (;;) {
    int st = 0;
    pid_t w = waitpid(pid, &st, WUNTRACED | WNOHANG);
    cr_assert(w == 0 || w == pid, "waitpid: %s", strerror(errno));
    if (w == pid) {
      bool stopped = WIFSTOPPED(st);
      cr_assert(stopped, "the owner ended instead of stopping (status 0x%x)", st);
      return;
    }
    cr_assert(ts_now_ns() < deadline, "the owner did not stop");
    usleep(1000);
  }
}

static void touch(const char *path)
{
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fclose(f);
}

static uint32_t bias_now(void)
{
  return __atomic_load_n(&watcher->ring.ctl->mp_bias.raw, __ATOMIC_ACQUIRE);
}

/* Attach the watcher to the (stopped) owner's ring: whether the owner
 * holds the biased claim (false where membarrier(2) is unusable here). */
static bool watch(const struct mp_ring *r)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r->backend;
  cc.name = r->name;
  cc.id = "watch";
  cc.flags = DMP_CONSUMER_NON_GATING;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &watcher), 0), "%s", dmp_last_error());
  bool flagged = (watcher->ring.ctl->header.flags & DMP_SEG_F_MP_BIASED) != 0;
  cr_assert(flagged, "a new multi-producer ring is biased");
  bool biased = bias_now() == DMP_MP_BIAS_EXCLUSIVE;
  if (!biased)
    cr_log_warn("membarrier(2) unusable for the owner: the ring starts SHARED (bias %u); exactly-once checks only",
                bias_now());
  return biased;
}

static void publish_second(int64_t from, int64_t n)
{
  int64_t timeout = (int64_t)ts_timeout_ms(10000) * 1000000;
  for (int64_t i = from; i < from + n; i++) {
    int64_t first;
    int rc = dmp_producer_claim_batch_timeout(second, 1, &first, timeout);
    cr_assert(eq(int, rc, 0), "claim of message %" PRId64 ": %s", i, dmp_last_error());
    struct mpr_msg m;
    msg_fill(&m, 1, i);
    memcpy(dmp_producer_slot(second, first), &m, sizeof m);
    dmp_producer_publish(second);
  }
}

/* The end of every test: owner released (hold file) and gone, the
 * consumer drained and gone, its report as expected. */
static void finish(pid_t own /* 0: reaped already */, int own_status, pid_t cons, const char *hold, const char *rep, int64_t count0,
                   int64_t count1, int64_t tombs)
{
  touch(hold);
  if (own > 0) {
    int st = ts_wait(own, ts_timeout_ms(MP_REAP_MS));
    cr_assert(eq(int, st, own_status), "owner exit %d", st);
  }
  if (watcher) {
    dmp_consumer_close_forget(watcher);
    watcher = NULL;
  }
  mp_expect_ok(cons, "consumer c0");
  cr_expect(eq(i64, mp_report(rep, "count.0"), count0), "the owner's messages");
  cr_expect(eq(i64, mp_report(rep, "count.1"), count1), "the attacher's messages");
  cr_expect(eq(i64, mp_report(rep, "tombstones"), tombs));
}

/* Stopped between claim and publish: its claim (MP2x) is done, so the
 * attacher takes the next sequence at once, never the owner's slot. */
MP_TEST(mp_bias, an_attacher_beside_an_owner_stopped_between_claim_and_publish_takes_the_next_slot)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "bias_in");
  const char *rep = mp_file("rep"), *hold = mp_file("hold"), *progf = mp_file("prog");
  volatile int64_t *prog = progress_map(progf);
  pid_t own = spawn_owner(&r, OWNER_COUNT, "stop-in:100", progf, hold);
  pid_t cons = spawn_consumer_when_ready(&r, 2, rep);
  wait_stopped(own);
  cr_assert(eq(i64, prog[0], STOP_AT));
  bool biased = watch(&r);
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r.backend;
  cfg.name = r.name;
  cr_assert(eq(int, dmp_producer_attach(&cfg, &second), 0), "%s", dmp_last_error());
  if (biased)
    cr_assert(eq(u32, bias_now(), DMP_MP_BIAS_REVOKING), "the attach revokes");
  int64_t first;
  cr_assert(eq(int, dmp_producer_claim_batch_timeout(second, 1, &first, (int64_t)ts_timeout_ms(10000) * 1000000), 0),
            "%s", dmp_last_error());
  cr_assert(eq(i64, first, STOP_AT + 1), "the owner holds sequence %d", STOP_AT);
  if (biased)
    cr_assert(eq(u32, bias_now(), DMP_MP_BIAS_SHARED), "settled by membarrier while the owner is stopped");
  struct mpr_msg m;
  msg_fill(&m, 1, 0);
  memcpy(dmp_producer_slot(second, first), &m, sizeof m);
  dmp_producer_publish(second);
  publish_second(1, SECOND_COUNT - 1);
  cr_assert(eq(int, kill(own, SIGCONT), 0));
  dmp_producer_close(second);
  second = NULL;
  finish(own, 0, cons, hold, rep, OWNER_COUNT, SECOND_COUNT, 0);
}

MP_TEST(mp_bias, an_attacher_beside_an_owner_stopped_outside_its_claim_claims_at_once)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "bias_out");
  const char *rep = mp_file("rep"), *hold = mp_file("hold"), *progf = mp_file("prog");
  volatile int64_t *prog = progress_map(progf);
  pid_t own = spawn_owner(&r, OWNER_COUNT, "stop-out:100", progf, hold);
  pid_t cons = spawn_consumer_when_ready(&r, 2, rep);
  wait_stopped(own);
  cr_assert(eq(i64, prog[0], STOP_AT));
  bool biased = watch(&r);
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r.backend;
  cfg.name = r.name;
  cr_assert(eq(int, dmp_producer_attach(&cfg, &second), 0), "%s", dmp_last_error());
  int64_t first;
  cr_assert(eq(int, dmp_producer_claim_batch_timeout(second, 1, &first, (int64_t)ts_timeout_ms(10000) * 1000000), 0),
            "%s", dmp_last_error());
  cr_assert(eq(i64, first, STOP_AT));
  if (biased)
    cr_assert(eq(u32, bias_now(), DMP_MP_BIAS_SHARED));
  struct mpr_msg m;
  msg_fill(&m, 1, 0);
  memcpy(dmp_producer_slot(second, first), &m, sizeof m);
  dmp_producer_publish(second);
  publish_second(1, SECOND_COUNT - 1);
  cr_assert(eq(int, kill(own, SIGCONT), 0));
  dmp_producer_close(second);
  second = NULL;
  finish(own, 0, cons, hold, rep, OWNER_COUNT, SECOND_COUNT, 0);
}

/* Wait until the attacher process has revoked (bounded), then give it
 * time to (wrongly) claim: it must not while the owner is stopped. */
static void expect_held_back(volatile int64_t *prog)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  while (bias_now() != DMP_MP_BIAS_REVOKING)
    cr_assert(ts_now_ns() < deadline, "the attacher never revoked (bias %u)", bias_now());
  usleep((useconds_t)ts_timeout_ms(300) * 1000);
  cr_assert(eq(u32, bias_now(), DMP_MP_BIAS_REVOKING), "settled without membarrier while the owner is stopped");
  cr_assert(eq(i64, prog[1], 0), "the attacher published while the owner might store the claim counter");
}

/* Without membarrier(2) the attacher cannot tell a stopped owner's
 * compiler-barrier claim from a finished one: it waits for the owner's
 * ack (its next claim sees REVOKING and CASes from then on). */
MP_TEST(mp_bias, an_attacher_without_membarrier_waits_for_the_stopped_owner_to_ack)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "bias_ack");
  const char *rep = mp_file("rep"), *hold = mp_file("hold"), *progf = mp_file("prog");
  volatile int64_t *prog = progress_map(progf);
  pid_t own = spawn_owner(&r, OWNER_COUNT, "stop-out:100", progf, hold);
  pid_t cons = spawn_consumer_when_ready(&r, 2, rep);
  wait_stopped(own);
  bool biased = watch(&r);
  pid_t prod = spawn_producer(&r, 1, SECOND_COUNT, progf, true);
  if (biased)
    expect_held_back(prog);
  cr_assert(eq(int, kill(own, SIGCONT), 0));
  mp_expect_ok(prod, "producer 1");
  if (biased)
    cr_assert(eq(u32, bias_now(), DMP_MP_BIAS_SHARED));
  finish(own, 0, cons, hold, rep, OWNER_COUNT, SECOND_COUNT, 0);
}

/* The same attacher, and the stopped owner (holding a claimed slot) is
 * killed instead: the attacher settles (the owner is dead), claims after
 * the owner's slot, and that slot is tombstoned, never delivered. */
MP_TEST(mp_bias, an_owner_killed_while_revoked_has_its_claimed_slot_tombstoned)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "bias_kill");
  const char *rep = mp_file("rep"), *hold = mp_file("hold"), *progf = mp_file("prog");
  volatile int64_t *prog = progress_map(progf);
  pid_t own = spawn_owner(&r, OWNER_COUNT, "stop-in:100", progf, hold);
  pid_t cons = spawn_consumer_when_ready(&r, 2, rep);
  wait_stopped(own);
  bool biased = watch(&r);
  pid_t prod = spawn_producer(&r, 1, SECOND_COUNT, progf, true);
  if (biased)
    expect_held_back(prog);
  cr_assert(eq(int, kill(own, SIGKILL), 0));
  cr_assert(eq(int, ts_wait(own, ts_timeout_ms(MP_REAP_MS)), 128 + SIGKILL));
  mp_expect_ok(prod, "producer 1");
  if (biased)
    cr_assert(eq(u32, bias_now(), DMP_MP_BIAS_SHARED));
  finish(0, 0, cons, hold, rep, STOP_AT, SECOND_COUNT, 1);
}

/* Producers that attach while the owner streams, and stream beside it
 * until they are done (the revocation lands anywhere in its claims):
 * everyone's messages exactly once, in order. */
MP_TEST(mp_bias, producers_attaching_while_the_owner_streams_lose_and_duplicate_nothing)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "bias_run");
  const char *rep = mp_file("rep"), *hold = mp_file("hold"), *progf = mp_file("prog");
  volatile int64_t *prog = progress_map(progf);
  const int64_t count = 20000;
  char np[16];
  snprintf(np, sizeof np, "%u", 3u);
  const char *cargs[] = {"consumer", mp_backend_name(r.backend), r.name, "c0", np, "60000", rep, NULL};
  pid_t own = spawn_owner(&r, 0, "run-hold", progf, hold); /* streams until `hold` exists */
  wait_ring(&r);
  pid_t cons = spawn(cargs);
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  while (__atomic_load_n(&prog[0], __ATOMIC_ACQUIRE) < 500)
    cr_assert(ts_now_ns() < deadline, "the owner did not start");
  pid_t prod[2] = {spawn_producer(&r, 1, count, "-", false), spawn_producer(&r, 2, count, "-", false)};
  mp_expect_ok(prod[0], "producer 1");
  mp_expect_ok(prod[1], "producer 2");
  touch(hold);
  mp_expect_ok(own, "owner");
  mp_expect_ok(cons, "consumer c0");
  cr_expect(eq(i64, mp_report(rep, "count.0"), __atomic_load_n(&prog[0], __ATOMIC_ACQUIRE)), "the owner's");
  for (int k = 1; k < 3; k++) {
    char key[16];
    snprintf(key, sizeof key, "count.%d", k);
    cr_expect(eq(i64, mp_report(rep, key), count), "producer %d", k);
  }
  cr_expect(eq(i64, mp_report(rep, "tombstones"), 0));
}
