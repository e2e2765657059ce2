/* Bad input injected into a framed ring through the Layer 0 producer
 * underneath (myelon_producer_ring()): impossible lengths, unknown flags,
 * msg_id 0, short compact STARTs, inconsistent totals, fragment gaps,
 * interleaved ids, a new START mid-message, an early END, orphans and
 * oversize totals. Each gives its documented error (or a silent, counted
 * drop), never a crash, and the next well-formed message is delivered
 * intact. Then seeded streams of random and mutated frames, where the
 * consumer must deliver exactly the well-formed messages the stream holds. */
#include "framing.h"

TestSuite(badinput, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(badinput_fuzz, .fini = fr_fini, .timeout = FR_TIMEOUT);

#define CAP 64u       /* frame capacity of these rings */
#define MAXMSG 1000u  /* consumer max_message */

static struct fr_ring bad_open(enum dmp_backend b, enum myelon_frame_format f)
{
  struct myelon_producer_config pc = fr_pcfg(b, f, CAP, 64, "bad");
  return fr_open_cfg(&pc, MAXMSG);
}

/* The first frame of a multi-frame message carries this much data. */
static uint32_t start_len(const struct fr_ring *r)
{
  return r->fmt == MYELON_FRAME_COMPACT ? CAP - 4 : CAP;
}

static void expect_rc(struct fr_ring *r, int want, const char *what)
{
  struct myelon_msg m;
  int rc = myelon_consumer_try_recv(r->c, &m);
  cr_assert(eq(int, rc, want), "%s/%s: %s: got %s (len %zu), want %s", fr_backend_name(r->pc.ring.backend),
            fr_format_name(r->fmt), what, myelon_err_name(rc), rc == 0 ? m.len : 0, myelon_err_name(want));
}

/* A good multi-frame message, a good single one, then nothing. */
static void expect_resync(struct fr_ring *r, uint32_t tag)
{
  uint8_t data[4 * CAP];
  fr_pattern(data, sizeof data, tag);
  fr_publish_ok(r->p, data, sizeof data, 200);
  fr_publish_ok(r->p, data, 7, 201);
  fr_expect_pattern(r->c, sizeof data, tag, 200);
  fr_expect_pattern(r->c, 7, tag, 201);
  fr_expect_empty(r->c);
}

/* Run `fn` on a fresh ring of every backend and format. */
static void each_ring(void (*fn)(struct fr_ring *r))
{
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      struct fr_ring r = bad_open(fr_backends[b], fr_formats[fi]);
      fn(&r);
      fr_close(&r);
    }
}

/* Write a raw header (any values) and publish it. */
static void inject_header(struct fr_ring *r, uint32_t len, uint8_t flags, uint16_t frag, uint32_t id, uint32_t total)
{
  uint8_t img[CAP + 16];
  memset(img, 0x77, sizeof img);
  struct myelon_frame_header h = {len, 1, flags, frag, id};
  memcpy(img, &h, sizeof h);
  memcpy(img + 12, &total, 4);
  fr_inject_image(r->p, img, r->slot);
}

static void impossible_lengths(struct fr_ring *r)
{
  inject_header(r, CAP + 1, MYELON_FLAG_SINGLE, 0, 1, CAP + 1);
  expect_rc(r, -MYELON_E_MALFORMED, "SINGLE len capacity + 1");
  inject_header(r, UINT32_MAX, 0, 1, 1, 100);
  expect_rc(r, -MYELON_E_MALFORMED, "MIDDLE len 2^32-1");
  inject_header(r, UINT32_MAX, MYELON_FLAG_START, 0, 1, UINT32_MAX);
  expect_rc(r, -MYELON_E_MALFORMED, "START len 2^32-1");
  expect_resync(r, 1);
  /* in the middle of a message: that message is lost too */
  uint8_t data[CAP];
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 5, 500);
  inject_header(r, CAP + 4, 0, 1, 5, 500);
  fr_inject(r, data, CAP, 1, 0, 2, 5, 500);
  fr_inject(r, data, 10, 1, MYELON_FLAG_END, 3, 5, 500);
  uint64_t errors = myelon_consumer_errors(r->c), orphans = myelon_consumer_orphans(r->c);
  expect_rc(r, -MYELON_E_MALFORMED, "impossible len mid-message");
  expect_rc(r, -EAGAIN, "the rest of that message");
  cr_assert(eq(u64, myelon_consumer_errors(r->c), errors + 2), "the bad frame and the lost message");
  cr_assert(eq(u64, myelon_consumer_orphans(r->c), orphans + 2));
  expect_resync(r, 2);
}

