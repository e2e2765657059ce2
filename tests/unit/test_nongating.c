/* Non-gating (lossy) consumers (config.h DMP_CONSUMER_NON_GATING; consumer.h,
 * "Non-gating consumers"): the producer never waits for one; one that keeps
 * up sees every event byte-exact; one that falls behind sees strictly
 * increasing sequences, missed() equal to the gaps, and never a torn event,
 * against a producer in another process running flat out over a tiny ring.
 * Leases into the ring are refused; process() works through a copy; the
 * table, discovery, dmp-stat's inspector and liveness treat the entry as
 * never gating.
 *
 * Events are 64 bytes: word 0 the sequence, words 1..7 derived from it, so
 * a copy mixing two events (torn) or carrying another event fails the check. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h> /* the test's own shared words (the library uses atomics.h) */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "unit.h"

#define NG_SLOT 64u
#define NG_WORDS (NG_SLOT / 8u)
/* Criterion's per-test bound for the cross-process cases (each wait inside
 * is bounded far below it). */
#define NG_TIMEOUT 60

TestSuite(nongating, .fini = ut_fini, .timeout = UT_TIMEOUT);

static uint64_t ng_word(int64_t seq, unsigned i)
{
  return i == 0 ? (uint64_t)seq : ts_checksum(seq) ^ ((uint64_t)i * UINT64_C(0x9e3779b97f4a7c15));
}

static void ng_fill(void *slot, int64_t seq)
{
  uint64_t w[NG_WORDS];
  for (unsigned i = 0; i < NG_WORDS; i++)
    w[i] = ng_word(seq, i);
  memcpy(slot, w, sizeof w);
}

/* True if `ev` is exactly event `seq`. */
static bool ng_intact(const void *ev, int64_t seq)
{
  uint64_t w[NG_WORDS];
  memcpy(w, ev, sizeof w);
  for (unsigned i = 0; i < NG_WORDS; i++)
    if (w[i] != ng_word(seq, i))
      return false;
  return true;
}

static struct dmp_producer_config ng_pcfg(enum dmp_backend b, uint64_t capacity)
{
  struct dmp_producer_config pc = ut_pcfg(b, "ng");
  pc.capacity = capacity;
  pc.slot_size = NG_SLOT;
  return pc;
}

static struct dmp_consumer *ng_attach(const struct dmp_producer_config *pc, const char *id)
{
  struct dmp_consumer_config cc = ut_ccfg(pc, id);
  cc.flags = DMP_CONSUMER_NON_GATING;
  return ut_attach(&cc);
}

static int64_t ng_publish(struct dmp_producer *p)
{
  void *slot;
  int rc = dmp_producer_try_claim(p, &slot);
  cr_assert(eq(int, rc, 0), "try_claim at %lld: %s (a non-gating consumer must never fill the ring)",
            (long long)(dmp_producer_sequence(p) + 1), dmp_err_name(rc));
  ng_fill(slot, dmp_producer_sequence(p) + 1);
  return dmp_producer_publish(p);
}

struct ng_check {
  int64_t prev, got, gaps;
  bool bad;
  char why[200];
};

static void ng_check_one(struct ng_check *k, const void *ev, int64_t seq)
{
  if (k->bad)
    return;
  if (seq <= k->prev) {
    k->bad = true;
    snprintf(k->why, sizeof k->why, "sequence %lld after %lld", (long long)seq, (long long)k->prev);
  } else if (!ng_intact(ev, seq)) {
    k->bad = true;
    uint64_t w0;
    memcpy(&w0, ev, sizeof w0);
    snprintf(k->why, sizeof k->why, "torn or wrong event at sequence %lld (word 0 = %lld)", (long long)seq,
             (long long)w0);
  }
  k->gaps += seq - k->prev - 1;
  k->prev = seq;
  k->got++;
}

static int ng_check_cb(const void *event, int64_t seq, bool end_of_batch, void *user)
{
  (void)end_of_batch;
  ng_check_one(user, event, seq);
  return 0;
}

