/*
 * hostile_role: a real participant of a hostile-peer scenario. One process
 * plays one role on one ring while hostile_scribbler writes random values
 * over the same ring; it uses the library exactly as an application would,
 * with every call bounded, and reports how it ended:
 *
 *   hostile_role producer --kind raw|compact|aligned|typed --name N
 *                         --count K --consumers C [--ids a,b]
 *   hostile_role producer --kind mp ... [--attach]
 *                         the raw stream on a multi-producer ring: the
 *                         creator, or (--attach) one more producer of it;
 *                         every event carries its ring sequence
 *   hostile_role producer --kind bytes ...
 *                         the framed stream's messages as records of a
 *                         byte ring (DMP_RING_BYTES, bytes.h)
 *   hostile_role producer --kind fbytes ...
 *                         the framed stream on a framed byte ring
 *                         (MYELON_FRAME_BYTES): every publish call of
 *                         Layer 1, drawn per message from the seed
 *   hostile_role consumer --kind ... --name N --id ID --count K
 *   common: --seed S (API variant, wait strategy, liveness action, start
 *           position, durability: all drawn from it), --pace-us U (producer:
 *           sleep U us every 8 events), --stall-ms T (give up after T ms
 *           without progress), --log FILE (stderr and stdout go there),
 *           --mmap (the ring is a memory-mapped file, DMP_BACKEND_MMAP, and
 *           N is its path; default: POSIX shm, N a segment name). Every
 *           layer gets the backend through its ring config (Layer 0 config,
 *           and the `ring` member of the framed/typed configs).
 *
 * Payload garbage is expected (the scribbler writes into slots): Layer 0
 * consumers count events whose checksum is wrong, framed and typed
 * consumers count MALFORMED / TRUNCATED / TOOBIG / CODEC results. None of
 * that is an error of the role. Exit codes are in hostile.h; the last line
 * on stderr says how the role ended.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>
#include <disruptor_mp/liveness.h>
#include <myelon/myelon.h>

#include "hostile.h"
#include "support.h"
#include "typed_fixture.h"

#define SLICE_NS INT64_C(100000000) /* every blocking call: 100 ms */
#define STALE_FACTOR 20u            /* consumers stop after 20 x count deliveries */

struct opts {
  bool producer;
  bool attach;       /* --attach: join a multi-producer ring (kind mp) instead of creating it */
  bool mmap_backend; /* --mmap */
  enum hk_kind kind;
  const char *name, *id, *ids, *log;
  uint64_t count, seed;
  uint32_t consumers, pace_us;
  int64_t stall_ns, attach_ns;
  int64_t end_ns; /* --deadline-ms: the role's own overall bound */
};

/* What a role saw, printed as its last line. */
struct tally {
  uint64_t done;    /* events / messages delivered (producer: published) */
  uint64_t bad;     /* delivered with garbage content */
  uint64_t errors;  /* error returns that the stream survives */
  uint64_t timeouts;
};

