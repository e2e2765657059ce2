/* Event processor, in one process (the producer handle holds its own OFD
 * lock, so it acts like another process): end_of_batch on exactly each
 * batch's last event, batch_max, stop by the callback and resume, stop
 * while blocked, thread name and pinning, and every bad configuration. */
#include "proc.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <dirent.h>

#define NREC 64

struct rec {
  int64_t seq[NREC];
  bool eob[NREC];
  int64_t released[NREC];     /* dmp_processor_sequence() seen by the callback */
  struct dmp_processor *_Atomic proc;
  _Atomic int n;
  int64_t stop_at;            /* return 1 on this sequence (-1: never) */
  cpu_set_t mask;             /* the thread's affinity, from inside */
  int cpu;
  char comm[32];
};

static int on_rec(const void *event, int64_t seq, bool end_of_batch, void *user)
{
  struct rec *r = user;
  struct pev e;
  memcpy(&e, event, sizeof e);
  int i = atomic_load(&r->n);
  if (i < NREC) {
    r->seq[i] = e.seq == seq ? seq : -1000 - seq;
    r->eob[i] = end_of_batch;
    struct dmp_processor *p = atomic_load(&r->proc);
    r->released[i] = p ? dmp_processor_sequence(p) : -99;
  }
  if (i == 0) {
    sched_getaffinity(0, sizeof r->mask, &r->mask);
    r->cpu = sched_getcpu();
    int fd = open("/proc/thread-self/comm", O_RDONLY);
    ssize_t k = fd >= 0 ? read(fd, r->comm, sizeof r->comm - 1) : -1;
    if (k > 0 && r->comm[k - 1] == '\n')
      r->comm[k - 1] = '\0';
    if (fd >= 0)
      close(fd);
  }
  atomic_store(&r->n, i + 1);
  return seq == r->stop_at;
}

static void config(struct dmp_processor_config *pc, const char *name, const char *id, struct rec *r)
{
  dmp_processor_config_init(pc);
  pc->consumer.name = name;
  pc->consumer.id = id;
  pc->fn = on_rec;
  pc->user = r;
  r->stop_at = -1;
}

static struct dmp_processor *start(struct dmp_processor_config *pc, struct rec *r)
{
  struct dmp_processor *p = NULL;
  int rc = dmp_processor_start(pc, &p);
  cr_assert(rc == 0, "dmp_processor_start: %s (%s)", dmp_strerror(rc), dmp_last_error());
  atomic_store(&r->proc, p);
  return p;
}

TestSuite(processor, .fini = proc_fini, .timeout = 60);

Test(processor, end_of_batch_true_exactly_on_each_batch_last_event)
{
  const char *name = ts_shm_name("peob");
  struct dmp_producer *prod = proc_ring(name, 64);
  struct rec r = {0};
  struct dmp_processor_config pc;
  config(&pc, name, "eob", &r);
  pc.batch_max = 4;
  struct dmp_processor *p = start(&pc, &r);
  /* Attached when start returns: ten events in one publish (one store)
   * are one snapshot, cut by batch_max into 4 + 4 + 2. */
  int64_t next = 0;
  proc_publish(prod, &next, 10);
  PROC_WAIT_UNTIL(atomic_load(&r.n) >= 10, 20000);
  cr_assert(eq(int, atomic_load(&r.n), 10));
  for (int i = 0; i < 10; i++) {
    cr_assert(eq(i64, r.seq[i], i));
    cr_assert(eq(int, r.eob[i], i == 3 || i == 7 || i == 9), "seq %d: end_of_batch %d", i, r.eob[i]);
    int64_t batch_first = i < 4 ? 0 : i < 8 ? 4 : 8;
    cr_assert(eq(i64, r.released[i], batch_first - 1), "seq %d: released %lld", i, (long long)r.released[i]);
  }
  /* Three more: one batch, end_of_batch only on its last. */
  proc_publish(prod, &next, 3);
  PROC_WAIT_UNTIL(atomic_load(&r.n) >= 13, 20000);
  cr_assert(eq(int, atomic_load(&r.n), 13));
  for (int i = 10; i < 13; i++) {
    cr_assert(eq(i64, r.seq[i], i));
    cr_assert(eq(int, r.eob[i], i == 12));
    cr_assert(eq(i64, r.released[i], 9));
  }
  PROC_WAIT_UNTIL(dmp_processor_sequence(p) == 12, 20000);
  cr_assert(eq(i64, dmp_processor_sequence(p), 12));
  cr_assert(eq(u64, dmp_processor_count(p), 13));
  dmp_processor_close(p);
  dmp_producer_close(prod);
}

