/* Recorder and replayer in one process (record.h): gating recording of raw
 * and framed rings, the producer held back by a gating recorder, what open
 * refuses (missing ring, wrong kind, existing journal) and leaves behind,
 * replay geometry checks, replay from a sequence, and pacing (lower bounds
 * only: a paced replay cannot finish early). Byte rings: recorded record by
 * record at 0 B, 1 B, odd and the largest sizes, raw and framed, gating
 * and non-gating, a corrupt record from a hostile producer skipped and
 * flagged, and replay's shape and geometry checks. */
#include "jnl.h"

TestSuite(journal_record, .fini = jn_fini, .timeout = 120);

static struct dmp_producer *raw_ring(const char *name, uint32_t slot, uint64_t capacity)
{
  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = name;
  pc.capacity = capacity;
  pc.slot_size = slot;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&pc, &p);
  cr_assert(eq(int, rc, 0), "create %s: %s / %s", name, myelon_err_name(rc), dmp_last_error());
  return p;
}

static struct myelon_recorder_config rcfg(const char *ring, const char *base)
{
  struct myelon_recorder_config c;
  myelon_recorder_config_init(&c);
  c.ring = ring;
  c.journal.path = base;
  c.journal.buffer_size = 4096;
  return c;
}

static struct myelon_recorder *rec_open(const struct myelon_recorder_config *c)
{
  struct myelon_recorder *r = NULL;
  int rc = myelon_recorder_open(c, &r);
  cr_assert(eq(int, rc, 0), "recorder_open: %s / %s", myelon_err_name(rc), dmp_last_error());
  return r;
}

/* Run the recorder until it has recorded `n` (bounded). */
static void rec_until(struct myelon_recorder *r, uint64_t n)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  struct myelon_recorder_stats st;
  do {
    int rc = myelon_recorder_run(r, 1000000);
    cr_assert(ge(int, rc, 0), "run: %s / %s", myelon_err_name(rc), dmp_last_error());
    myelon_recorder_stats(r, &st);
  } while (st.recorded < n && ts_now_ns() < deadline);
  cr_assert(eq(u64, st.recorded, n));
}

Test(journal_record, gating_raw_recorder_holds_the_producer_back_and_loses_nothing)
{
  const char *name = ts_shm_name("rr");
  const char *base = jn_tmp("rr");
  struct dmp_producer *p = raw_ring(name, 48, 8);
  struct myelon_recorder_config c = rcfg(name, base);
  struct myelon_recorder *r = rec_open(&c);
  uint8_t ev[48];
  for (uint64_t i = 0; i < 8; i++) {
    jp_fill(ev, sizeof ev, 9, i);
    cr_assert(ge(i64, dmp_producer_try_publish(p, ev, sizeof ev), 0));
  }
  jp_fill(ev, sizeof ev, 9, 8);
  cr_assert(eq(i64, dmp_producer_try_publish(p, ev, sizeof ev), -EAGAIN), "the recorder gates the ring");
  rec_until(r, 8);
  for (uint64_t i = 8; i < 100; i++) {
    jp_fill(ev, sizeof ev, 9, i);
    cr_assert(ge(i64, dmp_producer_publish_timeout(p, ev, sizeof ev, JN_LONG_NS), 0));
    if (i % 8 == 7)
      rec_until(r, i + 1);
  }
  dmp_producer_close(p);
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  int rc;
  while ((rc = myelon_recorder_run(r, 10000000)) == 0 && ts_now_ns() < deadline)
    ;
  cr_assert(eq(int, rc, 1), "the recorder ends when the producer is gone");
  struct myelon_recorder_stats st;
  cr_assert(eq(int, myelon_recorder_close(r, &st), 0));
  cr_assert(eq(u64, st.recorded, 100));
  cr_assert(eq(u64, st.written, 100));
  cr_assert(eq(u64, st.dropped, 0));
  cr_assert(st.gating);
  cr_assert(eq(u64, st.lag_max, 8), "the recorder saw a full ring waiting");
  cr_assert(eq(int, (int)st.kind, MYELON_JOURNAL_RAW));
  struct myelon_journal_reader *jr = jn_open(base, 0);
  const struct myelon_journal_info *in = myelon_journal_reader_info(jr);
  cr_assert(eq(u32, in->slot_size, 48));
  cr_assert(eq(u64, in->ring_capacity, 8));
  cr_assert(eq(str, (char *)in->ring_name, (char *)name));
  struct myelon_journal_record rec;
  for (uint64_t i = 0; i < 100; i++) {
    cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 1));
    cr_assert(eq(u64, rec.seq, i));
    cr_assert(eq(int, jp_check(rec.data, rec.len, 9, i, 48), 0), "event %llu", (unsigned long long)i);
    cr_assert(eq(u8, rec.flags, 0));
  }
  cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 0));
  myelon_journal_reader_close(jr);
}

