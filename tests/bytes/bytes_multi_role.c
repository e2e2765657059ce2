/* The multi-producer byte-ring tests' helper executable (found through
 * $BYTES_MULTI_ROLE; test_bytes_multi.c):
 *
 *   bytes_multi_role producer NAME shm|mmap RING INDEX NCONS COUNT SEED ACT AT FILE
 *     INDEX 0 creates the byte ring of RING bytes (DMP_RING_BYTES |
 *     DMP_RING_MULTI_PRODUCER, block 64) and waits for NCONS consumers;
 *     any other attaches to it. Publishes COUNT records (record()), blocking
 *     claims. ACT "kill": at record AT, claims it, writes half its payload,
 *     writes CLOCK_MONOTONIC ns to FILE and SIGKILLs itself. ACT "stop": the
 *     same, then SIGSTOPs itself instead; once continued it writes the rest
 *     and publishes as usual. ACT "none": neither. The creator starts once
 *     $BMR_NPROD producers are attached (all of them: one killed early must
 *     not leave the ring without a live producer before the others attach)
 *     and closes only once $BMR_HOLD_FILE exists (its close removes the
 *     ring's name), each bounded.
 *   bytes_multi_role consumer NAME shm|mmap ID NPROD COUNT SEED DEAD AT READY REPORT [lossy]
 *     attaches (waiting for the ring), creates READY, then reads until it
 *     has every producer's records: COUNT each, AT of producer DEAD (-1:
 *     none), whose record AT it must never see. Checks every record: a
 *     known producer, its next sequence (exactly once, in order), every
 *     byte. Then nothing more may come (a half-written record delivered
 *     late). Writes REPORT: records=, tombstones=, tomb_ns= (first
 *     tombstone seen, CLOCK_MONOTONIC, minus the time in the dead
 *     producer's FILE DEAD_FILE=$FILE given as env BMR_DEAD_FILE, or -1).
 *     With "lossy": a non-gating consumer reading by copy; records may be
 *     missed (dmp_consumer_missed()), never duplicated or reordered.
 *
 * Exit codes: 0 all done; 2 setup failed; 3 a call failed; 4 a record was
 * wrong; 64 usage. Every wait is bounded. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#include "bytes_payload.h"
#include "support.h"

#define WAIT_NS ((int64_t)ts_timeout_ms(20000) * 1000000)
#define MAX_PROD 16
#define REC_MAGIC UINT32_C(0xB17E5EED)

static int64_t mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Record `i` of producer `k`: 16 + bp_len() bytes (up to the ring's
 * maximum, now and then exactly it): producer, magic, sequence, then
 * bytes that depend on all three. */
static size_t rec_len(uint64_t seed, uint32_t k, int64_t i, size_t max)
{
  return 16 + bp_len(seed * 31 + k, i, max - 16);
}

static void rec_fill(uint8_t *b, uint64_t seed, uint32_t k, int64_t i, size_t from, size_t to)
{
  for (size_t x = from; x < to; x++) {
    if (x < 4)
      b[x] = (uint8_t)(k >> (8 * x));
    else if (x < 8)
      b[x] = (uint8_t)(REC_MAGIC >> (8 * (x - 4)));
    else if (x < 16)
      b[x] = (uint8_t)((uint64_t)i >> (8 * (x - 8)));
    else
      b[x] = bp_byte(seed * 31 + k, i, x);
  }
}

