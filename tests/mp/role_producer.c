/* dmp_role's producer: creates the ring, optionally waits for consumers,
 * publishes events 0..count-1 (single claims, accumulated claims, copying
 * publishes or batches of varying size), then optionally waits for every
 * gating consumer to drain before it closes. See dmp_role.c. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>

#include "role.h"

static uint64_t mix(uint64_t x)
{
  return ts_checksum((int64_t)x);
}

struct pub {
  struct dmp_producer *p;
  const struct opts *o;
  int64_t seq;      /* next sequence to write */
  int64_t full;     /* -EAGAIN answers of the _try_ calls */
  int64_t deadline;
  bool ready_done;
};

static int claim_error(struct pub *s, const char *what, int rc)
{
  if (rc == -ETIMEDOUT)
    FAIL(MP_EX_TIMEOUT, "%s at seq %" PRId64 ": timed out (ring full too long)", what, s->seq);
  FAIL(MP_EX_API, "%s at seq %" PRId64 ": %d %s (%s)", what, s->seq, rc, dmp_err_name(rc),
       dmp_strerror(rc));
}

static int retry_full(struct pub *s)
{
  s->full++;
  if (ts_now_ns() > s->deadline)
    return -ETIMEDOUT;
  sched_yield();
  return 0;
}

static int claim_one(struct pub *s, int64_t seq)
{
  void *slot;
  int rc;
  if (s->o->claim == CLAIM_TRY) {
    while ((rc = dmp_producer_try_claim(s->p, &slot)) == -EAGAIN)
      if (retry_full(s) < 0)
        return claim_error(s, "dmp_producer_try_claim", -ETIMEDOUT);
  } else {
    rc = dmp_producer_claim_timeout(s->p, &slot, remaining_ns(s->deadline));
  }
  if (rc != 0)
    return claim_error(s, "claim", rc);
  if (slot != dmp_producer_slot(s->p, seq))
    FAIL(MP_EX_API, "claim of seq %" PRId64 " returned %p, dmp_producer_slot says %p", seq, slot,
         dmp_producer_slot(s->p, seq));
  mp_fill(slot, s->o->slot, seq);
  return 0;
}

/* Claim `k` single slots (claims accumulate), then publish them at once. */
static int publish_singles(struct pub *s, int64_t k)
{
  for (int64_t i = 0; i < k; i++) {
    int rc = claim_one(s, s->seq + i);
    if (rc)
      return rc;
  }
  int64_t last = dmp_producer_publish(s->p);
  if (last != s->seq + k - 1)
    FAIL(MP_EX_API, "dmp_producer_publish returned %" PRId64 ", expected %" PRId64, last,
         s->seq + k - 1);
  s->seq += k;
  return 0;
}

static int publish_copy(struct pub *s)
{
  uint8_t buf[4096];
  uint32_t len = s->o->slot;
  mp_fill(buf, len, s->seq);
  int64_t r;
  if (s->o->claim == CLAIM_TRYCOPY) {
    while ((r = dmp_producer_try_publish(s->p, buf, len)) == -EAGAIN)
      if (retry_full(s) < 0)
        return claim_error(s, "dmp_producer_try_publish", -ETIMEDOUT);
  } else {
    r = dmp_producer_publish_timeout(s->p, buf, len, remaining_ns(s->deadline));
  }
  if (r < 0)
    return claim_error(s, "publish (copy)", (int)r);
  if (r != s->seq)
    FAIL(MP_EX_API, "copy publish returned seq %" PRId64 ", expected %" PRId64, r, s->seq);
  s->seq++;
  return 0;
}

/* A batch of 1..--batch events (size varies with the position), claimed at once. */
static int publish_batch(struct pub *s)
{
  uint64_t n = 1 + mix((uint64_t)s->seq) % s->o->batch;
  if ((int64_t)n > s->o->count - s->seq)
    n = (uint64_t)(s->o->count - s->seq);
  int64_t first = -1;
  int rc;
  if (s->o->claim == CLAIM_TRY) {
    while ((rc = dmp_producer_try_claim_batch(s->p, n, &first)) == -EAGAIN)
      if (retry_full(s) < 0)
        return claim_error(s, "dmp_producer_try_claim_batch", -ETIMEDOUT);
  } else {
    rc = dmp_producer_claim_batch_timeout(s->p, n, &first, remaining_ns(s->deadline));
  }
  if (rc != 0)
    return claim_error(s, "batch claim", rc);
  if (first != s->seq)
    FAIL(MP_EX_API, "batch claim of %" PRIu64 " returned first %" PRId64 ", expected %" PRId64, n,
         first, s->seq);
  for (uint64_t i = 0; i < n; i++)
    mp_fill(dmp_producer_slot(s->p, first + (int64_t)i), s->o->slot, first + (int64_t)i);
  int64_t last = dmp_producer_publish(s->p);
  if (last != first + (int64_t)n - 1)
    FAIL(MP_EX_API, "publish after batch returned %" PRId64 ", expected %" PRId64, last,
         first + (int64_t)n - 1);
  s->seq += (int64_t)n;
  return 0;
}

