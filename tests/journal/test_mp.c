/* Record and replay across real processes, through the installed tool:
 * a jnl_role producer publishes a seeded stream, `myelon-journal record`
 * (another process) records it, `myelon-journal replay` publishes the
 * journal into a new ring, and a jnl_role consumer in a fourth process
 * checks every event/message byte for byte, in order, with nothing extra.
 * Raw and framed (multi-frame messages, both frame formats), byte rings
 * (raw DMP_RING_BYTES and framed MYELON_FRAME_BYTES, a producer killed
 * mid-stream), rotation,
 * periodic sync, a full disk, a non-gating recorder that falls behind (the
 * producer never blocks, the drops are reported), and the tool's errors
 * and exit codes. Every wait is bounded; children die with the test. */
#include "jnl.h"

TestSuite(journal_mp, .fini = jn_fini, .timeout = 300);

struct stream {
  bool framed;
  bool mmap;   /**< rings are memory-mapped files (in the private temp dir) */
  enum myelon_frame_format format;
  uint64_t count, seed, capacity;
  uint32_t slot, fcap;
  size_t max;
  bool bytes;  /**< a byte ring of `capacity` bytes (records of jp_len(seed, i, max) bytes) */
};

static void stream_args(struct jn_args *a, const struct stream *s)
{
  jn_arg(a, "--kind");
  jn_arg(a, "%s", s->framed ? "framed" : "raw");
  jn_arg(a, "--backend");
  jn_arg(a, "%s", s->mmap ? "mmap" : "shm");
  jn_arg(a, "--count");
  jn_arg(a, "%llu", (unsigned long long)s->count);
  jn_arg(a, "--seed");
  jn_arg(a, "%llu", (unsigned long long)s->seed);
  jn_arg(a, "--slot");
  jn_arg(a, "%u", s->slot);
  jn_arg(a, "--fcap");
  jn_arg(a, "%u", s->fcap);
  jn_arg(a, "--format");
  jn_arg(a, "%s", s->format == MYELON_FRAME_ALIGNED ? "aligned" : "compact");
  jn_arg(a, "--max");
  jn_arg(a, "%zu", s->max);
  jn_arg(a, "--timeout-ms");
  jn_arg(a, "%d", ts_timeout_ms(JN_CHILD_MS / 2));
  if (s->bytes)
    jn_arg(a, "--shape=bytes");
}

static pid_t producer(const struct stream *s, const char *ring, const char *extra1, const char *extra2)
{
  struct jn_args a;
  jn_role(&a, "producer");
  jn_arg(&a, "--name");
  jn_arg(&a, "%s", ring);
  jn_arg(&a, "--capacity");
  jn_arg(&a, "%llu", (unsigned long long)s->capacity);
  jn_arg(&a, "--wait-consumers");
  jn_arg(&a, "1");
  stream_args(&a, s);
  if (extra1)
    jn_arg(&a, "%s", extra1);
  if (extra2)
    jn_arg(&a, "%s", extra2);
  return jn_spawn(&a, NULL, NULL, 0);
}

static void expect_exit(pid_t pid, int want, const char *who, const char *errfile)
{
  int st = ts_wait(pid, ts_timeout_ms(JN_CHILD_MS));
  if (st != want && errfile && access(errfile, F_OK) == 0) {
    size_t n;
    uint8_t *e = jn_read_file(errfile, &n);
    fprintf(stderr, "%s stderr:\n%.*s\n", who, (int)n, (char *)e);
    free(e);
  }
  cr_assert(eq(int, st, want), "%s exited %d, want %d", who, st, want);
}

/* Record `s` from a producer process with the tool; returns the tool's stderr path. */
static const char *ring_name(const struct stream *s, const char *tag)
{
  return s->mmap ? jn_tmp(tag) : ts_shm_name(tag);
}

