/* Frames (frame.h), pure functions only: flag values, slot sizes, type
 * tags, split counts, the byte layout written by myelon_frame_write() and
 * read back by myelon_frame_parse(), and the parser's validation, down to
 * seeded random bytes in exactly-sized heap buffers (so a sanitizer build
 * catches any read past the slot). */
#include "framing.h"

TestSuite(frame_flags, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(frame_slot, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(frame_count, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(frame_header, .fini = fr_fini, .timeout = FR_TIMEOUT);
TestSuite(frame_parse, .fini = fr_fini, .timeout = FR_TIMEOUT);

/* A 16-aligned heap copy of exactly `size` bytes: reads past it are heap
 * overflows for ASan. */
static uint8_t *exact_slot(uint32_t size)
{
  uint8_t *s = aligned_alloc(16, (size + 15) & ~15u);
  cr_assert(ne(ptr, s, NULL));
  return s;
}

static int parse(enum myelon_frame_format f, uint32_t cap, const void *slot, struct myelon_frame_view *v)
{
  memset(v, 0xa5, sizeof *v);
  return myelon_frame_parse(f, cap, slot, v);
}

Test(frame_flags, truth_table)
{
  /* (first, last) -> flags: START alone, END alone, both (SINGLE), neither (MIDDLE). */
  const struct {
    bool first, last;
    unsigned flags;
  } table[] = {{true, true, 0x3}, {true, false, 0x1}, {false, true, 0x2}, {false, false, 0x0}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    unsigned got = (table[i].first ? MYELON_FLAG_START : 0) | (table[i].last ? MYELON_FLAG_END : 0);
    cr_assert(eq(u32, got, table[i].flags), "first %d last %d", table[i].first, table[i].last);
  }
  cr_assert(eq(u32, MYELON_FLAG_SINGLE, MYELON_FLAG_START | MYELON_FLAG_END));
  cr_assert(eq(u32, MYELON_FLAGS_KNOWN, 0x3u));
}

Test(frame_flags, parser_accepts_the_four_combinations_and_rejects_every_other_bit)
{
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format f = fr_formats[fi];
    uint32_t cap = 64, size = fr_slot_size(f, cap);
    uint8_t *slot = exact_slot(size);
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (unsigned flags = 0; flags < 256; flags++) {
      /* a frame that is valid for every known flag combination */
      fr_build(f, slot, size, data, 8, 7, (uint8_t)flags, 0, 9, (flags & 3u) == 3u ? 8 : 100);
      struct myelon_frame_view v;
      int rc = parse(f, cap, slot, &v);
      if (flags <= 3) {
        cr_assert(eq(int, rc, 0), "%s: flags 0x%02x rejected: %s", fr_format_name(f), flags, myelon_err_name(rc));
        cr_assert(eq(u8, v.flags, (uint8_t)flags));
      } else {
        cr_assert(eq(int, rc, -MYELON_E_MALFORMED), "%s: unknown flag bits 0x%02x accepted", fr_format_name(f),
                  flags);
      }
    }
    free(slot);
  }
}

Test(frame_slot, sizes_and_alignment_of_both_formats)
{
  const struct {
    enum myelon_frame_format f;
    uint32_t cap, size, align;
  } table[] = {
      {MYELON_FRAME_COMPACT, 8, 20, 4},      {MYELON_FRAME_COMPACT, 13, 28, 4},
      {MYELON_FRAME_COMPACT, 256, 268, 4},   {MYELON_FRAME_COMPACT, 1024, 1036, 4},
      {MYELON_FRAME_COMPACT, 65524, 65536, 4}, {MYELON_FRAME_ALIGNED, 8, 32, 16},
      {MYELON_FRAME_ALIGNED, 32, 48, 16},    {MYELON_FRAME_ALIGNED, 33, 64, 16},
      {MYELON_FRAME_ALIGNED, 1024, 1040, 16}, {MYELON_FRAME_ALIGNED, 65520, 65536, 16},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    uint32_t size = 0, align = 0;
    int rc = myelon_frame_slot(table[i].f, table[i].cap, &size, &align);
    cr_assert(eq(int, rc, 0));
    cr_assert(eq(u32, size, table[i].size), "%s capacity %u", fr_format_name(table[i].f), table[i].cap);
    cr_assert(eq(u32, align, table[i].align), "%s capacity %u", fr_format_name(table[i].f), table[i].cap);
  }
  cr_assert(eq(u32, myelon_frame_header_size(MYELON_FRAME_COMPACT), 12u));
  cr_assert(eq(u32, myelon_frame_header_size(MYELON_FRAME_ALIGNED), 16u));
  cr_assert(eq(u32, myelon_frame_header_size((enum myelon_frame_format)7), 0u));
}

Test(frame_slot, rejects_unknown_formats_and_capacities_out_of_range)
{
  uint32_t size = 0, align = 0;
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format f = fr_formats[fi];
    cr_assert(eq(int, myelon_frame_slot(f, MYELON_FRAME_MIN_CAPACITY - 1, &size, &align), -MYELON_E_FORMAT));
    cr_assert(eq(int, myelon_frame_slot(f, 0, &size, &align), -MYELON_E_FORMAT));
    cr_assert(eq(int, myelon_frame_slot(f, MYELON_FRAME_MAX_CAPACITY + 1, &size, &align), -MYELON_E_FORMAT));
    cr_assert(eq(int, myelon_frame_slot(f, UINT32_MAX, &size, &align), -MYELON_E_FORMAT));
    cr_assert(eq(int, myelon_frame_slot(f, MYELON_FRAME_MIN_CAPACITY, &size, &align), 0));
    cr_assert(eq(int, myelon_frame_slot(f, MYELON_FRAME_MAX_CAPACITY, &size, &align), 0));
    cr_assert(eq(u32, size, MYELON_FRAME_MAX_CAPACITY + fr_hdr(f)));
  }
  cr_assert(eq(int, myelon_frame_slot((enum myelon_frame_format)2, 256, &size, &align), -MYELON_E_FORMAT));
  cr_assert(eq(int, myelon_frame_slot((enum myelon_frame_format)-1, 256, &size, &align), -MYELON_E_FORMAT));
}

Test(frame_slot, type_tags_differ_by_format_and_capacity_and_are_never_zero)
{
  const uint32_t caps[] = {8, 12, 16, 256, 260, 1024, 65520, MYELON_FRAME_MAX_CAPACITY};
  uint64_t seen[2 * 8];
  int n = 0;
  for (int fi = 0; fi < 2; fi++)
    for (size_t i = 0; i < 8; i++) {
      uint64_t t = myelon_frame_tag(fr_formats[fi], caps[i]);
      cr_assert(ne(u64, t, 0));
      cr_assert(eq(u64, t, myelon_frame_tag(fr_formats[fi], caps[i])), "tag is not a pure function");
      for (int j = 0; j < n; j++)
        cr_assert(ne(u64, t, seen[j]), "%s/%u collides", fr_format_name(fr_formats[fi]), caps[i]);
      seen[n++] = t;
    }
}

Test(frame_count, exact_multiples_make_no_empty_tail)
{
  const uint32_t cap = 256;
  /* aligned: every frame carries `cap` bytes */
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_ALIGNED, cap, 0), 1));
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_ALIGNED, cap, 1), 1));
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_ALIGNED, cap, cap), 1));
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_ALIGNED, cap, cap + 1), 2));
  for (uint64_t k = 1; k <= 64; k++) {
    cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_ALIGNED, cap, k * cap), k), "%llu x cap", (unsigned long long)k);
    cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_ALIGNED, cap, k * cap + 1), k + 1));
  }
  /* compact: a message that fits is one SINGLE frame without a prefix; a
   * longer one's START carries cap - 4 bytes after the u32 total */
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_COMPACT, cap, 0), 1));
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_COMPACT, cap, cap), 1));
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_COMPACT, cap, cap + 1), 2));
  for (uint64_t k = 1; k <= 64; k++) {
    uint64_t exact = (cap - 4) + k * cap;
    cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_COMPACT, cap, exact), k + 1), "START + %llu full frames",
              (unsigned long long)k);
    cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_COMPACT, cap, exact + 1), k + 2));
  }
  /* large lengths do not overflow */
  uint64_t big = UINT64_C(1) << 40;
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_ALIGNED, 1024, big), big / 1024));
  cr_assert(eq(u64, myelon_frame_count(MYELON_FRAME_COMPACT, 1024, big), 1 + (big - 1020 + 1023) / 1024));
}

