/*
 * The consumer table's lock against peers that hold it or race for it
 * (issue 15, items 3 and 5).
 *
 *   table_lock  a real process holds the table lock (the OFD lock on byte
 *               DMP_LOCK_TABLE of the segment file, as a stopped or hostile
 *               peer would): every call returns within its own timeout (or
 *               DMP_TABLE_WAIT_NS where it takes none) plus 250 ms of slack,
 *               and dmp_producer_check_liveness() does not wait at all; once
 *               the lock is free the postponed work gets done
 *   churn       three processes attach and close_forget() unique ids in a
 *               loop: a new id is never refused with IDINUSE (a closer lets
 *               go of its entry's lock before the entry is seen free)
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"

#define SLACK_MS 250 /* scheduling slack on a loaded 2-core VM (issue 15) */
#define TOKEN UINT64_C(0x7ab1e10c7ab1e10c)

static struct dmp_producer *prod;
static pid_t holder = -1;

static void setup(void)
{
  prod = NULL;
  holder = -1;
}

static void release_holder(void)
{
  if (holder > 0) {
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    holder = -1;
  }
}

static void teardown(void)
{
  release_holder();
  ts_kill_children();
  dmp_producer_close(prod);
  prod = NULL;
  ts_cleanup();
}

TestSuite(table_lock, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(churn, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(counters_lock, .init = setup, .fini = teardown, .timeout = 60);

static const char *seg_file(const struct fr_ring *r)
{
  static char path[512];
  snprintf(path, sizeof path, "/dev/shm/%s", r->name[0] == '/' ? r->name + 1 : r->name);
  return r->backend == DMP_BACKEND_SHM ? path : r->name;
}

/* Fork a process that takes the OFD lock on byte `at` of file `path` and
 * holds it until it is killed (at most 60 s). */
static void hold_lock(const char *path, off_t at)
{
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  holder = fork();
  cr_assert_geq(holder, 0, "fork");
  if (holder == 0) {
    alarm(60); /* never outlive the test */
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};
    char ok = fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0;
    if (write(fds[1], &ok, 1) != 1)
      _exit(1);
    for (;;)
      pause();
  }
  close(fds[1]);
  struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
  char ok = 0;
  cr_assert_eq(poll(&pfd, 1, ts_timeout_ms(5000)), 1, "lock holder did not answer");
  cr_assert_eq(read(fds[0], &ok, 1), 1);
  close(fds[0]);
  cr_assert(ok, "the holder could not lock byte %lld of %s", (long long)at, path);
}

/* The consumer table's lock of ring `r`. */
static void hold_table_lock(const struct fr_ring *r)
{
  hold_lock(seg_file(r), DMP_LOCK_TABLE);
}

/* A consumer process that attaches as `id` and exits without closing: its
 * entry stays ACTIVE and its lock is gone (dead). */
static void dead_consumer(const struct fr_ring *r, const char *id)
{
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    struct dmp_consumer_config cc;
    dmp_consumer_config_init(&cc);
    cc.backend = r->backend;
    cc.name = r->name;
    cc.id = id;
    struct dmp_consumer *c;
    _exit(dmp_consumer_attach(&cc, &c) == 0 ? 0 : 1);
  }
  cr_assert_eq(ts_wait(pid, ts_timeout_ms(5000)), 0, "the consumer '%s' did not attach", id);
}

static struct dmp_consumer_config ccfg(const struct fr_ring *r, const char *id)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r->backend;
  cc.name = r->name;
  cc.id = id;
  return cc;
}

static struct dmp_consumer *attach_ok(const struct fr_ring *r, const char *id)
{
  struct dmp_consumer_config cc = ccfg(r, id);
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach(&cc, &c);
  cr_assert_eq(rc, 0, "attach '%s': %s (%s)", id, dmp_err_name(rc), dmp_last_error());
  return c;
}

static int64_t since_ms(int64_t t0)
{
  return (ts_now_ns() - t0) / FR_MS;
}

