/*
 * Seeded fault-injection sweep. Each seed picks a fault class and, from a
 * splitmix64 stream, every parameter and injection point (backend, capacity,
 * batch size, pacing, number of consumers, which event to crash at, how
 * long to stop, ...), runs real processes (fault_role) and checks:
 *
 *  - every event a surviving consumer delivered is in order, unduplicated
 *    and byte-correct (the roles check each one; the driver checks the
 *    ranges: from the expected first sequence to the producer's last);
 *  - nobody waits for ever: every wait is bounded, children are killed at a
 *    deadline and that fails the seed;
 *  - nothing is left behind: no segment with the ring's name (or its
 *    companions) in /dev/shm, no ring file, once the scenario is over.
 *
 * Fault classes (seed % 7, so any 7 consecutive seeds cover them all):
 *   0 consumer crash      SIGKILL a consumer at a seeded event; the producer
 *                         (liveness, EVICT) evicts it and the others go on
 *   1 producer crash      SIGKILL the producer at a seeded event, or while it
 *                         holds a claimed, half-written slot or batch; every
 *                         consumer drains and gets OWNERDEAD
 *   2 crash during attach SIGKILL consumers a seeded number of microseconds
 *                         after they start (before, during or after attach),
 *                         then start that id for real
 *   3 stalled consumer    SIGSTOP / SIGCONT a consumer at seeded events; it
 *                         is slow, not dead: never evicted, loses nothing
 *   4 consumer restart    the same id crashes (SIGKILL from outside or itself)
 *                         or closes (durable) and restarts, resuming exactly
 *   5 producer restart    the producer dies or closes, a new one reclaims the
 *                         name; consumers re-attach and read the new stream
 *                         from its start, never a mix
 *   6 late joiner         consumers join a ring that has wrapped many times,
 *                         at seeded points, and never read a stale slot
 *
 * Running it:
 *   meson test -C build fault_sweep                 # the small sweep, seeds 1..14
 *   DMP_FAULT_SEEDS=200 meson test -C build fault_sweep
 *                                                   # seeds 1..200 (~2 min; -t 0
 *                                                   # lifts the 300 s bound for more)
 *   DMP_FAULT_SEED=123 meson test -C build fault_sweep -v
 *                                                   # replay one seed, plan printed
 *   DMP_FAULT_SEED_BASE=1000 shifts the first seed of a sweep;
 *   DMP_FAULT_VERBOSE=1 prints every seed's plan and time.
 * The executable also runs directly: DMP_FAULT_SEEDS=200 build/tests/fault/test_fault_sweep
 * A failing seed is printed with its plan ("seed 123: ..."); replaying it
 * repeats the same plan, injection points and parameters exactly (process
 * scheduling of course differs).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"

#define SMALL_SWEEP 14 /* each fault class twice */
#define MAX_CONS 4
#define CHILD_MS 20000 /* every child's own bound (--timeout-ms) */

enum fault_class {
  F_CONSUMER_CRASH,
  F_PRODUCER_CRASH,
  F_ATTACH_CRASH,
  F_STALLED,
  F_CONSUMER_RESTART,
  F_PRODUCER_RESTART,
  F_LATE_JOINER,
  F_CLASSES
};

static const char *const class_names[] = {"consumer-crash",  "producer-crash",   "crash-during-attach",
                                          "stalled-consumer", "consumer-restart", "producer-restart",
                                          "late-joiner"};

/* ---- deterministic randomness ------------------------------------------- */

struct rng {
  uint64_t s;
};

