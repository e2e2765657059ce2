/* The counters segment's lifecycle (counters.h): the producer creates it
 * next to its ring and removes it on close, participants open it validated
 * (a consumer waits briefly for a young ring's), and the library's own
 * per-participant records are registered and updated from cold paths
 * through the dmp_impl_cnt_* hooks. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A consumer attaching to a ring younger than this polls for the counters
 * segment, which its producer creates right after the ring. */
#define JOIN_WAIT_NS INT64_C(200000000)
#define PRODUCER_LABEL "producer"


/* ---- files ------------------------------------------------------------------ */

/* Whether the name `path` (relative to `dirfd` for MMAP) is (still) the
 * file open as `fd`. */
static bool same_file(enum dmp_backend backend, int dirfd, const char *path, int fd)
{
  struct stat mine, now;
  return fstat(fd, &mine) == 0 && dmp_impl_file_stat(backend, dirfd, path, &now) == 0 &&
         now.st_ino == mine.st_ino && now.st_dev == mine.st_dev;
}

static struct dmp_counters *handle_new(enum dmp_backend backend, const char *path)
{
  struct dmp_counters *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->fd = -1;
  s->dirfd = -1;
  s->backend = backend;
  s->full_seq = -1;
  pthread_mutex_init(&s->mu, NULL);
  snprintf(s->path, sizeof s->path, "%s", path);
  return s;
}

