/**
 * @file consumer.h
 * @brief A consumer: attaches to a ring by id and reads every event in order.
 *
 * Broadcast: every consumer sees every event published after it started.
 * Reads are leased and zero-copy: dmp_consumer_try_peek() hands out a
 * pointer into the shared slot, which stays intact until
 * dmp_consumer_release() (the producer cannot overwrite it: the consumer's
 * cursor gates it). Several peeks may be released at once.
 *
 *     const void *ev; int64_t seq;
 *     while (dmp_consumer_try_peek(c, &ev, &seq) == 0) {
 *       handle(ev, seq);
 *       dmp_consumer_release(c);
 *     }
 *
 * One consumer handle per thread at a time. Distinct handles (in one or
 * several processes) are independent.
 *
 * Non-gating consumers (DMP_CONSUMER_NON_GATING)
 * -----------------------------------------------
 * A non-gating (lossy) consumer is listed in the consumer table like any
 * other, but the producer never waits for it: it suits observers such as a
 * recorder that must never slow the stream down. It reads by copy only:
 *
 *  - dmp_consumer_try_copy() / dmp_consumer_copy_timeout() copy the next
 *    event out, then check that the producer had not been allowed to
 *    overwrite the slot before the copy ended (layout.h, "Reading without
 *    gating"): a copy they return is never torn.
 *  - dmp_consumer_process() works too: each event is copied into an
 *    internal buffer (slot size, slot alignment) and validated before the
 *    callback sees it; the pointer is valid during the call only.
 *  - dmp_consumer_try_peek() and dmp_consumer_peek_timeout() (leases into
 *    the shared slot) are refused with -EINVAL: nothing would keep the
 *    slot from being overwritten while it is leased.
 *
 * If it fell behind, a read skips to the oldest event that is still
 * intact: the sequence returned jumps, and dmp_consumer_missed() (which is
 * cumulative) grows by the number of events skipped. Sequences returned
 * always increase. A reader less than capacity / 2 events behind the
 * producer never loses an event (once the producer has rescanned its table
 * after the attach - within `capacity` events); a ring of capacity 1 can
 * never be read without gating. Its cursor in the table records what it
 * last read, for dmp-stat; it never gates, and liveness never stalls,
 * alerts on or evicts it automatically.
 *
 * On a multi-producer ring (DMP_RING_MULTI_PRODUCER) a non-gating reader
 * also steps over tombstones (a dead producer's or an aborted claim's
 * slots: never copied, counted in dmp_consumer_tombstones()); a tombstone
 * it was lapped over counts as missed. Each producer's table scan may
 * raise the overwrite limit, so a reader close behind may be counted as
 * lapped somewhat sooner than on a single-producer ring.
 */
#ifndef DISRUPTOR_MP_CONSUMER_H
#define DISRUPTOR_MP_CONSUMER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/config.h>
#include <disruptor_mp/export.h>
#include <disruptor_mp/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmp_consumer {
  struct dmp_impl_ring ring;   /* hot: read by the inline functions */
  dmp_atomic_i64 *cursor;      /**< this consumer's cursor in the table */
  int64_t next;                /**< next sequence to read */
  int64_t available;           /**< producer cursor as last loaded */
  int64_t committed;           /**< last value stored to *cursor */
  uint32_t index;              /**< entry index in the consumer table */
  /** Nonzero: `available` is not refreshed inline (try_peek's reload goes
   * out of line). DMP_IMPL_C_LOSSY: DMP_CONSUMER_NON_GATING, never cached;
   * DMP_IMPL_C_MP: a multi-producer ring, cached only up to the next
   * tombstone by the out-of-line reload. */
  uint32_t non_gating;
  uint64_t missed;             /**< events skipped (see dmp_consumer_missed) */
  struct dmp_consumer_config cfg; /* cold */
  char id[DMP_ID_MAX + 1];
  struct dmp_counters *counters; /**< NULL without counters (counters.h); cold paths only */
  void *copy_buf;                /**< non-gating process(): one slot, allocated on first use */
  /** CLOCK_MONOTONIC ns at which the next wait checks the producer and our
   * entry (0: at once). Kept across calls, so short waits still check once
   * per liveness period (dmp_consumer_wait()). Cold; after the hot fields. */
  int64_t liveness_due;
  uint32_t generation; /**< our entry's generation after our join (consumer.c, entry_ours) */
  uint64_t tombstones; /**< tombstones stepped over (multi-producer rings) */
  int64_t mp_frontier; /**< multi-producer rings: the published frontier as last found (multi.c) */
};

