/* Segments: geometry, exclusive creation with stale reclaim, validated
 * attach, OFD liveness locks. The byte layout is documented in layout.h. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* A not-ready segment younger than this may still be being initialised by
 * a live creator; older ones are stale leftovers of a crash during create. */
#define CREATE_GRACE_NS INT64_C(2000000000)

static bool is_pow2(uint64_t x)
{
  return x != 0 && (x & (x - 1)) == 0;
}

static uint64_t round_up(uint64_t x, uint64_t a)
{
  return (x + a - 1) & ~(a - 1);
}

int dmp_impl_geometry_compute(const char *of, uint64_t capacity, uint32_t slot_size, uint32_t slot_align,
                              uint32_t max_consumers, struct dmp_impl_geometry *g)
{
  if (!is_pow2(capacity))
    return DMP_FAIL(-DMP_E_BADCONFIG, "%scapacity %llu is not a power of two >= 1", of, (unsigned long long)capacity);
  if (slot_size == 0 || slot_size > DMP_MAX_SLOT_SIZE)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%sslot_size %u is not in 1..%u", of, slot_size, DMP_MAX_SLOT_SIZE);
  if (!is_pow2(slot_align) || slot_align > DMP_MAX_SLOT_ALIGN)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%sslot_align %u is not a power of two <= %u", of, slot_align,
                    DMP_MAX_SLOT_ALIGN);
  if (max_consumers == 0 || max_consumers > DMP_MAX_CONSUMERS)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%smax_consumers %u is not in 1..%u", of, max_consumers, DMP_MAX_CONSUMERS);
  g->capacity = capacity;
  g->slot_size = slot_size;
  g->slot_align = slot_align;
  g->slot_stride = (uint32_t)round_up(slot_size, slot_align);
  g->max_consumers = max_consumers;
  g->table_offset = sizeof(struct dmp_segment_control);
  uint64_t table_end = g->table_offset + (uint64_t)max_consumers * sizeof(struct dmp_consumer_entry);
  g->slots_offset = round_up(table_end, slot_align > DMP_CACHE_LINE ? slot_align : DMP_CACHE_LINE);
  /* capacity and stride are each < 2^31 here only if the product fits;
   * check against the segment cap before multiplying into the total. */
  if (capacity > DMP_MAX_SEGMENT_BYTES / g->slot_stride)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%scapacity %llu x stride %u exceeds the %llu-byte segment limit", of,
                    (unsigned long long)capacity, g->slot_stride, (unsigned long long)DMP_MAX_SEGMENT_BYTES);
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  g->total_size = round_up(g->slots_offset + capacity * g->slot_stride, page);
  if (g->total_size > DMP_MAX_SEGMENT_BYTES)
    return DMP_FAIL(-DMP_E_BADCONFIG, "segment of %llu bytes exceeds the %llu-byte limit",
                    (unsigned long long)g->total_size, (unsigned long long)DMP_MAX_SEGMENT_BYTES);
  g->max_producers = 0;
  g->ptable_offset = 0;
  g->marks_offset = 0;
  g->bytes = false;
  return 0;
}

int dmp_impl_geometry_mp(const char *of, uint32_t max_producers, struct dmp_impl_geometry *g)
{
  if (max_producers == 0 || max_producers > DMP_MAX_PRODUCERS)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%smax_producers %u is not in 1..%u", of, max_producers, DMP_MAX_PRODUCERS);
  /* Every term is bounded (tables <= 1024 x 128 B, capacity checked above
   * against the segment cap), so nothing here overflows. */
  g->max_producers = max_producers;
  g->ptable_offset = g->table_offset + (uint64_t)g->max_consumers * sizeof(struct dmp_consumer_entry);
  g->marks_offset = g->ptable_offset + (uint64_t)max_producers * sizeof(struct dmp_producer_entry);
  uint64_t marks_end = g->marks_offset + g->capacity * sizeof(dmp_atomic_i64);
  g->slots_offset = round_up(marks_end, g->slot_align > DMP_CACHE_LINE ? g->slot_align : DMP_CACHE_LINE);
  if (g->capacity > (DMP_MAX_SEGMENT_BYTES - g->slots_offset) / g->slot_stride)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%scapacity %llu x stride %u exceeds the %llu-byte segment limit", of,
                    (unsigned long long)g->capacity, g->slot_stride, (unsigned long long)DMP_MAX_SEGMENT_BYTES);
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  g->total_size = round_up(g->slots_offset + g->capacity * g->slot_stride, page);
  if (g->total_size > DMP_MAX_SEGMENT_BYTES)
    return DMP_FAIL(-DMP_E_BADCONFIG, "segment of %llu bytes exceeds the %llu-byte limit",
                    (unsigned long long)g->total_size, (unsigned long long)DMP_MAX_SEGMENT_BYTES);
  return 0;
}

