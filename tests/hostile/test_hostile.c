/*
 * Hostile peers (suite 'hostile', issue 10): a scribbler process maps the
 * LIVE ring and its counters companion read-write and writes seeded random
 * values over them while a producer and consumers (separate processes,
 * hostile_role) run a raw Layer 0 stream, a framed Layer 1 stream (compact
 * and aligned frames) or a typed msgpack stream.
 *
 * Both backends are scribbled: the seed picks one per scenario (odd seeds
 * DMP_BACKEND_MMAP, even seeds DMP_BACKEND_SHM), so the default sweep of
 * two consecutive seeds runs each test once on each, and a replayed seed
 * runs on the backend it failed on. SHM: a POSIX shm segment and
 * "<name>.cnt" in /dev/shm. MMAP: a regular file and "<path>.cnt" in a
 * private directory (mkdtemp, mode 0700: the library refuses a directory
 * others may write) made for the scenario and removed with everything in
 * it at its end, pass or fail (and at exit and in the suite's fini).
 *
 * What must hold, per scenario:
 *  - every participant ends, normally or with a clean error return
 *    (hostile.h: HX_OK, HX_STOPPED, HX_GAVE_UP; HX_SETUP only for the late
 *    joiner, which attaches while the header may be scribbled: the
 *    producer and the first consumers set up before any scribble); payload
 *    garbage is allowed, framing and codec errors are counted, not fatal;
 *  - the scribbler scribbled: it mapped the live ring, ran to its end and
 *    wrote into every target class it was given (its summary line);
 *  - none is killed by a signal (SIGSEGV, SIGBUS, SIGFPE, SIGABRT, ...);
 *  - none hangs: a watchdog kills any process still running after a
 *    generous bound, prints where it was (/proc/<pid>/wchan, stack and
 *    syscall, a gdb backtrace when gdb is installed) and fails the test;
 *  - every call a role made returned within its timeout plus the slack
 *    of the fault sweep (ts_slack_ms(): 250 ms scaled by
 *    TS_TIMEOUT_MULTIPLIER, or DMP_FAULT_SLACK_MS), and every call
 *    documented as not waiting (close, publish, release) within that slack
 *    of 0: each role times them and prints its worst overrun, the driver
 *    checks it and prints the worst of each test (issue 15);
 *  - no sanitizer report (ASan/UBSan/LSan) in any participant's log;
 *  - nothing of the ring is left: no "<name>*" in /dev/shm (SHM), nothing
 *    but the logs in the private directory (MMAP).
 *
 * Each test runs a few seeded scenarios: "everywhere" tests scribble every
 * class at once, targeted tests one class (header, control lines, consumer
 * table, slots, frame headers, counters) so a failure names the field
 * class. A seed decides the plan (backend, consumers, late joiner, API
 * variants, wait strategies, liveness action, ring size, scribble values).
 *
 *   meson test -C build --suite hostile                   # the default sweep
 *   DMP_HOSTILE_SEEDS=50 meson test -C build hostile -t 0  # 50 seeds per test
 *   DMP_HOSTILE_SEED=123 meson test -C build hostile -v   # replay seed 123
 *   DMP_HOSTILE_BACKEND=shm|mmap ...                      # one backend for every seed
 *   DMP_HOSTILE_VERBOSE=1 ...                             # every plan, log and write
 * The watchdog itself: HOSTILE_ROLE_HANG=c0 DMP_HOSTILE_WATCHDOG_MS=3000
 * makes consumer c0 hang and the test fail, printing where c0 was.
 * A failure prints "seed N" with the plan and every participant's log.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "support.h"

#define DEFAULT_SEEDS 2
#define MAX_PROCS 6 /* producer, a second producer (kind mp), c0, c1, scribbler, late joiner */
#define WATCHDOG_MS 25000 /* per scenario; every role bounds itself at 12 s */

static const char *const kind_names[] = {"raw", "compact", "aligned", "typed", "mp", "bytes", "fbytes"};

struct proc {
  char what[32];
  char log[300];
  pid_t pid;
  int status; /* exit code, 128 + signal, or -1 (hung, killed by the watchdog) */
  bool done;
};

