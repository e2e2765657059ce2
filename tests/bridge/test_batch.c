/* The bridge's BATCH message and coalesced acknowledgements (suite
 * 'bridge'): the wire parser's checks of a BATCH and FEATURES, and an
 * ingress (in this process, through the library) driven by a hand-rolled
 * egress on a ZeroMQ DEALER: after its WELCOME it offers BATCH in a
 * FEATURES message; it applies a BATCH's messages in order, skips those it
 * applied already (a resend after a reconnect), drops a batch with a bad
 * record whole, still applies version 1's DATA (an older egress), and
 * acknowledges at once when PINGed (an egress whose window is full), but
 * never before it applied anything.
 * B's ring is read back with a Layer 1 consumer. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include <myelon/bridge.h>
#include <myelon/framed.h>

#include "support.h"

static void fini(void)
{
  ts_cleanup();
}

TestSuite(bridge_batch, .fini = fini, .timeout = 120);

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* the wire is little-endian, as this host */
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* A BATCH of `n` records (payload i: `len[i]` bytes of 'a' + i, kind
 * 10 + i) from sequence `first`; returns its size. */
static size_t batch(uint8_t *m, uint64_t first, uint32_t n, const uint32_t *len)
{
  memset(m, 0, MYELON_BRIDGE_BATCH_HEADER);
  memcpy(m, "MYB", 3);
  m[3] = MYELON_BRIDGE_WIRE_VERSION;
  m[4] = MYELON_BRIDGE_BATCH;
  put64(m + 8, first);
  put32(m + 16, n);
  size_t off = MYELON_BRIDGE_BATCH_HEADER;
  for (uint32_t i = 0; i < n; i++) {
    memset(m + off, 0, MYELON_BRIDGE_RECORD_HEADER);
    put32(m + off, len[i]);
    m[off + 4] = (uint8_t)(10 + first + i);
    memset(m + off + MYELON_BRIDGE_RECORD_HEADER, (int)('a' + (first + i) % 26), len[i]);
    off += MYELON_BRIDGE_RECORD_HEADER + len[i];
  }
  return off;
}

Test(bridge_batch, wire_parse_checks_a_batch)
{
  uint8_t m[512];
  const uint32_t len[3] = {5, 0, 17};
  size_t n = batch(m, 7, 3, len);
  struct myelon_bridge_wire w;
  cr_assert(eq(int, myelon_bridge_wire_parse(m, n, &w), 0));
  cr_assert(eq(int, (int)w.type, MYELON_BRIDGE_BATCH));
  cr_assert(eq(u64, w.seq, 7));
  cr_assert(eq(u32, w.window, 3), "the message count");
  cr_assert(eq(ptr, (void *)w.payload, (void *)(m + MYELON_BRIDGE_BATCH_HEADER)));
  cr_assert(eq(sz, w.len, n - MYELON_BRIDGE_BATCH_HEADER));
  /* Records that do not fill it exactly, or overrun it. */
  cr_assert(eq(int, myelon_bridge_wire_parse(m, n - 1, &w), -EPROTO), "last record cut short");
  cr_assert(eq(int, myelon_bridge_wire_parse(m, n + 1, &w), -EPROTO), "a byte after the last record");
  uint8_t bad[512];
  memcpy(bad, m, n);
  put32(bad + 16, 4);
  cr_assert(eq(int, myelon_bridge_wire_parse(bad, n, &w), -EPROTO), "count larger than its records");
  put32(bad + 16, 2);
  cr_assert(eq(int, myelon_bridge_wire_parse(bad, n, &w), -EPROTO), "count smaller than its records");
  put32(bad + 16, 0);
  cr_assert(eq(int, myelon_bridge_wire_parse(bad, MYELON_BRIDGE_BATCH_HEADER, &w), -EPROTO), "no record");
  memcpy(bad, m, n);
  bad[MYELON_BRIDGE_BATCH_HEADER + 6] = 1;
  cr_assert(eq(int, myelon_bridge_wire_parse(bad, n, &w), -EPROTO), "record padding not zero");
  memcpy(bad, m, n);
  bad[21] = 1;
  cr_assert(eq(int, myelon_bridge_wire_parse(bad, n, &w), -EPROTO), "header padding not zero");
  memcpy(bad, m, n);
  put32(bad + MYELON_BRIDGE_BATCH_HEADER, 0xfffffff0u);
  cr_assert(eq(int, myelon_bridge_wire_parse(bad, n, &w), -EPROTO), "a record length past the end");
  memcpy(bad, m, n);
  put64(bad + 8, MYELON_BRIDGE_NEXT_ANY - 2); /* its third message would be NEXT_ANY */
  cr_assert(eq(int, myelon_bridge_wire_parse(bad, n, &w), -EPROTO), "a sequence reaching NEXT_ANY");
  put64(bad + 8, MYELON_BRIDGE_NEXT_ANY - 3);
  cr_assert(eq(int, myelon_bridge_wire_parse(bad, n, &w), 0));
  /* FEATURES: header + u64 bits; unknown bits are the peer's to offer. */
  uint8_t f[MYELON_BRIDGE_SEQ_SIZE] = {'M', 'Y', 'B', MYELON_BRIDGE_WIRE_VERSION, MYELON_BRIDGE_FEATURES};
  put64(f + 8, MYELON_BRIDGE_FEATURE_BATCH | 0x80);
  cr_assert(eq(int, myelon_bridge_wire_parse(f, sizeof f, &w), 0));
  cr_assert(eq(u64, w.seq, MYELON_BRIDGE_FEATURE_BATCH | 0x80));
  cr_assert(eq(int, myelon_bridge_wire_parse(f, sizeof f - 1, &w), -EPROTO));
}

