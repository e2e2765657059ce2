/**
 * @file framed.h
 * @brief Layer 1: variable-length messages over a Layer 0 ring.
 *
 * Producer: a message of 0..max_message bytes becomes one or more frames
 * (frame.h). Frames are claimed in batches of up to the ring's capacity
 * and made visible with one release store per batch, so a message that
 * fits in the ring appears to consumers all at once.
 *
 * Consumer: single-frame messages are delivered zero-copy from the slot,
 * leased until myelon_consumer_release() or the next receive; fragmented
 * messages are reassembled into a consumer-owned 16-byte aligned buffer
 * bounded by max_message. Truncated, interleaved, oversize and malformed
 * input is reported as an error and the stream resynchronises at the next
 * message start; a tail fragment is never delivered as a message.
 *
 *     struct myelon_msg m;
 *     int rc = myelon_consumer_recv(c, &m, 1000000000);  // 1 s
 *     if (rc == 0) { use(m.data, m.len, m.kind); myelon_consumer_release(c); }
 *
 * On a byte ring (`format` MYELON_FRAME_BYTES, struct
 * myelon_producer_config) every message is one record instead: one claim,
 * one copy, delivered zero-copy, never fragmented, with the same calls,
 * error codes, timeouts, gating and liveness.
 *
 * The Layer 0 handles are reachable (myelon_producer_ring(),
 * myelon_consumer_ring()) and are the very disruptor_mp types.
 */
#ifndef MYELON_FRAMED_H
#define MYELON_FRAMED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/export.h>
#include <myelon/frame.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MYELON_DEFAULT_FRAME_CAPACITY 1024u
#define MYELON_DEFAULT_RING_CAPACITY 1024u /**< frames (ring slots): 1 MiB of payload at the default frame capacity */
#define MYELON_DEFAULT_MAX_MESSAGE (16u << 20) /**< 16 MiB */
#define MYELON_MAX_MESSAGE_LIMIT (UINT32_MAX - 16u) /**< totals are 32-bit on the wire */
/** Bytes of a MYELON_FRAME_BYTES ring created with `ring_bytes` 0: the
 * memory of the default slot ring (1024 frames of 1 KiB); messages up to
 * 512 KiB - 32 bytes. */
#define MYELON_DEFAULT_RING_BYTES (1u << 20)
/** Bytes a byte ring's record spends besides the message: Layer 0's record
 * header and the frame header (frame.h, MYELON_FRAME_BYTES). */
#define MYELON_BYTES_OVERHEAD 32u

/**
 * How a framed ring is laid out. With `format` MYELON_FRAME_COMPACT or
 * MYELON_FRAME_ALIGNED it is a ring of `ring.capacity` slots of one frame
 * each, and a message longer than a frame is cut into frames. With
 * MYELON_FRAME_BYTES it is a byte ring of `ring_bytes` bytes
 * (disruptor_mp/bytes.h) and every message is one record of 32 + its
 * length bytes rounded up to the ring's block, never cut: memory in use
 * is proportional to the bytes in flight, a message travels with one
 * copy, and `frame_capacity` and `ring.capacity` are not used.
 */
struct myelon_producer_config {
  struct dmp_producer_config ring; /**< name (required), backend, capacity (frames; default
                                        MYELON_DEFAULT_RING_CAPACITY), wait ...; its slot_size,
                                        slot_align and type_tag are set from the frame format
                                        (MYELON_FRAME_BYTES: slot_size is the ring's block,
                                        0 = 64 bytes, and capacity is not used) */
  enum myelon_frame_format format; /**< default MYELON_FRAME_COMPACT */
  uint32_t frame_capacity;         /**< payload bytes per frame; default 1024 (not used by
                                        MYELON_FRAME_BYTES) */
  size_t max_message;              /**< largest message; default 16 MiB. MYELON_FRAME_BYTES:
                                        at most half the ring minus MYELON_BYTES_OVERHEAD,
                                        taken as that when larger (myelon_producer_max_message()) */
  uint64_t ring_bytes;             /**< MYELON_FRAME_BYTES only: the ring's size in bytes, a power
                                        of two of at least 2 blocks; 0 = MYELON_DEFAULT_RING_BYTES.
                                        Must be 0 with the slot formats */
  uint64_t reserved[7]; /**< zero: room for later fields (disruptor_mp/config.h, "Growing a configuration") */
};

