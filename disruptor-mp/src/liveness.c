/* Required-consumer liveness (see liveness.h): startup rendezvous, stall
 * detection with one alert per stall window, grace, sticky failure,
 * eviction of consumers the kernel proves dead, and removal of segments
 * whose producer the kernel proves dead. Cold path only. */
#include "internal.h"

#include <disruptor_mp/counters.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct required {
  char id[DMP_ID_MAX + 1];
  int64_t last_seq;      /* last observed cursor */
  int64_t progress_ns;   /* when it last progressed */
  int64_t stall_start_ns;/* 0 = not in a stall window */
  uint32_t generation;   /* of its entry when last seen: a change is a re-attach */
  bool alerted;          /* in an alerted stall window (or dead) */
  bool dead_alerted;     /* its death was reported */
};

struct dmp_impl_liveness {
  struct dmp_liveness_config cfg;
  bool started;
  int64_t startup_deadline; /* 0 = not armed; armed once, at the first managed claim or check */
  int64_t last_check_ns;
  int sticky;               /* terminal error, 0 = none */
  char sticky_detail[200];
  struct dmp_counters *counters; /* the producer's (counters.h), or NULL */
  size_t n;
  struct required req[];
};

void dmp_liveness_config_init(struct dmp_liveness_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->startup_timeout_ns = INT64_C(5000000000);
  cfg->progress_timeout_ns = INT64_C(250000000);
  cfg->check_interval_ns = INT64_C(5000000);
  cfg->grace_ns = INT64_C(1000000000);
  cfg->action = DMP_LIVENESS_FAIL;
}

static int check_config(const struct dmp_liveness_config *c)
{
  if (c->n_required > DMP_LIVENESS_MAX_REQUIRED)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.n_required %zu is more than %u", c->n_required, DMP_LIVENESS_MAX_REQUIRED);
  if (c->n_required && !c->required_ids)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.required_ids is NULL with cfg.n_required %zu", c->n_required);
  if (c->startup_timeout_ns <= 0 || c->progress_timeout_ns <= 0 || c->check_interval_ns <= 0 || c->grace_ns < 0)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg timeouts must be positive (startup_timeout_ns %lld, progress_timeout_ns %lld, "
                    "check_interval_ns %lld, grace_ns %lld)",
                    (long long)c->startup_timeout_ns, (long long)c->progress_timeout_ns,
                    (long long)c->check_interval_ns, (long long)c->grace_ns);
  if (c->grace_ns < c->progress_timeout_ns)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.grace_ns %lld is shorter than cfg.progress_timeout_ns %lld",
                    (long long)c->grace_ns, (long long)c->progress_timeout_ns);
  if (c->check_interval_ns > c->progress_timeout_ns)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.check_interval_ns %lld is longer than cfg.progress_timeout_ns %lld",
                    (long long)c->check_interval_ns, (long long)c->progress_timeout_ns);
  if ((unsigned)c->action > DMP_LIVENESS_EVICT)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.action %d is not a dmp_liveness_action", (int)c->action);
  for (size_t i = 0; i < c->n_required; i++) {
    if (dmp_id_validate(c->required_ids[i]) < 0)
      return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.required_ids[%zu] is not a valid id", i);
    for (size_t j = 0; j < i; j++)
      if (strcmp(c->required_ids[i], c->required_ids[j]) == 0)
        return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.required_ids: '%s' is listed twice", c->required_ids[i]);
  }
  return DMP_RESERVED_CHECK(c, "cfg.reserved");
}

int dmp_producer_enable_liveness(struct dmp_producer *p, const struct dmp_liveness_config *cfg)
{
  if (!p || !cfg)
    return DMP_FAIL(-EINVAL, "producer or cfg is NULL");
  int rc = check_config(cfg);
  if (rc < 0)
    return rc;
  struct dmp_impl_liveness *l = calloc(1, sizeof *l + cfg->n_required * sizeof l->req[0]);
  if (!l)
    return DMP_FAIL(-ENOMEM, "out of memory");
  l->cfg = *cfg;
  l->cfg.required_ids = NULL; /* copied below; the caller's array may go away */
  l->n = cfg->n_required;
  for (size_t i = 0; i < l->n; i++) {
    snprintf(l->req[i].id, sizeof l->req[i].id, "%s", cfg->required_ids[i]);
    l->req[i].last_seq = -1;
  }
  free(p->liveness);
  l->counters = p->counters;
  p->liveness = l;
  return 0;
}

