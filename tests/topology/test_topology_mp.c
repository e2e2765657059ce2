/* Multiprocess tests of the fixed topology: the test process is the
 * scheduler, each worker is a topo_role process (found through $TOPO_ROLE)
 * that checks every step's order and body and answers with checksums.
 * Covers 2..8 workers on both backends, fragmented steps, the rendezvous
 * timeout naming a missing worker process, dead (killed, also in the
 * middle of an answer) vs late (stopped) workers in gathers and
 * broadcasts, a restarted worker, and cleanup after the scheduler died.
 * Built three times: test_topo_topology_mp_one_ring runs every test on the
 * one-ring shape (TOPO_ONE_RING, MYELON_RESPONSES_ONE_RING),
 * test_topo_topology_mp_bytes on byte rings (TOPO_BYTES, MYELON_FRAME_BYTES:
 * every message one record, nothing fragmented). Every wait is bounded. */
#include <criterion/criterion.h>

#include "topo_test.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#define MS INT64_C(1000000)

struct session {
  struct topo_params p;
  struct myelon_topology_config cfg;
  struct myelon_scheduler *s;
  struct myelon_layout layout;
  pid_t pids[8];
};

static struct session S;

static void fini(void)
{
  ts_kill_children();
  myelon_scheduler_close(S.s);
  if (S.layout.workers)
    topo_force_unlink(&S.layout);
  memset(&S, 0, sizeof S);
  ts_cleanup();
}

TestSuite(topology_mp, .fini = fini, .timeout = 240);

static void open_session(const char *tag, uint32_t n, enum dmp_backend backend)
{
  topo_params_init(&S.p, tag, n);
  S.p.backend = backend;
  if (backend == DMP_BACKEND_MMAP) {
    const char *f = ts_tmp_path("dir"); /* its directory is private and removed at cleanup */
    cr_assert_not_null(f);
    snprintf(S.p.dir, sizeof S.p.dir, "%.*s", (int)(strrchr(f, '/') - f), f);
  }
}

static void create_scheduler(void)
{
  cr_assert_eq(topo_config(&S.p, &S.cfg), 0);
  cr_assert_eq(myelon_scheduler_create(&S.cfg, &S.s), 0, "%s", dmp_last_error());
  cr_assert(topo_shape_ok(&S.p, S.s), "the request ring is not the shape the build asks for");
  S.layout = *myelon_scheduler_layout(S.s);
}

static int64_t die_after = -1; /* spawn_from(): the next worker answers this step and dies */

static void spawn_from(uint32_t index, int64_t die_at, int64_t die_mid, uint64_t from)
{
  char a[15][300];
  snprintf(a[0], sizeof a[0], "label=%s", S.p.label);
  snprintf(a[1], sizeof a[1], "backend=%s", S.p.backend == DMP_BACKEND_MMAP ? "mmap" : "shm");
  snprintf(a[2], sizeof a[2], "dir=%s", S.p.dir);
  snprintf(a[3], sizeof a[3], "workers=%u", S.p.workers);
  snprintf(a[4], sizeof a[4], "index=%u", index);
  snprintf(a[5], sizeof a[5], "payload=%u", S.p.payload);
  snprintf(a[6], sizeof a[6], "request_depth=%u", S.p.request_depth);
  snprintf(a[7], sizeof a[7], "no_responses=%d", S.p.no_responses ? 1 : 0);
  snprintf(a[8], sizeof a[8], "frame=%u", S.p.frame_capacity);
  snprintf(a[9], sizeof a[9], "die_at=%" PRId64, die_at);
  snprintf(a[10], sizeof a[10], "one_ring=%d", S.p.one_ring ? 1 : 0);
  snprintf(a[11], sizeof a[11], "die_mid=%" PRId64, die_mid);
  snprintf(a[12], sizeof a[12], "from=%" PRIu64, from);
  snprintf(a[13], sizeof a[13], "die_after=%" PRId64, die_after);
  snprintf(a[14], sizeof a[14], "ring_bytes=%" PRIu64, S.p.ring_bytes);
  die_after = -1;
  char *argv[] = {(char *)ts_helper("TOPO_ROLE"), a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                  a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], NULL};
  S.pids[index] = ts_spawn(argv);
  cr_assert_gt(S.pids[index], 0);
}