Test(badinput, impossible_lengths_are_malformed)
{
  each_ring(impossible_lengths);
}

static void flags_and_ids(struct fr_ring *r)
{
  const uint8_t bad_flags[] = {0x04, 0x08, 0x80 | MYELON_FLAG_SINGLE, 0xfc, 0xff};
  for (size_t i = 0; i < sizeof bad_flags; i++) {
    inject_header(r, 4, bad_flags[i], 0, 1, 4);
    expect_rc(r, -MYELON_E_MALFORMED, "unknown flag bits");
  }
  inject_header(r, 4, MYELON_FLAG_SINGLE, 0, 0, 4);
  expect_rc(r, -MYELON_E_MALFORMED, "SINGLE with msg_id 0");
  inject_header(r, 4, MYELON_FLAG_END, 1, 0, 4);
  expect_rc(r, -MYELON_E_MALFORMED, "END with msg_id 0");
  cr_assert(eq(u64, myelon_consumer_errors(r->c), sizeof bad_flags + 2));
  expect_resync(r, 3);
}

Test(badinput, unknown_flag_bits_and_msg_id_zero_are_malformed)
{
  each_ring(flags_and_ids);
}

static void totals(struct fr_ring *r)
{
  uint8_t data[CAP];
  memset(data, 1, sizeof data);
  if (r->fmt == MYELON_FRAME_COMPACT)
    for (uint32_t len = 0; len < 4; len++) {
      inject_header(r, len, MYELON_FLAG_START, 0, 1, 100);
      expect_rc(r, -MYELON_E_MALFORMED, "compact START shorter than its total prefix");
    }
  fr_inject(r, data, 30, 1, MYELON_FLAG_START, 0, 1, 29);
  expect_rc(r, -MYELON_E_MALFORMED, "START total below its data");
  fr_inject(r, data, 30, 1, MYELON_FLAG_START, 0, 1, 30);
  expect_rc(r, -MYELON_E_MALFORMED, "START total that needs no second frame");
  fr_inject(r, data, 30, 1, MYELON_FLAG_START, 0, 1, 0);
  expect_rc(r, -MYELON_E_MALFORMED, "START total 0");
  if (r->fmt == MYELON_FRAME_ALIGNED) {
    fr_inject(r, data, 30, 1, MYELON_FLAG_SINGLE, 0, 1, 31);
    expect_rc(r, -MYELON_E_MALFORMED, "aligned SINGLE total above len");
    fr_inject(r, data, 30, 1, MYELON_FLAG_SINGLE, 0, 1, 3);
    expect_rc(r, -MYELON_E_MALFORMED, "aligned SINGLE total below len");
    fr_inject(r, data, CAP, 1, MYELON_FLAG_START, 0, 2, 500);
    fr_inject(r, data, CAP, 1, 0, 1, 2, 400);
    expect_rc(r, -MYELON_E_MALFORMED, "aligned total changes mid-message");
  }
  /* more data than the total announced */
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 3, start_len(r) + 10);
  fr_inject(r, data, 11, 1, MYELON_FLAG_END, 1, 3, start_len(r) + 10);
  expect_rc(r, -MYELON_E_MALFORMED, "END overruns the total");
  /* the total reached without END */
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 4, start_len(r) + 10);
  fr_inject(r, data, 10, 1, 0, 1, 4, start_len(r) + 10);
  expect_rc(r, -MYELON_E_MALFORMED, "total reached without END");
  expect_resync(r, 4);
}

Test(badinput, inconsistent_totals_are_malformed)
{
  each_ring(totals);
}

