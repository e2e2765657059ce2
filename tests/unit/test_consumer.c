/* Consumer (consumer.h): peek/release leases, batch processing with
 * end-of-batch flags, copies, bounded waits, broadcast to every consumer. */
#include "unit.h"

TestSuite(consumer_peek, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(consumer_process, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(consumer_copy, .fini = ut_fini, .timeout = UT_TIMEOUT);
TestSuite(consumer_wait, .fini = ut_fini, .timeout = UT_TIMEOUT);

struct ring {
  struct dmp_producer_config pc;
  struct dmp_producer *p;
  struct dmp_consumer *c;
};

static struct ring open_ring(enum dmp_backend b, uint64_t capacity)
{
  struct ring r;
  r.pc = ut_pcfg(b, "con");
  r.pc.capacity = capacity;
  r.p = ut_create(&r.pc);
  struct dmp_consumer_config cc = ut_ccfg(&r.pc, "c0");
  r.c = ut_attach(&cc);
  return r;
}

static void close_ring(struct ring *r)
{
  dmp_consumer_close(r->c);
  dmp_producer_close(r->p);
}

Test(consumer_peek, empty_ring_is_eagain)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct ring r = open_ring(ut_backends[b], 16);
    const void *ev = NULL;
    int64_t seq = -5;
    cr_assert(eq(int, dmp_consumer_try_peek(r.c, &ev, &seq), -EAGAIN));
    cr_assert(eq(i64, seq, -5), "*seq written without an event");
    cr_assert(eq(i64, dmp_consumer_available(r.c), 0));
    ut_publish_n(r.p, 1);
    cr_assert(eq(i64, ut_read_one(r.c), 0));
    cr_assert(eq(int, dmp_consumer_try_peek(r.c, &ev, &seq), -EAGAIN), "read past the producer");
    close_ring(&r);
  }
}

Test(consumer_peek, leases_several_events_and_releases_them_at_once)
{
  struct ring r = open_ring(DMP_BACKEND_SHM, 4);
  ut_publish_n(r.p, 4);
  for (int64_t i = 0; i < 3; i++)
    cr_assert(eq(i64, ut_read_one(r.c), i));
  cr_assert(eq(i64, dmp_consumer_sequence(r.c), -1), "peek released");
  cr_assert(eq(i64, dmp_consumer_available(r.c), 1));
  dmp_consumer_release(r.c);
  cr_assert(eq(i64, dmp_consumer_sequence(r.c), 2));
  cr_assert(eq(i64, dmp_producer_min_gating_sequence(r.p), 2));
  dmp_consumer_release(r.c); /* nothing new peeked: no change */
  cr_assert(eq(i64, dmp_consumer_sequence(r.c), 2));
  ut_publish_n(r.p, 3);
  void *slot;
  cr_assert(eq(int, dmp_producer_try_claim(r.p, &slot), -EAGAIN));
  close_ring(&r);
}

Test(consumer_peek, two_consumers_each_see_every_event)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct ring r = open_ring(ut_backends[b], 8);
    struct dmp_consumer_config cc = ut_ccfg(&r.pc, "c1");
    struct dmp_consumer *c1 = ut_attach(&cc);
    for (int round = 0; round < 5; round++) {
      ut_publish_n(r.p, 6);
      int64_t f0 = -1, f1 = -1;
      cr_assert(eq(i64, ut_drain(r.c, &f0), 6));
      cr_assert(eq(i64, ut_drain(c1, &f1), 6));
      cr_assert(eq(i64, f0, 6 * round));
      cr_assert(eq(i64, f1, 6 * round));
    }
    dmp_consumer_close(c1);
    close_ring(&r);
  }
}

Test(consumer_peek, slot_size_is_the_rings)
{
  struct ring r = open_ring(DMP_BACKEND_MMAP, 16);
  cr_assert(eq(u32, dmp_consumer_slot_size(r.c), 8));
  close_ring(&r);
}

Test(consumer_peek, accessors_report_the_rings_geometry)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "con");
    pc.capacity = 32;
    pc.slot_size = 20;
    pc.slot_align = 32;
    pc.type_tag = 0xfeed;
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
    struct dmp_consumer *c = ut_attach(&cc);
    cr_assert(eq(u32, dmp_consumer_slot_size(c), 20));
    cr_assert(eq(u32, dmp_consumer_slot_align(c), 32));
    cr_assert(eq(u64, dmp_consumer_capacity(c), 32));
    cr_assert(eq(u64, dmp_consumer_type_tag(c), 0xfeed));
    cr_assert(eq(u64, dmp_consumer_epoch(c), ut_header_read(ut_backends[b], pc.name).epoch));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

