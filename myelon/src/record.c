/* The recorder (record.h): a Layer 0 consumer whose events (raw) or
 * reassembled Layer 1 messages (framed) are appended to a journal.
 *
 * Gating: events are peeked in place (zero copy from the slot into the
 * journal's write buffer) and released per batch. Non-gating: each event is
 * copied out with dmp_consumer_try_copy(), which validates that it was not
 * overwritten meanwhile; Layer 0 skips what was lost and counts it in
 * dmp_consumer_missed(). Framed non-gating streams are reassembled with the
 * pure myelon_reasm_feed() from those copies; lost messages are counted from
 * the gaps in message ids (the framed producer numbers messages 1, 2, ...,
 * skipping 0 on wrap-around).
 *
 * Byte rings (segment flag DMP_SEG_F_BYTES, seen as
 * dmp_consumer_bytes_max() > 0): one journal record per ring record, read
 * with the byte calls (peek in place when gating, copy when not); a
 * MYELON_FRAME_BYTES ring (its type tag) is recorded as messages, the
 * frame checked as the framed consumer checks it (frame_bytes.h). */
#include "journal_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/error.h>
#include <myelon/frame.h>
#include <myelon/framed.h>
#include <myelon/record.h>

#include "frame_bytes.h"

#define BATCH 1024u                         /* events per release / per check of the clock */
#define WAIT_SLICE_NS INT64_C(100000000)    /* stop requests are seen within this */

struct myelon_recorder {
  struct myelon_recorder_config cfg;
  char *ring_name, *id;
  struct dmp_consumer *c;
  struct myelon_journal_writer *w;
  enum myelon_journal_kind kind;
  enum myelon_frame_format fmt;
  uint32_t fcap, slot_size;
  bool gating;
  bool bytes;             /* a byte ring: one journal record per ring record */
  size_t bytes_max;       /* byte ring: its largest record payload */
  struct myelon_reasm reasm;
  uint8_t *copy;          /* non-gating: one slot (byte ring: one record) copied out */
  uint64_t ordinal;       /* framed: next message ordinal */
  uint32_t last_id;       /* framed: id of the last message recorded (0: before the first) */
  bool ids_known;         /* framed: last_id is meaningful (0 = the stream's start) */
  uint64_t missed_seen;   /* dmp_consumer_missed() already accounted */
  bool gap;               /* flag the next record */
  atomic_int stop;
  int64_t next_sync_ns;
  uint64_t lag_max, dropped, bad_messages;
  int64_t now_real, now_mono; /* when the current batch was taken */
  int error;
};

void myelon_recorder_config_init(struct myelon_recorder_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->backend = DMP_BACKEND_SHM;
  cfg->id = "recorder";
  cfg->kind = MYELON_RECORD_AUTO;
  cfg->start = DMP_START_LATEST;
  cfg->max_message = MYELON_DEFAULT_MAX_MESSAGE;
  myelon_journal_writer_config_init(&cfg->journal);
  struct dmp_consumer_config dflt; /* the wait kind Layer 0 defaults to (DMP_WAIT, env.h) */
  dmp_consumer_config_init(&dflt);
  cfg->wait.kind = dflt.wait.kind;
}

/* ---- appending --------------------------------------------------------- */

static int append(struct myelon_recorder *r, const void *data, uint32_t len, uint64_t seq, uint8_t kind,
                  uint32_t msg_id)
{
  struct myelon_journal_record rec = {
      .data = data,
      .len = len,
      .kind = kind,
      .flags = r->gap ? MYELON_JREC_F_GAP : 0,
      .msg_id = msg_id,
      .seq = seq,
      .realtime_ns = r->now_real,
      .mono_ns = r->now_mono,
  };
  int rc = myelon_journal_writer_append(r->w, &rec);
  if (rc < 0) {
    r->error = rc;
    return rc;
  }
  r->gap = false;
  return 0;
}

/* Events Layer 0 skipped for us since we last looked (non-gating). */
static void account_missed(struct myelon_recorder *r)
{
  uint64_t m = dmp_consumer_missed(r->c);
  if (m > r->missed_seen) {
    if (r->kind == MYELON_JOURNAL_RAW)
      r->dropped += m - r->missed_seen;
    r->gap = true;
    r->missed_seen = m;
  }
}

