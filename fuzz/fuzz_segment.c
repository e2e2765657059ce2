/* Fuzz target: a ring segment's header as an attacher validates it
 * (dmp_impl_segment_validate(), segment.c), then what an attacher and the
 * inspector read once it passed: the hot-path view, the slot of the
 * producer cursor, the consumer table (table.c).
 *
 * Input: byte 0 = mode, the rest = the segment's bytes (the file, mapped
 * in full, as dmp_impl_segment_open() maps it).
 *   mode bit 0: recompute the header fingerprint before validating, so
 *               mutated geometry fields reach the checks behind it
 *   mode bit 1: store DMP_READY in the ready marker
 * Oracle: an accepted header describes a layout inside the mapping. */
#include "fuzz.h"

#include "internal.h" /* disruptor-mp/src: the dmp_impl_* functions */

#define MODE_FINGERPRINT 0x1u
#define MODE_READY 0x2u

static uint64_t fingerprint(const struct dmp_segment_header *h)
{
  const uint8_t *p = (const uint8_t *)h;
  uint64_t x = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < offsetof(struct dmp_segment_header, fingerprint); i++)
    x = (x ^ p[i]) * UINT64_C(0x100000001b3);
  return x;
}

/* Everything an attached consumer, the producer and the inspector read
 * from a validated segment, on a process-local fake (fd -1: every liveness
 * probe says "not held"). */
static void read_validated(struct dmp_impl_segment *seg)
{
  const struct dmp_impl_geometry *g = &seg->geo;
  FUZZ_CHECK(g->total_size <= seg->map_len);
  FUZZ_CHECK(g->table_offset >= sizeof(struct dmp_segment_control));
  FUZZ_CHECK(g->table_offset + (uint64_t)g->max_consumers * sizeof(struct dmp_consumer_entry) <= g->slots_offset);
  FUZZ_CHECK(g->slots_offset + g->capacity * g->slot_stride <= g->total_size);
  FUZZ_CHECK(g->slot_stride >= g->slot_size && g->slots_offset % g->slot_align == 0);

  struct dmp_impl_ring r;
  dmp_impl_ring_init(&r, seg);
  int64_t cursor = dmp_impl_load_acquire(&r.ctl->producer_cursor);
  const uint8_t *slot = dmp_impl_slot(&r, cursor);
  fuzz_touch(slot, g->slot_size);
  fuzz_touch(dmp_impl_slot(&r, (int64_t)g->capacity - 1), g->slot_size);

  int64_t min = 0;
  uint32_t slowest = UINT32_MAX;
  uint32_t span = dmp_impl_table_span(&r, g);
  FUZZ_CHECK(span <= g->max_consumers);
  if (dmp_impl_table_min(&r, g, &min, &slowest))
    FUZZ_CHECK(min >= -1 && slowest < span);
  FUZZ_CHECK(dmp_impl_table_active(&r, g) <= span);
  for (uint32_t i = 0; i < span; i++) {
    struct dmp_consumer_info info;
    dmp_impl_table_info(&r, i, &info);
    FUZZ_CHECK(info.index == i && strlen(info.id) <= DMP_ID_MAX && !info.alive);
    struct dmp_consumer_stat cs;
    if (dmp_impl_entry_stat(&r.table[i], i, cursor, &cs))
      FUZZ_CHECK(cs.index == i && strlen(cs.id) <= DMP_ID_MAX && cs.lag >= 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  size_t len = size - 1;
  /* Both callers refuse a file smaller than the control block before they
   * map it (segment_open, inspect_open): validate() may read the header. */
  if (len < sizeof(struct dmp_segment_control))
    return 0;
  uint8_t *map = fuzz_dup(data + 1, len, 64);
  struct dmp_segment_header *h = (struct dmp_segment_header *)(void *)map;
  if (mode & MODE_READY)
    dmp_impl_store_relaxed(&h->ready, DMP_READY);
  if (mode & MODE_FINGERPRINT)
    h->fingerprint = fingerprint(h);

  struct dmp_impl_segment *seg = calloc(1, sizeof *seg);
  if (!seg)
    abort();
  seg->fd = -1;
  seg->map = map;
  seg->map_len = len;
  seg->backend = DMP_BACKEND_SHM;
  snprintf(seg->path, sizeof seg->path, "/fuzz-segment");
  int rc = dmp_impl_segment_validate(seg, &seg->geo);
  FUZZ_CHECK(rc == 0 || rc == -DMP_E_CORRUPT || rc == -DMP_E_NOTREADY || rc == -DMP_E_LAYOUT);
  if (rc == 0)
    read_validated(seg);
  free(seg);
  free(map);
  return 0;
}
