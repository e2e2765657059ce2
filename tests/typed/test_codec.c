/* Layer 2 codecs without a ring (codec.h, msgpack_codec.h): round trips of
 * every field kind, size/encode agreement, ENOSPC on a short buffer, the
 * bounded parser against msgpack-c's own unpacker, exact error messages
 * for values that cannot be encoded and bytes that do not decode, callback
 * types, and rejected field tables. */
#include "typed_test.h"

TestSuite(codec_roundtrip, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(codec_encode_errors, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(codec_decode_errors, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(codec_parser, .fini = tt_fini, .timeout = TT_TIMEOUT);
TestSuite(codec_callbacks, .fini = tt_fini, .timeout = TT_TIMEOUT);

static uint8_t buf[1 << 16];

static struct tf_order *decode_ok(const struct myelon_codec *c, const void *data, size_t len)
{
  void *v = NULL;
  int rc = myelon_codec_decode(c, data, len, &v);
  cr_assert(eq(int, rc, 0), "decode: %s / %s", myelon_err_name(rc), dmp_last_error());
  cr_assert(ne(ptr, v, NULL));
  return v;
}

static int decode_rc(const struct myelon_codec *c, const void *data, size_t len)
{
  void *v = NULL;
  int rc = myelon_codec_decode(c, data, len, &v);
  if (rc == 0)
    myelon_codec_free(c, v);
  else
    cr_assert(eq(ptr, v, NULL), "a failed decode handed out a value");
  return rc;
}

Test(codec_roundtrip, every_field_kind_survives_encode_and_decode)
{
  struct myelon_codec c;
  tf_codec(&c);
  static struct tf_order in;
  for (uint64_t seed = 0; seed < 500; seed++) {
    tf_fill(&in, seed * 7919, (uint32_t)(seed * 13 % TF_PAYLOAD_MAX));
    size_t len = tt_encode(&c, &in, buf, sizeof buf);
    struct tf_order *out = decode_ok(&c, buf, len);
    char why[200] = "";
    bool same = tf_equal(out, &in, why, sizeof why);
    myelon_codec_free(&c, out);
    cr_assert(same, "seed %llu: %s", (unsigned long long)seed, why);
  }
}

Test(codec_roundtrip, extreme_numbers_and_full_capacities_survive)
{
  struct myelon_codec c;
  tf_codec(&c);
  static struct tf_order in;
  memset(&in, 0, sizeof in);
  in.id = INT64_MIN;
  in.seq = UINT64_MAX;
  in.qty = INT32_MIN;
  in.flags = UINT8_MAX;
  in.delta = INT8_MIN;
  in.shift = INT16_MAX;
  in.port = UINT16_MAX;
  in.active = 1;
  in.ratio = -3.4e38f;
  in.px = -0.0;
  memset(in.sym, 'z', sizeof in.sym - 1); /* the longest string that fits */
  in.tag_len = sizeof in.tag;
  memset(in.tag, 0xff, sizeof in.tag);
  in.n_levels = 8;
  in.levels[7] = INT32_MIN;
  in.n_weights = 4;
  in.n_notes = 3;
  memset(in.notes[2], 'q', sizeof in.notes[2] - 1);
  in.n_blobs = 3;
  in.blobs[2].len = 16;
  in.n_path = 4;
  in.payload_len = TF_PAYLOAD_MAX;
  size_t len = tt_encode(&c, &in, buf, sizeof buf);
  struct tf_order *out = decode_ok(&c, buf, len);
  char why[200] = "";
  bool same = tf_equal(out, &in, why, sizeof why);
  myelon_codec_free(&c, out);
  cr_assert(same, "%s", why);
}

Test(codec_roundtrip, encoding_is_a_msgpack_map_that_msgpack_c_reads)
{
  struct myelon_codec c;
  tf_codec(&c);
  static struct tf_order in;
  tf_fill(&in, 42, 100);
  size_t len = tt_encode(&c, &in, buf, sizeof buf);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  msgpack_unpack_return r = msgpack_unpack_next(&u, (const char *)buf, len, &off);
  cr_assert(eq(int, r, MSGPACK_UNPACK_SUCCESS));
  cr_assert(eq(sz, off, len));
  cr_assert(eq(int, u.data.type, MSGPACK_OBJECT_MAP));
  cr_assert(eq(u32, u.data.via.map.size, (uint32_t)tf_order_desc.n_fields));
  char why[200] = "";
  bool same = tf_view_equal(&u.data, &in, buf, len, why, sizeof why); /* msgpack-c refers to the input too */
  msgpack_unpacked_destroy(&u);
  cr_assert(same, "msgpack-c reads: %s", why);
}

Test(codec_roundtrip, size_matches_encode_and_a_short_buffer_is_enospc)
{
  struct myelon_codec c;
  tf_codec(&c);
  static struct tf_order in;
  tf_fill(&in, 9, 333);
  size_t n = 0, len = 0;
  cr_assert(eq(int, myelon_codec_size(&c, &in, &n), 0));
  cr_assert(eq(int, myelon_codec_encode(&c, &in, buf, n - 1, &len), -ENOSPC));
  cr_assert(eq(int, myelon_codec_encode(&c, &in, buf, 0, &len), -ENOSPC));
  cr_assert(eq(int, myelon_codec_encode(&c, &in, buf, n, &len), 0));
  cr_assert(eq(sz, len, n));
}

Test(codec_roundtrip, unknown_keys_are_ignored_and_missing_fields_stay_zero)
{
  struct myelon_codec c;
  tf_codec(&c);
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 3);
  tt_pk_key(&p, "future_field");
  msgpack_pack_array(&p.pk, 2);
  msgpack_pack_nil(&p.pk);
  msgpack_pack_true(&p.pk);
  tt_pk_key(&p, "qty");
  msgpack_pack_int(&p.pk, -12);
  tt_pk_key(&p, "px");
  msgpack_pack_int(&p.pk, 3); /* an integer is accepted for a double */
  struct tf_order *out = decode_ok(&c, p.sb.data, p.sb.size);
  tt_pk_done(&p);
  cr_assert(eq(i32, out->qty, -12));
  cr_assert(eq(dbl, out->px, 3.0));
  cr_assert(eq(i64, out->id, 0));
  cr_assert(eq(u32, out->n_levels, 0));
  cr_assert(eq(str, out->sym, ""));
  myelon_codec_free(&c, out);
}

/* ---- encode errors ------------------------------------------------------ */

static void expect_encode_error(struct tf_order *in, const char *field_detail)
{
  struct myelon_codec c;
  tf_codec(&c);
  size_t n = 12345, len = 12345;
  int rc = myelon_codec_size(&c, in, &n);
  cr_assert(eq(int, rc, -MYELON_E_CODEC), "size: %s", myelon_err_name(rc));
  cr_assert(tt_detail_has("codec encode: "));
  cr_assert(tt_detail_has(field_detail));
  rc = myelon_codec_encode(&c, in, buf, sizeof buf, &len);
  cr_assert(eq(int, rc, -MYELON_E_CODEC), "encode: %s", myelon_err_name(rc));
  cr_assert(tt_detail_has("codec encode: "));
  cr_assert(tt_detail_has(field_detail));
  cr_assert(eq(sz, len, 12345), "length reported for a failed encode");
}

Test(codec_encode_errors, unterminated_string_names_the_field)
{
  static struct tf_order in;
  tf_fill(&in, 1, 0);
  memset(in.sym, 'x', sizeof in.sym);
  expect_encode_error(&in, "tf_order.sym: string is not NUL-terminated");
}

Test(codec_encode_errors, bin_length_above_capacity_names_the_field)
{
  static struct tf_order in;
  tf_fill(&in, 1, 0);
  in.tag_len = sizeof in.tag + 1;
  expect_encode_error(&in, "tf_order.tag: length 33 exceeds the capacity 32");
}

Test(codec_encode_errors, array_count_above_capacity_names_the_field)
{
  static struct tf_order in;
  tf_fill(&in, 1, 0);
  in.n_levels = 9;
  expect_encode_error(&in, "tf_order.levels: count 9 exceeds the capacity 8");
}

Test(codec_encode_errors, error_inside_a_nested_map_names_the_nested_field)
{
  static struct tf_order in;
  tf_fill(&in, 1, 0);
  in.n_path = 2;
  memset(in.path[1].label, 'y', sizeof in.path[1].label);
  expect_encode_error(&in, "tf_point.label: string is not NUL-terminated");
}

Test(codec_encode_errors, null_value_is_a_codec_error)
{
  struct myelon_codec c;
  tf_codec(&c);
  size_t n;
  cr_assert(eq(int, myelon_codec_size(&c, NULL, &n), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec encode: "));
}

/* ---- decode errors -------------------------------------------------------- */

static void expect_decode_error(struct tt_pk *p, const char *detail)
{
  struct myelon_codec c;
  tf_codec(&c);
  int rc = decode_rc(&c, p->sb.data, p->sb.size);
  tt_pk_done(p);
  cr_assert(eq(int, rc, -MYELON_E_CODEC), "decode: %s", myelon_err_name(rc));
  cr_assert(tt_detail_has("codec decode: "));
  cr_assert(tt_detail_has(detail));
}

Test(codec_decode_errors, wrong_type_names_the_field_and_both_types)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "id");
  msgpack_pack_str_with_body(&p.pk, "12", 2);
  expect_decode_error(&p, "tf_order.id: expected an integer, got str");
}

Test(codec_decode_errors, root_that_is_not_a_map_is_rejected)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_array(&p.pk, 0);
  expect_decode_error(&p, "tf_order: expected map, got array");
}

Test(codec_decode_errors, non_string_key_is_rejected)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  msgpack_pack_int(&p.pk, 1);
  msgpack_pack_int(&p.pk, 1);
  expect_decode_error(&p, "map key of type uint");
}

