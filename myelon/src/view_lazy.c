/* Lazy msgpack views (view.h) and the iterative validator behind them and
 * behind myelon_mp_validate() (msgpack_codec.h).
 *
 * No tree: access runs one pass over the bytes (span() per object, a stack
 * of "objects left" counts per open container, so nesting costs no C
 * recursion) and keeps where the root is; lookups walk the bytes again.
 * A walk after access cannot trust what access saw - the message sits in
 * a ring slot its producer can still write - so every length is checked
 * against the end of the message again, and a container's element count
 * against the bytes left (each element takes at least one byte): a walk
 * never reads outside the message and never takes more steps than the
 * message has bytes. What it finds inconsistent is -MYELON_E_CODEC.
 *
 * Format reference: mp_parse.c's file comment.
 */
#include <myelon/error.h>
#include <myelon/msgpack_codec.h>
#include <myelon/view.h>

#include "mp_internal.h"

#include <disruptor_mp/error.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Big-endian 16 and 32-bit lengths. */
static inline uint32_t be16(const uint8_t *p)
{
  return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* What the first byte of an object says about its length: a table, so
 * that the usual objects (fixints, fixstrs, sized numbers, fixmaps) cost
 * one load and one compare. */
enum kind {
  K_FIX,    /* `size` bytes in all: scalars, fixstr, fixext */
  K_LEN8,   /* `size` bytes of header, then a body of p[1] bytes */
  K_LEN16,  /* ... of be16(p + 1) bytes */
  K_LEN32,  /* ... of be32(p + 1) bytes */
  K_FIXARR, /* fixarray: a 1-byte header, `kids` elements */
  K_FIXMAP, /* fixmap: a 1-byte header, `kids` keys and values */
  K_ARR16,  /* array16/32, map16/32: a `size`-byte header holding the count */
  K_ARR32,
  K_MAP16,
  K_MAP32,
  K_BAD, /* 0xc1 */
};

/* An entry: a K_FIX object's whole size (< 256: the one compare the
 * usual objects cost), else kind << 8 | header bytes. */
#define F(n) (n)
#define L8(n) (K_LEN8 << 8 | (n))
#define L16(n) (K_LEN16 << 8 | (n))
#define L32(n) (K_LEN32 << 8 | (n))
#define A(k) (K_FIXARR << 8 | 1)
#define M(k) (K_FIXMAP << 8 | 1)
#define A16 (K_ARR16 << 8 | 3)
#define A32 (K_ARR32 << 8 | 5)
#define M16 (K_MAP16 << 8 | 3)
#define M32 (K_MAP32 << 8 | 5)
#define BAD (K_BAD << 8 | 1)
static const uint16_t first[256] = {
    /* 0x00 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x08 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x10 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x18 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x20 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x28 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x30 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x38 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x40 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x48 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x50 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x58 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x60 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x68 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x70 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x78 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0x80 */ M(0), M(2), M(4), M(6), M(8), M(10), M(12), M(14),
    /* 0x88 */ M(16), M(18), M(20), M(22), M(24), M(26), M(28), M(30),
    /* 0x90 */ A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7),
    /* 0x98 */ A(8), A(9), A(10), A(11), A(12), A(13), A(14), A(15),
    /* 0xa0 */ F(1), F(2), F(3), F(4), F(5), F(6), F(7), F(8),
    /* 0xa8 */ F(9), F(10), F(11), F(12), F(13), F(14), F(15), F(16),
    /* 0xb0 */ F(17), F(18), F(19), F(20), F(21), F(22), F(23), F(24),
    /* 0xb8 */ F(25), F(26), F(27), F(28), F(29), F(30), F(31), F(32),
    /* 0xc0 */ F(1), BAD, F(1), F(1), L8(2), L16(3), L32(5), L8(3),
    /* 0xc8 */ L16(4), L32(6), F(5), F(9), F(2), F(3), F(5), F(9),
    /* 0xd0 */ F(2), F(3), F(5), F(9), F(3), F(4), F(6), F(10),
    /* 0xd8 */ F(18), L8(2), L16(3), L32(5), A16, A32, M16, M32,
    /* 0xe0 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0xe8 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0xf0 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
    /* 0xf8 */ F(1), F(1), F(1), F(1), F(1), F(1), F(1), F(1),
};
#undef F
#undef L8
#undef L16
#undef L32
#undef A
#undef M
#undef A16
#undef A32
#undef M16
#undef M32
#undef BAD

#define CONT_ARRAY 1
#define CONT_MAP 2

/* The slow half of span(): anything but a K_FIX object (entry `e`). */
static size_t span_slow(const uint8_t *p, size_t left, unsigned e, uint64_t *kids, int *cont)
{
  size_t n = e & 0xffu;
  if (n > left)
    return 0;
  switch (e >> 8) {
  case K_LEN8:
    n += p[1];
    return n <= left ? n : 0;
  case K_LEN16:
    n += be16(p + 1);
    return n <= left ? n : 0;
  case K_LEN32:
    n += be32(p + 1);
    return n <= left ? n : 0;
  case K_FIXARR:
    *kids = p[0] & 0x0fu;
    *cont = CONT_ARRAY;
    return n;
  case K_FIXMAP:
    *kids = 2u * (p[0] & 0x0fu);
    *cont = CONT_MAP;
    return n;
  case K_ARR16:
    *kids = be16(p + 1);
    *cont = CONT_ARRAY;
    return n;
  case K_MAP16:
    *kids = 2 * (uint64_t)be16(p + 1);
    *cont = CONT_MAP;
    return n;
  case K_ARR32:
    *kids = be32(p + 1);
    *cont = CONT_ARRAY;
    return n;
  case K_MAP32:
    *kids = 2 * (uint64_t)be32(p + 1);
    *cont = CONT_MAP;
    return n;
  default: /* K_BAD */
    return 0;
  }
}

