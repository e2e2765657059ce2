/*
 * dmp_role: the helper executable of the multiprocess tests. Each process
 * plays one role against one ring and checks every byte it sees:
 *
 *   dmp_role producer --backend shm|mmap --name N --capacity C --slot S --count K [...]
 *   dmp_role consumer --backend shm|mmap --name N --id ID --count K [...]
 *
 * The producer writes event seq = 0, 1, 2, ... in the layout of mp_payload.h;
 * a consumer requires strictly consecutive sequences from its expected first
 * one and the exact payload of each. The exit code says what went wrong
 * (MP_EXIT_TABLE) and the first mismatch is printed to stderr. Every wait is
 * bounded by --timeout-ms; the process also dies with its parent (the test).
 * See the usage text below for every option.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "role.h"

const char *role_name = "dmp_role";

/* ------------------------------------------------------ shared helpers */

int fail_msg(int code, const char *fmt, ...)
{
  char buf[512];
  int n = snprintf(buf, sizeof buf, "[%s] ", role_name);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = strlen(buf);
  buf[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, buf, len);
  (void)w; /* nothing better to do if stderr is gone */
  return code;
}

int64_t remaining_ns(int64_t deadline)
{
  int64_t left = deadline - ts_now_ns();
  return left > 0 ? left : 0;
}

void sleep_us(int64_t us)
{
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int touch(const char *path)
{
  if (!path)
    return 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    FAIL(MP_EX_IO, "cannot create %s: %s", path, strerror(errno));
  close(fd);
  return 0;
}

int write_report(const char *path, const char *fmt, ...)
{
  if (!path)
    return 0;
  FILE *f = fopen(path, "w");
  if (!f)
    FAIL(MP_EX_IO, "cannot write %s: %s", path, strerror(errno));
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  return fclose(f) == 0 ? 0 : MP_EX_IO;
}

/* ---------------------------------------------------------------- options */

static int parse_wait(const char *s, struct dmp_wait_strategy *w)
{
  memset(w, 0, sizeof *w);
  if (strcmp(s, "block") == 0)
    w->kind = DMP_WAIT_BLOCK;
  else if (strcmp(s, "spin") == 0)
    w->kind = DMP_WAIT_SPIN;
  else if (strcmp(s, "yield") == 0)
    w->kind = DMP_WAIT_YIELD;
  else if (strcmp(s, "sleep") == 0)
    w->kind = DMP_WAIT_SLEEP;
  else
    return -1;
  return 0;
}

static int parse_enum(const char *s, const char *const *names, int n)
{
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0)
      return i;
  return -1;
}

static int64_t num(const char *s, bool *ok)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 0);
  if (errno || *end || end == s)
    *ok = false;
  return v;
}

enum {
  O_BACKEND = 256, O_NAME, O_TIMEOUT, O_WAIT, O_REPORT, O_READY, O_COUNT, O_SLOT, O_CAPACITY,
  O_ALIGN, O_WAIT_CONSUMERS, O_RENDEZVOUS, O_WAIT_IDS, O_CREATED, O_READY_AT, O_DELAY, O_HOLD,
  O_PACE_EVERY, O_PACE_US, O_BATCH, O_PUBLISH_EVERY, O_CLAIM, O_NO_DRAIN, O_NO_WAKEUPS, O_ID,
  O_FIRST, O_START, O_DURABLE, O_FORGET, O_EXPECT_OD, O_UNTIL_OD, O_ATTACH_TIMEOUT, O_OD_WAIT,
  O_SLOW_EVERY, O_SLOW_US, O_API, O_ATTACH_FILE, O_LAST,
  O_SETTLE,
};

