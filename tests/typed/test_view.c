/* Layer 3 zero-copy views over real rings (view.h, typed.h): msgpack view
 * strings point into the received frame (the ring slot, or the reassembly
 * buffer), views equal the owned decode over thousands of random messages,
 * arena exhaustion and the depth limit are per-message errors, fixed-layout
 * views check size, alignment and fingerprint, and a view used after its
 * lease ended is detected. */
#include "typed_test.h"

TestSuite(mp_view, .fini = tt_fini, .timeout = 60);
TestSuite(fixed_view, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(view_lease, .fini = tt_fini, .timeout = TT_TIMEOUT);

static msgpack_object nodes[1024];

/* The ring's slot memory of a typed consumer. */
static void ring_span(struct tt_pair *t, const uint8_t **lo, const uint8_t **hi)
{
  struct dmp_consumer *ring = myelon_consumer_ring(myelon_typed_consumer_framed(t->tc));
  *lo = ring->ring.slots;
  *hi = ring->ring.slots + ring->ring.capacity * ring->ring.stride;
}

static bool in_ring(struct tt_pair *t, const void *p, size_t n)
{
  const uint8_t *lo, *hi;
  ring_span(t, &lo, &hi);
  return (const uint8_t *)p >= lo && (const uint8_t *)p + n <= hi;
}

Test(mp_view, strings_point_into_the_ring_slot_or_the_reassembly_buffer)
{
  for (int b = 0; b < TT_NBACKENDS; b++) {
    struct tt_pair t;
    tt_open(&t, tt_backends[b], MYELON_FRAME_ALIGNED, 1024, 32, NULL);
    struct myelon_mp_arena arena;
    myelon_mp_arena_init(&arena, nodes, 1024, 0);
    struct myelon_view_codec vc;
    myelon_mp_view_codec_init(&vc, &arena);
    static struct tf_order o;
    static const uint32_t payloads[] = {20, 5000};
    for (int i = 0; i < 2; i++) {
      tf_fill(&o, 31 + (uint64_t)i, payloads[i]);
      cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 7, TT_LONG_NS), 0));
      struct myelon_mp_view v;
      uint8_t kind = 0;
      int rc = myelon_typed_consumer_recv_view(t.tc, &vc, &v, &kind, TT_LONG_NS);
      cr_assert(eq(int, rc, 0), "recv_view: %s / %s", myelon_err_name(rc), dmp_last_error());
      cr_assert(eq(u8, kind, 7));
      char why[200] = "";
      cr_assert(tf_view_equal(myelon_mp_view_root(&v), &o, v.data, v.len, why, sizeof why), "%s", why);
      bool single = i == 0 || tt_bytes(); /* a byte ring holds every message whole, in the ring */
      cr_assert(eq(int, in_ring(&t, v.data, v.len), single),
                "%s message: view bytes %s the ring", single ? "single-frame" : "fragmented",
                single ? "outside" : "inside");
      cr_assert(eq(u64, (uintptr_t)v.data % 16, 0), "view bytes not 16-aligned");
      const msgpack_object *sym = myelon_mp_map_get(myelon_mp_view_root(&v), "sym");
      cr_assert(sym->via.str.ptr >= (const char *)v.data && sym->via.str.ptr <= (const char *)v.data + v.len);
      myelon_typed_consumer_release(t.tc);
    }
    tt_close(&t);
  }
}

/* Zero-copy access gives what the owned decode gives, message after
 * message, over random values of every shape and size. */
