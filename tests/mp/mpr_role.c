/* mpr_role: the child processes of the multi-producer tests (test_mp_multi.c,
 * test_mp_multi_fault.c): a producer that attaches to a multi-producer ring
 * and publishes stamped messages, and a consumer that checks them.
 *
 *   mpr_role producer BACKEND NAME ID COUNT SEED [DIE_AT [PROGRESS_FILE [DEATH_FILE]]]
 *     attaches as one more producer, publishes messages 0..COUNT-1 of
 *     producer ID in batches of 1..4 (from SEED) and exits 0. DIE_AT >= 0:
 *     at message DIE_AT it claims its batch, writes half of the first
 *     payload, stores CLOCK_MONOTONIC in DEATH_FILE and SIGKILLs itself
 *     (between claim and publish). PROGRESS_FILE ("-": none): after every
 *     publish, the number of its messages published so far (an int64 at
 *     offset 8 * ID of a shared file the test maps), so a kill from outside
 *     at any moment has an oracle.
 *
 *   mpr_role consumer BACKEND NAME CID NPROD TIMEOUT_MS REPORT
 *     attaches as consumer CID (gating) and reads until the ring's
 *     producers are gone and it is drained (-DMP_E_OWNERDEAD). Every
 *     message must carry a valid checksum over all its bytes, and each
 *     producer's messages must come exactly once each, in order
 *     (0, 1, 2, ...). Writes REPORT: count.<id>, next.<id> (one past the
 *     last message seen), tombstones, and tomb_ns.<i> (CLOCK_MONOTONIC when
 *     it first stepped over a new tombstone, up to 64).
 *
 *   mpr_role consumer BACKEND NAME CID NPROD TIMEOUT_MS REPORT resume:FILE
 *     the gating consumer, restartable after a kill -9: before releasing a
 *     message it stores each producer's next expected message in FILE (an
 *     int64 at offset 8 * producer of a shared file), and a restart (same
 *     CID, which resumes after its entry's last release) starts from
 *     there. The one message that may come again is the last one read and
 *     not yet released when it died: allowed once, as the first one.
 *     REPORT's next.<id> are then cumulative over the restarts.
 *
 *   mpr_role consumer BACKEND NAME CID NPROD TIMEOUT_MS REPORT lossy[:SLEEP_US]
 *     the same as a non-gating consumer (DMP_CONSUMER_NON_GATING, copying
 *     reads, SLEEP_US after each message to be lapped): each producer's
 *     messages in order without duplicates, gaps allowed (the producers do
 *     not wait for it). REPORT also has missed= and next= (one past the
 *     last sequence it stepped over or read).
 *
 *   mpr_role lproducer BACKEND NAME ID COUNT REQUIRED REPORT
 *     attaches as producer ID with liveness (DMP_LIVENESS_EVICT, consumer
 *     REQUIRED, 50 ms progress timeout, 60 s grace) and publishes COUNT
 *     messages with dmp_producer_publish_managed(); writes REPORT:
 *     stalled=, dead=, evicted= (alerts it raised), published=; and at
 *     its first stall alert creates the file REPORT.stalled.
 *
 *   mpr_role owner BACKEND NAME ID COUNT SEED NCONS MODE PROGRESS_FILE HOLD_FILE
 *     creates the multi-producer ring (capacity 64, MPR_SLOT bytes, 8
 *     producers): it owns the biased claim (layout.h, "Biased claims").
 *     Waits for NCONS consumers, then publishes messages 0..COUNT-1 of
 *     producer ID (PROGRESS_FILE as `producer`): in batches of 1..4 before
 *     a stop, one claim each (dmp_producer_try_claim() first) after it and
 *     in "run". MODE:
 *     "run"; "stop-in:K": at message K it claims one slot, writes it and
 *     SIGSTOPs itself (between claim and publish), then publishes it;
 *     "stop-out:K": it SIGSTOPs itself after message K - 1 is published
 *     (outside any claim); "run-hold": as "run", for as long as HOLD_FILE
 *     does not exist (COUNT ignored). It closes the ring only once HOLD_FILE exists
 *     (the test's other producers have attached), within 30 s.
 *
 * Exit codes: 0 ok, 2 usage, 3 API error, 4 order/duplicate, 5 checksum
 * (a half-written or foreign payload), 6 timeout. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <disruptor_mp/disruptor_mp.h>

#include "mpr_msg.h"
#include "support.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
  rng_state += UINT64_C(0x9e3779b97f4a7c15);
  return ts_checksum((int64_t)rng_state);
}

/* The sweep SIGSTOPs producers at any moment, also inside their own attach
 * while they hold the ring's consumer table: the library then gives the
 * others -ETIMEDOUT after DMP_TABLE_WAIT_NS ("locked by another process
 * (stopped?)"), as it should, never a hang. These roles know their peers
 * are only paused for up to ~0.5 s, so they try again, bounded. */