static void spawn(uint32_t index, int64_t die_at)
{
  spawn_from(index, die_at, -1, 0);
}

static void rendezvous(void)
{
  int rc = myelon_scheduler_rendezvous(S.s, ts_timeout_ms(20000) * MS);
  cr_assert_eq(rc, 0, "%s", dmp_last_error());
}

static void broadcast(uint64_t step)
{
  static uint8_t body[TOPO_REQ_HEAD + 65536];
  cr_assert_leq(S.p.payload, 65536u);
  topo_fill_request(body, step, S.p.payload);
  int rc = myelon_scheduler_broadcast(S.s, step, body, TOPO_REQ_HEAD + S.p.payload, TOPO_KIND_STEP,
                                      ts_timeout_ms(10000) * MS);
  cr_assert_eq(rc, 0, "step %" PRIu64 ": %s", step, dmp_last_error());
}

struct check {
  uint64_t step;
  uint64_t sum;
  uint64_t seen;
  int bad;
};

static int on_answer(const struct myelon_step_msg *m, void *user)
{
  struct check *c = user;
  uint64_t a[3] = {0, 0, 0};
  if (m->len == TOPO_ANSWER_LEN)
    memcpy(a, m->data, sizeof a);
  if (m->len != TOPO_ANSWER_LEN || a[0] != c->step || a[1] != (ts_checksum((int64_t)c->step) ^ (m->worker + 1)) ||
      a[2] != c->sum)
    c->bad++;
  c->seen |= UINT64_C(1) << m->worker;
  return 0;
}

static int gather(uint64_t step, int64_t timeout_ns, struct myelon_gather *g, struct check *c)
{
  static uint8_t body[TOPO_REQ_HEAD + 65536];
  topo_fill_request(body, step, S.p.payload);
  struct check init = {step, topo_payload_sum(body + TOPO_REQ_HEAD, S.p.payload), 0, 0};
  *c = init;
  return myelon_scheduler_gather(S.s, step, timeout_ns, on_answer, g, c);
}

static void step_ok(uint64_t step)
{
  broadcast(step);
  struct myelon_gather g;
  struct check c;
  int rc = gather(step, ts_timeout_ms(10000) * MS, &g, &c);
  uint64_t all = myelon_workers_mask(S.cfg.workers);
  cr_assert_eq(rc, 0, "step %" PRIu64 ": %s", step, dmp_last_error());
  cr_assert_eq(c.bad, 0, "step %" PRIu64 ": %d bad answers", step, c.bad);
  cr_assert_eq(c.seen, all, "step %" PRIu64 ": answers from %#" PRIx64, step, c.seen);
  cr_assert_eq(g.answered, all);
}

/* Stop every worker still running and require a clean exit. */
static void stop_all(uint64_t skip_mask)
{
  cr_assert_eq(myelon_scheduler_broadcast(S.s, UINT64_MAX, NULL, 0, TOPO_KIND_STOP, ts_timeout_ms(5000) * MS), 0,
               "%s", dmp_last_error());
  for (uint32_t i = 0; i < S.p.workers; i++) {
    if (skip_mask & (UINT64_C(1) << i))
      continue;
    int st = ts_wait(S.pids[i], ts_timeout_ms(20000));
    cr_assert_eq(st, 0, "worker w%u exited with %d (0 = every step in order, bodies intact)", i, st);
  }
}

/* After the run: nothing of the session is left in /dev/shm or the directory. */
static void assert_no_leftovers(void)
{
  myelon_scheduler_close(S.s);
  S.s = NULL;
  cr_assert_eq(myelon_layout_gc(&S.layout), 0, "a ring was left behind");
  char path[MYELON_LAYOUT_PATH_MAX];
  for (uint32_t r = 0; r <= S.layout.workers + 1; r++) {
    if (r == S.layout.workers + 1)
      myelon_layout_gather_name(&S.layout, path, sizeof path);
    else if (r == S.layout.workers)
      myelon_layout_request_name(&S.layout, path, sizeof path);
    else
      myelon_layout_response_name(&S.layout, r, path, sizeof path);
    int fd = S.layout.backend == DMP_BACKEND_SHM ? shm_open(path, O_RDONLY, 0) : open(path, O_RDONLY);
    cr_assert_lt(fd, 0, "'%s' still exists", path);
  }
}

