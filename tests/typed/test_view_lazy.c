/* Lazy msgpack views (view.h: myelon_mp_lazy_*, myelon_mp_item_*): what a
 * lazy view reads equals the tree view of the same bytes over thousands of
 * random messages received from real rings; access refuses exactly what
 * myelon_mp_validate() refuses; bytes changed after access are codec
 * errors, never reads outside the message (the buffers here are exactly
 * the message, so ASan sees any overread); a lazy view used after its
 * lease ended is detected. */
#include "typed_test.h"

#include <myelon/view.h>

TestSuite(mp_lazy, .fini = tt_fini, .timeout = 60);

static msgpack_object nodes[1024];

/* Whether the lazy item `it` reads as the tree node `o`, recursively
 * (containers through an iterator); `why` says where they differ. */
static bool same(const struct myelon_mp_item *it, const msgpack_object *o, char *why, size_t n)
{
  if (it->obj.type != o->type)
    return snprintf(why, n, "type %d vs %d", it->obj.type, o->type), false;
  switch (o->type) {
  case MSGPACK_OBJECT_ARRAY:
  case MSGPACK_OBJECT_MAP: {
    bool map = o->type == MSGPACK_OBJECT_MAP;
    uint32_t size = map ? o->via.map.size : o->via.array.size;
    if ((map ? it->obj.via.map.size : it->obj.via.array.size) != size)
      return snprintf(why, n, "container size differs"), false;
    struct myelon_mp_iter iter;
    if (myelon_mp_item_iter(it, &iter) != 0)
      return snprintf(why, n, "iter refused a container"), false;
    for (uint64_t i = 0; i < (uint64_t)size * (map ? 2 : 1); i++) {
      struct myelon_mp_item el;
      if (myelon_mp_iter_next(&iter, &el) != 1)
        return snprintf(why, n, "element %llu missing", (unsigned long long)i), false;
      const msgpack_object *want = map ? (i % 2 ? &o->via.map.ptr[i / 2].val : &o->via.map.ptr[i / 2].key)
                                       : &o->via.array.ptr[i];
      if (!same(&el, want, why, n))
        return false;
    }
    struct myelon_mp_item extra;
    if (myelon_mp_iter_next(&iter, &extra) != 0)
      return snprintf(why, n, "iterator went past the end"), false;
    return true;
  }
  case MSGPACK_OBJECT_STR:
  case MSGPACK_OBJECT_BIN:
    if (it->obj.via.str.size != o->via.str.size || it->obj.via.str.ptr != o->via.str.ptr)
      return snprintf(why, n, "str/bin differs"), false;
    return true;
  case MSGPACK_OBJECT_EXT:
    if (it->obj.via.ext.type != o->via.ext.type || it->obj.via.ext.size != o->via.ext.size ||
        it->obj.via.ext.ptr != o->via.ext.ptr)
      return snprintf(why, n, "ext differs"), false;
    return true;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    if (memcmp(&it->obj.via.f64, &o->via.f64, sizeof o->via.f64) != 0)
      return snprintf(why, n, "float differs"), false;
    return true;
  case MSGPACK_OBJECT_BOOLEAN:
    return it->obj.via.boolean == o->via.boolean || (snprintf(why, n, "bool differs"), false);
  case MSGPACK_OBJECT_NIL:
    return true;
  default: /* integers */
    return it->obj.via.u64 == o->via.u64 || (snprintf(why, n, "integer differs"), false);
  }
}

/* Every key of the root map, looked up by myelon_mp_item_get() and, in
 * sets of up to MYELON_MP_KEYS_MAX, by myelon_mp_item_get_keys(), gives
 * what myelon_mp_map_get() gives on the tree. */
