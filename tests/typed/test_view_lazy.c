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

/* ---- field views (myelon_mp_fields_*) ------------------------------------ */

/* Whether two items are the same answer: type, value, and for strings,
 * binaries, ext bodies and containers the same bytes of the message. */
static bool items_equal(const struct myelon_mp_item *a, const struct myelon_mp_item *b)
{
  if (a->obj.type != b->obj.type || a->end_ != b->end_)
    return false;
  switch (a->obj.type) {
  case MSGPACK_OBJECT_MAP:
    return a->obj.via.map.size == b->obj.via.map.size && a->elems_ == b->elems_;
  case MSGPACK_OBJECT_ARRAY:
    return a->obj.via.array.size == b->obj.via.array.size && a->elems_ == b->elems_;
  case MSGPACK_OBJECT_STR:
  case MSGPACK_OBJECT_BIN:
    return a->obj.via.str.size == b->obj.via.str.size && a->obj.via.str.ptr == b->obj.via.str.ptr;
  case MSGPACK_OBJECT_EXT:
    return a->obj.via.ext.type == b->obj.via.ext.type && a->obj.via.ext.size == b->obj.via.ext.size &&
           a->obj.via.ext.ptr == b->obj.via.ext.ptr;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    return memcmp(&a->obj.via.f64, &b->obj.via.f64, sizeof a->obj.via.f64) == 0;
  case MSGPACK_OBJECT_BOOLEAN:
    return a->obj.via.boolean == b->obj.via.boolean;
  case MSGPACK_OBJECT_NIL:
    return true;
  default:
    return a->obj.via.u64 == b->obj.via.u64;
  }
}

/* Raw bytes into a writer (ext objects: the writer has no put for them). */
static void put_raw(struct myelon_mp_writer *w, const void *b, size_t n)
{
  if ((size_t)(w->end - w->pos) < n) {
    w->full = 1;
    return;
  }
  memcpy(w->pos, b, n);
  w->pos += n;
}

static const char *const key_pool[] = {"seq", "ts", "body", "a", "bb", "id", "", "a_long_key_name", "x", "ts"};
#define KEY_POOL_N (sizeof key_pool / sizeof key_pool[0])

/* One random msgpack value: every scalar form a record uses and some it
 * does not (16-bit lengths, ext, floats), and below `depth` containers. */
static void rand_value(struct myelon_mp_writer *w, uint64_t *st, int depth)
{
  static const uint8_t body[400] = {1, 2, 3};
  uint64_t r = tf_rand(st);
  switch (r % 16) {
  case 0: myelon_mp_put_nil(w); break;
  case 1: myelon_mp_put_bool(w, (int)(r >> 8 & 1)); break;
  case 2: myelon_mp_put_uint(w, r >> 58); break;
  case 3: myelon_mp_put_uint(w, r >> (8 + r % 50)); break;
  case 4: myelon_mp_put_fix_uint64(w, r); break;
  case 5: myelon_mp_put_int(w, -(int64_t)(r >> (10 + r % 50)) - 1); break;
  case 6: myelon_mp_put_double(w, (double)(r >> 11)); break;
  case 7: myelon_mp_put_float(w, (float)(r >> 40)); break;
  case 8: myelon_mp_put_str(w, "hello world", (uint32_t)(r >> 8) % 12); break;
  case 9: myelon_mp_put_str(w, (const char *)body, 32 + (uint32_t)(r >> 8) % 40); break;
  case 10: myelon_mp_put_bin(w, body, (uint32_t)(r >> 8) % 64); break;
  case 11: myelon_mp_put_bin(w, body, 256 + (uint32_t)(r >> 8) % 100); break;
  case 12: { /* fixext1 or ext8 */
    uint8_t e[6] = {0xd4, 0x05, 0xaa, 0, 0, 0};
    if (r >> 8 & 1)
      e[0] = 0xc7, e[1] = 3, e[2] = 0x07;
    put_raw(w, e, r >> 8 & 1 ? 6 : 3);
    break;
  }
  case 13:
    if (depth > 0) {
      uint32_t n = (uint32_t)(r >> 8) % 4;
      myelon_mp_put_array(w, n);
      for (uint32_t i = 0; i < n; i++)
        rand_value(w, st, depth - 1);
      break;
    }
    myelon_mp_put_uint(w, 7);
    break;
  case 14:
    if (depth > 0) {
      uint32_t n = (uint32_t)(r >> 8) % 3;
      myelon_mp_put_map(w, n);
      for (uint32_t i = 0; i < n; i++) {
        const char *k = key_pool[(r >> 16 >> (4 * i)) % KEY_POOL_N];
        myelon_mp_put_str(w, k, (uint32_t)strlen(k));
        rand_value(w, st, depth - 1);
      }
      break;
    }
    myelon_mp_put_uint(w, 9);
    break;
  default: myelon_mp_put_uint(w, r >> 48); break;
  }
}

