/**
 * @file view.h
 * @brief Layer 3: validated zero-copy views of received messages.
 *
 * A view codec validates a message's bytes in place and fills a small,
 * typed, read-only view that points into them: into the ring slot for a
 * single-frame message, into the consumer's reassembly buffer for a
 * fragmented one. Nothing is deserialised or allocated per message.
 *
 * Three kinds of view codecs ship:
 *
 * 1. msgpack views (struct myelon_mp_view): the msgpack_object tree of
 *    msgpack_codec.h, built in a caller-provided node arena; its strings,
 *    binaries and ext payloads point into the message. The arena is
 *    bounded: a message needing more nodes is -ENOBUFS; nesting beyond
 *    the arena's max_depth is -MYELON_E_CODEC. Bad msgpack is
 *    -MYELON_E_CODEC with a "codec decode: ..." detail, exactly as the
 *    owned decode reports it (both use myelon_mp_parse()).
 *
 * 1b. lazy msgpack views (struct myelon_mp_lazy_view): no tree at all.
 *    Access validates the message once - one iterative pass over its
 *    bytes, the same verdicts as myelon_mp_validate() with the codec's
 *    max_depth - and keeps only where the root object is. Fields are then
 *    found by walking the bytes: myelon_mp_item_get() scans a map for a
 *    key, myelon_mp_iter_next() steps through a map's or an array's
 *    elements; each answer is a struct myelon_mp_item (the msgpack_object
 *    of a number, bool, nil, str, bin or ext, or the size of a map or an
 *    array and where its elements are). Every walk is bounded by the
 *    message length and checks every length against it again (the bytes
 *    live in a ring another process writes): bytes changed after access
 *    give -MYELON_E_CODEC, never a read outside the message or a walk
 *    longer than the message. Cheapest when a consumer reads a few fields
 *    of a small map: access costs one pass, each lookup a scan of the
 *    keys before it (no node arena, no per-node stores).
 *
 * 1c. field views (struct myelon_mp_fields_view): a lazy view plus the
 *    values of up to MYELON_MP_FIELDS_MAX named keys of the root map,
 *    picked up during access (myelon_mp_fields_codec_init() with a struct
 *    myelon_mp_keys). A flat record - a fixmap root, fixstr keys, values
 *    without containers - takes one pass; keys in the set's order take a
 *    loop with no search. Any other message is validated and then scanned
 *    as 1b does, so verdicts, details and fields are always those of
 *    myelon_mp_lazy_access() and myelon_mp_item_get_keys(). Cheapest when
 *    a consumer reads the fields of a record it knows.
 *
 * 2. fixed-layout views (struct myelon_fixed_view) of plain C structs. The
 *    message is a 16-byte header followed by the struct's bytes:
 *
 *      offset size field
 *      0      4    magic        MYELON_FIXED_MAGIC ("MYFX" little-endian)
 *      4      4    size         sizeof the struct
 *      8      8    fingerprint  myelon_fixed_fingerprint(name, layout, size, align)
 *      16     size the struct, native layout and endianness (same host only)
 *
 *    Access checks the length (exactly 16 + size), the magic, the size,
 *    the fingerprint - so a different struct of the same size is rejected
 *    (the original checks the size only) - and the alignment of the struct
 *    bytes in memory. The header is 16 bytes so a message that starts
 *    16-aligned (MYELON_FRAME_ALIGNED rings, reassembled messages) keeps
 *    the struct 16-aligned; in MYELON_FRAME_COMPACT rings payloads are only
 *    4-aligned and a struct needing more is rejected, never misread.
 *    Failures are -MYELON_E_VIEW with a "view access: ..." detail.
 *    Publish fixed structs with the Layer 2 codec myelon_fixed_codec_init(),
 *    which writes the header (and encodes single-frame messages straight
 *    into the slot).
 *
 * Lifetime (the lease). A view obtained from a typed consumer
 * (myelon_typed_consumer_recv_view(), myelon_typed_consumer_process_view()) is valid exactly
 * until the next receive on that consumer, myelon_typed_consumer_release(), or the
 * end of the process_view callback - after that the slot may be
 * overwritten by the producer. Each view records the consumer's lease
 * generation; myelon_view_check() tells whether it is still current, and
 * in builds without NDEBUG the accessors (myelon_mp_view_root(),
 * myelon_fixed_view_get()) return NULL for a stale view, so a use after
 * release fails loudly instead of reading recycled bytes. (Releasing
 * through the framed consumer directly, behind the typed consumer's
 * back, is not detected; neither is use after the consumer is closed.)
 * Views made from raw bytes (myelon_mp_view_access(), myelon_fixed_view_access())
 * have no lease: they are valid while the caller keeps the bytes.
 *
 * A view is read-only and must be treated so: the bytes may be shared
 * with other consumers of the ring.
 */