Test(journal_record, framed_recorder_detects_the_format_and_records_messages)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = ts_shm_name("rf");
  pc.ring.capacity = 16;
  pc.format = MYELON_FRAME_ALIGNED;
  pc.frame_capacity = 64;
  struct myelon_producer *p = NULL;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), 0), "%s", dmp_last_error());
  const char *base = jn_tmp("rf");
  struct myelon_recorder_config c = rcfg(pc.ring.name, base);
  struct myelon_recorder *r = rec_open(&c);
  uint8_t msg[600];
  for (uint64_t i = 0; i < 200; i++) {
    size_t len = jp_len(3, i, 500);
    jp_fill(msg, len, 3, i);
    int rc = myelon_producer_try_publish(p, msg, len, (uint8_t)i);
    if (rc == -EAGAIN) {
      rec_until(r, i);
      rc = myelon_producer_try_publish(p, msg, len, (uint8_t)i);
    }
    cr_assert(eq(int, rc, 0), "message %llu: %s", (unsigned long long)i, myelon_err_name(rc));
  }
  rec_until(r, 200);
  struct myelon_recorder_stats st;
  cr_assert(eq(int, myelon_recorder_close(r, &st), 0));
  myelon_producer_close(p);
  cr_assert(eq(int, (int)st.kind, MYELON_JOURNAL_FRAMED));
  cr_assert(eq(u64, st.bad_messages, 0));
  struct myelon_journal_reader *jr = jn_open(base, 0);
  const struct myelon_journal_info *in = myelon_journal_reader_info(jr);
  cr_assert(eq(u32, in->frame_format, MYELON_FRAME_ALIGNED));
  cr_assert(eq(u32, in->frame_capacity, 64));
  struct myelon_journal_record rec;
  for (uint64_t i = 0; i < 200; i++) {
    cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 1));
    cr_assert(eq(u64, rec.seq, i));
    cr_assert(eq(u32, rec.msg_id, (uint32_t)i + 1));
    cr_assert(eq(u8, rec.kind, (uint8_t)i));
    cr_assert(eq(int, jp_check(rec.data, rec.len, 3, i, jp_len(3, i, 500)), 0), "message %llu", (unsigned long long)i);
  }
  myelon_journal_reader_close(jr);
}

Test(journal_record, open_refuses_clearly_and_leaves_nothing_behind)
{
  const char *base = jn_tmp("ref");
  struct myelon_recorder_config c = rcfg(ts_shm_name("none"), base);
  struct myelon_recorder *r = (void *)1;
  cr_assert(eq(int, myelon_recorder_open(&c, &r), -ENOENT));
  cr_assert(eq(ptr, r, NULL));
  cr_assert(eq(int, access(jn_part(base, 1), F_OK), -1), "no journal for a missing ring");
  const char *name = ts_shm_name("ref");
  struct dmp_producer *p = raw_ring(name, 32, 8);
  c = rcfg(name, base);
  c.kind = MYELON_RECORD_FRAMED;
  cr_assert(eq(int, myelon_recorder_open(&c, &r), -MYELON_E_FORMAT), "a raw ring has no frames");
  cr_assert(ne(ptr, strstr(dmp_last_error(), "frames"), NULL), "%s", dmp_last_error());
  c.kind = MYELON_RECORD_AUTO;
  struct myelon_journal_writer_config wc = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  jn_write(&wc, 1, 1, 10);
  cr_assert(eq(int, myelon_recorder_open(&c, &r), -EEXIST));
  /* Nothing gates the ring after the failures: it can be filled and wrap. */
  uint8_t ev[32] = {0};
  for (int i = 0; i < 20; i++)
    cr_assert(ge(i64, dmp_producer_try_publish(p, ev, sizeof ev), 0), "publish %d", i);
  c.flags = 0x80;
  cr_assert(eq(int, myelon_recorder_open(&c, &r), -DMP_E_BADCONFIG));
  c.flags = 0;
  c.journal.path = NULL;
  cr_assert(eq(int, myelon_recorder_open(&c, &r), -DMP_E_BADCONFIG));
  dmp_producer_close(p);
  cr_assert(eq(int, myelon_recorder_close(NULL, NULL), 0));
}

/* A raw journal of `n` 32-byte events, 10 ms apart on the recorded clock. */
static const char *raw_journal(uint64_t n)
{
  const char *base = jn_tmp("rj");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  c.info.slot_size = 32;
  c.info.ring_capacity = 16;
  struct myelon_journal_writer *w = NULL;
  cr_assert(eq(int, myelon_journal_writer_open(&c, &w), 0));
  uint8_t ev[32];
  for (uint64_t i = 0; i < n; i++) {
    jp_fill(ev, 32, 5, i);
    struct myelon_journal_record r = {.data = ev, .len = 32, .seq = 100 + i, .mono_ns = (int64_t)i * 10000000,
                                      .realtime_ns = 1000 + (int64_t)i};
    cr_assert(eq(int, myelon_journal_writer_append(w, &r), 0));
  }
  cr_assert(eq(int, myelon_journal_writer_close(w, NULL), 0));
  return base;
}

static struct myelon_replayer_config pcfg(const char *journal)
{
  struct myelon_replayer_config c;
  myelon_replayer_config_init(&c);
  c.journal = journal;
  c.ring.name = ts_shm_name("rp");
  c.publish_timeout_ns = JN_LONG_NS;
  return c;
}

/* Replay with `c` while a consumer in this process drains; returns the
 * first index read and checks the rest follow. Elapsed time in *ns. */
