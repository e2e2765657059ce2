/* Byte rings (bytes.h), one process: producer and consumer handles in one
 * process hold separate OFD locks, so they act as separate peers. Shape and
 * configuration, every record size from 0 to the maximum with its bytes
 * checked, padding at every start block for every record size, batches and
 * aborts, gating and timeouts, copies, non-gating readers that keep up and
 * that are lapped, starts and resumes at record boundaries, and record
 * headers scribbled field by field (and at random) under a consumer that
 * must report them and never read out of the ring. Both backends. */
#include <stdlib.h>

#include "../unit/unit.h"
#include "bytes_payload.h"

/* True if [p, p + len) lies within [lo, hi). */
static bool in_span(const void *p, size_t len, const uint8_t *lo, const uint8_t *hi)
{
  const uint8_t *b = p;
  return b >= lo && b <= hi && len <= (size_t)(hi - b);
}

TestSuite(bytes, .fini = ut_fini, .timeout = 60);

/* A byte ring of `bytes` bytes with block `block` (0: default). */
static struct dmp_producer_config bcfg(enum dmp_backend b, uint64_t bytes, uint32_t block)
{
  struct dmp_producer_config cfg = ut_pcfg(b, "by");
  cfg.flags |= DMP_RING_BYTES;
  cfg.capacity = bytes;
  cfg.slot_size = block;
  return cfg;
}

static int64_t publish_rec(struct dmp_producer *p, uint64_t seed, int64_t i, size_t len)
{
  void *data;
  int rc = dmp_producer_try_claim_bytes(p, len, &data);
  cr_assert(eq(int, rc, 0), "claim of %zu bytes (record %lld): %s / %s", len, (long long)i, dmp_err_name(rc),
            dmp_last_error());
  cr_assert(eq(u64, (uintptr_t)data % 16, 0), "payload not 16-byte aligned");
  bp_fill(data, seed, i, len);
  return dmp_producer_publish(p);
}

/* The ring's bytes as a consumer sees them, for bound checks. */
static void ring_span(struct dmp_consumer *c, const uint8_t **lo, const uint8_t **hi)
{
  *lo = c->ring.slots;
  *hi = c->ring.slots + c->ring.capacity * c->ring.stride;
}

static void expect_rec(struct dmp_consumer *c, uint64_t seed, int64_t i, size_t max, int64_t *seq_out)
{
  const void *data;
  size_t len;
  int64_t seq;
  int rc = dmp_consumer_try_peek_bytes(c, &data, &len, &seq);
  cr_assert(eq(int, rc, 0), "peek of record %lld: %s / %s", (long long)i, dmp_err_name(rc), dmp_last_error());
  const uint8_t *lo, *hi;
  ring_span(c, &lo, &hi);
  cr_assert(in_span(data, len, lo, hi), "record outside the ring");
  cr_assert(bp_check(data, len, seed, i, max), "record %lld: wrong length %zu or bytes", (long long)i, len);
  if (seq_out)
    *seq_out = seq;
}

