/* Framed transport across real processes (frm_role, fork/exec): thousands
 * of messages from 0 bytes to several MB checked byte for byte under
 * backpressure on both backends and both frame formats; a slow consumer; a
 * consumer that crashes in the middle of a message and comes back under
 * the same id; a producer killed in the middle of a message; consumers
 * that join in the middle of a message; and a blocked receive that does
 * not burn a core. No assertion depends on timing; every wait is bounded. */
#include "framing.h"
#include "frm_role.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

TestSuite(framing_mp, .fini = fr_fini, .timeout = 240);

#define CHILD_MS 60000 /* bound of a child's run (scaled) */

struct mp_cfg {
  enum dmp_backend backend;
  enum myelon_frame_format format;
  uint32_t fcap;
  uint64_t capacity;
  uint64_t seed;
  const char *profile;
  const char *name;
};

static struct mp_cfg mp_cfg(enum dmp_backend b, enum myelon_frame_format f, uint64_t capacity, uint64_t seed,
                            const char *profile)
{
#ifdef FR_BYTES
  f = MYELON_FRAME_BYTES; /* every ring a byte ring (framing.h) */
#endif
  struct mp_cfg c = {b, f, 256, capacity, seed, profile, NULL};
  c.name = b == DMP_BACKEND_SHM ? ts_shm_name("mp") : ts_tmp_path("mp");
  cr_assert(ne(ptr, (void *)c.name, NULL));
  return c;
}

/* An argv under construction. */
struct args {
  char *v[64];
  char buf[64][256];
  int n;
};

static void arg(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct args *a, const char *fmt, ...)
{
  cr_assert(lt(int, a->n, 62));
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->buf[a->n], sizeof a->buf[0], fmt, ap);
  va_end(ap);
  a->v[a->n] = a->buf[a->n];
  a->n++;
}

static void role(struct args *a, const char *which, const struct mp_cfg *c)
{
  a->n = 0;
  const char *exe = ts_helper("FRM_ROLE");
  cr_assert(ne(str, (char *)exe, ""), "FRM_ROLE is not set (run through meson test)");
  arg(a, "%s", exe);
  arg(a, "%s", which);
  arg(a, "--backend");
  arg(a, "%s", c->backend == DMP_BACKEND_SHM ? "shm" : "mmap");
  arg(a, "--name");
  arg(a, "%s", c->name);
  arg(a, "--format");
  arg(a, "%s", fr_format_name(c->format));
  arg(a, "--fcap");
  arg(a, "%u", c->fcap);
  arg(a, "--capacity");
  arg(a, "%llu", (unsigned long long)c->capacity);
  arg(a, "--seed");
  arg(a, "%llu", (unsigned long long)c->seed);
  arg(a, "--profile");
  arg(a, "%s", c->profile);
  arg(a, "--timeout-ms");
  arg(a, "%d", ts_timeout_ms(CHILD_MS / 2));
}

static pid_t spawn(struct args *a)
{
  a->v[a->n] = NULL;
  pid_t pid = ts_spawn(a->v);
  cr_assert(lt(int, 0, pid), "spawn %s", a->v[0]);
  return pid;
}

static void expect_exit(pid_t pid, int want, const char *who)
{
  int st = ts_wait(pid, ts_timeout_ms(CHILD_MS));
  cr_assert(eq(int, st, want), "%s exited %d (%s), want %d (%s)", who, st, frm_exit_name(st), want,
            frm_exit_name(want));
}

struct report {
  long long first, last, count;
  unsigned long long errors, orphans;
};

static struct report read_report(const char *path)
{
  struct report r = {-2, -2, -2, 0, 0};
  FILE *f = fopen(path, "r");
  cr_assert(ne(ptr, f, NULL), "no report at %s", path);
  int n = fscanf(f, "first=%lld\nlast=%lld\ncount=%lld\nerrors=%llu\norphans=%llu", &r.first, &r.last, &r.count,
                 &r.errors, &r.orphans);
  fclose(f);
  cr_assert(eq(int, n, 5), "malformed report %s", path);
  return r;
}

static const char *tmp(const char *tag)
{
  const char *p = ts_tmp_path(tag);
  cr_assert(ne(ptr, (void *)p, NULL));
  return p;
}

/* ---- byte-exact streams ------------------------------------------------------ */

/* `count` messages of the MIXED profile (0 .. 4 MB, boundary sizes first)
 * through a 32-slot ring of 256-byte frames, read with `api`. */