static uint64_t replay_drain(struct myelon_replayer_config *c, uint64_t expect, int64_t *ns)
{
  struct myelon_replayer *r = NULL;
  int rc = myelon_replayer_open(c, &r);
  cr_assert(eq(int, rc, 0), "replayer_open: %s / %s", myelon_err_name(rc), dmp_last_error());
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = c->ring.name;
  cc.id = "check";
  struct dmp_consumer *cons = NULL;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &cons), 0));
  int64_t t0 = ts_now_ns(), deadline = t0 + (int64_t)ts_timeout_ms(20000) * 1000000;
  uint64_t got = 0, first = UINT64_MAX;
  uint8_t ev[32];
  do {
    rc = myelon_replayer_run(r, 1000000);
    cr_assert(ge(int, rc, 0), "run: %s / %s", myelon_err_name(rc), dmp_last_error());
    int64_t seq;
    while (dmp_consumer_try_copy(cons, ev, 32, &seq) == 0) {
      uint64_t i;
      memcpy(&i, ev, 8);
      if (first == UINT64_MAX)
        first = i;
      cr_assert(eq(u64, i, first + got));
      cr_assert(eq(int, jp_check(ev, 32, 5, i, 32), 0));
      got++;
    }
  } while (rc == 0 && ts_now_ns() < deadline);
  *ns = ts_now_ns() - t0;
  cr_assert(eq(int, rc, 1), "replay finished");
  cr_assert(eq(u64, got, expect));
  struct myelon_replayer_stats st;
  myelon_replayer_stats(r, &st);
  cr_assert(eq(u64, st.replayed, expect));
  dmp_consumer_close_forget(cons);
  myelon_replayer_close(r);
  return first;
}

Test(journal_record, replay_starts_at_a_sequence_and_stops_at_a_count)
{
  const char *j = raw_journal(40);
  struct myelon_replayer_config c = pcfg(j);
  int64_t ns;
  cr_assert(eq(u64, replay_drain(&c, 40, &ns), 0));
  c = pcfg(j);
  c.from_seq = 125;
  cr_assert(eq(u64, replay_drain(&c, 15, &ns), 25));
  c = pcfg(j);
  c.from_time_ns = 1030;
  c.max_records = 4;
  cr_assert(eq(u64, replay_drain(&c, 4, &ns), 30));
}

Test(journal_record, paced_replays_take_at_least_the_recorded_or_asked_time)
{
  const char *j = raw_journal(11); /* 100 ms of recorded time */
  struct myelon_replayer_config c = pcfg(j);
  c.pace = MYELON_REPLAY_ORIGINAL;
  int64_t ns;
  replay_drain(&c, 11, &ns);
  cr_assert(ge(i64, ns, INT64_C(100000000)), "original pacing: %lld ns", (long long)ns);
  c = pcfg(j);
  c.pace = MYELON_REPLAY_ORIGINAL;
  c.speed = 4;
  replay_drain(&c, 11, &ns);
  cr_assert(ge(i64, ns, INT64_C(25000000)), "4x: %lld ns", (long long)ns);
  c = pcfg(j);
  c.pace = MYELON_REPLAY_RATE;
  c.rate = 200; /* 10 gaps of 5 ms */
  replay_drain(&c, 11, &ns);
  cr_assert(ge(i64, ns, INT64_C(50000000)), "200/s: %lld ns", (long long)ns);
}

Test(journal_record, replay_refuses_other_slot_sizes_and_frame_capacities)
{
  const char *j = raw_journal(3);
  struct myelon_replayer_config c = pcfg(j);
  c.ring.slot_size = 64;
  struct myelon_replayer *r = (void *)1;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), -MYELON_E_FORMAT));
  cr_assert(eq(ptr, r, NULL));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "32-byte slots"), NULL), "%s", dmp_last_error());
  /* A framed journal and another frame capacity. */
  const char *base = jn_tmp("fj");
  struct myelon_journal_writer_config wc = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  wc.info.kind = MYELON_JOURNAL_FRAMED;
  wc.info.frame_capacity = 128;
  wc.info.slot_size = 140;
  wc.info.ring_capacity = 16;
  jn_write(&wc, 1, 3, 100);
  c = pcfg(base);
  c.frame_capacity = 256;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), -MYELON_E_FORMAT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "128-byte frames"), NULL), "%s", dmp_last_error());
  c = pcfg(base);
  c.pace = MYELON_REPLAY_RATE; /* no rate */
  cr_assert(eq(int, myelon_replayer_open(&c, &r), -DMP_E_BADCONFIG));
  /* A raw record that is not one slot is an error, not a short event. */
  const char *bad = jn_tmp("badraw");
  struct myelon_journal_writer_config bc = jn_wcfg(bad, MYELON_JOURNAL_IO_AUTO);
  bc.info.slot_size = 64;
  jn_write(&bc, 1, 3, 100); /* lengths 0, 100, 1: none is 64 */
  c = pcfg(bad);
  cr_assert(eq(int, myelon_replayer_open(&c, &r), 0));
  cr_assert(eq(int, myelon_replayer_run(r, -1), -MYELON_E_FORMAT));
  myelon_replayer_close(r);
}

/* ---- byte rings -------------------------------------------------------- */

/* A byte ring of `bytes` bytes (64-byte blocks): Layer 0's DMP_RING_BYTES,
 * or Layer 1's MYELON_FRAME_BYTES. */
struct bring {
  const char *name;
  bool framed;
  struct dmp_producer *p;      /* raw (or the framed producer's ring) */
  struct myelon_producer *fp;  /* framed */
  size_t max;                  /* largest record (framed: message) */
};

