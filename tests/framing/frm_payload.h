/**
 * @file frm_payload.h
 * @brief The message oracle shared by frm_role and the framing tests: which
 * size, kind and bytes message `i` of a seeded stream has, and its check.
 *
 * Message i of stream (seed, profile):
 *
 *   size  frm_size(s, i): seeded, from 0 to several MB (profile MIXED, whose
 *         first FRM_NSPECIAL messages sit on frame and ring boundaries), or
 *         >= 16 bytes (profiles BIG and FIXED) so that every message names
 *         itself
 *   kind  frm_kind(i)
 *   bytes if size >= 16:
 *           0   8     i, uint64_t, native endianness
 *           8   8     frm_sum() of bytes [16, size)
 *           16  ...   body
 *         else: body from offset 0.
 *         body byte k = byte (k mod 8) of frm_mix(base + k / 8), where
 *         base = frm_rand(seed, i, 2): every byte depends on (seed, i, k),
 *         so a tail fragment, a stale slot or a message from elsewhere in
 *         the stream fails frm_check().
 */
#ifndef FRM_PAYLOAD_H
#define FRM_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the pattern is written word-wise, little-endian");

#define FRM_HEAD 16u     /**< index + checksum */
#define FRM_NSPECIAL 24u /**< MIXED: messages on boundaries first */
#define FRM_NO_INDEX UINT64_MAX

enum frm_profile {
  FRM_MIXED = 0, /**< 0 .. ~4 MB, mostly small; boundary sizes first */
  FRM_BIG = 1,   /**< 16 .. 256 KB, mostly larger than a small ring */
  FRM_FIXED = 2, /**< every message `fixed` bytes (>= 16) */
};

struct frm_stream {
  uint64_t seed;
  enum frm_profile profile;
  uint32_t fcap;      /**< frame payload capacity (for boundary sizes) */
  uint64_t ring;      /**< ring capacity in slots (for boundary sizes) */
  size_t fixed;       /**< FRM_FIXED size */
};

/** What frm_check() found wrong (0: nothing). */
enum frm_fault {
  FRM_OK = 0,
  FRM_BAD_INDEX,   /**< no index (too short) or an index outside the stream */
  FRM_BAD_ORDER,   /**< not the index expected */
  FRM_BAD_SIZE,    /**< length differs from frm_size() */
  FRM_BAD_KIND,
  FRM_BAD_SUM,     /**< stored checksum differs from the content's */
  FRM_BAD_CONTENT, /**< a byte differs from the pattern */
};

static inline const char *frm_fault_name(int f)
{
  static const char *const names[] = {"ok", "bad index", "out of order", "bad size", "bad kind", "bad checksum",
                                      "bad content"};
  return f >= 0 && f <= FRM_BAD_CONTENT ? names[f] : "?";
}

