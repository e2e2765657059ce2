/*
 * Producer crashes and restarts, on both backends:
 *
 *   producer_death   a SIGKILLed producer ends a consumer's wait with
 *                    -DMP_E_OWNERDEAD (parked, sleeping or spinning; the
 *                    latency from the kill is measured and printed); a slot
 *                    claimed but not published (single or mid-batch) is never
 *                    delivered; the stale ring refuses new consumers
 *   producer_restart a new producer of the same name reclaims the stale
 *                    segment by itself (time from the kill measured), with a
 *                    new epoch; consumers re-attach and see the new stream
 *                    from its start, never a mix of the two
 *   producer_create  a live owner is never stolen from; a crash during create
 *                    (a not-ready segment, no lock) is reclaimed after the
 *                    creation grace period, a sized one at once, and never
 *                    while its creator holds the lock
 *   stale            dmp_ring_gc (alone, and over a dmp_inspect_list of
 *                    /dev/shm) removes only segments whose producer is dead
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"

static struct dmp_producer *prod;
static struct dmp_consumer *cons;

static void setup(void)
{
  prod = NULL;
  cons = NULL;
}

static void teardown(void)
{
  ts_kill_children();
  dmp_consumer_close(cons);
  cons = NULL;
  dmp_producer_close(prod);
  prod = NULL;
  ts_cleanup();
}

TestSuite(producer_death, .init = setup, .fini = teardown, .timeout = 90);
TestSuite(producer_restart, .init = setup, .fini = teardown, .timeout = 90);
TestSuite(producer_create, .init = setup, .fini = teardown, .timeout = 90);
TestSuite(stale, .init = setup, .fini = teardown, .timeout = 60);

static const enum dmp_backend backends[] = {DMP_BACKEND_SHM, DMP_BACKEND_MMAP};

static void report(const char *what, const int64_t *ns, int n)
{
  int64_t min = INT64_MAX, max = 0, sum = 0;
  for (int i = 0; i < n; i++) {
    min = ns[i] < min ? ns[i] : min;
    max = ns[i] > max ? ns[i] : max;
    sum += ns[i];
  }
  printf("fault: %s: min %.2f ms, mean %.2f ms, max %.2f ms over %d runs\n", what, (double)min / 1e6,
         (double)sum / n / 1e6, (double)max / 1e6, n);
  fflush(stdout);
}

static pid_t producer(const struct fr_ring *r, struct fr_progress **pr, const char *const *extra)
{
  pid_t pid = fr_producer(r, pr, extra);
  cr_assert_gt(pid, 0, "producer on '%s' did not start", r->name);
  return pid;
}

static pid_t consumer(const struct fr_ring *r, const char *id, struct fr_progress **pr, const char *const *extra)
{
  pid_t pid = fr_consumer_ready(r, id, pr, extra);
  cr_assert_gt(pid, 0, "consumer '%s' did not attach", id);
  return pid;
}

static void expect_exit(pid_t pid, const struct fr_progress *pr, const char *who, int want)
{
  int rc = ts_wait(pid, ts_timeout_ms(20000));
  cr_assert_eq(rc, want, "%s exited %d (%s), expected %d: %s", who, rc, fr_exit_name(rc), want, pr->msg);
}

static int attach_here(const struct fr_ring *r, const char *id)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = r->backend;
  cfg.name = r->name;
  cfg.id = id;
  return dmp_consumer_attach(&cfg, &cons);
}

static int create_here(const struct fr_ring *r, uint32_t flags)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r->backend;
  cfg.name = r->name;
  cfg.capacity = 64;
  cfg.slot_size = FR_SLOT;
  cfg.flags = flags;
  return dmp_producer_create(&cfg, &prod);
}

/* The name of `r` exists in the file system. */
static bool ring_exists(const struct fr_ring *r)
{
  char path[512];
  snprintf(path, sizeof path, "%s%s", r->backend == DMP_BACKEND_SHM ? "/dev/shm/" : "", r->name);
  return access(path, F_OK) == 0;
}

/* ---------------------------------------------------------- producer death */

