/*
 * Required-consumer liveness (liveness.h), each outcome pinned with real
 * consumer processes (fault_role) and the producer in the test process:
 *
 *   liveness_config  nonsense configurations are refused with a named detail
 *   startup          a required id that never attaches: -DMP_E_STARTUP naming
 *                    it (single and batch claims), waited again on retry
 *   stall            one alert per stall window (stderr line + hook; `quiet`
 *                    silences the line), recovery by progress or by the same
 *                    id re-attaching (after a crash: before the producer's
 *                    next check, else FAIL fails at once - see
 *                    test_dead_peers.c), -DMP_E_STALLED past grace
 *                    (sticky, detail names id and sequence), a different id
 *                    joining does not clear it, caught-up consumers never
 *                    trip, a durable consumer that detached still counts
 *   idle             an idle topology never fails
 *   alert_only       past grace the claim keeps waiting
 *   poll             dmp_producer_check_liveness() on a ring that never
 *                    fills: startup, a stall (alert, then STALLED past
 *                    grace) and a death (evicted) are noticed without any
 *                    claim blocking
 *
 * Stalls are made with `--hold SEQ:FILE`: the consumer stops before
 * delivering SEQ (its cursor rests at SEQ - 1) until FILE appears. Timing is
 * only ever bounded from above generously or from below by the configured
 * timeouts themselves; counts of alerts are checked after waiting for them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

#define CAP 16
#define TOKEN UINT64_C(0x5eed0000feed0001)
#define HOLD 40 /* c2 holds before delivering this sequence */

static struct fr_alerts alerts;
static struct dmp_producer *prod;
static struct fr_ring ring;
static int saved_stderr = -1;

static void setup(void)
{
  memset(&alerts, 0, sizeof alerts);
  prod = NULL;
}

static void teardown(void)
{
  if (saved_stderr >= 0) {
    dup2(saved_stderr, 2);
    close(saved_stderr);
    saved_stderr = -1;
  }
  ts_kill_children(); /* first: they would report the producer's close */
  dmp_producer_close(prod);
  prod = NULL;
  ts_cleanup();
}

