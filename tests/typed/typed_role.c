/*
 * typed_role: helper executable of the multiprocess typed tests. One
 * process plays one role on one typed ring and checks every value:
 *
 *   typed_role producer --backend shm|mmap --name N --count K
 *                       [--type order|tick] [--consumers C]
 *                       [--format compact|aligned|bytes] [--frame F]
 *                       [--capacity S] [--timeout-ms T]
 *   typed_role consumer --backend shm|mmap --name N --id ID --count K
 *                       [--type order|tick] [--mode owned|view|batch]
 *                       [--format ...] [--timeout-ms T]
 *
 * The producer waits for C consumers, then publishes message i = 0..K-1:
 * for --type order (msgpack) tf_fill(i, tf_stream_len(i)) of kind i % 251
 * (a mix of single- and multi-frame sizes), for --type tick (fixed layout)
 * the struct tf_tick of tick_of(i); then it waits for the consumers to
 * drain and exits. A consumer attaches (waiting for the ring
 * to exist), receives K messages - owned, as zero-copy views, or in
 * batches - and checks each against the same formula; views must also
 * point into the message. Exit codes: 0 all good, 2 setup failed, 3 a
 * value differed, 4 a receive failed. Every wait is bounded by
 * --timeout-ms; the process dies with its parent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "typed_fixture.h"

#define EXIT_SETUP 2
#define EXIT_MISMATCH 3
#define EXIT_RECV 4

struct opts {
  bool producer;
  enum dmp_backend backend;
  const char *name, *id, *mode;
  bool ticks; /* --type tick: fixed-layout struct tf_tick */
  enum myelon_frame_format format;
  uint32_t frame, consumers;
  uint64_t capacity, count;
  int64_t timeout_ns;
};

static int fail(int code, const char *what, int rc)
{
  fprintf(stderr, "typed_role: %s: %s / %s\n", what, myelon_err_name(rc), dmp_last_error());
  return code;
}

static struct myelon_producer_config pcfg(const struct opts *o)
{
  struct myelon_producer_config pc = tf_pcfg(o->backend, o->name, o->format, o->frame, o->capacity);
  pc.ring.wait_consumers = o->consumers;
  pc.ring.wait_timeout_ns = o->timeout_ns;
  return pc;
}

static struct myelon_fixed_type tick_type;

static void tick_of(uint64_t i, struct tf_tick *t)
{
  *t = (struct tf_tick){(int64_t)i * 3, 0.5 * (double)i, (uint32_t)i, (uint32_t)(i % 7)};
}

static void codec_of(const struct opts *o, struct myelon_codec *codec)
{
  if (o->ticks)
    myelon_fixed_codec_init(codec, &tick_type);
  else
    tf_codec(codec);
}

static int producer(const struct opts *o)
{
  struct myelon_codec codec;
  codec_of(o, &codec);
  struct myelon_producer_config pc = pcfg(o);
  struct myelon_typed_producer *tp;
  int rc = myelon_typed_producer_create(&pc, &codec, &tp);
  if (rc < 0)
    return fail(EXIT_SETUP, "create", rc);
  static struct tf_order v;
  struct tf_tick tick;
  for (uint64_t i = 0; i < o->count; i++) {
    if (o->ticks)
      tick_of(i, &tick);
    else
      tf_fill(&v, i, tf_stream_len(i));
    const void *value = o->ticks ? (const void *)&tick : (const void *)&v;
    if ((rc = myelon_typed_producer_publish(tp, value, (uint8_t)(i % 251), o->timeout_ns)) < 0) {
      myelon_typed_producer_close(tp);
      return fail(EXIT_RECV, "publish", rc);
    }
  }
  /* Stay until every consumer has read everything (the ring gates us only
   * up to its capacity): keep the segment alive while they drain. */
  struct dmp_producer *ring = myelon_producer_ring(myelon_typed_producer_framed(tp));
  int64_t last = dmp_producer_sequence(ring);
  for (int64_t waited = 0; dmp_producer_min_gating_sequence(ring) < last && waited < o->timeout_ns;
       waited += 1000000)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  myelon_typed_producer_close(tp);
  return 0;
}