Test(processor, callback_stop_releases_through_its_event_and_restart_resumes)
{
  const char *name = ts_shm_name("pret");
  struct dmp_producer *prod = proc_ring(name, 64);
  struct rec r = {0};
  struct dmp_processor_config pc;
  config(&pc, name, "ret", &r);
  r.stop_at = 4;
  struct dmp_processor *p = start(&pc, &r);
  int64_t next = 0;
  proc_publish(prod, &next, 10);
  int rc = dmp_processor_join(p, (int64_t)ts_timeout_ms(20000) * MS);
  cr_assert(eq(int, rc, 0), "%s", dmp_processor_error_detail(p));
  cr_assert(eq(int, dmp_processor_state(p), DMP_PROCESSOR_RETURNED));
  cr_assert(eq(int, atomic_load(&r.n), 5), "no event after the one that stopped it");
  cr_assert(eq(i64, dmp_processor_sequence(p), 4));
  cr_assert(eq(int, dmp_processor_join(p, 0), 0), "join again: same answer");
  dmp_processor_close(p);

  struct rec r2 = {0};
  config(&pc, name, "ret", &r2);
  p = start(&pc, &r2);
  PROC_WAIT_UNTIL(atomic_load(&r2.n) >= 5, 20000);
  cr_assert(eq(int, atomic_load(&r2.n), 5));
  for (int i = 0; i < 5; i++)
    cr_assert(eq(i64, r2.seq[i], 5 + i));
  cr_assert(is(r2.eob[4]));
  dmp_processor_close(p);
  dmp_producer_close(prod);
}

Test(processor, stop_while_blocked_ends_promptly_and_join_reports_it)
{
  const char *name = ts_shm_name("pblk");
  struct dmp_producer *prod = proc_ring(name, 64);
  struct rec r = {0};
  struct dmp_processor_config pc;
  config(&pc, name, "blk", &r);
  struct dmp_processor *p = start(&pc, &r);
  cr_assert(dmp_processor_is_running(p));
  cr_assert(eq(int, dmp_processor_join(p, 20 * MS), -ETIMEDOUT), "still blocked");
  cr_assert(eq(int, dmp_processor_state(p), DMP_PROCESSOR_RUNNING));
  cr_assert(eq(int, dmp_processor_error(p), 0));
  dmp_processor_stop(p);
  dmp_processor_stop(p); /* idempotent */
  cr_assert(eq(int, dmp_processor_join(p, (int64_t)ts_timeout_ms(10000) * MS), 0));
  cr_assert(eq(int, dmp_processor_state(p), DMP_PROCESSOR_STOPPED));
  cr_assert(is(!dmp_processor_is_running(p)));
  cr_assert(eq(str, (char *)dmp_processor_error_detail(p), ""));
  cr_assert(eq(int, atomic_load(&r.n), 0));
  dmp_processor_close(p);
  dmp_producer_close(prod);
}

Test(processor, producer_closed_ends_with_ownerdead_after_draining)
{
  const char *name = ts_shm_name("pdead");
  struct dmp_producer *prod = proc_ring(name, 64);
  struct rec r = {0};
  struct dmp_processor_config pc;
  config(&pc, name, "dead", &r);
  struct dmp_processor *p = start(&pc, &r);
  int64_t next = 0;
  proc_publish(prod, &next, 7);
  dmp_producer_close(prod);
  int rc = dmp_processor_join(p, (int64_t)ts_timeout_ms(20000) * MS);
  cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "join: %s", dmp_err_name(rc));
  cr_assert(eq(int, atomic_load(&r.n), 7), "everything published is processed first");
  cr_assert(eq(int, dmp_processor_state(p), DMP_PROCESSOR_FAILED));
  cr_assert(strlen(dmp_processor_error_detail(p)) > 0, "the thread's detail reaches the owner");
  dmp_processor_close(p);
}

