/* The installed demo, myelon-demo (found through $MYELON_DEMO): it runs to
 * completion with a small step count on both backends and layers, on slot
 * rings and byte rings (--ring-bytes), exits
 * nonzero when a worker dies mid-run (hidden --kill-worker-at-step), and
 * leaves no ring behind on either path. */
#include <criterion/criterion.h>

#include "topo_test.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

static void fini(void)
{
  ts_kill_children();
  ts_cleanup();
}

TestSuite(demo, .fini = fini, .timeout = 180);

/* Run the demo with `args` (NULL-terminated) for session `label`. */
static int run_demo(const char *label, const char *const *args)
{
  char *argv[32];
  int n = 0;
  argv[n++] = (char *)ts_helper("MYELON_DEMO");
  argv[n++] = "--session";
  argv[n++] = (char *)label;
  for (; *args && n < 30; args++)
    argv[n++] = (char *)*args;
  argv[n] = NULL;
  pid_t pid = ts_spawn(argv);
  cr_assert_gt(pid, 0);
  return ts_wait(pid, ts_timeout_ms(120000));
}

/* None of the session's rings (nor their counters) exists any more. */
static void assert_no_leftovers(const char *label, uint32_t workers)
{
  struct myelon_layout_config c;
  myelon_layout_config_init(&c);
  c.label = label;
  c.workers = workers;
  struct myelon_layout l;
  cr_assert_eq(myelon_layout_make(&c, &l), 0);
  char path[MYELON_LAYOUT_PATH_MAX], cnt[MYELON_LAYOUT_PATH_MAX + 8];
  for (uint32_t r = 0; r <= workers + 1; r++) {
    if (r == workers + 1)
      myelon_layout_gather_name(&l, path, sizeof path);
    else if (r == workers)
      myelon_layout_request_name(&l, path, sizeof path);
    else
      myelon_layout_response_name(&l, r, path, sizeof path);
    snprintf(cnt, sizeof cnt, "%s" DMP_COUNTERS_SUFFIX, path);
    cr_assert_lt(shm_open(path, O_RDONLY, 0), 0, "'%s' was left behind", path);
    cr_assert_lt(shm_open(cnt, O_RDONLY, 0), 0, "'%s' was left behind", cnt);
  }
  topo_force_unlink(&l);
}

static void label_for(char *buf, size_t len, const char *tag)
{
  snprintf(buf, len, "demo-test-%s-%d", tag, (int)getpid());
}

Test(demo, runs_to_completion_on_shared_memory)
{
  char label[64];
  label_for(label, sizeof label, "shm");
  const char *args[] = {"--workers", "3", "--steps", "300", NULL};
  cr_assert_eq(run_demo(label, args), 0, "see the demo's output above");
  assert_no_leftovers(label, 3);
}

Test(demo, runs_the_typed_layer_on_the_mmap_backend)
{
  char label[64];
  label_for(label, sizeof label, "typed");
  const char *args[] = {"--workers", "2", "--steps", "200", "--layer", "typed", "--backend", "mmap",
                        "--payload", "3000", NULL};
  cr_assert_eq(run_demo(label, args), 0);
}

Test(demo, reports_a_dead_worker_and_exits_nonzero_without_leftovers)
{
  char label[64];
  label_for(label, sizeof label, "kill");
  const char *args[] = {"--workers", "4", "--steps", "1000", "--kill-worker-at-step", "10", NULL};
  int st = run_demo(label, args);
  cr_assert_eq(st, 1, "exit status %d (want 1: failure reported, no hang, no crash)", st);
  assert_no_leftovers(label, 4);
}

Test(demo, typed_layer_reports_a_dead_worker_too)
{
  char label[64];
  label_for(label, sizeof label, "tkill");
  const char *args[] = {"--workers", "2", "--steps", "100", "--layer", "typed", "--kill-worker-at-step", "0", NULL};
  cr_assert_eq(run_demo(label, args), 1);
  assert_no_leftovers(label, 2);
}

Test(demo, runs_on_one_gather_ring_on_both_backends)
{
  char label[64];
  label_for(label, sizeof label, "one");
  const char *args[] = {"--workers", "4", "--steps", "500", "--one-ring", NULL};
  cr_assert_eq(run_demo(label, args), 0, "see the demo's output above");
  assert_no_leftovers(label, 4);
  label_for(label, sizeof label, "onemm");
  const char *mm[] = {"--workers", "3", "--steps", "200", "--one-ring", "--layer", "typed", "--backend", "mmap",
                      "--payload", "3000", NULL};
  cr_assert_eq(run_demo(label, mm), 0);
}

Test(demo, one_ring_reports_a_dead_worker_and_exits_nonzero_without_leftovers)
{
  char label[64];
  label_for(label, sizeof label, "onekill");
  const char *args[] = {"--workers", "4", "--steps", "1000", "--one-ring", "--kill-worker-at-step", "10", NULL};
  int st = run_demo(label, args);
  cr_assert_eq(st, 1, "exit status %d (want 1: failure reported, no hang, no crash)", st);
  assert_no_leftovers(label, 4);
}

Test(demo, runs_on_byte_rings_on_both_backends_and_layers)
{
  char label[64];
  label_for(label, sizeof label, "bytes");
  const char *args[] = {"--workers", "4", "--steps", "500", "--ring-bytes", "64K", NULL};
  cr_assert_eq(run_demo(label, args), 0, "see the demo's output above");
  assert_no_leftovers(label, 4);
  /* 100 KiB requests, one record each on 256 KiB rings (a slot ring cuts them into 1 KiB frames). */
  label_for(label, sizeof label, "bytesmm");
  const char *mm[] = {"--workers", "2", "--steps", "100", "--ring-bytes", "256K", "--layer", "typed", "--backend",
                      "mmap", "--payload", "100K", NULL};
  cr_assert_eq(run_demo(label, mm), 0);
}

Test(demo, byte_rings_report_a_dead_worker_and_exit_nonzero_without_leftovers)
{
  char label[64];
  label_for(label, sizeof label, "byteskill");
  const char *args[] = {"--workers", "3", "--steps", "1000", "--ring-bytes", "64K", "--kill-worker-at-step", "10",
                        NULL};
  int st = run_demo(label, args);
  cr_assert_eq(st, 1, "exit status %d (want 1: failure reported, no hang, no crash)", st);
  assert_no_leftovers(label, 3);
}

Test(demo, rejects_bad_usage)
{
  char label[64];
  label_for(label, sizeof label, "usage");
  const char *one[] = {"--workers", "1", NULL};
  cr_assert_eq(run_demo(label, one), 2);
  const char *big[] = {"--workers", "65", NULL};
  cr_assert_eq(run_demo(label, big), 2);
  const char *layer[] = {"--layer", "json", NULL};
  cr_assert_eq(run_demo(label, layer), 2);
  const char *both[] = {"--one-ring", "--remote", "1", NULL};
  cr_assert_eq(run_demo(label, both), 2);
  const char *odd[] = {"--ring-bytes", "3000", NULL};
  cr_assert_eq(run_demo(label, odd), 2, "not a power of two");
  const char *small[] = {"--ring-bytes", "1K", "--payload", "1000", NULL};
  cr_assert_eq(run_demo(label, small), 2, "a request longer than half the ring");
  const char *shared[] = {"--ring-bytes", "64K", "--one-ring", NULL};
  cr_assert_eq(run_demo(label, shared), 2, "no one gather ring on byte rings in this version");
  /* --ring-bytes with --remote runs: tests/bridge/demo_remote.sh */
  const char *help[] = {"--help", NULL};
  cr_assert_eq(run_demo(label, help), 0);
}
