/**
 * @file tool_clock.h
 * @brief Clock reads of the tools of both projects (disruptor-mp/tools/common,
 * not installed).
 */
#ifndef DMP_TOOL_CLOCK_H
#define DMP_TOOL_CLOCK_H

#include <stdint.h>

/** CLOCK_MONOTONIC in nanoseconds: intervals, deadlines, latencies. */
int64_t tool_now_ns(void);

/** CLOCK_REALTIME in nanoseconds: wall-clock stamps. */
int64_t tool_realtime_ns(void);

/** Sleep `ns` nanoseconds (resumed after signals); nothing for ns <= 0. */
void tool_sleep_ns(int64_t ns);

#endif /* DMP_TOOL_CLOCK_H */