Test(bytes, shape_geometry_and_inspect)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 4096, 0);
    struct dmp_producer *p = ut_create(&pc);
    cr_assert(eq(u64, dmp_producer_capacity(p), 4096 / DMP_BYTES_DEFAULT_BLOCK), "capacity counts blocks");
    cr_assert(eq(u64, dmp_producer_bytes_max(p), 2048 - DMP_BYTES_HEADER));
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    cr_assert(eq(u64, dmp_consumer_bytes_max(c), 2048 - DMP_BYTES_HEADER));
    cr_assert(dmp_consumer_is_bytes(c));
    cr_assert(eq(u32, dmp_consumer_slot_size(c), DMP_BYTES_DEFAULT_BLOCK));
    cr_assert(eq(u32, dmp_consumer_slot_align(c), DMP_BYTES_DEFAULT_BLOCK));
    cr_assert(eq(u64, dmp_consumer_capacity(c), 64));
    struct dmp_inspect *in;
    cr_assert(eq(int, dmp_inspect_open(pc.backend, pc.name, &in), 0), "%s", dmp_last_error());
    const struct dmp_ring_stat *s;
    cr_assert(eq(int, dmp_inspect_sample(in, &s), 0));
    cr_assert(ne(u32, s->flags & DMP_SEG_F_BYTES, 0), "inspect shows the byte shape");
    cr_assert(eq(u32, s->flags & DMP_SEG_F_MULTI_PRODUCER, 0));
    cr_assert(eq(u64, s->capacity, 64));
    cr_assert(eq(u32, s->slot_size, 64));
    publish_rec(p, 1, 0, 100); /* 2 blocks */
    cr_assert(eq(int, dmp_inspect_sample(in, &s), 0));
    cr_assert(eq(i64, s->position, 1), "positions count blocks");
    dmp_inspect_close(in);
    dmp_consumer_close(c);
    dmp_producer_close(p);

    /* A slot ring is not one. */
    struct dmp_producer_config sc = ut_pcfg(ut_backends[bi], "bs");
    p = ut_create(&sc);
    cr_assert(eq(u64, dmp_producer_bytes_max(p), 0));
    cc = ut_ccfg(&sc, "c");
    c = ut_attach(&cc);
    cr_assert(eq(u64, dmp_consumer_bytes_max(c), 0));
    cr_assert(not(dmp_consumer_is_bytes(c)));
    cr_assert(eq(int, dmp_inspect_open(sc.backend, sc.name, &in), 0));
    cr_assert(eq(int, dmp_inspect_sample(in, &s), 0));
    cr_assert(eq(u32, s->flags & DMP_SEG_F_BYTES, 0));
    dmp_inspect_close(in);
    dmp_consumer_close(c);
    dmp_producer_close(p);

    /* The smallest byte ring (two 16-byte blocks) carries empty records
     * only: bytes_max 0, and still a byte ring. */
    struct dmp_producer_config tc = bcfg(ut_backends[bi], 2 * DMP_BYTES_MIN_BLOCK, DMP_BYTES_MIN_BLOCK);
    p = ut_create(&tc);
    cc = ut_ccfg(&tc, "c");
    c = ut_attach(&cc);
    cr_assert(eq(u64, dmp_consumer_bytes_max(c), 0));
    cr_assert(dmp_consumer_is_bytes(c), "the smallest byte ring is a byte ring");
    cr_assert(not(dmp_consumer_is_bytes(NULL)));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(bytes, block_sizes)
{
  const uint32_t blocks[] = {16, 32, 128, 4096};
  for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
    struct dmp_producer_config pc = bcfg(DMP_BACKEND_SHM, 4u * blocks[i], blocks[i]);
    pc.slot_align = i == 0 ? blocks[i] : pc.slot_align; /* the block itself is accepted too */
    struct dmp_producer *p = ut_create(&pc);
    cr_assert(eq(u64, dmp_producer_capacity(p), 4));
    size_t max = dmp_producer_bytes_max(p);
    cr_assert(eq(u64, max, 2u * blocks[i] - DMP_BYTES_HEADER));
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    for (int64_t r = 0; r < 20; r++) {
      size_t len = (size_t)r * 7 % (max + 1);
      if (r == 5)
        len = max;
      void *data;
      cr_assert(eq(int, dmp_producer_try_claim_bytes(p, len, &data), 0));
      memset(data, 0, len);
      bp_fill(data, 3, r, len);
      dmp_producer_publish(p);
      const void *got;
      size_t glen;
      cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &got, &glen, NULL), 0));
      cr_assert(eq(u64, glen, len));
      cr_assert(eq(int, memcmp(got, data, len), 0));
      dmp_consumer_release(c);
    }
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(bytes, bad_config)
{
  struct {
    uint64_t bytes;
    uint32_t block, align, extra;
    const char *what;
  } bad[] = {
      {4096 + 64, 64, 8, 0, "capacity"},     /* not a power of two */
      {64, 64, 8, 0, "capacity"},            /* one block */
      {0, 64, 8, 0, "capacity"},
      {4096, 8, 8, 0, "slot_size"},          /* block below the header */
      {4096, 48, 8, 0, "slot_size"},         /* not a power of two */
      {1u << 20, 8192, 8, 0, "slot_size"},   /* above DMP_MAX_SLOT_ALIGN */
      {4096, 64, 32, 0, "slot_align"},       /* neither the default nor the block */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct dmp_producer_config pc = bcfg(DMP_BACKEND_SHM, bad[i].bytes, bad[i].block);
    pc.slot_align = bad[i].align;
    pc.flags |= bad[i].extra;
    struct dmp_producer *p = (struct dmp_producer *)1;
    int rc = dmp_producer_create(&pc, &p);
    cr_assert(eq(int, rc, -DMP_E_BADCONFIG), "case %zu: %s", i, dmp_err_name(rc));
    cr_assert(eq(ptr, p, NULL));
    cr_assert(ne(ptr, strstr(dmp_last_error(), bad[i].what), NULL), "case %zu: detail '%s' names %s", i,
              dmp_last_error(), bad[i].what);
    cr_assert(not(ut_seg_exists(pc.backend, pc.name)), "nothing left behind");
  }
}

