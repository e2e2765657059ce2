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
 * every DMP_WAIT_LIVENESS_NS, so a dead peer ends the wait with an error
 * instead of hanging.
 */
#ifndef DISRUPTOR_MP_WAIT_H
#define DISRUPTOR_MP_WAIT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How often a parked or sleeping waiter checks that its peer is alive. */
#define DMP_WAIT_LIVENESS_NS INT64_C(50000000) /* 50 ms */

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
};

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
