/* libmyelon's framed processor (myelon/framed_processor.h): whole messages
 * of one and of many frames, in order and intact; end_of_batch true on the
 * last message waiting; the handler stopping it and a restart on the same
 * id resuming; stop while blocked; a closed producer reported as
 * -DMP_E_OWNERDEAD through the handle; the thread named and pinned as a
 * processor; bad configurations refused. The producer handle holds its own
 * OFD lock, so it acts like another process. Built twice: on rings of
 * frames, and as framed_processor_bytes (FP_BYTES) on a framed byte ring
 * (MYELON_FRAME_BYTES of FP_RING_BYTES: every message one record). */
#include "proc.h"

#include <fcntl.h>
#include <stdatomic.h>

#include <myelon/myelon.h>

#define NMSG 200
/* The byte ring of the FP_BYTES build: 256 KiB, about as much as the slot
 * ring's 256 frames of 1 KiB, more than the 100 messages (~45 KiB with
 * their records) a test publishes while its processor does not read. */
#define FP_RING_BYTES (UINT64_C(256) << 10)

struct got {
  _Atomic int n;
  size_t len[NMSG];
  bool eob[NMSG];
  bool intact[NMSG];
  int stop_at;
  _Atomic int gate;   /* the handler holds message 0 until the test opens it */
  bool hold_first;
  cpu_set_t mask;
  char comm[32];
};

/* Message i: `len` bytes, byte j = (i * 31 + j) & 0xff. */
static size_t msg_len(int i)
{
  return i % 7 == 0 ? 1 + (size_t)i * 37 % 5000 : 1 + (size_t)i % 200; /* some span several 1 KiB frames */
}

static bool msg_ok(int i, const struct myelon_msg *m)
{
  if (m->len != msg_len(i) || m->kind != (uint8_t)i)
    return false;
  const uint8_t *b = m->data;
  for (size_t j = 0; j < m->len; j++)
    if (b[j] != (uint8_t)(i * 31 + (int)j))
      return false;
  return true;
}

static int on_msg(const struct myelon_msg *m, bool end_of_batch, void *user)
{
  struct got *g = user;
  int i = atomic_load(&g->n);
  if (i < NMSG) {
    g->len[i] = m->len;
    g->eob[i] = end_of_batch;
    g->intact[i] = msg_ok(i, m);
  }
  if (i == 0) {
    sched_getaffinity(0, sizeof g->mask, &g->mask);
    int fd = open("/proc/thread-self/comm", O_RDONLY);
    ssize_t k = fd >= 0 ? read(fd, g->comm, sizeof g->comm - 1) : -1;
    if (k > 0 && g->comm[k - 1] == '\n')
      g->comm[k - 1] = '\0';
    if (fd >= 0)
      close(fd);
    int64_t dl = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * MS;
    while (g->hold_first && !atomic_load(&g->gate) && ts_now_ns() < dl)
      sched_yield();
  }
  atomic_store(&g->n, i + 1);
  return i == g->stop_at;
}

static struct myelon_producer *ring(const char *name)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = name;
  pc.ring.capacity = 256;
#ifdef FP_BYTES
  pc.format = MYELON_FRAME_BYTES;
  pc.ring_bytes = FP_RING_BYTES;
#endif
  struct myelon_producer *p;
  int rc = myelon_producer_create(&pc, &p);
  cr_assert(rc == 0, "create: %s (%s)", dmp_strerror(rc), dmp_last_error());
  return p;
}

static void publish(struct myelon_producer *p, int from, int to)
{
  static uint8_t buf[5000];
  for (int i = from; i < to; i++) {
    for (size_t j = 0; j < msg_len(i); j++)
      buf[j] = (uint8_t)(i * 31 + (int)j);
    int rc = myelon_producer_publish(p, buf, msg_len(i), (uint8_t)i, (int64_t)ts_timeout_ms(20000) * MS);
    cr_assert(rc >= 0, "publish %d: %s", i, dmp_strerror(rc));
  }
}

static void config(struct myelon_processor_config *pc, const char *name, struct got *g)
{
  myelon_processor_config_init(pc);
  pc->consumer.ring.name = name;
  pc->consumer.ring.id = "fproc";
  pc->consumer.ring.flags = DMP_CONSUMER_DURABLE;
#ifdef FP_BYTES
  pc->consumer.format = MYELON_FRAME_BYTES;
#endif
  pc->fn = on_msg;
  pc->user = g;
  g->stop_at = -1;
}