static struct bring byte_ring(bool framed, uint64_t bytes)
{
  struct bring b = {ts_shm_name(framed ? "bf" : "br"), framed, NULL, NULL, 0};
  int rc;
  if (framed) {
    struct myelon_producer_config pc;
    myelon_producer_config_init(&pc);
    pc.ring.name = b.name;
    pc.format = MYELON_FRAME_BYTES;
    pc.ring_bytes = bytes;
    rc = myelon_producer_create(&pc, &b.fp);
    if (rc == 0) {
      b.p = myelon_producer_ring(b.fp);
      b.max = myelon_producer_max_message(b.fp);
    }
  } else {
    struct dmp_producer_config pc;
    dmp_producer_config_init(&pc);
    pc.name = b.name;
    pc.flags = DMP_RING_BYTES;
    pc.capacity = bytes;
    pc.type_tag = 0x5eed;
    rc = dmp_producer_create(&pc, &b.p);
    if (rc == 0)
      b.max = dmp_producer_bytes_max(b.p);
  }
  cr_assert(eq(int, rc, 0), "%s byte ring: %s / %s", framed ? "framed" : "raw", myelon_err_name(rc), dmp_last_error());
  return b;
}

/* Publish without waiting: 0, or -EAGAIN when the ring is full. */
static int bring_try(struct bring *b, const void *d, size_t len, uint8_t kind)
{
  if (b->framed)
    return myelon_producer_try_publish(b->fp, d, len, kind);
  int64_t rc = dmp_producer_try_publish_bytes(b->p, d, len);
  return rc < 0 ? (int)rc : 0;
}

static void bring_close(struct bring *b)
{
  if (b->framed)
    myelon_producer_close(b->fp);
  else
    dmp_producer_close(b->p);
}

/* Message i of the size test: 0, 1, 37 (odd), the largest, then seeded. */
static size_t size_at(uint64_t i, size_t max)
{
  static const size_t first[] = {0, 1, 37};
  if (i < 3)
    return first[i];
  return i == 3 ? max : jp_len(17, i, max);
}

/* Run the recorder until it returns 1 (the producer is gone), bounded. */
static void rec_to_end(struct myelon_recorder *r)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  int rc;
  while ((rc = myelon_recorder_run(r, 10000000)) == 0 && ts_now_ns() < deadline)
    ;
  cr_assert(eq(int, rc, 1), "the recorder ends when the producer is gone: %s", myelon_err_name(rc));
}

/* record.h: a byte ring is recorded as a slot ring is (this replaces the
 * refusal of 0.5's first byte rings): one journal record per ring record,
 * whole, at 0 B, 1 B, 37 B and the ring's largest; raw records with their
 * first block's sequence, framed messages with kind, id and ordinal; the
 * header says byte ring (version 2) with the ring's bytes, block and
 * largest record. The producer is held back by the gating recorder. */
Test(journal_record, byte_rings_are_recorded_record_by_record_at_every_size)
{
  for (int framed = 0; framed < 2; framed++) {
    struct bring b = byte_ring(framed, 4096);
    cr_assert(eq(sz, b.max, framed ? (size_t)2016 : (size_t)2032), "half the ring less the headers");
    const char *base = jn_tmp("bytes");
    struct myelon_recorder_config c = rcfg(b.name, base);
    struct myelon_recorder *r = rec_open(&c);
    uint8_t *msg = malloc(b.max + 1);
    const uint64_t n = 60;
    for (uint64_t i = 0; i < n; i++) {
      size_t len = size_at(i, b.max);
      jp_fill(msg, len, 4, i);
      int rc = bring_try(&b, msg, len, (uint8_t)(i * 7));
      if (rc == -EAGAIN) { /* the gating recorder holds the producer back */
        rec_until(r, i);
        rc = bring_try(&b, msg, len, (uint8_t)(i * 7));
      }
      cr_assert(eq(int, rc, 0), "message %llu (%zu bytes): %s", (unsigned long long)i, len, myelon_err_name(rc));
    }
    free(msg);
    bring_close(&b);
    rec_to_end(r);
    struct myelon_recorder_stats st;
    cr_assert(eq(int, myelon_recorder_close(r, &st), 0));
    cr_assert(eq(u64, st.recorded, n));
    cr_assert(eq(u64, st.bad_messages, 0));
    cr_assert(eq(u64, st.dropped, 0));
    cr_assert(eq(int, (int)st.kind, framed ? MYELON_JOURNAL_FRAMED : MYELON_JOURNAL_RAW));
    struct myelon_journal_reader *jr = jn_open(base, 0);
    const struct myelon_journal_info *in = myelon_journal_reader_info(jr);
    cr_assert(ne(u32, in->flags & MYELON_JOURNAL_F_BYTES, 0), "flags %#x", in->flags);
    cr_assert(eq(u64, in->ring_capacity, 4096), "the ring in bytes");
    cr_assert(eq(u32, in->slot_size, 64), "the block");
    cr_assert(eq(u32, in->slot_align, 64));
    cr_assert(eq(u32, in->frame_capacity, (uint32_t)b.max), "the largest record (framed: message)");
    cr_assert(eq(u32, in->frame_format, framed ? (uint32_t)MYELON_FRAME_BYTES : 0u));
    cr_assert(eq(u64, in->type_tag, framed ? myelon_frame_tag(MYELON_FRAME_BYTES, 0) : 0x5eed));
    struct myelon_journal_record rec;
    int64_t last_seq = -1;
    for (uint64_t i = 0; i < n; i++) {
      cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 1), "record %llu", (unsigned long long)i);
      size_t len = size_at(i, b.max);
      cr_assert(eq(int, jp_check(rec.data, rec.len, 4, i, len), 0), "record %llu: %u bytes, want %zu",
                (unsigned long long)i, rec.len, len);
      cr_assert(eq(u8, rec.flags, 0));
      if (framed) {
        cr_assert(eq(u64, rec.seq, i), "ordinal");
        cr_assert(eq(u32, rec.msg_id, (uint32_t)i + 1));
        cr_assert(eq(u8, rec.kind, (uint8_t)(i * 7)));
      } else {
        cr_assert(gt(i64, (int64_t)rec.seq, last_seq), "block sequences grow");
        last_seq = (int64_t)rec.seq;
        cr_assert(eq(u8, rec.kind, 0));
      }
    }
    cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 0), "nothing more");
    myelon_journal_reader_close(jr);
  }
}

