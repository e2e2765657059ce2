/**
 * @file roles_ab_gather_rtt.c
 * @brief Paired many-writer round trips (issue 18): N writers each send a
 * request and wait for its own reply from one responder; subject A and
 * subject B alternate in lock-step blocks in the same processes.
 *
 * Channels of each subject (struct bench_chan):
 *
 *   dir 0       the requests: all N writers write it (writer 0 creates it,
 *               the others join, as in gather), the responder reads it —
 *               dmp-mp: one multi-producer ring; iceoryx: N publishers on
 *               one topic; zmq / nng: N PUSH sockets -> 1 PULL
 *   dir 1 + w   writer w's replies: the responder writes, writer w reads —
 *               dmp-mp: a single-producer ring per writer (subj_dmp.c
 *               drops DMP_RING_MULTI_PRODUCER there: one writer per ring
 *               needs no claim protocol); iceoryx: a topic per writer;
 *               zmq / nng: a PAIR socket per writer
 *
 * The responder takes each request in ring (arrival) order, reads the
 * writer from its first word ((w + 1) << 40 | the writer's own count, as
 * ab_gather numbers messages), checks that writer's order, and sends the
 * same bytes back on that writer's reply channel. A writer checks that
 * the reply is its own last request.
 *
 * Both subjects must gather (BENCH_CAP_GATHER). Blocks: a warm-up of
 * `warmup` round trips on A then B, then 2 x B blocks of count / B round
 * trips (B = count / 500, within 4..40), A, B, A, ... in lock-step: a block
 * starts once the responder has answered all of the previous one (ctl
 * step); its writers meet first (ctl arrived) so that none starts late,
 * and each does its share of the block's round trips, one in flight at a
 * time. Measured:
 *
 *   per writer  (client<w>): the RTT of every measured round trip of each
 *               subject (one tick read per exchange: the end of one is the
 *               start of the next), p50 / p99 / ... as `rtt_a`, `rtt_b`
 *   aggregate   (server0): round trips per second of each block, from
 *               writer 0's start (ctl block_t0) to the responder's last
 *               reply; medians, 90th percentiles and the median of the
 *               per-pair ratios A / B, as ab_gather gives for rates
 *
 * Placement (orch.c): writer 0 and the responder on cores 0 and 1 (as a
 * ping-pong); the other writers on cores 2.. where the host has N + 1
 * cores, otherwise on core 0 beside writer 0 (the responder keeps a core).
 * On a smaller host the waits should be yield or block: writers sharing a
 * core take turns, and a spinning one holds the core until preempted.
 */
#define _GNU_SOURCE
#include "roles_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define GR_BLOCKS 40u     /* measured blocks per subject, at most */
_Static_assert(GR_BLOCKS <= BENCH_PAIR_BLOCKS_MAX, "bench_emit_block_pairs takes every block");
#define GR_MIN_BLOCK 500u /* round trips per block, at least (unless count is below 4 blocks of it) */
#define GR_SHIFT 40
#define GR_MASK ((UINT64_C(1) << GR_SHIFT) - 1)

struct gr {
  struct bench_case cb; /* subject B's copy of the case */
  struct role_env env[2];
  unsigned writers;
  unsigned blocks; /* measured blocks per subject */
};

static int gr_init(struct gr *g, struct role_env *e)
{
  const struct bench_subject *sb = bench_subject_find(e->c->pair);
  if (!sb)
    return role_failed(e, "pair subject not compiled in", -ENOENT);
  if (!(e->s->caps & BENCH_CAP_GATHER) || !(sb->caps & BENCH_CAP_GATHER))
    return role_failed(e, "ab_gather_rtt: subject and pair must both gather (BENCH_CAP_GATHER)", -EINVAL);
  if (e->c->writers < 1 || e->c->writers > BENCH_MAX_RX)
    return role_failed(e, "ab_gather_rtt: writers must be 1..8", -EINVAL);
  g->cb = *e->c;
  snprintf(g->cb.subject, sizeof g->cb.subject, "%s", e->c->pair);
  snprintf(g->cb.tag, sizeof g->cb.tag, "%.22sb", e->c->tag);
  g->env[0] = *e;
  g->env[1] = *e;
  g->env[1].c = &g->cb;
  g->env[1].s = sb;
  g->writers = e->c->writers;
  uint64_t nb = e->c->count / GR_MIN_BLOCK;
  g->blocks = nb < 4 ? 4 : nb > GR_BLOCKS ? GR_BLOCKS : (unsigned)nb;
  return 0;
}

