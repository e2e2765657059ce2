/*
 * frm_role: the helper executable of the framing multiprocess tests. Each
 * process plays one role against one framed ring and checks every byte:
 *
 *   frm_role producer --backend shm|mmap --name N --format compact|aligned|bytes
 *            --fcap F --capacity C --seed S --profile mixed|big|fixed:SIZE
 *            --count K [--wait-consumers n] [--ready-file P --ready-at i]
 *            [--hold-file P] [--until-file P] [--timeout-ms T] [--batch B]
 *   frm_role consumer --backend ... --name N --id ID --format ... --fcap F
 *            --capacity C --seed S --profile ... [--first i|any] --last i
 *            [--api recv|try|copy|process|batch] [--slow-us u] [--die-mid-after k]
 *            [--tolerate-errors] [--ready-file P] [--done-file P]
 *            [--report P] [--timeout-ms T] [--count K] [--messages K]
 *
 * The producer publishes messages 0, 1, ... of the stream (seed, profile)
 * of frm_payload.h, one per myelon_producer_publish() call, or with
 * --batch B, B per myelon_producer_publish_batch() call (--api batch
 * receives with myelon_consumer_recv_batch(), up to 8 at a time). A consumer requires consecutive indices from --first
 * (or from whatever index it meets first, with "any": then each message
 * must name itself, so the profile must be big or fixed) up to --last, each
 * byte-exact (or until it delivered --messages). --die-mid-after k: after k messages, at the first moment a
 * message is half received, write the report and SIGKILL itself (a crash
 * in the middle of a message). --hold-file P: once message --ready-at - 1
 * is published (and --ready-file written), the producer waits until P
 * exists before it publishes more (a test's gate: a fault injected before
 * it writes P lands before the rest of the stream, however fast the machine).
 * Every wait is bounded by --timeout-ms; the
 * process also dies with its parent (the test). Exit codes: FRM_EXIT_TABLE.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <myelon/myelon.h>

#include "frm_payload.h"
#include "frm_role.h"

#define MS INT64_C(1000000)

struct opts {
  bool producer;
  enum dmp_backend backend;
  const char *name, *id;
  enum myelon_frame_format format;
  uint32_t fcap;
  uint64_t capacity;
  struct frm_stream stream;
  int64_t count;      /* producer: messages to publish; consumer: index limit for "any" */
  int64_t timeout_ms;
  const char *ready_file, *done_file, *until_file, *report_file, *hold_file;
  /* producer */
  uint32_t wait_consumers;
  int64_t ready_at;
  int64_t batch; /* > 0: publish this many per myelon_producer_publish_batch() */
  /* consumer */
  int64_t first, last; /* first -1: any */
  int64_t messages;    /* stop after this many (0: at --last) */
  enum { API_RECV, API_TRY, API_COPY, API_PROCESS, API_BATCH } api;
  int64_t slow_us;
  int64_t die_mid_after; /* -1: never */
  bool tolerate_errors;
};

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "frm_role[%d]: ", (int)getpid());
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (%s)\n", frm_exit_name(code));
  va_end(ap);
  return code;
}

static int touch(const char *path)
{
  if (!path)
    return 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0)
    return fail(FRM_EX_IO, "cannot create %s: %s", path, strerror(errno));
  close(fd);
  return 0;
}

static bool exists(const char *path)
{
  return path && access(path, F_OK) == 0;
}

static const char usage[] =
    "usage: frm_role producer|consumer --backend shm|mmap --name N --format compact|aligned|bytes\n"
    "       --fcap F --capacity C --seed S --profile mixed|big|fixed:SIZE [options]\n";

enum {
  O_BACKEND = 1, O_NAME, O_ID, O_FORMAT, O_FCAP, O_CAPACITY, O_SEED, O_PROFILE, O_COUNT, O_TIMEOUT,
  O_READY, O_READY_AT, O_DONE, O_UNTIL, O_REPORT, O_WAITC, O_FIRST, O_LAST, O_API, O_SLOW, O_DIE, O_TOLERATE,
  O_MESSAGES, O_BATCH, O_HOLD,
};

