/* Fixed topology, the one-ring shape (topology.h, MYELON_RESPONSES_ONE_RING):
 * the scheduler's gather ring, a multi-producer framed ring every worker
 * answers on, and the gather that reads it.
 *
 * What differs from the N-ring gather (topology_scheduler.c):
 *  - one consumer reads every worker's answers interleaved, so an answer
 *    to a later step cannot stay leased in the ring while the others are
 *    read: it is copied into a per-worker queue (bounded) and delivered
 *    by the gather of its step;
 *  - liveness comes from the request ring alone (the worker's consumer
 *    entry "w<i>", held by the same process as its producer entry here;
 *    producer entries carry no worker id);
 *  - a worker found gone is declared dead only once everything claimed on
 *    the ring at that moment has been read (published or tombstoned): an
 *    answer it published just before dying may sit behind another
 *    producer's slot that is still being written. */
#include <myelon/error.h>
#include <myelon/topology.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <disruptor_mp/discovery.h>
#include <disruptor_mp/error.h>
#include <disruptor_mp/inspect.h>

#include "topology_internal.h"

/* An answer to a later step, copied out of the ring. */
struct held {
  void *data;
  size_t len;
  uint64_t step;
  uint8_t kind;
};

/* A worker's held answers, oldest first (a circular queue). */
struct held_queue {
  struct held e[MYELON_GATHER_HELD_MAX];
  uint32_t head, n;
};

struct myelon_impl_one_ring {
  struct myelon_impl_out out; /* the scheduler's producer entry: never publishes, keeps the ring alive */
  struct myelon_consumer *c;  /* consumer "s" */
  struct dmp_inspect *insp;   /* opened at the first gone worker: the ring's claim counter */
  enum dmp_backend backend;
  char name[MYELON_LAYOUT_PATH_MAX];
  struct held_queue q[MYELON_WORKERS_MAX];
};

int myelon_impl_one_ring_open(const struct myelon_topology_config *cfg, const struct myelon_layout *l,
                              struct myelon_impl_one_ring **out, const char *fn)
{
  struct myelon_impl_one_ring *o = calloc(1, sizeof *o);
  if (!o)
    return dmp_error_set(fn, "out of memory"), -ENOMEM;
  o->backend = l->backend;
  int rc = myelon_layout_gather_name(l, o->name, sizeof o->name);
  if (rc < 0) {
    free(o);
    return rc;
  }
  /* One consumer ("s"); producers: the scheduler and the workers. */
  rc = myelon_impl_out_create(&o->out, cfg, o->name, l->response_depth, 1, MYELON_IMPL_GATHER_PRODUCERS(l->workers));
  if (rc < 0) {
    if (rc == -DMP_E_INUSE)
      dmp_error_set(fn, "gather ring '%s' has live producers (a live scheduler, or workers of one that died)",
                    o->name);
    free(o);
    return rc;
  }
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.backend = l->backend;
  cc.ring.name = o->name;
  cc.ring.id = MYELON_LAYOUT_SCHEDULER_ID;
  cc.ring.start = DMP_START_OLDEST;
  cc.ring.wait = cfg->wait;
  cc.format = cfg->format;
  cc.frame_capacity = cfg->frame_capacity;
  cc.max_message = cfg->max_message;
  if ((rc = myelon_consumer_attach(&cc, &o->c)) < 0) {
    myelon_impl_out_close(&o->out); /* the creator's close removes the ring */
    free(o);
    return rc;
  }
  *out = o;
  return 0;
}

static void held_pop(struct held_queue *q)
{
  free(q->e[q->head].data);
  q->e[q->head].data = NULL;
  q->head = (q->head + 1) % MYELON_GATHER_HELD_MAX;
  q->n--;
}

void myelon_impl_one_ring_close(struct myelon_impl_one_ring *o)
{
  if (!o)
    return;
  myelon_consumer_close(o->c);
  dmp_inspect_close(o->insp);
  /* The creator's close removes the ring's name; workers still joined keep
   * their mapping and leave it at their close. */
  myelon_impl_out_close(&o->out);
  for (uint32_t i = 0; i < MYELON_WORKERS_MAX; i++)
    while (o->q[i].n)
      held_pop(&o->q[i]);
  free(o);
}

struct myelon_consumer *myelon_impl_one_ring_consumer(struct myelon_impl_one_ring *o)
{
  return o ? o->c : NULL;
}

