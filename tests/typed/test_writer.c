/* The direct msgpack writer (msgpack_codec.h: myelon_mp_put_*, and
 * myelon_msgpack_codec_init_writer): every put writes the bytes msgpack-c's
 * packer writes for the same call, at every boundary of the integer and
 * length forms; a counting writer counts them; a put that does not fit
 * writes nothing (the buffers are exactly their size, so ASan sees an
 * overrun) and fails every later put; the writer codec round-trips values
 * through real rings, encoded in the slot or fragmented. */
#include "typed_test.h"

#include <myelon/msgpack_codec.h>

TestSuite(mp_writer, .fini = tt_fini, .timeout = TT_TIMEOUT);

enum op { NIL, BOOL, UINT, INT, FIXU64, FLT, DBL, STR, BIN, MAP, ARR };

struct put {
  enum op op;
  uint64_t u;
  int64_t i;
  double d;
  uint32_t n;
};

static uint8_t body[70000];

static void pk_one(msgpack_packer *pk, const struct put *p)
{
  switch (p->op) {
  case NIL: msgpack_pack_nil(pk); break;
  case BOOL: p->u ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
  case UINT: msgpack_pack_uint64(pk, p->u); break;
  case INT: msgpack_pack_int64(pk, p->i); break;
  case FIXU64: msgpack_pack_fix_uint64(pk, p->u); break;
  case FLT: msgpack_pack_float(pk, (float)p->d); break;
  case DBL: msgpack_pack_double(pk, p->d); break;
  case STR: msgpack_pack_str_with_body(pk, body, p->n); break;
  case BIN: msgpack_pack_bin_with_body(pk, body, p->n); break;
  case MAP: msgpack_pack_map(pk, p->n); break;
  case ARR: msgpack_pack_array(pk, p->n); break;
  }
}

static int put_one(struct myelon_mp_writer *w, const struct put *p)
{
  switch (p->op) {
  case NIL: return myelon_mp_put_nil(w);
  case BOOL: return myelon_mp_put_bool(w, (int)p->u);
  case UINT: return myelon_mp_put_uint(w, p->u);
  case INT: return myelon_mp_put_int(w, p->i);
  case FIXU64: return myelon_mp_put_fix_uint64(w, p->u);
  case FLT: return myelon_mp_put_float(w, (float)p->d);
  case DBL: return myelon_mp_put_double(w, p->d);
  case STR: return myelon_mp_put_str(w, (const char *)body, p->n);
  case BIN: return myelon_mp_put_bin(w, body, p->n);
  case MAP: return myelon_mp_put_map(w, p->n);
  case ARR: return myelon_mp_put_array(w, p->n);
  }
  return -EINVAL;
}

static const struct put cases[] = {
    {NIL, 0, 0, 0, 0},
    {BOOL, 0, 0, 0, 0},
    {BOOL, 1, 0, 0, 0},
    {UINT, 0, 0, 0, 0},
    {UINT, 127, 0, 0, 0},
    {UINT, 128, 0, 0, 0},
    {UINT, 255, 0, 0, 0},
    {UINT, 256, 0, 0, 0},
    {UINT, 65535, 0, 0, 0},
    {UINT, 65536, 0, 0, 0},
    {UINT, UINT32_MAX, 0, 0, 0},
    {UINT, (uint64_t)UINT32_MAX + 1, 0, 0, 0},
    {UINT, UINT64_MAX, 0, 0, 0},
    {INT, 0, 0, 0, 0},
    {INT, 0, 5, 0, 0},
    {INT, 0, 200, 0, 0},
    {INT, 0, -1, 0, 0},
    {INT, 0, -32, 0, 0},
    {INT, 0, -33, 0, 0},
    {INT, 0, -128, 0, 0},
    {INT, 0, -129, 0, 0},
    {INT, 0, -32768, 0, 0},
    {INT, 0, -32769, 0, 0},
    {INT, 0, INT32_MIN, 0, 0},
    {INT, 0, (int64_t)INT32_MIN - 1, 0, 0},
    {INT, 0, INT64_MIN, 0, 0},
    {INT, 0, INT64_MAX, 0, 0},
    {FIXU64, 0, 0, 0, 0},
    {FIXU64, 0x0102030405060708u, 0, 0, 0},
    {FLT, 0, 0, 1.5, 0},
    {DBL, 0, 0, -2.25e300, 0},
    {STR, 0, 0, 0, 0},
    {STR, 0, 0, 0, 31},
    {STR, 0, 0, 0, 32},
    {STR, 0, 0, 0, 255},
    {STR, 0, 0, 0, 256},
    {STR, 0, 0, 0, 65535},
    {STR, 0, 0, 0, 65536},
    {BIN, 0, 0, 0, 0},
    {BIN, 0, 0, 0, 255},
    {BIN, 0, 0, 0, 256},
    {BIN, 0, 0, 0, 65535},
    {BIN, 0, 0, 0, 65536},
    {MAP, 0, 0, 0, 0},
    {MAP, 0, 0, 0, 15},
    {MAP, 0, 0, 0, 16},
    {MAP, 0, 0, 0, 65535},
    {MAP, 0, 0, 0, 65536},
    {ARR, 0, 0, 0, 15},
    {ARR, 0, 0, 0, 16},
    {ARR, 0, 0, 0, 65536},
};
#define NPUTS (sizeof cases / sizeof cases[0])

