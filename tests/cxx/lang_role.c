/*
 * lang_role: one producer or consumer of a ring, written in the common
 * subset of C11 and C++17 so that the same file builds as a C program
 * (lang-role-c) and, through lang_role.cpp, as a C++ program
 * (lang-role-cxx17, lang-role-cxx20). tests/cxx/run_pairs.py runs every
 * producer against every consumer in separate processes, so a C++ build of
 * the inline hot path (claim, publish, peek, release: producer.h,
 * consumer.h) and of the msgpack field tables meets a C build on one ring.
 *
 *   lang-role LAYER ROLE NAME COUNT
 *     LAYER  raw     Layer 0 ring of struct lang_tick (DMP_DECLARE_TYPED)
 *            framed  Layer 1 messages of 0..3000 bytes (several frames)
 *            typed   Layers 2-3: struct lang_order through the msgpack codec,
 *                    received as owned values and as zero-copy views
 *            framed-bytes, typed-bytes
 *                    the same on a framed byte ring (MYELON_FRAME_BYTES of
 *                    LANG_RING_BYTES): every message one record, whole
 *            stream  (produce only) COUNT messages of 1 KiB as fast as the
 *                    consumer takes them: bench/python/pybench.py's C producer
 *     ROLE   produce | consume
 *
 * The producer creates the ring, waits (bounded) for one consumer, sends
 * COUNT values whose contents derive from their index, and closes (which
 * removes the segment). The consumer attaches (bounded retry), checks every
 * value and its order, and exits 0 only if all COUNT arrived intact.
 * Every wait is bounded (10 s); a failure prints what and exits 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/myelon.h>

#ifdef __cplusplus
#define LANG_NAME "C++"
#else
#define LANG_NAME "C"
#endif

#define SECOND INT64_C(1000000000)
#define WAIT (10 * SECOND)

static const char *lang_layer, *lang_role;
/* framed-bytes / typed-bytes: the ring is a framed byte ring */
static bool lang_bytes;
/* 64 KiB: messages up to 32 KiB - 32, the largest here 3000 bytes */
#define LANG_RING_BYTES (UINT64_C(64) << 10)

static void lang_shape_producer(struct myelon_producer_config *cfg)
{
  if (lang_bytes) {
    cfg->format = MYELON_FRAME_BYTES;
    cfg->ring_bytes = LANG_RING_BYTES;
  }
}

static void lang_shape_consumer(struct myelon_consumer_config *cfg)
{
  if (lang_bytes)
    cfg->format = MYELON_FRAME_BYTES;
}

static int fail(const char *what, int rc)
{
  fprintf(stderr, "lang-role[%s %s %s]: %s: %s (%s)\n", LANG_NAME, lang_layer, lang_role, what,
          rc ? dmp_strerror(rc) : "check failed", dmp_last_error());
  return 1;
}

static uint64_t mix(uint64_t x)
{
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  return x;
}

/* ---- Layer 0: a ring of one struct ---------------------------------------- */

struct lang_tick {
  int64_t n;
  double px;
  uint64_t check;
};
/* The type tag is derived from the spelling "struct lang_tick": C++ code
 * names the type the same way so that both languages agree on it. */
DMP_DECLARE_TYPED(lang_tick, struct lang_tick);

static int raw_produce(const char *name, int64_t count)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.name = name;
  cfg.capacity = 64; /* small: the producer wraps and waits for the consumer */
  lang_tick_producer_config(&cfg);
  cfg.wait_consumers = 1;
  cfg.wait_timeout_ns = WAIT;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0)
    return fail("dmp_producer_create", rc);
  for (int64_t i = 0; i < count; i++) {
    struct lang_tick *t = NULL;
    rc = lang_tick_claim_timeout(p, &t, WAIT);
    if (rc < 0) {
      dmp_producer_close(p);
      return fail("claim", rc);
    }
    t->n = i;
    t->px = 0.5 * (double)i;
    t->check = mix((uint64_t)i);
    dmp_producer_publish(p);
  }
  dmp_producer_close(p);
  return 0;
}

static int raw_consume(const char *name, int64_t count)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.name = name;
  cfg.id = "lang";
  lang_tick_consumer_config(&cfg);
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach_timeout(&cfg, WAIT, &c);
  if (rc < 0)
    return fail("dmp_consumer_attach_timeout", rc);
  for (int64_t i = 0; i < count; i++) {
    const struct lang_tick *t = NULL;
    int64_t seq = -1;
    rc = lang_tick_peek_timeout(c, &t, &seq, WAIT);
    if (rc < 0)
      break;
    if (seq != i || t->n != i || t->px != 0.5 * (double)i || t->check != mix((uint64_t)i)) {
      fprintf(stderr, "event %" PRId64 ": seq %" PRId64 " n %" PRId64 "\n", i, seq, t->n);
      rc = -1;
      break;
    }
    dmp_consumer_release(c);
  }
  dmp_consumer_close(c);
  return rc < 0 ? fail("peek", rc == -1 ? 0 : rc) : 0;
}

