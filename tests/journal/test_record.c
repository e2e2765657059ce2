/* Recorder and replayer in one process (record.h): gating recording of raw
 * and framed rings, the producer held back by a gating recorder, what open
 * refuses (missing ring, wrong kind, existing journal) and leaves behind,
 * replay geometry checks, replay from a sequence, and pacing (lower bounds
 * only: a paced replay cannot finish early). */
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

/* record.h: a byte ring (Layer 0 DMP_RING_BYTES, or framed
 * MYELON_FRAME_BYTES) is refused with -MYELON_E_FORMAT whatever kind is
 * asked, rather than recorded block by block as raw events; nothing is
 * left behind (no journal, no consumer entry gating the ring). */
Test(journal_record, byte_rings_are_refused_not_recorded_as_blocks)
{
  const char *base = jn_tmp("byt");
  for (int framed = 0; framed < 2; framed++) {
    const char *name = ts_shm_name("byt");
    struct dmp_producer *p = NULL;
    struct myelon_producer *fp = NULL;
    if (framed) {
      struct myelon_producer_config pc;
      myelon_producer_config_init(&pc);
      pc.ring.name = name;
      pc.format = MYELON_FRAME_BYTES;
      pc.ring_bytes = 4096;
      int rc = myelon_producer_create(&pc, &fp);
      cr_assert(eq(int, rc, 0), "framed byte ring: %s / %s", myelon_err_name(rc), dmp_last_error());
    } else {
      struct dmp_producer_config pc;
      dmp_producer_config_init(&pc);
      pc.name = name;
      pc.flags = DMP_RING_BYTES;
      pc.capacity = 4096;
      int rc = dmp_producer_create(&pc, &p);
      cr_assert(eq(int, rc, 0), "byte ring: %s / %s", myelon_err_name(rc), dmp_last_error());
    }
    static const enum myelon_record_kind kinds[] = {MYELON_RECORD_AUTO, MYELON_RECORD_RAW, MYELON_RECORD_FRAMED};
    for (int k = 0; k < 3; k++) {
      struct myelon_recorder_config c = rcfg(name, base);
      c.kind = kinds[k];
      struct myelon_recorder *r = (void *)1;
      cr_assert(eq(int, myelon_recorder_open(&c, &r), -MYELON_E_FORMAT), "%s byte ring, kind %d",
                framed ? "framed" : "Layer 0", (int)kinds[k]);
      cr_assert(eq(ptr, r, NULL));
      cr_assert(ne(ptr, strstr(dmp_last_error(), "byte ring"), NULL), "%s", dmp_last_error());
      cr_assert(eq(int, access(jn_part(base, 1), F_OK), -1), "no journal for a refused ring");
    }
    /* Nothing gates the ring after the refusals: it fills and wraps. */
    uint8_t msg[100] = {0};
    for (int i = 0; i < 200; i++)
      if (framed)
        cr_assert(eq(int, myelon_producer_try_publish(fp, msg, sizeof msg, 0), 0), "publish %d", i);
      else
        cr_assert(ge(i64, dmp_producer_try_publish_bytes(p, msg, sizeof msg), 0), "publish %d", i);
    if (framed)
      myelon_producer_close(fp);
    else
      dmp_producer_close(p);
  }
}