Test(mp_writer, every_put_writes_what_msgpack_c_packs_and_counting_counts_it)
{
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = (uint8_t)(i * 7 + 1);
  for (size_t k = 0; k < NPUTS; k++) {
    struct tt_pk p;
    tt_pk_init(&p);
    pk_one(&p.pk, &cases[k]);
    uint8_t *buf = malloc(p.sb.size); /* exactly the room it needs */
    cr_assert(ne(ptr, buf, NULL));
    struct myelon_mp_writer w;
    myelon_mp_writer_init(&w, buf, p.sb.size);
    cr_assert(eq(int, put_one(&w, &cases[k]), 0), "put %zu", k);
    cr_assert(eq(sz, myelon_mp_writer_len(&w, buf), p.sb.size), "put %zu: length", k);
    cr_assert(eq(int, memcmp(buf, p.sb.data, p.sb.size), 0), "put %zu: bytes differ from msgpack-c's", k);
    struct myelon_mp_writer c;
    myelon_mp_writer_count(&c);
    cr_assert(eq(int, put_one(&c, &cases[k]), 0));
    cr_assert(eq(sz, myelon_mp_writer_len(&c, NULL), p.sb.size), "put %zu: counted", k);
    free(buf);
    tt_pk_done(&p);
  }
}

Test(mp_writer, a_put_that_does_not_fit_writes_nothing_and_every_later_put_fails)
{
  for (size_t k = 0; k < NPUTS; k++) {
    struct tt_pk p;
    tt_pk_init(&p);
    pk_one(&p.pk, &cases[k]);
    size_t need = p.sb.size;
    tt_pk_done(&p);
    uint8_t *buf = malloc(need); /* one byte short of room, then a guard byte */
    cr_assert(ne(ptr, buf, NULL));
    buf[need - 1] = 0x5a;
    struct myelon_mp_writer w;
    myelon_mp_writer_init(&w, buf, need - 1);
    cr_assert(eq(int, put_one(&w, &cases[k]), -ENOSPC), "put %zu with one byte short", k);
    cr_assert(eq(int, w.full, 1));
    cr_assert(eq(sz, myelon_mp_writer_len(&w, buf), 0), "put %zu: nothing written", k);
    cr_assert(eq(u8, buf[need - 1], 0x5a), "put %zu wrote past its room", k);
    if (need > 1)
      cr_assert(eq(int, myelon_mp_put_nil(&w), -ENOSPC), "a later put that would fit fails too");
    free(buf);
  }
}

/* A callback type written with the writer: {"id": int, "name": str, "blob": bin}. */
struct wrec {
  int64_t id;
  char name[24];
  uint32_t blob_len;
  uint8_t blob[4000];
};

static int wrec_write(struct myelon_mp_writer *w, const void *value, void *user)
{
  (void)user;
  const struct wrec *r = value;
  if (r->blob_len > sizeof r->blob)
    return myelon_codec_fail("wrec", MYELON_CODEC_ENCODE, "blob_len %u above %zu", r->blob_len, sizeof r->blob);
  myelon_mp_put_map(w, 3);
  myelon_mp_put_str(w, "id", 2);
  myelon_mp_put_int(w, r->id);
  myelon_mp_put_str(w, "name", 4);
  myelon_mp_put_str(w, r->name, (uint32_t)strlen(r->name));
  myelon_mp_put_str(w, "blob", 4);
  return myelon_mp_put_bin(w, r->blob, r->blob_len);
}

static int wrec_unpack(const msgpack_object *o, void *value, void *user)
{
  (void)user;
  struct wrec *r = value;
  const msgpack_object *id = myelon_mp_map_get(o, "id"), *name = myelon_mp_map_get(o, "name"),
                       *blob = myelon_mp_map_get(o, "blob");
  if (!id || !name || !blob || name->type != MSGPACK_OBJECT_STR || blob->type != MSGPACK_OBJECT_BIN ||
      name->via.str.size >= sizeof r->name || blob->via.bin.size > sizeof r->blob)
    return myelon_codec_fail("wrec", MYELON_CODEC_DECODE, "not a wrec");
  r->id = id->via.i64;
  memcpy(r->name, name->via.str.ptr, name->via.str.size);
  memcpy(r->blob, blob->via.bin.ptr, blob->via.bin.size);
  r->blob_len = blob->via.bin.size;
  return 0;
}

