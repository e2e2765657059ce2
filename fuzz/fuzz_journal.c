/* Fuzz target: journal bytes from a damaged or hostile file, read by the
 * pure parsers of journal.c exactly as the reader walks a part: the file
 * header (myelon_journal_header_parse()), then record after record
 * (myelon_journal_record_parse()); after a corrupted record the walk
 * resynchronises 8 bytes further on, as the reader's skip mode does.
 *
 * Input: byte 0 is a mode byte; bit 0 set: the rest is a whole part file
 * (a 256-byte header, then records); clear: the rest is records only.
 * The bytes are copied to an exact-size, 8-aligned allocation.
 *
 * Oracles: return codes come from the documented sets; an accepted record
 * lies inside the input (header, payload and padding), is a multiple of 8
 * bytes long, and re-encodes to exactly the bytes it was parsed from; the
 * walk always advances; an accepted header re-encodes to its bytes, its
 * version is 2 exactly when it says byte ring (MYELON_JOURNAL_F_BYTES),
 * and a byte ring's geometry is one Layer 0 could have made (block a
 * power of two in [16, 4096], the ring a power of two of two blocks or
 * more, the largest record within half of it). */
#include "fuzz.h"

#include <errno.h>

#include <disruptor_mp/bytes.h>
#include <myelon/error.h>
#include <myelon/frame.h>
#include <myelon/journal.h>

#define MAX_STEPS 100000

static void check_header(const uint8_t *buf, size_t size)
{
  struct myelon_journal_info info;
  int rc = myelon_journal_header_parse(buf, size, &info);
  FUZZ_CHECK(rc == 0 || rc == -MYELON_E_TORN || rc == -MYELON_E_JCORRUPT || rc == -MYELON_E_JVERSION);
  if (rc == 0) {
    FUZZ_CHECK(size >= MYELON_JOURNAL_HEADER_SIZE);
    FUZZ_CHECK(info.part >= 1 && info.part <= MYELON_JOURNAL_MAX_PARTS);
    FUZZ_CHECK(memchr(info.ring_name, '\0', sizeof info.ring_name) != NULL);
    uint8_t again[MYELON_JOURNAL_HEADER_SIZE];
    FUZZ_CHECK(myelon_journal_header_encode(&info, again) == 0);
    FUZZ_CHECK(memcmp(again, buf, MYELON_JOURNAL_HEADER_SIZE) == 0);
    uint32_t version;
    memcpy(&version, buf + 8, 4);
    bool bytes = info.flags & MYELON_JOURNAL_F_BYTES;
    FUZZ_CHECK(version == (bytes ? MYELON_JOURNAL_VERSION : MYELON_JOURNAL_VERSION_SLOTS));
    if (bytes) {
      uint64_t block = info.slot_size, ring = info.ring_capacity;
      FUZZ_CHECK(block >= DMP_BYTES_MIN_BLOCK && block <= 4096 && (block & (block - 1)) == 0);
      FUZZ_CHECK(info.slot_align == block);
      FUZZ_CHECK(ring >= 2 * block && (ring & (ring - 1)) == 0);
      FUZZ_CHECK((uint64_t)info.frame_capacity + DMP_BYTES_HEADER <= ring / 2);
      FUZZ_CHECK(info.kind == MYELON_JOURNAL_FRAMED ? info.frame_format == MYELON_FRAME_BYTES
                                                    : info.frame_format == 0);
    } else {
      FUZZ_CHECK(info.frame_format <= MYELON_FRAME_ALIGNED);
    }
  }
}

static void walk_records(const uint8_t *buf, size_t size, size_t off)
{
  uint8_t *again = NULL;
  for (int steps = 0; off < size && steps < MAX_STEPS; steps++) {
    struct myelon_journal_record rec;
    int rc = myelon_journal_record_parse(buf + off, size - off, &rec);
    if (rc < 0) {
      FUZZ_CHECK(rc == -MYELON_E_TORN || rc == -MYELON_E_JCORRUPT);
      off += 8; /* resync: the next 8-aligned offset */
      continue;
    }
    size_t n = (size_t)rc;
    FUZZ_CHECK(n >= MYELON_JOURNAL_RECORD_HEADER && n % 8 == 0 && n <= size - off);
    FUZZ_CHECK(n == myelon_journal_record_size(rec.len));
    const uint8_t *d = rec.data;
    FUZZ_CHECK(d == buf + off + MYELON_JOURNAL_RECORD_HEADER);
    FUZZ_CHECK(d + rec.len <= buf + off + n);
    fuzz_touch(d, rec.len);
    /* Round trip: what the parser accepted is exactly what the encoder writes. */
    free(again);
    again = malloc(n);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(myelon_journal_record_encode(again, n, &rec) == rc);
    FUZZ_CHECK(memcmp(again, buf + off, n) == 0);
    off += n; /* strictly advances: n >= 48 */
  }
  free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  bool whole_file = data[0] & 1;
  data++;
  size--;
  uint8_t *buf = fuzz_dup(data, size, 8);
  size_t start = 0;
  if (whole_file) {
    check_header(buf, size);
    start = MYELON_JOURNAL_HEADER_SIZE;
  }
  walk_records(buf, size, start);
  free(buf);
  return 0;
}
