/*
 * Threaded twin of the multiprocess protocol tests (suite 'threaded', issue
 * 15): the same segment mapped by several threads of ONE process, each
 * role a thread with its own dmp handles (its own mapping, descriptor and
 * OFD locks, exactly as a separate process would have). ThreadSanitizer
 * sees threads only, never two processes, so this is how the memory
 * ordering of the cross-process protocol gets race-checked: .ci/sanitize
 * runs this suite under TSan (and ASan).
 *
 *   broadcast       one producer, consumers with every wait strategy, all
 *                   gating; batches; sequence + checksum oracle on every byte
 *   blocking        a ring of 8 slots: the producer parks on a full ring,
 *                   consumers park on an empty one (wake-up protocol)
 *   churn           consumers attach and detach (close / close_forget) over
 *                   and over while gating readers read everything
 *   non_gating      a reader that never gates copies events while the
 *                   producer laps it; every copy it accepts is intact
 *   producer_death  the producer's handle closes mid-stream: every consumer
 *                   drains and gets -DMP_E_OWNERDEAD
 *
 * Every wait is bounded (each call has a timeout, each thread a deadline).
 *
 * One segment, one address. Each handle maps the segment itself, so in one
 * process the roles would see the same memory at different addresses, and
 * TSan, which relates accesses by address, would see no sharing at all
 * (every run clean, proving nothing). This executable therefore interposes
 * mmap()/munmap(): a MAP_SHARED mapping of a file that is already mapped
 * with the same length and protection returns that very mapping (counted;
 * the last munmap unmaps it). The library cannot tell: it is the memory it
 * asked for. The memory ordering under test is unchanged - only now TSan
 * can relate the producer's stores to the consumers' loads.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <criterion/criterion.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

#define MS INT64_C(1000000)
#define SLOT 64u
#define MAX_THREADS 8
#define DEADLINE_MS 60000

/* ---- one address per segment (see the top of the file) ------------------- */

#define MAX_ALIASES 64

static struct alias {
  dev_t dev;
  ino_t ino;
  size_t len;
  int prot, refs;
  void *addr;
} aliases[MAX_ALIASES];
/* Not instrumented: a sanitizer's own report code (its symbolizer) maps
 * and unmaps memory through these very functions, holding its internal
 * locks; an instrumented access here would make it report (and wait for)
 * itself. A plain spinlock for the same reason (pthread mutexes are
 * intercepted); the guard sends a nested call of the holding thread
 * straight on. */
#define NO_TSAN __attribute__((no_sanitize_thread))
static _Atomic int alias_lock;
static _Thread_local bool alias_held;

NO_TSAN static bool alias_enter(void)
{
  if (alias_held)
    return false;
  /* acquire: pairs with the release in alias_leave() */
  while (atomic_exchange_explicit(&alias_lock, 1, memory_order_acquire))
    ;
  alias_held = true;
  return true;
}

NO_TSAN static void alias_leave(void)
{
  alias_held = false;
  atomic_store_explicit(&alias_lock, 0, memory_order_release);
}

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);

NO_TSAN void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
  /* Looked up once; racing first calls store the same value (atomic, so
   * TSan does not flag the lazy initialisation itself). */
  static _Atomic(mmap_fn) real_fn;
  mmap_fn real = atomic_load_explicit(&real_fn, memory_order_relaxed);
  if (!real) {
    *(void **)&real = dlsym(RTLD_NEXT, "mmap"); /* POSIX's dlsym idiom */
    atomic_store_explicit(&real_fn, real, memory_order_relaxed);
  }
  struct stat st;
  if (addr || !(flags & MAP_SHARED) || fd < 0 || off != 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      !alias_enter())
    return real(addr, len, prot, flags, fd, off);
  void *m = NULL;
  for (int i = 0; i < MAX_ALIASES && !m; i++) {
    struct alias *a = &aliases[i];
    if (a->refs > 0 && a->dev == st.st_dev && a->ino == st.st_ino && a->len == len && a->prot == prot) {
      a->refs++;
      m = a->addr;
    }
  }
  if (!m) {
    m = real(addr, len, prot, flags, fd, off);
    for (int i = 0; i < MAX_ALIASES && m != MAP_FAILED; i++) {
      if (aliases[i].refs == 0) {
        aliases[i] = (struct alias){st.st_dev, st.st_ino, len, prot, 1, m};
        break;
      }
    }
  }
  alias_leave();
  return m;
}

