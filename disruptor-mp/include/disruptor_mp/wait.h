/**
 * @file wait.h
 * @brief Wait strategies: what a producer or consumer does while it waits.
 *
 * | kind            | while waiting                                        | CPU   |
 * |-----------------|------------------------------------------------------|-------|
 * | DMP_WAIT_SPIN   | re-polls with a CPU pause hint                       | 100%  |
 * | DMP_WAIT_YIELD  | `spins` pause hints, then sched_yield()              | high  |
 * | DMP_WAIT_SLEEP  | `spins` pause hints, then nanosleep(`sleep_ns`)      | low   |
 * | DMP_WAIT_BLOCK  | `spins` pause hints, DMP_WAIT_BLOCK_YIELDS yields,   | ~0%   |
 * |                 | then parks on a futex                                |       |
 *
 * DMP_WAIT_BLOCK (the default) parks on a futex in the segment. Parked
 * waiters register in a counter so the other side only pays for a wake-up
 * system call when somebody sleeps. It needs a ring created with wake-ups
 * (the default); on a ring created with DMP_RING_NO_WAKEUPS it behaves like
 * DMP_WAIT_SLEEP.
 *
 * While parked or sleeping, a waiter re-checks its peer's liveness about
 * every `liveness_ms` (default DMP_WAIT_LIVENESS_NS), so a dead peer ends
 * the wait with an error instead of hanging. A parked waiter never relies
 * on that period to notice data or space: it is woken (below).
 *
 * Wake-up protocol (rings with wake-ups, the default)
 * ---------------------------------------------------
 * A waiter about to park announces itself in a waiter count (data_waiters
 * for consumers waiting for events, space_waiters for a producer waiting for
 * a slow consumer), then re-reads what it waits for, then sleeps on a futex
 * only if nothing changed (FUTEX_WAIT re-checks the word atomically). The
 * other side - the "fast side", run on every publish and every release -
 * stores its cursor, then reads the waiter count and wakes if it is nonzero.
 * Both sides are a store followed by a load of the other's location (the
 * store-buffering pattern): each needs a full barrier between its store and
 * its load, or both may read the old values and the waiter sleeps through
 * the event. The pairs are
 *
 *   publish  P1 store producer cursor, P2 barrier, load data_waiters
 *     with   W1 increment data_waiters, barrier, load producer cursor
 *   release  C2 store consumer cursor, C3 barrier, load space_waiters
 *     with   W2 increment space_waiters, barrier, load consumer cursors
 *
 * Which barrier each side uses is asymmetric, so the per-event side pays
 * nothing in the common case:
 *
 *  - Rings created where membarrier(2) works (header flag
 *    DMP_SEG_F_MEMBARRIER; default unless DMP_RING_NO_MEMBARRIER): every
 *    participant registers its process with
 *    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED when it creates or attaches
 *    (MEMBARRIER_CMD_QUERY first). The fast side then uses only a compiler
 *    barrier (P2, C3); a waiter, after its seq_cst increment and a fence,
 *    calls membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which runs a full
 *    barrier on every CPU currently running a thread of a registered
 *    process (a thread not running is at a context switch, itself a full
 *    barrier). Whichever point of the fast side's program that barrier hits,
 *    either its waiter-count load comes after it and sees the increment, or
 *    its cursor store came before it and the waiter's re-read sees the
 *    cursor (membarrier(2): "barrier() pairs with membarrier()").
 *  - A participant whose own process cannot register (old kernel, seccomp,
 *    DMP_MEMBARRIER=0 in the environment) keeps the full fence on its fast
 *    side, which pairs with the waiter's fence as before. If such a process
 *    waits on a DMP_SEG_F_MEMBARRIER ring, its peers may be using the
 *    compiler barrier, so it parks at most 5 ms at a time and re-checks: no
 *    hang, at worst a late wake-up. On rings created without the flag every
 *    participant fences on its fast side (the protocol before membarrier).
 *
 * The decision is made per handle at create/attach and never changes, so
 * the branch in publish/release is perfectly predictable. Registration is
 * per process (inherited by fork, reset by exec, as is the library's state).
 */
#ifndef DISRUPTOR_MP_WAIT_H
#define DISRUPTOR_MP_WAIT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How often a parked or sleeping waiter checks that its peer is alive. */
#define DMP_WAIT_LIVENESS_NS INT64_C(50000000) /* 50 ms */

/** The longest a call without a timeout argument waits for the consumer
 * table's lock (an OFD lock that attach, close and eviction hold for
 * microseconds): dmp_consumer_attach(), dmp_consumer_close(),
 * dmp_consumer_close_forget(), dmp_producer_evict(). Only a peer that is
 * stopped (SIGSTOP, a debugger) or hostile while holding it makes them wait
 * that long; what each does then is in its own comment. Calls that take a
 * timeout wait for the lock until their deadline instead, and
 * dmp_producer_check_liveness() never waits for it. */
#define DMP_TABLE_WAIT_NS INT64_C(100000000) /* 100 ms */

/** Pass as a timeout to wait without a deadline. */
#define DMP_FOREVER INT64_C(-1)

enum dmp_wait_kind {
  DMP_WAIT_BLOCK = 0, /**< spin, then futex park (default) */
  DMP_WAIT_SPIN = 1,  /**< busy-spin with a pause hint */
  DMP_WAIT_YIELD = 2, /**< spin, then sched_yield() */
  DMP_WAIT_SLEEP = 3, /**< spin, then sleep sleep_ns */
};

struct dmp_wait_strategy {
  enum dmp_wait_kind kind;
  uint32_t spins;    /**< pause-hint polls before yielding/sleeping/parking; 0 = default (256) */
  uint32_t sleep_ns; /**< DMP_WAIT_SLEEP only; 0 = default (50 us) */
  /** How often a waiter that parks or sleeps checks that its peer is alive,
   * in milliseconds (also the longest single futex park); 0 = default
   * (DMP_WAIT_LIVENESS_NS, 50 ms), at most DMP_WAIT_LIVENESS_MAX_MS. Longer
   * means fewer idle wake-ups and later notice of a dead peer. */
  uint32_t liveness_ms;
  uint32_t reserved[4]; /**< zero: room for later fields (config.h, "Growing a configuration") */
};

/** Upper bound of dmp_wait_strategy.liveness_ms: one hour. */
#define DMP_WAIT_LIVENESS_MAX_MS 3600000u

#define DMP_WAIT_DEFAULT_SPINS 256u
/** Yields a DMP_WAIT_BLOCK waiter makes after spinning and before parking:
 * a peer that is about to act usually does so within them, which saves a
 * park/wake pair of system calls on a busy stream. */
#define DMP_WAIT_BLOCK_YIELDS 32u
#define DMP_WAIT_DEFAULT_SLEEP_NS 50000u

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_WAIT_H */
