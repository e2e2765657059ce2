/* Batched typed calls (typed.h, issue 20): myelon_typed_producer_publish_batch()
 * and myelon_typed_consumer_recv_batch() / _recv_view_batch() over real
 * rings - round trips in order on both backends (single- and multi-frame
 * values), a value the codec refuses or one above max_message publishes
 * nothing of its batch, per-message decode status, the views of a batch
 * valid together and stale together, the tree view codec refused,
 * timeouts and bad arguments. */
#include "typed_test.h"

TestSuite(typed_batch_calls, .fini = tt_fini, .timeout = TT_TIMEOUT);

#define NB 40

static struct tf_order vals[NB];
static const void *ptrs[NB];

static void fill_batch(size_t n, uint64_t base, uint32_t multi_every)
{
  for (size_t i = 0; i < n; i++) {
    uint32_t payload = multi_every && i % multi_every == multi_every - 1 ? 3000u : (uint32_t)(i * 7 % 120);
    tf_fill(&vals[i], base + i, payload);
    ptrs[i] = &vals[i];
  }
}

/* Receive `n` values by batches and check each against vals[]. */
static void recv_batches(struct tt_pair *t, size_t n, uint8_t kind, int *calls)
{
  struct myelon_typed_msg msgs[MYELON_TYPED_BATCH_MAX];
  size_t got = 0;
  *calls = 0;
  while (got < n) {
    int k = myelon_typed_consumer_recv_batch(t->tc, msgs, MYELON_TYPED_BATCH_MAX, TT_LONG_NS);
    cr_assert(gt(int, k, 0), "recv_batch after %zu: %s / %s", got, myelon_err_name(k), dmp_last_error());
    (*calls)++;
    for (int i = 0; i < k; i++, got++) {
      cr_assert(lt(sz, got, n), "more messages than were published");
      cr_assert(eq(int, msgs[i].status, 0), "message %zu: %s", got, myelon_err_name(msgs[i].status));
      cr_assert(eq(u8, msgs[i].kind, kind));
      char why[200] = "";
      cr_assert(tf_equal(msgs[i].value, &vals[got], why, sizeof why), "message %zu: %s", got, why);
      myelon_codec_free(&t->codec, msgs[i].value);
    }
  }
}

Test(typed_batch_calls, batches_round_trip_in_order_on_both_backends_single_and_multi_frame)
{
  for (int b = 0; b < TT_NBACKENDS; b++) {
    for (uint32_t multi = 0; multi <= 8; multi += 8) {
      struct tt_pair t;
      tt_open(&t, tt_backends[b], MYELON_FRAME_COMPACT, 1024, 256, NULL);
      fill_batch(NB, 1000u * (b + 1) + multi, multi);
      size_t published = 99;
      int rc = myelon_typed_producer_publish_batch(t.tp, ptrs, NB, 7, TT_LONG_NS, &published);
      cr_assert(eq(int, rc, 0), "%s: %s / %s", tt_backend_name(tt_backends[b]), myelon_err_name(rc), dmp_last_error());
      cr_assert(eq(sz, published, NB));
      struct myelon_typed_producer_stats s;
      myelon_typed_producer_stats(t.tp, &s);
      cr_assert(eq(u64, s.published, NB));
      int calls = 0;
      recv_batches(&t, NB, 7, &calls);
      /* Single-frame values come back in one call; a multi-frame message
       * ends a batch, so those take more. */
      if (multi == 0)
        cr_assert(eq(int, calls, 1), "%d receive calls for %d single-frame messages", calls, NB);
      else
        cr_assert(gt(int, calls, 1));
      struct myelon_typed_msg m;
      cr_assert(eq(int, myelon_typed_consumer_recv_batch(t.tc, &m, 1, 0), -EAGAIN), "nothing left");
      tt_close(&t);
    }
  }
}

