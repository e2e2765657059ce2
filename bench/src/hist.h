/**
 * @file hist.h
 * @brief A log-linear latency histogram (HdrHistogram's layout, 3
 * significant digits) over unsigned 64-bit values — ticks, in the harness.
 *
 * Values below 2048 have a bucket each. Above, a value v with its top set
 * bit at position m (m >= 11) falls into one of 1024 equal sub-buckets of
 * [2^m, 2^(m+1)), each 2^(m-10) wide: the relative error is below 1/1024,
 * i.e. three significant decimal digits. Values below 2^42 are tracked
 * (about 25 minutes of 3 GHz ticks); larger ones saturate into the last
 * bucket. count, sum, min and max are exact.
 *
 * Recording is a shift, a count-leading-zeros and an increment: a few ns.
 */
#ifndef MYELON_BENCH_HIST_H
#define MYELON_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 10u
#define HIST_LINEAR (UINT64_C(2) << HIST_SUB_BITS) /* 2048 exact buckets */
#define HIST_MAX_BIT 42u
#define HIST_LEN (HIST_LINEAR + (HIST_MAX_BIT - HIST_SUB_BITS - 1) * (UINT64_C(1) << HIST_SUB_BITS))

struct hist {
  uint64_t count, sum, min, max;
  uint64_t counts[HIST_LEN];
};

void hist_init(struct hist *h);

static inline uint64_t hist_index(uint64_t v)
{
  if (v < HIST_LINEAR)
    return v;
  unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= 11 */
  if (top >= HIST_MAX_BIT)
    return HIST_LEN - 1;
  unsigned shift = top - HIST_SUB_BITS;             /* >= 1 */
  return HIST_LINEAR + (uint64_t)(shift - 1) * (UINT64_C(1) << HIST_SUB_BITS) +
         ((v >> shift) - (UINT64_C(1) << HIST_SUB_BITS));
}

static inline void hist_record(struct hist *h, uint64_t v)
{
  h->counts[hist_index(v)]++;
  h->count++;
  h->sum += v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
}

/** Highest value equivalent to bucket `i` (what percentiles report). */
uint64_t hist_bucket_high(uint64_t i);
/** Value at percentile `p` (0..100): the highest equivalent value of the
 * bucket holding the ceil(p/100 * count)-th sample; exact max for p = 100. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
void hist_merge(struct hist *into, const struct hist *from);

#endif /* MYELON_BENCH_HIST_H */
