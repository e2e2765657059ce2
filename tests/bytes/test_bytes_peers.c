/* Byte rings (bytes.h) and the peers around a record: non-gating readers
 * that keep up and that are lapped, consumers that start or resume in the
 * middle of a stream (only at record boundaries), and record headers that a
 * peer scribbles - field by field, then at random - under consumers that
 * must report them (-DMP_E_CORRUPT, the ring's error log), never hand out a
 * byte outside the ring, and move on with dmp_consumer_resync_bytes(). */
#include <stdlib.h>

#include "../unit/unit.h"
#include "bytes_payload.h"

/* True if [p, p + len) lies within [lo, hi). */
static bool in_span(const void *p, size_t len, const uint8_t *lo, const uint8_t *hi)
{
  const uint8_t *b = p;
  return b >= lo && b <= hi && len <= (size_t)(hi - b);
}

TestSuite(bytes_peers, .fini = ut_fini, .timeout = 60);

static struct dmp_producer_config bcfg(enum dmp_backend b, uint64_t bytes, uint32_t block)
{
  struct dmp_producer_config cfg = ut_pcfg(b, "bp");
  cfg.flags |= DMP_RING_BYTES;
  cfg.capacity = bytes;
  cfg.slot_size = block;
  return cfg;
}

/* Records here carry their number in bytes 0..7 (length >= 8). */
static size_t rec_len(int64_t i, size_t lo, size_t span)
{
  return lo + (size_t)(bp_mix((uint64_t)i) % span);
}

static void put(struct dmp_producer *p, int64_t i, size_t len)
{
  void *data;
  int rc = dmp_producer_try_claim_bytes(p, len, &data);
  cr_assert(eq(int, rc, 0), "record %lld: %s", (long long)i, dmp_err_name(rc));
  bp_fill(data, 0, i, len);
  dmp_producer_publish(p);
}

/* The number of a record read, after checking all its bytes. */
static int64_t number_of(const void *data, size_t len)
{
  cr_assert(ge(u64, len, 8));
  int64_t i;
  memcpy(&i, data, 8);
  uint8_t buf[4096];
  cr_assert(le(u64, len, sizeof buf));
  bp_fill(buf, 0, i, len);
  cr_assert(eq(int, memcmp(buf, data, len), 0), "record %lld: bytes differ (torn or overwritten)", (long long)i);
  return i;
}

Test(bytes_peers, non_gating_keeps_up)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 4096, 64);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "ng");
    cc.flags = DMP_CONSUMER_NON_GATING;
    struct dmp_consumer *c = ut_attach(&cc);
    const void *d;
    size_t len;
    cr_assert(eq(int, dmp_consumer_try_peek_bytes(c, &d, &len, NULL), -EINVAL), "no leases without gating");
    cr_assert(eq(int, dmp_consumer_peek_bytes_timeout(c, &d, &len, NULL, 0), -EINVAL));
    uint8_t buf[2048];
    for (int64_t i = 0; i < 500; i++) {
      put(p, i, rec_len(i, 8, 1500));
      int64_t seq;
      cr_assert(eq(int, dmp_consumer_copy_bytes_timeout(c, buf, sizeof buf, &len, &seq, UT_LONG_NS), 0));
      cr_assert(eq(i64, number_of(buf, len), i));
    }
    cr_assert(eq(u64, dmp_consumer_missed(c), 0));
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &len, NULL), -EAGAIN));
    /* A copy too small consumes nothing. */
    put(p, 500, 300);
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, 100, &len, NULL), -EMSGSIZE));
    cr_assert(eq(u64, len, 300));
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &len, NULL), 0));
    cr_assert(eq(i64, number_of(buf, len), 500));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* A non-gating reader lapped many times over: every record it gets is
 * whole and newer than the last, the blocks it lost are counted, and once
 * it has caught up it loses nothing. One-block records, so blocks and
 * records count alike. */
Test(bytes_peers, non_gating_lapped)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 4096, 64); /* 64 blocks */
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "ng");
    cc.flags = DMP_CONSUMER_NON_GATING;
    struct dmp_consumer *c = ut_attach(&cc);
    const int64_t total = 1000;
    for (int64_t i = 0; i < total; i++)
      put(p, i, rec_len(i, 8, 40));
    uint8_t buf[64];
    size_t len;
    int64_t seq, last = -1, got = 0;
    int rc;
    while ((rc = dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &len, &seq)) == 0) {
      int64_t i = number_of(buf, len);
      cr_assert(gt(i64, i, last));
      cr_assert(eq(i64, seq, i), "one block per record");
      last = i;
      got++;
    }
    cr_assert(eq(int, rc, -EAGAIN));
    cr_assert(gt(u64, dmp_consumer_missed(c), 0), "lapped: something was lost");
    cr_assert(eq(i64, (int64_t)dmp_consumer_missed(c) + got, total), "every block read or counted");
    for (int64_t i = total; i < total + 20; i++) {
      put(p, i, rec_len(i, 8, 40));
      cr_assert(eq(int, dmp_consumer_try_copy_bytes(c, buf, sizeof buf, &len, &seq), 0));
      cr_assert(eq(i64, number_of(buf, len), i));
    }
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* Multi-block records (3 blocks: 21 and a padding block per lap): a new
 * consumer starting at OLDEST, and one resuming after its position was
 * overwritten, start at a record boundary (a lap start, or the producer's
 * position) and never read a half record as a header. */