#ifndef MYELON_VIEW_H
#define MYELON_VIEW_H

#include <assert.h> /* static_assert in C11 (a keyword in C++) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include <myelon/codec.h>
#include <myelon/error.h>
#include <myelon/export.h>
#include <myelon/msgpack_codec.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Leases and the view codec interface                                    */
/* ---------------------------------------------------------------------- */

/** Which receive a view belongs to. `gen` NULL: no lease (raw bytes). */
struct myelon_lease {
  const uint64_t *gen; /**< the consumer's current lease generation */
  uint64_t at;         /**< its value when the view was made */
};

/** 0 if a view with this lease may still be read, -MYELON_E_VIEW if its
 * lease has ended (the message was released). Wait-free, no detail. */
static inline int myelon_view_check(const struct myelon_lease *l)
{
  return (!l->gen || *l->gen == l->at) ? 0 : -MYELON_E_VIEW;
}

/**
 * Validate `len` bytes in place and fill `view` (the codec's view type),
 * recording `lease` (may be NULL: no lease) in it. Must accept any bytes.
 * @return 0, or a negative code (the view is then unusable).
 */
typedef int (*myelon_view_access_fn)(const void *data, size_t len, const struct myelon_lease *lease, void *view,
                                     void *user);

/** A zero-copy view codec: plain data, like struct myelon_codec. */
struct myelon_view_codec {
  const char *name;
  myelon_view_access_fn access;
  void *user;
};

/** Call `vc->access` (bytes in, status out; fuzzable). -EINVAL for NULLs. */
MYELON_API int myelon_view_access(const struct myelon_view_codec *vc, const void *data, size_t len, void *view);

/* ---------------------------------------------------------------------- */
/* msgpack views                                                          */
/* ---------------------------------------------------------------------- */

/** A parsed msgpack message; read the tree through myelon_mp_view_root(). */
struct myelon_mp_view {
  struct myelon_lease lease;
  const msgpack_object *root_; /**< use myelon_mp_view_root() */
  const uint8_t *data;         /**< the message bytes the tree points into */
  size_t len;
  size_t nodes;                /**< arena nodes used */
};

/** The root object, or NULL if the view's lease has ended (checked only in
 * builds without NDEBUG; with NDEBUG this is a plain load). */
static inline const msgpack_object *myelon_mp_view_root(const struct myelon_mp_view *v)
{
#ifndef NDEBUG
  if (myelon_view_check(&v->lease) < 0)
    return NULL;
#endif
  return v->root_;
}

/**
 * Validate and parse `len` bytes into `arena` and fill `view` (no lease).
 * @return as myelon_mp_parse().
 */
MYELON_API int myelon_mp_view_access(const void *data, size_t len, struct myelon_mp_arena *arena,
                                     struct myelon_mp_view *view);

/** A view codec producing struct myelon_mp_view in `arena` (which must
 * outlive it; one arena per consumer thread: each access reuses it). */
MYELON_API void myelon_mp_view_codec_init(struct myelon_view_codec *vc, struct myelon_mp_arena *arena);

/* ---------------------------------------------------------------------- */
/* Lazy msgpack views (no tree)                                           */
/* ---------------------------------------------------------------------- */

/**
 * One msgpack object of a lazy view. `obj` is what the tree view's node
 * would be, except for containers: a map or an array has its type and
 * size (`obj.via.map.size`, `obj.via.array.size`) but a NULL `ptr`; read
 * its elements with myelon_mp_item_get() or myelon_mp_item_iter(). Strings,
 * binaries and ext bodies point into the message. Plain data: copy freely;
 * valid while the message's bytes are (the view's lease).
 */
struct myelon_mp_item {
  msgpack_object obj;    /**< type and value (containers: size only) */
  const uint8_t *elems_; /**< containers: first byte of the first element (internal) */
  const uint8_t *end_;   /**< end of the message (internal) */
};

