/* Fixture of the typed tests: see typed_fixture.h. */
#include "typed_fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- descriptions ------------------------------------------------------ */

static const struct myelon_mp_field tf_point_fields[] = {
  MYELON_MP_NUM(struct tf_point, x),
  MYELON_MP_NUM(struct tf_point, y),
  MYELON_MP_STR(struct tf_point, label),
};
const struct myelon_mp_struct tf_point_desc = MYELON_MP_STRUCT(struct tf_point, tf_point_fields);

static const struct myelon_mp_field tf_order_fields[] = {
  MYELON_MP_NUM(struct tf_order, id),
  MYELON_MP_NUM(struct tf_order, seq),
  MYELON_MP_NUM(struct tf_order, qty),
  MYELON_MP_NUM(struct tf_order, flags),
  MYELON_MP_NUM(struct tf_order, delta),
  MYELON_MP_NUM(struct tf_order, shift),
  MYELON_MP_NUM(struct tf_order, port),
  MYELON_MP_NUM(struct tf_order, active),
  MYELON_MP_NUM(struct tf_order, ratio),
  MYELON_MP_NUM(struct tf_order, px),
  MYELON_MP_STR(struct tf_order, sym),
  MYELON_MP_BIN(struct tf_order, tag, tag_len),
  MYELON_MP_NUM_ARRAY(struct tf_order, levels, n_levels),
  MYELON_MP_NUM_ARRAY(struct tf_order, weights, n_weights),
  MYELON_MP_STR_ARRAY(struct tf_order, notes, n_notes),
  MYELON_MP_BIN_ARRAY(struct tf_order, blobs, n_blobs, struct tf_blob, data, len),
  MYELON_MP_MAP(struct tf_order, origin, tf_point_desc),
  MYELON_MP_MAP_ARRAY(struct tf_order, path, n_path, tf_point_desc),
  MYELON_MP_BIN(struct tf_order, payload, payload_len),
};
const struct myelon_mp_struct tf_order_desc = MYELON_MP_STRUCT(struct tf_order, tf_order_fields);
const struct myelon_mp_type tf_order_type = MYELON_MP_TYPE_DESC(tf_order_desc);

void tf_codec(struct myelon_codec *c)
{
  int rc = myelon_msgpack_codec_init(c, &tf_order_type);
  if (rc != 0) {
    fprintf(stderr, "tf_codec: %s / %s\n", myelon_err_name(rc), dmp_last_error());
    abort();
  }
}

/* ---- values ------------------------------------------------------------ */

