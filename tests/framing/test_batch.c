/* Batched Layer 1 calls (issue 20): myelon_producer_publish_batch() and
 * myelon_consumer_recv_batch() in one process, on both backends and both
 * frame formats: runs of messages come back whole and in order; messages
 * longer than a frame and bad frames end a batch instead of mixing with
 * it; a batch's slots stay leased until its release; bad input publishes
 * nothing; a full ring times out with the count of what went; and a
 * multi-producer ring takes batches too. The multiprocess runs are in
 * test_mp.c (--batch, --api batch). */
#include "framing.h"

TestSuite(framed_batch, .fini = fr_fini, .timeout = FR_TIMEOUT);

/* `n` messages of `len[i]` bytes of pattern 100 + i, kind i. */
struct batch {
  struct myelon_batch_msg m[32];
  uint8_t *buf[32];
  size_t n;
};

static void batch_make(struct batch *b, const size_t *len, size_t n)
{
  cr_assert(le(sz, n, 32));
  b->n = n;
  for (size_t i = 0; i < n; i++) {
    b->buf[i] = malloc(len[i] ? len[i] : 1);
    cr_assert(ne(ptr, b->buf[i], NULL));
    fr_pattern(b->buf[i], len[i], 100 + (uint32_t)i);
    b->m[i] = (struct myelon_batch_msg){.data = b->buf[i], .len = len[i], .kind = (uint8_t)i};
  }
}

static void batch_free(struct batch *b)
{
  for (size_t i = 0; i < b->n; i++)
    free(b->buf[i]);
}

static void publish_all(struct myelon_producer *p, const struct batch *b)
{
  size_t done = 99;
  int rc = myelon_producer_publish_batch(p, b->m, b->n, FR_LONG_NS, &done);
  cr_assert(eq(int, rc, 0), "publish_batch: %s / %s", myelon_err_name(rc), dmp_last_error());
  cr_assert(eq(sz, done, b->n));
}

/* Message `m` is batch message `i`. */
static void expect_msg(const struct myelon_msg *m, const struct batch *b, size_t i)
{
  cr_assert(eq(sz, m->len, b->m[i].len), "message %zu: length", i);
  cr_assert(eq(u8, m->kind, b->m[i].kind), "message %zu: kind", i);
  cr_assert(eq(int, memcmp(m->data, b->buf[i], m->len), 0), "message %zu: content", i);
}

/* A batch of small messages goes in one call and comes back in runs of at
 * most `max`, in order, zero-copy, with consecutive message ids. */
Test(framed_batch, small_messages_come_back_whole_in_order_and_in_runs)
{
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      struct fr_ring r = fr_open(fr_backends[b], fr_formats[fi], 64, 32);
      size_t len[20];
      for (size_t i = 0; i < 20; i++)
        len[i] = (i * 7) % 65; /* 0 .. 64: one frame each */
      struct batch bt;
      batch_make(&bt, len, 20);
      publish_all(r.p, &bt);
      struct myelon_msg ms[8];
      size_t got = 0;
      uint32_t id0 = 0;
      while (got < 20) {
        int n = myelon_consumer_recv_batch(r.c, ms, 8, 0);
        cr_assert(gt(int, n, 0), "recv_batch after %zu: %s", got, myelon_err_name(n));
        cr_assert(eq(int, n, got + 8 <= 20 ? 8 : (int)(20 - got)), "runs of the batch size (ring holds them all)");
        for (int k = 0; k < n; k++, got++) {
          expect_msg(&ms[k], &bt, got);
          cr_assert(ms[k].zero_copy);
          if (got == 0)
            id0 = ms[k].msg_id;
          cr_assert(eq(u32, ms[k].msg_id, id0 + (uint32_t)got), "consecutive ids");
        }
      }
      cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 8, 0), -EAGAIN));
      cr_assert(eq(u64, myelon_consumer_errors(r.c), 0));
      batch_free(&bt);
      fr_close(&r);
    }
}

/* Messages longer than a frame travel in their own frames between the runs
 * of small ones; on the receive side one ends a batch (it needs the
 * reassembly buffer) and arrives alone, copied. */
Test(framed_batch, fragmented_messages_mix_with_runs_and_end_a_batch)
{
  FR_SLOT_ONLY("fragments");
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      struct fr_ring r = fr_open(fr_backends[b], fr_formats[fi], 64, 16);
      const size_t len[] = {10, 20, 300, 5}; /* 300 bytes: 5 frames of 64 in both formats */
      struct batch bt;
      batch_make(&bt, len, 4);
      struct myelon_msg ms[8];
      publish_all(r.p, &bt);
      int n = myelon_consumer_recv_batch(r.c, ms, 8, 0);
      cr_assert(eq(int, n, 2), "the batch stops at the fragmented message");
      expect_msg(&ms[0], &bt, 0);
      expect_msg(&ms[1], &bt, 1);
      n = myelon_consumer_recv_batch(r.c, ms, 8, 0);
      cr_assert(eq(int, n, 1), "the fragmented message alone");
      expect_msg(&ms[0], &bt, 2);
      cr_assert(not(ms[0].zero_copy));
      n = myelon_consumer_recv_batch(r.c, ms, 8, 0);
      cr_assert(eq(int, n, 1));
      expect_msg(&ms[0], &bt, 3);
      myelon_consumer_release(r.c);
      fr_expect_empty(r.c);
      batch_free(&bt);
      fr_close(&r);
    }
}

