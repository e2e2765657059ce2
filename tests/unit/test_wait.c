/* Wait strategies (wait.h) and producer liveness: every kind times out on
 * an empty ring and wakes for an event, across threads too; a consumer
 * learns that its producer closed instead of waiting forever. The wake-up
 * protocol's mode per ring and per process (membarrier or fence; the
 * round-by-round lost-wake-up tests are in tests/mp/test_mp_wakeups.c).
 *
 * Cross-thread cases use generous bounds (UT_LONG_NS) and only assert on
 * what happened, never on how long it took. */
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "unit.h"

TestSuite(wait_strategy, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(producer_liveness, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(wake_protocol, .fini = ut_fini, .timeout = UT_TIMEOUT);

static const enum dmp_wait_kind kinds[] = {DMP_WAIT_SPIN, DMP_WAIT_YIELD, DMP_WAIT_SLEEP, DMP_WAIT_BLOCK};
static const char *const kind_names[] = {"spin", "yield", "sleep", "block"};
#define NKINDS 4

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static struct dmp_consumer *attach_kind(const struct dmp_producer_config *pc, const char *id, enum dmp_wait_kind k)
{
  struct dmp_consumer_config cc = ut_ccfg(pc, id);
  cc.wait.kind = k;
  cc.wait.spins = 16;
  cc.wait.sleep_ns = 100000;
  return ut_attach(&cc);
}

Test(wait_strategy, every_kind_times_out_on_an_empty_ring_and_sees_a_published_event)
{
  for (int b = 0; b < UT_NBACKENDS; b++)
    for (int k = 0; k < NKINDS; k++) {
      struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "wai");
      struct dmp_producer *p = ut_create(&pc);
      struct dmp_consumer *c = attach_kind(&pc, "c", kinds[k]);
      cr_assert(eq(i64, dmp_consumer_wait(c, UT_SHORT_NS), -ETIMEDOUT), "%s/%s", ut_backend_name(ut_backends[b]),
                kind_names[k]);
      ut_publish_one(p);
      cr_assert(eq(i64, dmp_consumer_wait(c, UT_SHORT_NS), 1), "%s/%s", ut_backend_name(ut_backends[b]), kind_names[k]);
      cr_assert(eq(i64, ut_read_one(c), 0));
      dmp_consumer_close(c);
      dmp_producer_close(p);
    }
}

Test(wait_strategy, every_producer_kind_times_out_while_full)
{
  for (int k = 0; k < NKINDS; k++) {
    struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "wai");
    pc.capacity = 2;
    pc.wait.kind = kinds[k];
    pc.wait.spins = 16;
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "slow");
    struct dmp_consumer *c = ut_attach(&cc);
    ut_publish_n(p, 2);
    void *slot;
    cr_assert(eq(int, dmp_producer_claim_timeout(p, &slot, UT_SHORT_NS), -ETIMEDOUT), "%s", kind_names[k]);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(wait_strategy, block_on_a_ring_without_wakeups_still_works)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "wai");
  pc.flags = DMP_RING_NO_WAKEUPS;
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = attach_kind(&pc, "c", DMP_WAIT_BLOCK);
  cr_assert(eq(i64, dmp_consumer_wait(c, UT_SHORT_NS), -ETIMEDOUT));
  ut_publish_one(p);
  cr_assert(eq(i64, dmp_consumer_wait(c, UT_SHORT_NS), 1));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

struct publisher {
  struct dmp_producer *p;
  int delay_ms;
  int count;
};

static void *publish_later(void *arg)
{
  struct publisher *pub = arg;
  sleep_ms(pub->delay_ms);
  for (int64_t i = 0; i < pub->count; i++)
    dmp_producer_try_publish(pub->p, &i, sizeof i);
  return NULL;
}