Test(codec_decode_errors, integer_out_of_range_for_the_member)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "qty");
  msgpack_pack_int64(&p.pk, INT64_C(1) << 40);
  expect_decode_error(&p, "tf_order.qty: value out of range for a 4-byte integer");
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "flags");
  msgpack_pack_int(&p.pk, -1);
  expect_decode_error(&p, "tf_order.flags: value out of range for a 1-byte unsigned");
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "delta");
  msgpack_pack_int(&p.pk, -129);
  expect_decode_error(&p, "tf_order.delta: value out of range");
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "id");
  msgpack_pack_uint64(&p.pk, UINT64_MAX);
  expect_decode_error(&p, "tf_order.id: value out of range");
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "ratio");
  msgpack_pack_double(&p.pk, 1e300);
  expect_decode_error(&p, "tf_order.ratio: value out of range");
}

Test(codec_decode_errors, string_bin_and_array_above_capacity)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "sym");
  msgpack_pack_str_with_body(&p.pk, "0123456789abcdef", 16); /* 16 > 15 */
  expect_decode_error(&p, "tf_order.sym: string of 16 bytes exceeds the limit 15");
  uint8_t big[33] = {0};
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "tag");
  msgpack_pack_bin_with_body(&p.pk, big, sizeof big);
  expect_decode_error(&p, "tf_order.tag: 33 bytes exceed the capacity 32");
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "weights");
  msgpack_pack_array(&p.pk, 5);
  for (int i = 0; i < 5; i++)
    msgpack_pack_double(&p.pk, i);
  expect_decode_error(&p, "tf_order.weights: 5 elements exceed the capacity 4");
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "blobs");
  msgpack_pack_array(&p.pk, 1);
  msgpack_pack_bin_with_body(&p.pk, big, 17);
  expect_decode_error(&p, "tf_order.blobs: 17 bytes exceed the capacity 16");
}

