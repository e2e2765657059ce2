/* The framed producer and consumer (framed.h) in one process, part 2:
 * max_message on both sides, format checks on attach, message ids, owned
 * copies, batch processing, timeouts, wait strategies, the producer going
 * away, and managed publish. Part 1 is test_framed.c. */
#include "framing.h"

TestSuite(framed_limits, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(framed_attach, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(framed_recv, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(framed_managed, .fini = fr_fini, .timeout = FR_TIMEOUT);

/* ---- limits -------------------------------------------------------------------- */

Test(framed_limits, producer_enforces_max_message)
{
  struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, 64, "lim");
  pc.max_message = 1000;
  struct fr_ring r = fr_open_cfg(&pc, 0);
  uint8_t data[1001];
  fr_pattern(data, sizeof data, 1);
  int64_t seq = dmp_producer_sequence(myelon_producer_ring(r.p));
  cr_assert(eq(int, myelon_producer_publish(r.p, data, 1001, 0, 0), -MYELON_E_TOOBIG));
  cr_assert(eq(int, myelon_producer_try_publish(r.p, data, 1001, 0), -MYELON_E_TOOBIG));
  uint64_t failed = 77;
  cr_assert(eq(int, myelon_producer_publish_managed(r.p, data, 1001, 0, 0, &failed), -MYELON_E_TOOBIG));
  cr_assert(eq(int, myelon_producer_publish(r.p, data, SIZE_MAX, 0, 0), -MYELON_E_TOOBIG));
  cr_assert(eq(i64, dmp_producer_sequence(myelon_producer_ring(r.p)), seq), "nothing published");
  fr_publish_ok(r.p, data, 1000, 4);
  fr_expect_pattern(r.c, 1000, 1, 4);
  fr_close(&r);
}

Test(framed_limits, producer_create_validates_its_config)
{
  FR_SLOT_ONLY("frame capacities (test_bytes_framed.c: config_checks)");
  struct myelon_producer *p = (void *)1;
  struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, 8, "cfg");
  cr_assert(eq(int, myelon_producer_create(NULL, &p), -EINVAL));
  cr_assert(eq(ptr, p, NULL), "*out cleared on failure");
  cr_assert(eq(int, myelon_producer_create(&pc, NULL), -EINVAL));
  pc.max_message = 0;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG));
  pc.max_message = (size_t)MYELON_MAX_MESSAGE_LIMIT + 1;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG));
  pc.max_message = 1000;
  pc.frame_capacity = 4;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -MYELON_E_FORMAT));
  pc.frame_capacity = MYELON_FRAME_MAX_CAPACITY + 1;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -MYELON_E_FORMAT));
  pc.frame_capacity = 64;
  pc.format = (enum myelon_frame_format)5;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -MYELON_E_FORMAT));
  pc.format = MYELON_FRAME_COMPACT;
  pc.ring.capacity = 3;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), -DMP_E_BADCONFIG), "Layer 0 checks its part");
  cr_assert(eq(ptr, p, NULL));
}

/* A consumer whose max_message is smaller than the producer's: TOOBIG for
 * each message above it, and the stream goes on with the next one. */
Test(framed_limits, consumer_with_a_smaller_max_reports_toobig_and_continues)
{
  for (int fi = 0; fi < 2; fi++) {
    struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, fr_formats[fi], 256, 64, "lim");
    struct fr_ring r = fr_open_cfg(&pc, 100);
    uint8_t data[5000];
    fr_pattern(data, sizeof data, 2);
    const struct {
      size_t len;
      bool ok;
    } seq[] = {{50, true}, {5000, false}, {60, true}, {200, false}, {100, true}, {101, false}, {0, true},
               {1000, false}, {99, true}};
    int bad = 0;
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
      fr_publish_ok(r.p, data, seq[i].len, (uint8_t)i);
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
      if (seq[i].ok) {
        fr_expect_pattern(r.c, seq[i].len, 2, (uint8_t)i);
        continue;
      }
      struct myelon_msg m;
      int rc = myelon_consumer_try_recv(r.c, &m);
      cr_assert(eq(int, rc, -MYELON_E_TOOBIG), "%s: %zu bytes, consumer max 100: %s", fr_format_name(r.fmt),
                seq[i].len, myelon_err_name(rc));
      bad++;
    }
    fr_expect_empty(r.c);
    cr_assert(eq(u64, myelon_consumer_errors(r.c), (uint64_t)bad));
    cr_assert(eq(u64, myelon_consumer_orphans(r.c), 0), "the rest of an oversize message is no orphan");
    fr_close(&r);
  }
}