Test(bytes, bad_input)
{
  struct dmp_producer_config pc = bcfg(DMP_BACKEND_SHM, 1024, 0);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  struct dmp_consumer *c = ut_attach(&cc);
  void *data;
  const void *cdata;
  size_t len;
  char buf[16];
  cr_assert(eq(int, dmp_producer_try_claim_bytes(NULL, 1, &data), -EINVAL));
  cr_assert(eq(int, dmp_producer_try_claim_bytes(p, 1, NULL), -EINVAL));
  cr_assert(eq(int, dmp_producer_claim_bytes_timeout(NULL, 1, &data, 0), -EINVAL));
  cr_assert(eq(int, dmp_producer_claim_bytes_managed(p, 1, NULL, 0), -EINVAL));
  cr_assert(eq(i64, dmp_producer_try_publish_bytes(p, NULL, 1), -EINVAL));
  cr_assert(eq(i64, dmp_producer_try_publish_bytes(NULL, buf, 1), -EINVAL));
  cr_assert(eq(i64, dmp_producer_publish_bytes_timeout(p, NULL, 3, 0), -EINVAL));
  size_t max = dmp_producer_bytes_max(p);
  cr_assert(eq(int, dmp_producer_try_claim_bytes(p, max + 1, &data), -EMSGSIZE));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "at most"), NULL), "%s", dmp_last_error());
  cr_assert(eq(int, dmp_producer_try_claim_bytes(p, SIZE_MAX, &data), -EMSGSIZE));
  cr_assert(eq(int, dmp_producer_claim_bytes_timeout(p, max + 1, &data, 0), -EMSGSIZE));
  cr_assert(eq(i64, dmp_producer_try_publish_bytes(p, buf, max + 1), -EMSGSIZE));
  /* Liveness is not enabled: the managed claim says so. */
  cr_assert(eq(int, dmp_producer_claim_bytes_managed(p, 1, &data, 0), -DMP_E_NOLIVENESS));
  /* Runs: NULL arguments, no record, a first record too long; a later
   * one too long ends the run before it. */
  size_t lens[3] = {10, max + 1, 10};
  void *run[3];
  const void *crun[3];
  size_t clen[3];
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(NULL, lens, 1, run), -EINVAL));
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, NULL, 1, run), -EINVAL));
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 0, run), -EINVAL));
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 1, NULL), -EINVAL));
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens + 1, 2, run), -EMSGSIZE));
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 3, run), 1), "the run ends before the long one");
  dmp_producer_abort(p);
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(NULL, crun, clen, NULL, 1), -EINVAL));
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, NULL, clen, NULL, 1), -EINVAL));
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, crun, NULL, NULL, 1), -EINVAL));
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, crun, clen, NULL, 0), -EINVAL));
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, crun, clen, NULL, 3), -EAGAIN));
  struct dmp_consumer_config nc = ut_ccfg(&pc, "ng");
  nc.flags = DMP_CONSUMER_NON_GATING;
  struct dmp_consumer *ng = ut_attach(&nc);
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(ng, crun, clen, NULL, 3), -EINVAL), "non-gating: copies only");
  cr_assert(ne(ptr, strstr(dmp_last_error(), "non-gating"), NULL), "%s", dmp_last_error());
  dmp_consumer_close(ng);
  cr_assert(eq(i64, dmp_producer_sequence(p), -1), "no refused call published anything");
  /* Zero-length records with a NULL source are fine. */
  cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, NULL, 0), 0));
  cr_assert(eq(int, dmp_consumer_try_peek_bytes(NULL, &cdata, &len, NULL), -EINVAL));
  cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, NULL, &len, NULL), -EINVAL));
  cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &cdata, NULL, NULL), -EINVAL));
  cr_assert(eq(int, dmp_consumer_peek_bytes_timeout(c, NULL, &len, NULL, 0), -EINVAL));
  cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, NULL, 4, &len, NULL), -EINVAL));
  cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, NULL, NULL), -EINVAL));
  cr_assert(eq(int, dmp_consumer_copy_bytes_timeout(NULL, buf, sizeof buf, &len, NULL, 0), -EINVAL));
  cr_assert(eq(i64, dmp_consumer_resync_bytes(NULL), -EINVAL));
  /* A zero-length record copies into no buffer at all. */
  cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, NULL, 0, &len, NULL), 0));
  cr_assert(eq(u64, len, 0));
  dmp_consumer_close(c);
  dmp_producer_close(p);

  /* Byte calls on a slot ring: -EINVAL, with a detail. */
  struct dmp_producer_config sc = ut_pcfg(DMP_BACKEND_SHM, "bs");
  p = ut_create(&sc);
  cc = ut_ccfg(&sc, "c");
  c = ut_attach(&cc);
  cr_assert(eq(int, dmp_producer_try_claim_bytes(p, 1, &data), -EINVAL));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "not a byte ring"), NULL), "%s", dmp_last_error());
  cr_assert(eq(int, dmp_producer_claim_bytes_timeout(p, 1, &data, 0), -EINVAL));
  cr_assert(eq(i64, dmp_producer_try_publish_bytes(p, buf, 1), -EINVAL));
  cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &cdata, &len, NULL), -EINVAL));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "not a byte ring"), NULL), "%s", dmp_last_error());
  cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &len, NULL), -EINVAL));
  cr_assert(eq(i64, dmp_consumer_resync_bytes(c), -EINVAL));
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 1, run), -EINVAL));
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, crun, clen, NULL, 1), -EINVAL));
  cr_assert(eq(i64, dmp_producer_sequence(p), -1));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* Every size from 0 to the maximum, in order, through rings of both
 * backends: each record's bytes checked, its payload inside the ring. */
Test(bytes, every_size)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 8192, 64);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    size_t max = dmp_producer_bytes_max(p);
    for (size_t len = 0; len <= max; len++) {
      void *data;
      cr_assert(eq(int, dmp_producer_try_claim_bytes(p, len, &data), 0), "len %zu", len);
      bp_fill(data, 9, (int64_t)len, len);
      dmp_producer_publish(p);
      const void *got;
      size_t glen;
      int64_t seq;
      cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &got, &glen, &seq), 0), "len %zu", len);
      cr_assert(eq(u64, glen, len));
      const uint8_t *lo, *hi;
      ring_span(c, &lo, &hi);
      cr_assert(in_span(got, glen, lo, hi));
      cr_assert(eq(i64, (const uint8_t *)got - c->ring.slots, (uint8_t *)data - p->ring.slots),
                "zero copy: the bytes the producer wrote");
      /* bp_check with max = len: the length function is not used here. */
      cr_assert(eq(int, memcmp(got, data, len), 0));
      const void *none;
      cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &none, &glen, NULL), -EAGAIN));
      dmp_consumer_release(c);
    }
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* A record of every size (in blocks) starting at every block of a small
 * ring: padding exactly when it would run past the end, the record then at
 * block 0 of the next lap. */