/* Round trips in a measured block (at least one per writer). */
static uint64_t gr_block(const struct gr *g)
{
  uint64_t n = g->env[0].c->count / g->blocks;
  return n > g->writers ? n : g->writers;
}

/* Block k: subject k & 1; the first two are the warm-ups. */
static uint64_t gr_block_rts(const struct gr *g, unsigned k)
{
  uint64_t n = k < 2 ? g->env[0].c->warmup : gr_block(g);
  return n > g->writers ? n : g->writers;
}

static uint64_t share(uint64_t n, unsigned writers, unsigned k)
{
  return n / writers + (k < n % writers ? 1 : 0);
}

static struct bench_chan gr_chan(const struct role_env *e, unsigned dir, unsigned writer)
{
  struct bench_chan ch = role_chan(e, dir);
  ch.writer = writer;
  return ch;
}

/* ---- writers (role "client") --------------------------------------------- */

struct gr_writer {
  void *tx[2], *rx[2];
  uint64_t errors;
  struct tool_hist *h; /* [2]: RTT per subject */
};

static int gr_writer_open(struct gr *g, unsigned me, struct gr_writer *w)
{
  /* Writer 0 creates the requests first (the others join once it exists);
   * each writer then attaches to its reply channel, which the responder
   * creates once it has the requests. */
  for (unsigned s = 0; s < 2; s++) {
    struct role_env *e = &g->env[s];
    struct bench_chan req = gr_chan(e, 0, me), rep = gr_chan(e, 1 + me, 0);
    int rc = e->s->tx_open(&req, &w->tx[s]);
    if (rc < 0)
      return role_failed(e, "tx_open(requests)", rc);
    if ((rc = e->s->rx_open(&rep, 0, &w->rx[s])) < 0)
      return role_failed(e, "rx_open(replies)", rc);
  }
  for (unsigned s = 0; s < 2; s++) {
    int rc = g->env[s].s->tx_ready(w->tx[s], 1, BENCH_STEP_TIMEOUT_NS);
    if (rc < 0)
      return role_failed(&g->env[s], "tx_ready(requests)", rc);
  }
  int rc = bench_ctl_barrier(g->env[0].ctl, g->env[0].nroles, BENCH_STEP_TIMEOUT_NS);
  return rc < 0 ? role_failed(&g->env[0], "start barrier", rc) : 0;
}

/* `n` round trips on subject s, one in flight; RTTs into `h` if given. */
static int gr_exchanges(struct gr *g, unsigned s, struct gr_writer *w, uint64_t *seq, uint64_t tag, uint64_t n,
                        void *out, void *in, struct tool_hist *h)
{
  const struct bench_subject *sub = g->env[s].s;
  size_t len = g->env[s].c->size;
  uint64_t prev = bench_ticks_inline();
  for (uint64_t i = 0; i < n; i++) {
    uint64_t word = tag | ++*seq;
    put_word(out, 0, word);
    int rc = sub->send(w->tx[s], out, len);
    if (rc == 0)
      rc = sub->recv(w->rx[s], in, len);
    uint64_t now = bench_ticks_inline();
    if (rc < 0)
      return rc;
    if (get_word(in, 0) != word)
      w->errors++; /* not our own last request's reply */
    if (h)
      tool_hist_record(h, now - prev);
    prev = now;
  }
  return 0;
}

static void gr_writer_report(struct gr *g, unsigned me, const struct gr_writer *w)
{
  struct json j;
  json_init(&j, g->env[0].result);
  json_obj_begin(&j, NULL);
  json_u64(&j, "errors", w->errors);
  json_u64(&j, "writer", me);
  json_str(&j, "a", g->env[0].c->subject);
  json_str(&j, "b", g->env[1].c->subject);
  role_emit_latency(&j, "rtt_a", &w->h[0]);
  role_emit_latency(&j, "rtt_b", &w->h[1]);
  json_obj_end(&j);
}