/* ---- attach ---------------------------------------------------------------------- */

static int table_entries(struct myelon_producer *p)
{
  struct dmp_consumer_info info[8];
  int n = dmp_producer_list_consumers(myelon_producer_ring(p), NULL, info, 8);
  cr_assert(ge(int, n, 0));
  return n;
}

static void expect_format_error(struct myelon_consumer_config *cc, struct myelon_producer *p, const char *what)
{
  struct myelon_consumer *c = (void *)1;
  int before = table_entries(p);
  int rc = myelon_consumer_attach(cc, &c);
  cr_assert(eq(int, rc, -MYELON_E_FORMAT), "%s: %s / %s", what, myelon_err_name(rc), dmp_last_error());
  cr_assert(eq(ptr, c, NULL));
  cr_assert(eq(int, table_entries(p), before), "%s: a failed attach left a consumer entry behind", what);
  cc->ring.flags = DMP_CONSUMER_DURABLE;
  rc = myelon_consumer_attach_timeout(cc, FR_LONG_NS, &c);
  cr_assert(eq(int, rc, -MYELON_E_FORMAT), "%s (durable, with timeout): %s", what, myelon_err_name(rc));
  cr_assert(eq(int, table_entries(p), before), "%s: a failed durable attach left a gating entry", what);
  cc->ring.flags = 0;
}

/* Regression: the format was checked only after Layer 0 had taken a table
 * entry, and the failed attach closed it IDLE: an entry per failed id, and
 * with DMP_CONSUMER_DURABLE one that gated the producer for ever. */
Test(framed_attach, format_or_capacity_mismatch_is_format_error_and_leaves_no_entry)
{
  FR_SLOT_ONLY("frame capacities (test_bytes_framed.c: attach_to_the_other_shape...)");
  for (int b = 0; b < 2; b++) {
    struct myelon_producer_config pc = fr_pcfg(fr_backends[b], MYELON_FRAME_COMPACT, 256, 8, "fmt");
    struct myelon_producer *p = fr_create(&pc);
    struct myelon_consumer_config cc = fr_ccfg(&pc, "x");
    cc.format = MYELON_FRAME_ALIGNED;
    expect_format_error(&cc, p, "aligned consumer, compact ring");
    cc.frame_capacity = 0;
    expect_format_error(&cc, p, "aligned consumer (any capacity), compact ring");
    cc.format = MYELON_FRAME_COMPACT;
    cc.frame_capacity = 512;
    expect_format_error(&cc, p, "capacity 512 on a 256 ring");
    cc.frame_capacity = 128;
    expect_format_error(&cc, p, "capacity 128 on a 256 ring");
    cc.format = (enum myelon_frame_format)5;
    cc.frame_capacity = 256;
    expect_format_error(&cc, p, "unknown format");
    cc.format = MYELON_FRAME_AUTO;
    cc.frame_capacity = 128;
    expect_format_error(&cc, p, "MYELON_FRAME_AUTO with capacity 128 on a 256 ring");
    /* what does fit: the capacity, any capacity, one that rounds to it */
    cc.format = MYELON_FRAME_COMPACT;
    const uint32_t ok[] = {256, 0, 253};
    for (int i = 0; i < 3; i++) {
      cc.frame_capacity = ok[i];
      struct myelon_consumer *c = fr_attach(&cc);
      cr_assert(eq(u64, dmp_consumer_type_tag(myelon_consumer_ring(c)), myelon_frame_tag(MYELON_FRAME_COMPACT, 256)));
      myelon_consumer_close(c);
    }
    /* and a producer that is not gated by any failed attach */
    for (int i = 0; i < 32; i++)
      cr_assert(eq(int, myelon_producer_try_publish(p, "x", 1, 0), 0), "gated by a failed attach");
    myelon_producer_close(p);
  }
}

