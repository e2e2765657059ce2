/**
 * @file dmp_demo.c
 * @brief dmp-demo: one producer process broadcasting to N consumer processes
 * through one disruptor_mp ring, with every event checked.
 *
 * The parent process re-executes itself (/proc/self/exe) once as the
 * producer and once per consumer, each with a `--role` argument, then
 * supervises them: every wait is bounded, a failed child gets the others
 * killed, and the segment is removed whatever happens.
 *
 * Each event is one 64-byte slot:
 *
 *   offset  size  field
 *   0       8     seq        ring sequence, 0, 1, 2, ...
 *   8       8     send_ns    CLOCK_MONOTONIC just before publish
 *   16      40    payload    5 words derived from seq
 *   56      8     checksum   mix of the 56 bytes before it
 *
 * Consumers check that sequences are consecutive from 0, that the slot's
 * sequence matches the ring's, and the payload and checksum; they record the
 * one-way latency (send_ns -> read) in a log-linear histogram. Each child
 * sends one fixed-size result record through a pipe; the parent prints the
 * table and exits nonzero if any check failed.
 *
 * Under a saturating producer the ring fills and the latency includes the
 * time an event waits in the ring: it is the latency of a loaded pipeline,
 * not the idle round trip.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#include "tool_cli.h"
#include "tool_clock.h"
#include "tool_hist.h"
#include "tool_parse.h"

#define NS_PER_S INT64_C(1000000000)
#define MAX_CONSUMERS 8u
#define MAX_CAPACITY (UINT64_C(1) << 24) /* 16 M slots of 64 bytes: a 1 GiB segment */
#define STEP_TIMEOUT_NS (10 * NS_PER_S) /* attach, claim, wait: each bounded by this */
#define DRAIN_TIMEOUT_NS (10 * NS_PER_S)
#define RELEASE_EVERY 64u               /* consumer releases at least this often */
#define RESULT_MAGIC UINT32_C(0x444d5052)
#define PAYLOAD_WORDS 5

struct demo_event {
  int64_t seq;
  int64_t send_ns;
  uint64_t payload[PAYLOAD_WORDS];
  uint64_t checksum;
};
_Static_assert(sizeof(struct demo_event) == 64, "one event is one cache line");

DMP_DECLARE_TYPED(demo_event, struct demo_event);

enum role { ROLE_PARENT, ROLE_PRODUCER, ROLE_CONSUMER };

struct opts {
  uint64_t events;
  uint32_t consumers;
  uint64_t capacity;
  enum dmp_backend backend;
  enum dmp_wait_kind wait;
  int64_t timeout_ns; /* whole run, enforced by the parent */
  enum role role;     /* the rest is set by the parent for its children */
  char name[PATH_MAX];
  char id[DMP_ID_MAX + 1];
  int result_fd;
};