/* The object whose first byte is p[0] (`left` >= 1 bytes from p): the
 * bytes of its header and body - of its header alone for a map or an
 * array, whose `*kids` elements follow (a map's keys and values count one
 * each) - or 0 when they do not fit in `left`, or for the reserved byte
 * 0xc1. `*cont`: 0 for anything but a container, else CONT_ARRAY or
 * CONT_MAP. */
static inline size_t span(const uint8_t *p, size_t left, uint64_t *kids, int *cont)
{
  unsigned e = first[p[0]];
  *kids = 0;
  *cont = 0;
  if (e <= 0xffu)
    return e <= left ? e : 0;
  return span_slow(p, left, e, kids, cont);
}

static int fail_at(size_t pos, size_t len, const char *what)
{
  return myelon_codec_fail(MP_WHERE, MYELON_CODEC_DECODE, "%s at byte %zu of %zu", what, pos, len);
}

/* The common case of the pass below, flat: one count of the objects still
 * to read, whatever container they are in. Depth cannot exceed the number
 * of containers seen, so while that stays within max_depth no depth check
 * can fail and the count is all the state needed; the checks and their
 * order are the nested pass's otherwise, so both report the same error at
 * the same byte. Returns 1 when a container beyond the max_depth'th is met
 * (the nested pass decides then), else the verdict. */
static int check_flat(const uint8_t *p, size_t len, unsigned max_depth, size_t *nodes)
{
  const uint8_t *const start = p, *const end = p + len;
  uint64_t pending = 1;
  size_t count = 1;
  unsigned containers = 0;
  while (pending) {
    if (p >= end)
      return fail_at(len, len, "truncated");
    unsigned e = first[*p];
    if (e <= 0xffu) {
      if (e > (size_t)(end - p))
        return fail_at((size_t)(p - start), len, "truncated");
      p += e;
      pending--;
      continue;
    }
    uint64_t kids = 0;
    int cont = 0;
    size_t pos = (size_t)(p - start);
    size_t n;
    /* A record's usual non-scalar objects inline: a fixmap, and str8 /
     * bin8 / ext8 bodies; span_slow() for the rest. Same checks. */
    if (e >> 8 == K_FIXMAP) {
      n = 1;
      kids = 2u * (*p & 0x0fu);
      cont = CONT_MAP;
    } else if (e >> 8 == K_LEN8) {
      n = e & 0xffu;
      n = n <= (size_t)(end - p) ? n + p[1] : 0;
      n = n <= (size_t)(end - p) ? n : 0;
    } else {
      n = span_slow(p, len - pos, e, &kids, &cont);
    }
    if (n == 0)
      return fail_at(pos, len, *p == 0xc1 ? "reserved byte 0xc1" : "truncated");
    p += n;
    pending--;
    if (!cont)
      continue;
    if (++containers > max_depth)
      return 1;
    size_t rest = (size_t)(end - p);
    if (cont == CONT_MAP ? kids / 2 > rest / 2 : kids > rest)
      return fail_at(pos + n, len, cont == CONT_MAP ? "map longer than the bytes left" : "array longer than the bytes left");
    count += (size_t)kids;
    pending += kids;
  }
  if (p != end)
    return fail_at((size_t)(p - start), len, "trailing bytes after the object");
  if (nodes)
    *nodes = count;
  return 0;
}

/* myelon_mp_validate()'s pass, iterative: `left` counts the objects still
 * to read in the innermost open container, `stack` those of the ones
 * around it. The checks and messages are the recursive parser's
 * (mp_parse.c), which the fuzz target holds it to. The inner loop takes
 * the objects of one size byte (numbers, fixstr keys) with a table load
 * and one compare each. */
int myelon_impl_mp_check(const uint8_t *p, size_t len, unsigned max_depth, size_t *nodes)
{
  uint64_t stack[MYELON_MP_MAX_DEPTH];
  const uint8_t *const start = p, *const end = p + len;
  unsigned depth = 0; /* containers around the next object */
  uint64_t left = 1;  /* the root */
  size_t count = 1;
  if (len == 0)
    return fail_at(0, 0, "empty message");
  int rc = check_flat(p, len, max_depth, nodes);
  if (rc <= 0)
    return rc;
  for (;;) {
    while (left) {
      if (p >= end)
        return fail_at(len, len, "truncated");
      unsigned e = first[*p];
      if (e > 0xffu)
        break;
      if (e > (size_t)(end - p))
        return fail_at((size_t)(p - start), len, "truncated");
      p += e;
      left--;
    }
    if (left == 0) {
      if (depth == 0)
        break;
      left = stack[--depth];
      continue;
    }
    left--;
    uint64_t kids = 0;
    int cont = 0;
    size_t pos = (size_t)(p - start);
    size_t n = span_slow(p, len - pos, first[*p], &kids, &cont);
    if (n == 0)
      return fail_at(pos, len, *p == 0xc1 ? "reserved byte 0xc1" : "truncated");
    p += n;
    if (!cont)
      continue;
    if (depth >= max_depth)
      return fail_at(pos, len, "nesting deeper than the depth limit");
    size_t rest = (size_t)(end - p);
    if (cont == CONT_MAP ? kids / 2 > rest / 2 : kids > rest)
      return fail_at(pos + n, len, cont == CONT_MAP ? "map longer than the bytes left" : "array longer than the bytes left");
    count += (size_t)kids;
    if (kids) {
      stack[depth++] = left;
      left = kids;
    }
  }
  if (p != end)
    return fail_at((size_t)(p - start), len, "trailing bytes after the object");
  if (nodes)
    *nodes = count;
  return 0;
}

