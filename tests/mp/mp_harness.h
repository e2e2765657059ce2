/**
 * @file mp_harness.h
 * @brief What the multiprocess tests share: rings on either backend, a
 * command-line builder for dmp_role children, bounded waits that assert
 * exit codes, an in-process producer, and cleanup for Criterion's .fini.
 */
#ifndef MP_HARNESS_H
#define MP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <disruptor_mp/disruptor_mp.h>

#include "mp_payload.h"
#include "support.h"

/** Timeout a role child gets for its whole run (scaled by ts_timeout_ms). */
#define MP_CHILD_MS 30000
/** How long the test waits for a child before killing it: longer than
 * MP_CHILD_MS so the child reports its own timeout first. */
#define MP_REAP_MS 45000

/**
 * Declare a test body run once per backend, as two Criterion tests
 * `<name>_shm` and `<name>_mmap`; the body sees `enum dmp_backend backend`.
 */
#define MP_TEST(suite, name)                                                  \
  static void suite##_##name(enum dmp_backend backend);                       \
  Test(suite, name##_shm) { suite##_##name(DMP_BACKEND_SHM); }                \
  Test(suite, name##_mmap) { suite##_##name(DMP_BACKEND_MMAP); }              \
  static void suite##_##name(enum dmp_backend backend)

/** A ring's location: a unique SHM name or a path in the private temp dir. */
struct mp_ring {
  enum dmp_backend backend;
  const char *name;
};

void mp_ring_init(struct mp_ring *r, enum dmp_backend backend, const char *tag);
const char *mp_backend_name(enum dmp_backend backend);
/** Whether the ring's segment (SHM object or file) exists. */
bool mp_ring_exists(const struct mp_ring *r);
/** Assert that the ring's segment and its counters companion
 * (DMP_COUNTERS_SUFFIX) have been removed. */
void mp_assert_ring_gone(const struct mp_ring *r, const char *why);

/** A unique path for a marker or report file (not created). */
const char *mp_file(const char *tag);

/** A label for a child in messages ("consumer c0 round 2 [shm]"). */
typedef char mp_who[96];

/** A dmp_role command line. */
struct mp_cmd {
  char *argv[96];
  char store[96][160];
  int argc;
  char who[48]; /* "producer" or "consumer <id>", for messages */
};

/** Start a command line: role ("producer"/"consumer"), backend, name and a
 * scaled --timeout-ms MP_CHILD_MS (a later --timeout-ms overrides it). */
void mp_cmd_init(struct mp_cmd *c, const char *role, const struct mp_ring *r);
/** Append `opt` and, if `fmt` is not NULL, its formatted value. */
void mp_cmd_add(struct mp_cmd *c, const char *opt, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
/** Spawn it; asserts the fork worked. */
pid_t mp_cmd_spawn(struct mp_cmd *c);

/** Shorthands for the common command lines. */
void mp_producer_cmd(struct mp_cmd *c, const struct mp_ring *r, uint64_t capacity, uint32_t slot,
                     int64_t count);
void mp_consumer_cmd(struct mp_cmd *c, const struct mp_ring *r, const char *id, int64_t count);

/** Wait (bounded by MP_REAP_MS, scaled) and assert that the child exited 0. */
void mp_expect_ok(pid_t pid, const char *who);
/** Same, for a set of children. */
void mp_expect_all_ok(const pid_t *pids, mp_who *who, int n);

/** Read `key=<int>` from a report file written by a role; asserts it is there. */
int64_t mp_report(const char *path, const char *key);

/** Create a ring in this process (the test is the producer); asserts. The
 * producer is closed by mp_fini() if the test does not close it. */
struct dmp_producer *mp_create(const struct mp_ring *r, uint64_t capacity, uint32_t slot);
/** Close the producer made by mp_create(). */
void mp_close(struct dmp_producer *p);
/** Publish `n` events from `*seq` on, one claim each (bounded); asserts. */
void mp_publish(struct dmp_producer *p, int64_t *seq, int64_t n, uint32_t slot);
/** Wait until consumer `id` is ACTIVE and alive in the table (bounded);
 * optionally with a generation of at least `min_generation`. */
void mp_wait_active(struct dmp_producer *p, const char *id, uint32_t min_generation);

/** Criterion .fini: close the in-process producer, kill and reap every
 * child, remove every segment and temp file. */
void mp_fini(void);

#endif /* MP_HARNESS_H */
