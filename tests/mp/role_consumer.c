/* dmp_role's consumer: attaches by id (optionally retrying, for a
 * consumer-first start), reads through one of four APIs (peek + release,
 * peek_timeout, process, copy), checks every event against the oracle of
 * mp_payload.h and that sequences are strictly consecutive, then reports
 * and closes (or waits for its producer's death). See dmp_role.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "role.h"

struct sub {
  struct dmp_consumer *c;
  const struct opts *o;
  uint32_t size;
  int64_t expect; /* next expected sequence; -1 until the first event */
  int64_t first;
  int64_t got;
  int64_t deadline;
  int err; /* first failure seen in a callback */
  const void *leased[MAX_LEASED];
  int64_t leased_seq[MAX_LEASED];
  int n_leased;
};

static int verify(struct sub *s, const void *ev, int64_t seq, const char *when)
{
  struct mp_mismatch mm;
  int kind = mp_verify(ev, s->size, seq, &mm);
  if (kind == MP_EX_SUM)
    FAIL(kind, "%s seq %" PRId64 ": slot holds seq %" PRId64 " sum %016" PRIx64 ", want sum %016" PRIx64,
         when, seq, mm.got_seq, mm.got_sum, ts_checksum(seq));
  if (kind == MP_EX_PATTERN)
    FAIL(kind, "%s seq %" PRId64 ": byte %u is 0x%02x, want 0x%02x", when, seq, mm.offset, mm.got,
         mm.want);
  return 0;
}

static int check_event(struct sub *s, const void *ev, int64_t seq)
{
  if (s->expect < 0) {
    if (seq < 0)
      FAIL(MP_EX_SEQ, "first event has negative seq %" PRId64, seq);
    s->first = s->expect = seq;
  }
  if (s->o->last >= 0 && seq > s->o->last)
    FAIL(MP_EX_SEQ, "got seq %" PRId64 ", beyond --last %" PRId64, seq, s->o->last);
  if (seq != s->expect)
    FAIL(MP_EX_SEQ, "got seq %" PRId64 ", expected %" PRId64 " (%s), after %" PRId64 " events",
         seq, s->expect, seq > s->expect ? "gap" : "duplicate or rewind", s->got);
  /* Slow mode sleeps while the event is leased and verifies it afterwards:
   * an overwrite by the producer during the sleep shows up here. */
  if (s->o->slow_every && s->got % s->o->slow_every == s->o->slow_every - 1)
    sleep_us(s->o->slow_us);
  int rc = verify(s, ev, seq, "event");
  if (rc)
    return rc;
  s->expect++;
  s->got++;
  return 0;
}

static bool done(const struct sub *s)
{
  if (s->o->last >= 0)
    return s->expect > s->o->last;
  return s->o->count > 0 && s->got >= s->o->count;
}

/* How many more events to read at most (0 = no limit). */
static size_t wanted(const struct sub *s)
{
  if (s->o->last >= 0)
    return s->expect < 0 ? 1 : (size_t)(s->o->last - s->expect + 1);
  return s->o->count ? (size_t)(s->o->count - s->got) : 0;
}

/* A wait that ended without an event: decide what it means. 1 = finished. */
static int wait_outcome(struct sub *s, int64_t rc, const char *what)
{
  if (rc == -DMP_E_OWNERDEAD && s->o->until_ownerdead) {
    const void *ev;
    int64_t seq;
    if (s->got == 0)
      FAIL(MP_EX_OWNERDEAD, "owner dead before any event was read");
    if (dmp_consumer_try_peek(s->c, &ev, &seq) == 0)
      FAIL(MP_EX_API, "%s said OWNERDEAD (nothing left) but seq %" PRId64 " was still readable",
           what, seq);
    return 1;
  }
  if (rc == -DMP_E_OWNERDEAD)
    FAIL(MP_EX_OWNERDEAD, "%s: producer dead after %" PRId64 " events (next %" PRId64 ")", what,
         s->got, s->expect);
  if (rc == -ETIMEDOUT)
    FAIL(MP_EX_TIMEOUT, "%s: timed out after %" PRId64 " events (next %" PRId64 ")", what, s->got,
         s->expect);
  FAIL(MP_EX_API, "%s returned %" PRId64 " %s (%s)", what, rc, dmp_err_name((int)rc),
       dmp_strerror((int)rc));
}

