/**
 * @file unit.h
 * @brief Shared helpers of the unit tests: default configs for both
 * backends, the on-disk path of a segment, publishing events that carry
 * their own sequence, and raw access to segment bytes for the corruption
 * tests.
 *
 * Every suite registers ut_fini() as its `.fini`, so segments and temp
 * files are removed even when an assertion fails (Criterion runs the fini
 * of a failed test; a test killed by its timeout is cleaned by nobody, so
 * every wait inside a test is bounded far below `.timeout`).
 *
 * Events in these tests are 8 bytes: the int64 sequence they were
 * published at, so a reader can prove it never saw an overwritten slot.
 */
#ifndef UT_UNIT_H
#define UT_UNIT_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

/** Short bound for waits that are expected to time out. */
#define UT_SHORT_NS INT64_C(30000000) /* 30 ms */
/** Bound for waits that are expected to end early (an event, a death):
 * 2 s, scaled by TS_TIMEOUT_MULTIPLIER for sanitizer runs. */
#define UT_LONG_NS ((int64_t)ts_timeout_ms(2000) * 1000000)
/** Criterion per-test timeout, seconds. */
#define UT_TIMEOUT 10

static const enum dmp_backend ut_backends[] = {DMP_BACKEND_SHM, DMP_BACKEND_MMAP};
#define UT_NBACKENDS 2

static inline void ut_fini(void)
{
  ts_cleanup();
}

static inline const char *ut_backend_name(enum dmp_backend b)
{
  return b == DMP_BACKEND_SHM ? "shm" : "mmap";
}

/** A fresh, unique segment name (SHM) or file path (MMAP). */
static inline const char *ut_fresh_name(enum dmp_backend b, const char *tag)
{
  const char *n = b == DMP_BACKEND_SHM ? ts_shm_name(tag) : ts_tmp_path(tag);
  cr_assert(ne(ptr, (void *)n, NULL), "test support ran out of names");
  return n;
}

/** Producer config: fresh name, capacity 16, 8-byte events. */
static inline struct dmp_producer_config ut_pcfg(enum dmp_backend b, const char *tag)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = b;
  cfg.name = ut_fresh_name(b, tag);
  cfg.capacity = 16;
  cfg.slot_size = sizeof(int64_t);
  return cfg;
}

/** Consumer config for the ring of `pc`, as consumer `id`. */
static inline struct dmp_consumer_config ut_ccfg(const struct dmp_producer_config *pc, const char *id)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = pc->backend;
  cfg.name = pc->name;
  cfg.id = id;
  return cfg;
}

static inline struct dmp_producer *ut_create(const struct dmp_producer_config *cfg)
{
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(cfg, &p);
  cr_assert(eq(int, rc, 0), "dmp_producer_create(%s, %s): %s / %s", ut_backend_name(cfg->backend),
            cfg->name, dmp_err_name(rc), dmp_last_error());
  cr_assert(ne(ptr, p, NULL));
  return p;
}

static inline struct dmp_consumer *ut_attach(const struct dmp_consumer_config *cfg)
{
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach(cfg, &c);
  cr_assert(eq(int, rc, 0), "dmp_consumer_attach(%s, id %s): %s / %s", ut_backend_name(cfg->backend),
            cfg->id, dmp_err_name(rc), dmp_last_error());
  cr_assert(ne(ptr, c, NULL));
  return c;
}

/** Where the segment of `name` lives in the file system. */
static inline const char *ut_seg_path(enum dmp_backend b, const char *name, char *buf, size_t len)
{
  if (b == DMP_BACKEND_SHM) {
    snprintf(buf, len, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
    return buf;
  }
  snprintf(buf, len, "%s", name);
  return buf;
}

static inline bool ut_seg_exists(enum dmp_backend b, const char *name)
{
  char buf[512];
  struct stat st;
  return stat(ut_seg_path(b, name, buf, sizeof buf), &st) == 0;
}

/** Number of file-system objects the ring of `name` left: the segment
 * itself and any companion named `name` + a non-digit suffix (support.h). */
static inline int ut_seg_leftovers(enum dmp_backend b, const char *name)
{
  char dir[512], base[256];
  if (b == DMP_BACKEND_SHM) {
    snprintf(dir, sizeof dir, "/dev/shm");
    snprintf(base, sizeof base, "%s", name[0] == '/' ? name + 1 : name);
  } else {
    const char *slash = strrchr(name, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - name) : 1, slash ? name : ".");
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : name);
  }
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int n = 0;
  size_t len = strlen(base);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, base, len) == 0 && !isdigit((unsigned char)e->d_name[len]))
      n++;
  closedir(d);
  return n;
}

static inline off_t ut_seg_size(enum dmp_backend b, const char *name)
{
  char buf[512];
  struct stat st;
  cr_assert(eq(int, stat(ut_seg_path(b, name, buf, sizeof buf), &st), 0), "stat %s: %s", buf, strerror(errno));
  return st.st_size;
}

