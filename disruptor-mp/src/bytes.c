/* Byte rings (bytes.h): variable-length records on a slot ring whose slots
 * are blocks. The producer claims each record (and the padding before it,
 * if it would run past the ring's end) as one batch of blocks through the
 * slot ring's claim; the consumer checks every record header it reads
 * from shared memory before it hands out a byte of payload. Cursors,
 * gating, liveness and counters are the slot ring's, in blocks. */
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* ---- copying a record in or out ----------------------------------------- */

/* From this size on a record is copied with REP MOVSB where the CPU has
 * ERMS (enhanced REP MOVSB/STOSB), else with memcpy. Why: glibc's memcpy
 * (2.36, the bench VM's) uses REP MOVSB only up to
 * __x86_rep_movsb_stop_threshold, which it sets to the L2 size on AMD
 * (1 MiB there), and a vector loop above it. Between two processes, where
 * the destination's lines were last read by the other core and the source's
 * last written by it, that loop made a 1 MiB ping-pong 2.5x the floor's
 * round trip; REP MOVSB, 1.3x (bench/README.md, "Issue 20"). Below 1 MiB
 * memcpy already picks REP MOVSB from about 2 KiB on, and handles small
 * and unaligned copies best: it stays in charge there. */
#define COPY_REP_MOVSB_MIN ((size_t)1 << 20)

/* Sanitizers see into memcpy, not into an asm statement: their builds keep
 * memcpy so that a copy past a buffer stays a report. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define COPY_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COPY_SANITIZED 1
#endif
#if defined(__x86_64__) && !defined(COPY_SANITIZED)
#define COPY_REP_MOVSB 1
#endif

#if defined(COPY_REP_MOVSB)
/* 0 = not asked yet, 1 = ERMS, 2 = none. Relaxed load and store, both: a
 * cache of a CPU feature that every thread computes alike; it orders
 * nothing. */
static dmp_atomic_u32 copy_erms;

static bool have_erms(void)
{
  uint32_t v = dmp_impl_load_relaxed(&copy_erms);
  if (v == 0) {
    unsigned a, b, c, d;
    v = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 9)) ? 1 : 2;
    dmp_impl_store_relaxed(&copy_erms, v);
  }
  return v == 1;
}
#endif

/* The one copy rule of every record copied in or out (bytes.h): the byte
 * ring's own calls, Layer 1's messages, the bench's floors. */
void dmp_bytes_copy(void *dst, const void *src, size_t len)
{
#if defined(COPY_REP_MOVSB)
  if (len >= COPY_REP_MOVSB_MIN && have_erms()) {
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(len) : : "memory");
    return;
  }
#endif
  memcpy(dst, src, len);
}

/* ---- geometry (create, attach) ----------------------------------------- */

static bool is_pow2(uint64_t v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

int dmp_impl_bytes_geometry(const struct dmp_producer_config *cfg, uint32_t max_consumers,
                            struct dmp_impl_geometry *g)
{
  uint32_t block = cfg->slot_size ? cfg->slot_size : DMP_BYTES_DEFAULT_BLOCK;
  if (!is_pow2(block) || block < DMP_BYTES_MIN_BLOCK || block > DMP_MAX_SLOT_ALIGN)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.slot_size %u (the block of a DMP_RING_BYTES ring) is not a power of two "
                    "in %u..%u", cfg->slot_size, DMP_BYTES_MIN_BLOCK, DMP_MAX_SLOT_ALIGN);
  if (cfg->slot_align != 0 && cfg->slot_align != DMP_DEFAULT_SLOT_ALIGN && cfg->slot_align != block)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.slot_align %u on a DMP_RING_BYTES ring: leave it at the default (records "
                    "are aligned to the block, %u)", cfg->slot_align, block);
  if (!is_pow2(cfg->capacity) || cfg->capacity < 2 * (uint64_t)block)
    return DMP_FAIL(-DMP_E_BADCONFIG, "cfg.capacity %llu (bytes, DMP_RING_BYTES) is not a power of two of at least "
                    "two blocks (%u)", (unsigned long long)cfg->capacity, 2 * block);
  int rc = dmp_impl_geometry_compute("cfg.", cfg->capacity / block, block, block, max_consumers, g);
  if (rc == 0)
    g->bytes = true;
  return rc;
}

int dmp_impl_bytes_validate(const struct dmp_segment_header *h, const char *path, struct dmp_impl_geometry *g)
{
  if (h->slot_size != h->slot_align || h->slot_size < DMP_BYTES_MIN_BLOCK || g->capacity < 2)
    return DMP_FAIL(-DMP_E_CORRUPT, "'%s' is a byte ring of %llu blocks of %u bytes aligned to %u (no such ring)",
                    path, (unsigned long long)g->capacity, h->slot_size, h->slot_align);
  g->bytes = true;
  return 0;
}

