/* The bridge carrying byte rings (suite 'bridge'; bridge.h, "Byte rings"):
 * the helpers of brg_test.c with SHAPE_BYTES, so A's and B's rings are
 * framed byte rings (MYELON_FRAME_BYTES, frm_role and brg_reader: 0 B ..
 * 4 MiB messages, one record each, on a 16 MiB ring) or raw byte rings
 * (DMP_RING_BYTES, brg_raw --bytes: records of 16 .. 40000 bytes on a
 * 128 KiB ring, checked byte for byte). One producer on A, readers on B and
 * on A: every reader sees every message once, in order, intact. The
 * ingress and the egress killed (SIGKILL) mid-stream and restarted with
 * their state files: nothing lost, nothing applied twice. Geometry
 * mismatches (format, ring bytes, block) refused naming the field.
 *
 * Both "hosts" are this host, as in test_bridge.c; two_hosts.sh and
 * two_hosts_raw.sh with BRIDGE_TWO_HOSTS_SHAPE=bytes run byte rings across
 * two network namespaces with a link cut. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include <disruptor_mp/inspect.h>
#include <myelon/bridge.h>

#include "brg_test.h"
#include "support.h"

static void fini(void)
{
  ts_kill_children();
  ts_cleanup();
  CAP = CAP_DEFAULT;
  SHAPE = SHAPE_SLOTS;
}

static void init(void)
{
  SHAPE = SHAPE_BYTES;
}

TestSuite(bridge_bytes, .init = init, .fini = fini, .timeout = 300);

/* B's ring as an inspector sees it: a byte ring of A's geometry (blocks of
 * 64 bytes, `ring_bytes` in all), single-producer, of type tag `tag`. */
static void expect_bytes_geometry(const char *ring, uint64_t ring_bytes, uint64_t tag)
{
  struct dmp_inspect *in = NULL;
  const struct dmp_ring_stat *st = NULL;
  cr_assert(eq(int, dmp_inspect_open(DMP_BACKEND_SHM, ring, &in), 0), "inspect %s", ring);
  cr_assert(eq(int, dmp_inspect_sample(in, &st), 0));
  cr_assert(ne(u32, st->flags & DMP_SEG_F_BYTES, 0), "B's ring is a byte ring");
  cr_assert(eq(u32, st->slot_size, 64u), "block");
  cr_assert(eq(u64, st->capacity * st->slot_size, ring_bytes), "ring bytes");
  cr_assert(eq(u64, st->type_tag, tag));
  cr_assert(eq(u32, st->flags & DMP_SEG_F_MULTI_PRODUCER, 0), "B's ring is a single-producer ring");
  dmp_inspect_close(in);
}

static void expect_counted(const struct side *eg, struct side *in, int count)
{
  char want[64];
  snprintf(want, sizeof want, "\"messages\":%d,", count);
  cr_assert(strstr(slurp(eg->out), want) != NULL, "egress status: %s", slurp(eg->out));
  stop(in);
  cr_assert(strstr(slurp(in->out), want) != NULL, "ingress status: %s", slurp(in->out));
  cr_assert(strstr(slurp(in->out), "\"duplicates\":0,") != NULL, "ingress status: %s", slurp(in->out));
}

/* 1 -> 2 remote readers + 1 local reader on a framed byte ring: messages of
 * 0 B .. 4 MiB (the mixed profile: its first ones on boundaries, then
 * seeded sizes; 4 MiB ones on a 16 MiB ring), each with its checksum. */