TestSuite(liveness_config, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(startup, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(stall, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(idle, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(alert_only, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(poll, .init = setup, .fini = teardown, .timeout = 60);

static struct dmp_liveness_config live_cfg(const char *const *ids, size_t n, int64_t progress_ms, int64_t grace_ms,
                                           enum dmp_liveness_action action)
{
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.required_ids = ids;
  lc.n_required = n;
  lc.progress_timeout_ns = progress_ms * FR_MS;
  lc.check_interval_ns = 5 * FR_MS;
  lc.grace_ns = grace_ms * FR_MS;
  lc.action = action;
  lc.quiet = true;
  lc.alert = fr_alert_record;
  lc.user = &alerts;
  return lc;
}

static void make_ring(void)
{
  ring = fr_ring_new(DMP_BACKEND_SHM, "lv");
  prod = fr_producer_new(&ring, CAP);
  cr_assert_not_null(prod, "create %s", ring.name);
}

static void enable(const struct dmp_liveness_config *lc)
{
  int rc = dmp_producer_enable_liveness(prod, lc);
  cr_assert_eq(rc, 0, "enable_liveness: %s (%s)", dmp_err_name(rc), dmp_last_error());
}

/* Spawn a consumer and wait until it is attached. */
static pid_t consumer(const char *id, struct fr_progress **pr, const char *const *extra)
{
  pid_t pid = fr_consumer_ready(&ring, id, pr, extra);
  cr_assert_gt(pid, 0, "consumer '%s' did not attach", id);
  return pid;
}

static void publish_ok(int64_t n, bool managed)
{
  int rc = fr_publish(prod, n, TOKEN, managed, (int64_t)ts_timeout_ms(10000) * FR_MS);
  cr_assert_eq(rc, 0, "publishing %lld events (at seq %lld): %s (%s)", (long long)n,
               (long long)dmp_producer_sequence(prod), dmp_err_name(rc), dmp_last_error());
}

/* Keep a managed claim blocked (in slices) until `id` has `want` alerts. */
static void block_until_alerts(const char *id, int want, int bound_ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(bound_ms) * FR_MS;
  while (fr_alerts_for(&alerts, id) < want && ts_now_ns() < deadline) {
    void *slot;
    int rc = dmp_producer_claim_managed(prod, &slot, 20 * FR_MS);
    cr_assert_eq(rc, -ETIMEDOUT, "blocked managed claim returned %s (%s)", dmp_err_name(rc), dmp_last_error());
  }
  cr_assert_geq(fr_alerts_for(&alerts, id), want, "no alert #%d for '%s' within %d ms", want, id, bound_ms);
}

/* Stay blocked for `ms` more and expect -ETIMEDOUT throughout. */
static void stay_blocked(int64_t ms)
{
  void *slot;
  int rc = dmp_producer_claim_managed(prod, &slot, ms * FR_MS);
  cr_assert_eq(rc, -ETIMEDOUT, "blocked managed claim returned %s (%s)", dmp_err_name(rc), dmp_last_error());
}

/* The consumer behind `pid` exits 0 having delivered [first, last]. */
static void expect_delivered(pid_t pid, const struct fr_progress *pr, const char *id, int64_t first, int64_t last)
{
  int rc = ts_wait(pid, ts_timeout_ms(20000));
  cr_assert_eq(rc, 0, "consumer '%s' exited %d (%s): %s", id, rc, fr_exit_name(rc), pr->msg);
  cr_expect_eq(atomic_load(&pr->first), first, "'%s' first %lld, expected %lld", id,
               (long long)atomic_load(&pr->first), (long long)first);
  cr_expect_eq(atomic_load(&pr->last), last, "'%s' last %lld, expected %lld", id, (long long)atomic_load(&pr->last),
               (long long)last);
  cr_expect_eq(atomic_load(&pr->count), last - first + 1, "'%s' delivered %lld events, expected %lld", id,
               (long long)atomic_load(&pr->count), (long long)(last - first + 1));
}

static const char *hold_file(const char *tag)
{
  return ts_tmp_path(tag); /* does not exist until fr_touch() */
}

static void stderr_capture(const char *path)
{
  fflush(stderr);
  saved_stderr = dup(2);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cr_assert_geq(fd, 0);
  dup2(fd, 2);
  close(fd);
}

/* Stop capturing; return the number of lines containing `needle`. */
static int stderr_release(const char *path, const char *needle)
{
  fflush(stderr);
  dup2(saved_stderr, 2);
  close(saved_stderr);
  saved_stderr = -1;
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  char line[512];
  int n = 0;
  while (fgets(line, sizeof line, f))
    n += strstr(line, needle) != NULL;
  fclose(f);
  return n;
}

/* ------------------------------------------------------------- config */

Test(liveness_config, rejects_nonsense_with_a_named_detail)
{
  make_ring();
  static const char *const two[] = {"c1", "c2"};
  struct {
    const char *what, *detail;
    void (*mutate)(struct dmp_liveness_config *);
  } cases[] = {
    {"zero startup timeout", "startup", NULL},
    {"zero progress timeout", "progress", NULL},
    {"zero check interval", "interval", NULL},
    {"negative grace", "grace", NULL},
    {"grace shorter than progress", "cfg.grace_ns", NULL},
    {"interval longer than progress", "check_interval_ns", NULL},
    {"duplicate id", "'c1' is listed twice", NULL},
    {"invalid id", "cfg.required_ids[1] is not a valid id", NULL},
    {"empty id", "cfg.required_ids[0] is not a valid id", NULL},
    {"too long id", "cfg.required_ids[0] is not a valid id", NULL},
    {"too many ids", "cfg.n_required 65 is more than 64", NULL},
    {"NULL id list", "NULL", NULL},
    {"unknown action", "cfg.action", NULL},
  };
  static const char *const dup[] = {"c1", "c1"};
  static const char *const bad[] = {"c1", "no spaces"};
  static const char *const empty[] = {""};
  static const char *const longid[] = {"abcdefghijabcdefghijabcdefghijXY"}; /* 32 chars */
  static const char *many[DMP_LIVENESS_MAX_REQUIRED + 1];
  static char many_buf[DMP_LIVENESS_MAX_REQUIRED + 1][8];
  for (size_t i = 0; i <= DMP_LIVENESS_MAX_REQUIRED; i++) {
    snprintf(many_buf[i], sizeof many_buf[i], "c%zu", i);
    many[i] = many_buf[i];
  }
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    struct dmp_liveness_config lc = live_cfg(two, 2, 100, 1000, DMP_LIVENESS_FAIL);
    switch (k) {
    case 0: lc.startup_timeout_ns = 0; break;
    case 1: lc.progress_timeout_ns = 0; break;
    case 2: lc.check_interval_ns = 0; break;
    case 3: lc.grace_ns = -1; break;
    case 4: lc.grace_ns = 50 * FR_MS; break;
    case 5: lc.check_interval_ns = 200 * FR_MS; break;
    case 6: lc.required_ids = dup; break;
    case 7: lc.required_ids = bad; break;
    case 8: lc.required_ids = empty; lc.n_required = 1; break;
    case 9: lc.required_ids = longid; lc.n_required = 1; break;
    case 10: lc.required_ids = many; lc.n_required = DMP_LIVENESS_MAX_REQUIRED + 1; break;
    case 11: lc.required_ids = NULL; break;
    case 12: lc.action = (enum dmp_liveness_action)7; break;
    }
    int rc = dmp_producer_enable_liveness(prod, &lc);
    cr_expect_eq(rc, -DMP_E_BADCONFIG, "%s: got %s, expected BADCONFIG", cases[k].what, dmp_err_name(rc));
    cr_expect(strstr(dmp_last_error(), cases[k].detail) != NULL, "%s: detail '%s' does not mention '%s'",
              cases[k].what, dmp_last_error(), cases[k].detail);
  }
  struct dmp_liveness_config ok = live_cfg(two, 2, 100, 100, DMP_LIVENESS_FAIL); /* grace == progress is fine */
  cr_expect_eq(dmp_producer_enable_liveness(prod, &ok), 0, "%s", dmp_last_error());
  ok = live_cfg(many, DMP_LIVENESS_MAX_REQUIRED, 100, 1000, DMP_LIVENESS_EVICT);
  cr_expect_eq(dmp_producer_enable_liveness(prod, &ok), 0, "64 ids: %s", dmp_last_error());
  cr_expect_eq(dmp_producer_enable_liveness(NULL, &ok), -EINVAL);
  cr_expect_eq(dmp_producer_enable_liveness(prod, NULL), -EINVAL);
}

Test(liveness_config, defaults_are_the_originals)
{
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  cr_expect_eq(lc.startup_timeout_ns, 5000 * FR_MS);
  cr_expect_eq(lc.progress_timeout_ns, 250 * FR_MS);
  cr_expect_eq(lc.check_interval_ns, 5 * FR_MS);
  cr_expect_eq(lc.grace_ns, 1000 * FR_MS);
  cr_expect_eq(lc.action, DMP_LIVENESS_FAIL);
  cr_expect_eq(lc.n_required, 0);
  cr_expect(!lc.quiet);
}

Test(liveness_config, managed_claims_need_liveness_enabled)
{
  make_ring();
  void *slot;
  int64_t first;
  cr_expect_eq(dmp_producer_claim_managed(prod, &slot, 0), -DMP_E_NOLIVENESS);
  cr_expect_eq(dmp_producer_claim_batch_managed(prod, 2, &first, 0), -DMP_E_NOLIVENESS);
  uint8_t ev[FR_SLOT] = {0};
  cr_expect_eq(dmp_producer_publish_managed(prod, ev, sizeof ev, 0), -DMP_E_NOLIVENESS);
  cr_expect_eq(dmp_producer_claim_managed(NULL, &slot, 0), -EINVAL);
  cr_expect_eq(dmp_producer_claim_batch_managed(prod, 0, &first, 0), -EINVAL);
  cr_expect_eq(dmp_producer_claim_batch_managed(prod, CAP + 1, &first, 0), -EINVAL);
  cr_expect_eq(dmp_producer_sequence(prod), -1, "nothing was published");
}

/* ------------------------------------------------------------ startup */

static void expect_startup_timeout(int rc, int64_t t0, int64_t timeout_ms)
{
  int64_t waited_ms = (ts_now_ns() - t0) / FR_MS;
  cr_assert_eq(rc, -DMP_E_STARTUP, "got %s (%s), expected STARTUP", dmp_err_name(rc), dmp_last_error());
  const char *list = strstr(dmp_last_error(), "not attached:");
  cr_assert_not_null(list, "detail '%s' lists no missing ids", dmp_last_error());
  cr_expect(strstr(list, "c2") != NULL, "detail '%s' does not name c2", dmp_last_error());
  cr_expect(strstr(list, "c1") == NULL, "detail '%s' names c1, which attached", dmp_last_error());
  cr_expect_geq(waited_ms, timeout_ms - 1, "gave up after %lld ms, before the %lld ms startup timeout",
                (long long)waited_ms, (long long)timeout_ms);
}

Test(startup, single_claim_times_out_naming_the_missing_ids)
{
  make_ring();
  struct fr_progress *p1;
  consumer("c1", &p1, NULL);
  static const char *const ids[] = {"c1", "c2"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 100, 1000, DMP_LIVENESS_FAIL);
  lc.startup_timeout_ns = 300 * FR_MS;
  enable(&lc);
  void *slot;
  int64_t t0 = ts_now_ns();
  expect_startup_timeout(dmp_producer_claim_managed(prod, &slot, 0), t0, 300);
  uint8_t ev[FR_SLOT] = {0};
  t0 = ts_now_ns();
  expect_startup_timeout((int)dmp_producer_publish_managed(prod, ev, sizeof ev, 0), t0, 300);
  cr_expect_eq(dmp_producer_sequence(prod), -1, "nothing may be published before startup");
}

Test(startup, batch_claim_times_out_then_succeeds_once_the_id_attaches)
{
  make_ring();
  struct fr_progress *p1, *p2;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "9", NULL});
  static const char *const ids[] = {"c1", "c2"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 100, 1000, DMP_LIVENESS_FAIL);
  lc.startup_timeout_ns = 250 * FR_MS;
  enable(&lc);
  int64_t first;
  int64_t t0 = ts_now_ns();
  expect_startup_timeout(dmp_producer_claim_batch_managed(prod, 4, &first, 0), t0, 250);
  /* Startup stays incomplete: the next managed claim waits the full timeout again. */
  t0 = ts_now_ns();
  expect_startup_timeout(dmp_producer_claim_batch_managed(prod, 4, &first, 0), t0, 250);
  pid_t c2 = consumer("c2", &p2, (const char *const[]){"--last-seq", "9", NULL});
  int rc = dmp_producer_claim_batch_managed(prod, 10, &first, 0);
  cr_assert_eq(rc, 0, "claim after both attached: %s (%s)", dmp_err_name(rc), dmp_last_error());
  cr_assert_eq(first, 0);
  for (int64_t s = 0; s < 10; s++)
    fr_payload_fill(dmp_producer_slot(prod, s), FR_SLOT, s, TOKEN);
  dmp_producer_publish(prod);
  expect_delivered(c1, p1, "c1", 0, 9);
  expect_delivered(c2, p2, "c2", 0, 9);
}

/* -------------------------------------------------------------- stall */

/* c1 keeps up, c2 holds at HOLD and again at HOLD + 60; the producer gets
 * blocked in each window and must alert exactly once per window. */
static void one_alert_per_window(bool quiet)
{
  make_ring();
  const char *f1 = hold_file("f1"), *f2 = hold_file("f2");
  char h1[300], h2[300];
  snprintf(h1, sizeof h1, "%d:%s", HOLD, f1);
  snprintf(h2, sizeof h2, "%d:%s", HOLD + 60, f2);
  struct fr_progress *p1, *p2;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "149", NULL});
  pid_t c2 = consumer("c2", &p2, (const char *const[]){"--last-seq", "149", "--hold", h1, "--hold", h2, NULL});
  static const char *const ids[] = {"c1", "c2"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 100, 30000, DMP_LIVENESS_FAIL);
  lc.quiet = quiet;
  enable(&lc);
  const char *err_path = ts_tmp_path("stderr");
  stderr_capture(err_path);

  publish_ok(HOLD + CAP, true); /* fills the ring up to c2's hold */
  block_until_alerts("c2", 1, 5000);
  stay_blocked(300); /* the same window: no second alert */
  cr_expect_eq(fr_alerts_for(&alerts, "c2"), 1, "%d alerts for c2 in one window", fr_alerts_for(&alerts, "c2"));
  cr_expect_eq(alerts.a[0].last_sequence, HOLD - 1, "alert names sequence %lld, c2 rests at %d",
               (long long)alerts.a[0].last_sequence, HOLD - 1);
  cr_expect(!alerts.a[0].dead && !alerts.a[0].evicted, "a held (live) consumer is neither dead nor evicted");
  cr_expect_geq(alerts.a[0].stalled_ns, 100 * FR_MS, "alert after %lld ns, before the progress timeout",
                (long long)alerts.a[0].stalled_ns);

  fr_touch(f1); /* progress ends the window and publishing resumes */
  publish_ok(60, true);
  block_until_alerts("c2", 2, 5000); /* c2 holds again: a new window */
  stay_blocked(200);
  cr_expect_eq(fr_alerts_for(&alerts, "c2"), 2, "%d alerts for c2 after two windows", fr_alerts_for(&alerts, "c2"));
  cr_expect_eq(alerts.a[1].last_sequence, HOLD + 59);
  fr_touch(f2);
  publish_ok(150 - dmp_producer_sequence(prod) - 1, true);
  int lines = stderr_release(err_path, "disruptor_mp: consumer 'c2'");
  cr_expect_eq(fr_alerts_for(&alerts, "c1"), 0, "c1 kept up but was alerted");
  cr_expect_eq(lines, quiet ? 0 : 2, "%d stderr alert lines (quiet=%d)", lines, quiet);
  expect_delivered(c1, p1, "c1", 0, 149);
  expect_delivered(c2, p2, "c2", 0, 149);
}

