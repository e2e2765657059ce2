/**
 * @file cnt.h
 * @brief What the counters tests share: ring names on either backend,
 * cnt_role children and marker files, exact counter look-ups (through the
 * read-only inspector and through a counters handle), running dmp-stat with
 * its output captured, and a minimal JSON checker.
 *
 * Every suite registers cnt_fini() as its `.fini`: children are killed and
 * reaped, and segments (with their ".cnt" companions) and temp files are
 * removed even when an assertion fails. Every wait is bounded (scaled by
 * TS_TIMEOUT_MULTIPLIER) far below the Criterion timeout.
 */
#ifndef CNT_H
#define CNT_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

/** Criterion per-test timeout, seconds. */
#define CNT_TIMEOUT 60
/** Bound of every wait for a child or a marker, milliseconds (scaled). */
#define CNT_WAIT_MS ts_timeout_ms(20000)
#define CNT_WAIT_NS ((int64_t)CNT_WAIT_MS * 1000000)

/** Both backends, for tests that run on each. */
static const enum dmp_backend cnt_backends[] = {DMP_BACKEND_SHM, DMP_BACKEND_MMAP};
#define CNT_NBACKENDS 2

void cnt_fini(void);
const char *cnt_backend_name(enum dmp_backend b);
/** A fresh ring name (SHM) or file path in the private temp dir (MMAP). */
const char *cnt_name(enum dmp_backend b, const char *tag);
/** A fresh path for a marker or report file (not created). */
const char *cnt_file(const char *tag);
/** The on-disk path of a ring's segment or of its counters segment. */
const char *cnt_fs_path(enum dmp_backend b, const char *name, bool counters);
bool cnt_exists(enum dmp_backend b, const char *name, bool counters);

/** An in-process producer with 8-byte slots; asserts it was created. */
struct dmp_producer *cnt_producer(enum dmp_backend b, const char *name, uint64_t capacity, uint32_t max_consumers,
                                  uint32_t flags);

/** Spawn cnt_role `role` on ring (b, name) with more arguments (a
 * NULL-terminated list of strings). Asserts the fork worked. */
pid_t cnt_spawn(const char *role, enum dmp_backend b, const char *name, ...) __attribute__((sentinel));
/** Wait for a marker file; asserts it appears within CNT_WAIT_MS. */
void cnt_await(const char *path, const char *what);
/** Create a marker file. */
void cnt_touch(const char *path);
/** Wait for a child (bounded) and assert its exit status. */
void cnt_expect_exit(pid_t pid, int want, const char *who);
/** SIGKILL a child and reap it. */
void cnt_kill(pid_t pid);

/** Value of the record (type, label) in a sample; asserts it exists. */
uint64_t cnt_stat_value(const struct dmp_ring_stat *s, uint32_t type, const char *label);
/** The record (type, label) of a sample, or NULL. */
const struct dmp_counter_stat *cnt_stat_record(const struct dmp_ring_stat *s, uint32_t type, const char *label);
/** The consumer `id` of a sample, or NULL. */
const struct dmp_consumer_stat *cnt_stat_consumer(const struct dmp_ring_stat *s, const char *id);
/** Value of (type, label) through a counters handle; asserts it exists. */
uint64_t cnt_value(const struct dmp_counters *set, uint32_t type, const char *label);
/** One sample of ring (b, name) through a fresh inspector, which the caller
 * closes; asserts it opened and sampled. */
const struct dmp_ring_stat *cnt_sample(enum dmp_backend b, const char *name, struct dmp_inspect **in);

/** Read a whole file (NUL-terminated, malloc'd; "" if missing). */
char *cnt_slurp(const char *path);
/** Parse "key=<int>" from a report line; asserts it is there. */
long long cnt_report_int(const char *report, const char *key);

/** Run the dmp-stat built with the tests (path in $DMP_STAT) with `args`
 * (NULL-terminated), stdout and stderr captured into files whose contents
 * are returned in *out / *err (malloc'd). Returns the exit status, or
 * 128 + signal; asserts it finished in time. */
int cnt_stat_run(char **out, char **err, const char *const *args);

/** Whether `s` is exactly one JSON value (and, with `lines`, one value per
 * line: the --watch --json form); returns the number of values, -1 if not. */
int cnt_json_count(const char *s);
/** The JSON object that starts at the first occurrence of `start` in `doc`
 * (brace matched, strings skipped), malloc'd; asserts it exists. */
char *cnt_json_object(const char *doc, const char *start);
/** Assert that `json` contains `needle` (printing both on failure). */
void cnt_json_has(const char *json, const char *needle);

#endif /* CNT_H */
