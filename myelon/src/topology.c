/* Fixed topology, common part and worker side (topology.h): the worker
 * count, configuration, the step envelope, publishing step messages
 * (bytes, typed values, zero-copy claims) and the worker's handle. The
 * scheduler lives in topology_scheduler.c. */
#include <myelon/codec.h>
#include <myelon/error.h>
#include <myelon/topology.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <disruptor_mp/error.h>
#include <disruptor_mp/inspect.h>
#include <disruptor_mp/layout.h> /* DMP_SEG_F_BYTES */

#include "topology_internal.h"


/* ---- worker count ------------------------------------------------------------ */

int myelon_workers_make(uint32_t n, struct myelon_workers *out)
{
  if (!out)
    return dmp_error_set(__func__, "out is NULL"), -EINVAL;
  if (n < MYELON_WORKERS_MIN || n > MYELON_WORKERS_MAX)
    return TOPO_FAIL(__func__, "worker count %u is not in %u..%u", n, MYELON_WORKERS_MIN, MYELON_WORKERS_MAX);
  out->n = n;
  return 0;
}

int myelon_workers_check_index(struct myelon_workers w, uint32_t index)
{
  if (w.n < MYELON_WORKERS_MIN || w.n > MYELON_WORKERS_MAX)
    return TOPO_FAIL(__func__, "worker count %u is not in %u..%u (use myelon_workers_make)", w.n,
                     MYELON_WORKERS_MIN, MYELON_WORKERS_MAX);
  if (index >= w.n)
    return TOPO_FAIL(__func__, "worker index %u is out of range for %u workers (0..%u)", index, w.n, w.n - 1);
  return 0;
}

int myelon_workers_id(struct myelon_workers w, uint32_t index, char *out, size_t outlen)
{
  if (!out)
    return dmp_error_set(__func__, "out is NULL"), -EINVAL;
  int rc = myelon_workers_check_index(w, index);
  if (rc < 0)
    return rc;
  int n = snprintf(out, outlen, "w%u", index);
  if (n < 0 || (size_t)n >= outlen)
    return dmp_error_set(__func__, "buffer of %zu bytes is too small", outlen), -ENOSPC;
  return n;
}

uint64_t myelon_workers_mask(struct myelon_workers w)
{
  if (w.n < MYELON_WORKERS_MIN || w.n > MYELON_WORKERS_MAX)
    return 0;
  return w.n == 64 ? UINT64_MAX : (UINT64_C(1) << w.n) - 1;
}

/* ---- small shared helpers ------------------------------------------------------ */

int64_t myelon_impl_deadline(int64_t timeout_ns)
{
  return timeout_ns < 0 ? DMP_FOREVER : myelon_impl_now_ns() + timeout_ns;
}

int64_t myelon_impl_left(int64_t deadline)
{
  if (deadline < 0)
    return DMP_FOREVER;
  int64_t left = deadline - myelon_impl_now_ns();
  return left > 0 ? left : 0;
}

void myelon_impl_format_mask(char *out, size_t outlen, uint64_t mask)
{
  uint32_t ranks[64];
  size_t n = 0;
  for (uint32_t i = 0; i < 64; i++)
    if (mask & (UINT64_C(1) << i))
      ranks[n++] = i;
  myelon_impl_format_ranks(out, outlen, ranks, n);
}

/* ---- configuration --------------------------------------------------------------- */

void myelon_topology_config_init(struct myelon_topology_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  myelon_layout_config_init(&cfg->layout);
  cfg->format = MYELON_FRAME_COMPACT;
  cfg->frame_capacity = MYELON_DEFAULT_FRAME_CAPACITY;
  cfg->max_message = MYELON_DEFAULT_MAX_MESSAGE;
  struct dmp_consumer_config dflt; /* the wait kind Layer 0 defaults to (DMP_WAIT, env.h) */
  dmp_consumer_config_init(&dflt);
  cfg->wait.kind = dflt.wait.kind;
}

