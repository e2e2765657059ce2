/* mpr_msg.h: the stamped message of the multi-producer tests (mpr_role.c,
 * test_mp_bias.c): producer id, its message number and a checksum over
 * every byte, so a half-written, foreign or duplicated slot is told. */
#ifndef MPR_MSG_H
#define MPR_MSG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support.h"

#define MPR_SLOT 64
#define MPR_MAX_PROD 16

struct mpr_msg {
  uint32_t prod;
  uint32_t magic;
  int64_t pseq;
  uint64_t sum;
  uint8_t fill[MPR_SLOT - 24];
};
_Static_assert(sizeof(struct mpr_msg) == MPR_SLOT, "one slot");

#define MPR_MAGIC 0x4d50524du

static inline uint64_t msg_sum(uint32_t prod, int64_t pseq)
{
  return ts_checksum((int64_t)(((uint64_t)prod << 48) ^ (uint64_t)pseq));
}

static inline void msg_fill(struct mpr_msg *m, uint32_t prod, int64_t pseq)
{
  m->prod = prod;
  m->magic = MPR_MAGIC;
  m->pseq = pseq;
  m->sum = msg_sum(prod, pseq);
  for (size_t i = 0; i < sizeof m->fill; i++)
    m->fill[i] = (uint8_t)(m->sum >> ((i % 8) * 8)) ^ (uint8_t)i;
}

static inline bool msg_ok(const struct mpr_msg *m)
{
  if (m->magic != MPR_MAGIC || m->prod >= MPR_MAX_PROD || m->pseq < 0 || m->sum != msg_sum(m->prod, m->pseq))
    return false;
  for (size_t i = 0; i < sizeof m->fill; i++)
    if (m->fill[i] != ((uint8_t)(m->sum >> ((i % 8) * 8)) ^ (uint8_t)i))
      return false;
  return true;
}

#endif /* MPR_MSG_H */
