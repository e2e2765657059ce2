/* Journal writer and reader round trips on both I/O backends, rotation by
 * size, seeks, and the reader's verdicts on damaged journals: a torn tail
 * cut at every byte of the last record, corrupted records in stop and skip
 * mode, parts of another recording, a newer version, random bytes. */
#include "jnl.h"

TestSuite(journal_reader, .fini = jn_fini, .timeout = 120);

#define MAXLEN 200

static bool have_uring(void)
{
  struct myelon_journal_writer_config c = jn_wcfg(jn_tmp("probe"), MYELON_JOURNAL_IO_URING);
  struct myelon_journal_writer *w = NULL;
  int rc = myelon_journal_writer_open(&c, &w);
  myelon_journal_writer_close(w, NULL);
  return rc == 0;
}

static void round_trip(enum myelon_journal_io io, const char *backend)
{
  const char *base = jn_tmp("rt");
  struct myelon_journal_writer_config c = jn_wcfg(base, io);
  struct myelon_journal_writer_stats st = jn_write(&c, 11, 500, MAXLEN);
  cr_assert(eq(str, (char *)st.backend, (char *)backend));
  cr_assert(eq(u32, st.parts, 1));
  cr_assert(eq(u64, st.bytes_written, st.bytes_appended));
  int end;
  cr_assert(eq(u64, jn_read_all(base, 0, 11, MAXLEN, &end), 500));
  cr_assert(eq(int, end, 0), "clean end, got %s", myelon_err_name(end));
  /* The part file can be named directly too. */
  cr_assert(eq(u64, jn_read_all(jn_part(base, 1), 0, 11, MAXLEN, &end), 500));
  struct myelon_journal_reader *r = jn_open(base, 0);
  const struct myelon_journal_info *in = myelon_journal_reader_info(r);
  cr_assert(eq(str, (char *)in->ring_name, "test-ring"));
  cr_assert(eq(u32, in->slot_size, 64));
  cr_assert(eq(u32, in->part, 1));
  cr_assert(ne(u64, in->recording_id, 0));
  myelon_journal_reader_close(r);
}

Test(journal_reader, pwrite_journal_reads_back_record_for_record)
{
  round_trip(MYELON_JOURNAL_IO_PWRITE, "pwrite");
}

Test(journal_reader, io_uring_journal_reads_back_record_for_record)
{
  if (!have_uring())
    cr_skip_test("io_uring unavailable (not built with liburing, or refused by the kernel)");
  round_trip(MYELON_JOURNAL_IO_URING, "io_uring");
}

Test(journal_reader, records_larger_than_a_write_buffer_span_buffers)
{
  const char *base = jn_tmp("big");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  jn_write(&c, 5, 40, 3 * 4096 + 17); /* up to three buffers per record */
  int end;
  cr_assert(eq(u64, jn_read_all(base, 0, 5, 3 * 4096 + 17, &end), 40));
  cr_assert(eq(int, end, 0));
}

/* Offsets of every record of a one-part journal. */
static uint64_t offsets(const char *base, uint64_t *off, uint64_t max)
{
  struct myelon_journal_reader *r = jn_open(base, 0);
  struct myelon_journal_record rec;
  uint64_t n = 0;
  while (n < max && myelon_journal_reader_next(r, &rec) == 1)
    off[n++] = rec.offset;
  myelon_journal_reader_close(r);
  return n;
}

