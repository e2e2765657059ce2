/**
 * @file atomics.h
 * @brief Tiny wrappers over C11 `<stdatomic.h>` with kernel-like names.
 *
 * Cross-process atomics live in MAP_SHARED memory, so they must be lock-free:
 * a lock-based fallback would keep its lock in process-local memory and
 * silently stop being atomic between processes. The static assertions below
 * refuse to build on a target where that could happen.
 *
 * Every non-relaxed use in the library carries a label (P1, C1, ...) and
 * names the operation it pairs with.
 */
#ifndef DISRUPTOR_MP_ATOMICS_H
#define DISRUPTOR_MP_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free for cross-process use");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free for cross-process use");

typedef _Atomic int64_t dmp_atomic_i64;
typedef _Atomic uint64_t dmp_atomic_u64;
typedef _Atomic uint32_t dmp_atomic_u32;

#define dmp_impl_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define dmp_impl_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define dmp_impl_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define dmp_impl_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define dmp_impl_fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)
#define dmp_impl_fence_acquire() atomic_thread_fence(memory_order_acquire)
/** Compiler-only barrier: no instruction, but the compiler may not move a
 * memory access across it. The fast side of the asymmetric wake-up protocol
 * (wait.h) uses it where the slow side issues membarrier(2). */
#define dmp_impl_compiler_barrier() atomic_signal_fence(memory_order_seq_cst)

/** CPU relaxation hint for spin loops (PAUSE on x86, YIELD on arm64). */
static inline void dmp_impl_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif /* DISRUPTOR_MP_ATOMICS_H */