static void keys_agree(const struct myelon_mp_item *root, const msgpack_object *tree)
{
  static char names[MYELON_MP_KEYS_MAX][64];
  const char *ptrs[MYELON_MP_KEYS_MAX];
  size_t nk = 0;
  for (uint32_t i = 0; i < tree->via.map.size && nk < MYELON_MP_KEYS_MAX; i++) {
    const msgpack_object *k = &tree->via.map.ptr[i].key;
    if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= 64 || memchr(k->via.str.ptr, 0, k->via.str.size))
      continue;
    memcpy(names[nk], k->via.str.ptr, k->via.str.size);
    names[nk][k->via.str.size] = '\0';
    ptrs[nk] = names[nk];
    nk++;
  }
  for (size_t i = 0; i < nk; i++) {
    struct myelon_mp_item got;
    char why[160] = "";
    cr_assert(eq(int, myelon_mp_item_get(root, ptrs[i], &got), 0), "key %s", ptrs[i]);
    cr_assert(same(&got, myelon_mp_map_get(tree, ptrs[i]), why, sizeof why), "key %s: %s", ptrs[i], why);
  }
  struct myelon_mp_keys ks;
  cr_assert(eq(int, myelon_mp_keys_init(&ks, ptrs, nk), 0));
  struct myelon_mp_item out[MYELON_MP_KEYS_MAX];
  int64_t mask = myelon_mp_item_get_keys(root, &ks, out);
  cr_assert(eq(i64, mask, (int64_t)((UINT64_C(1) << nk) - 1)));
  for (size_t i = 0; i < nk; i++) {
    char why[160] = "";
    cr_assert(same(&out[i], myelon_mp_map_get(tree, ptrs[i]), why, sizeof why), "get_keys %s: %s", ptrs[i], why);
  }
  struct myelon_mp_item none;
  cr_assert(eq(int, myelon_mp_item_get(root, "no such key", &none), -ENOENT));
}

Test(mp_lazy, items_equal_the_tree_view_over_thousands_of_random_messages)
{
  for (int b = 0; b < TT_NBACKENDS; b++) {
    struct tt_pair t;
    tt_open(&t, tt_backends[b], b ? MYELON_FRAME_COMPACT : MYELON_FRAME_ALIGNED, 512, 64, NULL);
    struct myelon_view_codec vc;
    cr_assert(eq(int, myelon_mp_lazy_codec_init(&vc, 0), 0));
    static struct tf_order o;
    uint64_t st = 4321 + (uint64_t)b;
    int n = b ? 500 : 2000;
    for (int i = 0; i < n; i++) {
      tf_fill(&o, tf_rand(&st), (uint32_t)(tf_rand(&st) % 2500));
      cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 3, TT_LONG_NS), 0));
      struct myelon_mp_lazy_view v;
      uint8_t kind = 0;
      int rc = myelon_typed_consumer_recv_view(t.tc, &vc, &v, &kind, TT_LONG_NS);
      cr_assert(eq(int, rc, 0), "recv_view: %s / %s", myelon_err_name(rc), dmp_last_error());
      cr_assert(eq(u8, kind, 3));
      struct myelon_mp_arena arena;
      myelon_mp_arena_init(&arena, nodes, 1024, 0);
      const msgpack_object *tree = NULL;
      cr_assert(eq(int, myelon_mp_parse(v.data, v.len, &arena, &tree), 0));
      const struct myelon_mp_item *root = myelon_mp_lazy_root(&v);
      cr_assert(ne(ptr, (void *)root, NULL));
      char why[160] = "";
      cr_assert(same(root, tree, why, sizeof why), "message %d: %s", i, why);
      keys_agree(root, tree);
      myelon_typed_consumer_release(t.tc);
    }
    tt_close(&t);
  }
}

/* A copy of `len` bytes in a buffer of exactly that size. */
static uint8_t *exact(const void *p, size_t len)
{
  uint8_t *m = malloc(len ? len : 1);
  cr_assert(ne(ptr, m, NULL));
  memcpy(m, p, len);
  return m;
}