struct myelon_consumer_config {
  struct dmp_consumer_config ring; /**< name and id (required), backend, start, wait ...; its slot_size,
                                        slot_align and type_tag are set from the format */
  enum myelon_frame_format format; /**< must match the ring; MYELON_FRAME_AUTO: whatever format the ring
                                        was created with (its type tag says; a ring that carries no
                                        frames is refused with -MYELON_E_FORMAT). Default
                                        MYELON_FRAME_COMPACT */
  uint32_t frame_capacity;         /**< must match the ring; 0 = accept the ring's (not used by
                                        MYELON_FRAME_BYTES) */
  size_t max_message;              /**< reassembly bound; default 16 MiB */
  uint64_t reserved[8]; /**< zero: room for later fields (disruptor_mp/config.h, "Growing a configuration") */
};

/**
 * Defaults for every field (Layer 0 defaults included), ring.capacity
 * MYELON_DEFAULT_RING_CAPACITY frames among them; only `ring.name` is
 * required: a config straight from here plus a name creates a working
 * ring. `cfg` must not be NULL.
 */
MYELON_API void myelon_producer_config_init(struct myelon_producer_config *cfg);

/** Defaults for every field (Layer 0 defaults included); `ring.name` and
 * `ring.id` are required. `cfg` must not be NULL. */
MYELON_API void myelon_consumer_config_init(struct myelon_consumer_config *cfg);

struct myelon_producer;
struct myelon_consumer;

/**
 * Create a framed ring and become its producer.
 * @return 0 and `*out`; -MYELON_E_FORMAT (bad format/capacity),
 *         -DMP_E_BADCONFIG (max_message 0 or above MYELON_MAX_MESSAGE_LIMIT;
 *         `ring_bytes` set with a slot format; with MYELON_FRAME_BYTES a
 *         ring size or block Layer 0 refuses),
 *         or any error of dmp_producer_create().
 */
MYELON_API int myelon_producer_create(const struct myelon_producer_config *cfg, struct myelon_producer **out);

/**
 * Join a framed multi-producer ring (created by myelon_producer_create()
 * with DMP_RING_MULTI_PRODUCER in `cfg->ring.flags`) as one more producer
 * (dmp_producer_attach()). `format` and `frame_capacity` must be the
 * ring's; `ring.capacity`, `ring.max_consumers` and the ring flags other
 * than DMP_RING_SHARE_GROUP are taken from the ring. On a multi-producer
 * ring every message is claimed at once (all its frames in one batch, so
 * producers' frames never interleave): a message of more frames than the
 * ring's capacity is refused with -MYELON_E_TOOBIG. A multi-producer byte
 * ring (MYELON_FRAME_BYTES with DMP_RING_MULTI_PRODUCER) takes framed
 * producers too: every message is one record, claimed whole as on one
 * producer (so nothing interleaves); a batch there claims, writes and
 * publishes its messages one by one (a handle holds one claim at a time),
 * not in runs.
 * @param cfg as for myelon_producer_create()
 * @param out the producer, or NULL on failure
 * @return 0; -DMP_E_MISMATCH (a single-producer ring, or another frame
 *         format), or any error of dmp_producer_attach().
 */
MYELON_API int myelon_producer_attach(const struct myelon_producer_config *cfg, struct myelon_producer **out);

/** Close (see dmp_producer_close()). NULL ok. */
MYELON_API void myelon_producer_close(struct myelon_producer *p);

/** The Layer 0 producer underneath. */
MYELON_API struct dmp_producer *myelon_producer_ring(struct myelon_producer *p);

/**
 * Payload bytes per frame: `frame_capacity` as created, rounded up to the
 * format's alignment. A message of at most this many bytes travels as one
 * frame (zero-copy on both sides; myelon_producer_claim() takes up to this much).
 * On a MYELON_FRAME_BYTES ring every message is one frame: this is
 * myelon_producer_max_message(). 0 for NULL.
 */
MYELON_API uint32_t myelon_producer_frame_capacity(const struct myelon_producer *p);

/** The largest message this producer publishes (`max_message`; on a
 * MYELON_FRAME_BYTES ring at most half the ring minus
 * MYELON_BYTES_OVERHEAD). 0 for NULL. */
MYELON_API size_t myelon_producer_max_message(const struct myelon_producer *p);

/**
 * Publish a message, waiting up to `timeout_ns` (DMP_FOREVER: no deadline)
 * for space. A message needing more frames than the ring holds is
 * published in batches; if time runs out between batches the message is
 * cut short and consumers report it as truncated. A message that fits one
 * frame is claimed, written and published without a clock read unless the
 * ring is full.
 * @return 0; -MYELON_E_TOOBIG; -ETIMEDOUT; -EINVAL (also while a
 *         myelon_producer_claim() is open: commit it first).
 */