int64_t dmp_impl_bytes_boundary(const struct dmp_impl_ring *r, int64_t start, int64_t published)
{
  int64_t next = start + 1;
  if (next > published) /* the producer's position (or beyond: the caller clamps) */
    return start > published ? start : published;
  if ((next & (int64_t)r->mask) == 0)
    return start; /* a lap start the producer reached */
  int64_t lap = (next | (int64_t)r->mask) + 1;
  return lap <= published + 1 ? lap - 1 : published;
}

/* ---- shared helpers -------------------------------------------------------- */

/* Blocks of a record of `len` payload bytes (len <= the ring's maximum).
 * The block is a power of two: a shift, not a division, per record. */
static uint64_t blocks_of(const struct dmp_impl_ring *r, size_t len)
{
  return (DMP_BYTES_HEADER + (uint64_t)len + r->stride - 1) >> __builtin_ctz(r->stride);
}

/* The largest payload: half the ring's blocks, less the header, capped. */
static size_t max_record(const struct dmp_impl_ring *r)
{
  uint64_t half = r->capacity / 2 * r->stride - DMP_BYTES_HEADER;
  return half < DMP_BYTES_MAX_RECORD ? (size_t)half : (size_t)DMP_BYTES_MAX_RECORD;
}

static struct dmp_bytes_header *header_at(const struct dmp_impl_ring *r, int64_t s)
{
  return (struct dmp_bytes_header *)dmp_impl_slot(r, s);
}

/* The ring's shape in locals, for the loops over a run of records: the
 * stores a loop makes (headers, the caller's arrays) may alias the handle
 * as far as the compiler knows, so every field read through the handle
 * would be loaded again for every record. The block is a power of two
 * (geometry), so a block's address is a shift, not a multiplication. */
struct shape {
  uint8_t *slots;
  uint64_t mask;
  uint64_t capacity; /* blocks */
  uint32_t stride;   /* the block */
  unsigned shift;    /* log2 of the block */
  size_t max;        /* max_record() */
};

static inline struct shape shape_of(const struct dmp_impl_ring *r)
{
  struct shape g = {r->slots, r->mask, r->capacity, r->stride, (unsigned)__builtin_ctz(r->stride), max_record(r)};
  return g;
}

static inline struct dmp_bytes_header *shape_header(const struct shape *g, int64_t s)
{
  return (struct dmp_bytes_header *)(g->slots + (((uint64_t)s & g->mask) << g->shift));
}

/* ---- producer --------------------------------------------------------------- */

enum claim_mode { CLAIM_TRY, CLAIM_TIMEOUT, CLAIM_MANAGED };

static int claim_check(struct dmp_producer *p, size_t len, void **data)
{
  if (!p || !data)
    return DMP_FAIL(-EINVAL, "producer or data is NULL");
  if (!p->ring.seg->geo.bytes)
    return DMP_FAIL(-EINVAL, "'%s' is a slot ring, not a byte ring (DMP_RING_BYTES)", p->cfg.name);
  if (len > max_record(&p->ring))
    return DMP_FAIL(-EMSGSIZE, "record of %zu bytes: '%s' takes at most %zu (half the ring less the header)", len,
                    p->cfg.name, max_record(&p->ring));
  return 0;
}

static void put_header(struct dmp_impl_ring *r, int64_t s, uint32_t length, uint16_t kind)
{
  struct dmp_bytes_header *h = header_at(r, s);
  /* Plain stores: published to consumers by the cursor's release store
   * (P1) of the publish that covers them. */
  h->length = length;
  h->kind = kind;
  h->reserved = 0;
  h->seq = s;
}

/* A large record goes back to the ring's start when every gating reader has
 * released everything: padding to the end of the lap (which readers step
 * over as any padding; the format allows it wherever idx != 0), then the
 * record at block 0. A ring then reuses the lines its last records used,
 * still in the caches, instead of sweeping the whole ring, which has gone
 * cold once the ring is larger than the caches: 64 KiB round trips on a
 * 16 MiB ring went from 2.1-2.5x the floor to the 1 MiB ring's 1.4-1.5x
 * (bench/README.md, "Issue 20: what decides a large round trip").
 *
 * Only from two records in (idx >= 2n): the padding counts as in flight
 * until the reader steps over it, so a rewind from idx leaves idx - n
 * blocks free, and one more record must fit while the reader copies the
 * first (else a stream whose reader keeps up would alternate, one record
 * in flight). A ping-pong then uses blocks 0 and n. Only for records of
 * REWIND_MIN bytes or more (the check reads the consumer table: about what
 * copying a KiB costs) and only on single-producer rings. The table is read
 * first without storing anything, because a refresh that fails counts a
 * full ring (counters.h). Never with a non-gating reader attached: the
 * producer then takes at most half a ring ahead (producer.c,
 * compute_limit), not the lap a rewind needs. */
