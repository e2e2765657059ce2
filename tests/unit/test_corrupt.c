/* Corrupted and hostile segments (layout.h, consumer.h): whatever another
 * process or a stray write leaves in a segment, attach rejects it with
 * the documented code and never crashes or trusts it.
 *
 * The producer stays alive (holding its lock) while its bytes are edited
 * behind its back through the file system, so the rejection cannot be
 * explained by a dead producer. After a truncation the file is grown back
 * to its size (zero-filled) before the producer closes, since its mapping
 * would otherwise extend past the end of the file (SIGBUS). */
#include <stdlib.h>

#include "unit.h"

TestSuite(corrupt_segment, .fini = ut_fini, .timeout = UT_TIMEOUT);

#define HOFF(field) ((off_t)offsetof(struct dmp_segment_header, field))

static struct dmp_producer *live_ring_of(enum dmp_backend b, struct dmp_producer_config *cfg, uint64_t capacity)
{
  *cfg = ut_pcfg(b, "bad");
  cfg->capacity = capacity;
  struct dmp_producer *p = ut_create(cfg);
  ut_publish_n(p, 3);
  return p;
}

/* 16 slots of 8 bytes: the whole segment is one page. */
static struct dmp_producer *live_ring(enum dmp_backend b, struct dmp_producer_config *cfg)
{
  return live_ring_of(b, cfg, 16);
}

/* Attach to `cfg`'s ring and return the code; *out must be NULL on failure. */
static int try_attach(const struct dmp_producer_config *cfg)
{
  struct dmp_consumer_config cc = ut_ccfg(cfg, "c0");
  struct dmp_consumer *c = (struct dmp_consumer *)(uintptr_t)0x10;
  int rc = dmp_consumer_attach(&cc, &c);
  if (rc == 0) {
    cr_assert(ne(ptr, c, NULL));
    dmp_consumer_close_forget(c);
  } else {
    cr_assert(eq(ptr, (void *)c, NULL), "*out not NULL after %s", dmp_err_name(rc));
  }
  return rc;
}

static void expect_attach(const struct dmp_producer_config *cfg, int want, const char *what)
{
  int rc = try_attach(cfg);
  cr_assert(eq(int, rc, want), "%s on %s: got %s, want %s (%s)", what, ut_backend_name(cfg->backend),
            dmp_err_name(rc), dmp_err_name(want), dmp_last_error());
}

typedef void (*edit_fn)(struct dmp_segment_header *h);

/* Apply `edit` to the header of a live ring (re-fingerprinted or not) and
 * expect attach to fail with `want`; a correct attach must work before. */
static void expect_edit_rejected(edit_fn edit, bool refingerprint, int want, const char *what)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg;
    struct dmp_producer *p = live_ring(ut_backends[b], &cfg);
    expect_attach(&cfg, 0, "intact header");
    struct dmp_segment_header h = ut_header_read(ut_backends[b], cfg.name);
    edit(&h);
    ut_header_write(ut_backends[b], cfg.name, &h, refingerprint);
    expect_attach(&cfg, want, what);
    dmp_producer_close(p);
  }
}

static void bad_magic(struct dmp_segment_header *h) { h->magic ^= 0x1; }
static void swapped_magic(struct dmp_segment_header *h) { h->magic = __builtin_bswap64(DMP_MAGIC); }

Test(corrupt_segment, wrong_magic_is_corrupt)
{
  expect_edit_rejected(bad_magic, false, -DMP_E_CORRUPT, "magic ^ 1");
  expect_edit_rejected(bad_magic, true, -DMP_E_CORRUPT, "magic ^ 1, re-fingerprinted");
  expect_edit_rejected(swapped_magic, true, -DMP_E_CORRUPT, "byte-swapped magic");
}

static void version_2(struct dmp_segment_header *h) { h->layout_version = 2; }
static void version_0(struct dmp_segment_header *h) { h->layout_version = 0; }

Test(corrupt_segment, other_layout_version_is_layout)
{
  expect_edit_rejected(version_2, true, -DMP_E_LAYOUT, "layout_version 2, re-fingerprinted");
  expect_edit_rejected(version_0, true, -DMP_E_LAYOUT, "layout_version 0, re-fingerprinted");
}

