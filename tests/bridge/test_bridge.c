/* The ZeroMQ bridge across real processes (suite 'bridge'): a framed
 * producer (frm_role) on ring A, myelon-bridge egress on A, myelon-bridge
 * ingress creating ring B, and a reader on B (brg_reader) that checks every
 * message against the frm_payload.h oracle: 0 B .. 4 MiB, each once, in
 * order, byte-exact. Over ipc:// and over tcp://127.0.0.1 with CurveZMQ;
 * the ingress killed (SIGKILL) mid-stream and restarted with its state
 * file: nothing lost, nothing applied twice; the egress likewise, with its
 * state file (it holds A's slots until acknowledged); a geometry mismatch refused
 * naming the field; garbage sent to the ingress's port (raw bytes and
 * malformed bridge messages) changes nothing; a wrong CURVE key refused.
 *
 * Both "hosts" are this host (one /dev/shm), so A's and B's rings have
 * different names. Every wait is bounded; the suite's .fini kills the
 * children and removes rings and temp files. */
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

#include <zmq.h>

#include <disruptor_mp/inspect.h>
#include <myelon/bridge.h>

#include "brg_test.h"
#include "frm_payload.h"
#include "support.h"

static void fini(void)
{
  ts_kill_children();
  ts_cleanup();
}

TestSuite(bridge, .fini = fini, .timeout = 300);

/* One full stream A -> B: producer, egress, ingress, reader; all exit 0. */
static void stream(const char *ep, const char *const *ing_extra, const char *const *eg_extra, const char *profile,
                   uint64_t seed, int count)
{
  const char *ra = ts_shm_name("a"), *rb = ts_shm_name("b"), *report = ts_tmp_path("report");
  struct side in = ingress(rb, ep, ing_extra);
  pid_t rd = reader(rb, profile, seed, count, report);
  pid_t pr = producer(ra, profile, seed, count);
  struct side eg = egress(ra, ep, eg_extra);
  int rc = ts_wait(rd, ts_timeout_ms(CHILD_MS + 10000));
  cr_assert(eq(int, rc, 0), "reader exited %d (%s); egress: %s; ingress: %s", rc, slurp(report), slurp(eg.err),
            slurp(in.err));
  cr_assert(eq(int, ts_wait(pr, ts_timeout_ms(20000)), 0), "producer");
  /* The producer exited: the egress delivers what is left, then ends with 0. */
  rc = ts_wait(eg.pid, ts_timeout_ms(20000));
  cr_assert(eq(int, rc, 0), "egress exited %d: %s", rc, slurp(eg.err));
  char want[64];
  snprintf(want, sizeof want, "\"messages\":%d,", count);
  cr_assert(strstr(slurp(eg.out), want) != NULL, "egress status: %s", slurp(eg.out));
  stop(&in);
  cr_assert(strstr(slurp(in.out), want) != NULL, "ingress status: %s", slurp(in.out));
  cr_assert(strstr(slurp(in.out), "\"duplicates\":0,") != NULL, "ingress status: %s", slurp(in.out));
}

Test(bridge, ipc_stream_mixed_sizes_every_message_once_in_order)
{
  /* 0 B .. 4 MiB (frm_payload.h MIXED: frame and ring boundaries first). */
  stream(ipc_ep(), NULL, NULL, "mixed", 1, 400);
}

Test(bridge, tcp_curve_stream)
{
  char a[300], b[300], ak[330], ap[330], bk[330], bp[330];
  snprintf(a, sizeof a, "%s", ts_tmp_path("keya"));
  snprintf(b, sizeof b, "%s", ts_tmp_path("keyb"));
  keygen(a);
  keygen(b);
  snprintf(ak, sizeof ak, "--key=%s.key", a);
  snprintf(ap, sizeof ap, "--peer-key=%s.pub", a);
  snprintf(bk, sizeof bk, "--key=%s.key", b);
  snprintf(bp, sizeof bp, "--peer-key=%s.pub", b);
  const char *ing[] = {bk, ap, NULL}, *eg[] = {ak, bp, NULL};
  stream(tcp_ep(), ing, eg, "mixed", 2, 300);
}

/* A message of exactly --max-message bytes crosses a CURVE link (the
 * mixed profile's message 22 is 4 MiB). The ingress capped ZeroMQ's frames
 * at max_message + 24 bytes, and CURVE wraps every frame in 33 more: that
 * message never crossed (the connection was dropped and made again until
 * B's reader gave up; found by the bench, H1). */
Test(bridge, tcp_curve_message_of_max_message_bytes_crosses)
{
  char a[300], b[300], ak[330], ap[330], bk[330], bp[330];
  snprintf(a, sizeof a, "%s", ts_tmp_path("keya"));
  snprintf(b, sizeof b, "%s", ts_tmp_path("keyb"));
  keygen(a);
  keygen(b);
  snprintf(ak, sizeof ak, "--key=%s.key", a);
  snprintf(ap, sizeof ap, "--peer-key=%s.pub", a);
  snprintf(bk, sizeof bk, "--key=%s.key", b);
  snprintf(bp, sizeof bp, "--peer-key=%s.pub", b);
  const char *ing[] = {bk, ap, "--max-message=4M", NULL}, *eg[] = {ak, bp, "--max-message=4M", NULL};
  stream(tcp_ep(), ing, eg, "mixed", 8, 30);
}

/* CURVE with --max-message equal to the payload, on both sides: 64 B
 * (below CURVE's handshake commands) and 1 MiB messages cross. ZeroMQ's
 * frame cap on the ingress (ZMQ_MAXMSGSIZE) once left no room for CURVE's
 * framing: the 64 B link failed its handshake, the 1 MiB messages never
 * arrived. */
Test(bridge, tcp_curve_max_message_equal_to_the_payload)
{
  char a[300], b[300], ak[330], ap[330], bk[330], bp[330];
  snprintf(a, sizeof a, "%s", ts_tmp_path("keya"));
  snprintf(b, sizeof b, "%s", ts_tmp_path("keyb"));
  keygen(a);
  keygen(b);
  snprintf(ak, sizeof ak, "--key=%s.key", a);
  snprintf(ap, sizeof ap, "--peer-key=%s.pub", a);
  snprintf(bk, sizeof bk, "--key=%s.key", b);
  snprintf(bp, sizeof bp, "--peer-key=%s.pub", b);
  static const struct {
    const char *max, *profile;
    int count;
  } cases[] = {{"--max-message=64", "fixed:64", 200}, {"--max-message=1048576", "fixed:1048576", 12}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *ing[] = {bk, ap, cases[i].max, NULL}, *eg[] = {ak, bp, cases[i].max, NULL};
    stream(tcp_ep(), ing, eg, cases[i].profile, 20 + i, cases[i].count);
  }
}

Test(bridge, tcp_insecure_stream)
{
  const char *both[] = {"--insecure", NULL};
  stream(tcp_ep(), both, both, "big", 3, 200);
}

/* kill -9 the ingress three times mid-stream (each time after it applied at
 * least 40 messages itself), restarting it with the same state file: the
 * reader, which follows each new ring, counts every message once. */
Test(bridge, ingress_killed_mid_stream_resumes_without_loss_or_duplicate)
{
  ingress_killed_thrice(1000);
}

Test(bridge, geometry_mismatch_refused_naming_the_field)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  const char *ing_extra[] = {"--frame-capacity=512", NULL};
  struct side in = ingress(rb, ep, ing_extra);
  pid_t rd = reader(rb, "mixed", 5, 10, ts_tmp_path("report"));
  pid_t pr = producer(ra, "mixed", 5, 10);
  struct side eg = egress(ra, ep, NULL);
  int rc = ts_wait(eg.pid, ts_timeout_ms(30000));
  cr_assert(eq(int, rc, 1), "egress exited %d: %s", rc, slurp(eg.err));
  cr_assert(strstr(slurp(eg.err), "frame_capacity: egress ring 1024, ingress ring 512") != NULL, "egress: %s",
            slurp(eg.err));
  cr_assert(strstr(slurp(in.err), "refused a link: frame_capacity") != NULL, "ingress: %s", slurp(in.err));
  cr_assert(eq(i64, ring_position(rb), -1), "nothing applied to B's ring");
  /* The refused egress left no (durable, gating) consumer on A's ring. */
  cr_assert(eq(u32, ring_consumers(ra), 0));
  stop(&in); /* the ingress survived the refusal */
  kill(pr, SIGKILL);
  kill(rd, SIGKILL);
  ts_wait(pr, ts_timeout_ms(10000));
  ts_wait(rd, ts_timeout_ms(10000));
}

