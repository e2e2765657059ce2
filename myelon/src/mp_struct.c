/* Field tables: a C struct <-> a msgpack map (msgpack_codec.h).
 *
 * Packing walks the table and writes a map keyed by field names; unpacking
 * walks the map's keys and looks each up in the table. Numbers are read
 * and written through memcpy at the member's offset and size, so the table
 * never assumes a member's alignment. Every length, count and range is
 * checked; a failure names "<struct>.<field>". */
#include <myelon/error.h>
#include <myelon/msgpack_codec.h>

#include "mp_internal.h"

#include <disruptor_mp/error.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#define ENC MYELON_CODEC_ENCODE
#define DEC MYELON_CODEC_DECODE

/* ---- member access ---------------------------------------------------- */

static uint64_t load_uint(const uint8_t *p, size_t size)
{
  switch (size) {
  case 1: { uint8_t v; memcpy(&v, p, 1); return v; }
  case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
  case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
  default: { uint64_t v; memcpy(&v, p, 8); return v; }
  }
}

static int64_t load_int(const uint8_t *p, size_t size)
{
  switch (size) {
  case 1: { int8_t v; memcpy(&v, p, 1); return v; }
  case 2: { int16_t v; memcpy(&v, p, 2); return v; }
  case 4: { int32_t v; memcpy(&v, p, 4); return v; }
  default: { int64_t v; memcpy(&v, p, 8); return v; }
  }
}

/* Store v into an unsigned member of `size` bytes (caller checked the range). */
static void store_uint(uint8_t *p, size_t size, uint64_t v)
{
  switch (size) {
  case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
  case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
  case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
  default: memcpy(p, &v, 8); break;
  }
}

static void store_int(uint8_t *p, size_t size, int64_t v)
{
  switch (size) {
  case 1: { int8_t x = (int8_t)v; memcpy(p, &x, 1); break; }
  case 2: { int16_t x = (int16_t)v; memcpy(p, &x, 2); break; }
  case 4: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
  default: memcpy(p, &v, 8); break;
  }
}