#define FC 64u
#define CAP 64u

/* Run the ingress a while, then read what the egress side got back. */
static int exchange(struct myelon_bridge *in, void *s, uint8_t *buf, size_t cap, int want_type)
{
  for (int i = 0; i < 200; i++) {
    cr_assert(eq(int, myelon_bridge_run(in, 20 * 1000000), 0), "%s", myelon_bridge_last_error(in));
    for (;;) {
      int n = zmq_recv(s, buf, cap, ZMQ_DONTWAIT);
      if (n < 0)
        break;
      struct myelon_bridge_wire w;
      if (myelon_bridge_wire_parse(buf, (size_t)n, &w) == 0 && (int)w.type == want_type)
        return n;
      cr_assert(w.type != MYELON_BRIDGE_REFUSE, "refused: %.*s", (int)w.reason_len, w.reason);
    }
  }
  return -1;
}

/* The next message on B's ring: sequence `seq`'s payload and kind. */
static void expect_message(struct myelon_consumer *c, uint64_t seq, uint32_t len)
{
  struct myelon_msg msg;
  int rc = myelon_consumer_recv(c, &msg, 2000000000LL);
  cr_assert(eq(int, rc, 0), "message %" PRIu64 ": %d", seq, rc);
  cr_assert(eq(sz, msg.len, (size_t)len), "message %" PRIu64 "'s length", seq);
  cr_assert(eq(int, msg.kind, (int)(10 + seq)), "message %" PRIu64 "'s kind", seq);
  for (uint32_t i = 0; i < len; i++)
    cr_assert(eq(int, ((const uint8_t *)msg.data)[i], (int)('a' + seq % 26)), "message %" PRIu64 " byte %u", seq, i);
  myelon_consumer_release(c);
}