struct seen {
  int n;
  int stop_at;
  int64_t seq[64];
  bool eob[64];
  int64_t content[64];
};

static int record(const void *event, int64_t seq, bool end_of_batch, void *user)
{
  struct seen *s = user;
  if (s->n < 64) {
    s->seq[s->n] = seq;
    s->eob[s->n] = end_of_batch;
    s->content[s->n] = ut_event_seq(event);
  }
  s->n++;
  return s->n == s->stop_at;
}

Test(consumer_process, flags_only_the_last_event_of_the_batch)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct ring r = open_ring(ut_backends[b], 16);
    ut_publish_n(r.p, 4);
    struct seen s = {.stop_at = -1};
    cr_assert(eq(i64, dmp_consumer_process(r.c, record, 0, &s), 4));
    cr_assert(eq(int, s.n, 4));
    for (int i = 0; i < 4; i++) {
      cr_assert(eq(i64, s.seq[i], i));
      cr_assert(eq(i64, s.content[i], i));
      cr_assert(eq(int, s.eob[i], i == 3), "%s: end_of_batch of event %d", ut_backend_name(ut_backends[b]), i);
    }
    cr_assert(eq(i64, dmp_consumer_sequence(r.c), 3), "process did not release");
    close_ring(&r);
  }
}

Test(consumer_process, a_batch_across_the_end_of_the_ring_stays_in_order)
{
  struct ring r = open_ring(DMP_BACKEND_SHM, 4);
  ut_publish_n(r.p, 3);
  cr_assert(eq(i64, ut_drain(r.c, NULL), 3));
  ut_publish_n(r.p, 4); /* 3..6 in slots 3,0,1,2 */
  struct seen s = {.stop_at = -1};
  cr_assert(eq(i64, dmp_consumer_process(r.c, record, 0, &s), 4));
  for (int i = 0; i < 4; i++) {
    cr_assert(eq(i64, s.seq[i], 3 + i));
    cr_assert(eq(i64, s.content[i], 3 + i));
  }
  cr_assert(eq(i64, dmp_consumer_sequence(r.c), 6));
  close_ring(&r);
}

Test(consumer_process, empty_ring_processes_nothing)
{
  struct ring r = open_ring(DMP_BACKEND_SHM, 16);
  struct seen s = {.stop_at = -1};
  cr_assert(eq(i64, dmp_consumer_process(r.c, record, 0, &s), 0));
  cr_assert(eq(int, s.n, 0));
  close_ring(&r);
}

Test(consumer_process, nonzero_from_the_callback_stops_after_that_event)
{
  struct ring r = open_ring(DMP_BACKEND_SHM, 16);
  ut_publish_n(r.p, 5);
  struct seen s = {.stop_at = 2};
  cr_assert(eq(i64, dmp_consumer_process(r.c, record, 0, &s), 2));
  cr_assert(eq(int, s.n, 2));
  cr_assert(eq(i64, dmp_consumer_sequence(r.c), 1), "the processed events are released");
  struct seen rest = {.stop_at = -1};
  cr_assert(eq(i64, dmp_consumer_process(r.c, record, 0, &rest), 3));
  cr_assert(eq(i64, rest.seq[0], 2), "processing resumes after the stop");
  cr_assert(eq(int, rest.eob[2], 1));
  close_ring(&r);
}

Test(consumer_process, max_limits_the_batch)
{
  struct ring r = open_ring(DMP_BACKEND_MMAP, 16);
  ut_publish_n(r.p, 5);
  struct seen s = {.stop_at = -1};
  cr_assert(eq(i64, dmp_consumer_process(r.c, record, 2, &s), 2));
  cr_assert(eq(int, s.n, 2));
  cr_assert(eq(i64, s.seq[1], 1));
  cr_assert(eq(i64, dmp_consumer_sequence(r.c), 1));
  s = (struct seen){.stop_at = -1};
  cr_assert(eq(i64, dmp_consumer_process(r.c, record, 10, &s), 3));
  cr_assert(eq(i64, s.seq[0], 2));
  close_ring(&r);
}

Test(consumer_process, null_callback_is_einval)
{
  struct ring r = open_ring(DMP_BACKEND_SHM, 16);
  ut_publish_n(r.p, 1);
  cr_assert(eq(i64, dmp_consumer_process(r.c, NULL, 0, NULL), -EINVAL));
  cr_assert(eq(i64, dmp_consumer_process(NULL, record, 0, NULL), -EINVAL));
  cr_assert(eq(i64, ut_read_one(r.c), 0), "a rejected process consumed the event");
  close_ring(&r);
}