Test(bytes_peers, starts_at_boundaries)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++) {
    struct dmp_producer_config pc = bcfg(ut_backends[bi], 4096, 64);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config rc_cfg = ut_ccfg(&pc, "resumer");
    struct dmp_consumer *r = ut_attach(&rc_cfg);
    put(p, 0, 150);
    const void *d;
    size_t len;
    cr_assert(eq(int, dmp_consumer_try_peek_bytes(r, &d, &len, NULL), 0));
    dmp_consumer_release(r);
    dmp_consumer_close(r); /* not durable: the producer may lap it */
    int64_t i = 1;
    for (; i < 50; i++)
      put(p, i, 150);
    struct dmp_consumer_config oc = ut_ccfg(&pc, "oldest");
    oc.start = DMP_START_OLDEST;
    struct dmp_consumer *o = ut_attach(&oc);
    r = ut_attach(&rc_cfg);
    cr_assert(gt(u64, dmp_consumer_missed(r), 0), "the resumer lost what was overwritten");
    struct dmp_consumer_config lc = ut_ccfg(&pc, "latest");
    struct dmp_consumer *l = ut_attach(&lc);
    struct dmp_consumer *cs[] = {o, r, l};
    for (int k = 0; k < 3; k++) {
      int64_t next = dmp_consumer_next(cs[k]);
      cr_assert(next % 64 == 0 || next == dmp_producer_sequence(p) + 1, "consumer %d starts at %lld", k,
                (long long)next);
    }
    for (; i < 60; i++)
      put(p, i, 150);
    for (int k = 0; k < 3; k++) {
      int64_t seq, prev = -1;
      int rc;
      while ((rc = dmp_consumer_try_peek_bytes(cs[k], &d, &len, &seq)) == 0) {
        int64_t n = number_of(d, len);
        cr_assert(prev < 0 || n == prev + 1, "consumer %d: %lld after %lld", k, (long long)n, (long long)prev);
        prev = n;
        dmp_consumer_release(cs[k]);
      }
      cr_assert(eq(int, rc, -EAGAIN), "consumer %d: %s %s", k, dmp_err_name(rc), dmp_last_error());
      cr_assert(eq(i64, prev, 59), "consumer %d read to the end", k);
    }
    /* A clean resume (position kept, not overwritten) continues exactly. */
    dmp_consumer_close(l);
    put(p, 60, 150);
    l = ut_attach(&lc);
    cr_assert(eq(int, dmp_consumer_try_peek_bytes(l, &d, &len, NULL), 0));
    cr_assert(eq(i64, number_of(d, len), 60));
    dmp_consumer_close(l);
    dmp_consumer_close(o);
    dmp_consumer_close(r);
    dmp_producer_close(p);
  }
}

/* ---- scribbled headers ---------------------------------------------------- */

enum scribble { S_SEQ, S_KIND, S_LEN_MAX, S_LEN_PAST_END, S_LEN_PAST_PUBLISHED, S_PAD_AT_0, S_PAD_LEN, S_N };
static const char *const scribble_names[] = {"seq", "kind", "length > max", "past the end", "past published",
                                             "padding at block 0", "padding length"};

/* Move the producer to where the bad record of `what` goes (before the
 * consumers attach: nothing gates the fillers). The ring: 64 blocks of 64
 * bytes. */
static void position_for(struct dmp_producer *p, enum scribble what)
{
  /* Where the record goes: at block 60 for "past the end" and the padding
   * cases (an honest 3-block record there would be padded), else here. */
  if (what == S_LEN_PAST_END || what == S_PAD_LEN) {
    while (((dmp_producer_sequence(p) + 1) & 63) != 60)
      cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, NULL, 0), 0));
  } else if (what == S_PAD_AT_0) {
    while (((dmp_producer_sequence(p) + 1) & 63) != 0)
      cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, NULL, 0), 0));
  }
}

/* Publish a record whose header is then scribbled per `what`; returns its
 * first block. */
