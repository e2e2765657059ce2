/**
 * @file subj_typed.c
 * @brief libmyelon's Layers 2 and 3 (typed.h) as subjects: a small C struct
 * published with the msgpack codec (msgpack_codec.h), received either as an
 * owned decoded value (Layer 2) or as a zero-copy msgpack view validated in
 * place (Layer 3, view.h). Both ends use the same wire bytes, so the two
 * differ only in what the receiver does.
 *
 *   msgpack-shm, msgpack-mmap   myelon_typed_producer_publish() / myelon_typed_consumer_recv():
 *                               owned decode (validate, parse, allocate the
 *                               value and its body, copy), then
 *                               myelon_codec_free()
 *   view-shm, view-mmap         myelon_typed_producer_publish() / myelon_typed_consumer_recv_view()
 *                               with the field view codec
 *                               (myelon_mp_fields_codec_init): validate in
 *                               place and pick the three fields in one pass,
 *                               myelon_typed_consumer_release()
 *   view-lazy-shm               the same with the lazy view codec: validate,
 *                               then one myelon_mp_item_get_keys() scan (the
 *                               view subject before the field view; opt-in)
 *   view-tree-shm               the same with the tree view codec: parse into
 *                               a 16-node arena, fields by myelon_mp_map_get
 *                               (opt-in)
 *
 * The message type, struct bench_rec, is {seq, stamp, body}; its wire form
 * is a msgpack map, written by a pack callback with fixed-width integers so
 * that its length does not depend on the values:
 *
 *   {"seq": u64, "ts": u64, "body": bin}   31 bytes + bin header (2, 3 or 5) + body
 *
 * "Payload size" for these subjects is the ENCODED message: the body is
 * sized so that the msgpack bytes the ring carries per message are exactly
 * the case's size (64 B = 31 B of map, keys and numbers + a 2-byte bin
 * header + 31 bytes of body). The smallest message is 33 bytes, so typed
 * subjects skip the 8 B rung. Harness convention: seq carries payload
 * word 0 (the message number), stamp word 1 (the send tick), and the body
 * is the harness payload from byte 16 on; the receiver writes all three
 * back into its buffer (a view still reads every byte it delivers).
 *
 * Frames: compact, frame capacity = the encoded size, so every message is
 * one frame encoded straight into the ring slot (myelon_producer_claim/commit inside
 * myelon_typed_producer_publish) and viewed in place from the slot.
 */
#include "bench.h"
#include "subj_rings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <myelon/error.h>
#include <myelon/msgpack_codec.h>
#include <myelon/typed.h>
#include <myelon/view.h>

#define REC_FIXED 31u   /* fixmap + "seq" + u64 + "ts" + u64 + "body" */
#define REC_MIN 33u     /* REC_FIXED + a bin8 header, empty body */
#define VIEW_NODES 16u  /* the map takes 7 nodes */
#define TB_BATCH 64u    /* messages per batched call (as framed-shm-batch) */

/** The typed message. Sender: `body` points into the harness payload;
 * owned decode: into `heap`, which the value owns. */
struct bench_rec {
  uint64_t seq;
  uint64_t stamp;
  const uint8_t *body;
  size_t body_len;
  uint8_t *heap;
};

/* Body length that makes the encoded record exactly `size` bytes, or
 * SIZE_MAX when no body length does (msgpack-c picks the smallest bin
 * header, so a few sizes near 2^8 and 2^16 cannot be hit exactly). */
static size_t body_len_for(uint64_t size)
{
  static const unsigned hdr[] = {2, 3, 5};
  for (unsigned i = 0; i < 3; i++) {
    if (size < REC_FIXED + hdr[i])
      continue;
    uint64_t b = size - REC_FIXED - hdr[i];
    unsigned picked = b < 256 ? 2 : b < 65536 ? 3 : 5;
    if (picked == hdr[i])
      return (size_t)b;
  }
  return SIZE_MAX;
}

static int rec_pack(msgpack_packer *pk, const void *value, void *user)
{
  (void)user;
  const struct bench_rec *r = value;
  /* Fixed-width integers: the encoded length is the same for every value. */
  if (msgpack_pack_map(pk, 3) || msgpack_pack_str_with_body(pk, "seq", 3) || msgpack_pack_fix_uint64(pk, r->seq) ||
      msgpack_pack_str_with_body(pk, "ts", 2) || msgpack_pack_fix_uint64(pk, r->stamp) ||
      msgpack_pack_str_with_body(pk, "body", 4) || msgpack_pack_bin_with_body(pk, r->body, r->body_len))
    return -ENOSPC; /* the codec sees its bounded writer refuse */
  return 0;
}