struct check {
  const struct opts *o;
  uint64_t next;
  int code;
};

static bool check_value(struct check *ck, const struct tf_order *got, uint8_t kind)
{
  static struct tf_order want;
  tf_fill(&want, ck->next, tf_stream_len(ck->next));
  char why[200] = "";
  if (kind != (uint8_t)(ck->next % 251) || !tf_equal(got, &want, why, sizeof why)) {
    fprintf(stderr, "typed_role %s: message %llu differs (kind %u): %s\n", ck->o->id,
            (unsigned long long)ck->next, kind, why);
    ck->code = EXIT_MISMATCH;
    return false;
  }
  ck->next++;
  return true;
}

static bool check_view(struct check *ck, const struct myelon_mp_view *v, uint8_t kind)
{
  static struct tf_order want;
  tf_fill(&want, ck->next, tf_stream_len(ck->next));
  char why[200] = "";
  if (kind != (uint8_t)(ck->next % 251) || !tf_view_equal(myelon_mp_view_root(v), &want, v->data, v->len, why,
                                                          sizeof why)) {
    fprintf(stderr, "typed_role %s: view %llu differs (kind %u): %s\n", ck->o->id, (unsigned long long)ck->next,
            kind, why);
    ck->code = EXIT_MISMATCH;
    return false;
  }
  ck->next++;
  return true;
}

static bool check_tick(struct check *ck, const struct tf_tick *got, uint8_t kind)
{
  struct tf_tick want;
  tick_of(ck->next, &want);
  if (!got || kind != (uint8_t)(ck->next % 251) || memcmp(got, &want, sizeof want) != 0) {
    fprintf(stderr, "typed_role %s: tick %llu differs\n", ck->o->id, (unsigned long long)ck->next);
    ck->code = EXIT_MISMATCH;
    return false;
  }
  ck->next++;
  return true;
}

/* --type tick: owned copies, or views checked in place (aligned rings). */
static int consume_ticks(struct myelon_typed_consumer *c, const struct myelon_codec *codec, struct check *ck)
{
  struct myelon_view_codec vc;
  myelon_fixed_view_codec_init(&vc, &tick_type);
  while (ck->next < ck->o->count && ck->code == 0) {
    uint8_t kind = 0;
    int rc;
    if (strcmp(ck->o->mode, "view") == 0) {
      struct myelon_fixed_view v;
      if ((rc = myelon_typed_consumer_recv_view(c, &vc, &v, &kind, ck->o->timeout_ns)) < 0)
        return fail(EXIT_RECV, "recv_view", rc);
      check_tick(ck, myelon_fixed_view_get(&v), kind);
    } else {
      struct tf_tick *t;
      if ((rc = myelon_typed_consumer_recv(c, (void **)&t, &kind, ck->o->timeout_ns)) < 0)
        return fail(EXIT_RECV, "recv", rc);
      check_tick(ck, t, kind);
      myelon_codec_free(codec, t);
    }
  }
  return ck->code;
}

static int on_batch(struct myelon_typed_msg *m, void *user)
{
  struct check *ck = user;
  if (m->status < 0) {
    fail(EXIT_RECV, "batch message", m->status);
    ck->code = EXIT_RECV;
    return 1;
  }
  return !check_value(ck, m->value, m->kind);
}

static int consume(struct myelon_typed_consumer *c, const struct myelon_codec *codec, struct check *ck)
{
  static msgpack_object nodes[1024];
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, nodes, 1024, 0);
  struct myelon_view_codec vc;
  myelon_mp_view_codec_init(&vc, &arena);
  const struct opts *o = ck->o;
  while (ck->next < o->count && ck->code == 0) {
    uint8_t kind = 0;
    int rc;
    if (strcmp(o->mode, "view") == 0) {
      struct myelon_mp_view v;
      if ((rc = myelon_typed_consumer_recv_view(c, &vc, &v, &kind, o->timeout_ns)) < 0)
        return fail(EXIT_RECV, "recv_view", rc);
      check_view(ck, &v, kind);
    } else if (strcmp(o->mode, "batch") == 0) {
      if ((rc = dmp_consumer_wait(myelon_consumer_ring(myelon_typed_consumer_framed(c)), o->timeout_ns)) < 0)
        return fail(EXIT_RECV, "wait", rc);
      myelon_typed_consumer_process(c, on_batch, 0, ck);
    } else {
      struct tf_order *v;
      if ((rc = myelon_typed_consumer_recv(c, (void **)&v, &kind, o->timeout_ns)) < 0)
        return fail(EXIT_RECV, "recv", rc);
      check_value(ck, v, kind);
      myelon_codec_free(codec, v);
    }
  }
  return ck->code;
}