static void run_session(const char *tag, uint32_t n, enum dmp_backend backend, uint32_t payload, uint64_t steps)
{
  open_session(tag, n, backend);
  S.p.payload = payload;
  create_scheduler();
  for (uint32_t i = 0; i < n; i++)
    spawn(i, -1);
  rendezvous();
  for (uint64_t step = 0; step < steps; step++)
    step_ok(step);
  stop_all(0);
  assert_no_leftovers();
  fini();
}

/* ---- every step, in order, on both backends ------------------------------------------ */

Test(topology_mp, two_to_eight_workers_get_every_step_in_order_and_answer)
{
  for (uint32_t n = 2; n <= 8; n++)
    run_session("n", n, DMP_BACKEND_SHM, 48 + n, 150);
}

Test(topology_mp, mmap_backend_carries_the_same_steps)
{
  run_session("mm", 3, DMP_BACKEND_MMAP, 100, 100);
}

Test(topology_mp, fragmented_steps_arrive_whole)
{
  run_session("fr", 4, DMP_BACKEND_SHM, 3000, 60); /* 3 frames of 1024 per request */
}

/* ---- rendezvous -------------------------------------------------------------------------- */

Test(topology_mp, rendezvous_timeout_names_the_missing_worker_process)
{
  open_session("rv", 3, DMP_BACKEND_SHM);
  create_scheduler();
  spawn(0, -1);
  spawn(2, -1);
  int rc = myelon_scheduler_rendezvous(S.s, ts_timeout_ms(500) * MS);
  cr_assert_eq(rc, -ETIMEDOUT, "rc %d: %s", rc, dmp_last_error());
  cr_assert(strstr(dmp_last_error(), "1 of 3 workers not attached"), "%s", dmp_last_error());
  cr_assert(strstr(dmp_last_error(), ": w1"), "%s", dmp_last_error());
  spawn(1, -1); /* late, but the rendezvous can be retried */
  rendezvous();
  for (uint64_t step = 0; step < 5; step++)
    step_ok(step);
  stop_all(0);
  assert_no_leftovers();
}

/* ---- dead and late workers ------------------------------------------------------------------ */

Test(topology_mp, a_worker_that_dies_mid_run_is_reported_dead_by_name)
{
  open_session("die", 3, DMP_BACKEND_SHM);
  create_scheduler();
  spawn(0, -1);
  spawn(1, 5); /* SIGKILLs itself on receiving step 5 */
  spawn(2, -1);
  rendezvous();
  for (uint64_t step = 0; step < 5; step++)
    step_ok(step);
  broadcast(5);
  struct myelon_gather g;
  struct check c;
  int rc = gather(5, ts_timeout_ms(30000) * MS, &g, &c);
  cr_assert_eq(rc, -DMP_E_OWNERDEAD, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.dead, UINT64_C(2), "dead %#" PRIx64, g.dead);
  cr_assert_eq(g.answered, UINT64_C(5));
  cr_assert_eq(g.late, 0u);
  cr_assert(strstr(dmp_last_error(), "step 5: dead: w1"), "%s", dmp_last_error());
  cr_assert_eq(ts_wait(S.pids[1], ts_timeout_ms(10000)), 128 + SIGKILL);
  struct myelon_workers_status st;
  cr_assert_eq(myelon_scheduler_status(S.s, &st), 0);
  cr_assert_eq(st.dead, UINT64_C(2));
  stop_all(UINT64_C(2));
  assert_no_leftovers(); /* the dead worker's response ring is collected too */
}

