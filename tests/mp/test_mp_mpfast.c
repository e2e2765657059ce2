/* Multi-producer rings (issue 18), the fast path's corners, on a real
 * shm / mmap ring (multi.c, MP1..MP7):
 *  - a publish stores the slot's marker and nothing else shared: consumers
 *    read the markers, the shared cursor lags (moved lazily, at a refresh
 *    of a claim limit) and dmp-stat's position is the frontier the markers
 *    show, not that cursor; a producer killed after its markers (nothing
 *    else to do) has published;
 *  - a repairer that loaded the cursor before the ring lapped (it was
 *    slow) never tombstones a later lap's data marker (the cursor is put
 *    back by hand, as such a repairer saw it);
 *  - dmp-stat reads the markers of a ring whose markers lie beyond the
 *    mapping it used to make. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "mp_harness.h"

static struct dmp_producer *creator;
static struct dmp_consumer *reader;

static void fini(void)
{
  if (reader) {
    dmp_consumer_close(reader);
    reader = NULL;
  }
  if (creator) {
    dmp_producer_close(creator);
    creator = NULL;
  }
  mp_fini();
}

TestSuite(mp_fast, .fini = fini, .timeout = 120);

static void open_ring_cap(struct mp_ring *r, enum dmp_backend backend, const char *tag, uint64_t capacity)
{
  mp_ring_init(r, backend, tag);
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r->backend;
  cfg.name = r->name;
  cfg.capacity = capacity;
  cfg.slot_size = 8;
  cfg.flags = DMP_RING_MULTI_PRODUCER;
  cr_assert(eq(int, dmp_producer_create(&cfg, &creator), 0), "%s", dmp_last_error());
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r->backend;
  cc.name = r->name;
  cc.id = "c";
  cc.wait.liveness_ms = 5; /* its repair runs every 5 ms */
  cr_assert(eq(int, dmp_consumer_attach(&cc, &reader), 0), "%s", dmp_last_error());
}

static void open_ring(struct mp_ring *r, enum dmp_backend backend, const char *tag)
{
  open_ring_cap(r, backend, tag, 8);
}

static int64_t shared_cursor(void)
{
  return __atomic_load_n(&creator->ring.ctl->producer_cursor.raw, __ATOMIC_ACQUIRE);
}

static void publish_n(int64_t from, int n)
{
  for (int64_t v = from; v < from + n; v++)
    cr_assert(eq(i64, dmp_producer_try_publish(creator, &v, sizeof v), v), "%s", dmp_last_error());
}

static void read_n(int64_t from, int n)
{
  for (int64_t want = from; want < from + n; want++) {
    int64_t seq = -1, got = -1;
    int rc = dmp_consumer_copy_timeout(reader, &got, sizeof got, &seq, (int64_t)ts_timeout_ms(5000) * 1000000);
    cr_assert(eq(int, rc, 0), "copy of %lld: %d (%s)", (long long)want, rc, dmp_last_error());
    cr_assert(eq(i64, seq, want));
    cr_assert(eq(i64, got, want));
  }
}

static void stat_position(struct mp_ring *r, int64_t *position, uint64_t *tombstones)
{
  struct dmp_inspect *in = NULL;
  cr_assert(eq(int, dmp_inspect_open(r->backend, r->name, &in), 0), "%s", dmp_last_error());
  const struct dmp_ring_stat *st = NULL;
  cr_assert(eq(int, dmp_inspect_sample(in, &st), 0), "%s", dmp_last_error());
  *position = st->position;
  *tombstones = st->tombstones;
  dmp_inspect_close(in);
}

