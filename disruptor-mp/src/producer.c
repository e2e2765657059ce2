/* The producer's cold paths: create/close, the table rescan behind the
 * inline claim, blocking claims, copy-in publish, coordination. */
#include "internal.h"
#include "env_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dmp_producer_config_init(struct dmp_producer_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->backend = DMP_BACKEND_SHM;
  cfg->slot_align = DMP_DEFAULT_SLOT_ALIGN;
  cfg->max_consumers = DMP_DEFAULT_MAX_CONSUMERS;
  cfg->mode = 0600;
  cfg->wait.kind = dmp_impl_env_wait_kind(); /* DMP_WAIT, else DMP_WAIT_BLOCK */
  cfg->wait_timeout_ns = INT64_C(5000000000);
}

#define KNOWN_RING_FLAGS                                                                                   \
  (DMP_RING_KEEP | DMP_RING_NO_WAKEUPS | DMP_RING_NO_RECLAIM | DMP_RING_NO_COUNTERS | DMP_RING_SHARE_GROUP | \
   DMP_RING_NO_MEMBARRIER | DMP_RING_PREFAULT | DMP_RING_MULTI_PRODUCER | DMP_RING_BYTES)

/* The fields only a ring's creator chooses. */
static int check_create_fields(const struct dmp_producer_config *cfg)
{
  if (cfg->flags & ~KNOWN_RING_FLAGS)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.flags has unknown bits 0x%x", cfg->flags & ~KNOWN_RING_FLAGS);
  if (cfg->mode & ~0777u)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.mode 0%o has bits outside 0777", cfg->mode);
  if ((cfg->mode & 0600u) != 0600u)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.mode 0%o does not give the owner read and write", cfg->mode);
  if (cfg->mode & 0007u) /* attachers refuse such segments (config.h, "Permissions") */
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.mode 0%o gives other users access; share with a group instead "
                    "(DMP_RING_SHARE_GROUP)", cfg->mode);
  if (cfg->share_gid != 0 && !(cfg->flags & DMP_RING_SHARE_GROUP))
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.share_gid %u without DMP_RING_SHARE_GROUP", cfg->share_gid);
  if (cfg->wait_consumers > 0 && cfg->wait_timeout_ns == 0)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.wait_consumers %u with a zero cfg.wait_timeout_ns", cfg->wait_consumers);
  if (cfg->max_producers != 0 && !(cfg->flags & DMP_RING_MULTI_PRODUCER))
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.max_producers %u without DMP_RING_MULTI_PRODUCER", cfg->max_producers);
  return 0;
}

/* DMP_RING_BYTES on attach: the attacher expects a byte ring (its capacity
 * then counts bytes; multi.c, attach_check()). */
#define ATTACH_FLAGS (DMP_RING_SHARE_GROUP | DMP_RING_MULTI_PRODUCER | DMP_RING_BYTES)

int dmp_impl_producer_check(const struct dmp_producer_config *cfg, struct dmp_producer **out, bool attach)
{
  if (out)
    *out = NULL;
  if (!cfg || !out)
    return DMP_FAIL(-EINVAL, "cfg or out is NULL");
  if (!cfg->name)
    return DMP_FAIL(-DMP_E_BADNAME, "cfg.name is NULL");
  int rc;
  if (!attach)
    rc = check_create_fields(cfg);
  else if (cfg->flags & ~ATTACH_FLAGS)
    rc = DMP_FAIL(-DMP_E_BADCONFIG, "cfg.flags 0x%x: dmp_producer_attach() takes only DMP_RING_SHARE_GROUP, "
                  "DMP_RING_MULTI_PRODUCER and DMP_RING_BYTES (the ring's creator chose the rest)", cfg->flags);
  else
    rc = 0;
  if (rc == 0 && cfg->reserved32)
    rc = DMP_FAIL(-DMP_E_BADCONFIG, "cfg.reserved32 is not zero");
  if (rc == 0)
    rc = dmp_impl_wait_validate(&cfg->wait, "cfg.wait");
  if (rc == 0)
    rc = DMP_RESERVED_CHECK(cfg, "cfg.reserved");
  /* The environment's tunables, then the pinning: before the segment is
   * created or opened, so its first pages are touched from the chosen CPUs. */
  if (rc == 0)
    rc = dmp_impl_env_check(NULL);
  if (rc == 0)
    rc = dmp_impl_pin_role(DMP_ROLE_PRODUCER, cfg->cpus, NULL);
  return rc;
}