Test(nongating, config_refuses_non_gating_with_durable)
{
  struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, 8);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer_config cc = ut_ccfg(&pc, "ng");
  cc.flags = DMP_CONSUMER_NON_GATING | DMP_CONSUMER_DURABLE;
  struct dmp_consumer *c = (struct dmp_consumer *)1;
  cr_assert(eq(int, dmp_consumer_attach(&cc, &c), -DMP_E_BADCONFIG));
  cr_assert(eq(ptr, c, NULL));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "DURABLE"), NULL), "%s", dmp_last_error());
  dmp_producer_close(p);
}

Test(nongating, producer_never_blocks_on_one_that_does_not_read)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    struct dmp_producer_config pc = ng_pcfg(ut_backends[b], 4);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = ng_attach(&pc, "lossy");
    for (int i = 0; i < 1000; i++)
      ng_publish(p); /* asserts every claim succeeds */
    /* Blocking claims do not wait either. */
    void *slot;
    cr_assert(eq(int, dmp_producer_claim_timeout(p, &slot, 0), 0));
    ng_fill(slot, 1000);
    dmp_producer_publish(p);
    cr_assert(eq(i64, dmp_producer_min_gating_sequence(p), 1000), "nobody gates");

    struct dmp_consumer_info info;
    cr_assert(eq(int, dmp_producer_consumer_info(p, "lossy", &info), 0));
    cr_assert(eq(int, (int)info.state, DMP_ENTRY_ACTIVE));
    cr_assert(info.alive);
    cr_assert(not(info.gating), "a non-gating entry reported as gating");
    cr_assert(info.non_gating);
    cr_assert(not(info.durable));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(nongating, only_the_gating_consumer_holds_the_producer_back)
{
  struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, 8);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *lossy = ng_attach(&pc, "lossy");
  struct dmp_consumer_config gc = ut_ccfg(&pc, "gate");
  struct dmp_consumer *gate = ut_attach(&gc);
  for (int i = 0; i < 8; i++)
    ng_publish(p);
  void *slot;
  cr_assert(eq(int, dmp_producer_try_claim(p, &slot), -EAGAIN), "the gating consumer must fill the ring");
  cr_assert(eq(i64, dmp_producer_min_gating_sequence(p), -1));
  /* The gating consumer frees one slot; the lossy one reading changes nothing. */
  const void *ev;
  int64_t seq;
  cr_assert(eq(int, dmp_consumer_try_peek(gate, &ev, &seq), 0));
  dmp_consumer_release(gate);
  cr_assert(eq(int, dmp_producer_try_claim(p, &slot), 0));
  ng_fill(slot, 8);
  dmp_producer_publish(p);
  dmp_consumer_close(gate);
  dmp_consumer_close(lossy);
  dmp_producer_close(p);
}

Test(nongating, leases_are_refused_with_a_reason)
{
  struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, 8);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = ng_attach(&pc, "lossy");
  ng_publish(p);
  const void *ev = NULL;
  int64_t seq = -7;
  cr_assert(eq(int, dmp_consumer_try_peek(c, &ev, &seq), -EINVAL));
  cr_assert(ne(ptr, strstr(dmp_last_error(), "non-gating"), NULL), "%s", dmp_last_error());
  cr_assert(eq(ptr, (void *)ev, NULL));
  cr_assert(eq(i64, seq, -7));
  /* available() does not open the inline fast path either. */
  cr_assert(eq(i64, dmp_consumer_available(c), 1));
  cr_assert(eq(int, dmp_consumer_try_peek(c, &ev, &seq), -EINVAL));
  cr_assert(eq(int, dmp_consumer_peek_timeout(c, &ev, &seq, UT_SHORT_NS), -EINVAL));
  /* The copying read still works and finds the event. */
  uint8_t buf[NG_SLOT];
  cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &seq), 0));
  cr_assert(eq(i64, seq, 0));
  cr_assert(ng_intact(buf, 0));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* A reader that never lags by capacity / 2 or more sees every event. */