static uint64_t rnd(uint64_t *s)
{
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static int64_t now_ns(void)
{
  return ts_now_ns();
}

static const char *role_name(const struct opts *o)
{
  return o->producer ? (o->attach ? "producer2" : "producer") : o->id;
}

/* Every blocking call, timed against the timeout it was given, and every
 * call documented as not waiting (close, release, process, publish of a
 * claimed slot) against 0 (issue 15: a call returns within its timeout plus
 * a documented slack, whatever the scribbler does). finish() prints the
 * count and the worst overrun; the driver checks it against ts_slack_ms(),
 * as the fault sweep does. */
static struct {
  uint64_t calls;
  int64_t over, dur, timeout;
  const char *what;
} timing = {0, INT64_MIN, 0, 0, "-"};

static void timed(const char *what, int64_t t0, int64_t timeout)
{
  int64_t dur = ts_now_ns() - t0, over = dur - timeout;
  timing.calls++;
  if (over > timing.over) {
    timing.over = over;
    timing.dur = dur;
    timing.timeout = timeout;
    timing.what = what;
  }
}

static int finish(const struct opts *o, const struct tally *t, int code, const char *how, int rc)
{
  /* Parsed by test_hostile.c (role_timing()): keep the format. */
  fprintf(stderr, "hostile_role %s: timed %llu calls, worst overrun %.3f ms: %s took %.3f ms with a timeout of %.3f ms\n",
          role_name(o), (unsigned long long)timing.calls, timing.calls ? (double)timing.over / 1e6 : 0.0, timing.what,
          (double)timing.dur / 1e6, (double)timing.timeout / 1e6);
  fprintf(stderr, "hostile_role %s: %s%s%s%s: done %llu bad %llu errors %llu timeouts %llu -> exit %d\n",
          role_name(o), how, rc ? " (" : "", rc ? dmp_err_name(rc) : "", rc ? ")" : "",
          (unsigned long long)t->done, (unsigned long long)t->bad, (unsigned long long)t->errors,
          (unsigned long long)t->timeouts, code);
  if (rc)
    fprintf(stderr, "hostile_role %s: last error detail: %s\n", role_name(o), dmp_last_error());
  return code;
}

static const char *err_name(int rc)
{
  return rc <= -MYELON_ERR_BASE ? myelon_err_name(rc) : dmp_err_name(rc);
}

static enum dmp_backend backend_of(const struct opts *o)
{
  return o->mmap_backend ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM;
}

static struct dmp_wait_strategy wait_of(uint64_t *s)
{
  struct dmp_wait_strategy w = {0};
  static const enum dmp_wait_kind kinds[] = {DMP_WAIT_BLOCK, DMP_WAIT_BLOCK, DMP_WAIT_SLEEP, DMP_WAIT_YIELD};
  w.kind = kinds[rnd(s) % 4];
  return w;
}

/* ---- producers ------------------------------------------------------------- */

#define STARTUP_NS INT64_C(2000000000) /* enable_liveness()'s startup timeout */

/* Until a managed call has succeeded, the start-up may be incomplete, and
 * then a managed call waits for the required ids up to the startup timeout
 * whatever its own (liveness.h, dmp_producer_claim_managed()): a scribbled
 * table can hide attached consumers from it. Its bound is then the
 * startup timeout; from the first success on (startup done for good), its
 * own timeout. */
static bool managed_started;

static int64_t managed_bound(int rc, int64_t timeout)
{
  int64_t bound = managed_started || timeout >= STARTUP_NS ? timeout : STARTUP_NS;
  if (rc >= 0)
    managed_started = true;
  return bound;
}

/* Liveness over the consumer ids (--ids), with a seeded action; 0 = none. */
static int enable_liveness(struct dmp_producer *p, const struct opts *o, uint64_t *s, char ids_buf[256],
                           const char *ids[4])
{
  uint64_t pick = rnd(s) % 4;
  if (pick == 0 || !o->ids)
    return 0;
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  snprintf(ids_buf, 256, "%s", o->ids);
  size_t n = 0;
  for (char *save = NULL, *tok = strtok_r(ids_buf, ",", &save); tok && n < 4; tok = strtok_r(NULL, ",", &save))
    ids[n++] = tok;
  lc.required_ids = ids;
  lc.n_required = n;
  lc.quiet = true;
  lc.startup_timeout_ns = STARTUP_NS;
  lc.progress_timeout_ns = INT64_C(100000000);
  lc.check_interval_ns = INT64_C(5000000);
  lc.grace_ns = INT64_C(300000000);
  lc.action = pick == 1 ? DMP_LIVENESS_ALERT_ONLY : pick == 2 ? DMP_LIVENESS_EVICT : DMP_LIVENESS_FAIL;
  int rc = dmp_producer_enable_liveness(p, &lc);
  return rc < 0 ? rc : 1;
}

/* One blocking step of a producer: -ETIMEDOUT counts toward the stall bound. */
static int step_result(const struct opts *o, struct tally *t, int rc, int64_t *progress, bool *gave_up)
{
  if (rc == -ETIMEDOUT || rc == -EAGAIN) {
    t->timeouts++;
    *gave_up = now_ns() - *progress > o->stall_ns || now_ns() > o->end_ns;
    return 1;
  }
  if (rc < 0)
    return rc;
  *progress = now_ns();
  *gave_up = now_ns() > o->end_ns;
  return 0;
}

static void pace(const struct opts *o, uint64_t i)
{
  if (o->pace_us && i % 8 == 7)
    nanosleep(&(struct timespec){0, (long)o->pace_us * 1000}, NULL);
}

/* Keep the ring while the consumers drain (bounded by the stall bound). */
static void linger(const struct opts *o, struct dmp_producer *p)
{
  int64_t last = dmp_producer_sequence(p), until = now_ns() + o->stall_ns;
  while (dmp_producer_min_gating_sequence(p) < last && now_ns() < until)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* Kind mp, --attach: join the ring the creator makes (bounded retries
 * while it does not exist yet). */
static int attach_producer(const struct opts *o, const struct dmp_producer_config *cfg, struct dmp_producer **p)
{
  int64_t deadline = now_ns() + o->attach_ns;
  for (;;) {
    int rc = dmp_producer_attach(cfg, p);
    if ((rc != -ENOENT && rc != -DMP_E_NOTREADY && rc != -DMP_E_OWNERDEAD) ||
        now_ns() > deadline)
      return rc;
    nanosleep(&(struct timespec){0, 2000000}, NULL);
  }
}

static int raw_producer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct tally t = {0};
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = backend_of(o);
  cfg.name = o->name;
  cfg.capacity = UINT64_C(16) << (rnd(&s) % 4); /* 16..128: wraps constantly */
  cfg.slot_size = HOSTILE_RAW_SLOT;
  cfg.max_consumers = 8;
  cfg.wait = wait_of(&s);
  cfg.wait_consumers = o->consumers;
  cfg.wait_timeout_ns = o->attach_ns;
  bool mp = o->kind == HK_MP;
  if (mp) {
    cfg.flags = DMP_RING_MULTI_PRODUCER;
    cfg.max_producers = 4;
  }
  struct dmp_producer *p;
  int64_t t0 = now_ns();
  int rc;
  if (o->attach) {
    struct dmp_producer_config ac;
    dmp_producer_config_init(&ac);
    ac.backend = cfg.backend;
    ac.name = cfg.name;
    ac.wait = cfg.wait;
    ac.max_consumers = 0; /* the ring's (0: no expectation) */
    rc = attach_producer(o, &ac, &p);
    /* Each attempt waits for the table lock at most DMP_TABLE_WAIT_NS. */
    timed("producer_attach", t0, o->attach_ns + DMP_TABLE_WAIT_NS);
  } else {
    rc = dmp_producer_create(&cfg, &p); /* waits for the consumers */
    timed("producer_create", t0, o->attach_ns);
  }
  if (rc < 0)
    return finish(o, &t, HX_SETUP, o->attach ? "attach" : "create", rc);
  /* The driver scribbles after this line of every participant. */
  fprintf(stderr, "hostile_role %s: %s\n", role_name(o), o->attach ? "attached" : "created");
  char ids_buf[256];
  const char *ids[4];
  int managed = enable_liveness(p, o, &s, ids_buf, ids);
  if (managed < 0) {
    dmp_producer_close(p);
    return finish(o, &t, HX_SETUP, "enable_liveness", managed);
  }
  /* A multi-producer ring: always the batch calls, which say the claimed
   * sequence (the event carries it). */
  bool batch = mp || rnd(&s) % 2;
  int64_t progress = now_ns();
  bool gave_up = false;
  int code = HX_OK;
  const char *how = "published every event";
  for (uint64_t i = 0; i < o->count && !gave_up;) {
    uint64_t n = batch ? 1 + (o->count - i < 4 ? o->count - i - 1 : rnd(&s) % 4) : 1;
    int64_t first;
    void *slot = NULL;
    t0 = now_ns();
    if (n > 1 || mp)
      rc = managed ? dmp_producer_claim_batch_managed(p, n, &first, SLICE_NS)
                   : dmp_producer_claim_batch_timeout(p, n, &first, SLICE_NS);
    else
      rc = managed ? dmp_producer_claim_managed(p, &slot, SLICE_NS) : dmp_producer_claim_timeout(p, &slot, SLICE_NS);
    timed(managed ? "claim_managed" : "claim_timeout", t0, managed ? managed_bound(rc, SLICE_NS) : SLICE_NS);
    int st = step_result(o, &t, rc, &progress, &gave_up);
    if (st < 0) {
      code = HX_STOPPED;
      how = "claim failed";
      break;
    }
    if (st > 0)
      continue;
    if (n == 1 && !mp)
      first = (int64_t)i;
    for (uint64_t k = 0; k < n; k++) {
      /* Single producer: event i at sequence i; many: the claimed one. */
      int64_t e = mp ? first + (int64_t)k : (int64_t)(i + k);
      struct hostile_event ev = {e, ts_checksum(e), {0}};
      memcpy(n > 1 || mp ? dmp_producer_slot(p, first + (int64_t)k) : slot, &ev, sizeof ev);
    }
    t0 = now_ns();
    dmp_producer_publish(p);
    timed("producer_publish", t0, 0);
    for (uint64_t k = 0; k < n; k++)
      pace(o, i + k);
    i += n;
    t.done = i;
  }
  if (gave_up) {
    code = HX_GAVE_UP;
    how = "no space within the stall bound";
  }
  if (code == HX_OK)
    linger(o, p);
  t0 = now_ns();
  dmp_producer_close(p);
  timed("producer_close", t0, 0);
  return finish(o, &t, code, how, code == HX_STOPPED ? rc : 0);
}

static void msg_fill(uint64_t i, uint8_t *buf, uint32_t *len)
{
  *len = hostile_msg_len(i);
  for (uint32_t j = 0; j < *len; j++)
    buf[j] = hostile_msg_byte(i, j);
  if (*len >= 8)
    memcpy(buf, &i, sizeof i);
}

static enum myelon_frame_format format_of(enum hk_kind k)
{
  return k == HK_ALIGNED ? MYELON_FRAME_ALIGNED : MYELON_FRAME_COMPACT;
}

static struct myelon_producer_config framed_pcfg(const struct opts *o, uint64_t *s, uint32_t frame_cap)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.backend = backend_of(o);
  pc.ring.name = o->name;
  pc.ring.capacity = UINT64_C(16) << (rnd(s) % 3);
  pc.ring.max_consumers = 8;
  pc.ring.wait = wait_of(s);
  pc.ring.wait_consumers = o->consumers;
  pc.ring.wait_timeout_ns = o->attach_ns;
  pc.format = format_of(o->kind);
  pc.frame_capacity = frame_cap;
  pc.max_message = 64u << 10;
  return pc;
}

