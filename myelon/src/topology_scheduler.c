/* Fixed topology, scheduler side (topology.h): the request ring, the
 * rendezvous, broadcasts that name the workers holding them back, and the
 * gather that waits for every worker's answer to a step or says who is
 * late and who is dead. */
#include <myelon/error.h>
#include <myelon/topology.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <disruptor_mp/discovery.h>
#include <disruptor_mp/error.h>

#include "topology_internal.h"


/* How often a gather parked on one worker's ring looks at the others'
 * liveness. Layer 0 ends the park itself when *that* worker dies. */
#define CHECK_NS MYELON_IMPL_CHECK_NS

struct response {
  struct myelon_consumer *c; /* NULL until the rendezvous attached it */
  struct myelon_msg held;    /* an answer to a later step, still leased */
  bool has_held;
};

struct myelon_scheduler {
  struct myelon_impl_out out;
  struct myelon_layout layout;
  struct myelon_workers workers;
  enum myelon_frame_format format;
  uint32_t frame_capacity;
  size_t max_message;
  struct dmp_wait_strategy wait;
  bool responses;
  bool ready; /* a rendezvous succeeded */
  struct myelon_impl_one_ring *one; /* the gather ring (MYELON_RESPONSES_ONE_RING); NULL: N rings */
  /* When the gather's next liveness check is due. Kept across calls: a
   * caller that gathers with timeouts shorter than CHECK_NS (or 0, polling)
   * still gets a check every CHECK_NS, instead of one that restarts with
   * every call and never comes (dead workers were then never reported). */
  int64_t liveness_due;
  struct response resp[MYELON_WORKERS_MAX];
};

static struct dmp_producer *request_ring(struct myelon_scheduler *s)
{
  return myelon_producer_ring(s->out.p);
}

int myelon_scheduler_create(const struct myelon_topology_config *cfg, struct myelon_scheduler **out)
{
  if (out)
    *out = NULL;
  if (!cfg || !out)
    return dmp_error_set(__func__, "cfg or out is NULL"), -EINVAL;
  struct myelon_scheduler *s = calloc(1, sizeof *s);
  if (!s)
    return dmp_error_set(__func__, "out of memory"), -ENOMEM;
  char name[MYELON_LAYOUT_PATH_MAX];
  int rc = myelon_impl_topology_layout(cfg, &s->layout, __func__);
  /* The gather ring before the request ring: a worker that finds the
   * request ring finds the gather ring too. */
  if (rc == 0 && cfg->responses == MYELON_RESPONSES_ONE_RING)
    rc = myelon_impl_one_ring_open(cfg, &s->layout, &s->one, __func__);
  if (rc < 0 || (rc = myelon_layout_request_name(&s->layout, name, sizeof name)) < 0 ||
      (rc = myelon_impl_out_create(&s->out, cfg, name, s->layout.request_depth, cfg->workers.n, 0)) < 0) {
    myelon_impl_one_ring_close(s->one);
    free(s);
    return rc;
  }
  s->workers = cfg->workers;
  s->format = cfg->format;
  s->frame_capacity = cfg->frame_capacity;
  s->max_message = cfg->max_message;
  s->wait = cfg->wait;
  s->responses = !cfg->no_responses;
  *out = s;
  return 0;
}

void myelon_scheduler_close(struct myelon_scheduler *s)
{
  if (!s)
    return;
  for (uint32_t i = 0; i < s->workers.n; i++)
    myelon_impl_close_consumer(s->resp[i].c, s->layout.backend);
  myelon_impl_one_ring_close(s->one);
  myelon_impl_out_close(&s->out);
  free(s);
}

/* ---- rendezvous ------------------------------------------------------------------- */

/* Workers attached to the request ring whose holder is gone. */
static uint64_t dead_on_requests(struct myelon_scheduler *s, uint64_t *attached)
{
  uint64_t dead = 0, att = 0;
  for (uint32_t i = 0; i < s->workers.n; i++) {
    char id[MYELON_LAYOUT_ID_MAX];
    struct dmp_consumer_info info;
    snprintf(id, sizeof id, "w%u", i);
    if (dmp_producer_consumer_info(request_ring(s), id, &info) < 0 || info.state != DMP_ENTRY_ACTIVE)
      continue;
    att |= UINT64_C(1) << i;
    if (!info.alive)
      dead |= UINT64_C(1) << i;
  }
  if (attached)
    *attached = att;
  return dead;
}

