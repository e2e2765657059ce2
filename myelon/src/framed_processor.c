/* The framed event processor (framed_processor.h): a Layer 0 task
 * (disruptor_mp/task.h) whose setup pins and attaches a Layer 1 consumer,
 * whose loop hands whole messages to a handler until stopped, told to by
 * the handler, or failed, and whose teardown closes the consumer. The task
 * owns the thread's lifecycle (start report, stop flag, end state, error
 * and detail, join with a timeout), as for Layer 0's processor.c; this
 * file owns the consumer and its statistics:
 *  - `count`, `errors`: thread -> anyone, relaxed (F3: statistics,
 *    nothing is read through them). */
#include <myelon/error.h>
#include <myelon/framed_processor.h>

#include "internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct myelon_processor {
  struct myelon_processor_config cfg; /* strings point at the copies below */
  char *name;
  char id[DMP_ID_MAX + 1];
  char thread_name[DMP_PROCESSOR_NAME_MAX + 1];
  struct dmp_task *task;
  struct myelon_consumer *c; /* the thread's alone */

  atomic_uint_least64_t count;
  atomic_uint_least64_t errors;
};

void myelon_processor_config_init(struct myelon_processor_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  myelon_consumer_config_init(&cfg->consumer);
}

/* ---- the thread ----------------------------------------------------------- */

/* Task setup, pinned: attach. */
static int attach(struct dmp_task *t, void *user)
{
  (void)t;
  struct myelon_processor *p = user;
  return p->cfg.attach_timeout_ns != 0
             ? myelon_consumer_attach_timeout(&p->cfg.consumer, p->cfg.attach_timeout_ns, &p->c)
             : myelon_consumer_attach(&p->cfg.consumer, &p->c);
}

/* Why the loop ended, when an error ended it (as Layer 0's processor:
 * OWNERDEAD says which ring and where; other errors add their detail). */
static enum dmp_processor_state fail(struct dmp_task *t, struct myelon_processor *p, int rc)
{
  char more[320] = "";
  if (rc != -DMP_E_OWNERDEAD)
    snprintf(more, sizeof more, " (%s)", dmp_last_error());
  return dmp_task_fail(t, rc, "[myelon_processor] consumer '%s' of '%s' ended after %llu messages: %s%s", p->id,
                       p->name, (unsigned long long)atomic_load_explicit(&p->count, memory_order_relaxed),
                       dmp_strerror(rc), more);
}

/* One batch: every complete message (at most batch_max). Returns the number
 * handed over, or -1 when the handler asked to stop. */
static int64_t batch(struct myelon_processor *p)
{
  struct dmp_consumer *ring = myelon_consumer_ring(p->c);
  int64_t n = 0;
  for (;;) {
    struct myelon_msg m;
    int rc = myelon_consumer_try_recv(p->c, &m);
    if (rc == -EAGAIN)
      break;
    /* F3: relaxed, a statistic. */
    atomic_store_explicit(&p->errors, myelon_consumer_errors(p->c), memory_order_relaxed);
    if (rc < 0)
      continue; /* a lost message, counted; the stream goes on */
    n++;
    bool eob = (p->cfg.batch_max && (size_t)n == p->cfg.batch_max) || dmp_consumer_available(ring) == 0;
    atomic_fetch_add_explicit(&p->count, 1, memory_order_relaxed); /* F3 */
    int stop = p->cfg.fn(&m, eob, p->cfg.user);
    myelon_consumer_release(p->c);
    if (stop)
      return -1;
    if (eob)
      break;
  }
  return n;
}

/* Task loop. */
static enum dmp_processor_state run(struct dmp_task *t, void *user)
{
  struct myelon_processor *p = user;
  for (;;) {
    if (dmp_task_stop_requested(t))
      return DMP_PROCESSOR_STOPPED;
    int64_t n = batch(p);
    if (n < 0)
      return DMP_PROCESSOR_RETURNED;
    if (n > 0)
      continue;
    /* Nothing complete: wait for frames (bounded, to see a stop). */
    int64_t w = dmp_consumer_wait(myelon_consumer_ring(p->c), DMP_PROCESSOR_STOP_SLICE_NS);
    if (w >= 0 || w == -ETIMEDOUT)
      continue;
    return fail(t, p, (int)w);
  }
}

/* Task teardown. */
static void detach(struct dmp_task *t, void *user)
{
  (void)t;
  struct myelon_processor *p = user;
  myelon_consumer_close(p->c);
  p->c = NULL;
}

/* ---- the owner's side ---------------------------------------------------- */