#define REWIND_MIN ((uint64_t)64 << 10)

static bool rewind(struct dmp_producer *p, uint64_t idx, uint64_t n)
{
  struct dmp_impl_ring *r = &p->ring;
  if (idx < 2 * n || n * r->stride < REWIND_MIN || p->claim_end != p->next)
    return false;
  int64_t whole = p->claim_end - 1 + (int64_t)r->capacity; /* the last block an empty ring frees */
  if (whole <= p->clear_limit)
    return true;
  int64_t min;
  bool lossy = false;
  if (dmp_impl_table_scan(r, &r->seg->geo, &min, NULL, &lossy) && min < p->claim_end - 1)
    return false; /* a gating reader has not released everything */
  return !lossy && dmp_impl_producer_refresh(p, whole) == 0;
}

static int claim(struct dmp_producer *p, size_t len, void **data, enum claim_mode mode, int64_t timeout_ns)
{
  int rc = claim_check(p, len, data);
  if (rc < 0)
    return rc;
  struct dmp_impl_ring *r = &p->ring;
  uint64_t n = blocks_of(r, len);
  int64_t first;
  uint64_t pad = 0;
  if (p->mp) { /* many producers: the padding is sized where the claim lands (bytes_multi.c) */
    rc = dmp_impl_bytes_mp_claim(p, n, (int)mode, timeout_ns, &first, &pad);
    if (rc < 0)
      return rc;
    goto headers;
  }
  /* One producer: the claim starts at claim_end whatever the waits below
   * do, so the padding can be sized now. */
  uint64_t idx = (uint64_t)p->claim_end & r->mask;
  pad = idx + n > r->capacity ? r->capacity - idx : 0;
  if (pad == 0 && rewind(p, idx, n))
    pad = r->capacity - idx;
  if (mode == CLAIM_TRY)
    rc = dmp_producer_try_claim_batch(p, pad + n, &first);
  else if (mode == CLAIM_TIMEOUT)
    rc = dmp_producer_claim_batch_timeout(p, pad + n, &first, timeout_ns);
  else
    rc = dmp_producer_claim_batch_managed(p, pad + n, &first, timeout_ns);
  if (rc < 0)
    return rc;
headers:
  if (pad)
    put_header(r, first, (uint32_t)(pad * r->stride - DMP_BYTES_HEADER), DMP_BYTES_PADDING);
  put_header(r, first + (int64_t)pad, (uint32_t)len, DMP_BYTES_DATA);
  *data = (uint8_t *)header_at(r, first + (int64_t)pad) + DMP_BYTES_HEADER;
  return 0;
}

int dmp_producer_try_claim_bytes(struct dmp_producer *p, size_t len, void **data)
{
  return claim(p, len, data, CLAIM_TRY, 0);
}

int dmp_producer_claim_bytes_timeout(struct dmp_producer *p, size_t len, void **data, int64_t timeout_ns)
{
  return claim(p, len, data, CLAIM_TIMEOUT, timeout_ns);
}

int dmp_producer_claim_bytes_managed(struct dmp_producer *p, size_t len, void **data, int64_t timeout_ns)
{
  return claim(p, len, data, CLAIM_MANAGED, timeout_ns);
}

static int64_t copy_publish(struct dmp_producer *p, const void *src, size_t len, enum claim_mode mode,
                            int64_t timeout_ns)
{
  if (!src && len)
    return DMP_FAIL(-EINVAL, "src is NULL");
  void *data;
  int rc = claim(p, len, &data, mode, timeout_ns);
  if (rc < 0)
    return rc;
  if (len)
    dmp_bytes_copy(data, src, len);
  return dmp_producer_publish(p);
}

int64_t dmp_producer_try_publish_bytes(struct dmp_producer *p, const void *src, size_t len)
{
  return copy_publish(p, src, len, CLAIM_TRY, 0);
}

int64_t dmp_producer_publish_bytes_timeout(struct dmp_producer *p, const void *src, size_t len, int64_t timeout_ns)
{
  return copy_publish(p, src, len, CLAIM_TIMEOUT, timeout_ns);
}

/* A record header as two word stores built in registers (put_header()'s
 * fields: length at 0, kind at 4, reserved 0 at 6, seq at 8). */