Test(frame_count, matches_a_split_whose_frames_are_full_except_the_last)
{
  const uint32_t caps[] = {8, 13, 64, 256};
  for (int fi = 0; fi < 2; fi++)
    for (size_t ci = 0; ci < 4; ci++) {
      enum myelon_frame_format f = fr_formats[fi];
      uint32_t size = 0, align = 0;
      cr_assert(eq(int, myelon_frame_slot(f, caps[ci], &size, &align), 0));
      uint32_t cap = size - fr_hdr(f); /* the rounded-up capacity the producer uses */
      for (size_t len = 0; len <= 6u * cap; len++) {
        uint64_t n = myelon_frame_count(f, cap, len);
        uint64_t first = n == 1 ? len : (f == MYELON_FRAME_COMPACT ? cap - 4 : cap);
        cr_assert(le(u64, first, len), "%s cap %u len %zu", fr_format_name(f), cap, len);
        uint64_t rest = len - first;
        /* n - 1 further frames, all full but the last, which is not empty */
        if (n > 1) {
          cr_assert(lt(u64, (n - 2) * cap, rest), "%s cap %u len %zu: empty tail", fr_format_name(f), cap, len);
          cr_assert(le(u64, rest, (n - 1) * cap), "%s cap %u len %zu: too few frames", fr_format_name(f), cap, len);
        } else {
          cr_assert(le(u64, len, cap));
        }
      }
    }
}

