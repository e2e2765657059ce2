/*
 * brg_raw: the raw (Layer 0) ring's producer and reader of the bridge tests.
 * A raw ring has no framing: the bridge carries it slot by slot, each slot
 * all of its bytes. Slot i of stream (seed, slot size S) holds
 *
 *   bytes 0..8    i (u64, little-endian on every host we run)
 *   bytes 8..16   FNV-1a 64 of bytes 16 .. len
 *   bytes 16..len a pattern of (seed, i)
 *   bytes len..S  zero (Layer 0 zeroes what a publish leaves)
 *
 * with len = 16 + (i * 7919 + seed) % (S - 15). With --bytes the ring is a
 * byte ring (DMP_RING_BYTES) of --capacity bytes (default block) and slot i
 * is a record of exactly its first len bytes (no tail). The reader checks each slot
 * byte for byte (so a slot cut short, or one of another slot, is caught),
 * its checksum, and the index: every slot once, in order.
 *
 *   brg_raw producer --name N --slot S --capacity C --seed X --count K
 *           [--tag T] [--mp] [--abort-every A] [--wait-consumers n] [--bytes]
 *           [--ready-file P --ready-at i] [--timeout-ms T]
 *   brg_raw reader --name N --slot S --seed X --count K --report FILE
 *           [--tag T] [--timeout-ms T] [--events FILE] [--expect-end |
 *           --until-end] [--from-any] [--slow-us U] [--bytes]
 *
 * producer: creates the ring (--mp: DMP_RING_MULTI_PRODUCER; --abort-every
 * A: every A-th claim is aborted, a tombstone the readers step over, and
 * takes no index) and publishes slots 0 .. K-1, then exits 0.
 * reader: as brg_reader (tests/bridge): attaches to the ring (again after
 * each -DMP_E_OWNERDEAD: the ingress's next ring), counts slots lost,
 * duplicated and damaged, writes "received=R dup=D lost=L bad=B attaches=A"
 * to --report; the options mean what they mean there. Exit 0 when all K
 * arrived with dup = lost = bad = 0, 1 otherwise, 2 usage. Every wait is
 * bounded by --timeout-ms; the process dies with its parent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

struct opts {
  const char *name, *report, *events, *ready;
  uint32_t slot;
  uint64_t capacity, seed, tag;
  int64_t count, timeout_ms, slow_us, ready_at, abort_every;
  uint32_t wait_consumers;
  bool mp, expect_end, until_end, from_any, bytes;
};

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static size_t slot_len(const struct opts *o, uint64_t i)
{
  return 16 + (size_t)((i * 7919 + o->seed) % (o->slot - 15));
}

/* Slot i as its producer writes it (the whole slot, zero tail included). */
static void make_slot(const struct opts *o, uint64_t i, uint8_t *buf)
{
  size_t len = slot_len(o, i);
  memset(buf, 0, o->slot);
  memcpy(buf, &i, 8);
  uint64_t x = (o->seed + 1) * 0x9e3779b97f4a7c15ULL ^ (i + 1) * 0xbf58476d1ce4e5b9ULL;
  for (size_t k = 16; k < len; k++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[k] = (uint8_t)x;
  }
  uint64_t h = fnv(buf + 16, len - 16);
  memcpy(buf + 8, &h, 8);
}

