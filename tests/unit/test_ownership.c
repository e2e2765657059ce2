/* Ownership (producer.h, consumer.h): exclusive creation, removal on
 * close unless DMP_RING_KEEP, permissions, stale reclaim and
 * DMP_RING_NO_RECLAIM, attaching to what is missing or dead. */
#include <sys/mman.h>

#include "unit.h"

TestSuite(ring_ownership, .fini = ut_fini, .timeout = UT_TIMEOUT);

Test(ring_ownership, second_create_of_a_live_ring_is_inuse)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    struct dmp_producer *p = ut_create(&cfg);
    struct dmp_producer *p2 = (struct dmp_producer *)(uintptr_t)0x10;
    int rc = dmp_producer_create(&cfg, &p2);
    cr_assert(eq(int, rc, -DMP_E_INUSE), "%s: got %s", ut_backend_name(ut_backends[b]), dmp_err_name(rc));
    cr_assert(eq(ptr, (void *)p2, NULL));
    /* the first producer's ring is untouched: it still delivers */
    struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
    struct dmp_consumer *c = ut_attach(&cc);
    ut_publish_n(p, 2);
    cr_assert(eq(i64, ut_drain(c, NULL), 2));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(ring_ownership, close_removes_the_segment)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    struct dmp_producer *p = ut_create(&cfg);
    cr_assert(ut_seg_exists(ut_backends[b], cfg.name), "%s: no segment after create", ut_backend_name(ut_backends[b]));
    dmp_producer_close(p);
    cr_assert(not(ut_seg_exists(ut_backends[b], cfg.name)), "%s: segment left after close", ut_backend_name(ut_backends[b]));
    cr_assert(eq(int, ut_seg_leftovers(ut_backends[b], cfg.name), 0), "%s: companion objects left after close",
              ut_backend_name(ut_backends[b]));
  }
}

Test(ring_ownership, close_with_keep_leaves_the_segment)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    cfg.flags = DMP_RING_KEEP;
    struct dmp_producer *p = ut_create(&cfg);
    dmp_producer_close(p);
    cr_assert(ut_seg_exists(ut_backends[b], cfg.name), "%s: KEEP segment removed", ut_backend_name(ut_backends[b]));
    struct dmp_segment_header h = ut_header_read(ut_backends[b], cfg.name);
    cr_assert(eq(u64, h.magic, DMP_MAGIC));
  }
}

Test(ring_ownership, a_name_is_free_again_after_close)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    dmp_producer_close(ut_create(&cfg));
    dmp_producer_close(ut_create(&cfg));
  }
}

Test(ring_ownership, attach_to_a_missing_segment_is_enoent)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
    struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
    int rc = dmp_consumer_attach(&cc, &c);
    cr_assert(eq(int, rc, -ENOENT), "%s: got %s", ut_backend_name(ut_backends[b]), dmp_err_name(rc));
    cr_assert(eq(ptr, (void *)c, NULL));
    cr_assert(not(ut_seg_exists(ut_backends[b], cfg.name)), "attach created '%s'", cfg.name);
  }
}

Test(ring_ownership, attach_timeout_to_a_missing_segment_times_out)
{
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "own");
  struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
  struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
  int rc = dmp_consumer_attach_timeout(&cc, UT_SHORT_NS, &c);
  cr_assert(eq(int, rc, -ETIMEDOUT), "got %s", dmp_err_name(rc));
  cr_assert(eq(ptr, (void *)c, NULL));
}

Test(ring_ownership, attach_timeout_waits_out_a_ring_that_is_not_ready)
{
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "own");
  struct dmp_producer *p = ut_create(&cfg);
  uint32_t zero = 0;
  ut_seg_write(DMP_BACKEND_SHM, cfg.name, (off_t)offsetof(struct dmp_segment_header, ready), &zero, sizeof zero);
  struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
  struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
  int rc = dmp_consumer_attach_timeout(&cc, UT_SHORT_NS, &c);
  cr_assert(eq(int, rc, -ETIMEDOUT), "got %s", dmp_err_name(rc));
  cr_assert(eq(ptr, (void *)c, NULL));
  dmp_producer_close(p);
}

Test(ring_ownership, attach_timeout_does_not_retry_a_corrupt_ring)
{
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_MMAP, "own");
  struct dmp_producer *p = ut_create(&cfg);
  uint64_t bad = 42;
  ut_seg_write(DMP_BACKEND_MMAP, cfg.name, 0, &bad, sizeof bad);
  struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
  struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
  int rc = dmp_consumer_attach_timeout(&cc, UT_LONG_NS, &c);
  cr_assert(eq(int, rc, -DMP_E_CORRUPT), "got %s", dmp_err_name(rc));
  cr_assert(eq(ptr, (void *)c, NULL));
  dmp_producer_close(p);
}

