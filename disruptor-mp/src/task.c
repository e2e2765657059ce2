/* A library-run thread (task.h): the lifecycle both event processors share.
 *
 * The owner and the thread share the handle. What they exchange:
 *  - `stop`: owner -> thread. T1: release store in dmp_task_stop() /
 *    acquire load in dmp_task_stop_requested(), which `run` polls (once per
 *    batch and per bounded wait slice, for the processors);
 *  - `state`, `error`, `detail`: thread -> owner. T2: the thread writes
 *    error and detail, then release-stores the state; readers acquire-load
 *    the state before reading the others;
 *  - the start report and the end of the thread: under `mu` / `cv`, which
 *    also give join its timeout (pthread_join has none). */
#include "internal.h"
#include "env_internal.h"

#include <disruptor_mp/task.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dmp_task {
  struct dmp_task_config cfg; /* strings point at the copies below */
  char thread_name[DMP_PROCESSOR_NAME_MAX + 1];
  char *cpus;
  pthread_t thread;

  dmp_atomic_u32 stop;
  dmp_atomic_u32 state; /* enum dmp_processor_state */
  int error;
  char detail[512];

  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool reported; /* under mu: the start outcome is in start_rc */
  int start_rc;
  bool ended;    /* under mu: the thread is about to return */
  bool joined;   /* the owner's: pthread_join done */
};

/* ---- the thread ----------------------------------------------------------- */

/* T2: error and detail first, then the state that publishes them. */
static void end_with(struct dmp_task *t, enum dmp_processor_state s)
{
  dmp_impl_store_release(&t->state, s); /* T2: pairs with the acquire loads in dmp_task_state() */
}

enum dmp_processor_state dmp_task_fail(struct dmp_task *t, int rc, const char *fmt, ...)
{
  t->error = rc;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->detail, sizeof t->detail, fmt, ap);
  va_end(ap);
  return DMP_PROCESSOR_FAILED;
}

/* What `run`'s return value means as an end state. A FAILED without
 * dmp_task_fail() would give the owner a failure with error 0, and a value
 * outside the enum a state nobody can interpret: both end FAILED with
 * -EPROTO and a detail that says which mistake `run` made. */
static enum dmp_processor_state run_end_state(struct dmp_task *t, enum dmp_processor_state s)
{
  switch (s) {
  case DMP_PROCESSOR_RUNNING:
    return DMP_PROCESSOR_STOPPED;
  case DMP_PROCESSOR_STOPPED:
  case DMP_PROCESSOR_RETURNED:
    return s;
  case DMP_PROCESSOR_FAILED:
    if (t->error != 0)
      return s;
    return dmp_task_fail(t, -EPROTO, "task '%s': run returned DMP_PROCESSOR_FAILED without dmp_task_fail()",
                         t->thread_name);
  }
  return dmp_task_fail(t, -EPROTO, "task '%s': run returned %d, not a DMP_PROCESSOR_* end state", t->thread_name,
                       (int)s);
}

