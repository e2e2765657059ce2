/**
 * @file jnl.h
 * @brief Shared helpers of the journal tests (suite 'journal'): the payload
 * oracle shared with jnl_role, journals written with the writer, whole-file
 * reads and writes, and spawning the myelon-journal tool with its output
 * captured.
 *
 * Every suite registers jn_fini() as its `.fini`, so rings, journals and
 * children are removed even when an assertion fails.
 */
#ifndef JNL_H
#define JNL_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <myelon/journal.h>
#include <myelon/myelon.h>
#include <myelon/record.h>

#include "jnl_payload.h"
#include "support.h"

#define JN_LONG_NS INT64_C(10000000000) /* 10 s: waits expected to end early */
#define JN_CHILD_MS 60000               /* bound of a child's run (scaled) */

static inline void jn_fini(void)
{
  ts_kill_children();
  ts_cleanup();
}

static inline const char *jn_tmp(const char *tag)
{
  const char *p = ts_tmp_path(tag);
  cr_assert(ne(ptr, (void *)p, NULL), "test support ran out of paths");
  return p;
}

static inline const char *jn_part(const char *base, uint32_t part)
{
  static char buf[8][512];
  static unsigned k;
  char *out = buf[k++ % 8];
  cr_assert(eq(int, myelon_journal_part_path(base, part, out, 512), 0));
  return out;
}

/* ---- files ------------------------------------------------------------- */

