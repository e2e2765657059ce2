/**
 * @file view.h
 * @brief Layer 3: validated zero-copy views of received messages.
 *
 * A view codec validates a message's bytes in place and fills a small,
 * typed, read-only view that points into them: into the ring slot for a
 * single-frame message, into the consumer's reassembly buffer for a
 * fragmented one. Nothing is deserialised or allocated per message.
 *
 * Two view codecs ship:
 *
 * 1. msgpack views (struct myelon_mp_view): the msgpack_object tree of
 *    msgpack_codec.h, built in a caller-provided node arena; its strings,
 *    binaries and ext payloads point into the message. The arena is
 *    bounded: a message needing more nodes is -ENOBUFS; nesting beyond
 *    the arena's max_depth is -MYELON_E_CODEC. Bad msgpack is
 *    -MYELON_E_CODEC with a "codec decode: ..." detail, exactly as the
 *    owned decode reports it (both use myelon_mp_parse()).
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
