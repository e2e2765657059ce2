/**
 * @file bytes.h
 * @brief Byte rings: variable-length records, contiguous, on the same ring.
 *
 * A byte ring (DMP_RING_BYTES) is a ring of N bytes instead of N slots:
 * each record takes its length plus a 16-byte header, rounded up to the
 * ring's *block* (64 bytes by default), contiguous and never split. Memory
 * in use is proportional to the bytes in flight, a record of up to half
 * the ring travels with one copy and no fragmentation, and a large record
 * reuses the memory that the previous ones touched.
 *
 * One mechanism, two ring shapes: a byte ring is a slot ring whose slots
 * are the blocks (slot size = slot alignment = block), laid out back to
 * back. Sequences count blocks; the producer cursor, gating, the consumer
 * table, liveness, wait strategies, non-gating readers, counters, dmp-stat
 * and inspection work on it unchanged, in units of blocks. A record of n
 * blocks is one batch claim of n blocks; a record that would run past the
 * end of the ring is preceded by a *padding* record that fills the ring's
 * tail, claimed in the same batch, so a record is always one contiguous
 * span of memory. Consumers step over padding without seeing it. A record
 * of 64 KiB or more (with its header, rounded to blocks) also goes back to
 * block 0 behind padding when every gating consumer has released
 * everything and the producer is two such records or more into the lap
 * (single-producer rings without a non-gating reader): the ring then
 * reuses the memory its last records touched instead of sweeping memory
 * that has gone cold in a ring larger than the caches.
 *
 *     void *data;
 *     if (dmp_producer_try_claim_bytes(p, len, &data) == 0) {
 *       memcpy(data, msg, len);
 *       dmp_producer_publish(p);        // every record claimed so far
 *     }
 *
 *     const void *data; size_t len; int64_t seq;
 *     while (dmp_consumer_try_peek_bytes(c, &data, &len, &seq) == 0) {
 *       handle(data, len);
 *       dmp_consumer_release(c);        // every record peeked so far
 *     }
 *
 * Publishing, aborting and releasing are the slot ring's calls
 * (dmp_producer_publish(), dmp_producer_abort(), dmp_consumer_release()):
 * several records may be claimed before one publish (one cursor store for
 * the batch) and several peeked before one release. A run of small
 * records is cheapest with the run calls, dmp_producer_try_claim_bytes_run()
 * and dmp_consumer_try_peek_bytes_run(): the ring's window is checked once
 * per run instead of once per record (every header is still checked).
 *
 * Creating one: dmp_producer_config_init(), then `flags` |= DMP_RING_BYTES,
 * `capacity` = the ring's size in bytes (a power of two, at least two
 * blocks) and `slot_size` = the block (a power of two, 16 ..
 * DMP_MAX_SLOT_ALIGN; 0 = DMP_BYTES_DEFAULT_BLOCK); `slot_align` must be
 * left at its default (or equal the block). The segment's header then
 * records the ring in blocks: capacity = ring bytes / block, slot size and
 * alignment = block, flag DMP_SEG_F_BYTES (so dmp_producer_capacity(),
 * dmp_consumer_capacity() and dmp-stat count blocks, and positions and
 * lags are in blocks). Consumers attach as to any ring.
 *
 * Wire format of one record (native endianness; block = the ring's slot
 * size; a record starts at a block boundary):
 *
 *   offset  size  field
 *   ------  ----  -------------------------------------------------------
 *   0       4     length: DATA: the payload's bytes (0 .. the ring's
 *                 maximum, dmp_producer_bytes_max()); PADDING: the bytes
 *                 from offset 16 to the end of the ring
 *   4       2     kind: DMP_BYTES_DATA (1) or DMP_BYTES_PADDING (2)
 *   6       2     reserved, written 0, ignored by readers
 *   8       8     seq: the record's first block's sequence (int64), so a
 *                 reader can tell a record of this lap from stale bytes
 *   16      length  DATA: the payload, 16-byte aligned
 *   ...           up to the next block boundary: unspecified bytes
 *
 * A DATA record takes ceil((16 + length) / block) blocks, at most half the
 * ring's blocks, and never runs past the ring's end. A PADDING record
 * starts inside the ring (never at block 0) and covers every block to the
 * ring's end, whether or not the record after it would have fitted before
 * the end; it is only ever published together with the record after it. The record after the ring's last byte starts at block 0, so every
 * multiple of the ring's block count that the producer has reached is a
 * record boundary.
 *
 * Sizing: the largest record is half the ring minus the 16-byte header
 * (and at most 2 GiB minus 16); a larger one is refused with -EMSGSIZE.
 * The ring holds at least two of the largest records in flight, and
 * ring bytes / (record bytes rounded up) of smaller ones. See README,
 * "Sizing a byte ring".
 *
 * Peers that write the ring behind the library's back (a stray write, a
 * hostile process): every header a consumer reads is checked before any
 * payload byte is handed out - a known kind, its seq equal to the block
 * it is read at, its length within the ring's maximum, the record within
 * the ring and within what the producer published (padding: exactly to
 * the ring's end). A record that fails is never delivered: the read
 * returns -DMP_E_CORRUPT (the detail in dmp_last_error() says what was
 * wrong, and the ring's counters log it), the consumer stays where it was,
 * and dmp_consumer_resync_bytes() moves it on to the next boundary it can
 * trust. No read ever touches a byte outside the ring's blocks.
 *
 * Non-gating readers (DMP_CONSUMER_NON_GATING) read by copy,
 * dmp_consumer_try_copy_bytes(), each copy validated against having been
 * overwritten as on a slot ring. A reader that was lapped cannot find a
 * record boundary in the middle of a lap, so it skips to the oldest lap
 * start still intact, or to the newest published position; its
 * dmp_consumer_missed() then counts the *blocks* it skipped, not records.
 * A consumer new to the ring with DMP_START_OLDEST (or one resuming past
 * a lost position) starts at the oldest lap start it can safely read (a
 * boundary), or at the producer's position when no such lap start is
 * published: it may start later than on a slot ring.
 *
 * Many producers (DMP_RING_BYTES | DMP_RING_MULTI_PRODUCER; producer.h,
 * "Many producers"; src/bytes_multi.c; model/mp_bytes.pml): other
 * processes join with dmp_producer_attach() (cfg.flags DMP_RING_BYTES |
 * DMP_RING_MULTI_PRODUCER, cfg.capacity in bytes or 0) and claim records
 * concurrently. A record, with the padding before it if it would cross
 * the ring's end from where its claim lands, is one step of the ring's
 * claim counter (a CAS), so whoever crosses the end pads it; the
 * producer's table entry holds the claim's extent before the counter
 * moves. Right after its claim the producer marks the record's inner
 * blocks (a marker per block, 8 bytes per block, stored at the claim);
 * the publish is one marker store per record (and one for its padding).
 * Consumers read records in claim order, each producer's in its order,
 * only once fully published. A producer that dies between claim and
 * publish (its entry's lock free) has its claim turned into tombstones by
 * whoever waits on it (a consumer's liveness check, a waiting producer's
 * repair) within a liveness period; readers step over the run of
 * tombstones, which ends at the next record, and count its blocks
 * (dmp_consumer_tombstones(); the ring's count, dmp-stat's "tombstones",
 * counts the tombstone markers that repairs and aborts stored: an abort
 * every block of its claim, a repair the blocks the dead producer had not
 * marked yet, at least the record's first one); they never read its
 * header or payload. A SIGSTOPped producer keeps its lock and is waited
 * for. dmp_producer_abort() publishes the claim as tombstones the same
 * way before it returns (a producer that aborts and then idles holds back
 * nobody), and so does a close with an open claim. One claim per handle
 * at a time: on such a ring a second dmp_producer_try_claim_bytes()
 * before the publish fails with -EBUSY (records are not batched per
 * publish).
 *
 * Limits of this version: a record is claimed with its final length (no
 * shrinking after the claim). Layer 1's framed messages on a
 * multi-producer byte ring are one record each, claimed, written and
 * published one at a time (framed.h, myelon_producer_attach()). The slot
 * calls (dmp_producer_try_claim(), dmp_consumer_try_peek(), ...) still
 * work on a byte ring, on blocks: a producer that mixes them with the byte
 * calls writes blocks that its consumers report as corrupt records.
 */
