/* Resume (consumer.h): an id keeps its position across close/attach;
 * DMP_CONSUMER_DURABLE keeps gating while detached so nothing is lost;
 * without it a re-attach after an overrun reports what it missed. One id
 * at a time; close_forget frees the entry; the table can fill up. */
#include "unit.h"

TestSuite(consumer_resume, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(consumer_table, .fini = ut_fini, .timeout = UT_TIMEOUT);

static struct dmp_consumer *attach_id(const struct dmp_producer_config *pc, const char *id, uint32_t flags,
                                      enum dmp_start start)
{
  struct dmp_consumer_config cc = ut_ccfg(pc, id);
  cc.flags = flags;
  cc.start = start;
  return ut_attach(&cc);
}

static int attach_code(const struct dmp_producer_config *pc, const char *id)
{
  struct dmp_consumer_config cc = ut_ccfg(pc, id);
  struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
  int rc = dmp_consumer_attach(&cc, &c);
  if (rc == 0)
    dmp_consumer_close(c);
  else
    cr_assert(eq(ptr, (void *)c, NULL));
  return rc;
}

Test(consumer_resume, reattach_resumes_after_the_last_release)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "res");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = attach_id(&pc, "a", 0, DMP_START_LATEST);
    ut_publish_n(p, 5);
    cr_assert(eq(i64, ut_drain(c, NULL), 5));
    dmp_consumer_close(c);
    ut_publish_n(p, 5);
    c = attach_id(&pc, "a", 0, DMP_START_LATEST);
    cr_assert(eq(u64, dmp_consumer_missed(c), 0));
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(c, &first), 5), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(eq(i64, first, 5));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(consumer_resume, close_releases_what_was_peeked)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "res");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = attach_id(&pc, "a", 0, DMP_START_LATEST);
  ut_publish_n(p, 5);
  for (int i = 0; i < 3; i++)
    ut_read_one(c); /* peeked, not released */
  dmp_consumer_close(c);
  c = attach_id(&pc, "a", 0, DMP_START_LATEST);
  cr_assert(eq(i64, ut_read_one(c), 3), "close did not release the peeked events");
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* dmp_consumer_release_to(): a reader reading ahead of what it gives back
 * (the bridge's egress) releases one prefix at a time; the rest stays
 * leased and gating, and unpeek + close resumes at the first unreleased. */
Test(consumer_resume, release_to_keeps_the_read_ahead_gated_and_unpeek_resumes_there)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "rel");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = attach_id(&pc, "h", DMP_CONSUMER_DURABLE, DMP_START_LATEST);
  ut_publish_n(p, (int)pc.capacity);
  for (int i = 0; i < 10; i++)
    cr_assert(eq(i64, ut_read_one(c), i)); /* peeked 0..9, none released */
  cr_assert(eq(int, dmp_consumer_release_to(c, 3), 0));
  cr_assert(eq(i64, dmp_consumer_sequence(c), 3));
  cr_assert(eq(i64, dmp_consumer_next(c), 10), "the read-ahead stays");
  /* Exactly four slots came free: the rest of the read-ahead gates. */
  for (int i = 0; i < 4; i++)
    ut_publish_n(p, 1);
  void *slot;
  cr_assert(eq(int, dmp_producer_try_claim(p, &slot), -EAGAIN), "slots 4..9 were released");
  /* Outside [last released, last peeked]: refused, nothing changes. */
  cr_assert(eq(int, dmp_consumer_release_to(c, 2), -EINVAL));
  cr_assert(eq(int, dmp_consumer_release_to(c, 10), -EINVAL));
  cr_assert(eq(int, dmp_consumer_release_to(NULL, 0), -EINVAL));
  cr_assert(eq(int, dmp_consumer_release_to(c, 3), 0), "releasing the released is a no-op");
  cr_assert(eq(i64, dmp_consumer_sequence(c), 3));
  /* Unpeek, close: the durable id resumes at 4, not at 10. */
  cr_assert(eq(i64, dmp_consumer_unpeek(c), 4));
  cr_assert(eq(i64, ut_read_one(c), 4), "the next peek returns the first unreleased event");
  cr_assert(eq(i64, dmp_consumer_unpeek(c), 4));
  cr_assert(eq(i64, dmp_consumer_unpeek(NULL), -EINVAL));
  dmp_consumer_close(c);
  c = attach_id(&pc, "h", DMP_CONSUMER_DURABLE, DMP_START_LATEST);
  cr_assert(eq(i64, ut_read_one(c), 4), "close after unpeek kept the unreleased events");
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(consumer_resume, durable_id_gates_while_detached_and_loses_nothing)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "res");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = attach_id(&pc, "d", DMP_CONSUMER_DURABLE, DMP_START_LATEST);
    ut_publish_n(p, 2);
    cr_assert(eq(i64, ut_drain(c, NULL), 2));
    dmp_consumer_close(c);
    ut_publish_n(p, (int)pc.capacity);
    void *slot;
    cr_assert(eq(int, dmp_producer_try_claim(p, &slot), -EAGAIN), "%s: a detached durable id does not gate",
              ut_backend_name(ut_backends[b]));
    c = attach_id(&pc, "d", DMP_CONSUMER_DURABLE, DMP_START_LATEST);
    cr_assert(eq(u64, dmp_consumer_missed(c), 0));
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(c, &first), (int64_t)pc.capacity));
    cr_assert(eq(i64, first, 2));
    cr_assert(eq(int, dmp_producer_try_claim(p, &slot), 0), "room after the resumed consumer released");
    dmp_consumer_close_forget(c);
    dmp_producer_close(p);
  }
}