Test(nongating, one_that_keeps_up_sees_every_event_byte_exact)
{
  for (int b = 0; b < UT_NBACKENDS; b++) {
    const uint64_t cap = 16;
    struct dmp_producer_config pc = ng_pcfg(ut_backends[b], cap);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = ng_attach(&pc, "lossy");
    int64_t expect = 0;
    for (int round = 0; round < 3000; round++) {
      int k = 1 + round % (int)(cap / 2); /* 1 .. capacity / 2 behind */
      for (int i = 0; i < k; i++)
        ng_publish(p);
      uint8_t buf[NG_SLOT];
      int64_t seq;
      for (int i = 0; i < k; i++) {
        int rc = i % 2 ? dmp_consumer_try_copy(c, buf, sizeof buf, &seq)
                       : dmp_consumer_copy_timeout(c, buf, sizeof buf, &seq, UT_LONG_NS);
        cr_assert(eq(int, rc, 0), "%s round %d: %s", ut_backend_name(ut_backends[b]), round, dmp_err_name(rc));
        cr_assert(eq(i64, seq, expect), "%s round %d: skipped to %lld (missed %llu)",
                  ut_backend_name(ut_backends[b]), round, (long long)seq,
                  (unsigned long long)dmp_consumer_missed(c));
        cr_assert(ng_intact(buf, seq), "event %lld not byte-exact", (long long)seq);
        expect++;
      }
      int64_t none;
      cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &none), -EAGAIN));
    }
    cr_assert(eq(u64, dmp_consumer_missed(c), 0));
    cr_assert(eq(i64, dmp_consumer_sequence(c), expect - 1));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

struct ng_batch {
  int64_t expect;
  int64_t calls;
  int64_t ends;
  bool bad;
  char why[160];
};

static int ng_collect(const void *event, int64_t seq, bool end_of_batch, void *user)
{
  struct ng_batch *b = user;
  if (!b->bad && (seq != b->expect || !ng_intact(event, seq) || ((uintptr_t)event % 8) != 0)) {
    b->bad = true;
    snprintf(b->why, sizeof b->why, "seq %lld (expected %lld), intact %d", (long long)seq, (long long)b->expect,
             (int)ng_intact(event, seq));
  }
  b->expect = seq + 1;
  b->calls++;
  b->ends += end_of_batch;
  return 0;
}

Test(nongating, process_copies_and_validates)
{
  const uint64_t cap = 8;
  struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, cap);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = ng_attach(&pc, "lossy");
  struct ng_batch b = {0};
  for (int round = 0; round < 500; round++) {
    int k = 1 + round % (int)(cap / 2);
    for (int i = 0; i < k; i++)
      ng_publish(p);
    int64_t n = dmp_consumer_process(c, ng_collect, 0, &b);
    cr_assert(eq(i64, n, k), "round %d", round);
    cr_assert(not(b.bad), "round %d: %s", round, b.why);
  }
  cr_assert(eq(i64, b.ends, 500), "one end_of_batch per call");
  cr_assert(eq(u64, dmp_consumer_missed(c), 0));
  /* `max` is honoured. */
  for (int i = 0; i < 3; i++)
    ng_publish(p);
  cr_assert(eq(i64, dmp_consumer_process(c, ng_collect, 2, &b), 2));
  cr_assert(eq(i64, dmp_consumer_process(c, ng_collect, 2, &b), 1));
  cr_assert(eq(i64, dmp_consumer_process(c, ng_collect, 0, &b), 0));
  cr_assert(not(b.bad), "%s", b.why);
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(nongating, one_that_fell_behind_skips_to_intact_events_and_counts_them)
{
  for (int mode = 0; mode < 2; mode++) {
    const uint64_t cap = 4;
    struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, cap);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = ng_attach(&pc, "lossy");
    for (int i = 0; i < 100; i++)
      ng_publish(p);
    uint8_t buf[NG_SLOT];
    int64_t first = -1;
    if (mode == 0) {
      cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &first), 0));
      cr_assert(ng_intact(buf, first));
    } else {
      struct ng_check k = {.prev = -1};
      cr_assert(eq(i64, dmp_consumer_process(c, ng_check_cb, 1, &k), 1));
      cr_assert(not(k.bad), "%s", k.why);
      first = k.prev;
    }
    cr_assert(lt(i64, 0, first), "events 0.. were overwritten: the read must skip");
    cr_assert(lt(i64, 100 - (int64_t)cap - 1, first), "skipped to %lld, older than the ring holds", (long long)first);
    cr_assert(eq(u64, dmp_consumer_missed(c), (uint64_t)first), "missed() counts exactly the skipped events");
    int64_t seq, prev = first;
    while (dmp_consumer_try_copy(c, buf, sizeof buf, &seq) == 0) {
      cr_assert(eq(i64, seq, prev + 1));
      cr_assert(ng_intact(buf, seq));
      prev = seq;
    }
    cr_assert(eq(i64, prev, 99));
    cr_assert(eq(u64, dmp_consumer_missed(c), (uint64_t)first));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