/* What a child reports to the parent: one write of a fixed-size record. */
struct demo_result {
  uint32_t magic;
  int32_t status;       /* 0, or the failing call's error code */
  uint64_t events;      /* published (producer) or received (consumer) */
  uint64_t bad;         /* events that failed a check */
  int64_t elapsed_ns;   /* producer: first claim -> last publish;
                           consumer: first send -> last receive */
  uint64_t full;        /* producer: claims that found the ring full */
  uint64_t lat_min, lat_p50, lat_p99, lat_p999, lat_max; /* ns */
  char message[200];    /* first failure, human readable */
};
_Static_assert(sizeof(struct demo_result) <= PIPE_BUF, "one atomic pipe write");

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static uint64_t mix64(uint64_t x)
{
  x += UINT64_C(0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

static uint64_t payload_word(int64_t seq, int i)
{
  return mix64((uint64_t)seq * PAYLOAD_WORDS + (uint64_t)i);
}

static uint64_t event_checksum(const struct demo_event *ev)
{
  uint64_t h = mix64((uint64_t)ev->seq) ^ mix64((uint64_t)ev->send_ns + 1);
  for (int i = 0; i < PAYLOAD_WORDS; i++)
    h = mix64(h ^ ev->payload[i]);
  return h;
}

/* Record a failed call: "what: message (NAME): detail". The thread-local
 * detail is only meaningful after cold-path calls (create, attach). */
static void record_failure(struct demo_result *res, const char *what, int rc, bool detail)
{
  const char *d = detail ? dmp_last_error() : "";
  res->status = rc;
  snprintf(res->message, sizeof res->message, "%s: %s (%s)%s%s", what, dmp_strerror(rc),
           dmp_err_name(rc), *d ? ": " : "", d);
}

static const char *wait_name(enum dmp_wait_kind w)
{
  static const char *const names[] = {"block", "spin", "yield", "sleep"};
  return (unsigned)w < 4 ? names[w] : "?";
}

/* ------------------------------------------------------------------------ */
/* Producer                                                                  */

static void fill_event(struct demo_event *ev, int64_t seq)
{
  ev->seq = seq;
  for (int i = 0; i < PAYLOAD_WORDS; i++)
    ev->payload[i] = payload_word(seq, i);
  ev->send_ns = tool_now_ns();
  ev->checksum = event_checksum(ev);
}

/* Wait (bounded) until every consumer has released the last event, so the
 * consumers finish reading while the ring still has its producer. */
static int drain(struct dmp_producer *p, int64_t last)
{
  int64_t deadline = tool_now_ns() + DRAIN_TIMEOUT_NS;
  while (dmp_producer_min_gating_sequence(p) < last) {
    if (tool_now_ns() > deadline)
      return -ETIMEDOUT;
    tool_sleep_ns(200000);
  }
  return 0;
}

static void run_producer(const struct opts *o, struct demo_result *res)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.capacity = o->capacity;
  demo_event_producer_config(&cfg);
  cfg.wait.kind = o->wait;
  cfg.wait_consumers = o->consumers; /* create() returns once all are attached */
  cfg.wait_timeout_ns = STEP_TIMEOUT_NS;

  struct dmp_producer *p;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0) {
    record_failure(res, "dmp_producer_create", rc, true);
    return;
  }
  int64_t t0 = tool_now_ns();
  for (int64_t seq = 0; seq < (int64_t)o->events; seq++) {
    struct demo_event *ev = NULL;
    rc = demo_event_try_claim(p, &ev);
    if (rc == -EAGAIN) {
      res->full++;
      rc = demo_event_claim_timeout(p, &ev, STEP_TIMEOUT_NS);
    }
    if (rc < 0) {
      record_failure(res, "dmp_producer_claim_timeout", rc, false);
      size_t len = strlen(res->message);
      snprintf(res->message + len, sizeof res->message - len,
               " at sequence %" PRId64 "%s", seq,
               rc == -ETIMEDOUT ? ": the ring stayed full, a consumer stopped reading" : "");
      break;
    }
    fill_event(ev, seq);
    dmp_producer_publish(p);
    res->events++;
  }
  res->elapsed_ns = tool_now_ns() - t0;
  if (res->status == 0 && (rc = drain(p, (int64_t)o->events - 1)) < 0) {
    res->status = rc;
    snprintf(res->message, sizeof res->message,
             "consumers did not read every event within %" PRId64 " s",
             DRAIN_TIMEOUT_NS / NS_PER_S);
  }
  dmp_producer_close(p);
}

/* ------------------------------------------------------------------------ */
/* Consumer                                                                  */

/* Check one event; on the first bad one, say what was wrong. */
static bool check_event(const struct demo_event *ev, int64_t seq, int64_t expect,
                        struct demo_result *res)
{
  const char *what = NULL;
  if (seq != expect)
    what = "ring sequence is not consecutive";
  else if (ev->seq != seq)
    what = "slot holds another sequence";
  else if (ev->checksum != event_checksum(ev))
    what = "checksum mismatch";
  else
    for (int i = 0; i < PAYLOAD_WORDS; i++)
      if (ev->payload[i] != payload_word(seq, i))
        what = "payload mismatch";
  if (what == NULL)
    return true;
  if (res->bad++ == 0)
    snprintf(res->message, sizeof res->message,
             "%s: expected %" PRId64 ", ring seq %" PRId64 ", slot seq %" PRId64, what, expect,
             seq, ev->seq);
  return false;
}

