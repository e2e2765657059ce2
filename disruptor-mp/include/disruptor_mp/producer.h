/**
 * @file producer.h
 * @brief The producer: creates a ring, claims slots in place and publishes them.
 *
 * One producer per ring (unless DMP_RING_MULTI_PRODUCER: "Many producers"
 * below), each handle used from one thread at a time. Claims are zero
 * copy: the caller writes the event directly into the shared slot, then
 * publishes. Claims accumulate until the next publish, which makes every
 * claimed slot visible with a single release store:
 *
 *     void *slot;
 *     if (dmp_producer_try_claim(p, &slot) == 0) {
 *       memcpy(slot, &event, sizeof event);
 *       dmp_producer_publish(p);
 *     }
 *
 * Gating: the producer never overwrites a slot that a registered, gating
 * consumer has not released. It caches the free window computed from the
 * slowest consumer, so a claim inside the window touches no shared line.
 * With no gating consumer attached the ring never fills: old events are
 * overwritten, and consumers that join later start at a safe position.
 *
 * Many producers (DMP_RING_MULTI_PRODUCER)
 * ----------------------------------------
 * A ring created with DMP_RING_MULTI_PRODUCER takes up to `max_producers`
 * producers (the creator is the first): other processes (or threads, with
 * their own handles) join it by name with dmp_producer_attach() and use
 * the same claim / publish / abort calls. Consumers attach and read as on
 * any ring: every consumer sees every published event once, in sequence
 * order, and each producer's events in the order it published them.
 *
 * When to use it: N writers feeding one reader set (workers answering one
 * scheduler, several feeds into one journal), where polling N rings would
 * cost more than sharing one. Its costs: every claim is a CAS on one shared
 * counter (a locked instruction: it waits for the previous publish's
 * stores to reach the lines the consumers read), except while the creator
 * is the only producer that ever attached: it then claims with plain
 * stores (a biased claim, layout.h "Biased claims"; needs
 * membarrier(2), else the ring always CASes; the first attach of another
 * producer hands the claim over for good), every publish stores one
 * 8-byte marker per slot (each slot takes 8 more bytes), and consumers
 * read each slot's marker as well as the slot: two cache lines per
 * message where a single-producer ring's consumer polls one cursor. The
 * shared cursor is not moved per publish (consumers find the published
 * frontier from the markers; producers move the cursor lazily), so
 * producers share only the claim counter's line. One producer alone on
 * such a ring (the biased claim) streams 8 B events at 0.54-1.11x a
 * single-producer ring's rate, bimodal by run (bench/README.md, "Issue 18
 * targets"). Events of different producers interleave.
 *
 * Rules on such a ring: a handle holds one claim at a time (one slot or
 * one batch): claiming again before dmp_producer_publish() or
 * dmp_producer_abort() fails with -EBUSY. Non-gating consumers
 * (consumer.h) and producer liveness (liveness.h) work as on any ring: a
 * non-gating reader steps over tombstones and counts them; any producer
 * may enable liveness and watch the consumers, and several evicting the
 * same dead consumer evict it once. While the ring is full a waiting claim
 * waits per its wait strategy as on a single-producer ring (DMP_WAIT_BLOCK
 * parks on the slowest consumer); while another producer's unpublished
 * slot holds it back, a blocking claim sleeps 50 us between looks instead
 * of parking.
 *
 * Tombstones: a producer that dies (crash, kill -9) between its claim and
 * its publish would leave a hole that blocks every consumer. The kernel
 * drops its lock when it dies, and whoever waits on its slot (a consumer's
 * wait, another producer's waiting claim) notices within one liveness
 * period (50 ms by default) and publishes that slot as a *tombstone*: a
 * marker saying "skipped, no data". Consumers step over tombstones (never
 * delivering the half-written payload), count them
 * (dmp_consumer_tombstones()), and so does the ring (dmp-stat's
 * "tombstones"). An aborted claim is published as tombstones by
 * dmp_producer_abort() itself, before it returns, and one still open at
 * dmp_producer_close() by the close: a producer that aborts and then
 * idles holds back nobody. A producer that is
 * only slow or stopped (SIGSTOP) keeps its lock and is never tombstoned:
 * the ring then waits for it, bounded by each caller's timeout.
 */