NO_TSAN int munmap(void *addr, size_t len)
{
  static _Atomic(munmap_fn) real_fn;
  munmap_fn real = atomic_load_explicit(&real_fn, memory_order_relaxed);
  if (!real) {
    *(void **)&real = dlsym(RTLD_NEXT, "munmap");
    atomic_store_explicit(&real_fn, real, memory_order_relaxed);
  }
  if (!alias_enter())
    return real(addr, len);
  bool keep = false;
  for (int i = 0; i < MAX_ALIASES; i++) {
    struct alias *a = &aliases[i];
    if (a->refs > 0 && a->addr == addr && a->len == len) {
      keep = --a->refs > 0;
      break;
    }
  }
  alias_leave();
  return keep ? 0 : real(addr, len);
}

/* Did the interposition take? (Two handles of one ring share an address.) */
static _Atomic int aliased;

/* ---- the oracle: slot = seq, checksum(seq), then bytes derived from both */

static void fill(void *slot, int64_t seq)
{
  uint8_t *b = slot;
  uint64_t sum = ts_checksum(seq);
  memcpy(b, &seq, 8);
  memcpy(b + 8, &sum, 8);
  for (size_t i = 16; i < SLOT; i++)
    b[i] = (uint8_t)(sum >> (8 * (i % 8))) ^ (uint8_t)i;
}

static bool intact(const void *slot, int64_t seq)
{
  const uint8_t *b = slot;
  int64_t s;
  uint64_t sum;
  memcpy(&s, b, 8);
  memcpy(&sum, b + 8, 8);
  if (s != seq || sum != ts_checksum(seq))
    return false;
  for (size_t i = 16; i < SLOT; i++)
    if (b[i] != ((uint8_t)(sum >> (8 * (i % 8))) ^ (uint8_t)i))
      return false;
  return true;
}

/* ---- shared test state ---------------------------------------------------- */

struct world {
  enum dmp_backend backend;
  const char *name;
  uint64_t capacity;
  int64_t count; /* events the producer publishes */
  uint32_t batch;
  int64_t deadline;
  bool close_early; /* producer_death: close after `count`, no linger */
  int n_gating;     /* consumers the producer waits for before publishing */
  const char *const *gate_ids; /* if set: wait for these ids instead (a
                                * non-gating reader or a churner also counts
                                * for wait_for_consumers) */
  size_t n_gate_ids;
  _Atomic int ready;  /* producer created */
  void *_Atomic ctl;  /* the producer's mapping of the segment */
  _Atomic int done;   /* producer finished (published or failed) */
};

struct role {
  struct world *w;
  pthread_t th;
  char id[16];
  enum dmp_wait_kind wait;
  int64_t churns, per_incarnation; /* churn threads */
  bool non_gating;
  /* results */
  char error[256];
  int64_t delivered, first, last, copies_discarded, incarnations;
  bool saw_ownerdead;
};

static int64_t left(const struct world *w)
{
  int64_t l = w->deadline - ts_now_ns();
  return l > 0 ? l : 0;
}

