/* Shared-memory counters (counters.h) across real processes: the library's
 * own counters asserted exactly (published, consumed, full events, lag,
 * attaches and detaches, evictions and alerts), idempotent registration
 * across a restarted process, reclamation of a dead process's records, a
 * full region as a clear error, the distinct-error log, and counters off. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnt.h"

TestSuite(counters, .fini = cnt_fini, .timeout = CNT_TIMEOUT);

#define CONS(t) DMP_COUNTER_CONSUMER_##t
#define PROD(t) DMP_COUNTER_PRODUCER_##t

static void assert_consumer(const struct dmp_ring_stat *s, const char *id, int64_t position, int64_t lag,
                            enum dmp_peer_state liveness)
{
  const struct dmp_consumer_stat *c = cnt_stat_consumer(s, id);
  cr_assert(ne(ptr, (void *)c, NULL), "consumer %s missing from '%s'", id, s->name);
  cr_assert(eq(i64, c->position, position), "%s position", id);
  cr_assert(eq(u64, c->consumed, (uint64_t)(position + 1)), "%s consumed", id);
  cr_assert(eq(i64, c->lag, lag), "%s lag", id);
  cr_assert(eq(str, (char *)dmp_peer_state_name(c->liveness), (char *)dmp_peer_state_name(liveness)), "%s liveness",
            id);
}

static const struct dmp_ring_stat *resample(struct dmp_inspect *in)
{
  const struct dmp_ring_stat *s = NULL;
  int rc = dmp_inspect_sample(in, &s);
  cr_assert(eq(int, rc, 0), "sample: %s (%s)", dmp_err_name(rc), dmp_last_error());
  return s;
}

/* A consumer in another process blocks a 4-slot ring: exactly one full
 * event for three refused claims of the same sequence, lag = capacity,
 * then 10 published and 10 consumed, one attach and one detach - and after
 * a restart of that consumer the same records count 2 attaches. */
static void blocked_tiny_ring(enum dmp_backend b)
{
  const char *name = cnt_name(b, "blk");
  struct dmp_producer *p = cnt_producer(b, name, 4, 0, 0);
  const char *ready = cnt_file("ready"), *go = cnt_file("go"), *done = cnt_file("done"), *hold = cnt_file("hold");
  pid_t c1 = cnt_spawn("consumer", b, name, "--id", "c1", "--read", "10", "--ready", ready, "--go", go, "--done", done,
                       "--hold", hold, NULL);
  cnt_await(ready, "consumer c1 attached");
  for (int64_t i = 0; i < 4; i++)
    cr_assert(eq(i64, dmp_producer_try_publish(p, &i, sizeof i), i));
  for (int k = 0; k < 3; k++) {
    void *slot;
    cr_assert(eq(int, dmp_producer_try_claim(p, &slot), -EAGAIN), "claim %d on a full ring", k);
  }
  struct dmp_counters *set = dmp_producer_counters(p);
  cr_assert(ne(ptr, set, NULL), "the producer has no counters");
  cr_assert(eq(u64, cnt_value(set, PROD(FULL), "producer"), 1), "one full event for one blocked sequence");
  cr_assert(eq(u64, cnt_value(set, PROD(LAG_MAX), "producer"), 4), "lag max = capacity");

  struct dmp_inspect *in;
  const struct dmp_ring_stat *s = cnt_sample(b, name, &in);
  cr_assert(eq(u64, s->published, 4));
  cr_assert(s->full && s->producer_alive);
  cr_assert(eq(u32, s->n_consumers, 1));
  assert_consumer(s, "c1", -1, 4, DMP_PEER_STALLED); /* gating a full ring: it blocks the producer */
  cr_assert(eq(u64, cnt_stat_value(s, CONS(ATTACHES), "c1"), 1));
  cr_assert(eq(u64, cnt_stat_value(s, CONS(DETACHES), "c1"), 0));

  cnt_touch(go);
  for (int64_t i = 4; i < 10; i++)
    cr_assert(eq(i64, dmp_producer_publish_timeout(p, &i, sizeof i, CNT_WAIT_NS), i));
  cnt_await(done, "consumer c1 read 10");
  s = resample(in);
  cr_assert(eq(u64, s->published, 10));
  assert_consumer(s, "c1", 9, 0, DMP_PEER_ALIVE);
  cr_assert(ge(u64, cnt_value(set, PROD(FULL), "producer"), 1));

  cnt_touch(hold);
  cnt_expect_exit(c1, 0, "consumer c1");
  s = resample(in);
  assert_consumer(s, "c1", 9, 0, DMP_PEER_IDLE);
  cr_assert(eq(u64, cnt_stat_value(s, CONS(ATTACHES), "c1"), 1));
  cr_assert(eq(u64, cnt_stat_value(s, CONS(DETACHES), "c1"), 1));
  const struct dmp_counter_stat *att = cnt_stat_record(s, CONS(ATTACHES), "c1");
  cr_assert(not(att->owner_alive), "c1's records have no owner after it left");
  uint32_t index = att->index, records = s->n_counters;

  const char *ready2 = cnt_file("ready2"), *hold2 = cnt_file("hold2");
  pid_t again = cnt_spawn("consumer", b, name, "--id", "c1", "--ready", ready2, "--hold", hold2, NULL);
  cnt_await(ready2, "consumer c1 re-attached");
  s = resample(in);
  att = cnt_stat_record(s, CONS(ATTACHES), "c1");
  cr_assert(ne(ptr, (void *)att, NULL));
  cr_assert(eq(u32, att->index, index), "a restart reuses the record");
  cr_assert(eq(u64, att->value, 2));
  cr_assert(eq(u32, att->registrations, 2));
  cr_assert(att->owner_alive);
  cr_assert(eq(u32, s->n_counters, records), "no record leaked by the restart");
  cnt_touch(hold2);
  cnt_expect_exit(again, 0, "consumer c1 (restarted)");
  dmp_inspect_close(in);
  dmp_producer_close(p);
  cr_assert(not(cnt_exists(b, name, true)), "close removes the counters segment");
}

