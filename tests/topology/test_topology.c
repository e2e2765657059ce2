/* Single-process tests of the fixed topology: the scheduler and its
 * workers are separate handles in one process (each holds its own OFD
 * locks, so Layer 0 treats them as separate participants). Covers the
 * rendezvous, steps and gathers (late, stale, skipped, malformed answers),
 * typed values, zero-copy claims and every configuration error. Death of a
 * worker needs a real process: test_topology_mp.c. Built three times: the
 * *_one_ring executable (TOPO_ONE_RING) runs every test on the one-ring
 * shape, the *_bytes one (TOPO_BYTES) on byte rings (MYELON_FRAME_BYTES);
 * a few expectations differ (named where they do). */
#include <criterion/criterion.h>

#include "topo_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#define MS INT64_C(1000000)

struct topo {
  struct topo_params p;
  struct myelon_topology_config cfg;
  struct myelon_scheduler *s;
  struct myelon_worker *w[8];
};

static struct topo t;

static void fini(void)
{
  for (int i = 0; i < 8; i++)
    myelon_worker_close(t.w[i]);
  struct myelon_layout l;
  bool have = t.s != NULL;
  if (have)
    l = *myelon_scheduler_layout(t.s);
  myelon_scheduler_close(t.s);
  if (have)
    topo_force_unlink(&l);
  memset(&t, 0, sizeof t);
  ts_kill_children();
  ts_cleanup();
}

TestSuite(topology, .fini = fini, .timeout = 60);

#define assert_detail_has(s)                                                                                 \
  cr_assert(strstr(dmp_last_error(), (s)) != NULL, "detail '%s' lacks '%s'", dmp_last_error(), (s))

static void create(const char *tag, uint32_t n)
{
  topo_params_init(&t.p, tag, n);
  cr_assert_eq(topo_config(&t.p, &t.cfg), 0);
  cr_assert_eq(myelon_scheduler_create(&t.cfg, &t.s), 0, "%s", dmp_last_error());
  cr_assert(topo_shape_ok(&t.p, t.s), "the request ring is not the shape the build asks for");
}

static void attach(uint32_t i)
{
  int rc = myelon_worker_attach_timeout(&t.cfg, i, ts_timeout_ms(2000) * MS, &t.w[i]);
  cr_assert_eq(rc, 0, "w%u: %s", i, dmp_last_error());
}

static void start(const char *tag, uint32_t n)
{
  create(tag, n);
  for (uint32_t i = 0; i < n; i++)
    attach(i);
  cr_assert_eq(myelon_scheduler_rendezvous(t.s, ts_timeout_ms(2000) * MS), 0, "%s", dmp_last_error());
}

static void broadcast(uint64_t step)
{
  uint8_t body[TOPO_REQ_HEAD + 8192];
  cr_assert_leq(t.p.payload, 8192u);
  topo_fill_request(body, step, t.p.payload);
  int rc = myelon_scheduler_broadcast(t.s, step, body, TOPO_REQ_HEAD + t.p.payload, TOPO_KIND_STEP, 1000 * MS);
  cr_assert_eq(rc, 0, "step %llu: %s", (unsigned long long)step, dmp_last_error());
}

/* Worker i receives step `step`, checks it, answers (unless `answer` is false). */
static void serve(uint32_t i, uint64_t step, bool answer)
{
  struct myelon_step_msg m;
  int rc = myelon_worker_recv(t.w[i], &m, 1000 * MS);
  cr_assert_eq(rc, 0, "w%u: %s", i, dmp_last_error());
  cr_assert_eq(m.step, step, "w%u got step %llu, expected %llu", i, (unsigned long long)m.step,
               (unsigned long long)step);
  cr_assert_eq(m.worker, i);
  cr_assert_eq(m.kind, TOPO_KIND_STEP);
  cr_assert_eq(topo_check_request(m.data, m.len, step, t.p.payload), 0, "w%u step %llu body", i,
               (unsigned long long)step);
  uint64_t sum = topo_payload_sum((const uint8_t *)m.data + TOPO_REQ_HEAD, t.p.payload);
  myelon_worker_release(t.w[i]);
  if (!answer)
    return;
  uint8_t a[TOPO_ANSWER_LEN];
  topo_fill_answer(a, step, i, sum);
  cr_assert_eq(myelon_worker_respond(t.w[i], step, a, sizeof a, TOPO_KIND_STEP, 1000 * MS), 0, "%s",
               dmp_last_error());
}

struct seen {
  uint64_t step;
  uint64_t mask;
  uint64_t expect_sum;
  int bad;
};

static int check_answer(const struct myelon_step_msg *m, void *user)
{
  struct seen *s = user;
  uint64_t a[3];
  if (m->len != TOPO_ANSWER_LEN || m->step != s->step) {
    s->bad++;
    return 0;
  }
  memcpy(a, m->data, sizeof a);
  if (a[0] != s->step || a[1] != (ts_checksum((int64_t)s->step) ^ (m->worker + 1)) || a[2] != s->expect_sum)
    s->bad++;
  s->mask |= UINT64_C(1) << m->worker;
  return 0;
}

static struct seen expect_for(uint64_t step)
{
  uint8_t body[TOPO_REQ_HEAD + 8192];
  topo_fill_request(body, step, t.p.payload);
  struct seen s = {step, 0, topo_payload_sum(body + TOPO_REQ_HEAD, t.p.payload), 0};
  return s;
}

/* ---- rendezvous ------------------------------------------------------------------- */

Test(topology, refuses_to_broadcast_before_the_rendezvous)
{
  create("early", 2);
  uint8_t b[1] = {0};
  cr_assert_eq(myelon_scheduler_broadcast(t.s, 0, b, 1, 1, 0), -MYELON_E_TOPOLOGY);
  assert_detail_has("no successful rendezvous");
  struct myelon_gather g;
  cr_assert_eq(myelon_scheduler_gather(t.s, 0, 0, NULL, &g, NULL), -MYELON_E_TOPOLOGY);
}

