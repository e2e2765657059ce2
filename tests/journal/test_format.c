/* Journal format (journal.h): CRC32C vectors and hardware/software
 * agreement, file header and record round trips, and the pure parsers'
 * verdicts on cut, damaged, foreign and random bytes. */
#include "jnl.h"

TestSuite(journal_format, .fini = jn_fini, .timeout = 60);

/* ---- CRC32C ------------------------------------------------------------ */

struct crc_vec {
  const char *name;
  uint8_t data[48];
  size_t len;
  uint32_t crc;
};

Test(journal_format, crc32c_matches_the_published_vectors)
{
  /* "123456789" is the standard check value; the 32-byte vectors are RFC 3720 (iSCSI) B.4. */
  struct crc_vec v[5];
  memset(v, 0, sizeof v);
  v[0] = (struct crc_vec){"check", {0}, 9, 0xE3069283u};
  memcpy(v[0].data, "123456789", 9);
  v[1] = (struct crc_vec){"32 zeros", {0}, 32, 0x8A9136AAu};
  v[2] = (struct crc_vec){"32 ones", {0}, 32, 0x62A8AB43u};
  memset(v[2].data, 0xff, 32);
  v[3] = (struct crc_vec){"0..31", {0}, 32, 0x46DD794Eu};
  v[4] = (struct crc_vec){"31..0", {0}, 32, 0x113FDB5Cu};
  for (int k = 0; k < 32; k++) {
    v[3].data[k] = (uint8_t)k;
    v[4].data[k] = (uint8_t)(31 - k);
  }
  for (size_t k = 0; k < 5; k++) {
    cr_assert(eq(u32, myelon_crc32c(0, v[k].data, v[k].len), v[k].crc), "%s (dispatching, hw=%d)", v[k].name,
              myelon_crc32c_hw());
    cr_assert(eq(u32, myelon_crc32c_sw(0, v[k].data, v[k].len), v[k].crc), "%s (software)", v[k].name);
  }
  cr_assert(eq(u32, myelon_crc32c(0, NULL, 0), 0u), "empty input");
}

Test(journal_format, crc32c_hardware_and_software_agree_on_every_length_and_alignment)
{
  static uint8_t buf[3 * 8192 + 3 * 256 + 300]; /* long and short three-stream blocks, and the rest */
  uint64_t x = 42;
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)(x = jp_mix(x));
  for (size_t off = 0; off < 9; off++)
    for (size_t len = 0; len + off <= sizeof buf; len += (len < 80 ? 1 : len < 2000 ? 37 : 997)) {
      uint32_t a = myelon_crc32c(0, buf + off, len), b = myelon_crc32c_sw(0, buf + off, len);
      cr_assert(eq(u32, a, b), "offset %zu length %zu (hw=%d)", off, len, myelon_crc32c_hw());
    }
  static const size_t edges[] = {767, 768, 769, 775, 776, 1024, 1535, 1536, 24575, 24576, 24577, 24576 + 768,
                                 24576 + 767};
  for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++)
    for (size_t off = 0; off < 9; off++)
      cr_assert(eq(u32, myelon_crc32c(0, buf + off, edges[k]), myelon_crc32c_sw(0, buf + off, edges[k])),
                "offset %zu length %zu", off, edges[k]);
}

Test(journal_format, crc32c_chains_across_calls)
{
  const char *s = "123456789";
  for (size_t cut = 0; cut <= 9; cut++) {
    uint32_t c = myelon_crc32c(myelon_crc32c(0, s, cut), s + cut, 9 - cut);
    cr_assert(eq(u32, c, 0xE3069283u), "cut at %zu", cut);
    c = myelon_crc32c_sw(myelon_crc32c_sw(0, s, cut), s + cut, 9 - cut);
    cr_assert(eq(u32, c, 0xE3069283u), "software, cut at %zu", cut);
  }
}

/* ---- file header ------------------------------------------------------- */