static int framed_producer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct tally t = {0};
  struct myelon_producer_config pc = framed_pcfg(o, &s, HOSTILE_FRAME_CAP);
  struct myelon_producer *p;
  int64_t t0 = now_ns();
  int rc = myelon_producer_create(&pc, &p); /* waits for the consumers */
  timed("myelon_producer_create", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &t, HX_SETUP, "create", rc);
  fprintf(stderr, "hostile_role producer: created\n"); /* the driver scribbles after this */
  int64_t progress = now_ns();
  bool gave_up = false;
  int code = HX_OK;
  const char *how = "published every message";
  uint8_t buf[512];
  for (uint64_t i = 0; i < o->count && !gave_up;) {
    uint32_t len;
    msg_fill(i, buf, &len);
    t0 = now_ns();
    rc = myelon_producer_publish(p, buf, len, (uint8_t)(i % 251), SLICE_NS);
    timed("myelon_producer_publish", t0, SLICE_NS);
    int st = step_result(o, &t, rc, &progress, &gave_up);
    if (st < 0) {
      code = HX_STOPPED;
      how = "publish failed";
      break;
    }
    if (st > 0)
      continue; /* a cut message: its consumers report TRUNCATED */
    pace(o, i);
    t.done = ++i;
  }
  if (gave_up) {
    code = HX_GAVE_UP;
    how = "no space within the stall bound";
  }
  if (code == HX_OK)
    linger(o, myelon_producer_ring(p));
  t0 = now_ns();
  myelon_producer_close(p);
  timed("myelon_producer_close", t0, 0);
  return finish(o, &t, code, how, code == HX_STOPPED ? rc : 0);
}

static int typed_producer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct tally t = {0};
  struct myelon_producer_config pc = framed_pcfg(o, &s, 256);
  struct myelon_codec codec;
  tf_codec(&codec);
  struct myelon_typed_producer *tp;
  int64_t t0 = now_ns();
  int rc = myelon_typed_producer_create(&pc, &codec, &tp); /* waits for the consumers */
  timed("typed_producer_create", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &t, HX_SETUP, "create", rc);
  fprintf(stderr, "hostile_role producer: created\n"); /* the driver scribbles after this */
  static struct tf_order v;
  int64_t progress = now_ns();
  bool gave_up = false;
  int code = HX_OK;
  const char *how = "published every value";
  for (uint64_t i = 0; i < o->count && !gave_up;) {
    tf_fill(&v, i, tf_stream_len(i) / 4);
    t0 = now_ns();
    rc = myelon_typed_producer_publish(tp, &v, (uint8_t)(i % 251), SLICE_NS);
    timed("typed_producer_publish", t0, SLICE_NS);
    int st = step_result(o, &t, rc, &progress, &gave_up);
    if (st < 0) {
      code = HX_STOPPED;
      how = "publish failed";
      break;
    }
    if (st > 0)
      continue;
    pace(o, i);
    t.done = ++i;
  }
  if (gave_up) {
    code = HX_GAVE_UP;
    how = "no space within the stall bound";
  }
  if (code == HX_OK)
    linger(o, myelon_producer_ring(myelon_typed_producer_framed(tp)));
  t0 = now_ns();
  myelon_typed_producer_close(tp);
  timed("typed_producer_close", t0, 0);
  return finish(o, &t, code, how, code == HX_STOPPED ? rc : 0);
}

/* ---- consumers ------------------------------------------------------------- */

/* A consumer's loop control: how a blocking receive ended. 0 go on, 1 the
 * stream is over (code/how set). */
struct run {
  const struct opts *o;
  struct tally t;
  int64_t progress;
  int code;
  const char *how;
  int rc;
  struct dmp_consumer *ring; /* for the identity check */
  uint64_t epoch, tag;       /* the ring's identity at attach */
};

/* The identity a consumer sees must not change while it is attached, even
 * if the header is scribbled (it is read once, at attach). */