Test(codec_decode_errors, wrong_type_inside_an_array_of_maps)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "path");
  msgpack_pack_array(&p.pk, 1);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "x");
  msgpack_pack_true(&p.pk);
  expect_decode_error(&p, "tf_point.x: expected a number, got bool");
}

/* ---- the parser against msgpack-c ------------------------------------------ */

/* Every msgpack type and width: msgpack-c packs it, msgpack-c unpacks it,
 * our parser must build an equal tree with strings pointing into the input. */
Test(codec_parser, builds_the_same_tree_as_msgpack_c_for_every_type)
{
  struct tt_pk p;
  tt_pk_init(&p);
  static char big[70000];
  memset(big, 'b', sizeof big);
  msgpack_pack_array(&p.pk, 39);
  msgpack_pack_nil(&p.pk);
  msgpack_pack_true(&p.pk);
  msgpack_pack_false(&p.pk);
  int64_t ints[] = {0, 1, 127, 128, 255, 256, 65535, 65536, INT64_C(4294967295), INT64_C(4294967296), INT64_MAX,
                    -1, -32, -33, -128, -129, -32768, -32769, INT64_C(-2147483648), INT64_C(-2147483649), INT64_MIN};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    msgpack_pack_int64(&p.pk, ints[i]); /* 21 */
  msgpack_pack_uint64(&p.pk, UINT64_MAX);
  msgpack_pack_float(&p.pk, 1.5f);
  msgpack_pack_double(&p.pk, -2.25);
  msgpack_pack_str_with_body(&p.pk, big, 5);     /* fixstr */
  msgpack_pack_str_with_body(&p.pk, big, 200);   /* str8 */
  msgpack_pack_str_with_body(&p.pk, big, 3000);  /* str16 */
  msgpack_pack_str_with_body(&p.pk, big, 70000); /* str32 */
  msgpack_pack_bin_with_body(&p.pk, big, 10);
  msgpack_pack_bin_with_body(&p.pk, big, 300);
  msgpack_pack_bin_with_body(&p.pk, big, 66000);
  msgpack_pack_ext_with_body(&p.pk, big, 1, 5);  /* fixext1 .. 16 */
  msgpack_pack_ext_with_body(&p.pk, big, 16, -3);
  msgpack_pack_ext_with_body(&p.pk, big, 3, 7);  /* ext8 */
  msgpack_pack_ext_with_body(&p.pk, big, 1000, 8); /* ext16 */
  msgpack_pack_map(&p.pk, 17);                   /* map16 */
  for (int i = 0; i < 17; i++) {
    msgpack_pack_int(&p.pk, i);
    msgpack_pack_array(&p.pk, (size_t)(i == 3 ? 20 : 0)); /* array16 inside */
    for (int k = 0; i == 3 && k < 20; k++)
      msgpack_pack_int(&p.pk, k);
  }
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  cr_assert(eq(int, msgpack_unpack_next(&u, p.sb.data, p.sb.size, &off), MSGPACK_UNPACK_SUCCESS));
  static msgpack_object nodes[256];
  struct myelon_mp_arena a;
  myelon_mp_arena_init(&a, nodes, 256, 0);
  const msgpack_object *root = NULL;
  int rc = myelon_mp_parse(p.sb.data, p.sb.size, &a, &root);
  cr_assert(eq(int, rc, 0), "parse: %s / %s", myelon_err_name(rc), dmp_last_error());
  cr_assert(msgpack_object_equal(u.data, *root), "trees differ");
  size_t counted = 0;
  cr_assert(eq(int, myelon_mp_validate(p.sb.data, p.sb.size, 0, &counted), 0));
  cr_assert(eq(sz, counted, a.used), "validate counts %zu nodes, parse used %zu", counted, a.used);
  const msgpack_object *s32 = &root->via.array.ptr[30];
  cr_assert(eq(int, s32->type, MSGPACK_OBJECT_STR));
  cr_assert(eq(u32, s32->via.str.size, 70000));
  cr_assert(s32->via.str.ptr > p.sb.data && s32->via.str.ptr + 70000 <= p.sb.data + p.sb.size,
            "string does not point into the input");
  msgpack_unpacked_destroy(&u);
  tt_pk_done(&p);
}