Test(consumer_copy, copies_the_event_and_releases_it)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct ring r = open_ring(ut_backends[b], 16);
    int64_t v = 0x1234567890;
    cr_assert(eq(i64, dmp_producer_try_publish(r.p, &v, sizeof v), 0));
    int64_t out = 0, seq = -1;
    cr_assert(eq(int, dmp_consumer_try_copy(r.c, &out, sizeof out, &seq), 0));
    cr_assert(eq(i64, out, v));
    cr_assert(eq(i64, seq, 0));
    cr_assert(eq(i64, dmp_consumer_sequence(r.c), 0), "try_copy did not release");
    cr_assert(eq(int, dmp_consumer_try_copy(r.c, &out, sizeof out, &seq), -EAGAIN));
    cr_assert(eq(int, dmp_consumer_copy_timeout(r.c, &out, sizeof out, &seq, UT_SHORT_NS), -ETIMEDOUT));
    v = 77;
    dmp_producer_try_publish(r.p, &v, sizeof v);
    cr_assert(eq(int, dmp_consumer_copy_timeout(r.c, &out, sizeof out, &seq, UT_SHORT_NS), 0));
    cr_assert(eq(i64, out, 77));
    cr_assert(eq(i64, seq, 1));
    close_ring(&r);
  }
}

Test(consumer_copy, copies_a_prefix_and_refuses_more_than_the_slot)
{
  struct ring r = open_ring(DMP_BACKEND_SHM, 16);
  int64_t v = 0x0102030405060708;
  dmp_producer_try_publish(r.p, &v, sizeof v);
  uint8_t big[16];
  int64_t seq = -1;
  cr_assert(eq(int, dmp_consumer_try_copy(r.c, big, sizeof big, &seq), -EINVAL));
  cr_assert(eq(int, dmp_consumer_try_copy(r.c, NULL, 8, &seq), -EINVAL));
  uint8_t part[2] = {0, 0};
  cr_assert(eq(int, dmp_consumer_try_copy(r.c, part, sizeof part, &seq), 0), "a rejected copy consumed the event");
  cr_assert(eq(i64, seq, 0));
  cr_assert(eq(int, memcmp(part, &v, 2), 0));
  close_ring(&r);
}

Test(consumer_wait, times_out_when_nothing_is_published)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct ring r = open_ring(ut_backends[b], 16);
    cr_assert(eq(i64, dmp_consumer_wait(r.c, UT_SHORT_NS), -ETIMEDOUT));
    cr_assert(eq(i64, dmp_consumer_wait(r.c, 0), -ETIMEDOUT), "zero timeout on an empty ring");
    const void *ev;
    int64_t seq;
    cr_assert(eq(int, dmp_consumer_peek_timeout(r.c, &ev, &seq, UT_SHORT_NS), -ETIMEDOUT));
    close_ring(&r);
  }
}

/* A peer that frees or renames our table entry (no honest one can: only
 * dead holders are evicted) takes away our gating; a wait notices at its
 * next liveness check and says so instead of reading on. Closing then
 * leaves the entry to whoever holds it now. Every wait strategy, both ways
 * of losing the entry. */
Test(consumer_wait, a_lost_table_entry_ends_the_wait_with_evicted)
{
  static const enum dmp_wait_kind kinds[] = {DMP_WAIT_BLOCK, DMP_WAIT_SPIN, DMP_WAIT_YIELD, DMP_WAIT_SLEEP};
  for (int b = 0; b < UT_NBACKENDS; b++) {
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
      for (int how = 0; how < 2; how++) {
        struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "evi");
        struct dmp_producer *p = ut_create(&pc);
        struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
        cc.wait.kind = kinds[k];
        cc.wait.liveness_ms = 5;
        struct dmp_consumer *c = ut_attach(&cc);
        cr_assert(eq(i64, dmp_consumer_wait(c, UT_SHORT_NS), -ETIMEDOUT), "entry intact: a plain timeout");
        /* Entry 0 of the table (layout.h). */
        const off_t entry = (off_t)ut_header_read(ut_backends[b], pc.name).table_offset;
        const off_t state_at = entry + (off_t)offsetof(struct dmp_consumer_entry, state);
        const off_t id_at = entry + (off_t)offsetof(struct dmp_consumer_entry, id);
        if (how == 0) {
          uint32_t free_state = DMP_ENTRY_FREE;
          ut_seg_write(ut_backends[b], pc.name, state_at, &free_state, sizeof free_state);
        } else {
          ut_seg_write(ut_backends[b], pc.name, id_at, "intruder", 9);
        }
        int64_t rc = dmp_consumer_wait(c, UT_LONG_NS);
        cr_assert(eq(i64, rc, -DMP_E_EVICTED), "%s, wait kind %d, %s: %s / %s", ut_backend_name(ut_backends[b]),
                  (int)kinds[k], how ? "renamed" : "freed", dmp_err_name((int)rc), dmp_last_error());
        cr_assert(strstr(dmp_last_error(), "lost its table entry 0") != NULL, "%s", dmp_last_error());
        dmp_consumer_close(c);
        uint32_t state;
        char id[9];
        ut_seg_read(ut_backends[b], pc.name, state_at, &state, sizeof state);
        ut_seg_read(ut_backends[b], pc.name, id_at, id, sizeof id);
        if (how == 0)
          cr_assert(eq(u32, state, DMP_ENTRY_FREE), "close changed an entry that was not ours");
        else
          cr_assert(eq(str, id, "intruder"), "close changed an entry that was not ours");
        dmp_producer_close(p);
      }
    }
  }
}