/* A framed consumer "check" of the replayed ring `name`, which must be a
 * framed byte ring (MYELON_FRAME_BYTES: the attach fails on any other). */
static struct myelon_consumer *attach_framed_bytes(const char *name)
{
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = name;
  cc.ring.id = "check";
  cc.format = MYELON_FRAME_BYTES;
  struct myelon_consumer *cons = NULL;
  cr_assert(eq(int, myelon_consumer_attach(&cc, &cons), 0), "%s", dmp_last_error());
  return cons;
}

/* --framed on a byte ring without Layer 1's tag is refused, leaving
 * nothing behind; --raw on a MYELON_FRAME_BYTES ring records each record
 * whole (frame header and message), and replays into a byte ring with the
 * same type tag that a framed consumer reads as the original messages. */
Test(journal_record, byte_ring_kinds_framed_refused_on_raw_and_raw_of_framed_round_trips)
{
  struct bring raw = byte_ring(false, 4096);
  const char *base = jn_tmp("bk");
  struct myelon_recorder_config c = rcfg(raw.name, base);
  c.kind = MYELON_RECORD_FRAMED;
  struct myelon_recorder *r = (void *)1;
  cr_assert(eq(int, myelon_recorder_open(&c, &r), -MYELON_E_FORMAT));
  cr_assert(eq(ptr, r, NULL));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "does not carry Layer 1 messages"), NULL), "%s", dmp_last_error());
  cr_assert(eq(int, access(jn_part(base, 1), F_OK), -1), "no journal for a refused ring");
  uint8_t msg[100] = {0};
  for (int i = 0; i < 200; i++) /* nothing gates the ring: it fills and wraps */
    cr_assert(eq(int, bring_try(&raw, msg, sizeof msg, 0), 0), "publish %d", i);
  bring_close(&raw);

  struct bring fr = byte_ring(true, 4096);
  c = rcfg(fr.name, base);
  c.kind = MYELON_RECORD_RAW;
  r = rec_open(&c);
  uint8_t buf[300];
  for (uint64_t i = 0; i < 10; i++) {
    size_t len = jp_len(6, i, sizeof buf);
    jp_fill(buf, len, 6, i);
    cr_assert(eq(int, bring_try(&fr, buf, len, (uint8_t)i), 0));
  }
  bring_close(&fr);
  rec_to_end(r);
  struct myelon_recorder_stats st;
  cr_assert(eq(int, myelon_recorder_close(r, &st), 0));
  cr_assert(eq(u64, st.recorded, 10));
  cr_assert(eq(int, (int)st.kind, MYELON_JOURNAL_RAW));
  struct myelon_journal_reader *jr = jn_open(base, 0);
  struct myelon_journal_record rec;
  cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 1));
  cr_assert(eq(u32, rec.len, 16), "message 0: the 16-byte frame header and no bytes");
  myelon_journal_reader_close(jr);
  /* Replayed raw, read framed: the same messages. */
  struct myelon_replayer_config pc = pcfg(base);
  struct myelon_replayer *rp = NULL;
  cr_assert(eq(int, myelon_replayer_open(&pc, &rp), 0), "%s", dmp_last_error());
  struct myelon_consumer *cons = attach_framed_bytes(pc.ring.name);
  cr_assert(eq(int, myelon_replayer_run(rp, -1), 1));
  for (uint64_t i = 0; i < 10; i++) {
    struct myelon_msg m;
    cr_assert(eq(int, myelon_consumer_recv(cons, &m, JN_LONG_NS), 0), "message %llu", (unsigned long long)i);
    cr_assert(eq(u8, m.kind, (uint8_t)i));
    cr_assert(eq(int, jp_check(m.data, m.len, 6, i, jp_len(6, i, sizeof buf)), 0));
    myelon_consumer_release(cons);
  }
  myelon_consumer_close(cons);
  myelon_replayer_close(rp);
}

/* A hostile producer writes a block that is no record (a slot call on a
 * byte ring): the recorder, gating or not, does not record it, counts a
 * bad message (not a drop), moves on (dmp_consumer_resync_bytes()), and
 * flags the next record. */
