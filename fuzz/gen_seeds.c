/* Seed generator for the fuzz corpora (fuzz/README.md, "Seeds").
 *
 *   fuzz-gen-seeds OUTDIR      (ninja -C BUILD fuzz-seeds: OUTDIR = fuzz/corpus)
 *
 * Writes OUTDIR/<target>/<name> for every target. Ring, table and counters
 * seeds are real images: the library creates a ring in /dev/shm, attaches
 * consumers, publishes, registers counters and logs an error, and the
 * seeds are the segment's bytes (removed again before exit). Frame seeds
 * are the slots a real framed producer wrote; msgpack seeds are msgpack-c
 * encodings. Rerun it after a layout change; it is not run by the build.
 * Epochs, pids and times in the images differ from run to run. */
#include "fuzz_types.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/codec.h>
#include <myelon/framed.h>
#include <myelon/journal.h>

static const char *out_dir;
static int failures;

static void put(const char *target, const char *name, const void *prefix, size_t plen, const void *data, size_t len)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", out_dir, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "mkdir %s: %s\n", path, strerror(errno));
    failures++;
    return;
  }
  snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
  FILE *f = fopen(path, "wb");
  if (!f || (plen && fwrite(prefix, 1, plen, f) != plen) || (len && fwrite(data, 1, len, f) != len)) {
    fprintf(stderr, "write %s: %s\n", path, strerror(errno));
    failures++;
  }
  if (f)
    fclose(f);
}

/* The bytes of /dev/shm/<name> (malloc'd), or NULL. */
static uint8_t *slurp_shm(const char *name, size_t *len)
{
  char path[512];
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    failures++;
    return NULL;
  }
  uint8_t *buf = malloc((size_t)st.st_size);
  if (buf && pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
    free(buf);
    buf = NULL;
  }
  close(fd);
  if (!buf)
    failures++;
  *len = (size_t)st.st_size;
  return buf;
}

/* ---- ring, table and counters images ----------------------------------- */

/* What fuzz_table.c reads after its prologue: header end to slot 0. */
static size_t table_end(const uint8_t *img)
{
  return (size_t)((const struct dmp_segment_header *)(const void *)img)->slots_offset;
}

static void ring_seeds(void)
{
  char name[64];
  snprintf(name, sizeof name, "fz-seed-%d", (int)getpid());
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = name;
  pc.capacity = 8;
  pc.slot_size = 32;
  pc.slot_align = 8;
  pc.max_consumers = 4;
  pc.type_tag = 0x1234;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&pc, &p);
  if (rc < 0) {
    fprintf(stderr, "dmp_producer_create: %s\n", dmp_last_error());
    failures++;
    return;
  }
  uint8_t mode0 = 0, mode1 = 1, table_pro[4] = {4 - 1, 3, 32 - 1, 3}; /* mc 4, cap 8, slot 32, align 8 */
  size_t len;
  uint8_t *img = slurp_shm(name, &len); /* fresh: no consumers */
  if (img) {
    put("segment", "fresh", &mode0, 1, img, len);
    put("table", "fresh", table_pro, 4, img + 128, table_end(img) - 128);
    free(img);
  }
  struct dmp_consumer_config cc;
  struct dmp_consumer *a = NULL, *b = NULL;
  dmp_consumer_config_init(&cc);
  cc.name = name;
  cc.id = "reader-a";
  if (dmp_consumer_attach(&cc, &a) < 0)
    failures++;
  cc.id = "durable-b";
  cc.flags = DMP_CONSUMER_DURABLE;
  if (dmp_consumer_attach(&cc, &b) < 0)
    failures++;
  for (int i = 0; i < 5; i++) {
    void *slot;
    if (dmp_producer_claim_timeout(p, &slot, 0) == 0) {
      memset(slot, 0x40 + i, 32);
      dmp_producer_publish(p);
    }
  }
  const void *ev;
  int64_t seq;
  for (int i = 0; a && i < 3 && dmp_consumer_try_peek(a, &ev, &seq) == 0; i++)
    dmp_consumer_release(a);
  dmp_consumer_close(b); /* durable: stays IDLE in the table */
  b = NULL;
  struct dmp_counters *cnt = dmp_producer_counters(p);
  struct dmp_counter c;
  if (cnt) {
    if (dmp_counters_register(cnt, DMP_COUNTER_USER + 1, "orders-seen", &c) >= 0)
      dmp_counter_add(c, 42);
    (void)dmp_counters_error(cnt, -5, "seed error %d", 1);
    (void)dmp_counters_error(cnt, -22, "another seed error");
  }
  img = slurp_shm(name, &len);
  if (img) {
    put("segment", "live", &mode0, 1, img, len);
    put("segment", "live-refingerprint", &mode1, 1, img, len);
    put("table", "live", table_pro, 4, img + 128, table_end(img) - 128);
    free(img);
  }
  char cnt_name[80];
  snprintf(cnt_name, sizeof cnt_name, "%s.cnt", name);
  img = cnt ? slurp_shm(cnt_name, &len) : NULL;
  if (img) {
    put("counters", "live", &mode0, 1, img, len);
    put("counters", "live-refingerprint", &mode1, 1, img, len);
    free(img);
  } else {
    fprintf(stderr, "no counters segment\n");
    failures++;
  }
  dmp_consumer_close(a);
  dmp_producer_close(p);
}

