/**
 * @file bytes_payload.h
 * @brief The record oracle of the byte-ring suite (suite 'bytes'): record
 * number i of a seeded stream has a length and content derived from
 * (seed, i), so a reader in any process checks every byte it is handed,
 * and that it saw record i + 1 after record i.
 *
 * Content: bytes 0..7 are i (little-endian int64) when the record has 8
 * bytes or more; every other byte k is a function of (seed, i, k). A
 * record shorter than 8 bytes carries only the function's bytes, so its
 * number is checked through them.
 */
#ifndef BYTES_PAYLOAD_H
#define BYTES_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t bp_mix(uint64_t x)
{
  x += UINT64_C(0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

/** Length of record `i` of a stream with `seed`, in 0..max: mostly small,
 * some of every size up to `max`, and `max` itself now and then. */
static inline size_t bp_len(uint64_t seed, int64_t i, size_t max)
{
  uint64_t r = bp_mix(seed * 1000003u + (uint64_t)i);
  switch (r & 7) {
  case 0:
    return max;
  case 1:
  case 2:
    return (size_t)((r >> 8) % (max + 1));
  default:
    return (size_t)((r >> 8) % (max < 200 ? max + 1 : 201));
  }
}

static inline uint8_t bp_byte(uint64_t seed, int64_t i, size_t k)
{
  return (uint8_t)(bp_mix(seed ^ ((uint64_t)i << 20) ^ (k >> 3)) >> (8 * (k & 7)));
}

/** Fill record `i`'s `len` bytes. */
static inline void bp_fill(void *dst, uint64_t seed, int64_t i, size_t len)
{
  uint8_t *b = dst;
  size_t k = 0;
  if (len >= 8) {
    memcpy(b, &i, 8);
    k = 8;
  }
  /* Word-wise where it can: the stream tests move megabytes. */
  for (; k < len && (k & 7); k++)
    b[k] = bp_byte(seed, i, k);
  for (; k + 8 <= len; k += 8) {
    uint64_t w = bp_mix(seed ^ ((uint64_t)i << 20) ^ (k >> 3));
    memcpy(b + k, &w, 8);
  }
  for (; k < len; k++)
    b[k] = bp_byte(seed, i, k);
}

/** True if `len` bytes at `src` are record `i` (its length included). */
static inline bool bp_check(const void *src, size_t len, uint64_t seed, int64_t i, size_t max)
{
  if (len != bp_len(seed, i, max))
    return false;
  const uint8_t *b = src;
  size_t k = 0;
  if (len >= 8) {
    int64_t got;
    memcpy(&got, b, 8);
    if (got != i)
      return false;
    k = 8;
  }
  for (; k < len && (k & 7); k++)
    if (b[k] != bp_byte(seed, i, k))
      return false;
  for (; k + 8 <= len; k += 8) {
    uint64_t w = bp_mix(seed ^ ((uint64_t)i << 20) ^ (k >> 3)), got;
    memcpy(&got, b + k, 8);
    if (got != w)
      return false;
  }
  for (; k < len; k++)
    if (b[k] != bp_byte(seed, i, k))
      return false;
  return true;
}

#endif /* BYTES_PAYLOAD_H */
