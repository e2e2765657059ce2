/*
 * cnt_role: the helper executable of the counters tests. Each process plays
 * one role against one ring and synchronises with the test through files
 * (ready/go/hold markers). Every wait is bounded by --timeout-ms, and the
 * process dies with its parent.
 *
 *   cnt_role producer --backend B --name N [--capacity C] [--publish K] [--keep]
 *                     [--created F] [--go F] [--ready F] [--hold F]
 *       create the ring (8-byte slots), touch created, wait for go, publish
 *       K events (blocking claims), touch ready, wait for hold, close.
 *   cnt_role consumer --backend B --name N --id ID [--read K] [--ready F]
 *                     [--go F] [--hold F] [--done F]
 *       attach; touch ready; wait for go; read K events; touch done; wait
 *       for hold; close (a clean detach).
 *   cnt_role counter  --backend B --name N --label L [--add V] [--fill]
 *                     [--report F] [--ready F] [--hold F]
 *       open the ring's counters, register L, add V; with --fill register
 *       "fill-<i>" until the region is full; write "index= value=
 *       registrations= filled= full_rc=" to F(report); touch ready; hold.
 *       With --fill, a region already full for L is not an error.
 *   cnt_role error    --backend B --name N --code C --text T
 *       record one distinct error.
 *
 * Exit codes: 0 ok, 2 usage, 3 library error (printed), 4 timeout, 5 I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

#define EX_USAGE_ 2
#define EX_LIB 3
#define EX_TIMEOUT 4
#define EX_IO 5
#define MS INT64_C(1000000)

struct opts {
  const char *role, *name, *id, *label, *text;
  const char *ready, *go, *hold, *done, *report, *created;
  enum dmp_backend backend;
  uint64_t capacity;
  int64_t publish, read, add, timeout_ms;
  int code;
  bool keep, fill;
};

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cnt_role: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return code;
}

static int touch(const char *path)
{
  if (!path)
    return 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(EX_IO, "cannot create %s: %s", path, strerror(errno));
  close(fd);
  return 0;
}

static int await(const struct opts *o, const char *path)
{
  if (path && !ts_wait_path(path, (int)o->timeout_ms))
    return fail(EX_TIMEOUT, "%s did not appear within %lld ms", path, (long long)o->timeout_ms);
  return 0;
}

static int lib_fail(const char *what, int rc)
{
  return fail(EX_LIB, "%s: %s (%s)", what, dmp_err_name(rc), dmp_last_error());
}

static int run_producer(const struct opts *o)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.capacity = o->capacity;
  cfg.slot_size = 8;
  cfg.flags = o->keep ? DMP_RING_KEEP : 0;
  struct dmp_producer *p;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0)
    return lib_fail("dmp_producer_create", rc);
  if ((rc = touch(o->created)) != 0 || (rc = await(o, o->go)) != 0) {
    dmp_producer_close(p);
    return rc;
  }
  for (int64_t i = 0; i < o->publish; i++) {
    int64_t s = dmp_producer_publish_timeout(p, &i, sizeof i, o->timeout_ms * MS);
    if (s < 0) {
      dmp_producer_close(p);
      return lib_fail("publish", (int)s);
    }
  }
  if ((rc = touch(o->ready)) == 0)
    rc = await(o, o->hold);
  dmp_producer_close(p);
  return rc;
}

static int read_events(const struct opts *o, struct dmp_consumer *c)
{
  for (int64_t i = 0; i < o->read; i++) {
    int64_t seq, v = -1;
    int rc = dmp_consumer_copy_timeout(c, &v, sizeof v, &seq, o->timeout_ms * MS);
    if (rc < 0)
      return lib_fail("read", rc);
    if (v != seq)
      return fail(EX_LIB, "event %lld carries %lld", (long long)seq, (long long)v);
  }
  return 0;
}

static int run_consumer(const struct opts *o)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.id = o->id;
  struct dmp_consumer *c;
  int rc = dmp_consumer_attach_timeout(&cfg, o->timeout_ms * MS, &c);
  if (rc < 0)
    return lib_fail("dmp_consumer_attach", rc);
  if ((rc = touch(o->ready)) == 0 && (rc = await(o, o->go)) == 0 && (rc = read_events(o, c)) == 0 &&
      (rc = touch(o->done)) == 0)
    rc = await(o, o->hold);
  dmp_consumer_close(c);
  return rc;
}

static int fill(struct dmp_counters *set, int *full_rc)
{
  int n = 0;
  for (;; n++) {
    char label[32];
    struct dmp_counter c;
    snprintf(label, sizeof label, "fill-%d", n);
    int rc = dmp_counters_register(set, 0, label, &c);
    if (rc < 0) {
      *full_rc = rc;
      return n;
    }
    dmp_counter_inc(c);
  }
}

static int run_counter(const struct opts *o)
{
  struct dmp_counters *set;
  int rc = dmp_counters_open(o->backend, o->name, &set);
  if (rc < 0)
    return lib_fail("dmp_counters_open", rc);
  struct dmp_counter c;
  int index = dmp_counters_register(set, 0, o->label, &c);
  if (index < 0 && !(o->fill && index == -ENOSPC)) { /* racing fillers may find it full */
    dmp_counters_close(set);
    return lib_fail("dmp_counters_register", index);
  }
  dmp_counter_add(c, (uint64_t)o->add);
  int filled = 0, full_rc = 0;
  if (o->fill)
    filled = fill(set, &full_rc);
  uint32_t regs = 0;
  int n = dmp_counters_read(set, NULL, 0);
  struct dmp_counter_stat *all = calloc((size_t)(n > 0 ? n : 1), sizeof *all);
  n = all ? dmp_counters_read(set, all, (size_t)n) : 0;
  for (int i = 0; i < n; i++)
    if ((int)all[i].index == index)
      regs = all[i].registrations;
  free(all);
  if (o->report) {
    FILE *f = fopen(o->report, "w");
    if (!f)
      return fail(EX_IO, "cannot write %s", o->report);
    fprintf(f, "index=%d value=%llu registrations=%u filled=%d full_rc=%d\n", index,
            (unsigned long long)dmp_counter_get(c), regs, filled, full_rc);
    fclose(f);
  }
  if ((rc = touch(o->ready)) == 0)
    rc = await(o, o->hold);
  dmp_counters_close(set);
  return rc;
}

