/* Helpers of the bridge tests (brg_test.h). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/inspect.h>

#include "brg_test.h"
#include "frm_payload.h"
#include "support.h"

uint32_t CAP = CAP_DEFAULT;
enum brg_shape SHAPE = SHAPE_SLOTS;

uint64_t bytes_ring_bytes(void)
{
  struct frm_stream s = {.seed = 1, .profile = FRM_MIXED, .fcap = FCAP, .ring = CAP};
  return frm_bytes_ring(CAP, FCAP, frm_max_size(&s));
}

void av_add(struct av *a, const char *fmt, ...)
{
  cr_assert(a->n < 62);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->buf[a->n], sizeof a->buf[a->n], fmt, ap);
  va_end(ap);
  a->v[a->n] = a->buf[a->n];
  a->v[++a->n] = NULL;
}

/* myelon-bridge MODE ... with stdout and stderr in files (through sh, which
 * execs the tool: the pid is the tool's). */
void av_tool(struct av *a, const char *out, const char *err)
{
  a->n = 0;
  av_add(a, "/bin/sh");
  av_add(a, "-c");
  av_add(a, "exec \"$0\" \"$@\" >%s 2>%s", out, err);
  av_add(a, "%s", ts_helper("BRG_TOOL"));
}

pid_t spawn(struct av *a)
{
  pid_t pid = ts_spawn(a->v);
  cr_assert(pid > 0, "spawn %s", a->v[0]);
  return pid;
}

/* waitc: consumers to wait for (the egress, and a local reader); ready:
 * NULL, or a file the producer creates after message `ready_at`. */
/* The options frm_role's and brg_raw's producers share. */
static void av_producer_tail(struct av *a, int count, int waitc, const char *ready, int ready_at)
{
  av_add(a, "--count=%d", count);
  av_add(a, "--wait-consumers=%d", waitc);
  av_add(a, "--timeout-ms=%d", ts_timeout_ms(CHILD_MS));
  if (ready != NULL) {
    av_add(a, "--ready-file=%s", ready);
    av_add(a, "--ready-at=%d", ready_at);
  }
}

/* The options brg_reader and brg_raw's reader share (see reader_ex2()). */
static void av_reader_tail(struct av *a, int count, const char *report, const char *events, int end, int flags)
{
  av_add(a, "--count=%d", count);
  av_add(a, "--report=%s", report);
  av_add(a, "--timeout-ms=%d", ts_timeout_ms(CHILD_MS));
  if (events != NULL)
    av_add(a, "--events=%s", events);
  if (end == 1)
    av_add(a, "--expect-end");
  else if (end == 2)
    av_add(a, "--until-end");
  if (flags & 1)
    av_add(a, "--from-any");
  if (flags & 2)
    av_add(a, "--slow-us=5000");
}

pid_t producer_ex(const char *ring, const char *profile, uint64_t seed, int count, int waitc,
                         const char *ready, int ready_at)
{
  struct av a = {0};
  av_add(&a, "%s", ts_helper("FRM_ROLE"));
  av_add(&a, "producer");
  av_add(&a, "--backend=shm");
  av_add(&a, "--name=%s", ring);
  av_add(&a, "--format=%s", SHAPE == SHAPE_BYTES ? "bytes" : "compact");
  av_add(&a, "--fcap=%u", FCAP);
  av_add(&a, "--capacity=%u", CAP);
  av_add(&a, "--seed=%" PRIu64, seed);
  av_add(&a, "--profile=%s", profile);
  av_producer_tail(&a, count, waitc, ready, ready_at);
  return spawn(&a);
}

pid_t producer(const char *ring, const char *profile, uint64_t seed, int count)
{
  return producer_ex(ring, profile, seed, count, 1 /* the egress */, NULL, 0);
}

/* events: NULL, or brg_reader --events FILE; end: 1 --expect-end, 2 --until-end;
 * flags: 1 --from-any, 2 --slow-us=5000. */
static pid_t reader_full(const char *ring, const char *id, const char *profile, uint64_t seed, int count,
                         const char *report, const char *events, int end, int flags)
{
  struct av a = {0};
  av_add(&a, "%s", ts_helper("BRG_READER"));
  av_add(&a, "--name=%s", ring);
  if (id != NULL)
    av_add(&a, "--id=%s", id);
  if (SHAPE == SHAPE_BYTES)
    av_add(&a, "--format=bytes");
  av_add(&a, "--fcap=%u", FCAP);
  av_add(&a, "--capacity=%u", CAP);
  av_add(&a, "--seed=%" PRIu64, seed);
  av_add(&a, "--profile=%s", profile);
  av_reader_tail(&a, count, report, events, end, flags);
  return spawn(&a);
}

