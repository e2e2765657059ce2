/* The replayer (record.h): reads a journal and republishes it into a ring
 * it creates, raw events into a Layer 0 ring of the journal's slot size,
 * framed messages through a Layer 1 producer of the journal's frame format
 * and capacity, paced as asked. A byte ring's journal (MYELON_JOURNAL_F_BYTES)
 * goes into a byte ring of the recorded geometry: raw records with the
 * byte calls, messages through a MYELON_FRAME_BYTES producer. Waits are
 * sliced so that a stop request is seen promptly. */
#include "journal_internal.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/error.h>
#include <myelon/frame.h>
#include <myelon/framed.h>
#include <myelon/record.h>

#define SLICE_NS INT64_C(100000000)

struct myelon_replayer {
  struct myelon_replayer_config cfg;
  struct myelon_journal_reader *rd;
  struct myelon_journal_info info;
  struct dmp_producer *p;     /* raw */
  struct myelon_producer *mp; /* framed */
  uint64_t ring_capacity;
  bool bytes;                 /* a byte ring's journal into a byte ring */
  bool to_bytes;              /* a framed slot ring's journal into a MYELON_FRAME_BYTES ring */
  struct myelon_journal_record rec;
  bool have_rec;
  bool started;
  int64_t blocked_since;      /* waiting for space for the pending record since (0: not) */
  int64_t t0_wall, t0_rec;
  atomic_int stop;
  struct myelon_replayer_stats st;
};

void myelon_replayer_config_init(struct myelon_replayer_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  dmp_producer_config_init(&cfg->ring);
  cfg->ring.capacity = 0;
  cfg->pace = MYELON_REPLAY_MAX;
  cfg->speed = 1.0;
  cfg->from_seq = -1;
  cfg->publish_timeout_ns = DMP_FOREVER;
}

static bool stopping(struct myelon_replayer *r)
{
  /* relaxed: a flag polled in a loop, no data hangs on it */
  return atomic_load_explicit(&r->stop, memory_order_relaxed) != 0;
}

