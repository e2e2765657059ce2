/* The framed event processor (framed_processor.h): a library thread that
 * pins itself as a processor, attaches a Layer 1 consumer and hands whole
 * messages to a handler until stopped, told to by the handler, or failed.
 *
 * Owner and thread share the handle as in Layer 0's processor.c:
 *  - `stop`: owner -> thread. F1: release store (stop) / acquire load
 *    (thread), once per message and per wait slice;
 *  - `state` (after `error` and `detail`): thread -> owner. F2: release
 *    store by the thread / acquire loads by the owner;
 *  - `count`, `errors`: relaxed (F3): statistics, nothing read through them;
 *  - the start report and the thread's end: under `mu` / `cv`. */
#include <myelon/error.h>
#include <myelon/framed_processor.h>

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct myelon_processor {
  struct myelon_processor_config cfg; /* strings point at the copies below */
  char *name;
  char *cpus;
  char id[DMP_ID_MAX + 1];
  char thread_name[DMP_PROCESSOR_NAME_MAX + 1];
  pthread_t thread;
  struct myelon_consumer *c; /* the thread's alone */

  atomic_uint stop;
  atomic_uint state;
  atomic_uint_least64_t count;
  atomic_uint_least64_t errors;
  int error;
  char detail[512];

  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool reported; /* under mu */
  int start_rc;
  bool ended;    /* under mu */
  bool joined;   /* the owner's */
};

void myelon_processor_config_init(struct myelon_processor_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  myelon_consumer_config_init(&cfg->consumer);
}

/* ---- the thread ----------------------------------------------------------- */

static void set_state(struct myelon_processor *p, enum dmp_processor_state s)
{
  /* F2: release store, after error and detail; pairs with the owner's acquire loads. */
  atomic_store_explicit(&p->state, (unsigned)s, memory_order_release);
}

