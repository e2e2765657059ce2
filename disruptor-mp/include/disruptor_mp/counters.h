/**
 * @file counters.h
 * @brief Shared-memory counters of a ring and its distinct-error log
 * (counters layout version 1), in the style of Aeron's counters file.
 *
 * Placement: every ring with counters has a companion segment of its own,
 * named after the ring plus DMP_COUNTERS_SUFFIX ("/ring0" -> "/ring0.cnt";
 * for the mmap backend the ring's path plus ".cnt"). A separate segment,
 * rather than a region of the ring, because it leaves the ring's layout and
 * hot cache lines untouched, an inspector maps a few KiB instead of a ring
 * that may be gigabytes, and the segment stays readable after the ring's
 * producer died. It lives exactly as long as the ring's name: the producer
 * creates it right after the ring (a fresh one per ring incarnation, stamped
 * with the ring's epoch) and removes it with the ring on close (not with
 * DMP_RING_KEEP); dmp_ring_gc() removes both once the producer is dead.
 *
 *   offset  size               what
 *   ------  -----------------  ----------------------------------------------
 *   0       128                struct dmp_counters_header (immutable once ready,
 *                              except the two atomic tallies)
 *   128     64 x record_count  struct dmp_counter_record, one cache line each
 *   E       256 x error_count  struct dmp_error_record (the distinct-error log)
 *   total = E + 256 x error_count, rounded up to the page size, where
 *   record_count = DMP_COUNTERS_BASE_RECORDS + DMP_COUNTERS_PER_CONSUMER x
 *   max_consumers of the ring, error_count = DMP_COUNTERS_ERRORS.
 *
 * Records. A record is a labelled 64-bit value; its index is its id. The
 * state word is `(seq << 2) | state` with state FREE, LIVE or BUSY (being
 * rewritten); writers (under the registry lock) go BUSY, rewrite, then
 * store LIVE with seq + 1 (K1, release); readers load the state (K2,
 * acquire), copy the record, fence and re-load it, and retry on a change -
 * a seqlock, so readers never block and never take a lock. Values are
 * relaxed 64-bit atomics: they are statistics, nothing else is published
 * through them. Records are keyed by (type, label): the library's
 * per-participant records use the consumer id (or "producer") as label.
 *
 * Ownership and reclamation, with no PID scans. Every process that
 * registers a record holds a shared OFD read lock on byte
 * DMP_CNT_LOCK_RECORD0 + index of the counters file (lock space, not bytes
 * of the mapping); the kernel drops it when the process dies or closes its
 * handle. Registering a (type, label) that exists reuses that record and
 * keeps its value (a restarted consumer continues its attach count: no slot
 * leak across restarts). When no record is free, a record whose owners are
 * all gone (an exclusive lock on its byte succeeds) is reclaimed for the
 * new key and zeroed; only when every record has a live owner does
 * registration fail, with -ENOSPC and a detail. Registration and error-log
 * insertion are serialised by an OFD lock on byte DMP_CNT_LOCK_REGISTRY;
 * the producer holds an exclusive lock on DMP_CNT_LOCK_OWNER while alive.
 *
 * Derived counters are not records: events published is the producer
 * cursor + 1 and events consumed is a consumer's cursor + 1 (a position is
 * a counter, as in Aeron); lag is their difference. dmp_inspect (inspect.h)
 * computes them from the ring.
 *
 * Nothing here runs on the hot path: claim, publish, peek and release are
 * unchanged. The library writes its records only on cold paths (a table
 * rescan when the cached window is exhausted, waits, parks, attach/detach,
 * liveness checks). Turn counters off per ring with DMP_RING_NO_COUNTERS
 * or per consumer with DMP_CONSUMER_NO_COUNTERS (config.h).
 */
#ifndef DISRUPTOR_MP_COUNTERS_H
#define DISRUPTOR_MP_COUNTERS_H

#include <assert.h> /* static_assert in C11 (a keyword in C++) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/atomics.h>
#include <disruptor_mp/config.h>
#include <disruptor_mp/export.h>
#include <disruptor_mp/layout.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMP_COUNTERS_MAGIC UINT64_C(0x0052544e43504d44) /* "DMPCNTR\0" in little-endian bytes */
#define DMP_COUNTERS_VERSION 1u
#define DMP_COUNTERS_SUFFIX ".cnt" /**< appended to the ring's name or path */
#define DMP_COUNTERS_BASE_RECORDS 128u /**< records for the producer and the application */
#define DMP_COUNTERS_PER_CONSUMER 8u   /**< records reserved per consumer table entry */
#define DMP_COUNTERS_ERRORS 32u        /**< distinct-error log entries */
#define DMP_COUNTER_LABEL_MAX 31u      /**< label length, without the NUL */
#define DMP_COUNTERS_TEXT_MAX 215u     /**< error text length, without the NUL */

