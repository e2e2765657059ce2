/**
 * @file layout.h
 * @brief The shared-memory layout of one ring segment (layout version 1).
 *
 * One ring is one segment: a POSIX shared-memory object or a regular file,
 * mapped MAP_SHARED by every participant. Native endianness; every offset is
 * pinned by a static assertion below.
 *
 *   offset  size  what
 *   ------  ----  ---------------------------------------------------------
 *   0       128   struct dmp_segment_header (immutable once `ready` is set)
 *   128     64    producer cursor line: last published sequence (-1 = none;
 *                 a lazily moved lower bound on multi-producer rings)
 *   192     64    data_waiters: consumers parked on the producer cursor
 *   256     64    space_waiters: 1 while the producer is parked for space
 *   320     64    table_seq (futex) and table_hwm: consumer-table changes
 *   384     64    gate_limit: the producer's current free window (see below)
 *   448     64    multi-producer line: mp_claim, mp_tombstones, mp_bias,
 *                 mp_owner (zero on single-producer rings)
 *   512     128 x max_consumers   consumer table (struct dmp_consumer_entry)
 *   -- multi-producer rings only (DMP_SEG_F_MULTI_PRODUCER): --
 *   PT      128 x max_producers   producer table (struct dmp_producer_entry),
 *                                 PT = consumer table end
 *   MK      8 x capacity          publish markers (dmp_atomic_i64 per slot),
 *                                 MK = producer table end (64-aligned)
 *   -- all rings: --
 *   S       stride x capacity     slots, S = the end of what precedes
 *                                 (consumer table, or markers) rounded up to
 *                                 max(64, slot_align); stride = slot_size
 *                                 rounded up to slot_align
 *   total = S + stride x capacity, rounded up to the page size.
 *
 * A single-producer ring has max_producers 0 and no producer table or
 * markers: its bytes are exactly those of the rings before the
 * multi-producer ring existed (same layout version).
 *
 * Every value an attacher needs is recomputed from (capacity, slot_size,
 * slot_align, max_consumers, max_producers) and compared with the header,
 * so a corrupted or hostile header can at worst be rejected, never trusted.
 *
 * Creation protocol: the creator takes the producer lock, sizes the segment
 * (zero-filled by the kernel), writes the header, and stores `ready` last
 * with release (R1); attachers load it with acquire (R2) before reading any
 * other field.
 *
 * Liveness: each participant holds an open-file-description (OFD) byte-range
 * write lock on the segment's file at a fixed offset: DMP_LOCK_PRODUCER for
 * the producer, DMP_LOCK_TABLE while mutating the table (a mutex), and
 * DMP_LOCK_CONSUMER0 + i for consumer table entry i (DMP_LOCK_RECLAIM only
 * while removing a stale ring's name). The kernel drops those
 * locks when the process dies, so "is it alive?" is one F_OFD_GETLK, with
 * no PID-reuse race. Lock offsets are positions in the file's lock space,
 * not bytes of the mapping.
 *
 * Joining safely: the producer caches how far it may write (its clear
 * limit = slowest gating cursor + capacity) and publishes that limit in
 * `gate_limit` before re-checking `table_seq` (P4). A joining consumer makes
 * its entry visible and bumps `table_seq`, then (J1) reads `gate_limit`: by
 * the two full fences either the producer sees the new entry or the joiner
 * sees the limit, so the joiner can always start at a slot the producer
 * will not overwrite before it rescans. `gate_limit` never decreases.
 *
 * Reading without gating: the producer writes the slot of sequence s only
 * once `gate_limit` >= s, and P4's full fence separates that store from the
 * slot writes it allows. A non-gating consumer copies slot s (published:
 * s <= producer cursor, C1), issues an acquire fence (N1), then loads
 * `gate_limit`: if any byte it copied was written for s + capacity or
 * later, it sees a limit >= s + capacity, so a limit below that proves the
 * copy intact (a seqlock whose version is the limit). While a non-gating
 * entry is ACTIVE the producer grants itself at most capacity / 2 beyond
 * what it has published (or what it has claimed, if more), so a reader
 * less than capacity / 2 behind never has to discard a copy.
 *
 * Wake-ups: see wait.h, "Wake-up protocol" (data_waiters, space_waiters;
 * DMP_SEG_F_MEMBARRIER).
 *
 * Many producers (DMP_SEG_F_MULTI_PRODUCER; src/multi.c, model/mp_ring.pml)
 * -------------------------------------------------------------------------
 * Producers claim sequences with a CAS on `mp_claim` (the next unclaimed
 * sequence), having first stored the range they are about to claim as
 * their entry's intent [claim_lo, claim_hi) (MP1, MP2). They publish each
 * slot by storing its marker (MP3): marker = seq + 1 means "seq holds
 * data", -(seq + 1) means "seq is a tombstone: skipped, no data", anything
 * else means "not published for seq" (0: never used). That store is the
 * whole publish; the producer then empties its intent (MP4). Consumers
 * read the markers from their own position (the highest consecutive done
 * sequence is the *published frontier*), never `producer_cursor` on their
 * hot path. On these rings `producer_cursor` is a lower bound of the
 * frontier that producers move lazily over consecutive done slots (MP5,
 * with a CAS; any producer or repairer helps): when a claim passes the
 * producer's cached limit, before waking parked consumers (the cursor is
 * their futex word), after a repair. A claim never goes beyond
 * producer_cursor + capacity (nor the slowest gating consumer +
 * capacity), so a slot's previous lap is always done before it is claimed
 * again and the frontier is always within a ring of the cursor: readers
 * that need it (a new consumer's start, dmp-stat's position, liveness)
 * scan at most a ring of markers from the cursor.
 *
 * Each producer holds the OFD lock DMP_LOCK_PRODUCER0 + its entry index,
 * and a shared (read) OFD lock on DMP_LOCK_PRODUCER, so "is any producer
 * alive" stays one F_OFD_GETLK as on single-producer rings. A claimed,
 * unpublished slot that no live producer's intent covers belonged to a dead
 * producer: whoever waits on it (a consumer, another producer) stores its
 * tombstone with a CAS from the value it saw (MP6, once: a CAS; never from
 * a marker of a later lap, which a slow repairer may find), counts it in
 * `mp_tombstones`, and moves the cursor on. A live producer's intent
 * covers its claim from before the claim's CAS until after its markers are
 * stored, so a live (even SIGSTOPped) producer's slot is never tombstoned.
 *
 * Biased claims (DMP_SEG_F_MP_BIASED; multi.c, "biased claim"): while one
 * producer is the only one that ever attached, its claim needs no locked
 * instruction. `mp_bias` says who may claim how: DMP_MP_BIAS_EXCLUSIVE:
 * only producer entry `mp_owner` claims, and stores `mp_claim` with a
 * plain (release) store (MP2x) after its intent (MP1) and a compiler
 * barrier (X1) and a load of `mp_bias` that still shows EXCLUSIVE;
 * DMP_MP_BIAS_REVOKING: a second producer has attached (it stored
 * REVOKING under the table lock, J2), the owner still may be inside a
 * plain claim; DMP_MP_BIAS_SHARED (0, also every ring without the flag):
 * every producer claims with the CAS (MP2). The creator takes EXCLUSIVE
 * only if its process can receive membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)
 * (registered), else the ring starts SHARED. REVOKING becomes SHARED by a
 * CAS (X3) of whoever sees the revocation complete: the owner itself at its
 * next claim (it then uses the CAS), or a non-owner that finds the owner
 * dead (its OFD lock free), or one that issued membarrier(2) after seeing
 * REVOKING and then found the owner's intent empty (X2): the membarrier
 * makes the owner's compiler barrier X1 a full one, so either the owner's
 * load sees REVOKING (it never stores plainly again) or its intent store
 * is visible to X2 (a claim in progress: wait for MP4, whose release
 * carries the plain MP2x store before it). A non-owner never claims while
 * the ring is REVOKING: a SIGSTOPped owner inside its claim holds the
 * other producers' claims (bounded by their timeouts), never breaks them.
 * Once SHARED, a ring stays SHARED for its life.
 *
 * Sequences are free-running signed 64-bit counters starting at 0; cursors
 * start at -1. At one event per nanosecond they overflow after 292 years,
 * so wrap-around is not handled. Slot index = sequence & (capacity - 1).
 */