Test(bytes, padding_at_every_boundary)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    const uint64_t nblk = 16, blk = 16;
    struct dmp_producer_config pc = bcfg(ut_backends[bi], nblk * blk, (uint32_t)blk);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    int64_t i = 0;
    for (uint64_t start = 0; start < nblk; start++)
      for (uint64_t n = 1; n <= nblk / 2; n++) {
        /* One-block records (payload 0) up to the start block. */
        while (((uint64_t)(dmp_producer_sequence(p) + 1) & (nblk - 1)) != start) {
          cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, NULL, 0), 0));
          const void *d;
          size_t l;
          cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &d, &l, NULL), 0));
          cr_assert(eq(u64, l, 0));
          dmp_consumer_release(c);
        }
        size_t len = (size_t)(n * blk - DMP_BYTES_HEADER); /* exactly n blocks */
        int64_t before = dmp_producer_sequence(p);
        void *data;
        cr_assert(eq(int, dmp_producer_try_claim_bytes(p, len, &data), 0));
        bp_fill(data, 5, i, len);
        int64_t last = dmp_producer_publish(p);
        bool pads = start + n > nblk;
        int64_t expect_first = pads ? before + 1 + (int64_t)(nblk - start) : before + 1;
        cr_assert(eq(i64, last, expect_first + (int64_t)n - 1), "start %llu n %llu", (unsigned long long)start,
                  (unsigned long long)n);
        const void *got;
        size_t glen;
        int64_t seq;
        cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &got, &glen, &seq), 0));
        cr_assert(eq(i64, seq, expect_first), "start %llu n %llu: padding stepped over", (unsigned long long)start,
                  (unsigned long long)n);
        if (pads)
          cr_assert(eq(u64, (uint64_t)seq & (nblk - 1), 0), "after padding: block 0");
        cr_assert(eq(u64, glen, len));
        cr_assert(eq(int, memcmp(got, data, len), 0));
        dmp_consumer_release(c);
        i++;
      }
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* Random lengths 0..max through a ring many times over, with several
 * records claimed per publish and several peeked per release. */
Test(bytes, stream_batches_checked)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 4096, 32);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    size_t max = dmp_producer_bytes_max(p);
    const uint64_t seed = 77;
    int64_t wr = 0, rd = 0;
    while (rd < 5000) {
      /* Claim until full or a batch of up to 5. */
      for (int k = 0; k < 5 && wr < 5000; k++) {
        void *data;
        size_t len = bp_len(seed, wr, max);
        int rc = dmp_producer_try_claim_bytes(p, len, &data);
        if (rc == -EAGAIN)
          break;
        cr_assert(eq(int, rc, 0));
        bp_fill(data, seed, wr, len);
        wr++;
      }
      dmp_producer_publish(p);
      for (int k = 0; k < 3 && rd < wr; k++)
        expect_rec(c, seed, rd++, max, NULL);
      dmp_consumer_release(c);
    }
    const void *d;
    size_t l;
    cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &d, &l, NULL), -EAGAIN));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* Runs (dmp_producer_try_claim_bytes_run(), dmp_consumer_try_peek_bytes_run())
 * of random lengths 0..max and random sizes through a ring many times
 * over, mixed with single claims: every record checked byte by byte by a
 * run reader, and a second consumer reading record by record sees the same
 * records at the same blocks. */
Test(bytes, runs_claimed_and_peeked_checked)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 4096, 32);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "run");
    struct dmp_consumer *c = ut_attach(&cc);
    struct dmp_consumer_config oc = ut_ccfg(&pc, "one");
    struct dmp_consumer *one = ut_attach(&oc);
    size_t max = dmp_producer_bytes_max(p);
    const uint8_t *lo, *hi;
    ring_span(c, &lo, &hi);
    const uint64_t seed = 91;
    int64_t wr = 0, rd = 0, rd1 = 0, runs = 0, last_seq = -1;
    int64_t seqs[5000];
    uint64_t rnd = 12345;
    while (rd < 5000 || rd1 < 5000) {
      rnd = bp_mix(rnd);
      size_t n = 1 + (size_t)(rnd % 9);
      if (wr + (int64_t)n > 5000)
        n = (size_t)(5000 - wr);
      if (n > 0 && (rnd & 0x100)) { /* a run */
        size_t lens[9];
        void *data[9];
        for (size_t k = 0; k < n; k++)
          lens[k] = bp_len(seed, wr + (int64_t)k, max);
        int64_t got = dmp_producer_try_claim_bytes_run(p, lens, n, data);
        cr_assert(got == -EAGAIN || (got >= 1 && got <= (int64_t)n), "run of %zu gave %lld", n, (long long)got);
        for (int64_t k = 0; k < got; k++) {
          cr_assert(eq(u64, (uintptr_t)data[k] % 16, 0), "payload not 16-byte aligned");
          cr_assert(in_span(data[k], lens[k], p->ring.slots, p->ring.slots + 4096), "record outside the ring");
          bp_fill(data[k], seed, wr++, lens[k]);
        }
        runs += got > 0;
      } else if (n > 0) { /* single claims */
        void *data;
        size_t len = bp_len(seed, wr, max);
        if (dmp_producer_try_claim_bytes(p, len, &data) == 0)
          bp_fill(data, seed, wr++, len);
      }
      dmp_producer_publish(p);
      /* The run reader: a run of 1..7. */
      const void *d[7];
      size_t l[7];
      int64_t sq[7];
      size_t want = 1 + (size_t)((rnd >> 16) % 7);
      int64_t got = dmp_consumer_try_peek_bytes_run(c, d, l, sq, want);
      cr_assert(got == -EAGAIN || (got >= 1 && got <= (int64_t)want), "peek run of %zu gave %lld (%s)", want,
                (long long)got, dmp_last_error());
      for (int64_t k = 0; k < got; k++) {
        cr_assert(in_span(d[k], l[k], lo, hi), "record outside the ring");
        cr_assert(bp_check(d[k], l[k], seed, rd, max), "record %lld: wrong length %zu or bytes", (long long)rd, l[k]);
        cr_assert(gt(i64, sq[k], last_seq), "blocks in order");
        last_seq = seqs[rd++] = sq[k];
      }
      if (got == -EAGAIN)
        cr_assert(eq(i64, rd, wr), "-EAGAIN with records published");
      dmp_consumer_release(c);
      /* The record-by-record reader, up to the run reader. */
      while (rd1 < rd) {
        int64_t s1;
        expect_rec(one, seed, rd1, max, &s1);
        cr_assert(eq(i64, s1, seqs[rd1]), "record %lld: the same block either way", (long long)rd1);
        rd1++;
        dmp_consumer_release(one);
      }
    }
    cr_assert(gt(i64, runs, 100));
    const void *d;
    size_t l;
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, &d, &l, NULL, 1), -EAGAIN));
    dmp_consumer_close(one);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* A run that would fit before the ring's end but not in the free window:
 * one rescan, then the records the window holds (the run's fast path
 * falls back to the record-by-record one). */