static int run_error(const struct opts *o)
{
  struct dmp_counters *set;
  int rc = dmp_counters_open(o->backend, o->name, &set);
  if (rc < 0)
    return lib_fail("dmp_counters_open", rc);
  rc = dmp_counters_error(set, o->code, "%s", o->text);
  dmp_counters_close(set);
  return rc < 0 ? lib_fail("dmp_counters_error", rc) : 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
  enum { BACKEND = 256, NAME, ID, LABEL, TEXT, READY, GO, HOLD, DONE, REPORT, CAPACITY, PUBLISH, READ, ADD,
         TIMEOUT, CODE, KEEP, FILL, CREATED };
  static const struct option longs[] = {
    {"backend", 1, 0, BACKEND}, {"name", 1, 0, NAME},       {"id", 1, 0, ID},         {"label", 1, 0, LABEL},
    {"text", 1, 0, TEXT},       {"ready", 1, 0, READY},     {"go", 1, 0, GO},         {"hold", 1, 0, HOLD},
    {"done", 1, 0, DONE},       {"report", 1, 0, REPORT},   {"capacity", 1, 0, CAPACITY},
    {"publish", 1, 0, PUBLISH}, {"read", 1, 0, READ},       {"add", 1, 0, ADD},       {"timeout-ms", 1, 0, TIMEOUT},
    {"code", 1, 0, CODE},       {"keep", 0, 0, KEEP},       {"fill", 0, 0, FILL},     {"created", 1, 0, CREATED},
    {0, 0, 0, 0}};
  o->capacity = 8;
  o->timeout_ms = ts_timeout_ms(20000);
  if (argc < 2)
    return fail(EX_USAGE_, "usage: cnt_role producer|consumer|counter|error [options]");
  o->role = argv[1];
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (c) {
    case BACKEND: o->backend = strcmp(optarg, "mmap") == 0 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM; break;
    case NAME: o->name = optarg; break;
    case ID: o->id = optarg; break;
    case LABEL: o->label = optarg; break;
    case TEXT: o->text = optarg; break;
    case READY: o->ready = optarg; break;
    case GO: o->go = optarg; break;
    case HOLD: o->hold = optarg; break;
    case DONE: o->done = optarg; break;
    case REPORT: o->report = optarg; break;
    case CAPACITY: o->capacity = strtoull(optarg, NULL, 0); break;
    case PUBLISH: o->publish = strtoll(optarg, NULL, 0); break;
    case READ: o->read = strtoll(optarg, NULL, 0); break;
    case ADD: o->add = strtoll(optarg, NULL, 0); break;
    case TIMEOUT: o->timeout_ms = strtoll(optarg, NULL, 0); break;
    case CODE: o->code = (int)strtol(optarg, NULL, 0); break;
    case KEEP: o->keep = true; break;
    case FILL: o->fill = true; break;
    case CREATED: o->created = optarg; break;
    default: return fail(EX_USAGE_, "bad option");
    }
  }
  if (!o->name)
    return fail(EX_USAGE_, "--name is required");
  return 0;
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct opts o;
  memset(&o, 0, sizeof o);
  int rc = parse(argc, argv, &o);
  if (rc != 0)
    return rc;
  if (strcmp(o.role, "producer") == 0)
    return run_producer(&o);
  if (strcmp(o.role, "consumer") == 0)
    return o.id ? run_consumer(&o) : fail(EX_USAGE_, "--id is required");
  if (strcmp(o.role, "counter") == 0)
    return o.label ? run_counter(&o) : fail(EX_USAGE_, "--label is required");
  if (strcmp(o.role, "error") == 0)
    return o.text ? run_error(&o) : fail(EX_USAGE_, "--text is required");
  return fail(EX_USAGE_, "unknown role '%s'", o.role);
}