Test(topology, rendezvous_timeout_names_the_missing_worker)
{
  create("miss", 3);
  attach(0);
  attach(2);
  int rc = myelon_scheduler_rendezvous(t.s, ts_timeout_ms(100) * MS);
  cr_assert_eq(rc, -ETIMEDOUT, "rc %d", rc);
  assert_detail_has("1 of 3 workers not attached");
  assert_detail_has(": w1");
  /* Only the list after the colon names workers; the ring name before it is
   * a random base-36 tag that may contain "w0" itself. */
  const char *missing = strstr(dmp_last_error(), "attached to '");
  missing = missing ? strstr(missing, " ms: ") : NULL;
  cr_assert_not_null(missing, "%s", dmp_last_error());
  cr_assert_null(strstr(missing, "w0"), "%s", dmp_last_error());
  cr_assert_null(strstr(missing, "w2"), "%s", dmp_last_error());
  attach(1);
  cr_assert_eq(myelon_scheduler_rendezvous(t.s, ts_timeout_ms(2000) * MS), 0, "retry succeeds: %s",
               dmp_last_error());
}

Test(topology, rendezvous_names_a_worker_whose_response_ring_is_missing)
{
  if (TOPO_ONE_RING)
    cr_skip_test("one ring: the scheduler creates the gather ring, no worker can lack one");
  create("noresp", 2);
  attach(0);
  /* "w1" attaches to the request ring by hand, without a response ring. */
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = dmp_producer_name(myelon_producer_ring(myelon_scheduler_requests(t.s)));
  cc.id = "w1";
  struct dmp_consumer *c;
  cr_assert_eq(dmp_consumer_attach(&cc, &c), 0, "%s", dmp_last_error());
  int rc = myelon_scheduler_rendezvous(t.s, ts_timeout_ms(100) * MS);
  cr_assert_eq(rc, -ETIMEDOUT);
  assert_detail_has("worker w1 is attached but its response ring");
  dmp_consumer_close(c);
}

/* ---- steps and gathers ---------------------------------------------------------------- */

static void run_steps(uint32_t n, uint64_t steps)
{
  for (uint64_t step = 0; step < steps; step++) {
    broadcast(step);
    for (uint32_t i = 0; i < n; i++)
      serve(i, step, true);
    struct seen s = expect_for(step);
    struct myelon_gather g;
    int rc = myelon_scheduler_gather(t.s, step, 1000 * MS, check_answer, &g, &s);
    cr_assert_eq(rc, 0, "step %llu: %s", (unsigned long long)step, dmp_last_error());
    cr_assert_eq(s.bad, 0);
    cr_assert_eq(s.mask, (UINT64_C(1) << n) - 1);
    cr_assert_eq(g.answered, (UINT64_C(1) << n) - 1);
    cr_assert_eq(g.dead | g.late | g.skipped, 0u);
    cr_assert_eq(g.stale + g.malformed, 0u);
  }
}

Test(topology, every_worker_gets_every_step_and_every_answer_is_gathered)
{
  start("steps", 4);
  run_steps(4, 50);
}

Test(topology, fragmented_steps_travel_whole)
{
  topo_params_init(&t.p, "frag", 3);
  t.p.payload = 5000; /* five frames of 1024 */
  cr_assert_eq(topo_config(&t.p, &t.cfg), 0);
  cr_assert_eq(myelon_scheduler_create(&t.cfg, &t.s), 0, "%s", dmp_last_error());
  for (uint32_t i = 0; i < 3; i++)
    attach(i);
  cr_assert_eq(myelon_scheduler_rendezvous(t.s, ts_timeout_ms(2000) * MS), 0);
  run_steps(3, 20);
}

Test(topology, a_late_worker_is_named_and_its_late_answer_is_dropped_as_stale)
{
  start("late", 3);
  broadcast(0);
  serve(0, 0, true);
  serve(1, 0, false); /* w1 does not answer in time */
  serve(2, 0, true);
  struct seen s = expect_for(0);
  struct myelon_gather g;
  int rc = myelon_scheduler_gather(t.s, 0, ts_timeout_ms(50) * MS, check_answer, &g, &s);
  cr_assert_eq(rc, -ETIMEDOUT, "rc %d", rc);
  cr_assert_eq(g.late, UINT64_C(2));
  cr_assert_eq(g.answered, UINT64_C(5));
  cr_assert_eq(g.dead, 0u, "slow is not dead");
  assert_detail_has("step 0: late: w1 (no answer after");
  uint8_t a[TOPO_ANSWER_LEN];
  topo_fill_answer(a, 0, 1, 0);
  cr_assert_eq(myelon_worker_respond(t.w[1], 0, a, sizeof a, TOPO_KIND_STEP, 0), 0); /* too late */
  broadcast(1);
  for (uint32_t i = 0; i < 3; i++)
    serve(i, 1, true);
  s = expect_for(1);
  cr_assert_eq(myelon_scheduler_gather(t.s, 1, 1000 * MS, check_answer, &g, &s), 0, "%s", dmp_last_error());
  cr_assert_eq(g.stale, 1u, "the step 0 answer is dropped");
  cr_assert_eq(s.bad, 0);
  cr_assert_eq(g.answered, UINT64_C(7));
}

Test(topology, an_answer_to_a_later_step_is_kept_for_the_next_gather)
{
  start("skip", 2);
  broadcast(0);
  broadcast(1);
  serve(0, 0, false); /* w0 skips step 0 ... */
  serve(0, 1, true);  /* ... and answers step 1 */
  serve(1, 0, true);
  struct seen s = expect_for(0);
  struct myelon_gather g;
  cr_assert_eq(myelon_scheduler_gather(t.s, 0, 1000 * MS, check_answer, &g, &s), -MYELON_E_TOPOLOGY);
  cr_assert_eq(g.skipped, UINT64_C(1));
  cr_assert_eq(g.answered, UINT64_C(2));
  assert_detail_has("answered a later step first: w0");
  serve(1, 1, true);
  s = expect_for(1);
  cr_assert_eq(myelon_scheduler_gather(t.s, 1, 1000 * MS, check_answer, &g, &s), 0, "%s", dmp_last_error());
  cr_assert_eq(g.answered, UINT64_C(3), "w0's held answer is delivered");
  cr_assert_eq(s.bad, 0);
}