static void refused_like_validate(const void *bytes, size_t len, const char *detail)
{
  uint8_t *m = exact(bytes, len);
  size_t nodes_n = 0;
  int vrc = myelon_mp_validate(m, len, 0, &nodes_n);
  struct myelon_mp_lazy_view v;
  int rc = myelon_mp_lazy_access(m, len, 0, &v);
  cr_assert(eq(int, rc, vrc), "lazy %d, validate %d", rc, vrc);
  cr_assert(eq(int, rc, -MYELON_E_CODEC));
  cr_assert(tt_detail_has(detail));
  free(m);
}

Test(mp_lazy, access_refuses_what_validate_refuses)
{
  static const uint8_t c1[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0xc1};
  refused_like_validate(c1, sizeof c1, "reserved byte 0xc1 at byte 6");
  static const uint8_t cut_str[] = {0x81, 0xa1, 'k', 0xa5, 'a', 'b'};
  refused_like_validate(cut_str, sizeof cut_str, "truncated");
  static const uint8_t long_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
  refused_like_validate(long_array, sizeof long_array, "array longer than the bytes left");
  static const uint8_t long_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02};
  refused_like_validate(long_map, sizeof long_map, "map longer than the bytes left");
  static const uint8_t trailing[] = {0x01, 0x02};
  refused_like_validate(trailing, sizeof trailing, "trailing bytes after the object");
  refused_like_validate(trailing, 0, "empty message");
  uint8_t deep[MYELON_MP_DEFAULT_DEPTH + 2];
  memset(deep, 0x91, sizeof deep); /* fixarray(1) nested, then a 0 */
  deep[sizeof deep - 1] = 0x00;
  refused_like_validate(deep, sizeof deep, "nesting deeper than the depth limit");
  /* One level less is accepted, and a raised limit accepts the deep one. */
  struct myelon_mp_lazy_view v;
  cr_assert(eq(int, myelon_mp_lazy_access(deep + 1, sizeof deep - 1, 0, &v), 0), "%s", dmp_last_error());
  cr_assert(eq(int, myelon_mp_lazy_access(deep, sizeof deep, MYELON_MP_DEFAULT_DEPTH + 1, &v), 0));
  cr_assert(eq(int, myelon_mp_lazy_access(deep, sizeof deep, MYELON_MP_MAX_DEPTH + 1, &v), -EINVAL));
  cr_assert(eq(int, myelon_mp_lazy_access(NULL, 3, 0, &v), -EINVAL));
  cr_assert(eq(int, myelon_mp_lazy_access(deep, 3, 0, NULL), -EINVAL));
  struct myelon_view_codec vc;
  cr_assert(eq(int, myelon_mp_lazy_codec_init(&vc, MYELON_MP_MAX_DEPTH + 1), -EINVAL));
  cr_assert(eq(int, myelon_mp_lazy_codec_init(NULL, 0), -EINVAL));
  /* Item calls on what they do not apply to. */
  static const uint8_t num[] = {0x05};
  cr_assert(eq(int, myelon_mp_lazy_access(num, 1, 0, &v), 0));
  struct myelon_mp_item out;
  struct myelon_mp_iter it;
  cr_assert(eq(int, myelon_mp_item_get(myelon_mp_lazy_root(&v), "a", &out), -EINVAL));
  cr_assert(eq(int, myelon_mp_item_iter(myelon_mp_lazy_root(&v), &it), -EINVAL));
  struct myelon_mp_keys ks;
  const char *names[MYELON_MP_KEYS_MAX + 1] = {0};
  cr_assert(eq(int, myelon_mp_keys_init(&ks, names, MYELON_MP_KEYS_MAX + 1), -EINVAL));
  cr_assert(eq(int, myelon_mp_keys_init(&ks, names, 1), -EINVAL), "a NULL name");
}

/* The writer may scribble over a message after the reader's access: each
 * walk checks every length again. Each case changes one byte of a valid
 * {"a": 1, "bb": [1, 2, "xyz"], "c": bin} after access. */
