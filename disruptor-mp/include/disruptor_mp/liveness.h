/**
 * @file liveness.h
 * @brief Required-consumer liveness: managed claims that notice missing,
 * stalled and dead consumers instead of blocking forever.
 *
 * Opt in with dmp_producer_enable_liveness(); then use the `_managed`
 * claims. Unmanaged claims keep their semantics and cost. All checks run on
 * the cold path only: while a managed claim is blocked on a full ring, and
 * when the application calls dmp_producer_check_liveness() (say, once per
 * loop or timer tick), so that a consumer that dies or stalls on a ring that
 * never fills is noticed too.
 *
 * Outcomes (the original's state machine, plus kernel-backed death):
 *  - a required id not attached within `startup_timeout_ns` of the first
 *    managed claim: -DMP_E_STARTUP, the missing ids in dmp_last_error();
 *  - a required consumer gating the producer without progress for
 *    `progress_timeout_ns`: one alert (one stderr line unless `quiet`,
 *    plus the hook), once per stall window;
 *  - it progresses, catches up, or re-attaches under the same id (a new
 *    generation of its entry): the stall clears and publishing resumes;
 *  - stalled for `grace_ns` more: with DMP_LIVENESS_FAIL (default) the
 *    claim fails with -DMP_E_STALLED, sticky for this producer (the detail
 *    names the id, its last sequence and the stall time); with
 *    DMP_LIVENESS_ALERT_ONLY it keeps waiting.
 *  - a consumer proven dead (ACTIVE entry whose OFD lock is gone - a
 *    stopped process is slow, not dead) is reported at the first check
 *    after its death (within `check_interval_ns` of a check), whether it
 *    was behind or caught up, without waiting for the progress timeout:
 *    an alert with `dead` set, once per death. Then, by action:
 *    DMP_LIVENESS_FAIL fails that same check with -DMP_E_STALLED, sticky
 *    ("is dead" in the detail): grace is for consumers that are alive but
 *    slow, a dead one never catches up. DMP_LIVENESS_EVICT frees its entry
 *    (the alert also has `evicted` set) so the others go on; the id can
 *    attach again later and starts afresh (a locked table postpones the
 *    eviction to a later check). DMP_LIVENESS_ALERT_ONLY counts it as
 *    stalled (dmp_producer_check_liveness() counts it) and keeps its entry,
 *    so the id may come back and resume where it died; the producer waits
 *    for it meanwhile. A stall alert followed by a death gives two alerts.
 *  - a restart under the same id (a new process attaching the dead one's
 *    entry, a new generation) is a fresh start for all actions. With FAIL
 *    it only helps if it attaches before the next check sees the death
 *    (checks run every `check_interval_ns` while a managed claim is
 *    blocked, and at each dmp_producer_check_liveness()); a consumer that
 *    is expected to crash and come back wants ALERT_ONLY (resumes where
 *    it died) or EVICT (starts afresh).
 *
 * Multi-producer rings (DMP_RING_MULTI_PRODUCER): any producer of the ring
 * may enable liveness on its handle; each watches the consumers on its own
 * (its own alerts, its own sticky failure). "Caught up" means at the
 * ring's shared cursor. An eviction re-checks under the table lock that the
 * entry is still ACTIVE and takes its lock before freeing it, so when
 * several producers find the same dead consumer it is evicted once (one
 * alert, from the producer that evicted it). A managed claim there also
 * repairs a dead producer's claimed slots (tombstones, producer.h).
 *
 * A required consumer "gates" the producer while it is attached, and also
 * after a clean close if it is DMP_CONSUMER_DURABLE (its position is kept
 * and still holds the producer back): such a detached durable consumer that
 * does not come back stalls like any other, but is never "dead".
 *
 * Stale segments: a crashed producer leaves its segment behind (consumers
 * may still be reading it). The next dmp_producer_create() of that name
 * replaces it by itself; dmp_ring_gc() (inspect.h) removes one nobody will
 * create again, and dmp_inspect_list() finds them. Only segments the kernel
 * proves ownerless (the producer's OFD lock is free) are removed, never a
 * live ring or one still being created.
 */
#ifndef DISRUPTOR_MP_LIVENESS_H
#define DISRUPTOR_MP_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/export.h>
#include <disruptor_mp/producer.h>