uint64_t dmp_impl_fnv1a64(const void *data, size_t len)
{
  const uint8_t *p = data;
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * UINT64_C(0x100000001b3);
  return h;
}

static uint64_t header_fingerprint(const struct dmp_segment_header *h)
{
  return dmp_impl_fnv1a64(h, offsetof(struct dmp_segment_header, fingerprint));
}

int dmp_impl_segment_path(enum dmp_backend backend, const char *name, char *out, size_t outlen)
{
  if (!name)
    return DMP_FAIL(-DMP_E_BADNAME, "name is NULL");
  if (backend == DMP_BACKEND_SHM) {
    int rc = dmp_name_validate(name);
    if (rc < 0)
      return rc == -EINVAL ? -DMP_E_BADNAME : rc;
    snprintf(out, outlen, "/%s", name[0] == '/' ? name + 1 : name);
    return 0;
  }
  if (backend != DMP_BACKEND_MMAP)
    return DMP_FAIL(-DMP_E_BADCONFIG, "backend %d is neither SHM nor MMAP", (int)backend);
  size_t len = strnlen(name, outlen);
  if (len == 0)
    return DMP_FAIL(-DMP_E_BADNAME, "file path is empty");
  if (len >= outlen)
    return DMP_FAIL(-DMP_E_BADNAME, "file path is longer than %zu bytes", outlen - 1);
  if (name[len - 1] == '/')
    return DMP_FAIL(-DMP_E_BADNAME, "file path '%s' names a directory", name);
  memcpy(out, name, len + 1);
  return 0;
}

/* ---- OFD locks ---------------------------------------------------------- */

static struct flock lock_at(short type, off_t at)
{
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = at;
  fl.l_len = 1;
  return fl;
}

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>

/* ThreadSanitizer does not model fcntl locks, so two handles of one ring in
 * one process (tests/threaded) would look unsynchronised where an OFD lock
 * orders them (the table lock, the counters registry). Tell it: the lock
 * byte `at` of file (dev, ino) is a mutex whose release happens before its
 * next acquire. Keys are slots of a small array (a collision only adds an
 * ordering TSan then assumes). A lock dropped by close() instead of an
 * explicit unlock gives no release: at worst a report, never a missed race
 * of the code under the lock. TSan builds only. */
static char tsan_lock_keys[4096];

static void *tsan_lock_key(int fd, off_t at)
{
  struct stat st;
  if (fstat(fd, &st) != 0)
    return NULL;
  uint64_t h = ((uint64_t)st.st_dev * UINT64_C(0x9e3779b97f4a7c15)) ^ ((uint64_t)st.st_ino * UINT64_C(0xbf58476d1ce4e5b9)) ^
               ((uint64_t)at * UINT64_C(0x94d049bb133111eb));
  return &tsan_lock_keys[(h >> 32) % sizeof tsan_lock_keys];
}

void dmp_impl_tsan_lock(int fd, off_t at, bool acquired)
{
  void *key = tsan_lock_key(fd, at);
  if (key && acquired)
    __tsan_acquire(key);
  else if (key)
    __tsan_release(key);
}
#else
void dmp_impl_tsan_lock(int fd, off_t at, bool acquired)
{
  (void)fd;
  (void)at;
  (void)acquired;
}
#endif