MYELON_API int myelon_producer_publish(struct myelon_producer *p, const void *data, size_t len, uint8_t kind,
                                       int64_t timeout_ns);

/**
 * Publish only if every frame fits now (all-or-nothing, one release store).
 * @return 0; -EAGAIN (not enough free slots, or more frames than the ring
 *         holds: use myelon_producer_publish); -MYELON_E_TOOBIG; -EINVAL (also
 *         while a myelon_producer_claim() is open).
 */
MYELON_API int myelon_producer_try_publish(struct myelon_producer *p, const void *data, size_t len, uint8_t kind);

/**
 * Liveness-managed publish (dmp_producer_enable_liveness() on the ring
 * first). On failure `*failed_frame` (if not NULL) is the index of the
 * first frame that was not published (0 = nothing was published).
 * @return 0, -MYELON_E_TOOBIG, -EINVAL (as myelon_producer_publish()), or an error
 *         of dmp_producer_claim_batch_managed() (-DMP_E_STARTUP,
 *         -DMP_E_STALLED, -ETIMEDOUT, -DMP_E_NOLIVENESS, ...).
 */
MYELON_API int myelon_producer_publish_managed(struct myelon_producer *p, const void *data, size_t len, uint8_t kind,
                                               int64_t timeout_ns, uint64_t *failed_frame);

/**
 * Zero-copy single-frame publish, step 1: claim room for a message of up
 * to `max_len` bytes (<= the frame capacity), waiting up to `timeout_ns`.
 * On a MYELON_FRAME_BYTES ring the record takes `max_len` bytes whatever
 * length is committed (a record cannot shrink): claim what you need.
 * Write the message at `*buf`, then call myelon_producer_commit() (or
 * myelon_producer_abort() to publish nothing). While the claim is open every other
 * publish on `p` fails with -EINVAL.
 * @return 0; -EINVAL (`max_len` above the frame capacity, or a claim is
 *         already open); -MYELON_E_TOOBIG (`max_len` above max_message;
 *         on a byte ring, where the two are one, this code); -ETIMEDOUT.
 */
MYELON_API int myelon_producer_claim(struct myelon_producer *p, size_t max_len, void **buf, int64_t timeout_ns);

/** Step 2: publish the claimed frame with its final length (<= max_len).
 * @return 0; -EINVAL (no claim open, or `len` above `max_len`). */
MYELON_API int myelon_producer_commit(struct myelon_producer *p, size_t len, uint8_t kind);

/**
 * Step 2, instead of myelon_producer_commit(): drop the open claim without
 * publishing. Consumers see nothing of it (whatever was written at `*buf`
 * stays unpublished), the next claim or publish reuses the slot, and the
 * message id sequence has no gap. On a multi-producer ring
 * (DMP_RING_MULTI_PRODUCER) the slot is not reused: the abort publishes it
 * as a tombstone before it returns (consumers step over it and count it,
 * dmp_consumer_tombstones()), so the other producers' messages after it
 * are delivered however long this producer then idles.
 * @return 0; -EINVAL when `p` is NULL or no claim is open (nothing changes).
 */
MYELON_API int myelon_producer_abort(struct myelon_producer *p);

/** One message of a batch: what myelon_producer_publish_batch() publishes. */
struct myelon_batch_msg {
  const void *data; /**< the message bytes (may be NULL when `len` is 0) */
  size_t len;       /**< their count, at most the producer's max_message */
  uint8_t kind;     /**< application message kind */
};

/**
 * Publish `n` messages in order, with one cursor update per run of
 * messages: consecutive messages that fit one frame each are written into
 * as many slots as are free (at most the ring's capacity) and made visible
 * with one release store, the way Layer 0's batch claim works; a message
 * longer than a frame goes as myelon_producer_publish() sends it, between
 * the runs. Consumers see every message whole, in order; a consumer
 * reading with myelon_consumer_recv_batch() takes a run back in one call.
 *
 * Every message is checked before anything is published: bad input
 * publishes nothing. Waits with the ring's wait strategy while the ring is
 * full, up to `timeout_ns` in all (DMP_FOREVER: no deadline; 0: no wait);
 * the clock is read only when the ring is full.
 * One producer thread, as every publish; blocking only while the ring is
 * full.
 *
 * @param p          the producer
 * @param msgs       the messages (may be NULL when `n` is 0)
 * @param n          their count; 0 publishes nothing and returns 0
 * @param timeout_ns how long to wait for space in all
 * @param published  out, may be NULL: the number of messages published
 *                   (n on success; on an error the first that many are
 *                   published and the rest are not; a multi-frame message
 *                   cut short by the timeout counts as not published and
 *                   consumers report it as truncated)
 * @return 0: all `n` published; -EINVAL (NULL `p`, NULL `msgs` with `n`
 *         above 0, a NULL `data` with `len` above 0, or a
 *         myelon_producer_claim() is open); -MYELON_E_TOOBIG (a message
 *         above max_message, or on a multi-producer ring one of more
 *         frames than the ring holds); -ETIMEDOUT (some were published:
 *         see `published`).
 */