Test(corrupt_segment, version_is_checked_before_the_fingerprint)
{
  /* A future layout may fingerprint differently: the version decides. */
  expect_edit_rejected(version_2, false, -DMP_E_LAYOUT, "layout_version 2, old fingerprint");
}

static void epoch_flip(struct dmp_segment_header *h) { h->epoch ^= UINT64_C(1) << 17; }
static void pid_flip(struct dmp_segment_header *h) { h->owner_pid ^= 0x100; }
static void created_flip(struct dmp_segment_header *h) { h->created_ns ^= 0x1; }
static void fp_flip(struct dmp_segment_header *h) { h->fingerprint ^= UINT64_C(1) << 63; }

Test(corrupt_segment, fingerprint_mismatch_is_corrupt)
{
  expect_edit_rejected(epoch_flip, false, -DMP_E_CORRUPT, "epoch bit flip");
  expect_edit_rejected(pid_flip, false, -DMP_E_CORRUPT, "owner_pid bit flip");
  expect_edit_rejected(created_flip, false, -DMP_E_CORRUPT, "created_ns bit flip");
  expect_edit_rejected(fp_flip, false, -DMP_E_CORRUPT, "fingerprint bit flip");
}

Test(corrupt_segment, every_flipped_byte_of_the_fingerprinted_range_is_rejected)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg;
    struct dmp_producer *p = live_ring(ut_backends[b], &cfg);
    for (off_t off = 0; off < 96; off++) {
      uint8_t orig, flipped;
      ut_seg_read(ut_backends[b], cfg.name, off, &orig, 1);
      flipped = (uint8_t)(orig ^ 0x5a);
      ut_seg_write(ut_backends[b], cfg.name, off, &flipped, 1);
      int rc = try_attach(&cfg);
      bool version_byte = off >= HOFF(layout_version) && off < HOFF(layout_version) + 4;
      if (version_byte)
        cr_assert(rc == -DMP_E_LAYOUT || rc == -DMP_E_CORRUPT, "%s byte %d: got %s", ut_backend_name(ut_backends[b]),
                  (int)off, dmp_err_name(rc));
      else
        cr_assert(eq(int, rc, -DMP_E_CORRUPT), "%s byte %d flipped: got %s", ut_backend_name(ut_backends[b]), (int)off,
                  dmp_err_name(rc));
      ut_seg_write(ut_backends[b], cfg.name, off, &orig, 1);
    }
    expect_attach(&cfg, 0, "restored header");
    dmp_producer_close(p);
  }
}

/* Hostile headers: consistent fingerprint, inconsistent geometry. */
static void capacity_12(struct dmp_segment_header *h) { h->capacity = 12; }
static void capacity_0(struct dmp_segment_header *h) { h->capacity = 0; }
/* x1024: a larger ring than the file holds (x2 would still fit the
 * page-rounded size of this small ring, a consistent header) */
static void capacity_larger(struct dmp_segment_header *h) { h->capacity *= 1024; }
static void capacity_huge(struct dmp_segment_header *h) { h->capacity = UINT64_C(1) << 60; }
static void slot_size_0(struct dmp_segment_header *h) { h->slot_size = 0; }
static void slot_size_over_stride(struct dmp_segment_header *h) { h->slot_size = h->slot_stride + 1; }
static void slot_align_3(struct dmp_segment_header *h) { h->slot_align = 3; }
static void slot_align_huge(struct dmp_segment_header *h) { h->slot_align = 1u << 20; }
static void stride_small(struct dmp_segment_header *h) { h->slot_stride = h->slot_size / 2; }
static void stride_double(struct dmp_segment_header *h) { h->slot_stride *= 2; }
static void consumers_0(struct dmp_segment_header *h) { h->max_consumers = 0; }
static void consumers_huge(struct dmp_segment_header *h) { h->max_consumers = 100000; }
static void consumers_more(struct dmp_segment_header *h) { h->max_consumers += 1; }
static void table_offset_0(struct dmp_segment_header *h) { h->table_offset = 0; }
static void table_offset_far(struct dmp_segment_header *h) { h->table_offset = h->total_size; }
static void slots_offset_0(struct dmp_segment_header *h) { h->slots_offset = 0; }
static void slots_offset_end(struct dmp_segment_header *h) { h->slots_offset = h->total_size; }
static void slots_offset_max(struct dmp_segment_header *h) { h->slots_offset = UINT64_MAX - 63; }
static void total_0(struct dmp_segment_header *h) { h->total_size = 0; }
static void total_page_more(struct dmp_segment_header *h) { h->total_size += (uint64_t)sysconf(_SC_PAGESIZE); }
static void total_huge(struct dmp_segment_header *h) { h->total_size = UINT64_C(1) << 62; }
static void header_size_64(struct dmp_segment_header *h) { h->header_size = 64; }
static void flags_unknown(struct dmp_segment_header *h) { h->flags |= 0x80; }