static inline void put_header_words(struct dmp_bytes_header *h, uint32_t length, uint16_t kind, int64_t seq)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t lo = (uint64_t)length | (uint64_t)kind << 32;
  memcpy(h, &lo, sizeof lo);
  memcpy((uint8_t *)h + 8, &seq, sizeof seq);
#else
  struct dmp_bytes_header x = {.length = length, .kind = kind, .reserved = 0, .seq = seq};
  memcpy(h, &x, sizeof x);
#endif
}

static_assert(offsetof(struct dmp_bytes_header, kind) == 4 && offsetof(struct dmp_bytes_header, reserved) == 6 &&
                  offsetof(struct dmp_bytes_header, seq) == 8,
              "put_header_words() packs the header fields at these offsets");

/* A run of records: each sized, padded and given its header as claim()
 * does it, but the free window is checked against the run's growing end
 * (one compare per record, at most one table rescan per call) and
 * claim_end moves once. The ring's shape and the window's limit are
 * locals. Single producer only: a multi-producer handle takes one claim at
 * a time, so its run is one record. Plain stores, as put_header()'s:
 * published by the cursor's release store (P1) of the publish after. */
int64_t dmp_producer_try_claim_bytes_run(struct dmp_producer *p, const size_t *lens, size_t n, void **data)
{
  if (!lens || n == 0)
    return DMP_FAIL(-EINVAL, "lens is NULL or n is 0");
  int rc = claim_check(p, lens[0], data);
  if (rc < 0)
    return rc;
  if (p->mp || blocks_of(&p->ring, lens[0]) * p->ring.stride >= REWIND_MIN) {
    /* Many producers: one claim per handle. A large first record: alone,
     * as claim() takes it, so that it may go back to the ring's start
     * (rewind()); copying it costs more than the run saves. */
    rc = claim(p, lens[0], data, CLAIM_TRY, 0);
    return rc < 0 ? rc : 1;
  }
  const struct shape g = shape_of(&p->ring);
  int64_t end = p->claim_end; /* the run's next block */
  int64_t limit = p->clear_limit;
  /* The common run: every record within the maximum, all of them inside
   * the cached window and before the ring's end (no padding). Sized in one
   * pass, written in a second, without a branch per record on either. */
  uint64_t total = 0, longest = 0;
  for (size_t k = 0; k < n; k++) {
    longest = lens[k] > longest ? lens[k] : longest;
    total += (DMP_BYTES_HEADER + (uint64_t)lens[k] + g.stride - 1) >> g.shift; /* blocks_of() */
  }
  bool rescanned = false;
  bool plain = longest <= g.max && ((uint64_t)end & g.mask) + total <= g.capacity;
  if (plain && end + (int64_t)total - 1 > limit) {
    /* Past the cached window: rescan the table once for the whole run
     * (what dmp_producer_try_claim_batch() does when its window runs out);
     * the limit it finds serves the loop below too. */
    rescanned = true;
    dmp_impl_producer_refresh(p, end + (int64_t)total - 1);
    limit = p->clear_limit;
  }
  if (plain && end + (int64_t)total - 1 <= limit) {
    for (size_t k = 0; k < n; k++) {
      struct dmp_bytes_header *h = shape_header(&g, end);
      put_header_words(h, (uint32_t)lens[k], DMP_BYTES_DATA, end);
      data[k] = (uint8_t *)h + DMP_BYTES_HEADER;
      end += (int64_t)((DMP_BYTES_HEADER + (uint64_t)lens[k] + g.stride - 1) >> g.shift);
    }
    p->claim_end = end;
    return (int64_t)n;
  }
  /* Otherwise record by record: padding where a record would cross the
   * ring's end, and the run ends at the first that does not fit. */
  size_t k = 0;
  for (; k < n; k++) {
    size_t len = lens[k];
    if (len > g.max)
      break; /* (not the first: claim_check() took that one) */
    uint64_t blocks = (DMP_BYTES_HEADER + (uint64_t)len + g.stride - 1) >> g.shift; /* blocks_of() */
    uint64_t idx = (uint64_t)end & g.mask;
    uint64_t pad = idx + blocks > g.capacity ? g.capacity - idx : 0;
    int64_t last = end + (int64_t)(pad + blocks) - 1;
    if (last > limit) {
      /* Past the cached window: rescan the table, once per call. */
      if (rescanned || dmp_impl_producer_refresh(p, last) < 0)
        break;
      rescanned = true;
      limit = p->clear_limit;
    }
    if (pad) {
      put_header_words(shape_header(&g, end), (uint32_t)((pad << g.shift) - DMP_BYTES_HEADER), DMP_BYTES_PADDING,
                       end);
      end += (int64_t)pad;
    }
    struct dmp_bytes_header *h = shape_header(&g, end);
    put_header_words(h, (uint32_t)len, DMP_BYTES_DATA, end);
    data[k] = (uint8_t *)h + DMP_BYTES_HEADER;
    end = last + 1;
  }
  if (k == 0)
    return -EAGAIN;
  p->claim_end = end;
  return (int64_t)k;
}