static void identity_start(struct run *r, struct dmp_consumer *ring)
{
  r->ring = ring;
  r->epoch = dmp_consumer_epoch(ring);
  r->tag = dmp_consumer_type_tag(ring);
}

static bool identity_changed(struct run *r)
{
  uint64_t e = dmp_consumer_epoch(r->ring), t = dmp_consumer_type_tag(r->ring);
  if (e == r->epoch && t == r->tag)
    return false;
  fprintf(stderr, "hostile_role %s: ring identity changed: epoch %#llx -> %#llx, type tag %#llx -> %#llx\n",
          r->o->id, (unsigned long long)r->epoch, (unsigned long long)e, (unsigned long long)r->tag,
          (unsigned long long)t);
  r->code = HX_IDENTITY;
  r->how = "ring identity changed";
  return true;
}

static int on_result(struct run *r, int rc)
{
  if (now_ns() > r->o->end_ns) {
    r->code = HX_GAVE_UP;
    r->how = "overall deadline passed";
    return 1;
  }
  if (rc == 0) {
    r->progress = now_ns();
    return 0;
  }
  if (rc == -ETIMEDOUT || rc == -EAGAIN) {
    r->t.timeouts++;
    if (now_ns() - r->progress > r->o->stall_ns) {
      r->code = HX_GAVE_UP;
      r->how = "no event within the stall bound";
      return 1;
    }
    return 0;
  }
  if (rc == -MYELON_E_MALFORMED || rc == -MYELON_E_TRUNCATED || rc == -MYELON_E_TOOBIG || rc == -MYELON_E_CODEC ||
      rc == -MYELON_E_VIEW || rc == -ENOBUFS) {
    r->t.errors++; /* the stream goes on after a bad message */
    r->progress = now_ns();
    return 0;
  }
  if (rc == -DMP_E_OWNERDEAD) { /* the producer closed: the end of the stream */
    r->how = "producer closed (end of stream)";
    return 1;
  }
  r->code = HX_STOPPED;
  r->how = "receive failed";
  r->rc = rc;
  fprintf(stderr, "hostile_role %s: receive returned %s\n", r->o->id, err_name(rc));
  return 1;
}

/* Replayed stale data can make a stream look endless: stop after a bound. */
static bool too_many(struct run *r)
{
  if (r->t.done + r->t.errors < (uint64_t)STALE_FACTOR * r->o->count + 1000)
    return false;
  r->code = HX_ENDLESS;
  r->how = "stream did not end: handed 20 x what was published (stale slots)";
  return true;
}

static void check_event(struct run *r, const void *ev, int64_t seq)
{
  struct hostile_event e;
  memcpy(&e, ev, sizeof e);
  r->t.done++;
  if (e.seq != seq || e.sum != ts_checksum(seq))
    r->t.bad++;
}

struct batch_ctx {
  struct run *r;
  int64_t last;
};

static int on_event(const void *ev, int64_t seq, bool end, void *user)
{
  (void)end;
  struct batch_ctx *b = user;
  check_event(b->r, ev, seq);
  b->last = seq;
  return 0;
}

static struct dmp_consumer_config ring_ccfg(const struct opts *o, uint64_t *s)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = backend_of(o);
  cc.name = o->name;
  cc.id = o->id;
  cc.start = rnd(s) % 2 ? DMP_START_OLDEST : DMP_START_LATEST;
  cc.flags = rnd(s) % 4 == 0 ? DMP_CONSUMER_DURABLE : 0;
  cc.wait = wait_of(s);
  return cc;
}

static int raw_consumer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct run r = {o, {0}, 0, HX_OK, "", 0, NULL, 0, 0};
  struct dmp_consumer_config cc = ring_ccfg(o, &s);
  /* One in four: a non-gating (lossy) reader, which reads by copy only. */
  bool lossy = rnd(&s) % 4 == 0;
  if (lossy)
    cc.flags = (cc.flags & ~DMP_CONSUMER_DURABLE) | DMP_CONSUMER_NON_GATING;
  struct dmp_consumer *c;
  int64_t t0 = now_ns();
  int rc = dmp_consumer_attach_timeout(&cc, o->attach_ns, &c);
  timed("attach_timeout", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &r.t, HX_SETUP, "attach", rc);
  fprintf(stderr, "hostile_role %s: attached%s\n", o->id, lossy ? " (non-gating)" : "");
  uint64_t api = lossy ? 1 + rnd(&s) % 2 : rnd(&s) % 3;
  identity_start(&r, c);
  bool forget = rnd(&s) % 2;
  r.progress = now_ns();
  /* Read until the producer is gone (it closes after the stream): a
   * consumer must never be handed an endless stream (too_many()). */
  for (int64_t last = -1; !too_many(&r) && !identity_changed(&r);) {
    const void *ev;
    int64_t seq;
    t0 = now_ns();
    if (api == 0) {
      rc = dmp_consumer_peek_timeout(c, &ev, &seq, SLICE_NS);
      timed("peek_timeout", t0, SLICE_NS);
      if (rc == 0) {
        check_event(&r, ev, seq);
        dmp_consumer_release(c);
        last = seq;
      }
    } else if (api == 1) {
      int64_t n = dmp_consumer_wait(c, SLICE_NS);
      timed("consumer_wait", t0, SLICE_NS);
      rc = n < 0 ? (int)n : 0;
      if (rc == 0) {
        struct batch_ctx b = {&r, last};
        t0 = now_ns();
        int64_t got = dmp_consumer_process(c, on_event, 1 + rnd(&s) % 64, &b);
        timed("consumer_process", t0, 0);
        rc = got < 0 ? (int)got : 0;
        last = b.last;
      }
    } else {
      struct hostile_event e;
      rc = dmp_consumer_copy_timeout(c, &e, sizeof e, &seq, SLICE_NS);
      timed("copy_timeout", t0, SLICE_NS);
      if (rc == 0) {
        check_event(&r, &e, seq);
        last = seq;
      }
    }
    if (on_result(&r, rc))
      break;
  }
  t0 = now_ns();
  if (forget)
    dmp_consumer_close_forget(c);
  else
    dmp_consumer_close(c);
  timed(forget ? "close_forget" : "consumer_close", t0, 0);
  return finish(o, &r.t, r.code, r.how, r.rc);
}

