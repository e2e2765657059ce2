/*
 * Dead vs slow: the producer tells a consumer the kernel proves dead (its
 * OFD lock is gone) from one that is merely slow or stopped.
 *
 *   stopped   a SIGSTOPped consumer is slow, not dead: never evicted (not by
 *             DMP_LIVENESS_EVICT, not by dmp_producer_evict), SIGCONT resumes
 *   evict     a SIGKILLed consumer is evicted with DMP_LIVENESS_EVICT and the
 *             others go on (required or not; shm and mmap); the detection
 *             time from the kill to the eviction is measured and printed;
 *             without EVICT it is reported dead but stays; dmp_producer_evict
 *             on alive / dead / idle / unknown ids; an evicted id attaches
 *             again and starts afresh
 *
 * The producer runs in the test process; consumers are fault_role processes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

#define CAP 16
#define TOKEN UINT64_C(0xdeadbeef0000c0de)
#define HOLD 40

static struct fr_alerts alerts;
static struct dmp_producer *prod;
static struct fr_ring ring;

static void setup(void)
{
  memset(&alerts, 0, sizeof alerts);
  prod = NULL;
}

static void teardown(void)
{
  ts_kill_children(); /* first: they would report the producer's close */
  dmp_producer_close(prod);
  prod = NULL;
  ts_cleanup();
}

TestSuite(stopped, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(evict, .init = setup, .fini = teardown, .timeout = 90);

static void make_ring(enum dmp_backend backend)
{
  ring = fr_ring_new(backend, "ev");
  prod = fr_producer_new(&ring, CAP);
  cr_assert_not_null(prod, "create %s", ring.name);
}

static void enable(const char *const *ids, size_t n, int64_t grace_ms, enum dmp_liveness_action action)
{
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.required_ids = ids;
  lc.n_required = n;
  lc.progress_timeout_ns = 100 * FR_MS;
  lc.check_interval_ns = 5 * FR_MS;
  lc.grace_ns = grace_ms * FR_MS;
  lc.action = action;
  lc.quiet = true;
  lc.alert = fr_alert_record;
  lc.user = &alerts;
  int rc = dmp_producer_enable_liveness(prod, &lc);
  cr_assert_eq(rc, 0, "enable_liveness: %s (%s)", dmp_err_name(rc), dmp_last_error());
}

static pid_t consumer(const char *id, struct fr_progress **pr, const char *const *extra)
{
  pid_t pid = fr_consumer_ready(&ring, id, pr, extra);
  cr_assert_gt(pid, 0, "consumer '%s' did not attach", id);
  return pid;
}

static void publish_ok(int64_t n)
{
  int rc = fr_publish(prod, n, TOKEN, prod->liveness != NULL, (int64_t)ts_timeout_ms(10000) * FR_MS);
  cr_assert_eq(rc, 0, "publishing %lld events (at seq %lld): %s (%s)", (long long)n,
               (long long)dmp_producer_sequence(prod), dmp_err_name(rc), dmp_last_error());
}

static void expect_delivered(pid_t pid, const struct fr_progress *pr, const char *id, int64_t first, int64_t last)
{
  int rc = ts_wait(pid, ts_timeout_ms(20000));
  cr_assert_eq(rc, 0, "consumer '%s' exited %d (%s): %s", id, rc, fr_exit_name(rc), pr->msg);
  cr_expect_eq(atomic_load(&pr->first), first, "'%s' first %lld, expected %lld", id,
               (long long)atomic_load(&pr->first), (long long)first);
  cr_expect_eq(atomic_load(&pr->last), last, "'%s' last %lld, expected %lld", id, (long long)atomic_load(&pr->last),
               (long long)last);
  cr_expect_eq(atomic_load(&pr->count), last - first + 1, "'%s' delivered %lld events", id,
               (long long)atomic_load(&pr->count));
}

static int evicted_alerts(const char *id)
{
  int n = 0;
  for (int i = 0; i < alerts.n; i++)
    n += strcmp(alerts.a[i].id, id) == 0 && alerts.a[i].evicted;
  return n;
}

static int64_t evict_time(const char *id)
{
  for (int i = 0; i < alerts.n; i++)
    if (strcmp(alerts.a[i].id, id) == 0 && alerts.a[i].evicted)
      return alerts.a[i].at_ns;
  return -1;
}

static const char *hold_never(void)
{
  static char h[300];
  snprintf(h, sizeof h, "%d:%s", HOLD, ts_tmp_path("never"));
  return h;
}

/* ------------------------------------------------------------ stopped */

Test(stopped, a_stopped_consumer_is_slow_not_dead_and_resumes)
{
  make_ring(DMP_BACKEND_SHM);
  struct fr_progress *p1;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "199", NULL});
  static const char *const ids[] = {"c1"};
  enable(ids, 1, 3000, DMP_LIVENESS_EVICT);
  publish_ok(20);
  cr_assert(fr_wait_last(p1, 19, 5000));
  fr_signal(c1, SIGSTOP);
  publish_ok(CAP); /* the ring is full now */
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(5000) * FR_MS;
  void *slot;
  while (fr_alerts_for(&alerts, "c1") == 0 && ts_now_ns() < deadline)
    cr_assert_eq(dmp_producer_claim_managed(prod, &slot, 20 * FR_MS), -ETIMEDOUT, "%s", dmp_last_error());
  cr_assert_eq(fr_alerts_for(&alerts, "c1"), 1, "no stall alert for the stopped consumer");
  cr_expect(!alerts.a[0].dead, "a stopped consumer was reported dead");
  cr_expect(!alerts.a[0].evicted, "a stopped consumer was evicted");
  cr_expect_eq(dmp_producer_evict(prod, "c1"), -DMP_E_IDINUSE, "explicit evict of a stopped consumer: %s",
               dmp_last_error());
  cr_assert_eq(dmp_producer_claim_managed(prod, &slot, 500 * FR_MS), -ETIMEDOUT, "%s", dmp_last_error());
  struct dmp_consumer_info info;
  cr_assert_eq(dmp_producer_consumer_info(prod, "c1", &info), 0, "the stopped consumer's entry is gone");
  cr_expect(info.alive && info.state == DMP_ENTRY_ACTIVE && info.generation == 1,
            "stopped c1: alive %d state %d generation %u", info.alive, info.state, info.generation);
  fr_signal(c1, SIGCONT);
  publish_ok(200 - 20 - CAP);
  expect_delivered(c1, p1, "c1", 0, 199);
  cr_expect_eq(evicted_alerts("c1"), 0);
}