Test(stall, one_alert_per_stall_window_with_one_stderr_line_each)
{
  one_alert_per_window(false);
}

Test(stall, quiet_silences_the_stderr_line_but_not_the_hook)
{
  one_alert_per_window(true);
}

/* c1 keeps up, c2 holds at HOLD for ever. */
static void stalled_topology(pid_t *c1, struct fr_progress **p1, pid_t *c2, struct fr_progress **p2,
                             int64_t grace_ms, enum dmp_liveness_action action, const char *c1_last)
{
  make_ring();
  char h[300];
  snprintf(h, sizeof h, "%d:%s", HOLD, hold_file("never"));
  *c1 = consumer("c1", p1, (const char *const[]){"--last-seq", c1_last, NULL});
  *c2 = consumer("c2", p2, (const char *const[]){"--hold", h, NULL});
  static const char *const ids[] = {"c1", "c2"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 100, grace_ms, action);
  enable(&lc);
  publish_ok(HOLD + CAP, true);
}

static void expect_stalled(int rc, const char *id, int64_t seq)
{
  cr_assert_eq(rc, -DMP_E_STALLED, "got %s (%s), expected STALLED", dmp_err_name(rc), dmp_last_error());
  char want_id[48], want_seq[48];
  snprintf(want_id, sizeof want_id, "'%s'", id);
  snprintf(want_seq, sizeof want_seq, "sequence %lld", (long long)seq);
  cr_expect(strstr(dmp_last_error(), want_id) != NULL, "detail '%s' does not name %s", dmp_last_error(), want_id);
  cr_expect(strstr(dmp_last_error(), want_seq) != NULL, "detail '%s' lacks '%s'", dmp_last_error(), want_seq);
}