/** A validated msgpack message; read it through myelon_mp_lazy_root(). */
struct myelon_mp_lazy_view {
  struct myelon_lease lease;
  struct myelon_mp_item root_; /**< use myelon_mp_lazy_root() */
  const uint8_t *data;         /**< the message bytes */
  size_t len;
};

/** The root object, or NULL if the view's lease has ended (checked only in
 * builds without NDEBUG; with NDEBUG this is plain address arithmetic). */
static inline const struct myelon_mp_item *myelon_mp_lazy_root(const struct myelon_mp_lazy_view *v)
{
#ifndef NDEBUG
  if (myelon_view_check(&v->lease) < 0)
    return NULL;
#endif
  return &v->root_;
}

/**
 * Validate `len` bytes as exactly one msgpack object (iteratively, nesting
 * at most `max_depth` containers, 0 = MYELON_MP_DEFAULT_DEPTH) and fill
 * `view` (no lease). No allocation, no tree. Fuzzable.
 * @return 0; -MYELON_E_CODEC with a "codec decode: ..." detail where
 *         myelon_mp_validate() refuses the bytes; -EINVAL (NULL view, NULL
 *         data with len > 0, max_depth above MYELON_MP_MAX_DEPTH).
 */
MYELON_API int myelon_mp_lazy_access(const void *data, size_t len, unsigned max_depth,
                                     struct myelon_mp_lazy_view *view);

/**
 * A view codec producing struct myelon_mp_lazy_view (no arena: it keeps no
 * state, one codec may serve any number of consumers and threads).
 * @return 0, or -EINVAL (NULL vc, max_depth above MYELON_MP_MAX_DEPTH).
 */
MYELON_API int myelon_mp_lazy_codec_init(struct myelon_view_codec *vc, unsigned max_depth);

/**
 * The value of the first entry of the map `map` whose key is the string
 * `key` (compared as bytes, up to its NUL), into `out`. Scans the keys
 * in order, stepping over values without decoding them; wait-free,
 * bounded by the message length.
 * @return 0 and `*out`; -ENOENT (no such key); -EINVAL (NULLs, or `map` is
 *         not a map); -MYELON_E_CODEC (the bytes no longer hold what
 *         access validated: changed by the writer since).
 */
MYELON_API int myelon_mp_item_get(const struct myelon_mp_item *map, const char *key, struct myelon_mp_item *out);

#define MYELON_MP_KEYS_MAX 32u /**< keys in one struct myelon_mp_keys */

/** A set of keys prepared once (myelon_mp_keys_init()) for
 * myelon_mp_item_get_keys(): their lengths and first bytes, so that a
 * lookup compares a message's key with one load. Plain data. */
struct myelon_mp_keys {
  const char *const *names_;          /**< the names (kept by reference) */
  uint64_t head_[MYELON_MP_KEYS_MAX]; /**< first 8 bytes of each, zero-padded (internal) */
  uint64_t tag_[MYELON_MP_KEYS_MAX];  /**< each as a fixstr's header and name, read as one word (internal) */
  uint64_t mask_[MYELON_MP_KEYS_MAX]; /**< the bytes of tag_ that count; 0 for no key (internal) */
  uint32_t len_[MYELON_MP_KEYS_MAX];  /**< their lengths (internal) */
  uint32_t by_len_[32];               /**< keys of each length below 32, a bit per key (internal) */
  uint32_t n_;                        /**< how many */
  /** Field views only (myelon_mp_fields_access()): the nesting limit their
   * access validates with, as myelon_mp_lazy_access()'s `max_depth`
   * (0 = MYELON_MP_DEFAULT_DEPTH, at most MYELON_MP_MAX_DEPTH).
   * myelon_mp_keys_init() sets 0; set it after. */
  unsigned max_depth;
};

/**
 * Prepare `n` keys (at most MYELON_MP_KEYS_MAX) for myelon_mp_item_get_keys()
 * (cold). `names` (NUL-terminated strings) is kept by reference and must
 * outlive `ks`.
 * @return 0; -EINVAL (NULLs, n above MYELON_MP_KEYS_MAX).
 */
MYELON_API int myelon_mp_keys_init(struct myelon_mp_keys *ks, const char *const *names, size_t n);

