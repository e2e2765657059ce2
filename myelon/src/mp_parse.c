/* Bounded in-place msgpack parser (msgpack_codec.h).
 *
 * Builds msgpack-c's msgpack_object tree from one msgpack object that must
 * span the input exactly. Nodes come from a caller arena (or are only
 * counted); str/bin/ext objects point into the input. Every read is
 * bounds-checked first; a container's element count is checked against
 * the bytes left (each element needs at least one byte) before any node
 * is reserved; recursion depth is capped by max_depth <= MYELON_MP_MAX_DEPTH.
 *
 * Format reference (msgpack spec): positive fixint 0x00-0x7f, fixmap
 * 0x80-0x8f, fixarray 0x90-0x9f, fixstr 0xa0-0xbf, nil 0xc0, (0xc1 never
 * used), false/true 0xc2/0xc3, bin8/16/32 0xc4-0xc6, ext8/16/32 0xc7-0xc9,
 * float32/64 0xca/0xcb, uint8..64 0xcc-0xcf, int8..64 0xd0-0xd3, fixext
 * 1/2/4/8/16 0xd4-0xd8, str8/16/32 0xd9-0xdb, array16/32 0xdc/0xdd,
 * map16/32 0xde/0xdf, negative fixint 0xe0-0xff. Big-endian lengths.
 */
#include <myelon/error.h>
#include <myelon/msgpack_codec.h>

#include "mp_internal.h"

#include <disruptor_mp/error.h>
#include <errno.h>
#include <string.h>

_Static_assert(sizeof(msgpack_object_kv) == 2 * sizeof(msgpack_object), "a map pair is two nodes");

#define WHERE "msgpack"

struct parser {
  const uint8_t *p;
  size_t len;
  size_t pos;
  msgpack_object *nodes; /* NULL: count only */
  size_t cap;            /* arena size (ignored when counting) */
  size_t used;
  unsigned max_depth;
};

static int fail(const struct parser *ps, const char *what)
{
  return myelon_codec_fail(WHERE, MYELON_CODEC_DECODE, "%s at byte %zu of %zu", what, ps->pos, ps->len);
}

static inline int need(const struct parser *ps, size_t n)
{
  return ps->len - ps->pos >= n ? 0 : fail(ps, "truncated");
}

/* An n-byte big-endian unsigned, n = 1, 2, 4 or 8 (the only widths the
 * format has): one load and a byte swap, not a loop over the bytes. */
static inline uint64_t be(const uint8_t *p, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  switch (n) {
  case 1:
    return p[0];
  case 2: {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap16(v);
  }
  case 4: {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap32(v);
  }
  default: {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
  }
  }
#else
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
#endif
}

/* Read an n-byte big-endian unsigned (n = 1, 2, 4, 8). */
static inline int read_be(struct parser *ps, size_t n, uint64_t *v)
{
  int rc = need(ps, n);
  if (rc < 0)
    return rc;
  *v = be(ps->p + ps->pos, n);
  ps->pos += n;
  return 0;
}

/* Reserve k nodes; in count mode only count. */
static int reserve(struct parser *ps, size_t k, msgpack_object **first)
{
  if (ps->nodes && k > ps->cap - ps->used)
    return dmp_error_set(WHERE, "codec decode: node arena of %zu exhausted (%zu used, %zu more needed)", ps->cap,
                         ps->used, k),
           -ENOBUFS;
  *first = ps->nodes ? ps->nodes + ps->used : NULL;
  ps->used += k;
  return 0;
}

/* A str/bin/ext body of n bytes at the current position. */
static int body(struct parser *ps, uint64_t n, const char **ptr)
{
  if (n > ps->len - ps->pos)
    return fail(ps, "truncated string, binary or ext body");
  *ptr = (const char *)(ps->p + ps->pos);
  ps->pos += (size_t)n;
  return 0;
}

static int parse_obj(struct parser *ps, msgpack_object *o, unsigned depth);

