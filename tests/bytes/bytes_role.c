/* The byte-ring suite's helper executable (found through $BYTES_ROLE):
 *
 *   bytes_role producer NAME shm|mmap RING_BYTES COUNT SEED NCONS [LIVE_ID]
 *     creates a byte ring of RING_BYTES (block 64), waits for NCONS
 *     consumers, publishes COUNT records (bytes_payload.h: lengths 0 .. the
 *     ring's maximum) with blocking claims - managed ones, evicting a dead
 *     consumer, when LIVE_ID names a required consumer - and exits.
 *   bytes_role consumer NAME shm|mmap ID COUNT SEED SLOW_US DIE_AFTER
 *     attaches (waiting for the ring), reads COUNT records checking every
 *     byte and the order, sleeping SLOW_US after each; with DIE_AFTER > 0
 *     it kills itself (SIGKILL) holding record DIE_AFTER unreleased.
 *
 * Exit codes: 0 all done; 2 setup failed; 3 a call failed; 4 a record was
 * wrong (bytes, length or order); 64 usage. Every wait is bounded. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#include "bytes_payload.h"
#include "support.h"

#define WAIT_NS ((int64_t)ts_timeout_ms(20000) * 1000000)

static int producer(const char *name, enum dmp_backend b, uint64_t ring, int64_t count, uint64_t seed,
                    uint32_t ncons, const char *live_id)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = b;
  cfg.name = name;
  cfg.flags = DMP_RING_BYTES;
  cfg.capacity = ring;
  cfg.wait_consumers = ncons;
  cfg.wait_timeout_ns = WAIT_NS;
  struct dmp_producer *p;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0) {
    fprintf(stderr, "bytes_role producer: create: %s (%s)\n", dmp_err_name(rc), dmp_last_error());
    return 2;
  }
  if (live_id) {
    struct dmp_liveness_config lc;
    dmp_liveness_config_init(&lc);
    const char *ids[] = {live_id};
    lc.required_ids = ids;
    lc.n_required = 1;
    lc.progress_timeout_ns = 100000000;
    lc.grace_ns = 200000000;
    lc.action = DMP_LIVENESS_EVICT;
    lc.quiet = true;
    if ((rc = dmp_producer_enable_liveness(p, &lc)) < 0) {
      fprintf(stderr, "bytes_role producer: liveness: %s\n", dmp_last_error());
      dmp_producer_close(p);
      return 2;
    }
  }
  size_t max = dmp_producer_bytes_max(p);
  for (int64_t i = 0; i < count; i++) {
    size_t len = bp_len(seed, i, max);
    void *data;
    rc = live_id ? dmp_producer_claim_bytes_managed(p, len, &data, WAIT_NS)
                 : dmp_producer_claim_bytes_timeout(p, len, &data, WAIT_NS);
    if (rc < 0) {
      fprintf(stderr, "bytes_role producer: claim of record %lld: %s (%s)\n", (long long)i, dmp_err_name(rc),
              dmp_last_error());
      dmp_producer_close(p);
      return 3;
    }
    bp_fill(data, seed, i, len);
    dmp_producer_publish(p);
  }
  dmp_producer_close(p);
  return 0;
}

static int consumer(const char *name, enum dmp_backend b, const char *id, int64_t count, uint64_t seed,
                    long slow_us, int64_t die_after)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = b;
  cfg.name = name;
  cfg.id = id;
  struct dmp_consumer *c;
  int rc = dmp_consumer_attach_timeout(&cfg, WAIT_NS, &c);
  if (rc < 0) {
    fprintf(stderr, "bytes_role consumer %s: attach: %s (%s)\n", id, dmp_err_name(rc), dmp_last_error());
    return 2;
  }
  size_t max = dmp_consumer_bytes_max(c);
  if (max == 0) {
    fprintf(stderr, "bytes_role consumer %s: not a byte ring\n", id);
    dmp_consumer_close(c);
    return 2;
  }
  for (int64_t i = 0; i < count; i++) {
    const void *data;
    size_t len;
    rc = dmp_consumer_peek_bytes_timeout(c, &data, &len, NULL, WAIT_NS);
    if (rc < 0) {
      fprintf(stderr, "bytes_role consumer %s: record %lld: %s (%s)\n", id, (long long)i, dmp_err_name(rc),
              dmp_last_error());
      dmp_consumer_close(c);
      return 3;
    }
    if (!bp_check(data, len, seed, i, max)) {
      fprintf(stderr, "bytes_role consumer %s: record %lld wrong (length %zu)\n", id, (long long)i, len);
      dmp_consumer_close(c);
      return 4;
    }
    if (die_after > 0 && i + 1 == die_after)
      raise(SIGKILL);
    dmp_consumer_release(c);
    if (slow_us)
      usleep((useconds_t)slow_us);
  }
  dmp_consumer_close(c);
  return 0;
}

int main(int argc, char **argv)
{
  enum dmp_backend b;
  if (argc < 4 || dmp_backend_parse(argv[3], &b) < 0)
    return 64;
  if (strcmp(argv[1], "producer") == 0 && (argc == 8 || argc == 9))
    return producer(argv[2], b, strtoull(argv[4], NULL, 10), strtoll(argv[5], NULL, 10),
                    strtoull(argv[6], NULL, 10), (uint32_t)strtoul(argv[7], NULL, 10), argc == 9 ? argv[8] : NULL);
  if (strcmp(argv[1], "consumer") == 0 && argc == 9)
    return consumer(argv[2], b, argv[4], strtoll(argv[5], NULL, 10), strtoull(argv[6], NULL, 10),
                    strtol(argv[7], NULL, 10), strtoll(argv[8], NULL, 10));
  return 64;
}