Test(ring_ownership, a_file_that_is_not_a_ring_is_corrupt)
{
  const char *path = ut_fresh_name(DMP_BACKEND_MMAP, "txt");
  FILE *f = fopen(path, "w");
  cr_assert(ne(ptr, f, NULL));
  for (int i = 0; i < 200; i++)
    fprintf(f, "line %d of a file that is not a ring segment\n", i);
  fclose(f);
  /* Private, as a ring would be: a file others may read is refused before
   * its contents are looked at (test_permissions.c). */
  cr_assert(eq(int, chmod(path, 0600), 0));
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = DMP_BACKEND_MMAP;
  cc.name = path;
  cc.id = "c0";
  struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
  int rc = dmp_consumer_attach(&cc, &c);
  cr_assert(eq(int, rc, -DMP_E_CORRUPT), "got %s", dmp_err_name(rc));
  cr_assert(eq(ptr, (void *)c, NULL));
}

Test(ring_ownership, a_directory_is_neither_created_over_nor_attached)
{
  const char *path = ut_fresh_name(DMP_BACKEND_MMAP, "dir");
  cr_assert(eq(int, mkdir(path, 0700), 0));
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = DMP_BACKEND_MMAP;
  cc.name = path;
  cc.id = "c0";
  struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
  int rc = dmp_consumer_attach(&cc, &c);
  cr_assert(lt(int, rc, 0), "attached to a directory");
  cr_assert(eq(ptr, (void *)c, NULL));
  struct dmp_producer_config pc = ut_pcfg(DMP_BACKEND_MMAP, "dir");
  pc.name = path;
  struct dmp_producer *p = (struct dmp_producer *)(uintptr_t)0x10;
  rc = dmp_producer_create(&pc, &p);
  cr_assert(lt(int, rc, 0), "created a ring over a directory");
  cr_assert(eq(ptr, (void *)p, NULL));
  struct stat st;
  cr_assert(eq(int, stat(path, &st), 0));
  bool still_dir = S_ISDIR(st.st_mode);
  cr_assert(still_dir, "the directory was replaced");
}

Test(ring_ownership, attach_to_a_kept_ring_of_a_closed_producer_is_ownerdead)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    cfg.flags = DMP_RING_KEEP;
    dmp_producer_close(ut_create(&cfg));
    struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
    struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
    int rc = dmp_consumer_attach(&cc, &c);
    cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "%s: got %s", ut_backend_name(ut_backends[b]), dmp_err_name(rc));
    cr_assert(eq(ptr, (void *)c, NULL));
  }
}

Test(ring_ownership, closing_a_consumer_does_not_disturb_the_producer)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    struct dmp_producer *p = ut_create(&cfg);
    struct dmp_consumer_config c1cfg = ut_ccfg(&cfg, "c1"), c2cfg = ut_ccfg(&cfg, "c2");
    struct dmp_consumer *c1 = ut_attach(&c1cfg), *c2 = ut_attach(&c2cfg);
    ut_publish_n(p, 3);
    dmp_consumer_close(c1);
    cr_assert(ut_seg_exists(ut_backends[b], cfg.name));
    ut_publish_n(p, 3);
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(c2, &first), 6));
    cr_assert(eq(i64, first, 0));
    cr_assert(dmp_consumer_producer_alive(c2));
    dmp_consumer_close_forget(c2);
    ut_publish_n(p, 2 * (int)cfg.capacity); /* nobody gates now */
    dmp_producer_close(p);
  }
}

Test(ring_ownership, release_functions_accept_null)
{
  dmp_producer_close(NULL);
  dmp_consumer_close(NULL);
  dmp_consumer_close_forget(NULL);
}

Test(ring_ownership, segment_mode_is_0600_by_default)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    struct dmp_producer *p = ut_create(&cfg);
    char path[512];
    struct stat st;
    cr_assert(eq(int, stat(ut_seg_path(ut_backends[b], cfg.name, path, sizeof path), &st), 0));
    cr_assert(eq(u32, (uint32_t)(st.st_mode & 07777), 0600u), "%s: mode %o", ut_backend_name(ut_backends[b]),
              (unsigned)(st.st_mode & 07777));
    dmp_producer_close(p);
  }
}

Test(ring_ownership, segment_mode_follows_the_config)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    cfg.mode = 0640;
    struct dmp_producer *p = ut_create(&cfg);
    char path[512];
    struct stat st;
    cr_assert(eq(int, stat(ut_seg_path(ut_backends[b], cfg.name, path, sizeof path), &st), 0));
    cr_assert(eq(u32, (uint32_t)(st.st_mode & 07777), 0640u), "%s: mode %o", ut_backend_name(ut_backends[b]),
              (unsigned)(st.st_mode & 07777));
    dmp_producer_close(p);
  }
}