static const struct option longopts[] = {
    {"backend", required_argument, 0, O_BACKEND}, {"name", required_argument, 0, O_NAME},
    {"id", required_argument, 0, O_ID},           {"format", required_argument, 0, O_FORMAT},
    {"fcap", required_argument, 0, O_FCAP},       {"capacity", required_argument, 0, O_CAPACITY},
    {"seed", required_argument, 0, O_SEED},       {"profile", required_argument, 0, O_PROFILE},
    {"count", required_argument, 0, O_COUNT},     {"timeout-ms", required_argument, 0, O_TIMEOUT},
    {"ready-file", required_argument, 0, O_READY}, {"ready-at", required_argument, 0, O_READY_AT},
    {"done-file", required_argument, 0, O_DONE},  {"until-file", required_argument, 0, O_UNTIL},
    {"report", required_argument, 0, O_REPORT},   {"wait-consumers", required_argument, 0, O_WAITC},
    {"first", required_argument, 0, O_FIRST},     {"last", required_argument, 0, O_LAST},
    {"api", required_argument, 0, O_API},         {"slow-us", required_argument, 0, O_SLOW},
    {"die-mid-after", required_argument, 0, O_DIE}, {"tolerate-errors", no_argument, 0, O_TOLERATE},
    {"messages", required_argument, 0, O_MESSAGES}, {"batch", required_argument, 0, O_BATCH},
    {"hold-file", required_argument, 0, O_HOLD},
    {0, 0, 0, 0},
};

static int parse_profile(struct frm_stream *s, const char *arg)
{
  if (strcmp(arg, "mixed") == 0)
    s->profile = FRM_MIXED;
  else if (strcmp(arg, "big") == 0)
    s->profile = FRM_BIG;
  else if (strncmp(arg, "fixed:", 6) == 0 && (s->fixed = strtoull(arg + 6, NULL, 0)) >= FRM_HEAD)
    s->profile = FRM_FIXED;
  else
    return -1;
  return 0;
}

static int parse_api(struct opts *o, const char *arg)
{
  if (strcmp(arg, "recv") == 0)
    o->api = API_RECV;
  else if (strcmp(arg, "try") == 0)
    o->api = API_TRY;
  else if (strcmp(arg, "copy") == 0)
    o->api = API_COPY;
  else if (strcmp(arg, "process") == 0)
    o->api = API_PROCESS;
  else if (strcmp(arg, "batch") == 0)
    o->api = API_BATCH;
  else
    return -1;
  return 0;
}

static int set_opt(struct opts *o, int c, const char *arg)
{
  switch (c) {
  case O_BACKEND: o->backend = strcmp(arg, "mmap") == 0 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM; break;
  case O_NAME: o->name = arg; break;
  case O_ID: o->id = arg; break;
  case O_FORMAT:
    o->format = strcmp(arg, "aligned") == 0 ? MYELON_FRAME_ALIGNED
                : strcmp(arg, "bytes") == 0 ? MYELON_FRAME_BYTES
                                            : MYELON_FRAME_COMPACT;
    break;
  case O_FCAP: o->fcap = (uint32_t)strtoul(arg, NULL, 0); break;
  case O_CAPACITY: o->capacity = strtoull(arg, NULL, 0); break;
  case O_SEED: o->stream.seed = strtoull(arg, NULL, 0); break;
  case O_PROFILE: return parse_profile(&o->stream, arg);
  case O_COUNT: o->count = strtoll(arg, NULL, 0); break;
  case O_TIMEOUT: o->timeout_ms = strtoll(arg, NULL, 0); break;
  case O_READY: o->ready_file = arg; break;
  case O_READY_AT: o->ready_at = strtoll(arg, NULL, 0); break;
  case O_DONE: o->done_file = arg; break;
  case O_UNTIL: o->until_file = arg; break;
  case O_REPORT: o->report_file = arg; break;
  case O_WAITC: o->wait_consumers = (uint32_t)strtoul(arg, NULL, 0); break;
  case O_FIRST: o->first = strcmp(arg, "any") == 0 ? -1 : strtoll(arg, NULL, 0); break;
  case O_LAST: o->last = strtoll(arg, NULL, 0); break;
  case O_API: return parse_api(o, arg);
  case O_SLOW: o->slow_us = strtoll(arg, NULL, 0); break;
  case O_DIE: o->die_mid_after = strtoll(arg, NULL, 0); break;
  case O_TOLERATE: o->tolerate_errors = true; break;
  case O_MESSAGES: o->messages = strtoll(arg, NULL, 0); break;
  case O_BATCH: o->batch = strtoll(arg, NULL, 0); break;
  case O_HOLD: o->hold_file = arg; break;
  default: return -1;
  }
  return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
  memset(o, 0, sizeof *o);
  o->timeout_ms = 20000;
  o->count = 1000;
  o->last = -1;
  o->die_mid_after = -1;
  o->ready_at = 1;
  o->fcap = 256;
  o->capacity = 32;
  if (argc < 2 || (strcmp(argv[1], "producer") != 0 && strcmp(argv[1], "consumer") != 0))
    return -1;
  o->producer = strcmp(argv[1], "producer") == 0;
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
    if (set_opt(o, c, optarg) < 0)
      return -1;
  if (!o->name || (!o->producer && (!o->id || (o->last < 0 && o->messages <= 0))))
    return -1;
  if (o->first < 0 && o->stream.profile == FRM_MIXED)
    return -1; /* mixed messages may be too short to name themselves */
  o->stream.fcap = o->fcap;
  o->stream.ring = o->capacity;
  return 0;
}

