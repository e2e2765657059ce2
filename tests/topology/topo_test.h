/* Topology tests: what the Criterion tests and the topo_role helper share -
 * the parameters every process builds the same topology from, the step
 * request/answer bodies and their checks, and forced cleanup.
 *
 * Request body (native endianness):   Answer body:
 *   0  8  step                          0  8  step
 *   8  8  ts_checksum(step)             8  8  ts_checksum(step) ^ (worker + 1)
 *   16 n  payload: byte i = step*31+i   16 8  checksum of the payload received
 */
#ifndef TOPO_TEST_H
#define TOPO_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <myelon/myelon.h>

#include "support.h"

#define TOPO_KIND_STEP 1
#define TOPO_KIND_STOP 2
#define TOPO_REQ_HEAD 16u
#define TOPO_ANSWER_LEN 24u

/* Everything a process needs to build the test's topology. */
struct topo_params {
  char label[96];
  enum dmp_backend backend;
  char dir[256];
  uint32_t workers;
  uint32_t request_depth;
  uint32_t payload;
  bool no_responses;
  uint32_t frame_capacity;
  bool one_ring; /* MYELON_RESPONSES_ONE_RING: every worker answers on the gather ring */
  char wait[8];  /* "block", "spin", "yield", "sleep"; "" = the library's default (DMP_WAIT) */
  uint64_t ring_bytes; /* nonzero: every ring a MYELON_FRAME_BYTES ring of this many bytes */
};

/* Built more than once: TOPO_ONE_RING=1 runs the same tests on the
 * one-ring shape, TOPO_BYTES=1 on byte rings (MYELON_FRAME_BYTES,
 * TOPO_RING_BYTES each; per-worker response rings: a byte ring has one
 * producer, so the one-ring shape is refused there). */
#ifndef TOPO_ONE_RING
#define TOPO_ONE_RING 0
#endif
#ifndef TOPO_BYTES
#define TOPO_BYTES 0
#endif
#if TOPO_ONE_RING && TOPO_BYTES
#error "the one-ring shape has no byte-ring form (not supported on byte rings in this version)"
#endif
/* 256 KiB: messages up to 128 KiB - 32 bytes, envelope included. */
#define TOPO_RING_BYTES (UINT64_C(1) << 18)

static inline void topo_params_init(struct topo_params *p, const char *tag, uint32_t workers)
{
  static unsigned counter;
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "topo-%s-%d-%u", tag, (int)getpid(), counter++);
  p->workers = workers;
  p->request_depth = MYELON_DEFAULT_REQUEST_DEPTH;
  p->payload = 64;
  p->frame_capacity = 1024;
  p->one_ring = TOPO_ONE_RING;
  p->ring_bytes = TOPO_BYTES ? TOPO_RING_BYTES : 0;
}

static inline int topo_config(const struct topo_params *p, struct myelon_topology_config *cfg)
{
  myelon_topology_config_init(cfg);
  cfg->layout.label = p->label;
  cfg->layout.backend = p->backend;
  cfg->layout.dir = p->dir;
  cfg->layout.request_depth = p->request_depth;
  cfg->no_responses = p->no_responses;
  cfg->frame_capacity = p->frame_capacity;
  cfg->max_message = 1u << 20;
  cfg->responses = p->one_ring && !p->no_responses ? MYELON_RESPONSES_ONE_RING : MYELON_RESPONSES_PER_WORKER;
  if (p->ring_bytes) {
    cfg->format = MYELON_FRAME_BYTES;
    cfg->ring_bytes = p->ring_bytes;
  }
  if (p->wait[0]) { /* every ring of this process, both sides (topology.h) */
    static const char *const kinds[] = {"block", "spin", "yield", "sleep"}; /* enum dmp_wait_kind order */
    int k = 0;
    while (k < 4 && strcmp(p->wait, kinds[k]) != 0)
      k++;
    if (k == 4)
      return -EINVAL;
    cfg->wait.kind = (enum dmp_wait_kind)k;
  }
  return myelon_workers_make(p->workers, &cfg->workers);
}

/* True if the scheduler's request ring has the shape `p` asks for (a byte
 * ring exactly when p->ring_bytes is set): the byte-ring builds really run
 * on byte rings. */
static inline bool topo_shape_ok(const struct topo_params *p, struct myelon_scheduler *s)
{
  struct dmp_producer *req = myelon_producer_ring(myelon_scheduler_requests(s));
  return (dmp_producer_bytes_max(req) > 0) == (p->ring_bytes != 0);
}

static inline uint64_t topo_payload_sum(const uint8_t *b, size_t n)
{
  uint64_t h = UINT64_C(1469598103934665603);
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * UINT64_C(1099511628211);
  return h;
}

static inline void topo_fill_request(uint8_t *body, uint64_t step, uint32_t payload)
{
  uint64_t head[2] = {step, ts_checksum((int64_t)step)};
  memcpy(body, head, sizeof head);
  for (uint32_t i = 0; i < payload; i++)
    body[TOPO_REQ_HEAD + i] = (uint8_t)(step * 31 + i);
}

/* 0 if the request body is step `step`'s with `payload` bytes, else which check failed. */
static inline int topo_check_request(const void *body, size_t len, uint64_t step, uint32_t payload)
{
  uint64_t head[2];
  if (len != TOPO_REQ_HEAD + payload)
    return 1;
  memcpy(head, body, sizeof head);
  if (head[0] != step)
    return 2;
  if (head[1] != ts_checksum((int64_t)step))
    return 3;
  const uint8_t *b = (const uint8_t *)body + TOPO_REQ_HEAD;
  for (uint32_t i = 0; i < payload; i++)
    if (b[i] != (uint8_t)(step * 31 + i))
      return 4;
  return 0;
}

static inline void topo_fill_answer(uint8_t *out, uint64_t step, uint32_t worker, uint64_t payload_sum)
{
  uint64_t a[3] = {step, ts_checksum((int64_t)step) ^ (worker + 1), payload_sum};
  memcpy(out, a, sizeof a);
}

/* Remove every name of the layout (and companions) even if a live handle
 * of this process still owns it: for .fini after a failed assertion. */
static inline void topo_force_unlink(const struct myelon_layout *l)
{
  char path[MYELON_LAYOUT_PATH_MAX], cnt[MYELON_LAYOUT_PATH_MAX + 8];
  for (uint32_t r = 0; r <= l->workers + 1; r++) {
    if ((r == l->workers + 1 ? myelon_layout_gather_name(l, path, sizeof path)
         : r == l->workers   ? myelon_layout_request_name(l, path, sizeof path)
                             : myelon_layout_response_name(l, r, path, sizeof path)) < 0)
      continue;
    snprintf(cnt, sizeof cnt, "%s.cnt", path);
    if (l->backend == DMP_BACKEND_SHM) {
      shm_unlink(path);
      shm_unlink(cnt);
    } else {
      unlink(path);
      unlink(cnt);
    }
  }
}

#endif /* TOPO_TEST_H */