Test(stall, same_id_reattaching_within_grace_recovers_and_drains_the_backlog)
{
  pid_t c1, c2;
  struct fr_progress *p1, *p2, *p2b;
  stalled_topology(&c1, &p1, &c2, &p2, 5000, DMP_LIVENESS_FAIL, "199");
  block_until_alerts("c2", 1, 5000);
  /* c2 crashes and comes back under the same id; the producer makes no
   * check in between (consumer() waits until the restart is attached), so
   * it sees a new generation, not a death (FAIL would fail at a check that
   * found c2 dead: liveness.h). */
  fr_signal(c2, SIGKILL);
  cr_assert_eq(ts_wait(c2, ts_timeout_ms(5000)), 128 + SIGKILL);
  const char *f = hold_file("again");
  char h[300];
  snprintf(h, sizeof h, "150:%s", f);
  pid_t c2b = consumer("c2", &p2b, (const char *const[]){"--last-seq", "199", "--hold", h, NULL});
  publish_ok(150 + CAP - (HOLD + CAP), true); /* recovered: publishing resumes */
  /* The alert state was cleared: holding again opens a new window. */
  block_until_alerts("c2", 2, 5000);
  fr_touch(f);
  publish_ok(200 - (150 + CAP), true);
  expect_delivered(c1, p1, "c1", 0, 199);
  expect_delivered(c2b, p2b, "c2 (re-attached)", HOLD, 199); /* resumed where the dead one rested */
  cr_expect_eq(atomic_load(&p2->last), HOLD - 1);
}

