/* Mismatch (consumer.h, typed.h): a consumer that expects another slot
 * size, alignment or type tag than the ring's is refused at attach; zero
 * fields accept the ring's. Typed wrappers set all three from the type. */
#include "unit.h"

TestSuite(consumer_mismatch, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(typed_ring, .fini = ut_fini, .timeout = UT_TIMEOUT);

static void expect_attach_code(const struct dmp_consumer_config *cc, int want, const char *what)
{
  struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
  int rc = dmp_consumer_attach(cc, &c);
  cr_assert(eq(int, rc, want), "%s on %s: got %s, want %s (%s)", what, ut_backend_name(cc->backend),
            dmp_err_name(rc), dmp_err_name(want), dmp_last_error());
  if (rc == 0)
    dmp_consumer_close_forget(c);
  else
    cr_assert(eq(ptr, (void *)c, NULL));
}

Test(consumer_mismatch, other_slot_size_is_refused)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "mis");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
    cc.slot_size = 16;
    expect_attach_code(&cc, -DMP_E_MISMATCH, "slot_size 16 vs 8");
    cc.slot_size = 4;
    expect_attach_code(&cc, -DMP_E_MISMATCH, "slot_size 4 vs 8");
    cr_assert(eq(int, ut_count_consumers(p), 0), "a refused consumer left a table entry");
    cc.slot_size = 8;
    expect_attach_code(&cc, 0, "slot_size 8 vs 8");
    dmp_producer_close(p);
  }
}

Test(consumer_mismatch, slot_size_zero_accepts_the_rings)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "mis");
    pc.slot_size = 40;
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
    cc.slot_size = 0;
    struct dmp_consumer *c = ut_attach(&cc);
    cr_assert(eq(u32, dmp_consumer_slot_size(c), 40));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(consumer_mismatch, other_alignment_is_refused)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "mis");
    pc.slot_align = 64;
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
    cc.slot_align = 8;
    expect_attach_code(&cc, -DMP_E_MISMATCH, "slot_align 8 vs 64");
    cc.slot_align = 64;
    expect_attach_code(&cc, 0, "slot_align 64 vs 64");
    cc.slot_align = 0;
    expect_attach_code(&cc, 0, "slot_align 0 (any) vs 64");
    dmp_producer_close(p);
  }
}

Test(consumer_mismatch, other_type_tag_is_refused)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "mis");
    pc.type_tag = 0xabcdef;
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
    cc.type_tag = 0xabcdee;
    expect_attach_code(&cc, -DMP_E_MISMATCH, "type_tag differs");
    cc.type_tag = 0xabcdef;
    expect_attach_code(&cc, 0, "type_tag equal");
    cc.type_tag = 0;
    expect_attach_code(&cc, 0, "type_tag 0 (unchecked)");
    dmp_producer_close(p);
  }
}

Test(consumer_mismatch, a_typed_consumer_refuses_an_untyped_ring)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "mis");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
  cc.type_tag = 5;
  expect_attach_code(&cc, -DMP_E_MISMATCH, "expects tag 5, ring untyped");
  dmp_producer_close(p);
}

Test(consumer_mismatch, the_detail_says_what_differs)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "mis");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
  cc.slot_size = 24;
  expect_attach_code(&cc, -DMP_E_MISMATCH, "slot_size 24 vs 8");
  const char *d = dmp_last_error();
  cr_assert(ne(ptr, strstr(d, "24"), NULL), "detail '%s' does not give the expected size 24", d);
  dmp_producer_close(p);
}

/* ---- typed.h ----------------------------------------------------------- */

struct tick {
  int64_t ts;
  double px;
};
struct quote {
  int64_t id;
  double qty;
};
struct wide {
  alignas(64) int64_t v;
};

DMP_DECLARE_TYPED(tick, struct tick);
DMP_DECLARE_TYPED(quote, struct quote);
DMP_DECLARE_TYPED(wide, struct wide);

Test(typed_ring, type_tags_differ_by_name_and_by_size_and_are_never_zero)
{
  _Static_assert(sizeof(struct tick) == sizeof(struct quote), "test needs equal sizes");
  cr_assert(ne(u64, dmp_type_tag("struct tick", 16), dmp_type_tag("struct quote", 16)));
  cr_assert(ne(u64, dmp_type_tag("struct tick", 16), dmp_type_tag("struct tick", 24)));
  cr_assert(eq(u64, dmp_type_tag("struct tick", 16), dmp_type_tag("struct tick", 16)));
  cr_assert(ne(u64, dmp_type_tag("", 0), 0));
}

