/* Shared-memory counters and the distinct-error log (layout and protocol in
 * counters.h): format and validation, lock-free seqlock readers,
 * registration that is idempotent by (type, label) and reclaims the records
 * of dead owners, and the bounded distinct-error log. The segment's
 * lifecycle and the library's own records are in counters_segment.c. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REGISTRY_LOCK_TIMEOUT_NS INT64_C(2000000000)
#define MAX_RECORDS (DMP_COUNTERS_BASE_RECORDS + DMP_COUNTERS_PER_CONSUMER * DMP_MAX_CONSUMERS)

/* ---- geometry, paths, validation ----------------------------------------- */

void dmp_impl_cnt_geometry(uint32_t max_consumers, struct dmp_impl_cnt_geometry *g)
{
  g->record_count = DMP_COUNTERS_BASE_RECORDS + DMP_COUNTERS_PER_CONSUMER * max_consumers;
  g->error_count = DMP_COUNTERS_ERRORS;
  g->records_offset = sizeof(struct dmp_counters_header);
  g->errors_offset = g->records_offset + (uint64_t)g->record_count * sizeof(struct dmp_counter_record);
  uint64_t end = g->errors_offset + (uint64_t)g->error_count * sizeof(struct dmp_error_record);
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  g->total_size = (end + page - 1) & ~(page - 1);
}

int dmp_impl_cnt_path(const char *ring_path, char *out, size_t outlen)
{
  int n = snprintf(out, outlen, "%s%s", ring_path, DMP_COUNTERS_SUFFIX);
  if (n < 0 || (size_t)n >= outlen)
    return DMP_FAIL(-DMP_E_BADNAME, "'%s' plus '%s' is longer than %zu bytes", ring_path, DMP_COUNTERS_SUFFIX,
                    outlen - 1);
  return 0;
}

uint64_t dmp_impl_cnt_fingerprint(const struct dmp_counters_header *h)
{
  return dmp_impl_fnv1a64(h, offsetof(struct dmp_counters_header, fingerprint));
}


int dmp_impl_cnt_validate(const void *map, size_t len, const char *p, struct dmp_impl_cnt_geometry *g, char *why,
                          size_t whylen)
{
  struct dmp_counters_header *h = (struct dmp_counters_header *)(uintptr_t)map;
  if (len < sizeof *h)
    return DMP_WHY(-DMP_E_CORRUPT, "'%s' is %zu bytes, smaller than a counters header", p, len);
  /* K5: acquire load of the ready marker; pairs with K4 at creation. */
  uint32_t ready = dmp_impl_load_acquire(&h->ready);
  if (h->magic != DMP_COUNTERS_MAGIC)
    return h->magic == 0 && ready == 0 ? DMP_WHY(-DMP_E_NOTREADY, "'%s' is not initialised yet", p)
                                       : DMP_WHY(-DMP_E_CORRUPT, "'%s' has a bad counters magic number", p);
  if (h->layout_version != DMP_COUNTERS_VERSION)
    return DMP_WHY(-DMP_E_LAYOUT, "'%s' has counters version %u, this library reads version %u", p, h->layout_version,
               DMP_COUNTERS_VERSION);
  if (ready != DMP_READY)
    return DMP_WHY(-DMP_E_NOTREADY, "'%s' is not initialised yet (ready marker unset)", p);
  if (h->header_size != sizeof *h || h->fingerprint != dmp_impl_cnt_fingerprint(h) || h->flags != 0)
    return DMP_WHY(-DMP_E_CORRUPT, "'%s' counters header is corrupted (size, fingerprint or flags)", p);
  uint32_t n = h->record_count;
  if (n < DMP_COUNTERS_BASE_RECORDS + DMP_COUNTERS_PER_CONSUMER || n > MAX_RECORDS ||
      (n - DMP_COUNTERS_BASE_RECORDS) % DMP_COUNTERS_PER_CONSUMER != 0)
    return DMP_WHY(-DMP_E_CORRUPT, "'%s' has an impossible record count %u", p, n);
  dmp_impl_cnt_geometry((n - DMP_COUNTERS_BASE_RECORDS) / DMP_COUNTERS_PER_CONSUMER, g);
  if (h->record_size != sizeof(struct dmp_counter_record) || h->error_size != sizeof(struct dmp_error_record) ||
      h->error_count != g->error_count || h->records_offset != g->records_offset ||
      h->errors_offset != g->errors_offset || h->total_size != g->total_size)
    return DMP_WHY(-DMP_E_CORRUPT, "'%s' counters header offsets disagree with its record count", p);
  if (g->total_size > len)
    return DMP_WHY(-DMP_E_CORRUPT, "'%s' is %zu bytes, its header needs %llu (truncated?)", p, len,
               (unsigned long long)g->total_size);
  return 0;
}

