/**
 * @file record.h
 * @brief Record a ring into a journal, and replay a journal into a ring.
 *
 * The **recorder** attaches to a ring as a Layer 0 consumer and appends
 * what it reads to a journal (journal.h):
 *  - raw: every event (one whole slot) with its ring sequence;
 *  - framed: every Layer 1 message (frame.h), reassembled, with its kind
 *    and message id; the ring's frame format and capacity are detected from
 *    its type tag and written into the journal header.
 *
 * Byte rings (disruptor_mp/bytes.h: DMP_RING_BYTES, and Layer 1's
 * MYELON_FRAME_BYTES) are recorded as slot rings are, one journal record
 * per ring record, whole: raw, the record's payload (0 bytes up to the
 * ring's largest record, half the ring) with its first block's sequence;
 * framed, its message with kind and message id. The shape is read from
 * the segment (its flag DMP_SEG_F_BYTES: dmp_consumer_bytes_max() > 0, or
 * for the one byte ring whose largest record is empty, two 16-byte
 * blocks, the flag itself through an inspector), framed or raw from the
 * type tag (myelon_frame_tag(MYELON_FRAME_BYTES, 0)); the
 * ring's size in bytes, block and largest record go into the journal
 * header (journal.h, version 2), and the replayer rebuilds a byte ring
 * of that geometry. A record whose Layer 0 header fails its checks
 * (-DMP_E_CORRUPT: a hostile or broken peer) is not recorded: it counts as
 * a bad message, the next record carries MYELON_JREC_F_GAP, and the
 * recorder moves on with dmp_consumer_resync_bytes().
 *
 * Gating (the default) or non-gating, chosen by the user:
 *  - gating: the recorder's cursor gates the producer, so nothing is ever
 *    lost; a slow disk slows the producer down. The recorder cannot see
 *    how long the producer waited; it reports its own largest lag (events
 *    published and not yet recorded) instead.
 *  - non-gating (MYELON_RECORD_NON_GATING, needs DMP_CONSUMER_NON_GATING in
 *    Layer 0): the producer never waits for the recorder; events it
 *    overwrites before the recorder copied them are counted as dropped
 *    (raw: events, on a byte ring blocks, which is what Layer 0 counts a
 *    lapped reader's loss in; framed: messages, from the gaps in message
 *    ids and the messages cut short), and the record after a loss carries
 *    MYELON_JREC_F_GAP.
 * Writes go through the journal writer: io_uring with registered buffers
 * and a bounded number of writes in flight, or pwrite(2); optional periodic
 * sync (see myelon_journal_writer_sync_start() for the durability guarantee) and
 * rotation by size. A write error (ENOSPC, EFBIG, EIO, ...) stops the
 * recorder with that error and the count of records not written: never a
 * silent loss.
 *
 * The **replayer** reads a journal and republishes it into a new ring that
 * it creates as producer (raw or framed, slot ring or byte ring, as the
 * journal says; a slot size or frame capacity that differs from the
 * journal's is refused), at the
 * original pacing (scaled), at a fixed rate, or as fast as the ring takes
 * it, from a sequence number or a time on.
 *
 * Shapes: a byte ring's journal replays into a byte ring (of the recorded
 * block and type tag, of `ring.capacity` bytes if set, which must still
 * take the journal's largest record), never into slots or frames; a slot
 * ring's journal into a slot ring, and a framed one also into a byte ring
 * when DMP_RING_BYTES is in `ring.flags` (a MYELON_FRAME_BYTES ring of
 * `ring.capacity` bytes, 0 = MYELON_DEFAULT_RING_BYTES, blocks of
 * `ring.slot_size`, 0 = 64; messages are messages, and one larger than
 * that ring's largest stops the replay with -MYELON_E_TOOBIG). A raw slot
 * ring's journal (whole slots) with DMP_RING_BYTES is refused. Each
 * refusal is -MYELON_E_FORMAT with both shapes named in dmp_last_error().
 *
 *     struct myelon_recorder_config rc;
 *     myelon_recorder_config_init(&rc);
 *     rc.ring = "orders"; rc.journal.path = "/var/tmp/orders.mj";
 *     struct myelon_recorder *rec;
 *     if (myelon_recorder_open(&rc, &rec) == 0) {
 *       while (myelon_recorder_run(rec, 200000000) == 0) { print_progress(rec); }
 *       myelon_recorder_close(rec, &final);
 *     }
 *
 * One thread per recorder or replayer; distinct ones are independent.
 * myelon_recorder_stop() / myelon_replayer_stop() may be called from a
 * signal handler.
 */
#ifndef MYELON_RECORD_H
#define MYELON_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/config.h>
#include <myelon/export.h>
#include <myelon/journal.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What the recorder records. */
enum myelon_record_kind {
  MYELON_RECORD_AUTO = 0,   /**< framed if the ring's type tag says it carries frames, else raw */
  MYELON_RECORD_RAW = 1,    /**< Layer 0 events */
  MYELON_RECORD_FRAMED = 2, /**< Layer 1 messages (-MYELON_E_FORMAT if the ring has no frames) */
};