/* A hostile peer on the network: raw bytes at the port, then well-formed
 * ZeroMQ messages that are not bridge messages (or bridge messages out of
 * place). Nothing crashes, nothing is applied, and a real link works after. */
Test(bridge, garbage_at_the_ingress_port_applies_nothing)
{
  int port = free_port();
  char ep[64];
  snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
  const char *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  const char *insecure[] = {"--insecure", NULL};
  struct side in = ingress(rb, ep, insecure);
  cr_assert(wait_for_text(in.err, "<-", 10000), "ingress did not start: %s", slurp(in.err));
  srand(17);
  for (int round = 0; round < 20; round++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
      uint8_t junk[4096];
      for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rand();
      if (round % 2 == 0)
        memcpy(junk, "\xff\0\0\0\0\0\0\0\x01\x7f\x03\x00NULL", 16); /* a ZMTP 3 greeting start */
      (void)!write(fd, junk, (size_t)(64 + rand() % 4000));
    }
    close(fd);
  }
  /* A ZeroMQ peer sending things that are not (valid) bridge messages. */
  void *ctx = zmq_ctx_new();
  void *s = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  cr_assert(eq(int, zmq_connect(s, ep), 0));
  uint8_t m[256];
  for (int i = 0; i < 300; i++) {
    size_t n = (size_t)(rand() % 200);
    for (size_t k = 0; k < n; k++)
      m[k] = (uint8_t)rand();
    if (i % 3 == 0 && n >= 8)
      memcpy(m, "MYB\x01", 4); /* right magic, random rest */
    zmq_send(s, m, n, 0);
  }
  /* DATA without a handshake, and a multipart message. */
  memset(m, 0, sizeof m);
  memcpy(m, "MYB\x01\x04", 5);
  zmq_send(s, m, MYELON_BRIDGE_DATA_HEADER + 10, 0);
  zmq_send(s, m, 8, ZMQ_SNDMORE);
  zmq_send(s, m, 8, 0);
  /* The ingress answers the handshake-less DATA with a RESYNC: it read
   * everything above and is alive. */
  zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
  cr_assert(eq(int, zmq_poll(&it, 1, ts_timeout_ms(10000)), 1), "no RESYNC from the ingress");
  int n = zmq_recv(s, m, sizeof m, 0);
  struct myelon_bridge_wire w;
  cr_assert(eq(int, myelon_bridge_wire_parse(m, (size_t)n, &w), 0));
  cr_assert(eq(int, (int)w.type, MYELON_BRIDGE_RESYNC));
  zmq_close(s);
  zmq_ctx_term(ctx);
  cr_assert(eq(i64, ring_position(rb), -1), "nothing applied to B's ring");
  cr_assert(wait_for_text(in.out, "\"rejected\":", 5000));
  /* The same ingress then carries a real link. */
  const char *report = ts_tmp_path("report");
  pid_t rd = reader(rb, "mixed", 6, 50, report);
  pid_t pr = producer(ra, "mixed", 6, 50);
  struct side eg = egress(ra, ep, insecure);
  int rc = ts_wait(rd, ts_timeout_ms(CHILD_MS));
  cr_assert(eq(int, rc, 0), "reader exited %d (%s); ingress: %s", rc, slurp(report), slurp(in.err));
  cr_assert(eq(int, ts_wait(pr, ts_timeout_ms(20000)), 0));
  cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(20000)), 0), "egress: %s", slurp(eg.err));
  stop(&in);
  cr_assert(strstr(slurp(in.out), "\"rejected\":0,") == NULL, "the ingress counted the garbage: %s", slurp(in.out));
}

Test(bridge, wrong_curve_key_refused)
{
  char a[300], b[300], c[300], arg[4][330];
  snprintf(a, sizeof a, "%s", ts_tmp_path("keya"));
  snprintf(b, sizeof b, "%s", ts_tmp_path("keyb"));
  snprintf(c, sizeof c, "%s", ts_tmp_path("keyc"));
  keygen(a);
  keygen(b);
  keygen(c);
  const char *ep = tcp_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  snprintf(arg[0], sizeof arg[0], "--key=%s.key", b);
  snprintf(arg[1], sizeof arg[1], "--peer-key=%s.pub", a);
  const char *ing_extra[] = {arg[0], arg[1], NULL};
  struct side in = ingress(rb, ep, ing_extra);
  pid_t rd = reader(rb, "mixed", 7, 10, ts_tmp_path("report"));
  pid_t pr = producer(ra, "mixed", 7, 10);
  /* c's key, which the ingress was not given. */
  snprintf(arg[2], sizeof arg[2], "--key=%s.key", c);
  snprintf(arg[3], sizeof arg[3], "--peer-key=%s.pub", b);
  const char *eg_extra[] = {arg[2], arg[3], NULL};
  struct side eg = egress(ra, ep, eg_extra);
  int rc = ts_wait(eg.pid, ts_timeout_ms(30000));
  cr_assert(eq(int, rc, 1), "egress exited %d: %s", rc, slurp(eg.err));
  cr_assert(strstr(slurp(eg.err), "refused our CURVE key") != NULL, "egress: %s", slurp(eg.err));
  cr_assert(wait_for_text(in.err, "its CURVE key is not the --peer-key", 5000), "ingress: %s", slurp(in.err));
  /* No key at all on tcp:// without --insecure: refused at start. */
  struct side eg2 = egress(ra, ep, NULL);
  rc = ts_wait(eg2.pid, ts_timeout_ms(30000));
  cr_assert(eq(int, rc, 1), "egress without keys exited %d", rc);
  cr_assert(strstr(slurp(eg2.err), "--insecure") != NULL, "egress: %s", slurp(eg2.err));
  cr_assert(eq(i64, ring_position(rb), -1), "nothing applied to B's ring");
  cr_assert(eq(u32, ring_consumers(ra), 0), "a refused egress left a consumer on A's ring");
  stop(&in);
  kill(pr, SIGKILL);
  kill(rd, SIGKILL);
  ts_wait(pr, ts_timeout_ms(10000));
  ts_wait(rd, ts_timeout_ms(10000));
}