/* ---- frames -------------------------------------------------------------- */

static void frame_seed(enum myelon_frame_format fmt, uint32_t cap, const size_t *lens, size_t n, const char *seed)
{
  char name[64];
  snprintf(name, sizeof name, "fz-frames-%d", (int)getpid());
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = name;
  pc.ring.capacity = 64;
  pc.format = fmt;
  pc.frame_capacity = cap;
  struct myelon_producer *p = NULL;
  if (myelon_producer_create(&pc, &p) < 0) {
    fprintf(stderr, "myelon_producer_create: %s\n", dmp_last_error());
    failures++;
    return;
  }
  uint8_t msg[1024];
  for (size_t i = 0; i < sizeof msg; i++)
    msg[i] = (uint8_t)(i * 7 + 1);
  for (size_t i = 0; i < n; i++)
    if (myelon_producer_publish(p, msg, lens[i], (uint8_t)(i + 1), 0) < 0)
      failures++;
  int64_t published = dmp_producer_sequence(myelon_producer_ring(p)) + 1;
  size_t len;
  uint8_t *img = slurp_shm(name, &len);
  if (img) {
    const struct dmp_segment_header *h = (const void *)img;
    uint16_t max1 = 4095; /* max_message 4096 */
    uint8_t pro[4] = {(uint8_t)fmt, (uint8_t)(cap - MYELON_FRAME_MIN_CAPACITY), (uint8_t)(max1 & 0xff),
                      (uint8_t)(max1 >> 8)};
    put("frames", seed, pro, 4, img + h->slots_offset, (size_t)published * h->slot_stride);
    free(img);
  }
  myelon_producer_close(p);
}

static void frames_seeds(void)
{
  const size_t mixed[] = {0, 5, 16, 17, 60, 3};
  const size_t big[] = {200, 1};
  frame_seed(MYELON_FRAME_COMPACT, 16, mixed, 6, "compact-16-mixed");
  frame_seed(MYELON_FRAME_ALIGNED, 16, mixed, 6, "aligned-16-mixed");
  frame_seed(MYELON_FRAME_COMPACT, 64, big, 2, "compact-64-big");
  frame_seed(MYELON_FRAME_ALIGNED, 64, big, 2, "aligned-64-big");
  frame_seed(MYELON_FRAME_COMPACT, 8, mixed, 3, "compact-8-small");
}

/* ---- msgpack ------------------------------------------------------------- */

static void order_sample(struct fz_order *o, int k)
{
  memset(o, 0, sizeof *o);
  o->live = k & 1;
  o->i8 = (int8_t)(-100 + k);
  o->i16 = (int16_t)(-30000 + k);
  o->i32 = -2000000000 + k;
  o->id = INT64_MIN + k;
  o->u8 = (uint8_t)(250 + k);
  o->u16 = (uint16_t)(65000 + k);
  o->u32 = 4000000000u + (uint32_t)k;
  o->u64 = UINT64_MAX - (uint64_t)k;
  o->f32 = 1.5f * (float)k;
  o->px = 101.25 + k;
  snprintf(o->sym, sizeof o->sym, "SYM%d", k);
  o->tag_len = (uint32_t)(k % 9);
  memset(o->tag, 0xa5, o->tag_len);
  o->n_qty = (uint32_t)(k % (FZ_N + 1));
  for (uint32_t i = 0; i < o->n_qty; i++)
    o->qty[i] = (int32_t)(i * 10) - 5;
  o->n_names = (uint8_t)((k + 1) % (FZ_N + 1));
  for (uint8_t i = 0; i < o->n_names; i++)
    snprintf(o->names[i], sizeof o->names[i], "n%u", i);
  o->n_blobs = (uint64_t)((k + 2) % (FZ_N + 1));
  for (uint64_t i = 0; i < o->n_blobs; i++) {
    o->blobs[i].len = (uint16_t)(i + 1);
    memset(o->blobs[i].data, (int)i, o->blobs[i].len);
  }
  o->main_leg = (struct fz_leg){7, 99.5, "XNAS"};
  o->n_legs = (uint16_t)((k + 3) % (FZ_N + 1));
  for (uint16_t i = 0; i < o->n_legs; i++)
    o->legs[i] = (struct fz_leg){i, i * 0.5, "L"};
}