static int attach_response(struct myelon_scheduler *s, uint32_t i, int64_t timeout_ns, const char *fn)
{
  char name[MYELON_LAYOUT_PATH_MAX];
  int rc = myelon_layout_response_name(&s->layout, i, name, sizeof name);
  if (rc < 0)
    return rc;
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.backend = s->layout.backend;
  cc.ring.name = name;
  cc.ring.id = MYELON_LAYOUT_SCHEDULER_ID;
  cc.ring.start = DMP_START_OLDEST;
  cc.ring.wait = s->wait;
  cc.format = s->format;
  cc.frame_capacity = s->frame_capacity;
  cc.max_message = s->max_message;
  rc = myelon_consumer_attach_timeout(&cc, timeout_ns, &s->resp[i].c);
  if (rc == -ETIMEDOUT)
    dmp_error_set(fn, "worker w%u is attached but its response ring '%s' did not appear after %lld ms", i, name,
                  (long long)(timeout_ns / 1000000));
  else if (rc < 0 && !(rc == -MYELON_E_FORMAT &&
                       myelon_impl_explain_shape(s->layout.backend, name, s->format, "response ring", fn)))
    dmp_error_set(fn, "worker w%u's response ring '%s': %s", i, name, dmp_last_error());
  return rc;
}

int myelon_scheduler_rendezvous(struct myelon_scheduler *s, int64_t timeout_ns)
{
  if (!s)
    return dmp_error_set(__func__, "scheduler is NULL"), -EINVAL;
  int64_t deadline = myelon_impl_deadline(timeout_ns);
  int rc = myelon_impl_wait_ids(request_ring(s), s->workers.n, timeout_ns, __func__, "workers");
  if (rc < 0)
    return rc;
  uint64_t dead = dead_on_requests(s, NULL);
  if (dead) {
    char list[160];
    myelon_impl_format_mask(list, sizeof list, dead);
    return dmp_error_set(__func__, "worker(s) attached to '%s' and died: %s", dmp_producer_name(request_ring(s)), list),
           -DMP_E_OWNERDEAD;
  }
  /* One ring: the scheduler reads it since it created it; nothing to attach. */
  for (uint32_t i = 0; s->responses && !s->one && i < s->workers.n; i++) {
    struct response *rs = &s->resp[i];
    if (rs->c && !dmp_consumer_producer_alive(myelon_consumer_ring(rs->c))) {
      /* The worker restarted: its new response ring replaced the old one. */
      myelon_impl_close_consumer(rs->c, s->layout.backend);
      rs->c = NULL;
      rs->has_held = false;
    }
    if (!rs->c && (rc = attach_response(s, i, myelon_impl_left(deadline), __func__)) < 0)
      return rc;
  }
  s->ready = true;
  return 0;
}

/* ---- broadcast ----------------------------------------------------------------------- */

/* The ring stayed full: say who holds it back. Dead ones make it -DMP_E_OWNERDEAD. */
static int diagnose_full(struct myelon_scheduler *s, const char *what, uint64_t step, int rc, const char *fn)
{
  struct dmp_producer *p = request_ring(s);
  uint64_t dead = dead_on_requests(s, NULL), behind = 0;
  int64_t published = dmp_producer_sequence(p), floor = dmp_producer_min_gating_sequence(p);
  for (uint32_t i = 0; i < s->workers.n; i++) {
    char id[MYELON_LAYOUT_ID_MAX];
    struct dmp_consumer_info info;
    snprintf(id, sizeof id, "w%u", i);
    if (dmp_producer_consumer_info(p, id, &info) == 0 && info.gating && info.cursor <= floor)
      behind |= UINT64_C(1) << i;
  }
  char d[160], b[160];
  myelon_impl_format_mask(d, sizeof d, dead);
  myelon_impl_format_mask(b, sizeof b, behind & ~dead);
  dmp_error_set(fn, "%s %llu: request ring full (published %lld, slowest reader at %lld); dead: %s; behind: %s",
                what, (unsigned long long)step, (long long)published, (long long)floor, dead ? d : "none",
                (behind & ~dead) ? b : "none");
  return dead ? -DMP_E_OWNERDEAD : rc;
}

