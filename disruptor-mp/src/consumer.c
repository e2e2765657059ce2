/* The consumer's cold paths: attach (entry claim, resume, safe start),
 * detach, blocking waits with liveness checks, batch processing. */
#include "internal.h"
#include "env_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATTACH_RETRY_NS INT64_C(1000000) /* consumer-first polling period (default of DMP_DISCOVERY_POLL_MS) */
#define KNOWN_CONSUMER_FLAGS \
  (DMP_CONSUMER_DURABLE | DMP_CONSUMER_NO_COUNTERS | DMP_CONSUMER_ALLOW_GROUP | DMP_CONSUMER_NON_GATING | \
   DMP_CONSUMER_PREFAULT)
/* A non-gating read retries at most this often when the producer keeps
 * overwriting what it copies (then -EAGAIN, the skips counted). */
#define LOSSY_RETRIES 64

void dmp_consumer_config_init(struct dmp_consumer_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->backend = DMP_BACKEND_SHM;
  cfg->start = DMP_START_LATEST;
  cfg->wait.kind = dmp_impl_env_wait_kind(); /* DMP_WAIT, else DMP_WAIT_BLOCK */
}

static int check_config(const struct dmp_consumer_config *cfg)
{
  if (!cfg->name)
    return DMP_FAIL(-DMP_E_BADNAME, "cfg.name is NULL");
  int rc = dmp_id_validate(cfg->id);
  if (rc < 0)
    return -DMP_E_BADNAME;
  if (cfg->flags & ~KNOWN_CONSUMER_FLAGS)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.flags has unknown bits 0x%x", cfg->flags & ~KNOWN_CONSUMER_FLAGS);
  if ((cfg->flags & DMP_CONSUMER_NON_GATING) && (cfg->flags & DMP_CONSUMER_DURABLE))
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.flags: DMP_CONSUMER_NON_GATING and DMP_CONSUMER_DURABLE exclude each other "
                    "(a non-gating consumer never holds the producer back)");
  if (cfg->start != DMP_START_LATEST && cfg->start != DMP_START_OLDEST)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.start %d is not a dmp_start", (int)cfg->start);
  int rc2 = dmp_impl_wait_validate(&cfg->wait, "cfg.wait");
  return rc2 < 0 ? rc2 : DMP_RESERVED_CHECK(cfg, "cfg.reserved");
}

static int check_expectations(const struct dmp_consumer_config *cfg, const struct dmp_impl_segment *seg)
{
  if (cfg->slot_size && cfg->slot_size != seg->geo.slot_size)
    return DMP_FAIL(-DMP_E_MISMATCH, "'%s' has %u-byte slots, consumer expects %u", seg->path, seg->geo.slot_size,
                    cfg->slot_size);
  if (cfg->slot_align && cfg->slot_align != seg->geo.slot_align)
    return DMP_FAIL(-DMP_E_MISMATCH, "'%s' slots are %u-aligned, consumer expects %u", seg->path,
                    seg->geo.slot_align, cfg->slot_align);
  if (cfg->type_tag && cfg->type_tag != seg->type_tag)
    return DMP_FAIL(-DMP_E_MISMATCH, "'%s' carries type tag %016llx, consumer expects %016llx", seg->path,
                    (unsigned long long)seg->type_tag, (unsigned long long)cfg->type_tag);
  return 0;
}

/* The entry that holds `id` (ACTIVE or IDLE), or UINT32_MAX. Under the table lock. */
static uint32_t find_id(struct dmp_impl_ring *r, const struct dmp_impl_geometry *g, const char *id)
{
  uint32_t span = dmp_impl_table_span(r, g);
  for (uint32_t i = 0; i < span; i++) {
    /* Relaxed: we hold the table lock, and every state store (T1) is made
     * under it, so the lock orders them before this load. */
    if (dmp_impl_load_relaxed(&r->table[i].state) == DMP_ENTRY_FREE)
      continue;
    char other[DMP_ID_MAX + 1];
    dmp_impl_entry_id(&r->table[i], other);
    if (strcmp(other, id) == 0)
      return i;
  }
  return UINT32_MAX;
}

/* Lock a FREE entry for a new id: the first one whose OFD lock we get.
 * An honest holder lets go of an entry's lock before it frees the entry
 * (detach, evict_index), but a free entry whose lock is still held (a
 * hostile or corrupted table) is skipped, not reported as IDINUSE: the id
 * is new, nobody holds it. Under the table lock. */
static int lock_free_entry(struct dmp_impl_ring *r, const struct dmp_impl_geometry *g, uint32_t *index)
{
  uint32_t span = dmp_impl_table_span(r, g);
  for (uint32_t i = 0; i < g->max_consumers; i++) {
    /* Relaxed under the table lock, as in find_id(). */
    if (i < span && dmp_impl_load_relaxed(&r->table[i].state) != DMP_ENTRY_FREE)
      continue;
    int rc = dmp_impl_lock_try(r->seg->fd, DMP_LOCK_CONSUMER0 + (off_t)i);
    if (rc == -EAGAIN)
      continue;
    if (rc < 0)
      return DMP_FAIL(rc, "'%s': cannot lock entry %u", r->seg->path, i);
    *index = i;
    return 0;
  }
  return DMP_FAIL(-DMP_E_TABLEFULL, "'%s': all %u consumer entries are taken", r->seg->path, g->max_consumers);
}