static int gr_writer(struct gr *g)
{
  struct role_env *e = &g->env[0];
  unsigned me = e->idx;
  struct gr_writer w = {.h = calloc(2, sizeof *w.h)};
  void *out = role_buffer(e->c->size), *in = role_buffer(e->c->size);
  int rc = out && in && w.h ? gr_writer_open(g, me, &w) : -ENOMEM;
  if (rc == 0) {
    tool_hist_init(&w.h[0]);
    tool_hist_init(&w.h[1]);
  }
  uint64_t seq[2] = {0, 0}, tag = (uint64_t)(me + 1) << GR_SHIFT;
  uint32_t arrivals = 0; /* every writer counts the same arrivals */
  for (unsigned k = 0; rc == 0 && k < 2 + 2 * g->blocks; k++) {
    unsigned s = k & 1;
    /* Sleeping polls: N + 1 processes may share fewer cores, and the
     * responder finishing the last block needs one. */
    rc = bench_ctl_wait_step_sleeping(e->ctl, k, ROLE_TIMEOUT_NS);
    if (rc == 0 && g->writers > 1) { /* the writers of a block start together */
      bench_ctl_arrive(e->ctl);
      arrivals += g->writers;
      rc = bench_ctl_wait_arrived(e->ctl, arrivals, ROLE_TIMEOUT_NS);
    }
    if (rc < 0)
      break;
    /* The block starts now, every writer ready: the responder times it
     * from here. Relaxed: our first request (the transport's own release
     * store or syscall) orders it before the responder's last reply. */
    if (me == 0)
      atomic_store_explicit(&e->ctl->block_t0, bench_ticks_inline(), memory_order_relaxed);
    rc = gr_exchanges(g, s, &w, &seq[s], tag, share(gr_block_rts(g, k), g->writers, me), out, in,
                      k >= 2 ? &w.h[s] : NULL);
  }
  if (rc < 0 && w.h)
    role_failed(e, "block", rc);
  if (rc == 0) {
    /* Release: pairs with the responder's acquire in bench_ctl_wait_done()
     * before it closes the reply channels. */
    atomic_fetch_add_explicit(&e->ctl->rx_done, 1, memory_order_release);
    gr_writer_report(g, me, &w);
    role_closing();
  }
  /* The creator of the requests closes last: the others leave first. */
  if (me == 0 && g->writers > 1)
    bench_ctl_wait_left(e->ctl, g->writers - 1, ROLE_TIMEOUT_NS);
  for (unsigned s = 0; s < 2; s++) {
    if (w.rx[s])
      g->env[s].s->rx_close(w.rx[s]);
    if (w.tx[s])
      g->env[s].s->tx_close(w.tx[s]);
  }
  if (me != 0)
    bench_ctl_left(e->ctl);
  uint64_t errors = w.errors;
  free(w.h);
  free(out);
  free(in);
  return rc < 0 ? rc : (errors ? -EPROTO : 0);
}

/* ---- the responder (role "server") --------------------------------------- */

struct gr_resp {
  void *rx[2];
  void *tx[2][BENCH_MAX_RX];
  uint64_t last[2][BENCH_MAX_RX]; /* each writer's last request number, per subject */
  uint64_t errors;
  double rates[2][GR_BLOCKS];
};

static int gr_resp_open(struct gr *g, struct gr_resp *r)
{
  for (unsigned s = 0; s < 2; s++) {
    struct role_env *e = &g->env[s];
    struct bench_chan req = gr_chan(e, 0, 0);
    int rc = e->s->rx_open(&req, 0, &r->rx[s]);
    if (rc < 0)
      return role_failed(e, "rx_open(requests)", rc);
    for (unsigned w = 0; w < g->writers; w++) {
      struct bench_chan rep = gr_chan(e, 1 + w, 0);
      if ((rc = e->s->tx_open(&rep, &r->tx[s][w])) < 0)
        return role_failed(e, "tx_open(replies)", rc);
    }
  }
  for (unsigned s = 0; s < 2; s++)
    for (unsigned w = 0; w < g->writers; w++) {
      int rc = g->env[s].s->tx_ready(r->tx[s][w], 1, BENCH_STEP_TIMEOUT_NS);
      if (rc < 0)
        return role_failed(&g->env[s], "tx_ready(replies)", rc);
    }
  int rc = bench_ctl_barrier(g->env[0].ctl, g->env[0].nroles, BENCH_STEP_TIMEOUT_NS);
  return rc < 0 ? role_failed(&g->env[0], "start barrier", rc) : 0;
}

