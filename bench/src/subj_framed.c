/**
 * @file subj_framed.c
 * @brief libmyelon's Layer 1 (framed.h) as subjects: one framed ring per
 * direction, frame capacity = payload size, so every message is one frame
 * (upstream's "nofrag", right-sized slots) and the consumer gets it
 * zero-copy from the slot.
 *
 *   framed-shm, framed-mmap                   MYELON_FRAME_COMPACT: 12-byte
 *                                             header, 4-aligned payload
 *   framed-shm-aligned, framed-mmap-aligned   MYELON_FRAME_ALIGNED: 16-byte
 *                                             header, 16-aligned payload
 *   framed-shm-frag                           opt-in: compact frames of at
 *                                             most 4 KiB, so larger messages
 *                                             are fragmented and reassembled
 *   framed-bytes                              paired cases only (the large-
 *                                             message targets): MYELON_FRAME_BYTES,
 *                                             a byte ring of 64-byte blocks
 *                                             sized as dmp-bytes's
 *                                             (subj_bytes.c: two records,
 *                                             at least min(capacity
 *                                             records, 1 MiB); the
 *                                             environment variable
 *                                             BENCH_BYTES_RING overrides
 *                                             it), one record per message,
 *                                             prefaulted on both ends as
 *                                             dmp-bytes's
 *   framed-shm-poll                           opt-in diagnostic: framed-shm,
 *                                             but the harness polls
 *                                             myelon_producer_try_publish() and
 *                                             myelon_consumer_try_recv()
 *                                             itself (no library wait path,
 *                                             no clock reads)
 *
 * The library as an application gets it: default ring flags (wake-ups and
 * counters on), send = myelon_producer_publish(DMP_FOREVER) (one memcpy into the
 * slot after the header; dmp_bytes_copy(), the byte ring's copy rule,
 * beyond 64 bytes), receive = myelon_consumer_recv_into(DMP_FOREVER) (the
 * same copy out, and the release), with the case's wait strategy.
 * Ring depth in frames: the case's capacity times the frames per message.
 * Receivers attach as "c0".."c7"; the producer waits for them first.
 */
#include "bench.h"
#include "subj_rings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <myelon/error.h>
#include <myelon/framed.h>

#define FRAG_FRAME 4096u /* frame capacity of the -frag variant */

struct variant {
  enum dmp_backend backend;
  enum myelon_frame_format format;
  bool frag;
  bool poll; /* the harness spins on the try_* calls itself */
};

static const struct variant v_shm = {DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, false, false};
static const struct variant v_mmap = {DMP_BACKEND_MMAP, MYELON_FRAME_COMPACT, false, false};
static const struct variant v_shm_al = {DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, false, false};
static const struct variant v_mmap_al = {DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED, false, false};
static const struct variant v_frag = {DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, true, false};
static const struct variant v_poll = {DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, false, true};
static const struct variant v_bytes = {DMP_BACKEND_SHM, MYELON_FRAME_BYTES, false, false};

#define BYTES_BLOCK 64u
#define BYTES_RING_CAP (UINT64_C(1) << 20)

/* framed-bytes's ring (file comment): as dmp-bytes's, with the frame
 * header in each record. Also framed-bytes-batch's (subj_framed_batch.c). */
uint64_t subj_framed_ring_bytes(const struct bench_case *c)
{
  const char *env = getenv("BENCH_BYTES_RING");
  if (env && *env)
    return strtoull(env, NULL, 10);
  uint64_t rec = (MYELON_BYTES_OVERHEAD + c->size + BYTES_BLOCK - 1) / BYTES_BLOCK * BYTES_BLOCK;
  uint64_t depth = c->capacity * rec < BYTES_RING_CAP ? c->capacity * rec : BYTES_RING_CAP;
  uint64_t want = 2 * rec > depth ? 2 * rec : depth, ring = 1;
  while (ring < want)
    ring <<= 1;
  return ring;
}

