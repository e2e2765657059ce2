/* Fuzz target: Layer 1 frames from a hostile producer, parsed
 * (myelon_frame_parse(), frame.c) and reassembled (myelon_reasm_feed(),
 * reasm.c) exactly as myelon_consumer_try_recv() does: a SINGLE frame with
 * no message in progress is delivered in place, every other frame goes to
 * the reassembler, and a frame it hands back (a START that cut a message
 * short) is fed again.
 *
 * Input: a 4-byte prologue, then frames of slot_size bytes each (the last
 * one zero-padded):
 *   byte 0: bit 0 = format (0 compact, 1 aligned)
 *   byte 1: frame capacity - MYELON_FRAME_MIN_CAPACITY (8..263)
 *   bytes 2-3: max_message - 1 (little-endian; 1..65536)
 * Each slot is its own exact-size allocation, so reading past it is caught.
 * Oracle: parsed payloads lie inside the slot; a delivered message has the
 * length it announced and at most max_message bytes; a frame handed back
 * is accepted when fed again (no livelock). */
#include "fuzz.h"

#include <errno.h>

#include <myelon/error.h>
#include <myelon/frame.h>

#define MAX_FRAMES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_in in = {data, size};
  enum myelon_frame_format fmt = (fuzz_u8(&in) & 1) ? MYELON_FRAME_ALIGNED : MYELON_FRAME_COMPACT;
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
