/*
 * One owner per name (issue 15, item 2): several processes call
 * dmp_producer_create() on the same name, over a stale segment (its
 * producer gone), at the same instant. Exactly one may succeed, every other
 * one must get -DMP_E_INUSE, and the winner's ring must be the one the name
 * leads to (the epoch in the header found by name is the winner's).
 *
 * Before the fix the stale-reclaim path checked the file, then unlinked by
 * name: a racer that checked the stale file could unlink the ring another
 * racer had just created in its place, and both "won": 1 to 3 rounds of
 * these 5000 (SHM) + 1500 (MMAP) with 16 racers on a loaded 2-core VM; with
 * fewer racers than that the window is rarely hit. Each round takes a few
 * ms; DMP_OWNER_ROUNDS changes the count per backend (the fault sweep's
 * stale-create class races the same way with real roles).
 *
 * The racers are forked once and kept for every round; they meet the parent
 * at spin barriers in a shared anonymous mapping, all of them bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <disruptor_mp/disruptor_mp.h>

#include "support.h"

#define RACERS 16
#define BARRIER_MS 10000

struct arena {
  _Atomic int32_t go;      /* round the racers may start (parent) */
  _Atomic int32_t release; /* round whose winners may close (parent) */
  _Atomic int32_t stop;
  struct {
    _Atomic int32_t done;   /* round whose create returned */
    _Atomic int32_t closed; /* round whose ring (if won) is closed */
    _Atomic int32_t rc;
    _Atomic uint64_t epoch;
  } r[RACERS];
};

static struct arena *arena;

/* Publish round `v` in *w and wake everyone waiting on it (one futex wake
 * releases all racers at once: they start creating at the same instant). */
static void announce(_Atomic int32_t *w, int32_t v)
{
  /* release: pairs with the acquire load in await() */
  atomic_store_explicit(w, v, memory_order_release);
  syscall(SYS_futex, w, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* Sleep until *w >= want; false after BARRIER_MS (scaled) or on stop. */
static bool await(_Atomic int32_t *w, int32_t want)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(BARRIER_MS) * 1000000;
  for (;;) {
    int32_t now = atomic_load_explicit(w, memory_order_acquire);
    if (now >= want)
      return true;
    if (ts_now_ns() > deadline || atomic_load(&arena->stop))
      return false;
    /* Bounded slices: a wake lost to the check-then-sleep gap (the futex
     * compares *w with `now` itself, so there is none) or a stop costs 10 ms. */
    struct timespec slice = {0, 10000000};
    syscall(SYS_futex, w, FUTEX_WAIT, now, &slice, NULL, 0);
  }
}

static void config(struct dmp_producer_config *cfg, enum dmp_backend backend, const char *name)
{
  dmp_producer_config_init(cfg);
  cfg->backend = backend;
  cfg->name = name;
  cfg->capacity = 8;
  cfg->slot_size = 64;
}

static void racer(int i, enum dmp_backend backend, const char *name, int32_t rounds)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct dmp_producer_config cfg;
  config(&cfg, backend, name);
  for (int32_t round = 1; round <= rounds; round++) {
    if (!await(&arena->go, round))
      _exit(3);
    struct dmp_producer *p = NULL;
    int rc = dmp_producer_create(&cfg, &p);
    if (rc < 0 && rc != -DMP_E_INUSE)
      fprintf(stderr, "racer %d, round %lld: %s (%s)\n", i, (long long)round, dmp_err_name(rc), dmp_last_error());
    atomic_store(&arena->r[i].rc, rc);
    atomic_store(&arena->r[i].epoch, rc == 0 ? p->ring.ctl->header.epoch : 0);
    announce(&arena->r[i].done, round);
    if (!await(&arena->release, round))
      _exit(4);
    if (rc == 0)
      dmp_producer_close(p);
    announce(&arena->r[i].closed, round);
  }
  _exit(0);
}

/* The epoch of the ring the name leads to now (0 if none / unreadable). */
static uint64_t epoch_by_name(enum dmp_backend backend, const char *name)
{
  int fd = backend == DMP_BACKEND_SHM ? shm_open(name, O_RDONLY, 0) : open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  struct dmp_segment_header h;
  uint64_t e = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h ? h.epoch : 0;
  close(fd);
  return e;
}

