/**
 * @file subj_framed_batch.c
 * @brief libmyelon's batched Layer 1 calls as a subject (issue 20, "framed
 * small messages"): `framed-shm-batch`, the ring of `framed-shm` (compact
 * frames, frame capacity = payload size, POSIX shm, default ring flags)
 * driven the way a batching application drives it:
 *
 *   send     copies the payload into a staging array of FB_BATCH messages
 *            (the harness reuses its buffer), and when the array is full
 *            or the harness flushes (end of a stream, of an A/B block)
 *            publishes it with one myelon_producer_publish_batch() call:
 *            one claim and one cursor update per run of messages
 *   receive  myelon_consumer_recv_batch() of up to FB_BATCH messages
 *            (zero-copy, one release store for the batch), handed to the
 *            harness one by one, each copied out as every subject does
 *
 * Ping-pong (and every workload but the streams) sends one message at a
 * time: a batch of one, so the RTT is the batch calls' own. The staging
 * copy is one more memcpy per message than framed-shm makes.
 * Opt-in (--only) and paired cases: ab_stream against dmp-shm or
 * framed-shm gives the batched stream's msgs/s ratio.
 *
 * `framed-bytes-batch`: the same calls on a byte ring of framed-bytes's
 * size (MYELON_FRAME_BYTES, sized as subj_framed.c's) but 16-byte blocks
 * (one record of 32 + size bytes per message, rounded up to 16), where a
 * batch is runs of records claimed with one Layer 0 call each and
 * published with one cursor store, received in runs with one release
 * store.
 */
#include "bench.h"
#include "subj_rings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <myelon/error.h>
#include <myelon/framed.h>

#define FB_BATCH 64u

struct fb_tx {
  struct myelon_producer *p;
  size_t batch;   /* messages per publish_batch call: FB_BATCH on streams, else 1 */
  size_t n;       /* staged */
  size_t size;    /* payload bytes per message */
  uint8_t *stage; /* batch x size bytes */
  struct myelon_batch_msg msgs[FB_BATCH];
};

struct fb_rx {
  struct myelon_consumer *c;
  int n, next; /* received in the current batch, handed out */
  struct myelon_msg msgs[FB_BATCH];
};

static int fail(const char *what, int rc)
{
  bench_log("%s: %s (%s)", what, myelon_strerror(rc), dmp_last_error());
  return rc;
}

static enum dmp_wait_kind wait_kind(enum bench_wait w)
{
  return w == BENCH_WAIT_YIELD ? DMP_WAIT_YIELD : w == BENCH_WAIT_BLOCK ? DMP_WAIT_BLOCK : DMP_WAIT_SPIN;
}

static bool streaming(const struct bench_case *c)
{
  return c->workload == BENCH_WL_STREAM || c->workload == BENCH_WL_BROADCAST || c->workload == BENCH_WL_AB_STREAM;
}

static uint32_t fcap(const struct bench_case *c)
{
  return c->size < MYELON_FRAME_MIN_CAPACITY ? MYELON_FRAME_MIN_CAPACITY : (uint32_t)c->size;
}

static int fb_tx_open_fmt(const struct bench_chan *ch, enum myelon_frame_format fmt, void **tx)
{
  char name[BENCH_PATH_MAX + 32];
  subj_ring_name(ch->c, ch->dir, DMP_BACKEND_SHM, name, sizeof name);
  struct myelon_producer_config cfg;
  myelon_producer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.capacity = ch->c->capacity; /* one frame per message */
  cfg.ring.max_consumers = BENCH_MAX_RX;
  cfg.ring.wait.kind = wait_kind(ch->c->wait);
  cfg.frame_capacity = fcap(ch->c);
  cfg.max_message = ch->c->size;
  if (fmt == MYELON_FRAME_BYTES) {
    cfg.format = MYELON_FRAME_BYTES;
    cfg.ring_bytes = subj_framed_ring_bytes(ch->c);
    /* 16-byte blocks, as README's "Sizing a byte ring" advises for
     * streams of tiny records: an 8 B message's record (16 + 16 + 8
     * bytes) takes 48 bytes instead of a 64-byte line, 64 B's 96 instead
     * of 128, so fewer lines move between the cores per message
     * (bench/README.md, "Runs of records"). The ring keeps its bytes
     * (subj_framed_ring_bytes(), sized for 64-byte records).
     * BENCH_BYTES_BLOCK=32|64 sets another block. */
    const char *blk = getenv("BENCH_BYTES_BLOCK");
    cfg.ring.slot_size = blk && *blk ? (uint32_t)strtoul(blk, NULL, 10) : 16;
  }
  struct fb_tx *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  e->batch = streaming(ch->c) ? FB_BATCH : 1;
  e->size = ch->c->size;
  e->stage = malloc(e->batch * (e->size ? e->size : 1));
  int rc = e->stage ? myelon_producer_create(&cfg, &e->p) : -ENOMEM;
  if (rc < 0) {
    free(e->stage);
    free(e);
    return fail("myelon_producer_create", rc);
  }
  for (size_t i = 0; i < e->batch; i++)
    e->msgs[i] = (struct myelon_batch_msg){.data = e->stage + i * e->size, .len = e->size, .kind = 0};
  *tx = e;
  return 0;
}