static void report(struct dmp_task *t, int start_rc, bool ended)
{
  pthread_mutex_lock(&t->mu);
  if (ended) {
    t->ended = true;
  } else {
    t->start_rc = start_rc;
    t->reported = true;
  }
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

static void *thread_main(void *arg)
{
  struct dmp_task *t = arg;
  (void)pthread_setname_np(pthread_self(), t->thread_name); /* a name is a convenience: never fatal */
  /* Pinned first, then set up: whatever setup touches is touched from the
   * task's CPUs only. */
  int rc = dmp_impl_pin_role(t->cfg.role, t->cpus, NULL);
  if (rc >= 0 && t->cfg.setup)
    rc = t->cfg.setup(t, t->cfg.user);
  if (rc < 0) {
    t->error = rc;
    snprintf(t->detail, sizeof t->detail, "%s", dmp_last_error());
    end_with(t, DMP_PROCESSOR_FAILED);
  }
  report(t, rc < 0 ? rc : 0, false);
  if (rc >= 0) {
    enum dmp_processor_state s = t->cfg.run(t, t->cfg.user);
    end_with(t, run_end_state(t, s));
  }
  if (t->cfg.teardown)
    t->cfg.teardown(t, t->cfg.user);
  report(t, 0, true);
  return NULL;
}

/* ---- the owner's side ---------------------------------------------------- */

static void task_free(struct dmp_task *t)
{
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  free(t->cpus);
  free(t);
}

static struct dmp_task *task_new(const struct dmp_task_config *cfg)
{
  struct dmp_task *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->cfg = *cfg;
  t->cpus = cfg->cpus ? strdup(cfg->cpus) : NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* join's deadline: the library's clock */
  pthread_cond_init(&t->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&t->mu, NULL);
  if (cfg->cpus && !t->cpus) {
    task_free(t);
    return NULL;
  }
  snprintf(t->thread_name, sizeof t->thread_name, "%s", cfg->thread_name);
  t->cfg.thread_name = t->thread_name;
  t->cfg.cpus = t->cpus;
  /* Relaxed: before the thread exists; pthread_create() orders them. */
  dmp_impl_store_relaxed(&t->stop, 0);
  dmp_impl_store_relaxed(&t->state, DMP_PROCESSOR_RUNNING);
  return t;
}

int dmp_task_start(const struct dmp_task_config *cfg, struct dmp_task **out)
{
  if (out)
    *out = NULL;
  if (!cfg || !out || !cfg->run)
    return DMP_FAIL(-EINVAL, "cfg, cfg.run or out is NULL");
  size_t n = cfg->thread_name ? strlen(cfg->thread_name) : 0;
  if (n == 0 || n > DMP_PROCESSOR_NAME_MAX)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.thread_name '%s' is not 1..%d characters",
                    cfg->thread_name ? cfg->thread_name : "(null)", DMP_PROCESSOR_NAME_MAX);
  struct dmp_task *t = task_new(cfg);
  if (!t)
    return DMP_FAIL(-ENOMEM, "out of memory");
  int rc = pthread_create(&t->thread, NULL, thread_main, t);
  if (rc != 0) {
    task_free(t);
    return DMP_FAIL(-rc, "pthread_create: %s", strerror(rc));
  }
  /* Bounded by what pinning and setup take (the processors' setups are
   * attaches bounded by their attach timeout). */
  pthread_mutex_lock(&t->mu);
  while (!t->reported)
    pthread_cond_wait(&t->cv, &t->mu);
  rc = t->start_rc;
  pthread_mutex_unlock(&t->mu);
  if (rc < 0) {
    pthread_join(t->thread, NULL);
    /* The thread's detail, now on the caller's thread where it belongs. */
    dmp_impl_set_error(NULL, "%s", t->detail);
    task_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

bool dmp_task_stop_requested(const struct dmp_task *t)
{
  /* T1: acquire load; pairs with the release store in dmp_task_stop(). */
  return t && dmp_impl_load_acquire(&((struct dmp_task *)t)->stop) != 0;
}

void dmp_task_stop(struct dmp_task *t)
{
  if (t) /* T1: release store; pairs with the acquire load in dmp_task_stop_requested() */
    dmp_impl_store_release(&t->stop, 1);
}

static struct timespec abs_deadline(int64_t timeout_ns)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t ns = (int64_t)ts.tv_nsec + timeout_ns % 1000000000;
  ts.tv_sec += (time_t)(timeout_ns / 1000000000 + ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  return ts;
}

int dmp_task_join(struct dmp_task *t, int64_t timeout_ns)
{
  if (!t)
    return -EINVAL;
  if (!t->joined) {
    struct timespec dl = abs_deadline(timeout_ns < 0 ? 0 : timeout_ns);
    pthread_mutex_lock(&t->mu);
    int rc = 0;
    while (!t->ended && rc != ETIMEDOUT)
      rc = timeout_ns < 0 ? pthread_cond_wait(&t->cv, &t->mu) : pthread_cond_timedwait(&t->cv, &t->mu, &dl);
    bool ended = t->ended;
    pthread_mutex_unlock(&t->mu);
    if (!ended)
      return -ETIMEDOUT;
    pthread_join(t->thread, NULL); /* it has returned or is returning */
    t->joined = true;
  }
  return dmp_task_error(t);
}

enum dmp_processor_state dmp_task_state(const struct dmp_task *t)
{
  if (!t)
    return DMP_PROCESSOR_FAILED;
  /* T2: acquire load of the state; pairs with end_with(), after which the
   * error and detail are readable. */
  return (enum dmp_processor_state)dmp_impl_load_acquire(&((struct dmp_task *)t)->state);
}

int dmp_task_error(const struct dmp_task *t)
{
  if (!t)
    return -EINVAL;
  return dmp_task_state(t) == DMP_PROCESSOR_FAILED ? t->error : 0;
}

const char *dmp_task_error_detail(const struct dmp_task *t)
{
  return t && dmp_task_state(t) == DMP_PROCESSOR_FAILED ? t->detail : "";
}

void dmp_task_close(struct dmp_task *t)
{
  if (!t)
    return;
  dmp_task_stop(t);
  (void)dmp_task_join(t, DMP_FOREVER);
  task_free(t);
}
