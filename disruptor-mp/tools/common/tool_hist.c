/* Log-linear histogram: bucket bounds, percentiles, merge (see tool_hist.h). */
#include "tool_hist.h"

#include <string.h>

void tool_hist_init(struct tool_hist *h)
{
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

uint64_t tool_hist_bucket_high(uint64_t i)
{
  if (i < TOOL_HIST_LINEAR)
    return i;
  uint64_t j = i - TOOL_HIST_LINEAR;
  unsigned shift = (unsigned)(j >> TOOL_HIST_SUB_BITS) + 1u;
  uint64_t sub = (j & ((UINT64_C(1) << TOOL_HIST_SUB_BITS) - 1)) + (UINT64_C(1) << TOOL_HIST_SUB_BITS);
  return (sub << shift) + (UINT64_C(1) << shift) - 1;
}

uint64_t tool_hist_percentile(const struct tool_hist *h, double p)
{
  if (h->count == 0)
    return 0;
  if (p >= 100.0)
    return h->max;
  uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (uint64_t i = 0; i < TOOL_HIST_LEN; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t v = tool_hist_bucket_high(i);
      return v < h->max ? v : h->max;
    }
  }
  return h->max;
}

double tool_hist_mean(const struct tool_hist *h)
{
  return h->count ? (double)h->sum / (double)h->count : 0.0;
}

void tool_hist_merge(struct tool_hist *into, const struct tool_hist *from)
{
  for (uint64_t i = 0; i < TOOL_HIST_LEN; i++)
    into->counts[i] += from->counts[i];
  into->count += from->count;
  into->sum += from->sum;
  if (from->min < into->min)
    into->min = from->min;
  if (from->max > into->max)
    into->max = from->max;
}
