/**
 * @file internal.h
 * @brief Private declarations shared by the .c files of libdisruptor_mp.
 */
#ifndef DMP_INTERNAL_H
#define DMP_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <disruptor_mp/disruptor_mp.h>

/* ---- errors (error.c) ---------------------------------------------------- */

/** Record "[fn] message" as this thread's last error detail. */
void dmp_impl_set_error(const char *fn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Record the detail and evaluate to `rc` (a negative code). */
#define DMP_FAIL(rc, ...) (dmp_impl_set_error(__func__, __VA_ARGS__), (rc))

/* ---- clocks (clock.c) ---------------------------------------------------- */

int64_t dmp_impl_now_ns(void);      /**< CLOCK_MONOTONIC */
int64_t dmp_impl_realtime_ns(void); /**< CLOCK_REALTIME */
void dmp_impl_sleep_ns(int64_t ns);
/** Deadline for a timeout (< 0 = none, returned as INT64_MAX). */
int64_t dmp_impl_deadline(int64_t timeout_ns);
/** Nanoseconds left until `deadline` (0 if past; INT64_MAX if none). */
int64_t dmp_impl_remaining(int64_t deadline);

/* ---- segment geometry and header (segment.c) ------------------------------ */

struct dmp_impl_geometry {
  uint64_t capacity;
  uint32_t slot_size;
  uint32_t slot_align;
  uint32_t slot_stride;
  uint32_t max_consumers;
  uint64_t table_offset;
  uint64_t slots_offset;
  uint64_t total_size;
};

/** Compute the layout for the given parameters; validates every one.
 * Returns 0 or -DMP_E_BADCONFIG (with detail naming the field). */
int dmp_impl_geometry_compute(uint64_t capacity, uint32_t slot_size, uint32_t slot_align,
                              uint32_t max_consumers, struct dmp_impl_geometry *g);

/** A mapped segment (process-local). */
struct dmp_impl_segment {
  int fd;
  void *map;
  size_t map_len;
  enum dmp_backend backend;
  bool owner;      /**< created by us: remove on close unless keep */
  bool keep;
  struct dmp_impl_geometry geo;
  char path[PATH_MAX]; /**< "/name" for SHM, the file path for MMAP */
};

/** Create a segment exclusively (reclaiming a stale one if allowed), take
 * the producer lock, size, map and initialise it (ready stored last). */
int dmp_impl_segment_create(const struct dmp_producer_config *cfg, const struct dmp_impl_geometry *g,
                            struct dmp_impl_segment **out);

/** Open, map and validate an existing segment. */
int dmp_impl_segment_open(enum dmp_backend backend, const char *name, struct dmp_impl_segment **out);

/** Unmap and close; remove the name if owner and not keep. NULL ok. */
void dmp_impl_segment_close(struct dmp_impl_segment *seg);

/** Fill the hot-path view from a mapped, validated segment. */
void dmp_impl_ring_init(struct dmp_impl_ring *r, struct dmp_impl_segment *seg);

/** Resolve `name` for `backend` into seg->path form. */
int dmp_impl_segment_path(enum dmp_backend backend, const char *name, char *out, size_t outlen);

/* ---- OFD locks (segment.c) ------------------------------------------------ */

/** Take an exclusive OFD lock on byte `at`, without waiting.
 * 0, -EAGAIN if another open file description holds it, or -errno. */
int dmp_impl_lock_try(int fd, off_t at);
/** Release it. */
void dmp_impl_lock_release(int fd, off_t at);
/** 1 if another open file description holds byte `at`, 0 if free, -errno. */
int dmp_impl_lock_held(int fd, off_t at);

/* ---- consumer table (table.c) --------------------------------------------- */

/** Take the table mutex (an OFD lock, dropped by the kernel if we die),
 * waiting at most 2 s. 0 or -ETIMEDOUT / -errno. */
int dmp_impl_table_lock(struct dmp_impl_segment *seg);
void dmp_impl_table_unlock(struct dmp_impl_segment *seg);
/** Announce a table change: bump table_seq and wake its futex waiters. */
void dmp_impl_table_changed(struct dmp_segment_control *ctl);
/** Number of entries to scan (table_hwm, clamped to max_consumers). */
uint32_t dmp_impl_table_span(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g);
/** True if entry `e` gates the producer. Acquire load of its state (P3). */
bool dmp_impl_entry_gates(struct dmp_consumer_entry *e, uint32_t *state_out);
/** Copy an entry's id into `out` (always NUL-terminated, bounded). */
void dmp_impl_entry_id(const struct dmp_consumer_entry *e, char out[DMP_ID_MAX + 1]);
/** Minimum cursor over gating entries; returns false if none gates. */
bool dmp_impl_table_min(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g, int64_t *min,
                        uint32_t *slowest);
/** Count ACTIVE entries. */
uint32_t dmp_impl_table_active(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g);
/** Snapshot entry `i` into `info`; alive is probed with the entry's lock. */
void dmp_impl_table_info(const struct dmp_impl_ring *r, uint32_t i, struct dmp_consumer_info *info);

/* ---- producer internals shared with liveness.c (producer.c) ------------ */

/** One bounded step of waiting for space for sequence `last`: refresh, and
 * if still full, spin/park per the strategy for at most `max_ns`.
 * 0 if there is space now, -EAGAIN if not yet. */
int dmp_impl_producer_wait_step(struct dmp_producer *p, int64_t last, int64_t max_ns);

/* ---- waiting (wait.c) ----------------------------------------------------- */

/** FUTEX_WAIT (shared) on `word` while it equals `expected`, at most
 * `timeout_ns`. 0 when woken or the value differed, -ETIMEDOUT, -EINTR. */
int dmp_impl_futex_wait(dmp_atomic_u32 *word, uint32_t expected, int64_t timeout_ns);
/** FUTEX_WAKE (shared) every waiter on `word`. */
void dmp_impl_futex_wake(dmp_atomic_u32 *word);

/** True when a DMP_WAIT_BLOCK waiter should park after `iter` polls. */
static inline bool dmp_impl_wait_parks(const struct dmp_wait_strategy *w, uint64_t iter)
{
  return w->kind == DMP_WAIT_BLOCK && iter >= (uint64_t)w->spins + DMP_WAIT_BLOCK_YIELDS;
}

/** One step of a wait strategy after `iter` unsuccessful polls, when not
 * parking: a pause hint, a yield (YIELD, and BLOCK before it parks) or a
 * sleep (SLEEP). */
void dmp_impl_wait_step(const struct dmp_wait_strategy *w, uint64_t iter);
/** Normalised copy (defaults filled in; BLOCK becomes SLEEP without wake-ups). */
struct dmp_wait_strategy dmp_impl_wait_normalise(const struct dmp_wait_strategy *w, bool wakeups);
/** Validate a strategy from a config. 0 or -DMP_E_BADCONFIG. */
int dmp_impl_wait_validate(const struct dmp_wait_strategy *w, const char *fn);

#endif /* DMP_INTERNAL_H */
