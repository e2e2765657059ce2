/**
 * @file frame_bytes.h
 * @brief Private: the check of the frame in a byte ring's record
 * (frame.h, MYELON_FRAME_BYTES), inline for the consumer's receive path
 * and shared with myelon_frame_parse() and the fuzz target fuzz_frames,
 * so the code fuzzed is the code that runs. Not installed.
 */
#ifndef MYELON_FRAME_BYTES_H
#define MYELON_FRAME_BYTES_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <myelon/error.h>
#include <myelon/frame.h>

/**
 * Check the frame at the start of a record's payload `rec` (`len` bytes,
 * the record's length): a SINGLE frame (flags exactly START|END, fragment
 * 0), a message id other than 0, its stated total equal to its length,
 * and that length within the record. The header is read once (`*h`,
 * `*total`): the peer may change the record under us, so the values
 * checked are the values used. Reads only [0, min(len, 16)) of `rec`.
 * @return 0, or -MYELON_E_MALFORMED (also for a record shorter than the
 *         16-byte frame header).
 */
static inline int myelon_impl_bytes_frame(const uint8_t *rec, size_t len, struct myelon_frame_header *h,
                                          uint32_t *total)
{
  if (len < MYELON_FRAME_ALIGNED_HEADER)
    return -MYELON_E_MALFORMED;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* Three loads into registers, and the fields taken apart there: the
   * batch receive checks a frame per message, and a header copied to the
   * stack and read back field by field stalls on store forwarding. lo:
   * len at bit 0, kind at 32, flags at 40, frag at 48 (frame.h); flags
   * exactly SINGLE and frag 0 is lo >> 40 == MYELON_FLAG_SINGLE. */
  uint64_t lo;
  uint32_t id, tot;
  memcpy(&lo, rec, sizeof lo);
  memcpy(&id, rec + 8, sizeof id);
  memcpy(&tot, rec + MYELON_FRAME_COMPACT_HEADER, sizeof tot);
  h->len = (uint32_t)lo;
  h->kind = (uint8_t)(lo >> 32);
  h->flags = (uint8_t)(lo >> 40);
  h->frag = (uint16_t)(lo >> 48);
  h->msg_id = id;
  *total = tot;
  if ((lo >> 40) != MYELON_FLAG_SINGLE || id == 0 || tot != (uint32_t)lo ||
      (uint32_t)lo > len - MYELON_FRAME_ALIGNED_HEADER)
    return -MYELON_E_MALFORMED;
#else
  memcpy(h, rec, sizeof *h);
  memcpy(total, rec + MYELON_FRAME_COMPACT_HEADER, sizeof *total);
  if (h->flags != MYELON_FLAG_SINGLE || h->frag != 0 || h->msg_id == 0 || *total != h->len ||
      h->len > len - MYELON_FRAME_ALIGNED_HEADER)
    return -MYELON_E_MALFORMED;
#endif
  return 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static_assert(offsetof(struct myelon_frame_header, kind) == 4 && offsetof(struct myelon_frame_header, flags) == 5 &&
                  offsetof(struct myelon_frame_header, frag) == 6 && offsetof(struct myelon_frame_header, msg_id) == 8,
              "myelon_impl_bytes_frame() takes the header fields from these offsets");
#endif

struct dmp_consumer;
struct myelon_consumer;

/**
 * For the fuzz target fuzz_bytes only: a framed consumer of a byte ring
 * (MYELON_FRAME_BYTES) around a Layer 0 consumer `ring` that the caller
 * built over an image of a ring, so that the fuzzer drives the very
 * receive path an application's myelon_consumer_try_recv(),
 * myelon_consumer_recv_into() and myelon_consumer_recv_batch() run. No
 * attach, no type-tag check (the image has none); `non_gating` must match
 * how `ring` reads. Free it with myelon_impl_consumer_unwrap(), which
 * leaves `ring` alone (it was never attached). Hidden, not exported.
 * @return 0; -MYELON_E_FORMAT if `ring` is no byte ring large enough for a
 *         frame; -DMP_E_BADCONFIG for `max_message` outside
 *         1..MYELON_MAX_MESSAGE_LIMIT; -ENOMEM.
 */
int myelon_impl_consumer_wrap(struct dmp_consumer *ring, bool non_gating, size_t max_message,
                              struct myelon_consumer **out);

/** Free what myelon_impl_consumer_wrap() made (not `ring`). */
void myelon_impl_consumer_unwrap(struct myelon_consumer *c);

#endif /* MYELON_FRAME_BYTES_H */
