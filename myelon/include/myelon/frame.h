/**
 * @file frame.h
 * @brief Layer 1 wire format: frames in ring slots, and the bounded
 * reassembler that turns a frame stream back into messages.
 *
 * A message of any length (up to a configured maximum) travels as one or
 * more frames, one frame per ring slot. Two formats; the payload capacity
 * per frame is chosen at ring creation and recorded in the ring's type tag
 * (see myelon_frame_tag()), so a consumer can check it on attach.
 *
 * Common header, native endianness (same host only):
 *
 *   offset size field
 *   0      4    len     payload bytes carried by this frame
 *   4      1    kind    application message kind (same in every frame)
 *   5      1    flags   bit0 START, bit1 END (SINGLE = both); others must be 0
 *   6      2    frag    fragment index within the message, modulo 2^16
 *   8      4    msg_id  message id, unique per producer stream, never 0
 *
 * MYELON_FRAME_COMPACT: the header is 12 bytes, the payload starts at 12
 *   (4-byte aligned), slot = 12 + capacity rounded up to 4. The first frame
 *   of a multi-frame message starts its payload with a u32 total message
 *   length (so that frame carries capacity - 4 message bytes).
 * MYELON_FRAME_ALIGNED: bytes 12..16 hold the u32 total message length in
 *   every frame, the payload starts at 16 (16-byte aligned: slots are
 *   16-aligned), slot = 16 + capacity rounded up to 16.
 *
 * MYELON_FRAME_BYTES: no slots. The ring is a libdisruptor_mp byte ring
 *   (DMP_RING_BYTES, disruptor_mp/bytes.h) and every message is one
 *   record, never fragmented, whose payload is one MYELON_FRAME_ALIGNED
 *   SINGLE frame. A record, byte by byte (native endianness; it starts at
 *   a block boundary of the ring):
 *
 *   offset size field
 *   0      4    record length (Layer 0): 16 + room, room >= len (equal but
 *               after a myelon_producer_claim() committed shorter)
 *   4      2    record kind (Layer 0): DMP_BYTES_DATA
 *   6      2    reserved (Layer 0), 0
 *   8      8    seq (Layer 0): the record's first block
 *   16     4    len     message bytes
 *   20     1    kind    application message kind
 *   21     1    flags   exactly SINGLE (START|END): a record is a whole message
 *   22     2    frag    0
 *   24     4    msg_id  message id, never 0
 *   28     4    total   = len
 *   32     len  the message, 16-byte aligned
 *   ...         to the next block boundary: unspecified bytes
 *
 *   The ring's type tag is myelon_frame_tag(MYELON_FRAME_BYTES, 0). A
 *   message takes 32 + len bytes rounded up to the ring's block (64 by
 *   default); the largest is half the ring minus those 32 bytes (framed.h,
 *   `ring_bytes`). Padding records that fill the ring's tail (bytes.h) are
 *   Layer 0's and never reach Layer 1. myelon_frame_parse() with this
 *   format and `capacity` = the record's length - 16 checks the frame as a
 *   consumer does.
 *
 * Beyond the original (which has neither): the total length and the
 * fragment index let a consumer detect a truncated or interleaved message;
 * a tail fragment is never delivered as a whole message.
 *
 * Everything here is a pure function of its inputs, so the parser and the
 * reassembler can be fuzzed on arbitrary bytes.
 */
#ifndef MYELON_FRAME_H
#define MYELON_FRAME_H

#include <assert.h> /* static_assert in C11 (a keyword in C++) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <myelon/export.h>