static struct myelon_processor *start(struct myelon_processor_config *pc)
{
  struct myelon_processor *x = NULL;
  int rc = myelon_processor_start(pc, &x);
  cr_assert(rc == 0, "start: %s (%s)", dmp_strerror(rc), dmp_last_error());
  return x;
}

TestSuite(framed_processor, .fini = proc_fini, .timeout = 60);

Test(framed_processor, whole_messages_in_order_end_of_batch_on_the_last_waiting)
{
  const char *name = ts_shm_name("fpm");
  struct myelon_producer *prod = ring(name);
  struct got g = {0};
  struct myelon_processor_config pc;
  config(&pc, name, &g);
  g.hold_first = true;
  struct myelon_processor *x = start(&pc);
  /* Message 0 is held in the handler while 1..99 are published: those are
   * all waiting when it returns, so they are one batch whose last message
   * alone has end_of_batch. */
  publish(prod, 0, 100);
  atomic_store(&g.gate, 1);
  PROC_WAIT_UNTIL(atomic_load(&g.n) >= 100, 20000);
  cr_assert(eq(int, atomic_load(&g.n), 100));
  for (int i = 0; i < 100; i++) {
    cr_assert(is(g.intact[i]), "message %d (%zu bytes) not intact", i, g.len[i]);
    if (i >= 1)
      cr_assert(eq(int, g.eob[i], i == 99), "message %d: end_of_batch %d", i, g.eob[i]);
  }
  cr_assert(eq(u64, myelon_processor_count(x), 100));
  cr_assert(eq(u64, myelon_processor_errors(x), 0));
  /* Idle now: stop while blocked. */
  cr_assert(eq(int, myelon_processor_join(x, 20 * MS), -ETIMEDOUT));
  myelon_processor_stop(x);
  cr_assert(eq(int, myelon_processor_join(x, (int64_t)ts_timeout_ms(10000) * MS), 0));
  cr_assert(eq(int, myelon_processor_state(x), DMP_PROCESSOR_STOPPED));
  cr_assert(is(!myelon_processor_is_running(x)));
  myelon_processor_close(x);
  myelon_producer_close(prod);
}

Test(framed_processor, handler_stop_and_restart_on_the_same_id_lose_nothing)
{
  const char *name = ts_shm_name("fpr");
  struct myelon_producer *prod = ring(name);
  struct got g = {0};
  struct myelon_processor_config pc;
  config(&pc, name, &g);
  g.stop_at = 49;
  struct myelon_processor *x = start(&pc);
  publish(prod, 0, 100);
  cr_assert(eq(int, myelon_processor_join(x, (int64_t)ts_timeout_ms(20000) * MS), 0));
  cr_assert(eq(int, myelon_processor_state(x), DMP_PROCESSOR_RETURNED));
  cr_assert(eq(int, atomic_load(&g.n), 50));
  myelon_processor_close(x);
  /* The rest arrives while it is down (its durable entry keeps them). */
  publish(prod, 100, NMSG);
  g.stop_at = -1;
  x = start(&pc);
  PROC_WAIT_UNTIL(atomic_load(&g.n) >= NMSG, 20000);
  cr_assert(eq(int, atomic_load(&g.n), NMSG));
  for (int i = 0; i < NMSG; i++)
    cr_assert(is(g.intact[i]), "message %d not intact or out of order", i);
  cr_assert(is(g.eob[NMSG - 1]));
  myelon_processor_close(x);
  myelon_producer_close(prod);
}

Test(framed_processor, producer_closed_is_ownerdead_through_the_handle)
{
  const char *name = ts_shm_name("fpd");
  struct myelon_producer *prod = ring(name);
  struct got g = {0};
  struct myelon_processor_config pc;
  config(&pc, name, &g);
  struct myelon_processor *x = start(&pc);
  publish(prod, 0, 20);
  myelon_producer_close(prod);
  int rc = myelon_processor_join(x, (int64_t)ts_timeout_ms(20000) * MS);
  cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "join: %s", dmp_err_name(rc));
  cr_assert(eq(int, atomic_load(&g.n), 20), "everything published is delivered first");
  cr_assert(eq(int, myelon_processor_error(x), -DMP_E_OWNERDEAD));
  cr_assert(is(strstr(myelon_processor_error_detail(x), "fproc") != NULL), "%s", myelon_processor_error_detail(x));
  myelon_processor_close(x);
}