size_t dmp_producer_bytes_max(const struct dmp_producer *p)
{
  return p && p->ring.seg->geo.bytes ? max_record(&p->ring) : 0;
}

/* ---- consumer: checking a header ------------------------------------------ */

/* What a header read at block `s` says, once checked. */
struct record {
  uint16_t kind;   /* DMP_BYTES_DATA or DMP_BYTES_PADDING */
  uint32_t length; /* payload bytes (DATA) */
  uint64_t blocks; /* blocks it covers, header included */
};

/* Check the header at block `s` against the ring and against `last`, the
 * last block the producer published (as this reader knows it). The header
 * is copied out once, so a peer changing it meanwhile cannot make the
 * checked and the used values differ. 0 and `*rec`, or -DMP_E_CORRUPT
 * with the reason in `why` (nothing recorded: the caller decides). */
static inline int check_at(const struct shape *g, int64_t s, int64_t last, struct record *rec, char *why,
                           size_t whylen)
{
  struct dmp_bytes_header h;
  memcpy(&h, shape_header(g, s), sizeof h);
  uint64_t idx = (uint64_t)s & g->mask;
  if (h.seq != s)
    return DMP_WHY(-DMP_E_CORRUPT, "header says block %lld", (long long)h.seq);
  rec->kind = h.kind;
  if (h.kind == DMP_BYTES_DATA) { /* (the common kind first) */
    if (h.length > g->max)
      return DMP_WHY(-DMP_E_CORRUPT, "length %u beyond the ring's maximum %zu", h.length, g->max);
    rec->length = h.length;
    rec->blocks = (DMP_BYTES_HEADER + (uint64_t)h.length + g->stride - 1) >> g->shift; /* blocks_of() */
    if (idx + rec->blocks > g->capacity)
      return DMP_WHY(-DMP_E_CORRUPT, "length %u runs past the ring's end", h.length);
  } else if (h.kind == DMP_BYTES_PADDING) {
    /* Padding: never at block 0 (no record needs it there), exactly to the
     * ring's end. */
    rec->blocks = g->capacity - idx;
    if (idx == 0 || h.length != rec->blocks * g->stride - DMP_BYTES_HEADER)
      return DMP_WHY(-DMP_E_CORRUPT, "padding of %u bytes at block %llu of %llu", h.length,
                     (unsigned long long)idx, (unsigned long long)g->capacity);
  } else {
    return DMP_WHY(-DMP_E_CORRUPT, "unknown kind %u", h.kind);
  }
  /* Within what was published: the producer publishes a record (and the
   * padding before it) with one cursor store, so an honest header never
   * reaches past the cursor that showed its first block. */
  if ((uint64_t)(last - s) < rec->blocks - 1)
    return DMP_WHY(-DMP_E_CORRUPT, "%llu blocks from block %lld, past the published %lld",
                   (unsigned long long)rec->blocks, (long long)s, (long long)last);
  return 0;
}

/* check_at() for one record (every read but the runs). */
static int check(const struct dmp_impl_ring *r, int64_t s, int64_t last, struct record *rec, char *why,
                 size_t whylen)
{
  struct shape g = shape_of(r);
  return check_at(&g, s, last, rec, why, whylen);
}

/* Report a header that failed (cold): the detail, and the ring's error log. */
static int corrupt(struct dmp_consumer *c, int64_t s, const char *why)
{
  dmp_impl_cnt_error(c->counters, -DMP_E_CORRUPT, "byte ring '%s': bad record header at block %lld: %s",
                     c->cfg.name, (long long)s, why);
  return DMP_FAIL(-DMP_E_CORRUPT, "byte ring '%s', consumer '%s': record at block %lld: %s", c->cfg.name, c->id,
                  (long long)s, why);
}

static int consumer_check(struct dmp_consumer *c, bool gating)
{
  if (!c)
    return DMP_FAIL(-EINVAL, "consumer is NULL");
  if (!c->ring.seg->geo.bytes)
    return DMP_FAIL(-EINVAL, "'%s' is a slot ring, not a byte ring (DMP_RING_BYTES)", c->cfg.name);
  if (gating && (c->non_gating & DMP_IMPL_C_LOSSY))
    return DMP_FAIL(-EINVAL, "consumer '%s' is non-gating: read by copy (dmp_consumer_try_copy_bytes())", c->id);
  return 0;
}

/* ---- consumer: gating reads --------------------------------------------- */

