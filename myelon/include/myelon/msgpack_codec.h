/**
 * @file msgpack_codec.h
 * @brief Layer 2: the msgpack-c codec, a bounded in-place msgpack parser,
 * and field tables that map a C struct to a msgpack map.
 *
 * Encoding uses msgpack-c's packer (`msgpack_pack_*`), writing straight
 * into the destination buffer (for single-frame messages that is the ring
 * slot). Decoding uses libmyelon's own parser (myelon_mp_parse()) rather
 * than msgpack_unpack(): it builds the same `msgpack_object` tree, but
 *  - nodes come from a caller-provided arena of bounded size (no malloc),
 *  - strings, binaries and ext payloads point into the input bytes,
 *  - element counts are checked against the bytes left before anything is
 *    reserved (a 5-byte "array of 4 billion" costs nothing),
 *  - nesting is limited (`max_depth`), trailing bytes are an error,
 * so any byte string, however hostile, gives a status and never a crash or
 * an unbounded allocation. Layer 3 (view.h) uses the same parser for its
 * zero-copy views; the owned decode below simply runs it into a
 * temporary arena and hands the tree to an unpack callback.
 *
 * Describing a type takes a few lines with a field table:
 *
 *     struct order { int64_t id; double px; char sym[16];
 *                    uint8_t tag[8]; uint32_t tag_len;
 *                    int32_t qty[4]; uint32_t n_qty; };
 *     static const struct myelon_mp_field order_fields[] = {
 *       MYELON_MP_NUM(struct order, id),
 *       MYELON_MP_NUM(struct order, px),
 *       MYELON_MP_STR(struct order, sym),
 *       MYELON_MP_BIN(struct order, tag, tag_len),
 *       MYELON_MP_NUM_ARRAY(struct order, qty, n_qty),
 *     };
 *     static const struct myelon_mp_struct order_desc = MYELON_MP_STRUCT(struct order, order_fields);
 *     static const struct myelon_mp_type order_type = MYELON_MP_TYPE_DESC(order_desc);
 *     struct myelon_codec codec;
 *     myelon_msgpack_codec_init(&codec, &order_type);
 *
 * Wire form of a described struct: a msgpack map whose keys are the field
 * names (table order) and whose values are: bool; int/uint (smallest
 * msgpack encoding); float32 for `float`, float64 for `double`; str for
 * `char[N]` (at most N-1 bytes, NUL-terminated in C); bin for byte arrays;
 * array for `_ARRAY` fields; a nested map for `MAP` fields. On decode,
 * unknown keys are ignored and missing fields stay zero; a wrong type, an
 * out-of-range number or a string/bin/array above its C capacity is a
 * codec error naming the field.
 *
 * Thread safety: the codec and the field tables keep no state (one codec
 * may serve any number of threads); an arena serves one parse at a time.
 * Nothing here blocks or takes a lock; parsing is linear in the input.
 *
 * For other shapes, write `pack`/`unpack` callbacks on msgpack-c's
 * packer and object (they may call myelon_mp_pack_struct() /
 * myelon_mp_unpack_struct() for described parts).
 */
#ifndef MYELON_MSGPACK_CODEC_H
#define MYELON_MSGPACK_CODEC_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include <myelon/codec.h>
#include <myelon/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Bounded parser                                                         */
/* ---------------------------------------------------------------------- */

#define MYELON_MP_DEFAULT_DEPTH 32u /**< nesting limit when 0 is given */
#define MYELON_MP_MAX_DEPTH 256u    /**< largest accepted limit (bounds the parser's stack) */

/**
 * Caller-owned node storage for a parsed tree. A parse uses `cap` nodes at
 * most (a map of n pairs takes 2n, an array of n takes n, the root one);
 * `used` says how many the last parse took. Reused by every parse.
 */
