/* Clock calibration, pinning, logging and name tables of the harness. */
#define _GNU_SOURCE
#include "bench.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <disruptor_mp/bytes.h>

double bench_ns_per_tick = 1.0;
const char *bench_role_name = "bench";

uint64_t bench_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return (uint64_t)bench_mono_ns();
#endif
}


void bench_clock_set(double ns_per_tick)
{
  if (ns_per_tick > 0)
    bench_ns_per_tick = ns_per_tick;
}

void bench_clock_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
  /* Spin ~100 ms between two (monotonic, tick) pairs; the ratio is the
   * tick period. Spinning, not sleeping, keeps the core's clock up. */
  int64_t m0 = bench_mono_ns();
  uint64_t t0 = bench_ticks();
  while (bench_mono_ns() - m0 < 100000000)
    ;
  int64_t m1 = bench_mono_ns();
  uint64_t t1 = bench_ticks();
  bench_ns_per_tick = (double)(m1 - m0) / (double)(t1 - t0);
#else
  bench_ns_per_tick = 1.0;
#endif
}

double bench_clock_cost_ns(void)
{
  double best = 1e9;
  for (int r = 0; r < 5; r++) {
    uint64_t s = 0;
    int64_t m0 = bench_mono_ns();
    for (int i = 0; i < 200000; i++)
      s += bench_ticks_inline();
    int64_t m1 = bench_mono_ns();
    double per = (double)(m1 - m0) / 200000.0 + (double)(s & 1) * 1e-12;
    if (per < best)
      best = per;
  }
  return best;
}

void bench_log(const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "[%s %d] %s\n", bench_role_name, (int)getpid(), buf);
}

void bench_fill(void *buf, size_t len)
{
  unsigned char *p = buf;
  for (size_t i = 0; i < len; i++)
    p[i] = (unsigned char)(i * 131u + 7u);
}

int bench_pin(int core)
{
  if (core < 0)
    return 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}

int bench_ncpus(void)
{
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static const char *const workload_names[BENCH_WL_COUNT] = {
    "pingpong", "fixed_rate", "stream", "broadcast", "wake", "ab_pingpong", "ab_stream", "gather", "ab_gather",
    "ab_gather_rtt"};
static const char *const wait_names[BENCH_WAIT_COUNT] = {"spin", "yield", "block"};

const char *bench_workload_name(enum bench_workload w)
{
  return (unsigned)w < BENCH_WL_COUNT ? workload_names[w] : "?";
}

const char *bench_wait_name(enum bench_wait w)
{
  return (unsigned)w < BENCH_WAIT_COUNT ? wait_names[w] : "?";
}

int bench_workload_parse(const char *s, enum bench_workload *out)
{
  for (unsigned i = 0; i < BENCH_WL_COUNT; i++)
    if (strcmp(s, workload_names[i]) == 0) {
      *out = (enum bench_workload)i;
      return 0;
    }
  return -EINVAL;
}

int bench_wait_parse(const char *s, enum bench_wait *out)
{
  for (unsigned i = 0; i < BENCH_WAIT_COUNT; i++)
    if (strcmp(s, wait_names[i]) == 0) {
      *out = (enum bench_wait)i;
      return 0;
    }
  return -EINVAL;
}

int bench_shm_create(const char *name, size_t len, uint8_t **map)
{
  int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return -errno;
  int rc = ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
  void *m = MAP_FAILED;
  if (rc == 0) {
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    rc = m == MAP_FAILED ? -errno : 0;
  }
  close(fd);
  if (rc < 0) {
    shm_unlink(name);
    return rc;
  }
  *map = m;
  return 0;
}

int bench_shm_open_wait(const char *name, size_t len, int64_t deadline, uint8_t **map)
{
  for (;;) {
    int fd = shm_open(name, O_RDWR, 0600);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size >= len) {
      void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
      close(fd);
      if (m == MAP_FAILED)
        return -errno;
      *map = m;
      return 0;
    }
    if (fd >= 0)
      close(fd);
    if (bench_mono_ns() > deadline)
      return -ETIMEDOUT;
    bench_sleep_ns(200000);
  }
}

int bench_cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_median(double *v, unsigned n)
{
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_block_rate(uint64_t n, uint64_t t0, uint64_t t1)
{
  return n > 0 && t1 > t0 ? (double)n / ((double)(t1 - t0) * bench_ns_per_tick / 1e9) : 0.0;
}

void bench_emit_block_pairs(struct json *j, const char *unit, const double *a, const double *b, unsigned nb)
{
  double ratio[BENCH_PAIR_BLOCKS_MAX], sa[BENCH_PAIR_BLOCKS_MAX], sb[BENCH_PAIR_BLOCKS_MAX];
  char key[64];
  if (nb > BENCH_PAIR_BLOCKS_MAX)
    nb = BENCH_PAIR_BLOCKS_MAX;
  json_arr_begin(j, "pairs");
  for (unsigned i = 0; i < nb; i++) {
    ratio[i] = b[i] > 0 ? a[i] / b[i] : 0.0;
    sa[i] = a[i];
    sb[i] = b[i];
    json_arr_begin(j, NULL);
    json_f64(j, NULL, a[i]);
    json_f64(j, NULL, b[i]);
    json_arr_end(j);
  }
  json_arr_end(j);
  snprintf(key, sizeof key, "a_%s_per_s", unit);
  json_f64(j, key, bench_median(sa, nb));
  snprintf(key, sizeof key, "b_%s_per_s", unit);
  json_f64(j, key, bench_median(sb, nb));
  json_f64(j, "ratio_a_over_b", bench_median(ratio, nb));
  json_f64(j, "ratio_min", nb > 0 ? ratio[0] : 0.0);
  json_f64(j, "ratio_max", nb > 0 ? ratio[nb - 1] : 0.0);
  /* sa[] and sb[] are sorted by bench_median() above. */
  unsigned q = nb * 9 / 10;
  double pa = nb > 0 ? sa[q] : 0.0, pb = nb > 0 ? sb[q] : 0.0;
  snprintf(key, sizeof key, "a_p90_%s_per_s", unit);
  json_f64(j, key, pa);
  snprintf(key, sizeof key, "b_p90_%s_per_s", unit);
  json_f64(j, key, pb);
  json_f64(j, "ratio_p90", pb > 0 ? pa / pb : 0.0);
}

void bench_copy(void *dst, const void *src, size_t len)
{
  /* The library's own rule, not a copy of it (bytes.h, dmp_bytes_copy()):
   * a floor copies exactly as the byte ring does. */
  dmp_bytes_copy(dst, src, len);
}
