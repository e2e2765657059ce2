/* The event processor (processor.h): a task (task.h) whose setup pins and
 * attaches a consumer, whose loop runs batches of a callback until
 * stopped, told to by the callback, or failed, and whose teardown closes
 * the consumer. The task owns the thread's lifecycle (start report, stop
 * flag, end state, error and detail, join with a timeout); this file owns
 * the consumer and the progress figures:
 *  - `sequence`, `count`: thread -> anyone, relaxed (X3: statistics;
 *    nothing is read through them). */
#include "internal.h"
#include "env_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dmp_processor {
  struct dmp_processor_config cfg; /* strings point at the copies below */
  char *name;
  char id[DMP_ID_MAX + 1];
  char thread_name[DMP_PROCESSOR_NAME_MAX + 1];
  struct dmp_task *task;
  struct dmp_consumer *c; /* the thread's alone, from attach to its end */

  dmp_atomic_i64 sequence;
  dmp_atomic_u64 count;
  int fn_rc; /* what `fn` returned last; the thread's alone */
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

/* Task setup, pinned: attach. */
static int attach(struct dmp_task *t, void *user)
{
  (void)t;
  struct dmp_processor *p = user;
  int rc = p->cfg.attach_timeout_ns != 0
               ? dmp_consumer_attach_timeout(&p->cfg.consumer, p->cfg.attach_timeout_ns, &p->c)
               : dmp_consumer_attach(&p->cfg.consumer, &p->c);
  if (rc >= 0)
    dmp_impl_store_relaxed(&p->sequence, dmp_consumer_sequence(p->c)); /* X3 */
  return rc;
}

/* Why the loop ended, when an error ended it. Waits report OWNERDEAD as a
 * plain return value, without a detail (it is an expected outcome there):
 * here it ends the thread, so say which ring and where; errors that carry
 * a detail (EVICTED, ENOMEM) add it. */
static enum dmp_processor_state fail(struct dmp_task *t, struct dmp_processor *p, int rc)
{
  char more[320] = "";
  if (rc != -DMP_E_OWNERDEAD)
    snprintf(more, sizeof more, " (%s)", dmp_last_error());
  return dmp_task_fail(t, rc, "[dmp_processor] consumer '%s' of '%s' ended after sequence %lld: %s%s", p->id,
                       p->name, (long long)dmp_consumer_sequence(p->c), dmp_strerror(rc), more);
}

/* Task loop: batches while there are events, bounded waits between. */
static enum dmp_processor_state run(struct dmp_task *t, void *user)
{
  struct dmp_processor *p = user;
  struct dmp_consumer *c = p->c;
  for (;;) {
    if (dmp_task_stop_requested(t))
      return DMP_PROCESSOR_STOPPED;
    p->fn_rc = 0;
    int64_t n = dmp_consumer_process(c, trampoline, p->cfg.batch_max, p);
    if (n > 0) {
      /* X3: relaxed, progress for other threads to look at (processor.h). */
      dmp_impl_store_relaxed(&p->sequence, dmp_consumer_sequence(c));
      if (p->fn_rc != 0)
        return DMP_PROCESSOR_RETURNED;
      continue;
    }
    if (n == 0)
      n = dmp_consumer_wait(c, DMP_PROCESSOR_STOP_SLICE_NS);
    if (n >= 0 || n == -ETIMEDOUT)
      continue;
    return fail(t, p, (int)n);
  }
}

/* Task teardown: release what was processed; the id can resume. */
static void detach(struct dmp_task *t, void *user)
{
  (void)t;
  struct dmp_processor *p = user;
  dmp_consumer_close(p->c);
  p->c = NULL;
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
  free(p->name);
  free(p);
}

static struct dmp_processor *processor_new(const struct dmp_processor_config *cfg)
{
  struct dmp_processor *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->cfg = *cfg;
  p->name = strdup(cfg->consumer.name);
  if (!p->name) {
    free(p);
    return NULL;
  }
  snprintf(p->id, sizeof p->id, "%s", cfg->consumer.id);
  if (cfg->thread_name)
    snprintf(p->thread_name, sizeof p->thread_name, "%s", cfg->thread_name);
  else
    snprintf(p->thread_name, sizeof p->thread_name, "dmp-%.11s", p->id);
  p->cfg.consumer.name = p->name;
  p->cfg.consumer.id = p->id;
  p->cfg.cpus = NULL; /* the task keeps its own copy */
  p->cfg.thread_name = p->thread_name;
  /* Relaxed: before the thread exists; pthread_create() orders them. */
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
  struct dmp_task_config tc = {.thread_name = p->thread_name,
                               .role = DMP_ROLE_PROCESSOR,
                               .cpus = cfg->cpus,
                               .setup = attach,
                               .run = run,
                               .teardown = detach,
                               .user = p};
  rc = dmp_task_start(&tc, &p->task); /* returns once attached, or with the attach's error */
  if (rc < 0) {
    processor_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

void dmp_processor_stop(struct dmp_processor *p)
{
  if (p)
    dmp_task_stop(p->task);
}

int dmp_processor_join(struct dmp_processor *p, int64_t timeout_ns)
{
  return p ? dmp_task_join(p->task, timeout_ns) : -EINVAL;
}

enum dmp_processor_state dmp_processor_state(const struct dmp_processor *p)
{
  return p ? dmp_task_state(p->task) : DMP_PROCESSOR_FAILED;
}

bool dmp_processor_is_running(const struct dmp_processor *p)
{
  return p && dmp_processor_state(p) == DMP_PROCESSOR_RUNNING;
}

int dmp_processor_error(const struct dmp_processor *p)
{
  return p ? dmp_task_error(p->task) : -EINVAL;
}

const char *dmp_processor_error_detail(const struct dmp_processor *p)
{
  return p ? dmp_task_error_detail(p->task) : "";
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
  dmp_task_close(p->task);
  processor_free(p);
}