struct framed_end {
  struct myelon_producer *p;
  struct myelon_consumer *c;
  bool poll;
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

static uint32_t frame_capacity(const struct variant *v, uint64_t size)
{
  uint64_t cap = v->frag && size > FRAG_FRAME ? FRAG_FRAME : size;
  return cap < MYELON_FRAME_MIN_CAPACITY ? MYELON_FRAME_MIN_CAPACITY : (uint32_t)cap;
}

/* Ring depth in frames: the case's depth in messages times the frames of
 * one message, rounded up to a power of two. */
static uint64_t ring_frames(const struct variant *v, const struct bench_case *c)
{
  if (v->format == MYELON_FRAME_BYTES)
    return 0; /* not used: subj_framed_ring_bytes() */
  uint64_t per = myelon_frame_count(v->format, frame_capacity(v, c->size), c->size);
  uint64_t want = c->capacity * per, cap = 1;
  while (cap < want)
    cap <<= 1;
  return cap;
}

static int tx_open(const struct bench_chan *ch, const struct variant *v, void **tx)
{
  char name[BENCH_PATH_MAX + 32];
  subj_ring_name(ch->c, ch->dir, v->backend, name, sizeof name);
  struct myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.backend = v->backend;
  cfg.ring.name = name;
  cfg.ring.capacity = ring_frames(v, ch->c);
  cfg.ring.max_consumers = BENCH_MAX_RX;
  cfg.ring.wait.kind = wait_kind(ch->c->wait);
  cfg.format = v->format;
  cfg.frame_capacity = frame_capacity(v, ch->c->size);
  cfg.max_message = ch->c->size;
  if (v->format == MYELON_FRAME_BYTES) {
    cfg.ring_bytes = subj_framed_ring_bytes(ch->c);
    cfg.ring.slot_size = BYTES_BLOCK;
    cfg.ring.flags |= DMP_RING_PREFAULT; /* as dmp-bytes (subj_bytes.c) and the floor's MAP_POPULATE */
  }
  struct framed_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  e->poll = v->poll;
  int rc = myelon_producer_create(&cfg, &e->p);
  if (rc < 0) {
    free(e);
    return fail("myelon_producer_create", rc);
  }
  *tx = e;
  return 0;
}

static int rx_open(const struct bench_chan *ch, const struct variant *v, unsigned idx, void **rx)
{
  char name[BENCH_PATH_MAX + 32], id[8];
  subj_ring_name(ch->c, ch->dir, v->backend, name, sizeof name);
  snprintf(id, sizeof id, "c%u", idx);
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.backend = v->backend;
  cfg.ring.name = name;
  cfg.ring.id = id;
  cfg.ring.wait.kind = wait_kind(ch->c->wait);
  cfg.format = v->format;
  cfg.frame_capacity = frame_capacity(v, ch->c->size);
  cfg.max_message = ch->c->size;
  if (v->format == MYELON_FRAME_BYTES)
    cfg.ring.flags |= DMP_CONSUMER_PREFAULT; /* as dmp-bytes (subj_bytes.c) */
  struct framed_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  e->poll = v->poll;
  int rc = myelon_consumer_attach_timeout(&cfg, BENCH_STEP_TIMEOUT_NS, &e->c);
  if (rc < 0) {
    free(e);
    return fail("myelon_consumer_attach_timeout", rc);
  }
  *rx = e;
  return 0;
}

struct myelon_producer *subj_framed_producer(void *tx) { return ((struct framed_end *)tx)->p; }

static int framed_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  struct framed_end *e = tx;
  int rc = dmp_producer_wait_for_consumers(myelon_producer_ring(e->p), n, timeout_ns);
  return rc < 0 ? fail("dmp_producer_wait_for_consumers", rc) : 0;
}

static int framed_send(void *tx, const void *buf, size_t len)
{
  struct framed_end *e = tx;
  if (!e->poll)
    return myelon_producer_publish(e->p, buf, len, 0, DMP_FOREVER);
  int rc;
  while ((rc = myelon_producer_try_publish(e->p, buf, len, 0)) == -EAGAIN)
    ;
  return rc;
}

/* Received into the caller's buffer by the library (recv_into: its copy
 * rule, dmp_bytes_copy(), and the release in one call), as the floors copy
 * with bench_copy(). */