/* Entry index of `id`, or -1. */
static int find(struct dmp_producer *p, const char *id, uint32_t *state)
{
  uint32_t span = dmp_impl_table_span(&p->ring, &p->ring.seg->geo);
  for (uint32_t i = 0; i < span; i++) {
    struct dmp_consumer_entry *e = &p->ring.table[i];
    /* L3: acquire load of the state; pairs with T1, so the id is seen. */
    uint32_t st = dmp_impl_load_acquire(&e->state);
    char other[DMP_ID_MAX + 1];
    dmp_impl_entry_id(e, other);
    if (st != DMP_ENTRY_FREE && strcmp(other, id) == 0) {
      *state = st;
      return (int)i;
    }
  }
  return -1;
}

/* Entry `i`, seen ACTIVE, has a dead holder: its OFD lock is free and it is
 * still the same ACTIVE entry afterwards. A holder stores its new state
 * before it lets go of the lock (consumer.c, detach), and a new holder
 * takes the lock before it bumps the generation and stores ACTIVE (T1), so
 * a clean close or a quick re-attach is never taken for a death. */
static bool entry_dead(struct dmp_producer *p, uint32_t i)
{
  struct dmp_consumer_entry *e = &p->ring.table[i];
  /* Relaxed: compared again after the acquire load L1 below. */
  uint32_t gen = dmp_impl_load_relaxed(&e->generation);
  if (dmp_impl_lock_held(p->ring.seg->fd, DMP_LOCK_CONSUMER0 + (off_t)i) != 0)
    return false;
  /* L1: acquire load of the state after the lock probe; pairs with T1 (the
   * state store a closer makes before it releases the lock, or a new holder
   * after it took it), so the generation re-read below is current. */
  return dmp_impl_load_acquire(&e->state) == DMP_ENTRY_ACTIVE && dmp_impl_load_relaxed(&e->generation) == gen;
}

static void raise_alert(struct dmp_impl_liveness *l, const char *id, int64_t seq, int64_t stalled, bool dead,
                        bool evicted)
{
  if (!l->cfg.quiet)
    fprintf(stderr, "disruptor_mp: consumer '%s' %s at sequence %lld (no progress for %lld ms)%s\n", id,
            dead ? "is dead" : "is stalled", (long long)seq, (long long)(stalled / 1000000),
            evicted ? "; evicted" : "");
  if (l->cfg.alert) {
    struct dmp_liveness_alert a = {
        .consumer_id = id, .last_sequence = seq, .stalled_ns = stalled, .dead = dead, .evicted = evicted};
    l->cfg.alert(&a, l->cfg.user);
  }
  dmp_impl_cnt_add(l->counters, DMP_IMPL_CNT_ALERTS, 1);
  dmp_impl_cnt_error(l->counters, 0, "consumer '%s' %s", id, dead ? "is dead" : "stalled past its progress timeout");
}

/* Free entry `i` if its holder is dead; under the table lock, waited for
 * until `deadline` (0: one attempt). 0, -DMP_E_IDINUSE (it came back),
 * -ETIMEDOUT (the table stayed locked: try again later), -errno. */
