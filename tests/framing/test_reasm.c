/* The reassembler (frame.h, myelon_reasm_*) fed directly, without a ring:
 * random sizes split and put back together, every way a stream can go
 * wrong (each gives its documented code and the next message still comes
 * through), the bound on the buffer, and seeded fuzzing against an
 * independent oracle of which messages a frame stream contains. */
#include "framing.h"

TestSuite(reasm, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(reasm_bad, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(reasm_fuzz, .fini = fr_fini, .timeout = FR_TIMEOUT);

/* The result of feeding one frame. */
struct fed {
  int rc;
  bool consumed;
};

/* Parse frame k and feed it (again, while the reassembler asks for it). */
static struct fed feed_frame(struct myelon_reasm *r, const struct fr_stream *s, uint64_t k)
{
  struct myelon_frame_view v;
  int rc = myelon_frame_parse(s->f, s->cap, s->frames + k * s->slot, &v);
  if (rc < 0) {
    myelon_reasm_reset(r);
    return (struct fed){rc, true};
  }
  bool consumed = false;
  rc = myelon_reasm_feed(r, &v, &consumed);
  return (struct fed){rc, consumed};
}

/* Feed frames [from, to) expecting 0 for each. */
static void feed_quiet(struct myelon_reasm *r, const struct fr_stream *s, uint64_t from, uint64_t to)
{
  for (uint64_t k = from; k < to; k++) {
    struct fed fd = feed_frame(r, s, k);
    cr_assert(eq(int, fd.rc, 0), "frame %llu: %s", (unsigned long long)k, myelon_err_name(fd.rc));
    cr_assert(fd.consumed);
  }
}

/* Feed a whole message starting at frame `first` and check it comes out. */
static void expect_message(struct myelon_reasm *r, const struct fr_stream *s, uint64_t first, const uint8_t *data,
                           size_t len, uint8_t kind, uint32_t id)
{
  uint64_t n = myelon_frame_count(s->f, s->cap, len);
  feed_quiet(r, s, first, first + n - 1);
  struct fed fd = feed_frame(r, s, first + n - 1);
  cr_assert(eq(int, fd.rc, 1), "message %u (%zu bytes) did not complete: %s", id, len, myelon_err_name(fd.rc));
  cr_assert(eq(sz, r->len, len));
  cr_assert(eq(u8, r->kind, kind));
  cr_assert(eq(u32, r->msg_id, id));
  if (len) {
    cr_assert(eq(u64, (uintptr_t)r->buf % 16, 0), "reassembly buffer is 16-byte aligned");
    cr_assert(eq(int, memcmp(r->buf, data, len), 0), "message %u content", id);
  }
  cr_assert(not(r->active));
}

Test(reasm, init_fini_and_reset)
{
  struct myelon_reasm r;
  cr_assert(eq(int, myelon_reasm_init(&r, 0), -EINVAL));
  cr_assert(eq(int, myelon_reasm_init(NULL, 10), -EINVAL));
  cr_assert(eq(int, myelon_reasm_init(&r, 100), 0));
  cr_assert(eq(sz, r.max, 100));
  cr_assert(eq(ptr, r.buf, NULL), "no allocation before the first message");
  cr_assert(not(r.active));
  myelon_reasm_reset(&r);
  myelon_reasm_fini(&r);
  myelon_reasm_fini(&r); /* twice is fine */
  myelon_reasm_fini(NULL);
}

Test(reasm, random_sizes_round_trip_with_an_aligned_buffer)
{
  uint64_t seed = 0x5eed0001;
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format f = fr_formats[fi];
    const uint32_t caps[] = {8, 64, 256};
    for (int ci = 0; ci < 3; ci++) {
      struct fr_stream s = fr_stream_new(f, caps[ci]);
      struct myelon_reasm r;
      cr_assert(eq(int, myelon_reasm_init(&r, 1u << 20), 0));
      uint8_t *data = malloc(1u << 20);
      for (uint32_t i = 0; i < 300; i++) {
        uint64_t x = frm_rand(seed, i, (uint64_t)(fi * 3 + ci));
        size_t len = (x % 4 == 0) ? (size_t)(x >> 8) % (256u << 10) : (size_t)(x >> 8) % (5u * caps[ci]);
        fr_pattern(data, len, i);
        s.n = 0;
        uint64_t first = fr_stream_message(&s, data, len, (uint8_t)i, i + 1);
        expect_message(&r, &s, first, data, len, (uint8_t)i, i + 1);
        cr_assert(le(sz, r.cap, (size_t)1u << 20), "buffer above max_message");
      }
      free(data);
      myelon_reasm_fini(&r);
      fr_stream_free(&s);
    }
  }
}

/* Also a regression test for sanitizer builds: an empty SINGLE fed to a
 * reassembler that had no buffer yet did memcpy(NULL, data, 0). */
Test(reasm, single_frames_including_empty_complete_at_once)
{
  for (int fi = 0; fi < 2; fi++) {
    struct fr_stream s = fr_stream_new(fr_formats[fi], 64);
    struct myelon_reasm r;
    cr_assert(eq(int, myelon_reasm_init(&r, 1000), 0));
    fr_stream_message(&s, NULL, 0, 9, 1);
    expect_message(&r, &s, 0, NULL, 0, 9, 1);
    uint8_t data[64];
    fr_pattern(data, 64, 3);
    fr_stream_message(&s, data, 64, 10, 2);
    expect_message(&r, &s, 1, data, 64, 10, 2);
    myelon_reasm_fini(&r);
    fr_stream_free(&s);
  }
}

/* Regression: the first allocation was 4096 bytes whatever max_message. */
Test(reasm, buffer_never_grows_beyond_max_message)
{
  const size_t maxes[] = {1, 100, 4096, 10000, 70000};
  for (int fi = 0; fi < 2; fi++)
    for (size_t mi = 0; mi < 5; mi++) {
      size_t max = maxes[mi];
      struct fr_stream s = fr_stream_new(fr_formats[fi], 64);
      struct myelon_reasm r;
      cr_assert(eq(int, myelon_reasm_init(&r, max), 0));
      uint8_t *data = malloc(max);
      fr_pattern(data, max, 7);
      /* growing messages up to exactly max */
      for (size_t len = 1; len <= max; len = len * 3 + 1) {
        s.n = 0;
        fr_stream_message(&s, data, len, 1, (uint32_t)len);
        expect_message(&r, &s, 0, data, len, 1, (uint32_t)len);
      }
      s.n = 0;
      fr_stream_message(&s, data, max, 1, 77);
      expect_message(&r, &s, 0, data, max, 1, 77);
      cr_assert(le(sz, r.cap, (max + 15) & ~(size_t)15), "max %zu: buffer of %zu bytes", max, r.cap);
      free(data);
      myelon_reasm_fini(&r);
      fr_stream_free(&s);
    }
}

/* ---- bad streams -------------------------------------------------------- */

/* A reassembler and a stream with a well-formed message M (3+ frames) to
 * check resynchronisation after each bad case. */
struct bad {
  struct fr_stream s;
  struct myelon_reasm r;
  uint8_t data[1024];
};

static void bad_init(struct bad *b, enum myelon_frame_format f)
{
  b->s = fr_stream_new(f, 64);
  cr_assert(eq(int, myelon_reasm_init(&b->r, 1000), 0));
  fr_pattern(b->data, sizeof b->data, 11);
}

static void bad_fini(struct bad *b)
{
  myelon_reasm_fini(&b->r);
  fr_stream_free(&b->s);
}

/* After the bad frames: a good message is delivered intact. */
static void bad_resync(struct bad *b, uint32_t id)
{
  uint64_t first = fr_stream_message(&b->s, b->data, 300, 42, id);
  expect_message(&b->r, &b->s, first, b->data, 300, 42, id);
}

static void expect_rc(struct bad *b, uint64_t k, int rc, bool consumed, const char *what)
{
  struct fed fd = feed_frame(&b->r, &b->s, k);
  cr_assert(eq(int, fd.rc, rc), "%s: %s: got %s, want %s", fr_format_name(b->s.f), what, myelon_err_name(fd.rc),
            myelon_err_name(rc));
  cr_assert(eq(int, fd.consumed, consumed), "%s: consumed", what);
}

Test(reasm_bad, start_while_in_progress_truncates_the_old_message_and_starts_the_new)
{
  for (int fi = 0; fi < 2; fi++) {
    struct bad b;
    bad_init(&b, fr_formats[fi]);
    fr_stream_message(&b.s, b.data, 300, 1, 5); /* frames 0..: message 5 */
    b.s.n = 2;                               /* keep only its first two */
    feed_quiet(&b.r, &b.s, 0, 2);
    uint64_t first = fr_stream_message(&b.s, b.data, 200, 2, 6);
    expect_rc(&b, first, -MYELON_E_TRUNCATED, false, "new START while 5 is in progress");
    cr_assert(not(b.r.active));
    expect_message(&b.r, &b.s, first, b.data, 200, 2, 6); /* fed again: delivered whole */
    /* the same with a SINGLE interrupting */
    uint64_t again = fr_stream_message(&b.s, b.data, 300, 1, 7);
    b.s.n = again + 1;
    feed_quiet(&b.r, &b.s, again, again + 1);
    uint64_t single = fr_stream_message(&b.s, b.data, 10, 3, 8);
    expect_rc(&b, single, -MYELON_E_TRUNCATED, false, "SINGLE while 7 is in progress");
    expect_message(&b.r, &b.s, single, b.data, 10, 3, 8);
    bad_resync(&b, 9);
    bad_fini(&b);
  }
}

Test(reasm_bad, end_before_the_total_is_truncated)
{
  for (int fi = 0; fi < 2; fi++) {
    struct bad b;
    bad_init(&b, fr_formats[fi]);
    uint32_t cap = b.s.cap;
    uint32_t start_len = fr_formats[fi] == MYELON_FRAME_COMPACT ? cap - 4 : cap;
    fr_stream_frame(&b.s, b.data, start_len, 1, MYELON_FLAG_START, 0, 5, 500);
    fr_stream_frame(&b.s, b.data, cap, 1, MYELON_FLAG_END, 1, 5, 500);
    feed_quiet(&b.r, &b.s, 0, 1);
    expect_rc(&b, 1, -MYELON_E_TRUNCATED, true, "END at 2 frames of a 500-byte message");
    bad_resync(&b, 6);
    bad_fini(&b);
  }
}

Test(reasm_bad, fragment_gap_interleaving_and_inconsistent_lengths_are_malformed)
{
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format f = fr_formats[fi];
    uint32_t cap = 64, start_len = f == MYELON_FRAME_COMPACT ? cap - 4 : cap;
    struct {
      const char *what;
      uint8_t flags;
      uint32_t len;
      uint16_t frag;
      uint32_t id;
      uint32_t total;
    } second[] = {
        {"fragment gap (1 -> 2)", 0, cap, 2, 5, 500},
        {"fragment repeated (0)", 0, cap, 0, 5, 500},
        {"interleaved id", 0, cap, 1, 6, 500},
        {"interleaved id on END", MYELON_FLAG_END, 10, 1, 6, 500},
        {"more bytes than the total", MYELON_FLAG_END, cap, 1, 5, start_len + 10},
        {"full but no END", 0, 10, 1, 5, start_len + 10},
    };
    for (size_t i = 0; i < sizeof second / sizeof second[0]; i++) {
      struct bad b;
      bad_init(&b, f);
      fr_stream_frame(&b.s, b.data, start_len, 1, MYELON_FLAG_START, 0, 5, second[i].total);
      fr_stream_frame(&b.s, b.data, second[i].len, 1, second[i].flags, second[i].frag, second[i].id, second[i].total);
      feed_quiet(&b.r, &b.s, 0, 1);
      expect_rc(&b, 1, -MYELON_E_MALFORMED, true, second[i].what);
      cr_assert(not(b.r.active), "%s: partial message kept", second[i].what);
      /* the rest of message 5 is now an orphan, never a message */
      uint64_t before = b.r.orphans;
      fr_stream_frame(&b.s, b.data, 10, 1, MYELON_FLAG_END, 2, 5, 500);
      expect_rc(&b, 2, 0, true, "rest of the broken message");
      cr_assert(eq(u64, b.r.orphans, before + 1));
      bad_resync(&b, 7);
      bad_fini(&b);
    }
    if (f == MYELON_FRAME_ALIGNED) { /* every aligned frame repeats the total */
      struct bad b;
      bad_init(&b, f);
      fr_stream_frame(&b.s, b.data, cap, 1, MYELON_FLAG_START, 0, 5, 500);
      fr_stream_frame(&b.s, b.data, cap, 1, 0, 1, 5, 501);
      feed_quiet(&b.r, &b.s, 0, 1);
      expect_rc(&b, 1, -MYELON_E_MALFORMED, true, "total changes mid-message");
      bad_resync(&b, 7);
      bad_fini(&b);
    }
  }
}