Test(bridge, cli_usage_and_exit_codes)
{
  struct {
    const char *args[4];
    int code;
  } cases[] = {
    {{"--help", NULL}, 0},
    {{"--version", NULL}, 0},
    {{NULL}, 2},
    {{"sideways", NULL}, 2},
    {{"egress", "--ring=x", NULL}, 2},
    {{"ingress", "--ring=x", "--connect=ipc://x", NULL}, 2},
    {{"egress", "--ring=x", "--connect=ipc://x", "--window=0"}, 2},
    {{"keygen", NULL}, 2},
    {{"egress", "--ring=x", "--connect=ipc://x", "--raw"}, 2},
    {{"ingress", "--ring=x", "--bind=ipc://x", "--raw"}, 2},
    {{"ingress", "--ring=x", "--bind=ipc://x", "--slot-size=64"}, 2},
    {{"ingress", "--ring=x", "--bind=ipc://x", "--type-tag=0"}, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct av a = {0};
    av_tool(&a, "/dev/null", "/dev/null");
    for (int k = 0; k < 4 && cases[i].args[k]; k++)
      av_add(&a, "%s", cases[i].args[k]);
    int rc = ts_wait(spawn(&a), ts_timeout_ms(10000));
    cr_assert(eq(int, rc, cases[i].code), "case %zu (%s): exit %d", i, cases[i].args[0] ? cases[i].args[0] : "",
              rc);
  }
}

/* The default credit window (bridge.h, --help, man page): 512 messages.
 * 64 limited streams of small messages to a fraction of plain ZeroMQ's
 * (one link round trip per 64 messages; bench README). */
Test(bridge, default_window_is_512_messages)
{
  struct myelon_bridge_config cfg;
  myelon_bridge_config_init(&cfg);
  cr_assert(eq(u32, cfg.window, 512u));
  cr_assert(eq(u32, MYELON_BRIDGE_DEFAULT_WINDOW, 512u));
  const char *out = ts_tmp_path("help.out");
  struct av a = {0};
  av_tool(&a, out, "/dev/null");
  av_add(&a, "--help");
  cr_assert(eq(int, ts_wait(spawn(&a), ts_timeout_ms(10000)), 0));
  cr_assert(strstr(slurp(out), "acknowledgement (default 512)") != NULL, "--help: %s", slurp(out));
}

/* A silent link (the egress stopped with SIGSTOP mid-stream, as a hung
 * host A looks from B): B's reader's wait ends with -DMP_E_OWNERDEAD within
 * the link timeout (default 500 ms; the bound here is generous), and when
 * the egress runs again the link resumes into a new ring on B that the
 * reader attaches to, as after a local producer restart: every message
 * once, in order. B's reader takes 5 ms a message, so the 500 messages
 * after the 100th last 2.5 s at least: the egress is stopped mid-stream
 * however fast the machine (at full speed a quiet machine could carry
 * them all between the ingress's status lines). */
Test(bridge, silent_link_ends_remote_waits_with_ownerdead_then_resumes)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b"), *report = ts_tmp_path("report");
  const char *events = ts_tmp_path("events");
  const char *ing_extra[] = {"--json=0.02", NULL};
  const int count = 600;
  struct side in = ingress(rb, ep, ing_extra);
  pid_t rd = reader_ex2(rb, "big", 11, count, report, events, 0, 2);
  pid_t pr = producer(ra, "big", 11, count);
  struct side eg = egress(ra, ep, NULL);
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(60000) * 1000000;
  while (ingress_next(&in) < 100) {
    cr_assert(ts_now_ns() < deadline, "the ingress never applied 100 messages: %s / %s", slurp(in.err),
              slurp(eg.err));
    usleep(1000);
  }
  cr_assert(eq(int, kill(eg.pid, SIGSTOP), 0));
  int64_t stopped = realtime_ms();
  int64_t dead = -1;
  while ((dead = first_ownerdead(events, stopped)) < 0) {
    cr_assert(ts_now_ns() < deadline, "B's reader never saw the producer gone; ingress: %s", slurp(in.err));
    usleep(5000);
  }
  long detect = (long)(dead - stopped);
  fprintf(stderr, "bridge: a silent link ended B's reader's wait after %ld ms (link timeout 500 ms)\n", detect);
  cr_assert(detect <= 500 + 3 * ts_slack_ms(), "detection took %ld ms", detect);
  cr_assert(wait_for_text(in.err, "nothing from the egress for 500 ms", 5000), "ingress: %s", slurp(in.err));
  usleep(300000);
  cr_assert(eq(int, kill(eg.pid, SIGCONT), 0));
  expect_stream_done(rd, CHILD_MS + 10000, report, count, 2, pr, &eg, &in);
  stop(&in);
}

/* Consumers attached to ring `ring` on this host, polled (inspector) until
 * `want` attached or 30 s (scaled) passed. */
static uint32_t consumers_attached(const char *ring, uint32_t want)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(30000) * 1000000;
  uint32_t attached = 0;
  while (attached < want && ts_now_ns() < deadline) {
    struct dmp_inspect *insp = NULL;
    const struct dmp_ring_stat *st = NULL;
    if (dmp_inspect_open(DMP_BACKEND_SHM, ring, &insp) == 0 && dmp_inspect_sample(insp, &st) == 0)
      attached = st->n_consumers;
    dmp_inspect_close(insp);
    if (attached < want)
      usleep(2000);
  }
  return attached;
}

/* A full ring on B does not deafen the ingress (bridge.h, "Liveness"):
 * B's reader "slow" is stopped (SIGSTOP), so B's ring fills and a message
 * waits there for room. For three link timeouts the egress runs: the
 * ingress hears it (its PINGs) and keeps B's ring open. Then the egress is
 * stopped too (a silent link, as a hung host A looks from B): B's other
 * reader, "fast", which read all that was published, gets -DMP_E_OWNERDEAD
 * within the link timeout. Both run again: each reader gets every message
 * once, in order, through the new ring. Until the ingress listened while
 * waiting for room, it read nothing meanwhile and counted the link alive:
 * "fast" waited for ever. The messages (2000 B: two frames of a 64-frame
 * ring) fit B's ring: one longer than it is published in one attempt of
 * up to 10 s (bridge.h says so). */
Test(bridge, full_ring_on_b_still_hears_a_silent_link)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  const char *rep_slow = ts_tmp_path("report_slow"), *rep_fast = ts_tmp_path("report_fast");
  const char *events = ts_tmp_path("events");
  const char *ing_extra[] = {"--json=0.05", "--wait-readers=2", NULL};
  const int count = 3000;
  struct side in = ingress(rb, ep, ing_extra);
  pid_t slow = reader_id(rb, "slow", "fixed:2000", 31, count, rep_slow);
  pid_t fast = reader_id_events(rb, "fast", "fixed:2000", 31, count, rep_fast, events);
  /* The slow reader stops once it attached, before A's producer starts:
   * stopped later, on a quiet machine the whole stream could pass first. */
  cr_assert(eq(u32, consumers_attached(rb, 2), 2u), "B's readers did not attach: %s", slurp(in.err));
  cr_assert(eq(int, kill(slow, SIGSTOP), 0));
  pid_t pr = producer(ra, "fixed:2000", 31, count);
  struct side eg = egress(ra, ep, NULL);
  cr_assert(wait_applied(&in, 16, 60000), "the ingress never applied 16 messages: %s / %s", slurp(in.err),
            slurp(eg.err));
  int64_t full = realtime_ms();
  /* B's ring fills within a few messages; the link stays up meanwhile. */
  usleep((useconds_t)(3 * 500 + ts_slack_ms()) * 1000);
  long at = ingress_next(&in);
  cr_assert(strstr(slurp(in.err), "nothing from the egress") == NULL, "a live link taken for dead: %s",
            slurp(in.err));
  cr_assert(first_ownerdead(events, full) < 0, "B's ring was closed while the link was alive: %s", slurp(in.err));
  cr_assert(at < count, "the stream ended before B's ring filled (at %ld)", at);
  cr_assert(eq(int, kill(eg.pid, SIGSTOP), 0));
  int64_t stopped = realtime_ms(), dead = -1;
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(30000) * 1000000;
  while ((dead = first_ownerdead(events, stopped)) < 0 && ts_now_ns() < deadline)
    usleep(5000);
  cr_assert(dead >= 0, "B's reader never saw the producer gone while B's ring was full; ingress: %s", slurp(in.err));
  long detect = (long)(dead - stopped);
  fprintf(stderr, "bridge: with B's ring full, a silent link ended B's other reader's wait after %ld ms (link "
                  "timeout 500 ms)\n", detect);
  cr_assert(detect <= 500 + 3 * ts_slack_ms(), "detection took %ld ms", detect);
  cr_assert(wait_for_text(in.err, "nothing from the egress for 500 ms", 5000), "ingress: %s", slurp(in.err));
  cr_assert(eq(int, kill(eg.pid, SIGCONT), 0));
  cr_assert(eq(int, kill(slow, SIGCONT), 0));
  int rc = ts_wait(slow, ts_timeout_ms(CHILD_MS));
  cr_assert(eq(int, rc, 0), "slow reader exited %d (%s); ingress: %s", rc, slurp(rep_slow), slurp(in.err));
  struct report r = read_report(rep_slow);
  cr_assert(r.received == (unsigned long)count && r.dup == 0 && r.lost == 0 && r.bad == 0 && r.attaches >= 2,
            "slow reader: %s", slurp(rep_slow));
  expect_stream_done(fast, CHILD_MS, rep_fast, count, 2, pr, &eg, &in);
  stop(&in);
}

