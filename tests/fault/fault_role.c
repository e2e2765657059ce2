/*
 * fault_role: the helper executable of the fault tests. One process plays
 * one role against one ring, checks every byte it sees, and keeps a
 * progress record (fault.h) in a shared file that survives its SIGKILL:
 *
 *   fault_role producer --name N --capacity C --slot S --count K [options]
 *   fault_role consumer --name N --id ID [options]
 *   fault_role locker --name N --hold-ms H   (a hostile peer: takes the
 *           ring's consumer-table lock, holds it H ms, releases it, exits)
 *
 * Common:   --backend shm|mmap  --progress PATH  --timeout-ms T (bounds every
 *           wait; default 20000)  --wait block|spin|yield|sleep
 *           --call-ms C (each blocking call gets min(C, time left) and is
 *           repeated on -ETIMEDOUT until the role's deadline; every call's
 *           duration is recorded against its timeout in the progress
 *           record, non-waiting ones (close, check_liveness) against 0)
 * Producer: --token T (default random)  --batch B  --pace-us U (sleep after
 *           each publish)  --hang-seq S (claim the batch holding S, write the
 *           slots before S and half of S, never publish, wait to be killed)
 *           --wait-ids a,b (rendezvous)  --managed a,b (liveness, required
 *           ids; "-" for none)  --action fail|alert|evict  --progress-ms P
 *           --grace-ms G  --gate SEQ:FILE (before publishing SEQ, wait until
 *           FILE exists)  --linger-ids a,b (before closing, wait until each
 *           has read everything: attached and alive, or gone cleanly)  --no-linger (close without
 *           waiting for gating consumers to catch up)  --create-retry-ms M
 *           (retry while the name is -DMP_E_INUSE)  --no-wakeups
 *           --start-at NS (create at CLOCK_MONOTONIC time NS, not before)
 * Consumer: --id ID  --start latest|oldest  --durable  --attach-timeout-ms A
 *           --hold SEQ:FILE (before delivering SEQ, wait until FILE exists;
 *           up to 4)  --die-seq S (SIGKILL itself after releasing S)
 *           --exit-seq S [--forget] (close after releasing S)  --last-seq L
 *           --count N  (default: run until -DMP_E_OWNERDEAD)  --reattach R
 *           (on -DMP_E_OWNERDEAD attach again, up to R times: the new ring
 *           must have a new epoch and a new token)  --first F  --slow-us U
 *           --churn N (detach after --churn-events E events, alternately
 *           with close and close_forget, and attach again, N times: each
 *           incarnation's events are consecutive; then read to the end)
 *           --token T (the stream to finish carries T; with --reattach,
 *           streams of other runs may come first and must end in OWNERDEAD)
 *
 * The process dies with its parent (PR_SET_PDEATHSIG), so a failing test
 * never leaves it behind. The exit code is one of FR_EXIT_TABLE.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#include "fault.h"

#define MS INT64_C(1000000)
#define MAX_HOLDS 4

struct hold {
  int64_t seq;
  const char *file;
};

struct opts {
  bool producer, locker;
  int64_t call_ms, hold_ms, churn, churn_events, start_at;
  enum dmp_backend backend;
  const char *name, *progress;
  int64_t timeout_ms;
  struct dmp_wait_strategy wait;
  /* producer */
  uint64_t capacity;
  uint32_t slot;
  int64_t count;
  uint64_t token;
  uint32_t batch;
  int64_t pace_us, hang_seq, progress_ms, grace_ms, create_retry_ms;
  char *wait_ids, *managed, *linger_ids;
  enum dmp_liveness_action action;
  bool no_linger, no_wakeups;
  struct hold gate;
  /* consumer */
  const char *id;
  enum dmp_start start;
  bool durable, forget;
  int64_t attach_timeout_ms, die_seq, exit_seq, last_seq, first, slow_us, reattach;
  struct hold holds[MAX_HOLDS];
  int n_holds;
};

static struct fr_progress dummy_progress;
static struct fr_progress *pr = &dummy_progress;
static int64_t deadline_ns;

/* Record the first failure in the progress record and on stderr. */
static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
  char buf[sizeof pr->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (pr->msg[0] == '\0')
    memcpy(pr->msg, buf, sizeof buf);
  fprintf(stderr, "[fault_role %d] %s\n", (int)getpid(), buf);
  return code;
}

static int64_t left_ns(void)
{
  int64_t left = deadline_ns - ts_now_ns();
  return left > 0 ? left : 0;
}

/* The timeout for the next blocking call: --call-ms, or what is left. */
static int64_t call_timeout(const struct opts *o)
{
  int64_t left = left_ns();
  return o->call_ms > 0 && o->call_ms * MS < left ? o->call_ms * MS : left;
}