/* ---- Layer 1: framed messages --------------------------------------------- */

static size_t framed_len(int64_t i) { return (size_t)((i * 131) % 3001); }

static void framed_fill(uint8_t *buf, size_t len, int64_t i)
{
  for (size_t k = 0; k < len; k++)
    buf[k] = (uint8_t)(mix((uint64_t)i) + k);
}

static int framed_produce(const char *name, int64_t count)
{
  struct myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.capacity = 64;
  cfg.ring.wait_consumers = 1;
  cfg.ring.wait_timeout_ns = WAIT;
  lang_shape_producer(&cfg);
  struct myelon_producer *p = NULL;
  int rc = myelon_producer_create(&cfg, &p);
  if (rc < 0)
    return fail("myelon_producer_create", rc);
  uint8_t buf[3001];
  for (int64_t i = 0; i < count && rc >= 0; i++) {
    size_t len = framed_len(i);
    framed_fill(buf, len, i);
    rc = myelon_producer_publish(p, buf, len, (uint8_t)(i % 251), WAIT);
  }
  myelon_producer_close(p);
  return rc < 0 ? fail("myelon_producer_publish", rc) : 0;
}

static int framed_consume(const char *name, int64_t count)
{
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.id = "lang";
  lang_shape_consumer(&cfg);
  struct myelon_consumer *c = NULL;
  int rc = myelon_consumer_attach_timeout(&cfg, WAIT, &c);
  if (rc < 0)
    return fail("myelon_consumer_attach_timeout", rc);
  uint8_t want[3001];
  for (int64_t i = 0; i < count; i++) {
    struct myelon_msg m;
    rc = myelon_consumer_recv(c, &m, WAIT);
    if (rc < 0)
      break;
    size_t len = framed_len(i);
    framed_fill(want, len, i);
    if (m.len != len || m.kind != (uint8_t)(i % 251) || (len && memcmp(m.data, want, len) != 0)) {
      fprintf(stderr, "message %" PRId64 ": len %zu (want %zu) kind %u\n", i, m.len, len, (unsigned)m.kind);
      rc = -1;
      break;
    }
    myelon_consumer_release(c);
  }
  myelon_consumer_close(c);
  return rc < 0 ? fail("myelon_consumer_recv", rc == -1 ? 0 : rc) : 0;
}

/* The bench's C producer: 1 KiB messages, one frame each (zero-copy on
 * the consumer's side), the message number in the first 8 bytes. */
static int stream_produce(const char *name, int64_t count)
{
  struct myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.capacity = 1024;
  cfg.frame_capacity = 1024;
  cfg.ring.wait_consumers = 1;
  cfg.ring.wait_timeout_ns = WAIT;
  struct myelon_producer *p = NULL;
  int rc = myelon_producer_create(&cfg, &p);
  if (rc < 0)
    return fail("myelon_producer_create", rc);
  uint8_t buf[1024];
  memset(buf, 0x5a, sizeof buf);
  for (int64_t i = 0; i < count && rc >= 0; i++) {
    memcpy(buf, &i, sizeof i);
    rc = myelon_producer_publish(p, buf, sizeof buf, 1, WAIT);
  }
  myelon_producer_close(p);
  return rc < 0 ? fail("myelon_producer_publish", rc) : 0;
}

/* ---- Layers 2-3: msgpack-typed values --------------------------------------- */

struct lang_order {
  int64_t id;
  double px;
  uint32_t qty;
  bool buy;
  char sym[16];
  int32_t fills[4];
  uint32_t n_fills;
};
static const struct myelon_mp_field lang_order_fields[] = {
  MYELON_MP_NUM(struct lang_order, id),   MYELON_MP_NUM(struct lang_order, px),
  MYELON_MP_NUM(struct lang_order, qty),  MYELON_MP_NUM(struct lang_order, buy),
  MYELON_MP_STR(struct lang_order, sym),  MYELON_MP_NUM_ARRAY(struct lang_order, fills, n_fills),
};
static const struct myelon_mp_struct lang_order_desc = MYELON_MP_STRUCT(struct lang_order, lang_order_fields);
static const struct myelon_mp_type lang_order_type = MYELON_MP_TYPE_DESC(lang_order_desc);

static void order_make(struct lang_order *o, int64_t i)
{
  memset(o, 0, sizeof *o);
  o->id = i;
  o->px = 100.0 + 0.25 * (double)i;
  o->qty = (uint32_t)(i * 7);
  o->buy = (i & 1) != 0;
  snprintf(o->sym, sizeof o->sym, "S%" PRId64, i % 1000);
  o->n_fills = (uint32_t)(i % 5);
  for (uint32_t k = 0; k < o->n_fills; k++)
    o->fills[k] = (int32_t)(i - (int64_t)k);
}

static bool order_same(const struct lang_order *a, const struct lang_order *b)
{
  if (a->id != b->id || a->px != b->px || a->qty != b->qty || a->buy != b->buy || strcmp(a->sym, b->sym) != 0 ||
      a->n_fills != b->n_fills)
    return false;
  for (uint32_t k = 0; k < a->n_fills; k++)
    if (a->fills[k] != b->fills[k])
      return false;
  return true;
}