Test(counters, exact_values_with_a_consumer_blocking_a_tiny_ring)
{
  for (int i = 0; i < CNT_NBACKENDS; i++)
    blocked_tiny_ring(cnt_backends[i]);
}

/* A consumer killed while it gates a full ring is evicted by the liveness
 * checks: exactly one eviction, one alert and one distinct error. */
static void evicts_killed(enum dmp_backend b)
{
  const char *name = cnt_name(b, "evi");
  struct dmp_producer *p = cnt_producer(b, name, 4, 0, 0);
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.action = DMP_LIVENESS_EVICT;
  lc.quiet = true;
  cr_assert(eq(int, dmp_producer_enable_liveness(p, &lc), 0), "%s", dmp_last_error());
  const char *ready = cnt_file("ready"), *hold = cnt_file("hold");
  pid_t c2 = cnt_spawn("consumer", b, name, "--id", "c2", "--ready", ready, "--hold", hold, NULL);
  cnt_await(ready, "consumer c2 attached");
  cnt_kill(c2);
  for (int64_t i = 0; i < 5; i++)
    cr_assert(eq(i64, dmp_producer_publish_managed(p, &i, sizeof i, CNT_WAIT_NS), i), "publish %lld: %s",
              (long long)i, dmp_last_error());
  struct dmp_counters *set = dmp_producer_counters(p);
  cr_assert(eq(u64, cnt_value(set, DMP_COUNTER_LIVENESS_EVICTIONS, "producer"), 1));
  cr_assert(eq(u64, cnt_value(set, DMP_COUNTER_LIVENESS_ALERTS, "producer"), 1));
  struct dmp_error_stat errs[4];
  cr_assert(eq(int, dmp_counters_errors(set, errs, 4), 1));
  cr_assert(eq(str, errs[0].text, "consumer 'c2' is dead"));
  cr_assert(eq(u64, errs[0].count, 1));

  struct dmp_inspect *in;
  const struct dmp_ring_stat *s = cnt_sample(b, name, &in);
  cr_assert(eq(u32, s->n_consumers, 0), "the evicted entry is free");
  cr_assert(eq(u64, s->published, 5));
  cr_assert(eq(u64, cnt_stat_value(s, CONS(ATTACHES), "c2"), 1));
  cr_assert(eq(u64, cnt_stat_value(s, CONS(DETACHES), "c2"), 0), "killed: no clean detach");
  cr_assert(not(cnt_stat_record(s, CONS(ATTACHES), "c2")->owner_alive));
  cr_assert(eq(u32, s->n_errors, 1));
  dmp_inspect_close(in);
  dmp_producer_close(p);
}