/* The producer publishes `hang` events then hangs holding a claim; c1 reads
 * them and waits; the producer is killed. Returns kill -> OWNERDEAD in ns. */
static int64_t death_round(enum dmp_backend backend, const char *wait, const char *batch, int64_t hang,
                           int64_t expect_last)
{
  struct fr_ring r = fr_ring_new(backend, "pd");
  struct fr_progress *pp, *pc;
  pid_t p = producer(&r, &pp,
                     (const char *const[]){"--count", "1000", "--hang-seq", fr_num(hang), "--batch", batch,
                                           "--wait-ids", "c1", "--wait", wait, NULL});
  pid_t c = consumer(&r, "c1", &pc, (const char *const[]){"--wait", wait, NULL});
  cr_assert(fr_wait_phase(pp, FR_PH_HOLDING, 10000), "producer never reached its hang point");
  cr_assert(fr_wait_last(pc, expect_last, 10000), "c1 did not read up to %lld", (long long)expect_last);
  fr_sleep_ms(20); /* let it park */
  int64_t killed = ts_now_ns();
  fr_signal(p, SIGKILL);
  expect_exit(c, pc, "c1", 0);
  cr_assert_eq(ts_wait(p, ts_timeout_ms(5000)), 128 + SIGKILL);
  int64_t seen = atomic_load(&pc->ownerdead_ns);
  cr_assert_gt(seen, 0, "c1 ended without seeing OWNERDEAD");
  cr_expect_eq(atomic_load(&pc->last), expect_last, "%s/%s: c1 delivered up to %lld, the producer published %lld",
               fr_backend_name(backend), wait, (long long)atomic_load(&pc->last), (long long)expect_last);
  cr_expect_eq(atomic_load(&pc->count), expect_last + 1);
  return seen - killed;
}

Test(producer_death, a_waiting_consumer_learns_it_with_ownerdead)
{
  static const char *const waits[] = {"block", "sleep", "yield", "spin"};
  int64_t t[8];
  for (int i = 0; i < 8; i++)
    t[i] = death_round(backends[i % 2], waits[i / 2], "1", 20, 19);
  report("producer-death detection (SIGKILL -> consumer sees OWNERDEAD)", t, 8);
}

Test(producer_death, a_claimed_but_unpublished_slot_is_never_delivered)
{
  for (int i = 0; i < 2; i++) {
    /* Batch of 8 from 16: 16..20 written, 21 torn, nothing of it published. */
    death_round(backends[i], "block", "8", 21, 15);
    death_round(backends[i], "block", "1", 33, 32);
  }
}

Test(producer_death, the_stale_ring_refuses_new_consumers)
{
  for (int i = 0; i < 2; i++) {
    struct fr_ring r = fr_ring_new(backends[i], "ps");
    struct fr_progress *pp;
    pid_t p = producer(&r, &pp, (const char *const[]){"--count", "100", "--hang-seq", "10", NULL});
    cr_assert(fr_wait_phase(pp, FR_PH_HOLDING, 10000));
    fr_signal(p, SIGKILL);
    cr_assert_eq(ts_wait(p, ts_timeout_ms(5000)), 128 + SIGKILL);
    cr_assert(ring_exists(&r), "a crashed producer's segment disappeared by itself");
    int rc = attach_here(&r, "late");
    cr_expect_eq(rc, -DMP_E_OWNERDEAD, "%s: attach to a dead ring: %s (%s)", fr_backend_name(backends[i]),
                 dmp_err_name(rc), dmp_last_error());
    cr_expect_null(cons);
  }
}

/* -------------------------------------------------------- producer restart */