#define ATTACH_RETRY_MS 10000

static int attach_producer_retrying(const struct dmp_producer_config *cfg, struct dmp_producer **p)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(ATTACH_RETRY_MS) * 1000000;
  int rc;
  while ((rc = dmp_producer_attach(cfg, p)) == -ETIMEDOUT && ts_now_ns() < deadline)
    usleep(1000);
  return rc;
}

/* A consumer also retries -DMP_E_NOTREADY: the tests start it as soon as
 * the ring's name exists (test_mp_bias.c, wait_ring()), which on MMAP is
 * before its creator has initialised the file (mp_bias's
 * producers_attaching_while_the_owner_streams_* failed so once under load:
 * "segment exists but is not initialised yet"). */
static int attach_consumer_retrying(const struct dmp_consumer_config *cfg, struct dmp_consumer **c)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(ATTACH_RETRY_MS) * 1000000;
  int rc;
  while (((rc = dmp_consumer_attach(cfg, c)) == -ETIMEDOUT || rc == -DMP_E_NOTREADY) && ts_now_ns() < deadline)
    usleep(1000);
  return rc;
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "mpr_role[%d]: ", (int)getpid());
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (last error: %s)\n", dmp_last_error());
  va_end(ap);
  return code;
}

static int producer(enum dmp_backend backend, const char *name, uint32_t id, int64_t count, uint64_t seed,
                    int64_t die_at, const char *progress, const char *death)
{
  rng_state = seed;
  volatile int64_t *prog = NULL;
  if (progress && strcmp(progress, "-") != 0) {
    int fd = open(progress, O_RDWR);
    if (fd < 0)
      return fail(3, "open %s: %s", progress, strerror(errno));
    prog = mmap(NULL, 8 * MPR_MAX_PROD, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (prog == MAP_FAILED)
      return fail(3, "mmap %s", progress);
  }
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = backend;
  cfg.name = name;
  cfg.slot_size = MPR_SLOT;
  struct dmp_producer *p;
  int rc = attach_producer_retrying(&cfg, &p);
  if (rc < 0)
    return fail(3, "attach: %s", dmp_strerror(rc));
  int64_t timeout = (int64_t)ts_timeout_ms(30000) * 1000000;
  for (int64_t i = 0; i < count;) {
    uint64_t n = 1 + rnd() % 4;
    if ((int64_t)n > count - i)
      n = (uint64_t)(count - i);
    int64_t first;
    rc = dmp_producer_claim_batch_timeout(p, n, &first, timeout);
    if (rc < 0)
      return fail(rc == -ETIMEDOUT ? 6 : 3, "claim of %" PRIu64 " at message %" PRId64 ": %s", n, i, dmp_strerror(rc));
    if (die_at >= 0 && i + (int64_t)n > die_at) {
      /* Half a payload, then death between claim and publish. */
      struct mpr_msg m;
      msg_fill(&m, id, i);
      memcpy(dmp_producer_slot(p, first), &m, sizeof m / 2);
      if (death) {
        FILE *f = fopen(death, "w");
        if (f) {
          fprintf(f, "%" PRId64 " %" PRIu64 "\n", ts_now_ns(), n);
          fclose(f);
        }
      }
      raise(SIGKILL);
    }
    for (uint64_t k = 0; k < n; k++) {
      struct mpr_msg m;
      msg_fill(&m, id, i + (int64_t)k);
      memcpy(dmp_producer_slot(p, first + (int64_t)k), &m, sizeof m);
    }
    dmp_producer_publish(p);
    i += (int64_t)n;
    if (prog)
      __atomic_store_n(&prog[id], i, __ATOMIC_RELEASE);
  }
  dmp_producer_close(p);
  return 0;
}

static int owner(enum dmp_backend backend, const char *name, uint32_t id, int64_t count, uint64_t seed,
                 uint32_t ncons, const char *mode, const char *progress, const char *hold)
{
  rng_state = seed;
  int64_t stop_in = -1, stop_out = -1;
  if (strncmp(mode, "stop-in:", 8) == 0)
    stop_in = atoll(mode + 8);
  else if (strncmp(mode, "stop-out:", 9) == 0)
    stop_out = atoll(mode + 9);
  else if (strcmp(mode, "run-hold") == 0)
    count = INT64_MAX; /* until HOLD_FILE exists */
  else if (strcmp(mode, "run") != 0)
    return fail(2, "owner: unknown mode '%s'", mode);
  volatile int64_t *prog = NULL;
  if (strcmp(progress, "-") != 0) {
    int fd = open(progress, O_RDWR);
    if (fd < 0)
      return fail(3, "open %s: %s", progress, strerror(errno));
    prog = mmap(NULL, 8 * MPR_MAX_PROD, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (prog == MAP_FAILED)
      return fail(3, "mmap %s", progress);
  }
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = backend;
  cfg.name = name;
  cfg.capacity = 64;
  cfg.slot_size = MPR_SLOT;
  cfg.max_producers = 8;
  cfg.flags = DMP_RING_MULTI_PRODUCER;
  struct dmp_producer *p;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0)
    return fail(3, "create: %s", dmp_strerror(rc));
  int64_t timeout = (int64_t)ts_timeout_ms(30000) * 1000000;
  rc = dmp_producer_wait_for_consumers(p, ncons, timeout);
  if (rc < 0)
    return fail(6, "wait for %u consumers: %s", ncons, dmp_strerror(rc));
  for (int64_t i = 0; i < count;) {
    if (count == INT64_MAX && (i & 63) == 0 && access(hold, F_OK) == 0)
      break;
    if (i == stop_out)
      raise(SIGSTOP); /* outside any claim */
    /* Batches of 1..4 before a stop (mp_try_claim()), single claims
     * after it and in "run" (the fast path of dmp_impl_mp_claim_next()). */
    bool singles = stop_in < 0 && stop_out < 0 ? true : i >= (stop_in >= 0 ? stop_in : stop_out);
    uint64_t n = singles ? 1 : 1 + rnd() % 4;
    if ((int64_t)n > count - i)
      n = (uint64_t)(count - i);
    if (stop_in > i && (int64_t)n > stop_in - i)
      n = (uint64_t)(stop_in - i); /* message stop_in starts a batch of its own */
    int64_t first = 0;
    void *one = NULL; /* one slot: the inline claim first (its own fast path in multi.c) */
    if (n == 1 && dmp_producer_try_claim(p, &one) == 0)
      rc = 0;
    else {
      one = NULL;
      rc = dmp_producer_claim_batch_timeout(p, n, &first, timeout);
    }
    if (rc < 0)
      return fail(rc == -ETIMEDOUT ? 6 : 3, "claim of %" PRIu64 " at message %" PRId64 ": %s", n, i,
                  dmp_strerror(rc));
    for (uint64_t k = 0; k < n; k++) {
      struct mpr_msg m;
      msg_fill(&m, id, i + (int64_t)k);
      memcpy(one ? one : dmp_producer_slot(p, first + (int64_t)k), &m, sizeof m);
    }
    if (i == stop_in)
      raise(SIGSTOP); /* claimed and written, not published */
    dmp_producer_publish(p);
    i += (int64_t)n;
    if (prog)
      __atomic_store_n(&prog[id], i, __ATOMIC_RELEASE);
  }
  int64_t deadline = ts_now_ns() + timeout;
  while (access(hold, F_OK) != 0 && ts_now_ns() < deadline)
    usleep(1000);
  dmp_producer_close(p);
  return 0;
}

static int consumer(enum dmp_backend backend, const char *name, const char *cid, uint32_t nprod, int timeout_ms,
                    const char *report, const char *mode)
{
  bool lossy = mode && strncmp(mode, "lossy", 5) == 0;
  long sleep_us = lossy && mode[5] == ':' ? atol(mode + 6) : 0;
  volatile int64_t *resume = NULL;
  if (mode && strncmp(mode, "resume:", 7) == 0) {
    int fd = open(mode + 7, O_RDWR);
    if (fd < 0)
      return fail(3, "open %s: %s", mode + 7, strerror(errno));
    resume = mmap(NULL, 8 * MPR_MAX_PROD, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (resume == MAP_FAILED)
      return fail(3, "mmap %s", mode + 7);
  }
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = backend;
  cfg.name = name;
  cfg.id = cid;
  cfg.start = DMP_START_OLDEST;
  if (lossy)
    cfg.flags = DMP_CONSUMER_NON_GATING;
  struct dmp_consumer *c;
  int rc = attach_consumer_retrying(&cfg, &c);
  if (rc < 0)
    return fail(3, "consumer attach: %s", dmp_strerror(rc));
  if (nprod > MPR_MAX_PROD)
    return fail(2, "at most %d producers", MPR_MAX_PROD);
  int64_t next[MPR_MAX_PROD] = {0}, count[MPR_MAX_PROD] = {0};
  bool first_msg = true;
  if (resume)
    for (uint32_t k = 0; k < nprod; k++)
      next[k] = __atomic_load_n(&resume[k], __ATOMIC_ACQUIRE);
  int64_t tomb_ns[64];
  int n_tomb = 0;
  uint64_t tombs = 0;
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(timeout_ms) * 1000000;
  int code = 0;
  for (;;) {
    const void *ev;
    int64_t seq;
    int64_t left = deadline - ts_now_ns();
    if (left <= 0) {
      code = fail(6, "consumer %s: timed out", cid);
      break;
    }
    struct mpr_msg m;
    if (lossy) {
      rc = dmp_consumer_copy_timeout(c, &m, sizeof m, &seq, left);
      ev = &m;
    } else {
      rc = dmp_consumer_peek_timeout(c, &ev, &seq, left);
    }
    if (dmp_consumer_tombstones(c) != tombs) {
      tombs = dmp_consumer_tombstones(c);
      if (n_tomb < 64)
        tomb_ns[n_tomb++] = ts_now_ns();
    }
    if (rc == -DMP_E_OWNERDEAD)
      break;
    if (rc == -ETIMEDOUT)
      continue;
    if (rc < 0) {
      code = fail(3, "peek: %s", dmp_strerror(rc));
      break;
    }
    if (!lossy)
      memcpy(&m, ev, sizeof m);
    /* A restart's first message may be the one its predecessor read and
     * recorded but never released (it died in between): seen again once. */
    bool again = resume && first_msg && m.prod < nprod && m.pseq == next[m.prod] - 1 && msg_ok(&m);
    first_msg = false;
    if (again) {
      dmp_consumer_release(c);
      continue;
    }
    if (!msg_ok(&m)) {
      code = fail(5, "consumer %s: seq %" PRId64 " holds a bad payload (prod %u pseq %" PRId64 ")", cid, seq, m.prod,
                  m.pseq);
      break;
    }
    if (lossy && m.prod < nprod && m.pseq >= next[m.prod])
      next[m.prod] = m.pseq; /* a non-gating reader may miss messages, never go back */
    if (m.prod >= nprod || m.pseq != next[m.prod]) {
      code = fail(4, "consumer %s: seq %" PRId64 ": producer %u message %" PRId64 ", expected %" PRId64, cid, seq,
                  m.prod, m.pseq, m.prod < MPR_MAX_PROD ? next[m.prod] : -1);
      break;
    }
    next[m.prod]++;
    count[m.prod]++;
    if (resume) /* recorded before the release: a kill in between redelivers it */
      __atomic_store_n(&resume[m.prod], next[m.prod], __ATOMIC_RELEASE);
    if (!lossy)
      dmp_consumer_release(c);
    if (sleep_us)
      usleep((useconds_t)sleep_us);
  }
  FILE *f = fopen(report, "w");
  if (f) {
    for (uint32_t k = 0; k < nprod; k++)
      fprintf(f, "count.%u=%" PRId64 "\nnext.%u=%" PRId64 "\n", k, count[k], k, next[k]);
    fprintf(f, "tombstones=%" PRIu64 "\nn_tomb=%d\n", tombs, n_tomb);
    fprintf(f, "missed=%" PRIu64 "\nnext=%" PRId64 "\n", dmp_consumer_missed(c), dmp_consumer_next(c));
    for (int i = 0; i < n_tomb; i++)
      fprintf(f, "tomb_ns.%d=%" PRId64 "\n", i, tomb_ns[i]);
    fprintf(f, "end=1\n");
    fclose(f);
  }
  dmp_consumer_close_forget(c);
  return code;
}

struct lalerts {
  int stalled, dead, evicted;
  const char *stall_file;
};

static void on_alert(const struct dmp_liveness_alert *a, void *user)
{
  struct lalerts *n = user;
  if (a->evicted)
    n->evicted++;
  if (a->dead)
    n->dead++;
  else if (n->stalled++ == 0) {
    FILE *f = fopen(n->stall_file, "w"); /* tells the test: seen as stalled */
    if (f)
      fclose(f);
  }
}

static int lproducer(enum dmp_backend backend, const char *name, uint32_t id, int64_t count, const char *required,
                     const char *report)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = backend;
  cfg.name = name;
  struct dmp_producer *p;
  int rc = attach_producer_retrying(&cfg, &p);
  if (rc < 0)
    return fail(3, "attach: %s", dmp_strerror(rc));
  char stall_file[512];
  snprintf(stall_file, sizeof stall_file, "%s.stalled", report);
  struct lalerts n = {0, 0, 0, stall_file};
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.required_ids = &required;
  lc.n_required = 1;
  lc.action = DMP_LIVENESS_EVICT;
  lc.progress_timeout_ns = INT64_C(50000000);
  lc.grace_ns = INT64_C(60000000000);
  lc.alert = on_alert;
  lc.user = &n;
  lc.quiet = true;
  rc = dmp_producer_enable_liveness(p, &lc);
  if (rc < 0)
    return fail(3, "enable liveness: %s", dmp_strerror(rc));
  int64_t timeout = (int64_t)ts_timeout_ms(30000) * 1000000, i = 0;
  int code = 0;
  for (; i < count; i++) {
    struct mpr_msg m;
    msg_fill(&m, id, i);
    int64_t seq = dmp_producer_publish_managed(p, &m, sizeof m, timeout);
    if (seq < 0) {
      code = fail(seq == -ETIMEDOUT ? 6 : 3, "publish_managed of message %" PRId64 ": %s", i,
                  dmp_strerror((int)seq));
      break;
    }
  }
  FILE *f = fopen(report, "w");
  if (f) {
    fprintf(f, "stalled=%d\ndead=%d\nevicted=%d\npublished=%" PRId64 "\nend=1\n", n.stalled, n.dead, n.evicted, i);
    fclose(f);
  }
  dmp_producer_close(p);
  return code;
}

int main(int argc, char **argv)
{
  if (argc < 4)
    return 2;
  enum dmp_backend backend;
  if (dmp_backend_parse(argv[2], &backend) < 0)
    return 2;
  if (strcmp(argv[1], "producer") == 0 && argc >= 7)
    return producer(backend, argv[3], (uint32_t)atoi(argv[4]), atoll(argv[5]), strtoull(argv[6], NULL, 10),
                    argc > 7 ? atoll(argv[7]) : -1, argc > 8 ? argv[8] : NULL, argc > 9 ? argv[9] : NULL);
  if (strcmp(argv[1], "consumer") == 0 && argc >= 8)
    return consumer(backend, argv[3], argv[4], (uint32_t)atoi(argv[5]), atoi(argv[6]), argv[7],
                    argc > 8 ? argv[8] : NULL);
  if (strcmp(argv[1], "owner") == 0 && argc >= 11)
    return owner(backend, argv[3], (uint32_t)atoi(argv[4]), atoll(argv[5]), strtoull(argv[6], NULL, 10),
                 (uint32_t)atoi(argv[7]), argv[8], argv[9], argv[10]);
  if (strcmp(argv[1], "lproducer") == 0 && argc >= 8)
    return lproducer(backend, argv[3], (uint32_t)atoi(argv[4]), atoll(argv[5]), argv[6], argv[7]);
  return 2;
}