Test(mp_view, views_equal_the_owned_decode_over_thousands_of_random_messages)
{
  for (int b = 0; b < TT_NBACKENDS; b++) {
    struct tt_pair t;
    tt_open(&t, tt_backends[b], b ? MYELON_FRAME_COMPACT : MYELON_FRAME_ALIGNED, 512, 64, NULL);
    struct myelon_mp_arena arena;
    myelon_mp_arena_init(&arena, nodes, 1024, 0);
    struct myelon_view_codec vc;
    myelon_mp_view_codec_init(&vc, &arena);
    static struct tf_order o;
    uint64_t st = 1234 + (uint64_t)b;
    int n = b ? 1000 : 3000;
    for (int i = 0; i < n; i++) {
      uint64_t seed = tf_rand(&st);
      tf_fill(&o, seed, (uint32_t)(tf_rand(&st) % 2500));
      cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 1, TT_LONG_NS), 0));
      struct myelon_mp_view v;
      cr_assert(eq(int, myelon_typed_consumer_recv_view(t.tc, &vc, &v, NULL, TT_LONG_NS), 0), "%s", dmp_last_error());
      void *owned = NULL;
      cr_assert(eq(int, myelon_codec_decode(&t.codec, v.data, v.len, &owned), 0));
      char why[200] = "";
      bool same = tf_view_equal(myelon_mp_view_root(&v), owned, v.data, v.len, why, sizeof why);
      bool orig = tf_equal(owned, &o, NULL, 0);
      cr_assert(ne(ptr, owned, (void *)v.data), "decode did not copy");
      myelon_codec_free(&t.codec, owned);
      cr_assert(same, "message %d (seed %llu): view and owned decode differ: %s", i, (unsigned long long)seed, why);
      cr_assert(orig, "message %d: owned decode differs from the published value", i);
    }
    tt_close(&t);
  }
}

Test(mp_view, arena_exhaustion_and_depth_limit_fail_one_message_and_the_stream_goes_on)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 1024, 32, NULL);
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, nodes, 16, 4);
  struct myelon_view_codec vc;
  myelon_mp_view_codec_init(&vc, &arena);
  static struct tf_order o;
  tf_fill(&o, 3, 3); /* far more than 16 nodes */
  cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 1, TT_LONG_NS), 0));
  const uint8_t deep[] = {0x91, 0x91, 0x91, 0x91, 0x91, 0xc0}; /* 5 levels > 4 */
  cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, deep, sizeof deep, 2, TT_LONG_NS), 0));
  const uint8_t small[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0xa2, 'h', 'i', 0xc3}; /* {a:1, b:["hi",true]} */
  cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, small, sizeof small, 3, TT_LONG_NS), 0));
  struct myelon_mp_view v;
  cr_assert(eq(int, myelon_typed_consumer_recv_view(t.tc, &vc, &v, NULL, TT_LONG_NS), -ENOBUFS));
  cr_assert(tt_detail_has("node arena of 16 exhausted"));
  cr_assert(eq(int, myelon_typed_consumer_recv_view(t.tc, &vc, &v, NULL, TT_LONG_NS), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec decode: nesting deeper than the depth limit"));
  uint8_t kind = 0;
  cr_assert(eq(int, myelon_typed_consumer_recv_view(t.tc, &vc, &v, &kind, TT_LONG_NS), 0), "%s", dmp_last_error());
  cr_assert(eq(u8, kind, 3));
  const msgpack_object *bb = myelon_mp_map_get(myelon_mp_view_root(&v), "b");
  cr_assert(eq(int, bb->type, MSGPACK_OBJECT_ARRAY));
  cr_assert(eq(u32, bb->via.array.ptr[0].via.str.size, 2));
  cr_assert(eq(int, memcmp(bb->via.array.ptr[0].via.str.ptr, "hi", 2), 0));
  cr_assert(in_ring(&t, bb->via.array.ptr[0].via.str.ptr, 2), "string is not in the slot");
  cr_assert(eq(sz, v.nodes, 7));
  cr_assert(eq(u64, myelon_typed_consumer_decode_errors(t.tc), 2));
  tt_close(&t);
}

struct view_log {
  int n;
  int bad;
  const struct myelon_mp_view *seen;
};

static int on_view(struct myelon_typed_msg *m, void *user)
{
  struct view_log *log = user;
  if (m->status < 0) {
    log->bad++;
  } else {
    const struct myelon_mp_view *v = m->value;
    struct tf_order want;
    tf_fill(&want, 500 + m->kind, 10u * m->kind);
    char why[200] = "";
    cr_assert(tf_view_equal(myelon_mp_view_root(v), &want, v->data, v->len, why, sizeof why), "%s", why);
    log->seen = v;
  }
  log->n++;
  return 0;
}

Test(mp_view, process_view_delivers_views_and_per_message_errors)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED, 256, 64, NULL);
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, nodes, 1024, 0);
  struct myelon_view_codec vc;
  myelon_mp_view_codec_init(&vc, &arena);
  static struct tf_order o;
  struct view_log log = {0, 0, NULL};
  struct myelon_mp_view v;
  for (uint8_t k = 1; k <= 6; k++) {
    if (k == 4) {
      cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, "\xc1", 1, k, TT_LONG_NS), 0));
      continue;
    }
    tf_fill(&o, 500 + k, 10u * k);
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, k, TT_LONG_NS), 0));
  }
  cr_assert(eq(i64, myelon_typed_consumer_process_view(t.tc, &vc, &v, on_view, 0, &log), 6));
  cr_assert(eq(int, log.n, 6));
  cr_assert(eq(int, log.bad, 1));
  cr_assert(eq(int, myelon_view_check(&log.seen->lease), -MYELON_E_VIEW),
            "a view handed to the callback is still valid after process_view returned");
  tt_close(&t);
}