static int evict_index(struct dmp_producer *p, uint32_t i, int64_t deadline)
{
  struct dmp_impl_segment *seg = p->ring.seg;
  int rc = dmp_impl_table_lock(seg, deadline);
  if (rc < 0)
    return rc;
  struct dmp_consumer_entry *e = &p->ring.table[i];
  /* Re-check under the table lock: the holder may have come back and left
   * cleanly (IDLE, position kept) since we found it dead. L4: acquire
   * load; pairs with T1 (the lock orders it too). */
  if (dmp_impl_load_acquire(&e->state) != DMP_ENTRY_ACTIVE) {
    dmp_impl_table_unlock(seg);
    return -DMP_E_IDINUSE;
  }
  /* Hold the entry's own lock while freeing it, so a re-attach of the same
   * id cannot interleave with the eviction. */
  rc = dmp_impl_lock_try(seg->fd, DMP_LOCK_CONSUMER0 + (off_t)i);
  if (rc == 0) {
    memset(e->id, 0, sizeof e->id);
    dmp_impl_store_release(&e->state, DMP_ENTRY_FREE); /* T1 */
    dmp_impl_table_changed(p->ring.ctl);
    /* Before the table lock: a FREE entry is always lockable (consumer.c). */
    dmp_impl_lock_release(seg->fd, DMP_LOCK_CONSUMER0 + (off_t)i);
    dmp_impl_cnt_add(p->counters, DMP_IMPL_CNT_EVICTIONS, 1);
  }
  dmp_impl_table_unlock(seg);
  return rc == -EAGAIN ? -DMP_E_IDINUSE : rc;
}

int dmp_producer_evict(struct dmp_producer *p, const char *id)
{
  if (!p || !id)
    return DMP_FAIL(-EINVAL, "producer or id is NULL");
  uint32_t st;
  int i = find(p, id, &st);
  if (i < 0)
    return DMP_FAIL(-ENOENT, "no consumer '%s'", id);
  if (st != DMP_ENTRY_ACTIVE || !entry_dead(p, (uint32_t)i))
    return DMP_FAIL(-DMP_E_IDINUSE, "consumer '%s' is %s, not dead", id, st == DMP_ENTRY_ACTIVE ? "alive" : "idle");
  int rc = evict_index(p, (uint32_t)i, dmp_impl_deadline(DMP_TABLE_WAIT_NS));
  if (rc == -ETIMEDOUT)
    return rc; /* the detail names the locked table */
  return rc < 0 ? DMP_FAIL(rc, "consumer '%s' came back during eviction", id) : 0;
}

/* Wait (if `block`) until every required id is attached. The startup
 * deadline is armed once, at the first managed claim or check. A blocking
 * call waits until it, or - once it has passed - for a whole startup
 * timeout again (a retried claim waits again); a non-blocking one reports
 * -DMP_E_STARTUP every time it runs past it with an id still missing.
 * 0 started; 1 not all attached yet but still in time (only without
 * `block`); -DMP_E_STARTUP naming the missing ids; -errno. */
static int startup(struct dmp_producer *p, struct dmp_impl_liveness *l, bool block)
{
  int64_t now = dmp_impl_now_ns();
  if (l->startup_deadline == 0)
    l->startup_deadline = now + l->cfg.startup_timeout_ns;
  const char *ids[DMP_LIVENESS_MAX_REQUIRED];
  for (size_t i = 0; i < l->n; i++)
    ids[i] = l->req[i].id;
  int64_t left = dmp_impl_remaining(l->startup_deadline);
  if (block && left == 0)
    left = l->cfg.startup_timeout_ns;
  int rc = dmp_producer_wait_for_ids(p, ids, l->n, block ? left : 0);
  if (rc == -ETIMEDOUT && !block && left > 0)
    return 1;
  if (rc == -ETIMEDOUT)
    return DMP_FAIL(-DMP_E_STARTUP, "%s", dmp_last_error());
  if (rc < 0)
    return rc;
  now = dmp_impl_now_ns();
  for (size_t i = 0; i < l->n; i++) {
    l->req[i].progress_ns = now;
    l->req[i].stall_start_ns = 0;
    l->req[i].alerted = false;
  }
  l->started = true;
  l->last_check_ns = now;
  return 0;
}