static int producer(const char *name, enum dmp_backend b, uint64_t ring, uint32_t index, uint32_t ncons,
                    int64_t count, uint64_t seed, const char *act, int64_t at, const char *file)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = b;
  cfg.name = name;
  cfg.flags = DMP_RING_BYTES | DMP_RING_MULTI_PRODUCER;
  cfg.capacity = ring;
  struct dmp_producer *p = NULL;
  int rc;
  if (index == 0) {
    cfg.wait_consumers = ncons;
    cfg.wait_timeout_ns = WAIT_NS;
    rc = dmp_producer_create(&cfg, &p);
  } else {
    int64_t deadline = mono_ns() + WAIT_NS;
    while ((rc = dmp_producer_attach(&cfg, &p)) < 0 && mono_ns() < deadline)
      usleep(2000);
  }
  if (rc < 0) {
    fprintf(stderr, "bytes_multi_role producer %u: %s: %s (%s)\n", index, index ? "attach" : "create",
            dmp_err_name(rc), dmp_last_error());
    return 2;
  }
  if (index == 0 && getenv("BMR_NPROD")) {
    uint32_t want = (uint32_t)strtoul(getenv("BMR_NPROD"), NULL, 10);
    int64_t deadline = mono_ns() + WAIT_NS;
    for (uint32_t alive = 0; alive < want && mono_ns() < deadline;) {
      struct dmp_inspect *in;
      const struct dmp_ring_stat *st;
      if (dmp_inspect_open(b, name, &in) == 0) {
        if (dmp_inspect_sample(in, &st) == 0)
          alive = st->producers_alive;
        dmp_inspect_close(in);
      }
      if (alive < want)
        usleep(1000);
    }
  }
  size_t max = dmp_producer_bytes_max(p);
  for (int64_t i = 0; i < count; i++) {
    size_t len = rec_len(seed, index, i, max);
    void *data;
    rc = dmp_producer_claim_bytes_timeout(p, len, &data, WAIT_NS);
    if (rc < 0) {
      fprintf(stderr, "bytes_multi_role producer %u: claim of record %lld: %s (%s)\n", index, (long long)i,
              dmp_err_name(rc), dmp_last_error());
      dmp_producer_close(p);
      return 3;
    }
    if (i == at && strcmp(act, "none") != 0) {
      rec_fill(data, seed, index, i, 0, len / 2);
      FILE *f = fopen(file, "w");
      if (f) {
        fprintf(f, "%lld\n", (long long)mono_ns());
        fclose(f);
      }
      raise(strcmp(act, "kill") == 0 ? SIGKILL : SIGSTOP);
      rec_fill(data, seed, index, i, len / 2, len);
    } else {
      rec_fill(data, seed, index, i, 0, len);
    }
    dmp_producer_publish(p);
  }
  if (index == 0 && getenv("BMR_HOLD_FILE"))
    ts_wait_path(getenv("BMR_HOLD_FILE"), ts_timeout_ms(20000));
  dmp_producer_close(p);
  return 0;
}

static int64_t read_ns(const char *file)
{
  long long v = -1;
  FILE *f = file ? fopen(file, "r") : NULL;
  if (f) {
    if (fscanf(f, "%lld", &v) != 1)
      v = -1;
    fclose(f);
  }
  return v;
}

