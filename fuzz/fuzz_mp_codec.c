/* Fuzz target: the msgpack codec's decode with a field table
 * (msgpack_codec.c, mp_struct.c): a message type that uses every field
 * kind - bool, signed and unsigned integers of every width, float,
 * double, strings, byte strings, nested maps and arrays of each.
 *
 * Input: one msgpack message (seeds: encoded values of struct fz_order).
 * Oracle: decode accepts or answers -MYELON_E_CODEC (never another code,
 * never a crash); an accepted value re-encodes, and decoding that gives a
 * value whose encoding is byte-identical (decode . encode is stable). */
#include "fuzz.h"

#include "fuzz_types.h"

#include <errno.h>

#include <myelon/error.h>

static struct myelon_codec codec;
static bool ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!ready) {
    FUZZ_CHECK(myelon_msgpack_codec_init(&codec, &fz_order_type) == 0);
    ready = true;
  }
  uint8_t *msg = fuzz_dup(data, size, 16);
  void *value = NULL;
  int rc = myelon_codec_decode(&codec, msg, size, &value);
  FUZZ_CHECK(rc == 0 || rc == -MYELON_E_CODEC);
  if (rc == 0) {
    FUZZ_CHECK(value != NULL);
    const struct fz_order *o = value;
    FUZZ_CHECK(strlen(o->sym) < sizeof o->sym && o->tag_len <= sizeof o->tag && o->n_qty <= FZ_N);
    FUZZ_CHECK(o->n_names <= FZ_N && o->n_blobs <= FZ_N && o->n_legs <= FZ_N);

    size_t len1 = 0, len2 = 0;
    FUZZ_CHECK(myelon_codec_size(&codec, value, &len1) == 0);
    uint8_t *enc1 = malloc(len1 ? len1 : 1);
    if (!enc1)
      abort();
    FUZZ_CHECK(myelon_codec_encode(&codec, value, enc1, len1, &len2) == 0 && len2 == len1);
    if (len1 > 0) /* one byte short must be refused, not overrun */
      FUZZ_CHECK(myelon_codec_encode(&codec, value, enc1, len1 - 1, &len2) == -ENOSPC);
    void *again = NULL;
    FUZZ_CHECK(myelon_codec_decode(&codec, enc1, len1, &again) == 0);
    size_t len3 = 0;
    FUZZ_CHECK(myelon_codec_size(&codec, again, &len3) == 0 && len3 == len1);
    uint8_t *enc2 = malloc(len3 ? len3 : 1);
    if (!enc2)
      abort();
    FUZZ_CHECK(myelon_codec_encode(&codec, again, enc2, len3, &len2) == 0 && len2 == len1);
    FUZZ_CHECK(memcmp(enc1, enc2, len1) == 0);
    free(enc2);
    free(enc1);
    myelon_codec_free(&codec, again);
  }
  myelon_codec_free(&codec, value);
  free(msg);
  return 0;
}
