/**
 * @file roles_ab_gather.c
 * @brief Paired gather (issue 18): N writers -> 1 consumer on subject A,
 * alternating in lock-step blocks with subject B, in the same processes.
 *
 * The target "2 producers -> 1 consumer aggregate msgs/s >= 0.7x
 * the single-producer stream" compares two shapes with different process
 * counts. Measured as two separate runs on a VM whose speed swings 10x
 * between seconds, the verdict scattered. Here the same N + 1 processes
 * run both, in alternating blocks, as ab_stream does (roles_ab.c):
 *
 *   subject A   (the case's subject, BENCH_CAP_GATHER): all `writers`
 *               producers write one channel (writer 0 creates it, the
 *               others join), each its share of the block
 *   subject B   (the case's pair): if it can gather too, the same N
 *               writers; otherwise writer 0 alone, 1 -> 1, while the
 *               other writers sleep (20 us polls of the step, off the
 *               cores), so B runs as a single-producer stream does
 *
 * Blocks: warm-up on A then B, then 2 x B blocks of count / B messages
 * (B = count / 4000, within 4..100), A, B, A, ... in lock-step (a block starts once the
 * consumer has all of the previous one). Before a block of several writers
 * they all arrive at a rendezvous (ctl->arrived) before any sends, so a
 * writer that slept through the previous block does not start late; the
 * block is timed from writer 0's start (a tick in ctl->block_t0, stored
 * once every writer is there) to the consumer's last message. The
 * result gives each subject's median and 90th-percentile block rate, the
 * median of the per-pair ratios A / B (the figure ab_stream gives; the
 * target is judged on it) and the ratio of the 90th percentiles (the
 * less disturbed blocks: on two cores three processes time-share, and
 * under load most blocks are preempted somewhere). Every message carries (writer
 * + 1) << 40 | the writer's own count per subject, and the consumer checks
 * each writer's order (nothing lost, doubled, reordered); messages of 16 B
 * and more carry the send tick, and the consumer records one-way latency
 * (send to receive, queueing included) per subject over the measured
 * blocks.
 *
 * Placement (orch.c): writer 0 and the consumer are pinned to cores 0 and
 * 1, as a 1 -> 1 stream is; the other writers get cores 2.. where the host
 * has N + 1 cores, otherwise they run unpinned (the scheduler places them;
 * waits should then be yield or block).
 */
#define _GNU_SOURCE
#include "roles_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define AB_G_BLOCKS 100u     /* at most */
_Static_assert(AB_G_BLOCKS <= BENCH_PAIR_BLOCKS_MAX, "bench_emit_block_pairs takes every block");
#define AB_G_MIN_BLOCK 4000u /* messages per block, at least (unless count is below 4 blocks of it) */
#define AB_G_SHIFT 40
#define AB_G_MASK ((UINT64_C(1) << AB_G_SHIFT) - 1)

struct abg {
  struct bench_case cb; /* subject B's copy of the case */
  struct role_env env[2];
  unsigned writers[2]; /* writers of A and of B */
  unsigned blocks;     /* measured blocks per subject */
};

/* Subject B is a gather subject too: both with N writers; otherwise 1. */
static int abg_init(struct abg *g, struct role_env *e)
{
  const struct bench_subject *sb = bench_subject_find(e->c->pair);
  if (!sb)
    return role_failed(e, "pair subject not compiled in", -ENOENT);
  if (!(e->s->caps & BENCH_CAP_GATHER) || e->c->writers > BENCH_MAX_RX)
    return role_failed(e, "ab_gather: the subject cannot gather (or too many writers)", -EINVAL);
  g->cb = *e->c;
  snprintf(g->cb.subject, sizeof g->cb.subject, "%s", e->c->pair);
  snprintf(g->cb.tag, sizeof g->cb.tag, "%.22sb", e->c->tag);
  g->env[0] = *e;
  g->env[1] = *e;
  g->env[1].c = &g->cb;
  g->env[1].s = sb;
  g->writers[0] = e->c->writers;
  g->writers[1] = (sb->caps & BENCH_CAP_GATHER) ? e->c->writers : 1;
  uint64_t nb = e->c->count / AB_G_MIN_BLOCK;
  g->blocks = nb < 4 ? 4 : nb > AB_G_BLOCKS ? AB_G_BLOCKS : (unsigned)nb;
  return 0;
}

static uint64_t abg_block(const struct abg *g)
{
  uint64_t n = g->env[0].c->count / g->blocks;
  return n > g->writers[0] ? n : g->writers[0];
}

