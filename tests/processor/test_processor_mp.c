/* Event processor against a producer in another process (fork/exec of
 * proc_producer): a million events each seen once and intact, end_of_batch
 * true exactly on the last event before each release, a stop by the
 * callback and a restart on the same id that loses nothing, a stop while
 * the processor is blocked, and a producer killed under a processor that
 * then reports -DMP_E_OWNERDEAD through its handle. */
#include "proc.h"

#include <signal.h>
#include <stdatomic.h>

#define MILLION INT64_C(1000000)

/* What the callback checks, on the processor's thread. */
struct chk {
  struct dmp_processor *_Atomic proc; /* set by the test once start returned */
  int64_t expect;      /* next sequence due */
  int64_t batch_first; /* first sequence of the batch in progress */
  int64_t stop_after;  /* return nonzero after this sequence (-1: never) */
  uint64_t batches, release_checks, bad;
  bool last_eob;
  char why[256];
  _Atomic int64_t seen; /* events seen, for the test thread */
};

static void bad(struct chk *k, const char *what, int64_t seq, int64_t got)
{
  if (k->bad++ == 0)
    snprintf(k->why, sizeof k->why, "%s at seq %lld (got %lld)", what, (long long)seq, (long long)got);
}

static int on_event(const void *event, int64_t seq, bool end_of_batch, void *user)
{
  struct chk *k = user;
  struct pev e;
  memcpy(&e, event, sizeof e);
  if (seq != k->expect)
    bad(k, "sequence out of order", k->expect, seq);
  if (e.seq != seq || e.sum != ts_checksum(seq))
    bad(k, "payload", seq, e.seq);
  /* Batched release: everything before this batch is released, nothing of
   * it is. The handle is known once dmp_processor_start() returned. */
  struct dmp_processor *p = atomic_load(&k->proc);
  /* The first events may come before dmp_processor_start() returned the
   * handle to the test thread: wait for it (bounded), so every event is checked. */
  for (int64_t dl = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * MS; !p && ts_now_ns() < dl;) {
    sched_yield();
    p = atomic_load(&k->proc);
  }
  if (p) {
    int64_t released = dmp_processor_sequence(p);
    if (released != k->batch_first - 1)
      bad(k, "released sequence is not the one before the batch", seq, released);
    k->release_checks++;
  }
  k->expect = seq + 1;
  k->last_eob = end_of_batch;
  if (end_of_batch) {
    k->batches++;
    k->batch_first = seq + 1;
  }
  atomic_store(&k->seen, k->expect);
  return k->stop_after >= 0 && seq == k->stop_after;
}

static pid_t spawn_producer(const char *name, int64_t count, uint64_t capacity, int64_t hold_ms)
{
  char c[32], cap[32], h[32];
  snprintf(c, sizeof c, "%lld", (long long)count);
  snprintf(cap, sizeof cap, "%llu", (unsigned long long)capacity);
  snprintf(h, sizeof h, "%lld", (long long)hold_ms);
  char *argv[] = {(char *)ts_helper("PROC_PRODUCER"), (char *)name, c, cap, h, NULL};
  pid_t pid = ts_spawn(argv);
  cr_assert(pid > 0, "spawn proc_producer");
  return pid;
}

static struct dmp_processor *start(const char *name, struct chk *k)
{
  struct dmp_processor_config pc;
  dmp_processor_config_init(&pc);
  pc.consumer.name = name;
  pc.consumer.id = "proc";
  pc.consumer.flags = DMP_CONSUMER_DURABLE; /* keeps gating while stopped: the restart loses nothing */
  pc.fn = on_event;
  pc.user = k;
  pc.attach_timeout_ns = (int64_t)ts_timeout_ms(10000) * MS;
  atomic_store(&k->proc, NULL);
  k->batch_first = k->expect;
  struct dmp_processor *p = NULL;
  int rc = dmp_processor_start(&pc, &p);
  cr_assert(rc == 0, "dmp_processor_start: %s (%s)", dmp_strerror(rc), dmp_last_error());
  atomic_store(&k->proc, p);
  return p;
}

TestSuite(processor_mp, .fini = proc_fini, .timeout = 240);