/* ---- seqlock state words --------------------------------------------------- */

/* Writers hold the registry lock, so only they change a state word. */
static void state_begin(dmp_atomic_u32 *state)
{
  /* Relaxed, both: we are the only writer (registry lock); K0 orders the
   * BUSY store before the field writes. */
  uint32_t s = dmp_impl_load_relaxed(state);
  dmp_impl_store_relaxed(state, (((s >> 2) + 1) << 2) | DMP_CNT_BUSY);
  /* K0: release fence: the BUSY store is ordered before the field writes
   * that follow; pairs with K3, the reader's acquire fence before it
   * re-loads the state word. */
  dmp_impl_fence_release();
}

static void state_end(dmp_atomic_u32 *state)
{
  uint32_t s = dmp_impl_load_relaxed(state); /* relaxed: our own last store */
  /* K1: release store of LIVE after every field; pairs with K2. */
  dmp_impl_store_release(state, (s & ~3u) | DMP_CNT_LIVE);
}

/* Copy `n` bytes of a shared string and terminate it: never trust its NUL. */
static void copy_text(char *dst, const char *src, size_t n)
{
  memcpy(dst, src, n);
  dst[n] = '\0';
}

bool dmp_impl_cnt_record_read(const struct dmp_counter_record *rc, struct dmp_counter_stat *out)
{
  struct dmp_counter_record *r = (struct dmp_counter_record *)(uintptr_t)rc;
  for (int tries = 0; tries < 64; tries++) {
    /* K2: acquire load of the state; pairs with K1 (a LIVE record's fields
     * are complete). */
    uint32_t s1 = dmp_impl_load_acquire(&r->state);
    if (DMP_CNT_STATE(s1) == DMP_CNT_FREE)
      return false;
    if (DMP_CNT_STATE(s1) != DMP_CNT_LIVE) {
      dmp_impl_cpu_relax();
      continue;
    }
    out->type = r->type;
    out->owner_pid = r->owner_pid;
    out->registrations = r->registrations;
    out->registered_ns = r->registered_ns;
    copy_text(out->label, r->label, DMP_COUNTER_LABEL_MAX);
    /* Relaxed: a statistic, published through nothing. */
    out->value = dmp_impl_load_relaxed(&r->value);
    /* K3: acquire fence, then re-load the state; pairs with K0. The
     * re-load is relaxed: the fence orders it after the field loads. */
    dmp_impl_fence_acquire();
    if (dmp_impl_load_relaxed(&r->state) == s1)
      return true;
  }
  return false;
}

bool dmp_impl_cnt_error_read(const struct dmp_error_record *ec, struct dmp_error_stat *out)
{
  struct dmp_error_record *e = (struct dmp_error_record *)(uintptr_t)ec;
  for (int tries = 0; tries < 64; tries++) {
    uint32_t s1 = dmp_impl_load_acquire(&e->state); /* K2, as in dmp_impl_cnt_record_read() */
    if (DMP_CNT_STATE(s1) == DMP_CNT_FREE)
      return false;
    if (DMP_CNT_STATE(s1) != DMP_CNT_LIVE) {
      dmp_impl_cpu_relax();
      continue;
    }
    out->code = e->code;
    out->pid = e->pid;
    copy_text(out->text, e->text, DMP_COUNTERS_TEXT_MAX);
    out->count = dmp_impl_load_relaxed(&e->count); /* statistics: relaxed */
    out->first_ns = dmp_impl_load_relaxed(&e->first_ns);
    out->last_ns = dmp_impl_load_relaxed(&e->last_ns);
    dmp_impl_fence_acquire(); /* K3, as in dmp_impl_cnt_record_read() */
    if (dmp_impl_load_relaxed(&e->state) == s1)
      return true;
  }
  return false;
}

