/**
 * @file transport_layout.h
 * @brief Ring names for one scheduler and N workers, derived from a session
 * label: one request ring (scheduler -> workers, broadcast) and one response ring
 * per worker (worker r -> scheduler), or instead one shared gather ring that
 * every worker answers on (a multi-producer ring: topology.h,
 * MYELON_RESPONSES_ONE_RING).
 *
 * Every process of a session computes the same names from the same inputs
 * (label, prefix, worker count), so nothing has to be passed around but
 * the label. Names are short enough for every platform: a derived name is
 * at most MYELON_LAYOUT_NAME_MAX (22 <= DMP_NAME_MAX) characters, so '/' +
 * name + the longest suffix Layer 0 appends (DMP_NAME_SUFFIX_MAX) fits
 * macOS's 31-byte limit, and every name passes dmp_name_validate().
 *
 *   request ring      PREFIX TAG "p"
 *   response ring r   PREFIX TAG "r" R   (R: r in lowercase hex, no padding)
 *   gather ring       PREFIX TAG "g"     (every worker's answers on one
 *                                         multi-producer ring, instead of
 *                                         the response rings)
 *   worker r's id     w<r in decimal>   (its consumer id on the request ring)
 *   scheduler's id    s                 (its consumer id on each response ring)
 *
 *   prefix  1..7 ASCII alphanumerics (default "my")
 *   tag     12 base-36 digits: FNV-1a/64 of the *whole* label, avalanched
 *           with a 64-bit finaliser, reduced modulo 36^12 (about 62 bits).
 *           Labels that differ anywhere (UUIDs differing in one early
 *           character included) get unrelated tags; among a million labels
 *           the chance of any collision is about 1e-7.
 *   rank    0..0x3f (MYELON_WORKERS_MAX = 64 workers, the bound the
 *           topology's 64-bit gather masks set; one maximum for both)
 *
 * Longest name: 7 + 12 + 1 + 2 = 22. Example: label "infer-demo", prefix
 * "my" -> tag "5r5w9beqvlah", rings "my5r5w9beqvlahp", "my5r5w9beqvlahr0",
 * "my5r5w9beqvlahr1", ...; rank 26 -> "my5r5w9beqvlahr1a".
 *
 * With DMP_BACKEND_MMAP a name becomes the file `<dir>/<name>` under the
 * layout's directory.
 *
 * Rendezvous without a side counter: worker r attaches to the request ring as
 * consumer "w<r>", and the scheduler waits for exactly those ids
 * (myelon_layout_wait_workers()) on the ring's own consumer table, where
 * the kernel's OFD locks tell live from dead. There is no separate
 * coordination segment to go stale after a crash (the original's `_cr`
 * counter could be inflated by a crashed run).
 *
 * All functions are cold-path, thread-safe (no shared state) and never
 * block unless documented. Errors: -MYELON_E_TOPOLOGY with a detail in
 * dmp_last_error() naming the field ("[myelon_layout_make] prefix
 * 'bad-prefix' must be ASCII alphanumeric: '-' at 3").
 */
#ifndef MYELON_TRANSPORT_LAYOUT_H
#define MYELON_TRANSPORT_LAYOUT_H

#include <assert.h> /* static_assert in C11 (a keyword in C++) */
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/config.h>
#include <disruptor_mp/name.h>
#include <disruptor_mp/producer.h>
#include <myelon/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MYELON_LAYOUT_DEFAULT_PREFIX "my"
#define MYELON_LAYOUT_PREFIX_MAX 7u        /**< prefix characters */
#define MYELON_SESSION_TAG_LEN 12u         /**< base-36 digits of a session tag */
/** Most workers of a layout and of a topology (topology.h reports worker
 * sets as 64-bit masks); every worker reads the request ring, so this also
 * stays below DMP_MAX_CONSUMERS. */