Test(journal_reader, torn_tail_at_every_byte_of_the_last_record_keeps_all_before_it)
{
  const char *base = jn_tmp("torn");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  jn_write(&c, 21, 20, MAXLEN);
  size_t size;
  uint8_t *img = jn_read_file(jn_part(base, 1), &size);
  uint64_t off[32];
  cr_assert(eq(u64, offsets(base, off, 32), 20));
  uint64_t last = off[19];
  cr_assert(size - last > 48, "the last record has a payload (record 1 is max length)");
  const char *cut = jn_tmp("cut");
  for (uint64_t n = last; n < size; n++) {
    jn_write_file(cut, img, (size_t)n);
    int end;
    uint64_t got = jn_read_all(cut, 0, 21, MAXLEN, &end);
    cr_assert(eq(u64, got, 19), "cut at %llu: %llu records", (unsigned long long)n, (unsigned long long)got);
    cr_assert(eq(int, end, n == last ? 0 : -MYELON_E_TORN), "cut at %llu: %s", (unsigned long long)n,
              myelon_err_name(end));
    if (n > last) { /* the status is sticky and the reader says where */
      struct myelon_journal_reader *r = jn_open(cut, 0);
      struct myelon_journal_record rec;
      while (myelon_journal_reader_next(r, &rec) == 1)
        ;
      cr_assert(eq(int, myelon_journal_reader_next(r, &rec), -MYELON_E_TORN));
      uint64_t where;
      myelon_journal_reader_where(r, NULL, &where);
      cr_assert(eq(u64, where, last));
      struct myelon_journal_reader_stats st;
      myelon_journal_reader_stats(r, &st);
      cr_assert(st.torn);
      myelon_journal_reader_close(r);
    }
  }
  /* A crash can also leave the last record's space zero-filled. */
  memset(img + last, 0, size - last);
  jn_write_file(cut, img, size);
  int end;
  cr_assert(eq(u64, jn_read_all(cut, 0, 21, MAXLEN, &end), 19));
  cr_assert(eq(int, end, -MYELON_E_TORN), "zero-filled tail: %s", myelon_err_name(end));
  free(img);
}

/* Damage byte `at` of the image and read it in both modes. */
static void expect_corrupt(uint8_t *img, size_t size, uint64_t *off, uint64_t n, uint64_t k, size_t at)
{
  const char *path = jn_tmp("bad");
  img[at] ^= 0x40;
  jn_write_file(path, img, size);
  img[at] ^= 0x40;
  /* Stop mode: records before k, then CORRUPT at k's offset, sticky. */
  struct myelon_journal_reader *r = jn_open(path, 0);
  struct myelon_journal_record rec;
  uint64_t got = 0;
  int rc;
  while ((rc = myelon_journal_reader_next(r, &rec)) == 1)
    jn_check_rec(&rec, 31, got++, MAXLEN);
  cr_assert(eq(u64, got, k), "byte %zu: stop mode read %llu records", at, (unsigned long long)got);
  cr_assert(eq(int, rc, -MYELON_E_JCORRUPT), "byte %zu: %s", at, myelon_err_name(rc));
  uint64_t where;
  uint32_t part;
  myelon_journal_reader_where(r, &part, &where);
  cr_assert(eq(u64, where, off[k]), "the reader names the record's offset");
  cr_assert(eq(u32, part, 1));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "offset"), NULL), "detail: %s", dmp_last_error());
  cr_assert(eq(int, myelon_journal_reader_next(r, &rec), -MYELON_E_JCORRUPT), "stop mode is sticky");
  myelon_journal_reader_close(r);
  /* Skip mode: the same report once, then every later record. */
  r = jn_open(path, MYELON_JOURNAL_SKIP_CORRUPT);
  got = 0;
  uint64_t reports = 0, i = 0;
  while ((rc = myelon_journal_reader_next(r, &rec)) != 0) {
    if (rc == -MYELON_E_JCORRUPT) {
      reports++;
      cr_assert(eq(u64, i, k));
      i++; /* the damaged record is lost */
      continue;
    }
    cr_assert(eq(int, rc, 1), "byte %zu: skip mode: %s", at, myelon_err_name(rc));
    jn_check_rec(&rec, 31, i++, MAXLEN);
    got++;
  }
  cr_assert(eq(u64, reports, 1), "one report");
  cr_assert(eq(u64, got, n - 1), "byte %zu: skip mode recovered %llu of %llu", at, (unsigned long long)got,
            (unsigned long long)(n - 1));
  struct myelon_journal_reader_stats st;
  myelon_journal_reader_stats(r, &st);
  cr_assert(eq(u64, st.corrupt, 1));
  cr_assert(st.skipped_bytes > 0, "skipped %llu bytes", (unsigned long long)st.skipped_bytes);
  myelon_journal_reader_close(r);
}