struct scenario {
  enum hk_kind kind;
  uint32_t targets;
  uint64_t seed;
  bool mmap;        /* DMP_BACKEND_MMAP: `name` is a file path in a private dir */
  const char *name; /* shm segment name or ring file path */
  struct proc procs[MAX_PROCS];
  int n;
  char plan[300];
};

static uint64_t rnd(uint64_t *s)
{
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static bool verbose(void)
{
  const char *v = getenv("DMP_HOSTILE_VERBOSE");
  return v && atoi(v) > 0;
}

/* The backend of a seed: odd seeds MMAP, even ones SHM (so two consecutive
 * seeds cover both and a replayed seed keeps its backend), unless
 * DMP_HOSTILE_BACKEND=shm|mmap forces one. */
static bool backend_forced(void)
{
  const char *b = getenv("DMP_HOSTILE_BACKEND");
  return b && (strcmp(b, "shm") == 0 || strcmp(b, "mmap") == 0);
}

static bool mmap_of(uint64_t seed)
{
  const char *b = getenv("DMP_HOSTILE_BACKEND");
  if (backend_forced())
    return strcmp(b, "mmap") == 0;
  return seed % 2 == 1;
}

static void fini(void)
{
  ts_kill_children();
  ts_cleanup();
}

TestSuite(hostile, .fini = fini, .timeout = 300);

/* ---- processes ----------------------------------------------------------------- */

static struct proc *spawn(struct scenario *sc, const char *what, char **argv)
{
  struct proc *p = &sc->procs[sc->n++];
  snprintf(p->what, sizeof p->what, "%s", what);
  snprintf(p->log, sizeof p->log, "%s", ts_tmp_path(what));
  int argc = 0;
  while (argv[argc])
    argc++;
  argv[argc] = "--log";
  argv[argc + 1] = p->log;
  argv[argc + 2] = NULL;
  p->pid = ts_spawn(argv);
  p->status = -1;
  p->done = p->pid < 0;
  if (p->pid < 0)
    p->status = 255;
  return p;
}

/* Reap `p` if it has ended (without blocking). */
static bool poll_proc(struct proc *p)
{
  if (p->done)
    return true;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid != p->pid)
    return false;
  p->status = ts_wait(p->pid, 1000); /* reaps it and forgets it in support.c */
  p->done = true;
  return true;
}

/* The first `max_lines` lines of `path`; if there are more, how many were
 * skipped and the last one (a role's or the scribbler's summary). */
static void print_file(const char *path, const char *indent, size_t max_lines)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  char line[512];
  size_t n = 0;
  while (fgets(line, sizeof line, f)) {
    if (n++ < max_lines)
      fprintf(stderr, "%s%s", indent, line);
  }
  if (n > max_lines) {
    if (n > max_lines + 1)
      fprintf(stderr, "%s... %zu lines skipped\n", indent, n - max_lines - 1);
    fprintf(stderr, "%s%s", indent, line);
  }
  fclose(f);
}

/* Where is a hung process? Kernel side (wchan, stack, syscall), then a gdb
 * backtrace of every thread if gdb is there. */
static void diagnose(const struct proc *p)
{
  char path[64];
  fprintf(stderr, "  HUNG: %s (pid %d) is still running after the watchdog bound\n", p->what, (int)p->pid);
  static const char *const files[] = {"wchan", "syscall", "stack"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "/proc/%d/%s", (int)p->pid, files[i]);
    fprintf(stderr, "  /proc/%d/%s:\n", (int)p->pid, files[i]);
    print_file(path, "    ", 40);
    fprintf(stderr, "\n");
  }
  if (access("/usr/bin/gdb", X_OK) == 0) {
    char cmd[200];
    snprintf(cmd, sizeof cmd, "timeout 20 /usr/bin/gdb -p %d -batch -nx -ex 'thread apply all bt' 2>&1 | grep -E '^(#|Thread)'",
             (int)p->pid);
    fprintf(stderr, "  gdb backtrace:\n");
    fflush(stderr);
    if (system(cmd) != 0)
      fprintf(stderr, "    (gdb failed)\n");
  }
}