Test(topology_mp, a_worker_killed_between_steps_is_reported_by_the_next_gather)
{
  open_session("kill", 4, DMP_BACKEND_SHM);
  create_scheduler();
  for (uint32_t i = 0; i < 4; i++)
    spawn(i, -1);
  rendezvous();
  for (uint64_t step = 0; step < 3; step++)
    step_ok(step);
  cr_assert_eq(kill(S.pids[2], SIGKILL), 0);
  cr_assert_eq(ts_wait(S.pids[2], ts_timeout_ms(10000)), 128 + SIGKILL);
  broadcast(3);
  struct myelon_gather g;
  struct check c;
  int rc = gather(3, ts_timeout_ms(30000) * MS, &g, &c);
  cr_assert_eq(rc, -DMP_E_OWNERDEAD, "%s", dmp_last_error());
  cr_assert_eq(g.dead, UINT64_C(4));
  cr_assert_eq(c.bad, 0);
  cr_assert(strstr(dmp_last_error(), "dead: w2"), "%s", dmp_last_error());
  stop_all(UINT64_C(4));
}

/* A caller that gathers with short timeouts (1 ms) or polls (0) learns of
 * a dead worker too: the liveness check's cadence is kept across calls (it
 * restarted with every call and, with calls shorter than its 5 ms period,
 * never came: seed 698 of the fault sweep waited 20 s for it). */
Test(topology_mp, short_or_zero_gather_timeouts_still_report_a_dead_worker)
{
  open_session("short", 3, DMP_BACKEND_SHM);
  create_scheduler();
  for (uint32_t i = 0; i < 3; i++)
    spawn(i, -1);
  rendezvous();
  step_ok(0);
  cr_assert_eq(kill(S.pids[2], SIGKILL), 0);
  cr_assert_eq(ts_wait(S.pids[2], ts_timeout_ms(10000)), 128 + SIGKILL);
  static const int64_t timeouts[] = {1 * MS, 0};
  for (uint64_t k = 0; k < 2; k++) {
    uint64_t step = 1 + k;
    broadcast(step);
    uint64_t answered = 0, dead = 0;
    int64_t t0 = ts_now_ns(), bound = (int64_t)ts_timeout_ms(2000) * MS;
    while (((answered | dead) & UINT64_C(7)) != UINT64_C(7) && ts_now_ns() - t0 < bound) {
      struct myelon_gather g;
      struct check c;
      int rc = gather(step, timeouts[k], &g, &c);
      cr_assert(rc == 0 || rc == -ETIMEDOUT || rc == -DMP_E_OWNERDEAD, "rc %d: %s", rc, dmp_last_error());
      cr_assert_eq(c.bad, 0);
      answered |= g.answered;
      dead |= g.dead;
      if (timeouts[k] == 0)
        usleep(200);
    }
    cr_assert_eq(dead, UINT64_C(4), "step %" PRIu64 " with %" PRId64 " ns gathers: dead %#" PRIx64
                 ", answered %#" PRIx64 " after %.0f ms", step, timeouts[k], dead, answered,
                 (double)(ts_now_ns() - t0) / 1e6);
    cr_assert_eq(answered, UINT64_C(3));
  }
  stop_all(UINT64_C(4));
}

static void stopped_is_late(enum dmp_backend backend)
{
  open_session("stop", 3, backend);
  create_scheduler();
  for (uint32_t i = 0; i < 3; i++)
    spawn(i, -1);
  rendezvous();
  for (uint64_t step = 0; step < 3; step++)
    step_ok(step);
  cr_assert_eq(kill(S.pids[1], SIGSTOP), 0);
  broadcast(3);
  struct myelon_gather g;
  struct check c;
  /* w1 never answers while stopped, however long the gather: the bound is
   * for w0 and w2, which must answer within it (300 ms flat, a loaded
   * machine could leave one of them without a CPU that long: late 7). */
  int rc = gather(3, (int64_t)(ts_timeout_ms(1000) + 2 * ts_slack_ms()) * MS, &g, &c);
  kill(S.pids[1], SIGCONT);
  cr_assert_eq(rc, -ETIMEDOUT, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.late, UINT64_C(2));
  cr_assert_eq(g.dead, 0u, "a stopped process is slow, not dead");
  cr_assert(strstr(dmp_last_error(), "late: w1"), "%s", dmp_last_error());
  broadcast(4);
  rc = gather(4, ts_timeout_ms(10000) * MS, &g, &c);
  cr_assert_eq(rc, 0, "%s", dmp_last_error());
  cr_assert_eq(g.stale, 1u, "w1's answer to step 3 is dropped");
  cr_assert_eq(c.bad, 0);
  stop_all(0);
  assert_no_leftovers();
}