static int publish_all(struct pub *s)
{
  const struct opts *o = s->o;
  while (s->seq < o->count) {
    int64_t before = s->seq;
    int rc;
    if (o->batch)
      rc = publish_batch(s);
    else if (o->claim == CLAIM_COPY || o->claim == CLAIM_TRYCOPY)
      rc = publish_copy(s);
    else {
      int64_t k = o->publish_every ? o->publish_every : 1;
      rc = publish_singles(s, k < o->count - s->seq ? k : o->count - s->seq);
    }
    if (rc)
      return rc;
    if (!s->ready_done && o->ready_at && s->seq >= o->ready_at) {
      s->ready_done = true;
      if ((rc = touch(o->ready_file)) != 0)
        return rc;
    }
    if (o->pace_every && before / o->pace_every != s->seq / o->pace_every)
      sleep_us(o->pace_us);
  }
  return 0;
}

static int rendezvous(struct dmp_producer *p, const struct opts *o, int64_t deadline)
{
  if (o->rendezvous) {
    int rc = dmp_producer_wait_for_consumers(p, o->rendezvous, remaining_ns(deadline));
    if (rc == -ETIMEDOUT)
      FAIL(MP_EX_RENDEZVOUS, "wait_for_consumers(%u) timed out: %s", o->rendezvous,
           dmp_last_error());
    if (rc < (int)o->rendezvous)
      FAIL(MP_EX_API, "wait_for_consumers(%u) returned %d", o->rendezvous, rc);
  }
  if (o->wait_ids) {
    const char *ids[64];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(o->wait_ids, ",", &save); t && n < 64;
         t = strtok_r(NULL, ",", &save))
      ids[n++] = t;
    int rc = dmp_producer_wait_for_ids(p, ids, n, remaining_ns(deadline));
    if (rc == -ETIMEDOUT)
      FAIL(MP_EX_RENDEZVOUS, "wait_for_ids timed out: %s", dmp_last_error());
    if (rc != 0)
      FAIL(MP_EX_API, "wait_for_ids returned %d %s", rc, dmp_err_name(rc));
  }
  return 0;
}

/* Wait until every gating consumer has released the last event. */
static int drain(struct dmp_producer *p, int64_t deadline)
{
  int64_t last = dmp_producer_sequence(p);
  int64_t min;
  while ((min = dmp_producer_min_gating_sequence(p)) < last) {
    if (ts_now_ns() > deadline)
      FAIL(MP_EX_DRAIN, "consumers still at %" PRId64 " of %" PRId64 " at the deadline", min, last);
    sleep_us(1000);
  }
  return 0;
}

int run_producer(const struct opts *o)
{
  int64_t deadline = ts_now_ns() + o->timeout_ms * MS;
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.capacity = o->capacity;
  cfg.slot_size = o->slot;
  if (o->align)
    cfg.slot_align = o->align;
  cfg.wait = o->wait;
  if (o->no_wakeups)
    cfg.flags |= DMP_RING_NO_WAKEUPS;
  cfg.wait_consumers = o->wait_consumers;
  cfg.wait_timeout_ns = o->timeout_ms * MS;
  if (o->slot > 4096)
    FAIL(MP_EX_USAGE, "--slot %u: at most 4096 here", o->slot);

  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc == -ETIMEDOUT)
    FAIL(MP_EX_RENDEZVOUS, "create waiting for %u consumers: %s", o->wait_consumers,
         dmp_last_error());
  if (rc < 0)
    FAIL(MP_EX_SETUP, "dmp_producer_create(%s): %s %s (%s)", o->name, dmp_err_name(rc),
         dmp_strerror(rc), dmp_last_error());
  struct pub s = {.p = p, .o = o, .deadline = deadline};
  if ((rc = touch(o->created_file)) == 0 && (rc = rendezvous(p, o, deadline)) == 0) {
    if (o->delay_ms)
      sleep_us(o->delay_ms * 1000);
    rc = publish_all(&s);
  }
  if (rc == 0 && !s.ready_done)
    rc = touch(o->ready_file);
  if (rc == 0)
    rc = write_report(o->report_file, "published=%" PRId64 "\nfull=%" PRId64 "\n", s.seq, s.full);
  if (rc == 0 && !o->no_drain)
    rc = drain(p, deadline);
  if (rc == 0 && o->hold_ms)
    sleep_us(o->hold_ms * 1000);
  dmp_producer_close(p);
  return rc;
}