static void fragments(struct fr_ring *r)
{
  uint8_t data[CAP];
  memset(data, 2, sizeof data);
  uint64_t orphans = myelon_consumer_orphans(r->c);
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 5, 500);
  fr_inject(r, data, CAP, 1, 0, 2, 5, 500); /* gap: 1 is missing */
  fr_inject(r, data, 10, 1, MYELON_FLAG_END, 3, 5, 500);
  expect_rc(r, -MYELON_E_MALFORMED, "fragment index gap");
  expect_rc(r, -EAGAIN, "rest of the gapped message: an orphan");
  cr_assert(eq(u64, myelon_consumer_orphans(r->c), orphans + 1));
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 6, 500);
  fr_inject(r, data, CAP, 1, 0, 0, 6, 500); /* repeated fragment 0 */
  expect_rc(r, -MYELON_E_MALFORMED, "repeated fragment");
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 1, 7, 500);
  expect_rc(r, -MYELON_E_MALFORMED, "START with fragment index 1");
  /* a SINGLE is fragment 0 too: it is delivered zero-copy without ever
   * reaching the reassembler, so the parser must check it */
  fr_inject(r, data, 10, 1, MYELON_FLAG_SINGLE, 5, 8, 10);
  expect_rc(r, -MYELON_E_MALFORMED, "SINGLE with fragment index 5");
  expect_resync(r, 5);
}

Test(badinput, fragment_gaps_and_misplaced_indices_are_malformed)
{
  each_ring(fragments);
}

/* Regression: a SINGLE frame is delivered zero-copy without reaching the
 * reassembler, whose fragment check it thus skipped: a SINGLE claiming to
 * be fragment 3 of something was delivered as a message. */
Test(badinput, single_frame_with_a_fragment_index_was_delivered_zero_copy)
{
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = bad_open(DMP_BACKEND_SHM, fr_formats[fi]);
    fr_inject(&r, "tail", 4, 1, MYELON_FLAG_SINGLE, 3, 9, 4);
    expect_rc(&r, -MYELON_E_MALFORMED, "SINGLE with fragment index 3");
    expect_resync(&r, 13);
    fr_close(&r);
  }
}

static void interleaving(struct fr_ring *r)
{
  uint8_t a[3 * CAP], b[3 * CAP];
  fr_pattern(a, sizeof a, 10);
  fr_pattern(b, sizeof b, 11);
  /* a foreign continuation in the middle of a message */
  fr_inject(r, a, start_len(r), 1, MYELON_FLAG_START, 0, 5, 3 * CAP);
  fr_inject(r, b, CAP, 1, 0, 1, 6, 3 * CAP);
  fr_inject(r, a, CAP, 1, 0, 1, 5, 3 * CAP);
  expect_rc(r, -MYELON_E_MALFORMED, "interleaved id");
  expect_rc(r, -EAGAIN, "rest of message 5: an orphan");
  /* two whole messages, frame by frame: neither may come out */
  uint8_t fa[8 * (CAP + 16)], fb[8 * (CAP + 16)];
  uint64_t na = fr_split(r->fmt, r->cap, r->slot, fa, a, sizeof a, 1, 21);
  uint64_t nb = fr_split(r->fmt, r->cap, r->slot, fb, b, sizeof b, 2, 22);
  cr_assert(eq(u64, na, nb));
  for (uint64_t k = 0; k < na; k++) {
    fr_inject_image(r->p, fa + k * r->slot, r->slot);
    fr_inject_image(r->p, fb + k * r->slot, r->slot);
  }
  struct myelon_msg m;
  int rc, errs = 0;
  while ((rc = myelon_consumer_try_recv(r->c, &m)) != -EAGAIN) {
    cr_assert(ne(int, rc, 0), "an interleaved message was delivered (%zu bytes, id %u)", m.len, m.msg_id);
    errs++;
  }
  cr_assert(ge(int, errs, 2), "both messages are reported lost");
  expect_resync(r, 6);
}

Test(badinput, interleaved_ids_are_malformed_and_never_delivered)
{
  each_ring(interleaving);
}