int dmp_producer_create(const struct dmp_producer_config *cfg, struct dmp_producer **out)
{
  int rc = dmp_impl_producer_check(cfg, out, false);
  if (rc < 0)
    return rc;
  struct dmp_impl_geometry g;
  uint32_t max_consumers = cfg->max_consumers ? cfg->max_consumers : DMP_DEFAULT_MAX_CONSUMERS;
  if (cfg->flags & DMP_RING_BYTES) /* capacity in bytes, slot_size the block (bytes.c) */
    rc = dmp_impl_bytes_geometry(cfg, max_consumers, &g);
  else
    rc = dmp_impl_geometry_compute("cfg.", cfg->capacity, cfg->slot_size, cfg->slot_align, max_consumers, &g);
  uint32_t max_producers = cfg->max_producers ? cfg->max_producers : DMP_DEFAULT_MAX_PRODUCERS;
  if (rc == 0 && (cfg->flags & DMP_RING_MULTI_PRODUCER))
    rc = dmp_impl_geometry_mp("cfg.", max_producers, &g);
  if (rc < 0)
    return rc;
  struct dmp_producer *p = calloc(1, sizeof *p);
  if (!p)
    return DMP_FAIL(-ENOMEM, "out of memory");
  struct dmp_impl_segment *seg;
  rc = dmp_impl_segment_create(cfg, &g, &seg);
  if (rc < 0) {
    free(p);
    return rc;
  }
  dmp_impl_ring_init(&p->ring, seg);
  p->cfg = *cfg;
  p->cfg.name = seg->path;
  p->cfg.max_consumers = max_consumers;
  p->cfg.wait = dmp_impl_wait_normalise(&cfg->wait, p->ring.wakeups);
  p->next = 0;
  p->claim_end = 0;
  p->clear_limit = (int64_t)g.capacity - 1;
  if (g.max_producers) {
    p->cfg.max_producers = g.max_producers;
    /* The ring is initialised (ready stored): share the producer lock, so
     * attaching producers can hold it too, and take producer entry 0. */
    rc = dmp_impl_lock_shared(seg->fd, DMP_LOCK_PRODUCER);
    if (rc == 0)
      rc = dmp_impl_mp_join(p, true, dmp_impl_deadline(DMP_TABLE_WAIT_NS));
    if (rc < 0) {
      dmp_producer_close(p);
      return rc < 0 && rc != -DMP_E_TABLEFULL ? rc : -DMP_E_INUSE;
    }
  }
  rc = dmp_impl_counters_create(p, !(cfg->flags & DMP_RING_NO_COUNTERS));
  if (rc < 0) {
    dmp_producer_close(p);
    return rc;
  }
  if (cfg->wait_consumers > 0) {
    rc = dmp_producer_wait_for_consumers(p, cfg->wait_consumers, cfg->wait_timeout_ns);
    if (rc < 0) {
      dmp_producer_close(p);
      return rc;
    }
  }
  *out = p;
  return 0;
}

void dmp_producer_close(struct dmp_producer *p)
{
  if (!p)
    return;
  /* The counters go while we still own the ring's name (counters.h). */
  dmp_impl_counters_remove(p);
  dmp_impl_mp_leave(p); /* multi-producer: our open claim as tombstones, our entry freed */
  /* Drop the producer lock first, then wake parked consumers, so that they
   * see the producer gone as soon as they wake instead of at their next
   * liveness check. */
  dmp_impl_lock_release(p->ring.seg->fd, DMP_LOCK_PRODUCER);
  dmp_impl_wake_data(&p->ring);
  dmp_impl_segment_close(p->ring.seg);
  free(p->liveness);
  free(p);
}