/* Record a call that started at `t0` with `timeout` (0: documented as not
 * waiting). Only this process writes these fields; the driver reads them
 * after reaping it (or after killing it: each store is atomic). */
static void timed(const char *what, int64_t t0, int64_t timeout)
{
  int64_t dur = ts_now_ns() - t0, over = dur - timeout;
  atomic_fetch_add(&pr->calls, 1);
  if (atomic_load(&pr->calls) == 1 || over > atomic_load(&pr->max_over_ns)) {
    snprintf(pr->worst_call, sizeof pr->worst_call, "%s", what);
    atomic_store(&pr->worst_dur_ns, dur);
    atomic_store(&pr->worst_timeout_ns, timeout);
    atomic_store(&pr->max_over_ns, over);
  }
}

static void sleep_us(int64_t us)
{
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int open_progress(const char *path)
{
  if (!path)
    return 0;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return fail(FR_EX_IO, "cannot open progress file %s: %s", path, strerror(errno));
  void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED)
    return fail(FR_EX_IO, "cannot map progress file %s: %s", path, strerror(errno));
  pr = m;
  atomic_store(&pr->pid, (int64_t)getpid());
  atomic_store(&pr->first, -1);
  atomic_store(&pr->last, -1);
  return 0;
}

/* Split "a,b,c" in place into at most `max` ids. "-" is the empty list. */
static size_t split_ids(char *list, const char **ids, size_t max)
{
  size_t n = 0;
  if (!list || strcmp(list, "-") == 0)
    return 0;
  for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
    ids[n++] = t;
  return n;
}

/* ---------------------------------------------------------------- options */

enum {
  O_BACKEND = 256, O_NAME, O_PROGRESS, O_TIMEOUT, O_WAIT, O_CAPACITY, O_SLOT, O_COUNT, O_TOKEN,
  O_BATCH, O_PACE, O_HANG, O_WAIT_IDS, O_MANAGED, O_ACTION, O_PROGRESS_MS, O_GRACE_MS, O_LINGER_IDS,
  O_NO_LINGER, O_CREATE_RETRY, O_NO_WAKEUPS, O_ID, O_START, O_DURABLE, O_ATTACH_TIMEOUT, O_HOLD,
  O_DIE_SEQ, O_EXIT_SEQ, O_FORGET, O_LAST_SEQ, O_REATTACH, O_FIRST, O_SLOW, O_GATE, O_CALL_MS, O_HOLD_MS,
  O_CHURN, O_CHURN_EVENTS, O_START_AT,
};

static const struct option long_opts[] = {
  {"backend", required_argument, 0, O_BACKEND},
  {"name", required_argument, 0, O_NAME},
  {"progress", required_argument, 0, O_PROGRESS},
  {"timeout-ms", required_argument, 0, O_TIMEOUT},
  {"wait", required_argument, 0, O_WAIT},
  {"capacity", required_argument, 0, O_CAPACITY},
  {"slot", required_argument, 0, O_SLOT},
  {"count", required_argument, 0, O_COUNT},
  {"token", required_argument, 0, O_TOKEN},
  {"batch", required_argument, 0, O_BATCH},
  {"pace-us", required_argument, 0, O_PACE},
  {"hang-seq", required_argument, 0, O_HANG},
  {"wait-ids", required_argument, 0, O_WAIT_IDS},
  {"managed", required_argument, 0, O_MANAGED},
  {"action", required_argument, 0, O_ACTION},
  {"progress-ms", required_argument, 0, O_PROGRESS_MS},
  {"grace-ms", required_argument, 0, O_GRACE_MS},
  {"linger-ids", required_argument, 0, O_LINGER_IDS},
  {"no-linger", no_argument, 0, O_NO_LINGER},
  {"create-retry-ms", required_argument, 0, O_CREATE_RETRY},
  {"no-wakeups", no_argument, 0, O_NO_WAKEUPS},
  {"id", required_argument, 0, O_ID},
  {"start", required_argument, 0, O_START},
  {"durable", no_argument, 0, O_DURABLE},
  {"attach-timeout-ms", required_argument, 0, O_ATTACH_TIMEOUT},
  {"hold", required_argument, 0, O_HOLD},
  {"die-seq", required_argument, 0, O_DIE_SEQ},
  {"exit-seq", required_argument, 0, O_EXIT_SEQ},
  {"forget", no_argument, 0, O_FORGET},
  {"last-seq", required_argument, 0, O_LAST_SEQ},
  {"reattach", required_argument, 0, O_REATTACH},
  {"first", required_argument, 0, O_FIRST},
  {"slow-us", required_argument, 0, O_SLOW},
  {"gate", required_argument, 0, O_GATE},
  {"call-ms", required_argument, 0, O_CALL_MS},
  {"hold-ms", required_argument, 0, O_HOLD_MS},
  {"churn", required_argument, 0, O_CHURN},
  {"churn-events", required_argument, 0, O_CHURN_EVENTS},
  {"start-at", required_argument, 0, O_START_AT},
  {0, 0, 0, 0},
};