static struct myelon_journal_info sample_info(void)
{
  struct myelon_journal_info in;
  memset(&in, 0, sizeof in);
  in.kind = MYELON_JOURNAL_FRAMED;
  in.frame_format = MYELON_FRAME_ALIGNED;
  in.slot_size = 272;
  in.slot_align = 16;
  in.frame_capacity = 256;
  in.flags = MYELON_JOURNAL_F_NON_GATING;
  in.ring_capacity = 1024;
  in.ring_epoch = 0x1122334455667788u;
  in.type_tag = 0xabcdefu;
  in.created_ns = 1700000000123456789;
  in.recording_id = 0x55aa55aa12345678u;
  in.part = 7;
  in.ring_backend = DMP_BACKEND_MMAP;
  snprintf(in.ring_name, sizeof in.ring_name, "/tmp/some/ring");
  return in;
}

Test(journal_format, header_round_trips_every_field)
{
  struct myelon_journal_info in = sample_info(), out;
  uint8_t buf[MYELON_JOURNAL_HEADER_SIZE];
  cr_assert(eq(int, myelon_journal_header_encode(&in, buf), 0));
  cr_assert(eq(int, memcmp(buf, "MYELJRNL", 8), 0), "magic bytes");
  memset(&out, 0xee, sizeof out);
  cr_assert(eq(int, myelon_journal_header_parse(buf, sizeof buf, &out), 0), "%s", dmp_last_error());
  cr_assert(eq(int, memcmp(&in, &out, sizeof in), 0), "every field survives");
}

Test(journal_format, header_reports_short_foreign_newer_and_damaged_bytes)
{
  struct myelon_journal_info in = sample_info(), out;
  uint8_t buf[MYELON_JOURNAL_HEADER_SIZE];
  myelon_journal_header_encode(&in, buf);
  for (size_t n = 0; n < sizeof buf; n++)
    cr_assert(eq(int, myelon_journal_header_parse(buf, n, &out), -MYELON_E_TORN), "cut at %zu", n);
  uint8_t bad[MYELON_JOURNAL_HEADER_SIZE];
  memcpy(bad, buf, sizeof bad);
  bad[0] ^= 1;
  cr_assert(eq(int, myelon_journal_header_parse(bad, sizeof bad, &out), -MYELON_E_JCORRUPT), "bad magic");
  memcpy(bad, buf, sizeof bad);
  uint32_t v3 = 3;
  memcpy(bad + 8, &v3, 4);
  cr_assert(eq(int, myelon_journal_header_parse(bad, sizeof bad, &out), -MYELON_E_JVERSION), "version 3");
  cr_assert(eq(int, myelon_journal_header_parse(bad, 20, &out), -MYELON_E_JVERSION), "version 3, cut short");
  for (size_t k = 12; k < sizeof buf; k++) {
    memcpy(bad, buf, sizeof bad);
    bad[k] ^= 0x10;
    cr_assert(eq(int, myelon_journal_header_parse(bad, sizeof bad, &out), -MYELON_E_JCORRUPT), "byte %zu flipped", k);
  }
  cr_assert(eq(int, myelon_journal_header_parse(NULL, 0, &out), -EINVAL));
  in.part = 0;
  cr_assert(eq(int, myelon_journal_header_encode(&in, buf), -EINVAL), "part 0 cannot be encoded");
}

/* ---- records ----------------------------------------------------------- */

