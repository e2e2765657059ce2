/* Read-only inspection (inspect.h): a PROT_READ mapping of a ring's header,
 * control block and consumer table (never its slots), samples with kernel
 * liveness probes and the counters segment, listing of the rings of a
 * backend, and garbage collection of rings whose producer is dead. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct dmp_inspect {
  enum dmp_backend backend;
  uint32_t flags; /* DMP_INSPECT_* */
  int fd;
  const uint8_t *map;
  size_t map_len; /* header, control block, tables and markers: never the slots */
  struct dmp_impl_geometry geo;
  struct dmp_segment_header header; /* as validated at open: immutable */
  dev_t dev;
  ino_t ino;
  struct dmp_ring_stat stat;
  struct dmp_consumer_stat *consumers; /* max_consumers */
  int64_t *prev_pos;                   /* per entry: position at the previous sample */
  uint32_t *prev_gen;                  /* per entry: generation + 1 then (0 = none) */
  struct dmp_counter_stat *counters;
  uint32_t counters_cap;
  struct dmp_error_stat errors[DMP_COUNTERS_ERRORS];
  char counters_error[256];
  char path[PATH_MAX];
  char cnt_path[PATH_MAX];
};

/* Format into a bounded buffer (a function, so long paths truncate quietly). */
static void fmt_into(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fmt_into(char *buf, size_t len, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

/* Open read-only by the rules of access.c: no symlink, no world-writable
 * directory, and O_NONBLOCK so a FIFO planted under the name cannot hang us.
 * The fd, or a negative code with the reason in `why`. */
static int open_ro(enum dmp_backend backend, const char *path, char *why, size_t whylen)
{
  return dmp_impl_file_open_path(backend, path, O_RDONLY, why, whylen);
}

const char *dmp_peer_state_name(enum dmp_peer_state s)
{
  switch (s) {
  case DMP_PEER_ALIVE: return "alive";
  case DMP_PEER_STALLED: return "stalled";
  case DMP_PEER_DEAD: return "dead";
  case DMP_PEER_IDLE: return "idle";
  default: return "unknown";
  }
}

/* ---- open / close ---------------------------------------------------------- */

void dmp_inspect_close(struct dmp_inspect *in)
{
  if (!in)
    return;
  if (in->map)
    munmap((void *)(uintptr_t)in->map, in->map_len);
  if (in->fd >= 0)
    close(in->fd);
  free(in->consumers);
  free(in->prev_pos);
  free(in->prev_gen);
  free(in->counters);
  free(in);
}

/* Map the control block and the largest table a valid header can describe
 * (bounded by the file size), then validate with segment.c's rules. */
static int map_and_validate(struct dmp_inspect *in, const struct stat *st)
{
  uint64_t want = sizeof(struct dmp_segment_control) + (uint64_t)DMP_MAX_CONSUMERS * sizeof(struct dmp_consumer_entry);
  in->map_len = (size_t)((uint64_t)st->st_size < want ? (uint64_t)st->st_size : want);
  void *m = mmap(NULL, in->map_len, PROT_READ, MAP_SHARED, in->fd, 0);
  if (m == MAP_FAILED) {
    in->map = NULL;
    return DMP_FAIL(-errno, "mmap (read-only) of '%s' failed: %s", in->path, strerror(errno));
  }
  in->map = m;
  struct dmp_impl_segment *fake = calloc(1, sizeof *fake);
  if (!fake)
    return DMP_FAIL(-ENOMEM, "out of memory");
  fake->fd = in->fd;
  fake->dirfd = -1;
  fake->map = m;
  fake->map_len = (size_t)st->st_size; /* validate() reads the header only */
  fake->backend = in->backend;
  snprintf(fake->path, sizeof fake->path, "%s", in->path);
  int rc = dmp_impl_segment_validate(fake, &in->geo);
  free(fake);
  if (rc < 0)
    return rc;
  if (in->geo.table_offset + (uint64_t)in->geo.max_consumers * sizeof(struct dmp_consumer_entry) > in->map_len)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' is too small for its consumer table", in->path);
  memcpy(&in->header, m, sizeof in->header);
  if (in->geo.max_producers) {
    /* A multi-producer ring's position is read from its markers (after
     * the producer table; sample_ring()): map up to their end, still not
     * the slots. */
    uint64_t end = in->geo.marks_offset + in->geo.capacity * sizeof(int64_t);
    if (end > (uint64_t)st->st_size)
      return DMP_FAIL(-DMP_E_CORRUPT, "'%s' is too small for its publish markers", in->path);
    if (end > in->map_len) {
      munmap(m, in->map_len);
      in->map = NULL;
      m = mmap(NULL, (size_t)end, PROT_READ, MAP_SHARED, in->fd, 0);
      if (m == MAP_FAILED)
        return DMP_FAIL(-errno, "mmap (read-only) of '%s' failed: %s", in->path, strerror(errno));
      in->map = m;
      in->map_len = (size_t)end;
    }
  }
  return 0;
}

static int alloc_arrays(struct dmp_inspect *in)
{
  uint32_t n = in->geo.max_consumers;
  in->consumers = calloc(n, sizeof *in->consumers);
  in->prev_pos = calloc(n, sizeof *in->prev_pos);
  in->prev_gen = calloc(n, sizeof *in->prev_gen);
  return in->consumers && in->prev_pos && in->prev_gen ? 0 : DMP_FAIL(-ENOMEM, "out of memory");
}

int dmp_inspect_open_flags(enum dmp_backend backend, const char *name, uint32_t flags, struct dmp_inspect **out)
{
  if (out)
    *out = NULL;
  if (!name || !out)
    return DMP_FAIL(-EINVAL, "name or out is NULL");
  if (flags & ~(uint32_t)DMP_INSPECT_ALLOW_GROUP)
    return DMP_FAIL(-DMP_E_BADCONFIG, "unknown inspect flags 0x%x", flags & ~(uint32_t)DMP_INSPECT_ALLOW_GROUP);
  struct dmp_inspect *in = calloc(1, sizeof *in);
  if (!in)
    return DMP_FAIL(-ENOMEM, "out of memory");
  in->fd = -1;
  in->backend = backend;
  in->flags = flags;
  char why[512];
  int rc = dmp_impl_segment_path(backend, name, in->path, sizeof in->path);
  if (rc == 0)
    rc = dmp_impl_cnt_path(in->path, in->cnt_path, sizeof in->cnt_path);
  if (rc < 0)
    goto fail;
  in->fd = open_ro(backend, in->path, why, sizeof why);
  if (in->fd < 0) {
    rc = DMP_FAIL(in->fd, "read-only: %s", why);
    in->fd = -1;
    goto fail;
  }
  /* Read-only, but still another user's memory: the same rule as attach. */
  struct stat st;
  rc = dmp_impl_file_trust(in->fd, in->path, (flags & DMP_INSPECT_ALLOW_GROUP) != 0, &st, why, sizeof why);
  if (rc < 0) {
    rc = DMP_FAIL(rc, "%s", why);
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = DMP_FAIL(-DMP_E_BADNAME, "'%s' is not a regular file", in->path);
    goto fail;
  }
  if (st.st_size == 0) {
    rc = DMP_FAIL(-DMP_E_NOTREADY, "'%s' is empty (not initialised yet)", in->path);
    goto fail;
  }
  if ((uint64_t)st.st_size < sizeof(struct dmp_segment_control) || (uint64_t)st.st_size > DMP_MAX_SEGMENT_BYTES) {
    rc = DMP_FAIL(-DMP_E_CORRUPT, "'%s' has an impossible size of %lld bytes", in->path, (long long)st.st_size);
    goto fail;
  }
  in->dev = st.st_dev;
  in->ino = st.st_ino;
  if ((rc = map_and_validate(in, &st)) < 0 || (rc = alloc_arrays(in)) < 0)
    goto fail;
  *out = in;
  return 0;
fail:
  dmp_inspect_close(in);
  return rc;
}

int dmp_inspect_open(enum dmp_backend backend, const char *name, struct dmp_inspect **out)
{
  return dmp_inspect_open_flags(backend, name, 0, out);
}

/* ---- sampling --------------------------------------------------------------- */

static bool name_is_ours(const struct dmp_inspect *in)
{
  struct stat st;
  return dmp_impl_file_stat(in->backend, -1, in->path, &st) == 0 && st.st_dev == in->dev && st.st_ino == in->ino;
}

static enum dmp_peer_state judge(struct dmp_inspect *in, const struct dmp_consumer_stat *cs, bool held)
{
  if (cs->state == DMP_ENTRY_IDLE)
    return DMP_PEER_IDLE;
  if (!held)
    return DMP_PEER_DEAD;
  uint32_t i = cs->index;
  if (in->prev_gen[i] == cs->generation + 1u) /* seen before: did it move? */
    return cs->lag > 0 && in->prev_pos[i] == cs->position ? DMP_PEER_STALLED : DMP_PEER_ALIVE;
  return cs->gating && (uint64_t)cs->lag >= in->geo.capacity ? DMP_PEER_STALLED : DMP_PEER_ALIVE;
}

/* One table entry; false if it is FREE (or holds no valid state). */
static bool read_entry(struct dmp_inspect *in, uint32_t i, int64_t position, struct dmp_consumer_stat *cs)
{
  struct dmp_consumer_entry *e =
    (struct dmp_consumer_entry *)(uintptr_t)(in->map + in->geo.table_offset + (uint64_t)i * sizeof *e);
  /* The bytes of the entry (table.c; fuzzed by fuzz/fuzz_table.c). */
  if (!dmp_impl_entry_stat(e, i, position, cs))
    return false;
  uint32_t st = (uint32_t)cs->state;
  bool held = st == DMP_ENTRY_ACTIVE && dmp_impl_lock_held(in->fd, DMP_LOCK_CONSUMER0 + (off_t)i) == 1;
  /* A detach between the state load and the probe drops the lock after
   * storing IDLE: re-read the state so a clean detach is not called dead. */
  uint32_t again = dmp_impl_load_acquire(&e->state); /* I1: pairs with T1 */
  if (again != st) {
    if (again != DMP_ENTRY_ACTIVE && again != DMP_ENTRY_IDLE)
      return false;
    st = again;
    held = st == DMP_ENTRY_ACTIVE && dmp_impl_lock_held(in->fd, DMP_LOCK_CONSUMER0 + (off_t)i) == 1;
    dmp_impl_entry_stat_state(cs, st, position);
  }
  cs->liveness = judge(in, cs, held);
  in->prev_pos[i] = cs->position;
  in->prev_gen[i] = cs->generation + 1u;
  return true;
}

static void sample_table(struct dmp_inspect *in, struct dmp_ring_stat *s)
{
  const struct dmp_segment_control *ctl = (const struct dmp_segment_control *)(const void *)in->map;
  /* I2: acquire load; pairs with T3, so the entries below it are set up. */
  uint32_t hwm = dmp_impl_load_acquire((dmp_atomic_u32 *)(uintptr_t)&ctl->table_hwm);
  uint32_t span = hwm < in->geo.max_consumers ? hwm : in->geo.max_consumers;
  s->n_consumers = 0;
  s->min_gating = s->position;
  for (uint32_t i = 0; i < span; i++) {
    struct dmp_consumer_stat *cs = &in->consumers[s->n_consumers];
    if (!read_entry(in, i, s->position, cs)) {
      in->prev_gen[i] = 0;
      continue;
    }
    if (cs->gating && cs->position < s->min_gating)
      s->min_gating = cs->position < -1 ? -1 : cs->position;
    s->n_consumers++;
  }
  /* Unsigned: a hostile producer cursor must not overflow the difference. */
  s->full = s->position > s->min_gating && (uint64_t)s->position - (uint64_t)s->min_gating >= in->geo.capacity;
  s->consumers = in->consumers;
}

static void sample_ring(struct dmp_inspect *in, struct dmp_ring_stat *s)
{
  const struct dmp_segment_header *h = &in->header;
  s->backend = in->backend;
  s->name = in->path;
  s->epoch = h->epoch;
  s->created_ns = h->created_ns;
  s->capacity = h->capacity;
  s->slot_size = h->slot_size;
  s->slot_align = h->slot_align;
  s->max_consumers = h->max_consumers;
  s->flags = h->flags;
  s->type_tag = h->type_tag;
  s->total_size = h->total_size;
  s->owner_pid = h->owner_pid;
  s->sampled_ns = dmp_impl_now_ns();
  s->removed = !name_is_ours(in);
  s->producer_alive = dmp_impl_lock_held(in->fd, DMP_LOCK_PRODUCER) == 1;
  const struct dmp_segment_control *ctl = (const struct dmp_segment_control *)(const void *)in->map;
  /* I3: acquire load of the producer cursor; pairs with P1. A
   * multi-producer ring's cursor is a lower bound its producers move
   * lazily: its position is the published frontier its markers show
   * (read-only scan from the cursor, at most a ring; multi.c). */
  if (in->geo.max_producers)
    s->position = dmp_impl_mp_frontier_of(ctl, (const dmp_atomic_i64 *)(const void *)(in->map + in->geo.marks_offset),
                                          in->geo.capacity, -1);
  else
    s->position = dmp_impl_load_acquire((dmp_atomic_i64 *)(uintptr_t)&ctl->producer_cursor);
  s->published = s->position >= -1 ? (uint64_t)s->position + 1 : 0; /* no overflow at INT64_MAX */
  s->max_producers = in->geo.max_producers;
  s->producers_alive = 0;
  if (in->geo.max_producers) {
    /* Relaxed: statistics (the claim counter acquires nothing for us). */
    s->claimed = dmp_impl_load_relaxed((dmp_atomic_i64 *)(uintptr_t)&ctl->mp_claim) - 1;
    s->tombstones = dmp_impl_load_relaxed((dmp_atomic_u64 *)(uintptr_t)&ctl->mp_tombstones);
    for (uint32_t k = 0; k < in->geo.max_producers; k++)
      s->producers_alive += dmp_impl_lock_held(in->fd, DMP_LOCK_PRODUCER0 + (off_t)k) == 1;
  } else {
    s->claimed = s->position;
    s->tombstones = 0;
  }
  sample_table(in, s);
}

/* ---- the counters segment --------------------------------------------------- */

static int counters_fail(struct dmp_inspect *in, struct dmp_ring_stat *s, int rc, const char *why)
{
  fmt_into(in->counters_error, sizeof in->counters_error, "%s", why);
  s->counters_rc = rc;
  return rc;
}

static int copy_counters(struct dmp_inspect *in, struct dmp_ring_stat *s, int fd, const uint8_t *map,
                         const struct dmp_impl_cnt_geometry *g)
{
  struct dmp_counters_header *h = (struct dmp_counters_header *)(uintptr_t)map;
  s->counters_stale = h->ring_epoch != in->header.epoch;
  s->counters_pid = h->owner_pid;
  s->counters_created_ns = h->created_ns;
  s->counters_capacity = g->record_count;
  s->counters_owner_alive = dmp_impl_lock_held(fd, DMP_CNT_LOCK_OWNER) == 1;
  s->errors_dropped = dmp_impl_load_relaxed(&h->errors_dropped); /* tallies: relaxed */
  s->registrations_failed = dmp_impl_load_relaxed(&h->registrations_failed);
  if (in->counters_cap < g->record_count) {
    struct dmp_counter_stat *more = realloc(in->counters, g->record_count * sizeof *more);
    if (!more)
      return counters_fail(in, s, -ENOMEM, "out of memory");
    in->counters = more;
    in->counters_cap = g->record_count;
  }
  const struct dmp_counter_record *rec = (const void *)(map + g->records_offset);
  for (uint32_t i = 0; i < g->record_count; i++) {
    struct dmp_counter_stat *cs = &in->counters[s->n_counters];
    if (!dmp_impl_cnt_record_read(&rec[i], cs))
      continue;
    cs->index = i;
    cs->owner_alive = dmp_impl_lock_held(fd, DMP_CNT_LOCK_RECORD0 + (off_t)i) == 1;
    s->n_counters++;
  }
  const struct dmp_error_record *err = (const void *)(map + g->errors_offset);
  for (uint32_t i = 0; i < g->error_count && i < DMP_COUNTERS_ERRORS; i++)
    if (dmp_impl_cnt_error_read(&err[i], &in->errors[s->n_errors]))
      s->n_errors++;
  return 0;
}

static void sample_counters(struct dmp_inspect *in, struct dmp_ring_stat *s)
{
  char why[512] = "";
  in->counters_error[0] = '\0';
  s->counters_error = in->counters_error;
  s->counters = in->counters;
  s->errors = in->errors;
  s->n_counters = s->n_errors = 0;
  s->counters_rc = 0;
  int fd = open_ro(in->backend, in->cnt_path, why, sizeof why);
  if (fd < 0) {
    counters_fail(in, s, fd, fd == -ENOENT ? "" : why);
    return;
  }
  struct stat st;
  struct dmp_impl_cnt_geometry g, gmax;
  dmp_impl_cnt_geometry(DMP_MAX_CONSUMERS, &gmax);
  int rc = dmp_impl_file_trust(fd, in->cnt_path, (in->flags & DMP_INSPECT_ALLOW_GROUP) != 0, &st, why, sizeof why);
  if (rc < 0) {
    counters_fail(in, s, rc, why);
    close(fd);
    return;
  }
  if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof(struct dmp_counters_header) ||
      (uint64_t)st.st_size > gmax.total_size) {
    fmt_into(why, sizeof why, "'%s' is not a counters segment (type or size)", in->cnt_path);
    counters_fail(in, s, -DMP_E_CORRUPT, why);
    close(fd);
    return;
  }
  size_t len = (size_t)st.st_size;
  void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    int e = errno;
    fmt_into(why, sizeof why, "mmap of '%s' failed: %s", in->cnt_path, strerror(e));
    counters_fail(in, s, -e, why);
  } else {
    int rc = dmp_impl_cnt_validate(m, len, in->cnt_path, &g, why, sizeof why);
    if (rc < 0)
      counters_fail(in, s, rc, why);
    else
      copy_counters(in, s, fd, m, &g);
    munmap(m, len);
  }
  close(fd);
  s->counters = in->counters; /* copy_counters may have moved it */
}