Test(stall, past_grace_fails_sticky_naming_the_id_and_its_sequence)
{
  pid_t c1, c2;
  struct fr_progress *p1, *p2;
  stalled_topology(&c1, &p1, &c2, &p2, 300, DMP_LIVENESS_FAIL, "55");
  void *slot;
  int64_t t0 = ts_now_ns();
  int rc = dmp_producer_claim_managed(prod, &slot, (int64_t)ts_timeout_ms(10000) * FR_MS);
  int64_t waited_ms = (ts_now_ns() - t0) / FR_MS;
  expect_stalled(rc, "c2", HOLD - 1);
  cr_expect_geq(waited_ms, 100 + 300 - 5, "failed after %lld ms, before progress timeout + grace",
                (long long)waited_ms);
  cr_expect_eq(fr_alerts_for(&alerts, "c2"), 1, "one alert before the failure");
  /* Sticky: even once c2 is gone and the ring has space again. */
  fr_signal(c2, SIGKILL);
  ts_wait(c2, ts_timeout_ms(5000));
  struct fr_progress *p2b;
  pid_t c2b = consumer("c2", &p2b, (const char *const[]){"--last-seq", "55", NULL});
  expect_delivered(c2b, p2b, "c2 (after grace)", HOLD, HOLD + CAP - 1); /* it may still drain the backlog */
  expect_stalled(dmp_producer_claim_managed(prod, &slot, 0), "c2", HOLD - 1);
  int64_t first;
  expect_stalled(dmp_producer_claim_batch_managed(prod, 2, &first, 0), "c2", HOLD - 1);
  uint8_t ev[FR_SLOT] = {0};
  expect_stalled((int)dmp_producer_publish_managed(prod, ev, sizeof ev, 0), "c2", HOLD - 1);
  expect_delivered(c1, p1, "c1", 0, HOLD + CAP - 1);
  /* Unmanaged claims keep their semantics. */
  cr_expect_eq(dmp_producer_try_claim(prod, &slot), 0, "unmanaged claim after the liveness failure");
}