#ifndef DISRUPTOR_MP_LAYOUT_H
#define DISRUPTOR_MP_LAYOUT_H

#include <assert.h> /* static_assert in C11 (a keyword in C++) */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/atomics.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMP_MAGIC UINT64_C(0x00474e4952504d44) /* "DMPRING\0" in little-endian bytes */
#define DMP_LAYOUT_VERSION 1u
#define DMP_READY UINT32_C(0x59444552) /* "REDY" */
#define DMP_CACHE_LINE 64u

#define DMP_MAX_CONSUMERS 1024u      /**< upper bound of the consumer table */
#define DMP_DEFAULT_MAX_CONSUMERS 16u /**< dmp_producer_config_init()'s max_consumers */
#define DMP_DEFAULT_SLOT_ALIGN 8u     /**< dmp_producer_config_init()'s slot_align */
#define DMP_MAX_SLOT_ALIGN 4096u
#define DMP_MAX_SLOT_SIZE (UINT32_C(1) << 30)
#define DMP_MAX_SEGMENT_BYTES (UINT64_C(1) << 40) /**< 1 TiB: refuse absurd sizes */
#define DMP_ID_MAX 31u               /**< consumer id length, without the NUL */

/* Segment flags (header.flags). Unknown bits are rejected on attach. */
#define DMP_SEG_F_WAKEUPS 0x1u /**< publish/release wake parked waiters */
/** With DMP_SEG_F_WAKEUPS: participants may order their publish/release
 * against waiters with a compiler barrier only, so every waiter must issue
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) before it re-checks and parks
 * (wait.h, "Wake-up protocol"). A library that does not know this bit
 * refuses the ring (unknown flag), so it can never park unsynchronised. */
