/* The framed producer and consumer (framed.h) in one process, part 1: round
 * trips across frame and ring boundaries on both backends and both formats
 * (also with a consumer thread, messages far larger than the ring), the
 * frames the producer writes (flags, fragments, totals, no empty tail),
 * payload alignment, zero-copy claim/commit and all-or-nothing try_publish.
 * Part 2 is test_framed_recv.c. Separate producer and consumer handles in
 * one process hold separate OFD locks, so they act like separate processes
 * here. */
#include "framing.h"

#include <pthread.h>

TestSuite(framed_roundtrip, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(framed_split, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(framed_zero_copy, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(framed_try_publish, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(framed_accessors, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(framed_recv_into, .fini = fr_fini, .timeout = FR_TIMEOUT);

/* Receive one message now and check it is `len` bytes of pattern `tag`,
 * with the alignment its path promises. Returns its id. */
static uint32_t check_one(struct fr_ring *r, const uint8_t *want, size_t len, uint8_t kind)
{
  struct myelon_msg m = fr_recv_now(r->c);
  bool single = myelon_frame_count(r->fmt, r->cap, len) == 1;
  cr_assert(eq(sz, m.len, len), "%s: length", fr_format_name(r->fmt));
  cr_assert(eq(u8, m.kind, kind));
  cr_assert(eq(int, m.zero_copy, single), "%zu bytes: zero_copy %d", len, m.zero_copy);
  cr_assert(ne(u32, m.msg_id, 0), "msg_id 0");
  if (len)
    cr_assert(eq(int, memcmp(m.data, want, len), 0), "%s: %zu bytes differ", fr_format_name(r->fmt), len);
  uintptr_t a = (uintptr_t)m.data;
  if (!single || r->fmt == MYELON_FRAME_ALIGNED)
    cr_assert(eq(u64, a % 16, 0), "%s %s payload not 16-aligned", fr_format_name(r->fmt),
              single ? "single-frame" : "reassembled");
  else
    cr_assert(eq(u64, a % 4, 0), "compact payload not 4-aligned");
  myelon_consumer_release(r->c);
  return m.msg_id;
}

Test(framed_roundtrip, boundary_sizes_on_both_backends_and_formats)
{
  const uint64_t ring = 64;
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      struct fr_ring r = fr_open(fr_backends[b], fr_formats[fi], 256, ring);
      size_t F = r.cap;
      size_t sizes[] = {0,         1,         F - 5,     F - 4,         F - 3,         F - 1,    F,
                        F + 1,     2 * F - 5, 2 * F - 4, 2 * F - 3,     2 * F,         2 * F + 1, 3 * F - 4,
                        3 * F,     10 * F,    10 * F + 3, ring * F - 4, ring * F - 100, 17,       16};
      uint8_t *buf = malloc(ring * F);
      uint32_t last_id = 0;
      for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (myelon_frame_count(r.fmt, r.cap, sizes[i]) > ring)
          continue; /* aligned ring * F - 4 needs no more than the ring: compact needs one more */
        fr_pattern(buf, sizes[i], (uint32_t)i);
        fr_publish_ok(r.p, buf, sizes[i], (uint8_t)i);
        uint32_t id = check_one(&r, buf, sizes[i], (uint8_t)i);
        cr_assert(lt(u32, last_id, id), "ids of one producer increase");
        last_id = id;
      }
      fr_expect_empty(r.c);
      cr_assert(eq(u64, myelon_consumer_errors(r.c), 0));
      cr_assert(eq(u64, myelon_consumer_orphans(r.c), 0));
      free(buf);
      fr_close(&r);
    }
}

Test(framed_roundtrip, random_sizes_in_process_seeded)
{
  const uint64_t ring = 64;
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, ring);
    size_t fit = (ring - 1) * r.cap; /* fits the ring in both formats */
    uint8_t *buf = malloc(fit);
    uint64_t seed = 0xfeed;
    for (uint32_t i = 0; i < 2000; i++) {
      uint64_t x = frm_rand(seed, i, (uint64_t)fi);
      size_t len = (x & 3) == 0 ? (size_t)(x >> 8) % (fit + 1) : (size_t)(x >> 8) % (3 * r.cap);
      fr_pattern(buf, len, i);
      int rc = myelon_producer_try_publish(r.p, buf, len, (uint8_t)x);
      cr_assert(eq(int, rc, 0), "try_publish %zu bytes into an empty ring: %s", len, myelon_err_name(rc));
      check_one(&r, buf, len, (uint8_t)x);
    }
    free(buf);
    fr_close(&r);
  }
}

struct big_producer {
  struct myelon_producer *p;
  const struct frm_stream *s;
  uint64_t count;
  int rc;
};

static void *big_producer_main(void *arg)
{
  struct big_producer *bp = arg;
  uint8_t *buf = malloc(frm_max_size(bp->s));
  bp->rc = buf ? 0 : -ENOMEM;
  for (uint64_t i = 0; i < bp->count && bp->rc == 0; i++) {
    size_t len = frm_size(bp->s, i);
    frm_fill(bp->s, i, buf, len);
    bp->rc = myelon_producer_publish(bp->p, buf, len, frm_kind(i), INT64_C(30000000000));
  }
  free(buf);
  return NULL;
}

/* Messages up to several MB through a 16-slot ring: the producer blocks per
 * batch while a consumer thread reassembles. */
Test(framed_roundtrip, messages_larger_than_the_ring_with_a_consumer_thread)
{
  for (int fi = 0; fi < 2; fi++) {
    struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, fr_formats[fi], 256, 16, "big");
#ifdef FR_BYTES
    /* A byte ring takes each message whole: one of twice the largest. */
    struct frm_stream probe = {0, FRM_MIXED, 256, 16, 0};
    pc.ring_bytes = frm_bytes_ring(16, 256, frm_max_size(&probe));
#endif
    struct fr_ring r = fr_open_cfg(&pc, 0);
    struct frm_stream s = {0xb16 + (uint64_t)fi, FRM_MIXED, r.cap, 16, 0};
    struct big_producer bp = {r.p, &s, 400, 0};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, big_producer_main, &bp), 0));
    for (uint64_t i = 0; i < bp.count; i++) {
      struct myelon_msg m;
      int rc = myelon_consumer_recv(r.c, &m, INT64_C(30000000000));
      cr_assert(eq(int, rc, 0), "message %llu: %s / %s", (unsigned long long)i, myelon_err_name(rc),
                dmp_last_error());
      uint64_t idx;
      int fault = frm_check(&s, m.data, m.len, m.kind, i, bp.count, &idx);
      cr_assert(eq(int, fault, FRM_OK), "message %llu (%zu bytes): %s", (unsigned long long)i, m.len,
                frm_fault_name(fault));
      if (!m.zero_copy)
        cr_assert(eq(u64, (uintptr_t)m.data % 16, 0));
    }
    pthread_join(t, NULL);
    cr_assert(eq(int, bp.rc, 0), "producer: %s", myelon_err_name(bp.rc));
    cr_assert(eq(u64, myelon_consumer_errors(r.c), 0));
    fr_close(&r);
  }
}