/* w0 answers steps 1..20 before step 0. N rings: they wait in its ring.
 * One ring: the gather reads past them to find w1's answer, so it copies
 * them out and holds them, at most MYELON_GATHER_HELD_MAX per worker; the
 * rest are dropped as stale. Either way w0 skipped step 0, and its answer
 * to step 1 is delivered by the next gather. */
Test(topology, answers_read_ahead_are_held_up_to_a_bound)
{
  start("held", 2);
  for (uint64_t step = 1; step <= 20; step++)
    cr_assert_eq(myelon_worker_respond(t.w[0], step, &step, sizeof step, TOPO_KIND_STEP, 0), 0, "%s",
                 dmp_last_error());
  uint64_t zero = 0;
  cr_assert_eq(myelon_worker_respond(t.w[1], 0, &zero, sizeof zero, TOPO_KIND_STEP, 0), 0);
  struct myelon_gather g;
  int rc = myelon_scheduler_gather(t.s, 0, 1000 * MS, NULL, &g, NULL);
  cr_assert_eq(rc, -MYELON_E_TOPOLOGY, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.skipped, UINT64_C(1));
  cr_assert_eq(g.answered, UINT64_C(2));
  cr_assert_eq(g.stale, TOPO_ONE_RING ? 20u - MYELON_GATHER_HELD_MAX : 0u, "stale %u", g.stale);
  uint64_t one = 1;
  cr_assert_eq(myelon_worker_respond(t.w[1], 1, &one, sizeof one, TOPO_KIND_STEP, 0), 0);
  cr_assert_eq(myelon_scheduler_gather(t.s, 1, 1000 * MS, NULL, &g, NULL), 0, "%s", dmp_last_error());
  cr_assert_eq(g.answered, UINT64_C(3), "w0's answer to step 1 (held, or in its ring) is delivered");
}

/* w0 claims room for its answer and does not commit (a worker stopped
 * between claim and publish); w1 answers after it. N rings: w1's answer
 * arrives, w0 is late. One ring: w1's answer was claimed after w0's slot
 * and waits behind it, so both are late; once w0 commits, both arrive. */
Test(topology, an_open_claim_holds_back_later_answers_only_on_one_ring)
{
  start("claim", 2);
  broadcast(0);
  serve(0, 0, false);
  serve(1, 0, false);
  void *body;
  uint64_t a0 = 0;
  cr_assert_eq(myelon_worker_claim(t.w[0], sizeof a0, &body, 0), 0, "%s", dmp_last_error());
  cr_assert_eq(myelon_worker_respond(t.w[1], 0, &a0, sizeof a0, TOPO_KIND_STEP, 0), 0, "%s", dmp_last_error());
  struct myelon_gather g;
  int rc = myelon_scheduler_gather(t.s, 0, ts_timeout_ms(200) * MS, NULL, &g, NULL);
  cr_assert_eq(rc, -ETIMEDOUT, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.late, TOPO_ONE_RING ? UINT64_C(3) : UINT64_C(1), "late %#llx", (unsigned long long)g.late);
  cr_assert_eq(g.answered, TOPO_ONE_RING ? 0u : UINT64_C(2));
  cr_assert_eq(g.dead, 0u, "alive, not dead");
  memcpy(body, &a0, sizeof a0);
  cr_assert_eq(myelon_worker_commit(t.w[0], 0, sizeof a0, TOPO_KIND_STEP), 0);
  /* Gathered again: one ring, both arrive now; N rings, w0's (w1's came before). */
  rc = myelon_scheduler_gather(t.s, 0, ts_timeout_ms(200) * MS, NULL, &g, NULL);
  cr_assert_eq(rc, TOPO_ONE_RING ? 0 : -ETIMEDOUT, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.answered, TOPO_ONE_RING ? UINT64_C(3) : UINT64_C(1));
}

/* One ring: a message is claimed whole, so it may take at most the gather
 * ring's depth in frames (here 4 frames of 1024 bytes). */
Test(topology, one_ring_refuses_an_answer_longer_than_the_ring)
{
  if (!TOPO_ONE_RING)
    cr_skip_test("N rings: a long answer is published in batches");
  topo_params_init(&t.p, "long", 2);
  cr_assert_eq(topo_config(&t.p, &t.cfg), 0);
  t.cfg.layout.response_depth = 4;
  cr_assert_eq(myelon_scheduler_create(&t.cfg, &t.s), 0, "%s", dmp_last_error());
  attach(0);
  attach(1);
  cr_assert_eq(myelon_scheduler_rendezvous(t.s, ts_timeout_ms(2000) * MS), 0, "%s", dmp_last_error());
  static uint8_t big[6000];
  cr_assert_eq(myelon_worker_respond(t.w[0], 0, big, sizeof big, TOPO_KIND_STEP, 0), -MYELON_E_TOOBIG, "%s",
               dmp_last_error());
  cr_assert_eq(myelon_worker_respond(t.w[0], 0, big, 3000, TOPO_KIND_STEP, 0), 0, "%s", dmp_last_error());
}