static int fail_sticky(struct dmp_impl_liveness *l, struct required *r, int64_t stalled, bool dead)
{
  l->sticky = -DMP_E_STALLED;
  if (dead)
    snprintf(l->sticky_detail, sizeof l->sticky_detail,
             "required consumer '%s' is dead (its process is gone) at sequence %lld", r->id, (long long)r->last_seq);
  else
    snprintf(l->sticky_detail, sizeof l->sticky_detail,
             "required consumer '%s' stalled at sequence %lld for %lld ms (grace %lld ms)", r->id,
             (long long)r->last_seq, (long long)(stalled / 1000000), (long long)(l->cfg.grace_ns / 1000000));
  dmp_impl_cnt_error(l->counters, l->sticky, "required consumer '%s' %s", r->id,
                     dead ? "is dead" : "stalled past its grace period");
  return DMP_FAIL(l->sticky, "%s", l->sticky_detail);
}

/* A fresh stall window: progress now, nothing reported. */
static void window_reset(struct required *r, int64_t now)
{
  r->progress_ns = now;
  r->stall_start_ns = 0;
  r->alerted = false;
  r->dead_alerted = false;
}

/* A required consumer the kernel proves dead (ACTIVE, its lock gone), with
 * DMP_LIVENESS_FAIL or _ALERT_ONLY: reported at once (an alert with `dead`
 * set), without waiting for the progress timeout - a dead process never
 * progresses. FAIL fails now (sticky -DMP_E_STALLED, "is dead" in the
 * detail): grace is for consumers that are alive but slow, and a dead one
 * cannot catch up. ALERT_ONLY counts it as stalled and keeps its entry, so
 * the id may come back and resume. */
static int report_dead(struct dmp_impl_liveness *l, struct required *r, int64_t seq, int64_t now)
{
  if (seq > r->last_seq)
    r->last_seq = seq;
  if (r->stall_start_ns == 0)
    r->stall_start_ns = now;
  r->alerted = true;
  if (!r->dead_alerted) {
    r->dead_alerted = true;
    raise_alert(l, r->id, r->last_seq, now - r->progress_ns, true, false);
  }
  if (l->cfg.action == DMP_LIVENESS_ALERT_ONLY)
    return 0;
  return fail_sticky(l, r, now - r->progress_ns, true);
}

/* One required id: death, progress, caught up, stall, alert, grace.
 * `lock_deadline`: how long an eviction may wait for the table lock. */
static int check_required(struct dmp_producer *p, struct dmp_impl_liveness *l, struct required *r, int64_t now,
                          int64_t lock_deadline)
{
  uint32_t st = DMP_ENTRY_FREE;
  int i = find(p, r->id, &st);
  /* Only a consumer that gates us can stall us: an ACTIVE one, or a durable
   * one that detached cleanly (IDLE) and still holds its position. */
  if (i < 0 || !dmp_impl_entry_gates(&p->ring.table[i], &st)) {
    /* Detached or evicted: it does not gate us now; if it comes back under
     * the same id it is treated as a fresh stall window. */
    window_reset(r, now);
    return 0;
  }
  struct dmp_consumer_entry *e = &p->ring.table[i];
  /* Relaxed: after the acquire load of the state in find(), which pairs
   * with the T1 that published this generation. */
  uint32_t gen = dmp_impl_load_relaxed(&e->generation);
  if (gen != r->generation) { /* (re-)attached since we last looked */
    r->generation = gen;
    window_reset(r, now);
  }
  /* L5: acquire load of the consumer's cursor; pairs with C2 (its release
   * store), like the scan's P5. */
  int64_t seq = dmp_impl_load_acquire(&e->cursor);
  /* Dead = attached (ACTIVE) but its OFD lock is gone; an IDLE entry left
   * cleanly and is never dead. Checked first: a dead consumer that was
   * caught up when it died is as gone as one that was behind. */
  if (st == DMP_ENTRY_ACTIVE && entry_dead(p, (uint32_t)i)) {
    if (l->cfg.action != DMP_LIVENESS_EVICT)
      return report_dead(l, r, seq, now);
    /* Evicted now, or at a later check if the table stays locked. */
    if (evict_index(p, (uint32_t)i, lock_deadline) == 0)
      raise_alert(l, r->id, seq, now - r->progress_ns, true, true);
    return 0;
  }
  /* What a consumer can have read: on a multi-producer ring the published
   * frontier (every producer's done slots, from the markers; multi.c),
   * not this handle's own. */
  int64_t published = p->mp ? dmp_impl_mp_frontier(&p->ring, -1) : p->next - 1;
  if (seq > r->last_seq || seq >= published) {
    r->last_seq = seq > r->last_seq ? seq : r->last_seq;
    window_reset(r, now);
    return 0;
  }
  int64_t stalled = now - r->progress_ns;
  if (stalled < l->cfg.progress_timeout_ns)
    return 0;
  if (r->stall_start_ns == 0)
    r->stall_start_ns = now;
  if (!r->alerted) {
    r->alerted = true;
    raise_alert(l, r->id, r->last_seq, stalled, false, false);
  }
  if (now - r->stall_start_ns < l->cfg.grace_ns || l->cfg.action == DMP_LIVENESS_ALERT_ONLY)
    return 0;
  return fail_sticky(l, r, stalled, false);
}

