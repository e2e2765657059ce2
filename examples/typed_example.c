/*
 * typed_example: typed messages over libmyelon (Layers 2-3) in one page.
 *
 *   typed-example [--count N] [--backend shm|mmap]
 *
 * 1. Describe a C struct with a field table (a few lines: numbers, a
 *    string, bytes, arrays, a nested map) and get a msgpack codec for it.
 * 2. Publish values with a typed producer: small ones are encoded straight
 *    into the ring slot, large ones (several frames) through a buffer.
 * 3. Receive them as owned values (decoded copies) and as zero-copy views
 *    whose strings point into the ring, valid until the next receive.
 * 4. Send a plain C struct as a fixed-layout message and read it in place;
 *    the fingerprint keeps another struct of the same size out.
 *
 * Producer and consumer live in one process here for brevity; across
 * processes the calls are the same (see tests/typed/typed_role.c).
 * Exits 0 if every value came back intact.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <myelon/myelon.h>

/* ---- 1. the message type and its field table ----------------------------- */

struct venue {
  char code[8];
  uint16_t gateway;
};

struct order {
  int64_t id;
  double price;
  uint32_t qty;
  _Bool buy;
  char symbol[16];
  uint8_t token[16];   /* opaque bytes ... */
  uint32_t token_len;  /* ... and how many are used */
  int32_t fills[8];    /* an array ... */
  uint32_t n_fills;    /* ... and its count */
  struct venue venue;  /* a nested map */
  uint8_t notes[4000]; /* big enough to need several 1 KiB frames */
  uint32_t notes_len;
};

static const struct myelon_mp_field venue_fields[] = {
  MYELON_MP_STR(struct venue, code),
  MYELON_MP_NUM(struct venue, gateway),
};
static const struct myelon_mp_struct venue_desc = MYELON_MP_STRUCT(struct venue, venue_fields);

static const struct myelon_mp_field order_fields[] = {
  MYELON_MP_NUM(struct order, id),
  MYELON_MP_NUM(struct order, price),
  MYELON_MP_NUM(struct order, qty),
  MYELON_MP_NUM(struct order, buy),
  MYELON_MP_STR(struct order, symbol),
  MYELON_MP_BIN(struct order, token, token_len),
  MYELON_MP_NUM_ARRAY(struct order, fills, n_fills),
  MYELON_MP_MAP(struct order, venue, venue_desc),
  MYELON_MP_BIN(struct order, notes, notes_len),
};
static const struct myelon_mp_struct order_desc = MYELON_MP_STRUCT(struct order, order_fields);
static const struct myelon_mp_type order_type = MYELON_MP_TYPE_DESC(order_desc);

/* A plain struct for the fixed-layout path. */
struct tick {
  int64_t ts;
  double px;
};

/* ---- helpers ---------------------------------------------------------------- */

#define SECOND INT64_C(1000000000)

static int die(const char *what, int rc)
{
  fprintf(stderr, "typed-example: %s: %s (%s)\n", what, myelon_strerror(rc), dmp_last_error());
  return 1;
}

static void make_order(struct order *o, int64_t i)
{
  memset(o, 0, sizeof *o);
  o->id = i;
  o->price = 100.0 + (double)i / 4;
  o->qty = (uint32_t)(10 * i + 1);
  o->buy = i % 2 == 0;
  snprintf(o->symbol, sizeof o->symbol, "SYM%" PRId64, i % 100);
  o->token_len = 4;
  memcpy(o->token, "\xde\xad\xbe\xef", 4);
  o->n_fills = (uint32_t)(i % 9);
  for (uint32_t k = 0; k < o->n_fills; k++)
    o->fills[k] = (int32_t)(i * 10 + k);
  snprintf(o->venue.code, sizeof o->venue.code, "X%02d", (int)(i % 7));
  o->venue.gateway = (uint16_t)(i % 4);
  o->notes_len = i % 5 == 4 ? 3000 : 0; /* every fifth order spans several frames */
  memset(o->notes, 'n', o->notes_len);
}

static int same_order(const struct order *a, const struct order *b)
{
  return a->id == b->id && a->price == b->price && a->qty == b->qty && a->buy == b->buy &&
         strcmp(a->symbol, b->symbol) == 0 && a->token_len == b->token_len &&
         memcmp(a->token, b->token, a->token_len) == 0 && a->n_fills == b->n_fills &&
         memcmp(a->fills, b->fills, a->n_fills * sizeof a->fills[0]) == 0 &&
         strcmp(a->venue.code, b->venue.code) == 0 && a->venue.gateway == b->venue.gateway &&
         a->notes_len == b->notes_len && memcmp(a->notes, b->notes, a->notes_len) == 0;
}

/* ---- 2-3. msgpack values: owned and zero-copy ------------------------------ */

