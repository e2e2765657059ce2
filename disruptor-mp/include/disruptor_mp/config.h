/**
 * @file config.h
 * @brief Configuration of producers (which create rings) and consumers.
 *
 * Initialise a configuration with dmp_producer_config_init() or
 * dmp_consumer_config_init(), then set the fields you need: every field has
 * a documented default, and every field is validated by the create/attach
 * call, which names the offending field in dmp_last_error() as you spell
 * it ("cfg.capacity", "cfg.wait.kind").
 *
 * Growing a configuration (the ABI rule for every *_config struct of both
 * libraries, and for struct dmp_wait_strategy): a struct ends in `reserved`
 * space that its init function zeroes. A later release adds fields only by
 * taking them out of that space, so the size of the struct and the offset
 * of every field a 0.1 program knows stay the same, and zero in a new
 * field means "the 0.1 behaviour". A program built against 0.1 therefore
 * runs unchanged against a later library. The other way round, a library
 * refuses a configuration whose reserved space is not zero
 * (-DMP_E_BADCONFIG, "cfg.reserved ..."), so a newer program that sets a
 * field an older library does not know fails clearly instead of being
 * ignored. Always start from the init function (or zero the struct); never
 * copy a struct between programs built against different versions.
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

/** The backend's name as tools print and parse it: "shm" or "mmap" ("?"
 * for a value that is not a dmp_backend). Never NULL; a static string. */
DMP_API const char *dmp_backend_name(enum dmp_backend backend);

/** The backend named `name` ("shm" or "mmap", as dmp_backend_name() gives).
 * @return 0 and `*out`; -EINVAL for NULL or another name. */
DMP_API int dmp_backend_parse(const char *name, enum dmp_backend *out);

/* Producer (ring) flags. */
#define DMP_RING_KEEP 0x1u        /**< do not remove the segment on close */
#define DMP_RING_NO_WAKEUPS 0x2u  /**< no futex wake-ups (no waiter-count check per
                                       publish/release); DMP_WAIT_BLOCK then degrades to
                                       DMP_WAIT_SLEEP */
#define DMP_RING_NO_RECLAIM 0x4u  /**< never replace a stale segment whose producer died */
#define DMP_RING_NO_COUNTERS 0x8u /**< no shared-memory counters segment (counters.h) */
#define DMP_RING_SHARE_GROUP 0x10u /**< share with group `share_gid`: see "Permissions" below */
#define DMP_RING_NO_MEMBARRIER 0x20u /**< wake-ups without membarrier(2): a full fence per
                                          publish/release instead (wait.h, "Wake-up protocol";
                                          for processes that must not receive its IPIs) */
#define DMP_RING_PREFAULT 0x40u /**< map the whole ring into the producer's page tables at
                                     create (MADV_POPULATE_WRITE), so the first lap of
                                     publishes takes no page faults; costs the time to
                                     touch every page once, at create */
/** A multi-producer ring: besides its creator, up to `max_producers` - 1
 * more producers attach by name (dmp_producer_attach()) and claim slots
 * concurrently; consumers read as from any ring. See producer.h, "Many
 * producers" for when to use it, its costs and what a tombstone is. */
#define DMP_RING_MULTI_PRODUCER 0x80u
/** A byte ring: variable-length records instead of fixed slots (bytes.h).
 * With it `capacity` is the ring's size in bytes and `slot_size` its
 * block (0: 64); not with DMP_RING_MULTI_PRODUCER. */
#define DMP_RING_BYTES 0x100u

/*
 * Permissions. A ring and its counters segment are private by default: mode 0600
 * (exactly: the umask is overridden), owned by the creator.
 *
 * Sharing with a group: set DMP_RING_SHARE_GROUP and `share_gid`. Both
 * segments are then given to that group right after their exclusive create
 * (fchown) and made group read-write (`mode` | 0060, so 0660 by default).
 * The creator must be a member of the group (the kernel's rule): otherwise
 * the create fails with -EPERM and leaves nothing behind. Modes with any
 * bit for other users (`mode` & 0007) are refused (-DMP_E_BADCONFIG).
 *
 * Attaching (dmp_consumer_attach(), dmp_inspect_open(), and a producer
 * reclaiming a stale segment of its name) maps a segment only if, checked
 * with fstat() on the opened descriptor:
 *  - no access bits are set for other users (mode & 0007 == 0), and
 *  - it is owned by the caller's effective uid, or the caller opted in
 *    (DMP_CONSUMER_ALLOW_GROUP, DMP_INSPECT_ALLOW_GROUP) and the segment is
 *    group read-write and owned by the caller's effective or a
 *    supplementary group.
 * Otherwise the call fails with -EACCES and says whose segment it is. Root
 * is not special: it is refused another user's segment like anyone else.
 * A producer never reclaims another user's stale segment.
 *
 * The MMAP backend opens ring files relative to their directory, never
 * through a symbolic link (the final component; -ELOOP), and refuses a
 * directory that every user may write, sticky or not (-EACCES): use a
 * private directory (mkdtemp(3), $XDG_RUNTIME_DIR). Symlinks among the
 * directory's own path components are followed: the directory that is
 * checked is the one used.
 */