/* More than 2^16 frames in one message: the 16-bit fragment index wraps,
 * and the message still comes out whole. */
Test(framed_roundtrip, fragment_index_wraps_in_a_message_of_more_than_65536_frames)
{
  FR_SLOT_ONLY("fragments");
  for (int fi = 0; fi < 2; fi++) {
    struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, fr_formats[fi], 8, 256, "wrap");
    struct fr_ring r = fr_open_cfg(&pc, 0);
    size_t len = 70000u * r.cap + 5;
    struct frm_stream s = {0x3a9 + (uint64_t)fi, FRM_FIXED, r.cap, 256, len};
    cr_assert(lt(u64, 65536, myelon_frame_count(r.fmt, r.cap, len)));
    struct big_producer bp = {r.p, &s, 2, 0};
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, big_producer_main, &bp), 0));
    for (uint64_t i = 0; i < bp.count; i++) {
      struct myelon_msg m;
      int rc = myelon_consumer_recv(r.c, &m, INT64_C(30000000000));
      cr_assert(eq(int, rc, 0), "message %llu: %s / %s", (unsigned long long)i, myelon_err_name(rc),
                dmp_last_error());
      uint64_t idx;
      int fault = frm_check(&s, m.data, m.len, m.kind, i, bp.count, &idx);
      cr_assert(eq(int, fault, FRM_OK), "%s message %llu: %s", fr_format_name(r.fmt), (unsigned long long)i,
                frm_fault_name(fault));
    }
    pthread_join(t, NULL);
    cr_assert(eq(int, bp.rc, 0), "producer: %s", myelon_err_name(bp.rc));
    fr_close(&r);
  }
}

/* ---- the frames the producer writes ---------------------------------------- */

/* A framed ring read raw: the producer and one Layer 0 consumer. */
struct raw_ring {
  struct myelon_producer_config pc;
  struct myelon_producer *p;
  struct dmp_consumer *raw;
  uint32_t cap;
};

static struct raw_ring raw_open(enum dmp_backend b, enum myelon_frame_format f, uint32_t fcap, uint64_t capacity)
{
  struct raw_ring r;
  r.pc = fr_pcfg(b, f, fcap, capacity, "raw");
  r.p = fr_create(&r.pc);
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = b;
  cc.name = r.pc.ring.name;
  cc.id = "raw";
  int rc = dmp_consumer_attach(&cc, &r.raw);
  cr_assert(eq(int, rc, 0), "raw attach: %s", myelon_err_name(rc));
  r.cap = dmp_consumer_slot_size(r.raw) - fr_hdr(f);
  return r;
}

static void raw_close(struct raw_ring *r)
{
  dmp_consumer_close(r->raw);
  myelon_producer_close(r->p);
}

/* Publish `len` bytes and check every frame written for them. */
static void check_split(struct raw_ring *r, const uint8_t *data, size_t len, uint8_t kind)
{
  enum myelon_frame_format f = r->pc.format;
  uint64_t n = myelon_frame_count(f, r->cap, len);
  fr_publish_ok(r->p, data, len, kind);
  cr_assert(eq(i64, dmp_consumer_available(r->raw), (int64_t)n),
            "%zu bytes: the %llu frames of a message that fits the ring appear at once", len, (unsigned long long)n);
  size_t off = 0;
  uint32_t id = 0;
  for (uint64_t i = 0; i < n; i++) {
    const void *slot;
    int64_t seq;
    cr_assert(eq(int, dmp_consumer_try_peek(r->raw, &slot, &seq), 0));
    struct myelon_frame_view v;
    cr_assert(eq(int, myelon_frame_parse(f, r->cap, slot, &v), 0), "frame %llu of %zu bytes",
              (unsigned long long)i, len);
    unsigned want = (i == 0 ? MYELON_FLAG_START : 0) | (i == n - 1 ? MYELON_FLAG_END : 0);
    cr_assert(eq(u32, v.flags, want), "%s %zu bytes, frame %llu of %llu", fr_format_name(f), len,
              (unsigned long long)i, (unsigned long long)n);
    cr_assert(eq(u16, v.frag, (uint16_t)i));
    cr_assert(eq(u8, v.kind, kind), "kind in every frame");
    if (i == 0)
      id = v.msg_id;
    cr_assert(eq(u32, v.msg_id, id), "one id per message");
    uint64_t want_total = (f == MYELON_FRAME_ALIGNED || i == 0) ? len : 0;
    cr_assert(eq(u64, v.total, want_total), "%s frame %llu total", fr_format_name(f), (unsigned long long)i);
    uint32_t room = (n > 1 && i == 0 && f == MYELON_FRAME_COMPACT) ? r->cap - 4 : r->cap;
    if (i < n - 1)
      cr_assert(eq(u32, v.len, room), "frame %llu is full", (unsigned long long)i);
    else if (len)
      cr_assert(lt(u32, 0, v.len), "empty tail frame");
    if (f == MYELON_FRAME_ALIGNED)
      cr_assert(eq(u64, (uintptr_t)v.data % 16, 0), "aligned payload in slot %lld", (long long)seq);
    cr_assert(eq(int, memcmp(v.data, data + off, v.len), 0));
    off += v.len;
  }
  cr_assert(eq(sz, off, len));
  dmp_consumer_release(r->raw);
}