Test(topology_mp, a_stopped_worker_is_late_not_dead_and_catches_up)
{
  stopped_is_late(DMP_BACKEND_SHM);
}

Test(topology_mp, a_stopped_worker_is_late_on_the_mmap_backend_too)
{
  stopped_is_late(DMP_BACKEND_MMAP);
}

Test(topology_mp, a_full_broadcast_ring_names_the_dead_worker_holding_it)
{
  open_session("full", 3, DMP_BACKEND_SHM);
  S.p.no_responses = true; /* the original's shape: broadcast only */
  S.p.request_depth = 8;
  if (S.p.ring_bytes)
    S.p.ring_bytes = 1024; /* 8 requests of 128 bytes (32 + 16 + 16 + 64) */
  create_scheduler();
  spawn(0, -1);
  spawn(1, -1);
  spawn(2, 3);
  rendezvous();
  int rc = 0;
  uint64_t step;
  uint8_t body[TOPO_REQ_HEAD + 64];
  for (step = 0; step < 200 && rc == 0; step++) {
    topo_fill_request(body, step, S.p.payload);
    rc = myelon_scheduler_broadcast(S.s, step, body, TOPO_REQ_HEAD + S.p.payload, TOPO_KIND_STEP,
                                    ts_timeout_ms(300) * MS);
  }
  cr_assert_eq(rc, -DMP_E_OWNERDEAD, "after %" PRIu64 " steps rc %d: %s", step, rc, dmp_last_error());
  cr_assert(strstr(dmp_last_error(), "dead: w2"), "%s", dmp_last_error());
  cr_assert_lt(step, 200u);
}

/* ---- dying in the middle of an answer, restarts, a dead scheduler ------------------- */

/* w1 dies between the claim and the commit of its answer to step 4. One
 * ring: a hole every later answer waits behind, until the gather's wait
 * publishes it as a tombstone and steps over it; the worker is dead, the
 * others' answers all arrive. N rings: its own ring just ends. */
static void dies_mid_answer(enum dmp_backend backend)
{
  open_session("mid", 4, backend);
  create_scheduler();
  for (uint32_t i = 0; i < 4; i++)
    spawn_from(i, -1, i == 1 ? 4 : -1, 0);
  rendezvous();
  for (uint64_t step = 0; step < 4; step++)
    step_ok(step);
  broadcast(4);
  struct myelon_gather g;
  struct check c;
  int rc = gather(4, ts_timeout_ms(30000) * MS, &g, &c);
  cr_assert_eq(rc, -DMP_E_OWNERDEAD, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.dead, UINT64_C(2), "dead %#" PRIx64 ": %s", g.dead, dmp_last_error());
  cr_assert_eq(g.answered, UINT64_C(0xd), "answered %#" PRIx64, g.answered);
  cr_assert_eq(c.bad, 0, "no half-written answer is delivered");
  cr_assert_eq(g.malformed, 0u);
  cr_assert_eq(ts_wait(S.pids[1], ts_timeout_ms(10000)), 128 + SIGKILL);
  if (S.p.one_ring)
    cr_assert_geq(dmp_consumer_tombstones(myelon_consumer_ring(myelon_scheduler_responses(S.s, 0))), 1u,
                  "the dead worker's claimed slot was stepped over as a tombstone");
  stop_all(UINT64_C(2));
  assert_no_leftovers();
}

Test(topology_mp, a_worker_that_dies_mid_answer_is_dead_and_its_slot_stepped_over)
{
  dies_mid_answer(DMP_BACKEND_SHM);
}

Test(topology_mp, a_worker_that_dies_mid_answer_on_the_mmap_backend_too)
{
  dies_mid_answer(DMP_BACKEND_MMAP);
}

/* w0 answers step 2 and dies at once: its answer still counts (the gather
 * reads what was published before it calls a worker dead), the next step
 * names it dead. */
