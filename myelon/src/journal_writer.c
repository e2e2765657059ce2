/* Journal writer (journal.h): records are copied into a small set of
 * buffers; a full buffer becomes one write at its file offset. With
 * io_uring the buffers are registered (io_uring_register_buffers) and
 * written with IORING_OP_WRITE_FIXED, several in flight at once; without it
 * (not built with liburing, kernel refuses, or asked for) the same buffers
 * are written with pwrite(2).
 *
 * Buffers are retired in submission order even though io_uring may
 * complete them out of order: `written` only ever counts a prefix of the
 * stream, so "records written" means every byte up to the last of them is
 * in the file. A failed write is sticky: nothing more is appended, and
 * appended - written records are reported as not written.
 *
 * Life of a buffer: FREE -> FILLING (records copied in) -> INFLIGHT
 * (submitted; a short write is resubmitted for the rest) -> DONE or FAILED
 * -> FREE when it reaches the head of the submission FIFO. */
#include "journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <disruptor_mp/error.h>
#include <myelon/error.h>

#ifdef MYELON_HAVE_URING
#include <liburing.h>
#endif

#define SYNC_TAG UINT64_MAX
#define MAX_BUFFERS 64u

enum bstate { B_FREE, B_FILLING, B_INFLIGHT, B_DONE, B_FAILED };

struct wbuf {
  uint8_t *mem;
  uint32_t used;     /* bytes filled */
  uint32_t done;     /* bytes written so far (short writes) */
  uint64_t off;      /* file offset of mem[0] */
  int fd;
  enum bstate state;
  uint64_t rec_cum;  /* records complete once this buffer and all before it are written */
  uint64_t bytes_cum;
};

struct myelon_journal_writer {
  struct myelon_journal_writer_config cfg;
  char *base;
  int fd;
  uint32_t part;
  uint64_t part_size; /* bytes of the current part, appended ones included */
  struct wbuf buf[MAX_BUFFERS];
  uint32_t nbuf;
  int cur;            /* FILLING buffer, -1 if none */
  uint32_t fifo[MAX_BUFFERS];
  uint32_t fifo_head, fifo_len;
  bool uring, fixed;
  bool sync_inflight, sync_tainted, sync_used;
  uint64_t sync_snapshot;
  struct myelon_journal_writer_stats st;
#ifdef MYELON_HAVE_URING
  struct io_uring ring;
#endif
};

void myelon_journal_writer_config_init(struct myelon_journal_writer_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->io = MYELON_JOURNAL_IO_AUTO;
  cfg->buffer_size = 1u << 20;
  cfg->buffers = 8;
  cfg->sync = MYELON_JOURNAL_FDATASYNC;
  cfg->mode = 0600;
}

static int fail_sticky(struct myelon_journal_writer *w, int err)
{
  w->st.write_errors++;
  if (w->st.error == 0) {
    w->st.error = err;
    dmp_error_set("myelon_journal_writer", "write to part %u of '%s' failed: %s; %llu of %llu records written",
                  w->part, w->base, myelon_strerror(err), (unsigned long long)w->st.written,
                  (unsigned long long)w->st.appended);
  }
  return err;
}

/* ---- completion bookkeeping -------------------------------------------- */

