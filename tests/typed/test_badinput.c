/* Bad input to the byte-level entry points (fuzzable: bytes in, status
 * out): every truncation of a valid message, oversized length headers,
 * reserved and trailing bytes, nesting past the depth limit, wrong types,
 * and random and mutated bytes - through the owned decode, the validator,
 * the msgpack view and the fixed-layout view. Each input is copied into an
 * exact-size heap block so a sanitizer run catches any read past it. */
#include "typed_test.h"

TestSuite(bad_input, .fini = tt_fini, .timeout = 120);

static uint8_t enc[1 << 16];
static msgpack_object nodes[4096];

/* The statuses each entry point may give; anything else fails the test. */
static void run_all(const uint8_t *src, size_t len, bool expect_ok)
{
  uint8_t *p = malloc(len ? len : 1);
  cr_assert(ne(ptr, p, NULL));
  if (len)
    memcpy(p, src, len);
  struct myelon_codec c;
  tf_codec(&c);
  void *v = NULL;
  int rc = myelon_codec_decode(&c, p, len, &v);
  cr_assert(rc == 0 || rc == -MYELON_E_CODEC, "decode of %zu bytes gave %s", len, myelon_err_name(rc));
  if (rc == 0)
    myelon_codec_free(&c, v);
  else
    cr_assert(eq(ptr, v, NULL));
  if (expect_ok)
    cr_assert(eq(int, rc, 0), "valid message rejected: %s", dmp_last_error());
  size_t n;
  int vrc = myelon_mp_validate(p, len, 0, &n);
  cr_assert(vrc == 0 || vrc == -MYELON_E_CODEC, "validate gave %s", myelon_err_name(vrc));
  struct myelon_mp_arena a;
  myelon_mp_arena_init(&a, nodes, sizeof nodes / sizeof nodes[0], 0);
  struct myelon_mp_view view;
  int prc = myelon_mp_view_access(p, len, &a, &view);
  cr_assert(prc == 0 || prc == -MYELON_E_CODEC || prc == -ENOBUFS, "view gave %s", myelon_err_name(prc));
  if (vrc == 0 && n <= a.cap)
    cr_assert(eq(int, prc, 0), "validate accepts, parse rejects: %s", dmp_last_error());
  if (vrc < 0)
    cr_assert(eq(int, prc, vrc), "validate and parse disagree");
  struct myelon_fixed_type t;
  tf_tick_type(&t);
  struct myelon_fixed_view fv;
  int frc = myelon_fixed_view_access(p, len, &t, &fv);
  cr_assert(frc == 0 || frc == -MYELON_E_VIEW, "fixed view gave %s", myelon_err_name(frc));
  struct myelon_codec fc;
  myelon_fixed_codec_init(&fc, &t);
  frc = myelon_codec_decode(&fc, p, len, &v);
  cr_assert(frc == 0 || frc == -MYELON_E_CODEC, "fixed decode gave %s", myelon_err_name(frc));
  if (frc == 0)
    myelon_codec_free(&fc, v);
  free(p);
}

static size_t valid_message(uint64_t seed, uint32_t payload)
{
  struct myelon_codec c;
  tf_codec(&c);
  static struct tf_order o;
  tf_fill(&o, seed, payload);
  return tt_encode(&c, &o, enc, sizeof enc);
}

Test(bad_input, every_truncation_of_a_valid_message_is_a_codec_error)
{
  size_t len = valid_message(77, 300);
  run_all(enc, len, true);
  struct myelon_codec c;
  tf_codec(&c);
  for (size_t cut = 0; cut < len; cut++) {
    void *v = NULL;
    int rc = myelon_codec_decode(&c, enc, cut, &v);
    cr_assert(eq(int, rc, -MYELON_E_CODEC), "prefix of %zu/%zu bytes: %s", cut, len, myelon_err_name(rc));
    cr_assert(tt_detail_has("codec decode: "));
    run_all(enc, cut, false);
  }
}