/* Read a little-endian field of a slot image. */
static uint32_t u32_at(const uint8_t *s, size_t off)
{
  uint32_t v;
  memcpy(&v, s + off, 4);
  return v;
}

static uint16_t u16_at(const uint8_t *s, size_t off)
{
  uint16_t v;
  memcpy(&v, s + off, 2);
  return v;
}

Test(frame_header, compact_byte_layout_and_round_trip)
{
  const uint32_t cap = 64, size = fr_slot_size(MYELON_FRAME_COMPACT, cap);
  uint8_t *s = exact_slot(size);
  uint8_t data[64];
  fr_pattern(data, sizeof data, 1);
  const struct {
    uint8_t flags;
    uint32_t len;
    uint16_t frag;
  } cases[] = {{MYELON_FLAG_SINGLE, 5, 0}, {MYELON_FLAG_SINGLE, 0, 0}, {MYELON_FLAG_SINGLE, 64, 0},
               {MYELON_FLAG_START, 60, 0}, {MYELON_FLAG_START, 0, 0},  {0, 64, 1},
               {0, 64, 65535},             {MYELON_FLAG_END, 1, 2},    {MYELON_FLAG_END, 0, 7}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memset(s, 0xee, size);
    uint32_t total = 1000;
    bool start_only = cases[i].flags == MYELON_FLAG_START;
    myelon_frame_write(MYELON_FRAME_COMPACT, s, data, cases[i].len, 42, cases[i].flags, cases[i].frag, 0x01020304u,
                       total);
    uint32_t wire = cases[i].len + (start_only ? 4 : 0);
    cr_assert(eq(u32, u32_at(s, 0), wire), "len at offset 0 (case %zu)", i);
    cr_assert(eq(u8, s[4], 42), "kind at offset 4");
    cr_assert(eq(u8, s[5], cases[i].flags), "flags at offset 5");
    cr_assert(eq(u16, u16_at(s, 6), cases[i].frag), "frag at offset 6");
    cr_assert(eq(u32, u32_at(s, 8), 0x01020304u), "msg_id at offset 8");
    size_t data_off = start_only ? 16 : 12;
    if (start_only)
      cr_assert(eq(u32, u32_at(s, 12), total), "compact START: total prefix at offset 12");
    cr_assert(eq(int, memcmp(s + data_off, data, cases[i].len), 0), "payload at offset %zu", data_off);

    struct myelon_frame_view v;
    cr_assert(eq(int, parse(MYELON_FRAME_COMPACT, cap, s, &v), 0), "case %zu", i);
    cr_assert(eq(ptr, (void *)v.data, (void *)(s + data_off)));
    cr_assert(eq(u32, v.len, cases[i].len));
    cr_assert(eq(u8, v.kind, 42));
    cr_assert(eq(u8, v.flags, cases[i].flags));
    cr_assert(eq(u16, v.frag, cases[i].frag));
    cr_assert(eq(u32, v.msg_id, 0x01020304u));
    uint64_t want_total = start_only ? total : (cases[i].flags == MYELON_FLAG_SINGLE ? cases[i].len : 0);
    cr_assert(eq(u64, v.total, want_total), "case %zu", i);
  }
  free(s);
}

