/**
 * @file myelon_demo.c
 * @brief myelon-demo: one scheduler and N worker processes running an
 * inference-style step loop over a libmyelon fixed topology.
 *
 * The parent process is the scheduler. It creates the request ring,
 * re-executes itself (/proc/self/exe) once per worker with `--role worker`,
 * waits for the rendezvous, then for every step:
 *
 *   1. broadcasts a request {"step": k, "input": <payload bytes>} (msgpack),
 *   2. every worker checks the step order, checksums the input and answers
 *      on its response ring (with --one-ring: on the one gather ring every
 *      worker shares) {"step": k, "worker": i, "checksum": c},
 *   3. the scheduler gathers the N answers and checks each checksum.
 *
 * The step latency is broadcast start -> last answer gathered. With
 * `--layer framed` the messages are packed and parsed with msgpack-c
 * directly (the request is packed straight into the ring slot when it fits
 * in one frame); with `--layer typed` they go through libmyelon's Layer 2
 * codec (encode into the slot, owned decode of answers) and the workers
 * read requests through Layer 3 zero-copy msgpack views.
 *
 * Every wait is bounded; a worker that dies is reported by name and the
 * demo exits 1; the rings are removed on every exit path (including
 * SIGINT/SIGTERM), with a check that nothing was left behind.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include <myelon/myelon.h>

#include "demo_common.h"

/* ------------------------------------------------------------------------ */
/* Scheduler side: encode requests, check answers                           */

struct sched {
  const struct opts *o;
  struct myelon_topology_config cfg;
  struct myelon_scheduler *s;
  struct myelon_codec req_codec, resp_codec; /* typed layer */
  uint8_t *payload;
  msgpack_sbuffer sbuf; /* multi-frame requests (framed layer) */
  size_t frame_body;    /* largest body that fits in one frame */
  pid_t pids[MYELON_WORKERS_MAX];
  bool reaped[MYELON_WORKERS_MAX];
  int wstatus[MYELON_WORKERS_MAX];
};

/* What the gather callback checks against. */
struct expect {
  uint64_t step;
  uint64_t checksum;
  const struct opts *o;
  const struct myelon_codec *resp_codec;
  uint64_t bad;
  char first_bad[200];
};

static void note_bad(struct expect *e, uint32_t worker, const char *what)
{
  if (e->bad++ == 0)
    snprintf(e->first_bad, sizeof e->first_bad, "step %" PRIu64 ", w%u: %s", e->step, worker, what);
}

static int on_answer(const struct myelon_step_msg *m, void *user)
{
  struct expect *e = user;
  struct demo_answer a;
  if (decode_answer(e->o->layer, e->resp_codec, m->data, m->len, &a) < 0)
    note_bad(e, m->worker, "answer does not decode");
  else if (a.step != e->step || a.worker != m->worker)
    note_bad(e, m->worker, "answer names another step or worker");
  else if (a.checksum != e->checksum)
    note_bad(e, m->worker, "checksum mismatch: the input was corrupted on the way");
  return 0;
}

static int broadcast_framed(struct sched *sc, uint64_t step, int64_t timeout_ns)
{
  size_t bound = request_bound(sc->o->payload);
  if (bound <= sc->frame_body) {
    void *body;
    int rc = myelon_scheduler_claim(sc->s, bound, &body, timeout_ns);
    if (rc < 0)
      return rc;
    struct fixbuf fb = {body, 0, bound};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixbuf_write);
    pack_request(&pk, step, sc->payload, sc->o->payload);
    return myelon_scheduler_commit(sc->s, step, fb.len, KIND_STEP);
  }
  msgpack_sbuffer_clear(&sc->sbuf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sc->sbuf, msgpack_sbuffer_write);
  pack_request(&pk, step, sc->payload, sc->o->payload);
  return myelon_scheduler_broadcast(sc->s, step, sc->sbuf.data, sc->sbuf.size, KIND_STEP, timeout_ns);
}