static const char *record(const struct stream *s, const char *base, const char *opt1, const char *opt2)
{
  const char *ring = ring_name(s, "jr");
  const char *err = jn_tmp("rec-err");
  struct jn_args a;
  jn_tool(&a);
  jn_arg(&a, "record");
  jn_arg(&a, "--ring");
  jn_arg(&a, "%s", ring);
  jn_arg(&a, "--wait");
  jn_arg(&a, "20");
  if (s->mmap)
    jn_arg(&a, "--mmap");
  if (opt1)
    jn_arg(&a, "%s", opt1);
  if (opt2)
    jn_arg(&a, "%s", opt2);
  jn_arg(&a, "%s", base);
  pid_t rec = jn_spawn(&a, NULL, err, 0);
  pid_t prod = producer(s, ring, NULL, NULL);
  expect_exit(prod, 0, "producer", NULL);
  expect_exit(rec, 0, "recorder", err);
  return err;
}

/* The journal holds exactly the stream, in order. */
static void check_journal(const struct stream *s, const char *base)
{
  struct myelon_journal_reader *r = jn_open(base, 0);
  const struct myelon_journal_info *in = myelon_journal_reader_info(r);
  cr_assert(eq(int, (int)in->kind, s->framed ? MYELON_JOURNAL_FRAMED : MYELON_JOURNAL_RAW));
  cr_assert(eq(int, !!(in->flags & MYELON_JOURNAL_F_BYTES), s->bytes), "byte ring flag");
  struct myelon_journal_record rec;
  uint8_t *want = malloc(s->max > s->slot ? s->max + 1 : s->slot + 1);
  uint64_t n = 0, next_seq = 0;
  int rc;
  while ((rc = myelon_journal_reader_next(r, &rec)) == 1) {
    size_t len = s->framed || s->bytes ? jp_len(s->seed, n, s->max) : s->slot;
    if (s->bytes && !s->framed) { /* a record's first block: after the previous record's blocks */
      cr_assert(ge(u64, rec.seq, next_seq), "record %llu: seq %llu", (unsigned long long)n,
                (unsigned long long)rec.seq);
      next_seq = rec.seq + (16 + rec.len + 63) / 64;
    } else {
      cr_assert(eq(u64, rec.seq, n), "record %llu: seq", (unsigned long long)n);
    }
    cr_assert(eq(int, jp_check(rec.data, rec.len, s->seed, n, len), 0), "record %llu: payload (%u bytes)",
              (unsigned long long)n, rec.len);
    if (s->framed)
      cr_assert(eq(u8, rec.kind, (uint8_t)n));
    n++;
  }
  cr_assert(eq(int, rc, 0), "%s", myelon_err_name(rc));
  cr_assert(eq(u64, n, s->count));
  free(want);
  myelon_journal_reader_close(r);
}

/* Replay `base` with the tool into a new ring read by a consumer process. */
static void replay_and_check(const struct stream *s, const char *base, const char *opt1)
{
  const char *ring = ring_name(s, "jp");
  const char *err = jn_tmp("rep-err");
  struct jn_args c;
  jn_role(&c, "consumer");
  jn_arg(&c, "--name");
  jn_arg(&c, "%s", ring);
  stream_args(&c, s);
  pid_t cons = jn_spawn(&c, NULL, NULL, 0);
  struct jn_args a;
  jn_tool(&a);
  jn_arg(&a, "replay");
  jn_arg(&a, "--ring");
  jn_arg(&a, "%s", ring);
  jn_arg(&a, "--wait-consumers");
  jn_arg(&a, "1");
  jn_arg(&a, "--wait-timeout");
  jn_arg(&a, "20");
  jn_arg(&a, "--publish-timeout");
  jn_arg(&a, "20");
  if (s->mmap)
    jn_arg(&a, "--mmap");
  if (opt1)
    jn_arg(&a, "%s", opt1);
  jn_arg(&a, "%s", base);
  pid_t rep = jn_spawn(&a, NULL, err, 0);
  expect_exit(rep, 0, "replayer", err);
  expect_exit(cons, 0, "consumer", NULL);
}

/* ---- byte rings -------------------------------------------------------- */

/* A byte ring of 8 KiB (64-byte blocks): raw records up to 4080 bytes,
 * framed messages up to 4064; jp_len gives 0, the largest, 1, then seeded
 * sizes (odd ones among them). Recorded by the tool from a producer
 * process, the journal checked record by record, replayed by the tool into
 * a new byte ring that a consumer process checks: every record once, in
 * order, byte-exact, nothing after. Both backends. */