int myelon_impl_topology_layout(const struct myelon_topology_config *cfg, struct myelon_layout *out, const char *fn)
{
  int rc = MYELON_RESERVED_CHECK(cfg, fn, "cfg.reserved");
  if (rc < 0 || (rc = MYELON_RESERVED_CHECK(&cfg->layout, fn, "cfg.layout.reserved")) < 0)
    return rc;
  if (cfg->workers.n < MYELON_WORKERS_MIN || cfg->workers.n > MYELON_WORKERS_MAX)
    return TOPO_FAIL(fn, "cfg.workers.n %u is not in %u..%u (use myelon_workers_make)", cfg->workers.n,
                     MYELON_WORKERS_MIN, MYELON_WORKERS_MAX);
  if (cfg->layout.workers != 0 && cfg->layout.workers != cfg->workers.n)
    return TOPO_FAIL(fn, "cfg.layout.workers %u differs from cfg.workers.n %u", cfg->layout.workers,
                     cfg->workers.n);
  if (cfg->reserved32 != 0)
    return dmp_error_set(fn, "cfg.reserved32 must be zero"), -DMP_E_BADCONFIG;
  if (cfg->responses != MYELON_RESPONSES_PER_WORKER && cfg->responses != MYELON_RESPONSES_ONE_RING)
    return TOPO_FAIL(fn, "cfg.responses %d is neither MYELON_RESPONSES_PER_WORKER nor MYELON_RESPONSES_ONE_RING",
                     (int)cfg->responses);
  if (cfg->responses == MYELON_RESPONSES_ONE_RING && cfg->no_responses)
    return TOPO_FAIL(fn, "cfg.responses MYELON_RESPONSES_ONE_RING and cfg.no_responses exclude each other");
  if (cfg->format == MYELON_FRAME_BYTES && cfg->responses == MYELON_RESPONSES_ONE_RING)
    /* Layer 1 takes many producers on a byte ring (framed.h); the
     * topology's one gather ring on one is untested, so refused. */
    return MYELON_FAIL(-MYELON_E_FORMAT, fn,
                       "cfg.responses MYELON_RESPONSES_ONE_RING with cfg.format MYELON_FRAME_BYTES: one gather "
                       "ring on byte rings is not supported in this version (use MYELON_RESPONSES_PER_WORKER)");
  if (cfg->format != MYELON_FRAME_BYTES && cfg->ring_bytes != 0)
    return TOPO_FAIL(fn, "cfg.ring_bytes %llu: only MYELON_FRAME_BYTES rings are sized in bytes (cfg.format %d)",
                     (unsigned long long)cfg->ring_bytes, (int)cfg->format);
  if (cfg->max_message <= MYELON_STEP_HEADER)
    return TOPO_FAIL(fn, "cfg.max_message %zu leaves no room for a body after the %u-byte step envelope",
                     cfg->max_message, MYELON_STEP_HEADER);
  struct myelon_layout_config lc = cfg->layout;
  lc.workers = cfg->workers.n;
  rc = myelon_layout_make(&lc, out);
  if (rc < 0) /* keep the layout's words, under our name and as our caller spells the fields */
    rc = myelon_impl_nest_fields(rc, fn, "layout");
  return rc;
}

/* ---- ring shapes ------------------------------------------------------------------------ */

static const char *format_name(enum myelon_frame_format f)
{
  switch (f) {
  case MYELON_FRAME_COMPACT:
    return "MYELON_FRAME_COMPACT";
  case MYELON_FRAME_ALIGNED:
    return "MYELON_FRAME_ALIGNED";
  case MYELON_FRAME_BYTES:
    return "MYELON_FRAME_BYTES";
  case MYELON_FRAME_AUTO:
    return "MYELON_FRAME_AUTO";
  }
  return "unknown";
}