Test(topology, malformed_answers_are_counted_and_skipped)
{
  start("junk", 2);
  broadcast(0);
  serve(0, 0, true);
  serve(1, 0, false);
  /* w1 publishes bytes without an envelope, then one with a wrong worker index. */
  struct myelon_producer *raw = myelon_worker_responses(t.w[1]);
  cr_assert_eq(myelon_producer_publish(raw, "junk", 4, 9, 0), 0);
  struct myelon_step_header forged = {MYELON_STEP_RESPONSE, 0, 0};
  cr_assert_eq(myelon_producer_publish(raw, &forged, sizeof forged, 9, 0), 0);
  uint8_t body[TOPO_REQ_HEAD + 64], a[TOPO_ANSWER_LEN];
  topo_fill_request(body, 0, t.p.payload);
  topo_fill_answer(a, 0, 1, topo_payload_sum(body + TOPO_REQ_HEAD, t.p.payload));
  cr_assert_eq(myelon_worker_respond(t.w[1], 0, a, sizeof a, TOPO_KIND_STEP, 0), 0);
  struct seen s = expect_for(0);
  struct myelon_gather g;
  cr_assert_eq(myelon_scheduler_gather(t.s, 0, 1000 * MS, check_answer, &g, &s), 0, "%s", dmp_last_error());
  /* One ring: producers are not told apart, the envelope's worker index is
   * trusted, so the forged answer counts as w0's second (held, then stale). */
  cr_assert_eq(g.malformed, TOPO_ONE_RING ? 1u : 2u);
  cr_assert_eq(s.bad, 0);
}

Test(topology, a_worker_that_exits_is_found_dead_while_the_gather_waits_on_another)
{
  start("exit", 3);
  broadcast(0);
  serve(0, 0, false); /* alive, never answers: the gather parks on its ring */
  serve(1, 0, false);
  serve(2, 0, true);
  myelon_worker_close(t.w[1]); /* exits without answering */
  t.w[1] = NULL;
  struct myelon_gather g;
  int rc = myelon_scheduler_gather(t.s, 0, ts_timeout_ms(300) * MS, NULL, &g, NULL);
  cr_assert_eq(rc, -DMP_E_OWNERDEAD, "rc %d: %s", rc, dmp_last_error());
  cr_assert_eq(g.dead, UINT64_C(2));
  cr_assert_eq(g.late, UINT64_C(1));
  cr_assert_eq(g.answered, UINT64_C(4));
  assert_detail_has("step 0: dead: w1; late: w0");
}

Test(topology, a_restarted_worker_rejoins_at_the_next_rendezvous)
{
  start("rejoin", 2);
  run_steps(2, 3);
  myelon_worker_close(t.w[1]);
  t.w[1] = NULL;
  broadcast(3);
  serve(0, 3, true);
  struct myelon_gather g;
  cr_assert_eq(myelon_scheduler_gather(t.s, 3, ts_timeout_ms(300) * MS, NULL, &g, NULL), -DMP_E_OWNERDEAD);
  cr_assert_eq(g.dead, UINT64_C(2));
  attach(1); /* the restart: resumes after step 2, the last one it released */
  cr_assert_eq(myelon_scheduler_rendezvous(t.s, ts_timeout_ms(2000) * MS), 0, "%s", dmp_last_error());
  serve(1, 3, true); /* w1 gets the step it missed */
  broadcast(4);
  serve(0, 4, true);
  serve(1, 4, true);
  struct seen s = expect_for(4);
  cr_assert_eq(myelon_scheduler_gather(t.s, 4, 1000 * MS, check_answer, &g, &s), 0, "%s", dmp_last_error());
  cr_assert_eq(g.answered, UINT64_C(3));
  cr_assert_eq(g.stale, 1u, "w1's answer to step 3 came after that gather");
  cr_assert_eq(s.bad, 0);
}

static int stop_at_first(const struct myelon_step_msg *m, void *user)
{
  (void)m;
  (*(int *)user)++;
  return 1;
}

Test(topology, a_callback_can_stop_the_gather)
{
  start("cancel", 2);
  broadcast(0);
  serve(0, 0, true);
  serve(1, 0, true);
  int calls = 0;
  cr_assert_eq(myelon_scheduler_gather(t.s, 0, 1000 * MS, stop_at_first, NULL, &calls), -ECANCELED);
  cr_assert_eq(calls, 1);
}

/* ---- typed values and zero-copy claims ------------------------------------------------------ */

struct order {
  uint64_t id;
  double px;
  char note[1500]; /* larger than a 1024-byte frame when filled */
};
static const struct myelon_mp_field order_fields[] = {
    MYELON_MP_NUM(struct order, id),
    MYELON_MP_NUM(struct order, px),
    MYELON_MP_STR(struct order, note),
};
static const struct myelon_mp_struct order_desc = MYELON_MP_STRUCT(struct order, order_fields);
static const struct myelon_mp_type order_type = MYELON_MP_TYPE_DESC(order_desc);

static void typed_round_trip(const struct myelon_codec *codec, uint64_t step, size_t note_len)
{
  struct order o = {step * 7 + 1, 1.5 * (double)step, ""};
  memset(o.note, 'n', note_len);
  o.note[note_len] = '\0';
  cr_assert_eq(myelon_scheduler_broadcast_value(t.s, step, codec, &o, 3, 1000 * MS), 0, "%s", dmp_last_error());
  for (uint32_t i = 0; i < 2; i++) {
    struct myelon_step_msg m;
    cr_assert_eq(myelon_worker_recv(t.w[i], &m, 1000 * MS), 0, "%s", dmp_last_error());
    cr_assert_eq(m.step, step);
    cr_assert_eq(m.kind, 3);
    struct order *got;
    cr_assert_eq(myelon_codec_decode(codec, m.data, m.len, (void **)&got), 0, "%s", dmp_last_error());
    cr_assert_eq(got->id, o.id);
    cr_assert_str_eq(got->note, o.note);
    got->id += i + 1; /* the answer echoes id + worker + 1 */
    myelon_worker_release(t.w[i]);
    cr_assert_eq(myelon_worker_respond_value(t.w[i], step, codec, got, 4, 1000 * MS), 0, "%s", dmp_last_error());
    myelon_codec_free(codec, got);
  }
  struct myelon_gather g;
  cr_assert_eq(myelon_scheduler_gather(t.s, step, 1000 * MS, NULL, &g, NULL), 0, "%s", dmp_last_error());
  cr_assert_eq(g.answered, UINT64_C(3));
}