/* OFD lock offsets in the counters file (see the file comment). */
#define DMP_CNT_LOCK_OWNER 0
#define DMP_CNT_LOCK_REGISTRY 1
#define DMP_CNT_LOCK_RECORD0 2

/* Record and error-entry state word: (seq << 2) | one of these. */
#define DMP_CNT_FREE 0u
#define DMP_CNT_LIVE 1u
#define DMP_CNT_BUSY 2u
#define DMP_CNT_STATE(word) ((word) & 3u)

/** Counter types. Below DMP_COUNTER_USER they are the library's own. */
enum dmp_counter_type {
  DMP_COUNTER_PRODUCER_FULL = 1,      /**< times a claim found the ring full (once per sequence) */
  DMP_COUNTER_PRODUCER_SPINS = 2,     /**< wait-strategy steps while waiting for space */
  DMP_COUNTER_PRODUCER_PARKS = 3,     /**< futex parks while waiting for space */
  DMP_COUNTER_PRODUCER_LAG_MAX = 4,   /**< largest lag of the slowest consumer seen at a rescan */
  DMP_COUNTER_LIVENESS_ALERTS = 5,    /**< liveness alerts raised (stalled or dead) */
  DMP_COUNTER_LIVENESS_EVICTIONS = 6, /**< dead consumers evicted */
  DMP_COUNTER_CONSUMER_ATTACHES = 16, /**< attaches of this consumer id */
  DMP_COUNTER_CONSUMER_DETACHES = 17, /**< clean detaches of this consumer id */
  DMP_COUNTER_CONSUMER_SPINS = 18,    /**< wait-strategy steps while waiting for data */
  DMP_COUNTER_CONSUMER_PARKS = 19,    /**< futex parks while waiting for data */
  DMP_COUNTER_CONSUMER_LAG_MAX = 20,  /**< largest lag seen by the consumer (waits, batches) */
  DMP_COUNTER_CONSUMER_MISSED = 21,   /**< events overwritten while it was detached */
  DMP_COUNTER_USER = 256,             /**< first type for applications */
};

struct dmp_counters_header {
  uint64_t magic;          /**< DMP_COUNTERS_MAGIC */
  uint32_t layout_version; /**< DMP_COUNTERS_VERSION */
  uint32_t header_size;    /**< sizeof(struct dmp_counters_header) */
  uint64_t total_size;     /**< bytes in the segment */
  uint32_t record_count;   /**< records */
  uint32_t record_size;    /**< sizeof(struct dmp_counter_record) */
  uint64_t records_offset; /**< start of record 0 */
  uint32_t error_count;    /**< distinct-error log entries */
  uint32_t error_size;     /**< sizeof(struct dmp_error_record) */
  uint64_t errors_offset;  /**< start of the error log */
  uint64_t ring_epoch;     /**< the epoch of the ring these counters belong to */
  uint64_t created_ns;     /**< CLOCK_REALTIME when the owner created it (its start time) */
  int32_t owner_pid;       /**< the producer's pid (informational) */
  uint32_t flags;          /**< 0; unknown bits are rejected */
  uint64_t fingerprint;    /**< FNV-1a-64 of bytes [0, 80) */
  dmp_atomic_u64 errors_dropped;       /**< distinct errors that did not fit the log */
  dmp_atomic_u64 registrations_failed; /**< registrations refused: every record owned */
  uint8_t reserved[20];
  dmp_atomic_u32 ready;    /**< DMP_READY (layout.h), stored last with release */
};

struct dmp_counter_record {
  dmp_atomic_u32 state;   /**< (seq << 2) | DMP_CNT_* */
  uint32_t type;          /**< enum dmp_counter_type or an application type */
  dmp_atomic_u64 value;   /**< relaxed; monotonic or a high-water mark */
  int32_t owner_pid;      /**< pid of the last registration (informational) */
  uint32_t registrations; /**< times (re)registered: 1 + restarts of its owner */
  uint64_t registered_ns; /**< CLOCK_REALTIME of the last registration */
  char label[DMP_COUNTER_LABEL_MAX + 1]; /**< NUL-padded */
};