struct sbuf {
  uint8_t b[4096];
  size_t n;
};

static int sbuf_write(void *data, const char *buf, size_t len)
{
  struct sbuf *s = data;
  if (len > sizeof s->b - s->n)
    return -1;
  memcpy(s->b + s->n, buf, len);
  s->n += len;
  return 0;
}

static void mp_seeds(void)
{
  struct myelon_codec codec;
  if (myelon_msgpack_codec_init(&codec, &fz_order_type) < 0) {
    failures++;
    return;
  }
  for (int k = 0; k < 4; k++) {
    struct fz_order o;
    order_sample(&o, k);
    uint8_t buf[2048];
    size_t len = 0;
    if (myelon_codec_encode(&codec, &o, buf, sizeof buf, &len) < 0) {
      fprintf(stderr, "encode: %s\n", dmp_last_error());
      failures++;
      continue;
    }
    char seed[32];
    snprintf(seed, sizeof seed, "order-%d", k);
    put("mp_codec", seed, NULL, 0, buf, len);
    put("mp_parse", seed, NULL, 0, buf, len);
  }
  /* Every msgpack type and width, for the parser. */
  struct sbuf s = {{0}, 0};
  msgpack_packer pk;
  msgpack_packer_init(&pk, &s, sbuf_write);
  msgpack_pack_array(&pk, 24);
  msgpack_pack_nil(&pk);
  msgpack_pack_true(&pk);
  msgpack_pack_false(&pk);
  msgpack_pack_uint8(&pk, 200);
  msgpack_pack_uint16(&pk, 60000);
  msgpack_pack_uint32(&pk, 4000000000u);
  msgpack_pack_uint64(&pk, UINT64_MAX);
  msgpack_pack_int8(&pk, -100);
  msgpack_pack_int16(&pk, -30000);
  msgpack_pack_int32(&pk, INT32_MIN);
  msgpack_pack_int64(&pk, INT64_MIN);
  msgpack_pack_float(&pk, 1.25f);
  msgpack_pack_double(&pk, -2.5);
  msgpack_pack_str_with_body(&pk, "fixstr", 6);
  static const char long_str[300] = "a string longer than 255 bytes needs str16";
  msgpack_pack_str_with_body(&pk, long_str, sizeof long_str);
  msgpack_pack_bin_with_body(&pk, "\x01\x02\x03", 3);
  msgpack_pack_ext_with_body(&pk, "\x09", 1, 5);   /* fixext1 */
  msgpack_pack_ext_with_body(&pk, "abcdefghijklmnopq", 17, -3); /* ext8 */
  msgpack_pack_map(&pk, 1);
  msgpack_pack_str_with_body(&pk, "id", 2);
  msgpack_pack_int(&pk, 7);
  msgpack_pack_array(&pk, 0);
  msgpack_pack_map(&pk, 0);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_array(&pk, 0);
  msgpack_pack_int(&pk, -1);
  msgpack_pack_int(&pk, 127);
  put("mp_parse", "all-types", NULL, 0, s.b, s.n);
  uint8_t deep[40];
  memset(deep, 0x91, sizeof deep); /* 39 nested one-element arrays around nil */
  deep[sizeof deep - 1] = 0xc0;
  put("mp_parse", "deep", NULL, 0, deep, sizeof deep);
  uint8_t nil = 0xc0;
  put("mp_parse", "nil", NULL, 0, &nil, 1);
  /* The bench's 64 B record {"seq": u64, "ts": u64, "body": bin8 of 31},
   * whose keys the lazy view's get_keys matches by its in-order guess; and
   * a map with those keys out of order, one of 8 bytes, a nil between. */
  uint8_t rec[64] = {0x83, 0xa3, 's', 'e', 'q', 0xcf, 0, 0, 0, 0, 0, 0, 1, 2, 0xa2, 't', 's',
                     0xcf, 0x80, 0, 0, 0, 0, 0, 0, 9, 0xa4, 'b', 'o', 'd', 'y', 0xc4, 31};
  for (int i = 0; i < 31; i++)
    rec[33 + i] = (uint8_t)i;
  put("mp_parse", "record-64", NULL, 0, rec, sizeof rec);
  static const uint8_t reordered[] = {0x84, 0xa4, 'b', 'o', 'd', 'y', 0xc4, 3, 1, 2, 3, 0xa2, 't', 's', 0x05,
                                      0xa8, 's', 'e', 'q', 'u', 'e', 'n', 'c', 'e', 0xc0, 0xa3, 's', 'e', 'q',
                                      0xcd, 1, 0};
  put("mp_parse", "record-reordered", NULL, 0, reordered, sizeof reordered);
}

/* ---- fixed-layout views ---------------------------------------------------- */

