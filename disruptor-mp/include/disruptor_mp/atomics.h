/**
 * @file atomics.h
 * @brief Tiny wrappers over the GCC/Clang `__atomic` builtins with
 * kernel-like names, the same in C and in C++.
 *
 * Cross-process atomics live in MAP_SHARED memory, so they must be lock-free:
 * a lock-based fallback would keep its lock in process-local memory and
 * silently stop being atomic between processes. The static assertions below
 * refuse to build on a target where that could happen.
 *
 * Why builtins and not C11 `_Atomic`: these headers are also compiled as
 * C++ (the inline hot path of producer.h and consumer.h), where `_Atomic`
 * does not exist before C++23 and `std::atomic<T>` promises neither C's
 * layout nor C's operations. Each shared atomic is instead a one-member
 * struct (dmp_atomic_i64/u64/u32) holding a plain, naturally aligned
 * integer, and every access goes through the macros below, which expand to
 * the builtin with the named ordering. Both languages thus see one layout
 * and the same instructions; gcc's own `<stdatomic.h>` expands to these
 * builtins, so the C build's code is what it was with `_Atomic`, and TSan
 * instruments the builtins as it did the C11 operations. The struct keeps
 * `_Atomic`'s safety: a plain read, write or `++` of a shared atomic does not
 * compile, so every access is one of the labelled operations.
 *
 * Every atomic operation of the library goes through the wrappers below
 * (macros: no call, the same code as the C11 operation they name) and
 * carries a label naming the operation it pairs with; every relaxed one
 * says why relaxed is enough. One label names one operation; where the
 * same operation is made at several places (C1, C2, T1) each carries it.
 *
 *   label  operation (where)                         pairs with
 *   -----  ----------------------------------------  -------------------
 *   R1/R2  ring header `ready`: release store at       each other
 *          creation / acquire load at attach (segment.c)
 *   P1     release store of the producer cursor        C1, W1
 *          (publish, producer.h)
 *   P2     publish's barrier, then relaxed load of     W1
 *          data_waiters (producer.h)
 *   P3     acquire load of an entry's state in the     T1
 *          producer's scan (table.c)
 *   P4     relaxed store of gate_limit, full fence,    J1, N1
 *          acquire re-load of table_seq (producer.c)
 *   P5     acquire load of a gating consumer's cursor  C2, C4
 *          in the producer's scan (table.c)
 *   P6     acquire load of table_seq before a scan     T2
 *          or a wait for consumers (producer.c)
 *   C1     acquire load of the producer cursor         P1
 *          (consumer.h, consumer.c)
 *   C2     release store of the consumer's own cursor  P5, L5, T6, T8
 *          (release, lossy_commit)
 *   C3     release's barrier, then relaxed load of     W2
 *          space_waiters (consumer.h)
 *   C4     release store of a joining consumer's       P5
 *          settled start (consumer.c, join)
 *   W1     seq_cst increment of data_waiters, W3,      P2
 *          seq_cst re-load of the producer cursor (consumer.c)
 *   W2     seq_cst increment of space_waiters, W3,     C3
 *          re-load of the cursors (producer.c)
 *   W3     the waiter's full fence (wait.c)            P2/C3 fence mode
 *   T1     release store of an entry's state, under    P3, E1, L1-L4, T5,
 *          the table lock (attach, close, evict)       T7, I1
 *   T2     seq_cst increment of table_seq (table.c)    P4, P6
 *   T3     release store of table_hwm (consumer.c)     T4, I2
 *   T4     acquire load of table_hwm (table.c)         T3
 *   T5/T7  acquire loads of an entry's state in table  T1
 *          snapshots (table.c); T6/T8 of its cursor    C2
 *   J1     full fence between a joiner's T1/T2 and     P4
 *          its loads of gate_limit and the cursor (consumer.c)
 *   N1     a non-gating reader's acquire fence between P4
 *          its copy and its load of gate_limit (consumer.c)
 *   E1     acquire load of our own entry's state       T1
 *          (consumer.c, entry_ours)
 *   L1-L4  acquire loads of entry states by liveness   T1
 *          (liveness.c); L5/L6 of cursors             C2
 *   I1-I3  acquire loads of the inspector (inspect.c)  T1, T3, P1
 *   K0-K5  counters seqlock and ready marker           see counters.h
 *          (counters.c, counters_segment.c)
 *   M1/M2  this process's membarrier state (wait.c)    each other
 *   X1     an event processor's stop flag: release     each other
 *          store (stop) / acquire load (its thread; processor.c)
 *   X2     its state: release stores by the thread     each other
 *          after error and detail / acquire loads by the owner
 *   X3     its sequence and count: relaxed (progress   -
 *          figures, nothing is read through them)
 */