#ifndef DISRUPTOR_MP_PRODUCER_H
#define DISRUPTOR_MP_PRODUCER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/config.h>
#include <disruptor_mp/export.h>
#include <disruptor_mp/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmp_impl_mp; /* opaque: a multi-producer handle's claim state (src/internal.h) */

struct dmp_producer {
  struct dmp_impl_ring ring; /* hot: read by the inline functions */
  int64_t next;              /**< first sequence not yet published */
  int64_t claim_end;         /**< first sequence not yet claimed (>= next) */
  int64_t clear_limit;       /**< highest sequence known to be free to write */
  struct dmp_producer_config cfg; /* cold, copied at create (name points into seg) */
  struct dmp_impl_liveness *liveness; /* NULL unless enabled (liveness.h) */
  struct dmp_counters *counters;      /* NULL without counters (counters.h); cold paths only */
  struct dmp_impl_mp *mp;             /* multi-producer state (src/multi.c); NULL on single-producer rings */
};

/**
 * Create a ring and become its producer.
 *
 * Creates the segment exclusively (mode `cfg->mode`, 0600 by default; with
 * DMP_RING_SHARE_GROUP group `cfg->share_gid` and mode 0660: config.h,
 * "Permissions"). If a segment of that name exists, is ours and its
 * producer is dead (its OFD lock is free), the stale segment is replaced,
 * unless DMP_RING_NO_RECLAIM is set.
 * If `cfg->wait_consumers` is nonzero, waits for that many consumers first.
 *
 * Blocking: only for `wait_consumers` (bounded by `wait_timeout_ns`).
 *
 * @return 0 and `*out` on success; on failure `*out` is NULL and:
 *  -EINVAL           NULL argument;
 *  -DMP_E_BADCONFIG  capacity 0 or not a power of two, slot size 0 or too
 *                    big, bad alignment, table size, mode or flags;
 *  -DMP_E_BADNAME    invalid segment name or path;
 *  -DMP_E_INUSE      the segment exists and its producer is alive, or it
 *                    is another process's segment being created, or it
 *                    exists at all and DMP_RING_NO_RECLAIM is set;
 *  -ETIMEDOUT        fewer than `wait_consumers` attached in time
 *                    (the segment is removed again);
 *  -EACCES           the name is another user's segment (never reclaimed),
 *                    or MMAP: the directory is writable by every user;
 *  -ELOOP            MMAP (or SHM): the name is a symbolic link;
 *  -EPERM            DMP_RING_SHARE_GROUP with a group we are not in
 *                    (nothing is left behind);
 *  -EFBIG, -ENOSPC   the segment's space cannot be reserved (nothing is
 *                    left behind, no SIGBUS later);
 *  -ENOSPC, -ENOMEM, -EACCES, ... from the system (e.g. /dev/shm full).
 */
DMP_API int dmp_producer_create(const struct dmp_producer_config *cfg, struct dmp_producer **out);