/* ---- walks after access ------------------------------------------------ */

static int changed(void)
{
  return myelon_codec_fail(MP_WHERE, MYELON_CODEC_DECODE, "the message changed after it was validated");
}

/* Step over `pending` (>= 1) whole objects from p; NULL if the bytes to
 * end do not hold them. Each object takes at least one byte, so more
 * objects pending than bytes left is refused at once: that bounds both
 * the count and the number of steps by the bytes. */
static const uint8_t *skip(const uint8_t *p, const uint8_t *end, uint64_t pending)
{
  if (pending > (uint64_t)(end - p))
    return NULL;
  while (pending) {
    if (p >= end)
      return NULL;
    uint64_t kids;
    int cont;
    size_t n = span(p, (size_t)(end - p), &kids, &cont);
    if (n == 0)
      return NULL;
    p += n;
    pending += kids - 1;
    if (pending > (uint64_t)(end - p))
      return NULL;
  }
  return p;
}

/* Two's complement of an n-byte big-endian value (mp_parse.c's). */
static int64_t sign_extend(uint64_t v, size_t n)
{
  if (n == 8)
    return v > (uint64_t)INT64_MAX ? -(int64_t)(~v) - 1 : (int64_t)v;
  uint64_t sign = UINT64_C(1) << (8 * n - 1);
  return (v & sign) ? (int64_t)v - (int64_t)(sign << 1) : (int64_t)v;
}

/* An n-byte big-endian unsigned, n = 1, 2, 4 or 8. */
static inline uint64_t be_n(const uint8_t *p, size_t n)
{
  uint64_t v = 0;
  switch (n) {
  case 1:
    return p[0];
  case 2:
    return be16(p);
  case 4:
    return be32(p);
  default:
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
  }
}

/* The object at p into `it`, as mp_parse.c's parse_obj() fills a node
 * (containers: type and size, and `*kids` > 0 elements follow). Returns
 * the position after its header and body - a container's elements are
 * not stepped over - or NULL when the bytes to `end` do not hold them (a
 * container: not even one byte per element). */
static const uint8_t *load(const uint8_t *p, const uint8_t *end, struct myelon_mp_item *it, uint64_t *kids)
{
  if (p >= end)
    return NULL;
  int cont;
  size_t n = span(p, (size_t)(end - p), kids, &cont);
  if (n == 0)
    return NULL;
  msgpack_object *o = &it->obj;
  it->end_ = end;
  it->elems_ = NULL;
  uint8_t b = p[0];
  if (cont) {
    const uint8_t *q = p + n;
    if (*kids > (uint64_t)(end - q))
      return NULL;
    it->elems_ = q;
    if (cont == CONT_MAP) {
      o->type = MSGPACK_OBJECT_MAP;
      o->via.map = (msgpack_object_map){(uint32_t)(*kids / 2), NULL};
    } else {
      o->type = MSGPACK_OBJECT_ARRAY;
      o->via.array = (msgpack_object_array){(uint32_t)*kids, NULL};
    }
    return q;
  }
  if (b <= 0x7f) {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = b;
  } else if (b >= 0xe0) {
    o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o->via.i64 = (int64_t)b - 256;
  } else if (b <= 0xbf) { /* fixstr */
    o->type = MSGPACK_OBJECT_STR;
    o->via.str = (msgpack_object_str){(uint32_t)(n - 1), (const char *)p + 1};
  } else if (b >= 0xcc && b <= 0xcf) {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = be_n(p + 1, n - 1);
  } else if (b >= 0xd0 && b <= 0xd3) {
    int64_t v = sign_extend(be_n(p + 1, n - 1), n - 1);
    o->type = v < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
    if (v < 0)
      o->via.i64 = v;
    else
      o->via.u64 = (uint64_t)v;
  } else if (b == 0xc0) {
    o->type = MSGPACK_OBJECT_NIL;
  } else if (b == 0xc2 || b == 0xc3) {
    o->type = MSGPACK_OBJECT_BOOLEAN;
    o->via.boolean = b == 0xc3;
  } else if (b == 0xca) {
    uint32_t u = (uint32_t)be_n(p + 1, 4);
    float f;
    memcpy(&f, &u, sizeof f);
    o->type = MSGPACK_OBJECT_FLOAT32;
    o->via.f64 = f;
  } else if (b == 0xcb) {
    uint64_t u = be_n(p + 1, 8);
    double d;
    memcpy(&d, &u, sizeof d);
    o->type = MSGPACK_OBJECT_FLOAT64;
    o->via.f64 = d;
  } else if (b == 0xc4 || b == 0xc5 || b == 0xc6 || b == 0xd9 || b == 0xda || b == 0xdb) {
    size_t hdr = 1 + ((size_t)1 << (b >= 0xd9 ? b - 0xd9 : b - 0xc4));
    o->type = b >= 0xd9 ? MSGPACK_OBJECT_STR : MSGPACK_OBJECT_BIN;
    o->via.bin = (msgpack_object_bin){(uint32_t)(n - hdr), (const char *)p + hdr};
  } else { /* ext: 0xc7..0xc9 (length, type, body), 0xd4..0xd8 (type, body) */
    size_t hdr = b >= 0xd4 ? 2 : 2 + ((size_t)1 << (b - 0xc7));
    o->type = MSGPACK_OBJECT_EXT;
    o->via.ext.type = (int8_t)p[hdr - 1];
    o->via.ext.size = (uint32_t)(n - hdr);
    o->via.ext.ptr = (const char *)p + hdr;
  }
  return p + n;
}

