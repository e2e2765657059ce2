/* Typed producer/consumer over real rings (typed.h): round trips on both
 * backends and frame formats at single- and multi-frame sizes (and which
 * path each took), receive variants (blocking with timeout, try, batch),
 * codec errors that publish nothing, decode errors that lose only their
 * own message, oversize values, raw publishes and managed (liveness)
 * publishes. */
#include "typed_test.h"

#include <disruptor_mp/liveness.h>

TestSuite(typed_roundtrip, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(typed_recv, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(typed_errors, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(typed_batch, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(typed_managed, .fini = tt_fini, .timeout = TT_TIMEOUT);

static const enum myelon_frame_format formats[] = {MYELON_FRAME_COMPACT, MYELON_FRAME_ALIGNED};

static uint64_t zero_copy_count(struct tt_pair *t)
{
  struct myelon_typed_producer_stats s;
  myelon_typed_producer_stats(t->tp, &s);
  return s.zero_copy;
}

/* Encoded size of a tf_order (to tell single- from multi-frame cases). */
static size_t encoded_size(const struct tf_order *o)
{
  struct myelon_codec c;
  tf_codec(&c);
  size_t n = 0;
  cr_assert(eq(int, myelon_codec_size(&c, o, &n), 0));
  return n;
}

Test(typed_roundtrip, values_cross_both_backends_and_formats_single_and_multi_frame)
{
  static const uint32_t payloads[] = {0, 64, 300, 2000, TF_PAYLOAD_MAX};
  static struct tf_order o;
  for (int b = 0; b < TT_NBACKENDS; b++) {
    for (int f = 0; f < 2; f++) {
      struct tt_pair t;
      tt_open(&t, tt_backends[b], formats[f], 1024, 64, NULL);
      int singles = 0, multis = 0;
      for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
          tf_fill(&o, seed * 100 + i, payloads[i]);
          size_t n = encoded_size(&o);
          uint64_t zc = zero_copy_count(&t);
          int rc = myelon_typed_producer_publish(t.tp, &o, (uint8_t)(i + 1), TT_LONG_NS);
          cr_assert(eq(int, rc, 0), "%s/%d publish: %s / %s", tt_backend_name(tt_backends[b]), f,
                    myelon_err_name(rc), dmp_last_error());
          bool single = n <= 1024;
          singles += single;
          multis += !single;
          /* A byte ring takes every value whole, encoded into the producer
           * buffer and copied once (typed.h): never the in-slot path. */
          bool in_slot = single && !tt_bytes();
          cr_assert(eq(u64, zero_copy_count(&t), zc + (in_slot ? 1 : 0)),
                    "%zu encoded bytes: expected the %s path", n, in_slot ? "in-slot" : "buffered");
          tt_recv_equal(&t, &o, (uint8_t)(i + 1));
        }
      }
      cr_assert(lt(int, 0, singles));
      cr_assert(lt(int, 0, multis));
      tt_close(&t);
    }
  }
}

Test(typed_roundtrip, single_frame_values_are_received_in_the_slot)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, 1024, 16, NULL);
  static struct tf_order o;
  tf_fill(&o, 5, 10);
  cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 1, TT_LONG_NS), 0));
  struct myelon_msg m;
  struct myelon_consumer *fc = myelon_typed_consumer_framed(t.tc);
  cr_assert(eq(int, myelon_consumer_recv(fc, &m, TT_LONG_NS), 0));
  cr_assert(m.zero_copy, "a single-frame typed message was not delivered from the slot");
  cr_assert(eq(u64, (uintptr_t)m.data % 16, 0));
  myelon_consumer_release(fc);
  tt_close(&t);
}