static void sleep_until(int64_t t)
{
  struct timespec ts = {.tv_sec = (time_t)(t / 1000000000), .tv_nsec = (long)(t % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

/* When the current record is due (monotonic ns). */
static int64_t due(struct myelon_replayer *r)
{
  int64_t now = myelon_impl_clock_ns(CLOCK_MONOTONIC);
  if (!r->started) {
    r->started = true;
    r->t0_wall = now;
    r->t0_rec = r->rec.mono_ns;
  }
  switch (r->cfg.pace) {
  case MYELON_REPLAY_ORIGINAL: {
    double gap = (double)(r->rec.mono_ns - r->t0_rec) / r->cfg.speed;
    return r->t0_wall + (gap > 0 ? (int64_t)gap : 0);
  }
  case MYELON_REPLAY_RATE:
    return r->t0_wall + (int64_t)((double)r->st.replayed * 1e9 / r->cfg.rate);
  default:
    return now;
  }
}

/* Publish the current record, in slices while the ring is full: 0 done,
 * 1 the run's deadline came first (the record stays pending; the wait for
 * space goes on in the next run, still bounded by publish_timeout_ns). */
static int publish(struct myelon_replayer *r, int64_t deadline)
{
  int64_t limit = r->cfg.publish_timeout_ns;
  if (!r->blocked_since)
    r->blocked_since = myelon_impl_clock_ns(CLOCK_MONOTONIC);
  bool sliced = true;
  if (r->info.kind == MYELON_JOURNAL_FRAMED && !r->bytes && !r->to_bytes &&
      myelon_frame_count((enum myelon_frame_format)r->info.frame_format, r->info.frame_capacity, r->rec.len) >
          r->ring_capacity)
    sliced = false; /* published in several batches: a timeout would cut it short */
  for (;;) {
    int64_t now = myelon_impl_clock_ns(CLOCK_MONOTONIC);
    int64_t slice = SLICE_NS;
    if (limit >= 0) {
      int64_t left = r->blocked_since + limit - now;
      slice = left < slice ? (left > 0 ? left : 0) : slice;
    }
    if (deadline - now < slice)
      slice = deadline > now ? deadline - now : 0;
    if (!sliced)
      slice = limit;
    int64_t rc;
    if (r->info.kind == MYELON_JOURNAL_RAW && r->bytes)
      rc = dmp_producer_publish_bytes_timeout(r->p, r->rec.data, r->rec.len, slice);
    else if (r->info.kind == MYELON_JOURNAL_RAW)
      rc = dmp_producer_publish_timeout(r->p, r->rec.data, r->rec.len, slice);
    else
      rc = myelon_producer_publish(r->mp, r->rec.data, r->rec.len, r->rec.kind, slice);
    if (rc >= 0) {
      r->blocked_since = 0;
      return 0;
    }
    if (rc != -ETIMEDOUT || !sliced || stopping(r))
      return (int)rc;
    now = myelon_impl_clock_ns(CLOCK_MONOTONIC);
    if (limit >= 0 && now - r->blocked_since >= limit)
      return dmp_error_set("myelon_replayer_run", "the ring stayed full for %lld ms", (long long)(limit / 1000000)),
             -ETIMEDOUT;
    if (now >= deadline)
      return 1;
  }
}

/* Get the next record into r->rec: 1, 0 at the end, < 0 error. */
static int fetch(struct myelon_replayer *r)
{
  for (;;) {
    int rc = myelon_journal_reader_next(r->rd, &r->rec);
    if (rc == 1) {
      if (r->info.kind == MYELON_JOURNAL_RAW && !r->bytes && r->rec.len != r->info.slot_size)
        return dmp_error_set("myelon_replayer_run", "raw record at offset %llu has %u bytes, slots have %u",
                             (unsigned long long)r->rec.offset, r->rec.len, r->info.slot_size),
               -MYELON_E_FORMAT;
      /* Larger than the journal's header says its ring took: written by
       * something else than the recorder; the ring would refuse it. */
      if (r->bytes && r->rec.len > r->info.frame_capacity)
        return dmp_error_set("myelon_replayer_run", "record at offset %llu has %u bytes, the byte ring's largest is %u",
                             (unsigned long long)r->rec.offset, r->rec.len, r->info.frame_capacity),
               -MYELON_E_FORMAT;
      r->have_rec = true;
      return 1;
    }
    if (rc == -MYELON_E_TORN) {
      r->st.torn = true;
      return 0;
    }
    if (rc == -MYELON_E_JCORRUPT && (r->cfg.open_flags & MYELON_JOURNAL_SKIP_CORRUPT)) {
      r->st.corrupt++;
      continue;
    }
    return rc;
  }
}

int myelon_replayer_run(struct myelon_replayer *r, int64_t timeout_ns)
{
  if (!r)
    return -EINVAL;
  int64_t deadline = timeout_ns < 0 ? INT64_MAX : myelon_impl_clock_ns(CLOCK_MONOTONIC) + timeout_ns;
  for (;;) {
    if (stopping(r) || (r->cfg.max_records && r->st.replayed >= r->cfg.max_records))
      return 1;
    if (!r->have_rec) {
      int rc = fetch(r);
      if (rc <= 0)
        return rc == 0 ? 1 : rc;
    }
    int64_t t = due(r);
    while (myelon_impl_clock_ns(CLOCK_MONOTONIC) < t) {
      int64_t until = t;
      if (until > deadline)
        until = deadline;
      int64_t now = myelon_impl_clock_ns(CLOCK_MONOTONIC);
      if (until - now > SLICE_NS)
        until = now + SLICE_NS;
      sleep_until(until);
      if (stopping(r))
        return 1;
      if (myelon_impl_clock_ns(CLOCK_MONOTONIC) >= deadline && myelon_impl_clock_ns(CLOCK_MONOTONIC) < t)
        return 0;
    }
    int rc = publish(r, deadline);
    if (rc < 0)
      return stopping(r) ? 1 : rc;
    if (rc == 1)
      return 0;
    r->have_rec = false;
    r->st.replayed++;
    if (myelon_impl_clock_ns(CLOCK_MONOTONIC) >= deadline)
      return 0;
  }
}

void myelon_replayer_stop(struct myelon_replayer *r)
{
  if (r)
    atomic_store_explicit(&r->stop, 1, memory_order_relaxed);
}

void myelon_replayer_stats(const struct myelon_replayer *r, struct myelon_replayer_stats *st)
{
  *st = r->st;
}

const struct myelon_journal_info *myelon_replayer_info(const struct myelon_replayer *r)
{
  return r ? &r->info : NULL;
}

void myelon_replayer_close(struct myelon_replayer *r)
{
  if (!r)
    return;
  dmp_producer_close(r->p);
  myelon_producer_close(r->mp);
  myelon_journal_reader_close(r->rd);
  free(r);
}

/* ---- open -------------------------------------------------------------- */

static int check_config(const struct myelon_replayer_config *cfg)
{
  int rc = MYELON_RESERVED_CHECK(cfg, "myelon_replayer_open", "cfg.reserved");
  if (rc < 0)
    return rc;
  const char *bad = NULL;
  if (!cfg->journal || !cfg->journal[0])
    bad = "cfg.journal is required";
  else if (!cfg->ring.name || !cfg->ring.name[0])
    bad = "cfg.ring.name is required";
  else if (cfg->pace > MYELON_REPLAY_RATE)
    bad = "cfg.pace is not a myelon_replay_pace";
  else if (cfg->pace == MYELON_REPLAY_ORIGINAL && !(cfg->speed > 0 && isfinite(cfg->speed)))
    bad = "cfg.speed must be a positive number";
  else if (cfg->pace == MYELON_REPLAY_RATE && !(cfg->rate > 0 && isfinite(cfg->rate)))
    bad = "cfg.rate must be a positive number";
  if (bad)
    return dmp_error_set("myelon_replayer_open", "%s", bad), -DMP_E_BADCONFIG;
  return 0;
}

/* A byte ring's journal: a byte ring of the recorded block and type tag,
 * of the recorded size unless the caller asked for another one (bytes),
 * which must still take the journal's largest record. */
static int create_bytes_ring(struct myelon_replayer *r, struct dmp_producer_config rc)
{
  const struct myelon_journal_info *in = &r->info;
  const char *what = in->kind == MYELON_JOURNAL_FRAMED ? "message" : "record";
  if (rc.slot_size && rc.slot_size != in->slot_size)
    return dmp_error_set("myelon_replayer_open",
                         "journal of a byte ring of %u-byte blocks, the ring was asked for %u-byte slots: a byte "
                         "ring's journal replays into a byte ring",
                         in->slot_size, rc.slot_size),
           -MYELON_E_FORMAT;
  if (r->cfg.frame_capacity && r->cfg.frame_capacity != in->frame_capacity)
    return dmp_error_set("myelon_replayer_open",
                         "journal of a byte ring (largest %s %u bytes), the ring was asked for %u-byte frames: a "
                         "byte ring's journal replays into a byte ring",
                         what, in->frame_capacity, r->cfg.frame_capacity),
           -MYELON_E_FORMAT;
  uint64_t over = DMP_BYTES_HEADER + (in->kind == MYELON_JOURNAL_FRAMED ? MYELON_FRAME_ALIGNED_HEADER : 0);
  if (rc.capacity / 2 < in->frame_capacity + over)
    return dmp_error_set("myelon_replayer_open",
                         "a byte ring of %llu bytes takes a %s of at most %llu bytes, the journal's ring took %u",
                         (unsigned long long)rc.capacity, what,
                         (unsigned long long)(rc.capacity / 2 > over ? rc.capacity / 2 - over : 0), in->frame_capacity),
           -MYELON_E_FORMAT;
  rc.flags |= DMP_RING_BYTES;
  rc.slot_size = in->slot_size;
  rc.slot_align = in->slot_align;
  if (in->kind == MYELON_JOURNAL_RAW) {
    rc.type_tag = in->type_tag;
    return dmp_producer_create(&rc, &r->p);
  }
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring = rc;
  pc.ring_bytes = rc.capacity;
  pc.format = MYELON_FRAME_BYTES;
  pc.max_message = MYELON_JOURNAL_MAX_PAYLOAD; /* taken as the ring's largest (framed.h) */
  return myelon_producer_create(&pc, &r->mp);
}

/* A framed slot ring's journal into a byte ring (DMP_RING_BYTES asked):
 * messages are messages whatever carried them, so they go into a
 * MYELON_FRAME_BYTES ring of `ring.capacity` bytes (0: the default) and
 * `ring.slot_size`-byte blocks (0: the default). A message larger than
 * that ring's largest stops the replay (-MYELON_E_TOOBIG). */
static int create_bytes_from_slots(struct myelon_replayer *r)
{
  if (r->info.kind == MYELON_JOURNAL_RAW)
    return dmp_error_set("myelon_replayer_open",
                         "journal of a raw slot ring (whole %u-byte slots), the ring was asked to be a byte ring "
                         "(DMP_RING_BYTES): a raw slot ring's journal replays into a slot ring",
                         r->info.slot_size),
           -MYELON_E_FORMAT;
  if (r->cfg.frame_capacity)
    return dmp_error_set("myelon_replayer_open",
                         "cfg.frame_capacity %u with DMP_RING_BYTES: a byte ring has no frames to size",
                         r->cfg.frame_capacity),
           -MYELON_E_FORMAT;
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring = r->cfg.ring;
  pc.ring_bytes = r->cfg.ring.capacity ? r->cfg.ring.capacity : MYELON_DEFAULT_RING_BYTES;
  pc.format = MYELON_FRAME_BYTES;
  pc.max_message = MYELON_JOURNAL_MAX_PAYLOAD; /* taken as the ring's largest (framed.h) */
  r->to_bytes = true;
  return myelon_producer_create(&pc, &r->mp);
}

static int create_ring(struct myelon_replayer *r)
{
  const struct myelon_journal_info *in = &r->info;
  struct dmp_producer_config rc = r->cfg.ring;
  if (rc.capacity == 0)
    rc.capacity = in->ring_capacity;
  r->ring_capacity = rc.capacity;
  r->bytes = in->flags & MYELON_JOURNAL_F_BYTES;
  if (r->bytes)
    return create_bytes_ring(r, rc);
  if (rc.flags & DMP_RING_BYTES)
    return create_bytes_from_slots(r);
  if (rc.slot_size && rc.slot_size != in->slot_size)
    return dmp_error_set("myelon_replayer_open", "journal has %u-byte slots, the ring was asked for %u", in->slot_size,
                         rc.slot_size),
           -MYELON_E_FORMAT;
  if (in->kind == MYELON_JOURNAL_RAW) {
    rc.slot_size = in->slot_size;
    rc.slot_align = in->slot_align ? in->slot_align : 8;
    rc.type_tag = in->type_tag;
    return dmp_producer_create(&rc, &r->p);
  }
  if (r->cfg.frame_capacity && r->cfg.frame_capacity != in->frame_capacity)
    return dmp_error_set("myelon_replayer_open", "journal has %u-byte frames, the ring was asked for %u",
                         in->frame_capacity, r->cfg.frame_capacity),
           -MYELON_E_FORMAT;
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring = rc;
  pc.format = (enum myelon_frame_format)in->frame_format;
  pc.frame_capacity = in->frame_capacity;
  pc.max_message = MYELON_JOURNAL_MAX_PAYLOAD;
  return myelon_producer_create(&pc, &r->mp);
}

int myelon_replayer_open(const struct myelon_replayer_config *cfg, struct myelon_replayer **out)
{
  struct myelon_replayer *r;
  MYELON_OPEN_BEGIN("myelon_replayer_open", cfg, out, check_config, r);
  int rc = myelon_journal_reader_open(cfg->journal, cfg->open_flags, &r->rd);
  if (rc == 0) {
    r->info = *myelon_journal_reader_info(r->rd);
    r->st.kind = r->info.kind;
    if (cfg->from_seq >= 0)
      rc = myelon_journal_reader_seek_seq(r->rd, (uint64_t)cfg->from_seq);
    else if (cfg->from_time_ns > 0)
      rc = myelon_journal_reader_seek_time(r->rd, cfg->from_time_ns);
  }
  if (rc == 0)
    rc = create_ring(r);
  if (rc < 0) {
    myelon_replayer_close(r);
    return rc;
  }
  *out = r;
  return 0;
}