Test(topology, typed_values_travel_in_one_frame_and_fragmented)
{
  start("typed", 2);
  struct myelon_codec codec;
  cr_assert_eq(myelon_msgpack_codec_init(&codec, &order_type), 0, "%s", dmp_last_error());
  typed_round_trip(&codec, 0, 10);   /* encoded straight into the slot */
  typed_round_trip(&codec, 1, 1400); /* through the scratch buffer, 2 frames */
  typed_round_trip(&codec, 2, 20);
}

Test(topology, zero_copy_claims_write_the_body_in_place)
{
  start("claim", 2);
  void *body;
  if (TOPO_BYTES) { /* one record per message: any body up to the ring's largest */
    size_t most = TOPO_RING_BYTES / 2 - MYELON_BYTES_OVERHEAD - MYELON_STEP_HEADER;
    cr_assert_eq(myelon_scheduler_claim(t.s, most + 1, &body, 0), -MYELON_E_TOOBIG, "above the ring's largest");
    cr_assert_eq(myelon_scheduler_claim(t.s, most, &body, 0), 0, "%s", dmp_last_error());
    cr_assert_eq(myelon_scheduler_abort(t.s), 0);
  } else {
    cr_assert_eq(myelon_scheduler_claim(t.s, 2000, &body, 0), -EINVAL, "more than one frame");
  }
  cr_assert_eq(myelon_scheduler_claim(t.s, 100, &body, 1000 * MS), 0, "%s", dmp_last_error());
  uint8_t dummy[1];
  cr_assert_eq(myelon_scheduler_broadcast(t.s, 5, dummy, 1, 1, 0), -EINVAL, "claim open");
  memcpy(body, "hello", 5);
  cr_assert_eq(myelon_scheduler_commit(t.s, 5, 5, 6), 0, "%s", dmp_last_error());
  cr_assert_eq(myelon_scheduler_commit(t.s, 5, 5, 6), -EINVAL, "nothing to commit");
  for (uint32_t i = 0; i < 2; i++) {
    struct myelon_step_msg m;
    cr_assert_eq(myelon_worker_recv(t.w[i], &m, 1000 * MS), 0);
    cr_assert_eq(m.step, 5u);
    cr_assert_eq(m.len, 5u);
    cr_assert(m.zero_copy);
    cr_assert_eq(memcmp(m.data, "hello", 5), 0);
    myelon_worker_release(t.w[i]);
    cr_assert_eq(myelon_worker_claim(t.w[i], 8, &body, 1000 * MS), 0);
    memcpy(body, "ok", 2);
    cr_assert_eq(myelon_worker_commit(t.w[i], 5, 2, 6), 0);
  }
  struct myelon_gather g;
  cr_assert_eq(myelon_scheduler_gather(t.s, 5, 1000 * MS, NULL, &g, NULL), 0, "%s", dmp_last_error());
}

/* Aborted claims and a codec that breaks its size contract send nothing:
 * the request ring's sequence does not move, workers receive only the next
 * real step, and an aborted worker answer leaves its response ring empty. */
static struct myelon_codec honest_codec;

static int short_size(const void *value, size_t *len, void *user)
{
  int rc = honest_codec.size(value, len, user);
  if (rc == 0)
    *len = *len > 600 ? *len - 600 : 0; /* announce 600 bytes fewer than encoded */
  return rc;
}

Test(topology, aborted_claims_and_broken_codecs_send_nothing)
{
  start("abort", 2);
  struct dmp_producer *req = myelon_producer_ring(myelon_scheduler_requests(t.s));
  void *body;
  cr_assert_eq(myelon_scheduler_abort(t.s), -EINVAL, "no claim open");
  cr_assert_eq(myelon_scheduler_claim(t.s, 64, &body, 1000 * MS), 0, "%s", dmp_last_error());
  memcpy(body, "dropped", 7);
  cr_assert_eq(myelon_scheduler_abort(t.s), 0, "%s", dmp_last_error());
  cr_assert_eq(myelon_scheduler_commit(t.s, 1, 7, 6), -EINVAL, "the claim was dropped");
  cr_assert_eq(dmp_producer_sequence(req), -1, "an aborted claim was published");

  cr_assert_eq(myelon_msgpack_codec_init(&honest_codec, &order_type), 0, "%s", dmp_last_error());
  struct myelon_codec liar = honest_codec;
  liar.size = short_size;
  static struct order o = {1, 2.5, ""};
  memset(o.note, 'n', 1200); /* two frames, announced as one */
  cr_assert_eq(myelon_scheduler_broadcast_value(t.s, 2, &liar, &o, 3, 1000 * MS), -MYELON_E_CODEC);
  cr_assert_eq(dmp_producer_sequence(req), -1, "a broken encode was published");

  cr_assert_eq(myelon_scheduler_broadcast(t.s, 3, "kept", 4, 6, 1000 * MS), 0, "%s", dmp_last_error());
  for (uint32_t i = 0; i < 2; i++) {
    struct myelon_step_msg m;
    cr_assert_eq(myelon_worker_recv(t.w[i], &m, 1000 * MS), 0, "%s", dmp_last_error());
    cr_assert_eq(m.step, 3u, "worker %u saw step %llu first", i, (unsigned long long)m.step);
    cr_assert_eq(m.len, 4u);
    myelon_worker_release(t.w[i]);
    cr_assert_eq(myelon_worker_try_recv(t.w[i], &m), -EAGAIN, "a second message reached worker %u", i);
    struct dmp_producer *resp = myelon_producer_ring(myelon_worker_responses(t.w[i]));
    cr_assert_eq(myelon_worker_abort(t.w[i]), -EINVAL, "no claim open");
    cr_assert_eq(myelon_worker_claim(t.w[i], 8, &body, 1000 * MS), 0, "%s", dmp_last_error());
    cr_assert_eq(myelon_worker_abort(t.w[i]), 0, "%s", dmp_last_error());
    cr_assert_eq(dmp_producer_sequence(resp), -1, "an aborted answer was published");
    cr_assert_eq(myelon_worker_respond(t.w[i], 3, "ok", 2, 6, 1000 * MS), 0, "%s", dmp_last_error());
  }
  struct myelon_gather g;
  cr_assert_eq(myelon_scheduler_gather(t.s, 3, 1000 * MS, NULL, &g, NULL), 0, "%s", dmp_last_error());
  cr_assert_eq(g.answered, UINT64_C(3));
  cr_assert_eq(g.stale, 0u);
}