pid_t reader_ex2(const char *ring, const char *profile, uint64_t seed, int count, const char *report,
                 const char *events, int end, int flags)
{
  return reader_full(ring, NULL, profile, seed, count, report, events, end, flags);
}

pid_t reader_id(const char *ring, const char *id, const char *profile, uint64_t seed, int count, const char *report)
{
  return reader_full(ring, id, profile, seed, count, report, NULL, 0, 0);
}

pid_t reader_id_events(const char *ring, const char *id, const char *profile, uint64_t seed, int count,
                       const char *report, const char *events)
{
  return reader_full(ring, id, profile, seed, count, report, events, 0, 0);
}

pid_t reader_ex(const char *ring, const char *profile, uint64_t seed, int count, const char *report,
                       const char *events, int end)
{
  return reader_ex2(ring, profile, seed, count, report, events, end, 0);
}

pid_t reader(const char *ring, const char *profile, uint64_t seed, int count, const char *report)
{
  return reader_ex(ring, profile, seed, count, report, NULL, 0);
}

/* extra: NULL-terminated list of further arguments. */
struct side ingress(const char *ring, const char *ep, const char *const *extra)
{
  struct side s = {ts_tmp_path("ing.out"), ts_tmp_path("ing.err"), 0};
  struct av a = {0};
  av_tool(&a, s.out, s.err);
  av_add(&a, "ingress");
  av_add(&a, "--ring=%s", ring);
  av_add(&a, "--bind=%s", ep);
  av_add(&a, "--capacity=%u", CAP);
  av_add(&a, "--frame-capacity=%u", FCAP);
  av_add(&a, "--wait-readers=1");
  av_add(&a, "--json=0.2");
  /* SHAPE_BYTES: the byte ring's options first (a test's `extra` may
   * change them: the last one given wins), unless `extra` names a slot
   * format itself. */
  bool raw = false, slot_format = false;
  for (const char *const *e = extra; e && *e; e++) {
    raw = raw || strcmp(*e, "--raw") == 0;
    slot_format = slot_format || strcmp(*e, "--format=compact") == 0 || strcmp(*e, "--format=aligned") == 0;
  }
  if (SHAPE == SHAPE_BYTES && raw) {
    av_add(&a, "--bytes");
    av_add(&a, "--ring-bytes=%u", RAW_RING_BYTES);
  } else if (SHAPE == SHAPE_BYTES && !slot_format) {
    av_add(&a, "--format=bytes");
    av_add(&a, "--ring-bytes=%" PRIu64, bytes_ring_bytes());
  }
  for (; extra && *extra; extra++)
    /* A raw byte ring has no slot size (raw_ingress_args are the slot ring's). */
    if (SHAPE != SHAPE_BYTES || strncmp(*extra, "--slot-size", 11) != 0)
      av_add(&a, "%s", *extra);
  s.pid = spawn(&a);
  return s;
}

/* once: --once (exit when the producer is gone) rather than following the
 * ring's next producer. */
struct side egress_mode(const char *ring, const char *ep, const char *const *extra, bool once)
{
  struct side s = {ts_tmp_path("eg.out"), ts_tmp_path("eg.err"), 0};
  struct av a = {0};
  av_tool(&a, s.out, s.err);
  av_add(&a, "egress");
  av_add(&a, "--ring=%s", ring);
  av_add(&a, "--connect=%s", ep);
  av_add(&a, "--window=16");
  av_add(&a, "--attach-timeout=%d", ts_timeout_ms(20000) / 1000);
  av_add(&a, "--json=0.2");
  if (once)
    av_add(&a, "--once");
  for (; extra && *extra; extra++)
    av_add(&a, "%s", *extra);
  s.pid = spawn(&a);
  return s;
}

struct side egress(const char *ring, const char *ep, const char *const *extra)
{
  return egress_mode(ring, ep, extra, true);
}

/* A file's text (its first 64 KiB). Four rotating buffers, so that one
 * message may show several files. */