Test(bytes, run_beyond_the_window_takes_what_it_holds)
{
  struct dmp_producer_config pc = bcfg(DMP_BACKEND_SHM, 1024, 64); /* 16 blocks */
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  struct dmp_consumer *c = ut_attach(&cc);
  size_t lens[16] = {0}; /* one block each */
  void *data[16];
  const void *d[16];
  size_t l[16];
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 16, data), 16), "a whole lap");
  dmp_producer_publish(p);
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, NULL, 8), 8));
  dmp_consumer_release(c); /* blocks 0..7 free again */
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 10, data), 8), "blocks 16..23 of 10 wanted");
  cr_assert(eq(i64, dmp_producer_publish(p), 23));
  cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 1, data), -EAGAIN));
  cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, NULL, 16), 16));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* A run takes what the free window holds, with padding before a record at
 * the ring's end (also in the middle of a run), is one cursor store at the
 * publish, and is dropped whole by an abort; a run peek stops at what is
 * published and loads the cursor again once what it knew is used up. */
Test(bytes, runs_fill_the_window_and_pad)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 1024, 64); /* 16 blocks */
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    size_t lens[20];
    void *data[20];
    const void *d[20];
    size_t l[20];
    int64_t sq[20];
    for (int k = 0; k < 20; k++)
      lens[k] = 100; /* 2 blocks each */
    int64_t got = dmp_producer_try_claim_bytes_run(p, lens, 20, data);
    cr_assert(eq(i64, got, 8), "16 blocks hold 8 two-block records");
    for (int k = 0; k < 8; k++)
      memset(data[k], 'a' + k, 100);
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, NULL, 20), -EAGAIN), "nothing before the publish");
    cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 1, data), -EAGAIN), "full");
    cr_assert(eq(i64, dmp_producer_publish(p), 15), "one publish for the run");
    /* Two, then (nothing released) the rest after a reload. */
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, sq, 2), 2));
    cr_assert(eq(i64, sq[0], 0));
    cr_assert(eq(i64, sq[1], 2));
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, sq, 20), 6));
    for (int k = 0; k < 6; k++) {
      cr_assert(eq(i64, sq[k], 4 + 2 * k));
      cr_assert(eq(u64, l[k], 100));
      cr_assert(eq(u8, ((const uint8_t *)d[k])[99], 'c' + k));
    }
    /* dmp_consumer_unpeek() gives a run back whole. */
    cr_assert(eq(i64, dmp_consumer_unpeek(c), 0));
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, sq, 20), 8));
    cr_assert(eq(i64, sq[7], 14));
    dmp_consumer_release(c);
    /* Padding: 3-block records (len 150) from block 16 (a lap start): at
     * 16, 19, 22, 25, 28; then from block 31 a run starts with the padding
     * of block 31 and its first record at 32 (block 0 of the next lap). */
    for (int k = 0; k < 20; k++)
      lens[k] = 150;
    cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 20, data), 5), "5 x 3 blocks in 16");
    cr_assert(eq(i64, dmp_producer_publish(p), 30));
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, sq, 20), 5));
    cr_assert(eq(i64, sq[4], 28));
    dmp_consumer_release(c);
    cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 20, data), 5), "padding, then 5 from block 32");
    memset(data[0], 'p', 150);
    cr_assert(eq(i64, dmp_producer_publish(p), 46));
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, sq, 20), 5));
    cr_assert(eq(i64, sq[0], 32), "padding stepped over");
    cr_assert(eq(u8, ((const uint8_t *)d[0])[0], 'p'));
    dmp_consumer_release(c);
    /* Padding in the middle of a run: 1-block records to block 61 (lap 3,
     * block 13), then a run of a 1-block record at 61 and 3-block ones: the
     * first of those pads 62..63 and starts at 64, the next at 67. */
    while (dmp_producer_sequence(p) + 1 < 61) {
      cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, NULL, 0), 0));
      cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, NULL, 20), 1));
      dmp_consumer_release(c);
    }
    lens[0] = 0;
    cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 3, data), 3));
    memset(data[1], 'q', 150);
    memset(data[2], 'r', 150);
    cr_assert(eq(i64, dmp_producer_publish(p), 69));
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, sq, 20), 3));
    cr_assert(eq(i64, sq[0], 61));
    cr_assert(eq(i64, sq[1], 64), "the padding in the middle of the run stepped over");
    cr_assert(eq(i64, sq[2], 67));
    cr_assert(eq(u64, l[0], 0));
    cr_assert(eq(u8, ((const uint8_t *)d[1])[149], 'q'));
    cr_assert(eq(u8, ((const uint8_t *)d[2])[0], 'r'));
    dmp_consumer_release(c);
    /* An abort drops a whole run: the next claim hands out its blocks. */
    cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 3, data), 3));
    dmp_producer_abort(p);
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, NULL, 20), -EAGAIN));
    cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, "x", 1), 0));
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, sq, 20), 1));
    cr_assert(eq(i64, sq[0], 70), "the aborted blocks were handed out again");
    dmp_consumer_release(c);
    dmp_producer_abort(p);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(bytes, abort_drops_the_claims)
{
  struct dmp_producer_config pc = bcfg(DMP_BACKEND_SHM, 1024, 0);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  struct dmp_consumer *c = ut_attach(&cc);
  void *data;
  cr_assert(eq(int, dmp_producer_try_claim_bytes(p, 300, &data), 0));
  memset(data, 0xee, 300);
  cr_assert(eq(int, dmp_producer_try_claim_bytes(p, 10, &data), 0));
  dmp_producer_abort(p);
  cr_assert(eq(i64, dmp_producer_publish(p), -1), "nothing to publish");
  cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, "twenty bytes of data", 20), 0));
  const void *d;
  size_t len;
  int64_t seq;
  cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &d, &len, &seq), 0));
  cr_assert(eq(i64, seq, 0), "the aborted blocks were handed out again");
  cr_assert(eq(u64, len, 20));
  cr_assert(eq(int, memcmp(d, "twenty bytes of data", 20), 0));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* A gating consumer that reads nothing fills the ring: the producer gets
 * -EAGAIN / -ETIMEDOUT, and room again once the consumer releases. */