static int broadcast_step(struct sched *sc, uint64_t step)
{
  fill_payload(sc->payload, sc->o->payload, step);
  if (sc->o->layer == LAYER_FRAMED)
    return broadcast_framed(sc, step, sc->o->step_timeout_ns);
  struct demo_request rq = {step, sc->payload, sc->o->payload};
  return myelon_scheduler_broadcast_value(sc->s, step, &sc->req_codec, &rq, KIND_STEP, sc->o->step_timeout_ns);
}

/* ------------------------------------------------------------------------ */
/* Worker processes: spawn, reap, describe                                  */

static volatile sig_atomic_t interrupted;
static char failure[256]; /* the first failure, repeated on stdout at the end */

static void record_failure(const char *what, int rc)
{
  if (failure[0] == '\0')
    snprintf(failure, sizeof failure, "%s (%s): %s", what, myelon_err_name(rc), dmp_last_error());
  fprintf(stderr, "\nmyelon-demo: %s (%s): %s\n", what, myelon_err_name(rc), dmp_last_error());
}

static void on_signal(int sig)
{
  interrupted = sig;
}

static pid_t spawn_worker(const struct opts *o, uint32_t index)
{
  char workers[16], idx[16], payload[24], kill_at[24], timeout[24], ring_bytes[24];
  snprintf(workers, sizeof workers, "%u", o->workers);
  snprintf(idx, sizeof idx, "%u", index);
  snprintf(payload, sizeof payload, "%u", o->payload);
  snprintf(kill_at, sizeof kill_at, "%" PRId64, o->kill_at);
  snprintf(timeout, sizeof timeout, "%" PRId64, o->step_timeout_ns / NS_PER_MS);
  snprintf(ring_bytes, sizeof ring_bytes, "%" PRIu64, o->ring_bytes);
  char *argv[] = {"myelon-demo", "--role", "worker", "--index", idx, "--workers", workers, "--payload", payload,
                  "--backend", (char *)dmp_backend_name(o->backend), "--layer", (char *)layer_name(o->layer),
                  "--session", (char *)o->session, "--dir", (char *)o->dir, "--kill-worker-at-step", kill_at,
                  "--timeout-ms", timeout, NULL, NULL, NULL};
  /* The shape: --one-ring, or --ring-bytes (they exclude each other), or neither. */
  size_t n = sizeof argv / sizeof argv[0] - 3;
  if (o->one_ring)
    argv[n] = "--one-ring";
  else if (o->ring_bytes)
    argv[n] = "--ring-bytes", argv[n + 1] = ring_bytes;
  if (index >= o->workers - o->remote)
    return remote_spawn_worker(o, index, argv);
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* no worker outlives the scheduler */
    if (getppid() != parent)
      _exit(127);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "myelon-demo: cannot exec /proc/self/exe: %s\n", strerror(errno));
    _exit(127);
  }
  return pid;
}

/* Reap worker i if it has exited, waiting up to `wait_ns`. */
static bool reap(struct sched *sc, uint32_t i, int64_t wait_ns)
{
  int64_t deadline = tool_now_ns() + wait_ns;
  while (!sc->reaped[i] && sc->pids[i] > 0) {
    pid_t r = waitpid(sc->pids[i], &sc->wstatus[i], WNOHANG);
    if (r == sc->pids[i] || (r < 0 && errno == ECHILD))
      sc->reaped[i] = true;
    else if (tool_now_ns() >= deadline)
      break;
    else
      tool_sleep_ns(1000000);
  }
  return sc->reaped[i];
}

static void describe_exit(const struct sched *sc, uint32_t i, char *buf, size_t len)
{
  int st = sc->wstatus[i];
  if (!sc->reaped[i])
    snprintf(buf, len, "still running");
  else if (WIFSIGNALED(st))
    snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
}

/* A worker that already exited (e.g. it could not attach), or -1. */
static int exited_worker(struct sched *sc)
{
  for (uint32_t i = 0; i < sc->o->workers; i++)
    if (!sc->reaped[i] && reap(sc, i, 0))
      return (int)i;
  return -1;
}