static void retire(struct myelon_journal_writer *w)
{
  while (w->fifo_len) {
    struct wbuf *b = &w->buf[w->fifo[w->fifo_head]];
    if (b->state != B_DONE)
      return; /* INFLIGHT or FAILED: nothing after it counts */
    w->st.written = b->rec_cum;
    w->st.bytes_written = b->bytes_cum;
    b->state = B_FREE;
    b->used = b->done = 0;
    w->fifo_head = (w->fifo_head + 1) % MAX_BUFFERS;
    w->fifo_len--;
    w->st.in_flight--;
  }
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
  while (len) {
    ssize_t n = pwrite(fd, p, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (n == 0)
      return -EIO;
    p += n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

#ifdef MYELON_HAVE_URING
static struct io_uring_sqe *get_sqe(struct myelon_journal_writer *w)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
  if (!sqe) { /* the SQ holds buffers + 2 entries, so one submit frees room */
    io_uring_submit(&w->ring);
    sqe = io_uring_get_sqe(&w->ring);
  }
  return sqe;
}

/* Queue the unwritten rest of buffer `i`. */
static int queue_write(struct myelon_journal_writer *w, uint32_t i)
{
  struct wbuf *b = &w->buf[i];
  struct io_uring_sqe *sqe = get_sqe(w);
  if (!sqe)
    return fail_sticky(w, -EBUSY);
  if (w->fixed)
    io_uring_prep_write_fixed(sqe, b->fd, b->mem + b->done, b->used - b->done, b->off + b->done, (int)i);
  else
    io_uring_prep_write(sqe, b->fd, b->mem + b->done, b->used - b->done, b->off + b->done);
  io_uring_sqe_set_data64(sqe, i);
  int rc = io_uring_submit(&w->ring);
  return rc < 0 ? fail_sticky(w, rc) : 0;
}

static void complete_sync(struct myelon_journal_writer *w, int res)
{
  w->sync_inflight = false;
  if (res < 0) {
    fail_sticky(w, res);
    return;
  }
  w->st.syncs++;
  if (!w->sync_tainted && w->sync_snapshot > w->st.durable)
    w->st.durable = w->sync_snapshot;
}

static void complete(struct myelon_journal_writer *w, uint64_t tag, int res)
{
  if (tag == SYNC_TAG) {
    complete_sync(w, res);
    return;
  }
  struct wbuf *b = &w->buf[tag];
  if (res == 0 && b->used > b->done)
    res = -EIO; /* no progress on a regular file: do not spin */
  if (res < 0) {
    b->state = B_FAILED;
    fail_sticky(w, res);
    return;
  }
  b->done += (uint32_t)res;
  if (b->done < b->used) { /* short write (e.g. at a file size limit): write the rest */
    if (w->sync_inflight)
      w->sync_tainted = true; /* it would land after the sync */
    if (queue_write(w, (uint32_t)tag) < 0)
      b->state = B_FAILED;
    return;
  }
  b->state = B_DONE;
}

/* Process completions; with `wait`, block for at least one first. */
static int reap(struct myelon_journal_writer *w, bool wait)
{
  struct io_uring_cqe *cqe;
  if (wait) {
    int rc;
    do
      rc = io_uring_wait_cqe(&w->ring, &cqe);
    while (rc == -EINTR);
    if (rc < 0)
      return fail_sticky(w, rc);
  }
  while (io_uring_peek_cqe(&w->ring, &cqe) == 0) {
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    io_uring_cqe_seen(&w->ring, cqe);
    complete(w, tag, res);
  }
  retire(w);
  return 0;
}
#endif

/* Wait until no write or sync is in flight (or one failed). */
static int drain(struct myelon_journal_writer *w)
{
#ifdef MYELON_HAVE_URING
  while (w->uring && (w->sync_inflight || w->st.in_flight > 0)) {
    bool any_inflight = w->sync_inflight;
    for (uint32_t k = 0; k < w->fifo_len && !any_inflight; k++)
      any_inflight = w->buf[w->fifo[(w->fifo_head + k) % MAX_BUFFERS]].state == B_INFLIGHT;
    if (!any_inflight)
      break; /* only FAILED/DONE left behind a failure */
    int rc = reap(w, true);
    if (rc < 0)
      return rc;
  }
#endif
  return w->st.error;
}

static int submit(struct myelon_journal_writer *w)
{
  if (w->cur < 0)
    return 0;
  uint32_t i = (uint32_t)w->cur;
  struct wbuf *b = &w->buf[i];
  w->cur = -1;
  b->state = B_INFLIGHT;
  b->rec_cum = w->st.appended;
  b->bytes_cum = w->st.bytes_appended;
  w->fifo[(w->fifo_head + w->fifo_len) % MAX_BUFFERS] = i;
  w->fifo_len++;
  w->st.in_flight++;
#ifdef MYELON_HAVE_URING
  if (w->uring) {
    int qrc = queue_write(w, i);
    if (qrc < 0)
      b->state = B_FAILED;
    return qrc;
  }
#endif
  int rc = pwrite_all(b->fd, b->mem, b->used, b->off);
  if (rc < 0) {
    b->state = B_FAILED;
    return fail_sticky(w, rc);
  }
  b->state = B_DONE;
  retire(w);
  return 0;
}

/* A buffer to fill, waiting for the oldest write if all are in flight. */
static int take_buffer(struct myelon_journal_writer *w)
{
  for (;;) {
    if (w->st.error)
      return w->st.error;
    for (uint32_t i = 0; i < w->nbuf; i++)
      if (w->buf[i].state == B_FREE) {
        w->buf[i].state = B_FILLING;
        w->buf[i].fd = w->fd;
        w->buf[i].off = w->part_size;
        w->buf[i].used = w->buf[i].done = 0;
        w->cur = (int)i;
        return 0;
      }
#ifdef MYELON_HAVE_URING
    int rc = reap(w, true);
    if (rc < 0)
      return rc;
#else
    return fail_sticky(w, -EIO); /* pwrite retires at once: unreachable */
#endif
  }
}

/* Copy `len` bytes at the end of the stream, across buffers. */
static int put(struct myelon_journal_writer *w, const void *src, size_t len)
{
  const uint8_t *p = src;
  while (len) {
    if (w->cur >= 0 && w->buf[w->cur].used == w->cfg.buffer_size) {
      int rc = submit(w);
      if (rc < 0)
        return rc;
    }
    if (w->cur < 0) {
      int rc = take_buffer(w);
      if (rc < 0)
        return rc;
    }
    struct wbuf *b = &w->buf[w->cur];
    size_t room = w->cfg.buffer_size - b->used;
    size_t n = len < room ? len : room;
    memcpy(b->mem + b->used, p, n);
    b->used += (uint32_t)n;
    w->part_size += n;
    w->st.bytes_appended += n;
    p += n;
    len -= n;
  }
  return 0;
}

/* ---- parts ------------------------------------------------------------- */

static int open_part(struct myelon_journal_writer *w, uint32_t part)
{
  char path[4096];
  int rc = myelon_journal_part_path(w->base, part, path, sizeof path);
  if (rc < 0)
    return dmp_error_set("myelon_journal_writer", "part %u of '%s': %s", part, w->base, myelon_strerror(rc)), rc;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)w->cfg.mode);
  if (fd < 0) {
    rc = -errno;
    dmp_error_set("myelon_journal_writer", "cannot create '%s': %s", path, strerror(errno));
    return rc;
  }
  struct myelon_journal_info info = w->cfg.info;
  info.part = part;
  info.created_ns = myelon_impl_clock_ns(CLOCK_REALTIME);
  uint8_t hdr[MYELON_JOURNAL_HEADER_SIZE];
  rc = myelon_journal_header_encode(&info, hdr);
  if (rc == 0)
    rc = pwrite_all(fd, hdr, sizeof hdr, 0);
  if (rc < 0) {
    dmp_error_set("myelon_journal_writer", "cannot write the header of '%s': %s", path, myelon_strerror(rc));
    close(fd);
    unlink(path);
    return rc;
  }
  w->fd = fd;
  w->part = part;
  w->part_size = MYELON_JOURNAL_HEADER_SIZE;
  w->st.parts = part;
  return 0;
}