/* The three fields of a record tree (owned decode and view alike). */
static int rec_fields(const msgpack_object *root, uint64_t *seq, uint64_t *stamp, const uint8_t **body, size_t *n)
{
  const msgpack_object *s = myelon_mp_map_get(root, "seq"), *t = myelon_mp_map_get(root, "ts"),
                       *b = myelon_mp_map_get(root, "body");
  if (!s || !t || !b || s->type != MSGPACK_OBJECT_POSITIVE_INTEGER || t->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      b->type != MSGPACK_OBJECT_BIN)
    return myelon_codec_fail("bench_rec", MYELON_CODEC_DECODE, "not a bench record");
  *seq = s->via.u64;
  *stamp = t->via.u64;
  *body = (const uint8_t *)b->via.bin.ptr;
  *n = b->via.bin.size;
  return 0;
}

/* The three fields of a field view (found during access). */
static int rec_fields_view(const struct myelon_mp_fields_view *v, uint64_t *seq, uint64_t *stamp,
                           const uint8_t **body, size_t *n)
{
  const struct myelon_mp_item *s = myelon_mp_fields_get(v, 0), *t = myelon_mp_fields_get(v, 1),
                              *b = myelon_mp_fields_get(v, 2);
  if (!s || !t || !b || s->obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      t->obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER || b->obj.type != MSGPACK_OBJECT_BIN)
    return myelon_codec_fail("bench_rec", MYELON_CODEC_DECODE, "not a bench record");
  *seq = s->obj.via.u64;
  *stamp = t->obj.via.u64;
  *body = (const uint8_t *)b->obj.via.bin.ptr;
  *n = b->obj.via.bin.size;
  return 0;
}

/* The three fields from a lazy view (no tree): one scan of the map. */
static int rec_fields_lazy(const struct myelon_mp_item *root, const struct myelon_mp_keys *keys, uint64_t *seq, uint64_t *stamp, const uint8_t **body,
                           size_t *n)
{
  struct myelon_mp_item f[3];
  if (myelon_mp_item_get_keys(root, keys, f) != 7 || f[0].obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      f[1].obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[2].obj.type != MSGPACK_OBJECT_BIN)
    return myelon_codec_fail("bench_rec", MYELON_CODEC_DECODE, "not a bench record");
  *seq = f[0].obj.via.u64;
  *stamp = f[1].obj.via.u64;
  *body = (const uint8_t *)f[2].obj.via.bin.ptr;
  *n = f[2].obj.via.bin.size;
  return 0;
}

static int rec_unpack(const msgpack_object *obj, void *value, void *user)
{
  (void)user;
  struct bench_rec *r = value;
  const uint8_t *body = NULL;
  int rc = rec_fields(obj, &r->seq, &r->stamp, &body, &r->body_len);
  if (rc < 0)
    return rc;
  /* An owned value owns its bytes: the body is copied out of the message. */
  r->heap = malloc(r->body_len ? r->body_len : 1);
  if (!r->heap)
    return -ENOMEM;
  memcpy(r->heap, body, r->body_len);
  r->body = r->heap;
  return 0;
}

static void rec_release(void *value, void *user)
{
  (void)user;
  free(((struct bench_rec *)value)->heap);
}

/* The same bytes as rec_pack, with the direct writer (no write callback
 * per piece): what the subjects publish with. */
static int rec_write(struct myelon_mp_writer *w, const void *value, void *user)
{
  (void)user;
  const struct bench_rec *r = value;
  myelon_mp_put_map(w, 3);
  myelon_mp_put_str(w, "seq", 3);
  myelon_mp_put_fix_uint64(w, r->seq);
  myelon_mp_put_str(w, "ts", 2);
  myelon_mp_put_fix_uint64(w, r->stamp);
  myelon_mp_put_str(w, "body", 4);
  return myelon_mp_put_bin(w, r->body, (uint32_t)r->body_len); /* a full writer fails every later put */
}

static const struct myelon_mp_wtype rec_wtype = {
    {"bench_rec", sizeof(struct bench_rec), NULL, rec_pack, rec_unpack, rec_release, 0, 0, NULL},
    rec_write,
};