#define DMP_IMPL_C_LOSSY 1u /**< consumer.non_gating: a non-gating consumer */
#define DMP_IMPL_C_MP 2u    /**< consumer.non_gating: a multi-producer ring */

/**
 * Attach to an existing ring as consumer `cfg->id`.
 *
 * - A new id takes a free table entry and starts per `cfg->start`.
 * - An id that is already in the table resumes after its stored position.
 *   If that position was overwritten while the id was detached (only
 *   possible without DMP_CONSUMER_DURABLE), it resumes at the oldest event
 *   it can safely read (as DMP_START_OLDEST) and dmp_consumer_missed() tells how many it lost.
 * - An id held by a live process is refused; an id whose holder died (its
 *   OFD lock is gone) is taken over and resumes.
 *
 * Never reads a slot the producer may have overwritten.
 *
 * @return 0 and `*out`; on failure `*out` is NULL and:
 *  -EINVAL NULL argument; -DMP_E_BADNAME bad name/path or id (NULL too);
 *  -DMP_E_BADCONFIG unknown flags, start or wait kind, or
 *  DMP_CONSUMER_NON_GATING with DMP_CONSUMER_DURABLE;
 *  -ENOENT no such segment; -DMP_E_NOTREADY segment still being created;
 *  -DMP_E_LAYOUT other layout version; -DMP_E_CORRUPT bad header or size;
 *  -DMP_E_MISMATCH slot size, alignment or type tag differ from `cfg`;
 *  -DMP_E_IDINUSE the id is attached by a live process;
 *  -DMP_E_TABLEFULL no free table entry; -DMP_E_OWNERDEAD the producer
 *  is gone; -ETIMEDOUT another process held the consumer table's lock for
 *  DMP_TABLE_WAIT_NS (100 ms: it is stopped or hostile; honest holders keep
 *  it for microseconds), the bound of this call's only wait; -EACCES another user's segment (unless DMP_CONSUMER_ALLOW_GROUP
 *  and it is shared with one of our groups), one that every user may
 *  access, or MMAP: a directory every user may write (config.h,
 *  "Permissions"; dmp_last_error() says whose it is); -ELOOP a symbolic
 *  link; other -errno from the system.
 */
DMP_API int dmp_consumer_attach(const struct dmp_consumer_config *cfg, struct dmp_consumer **out);

/**
 * As dmp_consumer_attach(), retrying while the segment does not exist yet,
 * is being created, or has no live producer (a stale segment that a
 * restarting producer will replace): consumer-first start-up. Bounded by
 * `timeout_ns` (plus one 1 ms retry sleep at most), also while another
 * process holds the consumer table's lock: it waits for that lock until
 * its deadline, not DMP_TABLE_WAIT_NS.
 * @return as dmp_consumer_attach(), or -ETIMEDOUT.
 */
DMP_API int dmp_consumer_attach_timeout(const struct dmp_consumer_config *cfg, int64_t timeout_ns,
                                        struct dmp_consumer **out);