static void event(const char *path, const char *what)
{
  if (path == NULL)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  FILE *f = fopen(path, "a");
  if (f != NULL) {
    fprintf(f, "%s %lld\n", what, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    fclose(f);
  }
}

static void nap_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static int produce(const struct opts *o)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.name = o->name;
  cfg.capacity = o->capacity;
  cfg.slot_size = o->bytes ? 0 : o->slot; /* a byte ring: the default block */
  cfg.type_tag = o->tag;
  cfg.flags = (o->mp ? DMP_RING_MULTI_PRODUCER : 0) | (o->bytes ? DMP_RING_BYTES : 0);
  cfg.wait_consumers = o->wait_consumers;
  cfg.wait_timeout_ns = o->timeout_ms * 1000000;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0) {
    fprintf(stderr, "brg_raw producer: create %s: %s (%s)\n", o->name, dmp_strerror(-rc), dmp_last_error());
    return 1;
  }
  uint8_t *buf = malloc(o->slot);
  int64_t deadline = now_ms() + o->timeout_ms, claims = 0;
  int status = 0;
  for (int64_t i = 0; i < o->count && buf != NULL;) {
    void *slot;
    size_t len = o->bytes ? slot_len(o, (uint64_t)i) : o->slot;
    rc = o->bytes ? dmp_producer_claim_bytes_timeout(p, len, &slot, 100LL * 1000000)
                  : dmp_producer_claim_timeout(p, &slot, 100LL * 1000000);
    if (rc == -ETIMEDOUT || rc == -EAGAIN) {
      if (now_ms() >= deadline) {
        fprintf(stderr, "brg_raw producer: slot %" PRId64 ": the ring stayed full\n", i);
        status = 1;
        break;
      }
      continue;
    }
    if (rc < 0) {
      fprintf(stderr, "brg_raw producer: claim: %s\n", dmp_strerror(-rc));
      status = 1;
      break;
    }
    if (o->abort_every > 0 && ++claims % o->abort_every == 0) {
      memset(slot, 0xee, len); /* never seen: a tombstone */
      dmp_producer_abort(p);
      continue;
    }
    make_slot(o, (uint64_t)i, buf);
    memcpy(slot, buf, len);
    dmp_producer_publish(p);
    if (o->ready != NULL && i == o->ready_at)
      close(open(o->ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    i++;
  }
  free(buf);
  dmp_producer_close(p);
  return buf == NULL ? 1 : status;
}

static struct dmp_consumer *attach(const struct opts *o)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.name = o->name;
  cfg.id = "reader";
  cfg.start = DMP_START_OLDEST;
  cfg.slot_size = o->bytes ? 0 : o->slot; /* a byte ring: any block */
  cfg.type_tag = o->tag;
  struct dmp_consumer *c = NULL;
  return dmp_consumer_attach(&cfg, &c) == 0 ? c : NULL;
}