Test(journal_mp, byte_rings_recorded_and_replayed_byte_identical_shm_and_mmap)
{
  for (int k = 0; k < 4; k++) {
    bool framed = k & 1, mmap = k & 2;
    struct stream s = {framed, mmap, MYELON_FRAME_COMPACT, 1500, 700 + (uint64_t)k, 8192, 64, 128,
                       framed ? 4064 : 4080, true};
    const char *base = jn_tmp("bytes");
    record(&s, base, k == 3 ? "--rotate-size=64k" : NULL, NULL);
    check_journal(&s, base);
    struct myelon_journal_reader *r = jn_open(base, 0);
    const struct myelon_journal_info *in = myelon_journal_reader_info(r);
    cr_assert(eq(u64, in->ring_capacity, 8192), "ring bytes");
    cr_assert(eq(u32, in->slot_size, 64), "block");
    cr_assert(eq(u32, in->frame_capacity, (uint32_t)s.max), "largest record (framed: message)");
    cr_assert(eq(u32, in->frame_format, framed ? (uint32_t)MYELON_FRAME_BYTES : 0u));
    myelon_journal_reader_close(r);
    size_t n;
    uint8_t *img = jn_read_file(jn_part(base, 1), &n);
    uint32_t version;
    memcpy(&version, img + 8, 4);
    free(img);
    cr_assert(eq(u32, version, 2), "a byte ring's journal is version 2 on disk");
    const char *out = jn_tmp("out"), *err = jn_tmp("err");
    struct jn_args a;
    jn_tool(&a);
    jn_arg(&a, "info");
    jn_arg(&a, "%s", base);
    cr_assert(eq(int, jn_run(&a, out, err), 0));
    cr_assert(jn_file_has(out, "version 2"));
    cr_assert(jn_file_has(out, "byte ring"));
    cr_assert(jn_file_has(out, "ring bytes     8192"));
    cr_assert(jn_file_has(out, framed ? "largest message 4064" : "largest record  4080"));
    jn_tool(&a);
    jn_arg(&a, "verify");
    jn_arg(&a, "%s", base);
    cr_assert(eq(int, jn_run(&a, out, err), 0));
    cr_assert(jn_file_has(out, "ok: 1500 records"));
    replay_and_check(&s, base, k == 1 ? "--pace=50000" : NULL);
  }
}

/* Read the number a --prefix consumer printed. */
static uint64_t read_count(const char *path)
{
  size_t n;
  uint8_t *b = jn_read_file(path, &n);
  char *t = realloc(b, n + 1);
  t[n] = '\0';
  uint64_t v = strtoull(t, NULL, 10);
  free(t);
  return v;
}

/* `myelon-journal record --ring RING --wait=20 OPT BASE`: the recorder
 * the kill, cut-off and non-gating tests start. */
static void record_cmd(struct jn_args *a, const char *ring, const char *opt, const char *base)
{
  jn_tool(a);
  jn_arg(a, "record");
  jn_arg(a, "--ring");
  jn_arg(a, "%s", ring);
  jn_arg(a, "--wait=20");
  jn_arg(a, "%s", opt);
  jn_arg(a, "%s", base);
}

/* A producer SIGKILLed mid-stream: the recorder (gating, the tool) and a
 * gating consumer process both read until the producer is seen dead. The
 * journal holds exactly what the consumer got (everything published), as
 * a whole prefix of the stream: no torn or half record. Replayed into a
 * byte ring, a consumer process gets exactly those records again. */