#ifndef DISRUPTOR_MP_BYTES_H
#define DISRUPTOR_MP_BYTES_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/consumer.h>
#include <disruptor_mp/export.h>
#include <disruptor_mp/producer.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The block of a byte ring created with `slot_size` 0. */
#define DMP_BYTES_DEFAULT_BLOCK 64u
/** The smallest block: one record header. */
#define DMP_BYTES_MIN_BLOCK 16u
/** Bytes of a record header (the payload starts here). */
#define DMP_BYTES_HEADER 16u
/** The largest record payload on any byte ring, whatever its size. */
#define DMP_BYTES_MAX_RECORD ((UINT32_C(1) << 31) - DMP_BYTES_HEADER)

/** Record kinds (header `kind`). */
enum dmp_bytes_kind {
  DMP_BYTES_DATA = 1,    /**< a record: `length` payload bytes follow the header */
  DMP_BYTES_PADDING = 2, /**< filler to the ring's end; never delivered */
};

/** The header of one record, at the start of its first block (file comment). */
struct dmp_bytes_header {
  uint32_t length;   /**< payload bytes (DATA) or bytes to the ring's end (PADDING) */
  uint16_t kind;     /**< enum dmp_bytes_kind */
  uint16_t reserved; /**< written 0, ignored */
  int64_t seq;       /**< sequence of the record's first block */
};