static void fail(struct myelon_processor *p, int rc)
{
  p->error = rc;
  int k = snprintf(p->detail, sizeof p->detail, "[myelon_processor] consumer '%s' of '%s' ended after %llu messages: %s",
                   p->id, p->name, (unsigned long long)atomic_load_explicit(&p->count, memory_order_relaxed),
                   dmp_strerror(rc));
  if (rc != -DMP_E_OWNERDEAD && k > 0 && (size_t)k < sizeof p->detail)
    snprintf(p->detail + k, sizeof p->detail - (size_t)k, " (%s)", dmp_last_error());
  set_state(p, DMP_PROCESSOR_FAILED);
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

static void run(struct myelon_processor *p)
{
  for (;;) {
    /* F1: acquire load of the stop flag; pairs with myelon_processor_stop(). */
    if (atomic_load_explicit(&p->stop, memory_order_acquire)) {
      set_state(p, DMP_PROCESSOR_STOPPED);
      return;
    }
    int64_t n = batch(p);
    if (n < 0) {
      set_state(p, DMP_PROCESSOR_RETURNED);
      return;
    }
    if (n > 0)
      continue;
    /* Nothing complete: wait for frames (bounded, to see a stop). */
    int64_t w = dmp_consumer_wait(myelon_consumer_ring(p->c), DMP_PROCESSOR_STOP_SLICE_NS);
    if (w >= 0 || w == -ETIMEDOUT)
      continue;
    fail(p, (int)w);
    return;
  }
}

static void report(struct myelon_processor *p, int rc, bool ended)
{
  pthread_mutex_lock(&p->mu);
  if (ended)
    p->ended = true;
  else {
    p->start_rc = rc;
    p->reported = true;
  }
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

static void *thread_main(void *arg)
{
  struct myelon_processor *p = arg;
  (void)pthread_setname_np(pthread_self(), p->thread_name); /* a convenience: never fatal */
  int rc = dmp_affinity_pin_role(DMP_ROLE_PROCESSOR, p->cfg.cpus); /* before the ring is touched */
  if (rc >= 0)
    rc = p->cfg.attach_timeout_ns != 0
             ? myelon_consumer_attach_timeout(&p->cfg.consumer, p->cfg.attach_timeout_ns, &p->c)
             : myelon_consumer_attach(&p->cfg.consumer, &p->c);
  if (rc < 0) {
    p->error = rc;
    snprintf(p->detail, sizeof p->detail, "%s", dmp_last_error());
    set_state(p, DMP_PROCESSOR_FAILED);
  }
  report(p, rc < 0 ? rc : 0, false);
  if (rc >= 0) {
    run(p);
    myelon_consumer_close(p->c);
    p->c = NULL;
  }
  report(p, 0, true);
  return NULL;
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
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->name);
  free(p->cpus);
  free(p);
}

static struct myelon_processor *processor_new(const struct myelon_processor_config *cfg)
{
  struct myelon_processor *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->cfg = *cfg;
  p->name = strdup(cfg->consumer.ring.name);
  p->cpus = cfg->cpus ? strdup(cfg->cpus) : NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&p->mu, NULL);
  if (!p->name || (cfg->cpus && !p->cpus)) {
    processor_free(p);
    return NULL;
  }
  snprintf(p->id, sizeof p->id, "%s", cfg->consumer.ring.id);
  if (cfg->thread_name)
    snprintf(p->thread_name, sizeof p->thread_name, "%s", cfg->thread_name);
  else
    snprintf(p->thread_name, sizeof p->thread_name, "myelon-%.8s", p->id);
  p->cfg.consumer.ring.name = p->name;
  p->cfg.consumer.ring.id = p->id;
  p->cfg.cpus = p->cpus;
  p->cfg.thread_name = p->thread_name;
  /* Relaxed: before the thread exists; pthread_create() orders them. */
  atomic_store_explicit(&p->stop, 0, memory_order_relaxed);
  atomic_store_explicit(&p->state, DMP_PROCESSOR_RUNNING, memory_order_relaxed);
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
  rc = pthread_create(&p->thread, NULL, thread_main, p);
  if (rc != 0) {
    processor_free(p);
    return dmp_error_set("myelon_processor_start", "pthread_create: %s", strerror(rc)), -rc;
  }
  pthread_mutex_lock(&p->mu); /* bounded: one pinning, one bounded attach */
  while (!p->reported)
    pthread_cond_wait(&p->cv, &p->mu);
  rc = p->start_rc;
  pthread_mutex_unlock(&p->mu);
  if (rc < 0) {
    pthread_join(p->thread, NULL);
    dmp_error_set("myelon_processor_start", "%s", p->detail);
    processor_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

void myelon_processor_stop(struct myelon_processor *p)
{
  if (p) /* F1: release store; pairs with the thread's acquire load */
    atomic_store_explicit(&p->stop, 1, memory_order_release);
}

enum dmp_processor_state myelon_processor_state(const struct myelon_processor *p)
{
  if (!p)
    return DMP_PROCESSOR_FAILED;
  /* F2: acquire load; pairs with set_state(). */
  return (enum dmp_processor_state)atomic_load_explicit(&((struct myelon_processor *)p)->state,
                                                        memory_order_acquire);
}

int myelon_processor_join(struct myelon_processor *p, int64_t timeout_ns)
{
  if (!p)
    return -EINVAL;
  if (!p->joined) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t t = timeout_ns < 0 ? 0 : timeout_ns;
    int64_t ns = (int64_t)dl.tv_nsec + t % 1000000000;
    dl.tv_sec += (time_t)(t / 1000000000 + ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    while (!p->ended && rc != ETIMEDOUT)
      rc = timeout_ns < 0 ? pthread_cond_wait(&p->cv, &p->mu) : pthread_cond_timedwait(&p->cv, &p->mu, &dl);
    bool ended = p->ended;
    pthread_mutex_unlock(&p->mu);
    if (!ended)
      return -ETIMEDOUT;
    pthread_join(p->thread, NULL);
    p->joined = true;
  }
  return myelon_processor_error(p);
}

bool myelon_processor_is_running(const struct myelon_processor *p)
{
  return p && myelon_processor_state(p) == DMP_PROCESSOR_RUNNING;
}

int myelon_processor_error(const struct myelon_processor *p)
{
  if (!p)
    return -EINVAL;
  return myelon_processor_state(p) == DMP_PROCESSOR_FAILED ? p->error : 0;
}

const char *myelon_processor_error_detail(const struct myelon_processor *p)
{
  return p && myelon_processor_state(p) == DMP_PROCESSOR_FAILED ? p->detail : "";
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
  myelon_processor_stop(p);
  (void)myelon_processor_join(p, DMP_FOREVER);
  processor_free(p);
}