/* ---- producer ----------------------------------------------------------- */

/* --hold-file: wait (--timeout-ms at most) until the test writes it. */
static int hold(const struct opts *o)
{
  struct timespec t0, now, nap = {0, 1000000};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!exists(o->hold_file)) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > o->timeout_ms)
      return fail(FRM_EX_TIMEOUT, "%s never appeared", o->hold_file);
    nanosleep(&nap, NULL);
  }
  return 0;
}

/* --batch: messages [i, i + n) built in their own buffers and published
 * with one myelon_producer_publish_batch() call. */
static int publish_batch(const struct opts *o, struct myelon_producer *p, int64_t i, int64_t n)
{
  struct myelon_batch_msg msgs[64];
  if (n > 64)
    return fail(FRM_EX_USAGE, "--batch %" PRId64 " is above 64", n);
  int code = FRM_EX_OK;
  int64_t k = 0;
  for (; k < n; k++) {
    size_t len = frm_size(&o->stream, (uint64_t)(i + k));
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
      code = fail(FRM_EX_SETUP, "out of memory");
      break;
    }
    frm_fill(&o->stream, (uint64_t)(i + k), buf, len);
    msgs[k] = (struct myelon_batch_msg){.data = buf, .len = len, .kind = frm_kind((uint64_t)(i + k))};
  }
  if (code == FRM_EX_OK) {
    size_t done = 0;
    int rc = myelon_producer_publish_batch(p, msgs, (size_t)n, o->timeout_ms * MS, &done);
    if (rc < 0)
      code = fail(rc == -ETIMEDOUT ? FRM_EX_TIMEOUT : FRM_EX_API,
                  "publish_batch %" PRId64 "..%" PRId64 ": %s after %zu / %s", i, i + n - 1, myelon_err_name(rc), done,
                  dmp_last_error());
    else if (done != (size_t)n)
      code = fail(FRM_EX_API, "publish_batch returned 0 with %zu of %" PRId64 " published", done, n);
  }
  while (k-- > 0)
    free((void *)msgs[k].data);
  return code;
}

static int run_producer(const struct opts *o)
{
  struct myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.backend = o->backend;
  cfg.ring.name = o->name;
  cfg.ring.capacity = o->capacity;
  cfg.ring.wait_consumers = o->wait_consumers;
  cfg.ring.wait_timeout_ns = o->timeout_ms * MS;
  cfg.format = o->format;
  cfg.frame_capacity = o->fcap;
  cfg.max_message = frm_max_size(&o->stream);
  if (o->format == MYELON_FRAME_BYTES)
    cfg.ring_bytes = frm_bytes_ring(o->capacity, o->fcap, cfg.max_message);
  struct myelon_producer *p;
  int rc = myelon_producer_create(&cfg, &p);
  if (rc < 0)
    return fail(rc == -ETIMEDOUT ? FRM_EX_TIMEOUT : FRM_EX_SETUP, "create %s: %s / %s", o->name, myelon_err_name(rc),
                dmp_last_error());
  uint8_t *buf = malloc(frm_max_size(&o->stream));
  if (!buf)
    return fail(FRM_EX_SETUP, "out of memory");
  int64_t deadline = (int64_t)time(NULL) + o->timeout_ms / 1000 + 1;
  int code = FRM_EX_OK;
  for (int64_t i = 0; o->batch > 0 && i < o->count; i += o->batch) {
    int64_t n = o->count - i < o->batch ? o->count - i : o->batch;
    if ((code = publish_batch(o, p, i, n)) != FRM_EX_OK)
      break;
  }
  for (int64_t i = 0; o->batch <= 0 && i < o->count; i++) {
    size_t len = frm_size(&o->stream, (uint64_t)i);
    frm_fill(&o->stream, (uint64_t)i, buf, len);
    rc = myelon_producer_publish(p, buf, len, frm_kind((uint64_t)i), o->timeout_ms * MS);
    if (rc < 0) {
      code = fail(rc == -ETIMEDOUT ? FRM_EX_TIMEOUT : FRM_EX_API, "publish %" PRId64 " (%zu bytes): %s / %s", i, len,
                  myelon_err_name(rc), dmp_last_error());
      break;
    }
    if (o->ready_file && i + 1 == o->ready_at && (code = touch(o->ready_file)) != 0)
      break;
    if (o->hold_file && i + 1 == o->ready_at && (code = hold(o)) != 0)
      break;
    if (exists(o->until_file))
      break;
    if (o->until_file && (int64_t)time(NULL) > deadline) {
      code = fail(FRM_EX_TIMEOUT, "%s never appeared", o->until_file);
      break;
    }
  }
  free(buf);
  myelon_producer_close(p);
  return code;
}