Test(counters, counts_one_eviction_and_one_alert_for_a_killed_consumer)
{
  for (int i = 0; i < CNT_NBACKENDS; i++)
    evicts_killed(cnt_backends[i]);
}

/* A dead consumer's ACTIVE entry shows as dead to the inspector. */
Test(counters, inspector_tells_dead_from_alive_and_stalled)
{
  const char *name = cnt_name(DMP_BACKEND_SHM, "dead");
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_SHM, name, 8, 0, 0);
  const char *r1 = cnt_file("r1"), *r2 = cnt_file("r2"), *hold = cnt_file("hold");
  pid_t live = cnt_spawn("consumer", DMP_BACKEND_SHM, name, "--id", "live", "--ready", r1, "--hold", hold, NULL);
  pid_t dead = cnt_spawn("consumer", DMP_BACKEND_SHM, name, "--id", "dead", "--ready", r2, "--hold", hold, NULL);
  cnt_await(r1, "consumer live");
  cnt_await(r2, "consumer dead");
  cnt_kill(dead);
  struct dmp_inspect *in;
  const struct dmp_ring_stat *s = cnt_sample(DMP_BACKEND_SHM, name, &in);
  assert_consumer(s, "live", -1, 0, DMP_PEER_ALIVE);
  assert_consumer(s, "dead", -1, 0, DMP_PEER_DEAD);
  int64_t v = 7;
  cr_assert(eq(i64, dmp_producer_try_publish(p, &v, sizeof v), 0));
  s = resample(in); /* behind by one and no progress since the last sample */
  assert_consumer(s, "live", -1, 1, DMP_PEER_STALLED);
  cnt_touch(hold);
  cnt_expect_exit(live, 0, "consumer live");
  dmp_inspect_close(in);
  dmp_producer_close(p);
}

/* The same label registered by a restarted process reuses its record and
 * keeps its value: no slot leaks across restarts (W11). */
Test(counters, registration_is_idempotent_across_a_restarted_process)
{
  for (int b = 0; b < CNT_NBACKENDS; b++) {
    const char *name = cnt_name(cnt_backends[b], "idem");
    struct dmp_producer *p = cnt_producer(cnt_backends[b], name, 8, 1, 0);
    struct dmp_counters *set = dmp_producer_counters(p);
    int before = dmp_counters_read(set, NULL, 0);
    cr_assert(eq(int, before, 6), "the producer's own records");
    long long index = -1;
    for (int run = 1; run <= 3; run++) {
      const char *report = cnt_file("report");
      pid_t c = cnt_spawn("counter", cnt_backends[b], name, "--label", "jobs done", "--add", "5", "--report", report,
                          NULL);
      cnt_expect_exit(c, 0, "counter process");
      char *r = cnt_slurp(report);
      if (run == 1)
        index = cnt_report_int(r, "index");
      cr_assert(eq(i64, cnt_report_int(r, "index"), index), "run %d: same record", run);
      cr_assert(eq(i64, cnt_report_int(r, "value"), 5 * run), "run %d: value kept and added to", run);
      cr_assert(eq(i64, cnt_report_int(r, "registrations"), run));
      free(r);
    }
    cr_assert(eq(int, dmp_counters_read(set, NULL, 0), before + 1), "one record, whatever the restarts");
    cr_assert(eq(u64, cnt_value(set, DMP_COUNTER_USER, "jobs done"), 15));
    struct dmp_counter again;
    cr_assert(eq(int, dmp_counters_register(set, 0, "jobs done", &again), (int)index), "the producer sees it too");
    dmp_counter_inc(again);
    cr_assert(eq(u64, dmp_counter_get(again), 16));
    dmp_producer_close(p);
  }
}

/* A live process holding every record makes registration fail clearly;
 * once it is killed its records are reclaimed (and zeroed). */