Test(consumer_resume, non_durable_id_stops_gating_and_reports_what_it_missed)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "res");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = attach_id(&pc, "a", 0, DMP_START_LATEST);
    ut_publish_n(p, 5);
    cr_assert(eq(i64, ut_drain(c, NULL), 5));
    dmp_consumer_close(c);
    ut_publish_n(p, 3 * (int)pc.capacity); /* try_claim inside: must never be full */
    c = attach_id(&pc, "a", 0, DMP_START_LATEST);
    uint64_t missed = dmp_consumer_missed(c);
    int64_t first = -1;
    int64_t n = ut_drain(c, &first); /* content == seq: only intact events */
    cr_assert(lt(u64, 0, missed), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(lt(i64, 0, n));
    cr_assert(lt(i64, 5, first));
    cr_assert(eq(u64, missed, (uint64_t)(first - 5)), "missed must count the events between 5 and %lld",
              (long long)first);
    cr_assert(eq(i64, first + n - 1, 5 + 3 * (int64_t)pc.capacity - 1));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(consumer_resume, same_id_twice_is_idinuse)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "res");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = attach_id(&pc, "a", 0, DMP_START_LATEST);
    cr_assert(eq(int, attach_code(&pc, "a"), -DMP_E_IDINUSE), "%s", ut_backend_name(ut_backends[b]));
    /* the first holder is undisturbed */
    ut_publish_n(p, 2);
    cr_assert(eq(i64, ut_drain(c, NULL), 2));
    cr_assert(eq(int, ut_count_consumers(p), 1));
    dmp_consumer_close(c);
    cr_assert(eq(int, attach_code(&pc, "a"), 0), "id not free after close");
    dmp_producer_close(p);
  }
}

Test(consumer_resume, close_forget_starts_the_id_fresh)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "res");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = attach_id(&pc, "a", 0, DMP_START_LATEST);
    ut_publish_n(p, 5);
    cr_assert(eq(i64, ut_drain(c, NULL), 5));
    dmp_consumer_close_forget(c);
    struct dmp_consumer_info info;
    cr_assert(eq(int, dmp_producer_consumer_info(p, "a", &info), -ENOENT), "forgotten id still in the table");
    ut_publish_n(p, 3);
    /* A resumed id would start at 5; a fresh OLDEST one starts at 0. */
    c = attach_id(&pc, "a", 0, DMP_START_OLDEST);
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(c, &first), 8), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(eq(i64, first, 0));
    dmp_consumer_close_forget(c);
    /* and a fresh LATEST one sees nothing old */
    c = attach_id(&pc, "a", 0, DMP_START_LATEST);
    const void *ev;
    int64_t seq;
    cr_assert(eq(int, dmp_consumer_try_peek(c, &ev, &seq), -EAGAIN));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(consumer_table, a_full_table_refuses_a_new_id)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "tab");
    pc.max_consumers = 2;
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *w0 = attach_id(&pc, "w0", 0, DMP_START_LATEST);
    struct dmp_consumer *w1 = attach_id(&pc, "w1", 0, DMP_START_LATEST);
    cr_assert(eq(int, attach_code(&pc, "w2"), -DMP_E_TABLEFULL), "%s", ut_backend_name(ut_backends[b]));
    dmp_consumer_close_forget(w0);
    struct dmp_consumer *w2 = attach_id(&pc, "w2", 0, DMP_START_LATEST);
    ut_publish_n(p, 2);
    cr_assert(eq(i64, ut_drain(w1, NULL), 2));
    cr_assert(eq(i64, ut_drain(w2, NULL), 2));
    dmp_consumer_close(w1);
    dmp_consumer_close(w2);
    dmp_producer_close(p);
  }
}

Test(consumer_table, an_idle_entry_keeps_its_place)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "tab");
  pc.max_consumers = 1;
  struct dmp_producer *p = ut_create(&pc);
  dmp_consumer_close(attach_id(&pc, "w0", 0, DMP_START_LATEST));
  /* w0 is IDLE, kept for resume: it still holds the only entry */
  cr_assert(eq(int, attach_code(&pc, "w1"), -DMP_E_TABLEFULL));
  cr_assert(eq(int, attach_code(&pc, "w0"), 0), "the idle id cannot resume");
  dmp_producer_close(p);
}
