/* Fuzz target: the records of a byte ring (bytes.h) as a peer wrote them,
 * read by bytes.c: every header a consumer reads, gating (peek, release,
 * resync) or not (copy, checked against gate_limit).
 *
 * Input: a prologue, then the ring's blocks:
 *   byte 0: log2 block - 4 (mod 3: 16, 32, 64 bytes)
 *   byte 1: log2 blocks - 1 (mod 7: 2 .. 128 blocks)
 *   byte 2: bit 0: a non-gating reader; bit 1: a multi-producer ring
 *           (DMP_RING_MULTI_PRODUCER, bytes_multi.c): readers take the
 *           frontier from the per-block markers and step over tombstones
 *   bytes 3..10: the producer cursor (int64, any value: a hostile peer's)
 *   bytes 11..18: gate_limit (int64, any value)
 *   bytes 19..20: where the reader starts (u16)
 *   then the blocks (zero-filled where the input ends), then on a
 *   multi-producer ring the markers (int64 per block, any values).
 * Oracles: a record handed out lies inside the ring's blocks (the image
 * ends exactly there, so ASan sees any overread) and within the ring's
 * largest record; a read never moves the reader backwards; the loop ends. */
#include "fuzz.h"

#include "internal.h" /* disruptor-mp/src: the dmp_impl_* functions */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_in in = {data, size};
  uint32_t block = 16u << (fuzz_u8(&in) % 3u);
  uint64_t blocks = UINT64_C(2) << (fuzz_u8(&in) % 7u);
  uint8_t mode = fuzz_u8(&in);
  bool lossy = mode & 1u;
  bool multi = mode & 2u;
  uint64_t cursor = (uint64_t)fuzz_u32(&in) | (uint64_t)fuzz_u32(&in) << 32;
  uint64_t limit = (uint64_t)fuzz_u32(&in) | (uint64_t)fuzz_u32(&in) << 32;
  int64_t start = fuzz_u16(&in);

  struct dmp_impl_segment seg;
  memset(&seg, 0, sizeof seg);
  FUZZ_CHECK(dmp_impl_geometry_compute("", blocks, block, block, 1, &seg.geo) == 0);
  if (multi)
    FUZZ_CHECK(dmp_impl_geometry_mp("", 1, &seg.geo) == 0);
  seg.geo.bytes = true;
  const struct dmp_impl_geometry *g = &seg.geo;
  /* The image ends where the blocks end (not at the page-rounded size). */
  size_t len = (size_t)(g->slots_offset + blocks * block);
  void *mem = NULL;
  if (posix_memalign(&mem, 4096, len) != 0)
    abort();
  uint8_t *map = mem;
  memset(map, 0, (size_t)g->slots_offset); /* header flags 0: no wake-ups */
  fuzz_bytes(&in, map + g->slots_offset, (size_t)(blocks * block));
  if (multi)
    fuzz_bytes(&in, map + g->marks_offset, (size_t)(blocks * sizeof(int64_t)));
  seg.fd = -1;
  seg.map = map;
  seg.map_len = len;
  snprintf(seg.path, sizeof seg.path, "/fuzz-bytes");
  struct dmp_impl_ring r;
  dmp_impl_ring_init(&r, &seg);
  struct dmp_segment_control *ctl = r.ctl;
  dmp_impl_store_relaxed(&ctl->producer_cursor, (int64_t)cursor);
  dmp_impl_store_relaxed(&ctl->gate_limit, (int64_t)limit);

  struct dmp_consumer c;
  memset(&c, 0, sizeof c);
  c.ring = r;
  c.cursor = &r.table[0].cursor;
  c.next = start;
  c.committed = start - 1;
  c.available = lossy ? INT64_MIN : start - 1;
  c.non_gating = (lossy ? DMP_IMPL_C_LOSSY : 0) | (multi ? DMP_IMPL_C_MP : 0);
  c.mp_frontier = start - 1;
  c.cfg.name = seg.path;
  snprintf(c.id, sizeof c.id, "fz");
  size_t max = dmp_consumer_bytes_max(&c);
  FUZZ_CHECK(max == blocks / 2 * block - DMP_BYTES_HEADER);
  const uint8_t *lo = r.slots, *hi = r.slots + blocks * block;
  uint8_t *buf = malloc(max ? max : 1);
  if (!buf)
    abort();
  for (uint64_t it = 0; it < 4 * blocks + 8; it++) {
    int64_t before = c.next;
    const void *rec = NULL;
    size_t n = 0;
    int64_t seq = -1;
    int rc = lossy ? dmp_consumer_try_copy_bytes(&c, buf, max, &n, &seq)
                   : dmp_consumer_try_peek_bytes(&c, &rec, &n, &seq);
    FUZZ_CHECK(c.next >= before);
    if (rc == 0) {
      FUZZ_CHECK(n <= max && seq >= before && c.next > seq);
      if (!lossy) {
        const uint8_t *b = rec;
        FUZZ_CHECK(b >= lo + DMP_BYTES_HEADER && b <= hi && n <= (size_t)(hi - b));
        fuzz_touch(rec, n);
        dmp_consumer_release(&c);
      } else {
        fuzz_touch(buf, n);
      }
      continue;
    }
    if (rc == -DMP_E_CORRUPT) {
      /* A non-gating read may step over padding or a lapped stretch before
       * it meets the bad header, so the failed call may have moved c.next
       * already: resync moves on from where that call left it. */
      int64_t at = c.next;
      int64_t skipped = dmp_consumer_resync_bytes(&c);
      FUZZ_CHECK(skipped >= 0 && c.next == at + skipped);
      if (skipped == 0)
        break;
      continue;
    }
    FUZZ_CHECK(rc == -EAGAIN || rc == -EMSGSIZE);
    break;
  }
  free(buf);
  free(mem);
  return 0;
}