Test(journal_mp, byte_ring_producer_killed_mid_stream_leaves_exactly_what_was_published)
{
  for (int framed = 0; framed < 2; framed++) {
    struct stream s = {framed, false, MYELON_FRAME_COMPACT, 100000000, 800 + (uint64_t)framed, 4096, 64, 128,
                       framed ? 1000 : 1999, true};
    const char *ring = ts_shm_name("jk");
    const char *base = jn_tmp("kill");
    const char *err = jn_tmp("kill-err");
    const char *cout = jn_tmp("kill-count");
    struct jn_args a;
    record_cmd(&a, ring, "--buffer-size=4k", base);
    pid_t rec = jn_spawn(&a, NULL, err, 0);
    struct jn_args c;
    jn_role(&c, "consumer");
    jn_arg(&c, "--name");
    jn_arg(&c, "%s", ring);
    jn_arg(&c, "--prefix");
    stream_args(&c, &s);
    pid_t cons = jn_spawn(&c, cout, NULL, 0);
    struct jn_args p;
    jn_role(&p, "producer");
    jn_arg(&p, "--name");
    jn_arg(&p, "%s", ring);
    jn_arg(&p, "--capacity=%llu", (unsigned long long)s.capacity);
    jn_arg(&p, "--wait-consumers=2");
    stream_args(&p, &s);
    pid_t prod = jn_spawn(&p, NULL, NULL, 0);
    /* Kill it once the journal has grown past 64 KiB: mid-stream, bounded. */
    int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
    struct stat sb;
    while ((stat(jn_part(base, 1), &sb) != 0 || sb.st_size < 65536) && ts_now_ns() < deadline)
      usleep(1000);
    cr_assert(ge(i64, (int64_t)sb.st_size, 65536), "the journal grew");
    kill(prod, SIGKILL);
    cr_assert(eq(int, ts_wait(prod, ts_timeout_ms(JN_CHILD_MS)), 128 + SIGKILL), "the producer died of the kill");
    expect_exit(rec, 0, "recorder (ends when the producer is dead)", err);
    expect_exit(cons, 0, "consumer (a prefix of the stream)", NULL);
    uint64_t got = read_count(cout);
    cr_assert(gt(u64, got, 0));
    cr_assert(lt(u64, got, s.count), "killed mid-stream");
    /* Exactly the consumer's records, whole, in order; then a clean end. */
    struct myelon_journal_reader *r = jn_open(base, 0);
    struct myelon_journal_record rr;
    uint64_t n = 0;
    int rc;
    while ((rc = myelon_journal_reader_next(r, &rr)) == 1) {
      cr_assert(eq(int, jp_check(rr.data, rr.len, s.seed, n, jp_len(s.seed, n, s.max)), 0), "record %llu",
                (unsigned long long)n);
      n++;
    }
    myelon_journal_reader_close(r);
    cr_assert(eq(int, rc, 0), "no torn or corrupt tail: %s", myelon_err_name(rc));
    cr_assert(eq(u64, n, got), "journal %llu records, consumer %llu", (unsigned long long)n,
              (unsigned long long)got);
    s.count = got;
    replay_and_check(&s, base, NULL);
  }
}

Test(journal_mp, raw_stream_recorded_and_replayed_byte_identical_in_order)
{
  struct stream s = {false, false, MYELON_FRAME_COMPACT, 5000, 101, 64, 200, 128, 1000, false};
  const char *base = jn_tmp("raw");
  const char *err = record(&s, base, "--rotate-size", "256k");
  check_journal(&s, base);
  cr_assert(ge(int, access(jn_part(base, 2), F_OK), 0), "rotated into several parts");
  cr_assert(jn_file_has(err, "5000 records"), "summary counts the records");
  replay_and_check(&s, base, NULL);
}

Test(journal_mp, framed_multi_frame_messages_recorded_and_replayed_byte_identical_shm_and_mmap_and_into_byte_rings)
{
  for (int f = 0; f < 2; f++) {
    struct stream s = {true, f == 1, f ? MYELON_FRAME_ALIGNED : MYELON_FRAME_COMPACT, 2000, 202 + (uint64_t)f, 32, 64,
                       128, 1500, false}; /* the aligned run uses mmap rings */
    const char *base = jn_tmp("framed");
    record(&s, base, "--sync-interval", "5");
    check_journal(&s, base);
    replay_and_check(&s, base, f ? "--pace=20000" : NULL);
    /* record.h: a framed slot ring's journal also replays into a byte ring
     * (--bytes), read by a MYELON_FRAME_BYTES consumer process. */
    struct stream sb = s;
    sb.bytes = true;
    replay_and_check(&sb, base, "--bytes");
  }
}