static inline uint8_t *jn_read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  cr_assert(ne(ptr, f, NULL), "cannot open %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  cr_assert(ne(ptr, buf, NULL));
  cr_assert(eq(sz, fread(buf, 1, (size_t)n, f), (size_t)n));
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static inline void jn_write_file(const char *path, const void *buf, size_t len)
{
  FILE *f = fopen(path, "wb");
  cr_assert(ne(ptr, f, NULL), "cannot create %s: %s", path, strerror(errno));
  cr_assert(eq(sz, fwrite(buf, 1, len, f), len));
  fclose(f);
}

/* ---- journals written with the writer ---------------------------------- */

static inline struct myelon_journal_writer_config jn_wcfg(const char *base, enum myelon_journal_io io)
{
  struct myelon_journal_writer_config c;
  myelon_journal_writer_config_init(&c);
  c.path = base;
  c.io = io;
  c.buffer_size = 4096; /* small: records span buffers, several writes in flight */
  c.buffers = 4;
  c.info.kind = MYELON_JOURNAL_RAW;
  c.info.slot_size = 64;
  c.info.slot_align = 8;
  c.info.ring_capacity = 256;
  snprintf(c.info.ring_name, sizeof c.info.ring_name, "test-ring");
  return c;
}

/* Record i of a test journal: length jp_len(seed, i, max), seq 10 + 3i
 * (gaps, so seeks have to search), times 1000 ns apart. */
static inline struct myelon_journal_record jn_rec(uint64_t seed, uint64_t i, size_t max, uint8_t *buf)
{
  size_t len = jp_len(seed, i, max);
  jp_fill(buf, len, seed, i);
  struct myelon_journal_record r;
  memset(&r, 0, sizeof r);
  r.data = buf;
  r.len = (uint32_t)len;
  r.kind = (uint8_t)i;
  r.msg_id = (uint32_t)i + 1;
  r.seq = 10 + 3 * i;
  r.realtime_ns = INT64_C(1700000000000000000) + (int64_t)i * 1000;
  r.mono_ns = (int64_t)i * 1000;
  return r;
}

static inline void jn_check_rec(const struct myelon_journal_record *got, uint64_t seed, uint64_t i, size_t max)
{
  uint8_t *want = malloc(max + 1);
  struct myelon_journal_record w = jn_rec(seed, i, max, want);
  cr_assert(eq(u32, got->len, w.len), "record %llu: length", (unsigned long long)i);
  cr_assert(eq(u64, got->seq, w.seq), "record %llu: seq", (unsigned long long)i);
  cr_assert(eq(i64, got->realtime_ns, w.realtime_ns), "record %llu: realtime", (unsigned long long)i);
  cr_assert(eq(i64, got->mono_ns, w.mono_ns), "record %llu: mono", (unsigned long long)i);
  cr_assert(eq(u8, got->kind, w.kind), "record %llu: kind", (unsigned long long)i);
  cr_assert(eq(u32, got->msg_id, w.msg_id), "record %llu: msg_id", (unsigned long long)i);
  cr_assert(eq(int, memcmp(got->data, want, w.len), 0), "record %llu: payload", (unsigned long long)i);
  free(want);
}

/* Write `n` records of up to `max` bytes; returns the final writer stats. */
static inline struct myelon_journal_writer_stats jn_write(const struct myelon_journal_writer_config *cfg, uint64_t seed,
                                                          uint64_t n, size_t max)
{
  struct myelon_journal_writer *w = NULL;
  int rc = myelon_journal_writer_open(cfg, &w);
  cr_assert(eq(int, rc, 0), "writer_open(%s): %s / %s", cfg->path, myelon_err_name(rc), dmp_last_error());
  uint8_t *buf = malloc(max + 1);
  for (uint64_t i = 0; i < n; i++) {
    struct myelon_journal_record r = jn_rec(seed, i, max, buf);
    rc = myelon_journal_writer_append(w, &r);
    cr_assert(eq(int, rc, 0), "append %llu: %s / %s", (unsigned long long)i, myelon_err_name(rc), dmp_last_error());
  }
  free(buf);
  struct myelon_journal_writer_stats st;
  rc = myelon_journal_writer_close(w, &st);
  cr_assert(eq(int, rc, 0), "writer_close: %s / %s", myelon_err_name(rc), dmp_last_error());
  cr_assert(eq(u64, st.appended, n));
  cr_assert(eq(u64, st.written, n), "every record written after close");
  return st;
}

static inline struct myelon_journal_reader *jn_open(const char *path, uint32_t flags)
{
  struct myelon_journal_reader *r = NULL;
  int rc = myelon_journal_reader_open(path, flags, &r);
  cr_assert(eq(int, rc, 0), "journal_open(%s): %s / %s", path, myelon_err_name(rc), dmp_last_error());
  return r;
}

/* Read every record, checking record k is record first+k of the oracle;
 * returns the number read and the status that ended the walk. */
static inline uint64_t jn_read_all(const char *path, uint32_t flags, uint64_t seed, size_t max, int *end)
{
  struct myelon_journal_reader *r = jn_open(path, flags);
  struct myelon_journal_record rec;
  uint64_t n = 0;
  int rc;
  while ((rc = myelon_journal_reader_next(r, &rec)) == 1) {
    jn_check_rec(&rec, seed, n, max);
    n++;
  }
  *end = rc;
  myelon_journal_reader_close(r);
  return n;
}

/* ---- the tool ------------------------------------------------------------ */

struct jn_args {
  char *v[64];
  char buf[64][512];
  int n;
};

static inline void jn_arg(struct jn_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void jn_arg(struct jn_args *a, const char *fmt, ...)
{
  cr_assert(lt(int, a->n, 62));
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->buf[a->n], sizeof a->buf[0], fmt, ap);
  va_end(ap);
  a->v[a->n] = a->buf[a->n];
  a->n++;
  a->v[a->n] = NULL;
}

/* argv starting with the myelon-journal tool. */
static inline void jn_tool(struct jn_args *a)
{
  a->n = 0;
  const char *exe = ts_helper("JNL_TOOL");
  cr_assert(ne(str, (char *)exe, ""), "JNL_TOOL is not set (run through meson test)");
  jn_arg(a, "%s", exe);
}

/* argv starting with the jnl_role helper and `role`. */
static inline void jn_role(struct jn_args *a, const char *role)
{
  a->n = 0;
  const char *exe = ts_helper("JNL_ROLE");
  cr_assert(ne(str, (char *)exe, ""), "JNL_ROLE is not set (run through meson test)");
  jn_arg(a, "%s", exe);
  jn_arg(a, "%s", role);
}

/* Spawn argv with stdout/stderr to files (NULL: /dev/null) and an optional
 * file size limit (RLIMIT_FSIZE, SIGXFSZ ignored so writes fail with EFBIG). */
static inline pid_t jn_spawn(struct jn_args *a, const char *out, const char *err, rlim_t fsize)
{
  pid_t pid = fork();
  cr_assert(ge(int, pid, 0), "fork: %s", strerror(errno));
  if (pid == 0) {
    int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0)
      _exit(126);
    dup2(o, 1);
    dup2(e, 2);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    if (fsize) {
      signal(SIGXFSZ, SIG_IGN);
      struct rlimit rl = {fsize, fsize};
      if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        _exit(125);
    }
    execv(a->v[0], a->v);
    _exit(127);
  }
  return pid;
}

/* Run to completion (bounded); returns the exit status (ts_wait's codes). */
static inline int jn_run(struct jn_args *a, const char *out, const char *err)
{
  pid_t pid = jn_spawn(a, out, err, 0);
  return ts_wait(pid, ts_timeout_ms(JN_CHILD_MS));
}

static inline bool jn_file_has(const char *path, const char *needle)
{
  size_t len;
  uint8_t *buf = jn_read_file(path, &len);
  char *s = realloc(buf, len + 1);
  cr_assert(ne(ptr, s, NULL));
  s[len] = '\0';
  bool found = strstr(s, needle) != NULL;
  free(s);
  return found;
}

#endif /* JNL_H */