/* The boundary case, made deterministic: the reader is exactly at
 * gate_limit - capacity and the producer has claimed and written (not yet
 * published) everything up to gate_limit, so the reader's next slot holds a
 * newer event. The read must skip it, never return it as the old one. */
Test(nongating, a_slot_being_rewritten_is_never_returned)
{
  /* Capacity 2 is left out: this schedule never reaches the boundary state
   * with it (0 hits in 80 steps), so it would test nothing. */
  static const uint64_t caps[] = {4, 8, 16};
  for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
    const uint64_t cap = caps[ci];
    const int64_t lag = (int64_t)cap / 2 + 1; /* one more than a lossless reader may lag */
    struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, cap);
    struct dmp_producer *p = ut_create(&pc);
    struct dmp_consumer *c = ng_attach(&pc, "lossy");
    struct ng_check k = {.prev = -1};
    uint8_t buf[NG_SLOT];
    int64_t seq;
    int hits = 0;
    for (int step = 0; step < 40 * (int)cap; step++) {
      ng_publish(p);
      int64_t published = dmp_producer_sequence(p);
      int64_t limit = dmp_impl_load_relaxed(&p->ring.ctl->gate_limit);
      if (limit - (int64_t)cap == c->next && c->next <= published && p->claim_end <= limit) {
        int64_t s = c->next;
        while (p->claim_end <= limit) { /* inside the window: no rescan */
          void *slot;
          cr_assert(eq(int, dmp_producer_try_claim(p, &slot), 0));
          ng_fill(slot, p->claim_end - 1);
        }
        int rc = dmp_consumer_try_copy(c, buf, sizeof buf, &seq);
        cr_assert(eq(int, rc, 0), "cap %llu: %s", (unsigned long long)cap, dmp_err_name(rc));
        cr_assert(lt(i64, s, seq), "cap %llu: returned sequence %lld from a slot the producer rewrote",
                  (unsigned long long)cap, (long long)s);
        ng_check_one(&k, buf, seq);
        dmp_producer_publish(p);
        hits++;
        continue;
      }
      while (published - (c->next - 1) > lag) {
        cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &seq), 0));
        ng_check_one(&k, buf, seq);
      }
      cr_assert(not(k.bad), "cap %llu: %s", (unsigned long long)cap, k.why);
    }
    cr_assert(not(k.bad), "cap %llu: %s", (unsigned long long)cap, k.why);
    cr_assert(lt(int, 0, hits), "cap %llu: the boundary case never came up", (unsigned long long)cap);
    cr_assert(eq(u64, dmp_consumer_missed(c), (uint64_t)k.gaps));
    dmp_consumer_close(c);
    dmp_producer_close(p);
  }
}