bool myelon_impl_explain_shape(enum dmp_backend backend, const char *name, enum myelon_frame_format format,
                               const char *what, const char *fn)
{
  struct dmp_inspect *in = NULL;
  const struct dmp_ring_stat *st;
  if (dmp_inspect_open(backend, name, &in) < 0 || dmp_inspect_sample(in, &st) < 0) {
    dmp_inspect_close(in);
    return false; /* gone, or unreadable: the attach's own detail stays */
  }
  bool bytes = (st->flags & DMP_SEG_F_BYTES) != 0, want = format == MYELON_FRAME_BYTES;
  if (bytes && !want)
    dmp_error_set(fn, "%s '%s' is a byte ring (%llu bytes, MYELON_FRAME_BYTES) but cfg.format is %s: every process "
                  "of a topology must use the same cfg.format",
                  what, name, (unsigned long long)(st->capacity * st->slot_size), format_name(format)); /* blocks */
  else if (!bytes && want)
    dmp_error_set(fn, "%s '%s' is a slot ring (%llu slots of %u bytes) but cfg.format is MYELON_FRAME_BYTES: every "
                  "process of a topology must use the same cfg.format",
                  what, name, (unsigned long long)st->capacity, st->slot_size);
  dmp_inspect_close(in);
  return bytes != want;
}

/* ---- publishing step messages -------------------------------------------------------- */

static void out_config(struct myelon_producer_config *pc, const struct myelon_topology_config *cfg, const char *name)
{
  myelon_producer_config_init(pc);
  pc->ring.backend = cfg->layout.backend;
  pc->ring.name = name;
  pc->ring.wait = cfg->wait;
  pc->format = cfg->format;
  pc->frame_capacity = cfg->frame_capacity;
  pc->max_message = cfg->max_message;
  if (cfg->format == MYELON_FRAME_BYTES)
    pc->ring_bytes = cfg->ring_bytes; /* 0: the framed default */
}

/* What one message may take, once the producer exists: on a slot ring a
 * frame's payload (longer messages are cut into frames), on a byte ring
 * every message up to the ring's largest, in one record. */
static int out_ready(struct myelon_impl_out *o, const struct myelon_topology_config *cfg)
{
  o->max_message = cfg->max_message;
  if (cfg->format == MYELON_FRAME_BYTES) {
    size_t ring_max = myelon_producer_max_message(o->p); /* half the ring less the record's 32 bytes */
    if (ring_max < o->max_message)
      o->max_message = ring_max;
    if (o->max_message <= MYELON_STEP_HEADER) /* not with any ring Layer 0 creates (>= 2 blocks of 64) */
      return TOPO_FAIL(NULL, "ring '%s' takes messages of at most %zu bytes: no room for a body",
                       dmp_producer_name(myelon_producer_ring(o->p)), o->max_message);
    o->frame_room = o->max_message;
    o->bytes = true;
    return 0;
  }
  uint32_t slot, align;
  int rc = myelon_frame_slot(cfg->format, cfg->frame_capacity, &slot, &align);
  if (rc < 0)
    return rc;
  o->frame_room = slot - myelon_frame_header_size(cfg->format);
  return 0;
}

int myelon_impl_out_create(struct myelon_impl_out *o, const struct myelon_topology_config *cfg, const char *name,
                           uint64_t depth, uint32_t consumers, uint32_t max_producers)
{
  memset(o, 0, sizeof *o);
  struct myelon_producer_config pc;
  out_config(&pc, cfg, name);
  pc.ring.capacity = depth; /* not used on a byte ring: ring_bytes */
  pc.ring.max_consumers = consumers;
  if (max_producers) {
    pc.ring.flags |= DMP_RING_MULTI_PRODUCER;
    pc.ring.max_producers = max_producers;
  }
  int rc = myelon_producer_create(&pc, &o->p);
  if (rc < 0 || (rc = out_ready(o, cfg)) < 0) {
    myelon_impl_out_close(o);
    return rc;
  }
  return 0;
}

/* Between two attempts to join a gather ring that does not exist yet. */
#define ATTACH_RETRY_NS INT64_C(1000000) /* 1 ms */