Test(framed_attach, a_plain_layer0_ring_is_format_error)
{
  const uint32_t aligns[] = {4, 16};
  const enum myelon_frame_format fmts[] = {MYELON_FRAME_COMPACT, MYELON_FRAME_ALIGNED};
  for (int i = 0; i < 2; i++) {
    struct dmp_producer_config pc;
    dmp_producer_config_init(&pc);
    pc.name = ts_shm_name("plain");
    pc.capacity = 8;
    pc.slot_size = fr_slot_size(fmts[i], 256); /* the size fits, the tag does not */
    pc.slot_align = aligns[i];
    struct dmp_producer *p = NULL;
    cr_assert(eq(int, dmp_producer_create(&pc, &p), 0));
    struct myelon_consumer_config cc;
    myelon_consumer_config_init(&cc);
    cc.ring.name = pc.name;
    cc.ring.id = "x";
    cc.format = fmts[i];
    struct myelon_consumer *c = (void *)1;
    for (int pass = 0; pass < 3; pass++) {
      cc.frame_capacity = pass == 1 ? 256 : 0;
      if (pass == 2)
        cc.format = MYELON_FRAME_AUTO; /* the tag names no frame format */
      cc.ring.flags = DMP_CONSUMER_DURABLE;
      cr_assert(eq(int, myelon_consumer_attach(&cc, &c), -MYELON_E_FORMAT), "%s, capacity %u",
                fr_format_name(cc.format), cc.frame_capacity);
      struct dmp_consumer_info info[4];
      cr_assert(eq(int, dmp_producer_list_consumers(p, NULL, info, 4), 0), "entry left behind");
    }
    dmp_producer_close(p);
  }
}

/* MYELON_FRAME_AUTO (framed.h): a consumer that does not say the format
 * gets the one the ring was made with (compact or aligned slots of any
 * capacity, or a byte ring), reads what the producer sends, and gets the
 * same frame capacity as a consumer that named it; a non-gating one is
 * refused on a slot ring and taken on a byte ring, and a refusal leaves no
 * entry. Both backends. A producer refuses AUTO. */
Test(framed_attach, auto_format_takes_the_ring_s_format)
{
  const enum myelon_frame_format fmts[] = {MYELON_FRAME_COMPACT, MYELON_FRAME_ALIGNED, MYELON_FRAME_BYTES};
  const uint32_t caps[] = {64, 1000, 256};
  for (int b = 0; b < 2; b++)
    for (int f = 0; f < 3; f++) {
      struct myelon_producer_config pc = fr_pcfg(fr_backends[b], fmts[f], caps[f], 16, "auto");
      struct myelon_producer *p = fr_create(&pc);
      struct myelon_consumer_config named = fr_ccfg(&pc, "named");
      struct myelon_consumer *cn = fr_attach(&named);
      struct myelon_consumer_config cc = fr_ccfg(&pc, "auto");
      cc.format = MYELON_FRAME_AUTO;
      cc.frame_capacity = 0;
      struct myelon_consumer *c = fr_attach(&cc);
      cr_assert(eq(u32, myelon_consumer_frame_capacity(c), myelon_consumer_frame_capacity(cn)), "%s on %s",
                fr_format_name(pc.format), fr_backend_name(fr_backends[b]));
      cr_assert(eq(u64, dmp_consumer_type_tag(myelon_consumer_ring(c)),
                   dmp_consumer_type_tag(myelon_consumer_ring(cn))));
      /* one message that takes several frames on the compact ring */
      uint8_t data[600];
      fr_pattern(data, sizeof data, 7);
      fr_publish_ok(p, data, sizeof data, 9);
      fr_expect_pattern(c, sizeof data, 7, 9);
      fr_expect_pattern(cn, sizeof data, 7, 9);
      /* non-gating: copying readers exist on byte rings only */
      struct myelon_consumer_config ng = fr_ccfg(&pc, "ng");
      ng.format = MYELON_FRAME_AUTO;
      ng.frame_capacity = 0;
      ng.ring.flags = DMP_CONSUMER_NON_GATING;
      struct myelon_consumer *cg = (void *)1;
      int before = table_entries(p);
      int rc = myelon_consumer_attach(&ng, &cg);
      if (pc.format == MYELON_FRAME_BYTES) {
        cr_assert(eq(int, rc, 0), "non-gating AUTO on a byte ring: %s / %s", myelon_err_name(rc), dmp_last_error());
        myelon_consumer_close(cg);
      } else {
        cr_assert(eq(int, rc, -EINVAL), "non-gating AUTO on a %s ring: %s", fr_format_name(pc.format),
                  myelon_err_name(rc));
        cr_assert(eq(ptr, cg, NULL));
        cr_assert(eq(int, table_entries(p), before), "a refused non-gating attach left an entry");
      }
      myelon_consumer_close(c);
      myelon_consumer_close(cn);
      /* producers make rings with a format: AUTO is refused */
      struct myelon_producer_config pa = fr_pcfg(fr_backends[b], MYELON_FRAME_COMPACT, 64, 16, "autop");
      pa.format = MYELON_FRAME_AUTO;
      pa.ring_bytes = 0;
      struct myelon_producer *bad = (void *)1;
      cr_assert(eq(int, myelon_producer_create(&pa, &bad), -MYELON_E_FORMAT));
      cr_assert(eq(ptr, bad, NULL));
      cr_assert(strstr(dmp_last_error(), "MYELON_FRAME_AUTO") != NULL, "%s", dmp_last_error());
      myelon_producer_close(p);
    }
}