Test(typed_batch_calls, batch_wider_than_the_ring_waits_for_the_consumer_and_times_out_without_one)
{
  struct tt_pair t;
  memset(&t, 0, sizeof t);
  tf_codec(&t.codec);
  t.pc = tt_pcfg(DMP_BACKEND_SHM, tt_fresh_name(DMP_BACKEND_SHM, "tw"), MYELON_FRAME_COMPACT, 1024, 16);
  fill_batch(NB, 5, 0);
  /* 40 messages, 16 slots, nobody reading: the first 16 go, then the
   * wait for space runs out. A byte ring of 8 KiB: as many as their
   * records fit from the ring's start (about 17 of these values). */
  size_t fit = 16;
  if (tt_bytes()) {
    t.pc.ring_bytes = 8192;
    uint64_t used = 0;
    for (fit = 0; fit < NB; fit++) {
      size_t n = 0;
      cr_assert(eq(int, myelon_codec_size(&t.codec, ptrs[fit], &n), 0));
      if ((used += tt_record_bytes(n)) > t.pc.ring_bytes)
        break;
    }
    cr_assert(lt(sz, fit, NB), "the batch fits the byte ring");
  }
  tt_open_pc(&t);
  size_t published = 0;
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, ptrs, NB, 1, TT_SHORT_NS, &published), -ETIMEDOUT));
  cr_assert(eq(sz, published, fit));
  int calls = 0;
  recv_batches(&t, fit, 1, &calls);
  tt_close(&t);
}

Test(typed_batch_calls, a_value_the_codec_refuses_publishes_nothing_of_its_batch)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 64, NULL);
  fill_batch(4, 1, 0);
  memset(vals[2].notes[0], 'n', sizeof vals[2].notes[0]); /* unterminated */
  vals[2].n_notes = 1;
  size_t published = 99;
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, ptrs, 4, 1, TT_LONG_NS, &published), -MYELON_E_CODEC));
  cr_assert(eq(sz, published, 0));
  cr_assert(tt_detail_has("string is not NUL-terminated"));
  cr_assert(tt_detail_has("value 2 of the batch of 4; nothing was published"));
  struct myelon_typed_msg m;
  cr_assert(eq(int, myelon_typed_consumer_recv_batch(t.tc, &m, 1, TT_SHORT_NS), -ETIMEDOUT), "something was published");
  struct myelon_typed_producer_stats s;
  myelon_typed_producer_stats(t.tp, &s);
  cr_assert(eq(u64, s.encode_errors, 1));
  cr_assert(eq(u64, s.published, 0));
  tt_close(&t);
}

Test(typed_batch_calls, a_value_above_max_message_is_toobig_and_publishes_nothing)
{
  struct tt_pair t;
  memset(&t, 0, sizeof t);
  tf_codec(&t.codec);
  t.pc = tt_pcfg(DMP_BACKEND_MMAP, tt_fresh_name(DMP_BACKEND_MMAP, "tb"), MYELON_FRAME_COMPACT, 256, 64);
  t.pc.max_message = 2048;
  cr_assert(eq(int, myelon_typed_producer_create(&t.pc, &t.codec, &t.tp), 0), "%s", dmp_last_error());
  struct myelon_consumer_config cc = tf_ccfg(&t.pc, "c0");
  cr_assert(eq(int, myelon_typed_consumer_attach(&cc, &t.codec, &t.tc), 0), "%s", dmp_last_error());
  fill_batch(3, 1, 0);
  tf_fill(&vals[1], 2, 3000); /* encodes to more than 2048 bytes */
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, ptrs, 3, 1, TT_LONG_NS, NULL), -MYELON_E_TOOBIG));
  cr_assert(tt_detail_has("exceeds max_message 2048"));
  cr_assert(tt_detail_has("value 1 of the batch of 3"));
  struct myelon_typed_msg m;
  cr_assert(eq(int, myelon_typed_consumer_recv_batch(t.tc, &m, 1, 0), -EAGAIN), "something was published");
  tt_close(&t);
}