#ifdef __cplusplus
extern "C" {
#endif

enum myelon_frame_format {
  MYELON_FRAME_COMPACT = 0, /**< 12-byte header, 4-byte aligned payload */
  MYELON_FRAME_ALIGNED = 1, /**< 16-byte header, 16-byte aligned payload */
  MYELON_FRAME_BYTES = 2,   /**< a byte ring: one record per message, an aligned SINGLE frame in each */
  MYELON_FRAME_AUTO = 3,    /**< consumers only: take the format the ring was created with (framed.h,
                                 struct myelon_consumer_config); not a format of frames, so
                                 myelon_frame_header_size() is 0 and producers refuse it */
};

#define MYELON_FLAG_START 0x01u
#define MYELON_FLAG_END 0x02u
#define MYELON_FLAG_SINGLE (MYELON_FLAG_START | MYELON_FLAG_END)
#define MYELON_FLAGS_KNOWN MYELON_FLAG_SINGLE

/* The byte layout above as numbers: the compact header (and the offset of
 * an aligned frame's total length), the aligned header, and the u32 total
 * length a compact multi-frame message's first payload starts with. */
#define MYELON_FRAME_COMPACT_HEADER 12u
#define MYELON_FRAME_ALIGNED_HEADER 16u
#define MYELON_FRAME_TOTAL_PREFIX 4u

#define MYELON_FRAME_MIN_CAPACITY 8u          /**< smallest frame payload capacity */
#define MYELON_FRAME_MAX_CAPACITY (1u << 26)  /**< largest: 64 MiB per frame */

/** The common 12-byte header. */
struct myelon_frame_header {
  uint32_t len;
  uint8_t kind;
  uint8_t flags;
  uint16_t frag;
  uint32_t msg_id;
};
static_assert(sizeof(struct myelon_frame_header) == 12, "frame header is 12 bytes");

/** Header size of a format (12, or 16 for ALIGNED and BYTES: the frame
 * header inside a byte ring's record), 0 for an unknown format. */
MYELON_API uint32_t myelon_frame_header_size(enum myelon_frame_format fmt);

/** Slot size and alignment a ring needs for (fmt, capacity).
 * @return 0, or -MYELON_E_FORMAT for an unknown format, MYELON_FRAME_BYTES
 *         (a byte ring has no slots), or a capacity outside
 *         [MYELON_FRAME_MIN_CAPACITY, MYELON_FRAME_MAX_CAPACITY]. */
MYELON_API int myelon_frame_slot(enum myelon_frame_format fmt, uint32_t capacity, uint32_t *slot_size,
                                 uint32_t *slot_align);

/** Layer 0 type tag that marks a ring as carrying frames of (fmt, capacity);
 * for MYELON_FRAME_BYTES the capacity is not part of the tag. */
MYELON_API uint64_t myelon_frame_tag(enum myelon_frame_format fmt, uint32_t capacity);

/** Number of frames a message of `len` bytes needs (>= 1; always 1 for
 * MYELON_FRAME_BYTES). */
MYELON_API uint64_t myelon_frame_count(enum myelon_frame_format fmt, uint32_t capacity, uint64_t len);

/** One parsed frame; `data` points into the slot. */
struct myelon_frame_view {
  const uint8_t *data; /**< message bytes carried by this frame */
  uint32_t len;        /**< their count */
  uint8_t kind;
  uint8_t flags;
  uint16_t frag;
  uint32_t msg_id;
  uint64_t total;      /**< message length if the frame states it, else 0 */
};

/**
 * Parse and validate the frame in `slot` (`slot_size` readable bytes).
 * For MYELON_FRAME_BYTES `slot` is a record's payload (offset 16 of the
 * record, `capacity` + 16 readable bytes, `capacity` = the record's
 * length - 16) and the frame must also be a SINGLE.
 * @return 0, or -MYELON_E_MALFORMED: unknown flag bits, msg_id 0, `len`
 *         beyond the capacity, a START (or SINGLE) whose fragment index is
 *         not 0, a compact START shorter than its length prefix, a
 *         stated total shorter than this frame, or (BYTES) not a SINGLE;
 *         -MYELON_E_FORMAT for an unknown format.
 */
MYELON_API int myelon_frame_parse(enum myelon_frame_format fmt, uint32_t capacity, const void *slot,
                                  struct myelon_frame_view *out);

/**
 * Write one frame into `slot`: header fields and `len` payload bytes from
 * `data` (the payload of a compact START is preceded by `total`). The
 * caller guarantees the sizes (the producer computes them).
 */
MYELON_API void myelon_frame_write(enum myelon_frame_format fmt, void *slot, const void *data, uint32_t len,
                                   uint8_t kind, uint8_t flags, uint16_t frag, uint32_t msg_id, uint64_t total);

/** Bounded reassembly state: one per consumer, not thread-safe. */
struct myelon_reasm {
  uint8_t *buf;       /**< 16-byte aligned, grows up to `max` */
  size_t cap;
  size_t len;
  size_t max;         /**< largest message accepted */
  uint64_t total;     /**< expected length of the message being assembled */
  uint32_t msg_id;
  uint16_t next_frag;
  uint8_t kind;
  bool active;        /**< a message is being assembled */
  uint32_t skip_id;   /**< frames of this id are dropped (oversize message) */
  uint64_t orphans;   /**< continuation frames dropped for lack of a START */
};

/** Initialise with a maximum message size (>= 1). No allocation yet. */
MYELON_API int myelon_reasm_init(struct myelon_reasm *r, size_t max_message);
/** Free the buffer. NULL ok. */
MYELON_API void myelon_reasm_fini(struct myelon_reasm *r);
/** Drop any partial message. */
MYELON_API void myelon_reasm_reset(struct myelon_reasm *r);

/**
 * Feed one parsed frame that is not a stand-alone SINGLE (callers deliver
 * SINGLE frames directly when no message is in progress).
 *
 * @param r     the reassembler (myelon_reasm_init()).
 * @param f     the frame, as parsed by myelon_frame_parse().
 * @param consumed set to false only when the frame must be fed again: it
 *        starts a new message but interrupted one in progress, which is
 *        reported first as -MYELON_E_TRUNCATED.
 * @return 1: a message is complete in r->buf[0..r->len) (kind r->kind,
 *         id r->msg_id) until the next feed or reset;
 *         0: more frames needed (or an orphan/oversize frame was dropped);
 *         -MYELON_E_TRUNCATED: the message in progress lost fragments
 *         (a new START arrived, or END came early);
 *         -MYELON_E_MALFORMED: interleaved ids, out-of-order fragments or
 *         inconsistent lengths; the partial message is dropped;
 *         -MYELON_E_TOOBIG: a message above `max` (its frames are then
 *         skipped); -ENOMEM.
 *         After any error the stream resynchronises at the next START.
 */
MYELON_API int myelon_reasm_feed(struct myelon_reasm *r, const struct myelon_frame_view *f, bool *consumed);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_FRAME_H */
