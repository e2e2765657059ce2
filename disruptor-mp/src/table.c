/* The consumer table inside the segment: its mutex, scans and snapshots.
 * Mutations (attach, detach) happen under the table lock, an OFD lock the
 * kernel drops if the holder dies; scans by the producer are lock-free. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* Poll period while another process holds the table lock: table
 * operations take microseconds, so the lock is usually free within one. */
#define TABLE_LOCK_POLL_NS INT64_C(50000)

int dmp_impl_table_lock(struct dmp_impl_segment *seg, int64_t deadline)
{
  for (;;) {
    int rc = dmp_impl_lock_try(seg->fd, DMP_LOCK_TABLE);
    if (rc != -EAGAIN)
      return rc;
    /* Held by a live process. Waiting long means its holder is stopped
     * (SIGSTOP) or hostile: the caller's deadline bounds us, never the peer. */
    int64_t left = dmp_impl_remaining(deadline);
    if (left == 0)
      return DMP_FAIL(-ETIMEDOUT, "consumer table of '%s' is locked by another process (stopped?)", seg->path);
    dmp_impl_sleep_ns(left < TABLE_LOCK_POLL_NS ? left : TABLE_LOCK_POLL_NS);
  }
}

void dmp_impl_table_unlock(struct dmp_impl_segment *seg)
{
  dmp_impl_lock_release(seg->fd, DMP_LOCK_TABLE);
}

void dmp_impl_table_changed(struct dmp_segment_control *ctl)
{
  /* T2: seq_cst increment after the entry's state store (T1); pairs with
   * P4 (the producer re-reads table_seq after its fence to notice joiners)
   * and P6 (a scan that starts after it sees the entry). */
  dmp_impl_fetch_add_seq_cst(&ctl->table_seq, 1);
  dmp_impl_futex_wake(&ctl->table_seq);
}

uint32_t dmp_impl_table_span(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g)
{
  /* T4: acquire load; pairs with T3, the release store of table_hwm in
   * attach, so every entry below it has been initialised. A hostile value
   * is clamped. */
  uint32_t hwm = dmp_impl_load_acquire(&r->ctl->table_hwm);
  return hwm < g->max_consumers ? hwm : g->max_consumers;
}

bool dmp_impl_entry_gates(struct dmp_consumer_entry *e, uint32_t *state_out)
{
  /* P3: acquire load of the entry state; pairs with T1 (release store in
   * attach/detach), so the cursor and flags written before it are seen. */
  uint32_t st = dmp_impl_load_acquire(&e->state);
  if (state_out)
    *state_out = st;
  uint32_t flags = dmp_impl_load_relaxed(&e->flags); /* ordered by P3 above */
  if (flags & DMP_ENTRY_F_NON_GATING)
    return false; /* a lossy reader never holds the producer back */
  if (st == DMP_ENTRY_ACTIVE)
    return true;
  return st == DMP_ENTRY_IDLE && (flags & DMP_ENTRY_F_DURABLE);
}

void dmp_impl_entry_id(const struct dmp_consumer_entry *e, char out[DMP_ID_MAX + 1])
{
  /* The id lives in shared memory: copy it bounded, never trust its NUL. */
  memcpy(out, e->id, DMP_ID_MAX);
  out[DMP_ID_MAX] = '\0';
}

bool dmp_impl_table_min(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g, int64_t *min,
                        uint32_t *slowest)
{
  return dmp_impl_table_scan(r, g, min, slowest, NULL);
}

bool dmp_impl_table_scan(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g, int64_t *min,
                         uint32_t *slowest, bool *lossy)
{
  uint32_t span = dmp_impl_table_span(r, g);
  bool any = false;
  int64_t m = INT64_MAX;
  for (uint32_t i = 0; i < span; i++) {
    struct dmp_consumer_entry *e = &r->table[i];
    uint32_t st;
    if (!dmp_impl_entry_gates(e, &st)) {
      if (lossy && st == DMP_ENTRY_ACTIVE &&
          (dmp_impl_load_relaxed(&e->flags) & DMP_ENTRY_F_NON_GATING)) /* ordered by P3 in entry_gates */
        *lossy = true;
      continue;
    }
    /* P5: acquire load of the consumer cursor; pairs with C2 (and C4). */
    int64_t c = dmp_impl_load_acquire(&e->cursor);
    if (c < -1)
      c = -1; /* a corrupted cursor can only make us more careful */
    if (!any || c < m) { /* the first gating entry sets it, even at INT64_MAX */
      m = c;
      if (slowest)
        *slowest = i;
    }
    any = true;
  }
  *min = m;
  return any;
}