Test(nongating, resumes_by_id_and_stays_non_gating)
{
  struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, 8);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = ng_attach(&pc, "lossy");
  ng_publish(p);
  uint8_t buf[NG_SLOT];
  int64_t seq;
  cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &seq), 0));
  dmp_consumer_close(c);
  for (int i = 0; i < 3; i++)
    ng_publish(p);
  c = ng_attach(&pc, "lossy");
  cr_assert(eq(int, dmp_consumer_try_copy(c, buf, sizeof buf, &seq), 0));
  cr_assert(eq(i64, seq, 1), "resumes after what it read");
  for (int i = 0; i < 100; i++)
    ng_publish(p);
  struct dmp_consumer_info info;
  cr_assert(eq(int, dmp_producer_consumer_info(p, "lossy", &info), 0));
  cr_assert(info.non_gating);
  cr_assert(not(info.gating));
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

Test(nongating, inspector_shows_it_and_does_not_count_it_as_gating)
{
  struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, 4);
  struct dmp_producer *p = ut_create(&pc);
  struct dmp_consumer *c = ng_attach(&pc, "lossy");
  for (int i = 0; i < 10; i++)
    ng_publish(p);
  struct dmp_inspect *in = NULL;
  cr_assert(eq(int, dmp_inspect_open(DMP_BACKEND_SHM, pc.name, &in), 0), "%s", dmp_last_error());
  const struct dmp_ring_stat *s = NULL;
  cr_assert(eq(int, dmp_inspect_sample(in, &s), 0), "%s", dmp_last_error());
  cr_assert(eq(u32, s->n_consumers, 1));
  cr_assert(s->consumers[0].non_gating);
  cr_assert(not(s->consumers[0].gating));
  cr_assert(not(s->full), "a non-gating consumer lagging a full ring does not make it full");
  cr_assert(eq(i64, s->consumers[0].lag, 10));
  dmp_inspect_close(in);
  dmp_consumer_close(c);
  dmp_producer_close(p);
}

/* ---- liveness ignores it ------------------------------------------------- */

static pid_t ng_child = -1;

static void ng_kill_child(void)
{
  if (ng_child > 0) {
    kill(ng_child, SIGKILL);
    waitpid(ng_child, NULL, 0);
    ng_child = -1;
  }
  ut_fini();
}

TestSuite(nongating_liveness, .fini = ng_kill_child, .timeout = UT_TIMEOUT);

/* Attach non-gating consumer `id` in a child that exits without detaching:
 * its entry stays ACTIVE with no live holder (dead). */
static void ng_dead_consumer(struct dmp_producer *p, const struct dmp_producer_config *pc, const char *id)
{
  fflush(NULL);
  ng_child = fork();
  cr_assert(ge(int, ng_child, 0));
  if (ng_child == 0) {
    struct dmp_consumer_config cc = ut_ccfg(pc, id);
    cc.flags = DMP_CONSUMER_NON_GATING;
    struct dmp_consumer *c = NULL;
    _exit(dmp_consumer_attach(&cc, &c) == 0 ? 0 : 1);
  }
  cr_assert(eq(int, ts_wait(ng_child, ts_timeout_ms(5000)), 0), "child could not attach");
  ng_child = -1;
  struct dmp_consumer_info info;
  cr_assert(eq(int, dmp_producer_consumer_info(p, id, &info), 0));
  cr_assert(eq(int, (int)info.state, DMP_ENTRY_ACTIVE));
  cr_assert(not(info.alive));
}