/* A random message: mostly a map of pool keys (a record's shape, in the
 * pool's order or not, some keys repeated, missing or extra), sometimes
 * with keys that are no fixstr, a map16 root, or no map at all. */
static size_t rand_message(uint8_t *buf, size_t cap, uint64_t *st)
{
  struct myelon_mp_writer w;
  myelon_mp_writer_init(&w, buf, cap);
  uint64_t r = tf_rand(st);
  unsigned shape = (unsigned)(r % 20);
  if (shape == 0) { /* not a map */
    rand_value(&w, st, 2);
  } else {
    /* shapes 2-6: three pairs, a record's size (in the pool's order, that
     * is the record key set's one-pass path) */
    uint32_t pairs = shape == 1 ? 16 + (uint32_t)(r >> 8) % 3 : shape <= 6 ? 3 : (uint32_t)(r >> 8) % 9;
    bool in_order = (r >> 16) % 3 != 0;
    myelon_mp_put_map(&w, pairs);
    for (uint32_t i = 0; i < pairs; i++) {
      uint64_t q = tf_rand(st);
      if (q % 23 == 0) {
        myelon_mp_put_uint(&w, q >> 40); /* a key that is no string */
      } else if (q % 29 == 0) {
        myelon_mp_put_str(&w, "a key of more than thirty-one bytes", 35); /* str8 */
      } else {
        const char *k = in_order && i < 3 ? key_pool[i] : key_pool[(q >> 8) % KEY_POOL_N];
        myelon_mp_put_str(&w, k, (uint32_t)strlen(k));
      }
      rand_value(&w, st, (q >> 20) % 4 == 0 ? 2 : 0);
    }
  }
  cr_assert(eq(int, w.full, 0), "test message too long");
  return (size_t)(w.pos - buf);
}

/* The field view of `len` bytes against lazy access + get_keys: the same
 * verdict and detail, the same mask and the same items. */
static void fields_agree(const uint8_t *msg, size_t len, const struct myelon_mp_keys *ks, const char *what)
{
  uint8_t *m = exact(msg, len);
  struct myelon_mp_lazy_view lv;
  dmp_error_set(NULL, "-");
  int lrc = myelon_mp_lazy_access(m, len, ks->max_depth, &lv);
  char ldetail[512];
  snprintf(ldetail, sizeof ldetail, "%s", dmp_last_error());
  int64_t lmask = 0;
  struct myelon_mp_item lf[MYELON_MP_FIELDS_MAX];
  if (lrc == 0 && myelon_mp_lazy_root(&lv)->obj.type == MSGPACK_OBJECT_MAP)
    lmask = myelon_mp_item_get_keys(myelon_mp_lazy_root(&lv), ks, lf);
  cr_assert(ge(i64, lmask, 0));
  struct myelon_mp_fields_view fv;
  dmp_error_set(NULL, "-");
  int frc = myelon_mp_fields_access(m, len, ks, &fv);
  cr_assert(eq(int, frc, lrc), "%s: fields %d, lazy %d", what, frc, lrc);
  if (frc < 0) {
    cr_assert(eq(str, (char *)dmp_last_error(), ldetail), "%s: the details differ", what);
    cr_assert(eq(u64, fv.found, 0));
    free(m);
    return;
  }
  cr_assert(eq(u64, fv.found, (uint64_t)lmask), "%s: found %llx, get_keys %llx", what,
            (unsigned long long)fv.found, (unsigned long long)lmask);
  cr_assert(fv.lazy.data == m && fv.lazy.len == len);
  cr_assert(items_equal(myelon_mp_lazy_root(&fv.lazy), myelon_mp_lazy_root(&lv)), "%s: roots differ", what);
  for (unsigned k = 0; k < MYELON_MP_FIELDS_MAX; k++) {
    const struct myelon_mp_item *f = myelon_mp_fields_get(&fv, k);
    cr_assert(eq(int, f != NULL, (int)(lmask >> k & 1)), "%s: field %u", what, k);
    if (f)
      cr_assert(items_equal(f, &lf[k]), "%s: field %u (%s) differs", what, k, ks->names_[k]);
  }
  free(m);
}

