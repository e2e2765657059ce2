/* The msgpack-c codec (msgpack_codec.h): size by a counting packer,
 * encode with a bounded packer straight into the caller's buffer (the ring
 * slot for single-frame messages), decode through the bounded parser into
 * a temporary node arena and an unpack step. */
#include <myelon/error.h>
#include <myelon/msgpack_codec.h>

#include "internal.h"
#include "mp_internal.h"

#include <disruptor_mp/error.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define STACK_NODES 64u /* trees up to this size decode without a heap arena */

/* ---- writers for msgpack_packer ---------------------------------------- */

static int count_write(void *data, const char *buf, size_t len)
{
  (void)buf;
  size_t *n = data;
  *n += len;
  return 0;
}

struct bounded {
  uint8_t *buf;
  size_t cap;
  size_t len;
  bool full;
};

/* The rare pieces longer than 16 bytes (a body), and a full buffer: out of
 * line, so that the short path below makes no call and saves no register. */
static __attribute__((noinline)) int bounded_write_long(struct bounded *b, const char *buf, size_t len)
{
  if (len > b->cap - b->len) {
    b->full = true;
    return -1;
  }
  memcpy(b->buf + b->len, buf, len);
  b->len += len;
  return 0;
}

static int bounded_write(void *data, const char *buf, size_t len)
{
  struct bounded *b = data;
  /* msgpack-c writes a value in pieces of a few bytes (a type byte, a
   * big-endian number, a key): those are copied without a call. */
  if (len > 16 || len > b->cap - b->len)
    return bounded_write_long(b, buf, len);
  uint8_t *d = b->buf + b->len;
  if (len >= 8) {
    uint64_t x, y;
    memcpy(&x, buf, 8);
    memcpy(&y, buf + len - 8, 8);
    memcpy(d, &x, 8);
    memcpy(d + len - 8, &y, 8);
  } else if (len >= 4) {
    uint32_t x, y;
    memcpy(&x, buf, 4);
    memcpy(&y, buf + len - 4, 4);
    memcpy(d, &x, 4);
    memcpy(d + len - 4, &y, 4);
  } else {
    for (size_t i = 0; i < len; i++)
      d[i] = (uint8_t)buf[i];
  }
  b->len += len;
  return 0;
}

/* ---- codec functions --------------------------------------------------- */

/* Name and value size: the type's, else its field table's. */
static const char *tname(const struct myelon_mp_type *t)
{
  return mp_type_name(t->name ? t->name : t->desc->name);
}

static size_t tsize(const struct myelon_mp_type *t)
{
  return t->size ? t->size : t->desc->size;
}

static int run_pack(const struct myelon_mp_type *t, msgpack_packer *pk, const void *value)
{
  if (!value)
    return myelon_codec_fail(MP_WHERE, MYELON_CODEC_ENCODE, "%s: value is NULL", tname(t));
  return t->desc ? myelon_mp_pack_struct(pk, t->desc, value) : t->pack(pk, value, t->user);
}

/* A pack callback's result, when the writer did not run out of room. */
static int pack_result(const struct myelon_mp_type *t, int rc)
{
  if (rc == 0 || rc == -MYELON_E_CODEC || rc == -ENOMEM)
    return rc;
  return myelon_codec_fail(MP_WHERE, MYELON_CODEC_ENCODE, "%s: pack callback failed (%d)", tname(t), rc);
}

static int mp_size(const void *value, size_t *len, void *user)
{
  const struct myelon_mp_type *t = user;
  size_t n = 0;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &n, count_write);
  int rc = pack_result(t, run_pack(t, &pk, value));
  if (rc == 0)
    *len = n;
  return rc;
}

static int mp_encode(const void *value, void *buf, size_t cap, size_t *len, void *user)
{
  const struct myelon_mp_type *t = user;
  struct bounded b = {.buf = buf, .cap = cap, .len = 0, .full = false};
  msgpack_packer pk;
  msgpack_packer_init(&pk, &b, bounded_write);
  int rc = run_pack(t, &pk, value);
  if (b.full)
    return -ENOSPC; /* whatever the callback made of the refusal */
  rc = pack_result(t, rc);
  if (rc == 0)
    *len = b.len;
  return rc;
}

static int unpack_result(const struct myelon_mp_type *t, int rc)
{
  if (rc == 0 || rc == -MYELON_E_CODEC || rc == -ENOMEM)
    return rc;
  return myelon_codec_fail(MP_WHERE, MYELON_CODEC_DECODE, "%s: unpack callback failed (%d)", tname(t), rc);
}

/* Parse into `arena` and unpack into a new value. */
static int decode_tree(const struct myelon_mp_type *t, const void *data, size_t len, struct myelon_mp_arena *arena,
                       void **value)
{
  const msgpack_object *root;
  int rc = myelon_mp_parse(data, len, arena, &root);
  if (rc < 0)
    return rc;
  void *v = calloc(1, tsize(t));
  if (!v)
    return dmp_error_set(MP_WHERE, "codec decode: out of memory for a %zu-byte value", tsize(t)), -ENOMEM;
  rc = unpack_result(t, t->desc ? myelon_mp_unpack_struct(root, t->desc, v) : t->unpack(root, v, t->user));
  if (rc < 0) {
    if (t->release)
      t->release(v, t->user);
    free(v);
    return rc;
  }
  *value = v;
  return 0;
}

/* One pass for the common case: a tree that fits the stack arena is parsed
 * straight into it (the parser bounds every read and every node, so a
 * separate validating pass would only repeat it). Only a tree larger than
 * the stack arena (-ENOBUFS from the parser, nothing else returns it) is
 * counted first, checked against max_nodes and parsed into a heap arena. */