static void stream_run_batch(enum dmp_backend b, enum myelon_frame_format f, const char *api, long count, long slow_us,
                             long batch)
{
  struct mp_cfg c = mp_cfg(b, f, slow_us ? 16 : 32, 0x5eed + (uint64_t)b * 2 + (uint64_t)f, "mixed");
  const char *report = tmp("rep");
  struct args pa, ca;
  role(&pa, "producer", &c);
  arg(&pa, "--count");
  arg(&pa, "%ld", count);
  arg(&pa, "--wait-consumers");
  arg(&pa, "1");
  if (batch) {
    arg(&pa, "--batch");
    arg(&pa, "%ld", batch);
  }
  role(&ca, "consumer", &c);
  arg(&ca, "--id");
  arg(&ca, "c0");
  arg(&ca, "--first");
  arg(&ca, "0");
  arg(&ca, "--last");
  arg(&ca, "%ld", count - 1);
  arg(&ca, "--api");
  arg(&ca, "%s", api);
  arg(&ca, "--report");
  arg(&ca, "%s", report);
  if (slow_us) {
    arg(&ca, "--slow-us");
    arg(&ca, "%ld", slow_us);
  }
  pid_t prod = spawn(&pa);
  pid_t cons = spawn(&ca);
  expect_exit(cons, FRM_EX_OK, "consumer");
  expect_exit(prod, FRM_EX_OK, "producer");
  struct report r = read_report(report);
  cr_assert(eq(i64, r.count, count));
  cr_assert(eq(i64, r.last, count - 1));
  cr_assert(eq(u64, r.errors, 0));
  cr_assert(eq(u64, r.orphans, 0));
}

static void stream_run(enum dmp_backend b, enum myelon_frame_format f, const char *api, long count, long slow_us)
{
  stream_run_batch(b, f, api, count, slow_us, 0);
}

Test(framing_mp, thousands_byte_exact_shm_compact_recv)
{
  stream_run(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, "recv", 4000, 0);
}

Test(framing_mp, thousands_byte_exact_shm_aligned_process)
{
  stream_run(DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, "process", 4000, 0);
}

Test(framing_mp, thousands_byte_exact_mmap_compact_copy)
{
  stream_run(DMP_BACKEND_MMAP, MYELON_FRAME_COMPACT, "copy", 4000, 0);
}

Test(framing_mp, thousands_byte_exact_mmap_aligned_try)
{
  stream_run(DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED, "try", 4000, 0);
}

Test(framing_mp, slow_consumer_gets_every_byte)
{
  stream_run(DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, "recv", 300, 300);
}

/* Batched calls (issue 20): the same MIXED streams (small messages in
 * runs, fragmented ones of up to 4 MB in between) published B at a time
 * with myelon_producer_publish_batch() and received with
 * myelon_consumer_recv_batch() or one by one. */
Test(framing_mp, thousands_byte_exact_batched_both_sides_shm_compact)
{
  stream_run_batch(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, "batch", 4000, 0, 16);
}

Test(framing_mp, thousands_byte_exact_batched_both_sides_mmap_aligned)
{
  stream_run_batch(DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED, "batch", 4000, 0, 7);
}

Test(framing_mp, batched_publish_to_a_one_by_one_receiver_mmap_compact)
{
  stream_run_batch(DMP_BACKEND_MMAP, MYELON_FRAME_COMPACT, "recv", 2000, 0, 64);
}

Test(framing_mp, one_by_one_publish_to_a_batch_receiver_shm_aligned)
{
  stream_run_batch(DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, "batch", 2000, 0, 0);
}

Test(framing_mp, batched_slow_consumer_gets_every_byte)
{
  stream_run_batch(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, "batch", 300, 300, 16);
}

/* ---- a consumer crashes in the middle of a message ---------------------------- */

