/* Test support: see support.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "support.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TS_MAX_TRACKED 256

static char shm_names[TS_MAX_TRACKED][40];
static int n_shm;
static char tmp_paths[TS_MAX_TRACKED][256];
static int n_tmp;
static char tmp_dir[128];
static pid_t children[TS_MAX_TRACKED];
static int n_children;
static unsigned counter;
static bool registered;

static void at_exit_cleanup(void)
{
  ts_kill_children();
  ts_cleanup();
}

static void ensure_registered(void)
{
  if (!registered) {
    registered = true;
    atexit(at_exit_cleanup);
  }
}

int64_t ts_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *ts_shm_name(const char *tag)
{
  ensure_registered();
  if (n_shm >= TS_MAX_TRACKED)
    return NULL;
  char *buf = shm_names[n_shm++];
  snprintf(buf, sizeof shm_names[0], "t%.6s%d_%u", tag ? tag : "", (int)getpid() % 100000, counter++);
  return buf;
}

const char *ts_tmp_path(const char *tag)
{
  ensure_registered();
  if (tmp_dir[0] == '\0') {
    snprintf(tmp_dir, sizeof tmp_dir, "%s/dmptest-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) {
      tmp_dir[0] = '\0';
      return NULL;
    }
  }
  if (n_tmp >= TS_MAX_TRACKED)
    return NULL;
  char *buf = tmp_paths[n_tmp++];
  snprintf(buf, sizeof tmp_paths[0], "%s/%s-%u.ring", tmp_dir, tag ? tag : "r", counter++);
  return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

/* Companion objects: "/dev/shm/<name>X..." where X is not a digit (a digit
 * would make it another handed-out name: the counter is the last field). */
static void unlink_companions(void)
{
  DIR *d = opendir("/dev/shm");
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    for (int i = 0; i < n_shm; i++) {
      size_t len = strlen(shm_names[i]);
      if (strncmp(e->d_name, shm_names[i], len) == 0 && e->d_name[len] != '\0' &&
          !isdigit((unsigned char)e->d_name[len])) {
        char full[300];
        snprintf(full, sizeof full, "/%s", e->d_name);
        shm_unlink(full);
        break;
      }
    }
  }
  closedir(d);
}

void ts_cleanup(void)
{
  unlink_companions();
  for (int i = 0; i < n_shm; i++) {
    char full[sizeof shm_names[0] + 2];
    snprintf(full, sizeof full, "/%.*s", (int)sizeof shm_names[0] - 1, shm_names[i]);
    shm_unlink(full);
  }
  n_shm = 0;
  n_tmp = 0;
  if (tmp_dir[0]) {
    nftw(tmp_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    tmp_dir[0] = '\0';
  }
}

pid_t ts_spawn(char *const argv[])
{
  ensure_registered();
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  if (pid > 0 && n_children < TS_MAX_TRACKED)
    children[n_children++] = pid;
  return pid;
}

static void forget_child(pid_t pid)
{
  for (int i = 0; i < n_children; i++)
    if (children[i] == pid) {
      children[i] = children[--n_children];
      return;
    }
}

int ts_wait(pid_t pid, int timeout_ms)
{
  return ts_wait_rusage(pid, timeout_ms, NULL);
}

int ts_wait_rusage(pid_t pid, int timeout_ms, struct rusage *ru)
{
  int64_t deadline = ts_now_ns() + (int64_t)timeout_ms * 1000000;
  for (;;) {
    int status;
    struct rusage usage;
    pid_t r = wait4(pid, &status, WNOHANG, &usage);
    if (r == pid) {
      forget_child(pid);
      if (ru)
        *ru = usage;
      if (WIFEXITED(status))
        return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    if (r < 0)
      return -1;
    if (ts_now_ns() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      forget_child(pid);
      return -1;
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

bool ts_wait_path(const char *path, int timeout_ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)timeout_ms * 1000000;
  for (;;) {
    if (access(path, F_OK) == 0)
      return true;
    if (ts_now_ns() > deadline)
      return false;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

int ts_timeout_ms(int base_ms)
{
  const char *m = getenv("TS_TIMEOUT_MULTIPLIER");
  double f = m ? strtod(m, NULL) : 1.0;
  if (!(f > 0.0))
    f = 1.0;
  double v = (double)base_ms * f;
  return v > 2e9 ? 2000000000 : (int)v;
}

void ts_kill_children(void)
{
  while (n_children > 0) {
    pid_t pid = children[--n_children];
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
}

const char *ts_helper(const char *var)
{
  const char *p = getenv(var);
  return p ? p : "";
}

uint64_t ts_checksum(int64_t seq)
{
  uint64_t z = (uint64_t)seq + UINT64_C(0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* ThreadSanitizer builds only: let Criterion start.
 *
 * Criterion's sandbox (BoxFort) maps its "inheritable arena" at
 * 0x200000000000 + (rand_r() & 0x3fffff) * 16 MiB and gives up after a few
 * occupied candidates ("criterion: Could not initialize inheritable arena:
 * Resource temporarily unavailable", Criterion issue #274). Under TSan on
 * x86_64 almost all of that window is TSan's shadow or protected gaps; only
 * [0x550000000000, 0x568000000000) is application memory, so Criterion
 * starts about once in fifty runs. Nothing else in the tests or libraries
 * calls rand_r(), and the executable's definition comes before libc's, so
 * under TSan this one steers BoxFort's draw into that range (the probes still
 * skip whatever is mapped there, e.g. the executable itself). */
#if defined(__SANITIZE_THREAD__)
#define TS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TS_TSAN 1
#endif
#endif
#if defined(TS_TSAN) && defined(__x86_64__)
int rand_r(unsigned *seedp)
{
  unsigned x = *seedp * 1103515245u + 12345u; /* any LCG: only the range matters */
  *seedp = x;
  return (int)(0x350000u + (x >> 8) % 0x18000u); /* 16 MiB units above 0x200000000000 */
}
#endif