static int64_t num(const char *s, bool *ok)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 0);
  if (errno || *end || end == s)
    *ok = false;
  return v;
}

static bool parse_wait(const char *s, struct dmp_wait_strategy *w)
{
  static const char *const names[] = {"block", "spin", "yield", "sleep"};
  memset(w, 0, sizeof *w);
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      w->kind = (enum dmp_wait_kind)i;
      return true;
    }
  return false;
}

static bool parse_action(const char *s, enum dmp_liveness_action *a)
{
  if (strcmp(s, "fail") == 0)
    *a = DMP_LIVENESS_FAIL;
  else if (strcmp(s, "alert") == 0)
    *a = DMP_LIVENESS_ALERT_ONLY;
  else if (strcmp(s, "evict") == 0)
    *a = DMP_LIVENESS_EVICT;
  else
    return false;
  return true;
}

/* "SEQ:FILE" */
static bool parse_seq_file(char *s, struct hold *h)
{
  char *colon = strchr(s, ':');
  bool ok = colon != NULL;
  if (!ok)
    return false;
  *colon = '\0';
  h->seq = num(s, &ok);
  h->file = colon + 1;
  return ok;
}

static bool parse_one(int c, char *arg, struct opts *o)
{
  bool ok = true;
  switch (c) {
  case O_BACKEND:
    ok = strcmp(arg, "shm") == 0 || strcmp(arg, "mmap") == 0;
    o->backend = strcmp(arg, "mmap") == 0 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM;
    break;
  case O_NAME: o->name = arg; break;
  case O_PROGRESS: o->progress = arg; break;
  case O_TIMEOUT: o->timeout_ms = num(arg, &ok); break;
  case O_WAIT: ok = parse_wait(arg, &o->wait); break;
  case O_CAPACITY: o->capacity = (uint64_t)num(arg, &ok); break;
  case O_SLOT: o->slot = (uint32_t)num(arg, &ok); break;
  case O_COUNT: o->count = num(arg, &ok); break;
  case O_TOKEN: o->token = (uint64_t)strtoull(arg, NULL, 0); break;
  case O_BATCH: o->batch = (uint32_t)num(arg, &ok); break;
  case O_PACE: o->pace_us = num(arg, &ok); break;
  case O_HANG: o->hang_seq = num(arg, &ok); break;
  case O_WAIT_IDS: o->wait_ids = arg; break;
  case O_MANAGED: o->managed = arg; break;
  case O_ACTION: ok = parse_action(arg, &o->action); break;
  case O_PROGRESS_MS: o->progress_ms = num(arg, &ok); break;
  case O_GRACE_MS: o->grace_ms = num(arg, &ok); break;
  case O_LINGER_IDS: o->linger_ids = arg; break;
  case O_NO_LINGER: o->no_linger = true; break;
  case O_CREATE_RETRY: o->create_retry_ms = num(arg, &ok); break;
  case O_NO_WAKEUPS: o->no_wakeups = true; break;
  case O_ID: o->id = arg; break;
  case O_START: o->start = strcmp(arg, "oldest") == 0 ? DMP_START_OLDEST : DMP_START_LATEST; break;
  case O_DURABLE: o->durable = true; break;
  case O_ATTACH_TIMEOUT: o->attach_timeout_ms = num(arg, &ok); break;
  case O_HOLD: ok = o->n_holds < MAX_HOLDS && parse_seq_file(arg, &o->holds[o->n_holds++]); break;
  case O_GATE: ok = parse_seq_file(arg, &o->gate); break;
  case O_DIE_SEQ: o->die_seq = num(arg, &ok); break;
  case O_EXIT_SEQ: o->exit_seq = num(arg, &ok); break;
  case O_FORGET: o->forget = true; break;
  case O_LAST_SEQ: o->last_seq = num(arg, &ok); break;
  case O_REATTACH: o->reattach = num(arg, &ok); break;
  case O_FIRST: o->first = num(arg, &ok); break;
  case O_SLOW: o->slow_us = num(arg, &ok); break;
  case O_CALL_MS: o->call_ms = num(arg, &ok); break;
  case O_HOLD_MS: o->hold_ms = num(arg, &ok); break;
  case O_CHURN: o->churn = num(arg, &ok); break;
  case O_CHURN_EVENTS: o->churn_events = num(arg, &ok); break;
  case O_START_AT: o->start_at = num(arg, &ok); break;
  default: ok = false; break;
  }
  return ok;
}

