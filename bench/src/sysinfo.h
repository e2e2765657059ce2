/**
 * @file sysinfo.h
 * @brief What a result must say about where it was measured: CPU model,
 * kernel, cores, virtualisation, clock, compiler and build flags.
 */
#ifndef MYELON_BENCH_SYSINFO_H
#define MYELON_BENCH_SYSINFO_H

#include "json.h"

/** Write the "host" object (CPU, kernel, cores, clock source and costs). */
void bench_sysinfo_host(struct json *j, double clock_cost_ns, double pause_ns, double fence_ns);
/** Write the "build" object (compiler, flags, library version, git). */
void bench_sysinfo_build(struct json *j);
/** Cost of one PAUSE (spin-loop hint) on this host, in ns. */
double bench_pause_cost_ns(void);
/** Cost of one seq_cst fence (uncontended, nothing in the store buffer), ns. */
double bench_fence_cost_ns(void);

#endif /* MYELON_BENCH_SYSINFO_H */
