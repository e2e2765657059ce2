/**
 * @file ring.h
 * @brief The process-local view of a mapped ring that the inline hot paths use.
 *
 * Not an API to program against: its fields may change between versions.
 * It is in a public header only so that claim/publish/peek/release can be
 * `static inline` (no call, no PLT) in the user's code.
 */
#ifndef DISRUPTOR_MP_RING_H
#define DISRUPTOR_MP_RING_H

#include <stdint.h>

#include <disruptor_mp/layout.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmp_impl_segment; /* opaque: mapping, fd, name, ownership (defined in src/internal.h) */

/* dmp_impl_ring.wakeups, decided per handle at create/attach (wait.h,
 * "Wake-up protocol"). */
#define DMP_IMPL_WAKE_NONE 0u    /**< ring without wake-ups: no waiter check */
#define DMP_IMPL_WAKE_FENCE 1u   /**< full fence, then the waiter count */
#define DMP_IMPL_WAKE_BARRIER 2u /**< compiler barrier, then the waiter count:
                                      waiters issue membarrier(2) instead */

struct dmp_impl_ring {
  uint8_t *slots;                         /**< slot 0 */
  uint64_t mask;                          /**< capacity - 1 */
  uint64_t capacity;
  uint32_t stride;                        /**< bytes between slots */
  uint32_t wakeups;                       /**< DMP_IMPL_WAKE_*: how publish/release
                                               pair with parked waiters */
  struct dmp_segment_control *ctl;        /**< start of the mapping */
  struct dmp_consumer_entry *table;       /**< consumer table */
  struct dmp_impl_segment *seg;
};

/** Address of the slot that holds sequence `seq`. */
static inline void *dmp_impl_slot(const struct dmp_impl_ring *r, int64_t seq)
{
  return r->slots + ((uint64_t)seq & r->mask) * r->stride;
}

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_RING_H */
