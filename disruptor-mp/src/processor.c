/* The event processor (processor.h): a library thread that pins itself,
 * attaches a consumer, and runs batches of a callback until stopped, told
 * to by the callback, or failed; and the owner's handle on it (start,
 * stop, join, state, the error that ended it).
 *
 * The owner and the thread share the handle. What they exchange:
 *  - `stop`: owner -> thread, a flag polled once per batch and per wait
 *    slice (the thread never parks longer than DMP_PROCESSOR_STOP_SLICE_NS);
 *  - `state`, `error`, `detail`: thread -> owner; the thread writes error
 *    and detail, then stores the state (release), and readers load the
 *    state (acquire) before reading the others;
 *  - `sequence`, `count`: progress, relaxed (statistics; nothing is read
 *    through them);
 *  - the start report and the end of the thread: under `mu` / `cv`, which
 *    also give join its timeout (pthread_join has none). */
#include "internal.h"
#include "env_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dmp_processor {
  struct dmp_processor_config cfg; /* strings point at the copies below */
  char *name;
  char *cpus;
  char id[DMP_ID_MAX + 1];
  char thread_name[DMP_PROCESSOR_NAME_MAX + 1];
  pthread_t thread;
  struct dmp_consumer *c; /* the thread's alone, from attach to its end */

  dmp_atomic_u32 stop;
  dmp_atomic_u32 state;    /* enum dmp_processor_state */
  dmp_atomic_i64 sequence;
  dmp_atomic_u64 count;
  int error;
  char detail[512];
  int fn_rc; /* what `fn` returned last; the thread's alone */

  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool reported; /* under mu: the start outcome is in start_rc */
  int start_rc;
  bool ended;    /* under mu: the thread is about to return */
  bool joined;   /* the owner's: pthread_join done */
};

void dmp_processor_config_init(struct dmp_processor_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  dmp_consumer_config_init(&cfg->consumer);
}

/* ---- the thread ----------------------------------------------------------- */

static int trampoline(const void *event, int64_t seq, bool end_of_batch, void *user)
{
  struct dmp_processor *p = user;
  /* X3: relaxed, a statistic for other threads; nothing is read through it. */
  dmp_impl_fetch_add_relaxed(&p->count, 1);
  p->fn_rc = p->cfg.fn(event, seq, end_of_batch, p->cfg.user);
  return p->fn_rc;
}