/* The same full ring on B, after A's producer exited: the egress, left
 * with messages in flight and nothing more to send, keeps pinging, so the
 * ingress (listening while B's ring is full) does not take the wait for
 * B's stopped reader for a silent link. B's readers see one ring, every
 * message once. Until the egress pinged once A's
 * producer was gone, B's ring was closed under the stopped reader after
 * the link timeout (a spurious restart on B). */
Test(bridge, full_ring_on_b_after_a_s_producer_ended_is_not_silence)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  const char *rep_slow = ts_tmp_path("report_slow"), *rep_fast = ts_tmp_path("report_fast");
  const char *events = ts_tmp_path("events");
  const char *ing_extra[] = {"--json=0.05", "--wait-readers=2", NULL};
  const int count = 100; /* within the egress's window: A's producer ends at once */
  struct side in = ingress(rb, ep, ing_extra);
  pid_t slow = reader_id(rb, "slow", "fixed:2000", 32, count, rep_slow);
  pid_t fast = reader_id_events(rb, "fast", "fixed:2000", 32, count, rep_fast, events);
  /* The slow reader stops once it attached (the ingress waits for both). */
  cr_assert(eq(u32, consumers_attached(rb, 2), 2u), "B's readers did not attach: %s", slurp(in.err));
  cr_assert(eq(int, kill(slow, SIGSTOP), 0));
  pid_t pr = producer(ra, "fixed:2000", 32, count);
  const char *eg_extra[] = {"--window=512", NULL}; /* the tests' helper says 16 */
  struct side eg = egress(ra, ep, eg_extra);
  /* A's producer publishes all (the egress's window holds them) and exits;
   * B's ring holds 32 of them. (Past 2 s without an acknowledgement the
   * egress handshakes again, and its HELLOs are life too: the window
   * that matters is before.) */
  cr_assert(eq(int, ts_wait(pr, ts_timeout_ms(20000)), 0), "producer; egress: %s; ingress: %s", slurp(eg.err),
            slurp(in.err));
  int64_t gone = realtime_ms();
  usleep((useconds_t)(3 * 500 + ts_slack_ms()) * 1000);
  cr_assert(strstr(slurp(in.err), "nothing from the egress") == NULL, "a live link taken for dead: %s",
            slurp(in.err));
  cr_assert(first_ownerdead(events, gone) < 0, "B's ring was closed under its stopped reader: %s", slurp(in.err));
  cr_assert(eq(int, kill(slow, SIGCONT), 0));
  int rc = ts_wait(slow, ts_timeout_ms(CHILD_MS));
  cr_assert(eq(int, rc, 0), "slow reader exited %d (%s); ingress: %s", rc, slurp(rep_slow), slurp(in.err));
  rc = ts_wait(fast, ts_timeout_ms(CHILD_MS));
  cr_assert(eq(int, rc, 0), "fast reader exited %d (%s)", rc, slurp(rep_fast));
  struct report r = read_report(rep_fast);
  cr_assert(r.received == (unsigned long)count && r.dup == 0 && r.lost == 0 && r.bad == 0 && r.attaches == 1,
            "fast reader: %s", slurp(rep_fast));
  r = read_report(rep_slow);
  cr_assert(r.attaches == 1, "slow reader: %s", slurp(rep_slow));
  rc = ts_wait(eg.pid, ts_timeout_ms(20000));
  cr_assert(eq(int, rc, 0), "egress exited %d: %s", rc, slurp(eg.err));
  stop(&in);
}

/* A producer restart on A (a new epoch) is seen on B as one on A would be:
 * B's reader reads all the first producer published, then its wait ends
 * with -DMP_E_OWNERDEAD; the egress (without --once) follows the ring to
 * its next producer and B's reader, attaching again, reads the new
 * stream. */
Test(bridge, producer_restart_on_a_is_seen_on_b_and_followed)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  const char *report1 = ts_tmp_path("report1"), *report2 = ts_tmp_path("report2");
  const int count = 150;
  struct side in = ingress(rb, ep, NULL);
  pid_t rd1 = reader_ex(rb, "big", 12, count, report1, NULL, 1);
  pid_t pr1 = producer(ra, "big", 12, count);
  struct side eg = egress_mode(ra, ep, NULL, false);
  cr_assert(eq(int, ts_wait(pr1, ts_timeout_ms(CHILD_MS)), 0), "first producer");
  int rc = ts_wait(rd1, ts_timeout_ms(CHILD_MS));
  cr_assert(eq(int, rc, 0), "first reader exited %d (%s); egress: %s; ingress: %s", rc, slurp(report1),
            slurp(eg.err), slurp(in.err));
  cr_assert(wait_for_text(eg.err, "waiting for its next producer", 5000), "egress: %s", slurp(eg.err));
  cr_assert(eq(int, kill(eg.pid, 0), 0), "the egress ended with the first producer");
  /* The second producer: another stream (seed 13), on a new ring of the
   * same name on A. */
  pid_t rd2 = reader(rb, "big", 13, count, report2);
  pid_t pr2 = producer(ra, "big", 13, count);
  rc = ts_wait(rd2, ts_timeout_ms(CHILD_MS));
  cr_assert(eq(int, rc, 0), "second reader exited %d (%s); egress: %s; ingress: %s", rc, slurp(report2),
            slurp(eg.err), slurp(in.err));
  cr_assert(eq(int, ts_wait(pr2, ts_timeout_ms(20000)), 0), "second producer");
  cr_assert(wait_for_text(eg.out, "\"messages\":300,", 5000), "egress status: %s", slurp(eg.out));
  stop(&eg);
  stop(&in);
  cr_assert(strstr(slurp(in.out), "\"messages\":300,") != NULL, "ingress status: %s", slurp(in.out));
  cr_assert(strstr(slurp(in.out), "\"duplicates\":0,") != NULL, "ingress status: %s", slurp(in.out));
}


/* An egress killed (SIGKILL) while it has messages in flight that B has
 * not applied, and restarted with the same --state file: B's reader gets
 * every message once, in order. The ingress is stopped (SIGSTOP) before
 * the kill, so the egress fills its window with messages B never sees
 * before the egress dies; those must come again from A's ring (the egress
 * released none of them), and those B applied without the egress seeing
 * the acknowledgement are dropped by the ingress as duplicates. Before
 * the egress held A's slots until acknowledged (it released each as it
 * copied it), the restarted egress resumed after its window: B's reader
 * reported the gap (lost > 0). A's ring (512 frames) holds every "big"
 * message whole. B's reader takes 5 ms a message (as in test_raw.c and
 * test_bytes.c): B's ring (512 KiB) holds a few messages, so the stream
 * is still running at each kill however fast the machine (at full speed
 * the 70 messages after the 80th could all cross before the ingress is
 * stopped, and the egress, done, exits 0 rather than dying of SIGKILL). */
Test(bridge, egress_killed_with_messages_in_flight_resumes_without_loss_or_duplicate)
{
  CAP = 512;
  const int count = 250;
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b"), *report = ts_tmp_path("report");
  char state[320];
  snprintf(state, sizeof state, "--state=%s", ts_tmp_path("egstate"));
  const char *ing_extra[] = {"--json=0.02", "--timeout=5s", NULL};
  const char *eg_extra[] = {state, NULL};
  struct side in = ingress(rb, ep, ing_extra);
  pid_t rd = reader_ex2(rb, "big", 21, count, report, NULL, 0, 2); /* slow: the stream lasts */
  pid_t pr = producer(ra, "big", 21, count);
  struct side eg = egress_killed_twice(ra, ep, eg_extra, &in);
  expect_stream_done(rd, CHILD_MS, report, count, 0, pr, &eg, &in);
  cr_assert(strstr(slurp(eg.err), "resuming ring") != NULL, "the restarted egress did not resume: %s", slurp(eg.err));
  fprintf(stderr, "bridge: after two egress kills: %s; ingress: %s\n", slurp(report), strrchr(slurp(in.out), '{'));
  stop(&in);
}

