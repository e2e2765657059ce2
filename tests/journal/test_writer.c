/* Journal writer (journal.h): syncs and the durable count, a full disk
 * (RLIMIT_FSIZE in a forked child: writes fail with EFBIG) reported with
 * the count of records not written, existing journals, bad configuration
 * and unwritable paths. Both I/O backends where io_uring is available. */
#include "jnl.h"

#include <sys/mman.h>

TestSuite(journal_writer, .fini = jn_fini, .timeout = 120);

static const enum myelon_journal_io ios[] = {MYELON_JOURNAL_IO_PWRITE, MYELON_JOURNAL_IO_AUTO};

static const char *io_name(enum myelon_journal_io io)
{
  return io == MYELON_JOURNAL_IO_PWRITE ? "pwrite" : "auto";
}

Test(journal_writer, sync_makes_every_appended_record_durable)
{
  for (size_t k = 0; k < 2; k++) {
    const char *base = jn_tmp("sync");
    struct myelon_journal_writer_config c = jn_wcfg(base, ios[k]);
    c.sync = k ? MYELON_JOURNAL_FSYNC : MYELON_JOURNAL_FDATASYNC;
    struct myelon_journal_writer *w = NULL;
    cr_assert(eq(int, myelon_journal_writer_open(&c, &w), 0), "%s", dmp_last_error());
    uint8_t buf[128];
    for (uint64_t i = 0; i < 100; i++) {
      struct myelon_journal_record r = jn_rec(3, i, 100, buf);
      cr_assert(eq(int, myelon_journal_writer_append(w, &r), 0));
    }
    struct myelon_journal_writer_stats st;
    myelon_journal_writer_stats(w, &st);
    cr_assert(eq(u64, st.durable, 0), "nothing is durable before a sync");
    /* The asynchronous sync covers what was appended before it started. */
    cr_assert(eq(int, myelon_journal_writer_sync_start(w), 0));
    int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(10000) * 1000000;
    do {
      cr_assert(eq(int, myelon_journal_writer_poll(w), 0));
      myelon_journal_writer_stats(w, &st);
    } while (st.durable < 100 && ts_now_ns() < deadline);
    cr_assert(eq(u64, st.durable, 100), "%s: durable after sync_start", st.backend);
    cr_assert(ge(u64, st.syncs, 1));
    for (uint64_t i = 100; i < 150; i++) {
      struct myelon_journal_record r = jn_rec(3, i, 100, buf);
      cr_assert(eq(int, myelon_journal_writer_append(w, &r), 0));
    }
    cr_assert(eq(int, myelon_journal_writer_sync(w), 0));
    myelon_journal_writer_stats(w, &st);
    cr_assert(eq(u64, st.durable, 150), "%s: durable after sync", st.backend);
    cr_assert(eq(u64, st.written, 150));
    cr_assert(eq(int, myelon_journal_writer_close(w, &st), 0));
    int end;
    cr_assert(eq(u64, jn_read_all(base, 0, 3, 100, &end), 150));
  }
}

/* What the disk-full child saw (shared mapping). */
struct full_result {
  int open_rc, append_rc, again_rc, close_rc;
  uint64_t failed_at;
  struct myelon_journal_writer_stats final;
  char detail[256];
  char backend[16];
};

static void fill_disk(struct full_result *res, const char *base, enum myelon_journal_io io)
{
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit rl = {20000, 20000};
  if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
    _exit(3);
  struct myelon_journal_writer_config c = jn_wcfg(base, io);
  struct myelon_journal_writer *w = NULL;
  res->open_rc = myelon_journal_writer_open(&c, &w);
  if (res->open_rc < 0)
    _exit(4);
  uint8_t buf[128];
  res->append_rc = 0;
  for (uint64_t i = 0; i < 1000 && res->append_rc == 0; i++) {
    struct myelon_journal_record r = jn_rec(9, i, 100, buf);
    res->append_rc = myelon_journal_writer_append(w, &r);
    res->failed_at = i;
  }
  if (res->append_rc == 0)
    res->append_rc = myelon_journal_writer_flush(w);
  struct myelon_journal_record r = jn_rec(9, 0, 100, buf);
  res->again_rc = myelon_journal_writer_append(w, &r);
  snprintf(res->detail, sizeof res->detail, "%s", dmp_last_error());
  res->close_rc = myelon_journal_writer_close(w, &res->final);
  snprintf(res->backend, sizeof res->backend, "%s", res->final.backend);
  _exit(0);
}

Test(journal_writer, a_full_disk_is_a_clear_error_with_the_records_not_written)
{
  struct full_result *res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(ne(ptr, res, MAP_FAILED));
  for (size_t k = 0; k < 2; k++) {
    memset(res, 0, sizeof *res);
    const char *base = jn_tmp("full");
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0)
      fill_disk(res, base, ios[k]);
    cr_assert(eq(int, ts_wait(pid, ts_timeout_ms(30000)), 0), "%s: child failed", io_name(ios[k]));
    cr_assert(eq(int, res->append_rc, -EFBIG), "%s (%s): append returned %s", io_name(ios[k]), res->backend,
              myelon_err_name(res->append_rc));
    cr_assert(eq(int, res->again_rc, -EFBIG), "the error is sticky");
    cr_assert(eq(int, res->close_rc, -EFBIG), "close reports it");
    cr_assert(eq(int, res->final.error, -EFBIG));
    cr_assert(ge(u64, res->final.write_errors, 1));
    cr_assert(res->final.written > 0, "written %llu", (unsigned long long)res->final.written);
    cr_assert(res->final.appended > res->final.written, "%s: %llu appended, %llu written", res->backend,
              (unsigned long long)res->final.appended, (unsigned long long)res->final.written);
    cr_assert(ne(ptr, strstr(res->detail, "written"), NULL), "detail names the counts: %s", res->detail);
    /* What is in the file is readable: at least the records counted as
     * written, fewer than appended, ending in a torn tail or cleanly. */
    int end;
    uint64_t got = jn_read_all(base, 0, 9, 100, &end);
    cr_assert(ge(u64, got, res->final.written));
    cr_assert(lt(u64, got, res->final.appended));
    cr_assert(end == 0 || end == -MYELON_E_TORN, "%s", myelon_err_name(end));
  }
  munmap(res, sizeof *res);
}