int myelon_impl_out_attach(struct myelon_impl_out *o, const struct myelon_topology_config *cfg, const char *name,
                           bool wait, int64_t deadline)
{
  memset(o, 0, sizeof *o);
  struct myelon_producer_config pc;
  out_config(&pc, cfg, name);
  pc.ring.flags |= DMP_RING_MULTI_PRODUCER;
  int rc;
  for (;;) {
    rc = myelon_producer_attach(&pc, &o->p);
    if (rc == 0 && (rc = out_ready(o, cfg)) < 0)
      myelon_impl_out_close(o);
    /* Not there yet (or still being created): the scheduler makes it. */
    if (!wait || (rc != -ENOENT && rc != -DMP_E_NOTREADY))
      return rc;
    int64_t left = myelon_impl_left(deadline);
    if (left == 0)
      return rc == -ENOENT ? -ETIMEDOUT : rc;
    struct timespec ts = {0, left < 0 || left > ATTACH_RETRY_NS ? ATTACH_RETRY_NS : left};
    nanosleep(&ts, NULL);
  }
}

void myelon_impl_out_close(struct myelon_impl_out *o)
{
  myelon_producer_close(o->p);
  free(o->scratch);
  memset(o, 0, sizeof *o);
}

static int check_out(struct myelon_impl_out *o, size_t body, const char *fn)
{
  if (!o->p)
    return TOPO_FAIL(fn, "this topology has no response rings");
  if (o->claimed)
    return dmp_error_set(fn, "a zero-copy claim is open: commit it first"), -EINVAL;
  if (body > o->max_message - MYELON_STEP_HEADER)
    return dmp_error_set(fn, "body of %zu bytes exceeds max_message %zu minus the %u-byte envelope", body,
                         o->max_message, MYELON_STEP_HEADER),
           -MYELON_E_TOOBIG;
  return 0;
}

static int grow_scratch(struct myelon_impl_out *o, size_t need, const char *fn)
{
  if (o->scratch_cap >= need)
    return 0;
  size_t cap = o->scratch_cap ? o->scratch_cap : 4096;
  while (cap < need)
    cap = cap > o->max_message / 2 ? o->max_message : cap * 2;
  void *b = realloc(o->scratch, cap);
  if (!b)
    return dmp_error_set(fn, "out of memory for a %zu-byte message", need), -ENOMEM;
  o->scratch = b;
  o->scratch_cap = cap;
  return 0;
}

int myelon_impl_publish_bytes(struct myelon_impl_out *o, const struct myelon_step_header *h, const void *data,
                              size_t len, uint8_t kind, int64_t timeout_ns, const char *fn)
{
  int rc = check_out(o, len, fn);
  if (rc < 0)
    return rc;
  size_t total = MYELON_STEP_HEADER + len;
  if (total <= o->frame_room) {
    void *slot;
    if ((rc = myelon_producer_claim(o->p, total, &slot, timeout_ns)) < 0)
      return rc;
    memcpy(slot, h, MYELON_STEP_HEADER);
    if (len)
      memcpy((uint8_t *)slot + MYELON_STEP_HEADER, data, len);
    return myelon_producer_commit(o->p, total, kind);
  }
  if ((rc = grow_scratch(o, total, fn)) < 0)
    return rc;
  memcpy(o->scratch, h, MYELON_STEP_HEADER);
  memcpy((uint8_t *)o->scratch + MYELON_STEP_HEADER, data, len);
  return myelon_producer_publish(o->p, o->scratch, total, kind, timeout_ns);
}