/* The next DATA record of a gating consumer, padding stepped over. */
static int peek(struct dmp_consumer *c, const void **data, size_t *len, int64_t *seq)
{
  if (c->non_gating & DMP_IMPL_C_MP) /* many producers: markers, tombstones (bytes_multi.c) */
    return dmp_impl_bytes_mp_peek(c, data, len, seq);
  /* At most a padding record and the record after it. */
  for (int step = 0; step < 2; step++) {
    int64_t s = c->next;
    if (s > c->available && (dmp_consumer_available(c) == 0 || s > c->available))
      return -EAGAIN; /* (dmp_consumer_available() refreshed `available`, C1, checked as sane) */
    struct record rec = {0, 0, 0};
    char why[128];
    if (check(&c->ring, s, c->available, &rec, why, sizeof why) < 0)
      return corrupt(c, s, why);
    c->next = s + (int64_t)rec.blocks;
    if (rec.kind == DMP_BYTES_DATA) {
      *data = (const uint8_t *)header_at(&c->ring, s) + DMP_BYTES_HEADER;
      *len = rec.length;
      if (seq)
        *seq = s;
      return 0;
    }
  }
  return -EAGAIN; /* unreachable for honest rings: padding is never followed by padding */
}

int dmp_consumer_try_peek_bytes(struct dmp_consumer *c, const void **data, size_t *len, int64_t *seq)
{
  int rc = consumer_check(c, true);
  if (rc < 0)
    return rc;
  if (!data || !len)
    return DMP_FAIL(-EINVAL, "data or len is NULL");
  return peek(c, data, len, seq);
}

/* A run of records: peek()'s steps in one loop, every header checked by
 * check_at() as peek() checks it, the producer cursor loaded at most once
 * (C1, in dmp_consumer_available()) and `next` stored once. The ring's
 * shape and the frontier are locals (the stores into the caller's arrays
 * would reload them from the handle). Inlined twice: with and without
 * `seq` (a constant `want_seq` drops its test from the loop). */
static inline __attribute__((always_inline)) int64_t peek_run(struct dmp_consumer *c, const void **data, size_t *len,
                                                               int64_t *seq, size_t max, bool want_seq)
{
  const struct shape g = shape_of(&c->ring);
  int64_t s = c->next;
  int64_t avail = c->available;
  bool loaded = false;
  size_t k = 0;
  while (k < max) {
    if (s > avail) {
      if (loaded)
        break;
      loaded = true;
      c->next = s; /* dmp_consumer_available() counts from it */
      int64_t n = dmp_consumer_available(c); /* refreshes `available` (C1), checked as sane */
      avail = c->available;
      if (n == 0 || s > avail)
        break;
    }
    struct record rec = {0, 0, 0};
    char why[128];
    if (check_at(&g, s, avail, &rec, why, sizeof why) < 0) {
      if (k > 0)
        break; /* the next call meets it first */
      c->next = s;
      return corrupt(c, s, why);
    }
    if (rec.kind == DMP_BYTES_DATA) {
      data[k] = (const uint8_t *)shape_header(&g, s) + DMP_BYTES_HEADER;
      len[k] = rec.length;
      if (want_seq)
        seq[k] = s;
      k++;
    }
    s += (int64_t)rec.blocks;
  }
  c->next = s;
  return k ? (int64_t)k : -EAGAIN;
}

int64_t dmp_consumer_try_peek_bytes_run(struct dmp_consumer *c, const void **data, size_t *len, int64_t *seq,
                                        size_t max)
{
  int rc = consumer_check(c, true);
  if (rc < 0)
    return rc;
  if (!data || !len || max == 0)
    return DMP_FAIL(-EINVAL, "data or len is NULL, or max is 0");
  if (c->non_gating & DMP_IMPL_C_MP) { /* markers, tombstones: one record at a time */
    rc = peek(c, data, len, seq);
    return rc < 0 ? rc : 1;
  }
  return seq ? peek_run(c, data, len, seq, max, true) : peek_run(c, data, len, NULL, max, false);
}

/* Call `read` until it finds a record, waiting with dmp_consumer_wait()
 * between tries, up to `timeout_ns`. */
#define WAIT_LOOP(read_call)                                                                                   \
  do {                                                                                                         \
    int64_t deadline_ = dmp_impl_deadline(timeout_ns);                                                         \
    for (;;) {                                                                                                 \
      int rc_ = (read_call);                                                                                   \
      if (rc_ != -EAGAIN)                                                                                      \
        return rc_;                                                                                            \
      int64_t left_ = dmp_impl_remaining(deadline_);                                                           \
      if (left_ == 0)                                                                                          \
        return -ETIMEDOUT;                                                                                     \
      int64_t w_ = dmp_consumer_wait(c, left_ == INT64_MAX ? DMP_FOREVER : left_);                             \
      if (w_ < 0)                                                                                              \
        return (int)w_;                                                                                        \
    }                                                                                                          \
  } while (0)