/* Wait for every process, at most `bound_ms` from now; kill and diagnose
 * the ones still running then. Returns the number that hung. */
static int watchdog(struct scenario *sc, int bound_ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)bound_ms * 1000000;
  for (;;) {
    bool all = true;
    for (int i = 0; i < sc->n; i++)
      all &= poll_proc(&sc->procs[i]);
    if (all)
      return 0;
    if (ts_now_ns() > deadline)
      break;
    nanosleep(&(struct timespec){0, 2000000}, NULL);
  }
  int hung = 0;
  for (int i = 0; i < sc->n; i++) {
    struct proc *p = &sc->procs[i];
    if (poll_proc(p))
      continue;
    hung++;
    diagnose(p);
    ts_wait(p->pid, 0); /* SIGKILL and reap */
    p->status = -1;
    p->done = true;
  }
  return hung;
}

/* A sanitizer report in a log ("ERROR: AddressSanitizer", "runtime error:",
 * LeakSanitizer ...). */
static bool sanitizer_report(const char *log)
{
  FILE *f = fopen(log, "r");
  if (!f)
    return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    found = strstr(line, "Sanitizer") || strstr(line, "runtime error:");
  fclose(f);
  return found;
}

/* Wait (bounded) until `log` contains `what`. */
static bool log_says(const char *log, const char *what, int timeout_ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)timeout_ms * 1000000;
  char line[512];
  for (;;) {
    FILE *f = fopen(log, "r");
    if (f) {
      bool found = false;
      while (!found && fgets(line, sizeof line, f))
        found = strstr(line, what) != NULL;
      fclose(f);
      if (found)
        return true;
    }
    if (ts_now_ns() > deadline)
      return false;
    nanosleep(&(struct timespec){0, 2000000}, NULL);
  }
}

/* A role's timing line (hostile_role.c, finish()): "timed N calls, worst
 * overrun O ms: CALL took D ms with a timeout of T ms". false if missing. */
static bool role_timing(const char *log, uint64_t *calls, double *over_ms, char *what, size_t len)
{
  FILE *f = fopen(log, "r");
  if (!f)
    return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    const char *t = strstr(line, ": timed ");
    unsigned long long n;
    if (!t || sscanf(t, ": timed %llu calls, worst overrun %lf ms", &n, over_ms) != 2)
      continue;
    found = true;
    *calls = n;
    const char *w = strstr(t, " ms: ");
    snprintf(what, len, "%s", w ? w + 5 : "?");
    what[strcspn(what, "\n")] = '\0';
  }
  fclose(f);
  return found;
}

/* Every role's calls in this test, and the worst overrun (issue 15). */
static uint64_t timed_calls;
static double worst_over_ms = -1e18;
static char worst_over[400] = "-";

/* The scribbler's summary line ("hostile_scribbler: targets 0x3f, writes:
 * header 12 control 40 ...") into writes per class (HT_* bit order).
 * false if the line is missing (it never mapped the ring, or died). */
static bool scribbler_writes(const char *log, uint64_t writes[HT_N_CLASSES])
{
  static const char *const names[HT_N_CLASSES] = {"header", "control", "table",     "slots",
                                                  "frames", "counters", "producers", "markers"};
  memset(writes, 0, HT_N_CLASSES * sizeof writes[0]);
  FILE *f = fopen(log, "r");
  if (!f)
    return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    const char *w = strstr(line, "hostile_scribbler: targets ");
    w = w ? strstr(w, "writes:") : NULL;
    if (!w)
      continue;
    found = true;
    for (int c = 0; c < HT_N_CLASSES; c++) {
      char key[16];
      snprintf(key, sizeof key, " %s ", names[c]);
      const char *at = strstr(w, key);
      if (at)
        writes[c] = strtoull(at + strlen(key), NULL, 10);
    }
  }
  fclose(f);
  return found;
}