/* Encode into the scratch buffer behind the envelope, growing it on -ENOSPC. */
static int encode_scratch(struct myelon_impl_out *o, const struct myelon_codec *codec, const void *value,
                          size_t hint, size_t *len, const char *fn)
{
  size_t want = MYELON_STEP_HEADER + (hint ? hint : 256);
  for (;;) {
    int rc = grow_scratch(o, want < o->max_message ? want : o->max_message, fn);
    if (rc < 0)
      return rc;
    rc = myelon_codec_encode(codec, value, (uint8_t *)o->scratch + MYELON_STEP_HEADER,
                             o->scratch_cap - MYELON_STEP_HEADER, len);
    if (rc != -ENOSPC)
      return rc;
    if (o->scratch_cap >= o->max_message)
      return dmp_error_set(fn, "encoded value exceeds max_message %zu", o->max_message), -MYELON_E_TOOBIG;
    want = o->scratch_cap * 2;
  }
}

int myelon_impl_publish_value(struct myelon_impl_out *o, const struct myelon_step_header *h,
                              const struct myelon_codec *codec, const void *value, uint8_t kind, int64_t timeout_ns,
                              const char *fn)
{
  int rc = check_out(o, 0, fn);
  if (rc < 0)
    return rc;
  if (!codec)
    return dmp_error_set(fn, "codec is NULL"), -EINVAL;
  size_t size = 0, len = 0;
  bool sized = codec->size && (rc = myelon_codec_size(codec, value, &size)) == 0;
  if (codec->size && rc < 0)
    return rc; /* the value cannot be encoded: nothing claimed */
  if (sized && MYELON_STEP_HEADER + size <= o->frame_room) {
    /* A slot is a frame whatever the claim; a byte ring's record keeps the
     * room claimed (framed.h): claim what the codec said, not the ring's largest. */
    size_t room = o->bytes ? MYELON_STEP_HEADER + size : o->frame_room;
    void *slot;
    if ((rc = myelon_producer_claim(o->p, room, &slot, timeout_ns)) < 0)
      return rc;
    rc = myelon_codec_encode(codec, value, (uint8_t *)slot + MYELON_STEP_HEADER, room - MYELON_STEP_HEADER, &len);
    if (rc < 0) {
      /* The codec broke its size contract (or failed): drop the claim, so
       * receivers see nothing and the slot is reused by the next publish. */
      myelon_producer_abort(o->p);
      return rc == -ENOSPC ? (dmp_error_set(fn, "codec size and encode disagree"), -MYELON_E_CODEC) : rc;
    }
    memcpy(slot, h, MYELON_STEP_HEADER);
    return myelon_producer_commit(o->p, MYELON_STEP_HEADER + len, kind);
  }
  if ((rc = encode_scratch(o, codec, value, size, &len, fn)) < 0)
    return rc;
  if (len > o->max_message - MYELON_STEP_HEADER)
    return dmp_error_set(fn, "encoded value of %zu bytes exceeds max_message", len), -MYELON_E_TOOBIG;
  memcpy(o->scratch, h, MYELON_STEP_HEADER);
  return myelon_producer_publish(o->p, o->scratch, MYELON_STEP_HEADER + len, kind, timeout_ns);
}

int myelon_impl_claim(struct myelon_impl_out *o, size_t max_len, void **body, int64_t timeout_ns, const char *fn)
{
  if (!body)
    return dmp_error_set(fn, "body is NULL"), -EINVAL;
  int rc = check_out(o, max_len, fn);
  if (rc < 0)
    return rc;
  if (MYELON_STEP_HEADER + max_len > o->frame_room)
    return dmp_error_set(fn, "body of %zu bytes does not fit in one frame (at most %zu)", max_len,
                         o->frame_room - MYELON_STEP_HEADER),
           -EINVAL;
  void *slot;
  if ((rc = myelon_producer_claim(o->p, MYELON_STEP_HEADER + max_len, &slot, timeout_ns)) < 0)
    return rc;
  o->claimed = slot;
  o->claimed_max = max_len;
  *body = (uint8_t *)slot + MYELON_STEP_HEADER;
  return 0;
}

