/* Fuzz target: the bounded in-place msgpack parser (mp_parse.c) and the
 * Layer 3 msgpack view built on it (view_msgpack.c).
 *
 * Input: one msgpack message, as it would arrive in a slot.
 * Oracle: myelon_mp_validate() and myelon_mp_parse() agree on the verdict
 * and on the node count; an arena one node short gives -ENOBUFS; every
 * str/bin/ext of the tree points inside the message; the view codec
 * answers as the parser does; the lazy view (view_lazy.c) accepts exactly
 * what validate accepts, its items read as the tree's nodes, its walks
 * stay inside the message - also after a byte of it changed behind the
 * view's back (a writer scribbling after access) - and end within as
 * many steps as the message has bytes; the field view (one pass for a
 * flat record) accepts what validate accepts and finds the fields that
 * lazy access and get_keys find. */
#include "fuzz.h"

#include <errno.h>

#include <myelon/error.h>
#include <myelon/msgpack_codec.h>
#include <myelon/view.h>

#define VIEW_NODES 64

static const uint8_t *lo, *hi; /* the message, for the pointer oracle */

static void inside(const char *p, uint32_t n)
{
  if (n == 0)
    return;
  FUZZ_CHECK((const uint8_t *)p >= lo && (const uint8_t *)p + n <= hi);
  fuzz_touch(p, n);
}

/* Walk the tree: every node reachable, every payload inside the input.
 * `budget` counts nodes, so a cycle or a miscount cannot loop for ever. */
static void walk(const msgpack_object *o, size_t *budget, unsigned depth)
{
  FUZZ_CHECK(*budget > 0 && depth <= MYELON_MP_MAX_DEPTH);
  (*budget)--;
  switch (o->type) {
  case MSGPACK_OBJECT_STR:
    inside(o->via.str.ptr, o->via.str.size);
    break;
  case MSGPACK_OBJECT_BIN:
    inside(o->via.bin.ptr, o->via.bin.size);
    break;
  case MSGPACK_OBJECT_EXT:
    inside(o->via.ext.ptr, o->via.ext.size);
    break;
  case MSGPACK_OBJECT_ARRAY:
    for (uint32_t i = 0; i < o->via.array.size; i++)
      walk(&o->via.array.ptr[i], budget, depth + 1);
    break;
  case MSGPACK_OBJECT_MAP:
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      walk(&o->via.map.ptr[i].key, budget, depth + 1);
      walk(&o->via.map.ptr[i].val, budget, depth + 1);
    }
    break;
  default:
    break;
  }
}

/* Walk a lazy item: every element, every body inside the message; with a
 * tree node, the two must agree. `steps` bounds the whole walk by the
 * message length (each element takes at least one byte). Returns 0, or
 * the first error a walk reported (only after bytes changed). */