Test(counters, full_region_is_an_error_until_the_owner_dies_then_reclaimed)
{
  const char *name = cnt_name(DMP_BACKEND_SHM, "full");
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_SHM, name, 8, 1, 0);
  struct dmp_counters *set = dmp_producer_counters(p);
  uint32_t cap = dmp_counters_capacity(set);
  cr_assert(eq(u32, cap, DMP_COUNTERS_BASE_RECORDS + DMP_COUNTERS_PER_CONSUMER));
  const char *report = cnt_file("report"), *ready = cnt_file("ready"), *hold = cnt_file("hold");
  pid_t hog = cnt_spawn("counter", DMP_BACKEND_SHM, name, "--label", "hog", "--fill", "--report", report, "--ready",
                        ready, "--hold", hold, NULL);
  cnt_await(ready, "counter process filled the region");
  char *r = cnt_slurp(report);
  cr_assert(eq(i64, cnt_report_int(r, "filled"), (long long)cap - 6 - 1), "every free record taken");
  cr_assert(eq(i64, cnt_report_int(r, "full_rc"), -ENOSPC));
  free(r);

  struct dmp_counter late;
  cr_assert(eq(int, dmp_counters_register(set, 0, "late", &late), -ENOSPC));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "full"), NULL), "detail: %s", dmp_last_error());
  cr_assert(eq(ptr, (void *)late.value, NULL), "a refused registration leaves a zeroed handle");
  dmp_counter_inc(late); /* and that is harmless */
  struct dmp_inspect *in;
  const struct dmp_ring_stat *s = cnt_sample(DMP_BACKEND_SHM, name, &in);
  cr_assert(eq(u64, s->registrations_failed, 2), "the hog's last try and ours");
  cr_assert(eq(u32, s->n_counters, cap));
  dmp_inspect_close(in);

  cnt_kill(hog);
  int index = dmp_counters_register(set, 0, "late", &late);
  cr_assert(ge(int, index, 0), "reclaimed after the owner died: %s", dmp_last_error());
  cr_assert(eq(u64, dmp_counter_get(late), 0), "a reclaimed record starts at zero");
  struct dmp_counter late2;
  cr_assert(ge(int, dmp_counters_register(set, 0, "late2", &late2), 0), "%s", dmp_last_error());
  cr_assert(eq(int, dmp_counters_read(set, NULL, 0), (int)cap));
  s = cnt_sample(DMP_BACKEND_SHM, name, &in);
  const struct dmp_counter_stat *c = cnt_stat_record(s, DMP_COUNTER_USER, "late");
  cr_assert(ne(ptr, (void *)c, NULL));
  cr_assert(c->owner_alive);
  cr_assert(eq(u32, c->registrations, 1));
  const struct dmp_counter_stat *hogc = cnt_stat_record(s, DMP_COUNTER_USER, "hog");
  bool hog_gone = !hogc || !hogc->owner_alive;
  cr_assert(hog_gone, "the killed process owns nothing");
  dmp_inspect_close(in);
  dmp_producer_close(p);
}

/* The same error is kept once with a count and first/last times, across
 * processes; the log is bounded and counts what it drops. */
Test(counters, distinct_error_log_deduplicates_and_is_bounded)
{
  const char *name = cnt_name(DMP_BACKEND_MMAP, "err");
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_MMAP, name, 8, 0, 0);
  struct dmp_counters *set = dmp_producer_counters(p);
  cr_assert(eq(int, dmp_counters_error(set, -EIO, "disk %s failed", "sda"), 1));
  cr_assert(eq(int, dmp_counters_error(set, -EIO, "disk %s failed", "sda"), 0));
  cr_assert(eq(int, dmp_counters_error(set, -EIO, "disk %s failed", "sda"), 0));
  pid_t c = cnt_spawn("error", DMP_BACKEND_MMAP, name, "--code", "-5", "--text", "disk sda failed", NULL);
  cnt_expect_exit(c, 0, "error process");
  cr_assert(eq(int, dmp_counters_error(set, -EIO, "disk %s failed", "sdb"), 1), "another text is another entry");
  struct dmp_error_stat e[DMP_COUNTERS_ERRORS];
  cr_assert(eq(int, dmp_counters_errors(set, e, DMP_COUNTERS_ERRORS), 2));
  cr_assert(eq(str, e[0].text, "disk sda failed"));
  cr_assert(eq(i32, e[0].code, -EIO));
  cr_assert(eq(u64, e[0].count, 4));
  cr_assert(le(u64, e[0].first_ns, e[0].last_ns));
  cr_assert(eq(u64, e[1].count, 1));
  for (int i = 2; i < (int)DMP_COUNTERS_ERRORS; i++)
    cr_assert(eq(int, dmp_counters_error(set, -EINVAL, "error %d", i), 1));
  cr_assert(eq(int, dmp_counters_error(set, -EINVAL, "one too many"), -ENOSPC));
  cr_assert(eq(int, dmp_counters_error(set, -EIO, "disk sda failed"), 0), "known errors still count when full");
  struct dmp_inspect *in;
  const struct dmp_ring_stat *s = cnt_sample(DMP_BACKEND_MMAP, name, &in);
  cr_assert(eq(u32, s->n_errors, DMP_COUNTERS_ERRORS));
  cr_assert(eq(u64, s->errors_dropped, 1));
  cr_assert(eq(u64, s->errors[0].count, 5));
  dmp_inspect_close(in);
  dmp_producer_close(p);
}