int myelon_impl_commit(struct myelon_impl_out *o, const struct myelon_step_header *h, size_t len, uint8_t kind,
                       const char *fn)
{
  if (!o->claimed || len > o->claimed_max)
    return dmp_error_set(fn, "no open claim, or %zu bytes above the claimed %zu", len, o->claimed_max), -EINVAL;
  memcpy(o->claimed, h, MYELON_STEP_HEADER);
  o->claimed = NULL;
  return myelon_producer_commit(o->p, MYELON_STEP_HEADER + len, kind);
}

int myelon_impl_abort(struct myelon_impl_out *o, const char *fn)
{
  if (!o->claimed)
    return dmp_error_set(fn, "no open claim"), -EINVAL;
  o->claimed = NULL;
  return myelon_producer_abort(o->p);
}

int myelon_impl_parse_step(const struct myelon_msg *m, uint32_t magic, struct myelon_step_msg *out)
{
  struct myelon_step_header h;
  if (m->len < MYELON_STEP_HEADER)
    return -MYELON_E_MALFORMED;
  memcpy(&h, m->data, sizeof h); /* the envelope may be only 4-byte aligned */
  if (h.magic != magic)
    return -MYELON_E_MALFORMED;
  out->step = h.step;
  out->worker = h.worker;
  out->kind = m->kind;
  out->data = (const uint8_t *)m->data + MYELON_STEP_HEADER;
  out->len = m->len - MYELON_STEP_HEADER;
  out->zero_copy = m->zero_copy;
  return 0;
}

/* ---- worker ------------------------------------------------------------------------------ */

struct myelon_worker {
  struct myelon_consumer *req;
  struct myelon_impl_out out; /* out.p NULL without response rings */
  uint32_t index;
  enum dmp_backend backend;
  bool one_ring;              /* out.p is a producer entry on the gather ring */
  char gather[MYELON_LAYOUT_PATH_MAX]; /* one ring: its name, for the last one out */
};

static int worker_responses(struct myelon_worker *w, const struct myelon_topology_config *cfg,
                            const struct myelon_layout *l, bool wait, int64_t deadline, const char *fn)
{
  char name[MYELON_LAYOUT_PATH_MAX];
  int rc;
  if (w->one_ring) {
    /* The scheduler created the gather ring; we are one more producer. */
    if ((rc = myelon_layout_gather_name(l, w->gather, sizeof w->gather)) < 0)
      return rc;
    /* A scheduler on byte rings has no gather ring: if its request ring
     * is there, say so rather than wait for a ring that never comes. */
    if ((rc = myelon_layout_request_name(l, name, sizeof name)) < 0)
      return rc;
    if (myelon_impl_explain_shape(l->backend, name, cfg->format, "request ring", fn))
      return -MYELON_E_FORMAT;
    rc = myelon_impl_out_attach(&w->out, cfg, w->gather, wait, deadline);
    if ((rc == -ETIMEDOUT || rc == -ENOENT) && myelon_impl_explain_shape(l->backend, name, cfg->format,
                                                                         "request ring", fn))
      return -MYELON_E_FORMAT; /* it appeared while we waited */
    if (rc == -ETIMEDOUT)
      dmp_error_set(fn, "worker w%u: no gather ring '%s' (the scheduler creates it) before the timeout", w->index,
                    w->gather);
    else if (rc < 0)
      dmp_error_set(fn, "worker w%u: cannot join the gather ring '%s': %s", w->index, w->gather, dmp_last_error());
    return rc;
  }
  if ((rc = myelon_layout_response_name(l, w->index, name, sizeof name)) < 0)
    return rc;
  /* One consumer: the scheduler ("s"); a restarted scheduler takes over its entry. */
  rc = myelon_impl_out_create(&w->out, cfg, name, l->response_depth, 1, 0);
  if (rc == -DMP_E_INUSE)
    dmp_error_set(fn, "worker w%u is already running: its response ring '%s' has a live producer", w->index, name);
  return rc;
}

/* Close the response side; on the one-ring shape remove the gather ring if
 * we were its last live producer (the scheduler is gone: nobody else will). */