int dmp_inspect_sample(struct dmp_inspect *in, const struct dmp_ring_stat **out)
{
  if (!in || !out)
    return DMP_FAIL(-EINVAL, "inspector or out is NULL");
  *out = NULL;
  struct stat st;
  if (fstat(in->fd, &st) != 0)
    return DMP_FAIL(-errno, "fstat '%s': %s", in->path, strerror(errno));
  /* Checked before every read of the mapping: the file still covers it. */
  if ((uint64_t)st.st_size < in->geo.total_size)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' shrank to %lld bytes while inspected (its header says %llu)", in->path,
                    (long long)st.st_size, (unsigned long long)in->geo.total_size);
  if (memcmp(in->map, &in->header, sizeof in->header) != 0)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' header changed while inspected (overwritten?)", in->path);
  struct dmp_ring_stat *s = &in->stat;
  sample_ring(in, s);
  sample_counters(in, s);
  *out = s;
  return 0;
}

/* ---- listing ------------------------------------------------------------------ */

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the directory's entry names, sorted. */
static int read_names(const char *dir, char ***names, size_t *n)
{
  DIR *d = opendir(dir);
  if (!d)
    return DMP_FAIL(-errno, "cannot list '%s': %s", dir, strerror(errno));
  size_t cap = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
      continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 64;
      char **more = realloc(*names, cap * sizeof *more);
      if (!more) {
        rc = DMP_FAIL(-ENOMEM, "out of memory");
        break;
      }
      *names = more;
    }
    if (((*names)[*n] = strdup(e->d_name)) == NULL) {
      rc = DMP_FAIL(-ENOMEM, "out of memory");
      break;
    }
    (*n)++;
  }
  closedir(d);
  if (*n > 1)
    qsort(*names, *n, sizeof **names, cmp_names);
  return rc;
}