/* Rescans of the table while table_seq keeps changing under us. Honest
 * joins and leaves are rare; a peer bumping table_seq without end must not
 * keep a publish spinning here: a peer that writes the segment behind the
 * library's back (a stray write, a hostile process) costs a bounded delay. */
#define RESCAN_MAX 64

/* Recompute the clear limit from the table (see layout.h, "Joining safely"
 * and "Reading without gating") for a claim up to `last`; `*min_out` gets
 * the slowest gating cursor (our own last published if none gates). After
 * RESCAN_MAX unsettled rounds it grants nothing new (the previous limit):
 * the claim waits and retries within its timeout. The larger limit already
 * stored in gate_limit only makes joiners start later, which is safe. */
static int64_t compute_limit(struct dmp_producer *p, int64_t last, int64_t *min_out)
{
  struct dmp_segment_control *ctl = p->ring.ctl;
  const struct dmp_impl_geometry *g = &p->ring.seg->geo;
  const int64_t cap = (int64_t)p->ring.capacity;
  int64_t limit;
  for (int round = 1;; round++) {
    /* P6: acquire load of table_seq before the scan; pairs with T2, so the
     * entries of every join counted in `seen` are in the scan. */
    uint32_t seen = dmp_impl_load_acquire(&ctl->table_seq);
    int64_t min;
    bool lossy = false;
    if (!dmp_impl_table_scan(&p->ring, g, &min, NULL, &lossy))
      min = p->next - 1; /* nobody gates: never full, but stay joinable */
    if (min > p->next - 1)
      min = p->next - 1; /* beyond what we published: a hostile cursor */
    *min_out = min;
    limit = min + cap;
    if (lossy) {
      /* A non-gating reader is safe only below limit - capacity: grant
       * ourselves at most half a ring beyond what we published (more only
       * for a claim that needs it), so a reader less than capacity / 2
       * behind never has to discard a copy. Costs a rescan every
       * capacity / 2 events instead of every capacity. */
      int64_t half = cap / 2 > 0 ? cap / 2 : 1;
      int64_t want = p->next - 1 + half > last ? p->next - 1 + half : last;
      if (want < limit)
        limit = want;
    }
    if (limit < p->clear_limit)
      limit = p->clear_limit; /* never shrink: a provisional joiner cursor
                                 is below its final start (see attach) */
    /* P4: store the limit, then a full fence, then re-check table_seq;
     * pairs with J1 in attach: a joiner either sees this limit or we see
     * its table_seq bump (T2) and rescan. The store is relaxed: the fence
     * orders it (and before the slot writes it allows: N1). */
    dmp_impl_store_relaxed(&ctl->gate_limit, limit);
    dmp_impl_fence_seq_cst();
    if (dmp_impl_load_acquire(&ctl->table_seq) == seen)
      break;
    if (round == RESCAN_MAX)
      return p->clear_limit;
  }
  return limit;
}

int dmp_impl_producer_refresh(struct dmp_producer *p, int64_t last)
{
  int64_t min;
  p->clear_limit = compute_limit(p, last, &min);
  int rc = last <= p->clear_limit ? 0 : -EAGAIN;
  if (p->counters) { /* cold: after a table scan; full events and the slowest lag */
    /* The slowest cursor the limit accounts for: not below `min` when a
     * non-gating reader made us take less than a full ring. */
    int64_t slowest = p->clear_limit - (int64_t)p->ring.capacity;
    dmp_impl_cnt_scan(p->counters, last, rc < 0, p->next - 1 - (slowest > min ? slowest : min));
  }
  return rc;
}

int64_t dmp_impl_producer_claim_next(struct dmp_producer *p)
{
  if (p->mp)
    return dmp_impl_mp_claim_next(p);
  int64_t seq = p->claim_end;
  return dmp_impl_producer_refresh(p, seq) < 0 ? -EAGAIN : seq;
}

