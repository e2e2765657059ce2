/* Multi-producer rings (issue 18), the fast path's corners: states a
 * producer leaves behind when it dies between two steps of its publish
 * (multi.c, MP1..MP7), reproduced on a real shm / mmap ring by writing
 * the shared words as the dead producer left them.
 *  - died after its markers (MP3, MP4) and before it moved the cursor
 *    (MP5): a waiting consumer's repair moves the cursor over the done
 *    slots (it used to move it only when it tombstoned something, so the
 *    consumer waited until the next publish). */
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

MP_TEST(mp_fast, a_death_between_the_markers_and_the_cursor_move_is_repaired)
{
  struct mp_ring r;
  mp_ring_init(&r, backend, "mpf");
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r.backend;
  cfg.name = r.name;
  cfg.capacity = 8;
  cfg.slot_size = 8;
  cfg.flags = DMP_RING_MULTI_PRODUCER;
  cr_assert(eq(int, dmp_producer_create(&cfg, &creator), 0), "%s", dmp_last_error());
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r.backend;
  cc.name = r.name;
  cc.id = "c";
  cc.wait.liveness_ms = 5; /* its repair runs every 5 ms */
  cr_assert(eq(int, dmp_consumer_attach(&cc, &reader), 0), "%s", dmp_last_error());
  int64_t v = 42;
  cr_assert(eq(i64, dmp_producer_try_publish(creator, &v, sizeof v), 0), "%s", dmp_last_error());
  /* Slot 0's marker and the creator's intent are as after MP4; put the
   * cursor back where it was before MP5, as a producer killed there
   * leaves it (the claim counter stays at 1). */
  dmp_impl_store_release(&creator->ring.ctl->producer_cursor, -1);
  int64_t n = dmp_consumer_wait(reader, (int64_t)ts_timeout_ms(5000) * 1000000);
  cr_assert(eq(i64, n, 1), "wait: %lld (%s): the cursor was not moved over the published slot", (long long)n,
            n < 0 ? dmp_last_error() : "");
  int64_t seq = -1, got = 0;
  cr_assert(eq(int, dmp_consumer_try_copy(reader, &got, sizeof got, &seq), 0), "%s", dmp_last_error());
  cr_assert(eq(i64, seq, 0));
  cr_assert(eq(i64, got, 42));
  cr_assert(eq(i64, __atomic_load_n(&creator->ring.ctl->producer_cursor.raw, __ATOMIC_ACQUIRE), 0));
  dmp_consumer_close(reader);
  reader = NULL;
  dmp_producer_close(creator);
  creator = NULL;
  mp_assert_ring_gone(&r, "creator closed");
}
