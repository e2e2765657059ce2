/* The framed API on a byte ring (frame.h, MYELON_FRAME_BYTES; framed.h):
 * every message size up to the ring's largest on both backends and two
 * blocks, too big on every publish path, records that wrap with padding,
 * zero-copy claims committed shorter, batches both ways, non-gating
 * readers that are lapped, format checks on attach, bad records written
 * behind the producer's back, timeouts, the producer going away, and
 * liveness; 4 producer processes x 2 consumers on a multi-producer byte
 * ring. The slot-format suites run on byte rings too (the *_bytes
 * tests of this suite, FR_BYTES in framing.h). */
#include "framing.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(bytes_framed, .fini = fr_fini, .timeout = FR_TIMEOUT);

/* A framed byte ring of `ring_bytes` bytes and `block`-byte blocks (0:
 * the default), with consumer "c0" unless `consumer` is false. */
static struct fr_ring br_open(enum dmp_backend b, uint64_t ring_bytes, uint32_t block, size_t max_message,
                              bool consumer)
{
  struct myelon_producer_config pc = fr_pcfg(b, MYELON_FRAME_BYTES, 0, 0, "frb");
  pc.ring_bytes = ring_bytes;
  pc.ring.slot_size = block;
  if (max_message)
    pc.max_message = max_message;
  struct fr_ring r;
  memset(&r, 0, sizeof r);
  r.pc = pc;
  r.fmt = MYELON_FRAME_BYTES;
  r.p = fr_create(&r.pc);
  if (consumer) {
    struct myelon_consumer_config cc = fr_ccfg(&r.pc, "c0");
    r.c = fr_attach(&cc);
  }
  return r;
}

/* The largest message of a ring of `ring` bytes: half of it less a
 * record header and a frame header (frame.h). */
static size_t br_max(uint64_t ring)
{
  return (size_t)(ring / 2 - MYELON_BYTES_OVERHEAD);
}

Test(bytes_framed, every_size_up_to_the_max_on_both_backends_and_two_blocks)
{
  static const uint32_t blocks[] = {0, 16};
  const uint64_t ring = 4096;
  uint8_t *data = malloc(ring);
  cr_assert(ne(ptr, data, NULL));
  for (int b = 0; b < 2; b++) {
    for (int bi = 0; bi < 2; bi++) {
      struct fr_ring r = br_open(fr_backends[b], ring, blocks[bi], 0, true);
      size_t max = br_max(ring);
      cr_assert(eq(sz, myelon_producer_max_message(r.p), max), "16 MiB default taken as the ring's largest");
      cr_assert(eq(u32, myelon_producer_frame_capacity(r.p), (uint32_t)max));
      cr_assert(eq(u32, myelon_consumer_frame_capacity(r.c), (uint32_t)max));
      uint32_t last_id = 0;
      for (size_t len = 0; len <= max; len++) {
        fr_pattern(data, len, (uint32_t)len);
        fr_publish_ok(r.p, data, len, (uint8_t)len);
        struct myelon_msg m = fr_recv_now(r.c);
        cr_assert(eq(sz, m.len, len), "%s block %u", fr_backend_name(fr_backends[b]), blocks[bi]);
        cr_assert(eq(u8, m.kind, (uint8_t)len));
        cr_assert(m.zero_copy, "one record, delivered in place");
        cr_assert(eq(u64, (uintptr_t)m.data % 16, 0), "16-byte aligned");
        cr_assert(gt(u32, m.msg_id, last_id), "ids grow");
        last_id = m.msg_id;
        cr_assert(eq(int, memcmp(m.data, data, len), 0), "content of %zu bytes", len);
        myelon_consumer_release(r.c);
      }
      fr_expect_empty(r.c);
      fr_close(&r);
    }
  }
  free(data);
}

Test(bytes_framed, too_big_is_toobig_on_every_path_and_publishes_nothing)
{
  const uint64_t ring = 2048;
  struct fr_ring r = br_open(DMP_BACKEND_SHM, ring, 0, 0, true);
  size_t max = br_max(ring);
  uint8_t *data = calloc(1, ring);
  cr_assert(ne(ptr, data, NULL));
  struct dmp_producer *raw = myelon_producer_ring(r.p);
  int64_t seq = dmp_producer_sequence(raw);
  cr_assert(eq(int, myelon_producer_publish(r.p, data, max + 1, 0, 0), -MYELON_E_TOOBIG));
  cr_assert(eq(int, myelon_producer_try_publish(r.p, data, max + 1, 0), -MYELON_E_TOOBIG));
  uint64_t failed = 77;
  cr_assert(eq(int, myelon_producer_publish_managed(r.p, data, max + 1, 0, 0, &failed), -MYELON_E_TOOBIG));
  struct myelon_batch_msg batch[2] = {{data, 1, 0}, {data, max + 1, 0}};
  size_t published = 77;
  cr_assert(eq(int, myelon_producer_publish_batch(r.p, batch, 2, 0, &published), -MYELON_E_TOOBIG));
  cr_assert(eq(sz, published, 0));
  void *buf;
  cr_assert(eq(int, myelon_producer_claim(r.p, max + 1, &buf, 0), -MYELON_E_TOOBIG), "above the max (and capacity)");
  cr_assert(eq(i64, dmp_producer_sequence(raw), seq), "nothing published");
  fr_expect_empty(r.c);
  fr_publish_ok(r.p, data, max, 1);
  struct myelon_msg m = fr_recv_now(r.c);
  cr_assert(eq(sz, m.len, max));
  fr_close(&r);

  /* A max_message below the ring's is the producer's bound... */
  r = br_open(DMP_BACKEND_MMAP, ring, 0, 100, true);
  cr_assert(eq(sz, myelon_producer_max_message(r.p), 100));
  cr_assert(eq(int, myelon_producer_publish(r.p, data, 101, 0, 0), -MYELON_E_TOOBIG));
  fr_publish_ok(r.p, data, 100, 0);
  fr_recv_now(r.c);
  fr_close(&r);

  /* ... and a consumer's smaller one reports TOOBIG and goes on. */
  r = br_open(DMP_BACKEND_SHM, ring, 0, 0, false);
  struct myelon_consumer_config cc = fr_ccfg(&r.pc, "small");
  cc.max_message = 10;
  r.c = fr_attach(&cc);
  fr_pattern(data, 20, 5);
  fr_publish_ok(r.p, data, 11, 1);
  fr_publish_ok(r.p, data, 10, 2);
  cr_assert(eq(int, myelon_consumer_try_recv(r.c, &m), -MYELON_E_TOOBIG));
  m = fr_recv_now(r.c);
  cr_assert(eq(sz, m.len, 10));
  cr_assert(eq(u8, m.kind, 2));
  cr_assert(eq(u64, myelon_consumer_errors(r.c), 1));
  fr_close(&r);
  free(data);
}