static void restart_round(enum dmp_backend backend, int64_t *reclaim_ns)
{
  struct fr_ring r = fr_ring_new(backend, "pr");
  struct fr_progress *pp, *p1, *p2;
  pid_t p = producer(&r, &pp, (const char *const[]){"--count", "1000", "--hang-seq", "30", "--wait-ids", "c1", NULL});
  /* c1 stays through the restart: on OWNERDEAD it attaches again (once). */
  pid_t c1 = consumer(&r, "c1", &p1, (const char *const[]){"--reattach", "1", "--start", "oldest", NULL});
  cr_assert(fr_wait_last(p1, 29, 10000), "c1 did not read the first stream");
  uint64_t epoch1 = atomic_load(&pp->epoch), token1 = atomic_load(&pp->token);

  int64_t killed = ts_now_ns();
  fr_signal(p, SIGKILL);
  int rc;
  int64_t until = killed + (int64_t)ts_timeout_ms(5000) * FR_MS;
  while ((rc = create_here(&r, 0)) == -DMP_E_INUSE && ts_now_ns() < until)
    ; /* the kernel drops the dead producer's lock as it exits */
  *reclaim_ns = ts_now_ns() - killed;
  cr_assert_eq(rc, 0, "restart on '%s': %s (%s)", r.name, dmp_err_name(rc), dmp_last_error());
  uint64_t epoch2 = prod->ring.ctl->header.epoch;
  cr_expect_neq(epoch2, epoch1, "the restarted ring kept the epoch %016llx", (unsigned long long)epoch1);
  cr_assert_eq(ts_wait(p, ts_timeout_ms(5000)), 128 + SIGKILL);

  static const char *const ids[] = {"c1"};
  rc = dmp_producer_wait_for_ids(prod, ids, 1, (int64_t)ts_timeout_ms(10000) * FR_MS);
  cr_assert_eq(rc, 0, "c1 did not re-attach: %s", dmp_last_error());
  uint64_t token2 = token1 ^ UINT64_C(0x00ff00ff00ff00ff);
  cr_assert_eq(fr_publish(prod, 50, token2, false, (int64_t)ts_timeout_ms(5000) * FR_MS), 0);
  /* A consumer new to the restarted ring sees it from its start, only it. */
  char tok[32];
  snprintf(tok, sizeof tok, "%llu", (unsigned long long)token2);
  pid_t c2 = consumer(&r, "c2", &p2, (const char *const[]){"--start", "oldest", "--first", "0", "--token", tok,
                                                           "--last-seq", "49", NULL});
  expect_exit(c2, p2, "c2", 0);
  struct dmp_consumer_info info;
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(5000) * FR_MS;
  while (dmp_producer_consumer_info(prod, "c1", &info) == 0 && info.cursor < 49 && ts_now_ns() < deadline)
    fr_sleep_ms(1);
  dmp_producer_close(prod); /* c1 ends its second stream with OWNERDEAD */
  prod = NULL;
  expect_exit(c1, p1, "c1", 0);
  cr_assert_eq(atomic_load(&p1->n_streams), 2, "c1 saw %d streams", atomic_load(&p1->n_streams));
  const struct fr_stream *s = p1->stream;
  cr_expect(s[0].first == 0 && s[0].last == 29 && s[0].count == 30, "stream 1: %lld..%lld (%lld)",
            (long long)s[0].first, (long long)s[0].last, (long long)s[0].count);
  cr_expect(s[1].first == 0 && s[1].last == 49 && s[1].count == 50, "stream 2: %lld..%lld (%lld)",
            (long long)s[1].first, (long long)s[1].last, (long long)s[1].count);
  cr_expect(s[0].token == token1 && s[1].token == token2, "stream tokens %016llx %016llx",
            (unsigned long long)s[0].token, (unsigned long long)s[1].token);
  cr_expect(s[0].epoch == epoch1 && s[1].epoch == epoch2, "stream epochs %016llx %016llx",
            (unsigned long long)s[0].epoch, (unsigned long long)s[1].epoch);
  cr_expect(!ring_exists(&r), "'%s' left behind after a clean close", r.name);
}

Test(producer_restart, a_new_producer_reclaims_the_stale_ring_with_a_new_epoch)
{
  int64_t t[6];
  for (int i = 0; i < 6; i++)
    restart_round(backends[i % 2], &t[i]);
  report("producer reclaim (SIGKILL -> new producer created on the same name)", t, 6);
}

/* Regression: a reclaiming producer used to take the dead ring's producer
 * lock, so a consumer attaching at that instant saw a "live" producer,
 * joined the ring being unlinked and read the old stream's leftovers (or,
 * re-attaching after OWNERDEAD, the same dead ring again). */