/* ---- consumer ----------------------------------------------------------- */

struct consumer {
  const struct opts *o;
  struct myelon_consumer *c;
  int64_t first, last, count; /* delivered so far */
  int64_t end_seq;            /* ring sequence of the last message's last frame */
  int code;                   /* FRM_EX_OK until something is wrong */
  bool done;
};

static int write_report(const struct consumer *st)
{
  if (!st->o->report_file)
    return 0;
  FILE *f = fopen(st->o->report_file, "w");
  if (!f)
    return fail(FRM_EX_IO, "cannot write %s", st->o->report_file);
  fprintf(f, "first=%" PRId64 "\nlast=%" PRId64 "\ncount=%" PRId64 "\nerrors=%" PRIu64 "\norphans=%" PRIu64 "\n",
          st->first, st->last, st->count, myelon_consumer_errors(st->c), myelon_consumer_orphans(st->c));
  fflush(f);
  fsync(fileno(f));
  fclose(f);
  return 0;
}

/* One delivered message: check it, the order, and whether we are done. */
static int on_message(struct consumer *st, const void *data, size_t len, uint8_t kind)
{
  const struct opts *o = st->o;
  uint64_t expect = st->count ? (uint64_t)st->last + 1 : (o->first >= 0 ? (uint64_t)o->first : FRM_NO_INDEX);
  uint64_t limit = o->count > 0 ? (uint64_t)o->count : UINT64_MAX;
  uint64_t idx = 0;
  int fault = frm_check(&o->stream, data, len, kind, expect, limit, &idx);
  if (fault != FRM_OK) {
    uint64_t named = 0;
    if (len >= 8)
      memcpy(&named, data, 8);
    return st->code = fail(FRM_EX_CONTENT, "message %" PRId64 " (index %" PRIu64 ", %zu bytes, kind %u, names %" PRIu64
                                           "): %s",
                           st->count, idx, len, kind, named, frm_fault_name(fault));
  }
  if (st->count == 0)
    st->first = (int64_t)idx;
  st->last = (int64_t)idx;
  st->count++;
  st->end_seq = dmp_consumer_next(myelon_consumer_ring(st->c)) - 1;
  if ((o->last >= 0 && st->last >= o->last) || (o->messages > 0 && st->count >= o->messages))
    st->done = true;
  if (o->slow_us > 0) {
    struct timespec ts = {0, (long)(o->slow_us * 1000)};
    nanosleep(&ts, NULL);
  }
  return 0;
}

/* A message lost to an error: fatal unless tolerated. */
static int on_error(struct consumer *st, int rc)
{
  if (st->o->tolerate_errors && (rc == -MYELON_E_TRUNCATED || rc == -MYELON_E_MALFORMED))
    return 0;
  int code = rc == -DMP_E_OWNERDEAD ? FRM_EX_OWNERDEAD : rc == -ETIMEDOUT ? FRM_EX_TIMEOUT : FRM_EX_API;
  return st->code = fail(code, "after %" PRId64 " messages (last %" PRId64 "): %s / %s", st->count, st->last,
                         myelon_err_name(rc), dmp_last_error());
}

