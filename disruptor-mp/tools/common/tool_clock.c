/* Clock reads of the tools (see tool_clock.h). */
#include "tool_clock.h"

#include <errno.h>
#include <time.h>

static int64_t read_ns(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tool_now_ns(void)
{
  return read_ns(CLOCK_MONOTONIC);
}

int64_t tool_realtime_ns(void)
{
  return read_ns(CLOCK_REALTIME);
}

void tool_sleep_ns(int64_t ns)
{
  if (ns <= 0)
    return;
  struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}