/* ---- locks ------------------------------------------------------------------ */

int dmp_impl_cnt_lock(int fd, short type, off_t at)
{
  if (type == F_UNLCK)
    dmp_impl_tsan_lock(fd, at, false);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = at;
  fl.l_len = 1;
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
    if (type == F_WRLCK)
      dmp_impl_tsan_lock(fd, at, true);
    return 0;
  }
  return (errno == EAGAIN || errno == EACCES) ? -EAGAIN : -errno;
}

/* The registry lock: the handle's mutex (threads of this process), then an
 * OFD lock (other processes; dropped by the kernel if its holder dies),
 * polled until `deadline` (0: one attempt) - only a stopped or hostile
 * holder keeps it long. The public calls wait at most 2 s; the library's
 * own cold paths pass their caller's deadline or do not wait at all. */
static int registry_lock(struct dmp_counters *s, int64_t deadline)
{
  pthread_mutex_lock(&s->mu);
  for (;;) {
    int rc = dmp_impl_cnt_lock(s->fd, F_WRLCK, DMP_CNT_LOCK_REGISTRY);
    if (rc == 0)
      return 0;
    int64_t left = dmp_impl_remaining(deadline);
    if (rc != -EAGAIN || left == 0) {
      pthread_mutex_unlock(&s->mu);
      return rc != -EAGAIN ? DMP_FAIL(rc, "cannot lock the counters registry of '%s'", s->path)
                           : DMP_FAIL(-ETIMEDOUT, "counters registry of '%s' is locked by another process (stopped?)",
                                      s->path);
    }
    dmp_impl_sleep_ns(left < 50000 ? left : 50000);
  }
}

static void registry_unlock(struct dmp_counters *s)
{
  (void)dmp_impl_cnt_lock(s->fd, F_UNLCK, DMP_CNT_LOCK_REGISTRY);
  pthread_mutex_unlock(&s->mu);
}

/* ---- registration -------------------------------------------------------- */

static bool owned(const struct dmp_counters *s, uint32_t i)
{
  return (s->owned[i / 64] >> (i % 64)) & 1u;
}

static int check_label(const char *label)
{
  size_t len = strnlen(label, DMP_COUNTER_LABEL_MAX + 1);
  if (len == 0 || len > DMP_COUNTER_LABEL_MAX)
    return DMP_FAIL(-DMP_E_BADNAME, "counter label '%.40s' is not 1..%u characters", label, DMP_COUNTER_LABEL_MAX);
  for (size_t i = 0; i < len; i++)
    if (label[i] < 0x20 || label[i] > 0x7e || label[i] == '"' || label[i] == '\\')
      return DMP_FAIL(-DMP_E_BADNAME, "counter label '%s' has character 0x%02x at %zu (printable ASCII, no quotes)",
                      label, (unsigned char)label[i], i);
  return 0;
}

/* Under the registry lock: the LIVE record with this key, or -1. */
static int find_key(const struct dmp_counters *s, uint32_t type, const char *label)
{
  for (uint32_t i = 0; i < s->geo.record_count; i++) {
    struct dmp_counter_record *r = &s->records[i];
    /* Relaxed: under the registry lock, which orders every writer's K1. */
    if (DMP_CNT_STATE(dmp_impl_load_relaxed(&r->state)) == DMP_CNT_LIVE && r->type == type &&
        strncmp(r->label, label, DMP_COUNTER_LABEL_MAX) == 0 && r->label[DMP_COUNTER_LABEL_MAX] == '\0')
      return (int)i;
  }
  return -1;
}