/* Joining (layout.h, "Joining safely") in three steps: a provisional
 * start, the entry made visible with it, then the start settled against
 * the producer's limit. Under the table lock, holding the entry's lock. */

/* What is published: the producer cursor (C1: acquire load; pairs with
 * P1), or on a multi-producer ring the frontier its markers show (multi.c). */
static int64_t published_now(const struct dmp_consumer *c)
{
  if (c->non_gating & DMP_IMPL_C_MP)
    return dmp_impl_mp_frontier(&c->ring, -1);
  return dmp_impl_seq_clamp(dmp_impl_load_acquire(&c->ring.ctl->producer_cursor));
}

/* Step 1: where to start before the entry is visible. */
static int64_t provisional_start(const struct dmp_consumer *c, struct dmp_consumer_entry *e, bool existing)
{
  struct dmp_segment_control *ctl = c->ring.ctl;
  int64_t start;
  if (existing) {
    /* Resume after the stored position. Relaxed: the previous holder's
     * last C2 came before it let go of the entry's lock, which we took
     * since (fcntl(2) orders it), or it is a table we just validated. */
    start = dmp_impl_seq_clamp(dmp_impl_load_relaxed(&e->cursor));
  } else if (c->cfg.start == DMP_START_LATEST) {
    /* The position when the entry becomes visible: a producer that waits
     * for this consumer (wait_for_consumers) publishes only after that, so
     * the consumer sees everything from then on. The floor of step 3 lifts
     * it if those slots could already have been reused. C1: acquire load;
     * pairs with P1. */
    start = published_now(c);
  } else {
    /* Relaxed: a first guess; step 3 re-loads gate_limit after J1. */
    start = dmp_impl_seq_clamp(dmp_impl_load_relaxed(&ctl->gate_limit)) - (int64_t)c->ring.capacity;
  }
  return start < -1 ? -1 : start;
}

/* Step 2: fill the entry and make it visible (T1, T3, T2). */
static void publish_entry(struct dmp_consumer *c, struct dmp_consumer_entry *e, int64_t provisional)
{
  struct dmp_segment_control *ctl = c->ring.ctl;
  /* Relaxed: published with the state by T1 below. */
  dmp_impl_store_relaxed(&e->cursor, provisional);
  /* Relaxed: T1's release publishes it with the state. */
  dmp_impl_store_relaxed(&e->flags, ((c->cfg.flags & DMP_CONSUMER_DURABLE) ? DMP_ENTRY_F_DURABLE : 0) |
                                        ((c->non_gating & DMP_IMPL_C_LOSSY) ? DMP_ENTRY_F_NON_GATING : 0));
  e->pid = (int32_t)getpid();
  /* Relaxed: under the table lock; T1's release publishes it with the state. */
  c->generation = dmp_impl_load_relaxed(&e->generation) + 1;
  dmp_impl_store_relaxed(&e->generation, c->generation);
  e->attached_ns = (uint64_t)dmp_impl_realtime_ns();
  /* T1: release store of the state after the cursor, flags, generation and
   * id; pairs with P3 in the producer's scan (and every reader of states). */
  dmp_impl_store_release(&e->state, DMP_ENTRY_ACTIVE);
  /* Relaxed: only table-lock holders store table_hwm, and we hold it. */
  uint32_t hwm = dmp_impl_load_relaxed(&ctl->table_hwm);
  /* T3: release store of the high-water mark after the entry; pairs with
   * T4, so a scan that covers this entry sees it initialised. */
  if (c->index + 1 > hwm)
    dmp_impl_store_release(&ctl->table_hwm, c->index + 1);
  dmp_impl_table_changed(ctl); /* T2 */
}

/* Step 3: settle on a start the producer cannot have overwritten: after
 * J1, either the producer saw our entry or we see its limit. */