static int framed_recv(void *rx, void *buf, size_t len)
{
  struct framed_end *e = rx;
  struct myelon_msg m;
  int rc;
  if (e->poll)
    while ((rc = myelon_consumer_recv_into(e->c, buf, len, &m, 0)) == -EAGAIN)
      ;
  else
    rc = myelon_consumer_recv_into(e->c, buf, len, &m, DMP_FOREVER);
  if (rc < 0)
    return fail("myelon_consumer_recv_into", rc);
  if (rc == 1 || m.len != len) {
    bench_log("framed message of %zu bytes, expected %zu", m.len, len);
    if (rc == 1)
      myelon_consumer_release(e->c);
    return -EPROTO;
  }
  return 0;
}

static void framed_tx_close(void *tx)
{
  struct framed_end *e = tx;
  if (e)
    myelon_producer_close(e->p);
  free(e);
}

static void framed_rx_close(void *rx)
{
  struct framed_end *e = rx;
  if (e)
    myelon_consumer_close(e->c);
  free(e);
}

/* One set of entry points per variant (the seam carries no user pointer). */
#define FRAMED_VARIANT(id, v)                                                                              \
  static int id##_tx_open(const struct bench_chan *ch, void **tx) { return tx_open(ch, &(v), tx); }        \
  static int id##_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)                           \
  {                                                                                                       \
    return rx_open(ch, &(v), idx, rx);                                                                    \
  }                                                                                                       \
  static void id##_cleanup(const struct bench_case *c) { subj_rings_gc(c, (v).backend); }

FRAMED_VARIANT(shm, v_shm)
FRAMED_VARIANT(mmap, v_mmap)
FRAMED_VARIANT(shm_al, v_shm_al)
FRAMED_VARIANT(mmap_al, v_mmap_al)
FRAMED_VARIANT(frag, v_frag)
FRAMED_VARIANT(poll, v_poll)
FRAMED_VARIANT(bytes, v_bytes)

#define FRAMED_SUBJECT(id, label, what, extra_caps)                                                        \
  {                                                                                                       \
    .name = label, .transport = what, .family = BENCH_FAMILY_OURS, .layer = BENCH_LAYER_FRAMED,           \
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_WAIT | (extra_caps), .tx_open = id##_tx_open,                \
    .tx_ready = framed_tx_ready, .send = framed_send, .tx_close = framed_tx_close,                        \
    .rx_open = id##_rx_open, .recv = framed_recv, .rx_close = framed_rx_close, .cleanup = id##_cleanup,   \
  }

const struct bench_subject bench_subj_framed_shm =
    FRAMED_SUBJECT(shm, "framed-shm", "Layer 1, compact frames, POSIX shm ring", 0);
const struct bench_subject bench_subj_framed_mmap =
    FRAMED_SUBJECT(mmap, "framed-mmap", "Layer 1, compact frames, mmap file ring (in /tmp)", 0);
const struct bench_subject bench_subj_framed_shm_al =
    FRAMED_SUBJECT(shm_al, "framed-shm-aligned", "Layer 1, aligned frames, POSIX shm ring", BENCH_CAP_QUICK_SHORT);
const struct bench_subject bench_subj_framed_mmap_al = FRAMED_SUBJECT(
    mmap_al, "framed-mmap-aligned", "Layer 1, aligned frames, mmap file ring (in /tmp)", BENCH_CAP_QUICK_SHORT);
const struct bench_subject bench_subj_framed_frag =
    FRAMED_SUBJECT(frag, "framed-shm-frag", "Layer 1, compact frames of <= 4 KiB (fragmented), POSIX shm ring",
                   BENCH_CAP_OPTIN);
const struct bench_subject bench_subj_framed_poll = FRAMED_SUBJECT(
    poll, "framed-shm-poll", "Layer 1, compact frames, POSIX shm ring, harness polls try_recv", BENCH_CAP_OPTIN);
const struct bench_subject bench_subj_framed_bytes = FRAMED_SUBJECT(
    bytes, "framed-bytes", "Layer 1 on a POSIX shm byte ring (MYELON_FRAME_BYTES, one record per message)",
    BENCH_CAP_AB_ONLY);