Test(producer_restart, a_consumer_waiting_to_attach_never_joins_the_ring_being_reclaimed)
{
  for (int i = 0; i < 8; i++) {
    struct fr_ring r = fr_ring_new(backends[i % 2], "pw");
    struct fr_progress *pp, *pc;
    pid_t p = producer(&r, &pp, (const char *const[]){"--count", "100", "--hang-seq", "50", NULL});
    cr_assert(fr_wait_phase(pp, FR_PH_HOLDING, 10000));
    fr_signal(p, SIGKILL);
    cr_assert_eq(ts_wait(p, ts_timeout_ms(5000)), 128 + SIGKILL);
    /* Starts while only the dead ring is there: it keeps retrying. With
     * --reattach it would survive joining the old ring, so the stream count
     * tells what happened. */
    const char *token2 = "0x1234567890abcdef";
    pid_t c = fr_consumer(&r, "c1", &pc, (const char *const[]){"--start", "oldest", "--last-seq", "19", "--token",
                                                              token2, "--reattach", "1", NULL});
    cr_assert_gt(c, 0);
    fr_sleep_ms(i < 2 ? 30 : 2);
    cr_expect_eq(atomic_load(&pc->phase), FR_PH_STARTING, "c1 attached to a dead ring");
    struct fr_progress *pp2;
    pid_t p2 = producer(&r, &pp2, (const char *const[]){"--count", "20", "--wait-ids", "c1", "--token", token2, NULL});
    expect_exit(c, pc, "c1", 0);
    expect_exit(p2, pp2, "restarted producer", 0);
    int n = atomic_load(&pc->n_streams);
    cr_expect_eq(n, 1, "%s: c1 joined the dead ring while it was reclaimed (%d streams, the first with token %016llx)",
                 fr_backend_name(r.backend), n, (unsigned long long)pc->stream[0].token);
    const struct fr_stream *last = &pc->stream[n - 1];
    cr_expect(last->first == 0 && last->last == 19 && last->count == 20, "new stream read %lld..%lld (%lld)",
              (long long)last->first, (long long)last->last, (long long)last->count);
    cr_expect_eq(last->token, atomic_load(&pp2->token), "c1 finished on another stream");
    cr_expect_eq(last->epoch, atomic_load(&pp2->epoch));
    cr_expect_neq(atomic_load(&pp2->epoch), atomic_load(&pp->epoch));
    cr_expect(!ring_exists(&r), "'%s' left behind", r.name);
  }
}

struct attacher {
  struct fr_ring ring;
  uint64_t dead_epoch;
  _Atomic bool stop;
  int joined_dead, attempts;
};

static void *attach_loop(void *arg)
{
  struct attacher *a = arg;
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = a->ring.backend;
  cfg.name = a->ring.name;
  cfg.id = "racer";
  while (!atomic_load(&a->stop)) {
    struct dmp_consumer *c = NULL;
    a->attempts++;
    if (dmp_consumer_attach(&cfg, &c) == 0) {
      a->joined_dead += dmp_consumer_epoch(c) == a->dead_epoch;
      dmp_consumer_close_forget(c);
    }
  }
  return NULL;
}

/* The same, in a tight loop: a thread attaches to the dead ring's name
 * over and over while the new producer reclaims it. */
Test(producer_restart, attaching_during_a_reclaim_never_joins_the_dead_ring)
{
  int joined = 0, attempts = 0;
  for (int i = 0; i < 200; i++) {
    struct attacher a = {.ring = fr_ring_new(backends[i % 2], "pt")};
    cr_assert_eq(create_here(&a.ring, DMP_RING_KEEP), 0, "%s", dmp_last_error());
    a.dead_epoch = prod->ring.ctl->header.epoch;
    dmp_producer_close(prod); /* KEEP: the segment stays, ownerless, as after a crash */
    prod = NULL;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, attach_loop, &a), 0);
    fr_sleep_ms(1);
    int rc = create_here(&a.ring, 0);
    atomic_store(&a.stop, true);
    pthread_join(th, NULL);
    cr_assert_eq(rc, 0, "reclaim: %s (%s)", dmp_err_name(rc), dmp_last_error());
    dmp_producer_close(prod);
    prod = NULL;
    joined += a.joined_dead;
    attempts += a.attempts;
  }
  cr_expect_eq(joined, 0, "%d of %d attaches joined a dead ring being reclaimed", joined, attempts);
}