Test(frame_header, aligned_byte_layout_and_round_trip)
{
  const uint32_t cap = 64, size = fr_slot_size(MYELON_FRAME_ALIGNED, cap);
  uint8_t *s = exact_slot(size);
  uint8_t data[64];
  fr_pattern(data, sizeof data, 2);
  const uint8_t flag_cases[] = {MYELON_FLAG_SINGLE, MYELON_FLAG_START, 0, MYELON_FLAG_END};
  for (size_t i = 0; i < 4; i++) {
    uint8_t flags = flag_cases[i];
    uint32_t len = flags == MYELON_FLAG_SINGLE ? 33 : 64;
    uint32_t total = flags == MYELON_FLAG_SINGLE ? 33 : 5000;
    uint16_t frag = (flags & MYELON_FLAG_START) ? 0 : (uint16_t)(i * 1000);
    memset(s, 0xee, size);
    myelon_frame_write(MYELON_FRAME_ALIGNED, s, data, len, 200, flags, frag, 77, total);
    cr_assert(eq(u32, u32_at(s, 0), len), "len at offset 0");
    cr_assert(eq(u8, s[4], 200));
    cr_assert(eq(u8, s[5], flags));
    cr_assert(eq(u16, u16_at(s, 6), frag));
    cr_assert(eq(u32, u32_at(s, 8), 77u));
    cr_assert(eq(u32, u32_at(s, 12), total), "total at offset 12 in every aligned frame");
    cr_assert(eq(int, memcmp(s + 16, data, len), 0), "payload at offset 16");
    struct myelon_frame_view v;
    cr_assert(eq(int, parse(MYELON_FRAME_ALIGNED, cap, s, &v), 0));
    cr_assert(eq(ptr, (void *)v.data, (void *)(s + 16)));
    cr_assert(eq(u64, (uintptr_t)v.data % 16, 0), "aligned payload is 16-byte aligned");
    cr_assert(eq(u32, v.len, len));
    cr_assert(eq(u8, v.kind, 200));
    cr_assert(eq(u8, v.flags, flags));
    cr_assert(eq(u16, v.frag, frag));
    cr_assert(eq(u32, v.msg_id, 77u));
    cr_assert(eq(u64, v.total, total));
  }
  free(s);
}

Test(frame_header, empty_single_frame_round_trips_in_both_formats)
{
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format f = fr_formats[fi];
    uint32_t size = fr_slot_size(f, 8);
    uint8_t *s = exact_slot(size);
    myelon_frame_write(f, s, NULL, 0, 255, MYELON_FLAG_SINGLE, 0, 1, 0);
    struct myelon_frame_view v;
    cr_assert(eq(int, parse(f, 8, s, &v), 0));
    cr_assert(eq(u32, v.len, 0));
    cr_assert(eq(u64, v.total, 0));
    cr_assert(eq(u8, v.kind, 255));
    free(s);
  }
}

/* One malformed header: `mutate` edits a valid frame image. */
struct bad_case {
  const char *what;
  enum myelon_frame_format f; /* -1: both */
  uint8_t flags;
  uint32_t len;   /* wire len in the header */
  uint16_t frag;
  uint32_t msg_id;
  uint32_t total; /* aligned: header word; compact START: prefix */
};

