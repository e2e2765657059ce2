/* Control block of a case (see ctl.h). */
#define _GNU_SOURCE
#include "ctl.h"
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

bool bench_ctl_polite;

#define CTL_LEN 4096

int bench_ctl_create(struct bench_ctl **out)
{
  int fd = memfd_create("myelon-bench-ctl", 0); /* no CLOEXEC: children inherit it */
  if (fd < 0)
    return -errno;
  if (ftruncate(fd, CTL_LEN) < 0) {
    int rc = -errno;
    close(fd);
    return rc;
  }
  int rc = bench_ctl_map(fd, out);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  return fd;
}

int bench_ctl_map(int fd, struct bench_ctl **out)
{
  void *p = mmap(NULL, CTL_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return -errno;
  *out = p;
  return 0;
}

static int wait_count(struct bench_ctl *ctl, _Atomic uint32_t *v, uint32_t n, int64_t timeout_ns)
{
  int64_t deadline = bench_deadline(timeout_ns);
  /* Acquire: what the other role did before its increment is visible. */
  while (atomic_load_explicit(v, memory_order_acquire) < n) {
    if (atomic_load_explicit(&ctl->failed, memory_order_relaxed))
      return -ECANCELED;
    if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
    bench_sleep_ns(50000);
  }
  return 0;
}

int bench_ctl_barrier(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns)
{
  atomic_fetch_add_explicit(&ctl->ready, 1, memory_order_acq_rel);
  return wait_count(ctl, &ctl->ready, n, timeout_ns);
}

int bench_ctl_wait_done(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns)
{
  return wait_count(ctl, &ctl->rx_done, n, timeout_ns);
}

void bench_ctl_left(struct bench_ctl *ctl)
{
  atomic_fetch_add_explicit(&ctl->left, 1, memory_order_release);
}

int bench_ctl_wait_left(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns)
{
  return wait_count(ctl, &ctl->left, n, timeout_ns);
}

static int wait_step(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns, bool polite)
{
  int64_t deadline = 0;
  for (uint64_t i = 0; atomic_load_explicit(&ctl->step, memory_order_acquire) < n; i++) {
    if (polite)
      bench_sleep_ns(20000);
    else
      bench_relax();
    if (!polite && (i & 1023) != 1023)
      continue;
    if (atomic_load_explicit(&ctl->failed, memory_order_relaxed))
      return -ECANCELED;
    if (deadline == 0)
      deadline = bench_deadline(timeout_ns);
    else if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
  }
  return 0;
}

int bench_ctl_wait_step(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns)
{
  return wait_step(ctl, n, timeout_ns, bench_ctl_polite);
}

int bench_ctl_wait_step_sleeping(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns)
{
  return wait_step(ctl, n, timeout_ns, true);
}

void bench_ctl_arrive(struct bench_ctl *ctl)
{
  /* Release: pairs with the acquire load in bench_ctl_wait_arrived(). */
  atomic_fetch_add_explicit(&ctl->arrived, 1, memory_order_release);
}

int bench_ctl_wait_arrived(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns)
{
  int64_t deadline = 0;
  /* Acquire: pairs with the other writers' release increments. */
  for (uint64_t i = 0; atomic_load_explicit(&ctl->arrived, memory_order_acquire) < n; i++) {
    /* Yield now and then: the writer we wait for may share our core. */
    if ((i & 63) == 63)
      sched_yield();
    else
      bench_relax();
    if ((i & 1023) != 1023)
      continue;
    if (atomic_load_explicit(&ctl->failed, memory_order_relaxed))
      return -ECANCELED;
    if (deadline == 0)
      deadline = bench_deadline(timeout_ns);
    else if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
  }
  return 0;
}
