/**
 * @file tool_hist.h
 * @brief A log-linear latency histogram (HdrHistogram's layout, 3
 * significant digits) over unsigned 64-bit values: ticks in the bench,
 * nanoseconds in the demos. One copy for every tool of both projects
 * (disruptor-mp/tools/common, not installed).
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
#ifndef DMP_TOOL_HIST_H
#define DMP_TOOL_HIST_H

#include <stdint.h>

#define TOOL_HIST_SUB_BITS 10u
#define TOOL_HIST_LINEAR (UINT64_C(2) << TOOL_HIST_SUB_BITS) /* 2048 exact buckets */
#define TOOL_HIST_MAX_BIT 42u
#define TOOL_HIST_LEN (TOOL_HIST_LINEAR + (TOOL_HIST_MAX_BIT - TOOL_HIST_SUB_BITS - 1) * (UINT64_C(1) << TOOL_HIST_SUB_BITS))

struct tool_hist {
  uint64_t count, sum, min, max;
  uint64_t counts[TOOL_HIST_LEN];
};

void tool_hist_init(struct tool_hist *h);

static inline uint64_t tool_hist_index(uint64_t v)
{
  if (v < TOOL_HIST_LINEAR)
    return v;
  unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= 11 */
  if (top >= TOOL_HIST_MAX_BIT)
    return TOOL_HIST_LEN - 1;
  unsigned shift = top - TOOL_HIST_SUB_BITS;             /* >= 1 */
  return TOOL_HIST_LINEAR + (uint64_t)(shift - 1) * (UINT64_C(1) << TOOL_HIST_SUB_BITS) +
         ((v >> shift) - (UINT64_C(1) << TOOL_HIST_SUB_BITS));
}

static inline void tool_hist_record(struct tool_hist *h, uint64_t v)
{
  h->counts[tool_hist_index(v)]++;
  h->count++;
  h->sum += v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
}

/** Highest value equivalent to bucket `i` (what percentiles report). */
uint64_t tool_hist_bucket_high(uint64_t i);
/** Value at percentile `p` (0..100): the highest equivalent value of the
 * bucket holding the ceil(p/100 * count)-th sample; exact max for p = 100. */
uint64_t tool_hist_percentile(const struct tool_hist *h, double p);
double tool_hist_mean(const struct tool_hist *h);
void tool_hist_merge(struct tool_hist *into, const struct tool_hist *from);

#endif /* DMP_TOOL_HIST_H */