static int check_ready(const struct myelon_scheduler *s, const char *fn)
{
  if (!s->ready)
    return TOPO_FAIL(fn, "no successful rendezvous yet: workers could miss this step");
  return 0;
}

int myelon_scheduler_broadcast(struct myelon_scheduler *s, uint64_t step, const void *data, size_t len, uint8_t kind,
                               int64_t timeout_ns)
{
  if (!s || (!data && len))
    return dmp_error_set(__func__, "scheduler or data is NULL"), -EINVAL;
  int rc = check_ready(s, __func__);
  if (rc < 0)
    return rc;
  struct myelon_step_header h = {.magic = MYELON_STEP_REQUEST, .worker = MYELON_STEP_ALL, .step = step};
  rc = myelon_impl_publish_bytes(&s->out, &h, data, len, kind, timeout_ns, __func__);
  return rc == -ETIMEDOUT ? diagnose_full(s, "step", step, rc, __func__) : rc;
}

int myelon_scheduler_broadcast_value(struct myelon_scheduler *s, uint64_t step, const struct myelon_codec *codec,
                                     const void *value, uint8_t kind, int64_t timeout_ns)
{
  if (!s)
    return dmp_error_set(__func__, "scheduler is NULL"), -EINVAL;
  int rc = check_ready(s, __func__);
  if (rc < 0)
    return rc;
  struct myelon_step_header h = {.magic = MYELON_STEP_REQUEST, .worker = MYELON_STEP_ALL, .step = step};
  rc = myelon_impl_publish_value(&s->out, &h, codec, value, kind, timeout_ns, __func__);
  return rc == -ETIMEDOUT ? diagnose_full(s, "step", step, rc, __func__) : rc;
}

int myelon_scheduler_claim(struct myelon_scheduler *s, size_t max_len, void **body, int64_t timeout_ns)
{
  if (!s)
    return dmp_error_set(__func__, "scheduler is NULL"), -EINVAL;
  int rc = check_ready(s, __func__);
  if (rc < 0)
    return rc;
  rc = myelon_impl_claim(&s->out, max_len, body, timeout_ns, __func__);
  return rc == -ETIMEDOUT ? diagnose_full(s, "claim of", (uint64_t)max_len, rc, __func__) : rc;
}

int myelon_scheduler_commit(struct myelon_scheduler *s, uint64_t step, size_t len, uint8_t kind)
{
  if (!s)
    return dmp_error_set(__func__, "scheduler is NULL"), -EINVAL;
  struct myelon_step_header h = {.magic = MYELON_STEP_REQUEST, .worker = MYELON_STEP_ALL, .step = step};
  return myelon_impl_commit(&s->out, &h, len, kind, __func__);
}

int myelon_scheduler_abort(struct myelon_scheduler *s)
{
  if (!s)
    return dmp_error_set(__func__, "scheduler is NULL"), -EINVAL;
  return myelon_impl_abort(&s->out, __func__);
}

/* ---- gather ------------------------------------------------------------------------------ */

struct gather_run {
  struct myelon_scheduler *s;
  uint64_t step;
  uint64_t pending;
  struct myelon_gather g;
  myelon_response_fn fn;
  void *user;
};

enum poll_result {
  POLL_NOTHING = 0, /* no message (yet) */
  POLL_AGAIN = 1,   /* a message was dropped: look again */
  POLL_DONE = 2,    /* this worker is settled for this step */
};

static enum poll_result settle(struct gather_run *r, uint32_t i, uint64_t *set)
{
  *set |= UINT64_C(1) << i;
  r->pending &= ~(UINT64_C(1) << i);
  return POLL_DONE;
}

