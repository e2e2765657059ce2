/**
 * @file subj_iox.c
 * @brief Subject "iceoryx": Eclipse iceoryx 2.0.3 publish/subscribe through
 * its C binding, zero-copy shared memory brokered by the iox-roudi daemon
 * (which the orchestrator starts and stops, see roudi.c).
 *
 * One service per direction ("mb", <tag>, "d<dir>"); in gather (N -> 1)
 * every writer publishes on the same service. The publisher waits
 * for slow subscribers (WAIT_FOR_CONSUMER) and subscribers ask to block the
 * producer when their queue is full, so nothing is dropped: the same
 * back-pressure as the rings. Queue depth = the case's capacity, capped at
 * iceoryx's 256. Send = loan + memcpy + publish (spinning while the pool is
 * out of chunks); receive = take (busy-spin, or yield for non-spin waits) +
 * memcpy + release; with the case's wait `block` the subscriber waits in an
 * iceoryx WaitSet (state HAS_DATA: it returns at once while data is there,
 * otherwise parks on RouDi's condition variable until a publish signals
 * it), the blocking wait iceoryx offers. Each process registers one runtime, "mb<pid>", and
 * leaves it to the runtime's destructor at exit to unregister: an explicit
 * iox_runtime_shutdown() now and then got a stale reply from RouDi
 * ("Got wrong response ... PREPARE_APP_TERMINATION") and hung.
 */
#include "bench.h"
#include "roudi.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>

#define IOX_QUEUE_MAX 256u

struct iox_end {
  iox_pub_storage_t pub_storage;
  iox_sub_storage_t sub_storage;
  iox_ws_storage_t ws_storage;
  iox_pub_t pub;
  iox_sub_t sub;
  iox_ws_t ws; /* wait `block`: the subscriber's HAS_DATA state attached; NULL otherwise */
  bool spin;
};

static void runtime_up(void)
{
  static bool up;
  if (up)
    return;
  char name[32];
  snprintf(name, sizeof name, "mb%d", (int)getpid());
  iox_set_loglevel(Iceoryx_LogLevel_Warn);
  iox_runtime_init(name);
  up = true;
}

static void event_name(const struct bench_chan *ch, char *out, size_t n) { snprintf(out, n, "d%u", ch->dir); }

static int iox_tx_open(const struct bench_chan *ch, void **tx)
{
  struct iox_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  runtime_up();
  iox_pub_options_t o;
  iox_pub_options_init(&o);
  o.historyCapacity = 0;
  o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
  char ev[8];
  event_name(ch, ev, sizeof ev);
  e->pub = iox_pub_init(&e->pub_storage, "mb", ch->c->tag, ev, &o);
  e->spin = ch->c->wait == BENCH_WAIT_SPIN;
  *tx = e;
  return 0;
}

static int iox_tx_ready(void *tx, unsigned n, int64_t timeout_ns)
{
  (void)n; /* each subscriber waits for SUBSCRIBED itself; here: at least one */
  struct iox_end *e = tx;
  int64_t deadline = bench_deadline(timeout_ns);
  while (!iox_pub_has_subscribers(e->pub)) {
    if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
    bench_sleep_ns(1000000);
  }
  return 0;
}

static int iox_send(void *tx, const void *buf, size_t len)
{
  struct iox_end *e = tx;
  void *chunk = NULL;
  for (;;) {
    enum iox_AllocationResult r = iox_pub_loan_chunk(e->pub, &chunk, (uint32_t)len);
    if (r == AllocationResult_SUCCESS)
      break;
    if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS && r != AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL) {
      bench_log("iox_pub_loan_chunk(%zu bytes) failed: %d (mempool config?)", len, (int)r);
      return -ENOMEM;
    }
    sched_yield();
  }
  memcpy(chunk, buf, len);
  iox_pub_publish_chunk(e->pub, chunk);
  return 0;
}

static void iox_tx_close(void *tx)
{
  struct iox_end *e = tx;
  if (!e)
    return;
  iox_pub_deinit(e->pub);
  free(e);
}

static int iox_rx_open(const struct bench_chan *ch, unsigned idx, void **rx)
{
  (void)idx;
  struct iox_end *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  runtime_up();
  iox_sub_options_t o;
  iox_sub_options_init(&o);
  uint64_t q = ch->c->capacity < IOX_QUEUE_MAX ? ch->c->capacity : IOX_QUEUE_MAX;
  o.queueCapacity = q;
  o.historyRequest = 0;
  o.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
  char ev[8];
  event_name(ch, ev, sizeof ev);
  e->sub = iox_sub_init(&e->sub_storage, "mb", ch->c->tag, ev, &o);
  e->spin = ch->c->wait == BENCH_WAIT_SPIN;
  *rx = e;
  if (ch->c->wait == BENCH_WAIT_BLOCK) {
    e->ws = iox_ws_init(&e->ws_storage);
    if (iox_ws_attach_subscriber_state(e->ws, e->sub, SubscriberState_HAS_DATA, 0, NULL) != WaitSetResult_SUCCESS) {
      bench_log("iox_ws_attach_subscriber_state failed (RouDi's condition variables used up?)");
      return -ENOSPC;
    }
  }
  int64_t deadline = bench_deadline(BENCH_STEP_TIMEOUT_NS);
  while (iox_sub_get_subscription_state(e->sub) != SubscribeState_SUBSCRIBED) {
    if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
    bench_sleep_ns(1000000);
  }
  return 0;
}

static int iox_recv(void *rx, void *buf, size_t len)
{
  struct iox_end *e = rx;
  const void *chunk = NULL;
  while (iox_sub_take_chunk(e->sub, &chunk) != ChunkReceiveResult_SUCCESS) {
    if (e->ws) {
      iox_notification_info_t info[1];
      uint64_t missed = 0;
      (void)iox_ws_wait(e->ws, info, 1, &missed); /* returns at once while HAS_DATA holds */
    } else if (!e->spin) {
      sched_yield();
    }
  }
  memcpy(buf, chunk, len);
  iox_sub_release_chunk(e->sub, chunk);
  return 0;
}

static void iox_rx_close(void *rx)
{
  struct iox_end *e = rx;
  if (!e)
    return;
  if (e->ws) {
    iox_ws_detach_subscriber_state(e->ws, e->sub, SubscriberState_HAS_DATA);
    iox_ws_deinit(e->ws);
  }
  iox_sub_deinit(e->sub);
  free(e);
}

static int iox_probe(char *why, size_t n) { return bench_roudi_start(why, n); }

const struct bench_subject bench_subj_iox = {
    .name = "iceoryx",
    .transport = "iceoryx 2.0.3 shm (C binding, RouDi)",
    .family = BENCH_FAMILY_COMPETITOR,
    .caps = BENCH_CAP_BROADCAST | BENCH_CAP_GATHER | BENCH_CAP_WAIT,
    .max_capacity = IOX_QUEUE_MAX,
    .probe = iox_probe,
    .tx_open = iox_tx_open,
    .tx_ready = iox_tx_ready,
    .send = iox_send,
    .tx_close = iox_tx_close,
    .rx_open = iox_rx_open,
    .recv = iox_recv,
    .rx_close = iox_rx_close,
};