static void settle_start(struct dmp_consumer *c, struct dmp_consumer_entry *e, bool existing, int64_t provisional)
{
  struct dmp_segment_control *ctl = c->ring.ctl;
  const int64_t cap = (int64_t)c->ring.capacity;
  /* J1: full fence between publishing the entry (T1, T2) and reading the
   * producer's limit; pairs with P4. */
  dmp_impl_fence_seq_cst();
  /* Clamped (internal.h): any value a hostile peer wrote, no overflow
   * below. Relaxed: J1 orders it after our T1/T2, which is what P4 pairs
   * with. C1: acquire load of the cursor; pairs with P1. */
  int64_t limit = dmp_impl_seq_clamp(dmp_impl_load_relaxed(&ctl->gate_limit));
  int64_t published = published_now(c);
  int64_t floor = limit - cap > published - cap ? limit - cap : published - cap;
  int64_t start = provisional;
  /* A new non-gating consumer starting at LATEST keeps its provisional
   * start: nothing gates on it, so once the entry is visible (T1) a
   * producer released by wait_for_consumers() may lap the ring before we
   * get here (we may be preempted or stopped in between). Lifting the start
   * to the floor would lose those events silently (missed() is 0 for a new
   * entry); from the provisional start the first lossy_read() skips them
   * and counts them in missed(). Its reads validate every copy, so they
   * need no safe start. */
  bool keep = (c->non_gating & DMP_IMPL_C_LOSSY) && !existing && c->cfg.start == DMP_START_LATEST;
  if (floor > start && !keep) {
    c->missed = existing ? (uint64_t)(floor - start) : 0;
    start = floor;
  }
  if (c->ring.seg->geo.bytes && (start != provisional || (!existing && c->cfg.start == DMP_START_OLDEST))) {
    /* A byte ring: only a record boundary is a start (bytes.h). */
    int64_t b = dmp_impl_bytes_boundary(&c->ring, start, published);
    c->missed += existing && b > start ? (uint64_t)(b - start) : 0;
    start = b;
  }
  if (start > published) /* a hostile cursor beyond the producer */
    start = published;
  /* C4: release store of the settled start; pairs with P5 (the producer
   * must not gate on the provisional one past its next rescan). */
  if (start != provisional)
    dmp_impl_store_release(&e->cursor, start);
  c->next = start + 1;
  c->committed = start;
  c->mp_frontier = start; /* a lower bound: start <= published */
  /* A non-gating consumer keeps `available` below `next` for good (see
   * dmp_consumer_try_peek()). */
  c->available = c->non_gating ? INT64_MIN : published;
}

/* Make the entry ours and visible, then settle on a start position that
 * the producer cannot have overwritten. */
static void join(struct dmp_consumer *c, struct dmp_consumer_entry *e, bool existing)
{
  int64_t provisional = provisional_start(c, e, existing);
  publish_entry(c, e, provisional);
  settle_start(c, e, existing, provisional);
}

static int claim_entry(struct dmp_consumer *c)
{
  struct dmp_impl_segment *seg = c->ring.seg;
  uint32_t idx = find_id(&c->ring, &seg->geo, c->id);
  bool existing = idx != UINT32_MAX;
  int rc;
  if (existing) {
    rc = dmp_impl_lock_try(seg->fd, DMP_LOCK_CONSUMER0 + (off_t)idx);
    if (rc == -EAGAIN)
      return DMP_FAIL(-DMP_E_IDINUSE, "'%s': consumer id '%s' is attached by live pid %d", seg->path, c->id,
                      (int)c->ring.table[idx].pid);
    if (rc < 0)
      return DMP_FAIL(rc, "'%s': cannot lock entry %u", seg->path, idx);
  } else if ((rc = lock_free_entry(&c->ring, &seg->geo, &idx)) < 0) {
    return rc;
  }
  struct dmp_consumer_entry *e = &c->ring.table[idx];
  if (!existing) {
    memset(e->id, 0, sizeof e->id);
    memcpy(e->id, c->id, strlen(c->id));
    dmp_impl_store_relaxed(&e->generation, 0); /* under the table lock; T1 publishes it */
  }
  c->index = idx;
  c->cursor = &e->cursor;
  join(c, e, existing);
  return 0;
}

/* dmp_consumer_attach(), waiting for the table lock until `deadline`. */
static int attach_until(const struct dmp_consumer_config *cfg, int64_t deadline, struct dmp_consumer **out)
{
  if (out)
    *out = NULL;
  if (!cfg || !out)
    return DMP_FAIL(-EINVAL, "cfg or out is NULL");
  int rc = check_config(cfg);
  /* The environment's tunables, then the pinning: before the segment is
   * opened (affinity.h). */
  if (rc == 0)
    rc = dmp_impl_env_check(NULL);
  if (rc == 0)
    rc = dmp_impl_pin_role(DMP_ROLE_CONSUMER, cfg->cpus, NULL);
  if (rc < 0)
    return rc;
  struct dmp_consumer *c = calloc(1, sizeof *c);
  if (!c)
    return DMP_FAIL(-ENOMEM, "out of memory");
  struct dmp_impl_segment *seg = NULL;
  rc = dmp_impl_segment_open(cfg->backend, cfg->name, (cfg->flags & DMP_CONSUMER_ALLOW_GROUP) != 0, &seg);
  if (rc < 0)
    goto fail;
  /* The ring's identity, read once: the header is validated now but may be
   * scribbled later by any process that can write the segment; these never change. */
  seg->type_tag = ((const struct dmp_segment_control *)seg->map)->header.type_tag;
  seg->epoch = ((const struct dmp_segment_control *)seg->map)->header.epoch;
  rc = check_expectations(cfg, seg);
  if (rc < 0)
    goto fail;
  if (dmp_impl_lock_held(seg->fd, DMP_LOCK_PRODUCER) != 1) {
    rc = DMP_FAIL(-DMP_E_OWNERDEAD, "'%s' has no live producer", seg->path);
    goto fail;
  }
  /* Consumers write only their table entry: prefault for reading. */
  if ((cfg->flags & DMP_CONSUMER_PREFAULT) && (rc = dmp_impl_segment_prefault(seg, false)) < 0)
    goto fail;
  dmp_impl_ring_init(&c->ring, seg);
  c->cfg = *cfg;
  c->cfg.name = seg->path;
  c->cfg.id = c->id;
  c->cfg.wait = dmp_impl_wait_normalise(&cfg->wait, c->ring.wakeups);
  c->non_gating = (cfg->flags & DMP_CONSUMER_NON_GATING) ? DMP_IMPL_C_LOSSY : 0;
  /* A multi-producer ring: try_peek's reload (gating) and lossy_read()
   * (non-gating) step over tombstones, and waits repair dead producers'
   * slots (multi.c). */
  if (seg->geo.max_producers)
    c->non_gating |= DMP_IMPL_C_MP;
  memcpy(c->id, cfg->id, strlen(cfg->id) + 1);
  rc = dmp_impl_table_lock(seg, deadline);
  if (rc < 0)
    goto fail;
  rc = claim_entry(c);
  dmp_impl_table_unlock(seg);
  if (rc < 0)
    goto fail;
  if (!(cfg->flags & DMP_CONSUMER_NO_COUNTERS))
    dmp_impl_counters_attach(c, deadline);
  *out = c;
  return 0;
fail:
  dmp_impl_segment_close(seg);
  free(c);
  return rc;
}