/* ---- fixed-layout views -------------------------------------------------- */

struct fixed_pair {
  struct tt_pair t;
  struct myelon_fixed_type type;
  struct myelon_view_codec vc;
};

static void fixed_open(struct fixed_pair *f, enum dmp_backend b, enum myelon_frame_format fmt, uint32_t frame_cap,
                       void (*type)(struct myelon_fixed_type *))
{
  type(&f->type);
  struct myelon_codec c;
  myelon_fixed_codec_init(&c, &f->type);
  tt_open(&f->t, b, fmt, frame_cap, 16, &c);
  myelon_fixed_view_codec_init(&f->vc, &f->type);
}

Test(fixed_view, struct_round_trips_in_place_on_both_backends)
{
  for (int b = 0; b < TT_NBACKENDS; b++) {
    struct fixed_pair f;
    fixed_open(&f, tt_backends[b], MYELON_FRAME_ALIGNED, 64, tf_tick_type);
    for (int i = 0; i < 40; i++) {
      struct tf_tick in = {1000 + i, 1.25 * i, (uint32_t)i, 7};
      cr_assert(eq(int, myelon_typed_producer_publish(f.t.tp, &in, 1, TT_LONG_NS), 0), "%s", dmp_last_error());
      struct myelon_fixed_view v;
      int rc = myelon_typed_consumer_recv_view(f.t.tc, &f.vc, &v, NULL, TT_LONG_NS);
      cr_assert(eq(int, rc, 0), "%s / %s", myelon_err_name(rc), dmp_last_error());
      const struct tf_tick *tk = myelon_fixed_view_get(&v);
      cr_assert(ne(ptr, (void *)tk, NULL));
      cr_assert(in_ring(&f.t, tk, sizeof *tk), "fixed view is not in the ring slot");
      cr_assert(eq(u64, (uintptr_t)tk % _Alignof(struct tf_tick), 0));
      cr_assert(eq(int, memcmp(tk, &in, sizeof in), 0));
    }
    struct myelon_typed_producer_stats s;
    myelon_typed_producer_stats(f.t.tp, &s);
    cr_assert(eq(u64, s.zero_copy, 40), "fixed values were not written straight into the slot");
    tt_close(&f.t);
  }
}