struct variant {
  enum dmp_backend backend;
  bool view;
  bool tree;  /* the tree view (node arena) instead of the field view */
  bool batch; /* batched calls (myelon_typed_producer_publish_batch, _recv_batch / _recv_view_batch) */
  bool lazy;  /* the lazy view + get_keys instead of the field view */
};

static const struct variant v_mp_shm = {DMP_BACKEND_SHM, false, false, false, false};
static const struct variant v_mp_mmap = {DMP_BACKEND_MMAP, false, false, false, false};
static const struct variant v_view_shm = {DMP_BACKEND_SHM, true, false, false, false};
static const struct variant v_view_mmap = {DMP_BACKEND_MMAP, true, false, false, false};
static const struct variant v_tree_shm = {DMP_BACKEND_SHM, true, true, false, false};
static const struct variant v_lazy_shm = {DMP_BACKEND_SHM, true, false, false, true};
static const struct variant v_mpb_shm = {DMP_BACKEND_SHM, false, false, true, false};
static const struct variant v_viewb_shm = {DMP_BACKEND_SHM, true, false, true, false};

struct typed_end {
  struct myelon_codec codec;
  struct myelon_typed_producer *p;
  struct myelon_typed_consumer *c;
  bool view;
  bool tree;
  bool lazy;
  size_t body_len;
  struct myelon_view_codec vc;
  struct myelon_mp_keys keys; /* the field names (field view, lazy view) */
  struct myelon_mp_arena arena;
  msgpack_object nodes[VIEW_NODES];
  /* Batched variants. Sender: records staged (bodies copied: the harness
   * reuses its buffer) until `batch` are in or the harness flushes.
   * Receiver: the current batch, handed out one message per call. */
  size_t batch; /* TB_BATCH on streams, else 1; 0: not a batched variant */
  size_t n, next;
  struct bench_rec recs[TB_BATCH];
  const void *ptrs[TB_BATCH];
  uint8_t *stage;
  struct myelon_typed_msg msgs[TB_BATCH];
  struct myelon_mp_fields_view views[TB_BATCH];
};

static enum dmp_wait_kind wait_kind(enum bench_wait w)
{
  switch (w) {
  case BENCH_WAIT_YIELD:
    return DMP_WAIT_YIELD;
  case BENCH_WAIT_BLOCK:
    return DMP_WAIT_BLOCK;
  case BENCH_WAIT_SPIN:
  case BENCH_WAIT_COUNT:
    break;
  }
  return DMP_WAIT_SPIN;
}

static int fail(const char *what, int rc)
{
  bench_log("%s: %s (%s)", what, myelon_strerror(rc), dmp_last_error());
  return rc;
}

static struct typed_end *end_new(const struct bench_case *c, const struct variant *v)
{
  size_t body = body_len_for(c->size);
  if (body == SIZE_MAX || c->size > UINT32_MAX / 2) {
    bench_log("no bench_rec encodes to exactly %llu bytes", (unsigned long long)c->size);
    return NULL;
  }
  struct typed_end *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  e->view = v->view;
  e->tree = v->tree;
  e->lazy = v->lazy;
  e->body_len = body;
  if (myelon_msgpack_codec_init_writer(&e->codec, &rec_wtype) < 0) {
    free(e->stage);
    free(e);
    return NULL;
  }
  if (v->batch) {
    bool streaming = c->workload == BENCH_WL_STREAM || c->workload == BENCH_WL_BROADCAST ||
                     c->workload == BENCH_WL_AB_STREAM;
    e->batch = streaming ? TB_BATCH : 1;
    e->stage = malloc(e->batch * (body ? body : 1));
    if (!e->stage) {
      free(e);
      return NULL;
    }
    for (size_t i = 0; i < e->batch; i++) {
      e->recs[i] = (struct bench_rec){.body = e->stage + i * body, .body_len = body};
      e->ptrs[i] = &e->recs[i];
    }
  }
  myelon_mp_arena_init(&e->arena, e->nodes, VIEW_NODES, 0);
  static const char *const names[3] = {"seq", "ts", "body"};
  myelon_mp_keys_init(&e->keys, names, 3);
  if (v->tree)
    myelon_mp_view_codec_init(&e->vc, &e->arena);
  else if (v->lazy)
    myelon_mp_lazy_codec_init(&e->vc, 0);
  else
    myelon_mp_fields_codec_init(&e->vc, &e->keys); /* e->keys lives as long as the codec */
  return e;
}