/* Counters off: no companion segment, no handles, nothing registered. */
Test(counters, can_be_turned_off_per_ring_and_per_consumer)
{
  for (int b = 0; b < CNT_NBACKENDS; b++) {
    enum dmp_backend be = cnt_backends[b];
    const char *name = cnt_name(be, "off");
    /* A kept ring leaves counters behind; a later ring without counters
     * removes them (they belong to the old incarnation). */
    dmp_producer_close(cnt_producer(be, name, 8, 0, DMP_RING_KEEP));
    cr_assert(cnt_exists(be, name, false) && cnt_exists(be, name, true), "KEEP keeps both segments");
    struct dmp_producer *p = cnt_producer(be, name, 8, 0, DMP_RING_NO_COUNTERS);
    cr_assert(eq(ptr, dmp_producer_counters(p), NULL));
    cr_assert(not(cnt_exists(be, name, true)), "stale counters removed");
    struct dmp_counters *set;
    cr_assert(eq(int, dmp_counters_open(be, name, &set), -ENOENT));
    struct dmp_consumer_config cc;
    dmp_consumer_config_init(&cc);
    cc.backend = be;
    cc.name = name;
    cc.id = "c";
    struct dmp_consumer *c;
    cr_assert(eq(int, dmp_consumer_attach(&cc, &c), 0));
    cr_assert(eq(ptr, dmp_consumer_counters(c), NULL));
    dmp_consumer_close(c);
    struct dmp_inspect *in;
    const struct dmp_ring_stat *s = cnt_sample(be, name, &in);
    cr_assert(eq(int, s->counters_rc, -ENOENT));
    dmp_inspect_close(in);
    dmp_producer_close(p);

    p = cnt_producer(be, name, 8, 0, 0);
    cc.flags = DMP_CONSUMER_NO_COUNTERS;
    cr_assert(eq(int, dmp_consumer_attach(&cc, &c), 0));
    cr_assert(eq(ptr, dmp_consumer_counters(c), NULL));
    uint64_t v;
    cr_assert(eq(int, dmp_counters_value(dmp_producer_counters(p), CONS(ATTACHES), "c", &v), -ENOENT));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* Bad labels and arguments are refused with clear codes. */
Test(counters, rejects_bad_labels_and_arguments)
{
  const char *name = cnt_name(DMP_BACKEND_SHM, "bad");
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_SHM, name, 8, 0, 0);
  struct dmp_counters *set = dmp_producer_counters(p);
  struct dmp_counter c;
  cr_assert(eq(int, dmp_counters_register(set, 0, "", &c), -DMP_E_BADNAME));
  cr_assert(eq(int, dmp_counters_register(set, 0, "a\"quote", &c), -DMP_E_BADNAME));
  cr_assert(eq(int, dmp_counters_register(set, 0, "this label is far too long for a record", &c), -DMP_E_BADNAME));
  cr_assert(eq(int, dmp_counters_register(NULL, 0, "x", &c), -EINVAL));
  cr_assert(eq(int, dmp_counters_register(set, 0, NULL, &c), -EINVAL));
  cr_assert(eq(int, dmp_counters_unregister(set, &c), -EINVAL));
  int i = dmp_counters_register(set, 0, "ok", &c);
  cr_assert(ge(int, i, 0));
  cr_assert(eq(int, dmp_counters_register(set, 0, "ok", &c), i), "idempotent in one process");
  dmp_counter_set(c, 41);
  dmp_counter_set_max(c, 40);
  dmp_counter_set_max(c, 42);
  cr_assert(eq(u64, dmp_counter_get(c), 42));
  cr_assert(eq(int, dmp_counters_unregister(set, &c), 0));
  cr_assert(eq(ptr, (void *)c.value, NULL));
  struct dmp_counters *none;
  cr_assert(eq(int, dmp_counters_open(DMP_BACKEND_SHM, "no-such-ring-x", &none), -ENOENT));
  cr_assert(eq(ptr, none, NULL));
  dmp_producer_close(p);
}

/* Processes racing to fill the region: registration is atomic, so every
 * (type, label) exists exactly once and no record is lost or torn. */
Test(counters, concurrent_registration_never_duplicates_a_label)
{
  const char *name = cnt_name(DMP_BACKEND_SHM, "race");
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_SHM, name, 8, 1, 0);
  uint32_t cap = dmp_counters_capacity(dmp_producer_counters(p));
  const char *hold = cnt_file("hold"), *ready[3];
  pid_t pid[3];
  for (int i = 0; i < 3; i++) {
    char label[16];
    snprintf(label, sizeof label, "holder-%d", i);
    ready[i] = cnt_file("ready");
    pid[i] = cnt_spawn("counter", DMP_BACKEND_SHM, name, "--label", label, "--fill", "--ready", ready[i], "--hold",
                       hold, NULL);
  }
  for (int i = 0; i < 3; i++)
    cnt_await(ready[i], "a filling process");
  struct dmp_inspect *in;
  const struct dmp_ring_stat *s = cnt_sample(DMP_BACKEND_SHM, name, &in);
  cr_assert(eq(u32, s->n_counters, cap), "the region is full");
  for (uint32_t i = 0; i < s->n_counters; i++)
    for (uint32_t j = i + 1; j < s->n_counters; j++)
      cr_assert(s->counters[i].type != s->counters[j].type || strcmp(s->counters[i].label, s->counters[j].label) != 0,
                "%s{%s} registered twice (records %u and %u)", dmp_counter_type_name(s->counters[i].type),
                s->counters[i].label, s->counters[i].index, s->counters[j].index);
  cr_assert(eq(u64, cnt_stat_value(s, DMP_COUNTER_USER, "fill-0"), 3), "a shared label counts for all three");
  dmp_inspect_close(in);
  cnt_touch(hold);
  for (int i = 0; i < 3; i++)
    cnt_expect_exit(pid[i], 0, "a filling process");
  dmp_producer_close(p);
}