Test(typed_ring, configs_carry_size_alignment_and_tag)
{
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  wide_producer_config(&pc);
  cr_assert(eq(u32, pc.slot_size, (uint32_t)sizeof(struct wide)));
  cr_assert(eq(u32, pc.slot_align, 64));
  cr_assert(eq(u64, pc.type_tag, dmp_type_tag("struct wide", sizeof(struct wide))));
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  wide_consumer_config(&cc);
  cr_assert(eq(u32, cc.slot_size, pc.slot_size));
  cr_assert(eq(u32, cc.slot_align, pc.slot_align));
  cr_assert(eq(u64, cc.type_tag, pc.type_tag));
}

Test(typed_ring, consumer_of_another_struct_of_equal_size_is_refused)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "typ");
    tick_producer_config(&pc);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "q");
    quote_consumer_config(&cc);
    expect_attach_code(&cc, -DMP_E_MISMATCH, "struct quote consumer on a struct tick ring");
    dmp_producer_close(p);
  }
}

Test(typed_ring, same_struct_works_end_to_end)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "typ");
    tick_producer_config(&pc);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "t");
    tick_consumer_config(&cc);
    struct dmp_consumer *c = ut_attach(&cc);

    struct tick *slot;
    cr_assert(eq(int, tick_try_claim(p, &slot), 0));
    slot->ts = 1000;
    slot->px = 1.5;
    cr_assert(eq(int, tick_claim_timeout(p, &slot, UT_SHORT_NS), 0));
    slot->ts = 2000;
    slot->px = 2.5;
    cr_assert(eq(i64, dmp_producer_publish(p), 1));

    const struct tick *ev;
    int64_t seq;
    cr_assert(eq(int, tick_try_peek(c, &ev, &seq), 0));
    cr_assert(eq(i64, seq, 0));
    cr_assert(eq(i64, ev->ts, 1000));
    cr_assert(eq(dbl, ev->px, 1.5));
    cr_assert(eq(int, tick_peek_timeout(c, &ev, &seq, UT_SHORT_NS), 0));
    cr_assert(eq(i64, seq, 1));
    cr_assert(eq(i64, ev->ts, 2000));
    cr_assert(eq(dbl, ev->px, 2.5));
    dmp_consumer_release(c);
    cr_assert(eq(int, tick_peek_timeout(c, &ev, &seq, UT_SHORT_NS), -ETIMEDOUT));
    cr_assert(eq(int, tick_try_peek(c, &ev, &seq), -EAGAIN));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(typed_ring, producer_of_another_struct_of_equal_size_is_refused_the_other_way_round)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "typ");
  quote_producer_config(&pc);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "t");
  tick_consumer_config(&cc);
  expect_attach_code(&cc, -DMP_E_MISMATCH, "struct tick consumer on a struct quote ring");
  quote_consumer_config(&cc);
  struct dmp_consumer *c = ut_attach(&cc);
  struct quote *q;
  cr_assert(eq(int, quote_try_claim(p, &q), 0));
  q->id = 7;
  q->qty = 0.25;
  cr_assert(eq(int, quote_claim_timeout(p, &q, UT_SHORT_NS), 0));
  q->id = 8;
  q->qty = 0.5;
  dmp_producer_publish(p);
  const struct quote *ev;
  int64_t seq;
  cr_assert(eq(int, quote_try_peek(c, &ev, &seq), 0));
  cr_assert(eq(i64, ev->id, 7));
  cr_assert(eq(int, quote_peek_timeout(c, &ev, &seq, UT_SHORT_NS), 0));
  cr_assert(eq(i64, ev->id, 8));
  cr_assert(eq(dbl, ev->qty, 0.5));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(typed_ring, slots_of_an_overaligned_struct_are_aligned)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "typ");
  wide_producer_config(&pc);
  pc.capacity = 4;
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "w");
  wide_consumer_config(&cc);
  struct dmp_consumer *c = ut_attach(&cc);
  for (int i = 0; i < 8; i++) {
    struct wide *slot;
    int rc = i % 2 ? wide_try_claim(p, &slot) : wide_claim_timeout(p, &slot, UT_SHORT_NS);
    cr_assert(eq(int, rc, 0), "claim %d", i);
    cr_assert(eq(u64, (uint64_t)(uintptr_t)slot % 64, 0), "slot %d at %p", i, (void *)slot);
    slot->v = i;
    dmp_producer_publish(p);
    const struct wide *ev;
    int64_t seq;
    rc = i % 2 ? wide_try_peek(c, &ev, &seq) : wide_peek_timeout(c, &ev, &seq, UT_SHORT_NS);
    cr_assert(eq(int, rc, 0), "peek %d", i);
    cr_assert(eq(u64, (uint64_t)(uintptr_t)ev % 64, 0));
    cr_assert(eq(i64, ev->v, i));
    dmp_consumer_release(c);
  }
  dmp_consumer_close(c);
  dmp_producer_close(p);
}
