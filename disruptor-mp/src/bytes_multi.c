/* Byte rings with many producers (DMP_RING_BYTES | DMP_RING_MULTI_PRODUCER;
 * bytes.h, "Many producers"; the protocol is model-checked in
 * model/mp_bytes.pml, whose steps name the labels B1..B5 below and
 * multi.c's MP1..MP7).
 *
 * A byte ring is a slot ring whose slots are blocks (bytes.c); a
 * multi-producer ring has a claim counter, an intent per producer entry,
 * a marker per slot and tombstones for a dead producer's claimed,
 * unpublished slots (multi.c). A record of n blocks on such a ring is one
 * claim of the multi-producer slot ring, carried over as follows:
 *
 * - B1, claim: the producer claims its record's n blocks plus, if the
 *   record would cross the ring's end from where the claim lands, the
 *   padding to the end, in one step of the claim counter (multi.c's MP2
 *   CAS, or the biased owner's MP2x store). The padding depends on the
 *   claim's start, so mp_try_claim() sizes it at every attempt
 *   (dmp_impl_bytes_mp_span(), through p->mp->bytes_rec). Its intent
 *   [lo, hi) (MP1, stored before the claim counter moves) covers padding
 *   and record: a repairer knows the whole extent, and never tombstones a
 *   live (even SIGSTOPped) producer's blocks.
 * - B2, inner markers: right after the claim, the producer stores the
 *   tombstone marker of every block of its claim except the first block
 *   of the padding and of the record (relaxed stores; the publish's
 *   release store B4 orders them). Those inner blocks are never read as
 *   records (a reader steps from a record's first block to the next
 *   record's), but they make every block of a claim "done" the moment its
 *   first block is: the slot ring's frontier scans, cursor advance (MP5),
 *   repairs (MP7) and liveness work unchanged, block by block, and a
 *   record's first block's marker alone publishes it.
 * - B3, headers and payload: as on a single-producer byte ring (bytes.c),
 *   written by the claimer into its own blocks.
 * - B4, publish: one release store of the record's first block's marker
 *   (DATA), then the padding's first block's (DATA); then MP4 empties the
 *   intent. One marker per record, not per block, at the publish.
 * - B5, tombstone: a producer that died between claim and publish (its
 *   entry's lock free) has every block of its claim not yet marked (its
 *   first blocks, and the inner ones if it died before B2) tombstoned by
 *   whoever waits on it (multi.c's MP6 CAS: a consumer's liveness check, a
 *   waiting producer's repair), within the waiter's liveness period or
 *   MP_REPAIR_NS. A reader at a tombstoned first block steps over the run
 *   of tombstones, which ends exactly at the claim's end (the next
 *   record's first block), counting them; it never reads the dead
 *   producer's header or payload. An aborted claim (dmp_producer_abort(),
 *   close) is tombstoned the same way by its producer, every block of it,
 *   before the abort returns (multi.c, dmp_impl_mp_abort()).
 *
 * Readers (gating: dmp_impl_bytes_mp_peek(); non-gating: bytes.c's
 * lossy_copy()) take the published frontier from the markers
 * (dmp_impl_mp_published(), acquire loads pairing with B4 / MP6), never
 * the lazy shared cursor; a DATA first block within the frontier is a
 * record whose every block is done, so bytes.c's header check (record
 * within what is published) holds as on one producer.
 *
 * Costs and limits: B2 stores a marker per inner block (8 bytes per
 * block, an eighth of a 64-byte block's bytes) at the claim; a handle
 * claims one record at a time (a second claim before the publish is
 * -EBUSY, as on the multi-producer slot ring). */
#include "internal.h"

#include <errno.h>

uint64_t dmp_impl_bytes_mp_span(const struct dmp_impl_ring *r, int64_t c, uint64_t rec)
{
  uint64_t idx = (uint64_t)c & r->mask;
  return idx + rec > r->capacity ? r->capacity - idx + rec : rec;
}

static dmp_atomic_i64 *mark(const struct dmp_impl_ring *r, int64_t s)
{
  return &dmp_impl_mp_marks(r)[(uint64_t)s & r->mask];
}