static void restart_run(enum dmp_backend b, enum myelon_frame_format f)
{
  const long count = 80;
  struct mp_cfg c = mp_cfg(b, f, 16, 0x7e57 + (uint64_t)f, "big");
  const char *rep_a = tmp("repa"), *rep_b = tmp("repb");
  struct args pa, aa, ba;
  role(&pa, "producer", &c);
  arg(&pa, "--count");
  arg(&pa, "%ld", count);
  arg(&pa, "--wait-consumers");
  arg(&pa, "1");
  pid_t prod = spawn(&pa);

  /* A: receives 10 messages, then SIGKILLs itself half-way through one */
  role(&aa, "consumer", &c);
  arg(&aa, "--id");
  arg(&aa, "same");
  arg(&aa, "--first");
  arg(&aa, "0");
  arg(&aa, "--last");
  arg(&aa, "%ld", count - 1);
  arg(&aa, "--api");
  arg(&aa, "try");
  arg(&aa, "--die-mid-after");
  arg(&aa, "10");
  arg(&aa, "--report");
  arg(&aa, "%s", rep_a);
  expect_exit(spawn(&aa), 128 + SIGKILL, "consumer A (crashes mid-message)");
  struct report ra = read_report(rep_a);
  cr_assert(ge(i64, ra.count, 10));
  cr_assert(eq(i64, ra.last, ra.count - 1));
  cr_assert(lt(i64, ra.last + 2, count - 1), "A died too late for the test to mean anything");

  /* B: same id, resumes inside message ra.last + 1: its tail must never
   * come out as a message; the next one is whole */
  role(&ba, "consumer", &c);
  arg(&ba, "--id");
  arg(&ba, "same");
  arg(&ba, "--first");
  arg(&ba, "%lld", ra.last + 2);
  arg(&ba, "--last");
  arg(&ba, "%ld", count - 1);
  arg(&ba, "--report");
  arg(&ba, "%s", rep_b);
  expect_exit(spawn(&ba), FRM_EX_OK, "consumer B (same id, restarted)");
  expect_exit(prod, FRM_EX_OK, "producer");
  struct report rb = read_report(rep_b);
  cr_assert(eq(i64, rb.first, ra.last + 2));
  cr_assert(eq(i64, rb.count, count - 1 - (ra.last + 2) + 1));
  cr_assert(lt(u64, 0, rb.orphans), "B resumed mid-message, so it dropped the tail as orphans");
}

Test(framing_mp, same_id_restart_mid_message_never_delivers_the_tail)
{
  FR_SLOT_ONLY("a message cut in frames");
  restart_run(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT);
  restart_run(DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED);
}

/* A producer process publishing `count` messages once one consumer is
 * attached, and this process's consumer `id` on its ring (attached within
 * 20 s, scaled; frame capacity as configured when `fcap` is set). */
static pid_t producer_and_consumer(const struct mp_cfg *c, const char *count, const char *id, bool fcap,
                                   struct myelon_consumer **con)
{
  struct args pa;
  role(&pa, "producer", c);
  arg(&pa, "--count");
  arg(&pa, count);
  arg(&pa, "--wait-consumers");
  arg(&pa, "1");
  pid_t prod = spawn(&pa);
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.backend = c->backend;
  cc.ring.name = c->name;
  cc.ring.id = id;
  cc.format = c->format;
  if (fcap)
    cc.frame_capacity = c->fcap;
  *con = NULL;
  int rc = myelon_consumer_attach_timeout(&cc, (int64_t)ts_timeout_ms(20000) * 1000000, con);
  cr_assert(eq(int, rc, 0), "attach: %s / %s", myelon_err_name(rc), dmp_last_error());
  return prod;
}

/* ---- the producer is killed in the middle of a message ---------------------- */

static void producer_killed_run(enum dmp_backend b, enum myelon_frame_format f)
{
  struct mp_cfg c = mp_cfg(b, f, 16, 1, "fixed:4194304"); /* 16k frames through 16 slots */
  struct myelon_consumer *con = NULL;
  pid_t prod = producer_and_consumer(&c, "3", "victim", true, &con);
  int rc;
  struct dmp_consumer *dc = myelon_consumer_ring(con);
  /* Let the producer fill the ring with the first frames of the 4 MB
   * message (it then blocks on us), and kill it there, mid-message.
   * Nothing is received before the kill: a consumer that keeps pace with
   * the producer takes the whole message within one receive call. */
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  while (dmp_consumer_available(dc) < (int64_t)c.capacity) {
    cr_assert(lt(i64, ts_now_ns(), deadline), "the producer did not fill the ring (%lld frames)",
              (long long)dmp_consumer_available(dc));
    dmp_consumer_wait(dc, 100000000);
  }
  cr_assert(eq(int, kill(prod, SIGKILL), 0));
  expect_exit(prod, 128 + SIGKILL, "producer");
  /* whatever it published is consumed, then the receive must end with
   * OWNERDEAD (not hang until the generous timeout) */
  struct myelon_msg m;
  rc = myelon_consumer_recv(con, &m, (int64_t)ts_timeout_ms(30000) * 1000000);
  cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "%s/%s: %s / %s", fr_backend_name(b), fr_format_name(f),
            myelon_err_name(rc), dmp_last_error());
  cr_assert(ne(ptr, strstr(dmp_last_error(), "middle of message"), NULL), "detail: %s", dmp_last_error());
  cr_assert(eq(u64, myelon_consumer_errors(con), 1), "the half message is counted as lost");
  rc = myelon_consumer_recv(con, &m, (int64_t)ts_timeout_ms(30000) * 1000000);
  cr_assert(eq(int, rc, -DMP_E_OWNERDEAD), "and stays so");
  myelon_consumer_close(con);
}