Test(topology_mp, an_answer_published_just_before_dying_still_counts)
{
  open_session("last", 3, DMP_BACKEND_SHM);
  create_scheduler();
  die_after = 2;
  spawn(0, -1);
  spawn(1, -1);
  spawn(2, -1);
  rendezvous();
  for (uint64_t step = 0; step < 2; step++)
    step_ok(step);
  broadcast(2);
  cr_assert_eq(ts_wait(S.pids[0], ts_timeout_ms(10000)), 128 + SIGKILL, "w0 answered and died");
  struct myelon_gather g;
  struct check c;
  int rc = gather(2, ts_timeout_ms(30000) * MS, &g, &c);
  cr_assert_eq(rc, 0, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.answered, UINT64_C(7));
  cr_assert_eq(c.bad, 0);
  broadcast(3);
  rc = gather(3, ts_timeout_ms(30000) * MS, &g, &c);
  cr_assert_eq(rc, -DMP_E_OWNERDEAD, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.dead, UINT64_C(1));
  cr_assert_eq(g.answered, UINT64_C(6));
  stop_all(UINT64_C(1));
  assert_no_leftovers();
}

/* w2 dies after releasing step 3 (before answering it); a new w2 process
 * takes its place, resumes at step 4 on the request ring and answers on a
 * fresh response ring (one ring: a new producer entry on the gather ring). */
Test(topology_mp, a_restarted_worker_process_answers_again)
{
  open_session("again", 3, DMP_BACKEND_SHM);
  create_scheduler();
  spawn(0, -1);
  spawn(1, -1);
  spawn(2, 3);
  rendezvous();
  for (uint64_t step = 0; step < 3; step++)
    step_ok(step);
  broadcast(3);
  struct myelon_gather g;
  struct check c;
  int rc = gather(3, ts_timeout_ms(30000) * MS, &g, &c);
  cr_assert_eq(rc, -DMP_E_OWNERDEAD, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.dead, UINT64_C(4));
  cr_assert_eq(ts_wait(S.pids[2], ts_timeout_ms(10000)), 128 + SIGKILL);
  spawn_from(2, -1, -1, 4); /* the restart */
  /* Until the new process takes "w2" over, the rendezvous finds the dead one. */
  int64_t t0 = ts_now_ns();
  while ((rc = myelon_scheduler_rendezvous(S.s, ts_timeout_ms(20000) * MS)) == -DMP_E_OWNERDEAD &&
         ts_now_ns() - t0 < ts_timeout_ms(20000) * MS)
    usleep(2000);
  cr_assert_eq(rc, 0, "%s", dmp_last_error());
  for (uint64_t step = 4; step < 8; step++)
    step_ok(step);
  stop_all(0);
  assert_no_leftovers();
}

/* The scheduler dies (kill -9) after the rendezvous: every worker reads
 * that the request ring's producer is gone, exits, and the last one out
 * removes what is left (one ring: the gather ring, which the scheduler
 * created). Nothing of the session stays in /dev/shm. */
Test(topology_mp, workers_remove_the_rings_of_a_scheduler_that_died)
{
  open_session("orphan", 3, DMP_BACKEND_SHM);
  cr_assert_eq(topo_config(&S.p, &S.cfg), 0);
  struct myelon_layout l;
  struct myelon_layout_config lc = S.cfg.layout;
  lc.workers = S.cfg.workers.n;
  cr_assert_eq(myelon_layout_make(&lc, &l), 0, "%s", dmp_last_error());
  S.layout = l; /* for fini's forced cleanup */
  pid_t sched = fork();
  cr_assert_geq(sched, 0);
  if (sched == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    struct myelon_scheduler *s = NULL;
    if (myelon_scheduler_create(&S.cfg, &s) < 0 || myelon_scheduler_rendezvous(s, 20000 * MS) < 0)
      _exit(3);
    raise(SIGKILL);
    _exit(4);
  }
  for (uint32_t i = 0; i < 3; i++)
    spawn(i, -1);
  int st = ts_wait(sched, ts_timeout_ms(30000));
  cr_assert_eq(st, 128 + SIGKILL, "scheduler child exited %d", st);
  for (uint32_t i = 0; i < 3; i++) {
    st = ts_wait(S.pids[i], ts_timeout_ms(30000));
    cr_assert_eq(st, 11, "w%u exited %d (11: its receive saw the scheduler gone)", i, st);
  }
  cr_assert_eq(myelon_layout_gc(&l), 0, "a ring was left behind");
  char path[MYELON_LAYOUT_PATH_MAX];
  for (uint32_t r = 0; r <= l.workers + 1; r++) {
    if (r == l.workers + 1)
      myelon_layout_gather_name(&l, path, sizeof path);
    else if (r == l.workers)
      myelon_layout_request_name(&l, path, sizeof path);
    else
      myelon_layout_response_name(&l, r, path, sizeof path);
    int fd = shm_open(path, O_RDONLY, 0);
    cr_assert_lt(fd, 0, "'%s' still exists", path);
  }
}