/* Under the registry lock: a FREE record, or one whose owners are all gone
 * (an exclusive lock on its byte succeeds; we keep that lock). -1 if none. */
static int find_space(struct dmp_counters *s, bool *reclaimed)
{
  for (uint32_t i = 0; i < s->geo.record_count; i++) /* relaxed: under the registry lock */
    if (DMP_CNT_STATE(dmp_impl_load_relaxed(&s->records[i].state)) == DMP_CNT_FREE) {
      *reclaimed = false;
      return (int)i;
    }
  for (uint32_t i = 0; i < s->geo.record_count; i++) {
    /* BUSY records are abandoned rewrites: their writer held the registry
     * lock, which is ours now. */
    if (!owned(s, i) && dmp_impl_cnt_lock(s->fd, F_WRLCK, DMP_CNT_LOCK_RECORD0 + (off_t)i) == 0) {
      *reclaimed = true;
      return (int)i;
    }
  }
  return -1;
}

/* Take a share of record `i` (converting a reclaim's exclusive lock) and
 * (re)write its metadata; `fresh` gives it the new key and a zero value. */
static int adopt(struct dmp_counters *s, uint32_t i, uint32_t type, const char *label, bool fresh)
{
  int rc = dmp_impl_cnt_lock(s->fd, F_RDLCK, DMP_CNT_LOCK_RECORD0 + (off_t)i);
  if (rc < 0)
    return DMP_FAIL(rc, "cannot lock counter record %u of '%s': %s", i, s->path, strerror(-rc));
  struct dmp_counter_record *r = &s->records[i];
  state_begin(&r->state);
  if (fresh) {
    r->type = type;
    memset(r->label, 0, sizeof r->label);
    memcpy(r->label, label, strlen(label));
    r->registrations = 0;
    dmp_impl_store_relaxed(&r->value, 0); /* relaxed: readers retry on the state word */
  }
  r->owner_pid = (int32_t)getpid();
  r->registrations++;
  r->registered_ns = (uint64_t)dmp_impl_realtime_ns();
  state_end(&r->state);
  s->owned[i / 64] |= UINT64_C(1) << (i % 64);
  return 0;
}

int dmp_counters_register(struct dmp_counters *s, uint32_t type, const char *label, struct dmp_counter *out)
{
  return dmp_impl_cnt_register(s, type, label, out, dmp_impl_deadline(REGISTRY_LOCK_TIMEOUT_NS));
}

int dmp_impl_cnt_register(struct dmp_counters *s, uint32_t type, const char *label, struct dmp_counter *out,
                          int64_t deadline)
{
  if (out)
    out->value = NULL;
  if (!s || !label || !out)
    return DMP_FAIL(-EINVAL, "counters, label or out is NULL");
  if (type == 0)
    type = DMP_COUNTER_USER;
  int rc = check_label(label);
  if (rc < 0)
    return rc;
  if ((rc = registry_lock(s, deadline)) < 0)
    return rc;
  int i = find_key(s, type, label);
  bool fresh = false;
  if (i >= 0 && owned(s, (uint32_t)i)) {
    rc = 0; /* already ours: nothing to write */
  } else if (i >= 0) {
    rc = adopt(s, (uint32_t)i, type, label, false);
  } else if ((i = find_space(s, &fresh)) >= 0) {
    rc = adopt(s, (uint32_t)i, type, label, true);
  } else {
    dmp_impl_fetch_add_relaxed(&s->hdr->registrations_failed, 1); /* relaxed: a tally */
    rc = DMP_FAIL(-ENOSPC, "counters of '%s' are full: all %u records are owned by live processes (%s '%s' refused)",
                  s->path, s->geo.record_count, dmp_counter_type_name(type), label);
  }
  registry_unlock(s);
  if (rc < 0)
    return rc;
  out->value = &s->records[i].value;
  return i;
}