/* load() for the values a record is usually made of - fixints, sized
 * unsigned numbers, fixstr, bin8 and str8 - inline; the rest through
 * load(). Same contract. */
static inline const uint8_t *load_fast(const uint8_t *p, const uint8_t *end, struct myelon_mp_item *it,
                                       uint64_t *kids)
{
  if (p >= end)
    return NULL;
  uint8_t b = p[0];
  size_t left = (size_t)(end - p), n;
  it->end_ = end;
  it->elems_ = NULL;
  *kids = 0;
  if (b <= 0x7f) {
    it->obj.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    it->obj.via.u64 = b;
    return p + 1;
  }
  if (b == 0xcf) { /* uint64: one load and a byte swap, no size switch */
    if (left <= 8)
      return NULL;
    it->obj.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    it->obj.via.u64 = be_n(p + 1, 8);
    return p + 9;
  }
  if (b >= 0xcc && b <= 0xcf) {
    n = (size_t)1 << (b - 0xcc);
    if (n >= left)
      return NULL;
    it->obj.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    it->obj.via.u64 = be_n(p + 1, n);
    return p + 1 + n;
  }
  if (b >= 0xa0 && b <= 0xbf) {
    n = b & 0x1fu;
    if (n >= left)
      return NULL;
    it->obj.type = MSGPACK_OBJECT_STR;
    it->obj.via.str = (msgpack_object_str){(uint32_t)n, (const char *)p + 1};
    return p + 1 + n;
  }
  if ((b == 0xc4 || b == 0xd9) && left >= 2 && (n = p[1]) <= left - 2) {
    it->obj.type = b == 0xc4 ? MSGPACK_OBJECT_BIN : MSGPACK_OBJECT_STR;
    it->obj.via.bin = (msgpack_object_bin){(uint32_t)n, (const char *)p + 2};
    return p + 2 + n;
  }
  return load(p, end, it, kids);
}

/* load_fast() for a value that must be no container: the position after
 * it, or NULL (it does not fit, 0xc1, or a container - whose size `it`
 * may then hold). The usual values test no element count. */
static inline const uint8_t *load_scalar(const uint8_t *p, const uint8_t *end, struct myelon_mp_item *it)
{
  if (p >= end)
    return NULL;
  uint8_t b = p[0];
  size_t left = (size_t)(end - p), n;
  it->end_ = end;
  it->elems_ = NULL;
  if (b <= 0x7f) {
    it->obj.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    it->obj.via.u64 = b;
    return p + 1;
  }
  if (b == 0xcf) { /* uint64: one load and a byte swap, no size switch */
    if (left <= 8)
      return NULL;
    it->obj.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    it->obj.via.u64 = be_n(p + 1, 8);
    return p + 9;
  }
  if ((b == 0xc4 || b == 0xd9) && left >= 2 && (n = p[1]) <= left - 2) {
    it->obj.type = b == 0xc4 ? MSGPACK_OBJECT_BIN : MSGPACK_OBJECT_STR;
    it->obj.via.bin = (msgpack_object_bin){(uint32_t)n, (const char *)p + 2};
    return p + 2 + n;
  }
  if (b >= 0xa0 && b <= 0xbf) {
    n = b & 0x1fu;
    if (n >= left)
      return NULL;
    it->obj.type = MSGPACK_OBJECT_STR;
    it->obj.via.str = (msgpack_object_str){(uint32_t)n, (const char *)p + 1};
    return p + 1 + n;
  }
  if (b >= 0xcc && b <= 0xce) { /* uint8, uint16, uint32 */
    n = (size_t)1 << (b - 0xcc);
    if (n >= left)
      return NULL;
    it->obj.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    it->obj.via.u64 = be_n(p + 1, n);
    return p + 1 + n;
  }
  uint64_t kids = 0;
  const uint8_t *q = load(p, end, it, &kids);
  return kids ? NULL : q;
}

/* Whether the str/bin-free bytes s[0..n) equal the NUL-terminated `key`:
 * never reads `key` past its NUL. */