Test(journal_format, records_round_trip_at_every_small_length)
{
  uint8_t payload[300], buf[400];
  for (uint32_t len = 0; len <= 300; len++) {
    struct myelon_journal_record r = jn_rec(7, len, 300, payload), out;
    r.len = len;
    jp_fill(payload, len, 7, len);
    int size = myelon_journal_record_encode(buf, sizeof buf, &r);
    cr_assert(eq(int, size, (int)myelon_journal_record_size(len)), "length %u", len);
    cr_assert(eq(int, size % 8, 0));
    memset(&out, 0, sizeof out);
    cr_assert(eq(int, myelon_journal_record_parse(buf, (size_t)size, &out), size), "length %u", len);
    cr_assert(eq(u32, out.len, len));
    cr_assert(eq(u64, out.seq, r.seq));
    cr_assert(eq(i64, out.realtime_ns, r.realtime_ns));
    cr_assert(eq(i64, out.mono_ns, r.mono_ns));
    cr_assert(eq(u32, out.msg_id, r.msg_id));
    cr_assert(eq(u8, out.kind, r.kind));
    cr_assert(eq(int, memcmp(out.data, payload, len), 0));
    cr_assert(eq(ptr, (void *)out.data, buf + MYELON_JOURNAL_RECORD_HEADER), "data points into the buffer");
  }
}

Test(journal_format, encode_refuses_small_buffers_and_bad_records)
{
  uint8_t payload[64], buf[200];
  struct myelon_journal_record r = jn_rec(1, 1, 64, payload);
  memset(buf, 0x5a, sizeof buf);
  cr_assert(eq(int, myelon_journal_record_encode(buf, 48 + 63, &r), -ENOSPC));
  cr_assert(eq(u8, buf[0], 0x5a), "nothing written on -ENOSPC");
  r.flags = 0x80;
  cr_assert(eq(int, myelon_journal_record_encode(buf, sizeof buf, &r), -EINVAL), "unknown flags");
  r.flags = 0;
  r.len = MYELON_JOURNAL_MAX_PAYLOAD + 1;
  cr_assert(eq(int, myelon_journal_record_encode(buf, sizeof buf, &r), -EINVAL), "payload too big");
}

Test(journal_format, a_record_cut_anywhere_is_torn_never_corrupt)
{
  uint8_t payload[100], buf[200];
  struct myelon_journal_record r = jn_rec(3, 1, 100, payload), out;
  int size = myelon_journal_record_encode(buf, sizeof buf, &r);
  cr_assert(size > 0, "encode returned %d", size);
  for (int n = 1; n < size; n++)
    cr_assert(eq(int, myelon_journal_record_parse(buf, (size_t)n, &out), -MYELON_E_TORN), "cut at %d", n);
}

Test(journal_format, any_flipped_bit_is_corrupt)
{
  uint8_t payload[100], buf[200], bad[200];
  struct myelon_journal_record r = jn_rec(3, 1, 100, payload), out;
  r.len = 99; /* leaves padding to damage too */
  int size = myelon_journal_record_encode(buf, sizeof buf, &r);
  for (int k = 0; k < size; k++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(bad, buf, (size_t)size);
      bad[k] ^= (uint8_t)(1u << bit);
      int rc = myelon_journal_record_parse(bad, (size_t)size, &out);
      /* A flipped length bit can announce a longer record: the header CRC
       * catches it first, so it is corrupt too, never torn. */
      cr_assert(eq(int, rc, -MYELON_E_JCORRUPT), "byte %d bit %d: %d", k, bit, rc);
    }
}

Test(journal_format, random_bytes_never_crash_the_parsers)
{
  uint8_t buf[512];
  uint64_t x = 0x5eed;
  struct myelon_journal_record out;
  struct myelon_journal_info info;
  uint32_t magic = MYELON_JOURNAL_RECORD_MAGIC;
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = (size_t)((x = jp_mix(x)) % sizeof buf);
    for (size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)(x = jp_mix(x));
    if (len >= 4 && (x & 1))
      memcpy(buf, &magic, 4); /* get past the first check often */
    int rc = myelon_journal_record_parse(buf, len, &out);
    cr_assert(rc == -MYELON_E_TORN || rc == -MYELON_E_JCORRUPT || (rc > 0 && (size_t)rc <= len),
              "iteration %d: rc %d", iter, rc);
    rc = myelon_journal_header_parse(buf, len, &info);
    cr_assert(rc == -MYELON_E_TORN || rc == -MYELON_E_JCORRUPT || rc == -MYELON_E_JVERSION || rc == 0,
              "iteration %d: header rc %d", iter, rc);
  }
}