MYELON_API int myelon_producer_publish_batch(struct myelon_producer *p, const struct myelon_batch_msg *msgs, size_t n,
                                             int64_t timeout_ns, size_t *published);

/**
 * Attach to a framed ring.
 * With `format` MYELON_FRAME_AUTO the consumer takes the ring's format
 * (compact, aligned or a byte ring), as if it had been given: a reader
 * need not know how its producer made the ring.
 * @return 0 and `*out`; -MYELON_E_FORMAT if the ring was not created for
 *         this format (and capacity, if given), or the format or capacity
 *         is invalid (MYELON_FRAME_AUTO: the ring carries no frames); -DMP_E_BADCONFIG (max_message 0 or above
 *         MYELON_MAX_MESSAGE_LIMIT); -EINVAL (NULL argument, or
 *         DMP_CONSUMER_NON_GATING in `ring.flags` with a slot format, or
 *         with MYELON_FRAME_AUTO on a slot ring: messages are leased in
 *         place, which needs a gating consumer);
 *         errors of dmp_consumer_attach().
 *         On a MYELON_FRAME_BYTES ring a non-gating consumer is allowed:
 *         it reads each message by copy (dmp_consumer_try_copy_bytes())
 *         into a buffer of its own (`zero_copy` false, at most
 *         min(max_message, the ring's largest) bytes), receives one
 *         message per myelon_consumer_recv_batch(), and when lapped
 *         skips what was overwritten (dmp_consumer_missed() counts the
 *         blocks), never delivering a message that changed under it.
 *         A failed attach leaves no consumer entry in the ring.
 */
MYELON_API int myelon_consumer_attach(const struct myelon_consumer_config *cfg, struct myelon_consumer **out);

/** As myelon_consumer_attach(), retrying until the ring exists (bounded). */
MYELON_API int myelon_consumer_attach_timeout(const struct myelon_consumer_config *cfg, int64_t timeout_ns,
                                              struct myelon_consumer **out);

/** Detach (see dmp_consumer_close()). NULL ok. */
MYELON_API void myelon_consumer_close(struct myelon_consumer *c);

/** The Layer 0 consumer underneath. */
MYELON_API struct dmp_consumer *myelon_consumer_ring(struct myelon_consumer *c);

/** Payload bytes per frame of the ring (as myelon_producer_frame_capacity()
 * on the producer's side): messages up to this size arrive zero-copy (on
 * a MYELON_FRAME_BYTES ring: the ring's largest message).
 * 0 for NULL. */
MYELON_API uint32_t myelon_consumer_frame_capacity(const struct myelon_consumer *c);

/** The largest message this consumer accepts (its `max_message`, the
 * reassembly bound). 0 for NULL. */
MYELON_API size_t myelon_consumer_max_message(const struct myelon_consumer *c);

/** A received message. `data` is valid until the next receive or release. */
struct myelon_msg {
  const void *data;  /**< 16-byte aligned if fragmented or ALIGNED or BYTES format */
  size_t len;
  uint8_t kind;
  uint32_t msg_id;
  bool zero_copy;    /**< data points into the ring slot */
};

/**
 * Receive the next message without waiting. A frame holding a whole
 * message is checked in place and delivered zero-copy (no clock read);
 * every other frame goes through myelon_frame_parse() and reassembly.
 * It feeds at most one ring's worth of frames, so it returns promptly even
 * while a message longer than the ring streams in.
 * @return 0 and `*m`; -EAGAIN (nothing complete yet: a partial message is
 *         kept); -MYELON_E_TRUNCATED / -MYELON_E_MALFORMED / -MYELON_E_TOOBIG
 *         (that message is lost, the next call continues with the stream).
 *         On a MYELON_FRAME_BYTES ring a record whose Layer 0 header fails
 *         its checks (-DMP_E_CORRUPT, bytes.h) is -MYELON_E_MALFORMED too:
 *         the consumer resynchronises (dmp_consumer_resync_bytes()) and
 *         what it skipped counts in dmp_consumer_missed().
 */
MYELON_API int myelon_consumer_try_recv(struct myelon_consumer *c, struct myelon_msg *m);