Test(mp_lazy, a_field_view_answers_as_lazy_access_and_get_keys_on_random_and_broken_messages)
{
  static const char *const set_record[] = {"seq", "ts", "body"};
  static const char *const set_rev[] = {"body", "seq"};
  static const char *const set_eight[] = {"a", "bb", "id", "x", "", "a_long_key_name", "seq", "ts"};
  static const char *const set_none[] = {"no such key"};
  struct {
    const char *const *names;
    size_t n;
  } sets[] = {{set_record, 3}, {set_rev, 2}, {set_eight, 8}, {set_none, 1}, {NULL, 0}};
  struct myelon_mp_keys ks[5];
  for (int s = 0; s < 5; s++)
    cr_assert(eq(int, myelon_mp_keys_init(&ks[s], sets[s].names, sets[s].n), 0));
  ks[3].max_depth = 1; /* a nested value is then refused, as lazy access refuses it */
  uint64_t st = 977;
  static uint8_t buf[8192];
  for (int i = 0; i < 3000; i++) {
    size_t len = rand_message(buf, sizeof buf, &st);
    char what[64];
    for (int s = 0; s < 5; s++) {
      snprintf(what, sizeof what, "message %d, key set %d", i, s);
      fields_agree(buf, len, &ks[s], what);
    }
    /* Broken copies: cut short, one byte changed, one byte too many. */
    if (i % 4 == 0 && len > 1) {
      int s = i / 4 % 5;
      for (size_t cut = 0; cut < len && cut < 80; cut++) {
        snprintf(what, sizeof what, "message %d cut to %zu", i, cut);
        fields_agree(buf, cut, &ks[s], what);
      }
      for (size_t at = 0; at < len && at < 40; at++) {
        uint8_t was = buf[at];
        static const uint8_t to[] = {0xc1, 0xdf, 0xff, 0x00, 0xa5, 0x9f, 0xc4};
        buf[at] = to[(at + (size_t)i) % sizeof to];
        snprintf(what, sizeof what, "message %d, byte %zu changed", i, at);
        fields_agree(buf, len, &ks[s], what);
        buf[at] = was;
      }
      buf[len] = 0x01;
      snprintf(what, sizeof what, "message %d with a byte more", i);
      fields_agree(buf, len + 1, &ks[s], what);
    }
  }
}

