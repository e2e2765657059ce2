/**
 * @file prom.h
 * @brief dmp-stat --prometheus: the rings as OpenMetrics text (not
 * installed). Every family is a gauge (monotonic ones, such as
 * dmp_producer_published, can be rate()d), so the same text also parses as
 * the Prometheus 0.0.4 text format that node_exporter's textfile collector
 * reads ("# EOF" is a comment there). Families are listed in dmp-stat(1).
 */
#ifndef DMP_STAT_PROM_H
#define DMP_STAT_PROM_H

#include <stddef.h>
#include <stdio.h>

#include <disruptor_mp/disruptor_mp.h>

#define PROM_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

/** One ring to report: its sample, or NULL and the error that kept it. */
struct prom_ring {
  const char *name;
  enum dmp_backend backend;
  const struct dmp_ring_stat *st;
  int rc;
};

/** Write every family for rings[0..n), then "# EOF". */
void prom_write(FILE *f, const struct prom_ring *rings, size_t n);

#endif /* DMP_STAT_PROM_H */