uint64_t tf_rand(uint64_t *state)
{
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void fill_text(char *dst, size_t cap, uint64_t *st)
{
  size_t n = (size_t)(tf_rand(st) % cap); /* 0 .. cap-1 characters */
  for (size_t i = 0; i < n; i++)
    dst[i] = (char)('a' + tf_rand(st) % 26);
  dst[n] = '\0';
}

static void fill_point(struct tf_point *p, uint64_t *st)
{
  p->x = (double)(int64_t)tf_rand(st) / 3.0;
  p->y = -(double)(tf_rand(st) % 100000) / 7.0;
  fill_text(p->label, sizeof p->label, st);
}

void tf_fill(struct tf_order *o, uint64_t seed, uint32_t payload_len)
{
  uint64_t st = seed;
  memset(o, 0, sizeof *o);
  o->id = (int64_t)tf_rand(&st); /* any sign, any width */
  o->seq = seed;
  o->qty = (int32_t)(tf_rand(&st) >> 32);
  o->flags = (uint8_t)tf_rand(&st);
  o->delta = (int8_t)(tf_rand(&st) % 256 - 128);
  o->shift = (int16_t)(tf_rand(&st) % 65536 - 32768);
  o->port = (uint16_t)tf_rand(&st);
  o->active = tf_rand(&st) & 1;
  o->ratio = (float)(tf_rand(&st) % 1000000) / 64.0f;
  o->px = (double)tf_rand(&st) / 1e6;
  fill_text(o->sym, sizeof o->sym, &st);
  o->tag_len = (uint32_t)(tf_rand(&st) % (sizeof o->tag + 1));
  for (uint32_t i = 0; i < o->tag_len; i++)
    o->tag[i] = (uint8_t)tf_rand(&st);
  o->n_levels = (uint32_t)(tf_rand(&st) % 9);
  for (uint32_t i = 0; i < o->n_levels; i++)
    o->levels[i] = (int32_t)(int64_t)(tf_rand(&st) % 2000001) - 1000000;
  o->n_weights = (uint8_t)(tf_rand(&st) % 5);
  for (uint8_t i = 0; i < o->n_weights; i++)
    o->weights[i] = (double)tf_rand(&st) / (double)UINT64_MAX;
  o->n_notes = (uint32_t)(tf_rand(&st) % 4);
  for (uint32_t i = 0; i < o->n_notes; i++)
    fill_text(o->notes[i], sizeof o->notes[i], &st);
  o->n_blobs = (uint32_t)(tf_rand(&st) % 4);
  for (uint32_t i = 0; i < o->n_blobs; i++) {
    o->blobs[i].len = (uint16_t)(tf_rand(&st) % 17);
    for (uint16_t k = 0; k < o->blobs[i].len; k++)
      o->blobs[i].data[k] = (uint8_t)tf_rand(&st);
  }
  fill_point(&o->origin, &st);
  o->n_path = (uint32_t)(tf_rand(&st) % 5);
  for (uint32_t i = 0; i < o->n_path; i++)
    fill_point(&o->path[i], &st);
  o->payload_len = payload_len > TF_PAYLOAD_MAX ? TF_PAYLOAD_MAX : payload_len;
  for (uint32_t i = 0; i < o->payload_len; i++)
    o->payload[i] = (uint8_t)(seed + i * 31u);
}

static bool differ(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool differ(char *why, size_t n, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  if (why && n)
    vsnprintf(why, n, fmt, ap);
  va_end(ap);
  return false;
}

#define SAME(field, fmt, cast)                                                                          \
  do {                                                                                                  \
    if (a->field != b->field)                                                                           \
      return differ(why, n, #field ": " fmt " != " fmt, (cast)a->field, (cast)b->field);                \
  } while (0)

static bool point_equal(const struct tf_point *a, const struct tf_point *b, char *why, size_t n)
{
  SAME(x, "%g", double);
  SAME(y, "%g", double);
  if (strcmp(a->label, b->label) != 0)
    return differ(why, n, "label: '%s' != '%s'", a->label, b->label);
  return true;
}

static bool arrays_equal(const struct tf_order *a, const struct tf_order *b, char *why, size_t n)
{
  SAME(n_levels, "%u", unsigned);
  if (memcmp(a->levels, b->levels, a->n_levels * sizeof a->levels[0]) != 0)
    return differ(why, n, "levels differ");
  SAME(n_weights, "%u", unsigned);
  for (unsigned i = 0; i < a->n_weights; i++)
    if (a->weights[i] != b->weights[i])
      return differ(why, n, "weights[%u]: %g != %g", i, a->weights[i], b->weights[i]);
  SAME(n_notes, "%u", unsigned);
  for (unsigned i = 0; i < a->n_notes; i++)
    if (strcmp(a->notes[i], b->notes[i]) != 0)
      return differ(why, n, "notes[%u]: '%s' != '%s'", i, a->notes[i], b->notes[i]);
  SAME(n_blobs, "%u", unsigned);
  for (unsigned i = 0; i < a->n_blobs; i++)
    if (a->blobs[i].len != b->blobs[i].len || memcmp(a->blobs[i].data, b->blobs[i].data, a->blobs[i].len) != 0)
      return differ(why, n, "blobs[%u] differ", i);
  SAME(n_path, "%u", unsigned);
  for (unsigned i = 0; i < a->n_path; i++)
    if (!point_equal(&a->path[i], &b->path[i], why, n))
      return false;
  return true;
}

bool tf_equal(const struct tf_order *a, const struct tf_order *b, char *why, size_t n)
{
  SAME(id, "%lld", long long);
  SAME(seq, "%llu", unsigned long long);
  SAME(qty, "%d", int);
  SAME(flags, "%u", unsigned);
  SAME(delta, "%d", int);
  SAME(shift, "%d", int);
  SAME(port, "%u", unsigned);
  SAME(active, "%d", int);
  SAME(ratio, "%g", double);
  SAME(px, "%g", double);
  if (strcmp(a->sym, b->sym) != 0)
    return differ(why, n, "sym: '%s' != '%s'", a->sym, b->sym);
  SAME(tag_len, "%u", unsigned);
  if (memcmp(a->tag, b->tag, a->tag_len) != 0)
    return differ(why, n, "tag bytes differ");
  if (!arrays_equal(a, b, why, n) || !point_equal(&a->origin, &b->origin, why, n))
    return false;
  SAME(payload_len, "%u", unsigned);
  if (memcmp(a->payload, b->payload, a->payload_len) != 0)
    return differ(why, n, "payload bytes differ");
  return true;
}

/* ---- zero-copy view oracle (independent of the field-table code) -------- */

struct vctx {
  const uint8_t *lo;
  size_t len;
  char *why;
  size_t n;
};

static const msgpack_object *vget(const msgpack_object *m, const char *key, msgpack_object_type t, struct vctx *v)
{
  const msgpack_object *o = myelon_mp_map_get(m, key);
  if (!o) {
    differ(v->why, v->n, "%s: missing from the view", key);
    return NULL;
  }
  if (o->type != t) {
    differ(v->why, v->n, "%s: type %d, expected %d", key, (int)o->type, (int)t);
    return NULL;
  }
  return o;
}

static bool vint(const msgpack_object *o, int64_t want, const char *key, struct vctx *v)
{
  bool ok = o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? o->via.i64 == want
            : o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? want >= 0 && o->via.u64 == (uint64_t)want
                                                         : false;
  return ok ? true : differ(v->why, v->n, "%s: view integer differs from %lld", key, (long long)want);
}

static bool vint_key(const msgpack_object *m, const char *key, int64_t want, struct vctx *v)
{
  const msgpack_object *o = myelon_mp_map_get(m, key);
  return o ? vint(o, want, key, v) : differ(v->why, v->n, "%s: missing", key);
}

static bool vuint_key(const msgpack_object *m, const char *key, uint64_t want, struct vctx *v)
{
  const msgpack_object *o = vget(m, key, MSGPACK_OBJECT_POSITIVE_INTEGER, v);
  if (o && o->via.u64 != want)
    return differ(v->why, v->n, "%s: view integer differs from %llu", key, (unsigned long long)want);
  return o != NULL;
}

static bool inside(const void *p, size_t size, struct vctx *v)
{
  const uint8_t *b = p;
  return b >= v->lo && b <= v->lo + v->len && size <= (size_t)(v->lo + v->len - b);
}

static bool vraw(const msgpack_object *o, const void *want, size_t len, const char *key, struct vctx *v)
{
  if (o->via.str.size != len || (len && memcmp(o->via.str.ptr, want, len) != 0))
    return differ(v->why, v->n, "%s: view bytes differ (%u vs %zu bytes)", key, o->via.str.size, len);
  if (!inside(o->via.str.ptr, o->via.str.size, v))
    return differ(v->why, v->n, "%s: view points outside the message (%p, message at %p + %zu)", key,
                  (const void *)o->via.str.ptr, (const void *)v->lo, v->len);
  return true;
}

static bool vstr_key(const msgpack_object *m, const char *key, const char *want, struct vctx *v)
{
  const msgpack_object *o = vget(m, key, MSGPACK_OBJECT_STR, v);
  return o && vraw(o, want, strlen(want), key, v);
}

static bool vf64(const msgpack_object *o, double want, const char *key, struct vctx *v)
{
  if (o->type != MSGPACK_OBJECT_FLOAT64 || o->via.f64 != want)
    return differ(v->why, v->n, "%s: view double differs from %g", key, want);
  return true;
}

static bool vpoint(const msgpack_object *o, const struct tf_point *p, struct vctx *v)
{
  if (o->type != MSGPACK_OBJECT_MAP)
    return differ(v->why, v->n, "point: not a map");
  const msgpack_object *x = vget(o, "x", MSGPACK_OBJECT_FLOAT64, v), *y = vget(o, "y", MSGPACK_OBJECT_FLOAT64, v);
  return x && y && vf64(x, p->x, "x", v) && vf64(y, p->y, "y", v) && vstr_key(o, "label", p->label, v);
}

static const msgpack_object *varray(const msgpack_object *m, const char *key, uint32_t count, struct vctx *v)
{
  const msgpack_object *o = vget(m, key, MSGPACK_OBJECT_ARRAY, v);
  if (o && o->via.array.size != count) {
    differ(v->why, v->n, "%s: %u elements, expected %u", key, o->via.array.size, count);
    return NULL;
  }
  return o;
}

static bool view_arrays(const msgpack_object *m, const struct tf_order *o, struct vctx *v)
{
  const msgpack_object *a = varray(m, "levels", o->n_levels, v);
  for (uint32_t i = 0; a && i < o->n_levels; i++)
    if (!vint(&a->via.array.ptr[i], o->levels[i], "levels[]", v))
      return false;
  const msgpack_object *w = a ? varray(m, "weights", o->n_weights, v) : NULL;
  for (uint32_t i = 0; w && i < o->n_weights; i++)
    if (!vf64(&w->via.array.ptr[i], o->weights[i], "weights[]", v))
      return false;
  const msgpack_object *t = w ? varray(m, "notes", o->n_notes, v) : NULL;
  for (uint32_t i = 0; t && i < o->n_notes; i++)
    if (t->via.array.ptr[i].type != MSGPACK_OBJECT_STR || !vraw(&t->via.array.ptr[i], o->notes[i], strlen(o->notes[i]), "notes[]", v))
      return differ(v->why, v->n, "notes[%u] differ", i);
  const msgpack_object *b = t ? varray(m, "blobs", o->n_blobs, v) : NULL;
  for (uint32_t i = 0; b && i < o->n_blobs; i++)
    if (b->via.array.ptr[i].type != MSGPACK_OBJECT_BIN || !vraw(&b->via.array.ptr[i], o->blobs[i].data, o->blobs[i].len, "blobs[]", v))
      return differ(v->why, v->n, "blobs[%u] differ", i);
  const msgpack_object *p = b ? varray(m, "path", o->n_path, v) : NULL;
  for (uint32_t i = 0; p && i < o->n_path; i++)
    if (!vpoint(&p->via.array.ptr[i], &o->path[i], v))
      return false;
  return p != NULL;
}

bool tf_view_equal(const msgpack_object *root, const struct tf_order *o, const void *lo, size_t len, char *why,
                   size_t n)
{
  struct vctx v = {lo, len, why, n};
  if (!root || root->type != MSGPACK_OBJECT_MAP)
    return differ(why, n, "view root is not a map");
  if (!vint_key(root, "id", o->id, &v) || !vuint_key(root, "seq", o->seq, &v) ||
      !vint_key(root, "qty", o->qty, &v) || !vint_key(root, "flags", o->flags, &v) ||
      !vint_key(root, "delta", o->delta, &v) || !vint_key(root, "shift", o->shift, &v) ||
      !vint_key(root, "port", o->port, &v))
    return false;
  const msgpack_object *active = vget(root, "active", MSGPACK_OBJECT_BOOLEAN, &v);
  const msgpack_object *ratio = active ? vget(root, "ratio", MSGPACK_OBJECT_FLOAT32, &v) : NULL;
  const msgpack_object *px = ratio ? vget(root, "px", MSGPACK_OBJECT_FLOAT64, &v) : NULL;
  if (!px)
    return false;
  if (active->via.boolean != o->active || (float)ratio->via.f64 != o->ratio)
    return differ(why, n, "active or ratio differ");
  if (!vf64(px, o->px, "px", &v) || !vstr_key(root, "sym", o->sym, &v))
    return false;
  const msgpack_object *tag = vget(root, "tag", MSGPACK_OBJECT_BIN, &v);
  if (!tag || !vraw(tag, o->tag, o->tag_len, "tag", &v) || !view_arrays(root, o, &v))
    return false;
  const msgpack_object *origin = myelon_mp_map_get(root, "origin");
  if (!origin || !vpoint(origin, &o->origin, &v))
    return origin ? false : differ(why, n, "origin missing");
  const msgpack_object *pl = vget(root, "payload", MSGPACK_OBJECT_BIN, &v);
  return pl && vraw(pl, o->payload, o->payload_len, "payload", &v);
}

/* ---- fixed-layout types -------------------------------------------------- */

static void fixed_or_die(int rc, const char *what)
{
  if (rc != 0) {
    fprintf(stderr, "%s: %s / %s\n", what, myelon_err_name(rc), dmp_last_error());
    abort();
  }
}

void tf_tick_type(struct myelon_fixed_type *t)
{
  fixed_or_die(MYELON_FIXED_TYPE_INIT(t, struct tf_tick, "i64 ts; f64 px; u32 qty; u32 venue"), "tick");
}

void tf_other_type(struct myelon_fixed_type *t)
{
  fixed_or_die(MYELON_FIXED_TYPE_INIT(t, struct tf_other, "i64 a; i64 b; i64 c"), "other");
}

void tf_vec_type(struct myelon_fixed_type *t)
{
  fixed_or_die(MYELON_FIXED_TYPE_INIT(t, struct tf_vec, "f32 v[4] align 16"), "vec");
}

/* ---- configs ------------------------------------------------------------- */

struct myelon_producer_config tf_pcfg(enum dmp_backend b, const char *name, enum myelon_frame_format fmt,
                                      uint32_t frame_cap, uint64_t slots)
{
  struct myelon_producer_config pc;
  myelon_producer_config_init(&pc);
  pc.ring.backend = b;
  pc.ring.name = name;
  pc.ring.capacity = slots;
  pc.format = fmt;
  pc.frame_capacity = frame_cap;
  pc.max_message = 64u << 10;
  if (fmt == MYELON_FRAME_BYTES)
    pc.ring_bytes = tf_ring_bytes(frame_cap, slots);
  return pc;
}

uint64_t tf_ring_bytes(uint32_t frame_cap, uint64_t slots)
{
  /* The bytes the slot ring's frames would take, each with the record and
   * frame header of a byte ring (32 bytes), rounded up to a power of two;
   * TF_PAYLOAD_MAX's value (about 6.4 KiB encoded) always fits whole, so
   * never less than 32 KiB (largest message 16 KiB - 32). */
  uint64_t want = slots * ((uint64_t)frame_cap + 32);
  uint64_t r = UINT64_C(32) << 10;
  while (r < want)
    r *= 2;
  return r;
}

struct myelon_consumer_config tf_ccfg(const struct myelon_producer_config *pc, const char *id)
{
  struct myelon_consumer_config cc;
  myelon_consumer_config_init(&cc);
  cc.ring.backend = pc->ring.backend;
  cc.ring.name = pc->ring.name;
  cc.ring.id = id;
  cc.format = pc->format;
  cc.frame_capacity = pc->frame_capacity;
  cc.max_message = pc->max_message;
  return cc;
}

uint32_t tf_stream_len(uint64_t i)
{
  static const uint32_t lens[] = {0, 1, 40, 3000, 120, TF_PAYLOAD_MAX, 700, 16};
  return lens[i % (sizeof lens / sizeof lens[0])];
}
