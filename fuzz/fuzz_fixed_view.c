/* Fuzz target: Layer 3 fixed-layout views and their Layer 2 codec's decode
 * (view_fixed.c), on a 16-byte-aligned struct.
 *
 * Input: byte 0 = where the message starts relative to a 16-byte boundary
 * (mod 16: compact rings give 4-aligned payloads), the rest = the message.
 * Oracle: a view is granted exactly for a message of the right length,
 * magic, size and fingerprint whose struct bytes are aligned, and it
 * points at them; the codec's decode agrees (ignoring alignment) and
 * copies those bytes. */
#include "fuzz.h"

#include "fuzz_types.h"

#include <myelon/error.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  static struct myelon_fixed_type t;
  static bool ready;
  if (!ready) {
    FUZZ_CHECK(MYELON_FIXED_TYPE_INIT(&t, struct fz_tick, FZ_TICK_LAYOUT) == 0);
    ready = true;
  }
  size_t shift = data[0] % 16u, len = size - 1;
  void *mem = NULL;
  if (posix_memalign(&mem, 16, shift + len ? shift + len : 1) != 0)
    abort();
  uint8_t *buf = mem;
  uint8_t *msg = buf + shift;
  if (len)
    memcpy(msg, data + 1, len);

  struct myelon_fixed_header h = {0, 0, 0};
  if (len >= sizeof h)
    memcpy(&h, msg, sizeof h);
  bool header_ok = len == MYELON_FIXED_HEADER + sizeof(struct fz_tick) && h.magic == MYELON_FIXED_MAGIC &&
                   h.size == sizeof(struct fz_tick) && h.fingerprint == t.fingerprint;
  bool aligned = (uintptr_t)(msg + MYELON_FIXED_HEADER) % _Alignof(struct fz_tick) == 0;

  struct myelon_fixed_view view;
  int rc = myelon_fixed_view_access(msg, len, &t, &view);
  FUZZ_CHECK(rc == 0 || rc == -MYELON_E_VIEW);
  FUZZ_CHECK((rc == 0) == (header_ok && aligned));
  if (rc == 0) {
    FUZZ_CHECK(myelon_fixed_view_get(&view) == msg + MYELON_FIXED_HEADER && view.type == &t);
    fuzz_touch(myelon_fixed_view_get(&view), sizeof(struct fz_tick));
  }
  struct myelon_view_codec vc;
  myelon_fixed_view_codec_init(&vc, &t);
  struct myelon_fixed_view v2;
  FUZZ_CHECK(myelon_view_access(&vc, msg, len, &v2) == rc);

  struct myelon_codec codec;
  myelon_fixed_codec_init(&codec, &t);
  void *value = NULL;
  int drc = myelon_codec_decode(&codec, msg, len, &value);
  FUZZ_CHECK(drc == 0 || drc == -MYELON_E_CODEC);
  FUZZ_CHECK((drc == 0) == header_ok);
  if (drc == 0)
    FUZZ_CHECK(memcmp(value, msg + MYELON_FIXED_HEADER, sizeof(struct fz_tick)) == 0);
  myelon_codec_free(&codec, value);
  free(buf);
  return 0;
}