/**
 * Join multi-producer ring `cfg->name` (created with DMP_RING_MULTI_PRODUCER)
 * as one more producer. Read from `cfg`: backend, name, flags (only
 * DMP_RING_SHARE_GROUP, to trust a ring shared with one of our groups,
 * and DMP_RING_MULTI_PRODUCER are accepted), wait, cpus; and, as
 * expectations (0 = take the ring's), capacity, slot_size, slot_align,
 * max_consumers, max_producers and type_tag; slot_align and max_consumers
 * left at dmp_producer_config_init()'s defaults (DMP_DEFAULT_SLOT_ALIGN,
 * DMP_DEFAULT_MAX_CONSUMERS) are no expectation either, so a config from
 * dmp_producer_config_init() with only the name set joins any ring. The handle's close never
 * removes the ring's name (its creator's does, unless DMP_RING_KEEP).
 * Does not block (except up to 100 ms for the table lock).
 *
 * @return 0 and `*out`; on failure `*out` is NULL and:
 *  -EINVAL NULL argument; -DMP_E_BADNAME bad or NULL name;
 *  -DMP_E_BADCONFIG unknown or unsupported flags, reserved bytes set;
 *  -DMP_E_MISMATCH a single-producer ring (it takes no second producer),
 *  or an expectation differs from the ring (dmp_last_error() names the
 *  field: "cfg.capacity 64, the ring has 128");
 *  -DMP_E_TABLEFULL all `max_producers` entries are held by live producers;
 *  -DMP_E_OWNERDEAD no live producer holds the ring (a stale segment);
 *  -ENOENT, -DMP_E_NOTREADY, -DMP_E_LAYOUT, -DMP_E_CORRUPT, -EACCES,
 *  -ELOOP, -ETIMEDOUT (table lock) and -errno as dmp_consumer_attach().
 */
DMP_API int dmp_producer_attach(const struct dmp_producer_config *cfg, struct dmp_producer **out);

/** Slots this producer handle published as tombstones (its aborts and
 * the claim open at close), 0 for NULL or a single-producer ring. */
DMP_API uint64_t dmp_producer_tombstones(const struct dmp_producer *p);

/**
 * Close the producer: unmap, release the producer lock and, unless
 * DMP_RING_KEEP was set, remove the segment name (attached consumers keep
 * their mapping, read what was published, then get DMP_E_OWNERDEAD from
 * their waits). Accepts NULL.
 */
DMP_API void dmp_producer_close(struct dmp_producer *p);

/** Out-of-line part of a claim: rescan the consumer table. Returns 0 if
 * sequence `last` may be written, else -EAGAIN. Not for direct use. */
DMP_API int dmp_impl_producer_refresh(struct dmp_producer *p, int64_t last);
/** Wake consumers parked on the producer cursor. Not for direct use. */
DMP_API void dmp_impl_wake_data(struct dmp_impl_ring *r);
/** Out-of-line claim of one slot (its sequence, or -EAGAIN / -EBUSY) / of
 * `n` slots, when the cached window is exhausted, and every claim on a
 * multi-producer ring. Not for direct use. */
DMP_API int64_t dmp_impl_producer_claim_next(struct dmp_producer *p);
DMP_API int dmp_impl_producer_claim_batch_slow(struct dmp_producer *p, uint64_t n, int64_t *first);
/** Publish of a multi-producer handle. Not for direct use. */
DMP_API int64_t dmp_impl_mp_publish(struct dmp_producer *p);
/** Abort of a multi-producer handle: its claim published as tombstones
 * at once. Not for direct use. */
DMP_API void dmp_impl_mp_abort(struct dmp_producer *p);

/** `next` of a multi-producer handle: its inline publish and abort take
 * the cold branch (the claimed range is kept in `mp`). No single-producer
 * ring gets there (2^62 events). */
#define DMP_IMPL_MP_NEXT (INT64_MAX / 2)

/**
 * Claim the next slot for writing, without waiting.
 * Wait-free unless the cached window is exhausted (then one table scan);
 * on a multi-producer ring lock-free (a CAS loop on the claim counter).
 * @return 0 and `*slot` (stride-aligned, `slot_size` writable bytes), or
 *         -EAGAIN if the ring is full (a gating consumer lags a full ring),
 *         or on a multi-producer ring -EBUSY if this handle's previous
 *         claim is not published or aborted yet.
 */
static inline int dmp_producer_try_claim(struct dmp_producer *p, void **slot)
{
  int64_t seq = p->claim_end;
  /* Outside the cached window (and always on a multi-producer ring, whose
   * clear_limit is INT64_MIN): the claim's sequence from out of line. */
  if (seq > p->clear_limit && (seq = dmp_impl_producer_claim_next(p)) < 0)
    return seq == -EBUSY ? -EBUSY : -EAGAIN; /* (visibly nonzero: `*slot` stays unset) */
  *slot = dmp_impl_slot(&p->ring, seq);
  p->claim_end = seq + 1;
  return 0;
}