Test(reasm_bad, start_that_needs_no_second_frame_or_has_a_fragment_index_is_malformed)
{
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format f = fr_formats[fi];
    struct bad b;
    bad_init(&b, f);
    /* a START-only frame whose total it already holds */
    fr_stream_frame(&b.s, b.data, 20, 1, MYELON_FLAG_START, 0, 5, 20);
    expect_rc(&b, 0, -MYELON_E_MALFORMED, true, "START holding its whole total");
    /* a START with total 0 (aligned: the field says nothing) */
    fr_stream_frame(&b.s, b.data, 20, 1, MYELON_FLAG_START, 0, 6, 0);
    expect_rc(&b, 1, -MYELON_E_MALFORMED, true, "START with total 0");
    bad_resync(&b, 7);
    bad_fini(&b);
  }
}

Test(reasm_bad, orphan_continuations_are_dropped_and_counted)
{
  for (int fi = 0; fi < 2; fi++) {
    struct bad b;
    bad_init(&b, fr_formats[fi]);
    fr_stream_frame(&b.s, b.data, 64, 1, 0, 3, 5, 500);
    fr_stream_frame(&b.s, b.data, 64, 1, 0, 4, 5, 500);
    fr_stream_frame(&b.s, b.data, 10, 1, MYELON_FLAG_END, 5, 5, 500);
    fr_stream_frame(&b.s, b.data, 10, 1, MYELON_FLAG_END, 1, 9, 500);
    for (uint64_t k = 0; k < 4; k++)
      expect_rc(&b, k, 0, true, "orphan");
    cr_assert(eq(u64, b.r.orphans, 4));
    cr_assert(not(b.r.active));
    bad_resync(&b, 6);
    cr_assert(eq(u64, b.r.orphans, 4), "a good message is no orphan");
    bad_fini(&b);
  }
}