static int consumer(const struct opts *o)
{
  struct myelon_codec codec;
  codec_of(o, &codec);
  struct myelon_producer_config pc = pcfg(o);
  struct myelon_consumer_config cc = tf_ccfg(&pc, o->id);
  cc.frame_capacity = 0; /* accept the ring's */
  struct myelon_typed_consumer *c;
  int rc = myelon_typed_consumer_attach_timeout(&cc, &codec, o->timeout_ns, &c);
  if (rc < 0)
    return fail(EXIT_SETUP, "attach", rc);
  struct check ck = {o, 0, 0};
  int code = o->ticks ? consume_ticks(c, &codec, &ck) : consume(c, &codec, &ck);
  if (code == 0 && myelon_typed_consumer_decode_errors(c) != 0)
    code = EXIT_MISMATCH;
  myelon_typed_consumer_close(c);
  return code;
}

static int parse(int argc, char **argv, struct opts *o)
{
  static const struct option longs[] = {
    {"backend", required_argument, NULL, 'b'}, {"name", required_argument, NULL, 'n'},
    {"id", required_argument, NULL, 'i'},      {"count", required_argument, NULL, 'k'},
    {"mode", required_argument, NULL, 'm'},    {"format", required_argument, NULL, 'f'},
    {"frame", required_argument, NULL, 'F'},   {"capacity", required_argument, NULL, 'c'},
    {"consumers", required_argument, NULL, 'C'}, {"timeout-ms", required_argument, NULL, 't'},
    {"type", required_argument, NULL, 'T'},
    {NULL, 0, NULL, 0}};
  if (argc < 2)
    return -1;
  o->producer = strcmp(argv[1], "producer") == 0;
  if (!o->producer && strcmp(argv[1], "consumer") != 0)
    return -1;
  optind = 2;
  int ch;
  while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (ch) {
    case 'b': o->backend = strcmp(optarg, "mmap") == 0 ? DMP_BACKEND_MMAP : DMP_BACKEND_SHM; break;
    case 'n': o->name = optarg; break;
    case 'i': o->id = optarg; break;
    case 'k': o->count = strtoull(optarg, NULL, 10); break;
    case 'm': o->mode = optarg; break;
    case 'f':
      o->format = strcmp(optarg, "aligned") == 0 ? MYELON_FRAME_ALIGNED
                  : strcmp(optarg, "bytes") == 0 ? MYELON_FRAME_BYTES /* tf_ring_bytes(--frame, --capacity) */
                                                 : MYELON_FRAME_COMPACT;
      break;
    case 'F': o->frame = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'c': o->capacity = strtoull(optarg, NULL, 10); break;
    case 'C': o->consumers = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 't': o->timeout_ns = strtoll(optarg, NULL, 10) * 1000000; break;
    case 'T': o->ticks = strcmp(optarg, "tick") == 0; break;
    default: return -1;
    }
  }
  return o->name && (o->producer || o->id) ? 0 : -1;
}

int main(int argc, char **argv)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct opts o = {false, DMP_BACKEND_SHM, NULL, NULL, "owned", false, MYELON_FRAME_COMPACT, 256, 1, 64, 100,
                   10000000000};
  tf_tick_type(&tick_type);
  if (parse(argc, argv, &o) < 0) {
    fprintf(stderr, "usage: typed_role producer|consumer --backend shm|mmap --name N [--id ID] --count K ...\n");
    return EXIT_SETUP;
  }
  return o.producer ? producer(&o) : consumer(&o);
}
