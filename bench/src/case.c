/* A case on the command line: defaults, to argv, from argv (see roles.h). */
#include "roles.h"
#include "tool_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_case_defaults(struct bench_case *c)
{
  memset(c, 0, sizeof *c);
  c->workload = BENCH_WL_PINGPONG;
  snprintf(c->subject, sizeof c->subject, "dmp-shm");
  c->size = 64;
  c->count = 10000;
  c->warmup = 1000;
  c->capacity = 4096;
  c->receivers = 1;
  c->writers = 1;
  c->wait = BENCH_WAIT_SPIN;
  c->idle_ns = 1000000000;
  c->gap_ns = 1000000;
  snprintf(c->tag, sizeof c->tag, "mbx");
  snprintf(c->tmpdir, sizeof c->tmpdir, "/tmp");
}

int bench_case_to_argv(const struct bench_case *c, char **argv, int argc, char (*store)[BENCH_PATH_MAX + 16])
{
  int k = 0;
#define ADD(opt, ...)                                                     \
  do {                                                                    \
    argv[argc++] = (char *)(opt);                                         \
    snprintf(store[k], sizeof store[k], __VA_ARGS__);                      \
    argv[argc++] = store[k++];                                            \
  } while (0)
  ADD("--workload", "%s", bench_workload_name(c->workload));
  ADD("--subject", "%s", c->subject);
  if (c->pair[0])
    ADD("--pair", "%s", c->pair);
  ADD("--size", "%llu", (unsigned long long)c->size);
  ADD("--count", "%llu", (unsigned long long)c->count);
  ADD("--warmup", "%llu", (unsigned long long)c->warmup);
  ADD("--capacity", "%llu", (unsigned long long)c->capacity);
  ADD("--receivers", "%u", c->receivers);
  ADD("--writers", "%u", c->writers);
  ADD("--wait", "%s", bench_wait_name(c->wait));
  ADD("--rate", "%llu", (unsigned long long)c->rate);
  ADD("--idle-ns", "%lld", (long long)c->idle_ns);
  ADD("--gap-ns", "%lld", (long long)c->gap_ns);
  ADD("--tag", "%s", c->tag);
  ADD("--tmpdir", "%s", c->tmpdir);
#undef ADD
  argv[argc] = NULL;
  return argc;
}

static int parse_u64(const char *s, uint64_t *out)
{
  return tool_parse_u64(s, out) ? 0 : -EINVAL;
}

static int parse_str(const char *s, char *out, size_t n)
{
  if (strlen(s) >= n)
    return -EINVAL;
  memcpy(out, s, strlen(s) + 1);
  return 0;
}

int bench_case_parse_opt(struct bench_case *c, int argc, char **argv, int *i)
{
  const char *opt = argv[*i];
  if (strncmp(opt, "--", 2) != 0 || *i + 1 >= argc)
    return 0;
  const char *v = argv[*i + 1];
  uint64_t u = 0;
  int rc;
  if (strcmp(opt, "--workload") == 0)
    rc = bench_workload_parse(v, &c->workload);
  else if (strcmp(opt, "--subject") == 0)
    rc = parse_str(v, c->subject, sizeof c->subject);
  else if (strcmp(opt, "--pair") == 0)
    rc = parse_str(v, c->pair, sizeof c->pair);
  else if (strcmp(opt, "--size") == 0)
    rc = parse_u64(v, &c->size);
  else if (strcmp(opt, "--count") == 0)
    rc = parse_u64(v, &c->count);
  else if (strcmp(opt, "--warmup") == 0)
    rc = parse_u64(v, &c->warmup);
  else if (strcmp(opt, "--capacity") == 0)
    rc = parse_u64(v, &c->capacity);
  else if (strcmp(opt, "--receivers") == 0)
    rc = parse_u64(v, &u) ? -EINVAL : (c->receivers = (uint32_t)u, 0);
  else if (strcmp(opt, "--writers") == 0)
    rc = parse_u64(v, &u) || u < 1 || u > 16 ? -EINVAL : (c->writers = (uint32_t)u, 0);
  else if (strcmp(opt, "--wait") == 0)
    rc = bench_wait_parse(v, &c->wait);
  else if (strcmp(opt, "--rate") == 0)
    rc = parse_u64(v, &c->rate);
  else if (strcmp(opt, "--idle-ns") == 0)
    rc = parse_u64(v, &u) ? -EINVAL : (c->idle_ns = (int64_t)u, 0);
  else if (strcmp(opt, "--gap-ns") == 0)
    rc = parse_u64(v, &u) ? -EINVAL : (c->gap_ns = (int64_t)u, 0);
  else if (strcmp(opt, "--tag") == 0)
    rc = parse_str(v, c->tag, sizeof c->tag);
  else if (strcmp(opt, "--tmpdir") == 0)
    rc = parse_str(v, c->tmpdir, sizeof c->tmpdir);
  else
    return 0;
  if (rc < 0) {
    fprintf(stderr, "myelon-bench: bad value '%s' for %s\n", v, opt);
    return -EINVAL;
  }
  (*i)++;
  return 1;
}