static int lazy_walk(const struct myelon_mp_item *it, const msgpack_object *o, size_t *steps, unsigned depth)
{
  FUZZ_CHECK(depth <= MYELON_MP_MAX_DEPTH + 1);
  if (o)
    FUZZ_CHECK(it->obj.type == o->type);
  switch (it->obj.type) {
  case MSGPACK_OBJECT_STR:
  case MSGPACK_OBJECT_BIN:
    inside(it->obj.via.str.ptr, it->obj.via.str.size);
    if (o)
      FUZZ_CHECK(it->obj.via.str.ptr == o->via.str.ptr && it->obj.via.str.size == o->via.str.size);
    return 0;
  case MSGPACK_OBJECT_EXT:
    inside(it->obj.via.ext.ptr, it->obj.via.ext.size);
    if (o)
      FUZZ_CHECK(it->obj.via.ext.ptr == o->via.ext.ptr && it->obj.via.ext.type == o->via.ext.type);
    return 0;
  case MSGPACK_OBJECT_ARRAY:
  case MSGPACK_OBJECT_MAP: {
    bool map = it->obj.type == MSGPACK_OBJECT_MAP;
    struct myelon_mp_iter iter;
    FUZZ_CHECK(myelon_mp_item_iter(it, &iter) == 0);
    struct myelon_mp_item el;
    int rc;
    uint64_t i = 0;
    while ((rc = myelon_mp_iter_next(&iter, &el)) == 1) {
      FUZZ_CHECK(*steps > 0);
      (*steps)--;
      const msgpack_object *want = NULL;
      if (o)
        want = map ? (i % 2 ? &o->via.map.ptr[i / 2].val : &o->via.map.ptr[i / 2].key) : &o->via.array.ptr[i];
      i++;
      int wrc = lazy_walk(&el, want, steps, depth + 1);
      if (wrc < 0)
        return wrc;
    }
    if (o)
      FUZZ_CHECK(rc == 0 && i == (map ? 2 * (uint64_t)o->via.map.size : o->via.array.size));
    FUZZ_CHECK(rc == 0 || rc == -MYELON_E_CODEC);
    if (map && rc == 0) {
      /* Two key sets: short odd names, and a record's (the bench's
       * {"seq", "ts", "body"}, seed record-64), whose keys get_keys
       * matches by its in-order guess. */
      static const char *const sets[2][3] = {{"id", "", "a"}, {"seq", "ts", "body"}};
      for (int set = 0; set < 2; set++) {
        const char *const *names = sets[set];
        struct myelon_mp_keys ks;
        struct myelon_mp_item out[3];
        FUZZ_CHECK(myelon_mp_keys_init(&ks, names, 3) == 0);
        int64_t mask = myelon_mp_item_get_keys(it, &ks, out);
        FUZZ_CHECK(mask >= 0 || mask == -MYELON_E_CODEC);
        for (int k = 0; k < 3 && mask >= 0; k++) {
          struct myelon_mp_item one;
          int grc = myelon_mp_item_get(it, names[k], &one);
          if (o) { /* agree with the tree's lookup, values too */
            const msgpack_object *t = myelon_mp_map_get(o, names[k]);
            FUZZ_CHECK((grc == 0) == (t != NULL) && ((mask >> k) & 1) == (t != NULL));
            if (t) {
              FUZZ_CHECK(one.obj.type == t->type && out[k].obj.type == t->type);
              if (t->type == MSGPACK_OBJECT_POSITIVE_INTEGER || t->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                FUZZ_CHECK(one.obj.via.u64 == t->via.u64 && out[k].obj.via.u64 == t->via.u64);
              if (t->type == MSGPACK_OBJECT_STR || t->type == MSGPACK_OBJECT_BIN)
                FUZZ_CHECK(out[k].obj.via.bin.size == t->via.bin.size && out[k].obj.via.bin.ptr == t->via.bin.ptr);
            }
          }
        }
      }
    }
    return rc;
  }
  default:
    return 0;
  }
}

/* Whether two lazy items are the same answer (same value, same bytes). */
static int same_item(const struct myelon_mp_item *a, const struct myelon_mp_item *b)
{
  if (a->obj.type != b->obj.type || a->end_ != b->end_ || a->elems_ != b->elems_)
    return 0;
  switch (a->obj.type) {
  case MSGPACK_OBJECT_MAP:
  case MSGPACK_OBJECT_ARRAY:
    return a->obj.via.array.size == b->obj.via.array.size;
  case MSGPACK_OBJECT_STR:
  case MSGPACK_OBJECT_BIN:
    return a->obj.via.bin.size == b->obj.via.bin.size && a->obj.via.bin.ptr == b->obj.via.bin.ptr;
  case MSGPACK_OBJECT_EXT:
    return a->obj.via.ext.type == b->obj.via.ext.type && a->obj.via.ext.size == b->obj.via.ext.size &&
           a->obj.via.ext.ptr == b->obj.via.ext.ptr;
  case MSGPACK_OBJECT_BOOLEAN:
    return a->obj.via.boolean == b->obj.via.boolean;
  case MSGPACK_OBJECT_NIL:
    return 1;
  default: /* integers, floats: the same bits */
    return memcmp(&a->obj.via.u64, &b->obj.via.u64, sizeof a->obj.via.u64) == 0;
  }
}

/* The field view of the same bytes: the lazy view's verdict, and the
 * fields get_keys finds on its root (`lv`, valid when vrc is 0). */
static void fields_check_set(const uint8_t *msg, size_t size, int vrc, const struct myelon_mp_lazy_view *lv,
                             const char *const *names, size_t n)
{
  struct myelon_mp_keys ks;
  FUZZ_CHECK(myelon_mp_keys_init(&ks, names, n) == 0);
  struct myelon_mp_fields_view fv;
  int frc = myelon_mp_fields_access(msg, size, &ks, &fv);
  FUZZ_CHECK(frc == vrc);
  if (frc < 0)
    return;
  struct myelon_mp_item want[MYELON_MP_FIELDS_MAX];
  int64_t mask = 0;
  if (myelon_mp_lazy_root(lv)->obj.type == MSGPACK_OBJECT_MAP)
    mask = myelon_mp_item_get_keys(myelon_mp_lazy_root(lv), &ks, want);
  FUZZ_CHECK(mask >= 0 && fv.found == (uint64_t)mask);
  FUZZ_CHECK(same_item(myelon_mp_lazy_root(&fv.lazy), myelon_mp_lazy_root(lv)));
  for (unsigned k = 0; k < n; k++) {
    const struct myelon_mp_item *f = myelon_mp_fields_get(&fv, k);
    FUZZ_CHECK((f != NULL) == (int)(mask >> k & 1));
    if (f)
      FUZZ_CHECK(same_item(f, &want[k]));
  }
}

/* Two key sets: a record's (its one-pass path when the keys come in this
 * order), and one with an empty key, a long one and more. */
static void fields_check(const uint8_t *msg, size_t size, int vrc, const struct myelon_mp_lazy_view *lv)
{
  static const char *const record[] = {"seq", "ts", "body"};
  static const char *const more[] = {"id", "", "seq", "a", "ts", "body", "a_long_key"};
  fields_check_set(msg, size, vrc, lv, record, 3);
  fields_check_set(msg, size, vrc, lv, more, 7);
}

/* The lazy view of the same bytes: verdict, items, lookups; then the same
 * walks after one byte changed (no verdict to hold them to, only the
 * bounds). */
static void lazy_check(uint8_t *msg, size_t size, int vrc, const msgpack_object *tree)
{
  struct myelon_mp_lazy_view lv;
  int lrc = myelon_mp_lazy_access(msg, size, 0, &lv);
  FUZZ_CHECK(lrc == vrc);
  if (lrc < 0) {
    fields_check(msg, size, lrc, &lv);
    return;
  }
  fields_check(msg, size, lrc, &lv);
  size_t steps = size;
  FUZZ_CHECK(lazy_walk(myelon_mp_lazy_root(&lv), tree, &steps, 0) == 0);
  if (size < 2)
    return;
  size_t at = (size_t)msg[0] * 7919u % size;
  uint8_t was = msg[at];
  msg[at] = (uint8_t)(was ^ (msg[size - 1] | 1u));
  steps = size;
  (void)lazy_walk(myelon_mp_lazy_root(&lv), NULL, &steps, 0);
  msg[at] = was;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* libFuzzer's buffer for an empty input may be any pointer: give the
   * parser a real one (it refuses NULL with len > 0 only). */
  uint8_t *msg = fuzz_dup(data, size, 16);
  lo = msg;
  hi = msg + size;

  size_t nodes = 0;
  int vrc = myelon_mp_validate(msg, size, 0, &nodes);
  FUZZ_CHECK(vrc == 0 || vrc == -MYELON_E_CODEC);
  size_t deep_nodes = 0;
  int deep = myelon_mp_validate(msg, size, MYELON_MP_MAX_DEPTH, &deep_nodes);
  FUZZ_CHECK(deep == 0 || deep == -MYELON_E_CODEC);
  if (vrc == 0) /* a deeper limit accepts whatever a shallower one does */
    FUZZ_CHECK(deep == 0 && deep_nodes == nodes);
  if (vrc == 0)
    FUZZ_CHECK(nodes >= 1 && nodes <= size);

  /* An arena of exactly the counted size (at least one node). */
  size_t n = vrc == 0 ? nodes : 1;
  msgpack_object *arena_nodes = malloc(n * sizeof *arena_nodes);
  if (!arena_nodes)
    abort();
  struct myelon_mp_arena arena;
  myelon_mp_arena_init(&arena, arena_nodes, n, 0);
  const msgpack_object *root = NULL;
  int prc = myelon_mp_parse(msg, size, &arena, &root);
  if (vrc == 0) {
    FUZZ_CHECK(prc == 0 && root == arena_nodes && arena.used == nodes);
    size_t budget = nodes;
    walk(root, &budget, 0);
    FUZZ_CHECK(budget == 0);
    (void)myelon_mp_map_get(root, "id");
    (void)myelon_mp_map_get(root, "");
    if (nodes > 1) { /* one node short */
      myelon_mp_arena_init(&arena, arena_nodes, nodes - 1, 0);
      FUZZ_CHECK(myelon_mp_parse(msg, size, &arena, &root) == -ENOBUFS);
    }
  } else {
    FUZZ_CHECK(prc == -MYELON_E_CODEC || prc == -ENOBUFS);
  }
  lazy_check(msg, size, vrc, prc == 0 ? root : NULL);
  free(arena_nodes);

  /* The view codec: a fixed arena, as a consumer thread keeps one. */
  msgpack_object view_nodes[VIEW_NODES];
  struct myelon_mp_arena va;
  myelon_mp_arena_init(&va, view_nodes, VIEW_NODES, 0);
  struct myelon_view_codec vc;
  myelon_mp_view_codec_init(&vc, &va);
  struct myelon_mp_view view;
  int rc = myelon_view_access(&vc, msg, size, &view);
  if (vrc == 0 && nodes <= VIEW_NODES) {
    FUZZ_CHECK(rc == 0 && view.nodes == nodes && view.data == msg && view.len == size);
    FUZZ_CHECK(myelon_mp_view_root(&view) == view_nodes);
  } else if (vrc == 0) {
    FUZZ_CHECK(rc == -ENOBUFS);
  } else {
    FUZZ_CHECK(rc == -MYELON_E_CODEC || rc == -ENOBUFS);
  }
  free(msg);
  return 0;
}