int dmp_impl_bytes_mp_claim(struct dmp_producer *p, uint64_t rec, int mode, int64_t timeout_ns, int64_t *first,
                            uint64_t *pad)
{
  struct dmp_impl_mp *mp = p->mp;
  /* B1: the slot ring's claim of `rec` blocks, padded per attempt. */
  mp->bytes_rec = rec;
  int rc;
  if (mode == 0)
    rc = dmp_producer_try_claim_batch(p, rec, first);
  else if (mode == 1)
    rc = dmp_producer_claim_batch_timeout(p, rec, first, timeout_ns);
  else
    rc = dmp_producer_claim_batch_managed(p, rec, first, timeout_ns);
  mp->bytes_rec = 0;
  if (rc < 0)
    return rc;
  *pad = (uint64_t)(mp->hi - mp->lo) - rec;
  mp->bytes_at = mp->lo + (int64_t)*pad;
  mp->bytes_open = true;
  /* B2: relaxed stores of the inner blocks' markers (tombstone form: done,
   * never read as records); B4's release store of the first block's
   * marker orders them for readers. A repairer (MP7) that sees one finds
   * it done; one that does not finds the block covered by our intent. */
  for (int64_t s = mp->lo + 1; s < mp->hi; s++)
    if (s != mp->bytes_at)
      dmp_impl_store_relaxed(mark(&p->ring, s), DMP_MARK_TOMB(s));
  return 0;
}

void dmp_impl_bytes_mp_mark(struct dmp_producer *p)
{
  struct dmp_impl_mp *mp = p->mp;
  /* B4: release store of the record's first block's marker after its
   * header, payload and inner markers (B2, B3); pairs with the readers'
   * acquire loads of the markers (frontier scans, C1 of a multi-producer
   * ring) and MP5's / MP7's seq_cst loads. Then the padding's (a reader
   * that sees the padding done steps to block 0 and finds the record). */
  dmp_impl_store_release(mark(&p->ring, mp->bytes_at), DMP_MARK_DATA(mp->bytes_at));
  if (mp->lo != mp->bytes_at)
    dmp_impl_store_release(mark(&p->ring, mp->lo), DMP_MARK_DATA(mp->lo));
  mp->bytes_open = false;
}

/* Records a gating read steps at most (tombstone runs, padding, the record). */
#define PEEK_STEPS 8

int dmp_impl_bytes_mp_peek(struct dmp_consumer *c, const void **data, size_t *len, int64_t *seq)
{
  for (int step = 0; step < PEEK_STEPS; step++) {
    int64_t s = c->next;
    /* The frontier this consumer last scanned (its blocks stay done: the
     * producers gate on us), else a new scan: acquire loads of the markers
     * from our position, pairing with B4 / MP6. */
    int64_t f = c->mp_frontier;
    if (s > f) {
      f = dmp_impl_mp_published(c);
      if (s > f)
        return -EAGAIN;
    }
    if (dmp_impl_consumer_is_tomb(c, s)) {
      /* B5 seen: a dead or aborted claim's blocks, up to its end. Released
       * at once when nothing is leased (a producer may wait on them). */
      bool leased = c->committed != s - 1;
      dmp_impl_mp_skip_tombstones(c, s, f);
      if (!leased)
        dmp_consumer_release(c);
      continue;
    }
    struct dmp_impl_bytes_record rec = {0, 0, 0};
    char why[128];
    if (dmp_impl_bytes_check(&c->ring, s, f, &rec, why, sizeof why) < 0)
      return dmp_impl_bytes_corrupt(c, s, why);
    c->next = s + (int64_t)rec.blocks;
    if (rec.kind == DMP_BYTES_DATA) {
      *data = (const uint8_t *)dmp_impl_slot(&c->ring, s) + DMP_BYTES_HEADER;
      *len = rec.length;
      if (seq)
        *seq = s;
      return 0;
    }
  }
  return -EAGAIN; /* only a ring scribbled into many short tombstone runs gets here: the next call goes on */
}