static uint64_t uint_max(size_t size)
{
  return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

static int64_t int_max(size_t size)
{
  return (int64_t)(uint_max(size) >> 1);
}

/* ---- description check ------------------------------------------------ */

static bool num_size_ok(const struct myelon_mp_field *f)
{
  switch (f->kind) {
  case MYELON_MP_BOOL:
    return f->size == sizeof(_Bool);
  case MYELON_MP_INT:
  case MYELON_MP_UINT:
    return f->size == 1 || f->size == 2 || f->size == 4 || f->size == 8;
  case MYELON_MP_FLOAT:
    return f->size == sizeof(float) || f->size == sizeof(double);
  case MYELON_MP_STR:
    return f->size >= 2;
  case MYELON_MP_BIN:
    return f->size >= 1 && (f->len_size == 1 || f->len_size == 2 || f->len_size == 4 || f->len_size == 8);
  case MYELON_MP_MAP:
    return f->sub && f->sub->size == f->size;
  }
  return false;
}

static bool inside(size_t off, size_t n, size_t total)
{
  return off <= total && n <= total - off;
}

static int check_field(const struct myelon_mp_struct *st, const struct myelon_mp_field *f, unsigned depth);

static int check_struct(const struct myelon_mp_struct *st, unsigned depth)
{
  if (!st || !st->name || st->size == 0 || (st->n_fields && !st->fields))
    return dmp_error_set("myelon_mp_struct_check", "struct description is NULL, unnamed or empty"), -EINVAL;
  if (depth > MYELON_MP_MAX_DEPTH)
    return dmp_error_set("myelon_mp_struct_check", "%s: nested deeper than %u", mp_type_name(st->name), MYELON_MP_MAX_DEPTH),
           -EINVAL;
  for (size_t i = 0; i < st->n_fields; i++) {
    int rc = check_field(st, &st->fields[i], depth);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static int check_field(const struct myelon_mp_struct *st, const struct myelon_mp_field *f, unsigned depth)
{
  const char *why = NULL;
  size_t count = f->max_count ? f->max_count : 1;
  size_t span = f->max_count ? f->stride * (count - 1) + f->size : f->size;
  if (!f->name)
    why = "has no name";
  else if (!num_size_ok(f))
    why = "has an unknown kind or a bad size";
  else if (f->max_count && (f->stride < f->size || f->max_count > UINT32_MAX ||
                            (f->count_size != 1 && f->count_size != 2 && f->count_size != 4 && f->count_size != 8) ||
                            !inside(f->count_offset, f->count_size, st->size)))
    why = "is an array with a bad stride, capacity or count member";
  else if (f->max_count && f->stride > (SIZE_MAX - f->size) / count)
    why = "is an array that overflows";
  else if (!inside(f->offset, span, st->size))
    why = "lies outside the struct";
  else if (f->kind == MYELON_MP_BIN && (f->len_rel < -(ptrdiff_t)f->offset ||
                                        !inside((size_t)((ptrdiff_t)f->offset + f->len_rel) + span - f->size,
                                                f->len_size, st->size)))
    why = "has its length member outside the struct";
  if (why)
    return dmp_error_set("myelon_mp_struct_check", "%s.%s %s", mp_type_name(st->name), f->name ? f->name : "?", why), -EINVAL;
  return f->kind == MYELON_MP_MAP ? check_struct(f->sub, depth + 1) : 0;
}

int myelon_mp_struct_check(const struct myelon_mp_struct *st)
{
  return check_struct(st, 0);
}

/* ---- packing ---------------------------------------------------------- */

/* msgpack-c's pack functions return the writer's result: nonzero = refused. */
#define PK(call)            \
  do {                      \
    if ((call) != 0)        \
      return -ENOSPC;       \
  } while (0)

static int pack_elem(msgpack_packer *pk, const struct myelon_mp_struct *st, const struct myelon_mp_field *f,
                     const uint8_t *p)
{
  switch (f->kind) {
  case MYELON_MP_BOOL: {
    _Bool b;
    memcpy(&b, p, sizeof b);
    PK(b ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    return 0;
  }
  case MYELON_MP_INT:
    PK(msgpack_pack_int64(pk, load_int(p, f->size)));
    return 0;
  case MYELON_MP_UINT:
    PK(msgpack_pack_uint64(pk, load_uint(p, f->size)));
    return 0;
  case MYELON_MP_FLOAT:
    if (f->size == sizeof(float)) {
      float v;
      memcpy(&v, p, sizeof v);
      PK(msgpack_pack_float(pk, v));
    } else {
      double v;
      memcpy(&v, p, sizeof v);
      PK(msgpack_pack_double(pk, v));
    }
    return 0;
  case MYELON_MP_STR: {
    const char *s = (const char *)p;
    size_t n = strnlen(s, f->size);
    if (n == f->size)
      return myelon_codec_fail(MP_WHERE, ENC, "%s.%s: string is not NUL-terminated within its %zu bytes", mp_type_name(st->name),
                               f->name, f->size);
    PK(msgpack_pack_str_with_body(pk, s, n));
    return 0;
  }
  case MYELON_MP_BIN: {
    uint64_t n = load_uint(p + f->len_rel, f->len_size);
    if (n > f->size)
      return myelon_codec_fail(MP_WHERE, ENC, "%s.%s: length %llu exceeds the capacity %zu", mp_type_name(st->name), f->name,
                               (unsigned long long)n, f->size);
    PK(msgpack_pack_bin_with_body(pk, p, (size_t)n));
    return 0;
  }
  case MYELON_MP_MAP:
    return myelon_mp_pack_struct(pk, f->sub, p);
  }
  return myelon_codec_fail(MP_WHERE, ENC, "%s.%s: unknown kind", mp_type_name(st->name), f->name);
}

static int pack_field(msgpack_packer *pk, const struct myelon_mp_struct *st, const struct myelon_mp_field *f,
                      const uint8_t *base)
{
  PK(msgpack_pack_str_with_body(pk, f->name, strlen(f->name)));
  if (!f->max_count)
    return pack_elem(pk, st, f, base + f->offset);
  uint64_t n = load_uint(base + f->count_offset, f->count_size);
  if (n > f->max_count)
    return myelon_codec_fail(MP_WHERE, ENC, "%s.%s: count %llu exceeds the capacity %zu", mp_type_name(st->name), f->name,
                             (unsigned long long)n, f->max_count);
  PK(msgpack_pack_array(pk, (size_t)n));
  for (uint64_t i = 0; i < n; i++) {
    int rc = pack_elem(pk, st, f, base + f->offset + (size_t)i * f->stride);
    if (rc < 0)
      return rc;
  }
  return 0;
}

int myelon_mp_pack_struct(msgpack_packer *pk, const struct myelon_mp_struct *st, const void *value)
{
  if (!pk || !st || !value)
    return -EINVAL;
  PK(msgpack_pack_map(pk, st->n_fields));
  for (size_t i = 0; i < st->n_fields; i++) {
    int rc = pack_field(pk, st, &st->fields[i], value);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* ---- unpacking -------------------------------------------------------- */

static const char *type_name(msgpack_object_type t)
{
  switch (t) {
  case MSGPACK_OBJECT_NIL: return "nil";
  case MSGPACK_OBJECT_BOOLEAN: return "bool";
  case MSGPACK_OBJECT_POSITIVE_INTEGER: return "uint";
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
  case MSGPACK_OBJECT_FLOAT32: return "float32";
  case MSGPACK_OBJECT_FLOAT64: return "float64";
  case MSGPACK_OBJECT_STR: return "str";
  case MSGPACK_OBJECT_ARRAY: return "array";
  case MSGPACK_OBJECT_MAP: return "map";
  case MSGPACK_OBJECT_BIN: return "bin";
  case MSGPACK_OBJECT_EXT: return "ext";
  }
  return "?";
}

static int wrong_type(const struct myelon_mp_struct *st, const struct myelon_mp_field *f, const char *want,
                      const msgpack_object *o)
{
  return myelon_codec_fail(MP_WHERE, DEC, "%s.%s: expected %s, got %s", mp_type_name(st->name), f->name, want, type_name(o->type));
}

static int out_of_range(const struct myelon_mp_struct *st, const struct myelon_mp_field *f)
{
  return myelon_codec_fail(MP_WHERE, DEC, "%s.%s: value out of range for a %zu-byte %s", mp_type_name(st->name), f->name, f->size,
                           f->kind == MYELON_MP_UINT ? "unsigned" : f->kind == MYELON_MP_INT ? "integer" : "float");
}

static int unpack_int(const struct myelon_mp_struct *st, const struct myelon_mp_field *f, const msgpack_object *o,
                      uint8_t *p)
{
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
    uint64_t v = o->via.u64;
    if (f->kind == MYELON_MP_UINT ? v > uint_max(f->size) : v > (uint64_t)int_max(f->size))
      return out_of_range(st, f);
    if (f->kind == MYELON_MP_UINT)
      store_uint(p, f->size, v);
    else
      store_int(p, f->size, (int64_t)v);
    return 0;
  }
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && f->kind == MYELON_MP_INT) {
    int64_t v = o->via.i64;
    if (v < -int_max(f->size) - 1)
      return out_of_range(st, f);
    store_int(p, f->size, v);
    return 0;
  }
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    return out_of_range(st, f);
  return wrong_type(st, f, "an integer", o);
}

static int unpack_float(const struct myelon_mp_struct *st, const struct myelon_mp_field *f, const msgpack_object *o,
                        uint8_t *p)
{
  double d;
  if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
    d = o->via.f64;
  else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
    d = (double)o->via.u64;
  else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    d = (double)o->via.i64;
  else
    return wrong_type(st, f, "a number", o);
  if (f->size == sizeof(float)) {
    if ((d > FLT_MAX || d < -FLT_MAX) && !isinf(d))
      return out_of_range(st, f);
    float v = (float)d;
    memcpy(p, &v, sizeof v);
  } else {
    memcpy(p, &d, sizeof d);
  }
  return 0;
}

static int unpack_elem(const struct myelon_mp_struct *st, const struct myelon_mp_field *f, const msgpack_object *o,
                       uint8_t *p)
{
  switch (f->kind) {
  case MYELON_MP_BOOL: {
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
      return wrong_type(st, f, "bool", o);
    _Bool b = o->via.boolean;
    memcpy(p, &b, sizeof b);
    return 0;
  }
  case MYELON_MP_INT:
  case MYELON_MP_UINT:
    return unpack_int(st, f, o, p);
  case MYELON_MP_FLOAT:
    return unpack_float(st, f, o, p);
  case MYELON_MP_STR:
    if (o->type != MSGPACK_OBJECT_STR)
      return wrong_type(st, f, "str", o);
    if (o->via.str.size >= f->size)
      return myelon_codec_fail(MP_WHERE, DEC, "%s.%s: string of %u bytes exceeds the limit %zu", mp_type_name(st->name), f->name,
                               o->via.str.size, f->size - 1);
    if (o->via.str.size)
      memcpy(p, o->via.str.ptr, o->via.str.size);
    p[o->via.str.size] = 0;
    return 0;
  case MYELON_MP_BIN:
    if (o->type != MSGPACK_OBJECT_BIN)
      return wrong_type(st, f, "bin", o);
    if (o->via.bin.size > f->size)
      return myelon_codec_fail(MP_WHERE, DEC, "%s.%s: %u bytes exceed the capacity %zu", mp_type_name(st->name), f->name,
                               o->via.bin.size, f->size);
    if (o->via.bin.size)
      memcpy(p, o->via.bin.ptr, o->via.bin.size);
    store_uint(p + f->len_rel, f->len_size, o->via.bin.size);
    return 0;
  case MYELON_MP_MAP:
    return myelon_mp_unpack_struct(o, f->sub, p);
  }
  return myelon_codec_fail(MP_WHERE, DEC, "%s.%s: unknown kind", mp_type_name(st->name), f->name);
}

static int unpack_field(const struct myelon_mp_struct *st, const struct myelon_mp_field *f, const msgpack_object *o,
                        uint8_t *base)
{
  if (!f->max_count)
    return unpack_elem(st, f, o, base + f->offset);
  if (o->type != MSGPACK_OBJECT_ARRAY)
    return wrong_type(st, f, "array", o);
  uint32_t n = o->via.array.size;
  if (n > f->max_count)
    return myelon_codec_fail(MP_WHERE, DEC, "%s.%s: %u elements exceed the capacity %zu", mp_type_name(st->name), f->name, n,
                             f->max_count);
  for (uint32_t i = 0; i < n; i++) {
    int rc = unpack_elem(st, f, &o->via.array.ptr[i], base + f->offset + (size_t)i * f->stride);
    if (rc < 0)
      return rc;
  }
  store_uint(base + f->count_offset, f->count_size, n);
  return 0;
}

static const struct myelon_mp_field *find_field(const struct myelon_mp_struct *st, const msgpack_object_str *key)
{
  for (size_t i = 0; i < st->n_fields; i++) {
    const char *name = st->fields[i].name;
    if (strlen(name) == key->size && memcmp(name, key->ptr, key->size) == 0)
      return &st->fields[i];
  }
  return NULL;
}

int myelon_mp_unpack_struct(const msgpack_object *obj, const struct myelon_mp_struct *st, void *value)
{
  if (!obj || !st || !value)
    return -EINVAL;
  if (obj->type != MSGPACK_OBJECT_MAP)
    return myelon_codec_fail(MP_WHERE, DEC, "%s: expected map, got %s", mp_type_name(st->name), type_name(obj->type));
  for (uint32_t i = 0; i < obj->via.map.size; i++) {
    const msgpack_object_kv *kv = &obj->via.map.ptr[i];
    if (kv->key.type != MSGPACK_OBJECT_STR)
      return myelon_codec_fail(MP_WHERE, DEC, "%s: map key of type %s, expected str", mp_type_name(st->name),
                               type_name(kv->key.type));
    const struct myelon_mp_field *f = find_field(st, &kv->key.via.str);
    if (!f)
      continue; /* unknown keys are ignored (newer producers) */
    int rc = unpack_field(st, f, &kv->val, value);
    if (rc < 0)
      return rc;
  }
  return 0;
}
