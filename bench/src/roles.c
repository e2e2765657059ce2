/**
 * @file roles.c
 * @brief The measuring loops: ping-pong client/server, stream producer and
 * consumers (also broadcast and wake-up), and their JSON results.
 *
 * Timing. Every timestamp is one CPU tick read (bench_ticks_inline: RDTSC on
 * x86-64), converted to ns with the orchestrator's calibration. The closed
 * ping-pong loop reads the clock once per exchange — the end of one RTT is
 * the start of the next — so each sample carries one clock read, not two;
 * the untimed "bare" phase after it gives the mean without any clock read.
 */
#define _GNU_SOURCE
#include "roles_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#define BARE_BLOCK 64u /* exchanges per clock read in the untimed phase */

static const double spectrum_pcts[] = {0,  10, 20, 30, 40, 50,   60,    70,     75,  80,
                                       90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100};

static double to_ns(uint64_t ticks) { return (double)ticks * bench_ns_per_tick; }

void role_emit_latency(struct json *j, const char *key, const struct tool_hist *h)
{
  json_obj_begin(j, key);
  json_u64(j, "count", h->count);
  json_f64(j, "min", h->count ? to_ns(h->min) : 0.0);
  json_f64(j, "mean", tool_hist_mean(h) * bench_ns_per_tick);
  json_f64(j, "p50", to_ns(tool_hist_percentile(h, 50)));
  json_f64(j, "p90", to_ns(tool_hist_percentile(h, 90)));
  json_f64(j, "p99", to_ns(tool_hist_percentile(h, 99)));
  json_f64(j, "p99.9", to_ns(tool_hist_percentile(h, 99.9)));
  json_f64(j, "p99.99", to_ns(tool_hist_percentile(h, 99.99)));
  json_f64(j, "max", to_ns(h->max));
  json_arr_begin(j, "spectrum");
  for (size_t i = 0; i < sizeof spectrum_pcts / sizeof spectrum_pcts[0]; i++) {
    json_arr_begin(j, NULL);
    json_f64(j, NULL, spectrum_pcts[i]);
    json_f64(j, NULL, to_ns(tool_hist_percentile(h, spectrum_pcts[i])));
    json_arr_end(j);
  }
  json_arr_end(j);
  json_obj_end(j);
}

uint64_t bench_bare_count(const struct bench_case *c)
{
  if (c->workload != BENCH_WL_PINGPONG)
    return 0;
  uint64_t n = c->count / 4 / BARE_BLOCK * BARE_BLOCK;
  return n ? n : BARE_BLOCK;
}

struct bench_chan role_chan(const struct role_env *e, unsigned dir)
{
  struct bench_chan ch = {.c = e->c, .dir = dir};
  snprintf(ch.name, sizeof ch.name, "%s%u", e->c->tag, dir);
  return ch;
}

static void on_close_timeout(int sig)
{
  (void)sig;
  _exit(ROLE_EXIT_CLOSE_HUNG);
}

void role_closing(void)
{
  signal(SIGALRM, on_close_timeout);
  alarm(10);
}

int role_failed(struct role_env *e, const char *what, int rc)
{
  int err = rc < 0 ? -rc : rc;
  bench_log("%s failed: %s", what, err < 4096 ? strerror(err) : "transport-specific error (logged above)");
  atomic_store_explicit(&e->ctl->failed, 1, memory_order_relaxed);
  return rc < 0 ? rc : -EIO;
}

void *role_buffer(size_t len)
{
  void *p = malloc(len);
  if (p)
    bench_fill(p, len);
  return p;
}

/* ---- ping-pong ------------------------------------------------------------ */

/* The "bare" phase: one clock read per BARE_BLOCK exchanges; each block's
 * mean goes into `blocks`, so a preemption spoils one block, not the mean. */