Test(stall, a_different_id_joining_does_not_clear_it)
{
  pid_t c1, c2;
  struct fr_progress *p1, *p2, *p3;
  stalled_topology(&c1, &p1, &c2, &p2, 400, DMP_LIVENESS_FAIL, "55");
  block_until_alerts("c2", 1, 5000);
  consumer("c3", &p3, NULL); /* may read the broadcast; c2 is still stalled */
  void *slot;
  expect_stalled(dmp_producer_claim_managed(prod, &slot, (int64_t)ts_timeout_ms(10000) * FR_MS), "c2", HOLD - 1);
  cr_expect_eq(fr_alerts_for(&alerts, "c3"), 0, "c3 is not required");
}

Test(stall, caught_up_consumers_never_trip)
{
  pid_t c1, c2;
  struct fr_progress *p1, *p2;
  stalled_topology(&c1, &p1, &c2, &p2, 100, DMP_LIVENESS_ALERT_ONLY, "199");
  /* c1 has read everything; stopped, it stays caught up without progress. */
  cr_assert(fr_wait_last(p1, HOLD + CAP - 1, 5000), "c1 did not catch up");
  fr_signal(c1, SIGSTOP);
  block_until_alerts("c2", 1, 5000);
  stay_blocked(600); /* far past progress timeout + grace */
  fr_signal(c1, SIGCONT);
  cr_expect_eq(fr_alerts_for(&alerts, "c1"), 0, "caught-up c1 was alerted %d times", fr_alerts_for(&alerts, "c1"));
  cr_expect_eq(fr_alerts_for(&alerts, "c2"), 1, "c2: %d alerts in one window (alert only)",
               fr_alerts_for(&alerts, "c2"));
}

Test(stall, a_durable_consumer_that_detached_still_counts)
{
  /* A durable consumer keeps gating after a clean close: if it is required
   * and does not come back, that is a stall like any other. */
  make_ring();
  struct fr_progress *p1, *p2, *p2b;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "99", NULL});
  pid_t c2 = consumer("c2", &p2, (const char *const[]){"--durable", "--exit-seq", "39", NULL});
  static const char *const ids[] = {"c1", "c2"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 100, 5000, DMP_LIVENESS_FAIL);
  enable(&lc);
  publish_ok(HOLD + CAP, true);
  expect_delivered(c2, p2, "c2", 0, HOLD - 1);
  block_until_alerts("c2", 1, 5000);
  cr_expect_eq(alerts.a[0].last_sequence, HOLD - 1);
  cr_expect(!alerts.a[0].dead, "a cleanly detached consumer is not dead");
  /* It comes back within grace and resumes: recovery. */
  pid_t c2b = consumer("c2", &p2b, (const char *const[]){"--durable", "--last-seq", "99", NULL});
  publish_ok(100 - (HOLD + CAP), true);
  expect_delivered(c2b, p2b, "c2 (resumed)", HOLD, 99);
  expect_delivered(c1, p1, "c1", 0, 99);
}