/* The magic of a regular file, 0 if it is not one or is shorter. */
static uint64_t file_magic(const char *fs_path)
{
  int fd = open(fs_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0)
    return 0;
  struct stat st;
  uint64_t magic = 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || pread(fd, &magic, sizeof magic, 0) != (ssize_t)sizeof magic)
    magic = 0;
  close(fd);
  return magic;
}

/* Report one directory entry; returns the callback's value (nonzero stops). */
static int report(enum dmp_backend backend, const char *dir, const char *entry, dmp_inspect_fn fn, void *user,
                  int *count)
{
  char fs_path[PATH_MAX], name[PATH_MAX];
  if (strlen(dir) + strlen(entry) + 2 > sizeof fs_path)
    return 0;
  fmt_into(fs_path, sizeof fs_path, "%s/%s", dir, entry);
  uint64_t magic = file_magic(fs_path);
  const char *as = backend == DMP_BACKEND_SHM ? entry : fs_path;
  fmt_into(name, sizeof name, "%s%s", backend == DMP_BACKEND_SHM ? "/" : "", as);
  if (magic == DMP_MAGIC) {
    (*count)++;
    return fn(backend, name, DMP_SEGMENT_RING, user);
  }
  size_t len = strlen(name), sl = strlen(DMP_COUNTERS_SUFFIX);
  if (magic != DMP_COUNTERS_MAGIC || len <= sl || strcmp(name + len - sl, DMP_COUNTERS_SUFFIX) != 0)
    return 0;
  name[len - sl] = '\0'; /* the ring's name */
  fs_path[strlen(fs_path) - sl] = '\0';
  if (access(fs_path, F_OK) == 0)
    return 0; /* its ring exists: reported with the ring */
  (*count)++;
  return fn(backend, name, DMP_SEGMENT_COUNTERS, user);
}