static int run_msgpack(enum dmp_backend backend, const char *name, int64_t count)
{
  struct myelon_codec codec;
  int rc = myelon_msgpack_codec_init(&codec, &order_type);
  if (rc < 0)
    return die("codec", rc);

  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.backend = backend;
  pc.ring.name = name;
  pc.ring.capacity = 64;
  pc.format = MYELON_FRAME_ALIGNED; /* 16-aligned payloads */
  struct myelon_typed_producer *tp;
  if ((rc = myelon_typed_producer_create(&pc, &codec, &tp)) < 0)
    return die("producer", rc);

  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.backend = backend;
  cc.ring.name = name;
  cc.ring.id = "example";
  cc.format = MYELON_FRAME_ALIGNED;
  struct myelon_typed_consumer *c;
  if ((rc = myelon_typed_consumer_attach(&cc, &codec, &c)) < 0) {
    myelon_typed_producer_close(tp);
    return die("consumer", rc);
  }

  /* A bounded node arena for the views: no allocation per message. */
  static msgpack_object nodes[256];
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, nodes, 256, 0);
  struct myelon_view_codec views;
  myelon_mp_view_codec_init(&views, &arena);

  static struct order sent, *got;
  int64_t ok = 0;
  for (int64_t i = 0; i < count && rc == 0; i++) {
    make_order(&sent, i);
    if ((rc = myelon_typed_producer_publish(tp, &sent, 1, SECOND)) < 0)
      break;
    if (i % 2 == 0) { /* owned: a decoded copy we free */
      if ((rc = myelon_typed_consumer_recv(c, (void **)&got, NULL, SECOND)) < 0)
        break;
      ok += same_order(got, &sent);
      myelon_codec_free(&codec, got);
    } else { /* zero-copy: read the msgpack tree in place */
      struct myelon_mp_view v;
      if ((rc = myelon_typed_consumer_recv_view(c, &views, &v, NULL, SECOND)) < 0)
        break;
      const msgpack_object *root = myelon_mp_view_root(&v);
      const msgpack_object *sym = myelon_mp_map_get(root, "symbol");
      const msgpack_object *id = myelon_mp_map_get(root, "id");
      ok += sym && id && id->via.i64 == sent.id && sym->via.str.size == strlen(sent.symbol) &&
            memcmp(sym->via.str.ptr, sent.symbol, sym->via.str.size) == 0;
      myelon_typed_consumer_release(c); /* the view ends here */
    }
  }
  struct myelon_typed_producer_stats st;
  myelon_typed_producer_stats(tp, &st);
  printf("msgpack: %" PRId64 "/%" PRId64 " orders intact, %" PRIu64 " encoded straight into the ring slot\n", ok,
         count, st.zero_copy);
  myelon_typed_consumer_close(c);
  myelon_typed_producer_close(tp);
  if (rc < 0)
    return die("stream", rc);
  return ok == count ? 0 : 1;
}

/* ---- 4. a fixed-layout struct, read in place ------------------------------- */

static int run_fixed(enum dmp_backend backend, const char *name)
{
  struct myelon_fixed_type tick_type;
  int rc = MYELON_FIXED_TYPE_INIT(&tick_type, struct tick, "i64 ts; f64 px");
  if (rc < 0)
    return die("fixed type", rc);
  struct myelon_codec codec;
  myelon_fixed_codec_init(&codec, &tick_type);
  struct myelon_view_codec view;
  myelon_fixed_view_codec_init(&view, &tick_type);

  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.backend = backend;
  pc.ring.name = name;
  pc.ring.capacity = 16;
  pc.format = MYELON_FRAME_ALIGNED;
  pc.frame_capacity = 64;
  struct myelon_typed_producer *tp;
  if ((rc = myelon_typed_producer_create(&pc, &codec, &tp)) < 0)
    return die("fixed producer", rc);
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.backend = backend;
  cc.ring.name = name;
  cc.ring.id = "ticks";
  cc.format = MYELON_FRAME_ALIGNED;
  struct myelon_typed_consumer *c;
  if ((rc = myelon_typed_consumer_attach(&cc, NULL, &c)) < 0) {
    myelon_typed_producer_close(tp);
    return die("fixed consumer", rc);
  }
  struct tick t = {1700000000, 99.5};
  struct myelon_fixed_view v;
  rc = myelon_typed_producer_publish(tp, &t, 2, SECOND);
  if (rc == 0)
    rc = myelon_typed_consumer_recv_view(c, &view, &v, NULL, SECOND);
  const struct tick *in_ring = rc == 0 ? myelon_fixed_view_get(&v) : NULL;
  int ok = in_ring && in_ring->ts == t.ts && in_ring->px == t.px;
  if (ok)
    printf("fixed:   tick ts=%" PRId64 " px=%.2f read in place\n", in_ring->ts, in_ring->px);
  myelon_typed_consumer_close(c);
  myelon_typed_producer_close(tp);
  if (rc < 0)
    return die("fixed stream", rc);
  return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
  int64_t count = 1000;
  enum dmp_backend backend = DMP_BACKEND_SHM;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--count") == 0)
      count = strtoll(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--backend") == 0)
      backend = strcmp(argv[i + 1], "mmap") == 0 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM;
  }
  char a[96], b[96], dir[64] = "";
  if (backend == DMP_BACKEND_SHM) {
    snprintf(a, sizeof a, "typed-ex-%d", (int)getpid());
    snprintf(b, sizeof b, "typed-ex-fx-%d", (int)getpid());
  } else {
    /* Ring files go in a private directory: the library refuses one that
     * every user may write, such as /tmp itself. */
    snprintf(dir, sizeof dir, "/tmp/typed-ex-XXXXXX");
    if (!mkdtemp(dir)) {
      perror("typed-example: mkdtemp");
      return 1;
    }
    snprintf(a, sizeof a, "%s/typed-ex.ring", dir);
    snprintf(b, sizeof b, "%s/typed-ex-fx.ring", dir);
  }
  int rc = run_msgpack(backend, a, count);
  if (rc == 0)
    rc = run_fixed(backend, b);
  if (dir[0])
    rmdir(dir);
  return rc;
}
