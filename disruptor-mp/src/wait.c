/* Futex park/wake on words inside the shared segment, and the non-parking
 * wait strategies. Shared (not PRIVATE) futexes: waiters and wakers are in
 * different processes, keyed by the mapped file page. */
#include "internal.h"
#include "env_internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int dmp_impl_futex_wait(dmp_atomic_u32 *word, uint32_t expected, int64_t timeout_ns)
{
  struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000), .tv_nsec = (long)(timeout_ns % 1000000000)};
  long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, &ts, NULL, 0);
  if (rc == 0 || errno == EAGAIN)
    return 0;
  return -errno;
}

void dmp_impl_futex_wake(dmp_atomic_u32 *word)
{
  (void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* ---- the wake-up protocol's barriers (wait.h, "Wake-up protocol") -------- */

/* This process's membarrier(2) state: 0 not probed yet, 1 usable, -1 not.
 * Process-wide like the kernel's registration it mirrors: a forked child
 * inherits both, exec resets both. */
static struct { int raw; } membarrier_state; /* accessed only through atomics.h */

static long membarrier_call(int cmd)
{
#ifdef SYS_membarrier
  return syscall(SYS_membarrier, cmd, 0u, 0);
#else
  (void)cmd;
  errno = ENOSYS;
  return -1;
#endif
}

static int membarrier_probe(void)
{
  const char *env = getenv("DMP_MEMBARRIER");
  if (env && strcmp(env, "0") == 0)
    return -1;
  long q = membarrier_call(MEMBARRIER_CMD_QUERY);
  const long need = MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;
  if (q < 0 || (q & need) != need)
    return -1;
  /* Register (idempotent), then issue one barrier: a seccomp filter that
   * refuses the command answers now, not on the first park. */
  if (membarrier_call(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0 ||
      membarrier_call(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0)
    return -1;
  return 1;
}

bool dmp_impl_membarrier_usable(void)
{
  /* M1: acquire load; pairs with M2, so a thread that reads 1 also sees
   * this process's registration done. */
  int st = dmp_impl_load_acquire(&membarrier_state);
  if (st == 0) {
    /* Two threads may probe at once: both register (idempotent) and reach
     * the same answer. The store is a release so that a thread that reads
     * 1 also sees the registration as done. */
    st = membarrier_probe();
    dmp_impl_store_release(&membarrier_state, st); /* M2: pairs with M1 */
  }
  return st > 0;
}

bool dmp_impl_membarrier_global(void)
{
  return dmp_impl_membarrier_usable() && membarrier_call(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}

uint32_t dmp_impl_wake_seg_flags(uint32_t ring_flags)
{
  if (ring_flags & DMP_RING_NO_WAKEUPS)
    return 0;
  if (!(ring_flags & DMP_RING_NO_MEMBARRIER) && dmp_impl_membarrier_usable())
    return DMP_SEG_F_WAKEUPS | DMP_SEG_F_MEMBARRIER;
  return DMP_SEG_F_WAKEUPS;
}

void dmp_impl_wake_setup(struct dmp_impl_ring *r)
{
  /* The header was validated (unknown flags refused) and is immutable once
   * ready: read it once here, never again on the hot path. */
  uint32_t f = r->ctl->header.flags;
  r->seg->wake_membarrier = false;
  if (!(f & DMP_SEG_F_WAKEUPS)) {
    r->wakeups = DMP_IMPL_WAKE_NONE;
    return;
  }
  if (!(f & DMP_SEG_F_MEMBARRIER)) {
    r->wakeups = DMP_IMPL_WAKE_FENCE;
    return;
  }
  r->seg->wake_membarrier = true;
  /* Our fast side may drop its fence only if our process receives the
   * waiters' membarriers, i.e. registered successfully. */
  r->wakeups = dmp_impl_membarrier_usable() ? DMP_IMPL_WAKE_BARRIER : DMP_IMPL_WAKE_FENCE;
}

int64_t dmp_impl_waiter_sync(const struct dmp_impl_ring *r, int64_t max_ns)
{
  /* W3: full fence after the waiter's increment (W1, W2); pairs with a
   * fast side in DMP_IMPL_WAKE_FENCE mode (its P2/C3 fence). */
  dmp_impl_fence_seq_cst();
  if (!r->seg->wake_membarrier)
    return max_ns;
  /* Pairs with a fast side in DMP_IMPL_WAKE_BARRIER mode (its compiler
   * barrier at P2/C3): on return every registered thread has passed a full
   * barrier, so it either sees our increment or its cursor store is
   * visible to the re-read that follows. */
  if (dmp_impl_membarrier_usable() && membarrier_call(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0)
    return max_ns;
  /* Cannot order against compiler-barrier peers: never sleep long on a
   * wake-up that might not come. */
  return max_ns < DMP_IMPL_UNSYNCED_PARK_NS ? max_ns : DMP_IMPL_UNSYNCED_PARK_NS;
}

int dmp_impl_wait_validate(const struct dmp_wait_strategy *w, const char *field)
{
  if ((unsigned)w->kind > DMP_WAIT_SLEEP)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%s.kind %d is not a dmp_wait_kind", field, (int)w->kind);
  if (w->sleep_ns > 1000000000u)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%s.sleep_ns %u is longer than 1 s", field, w->sleep_ns);
  if (w->liveness_ms > DMP_WAIT_LIVENESS_MAX_MS)
    return DMP_FAIL(-DMP_E_BADCONFIG, "%s.liveness_ms %u is longer than %u (1 h)", field, w->liveness_ms,
                    DMP_WAIT_LIVENESS_MAX_MS);
  char reserved[64];
  snprintf(reserved, sizeof reserved, "%s.reserved", field);
  return dmp_impl_reserved_check(w->reserved, sizeof w->reserved, reserved);
}

struct dmp_wait_strategy dmp_impl_wait_normalise(const struct dmp_wait_strategy *w, bool wakeups)
{
  struct dmp_wait_strategy n = *w;
  /* 0 means "default": the environment's (env.h), else the compiled one. */
  if (n.spins == 0)
    n.spins = dmp_impl_env_u32(DMP_ENV_WAIT_SPINS, 1, DMP_ENV_SPINS_MAX, DMP_WAIT_DEFAULT_SPINS);
  if (n.sleep_ns == 0)
    n.sleep_ns = dmp_impl_env_u32(DMP_ENV_WAIT_SLEEP_NS, 1, 1000000000u, DMP_WAIT_DEFAULT_SLEEP_NS);
  if (n.liveness_ms == 0)
    n.liveness_ms = dmp_impl_env_u32(DMP_ENV_WAIT_LIVENESS_MS, 1, DMP_WAIT_LIVENESS_MAX_MS,
                                     (uint32_t)(DMP_WAIT_LIVENESS_NS / 1000000));
  if (n.kind == DMP_WAIT_BLOCK && !wakeups)
    n.kind = DMP_WAIT_SLEEP;
  return n;
}

bool dmp_impl_wait_step(const struct dmp_wait_strategy *w, uint64_t iter, int64_t deadline)
{
  if (w->kind == DMP_WAIT_SPIN || iter < w->spins) {
    dmp_impl_cpu_relax();
    return false;
  }
  if (w->kind == DMP_WAIT_YIELD || w->kind == DMP_WAIT_BLOCK) {
    sched_yield();
    return true;
  }
  /* sleep_ns may be up to 1 s: never sleep past the caller's deadline. */
  int64_t left = dmp_impl_remaining(deadline);
  dmp_impl_sleep_ns(left < (int64_t)w->sleep_ns ? left : (int64_t)w->sleep_ns);
  return true;
}