Test(typed_roundtrip, many_multi_frame_values_through_a_ring_smaller_than_one_message)
{
  /* 256-byte frames, 32 slots: TF_PAYLOAD_MAX needs ~25 frames, so every
   * second message wraps the ring; the consumer keeps up in between. */
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_MMAP, MYELON_FRAME_COMPACT, 256, 32, NULL);
  static struct tf_order o;
  for (uint64_t i = 0; i < 200; i++) {
    tf_fill(&o, i, tf_stream_len(i) > 5000 ? 5000 : tf_stream_len(i));
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 9, TT_LONG_NS), 0), "message %llu: %s",
              (unsigned long long)i, dmp_last_error());
    tt_recv_equal(&t, &o, 9);
  }
  tt_close(&t);
}

/* ---- receive variants ---------------------------------------------------- */

Test(typed_recv, try_recv_is_eagain_and_recv_times_out_when_empty)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 16, NULL);
  void *v = (void *)1;
  cr_assert(eq(int, myelon_typed_consumer_try_recv(t.tc, &v, NULL), -EAGAIN));
  cr_assert(eq(ptr, v, NULL));
  int64_t t0 = ts_now_ns();
  cr_assert(eq(int, myelon_typed_consumer_recv(t.tc, &v, NULL, TT_SHORT_NS), -ETIMEDOUT));
  cr_assert(ge(i64, ts_now_ns() - t0, TT_SHORT_NS / 2));
  static struct tf_order o;
  tf_fill(&o, 8, 8);
  cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 3, TT_LONG_NS), 0));
  uint8_t kind = 0;
  cr_assert(eq(int, myelon_typed_consumer_try_recv(t.tc, &v, &kind), 0));
  cr_assert(eq(u8, kind, 3));
  cr_assert(tf_equal(v, &o, NULL, 0));
  myelon_codec_free(&t.codec, v);
  tt_close(&t);
}

Test(typed_recv, try_publish_publishes_or_reports_a_full_ring)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 4, NULL);
  static struct tf_order o;
  tf_fill(&o, 2, 16);
  uint64_t holds = tt_ring_holds(&t, encoded_size(&o)); /* 4 slots; byte ring: its records */
  uint64_t n = 0;
  while (myelon_typed_producer_try_publish(t.tp, &o, 1) == 0)
    cr_assert(le(u64, ++n, holds), "the ring never filled");
  cr_assert(eq(u64, n, holds));
  cr_assert(eq(int, myelon_typed_producer_try_publish(t.tp, &o, 1), -EAGAIN));
  tt_recv_equal(&t, &o, 1);
  myelon_typed_consumer_release(t.tc);
  cr_assert(eq(int, myelon_typed_producer_try_publish(t.tp, &o, 1), 0));
  tt_close(&t);
}

Test(typed_recv, consumer_without_codec_refuses_owned_receives)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 16, NULL);
  struct myelon_consumer_config cc = tf_ccfg(&t.pc, "views");
  struct myelon_typed_consumer *vc = NULL;
  cr_assert(eq(int, myelon_typed_consumer_attach(&cc, NULL, &vc), 0));
  void *v;
  cr_assert(eq(int, myelon_typed_consumer_recv(vc, &v, NULL, 0), -EINVAL));
  myelon_typed_consumer_close(vc);
  tt_close(&t);
}

/* ---- errors -------------------------------------------------------------- */

static void expect_nothing_published(struct tt_pair *t)
{
  void *v = NULL;
  cr_assert(eq(int, myelon_typed_consumer_try_recv(t->tc, &v, NULL), -EAGAIN), "a refused value reached the consumer");
  cr_assert(eq(i64, dmp_producer_sequence(myelon_producer_ring(myelon_typed_producer_framed(t->tp))), -1),
            "ring slots were published for a refused value");
}