/* ---- byte rings (kind bytes) ------------------------------------------------- */

static uint64_t msg_index(const uint8_t *data, size_t len);

static int bytes_producer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct tally t = {0};
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = backend_of(o);
  cfg.name = o->name;
  cfg.flags = DMP_RING_BYTES;
  cfg.capacity = UINT64_C(1024) << (rnd(&s) % 4); /* 1..8 KiB: wraps constantly, records of 0..300 B fit */
  cfg.slot_size = 16u << (rnd(&s) % 3);          /* blocks of 16, 32 or 64 bytes */
  cfg.max_consumers = 8;
  cfg.wait = wait_of(&s);
  cfg.wait_consumers = o->consumers;
  cfg.wait_timeout_ns = o->attach_ns;
  struct dmp_producer *p;
  int64_t t0 = now_ns();
  int rc = dmp_producer_create(&cfg, &p); /* waits for the consumers */
  timed("producer_create", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &t, HX_SETUP, "create", rc);
  fprintf(stderr, "hostile_role %s: created\n", role_name(o));
  char ids_buf[256];
  const char *ids[4];
  int managed = enable_liveness(p, o, &s, ids_buf, ids);
  if (managed < 0) {
    dmp_producer_close(p);
    return finish(o, &t, HX_SETUP, "enable_liveness", managed);
  }
  int64_t progress = now_ns();
  bool gave_up = false;
  int code = HX_OK;
  const char *how = "published every message";
  uint8_t msg[512];
  for (uint64_t i = 0; i < o->count && !gave_up;) {
    /* Sometimes two records under one publish. */
    uint64_t n = o->count - i > 1 && rnd(&s) % 3 == 0 ? 2 : 1, k = 0;
    for (; k < n; k++) {
      uint32_t len;
      msg_fill(i + k, msg, &len);
      void *data;
      t0 = now_ns();
      rc = managed ? dmp_producer_claim_bytes_managed(p, len, &data, SLICE_NS)
                   : dmp_producer_claim_bytes_timeout(p, len, &data, SLICE_NS);
      timed(managed ? "claim_bytes_managed" : "claim_bytes_timeout", t0,
            managed ? managed_bound(rc, SLICE_NS) : SLICE_NS);
      if (rc < 0)
        break;
      memcpy(data, msg, len);
    }
    t0 = now_ns();
    dmp_producer_publish(p); /* what was claimed (k records) */
    timed("producer_publish", t0, 0);
    i += k;
    t.done = i;
    for (uint64_t j = 0; j < k; j++)
      pace(o, i - k + j);
    int st = step_result(o, &t, k == n ? 0 : rc, &progress, &gave_up);
    if (st < 0) {
      code = HX_STOPPED;
      how = "claim failed";
      break;
    }
  }
  if (gave_up) {
    code = HX_GAVE_UP;
    how = "no space within the stall bound";
  }
  if (code == HX_OK)
    linger(o, p);
  t0 = now_ns();
  dmp_producer_close(p);
  timed("producer_close", t0, 0);
  return finish(o, &t, code, how, code == HX_STOPPED ? rc : 0);
}

static int bytes_consumer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct run r = {o, {0}, 0, HX_OK, "", 0, NULL, 0, 0};
  struct dmp_consumer_config cc = ring_ccfg(o, &s);
  bool lossy = rnd(&s) % 4 == 0; /* a non-gating reader: copies only */
  if (lossy)
    cc.flags = (cc.flags & ~DMP_CONSUMER_DURABLE) | DMP_CONSUMER_NON_GATING;
  struct dmp_consumer *c;
  int64_t t0 = now_ns();
  int rc = dmp_consumer_attach_timeout(&cc, o->attach_ns, &c);
  timed("attach_timeout", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &r.t, HX_SETUP, "attach", rc);
  fprintf(stderr, "hostile_role %s: attached%s\n", o->id, lossy ? " (non-gating)" : "");
  bool copy = lossy || rnd(&s) % 2;
  identity_start(&r, c);
  bool forget = rnd(&s) % 2;
  r.progress = now_ns();
  static uint8_t buf[8192]; /* >= the largest record of any ring the producer makes */
  size_t max = dmp_consumer_bytes_max(c);
  while (!too_many(&r) && !identity_changed(&r)) {
    const void *data = NULL;
    size_t len = 0;
    t0 = now_ns();
    if (copy) {
      rc = dmp_consumer_copy_bytes_timeout(c, buf, sizeof buf, &len, NULL, SLICE_NS);
      timed("copy_bytes_timeout", t0, SLICE_NS);
      data = buf;
    } else {
      rc = dmp_consumer_peek_bytes_timeout(c, &data, &len, NULL, SLICE_NS);
      timed("peek_bytes_timeout", t0, SLICE_NS);
    }
    if (rc == 0) {
      r.t.done++;
      if (len > max || msg_index(data, len) == UINT64_MAX)
        r.t.bad++;
      if (!copy)
        dmp_consumer_release(c);
    } else if (rc == -DMP_E_CORRUPT) { /* a scribbled record header: reported, then on */
      r.t.errors++;
      t0 = now_ns();
      int64_t skipped = dmp_consumer_resync_bytes(c);
      timed("resync_bytes", t0, 0);
      if (skipped < 0) {
        rc = (int)skipped;
        r.code = HX_STOPPED;
        r.how = "resync failed";
        r.rc = rc;
        break;
      }
      r.progress = now_ns();
      continue;
    }
    if (on_result(&r, rc))
      break;
  }
  t0 = now_ns();
  if (forget)
    dmp_consumer_close_forget(c);
  else
    dmp_consumer_close(c);
  timed(forget ? "close_forget" : "consumer_close", t0, 0);
  return finish(o, &r.t, r.code, r.how, r.rc);
}

/* Index of a framed message from its content, or UINT64_MAX if garbage. */
static uint64_t msg_index(const uint8_t *data, size_t len)
{
  if (len < 8)
    return UINT64_MAX;
  uint64_t i;
  memcpy(&i, data, sizeof i);
  if (hostile_msg_len(i) != len)
    return UINT64_MAX;
  for (uint32_t j = 8; j < len; j++)
    if (data[j] != hostile_msg_byte(i, j))
      return UINT64_MAX;
  return i;
}