struct myelon_mp_arena {
  msgpack_object *nodes;
  size_t cap;
  size_t used;
  unsigned max_depth; /**< containers nested in each other; 0 = MYELON_MP_DEFAULT_DEPTH */
};

/** Point an arena at `n` nodes of storage. */
MYELON_API void myelon_mp_arena_init(struct myelon_mp_arena *a, msgpack_object *nodes, size_t n,
                                     unsigned max_depth);

/**
 * Validate `len` bytes as exactly one msgpack object and count the nodes
 * its tree needs, without building it. Fuzzable.
 * @return 0 and `*nodes`; -MYELON_E_CODEC ("codec decode: ..." detail:
 *         empty, truncated, reserved byte 0xc1, nesting deeper than
 *         `max_depth`, trailing bytes); -EINVAL (NULL data with len > 0,
 *         or max_depth above MYELON_MP_MAX_DEPTH).
 */
MYELON_API int myelon_mp_validate(const void *data, size_t len, unsigned max_depth, size_t *nodes);

/**
 * Parse `len` bytes into a tree in `arena`; `*root` is arena->nodes[0].
 * Strings, binaries and ext payloads point into `data`: the tree is valid
 * while both the bytes and the arena are. No allocation. Fuzzable.
 * @return 0; -MYELON_E_CODEC (as myelon_mp_validate()); -ENOBUFS if the
 *         arena is too small (detail gives the size); -EINVAL.
 */
MYELON_API int myelon_mp_parse(const void *data, size_t len, struct myelon_mp_arena *arena,
                               const msgpack_object **root);

/** Value of the first entry of `map` whose key is the string `key`, or NULL
 * (also when `map` is not a map). Linear in the map size. */
MYELON_API const msgpack_object *myelon_mp_map_get(const msgpack_object *map, const char *key);

/* ---------------------------------------------------------------------- */
/* Field tables                                                           */
/* ---------------------------------------------------------------------- */

/** What one field (or each element of an array field) is in C. */
enum myelon_mp_kind {
  MYELON_MP_BOOL = 0,  /**< _Bool */
  MYELON_MP_INT = 1,   /**< signed integer of `size` bytes */
  MYELON_MP_UINT = 2,  /**< unsigned integer of `size` bytes */
  MYELON_MP_FLOAT = 3, /**< float (size 4) or double (size 8) */
  MYELON_MP_STR = 4,   /**< char[size], NUL-terminated: at most size-1 bytes */
  MYELON_MP_BIN = 5,   /**< uint8_t[size] plus an unsigned length member */
  MYELON_MP_MAP = 6,   /**< a nested struct described by `sub` */
};

struct myelon_mp_struct;

/** One field of a struct. Build with the MYELON_MP_* macros below. */
struct myelon_mp_field {
  const char *name;                    /**< map key */
  enum myelon_mp_kind kind;            /**< of the field, or of each element */
  size_t size;                         /**< bytes of the C number, char[]/uint8_t[] capacity, struct size */
  size_t offset;                       /**< of the member (the first element of an array) */
  ptrdiff_t len_rel;                   /**< BIN: length member address minus data address */
  size_t len_size;                     /**< BIN: size of that unsigned length member */
  const struct myelon_mp_struct *sub;  /**< MAP: the nested struct */
  size_t max_count;                    /**< array fields: element capacity; 0 = not an array */
  size_t stride;                       /**< array fields: bytes between elements */
  size_t count_offset;                 /**< array fields: unsigned element count member */
  size_t count_size;                   /**< its size */
};

/** A struct: its size and its fields. */
struct myelon_mp_struct {
  const char *name;
  size_t size;
  const struct myelon_mp_field *fields;
  size_t n_fields;
};