Test(bytes, gating_and_timeouts)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 1024, 64); /* 16 blocks */
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    const void *d;
    size_t l;
    char buf[600];
    cr_assert(eq(int, dmp_consumer_peek_bytes_timeout(c, &d, &l, NULL, UT_SHORT_NS), -ETIMEDOUT));
    cr_assert(eq(int, dmp_consumer_copy_bytes_timeout(c, buf, sizeof buf, &l, NULL, UT_SHORT_NS), -ETIMEDOUT));
    int64_t n = 0;
    while (dmp_producer_try_publish_bytes(p, buf, 100) >= 0) /* 2 blocks each */
      n++;
    cr_assert(eq(i64, n, 8), "16 blocks hold 8 two-block records");
    void *data;
    cr_assert(eq(int, dmp_producer_try_claim_bytes(p, 0, &data), -EAGAIN));
    cr_assert(eq(int, dmp_producer_claim_bytes_timeout(p, 0, &data, UT_SHORT_NS), -ETIMEDOUT));
    cr_assert(eq(i64, dmp_producer_publish_bytes_timeout(p, buf, 5, UT_SHORT_NS), -ETIMEDOUT));
    /* Reading one record frees its two blocks, and no more. */
    cr_assert(eq(int, dmp_consumer_peek_bytes_timeout(c, &d, &l, NULL, UT_LONG_NS), 0));
    dmp_consumer_release(c);
    cr_assert(eq(int, dmp_producer_claim_bytes_timeout(p, 100, &data, UT_LONG_NS), 0));
    dmp_producer_abort(p);
    cr_assert(eq(int, dmp_producer_try_claim_bytes(p, 113, &data), -EAGAIN), "3 blocks do not fit in 2");
    for (int k = 0; k < 7; k++) {
      cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &l, NULL), 0));
      cr_assert(eq(u64, l, 100));
    }
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &l, NULL), -EAGAIN));
    /* A record that needs padding needs room for both: seven records take
     * blocks 0..13 of the next lap, a 3-block one at block 14 needs 2 of
     * padding and 3 at block 0. */
    for (int k = 0; k < 7; k++)
      cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, buf, 100), 0));
    cr_assert(eq(i64, dmp_producer_sequence(p), 29));
    cr_assert(eq(int, dmp_producer_try_claim_bytes(p, 113, &data), -EAGAIN));
    for (int k = 0; k < 2; k++)
      cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &l, NULL), 0));
    cr_assert(eq(i64, dmp_producer_publish_bytes_timeout(p, buf, 113, UT_LONG_NS), 34));
    for (int k = 0; k < 5; k++)
      cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &l, NULL), 0));
    int64_t seq;
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &l, &seq), 0));
    cr_assert(eq(i64, seq, 32));
    cr_assert(eq(u64, l, 113));
    dmp_producer_abort(p);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(bytes, copy_too_small_consumes_nothing)
{
  struct dmp_producer_config pc = bcfg(DMP_BACKEND_MMAP, 2048, 0); /* 32 blocks */
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  struct dmp_consumer *c = ut_attach(&cc);
  char src[300], dst[300];
  size_t len;
  int64_t seq;
  for (int64_t k = 0; k < 7; k++) { /* 5 blocks each: the 7th after 2 blocks of padding */
    bp_fill(src, 2, k, sizeof src);
    cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, src, sizeof src), 0));
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, dst, 100, &len, &seq), -EMSGSIZE));
    cr_assert(eq(u64, len, sizeof src), "the size it needs");
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, dst, sizeof dst, &len, &seq), 0));
    cr_assert(eq(u64, len, sizeof src));
    cr_assert(eq(i64, seq, k < 6 ? 5 * k : 32));
    cr_assert(eq(int, memcmp(src, dst, sizeof src), 0));
  }
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* Records of 1 MiB and more take another copy routine (bytes.c,
 * copy_record: REP MOVSB where the CPU has ERMS): publish_bytes and
 * copy_bytes move every byte of them, from and to addresses at every
 * alignment, and not one byte more (guards on both sides of the reader's
 * buffer). Sizes around the switch, both backends. */