Test(bytes_framed, config_checks)
{
  struct myelon_producer *p = (void *)1;
  struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, 8, "cfg");
  pc.ring_bytes = 4096;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG), "ring_bytes with a slot format");
  cr_assert(eq(ptr, p, NULL));
  pc.format = MYELON_FRAME_BYTES;
  pc.ring_bytes = 4000;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG), "not a power of two");
  pc.ring_bytes = 64;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG), "below two blocks");
  pc.ring_bytes = 4096;
  pc.ring.slot_size = 24;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG), "a block that is no power of two");
  pc.ring.slot_size = 0;
  uint32_t slot, align;
  cr_assert(eq(int, myelon_frame_slot(MYELON_FRAME_BYTES, 64, &slot, &align), -MYELON_E_FORMAT), "no slots");
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_BYTES, 64, 1u << 20), 1));
  cr_assert(eq(u32, myelon_frame_header_size(MYELON_FRAME_BYTES), 16));
  cr_assert(ne(u64, myelon_frame_tag(MYELON_FRAME_BYTES, 0), myelon_frame_tag(MYELON_FRAME_ALIGNED, 0)));
  /* Untouched defaults: MYELON_DEFAULT_RING_BYTES. */
  pc.ring_bytes = 0;
  p = fr_create(&pc);
  cr_assert(eq(sz, myelon_producer_max_message(p), br_max(MYELON_DEFAULT_RING_BYTES)));
  cr_assert(eq(u64, dmp_producer_bytes_max(myelon_producer_ring(p)), MYELON_DEFAULT_RING_BYTES / 2 - 16));
  myelon_producer_close(p);
}

/* Every pairing of a framed consumer with a ring of the other shape is a
 * format error and leaves no consumer entry behind. */
Test(bytes_framed, attach_to_the_other_shape_is_a_format_error_and_leaves_no_entry)
{
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = br_open(fr_backends[b], 4096, 0, 0, false);
    static const enum myelon_frame_format slot_fmts[] = {MYELON_FRAME_COMPACT, MYELON_FRAME_ALIGNED};
    for (int i = 0; i < 2; i++) {
      struct myelon_consumer_config cc = fr_ccfg(&r.pc, "x");
      cc.format = slot_fmts[i];
      for (uint32_t fc = 0; fc <= 64; fc += 64) {
        cc.frame_capacity = fc;
        struct myelon_consumer *c = (void *)1;
        int rc = myelon_consumer_attach(&cc, &c);
        cr_assert(eq(int, rc, -MYELON_E_FORMAT), "%s consumer (capacity %u) on a byte ring: %s",
                  fr_format_name(slot_fmts[i]), fc, myelon_err_name(rc));
        cr_assert(eq(ptr, c, NULL));
      }
    }
    for (int i = 0; i < 2 * 4096 / 64; i++) /* two laps of one-block records */
      cr_assert(eq(int, myelon_producer_try_publish(r.p, "x", 1, 0), 0), "gated by a failed attach");
    myelon_producer_close(r.p);

    /* A byte-ring consumer on a slot ring, and on a plain Layer 0 byte ring. */
    struct myelon_producer_config pc = fr_pcfg(fr_backends[b], MYELON_FRAME_ALIGNED, 64, 8, "slot");
    struct myelon_producer *p = fr_create(&pc);
    struct myelon_consumer_config cc = fr_ccfg(&pc, "x");
    cc.format = MYELON_FRAME_BYTES;
    cc.frame_capacity = 0;
    struct myelon_consumer *c = NULL;
    cr_assert(eq(int, myelon_consumer_attach(&cc, &c), -MYELON_E_FORMAT), "%s", dmp_last_error());
    myelon_producer_close(p);
    struct dmp_producer_config dc;
    dmp_producer_config_init(&dc);
    dc.backend = fr_backends[b];
    dc.name = fr_backends[b] == DMP_BACKEND_SHM ? ts_shm_name("plain") : ts_tmp_path("plain");
    dc.flags = DMP_RING_BYTES;
    dc.capacity = 4096;
    struct dmp_producer *dp = NULL;
    cr_assert(eq(int, dmp_producer_create(&dc, &dp), 0), "%s", dmp_last_error());
    cc.ring.name = dc.name;
    cr_assert(eq(int, myelon_consumer_attach(&cc, &c), -MYELON_E_FORMAT), "%s", dmp_last_error());
    dmp_producer_close(dp);
  }
}

