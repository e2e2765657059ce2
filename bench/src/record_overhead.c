/*
 * record-overhead: how much does recording a ring slow its producer down?
 * (issue #9: "recording does not slow the producer by more than 10% for
 * 1 KB messages on tmpfs".)
 *
 * Each run: this process creates a Layer 0 ring of 1 KB slots and publishes
 * --count events as fast as the ring allows, timing from the first publish
 * to the last; a consumer process (fork) reads and releases every event.
 * In the "recorded" run of a pair, a recorder process (fork; the library's
 * myelon_recorder, io_uring when available) is attached too and writes a
 * journal in --dir (default /dev/shm: tmpfs). Runs alternate, baseline
 * first, then recorded, for --pairs pairs; the figure is the median over
 * pairs of (recorded throughput / baseline throughput). The journal is
 * removed after each run.
 *
 *   record-overhead [--count N] [--pairs P] [--size BYTES] [--capacity C]
 *                   [--dir DIR] [--non-gating] [--io auto|uring|pwrite] [--json]
 *                   [--only baseline|recorded] [--bytes]
 *
 * --bytes (issue 20): the ring is a byte ring (DMP_RING_BYTES) of
 * 2 x capacity x size bytes, the producer publishes records of --size bytes
 * with dmp_producer_publish_bytes_timeout(), the consumer peeks them with
 * dmp_consumer_try_peek_bytes(), and the recorder records one journal
 * record per ring record (what myelon-journal does on a byte ring).
 *
 * --only runs one kind of run per pair (no ratio): bench/record_overhead_instr.sh
 * runs each kind under callgrind and counts the instructions of the
 * producer's publish loop (publish_events(), kept out of line for that).
 *
 * Machine-dependent: on a host with fewer cores than processes (producer,
 * consumer, recorder) the recorder competes for CPU, which this measures
 * too. Say which machine a figure came from.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/error.h>
#include <myelon/record.h>

#include "tool_clock.h"
#include "tool_parse.h"

#define S_NS INT64_C(1000000000)

struct opts {
  uint64_t count, capacity;
  uint32_t size, pairs;
  const char *dir;
  bool non_gating, json;
  enum myelon_journal_io io;
  bool bytes; /* a byte ring (--bytes) */
  int only; /* 0 both kinds (paired), 1 baseline runs only, 2 recorded runs only */
};

#define now_ns tool_now_ns

/* Child: read and release every event until the producer is gone. */
static int consumer_main(const char *ring)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = ring;
  cc.id = "app";
  struct dmp_consumer *c;
  if (dmp_consumer_attach_timeout(&cc, 10 * S_NS, &c) < 0)
    return 3;
  uint64_t sum = 0;
  if (dmp_consumer_bytes_max(c) > 0) { /* --bytes */
    for (;;) {
      const void *ev;
      size_t len;
      int64_t seq;
      if (dmp_consumer_peek_bytes_timeout(c, &ev, &len, &seq, 10 * S_NS) < 0)
        break;
      sum += *(const volatile uint8_t *)ev; /* touch the record */
      while (dmp_consumer_try_peek_bytes(c, &ev, &len, &seq) == 0)
        sum += *(const volatile uint8_t *)ev;
      dmp_consumer_release(c);
    }
    dmp_consumer_close_forget(c);
    return sum == UINT64_MAX ? 1 : 0;
  }
  for (;;) {
    const void *ev;
    int64_t seq;
    int rc = dmp_consumer_peek_timeout(c, &ev, &seq, 10 * S_NS);
    if (rc < 0)
      break;
    sum += *(const volatile uint8_t *)ev; /* touch the event */
    while (dmp_consumer_try_peek(c, &ev, &seq) == 0)
      sum += *(const volatile uint8_t *)ev;
    dmp_consumer_release(c);
  }
  dmp_consumer_close_forget(c);
  return sum == UINT64_MAX ? 1 : 0;
}

