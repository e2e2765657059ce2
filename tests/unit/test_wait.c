/* Wait strategies (wait.h) and producer liveness: every kind times out on
 * an empty ring and wakes for an event, across threads too; a consumer
 * learns that its producer closed instead of waiting forever.
 *
 * Cross-thread cases use generous bounds (UT_LONG_NS) and only assert on
 * what happened, never on how long it took. */
#include <pthread.h>
#include <time.h>

#include "unit.h"

TestSuite(wait_strategy, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(producer_liveness, .fini = ut_fini, .timeout = UT_TIMEOUT);

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