/* ---- one scenario ----------------------------------------------------------------- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
  static char bufs[64][64];
  static int next;
  char *b = bufs[next++ % 64];
  va_list ap;
  va_start(ap, f);
  vsnprintf(b, 64, f, ap);
  va_end(ap);
  return b;
}

struct plan {
  uint32_t consumers; /* 1 or 2 from the start */
  bool late;          /* one more joins while the scribbler runs */
  uint64_t count, pace_us;
  int duration_ms, rate_us;
};

static struct plan plan_of(enum hk_kind kind, uint64_t seed)
{
  uint64_t s = seed ^ UINT64_C(0x5eed);
  struct plan p;
  p.consumers = 1 + (uint32_t)(rnd(&s) % 2);
  p.late = rnd(&s) % 2;
  bool bytes = kind == HK_BYTES || kind == HK_FBYTES;
  p.count = kind == HK_RAW || kind == HK_MP ? 3000 : kind == HK_TYPED ? 160 : bytes ? 1500 : 500;
  p.pace_us = kind == HK_RAW || kind == HK_MP ? 2000 : kind == HK_TYPED ? 25000 : bytes ? 4000 : 10000;
  p.duration_ms = 900 + (int)(rnd(&s) % 300);
  p.rate_us = 100 + (int)(rnd(&s) % 400);
  return p;
}

static void role_argv(char **argv, const struct scenario *sc, const char *role, const char *id, uint64_t seed,
                      const struct plan *pl)
{
  int a = 0;
  argv[a++] = (char *)ts_helper("HOSTILE_ROLE");
  argv[a++] = (char *)role;
  argv[a++] = "--kind";
  argv[a++] = (char *)kind_names[sc->kind];
  argv[a++] = "--name";
  argv[a++] = (char *)sc->name;
  if (sc->mmap)
    argv[a++] = "--mmap";
  argv[a++] = "--count";
  argv[a++] = fmt("%" PRIu64, pl->count);
  argv[a++] = "--seed";
  argv[a++] = fmt("%" PRIu64, seed);
  argv[a++] = "--attach-ms";
  argv[a++] = fmt("%d", ts_timeout_ms(4000));
  argv[a++] = "--deadline-ms";
  argv[a++] = fmt("%d", ts_timeout_ms(12000));
  if (id) {
    argv[a++] = "--id";
    argv[a++] = (char *)id;
    argv[a++] = "--stall-ms";
    argv[a++] = fmt("%d", ts_timeout_ms(1500));
  } else {
    argv[a++] = "--consumers";
    argv[a++] = fmt("%u", pl->consumers);
    argv[a++] = "--ids";
    argv[a++] = pl->consumers == 2 ? "c0,c1" : "c0";
    argv[a++] = "--pace-us";
    argv[a++] = fmt("%" PRIu64, pl->pace_us);
    argv[a++] = "--stall-ms";
    argv[a++] = fmt("%d", ts_timeout_ms(1000));
  }
  argv[a] = NULL;
}

static struct proc *start_scribbler(struct scenario *sc, const struct plan *pl)
{
  char *argv[24] = {(char *)ts_helper("HOSTILE_SCRIBBLER"), "--name", (char *)sc->name, "--seed",
                    fmt("%" PRIu64, sc->seed), "--targets", fmt("%#x", sc->targets), "--duration-ms",
                    fmt("%d", pl->duration_ms), "--rate-us", fmt("%d", pl->rate_us), "--kind",
                    (char *)kind_names[sc->kind], NULL};
  if (sc->mmap) {
    char **end = argv;
    while (*end)
      end++;
    *end = "--mmap"; /* the rest of argv is NULL */
  }
  return spawn(sc, "scribbler", argv);
}

static bool is_log(const struct scenario *sc, const char *entry)
{
  for (int i = 0; i < sc->n; i++) {
    const char *base = strrchr(sc->procs[i].log, '/');
    if (strcmp(base ? base + 1 : sc->procs[i].log, entry) == 0)
      return true;
  }
  return false;
}

/* What the scenario left behind, as " a b ..." in `out` (empty: nothing).
 * SHM: every /dev/shm entry named after the ring ("<name>", "<name>.cnt",
 * any other "<name>X" with X not a digit: a digit would be another test's
 * name). MMAP: every entry of the private directory but the logs (the ring
 * file, "<path>.cnt", anything else the library might have made there). */