Test(journal_reader, corrupted_record_stops_with_its_offset_or_is_skipped)
{
  const char *base = jn_tmp("corrupt");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  jn_write(&c, 31, 30, MAXLEN);
  size_t size;
  uint8_t *img = jn_read_file(jn_part(base, 1), &size);
  uint64_t off[40];
  uint64_t n = offsets(base, off, 40);
  cr_assert(eq(u64, n, 30));
  uint64_t k = 13;
  expect_corrupt(img, size, off, n, k, (size_t)off[k] + 0);      /* magic */
  expect_corrupt(img, size, off, n, k, (size_t)off[k] + 9);      /* length (header CRC) */
  expect_corrupt(img, size, off, n, k, (size_t)off[k] + 17);     /* sequence */
  expect_corrupt(img, size, off, n, k, (size_t)off[k + 1] - 1);   /* last byte (payload or padding) */
  if (off[k + 1] - off[k] > 48)
    expect_corrupt(img, size, off, n, k, (size_t)off[k] + 48); /* first payload byte */
  expect_corrupt(img, size, off, n, 0, (size_t)off[0] + 5);      /* the first record */
  free(img);
}

Test(journal_reader, newer_version_and_foreign_files_are_refused_at_open)
{
  const char *base = jn_tmp("ver");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  jn_write(&c, 1, 3, 10);
  size_t size;
  uint8_t *img = jn_read_file(jn_part(base, 1), &size);
  uint32_t v3 = 3;
  memcpy(img + 8, &v3, 4);
  const char *path = jn_tmp("v3");
  jn_write_file(path, img, size);
  struct myelon_journal_reader *r = NULL;
  cr_assert(eq(int, myelon_journal_reader_open(path, 0, &r), -MYELON_E_JVERSION));
  cr_assert(eq(ptr, r, NULL));
  jn_write_file(path, "hello, world", 12);
  cr_assert(eq(int, myelon_journal_reader_open(path, 0, &r), -MYELON_E_JCORRUPT));
  cr_assert(eq(int, myelon_journal_reader_open(jn_tmp("none"), 0, &r), -ENOENT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "no journal"), NULL), "detail: %s", dmp_last_error());
  cr_assert(eq(int, myelon_journal_reader_open(path, 0x100, &r), -EINVAL), "unknown flags");
  free(img);
}

Test(journal_reader, rotation_by_size_splits_into_parts_each_with_a_header)
{
  const char *base = jn_tmp("rot");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  c.rotate_bytes = 2048;
  struct myelon_journal_writer_stats st = jn_write(&c, 41, 300, 100);
  cr_assert(st.parts > 10, "%u parts", st.parts);
  uint64_t recording = 0;
  for (uint32_t p = 1; p <= st.parts; p++) {
    size_t size;
    uint8_t *img = jn_read_file(jn_part(base, p), &size);
    cr_assert(le(sz, size, 2048), "part %u has %zu bytes", p, size);
    struct myelon_journal_info in;
    cr_assert(eq(int, myelon_journal_header_parse(img, size, &in), 0), "part %u header", p);
    cr_assert(eq(u32, in.part, p));
    if (p == 1)
      recording = in.recording_id;
    cr_assert(eq(u64, in.recording_id, recording), "one recording id");
    free(img);
  }
  cr_assert(eq(int, access(jn_part(base, st.parts + 1), F_OK), -1), "no extra part");
  int end;
  cr_assert(eq(u64, jn_read_all(base, 0, 41, 100, &end), 300));
  cr_assert(eq(int, end, 0));
  /* A part of another recording in the middle is reported, and skipped. */
  const char *other = jn_tmp("other");
  struct myelon_journal_writer_config oc = jn_wcfg(other, MYELON_JOURNAL_IO_AUTO);
  jn_write(&oc, 41, 5, 100);
  size_t osize;
  uint8_t *oimg = jn_read_file(jn_part(other, 1), &osize);
  struct myelon_journal_info oin;
  myelon_journal_header_parse(oimg, osize, &oin);
  oin.part = 3;
  myelon_journal_header_encode(&oin, oimg);
  jn_write_file(jn_part(base, 3), oimg, osize);
  free(oimg);
  struct myelon_journal_reader *r = jn_open(base, 0);
  struct myelon_journal_record rec;
  int rc;
  while ((rc = myelon_journal_reader_next(r, &rec)) == 1)
    ;
  cr_assert(eq(int, rc, -MYELON_E_JCORRUPT));
  uint32_t part;
  myelon_journal_reader_where(r, &part, NULL);
  cr_assert(eq(u32, part, 3));
  myelon_journal_reader_close(r);
  r = jn_open(base, MYELON_JOURNAL_SKIP_CORRUPT);
  uint64_t got = 0;
  while ((rc = myelon_journal_reader_next(r, &rec)) != 0)
    got += rc == 1;
  cr_assert(lt(u64, got, 300));
  cr_assert(got > 250, "only part 3 is lost (%llu read)", (unsigned long long)got);
  myelon_journal_reader_close(r);
}

