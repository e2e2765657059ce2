/* Byte rings (bytes.h) and the wait strategies: bytes.h promises that wait
 * strategies and liveness work on byte rings as on slot rings, so every
 * blocking byte-ring call is checked here with every wait kind and both
 * backends:
 *   - the consumer's peek_bytes_timeout() / copy_bytes_timeout() time out
 *     on an empty ring within their timeout (plus ts_slack_ms()), and wake
 *     for a record published by another thread;
 *   - the producer's claim_bytes_timeout() / publish_bytes_timeout() time
 *     out on a full ring, and wake when another thread frees the blocks;
 *   - a waiting consumer whose producer process is SIGKILLed gets
 *     -DMP_E_OWNERDEAD, within a bound, instead of waiting forever.
 * Cross-thread and cross-process waits use generous bounds (UT_LONG_NS)
 * and assert what happened; the only time checked is that a call given a
 * timeout returned within it plus the suite-wide scheduling slack. */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "../unit/unit.h"

static pid_t bw_child = -1;

static void bw_fini(void)
{
  if (bw_child > 0) {
    kill(bw_child, SIGKILL);
    waitpid(bw_child, NULL, 0);
    bw_child = -1;
  }
  ut_fini();
}

TestSuite(bytes_waits, .fini = bw_fini, .timeout = 60);

static const enum dmp_wait_kind kinds[] = {DMP_WAIT_BLOCK, DMP_WAIT_SPIN, DMP_WAIT_YIELD, DMP_WAIT_SLEEP};
/* Indexed by enum dmp_wait_kind. */
static const char *const kind_names[] = {"block", "spin", "yield", "sleep"};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* The 100-byte record every test publishes. */
#define REC_LEN 100
static void rec_fill(uint8_t *b)
{
  for (int j = 0; j < REC_LEN; j++)
    b[j] = (uint8_t)(j * 7 + 1);
}

static bool rec_ok(const void *src, size_t len)
{
  uint8_t want[REC_LEN];
  rec_fill(want);
  return len == REC_LEN && memcmp(src, want, REC_LEN) == 0;
}

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* A byte ring of 1 KiB in 64-byte blocks (16 blocks). */
static struct dmp_producer_config bw_pcfg(enum dmp_backend b, enum dmp_wait_kind k)
{
  struct dmp_producer_config cfg = ut_pcfg(b, "bw");
  cfg.flags |= DMP_RING_BYTES;
  cfg.capacity = 1024;
  cfg.slot_size = 64;
  cfg.wait.kind = k;
  cfg.wait.spins = 16;
  cfg.wait.sleep_ns = 100000;
  return cfg;
}

static struct dmp_consumer *bw_attach(const struct dmp_producer_config *pc, enum dmp_wait_kind k)
{
  struct dmp_consumer_config cc = ut_ccfg(pc, "c");
  cc.wait.kind = k;
  cc.wait.spins = 16;
  cc.wait.sleep_ns = 100000;
  return ut_attach(&cc);
}

/* Asserts that a call given `timeout_ns`, started at `t0`, returned within
 * its timeout plus the scheduling slack every blocking call is held to,
 * not counting the time this thread waited for a CPU (ts_own_ns()). */
static void expect_bounded(struct ts_mark t0, int64_t timeout_ns, const char *what, enum dmp_backend b,
                           enum dmp_wait_kind k)
{
  int64_t wall = ts_now_ns() - t0.wall_ns, took = ts_own_ns(t0);
  int64_t bound = timeout_ns + (int64_t)ts_slack_ms() * 1000000;
  cr_assert(le(i64, took, bound), "%s/%s: %s took %.1f ms (%.1f ms wall), bound %.1f ms", ut_backend_name(b),
            kind_names[k], what, (double)took / 1e6, (double)wall / 1e6, (double)bound / 1e6);
}

struct later {
  struct dmp_producer *p; /* publishes the test record */
  struct dmp_consumer *c; /* or copies one record out */
  int delay_ms;
  int rc;
};

static void *act_later(void *arg)
{
  struct later *l = arg;
  sleep_ms(l->delay_ms);
  if (l->p) {
    uint8_t buf[REC_LEN];
    rec_fill(buf);
    int64_t seq = dmp_producer_try_publish_bytes(l->p, buf, sizeof buf);
    l->rc = seq < 0 ? (int)seq : 0;
  } else {
    uint8_t buf[600];
    size_t len;
    l->rc = dmp_consumer_try_copy_bytes(l->c, buf, sizeof buf, &len, NULL);
  }
  return NULL;
}