/* Close the current part (all its writes done) and start the next. */
static int rotate(struct myelon_journal_writer *w)
{
  int rc = submit(w);
  if (rc == 0)
    rc = drain(w);
  if (rc < 0)
    return rc;
  if (w->sync_used) { /* the caller syncs: do not leave the old part behind */
    rc = (w->cfg.sync == MYELON_JOURNAL_FSYNC ? fsync(w->fd) : fdatasync(w->fd)) < 0 ? -errno : 0;
    if (rc < 0)
      return fail_sticky(w, rc);
    w->st.durable = w->st.written;
    w->st.syncs++;
  }
  if (w->part >= MYELON_JOURNAL_MAX_PARTS)
    return fail_sticky(w, -EFBIG);
  close(w->fd);
  w->fd = -1;
  rc = open_part(w, w->part + 1);
  return rc < 0 ? fail_sticky(w, rc) : 0;
}

/* Remove `<base>.NNNN` parts (MYELON_JOURNAL_W_OVERWRITE), or say one exists. */
static int check_existing(const char *base, bool remove)
{
  char path[4096];
  for (uint32_t part = 1; part <= MYELON_JOURNAL_MAX_PARTS; part++) {
    if (myelon_journal_part_path(base, part, path, sizeof path) < 0)
      return -ENAMETOOLONG;
    if (access(path, F_OK) != 0)
      return 0; /* parts are consecutive (a stray later one stops a rotation with -EEXIST) */
    if (!remove) {
      dmp_error_set("myelon_journal_writer_open", "'%s' exists (overwrite it explicitly)", path);
      return -EEXIST;
    }
    if (unlink(path) < 0) {
      int rc = -errno;
      dmp_error_set("myelon_journal_writer_open", "cannot remove '%s': %s", path, strerror(errno));
      return rc;
    }
  }
  return 0;
}

/* ---- I/O set-up -------------------------------------------------------- */