/* `what` took `took_ms`, allowed `bound_ms` plus the slack. */
static void expect_bounded(const char *what, int64_t took_ms, int64_t bound_ms)
{
  printf("fault: bounded while a peer holds a lock: %s returned after %lld ms (bound %lld + %d ms)\n", what,
         (long long)took_ms, (long long)bound_ms, SLACK_MS);
  fflush(stdout);
  cr_expect_leq(took_ms, bound_ms + ts_timeout_ms(SLACK_MS), "%s took %lld ms, bound %lld + %d ms", what,
                (long long)took_ms, (long long)bound_ms, SLACK_MS);
}

static void fill_ring(void)
{
  for (int i = 0; i < 16; i++) {
    void *slot;
    int rc = dmp_producer_try_claim(prod, &slot);
    cr_assert_eq(rc, 0, "claim %d: %s", i, dmp_err_name(rc));
    fr_payload_fill(slot, FR_SLOT, dmp_producer_sequence(prod) + 1, TOKEN);
    dmp_producer_publish(prod);
  }
}

Test(table_lock, every_call_returns_within_its_bound_while_a_peer_holds_it)
{
  for (int b = 0; b < 2; b++) {
    enum dmp_backend backend = b ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM;
    struct fr_ring r = fr_ring_new(backend, "tl");
    prod = fr_producer_new(&r, 16);
    cr_assert_not_null(prod);
    static const char *const ids[] = {"dead"};
    struct dmp_liveness_config lc;
    dmp_liveness_config_init(&lc);
    lc.required_ids = ids;
    lc.n_required = 1;
    lc.action = DMP_LIVENESS_EVICT;
    lc.quiet = true;
    cr_assert_eq(dmp_producer_enable_liveness(prod, &lc), 0, "%s", dmp_last_error());
    dead_consumer(&r, "dead");
    struct dmp_consumer *keep = attach_ok(&r, "keep"), *forget = attach_ok(&r, "forget");
    cr_assert_eq(dmp_producer_check_liveness(prod), 0, "%s", dmp_last_error()); /* started */
    dmp_consumer_close(keep); /* IDLE now, so the producer is gated by "dead" alone */
    fill_ring();
    keep = attach_ok(&r, "keep");

    hold_table_lock(&r);
    const int64_t table_ms = DMP_TABLE_WAIT_NS / FR_MS;
    struct dmp_consumer_config cc = ccfg(&r, "late");
    struct dmp_consumer *c = NULL;
    int64_t t0 = ts_now_ns();
    int rc = dmp_consumer_attach_timeout(&cc, 50 * FR_MS, &c);
    expect_bounded("attach_timeout(50 ms)", since_ms(t0), 50);
    cr_expect_eq(rc, -ETIMEDOUT, "attach_timeout: %s (%s)", dmp_err_name(rc), dmp_last_error());
    t0 = ts_now_ns();
    rc = dmp_consumer_attach(&cc, &c);
    expect_bounded("attach()", since_ms(t0), table_ms);
    cr_expect_eq(rc, -ETIMEDOUT, "attach: %s (%s)", dmp_err_name(rc), dmp_last_error());
    void *slot;
    t0 = ts_now_ns();
    rc = dmp_producer_claim_managed(prod, &slot, 50 * FR_MS);
    expect_bounded("claim_managed(50 ms), a dead consumer to evict", since_ms(t0), 50);
    cr_expect_eq(rc, -ETIMEDOUT, "claim_managed: %s (%s)", dmp_err_name(rc), dmp_last_error());
    t0 = ts_now_ns();
    for (int i = 0; i < 10; i++) {
      rc = dmp_producer_check_liveness(prod);
      cr_expect_geq(rc, 0, "check_liveness: %s (%s)", dmp_err_name(rc), dmp_last_error());
      fr_sleep_ms(6); /* past the check interval: each call checks */
    }
    expect_bounded("10 x (check_liveness() + 6 ms sleep)", since_ms(t0), 60);
    t0 = ts_now_ns();
    rc = dmp_producer_evict(prod, "dead");
    expect_bounded("dmp_producer_evict()", since_ms(t0), table_ms);
    cr_expect_eq(rc, -ETIMEDOUT, "evict: %s (%s)", dmp_err_name(rc), dmp_last_error());
    t0 = ts_now_ns();
    dmp_consumer_close(keep);
    expect_bounded("close()", since_ms(t0), table_ms);
    t0 = ts_now_ns();
    dmp_consumer_close_forget(forget);
    expect_bounded("close_forget()", since_ms(t0), table_ms);

    /* The lock is free again: the postponed eviction happens; the
     * consumers closed meanwhile left IDLE entries (close_forget could not
     * free its entry): both resume. */
    struct dmp_consumer_info ki;
    cr_expect_eq(dmp_producer_consumer_info(prod, "keep", &ki), 0);
    cr_expect_eq(ki.state, DMP_ENTRY_IDLE, "close under a held table lock left state %d", ki.state);
    cr_expect_eq(dmp_producer_consumer_info(prod, "forget", &ki), 0);
    cr_expect_eq(ki.state, DMP_ENTRY_IDLE, "close_forget under a held table lock left state %d", ki.state);
    release_holder();
    int64_t first;
    rc = dmp_producer_claim_batch_managed(prod, 1, &first, (int64_t)ts_timeout_ms(5000) * FR_MS);
    cr_expect_eq(rc, 0, "claim after the lock was freed: %s (%s)", dmp_err_name(rc), dmp_last_error());
    struct dmp_consumer_info info;
    cr_expect_eq(dmp_producer_consumer_info(prod, "dead", &info), -ENOENT, "the dead consumer was not evicted");
    dmp_consumer_close(attach_ok(&r, "keep"));
    dmp_consumer_close_forget(attach_ok(&r, "forget"));
    dmp_consumer_close_forget(attach_ok(&r, "late"));
    dmp_producer_close(prod);
    prod = NULL;
  }
}