#ifndef DISRUPTOR_MP_ATOMICS_H
#define DISRUPTOR_MP_ATOMICS_H

#include <assert.h> /* static_assert: a macro in C11, a keyword in C++ */
#include <stdalign.h>
#include <stdint.h>

static_assert(__GCC_ATOMIC_LLONG_LOCK_FREE == 2 && __GCC_ATOMIC_LONG_LOCK_FREE == 2, "64-bit atomics must be lock-free for cross-process use");
static_assert(__GCC_ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free for cross-process use");

/* The member's alignment is the type's size, as C11's `_Atomic int64_t`
 * has it (i386 would otherwise align a plain int64_t member to 4). */
typedef struct dmp_atomic_i64 { alignas(8) int64_t raw; } dmp_atomic_i64;
typedef struct dmp_atomic_u64 { alignas(8) uint64_t raw; } dmp_atomic_u64;
typedef struct dmp_atomic_u32 { alignas(4) uint32_t raw; } dmp_atomic_u32;
static_assert(sizeof(dmp_atomic_i64) == 8 && alignof(dmp_atomic_i64) == 8, "dmp_atomic_i64 is a bare int64_t");
static_assert(sizeof(dmp_atomic_u64) == 8 && alignof(dmp_atomic_u64) == 8, "dmp_atomic_u64 is a bare uint64_t");
static_assert(sizeof(dmp_atomic_u32) == 4 && alignof(dmp_atomic_u32) == 4, "dmp_atomic_u32 is a bare uint32_t");

/* `p` points to one of the dmp_atomic_* structs above. */
#define dmp_impl_load_acquire(p) __atomic_load_n(&(p)->raw, __ATOMIC_ACQUIRE)
#define dmp_impl_load_seq_cst(p) __atomic_load_n(&(p)->raw, __ATOMIC_SEQ_CST)
#define dmp_impl_load_relaxed(p) __atomic_load_n(&(p)->raw, __ATOMIC_RELAXED)
#define dmp_impl_store_release(p, v) __atomic_store_n(&(p)->raw, (v), __ATOMIC_RELEASE)
#define dmp_impl_store_seq_cst(p, v) __atomic_store_n(&(p)->raw, (v), __ATOMIC_SEQ_CST)
#define dmp_impl_store_relaxed(p, v) __atomic_store_n(&(p)->raw, (v), __ATOMIC_RELAXED)
#define dmp_impl_fetch_add_seq_cst(p, v) __atomic_fetch_add(&(p)->raw, (v), __ATOMIC_SEQ_CST)
#define dmp_impl_fetch_add_relaxed(p, v) __atomic_fetch_add(&(p)->raw, (v), __ATOMIC_RELAXED)
#define dmp_impl_fetch_sub_relaxed(p, v) __atomic_fetch_sub(&(p)->raw, (v), __ATOMIC_RELAXED)
/** Weak compare-and-swap, relaxed on success and failure: `*e` (a plain
 * integer of the same type) gets the current value when it fails. For
 * statistics (maxima) only. */
#define dmp_impl_cas_weak_relaxed(p, e, d) \
  __atomic_compare_exchange_n(&(p)->raw, (e), (d), 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
#define dmp_impl_fence_seq_cst() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define dmp_impl_fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define dmp_impl_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)
/** Compiler-only barrier: no instruction, but the compiler may not move a
 * memory access across it. The fast side of the asymmetric wake-up protocol
 * (wait.h) uses it where the slow side issues membarrier(2). */
#define dmp_impl_compiler_barrier() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/** CPU relaxation hint for spin loops (PAUSE on x86, YIELD on arm64). */
static inline void dmp_impl_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  dmp_impl_compiler_barrier();
#endif
}

#endif /* DISRUPTOR_MP_ATOMICS_H */