static struct myelon_consumer_config framed_ccfg(const struct opts *o, uint64_t *s, uint32_t frame_cap)
{
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring = ring_ccfg(o, s);
  cc.format = format_of(o->kind);
  cc.frame_capacity = rnd(s) % 2 ? frame_cap : 0;
  cc.max_message = rnd(s) % 4 == 0 ? 200 : 64u << 10; /* sometimes below the largest message */
  return cc;
}

static int framed_consumer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct run r = {o, {0}, 0, HX_OK, "received the last message", 0, NULL, 0, 0};
  struct myelon_consumer_config cc = framed_ccfg(o, &s, HOSTILE_FRAME_CAP);
  struct myelon_consumer *c;
  int64_t t0 = now_ns();
  int rc = myelon_consumer_attach_timeout(&cc, o->attach_ns, &c);
  timed("myelon_attach_timeout", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &r.t, HX_SETUP, "attach", rc);
  fprintf(stderr, "hostile_role %s: attached\n", o->id);
  bool copy = rnd(&s) % 2;
  identity_start(&r, myelon_consumer_ring(c));
  r.progress = now_ns();
  for (uint64_t last = 0; last != o->count - 1 && !too_many(&r) && !identity_changed(&r);) {
    const uint8_t *data = NULL;
    size_t len = 0;
    void *owned = NULL;
    struct myelon_msg m;
    t0 = now_ns();
    if (copy) {
      rc = myelon_consumer_recv_copy(c, &owned, &len, NULL, SLICE_NS);
      data = owned;
    } else {
      rc = myelon_consumer_recv(c, &m, SLICE_NS);
      data = m.data;
      len = m.len;
    }
    timed(copy ? "myelon_recv_copy" : "myelon_recv", t0, SLICE_NS);
    if (rc == 0) {
      r.t.done++;
      uint64_t i = msg_index(data, len);
      if (i == UINT64_MAX)
        r.t.bad++;
      else
        last = i;
      if (copy)
        free(owned);
      else
        myelon_consumer_release(c);
    }
    if (on_result(&r, rc))
      break;
  }
  t0 = now_ns();
  myelon_consumer_close(c);
  timed("myelon_consumer_close", t0, 0);
  return finish(o, &r.t, r.code, r.how, r.rc);
}

/* ---- framed byte rings (kind fbytes) -------------------------------------------- */

/* Publish messages [i, i + n) of the stream with one of Layer 1's publish
 * calls (`api`); returns what the call returned and, in `*done`, how many
 * were published (a batch may stop part way). */
static int fbytes_publish(struct myelon_producer *p, uint64_t *s, int api, bool managed, uint64_t i, uint64_t n,
                          uint64_t *done)
{
  static uint8_t bufs[8][512];
  struct myelon_batch_msg msgs[8];
  *done = 0;
  int64_t t0 = now_ns();
  int rc;
  if (api == 2 && n > 1) {
    for (uint64_t k = 0; k < n; k++) {
      uint32_t len;
      msg_fill(i + k, bufs[k], &len);
      msgs[k] = (struct myelon_batch_msg){.data = bufs[k], .len = len, .kind = (uint8_t)((i + k) % 251)};
    }
    size_t published = 0;
    rc = myelon_producer_publish_batch(p, msgs, n, SLICE_NS, &published);
    timed("myelon_producer_publish_batch", t0, SLICE_NS);
    *done = published;
    return rc;
  }
  uint32_t len;
  msg_fill(i, bufs[0], &len);
  uint8_t kind = (uint8_t)(i % 251);
  if (api == 1) {
    rc = myelon_producer_try_publish(p, bufs[0], len, kind);
    timed("myelon_producer_try_publish", t0, 0);
    if (rc == -EAGAIN) /* full: let the consumers run (a bounded pause, then the caller's stall bound) */
      nanosleep(&(struct timespec){0, 200000}, NULL);
  } else if (api == 3) {
    /* Zero-copy: claim a little more than needed, sometimes abort and
     * claim again. */
    void *buf;
    size_t max = len + rnd(s) % 64;
    if (max > myelon_producer_max_message(p))
      max = len;
    rc = myelon_producer_claim(p, max, &buf, SLICE_NS);
    timed("myelon_producer_claim", t0, SLICE_NS);
    if (rc == 0 && rnd(s) % 16 == 0) {
      t0 = now_ns();
      rc = myelon_producer_abort(p);
      timed("myelon_producer_abort", t0, 0);
      if (rc < 0)
        return rc;
      t0 = now_ns();
      rc = myelon_producer_claim(p, len, &buf, SLICE_NS);
      timed("myelon_producer_claim", t0, SLICE_NS);
    }
    if (rc == 0) {
      memcpy(buf, bufs[0], len);
      t0 = now_ns();
      rc = myelon_producer_commit(p, len, kind);
      timed("myelon_producer_commit", t0, 0);
    }
  } else if (managed) {
    uint64_t failed = 0;
    rc = myelon_producer_publish_managed(p, bufs[0], len, kind, SLICE_NS, &failed);
    timed("myelon_producer_publish_managed", t0, managed_bound(rc, SLICE_NS));
  } else {
    rc = myelon_producer_publish(p, bufs[0], len, kind, SLICE_NS);
    timed("myelon_producer_publish", t0, SLICE_NS);
  }
  *done = rc == 0 ? 1 : 0;
  return rc;
}