/* A hand-rolled ingress (a ROUTER in this process) for the test below:
 * answers every HELLO with a WELCOME of `next` (never an ACK) and checks
 * each DATA against the stream: its link sequence must be the index of the
 * message it carries on A's ring. Returns once `until` - 1 arrived (or
 * false at the bound); *first: the first DATA's sequence. */
static bool fake_ingress(void *r, const struct frm_stream *st, uint64_t next, uint64_t until, uint64_t *first)
{
  static uint8_t buf[1 << 16];
  *first = UINT64_MAX;
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
  while (ts_now_ns() < deadline) {
    zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 50) <= 0)
      continue;
    uint8_t id[256];
    int idn = zmq_recv(r, id, sizeof id, 0);
    int n = zmq_recv(r, buf, sizeof buf, 0);
    cr_assert(idn > 0 && n >= 0 && n < (int)sizeof buf, "a routing id and one message");
    struct myelon_bridge_wire w;
    cr_assert(eq(int, myelon_bridge_wire_parse(buf, (size_t)n, &w), 0), "the egress sent a bad message");
    if (w.type == MYELON_BRIDGE_HELLO) {
      uint8_t m[MYELON_BRIDGE_SEQ_SIZE] = {'M', 'Y', 'B', MYELON_BRIDGE_WIRE_VERSION, MYELON_BRIDGE_WELCOME};
      memcpy(m + 8, &next, 8); /* the wire is little-endian, as this host */
      zmq_send(r, id, (size_t)idn, ZMQ_SNDMORE);
      zmq_send(r, m, sizeof m, 0);
    } else if (w.type == MYELON_BRIDGE_DATA) {
      if (*first == UINT64_MAX)
        *first = w.seq;
      uint64_t got = 0, carried = UINT64_MAX;
      if (w.len >= 8)
        memcpy(&carried, w.payload, 8);
      int f = frm_check(st, w.payload, w.len, w.kind, w.seq, until, &got);
      cr_assert(eq(int, f, FRM_OK), "DATA %" PRIu64 " is not message %" PRIu64 " of A's ring (%s; it carries "
                "message %" PRIu64 "): the ingress would apply a message twice, or skip one",
                w.seq, w.seq, frm_fault_name(f), carried);
      if (w.seq == until - 1)
        return true;
    }
  }
  return false;
}

/* An egress with a state file killed (SIGKILL) before any acknowledgement
 * reached it (starved, or B slow to acknowledge), while B may have applied
 * what it sent, and restarted with the same file: it must send A's
 * messages again under the numbers it gave them, so that the ingress drops
 * those B applied as duplicates. Here the ingress is hand-rolled: it never
 * acknowledges, tells the restarted egress that B applied messages 0 .. 2
 * (WELCOME 3), and checks that each DATA's sequence is the index of its
 * message on A's ring (profile fixed:64: every message names its index).
 * Before the egress recorded at its attach where A's ring stood and which
 * sequence came next, an egress killed before its first release left an
 * empty state file; the restarted one took the WELCOME's 3 for A's first
 * unreleased message (message 0), and B applied messages 0 .. 2 twice (the
 * kill sweep's seed 4 once saw dup=3 that way). */
Test(bridge, egress_killed_before_any_acknowledgement_resends_under_the_same_numbers)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a");
  const uint64_t count = 8;
  struct frm_stream st = {.seed = 29, .profile = FRM_FIXED, .fixed = 64, .fcap = FCAP, .ring = CAP};
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = ra;
  pc.ring.capacity = CAP;
  pc.format = MYELON_FRAME_COMPACT;
  pc.frame_capacity = FCAP;
  struct myelon_producer *p = NULL;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), 0), "%s", dmp_last_error());
  void *ctx = zmq_ctx_new();
  void *r = zmq_socket(ctx, ZMQ_ROUTER);
  int zero = 0;
  zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
  cr_assert(eq(int, zmq_bind(r, ep), 0));
  char state[320];
  snprintf(state, sizeof state, "--state=%s", ts_tmp_path("egstate"));
  const char *eg_extra[] = {state, NULL};
  struct side eg = egress(ra, ep, eg_extra);
  /* Its HELLO is answered as a fresh ingress answers (NEXT_ANY); once it
   * attached, A's messages go into the ring (the egress gates it). */
  uint64_t first = 0;
  uint8_t msg[64];
  struct dmp_producer *p0 = myelon_producer_ring(p);
  for (int64_t end = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
       dmp_producer_wait_for_consumers(p0, 1, 0) <= 0 && ts_now_ns() < end;) {
    zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 10) == 1) {
      uint8_t id[256], buf[512];
      int idn = zmq_recv(r, id, sizeof id, 0);
      int n = zmq_recv(r, buf, sizeof buf, 0);
      struct myelon_bridge_wire w;
      if (idn > 0 && n > 0 && myelon_bridge_wire_parse(buf, (size_t)n, &w) == 0 && w.type == MYELON_BRIDGE_HELLO) {
        uint8_t m[MYELON_BRIDGE_SEQ_SIZE] = {'M', 'Y', 'B', MYELON_BRIDGE_WIRE_VERSION, MYELON_BRIDGE_WELCOME};
        uint64_t any = MYELON_BRIDGE_NEXT_ANY;
        memcpy(m + 8, &any, 8);
        zmq_send(r, id, (size_t)idn, ZMQ_SNDMORE);
        zmq_send(r, m, sizeof m, 0);
      }
    }
  }
  cr_assert(dmp_producer_wait_for_consumers(p0, 1, 0) > 0, "the egress never attached: %s", slurp(eg.err));
  for (uint64_t i = 0; i < count; i++) {
    size_t len = frm_size(&st, i);
    frm_fill(&st, i, msg, len);
    cr_assert(eq(int, myelon_producer_publish(p, msg, len, frm_kind(i), 1000000000LL), 0));
  }
  cr_assert(fake_ingress(r, &st, MYELON_BRIDGE_NEXT_ANY, count, &first), "the first egress did not send all %" PRIu64
            " messages: %s", count, slurp(eg.err));
  cr_assert(eq(u64, first, 0));
  kill(eg.pid, SIGKILL);
  cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(10000)), 128 + SIGKILL));
  /* B applied 0 .. 2 (their ACK never reached the egress). */
  eg = egress(ra, ep, eg_extra);
  cr_assert(fake_ingress(r, &st, 3, count, &first), "the restarted egress did not send all %" PRIu64 " messages: %s",
            count, slurp(eg.err));
  cr_assert(eq(u64, first, 0), "the restarted egress resent from its oldest unacknowledged message");
  stop(&eg);
  zmq_close(r);
  zmq_ctx_term(ctx);
  myelon_producer_close(p);
}

