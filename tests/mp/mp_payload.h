/**
 * @file mp_payload.h
 * @brief The event oracle shared by dmp_role and the multiprocess tests,
 * and the role's exit codes.
 *
 * Event layout (slot sizes >= MP_MIN_SLOT):
 *
 *   offset  size        what
 *   0       8           seq, int64_t, native endianness
 *   8       8           ts_checksum(seq)
 *   16      size - 16   byte i = byte (i mod 8) of ts_checksum(seq), XOR (i mod 251)
 *
 * so every byte of a slot depends on the sequence that was written into it:
 * a stale, torn or overwritten slot fails mp_verify().
 */
#ifndef MP_PAYLOAD_H
#define MP_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "support.h"

#define MP_MIN_SLOT 16u

/** dmp_role exit codes: 0 is success, each failure kind has its own. */
#define MP_EXIT_TABLE(X)                                                          \
  X(MP_EX_OK, 0, "ok")                                                            \
  X(MP_EX_USAGE, 2, "bad command line")                                           \
  X(MP_EX_SETUP, 3, "create/attach failed")                                       \
  X(MP_EX_TIMEOUT, 4, "timed out waiting for events or space")                    \
  X(MP_EX_OWNERDEAD, 5, "unexpected -DMP_E_OWNERDEAD")                            \
  X(MP_EX_SEQ, 6, "sequence gap or duplicate")                                    \
  X(MP_EX_SUM, 7, "payload seq/checksum mismatch")                                \
  X(MP_EX_PATTERN, 8, "payload pattern mismatch")                                 \
  X(MP_EX_API, 9, "an API call returned something its header rules out")          \
  X(MP_EX_NOT_OWNERDEAD, 10, "expected -DMP_E_OWNERDEAD, got something else")     \
  X(MP_EX_START, 11, "consumer start position outside the ring")                  \
  X(MP_EX_DRAIN, 12, "producer timed out waiting for consumers to drain")         \
  X(MP_EX_RENDEZVOUS, 13, "producer timed out waiting for consumers")             \
  X(MP_EX_IO, 14, "could not write a marker/report file")

enum mp_exit {
#define MP_X_ENUM(e, v, msg) e = v,
  MP_EXIT_TABLE(MP_X_ENUM)
#undef MP_X_ENUM
};

static inline const char *mp_exit_name(int code)
{
  switch (code) {
#define MP_X_CASE(e, v, msg) \
  case v:                    \
    return #e ": " msg;
    MP_EXIT_TABLE(MP_X_CASE)
#undef MP_X_CASE
  case -1:
    return "did not exit in time (killed by the test)";
  case 127:
    return "exec failed";
  default:
    return code > 128 ? "killed by a signal (128 + signo)" : "unknown exit code";
  }
}

static inline uint8_t mp_pattern_byte(uint64_t sum, uint32_t i)
{
  return (uint8_t)((uint8_t)(sum >> ((i & 7u) * 8u)) ^ (uint8_t)(i % 251u));
}

/** Write the event of `seq` into a slot of `size` (>= MP_MIN_SLOT) bytes. */
static inline void mp_fill(void *slot, uint32_t size, int64_t seq)
{
  uint8_t *b = slot;
  uint64_t sum = ts_checksum(seq);
  memcpy(b, &seq, 8);
  memcpy(b + 8, &sum, 8);
  for (uint32_t i = MP_MIN_SLOT; i < size; i++)
    b[i] = mp_pattern_byte(sum, i);
}

/** What mp_verify() found. */
struct mp_mismatch {
  int kind;        /**< MP_EX_OK, MP_EX_SUM or MP_EX_PATTERN */
  int64_t got_seq; /**< seq field of the slot */
  uint64_t got_sum;
  uint32_t offset; /**< first bad pattern byte */
  uint8_t got, want;
};

/** Check that `slot` holds exactly the event of `seq`. Returns MP_EX_OK or
 * the mismatch kind, details in `*mm`. */
static inline int mp_verify(const void *slot, uint32_t size, int64_t seq, struct mp_mismatch *mm)
{
  const uint8_t *b = slot;
  uint64_t sum = ts_checksum(seq);
  memset(mm, 0, sizeof *mm);
  memcpy(&mm->got_seq, b, 8);
  memcpy(&mm->got_sum, b + 8, 8);
  if (mm->got_seq != seq || mm->got_sum != sum)
    return mm->kind = MP_EX_SUM;
  for (uint32_t i = MP_MIN_SLOT; i < size; i++) {
    if (b[i] != mp_pattern_byte(sum, i)) {
      mm->offset = i;
      mm->got = b[i];
      mm->want = mp_pattern_byte(sum, i);
      return mm->kind = MP_EX_PATTERN;
    }
  }
  return MP_EX_OK;
}

#endif /* MP_PAYLOAD_H */