Test(framed_split, flags_fragments_and_totals_of_produced_frames)
{
  FR_SLOT_ONLY("fragments");
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      struct raw_ring r = raw_open(fr_backends[b], fr_formats[fi], 16, 32);
      uint8_t data[16 * 32];
      fr_pattern(data, sizeof data, 5);
      size_t first = fr_formats[fi] == MYELON_FRAME_COMPACT ? r.cap - 4 : r.cap;
      /* 1 frame (empty, partial, full), 2, 3 and 6 frames, exact multiples */
      size_t sizes[] = {0, 1, r.cap, r.cap + 1, first + r.cap, first + r.cap + 1, first + 2 * r.cap,
                        first + 5 * r.cap, first + 4 * r.cap + 1, 37};
      for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_split(&r, data, sizes[i], (uint8_t)(100 + i));
      raw_close(&r);
    }
}

Test(framed_split, exact_multiples_make_no_empty_tail)
{
  FR_SLOT_ONLY("fragments");
  for (int fi = 0; fi < 2; fi++) {
    struct raw_ring r = raw_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 64);
    uint8_t data[64 * 64];
    fr_pattern(data, sizeof data, 6);
    size_t first = fr_formats[fi] == MYELON_FRAME_COMPACT ? r.cap - 4 : r.cap;
    for (uint64_t k = 0; k < 40; k++) {
      size_t len = first + k * r.cap;
      uint64_t want = k + 1;
      cr_assert(eq(u64, myelon_frame_count(fr_formats[fi], r.cap, len), want));
      check_split(&r, data, len, 1);
    }
    raw_close(&r);
  }
}

Test(framed_split, empty_message_is_one_frame_delivered_with_length_zero)
{
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      struct fr_ring r = fr_open(fr_backends[b], fr_formats[fi], 64, 8);
      int64_t before = dmp_producer_sequence(myelon_producer_ring(r.p));
      cr_assert(eq(int, myelon_producer_publish(r.p, NULL, 0, 255, 0), 0));
      cr_assert(eq(i64, dmp_producer_sequence(myelon_producer_ring(r.p)), before + 1), "one frame");
      struct myelon_msg m = fr_recv_now(r.c);
      cr_assert(eq(sz, m.len, 0));
      cr_assert(eq(u8, m.kind, 255));
      cr_assert(m.zero_copy);
      myelon_consumer_release(r.c);
      cr_assert(eq(int, myelon_producer_try_publish(r.p, "", 0, 254), 0));
      void *copy = NULL;
      size_t len = 99;
      uint8_t kind = 0;
      cr_assert(eq(int, myelon_consumer_recv_copy(r.c, &copy, &len, &kind, FR_LONG_NS), 0));
      cr_assert(ne(ptr, copy, NULL), "an empty copy is still a buffer to free");
      cr_assert(eq(sz, len, 0));
      cr_assert(eq(u8, kind, 254));
      free(copy);
      fr_expect_empty(r.c);
      fr_close(&r);
    }
}

Test(framed_split, aligned_payloads_are_16_aligned_in_every_slot)
{
  const uint32_t caps[] = {8, 33, 100, 256};
  for (int b = 0; b < 2; b++)
    for (size_t ci = 0; ci < 4; ci++) {
      struct fr_ring r = fr_open(fr_backends[b], MYELON_FRAME_ALIGNED, caps[ci], 8);
      uint8_t data[8];
      for (int i = 0; i < 20; i++) { /* wraps the ring twice: every slot */
        fr_pattern(data, sizeof data, (uint32_t)i);
        fr_publish_ok(r.p, data, sizeof data, 1);
        struct myelon_msg m = fr_recv_now(r.c);
        cr_assert(m.zero_copy);
        cr_assert(eq(u64, (uintptr_t)m.data % 16, 0), "capacity %u, message %d", caps[ci], i);
        myelon_consumer_release(r.c);
        void *buf;
        cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf, 0), 0));
        cr_assert(eq(u64, (uintptr_t)buf % 16, 0), "claimed payload, capacity %u", caps[ci]);
        cr_assert(eq(int, myelon_producer_commit(r.p, 0, 1), 0));
        m = fr_recv_now(r.c);
        cr_assert(eq(u64, (uintptr_t)m.data % 16, 0));
        myelon_consumer_release(r.c);
      }
      fr_close(&r);
    }
}

/* ---- zero copy ------------------------------------------------------------- */