#define MYELON_WORKERS_MAX 64u
#define MYELON_LAYOUT_RANK_DIGITS 2u       /**< hex digits of the largest rank (0x3f) */
/** Longest derived name, without a leading '/'. */
#define MYELON_LAYOUT_NAME_MAX (MYELON_LAYOUT_PREFIX_MAX + MYELON_SESSION_TAG_LEN + 1u + MYELON_LAYOUT_RANK_DIGITS)
static_assert(MYELON_LAYOUT_NAME_MAX <= DMP_NAME_MAX, "derived names fit Layer 0's portable limit");
static_assert(MYELON_WORKERS_MAX <= DMP_MAX_CONSUMERS, "every worker has a consumer entry on the request ring");
#define MYELON_LAYOUT_DIR_MAX 1000u        /**< MMAP directory characters (macOS PATH_MAX is 1024) */
/** Buffer size that holds any locator: "<dir>/<name>" or "/<name>", plus the NUL. */
#define MYELON_LAYOUT_PATH_MAX (MYELON_LAYOUT_DIR_MAX + 1u + MYELON_LAYOUT_NAME_MAX + 1u)
#define MYELON_LAYOUT_ID_MAX 12u           /**< buffer for a worker or scheduler id ("w" + any uint32 + NUL) */
#define MYELON_DEFAULT_REQUEST_DEPTH 1024u /**< request ring slots */
#define MYELON_DEFAULT_RESPONSE_DEPTH 256u /**< slots of each response ring */
#define MYELON_LAYOUT_SCHEDULER_ID "s"     /**< the scheduler's consumer id on response rings */

/** What a layout is derived from. Initialise with myelon_layout_config_init(). */
struct myelon_layout_config {
  const char *label;        /**< session label: any non-empty string (a UUID, a job name); required */
  const char *prefix;       /**< name prefix, 1..7 ASCII alphanumerics; default "my" */
  uint32_t workers;         /**< 1..MYELON_WORKERS_MAX; required */
  uint64_t request_depth;   /**< request ring slots, a power of two; default 1024 */
  uint64_t response_depth;  /**< response ring slots, a power of two; default 256 */
  enum dmp_backend backend; /**< default DMP_BACKEND_SHM */
  const char *dir;          /**< MMAP: directory of the ring files (must exist); ignored for SHM */
  uint64_t reserved[8]; /**< zero: room for later fields (disruptor_mp/config.h, "Growing a configuration") */
};

/** A validated layout: plain data, caller-owned, freely copyable. */
struct myelon_layout {
  enum dmp_backend backend;
  uint32_t workers;
  uint64_t request_depth;
  uint64_t response_depth;
  char prefix[MYELON_LAYOUT_PREFIX_MAX + 1];
  char tag[MYELON_SESSION_TAG_LEN + 1];
  char dir[MYELON_LAYOUT_DIR_MAX + 1]; /**< MMAP only; "" for SHM */
};

/** Defaults: prefix "my", depths 1024/256, SHM. Required afterwards:
 * `label` and `workers` (no default names a session); `dir` for MMAP.
 * `cfg` not NULL. */
MYELON_API void myelon_layout_config_init(struct myelon_layout_config *cfg);

/**
 * Compute the session tag of `label` (see the file comment) into `out`.
 * Deterministic across processes, runs and hosts.
 * @return MYELON_SESSION_TAG_LEN; -EINVAL (NULL `label`/`out`);
 *         -MYELON_E_TOPOLOGY (empty label); -ENOSPC (`outlen` below
 *         MYELON_SESSION_TAG_LEN + 1).
 */
MYELON_API int myelon_layout_session_tag(const char *label, char *out, size_t outlen);

/**
 * Validate `cfg` and derive the layout. Checks, first failure wins: label
 * set and non-empty; prefix non-empty, at most 7 characters, ASCII
 * alphanumeric; workers in 1..64; request_depth, then response_depth,
 * nonzero and a power of two; backend known; for MMAP, dir non-empty and
 * at most MYELON_LAYOUT_DIR_MAX characters; finally every derived name
 * passes dmp_name_validate().
 * @return 0 and `*out`; -EINVAL (NULL); -MYELON_E_TOPOLOGY, the detail
 *         naming the field and its value ("request_depth must be greater than
 *         zero", "workers 0 is not in 1..64", ...).
 */