/**
 * Detach: releases what was read, then marks the entry IDLE (its id and
 * cursor are kept for a later resume; it stops gating the producer unless
 * DMP_CONSUMER_DURABLE). Accepts NULL.
 *
 * Blocks at most DMP_TABLE_WAIT_NS (100 ms) for the consumer table's lock.
 * If another process holds it longer (stopped or hostile), the entry is
 * still made IDLE (one store, safe under the entry's own lock), so the id
 * resumes as after any close.
 * An entry that is no longer ours (freed or renamed behind the library's
 * back: a wait returned -DMP_E_EVICTED) is left alone: neither the cursor
 * nor the state is written into it. The entry's own lock is released
 * before the table lock, so an attacher that finds the entry free can
 * always take it.
 */
DMP_API void dmp_consumer_close(struct dmp_consumer *c);

/**
 * Detach and forget: frees the table entry, so a later attach with the same
 * id starts fresh. Accepts NULL. Bounded and careful as dmp_consumer_close();
 * if another process held the table lock all of DMP_TABLE_WAIT_NS, the
 * entry is left IDLE instead of freed (freeing needs the lock).
 */
DMP_API void dmp_consumer_close_forget(struct dmp_consumer *c);

/** Wake a producer parked for space. Not for direct use. */
DMP_API void dmp_impl_wake_space(struct dmp_consumer *c);
/** try_peek on a non-gating consumer: records the error detail. Not for direct use. */
DMP_API void dmp_impl_peek_refused(struct dmp_consumer *c);
/** try_peek's reload for a handle with `non_gating` set: -EINVAL on a
 * non-gating consumer; on a multi-producer ring, steps `next` over
 * tombstones and sets `available` (0), or -EAGAIN. Not for direct use. */
DMP_API int dmp_impl_consumer_reload(struct dmp_consumer *c);

/** dmp_consumer_available() of a multi-producer ring, whose consumers
 * find what is published from the per-slot markers. Not for direct use. */
DMP_API int64_t dmp_impl_mp_available(struct dmp_consumer *c);

/** False for a producer cursor `a` that no honest producer can show this
 * consumer, i.e. one scribbled by a peer that writes the segment behind the
 * library's back (a stray write, a hostile process): for a gating
 * consumer, behind what it released or more than a ring ahead of it (the
 * producer gates on it); for a non-gating one, beyond the limit the
 * producer stores before it publishes (P4; loaded after `a`). Callers
 * treat such a cursor as "nothing new" until the producer's next publish
 * repairs it. Not for direct use. */
static inline bool dmp_impl_cursor_sane(struct dmp_consumer *c, int64_t a)
{
  if (!(c->non_gating & DMP_IMPL_C_LOSSY))
    return (uint64_t)a - (uint64_t)c->committed <= c->ring.capacity;
  /* Relaxed: the producer stores gate_limit (P4) before it publishes any
   * cursor at or below it (P1), and our C1 load of `a` acquired that, so
   * an honest `a` is never above what we load here. */
  return a <= dmp_impl_load_relaxed(&c->ring.ctl->gate_limit);
}

/** Number of events published and not yet peeked (one acquire load). On a
 * non-gating consumer some of them may be overwritten before they are read;
 * on a multi-producer ring some may be tombstones (an upper bound), and
 * the count comes from the per-slot markers (an out-of-line scan from the
 * consumer's position, at most a ring). */
