/**
 * @file support.h
 * @brief Test support: unique names, temp dirs, clocks, child processes
 * with bounded waits, and cleanup that runs even when a test fails.
 *
 * Note for every suite: in Debian 12's Criterion (2.4.1) the new-style
 * `gt(Tag, a, b)` behaves like `ge` (it passes for a == b), so an
 * assertion such as gt(u64, n, 0) cannot fail on 0. Write
 * `lt(Tag, b, a)` or a plain `cr_assert(a > b, ...)` instead; `lt`, `le`
 * and `ge` are correct.
 */
#ifndef TSUPPORT_H
#define TSUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rusage;

/** Monotonic clock in nanoseconds. */
int64_t ts_now_ns(void);

/** A unique SHM segment name for this test ("t" + tag + pid + counter),
 * valid for dmp_name_validate(); registered for removal at exit. */
const char *ts_shm_name(const char *tag);

/** A unique file path in a private temp dir (created on first use and
 * removed, with its contents, at exit). */
const char *ts_tmp_path(const char *tag);

/** Remove every segment and file handed out above (also run at exit),
 * including companion SHM objects named after a handed-out name followed
 * by a non-digit character (e.g. "<name>.lk"). */
void ts_cleanup(void);

/** Spawn `argv` (argv[0] an executable path) as a child. Returns its pid,
 * or -1. The child is killed at exit if still running. */
pid_t ts_spawn(char *const argv[]);

/** Wait for `pid` at most `timeout_ms`; on timeout SIGKILL it and return
 * -1. Otherwise return its exit status (0..255), or 128+signal. */
int ts_wait(pid_t pid, int timeout_ms);

/** As ts_wait(), and on a normal return also the child's resource usage
 * (CPU time of that one child, from wait4()) in `*ru` when `ru` is not NULL. */
int ts_wait_rusage(pid_t pid, int timeout_ms, struct rusage *ru);

/** Wait until `path` exists, polling every millisecond for at most
 * `timeout_ms`. Returns true if it exists. */
bool ts_wait_path(const char *path, int timeout_ms);

/** `base_ms` scaled by the TS_TIMEOUT_MULTIPLIER environment variable (a
 * positive number, default 1), for slow sanitizer or valgrind runs. Use it
 * for every bounded wait in a test and for the timeouts passed to children. */
int ts_timeout_ms(int base_ms);

/** The slack a blocking call may take beyond its own timeout before a test
 * calls it a broken promise (issue 15; the fault sweep and the hostile
 * suite check every call against it): DMP_FAULT_SLACK_MS if set (e.g. on a
 * machine shared with other heavy jobs, where a process may wait 300 ms for
 * a CPU), else 250 ms (this 2-vCPU VM's scheduling noise) scaled by
 * TS_TIMEOUT_MULTIPLIER. */
#define TS_SLACK_MS 250
int ts_slack_ms(void);

/** Where a bounded call starts: the wall clock and the calling thread's
 * run-queue time so far. */
struct ts_mark {
  int64_t wall_ns;
  int64_t runq_ns;
};

/** The calling thread's time spent runnable but not running, in ns (the
 * run delay of /proc/thread-self/schedstat), or 0 where the kernel does
 * not report it. */
int64_t ts_runq_ns(void);

/** Start timing a bounded call (ts_own_ns()). */
struct ts_mark ts_mark(void);

/** Wall time since `m` less the time this thread waited for a CPU
 * meanwhile: what a call's own code and its own sleeps took. Checking a
 * timeout promise against it holds the library to its bound without
 * holding it to the host's load (at load 20 a runnable process may wait
 * 250 ms and more for a core; the wall time is reported beside it). */
int64_t ts_own_ns(struct ts_mark m);

/** Kill and reap every child still running. */
void ts_kill_children(void);

/** Path of a helper executable built next to the test (from the env var
 * `var`, set by meson.build). */
const char *ts_helper(const char *var);

/** Deterministic 64-bit checksum of an event payload (splitmix64 of seq). */
uint64_t ts_checksum(int64_t seq);

#endif
