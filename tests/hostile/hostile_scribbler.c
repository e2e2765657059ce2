/*
 * hostile_scribbler: the hostile peer. Maps a LIVE ring (and its counters
 * companion "<name>.cnt") read-write, as any process with access to it can,
 * and writes seeded random values over it while a producer and consumers
 * run:
 *
 *   hostile_scribbler --name N --seed S --targets MASK --duration-ms D
 *                     [--mmap] [--kind raw|compact|aligned|typed|mp|bytes|fbytes]
 *                     [--rate-us R] [--log FILE]
 *
 * Without --mmap N is a POSIX shm segment name (shm_open); with --mmap N is
 * the path of the ring's regular file (DMP_BACKEND_MMAP) and the counters
 * file is "<path>.cnt"; both are mapped MAP_SHARED, so every write lands in
 * the pages the participants have mapped.
 * MASK is a bit set of the HT_* classes of hostile.h (header, control
 * lines, consumer table, slots, frame headers, counters; on a
 * multi-producer ring also its producer table and per-slot markers). Values are drawn
 * from a splitmix64 stream seeded with S: mostly "interesting" ones (0, -1,
 * extremes, the current value plus or minus a little, single bit flips),
 * some fully random. The same seed gives the same sequence of choices;
 * which event a write hits depends on scheduling, as it would for a real
 * hostile peer. Every write goes through a relaxed atomic of the field's
 * width (the participants read these words atomically).
 *
 * The geometry is read once, at start, from the still-honest header and
 * checked against the segment's size: the scribbler never trusts what it
 * scribbles. It prints one summary line (writes per class); with
 * DMP_HOSTILE_VERBOSE=1 also every write. Exit 0, or 2 if the ring never
 * became ready.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/counters.h>
#include <disruptor_mp/layout.h>

#include "hostile.h"

struct seg {
  uint8_t *map;
  size_t len;
};

struct scribbler {
  uint64_t rng;
  uint32_t targets;
  enum hk_kind kind;
  bool verbose;
  bool mmap_backend; /* --mmap: `name` is a file path, not a shm name */
  struct seg ring, cnt;
  /* geometry, read once from the honest header */
  uint64_t capacity, table_offset, slots_offset;
  uint32_t stride, max_consumers;
  uint32_t max_producers; /* 0: a single-producer ring (no producer table, no markers) */
  uint64_t ptable_offset, marks_offset;
  uint32_t frame_hdr;
  uint64_t writes[HT_N_CLASSES];
};

static uint64_t rnd(struct scribbler *s)
{
  uint64_t z = (s->rng += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_us(uint64_t us)
{
  nanosleep(&(struct timespec){(time_t)(us / 1000000), (long)(us % 1000000) * 1000}, NULL);
}

/* ---- reads and writes of one field --------------------------------------- */

static uint64_t load(const struct seg *g, uint64_t off, unsigned width)
{
  uint8_t *p = g->map + off;
  switch (width) {
  case 1: return __atomic_load_n(p, __ATOMIC_RELAXED);
  case 2: return __atomic_load_n((uint16_t *)(void *)p, __ATOMIC_RELAXED);
  case 4: return __atomic_load_n((uint32_t *)(void *)p, __ATOMIC_RELAXED);
  default: return __atomic_load_n((uint64_t *)(void *)p, __ATOMIC_RELAXED);
  }
}

static void store(struct seg *g, uint64_t off, unsigned width, uint64_t v)
{
  uint8_t *p = g->map + off;
  switch (width) {
  case 1: __atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED); break;
  case 2: __atomic_store_n((uint16_t *)(void *)p, (uint16_t)v, __ATOMIC_RELAXED); break;
  case 4: __atomic_store_n((uint32_t *)(void *)p, (uint32_t)v, __ATOMIC_RELAXED); break;
  default: __atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELAXED); break;
  }
}

