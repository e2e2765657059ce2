/**
 * @file typed_test.h
 * @brief Criterion helpers of the typed tests: cleanup, bounded waits,
 * encoding through a codec, msgpack-c builders for hand-made messages,
 * and creating typed producers/consumers on fresh rings of either backend.
 */
#ifndef TYPED_TEST_H
#define TYPED_TEST_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <disruptor_mp/bytes.h>

#include "support.h"
#include "typed_fixture.h"

/** Per-test Criterion timeout, seconds. */
#define TT_TIMEOUT 30
/** Bound of a wait that is expected to succeed. */
#define TT_LONG_NS ((int64_t)ts_timeout_ms(2000) * 1000000)
/** Bound of a wait that is expected to time out. */
#define TT_SHORT_NS INT64_C(20000000)

static const enum dmp_backend tt_backends[] = {DMP_BACKEND_SHM, DMP_BACKEND_MMAP};
#define TT_NBACKENDS 2

#ifdef TT_BYTES
/* The typed_*_bytes builds of the suite (issue 20): every ring the tests
 * open is a framed byte ring (MYELON_FRAME_BYTES) of tf_ring_bytes() in
 * place of the slot ring asked for. The same tests and oracles; where a
 * byte ring differs by design (how many messages fill it, no fragments,
 * which publish path the msgpack codec takes: typed.h) the oracle says
 * what the byte ring must do, tt_bytes() telling which. */
#define TT_FMT(f) ((void)(f), MYELON_FRAME_BYTES)
#else
#define TT_FMT(f) (f)
#endif

/** True when the tests run on byte rings (TT_BYTES). */
static inline bool tt_bytes(void)
{
#ifdef TT_BYTES
  return true;
#else
  return false;
#endif
}

/** tf_pcfg() for the ring shape of this build (TT_FMT). */
static inline struct myelon_producer_config tt_pcfg(enum dmp_backend b, const char *name, enum myelon_frame_format fmt,
                                                    uint32_t frame_cap, uint64_t slots)
{
  return tf_pcfg(b, name, TT_FMT(fmt), frame_cap, slots);
}

static inline void tt_fini(void)
{
  ts_cleanup();
}

static inline const char *tt_backend_name(enum dmp_backend b)
{
  return b == DMP_BACKEND_SHM ? "shm" : "mmap";
}

static inline const char *tt_fresh_name(enum dmp_backend b, const char *tag)
{
  const char *n = b == DMP_BACKEND_SHM ? ts_shm_name(tag) : ts_tmp_path(tag);
  cr_assert(ne(ptr, (void *)n, NULL), "test support ran out of names");
  return n;
}

/** True if the last error detail contains `s` (prints it otherwise). */
static inline bool tt_detail_has(const char *s)
{
  const char *d = dmp_last_error();
  if (strstr(d, s))
    return true;
  fprintf(stderr, "detail '%s' lacks '%s'\n", d, s);
  return false;
}

/** Encode through `c` (size and encode must agree); returns the length. */
static inline size_t tt_encode(const struct myelon_codec *c, const void *value, void *buf, size_t cap)
{
  size_t n = 0, len = 0;
  int rc = myelon_codec_size(c, value, &n);
  cr_assert(eq(int, rc, 0), "size: %s / %s", myelon_err_name(rc), dmp_last_error());
  rc = myelon_codec_encode(c, value, buf, cap, &len);
  cr_assert(eq(int, rc, 0), "encode: %s / %s", myelon_err_name(rc), dmp_last_error());
  cr_assert(eq(sz, len, n), "size says %zu, encode wrote %zu", n, len);
  return len;
}

/** A msgpack-c packer writing into a fresh sbuffer (free with tt_pk_done). */
struct tt_pk {
  msgpack_sbuffer sb;
  msgpack_packer pk;
};

static inline void tt_pk_init(struct tt_pk *p)
{
  msgpack_sbuffer_init(&p->sb);
  msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static inline void tt_pk_done(struct tt_pk *p)
{
  msgpack_sbuffer_destroy(&p->sb);
}

static inline void tt_pk_key(struct tt_pk *p, const char *k)
{
  msgpack_pack_str_with_body(&p->pk, k, strlen(k));
}

struct tt_pair {
  struct myelon_typed_producer *tp;
  struct myelon_typed_consumer *tc;
  struct myelon_producer_config pc;
  struct myelon_codec codec;
};

/** tt_open() on the ring of t->pc and the codec t->codec, both set. */
static inline void tt_open_pc(struct tt_pair *t)
{
  int rc = myelon_typed_producer_create(&t->pc, &t->codec, &t->tp);
  cr_assert(eq(int, rc, 0), "typed producer on %s: %s / %s", tt_backend_name(t->pc.ring.backend),
            myelon_err_name(rc), dmp_last_error());
  struct myelon_consumer_config cc = tf_ccfg(&t->pc, "c0");
  rc = myelon_typed_consumer_attach(&cc, &t->codec, &t->tc);
  cr_assert(eq(int, rc, 0), "typed consumer: %s / %s", myelon_err_name(rc), dmp_last_error());
}

/** A typed producer and one typed consumer ("c0") on a fresh ring. */
static inline void tt_open(struct tt_pair *t, enum dmp_backend b, enum myelon_frame_format fmt, uint32_t frame_cap,
                           uint64_t slots, const struct myelon_codec *codec)
{
  memset(t, 0, sizeof *t);
  if (codec)
    t->codec = *codec;
  else
    tf_codec(&t->codec);
  t->pc = tt_pcfg(b, tt_fresh_name(b, "ty"), fmt, frame_cap, slots);
  tt_open_pc(t);
}

/** Bytes a message of `len` encoded bytes takes in a framed byte ring of
 * the default block: its record and frame headers and the payload,
 * rounded up to the block (README, "Framed messages on a byte ring"). */
static inline uint64_t tt_record_bytes(size_t len)
{
  return ((uint64_t)MYELON_BYTES_OVERHEAD + len + DMP_BYTES_DEFAULT_BLOCK - 1) & ~(uint64_t)(DMP_BYTES_DEFAULT_BLOCK - 1);
}

/** Messages of `len` encoded bytes (single-frame ones on a slot ring)
 * that t's empty ring holds before a publish must wait for the consumer:
 * a slot ring's capacity, or as many records as fit a byte ring. */
static inline uint64_t tt_ring_holds(const struct tt_pair *t, size_t len)
{
  if (t->pc.format != MYELON_FRAME_BYTES)
    return t->pc.ring.capacity;
  return t->pc.ring_bytes / tt_record_bytes(len);
}

static inline void tt_close(struct tt_pair *t)
{
  myelon_typed_consumer_close(t->tc);
  myelon_typed_producer_close(t->tp);
}

/** Receive one tf_order that must arrive and equal `want`. */
static inline void tt_recv_equal(struct tt_pair *t, const struct tf_order *want, uint8_t want_kind)
{
  struct tf_order *got = NULL;
  uint8_t kind = 0;
  int rc = myelon_typed_consumer_recv(t->tc, (void **)&got, &kind, TT_LONG_NS);
  cr_assert(eq(int, rc, 0), "recv: %s / %s", myelon_err_name(rc), dmp_last_error());
  char why[200] = "";
  bool same = tf_equal(got, want, why, sizeof why);
  myelon_codec_free(&t->codec, got);
  cr_assert(same, "received value differs: %s", why);
  cr_assert(eq(u8, kind, want_kind));
}

#endif /* TYPED_TEST_H */
