/* topo_role: one worker process of a topology test.
 *
 *   topo_role label=L backend=shm|mmap dir=D workers=N index=I payload=P
 *             request_depth=R no_responses=0|1 frame=F die_at=K
 *             [one_ring=0|1] [die_mid=K] [die_after=K] [from=S]
 *             [wait=block|spin|yield|sleep] [ring_bytes=B]
 *
 * Attaches as worker I, then for each request: checks that steps arrive in
 * order from 0 with the right body (topo_test.h), answers (unless
 * no_responses), and stops at a TOPO_KIND_STOP message. die_at=K: SIGKILL
 * itself on receiving step K, before answering. die_mid=K: SIGKILL itself
 * in the middle of answering step K (after the claim, before the commit:
 * on the one-ring shape the gather finds a hole and tombstones it).
 * die_after=K: SIGKILL itself right after answering step K.
 * one_ring=1: answer on the topology's gather ring. from=S: the first step
 * expected (a restarted worker resumes after the last step it released).
 * wait=K: the wait strategy of every ring of this worker (default: the
 * library's, i.e. DMP_WAIT or block). ring_bytes=B: every ring is a
 * MYELON_FRAME_BYTES ring of B bytes (0 or absent: slot rings).
 *
 * Exit status: 0 stopped cleanly; 10 attach failed; 11 receive failed;
 * 12 a step out of order; 13 a bad body; 14 answer failed. Every wait is
 * bounded; stderr says what went wrong.
 */
#include "topo_test.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>

#define WAIT_NS (30 * INT64_C(1000000000))

static bool arg(const char *a, const char *key, const char **val)
{
  size_t n = strlen(key);
  if (strncmp(a, key, n) != 0 || a[n] != '=')
    return false;
  *val = a + n + 1;
  return true;
}

static int64_t die_mid = -1, die_after = -1;
static uint64_t first_step = 0;

static void parse(int argc, char **argv, struct topo_params *p, uint32_t *index, int64_t *die_at)
{
  memset(p, 0, sizeof *p);
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (arg(argv[i], "label", &v))
      snprintf(p->label, sizeof p->label, "%s", v);
    else if (arg(argv[i], "backend", &v))
      p->backend = strcmp(v, "mmap") == 0 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM;
    else if (arg(argv[i], "dir", &v))
      snprintf(p->dir, sizeof p->dir, "%s", v);
    else if (arg(argv[i], "workers", &v))
      p->workers = (uint32_t)strtoul(v, NULL, 10);
    else if (arg(argv[i], "index", &v))
      *index = (uint32_t)strtoul(v, NULL, 10);
    else if (arg(argv[i], "payload", &v))
      p->payload = (uint32_t)strtoul(v, NULL, 10);
    else if (arg(argv[i], "request_depth", &v))
      p->request_depth = (uint32_t)strtoul(v, NULL, 10);
    else if (arg(argv[i], "no_responses", &v))
      p->no_responses = strcmp(v, "1") == 0;
    else if (arg(argv[i], "frame", &v))
      p->frame_capacity = (uint32_t)strtoul(v, NULL, 10);
    else if (arg(argv[i], "die_at", &v))
      *die_at = strtoll(v, NULL, 10);
    else if (arg(argv[i], "die_mid", &v))
      die_mid = strtoll(v, NULL, 10);
    else if (arg(argv[i], "die_after", &v))
      die_after = strtoll(v, NULL, 10);
    else if (arg(argv[i], "from", &v))
      first_step = strtoull(v, NULL, 10);
    else if (arg(argv[i], "one_ring", &v))
      p->one_ring = strcmp(v, "1") == 0;
    else if (arg(argv[i], "wait", &v))
      snprintf(p->wait, sizeof p->wait, "%s", v);
    else if (arg(argv[i], "ring_bytes", &v))
      p->ring_bytes = strtoull(v, NULL, 10);
  }
}

static int serve(struct myelon_worker *w, const struct topo_params *p, int64_t die_at)
{
  uint32_t me = myelon_worker_index(w);
  for (uint64_t expect = first_step;; expect++) {
    struct myelon_step_msg m;
    int rc = myelon_worker_recv(w, &m, WAIT_NS);
    if (rc < 0) {
      fprintf(stderr, "topo_role w%u: recv at step %" PRIu64 ": %s: %s\n", me, expect, myelon_err_name(rc),
              dmp_last_error());
      return 11;
    }
    if (m.kind == TOPO_KIND_STOP)
      return 0;
    if (m.step != expect) {
      fprintf(stderr, "topo_role w%u: step %" PRIu64 " arrived, expected %" PRIu64 "\n", me, m.step, expect);
      return 12;
    }
    int bad = topo_check_request(m.data, m.len, m.step, p->payload);
    if (bad) {
      fprintf(stderr, "topo_role w%u: step %" PRIu64 ": bad body (check %d, %zu bytes)\n", me, m.step, bad, m.len);
      return 13;
    }
    uint64_t sum = topo_payload_sum((const uint8_t *)m.data + TOPO_REQ_HEAD, p->payload);
    myelon_worker_release(w);
    if (die_at >= 0 && m.step == (uint64_t)die_at)
      raise(SIGKILL);
    if (p->no_responses)
      continue;
    uint8_t answer[TOPO_ANSWER_LEN];
    topo_fill_answer(answer, m.step, me, sum);
    if (die_mid >= 0 && m.step == (uint64_t)die_mid) {
      void *body;
      if (myelon_worker_claim(w, sizeof answer, &body, WAIT_NS) == 0) {
        memcpy(body, answer, sizeof answer / 2); /* half-written */
        raise(SIGKILL);
      }
      fprintf(stderr, "topo_role w%u: claim: %s\n", me, dmp_last_error());
      return 14;
    }
    if ((rc = myelon_worker_respond(w, m.step, answer, sizeof answer, TOPO_KIND_STEP, WAIT_NS)) < 0) {
      fprintf(stderr, "topo_role w%u: respond: %s: %s\n", me, myelon_err_name(rc), dmp_last_error());
      return 14;
    }
    if (die_after >= 0 && m.step == (uint64_t)die_after)
      raise(SIGKILL);
  }
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
  struct topo_params p;
  uint32_t index = 0;
  int64_t die_at = -1;
  parse(argc, argv, &p, &index, &die_at);
  struct myelon_topology_config cfg;
  struct myelon_worker *w = NULL;
  int rc = topo_config(&p, &cfg);
  if (rc == 0)
    rc = myelon_worker_attach_timeout(&cfg, index, WAIT_NS, &w);
  if (rc < 0) {
    fprintf(stderr, "topo_role w%u: attach: %s: %s\n", index, myelon_err_name(rc), dmp_last_error());
    return 10;
  }
  int status = serve(w, &p, die_at);
  myelon_worker_close(w);
  return status;
}
