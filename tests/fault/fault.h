/**
 * @file fault.h
 * @brief Shared by the fault tests and their role executable (fault_role):
 * the event oracle, the progress record each role keeps in a shared file,
 * the role's exit codes, and helpers for the Criterion side.
 *
 * Event layout (slot sizes >= FR_MIN_SLOT), native endianness:
 *
 *   offset  size        what
 *   0       8           seq, int64_t
 *   8       8           token: random per producer run (tells streams apart)
 *   16      8           sum = ts_checksum(seq ^ token)
 *   24      size - 24   byte i = byte (i mod 8) of sum, XOR (i mod 251)
 *
 * Every byte depends on (seq, token): a stale, torn, overwritten or foreign
 * (other producer run) slot fails fr_payload_check().
 *
 * Progress record: each role maps a small file (--progress PATH) MAP_SHARED
 * and updates it as it goes, so it survives a SIGKILL of the role and the
 * test can poll it to inject faults at exact points (e.g. "after the
 * consumer delivered sequence 40"). A consumer logs an event after checking
 * it and before releasing it, so after a crash its cursor is `last` or
 * `last - 1`: a restart under the same id resumes at `last` or `last + 1`.
 */
#ifndef FAULT_H
#define FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

#define FR_MIN_SLOT 24u
#define FR_MAX_STREAMS 8

/* ---- the event oracle --------------------------------------------------- */

static inline uint64_t fr_sum(int64_t seq, uint64_t token)
{
  return ts_checksum((int64_t)((uint64_t)seq ^ token));
}

static inline void fr_payload_fill(void *slot, size_t size, int64_t seq, uint64_t token)
{
  uint8_t *b = slot;
  uint64_t sum = fr_sum(seq, token);
  memcpy(b, &seq, 8);
  memcpy(b + 8, &token, 8);
  memcpy(b + 16, &sum, 8);
  for (size_t i = 24; i < size; i++)
    b[i] = (uint8_t)((uint8_t)(sum >> (8 * (i % 8))) ^ (uint8_t)(i % 251));
}

enum fr_check { FR_OK = 0, FR_BAD_SEQ, FR_BAD_TOKEN, FR_BAD_SUM, FR_BAD_PATTERN };

/** Check a slot against (seq, token). token 0 = accept any (returned in *got). */
static inline enum fr_check fr_payload_check(const void *slot, size_t size, int64_t seq, uint64_t token,
                                             uint64_t *got)
{
  const uint8_t *b = slot;
  int64_t s;
  uint64_t t, sum;
  memcpy(&s, b, 8);
  memcpy(&t, b + 8, 8);
  memcpy(&sum, b + 16, 8);
  if (got)
    *got = t;
  if (s != seq)
    return FR_BAD_SEQ;
  if (token && t != token)
    return FR_BAD_TOKEN;
  if (sum != fr_sum(seq, t))
    return FR_BAD_SUM;
  for (size_t i = 24; i < size; i++)
    if (b[i] != (uint8_t)((uint8_t)(sum >> (8 * (i % 8))) ^ (uint8_t)(i % 251)))
      return FR_BAD_PATTERN;
  return FR_OK;
}

/* ---- role exit codes ----------------------------------------------------- */

#define FR_EXIT_TABLE(X)                                                      \
  X(FR_EX_OK, 0, "ok")                                                        \
  X(FR_EX_USAGE, 2, "bad command line")                                       \
  X(FR_EX_SETUP, 3, "create/attach failed")                                   \
  X(FR_EX_TIMEOUT, 4, "a bounded wait ran out")                               \
  X(FR_EX_OWNERDEAD, 5, "unexpected -DMP_E_OWNERDEAD")                        \
  X(FR_EX_SEQ, 6, "sequence gap or duplicate")                                \
  X(FR_EX_TOKEN, 7, "event of another producer run (streams mixed)")         \
  X(FR_EX_SUM, 8, "payload checksum mismatch")                                \
  X(FR_EX_PATTERN, 9, "payload pattern mismatch")                             \
  X(FR_EX_API, 10, "an API call returned something its header rules out")    \
  X(FR_EX_EPOCH, 11, "re-attached ring has the old epoch")                    \
  X(FR_EX_LIVENESS, 12, "managed claim failed (startup/stalled)")             \
  X(FR_EX_NOT_KILLED, 13, "hung at --hang-seq but nobody killed it")          \
  X(FR_EX_IO, 14, "progress file error")

enum fr_exit {
#define FR_X_ENUM(e, v, msg) e = v,
  FR_EXIT_TABLE(FR_X_ENUM)
#undef FR_X_ENUM
};

static inline const char *fr_exit_name(int code)
{
  switch (code) {
#define FR_X_CASE(e, v, msg) \
  case v:                    \
    return #e ": " msg;
    FR_EXIT_TABLE(FR_X_CASE)
#undef FR_X_CASE
  case -1:
    return "did not exit in time (killed by the test)";
  case 127:
    return "exec failed";
  case 128 + 9:
    return "SIGKILL";
  default:
    return "unexpected status";
  }
}

/* ---- progress record (one 4 KiB file per role process) -------------------- */

enum fr_phase {
  FR_PH_STARTING = 0,
  FR_PH_READY = 1,   /**< created (producer) / attached (consumer) */
  FR_PH_HOLDING = 2, /**< consumer paused at --hold; producer hung at --hang-seq */
  FR_PH_DONE = 3,    /**< finished (exit code follows) */
};

struct fr_stream {
  int64_t first, last, count;
  uint64_t token, epoch;
};