/* ---- framed ------------------------------------------------------------ */

/* Messages between the last recorded id and `id` that never arrived. */
static void account_ids(struct myelon_recorder *r, uint32_t id)
{
  if (r->ids_known) {
    uint32_t lost = id - r->last_id - 1;
    if (id < r->last_id && r->last_id != 0)
      lost--; /* the producer skips id 0 when it wraps */
    if (lost) {
      r->dropped += lost;
      r->gap = true;
    }
  }
  r->last_id = id;
  r->ids_known = true;
}

static int record_message(struct myelon_recorder *r, const void *data, size_t len, uint8_t kind, uint32_t id)
{
  if (!r->gating)
    account_ids(r, id);
  if (len > MYELON_JOURNAL_MAX_PAYLOAD) {
    r->bad_messages++;
    return 0;
  }
  int rc = append(r, data, (uint32_t)len, r->ordinal, kind, id);
  if (rc == 0)
    r->ordinal++;
  return rc;
}

/* One frame from the ring (in the slot, or copied out). */
static int on_frame(struct myelon_recorder *r, const void *slot)
{
  struct myelon_frame_view f;
  int rc = myelon_frame_parse(r->fmt, r->fcap, slot, &f);
  if (rc < 0) {
    if (r->reasm.active)
      r->bad_messages++;
    myelon_reasm_reset(&r->reasm);
    r->bad_messages++;
    return 0;
  }
  if ((f.flags & MYELON_FLAG_SINGLE) == MYELON_FLAG_SINGLE && !r->reasm.active) {
    if (f.len > r->reasm.max) {
      r->bad_messages++;
      return 0;
    }
    return record_message(r, f.data, f.len, f.kind, f.msg_id);
  }
  for (;;) {
    bool consumed;
    rc = myelon_reasm_feed(&r->reasm, &f, &consumed);
    if (rc == 1)
      return record_message(r, r->reasm.buf, r->reasm.len, r->reasm.kind, r->reasm.msg_id);
    if (rc == -MYELON_E_TOOBIG || rc == -MYELON_E_MALFORMED || (rc == -MYELON_E_TRUNCATED && r->gating))
      r->bad_messages++; /* non-gating truncation shows up as an id gap */
    else if (rc < 0 && rc != -MYELON_E_TRUNCATED)
      return r->error = rc; /* -ENOMEM */
    if (consumed)
      return 0;
  }
}

/* ---- byte rings -------------------------------------------------------- */

/* One record of a byte ring (in the ring, or copied out): raw, its payload
 * as one journal record; framed, the message of its frame. */
static int on_record(struct myelon_recorder *r, const uint8_t *data, size_t len, int64_t seq)
{
  if (r->kind == MYELON_JOURNAL_RAW) {
    if (len > MYELON_JOURNAL_MAX_PAYLOAD) {
      r->bad_messages++; /* a ring of more than 2 GiB: the journal takes 1 GiB a record */
      return 0;
    }
    return append(r, data, (uint32_t)len, (uint64_t)seq, 0, 0);
  }
  struct myelon_frame_header h;
  uint32_t total;
  if (myelon_impl_bytes_frame(data, len, &h, &total) < 0) {
    r->bad_messages++;
    return 0;
  }
  return record_message(r, data + MYELON_FRAME_ALIGNED_HEADER, h.len, h.kind, h.msg_id);
}

/* A record whose Layer 0 header failed its checks (-DMP_E_CORRUPT, bytes.h):
 * never recorded; move on to the next boundary Layer 0 trusts (what was
 * peeked before it is already in the journal's buffer). */
static int64_t skip_corrupt(struct myelon_recorder *r)
{
  r->bad_messages++;
  r->gap = true;
  int64_t n = dmp_consumer_resync_bytes(r->c);
  if (n >= 0)
    r->missed_seen = dmp_consumer_missed(r->c); /* what resync skipped is counted here, not as dropped */
  return n;
}

