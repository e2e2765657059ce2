/**
 * @file roles_ab.c
 * @brief Paired A/B runs: the same two processes drive subject A (the case's
 * subject) and subject B (its `pair`, e.g. the floor) in alternating blocks.
 *
 * Why: on a shared VM the speed of everything changes by several times from
 * one second to the next (vCPU placement, neighbours). Two separate runs a
 * few seconds apart can then disagree more than the subjects do. Alternating
 * blocks of a few milliseconds inside one pair of processes puts A and B
 * under the same conditions, so their ratio is stable even when the
 * absolute numbers are not.
 *
 *   ab_pingpong  warm-up on A then B; then blocks of AB_PP_BLOCK exchanges,
 *                A, B, A, B, ...; every exchange's RTT goes into A's or B's
 *                histogram (pooled percentiles; count exchanges each)
 *   ab_stream    warm-up on A then B; then 2 x AB_ST_BLOCKS blocks of
 *                count / AB_ST_BLOCKS messages, A, B, ..., in lock-step (a
 *                block starts when the consumer has the previous one, so
 *                no block inherits a backlog); each block is timed
 *                from the producer's start (a tick in ctl->block_t0) to
 *                the consumer's last message, and the consumer reports
 *                each subject's median block rate and the median of the
 *                per-pair ratios A / B
 *
 * Subject B lives under the case's tag plus "b", so names never collide.
 */
#define _GNU_SOURCE
#include "roles_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define AB_PP_BLOCK 500u
#define AB_ST_BLOCKS 20u
_Static_assert(AB_ST_BLOCKS <= BENCH_PAIR_BLOCKS_MAX, "bench_emit_block_pairs takes every block");

struct ab {
  struct bench_case cb; /* subject B's copy of the case */
  struct role_env env[2];
};

static int ab_init(struct ab *ab, struct role_env *e)
{
  const struct bench_subject *sb = bench_subject_find(e->c->pair);
  if (!sb)
    return role_failed(e, "pair subject not compiled in", -ENOENT);
  ab->cb = *e->c;
  snprintf(ab->cb.subject, sizeof ab->cb.subject, "%s", e->c->pair);
  snprintf(ab->cb.tag, sizeof ab->cb.tag, "%.22sb", e->c->tag); /* tags are ~10 chars */
  ab->env[0] = *e;
  ab->env[1] = *e;
  ab->env[1].c = &ab->cb;
  ab->env[1].s = sb;
  return 0;
}

/* ---- ping-pong -------------------------------------------------------------- */