int dmp_consumer_peek_bytes_timeout(struct dmp_consumer *c, const void **data, size_t *len, int64_t *seq,
                                    int64_t timeout_ns)
{
  int rc = consumer_check(c, true);
  if (rc < 0)
    return rc;
  if (!data || !len)
    return DMP_FAIL(-EINVAL, "data or len is NULL");
  WAIT_LOOP(peek(c, data, len, seq));
}

/* ---- consumer: copies (gating and non-gating) ------------------------------ */

/* A non-gating consumer's cursor only reports what it read (consumer.c,
 * lossy_commit). */
static void lossy_commit(struct dmp_consumer *c)
{
  int64_t last = c->next - 1;
  if (last == c->committed)
    return;
  /* C2 (informational here): release store of this consumer's cursor. */
  dmp_impl_store_release(c->cursor, last);
  c->committed = last;
}

/* The next record boundary at or after block `s` that a reader can trust
 * without reading a header: the next lap start if the producer has
 * reached it (`published` + 1 or beyond), else `published` + 1. */
static int64_t next_boundary(const struct dmp_impl_ring *r, int64_t s, int64_t published)
{
  return dmp_impl_bytes_boundary(r, s - 1, published) + 1;
}

#define LOSSY_RETRIES 64

/* A non-gating read (layout.h, "Reading without gating"): copy, then prove
 * the copy intact against gate_limit; when lapped skip to a boundary. */
static int lossy_copy(struct dmp_consumer *c, void *dst, size_t cap, size_t *len, int64_t *seq)
{
  struct dmp_segment_control *ctl = c->ring.ctl;
  const int64_t ring = (int64_t)c->ring.capacity;
  uint64_t skipped = 0;
  int rc = -EAGAIN;
  for (int tries = 0; tries < LOSSY_RETRIES; tries++) {
    int64_t s = c->next;
    /* C1: acquire load of the producer cursor; pairs with P1. Clamped: any
     * value a hostile peer wrote (internal.h). Many producers: the
     * frontier their markers show (multi.c; acquire loads, pair with MP3
     * and MP6). */
    int64_t published = (c->non_gating & DMP_IMPL_C_MP)
                            ? dmp_impl_mp_published(c)
                            : dmp_impl_seq_clamp(dmp_impl_load_acquire(&ctl->producer_cursor));
    if (s > published)
      break;
    if ((c->non_gating & DMP_IMPL_C_MP) && dmp_impl_consumer_is_tomb(c, s)) {
      /* A dead (or aborting) producer's record, tombstoned block by block
       * (bytes_multi.c): final for this lap, stepped over and counted. */
      dmp_impl_mp_skip_tombstones(c, s, published);
      tries--; /* progress, not a failed try (each step moves at least a block) */
      continue;
    }
    struct record rec = {0, 0, 0};
    char why[128];
    int bad = check(&c->ring, s, published, &rec, why, sizeof why);
    bool fits = bad == 0 && (rec.kind != DMP_BYTES_DATA || rec.length <= cap);
    if (fits && rec.kind == DMP_BYTES_DATA && rec.length)
      memcpy(dst, (const uint8_t *)header_at(&c->ring, s) + DMP_BYTES_HEADER, rec.length);
    /* N1: acquire fence between the reads above and the load of gate_limit;
     * pairs with P4: if any byte we read was written for a block s + ring
     * or later, the limit we load covers s + ring. */
    dmp_impl_fence_acquire();
    /* Relaxed: N1 orders it after the reads. */
    int64_t limit = dmp_impl_seq_clamp(dmp_impl_load_relaxed(&ctl->gate_limit));
    if (published > limit)
      break; /* scribbled: never published beyond the limit stored first (P4) */
    if (limit < s + ring) { /* every block from s on is intact: the header was what the producer wrote */
      if (bad) {
        rc = corrupt(c, s, why);
        break;
      }
      if (rec.kind == DMP_BYTES_PADDING) {
        c->next = s + (int64_t)rec.blocks;
        tries--; /* stepping over padding is no failed try (at most once per lap) */
        continue;
      }
      *len = rec.length;
      if (!fits) {
        rc = DMP_FAIL(-EMSGSIZE, "record of %u bytes, buffer of %zu", rec.length, cap);
        break;
      }
      if (seq)
        *seq = s;
      c->next = s + (int64_t)rec.blocks;
      rc = 0;
      break;
    }
    /* Lapped: block s may have been overwritten. Skip to the oldest lap
     * start the producer may not overwrite yet, or after a failed retry to
     * its newest position. Never beyond the producer (a hostile limit). */
    int64_t to = tries > 0 ? published + 1 : next_boundary(&c->ring, limit - ring + 1, published);
    skipped += (uint64_t)(to - s);
    c->next = to;
  }
  if (skipped) {
    c->missed += skipped;
    dmp_impl_cnt_add(c->counters, DMP_IMPL_CNT_MISSED, skipped);
  }
  if (rc == 0)
    lossy_commit(c);
  return rc;
}