/* Dead gating consumers that are not required: with EVICT they go too. */
static void evict_dead_others(struct dmp_producer *p, struct dmp_impl_liveness *l, int64_t now, int64_t lock_deadline)
{
  uint32_t span = dmp_impl_table_span(&p->ring, &p->ring.seg->geo);
  for (uint32_t i = 0; i < span; i++) {
    struct dmp_consumer_entry *e = &p->ring.table[i];
    /* A dead non-gating consumer never holds us back: leave its entry to
     * dmp_producer_evict() or a same-id restart (layout.h). L2: acquire
     * load of the state; pairs with T1, so the flags stored before it are
     * seen. */
    if (dmp_impl_load_acquire(&e->state) != DMP_ENTRY_ACTIVE ||
        (dmp_impl_load_relaxed(&e->flags) & DMP_ENTRY_F_NON_GATING) || /* ordered by L2 */
        !entry_dead(p, i))
      continue;
    char id[DMP_ID_MAX + 1];
    dmp_impl_entry_id(e, id);
    /* L6: acquire load of the dead consumer's last cursor (pairs with C2),
     * for the alert. */
    int64_t seq = dmp_impl_load_acquire(&e->cursor);
    if (evict_index(p, i, lock_deadline) == 0)
      raise_alert(l, id, seq, now - l->last_check_ns, true, true);
  }
}

/* `lock_deadline`: until when an eviction may wait for the table lock (0:
 * never waits; a locked table postpones the eviction to a later check). */
static int check(struct dmp_producer *p, struct dmp_impl_liveness *l, int64_t lock_deadline)
{
  int64_t now = dmp_impl_now_ns();
  if (now - l->last_check_ns < l->cfg.check_interval_ns)
    return 0;
  for (size_t i = 0; i < l->n; i++) {
    int rc = check_required(p, l, &l->req[i], now, lock_deadline);
    if (rc < 0)
      return rc;
  }
  if (l->cfg.action == DMP_LIVENESS_EVICT)
    evict_dead_others(p, l, now, lock_deadline);
  l->last_check_ns = now;
  return 0;
}

/* Required consumers in an alerted stall window right now. */
static int stalled_now(const struct dmp_impl_liveness *l)
{
  int n = 0;
  for (size_t i = 0; i < l->n; i++)
    n += l->req[i].alerted;
  return n;
}

int dmp_producer_check_liveness(struct dmp_producer *p)
{
  if (!p)
    return DMP_FAIL(-EINVAL, "producer is NULL");
  struct dmp_impl_liveness *l = p->liveness;
  if (!l)
    return DMP_FAIL(-DMP_E_NOLIVENESS, "call dmp_producer_enable_liveness() first");
  if (l->sticky)
    return DMP_FAIL(l->sticky, "%s", l->sticky_detail);
  if (!l->started) {
    int rc = startup(p, l, false);
    if (rc != 0)
      return rc > 0 ? 0 : rc; /* in time: a missing id is not an error yet */
  }
  int rc = check(p, l, 0); /* documented as not waiting: try the table lock once */
  return rc < 0 ? rc : stalled_now(l);
}

/* What every managed wait does first: liveness enabled, no sticky
 * failure, the start-up check done (waiting for required ids). */