/* Recorder flags. */
#define MYELON_RECORD_NON_GATING 0x1u /**< never hold the producer back (see above) */
#define MYELON_RECORD_KNOWN (MYELON_RECORD_NON_GATING)

struct myelon_recorder_config {
  enum dmp_backend backend;   /**< of the ring; default DMP_BACKEND_SHM */
  const char *ring;           /**< ring name or path; required */
  const char *id;             /**< consumer id; default "recorder" */
  enum myelon_record_kind kind; /**< default AUTO */
  uint32_t flags;             /**< MYELON_RECORD_* */
  enum dmp_start start;       /**< default DMP_START_LATEST */
  struct dmp_wait_strategy wait; /**< how the recorder waits for events; default DMP_WAIT_BLOCK (or DMP_WAIT) */
  size_t max_message;         /**< framed slot ring: largest message reassembled; default 16 MiB
                                   (a byte ring's messages are bounded by the ring, not by this) */
  int64_t attach_timeout_ns;  /**< wait this long for the ring to appear; 0 = it must exist */
  uint32_t sync_interval_ms;  /**< start a sync this often while recording; 0 = never */
  uint64_t max_records;       /**< stop after this many; 0 = no limit */
  struct myelon_journal_writer_config journal; /**< path (required), rotation, io, buffers,
                                                    sync kind, mode, flags; `info` is filled in */
  uint64_t reserved[8]; /**< zero: room for later fields (disruptor_mp/config.h, "Growing a configuration") */
};

/** Counts of a recorder. */
struct myelon_recorder_stats {
  uint64_t recorded;      /**< records appended to the journal */
  uint64_t written;       /**< records written to the file (in order) */
  uint64_t durable;       /**< records covered by a completed sync */
  uint64_t not_written;   /**< after a write error: recorded - written */
  uint64_t dropped;       /**< non-gating: events (raw; byte ring: blocks) or messages (framed) lost */
  uint64_t bad_messages;  /**< framed: malformed / oversize messages not recorded; byte ring: also
                               records failing Layer 0's checks, raw records above 1 GiB */
  uint64_t lag_max;       /**< largest number of events (byte ring: blocks) seen waiting behind the recorder */
  uint64_t bytes;         /**< journal bytes appended */
  uint64_t write_errors;
  uint64_t syncs;
  uint32_t parts;
  int error;              /**< the write error that stopped the recorder, 0 if none */
  bool gating;
  enum myelon_journal_kind kind;
  const char *backend;    /**< the journal writer's backend (myelon_journal_writer_stats) */
  uint64_t reserved[4]; /**< zeroed by the library: room for later fields (ABI 0.1 keeps this size) */
};

struct myelon_recorder;

/** Defaults for every field (journal writer defaults included) but the
 * two required ones: `ring` and `journal.path`. */
MYELON_API void myelon_recorder_config_init(struct myelon_recorder_config *cfg);

/**
 * Attach to the ring and create the journal.
 * @return 0 and `*out`; -EINVAL; -DMP_E_BADCONFIG (field named in the
 *         detail); -EOPNOTSUPP (non-gating requested but Layer 0 has no
 *         non-gating consumers); -MYELON_E_FORMAT (framed requested, ring
 *         carries no frames: a slot ring without a frame tag, or a byte
 *         ring that is not MYELON_FRAME_BYTES); -ENOMEM; errors of dmp_consumer_attach() (-ENOENT: no
 *         such ring, -ETIMEDOUT with attach_timeout_ns) and of
 *         myelon_journal_writer_open() (-EEXIST, -EACCES, ...). On failure
 *         nothing is left behind (no consumer entry, no journal file).
 */
MYELON_API int myelon_recorder_open(const struct myelon_recorder_config *cfg, struct myelon_recorder **out);

/**
 * Record for up to `timeout_ns` (< 0: until the stream ends): waits for
 * events with the configured strategy, appends them, submits the partial
 * write buffer whenever the ring is drained, and starts a sync every
 * sync_interval_ms.
 * @return 0: the time is up, call again; 1: the stream ended (the producer
 *         closed or died and everything it published was recorded,
 *         max_records reached, or myelon_recorder_stop() was called);
 *         < 0: a write error (-ENOSPC, -EFBIG, -EIO, ...; the stats say how
 *         many records were not written) or a ring error. After 1 or < 0
 *         call myelon_recorder_close().
 */
MYELON_API int myelon_recorder_run(struct myelon_recorder *rec, int64_t timeout_ns);

/** Ask a running myelon_recorder_run() to return 1 soon (within the wait
 * strategy's liveness period). Async-signal-safe. */
MYELON_API void myelon_recorder_stop(struct myelon_recorder *rec);

/** Current counts. */
MYELON_API void myelon_recorder_stats(const struct myelon_recorder *rec, struct myelon_recorder_stats *st);