struct fr_progress {
  _Atomic int32_t phase;
  _Atomic int32_t exit_code;
  _Atomic int64_t pid;
  /* consumer: events delivered in the current stream; producer: published */
  _Atomic int64_t first; /**< first sequence (-1 none) */
  _Atomic int64_t last;  /**< last sequence (-1 none) */
  _Atomic int64_t count;
  _Atomic uint64_t token;
  _Atomic uint64_t epoch;
  _Atomic int64_t ready_ns;     /**< CLOCK_MONOTONIC when READY */
  _Atomic int64_t ownerdead_ns; /**< consumer: when it saw -DMP_E_OWNERDEAD */
  _Atomic int64_t created_ns;   /**< producer: when create succeeded */
  _Atomic int64_t alerts;       /**< producer: liveness alerts */
  _Atomic int64_t evictions;    /**< producer: consumers evicted */
  _Atomic int64_t evict_ns;     /**< producer: time of the first eviction */
  _Atomic int32_t n_streams;    /**< consumer: finished streams (--reattach) */
  _Atomic int32_t churns;       /**< consumer: detach/re-attach cycles done (--churn) */
  _Atomic int64_t last_ns;      /**< consumer: when it delivered its latest event */
  _Atomic int64_t drained_ns;   /**< consumer: last_ns when it first saw OWNERDEAD */
  _Atomic int64_t dead_ns;      /**< producer: first alert of a dead consumer */
  /* Every blocking (and every documented non-waiting) call the role made,
   * timed against the timeout it was given (0 for non-waiting ones): how
   * many, and the one that overran its timeout the most (issue 15). */
  _Atomic int64_t calls;
  _Atomic int64_t max_over_ns;  /**< max(duration - timeout) */
  _Atomic int64_t worst_dur_ns, worst_timeout_ns;
  char worst_call[24];
  struct fr_stream stream[FR_MAX_STREAMS];
  char msg[256]; /**< first failure, human readable */
};

_Static_assert(sizeof(struct fr_progress) <= 4096, "progress record fits a page");

/* ---- Criterion-side helpers (fault_support.c) ----------------------------- */

/** Path of the role executable: $FAULT_ROLE, else "fault_role" next to us. */
const char *fr_role_path(void);

/** A fresh, zeroed progress record in the test's temp dir. */
struct fr_progress *fr_progress_new(const char *tag, const char **path);

/** Spawn the role with the NULL-terminated argument list (without argv[0]). */
pid_t fr_spawn(const char *const *args);

/** Poll `pred(arg)` every millisecond for at most `timeout_ms` (scaled). */
bool fr_wait_for(bool (*pred)(const void *arg), const void *arg, int timeout_ms);

/** Wait until the role's progress record reaches `phase` (or the role exits). */
bool fr_wait_phase(const struct fr_progress *pr, int phase, int timeout_ms);

/** Wait until the record's `last` is >= `seq`. */
bool fr_wait_last(const struct fr_progress *pr, int64_t seq, int timeout_ms);

/** Sleep for `ms` milliseconds. */
void fr_sleep_ms(int64_t ms);

/** Create an empty marker file (to release a held consumer). */
void fr_touch(const char *path);

/** Number of entries in /dev/shm whose name starts with `prefix`. */
int fr_shm_count(const char *prefix);

/** Send `sig` to `pid` (checked). */
void fr_signal(pid_t pid, int sig);

/** "123" into a small static ring of buffers (for argument lists). */
const char *fr_num(int64_t v);

/* ---- in-process producer and spawned consumers ---------------------------- */

#define FR_MS INT64_C(1000000)
#define FR_SLOT 64u

/** A ring under test: backend and name (SHM name or file path). */
struct fr_ring {
  enum dmp_backend backend;
  const char *name;
};

/** A fresh unique ring name for `backend` (ts_shm_name / ts_tmp_path). */
struct fr_ring fr_ring_new(enum dmp_backend backend, const char *tag);

/** "shm" or "mmap". */
const char *fr_backend_name(enum dmp_backend b);

/** Create the ring in this process (FR_SLOT-byte slots). NULL on failure,
 * with the reason printed. */
struct dmp_producer *fr_producer_new(const struct fr_ring *r, uint64_t capacity);

/** Publish events seq = producer position .. + n - 1 with `token`, one by
 * one, managed (liveness) or with a plain timed claim. Returns 0, or the
 * first claim error (then fewer were published). */
int fr_publish(struct dmp_producer *p, int64_t n, uint64_t token, bool managed, int64_t timeout_ns);

/** Spawn a consumer role on `r` as `id` with a fresh progress record in
 * `*pr`; `extra` is a NULL-terminated list of further options (or NULL). */
pid_t fr_consumer(const struct fr_ring *r, const char *id, struct fr_progress **pr, const char *const *extra);

/** As fr_consumer() and wait until it is attached. -1 if it did not in time. */
pid_t fr_consumer_ready(const struct fr_ring *r, const char *id, struct fr_progress **pr,
                        const char *const *extra);

/** Spawn a producer role on `r` (capacity 64, FR_SLOT-byte slots unless
 * `extra` says otherwise) and wait until it has created the ring. */
pid_t fr_producer(const struct fr_ring *r, struct fr_progress **pr, const char *const *extra);

/* ---- alert recorder (a dmp_alert_fn) --------------------------------------- */

#define FR_MAX_ALERTS 64

struct fr_alerts {
  int n;
  struct {
    char id[DMP_ID_MAX + 1];
    int64_t last_sequence, stalled_ns, at_ns;
    bool dead, evicted;
  } a[FR_MAX_ALERTS];
};

/** Hook: append the alert to the struct fr_alerts `user`. */
void fr_alert_record(const struct dmp_liveness_alert *alert, void *user);

/** Alerts in `al` about `id`. */
int fr_alerts_for(const struct fr_alerts *al, const char *id);

#endif /* FAULT_H */