/* Records of sizes that do not divide the ring, over many laps: each lap
 * ends in padding (or exactly at the end); the consumer sees every message
 * whole and in order, and never the padding. */
Test(bytes_framed, messages_wrap_with_padding_over_many_laps_on_both_backends)
{
  const uint64_t ring = 1024;
  uint8_t data[512];
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = br_open(fr_backends[b], ring, 0, 0, true);
    struct dmp_producer *raw = myelon_producer_ring(r.p);
    uint64_t rng = 7 + (uint64_t)b;
    uint32_t sent = 0;
    size_t lens[3];
    bool padded = false;
    while (sent < 3000) {
      /* One to three messages in flight, of 0 .. the max (480) bytes. */
      uint32_t k = 1 + (uint32_t)((rng = frm_mix(rng)) % 3), n = 0;
      for (; n < k; n++) {
        size_t len = (size_t)((rng = frm_mix(rng)) % (br_max(ring) + 1));
        int64_t before = dmp_producer_sequence(raw);
        fr_pattern(data, len, sent + n);
        int rc = myelon_producer_try_publish(r.p, data, len, (uint8_t)(sent + n));
        if (rc == -EAGAIN)
          break; /* full: drain first */
        cr_assert(eq(int, rc, 0), "%s", myelon_err_name(rc));
        lens[n] = len;
        uint64_t blocks = (uint64_t)(dmp_producer_sequence(raw) - before);
        uint64_t need = (len + MYELON_BYTES_OVERHEAD + 63) / 64;
        cr_assert(ge(u64, blocks, need), "blocks of a record");
        if (blocks > need)
          padded = true; /* padding claimed with the record */
      }
      cr_assert(gt(u32, n, 0), "an empty ring takes any message up to the max");
      for (uint32_t i = 0; i < n; i++)
        fr_expect_pattern(r.c, lens[i], sent + i, (uint8_t)(sent + i));
      fr_expect_empty(r.c);
      sent += n;
    }
    cr_assert(gt(i64, dmp_producer_sequence(raw), (int64_t)(100 * ring / 64)), "many laps");
    cr_assert(padded, "some records were preceded by padding");
    fr_close(&r);
  }
}

/* A batch across the ring's end: published in runs (the ring is full
 * between them), received in batches, whole and in order. */
Test(bytes_framed, batches_both_ways_across_the_ring_end)
{
  const uint64_t ring = 4096;
  enum { N = 200 };
  static uint8_t data[N][300];
  struct myelon_batch_msg msgs[N];
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = br_open(fr_backends[b], ring, 0, 0, true);
    for (int i = 0; i < N; i++) {
      size_t len = (size_t)(i * 37 % 300);
      fr_pattern(data[i], len, (uint32_t)i);
      msgs[i] = (struct myelon_batch_msg){data[i], len, (uint8_t)i};
    }
    size_t done = 0;
    int got = 0;
    while (got < N) {
      size_t published = 0;
      int rc = myelon_producer_publish_batch(r.p, msgs + done, N - done, 0, &published);
      cr_assert(rc == 0 || rc == -ETIMEDOUT, "%s", myelon_err_name(rc));
      cr_assert(rc == 0 || published < N - done);
      done += published;
      struct myelon_msg m[16];
      int n;
      while ((n = myelon_consumer_recv_batch(r.c, m, 16, 0)) > 0) {
        for (int k = 0; k < n; k++, got++) {
          cr_assert(eq(sz, m[k].len, msgs[got].len), "message %d", got);
          cr_assert(eq(u8, m[k].kind, (uint8_t)got));
          cr_assert(m[k].zero_copy);
          cr_assert(eq(int, memcmp(m[k].data, data[got], m[k].len), 0));
        }
      }
      cr_assert(eq(int, n, -EAGAIN), "%s", myelon_err_name(n));
    }
    cr_assert(eq(sz, done, (size_t)N));
    fr_close(&r);
  }
}

/* A zero-copy claim on a byte ring: committed shorter than claimed, the
 * message has its final length (the record keeps the room); aborted,
 * nothing is seen and the next publish takes the same place. */
Test(bytes_framed, claim_commit_shorter_and_abort)
{
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = br_open(fr_backends[b], 4096, 0, 0, true);
    struct dmp_producer *raw = myelon_producer_ring(r.p);
    void *buf;
    cr_assert(eq(int, myelon_producer_claim(r.p, 1000, &buf, FR_LONG_NS), 0), "%s", dmp_last_error());
    cr_assert(eq(u64, (uintptr_t)buf % 16, 0));
    fr_pattern(buf, 10, 3);
    cr_assert(eq(int, myelon_producer_publish(r.p, "x", 1, 0, 0), -EINVAL), "a claim is open");
    cr_assert(eq(int, myelon_producer_commit(r.p, 10, 9), 0));
    fr_expect_pattern(r.c, 10, 3, 9);
    int64_t seq = dmp_producer_sequence(raw);
    cr_assert(eq(int, myelon_producer_claim(r.p, 100, &buf, 0), 0));
    cr_assert(eq(int, myelon_producer_abort(r.p), 0));
    cr_assert(eq(i64, dmp_producer_sequence(raw), seq), "abort publishes nothing");
    fr_expect_empty(r.c);
    uint8_t data[50];
    fr_pattern(data, sizeof data, 4);
    fr_publish_ok(r.p, data, sizeof data, 1);
    fr_expect_pattern(r.c, sizeof data, 4, 1);
    fr_close(&r);
  }
}