/* A frame the fast path does not accept ends the batch before it; the next
 * call reports the error, the one after goes on with the stream. */
Test(framed_batch, a_malformed_frame_ends_the_batch_and_is_reported_next)
{
  FR_SLOT_ONLY("injects slot images (test_bytes_framed.c: bad_records_are_malformed...)");
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 16);
    const size_t len[] = {8, 9, 10};
    struct batch bt;
    batch_make(&bt, len, 3);
    publish_all(r.p, &bt);
    fr_inject(&r, "bad", 3, 0, 0x80 | MYELON_FLAG_SINGLE, 0, 77, 3); /* unknown flag bit */
    struct batch tail;
    const size_t tlen[] = {11};
    batch_make(&tail, tlen, 1);
    publish_all(r.p, &tail);
    struct myelon_msg ms[8];
    int n = myelon_consumer_recv_batch(r.c, ms, 8, 0);
    cr_assert(eq(int, n, 3));
    for (int k = 0; k < 3; k++)
      expect_msg(&ms[k], &bt, (size_t)k);
    n = myelon_consumer_recv_batch(r.c, ms, 8, 0);
    cr_assert(eq(int, n, -MYELON_E_MALFORMED), "got %s", myelon_err_name(n));
    n = myelon_consumer_recv_batch(r.c, ms, 8, 0);
    cr_assert(eq(int, n, 1));
    expect_msg(&ms[0], &tail, 0);
    cr_assert(eq(u64, myelon_consumer_errors(r.c), 1));
    batch_free(&bt);
    batch_free(&tail);
    fr_close(&r);
  }
}

/* The slots of a received batch are the consumer's until it releases them
 * (or receives again): a full ring stays full, and one release frees all. */
Test(framed_batch, a_received_batch_stays_leased_until_release)
{
  FR_SLOT_ONLY("counts slots");
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = fr_open(fr_backends[b], MYELON_FRAME_COMPACT, 16, 8);
    size_t len[8];
    for (int i = 0; i < 8; i++)
      len[i] = 16;
    struct batch bt;
    batch_make(&bt, len, 8);
    publish_all(r.p, &bt);
    struct myelon_msg ms[8];
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 8, 0), 8));
    cr_assert(eq(int, myelon_producer_try_publish(r.p, "x", 1, 0), -EAGAIN), "leased slots are not free");
    for (int k = 0; k < 8; k++)
      expect_msg(&ms[k], &bt, (size_t)k); /* still intact */
    myelon_consumer_release(r.c);
    for (int i = 0; i < 8; i++)
      cr_assert(eq(int, myelon_producer_try_publish(r.p, "x", 1, 0), 0), "slot %d free after one release", i);
    batch_free(&bt);
    fr_close(&r);
  }
}

/* Bad input is refused before anything is published. */
Test(framed_batch, bad_input_publishes_nothing)
{
  struct fr_ring r = fr_open(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, 16);
  const size_t len[] = {8, 8, 8};
  struct batch bt;
  batch_make(&bt, len, 3);
  size_t done = 99;
  cr_assert(eq(int, myelon_producer_publish_batch(NULL, bt.m, 3, 0, &done), -EINVAL));
  cr_assert(eq(sz, done, 0));
  cr_assert(eq(int, myelon_producer_publish_batch(r.p, NULL, 3, 0, &done), -EINVAL));
  cr_assert(eq(int, myelon_producer_publish_batch(r.p, NULL, 0, 0, &done), 0), "an empty batch");
  cr_assert(eq(int, myelon_producer_publish_batch(r.p, bt.m, 0, 0, NULL), 0));
  struct myelon_batch_msg bad[3] = {bt.m[0], bt.m[1], {.data = NULL, .len = 5, .kind = 0}};
  cr_assert(eq(int, myelon_producer_publish_batch(r.p, bad, 3, 0, &done), -EINVAL));
  cr_assert(strstr(dmp_last_error(), "message 2") != NULL, "%s", dmp_last_error());
  bad[2] = (struct myelon_batch_msg){.data = bt.buf[0], .len = myelon_producer_max_message(r.p) + 1, .kind = 0};
  cr_assert(eq(int, myelon_producer_publish_batch(r.p, bad, 3, 0, &done), -MYELON_E_TOOBIG));
  cr_assert(eq(sz, done, 0));
  bad[2] = (struct myelon_batch_msg){.data = NULL, .len = 0, .kind = 9}; /* empty: fine */
  void *zc;
  cr_assert(eq(int, myelon_producer_claim(r.p, 8, &zc, 0), 0));
  cr_assert(eq(int, myelon_producer_publish_batch(r.p, bad, 3, 0, &done), -EINVAL), "a claim is open");
  cr_assert(eq(int, myelon_producer_abort(r.p), 0));
  fr_expect_empty(r.c);
  cr_assert(eq(int, myelon_producer_publish_batch(r.p, bad, 3, 0, &done), 0));
  cr_assert(eq(sz, done, 3));
  struct myelon_msg ms[4];
  cr_assert(eq(int, myelon_consumer_recv_batch(NULL, ms, 4, 0), -EINVAL));
  cr_assert(eq(int, myelon_consumer_recv_batch(r.c, NULL, 4, 0), -EINVAL));
  cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 0, 0), -EINVAL));
  cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 4, 0), 3));
  cr_assert(eq(sz, ms[2].len, 0));
  cr_assert(eq(u8, ms[2].kind, 9));
  batch_free(&bt);
  fr_close(&r);
}