Test(framed_zero_copy, claim_write_commit_delivers_in_place)
{
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      struct fr_ring r = fr_open(fr_backends[b], fr_formats[fi], 256, 16);
      for (uint32_t i = 0; i < 40; i++) {
        size_t len = (i * 37) % (r.cap + 1);
        void *buf = NULL;
        cr_assert(eq(int, myelon_producer_claim(r.p, r.cap, &buf, FR_LONG_NS), 0));
        fr_pattern(buf, len, i);
        cr_assert(eq(int, myelon_producer_commit(r.p, len, (uint8_t)i), 0));
        struct myelon_msg m = fr_recv_now(r.c);
        cr_assert(m.zero_copy);
        cr_assert(eq(sz, m.len, len));
        cr_assert(eq(u8, m.kind, (uint8_t)i));
        uint8_t want[256];
        fr_pattern(want, len, i);
        cr_assert(eq(int, memcmp(m.data, want, len), 0));
        myelon_consumer_release(r.c);
      }
      fr_close(&r);
    }
}

Test(framed_zero_copy, claim_and_commit_reject_misuse)
{
  FR_SLOT_ONLY("a frame capacity below max_message");
  struct fr_ring r = fr_open(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, 4);
  void *buf = NULL;
  cr_assert(eq(int, myelon_producer_claim(r.p, r.cap + 1, &buf, 0), -EINVAL), "max_len above the frame capacity");
  cr_assert(eq(int, myelon_producer_claim(r.p, 8, NULL, 0), -EINVAL));
  cr_assert(eq(int, myelon_producer_claim(NULL, 8, &buf, 0), -EINVAL));
  cr_assert(eq(int, myelon_producer_commit(r.p, 0, 0), -EINVAL), "commit without a claim");
  cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf, 0), 0));
  cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf, 0), -EINVAL), "second claim while one is open");
  cr_assert(eq(int, myelon_producer_commit(r.p, 9, 0), -EINVAL), "commit above max_len");
  memcpy(buf, "12345678", 8);
  cr_assert(eq(int, myelon_producer_commit(r.p, 8, 3), 0));
  struct myelon_msg m = fr_recv_now(r.c);
  cr_assert(eq(sz, m.len, 8));
  cr_assert(eq(int, memcmp(m.data, "12345678", 8), 0));
  myelon_consumer_release(r.c);
  /* a full ring: the claim times out */
  for (int i = 0; i < 4; i++)
    cr_assert(eq(int, myelon_producer_try_publish(r.p, "x", 1, 0), 0));
  cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf, 0), -ETIMEDOUT));
  cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf, FR_SHORT_NS), -ETIMEDOUT));
  cr_assert(eq(int, myelon_producer_commit(r.p, 0, 0), -EINVAL), "no claim after a timeout");
  fr_close(&r);
}

/* Regression: a publish while a zero-copy claim was open claimed slots after
 * it and published them all with one store, the claimed, still unwritten
 * slot included (a stale frame from an earlier lap, delivered again). */
Test(framed_zero_copy, publish_while_a_claim_is_open_published_the_unwritten_slot)
{
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 4);
    for (int i = 0; i < 4; i++) /* leave stale SINGLE frames in every slot */
      fr_publish_ok(r.p, "stale", 5, 66);
    for (int i = 0; i < 4; i++) {
      struct myelon_msg stale = fr_recv_now(r.c);
      cr_assert(eq(sz, stale.len, 5));
      myelon_consumer_release(r.c);
    }
    void *buf;
    cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf, 0), 0));
    int64_t seq = dmp_producer_sequence(myelon_producer_ring(r.p));
    cr_assert(eq(int, myelon_producer_publish(r.p, "abc", 3, 1, 0), -EINVAL), "publish while a claim is open");
    cr_assert(eq(int, myelon_producer_try_publish(r.p, "abc", 3, 1), -EINVAL), "try_publish while a claim is open");
    cr_assert(eq(int, myelon_producer_publish_managed(r.p, "abc", 3, 1, 0, NULL), -EINVAL));
    cr_assert(eq(i64, dmp_producer_sequence(myelon_producer_ring(r.p)), seq), "nothing published");
    fr_expect_empty(r.c);
    memcpy(buf, "fresh", 5);
    cr_assert(eq(int, myelon_producer_commit(r.p, 5, 2), 0));
    fr_publish_ok(r.p, "abc", 3, 1);
    struct myelon_msg m = fr_recv_now(r.c);
    cr_assert(eq(sz, m.len, 5));
    cr_assert(eq(int, memcmp(m.data, "fresh", 5), 0));
    m = fr_recv_now(r.c);
    cr_assert(eq(sz, m.len, 3));
    cr_assert(eq(int, memcmp(m.data, "abc", 3), 0));
    myelon_consumer_release(r.c);
    fr_expect_empty(r.c);
    fr_close(&r);
  }
}

/* Regression: myelon_producer_claim() checked the frame capacity only, so a zero-copy
 * message could exceed the producer's own max_message. */
Test(framed_zero_copy, claim_above_max_message_is_toobig)
{
  struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 256, 4, "zc");
  pc.max_message = 100;
  struct fr_ring r = fr_open_cfg(&pc, 0);
  void *buf;
  cr_assert(eq(int, myelon_producer_claim(r.p, 101, &buf, 0), -MYELON_E_TOOBIG));
  cr_assert(eq(int, myelon_producer_claim(r.p, 100, &buf, 0), 0));
  memset(buf, 7, 100);
  cr_assert(eq(int, myelon_producer_commit(r.p, 100, 0), 0));
  struct myelon_msg m = fr_recv_now(r.c);
  cr_assert(eq(sz, m.len, 100));
  myelon_consumer_release(r.c);
  fr_close(&r);
}

/* myelon_producer_abort(): the claimed slot is given back unpublished. Every slot
 * first holds a stale, well-formed SINGLE frame, so a slot published by
 * mistake would be delivered and caught. */