static int read_ring(const struct opts *o)
{
  uint8_t *want = malloc(o->slot);
  if (want == NULL)
    return 1;
  int64_t deadline = now_ms() + o->timeout_ms;
  uint64_t expect = 0, received = 0, dup = 0, lost = 0, bad = 0, attaches = 0;
  bool ended = false;
  struct dmp_consumer *c = NULL;
  while (((int64_t)expect < o->count || (o->expect_end && !ended)) && !(o->until_end && ended) &&
         now_ms() < deadline) {
    if (c == NULL) {
      if ((c = attach(o)) == NULL) { /* not there yet, or the old ring of a dead ingress */
        nap_ms(5);
        continue;
      }
      attaches++;
    }
    const void *slot;
    size_t got = o->slot;
    int64_t seq;
    int rc = o->bytes ? dmp_consumer_try_peek_bytes(c, &slot, &got, &seq) : dmp_consumer_try_peek(c, &slot, &seq);
    if (rc == -EAGAIN) {
      int64_t n = dmp_consumer_wait(c, 100LL * 1000000);
      if (n == -DMP_E_OWNERDEAD) {
        event(o->events, "ownerdead");
        dmp_consumer_close(c);
        c = NULL;
        if ((int64_t)expect >= o->count || o->until_end)
          ended = true;
      }
      continue;
    }
    if (rc < 0) {
      fprintf(stderr, "brg_raw reader: peek: %s\n", dmp_strerror(-rc));
      bad++;
      break;
    }
    uint64_t index = UINT64_MAX;
    if (got >= 8)
      memcpy(&index, slot, 8);
    if (o->from_any && received == 0 && index < (uint64_t)o->count)
      expect = index;
    if (index < expect) {
      dup++;
      dmp_consumer_release(c);
      continue;
    }
    if (index > expect && index < (uint64_t)o->count) {
      lost += index - expect;
      expect = index;
    }
    make_slot(o, expect, want);
    size_t len = slot_len(o, expect);
    uint64_t sum = 0;
    if (got >= 16)
      memcpy(&sum, (const uint8_t *)slot + 8, 8);
    size_t whole = o->bytes ? len : o->slot; /* a record is its len bytes; a slot all of its bytes */
    if (got != whole || memcmp(slot, want, whole) != 0 || sum != fnv((const uint8_t *)slot + 16, len - 16)) {
      bad++;
      fprintf(stderr, "brg_raw reader: slot %" PRIu64 " (ring sequence %" PRId64 ") differs from what was sent\n",
              expect, seq);
    }
    dmp_consumer_release(c);
    received++;
    expect++;
    if (o->slow_us > 0) {
      struct timespec ts = {o->slow_us / 1000000, (o->slow_us % 1000000) * 1000};
      nanosleep(&ts, NULL);
    }
  }
  dmp_consumer_close(c);
  free(want);
  FILE *fp = fopen(o->report, "w");
  if (fp != NULL) {
    fprintf(fp, "received=%" PRIu64 " dup=%" PRIu64 " lost=%" PRIu64 " bad=%" PRIu64 " attaches=%" PRIu64 "\n",
            received, dup, lost, bad, attaches);
    fclose(fp);
  }
  bool ok = ((int64_t)expect == o->count || (o->until_end && ended)) && dup == 0 && lost == 0 && bad == 0 &&
            (!o->expect_end || ended);
  if (!ok)
    fprintf(stderr, "brg_raw reader: received=%" PRIu64 " of %" PRId64 " dup=%" PRIu64 " lost=%" PRIu64
            " bad=%" PRIu64 "%s\n", received, o->count, dup, lost, bad,
            o->expect_end && !ended ? " (the producer never went away)" : "");
  return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (argc < 2 || (strcmp(argv[1], "producer") != 0 && strcmp(argv[1], "reader") != 0))
    return 2;
  bool producer = strcmp(argv[1], "producer") == 0;
  struct opts o = {.slot = 64, .capacity = 64, .seed = 1, .count = -1, .timeout_ms = 60000, .ready_at = -1};
  static const struct option opts[] = {
    {"name", required_argument, 0, 'n'}, {"slot", required_argument, 0, 'S'},
    {"capacity", required_argument, 0, 'c'}, {"seed", required_argument, 0, 's'},
    {"count", required_argument, 0, 'k'}, {"tag", required_argument, 0, 'T'},
    {"mp", no_argument, 0, 'm'}, {"abort-every", required_argument, 0, 'A'},
    {"wait-consumers", required_argument, 0, 'W'}, {"ready-file", required_argument, 0, 'R'},
    {"ready-at", required_argument, 0, 'i'}, {"timeout-ms", required_argument, 0, 't'},
    {"report", required_argument, 0, 'r'}, {"events", required_argument, 0, 'e'},
    {"expect-end", no_argument, 0, 'x'}, {"until-end", no_argument, 0, 'u'},
    {"from-any", no_argument, 0, 'a'}, {"slow-us", required_argument, 0, 'w'}, {"bytes", no_argument, 0, 'B'},
    {0, 0, 0, 0},
  };
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'n': o.name = optarg; break;
    case 'S': o.slot = (uint32_t)strtoul(optarg, NULL, 0); break;
    case 'c': o.capacity = strtoull(optarg, NULL, 0); break;
    case 's': o.seed = strtoull(optarg, NULL, 0); break;
    case 'k': o.count = strtoll(optarg, NULL, 0); break;
    case 'T': o.tag = strtoull(optarg, NULL, 0); break;
    case 'm': o.mp = true; break;
    case 'A': o.abort_every = strtoll(optarg, NULL, 0); break;
    case 'W': o.wait_consumers = (uint32_t)strtoul(optarg, NULL, 0); break;
    case 'R': o.ready = optarg; break;
    case 'i': o.ready_at = strtoll(optarg, NULL, 0); break;
    case 't': o.timeout_ms = strtoll(optarg, NULL, 0); break;
    case 'r': o.report = optarg; break;
    case 'e': o.events = optarg; break;
    case 'x': o.expect_end = true; break;
    case 'u': o.until_end = true; break;
    case 'a': o.from_any = true; break;
    case 'w': o.slow_us = strtoll(optarg, NULL, 0); break;
    case 'B': o.bytes = true; break;
    default: return 2;
    }
  }
  if (o.name == NULL || o.count <= 0 || o.slot < 16 || (!producer && o.report == NULL))
    return 2;
  return producer ? produce(&o) : read_ring(&o);
}