static void check_wakes_a_waiting_consumer(uint32_t ring_flags)
{
  for (int k = 0; k < NKINDS; k++) {
    struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "wai");
    pc.flags = ring_flags;
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = attach_kind(&pc, "c", kinds[k]);
    struct publisher pub = {p, 20, 1};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, publish_later, &pub), 0));
    const void *ev;
    int64_t seq = -1;
    int rc = dmp_consumer_peek_timeout(c, &ev, &seq, UT_LONG_NS);
    pthread_join(t, NULL);
    cr_assert(eq(int, rc, 0), "%s (flags %#x): the waiting consumer missed the event: %s", kind_names[k], ring_flags,
              dmp_err_name(rc));
    cr_assert(eq(i64, seq, 0));
    cr_assert(eq(i64, ut_event_seq(ev), 0));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(wait_strategy, an_event_published_by_another_thread_wakes_every_kind)
{
  check_wakes_a_waiting_consumer(0);
}

Test(wait_strategy, an_event_wakes_every_kind_without_wakeups)
{
  check_wakes_a_waiting_consumer(DMP_RING_NO_WAKEUPS);
}

struct releaser {
  struct dmp_consumer *c;
  int delay_ms;
};

static void *release_later(void *arg)
{
  struct releaser *r = arg;
  sleep_ms(r->delay_ms);
  const void *ev;
  int64_t seq;
  dmp_consumer_try_peek(r->c, &ev, &seq);
  dmp_consumer_release(r->c);
  return NULL;
}

Test(wait_strategy, a_release_by_another_thread_unblocks_every_producer_kind)
{
  for (int k = 0; k < NKINDS; k++) {
    struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "wai");
    pc.capacity = 2;
    pc.wait.kind = kinds[k];
    pc.wait.spins = 16;
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "slow");
    struct dmp_consumer *c = ut_attach(&cc);
    ut_publish_n(p, 2);
    struct releaser r = {c, 20};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, release_later, &r), 0));
    void *slot;
    int rc = dmp_producer_claim_timeout(p, &slot, UT_LONG_NS);
    pthread_join(t, NULL);
    cr_assert(eq(int, rc, 0), "%s: the parked producer missed the release: %s", kind_names[k], dmp_err_name(rc));
    cr_assert(eq(ptr, slot, dmp_producer_slot(p, 2)));
    cr_assert(eq(i64, dmp_producer_publish(p), 2));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(wait_strategy, an_event_wakes_every_kind_without_membarrier)
{
  check_wakes_a_waiting_consumer(DMP_RING_NO_MEMBARRIER);
}

/* ---- the wake-up protocol's mode (wait.h, "Wake-up protocol") ------------ */

/* What the kernel offers this process, asked the way the library asks. */
static bool kernel_has_membarrier(void)
{
  long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0u, 0);
  long need = MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;
  return q >= 0 && (q & need) == need;
}

Test(wake_protocol, rings_use_membarrier_where_the_kernel_has_it)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "wak");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  struct dmp_consumer *c = ut_attach(&cc);
  struct dmp_segment_header h = ut_header_read(DMP_BACKEND_SHM, pc.name);
  if (kernel_has_membarrier()) {
    cr_assert(eq(u32, h.flags, DMP_SEG_F_WAKEUPS | DMP_SEG_F_MEMBARRIER));
    cr_assert(eq(u32, p->ring.wakeups, DMP_IMPL_WAKE_BARRIER), "publish should need no fence");
    cr_assert(eq(u32, c->ring.wakeups, DMP_IMPL_WAKE_BARRIER), "release should need no fence");
  } else {
    cr_log_warn("membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) unavailable: checking the fenced protocol only");
    cr_assert(eq(u32, h.flags, DMP_SEG_F_WAKEUPS));
    cr_assert(eq(u32, p->ring.wakeups, DMP_IMPL_WAKE_FENCE));
    cr_assert(eq(u32, c->ring.wakeups, DMP_IMPL_WAKE_FENCE));
  }
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(wake_protocol, ring_flags_choose_the_fenced_protocol_or_none)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "wak");
  pc.flags = DMP_RING_NO_MEMBARRIER;
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  struct dmp_consumer *c = ut_attach(&cc);
  cr_assert(eq(u32, ut_header_read(DMP_BACKEND_SHM, pc.name).flags, DMP_SEG_F_WAKEUPS));
  cr_assert(eq(u32, p->ring.wakeups, DMP_IMPL_WAKE_FENCE));
  cr_assert(eq(u32, c->ring.wakeups, DMP_IMPL_WAKE_FENCE));
  dmp_consumer_close(c);
  dmp_producer_close(p);

  pc = ut_pcfg(DMP_BACKEND_SHM, "wak");
  pc.flags = DMP_RING_NO_WAKEUPS | DMP_RING_NO_MEMBARRIER;
  p = ut_create(&pc);
  cc = ut_ccfg(&pc, "c");
  c = ut_attach(&cc);
  cr_assert(eq(u32, ut_header_read(DMP_BACKEND_SHM, pc.name).flags, 0));
  cr_assert(eq(u32, p->ring.wakeups, DMP_IMPL_WAKE_NONE));
  cr_assert(eq(u32, c->ring.wakeups, DMP_IMPL_WAKE_NONE));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* A process that cannot use membarrier (here: DMP_MEMBARRIER=0, as if a
 * seccomp filter refused it) joins a membarrier ring made by one that can:
 * it keeps the full fence on its own publish/release path and still gets
 * every event while it waits (parking in short slices). */