static int pp_bare(struct pp *p, struct tool_hist *blocks, double *bare_mean_ns)
{
  uint64_t n = bench_bare_count(p->e->c);
  uint64_t t0 = bench_ticks_inline(), prev = t0;
  for (uint64_t i = 0; i < n; i += BARE_BLOCK) {
    for (unsigned k = 0; k < BARE_BLOCK; k++) {
      int rc = exchange(p);
      if (rc < 0)
        return rc;
    }
    uint64_t now = bench_ticks_inline();
    tool_hist_record(blocks, (now - prev) / BARE_BLOCK);
    prev = now;
  }
  *bare_mean_ns = to_ns(prev - t0) / (double)n;
  return 0;
}

static int pp_closed_loop(struct pp *p, struct tool_hist *h, struct tool_hist *blocks, double *bare_mean_ns)
{
  uint64_t prev = bench_ticks_inline();
  for (uint64_t i = 0; i < p->e->c->count; i++) {
    int rc = exchange(p);
    uint64_t now = bench_ticks_inline();
    tool_hist_record(h, now - prev);
    prev = now;
    if (rc < 0)
      return rc;
  }
  return pp_bare(p, blocks, bare_mean_ns);
}

/* Absolute schedule: message i is due at t0 + i / rate, whatever happened
 * before (no drift, no omission): CO-corrected RTT = receive - due time. */
static int pp_fixed_rate(struct pp *p, struct tool_hist *actual, struct tool_hist *co, double *achieved)
{
  double period = 1e9 / (double)p->e->c->rate / bench_ns_per_tick;
  uint64_t t0 = bench_ticks_inline() + (uint64_t)period;
  uint64_t end = t0;
  for (uint64_t i = 0; i < p->e->c->count; i++) {
    uint64_t due = t0 + (uint64_t)((double)i * period);
    uint64_t now;
    while ((now = bench_ticks_inline()) < due)
      bench_relax();
    int rc = exchange(p);
    end = bench_ticks_inline();
    if (rc < 0)
      return rc;
    tool_hist_record(actual, end - now);
    tool_hist_record(co, end - due);
  }
  *achieved = (double)p->e->c->count / (to_ns(end - t0) / 1e9);
  return 0;
}

int role_client_open(struct pp *p, bool barrier)
{
  struct role_env *e = p->e;
  struct bench_chan ping = role_chan(e, 0), pong = role_chan(e, 1);
  int rc = e->s->tx_open(&ping, &p->tx);
  if (rc < 0)
    return role_failed(e, "tx_open(ping)", rc);
  if ((rc = e->s->rx_open(&pong, 0, &p->rx)) < 0)
    return role_failed(e, "rx_open(pong)", rc);
  if ((rc = e->s->tx_ready(p->tx, 1, BENCH_STEP_TIMEOUT_NS)) < 0)
    return role_failed(e, "tx_ready(ping)", rc);
  if (barrier && (rc = bench_ctl_barrier(e->ctl, e->nroles, BENCH_STEP_TIMEOUT_NS)) < 0)
    return role_failed(e, "start barrier", rc);
  return 0;
}

static void client_report(struct pp *p, const struct tool_hist *h, const struct tool_hist *h2, double extra)
{
  bool fixed = p->e->c->rate != 0;
  struct json j;
  json_init(&j, p->e->result);
  json_obj_begin(&j, NULL);
  json_u64(&j, "errors", p->errors);
  role_emit_latency(&j, "rtt", h);
  if (fixed) {
    role_emit_latency(&j, "rtt_co", h2);
    json_f64(&j, "achieved_rate", extra);
  } else {
    role_emit_latency(&j, "rtt_bare", h2); /* per-block means, BARE_BLOCK exchanges each */
    json_f64(&j, "mean_bare_ns", extra);
    json_f64(&j, "rtt_per_s", 1e9 / extra);
  }
  json_obj_end(&j);
}

