/* Start positions (config.h: enum dmp_start): where a consumer new to the
 * ring starts, and that it never reads a slot the producer overwrote.
 * Every event carries its sequence, so an overwritten slot shows. */
#include "unit.h"

TestSuite(consumer_start, .fini = ut_fini, .timeout = UT_TIMEOUT);

static struct dmp_consumer *attach_with(const struct dmp_producer_config *pc, const char *id, enum dmp_start start)
{
  struct dmp_consumer_config cc = ut_ccfg(pc, id);
  cc.start = start;
  return ut_attach(&cc);
}

Test(consumer_start, latest_sees_only_events_published_after_attach)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "sta");
    struct dmp_producer *p = ut_create(&pc);
    ut_publish_n(p, 100);
    struct dmp_consumer *c = attach_with(&pc, "late", DMP_START_LATEST);
    const void *ev;
    int64_t seq;
    cr_assert(eq(int, dmp_consumer_try_peek(c, &ev, &seq), -EAGAIN), "%s: LATEST saw an old event",
              ut_backend_name(ut_backends[b]));
    cr_assert(eq(i64, dmp_consumer_wait(c, UT_SHORT_NS), -ETIMEDOUT));
    ut_publish_one(p);
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(c, &first), 1));
    cr_assert(eq(i64, first, 100));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(consumer_start, latest_on_a_fresh_ring_starts_at_zero)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "sta");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = attach_with(&pc, "c", DMP_START_LATEST);
  ut_publish_n(p, 3);
  int64_t first = -1;
  cr_assert(eq(i64, ut_drain(c, &first), 3));
  cr_assert(eq(i64, first, 0));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(consumer_start, oldest_starts_at_zero_while_nothing_was_overwritten)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "sta");
    struct dmp_producer *p = ut_create(&pc);
    ut_publish_n(p, 5);
    struct dmp_consumer *c = attach_with(&pc, "old", DMP_START_OLDEST);
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(c, &first), 5), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(eq(i64, first, 0));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(consumer_start, oldest_on_an_empty_ring_sees_the_first_event)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "sta");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = attach_with(&pc, "old", DMP_START_OLDEST);
  const void *ev;
  int64_t seq;
  cr_assert(eq(int, dmp_consumer_try_peek(c, &ev, &seq), -EAGAIN));
  ut_publish_one(p);
  cr_assert(eq(i64, ut_read_one(c), 0));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(consumer_start, oldest_after_wrap_reads_only_intact_events)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "sta");
    struct dmp_producer *p = ut_create(&pc);
    ut_publish_n(p, 100); /* capacity 16: slots hold 84..99 */
    struct dmp_consumer *c = attach_with(&pc, "old", DMP_START_OLDEST);
    /* from here on the consumer gates: the producer fills what is free */
    int extra = 0;
    void *slot;
    while (extra < 64 && dmp_producer_try_claim(p, &slot) == 0) {
      int64_t seq = 100 + extra++;
      memcpy(slot, &seq, sizeof seq);
      dmp_producer_publish(p);
    }
    cr_assert(lt(int, extra, 64), "%s: an OLDEST consumer does not gate", ut_backend_name(ut_backends[b]));
    int64_t first = -1;
    int64_t n = ut_drain(c, &first); /* checks content == seq and no gaps */
    cr_assert(lt(i64, 0, n));
    cr_assert(ge(i64, first, 100 - 16), "started at %lld, which was overwritten", (long long)first);
    cr_assert(le(i64, first, 100), "skipped events while some were intact");
    cr_assert(eq(i64, first + n - 1, 100 + extra - 1), "did not read up to the last published");
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(consumer_start, oldest_never_starts_inside_a_claimed_unpublished_lap)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "sta");
    struct dmp_producer *p = ut_create(&pc);
    ut_publish_n(p, 16);
    /* claim the whole next lap and write it, but do not publish yet:
     * every slot of 0..15 now holds 16..31 */
    int64_t first = -1;
    cr_assert(eq(int, dmp_producer_try_claim_batch(p, 16, &first), 0));
    for (int64_t s = first; s < first + 16; s++)
      memcpy(dmp_producer_slot(p, s), &s, sizeof s);
    struct dmp_consumer *c = attach_with(&pc, "old", DMP_START_OLDEST);
    const void *ev;
    int64_t seq = -1;
    int rc = dmp_consumer_try_peek(c, &ev, &seq);
    cr_assert(eq(int, rc, -EAGAIN), "%s: OLDEST handed out seq %lld from a slot being rewritten",
              ut_backend_name(ut_backends[b]), (long long)seq);
    cr_assert(eq(i64, dmp_producer_publish(p), 31));
    int64_t got_first = -1;
    cr_assert(eq(i64, ut_drain(c, &got_first), 16));
    cr_assert(eq(i64, got_first, 16));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* Publish until full (bounded); returns how many went in. */
static int publish_until_full(struct dmp_producer *p, int limit)
{
  int n = 0;
  void *slot;
  while (n < limit && dmp_producer_try_claim(p, &slot) == 0) {
    int64_t seq = dmp_producer_sequence(p) + 1;
    memcpy(slot, &seq, sizeof seq);
    dmp_producer_publish(p);
    n++;
  }
  return n;
}

Test(consumer_start, a_consumer_joining_mid_window_gates_exactly_one_ring_ahead)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    for (int k = 0; k < 2; k++) {
      enum dmp_start start = k ? DMP_START_OLDEST : DMP_START_LATEST;
      struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "sta");
      struct dmp_producer *p = ut_create(&pc);
      ut_publish_n(p, 10); /* inside the producer's first cached window */
      struct dmp_consumer *c = attach_with(&pc, "mid", start);
      int n = publish_until_full(p, 64);
      int64_t first = -1;
      int64_t got = ut_drain(c, &first);
      cr_assert(lt(i64, 0, got));
      if (start == DMP_START_LATEST)
        cr_assert(eq(i64, first, 10), "%s: LATEST after 10 events", ut_backend_name(ut_backends[b]));
      /* the ring is full exactly when the joiner lags by a whole ring */
      cr_assert(eq(int, n, (int)(first + 16 - 10)), "%s/%s: %d published after a join at %lld",
                ut_backend_name(ut_backends[b]), k ? "oldest" : "latest", n, (long long)first);
      cr_assert(eq(i64, first + got - 1, 10 + n - 1));
      dmp_consumer_close(c);
      dmp_producer_close(p);
    }
  }
}

Test(consumer_start, start_policy_does_not_apply_to_a_resumed_id)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "sta");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = attach_with(&pc, "r", DMP_START_LATEST);
  ut_publish_n(p, 4);
  cr_assert(eq(i64, ut_read_one(c), 0));
  dmp_consumer_release(c);
  dmp_consumer_close(c);
  ut_publish_n(p, 2);
  c = attach_with(&pc, "r", DMP_START_LATEST);
  cr_assert(eq(i64, ut_read_one(c), 1), "LATEST overrode the stored position");
  dmp_consumer_close(c);
  dmp_producer_close(p);
}
