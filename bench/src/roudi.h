/**
 * @file roudi.h
 * @brief Start and stop iceoryx's broker, iox-roudi, for the iceoryx
 * subject: bounded waits both ways, and no /dev/shm leftovers.
 */
#ifndef MYELON_BENCH_ROUDI_H
#define MYELON_BENCH_ROUDI_H

#include <stddef.h>

/** Where RouDi's config and log go (the run's output dir). Call first. */
void bench_roudi_setup(const char *workdir);
/** Start iox-roudi once per run (later calls return the first outcome):
 * 0 when it reports ready, -1 with the reason in `why` otherwise. */
int bench_roudi_start(char *why, size_t n);
/** Stop it (SIGINT, then SIGKILL after a bound) and remove what a killed
 * RouDi leaves in /dev/shm. Safe to call when it never started. */
void bench_roudi_stop(void);

#endif /* MYELON_BENCH_ROUDI_H */
