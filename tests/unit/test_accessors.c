/* Accessors (producer.h, consumer.h): what the layers above may know of a
 * handle without reading its struct - the ring's name and capacity, the
 * consumer's next sequence and its entry's attach count. libmyelon uses
 * only these (issue 16: the layer boundary holds). */
#include "unit.h"

TestSuite(accessors, .fini = ut_fini, .timeout = UT_TIMEOUT);

Test(accessors, name_is_the_locator_the_ring_was_created_and_attached_with)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "acc");
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
    struct dmp_consumer *c = ut_attach(&cc);
    cr_assert(ne(ptr, (void *)dmp_producer_name(p), NULL));
    cr_assert(ne(ptr, (void *)dmp_consumer_name(c), NULL));
    /* SHM: "/" + the name (the leading '/' is optional in a config); MMAP: the path as given. */
    char want[512];
    snprintf(want, sizeof want, "%s%s", pc.backend == DMP_BACKEND_SHM && pc.name[0] != '/' ? "/" : "", pc.name);
    cr_assert_str_eq(dmp_producer_name(p), want, "%s producer", ut_backend_name(pc.backend));
    cr_assert_str_eq(dmp_consumer_name(c), want, "%s consumer", ut_backend_name(pc.backend));
    cr_assert(ne(ptr, (void *)dmp_producer_name(p), (void *)pc.name), "a copy, not the caller's string");
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(accessors, capacity_is_the_created_capacity_on_both_sides)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "acc");
  pc.capacity = 64;
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
  struct dmp_consumer *c = ut_attach(&cc);
  cr_assert(eq(u64, dmp_producer_capacity(p), 64));
  cr_assert(eq(u64, dmp_consumer_capacity(c), 64));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(accessors, next_counts_peeks_and_sequence_counts_releases)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "acc");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
  struct dmp_consumer *c = ut_attach(&cc);
  cr_assert(eq(i64, dmp_consumer_next(c), 0), "attached before the first event: starts at 0");
  ut_publish_n(p, 3);
  ut_read_one(c);
  ut_read_one(c);
  cr_assert(eq(i64, dmp_consumer_next(c), 2), "two peeked");
  cr_assert(eq(i64, dmp_consumer_sequence(c), -1), "none released");
  dmp_consumer_release(c);
  cr_assert(eq(i64, dmp_consumer_next(c), dmp_consumer_sequence(c) + 1));
  dmp_consumer_close(c);

  /* A consumer new to a ring that has events starts after them (LATEST). */
  struct dmp_consumer_config late = ut_ccfg(&pc, "late");
  struct dmp_consumer *l = ut_attach(&late);
  cr_assert(eq(i64, dmp_consumer_next(l), 3));
  dmp_consumer_close(l);
  dmp_producer_close(p);
}

Test(accessors, generation_tells_a_fresh_entry_from_a_resumed_one)
{
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_SHM, "acc");
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
  struct dmp_consumer *c = ut_attach(&cc);
  cr_assert(eq(u32, dmp_consumer_generation(c), 1), "this attach created the entry");
  dmp_consumer_close(c); /* keeps the id and position */
  c = ut_attach(&cc);
  cr_assert(eq(u32, dmp_consumer_generation(c), 2), "resumed");
  dmp_consumer_close_forget(c); /* frees the entry */
  c = ut_attach(&cc);
  cr_assert(eq(u32, dmp_consumer_generation(c), 1), "a forgotten id starts afresh");
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(accessors, null_handles_give_neutral_values)
{
  cr_assert(eq(ptr, (void *)dmp_producer_name(NULL), NULL));
  cr_assert(eq(ptr, (void *)dmp_consumer_name(NULL), NULL));
  cr_assert(eq(u64, dmp_producer_capacity(NULL), 0));
  cr_assert(eq(i64, dmp_consumer_next(NULL), -EINVAL));
  cr_assert(eq(u32, dmp_consumer_generation(NULL), 0));
}
