/**
 * @file subj_fd.c
 * @brief Kernel byte streams as subjects: "uds" (a Unix-domain SOCK_STREAM
 * socket per direction) and "pipe" (a named FIFO per direction), both in
 * the case's private temp dir.
 *
 * Messages have a fixed size, so a message is exactly `len` bytes on the
 * stream: send writes them all, receive reads them all, blocking in the
 * kernel (these transports have no spin mode). The receiver of a socket
 * listens and accepts; the sender connects, retrying until the listener is
 * there (bounded). A FIFO's sender opens it non-blocking until a reader has
 * it open (bounded); its buffer is raised to capacity x size (64 KiB ..
 * 1 MiB, the unprivileged limit) so it queues like the rings do.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct fd_end {
  int fd;
  bool got_any; /* FIFO: read() == 0 before the first byte means "no writer yet" */
};

static void end_path(const struct bench_chan *ch, char kind, char *out, size_t n)
{
  snprintf(out, n, "%s/%s%c%u", ch->c->tmpdir, ch->c->tag, kind, ch->dir);
}

static int wrap(int fd, void **out)
{
  struct fd_end *e = calloc(1, sizeof *e);
  if (!e) {
    close(fd);
    return -ENOMEM;
  }
  e->fd = fd;
  *out = e;
  return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_all(struct fd_end *e, void *buf, size_t len)
{
  uint8_t *p = buf;
  int64_t deadline = 0;
  while (len > 0) {
    ssize_t n = read(e->fd, p, len);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      e->got_any = true;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (e->got_any) /* EOF after data: the sender is gone */
      return -EPIPE;
    if (deadline == 0)
      deadline = bench_deadline(BENCH_STEP_TIMEOUT_NS);
    if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
    bench_sleep_ns(100000); /* FIFO with no writer yet */
  }
  return 0;
}

static void fd_close(void *h)
{
  struct fd_end *e = h;
  if (!e)
    return;
  close(e->fd);
  free(e);
}

static int fd_send(void *tx, const void *buf, size_t len) { return write_all(((struct fd_end *)tx)->fd, buf, len); }
static int fd_recv(void *rx, void *buf, size_t len) { return read_all(rx, buf, len); }
static int fd_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  (void)tx, (void)n, (void)timeout_ns; /* connected (or opened) means ready */
  return 0;
}

/* ---- Unix-domain sockets ---- */

static int uds_addr(const struct bench_chan *ch, struct sockaddr_un *a)
{
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  char path[BENCH_PATH_MAX + 32];
  end_path(ch, 'u', path, sizeof path);
  if (strlen(path) >= sizeof a->sun_path)
    return -ENAMETOOLONG;
  memcpy(a->sun_path, path, strlen(path) + 1);
  return 0;
}

static int uds_tx_open(const struct bench_chan *ch, void **tx)
{
  struct sockaddr_un a;
  int rc = uds_addr(ch, &a);
  if (rc < 0)
    return rc;
  int64_t deadline = bench_deadline(BENCH_STEP_TIMEOUT_NS);
  for (;;) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
      return wrap(fd, tx);
    rc = -errno;
    close(fd);
    if ((rc != -ENOENT && rc != -ECONNREFUSED) || bench_mono_ns() > deadline)
      return rc;
    bench_sleep_ns(200000);
  }
}

static int uds_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  (void)idx;
  struct sockaddr_un a;
  int rc = uds_addr(ch, &a);
  if (rc < 0)
    return rc;
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0)
    return -errno;
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1) < 0) {
    rc = -errno;
    close(lfd);
    return rc;
  }
  struct pollfd pfd = {.fd = lfd, .events = POLLIN};
  int n = poll(&pfd, 1, (int)(BENCH_STEP_TIMEOUT_NS / 1000000));
  int fd = n == 1 ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
  rc = n == 1 ? -errno : -ETIMEDOUT;
  close(lfd);
  unlink(a.sun_path); /* connected: the name is no longer needed */
  return fd >= 0 ? wrap(fd, rx) : rc;
}

static void fd_cleanup(const struct bench_case *c)
{
  char path[BENCH_PATH_MAX + 32];
  for (unsigned d = 0; d < 2; d++) {
    struct bench_chan ch = {.c = c, .dir = d};
    end_path(&ch, 'u', path, sizeof path);
    unlink(path);
    end_path(&ch, 'q', path, sizeof path);
    unlink(path);
  }
}

/* ---- FIFOs ---- */

static int fifo_make(const struct bench_chan *ch, char *path, size_t n)
{
  end_path(ch, 'q', path, n);
  if (mkfifo(path, 0600) < 0 && errno != EEXIST)
    return -errno;
  return 0;
}

static int fifo_tx_open(const struct bench_chan *ch, void **tx)
{
  char path[BENCH_PATH_MAX + 32];
  int rc = fifo_make(ch, path, sizeof path);
  if (rc < 0)
    return rc;
  int64_t deadline = bench_deadline(BENCH_STEP_TIMEOUT_NS);
  int fd;
  while ((fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
    if (errno != ENXIO || bench_mono_ns() > deadline) /* ENXIO: no reader yet */
      return errno == ENXIO ? -ETIMEDOUT : -errno;
    bench_sleep_ns(200000);
  }
  fcntl(fd, F_SETFL, 0);
  uint64_t want = ch->c->capacity * ch->c->size;
  want = want < 65536 ? 65536 : want > (1u << 20) ? (1u << 20) : want;
  (void)fcntl(fd, F_SETPIPE_SZ, (int)want); /* best effort */
  unlink(path); /* both ends are open */
  return wrap(fd, tx);
}

static int fifo_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  (void)idx;
  char path[BENCH_PATH_MAX + 32];
  int rc = fifo_make(ch, path, sizeof path);
  if (rc < 0)
    return rc;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  fcntl(fd, F_SETFL, 0);
  return wrap(fd, rx);
}

const struct bench_subject bench_subj_uds = {
    .name = "uds",
    .transport = "Unix socket (SOCK_STREAM)",
    .family = BENCH_FAMILY_COMPETITOR,
    .tx_open = uds_tx_open,
    .tx_ready = fd_tx_ready,
    .send = fd_send,
    .tx_close = fd_close,
    .rx_open = uds_rx_open,
    .recv = fd_recv,
    .rx_close = fd_close,
    .cleanup = fd_cleanup,
};

const struct bench_subject bench_subj_pipe = {
    .name = "pipe",
    .transport = "named pipe (FIFO)",
    .family = BENCH_FAMILY_COMPETITOR,
    .tx_open = fifo_tx_open,
    .tx_ready = fd_tx_ready,
    .send = fd_send,
    .tx_close = fd_close,
    .rx_open = fifo_rx_open,
    .recv = fd_recv,
    .rx_close = fd_close,
    .cleanup = fd_cleanup,
};