/**
 * Write out everything, sync if sync_interval_ms was set (so a clean stop
 * leaves every record durable), detach from the ring, close the journal
 * and free. `final` (may be NULL) receives the last counts. Accepts NULL.
 * @return 0 or the first write/sync error.
 */
MYELON_API int myelon_recorder_close(struct myelon_recorder *rec, struct myelon_recorder_stats *final);

/** Pacing of a replay. */
enum myelon_replay_pace {
  MYELON_REPLAY_MAX = 0,      /**< as fast as the ring takes it */
  MYELON_REPLAY_ORIGINAL = 1, /**< the recorded gaps (monotonic clock), divided by `speed` */
  MYELON_REPLAY_RATE = 2,     /**< `rate` records per second */
};

struct myelon_replayer_config {
  const char *journal;          /**< journal base or part file; required */
  uint32_t open_flags;          /**< MYELON_JOURNAL_SKIP_CORRUPT to replay past corruption */
  struct dmp_producer_config ring; /**< name, backend, capacity (0: the recorded ring's; a
                                        byte ring's journal: bytes), wait_consumers, mode,
                                        flags ...; slot_size 0 = the journal's (byte ring:
                                        block), else it must match; slot_align and type_tag
                                        are set from the journal; DMP_RING_BYTES is set for a
                                        byte ring's journal, asks for a byte ring for a framed
                                        slot ring's (capacity: its bytes, slot_size: its block),
                                        and is refused for a raw slot ring's */
  uint32_t frame_capacity;      /**< framed: 0 = the journal's, else it must match (byte
                                     ring's journal: its largest message) */
  enum myelon_replay_pace pace; /**< default MYELON_REPLAY_MAX */
  double speed;                 /**< ORIGINAL: 2.0 = twice as fast; default 1.0 */
  double rate;                  /**< RATE: records per second (> 0) */
  int64_t from_seq;             /**< start at the first record with seq >= this; -1 = start */
  int64_t from_time_ns;         /**< ... or taken at or after this CLOCK_REALTIME; 0 = start */
  uint64_t max_records;         /**< 0 = all */
  int64_t publish_timeout_ns;   /**< wait for ring space per record; default DMP_FOREVER */
  uint64_t reserved[8]; /**< zero: room for later fields (disruptor_mp/config.h, "Growing a configuration") */
};

/** Counts of a replayer. */
struct myelon_replayer_stats {
  uint64_t replayed;    /**< records published */
  uint64_t corrupt;     /**< corrupted regions skipped (skip mode) */
  bool torn;            /**< the journal ended in a torn tail (everything before was replayed) */
  enum myelon_journal_kind kind;
  uint64_t reserved[4]; /**< zeroed by the library: room for later fields (ABI 0.1 keeps this size) */
};

struct myelon_replayer;

/** Defaults for every field but the two required ones: `journal` and
 * `ring.name`; `rate` too with MYELON_REPLAY_RATE. */
MYELON_API void myelon_replayer_config_init(struct myelon_replayer_config *cfg);

/**
 * Open the journal, seek, and create the ring (waiting for
 * `ring.wait_consumers` consumers, if set).
 * @return 0 and `*out`; -EINVAL / -DMP_E_BADCONFIG; errors of
 *         myelon_journal_reader_open(); -MYELON_E_FORMAT (slot size or frame
 *         capacity differ from the journal's, the journal's geometry is
 *         unusable, the other ring shape was asked for, or a byte ring
 *         too small for the journal's largest record); errors of dmp_producer_create() / myelon_producer_create()
 *         (-DMP_E_INUSE: a live producer has that ring, -ETIMEDOUT, ...).
 */
MYELON_API int myelon_replayer_open(const struct myelon_replayer_config *cfg, struct myelon_replayer **out);

/**
 * Replay for up to `timeout_ns` (< 0: to the end).
 * @return 0: time is up, call again; 1: done (end of journal, torn tail
 *         reached, max_records, or stopped); < 0: -MYELON_E_JCORRUPT (stop
 *         mode), -ETIMEDOUT (no ring space within publish_timeout_ns),
 *         -MYELON_E_FORMAT (a raw record that is not one slot, or a byte
 *         ring's record larger than its header's largest),
 *         -MYELON_E_TOOBIG (a framed slot ring's message larger than the
 *         byte ring it is replayed into takes), I/O errors.
 */
MYELON_API int myelon_replayer_run(struct myelon_replayer *r, int64_t timeout_ns);

/** Ask a running myelon_replayer_run() to return 1 soon. Async-signal-safe. */
MYELON_API void myelon_replayer_stop(struct myelon_replayer *r);

/** Current counts. */
MYELON_API void myelon_replayer_stats(const struct myelon_replayer *r, struct myelon_replayer_stats *st);

/** The journal header being replayed. */
MYELON_API const struct myelon_journal_info *myelon_replayer_info(const struct myelon_replayer *r);

/** Close the ring (consumers read what was published, then see the
 * producer gone) and the journal. Accepts NULL. */
MYELON_API void myelon_replayer_close(struct myelon_replayer *r);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_RECORD_H */