static_assert(sizeof(struct dmp_bytes_header) == DMP_BYTES_HEADER, "record header is 16 bytes");

/**
 * Claim a record of `len` payload bytes, without waiting. `*data` points
 * at its payload (16-byte aligned, `len` writable bytes) in the shared
 * ring; write it, then dmp_producer_publish() (or dmp_producer_abort()).
 * Claims accumulate until the publish, as on a slot ring.
 * @return 0 and `*data`; -EAGAIN if the ring has no room (a gating
 *         consumer lags); -EMSGSIZE if `len` exceeds
 *         dmp_producer_bytes_max(); -EINVAL for NULL or a ring that is not
 *         a byte ring (detail in dmp_last_error()).
 */
DMP_API int dmp_producer_try_claim_bytes(struct dmp_producer *p, size_t len, void **data);

/** As dmp_producer_try_claim_bytes(), waiting with the producer's wait
 * strategy up to `timeout_ns` (DMP_FOREVER: no deadline) while the ring
 * has no room. Adds -ETIMEDOUT. */
DMP_API int dmp_producer_claim_bytes_timeout(struct dmp_producer *p, size_t len, void **data, int64_t timeout_ns);

/** As dmp_producer_claim_bytes_timeout(), running the liveness checks
 * while blocked (dmp_producer_claim_batch_managed(), liveness.h): a
 * required consumer that stalls or dies is alerted on and, per the
 * liveness action, evicted. Adds that call's codes (-DMP_E_STALLED,
 * -DMP_E_STARTUP, -DMP_E_NOLIVENESS). */
DMP_API int dmp_producer_claim_bytes_managed(struct dmp_producer *p, size_t len, void **data, int64_t timeout_ns);

/** Copy `len` bytes from `src` into a new record and publish it (with
 * every record claimed before), without waiting.
 * @return the last published block's sequence (>= 0), or the codes of
 *         dmp_producer_try_claim_bytes() (-EINVAL also for NULL `src`
 *         with `len` > 0). */
DMP_API int64_t dmp_producer_try_publish_bytes(struct dmp_producer *p, const void *src, size_t len);

/** As dmp_producer_try_publish_bytes(), waiting up to `timeout_ns` for
 * room. Adds -ETIMEDOUT. */
DMP_API int64_t dmp_producer_publish_bytes_timeout(struct dmp_producer *p, const void *src, size_t len,
                                                   int64_t timeout_ns);

/** The largest record payload the producer's ring takes (bytes); 0 for
 * NULL or a ring that is not a byte ring. */
DMP_API size_t dmp_producer_bytes_max(const struct dmp_producer *p);