static inline int key_is(const uint8_t *s, size_t n, const char *key)
{
  for (size_t j = 0; j < n; j++)
    if (key[j] == '\0' || (uint8_t)key[j] != s[j])
      return 0;
  return key[n] == '\0';
}

int myelon_mp_item_get(const struct myelon_mp_item *map, const char *key, struct myelon_mp_item *out)
{
  if (!map || !key || !out || map->obj.type != MSGPACK_OBJECT_MAP)
    return -EINVAL;
  const uint8_t *p = map->elems_, *end = map->end_;
  for (uint32_t i = 0; i < map->obj.via.map.size; i++) {
    if (p >= end)
      return changed();
    uint8_t b = *p;
    int match;
    if (b >= 0xa0 && b <= 0xbf) { /* fixstr: the usual key, compared without a load */
      size_t kl = b & 0x1fu;
      if (kl + 1 >= (size_t)(end - p)) /* the key and at least a value byte */
        return changed();
      match = key_is(p + 1, kl, key);
      p += 1 + kl;
    } else {
      struct myelon_mp_item k;
      uint64_t kids;
      const uint8_t *q = load(p, end, &k, &kids);
      if (q && kids)
        q = skip(q, end, kids); /* a container as a key: no match, stepped over */
      if (!q)
        return changed();
      match = k.obj.type == MSGPACK_OBJECT_STR && key_is((const uint8_t *)k.obj.via.str.ptr, k.obj.via.str.size, key);
      p = q;
    }
    uint64_t kids;
    if (match)
      return load(p, end, out, &kids) ? 0 : changed();
    if (!(p = skip(p, end, 1)))
      return changed();
  }
  return -ENOENT;
}

/* The low n bytes of a little-endian word, n = 0..8: a table is cheaper
 * than a variable shift. */
static const uint64_t low_bytes[9] = {0, 0xff, 0xffff, 0xffffff, 0xffffffff, UINT64_C(0xffffffffff),
                                      UINT64_C(0xffffffffffff), UINT64_C(0xffffffffffffff), UINT64_MAX};

int myelon_mp_keys_init(struct myelon_mp_keys *ks, const char *const *names, size_t n)
{
  if (!ks || (!names && n) || n > MYELON_MP_KEYS_MAX)
    return dmp_error_set("myelon_mp_keys_init", "ks or names is NULL, or more than %u keys", MYELON_MP_KEYS_MAX),
           -EINVAL;
  memset(ks, 0, sizeof *ks);
  for (size_t k = 0; k < MYELON_MP_KEYS_MAX; k++)
    ks->tag_[k] = 1; /* with mask_ 0: matches no word (no key, or one longer than 7 bytes) */
  for (size_t k = 0; k < n; k++) {
    size_t len = names[k] ? strlen(names[k]) : 0;
    if (!names[k] || len > UINT32_MAX)
      return dmp_error_set("myelon_mp_keys_init", "key %zu is NULL or too long", k), -EINVAL;
    ks->len_[k] = (uint32_t)len;
    memcpy(&ks->head_[k], names[k], len < 8 ? len : 8); /* zero-padded */
    if (len < 32)
      ks->by_len_[len] |= UINT32_C(1) << k;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len <= 7) { /* header byte and name fit one little-endian word */
      ks->mask_[k] = low_bytes[len + 1];
      ks->tag_[k] = ks->head_[k] << 8 | (0xa0u | len);
    }
#endif
  }
  ks->names_ = names;
  ks->n_ = (uint32_t)n;
  return 0;
}


/* The key at p if it is key k of `ks` written as a fixstr of at most 7
 * bytes, header byte included, compared with one 8-byte load; 8 bytes
 * must be readable at p. The usual case of get_keys: a record's keys
 * come in the order the consumer names them. */
static inline int key_at_is(const struct myelon_mp_keys *ks, unsigned k, const uint8_t *p)
{
  uint64_t w;
  memcpy(&w, p, 8);
  return (w & ks->mask_[k]) == ks->tag_[k];
}

/* Whether the message's key s[0..sl) (with at least `room` >= sl bytes
 * readable from s) is key k of `ks`. */