static void *fail_at(struct role *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *fail_at(struct role *r, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  return NULL;
}

static void sleep_us(int64_t us)
{
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* ---- producer thread ------------------------------------------------------ */

static void *producer_main(void *arg)
{
  struct role *r = arg;
  struct world *w = r->w;
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = w->backend;
  cfg.name = w->name;
  cfg.capacity = w->capacity;
  cfg.slot_size = SLOT;
  cfg.wait.kind = r->wait;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc == 0)
    atomic_store(&w->ctl, (void *)p->ring.ctl);
  /* release: pairs with the consumers' acquire loads of `ready` */
  atomic_store_explicit(&w->ready, rc == 0 ? 1 : -1, memory_order_release);
  if (rc < 0) {
    atomic_store(&w->done, 1);
    return fail_at(r, "create: %s (%s)", dmp_err_name(rc), dmp_last_error());
  }
  if (w->gate_ids)
    rc = dmp_producer_wait_for_ids(p, w->gate_ids, w->n_gate_ids, left(w));
  else if (w->n_gating > 0)
    rc = dmp_producer_wait_for_consumers(p, (uint32_t)w->n_gating, left(w));
  if (rc < 0) {
    dmp_producer_close(p);
    atomic_store(&w->done, 1);
    return fail_at(r, "wait_for_consumers: %s (%s)", dmp_err_name(rc), dmp_last_error());
  }
  for (int64_t seq = 0; seq < w->count;) {
    uint64_t n = w->batch;
    if ((int64_t)n > w->count - seq)
      n = (uint64_t)(w->count - seq);
    int64_t first;
    rc = dmp_producer_claim_batch_timeout(p, n, &first, left(w) < 50 * MS ? left(w) : 50 * MS);
    if (rc == -ETIMEDOUT && left(w) > 0)
      continue;
    if (rc < 0) {
      dmp_producer_close(p);
      atomic_store(&w->done, 1);
      return fail_at(r, "claim at %" PRId64 ": %s (%s)", seq, dmp_err_name(rc), dmp_last_error());
    }
    if (first != seq) {
      dmp_producer_close(p);
      atomic_store(&w->done, 1);
      return fail_at(r, "claim returned %" PRId64 ", expected %" PRId64, first, seq);
    }
    for (uint64_t i = 0; i < n; i++)
      fill(dmp_producer_slot(p, seq + (int64_t)i), seq + (int64_t)i);
    dmp_producer_publish(p);
    seq += (int64_t)n;
  }
  r->delivered = w->count;
  /* Let the gating consumers read everything before the name goes away
   * (a closed producer is a dead one: they would drain, then OWNERDEAD). */
  while (!w->close_early && dmp_producer_min_gating_sequence(p) < w->count - 1 && left(w) > 0)
    sleep_us(200);
  dmp_producer_close(p);
  atomic_store(&w->done, 1);
  return NULL;
}

/* ---- consumer threads ------------------------------------------------------ */

static bool wait_ready(struct world *w)
{
  /* acquire: pairs with the producer's release store of `ready` */
  while (atomic_load_explicit(&w->ready, memory_order_acquire) == 0 && left(w) > 0)
    sleep_us(100);
  return atomic_load_explicit(&w->ready, memory_order_acquire) == 1;
}

static int attach(struct role *r, struct dmp_consumer **c, enum dmp_start start)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r->w->backend;
  cc.name = r->w->name;
  cc.id = r->id;
  cc.start = start;
  cc.wait.kind = r->wait;
  if (r->non_gating)
    cc.flags |= DMP_CONSUMER_NON_GATING;
  return dmp_consumer_attach_timeout(&cc, left(r->w), c);
}

/* A gating reader: every event from 0 (or from where it joined, for a
 * churner) in order, intact; -DMP_E_OWNERDEAD ends it. */
static void *consumer_main(void *arg)
{
  struct role *r = arg;
  struct world *w = r->w;
  r->first = r->last = -1;
  if (!wait_ready(w))
    return fail_at(r, "the producer never created the ring");
  struct dmp_consumer *c = NULL;
  int rc = attach(r, &c, r->churns ? DMP_START_LATEST : DMP_START_OLDEST);
  if (rc < 0)
    return fail_at(r, "attach: %s (%s)", dmp_err_name(rc), dmp_last_error());
  if ((void *)c->ring.ctl == atomic_load(&w->ctl))
    atomic_fetch_add(&aliased, 1);
  r->incarnations = 1;
  int64_t next = dmp_consumer_sequence(c) + 1, in_this = 0;
  if (!r->churns && next != 0) {
    dmp_consumer_close(c);
    return fail_at(r, "starts at %" PRId64 ", expected 0", next);
  }
  for (;;) {
    const void *ev;
    int64_t seq;
    rc = dmp_consumer_peek_timeout(c, &ev, &seq, left(w) < 20 * MS ? left(w) : 20 * MS);
    if (rc == -ETIMEDOUT && left(w) > 0)
      continue;
    if (rc == -DMP_E_OWNERDEAD) {
      r->saw_ownerdead = true;
      break;
    }
    if (rc < 0) {
      dmp_consumer_close(c);
      return fail_at(r, "peek at %" PRId64 ": %s (%s)", next, dmp_err_name(rc), dmp_last_error());
    }
    if (seq != next || !intact(ev, seq)) {
      dmp_consumer_close(c);
      return fail_at(r, "seq %" PRId64 " (expected %" PRId64 ") %s", seq, next, seq == next ? "corrupt" : "");
    }
    if (r->first < 0)
      r->first = seq;
    r->last = seq;
    r->delivered++;
    next = seq + 1;
    dmp_consumer_release(c);
    if (seq == w->count - 1 && !w->close_early)
      break;
    if (r->churns && r->incarnations <= r->churns && ++in_this >= r->per_incarnation) {
      /* Detach and attach again: close keeps the entry (resume), close_forget frees it. */
      if (r->incarnations % 2)
        dmp_consumer_close(c);
      else
        dmp_consumer_close_forget(c);
      c = NULL;
      if ((rc = attach(r, &c, DMP_START_OLDEST)) < 0)
        return fail_at(r, "re-attach %" PRId64 ": %s (%s)", r->incarnations, dmp_err_name(rc), dmp_last_error());
      r->incarnations++;
      next = dmp_consumer_sequence(c) + 1;
      in_this = 0;
    }
  }
  dmp_consumer_close(c);
  return NULL;
}