static int fbytes_producer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct tally t = {0};
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.backend = backend_of(o);
  pc.ring.name = o->name;
  pc.ring.slot_size = 16u << (rnd(&s) % 3);           /* blocks of 16, 32 or 64 bytes */
  pc.ring_bytes = UINT64_C(1024) << (rnd(&s) % 4);    /* 1..8 KiB: wraps constantly, messages of 0..300 B fit */
  pc.ring.max_consumers = 8;
  pc.ring.wait = wait_of(&s);
  pc.ring.wait_consumers = o->consumers;
  pc.ring.wait_timeout_ns = o->attach_ns;
  pc.format = MYELON_FRAME_BYTES;
  pc.max_message = 64u << 10;
  struct myelon_producer *p;
  int64_t t0 = now_ns();
  int rc = myelon_producer_create(&pc, &p); /* waits for the consumers */
  timed("myelon_producer_create", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &t, HX_SETUP, "create", rc);
  fprintf(stderr, "hostile_role producer: created\n"); /* the driver scribbles after this */
  char ids_buf[256];
  const char *ids[4];
  int managed = enable_liveness(myelon_producer_ring(p), o, &s, ids_buf, ids);
  if (managed < 0) {
    myelon_producer_close(p);
    return finish(o, &t, HX_SETUP, "enable_liveness", managed);
  }
  int64_t progress = now_ns();
  bool gave_up = false;
  int code = HX_OK;
  const char *how = "published every message";
  for (uint64_t i = 0; i < o->count && !gave_up;) {
    int api = (int)(rnd(&s) % 4); /* 0 publish (managed with liveness), 1 try, 2 batch, 3 claim/commit */
    uint64_t n = api == 2 ? 1 + rnd(&s) % 8 : 1;
    if (n > o->count - i)
      n = o->count - i;
    uint64_t done = 0;
    rc = fbytes_publish(p, &s, api, managed > 0, i, n, &done);
    for (uint64_t k = 0; k < done; k++)
      pace(o, i + k);
    i += done;
    t.done = i;
    int st = step_result(o, &t, done ? 0 : rc, &progress, &gave_up);
    if (st < 0) {
      code = HX_STOPPED;
      how = "publish failed";
      break;
    }
  }
  if (gave_up) {
    code = HX_GAVE_UP;
    how = "no space within the stall bound";
  }
  if (code == HX_OK)
    linger(o, myelon_producer_ring(p));
  t0 = now_ns();
  myelon_producer_close(p);
  timed("myelon_producer_close", t0, 0);
  return finish(o, &t, code, how, code == HX_STOPPED ? rc : 0);
}

/* Check one received message (content from the stream, or garbage). */
static void fbytes_check(struct run *r, const void *data, size_t len, uint64_t *last)
{
  r->t.done++;
  uint64_t i = msg_index(data, len);
  if (i == UINT64_MAX)
    r->t.bad++;
  else
    *last = i;
}

static int fbytes_consumer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct run r = {o, {0}, 0, HX_OK, "received the last message", 0, NULL, 0, 0};
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring = ring_ccfg(o, &s);
  cc.format = MYELON_FRAME_BYTES;
  cc.max_message = rnd(&s) % 4 == 0 ? 200 : 64u << 10; /* sometimes below the largest message */
  bool lossy = rnd(&s) % 4 == 0; /* a non-gating reader: Layer 1 copies each record */
  if (lossy)
    cc.ring.flags = (cc.ring.flags & ~DMP_CONSUMER_DURABLE) | DMP_CONSUMER_NON_GATING;
  struct myelon_consumer *c;
  int64_t t0 = now_ns();
  int rc = myelon_consumer_attach_timeout(&cc, o->attach_ns, &c);
  timed("myelon_attach_timeout", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &r.t, HX_SETUP, "attach", rc);
  fprintf(stderr, "hostile_role %s: attached%s\n", o->id, lossy ? " (non-gating)" : "");
  int api = (int)(rnd(&s) % 4); /* 0 recv, 1 recv_copy, 2 recv_into, 3 recv_batch */
  size_t into_cap = rnd(&s) % 2 ? 512 : 128; /* 128: some messages do not fit the caller's buffer */
  identity_start(&r, myelon_consumer_ring(c));
  r.progress = now_ns();
  static uint8_t into[512];
  for (uint64_t last = 0; last != o->count - 1 && !too_many(&r) && !identity_changed(&r);) {
    struct myelon_msg m[16];
    t0 = now_ns();
    if (api == 0) {
      rc = myelon_consumer_recv(c, &m[0], SLICE_NS);
      timed("myelon_recv", t0, SLICE_NS);
      if (rc == 0) {
        fbytes_check(&r, m[0].data, m[0].len, &last);
        myelon_consumer_release(c);
      }
    } else if (api == 1) {
      void *owned = NULL;
      size_t len = 0;
      rc = myelon_consumer_recv_copy(c, &owned, &len, NULL, SLICE_NS);
      timed("myelon_recv_copy", t0, SLICE_NS);
      if (rc == 0) {
        fbytes_check(&r, owned, len, &last);
        free(owned);
      }
    } else if (api == 2) {
      rc = myelon_consumer_recv_into(c, into, into_cap, &m[0], SLICE_NS);
      timed("myelon_recv_into", t0, SLICE_NS);
      if (rc == 1) { /* larger than the buffer: still leased, read in place */
        fbytes_check(&r, m[0].data, m[0].len, &last);
        myelon_consumer_release(c);
        rc = 0;
      } else if (rc == 0) {
        fbytes_check(&r, into, m[0].len, &last);
      }
    } else {
      size_t max = 1 + rnd(&s) % 16;
      int n = myelon_consumer_recv_batch(c, m, max, SLICE_NS);
      timed("myelon_recv_batch", t0, SLICE_NS);
      rc = n < 0 ? n : 0;
      for (int k = 0; k < n; k++)
        fbytes_check(&r, m[k].data, m[k].len, &last);
      if (n > 0)
        myelon_consumer_release(c);
    }
    if (on_result(&r, rc))
      break;
  }
  t0 = now_ns();
  myelon_consumer_close(c);
  timed("myelon_consumer_close", t0, 0);
  return finish(o, &r.t, r.code, r.how, r.rc);
}