/* ---- The seeded kill sweep ----
 *
 * Each seed runs one bridged stream (profile big: 16 .. 256 KB messages that
 * name their index, 30 .. 89 of them, over ipc://) and injects one fault at
 * a seeded point (after the ingress applied a seeded number of messages):
 *   0  kill -9 the ingress, restart it with its --state file;
 *   1  the remote end goes silent (SIGSTOP the egress: B cannot tell a hung
 *      host A from a cut link) for a seeded 0.6 .. 1.5 s, then SIGCONT;
 *   2  kill -9 B's reader, start a new one (it starts at the oldest
 *      message still in the ring: it must see a gap-free, duplicate-free,
 *      byte-exact tail ending with the last message);
 *   3  kill -9 the producer on A (at the moment it published a seeded
 *      message): a local reader on A is the oracle for what was published;
 *   4  kill -9 the egress (a seeded 0 .. 20 ms after that point), restart
 *      it with its --state file: A's ring here holds 512 frames, so every
 *      message fits it and is held there until B acknowledged it.
 * Every egress runs with a --state file (it holds A's slots until B's
 * acknowledgements; in classes 0 .. 3 most messages are longer than the
 * 64-frame ring, which it releases as it reads them).
 * Seeds whose seed / 5 is odd run their class on a raw ring instead
 * (brg_raw: 200-byte slots carried slot by slot, each naming its index and
 * checked byte for byte; the ingress creates a raw ring): the same faults,
 * the same oracle. Seeds whose seed / 10 is odd run on byte rings
 * (SHAPE_BYTES: a framed MYELON_FRAME_BYTES ring of 16 MiB, or a raw
 * DMP_RING_BYTES ring of 128 KiB with records of 16 .. 40000 bytes), so
 * every fault class meets each of the four ring kinds.
 * Oracle: B's reader counts lost, duplicated and damaged messages (all 0),
 * its count equals the stream's (or A's local reader's, for 3); every
 * process ends within its bound. For 1 the time from SIGSTOP to B's
 * reader's OWNERDEAD is the detection time of a dead remote, reported at
 * the end (min / median / max).
 *
 * BRIDGE_SWEEP_SEEDS (default 8) seeds from BRIDGE_SWEEP_SEED_BASE (default
 * 1); BRIDGE_SWEEP_SEED=n replays one. Suite 'sweep' runs 4 shards of 50. */

static uint64_t sweep_rng(uint64_t *s)
{
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return *s >> 33;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? strtoull(v, NULL, 10) : dflt;
}

/* Wait for a child (bounded): its exit status, with a message on failure. */
static bool sweep_wait(pid_t pid, int ms, int want, const char *what, uint64_t seed)
{
  int rc = ts_wait(pid, ts_timeout_ms(ms));
  if (rc != want)
    fprintf(stderr, "sweep seed %" PRIu64 ": %s exited %d (want %d)\n", seed, what, rc, want);
  return rc == want;
}


static bool report_ok(const char *path, unsigned long want, uint64_t seed, const char *who)
{
  struct report r = {0, 9, 9, 9, 0};
  if (sscanf(slurp(path), "received=%lu dup=%lu lost=%lu bad=%lu attaches=%lu", &r.received, &r.dup, &r.lost, &r.bad,
             &r.attaches) != 5 ||
      r.dup != 0 || r.lost != 0 || r.bad != 0 || (want != 0 && r.received != want)) {
    fprintf(stderr, "sweep seed %" PRIu64 ": %s report \"%s\" (want received=%lu, 0 lost/dup/bad)\n", seed, who,
            slurp(path), want);
    return false;
  }
  return true;
}

static const char *shape_name(uint64_t seed)
{
  static const char *const names[] = {"framed", "raw", "framed byte", "raw byte"};
  return names[((seed / 5) % 2) + 2 * ((seed / 10) % 2)];
}

/* One seed; true when the oracle holds. *detect_ms: the detection time
 * (fault 1), else -1. */
static bool sweep_seed(uint64_t seed, long *detect_ms)
{
  uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 17;
  sweep_rng(&rng);
  int fault = (int)(seed % 5);
  bool raw = (seed / 5) % 2 == 1;
  SHAPE = (seed / 10) % 2 == 1 ? SHAPE_BYTES : SHAPE_SLOTS;
  /* Raw: 8-slot rings, so that the slow reader back-pressures the stream
   * (40 .. 99 slots) and the fault lands mid-stream; a slot always fits. */
  CAP = raw ? 8 : fault == 4 ? 512 : CAP_DEFAULT;
  int count = 40 + (int)(sweep_rng(&rng) % 60);
  int at = 3 + (int)(sweep_rng(&rng) % (uint64_t)(count - 33)); /* >= 30 messages after it */
  /* A framed byte ring (16 MiB) holds some 120 "big" messages: 200 more
   * keep the producer back-pressured (running) through the fault, as the
   * slot rings' streams are. Fault 4 needs it running until the new egress
   * attached (a producer that closed cleanly took the ring's name with
   * it: bridge.h, "Egress crashes"), and A's ring, the window and B's ring
   * hold some 260 messages at the kill on top of the <= 66 B's slow reader
   * took: 600 more (the reader needs > 1 s for the margin). 200 failed
   * about 1 seed in 200 ("no such ring" for the new egress). */
  if (SHAPE == SHAPE_BYTES && !raw)
    count += fault == 4 ? 600 : 200;
  *detect_ms = -1;
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  const char *report = ts_tmp_path("report"), *events = ts_tmp_path("events");
  char state[320];
  snprintf(state, sizeof state, "--state=%s", ts_tmp_path("state"));
  /* Fault 3 ends the stream early: a generous link timeout there, so that
   * a starved CPU cannot end B's reader before the producer's death does. */
  const char *ing_extra[8] = {state, "--json=0.02"};
  int ni = 2;
  if (fault == 3)
    ing_extra[ni++] = "--timeout=3s";
  for (int k = 0; raw && raw_ingress_args[k] != NULL; k++)
    ing_extra[ni++] = raw_ingress_args[k];
  struct side in = ingress(rb, ep, ing_extra);
  /* B's reader is slow (5 ms a message): it back-pressures the link and
   * A's producer, so the fault lands mid-stream. */
  pid_t rd = raw ? raw_reader_ex(rb, seed, count, report, events, fault == 3 ? 2 : 0, 2)
               : reader_ex2(rb, "big", seed, count, report, events, fault == 3 ? 2 : 0, 2);
  pid_t local = -1;
  const char *local_report = ts_tmp_path("local"), *ready = ts_tmp_path("ready");
  if (fault == 3)
    local = raw ? raw_reader_ex(ra, seed, count, local_report, NULL, 2, 0)
                : reader_ex(ra, "big", seed, count, local_report, NULL, 2);
  pid_t pr = raw ? raw_producer_ex(ra, seed, count, fault == 3 ? 2 : 1, fault == 3 ? ready : NULL, at, 0)
                 : producer_ex(ra, "big", seed, count, fault == 3 ? 2 : 1, fault == 3 ? ready : NULL, at);
  char eg_state[320];
  snprintf(eg_state, sizeof eg_state, "--state=%s", ts_tmp_path("egstate"));
  const char *eg_extra[] = {eg_state, NULL};
  struct side eg = egress(ra, ep, eg_extra);
  bool ok = true;
  if (fault != 3 && !wait_applied(&in, at, 60000)) {
    fprintf(stderr, "sweep seed %" PRIu64 ": the ingress never applied %d messages: %s / %s\n", seed, at,
            slurp(in.err), slurp(eg.err));
    return false;
  }
  switch (fault) {
  case 0:
    kill(in.pid, SIGKILL);
    ok = sweep_wait(in.pid, 10000, 128 + SIGKILL, "killed ingress", seed);
    in = ingress(rb, ep, ing_extra);
    break;
  case 1: {
    kill(eg.pid, SIGSTOP);
    int64_t stopped = realtime_ms(), dead = -1;
    int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(20000) * 1000000;
    while ((dead = first_ownerdead(events, stopped)) < 0 && ts_now_ns() < deadline)
      usleep(2000);
    if (dead < 0) {
      fprintf(stderr, "sweep seed %" PRIu64 ": B's reader never saw the silent link\n", seed);
      ok = false;
    } else {
      *detect_ms = (long)(dead - stopped);
    }
    int64_t cont = stopped + 600 + (int64_t)(sweep_rng(&rng) % 900);
    if (realtime_ms() < cont)
      usleep((useconds_t)(cont - realtime_ms()) * 1000);
    kill(eg.pid, SIGCONT);
    break;
  }
  case 2:
    kill(rd, SIGKILL);
    ok = sweep_wait(rd, 10000, 128 + SIGKILL, "killed reader", seed);
    /* The new reader starts wherever the ring's oldest message is: it
     * must see a clean tail (brg_reader counts a gap only after its
     * first message, with --count checking it reaches the end). */
    rd = raw ? raw_reader_ex(rb, seed, count, report, NULL, 0, 1) : reader_ex2(rb, "big", seed, count, report, NULL, 0, 1);
    break;
  case 3:
    if (!ts_wait_path(ready, ts_timeout_ms(60000))) {
      fprintf(stderr, "sweep seed %" PRIu64 ": the producer never reached message %d\n", seed, at);
      return false;
    }
    kill(pr, SIGKILL);
    ok = sweep_wait(pr, 10000, 128 + SIGKILL, "killed producer", seed);
    pr = -1;
    break;
  case 4:
    usleep((useconds_t)(sweep_rng(&rng) % 20000));
    kill(eg.pid, SIGKILL);
    ok = sweep_wait(eg.pid, 10000, 128 + SIGKILL, "killed egress", seed);
    eg = egress(ra, ep, eg_extra);
    break;
  }
  ok = sweep_wait(rd, CHILD_MS, 0, "B's reader", seed) && ok;
  if (fault == 3) {
    ok = sweep_wait(local, CHILD_MS, 0, "A's local reader", seed) && ok;
    struct report lr = {0, 0, 0, 0, 0};
    if (sscanf(slurp(local_report), "received=%lu", &lr.received) != 1)
      ok = false;
    ok = report_ok(local_report, 0, seed, "A's local reader") && ok;
    ok = report_ok(report, lr.received, seed, "B's reader") && ok;
    ok = lr.received >= (unsigned long)at && ok;
  } else {
    ok = report_ok(report, fault == 2 ? 0 : (unsigned long)count, seed, "B's reader") && ok;
    ok = sweep_wait(pr, 20000, 0, "producer", seed) && ok;
  }
  /* --once: the egress ends once the producer is gone and all was acknowledged. */
  ok = sweep_wait(eg.pid, 20000, 0, "egress", seed) && ok;
  kill(in.pid, SIGTERM);
  ok = sweep_wait(in.pid, 10000, 0, "ingress", seed) && ok;
  if (!ok)
    fprintf(stderr, "sweep seed %" PRIu64 " (fault %d, %s ring, %d messages, at %d): egress: %s\ningress: %s\n", seed,
            fault, shape_name(seed), count, at, slurp(eg.err), slurp(in.err));
  return ok;
}