struct hammer {
  struct dmp_counters *set;
  int id;
  int rc;
};

static void *hammer_run(void *arg)
{
  struct hammer *h = arg;
  struct dmp_counter shared, own;
  for (int i = 0; i < 20 && h->rc >= 0; i++) {
    char label[32];
    snprintf(label, sizeof label, "t%d-%d", h->id, i);
    h->rc = dmp_counters_register(h->set, 0, label, &own);
    dmp_counter_inc(own);
  }
  if (h->rc >= 0)
    h->rc = dmp_counters_register(h->set, 0, "shared", &shared);
  for (int i = 0; i < 1000; i++)
    dmp_counter_inc(shared);
  for (int i = 0; i < 100 && h->rc >= 0; i++)
    h->rc = dmp_counters_error(h->set, -EIO, "same error from every thread");
  return NULL;
}

/* Threads sharing one handle (the producer's, as an application would). */
Test(counters, registration_and_error_log_are_thread_safe)
{
  const char *name = cnt_name(DMP_BACKEND_MMAP, "thr");
  struct dmp_producer *p = cnt_producer(DMP_BACKEND_MMAP, name, 8, 0, 0);
  struct dmp_counters *set = dmp_producer_counters(p);
  struct hammer h[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    h[i] = (struct hammer){set, i, 0};
    cr_assert(eq(int, pthread_create(&t[i], NULL, hammer_run, &h[i]), 0));
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    cr_assert(ge(int, h[i].rc, 0), "thread %d: %s", i, dmp_err_name(h[i].rc));
  }
  cr_assert(eq(int, dmp_counters_read(set, NULL, 0), 6 + 4 * 20 + 1));
  cr_assert(eq(u64, cnt_value(set, DMP_COUNTER_USER, "shared"), 4000));
  cr_assert(eq(u64, cnt_value(set, DMP_COUNTER_USER, "t3-19"), 1));
  struct dmp_error_stat e[2];
  cr_assert(eq(int, dmp_counters_errors(set, e, 2), 1));
  cr_assert(eq(u64, e[0].count, 400));
  dmp_producer_close(p);
}