Test(typed_batch_calls, decode_errors_are_delivered_with_their_status_and_the_batch_goes_on)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 64, NULL);
  fill_batch(3, 40, 0);
  const uint8_t bad[] = {0x93, 0x01}; /* an array missing two elements */
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, ptrs, 2, 3, TT_LONG_NS, NULL), 0));
  cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, bad, sizeof bad, 3, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, ptrs + 2, 1, 3, TT_LONG_NS, NULL), 0));
  struct myelon_typed_msg msgs[8];
  int k = myelon_typed_consumer_recv_batch(t.tc, msgs, 8, TT_LONG_NS);
  cr_assert(eq(int, k, 4), "%s", myelon_err_name(k));
  int want[] = {0, 0, -MYELON_E_CODEC, 0};
  const struct tf_order *order[] = {&vals[0], &vals[1], NULL, &vals[2]};
  for (int i = 0; i < 4; i++) {
    cr_assert(eq(int, msgs[i].status, want[i]), "message %d", i);
    if (want[i] < 0) {
      cr_assert(eq(ptr, msgs[i].value, NULL));
      continue;
    }
    char why[200] = "";
    cr_assert(tf_equal(msgs[i].value, order[i], why, sizeof why), "message %d: %s", i, why);
    myelon_codec_free(&t.codec, msgs[i].value);
  }
  cr_assert(eq(u64, myelon_typed_consumer_decode_errors(t.tc), 1));
  tt_close(&t);
}

/* The seq field of a lazy view, or UINT64_MAX. */
static uint64_t view_seq(const struct myelon_mp_lazy_view *v)
{
  const struct myelon_mp_item *root = myelon_mp_lazy_root(v);
  struct myelon_mp_item f;
  if (!root || myelon_mp_item_get(root, "seq", &f) != 0 || f.obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return UINT64_MAX;
  return f.obj.via.u64;
}

Test(typed_batch_calls, views_of_a_batch_are_valid_together_and_stale_together)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 64, NULL);
  fill_batch(8, 300, 0);
  const uint8_t bad[] = {0x82, 0xa2, 'i', 'd', 0xc1};
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, ptrs, 4, 2, TT_LONG_NS, NULL), 0));
  cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, bad, sizeof bad, 2, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, ptrs + 4, 4, 2, TT_LONG_NS, NULL), 0));
  struct myelon_view_codec vc;
  cr_assert(eq(int, myelon_mp_lazy_codec_init(&vc, 0), 0));
  struct myelon_mp_lazy_view views[16];
  struct myelon_typed_msg msgs[16];
  int k = myelon_typed_consumer_recv_view_batch(t.tc, &vc, views, sizeof views[0], msgs, 16, TT_LONG_NS);
  cr_assert(eq(int, k, 9), "%s / %s", myelon_err_name(k), dmp_last_error());
  for (int i = 0, v = 0; i < 9; i++) {
    if (i == 4) {
      cr_assert(eq(int, msgs[i].status, -MYELON_E_CODEC), "the hostile message was accepted");
      cr_assert(eq(ptr, msgs[i].value, NULL));
      continue;
    }
    cr_assert(eq(int, msgs[i].status, 0), "message %d: %s", i, myelon_err_name(msgs[i].status));
    cr_assert(eq(ptr, msgs[i].value, &views[i]));
    cr_assert(eq(u64, view_seq(&views[i]), vals[v].seq), "message %d", i);
    v++;
  }
  cr_assert(eq(u64, myelon_typed_consumer_decode_errors(t.tc), 1));
#ifndef NDEBUG
  myelon_typed_consumer_release(t.tc);
  for (int i = 0; i < 9; i++)
    if (i != 4) /* the refused message's view was never made */
      cr_assert(eq(ptr, (void *)myelon_mp_lazy_root(&views[i]), NULL), "view %d outlived its release", i);