Test(processor_mp, million_events_once_exact_batches_restart_resumes_stop_while_blocked)
{
  const char *name = ts_shm_name("pmm");
  pid_t prod = spawn_producer(name, MILLION, 4096, ts_timeout_ms(120000));
  struct chk k = {.stop_after = MILLION / 2 - 1};
  atomic_init(&k.seen, 0);

  /* First run: the callback stops it half way. */
  struct dmp_processor *p = start(name, &k);
  int rc = dmp_processor_join(p, (int64_t)ts_timeout_ms(60000) * MS);
  cr_assert(rc == 0, "first run: join %s (%s)", dmp_strerror(rc), dmp_processor_error_detail(p));
  cr_assert(eq(int, dmp_processor_state(p), DMP_PROCESSOR_RETURNED));
  cr_assert(eq(i64, dmp_processor_sequence(p), MILLION / 2 - 1), "the stopping event is released with its batch");
  cr_assert(eq(i64, k.expect, MILLION / 2));
  dmp_processor_close(p);

  /* Restart on the same id: resumes at the next event, nothing lost. */
  k.stop_after = -1;
  p = start(name, &k);
  PROC_WAIT_UNTIL(atomic_load(&k.seen) >= MILLION || !dmp_processor_is_running(p), 60000);
  cr_assert(eq(i64, atomic_load(&k.seen), MILLION), "events seen: %s", k.why);
  cr_assert(dmp_processor_is_running(p), "%s", dmp_processor_error_detail(p));

  /* Now blocked (the producer is alive and idle): stop, join. */
  struct timespec settle = {0, 30000000};
  nanosleep(&settle, NULL);
  cr_assert(eq(int, dmp_processor_join(p, 10 * MS), -ETIMEDOUT), "join without stop times out");
  int64_t t0 = ts_now_ns();
  dmp_processor_stop(p);
  rc = dmp_processor_join(p, (int64_t)ts_timeout_ms(10000) * MS);
  int64_t stop_ns = ts_now_ns() - t0;
  cr_assert(rc == 0, "join after stop: %s (%s)", dmp_strerror(rc), dmp_processor_error_detail(p));
  cr_assert(eq(int, dmp_processor_state(p), DMP_PROCESSOR_STOPPED));
  cr_assert(is(!dmp_processor_is_running(p)));
  cr_assert(eq(i64, dmp_processor_sequence(p), MILLION - 1));
  dmp_processor_close(p);

  cr_assert(eq(u64, k.bad, 0), "%llu bad: %s", (unsigned long long)k.bad, k.why);
  cr_assert(is(k.last_eob), "the last event of the stream ends its batch");
  cr_assert(eq(u64, k.release_checks, (uint64_t)MILLION), "release checked on every event");
  cr_assert(is(k.batches > 1));
  fprintf(stderr, "processor_mp: 1M events in %llu batches (mean %.1f); stop while blocked took %.2f ms\n",
          (unsigned long long)k.batches, (double)MILLION / (double)k.batches, (double)stop_ns / 1e6);
  kill(prod, SIGTERM);
  cr_assert(eq(int, ts_wait(prod, ts_timeout_ms(20000)), 0));
}

Test(processor_mp, producer_killed_reports_ownerdead_through_handle)
{
  const char *name = ts_shm_name("pmk");
  pid_t prod = spawn_producer(name, 1000, 256, ts_timeout_ms(60000));
  struct chk k = {.stop_after = -1};
  atomic_init(&k.seen, 0);
  struct dmp_processor *p = start(name, &k);
  PROC_WAIT_UNTIL(atomic_load(&k.seen) >= 1000, 20000);
  cr_assert(eq(i64, atomic_load(&k.seen), 1000));
  kill(prod, SIGKILL);
  int64_t t0 = ts_now_ns();
  cr_assert(eq(int, ts_wait(prod, ts_timeout_ms(20000)), 128 + SIGKILL));
  /* Generous bound: the liveness period is 50 ms. */
  int rc = dmp_processor_join(p, (int64_t)ts_timeout_ms(20000) * MS);
  int64_t took = ts_now_ns() - t0;
  cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "join: %d %s", rc, dmp_err_name(rc));
  cr_assert(eq(int, dmp_processor_state(p), DMP_PROCESSOR_FAILED));
  cr_assert(eq(int, dmp_processor_error(p), -DMP_E_OWNERDEAD));
  cr_assert(strlen(dmp_processor_error_detail(p)) > 0, "the thread's detail reaches the owner");
  cr_assert(is(!dmp_processor_is_running(p)));
  cr_assert(eq(u64, k.bad, 0), "%s", k.why);
  fprintf(stderr, "processor_mp: OWNERDEAD reported %.1f ms after the kill: %s\n", (double)took / 1e6,
          dmp_processor_error_detail(p));
  dmp_processor_close(p);
}
