/* The command-line convention of the four installed tools (tool_cli.h,
 * each tool's man page, EXIT STATUS): the real binaries, run as a user runs
 * them. 0 ok, 1 runtime failure, 2 usage error (3: damage found, suites
 * journal and counters); --help and --version everywhere; strict decimal
 * numbers with a non-empty reason for every refusal; "no such ring"; the
 * demos refuse a bad value before they start any process. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

#define RUN_MS 20000 /* generous: a loaded 2-CPU host */

static void fini(void)
{
  ts_kill_children();
  ts_cleanup();
}

TestSuite(cli, .fini = fini, .timeout = 120);

struct result {
  int status;
  char out[8192], err[8192];
};

static void slurp(const char *path, char *buf, size_t len)
{
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
}

/* Run tool `var` (its path in that environment variable) with the
 * NULL-terminated arguments; stdout and stderr captured. */
static void run(struct result *r, const char *var, ...)
{
  char *argv[32];
  int n = 0;
  argv[n++] = (char *)ts_helper(var);
  va_list ap;
  va_start(ap, var);
  for (const char *a; n < 31 && (a = va_arg(ap, const char *));)
    argv[n++] = (char *)a;
  va_end(ap);
  argv[n] = NULL;
  const char *o = ts_tmp_path("out"), *e = ts_tmp_path("err");
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(ge(int, pid, 0), "fork: %s", strerror(errno));
  if (pid == 0) {
    int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
      _exit(126);
    execv(argv[0], argv);
    _exit(127);
  }
  r->status = ts_wait(pid, ts_timeout_ms(RUN_MS));
  cr_assert(ne(int, r->status, -1), "%s %s did not finish within %d ms", var, n > 1 ? argv[1] : "",
            ts_timeout_ms(RUN_MS));
  slurp(o, r->out, sizeof r->out);
  slurp(e, r->err, sizeof r->err);
}