Test(framed_attach, missing_ring_and_bad_config)
{
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = ts_shm_name("none");
  cc.ring.id = "x";
  struct myelon_consumer *c = (void *)1;
  cr_assert(eq(int, myelon_consumer_attach(&cc, &c), -ENOENT));
  cr_assert(eq(ptr, c, NULL));
  cr_assert(eq(int, myelon_consumer_attach_timeout(&cc, FR_SHORT_NS, &c), -ETIMEDOUT));
  cc.max_message = 0;
  cr_assert(eq(int, myelon_consumer_attach(&cc, &c), -DMP_E_BADCONFIG));
  cc.max_message = (size_t)MYELON_MAX_MESSAGE_LIMIT + 1;
  cr_assert(eq(int, myelon_consumer_attach(&cc, &c), -DMP_E_BADCONFIG));
  cr_assert(eq(int, myelon_consumer_attach(NULL, &c), -EINVAL));
  cr_assert(eq(int, myelon_consumer_attach(&cc, NULL), -EINVAL));
}

Test(framed_attach, layer0_handles_are_the_very_disruptor_mp_types)
{
  FR_SLOT_ONLY("counts slots");
  struct fr_ring r = fr_open(DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED, 100, 32);
  struct dmp_consumer *dc = myelon_consumer_ring(r.c);
  struct dmp_producer *dp = myelon_producer_ring(r.p);
  cr_assert(eq(u64, dmp_consumer_capacity(dc), 32));
  cr_assert(eq(u32, dmp_consumer_slot_size(dc), 16 + 112));
  cr_assert(eq(u32, dmp_consumer_slot_align(dc), 16));
  cr_assert(eq(u64, dmp_consumer_type_tag(dc), myelon_frame_tag(MYELON_FRAME_ALIGNED, 112)));
  cr_assert(eq(i64, dmp_producer_sequence(dp), -1));
  cr_assert(eq(ptr, myelon_consumer_ring(NULL), NULL));
  cr_assert(eq(ptr, myelon_producer_ring(NULL), NULL));
  fr_close(&r);
}

/* ---- receive --------------------------------------------------------------------- */

Test(framed_recv, message_ids_are_unique_and_never_zero)
{
  struct fr_ring r = fr_open(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, 64);
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.quiet = true;
  cr_assert(eq(int, dmp_producer_enable_liveness(myelon_producer_ring(r.p), &lc), 0));
  uint32_t ids[200];
  uint8_t data[300];
  fr_pattern(data, sizeof data, 3);
  for (int i = 0; i < 200; i++) {
    size_t len = (size_t)(i * 7) % sizeof data;
    void *buf;
    switch (i % 4) {
    case 0: fr_publish_ok(r.p, data, len, 0); break;
    case 1: cr_assert(eq(int, myelon_producer_try_publish(r.p, data, len, 0), 0)); break;
    case 2: cr_assert(eq(int, myelon_producer_publish_managed(r.p, data, len, 0, FR_LONG_NS, NULL), 0)); break;
    default:
      cr_assert(eq(int, myelon_producer_claim(r.p, 16, &buf, 0), 0));
      cr_assert(eq(int, myelon_producer_commit(r.p, 16, 0), 0));
      break;
    }
    struct myelon_msg m = fr_recv_now(r.c);
    ids[i] = m.msg_id;
    myelon_consumer_release(r.c);
    cr_assert(ne(u32, ids[i], 0));
    for (int j = 0; j < i; j++)
      cr_assert(ne(u32, ids[i], ids[j]), "id %u repeats", ids[i]);
  }
  fr_close(&r);
}