static int64_t poll_bytes_gating(struct myelon_recorder *r, uint64_t limit)
{
  int64_t done = 0;
  while ((uint64_t)done < limit) {
    const void *data = NULL;
    size_t len = 0;
    int64_t seq = 0;
    int rc = dmp_consumer_try_peek_bytes(r->c, &data, &len, &seq);
    if (rc == -DMP_E_CORRUPT) {
      int64_t n = skip_corrupt(r);
      if (n < 0)
        return n;
    } else if (rc < 0) {
      break;
    } else if ((rc = on_record(r, data, len, seq)) < 0) {
      return rc;
    }
    done++;
  }
  dmp_consumer_release(r->c);
  return done;
}

static int64_t poll_bytes_copy(struct myelon_recorder *r, uint64_t limit)
{
  int64_t done = 0;
  while ((uint64_t)done < limit) {
    size_t len = 0;
    int64_t seq = 0;
    int rc = dmp_consumer_try_copy_bytes(r->c, r->copy, r->bytes_max, &len, &seq);
    /* -EMSGSIZE: a record larger than the ring's largest, which Layer 0's
     * checks report as corrupt first; handled alike so that it can never
     * stall the recorder on a record it cannot take. */
    if (rc == -DMP_E_CORRUPT || rc == -EMSGSIZE) {
      account_missed(r);
      int64_t n = skip_corrupt(r);
      if (n < 0)
        return n;
    } else if (rc < 0) {
      break;
    } else {
      account_missed(r);
      if ((rc = on_record(r, r->copy, len, seq)) < 0)
        return rc;
    }
    done++;
  }
  account_missed(r);
  return done;
}

/* ---- polling ----------------------------------------------------------- */

static int note_lag(struct myelon_recorder *r)
{
  int64_t n = dmp_consumer_available(r->c);
  if (n > 0 && (uint64_t)n > r->lag_max)
    r->lag_max = (uint64_t)n;
  return n > 0;
}

/* Gating: peek up to BATCH events in place, record, release them at once. */
static int64_t poll_gating(struct myelon_recorder *r, uint64_t limit)
{
  int64_t done = 0;
  const void *ev = NULL;
  int64_t seq = 0;
  while ((uint64_t)done < limit && dmp_consumer_try_peek(r->c, &ev, &seq) == 0) {
    int rc = r->kind == MYELON_JOURNAL_RAW ? append(r, ev, r->slot_size, (uint64_t)seq, 0, 0) : on_frame(r, ev);
    if (rc < 0)
      return rc;
    done++;
  }
  dmp_consumer_release(r->c);
  return done;
}

/* Non-gating: copy events out (each validated against overwrite). */
static int64_t poll_copy(struct myelon_recorder *r, uint64_t limit)
{
  int64_t done = 0;
  int64_t seq = 0;
  while ((uint64_t)done < limit && dmp_consumer_try_copy(r->c, r->copy, r->slot_size, &seq) == 0) {
    account_missed(r);
    int rc = r->kind == MYELON_JOURNAL_RAW ? append(r, r->copy, r->slot_size, (uint64_t)seq, 0, 0)
                                           : on_frame(r, r->copy);
    if (rc < 0)
      return rc;
    done++;
  }
  account_missed(r);
  return done;
}

static uint64_t recorded(const struct myelon_recorder *r)
{
  struct myelon_journal_writer_stats st;
  myelon_journal_writer_stats(r->w, &st);
  return st.appended;
}

static int64_t poll_once(struct myelon_recorder *r)
{
  uint64_t limit = BATCH;
  if (r->cfg.max_records) {
    uint64_t have = recorded(r);
    if (have >= r->cfg.max_records)
      return 0;
    if ((r->kind == MYELON_JOURNAL_RAW || r->bytes) && r->cfg.max_records - have < limit)
      limit = r->cfg.max_records - have; /* one journal record per event or ring record */
    else if (r->kind == MYELON_JOURNAL_FRAMED && !r->bytes)
      limit = 1; /* one frame at a time: a message may complete on any of them */
  }
  /* One time stamp per batch: every event in it was there when it was taken. */
  r->now_real = myelon_impl_clock_ns(CLOCK_REALTIME);
  r->now_mono = myelon_impl_clock_ns(CLOCK_MONOTONIC);
  note_lag(r);
  if (r->bytes)
    return r->gating ? poll_bytes_gating(r, limit) : poll_bytes_copy(r, limit);
  return r->gating ? poll_gating(r, limit) : poll_copy(r, limit);
}

static bool limit_reached(const struct myelon_recorder *r)
{
  return r->cfg.max_records && recorded(r) >= r->cfg.max_records;
}