Test(typed_errors, codec_error_publishes_nothing_on_every_publish_path)
{
  static struct tf_order bad;
  for (uint32_t payload = 0; payload <= 3000; payload += 3000) { /* in-slot and buffered sizes */
    struct tt_pair t;
    tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, 1024, 16, NULL);
    tf_fill(&bad, 1, payload);
    memset(bad.notes[0], 'n', sizeof bad.notes[0]); /* unterminated */
    bad.n_notes = 1;
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &bad, 1, TT_LONG_NS), -MYELON_E_CODEC));
    cr_assert(tt_detail_has("codec encode: tf_order.notes: string is not NUL-terminated"));
    cr_assert(eq(int, myelon_typed_producer_try_publish(t.tp, &bad, 1), -MYELON_E_CODEC));
    uint64_t failed = 99;
    cr_assert(eq(int, myelon_typed_producer_publish_managed(t.tp, &bad, 1, TT_LONG_NS, &failed), -MYELON_E_CODEC));
    cr_assert(eq(u64, failed, 0));
    expect_nothing_published(&t);
    struct myelon_typed_producer_stats s;
    myelon_typed_producer_stats(t.tp, &s);
    cr_assert(eq(u64, s.encode_errors, 3));
    cr_assert(eq(u64, s.published, 0));
    tt_close(&t);
  }
}

/* The msgpack codec encodes straight into a free slot without a size pass
 * (issue 20); with the ring full it sizes first, so a value it cannot
 * encode is still refused at once, not after waiting for space (the short
 * timeout would then end the call with -ETIMEDOUT); and a good value then
 * waits and times out. */
Test(typed_errors, codec_error_on_a_full_ring_comes_before_any_wait)
{
  static struct tf_order o, bad;
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 16, NULL);
  tf_fill(&o, 7, 64);
  uint64_t holds = tt_ring_holds(&t, encoded_size(&o)); /* 16 slots; byte ring: its records */
  for (uint64_t i = 0; i < holds; i++)
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 1, TT_LONG_NS), 0), "%s", dmp_last_error());
  tf_fill(&bad, 1, 64);
  memset(bad.notes[0], 'n', sizeof bad.notes[0]); /* unterminated */
  bad.n_notes = 1;
  cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &bad, 1, TT_SHORT_NS), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("string is not NUL-terminated"), "%s", dmp_last_error());
  cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 1, TT_SHORT_NS), -ETIMEDOUT));
  struct myelon_typed_producer_stats s;
  myelon_typed_producer_stats(t.tp, &s);
  cr_assert(eq(u64, s.published, holds));
  cr_assert(eq(u64, s.zero_copy, tt_bytes() ? 0 : holds)); /* byte ring: buffered, typed.h */
  cr_assert(eq(u64, s.encode_errors, 1));
  for (uint64_t i = 0; i < holds; i++) {
    tt_recv_equal(&t, &o, 1);
    myelon_typed_consumer_release(t.tc);
  }
  void *v = NULL;
  cr_assert(eq(int, myelon_typed_consumer_try_recv(t.tc, &v, NULL), -EAGAIN), "nothing of the refused value");
  tt_close(&t);
}

/* A codec whose size function announces fewer bytes than its encoder
 * writes (while `lie_by` is set), wrapping the fixture's msgpack codec. */
static struct myelon_codec honest;
static size_t lie_by;

static int lying_size(const void *value, size_t *len, void *user)
{
  int rc = honest.size(value, len, user);
  if (rc == 0)
    *len = *len > lie_by ? *len - lie_by : 0;
  return rc;
}

/* Regression: when the codec broke its size contract after the in-slot
 * claim, Layer 1 could not take the slot back and an empty message was
 * published in its place. Now the claim is aborted: nothing reaches the
 * consumer, and the next value goes into the very same slot. */