/** @cond impl */
#define MYELON_MP_M_(T, m) (((T *)0)->m)
#define MYELON_MP_COUNTOF_(T, m) (sizeof(MYELON_MP_M_(T, m)) / sizeof(MYELON_MP_M_(T, m)[0]))
#ifndef __cplusplus
#define MYELON_MP_KIND_(x)                                                                                    \
  _Generic((x), _Bool: MYELON_MP_BOOL, float: MYELON_MP_FLOAT, double: MYELON_MP_FLOAT,                    \
           char: ((char)-1 < 0 ? MYELON_MP_INT : MYELON_MP_UINT), signed char: MYELON_MP_INT,                \
           short: MYELON_MP_INT, int: MYELON_MP_INT, long: MYELON_MP_INT, long long: MYELON_MP_INT,           \
           unsigned char: MYELON_MP_UINT, unsigned short: MYELON_MP_UINT, unsigned int: MYELON_MP_UINT,     \
           unsigned long: MYELON_MP_UINT, unsigned long long: MYELON_MP_UINT)
#else
/* C++ has no _Generic: overload resolution picks the kind instead. These
 * functions are declared, never defined: they only appear inside sizeof
 * (unevaluated), where the size of the returned array reference is the
 * kind plus one. Exact matches only, as with _Generic: a member of any
 * other type (an enum, a pointer) does not compile. */
extern "C++" {
char (&myelon_mp_kind_tag_(bool))[MYELON_MP_BOOL + 1];
char (&myelon_mp_kind_tag_(float))[MYELON_MP_FLOAT + 1];
char (&myelon_mp_kind_tag_(double))[MYELON_MP_FLOAT + 1];
char (&myelon_mp_kind_tag_(char))[((char)-1 < 0 ? MYELON_MP_INT : MYELON_MP_UINT) + 1];
char (&myelon_mp_kind_tag_(signed char))[MYELON_MP_INT + 1];
char (&myelon_mp_kind_tag_(short))[MYELON_MP_INT + 1];
char (&myelon_mp_kind_tag_(int))[MYELON_MP_INT + 1];
char (&myelon_mp_kind_tag_(long))[MYELON_MP_INT + 1];
char (&myelon_mp_kind_tag_(long long))[MYELON_MP_INT + 1];
char (&myelon_mp_kind_tag_(unsigned char))[MYELON_MP_UINT + 1];
char (&myelon_mp_kind_tag_(unsigned short))[MYELON_MP_UINT + 1];
char (&myelon_mp_kind_tag_(unsigned int))[MYELON_MP_UINT + 1];
char (&myelon_mp_kind_tag_(unsigned long))[MYELON_MP_UINT + 1];
char (&myelon_mp_kind_tag_(unsigned long long))[MYELON_MP_UINT + 1];
}
#define MYELON_MP_KIND_(x) ((enum myelon_mp_kind)(sizeof(myelon_mp_kind_tag_(x)) - 1))
#endif
/* One field entry. C: designated initialisers, so that a field added to
 * struct myelon_mp_field later is zero in every table built with the
 * macros below. C++17 has no designated initialisers (and -Wextra wants
 * every member named): every member, in declaration order. */
#ifndef __cplusplus
#define MYELON_MP_FIELD_(nm, kd, sz, off, lrel, lsz, sb, maxc, strd, coff, csz)                               \
  { .name = (nm), .kind = (kd), .size = (sz), .offset = (off), .len_rel = (lrel), .len_size = (lsz),          \
    .sub = (sb), .max_count = (maxc), .stride = (strd), .count_offset = (coff), .count_size = (csz) }
#else
#define MYELON_MP_FIELD_(nm, kd, sz, off, lrel, lsz, sb, maxc, strd, coff, csz)                               \
  { (nm), (kd), (sz), (off), (lrel), (lsz), (sb), (maxc), (strd), (coff), (csz) }
#endif
/** @endcond */

/* The field macros below work in C and in C++ (the C++ test of suite cxx
 * builds a codec with them). */