Test(journal_record, a_corrupt_byte_ring_record_is_skipped_counted_and_flagged)
{
  for (int ng = 0; ng < 2; ng++) {
#ifndef DMP_CONSUMER_NON_GATING
    if (ng)
      break;
#endif
    struct bring b = byte_ring(false, 4096);
    const char *base = jn_tmp("bc");
    struct myelon_recorder_config c = rcfg(b.name, base);
    c.flags = ng ? MYELON_RECORD_NON_GATING : 0;
    struct myelon_recorder *r = rec_open(&c);
    uint8_t msg[40];
    jp_fill(msg, sizeof msg, 8, 0);
    cr_assert(eq(int, bring_try(&b, msg, sizeof msg, 0), 0));
    uint8_t junk[64];
    memset(junk, 0x7b, sizeof junk); /* kind 0x7b7b: no such record kind */
    cr_assert(ge(i64, dmp_producer_try_publish(b.p, junk, sizeof junk), 0));
    rec_until(r, 1);
    struct myelon_recorder_stats st;
    int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
    do {
      cr_assert(ge(int, myelon_recorder_run(r, 1000000), 0));
      myelon_recorder_stats(r, &st);
    } while (st.bad_messages == 0 && ts_now_ns() < deadline);
    cr_assert(eq(u64, st.bad_messages, 1), "the corrupt record is counted");
    jp_fill(msg, sizeof msg, 8, 1);
    cr_assert(eq(int, bring_try(&b, msg, sizeof msg, 0), 0), "the recorder no longer holds the ring");
    rec_until(r, 2);
    bring_close(&b);
    rec_to_end(r);
    cr_assert(eq(int, myelon_recorder_close(r, &st), 0));
    cr_assert(eq(u64, st.recorded, 2));
    cr_assert(eq(u64, st.dropped, 0), "a corrupt record is a bad message, not a drop");
    struct myelon_journal_reader *jr = jn_open(base, 0);
    struct myelon_journal_record rec;
    for (uint64_t i = 0; i < 2; i++) {
      cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 1));
      cr_assert(eq(int, jp_check(rec.data, rec.len, 8, i, sizeof msg), 0), "record %llu", (unsigned long long)i);
      cr_assert(eq(u8, rec.flags, i ? MYELON_JREC_F_GAP : 0), "record %llu flags", (unsigned long long)i);
    }
    cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 0));
    myelon_journal_reader_close(jr);
  }
}

/* A MYELON_FRAME_BYTES record whose frame fails the framed consumer's
 * checks (here: written by Layer 0 straight into the framed ring) is a bad
 * message and is not recorded; the messages around it are. */
Test(journal_record, a_malformed_frame_in_a_framed_byte_ring_is_a_bad_message)
{
  struct bring b = byte_ring(true, 4096);
  const char *base = jn_tmp("bm");
  struct myelon_recorder_config c = rcfg(b.name, base);
  struct myelon_recorder *r = rec_open(&c);
  uint8_t msg[30], junk[40];
  jp_fill(msg, sizeof msg, 2, 0);
  cr_assert(eq(int, bring_try(&b, msg, sizeof msg, 5), 0));
  memset(junk, 0x55, sizeof junk); /* flags 0x55: not a SINGLE */
  cr_assert(ge(i64, dmp_producer_try_publish_bytes(b.p, junk, sizeof junk), 0));
  jp_fill(msg, sizeof msg, 2, 1);
  cr_assert(eq(int, bring_try(&b, msg, sizeof msg, 6), 0));
  bring_close(&b);
  rec_to_end(r);
  struct myelon_recorder_stats st;
  cr_assert(eq(int, myelon_recorder_close(r, &st), 0));
  cr_assert(eq(u64, st.recorded, 2));
  cr_assert(eq(u64, st.bad_messages, 1));
  struct myelon_journal_reader *jr = jn_open(base, 0);
  struct myelon_journal_record rec;
  for (uint64_t i = 0; i < 2; i++) {
    cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 1));
    cr_assert(eq(int, jp_check(rec.data, rec.len, 2, i, sizeof msg), 0), "message %llu", (unsigned long long)i);
    cr_assert(eq(u8, rec.kind, (uint8_t)(5 + i)));
  }
  cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 0));
  myelon_journal_reader_close(jr);
}

/* The shape comes from the segment, not from dmp_consumer_bytes_max()
 * alone: a byte ring of two 16-byte blocks (its largest record is empty,
 * bytes_max 0) is recorded as a byte ring, and a slot ring of the same
 * geometry (two 16-byte slots aligned to 16) as a slot ring. */
Test(journal_record, the_smallest_byte_ring_and_its_slot_twin_are_told_apart)
{
  for (int bytes = 0; bytes < 2; bytes++) {
    struct dmp_producer_config pc;
    dmp_producer_config_init(&pc);
    pc.name = ts_shm_name("tiny");
    pc.capacity = bytes ? 32 : 2;
    pc.slot_size = 16;
    pc.slot_align = 16;
    if (bytes)
      pc.flags = DMP_RING_BYTES;
    struct dmp_producer *p = NULL;
    int rc = dmp_producer_create(&pc, &p);
    cr_assert(eq(int, rc, 0), "%s / %s", myelon_err_name(rc), dmp_last_error());
    cr_assert(eq(sz, dmp_producer_bytes_max(p), 0), "the largest record is empty");
    const char *base = jn_tmp("tiny");
    struct myelon_recorder_config c = rcfg(pc.name, base);
    struct myelon_recorder *r = rec_open(&c);
    uint8_t ev[16] = {0};
    for (uint64_t i = 0; i < 5; i++) {
      ev[0] = (uint8_t)i;
      int64_t s = bytes ? dmp_producer_publish_bytes_timeout(p, NULL, 0, JN_LONG_NS)
                        : dmp_producer_publish_timeout(p, ev, sizeof ev, JN_LONG_NS);
      cr_assert(ge(i64, s, 0), "publish %llu", (unsigned long long)i);
      rec_until(r, i + 1);
    }
    dmp_producer_close(p);
    rec_to_end(r);
    cr_assert(eq(int, myelon_recorder_close(r, NULL), 0));
    struct myelon_journal_reader *jr = jn_open(base, 0);
    const struct myelon_journal_info *in = myelon_journal_reader_info(jr);
    cr_assert(eq(u32, in->flags & MYELON_JOURNAL_F_BYTES, bytes ? MYELON_JOURNAL_F_BYTES : 0u));
    cr_assert(eq(u64, in->ring_capacity, bytes ? 32u : 2u));
    struct myelon_journal_record rec;
    for (uint64_t i = 0; i < 5; i++) {
      cr_assert(eq(int, myelon_journal_reader_next(jr, &rec), 1));
      cr_assert(eq(u32, rec.len, bytes ? 0u : 16u), "record %llu", (unsigned long long)i);
    }
    myelon_journal_reader_close(jr);
  }
}