Test(framed_processor, thread_named_and_pinned_as_a_processor)
{
  cpu_set_t all = proc_affinity();
  if (!CPU_ISSET(0, &all) || !CPU_ISSET(1, &all))
    cr_skip_test("needs CPUs 0 and 1");
  const char *name = ts_shm_name("fpp");
  struct myelon_producer *prod = ring(name);
  setenv(DMP_ENV_CONSUMER_CPUS, "0", 1); /* not for a processor */
  setenv(DMP_ENV_PROCESSOR_CPUS, "1", 1);
  struct got g = {0};
  struct myelon_processor_config pc;
  config(&pc, name, &g);
  struct myelon_processor *x = start(&pc);
  publish(prod, 0, 1);
  PROC_WAIT_UNTIL(atomic_load(&g.n) >= 1, 20000);
  cpu_set_t one = proc_one(1);
  cr_assert(is(CPU_EQUAL(&g.mask, &one)), "DMP_PROCESSOR_CPUS=1 (%d CPUs)", CPU_COUNT(&g.mask));
  cr_assert(eq(str, g.comm, "myelon-fproc"));
  myelon_processor_close(x);
  myelon_producer_close(prod);
}

Test(framed_processor, bad_configurations_are_refused)
{
  const char *name = ts_shm_name("fpb");
  struct got g = {0};
  struct myelon_processor_config pc;
  struct myelon_processor *x = NULL;
  cr_assert(eq(int, myelon_processor_start(NULL, &x), -EINVAL));
  config(&pc, name, &g);
  pc.fn = NULL;
  cr_assert(eq(int, myelon_processor_start(&pc, &x), -EINVAL));
  config(&pc, name, &g);
  pc.consumer.ring.cpus = "0";
  cr_assert(eq(int, myelon_processor_start(&pc, &x), -DMP_E_BADCONFIG));
  cr_assert(is(strstr(dmp_last_error(), "consumer.ring.cpus") != NULL), "%s", dmp_last_error());
  config(&pc, name, &g);
  pc.thread_name = "a-name-too-long-";
  cr_assert(eq(int, myelon_processor_start(&pc, &x), -DMP_E_BADCONFIG));
  config(&pc, name, &g);
  pc.cpus = "1-0";
  cr_assert(eq(int, myelon_processor_start(&pc, &x), -DMP_E_BADCONFIG));
  cr_assert(is(strstr(dmp_last_error(), "cpus='1-0'") != NULL), "%s", dmp_last_error());
  config(&pc, name, &g);
  pc.reserved[0] = 1;
  cr_assert(eq(int, myelon_processor_start(&pc, &x), -DMP_E_BADCONFIG));
  cr_assert(is(strstr(dmp_last_error(), "cfg.reserved") != NULL), "%s", dmp_last_error());
  config(&pc, name, &g);
  setenv(DMP_ENV_WAIT, "fast", 1);
  cr_assert(eq(int, myelon_processor_start(&pc, &x), -DMP_E_BADCONFIG));
  cr_assert(is(strstr(dmp_last_error(), "DMP_WAIT='fast'") != NULL), "%s", dmp_last_error());
  unsetenv(DMP_ENV_WAIT);
  cr_assert(eq(int, myelon_processor_start(&pc, &x), -ENOENT), "no ring: the attach's error");
  cr_assert(x == NULL);
  myelon_processor_close(NULL);
  cr_assert(eq(int, myelon_processor_join(NULL, 0), -EINVAL));
}

Test(framed_processor, libmyelon_configurations_take_the_wait_kind_from_DMP_WAIT)
{
  setenv(DMP_ENV_WAIT, "sleep", 1);
  struct myelon_producer_config p;
  struct myelon_consumer_config c;
  struct myelon_processor_config x;
  struct myelon_topology_config t;
  struct myelon_recorder_config r;
  myelon_producer_config_init(&p);
  myelon_consumer_config_init(&c);
  myelon_processor_config_init(&x);
  myelon_topology_config_init(&t);
  myelon_recorder_config_init(&r);
  cr_assert(eq(int, p.ring.wait.kind, DMP_WAIT_SLEEP));
  cr_assert(eq(int, c.ring.wait.kind, DMP_WAIT_SLEEP));
  cr_assert(eq(int, x.consumer.ring.wait.kind, DMP_WAIT_SLEEP));
  cr_assert(eq(int, t.wait.kind, DMP_WAIT_SLEEP));
  cr_assert(eq(int, r.wait.kind, DMP_WAIT_SLEEP));
  unsetenv(DMP_ENV_WAIT);
  myelon_topology_config_init(&t);
  myelon_recorder_config_init(&r);
  cr_assert(eq(int, t.wait.kind, DMP_WAIT_BLOCK));
  cr_assert(eq(int, r.wait.kind, DMP_WAIT_BLOCK));
}