static int role_client(struct role_env *e)
{
  struct pp p = {.e = e, .out = role_buffer(e->c->size), .in = role_buffer(e->c->size)};
  struct tool_hist *h = calloc(2, sizeof *h);
  int rc = (!p.out || !p.in || !h) ? -ENOMEM : role_client_open(&p, true);
  for (uint64_t i = 0; rc == 0 && i < e->c->warmup; i++)
    rc = exchange(&p);
  double extra = 0;
  if (rc == 0) {
    tool_hist_init(&h[0]);
    tool_hist_init(&h[1]);
    rc = e->c->rate ? pp_fixed_rate(&p, &h[0], &h[1], &extra) : pp_closed_loop(&p, &h[0], &h[1], &extra);
    if (rc < 0)
      role_failed(e, "exchange", rc);
  }
  if (rc == 0) {
    atomic_fetch_add_explicit(&e->ctl->rx_done, 1, memory_order_release);
    client_report(&p, &h[0], &h[1], extra);
    role_closing();
  }
  if (p.rx)
    e->s->rx_close(p.rx);
  if (p.tx)
    e->s->tx_close(p.tx);
  free(h);
  free(p.out);
  free(p.in);
  return rc < 0 ? rc : (p.errors ? -EPROTO : 0);
}

int role_server_open(struct role_env *e, void **tx, void **rx, bool barrier)
{
  struct bench_chan ping = role_chan(e, 0), pong = role_chan(e, 1);
  int rc = e->s->rx_open(&ping, 0, rx);
  if (rc < 0)
    return role_failed(e, "rx_open(ping)", rc);
  if ((rc = e->s->tx_open(&pong, tx)) < 0)
    return role_failed(e, "tx_open(pong)", rc);
  if ((rc = e->s->tx_ready(*tx, 1, BENCH_STEP_TIMEOUT_NS)) < 0)
    return role_failed(e, "tx_ready(pong)", rc);
  if (barrier && (rc = bench_ctl_barrier(e->ctl, e->nroles, BENCH_STEP_TIMEOUT_NS)) < 0)
    return role_failed(e, "start barrier", rc);
  return 0;
}

int role_echo(struct role_env *e, void *tx, void *rx, void *buf, uint64_t n)
{
  int rc = 0;
  for (uint64_t i = 0; rc == 0 && i < n; i++) {
    rc = e->s->recv(rx, buf, e->c->size);
    if (rc == 0)
      rc = e->s->send(tx, buf, e->c->size);
  }
  return rc < 0 ? role_failed(e, "echo", rc) : 0;
}

static int role_server(struct role_env *e)
{
  void *tx = NULL, *rx = NULL, *buf = role_buffer(e->c->size);
  int rc = buf ? role_server_open(e, &tx, &rx, true) : -ENOMEM;
  if (rc < 0)
    return rc;
  if ((rc = role_echo(e, tx, rx, buf, e->c->warmup + e->c->count + bench_bare_count(e->c))) < 0)
    return rc;
  /* Close only once the client has everything (some transports drop
   * queued messages on close). */
  rc = bench_ctl_wait_done(e->ctl, 1, ROLE_TIMEOUT_NS);
  role_closing();
  e->s->tx_close(tx);
  e->s->rx_close(rx);
  free(buf);
  return rc;
}

/* ---- streams: stream, broadcast, wake ------------------------------------ */

static bool stamped(const struct bench_case *c)
{
  return c->size >= 16 &&
         (c->workload == BENCH_WL_BROADCAST || c->workload == BENCH_WL_WAKE || c->workload == BENCH_WL_GATHER);
}

/* Gather (N -> 1): writer k sends its share of the messages, numbered
 * (k + 1) << GATHER_SHIFT | its own count from 1, so the receiver checks
 * each writer's order; writer k's share of `total` is total / N, plus one
 * for the first total % N writers. */
#define GATHER_SHIFT 40
#define GATHER_MASK ((UINT64_C(1) << GATHER_SHIFT) - 1)

static uint64_t gather_share(const struct bench_case *c, unsigned k, uint64_t total)
{
  return total / c->writers + (k < total % c->writers ? 1 : 0);
}