static void worker_close_out(struct myelon_worker *w)
{
  bool joined = w->one_ring && w->out.p;
  myelon_impl_out_close(&w->out);
  if (joined)
    (void)dmp_ring_gc(w->backend, w->gather); /* never removes a ring with a live producer */
}

/* `wait`: retry until the scheduler has created the request ring (bounded
 * by `timeout_ns`); otherwise one attempt, as myelon_consumer_attach(). */
static int worker_requests(struct myelon_worker *w, const struct myelon_topology_config *cfg,
                           const struct myelon_layout *l, bool wait, int64_t timeout_ns, const char *fn)
{
  char name[MYELON_LAYOUT_PATH_MAX], id[MYELON_LAYOUT_ID_MAX];
  int rc = myelon_layout_request_name(l, name, sizeof name);
  if (rc < 0 || (rc = myelon_layout_worker_id(l, w->index, id, sizeof id)) < 0)
    return rc;
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.backend = l->backend;
  cc.ring.name = name;
  cc.ring.id = id;
  cc.ring.start = DMP_START_LATEST; /* the scheduler broadcasts only after the rendezvous */
  cc.ring.wait = cfg->wait;
  cc.format = cfg->format;
  cc.frame_capacity = cfg->frame_capacity;
  cc.max_message = cfg->max_message;
  rc = wait ? myelon_consumer_attach_timeout(&cc, timeout_ns, &w->req) : myelon_consumer_attach(&cc, &w->req);
  if (rc == -DMP_E_IDINUSE)
    dmp_error_set(fn, "worker %s is already attached to '%s' by a live process", id, name);
  else if (rc == -MYELON_E_FORMAT)
    (void)myelon_impl_explain_shape(l->backend, name, cfg->format, "request ring", fn); /* names both shapes */
  return rc;
}