Test(frame_parse, rejects_impossible_headers)
{
  const uint32_t cap = 64;
  const struct bad_case cases[] = {
      {"len beyond capacity", (enum myelon_frame_format)-1, MYELON_FLAG_SINGLE, cap + 1, 0, 1, cap + 1},
      {"len 2^32-1", (enum myelon_frame_format)-1, 0, UINT32_MAX, 1, 1, 100},
      {"len beyond capacity, START", (enum myelon_frame_format)-1, MYELON_FLAG_START, cap + 5, 0, 1, 1000},
      {"msg_id 0", (enum myelon_frame_format)-1, MYELON_FLAG_SINGLE, 4, 0, 0, 4},
      {"msg_id 0, middle", (enum myelon_frame_format)-1, 0, 4, 1, 0, 0},
      {"unknown flag 0x04", (enum myelon_frame_format)-1, 0x04, 4, 1, 1, 100},
      {"unknown flag 0x80 with SINGLE", (enum myelon_frame_format)-1, 0x83, 4, 0, 1, 4},
      {"compact START shorter than its prefix (0)", MYELON_FRAME_COMPACT, MYELON_FLAG_START, 0, 0, 1, 100},
      {"compact START shorter than its prefix (3)", MYELON_FRAME_COMPACT, MYELON_FLAG_START, 3, 0, 1, 100},
      {"compact START total below its data", MYELON_FRAME_COMPACT, MYELON_FLAG_START, 24, 0, 1, 19},
      {"aligned START total below its data", MYELON_FRAME_ALIGNED, MYELON_FLAG_START, 40, 0, 1, 39},
      {"aligned middle total below its data", MYELON_FRAME_ALIGNED, 0, 40, 3, 1, 12},
      {"aligned SINGLE total differs from len (more)", MYELON_FRAME_ALIGNED, MYELON_FLAG_SINGLE, 10, 0, 1, 11},
      {"aligned SINGLE total differs from len (less)", MYELON_FRAME_ALIGNED, MYELON_FLAG_SINGLE, 10, 0, 1, 9},
      {"aligned SINGLE total 0 with data", MYELON_FRAME_ALIGNED, MYELON_FLAG_SINGLE, 10, 0, 1, 0},
      {"SINGLE with a fragment index", (enum myelon_frame_format)-1, MYELON_FLAG_SINGLE, 4, 3, 1, 4},
      {"START with a fragment index", (enum myelon_frame_format)-1, MYELON_FLAG_START, 20, 1, 1, 1000},
  };
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format f = fr_formats[fi];
    uint32_t size = fr_slot_size(f, cap);
    uint8_t *s = exact_slot(size);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      if ((int)cases[i].f >= 0 && cases[i].f != f)
        continue;
      memset(s, 0x5a, size);
      struct myelon_frame_header h = {cases[i].len, 1, cases[i].flags, cases[i].frag, cases[i].msg_id};
      memcpy(s, &h, sizeof h);
      memcpy(s + 12, &cases[i].total, 4); /* aligned total word, or compact prefix */
      struct myelon_frame_view v;
      int rc = parse(f, cap, s, &v);
      cr_assert(eq(int, rc, -MYELON_E_MALFORMED), "%s: %s accepted (rc %s)", fr_format_name(f), cases[i].what,
                myelon_err_name(rc));
    }
    free(s);
  }
}

Test(frame_parse, unknown_format_is_format_error)
{
  uint8_t s[64] = {0};
  myelon_frame_write(MYELON_FRAME_COMPACT, s, "x", 1, 0, MYELON_FLAG_SINGLE, 0, 1, 1);
  struct myelon_frame_view v;
  cr_assert(eq(int, parse((enum myelon_frame_format)9, 32, s, &v), -MYELON_E_FORMAT));
}