int dmp_impl_producer_claim_batch_slow(struct dmp_producer *p, uint64_t n, int64_t *first)
{
  if (p->mp)
    return dmp_impl_mp_claim_batch(p, n, first);
  int64_t last = p->claim_end + (int64_t)n - 1;
  if (dmp_impl_producer_refresh(p, last) < 0)
    return -EAGAIN;
  *first = p->claim_end;
  p->claim_end = last + 1;
  return 0;
}

void dmp_impl_wake_data(struct dmp_impl_ring *r)
{
  dmp_impl_futex_wake(dmp_impl_futex_word(&r->ctl->producer_cursor));
}

/* Park until the slowest gating consumer moves, at most `max_ns`. */
bool dmp_impl_producer_park(struct dmp_producer *p, int64_t last, int64_t max_ns)
{
  struct dmp_segment_control *ctl = p->ring.ctl;
  /* W2: seq_cst increment of space_waiters, then the slow side's barrier
   * (a full fence - the cursor loads below are acquire, not seq_cst - and
   * membarrier(2) on rings that use it), then the re-read of the cursors;
   * pairs with C3 (wait.h, "Wake-up protocol"). If the barrier could not
   * be made, park briefly instead of until woken. */
  dmp_impl_fetch_add_seq_cst(&ctl->space_waiters, 1);
  max_ns = dmp_impl_waiter_sync(&p->ring, max_ns); /* W3 */
  int64_t min;
  uint32_t slowest = 0;
  bool parked = false;
  if (dmp_impl_table_min(&p->ring, &p->ring.seg->geo, &min, &slowest) && last - (int64_t)p->ring.capacity > min) {
    /* (`last` - capacity: `min` may be any value a hostile peer wrote) */
    dmp_atomic_i64 *cursor = &p->ring.table[slowest].cursor;
    dmp_impl_futex_wait(dmp_impl_futex_word(cursor), (uint32_t)(uint64_t)min, max_ns);
    parked = true;
  }
  /* Relaxed: a count only; a consumer that still sees us makes one
   * futile wake-up call. */
  dmp_impl_fetch_sub_relaxed(&ctl->space_waiters, 1);
  return parked;
}

/* `tally[0]` counts wait-strategy steps, `tally[1]` parks (counters.h). */
static int wait_step(struct dmp_producer *p, int64_t last, int64_t max_ns, uint64_t tally[2])
{
  int64_t deadline = dmp_impl_deadline(max_ns);
  const struct dmp_wait_strategy *w = &p->cfg.wait;
  bool stepped = false; /* the last step yielded or slept */
  for (uint64_t iter = 0;; iter++) {
    if (dmp_impl_producer_refresh(p, last) == 0)
      return 0;
    /* After pause hints read the clock every 64th round only; after a
     * yield or a sleep every round, so the deadline is kept. */
    if ((stepped || (iter & 63) == 0) && dmp_impl_remaining(deadline) == 0)
      return -EAGAIN;
    if (dmp_impl_wait_parks(w, iter)) {
      int64_t left = dmp_impl_remaining(deadline);
      tally[1]++;
      int64_t period = dmp_impl_wait_liveness_ns(w);
      dmp_impl_producer_park(p, last, left < period ? left : period);
      if (dmp_impl_remaining(deadline) == 0)
        return dmp_impl_producer_refresh(p, last);
    } else {
      tally[0]++;
      stepped = dmp_impl_wait_step(w, iter, deadline);
    }
  }
}

int dmp_impl_producer_wait_step(struct dmp_producer *p, int64_t last, int64_t max_ns)
{
  uint64_t tally[2] = {0, 0};
  int rc = wait_step(p, last, max_ns, tally);
  dmp_impl_cnt_add(p->counters, DMP_IMPL_CNT_SPINS, tally[0]);
  dmp_impl_cnt_add(p->counters, DMP_IMPL_CNT_PARKS, tally[1]);
  return rc;
}