int dmp_consumer_attach(const struct dmp_consumer_config *cfg, struct dmp_consumer **out)
{
  return attach_until(cfg, dmp_impl_deadline(DMP_TABLE_WAIT_NS), out);
}

static bool retryable(int rc)
{
  return rc == -ENOENT || rc == -DMP_E_NOTREADY || rc == -DMP_E_OWNERDEAD;
}

int dmp_consumer_attach_timeout(const struct dmp_consumer_config *cfg, int64_t timeout_ns,
                                struct dmp_consumer **out)
{
  int64_t deadline = dmp_impl_deadline(timeout_ns);
  for (;;) {
    int rc = attach_until(cfg, deadline, out);
    if (!retryable(rc))
      return rc;
    if (dmp_impl_remaining(deadline) == 0)
      return DMP_FAIL(-ETIMEDOUT, "'%s' not attachable before the timeout (last: %s)", cfg->name,
                      dmp_strerror(rc));
    dmp_impl_sleep_ns(dmp_impl_env_discovery_poll_ns(ATTACH_RETRY_NS)); /* DMP_DISCOVERY_POLL_MS */
  }
}

/* Our table entry is still the one we attached: ACTIVE, our id, the
 * generation our join gave it. Only a peer that writes the table behind
 * the library's back (corrupted or hostile memory) can change that while
 * we are attached: eviction frees only entries whose holder is dead
 * (liveness.c), and nobody else can lock our entry. Cold: waits and close. */
static bool entry_ours(const struct dmp_consumer *c)
{
  const struct dmp_consumer_entry *e = &c->ring.table[c->index];
  char id[sizeof e->id];
  /* E1: acquire load of the state; pairs with T1, so the id and generation
   * stored before it are seen (a snapshot: the peer may keep writing). */
  bool active = dmp_impl_load_acquire(&e->state) == DMP_ENTRY_ACTIVE;
  memcpy(id, (const char *)e->id, sizeof id);
  /* Relaxed: ordered after E1, which is all a snapshot needs. */
  return active && dmp_impl_load_relaxed(&e->generation) == c->generation && strncmp(id, c->id, sizeof id) == 0;
}

/* Close: under the table lock (waited for at most DMP_TABLE_WAIT_NS),
 * store our cursor and the new state - only into an entry that is still
 * ours - then drop the entry's own lock, then the table lock. In that
 * order, an attacher that finds the entry FREE or IDLE under the table
 * lock can always lock it (no IDINUSE for an id only we ever used), and a
 * liveness check that sees the entry's lock free also sees the new state.
 * Without the table lock (a peer held it all that time) we still store
 * IDLE: one store, made while we hold the entry's lock, which already
 * keeps attachers of our id and evictors off the entry; an attacher that
 * looked at it before sees it ACTIVE and locked, one after sees IDLE.
 * FREE is not stored then: it zeroes the id, which an attacher of our id
 * holding the table lock may be reading to take the entry over. */
static void detach(struct dmp_consumer *c, uint32_t state)
{
  if (!c)
    return;
  struct dmp_impl_segment *seg = c->ring.seg;
  struct dmp_consumer_entry *e = &c->ring.table[c->index];
  bool locked = dmp_impl_table_lock(seg, dmp_impl_deadline(DMP_TABLE_WAIT_NS)) == 0;
  /* An entry that is no longer ours is someone else's now: no cursor, no
   * state of ours goes into it. */
  if (entry_ours(c)) {
    dmp_consumer_release(c);
    if (!locked)
      state = DMP_ENTRY_IDLE;
    if (state == DMP_ENTRY_FREE)
      memset(e->id, 0, sizeof e->id);
    /* T1: release store of the new state; pairs with P3 (and every
     * reader of states, L1 in particular: before our lock release). */
    dmp_impl_store_release(&e->state, state);
    dmp_impl_table_changed(c->ring.ctl);
  }
  dmp_impl_lock_release(seg->fd, DMP_LOCK_CONSUMER0 + (off_t)c->index);
  /* A producer parked on our cursor must rescan: we stopped gating. */
  if (c->ring.wakeups)
    dmp_impl_futex_wake(dmp_impl_futex_word(c->cursor));
  if (locked)
    dmp_impl_table_unlock(seg);
  dmp_impl_counters_detach(c);
  dmp_impl_segment_close(seg);
  free(c->copy_buf);
  free(c);
}