/* One message of worker i: deliver, drop or hold it. -ECANCELED if fn stops. */
static int classify(struct gather_run *r, uint32_t i, const struct myelon_msg *m)
{
  struct response *rs = &r->s->resp[i];
  struct myelon_step_msg sm;
  if (myelon_impl_parse_step(m, MYELON_STEP_RESPONSE, &sm) < 0 || sm.worker != i) {
    r->g.malformed++;
    myelon_consumer_release(rs->c);
    return POLL_AGAIN;
  }
  if (sm.step < r->step) {
    r->g.stale++;
    myelon_consumer_release(rs->c);
    return POLL_AGAIN;
  }
  if (sm.step > r->step) {
    rs->held = *m; /* still leased: the next gather starts with it */
    rs->has_held = true;
    return settle(r, i, &r->g.skipped);
  }
  int stop = r->fn ? r->fn(&sm, r->user) : 0;
  myelon_consumer_release(rs->c);
  settle(r, i, &r->g.answered);
  return stop ? -ECANCELED : POLL_DONE;
}

/* Look at worker i once, waiting up to `wait_ns` (0: not at all). */
static int poll_worker(struct gather_run *r, uint32_t i, int64_t wait_ns)
{
  struct response *rs = &r->s->resp[i];
  struct myelon_msg m;
  int rc;
  if (rs->has_held) {
    m = rs->held;
    rs->has_held = false;
    rc = 0;
  } else {
    rc = wait_ns > 0 ? myelon_consumer_recv(rs->c, &m, wait_ns) : myelon_consumer_try_recv(rs->c, &m);
  }
  if (rc == 0)
    return classify(r, i, &m);
  if (rc == -EAGAIN || rc == -ETIMEDOUT)
    return POLL_NOTHING;
  if (rc == -DMP_E_OWNERDEAD)
    return settle(r, i, &r->g.dead);
  if (rc == -MYELON_E_TRUNCATED || rc == -MYELON_E_MALFORMED || rc == -MYELON_E_TOOBIG) {
    r->g.malformed++;
    return POLL_AGAIN;
  }
  return rc;
}

/* Poll worker i until it has nothing more now. */
static int drain_worker(struct gather_run *r, uint32_t i, int64_t wait_ns)
{
  int rc;
  while ((rc = poll_worker(r, i, wait_ns)) == POLL_AGAIN)
    wait_ns = 0;
  return rc < 0 ? rc : 0;
}

/* Pending workers whose process is gone (after reading what they left). */
static int check_liveness(struct gather_run *r)
{
  uint64_t dead_req = dead_on_requests(r->s, NULL);
  for (uint32_t i = 0; i < r->s->workers.n; i++) {
    uint64_t bit = UINT64_C(1) << i;
    if (!(r->pending & bit))
      continue;
    bool alive = dmp_consumer_producer_alive(myelon_consumer_ring(r->s->resp[i].c)) && !(dead_req & bit);
    if (alive)
      continue;
    int rc = drain_worker(r, i, 0); /* an answer sent just before dying still counts */
    if (rc < 0)
      return rc;
    if (r->pending & bit)
      settle(r, i, &r->g.dead);
  }
  return 0;
}

static int sweep(struct gather_run *r)
{
  for (uint32_t i = 0; i < r->s->workers.n; i++)
    if (r->pending & (UINT64_C(1) << i)) {
      int rc = drain_worker(r, i, 0);
      if (rc < 0)
        return rc;
    }
  return 0;
}

static int gather_loop(struct gather_run *r, int64_t timeout_ns)
{
  struct myelon_scheduler *s = r->s;
  int64_t deadline = myelon_impl_deadline(timeout_ns);
  int rc;
  while (r->pending) {
    if ((rc = sweep(r)) < 0)
      return rc;
    if (!r->pending)
      break;
    /* Before the deadline test, so that a short (or zero) timeout still
     * runs a check that is due. */
    int64_t now = myelon_impl_now_ns();
    if (now >= s->liveness_due) {
      s->liveness_due = now + CHECK_NS;
      if ((rc = check_liveness(r)) < 0)
        return rc;
      if (!r->pending)
        break;
    }
    int64_t left = myelon_impl_left(deadline);
    if (left == 0) {
      r->g.late = r->pending;
      break;
    }
    int64_t slice = left < 0 || left > CHECK_NS ? CHECK_NS : left;
    if ((rc = drain_worker(r, (uint32_t)__builtin_ctzll(r->pending), slice)) < 0)
      return rc;
  }
  return 0;
}

