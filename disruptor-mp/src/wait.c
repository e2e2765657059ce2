/* Futex park/wake on words inside the shared segment, and the non-parking
 * wait strategies. Shared (not PRIVATE) futexes: waiters and wakers are in
 * different processes, keyed by the mapped file page. */
#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int dmp_impl_futex_wait(dmp_atomic_u32 *word, uint32_t expected, int64_t timeout_ns)
{
  struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
  long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, &ts, NULL, 0);
  if (rc == 0 || errno == EAGAIN)
    return 0;
  return -errno;
}

void dmp_impl_futex_wake(dmp_atomic_u32 *word)
{
  (void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

int dmp_impl_wait_validate(const struct dmp_wait_strategy *w, const char *fn)
{
  if ((unsigned)w->kind > DMP_WAIT_SLEEP) {
    dmp_impl_set_error(fn, "wait.kind %d is not a dmp_wait_kind", (int)w->kind);
    return -DMP_E_BADCONFIG;
  }
  if (w->sleep_ns > 1000000000u) {
    dmp_impl_set_error(fn, "wait.sleep_ns %u is longer than 1 s", w->sleep_ns);
    return -DMP_E_BADCONFIG;
  }
  return 0;
}

struct dmp_wait_strategy dmp_impl_wait_normalise(const struct dmp_wait_strategy *w, bool wakeups)
{
  struct dmp_wait_strategy n = *w;
  if (n.spins == 0)
    n.spins = DMP_WAIT_DEFAULT_SPINS;
  if (n.sleep_ns == 0)
    n.sleep_ns = DMP_WAIT_DEFAULT_SLEEP_NS;
  if (n.kind == DMP_WAIT_BLOCK && !wakeups)
    n.kind = DMP_WAIT_SLEEP;
  return n;
}

void dmp_impl_wait_step(const struct dmp_wait_strategy *w, uint64_t iter)
{
  if (w->kind == DMP_WAIT_SPIN || iter < w->spins) {
    dmp_impl_cpu_relax();
    return;
  }
  if (w->kind == DMP_WAIT_YIELD || w->kind == DMP_WAIT_BLOCK)
    sched_yield();
  else
    dmp_impl_sleep_ns(w->sleep_ns);
}