static int consume(struct dmp_consumer *c, const struct opts *o, struct tool_hist *h,
                   struct demo_result *res)
{
  int64_t expect = 0, first_send = 0, last_recv = 0;
  while (expect < (int64_t)o->events) {
    /* Wait (bounded) for the next event, then take every one available
     * without waiting, releasing them in groups. */
    const struct demo_event *ev = NULL;
    int64_t seq;
    int rc = demo_event_peek_timeout(c, &ev, &seq, STEP_TIMEOUT_NS);
    if (rc < 0) {
      record_failure(res, "dmp_consumer_peek_timeout", rc, false);
      size_t len = strlen(res->message);
      snprintf(res->message + len, sizeof res->message - len, " at sequence %" PRId64, expect);
      res->elapsed_ns = last_recv - first_send;
      return rc;
    }
    unsigned batch = 0;
    do {
      last_recv = tool_now_ns();
      if (expect == 0)
        first_send = ev->send_ns;
      int64_t lat = last_recv - ev->send_ns;
      tool_hist_record(h, lat > 0 ? (uint64_t)lat : 0);
      check_event(ev, seq, expect, res);
      expect = seq + 1;
      res->events++;
      if (++batch == RELEASE_EVERY) {
        dmp_consumer_release(c);
        batch = 0;
      }
    } while (expect < (int64_t)o->events && demo_event_try_peek(c, &ev, &seq) == 0);
    dmp_consumer_release(c);
  }
  res->elapsed_ns = last_recv - first_send;
  return 0;
}

static void run_consumer(const struct opts *o, struct demo_result *res)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.id = o->id;
  demo_event_consumer_config(&cfg); /* refuses a ring of another event type */
  cfg.wait.kind = o->wait;

  struct dmp_consumer *c;
  int rc = dmp_consumer_attach_timeout(&cfg, STEP_TIMEOUT_NS, &c);
  if (rc < 0) {
    record_failure(res, "dmp_consumer_attach_timeout", rc, true);
    return;
  }
  struct tool_hist *h = malloc(sizeof *h);
  if (h == NULL) {
    record_failure(res, "malloc", -ENOMEM, false);
    dmp_consumer_close(c);
    return;
  }
  tool_hist_init(h);
  consume(c, o, h, res);
  dmp_consumer_close(c);
  res->lat_min = h->count ? h->min : 0;
  res->lat_p50 = tool_hist_percentile(h, 50);
  res->lat_p99 = tool_hist_percentile(h, 99);
  res->lat_p999 = tool_hist_percentile(h, 99.9);
  res->lat_max = h->max;
  free(h);
}

static int run_child(const struct opts *o)
{
  struct demo_result res;
  memset(&res, 0, sizeof res);
  res.magic = RESULT_MAGIC;
  const char *who = o->role == ROLE_PRODUCER ? "producer" : o->id;
  if (o->role == ROLE_PRODUCER)
    run_producer(o, &res);
  else
    run_consumer(o, &res);
  if (res.status == 0 && res.bad != 0)
    res.status = -EPROTO;
  if (res.message[0] != '\0')
    fprintf(stderr, "dmp-demo[%s]: %s\n", who, res.message);
  if (write(o->result_fd, &res, sizeof res) != (ssize_t)sizeof res)
    fprintf(stderr, "dmp-demo[%s]: cannot report to the parent: %s\n", who, strerror(errno));
  return res.status == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* Parent: spawn, supervise, clean up, report                                */

struct child {
  pid_t pid;
  int fd;   /* read end of its result pipe */
  bool done;
  bool killed; /* by the supervisor */
  int wstatus;
  char label[DMP_ID_MAX + 1];
  struct demo_result res;
};

static pid_t spawn(const struct opts *o, const char *role, const char *id, int *fd_out)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return -1;
  char events[24], consumers[16], capacity[24], fd[16];
  snprintf(events, sizeof events, "%" PRIu64, o->events);
  snprintf(consumers, sizeof consumers, "%" PRIu32, o->consumers);
  snprintf(capacity, sizeof capacity, "%" PRIu64, o->capacity);
  snprintf(fd, sizeof fd, "%d", fds[1]);
  char *argv[] = {"dmp-demo", "--role", (char *)role, "--name", (char *)o->name,
                  "--id", (char *)id, "--events", events, "--consumers", consumers,
                  "--capacity", capacity, "--backend", (char *)dmp_backend_name(o->backend),
                  "--wait", (char *)wait_name(o->wait), "--result-fd", fd, NULL};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    /* Die with the parent, so no child outlives a killed supervisor. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    fcntl(fds[1], F_SETFD, 0); /* keep the write end across exec */
    execv("/proc/self/exe", argv);
    fprintf(stderr, "dmp-demo: cannot exec /proc/self/exe: %s\n", strerror(errno));
    _exit(127);
  }
  int saved = errno;
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    errno = saved;
    return -1;
  }
  *fd_out = fds[0];
  return pid;
}