/* A hostile value for a field of `width` bytes currently holding `cur`. */
static uint64_t value(struct scribbler *s, uint64_t cur, unsigned width)
{
  uint64_t bits = width * 8u;
  uint64_t all = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
  uint64_t top = UINT64_C(1) << (bits - 1);
  uint64_t small = 1 + rnd(s) % (2 * s->capacity + 2);
  switch (rnd(s) % 12) {
  case 0: return 0;
  case 1: return all;                 /* -1 */
  case 2: return top - 1;             /* INT_MAX of the width */
  case 3: return top;                 /* INT_MIN of the width */
  case 4: return (cur + small) & all; /* a little ahead */
  case 5: return (cur - small) & all; /* a little behind */
  case 6: return cur ^ (UINT64_C(1) << (rnd(s) % bits));
  case 7: return rnd(s) % 8;          /* small: states, counts, flags */
  case 8: return (cur + s->capacity) & all;
  case 9: return (cur + (UINT64_C(1) << (rnd(s) % bits))) & all;
  default: return rnd(s) & all;
  }
}

struct field {
  const char *name;
  uint32_t off;
  uint8_t width;
};

static void hit(struct scribbler *s, struct seg *g, int cls, const char *what, uint64_t index, uint64_t off,
                unsigned width)
{
  uint64_t cur = load(g, off, width), v = value(s, cur, width);
  store(g, off, width, v);
  s->writes[cls]++;
  if (s->verbose)
    fprintf(stderr, "scribble %s[%llu] @%llu: %#llx -> %#llx\n", what, (unsigned long long)index,
            (unsigned long long)off, (unsigned long long)cur, (unsigned long long)v);
}

#define F(type, member) {#member, (uint32_t)offsetof(type, member), (uint8_t)sizeof(((type *)0)->member)}

static const struct field header_fields[] = {
    F(struct dmp_segment_header, magic),         F(struct dmp_segment_header, layout_version),
    F(struct dmp_segment_header, header_size),   F(struct dmp_segment_header, total_size),
    F(struct dmp_segment_header, capacity),      F(struct dmp_segment_header, slot_size),
    F(struct dmp_segment_header, slot_align),    F(struct dmp_segment_header, slot_stride),
    F(struct dmp_segment_header, max_consumers), F(struct dmp_segment_header, table_offset),
    F(struct dmp_segment_header, slots_offset),  F(struct dmp_segment_header, type_tag),
    F(struct dmp_segment_header, epoch),         F(struct dmp_segment_header, created_ns),
    F(struct dmp_segment_header, owner_pid),     F(struct dmp_segment_header, flags),
    F(struct dmp_segment_header, fingerprint),   F(struct dmp_segment_header, ready),
};

static const struct field control_fields[] = {
    F(struct dmp_segment_control, producer_cursor), F(struct dmp_segment_control, producer_cursor),
    F(struct dmp_segment_control, data_waiters),    F(struct dmp_segment_control, space_waiters),
    F(struct dmp_segment_control, table_seq),       F(struct dmp_segment_control, table_hwm),
    F(struct dmp_segment_control, gate_limit),
};

static const struct field entry_fields[] = {
    F(struct dmp_consumer_entry, cursor), F(struct dmp_consumer_entry, cursor),
    F(struct dmp_consumer_entry, state),  F(struct dmp_consumer_entry, state),
    F(struct dmp_consumer_entry, flags),  F(struct dmp_consumer_entry, pid),
    F(struct dmp_consumer_entry, generation), F(struct dmp_consumer_entry, attached_ns),
};

static const struct field cnt_header_fields[] = {
    F(struct dmp_counters_header, magic),          F(struct dmp_counters_header, layout_version),
    F(struct dmp_counters_header, header_size),    F(struct dmp_counters_header, total_size),
    F(struct dmp_counters_header, record_count),   F(struct dmp_counters_header, record_size),
    F(struct dmp_counters_header, records_offset), F(struct dmp_counters_header, error_count),
    F(struct dmp_counters_header, errors_offset),  F(struct dmp_counters_header, ring_epoch),
    F(struct dmp_counters_header, fingerprint),    F(struct dmp_counters_header, errors_dropped),
    F(struct dmp_counters_header, registrations_failed), F(struct dmp_counters_header, ready),
};

static const struct field record_fields[] = {
    F(struct dmp_counter_record, state), F(struct dmp_counter_record, state),
    F(struct dmp_counter_record, type),  F(struct dmp_counter_record, value),
    F(struct dmp_counter_record, owner_pid), F(struct dmp_counter_record, registrations),
};

