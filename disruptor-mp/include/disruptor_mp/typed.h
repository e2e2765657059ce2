/**
 * @file typed.h
 * @brief Type-checked wrappers for rings of one C struct.
 *
 *     struct tick { int64_t ts; double px; };
 *     DMP_DECLARE_TYPED(tick, struct tick);
 *
 * declares, for that type:
 *
 *     void tick_producer_config(struct dmp_producer_config *cfg);  // size, align, tag
 *     void tick_consumer_config(struct dmp_consumer_config *cfg);
 *     int  tick_try_claim(struct dmp_producer *p, struct tick **slot);
 *     int  tick_claim_timeout(struct dmp_producer *p, struct tick **slot, int64_t timeout_ns);
 *     int  tick_try_peek(struct dmp_consumer *c, const struct tick **ev, int64_t *seq);
 *     int  tick_peek_timeout(struct dmp_consumer *c, const struct tick **ev, int64_t *seq, int64_t t);
 *
 * Passing a pointer to another type is a compile error, and the configs set
 * slot_size = sizeof(T), slot_align = alignof(T) and a type tag derived
 * from the type's name and size (as spelled: C++ peers of a C ring write
 * `struct tick` too), so a consumer built for another struct is
 * refused at attach (-DMP_E_MISMATCH) even when the sizes are equal.
 */
#ifndef DISRUPTOR_MP_TYPED_H
#define DISRUPTOR_MP_TYPED_H

#include <assert.h> /* static_assert in C11 (a keyword in C++) */
#include <stdalign.h> /* alignof in C11 (a keyword in C++) */
#include <stdint.h>

#include <disruptor_mp/consumer.h>
#include <disruptor_mp/producer.h>

/** FNV-1a-64 of a string mixed with a size: the default type tag. Never 0. */
static inline uint64_t dmp_type_tag(const char *type_name, uint64_t size)
{
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (const char *s = type_name; *s; s++)
    h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
  for (int i = 0; i < 8; i++)
    h = (h ^ ((size >> (8 * i)) & 0xff)) * UINT64_C(0x100000001b3);
  return h ? h : 1;
}

#if defined(__GNUC__)
#define DMP_TYPED_UNUSED __attribute__((unused))
#else
#define DMP_TYPED_UNUSED
#endif

#define DMP_DECLARE_TYPED(prefix, T)                                                                  \
  DMP_TYPED_UNUSED static inline void prefix##_producer_config(struct dmp_producer_config *cfg)                        \
  {                                                                                                   \
    cfg->slot_size = (uint32_t)sizeof(T);                                                             \
    cfg->slot_align = (uint32_t)alignof(T);                                                          \
    cfg->type_tag = dmp_type_tag(#T, sizeof(T));                                                      \
  }                                                                                                   \
  DMP_TYPED_UNUSED static inline void prefix##_consumer_config(struct dmp_consumer_config *cfg)                        \
  {                                                                                                   \
    cfg->slot_size = (uint32_t)sizeof(T);                                                             \
    cfg->slot_align = (uint32_t)alignof(T);                                                          \
    cfg->type_tag = dmp_type_tag(#T, sizeof(T));                                                      \
  }                                                                                                   \
  DMP_TYPED_UNUSED static inline int prefix##_try_claim(struct dmp_producer *p, T **slot)                              \
  {                                                                                                   \
    void *s = NULL;                                                                                   \
    int rc = dmp_producer_try_claim(p, &s);                                                           \
    *slot = rc == 0 ? (T *)s : NULL;                                                                  \
    return rc;                                                                                        \
  }                                                                                                   \
  DMP_TYPED_UNUSED static inline int prefix##_claim_timeout(struct dmp_producer *p, T **slot, int64_t timeout_ns)      \
  {                                                                                                   \
    void *s = NULL;                                                                                   \
    int rc = dmp_producer_claim_timeout(p, &s, timeout_ns);                                           \
    *slot = rc == 0 ? (T *)s : NULL;                                                                  \
    return rc;                                                                                        \
  }                                                                                                   \
  DMP_TYPED_UNUSED static inline int prefix##_try_peek(struct dmp_consumer *c, const T **ev, int64_t *seq)             \
  {                                                                                                   \
    const void *e = NULL;                                                                             \
    int rc = dmp_consumer_try_peek(c, &e, seq);                                                       \
    *ev = rc == 0 ? (const T *)e : NULL;                                                              \
    return rc;                                                                                        \
  }                                                                                                   \
  DMP_TYPED_UNUSED static inline int prefix##_peek_timeout(struct dmp_consumer *c, const T **ev, int64_t *seq,         \
                                          int64_t timeout_ns)                                         \
  {                                                                                                   \
    const void *e = NULL;                                                                             \
    int rc = dmp_consumer_peek_timeout(c, &e, seq, timeout_ns);                                       \
    *ev = rc == 0 ? (const T *)e : NULL;                                                              \
    return rc;                                                                                        \
  }                                                                                                   \
  static_assert(sizeof(T) > 0, "typed ring of an empty type")

#endif /* DISRUPTOR_MP_TYPED_H */