MYELON_API int myelon_layout_make(const struct myelon_layout_config *cfg, struct myelon_layout *out);

/**
 * Bare segment name of the request ring ("<prefix><tag>p", no '/', no dir).
 * @return its length; -EINVAL; -ENOSPC (needs MYELON_LAYOUT_NAME_MAX + 1).
 */
MYELON_API int myelon_layout_request_segment(const struct myelon_layout *l, char *out, size_t outlen);

/**
 * Bare segment name of worker `rank`'s response ring.
 * @return its length; -EINVAL; -ENOSPC; -MYELON_E_TOPOLOGY ("rank 5 is out
 *         of range for 3 workers").
 */
MYELON_API int myelon_layout_response_segment(const struct myelon_layout *l, uint32_t rank, char *out,
                                              size_t outlen);

/**
 * Locator of the request ring for the layout's backend - what goes into
 * `dmp_producer_config.name` / `dmp_consumer_config.name`: "/<name>" for
 * SHM, "<dir>/<name>" for MMAP. MYELON_LAYOUT_PATH_MAX bytes always suffice.
 * @return its length; -EINVAL; -ENOSPC.
 */
MYELON_API int myelon_layout_request_name(const struct myelon_layout *l, char *out, size_t outlen);

/** Locator of worker `rank`'s response ring. @return as myelon_layout_request_name(), or -MYELON_E_TOPOLOGY (bad rank). */
MYELON_API int myelon_layout_response_name(const struct myelon_layout *l, uint32_t rank, char *out, size_t outlen);

/**
 * Bare segment name of the gather ring ("<prefix><tag>g"): the one
 * multi-producer response ring of a topology with
 * MYELON_RESPONSES_ONE_RING (topology.h), which every worker answers on.
 * @return its length; -EINVAL; -ENOSPC (needs MYELON_LAYOUT_NAME_MAX + 1).
 */
MYELON_API int myelon_layout_gather_segment(const struct myelon_layout *l, char *out, size_t outlen);

/** Locator of the gather ring (as myelon_layout_request_name()).
 * @return its length; -EINVAL; -ENOSPC. */
MYELON_API int myelon_layout_gather_name(const struct myelon_layout *l, char *out, size_t outlen);

/**
 * Consumer id of worker `rank` on the request ring: "w<rank>" (decimal).
 * @return its length; -EINVAL; -ENOSPC (needs MYELON_LAYOUT_ID_MAX);
 *         -MYELON_E_TOPOLOGY (bad rank).
 */
MYELON_API int myelon_layout_worker_id(const struct myelon_layout *l, uint32_t rank, char *out, size_t outlen);

/**
 * Coordination: wait until every worker ("w0" .. "w<N-1>") is attached to
 * the request ring `requests` (the scheduler's producer on the layout's request ring).
 * Blocking (parks on the ring's table futex), at most `timeout_ns`
 * (DMP_FOREVER: no deadline).
 * @return 0; -ETIMEDOUT with the missing workers named in the detail
 *         ("2 of 4 workers not attached to '/my...p' after 1000 ms: w1,
 *         w3"); -EINVAL.
 */
MYELON_API int myelon_layout_wait_workers(const struct myelon_layout *l, struct dmp_producer *requests,
                                          int64_t timeout_ns);

/**
 * Remove the rings of the layout that a crash left behind: for the request
 * ring, every response ring and the gather ring, dmp_ring_gc() - the ring and its
 * companion segments (counters) go if the ring's producer is dead; a live
 * ring is never touched. Safe to call at any time, e.g. by a supervisor
 * after its children exited, or before a session reuses its label.
 * Cold path; does not block.
 * @return the number of rings removed (0 if none was stale); -EINVAL.
 */
MYELON_API int myelon_layout_gc(const struct myelon_layout *l);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_TRANSPORT_LAYOUT_H */