/* The counters registry (counters.h) is the other lock a peer can hold:
 * the library's own use of it is best effort and keeps the caller's bound.
 * attach registers the consumer's records, a liveness alert records an
 * error: both within their bounds while a peer holds the registry lock. */
Test(counters_lock, attach_and_liveness_keep_their_bounds_while_a_peer_holds_the_registry)
{
  struct fr_ring r = fr_ring_new(DMP_BACKEND_SHM, "cl");
  prod = fr_producer_new(&r, 16); /* with counters (the default) */
  cr_assert_not_null(prod);
  static const char *const ids[] = {"dead"};
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.required_ids = ids;
  lc.n_required = 1;
  lc.quiet = true;
  /* ALERT_ONLY: every check reports the dead consumer (and records its
   * error) without failing; FAIL would fail the first check (liveness.h). */
  lc.action = DMP_LIVENESS_ALERT_ONLY;
  cr_assert_eq(dmp_producer_enable_liveness(prod, &lc), 0, "%s", dmp_last_error());
  dead_consumer(&r, "dead");
  char cnt[600];
  snprintf(cnt, sizeof cnt, "%s%s", seg_file(&r), DMP_COUNTERS_SUFFIX);
  hold_lock(cnt, DMP_CNT_LOCK_REGISTRY);

  struct dmp_consumer_config cc = ccfg(&r, "c1");
  struct dmp_consumer *c1 = NULL, *c2 = NULL;
  int64_t t0 = ts_now_ns();
  int rc = dmp_consumer_attach_timeout(&cc, 50 * FR_MS, &c1);
  expect_bounded("attach_timeout(50 ms), counters registry locked", since_ms(t0), 50);
  cr_expect_eq(rc, 0, "attach_timeout: %s (%s)", dmp_err_name(rc), dmp_last_error());
  cc.id = "c2";
  t0 = ts_now_ns();
  rc = dmp_consumer_attach(&cc, &c2);
  expect_bounded("attach(), counters registry locked", since_ms(t0), DMP_TABLE_WAIT_NS / FR_MS);
  cr_expect_eq(rc, 0, "attach: %s (%s)", dmp_err_name(rc), dmp_last_error());
  t0 = ts_now_ns();
  for (int i = 0; i < 10; i++) { /* the dead consumer's alert records an error */
    rc = dmp_producer_check_liveness(prod);
    cr_expect_geq(rc, 0, "check_liveness: %s (%s)", dmp_err_name(rc), dmp_last_error());
    fr_sleep_ms(6);
  }
  expect_bounded("10 x (check_liveness() + 6 ms sleep), counters registry locked", since_ms(t0), 60);
  cr_expect_eq(rc, 1, "the dead required consumer is reported");
  t0 = ts_now_ns();
  dmp_consumer_close(c1);
  dmp_consumer_close_forget(c2);
  expect_bounded("close() + close_forget(), counters registry locked", since_ms(t0), 2 * DMP_TABLE_WAIT_NS / FR_MS);
  release_holder();
}