/* ------------------------------------------------------------- evict */

struct killer {
  pid_t pid;
  int delay_ms;
  int64_t killed_ns;
};

static void *kill_later(void *arg)
{
  struct killer *k = arg;
  fr_sleep_ms(k->delay_ms);
  k->killed_ns = ts_now_ns();
  kill(k->pid, SIGKILL);
  return NULL;
}

/* c1 (required) keeps up; `victim` holds at HOLD and is SIGKILLed 50 ms
 * into a blocked managed claim. The claim must go on once it is evicted.
 * Returns the detection time (kill -> eviction alert) in ns. */
static int64_t evict_round(enum dmp_backend backend, bool victim_required)
{
  make_ring(backend);
  struct fr_progress *p1, *pv, *p3;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "199", NULL});
  pid_t cv = consumer("cv", &pv, (const char *const[]){"--hold", hold_never(), NULL});
  pid_t c3 = consumer("c3", &p3, (const char *const[]){"--last-seq", "199", NULL}); /* not required */
  static const char *const with[] = {"c1", "cv"}, *const without[] = {"c1"};
  enable(victim_required ? with : without, victim_required ? 2 : 1, 10000, DMP_LIVENESS_EVICT);
  publish_ok(HOLD + CAP);
  struct killer k = {cv, 50, 0};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, kill_later, &k), 0);
  publish_ok(200 - HOLD - CAP); /* blocked on cv until it is evicted */
  pthread_join(th, NULL);
  cr_assert_eq(ts_wait(cv, ts_timeout_ms(5000)), 128 + SIGKILL);
  cr_expect_eq(evicted_alerts("cv"), 1, "cv evicted %d times", evicted_alerts("cv"));
  struct dmp_consumer_info info;
  cr_expect_eq(dmp_producer_consumer_info(prod, "cv", &info), -ENOENT, "the evicted entry is still there");
  expect_delivered(c1, p1, "c1", 0, 199);
  expect_delivered(c3, p3, "c3", 0, 199);
  cr_expect_eq(atomic_load(&pv->last), HOLD - 1);
  int64_t detect = evict_time("cv") - k.killed_ns;
  dmp_producer_close(prod);
  prod = NULL;
  return detect;
}

static void report(const char *what, const int64_t *ns, int n)
{
  int64_t min = INT64_MAX, max = 0, sum = 0;
  for (int i = 0; i < n; i++) {
    min = ns[i] < min ? ns[i] : min;
    max = ns[i] > max ? ns[i] : max;
    sum += ns[i];
  }
  printf("fault: %s: min %.2f ms, mean %.2f ms, max %.2f ms over %d runs\n", what, (double)min / 1e6,
         (double)sum / n / 1e6, (double)max / 1e6, n);
  fflush(stdout);
}

Test(evict, a_dead_required_consumer_is_evicted_and_the_others_go_on)
{
  int64_t t[6];
  for (int i = 0; i < 6; i++) {
    memset(&alerts, 0, sizeof alerts);
    t[i] = evict_round(i % 2 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM, true);
    cr_assert_gt(t[i], 0, "round %d: no eviction time", i);
  }
  report("dead-consumer detection (SIGKILL -> evicted, producer blocked)", t, 6);
}