static int parse(int argc, char **argv, struct opts *o)
{
  memset(o, 0, sizeof *o);
  o->timeout_ms = 20000;
  o->batch = 1;
  o->hang_seq = o->die_seq = o->exit_seq = o->last_seq = o->first = o->gate.seq = -1;
  o->progress_ms = 100;
  o->grace_ms = 10000;
  if (argc < 2)
    return fail(FR_EX_USAGE, "usage: fault_role producer|consumer|locker --name N [options]");
  o->producer = strcmp(argv[1], "producer") == 0;
  o->locker = strcmp(argv[1], "locker") == 0;
  o->churn_events = 5;
  if (!o->producer && !o->locker && strcmp(argv[1], "consumer") != 0)
    return fail(FR_EX_USAGE, "unknown role '%s'", argv[1]);
  int c;
  optind = 2;
  while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1)
    if (!parse_one(c, optarg, o))
      return fail(FR_EX_USAGE, "bad option %s", argv[optind - 1]);
  if (!o->name)
    return fail(FR_EX_USAGE, "--name is required");
  if (o->producer && (o->capacity == 0 || o->slot < FR_MIN_SLOT || o->count < 0 || o->batch == 0))
    return fail(FR_EX_USAGE, "producer needs --capacity, --slot >= %u, --count", FR_MIN_SLOT);
  if (!o->producer && !o->locker && !o->id)
    return fail(FR_EX_USAGE, "consumer needs --id");
  if (o->attach_timeout_ms == 0)
    o->attach_timeout_ms = o->timeout_ms;
  return 0;
}

/* Wait (bounded) until `file` exists. */
static int wait_file(const char *file, const char *what, int64_t seq)
{
  while (access(file, F_OK) != 0) {
    if (left_ns() == 0)
      return fail(FR_EX_TIMEOUT, "%s at %lld: %s never appeared", what, (long long)seq, file);
    sleep_us(500);
  }
  return 0;
}

/* ---------------------------------------------------------------- producer */

static void on_alert(const struct dmp_liveness_alert *a, void *user)
{
  (void)user;
  atomic_fetch_add(&pr->alerts, 1);
  int64_t zero = 0;
  if (a->dead)
    atomic_compare_exchange_strong(&pr->dead_ns, &zero, ts_now_ns());
  if (a->evicted && atomic_fetch_add(&pr->evictions, 1) == 0)
    atomic_store(&pr->evict_ns, ts_now_ns());
}

static int create_producer(const struct opts *o, struct dmp_producer **p)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.capacity = o->capacity;
  cfg.slot_size = o->slot;
  cfg.wait = o->wait;
  if (o->no_wakeups)
    cfg.flags |= DMP_RING_NO_WAKEUPS;
  /* --start-at: racers spawned one after another create at one instant. */
  for (int64_t wait; o->start_at > 0 && (wait = o->start_at - ts_now_ns()) > 0;)
    sleep_us(wait / 1000 + 1);
  int64_t retry_until = ts_now_ns() + o->create_retry_ms * MS;
  int rc;
  while ((rc = dmp_producer_create(&cfg, p)) == -DMP_E_INUSE && ts_now_ns() < retry_until)
    sleep_us(200);
  if (rc < 0)
    return fail(FR_EX_SETUP, "create '%s': %s (%s)", o->name, dmp_err_name(rc), dmp_last_error());
  atomic_store(&pr->created_ns, ts_now_ns());
  return 0;
}

static int enable_liveness(const struct opts *o, struct dmp_producer *p, char *list)
{
  const char *ids[DMP_LIVENESS_MAX_REQUIRED];
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.n_required = split_ids(list, ids, DMP_LIVENESS_MAX_REQUIRED);
  lc.required_ids = ids;
  lc.startup_timeout_ns = o->timeout_ms * MS;
  lc.progress_timeout_ns = o->progress_ms * MS;
  lc.check_interval_ns = lc.progress_timeout_ns < 5 * MS ? lc.progress_timeout_ns : 5 * MS;
  lc.grace_ns = o->grace_ms * MS;
  lc.action = o->action;
  lc.quiet = true;
  lc.alert = on_alert;
  int rc = dmp_producer_enable_liveness(p, &lc);
  return rc < 0 ? fail(FR_EX_SETUP, "enable liveness: %s (%s)", dmp_err_name(rc), dmp_last_error()) : 0;
}

static int claim(const struct opts *o, struct dmp_producer *p, uint64_t n, int64_t *first)
{
  int rc;
  void *slot;
  do {
    int64_t t = call_timeout(o), t0 = ts_now_ns();
    if (o->managed && n == 1) {
      rc = dmp_producer_claim_managed(p, &slot, t);
      *first = p->claim_end - 1;
    } else if (o->managed) {
      rc = dmp_producer_claim_batch_managed(p, n, first, t);
    } else {
      rc = dmp_producer_claim_batch_timeout(p, n, first, t);
    }
    timed(o->managed ? "claim_managed" : "claim_timeout", t0, t);
  } while (rc == -ETIMEDOUT && left_ns() > 0);
  if (rc == -ETIMEDOUT)
    return fail(FR_EX_TIMEOUT, "claim of %llu slots timed out at seq %lld", (unsigned long long)n,
                (long long)p->claim_end);
  if (rc == -DMP_E_STALLED || rc == -DMP_E_STARTUP)
    return fail(FR_EX_LIVENESS, "managed claim: %s (%s)", dmp_err_name(rc), dmp_last_error());
  if (rc < 0)
    return fail(FR_EX_API, "claim: %s (%s)", dmp_err_name(rc), dmp_last_error());
  return 0;
}