Test(codec_parser, map_get_finds_keys_and_rejects_non_maps)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 2);
  tt_pk_key(&p, "a");
  msgpack_pack_int(&p.pk, 1);
  tt_pk_key(&p, "bb");
  msgpack_pack_int(&p.pk, 2);
  msgpack_object nodes[8];
  struct myelon_mp_arena a;
  myelon_mp_arena_init(&a, nodes, 8, 0);
  const msgpack_object *root;
  cr_assert(eq(int, myelon_mp_parse(p.sb.data, p.sb.size, &a, &root), 0));
  cr_assert(eq(u64, myelon_mp_map_get(root, "bb")->via.u64, 2));
  cr_assert(eq(ptr, (void *)myelon_mp_map_get(root, "b"), NULL));
  cr_assert(eq(ptr, (void *)myelon_mp_map_get(&root->via.map.ptr[0].val, "a"), NULL));
  tt_pk_done(&p);
}

/* Keys compared by length and bytes (no strlen()/memcmp() since issue 20):
 * a prefix, a longer key, the empty key and a key holding a NUL byte. */
Test(codec_parser, map_get_matches_whole_keys_only)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 4);
  tt_pk_key(&p, "ts");
  msgpack_pack_int(&p.pk, 1);
  tt_pk_key(&p, "");
  msgpack_pack_int(&p.pk, 2);
  msgpack_pack_str_with_body(&p.pk, "a\0b", 3);
  msgpack_pack_int(&p.pk, 3);
  tt_pk_key(&p, "tsx");
  msgpack_pack_int(&p.pk, 4);
  msgpack_object nodes[16];
  struct myelon_mp_arena a;
  myelon_mp_arena_init(&a, nodes, 16, 0);
  const msgpack_object *root;
  cr_assert(eq(int, myelon_mp_parse(p.sb.data, p.sb.size, &a, &root), 0));
  cr_assert(eq(u64, myelon_mp_map_get(root, "ts")->via.u64, 1));
  cr_assert(eq(u64, myelon_mp_map_get(root, "")->via.u64, 2));
  cr_assert(eq(u64, myelon_mp_map_get(root, "tsx")->via.u64, 4));
  cr_assert(eq(ptr, (void *)myelon_mp_map_get(root, "t"), NULL));
  cr_assert(eq(ptr, (void *)myelon_mp_map_get(root, "tsxy"), NULL));
  cr_assert(eq(ptr, (void *)myelon_mp_map_get(root, "a"), NULL), "a C string ends at the NUL: 'a' is not 'a\\0b'");
  tt_pk_done(&p);
}