static const struct option long_opts[] = {
  {"backend", required_argument, 0, O_BACKEND},
  {"name", required_argument, 0, O_NAME},
  {"timeout-ms", required_argument, 0, O_TIMEOUT},
  {"wait", required_argument, 0, O_WAIT},
  {"report-file", required_argument, 0, O_REPORT},
  {"ready-file", required_argument, 0, O_READY},
  {"count", required_argument, 0, O_COUNT},
  {"slot", required_argument, 0, O_SLOT},
  {"capacity", required_argument, 0, O_CAPACITY},
  {"align", required_argument, 0, O_ALIGN},
  {"wait-consumers", required_argument, 0, O_WAIT_CONSUMERS},
  {"rendezvous", required_argument, 0, O_RENDEZVOUS},
  {"wait-ids", required_argument, 0, O_WAIT_IDS},
  {"created-file", required_argument, 0, O_CREATED},
  {"ready-at", required_argument, 0, O_READY_AT},
  {"delay-ms", required_argument, 0, O_DELAY},
  {"hold-ms", required_argument, 0, O_HOLD},
  {"pace-every", required_argument, 0, O_PACE_EVERY},
  {"pace-us", required_argument, 0, O_PACE_US},
  {"batch", required_argument, 0, O_BATCH},
  {"publish-every", required_argument, 0, O_PUBLISH_EVERY},
  {"claim", required_argument, 0, O_CLAIM},
  {"no-drain", no_argument, 0, O_NO_DRAIN},
  {"no-wakeups", no_argument, 0, O_NO_WAKEUPS},
  {"id", required_argument, 0, O_ID},
  {"first", required_argument, 0, O_FIRST},
  {"start", required_argument, 0, O_START},
  {"durable", no_argument, 0, O_DURABLE},
  {"forget", no_argument, 0, O_FORGET},
  {"expect-ownerdead", no_argument, 0, O_EXPECT_OD},
  {"until-ownerdead", no_argument, 0, O_UNTIL_OD},
  {"attach-timeout-ms", required_argument, 0, O_ATTACH_TIMEOUT},
  {"ownerdead-wait-ms", required_argument, 0, O_OD_WAIT},
  {"slow-every", required_argument, 0, O_SLOW_EVERY},
  {"slow-us", required_argument, 0, O_SLOW_US},
  {"api", required_argument, 0, O_API},
  {"attach-file", required_argument, 0, O_ATTACH_FILE},
  {"last", required_argument, 0, O_LAST},
  {"settle-us", required_argument, 0, O_SETTLE},
  {0, 0, 0, 0},
};

static const char usage[] =
  "usage: dmp_role producer|consumer --backend shm|mmap --name NAME [options]\n"
  " common:   --count K --slot BYTES --timeout-ms MS (default 30000) --wait block|sleep|yield|spin\n"
  "           --report-file PATH --ready-file PATH\n"
  " producer: --capacity C [--align A] [--wait-consumers N] [--rendezvous N] [--wait-ids a,b]\n"
  "           [--created-file PATH] [--ready-at SEQ] [--delay-ms MS] [--hold-ms MS]\n"
  "           [--pace-every N --pace-us US] [--batch MAXN] [--publish-every K]\n"
  "           [--claim timeout|try|copy|trycopy] [--no-drain] [--no-wakeups]\n"
  " consumer: --id ID [--first SEQ|any] [--last SEQ] [--start latest|oldest] [--durable]\n"
  "           [--forget]\n"
  "           [--attach-timeout-ms MS (0: plain attach)] [--attach-file PATH]\n"
  "           [--api peek|peekt|process|copy] [--slow-every N --slow-us US] [--settle-us US]\n"
  "           [--expect-ownerdead [--ownerdead-wait-ms MS]] [--until-ownerdead] [--capacity C]\n";

