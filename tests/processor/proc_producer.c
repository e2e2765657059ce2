/* proc_producer: the processor suite's producer process.
 *
 *   proc_producer NAME COUNT CAPACITY HOLD_MS
 *
 * Creates ring NAME (16-byte events, CAPACITY slots), waits (10 s) for one
 * consumer, publishes events 0..COUNT-1 (each its sequence and checksum) in
 * batches of 1..97 events so the reader sees batches of many sizes, then
 * stays alive for HOLD_MS ms or until SIGTERM, closes the ring and exits.
 * Exit codes: 0 done, 2 bad arguments, 3 create failed, 4 a claim timed
 * out or failed. Every wait is bounded. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

struct pev {
  int64_t seq;
  uint64_t sum;
};

static volatile sig_atomic_t term;

static void on_term(int sig)
{
  (void)sig;
  term = 1;
}

int main(int argc, char **argv)
{
  if (argc != 5)
    return fprintf(stderr, "usage: proc_producer NAME COUNT CAPACITY HOLD_MS\n"), 2;
  int64_t count = strtoll(argv[2], NULL, 10), hold_ms = strtoll(argv[4], NULL, 10);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);

  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = argv[1];
  pc.capacity = strtoull(argv[3], NULL, 10);
  pc.slot_size = sizeof(struct pev);
  pc.wait_consumers = 1;
  pc.wait_timeout_ns = (int64_t)ts_timeout_ms(10000) * 1000000;
  struct dmp_producer *p;
  int rc = dmp_producer_create(&pc, &p);
  if (rc < 0)
    return fprintf(stderr, "proc_producer: create: %s (%s)\n", dmp_strerror(rc), dmp_last_error()), 3;
  const int64_t claim_ns = (int64_t)ts_timeout_ms(60000) * 1000000;
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int64_t seq = 0; seq < count && !term;) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int64_t n = 1 + (int64_t)(x % 97), first;
    if (n > count - seq)
      n = count - seq;
    if (n > (int64_t)pc.capacity)
      n = (int64_t)pc.capacity;
    rc = dmp_producer_claim_batch_timeout(p, (uint64_t)n, &first, claim_ns);
    if (rc < 0) {
      fprintf(stderr, "proc_producer: claim at %lld: %s (%s)\n", (long long)seq, dmp_strerror(rc), dmp_last_error());
      dmp_producer_close(p);
      return 4;
    }
    for (int64_t i = 0; i < n; i++) {
      struct pev e = {first + i, ts_checksum(first + i)};
      memcpy(dmp_producer_slot(p, first + i), &e, sizeof e);
    }
    dmp_producer_publish(p);
    seq += n;
  }
  int64_t end = ts_now_ns() + hold_ms * 1000000;
  while (!term && ts_now_ns() < end) {
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  dmp_producer_close(p);
  return 0;
}