static const struct {
  edit_fn edit;
  const char *what;
} hostile[] = {
  {capacity_12, "capacity 12"},
  {capacity_0, "capacity 0"},
  {capacity_larger, "capacity x1024"},
  {capacity_huge, "capacity 2^60"},
  {slot_size_0, "slot_size 0"},
  {slot_size_over_stride, "slot_size > stride"},
  {slot_align_3, "slot_align 3"},
  {slot_align_huge, "slot_align 2^20"},
  {stride_small, "slot_stride < slot_size"},
  {stride_double, "slot_stride x2"},
  {consumers_0, "max_consumers 0"},
  {consumers_huge, "max_consumers 100000"},
  {consumers_more, "max_consumers + 1"},
  {table_offset_0, "table_offset 0"},
  {table_offset_far, "table_offset = total_size"},
  {slots_offset_0, "slots_offset 0"},
  {slots_offset_end, "slots_offset = total_size"},
  {slots_offset_max, "slots_offset near 2^64"},
  {total_0, "total_size 0"},
  {total_page_more, "total_size + 1 page"},
  {total_huge, "total_size 2^62"},
  {header_size_64, "header_size 64"},
  {flags_unknown, "unknown segment flag"},
};

Test(corrupt_segment, inconsistent_geometry_with_a_valid_fingerprint_is_corrupt)
{
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
    expect_edit_rejected(hostile[i].edit, true, -DMP_E_CORRUPT, hostile[i].what);
}

static void ready_0(struct dmp_segment_header *h) { dmp_impl_store_relaxed(&h->ready, 0u); }

Test(corrupt_segment, ready_word_zero_is_notready)
{
  expect_edit_rejected(ready_0, false, -DMP_E_NOTREADY, "ready 0");
}

Test(corrupt_segment, ready_word_garbage_is_rejected)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg;
    struct dmp_producer *p = live_ring(ut_backends[b], &cfg);
    uint32_t junk = 0x12345678;
    ut_seg_write(ut_backends[b], cfg.name, HOFF(ready), &junk, sizeof junk);
    int rc = try_attach(&cfg);
    cr_assert(rc == -DMP_E_NOTREADY || rc == -DMP_E_CORRUPT, "%s: got %s", ut_backend_name(ut_backends[b]),
              dmp_err_name(rc));
    dmp_producer_close(p);
  }
}

static void expect_truncation_rejected(off_t size_or_minus_page, bool minus_page, int want, int alt)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg;
    /* 4096 slots of 8 bytes: several pages */
    struct dmp_producer *p = live_ring_of(ut_backends[b], &cfg, 4096);
    off_t full = ut_seg_size(ut_backends[b], cfg.name);
    off_t size = minus_page ? full - sysconf(_SC_PAGESIZE) : size_or_minus_page;
    ut_seg_truncate(ut_backends[b], cfg.name, size);
    int rc = try_attach(&cfg);
    cr_assert(rc == want || rc == alt, "%s truncated to %lld bytes: got %s, want %s", ut_backend_name(ut_backends[b]),
              (long long)size, dmp_err_name(rc), dmp_err_name(want));
    ut_seg_truncate(ut_backends[b], cfg.name, full); /* see the file comment */
    dmp_producer_close(p);
  }
}

