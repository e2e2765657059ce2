/* Fuzz target: the records of a byte ring (bytes.h) as a peer wrote them,
 * read by bytes.c: every header a consumer reads, gating (peek, release,
 * resync) or not (copy, checked against gate_limit); with byte 2's bit 2,
 * read through Layer 1 instead: a framed consumer (MYELON_FRAME_BYTES,
 * framed_consumer.c) on the same ring, its receive calls as an application
 * makes them (myelon_consumer_try_recv(), myelon_consumer_recv_into(),
 * myelon_consumer_recv_batch(), all without waiting), which check the
 * frame inside each record (frame_bytes.h) and resync after a bad one.
 *
 * Input: a prologue, then the ring's blocks:
 *   byte 0: log2 block - 4 (mod 3: 16, 32, 64 bytes)
 *   byte 1: log2 blocks - 1 (mod 7: 2 .. 128 blocks)
 *   byte 2: bit 0: a non-gating reader; bit 1: a multi-producer ring
 *           (DMP_RING_MULTI_PRODUCER, bytes_multi.c): readers take the
 *           frontier from the per-block markers and step over tombstones;
 *           bit 2: through Layer 1 (on either kind of ring: Layer 1
 *           takes many producers on a byte ring); bits 3-4 (Layer 1): which
 *           receive call (0 try_recv, 1 recv_into, 2 recv_batch, 3 each in
 *           turn); bit 5 (Layer 1): max_message 100 instead of 64 KiB;
 *           bit 6 (Layer 1): recv_into's buffer is 32 bytes instead of
 *           the ring's largest record
 *   bytes 3..10: the producer cursor (int64, any value: a hostile peer's)
 *   bytes 11..18: gate_limit (int64, any value)
 *   bytes 19..20: where the reader starts (u16)
 *   then the blocks (zero-filled where the input ends), then on a
 *   multi-producer ring the markers (int64 per block, any values).
 * Oracles: a record handed out lies inside the ring's blocks (the image
 * ends exactly there, so ASan sees any overread) and within the ring's
 * largest record; a read never moves the reader backwards; the loop ends.
 * Layer 1: a message lies inside the ring (zero-copy) or the consumer's
 * copy, has at most max_message bytes, and a failed receive says
 * -EAGAIN, -MYELON_E_MALFORMED or -MYELON_E_TOOBIG. */
#include "fuzz.h"

#include <myelon/error.h>
#include <myelon/framed.h>

#include "internal.h" /* disruptor-mp/src: the dmp_impl_* functions */
#include "../myelon/src/frame_bytes.h"

/* Layer 1 over the ring image: receive until nothing is left (bounded). */
static void framed(struct dmp_consumer *c, bool lossy, uint8_t mode, const uint8_t *lo, const uint8_t *hi,
                   size_t max, uint64_t iterations)
{
  size_t max_message = mode & 32 ? 100 : 64u << 10;
  struct myelon_consumer *fc;
  int rc = myelon_impl_consumer_wrap(c, lossy, max_message, &fc);
  FUZZ_CHECK(rc == 0 || rc == -MYELON_E_FORMAT);
  if (rc < 0)
    return;
  size_t into_cap = mode & 64 ? 32 : max;
  uint8_t *into = malloc(into_cap ? into_cap : 1);
  if (!into)
    abort();
  int call = (mode >> 3) & 3;
  uint64_t idle = 0;
  for (uint64_t it = 0; it < iterations && idle < 2; it++) {
    int64_t before = c->next;
    int which = call == 3 ? (int)(it % 3) : call;
    struct myelon_msg m[8];
    int n;
    if (which == 0) {
      rc = myelon_consumer_try_recv(fc, &m[0]);
      n = rc == 0 ? 1 : rc;
    } else if (which == 1) {
      rc = myelon_consumer_recv_into(fc, into, into_cap, &m[0], 0);
      FUZZ_CHECK(rc != 0 || (m[0].data == into && m[0].len <= into_cap));
      FUZZ_CHECK(rc != 1 || m[0].len > into_cap);
      n = rc == 0 || rc == 1 ? 1 : rc;
    } else {
      n = myelon_consumer_recv_batch(fc, m, 1 + it % 8, 0);
      FUZZ_CHECK(n <= (int)(1 + it % 8));
    }
    FUZZ_CHECK(c->next >= before);
    if (n < 0) {
      FUZZ_CHECK(n == -EAGAIN || n == -MYELON_E_MALFORMED || n == -MYELON_E_TOOBIG);
      idle = n == -EAGAIN ? idle + 1 : 0; /* twice: a batch's bad record is reported by the call after it */
      continue;
    }
    idle = 0;
    for (int k = 0; k < n; k++) {
      const uint8_t *d = m[k].data;
      FUZZ_CHECK(m[k].len <= max_message);
      if (d == into)
        continue; /* checked above; recv_into released the record */
      /* In place in the ring (gating), or in the consumer's own copy. */
      if (m[k].zero_copy)
        FUZZ_CHECK(d >= lo && d <= hi && m[k].len <= (size_t)(hi - d));
      fuzz_touch(d, m[k].len);
    }
    myelon_consumer_release(fc);
  }
  free(into);
  myelon_impl_consumer_unwrap(fc);
}

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
  if (mode & 4u) {
    framed(&c, lossy, mode, lo, hi, max, 4 * blocks + 8);
    free(mem);
    return 0;
  }
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