static inline int key_eq(const struct myelon_mp_keys *ks, unsigned k, const uint8_t *s, size_t sl, size_t room)
{
  if (ks->len_[k] != sl)
    return 0;
  if (sl <= 8 && room >= 8) { /* one load: the key's bytes, masked */
    uint64_t w;
    memcpy(&w, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w &= low_bytes[sl];
#else
    uint64_t h;
    memcpy(&h, &ks->head_[k], 8);
    if (sl < 8)
      w &= ~((UINT64_C(1) << (8 * (8 - sl))) - 1), h &= ~((UINT64_C(1) << (8 * (8 - sl))) - 1);
    return w == h;
#endif
    return w == ks->head_[k];
  }
  return memcmp(s, ks->names_[k], sl) == 0;
}

/* The key of `ks` (not yet in `found`) that the message's key s[0..sl)
 * is, or -1; `room` >= sl bytes are readable from s. */
static inline int which_key(const struct myelon_mp_keys *ks, uint64_t found, const uint8_t *s, size_t sl, size_t room)
{
  uint64_t cand;
  if (sl < 32) {
    cand = ks->by_len_[sl] & ~found;
  } else { /* long keys: any key of that length */
    cand = 0;
    for (unsigned k = 0; k < ks->n_; k++)
      if (ks->len_[k] == sl)
        cand |= UINT64_C(1) << k;
    cand &= ~found;
  }
  while (cand) {
    int k = __builtin_ctzll(cand);
    if (key_eq(ks, (unsigned)k, s, sl, room))
      return k;
    cand &= cand - 1;
  }
  return -1;
}

int64_t myelon_mp_item_get_keys(const struct myelon_mp_item *map, const struct myelon_mp_keys *ks,
                                struct myelon_mp_item *out)
{
  if (!map || !ks || (!out && ks->n_) || ks->n_ > MYELON_MP_KEYS_MAX || map->obj.type != MSGPACK_OBJECT_MAP)
    return -EINVAL;
  const uint8_t *p = map->elems_, *end = map->end_;
  const uint64_t all = (UINT64_C(1) << ks->n_) - 1;
  uint64_t found = 0;
  for (uint32_t i = map->obj.via.map.size; i > 0 && found != all; i--) {
    if (p >= end)
      return changed();
    int k;
    /* First guess: the lowest key not found yet, header byte and name in
     * one compare (a value byte after it is load_fast()'s check). */
    unsigned guess = (unsigned)__builtin_ctzll(~found & all);
    if ((size_t)(end - p) >= 8 && key_at_is(ks, guess, p)) {
      k = (int)guess;
      p += 1 + ks->len_[guess];
    } else if (*p >= 0xa0 && *p <= 0xbf) { /* fixstr */
      size_t sl = *p & 0x1fu;
      if (sl + 1 >= (size_t)(end - p)) /* the key and at least a value byte */
        return changed();
      k = which_key(ks, found, p + 1, sl, (size_t)(end - p - 1));
      p += 1 + sl;
    } else {
      struct myelon_mp_item key;
      uint64_t kids;
      const uint8_t *q = load(p, end, &key, &kids);
      if (q && kids)
        q = skip(q, end, kids);
      if (!q)
        return changed();
      p = q;
      if (key.obj.type != MSGPACK_OBJECT_STR) {
        if (!(p = skip(p, end, 1)))
          return changed();
        continue;
      }
      const uint8_t *s = (const uint8_t *)key.obj.via.str.ptr;
      k = which_key(ks, found, s, key.obj.via.str.size, (size_t)(end - s));
    }
    uint64_t kids = 0;
    const uint8_t *q = k >= 0 ? load_fast(p, end, &out[k], &kids) : skip(p, end, 1);
    if (q && kids)
      q = skip(q, end, kids);
    if (!q)
      return changed();
    if (k >= 0)
      found |= UINT64_C(1) << k;
    p = q;
  }
  return (int64_t)found;
}

int myelon_mp_item_iter(const struct myelon_mp_item *c, struct myelon_mp_iter *it)
{
  if (!c || !it)
    return -EINVAL;
  if (c->obj.type == MSGPACK_OBJECT_MAP)
    it->left_ = 2 * (uint64_t)c->obj.via.map.size;
  else if (c->obj.type == MSGPACK_OBJECT_ARRAY)
    it->left_ = c->obj.via.array.size;
  else
    return -EINVAL;
  it->pos_ = c->elems_;
  it->end_ = c->end_;
  return 0;
}

int myelon_mp_iter_next(struct myelon_mp_iter *it, struct myelon_mp_item *out)
{
  if (!it || !out)
    return -EINVAL;
  if (it->left_ == 0)
    return 0;
  uint64_t kids;
  const uint8_t *q = load(it->pos_, it->end_, out, &kids);
  if (q && kids)
    q = skip(q, it->end_, kids); /* a nested container as a whole */
  if (!q)
    return changed();
  it->pos_ = q;
  it->left_--;
  return 1;
}

/* ---- the view ---------------------------------------------------------- */

/* A refused access leaves an empty view (no data, no lease). */
static int refuse(struct myelon_mp_lazy_view *view, int rc)
{
  *view = (struct myelon_mp_lazy_view){.lease = {.gen = NULL, .at = 0}, .data = NULL, .len = 0};
  return rc;
}

static int lazy_access(const void *data, size_t len, const struct myelon_lease *lease, unsigned max_depth,
                       struct myelon_mp_lazy_view *view)
{
  if (!data && len)
    return refuse(view, (dmp_error_set(MP_WHERE, "data is NULL"), -EINVAL));
  if (max_depth > MYELON_MP_MAX_DEPTH)
    return refuse(view, (dmp_error_set(MP_WHERE, "max_depth %u exceeds %u", max_depth, MYELON_MP_MAX_DEPTH), -EINVAL));
  if (len > 1) /* the message's last cache line, early: see fields_access() */
    __builtin_prefetch((const uint8_t *)data + len - 1);
  int rc = myelon_impl_mp_check(data, len, max_depth ? max_depth : MYELON_MP_DEFAULT_DEPTH, NULL);
  if (rc < 0)
    return refuse(view, rc);
  const uint8_t *p = data;
  if ((*p & 0xf0u) == 0x80u) { /* a fixmap root, the usual record: its header is this byte */
    view->root_.obj.type = MSGPACK_OBJECT_MAP;
    view->root_.obj.via.map = (msgpack_object_map){*p & 0x0fu, NULL};
    view->root_.elems_ = p + 1;
    view->root_.end_ = p + len;
  } else {
    uint64_t kids;
    if (!load(data, (const uint8_t *)data + len, &view->root_, &kids))
      return refuse(view, changed()); /* valid a moment ago */
  }
  view->lease = lease ? *lease : (struct myelon_lease){.gen = NULL, .at = 0};
  view->data = data;
  view->len = len;
  return 0;
}

int myelon_mp_lazy_access(const void *data, size_t len, unsigned max_depth, struct myelon_mp_lazy_view *view)
{
  if (!view)
    return -EINVAL;
  return lazy_access(data, len, NULL, max_depth, view);
}

static int lazy_access_fn(const void *data, size_t len, const struct myelon_lease *lease, void *view, void *user)
{
  return lazy_access(data, len, lease, (unsigned)(uintptr_t)user, view);
}

int myelon_mp_lazy_codec_init(struct myelon_view_codec *vc, unsigned max_depth)
{
  if (!vc || max_depth > MYELON_MP_MAX_DEPTH)
    return dmp_error_set("myelon_mp_lazy_codec_init", "vc is NULL or max_depth above %u", MYELON_MP_MAX_DEPTH),
           -EINVAL;
  /* The depth travels in `user`: the codec keeps no state to point at. */
  *vc = (struct myelon_view_codec){"msgpack-lazy-view", lazy_access_fn, (void *)(uintptr_t)max_depth};
  return 0;
}

/* ---- field views --------------------------------------------------------- */

/* The commonest record of all (fields_access() tries it first): exactly the keys
 * of `ks`, in its order, each a fixstr of at most 7 bytes (one masked
 * word compare, no search, no found-set to keep); each value is loaded
 * into field[k] by the same call that checks it fits (any scalar, any
 * length form). Returns 1 on anything else, and fields_access_slow()
 * judges the message from its start (the fields filled here are then
 * overwritten or not marked found). */
static inline __attribute__((always_inline)) int fields_in_order(const uint8_t *p, const uint8_t *end,
                                                                const struct myelon_mp_keys *ks, unsigned pairs,
                                                                struct myelon_mp_item *field)
{
  for (unsigned k = 0; k < pairs; k++) {
    if (end - p < 8 || !key_at_is(ks, k, p))
      return 1;
    p += 1 + ks->len_[k];
    /* load_scalar() checks that the value fits (and refuses 0xc1); what
     * it returns is the position after the value, or NULL - a container
     * among them, which this path leaves to the others. */
    if (!(p = load_scalar(p, end, &field[k])))
      return 1;
  }
  return p == end ? 0 : 1;
}

/* The one pass for the usual record: a fixmap root (its count in p[0]) of
 * fixstr keys and values that are no containers and carry no 16/32-bit
 * length - each object is then one table load and one compare, and the
 * keys of `ks` are matched on the way (the next one in order first, as
 * get_keys tries it). Such bytes are valid exactly when every object fits
 * and the last one ends the message: the checks below, and nothing else
 * (depth 1 passes any limit). Returns 0 and fills `found` and `field`, or
 * 1 on anything else - another shape, or bytes it would refuse - for the
 * two-step path to judge with the validator's own verdict and detail: so
 * this pass need only be right when it accepts. */
static int fields_flat(const uint8_t *p, const uint8_t *end, const struct myelon_mp_keys *ks, uint64_t *found_out,
                       struct myelon_mp_item *field)
{
  const uint64_t all = (UINT64_C(1) << ks->n_) - 1; /* n_ <= MYELON_MP_FIELDS_MAX */
  const uint8_t *at[MYELON_MP_FIELDS_MAX];        /* where each found value starts */
  uint64_t found = 0;
  unsigned g = 0; /* the next key in order: the lowest not found (n_ once all are: a tag that matches nothing) */
  unsigned pairs = *p++ & 0x0fu;
  for (; pairs > 0; pairs--) {
    size_t left = (size_t)(end - p);
    int k = -1;
    if (left >= 8 && key_at_is(ks, g, p)) { /* header and name in one compare */
      k = (int)g;
      p += 1 + ks->len_[g];
    } else {
      if (left == 0 || (*p & 0xe0u) != 0xa0u)
        return 1; /* not a fixstr key (or nothing left) */
      size_t sl = *p & 0x1fu;
      if (sl + 1 >= left) /* the key and at least a value byte */
        return 1;
      if (found != all)
        k = which_key(ks, found, p + 1, sl, left - 1);
      p += 1 + sl;
    }
    if (p >= end)
      return 1;
    size_t room = (size_t)(end - p), n;
    unsigned e = first[*p];
    if (e <= 0xffu)
      n = e;
    else if (e >> 8 == K_LEN8 && room >= 2)
      n = (e & 0xffu) + p[1];
    else
      return 1; /* a container, a 16/32-bit length, 0xc1, or a cut header */
    if (n > room)
      return 1;
    if (k >= 0) {
      at[k] = p;
      found |= UINT64_C(1) << k;
      g = (unsigned)__builtin_ctzll(~found);
    }
    p += n;
  }
  if (p != end)
    return 1; /* trailing bytes: the validator words it */
  /* The values, once the message is known valid. Each is re-read within
   * [at, end): a byte the writer changed meanwhile is bounded there, as in
   * every walk, and what no longer loads as a scalar takes the slow path. */
  for (uint64_t m = found; m; m &= m - 1) {
    unsigned k = (unsigned)__builtin_ctzll(m);
    uint64_t kids;
    if (!load_fast(at[k], end, &field[k], &kids) || kids)
      return 1;
  }
  *found_out = found;
  return 0;
}

static int fields_refuse(struct myelon_mp_fields_view *view, int rc)
{
  view->found = 0;
  return refuse(&view->lazy, rc);
}

/* A view of a fixmap root that a one-pass path accepted. */
static inline void fields_root(struct myelon_mp_fields_view *view, const uint8_t *p, size_t len,
                               const struct myelon_lease *lease)
{
  view->lazy.root_.obj.type = MSGPACK_OBJECT_MAP;
  view->lazy.root_.obj.via.map = (msgpack_object_map){*p & 0x0fu, NULL};
  view->lazy.root_.elems_ = p + 1;
  view->lazy.root_.end_ = p + len;
  view->lazy.lease = lease ? *lease : (struct myelon_lease){.gen = NULL, .at = 0};
  view->lazy.data = p;
  view->lazy.len = len;
}

/* Everything but the in-order record: the argument checks, the flat pass,
 * the two-step path. Out of line, so that the in-order path below saves
 * no registers for it. */
static __attribute__((noinline)) int fields_access_slow(const void *data, size_t len, const struct myelon_lease *lease,
                                                        const struct myelon_mp_keys *ks,
                                                        struct myelon_mp_fields_view *view)
{
  if (!ks || ks->n_ > MYELON_MP_FIELDS_MAX || ks->max_depth > MYELON_MP_MAX_DEPTH)
    return fields_refuse(view, (dmp_error_set(MP_WHERE, "ks is NULL, has more than %u keys or a max_depth above %u",
                                              MYELON_MP_FIELDS_MAX, MYELON_MP_MAX_DEPTH),
                                -EINVAL));
  if (!data && len)
    return fields_refuse(view, (dmp_error_set(MP_WHERE, "data is NULL"), -EINVAL));
  const uint8_t *p = data;
  if (len > 0 && (*p & 0xf0u) == 0x80u && fields_flat(p, p + len, ks, &view->found, view->field_) == 0) {
    fields_root(view, p, len, lease);
    return 0;
  }
  /* Any other message: validate, then one get_keys scan of a map root. */
  int rc = lazy_access(data, len, lease, ks->max_depth, &view->lazy);
  if (rc < 0)
    return fields_refuse(view, rc);
  view->found = 0;
  if (view->lazy.root_.obj.type == MSGPACK_OBJECT_MAP) {
    int64_t m = myelon_mp_item_get_keys(&view->lazy.root_, ks, view->field_);
    if (m < 0)
      return fields_refuse(view, (int)m); /* changed since the validating pass */
    view->found = (uint64_t)m;
  }
  return 0;
}

/* The commonest record first: a fixmap of exactly the keys of `ks` (1 to
 * MYELON_MP_FIELDS_MAX: its header byte is 0x80 | n), in their order. */
static inline int fields_access(const void *data, size_t len, const struct myelon_lease *lease,
                                const struct myelon_mp_keys *ks, struct myelon_mp_fields_view *view)
{
  const uint8_t *p = data;
  if (p && ks && len > 1) {
    /* The message usually sits in cache lines the producer's core wrote a
     * moment ago: ask for the last one now, so that its transfer overlaps
     * the pass (which walks the bytes one object at a time and would meet
     * it last) instead of following it. A hint: reads nothing, faults
     * nothing. */
    __builtin_prefetch(p + len - 1);
    unsigned n = ks->n_;
    if (*p == (0x80u | n) && n - 1 < MYELON_MP_FIELDS_MAX && ks->max_depth <= MYELON_MP_MAX_DEPTH &&
        fields_in_order(p + 1, p + len, ks, n, view->field_) == 0) {
      view->found = (UINT64_C(1) << n) - 1;
      fields_root(view, p, len, lease);
      return 0;
    }
  }
  return fields_access_slow(data, len, lease, ks, view);
}

int myelon_mp_fields_access(const void *data, size_t len, const struct myelon_mp_keys *ks,
                            struct myelon_mp_fields_view *view)
{
  if (!view)
    return -EINVAL;
  return fields_access(data, len, NULL, ks, view);
}

static int fields_access_fn(const void *data, size_t len, const struct myelon_lease *lease, void *view, void *user)
{
  return fields_access(data, len, lease, user, view);
}

int myelon_mp_fields_codec_init(struct myelon_view_codec *vc, const struct myelon_mp_keys *ks)
{
  if (!vc || !ks || ks->n_ > MYELON_MP_FIELDS_MAX || ks->max_depth > MYELON_MP_MAX_DEPTH)
    return dmp_error_set("myelon_mp_fields_codec_init",
                         "vc or ks is NULL, or ks has more than %u keys or a max_depth above %u", MYELON_MP_FIELDS_MAX,
                         MYELON_MP_MAX_DEPTH),
           -EINVAL;
  *vc = (struct myelon_view_codec){"msgpack-fields-view", fields_access_fn, (void *)(uintptr_t)ks};
  return 0;
}