static int typed_consumer(const struct opts *o)
{
  uint64_t s = o->seed;
  struct run r = {o, {0}, 0, HX_OK, "received the last value", 0, NULL, 0, 0};
  struct myelon_consumer_config cc = framed_ccfg(o, &s, 256);
  cc.max_message = 64u << 10;
  struct myelon_codec codec;
  tf_codec(&codec);
  struct myelon_typed_consumer *c;
  int64_t t0 = now_ns();
  int rc = myelon_typed_consumer_attach_timeout(&cc, &codec, o->attach_ns, &c);
  timed("typed_attach_timeout", t0, o->attach_ns);
  if (rc < 0)
    return finish(o, &r.t, HX_SETUP, "attach", rc);
  fprintf(stderr, "hostile_role %s: attached\n", o->id);
  bool view = rnd(&s) % 2;
  static msgpack_object nodes[512];
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, nodes, 512, 0);
  struct myelon_view_codec vc;
  myelon_mp_view_codec_init(&vc, &arena);
  static struct tf_order want;
  identity_start(&r, myelon_consumer_ring(myelon_typed_consumer_framed(c)));
  r.progress = now_ns();
  for (uint64_t last = 0; last != o->count - 1 && !too_many(&r) && !identity_changed(&r);) {
    uint8_t kind = 0;
    char why[200];
    if (view) {
      struct myelon_mp_view v;
      t0 = now_ns();
      rc = myelon_typed_consumer_recv_view(c, &vc, &v, &kind, SLICE_NS);
      timed("typed_recv_view", t0, SLICE_NS);
      if (rc == 0) {
        r.t.done++;
        const msgpack_object *seq = myelon_mp_map_get(myelon_mp_view_root(&v), "seq");
        uint64_t i = seq && seq->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? seq->via.u64 : UINT64_MAX;
        if (i < o->count) {
          tf_fill(&want, i, tf_stream_len(i) / 4);
          if (tf_view_equal(myelon_mp_view_root(&v), &want, v.data, v.len, why, sizeof why))
            last = i;
          else
            r.t.bad++;
        } else {
          r.t.bad++;
        }
        myelon_typed_consumer_release(c);
      }
    } else {
      struct tf_order *got = NULL;
      t0 = now_ns();
      rc = myelon_typed_consumer_recv(c, (void **)&got, &kind, SLICE_NS);
      timed("typed_recv", t0, SLICE_NS);
      if (rc == 0) {
        r.t.done++;
        uint64_t i = got->seq;
        if (i < o->count) {
          tf_fill(&want, i, tf_stream_len(i) / 4);
          if (tf_equal(got, &want, why, sizeof why))
            last = i;
          else
            r.t.bad++;
        } else {
          r.t.bad++;
        }
        myelon_codec_free(&codec, got);
      }
    }
    if (on_result(&r, rc))
      break;
  }
  t0 = now_ns();
  myelon_typed_consumer_close(c);
  timed("typed_consumer_close", t0, 0);
  return finish(o, &r.t, r.code, r.how, r.rc);
}

/* ---- main --------------------------------------------------------------------- */

static int parse_kind(const char *s, enum hk_kind *k)
{
  static const char *const names[] = {"raw", "compact", "aligned", "typed", "mp", "bytes", "fbytes"};
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
    if (strcmp(s, names[i]) == 0) {
      *k = (enum hk_kind)i;
      return 0;
    }
  return -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
  if (argc < 2)
    return -1;
  o->producer = strcmp(argv[1], "producer") == 0;
  if (!o->producer && strcmp(argv[1], "consumer") != 0)
    return -1;
  static const struct option longs[] = {
      {"kind", 1, 0, 'k'}, {"name", 1, 0, 'n'},  {"id", 1, 0, 'i'},       {"ids", 1, 0, 'I'},
      {"count", 1, 0, 'c'}, {"consumers", 1, 0, 'C'}, {"seed", 1, 0, 's'}, {"pace-us", 1, 0, 'p'},
      {"stall-ms", 1, 0, 'S'}, {"attach-ms", 1, 0, 'a'}, {"log", 1, 0, 'l'}, {"deadline-ms", 1, 0, 'D'},
      {"mmap", 0, 0, 'm'}, {"attach", 0, 0, 'A'}, {0, 0, 0, 0}};
  int64_t deadline_ns = INT64_C(12000000000);
  o->stall_ns = INT64_C(1000000000);
  o->attach_ns = INT64_C(5000000000);
  int ch;
  optind = 2;
  while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (ch) {
    case 'k': if (parse_kind(optarg, &o->kind) < 0) return -1; break;
    case 'n': o->name = optarg; break;
    case 'i': o->id = optarg; break;
    case 'I': o->ids = optarg; break;
    case 'c': o->count = strtoull(optarg, NULL, 10); break;
    case 'C': o->consumers = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 's': o->seed = strtoull(optarg, NULL, 10); break;
    case 'p': o->pace_us = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'S': o->stall_ns = strtoll(optarg, NULL, 10) * 1000000; break;
    case 'a': o->attach_ns = strtoll(optarg, NULL, 10) * 1000000; break;
    case 'l': o->log = optarg; break;
    case 'D': deadline_ns = strtoll(optarg, NULL, 10) * 1000000; break;
    case 'm': o->mmap_backend = true; break;
    case 'A': o->attach = true; break;
    default: return -1;
    }
  }
  if (!o->name || o->count == 0 || (!o->producer && !o->id) || (o->attach && o->kind != HK_MP))
    return -1;
  o->end_ns = ts_now_ns() + deadline_ns;
  return 0;
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
  struct opts o = {0};
  if (parse(argc, argv, &o) < 0) {
    fprintf(stderr, "usage: hostile_role producer|consumer --kind K --name N --count K [--mmap] [...]\n");
    return HX_USAGE;
  }
  if (o.log) {
    int fd = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
      close(fd);
    }
  }
  setvbuf(stderr, NULL, _IOLBF, 0);
  /* Self-test of the driver's watchdog: HOSTILE_ROLE_HANG=<role> makes
   * that role hang (as a library bug would) instead of running. */
  const char *hang = getenv("HOSTILE_ROLE_HANG");
  if (hang && strcmp(hang, role_name(&o)) == 0) {
    fprintf(stderr, "hostile_role %s: hanging on purpose (HOSTILE_ROLE_HANG)\n", role_name(&o));
    for (;;)
      pause();
  }
  if (o.producer) {
    switch (o.kind) {
    case HK_RAW:
    case HK_MP: return raw_producer(&o);
    case HK_TYPED: return typed_producer(&o);
    case HK_BYTES: return bytes_producer(&o);
    case HK_FBYTES: return fbytes_producer(&o);
    default: return framed_producer(&o);
    }
  }
  switch (o.kind) {
  case HK_RAW:
  case HK_MP: return raw_consumer(&o);
  case HK_TYPED: return typed_consumer(&o);
  case HK_BYTES: return bytes_consumer(&o);
  case HK_FBYTES: return fbytes_consumer(&o);
  default: return framed_consumer(&o);
  }
}