/**
 * Claim `n` consecutive slots, without waiting. The slots may wrap around
 * the end of the ring: address each with dmp_producer_slot(p, *first + i).
 * @return 0 and `*first`, -EAGAIN if fewer than `n` slots are free, or
 *         -EINVAL if `n` is 0 or larger than the capacity.
 */
static inline int dmp_producer_try_claim_batch(struct dmp_producer *p, uint64_t n, int64_t *first)
{
  if (n == 0 || n > p->ring.capacity)
    return -EINVAL;
  int64_t last = p->claim_end + (int64_t)n - 1;
  if (last > p->clear_limit)
    return dmp_impl_producer_claim_batch_slow(p, n, first);
  *first = p->claim_end;
  p->claim_end = last + 1;
  return 0;
}

/** Address of the slot of a claimed sequence (for batch claims). */
static inline void *dmp_producer_slot(struct dmp_producer *p, int64_t seq)
{
  return dmp_impl_slot(&p->ring, seq);
}

/**
 * Publish every slot claimed since the last publish, with one release store.
 * Wait-free. On rings with wake-ups it then reads the waiter count (a futex
 * wake only if a consumer is parked); that read is ordered after the store
 * by a compiler barrier where membarrier(2) works, else by a full fence
 * (wait.h, "Wake-up protocol").
 * @return the last published sequence (-1 if nothing was ever published).
 */
static inline int64_t dmp_producer_publish(struct dmp_producer *p)
{
  int64_t last = p->claim_end - 1;
  if (__builtin_expect(last < p->next, 0)) /* nothing claimed, or a multi-producer handle */
    return p->next == DMP_IMPL_MP_NEXT ? dmp_impl_mp_publish(p) : p->next - 1;
  /* P1: release store of the cursor; pairs with C1, the consumers' acquire
   * load, so the slot writes before it are visible to them. */
  dmp_impl_store_release(&p->ring.ctl->producer_cursor, last);
  p->next = last + 1;
  uint32_t wk = p->ring.wakeups;
  if (wk != DMP_IMPL_WAKE_NONE) {
    /* P2: order the cursor store before the waiter-count load; pairs with
     * W1 (a consumer's seq_cst increment of data_waiters, then its barrier,
     * then its re-read of the cursor), so either we see the waiter or it
     * sees the new cursor: no lost wake-up. BARRIER mode: a compiler
     * barrier, made a full one by the waiter's membarrier(2); FENCE mode:
     * a full fence. The load is relaxed: the barrier orders it. */
    if (wk == DMP_IMPL_WAKE_BARRIER)
      dmp_impl_compiler_barrier();
    else
      dmp_impl_fence_seq_cst();
    if (dmp_impl_load_relaxed(&p->ring.ctl->data_waiters) != 0)
      dmp_impl_wake_data(&p->ring);
  }
  return last;
}

/**
 * Abort: drop every slot claimed since the last publish, unpublished
 * (claim_end falls back to the published position). The next claim hands
 * out the same slots again, and consumers never see what was written into
 * them: they read only up to the published cursor, and the free window
 * (clear_limit, gate_limit) stays valid because those slots are still
 * free. A no-op when nothing is claimed. Wait-free, touches no shared line.
 *
 * On a multi-producer ring the slots cannot be handed out again (other
 * producers' slots lie beyond them): the abort publishes them as
 * tombstones before it returns (out of line: one marker store per slot,
 * then the shared cursor moved over the done slots, lock-free and
 * bounded), so consumers step over them (counting them) and go on to
 * whatever other producers published after them, even if this producer
 * then claims nothing for a long time. The next claim takes new slots.
 */
static inline void dmp_producer_abort(struct dmp_producer *p)
{
  if (__builtin_expect(p->next == DMP_IMPL_MP_NEXT, 0)) { /* a multi-producer handle */
    dmp_impl_mp_abort(p);
    return;
  }
  p->claim_end = p->next;
}