Test(bytes, large_records_copied_whole)
{
  const size_t sizes[] = {((size_t)1 << 20) - 1, (size_t)1 << 20, ((size_t)1 << 20) + 1, ((size_t)1 << 20) + 17,
                          3 * ((size_t)1 << 20) + 5};
  const size_t nsizes = sizeof sizes / sizeof sizes[0], max = sizes[nsizes - 1], guard = 64;
  uint8_t *src = malloc(max + 64), *dst = malloc(max + 64 + 2 * guard);
  cr_assert(src && dst);
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], (uint64_t)8 << 20, 0);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    for (int64_t k = 0; k < 4 * (int64_t)nsizes; k++) {
      size_t len = sizes[k % (int64_t)nsizes], so = (size_t)k % 17, dof = (size_t)(k * 7) % 33;
      bp_fill(src + so, 5, k, len);
      cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, src + so, len), 0), "publish %zu: %s", len,
                dmp_last_error());
      memset(dst, 0xa5, max + 64 + 2 * guard);
      size_t got;
      cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, dst + guard + dof, len, &got, NULL), 0), "%s",
                dmp_last_error());
      cr_assert(eq(u64, got, len));
      cr_assert(eq(int, memcmp(dst + guard + dof, src + so, len), 0), "record %lld (%zu bytes, src +%zu, dst +%zu)",
                (long long)k, len, so, dof);
      for (size_t g = 0; g < guard + dof; g++)
        cr_assert(eq(u8, dst[g], 0xa5), "byte written before the buffer");
      for (size_t g = guard + dof + len; g < max + 64 + 2 * guard; g++)
        cr_assert(eq(u8, dst[g], 0xa5), "byte written after the record (%zu bytes, at +%zu)", len,
                  g - guard - dof - len);
    }
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
  free(src);
  free(dst);
}

/* `got` bytes at `buf` are the `len` bytes at `ref`. */
static bool whole(const uint8_t *buf, const uint8_t *ref, size_t got, size_t len)
{
  return got == len && memcmp(buf, ref, len) == 0;
}

/* A large record (64 KiB or more) goes back to block 0 when every gating
 * reader has released everything and the producer is two records or more
 * into the lap, and only then (bytes.c, rewind). Records of n blocks: the
 * first two at 0 and n (too close to the start), the third, the reader
 * caught up, at the next lap's block 0, padding stepped over; a fourth
 * published before the reader takes the third follows it (one more record
 * fits after a rewind); a fifth published while the reader still has the
 * fourth follows too (no rewind); a 1 KiB record never rewinds; with a
 * non-gating reader attached nothing rewinds; the probes count no full
 * ring (producer_full stays 0); every record arrives whole. Fails if the
 * rewind is lost or applied where it must not be. */
/* A run whose first record is 64 KiB or more is that record alone,
 * claimed as dmp_producer_try_claim_bytes() claims it: caught up and two
 * such records into the lap, it goes back to block 0. */
Test(bytes, run_of_a_large_record_is_one_claim_and_rewinds)
{
  struct dmp_producer_config pc = bcfg(DMP_BACKEND_SHM, (uint64_t)1 << 20, 0);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
  struct dmp_consumer *c = ut_attach(&cc);
  const int64_t cap = (int64_t)dmp_producer_capacity(p);
  size_t lens[2] = {(size_t)64 << 10, 8};
  void *data[2];
  const void *d[2];
  size_t l[2];
  int64_t sq[2];
  for (int i = 0; i < 3; i++) {
    cr_assert(eq(i64, dmp_producer_try_claim_bytes_run(p, lens, 2, data), 1), "record %d alone", i);
    memset(data[0], 'a' + i, lens[0]);
    dmp_producer_publish(p);
    cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(c, d, l, sq, 2), 1));
    cr_assert(eq(u64, l[0], lens[0]));
    cr_assert(eq(u8, ((const uint8_t *)d[0])[lens[0] - 1], 'a' + i));
    if (i == 2)
      cr_assert(eq(i64, sq[0], cap), "the third went back to block 0 (block %lld)", (long long)sq[0]);
    dmp_consumer_release(c);
  }
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(bytes, large_record_rewinds_when_the_ring_is_empty)
{
  const size_t big = (size_t)64 << 10, small = 1024;
  uint8_t *buf = malloc(big), *ref = malloc(6 * big);
  cr_assert(buf != NULL && ref != NULL);
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], (uint64_t)1 << 20, 0);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
    struct dmp_consumer *c = ut_attach(&cc);
    const int64_t cap = (int64_t)dmp_producer_capacity(p);
    const int64_t n = (int64_t)((DMP_BYTES_HEADER + big + DMP_BYTES_DEFAULT_BLOCK - 1) / DMP_BYTES_DEFAULT_BLOCK);
    const int64_t nsmall = (int64_t)((DMP_BYTES_HEADER + small + DMP_BYTES_DEFAULT_BLOCK - 1) / DMP_BYTES_DEFAULT_BLOCK);
    /* Record i's bytes, its length, the step after which it is taken (its
     * publish is step i), where it must land. */
    const struct {
      size_t len;
      int take_after;
      int64_t at;
    } recs[] = {
        {big, 0, 0},              /* caught up, idx 0 */
        {big, 1, n},              /* caught up, idx n < 2n: no rewind */
        {big, 3, cap},            /* caught up, idx 2n: rewinds */
        {big, 4, cap + n},        /* published before record 2 is taken */
        {big, 4, cap + 2 * n},    /* record 3 not taken yet: no rewind */
        {small, 5, cap + 3 * n},  /* caught up, but 1 KiB */
    };
    const int nrec = (int)(sizeof recs / sizeof recs[0]);
    int taken = 0;
    for (int i = 0; i < nrec; i++) {
      bp_fill(ref + (size_t)i * big, 9, i, recs[i].len);
      cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, ref + (size_t)i * big, recs[i].len), 0),
                "record %d: %s", i, dmp_last_error());
      for (; taken < nrec && recs[taken].take_after == i; taken++) {
        size_t got;
        int64_t seq;
        memset(buf, 0, big);
        cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, big, &got, &seq), 0), "%s", dmp_last_error());
        cr_assert(eq(i64, seq, recs[taken].at), "record %d at block %lld, not %lld", taken, (long long)seq,
                  (long long)recs[taken].at);
        cr_assert(whole(buf, ref + (size_t)taken * big, got, recs[taken].len), "record %d not whole", taken);
      }
    }
    cr_assert(eq(int, taken, nrec));
    /* A non-gating reader attached: caught up, idx >= 2n, but no rewind. */
    struct dmp_consumer_config nc = ut_ccfg(&pc, "ng");
    nc.flags = DMP_CONSUMER_NON_GATING;
    struct dmp_consumer *ng = ut_attach(&nc);
    int64_t end = cap + 3 * n + nsmall, seq;
    size_t got;
    bp_fill(ref, 9, nrec, big);
    cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, ref, big), 0), "%s", dmp_last_error());
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, big, &got, &seq), 0));
    cr_assert(eq(i64, seq, end), "rewound under a non-gating reader (block %lld)", (long long)seq);
    cr_assert(whole(buf, ref, got, big));
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(ng, buf, big, &got, &seq), 0), "%s", dmp_last_error());
    cr_assert(eq(i64, seq, end));
    cr_assert(whole(buf, ref, got, big));
    dmp_consumer_close(ng);
    uint64_t full = 1;
    cr_assert(eq(int, dmp_counters_value(dmp_producer_counters(p), DMP_COUNTER_PRODUCER_FULL, "producer", &full), 0));
    cr_assert(eq(u64, full, 0), "the rewind probes counted %llu full rings", (unsigned long long)full);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
  free(buf);
  free(ref);
}