/**
 * Look up every key of `ks` in one scan of the map `map`: out[i] gets the
 * value of the first entry whose key is names[i] (compared as bytes); the
 * scan stops once every key is found. Cheaper than one
 * myelon_mp_item_get() per field when a consumer reads several. Wait-free,
 * bounded by the message length.
 * @return a mask, bit i set when names[i] was found (out[i] of a key not
 *         found is left as it was); -EINVAL (NULLs, `map` not a map);
 *         -MYELON_E_CODEC (the bytes changed since access).
 */
MYELON_API int64_t myelon_mp_item_get_keys(const struct myelon_mp_item *map, const struct myelon_mp_keys *ks,
                                           struct myelon_mp_item *out);

/** A walk over the elements of a map or an array (myelon_mp_item_iter()). */
struct myelon_mp_iter {
  const uint8_t *pos_; /**< next element's first byte (internal) */
  const uint8_t *end_; /**< end of the message (internal) */
  uint64_t left_;      /**< elements not yet returned (a map's keys and values count one each) */
};

/**
 * Start a walk over the elements of `container` (a map: key, value, key,
 * value, ...; an array: its elements).
 * @return 0; -EINVAL (NULLs, or not a map or array).
 */
MYELON_API int myelon_mp_item_iter(const struct myelon_mp_item *container, struct myelon_mp_iter *it);

/**
 * The next element of the walk into `out`; a nested container is stepped
 * over as a whole (walk it with its own iterator). Bounded by the message
 * length.
 * @return 1 and `*out`; 0 (no elements left); -MYELON_E_CODEC (the bytes
 *         changed since access, as myelon_mp_item_get()); -EINVAL.
 */
MYELON_API int myelon_mp_iter_next(struct myelon_mp_iter *it, struct myelon_mp_item *out);

/* ---------------------------------------------------------------------- */
/* Field views: a lazy view and named fields of its root map, one pass    */
/* ---------------------------------------------------------------------- */

#define MYELON_MP_FIELDS_MAX 8u /**< keys one field view picks out */

/**
 * A lazy view whose access also looked up a set of keys in the root map
 * (a struct myelon_mp_keys of at most MYELON_MP_FIELDS_MAX names): what
 * myelon_mp_lazy_access() followed by myelon_mp_item_get_keys() on the
 * root gives, in one pass over the bytes where the message allows it (a
 * fixmap root whose keys are fixstr and whose values are no containers
 * and no 16/32-bit lengths: a record's usual shape); any other message
 * takes the two-step path, with the same verdicts and the same fields.
 * Read the fields through myelon_mp_fields_get(); the whole message
 * through `lazy` (myelon_mp_lazy_root(): lookups and walks as for any
 * lazy view). The lease is `lazy`'s.
 */
struct myelon_mp_fields_view {
  struct myelon_mp_lazy_view lazy; /**< the message, as myelon_mp_lazy_access() makes it */
  uint64_t found;                  /**< bit i set: names[i] is a key of the root map (first entry taken) */
  struct myelon_mp_item field_[MYELON_MP_FIELDS_MAX]; /**< use myelon_mp_fields_get() */
};

/** The value of names[i] in the root map, or NULL: not found (the root is
 * not a map, or has no such key), `i` out of range, or - checked only in
 * builds without NDEBUG - the view's lease has ended. */
static inline const struct myelon_mp_item *myelon_mp_fields_get(const struct myelon_mp_fields_view *v, unsigned i)
{
#ifndef NDEBUG
  if (myelon_view_check(&v->lazy.lease) < 0)
    return NULL;
#endif
  return i < MYELON_MP_FIELDS_MAX && (v->found >> i & 1u) ? &v->field_[i] : NULL;
}

/**
 * Validate `len` bytes as myelon_mp_lazy_access() does (nesting limit
 * `ks->max_depth`) and look up the keys of `ks` in the root map as
 * myelon_mp_item_get_keys() does (`found` its mask; 0 when the root is
 * not a map), in one pass for the usual record (see struct
 * myelon_mp_fields_view). Fills `view` (no lease). No allocation. Fuzzable.
 * @return 0; -MYELON_E_CODEC where myelon_mp_lazy_access() refuses the
 *         bytes (same detail); -EINVAL (NULL view or ks, NULL data with
 *         len > 0, more than MYELON_MP_FIELDS_MAX keys, ks->max_depth
 *         above MYELON_MP_MAX_DEPTH).
 */
MYELON_API int myelon_mp_fields_access(const void *data, size_t len, const struct myelon_mp_keys *ks,
                                       struct myelon_mp_fields_view *view);