Test(framed_recv, owned_copy_survives_reuse_of_the_ring)
{
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 8);
    uint8_t data[400];
    fr_pattern(data, sizeof data, 4);
    const size_t sizes[] = {30, 400};
    for (int i = 0; i < 2; i++) {
      fr_publish_ok(r.p, data, sizes[i], 9);
      void *copy = NULL;
      size_t len = 0;
      uint8_t kind = 0;
      cr_assert(eq(int, myelon_consumer_recv_copy(r.c, &copy, &len, &kind, FR_LONG_NS), 0));
      cr_assert(eq(sz, len, sizes[i]));
      cr_assert(eq(u8, kind, 9));
      /* the slots are released: the whole ring can be rewritten */
      for (int k = 0; k < 8; k++)
        cr_assert(eq(int, myelon_producer_try_publish(r.p, "zzzzzzzzzzzzzzzz", 16, 1), 0), "slot still leased");
      cr_assert(eq(int, memcmp(copy, data, len), 0), "the copy changed with the ring");
      free(copy);
      for (int k = 0; k < 8; k++) {
        fr_recv_now(r.c);
        myelon_consumer_release(r.c);
      }
    }
    cr_assert(eq(int, myelon_consumer_recv_copy(r.c, NULL, NULL, NULL, 0), -EINVAL));
    void *copy;
    size_t len;
    cr_assert(eq(int, myelon_consumer_recv_copy(r.c, &copy, &len, NULL, FR_SHORT_NS), -ETIMEDOUT));
    fr_close(&r);
  }
}

struct proc_state {
  int seen;
  int stop_at; /* stop after this many (-1: never) */
  size_t lens[16];
};

static int on_msg(const struct myelon_msg *m, void *user)
{
  struct proc_state *st = user;
  st->lens[st->seen % 16] = m->len;
  st->seen++;
  return st->seen == st->stop_at;
}

Test(framed_recv, process_stops_on_the_callback_and_skips_bad_messages)
{
  FR_SLOT_ONLY("injects slot images");
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 64);
    uint8_t data[300];
    fr_pattern(data, sizeof data, 8);
    for (int i = 0; i < 5; i++)
      fr_publish_ok(r.p, data, (size_t)(i * 60), (uint8_t)i);
    struct proc_state st = {0, 2, {0}};
    cr_assert(eq(i64, myelon_consumer_process(r.c, on_msg, 0, &st), 2), "stops after the callback says so");
    st.stop_at = -1;
    cr_assert(eq(i64, myelon_consumer_process(r.c, on_msg, 2, &st), 2), "at most max");
    cr_assert(eq(sz, st.lens[3], 180));
    fr_inject(&r, data, 10, 0, MYELON_FLAG_SINGLE, 0, 0, 10); /* msg_id 0: malformed */
    fr_publish_ok(r.p, data, 200, 5);
    fr_publish_ok(r.p, data, 7, 6);
    cr_assert(eq(i64, myelon_consumer_process(r.c, on_msg, 0, &st), 3), "bad frame skipped");
    cr_assert(eq(int, st.seen, 7));
    cr_assert(eq(sz, st.lens[6], 7));
    cr_assert(eq(u64, myelon_consumer_errors(r.c), 1));
    cr_assert(eq(i64, myelon_consumer_process(r.c, on_msg, 0, &st), 0), "nothing left");
    cr_assert(eq(i64, myelon_consumer_process(r.c, NULL, 0, &st), -EINVAL));
    cr_assert(eq(i64, myelon_consumer_process(NULL, on_msg, 0, &st), -EINVAL));
    fr_close(&r);
  }
}

Test(framed_recv, timeout_keeps_a_partial_message)
{
  FR_SLOT_ONLY("fragments");
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 16);
    struct myelon_msg m;
    cr_assert(eq(int, myelon_consumer_recv(r.c, &m, FR_SHORT_NS), -ETIMEDOUT));
    cr_assert(eq(int, myelon_consumer_recv(r.c, &m, 0), -ETIMEDOUT));
    uint8_t data[500], frames[16 * 80];
    fr_pattern(data, sizeof data, 12);
    uint64_t n = fr_split(r.fmt, r.cap, r.slot, frames, data, sizeof data, 3, 4242);
    cr_assert(ge(u64, n, 8));
    for (uint64_t k = 0; k < 4; k++)
      fr_inject_image(r.p, frames + k * r.slot, r.slot);
    cr_assert(eq(int, myelon_consumer_try_recv(r.c, &m), -EAGAIN));
    cr_assert(eq(int, myelon_consumer_recv(r.c, &m, FR_SHORT_NS), -ETIMEDOUT));
    for (uint64_t k = 4; k < n; k++)
      fr_inject_image(r.p, frames + k * r.slot, r.slot);
    cr_assert(eq(int, myelon_consumer_recv(r.c, &m, FR_LONG_NS), 0));
    cr_assert(eq(sz, m.len, sizeof data));
    cr_assert(eq(u32, m.msg_id, 4242));
    cr_assert(eq(int, memcmp(m.data, data, sizeof data), 0));
    cr_assert(eq(u64, myelon_consumer_errors(r.c), 0));
    fr_close(&r);
  }
}

