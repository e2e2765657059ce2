/* Multi-producer rings (DMP_RING_MULTI_PRODUCER; layout.h, "Many
 * producers"; the protocol is model-checked in model/mp_ring.pml, whose
 * steps name the labels MP1..MP7 below).
 *
 * Producers claim with a CAS on mp_claim after storing their intent in
 * their table entry and publish one marker per slot: that store is the
 * whole publish. Consumers read the markers, never the shared cursor, on
 * their hot path (as Aeron's readers poll a frame's length word, and
 * LMAX's multi-producer sequencer's availability buffer): the cursor is a
 * lower bound of the published frontier that producers move lazily (MP5:
 * when they refresh their claim limit, before a wake-up, after a repair),
 * so a publish touches no line that another producer or the consumers
 * write. A claimed slot that no live producer's intent covers is a dead
 * producer's: a waiter tombstones it.
 *
 * Biased claim (layout.h, "Biased claims"; labels X1..X3, J2): while the
 * creator is the only producer that ever attached, it claims with plain
 * stores (MP2x), no locked instruction: a CAS per message drained the
 * store buffer behind the previous publish's marker and slot stores. A
 * second producer revokes that at its attach and claims only once the
 * owner is seen outside its plain claim (after a membarrier), dead, or
 * has acknowledged; from then on everyone uses the CAS (MP2). */
#include "internal.h"
#include "env_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rounds of the cursor advance before it leaves the rest to the others
 * (honest rounds each move the cursor or lose a CAS to a producer that
 * moves it and re-checks; only a peer scribbling markers keeps it busy). */
#define ADVANCE_MAX_ROUNDS 4096
/* Rescans of the consumer table while table_seq keeps changing (as RESCAN_MAX in producer.c). */
#define MP_RESCAN_MAX 64
/* A waiting multi-producer claim waits per its wait strategy (as a
 * single-producer claim does) and looks for dead producers' slots (repair)
 * every MP_REPAIR_NS. A blocking claim that the consumers do not hold back
 * (another producer's unpublished slot does: nobody wakes it) sleeps
 * MP_POLL_NS instead of parking; so does the attach's retry below. */
#define MP_POLL_NS INT64_C(50000)
#define MP_REPAIR_NS INT64_C(10000000)

dmp_atomic_i64 *dmp_impl_mp_marks(const struct dmp_impl_ring *r)
{
  return (dmp_atomic_i64 *)(void *)((uint8_t *)r->ctl + r->seg->geo.marks_offset);
}

struct dmp_producer_entry *dmp_impl_mp_ptable(const struct dmp_impl_ring *r)
{
  return (struct dmp_producer_entry *)(void *)((uint8_t *)r->ctl + r->seg->geo.ptable_offset);
}

static dmp_atomic_i64 *mark_of(dmp_atomic_i64 *marks, const struct dmp_impl_ring *r, int64_t seq)
{
  return &marks[(uint64_t)seq & r->mask];
}

/* Done for `seq`: holds its data or its tombstone. */
static bool mark_done(int64_t m, int64_t seq)
{
  return m == DMP_MARK_DATA(seq) || m == DMP_MARK_TOMB(seq);
}

/* The sequence a marker is for (-1: none; any value a peer wrote). */
static int64_t mark_seq(int64_t m)
{
  if (m > 0)
    return m - 1;
  return m < 0 && m != INT64_MIN ? -m - 1 : -1;
}

/* The last of the consecutive done slots after `f` (at most `max` of
 * them): `f` itself when slot f + 1 is not done. Acquire loads of the
 * markers: pair with MP3 / MP6 (the slot writes before them). */
static int64_t scan_done(const dmp_atomic_i64 *marks, uint64_t mask, int64_t f, int64_t max)
{
  const int64_t start = f;
  while (f - start < max &&
         mark_done(dmp_impl_load_acquire((dmp_atomic_i64 *)(uintptr_t)&marks[(uint64_t)(f + 1) & mask]), f + 1))
    f++;
  return f;
}

int64_t dmp_impl_mp_frontier_of(const struct dmp_segment_control *ctl, const dmp_atomic_i64 *marks,
                                uint64_t capacity, int64_t from)
{
  /* Acquire: pairs with MP5's CAS (every slot up to it is done). Claims
   * never go beyond the cursor + a ring (mp_limit()), so the frontier is
   * within a ring of it and one scan of at most a ring finds it. */
  int64_t f = dmp_impl_seq_clamp(dmp_impl_load_acquire((dmp_atomic_i64 *)(uintptr_t)&ctl->producer_cursor));
  if (from > f && from <= DMP_IMPL_SEQ_MAX)
    f = from;
  return scan_done(marks, capacity - 1, f, (int64_t)capacity);
}

int64_t dmp_impl_mp_frontier(const struct dmp_impl_ring *r, int64_t from)
{
  return dmp_impl_mp_frontier_of(r->ctl, dmp_impl_mp_marks(r), r->capacity, from);
}