/* ---- configuration and attach errors ------------------------------------------------------------ */

Test(topology, configuration_errors_name_the_field)
{
  topo_params_init(&t.p, "cfg", 4);
  struct myelon_topology_config cfg;
  cr_assert_eq(topo_config(&t.p, &cfg), 0);
  struct myelon_scheduler *s = NULL;
  cfg.layout.workers = 3;
  cr_assert_eq(myelon_scheduler_create(&cfg, &s), -MYELON_E_TOPOLOGY);
  assert_detail_has("cfg.layout.workers 3 differs from cfg.workers.n 4");
  cfg.layout.workers = 0;
  cfg.workers.n = 1;
  cr_assert_eq(myelon_scheduler_create(&cfg, &s), -MYELON_E_TOPOLOGY);
  assert_detail_has("cfg.workers.n 1 is not in 2..64");
  cr_assert_eq(topo_config(&t.p, &cfg), 0);
  cfg.max_message = 16;
  cr_assert_eq(myelon_scheduler_create(&cfg, &s), -MYELON_E_TOPOLOGY);
  assert_detail_has("max_message 16");
  cr_assert_eq(topo_config(&t.p, &cfg), 0);
  cfg.layout.response_depth = 0;
  cr_assert_eq(myelon_scheduler_create(&cfg, &s), -MYELON_E_TOPOLOGY);
  assert_detail_has("response_depth must be greater than zero");
  cr_assert_eq(topo_config(&t.p, &cfg), 0);
  cfg.layout.prefix = "no-no";
  struct myelon_worker *w = NULL;
  cr_assert_eq(myelon_worker_attach(&cfg, 0, &w), -MYELON_E_TOPOLOGY);
  assert_detail_has("must be ASCII alphanumeric");
  /* Byte rings: sized in bytes only there; no one-ring shape (not supported on byte rings in this version). */
  cr_assert_eq(topo_config(&t.p, &cfg), 0);
  cfg.format = MYELON_FRAME_COMPACT;
  cfg.ring_bytes = 1u << 16;
  cr_assert_eq(myelon_scheduler_create(&cfg, &s), -MYELON_E_TOPOLOGY);
  assert_detail_has("cfg.ring_bytes 65536: only MYELON_FRAME_BYTES rings are sized in bytes");
  cr_assert_eq(myelon_worker_attach(&cfg, 0, &w), -MYELON_E_TOPOLOGY);
  cfg.format = MYELON_FRAME_BYTES;
  cfg.responses = MYELON_RESPONSES_ONE_RING;
  int rc = myelon_scheduler_create(&cfg, &s);
  cr_assert_eq(rc, -MYELON_E_FORMAT, "one byte gather ring: %s (%s)", myelon_err_name(rc), dmp_last_error());
  assert_detail_has("MYELON_RESPONSES_ONE_RING with cfg.format MYELON_FRAME_BYTES");
  rc = myelon_worker_attach(&cfg, 0, &w);
  cr_assert_eq(rc, -MYELON_E_FORMAT, "a one-ring byte worker: %s (%s)", myelon_err_name(rc), dmp_last_error());
  cfg.responses = MYELON_RESPONSES_PER_WORKER;
  cfg.ring_bytes = 3000; /* not a power of two: Layer 0's refusal, no ring left behind */
  rc = myelon_scheduler_create(&cfg, &s);
  cr_assert_eq(rc, -DMP_E_BADCONFIG, "%s (%s)", myelon_err_name(rc), dmp_last_error());
  cr_assert_null(s);
  cr_assert_null(w);
  struct myelon_layout l;
  struct myelon_layout_config lc = cfg.layout;
  lc.workers = cfg.workers.n;
  cr_assert_eq(myelon_layout_make(&lc, &l), 0);
  char path[MYELON_LAYOUT_PATH_MAX];
  cr_assert_geq(myelon_layout_request_name(&l, path, sizeof path), 0);
  cr_assert_lt(shm_open(path, O_RDONLY, 0), 0, "'%s' was left behind", path);
}

/* ---- byte rings (MYELON_FRAME_BYTES) -------------------------------------------------------- */

/* A topology on byte rings every process builds alike but for `format`. */
static void byte_config(struct myelon_topology_config *cfg, const char *tag, uint64_t ring_bytes)
{
  topo_params_init(&t.p, tag, 2);
  t.p.ring_bytes = ring_bytes;
  if (ring_bytes)
    t.p.one_ring = false; /* no one-ring shape on byte rings */
  cr_assert_eq(topo_config(&t.p, cfg), 0);
}

/* The shapes disagree (scheduler on bytes, worker on slots, and the other
 * way round): the worker's attach is refused naming both, from the
 * segment, and leaves no response ring of its own behind. */
