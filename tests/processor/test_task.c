/* The task (task.h): the thread lifecycle both event processors are built
 * on. Start waits for setup and passes a failed setup's code and detail to
 * the caller (no thread left, teardown still run); run's return value is
 * the end state, with dmp_task_fail()'s code and detail; a stop is seen
 * within a slice; join honours its timeout; the thread is named and pinned
 * before setup; bad configurations are refused before a thread starts. */
#include "proc.h"

#include <fcntl.h>
#include <stdatomic.h>

struct job {
  int setup_rc;                      /* what setup returns */
  enum dmp_processor_state end;      /* what run returns when told to (RUNNING: run until stopped) */
  _Atomic int setups, runs, teardowns;
  _Atomic int go;                    /* run: end now with `end` */
  char comm[32];                     /* the thread's name, seen by setup */
  int cpu_count;                     /* CPUs the thread may run on, seen by setup */
};

static int job_setup(struct dmp_task *t, void *user)
{
  (void)t;
  struct job *j = user;
  atomic_fetch_add(&j->setups, 1);
  int fd = open("/proc/thread-self/comm", O_RDONLY);
  if (fd >= 0) {
    ssize_t n = read(fd, j->comm, sizeof j->comm - 1);
    j->comm[n > 0 ? n - 1 : 0] = '\0'; /* drop the newline */
    close(fd);
  }
  cpu_set_t m;
  j->cpu_count = sched_getaffinity(0, sizeof m, &m) == 0 ? CPU_COUNT(&m) : -1;
  if (j->setup_rc < 0)
    dmp_error_set(NULL, "setup refused: code %d", j->setup_rc);
  return j->setup_rc;
}