Test(bytes_waits, every_consumer_kind_times_out_on_an_empty_ring_and_wakes_for_a_record)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++)
    for (size_t ki = 0; ki < NKINDS; ki++) {
      enum dmp_backend b = ut_backends[bi];
      enum dmp_wait_kind k = kinds[ki];
      struct dmp_producer_config pc = bw_pcfg(b, DMP_WAIT_BLOCK);
      struct dmp_producer *p = ut_create(&pc);
      struct dmp_consumer *c = bw_attach(&pc, k);
      const void *data;
      size_t len;
      int64_t seq;
      uint8_t buf[600];

      struct ts_mark t0 = ts_mark();
      cr_assert(eq(int, dmp_consumer_peek_bytes_timeout(c, &data, &len, &seq, UT_SHORT_NS), -ETIMEDOUT),
                "%s/%s", ut_backend_name(b), kind_names[k]);
      expect_bounded(t0, UT_SHORT_NS, "peek_bytes_timeout on an empty ring", b, k);
      t0 = ts_mark();
      cr_assert(eq(int, dmp_consumer_copy_bytes_timeout(c, buf, sizeof buf, &len, &seq, UT_SHORT_NS), -ETIMEDOUT),
                "%s/%s", ut_backend_name(b), kind_names[k]);
      expect_bounded(t0, UT_SHORT_NS, "copy_bytes_timeout on an empty ring", b, k);

      /* A record published by another thread ends the wait of each call. */
      for (int copy = 0; copy < 2; copy++) {
        struct later l = {.p = p, .delay_ms = 20};
        pthread_t t;
        cr_assert(eq(int, pthread_create(&t, NULL, act_later, &l), 0));
        int rc = copy ? dmp_consumer_copy_bytes_timeout(c, buf, sizeof buf, &len, &seq, UT_LONG_NS)
                      : dmp_consumer_peek_bytes_timeout(c, &data, &len, &seq, UT_LONG_NS);
        pthread_join(t, NULL);
        cr_assert(eq(int, l.rc, 0), "publisher thread: %s", dmp_err_name(l.rc));
        cr_assert(eq(int, rc, 0), "%s/%s: the waiting %s missed the record: %s (%s)", ut_backend_name(b),
                  kind_names[k], copy ? "copy" : "peek", dmp_err_name(rc), dmp_last_error());
        cr_assert(rec_ok(copy ? (const void *)buf : data, len), "%s/%s: wrong record (%zu bytes)",
                  ut_backend_name(b), kind_names[k], len);
        if (!copy)
          dmp_consumer_release(c);
      }
      dmp_consumer_close(c);
      dmp_producer_close(p);
    }
}

Test(bytes_waits, every_producer_kind_times_out_on_a_full_ring_and_wakes_when_blocks_are_freed)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++)
    for (size_t ki = 0; ki < NKINDS; ki++) {
      enum dmp_backend b = ut_backends[bi];
      enum dmp_wait_kind k = kinds[ki];
      struct dmp_producer_config pc = bw_pcfg(b, k);
      struct dmp_producer *p = ut_create(&pc);
      struct dmp_consumer *c = bw_attach(&pc, DMP_WAIT_BLOCK);
      uint8_t buf[100] = {0};
      while (dmp_producer_try_publish_bytes(p, buf, sizeof buf) >= 0) /* 2 blocks each: 8 records */
        ;
      void *data;
      struct ts_mark t0 = ts_mark();
      cr_assert(eq(int, dmp_producer_claim_bytes_timeout(p, 10, &data, UT_SHORT_NS), -ETIMEDOUT), "%s/%s",
                ut_backend_name(b), kind_names[k]);
      expect_bounded(t0, UT_SHORT_NS, "claim_bytes_timeout on a full ring", b, k);
      t0 = ts_mark();
      cr_assert(eq(i64, dmp_producer_publish_bytes_timeout(p, buf, 10, UT_SHORT_NS), -ETIMEDOUT), "%s/%s",
                ut_backend_name(b), kind_names[k]);
      expect_bounded(t0, UT_SHORT_NS, "publish_bytes_timeout on a full ring", b, k);

      /* A record read by another thread frees two blocks: each kind of
       * producer wait sees them. */
      for (int claim = 0; claim < 2; claim++) {
        struct later l = {.c = c, .delay_ms = 20};
        pthread_t t;
        cr_assert(eq(int, pthread_create(&t, NULL, act_later, &l), 0));
        int64_t rc = claim ? dmp_producer_claim_bytes_timeout(p, 100, &data, UT_LONG_NS)
                           : dmp_producer_publish_bytes_timeout(p, buf, 100, UT_LONG_NS);
        pthread_join(t, NULL);
        cr_assert(eq(int, l.rc, 0), "reader thread: %s", dmp_err_name(l.rc));
        cr_assert(ge(i64, rc, 0), "%s/%s: the waiting %s missed the freed blocks: %s (%s)", ut_backend_name(b),
                  kind_names[k], claim ? "claim" : "publish", dmp_err_name((int)rc), dmp_last_error());
        if (claim)
          cr_assert(ge(i64, dmp_producer_publish(p), 0));
      }
      dmp_consumer_close(c);
      dmp_producer_close(p);
    }
}