/* --------------------------------------------------------- producer create */

Test(producer_create, a_live_owner_is_never_stolen_from)
{
  for (int i = 0; i < 2; i++) {
    struct fr_ring r = fr_ring_new(backends[i], "pl");
    struct fr_progress *pp;
    pid_t p = producer(&r, &pp, (const char *const[]){"--count", "100", "--hang-seq", "10", NULL});
    cr_assert(fr_wait_phase(pp, FR_PH_HOLDING, 10000));
    int rc = create_here(&r, 0);
    cr_expect_eq(rc, -DMP_E_INUSE, "%s: create over a live producer: %s", fr_backend_name(backends[i]),
                 dmp_err_name(rc));
    cr_expect(strstr(dmp_last_error(), "live producer") != NULL, "detail: %s", dmp_last_error());
    cr_expect_null(prod);
    cr_expect_eq(dmp_ring_gc(r.backend, r.name), 0, "gc took a live ring");
    /* The live ring is intact: a consumer attaches and sees its epoch and events. */
    rc = attach_here(&r, "probe");
    cr_assert_eq(rc, 0, "%s (%s)", dmp_err_name(rc), dmp_last_error());
    cr_expect_eq(dmp_consumer_epoch(cons), atomic_load(&pp->epoch), "the live ring was replaced");
    dmp_consumer_close(cons);
    cons = NULL;
    fr_signal(p, SIGKILL);
    cr_assert_eq(ts_wait(p, ts_timeout_ms(5000)), 128 + SIGKILL);
    rc = create_here(&r, DMP_RING_NO_RECLAIM);
    cr_expect_eq(rc, -DMP_E_INUSE, "NO_RECLAIM over a dead producer: %s", dmp_err_name(rc));
    rc = create_here(&r, 0);
    cr_expect_eq(rc, 0, "reclaim after the owner died: %s (%s)", dmp_err_name(rc), dmp_last_error());
    cr_expect_neq(prod ? prod->ring.ctl->header.epoch : 0, atomic_load(&pp->epoch));
    dmp_producer_close(prod);
    prod = NULL;
  }
}

/* Leave what a creator that crashed early leaves: the name, `size` bytes
 * (zero, or the first `header` bytes of a real header), and no lock. */
static void leave_crashed_create(const struct fr_ring *r, size_t size, size_t header)
{
  int fd = r->backend == DMP_BACKEND_SHM ? shm_open(r->name, O_RDWR | O_CREAT | O_EXCL, 0600)
                                         : open(r->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  cr_assert_geq(fd, 0, "cannot create %s: %s", r->name, strerror(errno));
  if (size)
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
  if (header) {
    uint64_t magic = DMP_MAGIC;
    size_t n = header < sizeof magic ? header : sizeof magic;
    cr_assert_eq(pwrite(fd, &magic, n, 0), (ssize_t)n);
  }
  close(fd);
}

/* Hold the producer lock of `r`'s file as a creator that is alive but slow. */
static int hold_producer_lock(const struct fr_ring *r)
{
  int fd = r->backend == DMP_BACKEND_SHM ? shm_open(r->name, O_RDWR, 0) : open(r->name, O_RDWR | O_CLOEXEC);
  cr_assert_geq(fd, 0);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = DMP_LOCK_PRODUCER, .l_len = 1};
  cr_assert_eq(fcntl(fd, F_OFD_SETLK, &fl), 0, "%s", strerror(errno));
  return fd;
}

