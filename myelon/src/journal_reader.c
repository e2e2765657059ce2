/* Journal reader (journal.h): walks the parts of a journal record by
 * record with pread(2), validating each with the pure parser. Problems are
 * classified, never trusted:
 *
 *  - torn tail: the last part ends inside a record (the parser says TORN,
 *    or every byte from the record's offset to the end is zero: space a
 *    crash left unwritten) -> MYELON_E_TORN, sticky;
 *  - corruption anywhere else (including a torn middle part, a bad part
 *    header, a part of another recording) -> MYELON_E_JCORRUPT with part and
 *    offset; sticky, or with MYELON_JOURNAL_SKIP_CORRUPT the next call scans
 *    forward at 8-byte steps for the next offset that holds a whole valid
 *    record (records are 8-aligned) and goes on from there.
 *
 * Memory is bounded by the largest record actually present in the file
 * (a length is used only after the header CRC vouched for it and the
 * file is long enough to hold it). */
#include "journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <disruptor_mp/error.h>
#include <myelon/error.h>

#define SCAN_CHUNK (64u * 1024u)

struct myelon_journal_reader {
  char *base;
  bool single;      /* `base` is one part file */
  uint32_t flags;
  uint32_t nparts;
  struct myelon_journal_info info;
  int fd;
  uint32_t part;    /* current part index (1-based) */
  uint64_t off;     /* next offset to read in it */
  uint64_t fsize;
  uint8_t *buf;
  size_t cap;
  int sticky;       /* TORN or JCORRUPT in stop mode: returned again */
  bool resync;      /* skip mode: scan from off for the next valid record */
  bool have_pending;
  struct myelon_journal_record pending; /* found by a seek, not yet returned */
  uint32_t where_part;
  uint64_t where_off;
  struct myelon_journal_reader_stats st;
};

static int part_path(const struct myelon_journal_reader *r, uint32_t part, char *out, size_t len)
{
  if (r->single) {
    int n = snprintf(out, len, "%s", r->base);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
  }
  return myelon_journal_part_path(r->base, part, out, len);
}

static int reserve(struct myelon_journal_reader *r, size_t need)
{
  if (need <= r->cap)
    return 0;
  size_t cap = r->cap ? r->cap : 4096;
  while (cap < need)
    cap *= 2;
  uint8_t *b = realloc(r->buf, cap);
  if (!b)
    return -ENOMEM;
  r->buf = b;
  r->cap = cap;
  return 0;
}

/* Read `len` bytes at `off` of the current part into r->buf (the caller
 * checked that they are inside the file). */
static int read_at(struct myelon_journal_reader *r, uint64_t off, size_t len)
{
  int rc = reserve(r, len ? len : 1);
  if (rc < 0)
    return rc;
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(r->fd, r->buf + got, len - got, (off_t)(off + got));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      dmp_error_set("myelon_journal_reader_next", "part %u: read at %llu: %s", r->part, (unsigned long long)off,
                    strerror(errno));
      return rc;
    }
    if (n == 0) /* the file shrank under us */
      return dmp_error_set("myelon_journal_reader_next", "part %u shrank while being read", r->part), -EIO;
    got += (size_t)n;
  }
  return 0;
}

static void close_part(struct myelon_journal_reader *r)
{
  if (r->fd >= 0)
    close(r->fd);
  r->fd = -1;
}

static int report(struct myelon_journal_reader *r, int rc, uint64_t off, const char *what)
{
  r->where_part = r->part;
  r->where_off = off;
  char path[4096];
  if (part_path(r, r->part, path, sizeof path) < 0)
    snprintf(path, sizeof path, "part %u", r->part);
  dmp_error_set("myelon_journal_reader_next", "%s at offset %llu of '%s'", what, (unsigned long long)off, path);
  if (rc == -MYELON_E_TORN) {
    r->st.torn = true;
    r->sticky = rc;
  } else {
    r->st.corrupt++;
    if (r->flags & MYELON_JOURNAL_SKIP_CORRUPT)
      r->resync = true;
    else
      r->sticky = rc;
  }
  return rc;
}