static void end_free(struct typed_end *e)
{
  if (!e)
    return;
  /* Owned values of a batch the harness did not take (a failed run). */
  for (size_t i = e->next; !e->view && i < e->n; i++)
    if (e->msgs[i].value)
      myelon_codec_free(&e->codec, e->msgs[i].value);
  free(e->stage);
  free(e);
}

static int tx_open(const struct bench_chan *ch, const struct variant *v, void **tx)
{
  char name[BENCH_PATH_MAX + 32];
  subj_ring_name(ch->c, ch->dir, v->backend, name, sizeof name);
  struct typed_end *e = end_new(ch->c, v);
  if (!e)
    return -EINVAL;
  struct myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.backend = v->backend;
  cfg.ring.name = name;
  cfg.ring.capacity = ch->c->capacity;
  cfg.ring.max_consumers = BENCH_MAX_RX;
  cfg.ring.wait.kind = wait_kind(ch->c->wait);
  cfg.format = MYELON_FRAME_COMPACT;
  cfg.frame_capacity = (uint32_t)ch->c->size;
  cfg.max_message = ch->c->size;
  int rc = myelon_typed_producer_create(&cfg, &e->codec, &e->p);
  if (rc < 0) {
    end_free(e);
    return fail("myelon_typed_producer_create", rc);
  }
  *tx = e;
  return 0;
}

static int rx_open(const struct bench_chan *ch, const struct variant *v, unsigned idx, void **rx)
{
  char name[BENCH_PATH_MAX + 32], id[8];
  subj_ring_name(ch->c, ch->dir, v->backend, name, sizeof name);
  snprintf(id, sizeof id, "c%u", idx);
  struct typed_end *e = end_new(ch->c, v);
  if (!e)
    return -EINVAL;
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.backend = v->backend;
  cfg.ring.name = name;
  cfg.ring.id = id;
  cfg.ring.wait.kind = wait_kind(ch->c->wait);
  cfg.format = MYELON_FRAME_COMPACT;
  cfg.frame_capacity = (uint32_t)ch->c->size;
  cfg.max_message = ch->c->size;
  /* A view consumer needs no owned-decode codec. */
  int rc = myelon_typed_consumer_attach_timeout(&cfg, v->view ? NULL : &e->codec, BENCH_STEP_TIMEOUT_NS, &e->c);
  if (rc < 0) {
    end_free(e);
    return fail("myelon_typed_consumer_attach_timeout", rc);
  }
  *rx = e;
  return 0;
}

static int typed_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  struct typed_end *e = tx;
  int rc = dmp_producer_wait_for_consumers(myelon_producer_ring(myelon_typed_producer_framed(e->p)), n, timeout_ns);
  return rc < 0 ? fail("dmp_producer_wait_for_consumers", rc) : 0;
}

static int typed_send(void *tx, const void *buf, size_t len)
{
  struct typed_end *e = tx;
  (void)len;
  struct bench_rec r = {.body = (const uint8_t *)buf + 16, .body_len = e->body_len};
  memcpy(&r.seq, buf, 8);
  memcpy(&r.stamp, (const uint8_t *)buf + 8, 8);
  return myelon_typed_producer_publish(e->p, &r, 0, DMP_FOREVER);
}

/* Write a received record back into the harness buffer. */
static int deliver(const struct typed_end *e, void *buf, uint64_t seq, uint64_t stamp, const uint8_t *body,
                   size_t n)
{
  if (n != e->body_len) {
    bench_log("record body of %zu bytes, expected %zu", n, e->body_len);
    return -EPROTO;
  }
  memcpy(buf, &seq, 8);
  memcpy((uint8_t *)buf + 8, &stamp, 8);
  memcpy((uint8_t *)buf + 16, body, n);
  return 0;
}

