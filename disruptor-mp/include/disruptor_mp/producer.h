/**
 * @file producer.h
 * @brief The producer: creates a ring, claims slots in place and publishes them.
 *
 * One producer per ring, used from one thread at a time. Claims are zero
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

struct dmp_producer {
  struct dmp_impl_ring ring; /* hot: read by the inline functions */
  int64_t next;              /**< first sequence not yet published */
  int64_t claim_end;         /**< first sequence not yet claimed (>= next) */
  int64_t clear_limit;       /**< highest sequence known to be free to write */
  struct dmp_producer_config cfg; /* cold, copied at create (name points into seg) */
  struct dmp_impl_liveness *liveness; /* NULL unless enabled (liveness.h) */
  struct dmp_counters *counters;      /* NULL without counters (counters.h); cold paths only */
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

/**
 * Claim the next slot for writing, without waiting.
 * Wait-free unless the cached window is exhausted (then one table scan).
 * @return 0 and `*slot` (stride-aligned, `slot_size` writable bytes), or
 *         -EAGAIN if the ring is full (a gating consumer lags a full ring).
 */
static inline int dmp_producer_try_claim(struct dmp_producer *p, void **slot)
{
  int64_t seq = p->claim_end;
  if (seq > p->clear_limit && dmp_impl_producer_refresh(p, seq) < 0)
    return -EAGAIN;
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
  if (last > p->clear_limit && dmp_impl_producer_refresh(p, last) < 0)
    return -EAGAIN;
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
  if (last < p->next)
    return p->next - 1;
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
 */
static inline void dmp_producer_abort(struct dmp_producer *p)
{
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