/* Issue 15, item 6: after a peer freed, renamed or re-generated our entry
 * (our wait said EVICTED), close() - and close_forget() - must not store
 * the cursor of what we peeked into it: the entry's new owner may be
 * behind that position, and the producer would overwrite slots it has not
 * read. Events are peeked and not released, so a close that writes moves
 * the cursor from -1 to 2. */
Test(consumer_wait, an_evicted_consumer_closes_without_writing_into_its_old_entry)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    for (int how = 0; how < 3; how++) {
      for (int forget = 0; forget < 2; forget++) {
        struct dmp_producer_config pc = ut_pcfg(ut_backends[b], "evw");
        struct dmp_producer *p = ut_create(&pc);
        struct dmp_consumer_config cc = ut_ccfg(&pc, "c0");
        cc.wait.liveness_ms = 5;
        struct dmp_consumer *c = ut_attach(&cc);
        ut_publish_n(p, 5);
        for (int i = 0; i < 3; i++)
          ut_read_one(c); /* peeked, not released */
        const off_t entry = (off_t)ut_header_read(ut_backends[b], pc.name).table_offset;
        const off_t cursor_at = entry + (off_t)offsetof(struct dmp_consumer_entry, cursor);
        if (how == 0) {
          uint32_t free_state = DMP_ENTRY_FREE;
          ut_seg_write(ut_backends[b], pc.name, entry + (off_t)offsetof(struct dmp_consumer_entry, state),
                       &free_state, sizeof free_state);
        } else if (how == 1) {
          ut_seg_write(ut_backends[b], pc.name, entry + (off_t)offsetof(struct dmp_consumer_entry, id), "intruder", 9);
        } else { /* same id and state, but another attach's generation */
          uint32_t gen = 7;
          ut_seg_write(ut_backends[b], pc.name, entry + (off_t)offsetof(struct dmp_consumer_entry, generation), &gen,
                       sizeof gen);
        }
        int64_t rc = dmp_consumer_wait(c, UT_LONG_NS);
        cr_assert(eq(i64, rc, 2), "peeked events still count as available");
        const void *ev;
        int64_t seq;
        while (dmp_consumer_try_peek(c, &ev, &seq) == 0) {
        }
        rc = dmp_consumer_wait(c, UT_LONG_NS);
        cr_assert(eq(i64, rc, -DMP_E_EVICTED), "%s, lost by %d: %s / %s", ut_backend_name(ut_backends[b]), how,
                  dmp_err_name((int)rc), dmp_last_error());
        if (forget)
          dmp_consumer_close_forget(c);
        else
          dmp_consumer_close(c);
        int64_t cursor;
        ut_seg_read(ut_backends[b], pc.name, cursor_at, &cursor, sizeof cursor);
        cr_assert(eq(i64, cursor, -1), "%s, lost by %d, close%s wrote cursor %lld into an entry no longer its own",
                  ut_backend_name(ut_backends[b]), how, forget ? "_forget" : "", (long long)cursor);
        dmp_producer_close(p);
      }
    }
  }
}

Test(consumer_wait, returns_the_number_available)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct ring r = open_ring(ut_backends[b], 16);
    ut_publish_n(r.p, 3);
    cr_assert(eq(i64, dmp_consumer_wait(r.c, UT_SHORT_NS), 3));
    cr_assert(eq(i64, dmp_consumer_wait(r.c, DMP_FOREVER), 3), "something is there: FOREVER returns at once");
    const void *ev;
    int64_t seq = -1;
    cr_assert(eq(int, dmp_consumer_peek_timeout(r.c, &ev, &seq, UT_SHORT_NS), 0));
    cr_assert(eq(i64, seq, 0));
    cr_assert(eq(i64, ut_event_seq(ev), 0));
    cr_assert(eq(i64, dmp_consumer_wait(r.c, UT_SHORT_NS), 2), "a peeked event still counted");
    close_ring(&r);
  }
}
