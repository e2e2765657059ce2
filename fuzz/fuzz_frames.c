/* Fuzz target: Layer 1 frames from a hostile producer, parsed
 * (myelon_frame_parse(), frame.c) and reassembled (myelon_reasm_feed(),
 * reasm.c) exactly as myelon_consumer_try_recv() does: a SINGLE frame with
 * no message in progress is delivered in place, every other frame goes to
 * the reassembler, and a frame it hands back (a START that cut a message
 * short) is fed again.
 *
 * Input: a 4-byte prologue, then frames of slot_size bytes each (the last
 * one zero-padded):
 *   byte 0: bit 0 = format (0 compact, 1 aligned); bit 1 = byte-ring
 *           records instead (MYELON_FRAME_BYTES, below)
 *   byte 1: frame capacity - MYELON_FRAME_MIN_CAPACITY (8..263)
 *   bytes 2-3: max_message - 1 (little-endian; 1..65536)
 * Each slot is its own exact-size allocation, so reading past it is caught.
 * Oracle: parsed payloads lie inside the slot; a delivered message has the
 * length it announced and at most max_message bytes; a frame handed back
 * is accepted when fed again (no livelock).
 *
 * Byte-ring records (bit 1): after the prologue, records of a u16 length
 * L (little-endian) and L bytes, each its own exact-size allocation: the
 * payload of one Layer 0 record as a hostile producer wrote it, checked
 * by the framed consumer's own check (myelon_impl_bytes_frame(),
 * frame_bytes.h) and by myelon_frame_parse(MYELON_FRAME_BYTES). Oracle:
 * both agree; an accepted frame is a SINGLE whose message lies inside the
 * record. */
#include "fuzz.h"

#include <errno.h>

#include <myelon/error.h>
#include <myelon/frame.h>

#include "../myelon/src/frame_bytes.h"

#define MAX_FRAMES 4096

static int records(struct fuzz_in *in, size_t max_message)
{
  for (int n = 0; in->left > 0 && n < MAX_FRAMES; n++) {
    size_t len = fuzz_u16(in);
    uint8_t *rec = malloc(len ? len : 1);
    if (!rec)
      abort();
    fuzz_bytes(in, rec, len);
    struct myelon_frame_header h;
    uint32_t total;
    int rc = myelon_impl_bytes_frame(rec, len, &h, &total);
    FUZZ_CHECK(rc == 0 || rc == -MYELON_E_MALFORMED);
    if (len >= MYELON_FRAME_ALIGNED_HEADER) {
      struct myelon_frame_view f;
      int prc = myelon_frame_parse(MYELON_FRAME_BYTES, (uint32_t)(len - MYELON_FRAME_ALIGNED_HEADER), rec, &f);
      FUZZ_CHECK(prc == rc);
      if (prc == 0) {
        FUZZ_CHECK(f.flags == MYELON_FLAG_SINGLE && f.frag == 0 && f.msg_id != 0 && f.total == f.len);
        FUZZ_CHECK(f.data == rec + MYELON_FRAME_ALIGNED_HEADER && f.data + f.len <= rec + len);
        fuzz_touch(f.data, f.len);
      }
    }
    if (rc == 0) {
      FUZZ_CHECK(h.len == total && (size_t)h.len + MYELON_FRAME_ALIGNED_HEADER <= len);
      (void)max_message; /* the consumer then compares h.len with its max_message */
    }
    free(rec);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_in in = {data, size};
  uint8_t mode = fuzz_u8(&in);
  if (mode & 2) {
    fuzz_u8(&in);
    return records(&in, (size_t)fuzz_u16(&in) + 1);
  }
  enum myelon_frame_format fmt = (mode & 1) ? MYELON_FRAME_ALIGNED : MYELON_FRAME_COMPACT;
  uint32_t cap = MYELON_FRAME_MIN_CAPACITY + fuzz_u8(&in);
  size_t max_message = (size_t)fuzz_u16(&in) + 1;
  uint32_t slot_size, slot_align;
  FUZZ_CHECK(myelon_frame_slot(fmt, cap, &slot_size, &slot_align) == 0);
  FUZZ_CHECK(slot_size >= myelon_frame_header_size(fmt) + cap && slot_size % slot_align == 0);

  struct myelon_reasm r;
  FUZZ_CHECK(myelon_reasm_init(&r, max_message) == 0);
  uint64_t delivered = 0;
  for (int n = 0; in.left > 0 && n < MAX_FRAMES; n++) {
    void *mem = NULL;
    if (posix_memalign(&mem, slot_align < sizeof(void *) ? sizeof(void *) : slot_align, slot_size) != 0)
      abort();
    uint8_t *slot = mem;
    fuzz_bytes(&in, slot, slot_size);

    struct myelon_frame_view f;
    int rc = myelon_frame_parse(fmt, cap, slot, &f);
    if (rc < 0) {
      FUZZ_CHECK(rc == -MYELON_E_MALFORMED);
      myelon_reasm_reset(&r); /* the consumer drops the message in progress */
      free(slot);
      continue;
    }
    FUZZ_CHECK(f.data >= slot + myelon_frame_header_size(fmt) && f.len <= cap);
    FUZZ_CHECK(f.data + f.len <= slot + slot_size);
    fuzz_touch(f.data, f.len);
    if ((f.flags & MYELON_FLAG_SINGLE) == MYELON_FLAG_SINGLE && !r.active) {
      if (f.len <= r.max)
        delivered++;
      free(slot);
      continue;
    }
    bool consumed = false;
    for (int feed = 0; !consumed; feed++) {
      FUZZ_CHECK(feed < 2); /* fed again, a frame must be taken */
      rc = myelon_reasm_feed(&r, &f, &consumed);
      FUZZ_CHECK(rc == 0 || rc == 1 || rc == -MYELON_E_TRUNCATED || rc == -MYELON_E_MALFORMED ||
                 rc == -MYELON_E_TOOBIG || rc == -ENOMEM);
      FUZZ_CHECK(consumed || rc == -MYELON_E_TRUNCATED);
      if (rc == 1) {
        FUZZ_CHECK(r.len == r.total && r.len <= r.max && r.len <= r.cap && !r.active);
        fuzz_touch(r.buf, r.len);
        delivered++;
      }
      if (r.active)
        FUZZ_CHECK(r.len < r.total && r.total <= r.max && r.total <= r.cap);
    }
    free(slot);
  }
  (void)delivered;
  myelon_reasm_fini(&r);
  return 0;
}