Test(reasm_bad, oversize_message_is_toobig_and_its_frames_are_skipped)
{
  for (int fi = 0; fi < 2; fi++) {
    struct bad b;
    bad_init(&b, fr_formats[fi]); /* max 1000 */
    uint8_t *big = malloc(5000);
    fr_pattern(big, 5000, 1);
    uint64_t first = fr_stream_message(&b.s, big, 1001, 1, 5);
    uint64_t n = b.s.n - first;
    expect_rc(&b, first, -MYELON_E_TOOBIG, true, "1001 bytes, max 1000");
    for (uint64_t k = first + 1; k < first + n; k++)
      expect_rc(&b, k, 0, true, "rest of the oversize message");
    cr_assert(eq(u64, b.r.orphans, 0), "skipped frames of an oversize message are no orphans");
    /* a stated total near 2^32 */
    uint64_t huge = b.s.n;
    fr_stream_frame(&b.s, big, 20, 1, MYELON_FLAG_START, 0, 6, UINT32_MAX);
    expect_rc(&b, huge, -MYELON_E_TOOBIG, true, "total 2^32-1");
    /* a SINGLE above max is too big as well */
    struct myelon_reasm small;
    cr_assert(eq(int, myelon_reasm_init(&small, 10), 0));
    struct fr_stream s = fr_stream_new(fr_formats[fi], 64);
    fr_stream_message(&s, big, 11, 1, 1);
    struct fed fd = feed_frame(&small, &s, 0);
    cr_assert(eq(int, fd.rc, -MYELON_E_TOOBIG));
    myelon_reasm_fini(&small);
    fr_stream_free(&s);
    /* exactly max fits */
    uint64_t ok = fr_stream_message(&b.s, big, 1000, 2, 8);
    expect_message(&b.r, &b.s, ok, big, 1000, 2, 8);
    bad_resync(&b, 9);
    free(big);
    bad_fini(&b);
  }
}