Test(framing_mp, producer_killed_mid_message_gives_ownerdead_not_a_hang)
{
  FR_SLOT_ONLY("a message cut in frames (a record is published whole)");
  producer_killed_run(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT);
  producer_killed_run(DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED);
}

/* ---- receives stay within their timeout ----------------------------------- */

/* A message far longer than the ring (16 MiB through 8 slots of 48-byte
 * frames: ~350k frames) keeps frames coming for as long as it streams, so
 * a receive that fed every frame it found would last as long as the
 * message. Each receive with a 1 ms timeout must return within it (+ the
 * documented slack, ts_slack_ms()), the message in progress keeping its place,
 * and the message must still arrive whole. */
static void long_message_run(enum dmp_backend b, enum myelon_frame_format f)
{
  struct mp_cfg c = mp_cfg(b, f, 8, 7, "fixed:16777200");
  c.fcap = 48;
  struct myelon_consumer *con = NULL;
  pid_t prod = producer_and_consumer(&c, "1", "timed", true, &con);
  int rc;
  /* 1 ms; the suites' one slack (ts_slack_ms(): 250 ms scaled by
   * TS_TIMEOUT_MULTIPLIER, or DMP_FAULT_SLACK_MS), as the sweep's */
  const int64_t timeout = 1000000, slack = (int64_t)ts_slack_ms() * 1000000;
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(60000) * 1000000, worst = 0;
  uint64_t timeouts_mid = 0;
  struct myelon_msg m;
  for (;;) {
    struct ts_mark t0 = ts_mark();
    rc = myelon_consumer_recv(con, &m, timeout);
    /* Not counting the time this thread waited for a CPU (ts_own_ns()):
     * at load 20 a wall bound failed with 266 ms against 251 ms. */
    int64_t wall = ts_now_ns() - t0.wall_ns, took = ts_own_ns(t0);
    worst = took > worst ? took : worst;
    cr_assert(le(i64, took, timeout + slack), "%s/%s: a 1 ms receive took %.1f ms (%.1f ms wall) (%s)",
              fr_backend_name(b), fr_format_name(f), (double)took / 1e6, (double)wall / 1e6, myelon_err_name(rc));
    if (rc == 0)
      break;
    cr_assert(eq(int, rc, -ETIMEDOUT), "recv: %s / %s", myelon_err_name(rc), dmp_last_error());
    timeouts_mid += strstr(dmp_last_error(), "incomplete after the timeout") != NULL;
    cr_assert(lt(i64, ts_now_ns(), deadline), "the message did not arrive");
  }
  struct frm_stream st = {c.seed, FRM_FIXED, c.fcap, c.capacity, 16777200};
  uint64_t idx = 0;
  cr_assert(eq(int, frm_check(&st, m.data, m.len, m.kind, 0, 0, &idx), FRM_OK), "message 0 arrives whole");
  cr_assert(lt(u64, 0, timeouts_mid), "some receive returned in the middle of the message");
  cr_log_info("%s/%s: worst receive %.2f ms, %" PRIu64 " timeouts mid-message", fr_backend_name(b),
              fr_format_name(f), (double)worst / 1e6, timeouts_mid);
  myelon_consumer_release(con);
  myelon_consumer_close(con);
  expect_exit(prod, FRM_EX_OK, "producer");
}

Test(framing_mp, receive_returns_within_its_timeout_while_a_long_message_streams)
{
  FR_SLOT_ONLY("a message longer than the ring");
  long_message_run(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT);
  long_message_run(DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED);
}

/* ---- late join ------------------------------------------------------------------ */

/* Deterministic: a gate consumer holds the producer inside message 0 (the
 * ring is full of its first frames); the late consumer attaches right
 * there, then the gate leaves. */