/* Wait until sequence `last` may be claimed. 0 or -ETIMEDOUT. */
static int wait_for_space(struct dmp_producer *p, int64_t last, int64_t timeout_ns)
{
  return dmp_impl_producer_wait_step(p, last, timeout_ns) == 0 ? 0 : -ETIMEDOUT;
}

int dmp_producer_claim_timeout(struct dmp_producer *p, void **slot, int64_t timeout_ns)
{
  if (!p || !slot)
    return -EINVAL;
  if (p->mp) {
    int64_t first;
    int rc = dmp_impl_mp_claim_wait(p, 1, &first, timeout_ns);
    if (rc == 0)
      *slot = dmp_impl_slot(&p->ring, first);
    return rc;
  }
  int rc = dmp_producer_try_claim(p, slot);
  if (rc != -EAGAIN)
    return rc;
  rc = wait_for_space(p, p->claim_end, timeout_ns);
  return rc < 0 ? rc : dmp_producer_try_claim(p, slot);
}

int dmp_producer_claim_batch_timeout(struct dmp_producer *p, uint64_t n, int64_t *first, int64_t timeout_ns)
{
  if (!p || !first)
    return -EINVAL;
  if (p->mp)
    return dmp_impl_mp_claim_wait(p, n, first, timeout_ns);
  int rc = dmp_producer_try_claim_batch(p, n, first);
  if (rc != -EAGAIN)
    return rc;
  rc = wait_for_space(p, p->claim_end + (int64_t)n - 1, timeout_ns);
  return rc < 0 ? rc : dmp_producer_try_claim_batch(p, n, first);
}

static int64_t copy_publish(struct dmp_producer *p, void *slot, const void *src, size_t len)
{
  memcpy(slot, src, len);
  if (len < p->ring.seg->geo.slot_size)
    memset((uint8_t *)slot + len, 0, p->ring.seg->geo.slot_size - len);
  return dmp_producer_publish(p);
}

int64_t dmp_producer_try_publish(struct dmp_producer *p, const void *src, size_t len)
{
  if (!p || (!src && len) || len > p->ring.seg->geo.slot_size)
    return -EINVAL;
  void *slot;
  int rc = dmp_producer_try_claim(p, &slot);
  return rc < 0 ? rc : copy_publish(p, slot, src, len);
}

int64_t dmp_producer_publish_timeout(struct dmp_producer *p, const void *src, size_t len, int64_t timeout_ns)
{
  if (!p || (!src && len) || len > p->ring.seg->geo.slot_size)
    return -EINVAL;
  void *slot;
  int rc = dmp_producer_claim_timeout(p, &slot, timeout_ns);
  return rc < 0 ? rc : copy_publish(p, slot, src, len);
}

int64_t dmp_producer_sequence(const struct dmp_producer *p)
{
  if (p && p->mp)
    return dmp_impl_mp_sequence(p);
  return p ? p->next - 1 : -EINVAL;
}

int64_t dmp_producer_min_gating_sequence(const struct dmp_producer *p)
{
  if (!p)
    return -EINVAL;
  int64_t min;
  if (!dmp_impl_table_min(&p->ring, &p->ring.seg->geo, &min, NULL))
    return p->mp ? dmp_impl_mp_frontier(&p->ring, -1) : p->next - 1; /* the published frontier (multi.c) */
  return min;
}

/* Park on table_seq until the table changes, at most `deadline`. */
static int wait_table_change(struct dmp_producer *p, uint32_t seen, int64_t deadline)
{
  int64_t left = dmp_impl_remaining(deadline);
  if (left == 0)
    return -ETIMEDOUT;
  dmp_impl_futex_wait(&p->ring.ctl->table_seq, seen, left < DMP_WAIT_LIVENESS_NS ? left : DMP_WAIT_LIVENESS_NS);
  return 0;
}