static int worker_attach(const struct myelon_topology_config *cfg, uint32_t index, bool wait, int64_t timeout_ns,
                         struct myelon_worker **out, const char *fn)
{
  if (out)
    *out = NULL;
  if (!cfg || !out)
    return dmp_error_set(fn, "cfg or out is NULL"), -EINVAL;
  struct myelon_layout l;
  int rc = myelon_impl_topology_layout(cfg, &l, fn);
  if (rc < 0 || (rc = myelon_workers_check_index(cfg->workers, index)) < 0)
    return rc;
  struct myelon_worker *w = calloc(1, sizeof *w);
  if (!w)
    return dmp_error_set(fn, "out of memory"), -ENOMEM;
  w->index = index;
  w->backend = l.backend;
  w->one_ring = cfg->responses == MYELON_RESPONSES_ONE_RING;
  int64_t deadline = myelon_impl_deadline(timeout_ns);
  /* Response ring first: once "w<i>" shows on the request ring, the
   * scheduler finds the response ring too. */
  if (!cfg->no_responses && (rc = worker_responses(w, cfg, &l, wait, deadline, fn)) < 0) {
    free(w);
    return rc;
  }
  if ((rc = worker_requests(w, cfg, &l, wait, wait ? myelon_impl_left(deadline) : timeout_ns, fn)) < 0) {
    worker_close_out(w);
    free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int myelon_worker_attach(const struct myelon_topology_config *cfg, uint32_t index, struct myelon_worker **out)
{
  return worker_attach(cfg, index, false, 0, out, __func__);
}

int myelon_worker_attach_timeout(const struct myelon_topology_config *cfg, uint32_t index, int64_t timeout_ns,
                                 struct myelon_worker **out)
{
  return worker_attach(cfg, index, true, timeout_ns, out, __func__);
}

void myelon_impl_close_consumer(struct myelon_consumer *c, enum dmp_backend backend)
{
  if (!c)
    return;
  struct dmp_consumer *ring = myelon_consumer_ring(c);
  char name[MYELON_LAYOUT_PATH_MAX];
  bool stale = !dmp_consumer_producer_alive(ring);
  snprintf(name, sizeof name, "%s", dmp_consumer_name(ring));
  myelon_consumer_close(c);
  if (stale)
    (void)dmp_ring_gc(backend, name); /* the producer crashed: nobody else removes it */
}

void myelon_worker_close(struct myelon_worker *w)
{
  if (!w)
    return;
  myelon_impl_close_consumer(w->req, w->backend);
  worker_close_out(w);
  free(w);
}

static int worker_take(struct myelon_worker *w, int rc, const struct myelon_msg *m, struct myelon_step_msg *out)
{
  if (rc < 0)
    return rc;
  if (myelon_impl_parse_step(m, MYELON_STEP_REQUEST, out) < 0) {
    myelon_consumer_release(w->req);
    return -MYELON_E_MALFORMED;
  }
  out->worker = w->index;
  return 0;
}

int myelon_worker_recv(struct myelon_worker *w, struct myelon_step_msg *m, int64_t timeout_ns)
{
  if (!w || !m)
    return -EINVAL;
  struct myelon_msg raw;
  return worker_take(w, myelon_consumer_recv(w->req, &raw, timeout_ns), &raw, m);
}

int myelon_worker_try_recv(struct myelon_worker *w, struct myelon_step_msg *m)
{
  if (!w || !m)
    return -EINVAL;
  struct myelon_msg raw;
  return worker_take(w, myelon_consumer_try_recv(w->req, &raw), &raw, m);
}

void myelon_worker_release(struct myelon_worker *w)
{
  if (w)
    myelon_consumer_release(w->req);
}

static struct myelon_step_header response_header(const struct myelon_worker *w, uint64_t step)
{
  struct myelon_step_header h = {.magic = MYELON_STEP_RESPONSE, .worker = w->index, .step = step};
  return h;
}

int myelon_worker_respond(struct myelon_worker *w, uint64_t step, const void *data, size_t len, uint8_t kind,
                          int64_t timeout_ns)
{
  if (!w || (!data && len))
    return dmp_error_set(__func__, "worker or data is NULL"), -EINVAL;
  struct myelon_step_header h = response_header(w, step);
  return myelon_impl_publish_bytes(&w->out, &h, data, len, kind, timeout_ns, __func__);
}

int myelon_worker_respond_value(struct myelon_worker *w, uint64_t step, const struct myelon_codec *codec,
                                const void *value, uint8_t kind, int64_t timeout_ns)
{
  if (!w)
    return dmp_error_set(__func__, "worker is NULL"), -EINVAL;
  struct myelon_step_header h = response_header(w, step);
  return myelon_impl_publish_value(&w->out, &h, codec, value, kind, timeout_ns, __func__);
}

int myelon_worker_claim(struct myelon_worker *w, size_t max_len, void **body, int64_t timeout_ns)
{
  if (!w)
    return dmp_error_set(__func__, "worker is NULL"), -EINVAL;
  return myelon_impl_claim(&w->out, max_len, body, timeout_ns, __func__);
}

int myelon_worker_commit(struct myelon_worker *w, uint64_t step, size_t len, uint8_t kind)
{
  if (!w)
    return dmp_error_set(__func__, "worker is NULL"), -EINVAL;
  struct myelon_step_header h = response_header(w, step);
  return myelon_impl_commit(&w->out, &h, len, kind, __func__);
}

int myelon_worker_abort(struct myelon_worker *w)
{
  if (!w)
    return dmp_error_set(__func__, "worker is NULL"), -EINVAL;
  return myelon_impl_abort(&w->out, __func__);
}

uint32_t myelon_worker_index(const struct myelon_worker *w)
{
  return w ? w->index : 0;
}

struct myelon_consumer *myelon_worker_requests(struct myelon_worker *w)
{
  return w ? w->req : NULL;
}

struct myelon_producer *myelon_worker_responses(struct myelon_worker *w)
{
  return w ? w->out.p : NULL;
}