Test(bridge_bytes, framed_byte_ring_two_remote_readers_and_a_local_reader_see_every_message_once)
{
  const int count = 160;
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  const char *r1 = ts_tmp_path("r1"), *r2 = ts_tmp_path("r2"), *rl = ts_tmp_path("rl");
  const char *ing_extra[] = {"--wait-readers=2", NULL};
  struct side in = ingress(rb, ep, ing_extra);
  cr_assert(wait_for_text(in.err, "<-", 10000), "ingress did not start: %s", slurp(in.err));
  cr_assert(eq(u64, bytes_ring_bytes(), UINT64_C(16) << 20), "the mixed profile's ring");
  expect_bytes_geometry(rb, bytes_ring_bytes(), myelon_frame_tag(MYELON_FRAME_BYTES, 0));
  pid_t b1 = reader_id(rb, "one", "mixed", 41, count, r1);
  pid_t b2 = reader_id(rb, "two", "mixed", 41, count, r2);
  pid_t local = reader_id(ra, "local", "mixed", 41, count, rl);
  pid_t pr = producer_ex(ra, "mixed", 41, count, 2 /* the egress, the local reader */, NULL, 0);
  struct side eg = egress(ra, ep, NULL);
  expect_stream_done(b1, CHILD_MS + 10000, r1, count, 1, pr, &eg, &in);
  cr_assert(eq(int, ts_wait(b2, ts_timeout_ms(20000)), 0), "B's second reader: %s", slurp(r2));
  cr_assert(eq(int, ts_wait(local, ts_timeout_ms(20000)), 0), "A's local reader: %s", slurp(rl));
  struct report r = read_report(r2);
  cr_assert(r.received == (unsigned long)count && r.dup == 0 && r.lost == 0 && r.bad == 0, "%s", slurp(r2));
  r = read_report(rl);
  cr_assert(r.received == (unsigned long)count && r.dup == 0 && r.lost == 0 && r.bad == 0, "%s", slurp(rl));
  expect_counted(&eg, &in, count);
}

/* A raw byte ring (dmp_producer_create() with DMP_RING_BYTES, no framing),
 * over tcp:// with CurveZMQ: records of 16 .. 40000 bytes (larger ones go
 * as DATA, smaller ones in BATCHes), each once, in order, byte for byte,
 * on B and on A's local reader. This was refused before byte rings were
 * carried (-MYELON_E_FORMAT, "is a byte ring"). */
Test(bridge_bytes, raw_byte_ring_every_record_once_in_order)
{
  const int count = 1500;
  char a[300], b[300], ak[330], ap[330], bk[330], bp[330];
  snprintf(a, sizeof a, "%s", ts_tmp_path("keya"));
  snprintf(b, sizeof b, "%s", ts_tmp_path("keyb"));
  keygen(a);
  keygen(b);
  snprintf(ak, sizeof ak, "--key=%s.key", a);
  snprintf(ap, sizeof ap, "--peer-key=%s.pub", a);
  snprintf(bk, sizeof bk, "--key=%s.key", b);
  snprintf(bp, sizeof bp, "--peer-key=%s.pub", b);
  const char *ep = tcp_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b");
  const char *report = ts_tmp_path("report"), *rl = ts_tmp_path("rl");
  const char *ing_extra[] = {bk, ap, "--raw", "--type-tag=4242424242", NULL}, *eg_extra[] = {ak, bp, NULL};
  struct side in = ingress(rb, ep, ing_extra);
  cr_assert(wait_for_text(in.err, "<-", 10000), "ingress did not start: %s", slurp(in.err));
  expect_bytes_geometry(rb, RAW_RING_BYTES, RAW_TAG);
  pid_t rd = raw_reader(rb, 42, count, report);
  pid_t local = raw_reader(ra, 42, count, rl);
  pid_t pr = raw_producer_ex(ra, 42, count, 2, NULL, 0, 0);
  struct side eg = egress(ra, ep, eg_extra);
  expect_stream_done(rd, CHILD_MS + 10000, report, count, 1, pr, &eg, &in);
  cr_assert(eq(int, ts_wait(local, ts_timeout_ms(20000)), 0), "A's local reader: %s", slurp(rl));
  expect_counted(&eg, &in, count);
}

Test(bridge_bytes, ingress_killed_mid_stream_resumes_without_loss_or_duplicate)
{
  /* B's 16 MiB ring holds some 120 messages ahead of B's slow reader at
   * each kill: 1000 leave the third ingress its 40 and more. */
  ingress_killed_thrice(1000);
}

/* The egress killed (SIGKILL) twice with messages in flight B never
 * applied, restarted with its --state file: it held A's records until
 * acknowledged (a record is at most half the ring: always held whole). */