Test(corrupt_segment, truncated_below_the_header_is_corrupt)
{
  expect_truncation_rejected(8, false, -DMP_E_CORRUPT, -DMP_E_CORRUPT);
  expect_truncation_rejected(127, false, -DMP_E_CORRUPT, -DMP_E_CORRUPT);
}

Test(corrupt_segment, truncated_by_one_page_is_corrupt)
{
  expect_truncation_rejected(0, true, -DMP_E_CORRUPT, -DMP_E_CORRUPT);
}

Test(corrupt_segment, truncated_to_the_control_block_is_corrupt)
{
  expect_truncation_rejected(512, false, -DMP_E_CORRUPT, -DMP_E_CORRUPT);
}

Test(corrupt_segment, zero_length_is_notready_or_corrupt)
{
  /* consumer.h does not say which: NOTREADY fits "being created" (the
   * creator's shm_open before its ftruncate), CORRUPT fits "bad size". */
  expect_truncation_rejected(0, false, -DMP_E_NOTREADY, -DMP_E_CORRUPT);
}

Test(corrupt_segment, corruption_is_reported_even_when_the_producer_is_dead)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg = ut_pcfg(ut_backends[b], "bad");
    cfg.flags = DMP_RING_KEEP;
    dmp_producer_close(ut_create(&cfg));
    struct dmp_segment_header h = ut_header_read(ut_backends[b], cfg.name);
    h.magic = 0;
    ut_header_write(ut_backends[b], cfg.name, &h, false);
    expect_attach(&cfg, -DMP_E_CORRUPT, "zero magic, dead producer");
  }
}

/* xorshift64*: deterministic garbage, so a failure can be replayed. */
static uint64_t rng_next(uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * UINT64_C(2685821657736338717);
}

static void fill_random(uint8_t *buf, size_t len, uint64_t *seed)
{
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(rng_next(seed) >> 56);
}

static bool is_known_rejection(int rc)
{
  return rc == -DMP_E_CORRUPT || rc == -DMP_E_LAYOUT || rc == -DMP_E_NOTREADY;
}

Test(corrupt_segment, random_first_page_is_rejected_without_crashing)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg;
    struct dmp_producer *p = live_ring(ut_backends[b], &cfg); /* its control block gets trashed */
    uint64_t seed = UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)b;
    for (int round = 0; round < 200; round++) {
      uint64_t round_seed = seed;
      uint8_t junk[4096];
      fill_random(junk, sizeof junk, &seed);
      ut_seg_write(ut_backends[b], cfg.name, 0, junk, sizeof junk);
      int rc = try_attach(&cfg);
      cr_assert(is_known_rejection(rc), "%s round %d (seed %llx): got %s", ut_backend_name(ut_backends[b]), round,
                (unsigned long long)round_seed, dmp_err_name(rc));
    }
    dmp_producer_close(p); /* must not trust the trashed control block either */
  }
}

static bool is_pow2(uint64_t x)
{
  return x && !(x & (x - 1));
}

static uint64_t round_up(uint64_t x, uint64_t a)
{
  return (x + a - 1) / a * a;
}

/* True if `h` describes a valid ring of exactly `file_size` bytes by the
 * formulas of layout.h (a random edit can land on another valid ring,
 * e.g. slot_size 8 -> 5 keeps the 8-byte stride). */
static bool header_consistent(const struct dmp_segment_header *h, uint64_t file_size)
{
  if (h->header_size != sizeof *h || !is_pow2(h->capacity) || h->slot_size == 0 ||
      h->slot_size > DMP_MAX_SLOT_SIZE || !is_pow2(h->slot_align) || h->slot_align > DMP_MAX_SLOT_ALIGN ||
      h->max_consumers == 0 || h->max_consumers > DMP_MAX_CONSUMERS)
    return false;
  uint64_t stride = round_up(h->slot_size, h->slot_align);
  uint64_t slots = round_up(512 + (uint64_t)h->max_consumers * 128, h->slot_align > 64 ? h->slot_align : 64);
  if (h->capacity > DMP_MAX_SEGMENT_BYTES / stride)
    return false;
  uint64_t total = round_up(slots + stride * h->capacity, (uint64_t)sysconf(_SC_PAGESIZE));
  return h->slot_stride == stride && h->table_offset == 512 && h->slots_offset == slots && h->total_size == total &&
         total == file_size;
}