static int maybe_sync(struct myelon_recorder *r, int64_t now)
{
  if (!r->cfg.sync_interval_ms || now < r->next_sync_ns)
    return 0;
  r->next_sync_ns = now + (int64_t)r->cfg.sync_interval_ms * 1000000;
  int rc = myelon_journal_writer_sync_start(r->w);
  return rc < 0 ? (r->error = rc) : 0;
}

int myelon_recorder_run(struct myelon_recorder *r, int64_t timeout_ns)
{
  if (!r)
    return -EINVAL;
  if (r->error)
    return r->error;
  int64_t start = myelon_impl_clock_ns(CLOCK_MONOTONIC);
  for (;;) {
    if (atomic_load_explicit(&r->stop, memory_order_relaxed) || limit_reached(r))
      return 1; /* relaxed: a flag polled in a loop, no data hangs on it */
    int64_t n = poll_once(r);
    if (n < 0)
      return (int)n;
    int64_t now = myelon_impl_clock_ns(CLOCK_MONOTONIC);
    int rc = maybe_sync(r, now);
    if (rc == 0)
      rc = n ? myelon_journal_writer_poll(r->w) : myelon_journal_writer_flush(r->w);
    if (rc < 0)
      return r->error = rc;
    if (n)
      continue;
    int64_t left = timeout_ns < 0 ? WAIT_SLICE_NS : start + timeout_ns - now;
    if (left <= 0)
      return 0;
    if (r->cfg.sync_interval_ms && r->next_sync_ns - now < left)
      left = r->next_sync_ns - now > 0 ? r->next_sync_ns - now : 0;
    int64_t got = dmp_consumer_wait(r->c, left < WAIT_SLICE_NS ? left : WAIT_SLICE_NS);
    if (got == -DMP_E_OWNERDEAD)
      return 1; /* the producer is gone and everything it published is recorded */
    if (got < 0 && got != -ETIMEDOUT)
      return (int)got;
  }
}

void myelon_recorder_stop(struct myelon_recorder *r)
{
  if (r)
    atomic_store_explicit(&r->stop, 1, memory_order_relaxed);
}

static void fill_stats(const struct myelon_recorder *r, const struct myelon_journal_writer_stats *w,
                       struct myelon_recorder_stats *st)
{
  memset(st, 0, sizeof *st);
  st->recorded = w->appended;
  st->written = w->written;
  st->durable = w->durable;
  st->not_written = w->error ? w->appended - w->written : 0;
  st->dropped = r->dropped;
  st->bad_messages = r->bad_messages;
  st->lag_max = r->lag_max;
  st->bytes = w->bytes_appended;
  st->write_errors = w->write_errors;
  st->syncs = w->syncs;
  st->parts = w->parts;
  st->error = r->error ? r->error : w->error;
  st->gating = r->gating;
  st->kind = r->kind;
  st->backend = w->backend;
}

void myelon_recorder_stats(const struct myelon_recorder *r, struct myelon_recorder_stats *st)
{
  struct myelon_journal_writer_stats w;
  myelon_journal_writer_stats(r->w, &w);
  fill_stats(r, &w, st);
}

static void free_recorder(struct myelon_recorder *r)
{
  if (r->c)
    dmp_consumer_close_forget(r->c); /* a recording is not resumed: the next one starts fresh */
  myelon_reasm_fini(&r->reasm);
  free(r->copy);
  free(r->ring_name);
  free(r->id);
  free(r);
}

int myelon_recorder_close(struct myelon_recorder *r, struct myelon_recorder_stats *final)
{
  if (!r) {
    if (final)
      memset(final, 0, sizeof *final);
    return 0;
  }
  if (r->cfg.sync_interval_ms && !r->error)
    myelon_journal_writer_sync(r->w); /* a clean stop leaves every record durable */
  struct myelon_journal_writer_stats w;
  int rc = myelon_journal_writer_close(r->w, &w);
  if (final)
    fill_stats(r, &w, final);
  if (!rc)
    rc = r->error;
  free_recorder(r);
  return rc;
}

/* ---- open -------------------------------------------------------------- */