int dmp_impl_lock_try(int fd, off_t at)
{
  struct flock fl = lock_at(F_WRLCK, at);
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
    dmp_impl_tsan_lock(fd, at, true);
    return 0;
  }
  return (errno == EAGAIN || errno == EACCES) ? -EAGAIN : -errno;
}

int dmp_impl_lock_shared(int fd, off_t at)
{
  struct flock fl = lock_at(F_RDLCK, at);
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
    return 0;
  return (errno == EAGAIN || errno == EACCES) ? -EAGAIN : -errno;
}

void dmp_impl_lock_release(int fd, off_t at)
{
  dmp_impl_tsan_lock(fd, at, false); /* before the unlock: it must precede the next acquire */
  struct flock fl = lock_at(F_UNLCK, at);
  (void)fcntl(fd, F_OFD_SETLK, &fl);
}

int dmp_impl_lock_held(int fd, off_t at)
{
  struct flock fl = lock_at(F_WRLCK, at);
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
    return -errno;
  return fl.l_type != F_UNLCK;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev;
}

/* One owner per name. Checking that the name still refers to the stale
 * file and then unlinking it are two steps: two removers that both checked
 * could otherwise each unlink "the stale file", the second one removing the
 * ring the first has created in its place meanwhile (issue 15: both
 * creators then succeed, one of them unreachable). So every remover of a
 * ring name takes the file's DMP_LOCK_RECLAIM (without waiting) before the
 * check and keeps it over the unlink. The name can then change only by an
 * unlink of this very file, which needs this lock, or by our own unlink: a
 * creator's O_EXCL fails while the name exists. Another remover at work is
 * not waited for: it removes the name, and our caller just tries again.
 *
 * A fresh descriptor, opened for writing (an OFD write lock needs one), is
 * checked against `st` first: it is only the same file if the name has not
 * changed since the caller looked; holding it also keeps the inode, so its
 * number cannot be reused by a new file while we compare. The reclaim lock
 * is a byte of its own, so a consumer probing the producer lock at that
 * instant still sees the dead ring as dead. */
int dmp_impl_segment_unlink_same(enum dmp_backend backend, int dirfd, const char *path, const struct stat *st)
{
  char why[512];
  int fd = dmp_impl_file_open(backend, dirfd, path, O_RDWR, 0, why, sizeof why);
  if (fd < 0)
    return fd == -ENOENT ? 0 : fd;
  struct stat mine, named;
  int rc = fstat(fd, &mine) == 0 ? 0 : -errno;
  if (rc == 0 && same_file(&mine, st)) {
    rc = dmp_impl_lock_try(fd, DMP_LOCK_RECLAIM);
    if (rc == 0 && dmp_impl_file_stat(backend, dirfd, path, &named) == 0 && same_file(&named, st)) {
      rc = dmp_impl_file_unlink(backend, dirfd, path);
      rc = rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
    } else if (rc == 0 || rc == -EAGAIN) {
      rc = 0; /* replaced meanwhile, or another remover holds the lock */
    }
  }
  close(fd); /* drops the reclaim lock, after the unlink */
  return rc;
}

/* ---- open / create ------------------------------------------------------ */

/* What the user calls the object in a message: a shm "segment" or an mmap
 * "file" (dmp_object_noun() is the backend's name, "shm" / "mmap"). */
static const char *object_noun(enum dmp_backend b)
{
  return b == DMP_BACKEND_SHM ? "segment" : "file";
}

/* An existing segment at `path` blocks our exclusive create. Decide whether
 * it is stale (its producer is dead) and if so remove it. 0 = removed, try
 * again; -DMP_E_INUSE = a live producer owns it; -EACCES = not ours to
 * touch (config.h, "Permissions"); -errno otherwise. */