/* A non-gating reader: copies events; each copy it is handed must be
 * intact (a lapped slot is reported, never handed over), in increasing
 * sequence order. */
static void *lossy_main(void *arg)
{
  struct role *r = arg;
  struct world *w = r->w;
  r->first = r->last = -1;
  if (!wait_ready(w))
    return fail_at(r, "the producer never created the ring");
  struct dmp_consumer *c = NULL;
  int rc = attach(r, &c, DMP_START_OLDEST);
  if (rc < 0)
    return fail_at(r, "attach: %s (%s)", dmp_err_name(rc), dmp_last_error());
  uint8_t buf[SLOT];
  int64_t prev = -1;
  for (;;) {
    int64_t seq;
    rc = dmp_consumer_copy_timeout(c, buf, sizeof buf, &seq, left(w) < 20 * MS ? left(w) : 20 * MS);
    if (rc == -ETIMEDOUT && left(w) > 0 && !atomic_load(&w->done))
      continue;
    if (rc == -DMP_E_OWNERDEAD || (rc == -ETIMEDOUT && atomic_load(&w->done)))
      break;
    if (rc < 0) {
      dmp_consumer_close(c);
      return fail_at(r, "copy: %s (%s)", dmp_err_name(rc), dmp_last_error());
    }
    if (seq <= prev || !intact(buf, seq)) {
      dmp_consumer_close(c);
      return fail_at(r, "copy of seq %" PRId64 " (after %" PRId64 ") is %s", seq, prev,
                     seq <= prev ? "out of order" : "torn");
    }
    if (r->first < 0)
      r->first = seq;
    prev = r->last = seq;
    r->delivered++;
    if (seq == w->count - 1)
      break;
  }
  r->copies_discarded = (int64_t)dmp_consumer_missed(c);
  dmp_consumer_close(c);
  return NULL;
}

/* ---- driver ------------------------------------------------------------------ */

static struct world world_new(enum dmp_backend backend, uint64_t capacity, int64_t count, uint32_t batch)
{
  struct world w;
  memset(&w, 0, sizeof w);
  w.backend = backend;
  w.name = backend == DMP_BACKEND_SHM ? ts_shm_name("thr") : ts_tmp_path("thr");
  w.capacity = capacity;
  w.count = count;
  w.batch = batch;
  w.deadline = ts_now_ns() + (int64_t)ts_timeout_ms(DEADLINE_MS) * MS;
  return w;
}

static void start(struct role *r, struct world *w, const char *id, enum dmp_wait_kind wait, void *(*fn)(void *))
{
  memset(r, 0, sizeof *r);
  r->w = w;
  r->wait = wait;
  snprintf(r->id, sizeof r->id, "%s", id);
  cr_assert_eq(pthread_create(&r->th, NULL, fn, r), 0);
}

static void finish(struct role *roles, int n)
{
  for (int i = 0; i < n; i++)
    pthread_join(roles[i].th, NULL); /* each thread ends by its own deadline */
  for (int i = 0; i < n; i++)
    cr_expect_str_empty(roles[i].error, "%s: %s", roles[i].id, roles[i].error);
  cr_expect(atomic_load(&aliased) > 0, "no consumer shares the producer's mapping: TSan would see nothing");
}

TestSuite(threaded, .fini = ts_cleanup, .timeout = 240);

static void broadcast(enum dmp_backend backend)
{
  struct world w = world_new(backend, 64, 20000, 1);
  w.n_gating = 4;
  struct role r[5];
  static const enum dmp_wait_kind waits[] = {DMP_WAIT_BLOCK, DMP_WAIT_SPIN, DMP_WAIT_YIELD, DMP_WAIT_SLEEP};
  static const char *const ids[] = {"block", "spin", "yield", "sleep"};
  start(&r[0], &w, "producer", DMP_WAIT_BLOCK, producer_main);
  for (int i = 0; i < 4; i++)
    start(&r[1 + i], &w, ids[i], waits[i], consumer_main);
  finish(r, 5);
  for (int i = 1; i < 5; i++)
    cr_expect(r[i].first == 0 && r[i].last == w.count - 1 && r[i].delivered == w.count,
              "%s delivered %" PRId64 " events %" PRId64 "..%" PRId64, r[i].id, r[i].delivered, r[i].first, r[i].last);
}

Test(threaded, broadcast_every_wait_strategy_shm)
{
  broadcast(DMP_BACKEND_SHM);
}