/* A full ring: the batch waits up to its timeout, then says how many went;
 * an empty ring's receive times out (or, with timeout 0, only looks). */
Test(framed_batch, full_ring_times_out_with_the_count_published)
{
  FR_SLOT_ONLY("counts slots (test_bytes_framed.c: timeouts_and_the_producer_going_away)");
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = fr_open(fr_backends[b], MYELON_FRAME_COMPACT, 64, 4);
    struct myelon_msg ms[8];
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 8, 0), -EAGAIN));
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 8, FR_SHORT_NS), -ETIMEDOUT));
    const size_t len[] = {8, 8, 8, 8, 8, 8};
    struct batch bt;
    batch_make(&bt, len, 6);
    size_t done = 0;
    int rc = myelon_producer_publish_batch(r.p, bt.m, 6, FR_SHORT_NS, &done);
    cr_assert(eq(int, rc, -ETIMEDOUT), "got %s", myelon_err_name(rc));
    cr_assert(eq(sz, done, 4), "the ring's capacity went");
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 8, FR_LONG_NS), 4));
    for (int k = 0; k < 4; k++)
      expect_msg(&ms[k], &bt, (size_t)k);
    rc = myelon_producer_publish_batch(r.p, bt.m + 4, 2, 0, &done);
    cr_assert(eq(int, rc, -ETIMEDOUT), "still leased: no room, and timeout 0 does not wait");
    cr_assert(eq(sz, done, 0));
    myelon_consumer_release(r.c);
    rc = myelon_producer_publish_batch(r.p, bt.m + 4, 2, 0, &done);
    cr_assert(eq(int, rc, 0));
    cr_assert(eq(int, myelon_consumer_recv_batch(r.c, ms, 8, FR_LONG_NS), 2));
    expect_msg(&ms[0], &bt, 4);
    expect_msg(&ms[1], &bt, 5);
    batch_free(&bt);
    fr_close(&r);
  }
}

/* A multi-producer ring takes batches: runs claimed at most half a ring at
 * a time, each multi-frame message in one claim; one of more frames than
 * the ring is refused before anything of the batch is published. */
Test(framed_batch, multi_producer_ring_takes_batches)
{
  FR_SLOT_ONLY("multi-frame messages: a byte ring's message is one record (its multi-producer batches: bytes_framed)");
  for (int b = 0; b < 2; b++) {
    struct myelon_producer_config pc = fr_pcfg(fr_backends[b], MYELON_FRAME_COMPACT, 64, 16, "frmbmp");
    pc.ring.flags |= DMP_RING_MULTI_PRODUCER;
    struct fr_ring r = fr_open_cfg(&pc, 0);
    struct myelon_producer *q = NULL;
    cr_assert(eq(int, myelon_producer_attach(&pc, &q), 0), "%s", dmp_last_error());
    const size_t len[] = {1, 2, 3, 200, 4, 5, 6, 7, 8, 9, 10, 11};
    struct batch bt;
    batch_make(&bt, len, 12);
    publish_all(q, &bt);
    struct myelon_msg ms[16];
    size_t got = 0;
    while (got < 12) {
      int n = myelon_consumer_recv_batch(r.c, ms, 16, FR_LONG_NS);
      cr_assert(gt(int, n, 0), "%s", myelon_err_name(n));
      for (int k = 0; k < n; k++, got++)
        expect_msg(&ms[k], &bt, got);
    }
    struct batch big;
    const size_t blen[] = {8, 17 * 64};
    batch_make(&big, blen, 2);
    size_t done = 9;
    cr_assert(eq(int, myelon_producer_publish_batch(r.p, big.m, 2, FR_LONG_NS, &done), -MYELON_E_TOOBIG));
    cr_assert(eq(sz, done, 0));
    fr_expect_empty(r.c);
    batch_free(&big);
    batch_free(&bt);
    myelon_producer_close(q);
    fr_close(&r);
  }
}