static int produce(struct role_env *e, void *tx, void *buf, uint64_t *t0, uint64_t *t1)
{
  const struct bench_case *c = e->c;
  bool stamp = stamped(c), wake = c->workload == BENCH_WL_WAKE;
  if (wake)
    bench_sleep_ns(c->idle_ns);
  uint64_t total = c->warmup + c->count, tag = 0, warm = c->warmup;
  if (c->workload == BENCH_WL_GATHER) {
    tag = (uint64_t)(e->idx + 1) << GATHER_SHIFT;
    warm = gather_share(c, e->idx, c->warmup);
    total = gather_share(c, e->idx, c->warmup + c->count);
  }
  *t0 = bench_ticks_inline();
  for (uint64_t i = 0; i < total; i++) {
    if (i == warm)
      *t0 = bench_ticks_inline();
    put_word(buf, 0, tag | (i + 1));
    if (stamp)
      put_word(buf, 1, bench_ticks_inline());
    int rc = e->s->send(tx, buf, c->size);
    if (rc < 0)
      return rc;
    if (wake)
      bench_sleep_ns(c->gap_ns);
  }
  if (e->s->flush) {
    int rc = e->s->flush(tx);
    if (rc < 0)
      return rc;
  }
  *t1 = bench_ticks_inline();
  return 0;
}

static void rate_report(struct json *j, const struct bench_case *c, uint64_t count, uint64_t t0, uint64_t t1)
{
  double secs = to_ns(t1 - t0) / 1e9;
  double rate = secs > 0 ? (double)count / secs : 0.0;
  json_f64(j, "elapsed_s", secs);
  json_f64(j, "msgs_per_s", rate);
  json_f64(j, "gb_per_s", rate * (double)c->size / 1e9);
}

int role_producer_open(struct role_env *e, void **tx, bool barrier)
{
  struct bench_chan ch = role_chan(e, 0);
  if (e->c->workload == BENCH_WL_GATHER)
    ch.writer = e->idx;
  int rc = e->s->tx_open(&ch, tx);
  if (rc < 0)
    return role_failed(e, "tx_open", rc);
  if ((rc = e->s->tx_ready(*tx, e->c->receivers, BENCH_STEP_TIMEOUT_NS)) < 0)
    return role_failed(e, "tx_ready", rc);
  if (barrier && (rc = bench_ctl_barrier(e->ctl, e->nroles, BENCH_STEP_TIMEOUT_NS)) < 0)
    return role_failed(e, "start barrier", rc);
  return 0;
}

static int role_producer(struct role_env *e)
{
  void *tx = NULL, *buf = role_buffer(e->c->size);
  int rc = buf ? role_producer_open(e, &tx, true) : -ENOMEM;
  if (rc < 0)
    return rc;
  uint64_t t0, t1;
  if ((rc = produce(e, tx, buf, &t0, &t1)) < 0)
    return role_failed(e, "send", rc);
  struct json j;
  json_init(&j, e->result);
  json_obj_begin(&j, NULL);
  /* A gather writer measured its own share. */
  uint64_t sent = e->c->workload == BENCH_WL_GATHER ? gather_share(e->c, e->idx, e->c->count) : e->c->count;
  rate_report(&j, e->c, sent, t0, t1);
  json_obj_end(&j);
  fflush(e->result);
  rc = bench_ctl_wait_done(e->ctl, e->c->receivers, ROLE_TIMEOUT_NS);
  role_closing();
  if (e->c->workload == BENCH_WL_GATHER && e->idx == 0) /* the creator closes last: the others leave first */
    bench_ctl_wait_left(e->ctl, e->c->writers - 1, ROLE_TIMEOUT_NS);
  e->s->tx_close(tx);
  if (e->c->workload == BENCH_WL_GATHER && e->idx != 0)
    bench_ctl_left(e->ctl);
  free(buf);
  return rc;
}

struct consumed {
  uint64_t t0, t1, errors;
  double idle_cpu_pct, idle_s;
};