Test(topology, a_worker_of_another_ring_format_is_refused_naming_both_shapes)
{
  for (int sched_bytes = 0; sched_bytes < 2; sched_bytes++) {
    for (int one = 0; one < 2; one++) {
      if (one && !sched_bytes)
        continue; /* a byte worker cannot take the one-ring shape (configuration_errors_name_the_field) */
      byte_config(&t.cfg, "shape", sched_bytes ? UINT64_C(1) << 16 : 0);
      cr_assert_eq(myelon_scheduler_create(&t.cfg, &t.s), 0, "%s", dmp_last_error());
      struct myelon_topology_config wc = t.cfg;
      wc.format = sched_bytes ? MYELON_FRAME_COMPACT : MYELON_FRAME_BYTES;
      wc.ring_bytes = sched_bytes ? 0 : UINT64_C(1) << 16;
      wc.responses = one ? MYELON_RESPONSES_ONE_RING : MYELON_RESPONSES_PER_WORKER;
      struct myelon_worker *w = NULL;
      int rc = myelon_worker_attach(&wc, 0, &w);
      cr_assert_eq(rc, -MYELON_E_FORMAT, "scheduler on %s, worker on %s%s: %s (%s)", sched_bytes ? "bytes" : "slots",
                   sched_bytes ? "slots" : "bytes", one ? " (one ring)" : "", myelon_err_name(rc), dmp_last_error());
      cr_assert_null(w);
      assert_detail_has(sched_bytes ? "is a byte ring (65536 bytes, MYELON_FRAME_BYTES) but cfg.format is "
                                      "MYELON_FRAME_COMPACT"
                                    : "is a slot ring (");
      if (!sched_bytes)
        assert_detail_has("but cfg.format is MYELON_FRAME_BYTES");
      rc = myelon_worker_attach_timeout(&wc, 1, ts_timeout_ms(2000) * MS, &w); /* refused, not waited out */
      cr_assert_eq(rc, -MYELON_E_FORMAT, "bounded attach: %s (%s)", myelon_err_name(rc), dmp_last_error());
      char path[MYELON_LAYOUT_PATH_MAX];
      cr_assert_geq(myelon_layout_response_name(myelon_scheduler_layout(t.s), 0, path, sizeof path), 0);
      cr_assert_lt(shm_open(path, O_RDONLY, 0), 0, "the refused worker left '%s'", path);
      /* The scheduler still meets workers of its own format. */
      attach(0);
      attach(1);
      cr_assert_eq(myelon_scheduler_rendezvous(t.s, ts_timeout_ms(2000) * MS), 0, "%s", dmp_last_error());
      fini();
    }
  }
}

/* The scheduler on bytes finds a worker's response ring of slots (a
 * stale or foreign worker): its rendezvous names both shapes too. */
Test(topology, a_response_ring_of_another_format_is_refused_at_the_rendezvous)
{
  byte_config(&t.cfg, "rshape", UINT64_C(1) << 16);
  cr_assert_eq(myelon_scheduler_create(&t.cfg, &t.s), 0, "%s", dmp_last_error());
  attach(0);
  /* w1: a slot response ring created by hand, and "w1" on the request ring. */
  char path[MYELON_LAYOUT_PATH_MAX];
  cr_assert_geq(myelon_layout_response_name(myelon_scheduler_layout(t.s), 1, path, sizeof path), 0);
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = path;
  pc.ring.capacity = 64;
  struct myelon_producer *slots;
  cr_assert_eq(myelon_producer_create(&pc, &slots), 0, "%s", dmp_last_error());
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = dmp_producer_name(myelon_producer_ring(myelon_scheduler_requests(t.s)));
  cc.id = "w1";
  struct dmp_consumer *c;
  cr_assert_eq(dmp_consumer_attach(&cc, &c), 0, "%s", dmp_last_error());
  int rc = myelon_scheduler_rendezvous(t.s, ts_timeout_ms(2000) * MS);
  cr_assert_eq(rc, -MYELON_E_FORMAT, "%s (%s)", myelon_err_name(rc), dmp_last_error());
  assert_detail_has("response ring '");
  assert_detail_has("is a slot ring (64 slots of");
  dmp_consumer_close(c);
  myelon_producer_close(slots);
}

/* Messages of every size from 0 bytes to the ring's largest (half the
 * ring less the record's 32 bytes and the 16-byte envelope) cross both
 * ways, each byte checked: workers check the request's checksum and
 * answer with its bytes XOR (worker + 1), which the gather compares byte
 * by byte. One byte more is refused on both sides, nothing published. */
struct sized {
  uint64_t step;
  const uint8_t *req;
  size_t len;
  int bad;
  uint64_t seen;
};

static int check_sized(const struct myelon_step_msg *m, void *user)
{
  struct sized *z = user;
  const uint8_t *d = m->data;
  bool ok = m->len == z->len && m->step == z->step && m->kind == 2;
  for (size_t j = 0; ok && j < m->len; j++)
    ok = d[j] == (uint8_t)(z->req[j] ^ (m->worker + 1));
  z->bad += !ok;
  z->seen |= UINT64_C(1) << m->worker;
  return 0;
}