static void report_start(struct dmp_processor *p, int rc)
{
  pthread_mutex_lock(&p->mu);
  p->start_rc = rc;
  p->reported = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

/* Record why the loop ended: error and detail first, then the state that
 * publishes them (release; pairs with the acquire loads in the readers).
 * Waits report OWNERDEAD as a plain return value, without a detail (it is
 * an expected outcome there): here it ends the thread, so say which ring
 * and where; errors that carry a detail (EVICTED, ENOMEM) add it. */
static void fail(struct dmp_processor *p, int rc)
{
  p->error = rc;
  int k = snprintf(p->detail, sizeof p->detail, "[dmp_processor] consumer '%s' of '%s' ended after sequence %lld: %s",
                   p->id, p->name, (long long)dmp_consumer_sequence(p->c), dmp_strerror(rc));
  if (rc != -DMP_E_OWNERDEAD && k > 0 && (size_t)k < sizeof p->detail)
    snprintf(p->detail + k, sizeof p->detail - (size_t)k, " (%s)", dmp_last_error());
  /* X2: release store of the state; pairs with the X2 acquire loads. */
  dmp_impl_store_release(&p->state, DMP_PROCESSOR_FAILED);
}

/* The loop proper: batches while there are events, bounded waits between. */
static void run(struct dmp_processor *p)
{
  struct dmp_consumer *c = p->c;
  for (;;) {
    /* X1: acquire load of the stop flag; pairs with the release store in
     * dmp_processor_stop() (only the flag is read: ordering costs nothing
     * more than relaxed on the targets we build for). */
    if (dmp_impl_load_acquire(&p->stop)) {
      dmp_impl_store_release(&p->state, DMP_PROCESSOR_STOPPED); /* X2 */
      return;
    }
    p->fn_rc = 0;
    int64_t n = dmp_consumer_process(c, trampoline, p->cfg.batch_max, p);
    if (n > 0) {
      /* X3: relaxed, progress for other threads to look at (processor.h). */
      dmp_impl_store_relaxed(&p->sequence, dmp_consumer_sequence(c));
      if (p->fn_rc != 0) {
        dmp_impl_store_release(&p->state, DMP_PROCESSOR_RETURNED); /* X2 */
        return;
      }
      continue;
    }
    if (n == 0)
      n = dmp_consumer_wait(c, DMP_PROCESSOR_STOP_SLICE_NS);
    if (n >= 0 || n == -ETIMEDOUT)
      continue;
    fail(p, (int)n);
    return;
  }
}

static void *thread_main(void *arg)
{
  struct dmp_processor *p = arg;
  (void)pthread_setname_np(pthread_self(), p->thread_name); /* a name is a convenience: never fatal */
  /* Pinned first, then attached: the ring is touched from its CPUs only. */
  int rc = dmp_impl_pin_role(DMP_ROLE_PROCESSOR, p->cfg.cpus, NULL);
  if (rc >= 0)
    rc = p->cfg.attach_timeout_ns != 0 ? dmp_consumer_attach_timeout(&p->cfg.consumer, p->cfg.attach_timeout_ns, &p->c)
                                       : dmp_consumer_attach(&p->cfg.consumer, &p->c);
  if (rc < 0) {
    p->error = rc;
    snprintf(p->detail, sizeof p->detail, "%s", dmp_last_error());
    dmp_impl_store_release(&p->state, DMP_PROCESSOR_FAILED); /* X2, after error and detail */
  } else {
    dmp_impl_store_relaxed(&p->sequence, dmp_consumer_sequence(p->c)); /* X3 */
  }
  report_start(p, rc < 0 ? rc : 0);
  if (rc >= 0) {
    run(p);
    dmp_consumer_close(p->c); /* releases what was processed; the id can resume */
    p->c = NULL;
  }
  pthread_mutex_lock(&p->mu);
  p->ended = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* ---- the owner's side ---------------------------------------------------- */

static int check_config(const struct dmp_processor_config *cfg)
{
  if (!cfg->fn)
    return DMP_FAIL(-EINVAL, "cfg.fn is NULL");
  if (!cfg->consumer.name)
    return DMP_FAIL(-DMP_E_BADNAME, "cfg.consumer.name is NULL");
  if (dmp_id_validate(cfg->consumer.id) < 0)
    return -DMP_E_BADNAME;
  if (cfg->consumer.cpus)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.consumer.cpus='%s': a processor is pinned by cfg.cpus "
                    "(and DMP_PROCESSOR_CPUS), not as a consumer", cfg->consumer.cpus);
  if (cfg->thread_name) {
    size_t n = strlen(cfg->thread_name);
    if (n == 0 || n > DMP_PROCESSOR_NAME_MAX)
      return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.thread_name '%s' is not 1..%d characters", cfg->thread_name,
                      DMP_PROCESSOR_NAME_MAX);
  }
  if (cfg->cpus) {
    int rc = dmp_impl_cpulist_check(cfg->cpus, "cfg.cpus", NULL);
    if (rc < 0)
      return rc;
  }
  int rc = DMP_RESERVED_CHECK(cfg, "cfg.reserved");
  return rc < 0 ? rc : dmp_impl_env_check(NULL);
}

static void processor_free(struct dmp_processor *p)
{
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->name);
  free(p->cpus);
  free(p);
}

static struct dmp_processor *processor_new(const struct dmp_processor_config *cfg)
{
  struct dmp_processor *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->cfg = *cfg;
  p->name = strdup(cfg->consumer.name);
  p->cpus = cfg->cpus ? strdup(cfg->cpus) : NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* join's deadline: the library's clock */
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&p->mu, NULL);
  if (!p->name || (cfg->cpus && !p->cpus)) {
    processor_free(p);
    return NULL;
  }
  snprintf(p->id, sizeof p->id, "%s", cfg->consumer.id);
  if (cfg->thread_name)
    snprintf(p->thread_name, sizeof p->thread_name, "%s", cfg->thread_name);
  else
    snprintf(p->thread_name, sizeof p->thread_name, "dmp-%.11s", p->id);
  p->cfg.consumer.name = p->name;
  p->cfg.consumer.id = p->id;
  p->cfg.cpus = p->cpus;
  p->cfg.thread_name = p->thread_name;
  /* Relaxed: before the thread exists; pthread_create() orders them. */
  dmp_impl_store_relaxed(&p->stop, 0);
  dmp_impl_store_relaxed(&p->state, DMP_PROCESSOR_RUNNING);
  dmp_impl_store_relaxed(&p->sequence, -1);
  dmp_impl_store_relaxed(&p->count, 0);
  return p;
}