static bool child_failed(int wstatus)
{
  return !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0;
}

/* Why the supervisor killed the children still running (for the report). */
static const char *kill_reason = "";

static void kill_all(struct child *ch, size_t n, const char *why)
{
  kill_reason = why;
  for (size_t i = 0; i < n; i++)
    if (ch[i].pid > 0 && !ch[i].done && !ch[i].killed) {
      kill(ch[i].pid, SIGKILL);
      ch[i].killed = true;
    }
}

/* Reap every child; on the first failure or at the deadline, kill the rest.
 * Returns false if the deadline passed. */
static bool supervise(struct child *ch, size_t n, int64_t timeout_ns)
{
  int64_t deadline = tool_now_ns() + timeout_ns;
  size_t running = 0;
  bool killed = false, in_time = true;
  for (size_t i = 0; i < n; i++)
    running += ch[i].pid > 0 && !ch[i].done;
  while (running > 0) {
    int st;
    pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid < 0 && errno != EINTR)
      break;
    if (pid > 0) {
      for (size_t i = 0; i < n; i++)
        if (ch[i].pid == pid && !ch[i].done) {
          ch[i].done = true;
          ch[i].wstatus = st;
          running--;
          if (child_failed(st) && !killed) {
            kill_all(ch, n, "another process failed");
            killed = true;
          }
        }
      continue;
    }
    if (!killed && tool_now_ns() > deadline) {
      fprintf(stderr, "dmp-demo: run did not finish within %" PRId64 " s; killing it\n",
              timeout_ns / NS_PER_S);
      kill_all(ch, n, "the run took too long");
      killed = true;
      in_time = false;
    }
    tool_sleep_ns(2000000);
  }
  return in_time;
}

static void collect(struct child *c)
{
  ssize_t r = read(c->fd, &c->res, sizeof c->res);
  if (r != (ssize_t)sizeof c->res || c->res.magic != RESULT_MAGIC) {
    memset(&c->res, 0, sizeof c->res);
    c->res.status = -EPIPE;
    if (WIFSIGNALED(c->wstatus) && c->killed)
      snprintf(c->res.message, sizeof c->res.message, "stopped by dmp-demo: %s", kill_reason);
    else if (WIFSIGNALED(c->wstatus))
      snprintf(c->res.message, sizeof c->res.message, "killed by signal %d (%s)",
               WTERMSIG(c->wstatus), strsignal(WTERMSIG(c->wstatus)));
    else
      snprintf(c->res.message, sizeof c->res.message, "exited (status %d) without a result",
               WIFEXITED(c->wstatus) ? WEXITSTATUS(c->wstatus) : -1);
  } else if (c->res.status == 0 && child_failed(c->wstatus)) {
    c->res.status = -ECHILD;
    snprintf(c->res.message, sizeof c->res.message, "exited with status %d",
             WIFEXITED(c->wstatus) ? WEXITSTATUS(c->wstatus) : -1);
  }
  close(c->fd);
}

