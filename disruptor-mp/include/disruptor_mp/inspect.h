/**
 * @file inspect.h
 * @brief Read-only inspection of rings (what dmp-stat shows) and removal of
 * rings whose producer is dead.
 *
 * An inspector works on rings it does not own and never writes to them: it
 * opens the segment O_RDONLY and maps only its header, control block and
 * consumer table with PROT_READ (never the slots), validated by the same
 * rules as an attach. Every sample re-checks the file's size with fstat()
 * before reading and compares the immutable header with the copy taken at
 * open, so a segment that shrank or was overwritten gives -DMP_E_CORRUPT,
 * not SIGBUS; one that was removed keeps its mapping and is reported as
 * `removed`. (The library never shrinks a segment; only an outside
 * truncate racing a sample within microseconds could still fault - the
 * dmp-stat tool guards even that with a SIGBUS handler.)
 *
 * Liveness comes from the kernel, as everywhere in this library: the
 * producer is alive while its OFD lock is held; a consumer is
 *   - alive    attached and its entry's OFD lock is held,
 *   - stalled  alive, behind the producer and without progress since the
 *              previous sample of the same inspector, or - on a first
 *              sample - gating a full ring (lag >= capacity: it is what
 *              blocks the producer),
 *   - dead     attached (ACTIVE) but its lock is gone: its process died,
 *   - idle     detached cleanly (IDLE entry; its id and position kept).
 *
 * Derived counters: published = producer position + 1, consumed = a
 * consumer's position + 1, lag = producer position - consumer position.
 * The ring's counters segment (counters.h), if any, is read in the same
 * sample: its records with their owners' liveness and its error log.
 */
#ifndef DISRUPTOR_MP_INSPECT_H
#define DISRUPTOR_MP_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/config.h>
#include <disruptor_mp/counters.h>
#include <disruptor_mp/export.h>
#include <disruptor_mp/layout.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A read-only inspector of one ring (process-local, opaque). */
struct dmp_inspect;

/** Liveness of a consumer as an inspector sees it. */
enum dmp_peer_state {
  DMP_PEER_ALIVE = 0,
  DMP_PEER_STALLED = 1,
  DMP_PEER_DEAD = 2,
  DMP_PEER_IDLE = 3,
};

/** One consumer table entry in a sample. */
struct dmp_consumer_stat {
  char id[DMP_ID_MAX + 1];
  uint32_t index;              /**< table entry */
  enum dmp_entry_state state;  /**< DMP_ENTRY_ACTIVE or DMP_ENTRY_IDLE */
  enum dmp_peer_state liveness;
  bool gating;                 /**< it holds the producer back */
  bool durable;
  bool non_gating;             /**< DMP_CONSUMER_NON_GATING: never gates, may lose events */
  int32_t pid;                 /**< last holder's pid (informational) */
  uint32_t generation;         /**< attaches of this entry */
  uint64_t attached_ns;        /**< CLOCK_REALTIME of the last attach */
  int64_t position;            /**< last released sequence (-1 = none) */
  uint64_t consumed;           /**< position + 1 (derived counter) */
  int64_t lag;                 /**< producer position - position (>= 0) */
};

/** Everything one sample of a ring shows. Pointers into it stay valid until
 * the next dmp_inspect_sample() or dmp_inspect_close() of that inspector. */
struct dmp_ring_stat {
  enum dmp_backend backend;
  const char *name;            /**< "/name" (SHM) or the file path (MMAP) */
  uint64_t epoch;
  uint64_t created_ns;         /**< CLOCK_REALTIME */
  uint64_t capacity;
  uint32_t slot_size;
  uint32_t slot_align;
  uint32_t max_consumers;
  uint32_t flags;              /**< DMP_SEG_F_* */
  uint64_t type_tag;
  uint64_t total_size;
  int32_t owner_pid;           /**< creator's pid (informational) */
  bool producer_alive;         /**< its OFD lock is held */
  bool removed;                /**< the name no longer refers to this segment */
  int64_t position;            /**< producer cursor (-1 = nothing published); on a multi-producer
                                    ring the published frontier its per-slot markers show (every
                                    sequence up to it holds data or a tombstone), not its lazily
                                    moved shared cursor */
  uint64_t published;          /**< position + 1 (derived counter) */
  int64_t min_gating;          /**< slowest gating cursor (position if none) */
  bool full;                   /**< position - min_gating >= capacity */
  int64_t sampled_ns;          /**< CLOCK_MONOTONIC of this sample */
  uint32_t n_consumers;        /**< ACTIVE and IDLE entries */
  const struct dmp_consumer_stat *consumers;
  /* The counters segment (counters.h). */
  int counters_rc;             /**< 0 read; -ENOENT none; < 0 unreadable (see counters_error) */
  const char *counters_error;  /**< why it could not be read ("" if it could) */
  bool counters_stale;         /**< its epoch is not this ring's (an older incarnation) */
  int32_t counters_pid;        /**< its creator's pid */
  bool counters_owner_alive;   /**< its creator holds DMP_CNT_LOCK_OWNER */
  uint64_t counters_created_ns;
  uint32_t counters_capacity;  /**< records */
  uint64_t errors_dropped;
  uint64_t registrations_failed;
  uint32_t n_counters;
  const struct dmp_counter_stat *counters;
  uint32_t n_errors;
  const struct dmp_error_stat *errors;
  /* Multi-producer rings (DMP_SEG_F_MULTI_PRODUCER in `flags`); 0 otherwise. */
  uint32_t max_producers;      /**< producer table entries */
  uint32_t producers_alive;    /**< entries whose OFD lock is held */
  int64_t claimed;             /**< last sequence claimed (>= position; -1 = none) */
  uint64_t tombstones;         /**< slots published as tombstones (dead producers, aborts) */
};