static void egress_killed(bool raw)
{
  /* Framed: more messages than the 16 MiB ring holds, so that the
   * producer is still running (back-pressured) through both kills. */
  const int count = raw ? 400 : 600;
  const char *ep = ipc_ep(), *ra = ts_shm_name("a"), *rb = ts_shm_name("b"), *report = ts_tmp_path("report");
  char state[320];
  snprintf(state, sizeof state, "--state=%s", ts_tmp_path("egstate"));
  const char *ing_framed[] = {"--json=0.02", "--timeout=5s", NULL};
  const char *ing_raw[] = {"--json=0.02", "--timeout=5s", "--raw", "--type-tag=4242424242", NULL};
  const char *eg_extra[] = {state, NULL};
  struct side in = ingress(rb, ep, raw ? ing_raw : ing_framed);
  /* Slow readers on B: the stream lasts through both kills. */
  pid_t rd = raw ? raw_reader_ex(rb, 43, count, report, NULL, 0, 2) : reader_ex2(rb, "big", 43, count, report, NULL, 0, 2);
  pid_t pr = raw ? raw_producer(ra, 43, count) : producer(ra, "big", 43, count);
  struct side eg = egress_killed_twice(ra, ep, eg_extra, &in);
  expect_stream_done(rd, CHILD_MS, report, count, 0, pr, &eg, &in);
  cr_assert(strstr(slurp(eg.err), "resuming ring") != NULL, "the restarted egress did not resume: %s", slurp(eg.err));
  stop(&in);
}

Test(bridge_bytes, egress_killed_with_framed_records_in_flight_resumes_without_loss_or_duplicate)
{
  egress_killed(false);
}

Test(bridge_bytes, egress_killed_with_raw_records_in_flight_resumes_without_loss_or_duplicate)
{
  egress_killed(true);
}

/* A byte ring against an ingress of another shape or geometry: refused on
 * both sides naming the field; nothing applied, nothing left on A. */
Test(bridge_bytes, geometry_mismatch_refused_naming_the_field)
{
  /* A framed byte ring against a framed slot ring's ingress... */
  const char *slots[] = {"--format=compact", NULL};
  expect_refused(true, slots, "the ingress refused the link: format: egress ring bytes, ingress ring compact",
                 "refused a link: format: egress ring bytes");
  /* ... of another size, block, or a raw byte ring's ingress. */
  const char *size[] = {"--ring-bytes=8M", NULL};
  expect_refused(true, size, "the ingress refused the link: ring_bytes: egress ring 16777216, ingress ring 8388608",
                 "refused a link: ring_bytes");
  const char *block[] = {"--block=128", NULL};
  expect_refused(true, block, "the ingress refused the link: block: egress ring 64, ingress ring 128",
                 "refused a link: block");
  expect_refused(true, raw_ingress_args, "the ingress refused the link: format: egress ring bytes, ingress ring raw bytes",
                 "refused a link: format: egress ring bytes");
  /* A raw byte ring against one of another type tag. */
  const char *tag[] = {"--raw", "--type-tag=7", NULL};
  expect_refused(false, tag, "the ingress refused the link: type_tag: egress ring 0xfcde41b2, ingress ring 0x7",
                 "refused a link: type_tag");
}

/* A slot ring on A against a byte ring's ingress. */
Test(bridge_bytes, slot_ring_against_a_byte_ring_ingress_refused)
{
  SHAPE = SHAPE_SLOTS;
  const char *bytes[] = {"--format=bytes", "--ring-bytes=1M", NULL};
  expect_refused(true, bytes, "the ingress refused the link: format: egress ring compact, ingress ring bytes",
                 "refused a link: format: egress ring compact");
  const char *raw_bytes[] = {"--raw", "--bytes", "--ring-bytes=128K", "--type-tag=4242424242", NULL};
  expect_refused(false, raw_bytes, "the ingress refused the link: format: egress ring raw, ingress ring raw bytes",
                 "refused a link: format: egress ring raw");
}

static size_t hello(uint8_t *m, uint32_t format, uint32_t block, uint64_t ring, uint64_t max, uint32_t align)
{
  struct myelon_bridge_wire w = {.format = format, .frame_capacity = block, .ring_capacity = ring,
                                 .max_message = max, .type_tag = 5, .epoch = 1, .window = 16, .slot_align = align};
  memset(m, 0, MYELON_BRIDGE_HELLO_SIZE);
  memcpy(m, "MYB\x01\x01", 5);
  uint32_t v32[2] = {w.format, w.frame_capacity};
  uint64_t v64[4] = {w.ring_capacity, w.max_message, w.type_tag, w.epoch};
  memcpy(m + 8, v32, 8); /* the wire is little-endian, as this host */
  memcpy(m + 16, v64, 32);
  memcpy(m + 48, &w.window, 4);
  memcpy(m + 52, &w.slot_align, 4);
  return MYELON_BRIDGE_HELLO_SIZE;
}