static uint64_t next_u64(struct rng *r)
{
  uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int64_t pick(struct rng *r, int64_t lo, int64_t hi)
{
  return lo + (int64_t)(next_u64(r) % (uint64_t)(hi - lo + 1));
}

static const char *pick_wait(struct rng *r)
{
  static const char *const waits[] = {"block", "block", "sleep", "yield"};
  return waits[pick(r, 0, 3)];
}

/* ---- the plan of one seed ------------------------------------------------ */

struct plan {
  uint64_t seed;
  enum fault_class kind;
  enum dmp_backend backend;
  int64_t capacity, count, batch, pace_us, at, variant, n_cons, stop_ms, repeats;
  const char *wait[MAX_CONS + 1];
  int64_t delays_us[8];
};

static struct plan make_plan(uint64_t seed)
{
  struct rng r = {ts_checksum((int64_t)seed)}; /* a mixed start: nearby seeds differ everywhere */
  struct plan p;
  memset(&p, 0, sizeof p);
  p.seed = seed;
  p.kind = (enum fault_class)(seed % F_CLASSES);
  p.backend = pick(&r, 0, 1) ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM;
  p.capacity = INT64_C(1) << pick(&r, 3, 7); /* 8 .. 128 */
  p.count = pick(&r, 300, 3000);
  p.batch = pick(&r, 0, 1) ? 1 : pick(&r, 2, 8);
  if (p.batch > p.capacity)
    p.batch = p.capacity;
  p.pace_us = pick(&r, 0, 3) == 0 ? 0 : pick(&r, 20, 200);
  p.at = pick(&r, 1, p.count / 2); /* the injection point (a sequence) */
  p.variant = pick(&r, 0, 2);
  p.n_cons = pick(&r, 1, 3);
  p.stop_ms = pick(&r, 20, 400);
  p.repeats = pick(&r, 1, 3);
  for (int i = 0; i <= MAX_CONS; i++)
    p.wait[i] = pick_wait(&r);
  for (int i = 0; i < 8; i++)
    p.delays_us[i] = pick(&r, 0, 3000);
  return p;
}

static void describe(const struct plan *p, char *buf, size_t len)
{
  snprintf(buf, len,
           "seed %" PRIu64 ": %s, %s, capacity %" PRId64 ", %" PRId64 " events, batch %" PRId64 ", pace %" PRId64
           " us, at %" PRId64 ", variant %" PRId64 ", %" PRId64 " bystander(s), stop %" PRId64 " ms, repeats %" PRId64,
           p->seed, class_names[p->kind], fr_backend_name(p->backend), p->capacity, p->count, p->batch, p->pace_us,
           p->at, p->variant, p->n_cons, p->stop_ms, p->repeats);
}

/* ---- failure reporting ---------------------------------------------------- */

static char failure[1024];

static bool failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool failed(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(failure, sizeof failure, fmt, ap);
  va_end(ap);
  return false;
}

#define CHECK(cond, ...)        \
  do {                          \
    if (!(cond))                \
      return failed(__VA_ARGS__); \
  } while (0)

/* ---- one run's processes -------------------------------------------------- */

struct proc {
  pid_t pid;
  struct fr_progress *pr;
  const char *id;
};

struct run {
  const struct plan *plan;
  struct fr_ring ring;
  struct proc prod;
  struct proc cons[MAX_CONS + 1]; /* [0] the one faults are injected into, then bystanders */
  char ids_all[64];
};

static const char *const cons_ids[] = {"cv", "b1", "b2", "b3"};

static int timeout_ms(void)
{
  return ts_timeout_ms(CHILD_MS);
}

static bool spawn_producer(struct run *r, struct proc *p, const char *const *extra)
{
  const struct plan *pl = r->plan;
  const char *path;
  p->pr = fr_progress_new("prod", &path);
  CHECK(p->pr, "no progress file");
  const char *args[48] = {"producer", "--backend", fr_backend_name(r->ring.backend), "--name", r->ring.name,
                          "--progress", path, "--timeout-ms", fr_num(timeout_ms()), "--capacity",
                          fr_num(pl->capacity), "--slot", fr_num(FR_SLOT), "--batch", fr_num(pl->batch), "--pace-us",
                          fr_num(pl->pace_us), "--create-retry-ms", "5000", NULL};
  int n = 0;
  while (args[n])
    n++;
  for (int i = 0; extra && extra[i] && n < 47; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  p->pid = fr_spawn(args);
  p->id = "producer";
  CHECK(p->pid > 0, "cannot spawn the producer");
  CHECK(fr_wait_phase(p->pr, FR_PH_READY, 10000), "the producer did not start: %s", p->pr->msg);
  CHECK(atomic_load(&p->pr->phase) != FR_PH_DONE || atomic_load(&p->pr->exit_code) == 0, "producer: %s",
        p->pr->msg);
  return true;
}

static bool spawn_consumer(struct run *r, struct proc *c, const char *id, const char *wait, const char *const *extra)
{
  const char *args[32] = {"--wait", wait};
  int n = 2;
  for (int i = 0; extra && extra[i] && n < 31; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  c->id = id;
  c->pid = fr_consumer(&r->ring, id, &c->pr, args);
  CHECK(c->pid > 0, "cannot spawn consumer %s", id);
  return true;
}

static bool wait_ready(struct proc *c)
{
  CHECK(fr_wait_phase(c->pr, FR_PH_READY, 10000), "%s did not attach", c->id);
  CHECK(atomic_load(&c->pr->phase) != FR_PH_DONE || atomic_load(&c->pr->exit_code) == 0, "%s: %s", c->id,
        c->pr->msg);
  return true;
}

/* Reap `p`, which must end with `want` (0, or 128 + signal). */
static bool reap(struct proc *p, int want)
{
  int rc = ts_wait(p->pid, timeout_ms() + 5000);
  p->pid = 0;
  CHECK(rc == want, "%s exited %d (%s), expected %d: %s", p->id, rc, fr_exit_name(rc), want, p->pr->msg);
  return true;
}

static bool kill_and_reap(struct proc *p, int sig)
{
  fr_signal(p->pid, sig);
  return reap(p, 128 + sig);
}

/* `c` delivered exactly [first, last]. */
static bool delivered(const struct proc *c, int64_t first, int64_t last)
{
  int64_t f = atomic_load(&c->pr->first), l = atomic_load(&c->pr->last), n = atomic_load(&c->pr->count);
  CHECK(f == first && l == last && n == last - first + 1, "%s delivered %" PRId64 "..%" PRId64 " (%" PRId64
        " events), expected %" PRId64 "..%" PRId64, c->id, f, l, n, first, last);
  return true;
}

/* Wait until `c` has delivered `seq` (bounded). */
static bool reach(const struct proc *c, int64_t seq)
{
  CHECK(fr_wait_last(c->pr, seq, 15000), "%s never reached seq %" PRId64 " (at %" PRId64 "): %s", c->id, seq,
        (int64_t)atomic_load(&c->pr->last), c->pr->msg);
  return true;
}

/* Bystander consumers b1..bn: read everything from 0 to `last`. */
static bool spawn_bystanders(struct run *r, const char *const *extra)
{
  for (int i = 1; i <= r->plan->n_cons; i++)
    if (!spawn_consumer(r, &r->cons[i], cons_ids[i], r->plan->wait[i], extra) || !wait_ready(&r->cons[i]))
      return false;
  return true;
}

static bool bystanders_delivered(struct run *r, int64_t last)
{
  for (int i = 1; i <= r->plan->n_cons; i++)
    if (!reap(&r->cons[i], 0) || !delivered(&r->cons[i], 0, last))
      return false;
  return true;
}

/* "cv,b1,b2": the ids of the victim and the bystanders. */
static const char *ids_csv(struct run *r, bool with_victim)
{
  r->ids_all[0] = '\0';
  size_t used = 0;
  for (int i = with_victim ? 0 : 1; i <= r->plan->n_cons; i++)
    used += (size_t)snprintf(r->ids_all + used, sizeof r->ids_all - used, "%s%s", used ? "," : "", cons_ids[i]);
  return r->ids_all;
}

/* The producer cursor of a ring whose producer died, read from the segment. */
static int64_t dead_ring_cursor(const struct fr_ring *ring)
{
  int fd = ring->backend == DMP_BACKEND_SHM ? shm_open(ring->name, O_RDONLY, 0) : open(ring->name, O_RDONLY);
  if (fd < 0)
    return -2;
  void *m = mmap(NULL, sizeof(struct dmp_segment_control), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED)
    return -2;
  int64_t cur = atomic_load(&((struct dmp_segment_control *)m)->producer_cursor);
  munmap(m, sizeof(struct dmp_segment_control));
  return cur;
}

/* "--hold" argument: never deliver `seq` (the file never appears), so a
 * victim cannot finish before the fault lands. */
static const char *hold_never(int64_t seq)
{
  static char buf[4][300];
  static unsigned k;
  char *b = buf[k++ % 4];
  snprintf(b, sizeof buf[0], "%" PRId64 ":%s", seq, ts_tmp_path("never"));
  return b;
}

/* ---- the fault classes ---------------------------------------------------- */

static bool consumer_crash(struct run *r)
{
  const struct plan *p = r->plan;
  int64_t last = p->count - 1;
  const char *first0[] = {"--first", "0", "--last-seq", fr_num(last), NULL};
  /* The producer must see them all before it publishes: --wait-ids. */
  if (!spawn_producer(r, &r->prod, (const char *const[]){"--count", fr_num(p->count), "--wait-ids",
                                                         ids_csv(r, true), "--managed", p->variant ? "b1" : "cv,b1",
                                                         "--action", "evict", NULL}))
    return false;
  if (!spawn_bystanders(r, first0) ||
      !spawn_consumer(r, &r->cons[0], "cv", p->wait[0],
                      (const char *const[]){"--first", "0", "--hold", hold_never(last), NULL}) ||
      !wait_ready(&r->cons[0]) || !reach(&r->cons[0], p->at) || !kill_and_reap(&r->cons[0], SIGKILL))
    return false;
  if (!bystanders_delivered(r, last) || !reap(&r->prod, 0))
    return false;
  CHECK(atomic_load(&r->prod.pr->evictions) >= 1, "the dead consumer was never evicted");
  CHECK(atomic_load(&r->cons[0].pr->last) <= last, "the victim read past the end");
  return true;
}

static bool producer_crash(struct run *r)
{
  const struct plan *p = r->plan;
  bool hang = p->variant != 0; /* die holding a claimed, half-written slot/batch */
  /* Unless it hangs, it never finishes: the kill always lands mid-stream. */
  const char *extra[] = {"--count", hang ? fr_num(p->count) : "1000000000000", "--wait-ids", ids_csv(r, false),
                         hang ? "--hang-seq" : NULL, fr_num(p->at), NULL};
  if (!spawn_producer(r, &r->prod, extra) || !spawn_bystanders(r, (const char *const[]){"--first", "0", NULL}))
    return false;
  if (hang)
    CHECK(fr_wait_phase(r->prod.pr, FR_PH_HOLDING, 15000), "the producer never reached its hang point");
  else
    CHECK(fr_wait_last(r->prod.pr, p->at, 15000), "the producer never published %" PRId64, p->at);
  if (!kill_and_reap(&r->prod, SIGKILL))
    return false;
  int64_t cursor = dead_ring_cursor(&r->ring);
  CHECK(cursor >= -1, "cannot read the dead ring's cursor");
  if (hang)
    CHECK(cursor < p->at, "the hung producer published %" PRId64 " (its claim held %" PRId64 ")", cursor, p->at);
  for (int i = 1; i <= p->n_cons; i++) {
    struct proc *c = &r->cons[i];
    if (!reap(c, 0))
      return false;
    CHECK(atomic_load(&c->pr->ownerdead_ns) > 0, "%s ended without OWNERDEAD", c->id);
    if (cursor >= 0 && !delivered(c, 0, cursor))
      return false;
  }
  int rc = dmp_segment_remove_stale(r->ring.backend, r->ring.name);
  CHECK(rc == 1, "remove_stale of the dead ring: %s (%s)", dmp_err_name(rc), dmp_last_error());
  return true;
}

static bool attach_crash(struct run *r)
{
  const struct plan *p = r->plan;
  int64_t last = p->count - 1;
  /* The last event waits for the real cv: a doomed attacher that joined at
   * the end (cursor = last) must not let the producer finish without it. */
  const char *gate = ts_tmp_path("gate");
  char gate_arg[300];
  snprintf(gate_arg, sizeof gate_arg, "%" PRId64 ":%s", last, gate);
  if (!spawn_producer(r, &r->prod, (const char *const[]){"--count", fr_num(p->count), "--wait-ids", ids_csv(r, false),
                                                         "--linger-ids", "cv", "--managed", "-", "--action", "evict",
                                                         "--gate", gate_arg, NULL}) ||
      !spawn_bystanders(r, (const char *const[]){"--first", "0", "--last-seq", fr_num(last), NULL}))
    return false;
  for (int k = 0; k < 2 * p->repeats; k++) {
    struct proc *c = &r->cons[0];
    if (!spawn_consumer(r, c, "cv", p->wait[0], (const char *const[]){"--hold", hold_never(last), NULL}))
      return false;
    struct timespec ts = {0, (long)p->delays_us[k % 8] * 1000};
    nanosleep(&ts, NULL);
    fr_signal(c->pid, SIGKILL);
    int rc = ts_wait(c->pid, timeout_ms());
    CHECK(rc == 128 + SIGKILL, "killed attacher exited %d (%s): %s", rc, fr_exit_name(rc), c->pr->msg);
  }
  /* Now for real: it attaches (taking over a dead entry of its id, or a
   * fresh one), and reads consecutively up to the end. */
  if (!spawn_consumer(r, &r->cons[0], "cv", p->wait[0],
                      (const char *const[]){"--start", "oldest", "--last-seq", fr_num(last), NULL}) ||
      !wait_ready(&r->cons[0]))
    return false;
  fr_touch(gate);
  if (!reap(&r->cons[0], 0))
    return false;
  int64_t f = atomic_load(&r->cons[0].pr->first);
  if (!delivered(&r->cons[0], f, last))
    return false;
  return bystanders_delivered(r, last) && reap(&r->prod, 0);
}

static bool stalled(struct run *r)
{
  const struct plan *p = r->plan;
  int64_t last = p->count - 1;
  if (!spawn_producer(r, &r->prod, (const char *const[]){"--count", fr_num(p->count), "--wait-ids", ids_csv(r, true),
                                                         "--managed", "cv", "--action", "evict", "--progress-ms", "50",
                                                         "--grace-ms", "30000", NULL}) ||
      !spawn_bystanders(r, (const char *const[]){"--first", "0", "--last-seq", fr_num(last), NULL}) ||
      !spawn_consumer(r, &r->cons[0], "cv", p->wait[0],
                      (const char *const[]){"--first", "0", "--last-seq", fr_num(last), NULL}) ||
      !wait_ready(&r->cons[0]))
    return false;
  int64_t step = (last - p->at) / (p->repeats + 1);
  for (int k = 0; k < p->repeats; k++) {
    int64_t at = p->at + k * step;
    if (!reach(&r->cons[0], at))
      return false;
    if (atomic_load(&r->cons[0].pr->phase) == FR_PH_DONE)
      break;
    fr_signal(r->cons[0].pid, SIGSTOP);
    fr_sleep_ms(p->stop_ms);
    fr_signal(r->cons[0].pid, SIGCONT);
  }
  if (!reap(&r->cons[0], 0) || !delivered(&r->cons[0], 0, last) || !bystanders_delivered(r, last) ||
      !reap(&r->prod, 0))
    return false;
  CHECK(atomic_load(&r->prod.pr->evictions) == 0, "a stopped consumer was evicted");
  return true;
}

static bool consumer_restart(struct run *r)
{
  const struct plan *p = r->plan;
  int64_t last = p->count - 1;
  if (!spawn_producer(r, &r->prod, (const char *const[]){"--count", fr_num(p->count), "--wait-ids", ids_csv(r, true),
                                                         NULL}) ||
      !spawn_bystanders(r, (const char *const[]){"--first", "0", "--last-seq", fr_num(last), NULL}))
    return false;
  int64_t expect_first = 0, prev_last = -1;
  bool exact = true;
  int64_t step = (last - p->at) / (p->repeats + 1); /* >= 1: at <= count / 2 */
  for (int k = 0; k <= p->repeats; k++) {
    bool final = k == p->repeats;
    int64_t at = p->at + k * step;
    struct proc *c = &r->cons[0];
    const char *how = final ? "--last-seq" : p->variant == 0 ? "--die-seq" : p->variant == 1 ? "--exit-seq" : NULL;
    const char *args[8] = {"--durable", "--last-seq", fr_num(last), how, fr_num(final ? last : at), NULL};
    if (!how) { /* killed from outside, somewhere after `at`, while it reads slowly */
      args[3] = "--hold";
      args[4] = hold_never(last);
      args[5] = "--slow-us";
      args[6] = "100";
    }
    if (!spawn_consumer(r, c, "cv", p->wait[0], args))
      return false;
    if (final || p->variant != 2) {
      if (!reap(c, final || p->variant == 1 ? 0 : 128 + SIGKILL))
        return false;
    } else if (!reach(c, at) || !kill_and_reap(c, SIGKILL)) {
      return false;
    }
    int64_t f = atomic_load(&c->pr->first), l = atomic_load(&c->pr->last);
    CHECK(f >= 0, "incarnation %d of cv delivered nothing", k);
    if (exact)
      CHECK(f == expect_first, "incarnation %d of cv started at %" PRId64 ", expected %" PRId64, k, f, expect_first);
    else
      CHECK(f == prev_last || f == prev_last + 1, "incarnation %d of cv started at %" PRId64 " after %" PRId64, k, f,
            prev_last);
    if (!delivered(c, f, l))
      return false;
    prev_last = l;
    expect_first = l + 1;
    exact = p->variant != 2; /* killed from outside: may redeliver its last one */
  }
  CHECK(prev_last == last, "cv ended at %" PRId64, prev_last);
  return bystanders_delivered(r, last) && reap(&r->prod, 0);
}

static bool producer_restart(struct run *r)
{
  const struct plan *p = r->plan;
  int64_t n1 = p->at + 1, n2 = p->count - p->at;
  const char *how = p->variant == 0 ? "--hang-seq" : NULL; /* else killed at a seeded event, or closes */
  uint64_t token2 = ts_checksum((int64_t)p->seed) | 1;
  char tok[32];
  snprintf(tok, sizeof tok, "%" PRIu64, token2);
  const char *count1 = p->variant == 0 ? fr_num(n1 + 100) : p->variant == 1 ? "1000000000000" : fr_num(n1);
  if (!spawn_producer(r, &r->prod, (const char *const[]){"--count", count1,
                                                         "--wait-ids", ids_csv(r, false), how, fr_num(n1), NULL}) ||
      !spawn_bystanders(r, (const char *const[]){"--first", "0", "--reattach", "1", "--token", tok, "--start", "oldest",
                                                 NULL}))
    return false;
  uint64_t epoch1 = atomic_load(&r->prod.pr->epoch), token1 = atomic_load(&r->prod.pr->token);
  if (p->variant == 0)
    CHECK(fr_wait_phase(r->prod.pr, FR_PH_HOLDING, 15000), "producer 1 never hung");
  else if (p->variant == 1)
    CHECK(fr_wait_last(r->prod.pr, p->at / 2, 15000), "producer 1 never published %" PRId64, p->at / 2);
  if (p->variant == 2) {
    if (!reap(&r->prod, 0)) /* published n1, waited for the consumers, closed */
      return false;
  } else if (!kill_and_reap(&r->prod, SIGKILL)) {
    return false;
  }
  struct proc prod2;
  if (!spawn_producer(r, &prod2, (const char *const[]){"--count", fr_num(n2), "--wait-ids", ids_csv(r, false),
                                                       "--token", tok, NULL}))
    return false;
  CHECK(atomic_load(&prod2.pr->epoch) != epoch1, "the restarted ring kept its epoch");
  if (!reap(&prod2, 0))
    return false;
  for (int i = 1; i <= p->n_cons; i++) {
    struct proc *c = &r->cons[i];
    if (!reap(c, 0))
      return false;
    int ns = atomic_load(&c->pr->n_streams);
    CHECK(ns == 2, "%s read %d streams", c->id, ns);
    const struct fr_stream *s = c->pr->stream;
    CHECK(s[0].token == token1 && s[0].epoch == epoch1 && s[0].first == 0, "%s: first stream %016" PRIx64
          " from %" PRId64, c->id, s[0].token, s[0].first);
    CHECK(s[0].count == s[0].last + 1, "%s: first stream has gaps", c->id);
    if (p->variant == 2)
      CHECK(s[0].last == n1 - 1, "%s: first stream ended at %" PRId64 " of %" PRId64, c->id, s[0].last, n1 - 1);
    CHECK(s[1].token == token2 && s[1].epoch == atomic_load(&prod2.pr->epoch), "%s: second stream is not the new one",
          c->id);
    CHECK(s[1].first == 0 && s[1].last == n2 - 1 && s[1].count == n2, "%s: second stream %" PRId64 "..%" PRId64,
          c->id, s[1].first, s[1].last);
  }
  return true;
}

static bool late_joiner(struct run *r)
{
  const struct plan *p = r->plan;
  int64_t last = (p->count * 2 > 3000 ? p->count * 2 : 3000) - 1; /* wraps many times */
  /* Nobody gates at first: the ring wraps freely and the joiners must never
   * read a slot from an earlier lap. Paced, so that they join mid-stream. */
  int64_t pace = 50;
  if (!spawn_producer(r, &r->prod, (const char *const[]){"--count", fr_num(last + 1), "--linger-ids",
                                                         ids_csv(r, false), "--batch", "1", "--pace-us", fr_num(pace),
                                                         NULL}))
    return false;
  int64_t step = (last - p->at) / (p->n_cons + 1);
  for (int i = 1; i <= p->n_cons; i++) {
    int64_t at = p->at + (i - 1) * step;
    CHECK(fr_wait_last(r->prod.pr, at, 15000), "the producer never published %" PRId64, at);
    const char *start = (p->variant + i) % 2 ? "oldest" : "latest";
    if (!spawn_consumer(r, &r->cons[i], cons_ids[i], p->wait[i],
                        (const char *const[]){"--start", start, "--last-seq", fr_num(last), NULL}))
      return false;
  }
  for (int i = 1; i <= p->n_cons; i++) {
    struct proc *c = &r->cons[i];
    if (!reap(c, 0))
      return false;
    int64_t f = atomic_load(&c->pr->first);
    CHECK(f >= 0, "%s delivered nothing", c->id);
    if (!delivered(c, f, last))
      return false;
  }
  return reap(&r->prod, 0);
}

static bool (*const scenarios[F_CLASSES])(struct run *) = {
  consumer_crash, producer_crash, attach_crash, stalled, consumer_restart, producer_restart, late_joiner,
};

/* ---- driver --------------------------------------------------------------- */

/* Entries for the ring (and its companions, "<name>.xyz") still present. */
static int leftovers(const struct fr_ring *ring)
{
  if (ring->backend == DMP_BACKEND_MMAP) {
    char cnt[600];
    snprintf(cnt, sizeof cnt, "%s.cnt", ring->name);
    return (access(ring->name, F_OK) == 0) + (access(cnt, F_OK) == 0);
  }
  char dot[64];
  snprintf(dot, sizeof dot, "%s.", ring->name);
  int exact = 0;
  struct stat st;
  char path[80];
  snprintf(path, sizeof path, "/dev/shm/%s", ring->name);
  exact = stat(path, &st) == 0;
  return exact + fr_shm_count(dot);
}

static bool run_seed(uint64_t seed, bool verbose)
{
  struct plan p = make_plan(seed);
  char desc[400];
  describe(&p, desc, sizeof desc);
  if (verbose)
    printf("%s\n", desc);
  fflush(stdout);
  struct run r;
  memset(&r, 0, sizeof r);
  r.plan = &p;
  r.ring = fr_ring_new(p.backend, "fz");
  failure[0] = '\0';
  int64_t t0 = ts_now_ns();
  bool ok = scenarios[p.kind](&r);
  ts_kill_children(); /* a failed seed may leave some; a passed one none */
  int left = leftovers(&r.ring);
  if (ok && left)
    ok = failed("%d segment(s) of '%s' left behind", left, r.ring.name);
  if (!ok)
    fprintf(stderr, "FAILED %s\n  -> %s\n  replay: DMP_FAULT_SEED=%" PRIu64 "\n", desc, failure, seed);
  else if (verbose)
    printf("  ok in %.0f ms\n", (double)(ts_now_ns() - t0) / 1e6);
  fflush(stdout);
  ts_cleanup();
  return ok;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
  const char *v = getenv(name);
  return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static void teardown(void)
{
  ts_kill_children();
  ts_cleanup();
}

TestSuite(fault_sweep, .fini = teardown, .timeout = 3600);

Test(fault_sweep, every_seed_keeps_the_oracle)
{
  const char *one = getenv("DMP_FAULT_SEED");
  uint64_t base = env_u64("DMP_FAULT_SEED_BASE", 1);
  uint64_t n = env_u64("DMP_FAULT_SEEDS", SMALL_SWEEP);
  char failing[512] = "";
  size_t used = 0;
  int bad = 0;
  int64_t t0 = ts_now_ns();
  if (one && *one) {
    base = strtoull(one, NULL, 0);
    n = 1;
  }
  for (uint64_t s = base; s < base + n; s++) {
    if (!run_seed(s, n == 1 || getenv("DMP_FAULT_VERBOSE"))) {
      bad++;
      if (used < sizeof failing - 24)
        used += (size_t)snprintf(failing + used, sizeof failing - used, " %" PRIu64, s);
    }
  }
  printf("fault: sweep of %" PRIu64 " seed(s) from %" PRIu64 ": %d failed, %.1f s\n", n, base, bad,
         (double)(ts_now_ns() - t0) / 1e9);
  fflush(stdout);
  cr_assert_eq(bad, 0, "%d seed(s) failed:%s (replay one with DMP_FAULT_SEED=N)", bad, failing);
}