static pid_t wak_child = -1;

static void wak_fini(void)
{
  if (wak_child > 0) {
    kill(wak_child, SIGKILL);
    waitpid(wak_child, NULL, 0);
    wak_child = -1;
  }
  ut_fini();
}

TestSuite(wake_protocol_mixed, .fini = wak_fini, .timeout = UT_TIMEOUT);

Test(wake_protocol_mixed, a_process_without_membarrier_fences_and_still_wakes)
{
  if (!kernel_has_membarrier())
    cr_skip_test("membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) unavailable");
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "wak");
  /* The producer is a child forked before this process touched the
   * library, so it probes membarrier itself (and may use it). */
  fflush(NULL);
  wak_child = fork();
  cr_assert(ge(int, wak_child, 0));
  if (wak_child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pc.wait_consumers = 1;
    pc.wait_timeout_ns = UT_LONG_NS;
    struct dmp_producer *p = NULL;
    if (dmp_producer_create(&pc, &p) != 0)
      _exit(1);
    if (p->ring.wakeups != DMP_IMPL_WAKE_BARRIER)
      _exit(2);
    for (int64_t i = 0; i < 20; i++) {
      sleep_ms(5); /* the consumer parks in between */
      if (dmp_producer_try_publish(p, &i, sizeof i) != i)
        _exit(3);
    }
    sleep_ms(100);
    dmp_producer_close(p);
    _exit(0);
  }
  cr_assert(eq(int, setenv("DMP_MEMBARRIER", "0", 1), 0));
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  cc.wait.kind = DMP_WAIT_BLOCK;
  cc.wait.spins = 1;
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach_timeout(&cc, UT_LONG_NS, &c);
  cr_assert(eq(int, rc, 0), "%s", dmp_last_error());
  cr_assert(eq(u32, ut_header_read(DMP_BACKEND_SHM, pc.name).flags, DMP_SEG_F_WAKEUPS | DMP_SEG_F_MEMBARRIER));
  cr_assert(eq(u32, c->ring.wakeups, DMP_IMPL_WAKE_FENCE), "without membarrier the fast side must fence");
  for (int64_t i = 0; i < 20; i++) {
    int64_t v, seq;
    rc = dmp_consumer_copy_timeout(c, &v, sizeof v, &seq, UT_LONG_NS);
    cr_assert(eq(int, rc, 0), "event %lld: %s", (long long)i, dmp_err_name(rc));
    cr_assert(eq(i64, seq, i));
    cr_assert(eq(i64, v, i));
  }
  int st = ts_wait(wak_child, ts_timeout_ms(5000));
  wak_child = -1;
  cr_assert(eq(int, st, 0), "producer child exited %d", st);
  dmp_consumer_close(c);
}