void dmp_consumer_close(struct dmp_consumer *c)
{
  detach(c, DMP_ENTRY_IDLE);
}

void dmp_consumer_close_forget(struct dmp_consumer *c)
{
  detach(c, DMP_ENTRY_FREE);
}

int dmp_consumer_release_to(struct dmp_consumer *c, int64_t seq)
{
  if (!c || (c->non_gating & DMP_IMPL_C_LOSSY) || seq < c->committed || seq >= c->next)
    return dmp_error_set("dmp_consumer_release_to", "sequence %lld is not between the last released (%lld) and the "
                         "last peeked (%lld)", (long long)seq, c ? (long long)c->committed : -1LL,
                         c ? (long long)(c->next - 1) : -1LL),
           -EINVAL;
  /* The inline release stores next - 1 (C2, with its wake-up, C3): let it
   * see `seq` as the last event peeked, then put the read-ahead back. */
  int64_t next = c->next;
  c->next = seq + 1;
  dmp_consumer_release(c);
  c->next = next;
  return 0;
}

int64_t dmp_consumer_unpeek(struct dmp_consumer *c)
{
  if (!c || (c->non_gating & DMP_IMPL_C_LOSSY))
    return dmp_error_set("dmp_consumer_unpeek", "%s", c ? "a non-gating consumer peeks nothing" : "c is NULL"),
           -EINVAL;
  c->next = c->committed + 1;
  /* `available` was loaded for the old `next`; on a multi-producer ring it
   * is cached only up to the next tombstone after it, and tombstones
   * behind it would read as events: make the next peek load it again. */
  c->available = c->next - 1;
  return c->next;
}

void dmp_impl_wake_space(struct dmp_consumer *c)
{
  dmp_impl_futex_wake(dmp_impl_futex_word(c->cursor));
}

void dmp_impl_peek_refused(struct dmp_consumer *c)
{
  dmp_impl_set_error("dmp_consumer_try_peek", "consumer '%s' is non-gating: leases into the ring are not protected; "
                     "use dmp_consumer_try_copy(), dmp_consumer_copy_timeout() or dmp_consumer_process()", c->id);
}

bool dmp_consumer_producer_alive(const struct dmp_consumer *c)
{
  return c && dmp_impl_lock_held(c->ring.seg->fd, DMP_LOCK_PRODUCER) == 1;
}

/* Park on the producer cursor until it moves past what we have, at most `max_ns`. */
static void park_for_data(struct dmp_consumer *c, int64_t max_ns)
{
  struct dmp_segment_control *ctl = c->ring.ctl;
  /* W1: seq_cst increment of data_waiters, then the slow side's barrier
   * (a full fence, and membarrier(2) on rings that use it), then the
   * re-read of the cursor; pairs with P2 (wait.h, "Wake-up protocol"). If
   * the barrier could not be made, park briefly instead of until woken. */
  dmp_impl_fetch_add_seq_cst(&ctl->data_waiters, 1);
  max_ns = dmp_impl_waiter_sync(&c->ring, max_ns); /* W3 */
  int64_t seen = dmp_impl_load_seq_cst(&ctl->producer_cursor);
  /* Park also on a scribbled cursor (dmp_impl_cursor_sane()): the
   * producer's next publish changes the word and wakes us. A
   * multi-producer ring: its cursor is the futex word, and the markers
   * (read after it) say whether there is data; a producer that sees us
   * moves the cursor (MP5) before it wakes us (multi.c, P2). */
  if ((c->non_gating & DMP_IMPL_C_MP) ? dmp_impl_mp_available(c) == 0
                                      : seen < c->next || !dmp_impl_cursor_sane(c, seen))
    dmp_impl_futex_wait(dmp_impl_futex_word(&ctl->producer_cursor), (uint32_t)(uint64_t)seen, max_ns);
  /* Relaxed: a count only; a publisher that still sees us makes one
   * futile wake-up call. */
  dmp_impl_fetch_sub_relaxed(&ctl->data_waiters, 1);
}

/* The liveness check of a wait: the producer holds its lock and our entry
 * is still ours. 0, -DMP_E_OWNERDEAD (nothing left to read) or -DMP_E_EVICTED. */
