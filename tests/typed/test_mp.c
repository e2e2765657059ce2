/* Multiprocess typed streams: a producer process publishes a stream of
 * tf_order values (single- and multi-frame sizes, frames smaller than the
 * largest messages, a ring smaller than one message) and consumer
 * processes receive them - owned, as zero-copy views and in batches - and
 * check every field of every value; and fixed-layout structs read in
 * place by another process. Both backends, both frame formats.
 * The roles are typed_role children ($MYELON_TYPED_ROLE). */
#include "typed_test.h"

#include <inttypes.h>

TestSuite(typed_mp, .fini = tt_fini, .timeout = 120);

#define MP_COUNT "600"

static const char *role(void)
{
  const char *r = ts_helper("MYELON_TYPED_ROLE");
  cr_assert(ne(sz, strlen(r), 0), "MYELON_TYPED_ROLE is not set");
  return r;
}

static void run_stream_of(const char *type, enum dmp_backend b, const char *format, const char *frame,
                          const char *capacity, const char *const *modes, int n_consumers)
{
  if (tt_bytes())
    format = "bytes"; /* a byte ring of tf_ring_bytes(frame, capacity) */
  const char *name = tt_fresh_name(b, "mp");
  char timeout[32], nc[16];
  snprintf(timeout, sizeof timeout, "%d", ts_timeout_ms(20000));
  snprintf(nc, sizeof nc, "%d", n_consumers);
  const char *backend = tt_backend_name(b);
  pid_t cons[4];
  char ids[4][16];
  for (int i = 0; i < n_consumers; i++) {
    snprintf(ids[i], sizeof ids[i], "c%d", i);
    char *argv[] = {(char *)role(), "consumer", "--backend", (char *)backend, "--name", (char *)name, "--id", ids[i],
                    "--count", MP_COUNT, "--mode", (char *)modes[i], "--format", (char *)format,
                    "--type", (char *)type, "--timeout-ms", timeout, NULL};
    cons[i] = ts_spawn(argv);
    cr_assert(lt(int, 0, cons[i]), "spawn consumer");
  }
  char *pargv[] = {(char *)role(), "producer", "--backend", (char *)backend, "--name", (char *)name,
                   "--count", MP_COUNT, "--consumers", nc, "--format", (char *)format, "--frame", (char *)frame,
                   "--capacity", (char *)capacity, "--type", (char *)type, "--timeout-ms", timeout, NULL};
  pid_t prod = ts_spawn(pargv);
  cr_assert(lt(int, 0, prod), "spawn producer");
  int bound = ts_timeout_ms(60000);
  for (int i = 0; i < n_consumers; i++) {
    int st = ts_wait(cons[i], bound);
    cr_assert(eq(int, st, 0), "%s %s consumer %s (%s) exited with %d", backend, format, ids[i], modes[i], st);
  }
  cr_assert(eq(int, ts_wait(prod, bound), 0), "%s %s producer failed", backend, format);
}

static void run_stream(enum dmp_backend b, const char *format, const char *frame, const char *capacity,
                       const char *const *modes, int n_consumers)
{
  run_stream_of("order", b, format, frame, capacity, modes, n_consumers);
}

Test(typed_mp, owned_view_and_batch_consumers_receive_every_value_over_shm)
{
  static const char *const modes[] = {"owned", "view", "batch"};
  run_stream(DMP_BACKEND_SHM, "compact", "256", "16", modes, 3); /* 16 slots < the 25 frames of the largest */
}

Test(typed_mp, owned_view_and_batch_consumers_receive_every_value_over_mmap)
{
  static const char *const modes[] = {"view", "owned", "batch"};
  run_stream(DMP_BACKEND_MMAP, "aligned", "1024", "64", modes, 3);
}

Test(typed_mp, aligned_frames_over_shm_and_compact_over_mmap)
{
  static const char *const modes[] = {"view", "owned"};
  run_stream(DMP_BACKEND_SHM, "aligned", "512", "32", modes, 2);
  run_stream(DMP_BACKEND_MMAP, "compact", "1024", "8", modes, 2);
}

Test(typed_mp, fixed_layout_structs_are_read_in_place_across_processes)
{
  static const char *const modes[] = {"view", "owned"};
  for (int b = 0; b < TT_NBACKENDS; b++)
    run_stream_of("tick", tt_backends[b], "aligned", "64", "16", modes, 2);
}