/* Append "<sep><label>: w1, w3" for a nonempty set. */
static void append_set(char *buf, size_t cap, const char *label, uint64_t set)
{
  if (!set)
    return;
  size_t used = strlen(buf);
  char list[96];
  myelon_impl_format_mask(list, sizeof list, set);
  snprintf(buf + used, cap - used, "%s%s: %s", used ? "; " : "", label, list);
}

static int gather_verdict(const struct gather_run *r, int64_t timeout_ns, const char *fn)
{
  const struct myelon_gather *g = &r->g;
  if (!g->dead && !g->late && !g->skipped)
    return 0;
  char msg[224] = "";
  append_set(msg, sizeof msg, "dead", g->dead);
  append_set(msg, sizeof msg, "late", g->late);
  if (g->late) {
    size_t used = strlen(msg);
    snprintf(msg + used, sizeof msg - used, " (no answer after %lld ms)", (long long)(timeout_ns / 1000000));
  }
  append_set(msg, sizeof msg, "answered a later step first", g->skipped);
  dmp_error_set(fn, "step %llu: %s", (unsigned long long)r->step, msg);
  return g->dead ? -DMP_E_OWNERDEAD : g->late ? -ETIMEDOUT : -MYELON_E_TOPOLOGY;
}

int myelon_scheduler_gather(struct myelon_scheduler *s, uint64_t step, int64_t timeout_ns, myelon_response_fn fn,
                            struct myelon_gather *out, void *user)
{
  if (out)
    memset(out, 0, sizeof *out);
  if (!s)
    return dmp_error_set(__func__, "scheduler is NULL"), -EINVAL;
  if (!s->responses)
    return TOPO_FAIL(__func__, "this topology has no response rings (no_responses)");
  int rc = check_ready(s, __func__);
  if (rc < 0)
    return rc;
  struct gather_run r = {.s = s, .step = step, .pending = myelon_workers_mask(s->workers), .g = {0}, .fn = fn, .user = user};
  if (s->one) {
    struct myelon_impl_gather_ctx ctx = {request_ring(s), s->workers.n, &s->liveness_due};
    rc = myelon_impl_one_ring_gather(s->one, &ctx, step, timeout_ns, fn, user, &r.g);
  } else {
    rc = gather_loop(&r, timeout_ns);
  }
  if (out)
    *out = r.g;
  return rc < 0 ? rc : gather_verdict(&r, timeout_ns, __func__);
}

/* ---- inspection ------------------------------------------------------------------------------ */

int myelon_scheduler_status(struct myelon_scheduler *s, struct myelon_workers_status *out)
{
  if (!s || !out)
    return dmp_error_set(__func__, "scheduler or out is NULL"), -EINVAL;
  memset(out, 0, sizeof *out); /* reserved[] included */
  out->dead = dead_on_requests(s, &out->attached);
  for (uint32_t i = 0; i < s->workers.n; i++)
    if (s->resp[i].c && !dmp_consumer_producer_alive(myelon_consumer_ring(s->resp[i].c)))
      out->dead |= UINT64_C(1) << i;
  /* One ring: no per-worker ring tells a closed worker; after the
   * rendezvous, one that is no longer attached is gone (as its response
   * ring's producer would be). */
  if (s->one && s->ready)
    out->dead |= myelon_workers_mask(s->workers) & ~out->attached;
  return 0;
}

const struct myelon_layout *myelon_scheduler_layout(const struct myelon_scheduler *s)
{
  return s ? &s->layout : NULL;
}

struct myelon_workers myelon_scheduler_workers(const struct myelon_scheduler *s)
{
  struct myelon_workers none = {0};
  return s ? s->workers : none;
}

struct myelon_producer *myelon_scheduler_requests(struct myelon_scheduler *s)
{
  return s ? s->out.p : NULL;
}

struct myelon_consumer *myelon_scheduler_responses(struct myelon_scheduler *s, uint32_t index)
{
  if (!s || index >= s->workers.n)
    return NULL;
  return s->one ? myelon_impl_one_ring_consumer(s->one) : s->resp[index].c;
}