static int fb_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  struct fb_tx *e = tx;
  int rc = dmp_producer_wait_for_consumers(myelon_producer_ring(e->p), n, timeout_ns);
  return rc < 0 ? fail("dmp_producer_wait_for_consumers", rc) : 0;
}

static int fb_flush(void *tx)
{
  struct fb_tx *e = tx;
  if (e->n == 0)
    return 0;
  int rc = myelon_producer_publish_batch(e->p, e->msgs, e->n, DMP_FOREVER, NULL);
  e->n = 0;
  return rc < 0 ? fail("myelon_producer_publish_batch", rc) : 0;
}

static int fb_send(void *tx, const void *buf, size_t len)
{
  struct fb_tx *e = tx;
  if (len != e->size)
    return -EINVAL;
  memcpy(e->stage + e->n * e->size, buf, len);
  return ++e->n == e->batch ? fb_flush(e) : 0;
}

static void fb_tx_close(void *tx)
{
  struct fb_tx *e = tx;
  if (!e)
    return;
  myelon_producer_close(e->p);
  free(e->stage);
  free(e);
}

static int fb_tx_open(const struct bench_chan *ch, void **tx)
{
  return fb_tx_open_fmt(ch, MYELON_FRAME_COMPACT, tx);
}

static int fbb_tx_open(const struct bench_chan *ch, void **tx)
{
  return fb_tx_open_fmt(ch, MYELON_FRAME_BYTES, tx);
}

static int fb_rx_open_fmt(const struct bench_chan *ch, enum myelon_frame_format fmt, unsigned idx, void **rx)
{
  char name[BENCH_PATH_MAX + 32], id[8];
  subj_ring_name(ch->c, ch->dir, DMP_BACKEND_SHM, name, sizeof name);
  snprintf(id, sizeof id, "c%u", idx);
  struct myelon_consumer_config cfg;
  myelon_consumer_config_init(&cfg);
  cfg.ring.name = name;
  cfg.ring.id = id;
  cfg.ring.wait.kind = wait_kind(ch->c->wait);
  cfg.frame_capacity = fcap(ch->c);
  cfg.max_message = ch->c->size;
  if (fmt == MYELON_FRAME_BYTES) {
    cfg.format = MYELON_FRAME_BYTES;
    cfg.frame_capacity = 0;
  }
  struct fb_rx *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  int rc = myelon_consumer_attach_timeout(&cfg, BENCH_STEP_TIMEOUT_NS, &e->c);
  if (rc < 0) {
    free(e);
    return fail("myelon_consumer_attach_timeout", rc);
  }
  *rx = e;
  return 0;
}

static int fb_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  return fb_rx_open_fmt(ch, MYELON_FRAME_COMPACT, idx, rx);
}

static int fbb_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  return fb_rx_open_fmt(ch, MYELON_FRAME_BYTES, idx, rx);
}

static int fb_recv(void *rx, void *buf, size_t len)
{
  struct fb_rx *e = rx;
  if (e->next == e->n) { /* the batch is used up: the next call releases it */
    int n = myelon_consumer_recv_batch(e->c, e->msgs, FB_BATCH, DMP_FOREVER);
    if (n < 0)
      return fail("myelon_consumer_recv_batch", n);
    e->n = n;
    e->next = 0;
  }
  const struct myelon_msg *m = &e->msgs[e->next++];
  if (m->len != len) {
    bench_log("framed message of %zu bytes, expected %zu", m->len, len);
    return -EPROTO;
  }
  memcpy(buf, m->data, len);
  return 0;
}

static void fb_rx_close(void *rx)
{
  struct fb_rx *e = rx;
  if (e)
    myelon_consumer_close(e->c);
  free(e);
}

static void fb_cleanup(const struct bench_case *c) { subj_rings_gc(c, DMP_BACKEND_SHM); }

const struct bench_subject bench_subj_framed_batch = {
    .name = "framed-shm-batch",
    .transport = "Layer 1, compact frames, POSIX shm ring, batched publish/receive (64 messages per call)",
    .family = BENCH_FAMILY_OURS,
    .layer = BENCH_LAYER_FRAMED,
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_WAIT | BENCH_CAP_AB_ONLY, /* the small-message framed target (issue 20) */
    .tx_open = fb_tx_open,
    .tx_ready = fb_tx_ready,
    .send = fb_send,
    .flush = fb_flush,
    .tx_close = fb_tx_close,
    .rx_open = fb_rx_open,
    .recv = fb_recv,
    .rx_close = fb_rx_close,
    .cleanup = fb_cleanup,
};

const struct bench_subject bench_subj_framed_bytes_batch = {
    .name = "framed-bytes-batch",
    .transport = "Layer 1 on a POSIX shm byte ring (MYELON_FRAME_BYTES), batched publish/receive (64 messages per "
                 "call)",
    .family = BENCH_FAMILY_OURS,
    .layer = BENCH_LAYER_FRAMED,
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_WAIT | BENCH_CAP_AB_ONLY, /* the small-message framed target (issue 20) */
    .tx_open = fbb_tx_open,
    .tx_ready = fb_tx_ready,
    .send = fb_send,
    .flush = fb_flush,
    .tx_close = fb_tx_close,
    .rx_open = fbb_rx_open,
    .recv = fb_recv,
    .rx_close = fb_rx_close,
    .cleanup = fb_cleanup,
};