struct dmp_error_record {
  dmp_atomic_u32 state;    /**< (seq << 2) | DMP_CNT_* */
  int32_t code;            /**< the (negative) error code */
  dmp_atomic_u64 count;    /**< occurrences */
  dmp_atomic_u64 first_ns; /**< CLOCK_REALTIME of the first occurrence */
  dmp_atomic_u64 last_ns;  /**< CLOCK_REALTIME of the latest occurrence */
  int32_t pid;             /**< first reporter */
  uint32_t reserved;
  char text[DMP_COUNTERS_TEXT_MAX + 1]; /**< NUL-terminated */
};

static_assert(sizeof(struct dmp_counters_header) == 128, "counters header is two cache lines");
static_assert(offsetof(struct dmp_counters_header, fingerprint) == 80, "fingerprint covers [0,80)");
static_assert(offsetof(struct dmp_counters_header, errors_dropped) == 88, "tallies after the fingerprint");
static_assert(offsetof(struct dmp_counters_header, ready) == 124, "ready is the header's last word");
static_assert(sizeof(struct dmp_counter_record) == 64, "a record is one cache line");
static_assert(offsetof(struct dmp_counter_record, value) == 8, "value is 8-aligned");
static_assert(offsetof(struct dmp_counter_record, label) == 32, "label is the second half");
static_assert(sizeof(struct dmp_error_record) == 256, "an error entry is four cache lines");
static_assert(offsetof(struct dmp_error_record, text) == 40, "error text offset");

/** A mapped counters segment (process-local, opaque). */
struct dmp_counters;

/**
 * A registered counter: the one hot-path view of a record. A zeroed handle
 * (what a failed or skipped registration leaves) is valid and does nothing,
 * so code can count unconditionally whether counters are on or off.
 */
struct dmp_counter {
  dmp_atomic_u64 *value;
};

/** Add `n`. Wait-free: one relaxed atomic add (statistics only). */
static inline void dmp_counter_add(struct dmp_counter c, uint64_t n)
{
  if (c.value)
    dmp_impl_fetch_add_relaxed(c.value, n); /* relaxed: a statistic, it publishes nothing */
}

/** Add one. */
static inline void dmp_counter_inc(struct dmp_counter c)
{
  dmp_counter_add(c, 1);
}

/** Set the value (gauges). Wait-free, relaxed. */
static inline void dmp_counter_set(struct dmp_counter c, uint64_t v)
{
  if (c.value)
    dmp_impl_store_relaxed(c.value, v); /* relaxed: a statistic */
}

/** Raise the value to `v` if it is larger (high-water marks). Lock-free. */
static inline void dmp_counter_set_max(struct dmp_counter c, uint64_t v)
{
  if (!c.value)
    return;
  /* Relaxed: a statistic; the CAS only has to be atomic, not ordered. */
  uint64_t cur = dmp_impl_load_relaxed(c.value);
  while (v > cur && !dmp_impl_cas_weak_relaxed(c.value, &cur, v)) {
  }
}

/** Current value (0 for a zeroed handle). Relaxed. */
static inline uint64_t dmp_counter_get(struct dmp_counter c)
{
  return c.value ? dmp_impl_load_relaxed(c.value) : 0; /* relaxed: a statistic */
}

/**
 * Open the counters of an existing ring for registering counters (any
 * process; read-write). The producer's and each consumer's own handles are
 * available from dmp_producer_counters() / dmp_consumer_counters().
 * Cold path; does not block.
 * @return 0 and `*out`; on failure `*out` is NULL and: -EINVAL NULL
 *         argument; -DMP_E_BADNAME bad name; -ENOENT no counters (ring
 *         absent or created with DMP_RING_NO_COUNTERS); -DMP_E_NOTREADY
 *         being created; -DMP_E_LAYOUT other version; -DMP_E_CORRUPT bad
 *         header or size; -EACCES not ours (only the caller's own
 *         counters are opened: config.h, "Permissions") or from the system;
 *         -ELOOP a symbolic link.
 */
DMP_API int dmp_counters_open(enum dmp_backend backend, const char *ring_name, struct dmp_counters **out);

/** Close a handle from dmp_counters_open(): unmaps and drops the ownership
 * of every record it registered (they stay readable until reclaimed).
 * Accepts NULL. Not for the handles of producers and consumers. */
DMP_API void dmp_counters_close(struct dmp_counters *set);