Test(framed_recv, every_wait_strategy_receives_and_times_out)
{
  const enum dmp_wait_kind kinds[] = {DMP_WAIT_BLOCK, DMP_WAIT_SPIN, DMP_WAIT_YIELD, DMP_WAIT_SLEEP};
  for (int k = 0; k < 4; k++) {
    struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, 16, "wait");
    struct myelon_producer *p = fr_create(&pc);
    struct myelon_consumer_config cc = fr_ccfg(&pc, "w");
    cc.ring.wait.kind = kinds[k];
    struct myelon_consumer *c = fr_attach(&cc);
    struct myelon_msg m;
    cr_assert(eq(int, myelon_consumer_recv(c, &m, FR_SHORT_NS), -ETIMEDOUT), "wait kind %d", (int)kinds[k]);
    uint8_t data[300];
    fr_pattern(data, sizeof data, 1);
    fr_publish_ok(p, data, sizeof data, 1);
    cr_assert(eq(int, myelon_consumer_recv(c, &m, FR_LONG_NS), 0));
    cr_assert(eq(sz, m.len, sizeof data));
    myelon_consumer_close(c);
    myelon_producer_close(p);
  }
}

Test(framed_recv, producer_gone_is_ownerdead_and_drops_a_partial_message)
{
  FR_SLOT_ONLY("partial messages (test_bytes_framed.c: timeouts_and_the_producer_going_away)");
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      /* at a message boundary */
      struct fr_ring r = fr_open(fr_backends[b], fr_formats[fi], 64, 16);
      fr_publish_ok(r.p, "last", 4, 1);
      myelon_producer_close(r.p);
      r.p = NULL;
      struct myelon_msg m;
      cr_assert(eq(int, myelon_consumer_recv(r.c, &m, FR_LONG_NS), 0), "what was published is still read");
      cr_assert(eq(int, myelon_consumer_recv(r.c, &m, FR_LONG_NS), -DMP_E_OWNERDEAD));
      cr_assert(eq(u64, myelon_consumer_errors(r.c), 0));
      fr_close(&r);
      /* in the middle of a message */
      r = fr_open(fr_backends[b], fr_formats[fi], 64, 16);
      uint8_t data[500], frames[16 * 80];
      fr_pattern(data, sizeof data, 2);
      fr_split(r.fmt, r.cap, r.slot, frames, data, sizeof data, 3, 99);
      for (uint64_t k = 0; k < 3; k++)
        fr_inject_image(r.p, frames + k * r.slot, r.slot);
      myelon_producer_close(r.p);
      r.p = NULL;
      int rc = myelon_consumer_recv(r.c, &m, FR_LONG_NS);
      cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "%s/%s: %s", fr_backend_name(fr_backends[b]),
                fr_format_name(r.fmt), myelon_err_name(rc));
      cr_assert(eq(u64, myelon_consumer_errors(r.c), 1), "the partial message is counted as lost");
      cr_assert(ne(ptr, strstr(dmp_last_error(), "middle of message 99"), NULL), "detail: %s", dmp_last_error());
      fr_close(&r);
    }
}