int dmp_counters_unregister(struct dmp_counters *s, struct dmp_counter *counter)
{
  if (!s || !counter || !counter->value)
    return DMP_FAIL(-EINVAL, "counters or counter is NULL");
  uintptr_t at = (uintptr_t)counter->value, base = (uintptr_t)&s->records[0].value;
  uint32_t i = (uint32_t)((at - base) / sizeof(struct dmp_counter_record));
  if (at < base || (at - base) % sizeof(struct dmp_counter_record) != 0 || i >= s->geo.record_count)
    return DMP_FAIL(-EINVAL, "counter is not a record of '%s'", s->path);
  pthread_mutex_lock(&s->mu);
  (void)dmp_impl_cnt_lock(s->fd, F_UNLCK, DMP_CNT_LOCK_RECORD0 + (off_t)i);
  s->owned[i / 64] &= ~(UINT64_C(1) << (i % 64));
  pthread_mutex_unlock(&s->mu);
  counter->value = NULL;
  return 0;
}

/* ---- distinct-error log --------------------------------------------------- */

static int error_find(const struct dmp_counters *s, int code, const char *text)
{
  for (uint32_t i = 0; i < s->geo.error_count; i++) {
    struct dmp_error_stat e;
    if (dmp_impl_cnt_error_read(&s->errors[i], &e) && e.code == code && strcmp(e.text, text) == 0)
      return (int)i;
  }
  return -1;
}

static void error_bump(struct dmp_error_record *e, uint64_t now)
{
  /* Relaxed: tallies. Entries are never rewritten once LIVE (the log only
   * grows), so a matched entry stays the same error. */
  dmp_impl_fetch_add_relaxed(&e->count, 1);
  uint64_t last = dmp_impl_load_relaxed(&e->last_ns);
  while (now > last && !dmp_impl_cas_weak_relaxed(&e->last_ns, &last, now)) {
  }
}

static int error_insert(struct dmp_counters *s, int code, const char *text, uint64_t now)
{
  for (uint32_t i = 0; i < s->geo.error_count; i++) {
    struct dmp_error_record *e = &s->errors[i];
    /* Relaxed: under the registry lock, which orders every writer's K1. */
    if (DMP_CNT_STATE(dmp_impl_load_relaxed(&e->state)) != DMP_CNT_FREE)
      continue;
    state_begin(&e->state);
    e->code = code;
    e->pid = (int32_t)getpid();
    memset(e->text, 0, sizeof e->text);
    memcpy(e->text, text, strnlen(text, DMP_COUNTERS_TEXT_MAX));
    /* Relaxed: inside the seqlock (K0 before, K1 after). */
    dmp_impl_store_relaxed(&e->count, 1);
    dmp_impl_store_relaxed(&e->first_ns, now);
    dmp_impl_store_relaxed(&e->last_ns, now);
    state_end(&e->state);
    return 1;
  }
  dmp_impl_fetch_add_relaxed(&s->hdr->errors_dropped, 1); /* relaxed: a tally */
  return DMP_FAIL(-ENOSPC, "distinct-error log of '%s' is full (%u entries)", s->path, s->geo.error_count);
}

static int error_record(struct dmp_counters *s, int code, const char *text, int64_t deadline)
{
  uint64_t now = (uint64_t)dmp_impl_realtime_ns();
  int i = error_find(s, code, text);
  if (i >= 0) {
    error_bump(&s->errors[i], now);
    return 0;
  }
  int rc = registry_lock(s, deadline);
  if (rc < 0) {
    dmp_impl_fetch_add_relaxed(&s->hdr->errors_dropped, 1); /* relaxed: a tally */
    return rc;
  }
  i = error_find(s, code, text); /* inserted while we waited? */
  if (i >= 0) {
    error_bump(&s->errors[i], now);
    rc = 0;
  } else {
    rc = error_insert(s, code, text, now);
  }
  registry_unlock(s);
  return rc;
}