static int reverify_leased(struct sub *s)
{
  for (int i = 0; i < s->n_leased; i++) {
    int rc = verify(s, s->leased[i], s->leased_seq[i], "still-leased event");
    if (rc)
      return rc;
  }
  return 0;
}

static int read_peek(struct sub *s)
{
  while (!done(s)) {
    int64_t n = dmp_consumer_wait(s->c, remaining_ns(s->deadline));
    if (n <= 0) {
      int rc = n == 0 ? wait_outcome(s, -EPROTO, "dmp_consumer_wait (0 is not a documented result)")
                      : wait_outcome(s, n, "dmp_consumer_wait");
      return rc == 1 ? 0 : rc;
    }
    const void *ev;
    int64_t seq;
    s->n_leased = 0;
    while (s->n_leased < MAX_LEASED && !done(s) && dmp_consumer_try_peek(s->c, &ev, &seq) == 0) {
      int rc = check_event(s, ev, seq);
      if (rc)
        return rc;
      s->leased[s->n_leased] = ev;
      s->leased_seq[s->n_leased++] = seq;
    }
    if (s->n_leased == 0)
      FAIL(MP_EX_API, "dmp_consumer_wait said %" PRId64 " available, try_peek found none", n);
    if (s->o->slow_every) {
      int rc = reverify_leased(s);
      if (rc)
        return rc;
    }
    dmp_consumer_release(s->c);
    if (dmp_consumer_sequence(s->c) != s->expect - 1)
      FAIL(MP_EX_API, "dmp_consumer_sequence %" PRId64 " after releasing up to %" PRId64,
           dmp_consumer_sequence(s->c), s->expect - 1);
  }
  return 0;
}

static int read_peekt(struct sub *s)
{
  while (!done(s)) {
    const void *ev;
    int64_t seq;
    int rc = dmp_consumer_peek_timeout(s->c, &ev, &seq, remaining_ns(s->deadline));
    if (rc != 0) {
      rc = wait_outcome(s, rc, "dmp_consumer_peek_timeout");
      return rc == 1 ? 0 : rc;
    }
    if ((rc = check_event(s, ev, seq)) != 0)
      return rc;
    dmp_consumer_release(s->c);
  }
  return 0;
}

static int on_event(const void *event, int64_t seq, bool end_of_batch, void *user)
{
  (void)end_of_batch;
  struct sub *s = user;
  s->err = check_event(s, event, seq);
  return s->err;
}

static int read_process(struct sub *s)
{
  while (!done(s)) {
    int64_t before = s->got;
    size_t max = wanted(s);
    int64_t n = dmp_consumer_process(s->c, on_event, max, s);
    if (s->err)
      return s->err;
    if (n < 0 || n != s->got - before)
      FAIL(MP_EX_API, "dmp_consumer_process returned %" PRId64 " after %" PRId64 " callbacks", n,
           s->got - before);
    if (max && (size_t)n > max)
      FAIL(MP_EX_API, "dmp_consumer_process processed %" PRId64 " > max %zu", n, max);
    if (n == 0) {
      int64_t w = dmp_consumer_wait(s->c, remaining_ns(s->deadline));
      if (w < 0) {
        int rc = wait_outcome(s, w, "dmp_consumer_wait");
        return rc == 1 ? 0 : rc;
      }
    }
  }
  return 0;
}

static int read_copy(struct sub *s)
{
  uint8_t buf[4096];
  while (!done(s)) {
    int64_t seq;
    int rc = dmp_consumer_copy_timeout(s->c, buf, s->size, &seq, remaining_ns(s->deadline));
    if (rc != 0) {
      rc = wait_outcome(s, rc, "dmp_consumer_copy_timeout");
      return rc == 1 ? 0 : rc;
    }
    if ((rc = check_event(s, buf, seq)) != 0)
      return rc;
  }
  return 0;
}