static void expect_next(struct myelon_journal_reader *r, uint64_t i)
{
  struct myelon_journal_record rec;
  int rc = myelon_journal_reader_next(r, &rec);
  cr_assert(eq(int, rc, 1), "%s", myelon_err_name(rc));
  jn_check_rec(&rec, 51, i, 100);
}

Test(journal_reader, seek_by_sequence_and_time_across_parts)
{
  const char *base = jn_tmp("seek");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  c.rotate_bytes = 4096;
  jn_write(&c, 51, 400, 100);
  struct myelon_journal_reader *r = jn_open(base, 0);
  uint64_t probes[] = {0, 1, 57, 133, 200, 399};
  for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
    uint64_t i = probes[k];
    cr_assert(eq(int, myelon_journal_reader_seek_seq(r, 10 + 3 * i), 0));
    expect_next(r, i);
    if (i + 1 < 400)
      expect_next(r, i + 1); /* and goes on from there */
    cr_assert(eq(int, myelon_journal_reader_seek_seq(r, 10 + 3 * i - (i ? 2 : 0)), 0), "between records");
    expect_next(r, i);
    cr_assert(eq(int, myelon_journal_reader_seek_time(r, INT64_C(1700000000000000000) + (int64_t)i * 1000), 0));
    expect_next(r, i);
  }
  struct myelon_journal_record rec;
  cr_assert(eq(int, myelon_journal_reader_seek_seq(r, 10 + 3 * 400), 0), "past the end");
  cr_assert(eq(int, myelon_journal_reader_next(r, &rec), 0));
  cr_assert(eq(int, myelon_journal_reader_rewind(r), 0));
  expect_next(r, 0);
  myelon_journal_reader_close(r);
}

/* A valid header followed by `len` seeded bytes, sprinkled with record
 * magics and valid records, read to the end in both modes. */
Test(journal_reader, random_bytes_journals_never_crash_or_hang)
{
  const char *base = jn_tmp("rnd");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_PWRITE);
  jn_write(&c, 61, 0, 10);
  size_t hsize;
  uint8_t *hdr = jn_read_file(jn_part(base, 1), &hsize);
  cr_assert(eq(sz, hsize, MYELON_JOURNAL_HEADER_SIZE));
  const char *path = jn_tmp("rndf");
  uint64_t x = 0xfeed;
  uint8_t *img = malloc(MYELON_JOURNAL_HEADER_SIZE + 8192);
  uint8_t payload[64];
  for (int iter = 0; iter < 300; iter++) {
    size_t len = (size_t)((x = jp_mix(x)) % 8192);
    memcpy(img, hdr, MYELON_JOURNAL_HEADER_SIZE);
    uint8_t *body = img + MYELON_JOURNAL_HEADER_SIZE;
    for (size_t i = 0; i < len; i++)
      body[i] = (uint8_t)(x = jp_mix(x));
    for (size_t at = 0; at + 200 < len; at += 8 + (x = jp_mix(x)) % 600) {
      if (x & 1) {
        uint32_t m = MYELON_JOURNAL_RECORD_MAGIC;
        memcpy(body + at, &m, 4);
      } else {
        struct myelon_journal_record rec = jn_rec(iter, at, 64, payload);
        myelon_journal_record_encode(body + at, len - at, &rec);
      }
    }
    jn_write_file(path, img, MYELON_JOURNAL_HEADER_SIZE + len);
    for (uint32_t mode = 0; mode <= MYELON_JOURNAL_SKIP_CORRUPT; mode++) {
      struct myelon_journal_reader *r = jn_open(path, mode);
      struct myelon_journal_record rec;
      int rc, steps = 0;
      while ((rc = myelon_journal_reader_next(r, &rec)) != 0 && steps < 10000) {
        cr_assert(rc == 1 || rc == -MYELON_E_TORN || rc == -MYELON_E_JCORRUPT, "iteration %d: %d", iter, rc);
        if (rc == -MYELON_E_TORN || (rc == -MYELON_E_JCORRUPT && mode == 0))
          break;
        steps++;
      }
      cr_assert(lt(int, steps, 10000), "iteration %d mode %u: the reader terminates", iter, mode);
      myelon_journal_reader_close(r);
    }
  }
  free(img);
  free(hdr);
}
