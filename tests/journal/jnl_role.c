/*
 * jnl_role: the helper executable of the journal multiprocess tests.
 *
 *   jnl_role producer --kind raw|framed --name N --count K --seed S
 *            [--backend shm|mmap] [--capacity C] [--slot S] [--fcap F]
 *            [--format compact|aligned] [--max M] [--wait-consumers n]
 *            [--ready-file P] [--go-file P] [--never-block] [--timeout-ms T]
 *            [--shape slots|bytes]
 *   jnl_role consumer --kind raw|framed --name N --count K --seed S
 *            [--backend shm|mmap] [--id ID] [--slot S] [--max M]
 *            [--ready-file P] [--timeout-ms T] [--shape slots|bytes] [--prefix]
 *
 * The producer creates the ring, waits for n consumers, touches the ready
 * file, waits for the go file (if given), then publishes events/messages
 * 0 .. K-1 of the stream (seed) of jnl_payload.h: raw events fill a whole
 * slot, framed messages have jp_len(seed, i, max) bytes and kind i & 0xff.
 * With --never-block it only ever tries to publish (never waits) and fails
 * if the ring was ever full: the proof that a non-gating consumer did not
 * hold it back. With --shape bytes the ring is a byte ring of --capacity
 * bytes (raw: DMP_RING_BYTES, whose records have jp_len(seed, i, max)
 * bytes; framed: MYELON_FRAME_BYTES).
 *
 * The consumer attaches (waiting for the ring), touches the ready file,
 * requires events/messages 0 .. K-1 in order and byte-exact, then requires
 * that nothing else arrives before the producer goes away. With --prefix
 * the producer may go away after any number n <= K of them (it was
 * killed): the consumer then prints n on stdout and exits 0 if events
 * 0 .. n-1 arrived, in order and byte-exact.
 *
 * Every wait is bounded by --timeout-ms; the process dies with its parent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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

#include <myelon/myelon.h>

#include "jnl_payload.h"

enum {
  EX_OK = 0, EX_USAGE = 2, EX_SETUP = 3, EX_TIMEOUT = 4, EX_CONTENT = 6, EX_API = 7, EX_EXTRA = 8, EX_BLOCKED = 9,
};

#define MS INT64_C(1000000)

struct opts {
  bool producer, framed;
  enum dmp_backend backend;
  const char *name, *id, *ready_file, *go_file;
  uint64_t count, seed, capacity;
  uint32_t slot, fcap;
  enum myelon_frame_format format;
  size_t max;
  uint32_t wait_consumers;
  bool never_block;
  bool bytes, prefix;
  int64_t timeout_ms;
};

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "jnl_role[%d]: ", (int)getpid());
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (exit %d; %s)\n", code, dmp_last_error());
  va_end(ap);
  return code;
}

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void touch(const char *path)
{
  if (path) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      close(fd);
      rename(tmp, path); /* appears at once */
    }
  }
}

static const struct option longopts[] = {
    {"kind", required_argument, 0, 'k'},      {"name", required_argument, 0, 'n'},
    {"count", required_argument, 0, 'c'},     {"seed", required_argument, 0, 's'},
    {"backend", required_argument, 0, 'b'},   {"capacity", required_argument, 0, 'C'},
    {"slot", required_argument, 0, 'S'},      {"fcap", required_argument, 0, 'F'},
    {"format", required_argument, 0, 'f'},    {"max", required_argument, 0, 'M'},
    {"wait-consumers", required_argument, 0, 'w'}, {"ready-file", required_argument, 0, 'r'},
    {"go-file", required_argument, 0, 'g'},   {"never-block", no_argument, 0, 'N'},
    {"timeout-ms", required_argument, 0, 't'}, {"id", required_argument, 0, 'i'},
    {"shape", required_argument, 0, 'B'},     {"prefix", no_argument, 0, 'P'},
    {0, 0, 0, 0},
};