Test(typed_errors, size_contract_broken_in_the_slot_publishes_nothing)
{
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format fmt = fi ? MYELON_FRAME_ALIGNED : MYELON_FRAME_COMPACT;
    tf_codec(&honest);
    struct myelon_codec c = honest;
    c.size = lying_size;
    struct tt_pair t;
    tt_open(&t, DMP_BACKEND_SHM, fmt, 1024, 16, &c);
    static struct tf_order o;
    tf_fill(&o, 5, 100); /* fits one frame: encoded in the claimed slot */
    lie_by = 8;
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 3, TT_LONG_NS), -MYELON_E_CODEC));
    cr_assert(tt_detail_has("nothing was published"), "%s", dmp_last_error());
    expect_nothing_published(&t);
    struct myelon_typed_producer_stats s;
    myelon_typed_producer_stats(t.tp, &s);
    cr_assert(eq(u64, s.encode_errors, 1));
    cr_assert(eq(u64, s.published, 0));
    lie_by = 0;
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 4, TT_LONG_NS), 0), "%s", dmp_last_error());
    /* Slot ring: slot 0 again. Byte ring: the record starts at block 0
     * again, so the last published block is its last. */
    int64_t want = tt_bytes() ? (int64_t)(tt_record_bytes(encoded_size(&o)) / DMP_BYTES_DEFAULT_BLOCK) - 1 : 0;
    cr_assert(eq(i64, dmp_producer_sequence(myelon_producer_ring(myelon_typed_producer_framed(t.tp))), want),
              "the next value did not take the aborted slot");
    tt_recv_equal(&t, &o, 4);
    myelon_typed_consumer_release(t.tc);
    void *v = NULL;
    cr_assert(eq(int, myelon_typed_consumer_try_recv(t.tc, &v, NULL), -EAGAIN));
    tt_close(&t);
  }
}

/* A codec without a size function encodes into the producer buffer,
 * growing it; its errors also come before anything is published. */
Test(typed_errors, codec_without_size_function_grows_its_buffer_and_fails_before_publishing)
{
  struct myelon_codec c;
  tf_codec(&c);
  c.size = NULL;
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_MMAP, MYELON_FRAME_COMPACT, 512, 64, &c);
  static struct tf_order o;
  tf_fill(&o, 4, TF_PAYLOAD_MAX); /* needs several buffer doublings from 256 */
  cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 2, TT_LONG_NS), 0), "%s", dmp_last_error());
  tt_recv_equal(&t, &o, 2);
  myelon_typed_consumer_release(t.tc);
  cr_assert(eq(u64, zero_copy_count(&t), 0));
  o.tag_len = 1000;
  cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 2, TT_LONG_NS), -MYELON_E_CODEC));
  void *v;
  cr_assert(eq(int, myelon_typed_consumer_try_recv(t.tc, &v, NULL), -EAGAIN));
  tt_close(&t);
}

Test(typed_errors, value_above_max_message_is_toobig_and_publishes_nothing)
{
  static struct tf_order o;
  tf_fill(&o, 6, TF_PAYLOAD_MAX);
  for (int sized = 0; sized < 2; sized++) {
    struct myelon_codec c;
    tf_codec(&c);
    if (!sized)
      c.size = NULL;
    struct tt_pair t;
    memset(&t, 0, sizeof t);
    t.codec = c;
    t.pc = tt_pcfg(DMP_BACKEND_SHM, tt_fresh_name(DMP_BACKEND_SHM, "big"), MYELON_FRAME_COMPACT, 1024, 16);
    t.pc.max_message = 4096;
    cr_assert(eq(int, myelon_typed_producer_create(&t.pc, &t.codec, &t.tp), 0));
    struct myelon_consumer_config cc = tf_ccfg(&t.pc, "c0");
    cr_assert(eq(int, myelon_typed_consumer_attach(&cc, &t.codec, &t.tc), 0));
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 1, TT_LONG_NS), -MYELON_E_TOOBIG), "sized %d", sized);
    cr_assert(tt_detail_has("exceeds max_message 4096"));
    expect_nothing_published(&t);
    tt_close(&t);
  }
}