Test(journal_writer, an_existing_journal_is_kept_unless_overwrite_is_asked)
{
  const char *base = jn_tmp("exist");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  c.rotate_bytes = 1024;
  struct myelon_journal_writer_stats st = jn_write(&c, 1, 60, 50);
  cr_assert(st.parts > 2, "%u parts", st.parts);
  struct myelon_journal_writer *w = NULL;
  c.rotate_bytes = 0;
  cr_assert(eq(int, myelon_journal_writer_open(&c, &w), -EEXIST));
  cr_assert(ne(ptr, strstr(dmp_last_error(), ".0001"), NULL), "detail: %s", dmp_last_error());
  c.flags = MYELON_JOURNAL_W_OVERWRITE;
  jn_write(&c, 2, 5, 50);
  cr_assert(eq(int, access(jn_part(base, 2), F_OK), -1), "old parts removed");
  int end;
  cr_assert(eq(u64, jn_read_all(base, 0, 2, 50, &end), 5));
}

Test(journal_writer, bad_configuration_and_unwritable_paths_are_refused)
{
  struct myelon_journal_writer_config c = jn_wcfg(jn_tmp("cfg"), MYELON_JOURNAL_IO_AUTO);
  struct myelon_journal_writer *w = (void *)1;
  struct myelon_journal_writer_config bad = c;
  bad.buffers = 1;
  cr_assert(eq(int, myelon_journal_writer_open(&bad, &w), -DMP_E_BADCONFIG));
  cr_assert(eq(ptr, w, NULL));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "buffers"), NULL), "%s", dmp_last_error());
  bad = c;
  bad.buffer_size = 100;
  cr_assert(eq(int, myelon_journal_writer_open(&bad, &w), -DMP_E_BADCONFIG));
  bad = c;
  bad.flags = 0x80;
  cr_assert(eq(int, myelon_journal_writer_open(&bad, &w), -DMP_E_BADCONFIG));
  bad = c;
  bad.path = NULL;
  cr_assert(eq(int, myelon_journal_writer_open(&bad, &w), -DMP_E_BADCONFIG));
  bad = c;
  bad.info.kind = (enum myelon_journal_kind)9;
  cr_assert(eq(int, myelon_journal_writer_open(&bad, &w), -DMP_E_BADCONFIG));
  cr_assert(eq(int, myelon_journal_writer_open(NULL, &w), -EINVAL));
  bad = c;
  bad.path = "/nonexistent-dir-for-journal-test/j";
  cr_assert(eq(int, myelon_journal_writer_open(&bad, &w), -ENOENT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "cannot create"), NULL), "%s", dmp_last_error());
  if (geteuid() != 0) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s.ro", jn_tmp("ro"));
    cr_assert(eq(int, mkdir(dir, 0500), 0));
    char path[700];
    snprintf(path, sizeof path, "%s/j", dir);
    bad.path = path;
    int rc = myelon_journal_writer_open(&bad, &w);
    chmod(dir, 0700);
    rmdir(dir);
    cr_assert(eq(int, rc, -EACCES), "%s", myelon_err_name(rc));
  }
#ifndef JNL_HAVE_URING
  bad = c;
  bad.io = MYELON_JOURNAL_IO_URING;
  cr_assert(eq(int, myelon_journal_writer_open(&bad, &w), -EOPNOTSUPP), "not built with liburing");
#endif
  cr_assert(eq(int, myelon_journal_writer_close(NULL, NULL), 0));
}

Test(journal_writer, appends_are_bounded_by_the_buffers_in_flight)
{
  const char *base = jn_tmp("bound");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  struct myelon_journal_writer *w = NULL;
  cr_assert(eq(int, myelon_journal_writer_open(&c, &w), 0));
  uint8_t buf[1100];
  for (uint64_t i = 0; i < 2000; i++) {
    struct myelon_journal_record r = jn_rec(4, i, 1000, buf);
    cr_assert(eq(int, myelon_journal_writer_append(w, &r), 0));
    struct myelon_journal_writer_stats st;
    myelon_journal_writer_stats(w, &st);
    cr_assert(le(u32, st.in_flight, c.buffers), "record %llu: %u writes in flight", (unsigned long long)i, st.in_flight);
    cr_assert(le(u64, st.bytes_appended - st.bytes_written, (uint64_t)c.buffers * c.buffer_size),
              "unwritten bytes bounded by the buffers");
  }
  cr_assert(eq(int, myelon_journal_writer_close(w, NULL), 0));
  int end;
  cr_assert(eq(u64, jn_read_all(base, 0, 4, 1000, &end), 2000));
}