uint32_t dmp_impl_table_active(const struct dmp_impl_ring *r, const struct dmp_impl_geometry *g)
{
  uint32_t span = dmp_impl_table_span(r, g), n = 0;
  for (uint32_t i = 0; i < span; i++)
    n += dmp_impl_load_acquire(&r->table[i].state) == DMP_ENTRY_ACTIVE; /* T5: pairs with T1 */
  return n;
}

void dmp_impl_table_info(const struct dmp_impl_ring *r, uint32_t i, struct dmp_consumer_info *info)
{
  struct dmp_consumer_entry *e = &r->table[i];
  uint32_t st;
  memset(info, 0, sizeof *info);
  info->gating = dmp_impl_entry_gates(e, &st);
  info->state = (enum dmp_entry_state)st;
  info->index = i;
  dmp_impl_entry_id(e, info->id);
  uint32_t flags = dmp_impl_load_relaxed(&e->flags); /* ordered by P3 in entry_gates */
  info->durable = (flags & DMP_ENTRY_F_DURABLE) != 0;
  info->non_gating = (flags & DMP_ENTRY_F_NON_GATING) != 0;
  info->pid = e->pid;
  info->generation = dmp_impl_load_relaxed(&e->generation); /* after P3 (in entry_gates) */
  info->cursor = dmp_impl_load_acquire(&e->cursor); /* T6: pairs with C2 */
  info->alive = st == DMP_ENTRY_ACTIVE && dmp_impl_lock_held(r->seg->fd, DMP_LOCK_CONSUMER0 + (off_t)i) == 1;
}

void dmp_impl_entry_stat_state(struct dmp_consumer_stat *cs, uint32_t state, int64_t position)
{
  cs->state = (enum dmp_entry_state)state;
  cs->gating = !cs->non_gating && (state == DMP_ENTRY_ACTIVE || cs->durable);
  /* Both positions come from shared memory and may be anywhere in int64:
   * derive in unsigned arithmetic (no signed overflow) and clamp the lag. */
  cs->consumed = cs->position >= -1 ? (uint64_t)cs->position + 1 : 0;
  uint64_t gap = (uint64_t)position - (uint64_t)cs->position;
  cs->lag = position > cs->position ? (gap > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)gap) : 0;
}

bool dmp_impl_entry_stat(const struct dmp_consumer_entry *e, uint32_t i, int64_t position, struct dmp_consumer_stat *cs)
{
  struct dmp_consumer_entry *w = (struct dmp_consumer_entry *)(uintptr_t)e;
  /* T7: acquire load; pairs with T1 (the release store of the state in
   * attach and detach), so the id, flags and cursor written before it are
   * seen. */
  uint32_t st = dmp_impl_load_acquire(&w->state);
  if (st != DMP_ENTRY_ACTIVE && st != DMP_ENTRY_IDLE)
    return false;
  memset(cs, 0, sizeof *cs);
  dmp_impl_entry_id(e, cs->id);
  cs->index = i;
  uint32_t flags = dmp_impl_load_relaxed(&w->flags); /* after the acquire load of the state */
  cs->durable = (flags & DMP_ENTRY_F_DURABLE) != 0;
  cs->non_gating = (flags & DMP_ENTRY_F_NON_GATING) != 0;
  cs->pid = e->pid;
  cs->generation = dmp_impl_load_relaxed(&w->generation); /* after the acquire load of the state */
  cs->attached_ns = e->attached_ns;
  /* T8: acquire load; pairs with C2, the consumer's release of its cursor. */
  cs->position = dmp_impl_load_acquire(&w->cursor);
  dmp_impl_entry_stat_state(cs, st, position);
  return true;
}
