/* Test support: see support.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "support.h"

#include <criterion/hooks.h>
#include <criterion/internal/ordered-set.h>

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

int ts_slack_ms(void)
{
  const char *v = getenv("DMP_FAULT_SLACK_MS");
  return v && *v ? atoi(v) : ts_timeout_ms(TS_SLACK_MS);
}

int64_t ts_runq_ns(void)
{
  FILE *f = fopen("/proc/thread-self/schedstat", "r");
  if (!f)
    return 0;
  unsigned long long run = 0, wait = 0;
  int n = fscanf(f, "%llu %llu", &run, &wait);
  fclose(f);
  return n == 2 ? (int64_t)wait : 0;
}

struct ts_mark ts_mark(void)
{
  struct ts_mark m;
  m.runq_ns = ts_runq_ns();
  m.wall_ns = ts_now_ns();
  return m;
}

int64_t ts_own_ns(struct ts_mark m)
{
  int64_t wall = ts_now_ns() - m.wall_ns, waited = ts_runq_ns() - m.runq_ns;
  return waited > 0 && waited < wall ? wall - waited : wall;
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

/* Criterion's own per-test timeouts (.timeout of Test/TestSuite, e.g.
 * UT_TIMEOUT) are constants in the test sources; scale them by the same
 * TS_TIMEOUT_MULTIPLIER, so that a slow sanitizer or valgrind run does not
 * turn into "Timed out" on a loaded machine. This hook runs in the
 * Criterion runner before any worker is spawned; the runner computes each
 * worker's time limit from these fields. Role binaries also link this file
 * but never load libcriterion, so for them the hook is inert data. */
static double timeout_factor(void)
{
  const char *m = getenv("TS_TIMEOUT_MULTIPLIER");
  double f = m ? strtod(m, NULL) : 1.0;
  return f > 1.0 && f < 1e6 ? f : 1.0;
}

static void scale_timeout(struct criterion_test_extra_data *d, double f)
{
  if (d && d->timeout > 0)
    d->timeout *= f;
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
  double f = timeout_factor();
  if (f == 1.0 || !set || !set->suites)
    return;
  for (struct criterion_ordered_set_node *sn = set->suites->first; sn; sn = sn->next) {
    struct criterion_suite_set *ss = (void *)(sn + 1); /* node payload, as FOREACH_SET */
    scale_timeout(ss->suite.data, f);
    for (struct criterion_ordered_set_node *tn = ss->tests ? ss->tests->first : NULL; tn; tn = tn->next)
      scale_timeout(((struct criterion_test *)(void *)(tn + 1))->data, f);
  }
}

/* Sanitizer builds only (docs/HARDENING.md, "Sanitizers and valgrind"). */
#if defined(__SANITIZE_THREAD__)
#define TS_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TS_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TS_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define TS_ASAN 1
#endif
#endif

#if defined(TS_TSAN) && defined(__x86_64__)
/* ThreadSanitizer: let Criterion start. Criterion's sandbox (BoxFort) maps
 * its "inheritable arena" at 0x200000000000 + (rand_r() & 0x3fffff) * 16 MiB
 * and gives up after a few occupied candidates ("criterion: Could not
 * initialize inheritable arena: Resource temporarily unavailable", Criterion
 * issue #274). Under TSan on x86_64 almost all of that window is TSan's
 * shadow or protected gaps; only [0x550000000000, 0x568000000000) is
 * application memory, so Criterion starts about once in fifty runs. Nothing
 * else in the tests or libraries calls rand_r(), and the executable's
 * definition comes before libc's, so under TSan this one steers BoxFort's
 * draw into that range (its probes still skip whatever is mapped there,
 * e.g. the executable itself). */
int rand_r(unsigned *seedp)
{
  unsigned x = *seedp * 1103515245u + 12345u; /* any LCG: only the range matters */
  *seedp = x;
  return (int)(0x350000u + (x >> 8) % 0x18000u); /* 16 MiB units above 0x200000000000 */
}
#endif

#if defined(TS_ASAN)
/* AddressSanitizer: no leak check in the Criterion runner process itself.
 * LeakSanitizer calls this hook (sanitizer/lsan_interface.h) at exit. The
 * runner executes only Criterion's own code: every test body, .init and
 * .fini runs in a BoxFort worker (argv[0] "boxfort-worker"), and every role
 * binary is a separate program without libcriterion; both stay checked.
 * Criterion 2.4.1's runner loses one 48-byte block of its scheduler with
 * --jobs 2. A suppression cannot single it out: the fast unwinder stops in
 * libcriterion (no frame pointers), so "leak:libcriterion.so" would also
 * hide leaks of test bodies (their stacks end in criterion_internal_test_main),
 * and fast_unwind_on_malloc=0 (needed to match criterion_run_all_tests)
 * deadlocks forked workers in gcc 12's libasan (a worker inherits the stack
 * depot lock from the runner's nanomsg thread: half the runs hung here). */
extern int criterion_run_all_tests(void *) __attribute__((weak));
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
  extern char *program_invocation_short_name;
  return criterion_run_all_tests != NULL && strcmp(program_invocation_short_name, "boxfort-worker") != 0;
}
#endif