char *slurp(const char *path)
{
  static char bufs[4][1 << 16];
  static unsigned turn;
  char *buf = bufs[turn++ % 4];
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (f != NULL) {
    size_t n = fread(buf, 1, sizeof bufs[0] - 1, f);
    buf[n] = '\0';
    fclose(f);
  }
  return buf;
}

bool wait_for_text(const char *path, const char *text, int timeout_ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(timeout_ms) * 1000000;
  while (ts_now_ns() < deadline) {
    if (strstr(slurp(path), text) != NULL)
      return true;
    usleep(10000);
  }
  return false;
}

/* A TCP port free right now on 127.0.0.1 (the kernel picks it). */
int free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  socklen_t len = sizeof sa;
  cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
  close(fd);
  return ntohs(sa.sin_port);
}

const char *ipc_ep(void)
{
  static char ep[300];
  snprintf(ep, sizeof ep, "ipc://%s", ts_tmp_path("sock"));
  return ep;
}

const char *tcp_ep(void)
{
  static char ep[64];
  snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", free_port());
  return ep;
}

void keygen(const char *prefix)
{
  struct av a = {0};
  av_add(&a, "%s", ts_helper("BRG_TOOL"));
  av_add(&a, "keygen");
  av_add(&a, "%s", prefix);
  pid_t pid = spawn(&a);
  /* PREFIX.key and PREFIX.pub go into the test's temp dir (removed at exit). */
  cr_assert(eq(int, ts_wait(pid, ts_timeout_ms(10000)), 0), "keygen %s", prefix);
}

/* Last published sequence of a ring (-1: nothing), read as dmp-stat does. */
int64_t ring_position(const char *ring)
{
  struct dmp_inspect *in = NULL;
  const struct dmp_ring_stat *st = NULL;
  cr_assert(eq(int, dmp_inspect_open(DMP_BACKEND_SHM, ring, &in), 0), "inspect %s", ring);
  cr_assert(eq(int, dmp_inspect_sample(in, &st), 0));
  int64_t pos = st->position;
  dmp_inspect_close(in);
  return pos;
}

/* Consumer entries (active or idle) in a ring's table. */
uint32_t ring_consumers(const char *ring)
{
  struct dmp_inspect *in = NULL;
  const struct dmp_ring_stat *st = NULL;
  cr_assert(eq(int, dmp_inspect_open(DMP_BACKEND_SHM, ring, &in), 0), "inspect %s", ring);
  cr_assert(eq(int, dmp_inspect_sample(in, &st), 0));
  uint32_t n = st->n_consumers;
  dmp_inspect_close(in);
  return n;
}

void stop(struct side *s)
{
  kill(s->pid, SIGTERM);
  int rc = ts_wait(s->pid, ts_timeout_ms(10000));
  cr_assert(eq(int, rc, 0), "myelon-bridge exited %d after SIGTERM; stderr: %s", rc, slurp(s->err));
}


/* The ingress's next expected message, from the last line of its --json
 * status (-2: no line yet; -1: it takes whatever comes first). */
long ingress_next(const struct side *in)
{
  const char *s = strrchr(slurp(in->out), '{');
  if (s == NULL || (s = strstr(s, "\"next_seq\":")) == NULL)
    return -2;
  return strtol(s + 11, NULL, 10);
}


struct report read_report(const char *path)
{
  struct report r = {0, 9, 9, 9, 0};
  cr_assert(eq(int, sscanf(slurp(path), "received=%lu dup=%lu lost=%lu bad=%lu attaches=%lu", &r.received, &r.dup,
                           &r.lost, &r.bad, &r.attaches), 5), "report: %s", slurp(path));
  return r;
}

int64_t realtime_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first "ownerdead MS" event at or after `since_ms` (-1: none). */
int64_t first_ownerdead(const char *events, int64_t since_ms)
{
  const char *s = slurp(events);
  long long ms;
  int n;
  while (sscanf(s, " ownerdead %lld%n", &ms, &n) == 1) {
    if (ms >= since_ms)
      return ms;
    s += n;
  }
  return -1;
}