static int64_t bad_record(struct dmp_producer *p, enum scribble what)
{
  int64_t s = dmp_producer_sequence(p) + 1;
  cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, "0123456789abcdef", 16), 0));
  struct dmp_bytes_header *h = dmp_producer_slot(p, s);
  cr_assert(eq(i64, h->seq, s));
  switch (what) {
  case S_SEQ: h->seq = s + 64; break; /* last lap's record (stale) */
  case S_KIND: h->kind = 7; break;
  case S_LEN_MAX: h->length = (uint32_t)dmp_producer_bytes_max(p) + 1; break;
  case S_LEN_PAST_END: h->length = 5 * 64; break; /* 6 blocks from block 60 */
  case S_LEN_PAST_PUBLISHED: h->length = 200; break; /* 4 blocks, 1 published */
  case S_PAD_AT_0: h->kind = DMP_BYTES_PADDING; h->length = 64 * 64 - 16; break;
  case S_PAD_LEN: h->kind = DMP_BYTES_PADDING; h->length = 64 - 16; break; /* 4 blocks to the end */
  default: break;
  }
  return s;
}

static uint32_t corrupt_errors(const struct dmp_producer_config *pc)
{
  struct dmp_inspect *in;
  cr_assert(eq(int, dmp_inspect_open(pc->backend, pc->name, &in), 0));
  const struct dmp_ring_stat *st;
  cr_assert(eq(int, dmp_inspect_sample(in, &st), 0));
  uint32_t n = 0;
  for (uint32_t k = 0; k < st->n_errors; k++)
    n += st->errors[k].code == -DMP_E_CORRUPT;
  dmp_inspect_close(in);
  return n;
}

Test(bytes_peers, scribbled_headers_reported)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++)
    for (int w = 0; w < S_N; w++) {
      struct dmp_producer_config pc = bcfg(ut_backends[bi], 4096, 64);
      struct dmp_producer *p = ut_create(&pc);
      position_for(p, (enum scribble)w);
      struct dmp_consumer_config cc = ut_ccfg(&pc, "g");
      struct dmp_consumer *g = ut_attach(&cc);
      struct dmp_consumer_config nc = ut_ccfg(&pc, "ng");
      nc.flags = DMP_CONSUMER_NON_GATING;
      struct dmp_consumer *ng = ut_attach(&nc);
      struct dmp_consumer_config rc_cfg = ut_ccfg(&pc, "run"); /* reads in runs */
      struct dmp_consumer *run = ut_attach(&rc_cfg);
      int64_t s = bad_record(p, (enum scribble)w);
      const void *d;
      size_t len;
      char buf[4096];
      int rc;
      /* A run ends before the bad record; the next run reports it. */
      const void *rd[8];
      size_t rl[8];
      int64_t rs[8], got, last_seq = -1;
      while ((got = dmp_consumer_try_peek_bytes_run(run, rd, rl, rs, 8)) > 0) {
        cr_assert(le(i64, got, 8));
        for (int64_t k = 0; k < got; k++)
          cr_assert(lt(i64, rs[k], s), "%s: a run handed out the bad record", scribble_names[w]);
        last_seq = rs[got - 1];
        dmp_consumer_release(run);
      }
      cr_assert(eq(i64, got, -DMP_E_CORRUPT), "%s: run read gave %s", scribble_names[w], dmp_err_name((int)got));
      cr_assert(eq(i64, dmp_consumer_next(run), s), "%s: the run reader stays at the bad record", scribble_names[w]);
      cr_assert(lt(i64, last_seq, s));
      cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(run, rd, rl, NULL, 8), -DMP_E_CORRUPT), "and says so again");
      cr_assert(gt(i64, dmp_consumer_resync_bytes(run), 0));
      /* Both readers step to the bad record, and stop there. */
      while ((rc = dmp_consumer_try_peek_bytes(g, &d, &len, NULL)) == 0)
        dmp_consumer_release(g);
      cr_assert(eq(int, rc, -DMP_E_CORRUPT), "%s: gating read gave %s", scribble_names[w], dmp_err_name(rc));
      cr_assert(ne(ptr, strstr(dmp_last_error(), "block"), NULL), "%s", dmp_last_error());
      cr_assert(eq(i64, dmp_consumer_next(g), s), "%s: stays at the bad record", scribble_names[w]);
      cr_assert(eq(int, dmp_consumer_try_peek_bytes(g, &d, &len, NULL), -DMP_E_CORRUPT), "and says so again");
      while ((rc = dmp_consumer_try_copy_bytes(ng, buf, sizeof buf, &len, NULL)) == 0)
        ;
      cr_assert(eq(int, rc, -DMP_E_CORRUPT), "%s: non-gating read gave %s", scribble_names[w], dmp_err_name(rc));
      cr_assert(ge(u32, corrupt_errors(&pc), 1), "the ring's error log has it");
      /* Resync: on to the next boundary; then records flow again. */
      int64_t miss = (int64_t)dmp_consumer_missed(g);
      int64_t skipped = dmp_consumer_resync_bytes(g);
      cr_assert(gt(i64, skipped, 0));
      cr_assert(eq(i64, (int64_t)dmp_consumer_missed(g) - miss, skipped));
      cr_assert(gt(i64, dmp_consumer_resync_bytes(ng), 0));
      put(p, 7, 100);
      cr_assert(eq(int, dmp_consumer_try_peek_bytes(g, &d, &len, NULL), 0), "%s: %s", scribble_names[w],
                dmp_last_error());
      cr_assert(eq(i64, number_of(d, len), 7));
      dmp_consumer_release(g);
      cr_assert(eq(int, dmp_consumer_try_copy_bytes(ng, buf, sizeof buf, &len, NULL), 0));
      cr_assert(eq(i64, number_of(buf, len), 7));
      cr_assert(eq(i64, dmp_consumer_try_peek_bytes_run(run, rd, rl, NULL, 8), 1), "%s: %s", scribble_names[w],
                dmp_last_error());
      cr_assert(eq(i64, number_of(rd[0], rl[0]), 7));
      dmp_consumer_close(run);
      dmp_consumer_close(ng);
      dmp_consumer_close(g);
      dmp_producer_close(p);
    }
}

