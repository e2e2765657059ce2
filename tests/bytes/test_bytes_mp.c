/* Byte rings (bytes.h) across real processes (bytes_role): a producer
 * process broadcasting records of every size up to half the ring to N
 * consumer processes, each checking every byte and the order; a slow
 * consumer holding the producer back (an overwrite would show as wrong
 * bytes); a consumer killed holding a record, evicted by the producer's
 * liveness so that the producer and the other consumer finish. Both
 * backends; every wait bounded (ts_wait kills a child that overstays). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <signal.h>
#include <stdio.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

TestSuite(bytes_mp, .fini = ts_cleanup, .timeout = 200);

#define CHILD_MS ts_timeout_ms(60000)

struct run {
  const char *name;
  const char *backend;
};

static struct run fresh(int bi)
{
  struct run r = {bi ? ts_tmp_path("bm") : ts_shm_name("bm"), bi ? "mmap" : "shm"};
  cr_assert(ne(ptr, (void *)r.name, NULL));
  return r;
}

static pid_t spawn_consumer(const struct run *r, const char *id, const char *count, const char *seed,
                            const char *slow_us, const char *die_after)
{
  char *argv[] = {(char *)ts_helper("BYTES_ROLE"), "consumer", (char *)r->name, (char *)r->backend, (char *)id,
                  (char *)count, (char *)seed, (char *)slow_us, (char *)die_after, NULL};
  pid_t pid = ts_spawn(argv);
  cr_assert(gt(int, pid, 0));
  return pid;
}

static pid_t spawn_producer(const struct run *r, const char *ring, const char *count, const char *seed,
                            const char *ncons, const char *live_id)
{
  char *argv[] = {(char *)ts_helper("BYTES_ROLE"), "producer", (char *)r->name, (char *)r->backend, (char *)ring,
                  (char *)count, (char *)seed, (char *)ncons, (char *)live_id, NULL};
  pid_t pid = ts_spawn(argv);
  cr_assert(gt(int, pid, 0));
  return pid;
}

Test(bytes_mp, broadcast_every_record_once_in_order)
{
  /* A small ring (wraps often, records up to 2 KiB) and a 4 MiB one
   * (records up to 2 MiB). */
  const char *rings[] = {"4096", "4194304"};
  const char *counts[] = {"20000", "300"};
  for (int bi = 0; bi < 2; bi++)
    for (int k = 0; k < 2; k++) {
      struct run r = fresh(bi);
      pid_t c[3];
      const char *ids[] = {"c0", "c1", "c2"};
      for (int i = 0; i < 3; i++)
        c[i] = spawn_consumer(&r, ids[i], counts[k], "11", "0", "0");
      pid_t p = spawn_producer(&r, rings[k], counts[k], "11", "3", NULL);
      cr_assert(eq(int, ts_wait(p, CHILD_MS), 0), "producer (%s, ring %s)", r.backend, rings[k]);
      for (int i = 0; i < 3; i++)
        cr_assert(eq(int, ts_wait(c[i], CHILD_MS), 0), "consumer %d (%s, ring %s)", i, r.backend, rings[k]);
    }
}

Test(bytes_mp, slow_consumer_gates)
{
  for (int bi = 0; bi < 2; bi++) {
    struct run r = fresh(bi);
    pid_t fast = spawn_consumer(&r, "fast", "3000", "12", "0", "0");
    pid_t slow = spawn_consumer(&r, "slow", "3000", "12", "200", "0");
    pid_t p = spawn_producer(&r, "2048", "3000", "12", "2", NULL);
    cr_assert(eq(int, ts_wait(p, CHILD_MS), 0));
    cr_assert(eq(int, ts_wait(fast, CHILD_MS), 0));
    cr_assert(eq(int, ts_wait(slow, CHILD_MS), 0), "the slow consumer saw every record intact");
  }
}

Test(bytes_mp, dead_consumer_evicted)
{
  for (int bi = 0; bi < 2; bi++) {
    struct run r = fresh(bi);
    pid_t dies = spawn_consumer(&r, "dies", "5000", "13", "0", "10");
    pid_t ok = spawn_consumer(&r, "ok", "5000", "13", "0", "0");
    pid_t p = spawn_producer(&r, "4096", "5000", "13", "2", "dies");
    cr_assert(eq(int, ts_wait(dies, CHILD_MS), 128 + SIGKILL), "the dying consumer killed itself");
    cr_assert(eq(int, ts_wait(p, CHILD_MS), 0), "the producer went on past the dead consumer");
    cr_assert(eq(int, ts_wait(ok, CHILD_MS), 0));
  }
}