/* The inline path for fixstr keys and fixint/uint8..64 values (issue 20)
 * bounds every read as parse_obj() does: each cut of such a map, at every
 * byte, is rejected by parse and validate alike; the whole map parses. */
Test(codec_parser, every_cut_of_a_map_of_simple_elements_is_rejected)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 5);
  tt_pk_key(&p, "a");
  msgpack_pack_fix_uint8(&p.pk, 200);
  tt_pk_key(&p, "bb");
  msgpack_pack_fix_uint16(&p.pk, 60000);
  tt_pk_key(&p, "ccc");
  msgpack_pack_fix_uint32(&p.pk, 4000000000u);
  tt_pk_key(&p, "dddd");
  msgpack_pack_fix_uint64(&p.pk, UINT64_MAX - 1);
  tt_pk_key(&p, "e");
  msgpack_pack_int(&p.pk, 7); /* positive fixint */
  msgpack_object nodes[16];
  struct myelon_mp_arena a;
  const msgpack_object *root;
  for (size_t cut = 0; cut < p.sb.size; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1); /* exactly `cut` bytes: ASan sees any read beyond */
    cr_assert(ne(ptr, copy, NULL));
    memcpy(copy, p.sb.data, cut);
    myelon_mp_arena_init(&a, nodes, 16, 0);
    cr_assert(eq(int, myelon_mp_parse(copy, cut, &a, &root), -MYELON_E_CODEC), "cut at %zu parsed", cut);
    cr_assert(eq(int, myelon_mp_validate(copy, cut, 0, NULL), -MYELON_E_CODEC), "cut at %zu validated", cut);
    free(copy);
  }
  myelon_mp_arena_init(&a, nodes, 16, 0);
  cr_assert(eq(int, myelon_mp_parse(p.sb.data, p.sb.size, &a, &root), 0));
  cr_assert(eq(u64, myelon_mp_map_get(root, "a")->via.u64, 200));
  cr_assert(eq(u64, myelon_mp_map_get(root, "bb")->via.u64, 60000));
  cr_assert(eq(u64, myelon_mp_map_get(root, "ccc")->via.u64, 4000000000u));
  cr_assert(eq(u64, myelon_mp_map_get(root, "dddd")->via.u64, UINT64_MAX - 1));
  cr_assert(eq(u64, myelon_mp_map_get(root, "e")->via.u64, 7));
  tt_pk_done(&p);
}

/* ---- callback types -------------------------------------------------------- */

/* A type with a heap string: pack/unpack callbacks and a release hook. */
struct named {
  char *name;
  int32_t n;
};

static int released;

static int named_pack(msgpack_packer *pk, const void *value, void *user)
{
  (void)user;
  const struct named *v = value;
  if (!v->name)
    return myelon_codec_fail("named", MYELON_CODEC_ENCODE, "named: name is NULL");
  if (v->n < 0)
    return -1; /* a callback without a detail */
  msgpack_pack_array(pk, 2);
  msgpack_pack_str_with_body(pk, v->name, strlen(v->name));
  return msgpack_pack_int32(pk, v->n);
}