static int mp_decode(const void *data, size_t len, void **value, void *user)
{
  const struct myelon_mp_type *t = user;
  size_t nodes, max_nodes = t->max_nodes ? t->max_nodes : MYELON_MP_DEFAULT_MAX_NODES;
  msgpack_object stack[STACK_NODES];
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, stack, max_nodes < STACK_NODES ? max_nodes : STACK_NODES, t->max_depth);
  int rc = decode_tree(t, data, len, &arena, value);
  if (rc != -ENOBUFS)
    return rc;
  rc = myelon_mp_validate(data, len, t->max_depth, &nodes);
  if (rc < 0)
    return rc;
  if (nodes > max_nodes)
    return myelon_codec_fail(MP_WHERE, MYELON_CODEC_DECODE, "%s: tree of %zu nodes exceeds the limit %zu", tname(t),
                             nodes, max_nodes);
  msgpack_object *heap = malloc(nodes * sizeof *heap);
  if (!heap)
    return dmp_error_set(MP_WHERE, "codec decode: out of memory for %zu nodes", nodes), -ENOMEM;
  myelon_mp_arena_init(&arena, heap, nodes, t->max_depth);
  rc = decode_tree(t, data, len, &arena, value);
  free(heap);
  return rc;
}

/* ---- the direct writer's codec (myelon_msgpack_codec_init_writer) ----- */

static int run_write(const struct myelon_mp_wtype *t, struct myelon_mp_writer *w, const void *value)
{
  if (!value)
    return myelon_codec_fail(MP_WHERE, MYELON_CODEC_ENCODE, "%s: value is NULL", tname(&t->base));
  return t->write(w, value, t->base.user);
}

static int mp_wsize(const void *value, size_t *len, void *user)
{
  const struct myelon_mp_wtype *t = user;
  struct myelon_mp_writer w;
  myelon_mp_writer_count(&w);
  int rc = run_write(t, &w, value);
  if (rc == -ENOSPC) /* a counting writer never refuses: the callback's own */
    rc = -EIO;
  rc = pack_result(&t->base, rc);
  if (rc == 0)
    *len = w.counted;
  return rc;
}

static int mp_wencode(const void *value, void *buf, size_t cap, size_t *len, void *user)
{
  const struct myelon_mp_wtype *t = user;
  struct myelon_mp_writer w;
  myelon_mp_writer_init(&w, buf, cap);
  int rc = run_write(t, &w, value);
  if (w.full || rc == -ENOSPC)
    return -ENOSPC;
  rc = pack_result(&t->base, rc);
  if (rc == 0)
    *len = (size_t)(w.pos - (uint8_t *)buf);
  return rc;
}

static void mp_free(void *value, void *user)
{
  const struct myelon_mp_type *t = user;
  if (!value)
    return;
  if (t->release)
    t->release(value, t->user);
  free(value);
}

bool myelon_impl_mp_codec_encodes_first(const struct myelon_codec *c)
{
  return (c->size == mp_size && c->encode == mp_encode) || (c->size == mp_wsize && c->encode == mp_wencode);
}

int myelon_msgpack_codec_init_writer(struct myelon_codec *codec, const struct myelon_mp_wtype *type)
{
  const char *fn = "myelon_msgpack_codec_init_writer";
  if (!codec || !type || !type->write || !type->base.unpack || !type->base.name || type->base.size == 0 ||
      type->base.desc)
    return dmp_error_set(fn, "codec or type is NULL, the type lacks write, unpack, a name or a size, or has a "
                             "field table"),
           -EINVAL;
  if (type->base.max_depth > MYELON_MP_MAX_DEPTH)
    return dmp_error_set(fn, "%s: max_depth %u exceeds %u", type->base.name, type->base.max_depth,
                         MYELON_MP_MAX_DEPTH),
           -EINVAL;
  /* decode and free read only `base` (the first member, same address). */
  *codec = (struct myelon_codec){.name = mp_type_name(type->base.name),
                                 .size = mp_wsize,
                                 .encode = mp_wencode,
                                 .decode = mp_decode,
                                 .free = mp_free,
                                 .user = (void *)type};
  return 0;
}

int myelon_msgpack_codec_init(struct myelon_codec *codec, const struct myelon_mp_type *type)
{
  const char *fn = "myelon_msgpack_codec_init";
  if (!codec || !type || (!type->desc && (!type->name || type->size == 0)))
    return dmp_error_set(fn, "codec or type is NULL, or a type without a field table has no name or size"), -EINVAL;
  if (!type->desc && (!type->pack || !type->unpack))
    return dmp_error_set(fn, "%s: needs a field table or pack and unpack", type->name), -EINVAL;
  if (type->desc) {
    int rc = myelon_mp_struct_check(type->desc);
    if (rc < 0)
      return rc;
    if (type->size && type->desc->size > type->size)
      return dmp_error_set(fn, "%s: value size %zu is below the struct's %zu", tname(type), type->size,
                           type->desc->size),
             -EINVAL;
  }
  if (type->max_depth > MYELON_MP_MAX_DEPTH)
    return dmp_error_set(fn, "%s: max_depth %u exceeds %u", tname(type), type->max_depth, MYELON_MP_MAX_DEPTH),
           -EINVAL;
  *codec = (struct myelon_codec){.name = tname(type),
                                 .size = mp_size,
                                 .encode = mp_encode,
                                 .decode = mp_decode,
                                 .free = mp_free,
                                 .user = (void *)type};
  return 0;
}