static void leftovers(const struct scenario *sc, char *out, size_t n)
{
  out[0] = '\0';
  size_t used = 0;
  char dir[300] = "/dev/shm";
  const char *prefix = sc->name;
  if (sc->mmap) {
    snprintf(dir, sizeof dir, "%s", sc->name);
    char *slash = strrchr(dir, '/');
    if (slash)
      *slash = '\0';
    prefix = NULL;
  }
  DIR *d = opendir(dir);
  if (!d)
    return;
  size_t plen = prefix ? strlen(prefix) : 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && used < n - 1) {
    const char *f = e->d_name;
    if (strcmp(f, ".") == 0 || strcmp(f, "..") == 0)
      continue;
    if (prefix ? strncmp(f, prefix, plen) != 0 || isdigit((unsigned char)f[plen]) : is_log(sc, f))
      continue;
    used += (size_t)snprintf(out + used, n - used, " %s/%s", dir, f);
  }
  closedir(d);
}

/* Run one scenario; returns true if every rule held, else prints why. */
static bool run_scenario(enum hk_kind kind, uint32_t targets, uint64_t seed)
{
  struct scenario sc;
  memset(&sc, 0, sizeof sc);
  sc.kind = kind;
  sc.targets = targets;
  sc.seed = seed;
  sc.mmap = mmap_of(seed);
  /* MMAP: a file in the private 0700 directory of ts_tmp_path() (mkdtemp
   * under $TMPDIR or /tmp), which ts_cleanup() removes with its contents. */
  sc.name = sc.mmap ? ts_tmp_path("hs") : ts_shm_name("hs");
  if (!sc.name) {
    fprintf(stderr, "hostile seed %" PRIu64 ": no %s name: %s\n", seed, sc.mmap ? "ring file" : "segment",
            strerror(errno));
    return false;
  }
  struct plan pl = plan_of(kind, seed);
  snprintf(sc.plan, sizeof sc.plan, "%s stream on %s, targets %#x, %u consumer(s)%s, %" PRIu64
           " events, scribble %d ms every ~%d us",
           kind_names[kind], sc.mmap ? "mmap (a file)" : "shm", targets, pl.consumers,
           pl.late ? " + a late joiner" : "", pl.count, pl.duration_ms, pl.rate_us);
  int64_t t0 = ts_now_ns();
  char *argv[40];
  role_argv(argv, &sc, "producer", NULL, seed, &pl);
  struct proc *prod = spawn(&sc, "producer", argv);
  for (uint32_t i = 0; i < pl.consumers; i++) {
    role_argv(argv, &sc, "consumer", i ? "c1" : "c0", seed + 1 + i, &pl);
    spawn(&sc, i ? "c1" : "c0", argv);
  }
  if (kind == HK_MP) { /* a second producer joins the creator's ring */
    role_argv(argv, &sc, "producer", NULL, seed + 5, &pl);
    char **end = argv;
    while (*end)
      end++;
    end[0] = "--attach";
    end[1] = NULL;
    spawn(&sc, "producer2", argv);
  }
  /* Scribble the running stream: once the producer has created the ring
   * and every consumer is attached (or either could not), so that attach
   * itself is not all we test. The producer's create waits for the
   * consumers: a consumer attached but not yet seen by that wait when the
   * table was scribbled left the create waiting in vain (seed 1300). */
  for (int i = 0; i < sc.n; i++)
    log_says(sc.procs[i].log, "hostile_role", ts_timeout_ms(5000));
  (void)prod;
  struct proc *scribbler = start_scribbler(&sc, &pl), *late = NULL;
  if (pl.late) {
    nanosleep(&(struct timespec){0, (long)pl.duration_ms * 300000L}, NULL);
    role_argv(argv, &sc, "consumer", "late", seed + 7, &pl);
    late = spawn(&sc, "late", argv);
  }
  const char *wd = getenv("DMP_HOSTILE_WATCHDOG_MS"); /* to try the watchdog out */
  int hung = watchdog(&sc, ts_timeout_ms(wd ? atoi(wd) : WATCHDOG_MS));
  bool ok = hung == 0;
  char verdict[600] = "";
  size_t used = 0;
  /* Not scribbled, not tested: a scenario passes only if the scribbler
   * mapped the ring, ran to its end (exit 0) and wrote into every class it
   * was given. Before, a ring that was never created (e.g. a 4 KiB tmpfs)
   * passed: every process, the scribbler included, ended with "setup
   * failed", an allowed exit. */
  uint64_t writes[HT_N_CLASSES];
  bool summary = scribbler_writes(scribbler->log, writes);
  for (int c = 0; c < HT_N_CLASSES && summary; c++) {
    if ((sc.targets & (1u << c)) && writes[c] == 0) {
      ok = false;
      used += (size_t)snprintf(verdict + used, sizeof verdict - used, " the scribbler wrote nothing into class %#x;",
                               1u << c);
    }
  }
  if (!summary) {
    ok = false;
    used += (size_t)snprintf(verdict + used, sizeof verdict - used, " the scribbler never scribbled (no summary);");
  }
  if (used >= sizeof verdict)
    used = sizeof verdict - 1;
  for (int i = 0; i < sc.n; i++) {
    struct proc *p = &sc.procs[i];
    bool bad = p->status < 0 || !hx_clean_exit(p->status);
    /* Who may fail to set up: only the late joiner, which attaches while
     * the header may be scribbled. The producer creates and the first
     * consumers attach before the scribbler starts, and the scribbler
     * itself must run (its 2 is "ring not ready"). */
    bool setup = p->status == HX_SETUP && p != late;
    bool scrib = p == scribbler && p->status != 0;
    bool san = sanitizer_report(p->log);
    if (bad || setup || scrib || san) {
      ok = false;
      used += (size_t)snprintf(verdict + used, sizeof verdict - used, " %s %s%s%s;", p->what,
                               p->status < 0 ? "hung (killed by the watchdog)"
                               : p->status >= 128 ? fmt("killed by signal %d (%s)", p->status - 128,
                                                        strsignal(p->status - 128))
                                                  : fmt("exited %d", p->status),
                               setup || scrib ? " (could not set up)" : "", san ? " with a sanitizer report" : "");
      if (used >= sizeof verdict)
        used = sizeof verdict - 1;
    }
    /* Every call of a role that ended by itself returned within its
     * timeout + ts_slack_ms() (DMP_FAULT_SLACK_MS, as in the fault sweep),
     * whatever the scribbler wrote (issue 15). */
    if (p == scribbler || p->status < 0 || p->status >= 128)
      continue;
    uint64_t calls = 0;
    double over = 0;
    char what[200];
    bool timing = role_timing(p->log, &calls, &over, what, sizeof what);
    if (timing) {
      timed_calls += calls;
      if (calls && over > worst_over_ms) {
        worst_over_ms = over;
        snprintf(worst_over, sizeof worst_over, "%s: %s (seed %" PRIu64 ")", p->what, what, seed);
      }
    }
    if (!timing || (calls && over > ts_slack_ms())) {
      ok = false;
      if (timing)
        used += (size_t)snprintf(verdict + used, sizeof verdict - used, " %s: %s (more than its timeout + %d ms);",
                                 p->what, what, ts_slack_ms());
      else
        used += (size_t)snprintf(verdict + used, sizeof verdict - used, " %s: no timing line;", p->what);
      if (used >= sizeof verdict)
        used = sizeof verdict - 1;
    }
  }
  char left[300];
  leftovers(&sc, left, sizeof left);
  if (left[0]) {
    ok = false;
    snprintf(verdict + used, sizeof verdict - used, " left behind:%s;", left);
  }
  if (!ok || verbose()) {
    fprintf(stderr, "hostile seed %" PRIu64 ": %s: %s (%.1f s)%s\n", seed, sc.plan, ok ? "ok" : "FAILED",
            (double)(ts_now_ns() - t0) / 1e9, verdict);
    for (int i = 0; i < sc.n; i++) {
      fprintf(stderr, "  --- %s (exit %d) log:\n", sc.procs[i].what, sc.procs[i].status);
      print_file(sc.procs[i].log, "    ", ok ? 20 : 200);
    }
    /* No replay line for the self-test of the bound check (a negative
     * slack fails on purpose): .ci/run's summary lists every replay line. */
    if (!ok && ts_slack_ms() >= 0)
      fprintf(stderr, "  replay: %sDMP_HOSTILE_SEED=%" PRIu64 " (this test)\n",
              backend_forced() ? (sc.mmap ? "DMP_HOSTILE_BACKEND=mmap " : "DMP_HOSTILE_BACKEND=shm ") : "", seed);
  }
  for (int i = 0; i < sc.n; i++)
    unlink(sc.procs[i].log);
  ts_cleanup();
  return ok;
}