/* Remove every object whose name starts with the segment's (the segment and
 * any companion the library may add); returns how many there were. Names
 * from dmp_name_portable() are random, so the prefix is ours alone. */
static int remove_segment(const struct opts *o)
{
  char dir[PATH_MAX], base[PATH_MAX];
  if (o->backend == DMP_BACKEND_SHM) {
    snprintf(dir, sizeof dir, "/dev/shm");
    snprintf(base, sizeof base, "%s", o->name[0] == '/' ? o->name + 1 : o->name);
  } else {
    const char *slash = strrchr(o->name, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - o->name) : 1,
             slash ? o->name : ".");
    if (dir[0] == '\0')
      snprintf(dir, sizeof dir, "/");
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : o->name);
  }
  DIR *d = opendir(dir);
  if (d == NULL)
    return 0;
  int removed = 0;
  size_t len = strlen(base);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, base, len) != 0)
      continue;
    if (unlinkat(dirfd(d), e->d_name, 0) == 0)
      removed++;
  }
  closedir(d);
  return removed;
}

static void format_latency(char *buf, size_t len, uint64_t ns)
{
  if (ns < 1000)
    snprintf(buf, len, "%" PRIu64 " ns", ns);
  else if (ns < 1000000)
    snprintf(buf, len, "%.1f us", (double)ns / 1e3);
  else
    snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
}

static void print_row(const struct child *c, bool consumer)
{
  const struct demo_result *r = &c->res;
  double secs = (double)r->elapsed_ns / 1e9;
  double rate = secs > 0 ? (double)r->events / secs / 1e6 : 0.0;
  char p50[24] = "-", p99[24] = "-", p999[24] = "-", max[24] = "-";
  if (consumer && r->events > 0) {
    format_latency(p50, sizeof p50, r->lat_p50);
    format_latency(p99, sizeof p99, r->lat_p99);
    format_latency(p999, sizeof p999, r->lat_p999);
    format_latency(max, sizeof max, r->lat_max);
  }
  printf("%-9s %9" PRIu64 " %8.3f %8.2f %10s %10s %10s %10s  %s\n", c->label, r->events, secs,
         rate, p50, p99, p999, max, r->status == 0 ? "ok" : "FAILED");
}

static void print_report(const struct child *ch, size_t n, const struct opts *o)
{
  printf("\n%-9s %9s %8s %8s %10s %10s %10s %10s  %s\n", "role", "events", "seconds", "Mev/s",
         "p50", "p99", "p99.9", "max", "status");
  for (size_t i = 0; i < n; i++)
    print_row(&ch[i], i > 0);
  printf("\nproducer found the ring full %" PRIu64 " times (capacity %" PRIu64 ").\n",
         ch[0].res.full, o->capacity);
  printf("latency: one-way, CLOCK_MONOTONIC at publish -> read, including time queued in the ring.\n");
  for (size_t i = 0; i < n; i++) {
    const struct demo_result *r = &ch[i].res;
    if (r->bad != 0)
      printf("%s: %" PRIu64 " bad events; first: %s\n", ch[i].label, r->bad, r->message);
    else if (r->status != 0)
      printf("%s: %s\n", ch[i].label, r->message);
  }
}

static int make_name(struct opts *o)
{
  char name[DMP_PORTABLE_NAME_MAX + 1];
  int rc = dmp_name_portable("demo", name, sizeof name);
  if (rc < 0) {
    fprintf(stderr, "dmp-demo: dmp_name_portable: %s: %s\n", dmp_strerror(rc), dmp_last_error());
    return rc;
  }
  if (o->backend == DMP_BACKEND_SHM) {
    snprintf(o->name, sizeof o->name, "/%s", name);
  } else {
    /* A private directory: the library refuses ring files in one that
     * every user may write, as /tmp is (config.h, "Permissions"). */
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX - 32];
    snprintf(dir, sizeof dir, "%s/dmp-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
      fprintf(stderr, "dmp-demo: mkdtemp %s: %s\n", dir, strerror(errno));
      return -1;
    }
    snprintf(o->name, sizeof o->name, "%s/%s.ring", dir, name);
  }
  return 0;
}