/* Answer block k; its aggregate round trips per second into *rate. */
static int gr_answer(struct gr *g, struct gr_resp *r, unsigned k, void *buf, double *rate)
{
  unsigned s = k & 1;
  const struct bench_subject *sub = g->env[s].s;
  size_t len = g->env[s].c->size;
  uint64_t n = gr_block_rts(g, k), t1 = 0;
  for (uint64_t i = 0; i < n; i++) {
    int rc = sub->recv(r->rx[s], buf, len);
    if (rc < 0)
      return rc;
    uint64_t w0 = get_word(buf, 0), w = (w0 >> GR_SHIFT) - 1;
    if (w >= g->writers)
      return -EPROTO; /* no reply channel to answer on: its writer would wait forever */
    if ((w0 & GR_MASK) != r->last[s][w] + 1)
      r->errors++; /* one writer's requests out of order, lost or doubled */
    r->last[s][w] = w0 & GR_MASK;
    if ((rc = sub->send(r->tx[s][w], buf, len)) < 0)
      return rc;
    t1 = bench_ticks_inline();
  }
  /* From writer 0's start (its first request is in, so its store is
   * visible: see gr_writer) to our last reply. */
  uint64_t t0 = atomic_load_explicit(&g->env[0].ctl->block_t0, memory_order_relaxed);
  *rate = bench_block_rate(n, t0, t1);
  return 0;
}

static void gr_resp_report(struct gr *g, struct gr_resp *r)
{
  unsigned nb = g->blocks;
  struct json j;
  json_init(&j, g->env[0].result);
  json_obj_begin(&j, NULL);
  json_u64(&j, "errors", r->errors);
  json_str(&j, "a", g->env[0].c->subject);
  json_str(&j, "b", g->env[1].c->subject);
  json_u64(&j, "writers", g->writers);
  json_u64(&j, "blocks", nb);
  json_u64(&j, "block_rts", gr_block(g));
  bench_emit_block_pairs(&j, "rts", r->rates[0], r->rates[1], nb);
  json_obj_end(&j);
}

static int gr_responder(struct gr *g)
{
  struct role_env *e = &g->env[0];
  struct gr_resp *r = calloc(1, sizeof *r);
  void *buf = role_buffer(e->c->size);
  int rc = r && buf ? gr_resp_open(g, r) : -ENOMEM;
  double ignored;
  for (unsigned k = 0; rc == 0 && k < 2 + 2 * g->blocks; k++) {
    double *out = k < 2 ? &ignored : &r->rates[k & 1][(k - 2) / 2];
    if ((rc = gr_answer(g, r, k, buf, out)) < 0) {
      role_failed(e, "answer", rc);
      break;
    }
    /* Release: the writers' acquire in wait_step sees the block done. */
    atomic_store_explicit(&e->ctl->step, k + 1, memory_order_release);
  }
  uint64_t errors = r ? r->errors : 0;
  if (rc == 0) {
    gr_resp_report(g, r);
    fflush(e->result);
    /* Close the replies only once every writer has its last one (some
     * transports drop queued messages on close). */
    rc = bench_ctl_wait_done(e->ctl, g->writers, ROLE_TIMEOUT_NS);
    role_closing();
  }
  for (unsigned s = 0; r && s < 2; s++) {
    for (unsigned w = 0; w < g->writers; w++)
      if (r->tx[s][w])
        g->env[s].s->tx_close(r->tx[s][w]);
    if (r->rx[s])
      g->env[s].s->rx_close(r->rx[s]);
  }
  free(r);
  free(buf);
  return rc < 0 ? rc : (errors ? -EPROTO : 0);
}

int role_ab_gather_rtt_run(const char *name, struct role_env *env)
{
  struct gr g;
  int rc = gr_init(&g, env);
  if (rc < 0)
    return rc;
  if (strcmp(name, "client") == 0)
    return gr_writer(&g);
  if (strcmp(name, "server") == 0)
    return gr_responder(&g);
  return role_failed(env, "unknown role", -EINVAL);
}