/* The elements most maps and arrays are made of - fixstr keys, small and
 * sized unsigned numbers - parsed without a call, from `p[*pos]` (of `len`
 * bytes): 1 when done, 0 for any other first byte or a short input
 * (parse_obj() then parses it from the same position and reports what is
 * wrong). The position is the caller's local, not the parser's field: a
 * store into a node may alias that field, which would make the compiler
 * reload it after every store. */
static inline int parse_simple(const uint8_t *p, size_t len, size_t *pos, msgpack_object *o)
{
  size_t at = *pos;
  if (at >= len)
    return 0;
  uint8_t b = p[at];
  if (b <= 0x7f) {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = b;
    *pos = at + 1;
    return 1;
  }
  if (b >= 0xa0 && b <= 0xbf) {
    uint32_t n = b & 0x1fu;
    if (n > len - at - 1)
      return 0;
    o->type = MSGPACK_OBJECT_STR;
    o->via.str = (msgpack_object_str){n, (const char *)(p + at + 1)};
    *pos = at + 1 + n;
    return 1;
  }
  if (b >= 0xcc && b <= 0xcf) {
    size_t n = (size_t)1 << (b - 0xcc);
    if (n > len - at - 1)
      return 0;
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = be(p + at + 1, n);
    *pos = at + 1 + n;
    return 1;
  }
  return 0;
}

/* Elements [0, n) of a container into `el` (NULL: count only). */
static int parse_elems(struct parser *ps, msgpack_object *el, uint64_t n, unsigned depth)
{
  const uint8_t *p = ps->p;
  size_t len = ps->len, pos = ps->pos;
  msgpack_object scratch;
  for (uint64_t i = 0; i < n; i++) {
    msgpack_object *o = el ? el + i : &scratch;
    if (parse_simple(p, len, &pos, o))
      continue;
    ps->pos = pos;
    int rc = parse_obj(ps, o, depth + 1);
    if (rc < 0)
      return rc;
    pos = ps->pos;
  }
  ps->pos = pos;
  return 0;
}

static int parse_array(struct parser *ps, msgpack_object *o, uint64_t n, unsigned depth)
{
  if (depth >= ps->max_depth)
    return fail(ps, "nesting deeper than the depth limit");
  if (n > ps->len - ps->pos)
    return fail(ps, "array longer than the bytes left");
  msgpack_object *el;
  int rc = reserve(ps, (size_t)n, &el);
  if (rc < 0)
    return rc;
  o->type = MSGPACK_OBJECT_ARRAY;
  o->via.array.size = (uint32_t)n;
  o->via.array.ptr = n ? el : NULL;
  return parse_elems(ps, el, n, depth);
}

static int parse_map(struct parser *ps, msgpack_object *o, uint64_t n, unsigned depth)
{
  if (depth >= ps->max_depth)
    return fail(ps, "nesting deeper than the depth limit");
  if (n > (ps->len - ps->pos) / 2)
    return fail(ps, "map longer than the bytes left");
  msgpack_object *el;
  int rc = reserve(ps, (size_t)n * 2, &el);
  if (rc < 0)
    return rc;
  o->type = MSGPACK_OBJECT_MAP;
  o->via.map.size = (uint32_t)n;
  o->via.map.ptr = n ? (msgpack_object_kv *)(void *)el : NULL;
  return parse_elems(ps, el, 2 * n, depth);
}

static int parse_raw(struct parser *ps, msgpack_object *o, msgpack_object_type t, size_t len_bytes)
{
  uint64_t n;
  int rc = read_be(ps, len_bytes, &n);
  const char *ptr = NULL;
  if (rc == 0)
    rc = body(ps, n, &ptr);
  if (rc < 0)
    return rc;
  o->type = t;
  if (t == MSGPACK_OBJECT_STR)
    o->via.str = (msgpack_object_str){(uint32_t)n, ptr};
  else
    o->via.bin = (msgpack_object_bin){(uint32_t)n, ptr};
  return 0;
}