Test(journal_mp, periodic_sync_leaves_every_record_durable)
{
  struct stream s = {false, false, MYELON_FRAME_COMPACT, 3000, 303, 64, 100, 128, 1000, false};
  const char *base = jn_tmp("sync");
  const char *err = record(&s, base, "--sync-interval=2", "--io=pwrite");
  cr_assert(jn_file_has(err, "written 3000, durable 3000"), "the summary counts durable records");
  cr_assert(jn_file_has(err, "io pwrite"));
  check_journal(&s, base);
}

Test(journal_mp, a_full_disk_stops_the_recorder_with_the_records_lost)
{
  struct stream s = {false, false, MYELON_FRAME_COMPACT, 3000, 404, 64, 200, 128, 1000, false};
  const char *ring = ts_shm_name("jf");
  const char *base = jn_tmp("full");
  const char *err = jn_tmp("full-err");
  struct jn_args a;
  record_cmd(&a, ring, "--buffer-size=8k", base);
  pid_t rec = jn_spawn(&a, NULL, err, 100000); /* 100 kB: about 400 of the 3000 events */
  pid_t prod = producer(&s, ring, NULL, NULL);
  expect_exit(rec, 1, "recorder", NULL);
  expect_exit(prod, 0, "producer (released when the recorder left)", NULL);
  cr_assert(jn_file_has(err, "File too large"), "the error is named");
  cr_assert(jn_file_has(err, "NOT written"), "the loss is counted");
  int end;
  struct myelon_journal_reader *r = jn_open(base, 0);
  struct myelon_journal_record rec_;
  uint64_t n = 0;
  while ((end = myelon_journal_reader_next(r, &rec_)) == 1)
    n++;
  myelon_journal_reader_close(r);
  cr_assert(n > 100, "%llu records readable", (unsigned long long)n);
  cr_assert(lt(u64, n, 3000));
  cr_assert(end == 0 || end == -MYELON_E_TORN);
}

/* A non-gating recorder is stopped (SIGSTOP) while the producer publishes
 * everything without ever finding the ring full; resumed, it records what
 * is left and reports the rest as dropped: recorded + dropped = published. */
static void non_gating(bool framed)
{
  struct stream s = {framed, false, MYELON_FRAME_COMPACT, 4000, 505, 64, 256, 128, 400, false};
  const char *ring = ts_shm_name("jn");
  const char *base = jn_tmp("ng");
  const char *err = jn_tmp("ng-err");
  const char *ready = jn_tmp("ng-ready");
  const char *go = jn_tmp("ng-go");
  struct jn_args a;
  record_cmd(&a, ring, "--non-gating", base);
  pid_t rec = jn_spawn(&a, NULL, err, 0);
  char r1[600], g1[600];
  snprintf(r1, sizeof r1, "--ready-file=%s", ready);
  snprintf(g1, sizeof g1, "--go-file=%s", go);
  struct jn_args p;
  jn_role(&p, "producer");
  jn_arg(&p, "--name");
  jn_arg(&p, "%s", ring);
  jn_arg(&p, "--capacity=64");
  jn_arg(&p, "--wait-consumers=1");
  jn_arg(&p, "--never-block");
  jn_arg(&p, "%s", r1);
  jn_arg(&p, "%s", g1);
  stream_args(&p, &s);
  pid_t prod = jn_spawn(&p, NULL, NULL, 0);
  cr_assert(ts_wait_path(ready, ts_timeout_ms(20000)), "the recorder attached");
  kill(rec, SIGSTOP);
  jn_write_file(go, "", 0);
  expect_exit(prod, 0, "producer (never blocked)", NULL);
  kill(rec, SIGCONT);
  expect_exit(rec, 0, "recorder", err);
  cr_assert(jn_file_has(err, "non-gating"), "the summary names the mode");
  size_t n;
  uint8_t *e = jn_read_file(err, &n);
  char *text = realloc(e, n + 1);
  text[n] = '\0';
  unsigned long long recorded = 0, dropped = 0;
  char *at = strstr(text, "records (");
  cr_assert(ne(ptr, at, NULL), "%s", text);
  while (at > text && at[-1] == ' ')
    at--;
  while (at > text && at[-1] >= '0' && at[-1] <= '9')
    at--;
  recorded = strtoull(at, NULL, 10);
  char *d = strstr(text, "DROPPED ");
  cr_assert(ne(ptr, d, NULL), "%s", text);
  dropped = strtoull(d + 8, NULL, 10);
  /* The recorder's summary goes into the messages: it tells a late start
   * (few records, small lag) from a drop that was not counted. */
  cr_assert(dropped > 0, "a stopped non-gating recorder drops (dropped %llu): %s", dropped, text);
  cr_assert(recorded > 0, "recorded %llu: %s", recorded, text);
  cr_assert(eq(u64, recorded + dropped, s.count), "recorded %llu + dropped %llu: %s", recorded, dropped, text);
  free(text);
  /* What was recorded is intact, and the first record after a loss says so. */
  struct myelon_journal_reader *r = jn_open(base, 0);
  cr_assert(myelon_journal_reader_info(r)->flags & MYELON_JOURNAL_F_NON_GATING);
  struct myelon_journal_record rec_;
  uint64_t got = 0, gaps = 0;
  int rc;
  while ((rc = myelon_journal_reader_next(r, &rec_)) == 1) {
    uint64_t i;
    if (rec_.len >= 8)
      memcpy(&i, rec_.data, 8);
    else
      i = framed ? rec_.msg_id - 1 : rec_.seq;
    size_t len = framed ? jp_len(s.seed, i, s.max) : s.slot;
    cr_assert(eq(int, jp_check(rec_.data, rec_.len, s.seed, i, len), 0), "record %llu", (unsigned long long)got);
    gaps += (rec_.flags & MYELON_JREC_F_GAP) != 0;
    got++;
  }
  myelon_journal_reader_close(r);
  cr_assert(eq(int, rc, 0));
  cr_assert(eq(u64, got, recorded));
  cr_assert(ge(u64, gaps, 1), "a record is flagged after the loss");
}