/* Block k: subject k & 1; warm-up for k < 2. Many short blocks (up to
 * 100; a block of 4000 messages of a ring lasts 0.1-4 ms here) rather than
 * a few long ones: more of them fit between two preemptions. At least
 * AB_G_MIN_BLOCK messages each: a block also pays the first message's
 * wake-up (tens of us for a socket whose reader sleeps in the kernel). */
static uint64_t abg_block_msgs(const struct abg *g, unsigned k)
{
  return k < 2 ? g->env[k & 1].c->warmup : abg_block(g);
}

static uint64_t share(uint64_t n, unsigned writers, unsigned k)
{
  return n / writers + (k < n % writers ? 1 : 0);
}

static bool stamped(const struct bench_case *c) { return c->size >= 16; }

/* Open writer `idx`'s end of subject s (joining A when idx > 0). */
static int abg_tx_open(struct role_env *e, unsigned idx, void **tx)
{
  struct bench_chan ch = role_chan(e, 0);
  ch.writer = idx;
  int rc = e->s->tx_open(&ch, tx);
  if (rc < 0)
    return role_failed(e, "tx_open", rc);
  if ((rc = e->s->tx_ready(*tx, 1, BENCH_STEP_TIMEOUT_NS)) < 0)
    return role_failed(e, "tx_ready", rc);
  return 0;
}

static int abg_producer(struct abg *g)
{
  struct role_env *e = &g->env[0];
  unsigned me = e->idx;
  void *tx[2] = {NULL, NULL}, *buf = role_buffer(e->c->size);
  int rc = buf ? 0 : -ENOMEM;
  bool in[2] = {me < g->writers[0], me < g->writers[1]};
  /* Writer 0 opens (creates) first: the others join once it exists. */
  for (unsigned s = 0; rc == 0 && s < 2; s++)
    if (in[s])
      rc = abg_tx_open(&g->env[s], me, &tx[s]);
  if (rc == 0 && (rc = bench_ctl_barrier(e->ctl, e->nroles, BENCH_STEP_TIMEOUT_NS)) < 0)
    role_failed(e, "start barrier", rc);
  uint64_t seq[2] = {0, 0}, tag = (uint64_t)(me + 1) << AB_G_SHIFT;
  uint32_t arrivals = 0; /* every writer counts the same arrivals */
  for (unsigned k = 0; rc == 0 && k < 2 + 2 * g->blocks; k++) {
    unsigned s = k & 1;
    if (!in[s]) {
      /* Idle through B's block, off the cores: wait for the next one. */
      rc = bench_ctl_wait_step_sleeping(e->ctl, k + 1, ROLE_TIMEOUT_NS);
      continue;
    }
    rc = me == 0 ? bench_ctl_wait_step(e->ctl, k, ROLE_TIMEOUT_NS)
                 : bench_ctl_wait_step_sleeping(e->ctl, k, ROLE_TIMEOUT_NS);
    if (rc == 0 && g->writers[s] > 1) { /* the writers of a many-writer block start together */
      bench_ctl_arrive(e->ctl);
      arrivals += g->writers[s];
      rc = bench_ctl_wait_arrived(e->ctl, arrivals, ROLE_TIMEOUT_NS);
    }
    uint64_t n = share(abg_block_msgs(g, k), g->writers[s], me);
    const struct bench_case *c = g->env[s].c;
    /* The block starts now, every writer ready: the consumer times it
     * from here. Relaxed: our sends (the transport's own ordering, a
     * release store or a syscall) make it visible before the consumer
     * has our last message. */
    if (me == 0)
      atomic_store_explicit(&e->ctl->block_t0, bench_ticks_inline(), memory_order_relaxed);
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
      put_word(buf, 0, tag | ++seq[s]);
      if (stamped(c))
        put_word(buf, 1, bench_ticks_inline());
      rc = g->env[s].s->send(tx[s], buf, c->size);
    }
    if (rc == 0 && g->env[s].s->flush)
      rc = g->env[s].s->flush(tx[s]);
  }
  if (rc < 0)
    role_failed(e, "send", rc);
  if (rc == 0)
    rc = bench_ctl_wait_done(e->ctl, 1, ROLE_TIMEOUT_NS);
  role_closing();
  /* The creator of A closes last: the others leave first. */
  if (me == 0 && g->writers[0] > 1)
    bench_ctl_wait_left(e->ctl, g->writers[0] - 1, ROLE_TIMEOUT_NS);
  for (unsigned s = 0; s < 2; s++)
    if (tx[s])
      g->env[s].s->tx_close(tx[s]);
  if (me != 0)
    bench_ctl_left(e->ctl);
  free(buf);
  return rc;
}

struct abg_rx {
  uint64_t last[2][BENCH_MAX_RX]; /* each writer's last number seen, per subject */
  uint64_t errors;
  double rates[2][AB_G_BLOCKS];
  struct tool_hist *lat; /* [2] */
};