Test(nongating_liveness, a_dead_non_gating_consumer_is_not_evicted_and_never_stalls)
{
  struct dmp_producer_config pc = ng_pcfg(DMP_BACKEND_SHM, 4);
  struct dmp_producer *p = ut_create(&pc);
  ng_dead_consumer(p, &pc, "lossy");
  /* A live gating consumer that does not read makes managed claims block,
   * so the liveness checks run. */
  struct dmp_consumer_config gc = ut_ccfg(&pc, "gate");
  struct dmp_consumer *gate = ut_attach(&gc);
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  const char *required[] = {"lossy"};
  lc.required_ids = required;
  lc.n_required = 1;
  lc.progress_timeout_ns = INT64_C(20000000);
  lc.check_interval_ns = INT64_C(2000000);
  lc.grace_ns = INT64_C(40000000);
  lc.action = DMP_LIVENESS_EVICT;
  lc.quiet = true;
  cr_assert(eq(int, dmp_producer_enable_liveness(p, &lc), 0));
  uint8_t ev[NG_SLOT];
  for (int i = 0; i < 4; i++) {
    ng_fill(ev, i);
    cr_assert(eq(i64, dmp_producer_publish_managed(p, ev, sizeof ev, UT_LONG_NS), i));
  }
  /* Full because of `gate` only; blocked well past progress + grace. */
  ng_fill(ev, 4);
  int64_t rc = dmp_producer_publish_managed(p, ev, sizeof ev, INT64_C(200000000));
  cr_assert(eq(i64, rc, -ETIMEDOUT), "%s: %s", dmp_err_name((int)rc), dmp_last_error());
  struct dmp_consumer_info info;
  cr_assert(eq(int, dmp_producer_consumer_info(p, "lossy", &info), 0), "the dead non-gating entry was evicted");
  cr_assert(eq(int, (int)info.state, DMP_ENTRY_ACTIVE));
  dmp_consumer_close(gate);
  dmp_producer_close(p);
}

/* ---- against a producer in another process, flat out ------------------- */

/* Shared with the producer child (MAP_SHARED | MAP_ANONYMOUS). */
struct ng_shared {
  _Atomic int stop;      /* consumer -> producer: enough read, finish */
  _Atomic int64_t total; /* producer -> consumer: events published (-1: running) */
};

#define NG_MAX_EVENTS INT64_C(10000000)
#define NG_PRODUCER_MS 8000

/* The producer child: create the ring, wait for our consumer, publish as
 * fast as it can until told to stop (or a bound), record the count, close.
 * Exit 0, or 1.. on a failure. */
static int ng_producer_main(struct dmp_producer_config pc, struct ng_shared *sh)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  pc.wait_consumers = 1;
  pc.wait_timeout_ns = (int64_t)ts_timeout_ms(10000) * 1000000;
  struct dmp_producer *p = NULL;
  if (dmp_producer_create(&pc, &p) != 0)
    return 1;
  int64_t end_ns = ts_now_ns() + (int64_t)ts_timeout_ms(NG_PRODUCER_MS) * 1000000;
  int64_t s = 0;
  for (; s < NG_MAX_EVENTS; s++) {
    if ((s & 1023) == 0 && (atomic_load(&sh->stop) || ts_now_ns() > end_ns))
      break;
    void *slot;
    if (dmp_producer_try_claim(p, &slot) != 0)
      return 2; /* the non-gating consumer made it wait */
    ng_fill(slot, s);
    dmp_producer_publish(p);
  }
  atomic_store(&sh->total, s);
  dmp_producer_close(p);
  return 0;
}

static void ng_pause_us(int us)
{
  struct timespec ts = {0, (long)us * 1000};
  nanosleep(&ts, NULL);
}

/* mode 0: try_copy / copy_timeout; mode 1: process(). Reads until it has
 * validated NG_TARGET events (or the producer hit its bound), pausing now
 * and then so that it falls behind, then reads the rest to the end. */