/**
 * A view codec producing struct myelon_mp_fields_view for the keys `ks`
 * (which must outlive the codec, and is read, never written, by every
 * access: one codec may serve any number of consumers and threads).
 * @return 0, or -EINVAL (NULLs, more than MYELON_MP_FIELDS_MAX keys,
 *         ks->max_depth above MYELON_MP_MAX_DEPTH).
 */
MYELON_API int myelon_mp_fields_codec_init(struct myelon_view_codec *vc, const struct myelon_mp_keys *ks);

/* ---------------------------------------------------------------------- */
/* Fixed-layout views                                                     */
/* ---------------------------------------------------------------------- */

#define MYELON_FIXED_MAGIC 0x5846594du /**< "MYFX" as little-endian bytes */
#define MYELON_FIXED_HEADER 16u        /**< bytes before the struct */
#define MYELON_FIXED_MAX_ALIGN 16u     /**< largest supported struct alignment */

/** The header of a fixed-layout message (see the file comment). */
struct myelon_fixed_header {
  uint32_t magic;
  uint32_t size;
  uint64_t fingerprint;
};
static_assert(sizeof(struct myelon_fixed_header) == MYELON_FIXED_HEADER, "fixed header is 16 bytes");

/** A plain C struct type carried as a fixed-layout message. */
struct myelon_fixed_type {
  const char *name;
  uint64_t fingerprint;
  uint32_t size;
  uint32_t align;
};

/**
 * Fingerprint of a struct type: FNV-1a-64 over `name`, `layout` (any text
 * that changes whenever the layout does, e.g. "i64 ts; f64 px; u32 qty")
 * and the size and alignment. Two types differ if any of these differ.
 * Never 0.
 */
MYELON_API uint64_t myelon_fixed_fingerprint(const char *name, const char *layout, size_t size, size_t align);

/**
 * Describe a struct type (cold). `name` is kept by reference.
 * @return 0; -EINVAL (NULL name, size 0 or above UINT32_MAX - 16, align not
 *         a power of two or above MYELON_FIXED_MAX_ALIGN, size not a
 *         multiple of align).
 */
MYELON_API int myelon_fixed_type_init(struct myelon_fixed_type *t, const char *name, const char *layout, size_t size,
                                      size_t align);

/** myelon_fixed_type_init() for the C type `T`, named after it. */
#define MYELON_FIXED_TYPE_INIT(t, T, layout) myelon_fixed_type_init((t), #T, (layout), sizeof(T), _Alignof(T))

/** A validated fixed-layout message; read it through myelon_fixed_view_get(). */
struct myelon_fixed_view {
  struct myelon_lease lease;
  const void *ptr_;                     /**< use myelon_fixed_view_get() */
  const struct myelon_fixed_type *type;
};

/** The struct (const T *), or NULL if the lease has ended (checked only in
 * builds without NDEBUG). */
static inline const void *myelon_fixed_view_get(const struct myelon_fixed_view *v)
{
#ifndef NDEBUG
  if (myelon_view_check(&v->lease) < 0)
    return NULL;
#endif
  return v->ptr_;
}

/**
 * Validate `len` bytes as a fixed-layout message of type `t` and fill
 * `view` (no lease). Fuzzable.
 * @return 0; -MYELON_E_VIEW (wrong length, magic, size, fingerprint, or the
 *         struct bytes not aligned for `t`; detail "view access: ...");
 *         -EINVAL.
 */
MYELON_API int myelon_fixed_view_access(const void *data, size_t len, const struct myelon_fixed_type *t,
                                        struct myelon_fixed_view *view);

/** A view codec producing struct myelon_fixed_view of type `t` (which must
 * outlive it). */
MYELON_API void myelon_fixed_view_codec_init(struct myelon_view_codec *vc, const struct myelon_fixed_type *t);

/**
 * The Layer 2 codec of `t` (which must outlive it): encode writes the
 * header and the struct (size known up front, so single-frame messages
 * are written straight into the slot); decode checks length, magic, size
 * and fingerprint (not alignment: it copies) and returns a malloc'd copy;
 * errors are -MYELON_E_CODEC ("codec decode: ...").
 */
MYELON_API void myelon_fixed_codec_init(struct myelon_codec *codec, const struct myelon_fixed_type *t);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_VIEW_H */