#define DMP_SEG_F_MEMBARRIER 0x2u
/** A multi-producer ring (DMP_RING_MULTI_PRODUCER): producer table,
 * publish markers and the mp line are in use (see "Many producers"). A
 * library that does not know the bit refuses the ring. */
#define DMP_SEG_F_MULTI_PRODUCER 0x4u
/** A byte ring (DMP_RING_BYTES, bytes.h): the slots are blocks that hold
 * variable-length records (slot size = slot alignment = the block, >= 16;
 * capacity >= 2). With DMP_SEG_F_MULTI_PRODUCER the producer table and
 * markers are per block (bytes.h, "Many producers"); a library older than
 * that combination refused such a header as corrupt. The header's
 * geometry counts blocks. A library that does not know the bit refuses
 * the ring rather than read records as slots. */
#define DMP_SEG_F_BYTES 0x8u
/** With DMP_SEG_F_MULTI_PRODUCER: the mp line's `mp_bias` and `mp_owner`
 * are in use: a lone producer may claim without a CAS ("Biased claims").
 * A library that does not know the bit refuses the ring, so it can never
 * CAS the claim counter beside a producer that stores it plainly. */
#define DMP_SEG_F_MP_BIASED 0x10u
#define DMP_SEG_F_KNOWN                                                                                      \
  (DMP_SEG_F_WAKEUPS | DMP_SEG_F_MEMBARRIER | DMP_SEG_F_MULTI_PRODUCER | DMP_SEG_F_BYTES | DMP_SEG_F_MP_BIASED)

/** `mp_bias` values (layout "Biased claims"). */
#define DMP_MP_BIAS_SHARED 0u    /**< every producer claims with the CAS */
#define DMP_MP_BIAS_EXCLUSIVE 1u /**< only `mp_owner` claims, with plain stores */
#define DMP_MP_BIAS_REVOKING 2u  /**< a second producer waits for the owner to leave its plain claim */

/* OFD lock offsets (see file comment). */
#define DMP_LOCK_PRODUCER 0
#define DMP_LOCK_TABLE 1
#define DMP_LOCK_CONSUMER0 2
/** Held (never waited for) by whoever removes a stale ring's name, from its
 * check that the name still refers to the file it judged stale to the
 * unlink, so two removers cannot both act on one check (segment.c,
 * dmp_impl_segment_unlink_same). Past every consumer entry's offset. */
#define DMP_LOCK_RECLAIM (DMP_LOCK_CONSUMER0 + DMP_MAX_CONSUMERS)
/** Producer table entry i of a multi-producer ring: DMP_LOCK_PRODUCER0 + i,
 * held by the entry's producer for its whole life. */
#define DMP_LOCK_PRODUCER0 (DMP_LOCK_RECLAIM + 1)

#define DMP_MAX_PRODUCERS 256u       /**< upper bound of the producer table */
#define DMP_DEFAULT_MAX_PRODUCERS 8u

/** Publish marker of sequence `seq` holding data / a tombstone (layout
 * "Many producers"). */
#define DMP_MARK_DATA(seq) ((int64_t)(seq) + 1)
#define DMP_MARK_TOMB(seq) (-((int64_t)(seq) + 1))