static int64_t check_peers(struct dmp_consumer *c)
{
  /* A multi-producer ring: a dead producer's claimed slots hold the cursor
   * back; publish them as tombstones (multi.c), then judge. */
  if (c->non_gating & DMP_IMPL_C_MP)
    dmp_impl_mp_repair(&c->ring, -1);
  if (!dmp_consumer_producer_alive(c) && dmp_consumer_available(c) <= 0)
    return -DMP_E_OWNERDEAD;
  /* Lost our entry: the producer no longer waits for us, so whatever we
   * would read next may be overwritten under us. */
  if (!entry_ours(c))
    return dmp_impl_set_error("dmp_consumer_wait",
                              "consumer '%s' lost its table entry %u (freed or taken by another writer of "
                              "the table); attach again", c->id, c->index),
           -DMP_E_EVICTED;
  return 0;
}

/* `tally[0]` counts wait-strategy steps, `tally[1]` parks (counters.h).
 * The next liveness check is due at c->liveness_due, kept in the handle:
 * a caller that polls with timeouts shorter than the period (a SPIN loop
 * of short peek_timeout() calls) still checks once per period, instead of
 * restarting the period with every call and never checking. */
static int64_t wait_data(struct dmp_consumer *c, int64_t timeout_ns, uint64_t tally[2])
{
  int64_t deadline = dmp_impl_deadline(timeout_ns);
  const struct dmp_wait_strategy *w = &c->cfg.wait;
  const int64_t period = dmp_impl_wait_liveness_ns(w);
  for (uint64_t iter = 0;; iter++) {
    int64_t n = dmp_consumer_available(c);
    if (n > 0)
      return n;
    if (dmp_impl_wait_parks(w, iter)) {
      int64_t left = dmp_impl_remaining(deadline);
      if (left > 0) {
        tally[1]++;
        park_for_data(c, left < period ? left : period);
      }
      if (dmp_consumer_available(c) > 0)
        continue; /* the usual wake-up: data arrived */
      /* Woken without data (the producer closed) or a slice ran out: both
       * are rare, so check liveness now rather than at the next period. */
      c->liveness_due = 0;
    } else {
      tally[0]++;
      /* Pause hints are a few ns: read the clock only every 256th of them.
       * A yield or a sleep takes long enough to read it after each. */
      if (!dmp_impl_wait_step(w, iter, deadline) && (iter & 255) != 0)
        continue;
    }
    int64_t now = dmp_impl_now_ns();
    if (now >= c->liveness_due) {
      c->liveness_due = now + period;
      int64_t rc = check_peers(c);
      if (rc < 0)
        return rc;
    }
    if (now >= deadline)
      return dmp_consumer_available(c) > 0 ? dmp_consumer_available(c) : -ETIMEDOUT;
  }
}

int64_t dmp_consumer_wait(struct dmp_consumer *c, int64_t timeout_ns)
{
  if (!c)
    return -EINVAL;
  uint64_t tally[2] = {0, 0};
  /* Data already there is the common case on a busy stream: answer it
   * before wait_data() reads the clock for its deadline and liveness. */
  int64_t n = dmp_consumer_available(c);
  if (n <= 0)
    n = wait_data(c, timeout_ns, tally);
  if (c->counters) { /* cold: after a wait */
    dmp_impl_cnt_add(c->counters, DMP_IMPL_CNT_SPINS, tally[0]);
    dmp_impl_cnt_add(c->counters, DMP_IMPL_CNT_PARKS, tally[1]);
    if (n > 0) /* published and not yet released: `available` is not cached
                  on non-gating consumers */
      dmp_impl_cnt_max(c->counters, DMP_IMPL_CNT_LAG_MAX, dmp_impl_seq_clamp(n) + c->next - 1 - c->committed);
    if (n == -DMP_E_OWNERDEAD)
      dmp_impl_cnt_error(c->counters, (int)n, "producer of '%s' exited or crashed", c->cfg.name);
    else if (n == -DMP_E_EVICTED)
      dmp_impl_cnt_error(c->counters, (int)n, "consumer '%s' lost its table entry", c->id);
  }
  return n;
}

int dmp_consumer_peek_timeout(struct dmp_consumer *c, const void **event, int64_t *seq, int64_t timeout_ns)
{
  if (!c || !event || !seq)
    return -EINVAL;
  int rc = dmp_consumer_try_peek(c, event, seq);
  if (rc != -EAGAIN)
    return rc;
  int64_t deadline = dmp_impl_deadline(timeout_ns);
  for (;;) {
    int64_t left = dmp_impl_remaining(deadline);
    int64_t n = dmp_consumer_wait(c, left == INT64_MAX ? DMP_FOREVER : left);
    if (n < 0)
      return (int)n;
    rc = dmp_consumer_try_peek(c, event, seq);
    /* On a multi-producer ring what was available may all be tombstones:
     * then wait again, within the same deadline. */
    if (rc != -EAGAIN || !(c->non_gating & DMP_IMPL_C_MP))
      return rc;
    if (dmp_impl_remaining(deadline) == 0)
      return -ETIMEDOUT;
  }
}

/* ---- non-gating reads (consumer.h, "Non-gating consumers") --------------- */