#ifdef __cplusplus
extern "C" {
#endif

enum dmp_liveness_action {
  DMP_LIVENESS_FAIL = 0,       /**< stall past grace, or death: -DMP_E_STALLED (default) */
  DMP_LIVENESS_ALERT_ONLY = 1, /**< stall past grace, or death: alert, keep waiting */
  DMP_LIVENESS_EVICT = 2,      /**< evict dead consumers; live stalls fail as DMP_LIVENESS_FAIL */
};

/** What an alert reports. Pointers are valid during the hook call only. */
struct dmp_liveness_alert {
  const char *consumer_id;
  int64_t last_sequence; /**< last cursor value observed */
  int64_t stalled_ns;    /**< time without progress */
  bool dead;             /**< its holder is gone (kernel lock released) */
  bool evicted;          /**< its entry was freed */
};

typedef void (*dmp_alert_fn)(const struct dmp_liveness_alert *alert, void *user);

#define DMP_LIVENESS_MAX_REQUIRED 64u

struct dmp_liveness_config {
  const char *const *required_ids; /**< ids that must attach and progress */
  size_t n_required;               /**< 0 .. DMP_LIVENESS_MAX_REQUIRED */
  int64_t startup_timeout_ns;      /**< default 5 s */
  int64_t progress_timeout_ns;     /**< default 250 ms */
  int64_t check_interval_ns;       /**< default 5 ms; <= progress_timeout_ns */
  int64_t grace_ns;                /**< default 1 s; >= progress_timeout_ns */
  enum dmp_liveness_action action; /**< default DMP_LIVENESS_FAIL */
  bool quiet;                      /**< no stderr line on alerts */
  dmp_alert_fn alert;              /**< optional hook */
  void *user;                      /**< passed to the hook */
  uint64_t reserved[8];            /**< zero: room for later fields (config.h, "Growing a configuration") */
};

/** Fill `cfg` with the defaults (no required ids). */
DMP_API void dmp_liveness_config_init(struct dmp_liveness_config *cfg);

/**
 * Enable liveness on a producer (replaces an earlier configuration; the ids
 * are copied).
 * @return 0; -EINVAL for NULL; -DMP_E_BADCONFIG for zero or negative
 *         timeouts, grace < progress timeout, interval > progress timeout,
 *         too many ids, duplicate or invalid ids (the detail names it).
 */
DMP_API int dmp_producer_enable_liveness(struct dmp_producer *p, const struct dmp_liveness_config *cfg);

/**
 * Claim one slot, waiting at most `timeout_ns` (DMP_FOREVER: no deadline)
 * while the ring is full, and running the liveness checks while blocked.
 * Before startup completes it waits for the required ids up to the
 * startup deadline (armed by the first managed claim or check), or, once
 * that has passed, for a whole `startup_timeout_ns` again. An eviction
 * waits for the consumer table's lock at most one check interval at a
 * time and never past the deadline.
 * @return 0 and `*slot`; -DMP_E_STARTUP; -DMP_E_STALLED (sticky);
 *         -ETIMEDOUT; -DMP_E_NOLIVENESS; -EINVAL.
 */
DMP_API int dmp_producer_claim_managed(struct dmp_producer *p, void **slot, int64_t timeout_ns);

/** Batch form of dmp_producer_claim_managed(). */
DMP_API int dmp_producer_claim_batch_managed(struct dmp_producer *p, uint64_t n, int64_t *first,
                                             int64_t timeout_ns);

/** Copy-in form: claim managed, copy `len` bytes, publish. Returns the sequence. */
DMP_API int64_t dmp_producer_publish_managed(struct dmp_producer *p, const void *src, size_t len,
                                             int64_t timeout_ns);

/**
 * Run the liveness checks now, without claiming and without waiting: the
 * same startup, stall, alert, grace and eviction rules as a blocked managed
 * claim (a required consumer that is behind and makes no progress stalls,
 * whether or not the ring is full). Rate-limited by `check_interval_ns`:
 * calling it more often is cheap (one clock read). Cold path; one lock
 * probe (fcntl) per gating consumer per check. Never waits: an eviction
 * that finds the consumer table locked by another process is postponed to
 * a later check.
 * @return the number of required consumers in an alerted stall window or
 *         dead (0: all fine, or required ids still within their startup
 *         time); -DMP_E_STARTUP (a required id missing past
 *         startup_timeout_ns, named in the detail; reported by every call
 *         from then on until it attaches);
 *         -DMP_E_STALLED (with DMP_LIVENESS_FAIL: a required consumer
 *         stalled past grace, or dead; sticky);
 *         -DMP_E_NOLIVENESS; -EINVAL.
 */
DMP_API int dmp_producer_check_liveness(struct dmp_producer *p);

/**
 * Evict consumer `id` if it is proven dead (ACTIVE entry whose lock is
 * free): its entry is freed and it stops gating.
 * Waits at most DMP_TABLE_WAIT_NS (100 ms) for the consumer table's lock.
 * @return 0 evicted; -ENOENT unknown id; -DMP_E_IDINUSE it is alive
 *         (stopped or slow processes are never evicted) or detached
 *         cleanly (IDLE: its position is kept for a resume); -ETIMEDOUT
 *         another process held the table lock all that time; -EINVAL.
 */
DMP_API int dmp_producer_evict(struct dmp_producer *p, const char *id);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_LIVENESS_H */