Test(ring_ownership, a_kept_ring_of_a_closed_producer_is_reclaimed)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    cfg.flags = DMP_RING_KEEP;
    struct dmp_producer *p = ut_create(&cfg);
    ut_publish_n(p, 5);
    uint64_t old_epoch = ut_header_read(ut_backends[b], cfg.name).epoch;
    dmp_producer_close(p);

    /* a different geometry, to prove the segment was really replaced */
    cfg.flags = 0;
    cfg.capacity = 64;
    cfg.slot_size = 32;
    p = ut_create(&cfg);
    struct dmp_segment_header h = ut_header_read(ut_backends[b], cfg.name);
    cr_assert(ne(u64, h.epoch, old_epoch), "%s", ut_backend_name(ut_backends[b]));
    cr_assert(eq(u64, h.capacity, 64));
    cr_assert(eq(i64, dmp_producer_sequence(p), -1), "a reclaimed ring starts empty");
    struct dmp_consumer_config cc = ut_ccfg(&cfg, "c0");
    cc.slot_size = 32;
    struct dmp_consumer *c = ut_attach(&cc);
    cr_assert(eq(u32, dmp_consumer_slot_size(c), 32));
    dmp_consumer_close(c);
    dmp_producer_close(p);
    cr_assert(not(ut_seg_exists(ut_backends[b], cfg.name)));
  }
}

Test(ring_ownership, no_reclaim_refuses_a_stale_ring)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    cfg.flags = DMP_RING_KEEP;
    dmp_producer_close(ut_create(&cfg));
    uint64_t epoch = ut_header_read(ut_backends[b], cfg.name).epoch;
    cfg.flags = DMP_RING_NO_RECLAIM;
    struct dmp_producer *p = (struct dmp_producer *)(uintptr_t)0x10;
    int rc = dmp_producer_create(&cfg, &p);
    cr_assert(eq(int, rc, -DMP_E_INUSE), "%s: got %s", ut_backend_name(ut_backends[b]), dmp_err_name(rc));
    cr_assert(eq(ptr, (void *)p, NULL));
    cr_assert(ut_seg_exists(ut_backends[b], cfg.name), "NO_RECLAIM removed the stale segment");
    cr_assert(eq(u64, ut_header_read(ut_backends[b], cfg.name).epoch, epoch), "NO_RECLAIM rewrote the segment");
  }
}

Test(ring_ownership, reclaim_does_not_hand_the_new_ring_to_old_consumers)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "own");
    cfg.flags = DMP_RING_KEEP;
    struct dmp_producer *p = ut_create(&cfg);
    struct dmp_consumer_config cc = ut_ccfg(&cfg, "old");
    struct dmp_consumer *old = ut_attach(&cc);
    dmp_producer_close(p);

    cfg.flags = 0;
    p = ut_create(&cfg);
    ut_publish_n(p, 3);
    /* the old consumer's producer is gone: it must say so, not read the
     * new ring's events as if they were its own */
    int64_t rc = dmp_consumer_wait(old, UT_LONG_NS);
    cr_assert(eq(i64, rc, -DMP_E_OWNERDEAD), "%s: got %lld", ut_backend_name(ut_backends[b]), (long long)rc);
    cr_assert(not(dmp_consumer_producer_alive(old)));
    dmp_consumer_close(old);

    struct dmp_consumer_config cc2 = ut_ccfg(&cfg, "new");
    cc2.start = DMP_START_OLDEST;
    struct dmp_consumer *c = ut_attach(&cc2);
    int64_t first = -1;
    cr_assert(eq(i64, ut_drain(c, &first), 3));
    cr_assert(eq(i64, first, 0));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(ring_ownership, an_empty_leftover_shm_object_is_reclaimed)
{
  /* What a creator that crashed between shm_open and ftruncate leaves. */
  struct dmp_producer_config cfg = ut_pcfg(DMP_BACKEND_SHM, "own");
  char shm[64];
  snprintf(shm, sizeof shm, "/%s", cfg.name);
  int fd = shm_open(shm, O_CREAT | O_EXCL | O_RDWR, 0600);
  cr_assert(ge(int, fd, 0), "shm_open: %s", strerror(errno));
  close(fd);
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  /* Either reclaimed now, or refused as possibly still being created by
   * a live process (the creation grace period): never anything else. */
  cr_assert(rc == 0 || rc == -DMP_E_INUSE, "got %s (%s)", dmp_err_name(rc), dmp_last_error());
  if (rc == 0) {
    cr_assert(eq(u64, ut_header_read(DMP_BACKEND_SHM, cfg.name).magic, DMP_MAGIC));
    dmp_producer_close(p);
  } else {
    cr_assert(eq(ptr, (void *)p, NULL));
  }
}