/* Timeouts both ways, and a consumer left alone with what was published. */
Test(bytes_framed, timeouts_and_the_producer_going_away)
{
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = br_open(fr_backends[b], 1024, 0, 0, true);
    struct myelon_msg m;
    cr_assert(eq(int, myelon_consumer_recv(r.c, &m, FR_SHORT_NS), -ETIMEDOUT));
    uint8_t data[480];
    fr_pattern(data, sizeof data, 1);
    fr_publish_ok(r.p, data, sizeof data, 1);
    fr_publish_ok(r.p, data, sizeof data, 1);
    cr_assert(eq(int, myelon_producer_publish(r.p, data, sizeof data, 1, FR_SHORT_NS), -ETIMEDOUT), "full");
    cr_assert(eq(int, myelon_producer_try_publish(r.p, data, 1, 1), -EAGAIN), "full");
    size_t published = 9;
    struct myelon_batch_msg one = {data, 1, 1};
    cr_assert(eq(int, myelon_producer_publish_batch(r.p, &one, 1, FR_SHORT_NS, &published), -ETIMEDOUT));
    cr_assert(eq(sz, published, 0));
    myelon_producer_close(r.p);
    r.p = NULL;
    for (int i = 0; i < 2; i++) {
      cr_assert(eq(int, myelon_consumer_recv(r.c, &m, FR_LONG_NS), 0), "what was published is still read");
      cr_assert(eq(sz, m.len, sizeof data));
    }
    int rc = myelon_consumer_recv(r.c, &m, FR_LONG_NS);
    cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "%s", myelon_err_name(rc));
    fr_close(&r);
  }
}

static void quiet_liveness(struct dmp_liveness_config *lc, const char *const *ids, size_t n)
{
  dmp_liveness_config_init(lc);
  lc->required_ids = ids;
  lc->n_required = n;
  lc->startup_timeout_ns = INT64_C(30000000);
  lc->progress_timeout_ns = INT64_C(20000000);
  lc->check_interval_ns = INT64_C(2000000);
  lc->grace_ns = INT64_C(40000000);
  lc->quiet = true;
}

Test(bytes_framed, managed_publish_runs_the_liveness_checks)
{
  uint8_t data[480];
  fr_pattern(data, sizeof data, 1);
  struct fr_ring r = br_open(DMP_BACKEND_SHM, 1024, 0, 0, true);
  uint64_t failed = 77;
  int rc = myelon_producer_publish_managed(r.p, data, 10, 0, FR_LONG_NS, &failed);
  cr_assert(eq(int, rc, -DMP_E_NOLIVENESS), "%s", myelon_err_name(rc));
  cr_assert(eq(u64, failed, 0));
  const char *c0[] = {"c0"};
  struct dmp_liveness_config lc;
  quiet_liveness(&lc, c0, 1);
  cr_assert(eq(int, dmp_producer_enable_liveness(myelon_producer_ring(r.p), &lc), 0));
  failed = 77;
  cr_assert(eq(int, myelon_producer_publish_managed(r.p, data, sizeof data, 4, FR_LONG_NS, &failed), 0));
  cr_assert(eq(u64, failed, 77), "untouched on success");
  cr_assert(eq(int, myelon_producer_publish_managed(r.p, data, sizeof data, 4, FR_LONG_NS, &failed), 0));
  rc = myelon_producer_publish_managed(r.p, data, sizeof data, 5, FR_LONG_NS, &failed);
  cr_assert(eq(int, rc, -DMP_E_STALLED), "c0 never reads: %s", myelon_err_name(rc));
  cr_assert(eq(u64, failed, 0), "nothing of it published");
  fr_close(&r);
}

/* A non-gating reader never holds the producer back; lapped, it skips what
 * was overwritten and every message it does deliver is intact (the tag of
 * its pattern is its kind). */