static void report_dead(struct sched *sc, uint64_t dead)
{
  for (uint32_t i = 0; i < sc->o->workers; i++) {
    if (!(dead & (UINT64_C(1) << i)))
      continue;
    char how[96];
    reap(sc, i, NS_PER_S);
    describe_exit(sc, i, how, sizeof how);
    fprintf(stderr, "myelon-demo: worker w%u (pid %d) died: %s\n", i, (int)sc->pids[i], how);
  }
}

/* Stop the workers: a stop message first (after a failure too, so the
 * survivors close their rings themselves), then SIGKILL whoever is still
 * running; every one is reaped (bounded). Returns false if one failed. */
static bool stop_workers(struct sched *sc, bool ok)
{
  int64_t t = ok ? NS_PER_S : 200 * NS_PER_MS;
  bool told = sc->s && myelon_scheduler_broadcast(sc->s, UINT64_MAX, NULL, 0, KIND_STOP, t) == 0;
  bool all_ok = true;
  for (uint32_t i = 0; i < sc->o->workers; i++) {
    if (sc->pids[i] <= 0)
      continue;
    if (!(told && reap(sc, i, ok ? 5 * NS_PER_S : NS_PER_S))) {
      kill(sc->pids[i], SIGKILL);
      reap(sc, i, 5 * NS_PER_S);
    }
    all_ok = all_ok && sc->reaped[i] && WIFEXITED(sc->wstatus[i]) && WEXITSTATUS(sc->wstatus[i]) == 0;
  }
  return all_ok;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                   */

struct results {
  uint64_t steps;
  int64_t elapsed_ns;
  int64_t rendezvous_ns;
  struct tool_hist *lat;
  uint64_t bad;
  char first_bad[200];
};

static int rendezvous(struct sched *sc, struct results *res)
{
  int64_t t0 = tool_now_ns(), deadline = t0 + 15 * NS_PER_S;
  for (;;) {
    int rc = myelon_scheduler_rendezvous(sc->s, 100 * NS_PER_MS);
    if (rc != -ETIMEDOUT) {
      if (rc < 0)
        record_failure("rendezvous failed", rc);
      res->rendezvous_ns = tool_now_ns() - t0;
      return rc;
    }
    int gone = exited_worker(sc);
    if (gone >= 0 || tool_now_ns() >= deadline || interrupted) {
      record_failure("rendezvous failed", rc);
      if (gone >= 0)
        report_dead(sc, UINT64_C(1) << gone);
      return rc;
    }
  }
}

static void progress(const struct results *res, uint64_t steps, int64_t t0, int64_t *last)
{
  int64_t t = tool_now_ns();
  if (t - *last < 100 * NS_PER_MS)
    return;
  *last = t;
  double secs = (double)(t - t0) / 1e9;
  printf("\r  step %" PRIu64 "/%" PRIu64 "  %.0f steps/s ", res->steps, steps, secs > 0 ? (double)res->steps / secs : 0);
  fflush(stdout);
}

static int one_step(struct sched *sc, uint64_t step, struct results *res)
{
  int64_t t0 = tool_now_ns();
  int rc = broadcast_step(sc, step);
  if (rc < 0) {
    record_failure("broadcast failed", rc);
    struct myelon_workers_status st;
    if (myelon_scheduler_status(sc->s, &st) == 0)
      report_dead(sc, st.dead);
    return rc;
  }
  struct expect e = {step, payload_checksum(sc->payload, sc->o->payload), sc->o, &sc->resp_codec, 0, ""};
  struct myelon_gather g;
  rc = myelon_scheduler_gather(sc->s, step, sc->o->step_timeout_ns, on_answer, &g, &e);
  if (rc < 0) {
    record_failure("gather failed", rc);
    report_dead(sc, g.dead);
    return rc;
  }
  tool_hist_record(res->lat, (uint64_t)(tool_now_ns() - t0));
  res->steps++;
  if (e.bad && res->bad == 0)
    snprintf(res->first_bad, sizeof res->first_bad, "%s", e.first_bad);
  res->bad += e.bad;
  return 0;
}

static int run_steps(struct sched *sc, struct results *res)
{
  bool tty = isatty(STDOUT_FILENO);
  int64_t t0 = tool_now_ns(), last = t0;
  int rc = 0;
  for (uint64_t step = 0; step < sc->o->steps && rc == 0; step++) {
    if (interrupted) {
      snprintf(failure, sizeof failure, "interrupted by signal %d at step %" PRIu64, (int)interrupted, step);
      fprintf(stderr, "\nmyelon-demo: %s\n", failure);
      rc = -EINTR;
      break;
    }
    rc = one_step(sc, step, res);
    if (tty)
      progress(res, sc->o->steps, t0, &last);
  }
  res->elapsed_ns = tool_now_ns() - t0;
  if (tty)
    printf("\r%60s\r", "");
  return rc;
}

static void print_header(const struct sched *sc)
{
  const struct opts *o = sc->o;
  const struct myelon_layout *l = myelon_scheduler_layout(sc->s);
  char req[MYELON_LAYOUT_PATH_MAX], r0[MYELON_LAYOUT_PATH_MAX];
  myelon_layout_request_name(l, req, sizeof req);
  myelon_layout_response_name(l, 0, r0, sizeof r0);
  printf("myelon-demo: 1 scheduler -> %u workers, %" PRIu64 " steps, payload %u B, layer %s, backend %s\n",
         o->workers, o->steps, o->payload, layer_name(o->layer), dmp_backend_name(o->backend));
  if (o->remote)
    printf("  workers w%u .. w%u on hosts of their own (namespaces + veth), behind myelon-bridge links\n",
           o->workers - o->remote, o->workers - 1);
  if (o->ring_bytes) {
    printf("  session '%s' (tag %s)\n  request ring %s (%" PRIu64 " bytes), response rings %s .. r%x (%" PRIu64
           " bytes each): byte rings, one record per message\n",
           o->session, l->tag, req, o->ring_bytes, r0, o->workers - 1, o->ring_bytes);
  } else if (o->one_ring) {
    char g[MYELON_LAYOUT_PATH_MAX];
    myelon_layout_gather_name(l, g, sizeof g);
    printf("  session '%s' (tag %s)\n  request ring %s (%" PRIu64 " slots), one gather ring %s (%" PRIu64
           " slots, %u producers)\n",
           o->session, l->tag, req, l->request_depth, g, l->response_depth, o->workers);
  } else {
    printf("  session '%s' (tag %s)\n  request ring %s (%" PRIu64 " slots), response rings %s .. r%x (%" PRIu64
           " slots each)\n",
           o->session, l->tag, req, l->request_depth, r0, o->workers - 1, l->response_depth);
  }
  fflush(stdout);
}

static void print_results(const struct results *res, const struct opts *o)
{
  double secs = (double)res->elapsed_ns / 1e9;
  char p50[24], p99[24], p999[24], max[24];
  format_latency(p50, sizeof p50, tool_hist_percentile(res->lat, 50));
  format_latency(p99, sizeof p99, tool_hist_percentile(res->lat, 99));
  format_latency(p999, sizeof p999, tool_hist_percentile(res->lat, 99.9));
  format_latency(max, sizeof max, res->lat->max);
  printf("  rendezvous: %u workers attached in %.1f ms\n", o->workers, (double)res->rendezvous_ns / 1e6);
  printf("  %" PRIu64 " steps in %.3f s: %.0f steps/s\n", res->steps, secs,
         secs > 0 ? (double)res->steps / secs : 0.0);
  printf("  step latency (broadcast -> all %u answers gathered): p50 %s  p99 %s  p99.9 %s  max %s\n", o->workers,
         p50, p99, p999, max);
}

static int setup(struct sched *sc)
{
  int rc = topology_config(sc->o, &sc->cfg);
  if (rc == 0)
    rc = myelon_scheduler_create(&sc->cfg, &sc->s);
  if (rc == 0 && sc->o->layer == LAYER_TYPED)
    rc = demo_codecs(&sc->req_codec, &sc->resp_codec);
  if (rc < 0) {
    record_failure("setup failed", rc);
    return rc;
  }
  /* A frame's payload; on a byte ring every message is one record, this the largest. */
  sc->frame_body = myelon_producer_frame_capacity(myelon_scheduler_requests(sc->s)) - MYELON_STEP_HEADER;
  sc->payload = malloc(sc->o->payload ? sc->o->payload : 1);
  msgpack_sbuffer_init(&sc->sbuf);
  return sc->payload ? 0 : -ENOMEM;
}

/* Tear everything down and check that no ring was left behind. */
static bool teardown(struct sched *sc, bool ok)
{
  bool workers_ok = stop_workers(sc, ok);
  if (sc->o->remote)
    remote_stop();
  if (ok && !workers_ok)
    fprintf(stderr, "myelon-demo: a worker did not exit cleanly\n");
  struct myelon_layout l;
  bool have_layout = sc->s != NULL;
  if (have_layout)
    l = *myelon_scheduler_layout(sc->s);
  myelon_scheduler_close(sc->s);
  /* Every process is gone now: whatever is left is stale, and gc removes it. */
  int leftovers = have_layout ? myelon_layout_gc(&l) : 0;
  if (ok && leftovers > 0) {
    fprintf(stderr, "myelon-demo: %d ring(s) were left behind (removed now)\n", leftovers);
    ok = false;
  }
  /* Only the directory it made: a --dir the caller gave is theirs. */
  if (sc->o->backend == DMP_BACKEND_MMAP && sc->o->own_dir && rmdir(sc->o->dir) != 0)
    fprintf(stderr, "myelon-demo: cannot remove %s: %s\n", sc->o->dir, strerror(errno));
  msgpack_sbuffer_destroy(&sc->sbuf);
  free(sc->payload);
  return ok && workers_ok;
}

static int run_scheduler(struct opts *o)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  if (o->remote && (remote_check(o) != 0 || remote_enter_host_a() != 0))
    return TOOL_EXIT_FAILURE;
  if (prepare_session(o) < 0)
    return 1;
  struct sched sc;
  memset(&sc, 0, sizeof sc);
  sc.o = o;
  struct results res;
  memset(&res, 0, sizeof res);
  res.lat = malloc(sizeof *res.lat);
  if (res.lat)
    tool_hist_init(res.lat);
  bool ok = res.lat && setup(&sc) == 0;
  if (ok) {
    print_header(&sc);
    for (uint32_t i = 0; i < o->workers && ok; i++)
      if ((sc.pids[i] = spawn_worker(o, i)) < 0) {
        fprintf(stderr, "myelon-demo: cannot start worker w%u: %s\n", i, strerror(errno));
        ok = false;
      }
  }
  ok = ok && rendezvous(&sc, &res) == 0;
  ok = ok && run_steps(&sc, &res) == 0;
  ok = teardown(&sc, ok) && ok;
  if (res.steps > 0)
    print_results(&res, o);
  if (res.bad)
    printf("  %" PRIu64 " bad answers; first: %s\n", res.bad, res.first_bad);
  ok = ok && res.bad == 0;
  if (ok)
    printf("every answer verified (step, worker, checksum): OK\n");
  else
    printf("FAILED%s%s\n", failure[0] ? ": " : "", failure);
  free(res.lat);
  return ok ? TOOL_EXIT_OK : TOOL_EXIT_FAILURE; /* interrupted: a failure, said above */
}

int main(int argc, char **argv)
{
  struct opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc != 0)
    return rc < 0 ? TOOL_EXIT_OK : rc;
  if (o.role == ROLE_WORKER)
    return run_worker(&o);
  return run_scheduler(&o);
}