/* Non-gating on a byte ring: the producer laps the recorder without ever
 * waiting; what survived is recorded whole, the first record after the
 * loss is flagged, and the loss is counted (framed: messages, so
 * recorded + dropped = published; raw: blocks, two per 100-byte record). */
Test(journal_record, non_gating_byte_ring_recorder_never_blocks_and_counts_the_loss)
{
#ifndef DMP_CONSUMER_NON_GATING
  cr_skip_test("Layer 0 has no non-gating consumers");
#endif
  for (int framed = 0; framed < 2; framed++) {
    struct bring b = byte_ring(framed, 4096);
    const char *base = jn_tmp("bn");
    struct myelon_recorder_config c = rcfg(b.name, base);
    c.flags = MYELON_RECORD_NON_GATING;
    struct myelon_recorder *r = rec_open(&c);
    uint8_t msg[80];
    const uint64_t n = 200;
    for (uint64_t i = 0; i < n; i++) {
      jp_fill(msg, sizeof msg, 9, i);
      cr_assert(eq(int, bring_try(&b, msg, sizeof msg, (uint8_t)i), 0), "publish %llu never waits",
                (unsigned long long)i);
    }
    bring_close(&b);
    rec_to_end(r);
    struct myelon_recorder_stats st;
    cr_assert(eq(int, myelon_recorder_close(r, &st), 0));
    cr_assert(eq(int, (int)st.gating, 0), "non-gating");
    cr_assert(gt(u64, st.recorded, 0));
    cr_assert(lt(u64, st.recorded, n), "the recorder was lapped");
    if (framed)
      cr_assert(eq(u64, st.recorded + st.dropped, n), "recorded %llu + dropped %llu",
                (unsigned long long)st.recorded, (unsigned long long)st.dropped);
    else
      cr_assert(ge(u64, st.dropped, 2 * (n - st.recorded)), "blocks dropped %llu, records recorded %llu",
                (unsigned long long)st.dropped, (unsigned long long)st.recorded);
    struct myelon_journal_reader *jr = jn_open(base, 0);
    cr_assert(ne(u32, myelon_journal_reader_info(jr)->flags & MYELON_JOURNAL_F_NON_GATING, 0));
    struct myelon_journal_record rec;
    uint64_t got = 0, prev = 0;
    while (myelon_journal_reader_next(jr, &rec) == 1) {
      uint64_t i;
      memcpy(&i, rec.data, 8);
      cr_assert(eq(int, jp_check(rec.data, rec.len, 9, i, sizeof msg), 0), "record %llu", (unsigned long long)got);
      if (got == 0)
        cr_assert(ne(u8, rec.flags & MYELON_JREC_F_GAP, 0), "the first record follows the loss");
      else
        cr_assert(eq(u64, i, prev + 1), "in order after the loss");
      prev = i;
      got++;
    }
    cr_assert(eq(u64, got, st.recorded));
    cr_assert(eq(u64, prev, n - 1), "the newest record is there");
    myelon_journal_reader_close(jr);
  }
}

/* A byte ring's journal of `n` raw records of up to 2032 bytes (a ring of
 * 4096 bytes), written with the writer as the recorder would. */
static const char *byte_journal(uint64_t n, uint32_t largest)
{
  const char *base = jn_tmp("bj");
  struct myelon_journal_writer_config c = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  c.info.flags = MYELON_JOURNAL_F_BYTES;
  c.info.slot_size = 64;
  c.info.slot_align = 64;
  c.info.ring_capacity = 4096;
  c.info.frame_capacity = largest;
  jn_write(&c, 12, n, 2032);
  return base;
}

/* Shapes do not cross (record.h): a byte ring's journal into slots, or
 * frames, or a ring too small for its largest record, and a slot ring's
 * journal into a byte ring, are refused with both shapes named; a larger
 * byte ring takes it; a record beyond the header's largest stops the
 * replay with -MYELON_E_FORMAT. */