static int check_config(const struct myelon_processor_config *cfg)
{
  if (!cfg->fn)
    return dmp_error_set("myelon_processor_start", "cfg->fn is NULL"), -EINVAL;
  if (!cfg->consumer.ring.name)
    return dmp_error_set("myelon_processor_start", "cfg->consumer.ring.name is NULL"), -DMP_E_BADNAME;
  if (dmp_id_validate(cfg->consumer.ring.id) < 0)
    return -DMP_E_BADNAME;
  if (cfg->consumer.ring.cpus)
    return dmp_error_set("myelon_processor_start", "cfg.consumer.ring.cpus='%s': a processor is pinned by cfg.cpus "
                         "(and DMP_PROCESSOR_CPUS), not as a consumer", cfg->consumer.ring.cpus),
           -DMP_E_BADCONFIG;
  if (cfg->thread_name && (cfg->thread_name[0] == '\0' || strlen(cfg->thread_name) > DMP_PROCESSOR_NAME_MAX))
    return dmp_error_set("myelon_processor_start", "thread_name '%s' is not 1..%d characters", cfg->thread_name,
                         DMP_PROCESSOR_NAME_MAX),
           -DMP_E_BADCONFIG;
  int rc = MYELON_RESERVED_CHECK(cfg, "myelon_processor_start", "cfg.reserved");
  return rc < 0 ? rc : dmp_env_check();
}

static void processor_free(struct myelon_processor *p)
{
  free(p->name);
  free(p);
}

static struct myelon_processor *processor_new(const struct myelon_processor_config *cfg)
{
  struct myelon_processor *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->cfg = *cfg;
  p->name = strdup(cfg->consumer.ring.name);
  if (!p->name) {
    free(p);
    return NULL;
  }
  snprintf(p->id, sizeof p->id, "%s", cfg->consumer.ring.id);
  if (cfg->thread_name)
    snprintf(p->thread_name, sizeof p->thread_name, "%s", cfg->thread_name);
  else
    snprintf(p->thread_name, sizeof p->thread_name, "myelon-%.8s", p->id);
  p->cfg.consumer.ring.name = p->name;
  p->cfg.consumer.ring.id = p->id;
  p->cfg.cpus = NULL; /* the task keeps its own copy */
  p->cfg.thread_name = p->thread_name;
  /* Relaxed: before the thread exists; pthread_create() orders them. */
  atomic_store_explicit(&p->count, 0, memory_order_relaxed);
  atomic_store_explicit(&p->errors, 0, memory_order_relaxed);
  return p;
}

int myelon_processor_start(const struct myelon_processor_config *cfg, struct myelon_processor **out)
{
  if (out)
    *out = NULL;
  if (!cfg || !out)
    return dmp_error_set("myelon_processor_start", "cfg or out is NULL"), -EINVAL;
  int rc = check_config(cfg);
  if (rc < 0)
    return rc;
  struct myelon_processor *p = processor_new(cfg);
  if (!p)
    return dmp_error_set("myelon_processor_start", "out of memory"), -ENOMEM;
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

void myelon_processor_stop(struct myelon_processor *p)
{
  if (p)
    dmp_task_stop(p->task);
}

enum dmp_processor_state myelon_processor_state(const struct myelon_processor *p)
{
  return p ? dmp_task_state(p->task) : DMP_PROCESSOR_FAILED;
}

int myelon_processor_join(struct myelon_processor *p, int64_t timeout_ns)
{
  return p ? dmp_task_join(p->task, timeout_ns) : -EINVAL;
}

bool myelon_processor_is_running(const struct myelon_processor *p)
{
  return p && myelon_processor_state(p) == DMP_PROCESSOR_RUNNING;
}

int myelon_processor_error(const struct myelon_processor *p)
{
  return p ? dmp_task_error(p->task) : -EINVAL;
}

const char *myelon_processor_error_detail(const struct myelon_processor *p)
{
  return p ? dmp_task_error_detail(p->task) : "";
}

uint64_t myelon_processor_count(const struct myelon_processor *p)
{
  return p ? atomic_load_explicit(&((struct myelon_processor *)p)->count, memory_order_relaxed) : 0; /* F3 */
}

uint64_t myelon_processor_errors(const struct myelon_processor *p)
{
  return p ? atomic_load_explicit(&((struct myelon_processor *)p)->errors, memory_order_relaxed) : 0; /* F3 */
}

void myelon_processor_close(struct myelon_processor *p)
{
  if (!p)
    return;
  dmp_task_close(p->task);
  processor_free(p);
}