/* A stale segment under `name`: created, then left behind by a producer
 * that is gone (KEEP + close drops its lock exactly as its death would). */
static bool make_stale(enum dmp_backend backend, const char *name)
{
  struct dmp_producer_config cfg;
  config(&cfg, backend, name);
  cfg.flags |= DMP_RING_KEEP;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0) {
    fprintf(stderr, "make_stale: %s (%s)\n", dmp_err_name(rc), dmp_last_error());
    return false;
  }
  dmp_producer_close(p);
  return true;
}

static void race(enum dmp_backend backend)
{
  const char *env = getenv("DMP_OWNER_ROUNDS");
  int32_t rounds = (int32_t)(env && *env ? strtol(env, NULL, 0) : backend == DMP_BACKEND_SHM ? 5000 : 1500);
  const char *name = backend == DMP_BACKEND_SHM ? ts_shm_name("own") : ts_tmp_path("own");
  arena = mmap(NULL, sizeof *arena, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(arena != MAP_FAILED);
  memset(arena, 0, sizeof *arena);
  pid_t pids[RACERS];
  for (int i = 0; i < RACERS; i++) {
    pids[i] = fork();
    cr_assert(pids[i] >= 0);
    if (pids[i] == 0)
      racer(i, backend, name, rounds);
  }
  int64_t multi = 0, none = 0, unreachable = 0, other = 0, t0 = ts_now_ns();
  char first_bad[256] = "";
  bool ok = true;
  for (int32_t round = 1; round <= rounds && ok; round++) {
    ok = make_stale(backend, name);
    if (!ok)
      break;
    announce(&arena->go, round);
    int winners = 0;
    uint64_t won_epoch = 0;
    for (int i = 0; i < RACERS && ok; i++) {
      ok = await(&arena->r[i].done, round);
      int rc = atomic_load(&arena->r[i].rc);
      if (rc == 0) {
        winners++;
        won_epoch = atomic_load(&arena->r[i].epoch);
      } else if (rc != -DMP_E_INUSE && other++ == 0) {
        snprintf(first_bad, sizeof first_bad, "round %d: racer %d got %s (%s)", round, i, dmp_err_name(rc),
                 "see stderr");
      }
    }
    if (!ok)
      break;
    multi += winners > 1;
    none += winners == 0;
    if (winners == 1 && epoch_by_name(backend, name) != won_epoch)
      unreachable++;
    announce(&arena->release, round);
    for (int i = 0; i < RACERS && ok; i++)
      ok = await(&arena->r[i].closed, round);
    /* With two winners the name may still hold a ring: start clean. */
    (void)dmp_ring_gc(backend, name);
  }
  announce(&arena->stop, 1);
  for (int i = 0; i < RACERS; i++)
    (void)ts_wait(pids[i], ts_timeout_ms(BARRIER_MS));
  printf("one owner per name (%s): %d rounds x %d racers in %.1f s: %" PRId64 " with several winners, %" PRId64
         " with none, %" PRId64 " winner(s) unreachable by name, %" PRId64 " other errors\n",
         backend == DMP_BACKEND_SHM ? "shm" : "mmap", rounds, RACERS, (double)(ts_now_ns() - t0) / 1e9, multi, none,
         unreachable, other);
  fflush(stdout);
  cr_assert(ok, "a racer or the parent did not reach a barrier in time");
  cr_expect_eq(multi, 0, "%" PRId64 " round(s) with more than one successful dmp_producer_create()", multi);
  cr_expect_eq(none, 0, "%" PRId64 " round(s) in which nobody could create over the stale segment", none);
  cr_expect_eq(unreachable, 0, "%" PRId64 " winner(s) whose ring the name does not lead to", unreachable);
  cr_expect_eq(other, 0, "a loser got something other than -DMP_E_INUSE: %s", first_bad);
  struct stat st;
  cr_expect(backend != DMP_BACKEND_MMAP || stat(name, &st) != 0, "the ring file was left behind");
  munmap(arena, sizeof *arena);
  ts_cleanup();
}

TestSuite(owner, .fini = ts_cleanup, .timeout = 240);

Test(owner, one_winner_over_a_stale_segment_shm)
{
  race(DMP_BACKEND_SHM);
}

Test(owner, one_winner_over_a_stale_segment_mmap)
{
  race(DMP_BACKEND_MMAP);
}
