/**
 * @file roudi.c
 * @brief iox-roudi life cycle for the iceoryx subject (see roudi.h).
 *
 * RouDi gets a config written into the run's directory: one segment with
 * mempools sized for the payload ladder (each chunk = payload + iceoryx's
 * chunk header, rounded up) and enough chunks for a 256-deep subscriber
 * queue per size (and 8 chunks of 16 MiB for the 16 MiB ping-pongs,
 * suite.c plan_large: with 4 the quick suite's 16 MiB ping-pong against
 * iceoryx timed out twice in a row, a chunk apparently still held by a
 * role killed in an earlier case; with 8 it finished). It is ready when its log says "RouDi is ready for
 * clients" (45 s bound: it reserves ~390 MB; ~325 MB took more than 15 s
 * on the loaded 2-core VM). On stop it removes its own /dev/shm segments; if it
 * has to be killed, the harness removes the two names it creates
 * (iceoryx_mgmt and the user's segment) — only if they were absent before.
 */
#define _GNU_SOURCE
#include "roudi.h"
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char roudi_config[] =
    "# written by myelon-bench for its iceoryx subject\n"
    "[general]\nversion = 1\n\n[[segment]]\n\n"
    "[[segment.mempool]]\nsize = 128\ncount = 2000\n\n"
    "[[segment.mempool]]\nsize = 1152\ncount = 1000\n\n"
    "[[segment.mempool]]\nsize = 4224\ncount = 600\n\n"
    "[[segment.mempool]]\nsize = 16512\ncount = 600\n\n"
    "[[segment.mempool]]\nsize = 65664\ncount = 600\n\n"
    "[[segment.mempool]]\nsize = 262272\ncount = 300\n\n"
    "[[segment.mempool]]\nsize = 1048704\ncount = 120\n\n"
    "[[segment.mempool]]\nsize = 16777344\ncount = 8\n";

static char workdir[BENCH_PATH_MAX];
static pid_t roudi_pid = -1;
static int state; /* 0 untried, 1 running, -1 failed */
static char reason[256];
static char user_seg[128];

void bench_roudi_setup(const char *dir) { snprintf(workdir, sizeof workdir, "%s", dir); }

static const char *roudi_exe(void)
{
  const char *e = getenv("BENCH_ROUDI"); /* override, e.g. a build of your own */
  return e && *e ? e : "iox-roudi";
}

static bool in_path(const char *exe)
{
  if (strchr(exe, '/'))
    return access(exe, X_OK) == 0;
  const char *path = getenv("PATH");
  char buf[BENCH_PATH_MAX + 64];
  while (path && *path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    snprintf(buf, sizeof buf, "%.*s/%s", (int)len, path, exe);
    if (access(buf, X_OK) == 0)
      return true;
    path = colon ? colon + 1 : NULL;
  }
  return false;
}

static bool log_says_ready(const char *log)
{
  FILE *f = fopen(log, "r");
  if (!f)
    return false;
  char line[512];
  bool ready = false;
  while (!ready && fgets(line, sizeof line, f))
    ready = strstr(line, "RouDi is ready for clients") != NULL;
  fclose(f);
  return ready;
}

static pid_t spawn_roudi(const char *cfg, const char *log)
{
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  /* Monitoring off: on a loaded host a spinning client can miss RouDi's
   * keep-alive deadline and have its resources reclaimed under it. */
  execlp(roudi_exe(), "iox-roudi", "-c", cfg, "-l", "info", "-m", "off", (char *)NULL);
  _exit(127);
}

static int fail(char *why, size_t n, const char *msg)
{
  snprintf(reason, sizeof reason, "%s", msg);
  snprintf(why, n, "%s", reason);
  state = -1;
  return -1;
}

static int wait_ready(const char *log, char *why, size_t n)
{
  int64_t deadline = bench_deadline(INT64_C(45000000000));
  while (!log_says_ready(log)) {
    int st;
    if (waitpid(roudi_pid, &st, WNOHANG) == roudi_pid) {
      roudi_pid = -1;
      return fail(why, n, "iox-roudi exited during start-up (see roudi.log)");
    }
    if (bench_mono_ns() > deadline) {
      bench_roudi_stop();
      return fail(why, n, "iox-roudi did not report ready within 45 s (see roudi.log)");
    }
    bench_sleep_ns(20000000);
  }
  state = 1;
  return 0;
}

int bench_roudi_start(char *why, size_t n)
{
  if (state == 1)
    return 0;
  if (state == -1) {
    snprintf(why, n, "%s", reason);
    return -1;
  }
  if (!in_path(roudi_exe()))
    return fail(why, n, "iox-roudi not found (Debian package: iceoryx; or set BENCH_ROUDI)");
  struct passwd *pw = getpwuid(geteuid());
  snprintf(user_seg, sizeof user_seg, "/dev/shm/%s", pw ? pw->pw_name : "unknown");
  if (access("/dev/shm/iceoryx_mgmt", F_OK) == 0 || access(user_seg, F_OK) == 0)
    return fail(why, n, "another RouDi (or its leftovers) holds /dev/shm/iceoryx_mgmt");
  char cfg[BENCH_PATH_MAX + 16], log[BENCH_PATH_MAX + 16];
  snprintf(cfg, sizeof cfg, "%s/roudi.toml", workdir);
  snprintf(log, sizeof log, "%s/roudi.log", workdir);
  FILE *f = fopen(cfg, "w");
  if (!f || fputs(roudi_config, f) < 0 || fclose(f) != 0)
    return fail(why, n, "cannot write roudi.toml in the output dir");
  roudi_pid = spawn_roudi(cfg, log);
  if (roudi_pid < 0)
    return fail(why, n, "fork failed for iox-roudi");
  return wait_ready(log, why, n);
}

/* Reap RouDi within `ns`: true once it is gone, with its wait status. */
static bool reap_within(int64_t ns, int *st)
{
  int64_t deadline = bench_deadline(ns);
  while (waitpid(roudi_pid, st, WNOHANG) == 0) {
    if (bench_mono_ns() > deadline)
      return false;
    bench_sleep_ns(10000000);
  }
  return true;
}

void bench_roudi_stop(void)
{
  if (roudi_pid <= 0)
    return;
  kill(roudi_pid, SIGINT);
  int st = 0;
  /* Clean only if it exited by itself with status 0: a RouDi that aborted
   * (iceoryx 2.0.3 asserts in its shutdown when a client it tries to stop
   * was already SIGKILLed by a timed-out case: POSH__ROUDI_PROCESS_SHUTDOWN_FAILED)
   * left its segments (~450 MB of /dev/shm) behind as a killed one does. */
  bool gone = reap_within(INT64_C(10000000000), &st);
  bool clean = gone && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (!gone) {
    kill(roudi_pid, SIGKILL);
    reap_within(INT64_C(5000000000), &st);
  }
  roudi_pid = -1;
  if (!clean) { /* a killed or crashed RouDi cannot remove its segments: do it for it */
    unlink("/dev/shm/iceoryx_mgmt");
    unlink(user_seg);
  }
  if (state == 1)
    state = 0;
}