Test(bytes_framed, non_gating_reader_is_lapped_and_delivers_only_intact_copies)
{
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = br_open(fr_backends[b], 2048, 0, 0, false);
    struct myelon_consumer_config cc = fr_ccfg(&r.pc, "ng");
    cc.ring.flags |= DMP_CONSUMER_NON_GATING;
    r.c = fr_attach(&cc);
    uint8_t data[300];
    uint32_t next = 0, delivered = 0;
    for (int round = 0; round < 50; round++) {
      for (int i = 0; i < 20; i++, next++) { /* 20 x 320+ bytes: more than a lap */
        fr_pattern(data, sizeof data, next);
        cr_assert(eq(int, myelon_producer_try_publish(r.p, data, sizeof data, (uint8_t)next), 0),
                  "a non-gating reader never gates");
      }
      struct myelon_msg m;
      int rc;
      while ((rc = myelon_consumer_try_recv(r.c, &m)) == 0) {
        cr_assert(not(m.zero_copy), "read by copy");
        cr_assert(eq(sz, m.len, sizeof data));
        cr_assert(eq(u64, (uintptr_t)m.data % 16, 0));
        uint8_t want[300];
        uint32_t tag = m.msg_id - 1; /* ids count from 1 */
        cr_assert(eq(u8, m.kind, (uint8_t)tag));
        fr_pattern(want, sizeof want, tag);
        cr_assert(eq(int, memcmp(m.data, want, sizeof want), 0), "message %u intact", tag);
        delivered++;
        myelon_consumer_release(r.c);
      }
      cr_assert(eq(int, rc, -EAGAIN), "%s", myelon_err_name(rc));
    }
    cr_assert(gt(u32, delivered, 0));
    cr_assert(gt(u64, dmp_consumer_missed(myelon_consumer_ring(r.c)), 0), "it was lapped");
    /* A batch receive takes one message at a time (one copy buffer). */
    fr_pattern(data, sizeof data, next);
    cr_assert(eq(int, myelon_producer_try_publish(r.p, data, sizeof data, (uint8_t)next), 0));
    cr_assert(eq(int, myelon_producer_try_publish(r.p, data, sizeof data, (uint8_t)next), 0));
    struct myelon_msg ms[4];
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 4, FR_LONG_NS), 1));
    cr_assert(eq(sz, ms[0].len, sizeof data));
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 4, FR_LONG_NS), 1));
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 4, 0), -EAGAIN));
    fr_close(&r);
  }
}

/* Records written behind the producer's back through Layer 0: a bad frame
 * in a good record is MALFORMED (and ends a batch that has messages
 * before it); a bad Layer 0 header is MALFORMED with a resync; the stream
 * goes on with the next good message. */
Test(bytes_framed, bad_records_are_malformed_and_the_stream_goes_on)
{
  struct fr_ring r = br_open(DMP_BACKEND_SHM, 4096, 0, 0, true);
  struct dmp_producer *raw = myelon_producer_ring(r.p);
  uint8_t data[40];
  fr_pattern(data, sizeof data, 1);
  static const uint8_t flags[] = {0, MYELON_FLAG_START, 0x80 | MYELON_FLAG_SINGLE};
  for (int i = 0; i < 3; i++) {
    fr_publish_ok(r.p, data, sizeof data, 1);
    void *rec;
    cr_assert(eq(int, dmp_producer_try_claim_bytes(raw, 16 + 8, &rec), 0));
    struct myelon_frame_header h = {8, 0, flags[i], 0, 1000};
    uint32_t total = 8;
    memcpy(rec, &h, sizeof h);
    memcpy((uint8_t *)rec + 12, &total, 4);
    dmp_producer_publish(raw);
    fr_publish_ok(r.p, data, sizeof data, 1);
    struct myelon_msg m[4];
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, m, 4, 0), 1), "the batch stops before the bad record");
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, m, 4, 0), -MYELON_E_MALFORMED));
    fr_expect_pattern(r.c, sizeof data, 1, 1);
    fr_expect_empty(r.c);
  }
  /* A frame longer than its record, and a record too short for a frame. */
  static const uint32_t rec_len[] = {16 + 8, 8};
  for (int i = 0; i < 2; i++) {
    void *rec;
    cr_assert(eq(int, dmp_producer_try_claim_bytes(raw, rec_len[i], &rec), 0));
    struct myelon_frame_header h = {9, 0, MYELON_FLAG_SINGLE, 0, 1000};
    uint32_t total = 9;
    memcpy(rec, &h, rec_len[i] < sizeof h ? rec_len[i] : sizeof h);
    if (rec_len[i] >= 16)
      memcpy((uint8_t *)rec + 12, &total, 4);
    dmp_producer_publish(raw);
    struct myelon_msg m;
    cr_assert(eq(int, myelon_consumer_try_recv(r.c, &m), -MYELON_E_MALFORMED), "%s", dmp_last_error());
  }
  /* A Layer 0 header scribbled over after publishing. */
  fr_publish_ok(r.p, data, sizeof data, 1);
  int64_t at = dmp_producer_sequence(raw);
  fr_publish_ok(r.p, data, sizeof data, 1);
  struct dmp_bytes_header *bh = dmp_producer_slot(raw, at + 1);
  bh->seq = 12345;
  fr_expect_pattern(r.c, sizeof data, 1, 1);
  struct myelon_msg m;
  cr_assert(eq(int, myelon_consumer_try_recv(r.c, &m), -MYELON_E_MALFORMED));
  cr_assert(gt(u64, dmp_consumer_missed(myelon_consumer_ring(r.c)), 0), "resynchronised");
  fr_publish_ok(r.p, data, sizeof data, 2);
  fr_expect_pattern(r.c, sizeof data, 1, 2);
  cr_assert(eq(u64, myelon_consumer_errors(r.c), 3 + 2 + 1));
  fr_close(&r);
}

/* Publish a record whose frame is bad (an unknown flag bit) behind the
 * framed producer's back. */
static void bad_frame_record(struct myelon_producer *p)
{
  struct dmp_producer *raw = myelon_producer_ring(p);
  void *rec;
  cr_assert(eq(int, dmp_producer_try_claim_bytes(raw, 16 + 8, &rec), 0));
  struct myelon_frame_header h = {8, 0, 0x80 | MYELON_FLAG_SINGLE, 0, 1000};
  uint32_t total = 8;
  memcpy(rec, &h, sizeof h);
  memcpy((uint8_t *)rec + 12, &total, 4);
  dmp_producer_publish(raw);
}