/**
 * Claim a run of records at once, without waiting: records of `lens[0]`,
 * `lens[1]`, ... payload bytes, back to back in claim order (each with the
 * padding before it that dmp_producer_try_claim_bytes() would put there),
 * as many from the first on as the ring has room for now, up to `n`. The
 * ring's free window is checked once for the run (at most one rescan of
 * the consumer table per call), not once per record; the headers are
 * written as for dmp_producer_try_claim_bytes(). `data[i]` points at
 * record i's payload for every i below the return value; write them, then
 * one dmp_producer_publish() makes the whole run visible with one cursor
 * store (or dmp_producer_abort() drops it).
 *
 *     size_t lens[64]; void *data[64];
 *     int64_t k = dmp_producer_try_claim_bytes_run(p, lens, n, data);
 *     for (int64_t i = 0; i < k; i++)
 *       memcpy(data[i], msg[i], lens[i]);
 *     if (k > 0)
 *       dmp_producer_publish(p);
 *
 * A run ends before the first record that does not fit the free space or
 * that is longer than dmp_producer_bytes_max() (a later call reports it).
 * On a multi-producer ring (one claim per handle) a run is one record;
 * so is a run whose first record takes 64 KiB or more (it is claimed as
 * dmp_producer_try_claim_bytes() claims it, and may go back to block 0).
 * @param p    the producer of a byte ring
 * @param lens payload bytes of each record (`n` of them)
 * @param n    records wanted, at least 1
 * @param data out: the payload of each record claimed (room for `n`)
 * @return the number of records claimed, 1..n; -EAGAIN if the first has
 *         no room; -EMSGSIZE if the first exceeds dmp_producer_bytes_max();
 *         -EINVAL for NULL, `n` 0 or a ring that is not a byte ring; on a
 *         multi-producer ring -EBUSY as dmp_producer_try_claim_bytes().
 */
DMP_API int64_t dmp_producer_try_claim_bytes_run(struct dmp_producer *p, const size_t *lens, size_t n, void **data);

/**
 * Lease the next record without waiting: `*data` points at its payload in
 * the shared ring (`*len` bytes, 16-byte aligned), intact until
 * dmp_consumer_release(); `*seq` (may be NULL) is its first block's
 * sequence. Padding is stepped over.
 * @return 0; -EAGAIN if no record is published; -DMP_E_CORRUPT if the
 *         next record's header fails the checks (file comment; nothing is
 *         delivered, the consumer does not move: see
 *         dmp_consumer_resync_bytes()); -EINVAL for NULL, a non-gating
 *         consumer (use dmp_consumer_try_copy_bytes()) or a ring that is
 *         not a byte ring.
 */
DMP_API int dmp_consumer_try_peek_bytes(struct dmp_consumer *c, const void **data, size_t *len, int64_t *seq);

/**
 * Lease a run of records at once, without waiting: up to `max` records
 * from the next on, as far as the producer has published (its cursor is
 * loaded at most once per call: when the records already known are used
 * up), padding stepped over. Record i is `data[i]`, `len[i]` and, if `seq`
 * is not NULL, `seq[i]`, as dmp_consumer_try_peek_bytes() returns them;
 * all stay intact until dmp_consumer_release(), which gives the run back
 * with one store. Every record's header is checked as
 * dmp_consumer_try_peek_bytes() checks it (file comment): a record that
 * fails ends the run before it, and the next call, meeting it first,
 * returns -DMP_E_CORRUPT. dmp_consumer_unpeek() gives back a run that was
 * peeked and not released.
 *
 *     const void *data[64]; size_t len[64];
 *     int64_t k = dmp_consumer_try_peek_bytes_run(c, data, len, NULL, 64);
 *     for (int64_t i = 0; i < k; i++)
 *       handle(data[i], len[i]);
 *     dmp_consumer_release(c);
 *
 * On a multi-producer ring a run is one record.
 * @param c    a gating consumer of a byte ring
 * @param data out: payload of each record (room for `max`)
 * @param len  out: payload bytes of each record (room for `max`)
 * @param seq  out, may be NULL: first block of each record (room for `max`)
 * @param max  records wanted, at least 1
 * @return the number of records leased, 1..max; -EAGAIN if no record is
 *         published; -DMP_E_CORRUPT if the next record's header fails the
 *         checks (nothing is delivered; see dmp_consumer_resync_bytes());
 *         -EINVAL for NULL, `max` 0, a non-gating consumer or a ring that
 *         is not a byte ring.
 */