Test(evict, a_dead_consumer_that_is_not_required_is_evicted_too)
{
  int64_t t[2];
  for (int i = 0; i < 2; i++) {
    memset(&alerts, 0, sizeof alerts);
    t[i] = evict_round(i % 2 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM, false);
    cr_assert_gt(t[i], 0, "round %d: no eviction time", i);
  }
  report("dead-consumer detection, not required", t, 2);
}

Test(evict, without_evict_a_dead_consumer_is_reported_dead_and_stays)
{
  make_ring(DMP_BACKEND_SHM);
  struct fr_progress *p1, *pv;
  consumer("c1", &p1, NULL);
  pid_t cv = consumer("cv", &pv, (const char *const[]){"--hold", hold_never(), NULL});
  static const char *const ids[] = {"c1", "cv"};
  enable(ids, 2, 300, DMP_LIVENESS_FAIL);
  publish_ok(HOLD + CAP);
  fr_signal(cv, SIGKILL);
  cr_assert_eq(ts_wait(cv, ts_timeout_ms(5000)), 128 + SIGKILL);
  void *slot;
  int rc = dmp_producer_claim_managed(prod, &slot, (int64_t)ts_timeout_ms(10000) * FR_MS);
  cr_assert_eq(rc, -DMP_E_STALLED, "got %s (%s)", dmp_err_name(rc), dmp_last_error());
  cr_assert_eq(fr_alerts_for(&alerts, "cv"), 1);
  cr_expect(alerts.a[0].dead && !alerts.a[0].evicted, "alert: dead %d evicted %d", alerts.a[0].dead,
            alerts.a[0].evicted);
  struct dmp_consumer_info info;
  cr_assert_eq(dmp_producer_consumer_info(prod, "cv", &info), 0);
  cr_expect(!info.alive && info.state == DMP_ENTRY_ACTIVE && info.gating, "dead cv: alive %d state %d gating %d",
            info.alive, info.state, info.gating);
}

Test(evict, explicit_evict_refuses_alive_idle_and_unknown_ids)
{
  make_ring(DMP_BACKEND_MMAP); /* no liveness enabled: eviction does not need it */
  struct fr_progress *p1, *p2;
  pid_t c1 = consumer("c1", &p1, NULL);
  pid_t c2 = consumer("c2", &p2, (const char *const[]){"--exit-seq", "0", NULL});
  cr_expect_eq(dmp_producer_evict(prod, "c1"), -DMP_E_IDINUSE, "alive: %s", dmp_last_error());
  cr_expect_eq(dmp_producer_evict(prod, "nobody"), -ENOENT);
  cr_expect_eq(dmp_producer_evict(prod, NULL), -EINVAL);
  cr_expect_eq(dmp_producer_evict(NULL, "c1"), -EINVAL);
  publish_ok(1);
  cr_assert_eq(ts_wait(c2, ts_timeout_ms(5000)), 0, "%s", p2->msg);
  cr_expect_eq(dmp_producer_evict(prod, "c2"), -DMP_E_IDINUSE, "idle (cleanly closed): %s", dmp_last_error());
  fr_signal(c1, SIGKILL);
  cr_assert_eq(ts_wait(c1, ts_timeout_ms(5000)), 128 + SIGKILL);
  struct dmp_consumer_info info;
  cr_assert_eq(dmp_producer_consumer_info(prod, "c1", &info), 0);
  cr_expect(!info.alive, "killed c1 still alive");
  cr_expect_eq(dmp_producer_evict(prod, "c1"), 0, "dead: %s", dmp_last_error());
  cr_expect_eq(dmp_producer_consumer_info(prod, "c1", &info), -ENOENT, "evicted entry still listed");
  cr_expect_eq(dmp_producer_evict(prod, "c1"), -ENOENT, "evicting twice");
  cr_expect_eq(dmp_producer_min_gating_sequence(prod), dmp_producer_sequence(prod), "nothing gates any more");
}

Test(evict, an_evicted_id_attaches_again_and_starts_afresh)
{
  make_ring(DMP_BACKEND_SHM);
  struct fr_progress *p1, *p1b;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--hold", hold_never(), NULL});
  publish_ok(HOLD + CAP);
  fr_signal(c1, SIGKILL);
  cr_assert_eq(ts_wait(c1, ts_timeout_ms(5000)), 128 + SIGKILL);
  cr_assert_eq(dmp_producer_evict(prod, "c1"), 0, "%s", dmp_last_error());
  publish_ok(100); /* nobody gates: the ring wraps */
  int64_t at = dmp_producer_sequence(prod);
  pid_t c1b = consumer("c1", &p1b, (const char *const[]){"--last-seq", fr_num(at + 50), NULL});
  publish_ok(50);
  expect_delivered(c1b, p1b, "c1 (after eviction)", at + 1, at + 50); /* the current position, not its old one */
}