/**
 * Register (or re-register) the counter (`type`, `label`) and get a handle.
 * Idempotent: the same key returns the same record, whoever registered it
 * before, and keeps its value; a record of a dead owner is reused. The
 * handle stays valid while `set` is open. Cold path; thread-safe (a mutex
 * per handle, an OFD lock between processes); blocks at most 2 s on the
 * registry lock (a stopped registrant in another process).
 *
 * @param set   an open counters handle (dmp_counters_open(), or a
 *              producer's / consumer's dmp_*_counters()).
 * @param type  DMP_COUNTER_USER or above (0 means DMP_COUNTER_USER); the
 *              library's own types are accepted too, for layers above it.
 * @param label 1..DMP_COUNTER_LABEL_MAX printable ASCII characters, no '"' or '\\'.
 * @param out   the handle, valid while `set` is open.
 * @return the record's index (>= 0) and `*out`; `*out` zeroed on failure:
 *         -EINVAL NULL argument; -DMP_E_BADNAME bad label;
 *         -ENOSPC every record is owned by a live process (the detail says
 *         how many); -ETIMEDOUT registry lock held too long.
 */
DMP_API int dmp_counters_register(struct dmp_counters *set, uint32_t type, const char *label,
                                  struct dmp_counter *out);

/** Give up this handle's ownership of a record (it stays readable and
 * keeps its value until reclaimed). @return 0, -EINVAL (NULL, or not a
 * record of `set`). The handle is zeroed. */
DMP_API int dmp_counters_unregister(struct dmp_counters *set, struct dmp_counter *counter);

/**
 * Record an error in the distinct-error log: the same (code, text) is kept
 * once, with a count and the first and latest time. Cold path; lock-free
 * when the entry exists, otherwise takes the registry lock (bounded).
 * @return 1 if it was new, 0 if an existing entry was counted, -ENOSPC if
 *         the log is full (counted in errors_dropped), -EINVAL, -ETIMEDOUT.
 */
DMP_API int dmp_counters_error(struct dmp_counters *set, int code, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/** A copy of one record, as read by dmp_counters_read() or dmp_inspect. */
struct dmp_counter_stat {
  uint32_t index;         /**< the record's id */
  uint32_t type;
  uint64_t value;
  int32_t owner_pid;
  bool owner_alive;       /**< some process holds it (its OFD lock) */
  uint32_t registrations;
  uint64_t registered_ns;
  char label[DMP_COUNTER_LABEL_MAX + 1];
};

/** A copy of one distinct-error entry. */
struct dmp_error_stat {
  int32_t code;
  uint64_t count;
  uint64_t first_ns;
  uint64_t last_ns;
  int32_t pid;
  char text[DMP_COUNTERS_TEXT_MAX + 1];
};

/**
 * Copy the LIVE records (at most `cap`) into `out`, in index order. Lock-free
 * (a record being rewritten at that moment may be skipped).
 * @return the number of LIVE records (may exceed `cap`), -EINVAL.
 */
DMP_API int dmp_counters_read(const struct dmp_counters *set, struct dmp_counter_stat *out, size_t cap);

/** Copy the distinct-error log (at most `cap` entries).
 * @return the number of entries (may exceed `cap`), -EINVAL. */
DMP_API int dmp_counters_errors(const struct dmp_counters *set, struct dmp_error_stat *out, size_t cap);

/** The value of the record (`type`, `label`), found by a lock-free scan.
 * @return 0 and `*value`, -ENOENT, -EINVAL. For tests and tools. */
DMP_API int dmp_counters_value(const struct dmp_counters *set, uint32_t type, const char *label,
                               uint64_t *value);

/** Epoch of the ring the counters belong to (0 for NULL). */
DMP_API uint64_t dmp_counters_epoch(const struct dmp_counters *set);

/** Number of records in the region (0 for NULL). */
DMP_API uint32_t dmp_counters_capacity(const struct dmp_counters *set);

/** Name of a counter type ("producer_full", ..., "user" for >= DMP_COUNTER_USER,
 * "unknown"). Never NULL. */
DMP_API const char *dmp_counter_type_name(uint32_t type);

struct dmp_producer;
struct dmp_consumer;

/** The producer's counters (NULL if the ring has none). Borrowed: valid
 * until dmp_producer_close(); register application counters on it. */
DMP_API struct dmp_counters *dmp_producer_counters(const struct dmp_producer *p);

/** The consumer's counters (NULL if none). Borrowed: valid until close. */
DMP_API struct dmp_counters *dmp_consumer_counters(const struct dmp_consumer *c);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_COUNTERS_H */