Test(processor, thread_is_named_and_pinned_before_it_attaches)
{
  cpu_set_t all = proc_affinity();
  if (!CPU_ISSET(1, &all))
    cr_skip_test("CPU 1 is not available here");
  const char *name = ts_shm_name("ppin");
  struct dmp_producer *prod = proc_ring(name, 64);
  struct rec r = {0};
  struct dmp_processor_config pc;
  config(&pc, name, "pin", &r);
  pc.cpus = "1";
  pc.thread_name = "tick-proc";
  struct dmp_processor *p = start(&pc, &r);
  int64_t next = 0;
  proc_publish(prod, &next, 1);
  PROC_WAIT_UNTIL(atomic_load(&r.n) >= 1, 20000);
  cr_assert(eq(int, atomic_load(&r.n), 1));
  cpu_set_t one = proc_one(1);
  cr_assert(is(CPU_EQUAL(&r.mask, &one)), "the processor's thread runs on CPU 1 only (%d CPUs in its mask)",
            CPU_COUNT(&r.mask));
  cr_assert(eq(int, r.cpu, 1));
  cr_assert(eq(str, r.comm, "tick-proc"));
  cpu_set_t mine = proc_affinity();
  cr_assert(is(CPU_EQUAL(&mine, &all)), "the starting thread is not pinned");
  dmp_processor_close(p);

  /* Default name: "dmp-" and the id. */
  struct rec r2 = {0};
  config(&pc, name, "pin", &r2);
  p = start(&pc, &r2);
  proc_publish(prod, &next, 1);
  PROC_WAIT_UNTIL(atomic_load(&r2.n) >= 1, 20000);
  cr_assert(eq(str, r2.comm, "dmp-pin"));
  cr_assert(is(CPU_EQUAL(&r2.mask, &all)), "no cpus, no variable: not pinned");
  dmp_processor_close(p);
  dmp_producer_close(prod);
}

/* Threads of this process. */
static int tasks(void)
{
  DIR *d = opendir("/proc/self/task");
  cr_assert(d != NULL);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void expect_refused(struct dmp_processor_config *pc, int want, const char *detail)
{
  struct dmp_processor *p = (struct dmp_processor *)1;
  int rc = dmp_processor_start(pc, &p);
  cr_assert(eq(int, rc, want), "got %s, want %s (%s)", dmp_err_name(rc), dmp_err_name(want), dmp_last_error());
  cr_assert(p == NULL);
  if (detail)
    cr_assert(is(strstr(dmp_last_error(), detail) != NULL), "detail '%s' lacks '%s'", dmp_last_error(), detail);
}

Test(processor, bad_configurations_are_refused_and_leave_no_thread)
{
  int tasks_before = tasks();
  const char *name = ts_shm_name("pbad");
  struct rec r = {0};
  struct dmp_processor_config pc;
  struct dmp_processor *p = NULL;
  cr_assert(eq(int, dmp_processor_start(NULL, &p), -EINVAL));
  config(&pc, name, "bad", &r);
  cr_assert(eq(int, dmp_processor_start(&pc, NULL), -EINVAL));
  pc.fn = NULL;
  expect_refused(&pc, -EINVAL, "fn");
  config(&pc, name, "bad", &r);
  pc.consumer.id = "no spaces";
  expect_refused(&pc, -DMP_E_BADNAME, NULL);
  config(&pc, name, "bad", &r);
  pc.thread_name = "sixteen-chars-xx";
  expect_refused(&pc, -DMP_E_BADCONFIG, "thread_name");
  pc.thread_name = "";
  expect_refused(&pc, -DMP_E_BADCONFIG, "thread_name");
  config(&pc, name, "bad", &r);
  pc.consumer.cpus = "0";
  expect_refused(&pc, -DMP_E_BADCONFIG, "consumer.cpus");
  config(&pc, name, "bad", &r);
  pc.cpus = "0-";
  expect_refused(&pc, -DMP_E_BADCONFIG, "cfg.cpus='0-'");
  config(&pc, name, "bad", &r);
  pc.reserved[7] = 1;
  expect_refused(&pc, -DMP_E_BADCONFIG, "cfg.reserved");
  /* No such ring: the attach's error, its detail carried over. */
  config(&pc, name, "bad", &r);
  expect_refused(&pc, -ENOENT, name[0] == '/' ? name + 1 : name);
  pc.attach_timeout_ns = 20 * MS;
  expect_refused(&pc, -ETIMEDOUT, "not attachable");
  cr_assert(eq(int, tasks(), tasks_before), "no processor thread survives a failed start");
  dmp_processor_close(NULL);
  dmp_processor_stop(NULL);
  cr_assert(eq(int, dmp_processor_join(NULL, 0), -EINVAL));
  cr_assert(is(!dmp_processor_is_running(NULL)));
}