/* ext: `len_bytes` of length (0: fixed `fixed` bytes), then the type byte. */
static int parse_ext(struct parser *ps, msgpack_object *o, size_t len_bytes, uint64_t fixed)
{
  uint64_t n = fixed, type = 0;
  int rc = len_bytes ? read_be(ps, len_bytes, &n) : 0;
  if (rc == 0)
    rc = read_be(ps, 1, &type);
  const char *ptr = NULL;
  if (rc == 0)
    rc = body(ps, n, &ptr);
  if (rc < 0)
    return rc;
  o->type = MSGPACK_OBJECT_EXT;
  o->via.ext.type = (int8_t)(uint8_t)type;
  o->via.ext.size = (uint32_t)n;
  o->via.ext.ptr = ptr;
  return 0;
}

static void set_int(msgpack_object *o, int64_t v)
{
  if (v < 0) {
    o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o->via.i64 = v;
  } else {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = (uint64_t)v;
  }
}

/* Two's complement of an n-byte big-endian value, without relying on
 * implementation-defined conversions. */
static int64_t sign_extend(uint64_t v, size_t n)
{
  if (n == 8)
    return v > (uint64_t)INT64_MAX ? -(int64_t)(~v) - 1 : (int64_t)v;
  uint64_t sign = UINT64_C(1) << (8 * n - 1);
  return (v & sign) ? (int64_t)v - (int64_t)(sign << 1) : (int64_t)v;
}

static int parse_number(struct parser *ps, msgpack_object *o, uint8_t b)
{
  uint64_t v;
  if (b == 0xca || b == 0xcb) {
    int rc = read_be(ps, b == 0xca ? 4 : 8, &v);
    if (rc < 0)
      return rc;
    if (b == 0xca) {
      uint32_t u = (uint32_t)v;
      float f;
      memcpy(&f, &u, sizeof f);
      o->type = MSGPACK_OBJECT_FLOAT32;
      o->via.f64 = f;
    } else {
      double d;
      memcpy(&d, &v, sizeof d);
      o->type = MSGPACK_OBJECT_FLOAT64;
      o->via.f64 = d;
    }
    return 0;
  }
  size_t n = (size_t)1 << ((b - 0xcc) & 3); /* cc..cf and d0..d3: 1, 2, 4, 8 bytes */
  int rc = read_be(ps, n, &v);
  if (rc < 0)
    return rc;
  if (b <= 0xcf) {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = v;
  } else {
    set_int(o, sign_extend(v, n));
  }
  return 0;
}

static int parse_obj(struct parser *ps, msgpack_object *o, unsigned depth)
{
  int rc = need(ps, 1);
  if (rc < 0)
    return rc;
  uint8_t b = ps->p[ps->pos++];
  if (b <= 0x7f || b >= 0xe0) {
    set_int(o, b <= 0x7f ? (int64_t)b : (int64_t)b - 256);
    return 0;
  }
  if (b <= 0x8f)
    return parse_map(ps, o, b & 0x0f, depth);
  if (b <= 0x9f)
    return parse_array(ps, o, b & 0x0f, depth);
  if (b <= 0xbf) {
    const char *ptr = NULL;
    if ((rc = body(ps, b & 0x1f, &ptr)) < 0)
      return rc;
    o->type = MSGPACK_OBJECT_STR;
    o->via.str = (msgpack_object_str){(uint32_t)(b & 0x1f), ptr};
    return 0;
  }
  uint64_t n;
  if (b >= 0xcc && b <= 0xcf) { /* uint8..uint64: the common sized numbers, without the switch */
    if ((rc = read_be(ps, (size_t)1 << (b - 0xcc), &n)) < 0)
      return rc;
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = n;
    return 0;
  }
  switch (b) {
  case 0xc0:
    o->type = MSGPACK_OBJECT_NIL;
    return 0;
  case 0xc1:
    ps->pos--;
    return fail(ps, "reserved byte 0xc1");
  case 0xc2:
  case 0xc3:
    o->type = MSGPACK_OBJECT_BOOLEAN;
    o->via.boolean = b == 0xc3;
    return 0;
  case 0xc4: case 0xc5: case 0xc6:
    return parse_raw(ps, o, MSGPACK_OBJECT_BIN, (size_t)1 << (b - 0xc4));
  case 0xc7: case 0xc8: case 0xc9:
    return parse_ext(ps, o, (size_t)1 << (b - 0xc7), 0);
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
    return parse_ext(ps, o, 0, (uint64_t)1 << (b - 0xd4));
  case 0xd9: case 0xda: case 0xdb:
    return parse_raw(ps, o, MSGPACK_OBJECT_STR, (size_t)1 << (b - 0xd9));
  case 0xdc: case 0xdd:
    if ((rc = read_be(ps, b == 0xdc ? 2 : 4, &n)) < 0)
      return rc;
    return parse_array(ps, o, n, depth);
  case 0xde: case 0xdf:
    if ((rc = read_be(ps, b == 0xde ? 2 : 4, &n)) < 0)
      return rc;
    return parse_map(ps, o, n, depth);
  default: /* 0xca..0xd3: floats and sized integers */
    return parse_number(ps, o, b);
  }
}