static int typed_produce(const char *name, int64_t count)
{
  struct myelon_codec codec;
  int rc = myelon_msgpack_codec_init(&codec, &lang_order_type);
  if (rc < 0)
    return fail("myelon_msgpack_codec_init", rc);
  struct myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.capacity = 64;
  cfg.ring.wait_consumers = 1;
  cfg.ring.wait_timeout_ns = WAIT;
  lang_shape_producer(&cfg);
  struct myelon_typed_producer *p = NULL;
  rc = myelon_typed_producer_create(&cfg, &codec, &p);
  if (rc < 0)
    return fail("myelon_typed_producer_create", rc);
  for (int64_t i = 0; i < count && rc >= 0; i++) {
    struct lang_order o;
    order_make(&o, i);
    rc = myelon_typed_producer_publish(p, &o, 7, WAIT);
  }
  myelon_typed_producer_close(p);
  return rc < 0 ? fail("myelon_typed_producer_publish", rc) : 0;
}

/* Even messages as owned values (decode), odd ones as views (in place). */
static int typed_recv_one(struct myelon_typed_consumer *c, const struct myelon_codec *codec, int64_t i)
{
  struct lang_order want;
  order_make(&want, i);
  uint8_t kind = 0;
  if (i % 2 == 0) {
    void *v = NULL;
    int rc = myelon_typed_consumer_recv(c, &v, &kind, WAIT);
    if (rc < 0)
      return rc;
    bool same = kind == 7 && order_same((const struct lang_order *)v, &want);
    myelon_codec_free(codec, v);
    return same ? 0 : -1;
  }
  static msgpack_object nodes[64];
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, nodes, 64, 0);
  struct myelon_view_codec vc;
  myelon_mp_view_codec_init(&vc, &arena);
  struct myelon_mp_view view;
  int rc = myelon_typed_consumer_recv_view(c, &vc, &view, &kind, WAIT);
  if (rc < 0)
    return rc;
  const msgpack_object *root = myelon_mp_view_root(&view);
  const msgpack_object *id = root ? myelon_mp_map_get(root, "id") : NULL;
  const msgpack_object *sym = root ? myelon_mp_map_get(root, "sym") : NULL;
  /* the string points into the ring slot while the view is leased */
  bool ok = kind == 7 && id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER && id->via.u64 == (uint64_t)i && sym &&
            sym->type == MSGPACK_OBJECT_STR && sym->via.str.size == strlen(want.sym) &&
            memcmp(sym->via.str.ptr, want.sym, sym->via.str.size) == 0;
  myelon_typed_consumer_release(c);
  return ok ? 0 : -1;
}

static int typed_consume(const char *name, int64_t count)
{
  struct myelon_codec codec;
  int rc = myelon_msgpack_codec_init(&codec, &lang_order_type);
  if (rc < 0)
    return fail("myelon_msgpack_codec_init", rc);
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.id = "lang";
  lang_shape_consumer(&cfg);
  struct myelon_typed_consumer *c = NULL;
  rc = myelon_typed_consumer_attach_timeout(&cfg, &codec, WAIT, &c);
  if (rc < 0)
    return fail("myelon_typed_consumer_attach_timeout", rc);
  int64_t i = 0;
  for (; i < count && (rc = typed_recv_one(c, &codec, i)) == 0; i++)
    ;
  myelon_typed_consumer_close(c);
  if (rc == -1)
    fprintf(stderr, "value %" PRId64 " differs\n", i);
  return rc < 0 ? fail("myelon_typed_consumer_recv", rc == -1 ? 0 : rc) : 0;
}

int main(int argc, char **argv)
{
  if (argc != 5) {
    fprintf(stderr, "usage: lang-role raw|framed|typed|framed-bytes|typed-bytes produce|consume NAME COUNT\n");
    return 2;
  }
  lang_layer = argv[1];
  lang_role = argv[2];
  const char *name = argv[3];
  int64_t count = strtoll(argv[4], NULL, 10);
  bool produce = strcmp(lang_role, "produce") == 0;
  if (strcmp(lang_layer, "raw") == 0)
    return produce ? raw_produce(name, count) : raw_consume(name, count);
  lang_bytes = strcmp(lang_layer, "framed-bytes") == 0 || strcmp(lang_layer, "typed-bytes") == 0;
  if (strcmp(lang_layer, "framed") == 0 || strcmp(lang_layer, "framed-bytes") == 0)
    return produce ? framed_produce(name, count) : framed_consume(name, count);
  if (strcmp(lang_layer, "typed") == 0 || strcmp(lang_layer, "typed-bytes") == 0)
    return produce ? typed_produce(name, count) : typed_consume(name, count);
  if (strcmp(lang_layer, "stream") == 0 && produce)
    return stream_produce(name, count);
  fprintf(stderr, "lang-role: unknown layer '%s'\n", lang_layer);
  return 2;
}
