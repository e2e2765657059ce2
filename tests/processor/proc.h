/**
 * @file proc.h
 * @brief Shared helpers of the processor suite (event processors, CPU
 * pinning, environment tunables): the event layout, a bounded poll, CPU
 * masks, and the producer helper's command line.
 *
 * Events are 16 bytes: the sequence they were published at and its
 * checksum (ts_checksum()), so a reader proves it saw each event intact.
 */
#ifndef PROC_H
#define PROC_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

struct pev {
  int64_t seq;
  uint64_t sum;
};

/** For cr_assert() of Criterion's new/assert.h, whose first token must be
 * an identifier that is not a macro: cr_assert(is(!x), ...). */
static inline bool is(long long c)
{
  return c != 0;
}

static inline void proc_fini(void)
{
  ts_cleanup();
}

/** Poll `cond` every millisecond for at most `ms` (scaled for sanitizer runs). */
#define PROC_WAIT_UNTIL(cond, ms)                                     \
  do {                                                                \
    int64_t dl_ = ts_now_ns() + (int64_t)ts_timeout_ms(ms) * MS;      \
    while (!(cond) && ts_now_ns() < dl_) {                            \
      struct timespec ts_ = {0, 1000000};                             \
      nanosleep(&ts_, NULL);                                          \
    }                                                                 \
  } while (0)

/** The CPUs the calling thread may run on now. */
static inline cpu_set_t proc_affinity(void)
{
  cpu_set_t s;
  CPU_ZERO(&s);
  cr_assert(sched_getaffinity(0, sizeof s, &s) == 0, "sched_getaffinity: %s", strerror(errno));
  return s;
}

/** A set of one CPU. */
static inline cpu_set_t proc_one(int cpu)
{
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  return s;
}

/** The lowest CPU number (below 1024) the process may not run on, or -1. */
static inline int proc_disallowed_cpu(const cpu_set_t *allowed)
{
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (!CPU_ISSET(c, allowed))
      return c;
  return -1;
}

/** Create a ring of 16-byte events in this process. */
static inline struct dmp_producer *proc_ring(const char *name, uint64_t capacity)
{
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = name;
  pc.capacity = capacity;
  pc.slot_size = sizeof(struct pev);
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&pc, &p);
  cr_assert(rc == 0, "create '%s': %s (%s)", name, dmp_strerror(rc), dmp_last_error());
  return p;
}

/** Claim `n` events from `*next` on and publish them with one store. */
static inline void proc_publish(struct dmp_producer *p, int64_t *next, int64_t n)
{
  for (int64_t i = 0; i < n; i++) {
    void *slot;
    int rc = dmp_producer_claim_timeout(p, &slot, (int64_t)ts_timeout_ms(5000) * MS);
    cr_assert(rc == 0, "claim of %lld: %s", (long long)(*next + i), dmp_strerror(rc));
    struct pev e = {*next + i, ts_checksum(*next + i)};
    memcpy(slot, &e, sizeof e);
  }
  dmp_producer_publish(p);
  *next += n;
}

#endif /* PROC_H */