static void handle_close(struct dmp_counters *s)
{
  if (!s)
    return;
  if (s->owner && !s->keep && s->fd >= 0 && same_file(s->backend, s->dirfd, s->path, s->fd))
    (void)dmp_impl_file_unlink(s->backend, s->dirfd, s->path); /* still holding the owner lock */
  if (s->map)
    munmap(s->map, s->map_len);
  if (s->fd >= 0)
    close(s->fd); /* drops the owner, registry and record locks */
  if (s->dirfd >= 0)
    close(s->dirfd);
  free(s->owned);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static int handle_map(struct dmp_counters *s, size_t len, char *why, size_t whylen)
{
  void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
  if (m == MAP_FAILED)
    return DMP_WHY(-errno, "mmap of %zu bytes of '%s' failed: %s", len, s->path, strerror(errno));
  s->map = m;
  s->map_len = len;
  return 0;
}

static int handle_bind(struct dmp_counters *s)
{
  s->hdr = (struct dmp_counters_header *)(void *)s->map;
  s->records = (struct dmp_counter_record *)(void *)(s->map + s->geo.records_offset);
  s->errors = (struct dmp_error_record *)(void *)(s->map + s->geo.errors_offset);
  s->owned = calloc((s->geo.record_count + 63) / 64, sizeof *s->owned);
  return s->owned ? 0 : -ENOMEM;
}

int dmp_impl_cnt_open_image(struct dmp_counters *s, char *why, size_t whylen)
{
  int rc = dmp_impl_cnt_validate(s->map, s->map_len, s->path, &s->geo, why, whylen);
  if (rc == 0 && (rc = handle_bind(s)) < 0)
    DMP_WHY(rc, "out of memory");
  return rc;
}

/* Open and validate an existing counters segment, read-write, if the
 * permission rules trust it (config.h, "Permissions"). Reports the reason
 * in `why` only, so a consumer's best-effort open leaves the thread's error
 * detail alone. */
static int open_existing(enum dmp_backend backend, const char *path, bool allow_group, struct dmp_counters **out,
                         char *why, size_t whylen)
{
  struct dmp_counters *s = handle_new(backend, path);
  if (!s)
    return DMP_WHY(-ENOMEM, "out of memory");
  int rc;
  s->fd = dmp_impl_file_open_path(backend, path, O_RDWR, why, whylen);
  if (s->fd < 0) {
    rc = s->fd;
    s->fd = -1;
    goto fail;
  }
  struct stat st;
  if ((rc = dmp_impl_file_trust(s->fd, path, allow_group, &st, why, whylen)) < 0)
    goto fail;
  if (!S_ISREG(st.st_mode)) {
    rc = DMP_WHY(-DMP_E_BADNAME, "'%s' is not a regular file", path);
    goto fail;
  }
  if (st.st_size == 0) {
    rc = DMP_WHY(-DMP_E_NOTREADY, "'%s' is empty (not initialised yet)", path);
    goto fail;
  }
  struct dmp_impl_cnt_geometry gmax;
  dmp_impl_cnt_geometry(DMP_MAX_CONSUMERS, &gmax);
  if ((uint64_t)st.st_size < sizeof(struct dmp_counters_header) || (uint64_t)st.st_size > gmax.total_size) {
    rc = DMP_WHY(-DMP_E_CORRUPT, "'%s' has an impossible size of %lld bytes", path, (long long)st.st_size);
    goto fail;
  }
  rc = handle_map(s, (size_t)st.st_size, why, whylen);
  if (rc == 0)
    rc = dmp_impl_cnt_open_image(s, why, whylen);
  if (rc < 0)
    goto fail;
  *out = s;
  return 0;
fail:
  handle_close(s);
  return rc;
}

/* A leftover counters segment at `path` (we own the ring's name, so it is
 * an older incarnation's). Never removes a ring that happens to have that
 * name, nor another user's file. 0 removed or absent, -DMP_E_INUSE if it
 * is a ring, -EACCES if it is not ours. */
static int remove_stale(enum dmp_backend backend, int dirfd, const char *path)
{
  char why[512];
  int fd = dmp_impl_file_open(backend, dirfd, path, O_RDONLY, 0, why, sizeof why);
  if (fd < 0)
    return fd == -ENOENT ? 0 : DMP_FAIL(fd, "%s", why);
  struct stat st;
  int rc = dmp_impl_file_trust(fd, path, false, &st, why, sizeof why);
  uint64_t magic = 0;
  ssize_t n = rc == 0 ? pread(fd, &magic, sizeof magic, 0) : 0;
  close(fd);
  if (rc < 0)
    return DMP_FAIL(rc, "stale counters: %s", why);
  if (n == (ssize_t)sizeof magic && magic == DMP_MAGIC)
    return DMP_FAIL(-DMP_E_INUSE, "'%s' is a ring, but the counters of its neighbour need that name", path);
  (void)dmp_impl_file_unlink(backend, dirfd, path);
  return 0;
}

static int create_exclusive(enum dmp_backend backend, int dirfd, const char *path, mode_t mode)
{
  char why[512];
  for (int attempt = 0; attempt < 4; attempt++) {
    int fd = dmp_impl_file_open(backend, dirfd, path, O_RDWR | O_CREAT | O_EXCL, mode, why, sizeof why);
    if (fd >= 0)
      return fd;
    if (fd != -EEXIST)
      return DMP_FAIL(fd, "counters: %s", why);
    int rc = remove_stale(backend, dirfd, path);
    if (rc < 0)
      return rc;
  }
  return DMP_FAIL(-DMP_E_INUSE, "counters '%s' keep reappearing", path);
}

static void header_init(struct dmp_counters *s, const struct dmp_segment_header *ring)
{
  struct dmp_counters_header *h = s->hdr;
  h->magic = DMP_COUNTERS_MAGIC;
  h->layout_version = DMP_COUNTERS_VERSION;
  h->header_size = sizeof *h;
  h->total_size = s->geo.total_size;
  h->record_count = s->geo.record_count;
  h->record_size = sizeof(struct dmp_counter_record);
  h->records_offset = s->geo.records_offset;
  h->error_count = s->geo.error_count;
  h->error_size = sizeof(struct dmp_error_record);
  h->errors_offset = s->geo.errors_offset;
  h->ring_epoch = ring->epoch;
  h->created_ns = (uint64_t)dmp_impl_realtime_ns();
  h->owner_pid = (int32_t)getpid();
  h->flags = 0;
  h->fingerprint = dmp_impl_cnt_fingerprint(h);
  /* K4: release store of the ready marker after the header; pairs with K5. */
  dmp_impl_store_release(&h->ready, DMP_READY);
}

static int create_segment(const struct dmp_producer *p, const char *path, struct dmp_counters **out)
{
  const struct dmp_impl_segment *seg = p->ring.seg;
  struct dmp_counters *s = handle_new(seg->backend, path);
  if (!s)
    return DMP_FAIL(-ENOMEM, "out of memory");
  char why[512];
  int rc;
  dmp_impl_cnt_geometry(seg->geo.max_consumers, &s->geo);
  /* Our own copy of the ring's directory: we unlink relative to it. */
  if (seg->dirfd >= 0 && (s->dirfd = fcntl(seg->dirfd, F_DUPFD_CLOEXEC, 0)) < 0) {
    int e = errno;
    rc = DMP_FAIL(-e, "dup of the directory of '%s': %s", path, strerror(e));
    handle_close(s);
    return rc;
  }
  s->fd = create_exclusive(seg->backend, s->dirfd, path, (mode_t)p->cfg.mode);
  if (s->fd < 0) {
    rc = s->fd;
    s->fd = -1;
    handle_close(s);
    return rc;
  }
  s->owner = true;
  s->keep = (p->cfg.flags & DMP_RING_KEEP) != 0;
  /* The ring's access, right after the exclusive create (config.h). */
  if ((rc = dmp_impl_file_share(s->fd, path, p->cfg.mode, (p->cfg.flags & DMP_RING_SHARE_GROUP) != 0,
                                p->cfg.share_gid, why, sizeof why)) < 0) {
    rc = DMP_FAIL(rc, "%s", why);
    goto fail;
  }
  if ((rc = dmp_impl_cnt_lock(s->fd, F_WRLCK, DMP_CNT_LOCK_OWNER)) < 0) {
    rc = DMP_FAIL(-DMP_E_INUSE, "lost counters '%s' to another process", path);
    s->owner = false;
    goto fail;
  }
  if ((rc = posix_fallocate(s->fd, 0, (off_t)s->geo.total_size)) != 0) {
    rc = DMP_FAIL(-rc, "cannot reserve %llu bytes for counters '%s': %s", (unsigned long long)s->geo.total_size,
                  path, strerror(rc));
    goto fail;
  }
  if ((rc = handle_map(s, (size_t)s->geo.total_size, why, sizeof why)) < 0 || (rc = handle_bind(s)) < 0) {
    rc = DMP_FAIL(rc, "%s", rc == -ENOMEM ? "out of memory" : why);
    goto fail;
  }
  header_init(s, &p->ring.ctl->header);
  *out = s;
  return 0;
fail:
  s->keep = false; /* never leave a half-created segment behind */
  handle_close(s);
  return rc;
}

int dmp_counters_open(enum dmp_backend backend, const char *ring_name, struct dmp_counters **out)
{
  if (out)
    *out = NULL;
  if (!ring_name || !out)
    return DMP_FAIL(-EINVAL, "ring_name or out is NULL");
  char ring[PATH_MAX], path[PATH_MAX], why[512];
  int rc = dmp_impl_segment_path(backend, ring_name, ring, sizeof ring);
  if (rc == 0)
    rc = dmp_impl_cnt_path(ring, path, sizeof path);
  if (rc < 0)
    return rc;
  rc = open_existing(backend, path, false, out, why, sizeof why);
  return rc < 0 ? DMP_FAIL(rc, "%s", why) : 0;
}

void dmp_counters_close(struct dmp_counters *s)
{
  handle_close(s);
}

struct dmp_counters *dmp_producer_counters(const struct dmp_producer *p)
{
  return p ? p->counters : NULL;
}

struct dmp_counters *dmp_consumer_counters(const struct dmp_consumer *c)
{
  return c ? c->counters : NULL;
}

/* ---- the library's own records (cold-path hooks) --------------------------- */

static const uint32_t producer_types[DMP_IMPL_CNT_N] = {
  [DMP_IMPL_CNT_FULL] = DMP_COUNTER_PRODUCER_FULL,         [DMP_IMPL_CNT_SPINS] = DMP_COUNTER_PRODUCER_SPINS,
  [DMP_IMPL_CNT_PARKS] = DMP_COUNTER_PRODUCER_PARKS,       [DMP_IMPL_CNT_LAG_MAX] = DMP_COUNTER_PRODUCER_LAG_MAX,
  [DMP_IMPL_CNT_ALERTS] = DMP_COUNTER_LIVENESS_ALERTS,     [DMP_IMPL_CNT_EVICTIONS] = DMP_COUNTER_LIVENESS_EVICTIONS,
};

static const uint32_t consumer_types[DMP_IMPL_CNT_N] = {
  [DMP_IMPL_CNT_SPINS] = DMP_COUNTER_CONSUMER_SPINS,       [DMP_IMPL_CNT_PARKS] = DMP_COUNTER_CONSUMER_PARKS,
  [DMP_IMPL_CNT_LAG_MAX] = DMP_COUNTER_CONSUMER_LAG_MAX,   [DMP_IMPL_CNT_ATTACHES] = DMP_COUNTER_CONSUMER_ATTACHES,
  [DMP_IMPL_CNT_DETACHES] = DMP_COUNTER_CONSUMER_DETACHES, [DMP_IMPL_CNT_MISSED] = DMP_COUNTER_CONSUMER_MISSED,
};

/* Register a participant's records. A full region is recorded in the error
 * log (and in registrations_failed) and leaves those handles zeroed. */
/* Register the library's own records, waiting for the registry lock until
 * `deadline` in all (then at most one attempt each). */
static void register_lib(struct dmp_counters *s, const uint32_t *types, const char *label, int64_t deadline)
{
  for (int i = 0; i < DMP_IMPL_CNT_N; i++) {
    if (types[i] == 0)
      continue;
    int rc = dmp_impl_cnt_register(s, types[i], label, &s->lib[i], deadline);
    if (rc < 0) {
      dmp_impl_cnt_error(s, rc, "counters region full: '%s' has no %s counter", label, dmp_counter_type_name(types[i]));
      break;
    }
  }
}

int dmp_impl_counters_create(struct dmp_producer *p, bool enabled)
{
  char path[PATH_MAX];
  int rc = dmp_impl_cnt_path(p->ring.seg->path, path, sizeof path);
  if (rc < 0)
    return rc;
  if (!enabled) {
    (void)remove_stale(p->ring.seg->backend, p->ring.seg->dirfd, path); /* best effort: no stale counters */
    return 0;
  }
  struct dmp_counters *s = NULL;
  rc = create_segment(p, path, &s);
  if (rc < 0)
    return rc;
  register_lib(s, producer_types, PRODUCER_LABEL, dmp_impl_deadline(DMP_TABLE_WAIT_NS));
  p->counters = s;
  return 0;
}

void dmp_impl_counters_remove(struct dmp_producer *p)
{
  handle_close(p->counters);
  p->counters = NULL;
}

/* Open the ring's counters if they belong to this incarnation of the ring;
 * on a young ring, wait (bounded) for its producer to create them. */
static struct dmp_counters *join_counters(const struct dmp_consumer *c, const char *path, int64_t attach_deadline)
{
  const struct dmp_segment_header *h = &c->ring.ctl->header;
  int64_t deadline = dmp_impl_now_ns() + JOIN_WAIT_NS;
  if (deadline > attach_deadline)
    deadline = attach_deadline;
  for (;;) {
    struct dmp_counters *s = NULL;
    char why[512];
    bool allow_group = (c->cfg.flags & DMP_CONSUMER_ALLOW_GROUP) != 0;
    int rc = open_existing(c->ring.seg->backend, path, allow_group, &s, why, sizeof why);
    if (rc == 0 && s->hdr->ring_epoch == c->ring.seg->epoch) /* the epoch read once at attach */
      return s;
    handle_close(s);
    /* Unsigned: created_ns may be any value a hostile peer wrote (a future
     * one wraps around to "old"). */
    bool young = (uint64_t)dmp_impl_realtime_ns() - h->created_ns < (uint64_t)JOIN_WAIT_NS;
    bool transient = rc == 0 || rc == -ENOENT || rc == -DMP_E_NOTREADY;
    if (!young || !transient || dmp_impl_now_ns() > deadline)
      return NULL;
    dmp_impl_sleep_ns(1000000);
  }
}

void dmp_impl_counters_attach(struct dmp_consumer *c, int64_t deadline)
{
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s%s", c->ring.seg->path, DMP_COUNTERS_SUFFIX) >= (int)sizeof path)
    return;
  /* Best effort: never more than DMP_TABLE_WAIT_NS, whatever the attach's
   * own deadline (DMP_FOREVER included). */
  int64_t most = dmp_impl_deadline(DMP_TABLE_WAIT_NS);
  if (deadline > most)
    deadline = most;
  struct dmp_counters *s = join_counters(c, path, deadline);
  if (!s)
    return;
  register_lib(s, consumer_types, c->id, deadline);
  c->counters = s;
  dmp_impl_cnt_add(s, DMP_IMPL_CNT_ATTACHES, 1);
  if (c->missed) {
    dmp_impl_cnt_add(s, DMP_IMPL_CNT_MISSED, c->missed);
    dmp_impl_cnt_error(s, 0, "consumer '%s' resumed after events it had not read were overwritten", c->id);
  }
}

void dmp_impl_counters_detach(struct dmp_consumer *c)
{
  if (!c->counters)
    return;
  dmp_impl_cnt_add(c->counters, DMP_IMPL_CNT_DETACHES, 1);
  handle_close(c->counters);
  c->counters = NULL;
}

void dmp_impl_cnt_add(struct dmp_counters *s, enum dmp_impl_cnt which, uint64_t n)
{
  if (s && n)
    dmp_counter_add(s->lib[which], n);
}

void dmp_impl_cnt_max(struct dmp_counters *s, enum dmp_impl_cnt which, int64_t v)
{
  if (s && v > 0)
    dmp_counter_set_max(s->lib[which], (uint64_t)v);
}

void dmp_impl_cnt_scan(struct dmp_counters *s, int64_t last, bool full, int64_t lag)
{
  if (!s)
    return;
  if (full && last > s->full_seq) {
    s->full_seq = last;
    dmp_counter_inc(s->lib[DMP_IMPL_CNT_FULL]);
  }
  if (lag > 0)
    dmp_counter_set_max(s->lib[DMP_IMPL_CNT_LAG_MAX], (uint64_t)lag);
}

void dmp_impl_cnt_error(struct dmp_counters *s, int code, const char *fmt, ...)
{
  if (!s)
    return;
  char text[DMP_COUNTERS_TEXT_MAX + 1];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  /* Never waits: the callers are waits, liveness checks and closes that
   * promise their bounds (a locked registry drops the entry, counted). */
  (void)dmp_impl_cnt_error_now(s, code, text);
}