/* True if `data` holds `len` bytes of pattern `tag` (fr_pattern()). */
static bool pattern_is(const void *data, size_t len, uint32_t tag)
{
  uint8_t want[64];
  cr_assert(le(sz, len, sizeof want));
  fr_pattern(want, len, tag);
  return memcmp(data, want, len) == 0;
}

/* Receive exactly `want` messages in one batch call, patterns `first` on. */
static void expect_batch(struct myelon_consumer *c, size_t max, int want, size_t len, uint32_t first)
{
  struct myelon_msg m[200];
  cr_assert(le(sz, max, 200));
  int n = myelon_consumer_recv_batch(c, m, max, 0);
  cr_assert(eq(int, n, want), "recv_batch: %s", n < 0 ? myelon_err_name(n) : "a count");
  for (int k = 0; k < n; k++) {
    cr_assert(eq(sz, m[k].len, len), "message %d", k);
    cr_assert(m[k].zero_copy);
    cr_assert(pattern_is(m[k].data, len, first + (uint32_t)k), "message %d: content", k);
    if (k > 0)
      cr_assert(eq(u32, m[k].msg_id, m[k - 1].msg_id + 1), "consecutive ids");
  }
}

/* A batch of many small messages is published with run claims and
 * received in runs: more messages than one run (64) in one call each way,
 * in order; a bad frame or an oversize message in the middle of a run
 * (everything published before the consumer looks) ends the batch right
 * before it, the next call reports it, the one after goes on with the
 * rest of the run. */
Test(bytes_framed, runs_of_records_both_ways_and_bad_frames_inside_a_run)
{
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = br_open(fr_backends[b], 16384, 64, 0, true); /* 256 blocks: 8 B messages take one */
    struct myelon_consumer_config sc = fr_ccfg(&r.pc, "small");
    sc.max_message = 30;
    struct myelon_consumer *small = fr_attach(&sc);
    enum { N = 150 };
    static uint8_t data[N][40];
    struct myelon_batch_msg msgs[N];
    for (int i = 0; i < N; i++) {
      fr_pattern(data[i], 8, (uint32_t)i);
      msgs[i] = (struct myelon_batch_msg){data[i], 8, 0};
    }
    size_t done = 0;
    cr_assert(eq(int, myelon_producer_publish_batch(r.p, msgs, N, 0, &done), 0));
    cr_assert(eq(sz, done, (size_t)N));
    cr_assert(eq(i64, dmp_producer_sequence(myelon_producer_ring(r.p)), N - 1), "one block per message");
    expect_batch(r.c, 100, 100, 8, 0);
    expect_batch(r.c, 100, 50, 8, 100);
    expect_batch(small, 200, N, 8, 0);
    /* A bad frame as the 6th record of a run of 11, then a 40-byte message
     * (above `small`'s max_message) as the 4th of the rest. */
    cr_assert(eq(int, myelon_producer_publish_batch(r.p, msgs, 5, 0, NULL), 0));
    bad_frame_record(r.p);
    fr_pattern(data[8], 40, 8);
    msgs[8].len = 40;
    cr_assert(eq(int, myelon_producer_publish_batch(r.p, msgs + 5, 5, 0, NULL), 0));
    msgs[8].len = 8;
    for (int pass = 0; pass < 2; pass++) {
      struct myelon_consumer *c = pass ? small : r.c;
      expect_batch(c, 64, 5, 8, 0);
      struct myelon_msg m[64];
      cr_assert(eq(int, myelon_consumer_recv_batch(c, m, 64, 0), -MYELON_E_MALFORMED), "reported next");
      if (pass == 0) {
        cr_assert(eq(int, myelon_consumer_recv_batch(c, m, 64, 0), 5), "then the rest of the run");
        cr_assert(eq(sz, m[3].len, 40));
        cr_assert(pattern_is(m[3].data, 40, 8));
        cr_assert(eq(u64, myelon_consumer_errors(c), 1));
      } else {
        expect_batch(c, 64, 3, 8, 5);
        cr_assert(eq(int, myelon_consumer_recv_batch(c, m, 64, 0), -MYELON_E_TOOBIG), "oversize reported next");
        expect_batch(c, 64, 1, 8, 9);
        cr_assert(eq(u64, myelon_consumer_errors(c), 2));
      }
      cr_assert(eq(int, myelon_consumer_recv_batch(c, m, 64, 0), -EAGAIN));
    }
    /* A bad frame first in a run: reported at once, the run follows. */
    bad_frame_record(r.p);
    cr_assert(eq(int, myelon_producer_publish_batch(r.p, msgs, 3, 0, NULL), 0));
    struct myelon_msg m[64];
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, m, 64, 0), -MYELON_E_MALFORMED));
    expect_batch(r.c, 64, 3, 8, 0);
    myelon_consumer_close(small);
    fr_close(&r);
  }
}

/* Two processes: a byte-exact stream of every size up to the max through
 * the frm_role helper is in the *_bytes build of test_mp.c; here a thread
 * checks that a blocked producer and consumer hand records to each other
 * across many laps with batches on both sides. */
struct br_thread {
  struct myelon_consumer *c;
  uint32_t n;
  int failures;
};