Test(typed_errors, decode_error_loses_only_that_message)
{
  for (int b = 0; b < TT_NBACKENDS; b++) {
    struct tt_pair t;
    tt_open(&t, tt_backends[b], MYELON_FRAME_COMPACT, 256, 64, NULL);
    static struct tf_order good;
    tf_fill(&good, 12, 1000); /* multi-frame */
    const uint8_t garbage[] = {0x82, 0xa2, 'i', 'd', 0xc1};
    struct tt_pk wrong;
    tt_pk_init(&wrong);
    msgpack_pack_map(&wrong.pk, 1);
    tt_pk_key(&wrong, "levels");
    msgpack_pack_str_with_body(&wrong.pk, "no", 2);
    cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, garbage, sizeof garbage, 4, TT_LONG_NS), 0));
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &good, 5, TT_LONG_NS), 0));
    cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, wrong.sb.data, wrong.sb.size, 4, TT_LONG_NS), 0));
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &good, 6, TT_LONG_NS), 0));
    tt_pk_done(&wrong);
    void *v = (void *)1;
    cr_assert(eq(int, myelon_typed_consumer_recv(t.tc, &v, NULL, TT_LONG_NS), -MYELON_E_CODEC));
    cr_assert(tt_detail_has("codec decode: reserved byte 0xc1"));
    cr_assert(eq(ptr, v, NULL));
    tt_recv_equal(&t, &good, 5);
    cr_assert(eq(int, myelon_typed_consumer_recv(t.tc, &v, NULL, TT_LONG_NS), -MYELON_E_CODEC));
    cr_assert(tt_detail_has("codec decode: tf_order.levels: expected array, got str"));
    tt_recv_equal(&t, &good, 6);
    cr_assert(eq(u64, myelon_typed_consumer_decode_errors(t.tc), 2));
    cr_assert(eq(u64, myelon_consumer_errors(myelon_typed_consumer_framed(t.tc)), 0), "framing saw errors");
    tt_close(&t);
  }
}

Test(typed_errors, null_arguments_are_einval)
{
  struct myelon_codec c;
  tf_codec(&c);
  struct myelon_typed_producer *tp = (void *)1;
  cr_assert(eq(int, myelon_typed_producer_create(NULL, &c, &tp), -EINVAL));
  cr_assert(eq(ptr, tp, NULL));
  cr_assert(eq(int, myelon_typed_producer_publish(NULL, &c, 0, 0), -EINVAL));
  cr_assert(eq(int, myelon_typed_consumer_try_recv(NULL, NULL, NULL), -EINVAL));
  cr_assert(eq(i64, myelon_typed_consumer_process(NULL, NULL, 0, NULL), -EINVAL));
  myelon_typed_producer_close(NULL);
  myelon_typed_consumer_close(NULL);
  myelon_typed_consumer_release(NULL);
}

/* ---- batch --------------------------------------------------------------- */

struct batch_log {
  int n;
  int status[16];
  uint8_t kind[16];
  struct tf_order *kept;
  int stop_at;
};

static int on_msg(struct myelon_typed_msg *m, void *user)
{
  struct batch_log *log = user;
  log->status[log->n] = m->status;
  log->kind[log->n] = m->kind;
  if (m->status == 0) {
    char why[200] = "";
    struct tf_order want;
    tf_fill(&want, 100 + m->kind, 50u * m->kind);
    cr_assert(tf_equal(m->value, &want, why, sizeof why), "batch message %d: %s", log->n, why);
    if (m->kind == 3) {
      log->kept = m->value; /* take ownership */
      m->value = NULL;
    }
  } else {
    cr_assert(eq(ptr, m->value, NULL));
  }
  log->n++;
  return log->n == log->stop_at;
}