static const struct myelon_mp_wtype wrec_type = {
    {"wrec", sizeof(struct wrec), NULL, NULL, wrec_unpack, NULL, 0, 0, NULL},
    wrec_write,
};

Test(mp_writer, writer_codec_round_trips_in_the_slot_and_fragmented)
{
  struct myelon_codec codec;
  cr_assert(eq(int, myelon_msgpack_codec_init_writer(&codec, &wrec_type), 0));
  for (int b = 0; b < TT_NBACKENDS; b++) {
    struct tt_pair t;
    tt_open(&t, tt_backends[b], MYELON_FRAME_COMPACT, 256, 32, &codec);
    static struct wrec r;
    static const uint32_t lens[] = {0, 10, 200, 3000, 4000};
    for (int i = 0; i < 5; i++) {
      memset(&r, 0, sizeof r);
      r.id = i % 2 ? -1000 * i : 1000 * i;
      snprintf(r.name, sizeof r.name, "rec-%d", i);
      r.blob_len = lens[i];
      for (uint32_t j = 0; j < r.blob_len; j++)
        r.blob[j] = (uint8_t)(j ^ (uint32_t)i);
      size_t n = 0, len = 0;
      static uint8_t enc[8192];
      cr_assert(eq(int, myelon_codec_size(&codec, &r, &n), 0));
      cr_assert(eq(int, myelon_codec_encode(&codec, &r, enc, sizeof enc, &len), 0));
      cr_assert(eq(sz, n, len), "size and encode agree");
      cr_assert(eq(int, myelon_codec_encode(&codec, &r, enc, len - 1, &len), -ENOSPC), "one byte short");
      struct myelon_typed_producer_stats before, after;
      myelon_typed_producer_stats(t.tp, &before);
      cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &r, 9, TT_LONG_NS), 0), "%s", dmp_last_error());
      myelon_typed_producer_stats(t.tp, &after);
      /* A byte ring takes every value whole, encoded into the producer
       * buffer and copied once (typed.h): never in the slot. */
      bool in_slot = n <= 256 && !tt_bytes();
      cr_assert(eq(u64, after.zero_copy - before.zero_copy, in_slot ? 1 : 0), "value %d: encoded in the slot", i);
      struct wrec *got = NULL;
      cr_assert(eq(int, myelon_typed_consumer_recv(t.tc, (void **)&got, NULL, TT_LONG_NS), 0), "%s",
                dmp_last_error());
      cr_assert(eq(i64, got->id, r.id));
      cr_assert(eq(str, got->name, r.name));
      cr_assert(eq(u32, got->blob_len, r.blob_len));
      cr_assert(eq(int, memcmp(got->blob, r.blob, r.blob_len), 0));
      myelon_codec_free(&codec, got);
    }
    r.blob_len = sizeof r.blob + 1; /* refused before anything is published */
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &r, 9, TT_LONG_NS), -MYELON_E_CODEC));
    void *none = NULL;
    cr_assert(eq(int, myelon_typed_consumer_try_recv(t.tc, &none, NULL), -EAGAIN), "nothing was published");
    tt_close(&t);
  }
}

Test(mp_writer, writer_types_are_checked_at_init)
{
  struct myelon_codec codec;
  struct myelon_mp_wtype t = wrec_type;
  t.write = NULL;
  cr_assert(eq(int, myelon_msgpack_codec_init_writer(&codec, &t), -EINVAL), "no write");
  t = wrec_type;
  t.base.unpack = NULL;
  cr_assert(eq(int, myelon_msgpack_codec_init_writer(&codec, &t), -EINVAL), "no unpack");
  t = wrec_type;
  t.base.desc = &tf_order_desc;
  cr_assert(eq(int, myelon_msgpack_codec_init_writer(&codec, &t), -EINVAL), "a field table");
  t = wrec_type;
  t.base.max_depth = MYELON_MP_MAX_DEPTH + 1;
  cr_assert(eq(int, myelon_msgpack_codec_init_writer(&codec, &t), -EINVAL), "max_depth");
  cr_assert(eq(int, myelon_msgpack_codec_init_writer(NULL, &wrec_type), -EINVAL));
  cr_assert(eq(int, myelon_msgpack_codec_init_writer(&codec, NULL), -EINVAL));
}