static void restart_and_early_end(struct fr_ring *r)
{
  uint8_t data[4 * CAP];
  fr_pattern(data, sizeof data, 12);
  /* a new message starts while one is in progress */
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 5, 500);
  fr_inject(r, data, CAP, 1, 0, 1, 5, 500);
  fr_publish_ok(r->p, data, sizeof data, 30);
  expect_rc(r, -MYELON_E_TRUNCATED, "START while message 5 is in progress");
  fr_expect_pattern(r->c, sizeof data, 12, 30); /* the new one whole */
  /* the same with a SINGLE */
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 6, 500);
  fr_publish_ok(r->p, data, 9, 31);
  expect_rc(r, -MYELON_E_TRUNCATED, "SINGLE while message 6 is in progress");
  fr_expect_pattern(r->c, 9, 12, 31);
  /* and through the blocking receive */
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 7, 500);
  fr_publish_ok(r->p, data, 9, 32);
  struct myelon_msg m;
  cr_assert(eq(int, myelon_consumer_recv(r->c, &m, FR_LONG_NS), -MYELON_E_TRUNCATED));
  cr_assert(eq(int, myelon_consumer_recv(r->c, &m, FR_LONG_NS), 0));
  cr_assert(eq(u8, m.kind, 32));
  /* END before the total */
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 8, 500);
  fr_inject(r, data, CAP, 1, MYELON_FLAG_END, 1, 8, 500);
  expect_rc(r, -MYELON_E_TRUNCATED, "END before the total");
  cr_assert(eq(u64, myelon_consumer_orphans(r->c), 0));
  expect_resync(r, 7);
}

Test(badinput, new_start_or_early_end_truncates_and_the_next_message_survives)
{
  each_ring(restart_and_early_end);
}

static void orphans(struct fr_ring *r)
{
  uint8_t data[CAP];
  memset(data, 3, sizeof data);
  fr_inject(r, data, CAP, 1, 0, 3, 5, 500);
  fr_inject(r, data, CAP, 1, 0, 4, 5, 500);
  fr_inject(r, data, 10, 1, MYELON_FLAG_END, 5, 5, 500);
  fr_inject(r, data, 10, 1, MYELON_FLAG_END, 1, 9, 74); /* a tail that would make a plausible message */
  expect_rc(r, -EAGAIN, "orphans are dropped, not delivered");
  cr_assert(eq(u64, myelon_consumer_orphans(r->c), 4));
  cr_assert(eq(u64, myelon_consumer_errors(r->c), 0), "orphans are counted apart from errors");
  struct myelon_msg m;
  fr_inject(r, data, 10, 1, MYELON_FLAG_END, 6, 5, 500);
  cr_assert(eq(int, myelon_consumer_recv(r->c, &m, FR_SHORT_NS), -ETIMEDOUT), "an orphan is no message");
  cr_assert(eq(u64, myelon_consumer_orphans(r->c), 5));
  expect_resync(r, 8);
}

Test(badinput, orphan_continuations_are_dropped_and_counted)
{
  each_ring(orphans);
}

static void oversize(struct fr_ring *r)
{
  uint8_t data[CAP];
  memset(data, 4, sizeof data);
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 5, MAXMSG + 1);
  for (uint16_t k = 1; k < 20; k++)
    fr_inject(r, data, CAP, 1, k == 19 ? MYELON_FLAG_END : 0, k, 5, MAXMSG + 1);
  expect_rc(r, -MYELON_E_TOOBIG, "total above max_message");
  expect_rc(r, -EAGAIN, "its frames are skipped");
  cr_assert(eq(u64, myelon_consumer_orphans(r->c), 0), "skipped frames of an oversize message are no orphans");
  fr_inject(r, data, start_len(r), 1, MYELON_FLAG_START, 0, 6, UINT32_MAX);
  expect_rc(r, -MYELON_E_TOOBIG, "total 2^32-1");
  fr_publish_ok(r->p, data, CAP, 1); /* a full SINGLE is far below max: delivered */
  struct myelon_msg m = fr_recv_now(r->c);
  cr_assert(eq(sz, m.len, CAP));
  myelon_consumer_release(r->c);
  expect_resync(r, 9);
}

Test(badinput, oversize_totals_are_toobig_and_skipped)
{
  each_ring(oversize);
}

/* ---- fuzz ----------------------------------------------------------------- */

/* Inject a frame stream in chunks the ring can hold, drain the consumer
 * after each, and check what came out against the oracle: exactly the
 * well-formed messages (at most max_message bytes), byte-exact. */