static int apply_opt(struct opts *o, int c, const char *arg)
{
  static const char *const backends[] = {"shm", "mmap"};
  static const char *const claims[] = {"timeout", "try", "copy", "trycopy"};
  static const char *const apis[] = {"peek", "peekt", "process", "copy"};
  static const char *const starts[] = {"latest", "oldest"};
  bool ok = true;
  int e;
  switch (c) {
  case O_BACKEND:
    if ((e = parse_enum(arg, backends, 2)) < 0)
      return -1;
    o->backend = e == 0 ? DMP_BACKEND_SHM : DMP_BACKEND_MMAP;
    break;
  case O_NAME: o->name = arg; break;
  case O_TIMEOUT: o->timeout_ms = num(arg, &ok); break;
  case O_WAIT: ok = parse_wait(arg, &o->wait) == 0; break;
  case O_REPORT: o->report_file = arg; break;
  case O_READY: o->ready_file = arg; break;
  case O_COUNT: o->count = num(arg, &ok); break;
  case O_SLOT: o->slot = (uint32_t)num(arg, &ok); break;
  case O_CAPACITY: o->capacity = (uint64_t)num(arg, &ok); break;
  case O_ALIGN: o->align = (uint32_t)num(arg, &ok); break;
  case O_WAIT_CONSUMERS: o->wait_consumers = (uint32_t)num(arg, &ok); break;
  case O_RENDEZVOUS: o->rendezvous = (uint32_t)num(arg, &ok); break;
  case O_WAIT_IDS: o->wait_ids = strdup(arg); break;
  case O_CREATED: o->created_file = arg; break;
  case O_READY_AT: o->ready_at = num(arg, &ok); break;
  case O_DELAY: o->delay_ms = num(arg, &ok); break;
  case O_HOLD: o->hold_ms = num(arg, &ok); break;
  case O_PACE_EVERY: o->pace_every = num(arg, &ok); break;
  case O_PACE_US: o->pace_us = num(arg, &ok); break;
  case O_BATCH: o->batch = (uint32_t)num(arg, &ok); break;
  case O_PUBLISH_EVERY: o->publish_every = (uint32_t)num(arg, &ok); break;
  case O_CLAIM:
    if ((e = parse_enum(arg, claims, 4)) < 0)
      return -1;
    o->claim = (enum claim_mode)e;
    break;
  case O_NO_DRAIN: o->no_drain = true; break;
  case O_NO_WAKEUPS: o->no_wakeups = true; break;
  case O_ID: o->id = arg; break;
  case O_FIRST: o->first = strcmp(arg, "any") == 0 ? -1 : num(arg, &ok); break;
  case O_START:
    if ((e = parse_enum(arg, starts, 2)) < 0)
      return -1;
    o->start = e == 0 ? DMP_START_LATEST : DMP_START_OLDEST;
    break;
  case O_DURABLE: o->durable = true; break;
  case O_FORGET: o->forget = true; break;
  case O_EXPECT_OD: o->expect_ownerdead = true; break;
  case O_UNTIL_OD: o->until_ownerdead = true; break;
  case O_ATTACH_TIMEOUT: o->attach_timeout_ms = num(arg, &ok); break;
  case O_OD_WAIT: o->ownerdead_wait_ms = num(arg, &ok); break;
  case O_SLOW_EVERY: o->slow_every = num(arg, &ok); break;
  case O_SLOW_US: o->slow_us = num(arg, &ok); break;
  case O_API:
    if ((e = parse_enum(arg, apis, 4)) < 0)
      return -1;
    o->api = (enum read_api)e;
    break;
  case O_ATTACH_FILE: o->attach_file = arg; break;
  case O_LAST: o->last = num(arg, &ok); break;
  case O_SETTLE: o->settle_us = num(arg, &ok); break;
  default: return -1;
  }
  return ok ? 0 : -1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
  memset(o, 0, sizeof *o);
  o->timeout_ms = 30000;
  o->attach_timeout_ms = -2; /* unset: defaults to timeout_ms */
  o->ownerdead_wait_ms = 5000;
  o->last = -1;
  if (argc < 2)
    return -1;
  if (strcmp(argv[1], "producer") == 0)
    o->producer = true;
  else if (strcmp(argv[1], "consumer") != 0)
    return -1;
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1)
    if (apply_opt(o, c, optarg) < 0)
      return -1;
  if (optind != argc || !o->name || o->timeout_ms <= 0)
    return -1;
  if (o->attach_timeout_ms == -2)
    o->attach_timeout_ms = o->timeout_ms;
  if (o->producer)
    return o->capacity && o->slot >= MP_MIN_SLOT && o->count >= 0 ? 0 : -1;
  return o->id && o->count >= 0 && (o->count > 0 || o->last >= 0 || o->until_ownerdead) ? 0 : -1;
}

int main(int argc, char **argv)
{
  /* Die with the test process, so a killed test leaves no role behind. */
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    return MP_EX_SETUP;
  struct opts o;
  if (parse_opts(argc, argv, &o) < 0) {
    fputs(usage, stderr);
    return MP_EX_USAGE;
  }
  static char label[64];
  snprintf(label, sizeof label, "dmp_role %s %s", argv[1], o.producer ? o.name : o.id);
  role_name = label;
  int rc = o.producer ? run_producer(&o) : run_consumer(&o);
  free(o.wait_ids);
  return rc;
}