int dmp_processor_start(const struct dmp_processor_config *cfg, struct dmp_processor **out)
{
  if (out)
    *out = NULL;
  if (!cfg || !out)
    return DMP_FAIL(-EINVAL, "cfg or out is NULL");
  int rc = check_config(cfg);
  if (rc < 0)
    return rc;
  struct dmp_processor *p = processor_new(cfg);
  if (!p)
    return DMP_FAIL(-ENOMEM, "out of memory");
  rc = pthread_create(&p->thread, NULL, thread_main, p);
  if (rc != 0) {
    processor_free(p);
    return DMP_FAIL(-rc, "pthread_create: %s", strerror(rc));
  }
  /* Bounded: the thread reports after one pinning and an attach bounded by
   * attach_timeout_ns. */
  pthread_mutex_lock(&p->mu);
  while (!p->reported)
    pthread_cond_wait(&p->cv, &p->mu);
  rc = p->start_rc;
  pthread_mutex_unlock(&p->mu);
  if (rc < 0) {
    pthread_join(p->thread, NULL);
    /* The thread's detail, now on the caller's thread where it belongs. */
    dmp_impl_set_error(NULL, "%s", p->detail);
    processor_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

void dmp_processor_stop(struct dmp_processor *p)
{
  if (p) /* X1: release store of the stop flag; pairs with the acquire load in run() */
    dmp_impl_store_release(&p->stop, 1);
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

int dmp_processor_join(struct dmp_processor *p, int64_t timeout_ns)
{
  if (!p)
    return -EINVAL;
  if (!p->joined) {
    struct timespec dl = abs_deadline(timeout_ns < 0 ? 0 : timeout_ns);
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    while (!p->ended && rc != ETIMEDOUT)
      rc = timeout_ns < 0 ? pthread_cond_wait(&p->cv, &p->mu) : pthread_cond_timedwait(&p->cv, &p->mu, &dl);
    bool ended = p->ended;
    pthread_mutex_unlock(&p->mu);
    if (!ended)
      return -ETIMEDOUT;
    pthread_join(p->thread, NULL); /* it has returned or is returning */
    p->joined = true;
  }
  return dmp_processor_error(p);
}

enum dmp_processor_state dmp_processor_state(const struct dmp_processor *p)
{
  if (!p)
    return DMP_PROCESSOR_FAILED;
  /* X2: acquire load of the state; pairs with the thread's release stores,
   * after which its error and detail are readable. */
  return (enum dmp_processor_state)dmp_impl_load_acquire(&((struct dmp_processor *)p)->state);
}

bool dmp_processor_is_running(const struct dmp_processor *p)
{
  return p && dmp_processor_state(p) == DMP_PROCESSOR_RUNNING;
}

int dmp_processor_error(const struct dmp_processor *p)
{
  if (!p)
    return -EINVAL;
  return dmp_processor_state(p) == DMP_PROCESSOR_FAILED ? p->error : 0;
}

const char *dmp_processor_error_detail(const struct dmp_processor *p)
{
  if (!p || dmp_processor_state(p) != DMP_PROCESSOR_FAILED)
    return "";
  return p->detail;
}

int64_t dmp_processor_sequence(const struct dmp_processor *p)
{
  /* X3: relaxed, a progress figure written by the thread after each release. */
  return p ? dmp_impl_load_relaxed(&((struct dmp_processor *)p)->sequence) : -EINVAL;
}

uint64_t dmp_processor_count(const struct dmp_processor *p)
{
  /* X3: relaxed, a statistic (processor.h). */
  return p ? dmp_impl_load_relaxed(&((struct dmp_processor *)p)->count) : 0;
}

void dmp_processor_close(struct dmp_processor *p)
{
  if (!p)
    return;
  dmp_processor_stop(p);
  (void)dmp_processor_join(p, DMP_FOREVER);
  processor_free(p);
}