static const struct field error_fields[] = {
    F(struct dmp_error_record, state), F(struct dmp_error_record, code),
    F(struct dmp_error_record, count), F(struct dmp_error_record, pid),
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void hit_field(struct scribbler *s, struct seg *g, int cls, const struct field *fs, size_t n, uint64_t base,
                      uint64_t index)
{
  const struct field *f = &fs[rnd(s) % n];
  hit(s, g, cls, f->name, index, base + f->off, f->width);
}

/* Fill a string field of `n` bytes: a random byte, or no NUL at all. */
static void hit_text(struct scribbler *s, struct seg *g, int cls, uint64_t off, size_t n)
{
  if (rnd(s) % 2) {
    for (size_t i = 0; i < n; i++)
      store(g, off + i, 1, 'A' + rnd(s) % 26);
  } else {
    store(g, off + rnd(s) % n, 1, rnd(s) & 0xff);
  }
  s->writes[cls]++;
  if (s->verbose)
    fprintf(stderr, "scribble text @%llu\n", (unsigned long long)off);
}

/* ---- the classes ------------------------------------------------------------- */

/* An entry index: mostly the ones in use (0..3), sometimes any. */
static uint64_t entry_index(struct scribbler *s)
{
  return rnd(s) % 4 ? rnd(s) % (s->max_consumers < 4 ? s->max_consumers : 4) : rnd(s) % s->max_consumers;
}

static void scribble_table(struct scribbler *s)
{
  uint64_t i = entry_index(s);
  uint64_t base = s->table_offset + i * sizeof(struct dmp_consumer_entry);
  if (rnd(s) % 8 == 0) {
    uint64_t id = base + offsetof(struct dmp_consumer_entry, id);
    if (rnd(s) % 2) {
      hit_text(s, &s->ring, 2, id, DMP_ID_MAX + 1);
    } else { /* copy another entry's id: duplicate ids */
      uint64_t j = entry_index(s);
      memmove(s->ring.map + id, s->ring.map + s->table_offset + j * sizeof(struct dmp_consumer_entry) +
                                    offsetof(struct dmp_consumer_entry, id),
              DMP_ID_MAX + 1);
      s->writes[2]++;
    }
    return;
  }
  hit_field(s, &s->ring, 2, entry_fields, N_OF(entry_fields), base, i);
}

/* A slot near the producer's position (where the readers are). */
static uint64_t slot_near_cursor(struct scribbler *s)
{
  uint64_t cur = load(&s->ring, offsetof(struct dmp_segment_control, producer_cursor), 8);
  uint64_t seq = cur + (rnd(s) % (2 * s->capacity)) - s->capacity / 2;
  return s->slots_offset + (seq & (s->capacity - 1)) * s->stride;
}

static void scribble_slots(struct scribbler *s)
{
  uint64_t slot = slot_near_cursor(s);
  uint64_t n = 1 + rnd(s) % 16;
  uint64_t at = rnd(s) % s->stride;
  if (at + n > s->stride)
    n = s->stride - at;
  for (uint64_t i = 0; i < n; i++)
    store(&s->ring, slot + at + i, 1, rnd(s) & 0xff);
  s->writes[3]++;
}

/* Layer 1 frame header fields (frame.h): len, kind, flags, frag, msg_id
 * and the u32 total at 12 (aligned: every frame; compact: START prefix). */
static void scribble_fbytes(struct scribbler *s);

static void scribble_frames(struct scribbler *s)
{
  if (s->kind == HK_FBYTES) {
    scribble_fbytes(s);
    return;
  }
  static const struct field frame_fields[] = {
      {"len", 0, 4}, {"len", 0, 4}, {"kind", 4, 1}, {"flags", 5, 1}, {"flags", 5, 1},
      {"frag", 6, 2}, {"msg_id", 8, 4}, {"msg_id", 8, 4}, {"total", 12, 4}, {"total", 12, 4},
  };
  uint64_t slot = slot_near_cursor(s);
  const struct field *f = &frame_fields[rnd(s) % N_OF(frame_fields)];
  uint64_t cap = s->stride - s->frame_hdr;
  if (strcmp(f->name, "len") == 0 && rnd(s) % 2) { /* lengths around the capacity */
    static const int64_t d[] = {-4, -3, -1, 0, 1, 4, 1 << 20};
    store(&s->ring, slot, 4, cap + (uint64_t)d[rnd(s) % N_OF(d)]);
    s->writes[4]++;
    return;
  }
  if (strcmp(f->name, "flags") == 0 && rnd(s) % 2) { /* plausible flags, wrong place */
    store(&s->ring, slot + 5, 1, rnd(s) % 4);
    s->writes[4]++;
    return;
  }
  hit(s, &s->ring, 4, f->name, 0, slot + f->off, f->width);
}

/* A framed byte ring (kind fbytes): a record header (bytes.h: length u32
 * at 0, kind u16 at 4, reserved u16 at 6, seq i64 at 8) at a block
 * boundary, or the frame header inside the record's payload, 16 bytes on
 * (frame.h: len, kind, flags, frag, msg_id, total). The frame header may
 * lie in the next block (blocks of 16): offsets wrap at the ring's end, so
 * no write leaves the ring. */
static void scribble_fbytes(struct scribbler *s)
{
  static const struct field rec_fields[] = {
      {"rec.length", 0, 4}, {"rec.length", 0, 4}, {"rec.kind", 4, 2}, {"rec.kind", 4, 2},
      {"rec.reserved", 6, 2}, {"rec.seq", 8, 8}, {"rec.seq", 8, 8},
  };
  static const struct field frame_fields[] = {
      {"len", 16, 4}, {"len", 16, 4}, {"kind", 20, 1}, {"flags", 21, 1}, {"flags", 21, 1},
      {"frag", 22, 2}, {"msg_id", 24, 4}, {"msg_id", 24, 4}, {"total", 28, 4}, {"total", 28, 4},
  };
  uint64_t ring = s->capacity * s->stride;
  uint64_t rel = slot_near_cursor(s) - s->slots_offset;
  bool rec = rnd(s) % 2;
  const struct field *f = rec ? &rec_fields[rnd(s) % N_OF(rec_fields)] : &frame_fields[rnd(s) % N_OF(frame_fields)];
  uint64_t off = s->slots_offset + (rel + f->off) % ring;
  uint64_t pick = rnd(s) % 4;
  if (pick == 0 && f->off == 0) { /* a record length near the ring's largest, or the true one shifted */
    static const int64_t d[] = {-16, -1, 0, 1, 16, 64};
    store(&s->ring, off, 4, ring / 2 - 16 + (uint64_t)d[rnd(s) % N_OF(d)]);
  } else if (pick == 0 && f->off == 4) { /* a plausible record kind: DATA, PADDING, 0, 3 */
    store(&s->ring, off, 2, rnd(s) % 4);
  } else if (pick == 0 && f->off == 8) { /* the seq of another block near this one */
    store(&s->ring, off, 8, load(&s->ring, off, 8) + (uint64_t)(int64_t)((int)(rnd(s) % 5) - 2));
  } else if (pick == 0 && f->off == 21) { /* plausible frame flags, wrong place */
    store(&s->ring, off, 1, rnd(s) % 4);
  } else {
    hit(s, &s->ring, 4, f->name, 0, off, f->width);
    return;
  }
  s->writes[4]++;
}

static void scribble_counters(struct scribbler *s)
{
  if (!s->cnt.map)
    return;
  struct dmp_counters_header h;
  memcpy(&h, s->cnt.map, sizeof h); /* the honest values were checked at map time */
  uint64_t pick = rnd(s) % 8;
  uint64_t nrec = (s->cnt.len - sizeof h) / sizeof(struct dmp_counter_record);
  if (pick == 0) {
    hit_field(s, &s->cnt, 5, cnt_header_fields, N_OF(cnt_header_fields), 0, 0);
  } else if (pick <= 4) { /* the library's records come first */
    uint64_t i = rnd(s) % (nrec < 64 ? nrec : 64);
    uint64_t base = sizeof h + i * sizeof(struct dmp_counter_record);
    if (rnd(s) % 6 == 0)
      hit_text(s, &s->cnt, 5, base + offsetof(struct dmp_counter_record, label), DMP_COUNTER_LABEL_MAX + 1);
    else
      hit_field(s, &s->cnt, 5, record_fields, N_OF(record_fields), base, i);
  } else {
    uint64_t errors_offset = sizeof h + (uint64_t)(DMP_COUNTERS_BASE_RECORDS + DMP_COUNTERS_PER_CONSUMER *
                                                                                     s->max_consumers) *
                                            sizeof(struct dmp_counter_record);
    uint64_t i = rnd(s) % DMP_COUNTERS_ERRORS;
    uint64_t base = errors_offset + i * sizeof(struct dmp_error_record);
    if (base + sizeof(struct dmp_error_record) > s->cnt.len)
      return;
    if (rnd(s) % 4 == 0)
      hit_text(s, &s->cnt, 5, base + offsetof(struct dmp_error_record, text), DMP_COUNTERS_TEXT_MAX + 1);
    else
      hit_field(s, &s->cnt, 5, error_fields, N_OF(error_fields), base, i);
  }
}

static const struct field pentry_fields[] = {
    F(struct dmp_producer_entry, claim_lo),  F(struct dmp_producer_entry, claim_lo),
    F(struct dmp_producer_entry, claim_hi),  F(struct dmp_producer_entry, claim_hi),
    F(struct dmp_producer_entry, published), F(struct dmp_producer_entry, tombstoned),
    F(struct dmp_producer_entry, state),     F(struct dmp_producer_entry, pid),
    F(struct dmp_producer_entry, generation),
};

static const struct field mp_control_fields[] = {
    F(struct dmp_segment_control, mp_claim), F(struct dmp_segment_control, mp_claim),
    F(struct dmp_segment_control, mp_tombstones),
};

/* The producer table (mostly the entries in use, 0 and 1), or the shared
 * claim counter and tombstone count. */
static void scribble_producers(struct scribbler *s)
{
  if (rnd(s) % 4 == 0) {
    hit_field(s, &s->ring, 6, mp_control_fields, N_OF(mp_control_fields), 0, 0);
    return;
  }
  uint64_t i = rnd(s) % 4 ? rnd(s) % (s->max_producers < 2 ? s->max_producers : 2) : rnd(s) % s->max_producers;
  hit_field(s, &s->ring, 6, pentry_fields, N_OF(pentry_fields), s->ptable_offset + i * sizeof(struct dmp_producer_entry),
            i);
}

/* A marker near the producers' position: data or tombstone of this lap, of
 * the next or the previous one, zero, or any value. */
static void scribble_markers(struct scribbler *s)
{
  uint64_t cur = load(&s->ring, offsetof(struct dmp_segment_control, producer_cursor), 8);
  int64_t seq = (int64_t)(cur + (rnd(s) % (2 * s->capacity)) - s->capacity / 2);
  uint64_t off = s->marks_offset + ((uint64_t)seq & (s->capacity - 1)) * sizeof(int64_t);
  /* The cursor may itself be scribbled (any value): the markers'
   * encodings (layout.h: seq + 1, -(seq + 1)) in unsigned arithmetic,
   * which wraps instead of overflowing. */
  uint64_t u = (uint64_t)seq, lap = s->capacity, v;
  switch (rnd(s) % 8) {
  case 0: v = u + 1; break;          /* DMP_MARK_DATA(seq) */
  case 1: v = 0 - (u + 1); break;    /* DMP_MARK_TOMB(seq) */
  case 2: v = u + lap + 1; break;    /* data of the next lap */
  case 3: v = 0 - (u + lap + 1); break; /* tombstone of the next lap */
  case 4: v = u - lap + 1; break;    /* data of the previous lap */
  case 5: v = 0; break;
  default: hit(s, &s->ring, 7, "marker", (uint64_t)seq, off, 8); return;
  }
  store(&s->ring, off, 8, v);
  s->writes[7]++;
  if (s->verbose)
    fprintf(stderr, "scribble marker[%lld] @%llu: -> %#llx\n", (long long)seq, (unsigned long long)off,
            (unsigned long long)v);
}

static void scribble_one(struct scribbler *s)
{
  uint32_t classes[HT_N_CLASSES];
  int n = 0;
  for (int c = 0; c < HT_N_CLASSES; c++)
    if (s->targets & (1u << c) && (c != 5 || s->cnt.map) && (c != 4 || s->frame_hdr) &&
        (c < 6 || s->max_producers))
      classes[n++] = (uint32_t)c;
  if (n == 0)
    return;
  switch (classes[rnd(s) % (uint64_t)n]) {
  case 0: hit_field(s, &s->ring, 0, header_fields, N_OF(header_fields), 0, 0); break;
  case 1: hit_field(s, &s->ring, 1, control_fields, N_OF(control_fields), 0, 0); break;
  case 2: scribble_table(s); break;
  case 3: scribble_slots(s); break;
  case 4: scribble_frames(s); break;
  case 5: scribble_counters(s); break;
  case 6: scribble_producers(s); break;
  default: scribble_markers(s); break;
  }
}

/* ---- mapping ------------------------------------------------------------------ */

/* Map the object at `path` (a shm name "/x", or with `file` a regular
 * file's path) if it is at least `min` bytes long. Only the size at this
 * instant is mapped: nobody shrinks a ring, so no access can fault. */
static int map_object(const char *path, bool file, struct seg *g, size_t min)
{
  int fd = file ? open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC) : shm_open(path, O_RDWR, 0);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0 || (size_t)st.st_size < min) {
    close(fd);
    return -EAGAIN;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED)
    return -errno;
  g->map = m;
  g->len = (size_t)st.st_size;
  return 0;
}

