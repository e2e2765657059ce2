/* Host and build description for the result files (see sysinfo.h). */
#define _GNU_SOURCE
#include "sysinfo.h"
#include "bench.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <disruptor_mp/version.h>

#ifndef BENCH_BUILD_FLAGS
#define BENCH_BUILD_FLAGS "unknown"
#endif
#ifndef BENCH_COMPETITORS
#define BENCH_COMPETITORS ""
#endif

/* First value of "key : value" in /proc/cpuinfo, or "" */
static void cpuinfo(const char *key, char *out, size_t n)
{
  out[0] = 0;
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return;
  char line[1024];
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, kl) != 0)
      continue;
    const char *colon = strchr(line, ':');
    if (!colon)
      continue;
    colon++;
    while (*colon == ' ' || *colon == '\t')
      colon++;
    snprintf(out, n, "%s", colon);
    out[strcspn(out, "\n")] = 0;
    break;
  }
  fclose(f);
}

static void read_line(const char *path, char *out, size_t n)
{
  out[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  if (fgets(out, (int)n, f))
    out[strcspn(out, "\n")] = 0;
  fclose(f);
}

double bench_pause_cost_ns(void)
{
  int64_t t0 = bench_mono_ns();
  for (int i = 0; i < 100000; i++)
    bench_relax();
  return (double)(bench_mono_ns() - t0) / 100000.0;
}

double bench_fence_cost_ns(void)
{
  int64_t t0 = bench_mono_ns();
  for (int i = 0; i < 100000; i++)
    atomic_thread_fence(memory_order_seq_cst);
  return (double)(bench_mono_ns() - t0) / 100000.0;
}

void bench_sysinfo_host(struct json *j, double clock_cost_ns, double pause_ns, double fence_ns)
{
  char buf[1024];
  struct utsname u;
  uname(&u);
  json_obj_begin(j, "host");
  cpuinfo("model name", buf, sizeof buf);
  json_str(j, "cpu_model", buf);
  cpuinfo("cpu family", buf, sizeof buf);
  json_str(j, "cpu_family", buf);
  cpuinfo("model\t", buf, sizeof buf);
  json_str(j, "cpu_model_number", buf);
  cpuinfo("stepping", buf, sizeof buf);
  json_str(j, "cpu_stepping", buf);
  cpuinfo("flags", buf, sizeof buf);
  json_bool(j, "virtualised", strstr(buf, " hypervisor") != NULL);
  json_u64(j, "cores", (uint64_t)bench_ncpus());
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  json_u64(j, "cores_online", online > 0 ? (uint64_t)online : 0);
  json_str(j, "kernel", u.release);
  json_str(j, "kernel_version", u.version);
  json_str(j, "machine", u.machine);
  json_str(j, "hostname", u.nodename);
  read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", buf, sizeof buf);
  json_str(j, "clocksource", buf);
  json_f64(j, "ns_per_tick", bench_ns_per_tick);
  json_f64(j, "tick_read_ns", clock_cost_ns);
  json_f64(j, "pause_ns", pause_ns);
  json_f64(j, "fence_ns", fence_ns);
  json_obj_end(j);
}

void bench_sysinfo_build(struct json *j)
{
  json_obj_begin(j, "build");
#if defined(__clang__)
  json_str(j, "compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
  json_str(j, "compiler", "gcc " __VERSION__);
#else
  json_str(j, "compiler", "unknown");
#endif
  json_str(j, "flags", BENCH_BUILD_FLAGS);
  json_str(j, "competitors", BENCH_COMPETITORS);
  json_str(j, "disruptor_mp_version", DMP_VERSION_STRING);
  const char *git = getenv("BENCH_GIT");
  json_str(j, "git", git ? git : "");
  json_obj_end(j);
}