static int managed_begin(struct dmp_producer *p, struct dmp_impl_liveness *l)
{
  if (!l)
    return DMP_FAIL(-DMP_E_NOLIVENESS, "call dmp_producer_enable_liveness() first");
  if (l->sticky)
    return DMP_FAIL(l->sticky, "%s", l->sticky_detail);
  return l->started ? 0 : startup(p, l, true);
}

/* The liveness check between two wait slices. An eviction waits for the
 * table lock at most one check interval (and never past `deadline`), so a
 * stopped peer holding it postpones the eviction instead of stalling the
 * wait. */
static int check_slice(struct dmp_producer *p, struct dmp_impl_liveness *l, int64_t deadline)
{
  int64_t lock_wait = dmp_impl_remaining(deadline);
  return check(p, l, dmp_impl_deadline(lock_wait < l->cfg.check_interval_ns ? lock_wait : l->cfg.check_interval_ns));
}

/* Wait for space for `last` under liveness. */
static int managed_wait(struct dmp_producer *p, int64_t last, int64_t timeout_ns)
{
  struct dmp_impl_liveness *l = p->liveness;
  int rc = managed_begin(p, l);
  if (rc < 0)
    return rc;
  int64_t deadline = dmp_impl_deadline(timeout_ns);
  for (;;) {
    int64_t left = dmp_impl_remaining(deadline);
    int64_t slice = left < l->cfg.check_interval_ns ? left : l->cfg.check_interval_ns;
    if (dmp_impl_producer_wait_step(p, last, slice) == 0)
      return 0;
    rc = check_slice(p, l, deadline);
    if (rc < 0)
      return rc;
    if (dmp_impl_remaining(deadline) == 0)
      return dmp_impl_producer_refresh(p, last) == 0 ? 0 : -ETIMEDOUT;
  }
}

/* A managed claim of `n` slots on a multi-producer ring: the ring's
 * waiting claim in slices of one check interval, the liveness checks
 * between them. Every producer of the ring may run its own checks: an
 * eviction re-checks under the table lock that the entry is still ACTIVE
 * and takes the entry's lock before freeing it (evict_index), so when
 * several producers find the same dead consumer one frees it and the
 * others find it gone (-DMP_E_IDINUSE: no second eviction, no alert). */
static int mp_managed(struct dmp_producer *p, uint64_t n, int64_t *first, int64_t timeout_ns)
{
  struct dmp_impl_liveness *l = p->liveness;
  int rc = managed_begin(p, l);
  if (rc < 0)
    return rc;
  int64_t deadline = dmp_impl_deadline(timeout_ns);
  for (;;) {
    int64_t left = dmp_impl_remaining(deadline);
    rc = dmp_impl_mp_claim_wait(p, n, first, left < l->cfg.check_interval_ns ? left : l->cfg.check_interval_ns);
    if (rc != -ETIMEDOUT)
      return rc;
    /* The slices may be shorter than the claim's own repair period: a
     * dead producer's claimed slots hold the ring full too, so repair
     * here, once per slice (cheap when nothing is claimed beyond the
     * cursor). */
    dmp_impl_mp_repair(&p->ring, (int32_t)p->mp->index);
    rc = check_slice(p, l, deadline);
    if (rc < 0)
      return rc;
    if (dmp_impl_remaining(deadline) == 0)
      return DMP_FAIL(-ETIMEDOUT, "'%s': no free slot before the timeout (a consumer lags, or a stopped "
                      "producer holds a claimed slot)", p->cfg.name);
  }
}

int dmp_producer_claim_managed(struct dmp_producer *p, void **slot, int64_t timeout_ns)
{
  if (!p || !slot)
    return -EINVAL;
  if (p->mp) {
    int64_t first;
    int rc = mp_managed(p, 1, &first, timeout_ns);
    if (rc == 0)
      *slot = dmp_impl_slot(&p->ring, first);
    return rc;
  }
  int64_t last = p->claim_end;
  if (!p->liveness || p->liveness->sticky || !p->liveness->started || last > p->clear_limit) {
    int rc = managed_wait(p, last, timeout_ns);
    if (rc < 0)
      return rc;
  }
  return dmp_producer_try_claim(p, slot);
}