void dmp_impl_mp_advance(struct dmp_impl_ring *r)
{
  struct dmp_segment_control *ctl = r->ctl;
  dmp_atomic_i64 *marks = dmp_impl_mp_marks(r);
  const int64_t cap = (int64_t)r->capacity;
  /* MP5: a full fence after our marker stores (MP3's release stores, MP6's
   * CAS), then the seq_cst load of the cursor; pairs with the seq_cst CAS
   * below and the seq_cst marker loads after it in whoever moved the
   * cursor last (a store-load pair: either it sees our marker after its
   * CAS, or we see its cursor here). Called lazily (mp_limit(), a
   * publish that saw a parked consumer, repairs, tombstoned claims), so
   * this fence is not paid per publish. */
  dmp_impl_fence_seq_cst();
  int64_t cur = dmp_impl_load_seq_cst(&ctl->producer_cursor);
  bool moved = false;
  for (int round = 0; round < ADVANCE_MAX_ROUNDS; round++) {
    if (cur < -1 || cur > DMP_IMPL_SEQ_MAX)
      break; /* scribbled by a peer: left alone */
    int64_t end = cur;
    /* At most a ring per CAS. MP5: seq_cst loads of the markers; pair
     * with MP3/MP6 (their slot writes are visible to whoever acquires the
     * cursor we store). */
    while (end - cur < cap && mark_done(dmp_impl_load_seq_cst(mark_of(marks, r, end + 1)), end + 1))
      end++;
    if (end == cur)
      break;
    /* MP5: seq_cst CAS of the cursor (a release for consumers' C1). */
    if (__atomic_compare_exchange_n(&ctl->producer_cursor.raw, &cur, end, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
      cur = end;
      moved = true;
    } /* else `cur` is the value another producer stored: look again from there */
  }
  /* P2 of the multi-producer path: a seq_cst load of the waiter count
   * after our seq_cst CAS of the cursor (the CAS is a full barrier: no
   * fence needed, in either wake-up mode); pairs with W1, the consumer's
   * seq_cst increment, its full barrier (W3), then its cursor re-read:
   * either we see the waiter or it sees our cursor. */
  if (moved && r->wakeups != DMP_IMPL_WAKE_NONE && dmp_impl_load_seq_cst(&ctl->data_waiters) != 0)
    dmp_impl_wake_data(r);
}

int64_t dmp_impl_mp_repair(struct dmp_impl_ring *r, int32_t self)
{
  struct dmp_segment_control *ctl = r->ctl;
  const struct dmp_impl_geometry *g = &r->seg->geo;
  if (g->max_producers == 0)
    return 0;
  dmp_atomic_i64 *marks = dmp_impl_mp_marks(r);
  struct dmp_producer_entry *pt = dmp_impl_mp_ptable(r);
  /* MP7: the claim counter first (seq_cst; pairs with MP2): every claim
   * below it stored its intent before its CAS, so we see that intent. */
  int64_t claim = dmp_impl_seq_clamp(dmp_impl_load_seq_cst(&ctl->mp_claim));
  int64_t cur = dmp_impl_seq_clamp(dmp_impl_load_seq_cst(&ctl->producer_cursor));
  if (claim <= cur + 1)
    return 0; /* nothing claimed beyond the cursor */
  /* Who is alive, taken after the claim load: a producer that takes an
   * entry's lock later claims only beyond `claim`. Our own entry (`self`)
   * is alive: F_OFD_GETLK does not report our own description's locks. */
  uint32_t live[DMP_MAX_PRODUCERS];
  uint32_t n = 0;
  for (uint32_t k = 0; k < g->max_producers; k++)
    if ((int32_t)k == self || dmp_impl_lock_held(r->seg->fd, DMP_LOCK_PRODUCER0 + (off_t)k) != 0)
      live[n++] = k; /* a failed probe counts as alive: never tombstone on doubt */
  int64_t end = claim - 1 < cur + (int64_t)r->capacity ? claim - 1 : cur + (int64_t)r->capacity;
  uint64_t done = 0;
  for (int64_t s = cur + 1; s <= end; s++) {
    dmp_atomic_i64 *mk = mark_of(marks, r, s);
    int64_t m = dmp_impl_load_seq_cst(mk);
    if (mark_done(m, s))
      continue;
    /* A marker of a later lap: s was done and its slot claimed again
     * since our loads of the claim counter and cursor (we were slow); a
     * CAS from it would tombstone that lap's data. Honest only below the
     * claim counter as it is now (loaded after the marker, seq_cst: the
     * marker's store came after its claim's MP2); any other value was
     * scribbled and is repaired like an unpublished one. */
    int64_t x = mark_seq(m);
    if (x > s && x < dmp_impl_load_seq_cst(&ctl->mp_claim))
      continue;
    bool covered = false;
    for (uint32_t i = 0; i < n && !covered; i++) {
      /* MP7: seq_cst loads of the intent after the claim counter; pair
       * with MP1 (stored before the claim's CAS) and MP4 (stored after
       * the markers: an intent that moved on means the marker is set). */
      int64_t lo = dmp_impl_load_seq_cst(&pt[live[i]].claim_lo);
      int64_t hi = dmp_impl_load_seq_cst(&pt[live[i]].claim_hi);
      covered = lo <= s && s < hi;
    }
    if (covered)
      continue; /* a live producer's (or one about to claim it): wait for it */
    /* MP6: tombstone by seq_cst CAS from what we saw: fails if the slot
     * was published (or tombstoned by another repairer) meanwhile, so each
     * slot is tombstoned at most once and never over data. */
    if (__atomic_compare_exchange_n(&mk->raw, &m, DMP_MARK_TOMB(s), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
      done++;
  }
  if (done) /* Relaxed: a statistic. */
    dmp_impl_fetch_add_relaxed(&ctl->mp_tombstones, done);
  /* Move the cursor even when we tombstoned nothing (as the model's
   * repair does): a producer that died after its markers (MP3, MP4) and
   * before its MP5 left done slots behind the cursor that nobody else
   * would move it over until the next publish. */
  dmp_impl_mp_advance(r);
  return (int64_t)done;
}

/* ---- the biased claim (layout.h, "Biased claims") ------------------------------ */

/* Whether the owner's entry `oe` is outside its plain claim: its intent
 * empty, or the claim counter already at its end (MP2x done: that claim
 * stores nothing shared but its markers and MP4 any more). X2: acquire
 * loads, after our membarrier; pair with MP4's release (and MP2x's), so
 * what we then CAS from includes the owner's last plain store. */
static bool owner_outside_claim(const struct dmp_segment_control *ctl, struct dmp_producer_entry *oe)
{
  int64_t lo = dmp_impl_load_acquire(&oe->claim_lo);
  int64_t hi = dmp_impl_load_acquire(&oe->claim_hi);
  if (lo >= hi)
    return true;
  return dmp_impl_load_acquire((dmp_atomic_i64 *)(uintptr_t)&ctl->mp_claim) >= hi;
}

/* A non-owner's check before it claims: true once the ring's claims are
 * shared (CAS), false while the owner may still store the claim counter
 * plainly (then the claim fails as "full" and its caller waits, bounded). */
static bool mp_settle(struct dmp_producer *p)
{
  struct dmp_segment_control *ctl = p->ring.ctl;
  struct dmp_impl_mp *mp = p->mp;
  /* Acquire: pairs with X3 (the CAS to SHARED of whoever saw the owner
   * out, after the owner's last plain store) and the owner's own ack. */
  uint32_t b = dmp_impl_load_acquire(&ctl->mp_bias);
  if (b == DMP_MP_BIAS_REVOKING) {
    const struct dmp_impl_geometry *g = &p->ring.seg->geo;
    uint32_t k = dmp_impl_load_relaxed(&ctl->mp_owner);
    /* Dead (its entry's lock free; ours if we took its entry): a dead
     * process stores nothing more. A failed probe counts as alive. */
    bool dead = k >= g->max_producers || k == mp->index ||
                dmp_impl_lock_held(p->ring.seg->fd, DMP_LOCK_PRODUCER0 + (off_t)k) == 0;
    if (!dead) {
      struct dmp_producer_entry *oe = &dmp_impl_mp_ptable(&p->ring)[k];
      /* A cheap look first: inside its claim now, nothing to decide. */
      if (!owner_outside_claim(ctl, oe))
        return false;
      /* X2: membarrier, then the owner's intent again. It pairs with the
       * owner's X1 (its intent store, a compiler barrier, its load of
       * mp_bias): either that load saw REVOKING (stored before our
       * membarrier: J2, or before we loaded it above) and the owner CASes
       * from then on, or its intent store is visible to the loads below.
       * Without a usable membarrier we wait for the owner's own ack. */
      if (!dmp_impl_membarrier_global() || !owner_outside_claim(ctl, oe))
        return false;
    }
    /* X3: seq_cst CAS REVOKING -> SHARED (fails harmlessly if the owner
     * or another producer did it first). */
    uint32_t want = DMP_MP_BIAS_REVOKING;
    __atomic_compare_exchange_n(&ctl->mp_bias.raw, &want, DMP_MP_BIAS_SHARED, false, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
  }
  /* SHARED; or EXCLUSIVE seen by a non-owner, which only a scribbling peer
   * stores after our J2 (we CAS: the claims stay lock-free, never hang). */
  mp->settled = true;
  return true;
}

/* The owner saw its bias revoked (or scribbled): from now on it CASes.
 * Its ack: REVOKING -> SHARED (X3, seq_cst CAS, after every plain store
 * it made), so the waiting producers need not wait for a membarrier. */
static void mp_unbias(struct dmp_producer *p)
{
  p->mp->excl = false;
  p->mp->settled = true;
  uint32_t want = DMP_MP_BIAS_REVOKING;
  __atomic_compare_exchange_n(&p->ring.ctl->mp_bias.raw, &want, DMP_MP_BIAS_SHARED, false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
}

/* ---- the producer side ------------------------------------------------------ */

/* The clear limit of a multi-producer claim up to `last`: the slowest gating
 * consumer, and the published cursor (a slot's previous lap must be done
 * before it is claimed again), plus a ring. gate_limit only grows (a CAS
 * to the maximum: several producers store it), then P4's fence and
 * table_seq re-check as in compute_limit() (layout.h, "Joining safely"). */
static int64_t mp_limit(struct dmp_producer *p)
{
  struct dmp_segment_control *ctl = p->ring.ctl;
  const struct dmp_impl_geometry *g = &p->ring.seg->geo;
  const int64_t cap = (int64_t)p->ring.capacity;
  struct dmp_impl_mp *mp = p->mp;
  int64_t limit = mp->limit;
  /* MP5, lazily: the cursor over every done slot, here (once per refresh
   * of the cached limit, not per publish), so the cursor stays within a
   * ring of every claim (the claims below are bounded by it) and
   * dmp_impl_mp_frontier() finds the frontier in one scan. */
  dmp_impl_mp_advance(&p->ring);
  for (int round = 1;; round++) {
    /* P6: acquire load of table_seq before the scan; pairs with T2. */
    uint32_t seen = dmp_impl_load_acquire(&ctl->table_seq);
    /* Acquire: pairs with MP5's CAS (the slots below it are done). */
    int64_t cur = dmp_impl_seq_clamp(dmp_impl_load_acquire(&ctl->producer_cursor));
    int64_t min;
    if (!dmp_impl_table_scan(&p->ring, g, &min, NULL, NULL) || min > cur)
      min = cur;
    limit = min + cap;
    if (limit < mp->limit)
      limit = mp->limit; /* never shrink (a provisional joiner cursor) */
    /* P4 with many writers: relaxed CAS to the maximum, then the fence. */
    int64_t gl = dmp_impl_load_relaxed(&ctl->gate_limit);
    while (gl < limit && !dmp_impl_cas_weak_relaxed(&ctl->gate_limit, &gl, limit))
      ;
    dmp_impl_fence_seq_cst();
    if (dmp_impl_load_acquire(&ctl->table_seq) == seen)
      break;
    if (round == MP_RESCAN_MAX)
      return mp->limit;
  }
  return limit;
}

/* Publish [lo, hi) of our claim as tombstones (abort, close): the same
 * steps as a publish (MP3 in tombstone form, MP4), then MP5 at once, so
 * the cursor moves over them (and wakes a parked consumer) even if this
 * handle never claims or publishes again. */
static void mp_drop_pending(struct dmp_producer *p)
{
  struct dmp_impl_mp *mp = p->mp;
  p->claim_end = 0;
  const bool bytes = mp->bytes_open;
  mp->bytes_open = false;
  if (mp->lo == mp->hi)
    return;
  dmp_atomic_i64 *marks = dmp_impl_mp_marks(&p->ring);
  /* MP3 (tombstone form): release stores, as in dmp_impl_mp_publish(). */
  if (bytes) {
    /* A byte record's claim (bytes_multi.c): B2 marked every block at the
     * claim except the record's first and the padding's first: only those
     * two are left, in B4's order. Never the others again: once the
     * blocks before them are done, the cursor may move over them and the
     * next lap reuse (claim and mark) them; storing TOMB(s) there once
     * more would overwrite that lap's marker, and a repair would then turn
     * that lap's (maybe published) record into a tombstone
     * (model/mp_bytes.pml found this with an abort stopped mid-way). */
    dmp_impl_store_release(mark_of(marks, &p->ring, mp->bytes_at), DMP_MARK_TOMB(mp->bytes_at));
    if (mp->lo != mp->bytes_at)
      dmp_impl_store_release(mark_of(marks, &p->ring, mp->lo), DMP_MARK_TOMB(mp->lo));
  } else {
    /* Slots: none is marked yet, and each store is to the first slot
     * not done, so no slot of the claim can be reused before its store. */
    for (int64_t s = mp->lo; s < mp->hi; s++)
      dmp_impl_store_release(mark_of(marks, &p->ring, s), DMP_MARK_TOMB(s));
  }
  uint64_t n = (uint64_t)(mp->hi - mp->lo); /* every block of the claim is a tombstone now (B2 + these) */
  /* MP4: release store emptying the intent, as in dmp_impl_mp_publish(). */
  dmp_impl_store_release(&mp->entry->claim_lo, mp->hi);
  mp->lo = mp->hi;
  mp->tombstoned += n;
  /* Relaxed: statistics. */
  dmp_impl_fetch_add_relaxed(&p->ring.ctl->mp_tombstones, n);
  dmp_impl_fetch_add_relaxed(&mp->entry->tombstoned, n);
  dmp_impl_mp_advance(&p->ring);
}

/* One attempt to claim `n` slots: 0 and `*first`, -EAGAIN (full), -EBUSY. */
static int mp_try_claim(struct dmp_producer *p, uint64_t n, int64_t *first)
{
  struct dmp_impl_mp *mp = p->mp;
  if (mp->lo != mp->hi)
    return DMP_FAIL(-EBUSY, "'%s': this producer's claim of %lld slot(s) is not published yet (a multi-producer "
                    "ring takes one claim per handle at a time: publish or abort it first)",
                    p->cfg.name, (long long)(mp->hi - mp->lo));
  if (n == 0 || n > p->ring.capacity)
    return -EINVAL;
  if (!mp->excl && !mp->settled && !mp_settle(p))
    return DMP_FAIL(-EAGAIN, "'%s': the ring's first producer may still claim without a CAS (inside a claim, "
                    "or stopped before it saw this producer attach): claims become shared once it is seen "
                    "outside its claim, acknowledges, or dies", p->cfg.name);
  struct dmp_segment_control *ctl = p->ring.ctl;
  struct dmp_producer_entry *e = mp->entry;
  int64_t c = dmp_impl_load_seq_cst(&ctl->mp_claim);
  for (;;) {
    /* A counter no producer stores (a peer scribbled it): a CAS from a
     * clamped copy would fail forever (the hostile suite hung here), so
     * the claim fails as "full", bounded by the caller's timeout. */
    if (c < 0 || c > DMP_IMPL_SEQ_MAX)
      return DMP_FAIL(-EAGAIN, "'%s': the claim counter holds %lld, which no producer stores (scribbled)",
                      p->cfg.name, (long long)c);
    if (mp->bytes_rec) /* a byte record: its padding depends on where it starts (bytes_multi.c) */
      n = dmp_impl_bytes_mp_span(&p->ring, c, mp->bytes_rec);
    int64_t last = c + (int64_t)n - 1;
    if (last > mp->limit) {
      mp->limit = mp_limit(p);
      if (last > mp->limit) {
        /* Our intent may still show a range from a lost CAS: empty it, so
         * it does not hold back the repair of a dead producer's slots.
         * Release, as MP4 (a repairer that sees it needs nothing else). */
        dmp_impl_store_release(&e->claim_lo, dmp_impl_load_relaxed(&e->claim_hi));
        return -EAGAIN;
      }
    }
    /* MP1: the intent, hi first (the range only grows until lo moves up),
     * both before the CAS that makes it ours. No seq_cst stores needed:
     * the seq_cst CAS (MP2) is a release after them, so a repairer whose
     * MP7 load of mp_claim reads our claim (or any later CAS: a release
     * sequence) sees this intent or a later one. hi relaxed (a larger hi
     * seen early only covers more: the repairer waits, never tombstones
     * wrongly); lo a release store like MP4 (pairs with MP7's intent
     * loads: a lo seen beyond a slot means its marker is stored, so MP6's
     * CAS from an older marker fails). On x86 both are plain stores. */
    dmp_impl_store_relaxed(&e->claim_hi, c + (int64_t)n);
    dmp_impl_store_release(&e->claim_lo, c);
    if (mp->excl) {
      /* X1: a compiler barrier between our intent store and the load of
       * the bias, made a full barrier by a revoker's membarrier (X2). */
      dmp_impl_compiler_barrier();
      if (dmp_impl_load_relaxed(&ctl->mp_bias) == DMP_MP_BIAS_EXCLUSIVE) {
        /* MP2x: the only claimer: a release store (after MP1, as MP2's
         * CAS is; pairs with MP7 and X2's acquire loads). */
        dmp_impl_store_release(&ctl->mp_claim, c + (int64_t)n);
        break;
      }
      mp_unbias(p);
      c = dmp_impl_load_seq_cst(&ctl->mp_claim);
      continue; /* the intent again, then the CAS */
    }
    /* MP2: seq_cst CAS of the claim counter; pairs with MP7. */
    if (__atomic_compare_exchange_n(&ctl->mp_claim.raw, &c, c + (int64_t)n, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST))
      break;
    /* else `c` is another producer's claim end: try from there */
  }
  mp->lo = c;
  mp->hi = c + (int64_t)n;
  *first = c;
  return 0;
}

int64_t dmp_impl_mp_publish(struct dmp_producer *p)
{
  struct dmp_impl_mp *mp = p->mp;
  if (!mp) /* a single-producer handle whose `next` reached DMP_IMPL_MP_NEXT: cannot happen */
    return p->next - 1;
  if (mp->lo == mp->hi)
    return mp->last;
  dmp_atomic_i64 *marks = dmp_impl_mp_marks(&p->ring);
  /* MP3: release store of each marker after the slot's bytes: the publish
   * (consumers read the markers, not the cursor); pairs with the
   * consumers' acquire loads (C1 of a multi-producer ring), MP5's and
   * MP7's. A byte record: one marker per record (bytes_multi.c). */
  if (mp->bytes_open)
    dmp_impl_bytes_mp_mark(p);
  else
    for (int64_t s = mp->lo; s < mp->hi; s++)
      dmp_impl_store_release(mark_of(marks, &p->ring, s), DMP_MARK_DATA(s));
  /* MP4: release store emptying the intent, after the markers; pairs with
   * MP7's intent loads (an intent seen moved on means the markers below
   * it are set, so a repairer's MP6 CAS from an older marker fails). */
  dmp_impl_store_release(&mp->entry->claim_lo, mp->hi);
  /* Relaxed: statistics, written by the entry's owner only. */
  dmp_impl_store_relaxed(&mp->entry->published,
                         dmp_impl_load_relaxed(&mp->entry->published) + (uint64_t)(mp->hi - mp->lo));
  mp->last = mp->hi - 1;
  mp->lo = mp->hi;
  uint32_t wk = p->ring.wakeups;
  if (wk != DMP_IMPL_WAKE_NONE) {
    /* P2 of the multi-producer path: order the marker stores before the
     * waiter-count load, as P1/P2 on a single-producer ring (a compiler
     * barrier made a full one by the waiter's membarrier(2), or a full
     * fence); pairs with W1, the consumer's seq_cst increment, its
     * barrier, then its re-read of our marker: either we see the waiter or
     * it sees the marker. A parked consumer sleeps on the cursor's futex
     * word: MP5 moves the cursor over our slots (and the done ones before
     * them) and wakes it. Only then: the cursor is not moved per publish. */
    if (wk == DMP_IMPL_WAKE_BARRIER)
      dmp_impl_compiler_barrier();
    else
      dmp_impl_fence_seq_cst();
    if (dmp_impl_load_relaxed(&p->ring.ctl->data_waiters) != 0)
      dmp_impl_mp_advance(&p->ring);
  }
  return mp->last;
}

void dmp_impl_mp_abort(struct dmp_producer *p)
{
  if (!p->mp) { /* a single-producer handle whose `next` reached DMP_IMPL_MP_NEXT: cannot happen */
    p->claim_end = p->next;
    return;
  }
  /* Tombstones now, not at this handle's next call: a producer that
   * aborts and then idles would otherwise hold back every consumer, and
   * every other producer's slots beyond its claim, while it idles (a
   * repair never tombstones a live producer's claim). Nothing claimed:
   * a no-op that touches no shared line. */
  mp_drop_pending(p);
}

/* Wait for space as a single-producer claim does (producer.c,
 * wait_step()): pause hints, yields or sleeps per the handle's strategy,
 * and with DMP_WAIT_BLOCK a futex park on the slowest gating consumer's
 * cursor (its release wakes us, C3) for at most the liveness period. The
 * clock is read every 64th pause hint, and after every yield, sleep or
 * park: to keep the deadline and to repair every MP_REPAIR_NS. */
int dmp_impl_mp_claim_wait(struct dmp_producer *p, uint64_t n, int64_t *first, int64_t timeout_ns)
{
  int64_t deadline = dmp_impl_deadline(timeout_ns);
  const struct dmp_wait_strategy *w = &p->cfg.wait;
  int64_t repair_due = 0; /* set at the first clock read */
  uint64_t tally[2] = {0, 0};
  bool stepped = false;
  int rc;
  for (uint64_t iter = 0;; iter++) {
    rc = mp_try_claim(p, n, first);
    if (rc != -EAGAIN)
      break;
    if (stepped || (iter & 63) == 0) {
      int64_t now = dmp_impl_now_ns();
      if (repair_due == 0)
        repair_due = now + MP_REPAIR_NS;
      else if (now >= repair_due) {
        /* Full because a dead producer's slots hold the cursor back? */
        dmp_impl_mp_repair(&p->ring, (int32_t)p->mp->index);
        repair_due = now + MP_REPAIR_NS;
      }
      if (dmp_impl_remaining(deadline) == 0) {
        rc = DMP_FAIL(-ETIMEDOUT, "'%s': no free slot before the timeout (a consumer lags, or a stopped "
                      "producer holds a claimed slot)", p->cfg.name);
        break;
      }
    }
    if (dmp_impl_wait_parks(w, iter)) {
      int64_t left = dmp_impl_remaining(deadline);
      int64_t until_repair = repair_due - dmp_impl_now_ns();
      int64_t max = dmp_impl_wait_liveness_ns(w);
      if (left < max)
        max = left;
      if (until_repair < max)
        max = until_repair > 0 ? until_repair : 1;
      /* Relaxed: a hint for the park's "still full?" test (it re-reads
       * the consumers after its own barrier). */
      int64_t last = dmp_impl_seq_clamp(dmp_impl_load_relaxed(&p->ring.ctl->mp_claim)) + (int64_t)n - 1;
      tally[1]++;
      if (!dmp_impl_producer_park(p, last, max))
        dmp_impl_sleep_ns(max < MP_POLL_NS ? max : MP_POLL_NS); /* a producer, not a consumer, holds us */
      stepped = true;
    } else {
      tally[0]++;
      stepped = dmp_impl_wait_step(w, iter, deadline);
    }
  }
  dmp_impl_cnt_add(p->counters, DMP_IMPL_CNT_SPINS, tally[0]);
  dmp_impl_cnt_add(p->counters, DMP_IMPL_CNT_PARKS, tally[1]);
  return rc;
}

int64_t dmp_impl_mp_claim_next(struct dmp_producer *p)
{
  struct dmp_impl_mp *mp = p->mp;
  /* The exclusive owner's claim of one slot inside its cached limit: MP1
   * (hi; lo already equals the claim counter, which only we store), X1,
   * MP2x, as in mp_try_claim(), without its checks. */
  if (mp->excl && mp->lo == mp->hi && mp->hi <= mp->limit) {
    struct dmp_segment_control *ctl = p->ring.ctl;
    const int64_t c = mp->hi;
    dmp_impl_store_relaxed(&mp->entry->claim_hi, c + 1); /* MP1 */
    dmp_impl_compiler_barrier();                         /* X1 */
    if (dmp_impl_load_relaxed(&ctl->mp_bias) == DMP_MP_BIAS_EXCLUSIVE) {
      dmp_impl_store_release(&ctl->mp_claim, c + 1); /* MP2x */
      mp->hi = c + 1;
      return c;
    }
    /* Revoked: the general path (it stores the intent again and CASes). */
  }
  int64_t first;
  int rc = mp_try_claim(p, 1, &first);
  return rc < 0 ? rc : first;
}

int dmp_impl_mp_claim_batch(struct dmp_producer *p, uint64_t n, int64_t *first)
{
  return mp_try_claim(p, n, first);
}

/* Take a free producer entry (its lock), fill it and make it ACTIVE. */
int dmp_impl_mp_join(struct dmp_producer *p, bool creator, int64_t deadline)
{
  struct dmp_impl_segment *seg = p->ring.seg;
  const struct dmp_impl_geometry *g = &seg->geo;
  struct dmp_producer_entry *pt = dmp_impl_mp_ptable(&p->ring);
  struct dmp_impl_mp *mp = calloc(1, sizeof *mp);
  if (!mp)
    return DMP_FAIL(-ENOMEM, "out of memory");
  int rc = dmp_impl_table_lock(seg, deadline);
  if (rc < 0) {
    free(mp);
    return rc;
  }
  uint32_t k = 0;
  for (; k < g->max_producers; k++) {
    rc = dmp_impl_lock_try(seg->fd, DMP_LOCK_PRODUCER0 + (off_t)k);
    if (rc != -EAGAIN)
      break;
  }
  if (k == g->max_producers || rc < 0) {
    dmp_impl_table_unlock(seg);
    free(mp);
    return k == g->max_producers
               ? DMP_FAIL(-DMP_E_TABLEFULL, "'%s': all %u producer entries are held by live producers (the ring's "
                          "max_producers)", seg->path, g->max_producers)
               : DMP_FAIL(rc, "'%s': cannot lock producer entry %u", seg->path, k);
  }
  struct dmp_producer_entry *e = &pt[k];
  /* A dead holder's intent is worthless now (repairs look at live entries
   * only): start empty. Relaxed: published by PT1 below; our lock orders
   * it before any repairer could count us alive. */
  dmp_impl_store_relaxed(&e->claim_hi, dmp_impl_load_relaxed(&e->claim_lo));
  if (p->ring.ctl->header.flags & DMP_SEG_F_MP_BIASED) {
    struct dmp_segment_control *ctl = p->ring.ctl;
    if (creator) {
      /* The creator owns the biased claim if a revoker's membarrier can
       * reach it (this process registered); else the ring starts SHARED.
       * Relaxed + release: published with the rest by our unlock below;
       * nobody attaches before the creator shares the producer lock. */
      /* Only if nobody joined before us: the creator shares the producer
       * lock before its join, so an attacher may have taken an entry
       * already (under the table lock we hold now: it saw SHARED). */
      bool alone = true;
      for (uint32_t j = 0; j < g->max_producers && alone; j++)
        alone = j == k || dmp_impl_lock_held(seg->fd, DMP_LOCK_PRODUCER0 + (off_t)j) == 0;
      if (alone && !(p->cfg.flags & DMP_RING_NO_MEMBARRIER) && dmp_impl_membarrier_usable()) {
        dmp_impl_store_relaxed(&ctl->mp_owner, k);
        dmp_impl_store_release(&ctl->mp_bias, DMP_MP_BIAS_EXCLUSIVE);
        mp->excl = true;
        /* Our intent's lo stays at the claim counter between claims (the
         * fast path in dmp_impl_mp_claim_next() stores only hi). */
        dmp_impl_store_relaxed(&e->claim_lo, dmp_impl_load_relaxed(&ctl->mp_claim));
        dmp_impl_store_relaxed(&e->claim_hi, dmp_impl_load_relaxed(&ctl->mp_claim));
        mp->lo = mp->hi = dmp_impl_load_relaxed(&ctl->mp_claim);
      }
    } else {
      /* J2: revoke the owner's exclusivity (seq_cst CAS: never over a
       * SHARED already stored); we claim once mp_settle() sees it out. */
      uint32_t want = DMP_MP_BIAS_EXCLUSIVE;
      __atomic_compare_exchange_n(&ctl->mp_bias.raw, &want, DMP_MP_BIAS_REVOKING, false, __ATOMIC_SEQ_CST,
                                  __ATOMIC_SEQ_CST);
    }
  }
  if (!mp->excl)
    mp->settled = false; /* mp_settle() decides at the first claim */
  e->pid = (int32_t)getpid();
  e->attached_ns = (uint64_t)dmp_impl_realtime_ns();
  dmp_impl_store_relaxed(&e->generation, dmp_impl_load_relaxed(&e->generation) + 1);
  /* PT1: release store of the state after the entry's fields. */
  dmp_impl_store_release(&e->state, DMP_PRODUCER_ACTIVE);
  dmp_impl_table_unlock(seg);
  mp->index = k;
  mp->entry = e;
  mp->creator = creator;
  mp->last = -1;
  mp->limit = -1; /* the first claim scans */
  p->mp = mp;
  /* The inline paths' view of a multi-producer handle (producer.h). */
  p->next = DMP_IMPL_MP_NEXT;
  p->claim_end = 0;
  p->clear_limit = INT64_MIN;
  return 0;
}

void dmp_impl_mp_leave(struct dmp_producer *p)
{
  struct dmp_impl_mp *mp = p->mp;
  if (!mp)
    return;
  if (mp->lo != mp->hi) /* claimed and never published */
    mp_drop_pending(p);
  /* Relaxed + release: our entry goes FREE before its lock does (PT1). */
  dmp_impl_store_release(&mp->entry->state, DMP_PRODUCER_FREE);
  dmp_impl_lock_release(p->ring.seg->fd, DMP_LOCK_PRODUCER0 + (off_t)mp->index);
  free(mp);
  p->mp = NULL;
}

int64_t dmp_impl_mp_sequence(const struct dmp_producer *p)
{
  return p->mp->last;
}

uint64_t dmp_producer_tombstones(const struct dmp_producer *p)
{
  return p && p->mp ? p->mp->tombstoned : 0;
}

/* ---- dmp_producer_attach() --------------------------------------------------- */

#define SHARED_LOCK_WAIT_NS INT64_C(100000000)

static int expect_u64(const char *field, uint64_t want, uint64_t have, const char *path)
{
  if (want == 0 || want == have)
    return 0;
  return DMP_FAIL(-DMP_E_MISMATCH, "cfg.%s %llu, the ring '%s' has %llu", field, (unsigned long long)want, path,
                  (unsigned long long)have);
}

static int attach_check(const struct dmp_producer_config *cfg, const struct dmp_impl_segment *seg)
{
  const struct dmp_segment_header *h = &((const struct dmp_segment_control *)seg->map)->header;
  const struct dmp_impl_geometry *g = &seg->geo;
  if (g->max_producers == 0)
    return DMP_FAIL(-DMP_E_MISMATCH, "'%s' is a single-producer ring (created without DMP_RING_MULTI_PRODUCER): it "
                    "takes no other producer", seg->path);
  if (!(cfg->flags & DMP_RING_BYTES) != !g->bytes)
    return DMP_FAIL(-DMP_E_MISMATCH, "cfg.flags %s DMP_RING_BYTES, the ring '%s' is a %s ring",
                    g->bytes ? "without" : "with", seg->path, g->bytes ? "byte" : "slot");
  /* A byte ring's capacity is given in bytes (bytes.h). */
  int rc = expect_u64("capacity", cfg->capacity, g->bytes ? g->capacity * g->slot_stride : g->capacity, seg->path);
  if (rc == 0)
    rc = expect_u64("slot_size", cfg->slot_size, g->slot_size, seg->path);
  /* dmp_producer_config_init() sets slot_align and max_consumers to the
   * creation defaults (8, DMP_DEFAULT_MAX_CONSUMERS): those values are no
   * expectation, or every attacher that starts from config_init() would
   * have to zero them to join a ring created with other values. */
  if (rc == 0 && cfg->slot_align != DMP_DEFAULT_SLOT_ALIGN)
    rc = expect_u64("slot_align", cfg->slot_align, g->slot_align, seg->path);
  if (rc == 0 && cfg->max_consumers != DMP_DEFAULT_MAX_CONSUMERS)
    rc = expect_u64("max_consumers", cfg->max_consumers, g->max_consumers, seg->path);
  if (rc == 0)
    rc = expect_u64("max_producers", cfg->max_producers, g->max_producers, seg->path);
  if (rc == 0 && cfg->type_tag && cfg->type_tag != h->type_tag)
    rc = DMP_FAIL(-DMP_E_MISMATCH, "cfg.type_tag %016llx, the ring '%s' carries %016llx",
                  (unsigned long long)cfg->type_tag, seg->path, (unsigned long long)h->type_tag);
  return rc;
}

int dmp_producer_attach(const struct dmp_producer_config *cfg, struct dmp_producer **out)
{
  int rc = dmp_impl_producer_check(cfg, out, true);
  if (rc < 0)
    return rc;
  struct dmp_producer *p = calloc(1, sizeof *p);
  if (!p)
    return DMP_FAIL(-ENOMEM, "out of memory");
  struct dmp_impl_segment *seg = NULL;
  rc = dmp_impl_segment_open(cfg->backend, cfg->name, (cfg->flags & DMP_RING_SHARE_GROUP) != 0, &seg);
  if (rc == 0)
    rc = attach_check(cfg, seg);
  if (rc < 0)
    goto fail;
  if (dmp_impl_lock_held(seg->fd, DMP_LOCK_PRODUCER) != 1) {
    rc = DMP_FAIL(-DMP_E_OWNERDEAD, "'%s' has no live producer (a stale ring: its creator replaces it)", seg->path);
    goto fail;
  }
  /* Our share of the producer lock, so consumers see the ring alive while
   * any producer is. The creator holds it exclusively for the moment of
   * creation only (then shares it): retry briefly. */
  int64_t deadline = dmp_impl_deadline(SHARED_LOCK_WAIT_NS);
  while ((rc = dmp_impl_lock_shared(seg->fd, DMP_LOCK_PRODUCER)) == -EAGAIN && dmp_impl_remaining(deadline) > 0)
    dmp_impl_sleep_ns(MP_POLL_NS);
  if (rc < 0) {
    rc = DMP_FAIL(rc == -EAGAIN ? -ETIMEDOUT : rc, "'%s': cannot share the producer lock: %s", seg->path,
                  strerror(rc == -EAGAIN ? ETIMEDOUT : -rc));
    goto fail;
  }
  dmp_impl_ring_init(&p->ring, seg);
  p->cfg = *cfg;
  p->cfg.name = seg->path;
  p->cfg.capacity = seg->geo.capacity;
  p->cfg.slot_size = seg->geo.slot_size;
  p->cfg.slot_align = seg->geo.slot_align;
  p->cfg.max_consumers = seg->geo.max_consumers;
  p->cfg.max_producers = seg->geo.max_producers;
  p->cfg.wait = dmp_impl_wait_normalise(&cfg->wait, p->ring.wakeups);
  rc = dmp_impl_mp_join(p, false, dmp_impl_deadline(DMP_TABLE_WAIT_NS));
  if (rc < 0)
    goto fail;
  *out = p;
  return 0;
fail:
  dmp_impl_segment_close(seg); /* not ours: never unlinks; drops our locks */
  free(p);
  return rc;
}

/* ---- the consumer side -------------------------------------------------------- */

int64_t dmp_impl_mp_skip_tombstones(struct dmp_consumer *c, int64_t s, int64_t last)
{
  dmp_atomic_i64 *marks = dmp_impl_mp_marks(&c->ring);
  /* At most a ring at a time: `last` may be a cursor a peer scribbled. */
  int64_t end = last - s >= (int64_t)c->ring.capacity ? s + (int64_t)c->ring.capacity - 1 : last;
  int64_t from = s;
  /* Acquire: pairs with MP6 / MP3 (a tombstone stored by CAS or store);
   * and with a later lap's MP3, whose claim stored gate_limit first (P4),
   * so a non-gating reader that sees that marker sees the limit too. */
  while (s <= end && dmp_impl_load_acquire(mark_of(marks, &c->ring, s)) == DMP_MARK_TOMB(s))
    s++;
  c->tombstones += (uint64_t)(s - from);
  c->next = s;
  return s;
}

/* Slots a gating reload caches at most: the inline try_peek hands them out
 * without looking at their markers again. */
#define RELOAD_MAX INT64_C(256)

int dmp_impl_consumer_reload(struct dmp_consumer *c)
{
  if (c->non_gating & DMP_IMPL_C_LOSSY) {
    dmp_impl_peek_refused(c);
    return -EINVAL; /* visibly nonzero: callers' `*event` stays unset */
  }
  dmp_atomic_i64 *marks = dmp_impl_mp_marks(&c->ring);
  /* Never more than a ring beyond what we released: no honest producer
   * publishes there (it gates on us); markers a peer scribbled would
   * otherwise run us off into slots nobody wrote. */
  const int64_t end = c->committed + (int64_t)c->ring.capacity;
  int64_t s = c->next;
  /* C1 of a multi-producer ring: acquire loads of the markers from our
   * position (not of the shared cursor, which producers move lazily);
   * pair with MP3 (the slot's bytes before its data marker) and MP6 / MP3
   * (a tombstone stored by CAS or store). Tombstones first: stepped over,
   * counted, released at once when nothing is leased (a gating producer
   * may wait on them). */
  int64_t from = s;
  while (s <= end && dmp_impl_load_acquire(mark_of(marks, &c->ring, s)) == DMP_MARK_TOMB(s))
    s++;
  if (s != from) {
    bool leased = c->committed != from - 1;
    c->next = s;
    c->tombstones += (uint64_t)(s - from);
    if (!leased)
      dmp_consumer_release(c);
  }
  /* Then the data slots, up to the next one not published (or a
   * tombstone), so the inline fast path hands out only data slots. */
  int64_t e = s - 1;
  while (e < end && e + 1 - s < RELOAD_MAX &&
         dmp_impl_load_acquire(mark_of(marks, &c->ring, e + 1)) == DMP_MARK_DATA(e + 1))
    e++;
  c->available = e;
  if (e > c->mp_frontier)
    c->mp_frontier = e;
  return e < s ? -EAGAIN : 0;
}

int64_t dmp_impl_mp_published(struct dmp_consumer *c)
{
  int64_t from = c->next - 1;
  int64_t max = (int64_t)c->ring.capacity;
  if (c->mp_frontier > from)
    from = c->mp_frontier;
  if (!(c->non_gating & DMP_IMPL_C_LOSSY)) {
    /* Gating: every slot from our position on is of the current lap (the
     * producers gate on us), so the markers from there suffice; never
     * more than a ring beyond what we released (scribbled markers). */
    int64_t end = c->committed + (int64_t)c->ring.capacity;
    if (from >= end)
      return end;
    max = end - from;
    c->mp_frontier = scan_done(dmp_impl_mp_marks(&c->ring), c->ring.mask, from, max);
    return c->mp_frontier;
  }
  /* Non-gating: we may have been lapped, so from the shared cursor (within
   * a ring of the frontier) if it is further. Our cached frontier counts
   * only if no producer's limit is below it (scribbled markers otherwise).
   * Relaxed: a sanity bound (the limit is stored before any claim under
   * it, P4). */
  if (c->mp_frontier > dmp_impl_seq_clamp(dmp_impl_load_relaxed(&c->ring.ctl->gate_limit)))
    from = c->next - 1;
  c->mp_frontier = dmp_impl_mp_frontier(&c->ring, from);
  return c->mp_frontier;
}

int64_t dmp_impl_mp_available(struct dmp_consumer *c)
{
  if (!c)
    return -EINVAL;
  int64_t f = dmp_impl_mp_published(c);
  return f < c->next ? 0 : f - c->next + 1;
}

bool dmp_impl_consumer_is_tomb(struct dmp_consumer *c, int64_t s)
{
  /* Acquire: pairs with MP6 / MP3. */
  return dmp_impl_load_acquire(mark_of(dmp_impl_mp_marks(&c->ring), &c->ring, s)) == DMP_MARK_TOMB(s);
}

uint64_t dmp_consumer_tombstones(const struct dmp_consumer *c)
{
  return c ? c->tombstones : 0;
}