/* Remove the private directory make_name() made for an mmap ring. */
static void remove_dir(const struct opts *o)
{
  char dir[PATH_MAX];
  const char *slash = strrchr(o->name, '/');
  if (o->backend != DMP_BACKEND_MMAP || !slash)
    return;
  snprintf(dir, sizeof dir, "%.*s", (int)(slash - o->name), o->name);
  rmdir(dir);
}

static int run_parent(struct opts *o)
{
  if (make_name(o) < 0)
    return 1;
  printf("dmp-demo: %" PRIu64 " events of %zu bytes, 1 producer -> %" PRIu32
         " consumers, capacity %" PRIu64 ", backend %s, wait %s\n"
         "          segment %s\n",
         o->events, sizeof(struct demo_event), o->consumers, o->capacity,
         dmp_backend_name(o->backend), wait_name(o->wait), o->name);
  fflush(stdout);

  struct child ch[1 + MAX_CONSUMERS];
  size_t n = 1 + o->consumers;
  memset(ch, 0, sizeof ch);
  bool spawned = true;
  for (size_t i = 0; i < n && spawned; i++) {
    if (i == 0)
      snprintf(ch[i].label, sizeof ch[i].label, "producer");
    else
      snprintf(ch[i].label, sizeof ch[i].label, "c%zu", i - 1);
    ch[i].pid = spawn(o, i == 0 ? "producer" : "consumer", ch[i].label, &ch[i].fd);
    if (ch[i].pid < 0) {
      fprintf(stderr, "dmp-demo: cannot start %s: %s\n", ch[i].label, strerror(errno));
      spawned = false;
    }
  }
  if (!spawned)
    kill_all(ch, n, "a process could not be started");
  bool in_time = supervise(ch, n, o->timeout_ns);

  bool ok = spawned && in_time;
  for (size_t i = 0; i < n; i++) {
    if (ch[i].pid <= 0)
      continue;
    collect(&ch[i]);
    ok = ok && ch[i].res.status == 0 && ch[i].res.bad == 0 &&
         ch[i].res.events == o->events;
  }
  int leftovers = remove_segment(o);
  remove_dir(o);
  if (ok && leftovers > 0) {
    fprintf(stderr, "dmp-demo: %d object(s) named %s* were left behind (removed now)\n",
            leftovers, o->name);
    ok = false;
  }
  if (spawned)
    print_report(ch, n, o);
  printf("\n%s\n", ok ? "all events verified: OK" : "FAILED");
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */

static void usage(FILE *f)
{
  fprintf(f,
          "usage: dmp-demo [options]\n"
          "\n"
          "Starts one producer and N consumer processes on one disruptor_mp ring,\n"
          "moves events through it, checks every one (sequence + checksum) and\n"
          "reports throughput and one-way latency per consumer.\n"
          "\n"
          "  --events N       events to send (default 1000000)\n"
          "  --consumers N    consumer processes, 1..%u (default 2)\n"
          "  --capacity N     ring slots, a power of two in 2..%llu (default 4096)\n"
          "  --backend B      shm (POSIX shared memory, default) or mmap (a file in a new\n"
          "                   private directory in $TMPDIR)\n"
          "  --wait W         block (default), spin, yield or sleep\n"
          "  --timeout S      kill everything if the run takes longer (default 120 s;\n"
          "                   seconds, or with a unit: 500ms, 2m)\n"
          "  --help           this text\n"
          "  --version        the library version\n"
          "\n"
          "Exit status: 0 if every consumer received every event intact, 1 otherwise,\n"
          "2 for a usage error (nothing is started).\n",
          MAX_CONSUMERS, (unsigned long long)MAX_CAPACITY);
}

static bool parse_option(struct tool_cli *cli, struct opts *o, int opt, const char *arg)
{
  static const char *const waits[] = {"block", "spin", "yield", "sleep"};
  static const char *const roles[] = {"parent", "producer", "consumer"};
  uint64_t v;
  int e;
  switch (opt) {
  case 'e': return tool_cli_u64(cli, arg, 1, INT64_MAX, &o->events);
  case 'n': return tool_cli_u32(cli, arg, 1, MAX_CONSUMERS, &o->consumers);
  /* Checked here, before any process starts: the ring itself would refuse
   * only after the producer child was running. */
  case 'c': return tool_cli_pow2(cli, arg, 2, MAX_CAPACITY, &o->capacity);
  case 'b':
    return dmp_backend_parse(arg, &o->backend) == 0 || tool_cli_refuse(cli, "one of shm, mmap");
  case 'w':
    if ((e = tool_cli_choice(cli, arg, waits, 4)) < 0)
      return false;
    o->wait = (enum dmp_wait_kind)e;
    return true;
  case 't': return tool_cli_duration(cli, arg, NS_PER_S, NS_PER_S / 1000, 86400 * NS_PER_S, &o->timeout_ns);
  case 'R':
    if ((e = tool_cli_choice(cli, arg, roles, 3)) < 0)
      return false;
    o->role = (enum role)e;
    return true;
  case 'N':
    return snprintf(o->name, sizeof o->name, "%s", arg) < (int)sizeof o->name ||
           tool_cli_refuse(cli, "longer than %zu bytes", sizeof o->name - 1);
  case 'I':
    return snprintf(o->id, sizeof o->id, "%s", arg) < (int)sizeof o->id ||
           tool_cli_refuse(cli, "longer than %zu bytes", sizeof o->id - 1);
  case 'F':
    if (!tool_cli_u64(cli, arg, 0, INT_MAX, &v))
      return false;
    o->result_fd = (int)v;
    return true;
  default: return tool_cli_refuse(cli, "unhandled option");
  }
}

/* 0: run; -1: --help or --version printed; otherwise the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
  static const struct option longopts[] = {
      {"events", required_argument, NULL, 'e'},  {"consumers", required_argument, NULL, 'n'},
      {"capacity", required_argument, NULL, 'c'}, {"backend", required_argument, NULL, 'b'},
      {"wait", required_argument, NULL, 'w'},     {"timeout", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
      /* internal: how the parent starts its children */
      {"role", required_argument, NULL, 'R'},     {"name", required_argument, NULL, 'N'},
      {"id", required_argument, NULL, 'I'},       {"result-fd", required_argument, NULL, 'F'},
      {NULL, 0, NULL, 0}};
  static struct tool_cli cli;
  tool_cli_init(&cli, "dmp-demo", "dmp-demo (disruptor_mp) " DMP_VERSION_STRING, usage, "hV", longopts);
  int opt;
  while ((opt = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END) {
    if (opt == TOOL_CLI_EXIT)
      return cli.status == TOOL_EXIT_OK ? -1 : cli.status;
    if (!parse_option(&cli, o, opt, optarg))
      return tool_cli_bad_value(&cli, optarg);
  }
  if (optind < argc)
    return tool_cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
  if (o->role != ROLE_PARENT && (o->name[0] == '\0' || o->result_fd < 0 ||
                                 (o->role == ROLE_CONSUMER && o->id[0] == '\0')))
    return tool_cli_usage_error(&cli, "--role needs --name, --result-fd and (consumers) --id");
  return 0;
}

int main(int argc, char **argv)
{
  struct opts o = {
      .events = 1000000,
      .consumers = 2,
      .capacity = 4096,
      .backend = DMP_BACKEND_SHM,
      .wait = DMP_WAIT_BLOCK,
      .timeout_ns = 120 * NS_PER_S,
      .role = ROLE_PARENT,
      .result_fd = -1,
  };
  int rc = parse_args(argc, argv, &o);
  if (rc != 0)
    return rc < 0 ? TOOL_EXIT_OK : rc;
  if (o.role != ROLE_PARENT)
    return run_child(&o);
  return run_parent(&o);
}