Test(topology, byte_rings_carry_every_size_up_to_the_largest_both_ways)
{
  const uint64_t ring = UINT64_C(1) << 16;
  byte_config(&t.cfg, "sizes", ring);
  cr_assert_eq(myelon_scheduler_create(&t.cfg, &t.s), 0, "%s", dmp_last_error());
  attach(0);
  attach(1);
  cr_assert_eq(myelon_scheduler_rendezvous(t.s, ts_timeout_ms(2000) * MS), 0, "%s", dmp_last_error());
  const size_t most = ring / 2 - MYELON_BYTES_OVERHEAD - MYELON_STEP_HEADER;
  static uint8_t req[1u << 15], ans[1u << 15];
  cr_assert_eq(myelon_scheduler_broadcast(t.s, 0, req, most + 1, 1, 0), -MYELON_E_TOOBIG, "%s", dmp_last_error());
  cr_assert_eq(myelon_worker_respond(t.w[0], 0, ans, most + 1, 2, 0), -MYELON_E_TOOBIG, "%s", dmp_last_error());
  cr_assert_eq(dmp_producer_sequence(myelon_producer_ring(myelon_scheduler_requests(t.s))), -1,
               "a refused request was published");
  cr_assert_eq(dmp_producer_sequence(myelon_producer_ring(myelon_worker_responses(t.w[0]))), -1,
               "a refused answer was published");
  size_t sizes[] = {0, 1, 2, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 1000, 4095, 4096, 8191, 12345,
                    most / 2, most - 64, most - 1, most};
  for (uint64_t step = 0; step < sizeof sizes / sizeof sizes[0]; step++) {
    size_t len = sizes[step];
    for (size_t j = 0; j < len; j++)
      req[j] = (uint8_t)(step * 131 + j * 7 + (j >> 8));
    uint64_t sum = topo_payload_sum(req, len);
    cr_assert_eq(myelon_scheduler_broadcast(t.s, step, req, len, 1, 1000 * MS), 0, "%zu bytes: %s", len,
                 dmp_last_error());
    for (uint32_t i = 0; i < 2; i++) {
      struct myelon_step_msg m;
      cr_assert_eq(myelon_worker_recv(t.w[i], &m, 1000 * MS), 0, "%s", dmp_last_error());
      cr_assert_eq(m.len, len);
      cr_assert_eq(m.kind, 1);
      cr_assert(m.zero_copy, "one record, read in place");
      cr_assert_eq(topo_payload_sum(m.data, m.len), sum, "w%u: %zu bytes changed", i, len);
      for (size_t j = 0; j < len; j++)
        ans[j] = (uint8_t)(((const uint8_t *)m.data)[j] ^ (i + 1));
      myelon_worker_release(t.w[i]);
      cr_assert_eq(myelon_worker_respond(t.w[i], step, ans, len, 2, 1000 * MS), 0, "%zu bytes: %s", len,
                   dmp_last_error());
    }
    struct sized z = {step, req, len, 0, 0};
    struct myelon_gather g;
    cr_assert_eq(myelon_scheduler_gather(t.s, step, 1000 * MS, check_sized, &g, &z), 0, "%zu bytes: %s", len,
                 dmp_last_error());
    cr_assert_eq(z.bad, 0, "%zu bytes: an answer changed", len);
    cr_assert_eq(z.seen, UINT64_C(3));
  }
}

Test(topology, worker_attach_errors_are_clear)
{
  create("attach", 2);
  struct myelon_worker *w = NULL;
  cr_assert_eq(myelon_worker_attach(&t.cfg, 2, &w), -MYELON_E_TOPOLOGY);
  assert_detail_has("worker index 2 is out of range for 2 workers (0..1)");
  attach(0);
  if (TOPO_ONE_RING) { /* joins the gather ring, then finds "w0" taken (and leaves the ring again) */
    cr_assert_eq(myelon_worker_attach(&t.cfg, 0, &w), -DMP_E_IDINUSE, "a live w0 exists");
    assert_detail_has("worker w0 is already attached");
  } else {
    cr_assert_eq(myelon_worker_attach(&t.cfg, 0, &w), -DMP_E_INUSE, "a live w0 exists");
    assert_detail_has("worker w0 is already running");
  }
  cr_assert_null(w);
  /* No scheduler for this session: a bounded attach times out. */
  struct topo_params p;
  topo_params_init(&p, "nosched", 2);
  struct myelon_topology_config cfg;
  cr_assert_eq(topo_config(&p, &cfg), 0);
  int64_t t0 = ts_now_ns();
  cr_assert_eq(myelon_worker_attach_timeout(&cfg, 0, 50 * MS, &w), -ETIMEDOUT);
  cr_assert_lt(ts_now_ns() - t0, ts_timeout_ms(5000) * MS, "bounded");
}

Test(topology, broadcast_only_topologies_refuse_answers_and_gathers)
{
  topo_params_init(&t.p, "bonly", 2);
  t.p.no_responses = true;
  cr_assert_eq(topo_config(&t.p, &t.cfg), 0);
  cr_assert_eq(myelon_scheduler_create(&t.cfg, &t.s), 0);
  attach(0);
  attach(1);
  cr_assert_eq(myelon_scheduler_rendezvous(t.s, 2000 * MS), 0, "%s", dmp_last_error());
  cr_assert_null(myelon_worker_responses(t.w[0]));
  cr_assert_null(myelon_scheduler_responses(t.s, 0));
  broadcast(0);
  serve(0, 0, false);
  cr_assert_eq(myelon_worker_respond(t.w[0], 0, "x", 1, 1, 0), -MYELON_E_TOPOLOGY);
  assert_detail_has("no response rings");
  cr_assert_eq(myelon_scheduler_gather(t.s, 0, 0, NULL, NULL, NULL), -MYELON_E_TOPOLOGY);
}

Test(topology, status_and_accessors_describe_the_topology)
{
  start("status", 3);
  struct myelon_workers_status st;
  cr_assert_eq(myelon_scheduler_status(t.s, &st), 0);
  cr_assert_eq(st.attached, UINT64_C(7));
  cr_assert_eq(st.dead, 0u);
  cr_assert_eq(myelon_scheduler_workers(t.s).n, 3u);
  cr_assert_eq(myelon_scheduler_layout(t.s)->workers, 3u);
  cr_assert_not_null(myelon_scheduler_responses(t.s, 2));
  cr_assert_null(myelon_scheduler_responses(t.s, 3));
  cr_assert_eq(myelon_worker_index(t.w[2]), 2u);
  cr_assert_not_null(myelon_worker_requests(t.w[2]));
  myelon_worker_close(t.w[1]);
  t.w[1] = NULL;
  cr_assert_eq(myelon_scheduler_status(t.s, &st), 0);
  cr_assert_eq(st.attached, UINT64_C(5), "a closed worker is detached");
  cr_assert_eq(st.dead, UINT64_C(2), "and its response ring has no producer any more");
}