static int attach(struct myelon_recorder *r)
{
  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.backend = r->cfg.backend;
  cc.name = r->ring_name;
  cc.id = r->id;
  cc.start = r->cfg.start;
  cc.wait = r->cfg.wait;
  if (!r->gating) {
#ifdef DMP_CONSUMER_NON_GATING
    cc.flags |= DMP_CONSUMER_NON_GATING;
#else
    return dmp_error_set("myelon_recorder_open", "this disruptor_mp has no non-gating consumers"), -EOPNOTSUPP;
#endif
  }
  if (r->cfg.attach_timeout_ns > 0)
    return dmp_consumer_attach_timeout(&cc, r->cfg.attach_timeout_ns, &r->c);
  return dmp_consumer_attach(&cc, &r->c);
}

/* Raw or framed: what the ring's type tag says, checked against the request. */
/* A byte ring: raw records, or MYELON_FRAME_BYTES messages. */
static int detect_bytes(struct myelon_recorder *r, uint64_t tag)
{
  r->bytes = true;
  bool framed = tag == myelon_frame_tag(MYELON_FRAME_BYTES, 0);
  if (r->cfg.kind == MYELON_RECORD_FRAMED && !framed)
    return dmp_error_set("myelon_recorder_open",
                         "byte ring '%s' does not carry Layer 1 messages (type tag %#llx, not MYELON_FRAME_BYTES's)",
                         r->ring_name, (unsigned long long)tag),
           -MYELON_E_FORMAT;
  r->kind = framed && r->cfg.kind != MYELON_RECORD_RAW ? MYELON_JOURNAL_FRAMED : MYELON_JOURNAL_RAW;
  r->fmt = MYELON_FRAME_BYTES;
  if (!r->gating && !(r->copy = malloc(r->bytes_max ? r->bytes_max : 1)))
    return -ENOMEM;
  return 0;
}

static int detect_kind(struct myelon_recorder *r)
{
  r->slot_size = dmp_consumer_slot_size(r->c);
  uint64_t tag = dmp_consumer_type_tag(r->c);
  /* The segment says which shape (DMP_SEG_F_BYTES, dmp_consumer_is_bytes()), the
   * type tag whether a byte ring carries Layer 1 frames: nothing guessed
   * from the contents. A byte ring's slots are blocks: never recorded as
   * events (they would replay as blocks, not records). */
  r->bytes_max = dmp_consumer_bytes_max(r->c);
  if (dmp_consumer_is_bytes(r->c))
    return detect_bytes(r, tag);
  bool framed = false;
  static const enum myelon_frame_format fmts[] = {MYELON_FRAME_COMPACT, MYELON_FRAME_ALIGNED};
  for (size_t i = 0; i < 2 && !framed; i++) {
    uint32_t hdr = myelon_frame_header_size(fmts[i]);
    if (r->slot_size > hdr && tag == myelon_frame_tag(fmts[i], r->slot_size - hdr)) {
      framed = true;
      r->fmt = fmts[i];
      r->fcap = r->slot_size - hdr;
    }
  }
  if (r->cfg.kind == MYELON_RECORD_FRAMED && !framed)
    return dmp_error_set("myelon_recorder_open", "ring '%s' does not carry Layer 1 frames (type tag %#llx)",
                         r->ring_name, (unsigned long long)tag),
           -MYELON_E_FORMAT;
  r->kind = framed && r->cfg.kind != MYELON_RECORD_RAW ? MYELON_JOURNAL_FRAMED : MYELON_JOURNAL_RAW;
  if (!r->gating && !(r->copy = malloc(r->slot_size)))
    return -ENOMEM;
  if (r->kind == MYELON_JOURNAL_FRAMED)
    return myelon_reasm_init(&r->reasm, r->cfg.max_message);
  return 0;
}