int dmp_producer_claim_batch_managed(struct dmp_producer *p, uint64_t n, int64_t *first, int64_t timeout_ns)
{
  if (!p || !first || n == 0 || n > p->ring.capacity)
    return -EINVAL;
  if (p->mp)
    return mp_managed(p, n, first, timeout_ns);
  int64_t last = p->claim_end + (int64_t)n - 1;
  if (!p->liveness || p->liveness->sticky || !p->liveness->started || last > p->clear_limit) {
    int rc = managed_wait(p, last, timeout_ns);
    if (rc < 0)
      return rc;
  }
  return dmp_producer_try_claim_batch(p, n, first);
}

int64_t dmp_producer_publish_managed(struct dmp_producer *p, const void *src, size_t len, int64_t timeout_ns)
{
  if (!p || (!src && len) || len > p->ring.seg->geo.slot_size)
    return -EINVAL;
  void *slot;
  int rc = dmp_producer_claim_managed(p, &slot, timeout_ns);
  if (rc < 0)
    return rc;
  memcpy(slot, src, len);
  if (len < p->ring.seg->geo.slot_size)
    memset((uint8_t *)slot + len, 0, p->ring.seg->geo.slot_size - len);
  return dmp_producer_publish(p);
}

/* ---- stale segments ------------------------------------------------------ */

/* As segment.c's CREATE_GRACE_NS: a not-ready segment younger than this may
 * still be being initialised by a creator that has not taken its lock yet. */
#define STALE_CREATE_GRACE_NS INT64_C(2000000000)

/* The producer lock of the open segment `fd` is free. Decide: 1 stale,
 * 0 young (being created), -DMP_E_CORRUPT not a ring segment, -errno. */
static int classify(int fd, const struct stat *st)
{
  struct dmp_segment_header h;
  memset(&h, 0, sizeof h);
  ssize_t n = st->st_size > 0 ? pread(fd, &h, sizeof h, 0) : 0;
  if (n < 0)
    return -errno;
  if (h.magic != DMP_MAGIC && h.magic != 0)
    return -DMP_E_CORRUPT;
  /* The creator takes the producer lock before sizing the segment, so a
   * sized one whose lock is free has a dead owner. A smaller one may be in
   * the instant between the exclusive create and the lock. */
  if ((size_t)st->st_size >= sizeof(struct dmp_segment_control))
    return 1;
  int64_t ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  return dmp_impl_realtime_ns() - ctime_ns >= STALE_CREATE_GRACE_NS ? 1 : 0;
}

/* A segment opened for the stale checks: the fd, and for the mmap backend
 * its directory (kept, so the unlink hits the directory we examined). */
struct stale_file {
  int fd, dirfd;
  struct stat st;
};

/* Open `path` read-only the way attach does (access.c: no symlinks, no
 * world-writable directory) and apply the trust rule without the group
 * exception: only the owner of a ring removes it, root included, as only
 * the owner may map it. 0, -EACCES (the reason in `why`), -ELOOP, -errno. */
static int stale_open(enum dmp_backend backend, const char *path, struct stale_file *f, char *why, size_t whylen)
{
  f->fd = f->dirfd = -1;
  int rc = dmp_impl_dir_open(backend, path, &f->dirfd, why, whylen);
  if (rc < 0)
    return rc;
  /* Read-only is enough: F_OFD_GETLK needs no write access. */
  f->fd = dmp_impl_file_open(backend, f->dirfd, path, O_RDONLY, 0, why, whylen);
  if (f->fd < 0) {
    rc = f->fd;
  } else if ((rc = dmp_impl_file_trust(f->fd, path, false, &f->st, why, whylen)) == 0 && !S_ISREG(f->st.st_mode)) {
    rc = -DMP_E_CORRUPT; /* not a segment: callers say so with the path */
  }
  if (rc < 0) {
    if (f->fd >= 0)
      close(f->fd);
    if (f->dirfd >= 0)
      close(f->dirfd);
    f->fd = f->dirfd = -1;
  }
  return rc;
}

