/*
 * topo_role: the C side of a topology (myelon/topology.h) for suite python,
 * where the other side is Python (myelon.Scheduler / myelon.Worker).
 *
 *   topo-role worker LABEL N INDEX     worker INDEX of N: answers every
 *       request of step s with body "<INDEX>:" + the request body reversed,
 *       kind = request kind + 1; exits 0 when the scheduler is gone
 *       (OWNERDEAD after the last request), 1 on any failure.
 *   topo-role scheduler LABEL N STEPS  rendezvous with N workers, then for
 *       each step s broadcast body "step-<s>" (kind s % 200), gather all N
 *       answers and check each is "<w>:" + the body reversed, kind + 1.
 *
 * The ring name prefix comes from $MYELON_TEST_PREFIX (default "my");
 * $MYELON_TEST_RESPONSES=one_ring: answers on one gather ring
 * (MYELON_RESPONSES_ONE_RING); $MYELON_TEST_RING_BYTES=B: every ring a
 * byte ring of B bytes (MYELON_FRAME_BYTES).
 * Every wait is bounded (20 s).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <myelon/myelon.h>

#define WAIT INT64_C(20000000000)

static int fail(const char *what, int rc)
{
  fprintf(stderr, "topo-role: %s: %s: %s\n", what, myelon_strerror(rc), dmp_last_error());
  return 1;
}

static int config(struct myelon_topology_config *cfg, const char *label, const char *n)
{
  myelon_topology_config_init(cfg);
  cfg->layout.label = label;
  /* the Python side picks a prefix per test, so that its leftover check can find the rings */
  if (getenv("MYELON_TEST_PREFIX"))
    cfg->layout.prefix = getenv("MYELON_TEST_PREFIX");
  const char *responses = getenv("MYELON_TEST_RESPONSES");
  if (responses && strcmp(responses, "one_ring") == 0)
    cfg->responses = MYELON_RESPONSES_ONE_RING;
  const char *ring_bytes = getenv("MYELON_TEST_RING_BYTES"); /* set: byte rings of that size */
  if (ring_bytes && ring_bytes[0]) {
    cfg->format = MYELON_FRAME_BYTES;
    cfg->ring_bytes = strtoull(ring_bytes, NULL, 10);
  }
  return myelon_workers_make((uint32_t)strtoul(n, NULL, 10), &cfg->workers);
}

static size_t answer_of(uint32_t worker, const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
  int n = snprintf((char *)out, cap, "%u:", (unsigned)worker);
  size_t k = (size_t)n;
  for (size_t i = 0; i < len && k < cap; i++)
    out[k++] = body[len - 1 - i];
  return k;
}

static int worker(const struct myelon_topology_config *cfg, uint32_t index)
{
  struct myelon_worker *w = NULL;
  int rc = myelon_worker_attach_timeout(cfg, index, WAIT, &w);
  if (rc < 0)
    return fail("myelon_worker_attach_timeout", rc);
  static uint8_t out[1u << 20]; /* an answer as long as the largest byte-ring request (TopologyBytes) */
  for (;;) {
    struct myelon_step_msg m;
    rc = myelon_worker_recv(w, &m, WAIT);
    if (rc < 0)
      break;
    size_t len = answer_of(index, (const uint8_t *)m.data, m.len, out, sizeof out);
    uint64_t step = m.step;
    uint8_t kind = (uint8_t)(m.kind + 1);
    myelon_worker_release(w);
    rc = myelon_worker_respond(w, step, out, len, kind, WAIT);
    if (rc < 0)
      break;
  }
  myelon_worker_close(w);
  return rc == -DMP_E_OWNERDEAD ? 0 : fail("worker", rc);
}

struct check {
  uint64_t step;
  const char *body;
  int bad;
};

static int on_answer(const struct myelon_step_msg *r, void *user)
{
  struct check *ck = (struct check *)user;
  uint8_t want[4096];
  size_t len = answer_of(r->worker, (const uint8_t *)ck->body, strlen(ck->body), want, sizeof want);
  if (r->step != ck->step || r->kind != (uint8_t)(ck->step % 200 + 1) || r->len != len ||
      memcmp(r->data, want, len) != 0) {
    fprintf(stderr, "topo-role: step %" PRIu64 ": bad answer from w%u (%zu bytes, kind %u)\n", ck->step,
            (unsigned)r->worker, r->len, (unsigned)r->kind);
    ck->bad++;
  }
  return 0;
}

static int scheduler(const struct myelon_topology_config *cfg, uint64_t steps)
{
  struct myelon_scheduler *s = NULL;
  int rc = myelon_scheduler_create(cfg, &s);
  if (rc < 0)
    return fail("myelon_scheduler_create", rc);
  rc = myelon_scheduler_rendezvous(s, WAIT);
  for (uint64_t step = 1; rc == 0 && step <= steps; step++) {
    char body[64];
    snprintf(body, sizeof body, "step-%" PRIu64, step);
    rc = myelon_scheduler_broadcast(s, step, body, strlen(body), (uint8_t)(step % 200), WAIT);
    if (rc < 0)
      break;
    struct check ck = {step, body, 0};
    struct myelon_gather g;
    rc = myelon_scheduler_gather(s, step, WAIT, on_answer, &g, &ck);
    if (rc == 0 && (ck.bad || g.answered != myelon_workers_mask(cfg->workers)))
      rc = -EPROTO;
  }
  if (rc < 0)
    fprintf(stderr, "topo-role: scheduler: %s: %s\n", myelon_strerror(rc), dmp_last_error());
  myelon_scheduler_close(s);
  return rc < 0;
}

int main(int argc, char **argv)
{
  if (argc != 5) {
    fprintf(stderr, "usage: topo-role worker|scheduler LABEL N INDEX|STEPS\n");
    return 2;
  }
  struct myelon_topology_config cfg;
  int rc = config(&cfg, argv[2], argv[3]);
  if (rc < 0)
    return fail("config", rc);
  if (strcmp(argv[1], "worker") == 0)
    return worker(&cfg, (uint32_t)strtoul(argv[4], NULL, 10));
  return scheduler(&cfg, strtoull(argv[4], NULL, 10));
}