/**
 * Receive the next message, waiting with the ring's wait strategy up to
 * `timeout_ns`. The call returns within its timeout even while the frames
 * of a message longer than the ring keep arriving: a message still
 * incomplete then stays in reassembly and the next call goes on with it.
 * @return as myelon_consumer_try_recv(), or -ETIMEDOUT, or
 * -DMP_E_OWNERDEAD if the producer died (a partial message is dropped and
 * the detail says so), or -DMP_E_EVICTED if this consumer's table entry was
 * taken away behind the library's back (dmp_consumer_wait()).
 */
MYELON_API int myelon_consumer_recv(struct myelon_consumer *c, struct myelon_msg *m, int64_t timeout_ns);

/** Release the last received message (its slot or buffer may be reused). */
MYELON_API void myelon_consumer_release(struct myelon_consumer *c);

/**
 * Receive into a fresh malloc'd buffer the caller frees (convenience).
 * @return 0 with `*data`, `*len` (and `*kind` if not NULL), or as recv.
 */
MYELON_API int myelon_consumer_recv_copy(struct myelon_consumer *c, void **data, size_t *len, uint8_t *kind,
                                         int64_t timeout_ns);

/**
 * Receive the next message as myelon_consumer_recv() does and copy it into
 * `buf`: the binding entry point of language bindings (Python's
 * Consumer.recv_into() and recv_bytes()), one call per message where
 * recv + copy + release would be three.
 * @param c          the consumer
 * @param buf        where the message bytes go (may be NULL when `cap` is 0)
 * @param cap        bytes available at `buf`
 * @param m          out: the message; on 0 `data` is `buf`
 * @param timeout_ns how long to wait for a message, as myelon_consumer_recv();
 *                   0: no wait at all, as myelon_consumer_try_recv()
 * @return 0: the message (`m->len` bytes) was copied to `buf` and released;
 *         1: it is longer than `cap`: nothing was copied and it stays leased
 *         in `*m` as myelon_consumer_recv() returns it (read it, then
 *         myelon_consumer_release() or the next receive);
 *         otherwise as myelon_consumer_recv() (-EAGAIN instead of
 *         -ETIMEDOUT when `timeout_ns` is 0); -EINVAL for a NULL `c` or
 *         `m`, or a NULL `buf` with `cap` above 0.
 */
MYELON_API int myelon_consumer_recv_into(struct myelon_consumer *c, void *buf, size_t cap, struct myelon_msg *m,
                                         int64_t timeout_ns);

/**
 * Receive up to `max` messages at once, waiting up to `timeout_ns` for the
 * first (as myelon_consumer_recv()); the rest are those complete now. The
 * messages that are whole frames are delivered zero-copy from their
 * slots, and all of them stay leased until myelon_consumer_release() or
 * the next receive, which hands the slots back with one cursor update for
 * the whole batch. A message that needs reassembly (longer than a frame)
 * comes alone, or ends a batch: it lives in the reassembly buffer until
 * the next receive. An error (truncated, malformed, oversize) is never
 * mixed with messages: a batch stops before the frame that causes it,
 * and the next call reports it.
 * One consumer thread, as every receive.
 *
 * @param c          the consumer
 * @param msgs       out: `msgs[0..return)` are the messages, in order
 * @param max        room at `msgs`, at least 1
 * @param timeout_ns how long to wait for the first message
 *                   (DMP_FOREVER: no deadline; 0: do not wait)
 * @return the number of messages received (1..max); -EINVAL (NULL `c` or
 *         `msgs`, or `max` 0); otherwise as myelon_consumer_recv()
 *         (-EAGAIN instead of -ETIMEDOUT when `timeout_ns` is 0).
 */
MYELON_API int myelon_consumer_recv_batch(struct myelon_consumer *c, struct myelon_msg *msgs, size_t max,
                                          int64_t timeout_ns);

/** Message callback for myelon_consumer_process(): nonzero stops. */
typedef int (*myelon_msg_fn)(const struct myelon_msg *m, void *user);

/**
 * Deliver every message complete now (at most `max`, 0 = no limit),
 * without waiting. Errors on individual messages are counted in
 * myelon_consumer_errors() and skipped.
 * @return messages delivered, or -EINVAL.
 */
MYELON_API int64_t myelon_consumer_process(struct myelon_consumer *c, myelon_msg_fn fn, size_t max, void *user);

/** Messages lost to truncation, malformed frames or size so far. */
MYELON_API uint64_t myelon_consumer_errors(const struct myelon_consumer *c);

/** Continuation frames dropped because their START was never seen. */
MYELON_API uint64_t myelon_consumer_orphans(const struct myelon_consumer *c);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_FRAMED_H */