static int setup_io(struct myelon_journal_writer *w)
{
  w->st.backend = "pwrite";
  if (w->cfg.io == MYELON_JOURNAL_IO_PWRITE)
    return 0;
#ifdef MYELON_HAVE_URING
  int rc = io_uring_queue_init(w->nbuf + 2, &w->ring, 0);
  if (rc < 0) {
    if (w->cfg.io == MYELON_JOURNAL_IO_URING)
      return dmp_error_set("myelon_journal_writer_open", "io_uring unavailable: %s", strerror(-rc)), -EOPNOTSUPP;
    return 0; /* AUTO: fall back to pwrite */
  }
  w->uring = true;
  w->st.backend = "io_uring";
  struct iovec iov[MAX_BUFFERS];
  for (uint32_t i = 0; i < w->nbuf; i++)
    iov[i] = (struct iovec){.iov_base = w->buf[i].mem, .iov_len = w->cfg.buffer_size};
  /* Registered buffers save the kernel a page walk per write; if the
   * memlock limit refuses them, plain writes from the same buffers work. */
  w->fixed = io_uring_register_buffers(&w->ring, iov, w->nbuf) == 0;
  if (!w->fixed)
    w->st.backend = "io_uring-unregistered";
  return 0;
#else
  if (w->cfg.io == MYELON_JOURNAL_IO_URING)
    return dmp_error_set("myelon_journal_writer_open", "libmyelon was built without liburing"), -EOPNOTSUPP;
  return 0;
#endif
}

static int check_config(const struct myelon_journal_writer_config *cfg)
{
  int rc = MYELON_RESERVED_CHECK(cfg, "myelon_journal_writer_open", "cfg.reserved");
  if (rc < 0)
    return rc;
  const char *bad = NULL;
  if (!cfg->path || !cfg->path[0])
    bad = "cfg.path is required";
  else if (cfg->io > MYELON_JOURNAL_IO_PWRITE)
    bad = "cfg.io is not a myelon_journal_io";
  else if (cfg->buffer_size < 4096 || cfg->buffer_size > (256u << 20))
    bad = "cfg.buffer_size must be 4 KiB .. 256 MiB";
  else if (cfg->buffers < 2 || cfg->buffers > MAX_BUFFERS)
    bad = "cfg.buffers must be 2 .. 64";
  else if (cfg->sync > MYELON_JOURNAL_FSYNC)
    bad = "cfg.sync is not a myelon_journal_writer_sync";
  else if (cfg->flags & ~MYELON_JOURNAL_W_KNOWN)
    bad = "cfg.flags has unknown bits";
  else if (cfg->mode & ~07777u)
    bad = "cfg.mode has bits outside 07777";
  else if (cfg->info.kind != MYELON_JOURNAL_RAW && cfg->info.kind != MYELON_JOURNAL_FRAMED)
    bad = "cfg.info.kind is not a myelon_journal_kind";
  else if ((cfg->info.flags & ~MYELON_JOURNAL_F_KNOWN) ||
           !jnl_formats_ok((uint32_t)cfg->info.kind, cfg->info.frame_format, cfg->info.flags))
    bad = "cfg.info has unknown flags or an unknown frame format (MYELON_FRAME_BYTES goes with F_BYTES)";
  if (bad)
    return dmp_error_set("myelon_journal_writer_open", "%s", bad), -DMP_E_BADCONFIG;
  return 0;
}

static void free_writer(struct myelon_journal_writer *w)
{
#ifdef MYELON_HAVE_URING
  if (w->uring)
    io_uring_queue_exit(&w->ring);
#endif
  for (uint32_t i = 0; i < w->nbuf; i++)
    free(w->buf[i].mem);
  if (w->fd >= 0)
    close(w->fd);
  free(w->base);
  free(w);
}

int myelon_journal_writer_open(const struct myelon_journal_writer_config *cfg, struct myelon_journal_writer **out)
{
  struct myelon_journal_writer *w;
  MYELON_OPEN_BEGIN("myelon_journal_writer_open", cfg, out, check_config, w);
  int rc;
  w->cfg.info.recording_id = jnl_random64();
  if (w->cfg.mode == 0)
    w->cfg.mode = 0600;
  w->fd = -1;
  w->cur = -1;
  w->nbuf = cfg->buffers;
  w->base = strdup(cfg->path);
  rc = w->base ? 0 : -ENOMEM;
  for (uint32_t i = 0; i < w->nbuf && rc == 0; i++)
    if (!(w->buf[i].mem = aligned_alloc(4096, cfg->buffer_size)))
      rc = -ENOMEM;
  if (rc == 0)
    rc = check_existing(cfg->path, (cfg->flags & MYELON_JOURNAL_W_OVERWRITE) != 0);
  if (rc == 0)
    rc = setup_io(w);
  if (rc == 0)
    rc = open_part(w, 1);
  if (rc < 0) {
    free_writer(w);
    return rc;
  }
  *out = w;
  return 0;
}

