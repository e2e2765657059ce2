/* The wake-up protocol (wait.h, "Wake-up protocol") across two processes:
 * a parked DMP_WAIT_BLOCK consumer is woken by a producer publishing exactly
 * one event per round, and a producer parked on a full ring is woken by a
 * consumer releasing exactly one slot per round - thousands of rounds, the
 * other side acting at varied moments around the park (at once, after a
 * short random spin, after a few yields, or once the waiter count shows the
 * waiter registered) to hit the window between the waiter's registration
 * and its futex sleep. On rings with and without membarrier(2), and a
 * multi-producer ring's parked producer.
 *
 * A lost wake-up would not heal quickly: waiters here re-check only every
 * 60 s (wait.liveness_ms), so a round that is not answered within the
 * generous bound (10 s, scaled) is a lost wake-up, not a slow machine. No
 * timing is asserted otherwise. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <sched.h>
#include <stdatomic.h> /* the test's own shared words (the library uses atomics.h) */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mp_harness.h"

#define WK_ROUNDS 1000
#define WK_BOUND_MS 10000     /* per round, scaled: a lost wake-up */
#define WK_PARK_CHECK_MS 60000 /* waiters' liveness period: no self-healing */

/* Shared by the test and its child (MAP_SHARED | MAP_ANONYMOUS). */
struct wk_shared {
  _Atomic int64_t round; /* the waiter's side: "I am about to wait in round r" */
  _Atomic int64_t ack;   /* the waker's side sees the round completed */
  _Atomic int failed;
  char why[256];
};

static pid_t wk_child = -1;
static struct wk_shared *wk_sh;

static void wk_fini(void)
{
  if (wk_child > 0) {
    kill(wk_child, SIGKILL);
    waitpid(wk_child, NULL, 0);
    wk_child = -1;
  }
  if (wk_sh) {
    munmap(wk_sh, sizeof *wk_sh);
    wk_sh = NULL;
  }
  mp_fini();
}

TestSuite(wakeups, .fini = wk_fini, .timeout = 240);

static struct wk_shared *wk_shared_new(void)
{
  struct wk_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(ne(ptr, sh, MAP_FAILED));
  atomic_store(&sh->round, -1);
  atomic_store(&sh->ack, -1);
  atomic_store(&sh->failed, 0);
  wk_sh = sh;
  return sh;
}

static void wk_fail(struct wk_shared *sh, int code, const char *fmt, long long a, long long b)
{
  snprintf(sh->why, sizeof sh->why, fmt, a, b);
  atomic_store(&sh->failed, 1);
  _exit(code);
}

/* Wait until `*word` >= `want`, at most `ms`; false on timeout. Polls
 * closely at first (the other side is about to act), then backs off so
 * that a slow round does not burn a shared core. */
static bool wk_await(_Atomic int64_t *word, int64_t want, int ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)ms * 1000000;
  for (uint64_t i = 0;; i++) {
    if (atomic_load(word) >= want)
      return true;
    if ((i & 63) == 0 && ts_now_ns() > deadline)
      return false;
    if (i < 512) {
      dmp_impl_cpu_relax();
    } else if (i < 1024) {
      sched_yield();
    } else {
      struct timespec ts = {0, 50000};
      nanosleep(&ts, NULL);
    }
  }
}