Test(journal_mp, non_gating_recorder_never_blocks_the_producer_and_reports_drops_raw)
{
#ifndef DMP_CONSUMER_NON_GATING
  cr_skip_test("Layer 0 has no non-gating consumers");
#endif
  non_gating(false);
}

Test(journal_mp, non_gating_recorder_never_blocks_the_producer_and_reports_drops_framed)
{
#ifndef DMP_CONSUMER_NON_GATING
  cr_skip_test("Layer 0 has no non-gating consumers");
#endif
  non_gating(true);
}

/* ---- the tool's interface ---------------------------------------------- */

static int tool(const char *out, const char *err, const char *a1, const char *a2, const char *a3, const char *a4)
{
  struct jn_args a;
  jn_tool(&a);
  const char *v[] = {a1, a2, a3, a4};
  for (int k = 0; k < 4 && v[k]; k++)
    jn_arg(&a, "%s", v[k]);
  return jn_run(&a, out, err);
}

Test(journal_mp, tool_help_usage_and_clear_errors)
{
  const char *out = jn_tmp("out"), *err = jn_tmp("err");
  cr_assert(eq(int, tool(out, err, "--help", NULL, NULL, NULL), 0));
  cr_assert(jn_file_has(out, "exit codes"));
  const char *cmds[] = {"record", "replay", "cat", "verify", "info"};
  for (int k = 0; k < 5; k++) {
    cr_assert(eq(int, tool(out, err, cmds[k], "--help", NULL, NULL), 0), "%s --help", cmds[k]);
    cr_assert(jn_file_has(out, "usage: myelon-journal"), "%s --help", cmds[k]);
  }
  cr_assert(eq(int, tool(out, err, NULL, NULL, NULL, NULL), 2), "no command");
  cr_assert(eq(int, tool(out, err, "frobnicate", NULL, NULL, NULL), 2));
  cr_assert(eq(int, tool(out, err, "record", "--ring", "x", NULL), 2), "no journal");
  cr_assert(eq(int, tool(out, err, "record", "--bogus", "x", NULL), 2));
  cr_assert(eq(int, tool(out, err, "replay", "--pace", "fast", "j"), 2));
  /* A missing ring. */
  const char *base = jn_tmp("nojournal");
  cr_assert(eq(int, tool(out, err, "record", "--ring", ts_shm_name("missing"), base), 1));
  cr_assert(jn_file_has(err, "no such ring"), "missing ring named (the tools' \"no such ring\")");
  cr_assert(eq(int, access(jn_part(base, 1), F_OK), -1), "no journal left behind");
  /* An unwritable path. */
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = ts_shm_name("jt");
  pc.capacity = 8;
  pc.slot_size = 16;
  struct dmp_producer *p = NULL;
  cr_assert(eq(int, dmp_producer_create(&pc, &p), 0));
  cr_assert(eq(int, tool(out, err, "record", "--ring", pc.name, "/nonexistent-dir/j"), 1));
  cr_assert(jn_file_has(err, "cannot record"), "unwritable path");
  cr_assert(jn_file_has(err, "/nonexistent-dir/j.0001"), "the path is named");
  dmp_producer_close(p);
  /* A missing journal. */
  cr_assert(eq(int, tool(out, err, "verify", base, NULL, NULL), 1));
  cr_assert(jn_file_has(err, "no journal"));
}