Test(bad_input, empty_reserved_and_trailing_bytes_are_codec_errors)
{
  struct myelon_codec c;
  tf_codec(&c);
  void *v;
  cr_assert(eq(int, myelon_codec_decode(&c, "", 0, &v), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec decode: empty message"));
  const uint8_t c1[] = {0x81, 0xa2, 'i', 'd', 0xc1};
  cr_assert(eq(int, myelon_codec_decode(&c, c1, sizeof c1, &v), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("reserved byte 0xc1 at byte 4"));
  size_t len = valid_message(3, 10);
  enc[len] = 0xc0;
  cr_assert(eq(int, myelon_codec_decode(&c, enc, len + 1, &v), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("trailing bytes"));
}

Test(bad_input, oversized_length_headers_fail_without_allocating)
{
  const uint8_t cases[][6] = {
    {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}, /* array32 of 4 billion */
    {0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0}, /* map32 */
    {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},  /* str32 */
    {0xc6, 0x7f, 0xff, 0xff, 0xff, 'a'},  /* bin32 */
    {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01}, /* ext32 */
    {0xdc, 0xff, 0xff, 0xc0, 0xc0, 0xc0}, /* array16 of 65535 with 3 elements */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = 99;
    int rc = myelon_mp_validate(cases[i], sizeof cases[i], 0, &n);
    cr_assert(eq(int, rc, -MYELON_E_CODEC), "case %zu: %s", i, myelon_err_name(rc));
    cr_assert(strstr(dmp_last_error(), "longer than the bytes left") || strstr(dmp_last_error(), "truncated"),
              "case %zu: %s", i, dmp_last_error());
    run_all(cases[i], sizeof cases[i], false);
  }
}

/* `depth` nested one-element arrays around a nil. */
static size_t nested(uint8_t *p, size_t depth)
{
  memset(p, 0x91, depth);
  p[depth] = 0xc0;
  return depth + 1;
}

Test(bad_input, nesting_beyond_the_depth_limit_is_a_codec_error)
{
  static uint8_t deep[200000];
  size_t len = nested(deep, MYELON_MP_DEFAULT_DEPTH);
  size_t n;
  cr_assert(eq(int, myelon_mp_validate(deep, len, 0, &n), 0), "%u levels: %s", MYELON_MP_DEFAULT_DEPTH,
            dmp_last_error());
  cr_assert(eq(sz, n, MYELON_MP_DEFAULT_DEPTH + 1));
  len = nested(deep, MYELON_MP_DEFAULT_DEPTH + 1);
  cr_assert(eq(int, myelon_mp_validate(deep, len, 0, &n), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec decode: nesting deeper than the depth limit"));
  cr_assert(eq(int, myelon_mp_validate(deep, len, MYELON_MP_DEFAULT_DEPTH + 1, &n), 0), "a raised limit");
  cr_assert(eq(int, myelon_mp_validate(deep, len, 4, &n), -MYELON_E_CODEC), "a lowered limit");
  cr_assert(eq(int, myelon_mp_validate(deep, len, MYELON_MP_MAX_DEPTH + 1, &n), -EINVAL));
  len = nested(deep, sizeof deep - 1); /* 200k levels: no stack overflow */
  run_all(deep, len, false);
  struct myelon_codec c;
  tf_codec(&c);
  void *v;
  cr_assert(eq(int, myelon_codec_decode(&c, deep, len, &v), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("depth limit"));
}

Test(bad_input, wrong_type_messages_are_codec_errors_for_both_codecs)
{
  struct tt_pk p;
  tt_pk_init(&p);
  msgpack_pack_map(&p.pk, 1);
  tt_pk_key(&p, "sym");
  msgpack_pack_double(&p.pk, 1.0);
  run_all((const uint8_t *)p.sb.data, p.sb.size, false);
  struct myelon_codec c;
  tf_codec(&c);
  void *v;
  cr_assert(eq(int, myelon_codec_decode(&c, p.sb.data, p.sb.size, &v), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("tf_order.sym: expected str, got float64"));
  tt_pk_done(&p);
  /* A tf_order message given to the fixed-layout codec. */
  size_t len = valid_message(5, 0);
  struct myelon_fixed_type t;
  tf_tick_type(&t);
  struct myelon_codec fc;
  myelon_fixed_codec_init(&fc, &t);
  cr_assert(eq(int, myelon_codec_decode(&fc, enc, len, &v), -MYELON_E_CODEC));
  cr_assert(tt_detail_has("codec decode: "));
}

Test(bad_input, random_bytes_never_crash_any_entry_point)
{
  uint64_t st = 0x5eed;
  uint8_t b[64];
  int accepted = 0;
  for (int i = 0; i < 100000; i++) {
    size_t len = (size_t)(tf_rand(&st) % sizeof b);
    for (size_t k = 0; k < len; k++)
      b[k] = (uint8_t)tf_rand(&st);
    if (len && i % 4 == 0)
      b[0] = (uint8_t)(0x80 | (b[0] & 0x0f)); /* often a map, to reach the field code */
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, b, len);
    struct myelon_codec c;
    tf_codec(&c);
    void *v = NULL;
    int rc = myelon_codec_decode(&c, p, len, &v);
    cr_assert(rc == 0 || rc == -MYELON_E_CODEC, "random input %d: %s", i, myelon_err_name(rc));
    if (rc == 0) {
      accepted++;
      myelon_codec_free(&c, v);
    }
    struct myelon_mp_arena a;
    myelon_mp_arena_init(&a, nodes, 64, 8);
    const msgpack_object *root;
    rc = myelon_mp_parse(p, len, &a, &root);
    cr_assert(rc == 0 || rc == -MYELON_E_CODEC || rc == -ENOBUFS, "parse %d: %s", i, myelon_err_name(rc));
    free(p);
  }
  cr_assert(lt(int, 0, accepted), "no random map decoded at all: the fuzz does not reach the field code");
}

Test(bad_input, mutated_valid_messages_never_crash_any_entry_point)
{
  size_t len = valid_message(11, 40);
  static uint8_t m[1 << 16];
  uint64_t st = 0xfeed;
  for (int i = 0; i < 20000; i++) {
    memcpy(m, enc, len);
    size_t mlen = len;
    int edits = 1 + (int)(tf_rand(&st) % 4);
    for (int e = 0; e < edits; e++) {
      size_t at = (size_t)(tf_rand(&st) % mlen);
      switch (tf_rand(&st) % 4) {
      case 0: m[at] ^= (uint8_t)(1u << (tf_rand(&st) % 8)); break;
      case 1: m[at] = (uint8_t)tf_rand(&st); break;
      case 2: mlen = at + 1; break;
      default: m[at] = (uint8_t[]){0xc1, 0xdd, 0xdf, 0xdb, 0xff, 0x00, 0x7f, 0x80}[tf_rand(&st) % 8]; break;
      }
    }
    run_all(m, mlen, false);
  }
}

Test(bad_input, arena_too_small_is_enobufs_not_an_overrun)
{
  size_t len = valid_message(21, 10);
  size_t need;
  cr_assert(eq(int, myelon_mp_validate(enc, len, 0, &need), 0));
  msgpack_object *few = malloc((need - 1) * sizeof *few); /* exact size: a sanitizer sees an overrun */
  struct myelon_mp_arena a;
  myelon_mp_arena_init(&a, few, need - 1, 0);
  const msgpack_object *root;
  cr_assert(eq(int, myelon_mp_parse(enc, len, &a, &root), -ENOBUFS));
  cr_assert(tt_detail_has("codec decode: node arena of"));
  cr_assert(tt_detail_has("exhausted"));
  free(few);
  msgpack_object *enough = malloc(need * sizeof *enough);
  myelon_mp_arena_init(&a, enough, need, 0);
  cr_assert(eq(int, myelon_mp_parse(enc, len, &a, &root), 0));
  cr_assert(eq(sz, a.used, need));
  free(enough);
}