Test(framed_zero_copy, abort_publishes_nothing_and_the_next_publish_reuses_the_slot)
{
  FR_SLOT_ONLY("slot addresses (test_bytes_framed.c: claim_commit_shorter_and_abort)");
  for (int b = 0; b < 2; b++)
    for (int fi = 0; fi < 2; fi++) {
      struct fr_ring r = fr_open(fr_backends[b], fr_formats[fi], 64, 4);
      struct dmp_producer *raw = myelon_producer_ring(r.p);
      for (int i = 0; i < 4; i++)
        fr_publish_ok(r.p, "stale", 5, 66);
      uint32_t last_id = 0;
      for (int i = 0; i < 4; i++) {
        struct myelon_msg stale = fr_recv_now(r.c);
        last_id = stale.msg_id;
        myelon_consumer_release(r.c);
      }
      int64_t seq = dmp_producer_sequence(raw);
      void *buf = NULL;
      cr_assert(eq(int, myelon_producer_claim(r.p, 20, &buf, 0), 0));
      cr_assert(eq(ptr, buf, (uint8_t *)dmp_producer_slot(raw, seq + 1) + fr_hdr(r.fmt)));
      memcpy(buf, "aborted, never seen", 20);
      cr_assert(eq(int, myelon_producer_abort(r.p), 0));
      cr_assert(eq(i64, dmp_producer_sequence(raw), seq), "abort published a slot");
      fr_expect_empty(r.c);
      cr_assert(eq(int, myelon_producer_abort(r.p), -EINVAL), "abort with no claim open");
      cr_assert(eq(int, myelon_producer_commit(r.p, 0, 0), -EINVAL), "commit after abort");
      cr_assert(eq(int, myelon_producer_abort(NULL), -EINVAL));
      fr_expect_empty(r.c);
      /* The slot is free again: the next publish writes it (same sequence,
       * no gap in the message ids), and a claim after an abort as well. */
      fr_publish_ok(r.p, "next", 4, 7);
      cr_assert(eq(i64, dmp_producer_sequence(raw), seq + 1), "the next publish took another slot");
      struct myelon_msg m = fr_recv_now(r.c);
      cr_assert(eq(sz, m.len, 4));
      cr_assert(eq(int, memcmp(m.data, "next", 4), 0));
      cr_assert(eq(u32, m.msg_id, last_id + 1), "the aborted claim took a message id");
      myelon_consumer_release(r.c);
      void *buf2 = NULL;
      cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf2, 0), 0));
      cr_assert(eq(int, myelon_producer_abort(r.p), 0));
      void *buf3 = NULL;
      cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf3, 0), 0));
      cr_assert(eq(ptr, buf3, buf2), "a claim after an abort takes the same slot");
      memcpy(buf3, "kept", 4);
      cr_assert(eq(int, myelon_producer_commit(r.p, 4, 8), 0));
      m = fr_recv_now(r.c);
      cr_assert(eq(sz, m.len, 4));
      cr_assert(eq(int, memcmp(m.data, "kept", 4), 0));
      myelon_consumer_release(r.c);
      fr_expect_empty(r.c);
      cr_assert(eq(u64, myelon_consumer_errors(r.c), 0));
      cr_assert(eq(u64, myelon_consumer_orphans(r.c), 0));
      fr_close(&r);
    }
}

/* An abort in a ring with one free slot gives that slot back: without the
 * rollback the next message would need a slot beyond the free window. */
Test(framed_zero_copy, abort_of_the_last_free_slot_frees_it)
{
  FR_SLOT_ONLY("counts slots (test_bytes_framed.c: claim_commit_shorter_and_abort)");
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 4);
    for (int i = 0; i < 3; i++)
      cr_assert(eq(int, myelon_producer_try_publish(r.p, "x", 1, (uint8_t)i), 0));
    void *buf = NULL;
    cr_assert(eq(int, myelon_producer_claim(r.p, 8, &buf, 0), 0));
    cr_assert(eq(int, myelon_producer_abort(r.p), 0));
    cr_assert(eq(int, myelon_producer_try_publish(r.p, "y", 1, 3), 0), "the aborted slot stayed claimed");
    cr_assert(eq(int, myelon_producer_try_publish(r.p, "z", 1, 4), -EAGAIN), "ring of 4 holds 4");
    for (int i = 0; i < 4; i++) {
      struct myelon_msg m = fr_recv_now(r.c);
      cr_assert(eq(u8, m.kind, (uint8_t)i));
      cr_assert(eq(u8, ((const uint8_t *)m.data)[0], (uint8_t)(i < 3 ? 'x' : 'y')));
      myelon_consumer_release(r.c);
    }
    fr_expect_empty(r.c);
    fr_close(&r);
  }
}

/* Regression: a non-gating framed consumer attached, then every receive
 * said "nothing yet" (Layer 0 refuses non-gating peeks) while the ring
 * said data was there, so myelon_consumer_recv() spun for ever, even with
 * a timeout. Leasing in place needs a gating consumer: attach refuses. */
Test(framed_zero_copy, non_gating_consumer_is_refused_at_attach)
{
  FR_SLOT_ONLY("a byte ring takes non-gating readers (test_bytes_framed.c)");
  for (int b = 0; b < 2; b++) {
    struct fr_ring r = fr_open(fr_backends[b], MYELON_FRAME_COMPACT, 64, 8);
    struct myelon_consumer_config cc = fr_ccfg(&r.pc, "ng");
    cc.ring.flags |= DMP_CONSUMER_NON_GATING;
    struct myelon_consumer *c = (struct myelon_consumer *)1;
    cr_assert(eq(int, myelon_consumer_attach(&cc, &c), -EINVAL));
    cr_assert(eq(ptr, (void *)c, NULL));
    cr_assert(ne(ptr, strstr(dmp_last_error(), "must gate the producer"), NULL), "%s", dmp_last_error());
    cr_assert(eq(int, myelon_consumer_attach_timeout(&cc, FR_SHORT_NS, &c), -EINVAL));
    /* no entry was taken: the ring still has one consumer, which gets everything */
    cr_assert(eq(int, dmp_producer_wait_for_consumers(myelon_producer_ring(r.p), 2, 0), -ETIMEDOUT));
    for (int i = 0; i < 8; i++)
      cr_assert(eq(int, myelon_producer_try_publish(r.p, "x", 1, 0), 0));
    cr_assert(eq(int, myelon_producer_try_publish(r.p, "x", 1, 0), -EAGAIN));
    for (int i = 0; i < 8; i++) {
      struct myelon_msg m = fr_recv_now(r.c);
      cr_assert(eq(sz, m.len, 1));
      myelon_consumer_release(r.c);
    }
    fr_expect_empty(r.c);
    fr_close(&r);
  }
}