MP_TEST(mp_fast, consumers_and_dmp_stat_read_the_markers_while_the_cursor_lags)
{
  struct mp_ring r;
  open_ring(&r, backend, "mpf");
  publish_n(0, 3);
  /* Nobody waits: the publishes stored their markers only. */
  cr_assert(eq(i64, shared_cursor(), -1), "a publish moved the shared cursor");
  int64_t pos;
  uint64_t tombs;
  stat_position(&r, &pos, &tombs);
  cr_assert(eq(i64, pos, 2), "dmp-stat's position: %lld, not the frontier of the markers", (long long)pos);
  cr_assert(eq(i64, dmp_consumer_available(reader), 3));
  cr_assert(eq(i64, dmp_consumer_wait(reader, 0), 3), "%s", dmp_last_error());
  read_n(0, 3);
  /* The 9th claim is beyond the first limit (cursor -1 + a ring): its
   * refresh moves the cursor over the done slots (all 8 published). */
  publish_n(3, 6);
  cr_assert(eq(i64, shared_cursor(), 7), "the claim's refresh did not move the cursor lazily");
  read_n(3, 6);
  stat_position(&r, &pos, &tombs);
  cr_assert(eq(i64, pos, 8));
  dmp_consumer_close(reader);
  reader = NULL;
  dmp_producer_close(creator);
  creator = NULL;
  mp_assert_ring_gone(&r, "creator closed");
}

MP_TEST(mp_fast, a_repairer_with_a_stale_cursor_leaves_a_later_lap_alone)
{
  struct mp_ring r;
  open_ring(&r, backend, "mpl");
  publish_n(0, 8);
  read_n(0, 8);
  publish_n(8, 1); /* slot 0 holds event 8: a later lap than sequence 0 */
  read_n(8, 1);
  void *slot;
  cr_assert(eq(int, dmp_producer_try_claim(creator, &slot), 0), "%s", dmp_last_error()); /* 9: open, ours */
  /* The cursor as a repairer that loaded it before the lap saw it. */
  dmp_impl_store_release(&creator->ring.ctl->producer_cursor, -1);
  /* Nothing to read (9 is claimed, not published): the wait repairs every
   * 5 ms, over slots 0..7 from that cursor. */
  int64_t n = dmp_consumer_wait(reader, 50 * 1000000);
  cr_assert(eq(i64, n, -ETIMEDOUT), "wait: %lld (%s)", (long long)n, n < 0 ? dmp_last_error() : "");
  /* The markers: after the consumer and producer tables (layout.h; the
   * ring has the default table sizes). */
  uint64_t mk = sizeof(struct dmp_segment_control) + DMP_DEFAULT_MAX_CONSUMERS * sizeof(struct dmp_consumer_entry) +
                DMP_DEFAULT_MAX_PRODUCERS * sizeof(struct dmp_producer_entry);
  mk = (mk + DMP_CACHE_LINE - 1) / DMP_CACHE_LINE * DMP_CACHE_LINE;
  const int64_t *marks = (const int64_t *)(const void *)((const uint8_t *)creator->ring.ctl + mk);
  int64_t m0 = __atomic_load_n(&marks[0], __ATOMIC_ACQUIRE);
  cr_assert(eq(i64, m0, DMP_MARK_DATA(8)), "slot 0's marker: %lld (tombstoned over a later lap)", (long long)m0);
  int64_t pos;
  uint64_t tombs;
  stat_position(&r, &pos, &tombs);
  cr_assert(eq(u64, tombs, 0));
  dmp_producer_publish(creator);
  cr_assert(eq(i64, dmp_consumer_wait(reader, (int64_t)ts_timeout_ms(5000) * 1000000), 1), "%s", dmp_last_error());
  dmp_consumer_close(reader);
  reader = NULL;
  dmp_producer_close(creator);
  creator = NULL;
  mp_assert_ring_gone(&r, "creator closed");
}

/* dmp-stat maps the control block and the tables, never the slots: on a
 * multi-producer ring also the markers, which lie beyond the largest
 * consumer table a header can describe once the ring has 16 Ki slots or
 * more (it read past its mapping before). */
MP_TEST(mp_fast, dmp_stat_reads_the_markers_of_a_large_ring)
{
  struct mp_ring r;
  open_ring_cap(&r, backend, "mpb", 65536);
  int64_t pos;
  uint64_t tombs;
  stat_position(&r, &pos, &tombs);
  cr_assert(eq(i64, pos, -1));
  /* Markers of slots 16 Ki and up lie beyond that mapping. */
  publish_n(0, 20000);
  stat_position(&r, &pos, &tombs);
  cr_assert(eq(i64, pos, 19999));
  dmp_consumer_close(reader);
  reader = NULL;
  dmp_producer_close(creator);
  creator = NULL;
  mp_assert_ring_gone(&r, "creator closed");
}