static bool is_pow2(uint64_t x)
{
  return x && !(x & (x - 1));
}

/* Wait (bounded) for the ring to be ready, map it, take its geometry. */
static int open_ring(struct scribbler *s, const char *name, int64_t deadline)
{
  char path[PATH_MAX + 8];
  snprintf(path, sizeof path, "%s%s", s->mmap_backend ? "" : "/", name);
  for (;;) {
    if (map_object(path, s->mmap_backend, &s->ring, sizeof(struct dmp_segment_control)) == 0) {
      const struct dmp_segment_control *ctl = (const void *)s->ring.map;
      if (load(&s->ring, offsetof(struct dmp_segment_header, ready), 4) == DMP_READY) {
        __atomic_thread_fence(__ATOMIC_ACQUIRE); /* pairs with the creator's release of `ready` */
        const struct dmp_segment_header *h = &ctl->header;
        s->capacity = h->capacity;
        s->stride = h->slot_stride;
        s->max_consumers = h->max_consumers;
        s->table_offset = h->table_offset;
        s->slots_offset = h->slots_offset;
        if (!is_pow2(s->capacity) || s->stride == 0 || s->max_consumers == 0 ||
            s->table_offset + (uint64_t)s->max_consumers * sizeof(struct dmp_consumer_entry) > s->ring.len ||
            s->slots_offset + s->capacity * s->stride > s->ring.len)
          return -EINVAL;
        /* A multi-producer ring: the producer table and the markers follow
         * the consumer table (layout.h). */
        s->max_producers = h->max_producers;
        s->ptable_offset = s->table_offset + (uint64_t)s->max_consumers * sizeof(struct dmp_consumer_entry);
        s->marks_offset = s->ptable_offset + (uint64_t)s->max_producers * sizeof(struct dmp_producer_entry);
        if (s->max_producers && (s->max_producers > DMP_MAX_PRODUCERS ||
                                 s->marks_offset + s->capacity * sizeof(int64_t) > s->ring.len))
          return -EINVAL;
        return 0;
      }
      munmap(s->ring.map, s->ring.len);
      s->ring.map = NULL;
    }
    if (now_ns() > deadline)
      return -ETIMEDOUT;
    sleep_us(500);
  }
}

