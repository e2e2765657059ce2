/*
 * bind.c: out-of-line twins of the inline hot path (producer.h,
 * consumer.h), the entry points for language bindings that can only call
 * exported functions (Python's ctypes, cffi in ABI mode, other FFIs).
 *
 * Each twin calls its inline function: the same contract, return codes and
 * progress guarantee, plus one call. C and C++ callers keep the inline
 * functions; a binding calls these.
 */
#include "internal.h"

int dmp_producer_try_claim_fn(struct dmp_producer *p, void **slot)
{
  return dmp_producer_try_claim(p, slot);
}

int dmp_producer_try_claim_batch_fn(struct dmp_producer *p, uint64_t n, int64_t *first)
{
  return dmp_producer_try_claim_batch(p, n, first);
}

void *dmp_producer_slot_fn(struct dmp_producer *p, int64_t seq)
{
  return dmp_producer_slot(p, seq);
}

int64_t dmp_producer_publish_fn(struct dmp_producer *p)
{
  return dmp_producer_publish(p);
}

void dmp_producer_abort_fn(struct dmp_producer *p)
{
  dmp_producer_abort(p);
}

int64_t dmp_consumer_available_fn(struct dmp_consumer *c)
{
  return dmp_consumer_available(c);
}

int dmp_consumer_try_peek_fn(struct dmp_consumer *c, const void **event, int64_t *seq)
{
  return dmp_consumer_try_peek(c, event, seq);
}

void dmp_consumer_release_fn(struct dmp_consumer *c)
{
  dmp_consumer_release(c);
}