/* dmp_bytes_copy(), the rule the ring copies by, exported for Layer 1 and
 * the bench: whole and exact at every size class (small, below, at and
 * above the 1 MiB switch), every source and destination alignment, guard
 * bytes on both sides untouched (fails with a copy one byte short or
 * long, or one that writes outside the destination). */
Test(bytes, exported_copy_is_whole_and_exact)
{
  const size_t sizes[] = {0, 1, 15, 64, 4095, ((size_t)1 << 20) - 1, (size_t)1 << 20, ((size_t)1 << 20) + 1,
                          ((size_t)1 << 20) + 17, 2 * ((size_t)1 << 20) + 3};
  const size_t nsizes = sizeof sizes / sizeof sizes[0], max = sizes[nsizes - 1], guard = 64;
  uint8_t *src = malloc(max + 64), *dst = malloc(max + 64 + 2 * guard);
  cr_assert(src && dst);
  for (size_t k = 0; k < 3 * nsizes; k++) {
    size_t len = sizes[k % nsizes], so = k % 17, dof = (k * 7) % 33;
    bp_fill(src + so, 9, (int64_t)k, len);
    memset(dst, 0xa5, max + 64 + 2 * guard);
    dmp_bytes_copy(dst + guard + dof, src + so, len);
    cr_assert(eq(int, memcmp(dst + guard + dof, src + so, len), 0), "%zu bytes, src +%zu, dst +%zu", len, so, dof);
    for (size_t g = 0; g < guard + dof; g++)
      cr_assert(eq(u8, dst[g], 0xa5), "byte written before the buffer (%zu bytes)", len);
    for (size_t g = guard + dof + len; g < max + 64 + 2 * guard; g++)
      cr_assert(eq(u8, dst[g], 0xa5), "byte written after the copy (%zu bytes, at +%zu)", len, g - guard - dof - len);
  }
  free(src);
  free(dst);
}

/* dmp-stat names the shape: the text and the JSON report say byte ring,
 * its size in bytes, its block and its largest record. */
static void stat_output(const char *args, char *out, size_t cap)
{
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", ts_helper("DMP_STAT"), args);
  FILE *f = popen(cmd, "r");
  cr_assert(ne(ptr, f, NULL));
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = '\0';
  pclose(f);
}

Test(bytes, dmp_stat_shows_the_shape)
{
  struct dmp_producer_config pc = bcfg(DMP_BACKEND_SHM, 65536, 128);
  struct dmp_producer *p = ut_create(&pc);
  static char out[16384];
  char args[512];
  snprintf(args, sizeof args, "--json '%s'", pc.name);
  stat_output(args, out, sizeof out);
  cr_assert(ne(ptr, strstr(out, "\"byte_ring\":{\"bytes\":65536,\"block\":128,\"max_record\":32752}"), NULL), "%s",
            out);
  cr_assert(ne(ptr, strstr(out, "\"capacity\":512"), NULL), "capacity in blocks: %s", out);
  snprintf(args, sizeof args, "'%s'", pc.name);
  stat_output(args, out, sizeof out);
  cr_assert(ne(ptr, strstr(out, "byte ring: 65536 bytes in blocks of 128 B"), NULL), "%s", out);
  cr_assert(ne(ptr, strstr(out, "records up to 32752 B"), NULL), "%s", out);
  dmp_producer_close(p);

  struct dmp_producer_config sc = ut_pcfg(DMP_BACKEND_SHM, "bs");
  p = ut_create(&sc);
  snprintf(args, sizeof args, "--json '%s'", sc.name);
  stat_output(args, out, sizeof out);
  cr_assert(eq(ptr, strstr(out, "byte_ring"), NULL), "a slot ring is not one: %s", out);
  cr_assert(ne(ptr, strstr(out, "\"capacity\":16"), NULL), "%s", out);
  dmp_producer_close(p);
}