Test(mp_lazy, bytes_changed_after_access_are_codec_errors_not_overreads)
{
  static const uint8_t good[] = {0x83, 0xa1, 'a', 0x01, 0xa2, 'b', 'b', 0x93, 0x01, 0x02, 0xa3, 'x', 'y', 'z',
                                 0xa1, 'c', 0xc4, 0x02, 0xee, 0xff};
  struct {
    size_t at;
    uint8_t to;
    const char *what;
  } cases[] = {
      {1, 0xbf, "first key's length to 31"},
      {7, 0x9f, "the array's count to 15"},
      {10, 0xbf, "the array's string to 31 bytes"},
      {14, 0xdb, "the last key to a str32 header"},
      {17, 0xff, "the bin's length to 255"},
      {16, 0xc1, "the bin's type to 0xc1"},
      {7, 0xdd, "the array to an array32 header"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    uint8_t *m = exact(good, sizeof good);
    struct myelon_mp_lazy_view v;
    cr_assert(eq(int, myelon_mp_lazy_access(m, sizeof good, 0, &v), 0), "%s", dmp_last_error());
    m[cases[c].at] = cases[c].to;
    const struct myelon_mp_item *root = myelon_mp_lazy_root(&v);
    struct myelon_mp_item out;
    int rc = myelon_mp_item_get(root, "c", &out);
    /* Reading "c" passes over the changed byte in every case; what it
     * meets there is either still consistent (a different but valid
     * value) or a codec error. */
    cr_assert(rc == 0 || rc == -MYELON_E_CODEC || rc == -ENOENT, "%s: %d", cases[c].what, rc);
    if (rc == 0 && out.obj.type == MSGPACK_OBJECT_BIN)
      cr_assert(out.obj.via.bin.ptr + out.obj.via.bin.size <= (const char *)m + sizeof good, "%s", cases[c].what);
    /* A full walk meets the change: it ends within the message. */
    struct myelon_mp_iter it;
    cr_assert(eq(int, myelon_mp_item_iter(root, &it), 0));
    int steps = 0, r;
    struct myelon_mp_item el;
    while ((r = myelon_mp_iter_next(&it, &el)) == 1) {
      cr_assert(lt(int, steps++, (int)sizeof good), "%s: walk longer than the message", cases[c].what);
      if (el.obj.type == MSGPACK_OBJECT_STR || el.obj.type == MSGPACK_OBJECT_BIN)
        cr_assert(el.obj.via.str.ptr + el.obj.via.str.size <= (const char *)m + sizeof good);
    }
    cr_assert(r == 0 || r == -MYELON_E_CODEC, "%s: %d", cases[c].what, r);
    if (c < 5)
      cr_assert(eq(int, r, -MYELON_E_CODEC), "%s: the walk did not notice", cases[c].what);
    if (r < 0)
      cr_assert(tt_detail_has("changed after it was validated"));
    free(m);
  }
}

Test(mp_lazy, a_lazy_view_used_after_release_or_the_next_receive_is_detected)
{
  struct tt_pair t;
  tt_open(&t, DMP_BACKEND_SHM, MYELON_FRAME_COMPACT, 512, 8, NULL);
  struct myelon_view_codec vc;
  cr_assert(eq(int, myelon_mp_lazy_codec_init(&vc, 0), 0));
  static struct tf_order o;
  tf_fill(&o, 5, 10);
  for (int i = 0; i < 2; i++)
    cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 0, TT_LONG_NS), 0));
  struct myelon_mp_lazy_view a, b;
  cr_assert(eq(int, myelon_typed_consumer_recv_view(t.tc, &vc, &a, NULL, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_view_check(&a.lease), 0));
  cr_assert(eq(int, myelon_typed_consumer_recv_view(t.tc, &vc, &b, NULL, TT_LONG_NS), 0));
  cr_assert(eq(int, myelon_view_check(&a.lease), -MYELON_E_VIEW), "the next receive ends the lease");
#ifndef NDEBUG
  cr_assert(eq(ptr, (void *)myelon_mp_lazy_root(&a), NULL));
#endif
  myelon_typed_consumer_release(t.tc);
  cr_assert(eq(int, myelon_view_check(&b.lease), -MYELON_E_VIEW), "release ends the lease");
  tt_close(&t);
}