/* The seeds of a test: DMP_HOSTILE_SEED replays one, DMP_HOSTILE_SEEDS
 * runs that many from the test's base. */
static void sweep(enum hk_kind kind, uint32_t targets, uint64_t base)
{
  const char *one = getenv("DMP_HOSTILE_SEED");
  const char *many = getenv("DMP_HOSTILE_SEEDS");
  uint64_t first = one ? strtoull(one, NULL, 10) : base;
  uint64_t n = one ? 1 : many ? strtoull(many, NULL, 10) : DEFAULT_SEEDS;
  const char *backend = getenv("DMP_HOSTILE_BACKEND");
  cr_assert(!backend || backend_forced(), "DMP_HOSTILE_BACKEND must be 'shm' or 'mmap', not '%s'", backend);
  uint64_t failed = 0, first_failed = 0;
  timed_calls = 0;
  worst_over_ms = -1e18;
  snprintf(worst_over, sizeof worst_over, "-");
  for (uint64_t i = 0; i < n; i++) {
    if (!run_scenario(kind, targets, first + i) && failed++ == 0)
      first_failed = first + i;
  }
  printf("hostile: %s stream, targets %#x: %" PRIu64 " timed calls, worst overrun %.1f ms (bound: timeout + %d ms): %s\n",
         kind_names[kind], targets, timed_calls, timed_calls ? worst_over_ms : 0.0, ts_slack_ms(), worst_over);
  fflush(stdout);
  cr_expect_eq(failed, 0, "%s stream, targets %#x: %" PRIu64 " of %" PRIu64 " seeds failed (first: seed %" PRIu64
               " on %s; replay with DMP_HOSTILE_SEED)",
               kind_names[kind], targets, failed, n, first_failed, mmap_of(first_failed) ? "mmap" : "shm");
}

