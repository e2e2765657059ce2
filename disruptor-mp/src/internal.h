/**
 * @file internal.h
 * @brief Private declarations shared by the .c files of libdisruptor_mp.
 */
#ifndef DMP_INTERNAL_H
#define DMP_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>

#include <disruptor_mp/disruptor_mp.h>

/* ---- errors (error.c) ---------------------------------------------------- */

/** Record "[where] message", or just the message when `where` is NULL, as
 * this thread's last error detail. `where` is only ever the public function
 * the caller called: a detail names what the caller passed (a field as the
 * caller spells it, "cfg.capacity"; a segment; an id), never an internal
 * function. */
void dmp_impl_set_error(const char *where, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Record the detail (no function name) and evaluate to `rc` (a negative code). */
#define DMP_FAIL(rc, ...) (dmp_impl_set_error(NULL, __VA_ARGS__), (rc))

/** Format a reason into a caller's `why` buffer of `whylen` bytes (quietly
 * truncated: long paths) and return `code`. For the helpers that describe
 * a refusal to their caller, which decides what to record. */
int dmp_impl_why(char *why, size_t whylen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/** dmp_impl_why() into the enclosing function's `why` / `whylen`. */
#define DMP_WHY(code, ...) dmp_impl_why(why, whylen, (code), __VA_ARGS__)

/** FNV-1a-64 of `len` bytes: the fingerprint of the segment and counters
 * headers (layout.h, counters.h). */
uint64_t dmp_impl_fnv1a64(const void *data, size_t len);

/* ---- configuration structs (config.c) --------------------------------------- */

/** 0 if the `len` bytes at `reserved` are all zero, else -DMP_E_BADCONFIG
 * with a detail naming `field` (config.h, "Growing a configuration"). */
int dmp_impl_reserved_check(const void *reserved, size_t len, const char *field);
/** dmp_impl_reserved_check() of a struct's `reserved` member. */
#define DMP_RESERVED_CHECK(s, field) dmp_impl_reserved_check((s)->reserved, sizeof (s)->reserved, (field))

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
  uint32_t max_producers;   /**< 0: a single-producer ring */
  uint64_t ptable_offset;   /**< multi-producer: the producer table */
  uint64_t marks_offset;    /**< multi-producer: the publish markers */
  bool bytes;               /**< a byte ring (DMP_SEG_F_BYTES): slots are blocks (bytes.c) */
};

/** Compute the layout for the given parameters; validates every one.
 * Returns 0 or -DMP_E_BADCONFIG, with a detail naming the field as `of`
 * plus its name ("cfg." gives "cfg.capacity"). */
int dmp_impl_geometry_compute(const char *of, uint64_t capacity, uint32_t slot_size, uint32_t slot_align,
                              uint32_t max_consumers, struct dmp_impl_geometry *g);

/** Make `g` the layout of a multi-producer ring with `max_producers`
 * entries (layout.h): producer table and markers between the consumer
 * table and the slots. 0 or -DMP_E_BADCONFIG naming `of`max_producers. */
int dmp_impl_geometry_mp(const char *of, uint32_t max_producers, struct dmp_impl_geometry *g);

/** A mapped segment (process-local). */
struct dmp_impl_segment {
  int fd;
  int dirfd;       /**< MMAP owner: its directory, for unlinkat(); else -1 */
  void *map;
  size_t map_len;
  enum dmp_backend backend;
  bool owner;      /**< created by us: remove on close unless keep */
  bool keep;
  bool wake_membarrier; /**< DMP_SEG_F_MEMBARRIER: our waiters issue membarrier(2) (wait.c) */
  struct dmp_impl_geometry geo;
  uint64_t type_tag; /**< consumers: the header's type tag and epoch, read once at */
  uint64_t epoch;    /**< attach (a hostile peer may scribble the header later) */
  char path[PATH_MAX]; /**< "/name" for SHM, the file path for MMAP */
};

/** Create a segment exclusively (reclaiming a stale one if allowed), take
 * the producer lock, size, map and initialise it (ready stored last). */
int dmp_impl_segment_create(const struct dmp_producer_config *cfg, const struct dmp_impl_geometry *g,
                            struct dmp_impl_segment **out);

/** Open, map and validate an existing segment. Refused (-EACCES) unless
 * dmp_impl_file_trust() accepts it, with `allow_group` from the caller. */
int dmp_impl_segment_open(enum dmp_backend backend, const char *name, bool allow_group,
                          struct dmp_impl_segment **out);

/** Populate this process's page tables for the whole mapping (writable if
 * `write`), so the first touch of each page takes no fault. 0 or -errno. */
int dmp_impl_segment_prefault(struct dmp_impl_segment *seg, bool write);

/** Unmap and close; remove the name if owner and not keep. NULL ok. */
void dmp_impl_segment_close(struct dmp_impl_segment *seg);

/** Fill the hot-path view from a mapped, validated segment. */
void dmp_impl_ring_init(struct dmp_impl_ring *r, struct dmp_impl_segment *seg);

/** Resolve `name` for `backend` into seg->path form. */
int dmp_impl_segment_path(enum dmp_backend backend, const char *name, char *out, size_t outlen);

/* ---- byte rings (bytes.c; bytes.h) ------------------------------------------ */

/** dmp_producer_create() of a DMP_RING_BYTES config: check the byte-ring
 * fields (capacity in bytes, slot_size the block, slot_align) and compute
 * the block geometry into `g` (g->bytes set). 0 or -DMP_E_BADCONFIG. */
int dmp_impl_bytes_geometry(const struct dmp_producer_config *cfg, uint32_t max_consumers,
                            struct dmp_impl_geometry *g);
/** Segment validation of a header with DMP_SEG_F_BYTES: its geometry is a
 * byte ring's (slot size = alignment >= 16, capacity >= 2; one producer or many).
 * 0 or -DMP_E_CORRUPT with the detail. Sets g->bytes. */
int dmp_impl_bytes_validate(const struct dmp_segment_header *h, const char *path, struct dmp_impl_geometry *g);
/** A consumer's settled start `start` (last "released" block) on a byte
 * ring, moved up to a record boundary (bytes.h): unchanged if start + 1 is
 * a lap start or the producer's position; else the next lap start the
 * producer reached, or its position `published`. */
int64_t dmp_impl_bytes_boundary(const struct dmp_impl_ring *r, int64_t start, int64_t published);

/* ---- byte rings with many producers (bytes_multi.c) ------------------------ */

/** Blocks a multi-producer byte claim of `rec` record blocks takes when it
 * starts at block `c`: `rec`, plus the padding to the ring's end if the
 * record would cross it (mp_try_claim(), per attempt). */
uint64_t dmp_impl_bytes_mp_span(const struct dmp_impl_ring *r, int64_t c, uint64_t rec);
/** Claim a record of `rec` blocks on a multi-producer byte ring (`mode`:
 * 0 try, 1 timeout, 2 managed): `*first` its first block (the padding's,
 * if any), `*pad` the padding blocks; the inner blocks' markers set. */
int dmp_impl_bytes_mp_claim(struct dmp_producer *p, uint64_t rec, int mode, int64_t timeout_ns, int64_t *first,
                            uint64_t *pad);
/** MP3 of a byte record: the one marker per record (and its padding). */
void dmp_impl_bytes_mp_mark(struct dmp_producer *p);
/** A gating consumer's next record on a multi-producer byte ring:
 * tombstones stepped over (counted, released), padding too. */
int dmp_impl_bytes_mp_peek(struct dmp_consumer *c, const void **data, size_t *len, int64_t *seq);
/* bytes.c's header checks, for bytes_multi.c. */
struct dmp_impl_bytes_record {
  uint16_t kind;   /**< DMP_BYTES_DATA or DMP_BYTES_PADDING */
  uint32_t length; /**< payload bytes (DATA) */
  uint64_t blocks; /**< blocks it covers, header included */
};
int dmp_impl_bytes_check(const struct dmp_impl_ring *r, int64_t s, int64_t last, struct dmp_impl_bytes_record *rec,
                         char *why, size_t whylen);
int dmp_impl_bytes_corrupt(struct dmp_consumer *c, int64_t s, const char *why);

/* ---- where segments live, whom to trust (access.c) ------------------------ */
/* Each reports a failure as a negative code and a reason in `why` only (so
 * best-effort callers leave the thread's error detail alone). */

/** MMAP: open the directory of file `path` (O_PATH) into `*dirfd` and
 * refuse (-EACCES) one that every user may write. SHM: `*dirfd` = -1.
 * 0 or a negative code. */
int dmp_impl_dir_open(enum dmp_backend backend, const char *path, int *dirfd, char *why, size_t whylen);
/** Open (or with O_CREAT | O_EXCL create, with `mode`) segment `path`:
 * shm_open, or openat(dirfd, its final component) with O_NOFOLLOW |
 * O_CLOEXEC | O_NONBLOCK. The fd, -ELOOP for a symlink, -EEXIST, -errno. */
int dmp_impl_file_open(enum dmp_backend backend, int dirfd, const char *path, int flags, mode_t mode, char *why,
                       size_t whylen);
/** dmp_impl_dir_open() + dmp_impl_file_open() of an existing segment. */
int dmp_impl_file_open_path(enum dmp_backend backend, const char *path, int flags, char *why, size_t whylen);
/** Remove segment `path`: shm_unlink, or unlinkat(dirfd) (unlink if dirfd < 0). 0 or -errno. */
int dmp_impl_file_unlink(enum dmp_backend backend, int dirfd, const char *path);
/** lstat of segment `path` (relative to `dirfd` if >= 0). 0 or -errno. */
int dmp_impl_file_stat(enum dmp_backend backend, int dirfd, const char *path, struct stat *st);
/** Give a just-created segment its access: group `gid` and the group rw
 * bits if `share`, then exactly `mode`. 0 or -errno (EPERM: not a member). */
int dmp_impl_file_share(int fd, const char *path, uint32_t mode, bool share, uint32_t gid, char *why, size_t whylen);
/** The trust rule for mapping an opened segment (config.h, "Permissions"):
 * no access bits for others, and owned by our effective uid - or, with
 * `allow_group`, group rw and owned by one of our groups. fstat into `st`.
 * 0, -EACCES (with the reason), -errno. */
int dmp_impl_file_trust(int fd, const char *path, bool allow_group, struct stat *st, char *why, size_t whylen);

/* ---- OFD locks (segment.c) ------------------------------------------------ */

/** Take an exclusive OFD lock on byte `at`, without waiting.
 * 0, -EAGAIN if another open file description holds it, or -errno. */
int dmp_impl_lock_try(int fd, off_t at);
/** Take a shared (read) OFD lock on byte `at`, or turn our exclusive one
 * into a shared one, without waiting. 0, -EAGAIN (an exclusive holder), -errno. */
int dmp_impl_lock_shared(int fd, off_t at);
/** Release it. */
void dmp_impl_lock_release(int fd, off_t at);
/** TSan builds: tell ThreadSanitizer that OFD lock byte `at` of `fd`'s file
 * was just acquired (`acquired`) or is about to be released; else nothing.
 * Every OFD mutex (lock, then unlock) calls it. */
void dmp_impl_tsan_lock(int fd, off_t at, bool acquired);
/** 1 if another open file description holds byte `at`, 0 if free, -errno. */
int dmp_impl_lock_held(int fd, off_t at);
/** Remove ring segment `path` if, and only if, the name still refers to the
 * file `st` describes (dev, ino), under that file's DMP_LOCK_RECLAIM: the
 * one way any caller removes a ring it judged stale (one owner per name).
 * 1 removed, 0 not (gone, replaced, or another remover holds the lock),
 * -errno. */
int dmp_impl_segment_unlink_same(enum dmp_backend backend, int dirfd, const char *path, const struct stat *st);
/** Remove ring segment `name` (and its counters) if it is stale: its
 * producer is dead, or it is the leftover of a crash during create older
 * than the creation grace period; opened as attach opens it and removed
 * only by its owner (liveness.c; dmp_ring_gc() is the public entry).
 * 1 removed, 0 left alone (live, or being created), -ENOENT, -DMP_E_CORRUPT
 * (not a ring: left alone), -EACCES, -ELOOP, -DMP_E_BADNAME, -errno; each
 * with a detail. */
int dmp_impl_ring_remove_stale(enum dmp_backend backend, const char *name);

/* ---- consumer table (table.c) --------------------------------------------- */

/** Largest sequence taken from shared memory as it is: a peer that can
 * write the segment may store any value there. No honest sequence gets there (2^62 events: 146 years at one
 * per nanosecond), and adding a capacity (<= 2^40) to it cannot overflow. */
#define DMP_IMPL_SEQ_MAX (INT64_MAX / 2)

/** A sequence or cursor loaded from shared memory, clamped to [-1,
 * DMP_IMPL_SEQ_MAX] before any arithmetic (cold paths only). */
static inline int64_t dmp_impl_seq_clamp(int64_t v)
{
  return v < -1 ? -1 : v > DMP_IMPL_SEQ_MAX ? DMP_IMPL_SEQ_MAX : v;
}

/** Take the table mutex (an OFD lock, dropped by the kernel if we die),
 * polling until CLOCK_MONOTONIC `deadline` (dmp_impl_deadline(); 0 = one
 * attempt, never waits). 0, -ETIMEDOUT (with the detail) or -errno. */
int dmp_impl_table_lock(struct dmp_impl_segment *seg, int64_t deadline);
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
/** As dmp_impl_table_min(), and sets `*lossy` (if not NULL) when an ACTIVE
 * non-gating entry was seen (the producer then keeps its window at half a
 * ring: layout.h, "Reading without gating"). */
bool dmp_impl_table_scan(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g, int64_t *min,
                         uint32_t *slowest, bool *lossy);
uint32_t dmp_impl_table_active(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g);
/** Snapshot entry `i` into `info`; alive is probed with the entry's lock. */
void dmp_impl_table_info(const struct dmp_impl_ring *r, uint32_t i, struct dmp_consumer_info *info);
/** The inspector's snapshot of entry `e` (index `i`) against producer
 * position `position`: false if its state is neither ACTIVE nor IDLE.
 * Reads only `*e` (no lock probe: liveness is left to the caller), so it
 * can be fuzzed on arbitrary bytes (fuzz/fuzz_table.c). */
bool dmp_impl_entry_stat(const struct dmp_consumer_entry *e, uint32_t i, int64_t position, struct dmp_consumer_stat *cs);
/** Set state, gating and the derived consumed and lag of a snapshot. */
void dmp_impl_entry_stat_state(struct dmp_consumer_stat *cs, uint32_t state, int64_t position);

/* ---- producer internals shared with liveness.c (producer.c) ------------ */

/** One bounded step of waiting for space for sequence `last`: refresh, and
 * if still full, spin/park per the strategy for at most `max_ns`.
 * 0 if there is space now, -EAGAIN if not yet. */
int dmp_impl_producer_wait_step(struct dmp_producer *p, int64_t last, int64_t max_ns);
/** Park (futex) until the slowest gating consumer moves while a claim up
 * to `last` does not fit that consumer, at most `max_ns` (W2, W3; wait.h).
 * False if no gating consumer holds the claim back (it did not park). Also
 * the multi-producer claim's park (multi.c). */
bool dmp_impl_producer_park(struct dmp_producer *p, int64_t last, int64_t max_ns);

/* ---- multi-producer rings (multi.c) --------------------------------------- */

/** A multi-producer handle's claim state (producer.h: `mp`). */
struct dmp_impl_mp {
  uint32_t index;                   /**< our producer table entry */
  bool creator;
  struct dmp_producer_entry *entry; /**< ours, in the segment */
  int64_t lo, hi;                   /**< our claim [lo, hi) not yet published (lo == hi: none) */
  int64_t last;                     /**< the last sequence we published (-1: none) */
  int64_t limit;                    /**< cached clear limit: claims up to it need no scan */
  uint64_t tombstoned;              /**< our slots published as tombstones */
  bool excl;    /**< we own the ring's biased claim and last saw it EXCLUSIVE (multi.c) */
  bool settled; /**< we saw the ring's bias SHARED: our claims use the CAS */
  /** Byte rings (bytes_multi.c): while nonzero, a claim is of this many
   * record blocks plus the padding to the ring's end if they would cross
   * it, sized at each claim attempt from where it starts. */
  uint64_t bytes_rec;
  /** Byte rings: the open claim is a record (with its padding) whose
   * first block is bytes_at: its publish stores one marker per record. */
  bool bytes_open;
  int64_t bytes_at;
};

dmp_atomic_i64 *dmp_impl_mp_marks(const struct dmp_impl_ring *r);
struct dmp_producer_entry *dmp_impl_mp_ptable(const struct dmp_impl_ring *r);
/** Move the producer cursor over every done slot after it (MP5), waking
 * parked consumers if it moved. Lazily: at a refresh of a claim limit,
 * before a wake-up, after a repair or a tombstoned claim, never per publish. */
void dmp_impl_mp_advance(struct dmp_impl_ring *r);
/** The published frontier of a multi-producer ring: the last sequence
 * such that it and every one before it are done (data or tombstone),
 * found by scanning the markers from the shared cursor (a lower bound,
 * within a ring of it) or from `from` if further (a lower bound the
 * caller knows; -1 for none). Reads only: also inspect.c's, on a
 * read-only mapping. */
int64_t dmp_impl_mp_frontier_of(const struct dmp_segment_control *ctl, const dmp_atomic_i64 *marks,
                                uint64_t capacity, int64_t from);
/** dmp_impl_mp_frontier_of() of a ring. */
int64_t dmp_impl_mp_frontier(const struct dmp_impl_ring *r, int64_t from);
/** A consumer's view of the published frontier (what a single-producer
 * ring's consumer reads from the cursor): gating, from its position by
 * the markers; non-gating, from the shared cursor too. Caches it in
 * c->mp_frontier. */
int64_t dmp_impl_mp_published(struct dmp_consumer *c);
/** Tombstone every claimed, unpublished slot (within a ring of the cursor)
 * that no live producer's intent covers (MP6, MP7); `self`: the caller's
 * own producer entry, or -1. Returns how many it tombstoned. */
int64_t dmp_impl_mp_repair(struct dmp_impl_ring *r, int32_t self);
/** The checks and set-up shared by dmp_producer_create() (`attach` false:
 * every field) and dmp_producer_attach() (`attach`: only the flags an
 * attacher may give): `*out` cleared, cfg and name present, reserved
 * fields zero, cfg.wait valid, then the environment's tunables read and
 * the role's pinning applied (producer.c). */
int dmp_impl_producer_check(const struct dmp_producer_config *cfg, struct dmp_producer **out, bool attach);
/** Take a producer entry and make `p` a multi-producer handle. */
int dmp_impl_mp_join(struct dmp_producer *p, bool creator, int64_t deadline);
/** Tombstone an open claim, free the entry, release its lock (close). */
void dmp_impl_mp_leave(struct dmp_producer *p);
int64_t dmp_impl_mp_claim_next(struct dmp_producer *p);
int dmp_impl_mp_claim_batch(struct dmp_producer *p, uint64_t n, int64_t *first);
/** Claim, waiting per the handle's wait strategy (spin, yield, sleep, or
 * park on the slowest consumer) and repairing, up to `timeout_ns`. 0,
 * -EBUSY, -EINVAL, -ETIMEDOUT. */
int dmp_impl_mp_claim_wait(struct dmp_producer *p, uint64_t n, int64_t *first, int64_t timeout_ns);
int64_t dmp_impl_mp_sequence(const struct dmp_producer *p);
/** A non-gating consumer of a multi-producer ring: step `next` from `s`
 * over the tombstones up to `last` (at most a ring), counting them; the
 * first sequence that is not one (or `last` + 1). */
int64_t dmp_impl_mp_skip_tombstones(struct dmp_consumer *c, int64_t s, int64_t last);
/** True if slot `s` (published, <= the cursor) holds a tombstone. */
bool dmp_impl_consumer_is_tomb(struct dmp_consumer *c, int64_t s);

/* ---- waiting (wait.c) ----------------------------------------------------- */

/** FUTEX_WAIT (shared) on `word` while it equals `expected`, at most
 * `timeout_ns`. 0 when woken or the value differed, -ETIMEDOUT, -EINTR. */
int dmp_impl_futex_wait(dmp_atomic_u32 *word, uint32_t expected, int64_t timeout_ns);
/** FUTEX_WAKE (shared) every waiter on `word`. */
void dmp_impl_futex_wake(dmp_atomic_u32 *word);

/* The wake-up protocol (wait.h, "Wake-up protocol"). */

/** A waiter that could not make its registration visible with membarrier(2)
 * on a ring whose peers may rely on it parks at most this long at a time. */
#define DMP_IMPL_UNSYNCED_PARK_NS INT64_C(5000000) /* 5 ms */

/** membarrier(2) usable by this process: MEMBARRIER_CMD_GLOBAL_EXPEDITED
 * supported and this process registered to receive it (once per process;
 * DMP_MEMBARRIER=0 in the environment says no). */
bool dmp_impl_membarrier_usable(void);
/** Issue membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED): true when it ran
 * (every registered thread passed a full barrier before it returned). */
bool dmp_impl_membarrier_global(void);
/** Header flags (DMP_SEG_F_*) for a new ring created with DMP_RING_* `ring_flags`. */
uint32_t dmp_impl_wake_seg_flags(uint32_t ring_flags);
/** Decide r->wakeups (DMP_IMPL_WAKE_*) and r->seg->wake_membarrier from
 * the (validated) header flags and this process's membarrier support. */
void dmp_impl_wake_setup(struct dmp_impl_ring *r);
/** The slow side of the protocol, called by a waiter right after its
 * seq_cst increment of a waiter count and before it re-reads what it waits
 * for (W1, W2). Returns how long it may park: `max_ns`, or at most
 * DMP_IMPL_UNSYNCED_PARK_NS if a peer's fast side may have gone unordered. */
int64_t dmp_impl_waiter_sync(const struct dmp_impl_ring *r, int64_t max_ns);
/** Liveness period (and longest single park) of a normalised strategy. */
static inline int64_t dmp_impl_wait_liveness_ns(const struct dmp_wait_strategy *w)
{
  return (int64_t)w->liveness_ms * 1000000;
}

/** True when a DMP_WAIT_BLOCK waiter should park after `iter` polls. */
static inline bool dmp_impl_wait_parks(const struct dmp_wait_strategy *w, uint64_t iter)
{
  return w->kind == DMP_WAIT_BLOCK && iter >= (uint64_t)w->spins + DMP_WAIT_BLOCK_YIELDS;
}

/** One step of a wait strategy after `iter` unsuccessful polls, when not
 * parking: a pause hint, a yield (YIELD, and BLOCK before it parks) or a
 * sleep (SLEEP) of at most sleep_ns and never past `deadline`. Returns true
 * if it yielded or slept (the caller then reads the clock: a step took
 * long enough to matter for its deadline), false after a pause hint. */
bool dmp_impl_wait_step(const struct dmp_wait_strategy *w, uint64_t iter, int64_t deadline);
/** Normalised copy (defaults filled in; BLOCK becomes SLEEP without wake-ups). */
struct dmp_wait_strategy dmp_impl_wait_normalise(const struct dmp_wait_strategy *w, bool wakeups);
/** Validate a strategy from a config; `field` is how the caller spells it
 * ("cfg.wait"). 0 or -DMP_E_BADCONFIG. */
int dmp_impl_wait_validate(const struct dmp_wait_strategy *w, const char *field);

/* ---- counters (counters.c; layout in counters.h) -------------------------- */

/** The library's own records of one participant, by role-neutral slot. */
enum dmp_impl_cnt {
  DMP_IMPL_CNT_FULL,      /* producer */
  DMP_IMPL_CNT_SPINS,     /* both: wait-strategy steps */
  DMP_IMPL_CNT_PARKS,     /* both: futex parks */
  DMP_IMPL_CNT_LAG_MAX,   /* both */
  DMP_IMPL_CNT_ALERTS,    /* producer (liveness) */
  DMP_IMPL_CNT_EVICTIONS, /* producer (liveness) */
  DMP_IMPL_CNT_ATTACHES,  /* consumer */
  DMP_IMPL_CNT_DETACHES,  /* consumer */
  DMP_IMPL_CNT_MISSED,    /* consumer */
  DMP_IMPL_CNT_N
};

/** Geometry of a counters segment. */
struct dmp_impl_cnt_geometry {
  uint32_t record_count;
  uint32_t error_count;
  uint64_t records_offset;
  uint64_t errors_offset;
  uint64_t total_size;
};

/** A mapped counters segment (the opaque struct dmp_counters of counters.h). */
struct dmp_counters {
  int fd;
  int dirfd; /* MMAP owner: the directory, for unlinkat(); else -1 */
  uint8_t *map;
  size_t map_len;
  enum dmp_backend backend;
  bool owner; /* the producer's: removes the segment on close unless keep */
  bool keep;
  struct dmp_counters_header *hdr;
  struct dmp_counter_record *records;
  struct dmp_error_record *errors;
  struct dmp_impl_cnt_geometry geo;
  uint64_t *owned; /* bitmap: records this handle holds a read lock on */
  struct dmp_counter lib[DMP_IMPL_CNT_N];
  int64_t full_seq; /* producer: last sequence counted as a full event */
  /* OFD locks exclude other processes, not other threads sharing this
   * handle's description: this mutex serialises them (registry ops only). */
  pthread_mutex_t mu;
  char path[PATH_MAX];
};

/** F_OFD_SETLK of `type` (F_RDLCK, F_WRLCK, F_UNLCK) on byte `at`, without
 * waiting: 0, -EAGAIN if another description holds a conflicting lock, -errno. */
int dmp_impl_cnt_lock(int fd, short type, off_t at);
/** FNV-1a-64 of a counters header's bytes [0, 80). */
uint64_t dmp_impl_cnt_fingerprint(const struct dmp_counters_header *h);

/** Producer create: make the ring's counters segment and the producer's
 * records (enabled), or remove a stale one (disabled). Sets p->counters. */
int dmp_impl_counters_create(struct dmp_producer *p, bool enabled);
/** Producer close: remove the counters segment (unless DMP_RING_KEEP) while
 * the producer lock is still held, and close it. */
void dmp_impl_counters_remove(struct dmp_producer *p);
/** Consumer attach (best effort, never fails the attach): open the ring's
 * counters, register the consumer's records, count the attach; waits (for
 * a young ring's counters, for the registry lock) at most until `deadline`,
 * the attach's own, and never more than DMP_TABLE_WAIT_NS. */
void dmp_impl_counters_attach(struct dmp_consumer *c, int64_t deadline);
/** dmp_counters_register() waiting for the registry lock until `deadline`. */
int dmp_impl_cnt_register(struct dmp_counters *s, uint32_t type, const char *label, struct dmp_counter *out,
                          int64_t deadline);
/** Record a distinct error without waiting: a locked registry drops it
 * (counted in errors_dropped). 0, 1 (new entry) or a negative code. */
int dmp_impl_cnt_error_now(struct dmp_counters *s, int code, const char *text);
/** Consumer detach: count it and drop the records' ownership. */
void dmp_impl_counters_detach(struct dmp_consumer *c);
/** Add `n` to one of the participant's records. `s` may be NULL. */
void dmp_impl_cnt_add(struct dmp_counters *s, enum dmp_impl_cnt which, uint64_t n);
/** Raise one of the participant's records to `v`. `s` may be NULL. */
void dmp_impl_cnt_max(struct dmp_counters *s, enum dmp_impl_cnt which, int64_t v);
/** Producer rescan: a full ring for `last` (counted once per sequence) and
 * the slowest consumer's lag. `s` may be NULL. */
void dmp_impl_cnt_scan(struct dmp_counters *s, int64_t last, bool full, int64_t lag);
/** Distinct-error log entry (best effort). `s` may be NULL. */
void dmp_impl_cnt_error(struct dmp_counters *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Layout for a ring with `max_consumers` entries. */
void dmp_impl_cnt_geometry(uint32_t max_consumers, struct dmp_impl_cnt_geometry *g);
/** Validate a mapped counters header against `len` mapped bytes (ready
 * marker acquired first). 0, -DMP_E_NOTREADY, -DMP_E_LAYOUT, -DMP_E_CORRUPT,
 * with the reason in `why` (the thread's error detail is left alone). */
int dmp_impl_cnt_validate(const void *map, size_t len, const char *path, struct dmp_impl_cnt_geometry *g,
                          char *why, size_t whylen);
/** Validate the image mapped at s->map (s->map_len bytes) and point the
 * handle's header, records and errors into it (allocates the ownership
 * bitmap). Touches no file, so it can be fuzzed on arbitrary bytes
 * (fuzz/fuzz_counters.c). 0 or dmp_impl_cnt_validate()'s codes, -ENOMEM. */
int dmp_impl_cnt_open_image(struct dmp_counters *s, char *why, size_t whylen);
/** Seqlock reads of one record / error entry; false if FREE or changing. */
bool dmp_impl_cnt_record_read(const struct dmp_counter_record *r, struct dmp_counter_stat *out);
bool dmp_impl_cnt_error_read(const struct dmp_error_record *e, struct dmp_error_stat *out);
/** "<ring path>.cnt" into `out`. 0 or -DMP_E_BADNAME. */
int dmp_impl_cnt_path(const char *ring_path, char *out, size_t outlen);
/** Validate a mapped ring header (segment.c's rules); `seg->map_len` is
 * the segment's size, `seg->map` needs only the header mapped. */
int dmp_impl_segment_validate(const struct dmp_impl_segment *seg, struct dmp_impl_geometry *g);

#endif /* DMP_INTERNAL_H */