static int parse(int argc, char **argv, struct opts *o)
{
  memset(o, 0, sizeof *o);
  o->capacity = 64;
  o->slot = 64;
  o->fcap = 128;
  o->max = 1000;
  o->timeout_ms = 20000;
  o->id = "c0";
  if (argc < 2 || (strcmp(argv[1], "producer") && strcmp(argv[1], "consumer")))
    return -1;
  o->producer = strcmp(argv[1], "producer") == 0;
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'k': o->framed = strcmp(optarg, "framed") == 0; break;
    case 'n': o->name = optarg; break;
    case 'c': o->count = strtoull(optarg, NULL, 0); break;
    case 's': o->seed = strtoull(optarg, NULL, 0); break;
    case 'b': o->backend = strcmp(optarg, "mmap") == 0 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM; break;
    case 'C': o->capacity = strtoull(optarg, NULL, 0); break;
    case 'S': o->slot = (uint32_t)strtoul(optarg, NULL, 0); break;
    case 'F': o->fcap = (uint32_t)strtoul(optarg, NULL, 0); break;
    case 'f': o->format = strcmp(optarg, "aligned") == 0 ? MYELON_FRAME_ALIGNED : MYELON_FRAME_COMPACT; break;
    case 'M': o->max = strtoull(optarg, NULL, 0); break;
    case 'w': o->wait_consumers = (uint32_t)strtoul(optarg, NULL, 0); break;
    case 'r': o->ready_file = optarg; break;
    case 'g': o->go_file = optarg; break;
    case 'N': o->never_block = true; break;
    case 't': o->timeout_ms = strtoll(optarg, NULL, 0); break;
    case 'i': o->id = optarg; break;
    case 'B': o->bytes = strcmp(optarg, "bytes") == 0; break;
    case 'P': o->prefix = true; break;
    default: return -1;
    }
  }
  return o->name && o->count ? 0 : -1;
}

static int wait_go(const struct opts *o, int64_t deadline)
{
  while (o->go_file && access(o->go_file, F_OK) != 0) {
    if (now_ns() > deadline)
      return fail(EX_TIMEOUT, "no go file %s", o->go_file);
    usleep(1000);
  }
  return 0;
}

/* ---- producer ---------------------------------------------------------- */

static int produce_raw(const struct opts *o, int64_t deadline)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.capacity = o->capacity;
  cfg.slot_size = o->bytes ? 0 : o->slot; /* a byte ring: the default block */
  if (o->bytes)
    cfg.flags |= DMP_RING_BYTES;
  cfg.wait_consumers = o->wait_consumers;
  cfg.wait_timeout_ns = o->timeout_ms * MS;
  struct dmp_producer *p;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0)
    return fail(EX_SETUP, "create %s: %s", o->name, myelon_err_name(rc));
  touch(o->ready_file);
  if ((rc = wait_go(o, deadline)) != 0)
    return dmp_producer_close(p), rc;
  size_t cap = o->bytes ? o->max : o->slot;
  uint8_t *ev = malloc(cap + 1);
  for (uint64_t i = 0; i < o->count && rc == 0; i++) {
    size_t len = o->bytes ? jp_len(o->seed, i, o->max) : o->slot;
    jp_fill(ev, len, o->seed, i);
    int64_t r;
    if (o->bytes)
      r = o->never_block ? dmp_producer_try_publish_bytes(p, ev, len)
                         : dmp_producer_publish_bytes_timeout(p, ev, len, deadline - now_ns());
    else
      r = o->never_block ? dmp_producer_try_publish(p, ev, len)
                         : dmp_producer_publish_timeout(p, ev, len, deadline - now_ns());
    if (r == -EAGAIN)
      rc = fail(EX_BLOCKED, "event %llu: the ring was full (a consumer held the producer back)",
                (unsigned long long)i);
    else if (r < 0)
      rc = fail(r == -ETIMEDOUT ? EX_TIMEOUT : EX_API, "publish %llu: %s", (unsigned long long)i,
                myelon_err_name((int)r));
  }
  free(ev);
  dmp_producer_close(p);
  return rc;
}

static int produce_framed(const struct opts *o, int64_t deadline)
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
  if (o->bytes) {
    cfg.format = MYELON_FRAME_BYTES;
    cfg.ring.capacity = 0;
    cfg.ring_bytes = o->capacity;
  }
  struct myelon_producer *p;
  int rc = myelon_producer_create(&cfg, &p);
  if (rc < 0)
    return fail(EX_SETUP, "create %s: %s", o->name, myelon_err_name(rc));
  touch(o->ready_file);
  if ((rc = wait_go(o, deadline)) != 0)
    return myelon_producer_close(p), rc;
  uint8_t *msg = malloc(o->max + 1);
  for (uint64_t i = 0; i < o->count && rc == 0; i++) {
    size_t len = jp_len(o->seed, i, o->max);
    jp_fill(msg, len, o->seed, i);
    int r = o->never_block ? myelon_producer_try_publish(p, msg, len, (uint8_t)i)
                           : myelon_producer_publish(p, msg, len, (uint8_t)i, deadline - now_ns());
    if (r == -EAGAIN)
      rc = fail(EX_BLOCKED, "message %llu: the ring was full", (unsigned long long)i);
    else if (r < 0)
      rc = fail(r == -ETIMEDOUT ? EX_TIMEOUT : EX_API, "publish %llu: %s", (unsigned long long)i, myelon_err_name(r));
  }
  free(msg);
  myelon_producer_close(p);
  return rc;
}

/* ---- consumer ---------------------------------------------------------- */