/* Copy the next event into `dst` (`len` bytes) and prove the copy intact,
 * skipping events that were (or may have been) overwritten. 0 with `*seq`
 * and `next` moved past it, or -EAGAIN (nothing published, or the producer
 * overwrote LOSSY_RETRIES copies in a row). Skips go to `missed`. */
static int lossy_read(struct dmp_consumer *c, void *dst, size_t len, int64_t *seq)
{
  struct dmp_segment_control *ctl = c->ring.ctl;
  const int64_t cap = (int64_t)c->ring.capacity;
  uint64_t skipped = 0;
  int rc = -EAGAIN;
  for (int tries = 0; tries < LOSSY_RETRIES; tries++) {
    int64_t s = c->next;
    /* C1: acquire load of the producer cursor; pairs with P1, so the slot
     * holds event s or a later one, never an earlier one. */
    int64_t published = (c->non_gating & DMP_IMPL_C_MP)
                            ? dmp_impl_mp_published(c) /* from the markers (multi.c) */
                            : dmp_impl_seq_clamp(dmp_impl_load_acquire(&ctl->producer_cursor)); /* hostile: internal.h */
    if (s > published)
      break;
    if (c->non_gating & DMP_IMPL_C_MP) {
      /* A tombstone for `s` is final (only a later lap replaces it), so it
       * is stepped over and counted without a copy. A marker of a later
       * lap is not a tombstone of `s`: the copy below is then caught as
       * overwritten by the limit check, like any lapped slot. */
      s = dmp_impl_mp_skip_tombstones(c, s, published);
      if (s > published)
        break;
    }
    memcpy(dst, dmp_impl_slot(&c->ring, s), len);
    /* N1: acquire fence between the copy and the load of gate_limit; pairs
     * with P4, the producer's full fence between storing a larger
     * gate_limit and writing the slots it opens (layout.h, "Reading
     * without gating"): if any byte we copied was written for s + capacity
     * or later, the limit we load covers s + capacity. */
    dmp_impl_fence_acquire();
    /* Relaxed: N1 orders it after the copy. */
    int64_t limit = dmp_impl_seq_clamp(dmp_impl_load_relaxed(&ctl->gate_limit));
    if (published > limit)
      break; /* scribbled: never published beyond the limit stored first (P4) */
    if (limit < s + cap) {
      *seq = s;
      c->next = s + 1;
      rc = 0;
      break;
    }
    /* Slot s may have been overwritten: skip to the oldest event the
     * producer may not overwrite yet (> s, since limit >= s + cap). After
     * a failed retry, to the newest published one instead, which has the
     * most time left before it is overwritten. Never beyond the producer
     * (a hostile limit): `to` <= INT64_MAX, so published + 1 cannot
     * overflow where it is used. */
    int64_t to = limit - cap + 1;
    if (tries > 0 && to < published)
      to = published;
    if (to > published)
      to = published + 1;
    skipped += (uint64_t)(to - s);
    c->next = to;
  }
  if (skipped) {
    c->missed += skipped;
    dmp_impl_cnt_add(c->counters, DMP_IMPL_CNT_MISSED, skipped);
  }
  return rc;
}

/* A non-gating consumer's cursor only reports what it read (dmp-stat,
 * discovery): nobody waits on it, so no waiter check. */
static void lossy_commit(struct dmp_consumer *c)
{
  int64_t last = c->next - 1;
  if (last == c->committed)
    return;
  /* C2 (informational here): release store of this consumer's cursor. */
  dmp_impl_store_release(c->cursor, last);
  c->committed = last;
}

static int64_t lossy_process(struct dmp_consumer *c, dmp_event_fn fn, size_t max, void *user)
{
  const struct dmp_impl_geometry *g = &c->ring.seg->geo;
  if (!c->copy_buf) {
    /* One slot, aligned like a slot so the callback may read it as its
     * event type (slot_stride is a multiple of slot_align). */
    size_t align = g->slot_align < sizeof(void *) ? sizeof(void *) : g->slot_align;
    if (posix_memalign(&c->copy_buf, align, g->slot_stride) != 0) {
      c->copy_buf = NULL;
      return DMP_FAIL(-ENOMEM, "consumer '%s': no memory for a %u-byte copy buffer", c->id, g->slot_stride);
    }
  }
  /* The snapshot: what is published now (at most `max` events). C1:
   * acquire load; pairs with P1. */
  int64_t published = published_now(c);
  if (published < c->next)
    return 0;
  int64_t end = published + 1;
  if (max && (uint64_t)(end - c->next) > max)
    end = c->next + (int64_t)max;
  if (c->counters)
    dmp_impl_cnt_max(c->counters, DMP_IMPL_CNT_LAG_MAX, published - c->committed);
  int64_t done = 0;
  while (c->next < end) {
    int64_t seq;
    if (lossy_read(c, c->copy_buf, g->slot_size, &seq) < 0)
      break;
    done++;
    /* A skip may have carried us past the snapshot's end. */
    bool last = seq >= end - 1;
    if (fn(c->copy_buf, seq, last, user) != 0 || last)
      break;
  }
  lossy_commit(c);
  return done;
}

