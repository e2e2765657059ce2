/**
 * @file jnl_payload.h
 * @brief The payload oracle shared by the journal tests and jnl_role: the
 * length and bytes of event/message i of a seeded stream.
 *
 *   length  jp_len(seed, i, max): seeded in [0, max], with the first few
 *           on boundaries (0, 1, max)
 *   bytes   0..8: i (native endianness) when the length allows, then byte
 *           k = byte (k mod 8) of jp_mix(seed ^ i * K + k / 8): every byte
 *           depends on (seed, i, k), so a stale slot, a tail fragment or a
 *           message from elsewhere in the stream differs.
 */
#ifndef JNL_PAYLOAD_H
#define JNL_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t jp_mix(uint64_t z)
{
  z += UINT64_C(0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline size_t jp_len(uint64_t seed, uint64_t i, size_t max)
{
  if (i == 0)
    return 0;
  if (i == 1)
    return max;
  if (i == 2)
    return 1;
  return (size_t)(jp_mix(seed * 31 + i) % (max + 1));
}

static inline void jp_fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t i)
{
  uint64_t base = jp_mix(seed ^ (i * UINT64_C(0xd1342543de82ef95)));
  for (size_t k = 0; k < len; k++)
    buf[k] = (uint8_t)(jp_mix(base + k / 8) >> (8 * (k % 8)));
  if (len >= 8)
    memcpy(buf, &i, 8);
}

/* 0 if `len` bytes at `p` are message i. */
static inline int jp_check(const uint8_t *p, size_t len, uint64_t seed, uint64_t i, size_t want_len)
{
  if (len != want_len)
    return 1;
  for (size_t k = 8; k < len; k++) {
    uint64_t base = jp_mix(seed ^ (i * UINT64_C(0xd1342543de82ef95)));
    if (p[k] != (uint8_t)(jp_mix(base + k / 8) >> (8 * (k % 8))))
      return 2;
  }
  if (len >= 8 && memcmp(p, &i, 8) != 0)
    return 3;
  if (len < 8) {
    uint8_t tmp[8];
    jp_fill(tmp, len, seed, i);
    if (memcmp(tmp, p, len) != 0)
      return 2;
  }
  return 0;
}

#endif /* JNL_PAYLOAD_H */