Test(typed_batch, process_delivers_every_message_with_per_message_status)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 256, 64, NULL);
  static struct tf_order o;
  for (uint8_t k = 1; k <= 5; k++) {
    if (k == 2) {
      const uint8_t bad[] = {0x93, 0x01};
      cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, bad, sizeof bad, k, TT_LONG_NS), 0));
      continue;
    }
    tf_fill(&o, 100 + k, 50u * k);
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, k, TT_LONG_NS), 0));
  }
  struct batch_log log = {0};
  log.stop_at = -1;
  cr_assert(eq(i64, myelon_typed_consumer_process(t.tc, on_msg, 3, &log), 3), "max is honoured");
  cr_assert(eq(i64, myelon_typed_consumer_process(t.tc, on_msg, 0, &log), 2));
  cr_assert(eq(i64, myelon_typed_consumer_process(t.tc, on_msg, 0, &log), 0), "nothing left");
  cr_assert(eq(int, log.n, 5));
  int want[] = {0, -MYELON_E_CODEC, 0, 0, 0};
  for (int i = 0; i < 5; i++)
    cr_assert(eq(int, log.status[i], want[i]), "message %d", i);
  cr_assert(ne(ptr, log.kept, NULL));
  cr_assert(eq(u32, log.kept->payload_len, 150));
  myelon_codec_free(&t.codec, log.kept);
  cr_assert(eq(u64, myelon_typed_consumer_decode_errors(t.tc), 1));
  tt_close(&t);
}

Test(typed_batch, process_stops_when_the_callback_says_so)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED, 1024, 16, NULL);
  static struct tf_order o;
  for (uint8_t k = 4; k <= 7; k++) {
    tf_fill(&o, 100 + k, 50u * k);
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, k, TT_LONG_NS), 0));
  }
  struct batch_log log = {0};
  log.stop_at = 2;
  cr_assert(eq(i64, myelon_typed_consumer_process(t.tc, on_msg, 0, &log), 2));
  log.stop_at = -1;
  cr_assert(eq(i64, myelon_typed_consumer_process(t.tc, on_msg, 0, &log), 2));
  cr_assert(eq(u8, log.kind[2], 6), "the stream continued after the stop");
  tt_close(&t);
}

/* ---- managed --------------------------------------------------------------- */

static void enable_liveness(struct tt_pair *t, const char *id)
{
  static const char *ids[1];
  ids[0] = id;
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.required_ids = ids;
  lc.n_required = 1;
  lc.startup_timeout_ns = INT64_C(200000000);
  lc.progress_timeout_ns = INT64_C(20000000);
  lc.check_interval_ns = INT64_C(2000000);
  lc.grace_ns = INT64_C(40000000);
  lc.quiet = true;
  struct dmp_producer *ring = myelon_producer_ring(myelon_typed_producer_framed(t->tp));
  cr_assert(eq(int, dmp_producer_enable_liveness(ring, &lc), 0), "%s", dmp_last_error());
}

Test(typed_managed, managed_publish_delivers_single_and_multi_frame_values)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 256, 64, NULL);
  enable_liveness(&t, "c0");
  static struct tf_order o;
  for (uint64_t i = 0; i < 8; i++) {
    tf_fill(&o, i, tf_stream_len(i) > 2000 ? 2000 : tf_stream_len(i));
    uint64_t failed = 99;
    int rc = myelon_typed_producer_publish_managed(t.tp, &o, 1, TT_LONG_NS, &failed);
    cr_assert(eq(int, rc, 0), "managed publish %llu: %s / %s", (unsigned long long)i, myelon_err_name(rc),
              dmp_last_error());
    tt_recv_equal(&t, &o, 1);
  }
  tt_close(&t);
}

Test(typed_managed, stalled_required_consumer_fails_the_managed_publish)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 4, NULL);
  enable_liveness(&t, "c0");
  static struct tf_order o;
  tf_fill(&o, 1, 10);
  int rc = 0;
  int64_t t0 = ts_now_ns();
  uint64_t more = tt_ring_holds(&t, encoded_size(&o)) + 6; /* than the ring holds */
  for (uint64_t i = 0; i < more && rc == 0; i++)
    rc = myelon_typed_producer_publish_managed(t.tp, &o, 1, TT_LONG_NS, NULL);
  cr_assert(eq(int, rc, -DMP_E_STALLED), "%s / %s", myelon_err_name(rc), dmp_last_error());
  cr_assert(lt(i64, ts_now_ns() - t0, TT_LONG_NS), "the stall took too long to detect");
  tt_close(&t);
}