/* ---- fuzz ---------------------------------------------------------------- */

/* Feed a whole stream as a consumer would and compare what comes out with
 * the oracle: exactly the well-formed messages, in order, byte-exact. */
static void fuzz_check(const struct fr_stream *s, size_t max, uint64_t *delivered)
{
  struct myelon_reasm r;
  cr_assert(eq(int, myelon_reasm_init(&r, max), 0));
  uint64_t k = 0, next_run = 0;
  while (k < s->n) {
    struct fed fd = feed_frame(&r, s, k);
    cr_assert(le(sz, r.len, r.max));
    cr_assert(le(sz, r.len, r.cap ? r.cap : 0));
    if (r.active)
      cr_assert(lt(u64, r.len, r.total), "in progress but complete");
    if (fd.rc == 1) {
      struct fr_run run;
      cr_assert(fr_run_ending_at(s->f, s->cap, max, s->frames, s->slot, k, &run),
                "%s: frame %llu delivered a message the stream does not contain", fr_format_name(s->f),
                (unsigned long long)k);
      cr_assert(fr_run_matches(s->f, s->cap, s->frames, s->slot, &run, r.buf, r.len), "content of message at %llu",
                (unsigned long long)k);
      cr_assert(eq(u8, r.kind, run.kind));
      cr_assert(eq(u32, r.msg_id, run.msg_id));
      /* every well-formed message before this one was delivered too */
      for (; next_run < k; next_run++)
        cr_assert(not(fr_run_ending_at(s->f, s->cap, max, s->frames, s->slot, next_run, &run)),
                  "well-formed message ending at %llu was lost", (unsigned long long)next_run);
      next_run = k + 1;
      (*delivered)++;
    } else {
      cr_assert(fd.rc == 0 || fd.rc == -MYELON_E_TRUNCATED || fd.rc == -MYELON_E_MALFORMED ||
                    fd.rc == -MYELON_E_TOOBIG,
                "unexpected %s", myelon_err_name(fd.rc));
    }
    if (fd.consumed)
      k++;
  }
  struct fr_run run;
  for (; next_run < s->n; next_run++)
    cr_assert(not(fr_run_ending_at(s->f, s->cap, max, s->frames, s->slot, next_run, &run)),
              "well-formed message ending at %llu was lost", (unsigned long long)next_run);
  myelon_reasm_fini(&r);
}

Test(reasm_fuzz, seeded_streams_deliver_exactly_the_well_formed_messages)
{
  uint8_t *scratch = malloc(8u * 256);
  uint64_t delivered = 0;
  for (int fi = 0; fi < 2; fi++) {
    const uint32_t caps[] = {8, 64};
    for (int ci = 0; ci < 2; ci++)
      for (uint64_t seed = 1; seed <= 20; seed++) {
        struct fr_stream s = fr_stream_new(fr_formats[fi], caps[ci]);
        uint64_t rng = seed * 7919 + (uint64_t)(fi * 2 + ci);
        for (int i = 0; i < 400; i++)
          fr_fuzz_piece(&s, &rng, scratch);
        fuzz_check(&s, 3u * s.cap, &delivered);
        fr_stream_free(&s);
      }
  }
  cr_assert(lt(u64, 1000, delivered), "the fuzzer should deliver messages too");
  free(scratch);
}