Test(producer_create, a_crash_during_create_is_reclaimed_after_the_grace_period)
{
  /* Three leftovers at once: an empty shm object, a file with half a
   * header, and an empty file whose creator (us) is alive and holds its lock. */
  struct fr_ring empty = fr_ring_new(DMP_BACKEND_SHM, "ce");
  struct fr_ring partial = fr_ring_new(DMP_BACKEND_MMAP, "cp");
  struct fr_ring held = fr_ring_new(DMP_BACKEND_SHM, "ch");
  leave_crashed_create(&empty, 0, 0);
  leave_crashed_create(&partial, 100, 8);
  leave_crashed_create(&held, 0, 0);
  int lock_fd = hold_producer_lock(&held);
  int64_t t0 = ts_now_ns();

  int rc = create_here(&empty, 0);
  cr_expect_eq(rc, -DMP_E_INUSE, "a fresh not-ready segment was taken: %s", dmp_err_name(rc));
  cr_expect(strstr(dmp_last_error(), "being created") != NULL, "detail: %s", dmp_last_error());
  cr_expect_eq(attach_here(&empty, "early"), -DMP_E_NOTREADY, "attach to an empty segment");
  cr_expect_lt(attach_here(&partial, "early"), 0, "attach to a half-written header succeeded");
  cr_expect_eq(dmp_ring_gc(empty.backend, empty.name), 0, "gc took a young segment");

  const struct fr_ring *rings[2] = {&empty, &partial};
  int64_t reclaimed[2] = {0, 0};
  int64_t deadline = t0 + (int64_t)ts_timeout_ms(10000) * FR_MS;
  while ((!reclaimed[0] || !reclaimed[1]) && ts_now_ns() < deadline) {
    for (int i = 0; i < 2; i++) {
      if (reclaimed[i])
        continue;
      rc = create_here(rings[i], 0);
      cr_assert(rc == 0 || rc == -DMP_E_INUSE, "create on %s: %s (%s)", rings[i]->name, dmp_err_name(rc),
                dmp_last_error());
      if (rc == 0) {
        reclaimed[i] = ts_now_ns() - t0;
        dmp_producer_close(prod);
        prod = NULL;
      }
    }
    fr_sleep_ms(10);
  }
  for (int i = 0; i < 2; i++) {
    cr_assert_gt(reclaimed[i], 0, "%s never reclaimed", rings[i]->name);
    cr_expect_geq(reclaimed[i], 2000 * FR_MS - 50 * FR_MS, "reclaimed after %lld ms, inside the grace period",
                  (long long)(reclaimed[i] / FR_MS));
    printf("fault: crashed-create reclaim (%s): %.0f ms after the leftover appeared\n",
           fr_backend_name(rings[i]->backend), (double)reclaimed[i] / 1e6);
  }
  fflush(stdout);
  rc = create_here(&held, 0);
  cr_expect_eq(rc, -DMP_E_INUSE, "a not-ready segment whose creator lives was taken: %s", dmp_err_name(rc));
  cr_expect_eq(dmp_ring_gc(held.backend, held.name), 0, "gc took a locked segment");
  close(lock_fd); /* the creator dies */
  rc = create_here(&held, 0);
  cr_expect_eq(rc, 0, "reclaim once the creator died: %s (%s)", dmp_err_name(rc), dmp_last_error());
}

Test(producer_create, a_sized_segment_without_an_owner_is_reclaimed_at_once)
{
  for (int i = 0; i < 2; i++) {
    /* Crashed after sizing, before (or while) writing the header. */
    struct fr_ring r = fr_ring_new(backends[i], "cs");
    leave_crashed_create(&r, 65536, i ? 8 : 0);
    int rc = create_here(&r, 0);
    cr_expect_eq(rc, 0, "%s: %s (%s)", fr_backend_name(backends[i]), dmp_err_name(rc), dmp_last_error());
    dmp_producer_close(prod);
    prod = NULL;
    cr_expect(!ring_exists(&r));
  }
}

/* ------------------------------------------------------------------ stale */

/* A sweep of /dev/shm for the stale rings of a name prefix: the listing
 * (dmp_inspect_list) and, with `remove`, dmp_ring_gc of each. */
struct sweep {
  const char *prefix; /* with its leading '/' */
  bool remove;
  int stale;
};