/* --------------------------------------------------------------- idle */

Test(idle, an_idle_topology_never_fails)
{
  make_ring();
  struct fr_progress *p1;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "299", NULL});
  static const char *const ids[] = {"c1"};
  struct dmp_liveness_config lc = live_cfg(ids, 1, 100, 100, DMP_LIVENESS_FAIL);
  enable(&lc);
  publish_ok(10, true);
  fr_sleep_ms(400); /* nothing blocked, far past progress timeout + grace */
  publish_ok(90, true);
  cr_assert(fr_wait_last(p1, 99, 5000));
  fr_sleep_ms(400); /* idle again, with a consumer that is caught up */
  publish_ok(200, true);
  expect_delivered(c1, p1, "c1", 0, 299);
  cr_expect_eq(alerts.n, 0, "%d alerts in an idle topology", alerts.n);
}

/* --------------------------------------------------------- alert only */

Test(alert_only, past_grace_the_claim_keeps_waiting)
{
  make_ring();
  const char *f = hold_file("f");
  char h[300];
  snprintf(h, sizeof h, "%d:%s", HOLD, f);
  struct fr_progress *p1;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "99", "--hold", h, NULL});
  static const char *const ids[] = {"c1"};
  struct dmp_liveness_config lc = live_cfg(ids, 1, 100, 100, DMP_LIVENESS_ALERT_ONLY);
  enable(&lc);
  publish_ok(HOLD + CAP, true);
  block_until_alerts("c1", 1, 5000);
  stay_blocked(400); /* past grace: still only waiting */
  fr_touch(f);
  publish_ok(100 - (HOLD + CAP), true);
  expect_delivered(c1, p1, "c1", 0, 99);
  cr_expect_eq(fr_alerts_for(&alerts, "c1"), 1);
}

/* --------------------------------------------------------------- poll */

/* Call dmp_producer_check_liveness() every 5 ms until it returns something
 * other than 0 / `until_not`, or an alert about `id` arrives (`alert_for`),
 * at most `bound_ms`. Returns the last return code. */
static int poll_until(int until_not, const char *alert_for, int bound_ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(bound_ms) * FR_MS;
  int rc;
  do {
    rc = dmp_producer_check_liveness(prod);
    if (rc != until_not || (alert_for && fr_alerts_for(&alerts, alert_for) > 0))
      return rc;
    fr_sleep_ms(5);
  } while (ts_now_ns() < deadline);
  return rc;
}

Test(poll, refuses_null_and_a_producer_without_liveness)
{
  cr_assert_eq(dmp_producer_check_liveness(NULL), -EINVAL);
  make_ring();
  cr_assert_eq(dmp_producer_check_liveness(prod), -DMP_E_NOLIVENESS);
}

Test(poll, a_missing_required_id_fails_startup_without_blocking)
{
  make_ring();
  struct fr_progress *p1;
  consumer("c1", &p1, NULL);
  static const char *const ids[] = {"c1", "c2"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 100, 1000, DMP_LIVENESS_FAIL);
  lc.startup_timeout_ns = 300 * FR_MS;
  enable(&lc);
  int64_t t0 = ts_now_ns();
  cr_assert_eq(dmp_producer_check_liveness(prod), 0, "within the startup time: %s", dmp_last_error());
  expect_startup_timeout(poll_until(0, NULL, 5000), t0, 300);
  /* Checked again by the next call: once c2 is there, all is well. */
  struct fr_progress *p2;
  consumer("c2", &p2, NULL);
  cr_assert_eq(poll_until(-DMP_E_STARTUP, NULL, 5000), 0, "%s", dmp_last_error());
  cr_expect_eq(alerts.n, 0);
}

/* Issue 15, item 7: past the startup timeout, every call reports the
 * missing id (none says "all fine" while it is missing), until it attaches. */