/* Receive block k; its rate (first to last message) into *rate. */
static int abg_take(struct abg *g, void *rx, unsigned k, void *buf, struct abg_rx *r, double *rate)
{
  unsigned s = k & 1;
  const struct bench_case *c = g->env[s].c;
  uint64_t n = abg_block_msgs(g, k), t1 = 0;
  for (uint64_t i = 0; i < n; i++) {
    int rc = g->env[s].s->recv(rx, buf, c->size);
    t1 = bench_ticks_inline();
    if (rc < 0)
      return rc;
    uint64_t w0 = get_word(buf, 0), w = (w0 >> AB_G_SHIFT) - 1;
    if (w >= g->writers[s] || (w0 & AB_G_MASK) != r->last[s][w] + 1)
      r->errors++; /* an unknown writer, or one writer's messages out of order, lost or doubled */
    else
      r->last[s][w]++;
    if (k >= 2 && stamped(c))
      tool_hist_record(&r->lat[s], t1 - get_word(buf, 1));
  }
  /* From writer 0's start (it sent, so its store is visible: see
   * abg_producer) to our last message: not from our first message, which
   * a consumer that was descheduled at the start would see with the
   * whole block already in the ring, timing only its own drain. */
  uint64_t t0 = atomic_load_explicit(&g->env[0].ctl->block_t0, memory_order_relaxed);
  *rate = bench_block_rate(n, t0, t1);
  return 0;
}

static void abg_report(struct abg *g, struct abg_rx *r)
{
  unsigned nb = g->blocks;
  struct json j;
  json_init(&j, g->env[0].result);
  json_obj_begin(&j, NULL);
  json_u64(&j, "errors", r->errors);
  json_str(&j, "a", g->env[0].c->subject);
  json_str(&j, "b", g->env[1].c->subject);
  json_u64(&j, "writers_a", g->writers[0]);
  json_u64(&j, "writers_b", g->writers[1]);
  json_u64(&j, "blocks", nb);
  json_u64(&j, "block_msgs", abg_block(g));
  bench_emit_block_pairs(&j, "msgs", r->rates[0], r->rates[1], nb);
  if (stamped(g->env[0].c)) {
    role_emit_latency(&j, "latency_a", &r->lat[0]);
    role_emit_latency(&j, "latency_b", &r->lat[1]);
  }
  json_obj_end(&j);
}

static int abg_consumer(struct abg *g)
{
  struct role_env *e = &g->env[0];
  void *rx[2] = {NULL, NULL}, *buf = role_buffer(e->c->size);
  struct abg_rx *r = calloc(1, sizeof *r);
  struct tool_hist *lat = calloc(2, sizeof *lat);
  int rc = buf && r && lat ? 0 : -ENOMEM;
  for (unsigned s = 0; rc == 0 && s < 2; s++) {
    struct bench_chan ch = role_chan(&g->env[s], 0);
    if ((rc = g->env[s].s->rx_open(&ch, 0, &rx[s])) < 0)
      role_failed(e, "rx_open", rc);
  }
  if (rc == 0 && (rc = bench_ctl_barrier(e->ctl, e->nroles, BENCH_STEP_TIMEOUT_NS)) < 0)
    role_failed(e, "start barrier", rc);
  if (rc == 0) {
    r->lat = lat;
    tool_hist_init(&lat[0]);
    tool_hist_init(&lat[1]);
  }
  double ignored;
  for (unsigned k = 0; rc == 0 && k < 2 + 2 * g->blocks; k++) {
    double *out = k < 2 ? &ignored : &r->rates[k & 1][(k - 2) / 2];
    if ((rc = abg_take(g, rx[k & 1], k, buf, r, out)) < 0)
      role_failed(e, "recv", rc);
    atomic_store_explicit(&e->ctl->step, k + 1, memory_order_release);
  }
  uint64_t errors = r ? r->errors : 0;
  if (rc == 0) {
    atomic_fetch_add_explicit(&e->ctl->rx_done, 1, memory_order_release);
    abg_report(g, r);
    role_closing();
  }
  for (unsigned s = 0; s < 2; s++)
    if (rx[s])
      g->env[s].s->rx_close(rx[s]);
  free(lat);
  free(r);
  free(buf);
  return rc < 0 ? rc : (errors ? -EPROTO : 0);
}

int role_ab_gather_run(const char *name, struct role_env *env)
{
  struct abg g;
  int rc = abg_init(&g, env);
  if (rc < 0)
    return rc;
  if (strcmp(name, "producer") == 0)
    return abg_producer(&g);
  if (strcmp(name, "consumer") == 0)
    return abg_consumer(&g);
  return role_failed(env, "unknown role", -EINVAL);
}