Test(framed_recv, publish_timeout_cuts_a_message_that_the_consumer_reports_truncated)
{
  FR_SLOT_ONLY("fragments");
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 16);
    uint8_t data[64 * 40];
    fr_pattern(data, sizeof data, 3);
    int rc = myelon_producer_publish(r.p, data, sizeof data, 1, FR_SHORT_NS);
    cr_assert(eq(int, rc, -ETIMEDOUT), "40 frames into 16 unread slots: %s", myelon_err_name(rc));
    cr_assert(ne(ptr, strstr(dmp_last_error(), "cut after 16 of"), NULL), "detail: %s", dmp_last_error());
    struct myelon_msg m;
    cr_assert(eq(int, myelon_consumer_try_recv(r.c, &m), -EAGAIN), "a partial message is no message");
    fr_publish_ok(r.p, data, 100, 2);
    cr_assert(eq(int, myelon_consumer_try_recv(r.c, &m), -MYELON_E_TRUNCATED));
    fr_expect_pattern(r.c, 100, 3, 2);
    cr_assert(eq(u64, myelon_consumer_errors(r.c), 1));
    fr_close(&r);
  }
}

Test(framed_recv, null_arguments)
{
  struct myelon_msg m;
  cr_assert(eq(int, myelon_producer_publish(NULL, "x", 1, 0, 0), -EINVAL));
  cr_assert(eq(int, myelon_producer_try_publish(NULL, "x", 1, 0), -EINVAL));
  cr_assert(eq(int, myelon_consumer_try_recv(NULL, &m), -EINVAL));
  cr_assert(eq(int, myelon_consumer_recv(NULL, &m, 0), -EINVAL));
  cr_assert(eq(u64, myelon_consumer_errors(NULL), 0));
  cr_assert(eq(u64, myelon_consumer_orphans(NULL), 0));
  myelon_consumer_release(NULL);
  myelon_consumer_close(NULL);
  myelon_producer_close(NULL);
  struct fr_ring r = fr_open(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, 8);
  cr_assert(eq(int, myelon_producer_publish(r.p, NULL, 1, 0, 0), -EINVAL), "NULL data with a length");
  cr_assert(eq(int, myelon_producer_publish(r.p, NULL, 0, 0, 0), 0), "NULL data of length 0 is an empty message");
  cr_assert(eq(int, myelon_consumer_try_recv(r.c, NULL), -EINVAL));
  fr_close(&r);
}

/* ---- managed publish --------------------------------------------------------------- */

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

Test(framed_managed, reports_the_first_frame_not_published)
{
  FR_SLOT_ONLY("fragments (test_bytes_framed.c: managed_publish_runs_the_liveness_checks)");
  for (int fi = 0; fi < 2; fi++) {
    uint8_t data[64 * 40];
    fr_pattern(data, sizeof data, 1);
    uint64_t failed = 77;
    /* no liveness enabled */
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 16);
    int rc = myelon_producer_publish_managed(r.p, data, 10, 0, FR_LONG_NS, &failed);
    cr_assert(eq(int, rc, -DMP_E_NOLIVENESS), "%s", myelon_err_name(rc));
    cr_assert(eq(u64, failed, 0));
    /* a required consumer that never comes */
    const char *ghost[] = {"ghost"};
    struct dmp_liveness_config lc;
    quiet_liveness(&lc, ghost, 1);
    cr_assert(eq(int, dmp_producer_enable_liveness(myelon_producer_ring(r.p), &lc), 0));
    failed = 77;
    rc = myelon_producer_publish_managed(r.p, data, 10, 0, FR_LONG_NS, &failed);
    cr_assert(eq(int, rc, -DMP_E_STARTUP), "%s", myelon_err_name(rc));
    cr_assert(eq(u64, failed, 0), "nothing published");
    fr_expect_empty(r.c);
    fr_close(&r);

    /* a required consumer that stalls in the middle of a long message */
    r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 16);
    const char *c0[] = {"c0"};
    quiet_liveness(&lc, c0, 1);
    cr_assert(eq(int, dmp_producer_enable_liveness(myelon_producer_ring(r.p), &lc), 0));
    failed = 77;
    cr_assert(eq(int, myelon_producer_publish_managed(r.p, data, 100, 4, FR_LONG_NS, &failed), 0), "fits: no wait");
    cr_assert(eq(u64, failed, 77), "untouched on success");
    fr_expect_pattern(r.c, 100, 1, 4);
    rc = myelon_producer_publish_managed(r.p, data, sizeof data, 5, FR_LONG_NS, &failed);
    cr_assert(eq(int, rc, -DMP_E_STALLED), "%s", myelon_err_name(rc));
    cr_assert(eq(u64, failed, 16), "frames 0..15 filled the ring");
    struct myelon_msg m;
    cr_assert(eq(int, myelon_consumer_try_recv(r.c, &m), -EAGAIN), "its head is no message");
    fr_close(&r);
  }
}
