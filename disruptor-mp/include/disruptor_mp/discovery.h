/**
 * @file discovery.h
 * @brief Discovery: who is attached to a ring, read from the consumer table.
 *
 * No name probing: the table inside the segment is the registry. Liveness
 * comes from the kernel-held OFD lock of each entry.
 */
#ifndef DISRUPTOR_MP_DISCOVERY_H
#define DISRUPTOR_MP_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/export.h>
#include <disruptor_mp/layout.h>
#include <disruptor_mp/producer.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A snapshot of one consumer table entry. */
struct dmp_consumer_info {
  char id[DMP_ID_MAX + 1];
  uint32_t index;            /**< entry index */
  enum dmp_entry_state state;
  bool alive;                /**< its holder's lock is held (ACTIVE entries) */
  bool gating;               /**< it currently gates the producer */
  bool durable;              /**< DMP_CONSUMER_DURABLE */
  bool non_gating;           /**< DMP_CONSUMER_NON_GATING (never gating) */
  int32_t pid;               /**< pid of the last holder */
  int64_t cursor;            /**< last released sequence */
  uint32_t generation;       /**< attach count */
  uint64_t reserved[4]; /**< zeroed by the library: room for later fields (ABI 0.1 keeps this size) */
};

/**
 * List the consumers whose id starts with `prefix` (NULL or "" = all),
 * FREE entries excluded, in table order. Writes up to `cap` entries.
 * @return the number of matching consumers (may exceed `cap`), or -EINVAL.
 */
DMP_API int dmp_producer_list_consumers(const struct dmp_producer *p, const char *prefix,
                                        struct dmp_consumer_info *out, size_t cap);

/**
 * Info about the consumer `id`.
 * @return 0, -ENOENT if no entry has that id, -EINVAL.
 */
DMP_API int dmp_producer_consumer_info(const struct dmp_producer *p, const char *id,
                                       struct dmp_consumer_info *out);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_DISCOVERY_H */
