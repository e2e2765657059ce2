/* Typed consumer (typed.h): framed receive, then an owned decode or an
 * in-place view. A message that fails to decode or validate is consumed
 * and reported on its own; the stream goes on.
 *
 * Leases: `gen` counts receives and releases. Every receive starts by
 * ending the previous lease (the framed layer releases the previous
 * message), so gen moves on; a view remembers the gen it was made under
 * and is stale once they differ (view.h). */
#include <myelon/error.h>
#include <myelon/typed.h>

#include "internal.h"
#include "mp_internal.h"

#include <disruptor_mp/error.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

struct myelon_typed_consumer {
  struct myelon_consumer *fc;
  struct myelon_codec codec;
  bool has_codec;
  uint64_t gen;    /* lease generation; process-local, one thread */
  uint64_t errors; /* messages that failed to decode or validate */
};

/* `wait`: retry until the ring exists (myelon_consumer_attach_timeout()),
 * else one attempt (myelon_consumer_attach()). */
static int attach(const struct myelon_consumer_config *cfg, const struct myelon_codec *codec, bool wait,
                  int64_t timeout_ns, struct myelon_typed_consumer **out, const char *fn)
{
  if (out)
    *out = NULL;
  if (!cfg || !out || (codec && (!codec->decode || !codec->free)))
    return dmp_error_set(fn, "cfg or out is NULL, or the codec cannot decode"), -EINVAL;
  struct myelon_typed_consumer *c = calloc(1, sizeof *c);
  if (!c)
    return dmp_error_set(fn, "out of memory"), -ENOMEM;
  int rc = wait ? myelon_consumer_attach_timeout(cfg, timeout_ns, &c->fc) : myelon_consumer_attach(cfg, &c->fc);
  if (rc < 0) {
    free(c);
    return rc;
  }
  if (codec) {
    c->codec = *codec;
    c->has_codec = true;
  }
  c->gen = 1;
  *out = c;
  return 0;
}

int myelon_typed_consumer_attach(const struct myelon_consumer_config *cfg, const struct myelon_codec *codec,
                                 struct myelon_typed_consumer **out)
{
  return attach(cfg, codec, false, 0, out, __func__);
}

int myelon_typed_consumer_attach_timeout(const struct myelon_consumer_config *cfg, const struct myelon_codec *codec,
                                         int64_t timeout_ns, struct myelon_typed_consumer **out)
{
  return attach(cfg, codec, true, timeout_ns, out, __func__);
}

void myelon_typed_consumer_close(struct myelon_typed_consumer *c)
{
  if (!c)
    return;
  myelon_consumer_close(c->fc);
  free(c);
}

struct myelon_consumer *myelon_typed_consumer_framed(struct myelon_typed_consumer *c)
{
  return c ? c->fc : NULL;
}

uint64_t myelon_typed_consumer_decode_errors(const struct myelon_typed_consumer *c)
{
  return c ? c->errors : 0;
}

void myelon_typed_consumer_release(struct myelon_typed_consumer *c)
{
  if (!c)
    return;
  c->gen++;
  myelon_impl_consumer_release(c->fc);
}

/* The next framed message; ends the previous lease first. */
static int next(struct myelon_typed_consumer *c, struct myelon_msg *m, bool wait, int64_t timeout_ns)
{
  c->gen++;
  return myelon_impl_consumer_recv(c->fc, m, wait, timeout_ns);
}

/* Decode the received message and release it. */
static int decode(struct myelon_typed_consumer *c, const struct myelon_msg *m, void **value)
{
  int rc = myelon_codec_decode(&c->codec, m->data, m->len, value);
  myelon_typed_consumer_release(c);
  if (rc < 0)
    c->errors++;
  return rc;
}

static int recv_owned(struct myelon_typed_consumer *c, void **value, uint8_t *kind, bool wait, int64_t timeout_ns)
{
  if (!c || !value || !c->has_codec)
    return -EINVAL;
  *value = NULL;
  struct myelon_msg m;
  int rc = next(c, &m, wait, timeout_ns);
  if (rc == 0)
    rc = decode(c, &m, value);
  if (rc == 0 && kind)
    *kind = m.kind;
  return rc;
}

int myelon_typed_consumer_recv(struct myelon_typed_consumer *c, void **value, uint8_t *kind, int64_t timeout_ns)
{
  return recv_owned(c, value, kind, true, timeout_ns);
}

int myelon_typed_consumer_try_recv(struct myelon_typed_consumer *c, void **value, uint8_t *kind)
{
  return recv_owned(c, value, kind, false, 0);
}

/* Validate the received message in place; on failure it is released. */
static int access_view(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc,
                       const struct myelon_msg *m, void *view)
{
  struct myelon_lease lease = {.gen = &c->gen, .at = c->gen};
  int rc = vc->access(m->data, m->len, &lease, view, vc->user);
  if (rc < 0) {
    myelon_typed_consumer_release(c);
    c->errors++;
  }
  return rc;
}

static int recv_view(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc, void *view, uint8_t *kind,
                     bool wait, int64_t timeout_ns)
{
  if (!c || !vc || !vc->access || !view)
    return -EINVAL;
  struct myelon_msg m;
  int rc = next(c, &m, wait, timeout_ns);
  if (rc == 0)
    rc = access_view(c, vc, &m, view);
  if (rc == 0 && kind)
    *kind = m.kind;
  return rc;
}