static double cpu_s(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int consume(struct role_env *e, void *rx, void *buf, struct tool_hist *h, struct consumed *r)
{
  const struct bench_case *c = e->c;
  bool stamp = stamped(c), wake = c->workload == BENCH_WL_WAKE;
  uint64_t total = c->warmup + c->count;
  bool gather = c->workload == BENCH_WL_GATHER;
  uint64_t last[BENCH_MAX_RX] = {0}; /* gather: each writer's last number seen */
  double cpu0 = cpu_s();
  int64_t wall0 = bench_mono_ns();
  r->t0 = bench_ticks_inline();
  for (uint64_t i = 0; i < total; i++) {
    int rc = e->s->recv(rx, buf, c->size);
    uint64_t now = bench_ticks_inline();
    if (rc < 0)
      return rc;
    uint64_t w0 = get_word(buf, 0);
    if (gather) {
      uint64_t k = (w0 >> GATHER_SHIFT) - 1;
      if (k >= c->writers || (w0 & GATHER_MASK) != last[k] + 1)
        r->errors++; /* an unknown writer, or one writer's messages out of order, lost or doubled */
      else
        last[k]++;
    } else if (w0 != i + 1) {
      r->errors++;
    }
    if (stamp && i >= c->warmup)
      tool_hist_record(h, now - get_word(buf, 1));
    if (i + 1 == c->warmup)
      r->t0 = now;
    if (wake && i == 0) { /* the idle window ends with the first message */
      r->idle_s = (double)(bench_mono_ns() - wall0) / 1e9;
      r->idle_cpu_pct = 100.0 * (cpu_s() - cpu0) / r->idle_s;
    }
    r->t1 = now;
  }
  return 0;
}

static void consumer_report(struct role_env *e, const struct tool_hist *h, const struct consumed *r)
{
  struct json j;
  json_init(&j, e->result);
  json_obj_begin(&j, NULL);
  json_u64(&j, "errors", r->errors);
  rate_report(&j, e->c, e->c->count, r->t0, r->t1);
  if (stamped(e->c))
    role_emit_latency(&j, "latency", h);
  if (e->c->workload == BENCH_WL_WAKE) {
    json_f64(&j, "idle_s", r->idle_s);
    json_f64(&j, "idle_cpu_pct", r->idle_cpu_pct);
  }
  json_obj_end(&j);
}

int role_consumer_open(struct role_env *e, void **rx, bool barrier)
{
  struct bench_chan ch = role_chan(e, 0);
  int rc = e->s->rx_open(&ch, e->idx, rx);
  if (rc < 0)
    return role_failed(e, "rx_open", rc);
  if (barrier && (rc = bench_ctl_barrier(e->ctl, e->nroles, BENCH_STEP_TIMEOUT_NS)) < 0)
    return role_failed(e, "start barrier", rc);
  return 0;
}

static int role_consumer(struct role_env *e)
{
  void *rx = NULL, *buf = role_buffer(e->c->size);
  struct tool_hist *h = malloc(sizeof *h);
  int rc = buf && h ? role_consumer_open(e, &rx, true) : -ENOMEM;
  if (rc < 0)
    return rc;
  tool_hist_init(h);
  struct consumed r = {0};
  if ((rc = consume(e, rx, buf, h, &r)) < 0)
    return role_failed(e, "recv", rc);
  atomic_fetch_add_explicit(&e->ctl->rx_done, 1, memory_order_release);
  consumer_report(e, h, &r);
  role_closing();
  e->s->rx_close(rx);
  free(h);
  free(buf);
  return r.errors ? -EPROTO : 0;
}

int bench_role_run(const char *name, struct role_env *env)
{
  if (env->c->workload == BENCH_WL_AB_PINGPONG || env->c->workload == BENCH_WL_AB_STREAM)
    return role_ab_run(name, env);
  if (env->c->workload == BENCH_WL_AB_GATHER)
    return role_ab_gather_run(name, env);
  if (env->c->workload == BENCH_WL_AB_GATHER_RTT)
    return role_ab_gather_rtt_run(name, env);
  if (strcmp(name, "client") == 0)
    return role_client(env);
  if (strcmp(name, "server") == 0)
    return role_server(env);
  if (strcmp(name, "producer") == 0)
    return role_producer(env);
  if (strcmp(name, "consumer") == 0)
    return role_consumer(env);
  bench_log("unknown role '%s'", name);
  return -EINVAL;
}
