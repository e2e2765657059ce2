/* Layer 3 fixed-layout views and their Layer 2 codec (view.h): a 16-byte
 * header {magic, size, fingerprint} before the struct's bytes; access
 * checks length, magic, size, fingerprint and alignment in place. */
#include <myelon/error.h>
#include <myelon/view.h>

#include <disruptor_mp/error.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WHERE "myelon_fixed_view_access"

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * UINT64_C(0x100000001b3);
  return h;
}

uint64_t myelon_fixed_fingerprint(const char *name, const char *layout, size_t size, size_t align)
{
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  const char *parts[2] = {name ? name : "", layout ? layout : ""};
  for (int i = 0; i < 2; i++)
    h = fnv(h, parts[i], strlen(parts[i]) + 1); /* the NUL separates the parts */
  uint64_t nums[2] = {size, align};
  for (int i = 0; i < 2; i++)
    for (int b = 0; b < 8; b++)
      h = (h ^ ((nums[i] >> (8 * b)) & 0xff)) * UINT64_C(0x100000001b3);
  return h ? h : 1;
}

int myelon_fixed_type_init(struct myelon_fixed_type *t, const char *name, const char *layout, size_t size,
                           size_t align)
{
  if (!t || !name)
    return dmp_error_set("myelon_fixed_type_init", "type or name is NULL"), -EINVAL;
  if (size == 0 || size > UINT32_MAX - MYELON_FIXED_HEADER)
    return dmp_error_set("myelon_fixed_type_init", "%s: size %zu out of range", name, size), -EINVAL;
  if (align == 0 || (align & (align - 1)) || align > MYELON_FIXED_MAX_ALIGN || size % align)
    return dmp_error_set("myelon_fixed_type_init", "%s: alignment %zu is not a power of two <= %u dividing the size",
                         name, align, MYELON_FIXED_MAX_ALIGN),
           -EINVAL;
  *t = (struct myelon_fixed_type){.name = name,
                                  .fingerprint = myelon_fixed_fingerprint(name, layout, size, align),
                                  .size = (uint32_t)size,
                                  .align = (uint32_t)align};
  return 0;
}

/* Length, magic, size and fingerprint. `code` is the error to report. */
static int check_header(const void *data, size_t len, const struct myelon_fixed_type *t, const char *where,
                        const char *prefix, int code)
{
  const char *why = NULL;
  struct myelon_fixed_header h = {0, 0, 0};
  if (len >= sizeof h)
    memcpy(&h, data, sizeof h); /* one copy: the bytes may be shared memory */
  if (len != MYELON_FIXED_HEADER + (size_t)t->size)
    why = "wrong length";
  else if (h.magic != MYELON_FIXED_MAGIC)
    why = "not a fixed-layout message (bad magic)";
  else if (h.size != t->size)
    why = "struct size differs";
  else if (h.fingerprint != t->fingerprint)
    why = "type fingerprint differs (another struct type)";
  if (!why)
    return 0;
  dmp_error_set(where, "%s: %s: %s (%zu bytes, expected %zu; size %u, fingerprint %016llx, expected %016llx)", prefix,
                t->name, why, len, MYELON_FIXED_HEADER + (size_t)t->size, h.size, (unsigned long long)h.fingerprint,
                (unsigned long long)t->fingerprint);
  return code;
}

static int fixed_access(const void *data, size_t len, const struct myelon_lease *lease,
                        const struct myelon_fixed_type *t, struct myelon_fixed_view *view)
{
  *view = (struct myelon_fixed_view){.lease = {.gen = NULL, .at = 0}, .ptr_ = NULL, .type = t};
  if (!t || (!data && len))
    return dmp_error_set(WHERE, "type or data is NULL"), -EINVAL;
  int rc = check_header(data, len, t, WHERE, "view access", -MYELON_E_VIEW);
  if (rc < 0)
    return rc;
  const uint8_t *body = (const uint8_t *)data + MYELON_FIXED_HEADER;
  if ((uintptr_t)body % t->align)
    return dmp_error_set(WHERE, "view access: %s: struct bytes at %p are not %u-byte aligned", t->name,
                         (const void *)body, t->align),
           -MYELON_E_VIEW;
  if (lease)
    view->lease = *lease;
  view->ptr_ = body;
  return 0;
}

int myelon_fixed_view_access(const void *data, size_t len, const struct myelon_fixed_type *t,
                             struct myelon_fixed_view *view)
{
  if (!view)
    return -EINVAL;
  return fixed_access(data, len, NULL, t, view);
}

static int fixed_view_access_fn(const void *data, size_t len, const struct myelon_lease *lease, void *view,
                                void *user)
{
  return fixed_access(data, len, lease, user, view);
}

void myelon_fixed_view_codec_init(struct myelon_view_codec *vc, const struct myelon_fixed_type *t)
{
  *vc = (struct myelon_view_codec){"fixed-view", fixed_view_access_fn, (void *)t};
}

/* ---- Layer 2 codec ----------------------------------------------------- */

static int fixed_size(const void *value, size_t *len, void *user)
{
  const struct myelon_fixed_type *t = user;
  if (!value)
    return myelon_codec_fail("fixed", MYELON_CODEC_ENCODE, "%s: value is NULL", t->name);
  *len = MYELON_FIXED_HEADER + (size_t)t->size;
  return 0;
}

static int fixed_encode(const void *value, void *buf, size_t cap, size_t *len, void *user)
{
  const struct myelon_fixed_type *t = user;
  size_t n = 0;
  int rc = fixed_size(value, &n, user);
  if (rc < 0)
    return rc;
  if (cap < n)
    return -ENOSPC;
  struct myelon_fixed_header h = {.magic = MYELON_FIXED_MAGIC, .size = t->size, .fingerprint = t->fingerprint};
  memcpy(buf, &h, sizeof h);
  memcpy((uint8_t *)buf + MYELON_FIXED_HEADER, value, t->size);
  *len = n;
  return 0;
}

static int fixed_decode(const void *data, size_t len, void **value, void *user)
{
  const struct myelon_fixed_type *t = user;
  int rc = check_header(data, len, t, "fixed", "codec decode", -MYELON_E_CODEC);
  if (rc < 0)
    return rc;
  void *v = malloc(t->size);
  if (!v)
    return -ENOMEM;
  memcpy(v, (const uint8_t *)data + MYELON_FIXED_HEADER, t->size);
  *value = v;
  return 0;
}

static void fixed_free(void *value, void *user)
{
  (void)user;
  free(value);
}

void myelon_fixed_codec_init(struct myelon_codec *codec, const struct myelon_fixed_type *t)
{
  *codec = (struct myelon_codec){.name = t ? t->name : "fixed",
                                 .size = fixed_size,
                                 .encode = fixed_encode,
                                 .decode = fixed_decode,
                                 .free = fixed_free,
                                 .user = (void *)t};
}