static int attach(const struct opts *o, struct dmp_consumer **c)
{
  struct dmp_consumer_config cfg;
  dmp_consumer_config_init(&cfg);
  cfg.backend = o->backend;
  cfg.name = o->name;
  cfg.id = o->id;
  cfg.slot_size = o->slot;
  cfg.start = o->start;
  cfg.wait = o->wait;
  if (o->durable)
    cfg.flags |= DMP_CONSUMER_DURABLE;
  int rc = touch(o->attach_file);
  if (rc)
    return rc;
  if (o->attach_timeout_ms == 0)
    rc = dmp_consumer_attach(&cfg, c);
  else
    rc = dmp_consumer_attach_timeout(&cfg, o->attach_timeout_ms * MS, c);
  if (rc < 0)
    FAIL(rc == -ETIMEDOUT ? MP_EX_TIMEOUT : MP_EX_SETUP, "attach %s as '%s': %s %s (%s)", o->name,
         o->id, dmp_err_name(rc), dmp_strerror(rc), dmp_last_error());
  return 0;
}

/* After reading everything: the producer is expected to be killed while we
 * are parked in dmp_consumer_wait(). */
static int await_owner_death(struct sub *s)
{
  int rc = touch(s->o->ready_file);
  if (rc)
    return rc;
  int64_t w = dmp_consumer_wait(s->c, s->o->ownerdead_wait_ms * MS);
  if (w == -DMP_E_OWNERDEAD)
    return 0;
  FAIL(MP_EX_NOT_OWNERDEAD, "dmp_consumer_wait after the producer's death returned %" PRId64 " %s",
       w, w < 0 ? dmp_err_name((int)w) : "(events available)");
}

static int consume(struct sub *s)
{
  static int (*const readers[])(struct sub *) = {read_peek, read_peekt, read_process, read_copy};
  const struct opts *o = s->o;
  s->size = dmp_consumer_slot_size(s->c);
  if (s->size < MP_MIN_SLOT || s->size > 4096 || (o->slot && s->size != o->slot))
    FAIL(MP_EX_API, "dmp_consumer_slot_size %u (expected %u, 16..4096 here)", s->size, o->slot);
  if (o->capacity) {
    int64_t avail = dmp_consumer_available(s->c);
    if (avail < 0 || (uint64_t)avail > o->capacity)
      FAIL(MP_EX_START, "%" PRId64 " events available right after attach, capacity %" PRIu64, avail,
           o->capacity);
  }
  /* Settling lets a producer that ignored our entry overwrite our first
   * events before we read them, so a bad start position cannot hide. */
  if (o->settle_us)
    sleep_us(o->settle_us);
  int rc = readers[o->api](s);
  if (rc)
    return rc;
  dmp_consumer_release(s->c);
  rc = write_report(o->report_file, "first=%" PRId64 "\nlast=%" PRId64 "\ncount=%" PRId64
                    "\nmissed=%" PRIu64 "\n", s->first, s->expect - 1, s->got,
                    dmp_consumer_missed(s->c));
  if (rc)
    return rc;
  if (o->expect_ownerdead)
    return await_owner_death(s);
  return o->until_ownerdead ? 0 : touch(o->ready_file);
}

int run_consumer(const struct opts *o)
{
  struct sub *s = calloc(1, sizeof *s);
  if (!s)
    FAIL(MP_EX_SETUP, "out of memory");
  s->o = o;
  s->first = s->expect = o->first;
  s->deadline = ts_now_ns() + o->timeout_ms * MS;
  int rc = attach(o, &s->c);
  if (rc == 0) {
    rc = consume(s);
    if (o->forget)
      dmp_consumer_close_forget(s->c);
    else
      dmp_consumer_close(s->c);
  }
  free(s);
  return rc;
}