DMP_API int64_t dmp_consumer_try_peek_bytes_run(struct dmp_consumer *c, const void **data, size_t *len,
                                                int64_t *seq, size_t max);

/** As dmp_consumer_try_peek_bytes(), waiting up to `timeout_ns` with the
 * consumer's wait strategy and its liveness checks (dmp_consumer_wait()).
 * Adds -ETIMEDOUT, -DMP_E_OWNERDEAD (the producer is gone and nothing is
 * left to read), -DMP_E_EVICTED. */
DMP_API int dmp_consumer_peek_bytes_timeout(struct dmp_consumer *c, const void **data, size_t *len, int64_t *seq,
                                            int64_t timeout_ns);

/**
 * Copy the next record's payload into `dst` (`cap` bytes) and release it,
 * without waiting; the read of gating and non-gating consumers alike. On a
 * non-gating consumer the copy is validated after it is made; if the
 * record was overwritten the read skips ahead (file comment) and
 * dmp_consumer_missed() grows by the blocks skipped.
 * @return 0 with `*len` and `*seq` (may be NULL); -EAGAIN (nothing new; on
 *         a non-gating consumer also after 64 overwritten copies in a
 *         row); -EMSGSIZE if the payload is larger than `cap` (`*len` says
 *         how large; the record is not consumed); -DMP_E_CORRUPT as
 *         dmp_consumer_try_peek_bytes(); -EINVAL (NULL, not a byte ring).
 *         On error `dst` holds unspecified bytes.
 */
DMP_API int dmp_consumer_try_copy_bytes(struct dmp_consumer *c, void *dst, size_t cap, size_t *len, int64_t *seq);

/** As dmp_consumer_try_copy_bytes(), waiting up to `timeout_ns` (as
 * dmp_consumer_peek_bytes_timeout()). */
DMP_API int dmp_consumer_copy_bytes_timeout(struct dmp_consumer *c, void *dst, size_t cap, size_t *len,
                                            int64_t *seq, int64_t timeout_ns);

/**
 * After -DMP_E_CORRUPT: give up on the records from the consumer's
 * position to the next boundary it can trust - the next lap start the
 * producer has published, else the producer's newest position - and
 * release them (so a gating consumer frees the producer). The skipped
 * blocks are added to dmp_consumer_missed(). Records peeked and not yet
 * released are released too. Cold path.
 * @return the number of blocks skipped (>= 0); -EINVAL for NULL or a ring
 *         that is not a byte ring.
 */
DMP_API int64_t dmp_consumer_resync_bytes(struct dmp_consumer *c);

/** The largest record payload of the consumer's ring (bytes); 0 for NULL,
 * for a ring that is not a byte ring, and for the smallest byte ring (two
 * blocks of 16 bytes: it carries empty records only). Not a test of the
 * ring's shape: dmp_consumer_is_bytes() is. */
DMP_API size_t dmp_consumer_bytes_max(const struct dmp_consumer *c);

/** Whether the consumer's ring is a byte ring (DMP_RING_BYTES, segment
 * flag DMP_SEG_F_BYTES, checked at attach); false for NULL and slot rings.
 * Unlike dmp_consumer_bytes_max() > 0, true for every byte ring, the
 * smallest included. */
DMP_API bool dmp_consumer_is_bytes(const struct dmp_consumer *c);

/**
 * Copy `len` bytes from `src` to `dst` (which must not overlap) as the byte
 * ring copies a record in and out (dmp_producer_try_publish_bytes(),
 * dmp_consumer_try_copy_bytes(), ...): from 1 MiB on with REP MOVSB where
 * the CPU has ERMS (x86-64), below that and elsewhere with memcpy().
 * Why: glibc's memcpy (2.36) leaves REP MOVSB above the L2 size on AMD
 * CPUs for a vector loop that, between two processes, made a 1 MiB byte-ring
 * round trip about twice as slow (bench/README.md, "Issue 20"). Exported
 * so that the layers above (Layer 1 copies its messages with it) and
 * benchmarks copy by the same rule as the ring. Sanitizer builds of the
 * library always use memcpy(), so an overread stays a report.
 */
DMP_API void dmp_bytes_copy(void *dst, const void *src, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_BYTES_H */