static int typed_recv(void *rx, void *buf, size_t len)
{
  struct typed_end *e = rx;
  (void)len;
  if (!e->view) {
    void *v = NULL;
    int rc = myelon_typed_consumer_recv(e->c, &v, NULL, DMP_FOREVER);
    if (rc < 0)
      return fail("myelon_typed_consumer_recv", rc);
    const struct bench_rec *r = v;
    rc = deliver(e, buf, r->seq, r->stamp, r->body, r->body_len);
    myelon_codec_free(&e->codec, v);
    return rc;
  }
  uint64_t seq = 0, stamp = 0;
  const uint8_t *body = NULL;
  size_t n = 0;
  int rc;
  if (e->tree) {
    struct myelon_mp_view view;
    rc = myelon_typed_consumer_recv_view(e->c, &e->vc, &view, NULL, DMP_FOREVER);
    if (rc < 0)
      return fail("myelon_typed_consumer_recv_view", rc);
    const msgpack_object *root = myelon_mp_view_root(&view);
    rc = root ? rec_fields(root, &seq, &stamp, &body, &n) : -MYELON_E_VIEW;
  } else if (!e->lazy) {
    struct myelon_mp_fields_view view;
    rc = myelon_typed_consumer_recv_view(e->c, &e->vc, &view, NULL, DMP_FOREVER);
    if (rc < 0)
      return fail("myelon_typed_consumer_recv_view", rc);
    rc = rec_fields_view(&view, &seq, &stamp, &body, &n);
  } else {
    struct myelon_mp_lazy_view view;
    rc = myelon_typed_consumer_recv_view(e->c, &e->vc, &view, NULL, DMP_FOREVER);
    if (rc < 0)
      return fail("myelon_typed_consumer_recv_view", rc);
    const struct myelon_mp_item *root = myelon_mp_lazy_root(&view);
    rc = root ? rec_fields_lazy(root, &e->keys, &seq, &stamp, &body, &n) : -MYELON_E_VIEW;
  }
  if (rc == 0)
    rc = deliver(e, buf, seq, stamp, body, n);
  myelon_typed_consumer_release(e->c);
  return rc;
}

/* ---- batched variants (msgpack-shm-batch, view-shm-batch) ---- */

static int typed_flush(void *tx)
{
  struct typed_end *e = tx;
  if (e->n == 0)
    return 0;
  int rc = myelon_typed_producer_publish_batch(e->p, e->ptrs, e->n, 0, DMP_FOREVER, NULL);
  e->n = 0;
  return rc < 0 ? fail("myelon_typed_producer_publish_batch", rc) : 0;
}

static int typed_send_batch(void *tx, const void *buf, size_t len)
{
  struct typed_end *e = tx;
  (void)len;
  struct bench_rec *r = &e->recs[e->n];
  memcpy(&r->seq, buf, 8);
  memcpy(&r->stamp, (const uint8_t *)buf + 8, 8);
  memcpy((uint8_t *)r->body, (const uint8_t *)buf + 16, e->body_len); /* r->body points into e->stage */
  return ++e->n == e->batch ? typed_flush(e) : 0;
}

static int typed_recv_batch(void *rx, void *buf, size_t len)
{
  struct typed_end *e = rx;
  (void)len;
  if (e->next == e->n) { /* used up: the next batch call ends its lease */
    int n = e->view ? myelon_typed_consumer_recv_view_batch(e->c, &e->vc, e->views, sizeof e->views[0], e->msgs,
                                                            TB_BATCH, DMP_FOREVER)
                    : myelon_typed_consumer_recv_batch(e->c, e->msgs, TB_BATCH, DMP_FOREVER);
    if (n < 0)
      return fail(e->view ? "myelon_typed_consumer_recv_view_batch" : "myelon_typed_consumer_recv_batch", n);
    e->n = (size_t)n;
    e->next = 0;
  }
  struct myelon_typed_msg *m = &e->msgs[e->next++];
  if (m->status < 0)
    return fail("a message of the batch", m->status);
  uint64_t seq = 0, stamp = 0;
  const uint8_t *body = NULL;
  size_t n = 0;
  int rc;
  if (e->view) {
    rc = rec_fields_view(m->value, &seq, &stamp, &body, &n);
  } else {
    const struct bench_rec *r = m->value;
    seq = r->seq, stamp = r->stamp, body = r->body, n = r->body_len;
    rc = 0;
  }
  if (rc == 0)
    rc = deliver(e, buf, seq, stamp, body, n);
  if (!e->view) {
    myelon_codec_free(&e->codec, m->value);
    m->value = NULL;
  }
  return rc;
}

static void typed_tx_close(void *tx)
{
  struct typed_end *e = tx;
  if (e)
    myelon_typed_producer_close(e->p);
  end_free(e);
}

static void typed_rx_close(void *rx)
{
  struct typed_end *e = rx;
  if (e)
    myelon_typed_consumer_close(e->c);
  end_free(e);
}