static uint64_t wk_rand(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Act at a varied moment relative to the other side's park. `waiters` is
 * the waiter count the other side increments before it sleeps. */
static void wk_delay(int64_t round, uint64_t *rng, dmp_atomic_u32 *waiters, int bound_ms)
{
  switch (round % 4) {
  case 0:
    break; /* at once: usually while the other side still spins */
  case 1: { /* a random spin of up to ~30 us: around the registration */
    int64_t until = ts_now_ns() + (int64_t)(wk_rand(rng) % 30000);
    while (ts_now_ns() < until)
      dmp_impl_cpu_relax();
    break;
  }
  case 2: { /* once it registered as a waiter, then a tiny random spin */
    int64_t deadline = ts_now_ns() + (int64_t)bound_ms * 1000000;
    while (dmp_impl_load_relaxed(waiters) == 0 && ts_now_ns() < deadline)
      dmp_impl_cpu_relax();
    for (uint64_t i = wk_rand(rng) % 64; i > 0; i--)
      dmp_impl_cpu_relax();
    break;
  }
  default: /* a few yields: around the end of its yield phase */
    for (uint64_t i = wk_rand(rng) % 40; i > 0; i--)
      sched_yield();
    break;
  }
}

static struct dmp_wait_strategy wk_block(void)
{
  struct dmp_wait_strategy w = {.kind = DMP_WAIT_BLOCK, .spins = 1, .liveness_ms = WK_PARK_CHECK_MS};
  return w;
}

static void wk_reap(struct wk_shared *sh, const char *who)
{
  int st = ts_wait(wk_child, ts_timeout_ms(WK_BOUND_MS));
  wk_child = -1;
  cr_assert(eq(int, st, 0), "%s exited %d: %s", who, st, atomic_load(&sh->failed) ? sh->why : "(no reason)");
}

/* ---- a parked consumer, a producer publishing one event per round -------- */

static int consumer_child(const struct mp_ring *r, struct wk_shared *sh)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r->backend;
  cc.name = r->name;
  cc.id = "parked";
  cc.wait = wk_block();
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach_timeout(&cc, (int64_t)ts_timeout_ms(WK_BOUND_MS) * 1000000, &c);
  if (rc != 0)
    wk_fail(sh, 3, "attach failed: %lld %lld", rc, 0);
  const int64_t bound_ns = (int64_t)ts_timeout_ms(3 * WK_BOUND_MS) * 1000000;
  for (int64_t round = 0; round < WK_ROUNDS; round++) {
    atomic_store(&sh->round, round);
    int64_t seq, v;
    rc = dmp_consumer_copy_timeout(c, &v, sizeof v, &seq, bound_ns);
    if (rc != 0)
      wk_fail(sh, 4, "round %lld: no event (%lld): lost wake-up", round, rc);
    if (seq != round || v != round)
      wk_fail(sh, 5, "round %lld: got event %lld", round, seq);
    atomic_store(&sh->ack, round);
  }
  dmp_consumer_close(c);
  return 0;
}

static void parked_consumer(enum dmp_backend backend, uint32_t ring_flags)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "wkc");
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.backend = backend;
  pc.name = r.name;
  pc.capacity = 16;
  pc.slot_size = 8;
  pc.flags = ring_flags;
  struct dmp_producer *p = NULL;
  cr_assert(eq(int, dmp_producer_create(&pc, &p), 0), "%s", dmp_last_error());
  struct wk_shared *sh = wk_shared_new();
  fflush(NULL);
  wk_child = fork();
  cr_assert(ge(int, wk_child, 0));
  if (wk_child == 0)
    _exit(consumer_child(&r, sh));
  const int bound = ts_timeout_ms(WK_BOUND_MS);
  cr_assert(ge(int, dmp_producer_wait_for_consumers(p, 1, (int64_t)bound * 1000000), 1), "%s", dmp_last_error());
  uint64_t rng = 0x9e3779b97f4a7c15u ^ (uint64_t)ring_flags;
  for (int64_t round = 0; round < WK_ROUNDS && !atomic_load(&sh->failed); round++) {
    cr_assert(wk_await(&sh->round, round, bound), "round %lld: the consumer never started waiting", (long long)round);
    wk_delay(round, &rng, &p->ring.ctl->data_waiters, bound);
    cr_assert(eq(i64, dmp_producer_try_publish(p, &round, sizeof round), round));
    cr_assert(wk_await(&sh->ack, round, bound),
              "round %lld: published, but the parked consumer did not get it within %d ms "
              "(data_waiters %u): lost wake-up",
              (long long)round, bound, dmp_impl_load_relaxed(&p->ring.ctl->data_waiters));
  }
  wk_reap(sh, "consumer");
  dmp_producer_close(p);
}

MP_TEST(wakeups, parked_consumer_is_woken_every_round)
{
  parked_consumer(backend, 0);
}

Test(wakeups, parked_consumer_is_woken_every_round_without_membarrier)
{
  parked_consumer(DMP_BACKEND_SHM, DMP_RING_NO_MEMBARRIER);
}

/* ---- a parked producer, a consumer releasing one slot per round ---------- */