static int consumer(const char *name, enum dmp_backend b, const char *id, uint32_t nprod, int64_t count,
                    uint64_t seed, int dead, int64_t at, const char *ready, const char *report, bool lossy)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = b;
  cfg.name = name;
  cfg.id = id;
  if (lossy)
    cfg.flags |= DMP_CONSUMER_NON_GATING;
  struct dmp_consumer *c;
  int rc = dmp_consumer_attach_timeout(&cfg, WAIT_NS, &c);
  if (rc < 0) {
    fprintf(stderr, "bytes_multi_role consumer %s: attach: %s (%s)\n", id, dmp_err_name(rc), dmp_last_error());
    return 2;
  }
  FILE *rf = fopen(ready, "w");
  if (rf)
    fclose(rf);
  size_t max = dmp_consumer_bytes_max(c);
  uint8_t *buf = malloc(max ? max : 1);
  int64_t next[MAX_PROD] = {0};
  int64_t want[MAX_PROD];
  int64_t left = 0;
  for (uint32_t k = 0; k < nprod; k++) {
    want[k] = (int)k == dead ? at : count;
    left += want[k];
  }
  int64_t records = 0, first_tomb = -1;
  int code = 0;
  while (left > 0 && code == 0) {
    const void *data;
    size_t len;
    if (lossy) {
      rc = dmp_consumer_copy_bytes_timeout(c, buf, max, &len, NULL, WAIT_NS);
      data = buf;
    } else {
      rc = dmp_consumer_peek_bytes_timeout(c, &data, &len, NULL, WAIT_NS);
    }
    if (first_tomb < 0 && dmp_consumer_tombstones(c) > 0)
      first_tomb = mono_ns();
    if (rc < 0) {
      if (lossy && rc == -DMP_E_OWNERDEAD)
        break; /* every producer gone: what we missed is counted */
      fprintf(stderr, "bytes_multi_role consumer %s: after %lld records: %s (%s)\n", id, (long long)records,
              dmp_err_name(rc), dmp_last_error());
      code = 3;
      break;
    }
    const uint8_t *d = data;
    uint32_t k = 0, magic = 0;
    int64_t i = -1;
    if (len >= 16) {
      memcpy(&k, d, 4);
      memcpy(&magic, d + 4, 4);
      memcpy(&i, d + 8, 8);
    }
    if (len < 16 || magic != REC_MAGIC || k >= nprod || i < next[k] || (!lossy && i != next[k]) ||
        i >= want[k] || len != rec_len(seed, k, i, max)) {
      fprintf(stderr,
              "bytes_multi_role consumer %s: record %lld wrong: length %zu, producer %u, seq %lld (expected %lld of "
              "%lld)\n", id, (long long)records, len, k, (long long)i, k < nprod ? (long long)next[k] : -1LL,
              k < nprod ? (long long)want[k] : -1LL);
      code = 4;
      break;
    }
    uint8_t *expect = malloc(len);
    rec_fill(expect, seed, k, i, 0, len);
    if (memcmp(expect, d, len) != 0) {
      fprintf(stderr, "bytes_multi_role consumer %s: record %u/%lld: wrong bytes (half-written?)\n", id, k,
              (long long)i);
      code = 4;
    }
    free(expect);
    left -= i + 1 - next[k];
    next[k] = i + 1;
    records++;
    if (!lossy)
      dmp_consumer_release(c);
  }
  if (code == 0 && !lossy) {
    /* Nothing more: the killed record, or a duplicate, would come now. */
    const void *data;
    size_t len;
    rc = dmp_consumer_peek_bytes_timeout(c, &data, &len, NULL, 100000000);
    if (rc == 0) {
      fprintf(stderr, "bytes_multi_role consumer %s: a record (%zu bytes) after the last expected one\n", id, len);
      code = 4;
    }
  }
  int64_t death = read_ns(getenv("BMR_DEAD_FILE"));
  FILE *f = fopen(report, "w");
  if (f) {
    fprintf(f, "records=%lld\ntombstones=%llu\ntomb_ns=%lld\nmissed=%llu\n", (long long)records,
            (unsigned long long)dmp_consumer_tombstones(c),
            (long long)(first_tomb >= 0 && death >= 0 ? first_tomb - death : -1),
            (unsigned long long)dmp_consumer_missed(c));
    fclose(f);
  }
  free(buf);
  dmp_consumer_close(c);
  return code;
}

int main(int argc, char **argv)
{
  enum dmp_backend b;
  if (argc < 4 || dmp_backend_parse(argv[3], &b) < 0)
    return 64;
  if (strcmp(argv[1], "producer") == 0 && argc == 12)
    return producer(argv[2], b, strtoull(argv[4], NULL, 10), (uint32_t)strtoul(argv[5], NULL, 10),
                    (uint32_t)strtoul(argv[6], NULL, 10), strtoll(argv[7], NULL, 10), strtoull(argv[8], NULL, 10),
                    argv[9], strtoll(argv[10], NULL, 10), argv[11]);
  if (strcmp(argv[1], "consumer") == 0 && (argc == 12 || argc == 13)) {
    uint32_t nprod = (uint32_t)strtoul(argv[5], NULL, 10);
    if (nprod == 0 || nprod > MAX_PROD)
      return 64;
    return consumer(argv[2], b, argv[4], nprod, strtoll(argv[6], NULL, 10), strtoull(argv[7], NULL, 10),
                    atoi(argv[8]), strtoll(argv[9], NULL, 10), argv[10], argv[11],
                    argc == 13 && strcmp(argv[12], "lossy") == 0);
  }
  return 64;
}