Test(bridge_batch, ingress_applies_batches_in_order_once)
{
  const char *ring = ts_shm_name("b");
  char ep[300];
  snprintf(ep, sizeof ep, "ipc://%s", ts_tmp_path("sock"));
  struct myelon_bridge_config cfg;
  myelon_bridge_config_init(&cfg);
  cfg.endpoint = ep;
  cfg.ring = ring;
  cfg.frame_capacity = FC;
  cfg.ring_capacity = CAP;
  cfg.max_message = 1000;
  cfg.quiet = true;
  cfg.timeout_ms = 60000; /* this egress sends nothing between its steps */
  struct myelon_bridge *in = NULL;
  cr_assert(eq(int, myelon_bridge_ingress_open(&cfg, &in), 0), "%s", myelon_bridge_last_error(NULL));
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.name = ring;
  cc.ring.id = "reader";
  cc.frame_capacity = FC;
  struct myelon_consumer *c = NULL;
  cr_assert(eq(int, myelon_consumer_attach(&cc, &c), 0));

  void *ctx = zmq_ctx_new();
  void *s = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  cr_assert(eq(int, zmq_connect(s, ep), 0));
  uint8_t h[MYELON_BRIDGE_HELLO_SIZE] = {'M', 'Y', 'B', MYELON_BRIDGE_WIRE_VERSION, MYELON_BRIDGE_HELLO};
  put32(h + 8, MYELON_FRAME_COMPACT);
  put32(h + 12, FC);
  put64(h + 16, CAP);
  put64(h + 24, 1000);                                     /* max_message */
  put64(h + 32, myelon_frame_tag(MYELON_FRAME_COMPACT, FC)); /* type tag */
  put64(h + 40, 99);                                       /* epoch */
  put32(h + 48, 400);                                      /* window: acknowledged every 100 */
  cr_assert(eq(int, zmq_send(s, h, sizeof h, 0), (int)sizeof h));
  uint8_t buf[4096];
  int n = exchange(in, s, buf, sizeof buf, MYELON_BRIDGE_WELCOME);
  cr_assert(n > 0, "no WELCOME");
  n = exchange(in, s, buf, sizeof buf, MYELON_BRIDGE_FEATURES);
  cr_assert(n > 0, "no FEATURES after the WELCOME");
  struct myelon_bridge_wire w;
  cr_assert(eq(int, myelon_bridge_wire_parse(buf, (size_t)n, &w), 0));
  cr_assert(w.seq & MYELON_BRIDGE_FEATURE_BATCH, "the ingress does not offer BATCH");

  /* A PING before any message (an idle egress's heartbeat, while A's
   * producer has not started): a fresh ingress has applied nothing and
   * must not acknowledge NEXT_ANY, which an egress that took messages
   * meanwhile read as "all applied" (it dropped them: a stream lost). */
  uint8_t ping[MYELON_BRIDGE_HEADER] = {'M', 'Y', 'B', MYELON_BRIDGE_WIRE_VERSION, MYELON_BRIDGE_PING};
  cr_assert(eq(int, zmq_send(s, ping, sizeof ping, 0), (int)sizeof ping));
  for (int i = 0; i < 10; i++)
    cr_assert(eq(int, myelon_bridge_run(in, 10 * 1000000), 0), "%s", myelon_bridge_last_error(in));
  for (int k; (k = zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT)) > 0;)
    cr_assert(myelon_bridge_wire_parse(buf, (size_t)k, &w) != 0 || w.type != MYELON_BRIDGE_ACK ||
                  w.seq != MYELON_BRIDGE_NEXT_ANY,
              "the ingress acknowledged NEXT_ANY before applying anything");

  /* Messages 0 .. 2 in one BATCH, 3 as version 1's DATA, then 2 .. 5 (2
   * and 3 resent: skipped), then a batch with a record longer than
   * max_message (dropped whole), then 6 .. 7. */
  uint8_t m[8192];
  const uint32_t len[4] = {5, 0, 300, 1000};
  cr_assert(zmq_send(s, m, batch(m, 0, 3, len), 0) > 0);
  uint8_t d[MYELON_BRIDGE_DATA_HEADER + 40] = {'M', 'Y', 'B', MYELON_BRIDGE_WIRE_VERSION, MYELON_BRIDGE_DATA};
  put64(d + 8, 3);
  d[16] = 13;
  memset(d + MYELON_BRIDGE_DATA_HEADER, 'a' + 3, 40);
  cr_assert(eq(int, zmq_send(s, d, sizeof d, 0), (int)sizeof d));
  const uint32_t len2[4] = {300, 40, 7, 9};
  cr_assert(zmq_send(s, m, batch(m, 2, 4, len2), 0) > 0);
  const uint32_t len3[2] = {1, 1001};
  cr_assert(zmq_send(s, m, batch(m, 6, 2, len3), 0) > 0);
  const uint32_t len4[2] = {2, 3};
  cr_assert(zmq_send(s, m, batch(m, 6, 2, len4), 0) > 0);
  for (int i = 0; i < 50; i++)
    cr_assert(eq(int, myelon_bridge_run(in, 10 * 1000000), 0), "%s", myelon_bridge_last_error(in));

  expect_message(c, 0, 5);
  expect_message(c, 1, 0);
  expect_message(c, 2, 300);
  expect_message(c, 3, 40);
  expect_message(c, 4, 7);
  expect_message(c, 5, 9);
  expect_message(c, 6, 2);
  expect_message(c, 7, 3);
  struct myelon_msg msg;
  cr_assert(eq(int, myelon_consumer_try_recv(c, &msg), -EAGAIN), "nothing else applied");
  struct myelon_bridge_stats st;
  cr_assert(eq(int, myelon_bridge_stats(in, &st), 0));
  cr_assert(eq(u64, st.messages, 8));
  cr_assert(eq(u64, st.duplicates, 2));
  cr_assert(eq(u64, st.rejected, 1), "the batch with a record longer than max_message");
  cr_assert(eq(u64, st.next_seq, 8));

  /* Acknowledgements: 8 messages are far below a quarter of the window,
   * so the ACK came from the timer (ACK_DELAY_NS); a PING (the egress's
   * window is full) is answered at once with all applied. */
  uint64_t acked = 0;
  while (zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) > 0)
    if (myelon_bridge_wire_parse(buf, 16, &w) == 0 && w.type == MYELON_BRIDGE_ACK)
      acked = w.seq;
  cr_assert(eq(u64, acked, 8), "the coalesced ACK covers everything applied");
  uint8_t p[MYELON_BRIDGE_HEADER] = {'M', 'Y', 'B', MYELON_BRIDGE_WIRE_VERSION, MYELON_BRIDGE_PING};
  cr_assert(eq(int, zmq_send(s, p, sizeof p, 0), (int)sizeof p));
  n = exchange(in, s, buf, sizeof buf, MYELON_BRIDGE_ACK);
  cr_assert(n > 0, "no ACK for a PING");
  cr_assert(eq(int, myelon_bridge_wire_parse(buf, (size_t)n, &w), 0));
  cr_assert(eq(u64, w.seq, 8));

  zmq_close(s);
  zmq_ctx_term(ctx);
  myelon_consumer_close(c);
  myelon_bridge_close(in);
}