int dmp_producer_wait_for_consumers(struct dmp_producer *p, uint32_t n, int64_t timeout_ns)
{
  if (!p || n == 0)
    return DMP_FAIL(-EINVAL, "%s", p ? "n is 0" : "producer is NULL");
  int64_t deadline = dmp_impl_deadline(timeout_ns);
  for (;;) {
    /* P6: acquire load of the futex word before the scan; pairs with T2:
     * a join after it changes the word, so the park below returns. */
    uint32_t seen = dmp_impl_load_acquire(&p->ring.ctl->table_seq);
    uint32_t have = dmp_impl_table_active(&p->ring, &p->ring.seg->geo);
    if (have >= n)
      return (int)have;
    if (wait_table_change(p, seen, deadline) < 0)
      return DMP_FAIL(-ETIMEDOUT, "'%s': %u of %u consumers attached before the timeout", p->cfg.name, have, n);
  }
}

static bool id_active(struct dmp_producer *p, const char *id)
{
  struct dmp_consumer_info info;
  return dmp_producer_consumer_info(p, id, &info) == 0 && info.state == DMP_ENTRY_ACTIVE;
}

int dmp_producer_wait_for_ids(struct dmp_producer *p, const char *const *ids, size_t n, int64_t timeout_ns)
{
  if (!p || (!ids && n))
    return DMP_FAIL(-EINVAL, "producer or ids is NULL");
  for (size_t i = 0; i < n; i++)
    if (dmp_id_validate(ids[i]) < 0)
      return -EINVAL;
  int64_t deadline = dmp_impl_deadline(timeout_ns);
  for (;;) {
    /* P6: acquire load of the futex word before the scan; pairs with T2:
     * a join after it changes the word, so the park below returns. */
    uint32_t seen = dmp_impl_load_acquire(&p->ring.ctl->table_seq);
    size_t missing = 0;
    for (size_t i = 0; i < n; i++)
      missing += !id_active(p, ids[i]);
    if (missing == 0)
      return 0;
    if (wait_table_change(p, seen, deadline) < 0) {
      char list[160] = "";
      size_t used = 0;
      for (size_t i = 0; i < n && used < sizeof list - 40; i++)
        if (!id_active(p, ids[i]))
          used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", ids[i]);
      return DMP_FAIL(-ETIMEDOUT, "'%s': %zu consumer(s) not attached: %s", p->cfg.name, missing, list);
    }
  }
}

int dmp_producer_list_consumers(const struct dmp_producer *p, const char *prefix, struct dmp_consumer_info *out,
                                size_t cap)
{
  if (!p || (!out && cap))
    return DMP_FAIL(-EINVAL, "producer or out is NULL");
  size_t plen = prefix ? strlen(prefix) : 0;
  uint32_t span = dmp_impl_table_span(&p->ring, &p->ring.seg->geo);
  int count = 0;
  for (uint32_t i = 0; i < span; i++) {
    struct dmp_consumer_info info;
    dmp_impl_table_info(&p->ring, i, &info);
    if (info.state == DMP_ENTRY_FREE || strncmp(info.id, prefix ? prefix : "", plen) != 0)
      continue;
    if ((size_t)count < cap)
      out[count] = info;
    count++;
  }
  return count;
}

int dmp_producer_consumer_info(const struct dmp_producer *p, const char *id, struct dmp_consumer_info *out)
{
  if (!p || !id || !out)
    return DMP_FAIL(-EINVAL, "producer, id or out is NULL");
  uint32_t span = dmp_impl_table_span(&p->ring, &p->ring.seg->geo);
  for (uint32_t i = 0; i < span; i++) {
    dmp_impl_table_info(&p->ring, i, out);
    if (out->state != DMP_ENTRY_FREE && strcmp(out->id, id) == 0)
      return 0;
  }
  return -ENOENT;
}

const char *dmp_producer_name(const struct dmp_producer *p)
{
  return p ? p->cfg.name : NULL; /* points into the segment handle (create) */
}

uint64_t dmp_producer_capacity(const struct dmp_producer *p)
{
  return p ? p->ring.capacity : 0;
}