/* Child: record the ring into `journal` until the producer is gone. */
static int recorder_main(const char *ring, const char *journal, const struct opts *o)
{
  struct myelon_recorder_config rc;
  myelon_recorder_config_init(&rc);
  rc.ring = ring;
  rc.kind = MYELON_RECORD_RAW; /* a byte ring: its records, raw */
  rc.attach_timeout_ns = 10 * S_NS;
  rc.journal.path = journal;
  rc.journal.io = o->io;
  rc.journal.flags = MYELON_JOURNAL_W_OVERWRITE;
  if (o->non_gating)
    rc.flags |= MYELON_RECORD_NON_GATING;
  struct myelon_recorder *r;
  int err = myelon_recorder_open(&rc, &r);
  if (err < 0) {
    fprintf(stderr, "record-overhead: recorder: %s (%s)\n", myelon_strerror(err), dmp_last_error());
    return 3;
  }
  int res;
  while ((res = myelon_recorder_run(r, S_NS)) == 0)
    ;
  struct myelon_recorder_stats st;
  err = myelon_recorder_close(r, &st);
  if (res < 0 || err < 0) {
    fprintf(stderr, "record-overhead: recorder failed: %s\n", myelon_strerror(res < 0 ? res : err));
    return 4;
  }
  fprintf(stderr, "  recorder: %" PRIu64 " recorded, %" PRIu64 " dropped, lag max %" PRIu64 ", io %s\n",
          st.recorded, st.dropped, st.lag_max, st.backend);
  return 0;
}

static pid_t spawn(int (*fn)(const char *, const char *, const struct opts *), const char *a, const char *b,
                   const struct opts *o)
{
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    _exit(fn(a, b, o));
  }
  return pid;
}

static int consumer_fn(const char *ring, const char *unused, const struct opts *o)
{
  (void)unused;
  (void)o;
  return consumer_main(ring);
}

/* The producer's loop: publish `count` events of `size` bytes; how many went
 * out. Out of line and named so that callgrind can count its instructions
 * alone (--toggle-collect=publish_events, bench/record_overhead_instr.sh). */
__attribute__((noinline)) uint64_t publish_events(struct dmp_producer *p, uint8_t *msg, uint32_t size,
                                                  uint64_t count, bool bytes);
__attribute__((noinline)) uint64_t publish_events(struct dmp_producer *p, uint8_t *msg, uint32_t size,
                                                  uint64_t count, bool bytes)
{
  uint64_t i;
  for (i = 0; i < count; i++) {
    msg[0] = (uint8_t)i;
    memcpy(msg + 8, &i, 8);
    int64_t rc = bytes ? dmp_producer_publish_bytes_timeout(p, msg, size, 20 * S_NS)
                       : dmp_producer_publish_timeout(p, msg, size, 20 * S_NS);
    if (rc < 0)
      break;
  }
  return i;
}