static void ring_fuzz(enum dmp_backend b, enum myelon_frame_format f, uint64_t seed, bool structured)
{
  const uint64_t ring = 64;
  struct myelon_producer_config pc = fr_pcfg(b, f, 32, ring, "fz");
  struct fr_ring r = fr_open_cfg(&pc, 3 * 32);
  struct fr_stream s = fr_stream_new(f, 32);
  cr_assert(eq(u32, s.slot, r.slot));
  uint8_t scratch[8 * 64];
  uint64_t rng = seed;
  while (s.n < 3000) {
    if (structured) {
      fr_fuzz_piece(&s, &rng, scratch);
    } else {
      uint8_t *fr = fr_stream_grow(&s, 1);
      for (uint32_t k = 0; k < s.slot; k++)
        fr[k] = (uint8_t)(rng = frm_mix(rng));
      s.n++;
    }
  }
  bool *delivered = calloc(s.n, sizeof *delivered);
  struct dmp_consumer *dc = myelon_consumer_ring(r.c);
  for (uint64_t k = 0; k < s.n;) {
    uint64_t chunk = s.n - k < ring ? s.n - k : ring;
    for (uint64_t i = 0; i < chunk; i++)
      fr_inject_image(r.p, s.frames + (k + i) * s.slot, s.slot);
    k += chunk;
    struct myelon_msg m;
    int rc;
    while ((rc = myelon_consumer_try_recv(r.c, &m)) != -EAGAIN) {
      if (rc < 0) {
        cr_assert(rc == -MYELON_E_TRUNCATED || rc == -MYELON_E_MALFORMED || rc == -MYELON_E_TOOBIG,
                  "unexpected %s", myelon_err_name(rc));
        continue;
      }
      /* the message ends at the last frame peeked (a leased SINGLE, or the
       * END just released) */
      uint64_t end = (uint64_t)(dmp_consumer_next(dc) - 1);
      struct fr_run run;
      cr_assert(fr_run_ending_at(f, s.cap, 3 * 32, s.frames, s.slot, end, &run),
                "%s/%s seed %llu: a message ending at frame %llu the stream does not hold", fr_backend_name(b),
                fr_format_name(f), (unsigned long long)seed, (unsigned long long)end);
      cr_assert(fr_run_matches(f, s.cap, s.frames, s.slot, &run, m.data, m.len), "content at %llu",
                (unsigned long long)end);
      cr_assert(eq(u8, m.kind, run.kind));
      cr_assert(eq(u32, m.msg_id, run.msg_id));
      cr_assert(not(delivered[end]), "delivered twice");
      delivered[end] = true;
    }
    myelon_consumer_release(r.c);
  }
  uint64_t n = 0;
  for (uint64_t e = 0; e < s.n; e++) {
    struct fr_run run;
    bool want = fr_run_ending_at(f, s.cap, 3 * 32, s.frames, s.slot, e, &run);
    cr_assert(eq(int, delivered[e], want), "%s/%s seed %llu: frame %llu: well-formed %d, delivered %d",
              fr_backend_name(b), fr_format_name(f), (unsigned long long)seed, (unsigned long long)e, want,
              delivered[e]);
    n += want;
  }
  if (structured)
    cr_assert(lt(u64, 100, n), "the stream should hold messages");
  /* and the stream still works */
  uint8_t data[90]; /* max_message is 96 here */
  fr_pattern(data, sizeof data, 1);
  fr_publish_ok(r.p, data, sizeof data, 1);
  fr_expect_pattern(r.c, sizeof data, 1, 1);
  free(delivered);
  fr_stream_free(&s);
  fr_close(&r);
}

Test(badinput_fuzz, random_bytes_in_every_slot_never_deliver_anything_malformed)
{
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++)
      for (uint64_t seed = 1; seed <= 3; seed++)
        ring_fuzz(fr_backends[b], fr_formats[fi], seed * 1000003, false);
}

Test(badinput_fuzz, mutated_streams_deliver_exactly_the_well_formed_messages)
{
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++)
      for (uint64_t seed = 1; seed <= 8; seed++)
        ring_fuzz(fr_backends[b], fr_formats[fi], seed, true);
}