/* topology.h, myelon_scheduler_create(): on the one-ring shape a new
 * scheduler is refused (-DMP_E_INUSE) while live workers of a dead one
 * still hold its gather ring, and succeeds once they left. The workers are
 * stopped (SIGSTOP) before the first scheduler is killed, so they are alive
 * and still joined when the second one tries; resumed, each sees the
 * scheduler gone (exit 11) and the last one removes the gather ring. */
Test(topology_mp, a_new_scheduler_waits_for_the_live_workers_of_a_dead_one_to_leave_the_gather_ring)
{
  if (!TOPO_ONE_RING)
    cr_skip_test("one-ring shape only (test_topo_topology_mp_one_ring)");
  open_session("inuse", 2, DMP_BACKEND_SHM);
  cr_assert_eq(topo_config(&S.p, &S.cfg), 0);
  struct myelon_layout_config lc = S.cfg.layout;
  lc.workers = S.cfg.workers.n;
  cr_assert_eq(myelon_layout_make(&lc, &S.layout), 0, "%s", dmp_last_error()); /* for fini's forced cleanup */
  int ready[2];
  cr_assert_eq(pipe(ready), 0);
  fflush(NULL);
  pid_t sched = fork();
  cr_assert_geq(sched, 0);
  if (sched == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    close(ready[0]);
    struct myelon_scheduler *s = NULL;
    if (myelon_scheduler_create(&S.cfg, &s) < 0 || myelon_scheduler_rendezvous(s, 20000 * MS) < 0)
      _exit(3);
    if (write(ready[1], "r", 1) != 1)
      _exit(4);
    for (int i = 0; i < 600; i++) /* killed long before: 60 s at most */
      usleep(100000);
    _exit(5);
  }
  close(ready[1]);
  for (uint32_t i = 0; i < 2; i++)
    spawn(i, -1);
  struct pollfd pf = {.fd = ready[0], .events = POLLIN};
  char r = 0;
  int prc = poll(&pf, 1, ts_timeout_ms(30000));
  cr_assert(prc == 1 && read(ready[0], &r, 1) == 1 && r == 'r', "the first scheduler never met its workers");
  close(ready[0]);
  for (uint32_t i = 0; i < 2; i++)
    cr_assert_eq(kill(S.pids[i], SIGSTOP), 0);
  cr_assert_eq(kill(sched, SIGKILL), 0);
  cr_assert_eq(ts_wait(sched, ts_timeout_ms(10000)), 128 + SIGKILL);

  struct myelon_scheduler *s2 = NULL;
  int rc = myelon_scheduler_create(&S.cfg, &s2);
  cr_assert_eq(rc, -DMP_E_INUSE, "a second scheduler while the workers still hold the gather ring: %s (%s)",
               myelon_err_name(rc), dmp_last_error());
  cr_assert_null(s2);

  for (uint32_t i = 0; i < 2; i++)
    cr_assert_eq(kill(S.pids[i], SIGCONT), 0);
  for (uint32_t i = 0; i < 2; i++) {
    int st = ts_wait(S.pids[i], ts_timeout_ms(30000));
    cr_assert_eq(st, 11, "w%u exited %d (11: its receive saw the scheduler gone)", i, st);
  }
  rc = myelon_scheduler_create(&S.cfg, &S.s);
  cr_assert_eq(rc, 0, "once the workers left: %s (%s)", myelon_err_name(rc), dmp_last_error());
}