Test(journal_record, replay_keeps_the_ring_shape_and_checks_the_byte_ring_geometry)
{
  const char *j = byte_journal(5, 2032);
  struct myelon_replayer *r = (void *)1;
  struct myelon_replayer_config c = pcfg(j);
  c.ring.slot_size = 128;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), -MYELON_E_FORMAT));
  cr_assert(eq(ptr, r, NULL));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "replays into a byte ring"), NULL), "%s", dmp_last_error());
  c = pcfg(j);
  c.frame_capacity = 64;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), -MYELON_E_FORMAT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "replays into a byte ring"), NULL), "%s", dmp_last_error());
  c = pcfg(j);
  c.ring.capacity = 2048;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), -MYELON_E_FORMAT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "at most 1008 bytes"), NULL), "%s", dmp_last_error());
  /* A larger byte ring takes it: 5 records out, the same bytes. */
  c = pcfg(j);
  c.ring.capacity = 16384;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), 0), "%s", dmp_last_error());
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = c.ring.name;
  cc.id = "check";
  struct dmp_consumer *cons = NULL;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &cons), 0));
  cr_assert(eq(sz, dmp_consumer_bytes_max(cons), (size_t)8176), "a byte ring of 16 KiB");
  cr_assert(eq(int, myelon_replayer_run(r, -1), 1));
  uint8_t buf[2048];
  for (uint64_t i = 0; i < 5; i++) {
    size_t len;
    cr_assert(eq(int, dmp_consumer_try_copy_bytes(cons, buf, sizeof buf, &len, NULL), 0), "record %llu",
              (unsigned long long)i);
    cr_assert(eq(int, jp_check(buf, len, 12, i, jp_len(12, i, 2032)), 0), "record %llu", (unsigned long long)i);
  }
  dmp_consumer_close_forget(cons);
  myelon_replayer_close(r);
  /* A slot ring's journal into a byte ring. */
  c = pcfg(raw_journal(3));
  c.ring.flags |= DMP_RING_BYTES;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), -MYELON_E_FORMAT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "replays into a slot ring"), NULL), "%s", dmp_last_error());
  /* A record larger than the header's largest: not from the recorder. */
  c = pcfg(byte_journal(3, 100)); /* record 1 has 2032 bytes */
  cr_assert(eq(int, myelon_replayer_open(&c, &r), 0), "%s", dmp_last_error());
  cr_assert(eq(int, myelon_replayer_run(r, -1), -MYELON_E_FORMAT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "largest is 100"), NULL), "%s", dmp_last_error());
  myelon_replayer_close(r);
}

/* A framed slot ring's journal replays into a byte ring when asked
 * (DMP_RING_BYTES: a MYELON_FRAME_BYTES ring of ring.capacity bytes): a
 * framed consumer of that byte ring gets every message, kind and bytes; a
 * message larger than the byte ring takes stops the replay with
 * -MYELON_E_TOOBIG; frames asked with it are refused. */
Test(journal_record, a_framed_slot_journal_replays_into_a_byte_ring_when_asked)
{
  const char *base = jn_tmp("f2b");
  struct myelon_journal_writer_config wc = jn_wcfg(base, MYELON_JOURNAL_IO_AUTO);
  wc.info.kind = MYELON_JOURNAL_FRAMED;
  wc.info.frame_capacity = 128;
  wc.info.slot_size = 140;
  wc.info.ring_capacity = 16;
  jn_write(&wc, 3, 40, 1000); /* messages of 0 .. 1000 bytes, kind i */
  struct myelon_replayer_config c = pcfg(base);
  c.ring.flags |= DMP_RING_BYTES;
  c.ring.capacity = 4096;
  struct myelon_replayer *r = NULL;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), 0), "%s", dmp_last_error());
  struct myelon_consumer *cons = attach_framed_bytes(c.ring.name);
  cr_assert(eq(sz, myelon_consumer_frame_capacity(cons), (size_t)2016), "a byte ring of 4096 bytes");
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  uint64_t got = 0;
  int rc;
  do {
    rc = myelon_replayer_run(r, 1000000);
    cr_assert(ge(int, rc, 0), "run: %s / %s", myelon_err_name(rc), dmp_last_error());
    struct myelon_msg m;
    while (myelon_consumer_try_recv(cons, &m) == 0) {
      cr_assert(eq(u8, m.kind, (uint8_t)got));
      cr_assert(eq(int, jp_check(m.data, m.len, 3, got, jp_len(3, got, 1000)), 0), "message %llu",
                (unsigned long long)got);
      myelon_consumer_release(cons);
      got++;
    }
  } while (rc == 0 && ts_now_ns() < deadline);
  cr_assert(eq(int, rc, 1));
  struct myelon_msg m;
  while (myelon_consumer_try_recv(cons, &m) == 0) {
    myelon_consumer_release(cons);
    got++;
  }
  cr_assert(eq(u64, got, 40));
  myelon_consumer_close(cons);
  myelon_replayer_close(r);
  /* A byte ring too small for message 1 (1000 bytes; 1024 bytes take 480). */
  c = pcfg(base);
  c.ring.flags |= DMP_RING_BYTES;
  c.ring.capacity = 1024;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), 0), "%s", dmp_last_error());
  cr_assert(eq(int, myelon_replayer_run(r, -1), -MYELON_E_TOOBIG));
  struct myelon_replayer_stats st;
  myelon_replayer_stats(r, &st);
  cr_assert(eq(u64, st.replayed, 1), "message 0 went out, message 1 did not");
  myelon_replayer_close(r);
  c = pcfg(base);
  c.ring.flags |= DMP_RING_BYTES;
  c.frame_capacity = 128;
  cr_assert(eq(int, myelon_replayer_open(&c, &r), -MYELON_E_FORMAT));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "no frames"), NULL), "%s", dmp_last_error());
}