static int releaser_child(const struct mp_ring *r, struct wk_shared *sh)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r->backend;
  cc.name = r->name;
  cc.id = "releaser";
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach_timeout(&cc, (int64_t)ts_timeout_ms(WK_BOUND_MS) * 1000000, &c);
  if (rc != 0)
    wk_fail(sh, 3, "attach failed: %lld %lld", rc, 0);
  const int bound = ts_timeout_ms(WK_BOUND_MS);
  uint64_t rng = 0x2545f4914f6cdd1du;
  for (int64_t round = 0; round < WK_ROUNDS; round++) {
    if (!wk_await(&sh->round, round, bound))
      wk_fail(sh, 4, "round %lld: the producer never started waiting (%lld)", round, 0);
    wk_delay(round, &rng, &c->ring.ctl->space_waiters, bound);
    int64_t seq, v;
    rc = dmp_consumer_try_copy(c, &v, sizeof v, &seq); /* copy + release: wakes the producer */
    if (rc != 0 || seq != round || v != round)
      wk_fail(sh, 5, "round %lld: read %lld", round, rc != 0 ? rc : seq);
  }
  dmp_consumer_close(c);
  return 0;
}

static void parked_producer(enum dmp_backend backend, uint32_t ring_flags)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "wkp");
  const uint64_t cap = 4;
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.backend = backend;
  pc.name = r.name;
  pc.capacity = cap;
  pc.slot_size = 8;
  pc.flags = ring_flags;
  pc.wait = wk_block();
  struct dmp_producer *p = NULL;
  cr_assert(eq(int, dmp_producer_create(&pc, &p), 0), "%s", dmp_last_error());
  struct wk_shared *sh = wk_shared_new();
  fflush(NULL);
  wk_child = fork();
  cr_assert(ge(int, wk_child, 0));
  if (wk_child == 0)
    _exit(releaser_child(&r, sh));
  const int bound = ts_timeout_ms(WK_BOUND_MS);
  cr_assert(ge(int, dmp_producer_wait_for_consumers(p, 1, (int64_t)bound * 1000000), 1), "%s", dmp_last_error());
  for (int64_t s = 0; s < (int64_t)cap; s++)
    cr_assert(eq(i64, dmp_producer_try_publish(p, &s, sizeof s), s));
  for (int64_t round = 0; round < WK_ROUNDS && !atomic_load(&sh->failed); round++) {
    atomic_store(&sh->round, round);
    void *slot;
    int rc = dmp_producer_claim_timeout(p, &slot, (int64_t)bound * 1000000);
    cr_assert(eq(int, rc, 0),
              "round %lld: the consumer released a slot, but the parked producer did not get it within %d ms "
              "(%s, space_waiters %u): lost wake-up",
              (long long)round, bound, dmp_err_name(rc), dmp_impl_load_relaxed(&p->ring.ctl->space_waiters));
    int64_t v = round + (int64_t)cap;
    memcpy(slot, &v, sizeof v);
    dmp_producer_publish(p);
  }
  wk_reap(sh, "releaser");
  /* It waited as its strategy says: it parked (a multi-producer claim
   * used to poll every 50 us instead, never parking). */
  uint64_t parks = 0;
  cr_assert(eq(int, dmp_counters_value(dmp_producer_counters(p), DMP_COUNTER_PRODUCER_PARKS, "producer", &parks), 0),
            "%s", dmp_last_error());
  cr_assert(gt(u64, parks, 0), "the producer never parked (flags 0x%x)", ring_flags);
  dmp_producer_close(p);
}

MP_TEST(wakeups, parked_producer_is_woken_every_round)
{
  parked_producer(backend, 0);
}

/* A multi-producer ring's claim parks on the slowest consumer like a
 * single-producer one (multi.c, dmp_impl_mp_claim_wait()). */
MP_TEST(wakeups, parked_multi_producer_is_woken_every_round)
{
  parked_producer(backend, DMP_RING_MULTI_PRODUCER);
}

Test(wakeups, parked_producer_is_woken_every_round_without_membarrier)
{
  parked_producer(DMP_BACKEND_SHM, DMP_RING_NO_MEMBARRIER);
}