/* The HELLO of a byte ring: its shape parsed back; a geometry that no byte
 * ring has (block, ring, largest record, alignment) is malformed. */
Test(bridge_bytes, wire_parse_checks_a_byte_ring_hello)
{
  uint8_t m[MYELON_BRIDGE_HELLO_SIZE];
  struct myelon_bridge_wire w;
  static const uint32_t formats[] = {MYELON_FRAME_BYTES, MYELON_BRIDGE_FORMAT_RAW_BYTES};
  for (int f = 0; f < 2; f++) {
    cr_assert(eq(int, myelon_bridge_wire_parse(m, hello(m, formats[f], 64, 1 << 20, (1 << 19) - 32, 0), &w), 0));
    cr_assert(eq(u32, w.format, formats[f]));
    cr_assert(eq(u32, w.frame_capacity, 64u));
    cr_assert(eq(u64, w.ring_capacity, UINT64_C(1) << 20));
    cr_assert(eq(u64, w.max_message, (UINT64_C(1) << 19) - 32));
    cr_assert(eq(int, myelon_bridge_wire_parse(m, hello(m, formats[f], 16, 32, 16, 0), &w), 0), "smallest");
    cr_assert(eq(int, myelon_bridge_wire_parse(m, hello(m, formats[f], 4096, 8192, 4096, 0), &w), 0), "largest block");
    static const struct {
      uint32_t block;
      uint64_t ring, max;
      uint32_t align;
      const char *what;
    } bad[] = {
      {0, 1 << 20, 0, 0, "block 0"},          {8, 1 << 20, 0, 0, "block below 16"},
      {96, 1 << 20, 0, 0, "block not a power of two"}, {8192, 1 << 20, 0, 0, "block above 4096"},
      {64, 64, 0, 0, "ring of one block"},    {64, 3 << 20, 0, 0, "ring not a power of two"},
      {64, 0, 0, 0, "ring 0"},                {64, 1 << 20, (1 << 19) + 1, 0, "record above half the ring"},
      {64, 1 << 20, 0, 64, "slot_align set"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      cr_assert(eq(int, myelon_bridge_wire_parse(m, hello(m, formats[f], bad[i].block, bad[i].ring, bad[i].max,
                                                          bad[i].align), &w), -EPROTO), "%s", bad[i].what);
  }
}

/* bridge.h, "Wire compatibility of byte rings": an ingress of an earlier
 * version drops a byte ring's HELLO (a format it does not know) without
 * an answer. A peer that never answers stands in for it: the egress
 * creates nothing, attaches nothing to A's ring, and says why it may be
 * waiting. */
Test(bridge_bytes, an_ingress_that_never_answers_a_byte_ring_hello_is_named)
{
  const char *ep = ipc_ep(), *ra = ts_shm_name("a");
  void *ctx = zmq_ctx_new();
  void *s = zmq_socket(ctx, ZMQ_ROUTER);
  cr_assert(eq(int, zmq_bind(s, ep), 0), "bind %s: %s", ep, zmq_strerror(zmq_errno()));
  pid_t pr = raw_producer(ra, 44, 10);
  struct side eg = egress(ra, ep, NULL);
  /* It does get our HELLOs (and drops them, as an older ingress would). */
  zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
  cr_assert(eq(int, zmq_poll(&it, 1, ts_timeout_ms(20000)), 1), "no HELLO arrived");
  cr_assert(wait_for_text(eg.err, "may be of an earlier version that does not carry byte rings",
                          MYELON_BRIDGE_OLD_PEER_MS + 10000),
            "egress: %s", slurp(eg.err));
  cr_assert(eq(u32, ring_consumers(ra), 0), "no egress entry on A's ring");
  kill(eg.pid, SIGTERM);
  cr_assert(eq(int, ts_wait(eg.pid, ts_timeout_ms(10000)), 0), "egress: %s", slurp(eg.err));
  kill(pr, SIGKILL);
  ts_wait(pr, ts_timeout_ms(10000));
  zmq_close(s);
  zmq_ctx_term(ctx);
}