#endif
  cr_assert(eq(int, myelon_typed_consumer_recv_view_batch(t.tc, &vc, views, sizeof views[0], msgs, 16, 0), -EAGAIN));
  tt_close(&t);
}

Test(typed_batch_calls, the_tree_view_codec_is_refused_before_anything_is_received)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 64, NULL);
  fill_batch(1, 9, 0);
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, ptrs, 1, 2, TT_LONG_NS, NULL), 0));
  msgpack_object nodes[64];
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, nodes, 64, 0);
  struct myelon_view_codec vc;
  myelon_mp_view_codec_init(&vc, &arena);
  struct myelon_mp_view views[2];
  struct myelon_typed_msg msgs[2];
  cr_assert(eq(int, myelon_typed_consumer_recv_view_batch(t.tc, &vc, views, sizeof views[0], msgs, 2, TT_LONG_NS),
               -EINVAL));
  cr_assert(tt_detail_has("tree view codec"));
  tt_recv_equal(&t, &vals[0], 2); /* still there */
  tt_close(&t);
}

Test(typed_batch_calls, empty_ring_times_out_and_bad_arguments_are_einval)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 64, NULL);
  struct myelon_typed_msg m;
  cr_assert(eq(int, myelon_typed_consumer_recv_batch(t.tc, &m, 1, TT_SHORT_NS), -ETIMEDOUT));
  cr_assert(eq(int, myelon_typed_consumer_recv_batch(t.tc, &m, 1, 0), -EAGAIN));
  cr_assert(eq(int, myelon_typed_consumer_recv_batch(t.tc, &m, 0, 0), -EINVAL));
  cr_assert(eq(int, myelon_typed_consumer_recv_batch(t.tc, NULL, 1, 0), -EINVAL));
  cr_assert(eq(int, myelon_typed_consumer_recv_batch(NULL, &m, 1, 0), -EINVAL));
  struct myelon_view_codec vc;
  myelon_mp_lazy_codec_init(&vc, 0);
  struct myelon_mp_lazy_view v;
  cr_assert(eq(int, myelon_typed_consumer_recv_view_batch(t.tc, &vc, &v, 0, &m, 1, 0), -EINVAL));
  cr_assert(eq(int, myelon_typed_consumer_recv_view_batch(t.tc, &vc, NULL, sizeof v, &m, 1, 0), -EINVAL));
  cr_assert(eq(int, myelon_typed_consumer_recv_view_batch(t.tc, NULL, &v, sizeof v, &m, 1, 0), -EINVAL));
  cr_assert(eq(int, myelon_typed_consumer_recv_view_batch(t.tc, &vc, &v, sizeof v, &m, 1, TT_SHORT_NS), -ETIMEDOUT));
  size_t published = 5;
  cr_assert(eq(int, myelon_typed_producer_publish_batch(NULL, ptrs, 1, 0, 0, &published), -EINVAL));
  cr_assert(eq(sz, published, 0));
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, NULL, 1, 0, 0, NULL), -EINVAL));
  cr_assert(eq(int, myelon_typed_producer_publish_batch(t.tp, NULL, 0, 0, 0, NULL), 0));
  tt_close(&t);
}

/* A consumer without a codec cannot decode, but it can take views. */
Test(typed_batch_calls, consumer_without_codec_refuses_owned_batches)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 64, NULL);
  struct myelon_consumer_config cc = tf_ccfg(&t.pc, "nocodec");
  struct myelon_typed_consumer *vc_only = NULL;
  cr_assert(eq(int, myelon_typed_consumer_attach(&cc, NULL, &vc_only), 0), "%s", dmp_last_error());
  struct myelon_typed_msg m;
  cr_assert(eq(int, myelon_typed_consumer_recv_batch(vc_only, &m, 1, 0), -EINVAL));
  myelon_typed_consumer_close(vc_only);
  tt_close(&t);
}
