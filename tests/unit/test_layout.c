/* Layout (layout.h): the bytes a created segment holds, read back through
 * the file system, must match the documented layout: header fields,
 * fingerprint, ready word, producer cursor, consumer table, slots. */
#include <time.h>

#include "unit.h"

TestSuite(segment_layout, .fini = ut_fini, .timeout = UT_TIMEOUT);

static uint64_t round_up(uint64_t x, uint64_t a)
{
  return (x + a - 1) / a * a;
}

static int64_t realtime_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void check_header(enum dmp_backend b, uint64_t capacity, uint32_t slot_size, uint32_t slot_align,
                         uint32_t max_consumers)
{
  struct dmp_producer_config cfg = ut_pcfg(b, "lay");
  cfg.capacity = capacity;
  cfg.slot_size = slot_size;
  cfg.slot_align = slot_align;
  cfg.max_consumers = max_consumers;
  cfg.type_tag = UINT64_C(0x1122334455667788);
  int64_t before = realtime_ns();
  struct dmp_producer *p = ut_create(&cfg);
  int64_t after = realtime_ns();

  struct dmp_segment_header h = ut_header_read(b, cfg.name);
  uint64_t stride = round_up(slot_size, slot_align);
  uint64_t table_end = 512 + (uint64_t)max_consumers * 128;
  uint64_t slots = round_up(table_end, slot_align > 64 ? slot_align : 64);
  uint64_t total = round_up(slots + stride * capacity, (uint64_t)sysconf(_SC_PAGESIZE));
  const char *bn = ut_backend_name(b);

  cr_assert(eq(u64, h.magic, DMP_MAGIC), "%s", bn);
  cr_assert(eq(u32, h.layout_version, DMP_LAYOUT_VERSION), "%s", bn);
  cr_assert(eq(u32, h.header_size, 128), "%s", bn);
  cr_assert(eq(u64, h.capacity, capacity), "%s", bn);
  cr_assert(eq(u32, h.slot_size, slot_size), "%s", bn);
  cr_assert(eq(u32, h.slot_align, slot_align), "%s", bn);
  cr_assert(eq(u32, h.slot_stride, (uint32_t)stride), "%s", bn);
  cr_assert(eq(u32, h.max_consumers, max_consumers), "%s", bn);
  cr_assert(eq(u64, h.table_offset, 512), "%s", bn);
  cr_assert(eq(u64, h.slots_offset, slots), "%s", bn);
  cr_assert(eq(u64, h.total_size, total), "%s", bn);
  cr_assert(eq(i64, (int64_t)ut_seg_size(b, cfg.name), (int64_t)total), "%s: file size", bn);
  cr_assert(eq(u64, h.type_tag, cfg.type_tag), "%s", bn);
  cr_assert(eq(int, h.owner_pid, (int)getpid()), "%s", bn);
  /* DMP_SEG_F_MEMBARRIER depends on the kernel (test_wait.c checks it). */
  cr_assert(eq(u32, h.flags & ~DMP_SEG_F_MEMBARRIER, DMP_SEG_F_WAKEUPS), "%s", bn);
  cr_assert(ge(i64, (int64_t)h.created_ns, before - 1000000000), "%s: created_ns", bn);
  cr_assert(le(i64, (int64_t)h.created_ns, after + 1000000000), "%s: created_ns", bn);
  cr_assert(eq(u64, h.fingerprint, ut_fnv1a64(&h, 96)), "%s: fingerprint is not FNV-1a-64 of [0,96)", bn);
  uint32_t ready = dmp_impl_load_relaxed(&h.ready); /* a copy: nothing races */
  cr_assert(eq(u32, ready, DMP_READY), "%s", bn);

  int64_t cursor;
  ut_seg_read(b, cfg.name, 128, &cursor, sizeof cursor);
  cr_assert(eq(i64, cursor, -1), "%s: producer cursor of a new ring", bn);
  dmp_producer_close(p);
}

Test(segment_layout, header_matches_the_documented_geometry)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    check_header(ut_backends[b], 16, 8, 8, 16);
    check_header(ut_backends[b], 1, 1, 1, 1);
    check_header(ut_backends[b], 64, 100, 64, 3);
    check_header(ut_backends[b], 8, 24, 4096, 5);
    check_header(ut_backends[b], 1024, 4097, 16, 1024);
  }
}

Test(segment_layout, no_wakeups_ring_clears_the_wakeups_flag)
{
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "lay");
  cfg.flags = DMP_RING_NO_WAKEUPS;
  struct dmp_producer *p = ut_create(&cfg);
  struct dmp_segment_header h = ut_header_read(DMP_BACKEND_SHM, cfg.name);
  cr_assert(eq(u32, h.flags, 0));
  dmp_producer_close(p);
}

Test(segment_layout, every_creation_has_a_new_epoch)
{
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "lay");
  struct dmp_producer *p = ut_create(&cfg);
  uint64_t e1 = ut_header_read(DMP_BACKEND_SHM, cfg.name).epoch;
  dmp_producer_close(p);
  p = ut_create(&cfg);
  uint64_t e2 = ut_header_read(DMP_BACKEND_SHM, cfg.name).epoch;
  dmp_producer_close(p);
  cr_assert(ne(u64, e1, e2));
}

Test(segment_layout, published_events_and_cursor_are_where_documented)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "lay");
    cfg.slot_align = 64;
    cfg.capacity = 4;
    struct dmp_producer *p = ut_create(&cfg);
    ut_publish_n(p, 3);
    struct dmp_segment_header h = ut_header_read(ut_backends[b], cfg.name);
    for (int64_t s = 0; s < 3; s++) {
      int64_t v;
      ut_seg_read(ut_backends[b], cfg.name, (off_t)(h.slots_offset + (uint64_t)s * 64), &v, sizeof v);
      cr_assert(eq(i64, v, s), "%s: slot %lld", ut_backend_name(ut_backends[b]), (long long)s);
    }
    int64_t cursor;
    ut_seg_read(ut_backends[b], cfg.name, 128, &cursor, sizeof cursor);
    cr_assert(eq(i64, cursor, 2));
    dmp_producer_close(p);
  }
}

Test(segment_layout, attached_consumer_has_an_active_table_entry)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "lay");
    struct dmp_producer *p = ut_create(&cfg);
    struct dmp_consumer_config cc = ut_ccfg(&cfg, "reader-1");
    struct dmp_consumer *c = ut_attach(&cc);
    ut_publish_n(p, 3);
    cr_assert(eq(i64, ut_drain(c, NULL), 3));

    struct dmp_consumer_entry e;
    ut_seg_read(ut_backends[b], cfg.name, 512, &e, sizeof e);
    cr_assert(eq(str, e.id, "reader-1"), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(eq(u32, dmp_impl_load_relaxed(&e.state), DMP_ENTRY_ACTIVE)); /* a copy */
    cr_assert(eq(i64, dmp_impl_load_relaxed(&e.cursor), 2));
    cr_assert(eq(int, e.pid, (int)getpid()));
    cr_assert(eq(u32, dmp_impl_load_relaxed(&e.generation), 1));
    cr_assert(eq(u32, dmp_impl_load_relaxed(&e.flags), 0));

    dmp_consumer_close(c);
    ut_seg_read(ut_backends[b], cfg.name, 512, &e, sizeof e);
    cr_assert(eq(u32, dmp_impl_load_relaxed(&e.state), DMP_ENTRY_IDLE));
    dmp_producer_close(p);
  }
}