#define EXPECT(r, want, what)                                                                                       \
  cr_assert(eq(int, (r)->status, want), "%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, (r)->status, want, \
            (r)->out, (r)->err)

static void has(const char *text, const char *needle, const char *what)
{
  cr_assert(strstr(text, needle) != NULL, "%s: '%s' not in:\n%s", what, needle, text);
}

/* A refused value: exit 2, one line naming the option and the value with a
 * non-empty reason after it, and the --help hint; nothing on stdout. */
static void expect_refused(const struct result *r, const char *prog, const char *opt, const char *value)
{
  EXPECT(r, 2, opt);
  char want[256];
  snprintf(want, sizeof want, "%s: invalid value for %s: '%s': ", prog, opt, value);
  has(r->err, want, opt);
  const char *why = strstr(r->err, want) + strlen(want);
  cr_assert(why[0] != '\n' && why[0] != '\0', "%s '%s': empty reason:\n%s", opt, value, r->err);
  snprintf(want, sizeof want, "Try '%s --help'.", prog);
  has(r->err, want, opt);
  cr_assert(eq(str, (char *)r->out, ""), "%s '%s' printed on stdout:\n%s", opt, value, r->out);
}

static const struct {
  const char *var, *prog, *version;
} tools[] = {
    {"DMP_STAT", "dmp-stat", "dmp-stat (disruptor_mp) "},
    {"DMP_DEMO", "dmp-demo", "dmp-demo (disruptor_mp) "},
    {"MYELON_DEMO", "myelon-demo", "myelon-demo (libmyelon) "},
    {"MYELON_JOURNAL", "myelon-journal", "myelon-journal (libmyelon "},
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

Test(cli, every_tool_prints_its_version_and_exits_0)
{
  struct result r;
  for (size_t i = 0; i < N_TOOLS; i++) {
    run(&r, tools[i].var, "--version", NULL);
    EXPECT(&r, 0, tools[i].prog);
    has(r.out, tools[i].version, tools[i].prog);
    has(r.out, "0.", tools[i].prog);
    cr_assert(eq(str, r.err, ""), "%s --version wrote to stderr: %s", tools[i].prog, r.err);
  }
}

Test(cli, every_tool_prints_help_with_the_exit_codes_on_stdout_and_exits_0)
{
  struct result r;
  for (size_t i = 0; i < N_TOOLS; i++) {
    run(&r, tools[i].var, "--help", NULL);
    EXPECT(&r, 0, tools[i].prog);
    char want[64];
    snprintf(want, sizeof want, "usage: %s", tools[i].prog);
    has(r.out, want, tools[i].prog);
    has(r.out, "2 ", tools[i].prog);
    has(r.out, "usage", tools[i].prog);
  }
}

Test(cli, every_tool_refuses_an_unknown_option_with_exit_2)
{
  struct result r;
  for (size_t i = 0; i < N_TOOLS; i++) {
    run(&r, tools[i].var, "--no-such-option", NULL);
    EXPECT(&r, 2, tools[i].prog);
    char want[96];
    snprintf(want, sizeof want, "%s: unknown option '--no-such-option'", tools[i].prog);
    has(r.err, want, tools[i].prog);
  }
}

Test(cli, numbers_are_strict_decimals_in_every_tool)
{
  static const char *const bad[] = {"x", "", "-1", "+1", "0x10", "1e3", "10x", " 1", "1 ", "18446744073709551616"};
  struct result r;
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    run(&r, "DMP_STAT", "--watch", "--count", bad[k], NULL);
    expect_refused(&r, "dmp-stat", "--count", bad[k]);
    run(&r, "DMP_DEMO", "--events", bad[k], NULL);
    expect_refused(&r, "dmp-demo", "--events", bad[k]);
    run(&r, "MYELON_DEMO", "--workers", bad[k], NULL);
    expect_refused(&r, "myelon-demo", "--workers", bad[k]);
    run(&r, "MYELON_JOURNAL", "cat", "--count", bad[k], "j", NULL);
    expect_refused(&r, "myelon-journal cat", "--count", bad[k]);
  }
}

Test(cli, zero_is_refused_where_it_means_nothing)
{
  struct result r;
  run(&r, "DMP_STAT", "--watch", "0", NULL);
  expect_refused(&r, "dmp-stat", "--watch", "0");
  run(&r, "DMP_STAT", "--watch=0", NULL);
  expect_refused(&r, "dmp-stat", "--watch", "0");
  run(&r, "DMP_STAT", "--watch", "--count", "0", NULL);
  expect_refused(&r, "dmp-stat", "--count", "0");
  run(&r, "DMP_DEMO", "--consumers", "0", NULL);
  expect_refused(&r, "dmp-demo", "--consumers", "0");
  run(&r, "DMP_DEMO", "--timeout", "0", NULL);
  expect_refused(&r, "dmp-demo", "--timeout", "0");
  run(&r, "MYELON_DEMO", "--steps", "0", NULL);
  expect_refused(&r, "myelon-demo", "--steps", "0");
  run(&r, "MYELON_DEMO", "--timeout-ms", "0", NULL);
  expect_refused(&r, "myelon-demo", "--timeout-ms", "0");
  run(&r, "MYELON_JOURNAL", "record", "--ring", "r", "--sync-interval", "0", "j", NULL);
  expect_refused(&r, "myelon-journal record", "--sync-interval", "0");
}

Test(cli, myelon_journal_replay_refuses_speed_without_original_pacing)
{
  struct result r;
  /* Refused before anything is opened: neither the ring nor the journal exists. */
  run(&r, "MYELON_JOURNAL", "replay", "--ring", "r", "--speed", "10", "j", NULL);
  EXPECT(&r, 2, "--speed without --pace");
  has(r.err, "--speed applies only with --pace original", "the reason");
  run(&r, "MYELON_JOURNAL", "replay", "--ring", "r", "--pace", "100", "--speed", "10", "j", NULL);
  EXPECT(&r, 2, "--speed with --pace RATE");
  /* With original pacing it is taken: the run then fails on the missing journal (1), not on usage (2). */
  run(&r, "MYELON_JOURNAL", "replay", "--ring", "r", "--pace", "original", "--speed", "10",
      ts_tmp_path("nojournal"), NULL);
  EXPECT(&r, 1, "--speed with --pace original");
}

Test(cli, myelon_demo_says_why_a_worker_count_is_refused)
{
  struct result r;
  run(&r, "MYELON_DEMO", "--workers", "x", NULL);
  expect_refused(&r, "myelon-demo", "--workers", "x");
  has(r.err, "2..64", "the accepted range");
  run(&r, "MYELON_DEMO", "--workers", "65", NULL);
  expect_refused(&r, "myelon-demo", "--workers", "65");
}

/* Every file in a directory, as one string (to compare before/after). */
static void list_dir(const char *path, char *buf, size_t len)
{
  buf[0] = '\0';
  DIR *d = opendir(path);
  if (!d)
    return;
  size_t used = 0;
  for (struct dirent *e; (e = readdir(d)) && used < len;)
    used += (size_t)snprintf(buf + used, len - used, "%s\n", e->d_name);
  closedir(d);
}

Test(cli, dmp_demo_refuses_a_bad_capacity_before_starting_anything)
{
  static char before[1 << 16], after[1 << 16];
  struct result r;
  list_dir("/dev/shm", before, sizeof before);
  run(&r, "DMP_DEMO", "--capacity", "1000", "--events", "10", NULL);
  list_dir("/dev/shm", after, sizeof after);
  expect_refused(&r, "dmp-demo", "--capacity", "1000");
  has(r.err, "power of two", "why 1000 is refused");
  /* Nothing printed on stdout (the run's header comes before the children
   * start) and no segment appeared meanwhile (other suites may run in
   * parallel, so only a dmp-demo segment counts). */
  cr_assert(strstr(after, "dmp-demo") == NULL || strstr(before, "dmp-demo") != NULL, "a segment appeared:\n%s",
            after);
  run(&r, "DMP_DEMO", "--capacity", "0", NULL);
  expect_refused(&r, "dmp-demo", "--capacity", "0");
  run(&r, "DMP_DEMO", "--capacity", "016", "--events", "x", NULL); /* 016 is sixteen */
  expect_refused(&r, "dmp-demo", "--events", "x");
}

Test(cli, dmp_stat_says_no_such_ring_and_exits_1)
{
  struct result r;
  const char *name = ts_shm_name("nosuch");
  run(&r, "DMP_STAT", name, NULL);
  EXPECT(&r, 1, "a ring that does not exist");
  has(r.err, "no such ring", "dmp-stat NAME");
  cr_assert(strstr(r.err, "vanished") == NULL, "%s", r.err);
  run(&r, "DMP_STAT", "--file", ts_tmp_path("nosuch.ring"), NULL);
  EXPECT(&r, 1, "a ring file that does not exist");
  has(r.err, "no such ring", "dmp-stat --file");
  /* "--watch NAME" watches NAME: a typo ends after the first refresh
   * instead of watching forever (the run is bounded by run()). */
  run(&r, "DMP_STAT", "--watch", name, NULL);
  EXPECT(&r, 1, "--watch on a ring that does not exist");
  has(r.err, "no such ring", "dmp-stat --watch NAME");
}

/* --gc NAME on a ring that does not exist: the plain run's "no such ring"
 * and exit 1, not "gone" and 0 (which a typo in a cleanup script hid);
 * the same with --dry-run, --json and --file. */
Test(cli, dmp_stat_gc_says_no_such_ring_and_exits_1)
{
  struct result r;
  const char *name = ts_shm_name("nosuchgc");
  run(&r, "DMP_STAT", "--gc", name, NULL);
  EXPECT(&r, 1, "--gc on a ring that does not exist");
  has(r.err, "no such ring", "dmp-stat --gc NAME");
  cr_assert(strstr(r.out, "gone") == NULL, "--gc NAME printed 'gone':\n%s", r.out);
  run(&r, "DMP_STAT", "--gc", "--dry-run", name, NULL);
  EXPECT(&r, 1, "--gc --dry-run on a ring that does not exist");
  has(r.err, "no such ring", "dmp-stat --gc --dry-run NAME");
  run(&r, "DMP_STAT", "--gc", "--json", name, NULL);
  EXPECT(&r, 1, "--gc --json on a ring that does not exist");
  has(r.out, "\"result\":\"error\",\"error\":\"no such ring\"", "dmp-stat --gc --json NAME");
  run(&r, "DMP_STAT", "--gc", "--file", ts_tmp_path("nosuch.ring"), NULL);
  EXPECT(&r, 1, "--gc on a ring file that does not exist");
  has(r.err, "no such ring", "dmp-stat --gc --file");
}

/* myelon-bridge (built where libzmq is; CI builds it) follows the same
 * convention: --version, --help, exit 2 for an unknown option or a number
 * that is not a strict decimal, and "no such ring" (exit 1) when the ring
 * an egress should carry does not exist. */
Test(cli, myelon_bridge_follows_the_convention)
{
  if (!getenv("MYELON_BRIDGE")) {
    cr_assert(getenv("CI") == NULL || strcmp(getenv("CI"), "true") != 0, "CI builds myelon-bridge (libzmq3-dev)");
    cr_skip_test("myelon-bridge is not built here (no libzmq)");
  }
  struct result r;
  run(&r, "MYELON_BRIDGE", "--version", NULL);
  EXPECT(&r, 0, "myelon-bridge --version");
  has(r.out, "myelon-bridge (libmyelon 0.", "myelon-bridge --version");
  run(&r, "MYELON_BRIDGE", "--help", NULL);
  EXPECT(&r, 0, "myelon-bridge --help");
  has(r.out, "usage: myelon-bridge", "myelon-bridge --help");
  has(r.out, "2 usage", "myelon-bridge --help names the exit codes");
  run(&r, "MYELON_BRIDGE", "--no-such-option", NULL);
  EXPECT(&r, 2, "myelon-bridge --no-such-option");
  has(r.err, "myelon-bridge: unknown option '--no-such-option'", "myelon-bridge");
  static const char *const bad[] = {"x", "", "-1", "+1", "0x10", "1e3", "10x", " 1", "1 ", "18446744073709551616", "0"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    run(&r, "MYELON_BRIDGE", "egress", "--ring", "r", "--connect", "ipc:///nonexistent/x", "--window", bad[k], NULL);
    expect_refused(&r, "myelon-bridge egress", "--window", bad[k]);
  }
  const char *name = ts_shm_name("nosuchbr");
  char ep[512];
  snprintf(ep, sizeof ep, "ipc://%s", ts_tmp_path("br.sock"));
  run(&r, "MYELON_BRIDGE", "egress", "--ring", name, "--connect", ep, "--attach-timeout", "50ms", NULL);
  EXPECT(&r, 1, "myelon-bridge egress on a ring that does not exist");
  has(r.err, "no such ring", "myelon-bridge egress --ring NAME");
}

/* myelon-demo removes the ring directory it made for the mmap backend,
 * never one it was given (--dir, which it passes to its workers): it
 * removed an empty directory of the caller's. */
Test(cli, myelon_demo_leaves_a_given_directory_in_place)
{
  const char *dir = ts_tmp_path("demo-dir");
  cr_assert(eq(int, mkdir(dir, 0700), 0), "mkdir %s: %s", dir, strerror(errno));
  struct result r;
  run(&r, "MYELON_DEMO", "--backend", "mmap", "--dir", dir, "--workers", "2", "--steps", "20", NULL);
  EXPECT(&r, 0, "myelon-demo --backend mmap --dir DIR");
  struct stat st;
  cr_assert(eq(int, stat(dir, &st), 0), "myelon-demo removed the directory it was given (%s)", dir);
  rmdir(dir);
}

Test(cli, durations_take_a_unit)
{
  struct result r;
  const char *dir = ts_tmp_path("emptydir");
  cr_assert(eq(int, mkdir(dir, 0700), 0));
  run(&r, "DMP_STAT", "--watch", "20ms", "--count", "2", "--dir", dir, NULL);
  EXPECT(&r, 1, "nothing found, twice (the interval with a unit was accepted)");
  has(r.out, "every 0.02 s", "the interval");
  run(&r, "DMP_STAT", "--watch=1.5s", "--count", "1", "--dir", dir, NULL);
  EXPECT(&r, 1, "--watch=1.5s");
  run(&r, "DMP_STAT", "--watch=2ks", NULL);
  expect_refused(&r, "dmp-stat", "--watch", "2ks");
  run(&r, "DMP_DEMO", "--timeout", "5d", NULL);
  expect_refused(&r, "dmp-demo", "--timeout", "5d");
  rmdir(dir);
}

Test(cli, myelon_journal_exit_codes)
{
  struct result r;
  run(&r, "MYELON_JOURNAL", NULL);
  EXPECT(&r, 2, "no command");
  run(&r, "MYELON_JOURNAL", "frobnicate", NULL);
  EXPECT(&r, 2, "unknown command");
  has(r.err, "unknown command 'frobnicate'", "named");
  const char *cmds[] = {"record", "replay", "cat", "verify", "info"};
  for (int k = 0; k < 5; k++) {
    run(&r, "MYELON_JOURNAL", cmds[k], "--help", NULL);
    EXPECT(&r, 0, cmds[k]);
    run(&r, "MYELON_JOURNAL", cmds[k], "--bogus", NULL);
    EXPECT(&r, 2, cmds[k]);
  }
  run(&r, "MYELON_JOURNAL", "verify", ts_tmp_path("nojournal"), NULL);
  EXPECT(&r, 1, "a journal that does not exist: a runtime failure");
  has(r.err, "no journal", "the reason");
  run(&r, "MYELON_JOURNAL", "record", "--ring", ts_shm_name("nosuch"), ts_tmp_path("j"), NULL);
  EXPECT(&r, 1, "a ring that does not exist");
  has(r.err, "no such ring", "myelon-journal record --ring NAME");
  run(&r, "MYELON_JOURNAL", "record", "--wait", "50ms", "--ring", ts_shm_name("nosuch"), ts_tmp_path("j"), NULL);
  EXPECT(&r, 1, "a ring that does not appear within --wait");
  has(r.err, "no such ring", "myelon-journal record --wait 50ms --ring NAME");
}