static int sweep_one(enum dmp_backend backend, const char *name, enum dmp_segment_kind kind, void *user)
{
  struct sweep *s = user;
  if (kind != DMP_SEGMENT_RING || strncmp(name, s->prefix, strlen(s->prefix)) != 0)
    return 0;
  if (!s->remove) {
    const struct dmp_ring_stat *st;
    struct dmp_inspect *in = NULL;
    if (dmp_inspect_open(backend, name, &in) == 0 && dmp_inspect_sample(in, &st) == 0 && !st->producer_alive)
      s->stale++;
    dmp_inspect_close(in);
    return 0;
  }
  s->stale += dmp_ring_gc(backend, name) == 1;
  return 0;
}

static int sweep(const char *prefix, bool remove)
{
  char p[80];
  snprintf(p, sizeof p, "/%s", prefix[0] == '/' ? prefix + 1 : prefix);
  struct sweep s = {.prefix = p, .remove = remove};
  int rc = dmp_inspect_list(DMP_BACKEND_SHM, NULL, sweep_one, &s);
  return rc < 0 ? rc : s.stale;
}

Test(stale, only_segments_whose_producer_died_are_removed)
{
  struct fr_ring live = fr_ring_new(DMP_BACKEND_SHM, "sl");
  struct fr_ring dead = fr_ring_new(DMP_BACKEND_SHM, "sd");
  struct fr_ring file = fr_ring_new(DMP_BACKEND_MMAP, "sf");
  struct fr_progress *pl, *pd, *pf;
  pid_t pliv = producer(&live, &pl, (const char *const[]){"--count", "10", "--hang-seq", "5", NULL});
  pid_t pdead = producer(&dead, &pd, (const char *const[]){"--count", "10", "--hang-seq", "5", NULL});
  pid_t pfile = producer(&file, &pf, (const char *const[]){"--count", "10", "--hang-seq", "5", NULL});
  cr_assert(fr_wait_phase(pd, FR_PH_HOLDING, 10000) && fr_wait_phase(pf, FR_PH_HOLDING, 10000));
  fr_signal(pdead, SIGKILL);
  fr_signal(pfile, SIGKILL);
  cr_assert_eq(ts_wait(pdead, ts_timeout_ms(5000)), 128 + SIGKILL);
  cr_assert_eq(ts_wait(pfile, ts_timeout_ms(5000)), 128 + SIGKILL);

  /* A foreign object with our prefix is never touched. */
  char foreign[64];
  snprintf(foreign, sizeof foreign, "%sx", dead.name);
  int fd = shm_open(foreign, O_RDWR | O_CREAT, 0600);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "not a ring, not a ring, not a ring", 34), 34);
  close(fd);

  cr_expect_eq(sweep(dead.name, false), 1, "listing");
  cr_expect(ring_exists(&dead), "listing removed it");
  cr_expect_eq(sweep(live.name, true), 0, "the live ring counted as stale");
  cr_expect_eq(sweep(dead.name, true), 1, "the dead ring was not removed");
  cr_expect(!ring_exists(&dead));
  cr_expect(ring_exists(&live), "the live ring was removed");
  char foreign_path[80];
  snprintf(foreign_path, sizeof foreign_path, "/dev/shm/%s", foreign);
  cr_expect_eq(access(foreign_path, F_OK), 0, "a foreign object was removed");
  cr_expect_eq(dmp_ring_gc(DMP_BACKEND_SHM, foreign), -DMP_E_CORRUPT);
  shm_unlink(foreign);

  cr_expect_eq(dmp_ring_gc(file.backend, file.name), 1, "%s", dmp_last_error());
  cr_expect(!ring_exists(&file));
  cr_expect_eq(dmp_ring_gc(file.backend, file.name), -ENOENT);
  cr_expect_eq(dmp_ring_gc(live.backend, live.name), 0);
  cr_expect_eq(dmp_ring_gc(DMP_BACKEND_SHM, "bad name!"), -DMP_E_BADNAME);
  fr_signal(pliv, SIGKILL);
  cr_assert_eq(ts_wait(pliv, ts_timeout_ms(5000)), 128 + SIGKILL);
  cr_expect_eq(dmp_ring_gc(live.backend, live.name), 1, "%s", dmp_last_error());
  cr_expect(!ring_exists(&live));
}