/* The counters segment, if the ring has one (bounded wait). */
static void open_counters(struct scribbler *s, const char *name, int64_t deadline)
{
  char path[PATH_MAX + 8];
  snprintf(path, sizeof path, "%s%s%s", s->mmap_backend ? "" : "/", name, DMP_COUNTERS_SUFFIX);
  size_t need = sizeof(struct dmp_counters_header) +
                (DMP_COUNTERS_BASE_RECORDS + DMP_COUNTERS_PER_CONSUMER * (size_t)s->max_consumers) *
                    sizeof(struct dmp_counter_record) +
                DMP_COUNTERS_ERRORS * sizeof(struct dmp_error_record);
  while (map_object(path, s->mmap_backend, &s->cnt, need) != 0) {
    if (now_ns() > deadline)
      return;
    sleep_us(500);
  }
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  static const struct option longs[] = {{"name", 1, 0, 'n'},     {"seed", 1, 0, 's'},    {"targets", 1, 0, 't'},
                                        {"duration-ms", 1, 0, 'd'}, {"rate-us", 1, 0, 'r'}, {"kind", 1, 0, 'k'},
                                        {"log", 1, 0, 'l'},      {"mmap", 0, 0, 'm'},   {0, 0, 0, 0}};
  struct scribbler s;
  memset(&s, 0, sizeof s);
  const char *name = NULL, *log = NULL;
  int64_t duration_ms = 1000;
  uint64_t rate_us = 200;
  int ch;
  while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (ch) {
    case 'n': name = optarg; break;
    case 's': s.rng = strtoull(optarg, NULL, 10); break;
    case 't': s.targets = (uint32_t)strtoul(optarg, NULL, 0); break;
    case 'd': duration_ms = strtoll(optarg, NULL, 10); break;
    case 'r': rate_us = strtoull(optarg, NULL, 10); break;
    case 'k':
      s.kind = strcmp(optarg, "raw") == 0 ? HK_RAW : strcmp(optarg, "aligned") == 0 ? HK_ALIGNED
             : strcmp(optarg, "typed") == 0 ? HK_TYPED : strcmp(optarg, "mp") == 0 ? HK_MP
             : strcmp(optarg, "bytes") == 0 ? HK_BYTES : strcmp(optarg, "fbytes") == 0 ? HK_FBYTES : HK_COMPACT;
      break;
    case 'l': log = optarg; break;
    case 'm': s.mmap_backend = true; break;
    default: return HX_USAGE;
    }
  }
  if (!name)
    return HX_USAGE;
  if (log) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
  }
  s.verbose = getenv("DMP_HOSTILE_VERBOSE") && atoi(getenv("DMP_HOSTILE_VERBOSE")) > 0;
  /* A byte ring's record header (bytes.h) is 16 bytes, its fields where
   * the aligned frame header has len, kind and the rest. */
  s.frame_hdr = s.kind == HK_RAW || s.kind == HK_MP ? 0
                : s.kind == HK_ALIGNED || s.kind == HK_BYTES || s.kind == HK_FBYTES ? 16 : 12;
  int64_t deadline = now_ns() + INT64_C(5000000000);
  int rc = open_ring(&s, name, deadline);
  if (rc < 0) {
    fprintf(stderr, "hostile_scribbler: ring '%s' not ready: %s\n", name, strerror(-rc));
    return 2;
  }
  if (s.targets & HT_COUNTERS)
    open_counters(&s, name, now_ns() + INT64_C(1000000000));
  fprintf(stderr, "hostile_scribbler: mapped %s '%s' (%zu bytes, capacity %llu, stride %u)%s\n",
          s.mmap_backend ? "mmap file" : "shm segment", name, s.ring.len, (unsigned long long)s.capacity, s.stride,
          s.cnt.map ? " and its counters" : "");
  int64_t end = now_ns() + duration_ms * 1000000;
  while (now_ns() < end) {
    for (uint64_t b = 1 + rnd(&s) % 4; b > 0; b--)
      scribble_one(&s);
    sleep_us(rate_us / 2 + rnd(&s) % (rate_us + 1));
  }
  static const char *const names[HT_N_CLASSES] = {"header", "control", "table",     "slots",
                                                  "frames", "counters", "producers", "markers"};
  fprintf(stderr, "hostile_scribbler: targets %#x, writes:", s.targets);
  for (int c = 0; c < HT_N_CLASSES; c++)
    if (s.writes[c])
      fprintf(stderr, " %s %llu", names[c], (unsigned long long)s.writes[c]);
  fprintf(stderr, "%s\n", s.cnt.map || !(s.targets & HT_COUNTERS) ? "" : " (no counters segment)");
  munmap(s.ring.map, s.ring.len);
  if (s.cnt.map)
    munmap(s.cnt.map, s.cnt.len);
  return 0;
}