static void late_join_run(enum dmp_backend b, enum myelon_frame_format f)
{
  struct mp_cfg c = mp_cfg(b, f, 16, 3, "fixed:1048576");
  const char *ready = tmp("ready"), *rep = tmp("rep");
  struct args la;
  struct myelon_consumer *gate = NULL;
  pid_t prod = producer_and_consumer(&c, "6", "gate", false, &gate);
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  while (dmp_consumer_available(myelon_consumer_ring(gate)) < (int64_t)c.capacity) {
    cr_assert(lt(i64, ts_now_ns(), deadline), "the producer did not fill the ring");
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  role(&la, "consumer", &c);
  arg(&la, "--id");
  arg(&la, "late");
  arg(&la, "--first");
  arg(&la, "1");
  arg(&la, "--last");
  arg(&la, "5");
  arg(&la, "--ready-file");
  arg(&la, "%s", ready);
  arg(&la, "--report");
  arg(&la, "%s", rep);
  pid_t late = spawn(&la);
  cr_assert(ts_wait_path(ready, ts_timeout_ms(20000)), "the late consumer did not attach");
  myelon_consumer_close(gate); /* the producer goes on with message 0 */
  expect_exit(late, FRM_EX_OK, "late consumer");
  expect_exit(prod, FRM_EX_OK, "producer");
  struct report r = read_report(rep);
  cr_assert(eq(i64, r.first, 1), "the tail of message 0 came out as a message");
  cr_assert(eq(i64, r.count, 5));
  cr_assert(lt(u64, 0, r.orphans));
  cr_assert(eq(u64, r.errors, 0));
}

Test(framing_mp, late_join_mid_message_never_delivers_a_tail)
{
  FR_SLOT_ONLY("a message cut in frames");
  late_join_run(DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED);
  late_join_run(DMP_BACKEND_MMAP, MYELON_FRAME_COMPACT);
}

/* At a random point: the producer streams large messages with nobody
 * listening; the consumer joins whenever it starts and must see only
 * whole, consecutive messages. */
Test(framing_mp, late_join_while_streaming_sees_only_whole_messages)
{
  for (int fi = 0; fi < 2; fi++) {
    struct mp_cfg c = mp_cfg(fi ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM, fr_formats[fi], 16, 11 + (uint64_t)fi, "big");
    const char *ready = tmp("ready"), *done = tmp("done"), *rep = tmp("rep");
    struct args pa, la;
    role(&pa, "producer", &c);
    arg(&pa, "--count");
    arg(&pa, "1000000000");
    arg(&pa, "--ready-file");
    arg(&pa, "%s", ready);
    arg(&pa, "--ready-at");
    arg(&pa, "3");
    arg(&pa, "--until-file");
    arg(&pa, "%s", done);
    pid_t prod = spawn(&pa);
    cr_assert(ts_wait_path(ready, ts_timeout_ms(20000)), "the producer did not start");
    role(&la, "consumer", &c);
    arg(&la, "--id");
    arg(&la, "late");
    arg(&la, "--first");
    arg(&la, "any");
    arg(&la, "--count");
    arg(&la, "1000000000");
    arg(&la, "--messages");
    arg(&la, "40");
    arg(&la, "--done-file");
    arg(&la, "%s", done);
    arg(&la, "--report");
    arg(&la, "%s", rep);
    expect_exit(spawn(&la), FRM_EX_OK, "late consumer");
    expect_exit(prod, FRM_EX_OK, "producer");
    struct report r = read_report(rep);
    cr_assert(eq(i64, r.count, 40));
    cr_assert(ge(i64, r.first, 3), "joined after the ready marker");
    cr_assert(eq(u64, r.errors, 0));
  }
}

/* ---- blocking receive ---------------------------------------------------------- */

/* A consumer blocked in myelon_consumer_recv() on an idle ring parks (the
 * Layer 0 wait strategy) instead of spinning: over a wait of W it uses far
 * less than W of CPU. Resource use, not timing: the bound is half of W. */
Test(framing_mp, blocked_receive_does_not_burn_a_core)
{
  struct mp_cfg c = mp_cfg(DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 16, 1, "mixed");
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = c.name;
  pc.ring.capacity = c.capacity;
  pc.frame_capacity = c.fcap;
  pc.format = c.format;
  if (c.format == MYELON_FRAME_BYTES)
    pc.ring_bytes = frm_bytes_ring(c.capacity, c.fcap, 0);
  struct myelon_producer *p = fr_create(&pc);
  int wait_ms = ts_timeout_ms(1500);
  struct args ca;
  role(&ca, "consumer", &c);
  arg(&ca, "--timeout-ms"); /* the last one counts: the receive itself times out */
  arg(&ca, "%d", wait_ms);
  arg(&ca, "--id");
  arg(&ca, "idle");
  arg(&ca, "--first");
  arg(&ca, "0");
  arg(&ca, "--last");
  arg(&ca, "0");
  pid_t pid = spawn(&ca);
  struct rusage ru;
  int st = ts_wait_rusage(pid, ts_timeout_ms(CHILD_MS), &ru);
  cr_assert(eq(int, st, FRM_EX_TIMEOUT), "idle consumer exited %d (%s)", st, frm_exit_name(st));
  double cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  cr_assert(lt(dbl, cpu_ms, wait_ms / 2.0), "a blocked receive used %.0f ms of CPU in %d ms", cpu_ms, wait_ms);
  myelon_producer_close(p);
}