static int ab_pp_blocks(struct pp *p, struct tool_hist *h)
{
  uint64_t nblocks = p[0].e->c->count / AB_PP_BLOCK;
  for (uint64_t k = 0; k < 2 * (nblocks ? nblocks : 1); k++) {
    struct pp *q = &p[k & 1];
    uint64_t prev = bench_ticks_inline();
    for (unsigned i = 0; i < AB_PP_BLOCK; i++) {
      int rc = exchange(q);
      uint64_t now = bench_ticks_inline();
      tool_hist_record(&h[k & 1], now - prev);
      prev = now;
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

static void ab_pp_report(struct pp *p, const struct tool_hist *h)
{
  struct json j;
  json_init(&j, p[0].e->result);
  json_obj_begin(&j, NULL);
  json_u64(&j, "errors", p[0].errors + p[1].errors);
  json_str(&j, "a", p[0].e->c->subject);
  json_str(&j, "b", p[1].e->c->subject);
  json_u64(&j, "block", AB_PP_BLOCK);
  role_emit_latency(&j, "rtt_a", &h[0]);
  role_emit_latency(&j, "rtt_b", &h[1]);
  json_obj_end(&j);
}

static int ab_client(struct ab *ab)
{
  struct pp p[2];
  struct tool_hist *h = calloc(2, sizeof *h);
  int rc = h ? 0 : -ENOMEM;
  for (unsigned k = 0; k < 2; k++) {
    p[k] = (struct pp){.e = &ab->env[k], .out = role_buffer(ab->env[k].c->size), .in = role_buffer(ab->env[k].c->size)};
    if (rc == 0)
      rc = (!p[k].out || !p[k].in) ? -ENOMEM : role_client_open(&p[k], k == 1);
    tool_hist_init(&h[k]);
  }
  for (unsigned k = 0; k < 2; k++)
    for (uint64_t i = 0; rc == 0 && i < ab->env[k].c->warmup; i++)
      rc = exchange(&p[k]);
  if (rc == 0 && (rc = ab_pp_blocks(p, h)) < 0)
    role_failed(&ab->env[0], "exchange", rc);
  if (rc == 0) {
    atomic_fetch_add_explicit(&ab->env[0].ctl->rx_done, 1, memory_order_release);
    ab_pp_report(p, h);
    role_closing();
  }
  for (unsigned k = 0; k < 2; k++) {
    if (p[k].rx)
      p[k].e->s->rx_close(p[k].rx);
    if (p[k].tx)
      p[k].e->s->tx_close(p[k].tx);
    free(p[k].out);
    free(p[k].in);
  }
  free(h);
  return rc < 0 ? rc : (p[0].errors + p[1].errors ? -EPROTO : 0);
}

static int ab_server(struct ab *ab)
{
  void *tx[2] = {NULL, NULL}, *rx[2] = {NULL, NULL}, *buf = role_buffer(ab->env[0].c->size);
  int rc = buf ? 0 : -ENOMEM;
  for (unsigned k = 0; rc == 0 && k < 2; k++)
    rc = role_server_open(&ab->env[k], &tx[k], &rx[k], k == 1);
  for (unsigned k = 0; rc == 0 && k < 2; k++)
    rc = role_echo(&ab->env[k], tx[k], rx[k], buf, ab->env[k].c->warmup);
  uint64_t nblocks = ab->env[0].c->count / AB_PP_BLOCK;
  for (uint64_t k = 0; rc == 0 && k < 2 * (nblocks ? nblocks : 1); k++)
    rc = role_echo(&ab->env[k & 1], tx[k & 1], rx[k & 1], buf, AB_PP_BLOCK);
  if (rc == 0)
    rc = bench_ctl_wait_done(ab->env[0].ctl, 1, ROLE_TIMEOUT_NS);
  role_closing();
  for (unsigned k = 0; k < 2; k++) {
    if (tx[k])
      ab->env[k].s->tx_close(tx[k]);
    if (rx[k])
      ab->env[k].s->rx_close(rx[k]);
  }
  free(buf);
  return rc;
}

/* ---- stream ----------------------------------------------------------------- */

static uint64_t st_block(const struct bench_case *c)
{
  uint64_t n = c->count / AB_ST_BLOCKS;
  return n > 1 ? n : 2;
}

static int ab_producer(struct ab *ab)
{
  void *tx[2] = {NULL, NULL}, *buf = role_buffer(ab->env[0].c->size);
  int rc = buf ? 0 : -ENOMEM;
  for (unsigned k = 0; rc == 0 && k < 2; k++)
    rc = role_producer_open(&ab->env[k], &tx[k], k == 1);
  uint64_t seq[2] = {0, 0}, block = st_block(ab->env[0].c);
  for (unsigned k = 0; rc == 0 && k < 2 + 2 * AB_ST_BLOCKS; k++) {
    unsigned s = k & 1;
    uint64_t n = k < 2 ? ab->env[s].c->warmup : block;
    /* Lock-step: block k starts once the consumer has all of block k - 1,
     * so every block starts from an empty ring, as a steady stream does. */
    rc = bench_ctl_wait_step(ab->env[0].ctl, k, ROLE_TIMEOUT_NS);
    /* Read by ab_take after the block's last message, which this store
     * precedes (the transport orders the two); the next store waits for
     * step k + 1, which the consumer gives only after that read. */
    atomic_store_explicit(&ab->env[0].ctl->block_t0, bench_ticks_inline(), memory_order_relaxed);
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
      put_word(buf, 0, ++seq[s]);
      rc = ab->env[s].s->send(tx[s], buf, ab->env[s].c->size);
    }
    if (rc == 0 && ab->env[s].s->flush)
      rc = ab->env[s].s->flush(tx[s]);
  }
  if (rc < 0)
    role_failed(&ab->env[0], "send", rc);
  if (rc == 0)
    rc = bench_ctl_wait_done(ab->env[0].ctl, 1, ROLE_TIMEOUT_NS);
  role_closing();
  for (unsigned k = 0; k < 2; k++)
    if (tx[k])
      ab->env[k].s->tx_close(tx[k]);
  free(buf);
  return rc;
}

/* Receive `n` messages from subject s; the rate from the producer's start
 * of the block (ctl->block_t0, see ab_producer) to our last message. Not
 * from our first message: a consumer descheduled at the start, or a
 * transport that delivers in batches (a bridge sends up to 32 KiB per
 * frame), would see most of the block at once and time only its own
 * drain, which overstated such subjects many times over. */
static int ab_take(struct ab *ab, void *rx, unsigned s, void *buf, uint64_t n, uint64_t *seq, uint64_t *errors,
                   double *rate)
{
  uint64_t t1 = 0;
  for (uint64_t i = 0; i < n; i++) {
    int rc = ab->env[s].s->recv(rx, buf, ab->env[s].c->size);
    t1 = bench_ticks_inline();
    if (rc < 0)
      return rc;
    if (get_word(buf, 0) != ++*seq)
      (*errors)++;
  }
  uint64_t t0 = atomic_load_explicit(&ab->env[0].ctl->block_t0, memory_order_relaxed);
  *rate = bench_block_rate(n, t0, t1);
  return 0;
}

static void ab_st_report(struct ab *ab, double (*rates)[AB_ST_BLOCKS], uint64_t errors)
{
  struct json j;
  json_init(&j, ab->env[0].result);
  json_obj_begin(&j, NULL);
  json_u64(&j, "errors", errors);
  json_str(&j, "a", ab->env[0].c->subject);
  json_str(&j, "b", ab->env[1].c->subject);
  json_u64(&j, "blocks", AB_ST_BLOCKS);
  json_u64(&j, "block_msgs", st_block(ab->env[0].c));
  bench_emit_block_pairs(&j, "msgs", rates[0], rates[1], AB_ST_BLOCKS);
  json_obj_end(&j);
}

static int ab_consumer(struct ab *ab)
{
  void *rx[2] = {NULL, NULL}, *buf = role_buffer(ab->env[0].c->size);
  int rc = buf ? 0 : -ENOMEM;
  for (unsigned k = 0; rc == 0 && k < 2; k++)
    rc = role_consumer_open(&ab->env[k], &rx[k], k == 1);
  uint64_t seq[2] = {0, 0}, errors = 0, block = st_block(ab->env[0].c);
  double rates[2][AB_ST_BLOCKS], ignored;
  for (unsigned k = 0; rc == 0 && k < 2 + 2 * AB_ST_BLOCKS; k++) {
    unsigned s = k & 1;
    double *out = k < 2 ? &ignored : &rates[s][(k - 2) / 2];
    rc = ab_take(ab, rx[s], s, buf, k < 2 ? ab->env[s].c->warmup : block, &seq[s], &errors, out);
    atomic_store_explicit(&ab->env[0].ctl->step, k + 1, memory_order_release);
  }
  if (rc < 0)
    role_failed(&ab->env[0], "recv", rc);
  if (rc == 0) {
    atomic_fetch_add_explicit(&ab->env[0].ctl->rx_done, 1, memory_order_release);
    ab_st_report(ab, rates, errors);
    role_closing();
  }
  for (unsigned k = 0; k < 2; k++)
    if (rx[k])
      ab->env[k].s->rx_close(rx[k]);
  free(buf);
  return rc < 0 ? rc : (errors ? -EPROTO : 0);
}

int role_ab_run(const char *name, struct role_env *env)
{
  struct ab ab;
  int rc = ab_init(&ab, env);
  if (rc < 0)
    return rc;
  if (strcmp(name, "client") == 0)
    return ab_client(&ab);
  if (strcmp(name, "server") == 0)
    return ab_server(&ab);
  if (strcmp(name, "producer") == 0)
    return ab_producer(&ab);
  if (strcmp(name, "consumer") == 0)
    return ab_consumer(&ab);
  return role_failed(env, "unknown role", -EINVAL);
}