static inline int64_t dmp_consumer_available(struct dmp_consumer *c)
{
  if (c->non_gating & DMP_IMPL_C_MP) /* a multi-producer ring: from the markers */
    return dmp_impl_mp_available(c);
  /* C1: acquire load of the producer cursor; pairs with P1. */
  int64_t a = dmp_impl_load_acquire(&c->ring.ctl->producer_cursor);
  /* A non-gating consumer never caches it: try_peek's fast path must not
   * hand out its slots (they are not protected from the producer). */
  if (!dmp_impl_cursor_sane(c, a))
    a = c->next - 1; /* scribbled by a peer: read as nothing new */
  if (!c->non_gating)
    c->available = a;
  /* `a` comes from shared memory and may be any value (a hostile peer):
   * below `next` means nothing new, and the count is taken in unsigned
   * arithmetic and capped, so no value can overflow it. Honest values
   * never reach the cap; the extra compare is predictable. */
  if (a < c->next)
    return 0;
  uint64_t n = (uint64_t)a - (uint64_t)c->next + 1;
  return n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

/**
 * Lease the next event without waiting: `*event` points into the shared
 * slot and stays valid until dmp_consumer_release().
 * @return 0 with `*event` and `*seq`, -EAGAIN if nothing new is published,
 *         or -EINVAL on a non-gating consumer (use the copying reads).
 */
static inline int dmp_consumer_try_peek(struct dmp_consumer *c, const void **event, int64_t *seq)
{
  int64_t s = c->next;
  if (s > c->available) {
    /* Only here, off the fast path: a non-gating consumer's `available`
     * stays below its `next`, so every peek of it comes this way. */
    if (c->non_gating) { /* -EINVAL (non-gating), or a multi-producer ring */
      int rc = dmp_impl_consumer_reload(c);
      if (rc < 0)
        return rc;
      s = c->next; /* past the tombstones the reload stepped over */
    } else {
      /* C1: acquire load of the producer cursor; pairs with P1. */
      c->available = dmp_impl_load_acquire(&c->ring.ctl->producer_cursor);
      /* The producer of a gating consumer is never behind what the consumer
       * released, nor more than a ring ahead of it (it gates on it): any
       * other value is a cursor a peer scribbled (a stray write, a hostile
       * process with write access), read as "nothing new" until the
       * producer's next publish repairs it, so a consumer never runs off
       * into slots that were never published. One
       * predictable unsigned compare, on this reload path only. */
      if ((uint64_t)c->available - (uint64_t)c->committed > c->ring.capacity)
        c->available = s - 1;
      if (s > c->available)
        return -EAGAIN;
    }
  }
  *event = dmp_impl_slot(&c->ring, s);
  *seq = s;
  c->next = s + 1;
  return 0;
}

/**
 * Release every event peeked so far, letting the producer reuse the slots.
 * Wait-free: one release store; on rings with wake-ups, then a read of the
 * producer's waiter count, ordered after the store by a compiler barrier
 * where membarrier(2) works, else by a full fence (wait.h).
 */
static inline void dmp_consumer_release(struct dmp_consumer *c)
{
  int64_t last = c->next - 1;
  if (last == c->committed)
    return;
  /* C2: release store of this consumer's cursor; pairs with P5, the
   * producer's acquire load when it rescans the table, so our reads of the
   * slots happen before it overwrites them. */
  dmp_impl_store_release(c->cursor, last);
  c->committed = last;
  uint32_t wk = c->ring.wakeups;
  if (wk != DMP_IMPL_WAKE_NONE) {
    /* C3: order the cursor store before the waiter-count load; pairs with
     * W2 (the producer's seq_cst increment of space_waiters, then its
     * barrier, then its re-read of the cursors). BARRIER mode: a compiler
     * barrier, made a full one by the producer's membarrier(2); FENCE mode:
     * a full fence. The load is relaxed: the barrier orders it. */
    if (wk == DMP_IMPL_WAKE_BARRIER)
      dmp_impl_compiler_barrier();
    else
      dmp_impl_fence_seq_cst();
    if (dmp_impl_load_relaxed(&c->ring.ctl->space_waiters) != 0)
      dmp_impl_wake_space(c);
  }
}

/**
 * Release the events peeked up to and including `seq`, and keep those
 * peeked after it leased: a reader that reads ahead of what it may give
 * back (the bridge's egress holds each message until the remote host
 * acknowledged it) moves its durable position one acknowledgement at a
 * time. Same stores and wake-ups as dmp_consumer_release() (whose effect
 * it has with `seq` = the last event peeked). Cold path; wait-free.
 * One consumer handle per thread, as for every read.
 * @param c   a gating consumer
 * @param seq the last event to release: from dmp_consumer_sequence() (no
 *            change) to the last event peeked (dmp_consumer_next() - 1)
 * @return 0; -EINVAL for NULL, a non-gating consumer or a `seq` outside
 *         that range (nothing changes).
 */
DMP_API int dmp_consumer_release_to(struct dmp_consumer *c, int64_t seq);

/**
 * Give back the events peeked and not released: the next peek returns
 * the first of them again (their slots stayed gated, so they are intact).
 * A reader that holds events it may not release yet calls this before
 * dmp_consumer_close(), which would otherwise release them: a durable
 * entry then resumes at the first event it did not release. Cold path.
 * On a multi-producer ring the tombstones among them are stepped over
 * (and counted in dmp_consumer_tombstones()) again.
 * @param c a gating consumer
 * @return the sequence the next peek returns; -EINVAL for NULL or a
 *         non-gating consumer.
 */
DMP_API int64_t dmp_consumer_unpeek(struct dmp_consumer *c);

/** @name Binding entry points
 * Out-of-line twins of dmp_consumer_available(), dmp_consumer_try_peek()
 * and dmp_consumer_release(), for language bindings that can call only
 * exported functions (Python's ctypes: the `myelon` package): the same
 * contract and return codes, plus one call. (src/bind.c)
 * @{ */
DMP_API int64_t dmp_consumer_available_fn(struct dmp_consumer *c);
DMP_API int dmp_consumer_try_peek_fn(struct dmp_consumer *c, const void **event, int64_t *seq);
DMP_API void dmp_consumer_release_fn(struct dmp_consumer *c);
/** @} */

/**
 * Wait until at least one event is available, with the consumer's wait
 * strategy. `timeout_ns` < 0 (DMP_FOREVER) waits without a deadline, but a
 * dead producer always ends the wait.
 * While waiting it also checks, at the liveness period (wait.liveness_ms)
 * and whenever a park ends without data, that the producer is alive and
 * that our table entry is still ours. The period is kept in the handle
 * across calls, so a caller polling with timeouts shorter than it (any
 * wait strategy, timeout 0 included) still checks once per period: a dead
 * producer ends such a loop within about one period (50 ms by default).
 * Returns within `timeout_ns` plus one wait-strategy step (a SLEEP step
 * never sleeps past the deadline).
 * @return the number available (> 0), -ETIMEDOUT, -DMP_E_OWNERDEAD if
 *         the producer exited or crashed and nothing is left to read, or
 *         -DMP_E_EVICTED if our table entry was freed or renamed behind the
 *         library's back (corrupted or hostile shared memory; the producer
 *         no longer waits for us, so reading on is unsafe): close the
 *         handle and attach again.
 */
DMP_API int64_t dmp_consumer_wait(struct dmp_consumer *c, int64_t timeout_ns);

/** dmp_consumer_wait() then dmp_consumer_try_peek(). Returns 0 or the
 * wait's error; -EINVAL on a non-gating consumer. */
DMP_API int dmp_consumer_peek_timeout(struct dmp_consumer *c, const void **event, int64_t *seq,
                                      int64_t timeout_ns);

/**
 * Batch callback: `event` points into the slot (valid during the call),
 * `end_of_batch` is true on the last event of the snapshot being processed.
 * Return 0 to continue, nonzero to stop after this event.
 */
typedef int (*dmp_event_fn)(const void *event, int64_t seq, bool end_of_batch, void *user);

/**
 * Process every event available now (at most `max`, 0 = no limit) in place,
 * then release them with one store. On a non-gating consumer each event is
 * first copied into an internal buffer and validated (see the file
 * comment): the callback never sees a torn event, events overwritten
 * before they could be copied are skipped and counted in
 * dmp_consumer_missed(), and `end_of_batch` marks the last event of the
 * snapshot taken at the call.
 * @return number of events processed (0 if none), -EINVAL for NULL,
 *         -ENOMEM if a non-gating consumer's buffer cannot be allocated.
 */
DMP_API int64_t dmp_consumer_process(struct dmp_consumer *c, dmp_event_fn fn, size_t max, void *user);

/**
 * Copy out the next event (`len` bytes, at most the slot size) and release
 * it, without waiting. On a non-gating consumer the copy is validated
 * after it is made; if the event was overwritten the read skips to the
 * oldest intact one (a larger `*seq`; dmp_consumer_missed() grows).
 * @return 0 with `*seq`, -EAGAIN (nothing new; on a non-gating consumer
 *         also when 64 copies in a row were overwritten, with the skipped
 *         events counted), -EINVAL. On error `dst` holds unspecified bytes.
 */
DMP_API int dmp_consumer_try_copy(struct dmp_consumer *c, void *dst, size_t len, int64_t *seq);

/** As dmp_consumer_try_copy(), waiting up to `timeout_ns`. */
DMP_API int dmp_consumer_copy_timeout(struct dmp_consumer *c, void *dst, size_t len, int64_t *seq,
                                      int64_t timeout_ns);

/** Sequence of the last released event (-1 if none). */
DMP_API int64_t dmp_consumer_sequence(const struct dmp_consumer *c);

/** Events skipped because they had been overwritten: at a resume (see
 * dmp_consumer_attach()) and, on a non-gating consumer, by reads that fell
 * behind. Cumulative over the handle's life. */
DMP_API uint64_t dmp_consumer_missed(const struct dmp_consumer *c);

/** Tombstones this consumer stepped over (multi-producer rings: slots of
 * producers that died between claim and publish, or aborted). 0 for NULL. */
DMP_API uint64_t dmp_consumer_tombstones(const struct dmp_consumer *c);

/** True if the ring's producer holds its lock (is alive); on a
 * multi-producer ring, if any of its producers does. Cold path. */
DMP_API bool dmp_consumer_producer_alive(const struct dmp_consumer *c);

/** Slot size of the attached ring. */
DMP_API uint32_t dmp_consumer_slot_size(const struct dmp_consumer *c);

/** Slot alignment of the attached ring. */
DMP_API uint32_t dmp_consumer_slot_align(const struct dmp_consumer *c);

/** Capacity (slots) of the attached ring. */
DMP_API uint64_t dmp_consumer_capacity(const struct dmp_consumer *c);

/** Type tag the ring was created with (0 = untyped). Layers above use it
 * to check the ring carries their format. */
DMP_API uint64_t dmp_consumer_type_tag(const struct dmp_consumer *c);

/** The ring's creation epoch: a random value, new at every creation, so a
 * consumer can tell a restarted producer's ring from the old one. */
DMP_API uint64_t dmp_consumer_epoch(const struct dmp_consumer *c);

/** The ring's locator as attached, in the form of dmp_producer_name().
 * Valid until the handle is closed. NULL for NULL. Does not block,
 * reads no shared memory. */
DMP_API const char *dmp_consumer_name(const struct dmp_consumer *c);

/** Sequence of the next event this consumer will peek: one past the last
 * one peeked (dmp_consumer_sequence() + 1 when nothing is leased). 0 right
 * after an attach means the consumer starts at the ring's first event
 * ever published. -EINVAL for NULL. Does not block, reads no shared memory. */
DMP_API int64_t dmp_consumer_next(const struct dmp_consumer *c);

/** How many times this consumer's table entry has been attached, this
 * attach included (dmp_consumer_info.generation): 1 when this attach
 * created the entry, more when it resumed or took over an id that was in
 * the table already. 0 for NULL. A layer that rejects a ring after
 * attaching uses it to choose dmp_consumer_close_forget() (its own fresh
 * entry: leave no trace) over dmp_consumer_close() (someone's earlier
 * position: keep it). The value this attach gave the entry, kept in the
 * handle (a peer scribbling the entry cannot change it). Does not block. */
DMP_API uint32_t dmp_consumer_generation(const struct dmp_consumer *c);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_CONSUMER_H */