static enum dmp_processor_state job_run(struct dmp_task *t, void *user)
{
  struct job *j = user;
  atomic_fetch_add(&j->runs, 1);
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * MS;
  while (!dmp_task_stop_requested(t) && ts_now_ns() < deadline) {
    if (atomic_load(&j->go)) {
      if (j->end == DMP_PROCESSOR_FAILED)
        return dmp_task_fail(t, -DMP_E_EVICTED, "job failed on purpose (%s)", "detail kept");
      return j->end;
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  return DMP_PROCESSOR_STOPPED;
}

static void job_teardown(struct dmp_task *t, void *user)
{
  (void)t;
  atomic_fetch_add(&((struct job *)user)->teardowns, 1);
}

static struct dmp_task_config job_cfg(struct job *j, const char *name)
{
  struct dmp_task_config c = {.thread_name = name,
                              .role = DMP_ROLE_PROCESSOR,
                              .cpus = NULL,
                              .setup = job_setup,
                              .run = job_run,
                              .teardown = job_teardown,
                              .user = j};
  return c;
}

TestSuite(task, .timeout = 60);

Test(task, a_stopped_task_ends_stopped_after_setup_run_and_teardown)
{
  struct job j = {.end = DMP_PROCESSOR_RUNNING};
  struct dmp_task_config c = job_cfg(&j, "tk-stop");
  struct dmp_task *t = NULL;
  cr_assert(eq(int, dmp_task_start(&c, &t), 0), "%s", dmp_last_error());
  cr_assert(eq(int, atomic_load(&j.setups), 1), "setup ran before start returned");
  cr_assert(eq(str, j.comm, "tk-stop"), "named before setup");
  cr_assert(eq(int, dmp_task_state(t), DMP_PROCESSOR_RUNNING));
  cr_assert(eq(int, dmp_task_join(t, 20 * MS), -ETIMEDOUT), "join honours its timeout while it runs");
  dmp_task_stop(t);
  cr_assert(eq(int, dmp_task_join(t, (int64_t)ts_timeout_ms(10000) * MS), 0));
  cr_assert(eq(int, dmp_task_state(t), DMP_PROCESSOR_STOPPED));
  cr_assert(eq(int, dmp_task_error(t), 0));
  cr_assert(eq(str, (char *)dmp_task_error_detail(t), ""));
  cr_assert(eq(int, atomic_load(&j.runs), 1));
  cr_assert(eq(int, atomic_load(&j.teardowns), 1));
  cr_assert(eq(int, dmp_task_join(t, 0), 0), "a second join returns at once");
  dmp_task_close(t);
}

Test(task, run_decides_the_end_state_and_a_failure_keeps_its_code_and_detail)
{
  static const enum dmp_processor_state ends[] = {DMP_PROCESSOR_RETURNED, DMP_PROCESSOR_FAILED};
  for (size_t i = 0; i < 2; i++) {
    struct job j = {.end = ends[i]};
    struct dmp_task_config c = job_cfg(&j, "tk-end");
    struct dmp_task *t = NULL;
    cr_assert(eq(int, dmp_task_start(&c, &t), 0), "%s", dmp_last_error());
    atomic_store(&j.go, 1);
    int rc = dmp_task_join(t, (int64_t)ts_timeout_ms(10000) * MS);
    cr_assert(eq(int, dmp_task_state(t), ends[i]));
    if (ends[i] == DMP_PROCESSOR_FAILED) {
      cr_assert(eq(int, rc, -DMP_E_EVICTED));
      cr_assert(eq(int, dmp_task_error(t), -DMP_E_EVICTED));
      cr_assert(eq(str, (char *)dmp_task_error_detail(t), "job failed on purpose (detail kept)"));
    } else {
      cr_assert(eq(int, rc, 0));
      cr_assert(eq(str, (char *)dmp_task_error_detail(t), ""));
    }
    cr_assert(eq(int, atomic_load(&j.teardowns), 1));
    dmp_task_close(t);
  }
}

/* `run` returns what the test put in user, with no dmp_task_fail(). */
static enum dmp_processor_state bare_run(struct dmp_task *t, void *user)
{
  (void)t;
  return *(const enum dmp_processor_state *)user;
}

Test(task, a_failure_without_dmp_task_fail_or_a_bogus_end_state_still_carries_an_error)
{
  static const enum dmp_processor_state ends[] = {DMP_PROCESSOR_FAILED, (enum dmp_processor_state)42};
  static const char *const details[] = {"task 'tk-bare': run returned DMP_PROCESSOR_FAILED without dmp_task_fail()",
                                        "task 'tk-bare': run returned 42, not a DMP_PROCESSOR_* end state"};
  for (size_t i = 0; i < 2; i++) {
    enum dmp_processor_state end = ends[i];
    struct dmp_task_config c = {.thread_name = "tk-bare", .role = DMP_ROLE_PROCESSOR, .run = bare_run, .user = &end};
    struct dmp_task *t = NULL;
    cr_assert(eq(int, dmp_task_start(&c, &t), 0), "%s", dmp_last_error());
    int rc = dmp_task_join(t, (int64_t)ts_timeout_ms(10000) * MS);
    cr_assert(eq(int, rc, -EPROTO), "case %zu: join gives the error, never 0 for a failure", i);
    cr_assert(eq(int, dmp_task_state(t), DMP_PROCESSOR_FAILED), "case %zu", i);
    cr_assert(eq(int, dmp_task_error(t), -EPROTO), "case %zu", i);
    cr_assert(eq(str, (char *)dmp_task_error_detail(t), (char *)details[i]), "case %zu", i);
    dmp_task_close(t);
  }
}

Test(task, a_failed_setup_fails_the_start_with_its_code_and_detail_and_leaves_no_thread)
{
  struct job j = {.setup_rc = -DMP_E_BADNAME};
  struct dmp_task_config c = job_cfg(&j, "tk-fail");
  struct dmp_task *t = (struct dmp_task *)&j; /* must come back NULL */
  cr_assert(eq(int, dmp_task_start(&c, &t), -DMP_E_BADNAME));
  cr_assert(eq(ptr, t, NULL));
  cr_assert(not(eq(ptr, strstr(dmp_last_error(), "setup refused"), NULL)), "the thread's detail on the caller's thread: '%s'",
            dmp_last_error());
  cr_assert(eq(int, atomic_load(&j.runs), 0), "run never ran");
  cr_assert(eq(int, atomic_load(&j.teardowns), 1), "teardown ran (setup may have half-acquired things)");
}

Test(task, it_is_pinned_before_setup)
{
  struct job j = {.end = DMP_PROCESSOR_RUNNING};
  struct dmp_task_config c = job_cfg(&j, "tk-pin");
  c.cpus = "0";
  struct dmp_task *t = NULL;
  cr_assert(eq(int, dmp_task_start(&c, &t), 0), "%s", dmp_last_error());
  cr_assert(eq(int, j.cpu_count, 1), "setup saw %d CPUs", j.cpu_count);
  dmp_task_close(t);
  struct job bad = {.end = DMP_PROCESSOR_RUNNING};
  c = job_cfg(&bad, "tk-pin");
  c.cpus = "9999";
  t = NULL;
  int rc = dmp_task_start(&c, &t);
  cr_assert(lt(int, rc, 0), "a CPU that does not exist fails the start");
  cr_assert(eq(int, atomic_load(&bad.setups), 0), "and setup never ran");
}

Test(task, bad_configurations_are_refused_before_a_thread_starts)
{
  struct job j = {0};
  struct dmp_task *t = NULL;
  struct dmp_task_config c = job_cfg(&j, "tk-bad");
  cr_assert(eq(int, dmp_task_start(NULL, &t), -EINVAL));
  cr_assert(eq(int, dmp_task_start(&c, NULL), -EINVAL));
  c.run = NULL;
  cr_assert(eq(int, dmp_task_start(&c, &t), -EINVAL));
  c = job_cfg(&j, NULL);
  cr_assert(eq(int, dmp_task_start(&c, &t), -DMP_E_BADCONFIG));
  c = job_cfg(&j, "");
  cr_assert(eq(int, dmp_task_start(&c, &t), -DMP_E_BADCONFIG));
  c = job_cfg(&j, "sixteen-chars-xx");
  cr_assert(eq(int, dmp_task_start(&c, &t), -DMP_E_BADCONFIG));
  cr_assert(not(eq(ptr, strstr(dmp_last_error(), "cfg.thread_name"), NULL)), "%s", dmp_last_error());
  cr_assert(eq(int, atomic_load(&j.setups), 0));
  /* NULL handles: no crash, documented values */
  dmp_task_stop(NULL);
  dmp_task_close(NULL);
  cr_assert(eq(int, dmp_task_join(NULL, 0), -EINVAL));
  cr_assert(eq(int, dmp_task_state(NULL), DMP_PROCESSOR_FAILED));
  cr_assert(eq(int, dmp_task_error(NULL), -EINVAL));
  cr_assert(eq(str, (char *)dmp_task_error_detail(NULL), ""));
  cr_assert(is(!dmp_task_stop_requested(NULL)));
}