int myelon_typed_consumer_recv_view(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc, void *view,
                                    uint8_t *kind, int64_t timeout_ns)
{
  return recv_view(c, vc, view, kind, true, timeout_ns);
}

int myelon_typed_consumer_try_recv_view(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc, void *view,
                                        uint8_t *kind)
{
  return recv_view(c, vc, view, kind, false, 0);
}

/* One message for a process callback: decoded (vc NULL) or viewed. */
static int deliver(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc, void *view,
                   struct myelon_typed_msg *tm)
{
  struct myelon_msg m;
  int rc = next(c, &m, false, 0);
  if (rc == -EAGAIN || rc == -EINVAL)
    return rc;
  *tm = (struct myelon_typed_msg){.status = rc, .kind = 0, .msg_id = 0, .len = 0, .value = NULL};
  if (rc < 0)
    return 0; /* a framing error: delivered with its status */
  if (vc) {
    tm->status = access_view(c, vc, &m, view);
    tm->value = tm->status == 0 ? view : NULL;
  } else {
    tm->status = decode(c, &m, &tm->value);
  }
  if (tm->status == 0) {
    tm->kind = m.kind;
    tm->msg_id = m.msg_id;
    tm->len = m.len;
  }
  return 0;
}

static int64_t process(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc, void *view,
                       myelon_typed_fn fn, size_t max, void *user)
{
  int64_t n = 0;
  while (max == 0 || (size_t)n < max) {
    struct myelon_typed_msg tm;
    if (deliver(c, vc, view, &tm) < 0)
      break;
    n++;
    int stop = fn(&tm, user);
    if (vc)
      myelon_typed_consumer_release(c);
    else if (tm.value)
      myelon_codec_free(&c->codec, tm.value);
    if (stop)
      break;
  }
  return n;
}

int64_t myelon_typed_consumer_process(struct myelon_typed_consumer *c, myelon_typed_fn fn, size_t max, void *user)
{
  if (!c || !fn || !c->has_codec)
    return -EINVAL;
  return process(c, NULL, NULL, fn, max, user);
}

int64_t myelon_typed_consumer_process_view(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc, void *view,
                                           myelon_typed_fn fn, size_t max, void *user)
{
  if (!c || !vc || !vc->access || !view || !fn)
    return -EINVAL;
  return process(c, vc, view, fn, max, user);
}

/* ---- batches --------------------------------------------------------- */

/* A batch of framed messages (at most MYELON_TYPED_BATCH_MAX), after
 * ending the previous lease; they stay leased until the next receive or
 * release, which hands their slots back with one cursor update. */
static int next_batch(struct myelon_typed_consumer *c, struct myelon_msg *fm, size_t max, int64_t timeout_ns)
{
  c->gen++;
  return myelon_consumer_recv_batch(c->fc, fm, max < MYELON_TYPED_BATCH_MAX ? max : MYELON_TYPED_BATCH_MAX,
                                    timeout_ns);
}

static void batch_entry(struct myelon_typed_msg *tm, const struct myelon_msg *m, int status, void *value)
{
  *tm = (struct myelon_typed_msg){.status = status, .kind = 0, .msg_id = 0, .len = 0, .value = NULL};
  if (status == 0)
    *tm = (struct myelon_typed_msg){.status = 0, .kind = m->kind, .msg_id = m->msg_id, .len = m->len, .value = value};
}

int myelon_typed_consumer_recv_batch(struct myelon_typed_consumer *c, struct myelon_typed_msg *msgs, size_t max,
                                     int64_t timeout_ns)
{
  if (!c || !msgs || max == 0 || !c->has_codec)
    return -EINVAL;
  struct myelon_msg fm[MYELON_TYPED_BATCH_MAX];
  int n = next_batch(c, fm, max, timeout_ns);
  for (int i = 0; i < n; i++) {
    void *v = NULL;
    int rc = myelon_codec_decode(&c->codec, fm[i].data, fm[i].len, &v);
    if (rc < 0)
      c->errors++;
    batch_entry(&msgs[i], &fm[i], rc < 0 ? rc : 0, v);
  }
  /* Owned values need no lease: hand the slots back now (one update). */
  if (n > 0)
    myelon_typed_consumer_release(c);
  return n;
}

int myelon_typed_consumer_recv_view_batch(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc,
                                          void *views, size_t view_size, struct myelon_typed_msg *msgs, size_t max,
                                          int64_t timeout_ns)
{
  if (!c || !vc || !vc->access || !views || view_size == 0 || !msgs || max == 0)
    return -EINVAL;
  if (myelon_impl_mp_view_is_tree(vc))
    return dmp_error_set(__func__, "the msgpack tree view codec reuses one node arena for every access: its views "
                                   "cannot live side by side in a batch (use myelon_mp_lazy_codec_init())"),
           -EINVAL;
  struct myelon_msg fm[MYELON_TYPED_BATCH_MAX];
  int n = next_batch(c, fm, max, timeout_ns);
  /* Every view of the batch is made under this lease: the next receive or
   * release moves gen on and makes them all stale together. */
  struct myelon_lease lease = {.gen = &c->gen, .at = c->gen};
  for (int i = 0; i < n; i++) {
    void *view = (uint8_t *)views + (size_t)i * view_size;
    int rc = vc->access(fm[i].data, fm[i].len, &lease, view, vc->user);
    if (rc < 0)
      c->errors++;
    batch_entry(&msgs[i], &fm[i], rc < 0 ? rc : 0, view);
  }
  return n;
}