#define TYPED_VARIANT(id, v)                                                                               \
  static int id##_tx_open(const struct bench_chan *ch, void **tx) { return tx_open(ch, &(v), tx); }        \
  static int id##_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)                           \
  {                                                                                                       \
    return rx_open(ch, &(v), idx, rx);                                                                    \
  }                                                                                                       \
  static void id##_cleanup(const struct bench_case *c) { subj_rings_gc(c, (v).backend); }

TYPED_VARIANT(mp_shm, v_mp_shm)
TYPED_VARIANT(mp_mmap, v_mp_mmap)
TYPED_VARIANT(view_shm, v_view_shm)
TYPED_VARIANT(view_mmap, v_view_mmap)
TYPED_VARIANT(tree_shm, v_tree_shm)
TYPED_VARIANT(lazy_shm, v_lazy_shm)
TYPED_VARIANT(mpb_shm, v_mpb_shm)
TYPED_VARIANT(viewb_shm, v_viewb_shm)

#define TYPED_SUBJECT(id, label, what, lay, extra_caps)                                                    \
  {                                                                                                       \
    .name = label, .transport = what, .family = BENCH_FAMILY_OURS, .layer = lay,                          \
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_WAIT | (extra_caps), .min_size = REC_MIN,                     \
    .tx_open = id##_tx_open, .tx_ready = typed_tx_ready, .send = typed_send, .tx_close = typed_tx_close, \
    .rx_open = id##_rx_open, .recv = typed_recv, .rx_close = typed_rx_close, .cleanup = id##_cleanup,     \
  }

const struct bench_subject bench_subj_msgpack_shm =
    TYPED_SUBJECT(mp_shm, "msgpack-shm", "Layer 2 msgpack, owned decode, POSIX shm ring", BENCH_LAYER_TYPED, 0);
const struct bench_subject bench_subj_msgpack_mmap = TYPED_SUBJECT(
    mp_mmap, "msgpack-mmap", "Layer 2 msgpack, owned decode, mmap file ring (in /tmp)", BENCH_LAYER_TYPED,
    BENCH_CAP_QUICK_SHORT);
const struct bench_subject bench_subj_view_shm =
    TYPED_SUBJECT(view_shm, "view-shm", "Layer 3 msgpack field view (in place, validate and pick fields in one pass), POSIX shm ring",
                  BENCH_LAYER_VIEW, 0);
const struct bench_subject bench_subj_view_mmap =
    TYPED_SUBJECT(view_mmap, "view-mmap", "Layer 3 msgpack field view (in place, one pass), mmap file ring (in /tmp)",
                  BENCH_LAYER_VIEW, BENCH_CAP_QUICK_SHORT);
const struct bench_subject bench_subj_view_lazy_shm =
    TYPED_SUBJECT(lazy_shm, "view-lazy-shm", "Layer 3 lazy msgpack view (validate, then get_keys), POSIX shm ring",
                  BENCH_LAYER_VIEW, BENCH_CAP_OPTIN);
const struct bench_subject bench_subj_view_tree_shm =
    TYPED_SUBJECT(tree_shm, "view-tree-shm", "Layer 3 msgpack tree view (node arena), POSIX shm ring",
                  BENCH_LAYER_VIEW, BENCH_CAP_OPTIN);

/* The batched calls (issue 20, typed stream): opt-in and paired cases; a
 * ping-pong sends batches of one. */
#define TYPED_BATCH_SUBJECT(id, label, what, lay)                                                          \
  {                                                                                                       \
    .name = label, .transport = what, .family = BENCH_FAMILY_OURS, .layer = lay,                          \
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_WAIT | BENCH_CAP_AB_ONLY, .min_size = REC_MIN,                \
    .tx_open = id##_tx_open, .tx_ready = typed_tx_ready, .send = typed_send_batch, .flush = typed_flush,  \
    .tx_close = typed_tx_close, .rx_open = id##_rx_open, .recv = typed_recv_batch,                        \
    .rx_close = typed_rx_close, .cleanup = id##_cleanup,                                                  \
  }

const struct bench_subject bench_subj_msgpack_shm_batch = TYPED_BATCH_SUBJECT(
    mpb_shm, "msgpack-shm-batch",
    "Layer 2 msgpack, owned decode, POSIX shm ring, batched publish/receive (64 messages per call)", BENCH_LAYER_TYPED);
const struct bench_subject bench_subj_view_shm_batch = TYPED_BATCH_SUBJECT(
    viewb_shm, "view-shm-batch",
    "Layer 3 msgpack field view, POSIX shm ring, batched publish/receive (64 messages per call)", BENCH_LAYER_VIEW);