static void fixed_seeds(void)
{
  struct myelon_fixed_type t;
  if (MYELON_FIXED_TYPE_INIT(&t, struct fz_tick, FZ_TICK_LAYOUT) < 0) {
    failures++;
    return;
  }
  struct myelon_codec codec;
  myelon_fixed_codec_init(&codec, &t);
  struct fz_tick tick;
  memset(&tick, 0, sizeof tick);
  tick.ts = 1700000000000000000;
  tick.px = 12.5;
  tick.qty = 300;
  tick.side = 1;
  uint8_t buf[64];
  size_t len = 0;
  if (myelon_codec_encode(&codec, &tick, buf, sizeof buf, &len) < 0) {
    failures++;
    return;
  }
  uint8_t shift0 = 0, shift4 = 4;
  put("fixed_view", "aligned", &shift0, 1, buf, len);
  put("fixed_view", "compact-4", &shift4, 1, buf, len);
  buf[8] ^= 1; /* another type's fingerprint */
  put("fixed_view", "other-type", &shift0, 1, buf, len);
}

/* Journal seeds: a part written by the real journal writer (records of
 * several sizes, one flagged after a gap), as a whole file (mode byte 1),
 * as records only (mode 0), and cut inside its last record; and a byte
 * ring's part (version 2, F_BYTES and its geometry) as a whole file. */
static void journal_seed(bool bytes)
{
  char dir[] = "/tmp/fuzz-journal-XXXXXX";
  if (!mkdtemp(dir)) {
    failures++;
    return;
  }
  char base[64], part[80];
  snprintf(base, sizeof base, "%s/j", dir);
  struct myelon_journal_writer_config c;
  myelon_journal_writer_config_init(&c);
  c.path = base;
  c.io = MYELON_JOURNAL_IO_PWRITE;
  c.buffer_size = 4096;
  c.info.kind = MYELON_JOURNAL_FRAMED;
  c.info.slot_size = 140;
  c.info.slot_align = 4;
  c.info.frame_capacity = 128;
  c.info.ring_capacity = 64;
  if (bytes) { /* a framed byte ring of 64 KiB, 64-byte blocks */
    c.info.frame_format = MYELON_FRAME_BYTES;
    c.info.flags = MYELON_JOURNAL_F_BYTES;
    c.info.slot_size = 64;
    c.info.slot_align = 64;
    c.info.frame_capacity = (1u << 15) - 32;
    c.info.ring_capacity = 1u << 16;
  }
  snprintf(c.info.ring_name, sizeof c.info.ring_name, "seed-ring");
  struct myelon_journal_writer *w = NULL;
  static const uint32_t lens[] = {0, 1, 7, 8, 9, 40, 200, 1000};
  uint8_t payload[1000];
  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t)(i * 37 + 11);
  int rc = myelon_journal_writer_open(&c, &w);
  for (size_t i = 0; rc == 0 && i < sizeof lens / sizeof lens[0]; i++) {
    struct myelon_journal_record r = {.data = payload, .len = lens[i], .kind = (uint8_t)i,
                                      .flags = i == 5 ? MYELON_JREC_F_GAP : 0, .msg_id = (uint32_t)i + 1,
                                      .seq = i, .realtime_ns = 1700000000000000000 + (int64_t)i,
                                      .mono_ns = (int64_t)i * 1000};
    rc = myelon_journal_writer_append(w, &r);
  }
  if (myelon_journal_writer_close(w, NULL) != 0 || rc != 0 ||
      myelon_journal_part_path(base, 1, part, sizeof part) != 0) {
    failures++;
  } else {
    FILE *f = fopen(part, "rb");
    uint8_t img[8192];
    size_t len = f ? fread(img, 1, sizeof img, f) : 0;
    if (f)
      fclose(f);
    uint8_t whole = 1, records = 0;
    if (len <= MYELON_JOURNAL_HEADER_SIZE + 1000) {
      failures++;
    } else {
      if (bytes) {
        put("journal", "bytes-part", &whole, 1, img, len);
      } else {
        put("journal", "part", &whole, 1, img, len);
        put("journal", "records", &records, 1, img + MYELON_JOURNAL_HEADER_SIZE, len - MYELON_JOURNAL_HEADER_SIZE);
        put("journal", "torn", &whole, 1, img, len - 500);
      }
    }
    unlink(part);
  }
  rmdir(dir);
}

static void journal_seeds(void)
{
  journal_seed(false);
  journal_seed(true);
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "mkdir %s: %s\n", out_dir, strerror(errno));
    return 1;
  }
  ring_seeds();
  frames_seeds();
  mp_seeds();
  fixed_seeds();
  journal_seeds();
  if (failures)
    fprintf(stderr, "%d seeds failed\n", failures);
  return failures ? 1 : 0;
}
