/**
 * @file env_internal.h
 * @brief Private declarations of env.c (tunables, env.h) and affinity.c
 * (role pinning, affinity.h), used by the create, attach and processor paths.
 */
#ifndef DMP_ENV_INTERNAL_H
#define DMP_ENV_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <disruptor_mp/affinity.h>
#include <disruptor_mp/env.h>
#include <disruptor_mp/wait.h>

/** dmp_env_check() with errors tagged "[fn]". 0 or -DMP_E_BADCONFIG. */
int dmp_impl_env_check(const char *fn);

/** DMP_WAIT if set and valid, else DMP_WAIT_BLOCK (config_init cannot fail:
 * the create/attach that follows reports a bad value). */
enum dmp_wait_kind dmp_impl_env_wait_kind(void);

/** Numeric variable `var` in lo..hi if set and valid, else `dflt`. */
uint32_t dmp_impl_env_u32(const char *var, uint32_t lo, uint32_t hi, uint32_t dflt);

/** DMP_DISCOVERY_POLL_MS in nanoseconds, or `dflt_ns`. */
int64_t dmp_impl_env_discovery_poll_ns(int64_t dflt_ns);

/** Parse a CPU list strictly. 0, or -DMP_E_BADCONFIG with "[fn] what='s': why". */
int dmp_impl_cpulist_check(const char *s, const char *what, const char *fn);

/** dmp_affinity_pin_role() with errors tagged "[fn]". 1 pinned, 0 nothing
 * set (or a processor thread, for the other roles), < 0 error. */
int dmp_impl_pin_role(enum dmp_role role, const char *cpus, const char *fn);

#endif /* DMP_ENV_INTERNAL_H */