static int consume_raw(const struct opts *o, int64_t deadline)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.id = o->id;
  struct dmp_consumer *c;
  int rc = dmp_consumer_attach_timeout(&cfg, deadline - now_ns(), &c);
  if (rc < 0)
    return fail(EX_SETUP, "attach %s: %s", o->name, myelon_err_name(rc));
  touch(o->ready_file);
  uint32_t slot = dmp_consumer_slot_size(c);
  if (o->bytes ? dmp_consumer_bytes_max(c) == 0 : slot != o->slot)
    return dmp_consumer_close(c), fail(EX_CONTENT, "slot size %u, want %u (byte ring: %d)", slot, o->slot, o->bytes);
  size_t cap = o->bytes ? dmp_consumer_bytes_max(c) : slot;
  uint8_t *ev = malloc(cap + 1);
  uint64_t i = 0;
  for (; i < o->count && rc == 0; i++) {
    int64_t seq;
    size_t len = slot, want = o->bytes ? jp_len(o->seed, i, o->max) : slot;
    int r = o->bytes ? dmp_consumer_copy_bytes_timeout(c, ev, cap, &len, &seq, deadline - now_ns())
                     : dmp_consumer_copy_timeout(c, ev, slot, &seq, deadline - now_ns());
    if (r == -DMP_E_OWNERDEAD && o->prefix)
      break; /* the producer was killed after i events */
    if (r < 0)
      rc = fail(r == -ETIMEDOUT ? EX_TIMEOUT : EX_API, "event %llu: %s", (unsigned long long)i, myelon_err_name(r));
    else if (jp_check(ev, len, o->seed, i, want) != 0)
      rc = fail(EX_CONTENT, "event %llu (seq %lld, %zu bytes) differs", (unsigned long long)i, (long long)seq, len);
  }
  if (rc == 0 && o->prefix)
    printf("%llu\n", (unsigned long long)i);
  if (rc == 0) {
    int64_t seq;
    size_t len;
    int r = o->bytes ? dmp_consumer_copy_bytes_timeout(c, ev, cap, &len, &seq, deadline - now_ns())
                     : dmp_consumer_copy_timeout(c, ev, slot, &seq, deadline - now_ns());
    if (r == 0)
      rc = fail(EX_EXTRA, "an event after the last one (seq %lld)", (long long)seq);
    else if (r != -DMP_E_OWNERDEAD)
      rc = fail(EX_TIMEOUT, "waiting for the end: %s", myelon_err_name(r));
  }
  free(ev);
  dmp_consumer_close_forget(c);
  return rc;
}

static int consume_framed(const struct opts *o, int64_t deadline)
{
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.backend = o->backend;
  cfg.ring.name = o->name;
  cfg.ring.id = o->id;
  cfg.format = o->bytes ? MYELON_FRAME_BYTES : o->format;
  struct myelon_consumer *c;
  int rc = myelon_consumer_attach_timeout(&cfg, deadline - now_ns(), &c);
  if (rc < 0)
    return fail(EX_SETUP, "attach %s: %s", o->name, myelon_err_name(rc));
  touch(o->ready_file);
  uint64_t i = 0;
  for (; i < o->count && rc == 0; i++) {
    struct myelon_msg m;
    int r = myelon_consumer_recv(c, &m, deadline - now_ns());
    if (r == -DMP_E_OWNERDEAD && o->prefix)
      break; /* the producer was killed after i messages */
    if (r < 0)
      rc = fail(r == -ETIMEDOUT ? EX_TIMEOUT : EX_API, "message %llu: %s", (unsigned long long)i, myelon_err_name(r));
    else if (m.kind != (uint8_t)i || jp_check(m.data, m.len, o->seed, i, jp_len(o->seed, i, o->max)) != 0)
      rc = fail(EX_CONTENT, "message %llu differs (len %zu, kind %u)", (unsigned long long)i, m.len, m.kind);
    myelon_consumer_release(c);
  }
  if (rc == 0 && o->prefix)
    printf("%llu\n", (unsigned long long)i);
  if (rc == 0) {
    struct myelon_msg m;
    int r = myelon_consumer_recv(c, &m, deadline - now_ns());
    if (r == 0)
      rc = fail(EX_EXTRA, "a message after the last one (len %zu)", m.len);
    else if (r != -DMP_E_OWNERDEAD)
      rc = fail(EX_TIMEOUT, "waiting for the end: %s", myelon_err_name(r));
  }
  myelon_consumer_close(c);
  return rc;
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
  struct opts o;
  if (parse(argc, argv, &o) < 0)
    return fail(EX_USAGE, "usage: jnl_role producer|consumer --name N --count K [options]");
  int64_t deadline = now_ns() + o.timeout_ms * MS;
  if (o.producer)
    return o.framed ? produce_framed(&o, deadline) : produce_raw(&o, deadline);
  return o.framed ? consume_framed(&o, deadline) : consume_raw(&o, deadline);
}