/* The producer: a child forked here that creates the byte ring, publishes
 * one record once the consumer is attached and stays until killed. */
static void spawn_producer(const struct dmp_producer_config *pc)
{
  fflush(NULL);
  bw_child = fork();
  cr_assert(ge(int, bw_child, 0));
  if (bw_child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct dmp_producer_config cfg = *pc;
    cfg.wait_consumers = 1;
    cfg.wait_timeout_ns = UT_LONG_NS;
    struct dmp_producer *p = NULL;
    if (dmp_producer_create(&cfg, &p) != 0)
      _exit(1);
    uint8_t buf[REC_LEN];
    rec_fill(buf);
    if (dmp_producer_try_publish_bytes(p, buf, sizeof buf) < 0)
      _exit(2);
    for (int i = 0; i < 600; i++) /* 60 s at most: the test kills it long before */
      sleep_ms(100);
    _exit(3);
  }
}

Test(bytes_waits, a_killed_producer_ends_every_kind_of_consumer_wait)
{
  for (int bi = 0; bi < UT_NBACKENDS; bi++)
    for (size_t ki = 0; ki < NKINDS; ki++) {
      enum dmp_backend b = ut_backends[bi];
      enum dmp_wait_kind k = kinds[ki];
      struct dmp_producer_config pc = bw_pcfg(b, DMP_WAIT_BLOCK);
      spawn_producer(&pc);
      struct dmp_consumer_config cc = ut_ccfg(&pc, "c");
      cc.wait.kind = k;
      cc.wait.spins = 16;
      cc.wait.sleep_ns = 100000;
      struct dmp_consumer *c = NULL;
      int rc = dmp_consumer_attach_timeout(&cc, UT_LONG_NS, &c);
      cr_assert(eq(int, rc, 0), "%s/%s: attach: %s (%s)", ut_backend_name(b), kind_names[k], dmp_err_name(rc),
                dmp_last_error());
      uint8_t buf[600];
      size_t len;
      int64_t seq;
      rc = dmp_consumer_copy_bytes_timeout(c, buf, sizeof buf, &len, &seq, UT_LONG_NS);
      cr_assert(eq(int, rc, 0), "%s/%s: the child's record: %s (%s)", ut_backend_name(b), kind_names[k],
                dmp_err_name(rc), dmp_last_error());
      cr_assert(rec_ok(buf, len), "%s/%s: wrong record (%zu bytes)", ut_backend_name(b), kind_names[k], len);
      /* Alive: plain timeouts. */
      rc = dmp_consumer_copy_bytes_timeout(c, buf, sizeof buf, &len, &seq, UT_SHORT_NS);
      cr_assert(eq(int, rc, -ETIMEDOUT), "%s/%s: a live producer: %s (%s)", ut_backend_name(b), kind_names[k],
                dmp_err_name(rc), dmp_last_error());

      kill(bw_child, SIGKILL);
      cr_assert(eq(int, ts_wait(bw_child, ts_timeout_ms(5000)), 128 + SIGKILL));
      bw_child = -1;
      /* Each call alone (one long wait each) ends with OWNERDEAD, well
       * before its timeout. */
      const void *data;
      struct ts_mark t0 = ts_mark();
      rc = dmp_consumer_peek_bytes_timeout(c, &data, &len, &seq, UT_LONG_NS);
      cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "%s/%s: peek_bytes_timeout after the producer died: %s (%s)",
                ut_backend_name(b), kind_names[k], dmp_err_name(rc), dmp_last_error());
      expect_bounded(t0, UT_LONG_NS, "peek_bytes_timeout after the producer died", b, k);
      rc = dmp_consumer_copy_bytes_timeout(c, buf, sizeof buf, &len, &seq, UT_LONG_NS);
      cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "%s/%s: copy_bytes_timeout after the producer died: %s (%s)",
                ut_backend_name(b), kind_names[k], dmp_err_name(rc), dmp_last_error());
      dmp_consumer_close(c);
    }
}