/** A number or bool member: `int64_t id;`, `double px;`, `_Bool ok;` */
#define MYELON_MP_NUM(T, m)                                                                                   \
  MYELON_MP_FIELD_(#m, MYELON_MP_KIND_(MYELON_MP_M_(T, m)), sizeof(MYELON_MP_M_(T, m)), offsetof(T, m), 0, 0, \
                   NULL, 0, 0, 0, 0)
/** A string member `char m[N]`. */
#define MYELON_MP_STR(T, m)                                                                                   \
  MYELON_MP_FIELD_(#m, MYELON_MP_STR, sizeof(MYELON_MP_M_(T, m)), offsetof(T, m), 0, 0, NULL, 0, 0, 0, 0)
/** A byte array `uint8_t m[N]` whose used length is the unsigned member `len`. */
#define MYELON_MP_BIN(T, m, len)                                                                              \
  MYELON_MP_FIELD_(#m, MYELON_MP_BIN, sizeof(MYELON_MP_M_(T, m)), offsetof(T, m),                             \
                   (ptrdiff_t)offsetof(T, len) - (ptrdiff_t)offsetof(T, m), sizeof(MYELON_MP_M_(T, len)), NULL, 0, \
                   0, 0, 0)
/** A nested struct member described by `S` (a struct myelon_mp_struct). */
#define MYELON_MP_MAP(T, m, S)                                                                              \
  MYELON_MP_FIELD_(#m, MYELON_MP_MAP, sizeof(MYELON_MP_M_(T, m)), offsetof(T, m), 0, 0, &(S), 0, 0, 0, 0)
/** An array of numbers `int32_t m[N]`, `n` elements used. */
#define MYELON_MP_NUM_ARRAY(T, m, n)                                                                          \
  MYELON_MP_FIELD_(#m, MYELON_MP_KIND_(MYELON_MP_M_(T, m)[0]), sizeof(MYELON_MP_M_(T, m)[0]), offsetof(T, m), 0, \
                   0, NULL, MYELON_MP_COUNTOF_(T, m), sizeof(MYELON_MP_M_(T, m)[0]), offsetof(T, n),            \
                   sizeof(MYELON_MP_M_(T, n)))
/** An array of strings `char m[N][L]`, `n` used. */
#define MYELON_MP_STR_ARRAY(T, m, n)                                                                          \
  MYELON_MP_FIELD_(#m, MYELON_MP_STR, sizeof(MYELON_MP_M_(T, m)[0]), offsetof(T, m), 0, 0, NULL,             \
                   MYELON_MP_COUNTOF_(T, m), sizeof(MYELON_MP_M_(T, m)[0]), offsetof(T, n),                   \
                   sizeof(MYELON_MP_M_(T, n)))
/** An array of byte strings `E m[N]` where E has members `uint8_t data[L]`
 * and an unsigned `len`; `n` used. */
#define MYELON_MP_BIN_ARRAY(T, m, n, E, data, len)                                                            \
  MYELON_MP_FIELD_(#m, MYELON_MP_BIN, sizeof(MYELON_MP_M_(E, data)), offsetof(T, m) + offsetof(E, data),      \
                   (ptrdiff_t)offsetof(E, len) - (ptrdiff_t)offsetof(E, data), sizeof(MYELON_MP_M_(E, len)),  \
                   NULL, MYELON_MP_COUNTOF_(T, m), sizeof(E), offsetof(T, n), sizeof(MYELON_MP_M_(T, n)))
/** An array of nested structs `E m[N]` described by `S`; `n` used. */
#define MYELON_MP_MAP_ARRAY(T, m, n, S)                                                                     \
  MYELON_MP_FIELD_(#m, MYELON_MP_MAP, sizeof(MYELON_MP_M_(T, m)[0]), offsetof(T, m), 0, 0, &(S),             \
                   MYELON_MP_COUNTOF_(T, m), sizeof(MYELON_MP_M_(T, m)[0]), offsetof(T, n),                   \
                   sizeof(MYELON_MP_M_(T, n)))
/** The struct of a field table `F` (an array, not a pointer). */
#ifndef __cplusplus
#define MYELON_MP_STRUCT(T, F)                                                                           \
  { .name = #T, .size = sizeof(T), .fields = (F), .n_fields = sizeof(F) / sizeof((F)[0]) }
#else
#define MYELON_MP_STRUCT(T, F) { #T, sizeof(T), (F), sizeof(F) / sizeof((F)[0]) }
#endif

/**
 * Check a struct description once (cold): sizes, offsets and counts inside
 * the struct, known kinds, number sizes 1/2/4/8 (floats 4/8), capacities
 * of at least 1 (2 for strings), nested descriptions (up to
 * MYELON_MP_MAX_DEPTH levels). myelon_msgpack_codec_init() calls it.
 * @return 0 or -EINVAL (detail names the field).
 */
MYELON_API int myelon_mp_struct_check(const struct myelon_mp_struct *st);

/**
 * Pack `value` (a `st->size`-byte struct) as a msgpack map.
 * @return 0; -MYELON_E_CODEC ("codec encode: <struct>.<field>: ..." for an
 *         unterminated string, a length or count above capacity);
 *         -ENOSPC if the packer's writer refused (buffer full).
 */
MYELON_API int myelon_mp_pack_struct(msgpack_packer *pk, const struct myelon_mp_struct *st, const void *value);

/**
 * Fill `value` (zeroed by the caller) from a msgpack map.
 * @return 0 or -MYELON_E_CODEC ("codec decode: <struct>.<field>: ...").
 */
MYELON_API int myelon_mp_unpack_struct(const msgpack_object *obj, const struct myelon_mp_struct *st, void *value);

/* ---------------------------------------------------------------------- */
/* The codec                                                              */
/* ---------------------------------------------------------------------- */

/** Pack `value`; return 0, or a negative code (-MYELON_E_CODEC via
 * myelon_codec_fail() for a value that cannot be encoded). */
typedef int (*myelon_mp_pack_fn)(msgpack_packer *pk, const void *value, void *user);
/** Fill `value` (`size` zeroed bytes) from `obj`; return 0 or a negative
 * code. On failure the codec calls `release` on the partly filled value. */
typedef int (*myelon_mp_unpack_fn)(const msgpack_object *obj, void *value, void *user);
/** Free what `unpack` allocated inside `value` (not `value` itself). */
typedef void (*myelon_mp_release_fn)(void *value, void *user);

#define MYELON_MP_DEFAULT_MAX_NODES (1u << 20) /**< tree size limit of an owned decode */

/** A message type for the msgpack codec: a field table, or callbacks. */
struct myelon_mp_type {
  const char *name;                    /**< NULL: the field table's name */
  size_t size;                         /**< bytes of the C value decode allocates; 0: the table's size */
  const struct myelon_mp_struct *desc; /**< field table; if set, pack/unpack are not used */
  myelon_mp_pack_fn pack;
  myelon_mp_unpack_fn unpack;
  myelon_mp_release_fn release;        /**< optional */
  unsigned max_depth;                  /**< decode nesting limit; 0 = MYELON_MP_DEFAULT_DEPTH */
  size_t max_nodes;                    /**< decode tree limit; 0 = MYELON_MP_DEFAULT_MAX_NODES */
  void *user;                          /**< passed to the callbacks */
};

/** A type described by a field table `D` (a struct myelon_mp_struct);
 * a constant initializer (name and size are taken from `desc` at init). */
#ifndef __cplusplus
#define MYELON_MP_TYPE_DESC(D) { .desc = &(D) }
#else
#define MYELON_MP_TYPE_DESC(D) { NULL, 0, &(D), NULL, NULL, NULL, 0, 0, NULL }
#endif

/* ---------------------------------------------------------------------- */
/* Direct writer                                                          */
/* ---------------------------------------------------------------------- */

/**
 * A bounded msgpack writer that stores straight into a buffer - for the
 * typed producer, the claimed ring slot - without msgpack-c's packer,
 * which calls its write callback once per piece (a type byte, a number,
 * a key: seven calls for a three-field map). The myelon_mp_put_*()
 * functions are inline: each checks the room once and stores its bytes,
 * in the encoding msgpack-c's packer picks for the same call (smallest
 * integer and length forms), so both write the same bytes.
 *
 * A put that does not fit writes nothing, returns -ENOSPC and leaves the
 * writer full (every later put fails too). A counting writer
 * (myelon_mp_writer_count()) stores nothing and adds up the bytes the
 * puts would write. Plain data on the caller's stack; one thread.
 */
struct myelon_mp_writer {
  uint8_t *pos;   /**< next byte to write */
  uint8_t *end;   /**< end of the room */
  size_t counted; /**< counting writer: bytes the puts asked for; else 0 */
  int counting;   /**< a counting writer */
  int full;       /**< a put did not fit */
};

/** A writer over `cap` bytes at `buf`. */
static inline void myelon_mp_writer_init(struct myelon_mp_writer *w, void *buf, size_t cap)
{
  w->pos = (uint8_t *)buf;
  w->end = (uint8_t *)buf + cap;
  w->counted = 0;
  w->counting = 0;
  w->full = 0;
}

/** A counting writer: no buffer, `counted` adds up. */
static inline void myelon_mp_writer_count(struct myelon_mp_writer *w)
{
  w->pos = w->end = (uint8_t *)&w->counted; /* no room: every put takes the counting path */
  w->counted = 0;
  w->counting = 1;
  w->full = 0;
}

/** Bytes written so far (a counting writer: counted). */
static inline size_t myelon_mp_writer_len(const struct myelon_mp_writer *w, const void *buf)
{
  return w->counting ? w->counted : (size_t)(w->pos - (const uint8_t *)buf);
}

/** @cond impl */
/* Room for n bytes: where to store them, or NULL (counted, or full). */
static inline uint8_t *myelon_mp_w_take_(struct myelon_mp_writer *w, size_t n)
{
  if ((size_t)(w->end - w->pos) >= n) {
    uint8_t *d = w->pos;
#if defined(__GNUC__)
    /* Room for n >= 1 bytes means a real buffer: saying so lets the puts'
     * `if (d)` fold away (one test and branch less per put). */
    if (!d)
      __builtin_unreachable();
#endif
    w->pos += n;
    return d;
  }
  if (w->counting) {
    w->counted += n;
  } else {
    w->full = 1;
    w->end = w->pos;
  }
  return NULL;
}
/* What a put that found no room returns (-ENOSPC, or 0 when counting).
 * A put that found room returns 0 without asking: a full writer has no
 * room left (end == pos), so room means not full - and the answer needs
 * no load after the put's byte stores, which may alias the writer. */
static inline int myelon_mp_w_done_(const struct myelon_mp_writer *w)
{
  return w->full ? -ENOSPC : 0;
}
static inline void myelon_mp_w_be_(uint8_t *d, uint64_t v, unsigned n)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n == 8) {
    uint64_t x = __builtin_bswap64(v);
    memcpy(d, &x, 8);
    return;
  }
  if (n == 4) {
    uint32_t x = __builtin_bswap32((uint32_t)v);
    memcpy(d, &x, 4);
    return;
  }
#endif
  for (unsigned i = 0; i < n; i++)
    d[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}
/* A type byte and an n-byte big-endian value. */
static inline int myelon_mp_w_tagged_(struct myelon_mp_writer *w, uint8_t tag, uint64_t v, unsigned n)
{
  uint8_t *d = myelon_mp_w_take_(w, 1 + n);
  if (d) {
    d[0] = tag;
    myelon_mp_w_be_(d + 1, v, n);
    return 0;
  }
  return myelon_mp_w_done_(w);
}
/* A header (fix form below `fix_max`, else 8/16/32-bit tags), then a body. */
static inline int myelon_mp_w_body_(struct myelon_mp_writer *w, uint8_t fix, uint32_t fix_max, uint8_t t8, uint8_t t16,
                                    uint8_t t32, const void *body, uint32_t n)
{
  unsigned h = n < fix_max ? 1 : (t8 && n < 256) ? 2 : n < 65536 ? 3 : 5;
  uint8_t *d = myelon_mp_w_take_(w, h + (size_t)n);
  if (!d)
    return myelon_mp_w_done_(w);
  if (h == 1)
    d[0] = (uint8_t)(fix | n);
  else
    d[0] = h == 2 ? t8 : h == 3 ? t16 : t32, myelon_mp_w_be_(d + 1, n, h - 1);
  if (n)
    memcpy(d + h, body, n);
  return 0;
}
/* A container header: fix form below 16, else 16/32-bit. */
static inline int myelon_mp_w_head_(struct myelon_mp_writer *w, uint8_t fix, uint8_t t16, uint8_t t32, uint32_t n)
{
  if (n < 16) {
    uint8_t *d = myelon_mp_w_take_(w, 1);
    if (d) {
      d[0] = (uint8_t)(fix | n);
      return 0;
    }
    return myelon_mp_w_done_(w);
  }
  return n < 65536 ? myelon_mp_w_tagged_(w, t16, n, 2) : myelon_mp_w_tagged_(w, t32, n, 4);
}
/** @endcond */

/** nil. @return 0 or -ENOSPC (as every put). */
static inline int myelon_mp_put_nil(struct myelon_mp_writer *w)
{
  uint8_t *d = myelon_mp_w_take_(w, 1);
  if (d) {
    d[0] = 0xc0;
    return 0;
  }
  return myelon_mp_w_done_(w);
}

/** true or false. */
static inline int myelon_mp_put_bool(struct myelon_mp_writer *w, int v)
{
  uint8_t *d = myelon_mp_w_take_(w, 1);
  if (d) {
    d[0] = v ? 0xc3 : 0xc2;
    return 0;
  }
  return myelon_mp_w_done_(w);
}

/** An unsigned integer, smallest form (msgpack_pack_uint64()'s). */
static inline int myelon_mp_put_uint(struct myelon_mp_writer *w, uint64_t v)
{
  if (v < 128) {
    uint8_t *d = myelon_mp_w_take_(w, 1);
    if (d) {
      d[0] = (uint8_t)v;
      return 0;
    }
    return myelon_mp_w_done_(w);
  }
  return v < 256 ? myelon_mp_w_tagged_(w, 0xcc, v, 1)
         : v < 65536 ? myelon_mp_w_tagged_(w, 0xcd, v, 2)
         : v <= UINT32_MAX ? myelon_mp_w_tagged_(w, 0xce, v, 4)
                           : myelon_mp_w_tagged_(w, 0xcf, v, 8);
}

/** A signed integer, smallest form (msgpack_pack_int64()'s). */
static inline int myelon_mp_put_int(struct myelon_mp_writer *w, int64_t v)
{
  if (v >= 0)
    return myelon_mp_put_uint(w, (uint64_t)v);
  if (v >= -32) {
    uint8_t *d = myelon_mp_w_take_(w, 1);
    if (d) {
      d[0] = (uint8_t)(0xe0 | (uint8_t)(v + 32));
      return 0;
    }
    return myelon_mp_w_done_(w);
  }
  return v >= -128 ? myelon_mp_w_tagged_(w, 0xd0, (uint64_t)v, 1)
         : v >= -32768 ? myelon_mp_w_tagged_(w, 0xd1, (uint64_t)v, 2)
         : v >= INT32_MIN ? myelon_mp_w_tagged_(w, 0xd2, (uint64_t)v, 4)
                          : myelon_mp_w_tagged_(w, 0xd3, (uint64_t)v, 8);
}

/** A uint64 always in its 9-byte form (msgpack_pack_fix_uint64()'s): a
 * message whose length does not depend on the value. */
static inline int myelon_mp_put_fix_uint64(struct myelon_mp_writer *w, uint64_t v)
{
  return myelon_mp_w_tagged_(w, 0xcf, v, 8);
}

/** A float32. */
static inline int myelon_mp_put_float(struct myelon_mp_writer *w, float v)
{
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return myelon_mp_w_tagged_(w, 0xca, u, 4);
}

/** A float64. */
static inline int myelon_mp_put_double(struct myelon_mp_writer *w, double v)
{
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return myelon_mp_w_tagged_(w, 0xcb, u, 8);
}

/** A string of `n` bytes (fixstr, str8, str16 or str32). */
static inline int myelon_mp_put_str(struct myelon_mp_writer *w, const char *s, uint32_t n)
{
  return myelon_mp_w_body_(w, 0xa0, 32, 0xd9, 0xda, 0xdb, s, n);
}

/** A binary of `n` bytes (bin8, bin16 or bin32). */
static inline int myelon_mp_put_bin(struct myelon_mp_writer *w, const void *b, uint32_t n)
{
  return myelon_mp_w_body_(w, 0, 0, 0xc4, 0xc5, 0xc6, b, n);
}

/** A map header of `n` pairs; the keys and values follow. */
static inline int myelon_mp_put_map(struct myelon_mp_writer *w, uint32_t n)
{
  return myelon_mp_w_head_(w, 0x80, 0xde, 0xdf, n);
}

/** An array header of `n` elements; the elements follow. */
static inline int myelon_mp_put_array(struct myelon_mp_writer *w, uint32_t n)
{
  return myelon_mp_w_head_(w, 0x90, 0xdc, 0xdd, n);
}

/** Write `value` with the direct writer; return 0, -ENOSPC (a put did
 * not fit: the codec asks for more room) or a negative code
 * (-MYELON_E_CODEC via myelon_codec_fail() for a value that cannot be
 * encoded). */
typedef int (*myelon_mp_write_fn)(struct myelon_mp_writer *w, const void *value, void *user);

/** A message type packed with the direct writer: `base` as for
 * myelon_msgpack_codec_init() with callbacks (name, size, unpack,
 * release, limits, user; desc must be NULL, pack is not used), `write`
 * instead of pack. */
struct myelon_mp_wtype {
  struct myelon_mp_type base; /**< everything but the packing */
  myelon_mp_write_fn write;   /**< packs a value */
};

/**
 * Make `codec` the msgpack codec of `type` (which must outlive it), packed
 * by type->write: size runs it on a counting writer, encode on a writer
 * over the buffer (single-frame messages: the ring slot), so no write
 * callback runs per piece; decode and free are myelon_msgpack_codec_init()'s.
 * @return 0; -EINVAL (NULLs, no write, no unpack, no name or size 0, a
 *         field table in base.desc, max_depth above MYELON_MP_MAX_DEPTH).
 */
MYELON_API int myelon_msgpack_codec_init_writer(struct myelon_codec *codec, const struct myelon_mp_wtype *type);

/**
 * Make `codec` the msgpack codec of `type` (which must outlive it).
 * size: a counting pass of the packer (no bytes written); encode: packs
 * into the buffer, -ENOSPC if it does not fit; decode: validates, parses
 * into a temporary node arena (on the stack for small trees, else one
 * allocation bounded by max_nodes), calloc's `size` bytes and unpacks;
 * free: release + free.
 * @return 0; -EINVAL (NULL, no name or size 0 without a field table,
 *         neither desc nor pack+unpack, a bad field table, a size below
 *         the table's, max_depth above MYELON_MP_MAX_DEPTH).
 */
MYELON_API int myelon_msgpack_codec_init(struct myelon_codec *codec, const struct myelon_mp_type *type);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_MSGPACK_CODEC_H */