/* ---- Layer 0 ---------------------------------------------------------------------- */

/* The call-bound check can fail: with a slack below zero even calls that
 * return at once are over their bound (a non-waiting close: 0 + slack), so
 * a scenario that passes otherwise must fail. The roles inherit the
 * environment, as they do DMP_FAULT_SLACK_MS in a real run. */
Test(hostile, the_call_bound_check_fails_a_role_over_its_slack)
{
  setenv("DMP_FAULT_SLACK_MS", "-1000", 1);
  fprintf(stderr, "hostile: self-test of the call-bound check: the next scenario must FAIL (slack -1000 ms)\n");
  bool ok = run_scenario(HK_RAW, HT_SLOTS, 1400);
  unsetenv("DMP_FAULT_SLACK_MS");
  cr_expect(!ok, "a scenario passed although every call was over a slack of -1000 ms");
  cr_expect_gt(timed_calls, 0, "no role reported a timed call");
}

Test(hostile, raw_survives_scribbles_everywhere)
{
  sweep(HK_RAW, HT_ALL & ~HT_FRAMES, 1000);
}

Test(hostile, raw_survives_header_scribbles)
{
  sweep(HK_RAW, HT_HEADER, 1100);
}

Test(hostile, raw_survives_control_line_scribbles)
{
  sweep(HK_RAW, HT_CONTROL, 1200);
}

Test(hostile, raw_survives_consumer_table_scribbles)
{
  sweep(HK_RAW, HT_TABLE, 1300);
}