Test(poll, a_missing_required_id_is_reported_by_every_call_until_it_attaches)
{
  make_ring();
  struct fr_progress *p1;
  consumer("c1", &p1, NULL);
  static const char *const ids[] = {"c1", "c2"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 100, 1000, DMP_LIVENESS_FAIL);
  lc.startup_timeout_ns = 100 * FR_MS;
  enable(&lc);
  cr_assert_eq(poll_until(0, NULL, 5000), -DMP_E_STARTUP, "%s", dmp_last_error());
  int64_t end = ts_now_ns() + 400 * FR_MS; /* four startup timeouts */
  int calls = 0;
  while (ts_now_ns() < end) {
    int rc = dmp_producer_check_liveness(prod);
    cr_assert_eq(rc, -DMP_E_STARTUP, "call %d, %lld ms after the first STARTUP, with c2 still missing: %s (%s)",
                 calls, (long long)((ts_now_ns() - end) / FR_MS + 400), dmp_err_name(rc), dmp_last_error());
    cr_assert(strstr(dmp_last_error(), "c2") != NULL, "detail '%s' does not name c2", dmp_last_error());
    calls++;
    fr_sleep_ms(2);
  }
  struct fr_progress *p2;
  consumer("c2", &p2, NULL);
  cr_assert_eq(dmp_producer_check_liveness(prod), 0, "c2 is there now: %s", dmp_last_error());
}

Test(poll, a_stall_on_a_ring_that_never_fills_alerts_then_fails_past_grace)
{
  make_ring();
  char h[300];
  snprintf(h, sizeof h, "5:%s", hold_file("never"));
  struct fr_progress *p1, *p2;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "9", NULL});
  consumer("c2", &p2, (const char *const[]){"--hold", h, NULL});
  static const char *const ids[] = {"c1", "c2"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 100, 300, DMP_LIVENESS_FAIL);
  enable(&lc);
  cr_assert_eq(dmp_producer_check_liveness(prod), 0, "%s", dmp_last_error());
  publish_ok(10, false); /* 10 of 16 slots: the ring never fills */
  int64_t t0 = ts_now_ns();
  cr_assert_eq(poll_until(0, "c2", 5000), 1, "c2 stalled: %s", dmp_last_error());
  cr_expect_eq(fr_alerts_for(&alerts, "c2"), 1);
  cr_expect_eq(alerts.a[0].last_sequence, 4, "alert names sequence %lld, c2 rests at 4",
               (long long)alerts.a[0].last_sequence);
  int rc = poll_until(1, NULL, 5000);
  int64_t waited_ms = (ts_now_ns() - t0) / FR_MS;
  expect_stalled(rc, "c2", 4);
  cr_expect_geq(waited_ms, 100 + 300 - 5, "failed after %lld ms, before progress timeout + grace",
                (long long)waited_ms);
  expect_stalled(dmp_producer_check_liveness(prod), "c2", 4); /* sticky */
  cr_expect_eq(fr_alerts_for(&alerts, "c1"), 0, "c1 kept up but was alerted");
  expect_delivered(c1, p1, "c1", 0, 9);
}

Test(poll, a_consumer_that_dies_on_a_ring_that_never_fills_is_evicted)
{
  make_ring();
  char h[300];
  snprintf(h, sizeof h, "5:%s", hold_file("never"));
  struct fr_progress *p1, *pv;
  pid_t c1 = consumer("c1", &p1, (const char *const[]){"--last-seq", "9", NULL});
  pid_t cv = consumer("cv", &pv, (const char *const[]){"--hold", h, NULL});
  static const char *const ids[] = {"c1", "cv"};
  struct dmp_liveness_config lc = live_cfg(ids, 2, 10000, 10000, DMP_LIVENESS_EVICT);
  enable(&lc);
  /* Started while both are attached (c1 leaves once it has read 0..9). */
  cr_assert_eq(dmp_producer_check_liveness(prod), 0, "%s", dmp_last_error());
  publish_ok(10, false);
  fr_signal(cv, SIGKILL);
  cr_assert_eq(ts_wait(cv, ts_timeout_ms(5000)), 128 + SIGKILL);
  cr_assert_eq(poll_until(0, "cv", 5000), 0, "%s", dmp_last_error());
  cr_assert_eq(fr_alerts_for(&alerts, "cv"), 1, "no alert for the dead consumer");
  cr_expect(alerts.a[0].dead && alerts.a[0].evicted, "alert: dead %d evicted %d", alerts.a[0].dead,
            alerts.a[0].evicted);
  struct dmp_consumer_info info;
  cr_expect_eq(dmp_producer_consumer_info(prod, "cv", &info), -ENOENT, "the dead entry is still there");
  expect_delivered(c1, p1, "c1", 0, 9);
}