bool wait_applied(const struct side *in, long k, int ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(ms) * 1000000;
  while (ingress_next(in) < k) {
    if (ts_now_ns() >= deadline)
      return false;
    usleep(1000);
  }
  return true;
}
pid_t raw_producer_ex(const char *ring, uint64_t seed, int count, int waitc, const char *ready, int ready_at,
                      int flags)
{
  struct av a = {0};
  av_add(&a, "%s", ts_helper("BRG_RAW"));
  av_add(&a, "producer");
  av_add(&a, "--name=%s", ring);
  av_add(&a, "--slot=%u", SHAPE == SHAPE_BYTES ? RAW_RECORD_MAX : RAW_SLOT);
  av_add(&a, "--capacity=%u", SHAPE == SHAPE_BYTES ? RAW_RING_BYTES : CAP);
  if (SHAPE == SHAPE_BYTES)
    av_add(&a, "--bytes");
  av_add(&a, "--tag=%" PRIu64, RAW_TAG);
  av_add(&a, "--seed=%" PRIu64, seed);
  av_producer_tail(&a, count, waitc, ready, ready_at);
  if (flags & 1)
    av_add(&a, "--mp");
  if (flags & 2)
    av_add(&a, "--abort-every=7");
  return spawn(&a);
}

pid_t raw_producer(const char *ring, uint64_t seed, int count)
{
  return raw_producer_ex(ring, seed, count, 1 /* the egress */, NULL, 0, 0);
}

pid_t raw_reader_ex(const char *ring, uint64_t seed, int count, const char *report, const char *events, int end,
                    int flags)
{
  struct av a = {0};
  av_add(&a, "%s", ts_helper("BRG_RAW"));
  av_add(&a, "reader");
  av_add(&a, "--name=%s", ring);
  av_add(&a, "--slot=%u", SHAPE == SHAPE_BYTES ? RAW_RECORD_MAX : RAW_SLOT);
  if (SHAPE == SHAPE_BYTES)
    av_add(&a, "--bytes");
  av_add(&a, "--tag=%" PRIu64, RAW_TAG);
  av_add(&a, "--seed=%" PRIu64, seed);
  av_reader_tail(&a, count, report, events, end, flags);
  return spawn(&a);
}

pid_t raw_reader(const char *ring, uint64_t seed, int count, const char *report)
{
  return raw_reader_ex(ring, seed, count, report, NULL, 0, 0);
}

_Static_assert(RAW_SLOT == 200 && RAW_TAG == 4242424242u, "raw_ingress_args names them");
const char *const raw_ingress_args[] = {"--raw", "--slot-size=200", "--type-tag=4242424242", NULL};

void expect_stream_done(pid_t rd, int reader_ms, const char *report, int count, unsigned long min_attaches, pid_t pr,
                        const struct side *eg, const struct side *in)
{
  int rc = ts_wait(rd, ts_timeout_ms(reader_ms));
  cr_assert(eq(int, rc, 0), "reader exited %d (%s); egress: %s; ingress: %s", rc, slurp(report), slurp(eg->err),
            slurp(in->err));
  struct report r = read_report(report);
  cr_assert(r.received == (unsigned long)count && r.dup == 0 && r.lost == 0 && r.bad == 0 &&
                r.attaches >= min_attaches,
            "report: %s (want received=%d, no dup, lost or bad, attaches >= %lu)", slurp(report), count,
            min_attaches);
  cr_assert(eq(int, ts_wait(pr, ts_timeout_ms(20000)), 0), "producer");
  /* The producer exited: the egress delivers what is left, then ends with 0. */
  rc = ts_wait(eg->pid, ts_timeout_ms(20000));
  cr_assert(eq(int, rc, 0), "egress exited %d: %s", rc, slurp(eg->err));
}

struct side egress_killed_twice(const char *ring, const char *ep, const char *const *eg_extra, struct side *in)
{
  for (int round = 0; round < 2; round++) {
    /* 30 applied, then 30 more than the ingress had applied when the first
     * kill's backlog let it go (not a fixed 80: that backlog, the first
     * egress's window applied once the ingress ran again, could reach it
     * before the second egress handshook, and it died with nothing in
     * flight). */
    long at = round == 0 ? 30 : ingress_next(in) + 30;
    struct side eg = egress(ring, ep, eg_extra);
    cr_assert(wait_applied(in, at, 60000), "the ingress never applied %ld messages: %s / %s", at, slurp(in->err),
              slurp(eg.err));
    kill(in->pid, SIGSTOP);
    /* The egress copies (and sends into its socket) a window meanwhile. */
    usleep((useconds_t)(300 + ts_slack_ms()) * 1000);
    kill(eg.pid, SIGKILL);
    cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(10000)), 128 + SIGKILL));
    fprintf(stderr, "bridge: egress killed with the ingress at message %ld; egress said: %s\n", ingress_next(in),
            strrchr(slurp(eg.out), '{') ? strrchr(slurp(eg.out), '{') : "(no status)");
    kill(in->pid, SIGCONT);
  }
  return egress(ring, ep, eg_extra);
}