#define NG_TARGET 5000
static void ng_fall_behind(enum dmp_backend backend, int mode, uint64_t capacity)
{
  struct dmp_producer_config pc = ng_pcfg(backend, capacity);
  struct ng_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(ne(ptr, sh, MAP_FAILED));
  atomic_store(&sh->stop, 0);
  atomic_store(&sh->total, -1);
  fflush(NULL);
  ng_child = fork();
  cr_assert(ge(int, ng_child, 0));
  if (ng_child == 0)
    _exit(ng_producer_main(pc, sh));

  struct dmp_consumer_config cc = ut_ccfg(&pc, "lossy");
  cc.flags = DMP_CONSUMER_NON_GATING;
  cc.wait.kind = DMP_WAIT_SPIN;
  struct dmp_consumer *c = NULL;
  int rc = dmp_consumer_attach_timeout(&cc, (int64_t)ts_timeout_ms(10000) * 1000000, &c);
  cr_assert(eq(int, rc, 0), "attach: %s / %s", dmp_err_name(rc), dmp_last_error());

  struct ng_check k = {.prev = -1};
  uint8_t buf[NG_SLOT];
  int64_t total = -1, paused_at = 0;
  while (!k.bad) {
    if (k.got >= NG_TARGET)
      atomic_store(&sh->stop, 1);
    total = atomic_load(&sh->total);
    if (total >= 0 && k.prev >= total - 1)
      break; /* read to the end */
    if (mode == 0) {
      int64_t seq;
      rc = dmp_consumer_copy_timeout(c, buf, sizeof buf, &seq, UT_LONG_NS);
      if (rc == -DMP_E_OWNERDEAD)
        continue; /* closed: `total` is set now */
      cr_assert(eq(int, rc, 0), "copy_timeout after %lld: %s / %s", (long long)k.prev, dmp_err_name(rc),
                dmp_last_error());
      ng_check_one(&k, buf, seq);
    } else {
      int64_t got = dmp_consumer_process(c, ng_check_cb, 16, &k);
      cr_assert(ge(i64, got, 0));
      if (got == 0) {
        int64_t n = dmp_consumer_wait(c, UT_LONG_NS);
        cr_assert(n > 0 || n == -DMP_E_OWNERDEAD, "no event after %lld: %s", (long long)k.prev,
                  dmp_err_name((int)n));
      }
    }
    /* Fall behind now and then: bursts of reading, then a pause. */
    if (k.got - paused_at >= 512) {
      paused_at = k.got;
      ng_pause_us(200);
    }
  }
  cr_assert(not(k.bad), "%s backend, %s: %s", ut_backend_name(backend), mode ? "process" : "copy", k.why);
  cr_assert(eq(i64, k.prev, total - 1), "the last event is never overwritten: it must be read");
  cr_assert(eq(u64, dmp_consumer_missed(c), (uint64_t)k.gaps), "missed() must equal the gaps (%lld read)",
            (long long)k.got);
  cr_assert(eq(i64, k.got + k.gaps, total));
  cr_log_info("%s/%s/%llu slots: %lld of %lld events read and validated, %lld missed", ut_backend_name(backend),
              mode ? "process" : "copy", (unsigned long long)capacity, (long long)k.got, (long long)total,
              (long long)k.gaps);
  int st = ts_wait(ng_child, ts_timeout_ms(20000));
  ng_child = -1;
  cr_assert(eq(int, st, 0), "producer child exited %d (2: it was blocked by the non-gating consumer)", st);
  dmp_consumer_close(c);
  munmap(sh, sizeof *sh);
}

/* 8 slots: nearly every copy races the producer; 64: most copies succeed,
 * so the validation passes often and a torn one would be seen. */
Test(nongating_flat_out, falls_behind_without_torn_events_copy_shm_8) { ng_fall_behind(DMP_BACKEND_SHM, 0, 8); }
Test(nongating_flat_out, falls_behind_without_torn_events_copy_shm_64) { ng_fall_behind(DMP_BACKEND_SHM, 0, 64); }
Test(nongating_flat_out, falls_behind_without_torn_events_copy_mmap_8) { ng_fall_behind(DMP_BACKEND_MMAP, 0, 8); }
Test(nongating_flat_out, falls_behind_without_torn_events_process_shm_8) { ng_fall_behind(DMP_BACKEND_SHM, 1, 8); }
Test(nongating_flat_out, falls_behind_without_torn_events_process_shm_64) { ng_fall_behind(DMP_BACKEND_SHM, 1, 64); }