Test(journal_format, part_paths_are_numbered_from_0001)
{
  char out[64];
  cr_assert(eq(int, myelon_journal_part_path("a/b", 1, out, sizeof out), 0));
  cr_assert(eq(str, out, "a/b.0001"));
  cr_assert(eq(int, myelon_journal_part_path("a/b", 9999, out, sizeof out), 0));
  cr_assert(eq(str, out, "a/b.9999"));
  cr_assert(eq(int, myelon_journal_part_path("a/b", 0, out, sizeof out), -EINVAL));
  cr_assert(eq(int, myelon_journal_part_path("a/b", 10000, out, sizeof out), -EINVAL));
  cr_assert(eq(int, myelon_journal_part_path("a/b", 1, out, 5), -ENAMETOOLONG));
}

/* ---- version 2: a byte ring's journal ---------------------------------- */

static struct myelon_journal_info bytes_info(bool framed)
{
  struct myelon_journal_info in = sample_info();
  in.kind = framed ? MYELON_JOURNAL_FRAMED : MYELON_JOURNAL_RAW;
  in.frame_format = framed ? MYELON_FRAME_BYTES : 0;
  in.flags = MYELON_JOURNAL_F_BYTES;
  in.slot_size = 64;
  in.slot_align = 64;
  in.ring_capacity = 1u << 20;           /* bytes */
  in.frame_capacity = framed ? (1u << 19) - 32 : (1u << 19) - 16; /* the largest record */
  return in;
}

/* Set a field of an encoded header and fix its CRC: only the field check
 * can then refuse it. */
static void patch(uint8_t *h, size_t off, const void *v, size_t n)
{
  memcpy(h + off, v, n);
  uint32_t crc = myelon_crc32c(0, h, 252);
  memcpy(h + 252, &crc, 4);
}

/* journal.h: a byte ring's journal is version 2 with F_BYTES and its
 * geometry; a slot ring's stays version 1 (readers before 0.5 read it).
 * Every field round-trips; the version and the flag must agree. */
Test(journal_format, byte_ring_headers_are_version_2_and_slot_ring_headers_stay_version_1)
{
  for (int framed = 0; framed < 2; framed++) {
    struct myelon_journal_info in = bytes_info(framed), out;
    uint8_t buf[MYELON_JOURNAL_HEADER_SIZE];
    cr_assert(eq(int, myelon_journal_header_encode(&in, buf), 0));
    uint32_t v;
    memcpy(&v, buf + 8, 4);
    cr_assert(eq(u32, v, 2), "version 2 at offset 8");
    memset(&out, 0xee, sizeof out);
    cr_assert(eq(int, myelon_journal_header_parse(buf, sizeof buf, &out), 0), "%s", dmp_last_error());
    cr_assert(eq(int, memcmp(&in, &out, sizeof in), 0), "every field survives");
    /* Version 2 without the flag, and the flag in version 1: refused. */
    uint8_t bad[MYELON_JOURNAL_HEADER_SIZE];
    memcpy(bad, buf, sizeof bad);
    uint32_t one = 1;
    patch(bad, 8, &one, 4);
    cr_assert(eq(int, myelon_journal_header_parse(bad, sizeof bad, &out), -MYELON_E_JCORRUPT), "F_BYTES in version 1");
    memcpy(bad, buf, sizeof bad);
    uint32_t noflag = 0;
    patch(bad, 36, &noflag, 4);
    cr_assert(eq(int, myelon_journal_header_parse(bad, sizeof bad, &out), -MYELON_E_JCORRUPT), "version 2 without F_BYTES");
  }
  struct myelon_journal_info slot = sample_info();
  uint8_t buf[MYELON_JOURNAL_HEADER_SIZE];
  cr_assert(eq(int, myelon_journal_header_encode(&slot, buf), 0));
  uint32_t v;
  memcpy(&v, buf + 8, 4);
  cr_assert(eq(u32, v, MYELON_JOURNAL_VERSION_SLOTS), "a slot ring's journal stays version 1");
  /* A frame format the version does not have cannot be encoded. */
  slot.frame_format = MYELON_FRAME_BYTES;
  cr_assert(eq(int, myelon_journal_header_encode(&slot, buf), -EINVAL), "MYELON_FRAME_BYTES needs F_BYTES");
  struct myelon_journal_info b = bytes_info(true);
  b.frame_format = MYELON_FRAME_ALIGNED;
  cr_assert(eq(int, myelon_journal_header_encode(&b, buf), -EINVAL), "a framed byte ring's journal is BYTES");
}