struct dmp_producer_config {
  enum dmp_backend backend; /**< default DMP_BACKEND_SHM */
  const char *name;         /**< segment name (SHM, see name.h) or file path (MMAP); required */
  uint64_t capacity;        /**< slots, a power of two >= 1; required */
  uint32_t slot_size;       /**< bytes per event, 1 .. DMP_MAX_SLOT_SIZE; required */
  uint32_t slot_align;      /**< power of two <= DMP_MAX_SLOT_ALIGN; default 8 */
  uint32_t max_consumers;   /**< consumer table size, 1 .. DMP_MAX_CONSUMERS; 0 or default: 16 */
  uint64_t type_tag;        /**< fingerprint of the event type checked by consumers; 0 = none */
  uint32_t mode;            /**< permission bits of the segment, no bits for others; default 0600 */
  uint32_t flags;           /**< DMP_RING_* */
  uint32_t share_gid;       /**< with DMP_RING_SHARE_GROUP: the group to share with; else must be 0 */
  struct dmp_wait_strategy wait; /**< used by blocking claims; default DMP_WAIT_BLOCK (or DMP_WAIT, env.h) */
  /** WaitForConsumers coordination: if nonzero, dmp_producer_create() waits
   * until this many consumers are attached, or fails with -ETIMEDOUT. */
  uint32_t wait_consumers;
  int64_t wait_timeout_ns;  /**< bound of that wait; default 5 s; DMP_FOREVER allowed */
  /** CPU list ("2", "0-3,6") the creating thread is pinned to before the
   * ring is created; NULL (default): DMP_PRODUCER_CPUS, then
   * DMP_PROCESS_CPUS, else not pinned (affinity.h). */
  const char *cpus;
  /** With DMP_RING_MULTI_PRODUCER: producer table size, the creator
   * included, 1 .. DMP_MAX_PRODUCERS; 0: DMP_DEFAULT_MAX_PRODUCERS (8).
   * Must be 0 without the flag. dmp_producer_attach(): 0 or the ring's. */
  uint32_t max_producers;
  uint32_t reserved32;      /**< zero */
  uint64_t reserved[7];     /**< zero: room for later fields ("Growing a configuration") */
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
/** Non-gating (lossy) consumer: takes a table entry (listed, counted) but
 * never holds the producer back. It reads by copy only - try_copy,
 * copy_timeout and process (through an internal copy) - each copy
 * validated against being overwritten meanwhile; when it falls behind it
 * skips to the oldest event still intact and dmp_consumer_missed() counts
 * what it skipped. Lossless while it stays less than capacity / 2 events
 * behind (consumer.h, "Non-gating consumers"). Not with DMP_CONSUMER_DURABLE. */
#define DMP_CONSUMER_NON_GATING 0x4u
#define DMP_CONSUMER_ALLOW_GROUP 0x8u /**< also attach to another user's ring shared with one
                                           of our groups (see "Permissions") */
#define DMP_CONSUMER_PREFAULT 0x10u /**< map the whole ring into this process's page tables at
                                         attach (MADV_POPULATE_READ), so the first lap of
                                         reads takes no page faults */

struct dmp_consumer_config {
  enum dmp_backend backend; /**< default DMP_BACKEND_SHM */
  const char *name;         /**< segment name or file path; required */
  const char *id;           /**< consumer id: 1..31 chars of [A-Za-z0-9_.-]; required */
  uint32_t slot_size;       /**< expected event size; 0 = accept the ring's */
  uint32_t slot_align;      /**< expected alignment; 0 = accept the ring's */
  uint64_t type_tag;        /**< expected type fingerprint; 0 = do not check */
  enum dmp_start start;     /**< for an id new to the ring; default DMP_START_LATEST */
  uint32_t flags;           /**< DMP_CONSUMER_* */
  struct dmp_wait_strategy wait; /**< default DMP_WAIT_BLOCK (or DMP_WAIT, env.h) */
  /** CPU list the attaching thread is pinned to before the ring is opened;
   * NULL (default): DMP_CONSUMER_CPUS, then DMP_PROCESS_CPUS, else not
   * pinned (affinity.h). */
  const char *cpus;
  uint64_t reserved[8];     /**< zero: room for later fields ("Growing a configuration") */
};

/** Fill `cfg` with the defaults (everything zero except the documented
 * defaults; `wait.kind` from DMP_WAIT if set, env.h). Required afterwards, having no default that fits every ring:
 * `name`, `capacity` and `slot_size` (the event type's; typed.h sets it).
 * `cfg` must not be NULL. */
DMP_API void dmp_producer_config_init(struct dmp_producer_config *cfg);

/** Fill `cfg` with the defaults (`wait.kind` from DMP_WAIT if set, env.h).
 * Required afterwards: `name` and `id`.
 * `cfg` must not be NULL. */
DMP_API void dmp_consumer_config_init(struct dmp_consumer_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_CONFIG_H */