Test(hostile, raw_survives_slot_scribbles)
{
  sweep(HK_RAW, HT_SLOTS, 1400);
}

Test(hostile, raw_survives_counters_scribbles)
{
  sweep(HK_RAW, HT_COUNTERS, 1500);
}

/* ---- Layer 1 ---------------------------------------------------------------------- */

Test(hostile, compact_frames_survive_scribbles_everywhere)
{
  sweep(HK_COMPACT, HT_ALL, 2000);
}

Test(hostile, compact_frames_survive_frame_header_scribbles)
{
  sweep(HK_COMPACT, HT_FRAMES, 2100);
}

Test(hostile, aligned_frames_survive_scribbles_everywhere)
{
  sweep(HK_ALIGNED, HT_ALL, 3000);
}

Test(hostile, aligned_frames_survive_frame_header_scribbles)
{
  sweep(HK_ALIGNED, HT_FRAMES, 3100);
}

Test(hostile, framed_survives_cursor_and_table_scribbles)
{
  sweep(HK_COMPACT, HT_CONTROL | HT_TABLE, 3200);
}

/* ---- multi-producer rings (issue 18) -------------------------------------------------- */

/* Two producer processes on one DMP_RING_MULTI_PRODUCER ring: the
 * producer table (intents, states, the claim counter, the tombstone count)
 * and the per-slot markers are scribbled too. Nobody crashes or hangs,
 * every call returns within its bound, errors are clean. */
Test(hostile, multi_producer_survives_producer_table_scribbles)
{
  sweep(HK_MP, HT_PRODUCERS, 5000);
}

Test(hostile, multi_producer_survives_marker_scribbles)
{
  sweep(HK_MP, HT_MARKERS, 5100);
}

Test(hostile, multi_producer_survives_scribbles_everywhere)
{
  sweep(HK_MP, (HT_ALL & ~HT_FRAMES) | HT_PRODUCERS | HT_MARKERS, 5200);
}

/* ---- typed msgpack ------------------------------------------------------------------- */

Test(hostile, typed_msgpack_survives_scribbles_everywhere)
{
  sweep(HK_TYPED, HT_ALL, 4000);
}

Test(hostile, typed_msgpack_survives_payload_and_frame_scribbles)
{
  sweep(HK_TYPED, HT_SLOTS | HT_FRAMES, 4100);
}

/* ---- byte rings (DMP_RING_BYTES) ------------------------------------------------------ */

/* Records of a byte ring under scribbles: their headers (HT_FRAMES hits
 * length, kind, reserved and seq), their payload, and everything else.
 * Consumers report the bad headers (-DMP_E_CORRUPT), resync and go on;
 * nobody crashes, hangs or reads outside the ring (ASan runs). */
Test(hostile, byte_ring_survives_record_header_scribbles)
{
  sweep(HK_BYTES, HT_SLOTS | HT_FRAMES, 6000);
}

Test(hostile, byte_ring_survives_scribbles_everywhere)
{
  sweep(HK_BYTES, HT_ALL, 6100);
}

/* ---- framed byte rings (MYELON_FRAME_BYTES) -------------------------------------------- */

/* Layer 1 on a byte ring: one record per message, the frame header inside
 * the record. The scribbler hits both headers (record: length, kind,
 * reserved, seq; frame: len, kind, flags, frag, msg_id, total), the
 * payloads, and everything else, while the producer publishes with every
 * call (publish, managed, try, batch, zero-copy claim/commit/abort) and the
 * consumers receive with every call (recv, recv_copy, recv_into, recv_batch;
 * gating and non-gating). Consumers report -MYELON_E_MALFORMED / TOOBIG,
 * resync and go on; nobody crashes, hangs or reads outside the ring (ASan
 * runs). */
Test(hostile, framed_byte_ring_survives_record_and_frame_header_scribbles)
{
  sweep(HK_FBYTES, HT_SLOTS | HT_FRAMES, 6200);
}

Test(hostile, framed_byte_ring_survives_scribbles_everywhere)
{
  sweep(HK_FBYTES, HT_ALL, 6300);
}