/* The record the bench and a typical consumer read: found in one pass. */
Test(mp_lazy, a_field_view_of_a_record_has_its_fields_and_refuses_bad_arguments)
{
  uint8_t m[64];
  struct myelon_mp_writer w;
  myelon_mp_writer_init(&w, m, sizeof m);
  myelon_mp_put_map(&w, 3);
  myelon_mp_put_str(&w, "seq", 3);
  myelon_mp_put_fix_uint64(&w, 42);
  myelon_mp_put_str(&w, "ts", 2);
  myelon_mp_put_fix_uint64(&w, 7);
  myelon_mp_put_str(&w, "body", 4);
  cr_assert(eq(int, myelon_mp_put_bin(&w, "0123456789abcdef0123456789abcde", 31), 0));
  size_t len = (size_t)(w.pos - m);
  cr_assert(eq(sz, len, 64));
  static const char *const names[] = {"seq", "ts", "body"};
  struct myelon_mp_keys ks;
  cr_assert(eq(int, myelon_mp_keys_init(&ks, names, 3), 0));
  struct myelon_mp_fields_view v;
  cr_assert(eq(int, myelon_mp_fields_access(m, len, &ks, &v), 0), "%s", dmp_last_error());
  cr_assert(eq(u64, v.found, 7));
  cr_assert(eq(u64, myelon_mp_fields_get(&v, 0)->obj.via.u64, 42));
  cr_assert(eq(u64, myelon_mp_fields_get(&v, 1)->obj.via.u64, 7));
  const struct myelon_mp_item *b = myelon_mp_fields_get(&v, 2);
  cr_assert(eq(int, b->obj.type, MSGPACK_OBJECT_BIN));
  cr_assert(eq(u32, b->obj.via.bin.size, 31));
  cr_assert(eq(ptr, (void *)b->obj.via.bin.ptr, (void *)(m + 33)));
  cr_assert(eq(ptr, (void *)myelon_mp_fields_get(&v, 3), NULL));
  cr_assert(eq(ptr, (void *)myelon_mp_fields_get(&v, 1000), NULL));
  /* The whole message stays readable as a lazy view. */
  struct myelon_mp_item out;
  cr_assert(eq(int, myelon_mp_item_get(myelon_mp_lazy_root(&v.lazy), "ts", &out), 0));
  cr_assert(eq(u64, out.obj.via.u64, 7));

  static const char *const nine[9] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  struct myelon_mp_keys k9;
  cr_assert(eq(int, myelon_mp_keys_init(&k9, nine, 9), 0));
  struct myelon_view_codec vc;
  cr_assert(eq(int, myelon_mp_fields_access(m, len, &k9, &v), -EINVAL), "more keys than a field view holds");
  cr_assert(eq(int, myelon_mp_fields_codec_init(&vc, &k9), -EINVAL));
  ks.max_depth = MYELON_MP_MAX_DEPTH + 1;
  cr_assert(eq(int, myelon_mp_fields_access(m, len, &ks, &v), -EINVAL));
  cr_assert(eq(int, myelon_mp_fields_codec_init(&vc, &ks), -EINVAL));
  ks.max_depth = 0;
  cr_assert(eq(int, myelon_mp_fields_access(NULL, 3, &ks, &v), -EINVAL));
  cr_assert(eq(int, myelon_mp_fields_access(m, len, NULL, &v), -EINVAL));
  cr_assert(eq(int, myelon_mp_fields_access(m, len, &ks, NULL), -EINVAL));
  cr_assert(eq(int, myelon_mp_fields_codec_init(NULL, &ks), -EINVAL));
  cr_assert(eq(int, myelon_mp_fields_codec_init(&vc, NULL), -EINVAL));
}

/* Through a typed consumer, one message and batches, on both backends;
 * a field view used after its lease ended is detected. */