/** Consumer table entry states. */
enum dmp_entry_state {
  DMP_ENTRY_FREE = 0,   /**< unused */
  DMP_ENTRY_ACTIVE = 1, /**< attached; its owner holds the entry's OFD lock */
  DMP_ENTRY_IDLE = 2,   /**< detached cleanly; id and cursor kept for resume */
};

/* Entry flags (entry.flags). */
#define DMP_ENTRY_F_DURABLE 0x1u /**< keeps gating the producer while IDLE */
/** A non-gating (lossy) consumer (DMP_CONSUMER_NON_GATING): the producer's
 * scan skips it, liveness never stalls or evicts for it; its cursor is
 * informational (what it last read). Written at attach, before T1, like
 * DMP_ENTRY_F_DURABLE. Older libraries ignore the bit and would let such
 * an entry gate: harmless (they wait for it), never unsafe. */
#define DMP_ENTRY_F_NON_GATING 0x2u
#define DMP_ENTRY_F_KNOWN (DMP_ENTRY_F_DURABLE | DMP_ENTRY_F_NON_GATING)

struct dmp_segment_header {
  uint64_t magic;          /**< DMP_MAGIC */
  uint32_t layout_version; /**< DMP_LAYOUT_VERSION */
  uint32_t header_size;    /**< sizeof(struct dmp_segment_header) */
  uint64_t total_size;     /**< bytes in the segment */
  uint64_t capacity;       /**< slots, a power of two */
  uint32_t slot_size;      /**< event size in bytes */
  uint32_t slot_align;     /**< event alignment, a power of two */
  uint32_t slot_stride;    /**< slot_size rounded up to slot_align */
  uint32_t max_consumers;  /**< consumer table entries */
  uint64_t table_offset;   /**< start of the consumer table */
  uint64_t slots_offset;   /**< start of slot 0 */
  uint64_t type_tag;       /**< user fingerprint of the event type, 0 = untyped */
  uint64_t epoch;          /**< random, new at every creation */
  uint64_t created_ns;     /**< CLOCK_REALTIME at creation */
  int32_t owner_pid;       /**< creator's pid (informational) */
  uint32_t flags;          /**< DMP_SEG_F_* */
  uint64_t fingerprint;    /**< FNV-1a-64 of bytes [0, 96) */
  /** Producer table entries (multi-producer rings), 0 on single-producer
   * ones. Outside the fingerprint; checked through the geometry (a wrong
   * value gives another total size, which is rejected). */
  uint32_t max_producers;
  uint8_t reserved[16];
  dmp_atomic_u32 ready;    /**< DMP_READY, stored last (R1) */
};

/** The cache lines after the header that the hot path uses. */
struct dmp_segment_control {
  struct dmp_segment_header header;
  /* Written by the producer only (P1), read by every consumer (C1). */
  alignas(DMP_CACHE_LINE) dmp_atomic_i64 producer_cursor;
  /* Written by consumers about to park, read by the producer after publish. */
  alignas(DMP_CACHE_LINE) dmp_atomic_u32 data_waiters;
  /* Written by the producer about to park, read by consumers after release. */
  alignas(DMP_CACHE_LINE) dmp_atomic_u32 space_waiters;
  /* Bumped under the table lock on every table change; futex for rendezvous. */
  alignas(DMP_CACHE_LINE) dmp_atomic_u32 table_seq;
  dmp_atomic_u32 table_hwm; /**< 1 + highest entry index ever used */
  /* The producer's clear limit; written by the producer only (P4). */
  alignas(DMP_CACHE_LINE) dmp_atomic_i64 gate_limit;
  /* Multi-producer rings only (zero otherwise): the next sequence to
   * claim (CAS by producers, MP2) and the number of slots ever published
   * as tombstones (fetch-add by whoever tombstoned one, MP6). */
  alignas(DMP_CACHE_LINE) dmp_atomic_i64 mp_claim;
  dmp_atomic_u64 mp_tombstones;
  /** DMP_MP_BIAS_* (DMP_SEG_F_MP_BIASED rings; "Biased claims"): on the
   * claim counter's line, which the exclusive owner writes anyway. */
  dmp_atomic_u32 mp_bias;
  /** Producer entry of the exclusive owner (written before EXCLUSIVE is
   * stored, under the table lock, never changed after). */
  dmp_atomic_u32 mp_owner;
  uint8_t mp_reserved[40];
};