/* ------------------------------------------------------------------ churn */

#define CHURN_PROCS 3
#define CHURN_ROUNDS 300

struct churn_tally {
  _Atomic int64_t ok, idinuse, other;
  _Atomic int last_error; /* the last other error */
};

static void churn_child(const struct fr_ring *r, int k, struct churn_tally *t)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(30000) * FR_MS;
  for (int i = 0; i < CHURN_ROUNDS && ts_now_ns() < deadline; i++) {
    char id[32];
    snprintf(id, sizeof id, "p%dr%d", k, i);
    struct dmp_consumer_config cc = ccfg(r, id);
    cc.flags = DMP_CONSUMER_NO_COUNTERS;
    struct dmp_consumer *c = NULL;
    int rc = dmp_consumer_attach(&cc, &c);
    if (rc == 0) {
      atomic_fetch_add(&t->ok, 1);
      dmp_consumer_close_forget(c);
    } else if (rc == -DMP_E_IDINUSE) {
      atomic_fetch_add(&t->idinuse, 1);
    } else {
      atomic_fetch_add(&t->other, 1);
      atomic_store(&t->last_error, rc);
    }
  }
  _exit(0);
}

Test(churn, unique_ids_attaching_and_detaching_in_three_processes_are_never_refused)
{
  struct fr_ring r = fr_ring_new(DMP_BACKEND_SHM, "ch");
  prod = fr_producer_new(&r, 16);
  cr_assert_not_null(prod);
  struct churn_tally *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(t, MAP_FAILED);
  memset(t, 0, sizeof *t);
  pid_t pids[CHURN_PROCS];
  for (int k = 0; k < CHURN_PROCS; k++) {
    pids[k] = fork();
    cr_assert_geq(pids[k], 0);
    if (pids[k] == 0)
      churn_child(&r, k, t);
  }
  for (int k = 0; k < CHURN_PROCS; k++)
    cr_assert_eq(ts_wait(pids[k], ts_timeout_ms(60000)), 0, "churn process %d", k);
  int64_t ok = atomic_load(&t->ok), inuse = atomic_load(&t->idinuse), other = atomic_load(&t->other);
  printf("fault: attach/close_forget churn, %d processes x %d unique ids: %lld attached, %lld IDINUSE, %lld other\n",
         CHURN_PROCS, CHURN_ROUNDS, (long long)ok, (long long)inuse, (long long)other);
  fflush(stdout);
  cr_expect_eq(inuse, 0, "%lld of %d attaches of new, unique ids were refused with IDINUSE", (long long)inuse,
               CHURN_PROCS * CHURN_ROUNDS);
  cr_expect_eq(other, 0, "%lld attaches failed otherwise (last: %s)", (long long)other,
               dmp_err_name(atomic_load(&t->last_error)));
  cr_expect_eq(ok, CHURN_PROCS * CHURN_ROUNDS);
  munmap(t, sizeof *t);
  cr_expect_eq(dmp_producer_list_consumers(prod, NULL, NULL, 0), 0, "entries left behind");
}