Test(frame_parse, accepts_edges)
{
  const uint32_t cap = 64;
  for (int fi = 0; fi < 2; fi++) {
    enum myelon_frame_format f = fr_formats[fi];
    uint32_t size = fr_slot_size(f, cap);
    uint8_t *s = exact_slot(size);
    uint8_t data[64] = {0};
    struct myelon_frame_view v;
    /* a full frame */
    fr_build(f, s, size, data, cap, 1, 0, 9, UINT32_MAX, 100000);
    cr_assert(eq(int, parse(f, cap, s, &v), 0));
    cr_assert(eq(u32, v.len, cap));
    cr_assert(eq(u32, v.msg_id, UINT32_MAX));
    /* a compact START that is only its prefix (0 data bytes) */
    if (f == MYELON_FRAME_COMPACT) {
      fr_build(f, s, size, NULL, 0, 1, MYELON_FLAG_START, 0, 5, 10);
      cr_assert(eq(int, parse(f, cap, s, &v), 0));
      cr_assert(eq(u32, v.len, 0));
      cr_assert(eq(u64, v.total, 10));
    }
    /* a stated total equal to the frame's data */
    fr_build(f, s, size, data, 20, 1, MYELON_FLAG_END, 2, 5, 20);
    cr_assert(eq(int, parse(f, cap, s, &v), 0));
    free(s);
  }
}

/* Seeded random bytes: parse never fails with anything but MALFORMED, and
 * what it accepts stays inside the slot and obeys the documented rules. */
Test(frame_parse, random_bytes_never_overread_and_accepted_views_are_sane)
{
  const uint32_t caps[] = {8, 9, 64, 100};
  uint64_t rng = 0x5eed;
  uint64_t accepted = 0;
  for (int fi = 0; fi < 2; fi++)
    for (size_t ci = 0; ci < 4; ci++) {
      enum myelon_frame_format f = fr_formats[fi];
      uint32_t size = fr_slot_size(f, caps[ci]);
      uint32_t cap = size - fr_hdr(f);
      uint8_t *s = exact_slot(size);
      for (int iter = 0; iter < 50000; iter++) {
        for (uint32_t k = 0; k < size; k++)
          s[k] = (uint8_t)(rng = frm_mix(rng));
        /* bias half of the cases towards plausible headers */
        if (iter & 1) {
          uint32_t len = (uint32_t)(frm_mix(rng + 1) % (cap + 3));
          uint32_t id = (uint32_t)(frm_mix(rng + 2) % 3);
          uint16_t frag = (uint16_t)(frm_mix(rng + 3) % 3);
          uint32_t total = (uint32_t)(frm_mix(rng + 4) % (3 * cap));
          s[5] &= 0x83;
          memcpy(s, &len, 4);
          memcpy(s + 6, &frag, 2);
          memcpy(s + 8, &id, 4);
          memcpy(s + 12, &total, 4);
        }
        struct myelon_frame_view v;
        int rc = parse(f, cap, s, &v);
        if (rc != 0) {
          cr_assert(eq(int, rc, -MYELON_E_MALFORMED));
          continue;
        }
        accepted++;
        cr_assert(eq(u8, v.flags & ~MYELON_FLAGS_KNOWN, 0));
        cr_assert(ne(u32, v.msg_id, 0));
        cr_assert(ge(ptr, (void *)v.data, (void *)(s + fr_hdr(f))));
        cr_assert(le(ptr, (void *)(v.data + v.len), (void *)(s + size)), "view runs past the slot");
        cr_assert(le(u32, v.len, cap));
        if (v.total)
          cr_assert(ge(u64, v.total, v.len));
        if ((v.flags & MYELON_FLAG_SINGLE) == MYELON_FLAG_SINGLE)
          cr_assert(eq(u64, v.total, v.len));
        if (v.flags & MYELON_FLAG_START)
          cr_assert(eq(u16, v.frag, 0));
        volatile uint8_t sink = 0;
        for (uint32_t k = 0; k < v.len; k++)
          sink ^= v.data[k]; /* touch every byte: ASan checks the bounds */
        (void)sink;
      }
      free(s);
    }
  cr_assert(lt(u64, 1000, accepted), "the fuzzer should reach the accepting paths");
}