static int cmp_long(const void *a, const void *b)
{
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

Test(bridge, kill_sweep, .timeout = 0)
{
  uint64_t base = env_u64("BRIDGE_SWEEP_SEED_BASE", 1), n = env_u64("BRIDGE_SWEEP_SEEDS", 8);
  if (getenv("BRIDGE_SWEEP_SEED") != NULL) {
    base = env_u64("BRIDGE_SWEEP_SEED", 1);
    n = 1;
  }
  long detect[1024];
  size_t nd = 0;
  uint64_t failed = 0;
  for (uint64_t s = base; s < base + n; s++) {
    long d = -1;
    bool ok = sweep_seed(s, &d);
    ts_kill_children(); /* before the rings go */
    ts_cleanup();
    SHAPE = SHAPE_SLOTS;
    if (!ok) {
      failed++;
      /* The format .ci/run's summary picks up ("^FAILED seed", "^  replay: "). */
      fprintf(stderr, "FAILED seed %" PRIu64 " (bridge kill sweep, fault class %d, %s ring; reasons above)\n"
              "  replay: BRIDGE_SWEEP_SEED=%" PRIu64 " meson test -C build bridge_mp -v\n", s, (int)(s % 5),
              shape_name(s), s);
    }
    if (d >= 0 && nd < sizeof detect / sizeof detect[0])
      detect[nd++] = d;
  }
  if (nd > 0) {
    qsort(detect, nd, sizeof detect[0], cmp_long);
    fprintf(stderr, "bridge sweep: seeds %" PRIu64 "..%" PRIu64 ", %" PRIu64 " failed; detection of a dead remote "
            "on B (link timeout 500 ms), %zu samples: min %ld ms, median %ld ms, max %ld ms\n", base, base + n - 1,
            failed, nd, detect[0], detect[nd / 2], detect[nd - 1]);
  }
  cr_assert(eq(u64, failed, 0), "%" PRIu64 " of %" PRIu64 " seeds failed", failed, n);
}

/* The liveness state dmp-stat shows for consumer `id` of a ring. */
static enum dmp_peer_state consumer_liveness(const char *ring, const char *id, bool *durable)
{
  struct dmp_inspect *in = NULL;
  const struct dmp_ring_stat *st = NULL;
  cr_assert(eq(int, dmp_inspect_open(DMP_BACKEND_SHM, ring, &in), 0), "inspect %s", ring);
  cr_assert(eq(int, dmp_inspect_sample(in, &st), 0));
  enum dmp_peer_state s = DMP_PEER_IDLE;
  bool found = false;
  for (uint32_t i = 0; i < st->n_consumers; i++)
    if (strcmp(st->consumers[i].id, id) == 0) {
      s = st->consumers[i].liveness;
      *durable = st->consumers[i].durable;
      found = true;
    }
  dmp_inspect_close(in);
  cr_assert(found, "no consumer %s on ring %s", id, ring);
  return s;
}

/* A dead egress process (kill -9: host A's side of the link gone) is, on
 * A, a dead consumer like any other: its durable entry "bridge" shows
 * dead (the kernel lock of its holder is gone), which is what the ring's
 * liveness action (fail, alert, evict) acts on; and on B, the silent link
 * ends the reader's wait with OWNERDEAD within the link timeout. (That
 * nothing in flight is lost across an egress crash is
 * egress_killed_with_messages_in_flight_... and the sweep's class 4.) */
Test(bridge, killed_egress_is_a_dead_consumer_on_a_and_a_dead_producer_on_b)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b"), *report = ts_tmp_path("report");
  const char *events = ts_tmp_path("events");
  const char *ing_extra[] = {"--json=0.02", NULL};
  struct side in = ingress(rb, ep, ing_extra);
  pid_t rd = reader_ex(rb, "big", 14, 100000, report, events, 0);
  pid_t pr = producer(ra, "big", 14, 100000);
  struct side eg = egress(ra, ep, NULL);
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(60000) * 1000000;
  while (ingress_next(&in) < 20) {
    cr_assert(ts_now_ns() < deadline, "the ingress never applied 20 messages: %s / %s", slurp(in.err),
              slurp(eg.err));
    usleep(1000);
  }
  bool durable = false;
  /* Alive, or stalled: with the producer far ahead the egress waits for
   * B's credit with a full ring, which a first sample calls stalled (a
   * quiet machine gets there before 20 messages are applied). Either way
   * its holder is alive; only the kill below makes it dead. */
  enum dmp_peer_state before = consumer_liveness(ra, "bridge", &durable);
  cr_assert(before == DMP_PEER_ALIVE || before == DMP_PEER_STALLED, "the live egress's entry is %d", (int)before);
  cr_assert(durable, "the egress's entry is durable");
  kill(eg.pid, SIGKILL);
  int64_t killed = realtime_ms();
  cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(10000)), 128 + SIGKILL));
  cr_assert(eq(int, (int)consumer_liveness(ra, "bridge", &durable), (int)DMP_PEER_DEAD),
            "a killed egress is a dead consumer on A");
  int64_t dead = -1;
  while ((dead = first_ownerdead(events, killed)) < 0) {
    cr_assert(ts_now_ns() < deadline, "B's reader never saw the producer gone; ingress: %s", slurp(in.err));
    usleep(5000);
  }
  fprintf(stderr, "bridge: a killed egress ended B's reader's wait after %ld ms\n", (long)(dead - killed));
  cr_assert(dead - killed <= 500 + 3 * ts_slack_ms(), "detection took %ld ms", (long)(dead - killed));
  kill(pr, SIGKILL);
  kill(rd, SIGKILL);
  ts_wait(pr, ts_timeout_ms(10000));
  ts_wait(rd, ts_timeout_ms(10000));
  stop(&in);
}