/* Claimed [first, first+n) but never published: wait to be killed. */
static int hang(const struct opts *o, struct dmp_producer *p, int64_t first, uint64_t n)
{
  for (int64_t s = first; s < o->hang_seq; s++)
    fr_payload_fill(dmp_producer_slot(p, s), o->slot, s, o->token);
  uint8_t full[4096];
  fr_payload_fill(full, o->slot < sizeof full ? o->slot : sizeof full, o->hang_seq, o->token);
  memcpy(dmp_producer_slot(p, o->hang_seq), full, 12); /* torn: half the header */
  (void)n;
  atomic_store(&pr->phase, FR_PH_HOLDING);
  while (left_ns() > 0)
    sleep_us(1000);
  return fail(FR_EX_NOT_KILLED, "hung at seq %lld for the whole timeout", (long long)o->hang_seq);
}

static int publish_all(const struct opts *o, struct dmp_producer *p)
{
  int64_t seq = 0;
  while (seq < o->count) {
    uint64_t n = (uint64_t)(o->count - seq) < o->batch ? (uint64_t)(o->count - seq) : o->batch;
    if (o->gate.seq >= seq && o->gate.seq < seq + (int64_t)n) {
      if (o->gate.seq > seq)
        n = (uint64_t)(o->gate.seq - seq); /* publish up to the gate first */
      else if (wait_file(o->gate.file, "gated", seq) != 0)
        return FR_EX_TIMEOUT;
    }
    int64_t first;
    int rc = claim(o, p, n, &first);
    if (rc)
      return rc;
    if (first != seq)
      return fail(FR_EX_API, "claim returned seq %lld, expected %lld", (long long)first, (long long)seq);
    if (o->hang_seq >= seq && o->hang_seq < seq + (int64_t)n)
      return hang(o, p, first, n);
    for (uint64_t i = 0; i < n; i++)
      fr_payload_fill(dmp_producer_slot(p, seq + (int64_t)i), o->slot, seq + (int64_t)i, o->token);
    int64_t last = dmp_producer_publish(p);
    if (last != seq + (int64_t)n - 1)
      return fail(FR_EX_API, "publish returned %lld, expected %lld", (long long)last,
                  (long long)(seq + (int64_t)n - 1));
    atomic_store(&pr->last, last);
    atomic_store(&pr->count, last + 1);
    seq = last + 1;
    if (o->managed && o->call_ms > 0) {
      /* Documented as not waiting, whatever the peers do (issue 15, item 3). */
      int64_t t0 = ts_now_ns();
      rc = dmp_producer_check_liveness(p);
      timed("check_liveness", t0, 0);
      if (rc == -DMP_E_STALLED || rc == -DMP_E_STARTUP)
        return fail(FR_EX_LIVENESS, "check_liveness: %s (%s)", dmp_err_name(rc), dmp_last_error());
    }
    if (o->pace_us)
      sleep_us(o->pace_us);
  }
  return 0;
}

/* Evict consumers the kernel proves dead (EVICT mode while lingering). */
static void evict_dead(struct dmp_producer *p)
{
  struct dmp_consumer_info info[64];
  int n = dmp_producer_list_consumers(p, NULL, info, 64);
  for (int i = 0; i < n && i < 64; i++)
    if (info[i].state == DMP_ENTRY_ACTIVE && !info[i].alive && dmp_producer_evict(p, info[i].id) == 0)
      if (atomic_fetch_add(&pr->evictions, 1) == 0)
        atomic_store(&pr->evict_ns, ts_now_ns());
}

/* Each id has read up to `last`: attached and alive, or already gone
 * cleanly (IDLE); a dead holder does not count. */
static bool ids_caught_up(struct dmp_producer *p, const char **ids, size_t n, int64_t last)
{
  for (size_t i = 0; i < n; i++) {
    struct dmp_consumer_info info;
    if (dmp_producer_consumer_info(p, ids[i], &info) != 0 || info.cursor < last ||
        (info.state == DMP_ENTRY_ACTIVE && !info.alive))
      return false;
  }
  return true;
}