/** Write `len` bytes at `off` of the segment file, behind the library's back. */
static inline void ut_seg_write(enum dmp_backend b, const char *name, off_t off, const void *data, size_t len)
{
  char buf[512];
  int fd = open(ut_seg_path(b, name, buf, sizeof buf), O_RDWR);
  cr_assert(ge(int, fd, 0), "open %s: %s", buf, strerror(errno));
  ssize_t n = pwrite(fd, data, len, off);
  close(fd);
  cr_assert(eq(sz, (size_t)n, len), "pwrite %s", buf);
}

static inline void ut_seg_read(enum dmp_backend b, const char *name, off_t off, void *data, size_t len)
{
  char buf[512];
  int fd = open(ut_seg_path(b, name, buf, sizeof buf), O_RDONLY);
  cr_assert(ge(int, fd, 0), "open %s: %s", buf, strerror(errno));
  ssize_t n = pread(fd, data, len, off);
  close(fd);
  cr_assert(eq(sz, (size_t)n, len), "pread %s", buf);
}

static inline void ut_seg_truncate(enum dmp_backend b, const char *name, off_t size)
{
  char buf[512];
  cr_assert(eq(int, truncate(ut_seg_path(b, name, buf, sizeof buf), size), 0), "truncate %s: %s", buf,
            strerror(errno));
}

/** FNV-1a-64, the header fingerprint function of layout.h. */
static inline uint64_t ut_fnv1a64(const void *data, size_t len)
{
  const uint8_t *p = data;
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * UINT64_C(0x100000001b3);
  return h;
}

static inline struct dmp_segment_header ut_header_read(enum dmp_backend b, const char *name)
{
  struct dmp_segment_header h;
  ut_seg_read(b, name, 0, &h, sizeof h);
  return h;
}

/** Write a header back, optionally with a freshly computed fingerprint, so
 * that a hostile edit is not caught by the checksum alone. */
static inline void ut_header_write(enum dmp_backend b, const char *name, struct dmp_segment_header *h,
                                   bool refingerprint)
{
  if (refingerprint)
    h->fingerprint = ut_fnv1a64(h, offsetof(struct dmp_segment_header, fingerprint));
  ut_seg_write(b, name, 0, h, sizeof *h);
}

/** Publish one event carrying its sequence, without waiting. */
static inline int64_t ut_publish_one(struct dmp_producer *p)
{
  void *slot;
  int rc = dmp_producer_try_claim(p, &slot);
  cr_assert(eq(int, rc, 0), "try_claim at seq %lld: %s", (long long)(dmp_producer_sequence(p) + 1),
            dmp_err_name(rc));
  int64_t seq = dmp_producer_sequence(p) + 1;
  memcpy(slot, &seq, sizeof seq);
  int64_t last = dmp_producer_publish(p);
  cr_assert(eq(i64, last, seq));
  return seq;
}

static inline void ut_publish_n(struct dmp_producer *p, int n)
{
  for (int i = 0; i < n; i++)
    ut_publish_one(p);
}

static inline int64_t ut_event_seq(const void *ev)
{
  int64_t v;
  memcpy(&v, ev, sizeof v);
  return v;
}

/** Peek one event that must be there; checks it carries its sequence. */
static inline int64_t ut_read_one(struct dmp_consumer *c)
{
  const void *ev;
  int64_t seq = -2;
  int rc = dmp_consumer_try_peek(c, &ev, &seq);
  cr_assert(eq(int, rc, 0), "try_peek: %s", dmp_err_name(rc));
  cr_assert(eq(i64, ut_event_seq(ev), seq), "slot content differs from its sequence");
  return seq;
}

/** Read and release everything available; checks order and contents.
 * Returns the number read; `*first` gets the first sequence (if any). */
static inline int64_t ut_drain(struct dmp_consumer *c, int64_t *first)
{
  const void *ev;
  int64_t seq, prev = -2, n = 0;
  while (dmp_consumer_try_peek(c, &ev, &seq) == 0) {
    cr_assert(eq(i64, ut_event_seq(ev), seq), "slot of seq %lld was overwritten", (long long)seq);
    if (n == 0 && first)
      *first = seq;
    if (n > 0)
      cr_assert(eq(i64, seq, prev + 1), "sequence gap");
    prev = seq;
    n++;
    cr_assert(lt(i64, n, 1000000), "runaway drain");
  }
  dmp_consumer_release(c);
  return n;
}

/** Number of table entries that are not FREE. */
static inline int ut_count_consumers(const struct dmp_producer *p)
{
  struct dmp_consumer_info info[8];
  int n = dmp_producer_list_consumers(p, NULL, info, 8);
  cr_assert(ge(int, n, 0), "list_consumers: %s", dmp_err_name(n));
  return n;
}

#endif /* UT_UNIT_H */