/** One consumer table entry: the cursor on its own line, metadata on the next. */
struct dmp_consumer_entry {
  /* Last consumed sequence; written by the owning consumer only (C2). */
  alignas(DMP_CACHE_LINE) dmp_atomic_i64 cursor;
  /* Written under the table lock; `state` is stored last with release (T1). */
  alignas(DMP_CACHE_LINE) dmp_atomic_u32 state;
  /** DMP_ENTRY_F_*: the producer's scan reads it without the table lock,
   * also while an attacher rewrites a reused entry (atomic: no data race;
   * the scan trusts it only with an ACTIVE state, P3/T1). */
  dmp_atomic_u32 flags;
  int32_t pid;         /**< pid of the last owner (informational) */
  /** Attach count of this entry: written under the table lock before T1
   * (relaxed), read by liveness checks without it to tell a re-attach from
   * the same attach (atomic, so a concurrent read is never a data race). */
  dmp_atomic_u32 generation;
  uint64_t attached_ns;/**< CLOCK_REALTIME of the last attach */
  char id[DMP_ID_MAX + 1];
};

/** Producer table entry states (multi-producer rings). */
enum dmp_producer_state {
  DMP_PRODUCER_FREE = 0,   /**< unused (or its producer closed) */
  DMP_PRODUCER_ACTIVE = 1, /**< attached; its owner holds the entry's OFD lock */
};

/** One producer table entry: the claim intent on its own line (written by
 * the owner at every claim and publish, read by repairers), metadata on
 * the next. */
struct dmp_producer_entry {
  /* [claim_lo, claim_hi): the range this producer claims or has claimed
   * and not yet published; empty when claim_lo == claim_hi. Written by
   * the owner only: hi then lo before the claim's CAS (MP1), lo = hi after
   * its markers (MP4). */
  alignas(DMP_CACHE_LINE) dmp_atomic_i64 claim_lo;
  dmp_atomic_i64 claim_hi;
  dmp_atomic_u64 published;  /**< slots this entry's producers published (owner only) */
  dmp_atomic_u64 tombstoned; /**< of this entry's claims, slots tombstoned (abort, close) */
  /* Written under the table lock; `state` stored last with release (PT1). */
  alignas(DMP_CACHE_LINE) dmp_atomic_u32 state;
  int32_t pid;                /**< pid of the last owner (informational) */
  dmp_atomic_u32 generation;  /**< attach count of this entry */
  uint32_t reserved0;
  uint64_t attached_ns;       /**< CLOCK_REALTIME of the last attach */
  uint8_t reserved[40];
};

static_assert(sizeof(struct dmp_segment_header) == 128, "header is two cache lines");
static_assert(offsetof(struct dmp_segment_header, max_producers) == 104, "max_producers after the fingerprint");
static_assert(sizeof(struct dmp_producer_entry) == 128, "producer entry is two cache lines");
static_assert(offsetof(struct dmp_producer_entry, state) == 64, "producer entry metadata on its own line");
static_assert(offsetof(struct dmp_segment_header, fingerprint) == 96, "fingerprint covers [0,96)");
static_assert(offsetof(struct dmp_segment_header, ready) == 124, "ready is the header's last word");
static_assert(offsetof(struct dmp_segment_control, producer_cursor) == 128, "producer cursor line");
static_assert(offsetof(struct dmp_segment_control, data_waiters) == 192, "data waiters line");
static_assert(offsetof(struct dmp_segment_control, space_waiters) == 256, "space waiters line");
static_assert(offsetof(struct dmp_segment_control, table_seq) == 320, "table seq line");
static_assert(offsetof(struct dmp_segment_control, gate_limit) == 384, "gate limit line");
static_assert(offsetof(struct dmp_segment_control, mp_claim) == 448, "multi-producer line");
static_assert(offsetof(struct dmp_segment_control, mp_tombstones) == 456, "tombstone count");
static_assert(offsetof(struct dmp_segment_control, mp_bias) == 464, "claim bias");
static_assert(sizeof(struct dmp_segment_control) == 512, "control block is 512 bytes");
static_assert(sizeof(struct dmp_consumer_entry) == 128, "entry is two cache lines");
static_assert(offsetof(struct dmp_consumer_entry, state) == 64, "entry metadata on its own line");

/** Futex word of a 64-bit cursor: its low 32 bits, which change on every
 * increment. Waiters compare against the low half of the value they saw. */
static inline dmp_atomic_u32 *dmp_impl_futex_word(dmp_atomic_i64 *cursor)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return (dmp_atomic_u32 *)((char *)cursor + 4);
#else
  return (dmp_atomic_u32 *)(void *)cursor;
#endif
}

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_LAYOUT_H */