/* Before closing: let the gating consumers (and the --linger-ids) catch up. */
static int linger(const struct opts *o, struct dmp_producer *p, char *list)
{
  const char *ids[DMP_LIVENESS_MAX_REQUIRED];
  size_t n = split_ids(list, ids, DMP_LIVENESS_MAX_REQUIRED);
  int64_t last = dmp_producer_sequence(p);
  for (;;) {
    if (o->managed && o->action == DMP_LIVENESS_EVICT)
      evict_dead(p);
    if (dmp_producer_min_gating_sequence(p) >= last && ids_caught_up(p, ids, n, last))
      return 0;
    if (left_ns() == 0)
      return fail(FR_EX_TIMEOUT, "consumers did not catch up with %lld (slowest at %lld)", (long long)last,
                  (long long)dmp_producer_min_gating_sequence(p));
    sleep_us(500);
  }
}

static int run_producer(struct opts *o)
{
  if (o->token == 0 && getrandom(&o->token, sizeof o->token, 0) != (ssize_t)sizeof o->token)
    o->token = (uint64_t)ts_now_ns() ^ ((uint64_t)getpid() << 40);
  o->token |= 1; /* never 0: 0 means "any" in fr_payload_check */
  struct dmp_producer *p;
  int rc = create_producer(o, &p);
  if (rc)
    return rc;
  atomic_store(&pr->token, o->token);
  atomic_store(&pr->epoch, p->ring.ctl->header.epoch);
  if (o->managed && (rc = enable_liveness(o, p, o->managed)) != 0)
    goto out;
  atomic_store(&pr->ready_ns, ts_now_ns());
  atomic_store(&pr->phase, FR_PH_READY);
  if (o->wait_ids) {
    const char *ids[DMP_LIVENESS_MAX_REQUIRED];
    size_t n = split_ids(o->wait_ids, ids, DMP_LIVENESS_MAX_REQUIRED);
    int w;
    do {
      int64_t t = call_timeout(o), t0 = ts_now_ns();
      w = dmp_producer_wait_for_ids(p, ids, n, t);
      timed("wait_for_ids", t0, t);
    } while (w == -ETIMEDOUT && left_ns() > 0);
    if (w < 0) {
      rc = fail(FR_EX_TIMEOUT, "rendezvous: %s (%s)", dmp_err_name(w), dmp_last_error());
      goto out;
    }
  }
  atomic_store(&pr->first, 0);
  rc = publish_all(o, p);
  if (rc == 0 && !o->no_linger)
    rc = linger(o, p, o->linger_ids);
out:;
  int64_t t0 = ts_now_ns();
  dmp_producer_close(p);
  timed("producer_close", t0, 0);
  return rc;
}

/* ---------------------------------------------------------------- consumer */

struct stream_state {
  int64_t next;   /* next sequence expected */
  uint64_t token; /* this stream's token (0 until the first event) */
  uint64_t epoch;
};

static int attach(const struct opts *o, struct dmp_consumer **c)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.id = o->id;
  cfg.start = o->start;
  cfg.wait = o->wait;
  if (o->durable)
    cfg.flags |= DMP_CONSUMER_DURABLE;
  int64_t until = ts_now_ns() + o->attach_timeout_ms * MS;
  int rc;
  do {
    int64_t t = call_timeout(o), t0 = ts_now_ns();
    if (t > until - t0)
      t = until - t0 > 0 ? until - t0 : 0;
    rc = dmp_consumer_attach_timeout(&cfg, t, c);
    timed("attach_timeout", t0, t);
  } while (rc == -ETIMEDOUT && ts_now_ns() < until && left_ns() > 0);
  if (rc < 0)
    return fail(rc == -ETIMEDOUT ? FR_EX_TIMEOUT : FR_EX_SETUP, "attach '%s' as '%s': %s (%s)", o->name, o->id,
                dmp_err_name(rc), dmp_last_error());
  return 0;
}

/* Close the current stream's record and start a new one. */
static void end_stream(void)
{
  int32_t k = atomic_load(&pr->n_streams);
  if (k < FR_MAX_STREAMS) {
    struct fr_stream *s = &pr->stream[k];
    s->first = atomic_load(&pr->first);
    s->last = atomic_load(&pr->last);
    s->count = atomic_load(&pr->count);
    s->token = atomic_load(&pr->token);
    s->epoch = atomic_load(&pr->epoch);
    atomic_store(&pr->n_streams, k + 1);
  }
}

static int begin_stream(const struct opts *o, struct dmp_consumer *c, struct stream_state *st)
{
  uint64_t epoch = dmp_consumer_epoch(c);
  if (st->epoch && epoch == st->epoch)
    return fail(FR_EX_EPOCH, "re-attached ring '%s' still has epoch %016llx", o->name, (unsigned long long)epoch);
  st->epoch = epoch;
  st->next = dmp_consumer_sequence(c) + 1;
  if (o->first >= 0 && st->next != o->first && atomic_load(&pr->n_streams) == 0)
    return fail(FR_EX_SEQ, "starts at %lld, expected %lld", (long long)st->next, (long long)o->first);
  atomic_store(&pr->first, -1);
  atomic_store(&pr->last, -1);
  atomic_store(&pr->count, 0);
  atomic_store(&pr->epoch, epoch);
  atomic_store(&pr->token, 0);
  atomic_store(&pr->ready_ns, ts_now_ns());
  atomic_store(&pr->phase, FR_PH_READY);
  return 0;
}