/* ---- gather ------------------------------------------------------------------------ */

struct run {
  struct myelon_impl_one_ring *o;
  const struct myelon_impl_gather_ctx *ctx;
  uint64_t step;
  uint64_t pending;
  uint64_t gone;                      /* pending workers found gone, not yet settled */
  int64_t mark[MYELON_WORKERS_MAX];   /* per gone worker: the last sequence claimed when found */
  struct myelon_gather *g;
  myelon_response_fn fn;
  void *user;
};

static void settle(struct run *r, uint32_t i, uint64_t *set)
{
  uint64_t bit = UINT64_C(1) << i;
  *set |= bit;
  r->pending &= ~bit;
  r->gone &= ~bit;
}

static int deliver(struct run *r, const struct myelon_step_msg *sm)
{
  int stop = r->fn ? r->fn(sm, r->user) : 0;
  settle(r, sm->worker, &r->g->answered);
  return stop ? -ECANCELED : 0;
}

/* Copy an answer into worker i's queue; a full queue drops it (stale). */
static int hold(struct run *r, const struct myelon_step_msg *sm)
{
  struct held_queue *q = &r->o->q[sm->worker];
  if (q->n == MYELON_GATHER_HELD_MAX) {
    r->g->stale++;
    return 0;
  }
  void *copy = malloc(sm->len ? sm->len : 1);
  if (!copy)
    return dmp_error_set("myelon_scheduler_gather", "out of memory holding an answer of %zu bytes", sm->len),
           -ENOMEM;
  memcpy(copy, sm->data, sm->len);
  q->e[(q->head + q->n) % MYELON_GATHER_HELD_MAX] = (struct held){copy, sm->len, sm->step, sm->kind};
  q->n++;
  return 0;
}

