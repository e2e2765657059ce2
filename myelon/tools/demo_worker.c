/* myelon-demo, the worker process (`--role worker --index i`): receive
 * each step request, check its order, checksum its input, answer. Exits 0
 * after the scheduler's stop message, 1 on any failure (every wait is
 * bounded, and the process dies with the scheduler: PR_SET_PDEATHSIG). */
#define _GNU_SOURCE

#include "demo_common.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <myelon/msgpack_codec.h>
#include <myelon/view.h>

/* Longest pause between two requests before a worker gives up. */
#define IDLE_NS (60 * NS_PER_S)

struct worker {
  const struct opts *o;
  struct myelon_worker *w;
  struct myelon_codec req_codec, answer_codec;
  msgpack_object nodes[16];
  struct myelon_mp_arena arena;
  msgpack_unpacked unpacked;
};

static int fail(const struct worker *wk, const char *what, int rc)
{
  fprintf(stderr, "myelon-demo[w%u]: %s: %s%s%s\n", wk->o->index, what, myelon_strerror(rc),
          *dmp_last_error() ? ": " : "", dmp_last_error());
  return 1;
}

/* The request's step and input, read in place. */
static int parse_request(struct worker *wk, const struct myelon_step_msg *m, uint64_t *step, const uint8_t **input,
                         size_t *len)
{
  const msgpack_object *root;
  if (wk->o->layer == LAYER_TYPED) {
    struct myelon_mp_view view; /* Layer 3: validated, zero-copy */
    int rc = myelon_mp_view_access(m->data, m->len, &wk->arena, &view);
    if (rc < 0)
      return rc;
    root = myelon_mp_view_root(&view);
  } else {
    size_t off = 0; /* msgpack-c directly */
    if (msgpack_unpack_next(&wk->unpacked, m->data, m->len, &off) != MSGPACK_UNPACK_SUCCESS || off != m->len)
      return -MYELON_E_CODEC;
    root = &wk->unpacked.data;
  }
  const msgpack_object *s = myelon_mp_map_get(root, "step"), *in = myelon_mp_map_get(root, "input");
  if (!s || s->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !in || in->type != MSGPACK_OBJECT_BIN)
    return -MYELON_E_CODEC;
  *step = s->via.u64;
  *input = (const uint8_t *)in->via.bin.ptr;
  *len = in->via.bin.size;
  return 0;
}

static int answer(struct worker *wk, const struct demo_answer *a)
{
  int64_t t = wk->o->step_timeout_ns;
  if (wk->o->layer == LAYER_TYPED)
    return myelon_worker_respond_value(wk->w, a->step, &wk->answer_codec, a, KIND_STEP, t);
  char buf[64];
  struct fixbuf fb = {buf, 0, sizeof buf};
  msgpack_packer pk;
  msgpack_packer_init(&pk, &fb, fixbuf_write);
  pack_answer(&pk, a);
  return myelon_worker_respond(wk->w, a->step, buf, fb.len, KIND_STEP, t);
}

/* One request: 1 = stop, 0 = answered, < 0 = failed (reported). */
static int handle(struct worker *wk, const struct myelon_step_msg *m, uint64_t expect)
{
  if (m->kind == KIND_STOP)
    return 1;
  uint64_t step;
  const uint8_t *input;
  size_t len;
  int rc = parse_request(wk, m, &step, &input, &len);
  if (rc < 0)
    return fail(wk, "request does not decode", rc), rc;
  if (m->step != expect || step != expect || len != wk->o->payload) {
    fprintf(stderr, "myelon-demo[w%u]: expected step %" PRIu64 " of %u bytes, got envelope step %" PRIu64
            ", body step %" PRIu64 ", %zu bytes\n",
            wk->o->index, expect, wk->o->payload, m->step, step, len);
    return -EPROTO;
  }
  struct demo_answer a = {step, wk->o->index, payload_checksum(input, len)};
  myelon_worker_release(wk->w);
  if (wk->o->kill_at >= 0 && step == (uint64_t)wk->o->kill_at && wk->o->index == wk->o->workers - 1)
    raise(SIGKILL); /* fault injection for the tests: die mid-run */
  if ((rc = answer(wk, &a)) < 0)
    return fail(wk, "answer", rc), rc;
  return 0;
}

static int serve(struct worker *wk)
{
  for (uint64_t expect = 0;; expect++) {
    struct myelon_step_msg m;
    int rc = myelon_worker_recv(wk->w, &m, IDLE_NS);
    if (rc == -DMP_E_OWNERDEAD)
      return fail(wk, "the scheduler is gone", rc);
    if (rc < 0)
      return fail(wk, "receive", rc);
    rc = handle(wk, &m, expect);
    if (rc != 0) {
      myelon_worker_release(wk->w);
      return rc > 0 ? 0 : 1;
    }
  }
}

int run_worker(const struct opts *o)
{
  /* Ctrl-C reaches the whole process group: the scheduler handles it and
   * stops the workers itself, so a worker does not die of it. */
  signal(SIGINT, SIG_IGN);
  struct worker wk;
  memset(&wk, 0, sizeof wk);
  wk.o = o;
  myelon_mp_arena_init(&wk.arena, wk.nodes, sizeof wk.nodes / sizeof wk.nodes[0], 0);
  msgpack_unpacked_init(&wk.unpacked);
  struct myelon_topology_config cfg;
  int rc = topology_config(o, &cfg);
  if (rc == 0 && o->layer == LAYER_TYPED)
    rc = demo_codecs(&wk.req_codec, &wk.answer_codec);
  if (rc == 0)
    rc = myelon_worker_attach_timeout(&cfg, o->index, 15 * NS_PER_S, &wk.w);
  int status = rc < 0 ? fail(&wk, "attach", rc) : serve(&wk);
  myelon_worker_close(wk.w);
  msgpack_unpacked_destroy(&wk.unpacked);
  return status;
}