static int check_event(const struct opts *o, struct dmp_consumer *c, const void *ev, int64_t seq,
                       struct stream_state *st, uint64_t prev_token)
{
  uint64_t got = 0;
  uint64_t want = st->token ? st->token : (o->reattach == 0 ? o->token : 0);
  if (seq != st->next)
    return fail(FR_EX_SEQ, "got seq %lld, expected %lld", (long long)seq, (long long)st->next);
  enum fr_check k = fr_payload_check(ev, dmp_consumer_slot_size(c), seq, want, &got);
  switch (k) {
  case FR_OK: break;
  case FR_BAD_SEQ: return fail(FR_EX_SEQ, "slot of seq %lld holds another sequence (stale?)", (long long)seq);
  case FR_BAD_TOKEN: return fail(FR_EX_TOKEN, "seq %lld has token %016llx, stream has %016llx", (long long)seq,
                                 (unsigned long long)got, (unsigned long long)want);
  case FR_BAD_SUM: return fail(FR_EX_SUM, "seq %lld: checksum mismatch", (long long)seq);
  case FR_BAD_PATTERN: return fail(FR_EX_PATTERN, "seq %lld: payload pattern mismatch", (long long)seq);
  }
  if (st->token == 0) {
    if (prev_token && got == prev_token)
      return fail(FR_EX_TOKEN, "new stream carries the old stream's token %016llx", (unsigned long long)got);
    st->token = got;
    atomic_store(&pr->token, got);
  }
  return 0;
}

static int hold_if_asked(const struct opts *o, int64_t next)
{
  for (int i = 0; i < o->n_holds; i++) {
    if (o->holds[i].seq != next)
      continue;
    atomic_store(&pr->phase, FR_PH_HOLDING);
    if (wait_file(o->holds[i].file, "held", next) != 0)
      return FR_EX_TIMEOUT;
    atomic_store(&pr->phase, FR_PH_READY);
  }
  return 0;
}

/* Deliver one event: wait, check, log, release. 1 = stream ended (owner
 * dead), 0 = delivered, else an exit code. */
static int deliver(const struct opts *o, struct dmp_consumer *c, struct stream_state *st, uint64_t prev_token)
{
  const void *ev;
  int64_t seq;
  int rc;
  do {
    int64_t t = call_timeout(o), t0 = ts_now_ns();
    rc = dmp_consumer_peek_timeout(c, &ev, &seq, t);
    timed("peek_timeout", t0, t);
  } while (rc == -ETIMEDOUT && left_ns() > 0);
  if (rc == -DMP_E_OWNERDEAD) {
    if (atomic_load(&pr->ownerdead_ns) == 0) { /* the first report is the one timed */
      atomic_store(&pr->drained_ns, atomic_load(&pr->last_ns));
      atomic_store(&pr->ownerdead_ns, ts_now_ns());
    }
    return 1;
  }
  if (rc == -ETIMEDOUT)
    return fail(FR_EX_TIMEOUT, "no event %lld before the timeout", (long long)st->next);
  if (rc < 0)
    return fail(FR_EX_API, "peek: %s", dmp_err_name(rc));
  if ((rc = check_event(o, c, ev, seq, st, prev_token)) != 0)
    return rc;
  if (atomic_load(&pr->first) < 0)
    atomic_store(&pr->first, seq);
  atomic_store(&pr->last, seq); /* logged before the release: see fault.h */
  atomic_store(&pr->last_ns, ts_now_ns());
  atomic_fetch_add(&pr->count, 1);
  st->next = seq + 1;
  if (o->slow_us)
    sleep_us(o->slow_us);
  dmp_consumer_release(c);
  return 0;
}

/* With --token T and --reattach, the stream to finish is the one carrying
 * T; streams of other producer runs before it must end with OWNERDEAD. */
static bool final_stream(const struct opts *o, const struct stream_state *st)
{
  return o->token == 0 || st->token == o->token;
}

static bool stop_after(const struct opts *o, const struct stream_state *st, int64_t seq)
{
  if (!final_stream(o, st))
    return false;
  return (o->last_seq >= 0 && seq >= o->last_seq) || (o->count > 0 && atomic_load(&pr->count) >= o->count);
}

/* close() and close_forget() are documented as not waiting: timed against 0. */
static void close_consumer(struct dmp_consumer *c, bool forget)
{
  int64_t t0 = ts_now_ns();
  if (forget)
    dmp_consumer_close_forget(c);
  else
    dmp_consumer_close(c);
  timed(forget ? "close_forget" : "consumer_close", t0, 0);
}

