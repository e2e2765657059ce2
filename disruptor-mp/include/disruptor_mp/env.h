/**
 * @file env.h
 * @brief Environment tunables: operators' defaults for the wait strategy,
 * liveness, discovery polling and CPU pinning, read strictly.
 *
 * | variable                | values                        | default     | sets                                        |
 * |-------------------------|-------------------------------|-------------|---------------------------------------------|
 * | `DMP_WAIT`              | `block` `spin` `yield` `sleep`| `block`     | `wait.kind` written by the `*_config_init()`s |
 * | `DMP_WAIT_SPINS`        | 1 .. 1000000                  | 256         | `wait.spins` left 0                          |
 * | `DMP_WAIT_SLEEP_NS`     | 1 .. 1000000000               | 50000       | `wait.sleep_ns` left 0                       |
 * | `DMP_WAIT_LIVENESS_MS`  | 1 .. 3600000                  | 50          | `wait.liveness_ms` left 0                    |
 * | `DMP_DISCOVERY_POLL_MS` | 1 .. 10000                    | 1           | retry period of dmp_consumer_attach_timeout() |
 * | `DMP_PRODUCER_CPUS`     | CPU list (affinity.h)         | not pinned  | producer's thread, if `cpus` is NULL         |
 * | `DMP_CONSUMER_CPUS`     | CPU list                      | not pinned  | consumer's thread, if `cpus` is NULL         |
 * | `DMP_PROCESSOR_CPUS`    | CPU list                      | not pinned  | processor's thread, if `cpus` is NULL        |
 * | `DMP_PROCESS_CPUS`      | CPU list                      | not pinned  | any role whose own variable is unset         |
 *
 * Precedence: what the program sets in a configuration wins; the
 * environment only supplies defaults. `DMP_WAIT` is read by
 * dmp_producer_config_init() and dmp_consumer_config_init() (a kind set
 * after them wins); the three durations fill the wait fields a
 * configuration leaves 0 ("default") when the handle is created. For CPUs:
 * the configuration's `cpus`, then the role's variable, then
 * `DMP_PROCESS_CPUS` (affinity.h).
 *
 * Strict parsing: numbers are plain decimal digits (no sign, spaces,
 * suffix or leading `0x`) within the range above; words are lower case
 * and exactly as listed. An empty value counts as unset. A bad value is
 * never ignored: dmp_producer_create(), dmp_consumer_attach() (and
 * _timeout), dmp_processor_start() and the libmyelon calls built on them
 * fail with -DMP_E_BADCONFIG, and dmp_last_error() names the variable and
 * its value, e.g. "[dmp_consumer_attach] DMP_WAIT_SPINS='12x': not a
 * decimal number in 1..1000000". The `*_config_init()` functions cannot
 * fail: they leave the compiled default in place and the create or attach
 * that follows reports the variable. Variables are read at every
 * config_init, create and attach (no caching), so a long-running program
 * sees what its environment holds then; changing the environment while
 * other threads call the library is the C library's getenv() caveat.
 *
 * `DMP_MEMBARRIER=0` (wait.h) predates this table: it is read once per
 * process and only the value `0` has a meaning (every other value leaves
 * membarrier(2) on).
 *
 * The original's names map as follows: MYELON_BLOCK_STRATEGY_US and
 * MYELON_AUTO_WAIT_DELAY_* -> DMP_WAIT / DMP_WAIT_SLEEP_NS (a sleep
 * strategy), MYELON_DISCOVERY_POLL_MS -> DMP_DISCOVERY_POLL_MS,
 * MYELON_{PRODUCER,CONSUMER,AUTO_CONSUMER,PROCESS}_CORE ->
 * DMP_{PRODUCER,CONSUMER,PROCESSOR,PROCESS}_CPUS.
 */
#ifndef DISRUPTOR_MP_ENV_H
#define DISRUPTOR_MP_ENV_H

#include <disruptor_mp/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMP_ENV_WAIT "DMP_WAIT"
#define DMP_ENV_WAIT_SPINS "DMP_WAIT_SPINS"
#define DMP_ENV_WAIT_SLEEP_NS "DMP_WAIT_SLEEP_NS"
#define DMP_ENV_WAIT_LIVENESS_MS "DMP_WAIT_LIVENESS_MS"
#define DMP_ENV_DISCOVERY_POLL_MS "DMP_DISCOVERY_POLL_MS"
#define DMP_ENV_PRODUCER_CPUS "DMP_PRODUCER_CPUS"
#define DMP_ENV_CONSUMER_CPUS "DMP_CONSUMER_CPUS"
#define DMP_ENV_PROCESSOR_CPUS "DMP_PROCESSOR_CPUS"
#define DMP_ENV_PROCESS_CPUS "DMP_PROCESS_CPUS"

/** Upper bound of DMP_WAIT_SPINS. */
#define DMP_ENV_SPINS_MAX 1000000u
/** Upper bound of DMP_DISCOVERY_POLL_MS. */
#define DMP_ENV_DISCOVERY_POLL_MAX_MS 10000u

/**
 * Check every variable of the table above: numbers and words as described,
 * CPU lists for their syntax and DMP_CPU_LIMIT (whether this machine lets
 * the thread run there is checked when a role applies the list, affinity.h).
 * Tools call it at start-up to refuse a bad
 * environment before doing anything; the library calls it at every
 * create, attach and processor start. Thread-safe, does not block.
 * @return 0, or -DMP_E_BADCONFIG with dmp_last_error() naming the first
 *         bad variable and its value.
 */
DMP_API int dmp_env_check(void);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_ENV_H */
