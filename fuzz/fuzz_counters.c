/* Fuzz target: a counters segment (counters.h) as another process left
 * it, read the way dmp_counters_open() and the readers do: validation and
 * binding (dmp_impl_cnt_open_image(), counters_segment.c), then the
 * lock-free record and error-log readers (counters.c) that dmp-stat and
 * dmp_counters_read() use.
 *
 * Input: byte 0 = mode, the rest = the segment's bytes (the whole file).
 *   mode bit 0: recompute the header fingerprint before validating
 *   mode bit 1: store DMP_READY in the ready marker
 * Oracle: an accepted image's geometry lies inside it; every string read
 * back is terminated within its bound. */
#include "fuzz.h"

#include "internal.h" /* disruptor-mp/src: the dmp_impl_* functions */

#define MODE_FINGERPRINT 0x1u
#define MODE_READY 0x2u

static void read_image(struct dmp_counters *s)
{
  const struct dmp_impl_cnt_geometry *g = &s->geo;
  FUZZ_CHECK(g->total_size <= s->map_len);
  FUZZ_CHECK(g->records_offset >= sizeof(struct dmp_counters_header));
  FUZZ_CHECK(g->records_offset + (uint64_t)g->record_count * sizeof(struct dmp_counter_record) <= g->errors_offset);
  FUZZ_CHECK(g->errors_offset + (uint64_t)g->error_count * sizeof(struct dmp_error_record) <= g->total_size);
  FUZZ_CHECK(dmp_counters_capacity(s) == g->record_count);
  (void)dmp_counters_epoch(s);

  struct dmp_counter_stat stats[64];
  int n = dmp_counters_read(s, stats, 64);
  FUZZ_CHECK(n >= 0 && (uint32_t)n <= g->record_count);
  for (int i = 0; i < n && i < 64; i++) {
    FUZZ_CHECK(stats[i].index < g->record_count && strlen(stats[i].label) <= DMP_COUNTER_LABEL_MAX);
    FUZZ_CHECK(!stats[i].owner_alive); /* nobody holds a lock on a fake */
    (void)dmp_counter_type_name(stats[i].type);
    uint64_t v;
    if (stats[i].label[0])
      (void)dmp_counters_value(s, stats[i].type, stats[i].label, &v);
  }
  struct dmp_error_stat errs[DMP_COUNTERS_ERRORS];
  int e = dmp_counters_errors(s, errs, DMP_COUNTERS_ERRORS);
  FUZZ_CHECK(e >= 0 && (uint32_t)e <= g->error_count);
  for (int i = 0; i < e && i < (int)DMP_COUNTERS_ERRORS; i++)
    FUZZ_CHECK(strlen(errs[i].text) <= DMP_COUNTERS_TEXT_MAX);
  /* The distinct-error lookup reads every entry before it would need the
   * registry lock (which fd -1 refuses). */
  (void)dmp_counters_error(s, -5, "fuzz %d", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  size_t len = size - 1;
  uint8_t *map = fuzz_dup(data + 1, len, 64);
  struct dmp_counters_header *h = (struct dmp_counters_header *)(void *)map;
  if (len >= sizeof *h && (mode & MODE_READY))
    dmp_impl_store_relaxed(&h->ready, DMP_READY);
  if (len >= sizeof *h && (mode & MODE_FINGERPRINT))
    h->fingerprint = dmp_impl_cnt_fingerprint(h);

  /* What handle_new() and handle_map() set up, minus the file. */
  struct dmp_counters *s = calloc(1, sizeof *s);
  if (!s)
    abort();
  s->fd = -1;
  s->map = map;
  s->map_len = len;
  s->full_seq = -1;
  pthread_mutex_init(&s->mu, NULL);
  snprintf(s->path, sizeof s->path, "/fuzz.cnt");
  char why[256] = "";
  int rc = dmp_impl_cnt_open_image(s, why, sizeof why);
  FUZZ_CHECK(rc == 0 || rc == -DMP_E_CORRUPT || rc == -DMP_E_NOTREADY || rc == -DMP_E_LAYOUT || rc == -ENOMEM);
  if (rc < 0)
    FUZZ_CHECK(strlen(why) > 0);
  if (rc == 0)
    read_image(s);
  free(s->owned);
  pthread_mutex_destroy(&s->mu);
  free(s);
  free(map);
  return 0;
}