/* Seeded random scribbles anywhere in the blocks (headers mostly) while a
 * stream runs: every record handed out lies inside the ring and within the
 * ring's maximum; a bad header is reported, never delivered; the consumer
 * always gets going again. The consumer reads record by record
 * (dmp_consumer_try_peek_bytes()) or, with `runs`, in runs of up to 3
 * (dmp_consumer_try_peek_bytes_run()). DMP_BYTES_SEED replays one seed. */
static void random_scribbles(bool runs)
{
  const char *env = getenv("DMP_BYTES_SEED");
  uint64_t first = env ? strtoull(env, NULL, 10) : 1, seeds = env ? 1 : 6;
  for (uint64_t seed = first; seed < first + seeds; seed++) {
    enum dmp_backend b = ut_backends[seed % 2];
    struct dmp_producer_config pc = bcfg(b, 2048, 32); /* 64 blocks */
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "g");
    struct dmp_consumer *c = ut_attach(&cc);
    size_t max = dmp_producer_bytes_max(p);
    const uint8_t *lo = c->ring.slots, *hi = lo + c->ring.capacity * c->ring.stride;
    uint8_t *wlo = p->ring.slots;
    uint64_t rnd = seed * 0x9e3779b97f4a7c15u;
    int64_t delivered = 0, corrupt = 0;
    for (int it = 0; it < 4000; it++) {
      rnd = bp_mix(rnd);
      size_t len = (size_t)(rnd >> 40) % (max + 1);
      void *data;
      if (dmp_producer_try_claim_bytes(p, len, &data) == 0) {
        memset(data, (int)(it & 0xff), len);
        dmp_producer_publish(p);
      }
      if ((rnd & 3) == 0) { /* scribble: a header field of a random block, or any byte */
        uint64_t blk = (rnd >> 8) & 63, off = (rnd >> 16) & 15;
        uint8_t *at = wlo + blk * 32 + ((rnd & 4) ? off : (rnd >> 20) & 31);
        *at = (uint8_t)(rnd >> 32);
      }
      for (int k = 0; k < 3; k++) {
        const void *d[3];
        size_t l[3];
        int64_t rc = runs ? dmp_consumer_try_peek_bytes_run(c, d, l, NULL, 3)
                          : dmp_consumer_try_peek_bytes(c, &d[0], &l[0], NULL);
        if (rc == -EAGAIN)
          break;
        if (rc == -DMP_E_CORRUPT) {
          corrupt++;
          cr_assert(ge(i64, dmp_consumer_resync_bytes(c), 0));
          continue;
        }
        cr_assert(ge(i64, rc, 0), "seed %llu: %s", (unsigned long long)seed, dmp_err_name((int)rc));
        int64_t n = runs ? rc : 1;
        cr_assert(le(i64, n, 3));
        for (int64_t j = 0; j < n; j++) {
          cr_assert(in_span(d[j], l[j], lo, hi), "seed %llu: record outside the ring", (unsigned long long)seed);
          cr_assert(le(u64, l[j], max));
        }
        delivered += n;
        dmp_consumer_release(c);
      }
    }
    cr_assert(gt(i64, delivered, 100), "seed %llu: the stream went on (%lld delivered, %lld corrupt)",
              (unsigned long long)seed, (long long)delivered, (long long)corrupt);
    cr_assert(gt(i64, corrupt, 0), "seed %llu: some scribble was caught", (unsigned long long)seed);
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(bytes_peers, random_scribbles)
{
  random_scribbles(false);
}

Test(bytes_peers, random_scribbles_under_runs)
{
  random_scribbles(true);
}