Test(corrupt_segment, random_fingerprinted_header_fields_are_rejected)
{
  /* Valid magic, version, ready word and fingerprint; random geometry:
   * rejected as CORRUPT unless it happens to describe a valid ring. */
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg;
    struct dmp_producer *p = live_ring(ut_backends[b], &cfg);
    struct dmp_segment_header good = ut_header_read(ut_backends[b], cfg.name);
    uint64_t file_size = (uint64_t)ut_seg_size(ut_backends[b], cfg.name);
    uint64_t seed = UINT64_C(0x243f6a8885a308d3) + (uint64_t)b;
    int rejected = 0;
    for (int round = 0; round < 300; round++) {
      struct dmp_segment_header h = good;
      /* randomise one to three bytes of the geometry fields, [12, 64) */
      int nbytes = 1 + (int)(rng_next(&seed) % 3);
      for (int k = 0; k < nbytes; k++) {
        size_t off = 12 + rng_next(&seed) % (64 - 12);
        ((uint8_t *)&h)[off] = (uint8_t)(rng_next(&seed) >> 56);
      }
      ut_header_write(ut_backends[b], cfg.name, &h, true);
      int rc = try_attach(&cfg);
      if (header_consistent(&h, file_size)) {
        cr_assert(eq(int, rc, 0), "%s round %d: consistent header refused: %s", ut_backend_name(ut_backends[b]), round,
                  dmp_err_name(rc));
      } else {
        cr_assert(eq(int, rc, -DMP_E_CORRUPT), "%s round %d: got %s", ut_backend_name(ut_backends[b]), round,
                  dmp_err_name(rc));
        rejected++;
      }
    }
    cr_assert(lt(int, 200, rejected), "the fuzzer produced too few bad headers to mean anything");
    ut_header_write(ut_backends[b], cfg.name, &good, false);
    expect_attach(&cfg, 0, "restored header");
    dmp_producer_close(p);
  }
}

Test(corrupt_segment, random_consumer_table_never_crashes_attach_or_discovery)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config cfg;
    struct dmp_producer *p = live_ring(ut_backends[b], &cfg);
    struct dmp_segment_header h = ut_header_read(ut_backends[b], cfg.name);
    uint64_t seed = UINT64_C(0x13198a2e03707344) + (uint64_t)b;
    for (int round = 0; round < 50; round++) {
      size_t len = (size_t)h.max_consumers * sizeof(struct dmp_consumer_entry);
      uint8_t *junk = malloc(len);
      cr_assert(ne(ptr, junk, NULL));
      fill_random(junk, len, &seed);
      ut_seg_write(ut_backends[b], cfg.name, (off_t)h.table_offset, junk, len);
      free(junk);

      struct dmp_consumer_info info[DMP_DEFAULT_MAX_CONSUMERS];
      int n = dmp_producer_list_consumers(p, NULL, info, DMP_DEFAULT_MAX_CONSUMERS);
      cr_assert(le(int, n, (int)h.max_consumers), "more consumers listed than the table holds");
      for (int i = 0; i < n && i < (int)DMP_DEFAULT_MAX_CONSUMERS; i++) {
        cr_assert(lt(sz, strnlen(info[i].id, sizeof info[i].id), sizeof info[i].id), "id not terminated");
        cr_assert(lt(u32, info[i].index, h.max_consumers));
      }
      struct dmp_consumer_config cc = ut_ccfg(&cfg, "fresh");
      struct dmp_consumer *c = NULL;
      int rc = dmp_consumer_attach(&cc, &c);
      if (rc == 0)
        dmp_consumer_close_forget(c);
      else
        cr_assert(eq(ptr, (void *)c, NULL));
      void *slot;
      rc = dmp_producer_try_claim(p, &slot);
      cr_assert(rc == 0 || rc == -EAGAIN, "try_claim over a garbage table: %s", dmp_err_name(rc));
      if (rc == 0)
        dmp_producer_publish(p);
    }
    dmp_producer_close(p);
  }
}