Test(threaded, broadcast_every_wait_strategy_mmap)
{
  broadcast(DMP_BACKEND_MMAP);
}

Test(threaded, batches_on_a_ring_of_eight_park_both_sides)
{
  struct world w = world_new(DMP_BACKEND_SHM, 8, 10000, 3);
  w.n_gating = 2;
  struct role r[3];
  start(&r[0], &w, "producer", DMP_WAIT_BLOCK, producer_main);
  start(&r[1], &w, "c1", DMP_WAIT_BLOCK, consumer_main);
  start(&r[2], &w, "c2", DMP_WAIT_BLOCK, consumer_main);
  finish(r, 3);
  for (int i = 1; i < 3; i++)
    cr_expect(r[i].delivered == w.count, "%s delivered %" PRId64 " of %" PRId64, r[i].id, r[i].delivered, w.count);
}

Test(threaded, attach_detach_churn_beside_gating_readers)
{
  struct world w = world_new(DMP_BACKEND_SHM, 32, 10000, 2);
  w.n_gating = 2;
  static const char *const gates[] = {"g1", "g2"}; /* a churner may attach first */
  w.gate_ids = gates;
  w.n_gate_ids = 2;
  struct role r[5];
  start(&r[0], &w, "producer", DMP_WAIT_BLOCK, producer_main);
  start(&r[1], &w, "g1", DMP_WAIT_BLOCK, consumer_main);
  start(&r[2], &w, "g2", DMP_WAIT_YIELD, consumer_main);
  for (int i = 0; i < 2; i++) {
    struct role *c = &r[3 + i];
    memset(c, 0, sizeof *c);
    c->w = &w;
    c->wait = i ? DMP_WAIT_SLEEP : DMP_WAIT_BLOCK;
    c->churns = 100;
    c->per_incarnation = 3 + i;
    snprintf(c->id, sizeof c->id, "churn%d", i);
    cr_assert_eq(pthread_create(&c->th, NULL, consumer_main, c), 0);
  }
  finish(r, 5);
  for (int i = 1; i < 3; i++)
    cr_expect(r[i].delivered == w.count, "%s delivered %" PRId64 " of %" PRId64, r[i].id, r[i].delivered, w.count);
  for (int i = 3; i < 5; i++)
    cr_expect(r[i].incarnations > 1, "%s never re-attached", r[i].id);
}

Test(threaded, a_non_gating_reader_never_accepts_a_torn_copy)
{
  struct world w = world_new(DMP_BACKEND_SHM, 16, 50000, 4);
  w.n_gating = 1;
  static const char *const gate[] = {"gate"}; /* not "any 1 consumer": the lossy one may attach first */
  w.gate_ids = gate;
  w.n_gate_ids = 1;
  struct role r[3];
  start(&r[0], &w, "producer", DMP_WAIT_SPIN, producer_main);
  start(&r[1], &w, "gate", DMP_WAIT_BLOCK, consumer_main);
  memset(&r[2], 0, sizeof r[2]);
  r[2].w = &w;
  r[2].wait = DMP_WAIT_YIELD;
  r[2].non_gating = true;
  snprintf(r[2].id, sizeof r[2].id, "lossy");
  cr_assert_eq(pthread_create(&r[2].th, NULL, lossy_main, &r[2]), 0);
  finish(r, 3);
  cr_expect(r[1].delivered == w.count, "the gating reader delivered %" PRId64 " of %" PRId64, r[1].delivered,
            w.count);
  cr_expect(r[2].delivered > 0, "the non-gating reader copied nothing");
  printf("threaded non-gating: %" PRId64 " copies accepted, %" PRId64 " missed\n", r[2].delivered,
         r[2].copies_discarded);
}

Test(threaded, producer_close_mid_stream_is_ownerdead_after_the_drain)
{
  struct world w = world_new(DMP_BACKEND_SHM, 64, 20000, 1);
  w.n_gating = 3;
  w.close_early = true;
  struct role r[4];
  start(&r[0], &w, "producer", DMP_WAIT_BLOCK, producer_main);
  start(&r[1], &w, "block", DMP_WAIT_BLOCK, consumer_main);
  start(&r[2], &w, "spin", DMP_WAIT_SPIN, consumer_main);
  start(&r[3], &w, "sleep", DMP_WAIT_SLEEP, consumer_main);
  finish(r, 4);
  for (int i = 1; i < 4; i++) {
    cr_expect(r[i].saw_ownerdead, "%s never saw OWNERDEAD", r[i].id);
    cr_expect(r[i].delivered == w.count, "%s drained %" PRId64 " of %" PRId64, r[i].id, r[i].delivered, w.count);
  }
}
