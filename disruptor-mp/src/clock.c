/* Clocks and deadlines for the cold paths. */
#include "internal.h"

#include <errno.h>
#include <time.h>

int64_t dmp_impl_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t dmp_impl_realtime_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void dmp_impl_sleep_ns(int64_t ns)
{
  if (ns <= 0)
    return;
  struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int64_t dmp_impl_deadline(int64_t timeout_ns)
{
  if (timeout_ns < 0)
    return INT64_MAX;
  int64_t now = dmp_impl_now_ns();
  return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

int64_t dmp_impl_remaining(int64_t deadline)
{
  if (deadline == INT64_MAX)
    return INT64_MAX;
  int64_t left = deadline - dmp_impl_now_ns();
  return left > 0 ? left : 0;
}