static void *br_consume(void *arg)
{
  struct br_thread *t = arg;
  uint8_t want[600];
  for (uint32_t got = 0; got < t->n;) {
    struct myelon_msg m[8];
    int n = myelon_consumer_recv_batch(t->c, m, 8, FR_LONG_NS);
    if (n <= 0) {
      t->failures++;
      return NULL;
    }
    for (int k = 0; k < n; k++, got++) {
      size_t len = got * 7 % 600;
      fr_pattern(want, len, got);
      if (m[k].len != len || memcmp(m[k].data, want, len) != 0)
        t->failures++;
    }
  }
  return NULL;
}

Test(bytes_framed, a_consumer_thread_receives_every_message_over_many_laps)
{
  struct fr_ring r = br_open(DMP_BACKEND_SHM, 4096, 0, 0, true);
  struct br_thread t = {r.c, 20000, 0};
  pthread_t th;
  cr_assert(eq(int, pthread_create(&th, NULL, br_consume, &t), 0));
  static uint8_t data[16][600];
  struct myelon_batch_msg msgs[16];
  for (uint32_t i = 0; i < t.n; i += 16) {
    for (uint32_t k = 0; k < 16; k++) {
      size_t len = (i + k) * 7 % 600;
      fr_pattern(data[k], len, i + k);
      msgs[k] = (struct myelon_batch_msg){data[k], len, 0};
    }
    if (i % 32 == 0) {
      cr_assert(eq(int, myelon_producer_publish_batch(r.p, msgs, 16, FR_LONG_NS, NULL), 0));
    } else {
      for (uint32_t k = 0; k < 16; k++)
        fr_publish_ok(r.p, msgs[k].data, msgs[k].len, 0);
    }
  }
  pthread_join(th, NULL);
  cr_assert(eq(int, t.failures, 0));
  fr_close(&r);
}

/* ---- many producers on one framed byte ring (DMP_RING_MULTI_PRODUCER) ---- */

#define MPB_PRODUCERS 4
#define MPB_MSGS 600       /* per producer */
#define MPB_RING 16384     /* bytes: a few dozen messages, many laps, padding */
#define MPB_MAXLEN 1500

/* Message `seq` of producer `pid`: its length, and its bytes (the pattern
 * of its tag, producer and sequence in its first 8 bytes). */
static size_t mpb_len(uint32_t pid, uint32_t seq)
{
  return 8 + (size_t)(frm_mix((uint64_t)pid << 32 | seq) % (MPB_MAXLEN - 8));
}

static void mpb_fill(uint8_t *buf, uint32_t pid, uint32_t seq)
{
  size_t len = mpb_len(pid, seq);
  fr_pattern(buf, len, pid * 100003u + seq);
  memcpy(buf, &pid, 4);
  memcpy(buf + 4, &seq, 4);
}

/* Producer `pid` in a child process: attaches to the framed byte ring and
 * publishes its MPB_MSGS messages in order, through every publish path in
 * turn: publish, try_publish (retried), a zero-copy claim committed (every
 * 7th first claimed, scribbled and aborted: a tombstone), and batches of
 * 1-3. Exit 0, or the step that failed. */
static int mpb_producer(const struct myelon_producer_config *pc, uint32_t pid)
{
  struct myelon_producer *p = NULL;
  if (myelon_producer_attach(pc, &p) != 0)
    return 10;
  const int64_t to = (int64_t)ts_timeout_ms(30000) * 1000000;
  static uint8_t buf[3][MPB_MAXLEN];
  for (uint32_t seq = 0; seq < MPB_MSGS;) {
    size_t len = mpb_len(pid, seq);
    switch (seq % 4) {
    case 0:
      mpb_fill(buf[0], pid, seq);
      if (myelon_producer_publish(p, buf[0], len, (uint8_t)pid, to) != 0)
        return 11;
      seq++;
      break;
    case 1: {
      mpb_fill(buf[0], pid, seq);
      int64_t end = (int64_t)ts_timeout_ms(30000);
      int rc;
      while ((rc = myelon_producer_try_publish(p, buf[0], len, (uint8_t)pid)) == -EAGAIN && end-- > 0)
        usleep(1000);
      if (rc != 0)
        return 12;
      seq++;
      break;
    }
    case 2: {
      void *zc;
      if (seq % 7 == 2) { /* claimed, half written, aborted: published as a tombstone */
        if (myelon_producer_claim(p, len, &zc, to) != 0)
          return 13;
        memset(zc, 0xee, len / 2);
        if (myelon_producer_abort(p) != 0)
          return 14;
      }
      if (myelon_producer_claim(p, len, &zc, to) != 0)
        return 15;
      mpb_fill(zc, pid, seq);
      if (myelon_producer_commit(p, len, (uint8_t)pid) != 0)
        return 16;
      seq++;
      break;
    }
    default: {
      struct myelon_batch_msg b[3];
      uint32_t k = 0;
      for (; k < 1 + seq / 4 % 3 && seq + k < MPB_MSGS; k++) {
        mpb_fill(buf[k], pid, seq + k);
        b[k] = (struct myelon_batch_msg){buf[k], mpb_len(pid, seq + k), (uint8_t)pid};
      }
      size_t done = 0;
      if (myelon_producer_publish_batch(p, b, k, to, &done) != 0 || done != k)
        return 17;
      seq += k;
      break;
    }
    }
  }
  myelon_producer_close(p);
  return 0;
}

