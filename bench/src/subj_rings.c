/* Ring names and cleanup shared by our subjects (subj_rings.h). */
#include "subj_rings.h"

#include <stdio.h>

#include <disruptor_mp/inspect.h>

void subj_ring_name(const struct bench_case *c, unsigned dir, enum dmp_backend b, char *out, size_t n)
{
  if (b == DMP_BACKEND_SHM)
    snprintf(out, n, "%sp%u", c->tag, dir);
  else
    snprintf(out, n, "%s/%sp%u", c->tmpdir, c->tag, dir);
}

void subj_rings_gc(const struct bench_case *c, enum dmp_backend b)
{
  /* dmp_ring_gc() removes a ring and its counters only once the producer
   * is dead (after every case it is). */
  /* Directions 0 and 1, and ab_gather_rtt's reply rings 1 + w. */
  for (unsigned d = 0; d < 1 + BENCH_MAX_RX; d++) {
    char name[BENCH_PATH_MAX + 32];
    subj_ring_name(c, d, b, name, sizeof name);
    (void)dmp_ring_gc(b, name);
  }
}
