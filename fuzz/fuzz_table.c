/* Fuzz target: consumer-table entries and the control block, as written by
 * other processes, read by table.c (what the producer's gating scan, the
 * discovery API and the inspector's snapshot read).
 *
 * Input: a 4-byte prologue picks a valid geometry, the rest overwrites the
 * segment from the end of the header up to the slots (control block,
 * table_hwm, cursors, states, flags, ids):
 *   byte 0: max_consumers - 1 (mod 16)   byte 1: log2 capacity (mod 8)
 *   byte 2: slot_size - 1                 byte 3: log2 slot_align (mod 8)
 * The header itself is always valid here: fuzz_segment covers it. */
#include "fuzz.h"

#include "internal.h" /* disruptor-mp/src: the dmp_impl_* functions */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_in in = {data, size};
  uint32_t max_consumers = (uint32_t)(fuzz_u8(&in) % 16u) + 1u;
  uint64_t capacity = UINT64_C(1) << (fuzz_u8(&in) % 8u);
  uint32_t slot_size = (uint32_t)fuzz_u8(&in) + 1u;
  uint32_t slot_align = 1u << (fuzz_u8(&in) % 8u);
  struct dmp_impl_segment seg;
  memset(&seg, 0, sizeof seg);
  FUZZ_CHECK(dmp_impl_geometry_compute("", capacity, slot_size, slot_align, max_consumers, &seg.geo) == 0);
  const struct dmp_impl_geometry *g = &seg.geo;

  void *mem = NULL;
  if (posix_memalign(&mem, 4096, (size_t)g->total_size) != 0)
    abort();
  uint8_t *map = mem;
  memset(map, 0, sizeof(struct dmp_segment_header));
  struct dmp_segment_header *h = (struct dmp_segment_header *)(void *)map;
  h->flags = DMP_SEG_F_WAKEUPS;
  size_t hdr = sizeof(struct dmp_segment_header);
  fuzz_bytes(&in, map + hdr, (size_t)g->slots_offset - hdr);
  memset(map + g->slots_offset, 0, (size_t)(g->total_size - g->slots_offset));

  seg.fd = -1; /* every liveness probe: not held */
  seg.map = map;
  seg.map_len = (size_t)g->total_size;
  snprintf(seg.path, sizeof seg.path, "/fuzz-table");
  struct dmp_impl_ring r;
  dmp_impl_ring_init(&r, &seg);

  /* The producer's gating scan. */
  int64_t min = 0;
  uint32_t slowest = UINT32_MAX;
  uint32_t span = dmp_impl_table_span(&r, g);
  FUZZ_CHECK(span <= g->max_consumers);
  bool any = dmp_impl_table_min(&r, g, &min, &slowest);
  if (any)
    FUZZ_CHECK(min >= -1 && slowest < span && dmp_impl_entry_gates(&r.table[slowest], NULL));
  uint32_t active = dmp_impl_table_active(&r, g);
  FUZZ_CHECK(active <= span);

  /* Discovery and the inspector, entry by entry. */
  int64_t position = dmp_impl_load_acquire(&r.ctl->producer_cursor);
  uint32_t gating = 0;
  for (uint32_t i = 0; i < span; i++) {
    struct dmp_consumer_info info;
    dmp_impl_table_info(&r, i, &info);
    FUZZ_CHECK(info.index == i && strlen(info.id) <= DMP_ID_MAX && !info.alive);
    gating += info.gating;
    struct dmp_consumer_stat cs;
    if (!dmp_impl_entry_stat(&r.table[i], i, position, &cs))
      continue;
    FUZZ_CHECK(cs.index == i && strlen(cs.id) <= DMP_ID_MAX);
    FUZZ_CHECK(cs.state == DMP_ENTRY_ACTIVE || cs.state == DMP_ENTRY_IDLE);
    FUZZ_CHECK(cs.lag >= 0 && cs.gating == info.gating);
  }
  FUZZ_CHECK(any == (gating > 0));
  free(map);
  return 0;
}