/* One consumer's oracle: each producer's messages exactly once, in order,
 * every byte as published. */
struct mpb_reader {
  struct myelon_consumer *c;
  uint32_t next[MPB_PRODUCERS];
  uint32_t got;
};

static bool mpb_read(struct mpb_reader *r, int64_t timeout_ns)
{
  static uint8_t want[MPB_MAXLEN];
  struct myelon_msg m;
  int rc = myelon_consumer_recv(r->c, &m, timeout_ns);
  if (rc == -EAGAIN || rc == -ETIMEDOUT)
    return false;
  cr_assert(eq(int, rc, 0), "recv: %s / %s", myelon_err_name(rc), dmp_last_error());
  uint32_t pid, seq;
  cr_assert(ge(sz, m.len, 8));
  memcpy(&pid, m.data, 4);
  memcpy(&seq, (const uint8_t *)m.data + 4, 4);
  cr_assert(lt(u32, pid, MPB_PRODUCERS), "producer id %u", pid);
  cr_assert(eq(u32, seq, r->next[pid]), "producer %u: message %u, want %u (once each, in order)", pid, seq,
            r->next[pid]);
  cr_assert(eq(u8, m.kind, (uint8_t)pid));
  cr_assert(eq(sz, m.len, mpb_len(pid, seq)), "producer %u message %u", pid, seq);
  mpb_fill(want, pid, seq);
  cr_assert(eq(int, memcmp(m.data, want, m.len), 0), "producer %u message %u: its bytes", pid, seq);
  myelon_consumer_release(r->c);
  r->next[pid]++;
  r->got++;
  return true;
}

/* Issue 18 on Layer 1's byte rings: 4 producer processes x 2 consumers on
 * one framed multi-producer byte ring, both backends; every message
 * (producer, sequence, every byte) seen exactly once by each consumer,
 * each producer's in its order; aborted claims are tombstones that both
 * consumers step over and count. */
Test(bytes_framed, four_producers_two_consumers_exactly_once_on_a_multi_producer_ring, .timeout = 300)
{
  for (int b = 0; b < 2; b++) {
    struct myelon_producer_config pc = fr_pcfg(fr_backends[b], MYELON_FRAME_BYTES, 0, 0, "frbmp");
    pc.ring_bytes = MPB_RING;
    pc.ring.flags |= DMP_RING_MULTI_PRODUCER;
    pc.ring.max_producers = MPB_PRODUCERS + 1;
    struct myelon_producer *creator = fr_create(&pc); /* holds the ring; publishes nothing */
    struct mpb_reader rd[2];
    memset(rd, 0, sizeof rd);
    for (int k = 0; k < 2; k++) {
      struct myelon_consumer_config cc = fr_ccfg(&pc, k ? "c1" : "c0");
      rd[k].c = fr_attach(&cc);
    }
    pid_t kids[MPB_PRODUCERS];
    for (uint32_t i = 0; i < MPB_PRODUCERS; i++) {
      fflush(NULL);
      kids[i] = fork();
      cr_assert(ge(int, kids[i], 0), "fork");
      if (kids[i] == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm((unsigned)(ts_timeout_ms(120000) / 1000 + 1));
        _exit(mpb_producer(&pc, i));
      }
    }
    const uint32_t total = MPB_PRODUCERS * MPB_MSGS;
    int idle_ms = 0; /* consecutive milliseconds in which neither consumer got anything */
    while ((rd[0].got < total || rd[1].got < total) && idle_ms < ts_timeout_ms(30000)) {
      bool any = false;
      for (int k = 0; k < 2; k++)
        while (rd[k].got < total && mpb_read(&rd[k], 0))
          any = true;
      if (any) {
        idle_ms = 0;
      } else {
        mpb_read(&rd[rd[0].got < total ? 0 : 1], 1000000); /* a bounded wait of 1 ms */
        idle_ms++;
      }
    }
    for (uint32_t i = 0; i < MPB_PRODUCERS; i++) /* (exit 11-17: the publish path that failed) */
      cr_assert(eq(int, ts_wait(kids[i], ts_timeout_ms(30000)), 0), "producer %u [%s]", i,
                fr_backend_name(fr_backends[b]));
    for (int k = 0; k < 2; k++) {
      cr_assert(eq(u32, rd[k].got, total), "consumer %d [%s]: %u of %u messages", k,
                fr_backend_name(fr_backends[b]), rd[k].got, total);
      for (uint32_t i = 0; i < MPB_PRODUCERS; i++)
        cr_assert(eq(u32, rd[k].next[i], MPB_MSGS));
    }
    fr_expect_empty(rd[0].c);
    fr_expect_empty(rd[1].c);
    /* The aborted claims (seq % 4 == 2 and seq % 7 == 2). */
    uint64_t aborts = 0;
    for (uint32_t seq = 0; seq < MPB_MSGS; seq++)
      aborts += seq % 4 == 2 && seq % 7 == 2;
    for (int k = 0; k < 2; k++)
      cr_assert(ge(u64, dmp_consumer_tombstones(myelon_consumer_ring(rd[k].c)), MPB_PRODUCERS * aborts),
                "every aborted claim stepped over (a record is one or more blocks)");
    myelon_consumer_close(rd[0].c);
    myelon_consumer_close(rd[1].c);
    myelon_producer_close(creator);
  }
}