/* ---- try_publish ------------------------------------------------------------ */

Test(framed_try_publish, is_all_or_nothing)
{
  FR_SLOT_ONLY("frame counts");
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 16);
    struct dmp_producer *raw = myelon_producer_ring(r.p);
    uint8_t data[64 * 20];
    fr_pattern(data, sizeof data, 9);
    for (int i = 0; i < 14; i++)
      cr_assert(eq(int, myelon_producer_try_publish(r.p, data, 10, (uint8_t)i), 0));
    size_t three = 2 * r.cap + 10; /* 3 frames in both formats */
    cr_assert(eq(u64, myelon_frame_count(r.fmt, r.cap, three), 3));
    int64_t seq = dmp_producer_sequence(raw);
    cr_assert(eq(int, myelon_producer_try_publish(r.p, data, three, 50), -EAGAIN), "3 frames, 2 free slots");
    cr_assert(eq(i64, dmp_producer_sequence(raw), seq), "a frame of it became visible");
    size_t huge = 17 * r.cap; /* more frames than the ring holds */
    cr_assert(eq(int, myelon_producer_try_publish(r.p, data, huge, 51), -EAGAIN));
    for (int i = 0; i < 14; i++)
      fr_expect_pattern(r.c, 10, 9, (uint8_t)i);
    fr_expect_empty(r.c);
    cr_assert(eq(u64, myelon_consumer_orphans(r.c), 0), "nothing partial was visible");
    cr_assert(eq(u64, myelon_consumer_errors(r.c), 0));
    cr_assert(eq(int, myelon_producer_try_publish(r.p, data, huge, 51), -EAGAIN), "even into an empty ring");
    cr_assert(eq(i64, dmp_producer_sequence(raw), seq));
    cr_assert(eq(int, myelon_producer_try_publish(r.p, data, three, 50), 0));
    fr_expect_pattern(r.c, three, 9, 50);
    /* exactly the ring's capacity in frames fits */
    size_t full = (fi == 0 ? 16 * r.cap - 4 : 16 * r.cap);
    cr_assert(eq(u64, myelon_frame_count(r.fmt, r.cap, full), 16));
    cr_assert(eq(int, myelon_producer_try_publish(r.p, data, full, 52), 0));
    fr_expect_pattern(r.c, full, 9, 52);
    fr_close(&r);
  }
}

/* ---- recv_into (the binding entry point) ------------------------------------ */

/* myelon_consumer_recv_into(): copies and releases in one call (the slot
 * is free again when it returns: a full ring takes a new message at once),
 * leaves a message longer than the buffer leased and readable, and with
 * timeout 0 only looks. */
Test(framed_recv_into, copies_releases_and_leaves_a_long_message_leased)
{
  for (int fi = 0; fi < 2; fi++) {
    struct fr_ring r = fr_open(DMP_BACKEND_SHM, fr_formats[fi], 64, 16);
    uint8_t data[600], out[100]; /* 600 bytes: 10 or 11 frames of 64 */
    fr_pattern(data, sizeof data, 5);
    struct myelon_msg m;
    cr_assert(eq(int, myelon_consumer_recv_into(r.c, out, sizeof out, &m, 0), -EAGAIN), "timeout 0: no wait");
    for (int i = 0; i < 16; i++) /* fills the ring */
      fr_publish_ok(r.p, data, 40, (uint8_t)i);
    for (int i = 0; i < 16; i++) {
      memset(out, 0, sizeof out);
      cr_assert(eq(int, myelon_consumer_recv_into(r.c, out, sizeof out, &m, 0), 0));
      cr_assert(eq(sz, m.len, 40));
      cr_assert(eq(u8, m.kind, (uint8_t)i));
      cr_assert(eq(ptr, (void *)m.data, out), "data is the caller's buffer");
      cr_assert(eq(int, memcmp(out, data, 40), 0));
      /* released: the ring has room for one more without any release call */
      cr_assert(eq(int, myelon_producer_try_publish(r.p, data, 40, 9), 0), "message %d's slot still held", i);
    }
    for (int i = 0; i < 16; i++)
      cr_assert(eq(int, myelon_consumer_recv_into(r.c, out, sizeof out, &m, 1000000), 0));
    /* longer than the buffer: 1, nothing copied, the message leased in m */
    fr_publish_ok(r.p, data, sizeof data, 7);
    memset(out, 0xee, sizeof out);
    cr_assert(eq(int, myelon_consumer_recv_into(r.c, out, sizeof out, &m, 1000000), 1));
    cr_assert(eq(sz, m.len, sizeof data));
    cr_assert(eq(u8, m.kind, 7));
    cr_assert(eq(int, memcmp(m.data, data, sizeof data), 0), "the lease is readable");
    cr_assert(eq(u8, out[0], 0xee), "nothing was copied");
    myelon_consumer_release(r.c);
    /* an empty message needs no buffer */
    fr_publish_ok(r.p, data, 0, 8);
    cr_assert(eq(int, myelon_consumer_recv_into(r.c, NULL, 0, &m, 1000000), 0));
    cr_assert(eq(sz, m.len, 0));
    cr_assert(eq(u8, m.kind, 8));
    cr_assert(eq(int, myelon_consumer_recv_into(r.c, out, sizeof out, &m, 1000000), -ETIMEDOUT));
    cr_assert(eq(int, myelon_consumer_recv_into(NULL, out, sizeof out, &m, 0), -EINVAL));
    cr_assert(eq(int, myelon_consumer_recv_into(r.c, out, sizeof out, NULL, 0), -EINVAL));
    cr_assert(eq(int, myelon_consumer_recv_into(r.c, NULL, 1, &m, 0), -EINVAL));
    fr_close(&r);
  }
}