int dmp_inspect_list(enum dmp_backend backend, const char *dir, dmp_inspect_fn fn, void *user)
{
  if (!fn || (backend == DMP_BACKEND_MMAP && !dir))
    return DMP_FAIL(-EINVAL, "fn is NULL, or no directory for the mmap backend");
  if (backend == DMP_BACKEND_SHM && !dir)
    dir = "/dev/shm";
  char **names = NULL;
  size_t n = 0;
  int rc = read_names(dir, &names, &n);
  int count = 0;
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (report(backend, dir, names[i], fn, user, &count) != 0)
      break;
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return rc < 0 ? rc : count;
}

/* ---- garbage collection ------------------------------------------------------ */

/* Remove `path` if the name still refers to the file open as `st`. */
static bool unlink_same(enum dmp_backend backend, const char *path, const struct stat *st)
{
  struct stat now;
  bool same = dmp_impl_file_stat(backend, -1, path, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev;
  return same && dmp_impl_file_unlink(backend, -1, path) == 0;
}

/* A producer creates its counters exclusively, then locks and sizes them:
 * an empty file younger than this may be one in that instant. */
#define CREATE_GRACE_NS INT64_C(2000000000)

static bool young(const struct stat *st)
{
  int64_t ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  return dmp_impl_realtime_ns() - ctime_ns < CREATE_GRACE_NS;
}

/* Remove the counters segment at `path` unless a live producer owns it or
 * it is not a counters segment. 1 removed, 0 left alone, -errno. */
static int counters_gc(enum dmp_backend backend, const char *path)
{
  char why[512];
  int fd = open_ro(backend, path, why, sizeof why);
  if (fd < 0)
    return fd;
  struct stat st;
  uint64_t magic = 0;
  /* As for the ring (liveness.c, stale_open): only its owner removes it. */
  int trust = dmp_impl_file_trust(fd, path, false, &st, why, sizeof why);
  if (trust < 0) {
    close(fd);
    return trust;
  }
  bool ours = S_ISREG(st.st_mode) &&
              (st.st_size == 0 ? !young(&st) /* a creation cut short, not one in progress */
                               : pread(fd, &magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
                                   magic == DMP_COUNTERS_MAGIC);
  /* Its producer holds the owner lock while alive. Probe it, do not take it
   * (as segment.c's reclaim): nobody locks an existing counters file, a new
   * producer makes a fresh one, so a free lock stays free. */
  int rc = ours && dmp_impl_lock_held(fd, DMP_CNT_LOCK_OWNER) == 0 && unlink_same(backend, path, &st) ? 1 : 0;
  close(fd);
  return rc;
}

int dmp_ring_gc(enum dmp_backend backend, const char *name)
{
  if (!name)
    return DMP_FAIL(-EINVAL, "name is NULL");
  char ring[PATH_MAX], cnt[PATH_MAX];
  int rc = dmp_impl_segment_path(backend, name, ring, sizeof ring);
  if (rc == 0)
    rc = dmp_impl_cnt_path(ring, cnt, sizeof cnt);
  if (rc < 0)
    return rc;
  int r = dmp_impl_ring_remove_stale(backend, name);
  if (r == 0 || (r < 0 && r != -ENOENT))
    return r; /* a live ring (or one being created), or an error */
  int c = counters_gc(backend, cnt);
  if (c < 0 && c != -ENOENT)
    return DMP_FAIL(c, "counters '%s': %s", cnt, dmp_strerror(c));
  if (r == 1 || c == 1)
    return 1;
  if (c == 0)
    return 0;
  return DMP_FAIL(-ENOENT, "neither '%s' nor '%s' exists", ring, cnt);
}
