/**
 * @file config.h
 * @brief Configuration of producers (which create rings) and consumers.
 *
 * Initialise a configuration with dmp_producer_config_init() or
 * dmp_consumer_config_init(), then set the fields you need: every field has
 * a documented default, and every field is validated by the create/attach
 * call, which names the offending field in dmp_last_error().
 */
#ifndef DISRUPTOR_MP_CONFIG_H
#define DISRUPTOR_MP_CONFIG_H

#include <stdint.h>

#include <disruptor_mp/export.h>
#include <disruptor_mp/wait.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Where a ring lives. */
enum dmp_backend {
  DMP_BACKEND_SHM = 0,  /**< POSIX shared memory; `name` is a segment name */
  DMP_BACKEND_MMAP = 1, /**< a memory-mapped regular file; `name` is its path */
};

/* Producer (ring) flags. */
#define DMP_RING_KEEP 0x1u        /**< do not remove the segment on close */
#define DMP_RING_NO_WAKEUPS 0x2u  /**< no futex wake-ups: saves a fence per publish/release;
                                       DMP_WAIT_BLOCK then degrades to DMP_WAIT_SLEEP */
#define DMP_RING_NO_RECLAIM 0x4u  /**< never replace a stale segment whose producer died */
#define DMP_RING_NO_COUNTERS 0x8u /**< no shared-memory counters segment (counters.h) */

struct dmp_producer_config {
  enum dmp_backend backend; /**< default DMP_BACKEND_SHM */
  const char *name;         /**< segment name (SHM, see name.h) or file path (MMAP); required */
  uint64_t capacity;        /**< slots, a power of two >= 1; required */
  uint32_t slot_size;       /**< bytes per event, 1 .. DMP_MAX_SLOT_SIZE; required */
  uint32_t slot_align;      /**< power of two <= DMP_MAX_SLOT_ALIGN; default 8 */
  uint32_t max_consumers;   /**< consumer table size, 1 .. DMP_MAX_CONSUMERS; 0 or default: 16 */
  uint64_t type_tag;        /**< fingerprint of the event type checked by consumers; 0 = none */
  uint32_t mode;            /**< permission bits of the segment; default 0600 */
  uint32_t flags;           /**< DMP_RING_* */
  struct dmp_wait_strategy wait; /**< used by blocking claims; default DMP_WAIT_BLOCK */
  /** WaitForConsumers coordination: if nonzero, dmp_producer_create() waits
   * until this many consumers are attached, or fails with -ETIMEDOUT. */
  uint32_t wait_consumers;
  int64_t wait_timeout_ns;  /**< bound of that wait; default 5 s; DMP_FOREVER allowed */
};

/** Where a consumer that is new to the ring starts reading. */
enum dmp_start {
  DMP_START_LATEST = 0, /**< events published after the attach (default) */
  DMP_START_OLDEST = 1, /**< the oldest event the producer cannot overwrite before
                             this consumer gates it: between 1 and `capacity`
                             events back, depending on where the producer last
                             recomputed its free window */
};

/* Consumer flags. */
#define DMP_CONSUMER_DURABLE 0x1u /**< keep gating the producer after a clean close,
                                       so a re-attach under the same id loses nothing */
#define DMP_CONSUMER_NO_COUNTERS 0x2u /**< do not register this consumer's counters */

struct dmp_consumer_config {
  enum dmp_backend backend; /**< default DMP_BACKEND_SHM */
  const char *name;         /**< segment name or file path; required */
  const char *id;           /**< consumer id: 1..31 chars of [A-Za-z0-9_.-]; required */
  uint32_t slot_size;       /**< expected event size; 0 = accept the ring's */
  uint32_t slot_align;      /**< expected alignment; 0 = accept the ring's */
  uint64_t type_tag;        /**< expected type fingerprint; 0 = do not check */
  enum dmp_start start;     /**< for an id new to the ring; default DMP_START_LATEST */
  uint32_t flags;           /**< DMP_CONSUMER_* */
  struct dmp_wait_strategy wait; /**< default DMP_WAIT_BLOCK */
};

/** Fill `cfg` with the defaults (everything zero except the documented
 * defaults). `cfg` must not be NULL. */
DMP_API void dmp_producer_config_init(struct dmp_producer_config *cfg);

/** Fill `cfg` with the defaults. `cfg` must not be NULL. */
DMP_API void dmp_consumer_config_init(struct dmp_consumer_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_CONFIG_H */