/* ---- accessors -------------------------------------------------------------- */

Test(framed_accessors, frame_capacity_and_max_message_on_both_sides)
{
  FR_SLOT_ONLY("frame capacities (test_bytes_framed.c checks a byte ring's)");
  /* 250 rounds up to the format's alignment: 252 compact, 256 aligned */
  const uint32_t rounded[2] = {252, 256};
  for (int fi = 0; fi < 2; fi++) {
    struct myelon_producer_config pc = fr_pcfg(DMP_BACKEND_SHM, fr_formats[fi], 250, 8, "acc");
    pc.max_message = 10000;
    struct fr_ring r = fr_open_cfg(&pc, 5000);
    cr_assert(eq(u32, myelon_producer_frame_capacity(r.p), rounded[fi]), "%s", fr_format_name(r.fmt));
    cr_assert(eq(u32, myelon_consumer_frame_capacity(r.c), rounded[fi]), "%s", fr_format_name(r.fmt));
    cr_assert(eq(sz, myelon_producer_max_message(r.p), 10000));
    cr_assert(eq(sz, myelon_consumer_max_message(r.c), 5000));
    /* the capacity is what one frame carries: up to it a message is zero-copy */
    uint8_t data[260];
    fr_pattern(data, sizeof data, 3);
    uint32_t fcap = myelon_producer_frame_capacity(r.p);
    for (uint32_t len = fcap; len <= fcap + 1; len++) {
      fr_publish_ok(r.p, data, len, 1);
      struct myelon_msg m = fr_recv_now(r.c);
      cr_assert(eq(sz, m.len, len));
      cr_assert(eq(int, m.zero_copy, len == fcap), "%u bytes with a frame capacity of %u", len, fcap);
      cr_assert(eq(int, memcmp(m.data, data, len), 0));
      myelon_consumer_release(r.c);
    }
    void *buf;
    cr_assert(eq(int, myelon_producer_claim(r.p, fcap, &buf, 0), 0), "claim of the whole frame capacity");
    cr_assert(eq(int, myelon_producer_abort(r.p), 0));
    cr_assert(eq(int, myelon_producer_claim(r.p, fcap + 1, &buf, 0), -EINVAL));
    fr_close(&r);
  }
  cr_assert(eq(u32, myelon_producer_frame_capacity(NULL), 0));
  cr_assert(eq(u32, myelon_consumer_frame_capacity(NULL), 0));
  cr_assert(eq(sz, myelon_producer_max_message(NULL), 0));
  cr_assert(eq(sz, myelon_consumer_max_message(NULL), 0));
}

/* Issue 16, "defaults for every field": myelon_producer_config_init() left
 * ring.capacity at 0, so a config straight from init (plus the one required
 * field, the name) failed with -DMP_E_BADCONFIG. */
Test(framed_roundtrip, config_straight_from_init_plus_a_name_makes_a_working_ring)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  cr_assert(eq(u64, pc.ring.capacity, MYELON_DEFAULT_RING_CAPACITY));
  pc.ring.name = ts_shm_name("init");
  struct myelon_producer *p = NULL;
  int rc = myelon_producer_create(&pc, &p);
  cr_assert(eq(int, rc, 0), "create: %s / %s", dmp_err_name(rc), dmp_last_error());
  cr_assert(eq(u64, dmp_producer_capacity(myelon_producer_ring(p)), MYELON_DEFAULT_RING_CAPACITY));

  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = pc.ring.name;
  cc.ring.id = "c0";
  struct myelon_consumer *c = NULL;
  rc = myelon_consumer_attach(&cc, &c);
  cr_assert(eq(int, rc, 0), "attach: %s / %s", dmp_err_name(rc), dmp_last_error());

  /* One single-frame and one fragmented message, both through defaults. */
  static uint8_t big[3 * MYELON_DEFAULT_FRAME_CAPACITY];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (uint8_t)(i * 7);
  cr_assert(eq(int, myelon_producer_publish(p, "hello", 5, 1, FR_LONG_NS), 0));
  cr_assert(eq(int, myelon_producer_publish(p, big, sizeof big, 2, FR_LONG_NS), 0));
  struct myelon_msg m;
  cr_assert(eq(int, myelon_consumer_recv(c, &m, FR_LONG_NS), 0));
  cr_assert(eq(sz, m.len, 5));
  cr_assert(eq(int, memcmp(m.data, "hello", 5), 0));
  myelon_consumer_release(c);
  cr_assert(eq(int, myelon_consumer_recv(c, &m, FR_LONG_NS), 0));
  cr_assert(eq(sz, m.len, sizeof big));
  cr_assert(eq(int, memcmp(m.data, big, sizeof big), 0));
  myelon_consumer_release(c);
  myelon_consumer_close(c);
  myelon_producer_close(p);
}

/* ---- multi-producer rings (issue 18) ------------------------------------- */

TestSuite(framed_multi_producer, .fini = fr_fini, .timeout = FR_TIMEOUT);

/* Two framed producers (the creator and one attached) alternate multi-frame
 * messages, each claimed at once: the consumer reassembles every message
 * whole (no other producer's frame in between); a message of more frames
 * than the ring is refused; an SP ring takes no framed attach. */