static void fill_info(struct myelon_recorder *r, struct myelon_journal_info *info)
{
  memset(info, 0, sizeof *info);
  info->kind = r->kind;
  info->frame_format = r->kind == MYELON_JOURNAL_FRAMED ? (uint32_t)r->fmt : 0;
  info->slot_size = r->slot_size;
  info->slot_align = dmp_consumer_slot_align(r->c);
  info->frame_capacity = r->kind == MYELON_JOURNAL_FRAMED ? r->fcap : 0;
  info->flags = r->gating ? 0 : MYELON_JOURNAL_F_NON_GATING;
  info->ring_capacity = dmp_consumer_capacity(r->c);
  if (r->bytes) {
    /* journal.h, version 2: the ring in bytes and its largest record (a
     * framed ring's: message), so that a replay rebuilds the same ring. */
    info->flags |= MYELON_JOURNAL_F_BYTES;
    info->ring_capacity *= r->slot_size;
    size_t largest = r->bytes_max;
    if (r->kind == MYELON_JOURNAL_FRAMED)
      largest = largest > MYELON_FRAME_ALIGNED_HEADER ? largest - MYELON_FRAME_ALIGNED_HEADER : 0;
    info->frame_capacity = (uint32_t)largest;
  }
  info->ring_epoch = dmp_consumer_epoch(r->c);
  info->type_tag = dmp_consumer_type_tag(r->c);
  info->ring_backend = (uint32_t)r->cfg.backend;
  size_t n = strlen(r->ring_name);
  if (n > MYELON_JOURNAL_NAME_MAX) {
    n = MYELON_JOURNAL_NAME_MAX;
    info->flags |= MYELON_JOURNAL_F_NAME_CUT;
  }
  memcpy(info->ring_name, r->ring_name, n);
}

/* Prefix the detail of a failed step with what it was about. */
static void context(const char *what, const char *name)
{
  char prev[256];
  snprintf(prev, sizeof prev, "%s", dmp_last_error());
  dmp_error_set("myelon_recorder_open", "%s '%s': %s", what, name, prev);
}

static int check_config(const struct myelon_recorder_config *cfg)
{
  int rc = MYELON_RESERVED_CHECK(cfg, "myelon_recorder_open", "cfg.reserved");
  if (rc < 0 || (rc = MYELON_RESERVED_CHECK(&cfg->journal, "myelon_recorder_open", "cfg.journal.reserved")) < 0)
    return rc;
  const char *bad = NULL;
  if (!cfg->ring || !cfg->ring[0])
    bad = "cfg.ring is required";
  else if (!cfg->journal.path || !cfg->journal.path[0])
    bad = "cfg.journal.path is required";
  else if (cfg->kind > MYELON_RECORD_FRAMED)
    bad = "cfg.kind is not a myelon_record_kind";
  else if (cfg->flags & ~MYELON_RECORD_KNOWN)
    bad = "cfg.flags has unknown bits";
  else if (cfg->max_message == 0 || cfg->max_message > MYELON_JOURNAL_MAX_PAYLOAD)
    bad = "cfg.max_message must be 1 .. 1 GiB";
  if (bad)
    return dmp_error_set("myelon_recorder_open", "%s", bad), -DMP_E_BADCONFIG;
  return 0;
}

int myelon_recorder_open(const struct myelon_recorder_config *cfg, struct myelon_recorder **out)
{
  struct myelon_recorder *r;
  MYELON_OPEN_BEGIN("myelon_recorder_open", cfg, out, check_config, r);
  int rc;
  r->gating = !(cfg->flags & MYELON_RECORD_NON_GATING);
  r->ring_name = strdup(cfg->ring);
  r->id = strdup(cfg->id ? cfg->id : "recorder");
  rc = r->ring_name && r->id ? 0 : -ENOMEM;
  if (rc == 0 && (rc = attach(r)) < 0)
    context(rc == -ENOENT || rc == -ETIMEDOUT ? "no ring" : "ring", r->ring_name);
  if (rc == 0)
    rc = detect_kind(r);
  if (rc == 0) {
    struct myelon_journal_writer_config wc = cfg->journal;
    fill_info(r, &wc.info);
    if ((rc = myelon_journal_writer_open(&wc, &r->w)) < 0)
      context("journal", cfg->journal.path);
  }
  if (rc < 0) {
    free_recorder(r);
    return rc;
  }
  r->missed_seen = dmp_consumer_missed(r->c); /* losses before the attach are not ours */
  /* Attached before anything was published: the first message is id 1, so
   * messages lost before the first one recorded are counted too. */
  r->ids_known = dmp_consumer_next(r->c) == 0;
  r->next_sync_ns = myelon_impl_clock_ns(CLOCK_MONOTONIC) + (int64_t)cfg->sync_interval_ms * 1000000;
  *out = r;
  return 0;
}