int64_t dmp_consumer_process(struct dmp_consumer *c, dmp_event_fn fn, size_t max, void *user)
{
  if (!c || !fn)
    return -EINVAL;
  if (c->non_gating & DMP_IMPL_C_LOSSY)
    return lossy_process(c, fn, max, user);
  int64_t avail = dmp_consumer_available(c);
  if (avail <= 0)
    return 0;
  if (max && (uint64_t)avail > max)
    avail = (int64_t)max;
  /* A gating consumer is never more than a ring behind: more "available"
   * is a scribbled producer cursor, and one batch stays within a ring. */
  if ((uint64_t)avail > c->ring.capacity)
    avail = (int64_t)c->ring.capacity;
  if (c->counters) /* once per batch; writes only on a new maximum */
    dmp_impl_cnt_max(c->counters, DMP_IMPL_CNT_LAG_MAX, dmp_impl_seq_clamp(c->available) - c->committed);
  int64_t first = c->next, end = first + avail, s = first;
  if (c->non_gating) { /* a multi-producer ring: tombstones are stepped over, counted, never delivered */
    int64_t delivered = 0;
    bool stop = false;
    while (s < end && !stop) {
      if (dmp_impl_consumer_is_tomb(c, s))
        c->tombstones++;
      else {
        stop = fn(dmp_impl_slot(&c->ring, s), s, s == end - 1, user) != 0;
        delivered++;
      }
      s++;
    }
    c->next = s;
    dmp_consumer_release(c);
    return delivered;
  }
  while (s < end) {
    int stop = fn(dmp_impl_slot(&c->ring, s), s, s == end - 1, user);
    s++;
    if (stop)
      break;
  }
  c->next = s;
  dmp_consumer_release(c);
  return s - first;
}

int dmp_consumer_try_copy(struct dmp_consumer *c, void *dst, size_t len, int64_t *seq)
{
  if (!c || !dst || !seq || len > c->ring.seg->geo.slot_size)
    return -EINVAL;
  if (c->non_gating & DMP_IMPL_C_LOSSY) {
    int rc = lossy_read(c, dst, len, seq);
    if (rc == 0)
      lossy_commit(c);
    return rc;
  }
  const void *ev;
  int rc = dmp_consumer_try_peek(c, &ev, seq);
  if (rc < 0)
    return rc;
  memcpy(dst, ev, len);
  dmp_consumer_release(c);
  return 0;
}

int dmp_consumer_copy_timeout(struct dmp_consumer *c, void *dst, size_t len, int64_t *seq, int64_t timeout_ns)
{
  if (!c || !dst || !seq || len > c->ring.seg->geo.slot_size)
    return -EINVAL;
  if (c->non_gating & DMP_IMPL_C_LOSSY) {
    int64_t deadline = dmp_impl_deadline(timeout_ns);
    for (;;) {
      if (lossy_read(c, dst, len, seq) == 0) {
        lossy_commit(c);
        return 0;
      }
      /* Bounded even when events keep being overwritten under us: the
       * wait then returns at once, the deadline ends the loop. */
      int64_t left = dmp_impl_remaining(deadline);
      if (left == 0)
        return -ETIMEDOUT;
      int64_t n = dmp_consumer_wait(c, left == INT64_MAX ? DMP_FOREVER : left);
      if (n < 0)
        return (int)n;
    }
  }
  const void *ev;
  int rc = dmp_consumer_peek_timeout(c, &ev, seq, timeout_ns);
  if (rc < 0)
    return rc;
  memcpy(dst, ev, len);
  dmp_consumer_release(c);
  return 0;
}

int64_t dmp_consumer_sequence(const struct dmp_consumer *c)
{
  return c ? c->committed : -EINVAL;
}

uint64_t dmp_consumer_missed(const struct dmp_consumer *c)
{
  return c ? c->missed : 0;
}

uint32_t dmp_consumer_slot_size(const struct dmp_consumer *c)
{
  return c ? c->ring.seg->geo.slot_size : 0;
}

uint32_t dmp_consumer_slot_align(const struct dmp_consumer *c)
{
  return c ? c->ring.seg->geo.slot_align : 0;
}

uint64_t dmp_consumer_capacity(const struct dmp_consumer *c)
{
  return c ? c->ring.capacity : 0;
}

uint64_t dmp_consumer_type_tag(const struct dmp_consumer *c)
{
  return c ? c->ring.seg->type_tag : 0;
}

uint64_t dmp_consumer_epoch(const struct dmp_consumer *c)
{
  return c ? c->ring.seg->epoch : 0;
}

const char *dmp_consumer_name(const struct dmp_consumer *c)
{
  return c ? c->cfg.name : NULL; /* points into the segment handle (attach) */
}

int64_t dmp_consumer_next(const struct dmp_consumer *c)
{
  return c ? c->next : -EINVAL;
}

uint32_t dmp_consumer_generation(const struct dmp_consumer *c)
{
  /* The value our join stored: the entry's lock holder - this handle - is
   * its only honest writer, and a scribbled one must not show here. */
  return c ? c->generation : 0;
}