Test(wake_protocol, liveness_period_is_validated)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "wak");
  pc.wait.liveness_ms = DMP_WAIT_LIVENESS_MAX_MS + 1;
  struct dmp_producer *p = (struct dmp_producer *)1;
  cr_assert(eq(int, dmp_producer_create(&pc, &p), -DMP_E_BADCONFIG));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "liveness_ms"), NULL), "%s", dmp_last_error());
  pc.wait.liveness_ms = DMP_WAIT_LIVENESS_MAX_MS;
  p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  cc.wait.liveness_ms = UINT32_MAX;
  struct dmp_consumer *c = (struct dmp_consumer *)1;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), -DMP_E_BADCONFIG));
  cr_assert(eq(ptr, c, NULL));
  /* A short period still times out and still sees events. */
  cc.wait.liveness_ms = 1;
  cc.wait.spins = 1;
  c = ut_attach(&cc);
  cr_assert(eq(i64, dmp_consumer_wait(c, UT_SHORT_NS), -ETIMEDOUT));
  ut_publish_one(p);
  cr_assert(eq(i64, dmp_consumer_wait(c, UT_LONG_NS), 1));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* ---- producer liveness -------------------------------------------------- */

Test(producer_liveness, alive_until_the_producer_closes)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "liv");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    cr_assert(dmp_consumer_producer_alive(c), "%s: live producer reported dead", ut_backend_name(ut_backends[b]));
    dmp_producer_close(p);
    cr_assert(not(dmp_consumer_producer_alive(c)), "%s: closed producer reported alive", ut_backend_name(ut_backends[b]));
    dmp_consumer_close(c);
  }
}

Test(producer_liveness, events_left_are_read_before_ownerdead)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "liv");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    ut_publish_n(p, 3);
    dmp_producer_close(p);
    cr_assert(eq(i64, dmp_consumer_wait(c, UT_LONG_NS), 3), "%s: events left must be readable",
              ut_backend_name(ut_backends[b]));
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(c, &first), 3), "the unlinked segment's events were lost");
    cr_assert(eq(i64, first, 0));
    cr_assert(eq(i64, dmp_consumer_wait(c, UT_LONG_NS), -DMP_E_OWNERDEAD), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(eq(i64, dmp_consumer_wait(c, DMP_FOREVER), -DMP_E_OWNERDEAD), "FOREVER must end for a dead producer");
    const void *ev;
    int64_t seq;
    cr_assert(eq(int, dmp_consumer_peek_timeout(c, &ev, &seq, UT_LONG_NS), -DMP_E_OWNERDEAD));
    int64_t v;
    cr_assert(eq(int, dmp_consumer_copy_timeout(c, &v, sizeof v, &seq, UT_LONG_NS), -DMP_E_OWNERDEAD));
    dmp_consumer_close(c);
  }
}

struct closer {
  struct dmp_producer *p;
  int delay_ms;
};

static void *close_later(void *arg)
{
  struct closer *cl = arg;
  sleep_ms(cl->delay_ms);
  dmp_producer_close(cl->p);
  return NULL;
}

Test(producer_liveness, a_waiting_consumer_of_every_kind_learns_the_producer_closed)
{
  for (int b = 0; b < UT_NBACKENDS; b++)
    for (int k = 0; k < NKINDS; k++) {
      struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "liv");
      struct dmp_producer *p = ut_create(&pc);
      struct dmp_consumer *c = attach_kind(&pc, "c", kinds[k]);
      struct closer cl = {p, 20};
      pthread_t t;
      cr_assert(eq(int, pthread_create(&t, NULL, close_later, &cl), 0));
      int64_t rc = dmp_consumer_wait(c, UT_LONG_NS);
      pthread_join(t, NULL);
      cr_assert(eq(i64, rc, -DMP_E_OWNERDEAD), "%s/%s: got %s", ut_backend_name(ut_backends[b]), kind_names[k],
                dmp_err_name((int)rc));
      dmp_consumer_close(c);
    }
}

Test(producer_liveness, a_kept_ring_reports_ownerdead_to_its_consumers)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_MMAP, "liv");
  pc.flags = DMP_RING_KEEP;
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  struct dmp_consumer *c = ut_attach(&cc);
  dmp_producer_close(p);
  cr_assert(eq(i64, dmp_consumer_wait(c, UT_LONG_NS), -DMP_E_OWNERDEAD));
  dmp_consumer_close(c);
}
