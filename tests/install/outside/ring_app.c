/* An outside program on libdisruptor_mp: this process creates a ring and
 * publishes N events; a second process (this program again, "consume")
 * attaches and checks each one. Every wait is bounded. Exit 0: every event
 * arrived intact in the other process. */
#define _GNU_SOURCE
#include <disruptor_mp/disruptor_mp.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define EVENTS 10000
#define SEC INT64_C(1000000000)

struct ev {
  int64_t seq;
  uint64_t check;
};
DMP_DECLARE_TYPED(ev, struct ev);

static uint64_t check_of(int64_t seq)
{
  return (uint64_t)seq * UINT64_C(0x9e3779b97f4a7c15) ^ UINT64_C(0xdeadbeef);
}

static int fail(const char *what, int rc)
{
  fprintf(stderr, "ring_app: %s: %s (%s)\n", what, dmp_strerror(rc), dmp_last_error());
  return 1;
}

static int consume(const char *name)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = name;
  cc.id = "outside";
  ev_consumer_config(&cc);
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach_timeout(&cc, 10 * SEC, &c);
  if (rc < 0)
    return fail("attach", rc);
  for (int64_t i = 0; i < EVENTS; i++) {
    const struct ev *e = NULL;
    int64_t seq;
    if ((rc = ev_peek_timeout(c, &e, &seq, 10 * SEC)) < 0) {
      dmp_consumer_close(c);
      return fail("peek", rc);
    }
    if (seq != i || e->seq != i || e->check != check_of(i)) {
      fprintf(stderr, "ring_app: event %" PRId64 ": got seq %" PRId64 "/%" PRId64 "\n", i, seq, e->seq);
      dmp_consumer_close(c);
      return 1;
    }
    dmp_consumer_release(c);
  }
  dmp_consumer_close(c);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "consume") == 0)
    return consume(argv[2]);
  char name[DMP_PORTABLE_NAME_MAX + 1];
  int rc = dmp_name_portable("outside", name, sizeof name);
  if (rc < 0)
    return fail("name", rc);
  pid_t pid = driver_spawn(argv[0], name);
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = name;
  pc.capacity = 256;
  pc.wait_consumers = 1; /* the consumer attaches before the first event */
  pc.wait_timeout_ns = 10 * SEC;
  ev_producer_config(&pc);
  struct dmp_producer *p = NULL;
  if ((rc = dmp_producer_create(&pc, &p)) < 0) {
    driver_reap("ring_app", pid, 15);
    return fail("create", rc);
  }
  for (int64_t i = 0; i < EVENTS && rc >= 0; i++) {
    struct ev *slot = NULL;
    if ((rc = ev_claim_timeout(p, &slot, 10 * SEC)) >= 0) {
      slot->seq = i;
      slot->check = check_of(i);
      dmp_producer_publish(p);
    }
  }
  int st = driver_reap("ring_app", pid, 30);
  dmp_producer_close(p);
  if (rc < 0)
    return fail("claim", rc);
  if (st != 0)
    return 1;
  printf("ring_app: disruptor_mp %s: %d events from pid %d to pid %d, all intact\n", dmp_version(), EVENTS,
         (int)getpid(), (int)pid);
  return 0;
}