static int copy(struct dmp_consumer *c, void *dst, size_t cap, size_t *len, int64_t *seq)
{
  if (c->non_gating & DMP_IMPL_C_LOSSY)
    return lossy_copy(c, dst, cap, len, seq);
  int64_t before = c->next;
  const void *data;
  int64_t s;
  int rc = peek(c, &data, len, &s);
  if (rc < 0)
    return rc;
  if (*len > cap) {
    c->next = before; /* not consumed (the padding before it is stepped over again) */
    return DMP_FAIL(-EMSGSIZE, "record of %zu bytes, buffer of %zu", *len, cap);
  }
  if (*len)
    dmp_bytes_copy(dst, data, *len);
  if (seq)
    *seq = s;
  dmp_consumer_release(c);
  return 0;
}

static int copy_args(struct dmp_consumer *c, void *dst, size_t cap, size_t *len)
{
  int rc = consumer_check(c, false);
  if (rc == 0 && ((!dst && cap) || !len))
    rc = DMP_FAIL(-EINVAL, "dst or len is NULL");
  return rc;
}

int dmp_consumer_try_copy_bytes(struct dmp_consumer *c, void *dst, size_t cap, size_t *len, int64_t *seq)
{
  int rc = copy_args(c, dst, cap, len);
  return rc < 0 ? rc : copy(c, dst, cap, len, seq);
}

int dmp_consumer_copy_bytes_timeout(struct dmp_consumer *c, void *dst, size_t cap, size_t *len, int64_t *seq,
                                    int64_t timeout_ns)
{
  int rc = copy_args(c, dst, cap, len);
  if (rc < 0)
    return rc;
  WAIT_LOOP(copy(c, dst, cap, len, seq));
}

int64_t dmp_consumer_resync_bytes(struct dmp_consumer *c)
{
  int rc = consumer_check(c, false);
  if (rc < 0)
    return rc;
  /* C1: acquire load of the producer cursor; pairs with P1. A gating
   * consumer's producer is never more than a ring ahead of what it
   * released: beyond that is a scribbled cursor, trusted no further. */
  int64_t published = dmp_impl_seq_clamp(dmp_impl_load_acquire(&c->ring.ctl->producer_cursor));
  /* Many producers: the frontier of their markers (multi.c), whose next
   * block is a record boundary too (bytes_multi.c: a record's blocks are
   * all done once its first is). */
  if (c->non_gating & DMP_IMPL_C_MP)
    published = dmp_impl_mp_published(c);
  if (!(c->non_gating & DMP_IMPL_C_LOSSY) && published - c->committed > (int64_t)c->ring.capacity)
    published = c->committed + (int64_t)c->ring.capacity;
  int64_t s = c->next;
  int64_t to = s > published ? s : next_boundary(&c->ring, s + 1, published);
  c->missed += (uint64_t)(to - s);
  dmp_impl_cnt_add(c->counters, DMP_IMPL_CNT_MISSED, (uint64_t)(to - s));
  c->next = to;
  if (c->non_gating & DMP_IMPL_C_LOSSY)
    lossy_commit(c);
  else
    dmp_consumer_release(c);
  return to - s;
}

size_t dmp_consumer_bytes_max(const struct dmp_consumer *c)
{
  return c && c->ring.seg->geo.bytes ? max_record(&c->ring) : 0;
}

bool dmp_consumer_is_bytes(const struct dmp_consumer *c)
{
  return c != NULL && c->ring.seg->geo.bytes;
}

/* ---- for bytes_multi.c ------------------------------------------------------ */

int dmp_impl_bytes_check(const struct dmp_impl_ring *r, int64_t s, int64_t last, struct dmp_impl_bytes_record *rec,
                         char *why, size_t whylen)
{
  struct record x = {0, 0, 0};
  int rc = check(r, s, last, &x, why, whylen);
  rec->kind = x.kind;
  rec->length = x.length;
  rec->blocks = x.blocks;
  return rc;
}

int dmp_impl_bytes_corrupt(struct dmp_consumer *c, int64_t s, const char *why)
{
  return corrupt(c, s, why);
}