Test(fixed_view, owned_decode_copies_the_struct)
{
  struct fixed_pair f;
  fixed_open(&f, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 64, tf_tick_type);
  struct tf_tick in = {-5, 2.5, 3, 4};
  cr_assert(eq(int, myelon_typed_producer_publish(f.t.tp, &in, 1, TT_LONG_NS), 0));
  struct tf_tick *out = NULL;
  cr_assert(eq(int, myelon_typed_consumer_recv(f.t.tc, (void **)&out, NULL, TT_LONG_NS), 0), "%s", dmp_last_error());
  cr_assert(eq(int, memcmp(out, &in, sizeof in), 0));
  cr_assert(not(in_ring(&f.t, out, sizeof *out)), "the owned value is in the ring");
  myelon_codec_free(&f.t.codec, out);
  tt_close(&f.t);
}

Test(fixed_view, a_different_struct_of_equal_size_is_rejected_by_its_fingerprint)
{
  cr_assert(eq(sz, sizeof(struct tf_tick), sizeof(struct tf_other)), "fixture: the two types must be the same size");
  struct fixed_pair f;
  fixed_open(&f, DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, 64, tf_tick_type);
  struct myelon_fixed_type other;
  tf_other_type(&other);
  cr_assert(ne(u64, other.fingerprint, f.type.fingerprint));
  struct myelon_codec oc;
  myelon_fixed_codec_init(&oc, &other);
  uint8_t msg[64];
  struct tf_other ov = {1, 2, 3};
  size_t len = tt_encode(&oc, &ov, msg, sizeof msg);
  cr_assert(eq(int, myelon_typed_producer_publish_raw(f.t.tp, msg, len, 1, TT_LONG_NS), 0));
  struct tf_tick tick = {9, 9.5, 9, 9};
  cr_assert(eq(int, myelon_typed_producer_publish(f.t.tp, &tick, 2, TT_LONG_NS), 0));
  struct myelon_fixed_view v;
  cr_assert(eq(int, myelon_typed_consumer_recv_view(f.t.tc, &f.vc, &v, NULL, TT_LONG_NS), -MYELON_E_VIEW));
  cr_assert(tt_detail_has("view access: struct tf_tick: type fingerprint differs"));
  uint8_t kind;
  cr_assert(eq(int, myelon_typed_consumer_recv_view(f.t.tc, &f.vc, &v, &kind, TT_LONG_NS), 0), "the stream did not go on");
  cr_assert(eq(u8, kind, 2));
  cr_assert(eq(int, memcmp(myelon_fixed_view_get(&v), &tick, sizeof tick), 0));
  /* The owned decode rejects it as well. */
  void *val;
  cr_assert(eq(int, myelon_codec_decode(&f.t.codec, msg, len, &val), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec decode: struct tf_tick: type fingerprint differs"));
  tt_close(&f.t);
}

Test(fixed_view, wrong_size_magic_or_length_is_rejected)
{
  struct myelon_fixed_type t;
  tf_tick_type(&t);
  _Alignas(16) uint8_t msg[64];
  struct myelon_codec c;
  myelon_fixed_codec_init(&c, &t);
  struct tf_tick tick = {1, 2, 3, 4};
  size_t len = tt_encode(&c, &tick, msg, sizeof msg);
  struct myelon_fixed_view v;
  cr_assert(eq(int, myelon_fixed_view_access(msg, len, &t, &v), 0));
  cr_assert(eq(int, myelon_fixed_view_access(msg, len - 1, &t, &v), -MYELON_E_VIEW));
  cr_assert(tt_detail_has("wrong length"));
  cr_assert(eq(ptr, (void *)myelon_fixed_view_get(&v), NULL), "a failed access left a usable view");
  cr_assert(eq(int, myelon_fixed_view_access(msg, 8, &t, &v), -MYELON_E_VIEW));
  struct myelon_fixed_header h;
  memcpy(&h, msg, sizeof h);
  h.size += 8; /* a bigger struct with the same fingerprint claim */
  memcpy(msg, &h, sizeof h);
  cr_assert(eq(int, myelon_fixed_view_access(msg, len, &t, &v), -MYELON_E_VIEW));
  cr_assert(tt_detail_has("struct size differs"));
  h.size -= 8;
  h.magic ^= 1;
  memcpy(msg, &h, sizeof h);
  cr_assert(eq(int, myelon_fixed_view_access(msg, len, &t, &v), -MYELON_E_VIEW));
  cr_assert(tt_detail_has("bad magic"));
  /* Through a ring: a struct of another size in a well-formed header. */
  struct fixed_pair f;
  fixed_open(&f, DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED, 128, tf_tick_type);
  struct myelon_fixed_type vec;
  tf_vec_type(&vec);
  struct myelon_codec vcodec;
  myelon_fixed_codec_init(&vcodec, &vec);
  struct tf_vec vv = {{1, 2, 3, 4}};
  len = tt_encode(&vcodec, &vv, msg, sizeof msg);
  cr_assert(eq(int, myelon_typed_producer_publish_raw(f.t.tp, msg, len, 1, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_typed_consumer_recv_view(f.t.tc, &f.vc, &v, NULL, TT_LONG_NS), -MYELON_E_VIEW));
  cr_assert(tt_detail_has("wrong length"));
  tt_close(&f.t);
}

Test(fixed_view, misaligned_struct_bytes_are_rejected)
{
  struct myelon_fixed_type t;
  tf_tick_type(&t);
  struct myelon_codec c;
  myelon_fixed_codec_init(&c, &t);
  _Alignas(16) uint8_t raw[80];
  struct tf_tick tick = {1, 2, 3, 4};
  size_t len = tt_encode(&c, &tick, raw + 4, sizeof raw - 4); /* struct at +20: 4-aligned only */
  struct myelon_fixed_view v;
  cr_assert(eq(int, myelon_fixed_view_access(raw + 4, len, &t, &v), -MYELON_E_VIEW));
  cr_assert(tt_detail_has("are not 8-byte aligned"));
  void *copy;
  cr_assert(eq(int, myelon_codec_decode(&c, raw + 4, len, &copy), 0), "the owned decode copies: any alignment");
  myelon_codec_free(&c, copy);
  /* Through a compact ring: a 16-aligned type, slot stride 48, payload at
   * 12 + 16 into each slot, so never 16-aligned (a byte ring has no compact
   * frames: its payloads are 16-aligned, as the aligned ring's below). */
  struct fixed_pair f;
  struct tf_vec vv = {{1, 2, 3, 4}};
  if (!tt_bytes()) {
    fixed_open(&f, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 36, tf_vec_type);
    for (int i = 0; i < 3; i++) {
      cr_assert(eq(int, myelon_typed_producer_publish(f.t.tp, &vv, 1, TT_LONG_NS), 0));
      cr_assert(eq(int, myelon_typed_consumer_recv_view(f.t.tc, &f.vc, &v, NULL, TT_LONG_NS), -MYELON_E_VIEW));
      cr_assert(tt_detail_has("are not 16-byte aligned"));
    }
    tt_close(&f.t);
  }
  /* The same type in an aligned ring is accepted. */
  fixed_open(&f, DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, 36, tf_vec_type);
  cr_assert(eq(int, myelon_typed_producer_publish(f.t.tp, &vv, 1, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_typed_consumer_recv_view(f.t.tc, &f.vc, &v, NULL, TT_LONG_NS), 0), "%s", dmp_last_error());
  cr_assert(eq(int, memcmp(myelon_fixed_view_get(&v), &vv, sizeof vv), 0));
  tt_close(&f.t);
}

Test(fixed_view, type_descriptions_are_checked)
{
  struct myelon_fixed_type t;
  cr_assert(eq(int, myelon_fixed_type_init(&t, "x", "", 0, 1), -EINVAL));
  cr_assert(eq(int, myelon_fixed_type_init(&t, "x", "", 8, 3), -EINVAL));
  cr_assert(eq(int, myelon_fixed_type_init(&t, "x", "", 32, 32), -EINVAL));
  cr_assert(eq(int, myelon_fixed_type_init(&t, "x", "", 12, 8), -EINVAL));
  cr_assert(eq(int, myelon_fixed_type_init(&t, NULL, "", 8, 8), -EINVAL));
  cr_assert(eq(int, myelon_fixed_type_init(&t, "x", "a", 8, 8), 0));
  struct myelon_fixed_type u;
  cr_assert(eq(int, myelon_fixed_type_init(&u, "x", "b", 8, 8), 0));
  cr_assert(ne(u64, t.fingerprint, u.fingerprint), "the layout text is part of the fingerprint");
}

/* ---- leases -------------------------------------------------------------- */

Test(view_lease, a_view_used_after_release_or_the_next_receive_is_detected)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_ALIGNED, 1024, 16, NULL);
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, nodes, 1024, 0);
  struct myelon_view_codec vc;
  myelon_mp_view_codec_init(&vc, &arena);
  static struct tf_order o;
  for (int i = 0; i < 3; i++) {
    tf_fill(&o, 70 + (uint64_t)i, 10);
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 1, TT_LONG_NS), 0));
  }
  struct myelon_mp_view a, b;
  cr_assert(eq(int, myelon_typed_consumer_recv_view(t.tc, &vc, &a, NULL, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_view_check(&a.lease), 0));
  cr_assert(ne(ptr, (void *)myelon_mp_view_root(&a), NULL));
  myelon_typed_consumer_release(t.tc);
  cr_assert(eq(int, myelon_view_check(&a.lease), -MYELON_E_VIEW), "use after release not detected");
#ifndef NDEBUG
  cr_assert(eq(ptr, (void *)myelon_mp_view_root(&a), NULL), "debug accessor let a stale view through");
#endif
  cr_assert(eq(int, myelon_typed_consumer_recv_view(t.tc, &vc, &b, NULL, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_view_check(&b.lease), 0));
  struct myelon_mp_view keep = b;
  void *owned;
  cr_assert(eq(int, myelon_typed_consumer_recv(t.tc, &owned, NULL, TT_LONG_NS), 0), "an owned receive");
  myelon_codec_free(&t.codec, owned);
  cr_assert(eq(int, myelon_view_check(&keep.lease), -MYELON_E_VIEW), "the next receive did not end the lease");
#ifndef NDEBUG
  cr_assert(eq(ptr, (void *)myelon_mp_view_root(&keep), NULL));
#endif
  /* Views made from raw bytes have no lease. */
  struct myelon_mp_view raw;
  uint8_t bytes[4096];
  size_t len = tt_encode(&t.codec, &o, bytes, sizeof bytes);
  cr_assert(eq(int, myelon_mp_view_access(bytes, len, &arena, &raw), 0));
  cr_assert(eq(int, myelon_view_check(&raw.lease), 0));
  tt_close(&t);
}

Test(view_lease, fixed_views_are_leased_too)
{
  struct fixed_pair f;
  fixed_open(&f, DMP_BACKEND_MMAP, MYELON_FRAME_ALIGNED, 64, tf_tick_type);
  struct tf_tick in = {1, 2, 3, 4};
  cr_assert(eq(int, myelon_typed_producer_publish(f.t.tp, &in, 1, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_typed_producer_publish(f.t.tp, &in, 1, TT_LONG_NS), 0));
  struct myelon_fixed_view v;
  cr_assert(eq(int, myelon_typed_consumer_recv_view(f.t.tc, &f.vc, &v, NULL, TT_LONG_NS), 0));
  cr_assert(ne(ptr, (void *)myelon_fixed_view_get(&v), NULL));
  struct myelon_fixed_view w;
  cr_assert(eq(int, myelon_typed_consumer_try_recv_view(f.t.tc, &f.vc, &w, NULL), 0));
  cr_assert(eq(int, myelon_view_check(&v.lease), -MYELON_E_VIEW));
  cr_assert(eq(int, myelon_view_check(&w.lease), 0));
#ifndef NDEBUG
  cr_assert(eq(ptr, (void *)myelon_fixed_view_get(&v), NULL));
#endif
  tt_close(&f.t);
}