static void stale_close(struct stale_file *f)
{
  close(f->fd);
  if (f->dirfd >= 0)
    close(f->dirfd);
}

/* Remove `path` only if the name still refers to the file we examined
 * (lstat: a symlink put in its place is never followed), under its reclaim
 * lock (segment.c, dmp_impl_segment_unlink_same). 1, 0, -errno. */
static int unlink_same(enum dmp_backend backend, const struct stale_file *f, const char *path)
{
  return dmp_impl_segment_unlink_same(backend, f->dirfd, path, &f->st);
}

/* The counters segment's name: removed only if it still refers to the file
 * examined. Its lock space is not a ring's (counters.h: record locks may
 * reach any offset), so no reclaim lock; a racing new producer makes its
 * counters under the ring name it owns, after its own stale removal. */
static int unlink_same_counters(enum dmp_backend backend, const struct stale_file *f, const char *path)
{
  struct stat now;
  if (dmp_impl_file_stat(backend, f->dirfd, path, &now) != 0 || now.st_ino != f->st.st_ino ||
      now.st_dev != f->st.st_dev)
    return 0; /* replaced meanwhile (reclaimed by a new producer) */
  int rc = dmp_impl_file_unlink(backend, f->dirfd, path);
  return rc == 0 ? 1 : (rc == -ENOENT ? 0 : rc);
}

/* After removing the stale ring at `path` (creation epoch `epoch`), remove
 * its counters segment too (counters.h) - only if it belongs to that very
 * ring: a new producer of the name may already have made fresh ones. */
static void remove_counters(enum dmp_backend backend, const char *path, uint64_t epoch)
{
  char cpath[PATH_MAX], why[512];
  if (snprintf(cpath, sizeof cpath, "%s%s", path, DMP_COUNTERS_SUFFIX) >= (int)sizeof cpath)
    return;
  struct stale_file f;
  if (stale_open(backend, cpath, &f, why, sizeof why) < 0)
    return;
  struct dmp_counters_header h;
  bool ours = pread(f.fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.magic == DMP_COUNTERS_MAGIC &&
              h.ring_epoch == epoch;
  if (ours)
    (void)unlink_same_counters(backend, &f, cpath);
  stale_close(&f);
}

/* 1 stale and removed, 0 live or young, -errno with the reason in `why`. */
static int remove_if_stale(enum dmp_backend backend, const char *path, char *why, size_t whylen)
{
  struct stale_file f;
  int rc = stale_open(backend, path, &f, why, whylen);
  if (rc < 0)
    return rc;
  /* Probe, never take, the producer lock (see segment.c, reclaim_stale):
   * nobody locks an existing file's producer byte, so free stays free. */
  rc = dmp_impl_lock_held(f.fd, DMP_LOCK_PRODUCER);
  if (rc == 1)
    rc = 0; /* a live producer (or creator) holds it */
  else if (rc == 0 && (rc = classify(f.fd, &f.st)) == 1) {
    struct dmp_segment_header h;
    bool has_epoch = pread(f.fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.magic == DMP_MAGIC;
    rc = unlink_same(backend, &f, path);
    if (rc == 1 && has_epoch)
      remove_counters(backend, path, h.epoch);
  }
  if (rc < 0 && rc != -DMP_E_CORRUPT)
    (void)DMP_WHY(rc, "'%s': %s", path, strerror(-rc)); /* a function: long paths truncate quietly */
  stale_close(&f);
  return rc;
}

int dmp_impl_ring_remove_stale(enum dmp_backend backend, const char *name)
{
  char path[PATH_MAX];
  int rc = dmp_impl_segment_path(backend, name, path, sizeof path);
  if (rc < 0)
    return rc;
  char why[512] = "";
  rc = remove_if_stale(backend, path, why, sizeof why);
  if (rc == -DMP_E_CORRUPT)
    return DMP_FAIL(rc, "'%s' is not a disruptor_mp segment; left alone", path);
  if (rc == -ENOENT)
    return DMP_FAIL(rc, "'%s' does not exist", path);
  if (rc < 0)
    return DMP_FAIL(rc, "%s", why[0] ? why : strerror(-rc));
  return rc;
}