Test(journal_mp, tool_cat_verify_and_info_describe_a_journal_and_its_damage)
{
  const char *base = jn_tmp("cat");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  jn_write(&c, 7, 50, 100);
  const char *out = jn_tmp("out"), *err = jn_tmp("err");
  cr_assert(eq(int, tool(out, err, "verify", base, NULL, NULL), 0));
  cr_assert(jn_file_has(out, "ok: 50 records in 1 part"));
  cr_assert(eq(int, tool(out, err, "info", base, NULL, NULL), 0));
  cr_assert(jn_file_has(out, "test-ring"));
  cr_assert(eq(int, tool(out, err, "cat", "--payload=hex", base, NULL), 0));
  size_t n;
  uint8_t *text = jn_read_file(out, &n);
  size_t lines = 0;
  for (size_t i = 0; i < n; i++)
    lines += text[i] == '\n';
  free(text);
  cr_assert(eq(sz, lines, 50));
  cr_assert(eq(int, tool(out, err, "cat", "--from-seq=70", "--count=2", base), 0));
  cr_assert(jn_file_has(out, "\t70\t"), "seek: record with seq 70 (record 20)");
  /* Damage record 20: verify says where, exit 3; cat stops there unless told to skip. */
  size_t size;
  uint8_t *img = jn_read_file(jn_part(base, 1), &size);
  struct myelon_journal_reader *r = jn_open(base, 0);
  struct myelon_journal_record rec;
  uint64_t off = 0;
  for (int i = 0; i <= 20 && myelon_journal_reader_next(r, &rec) == 1; i++)
    off = rec.offset;
  myelon_journal_reader_close(r);
  img[off + 20] ^= 0xff;
  jn_write_file(jn_part(base, 1), img, size);
  free(img);
  cr_assert(eq(int, tool(out, err, "verify", base, NULL, NULL), 3));
  char where[64];
  snprintf(where, sizeof where, "offset %llu", (unsigned long long)off);
  cr_assert(jn_file_has(out, where), "verify names %s", where);
  cr_assert(jn_file_has(out, "DAMAGED: 49 records"));
  cr_assert(eq(int, tool(out, err, "cat", base, NULL, NULL), 3));
  cr_assert(eq(int, tool(out, err, "cat", "--skip-corrupt", base, NULL), 3));
  text = jn_read_file(out, &n);
  lines = 0;
  for (size_t i = 0; i < n; i++)
    lines += text[i] == '\n';
  free(text);
  cr_assert(eq(sz, lines, 49), "skip mode prints every other record");
}

Test(journal_mp, replay_refuses_a_ring_of_another_geometry)
{
  const char *base = jn_tmp("geo");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  jn_write(&c, 7, 5, 64);
  const char *out = jn_tmp("out"), *err = jn_tmp("err");
  struct jn_args a;
  jn_tool(&a);
  jn_arg(&a, "replay");
  jn_arg(&a, "--ring");
  jn_arg(&a, "%s", ts_shm_name("geo"));
  jn_arg(&a, "--slot-size=128");
  jn_arg(&a, "%s", base);
  cr_assert(eq(int, jn_run(&a, out, err), 1));
  cr_assert(jn_file_has(err, "64-byte slots"), "the mismatch is explained");
}