/* One run: events per second seen by the producer, or < 0 on failure. */
static double run(const struct opts *o, bool recorded, int k)
{
  char ring[32], journal[512];
  snprintf(ring, sizeof ring, "recov%d_%d", (int)getpid() % 100000, k);
  snprintf(journal, sizeof journal, "%s/record-overhead-%d-%d", o->dir, (int)getpid(), k);
  pid_t cons = spawn(consumer_fn, ring, NULL, o);
  pid_t rec = recorded ? spawn(recorder_main, ring, journal, o) : -1;
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = ring;
  pc.capacity = o->capacity;
  pc.slot_size = o->size;
  if (o->bytes) { /* ring bytes, default 64-byte blocks */
    pc.flags |= DMP_RING_BYTES;
    pc.capacity = 2 * o->capacity * o->size;
    pc.slot_size = 0;
  }
  pc.wait_consumers = recorded ? 2 : 1;
  pc.wait_timeout_ns = 20 * S_NS;
  struct dmp_producer *p;
  int rc = dmp_producer_create(&pc, &p);
  double rate = -1;
  if (rc == 0) {
    uint8_t *msg = calloc(1, o->size);
    int64_t t0 = now_ns();
    uint64_t i = publish_events(p, msg, o->size, o->count, o->bytes);
    int64_t t = now_ns() - t0;
    if (i == o->count)
      rate = (double)o->count * 1e9 / (double)t;
    free(msg);
    dmp_producer_close(p);
  } else {
    fprintf(stderr, "record-overhead: create: %s (%s)\n", myelon_strerror(rc), dmp_last_error());
  }
  int st;
  if (waitpid(cons, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    rate = -1;
  if (rec > 0 && (waitpid(rec, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0))
    rate = -1;
  for (uint32_t part = 1; part <= MYELON_JOURNAL_MAX_PARTS; part++) {
    char path[600];
    if (myelon_journal_part_path(journal, part, path, sizeof path) < 0 || unlink(path) < 0)
      break;
  }
  return rate;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int usage(void)
{
  fputs("usage: record-overhead [--count N] [--pairs P] [--size BYTES] [--capacity C] [--dir DIR]\n"
        "                       [--non-gating] [--io auto|uring|pwrite] [--json]\n"
        "                       [--only baseline|recorded] [--bytes]\n",
        stderr);
  return 64;
}

int main(int argc, char **argv)
{
  struct opts o = {200000, 4096, 1024, 5, "/dev/shm", false, false, MYELON_JOURNAL_IO_AUTO, 0, false};
  static const struct option lo[] = {
      {"count", required_argument, 0, 'n'}, {"pairs", required_argument, 0, 'p'},
      {"size", required_argument, 0, 's'},  {"capacity", required_argument, 0, 'c'},
      {"dir", required_argument, 0, 'd'},   {"non-gating", no_argument, 0, 'g'},
      {"io", required_argument, 0, 'i'},    {"json", no_argument, 0, 'j'},
      {"only", required_argument, 0, 'o'},  {"help", no_argument, 0, 'h'},
      {"bytes", no_argument, 0, 'b'},
      {0, 0, 0, 0},
  };
  int c;
  uint64_t v;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (c) {
    case 'n':
      if (!tool_parse_u64(optarg, &o.count))
        return usage();
      break;
    case 'p':
      if (!tool_parse_u64(optarg, &v) || v > UINT32_MAX)
        return usage();
      o.pairs = (uint32_t)v;
      break;
    case 's':
      if (!tool_parse_size(optarg, &v) || v > UINT32_MAX)
        return usage();
      o.size = (uint32_t)v;
      break;
    case 'c':
      if (!tool_parse_u64(optarg, &o.capacity))
        return usage();
      break;
    case 'd': o.dir = optarg; break;
    case 'g': o.non_gating = true; break;
    case 'i':
      o.io = strcmp(optarg, "uring") == 0    ? MYELON_JOURNAL_IO_URING
             : strcmp(optarg, "pwrite") == 0 ? MYELON_JOURNAL_IO_PWRITE
                                             : MYELON_JOURNAL_IO_AUTO;
      break;
    case 'j': o.json = true; break;
    case 'b': o.bytes = true; break;
    case 'o':
      if (strcmp(optarg, "baseline") == 0)
        o.only = 1;
      else if (strcmp(optarg, "recorded") == 0)
        o.only = 2;
      else
        return usage();
      break;
    default: return usage();
    }
  }
  if (o.count == 0 || o.pairs == 0 || o.pairs > 100 || o.size < 16)
    return usage();
  if (o.only) {
    for (uint32_t k = 0; k < o.pairs; k++) {
      double r = run(&o, o.only == 2, (int)k);
      if (r <= 0) {
        fprintf(stderr, "record-overhead: run %u failed\n", k);
        return 1;
      }
      printf("%s run %u: %.0f msg/s\n", o.only == 2 ? "recorded" : "baseline", k, r);
    }
    return 0;
  }
  double ratio[100], base[100], with[100];
  for (uint32_t k = 0; k < o.pairs; k++) {
    base[k] = run(&o, false, (int)(2 * k));
    with[k] = run(&o, true, (int)(2 * k + 1));
    if (base[k] <= 0 || with[k] <= 0) {
      fprintf(stderr, "record-overhead: run %u failed\n", k);
      return 1;
    }
    ratio[k] = with[k] / base[k];
    fprintf(stderr, "pair %u: baseline %.0f msg/s (%.2f GB/s), recorded %.0f msg/s, ratio %.3f\n", k, base[k],
            base[k] * o.size / 1e9, with[k], ratio[k]);
  }
  double sorted[100];
  memcpy(sorted, ratio, sizeof(double) * o.pairs);
  qsort(sorted, o.pairs, sizeof(double), cmp_double);
  double med = o.pairs % 2 ? sorted[o.pairs / 2] : (sorted[o.pairs / 2 - 1] + sorted[o.pairs / 2]) / 2;
  if (o.json) {
    printf("{\"count\":%" PRIu64 ",\"size\":%u,\"capacity\":%" PRIu64 ",\"dir\":\"%s\",\"gating\":%s,\"pairs\":[", o.count,
           o.size, o.capacity, o.dir, o.non_gating ? "false" : "true");
    for (uint32_t k = 0; k < o.pairs; k++)
      printf("%s{\"baseline\":%.0f,\"recorded\":%.0f,\"ratio\":%.4f}", k ? "," : "", base[k], with[k], ratio[k]);
    printf("],\"median_ratio\":%.4f}\n", med);
  } else {
    printf("record-overhead: %u-byte events, %" PRIu64 " per run, %u pairs, journal in %s, %s recorder%s\n", o.size,
           o.count, o.pairs, o.dir, o.non_gating ? "non-gating" : "gating", o.bytes ? ", byte ring" : "");
    printf("median throughput ratio recorded/baseline: %.3f (producer slowed by %.1f%%)\n", med, (1 - med) * 100);
  }
  return 0;
}