/* The held answers first: they are older than anything still in the ring. */
static int take_held(struct run *r)
{
  for (uint32_t i = 0; i < r->ctx->workers; i++) {
    struct held_queue *q = &r->o->q[i];
    while (q->n && (r->pending & (UINT64_C(1) << i))) {
      struct held *h = &q->e[q->head];
      if (h->step < r->step) {
        r->g->stale++;
        held_pop(q);
        continue;
      }
      if (h->step > r->step) {
        settle(r, i, &r->g->skipped); /* stays held for its own gather */
        break;
      }
      struct myelon_step_msg sm = {h->step, i, h->kind, h->data, h->len, false};
      int rc = deliver(r, &sm);
      held_pop(q);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

/* One message from the ring: deliver, drop or hold it; then release it. */
static int classify(struct run *r, const struct myelon_msg *m)
{
  struct myelon_step_msg sm;
  int rc = 0;
  if (myelon_impl_parse_step(m, MYELON_STEP_RESPONSE, &sm) < 0 || sm.worker >= r->ctx->workers) {
    r->g->malformed++;
  } else if (sm.step < r->step) {
    r->g->stale++;
  } else if (!(r->pending & (UINT64_C(1) << sm.worker))) {
    rc = hold(r, &sm); /* settled already: its ring would keep it (N rings) */
  } else if (sm.step == r->step) {
    rc = deliver(r, &sm);
  } else {
    rc = hold(r, &sm);
    settle(r, sm.worker, &r->g->skipped);
  }
  myelon_consumer_release(r->o->c);
  return rc;
}

/* Read one message, waiting up to `wait_ns` (0: not at all). 1: one was
 * handled; 0: nothing; < 0: an error. */
static int poll_ring(struct run *r, int64_t wait_ns)
{
  struct myelon_msg m;
  int rc = wait_ns > 0 ? myelon_consumer_recv(r->o->c, &m, wait_ns) : myelon_consumer_try_recv(r->o->c, &m);
  if (rc == 0)
    return (rc = classify(r, &m)) < 0 ? rc : 1;
  if (rc == -EAGAIN || rc == -ETIMEDOUT)
    return 0;
  if (rc == -MYELON_E_TRUNCATED || rc == -MYELON_E_MALFORMED || rc == -MYELON_E_TOOBIG) {
    r->g->malformed++;
    return 1;
  }
  if (rc == -DMP_E_OWNERDEAD) { /* no producer left at all (we hold one: a scribbled ring) */
    r->gone |= r->pending;
    for (uint32_t i = 0; i < r->ctx->workers; i++)
      r->mark[i] = -1;
    return 0;
  }
  return rc;
}

static int drain(struct run *r)
{
  int rc;
  while ((rc = poll_ring(r, 0)) == 1) {
  }
  return rc;
}

/* Gone workers whose every claim has been read are dead. */
static void settle_dead(struct run *r)
{
  int64_t next = dmp_consumer_next(myelon_consumer_ring(r->o->c));
  for (uint32_t i = 0; i < r->ctx->workers; i++)
    if ((r->gone & (UINT64_C(1) << i)) && next > r->mark[i])
      settle(r, i, &r->g->dead);
}

/* The last sequence claimed on the ring (-1: none or unknown, which
 * settles a gone worker as soon as the ring reads empty). */
static int64_t last_claimed(struct myelon_impl_one_ring *o)
{
  if (!o->insp && dmp_inspect_open(o->backend, o->name, &o->insp) < 0)
    return -1;
  const struct dmp_ring_stat *st;
  if (dmp_inspect_sample(o->insp, &st) < 0)
    return -1;
  return st->claimed;
}

/* Pending workers without a live consumer entry on the request ring. */
static uint64_t gone_workers(const struct run *r)
{
  uint64_t gone = 0;
  for (uint32_t i = 0; i < r->ctx->workers; i++) {
    uint64_t bit = UINT64_C(1) << i;
    if (!(r->pending & bit))
      continue;
    char id[MYELON_LAYOUT_ID_MAX];
    struct dmp_consumer_info info;
    snprintf(id, sizeof id, "w%u", i);
    if (dmp_producer_consumer_info(r->ctx->requests, id, &info) < 0 || info.state != DMP_ENTRY_ACTIVE ||
        !info.alive)
      gone |= bit;
  }
  return gone;
}

static int check_liveness(struct run *r)
{
  uint64_t fresh = gone_workers(r) & ~r->gone;
  if (!fresh)
    return r->gone ? 1 : 0;
  /* Sampled after the liveness probe: every claim a gone worker made is at
   * or before this one. */
  int64_t claimed = last_claimed(r->o);
  for (uint32_t i = 0; i < r->ctx->workers; i++)
    if (fresh & (UINT64_C(1) << i))
      r->mark[i] = claimed;
  r->gone |= fresh;
  return 1;
}

static int gather_loop(struct run *r, int64_t timeout_ns)
{
  int64_t deadline = myelon_impl_deadline(timeout_ns);
  int rc;
  while (r->pending) {
    if ((rc = drain(r)) < 0)
      return rc;
    settle_dead(r);
    if (!r->pending)
      break;
    /* Before the deadline test, so that a short (or zero) timeout still
     * runs a check that is due (the cadence is the scheduler's). */
    int64_t now = myelon_impl_now_ns();
    if (now >= *r->ctx->liveness_due) {
      *r->ctx->liveness_due = now + MYELON_IMPL_CHECK_NS;
      if (check_liveness(r) > 0) {
        /* A gone worker may have died between its claim and its publish:
         * a blocking wait, however short, runs the ring's liveness check,
         * which publishes such slots as tombstones (a try_recv does not). */
        if ((rc = poll_ring(r, 1)) < 0 || (rc = drain(r)) < 0)
          return rc;
        settle_dead(r);
        if (!r->pending)
          break;
      }
    }
    int64_t left = myelon_impl_left(deadline);
    if (left == 0) {
      /* Gone but not settled: something claimed before it died is still
       * unread (a stopped worker's slot holds the ring): dead anyway. */
      r->g->dead |= r->pending & r->gone;
      r->g->late = r->pending & ~r->gone;
      break;
    }
    int64_t slice = left < 0 || left > MYELON_IMPL_CHECK_NS ? MYELON_IMPL_CHECK_NS : left;
    if ((rc = poll_ring(r, slice)) < 0)
      return rc;
  }
  return 0;
}

int myelon_impl_one_ring_gather(struct myelon_impl_one_ring *o, const struct myelon_impl_gather_ctx *ctx,
                                uint64_t step, int64_t timeout_ns, myelon_response_fn fn, void *user,
                                struct myelon_gather *g)
{
  struct myelon_workers w = {ctx->workers};
  struct run r = {.o = o, .ctx = ctx, .step = step, .pending = myelon_workers_mask(w), .g = g, .fn = fn,
                  .user = user};
  int rc = take_held(&r);
  return rc < 0 ? rc : gather_loop(&r, timeout_ns);
}