/* --die-mid-after: half a message consumed and nothing complete. */
static void maybe_die(struct consumer *st)
{
  if (st->o->die_mid_after < 0 || st->count < st->o->die_mid_after)
    return;
  if (dmp_consumer_next(myelon_consumer_ring(st->c)) - 1 <= st->end_seq)
    return;
  write_report(st);
  raise(SIGKILL);
}

static int proc_cb(const struct myelon_msg *m, void *user)
{
  struct consumer *st = user;
  return on_message(st, m->data, m->len, m->kind) != 0 || st->done;
}

/* Receive until done with one of the four receive APIs. */
static int receive(struct consumer *st)
{
  const struct opts *o = st->o;
  int64_t t = o->timeout_ms * MS;
  struct myelon_msg m;
  while (!st->done && st->code == FRM_EX_OK) {
    int rc;
    switch (o->api) {
    case API_RECV:
      rc = myelon_consumer_recv(st->c, &m, t);
      rc = rc < 0 ? on_error(st, rc) : on_message(st, m.data, m.len, m.kind);
      break;
    case API_COPY: {
      void *data;
      size_t len;
      uint8_t kind;
      rc = myelon_consumer_recv_copy(st->c, &data, &len, &kind, t);
      rc = rc < 0 ? on_error(st, rc) : on_message(st, data, len, kind);
      if (rc == 0 || st->code == FRM_EX_CONTENT)
        free(data);
      break;
    }
    case API_TRY:
      rc = myelon_consumer_try_recv(st->c, &m);
      if (rc == -EAGAIN) {
        maybe_die(st);
        int64_t n = dmp_consumer_wait(myelon_consumer_ring(st->c), t);
        rc = n < 0 ? on_error(st, (int)n) : 0;
      } else {
        rc = rc < 0 ? on_error(st, rc) : on_message(st, m.data, m.len, m.kind);
      }
      break;
    case API_BATCH: {
      struct myelon_msg ms[8];
      rc = myelon_consumer_recv_batch(st->c, ms, 8, t);
      if (rc < 0)
        on_error(st, rc);
      for (int k = 0; k < rc && !st->done && st->code == FRM_EX_OK; k++)
        on_message(st, ms[k].data, ms[k].len, ms[k].kind);
      break;
    }
    default: {
      int64_t n = myelon_consumer_process(st->c, proc_cb, 0, st);
      if (n == 0 && !st->done && st->code == FRM_EX_OK) {
        n = dmp_consumer_wait(myelon_consumer_ring(st->c), t);
        if (n < 0)
          on_error(st, (int)n);
      }
      if (!o->tolerate_errors && myelon_consumer_errors(st->c) != 0)
        st->code = fail(FRM_EX_API, "process skipped %" PRIu64 " bad messages", myelon_consumer_errors(st->c));
      break;
    }
    }
    (void)rc;
  }
  return st->code;
}

static int run_consumer(const struct opts *o)
{
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.backend = o->backend;
  cfg.ring.name = o->name;
  cfg.ring.id = o->id;
  cfg.format = o->format;
  cfg.frame_capacity = o->fcap;
  cfg.max_message = frm_max_size(&o->stream);
  struct consumer st = {o, NULL, -1, -1, 0, -1, FRM_EX_OK, false};
  int rc = myelon_consumer_attach_timeout(&cfg, o->timeout_ms * MS, &st.c);
  if (rc < 0)
    return fail(FRM_EX_SETUP, "attach %s as %s: %s / %s", o->name, o->id, myelon_err_name(rc), dmp_last_error());
  st.end_seq = dmp_consumer_next(myelon_consumer_ring(st.c)) - 1;
  int code = touch(o->ready_file);
  if (code == 0)
    code = receive(&st);
  if (code == 0 && o->die_mid_after >= 0)
    code = fail(FRM_EX_NEVER_MID, "reached index %" PRId64 " without meeting a half-received message", st.last);
  int io = write_report(&st);
  if (code == 0)
    code = io ? io : touch(o->done_file);
  myelon_consumer_close(st.c);
  return code;
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct opts o;
  if (parse_opts(argc, argv, &o) < 0) {
    fputs(usage, stderr);
    return FRM_EX_USAGE;
  }
  return o.producer ? run_producer(&o) : run_consumer(&o);
}