static int named_unpack(const msgpack_object *o, void *value, void *user)
{
  (void)user;
  struct named *v = value;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 || o->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
    return myelon_codec_fail("named", MYELON_CODEC_DECODE, "named: expected [str, int]");
  const msgpack_object_str *s = &o->via.array.ptr[0].via.str;
  v->name = strndup(s->ptr, s->size);
  if (o->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return -7; /* fails after allocating: release must run */
  v->n = (int32_t)o->via.array.ptr[1].via.u64;
  return 0;
}

static void named_release(void *value, void *user)
{
  (void)user;
  struct named *v = value;
  free(v->name);
  released++;
}

static const struct myelon_mp_type named_type = {"named", sizeof(struct named), NULL, named_pack, named_unpack,
                                                 named_release, 0, 0, NULL};

Test(codec_callbacks, callback_type_round_trips_and_release_frees_inner_memory)
{
  struct myelon_codec c;
  cr_assert(eq(int, myelon_msgpack_codec_init(&c, &named_type), 0));
  struct named in = {"hello", 7};
  size_t len = tt_encode(&c, &in, buf, sizeof buf);
  struct named *out = NULL;
  cr_assert(eq(int, myelon_codec_decode(&c, buf, len, (void **)&out), 0));
  cr_assert(eq(str, out->name, "hello"));
  cr_assert(eq(i32, out->n, 7));
  released = 0;
  myelon_codec_free(&c, out);
  cr_assert(eq(int, released, 1));
}

Test(codec_callbacks, callback_failures_become_codec_errors_and_partial_values_are_released)
{
  struct myelon_codec c;
  cr_assert(eq(int, myelon_msgpack_codec_init(&c, &named_type), 0));
  struct named nul = {NULL, 1}, neg = {"x", -1};
  size_t n;
  cr_assert(eq(int, myelon_codec_size(&c, &nul, &n), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec encode: named: name is NULL"));
  cr_assert(eq(int, myelon_codec_size(&c, &neg, &n), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec encode: named: pack callback failed"));
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_array(&p.pk, 2);
  msgpack_pack_str_with_body(&p.pk, "abc", 3);
  msgpack_pack_int(&p.pk, -5);
  released = 0;
  cr_assert(eq(int, decode_rc(&c, p.sb.data, p.sb.size), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec decode: named: unpack callback failed"));
  cr_assert(eq(int, released, 1), "the partly unpacked value was not released");
  tt_pk_done(&p);
}

/* ---- rejected descriptions -------------------------------------------------- */

struct small {
  int32_t a;
  char s[8];
};

Test(codec_callbacks, bad_field_tables_are_rejected_at_init)
{
  struct myelon_codec c;
  static const struct myelon_mp_field outside[] = {{"a", MYELON_MP_INT, 4, 64, 0, 0, NULL, 0, 0, 0, 0}};
  static const struct myelon_mp_struct outside_st = MYELON_MP_STRUCT(struct small, outside);
  static const struct myelon_mp_type t1 = MYELON_MP_TYPE_DESC(outside_st);
  cr_assert(eq(int, myelon_msgpack_codec_init(&c, &t1), -EINVAL));
  cr_assert(tt_detail_has("small.a lies outside the struct"));
  static const struct myelon_mp_field badsize[] = {{"a", MYELON_MP_INT, 3, 0, 0, 0, NULL, 0, 0, 0, 0}};
  static const struct myelon_mp_struct badsize_st = MYELON_MP_STRUCT(struct small, badsize);
  static const struct myelon_mp_type t2 = MYELON_MP_TYPE_DESC(badsize_st);
  cr_assert(eq(int, myelon_msgpack_codec_init(&c, &t2), -EINVAL));
  cr_assert(tt_detail_has("small.a has an unknown kind or a bad size"));
  static const struct myelon_mp_field good[] = {MYELON_MP_NUM(struct small, a), MYELON_MP_STR(struct small, s)};
  static const struct myelon_mp_struct good_st = MYELON_MP_STRUCT(struct small, good);
  static const struct myelon_mp_type t3 = MYELON_MP_TYPE_DESC(good_st);
  cr_assert(eq(int, myelon_msgpack_codec_init(&c, &t3), 0));
  struct myelon_mp_type t4 = MYELON_MP_TYPE_DESC(good_st);
  t4.max_depth = MYELON_MP_MAX_DEPTH + 1;
  cr_assert(eq(int, myelon_msgpack_codec_init(&c, &t4), -EINVAL));
  struct myelon_mp_type t5 = {"none", 4, NULL, NULL, NULL, NULL, 0, 0, NULL};
  cr_assert(eq(int, myelon_msgpack_codec_init(&c, &t5), -EINVAL));
}

/* ---- tree size: the one-pass decode and its heap fallback ------------------ */

/* A value that is an array of `n` small integers (n + 1 nodes): decode
 * parses trees of up to 64 nodes straight into a stack arena and counts
 * larger ones first (msgpack_codec.c, mp_decode); both paths must give the
 * same values and refuse a tree above max_nodes with the same error. */
struct ints {
  uint32_t n;
  uint32_t sum;
};

static int ints_pack(msgpack_packer *pk, const void *value, void *user)
{
  (void)user;
  const struct ints *v = value;
  msgpack_pack_array(pk, v->n);
  for (uint32_t i = 0; i < v->n; i++)
    msgpack_pack_uint32(pk, i % 100);
  return 0;
}

static int ints_unpack(const msgpack_object *o, void *value, void *user)
{
  (void)user;
  struct ints *v = value;
  if (o->type != MSGPACK_OBJECT_ARRAY)
    return myelon_codec_fail("ints", MYELON_CODEC_DECODE, "ints: expected an array");
  v->n = o->via.array.size;
  for (uint32_t i = 0; i < v->n; i++)
    v->sum += (uint32_t)o->via.array.ptr[i].via.u64;
  return 0;
}

static int decode_ints(size_t max_nodes, uint32_t n, struct ints *out)
{
  struct myelon_mp_type t = {"ints", sizeof(struct ints), NULL, ints_pack, ints_unpack, NULL, 0, max_nodes, NULL};
  struct myelon_codec c;
  cr_assert(eq(int, myelon_msgpack_codec_init(&c, &t), 0));
  struct ints in = {n, 0};
  size_t len = tt_encode(&c, &in, buf, sizeof buf);
  struct ints *v = NULL;
  int rc = myelon_codec_decode(&c, buf, len, (void **)&v);
  if (rc == 0) {
    *out = *v;
    myelon_codec_free(&c, v);
  }
  return rc;
}

static uint32_t expected_sum(uint32_t n)
{
  uint32_t s = 0;
  for (uint32_t i = 0; i < n; i++)
    s += i % 100;
  return s;
}

Test(codec_parser, trees_below_and_above_the_stack_arena_decode_alike)
{
  static const uint32_t sizes[] = {0, 1, 62, 63, 64, 65, 200, 1000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    struct ints v = {0, 0};
    cr_assert(eq(int, decode_ints(0, sizes[i], &v), 0), "n=%u: %s", sizes[i], dmp_last_error());
    cr_assert(eq(u32, v.n, sizes[i]));
    cr_assert(eq(u32, v.sum, expected_sum(sizes[i])), "n=%u", sizes[i]);
  }
}

Test(codec_parser, max_nodes_is_enforced_below_and_above_the_stack_arena)
{
  /* {max_nodes, array length}: the tree has length + 1 nodes */
  static const struct {
    size_t max;
    uint32_t n;
    bool ok;
  } cases[] = {{10, 9, true}, {10, 10, false}, {10, 500, false}, {100, 99, true}, {100, 100, false}, {64, 63, true},
               {64, 64, false}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct ints v = {0, 0};
    int rc = decode_ints(cases[i].max, cases[i].n, &v);
    if (cases[i].ok) {
      cr_assert(eq(int, rc, 0), "max %zu, %u nodes: %s", cases[i].max, cases[i].n + 1, dmp_last_error());
      cr_assert(eq(u32, v.sum, expected_sum(cases[i].n)));
    } else {
      cr_assert(eq(int, rc, -MYELON_E_CODEC), "max %zu, %u nodes: got %d", cases[i].max, cases[i].n + 1, rc);
      cr_assert(not(eq(ptr, strstr(dmp_last_error(), "exceeds the limit"), NULL)), "max %zu: '%s'", cases[i].max,
                dmp_last_error());
    }
  }
}