static int run(struct parser *ps, msgpack_object *root)
{
  if (ps->len == 0)
    return fail(ps, "empty message");
  int rc = parse_obj(ps, root, 0);
  if (rc == 0 && ps->pos != ps->len)
    rc = fail(ps, "trailing bytes after the object");
  return rc;
}

static int check_args(const void *data, size_t len, unsigned *max_depth)
{
  if (!data && len)
    return dmp_error_set(WHERE, "data is NULL"), -EINVAL;
  if (*max_depth > MYELON_MP_MAX_DEPTH)
    return dmp_error_set(WHERE, "max_depth %u exceeds %u", *max_depth, MYELON_MP_MAX_DEPTH), -EINVAL;
  if (*max_depth == 0)
    *max_depth = MYELON_MP_DEFAULT_DEPTH;
  return 0;
}

int myelon_mp_validate(const void *data, size_t len, unsigned max_depth, size_t *nodes)
{
  int rc = check_args(data, len, &max_depth);
  if (rc < 0)
    return rc;
  /* The iterative pass of the lazy views (view_lazy.c): no recursion, no
   * nodes written; the fuzz target holds its verdicts and counts to the
   * parser's below. */
  return myelon_impl_mp_check(data, len, max_depth, nodes);
}

void myelon_mp_arena_init(struct myelon_mp_arena *a, msgpack_object *nodes, size_t n, unsigned max_depth)
{
  a->nodes = nodes;
  a->cap = nodes ? n : 0;
  a->used = 0;
  a->max_depth = max_depth;
}

int myelon_mp_parse(const void *data, size_t len, struct myelon_mp_arena *arena, const msgpack_object **root)
{
  if (!arena || !root)
    return dmp_error_set(WHERE, "arena or root is NULL"), -EINVAL;
  unsigned depth = arena->max_depth;
  int rc = check_args(data, len, &depth);
  if (rc < 0)
    return rc;
  arena->used = 0;
  if (!arena->nodes || arena->cap == 0)
    return dmp_error_set(WHERE, "codec decode: node arena of 0 exhausted"), -ENOBUFS;
  struct parser ps = {
      .p = data, .len = len, .pos = 0, .nodes = arena->nodes, .cap = arena->cap, .used = 1, .max_depth = depth};
  rc = run(&ps, arena->nodes);
  arena->used = rc == 0 ? ps.used : 0;
  if (rc == 0)
    *root = arena->nodes;
  return rc;
}

const msgpack_object *myelon_mp_map_get(const msgpack_object *map, const char *key)
{
  if (!map || !key || map->type != MSGPACK_OBJECT_MAP)
    return NULL;
  /* Short keys (the usual field names) without strlen() and memcmp()
   * calls: the length first, then the bytes of a key of that length. */
  size_t klen = 0;
  while (key[klen] != '\0')
    klen++;
  for (uint32_t i = 0; i < map->via.map.size; i++) {
    const msgpack_object *k = &map->via.map.ptr[i].key;
    if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != klen)
      continue;
    size_t j = 0;
    while (j < klen && key[j] == k->via.str.ptr[j])
      j++;
    if (j == klen)
      return &map->via.map.ptr[i].val;
  }
  return NULL;
}