/** @name Binding entry points
 * Out-of-line twins of the inline functions above, for language bindings
 * that can call only exported functions (Python's ctypes: the `myelon`
 * package): the same contract and return codes, plus one call. C and C++
 * code calls the inline functions. (src/bind.c)
 * @{ */
DMP_API int dmp_producer_try_claim_fn(struct dmp_producer *p, void **slot);
DMP_API int dmp_producer_try_claim_batch_fn(struct dmp_producer *p, uint64_t n, int64_t *first);
DMP_API void *dmp_producer_slot_fn(struct dmp_producer *p, int64_t seq);
DMP_API int64_t dmp_producer_publish_fn(struct dmp_producer *p);
DMP_API void dmp_producer_abort_fn(struct dmp_producer *p);
/** @} */

/**
 * Claim one slot, waiting with the producer's wait strategy while the ring
 * is full. `timeout_ns` < 0 (DMP_FOREVER) waits without a deadline.
 * @return 0 and `*slot`; -ETIMEDOUT; -DMP_E_OWNERDEAD never (producer side);
 *         -EINVAL for NULL arguments.
 */
DMP_API int dmp_producer_claim_timeout(struct dmp_producer *p, void **slot, int64_t timeout_ns);

/** Batch form of dmp_producer_claim_timeout(). -EINVAL if n is 0 or > capacity. */
DMP_API int dmp_producer_claim_batch_timeout(struct dmp_producer *p, uint64_t n, int64_t *first,
                                             int64_t timeout_ns);

/**
 * Copy `len` bytes (<= slot size; the rest of the slot is zeroed) into the
 * next slot and publish it, without waiting.
 * @return the published sequence (>= 0), -EAGAIN if full, -EINVAL for NULL
 *         or `len` larger than the slot.
 */
DMP_API int64_t dmp_producer_try_publish(struct dmp_producer *p, const void *src, size_t len);

/** As dmp_producer_try_publish(), waiting up to `timeout_ns` for space
 * (DMP_FOREVER: no deadline). -ETIMEDOUT when time runs out. */
DMP_API int64_t dmp_producer_publish_timeout(struct dmp_producer *p, const void *src, size_t len,
                                             int64_t timeout_ns);

/** Last published sequence (-1 if none). */
DMP_API int64_t dmp_producer_sequence(const struct dmp_producer *p);

/** Cursor of the slowest gating consumer, or the producer's own sequence
 * when no consumer gates. Reads the table (not for the hot path). */
DMP_API int64_t dmp_producer_min_gating_sequence(const struct dmp_producer *p);

/**
 * Coordination (WaitForConsumers): wait until at least `n` consumers are
 * attached (ACTIVE), parking on the table's futex (no spinning).
 * @return the number attached (>= n), or -ETIMEDOUT (the detail names how
 *         many were there), -EINVAL for n == 0.
 */
DMP_API int dmp_producer_wait_for_consumers(struct dmp_producer *p, uint32_t n, int64_t timeout_ns);

/**
 * Rendezvous by explicit ids: wait until every id in `ids[0..n)` is attached.
 * @return 0, or -ETIMEDOUT with the missing ids named in dmp_last_error(),
 *         -EINVAL for NULL/invalid ids.
 */
DMP_API int dmp_producer_wait_for_ids(struct dmp_producer *p, const char *const *ids, size_t n,
                                      int64_t timeout_ns);

/* ---- Accessors: what layers above may know of a producer --------------- */

/** The ring's locator as created: "/name" for SHM (with the leading '/'
 * whether or not `cfg.name` had one), the file path as given for MMAP.
 * Valid until dmp_producer_close(). NULL for NULL. Thread-safe,
 * does not block, reads no shared memory. */
DMP_API const char *dmp_producer_name(const struct dmp_producer *p);

/** Capacity (slots) of the ring: a power of two; 0 for NULL. The most
 * events a batch claim can take at once (dmp_producer_try_claim_batch()).
 * Does not block, reads no shared memory. */
DMP_API uint64_t dmp_producer_capacity(const struct dmp_producer *p);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_PRODUCER_H */