static int reclaim_stale(enum dmp_backend backend, int dirfd, const char *path)
{
  char why[512];
  int fd = dmp_impl_file_open(backend, dirfd, path, O_RDWR, 0, why, sizeof why);
  if (fd < 0)
    return fd == -ENOENT ? 0 : DMP_FAIL(fd, "%s exists but cannot be reclaimed: %s", object_noun(backend), why);
  /* Another user's segment is never ours to judge or remove, dead or not. */
  struct stat st;
  int rc = dmp_impl_file_trust(fd, path, false, &st, why, sizeof why);
  if (rc < 0) {
    close(fd);
    return DMP_FAIL(rc, "%s exists: %s", object_noun(backend), why);
  }
  /* Probe the producer lock, do not take it: a reclaimer holding it would
   * look like a live producer to a consumer attaching at that instant, which
   * would then join a ring about to be unlinked. Nobody takes the producer
   * lock of an existing file (a creator locks only the file it has just
   * created), so once free it stays free: the owner is dead for good. */
  rc = dmp_impl_lock_held(fd, DMP_LOCK_PRODUCER);
  if (rc != 0) {
    close(fd);
    return rc == 1 ? DMP_FAIL(-DMP_E_INUSE, "%s '%s' is owned by a live producer", object_noun(backend), path)
                   : DMP_FAIL(rc, "lock probe on '%s' failed: %s", path, strerror(-rc));
  }
  /* One still initialising (between its exclusive open and its lock) has a
   * very young, not-ready file: leave that one alone. */
  bool young = false;
  if ((size_t)st.st_size < sizeof(struct dmp_segment_control)) {
    int64_t age = dmp_impl_realtime_ns() - ((int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
    young = age < CREATE_GRACE_NS;
  }
  if (!young) {
    rc = dmp_impl_segment_unlink_same(backend, dirfd, path, &st);
    if (rc < 0) {
      close(fd);
      return DMP_FAIL(rc, "cannot remove stale %s '%s': %s", object_noun(backend), path, strerror(-rc));
    }
  }
  close(fd);
  return young ? DMP_FAIL(-DMP_E_INUSE, "%s '%s' is being created by another process", object_noun(backend), path)
               : 0;
}

static int create_exclusive(const struct dmp_producer_config *cfg, int dirfd, const char *path)
{
  char why[512];
  for (int attempt = 0; attempt < 4; attempt++) {
    int fd = dmp_impl_file_open(cfg->backend, dirfd, path, O_RDWR | O_CREAT | O_EXCL, (mode_t)cfg->mode, why,
                                sizeof why);
    if (fd >= 0)
      return fd;
    if (fd != -EEXIST)
      return DMP_FAIL(fd, "%s", why);
    if (cfg->flags & DMP_RING_NO_RECLAIM)
      return DMP_FAIL(-DMP_E_INUSE, "%s '%s' exists (DMP_RING_NO_RECLAIM)", object_noun(cfg->backend), path);
    int rc = reclaim_stale(cfg->backend, dirfd, path);
    if (rc < 0)
      return rc;
  }
  return DMP_FAIL(-DMP_E_INUSE, "%s '%s' keeps reappearing; another producer is racing for it",
                  object_noun(cfg->backend), path);
}

static void header_init(struct dmp_segment_control *ctl, const struct dmp_producer_config *cfg,
                        const struct dmp_impl_geometry *g)
{
  struct dmp_segment_header *h = &ctl->header;
  h->magic = DMP_MAGIC;
  h->layout_version = DMP_LAYOUT_VERSION;
  h->header_size = sizeof *h;
  h->total_size = g->total_size;
  h->capacity = g->capacity;
  h->slot_size = g->slot_size;
  h->slot_align = g->slot_align;
  h->slot_stride = g->slot_stride;
  h->max_consumers = g->max_consumers;
  h->table_offset = g->table_offset;
  h->slots_offset = g->slots_offset;
  h->type_tag = cfg->type_tag;
  uint64_t epoch = 0;
  if (getrandom(&epoch, sizeof epoch, GRND_NONBLOCK) != (ssize_t)sizeof epoch)
    epoch = (uint64_t)dmp_impl_now_ns() ^ ((uint64_t)getpid() << 32);
  h->epoch = epoch;
  h->created_ns = (uint64_t)dmp_impl_realtime_ns();
  h->owner_pid = (int32_t)getpid();
  h->flags = dmp_impl_wake_seg_flags(cfg->flags); /* wake-up protocol (wait.c) */
  if (g->max_producers)
    h->flags |= DMP_SEG_F_MULTI_PRODUCER | DMP_SEG_F_MP_BIASED; /* biased claims (multi.c) */
  if (g->bytes)
    h->flags |= DMP_SEG_F_BYTES;
  h->max_producers = g->max_producers;
  h->fingerprint = header_fingerprint(h);
  /* Relaxed, both: published by R1 below; nobody reads them before R2. */
  dmp_impl_store_relaxed(&ctl->producer_cursor, -1);
  /* The window the producer may fill before it first scans the table. */
  dmp_impl_store_relaxed(&ctl->gate_limit, (int64_t)g->capacity - 1);
  /* R1: release store of the ready marker, after every other field; pairs
   * with R2 in dmp_impl_segment_validate(). */
  dmp_impl_store_release(&h->ready, DMP_READY);
}

static int map_segment(struct dmp_impl_segment *seg, size_t len)
{
  void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, seg->fd, 0);
  if (m == MAP_FAILED)
    return DMP_FAIL(-errno, "mmap of %zu bytes of '%s' failed: %s", len, seg->path, strerror(errno));
  seg->map = m;
  seg->map_len = len;
  return 0;
}

int dmp_impl_segment_prefault(struct dmp_impl_segment *seg, bool write)
{
  /* MADV_POPULATE_* (Linux 5.14) fills the page tables in one call and
   * reports failures; on an older kernel (EINVAL) read one byte per page,
   * which maps every page for reading. */
  if (madvise(seg->map, seg->map_len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
    return 0;
  if (errno != EINVAL)
    return DMP_FAIL(-errno, "prefaulting %zu bytes of '%s' failed: %s", seg->map_len, seg->path, strerror(errno));
  long page = sysconf(_SC_PAGESIZE);
  size_t step = page > 0 ? (size_t)page : 4096;
  const volatile uint8_t *m = seg->map;
  for (size_t at = 0; at < seg->map_len; at += step)
    (void)m[at];
  return 0;
}

static struct dmp_impl_segment *segment_new(enum dmp_backend backend, const char *path)
{
  struct dmp_impl_segment *seg = calloc(1, sizeof *seg);
  if (!seg)
    return NULL;
  seg->fd = -1;
  seg->dirfd = -1;
  seg->backend = backend;
  snprintf(seg->path, sizeof seg->path, "%s", path);
  return seg;
}

int dmp_impl_segment_create(const struct dmp_producer_config *cfg, const struct dmp_impl_geometry *g,
                            struct dmp_impl_segment **out)
{
  char path[PATH_MAX];
  int rc = dmp_impl_segment_path(cfg->backend, cfg->name, path, sizeof path);
  if (rc < 0)
    return rc;
  struct dmp_impl_segment *seg = segment_new(cfg->backend, path);
  if (!seg)
    return DMP_FAIL(-ENOMEM, "out of memory");
  seg->geo = *g;
  seg->keep = (cfg->flags & DMP_RING_KEEP) != 0;
  char why[512];
  rc = dmp_impl_dir_open(cfg->backend, path, &seg->dirfd, why, sizeof why);
  if (rc < 0) {
    free(seg);
    return DMP_FAIL(rc, "%s", why);
  }
  seg->fd = create_exclusive(cfg, seg->dirfd, path);
  if (seg->fd < 0) {
    rc = seg->fd;
    seg->fd = -1;
    dmp_impl_segment_close(seg);
    return rc;
  }
  seg->owner = true;
  /* Access first, before the name is worth attaching to: a failure (not a
   * member of the group) unlinks the file on the way out. */
  rc = dmp_impl_file_share(seg->fd, path, cfg->mode, (cfg->flags & DMP_RING_SHARE_GROUP) != 0, cfg->share_gid, why,
                           sizeof why);
  if (rc < 0) {
    rc = DMP_FAIL(rc, "%s", why);
    goto fail;
  }
  rc = dmp_impl_lock_try(seg->fd, DMP_LOCK_PRODUCER);
  struct stat mine, named;
  if (rc == 0 && (fstat(seg->fd, &mine) != 0 || dmp_impl_file_stat(cfg->backend, seg->dirfd, path, &named) != 0 ||
                  !same_file(&mine, &named)))
    rc = -ESTALE;
  if (rc < 0) {
    /* Someone took our brand-new file for stale (a process without the
     * reclaim lock, e.g. an older library, or a person): the name is no
     * longer ours, and we must not unlink what it leads to now. From here
     * on nobody else removes it: our producer lock marks it live. */
    rc = DMP_FAIL(-DMP_E_INUSE, "lost the race for '%s' to another producer", path);
    seg->owner = false;
    goto fail;
  }
  /* posix_fallocate reserves the pages now, so a too-small /dev/shm or a
   * full disk is an error here rather than a SIGBUS on first write. */
  rc = posix_fallocate(seg->fd, 0, (off_t)g->total_size);
  if (rc != 0) {
    rc = DMP_FAIL(-rc, "cannot reserve %llu bytes for '%s': %s", (unsigned long long)g->total_size, path,
                  strerror(rc));
    goto fail;
  }
  rc = map_segment(seg, (size_t)g->total_size);
  if (rc == 0 && (cfg->flags & DMP_RING_PREFAULT))
    rc = dmp_impl_segment_prefault(seg, true);
  if (rc < 0)
    goto fail;
  header_init(seg->map, cfg, g);
  *out = seg;
  return 0;
fail:
  seg->keep = false; /* a half-created segment is never left behind, DMP_RING_KEEP or not */
  dmp_impl_segment_close(seg);
  return rc;
}

/* Validate a mapped header against the mapping length (the segment size;
 * only the header is read, so inspect.c can map less). R2 first. */
int dmp_impl_segment_validate(const struct dmp_impl_segment *seg, struct dmp_impl_geometry *g)
{
  const struct dmp_segment_control *ctl = seg->map;
  const struct dmp_segment_header *h = &ctl->header;
  const char *p = seg->path;
  /* R2: acquire load of the ready marker; pairs with R1. */
  uint32_t ready = dmp_impl_load_acquire((dmp_atomic_u32 *)&h->ready);
  if (h->magic != DMP_MAGIC)
    return h->magic == 0 && ready == 0 ? DMP_FAIL(-DMP_E_NOTREADY, "'%s' is not initialised yet", p)
                                       : DMP_FAIL(-DMP_E_CORRUPT, "'%s' has a bad magic number", p);
  /* The creator writes the magic before the version: a zero version is a
   * header still being written, not another layout. */
  if (h->layout_version == 0 && ready != DMP_READY)
    return DMP_FAIL(-DMP_E_NOTREADY, "'%s' is not initialised yet (header half written)", p);
  if (h->layout_version != DMP_LAYOUT_VERSION)
    return DMP_FAIL(-DMP_E_LAYOUT, "'%s' has layout version %u, this library reads version %u", p,
                    h->layout_version, DMP_LAYOUT_VERSION);
  if (ready != DMP_READY)
    return DMP_FAIL(-DMP_E_NOTREADY, "'%s' is not initialised yet (ready marker unset)", p);
  if (h->header_size != sizeof *h)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' header size %u, expected %zu", p, h->header_size, sizeof *h);
  if (h->fingerprint != header_fingerprint(h))
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' header fingerprint does not match its contents", p);
  if (h->flags & ~DMP_SEG_F_KNOWN)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' has unknown flags 0x%x", p, h->flags & ~DMP_SEG_F_KNOWN);
  int rc = dmp_impl_geometry_compute("header.", h->capacity, h->slot_size, h->slot_align, h->max_consumers, g);
  if (rc == 0 && (h->flags & DMP_SEG_F_MULTI_PRODUCER))
    rc = dmp_impl_geometry_mp("header.", h->max_producers, g);
  else if (rc == 0 && (h->max_producers != 0 || (h->flags & DMP_SEG_F_MP_BIASED)))
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' is a single-producer ring with max_producers %u or flags 0x%x", p,
                    h->max_producers, h->flags);
  if (rc < 0)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' header describes an invalid ring: %s", p, dmp_last_error());
  if (h->slot_stride != g->slot_stride || h->table_offset != g->table_offset ||
      h->slots_offset != g->slots_offset || h->total_size != g->total_size)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' header offsets disagree with its geometry", p);
  if ((h->flags & DMP_SEG_F_BYTES) && (rc = dmp_impl_bytes_validate(h, p, g)) < 0)
    return rc;
  if (g->total_size > seg->map_len)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' is %zu bytes, its header needs %llu (truncated?)", p, seg->map_len,
                    (unsigned long long)g->total_size);
  return 0;
}

int dmp_impl_segment_open(enum dmp_backend backend, const char *name, bool allow_group,
                          struct dmp_impl_segment **out)
{
  char path[PATH_MAX], why[512];
  int rc = dmp_impl_segment_path(backend, name, path, sizeof path);
  if (rc < 0)
    return rc;
  struct dmp_impl_segment *seg = segment_new(backend, path);
  if (!seg)
    return DMP_FAIL(-ENOMEM, "out of memory");
  seg->fd = dmp_impl_file_open_path(backend, path, O_RDWR, why, sizeof why);
  if (seg->fd < 0) {
    rc = DMP_FAIL(seg->fd, "%s", why);
    seg->fd = -1;
    goto fail;
  }
  /* Whose memory this is, decided on the descriptor we will map. */
  struct stat st;
  rc = dmp_impl_file_trust(seg->fd, path, allow_group, &st, why, sizeof why);
  if (rc < 0) {
    rc = DMP_FAIL(rc, "%s", why);
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = DMP_FAIL(-DMP_E_BADNAME, "'%s' is not a regular file", path);
    goto fail;
  }
  if (st.st_size == 0) {
    rc = DMP_FAIL(-DMP_E_NOTREADY, "'%s' is empty (not initialised yet)", path);
    goto fail;
  }
  if ((uint64_t)st.st_size < sizeof(struct dmp_segment_control) || (uint64_t)st.st_size > DMP_MAX_SEGMENT_BYTES) {
    rc = DMP_FAIL(-DMP_E_CORRUPT, "'%s' has an impossible size of %lld bytes", path, (long long)st.st_size);
    goto fail;
  }
  rc = map_segment(seg, (size_t)st.st_size);
  if (rc < 0)
    goto fail;
  rc = dmp_impl_segment_validate(seg, &seg->geo);
  if (rc == -DMP_E_CORRUPT && seg->geo.total_size > seg->map_len && fstat(seg->fd, &st) == 0 &&
      (uint64_t)st.st_size >= seg->geo.total_size && seg->geo.total_size <= DMP_MAX_SEGMENT_BYTES) {
    /* We sized the mapping while the creator was still growing the file
     * (its header became ready since): map the full size and check again. */
    munmap(seg->map, seg->map_len);
    seg->map = NULL;
    rc = map_segment(seg, (size_t)st.st_size);
    if (rc == 0)
      rc = dmp_impl_segment_validate(seg, &seg->geo);
  }
  if (rc < 0)
    goto fail;
  *out = seg;
  return 0;
fail:
  dmp_impl_segment_close(seg);
  return rc;
}

void dmp_impl_segment_close(struct dmp_impl_segment *seg)
{
  if (!seg)
    return;
  if (seg->map)
    munmap(seg->map, seg->map_len);
  if (seg->owner && !seg->keep)
    (void)dmp_impl_file_unlink(seg->backend, seg->dirfd, seg->path);
  if (seg->fd >= 0)
    close(seg->fd); /* drops every OFD lock this description holds */
  if (seg->dirfd >= 0)
    close(seg->dirfd);
  free(seg);
}

void dmp_impl_ring_init(struct dmp_impl_ring *r, struct dmp_impl_segment *seg)
{
  const struct dmp_impl_geometry *g = &seg->geo;
  r->ctl = seg->map;
  r->slots = (uint8_t *)seg->map + g->slots_offset;
  r->table = (struct dmp_consumer_entry *)(void *)((uint8_t *)seg->map + g->table_offset);
  r->capacity = g->capacity;
  r->mask = g->capacity - 1;
  r->stride = g->slot_stride;
  r->seg = seg;
  dmp_impl_wake_setup(r); /* r->wakeups and seg->wake_membarrier (wait.c) */
}