/* --churn: detach (close, close_forget alternately) and attach again under
 * the same id; the incarnation reads on from wherever the ring lets it
 * start, consecutively, and the ring must be the same one (epoch). */
static int churn(const struct opts *o, struct dmp_consumer **c, struct stream_state *st)
{
  int32_t k = atomic_load(&pr->churns);
  close_consumer(*c, k % 2 == 0); /* close_forget first: the next incarnation may start over */
  *c = NULL;
  int rc = attach(o, c);
  if (rc)
    return rc;
  if (dmp_consumer_epoch(*c) != st->epoch)
    return fail(FR_EX_EPOCH, "churn %d: re-attached to another ring", k);
  st->next = dmp_consumer_sequence(*c) + 1;
  atomic_store(&pr->churns, k + 1);
  return 0;
}

static int consume_stream(const struct opts *o, struct dmp_consumer **cp, struct stream_state *st,
                          uint64_t prev_token, int64_t round)
{
  int64_t in_incarnation = 0;
  for (;;) {
    struct dmp_consumer *c = *cp;
    int rc = hold_if_asked(o, st->next);
    if (rc)
      return rc;
    rc = deliver(o, c, st, prev_token);
    if (rc)
      return rc; /* 1: owner dead */
    if (!final_stream(o, st) && round >= o->reattach)
      return fail(FR_EX_TOKEN, "last stream carries token %016llx, expected %016llx", (unsigned long long)st->token,
                  (unsigned long long)o->token);
    int64_t seq = st->next - 1;
    if (seq == o->die_seq)
      raise(SIGKILL);
    if (seq == o->exit_seq) {
      close_consumer(c, o->forget);
      return 2;
    }
    if (stop_after(o, st, seq))
      return 3;
    if (o->churn > atomic_load(&pr->churns) && ++in_incarnation >= o->churn_events) {
      in_incarnation = 0;
      if ((rc = churn(o, cp, st)) != 0)
        return rc;
    }
  }
}

static int run_consumer(const struct opts *o)
{
  struct dmp_consumer *c;
  struct stream_state st = {0, 0, 0};
  uint64_t prev_token = 0;
  for (int64_t round = 0;; round++) {
    int rc = attach(o, &c);
    if (rc)
      return rc;
    if ((rc = begin_stream(o, c, &st)) != 0) {
      close_consumer(c, false);
      return rc;
    }
    st.token = 0;
    rc = consume_stream(o, &c, &st, prev_token, round);
    end_stream();
    if (rc == 2)
      return 0; /* closed at --exit-seq */
    if (!c)
      return rc; /* a --churn re-attach failed */
    close_consumer(c, false);
    if (rc == 3)
      return 0;
    if (rc != 1)
      return rc;
    bool until_end = o->last_seq < 0 && o->count <= 0;
    if (round >= o->reattach)
      return until_end ? 0 : fail(FR_EX_OWNERDEAD, "producer died before seq %lld", (long long)st.next);
    prev_token = st.token;
  }
}

/* ---------------------------------------------------------------- locker */

/* A hostile (or merely stopped) peer: it holds the ring's consumer-table
 * lock for --hold-ms, as a process stopped or scheduled out in the middle
 * of an attach or detach would. The driver may SIGSTOP it as well. */
static int run_locker(const struct opts *o)
{
  char path[600];
  snprintf(path, sizeof path, "%s%s", o->backend == DMP_BACKEND_SHM && o->name[0] != '/' ? "/" : "", o->name);
  int fd = o->backend == DMP_BACKEND_SHM ? shm_open(path, O_RDWR, 0) : open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return fail(FR_EX_SETUP, "locker: cannot open '%s': %s", path, strerror(errno));
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = DMP_LOCK_TABLE;
  fl.l_len = 1;
  while (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    if (left_ns() == 0) {
      close(fd);
      return fail(FR_EX_TIMEOUT, "locker: the table lock never came free");
    }
    sleep_us(100);
  }
  atomic_store(&pr->ready_ns, ts_now_ns());
  atomic_store(&pr->phase, FR_PH_HOLDING);
  sleep_us(o->hold_ms * 1000);
  close(fd); /* drops the lock */
  return 0;
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct opts o;
  int rc = parse(argc, argv, &o);
  if (rc == 0)
    rc = open_progress(o.progress);
  if (rc)
    return rc;
  deadline_ns = ts_now_ns() + o.timeout_ms * MS;
  rc = o.producer ? run_producer(&o) : o.locker ? run_locker(&o) : run_consumer(&o);
  atomic_store(&pr->exit_code, rc);
  atomic_store(&pr->phase, FR_PH_DONE);
  return rc;
}