/* Open part r->part and check its header against the first part's. */
static int open_part(struct myelon_journal_reader *r, struct myelon_journal_info *info)
{
  char path[4096];
  int rc = part_path(r, r->part, path, sizeof path);
  if (rc < 0)
    return dmp_error_set("myelon_journal_reader_open", "part %u: path too long", r->part), rc;
  r->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (r->fd < 0) {
    rc = -errno;
    dmp_error_set("myelon_journal_reader_open", "cannot open '%s': %s", path, strerror(errno));
    return rc;
  }
  struct stat sb;
  if (fstat(r->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
    rc = S_ISREG(sb.st_mode) ? -errno : -EINVAL;
    dmp_error_set("myelon_journal_reader_open", "'%s' is not a regular file", path);
    close_part(r);
    return rc;
  }
  r->fsize = (uint64_t)sb.st_size;
  size_t n = r->fsize < MYELON_JOURNAL_HEADER_SIZE ? (size_t)r->fsize : MYELON_JOURNAL_HEADER_SIZE;
  rc = read_at(r, 0, n);
  if (rc == 0)
    rc = myelon_journal_header_parse(r->buf, n, info);
  if (rc < 0) {
    char why[160];
    snprintf(why, sizeof why, "%s", dmp_last_error());
    dmp_error_set("myelon_journal_reader_open", "'%s': %s", path, why);
  }
  r->off = MYELON_JOURNAL_HEADER_SIZE;
  return rc;
}

/* Are all bytes in [off, fsize) zero? */
static int zero_tail(struct myelon_journal_reader *r, uint64_t off, bool *zero)
{
  *zero = true;
  while (off < r->fsize && *zero) {
    size_t n = r->fsize - off < SCAN_CHUNK ? (size_t)(r->fsize - off) : SCAN_CHUNK;
    int rc = read_at(r, off, n);
    if (rc < 0)
      return rc;
    for (size_t i = 0; i < n && *zero; i++)
      *zero = r->buf[i] == 0;
    off += n;
  }
  return 0;
}

/* Parse the record at `off`: > 0 its size (and *rec), or the parser's
 * TORN / JCORRUPT, or an I/O error (< 0, not a parser code). */
static int parse_at(struct myelon_journal_reader *r, uint64_t off, struct myelon_journal_record *rec)
{
  uint64_t left = r->fsize - off;
  size_t n = left < MYELON_JOURNAL_RECORD_HEADER ? (size_t)left : MYELON_JOURNAL_RECORD_HEADER;
  int rc = read_at(r, off, n);
  if (rc < 0)
    return rc;
  rc = myelon_journal_record_parse(r->buf, n, rec);
  if (rc != -MYELON_E_TORN || n < MYELON_JOURNAL_RECORD_HEADER)
    return rc;
  /* The header is valid: its length can be believed as far as the file goes. */
  uint32_t len;
  memcpy(&len, r->buf + 8, 4);
  uint64_t size = myelon_journal_record_size(len);
  if (size > left)
    return -MYELON_E_TORN;
  rc = read_at(r, off, (size_t)size);
  return rc < 0 ? rc : myelon_journal_record_parse(r->buf, (size_t)size, rec);
}

static bool is_parse_code(int rc)
{
  return rc == -MYELON_E_TORN || rc == -MYELON_E_JCORRUPT;
}

/* Move to the next part; false if this was the last. */
static bool next_part(struct myelon_journal_reader *r)
{
  close_part(r);
  r->part++;
  return r->part <= r->nparts;
}

/* Skip mode: find the next 8-aligned offset >= r->off holding a valid
 * record (or a torn one at the end of the last part). */
static int resync(struct myelon_journal_reader *r)
{
  uint64_t from = r->off;
  for (uint64_t pos = (r->off + 7) & ~UINT64_C(7); pos + 4 <= r->fsize;) {
    size_t n = r->fsize - pos < SCAN_CHUNK ? (size_t)(r->fsize - pos) : SCAN_CHUNK;
    int rc = read_at(r, pos, n);
    if (rc < 0)
      return rc;
    uint64_t hit = UINT64_MAX;
    for (size_t i = 0; i + 4 <= n && hit == UINT64_MAX; i += 8) {
      uint32_t m;
      memcpy(&m, r->buf + i, 4);
      if (m == MYELON_JOURNAL_RECORD_MAGIC)
        hit = pos + i;
    }
    if (hit == UINT64_MAX) {
      pos += n;
      continue;
    }
    struct myelon_journal_record rec;
    rc = parse_at(r, hit, &rec);
    if (rc > 0 || (rc == -MYELON_E_TORN && r->part == r->nparts)) {
      r->st.skipped_bytes += hit - from;
      r->off = hit;
      return 0;
    }
    if (!is_parse_code(rc))
      return rc;
    pos = hit + 8;
  }
  r->st.skipped_bytes += r->fsize - from;
  r->off = r->fsize;
  return 0;
}

/* Open the current part if needed; a bad part is reported as corrupt. */
static int ensure_part(struct myelon_journal_reader *r)
{
  if (r->fd >= 0)
    return 0;
  struct myelon_journal_info info;
  int rc = open_part(r, &info);
  if (rc == 0 && !r->single && (info.recording_id != r->info.recording_id || info.part != r->part)) {
    dmp_error_set("myelon_journal_reader_next", "part %u belongs to another recording or is misnumbered", r->part);
    rc = -MYELON_E_JCORRUPT;
  }
  if (rc == 0)
    return 0;
  if (!is_parse_code(rc) && rc != -MYELON_E_JVERSION)
    return rc;
  char why[200];
  snprintf(why, sizeof why, "bad part header (%s)", dmp_last_error());
  if (r->fd >= 0) {
    r->st.skipped_bytes += r->fsize;
    r->off = r->fsize; /* skip mode goes on with the next part */
  } else {
    r->part++; /* could not even open it: skip mode goes on with the next */
  }
  report(r, -MYELON_E_JCORRUPT, 0, why);
  r->resync = false;
  return -MYELON_E_JCORRUPT;
}

/* One step of the reader: 1 record, 0 end, < 0 problem. */
static int advance(struct myelon_journal_reader *r, struct myelon_journal_record *rec)
{
  if (r->sticky)
    return r->sticky;
  if (r->have_pending) {
    r->have_pending = false;
    *rec = r->pending;
    return 1;
  }
  for (;;) {
    if (r->part > r->nparts)
      return 0;
    int rc = ensure_part(r);
    if (rc < 0)
      return rc;
    if (r->resync) {
      r->resync = false;
      rc = resync(r);
      if (rc < 0)
        return rc;
    }
    if (r->off >= r->fsize) {
      if (!next_part(r))
        return 0;
      continue;
    }
    rc = parse_at(r, r->off, rec);
    if (rc > 0) {
      rec->part = r->part;
      rec->offset = r->off;
      r->where_part = r->part;
      r->where_off = r->off;
      r->off += (uint64_t)rc;
      return 1;
    }
    if (!is_parse_code(rc))
      return rc;
    bool zero = false;
    if (rc == -MYELON_E_JCORRUPT && (rc = zero_tail(r, r->off, &zero)) < 0)
      return rc;
    bool tail = rc == -MYELON_E_TORN || zero;
    if (tail && r->part == r->nparts)
      return report(r, -MYELON_E_TORN, r->off, "torn tail (a record cut short)");
    uint64_t at = r->off;
    r->off += 8; /* skip mode resumes after this offset */
    return report(r, -MYELON_E_JCORRUPT, at, tail ? "part ends inside a record" : "corrupted record");
  }
}

int myelon_journal_reader_next(struct myelon_journal_reader *r, struct myelon_journal_record *rec)
{
  if (!r || !rec)
    return -EINVAL;
  int rc = advance(r, rec);
  if (rc == 1)
    r->st.records++;
  return rc;
}

void myelon_journal_reader_where(const struct myelon_journal_reader *r, uint32_t *part, uint64_t *offset)
{
  if (part)
    *part = r ? r->where_part : 0;
  if (offset)
    *offset = r ? r->where_off : 0;
}

int myelon_journal_reader_rewind(struct myelon_journal_reader *r)
{
  if (!r)
    return -EINVAL;
  close_part(r);
  r->part = 1;
  r->off = MYELON_JOURNAL_HEADER_SIZE;
  r->sticky = 0;
  r->resync = false;
  r->have_pending = false;
  r->where_part = 0;
  r->where_off = 0;
  uint32_t parts = r->st.parts;
  memset(&r->st, 0, sizeof r->st);
  r->st.parts = parts;
  return 0;
}

/* The first record of part `part`, if it is whole and valid. */
static bool first_of_part(struct myelon_journal_reader *r, uint32_t part, struct myelon_journal_record *rec)
{
  close_part(r);
  r->part = part;
  struct myelon_journal_info info;
  if (open_part(r, &info) < 0 || info.recording_id != r->info.recording_id)
    return false;
  if (r->fsize <= MYELON_JOURNAL_HEADER_SIZE)
    return false;
  return parse_at(r, MYELON_JOURNAL_HEADER_SIZE, rec) > 0;
}

/* Seek: skip whole parts by their successor's first record, then scan. */
static int seek(struct myelon_journal_reader *r, bool by_time, uint64_t seq, int64_t t)
{
  if (!r)
    return -EINVAL;
  myelon_journal_reader_rewind(r);
  uint32_t start = 1;
  for (uint32_t k = 2; !r->single && k <= r->nparts; k++) {
    struct myelon_journal_record first;
    if (!first_of_part(r, k, &first) || (by_time ? first.realtime_ns > t : first.seq > seq))
      break;
    start = k;
  }
  close_part(r);
  r->part = start;
  r->off = MYELON_JOURNAL_HEADER_SIZE;
  struct myelon_journal_record rec;
  for (;;) {
    int rc = advance(r, &rec);
    if (rc == 1 && (by_time ? rec.realtime_ns >= t : rec.seq >= seq)) {
      r->pending = rec;
      r->have_pending = true;
      return 0;
    }
    if (rc == 0 || rc == -MYELON_E_TORN)
      return 0;
    if (rc < 0 && (rc != -MYELON_E_JCORRUPT || !(r->flags & MYELON_JOURNAL_SKIP_CORRUPT)))
      return rc;
  }
}

int myelon_journal_reader_seek_seq(struct myelon_journal_reader *r, uint64_t seq)
{
  return seek(r, false, seq, 0);
}

int myelon_journal_reader_seek_time(struct myelon_journal_reader *r, int64_t realtime_ns)
{
  return seek(r, true, 0, realtime_ns);
}

void myelon_journal_reader_stats(const struct myelon_journal_reader *r, struct myelon_journal_reader_stats *st)
{
  *st = r->st;
}

const struct myelon_journal_info *myelon_journal_reader_info(const struct myelon_journal_reader *r)
{
  return r ? &r->info : NULL;
}

void myelon_journal_reader_close(struct myelon_journal_reader *r)
{
  if (!r)
    return;
  close_part(r);
  free(r->buf);
  free(r->base);
  free(r);
}

/* Parts mode if `<path>.0001` exists, else `path` is one part file. */
static int find_parts(struct myelon_journal_reader *r)
{
  char path[4096];
  int rc = myelon_journal_part_path(r->base, 1, path, sizeof path);
  if (rc == 0 && access(path, F_OK) == 0) {
    r->nparts = 1;
    while (r->nparts < MYELON_JOURNAL_MAX_PARTS &&
           myelon_journal_part_path(r->base, r->nparts + 1, path, sizeof path) == 0 && access(path, F_OK) == 0)
      r->nparts++;
    return 0;
  }
  if (access(r->base, F_OK) != 0) {
    rc = -errno;
    dmp_error_set("myelon_journal_reader_open", "no journal at '%s' (neither '%s.0001' nor '%s' exists)", r->base, r->base,
                  r->base);
    return rc;
  }
  r->single = true;
  r->nparts = 1;
  return 0;
}

int myelon_journal_reader_open(const char *path, uint32_t flags, struct myelon_journal_reader **out)
{
  if (!out)
    return -EINVAL;
  *out = NULL;
  if (!path || !path[0] || (flags & ~MYELON_JOURNAL_R_KNOWN))
    return dmp_error_set("myelon_journal_reader_open", "NULL or empty path, or unknown flags"), -EINVAL;
  struct myelon_journal_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->base = strdup(path))) {
    free(r);
    return -ENOMEM;
  }
  r->fd = -1;
  r->flags = flags;
  r->part = 1;
  int rc = find_parts(r);
  if (rc == 0)
    rc = open_part(r, &r->info);
  if (rc < 0) {
    myelon_journal_reader_close(r);
    return rc;
  }
  r->st.parts = r->nparts;
  *out = r;
  return 0;
}