Test(framed_multi_producer, messages_are_claimed_whole_and_never_interleave)
{
  FR_SLOT_ONLY("multi-frame messages: a byte ring's message is one record (its multi-producer tests: bytes_framed)");
  for (int b = 0; b < 2; b++) {
    struct myelon_producer_config pc = fr_pcfg(fr_backends[b], MYELON_FRAME_COMPACT, 64, 16, "frmmp");
    pc.ring.flags |= DMP_RING_MULTI_PRODUCER;
    struct fr_ring r = fr_open_cfg(&pc, 0);
    struct myelon_producer *q = NULL;
    int rc = myelon_producer_attach(&pc, &q);
    cr_assert(eq(int, rc, 0), "attach: %s", dmp_last_error());
    uint8_t buf[8 * 64];
    for (uint32_t i = 0; i < 8; i++) {
      size_t len = 64 + 37 * i; /* 2..5 frames */
      fr_pattern(buf, len, i);
      fr_publish_ok(i % 2 ? q : r.p, buf, len, (uint8_t)i);
      fr_expect_pattern(r.c, len, i, (uint8_t)i);
    }
    /* Interleaved claims: q's message sits behind r.p's open zero-copy claim. */
    void *zc;
    cr_assert(eq(int, myelon_producer_claim(r.p, 8, &zc, FR_LONG_NS), 0));
    fr_pattern(buf, 200, 99);
    fr_publish_ok(q, buf, 200, 9);
    memcpy(zc, "abcdefgh", 8);
    cr_assert(eq(int, myelon_producer_commit(r.p, 8, 7), 0));
    struct myelon_msg m = fr_recv_now(r.c);
    cr_assert(eq(sz, m.len, 8));
    cr_assert(eq(int, memcmp(m.data, "abcdefgh", 8), 0));
    myelon_consumer_release(r.c);
    fr_expect_pattern(r.c, 200, 99, 9);
    /* More frames than the ring: refused, nothing published. */
    static uint8_t big[17 * 64];
    rc = myelon_producer_publish(q, big, sizeof big, 0, FR_LONG_NS);
    cr_assert(eq(int, rc, -MYELON_E_TOOBIG), "%s", dmp_last_error());
    cr_assert(strstr(dmp_last_error(), "multi-producer") != NULL, "%s", dmp_last_error());
    fr_expect_empty(r.c);
    myelon_producer_close(q);
    fr_close(&r);
    /* A single-producer framed ring takes no second producer. */
    pc = fr_pcfg(fr_backends[b], MYELON_FRAME_COMPACT, 64, 16, "frmsp");
    struct myelon_producer *sp = fr_create(&pc);
    cr_assert(eq(int, myelon_producer_attach(&pc, &q), -DMP_E_MISMATCH), "%s", dmp_last_error());
    cr_assert(strstr(dmp_last_error(), "single-producer") != NULL);
    myelon_producer_close(sp);
  }
}

/* myelon_producer_abort() on a multi-producer ring publishes the aborted
 * slot as a tombstone at once: the producer that aborted then does nothing
 * (no claim, publish or close), and the other producer's message after it
 * is received within a bounded wait; both ways (the creator, which holds
 * the biased claim, and an attached producer). On a byte ring too
 * (framed_bytes: the aborted record's one block is the tombstone). */
Test(framed_multi_producer, abort_then_idle_blocks_nobody)
{
  for (int b = 0; b < 2; b++) {
    struct myelon_producer_config pc = fr_pcfg(fr_backends[b], MYELON_FRAME_COMPACT, 64, 16, "frmab");
    pc.ring.flags |= DMP_RING_MULTI_PRODUCER;
    struct fr_ring r = fr_open_cfg(&pc, 0);
    struct myelon_producer *q = NULL;
    int rc = myelon_producer_attach(&pc, &q);
    cr_assert(eq(int, rc, 0), "attach: %s", dmp_last_error());
    struct myelon_producer *who[2] = {r.p, q};
    uint8_t buf[200];
    for (uint32_t i = 0; i < 2; i++) {
      void *zc;
      cr_assert(eq(int, myelon_producer_claim(who[i], 8, &zc, FR_LONG_NS), 0), "%s", dmp_last_error());
      memcpy(zc, "abandon", 8);
      cr_assert(eq(int, myelon_producer_abort(who[i]), 0)); /* who[i] idles from here */
      fr_pattern(buf, sizeof buf, 40 + i);
      fr_publish_ok(who[1 - i], buf, sizeof buf, (uint8_t)i); /* 4 frames after the aborted slot */
      struct myelon_msg m;
      memset(&m, 0, sizeof m);
      rc = myelon_consumer_recv(r.c, &m, (int64_t)ts_timeout_ms(5000) * 1000000);
      cr_assert(eq(int, rc, 0), "producer %u aborted and idles: its slot must not hold the consumer: %s / %s", i,
                myelon_err_name(rc), dmp_last_error());
      cr_assert(eq(sz, m.len, sizeof buf));
      cr_assert(eq(int, memcmp(m.data, buf, sizeof buf), 0), "the other producer's message, whole");
      myelon_consumer_release(r.c);
      uint64_t tombs = dmp_producer_tombstones(myelon_producer_ring(r.p)) + dmp_producer_tombstones(myelon_producer_ring(q));
      cr_assert(ge(u64, tombs, i + 1), "the aborted slot (or record's blocks) tombstoned by the abort");
      cr_assert(eq(u64, dmp_consumer_tombstones(myelon_consumer_ring(r.c)), tombs), "and stepped over");
    }
    fr_expect_empty(r.c);
    myelon_producer_close(q);
    fr_close(&r);
  }
}