/* The geometry of a version 2 header is checked: block a power of two in
 * [16, 4096] equal to slot_align, ring a power of two of two blocks or
 * more, largest record within half the ring. */
Test(journal_format, byte_ring_geometry_out_of_bounds_is_corrupt)
{
  struct {
    size_t off, n;
    uint64_t v;
    const char *what;
  } cases[] = {
      {24, 4, 48, "block not a power of two"},
      {24, 4, 8, "block below 16"},
      {24, 4, 8192, "block above 4096"},
      {28, 4, 32, "slot_align other than the block"},
      {40, 8, 3u << 18, "ring not a power of two"},
      {40, 8, 64, "ring of one block"},
      {32, 4, (1u << 19) - 15, "largest record above half the ring"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    struct myelon_journal_info in = bytes_info(false), out;
    uint8_t buf[MYELON_JOURNAL_HEADER_SIZE];
    cr_assert(eq(int, myelon_journal_header_encode(&in, buf), 0));
    patch(buf, cases[k].off, &cases[k].v, cases[k].n);
    cr_assert(eq(int, myelon_journal_header_parse(buf, sizeof buf, &out), -MYELON_E_JCORRUPT), "%s", cases[k].what);
    cr_assert(ne(ptr, strstr(dmp_last_error(), "byte ring"), NULL), "%s: %s", cases[k].what, dmp_last_error());
  }
  /* Framed: the frame header counts too (half the ring less 32). */
  struct myelon_journal_info in = bytes_info(true), out;
  uint8_t buf[MYELON_JOURNAL_HEADER_SIZE];
  cr_assert(eq(int, myelon_journal_header_encode(&in, buf), 0));
  uint32_t over = (1u << 19) - 31;
  patch(buf, 32, &over, 4);
  cr_assert(eq(int, myelon_journal_header_parse(buf, sizeof buf, &out), -MYELON_E_JCORRUPT));
}

/* An older reader's check, as 0.4's journal.c made it (version != 1:
 * MYELON_E_JVERSION, before anything else is read): it refuses every
 * header this library writes for a byte ring, and accepts the version of
 * every slot ring's. The check is copied here, not linked: this library
 * no longer contains it. */
static int v1_reader_verdict(const uint8_t *buf)
{
  uint32_t version;
  memcpy(&version, buf + 8, 4);
  return version != 1 ? -MYELON_E_JVERSION : 0;
}

Test(journal_format, a_version_1_reader_refuses_a_byte_ring_journal_cleanly)
{
  uint8_t buf[MYELON_JOURNAL_HEADER_SIZE];
  for (int framed = 0; framed < 2; framed++) {
    struct myelon_journal_info in = bytes_info(framed);
    cr_assert(eq(int, myelon_journal_header_encode(&in, buf), 0));
    cr_assert(eq(int, v1_reader_verdict(buf), -MYELON_E_JVERSION));
  }
  struct myelon_journal_info slot = sample_info();
  cr_assert(eq(int, myelon_journal_header_encode(&slot, buf), 0));
  cr_assert(eq(int, v1_reader_verdict(buf), 0));
}