/* ---- A's producer's liveness actions when B is unreachable ----
 *
 * The producer on A is this test process, with liveness on (liveness.h)
 * requiring consumer "bridge": the egress. B's ingress has no reader (its
 * ring never fills), so only the link can hold A back. */

struct alerts {
  int n, dead, evicted;
  char id[DMP_ID_MAX + 1];
};

static void on_alert(const struct dmp_liveness_alert *a, void *user)
{
  struct alerts *al = user;
  al->n++;
  al->dead += a->dead;
  al->evicted += a->evicted;
  snprintf(al->id, sizeof al->id, "%s", a->consumer_id);
}

static struct myelon_producer *liveness_producer(const char *ring, enum dmp_liveness_action action, struct alerts *al)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.name = ring;
  pc.ring.capacity = CAP;
  pc.frame_capacity = FCAP;
  struct myelon_producer *p = NULL;
  cr_assert(eq(int, myelon_producer_create(&pc, &p), 0), "create %s: %s", ring, dmp_last_error());
  static const char *const required[] = {"bridge"};
  struct dmp_liveness_config lc;
  dmp_liveness_config_init(&lc);
  lc.required_ids = required;
  lc.n_required = 1;
  lc.startup_timeout_ns = (int64_t)ts_timeout_ms(20000) * 1000000;
  lc.progress_timeout_ns = 200LL * 1000000;
  lc.grace_ns = 400LL * 1000000;
  lc.action = action;
  lc.quiet = true;
  lc.alert = on_alert;
  lc.user = al;
  cr_assert(eq(int, dmp_producer_enable_liveness(myelon_producer_ring(p), &lc), 0), "%s", dmp_last_error());
  return p;
}

/* Managed publishes of 1 KiB messages (each waiting up to `each_ms`) for up
 * to `total_ms`, or `n` of them: the first failure's code, or 0. */
static int publish_for(struct myelon_producer *p, int n, int each_ms, int total_ms, int *done)
{
  static uint8_t msg[1000];
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(total_ms) * 1000000;
  for (*done = 0; *done < n && ts_now_ns() < deadline; (*done)++) {
    int rc = myelon_producer_publish_managed(p, msg, sizeof msg, 1, (int64_t)ts_timeout_ms(each_ms) * 1000000, NULL);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* Start ingress, egress and a producer with `action`; 300 messages across. */
static struct myelon_producer *liveness_setup(enum dmp_liveness_action action, struct alerts *al, struct side *in,
                                              struct side *eg, const char **ra_out)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  *ra_out = ra;
  static const char *const ing_extra[] = {"--wait-readers=0", "--timeout=10s", NULL};
  *in = ingress(rb, ep, ing_extra);
  struct myelon_producer *p = liveness_producer(ra, action, al);
  *eg = egress(ra, ep, NULL);
  int done = 0;
  int rc = publish_for(p, 300, 20000, 60000, &done);
  cr_assert(eq(int, rc, 0), "publishing with B reachable failed after %d: %s; egress: %s", done, dmp_last_error(),
            slurp(eg->err));
  cr_assert(eq(int, done, 300));
  return p;
}

/* DMP_LIVENESS_FAIL: B stops answering (the ingress is stopped, as a host
 * that hangs or a cut link); the egress reads no further once its window
 * is full, so A's producer sees consumer "bridge" stall: an alert naming
 * it, then, past grace, its managed publish fails with -DMP_E_STALLED. */
Test(bridge, unreachable_b_alerts_then_fails_a_producer_past_grace)
{
  struct alerts al = {0};
  struct side in, eg;
  const char *ra;
  struct myelon_producer *p = liveness_setup(DMP_LIVENESS_FAIL, &al, &in, &eg, &ra);
  cr_assert(eq(int, al.n, 0), "an alert while B was reachable (%s)", al.id);
  kill(in.pid, SIGSTOP);
  int done = 0;
  int rc = publish_for(p, 1 << 30, 20000, 30000, &done);
  cr_assert(eq(int, rc, -DMP_E_STALLED), "publish with B stopped: %d (%s) after %d messages", rc, dmp_last_error(),
            done);
  cr_assert(strstr(dmp_last_error(), "bridge") != NULL, "the detail does not name the egress: %s", dmp_last_error());
  cr_assert(al.n >= 1 && strcmp(al.id, "bridge") == 0 && al.dead == 0, "alerts %d (%s), dead %d", al.n, al.id,
            al.dead);
  fprintf(stderr, "bridge: B unreachable: %d messages more, then an alert and -DMP_E_STALLED (%s)\n", done,
          dmp_last_error());
  kill(in.pid, SIGCONT);
  myelon_producer_close(p);
  cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(20000)), 0), "egress: %s", slurp(eg.err));
  stop(&in);
}

/* DMP_LIVENESS_ALERT_ONLY: the stall is reported, the producer keeps
 * waiting, and when B answers again the link resumes and so does A. */
Test(bridge, unreachable_b_alerts_and_a_resumes_when_b_is_back)
{
  struct alerts al = {0};
  struct side in, eg;
  const char *ra;
  struct myelon_producer *p = liveness_setup(DMP_LIVENESS_ALERT_ONLY, &al, &in, &eg, &ra);
  kill(in.pid, SIGSTOP);
  int done = 0, rc = 0;
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(30000) * 1000000;
  while (al.n == 0 && ts_now_ns() < deadline) {
    rc = publish_for(p, 1 << 30, 100, 1000, &done);
    cr_assert(rc == 0 || rc == -ETIMEDOUT, "publish with B stopped: %d (%s)", rc, dmp_last_error());
  }
  cr_assert(al.n >= 1 && strcmp(al.id, "bridge") == 0, "no stall alert for the egress (%d)", al.n);
  /* Past grace too: alert-only never fails. */
  rc = publish_for(p, 1 << 30, 700, 700, &done);
  cr_assert(rc == 0 || rc == -ETIMEDOUT, "alert-only failed: %d (%s)", rc, dmp_last_error());
  kill(in.pid, SIGCONT);
  rc = publish_for(p, 200, 20000, 60000, &done);
  cr_assert(eq(int, rc, 0), "after B came back: %d (%s) after %d; egress: %s", rc, dmp_last_error(), done,
            slurp(eg.err));
  myelon_producer_close(p);
  cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(20000)), 0), "egress: %s", slurp(eg.err));
  stop(&in);
}

/* DMP_LIVENESS_EVICT: a killed egress is a dead consumer; A's producer
 * evicts its entry (an alert with dead and evicted set) and goes on, no
 * longer held back by the link. */
Test(bridge, killed_egress_is_evicted_by_a_producer_with_the_evict_action)
{
  struct alerts al = {0};
  struct side in, eg;
  const char *ra;
  struct myelon_producer *p = liveness_setup(DMP_LIVENESS_EVICT, &al, &in, &eg, &ra);
  kill(in.pid, SIGSTOP); /* so that the egress holds A back when it dies */
  usleep(100000);
  kill(eg.pid, SIGKILL);
  cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(10000)), 128 + SIGKILL));
  int done = 0;
  int rc = publish_for(p, 4 * (int)CAP, 20000, 30000, &done);
  cr_assert(eq(int, rc, 0), "publish after the egress died: %d (%s) after %d", rc, dmp_last_error(), done);
  cr_assert(al.dead >= 1 && al.evicted >= 1 && strcmp(al.id, "bridge") == 0, "alerts %d dead %d evicted %d (%s)",
            al.n, al.dead, al.evicted, al.id);
  cr_assert(eq(u32, ring_consumers(ra), 0), "the egress's entry is still on A's ring");
  kill(in.pid, SIGCONT);
  myelon_producer_close(p);
  stop(&in);
}