Test(mp_lazy, field_views_from_a_typed_consumer_one_by_one_and_in_batches)
{
  for (int b = 0; b < TT_NBACKENDS; b++) {
    struct tt_pair t;
    tt_open(&t, tt_backends[b], b ? MYELON_FRAME_COMPACT : MYELON_FRAME_ALIGNED, 512, 64, NULL);
    static struct tf_order o;
    uint64_t st = 55 + (uint64_t)b;
    /* A tf_order is a map of 19 fields (a map16 root: the two-step path). */
    static const char *const names[] = {"id", "seq", "qty", "px", "sym", "active", "origin", "nope"};
    struct myelon_mp_keys ks;
    cr_assert(eq(int, myelon_mp_keys_init(&ks, names, 8), 0));
    struct myelon_view_codec vc;
    cr_assert(eq(int, myelon_mp_fields_codec_init(&vc, &ks), 0));
    for (int i = 0; i < 200; i++) {
      tf_fill(&o, tf_rand(&st), (uint32_t)(tf_rand(&st) % 300));
      cr_assert(eq(int, myelon_typed_producer_publish(t.tp, &o, 5, TT_LONG_NS), 0));
      struct myelon_mp_fields_view fv;
      uint8_t kind = 0;
      int rc = myelon_typed_consumer_recv_view(t.tc, &vc, &fv, &kind, TT_LONG_NS);
      cr_assert(eq(int, rc, 0), "recv_view: %s / %s", myelon_err_name(rc), dmp_last_error());
      cr_assert(eq(u8, kind, 5));
      cr_assert(eq(u64, fv.found, 0x7f), "all but \"nope\"");
      cr_assert(eq(i64, myelon_mp_fields_get(&fv, 0)->obj.via.i64, o.id));
      cr_assert(eq(u64, myelon_mp_fields_get(&fv, 1)->obj.via.u64, o.seq));
      cr_assert(eq(i64, myelon_mp_fields_get(&fv, 2)->obj.via.i64, o.qty));
      cr_assert(eq(dbl, myelon_mp_fields_get(&fv, 3)->obj.via.f64, o.px));
      const struct myelon_mp_item *sym = myelon_mp_fields_get(&fv, 4);
      cr_assert(sym->obj.via.str.size == strlen(o.sym) && memcmp(sym->obj.via.str.ptr, o.sym, strlen(o.sym)) == 0);
      cr_assert(eq(int, myelon_mp_fields_get(&fv, 5)->obj.via.boolean, o.active));
      cr_assert(eq(int, myelon_mp_fields_get(&fv, 6)->obj.type, MSGPACK_OBJECT_MAP));
      cr_assert(eq(ptr, (void *)myelon_mp_fields_get(&fv, 7), NULL));
      myelon_typed_consumer_release(t.tc);
#ifndef NDEBUG
      cr_assert(eq(ptr, (void *)myelon_mp_fields_get(&fv, 0), NULL), "a stale field view reads nothing");
#endif
      cr_assert(eq(int, myelon_view_check(&fv.lazy.lease), -MYELON_E_VIEW));
    }
    /* A batch of field views: each with its own fields. */
    static const char *const rec[] = {"seq", "ts", "body"};
    struct myelon_mp_keys rk;
    cr_assert(eq(int, myelon_mp_keys_init(&rk, rec, 3), 0));
    cr_assert(eq(int, myelon_mp_fields_codec_init(&vc, &rk), 0));
    uint8_t msg[64];
    for (uint64_t i = 0; i < 10; i++) {
      struct myelon_mp_writer w;
      myelon_mp_writer_init(&w, msg, sizeof msg);
      myelon_mp_put_map(&w, 3);
      myelon_mp_put_str(&w, "seq", 3);
      myelon_mp_put_fix_uint64(&w, i);
      myelon_mp_put_str(&w, "ts", 2);
      myelon_mp_put_fix_uint64(&w, 100 + i);
      myelon_mp_put_str(&w, "body", 4);
      myelon_mp_put_bin(&w, &i, 8);
      cr_assert(eq(int, myelon_typed_producer_publish_raw(t.tp, msg, (size_t)(w.pos - msg), 1, TT_LONG_NS), 0));
    }
    static struct myelon_mp_fields_view views[10];
    struct myelon_typed_msg msgs[10];
    int got = 0;
    while (got < 10) {
      int n = myelon_typed_consumer_recv_view_batch(t.tc, &vc, &views[got], sizeof views[0], &msgs[got],
                                                    (size_t)(10 - got), TT_LONG_NS);
      cr_assert(gt(int, n, 0), "%s", dmp_last_error());
      for (int j = got; j < got + n; j++) {
        cr_assert(eq(int, msgs[j].status, 0));
        const struct myelon_mp_fields_view *fv = msgs[j].value;
        cr_assert(eq(u64, fv->found, 7));
        cr_assert(eq(u64, myelon_mp_fields_get(fv, 0)->obj.via.u64, (uint64_t)j));
        cr_assert(eq(u64, myelon_mp_fields_get(fv, 1)->obj.via.u64, 100 + (uint64_t)j));
        cr_assert(eq(u32, myelon_mp_fields_get(fv, 2)->obj.via.bin.size, 8));
      }
      got += n;
    }
    myelon_typed_consumer_release(t.tc);
    tt_close(&t);
  }
}