/**
 * Open ring `name` read-only for inspection (the ring's producer may be
 * alive, dead or gone; no lock is taken). Cold path; does not block.
 * @return 0 and `*out`; on failure `*out` is NULL and: -EINVAL NULL
 *         argument; -DMP_E_BADNAME; -ENOENT no such ring; -EACCES not
 *         readable, or not trusted (another user's: see
 *         dmp_inspect_open_flags()); -ELOOP a symlink; -DMP_E_NOTREADY still being created; -DMP_E_LAYOUT
 *         another layout version; -DMP_E_CORRUPT bad header or size (the
 *         detail in dmp_last_error() says which).
 */
DMP_API int dmp_inspect_open(enum dmp_backend backend, const char *name, struct dmp_inspect **out);

/** dmp_inspect_open_flags(): also inspect another user's ring shared with
 * one of the caller's groups (config.h, "Permissions"). */
#define DMP_INSPECT_ALLOW_GROUP 0x1u

/**
 * As dmp_inspect_open(), with DMP_INSPECT_* `flags`. dmp_inspect_open()
 * accepts only rings of the caller's effective uid (config.h,
 * "Permissions"); with DMP_INSPECT_ALLOW_GROUP also a group-shared one
 * (group rw, owned by one of the caller's groups). Either way a ring that
 * other users may access, a symlink (-ELOOP) or a file in a directory every
 * user may write (-EACCES) is refused. The counters segment, read in each
 * sample, is held to the same rule.
 * @return as dmp_inspect_open(), plus -EACCES (not trusted, with whose it
 *         is in dmp_last_error()), -ELOOP, -DMP_E_BADCONFIG unknown flags.
 */
DMP_API int dmp_inspect_open_flags(enum dmp_backend backend, const char *name, uint32_t flags,
                                   struct dmp_inspect **out);

/**
 * Take a sample: producer position and liveness, every consumer with its
 * position, lag and liveness, and the counters. Lock-free reads plus one
 * F_OFD_GETLK per participant; never writes to the ring.
 * @return 0 and `*out` (owned by the inspector); -DMP_E_CORRUPT if the
 *         segment shrank or its header changed since open (reopen it);
 *         -EINVAL; -ENOMEM.
 */
DMP_API int dmp_inspect_sample(struct dmp_inspect *in, const struct dmp_ring_stat **out);

/** Close an inspector. Accepts NULL. */
DMP_API void dmp_inspect_close(struct dmp_inspect *in);

/** Name of a liveness state ("alive", "stalled", "dead", "idle"). */
DMP_API const char *dmp_peer_state_name(enum dmp_peer_state s);

/** What dmp_inspect_list() found. */
enum dmp_segment_kind {
  DMP_SEGMENT_RING = 0,     /**< a ring segment (its magic matches) */
  DMP_SEGMENT_COUNTERS = 1, /**< a counters segment whose ring does not exist */
};

/** Called by dmp_inspect_list() with a name dmp_inspect_open() accepts
 * ("/name" or a path) and, for DMP_SEGMENT_COUNTERS, the name of its ring.
 * Return nonzero to stop the listing. */
typedef int (*dmp_inspect_fn)(enum dmp_backend backend, const char *name, enum dmp_segment_kind kind,
                              void *user);

/**
 * List the rings of a backend in name order: for DMP_BACKEND_SHM the POSIX
 * shared-memory objects (`dir` NULL: /dev/shm), for DMP_BACKEND_MMAP the
 * regular files in directory `dir`. A file is a ring if its first 8 bytes
 * are DMP_MAGIC; counters segments are reported only when their ring is
 * gone (orphans, for garbage collection). Unreadable files are skipped.
 * Cold path; reads 8 bytes per file.
 * @return the number of segments reported, or -errno (directory unreadable),
 *         -EINVAL (NULL fn, or MMAP without `dir`).
 */
DMP_API int dmp_inspect_list(enum dmp_backend backend, const char *dir, dmp_inspect_fn fn, void *user);

/**
 * Garbage-collect ring `name` (a segment name for DMP_BACKEND_SHM, a file
 * path for DMP_BACKEND_MMAP): the one way to remove a stale ring. If its
 * producer is dead (its OFD lock is free, or the ring is gone), or it is
 * the not-ready leftover of a crash during creation older than the
 * creation grace period (2 s), remove the ring segment and its counters
 * segment, unless a live producer owns the counters. A live ring, or one
 * being created, is never touched. The segment is opened as attach opens it
 * (never through a symlink; for MMAP not in a world-writable directory) and
 * only its owner removes it: another user's segment, or one open to every
 * user, is refused with -EACCES and left alone - root included (config.h,
 * "Permissions"). Consumers still attached keep their mappings. To sweep a
 * namespace, dmp_inspect_list() and dmp_ring_gc() each ring it reports.
 * Cold path; does not block.
 * @return 1 something was removed; 0 left alone (the producer is alive, or
 *         the ring is still being created); -ENOENT neither exists;
 *         -DMP_E_CORRUPT the ring is not a disruptor_mp segment (left
 *         alone); -EACCES another user's segment; -ELOOP a symlink;
 *         -DMP_E_BADNAME; -errno.
 */
DMP_API int dmp_ring_gc(enum dmp_backend backend, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_INSPECT_H */