/* ---- records ----------------------------------------------------------- */

int myelon_journal_writer_append(struct myelon_journal_writer *w, const struct myelon_journal_record *rec)
{
  if (!w || !rec || (rec->len && !rec->data))
    return -EINVAL;
  if (w->st.error)
    return w->st.error;
  uint8_t hdr[MYELON_JOURNAL_RECORD_HEADER];
  int rc = myelon_journal_record_header(hdr, rec, myelon_crc32c(0, rec->data, rec->len));
  if (rc < 0)
    return rc;
  uint64_t size = myelon_journal_record_size(rec->len);
  if (w->cfg.rotate_bytes && w->part_size > MYELON_JOURNAL_HEADER_SIZE && w->part_size + size > w->cfg.rotate_bytes) {
    rc = rotate(w);
    if (rc < 0)
      return rc;
  }
  static const uint8_t zeros[MYELON_JOURNAL_ALIGN];
  rc = put(w, hdr, sizeof hdr);
  if (rc == 0 && rec->len)
    rc = put(w, rec->data, rec->len);
  if (rc == 0)
    rc = put(w, zeros, size - sizeof hdr - rec->len);
  if (rc < 0)
    return rc;
  w->st.appended++;
  /* Submit a full buffer only now, so that its record count includes a
   * record that ends exactly at its end. */
  if (w->buf[w->cur].used == w->cfg.buffer_size)
    return submit(w);
  return 0;
}

int myelon_journal_writer_poll(struct myelon_journal_writer *w)
{
  if (!w)
    return -EINVAL;
#ifdef MYELON_HAVE_URING
  if (w->uring) {
    int rc = reap(w, false);
    if (rc < 0)
      return rc;
  }
#endif
  return w->st.error;
}

int myelon_journal_writer_flush(struct myelon_journal_writer *w)
{
  if (!w)
    return -EINVAL;
  if (w->st.error)
    return w->st.error;
  if (w->cur >= 0 && w->buf[w->cur].used) {
    int rc = submit(w);
    if (rc < 0)
      return rc;
  }
  return myelon_journal_writer_poll(w);
}

static int sync_now(struct myelon_journal_writer *w)
{
  int rc = (w->cfg.sync == MYELON_JOURNAL_FSYNC ? fsync(w->fd) : fdatasync(w->fd)) < 0 ? -errno : 0;
  if (rc < 0)
    return fail_sticky(w, rc);
  w->st.syncs++;
  w->st.durable = w->st.written;
  return 0;
}

int myelon_journal_writer_sync_start(struct myelon_journal_writer *w)
{
  int rc = myelon_journal_writer_flush(w);
  if (rc < 0)
    return rc;
  w->sync_used = true;
#ifdef MYELON_HAVE_URING
  if (w->uring) {
    if (w->sync_inflight)
      return 0;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (!sqe)
      return fail_sticky(w, -EBUSY);
    io_uring_prep_fsync(sqe, w->fd, w->cfg.sync == MYELON_JOURNAL_FSYNC ? 0 : IORING_FSYNC_DATASYNC);
    /* DRAIN: starts only after every write submitted before it completed,
     * which is what makes `sync_snapshot` records durable. */
    io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
    io_uring_sqe_set_data64(sqe, SYNC_TAG);
    w->sync_snapshot = w->st.appended;
    w->sync_tainted = false;
    w->sync_inflight = true;
    rc = io_uring_submit(&w->ring);
    if (rc < 0) {
      w->sync_inflight = false;
      return fail_sticky(w, rc);
    }
    return 0;
  }
#endif
  return sync_now(w);
}

int myelon_journal_writer_sync(struct myelon_journal_writer *w)
{
  int rc = myelon_journal_writer_flush(w);
  if (rc < 0)
    return rc;
  w->sync_used = true;
  rc = drain(w);
  return rc < 0 ? rc : sync_now(w);
}

void myelon_journal_writer_stats(const struct myelon_journal_writer *w, struct myelon_journal_writer_stats *st)
{
  *st = w->st;
}

int myelon_journal_writer_close(struct myelon_journal_writer *w, struct myelon_journal_writer_stats *final)
{
  if (!w) {
    if (final)
      memset(final, 0, sizeof *final);
    return 0;
  }
  if (w->st.error == 0 && w->cur >= 0 && w->buf[w->cur].used)
    submit(w);
  drain(w);
  int rc = w->st.error;
  if (final)
    *final = w->st;
  free_writer(w);
  return rc;
}