/** splitmix64 finaliser. */
static inline uint64_t frm_mix(uint64_t z)
{
  z += UINT64_C(0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline uint64_t frm_rand(uint64_t seed, uint64_t i, uint64_t salt)
{
  return frm_mix(frm_mix(seed ^ (salt << 56)) ^ (i * UINT64_C(0xd1342543de82ef95)));
}

static inline uint8_t frm_kind(uint64_t i)
{
  return (uint8_t)(i * 37u + 11u);
}

/** MIXED boundary sizes around the frame capacity F and the ring (R frames). */
static inline size_t frm_special(size_t F, size_t R, uint64_t i)
{
  const size_t table[FRM_NSPECIAL] = {
      0,         1,         F - 5,         F - 4,         F - 3,     F - 1,         F,
      F + 1,     2 * F - 5, 2 * F - 4,     2 * F - 3,     2 * F,     2 * F + 1,     3 * F - 4,
      3 * F,     R * F - 4, R * F,         R * F + 1,     15,        16,            17,
      (size_t)(3u << 20) + 7, (size_t)4u << 20, 2 * R * F - 4,
  };
  return table[i];
}

static inline size_t frm_size(const struct frm_stream *s, uint64_t i)
{
  uint64_t r = frm_rand(s->seed, i, 1);
  uint64_t pct = r % 1000, v = r >> 10;
  switch (s->profile) {
  case FRM_FIXED:
    return s->fixed;
  case FRM_BIG:
    return pct < 100 ? FRM_HEAD + v % 64 : 4096 + v % (252u << 10);
  case FRM_MIXED:
    break;
  }
  if (i < FRM_NSPECIAL)
    return frm_special(s->fcap, s->ring, i);
  if (pct < 600)
    return v % 301;
  if (pct < 900)
    return v % 4097;
  if (pct < 985)
    return v % 65537;
  if (pct < 997)
    return v % ((512u << 10) + 1);
  return (512u << 10) + v % (3584u << 10);
}

/** Largest size frm_size() can return for a stream. */
static inline size_t frm_max_size(const struct frm_stream *s)
{
  size_t m = s->profile == FRM_FIXED ? s->fixed : (size_t)4u << 20;
  size_t sp = 2 * (size_t)s->ring * s->fcap;
  return m > sp ? m : sp;
}

/* The byte ring (MYELON_FRAME_BYTES) that stands in for a slot ring of
 * `capacity` frames of `fcap` bytes in the *_bytes builds of the suites:
 * every message that fits that ring whole, and every message up to `max`,
 * fits one record (half the ring less MYELON_BYTES_OVERHEAD). */
static inline uint64_t frm_bytes_ring(uint64_t capacity, uint32_t fcap, size_t max)
{
  uint64_t want = 2 * capacity * ((uint64_t)fcap + 32);
  if (want < 2 * ((uint64_t)max + 32))
    want = 2 * ((uint64_t)max + 32);
  uint64_t r = 128;
  while (r < want)
    r *= 2;
  return r;
}

static inline uint8_t frm_body_byte(uint64_t base, size_t k)
{
  return (uint8_t)(frm_mix(base + k / 8) >> (8 * (k % 8)));
}

static inline uint64_t frm_sum(const uint8_t *p, size_t len)
{
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    uint64_t w;
    memcpy(&w, p + k, 8);
    h = (h ^ w) * UINT64_C(0x100000001b3);
  }
  for (; k < len; k++)
    h = (h ^ p[k]) * UINT64_C(0x100000001b3);
  return h;
}

/** Write the `len` bytes of message `i` (len = frm_size(s, i)). */
static inline void frm_fill(const struct frm_stream *s, uint64_t i, uint8_t *buf, size_t len)
{
  uint64_t base = frm_rand(s->seed, i, 2);
  size_t k = len >= FRM_HEAD ? FRM_HEAD : 0;
  for (; k < len && k % 8; k++)
    buf[k] = frm_body_byte(base, k);
  for (; k + 8 <= len; k += 8) {
    uint64_t w = frm_mix(base + k / 8);
    memcpy(buf + k, &w, 8); /* little-endian hosts: byte j of w is byte k + j */
  }
  for (; k < len; k++)
    buf[k] = frm_body_byte(base, k);
  if (len >= FRM_HEAD) {
    uint64_t sum = frm_sum(buf + FRM_HEAD, len - FRM_HEAD);
    memcpy(buf, &i, 8);
    memcpy(buf + 8, &sum, 8);
  }
}

/**
 * Check a delivered message. `expect` is the index it must have, or
 * FRM_NO_INDEX to read the index from the message (it must then be at
 * least 16 bytes and the index below `limit`). `*index` gets the index.
 * @return FRM_OK or the first fault found.
 */
static inline int frm_check(const struct frm_stream *s, const void *data, size_t len, uint8_t kind, uint64_t expect,
                            uint64_t limit, uint64_t *index)
{
  const uint8_t *b = data;
  uint64_t i = expect;
  if (expect == FRM_NO_INDEX) {
    if (len < FRM_HEAD)
      return FRM_BAD_INDEX;
    memcpy(&i, b, 8);
    if (i >= limit)
      return FRM_BAD_INDEX;
  }
  *index = i;
  if (len != frm_size(s, i))
    return FRM_BAD_SIZE;
  if (kind != frm_kind(i))
    return FRM_BAD_KIND;
  if (len >= FRM_HEAD) {
    uint64_t got_i, got_sum;
    memcpy(&got_i, b, 8);
    memcpy(&got_sum, b + 8, 8);
    if (got_i != i)
      return FRM_BAD_ORDER;
    if (got_sum != frm_sum(b + FRM_HEAD, len - FRM_HEAD))
      return FRM_BAD_SUM;
  }
  uint64_t base = frm_rand(s->seed, i, 2);
  size_t k = len >= FRM_HEAD ? FRM_HEAD : 0;
  for (; k < len && k % 8; k++)
    if (b[k] != frm_body_byte(base, k))
      return FRM_BAD_CONTENT;
  for (; k + 8 <= len; k += 8) {
    uint64_t w = frm_mix(base + k / 8), got;
    memcpy(&got, b + k, 8);
    if (got != w)
      return FRM_BAD_CONTENT;
  }
  for (; k < len; k++)
    if (b[k] != frm_body_byte(base, k))
      return FRM_BAD_CONTENT;
  return FRM_OK;
}

#endif /* FRM_PAYLOAD_H */