/* One refused handshake: A's ring (raw, or framed with `framed_a`), an
 * ingress with `ing_extra`; the egress exits 1 naming the field, the
 * ingress logs it, nothing reaches B's ring, nothing stays on A's. */
void expect_refused(bool framed_a, const char *const *ing_extra, const char *egress_says, const char *ingress_says)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  struct side in = ingress(rb, ep, ing_extra);
  pid_t pr = framed_a ? producer(ra, "mixed", 33, 10) : raw_producer(ra, 33, 10);
  struct side eg = egress(ra, ep, NULL);
  int rc = ts_wait(eg.pid, ts_timeout_ms(30000));
  cr_assert(eq(int, rc, 1), "egress exited %d: %s", rc, slurp(eg.err));
  cr_assert(strstr(slurp(eg.err), egress_says) != NULL, "egress: %s (want \"%s\")", slurp(eg.err), egress_says);
  cr_assert(wait_for_text(in.err, ingress_says, 5000), "ingress: %s (want \"%s\")", slurp(in.err), ingress_says);
  cr_assert(eq(i64, ring_position(rb), -1), "nothing applied to B's ring");
  cr_assert(eq(u32, ring_consumers(ra), 0), "a refused egress left a consumer on A's ring");
  stop(&in); /* the ingress survived the refusal */
  kill(pr, SIGKILL);
  ts_wait(pr, ts_timeout_ms(10000));
}

void ingress_killed_thrice(int count)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b"), *report = ts_tmp_path("report");
  char state[320];
  snprintf(state, sizeof state, "--state=%s", ts_tmp_path("state"));
  const char *ing_extra[] = {state, "--json=0.02", NULL};
  struct side in = ingress(rb, ep, ing_extra);
  /* B's reader takes 5 ms a message: an ingress applies at most B's ring
   * ahead of it, so each one lives through its 40 messages and the kill
   * with most of the stream still to come, however fast the machine (at
   * full speed a quiet machine could carry the rest between two of the
   * ingress's status lines, and the third ingress never saw 40). */
  pid_t rd = reader_ex2(rb, "big", 4, count, report, NULL, 0, 2);
  pid_t pr = producer(ra, "big", 4, count);
  struct side eg = egress(ra, ep, NULL);
  for (int k = 0; k < 3; k++) {
    int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(60000) * 1000000;
    long start = -2;
    while ((start = ingress_next(&in)) == -2) {
      cr_assert(ts_now_ns() < deadline, "ingress %d printed no status: %s", k, slurp(in.err));
      usleep(1000);
    }
    if (start < 0)
      start = 0;
    while (ingress_next(&in) < start + 40) {
      cr_assert(ts_now_ns() < deadline, "ingress %d never applied 40 messages: %s / %s", k, slurp(in.err),
                slurp(eg.err));
      usleep(1000);
    }
    kill(in.pid, SIGKILL);
    cr_assert(eq(int, ts_wait(in.pid, ts_timeout_ms(10000)), 128 + SIGKILL));
    in = ingress(rb, ep, ing_extra);
  }
  int rc = ts_wait(rd, ts_timeout_ms(CHILD_MS + 10000));
  cr_assert(eq(int, rc, 0), "reader exited %d (%s); egress: %s; ingress: %s", rc, slurp(report), slurp(eg.err),
            slurp(in.err));
  /* Every ingress killed had applied messages the reader read from its
   * ring: at least 3 rings (a 4th when the stream outlasted the last kill). */
  unsigned long received = 0, dup = 9, lost = 9, bad = 9, attaches = 0;
  cr_assert(eq(int, sscanf(slurp(report), "received=%lu dup=%lu lost=%lu bad=%lu attaches=%lu", &received, &dup,
                           &lost, &bad, &attaches), 5), "report: %s", slurp(report));
  cr_assert(received == (unsigned long)count && dup == 0 && lost == 0 && bad == 0 && attaches >= 3, "report: %s",
            slurp(report));
  cr_assert(eq(int, ts_wait(pr, ts_timeout_ms(20000)), 0), "producer");
  cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(20000)), 0), "egress: %s", slurp(eg.err));
  stop(&in);
}