int dmp_counters_error(struct dmp_counters *s, int code, const char *fmt, ...)
{
  if (!s || !fmt)
    return DMP_FAIL(-EINVAL, "counters or fmt is NULL");
  char text[DMP_COUNTERS_TEXT_MAX + 1];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return error_record(s, code, text, dmp_impl_deadline(REGISTRY_LOCK_TIMEOUT_NS));
}

int dmp_impl_cnt_error_now(struct dmp_counters *s, int code, const char *text)
{
  return error_record(s, code, text, 0);
}

/* ---- public reads ---------------------------------------------------------- */

int dmp_counters_read(const struct dmp_counters *s, struct dmp_counter_stat *out, size_t cap)
{
  if (!s || (!out && cap))
    return DMP_FAIL(-EINVAL, "counters or out is NULL");
  int n = 0;
  struct dmp_counters *w = (struct dmp_counters *)(uintptr_t)s;
  pthread_mutex_lock(&w->mu); /* for the ownership bitmap */
  for (uint32_t i = 0; i < s->geo.record_count; i++) {
    struct dmp_counter_stat st;
    if (!dmp_impl_cnt_record_read(&s->records[i], &st))
      continue;
    st.index = i;
    /* Our own locks do not show in F_OFD_GETLK: count them ourselves. */
    st.owner_alive = owned(s, i) || dmp_impl_lock_held(s->fd, DMP_CNT_LOCK_RECORD0 + (off_t)i) == 1;
    if ((size_t)n < cap)
      out[n] = st;
    n++;
  }
  pthread_mutex_unlock(&w->mu);
  return n;
}

int dmp_counters_errors(const struct dmp_counters *s, struct dmp_error_stat *out, size_t cap)
{
  if (!s || (!out && cap))
    return DMP_FAIL(-EINVAL, "counters or out is NULL");
  int n = 0;
  for (uint32_t i = 0; i < s->geo.error_count; i++) {
    struct dmp_error_stat e;
    if (!dmp_impl_cnt_error_read(&s->errors[i], &e))
      continue;
    if ((size_t)n < cap)
      out[n] = e;
    n++;
  }
  return n;
}

int dmp_counters_value(const struct dmp_counters *s, uint32_t type, const char *label, uint64_t *value)
{
  if (!s || !label || !value)
    return DMP_FAIL(-EINVAL, "counters, label or value is NULL");
  for (uint32_t i = 0; i < s->geo.record_count; i++) {
    struct dmp_counter_stat st;
    if (dmp_impl_cnt_record_read(&s->records[i], &st) && st.type == type && strcmp(st.label, label) == 0) {
      *value = st.value;
      return 0;
    }
  }
  return -ENOENT;
}

uint64_t dmp_counters_epoch(const struct dmp_counters *s)
{
  return s ? s->hdr->ring_epoch : 0;
}

uint32_t dmp_counters_capacity(const struct dmp_counters *s)
{
  return s ? s->geo.record_count : 0;
}

const char *dmp_counter_type_name(uint32_t type)
{
  switch (type) {
  case DMP_COUNTER_PRODUCER_FULL: return "producer_full";
  case DMP_COUNTER_PRODUCER_SPINS: return "producer_spins";
  case DMP_COUNTER_PRODUCER_PARKS: return "producer_parks";
  case DMP_COUNTER_PRODUCER_LAG_MAX: return "producer_lag_max";
  case DMP_COUNTER_LIVENESS_ALERTS: return "liveness_alerts";
  case DMP_COUNTER_LIVENESS_EVICTIONS: return "liveness_evictions";
  case DMP_COUNTER_CONSUMER_ATTACHES: return "consumer_attaches";
  case DMP_COUNTER_CONSUMER_DETACHES: return "consumer_detaches";
  case DMP_COUNTER_CONSUMER_SPINS: return "consumer_spins";
  case DMP_COUNTER_CONSUMER_PARKS: return "consumer_parks";
  case DMP_COUNTER_CONSUMER_LAG_MAX: return "consumer_lag_max";
  case DMP_COUNTER_CONSUMER_MISSED: return "consumer_missed";
  default: return type >= DMP_COUNTER_USER ? "user" : "unknown";
  }
}

