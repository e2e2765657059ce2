/**
 * @file main.c
 * @brief myelon-bench command line.
 *
 *   myelon-bench suite quick|full [--out DIR] [--only a,b] [--no-pin]
 *                [--case-timeout S] [--wrap ROLE=CMD] [--runs N]
 *   myelon-bench case [--out DIR] [--no-pin] [--wrap ROLE=CMD] <case options>
 *   myelon-bench list
 *   myelon-bench plan quick|full [--only a,b] [--runs N]   (the cases a suite would run)
 *   myelon-bench role NAME ...      (internal: one process of a case)
 *
 * Case options: --workload pingpong|fixed_rate|stream|broadcast|wake|ab_pingpong|ab_stream|gather|ab_gather|
 *   ab_gather_rtt
 *   --subject S --size B --count N --warmup N --capacity N --receivers N
 *   --wait spin|yield|block --rate R --idle-ns NS --gap-ns NS
 */
#define _GNU_SOURCE
#include "bench.h"
#include "hosts.h"
#include "orch.h"
#include "roles.h"
#include "sysinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
  fputs("usage: myelon-bench suite quick|full [--out DIR] [--only a,b,...] [--no-pin]\n"
        "                    [--case-timeout SECONDS] [--wrap ROLE=COMMAND] [--runs N]\n"
        "       myelon-bench case [--out DIR] [--no-pin] [--wrap ROLE=COMMAND]\n"
        "                    [--workload W] [--subject S] [--size B] [--count N] [--warmup N]\n"
        "                    [--capacity N] [--receivers N] [--wait spin|yield|block] [--rate R]\n"
        "       myelon-bench list\n"
        "       myelon-bench plan quick|full [--only a,b,...] [--runs N]\n",
        stderr);
  return 2;
}

static int role_main(int argc, char **argv)
{
  if (argc < 3)
    return usage();
  struct bench_case c;
  bench_case_defaults(&c);
  struct role_env env = {.c = &c};
  const char *result = NULL;
  int ctlfd = -1;
  bench_role_name = argv[2];
  for (int i = 3; i < argc; i++) {
    int r = bench_case_parse_opt(&c, argc, argv, &i);
    if (r < 0)
      return 2;
    if (r > 0 || i + 1 >= argc)
      continue;
    if (strcmp(argv[i], "--idx") == 0)
      env.idx = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--ctl-fd") == 0)
      ctlfd = atoi(argv[++i]);
    else if (strcmp(argv[i], "--tick-ns") == 0)
      bench_clock_set(atof(argv[++i]));
    else if (strcmp(argv[i], "--nroles") == 0)
      env.nroles = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--result") == 0)
      result = argv[++i];
  }
  env.s = bench_subject_find(c.subject);
  if (!env.s || !result || ctlfd < 0 || bench_ctl_map(ctlfd, &env.ctl) < 0) {
    bench_log("bad role invocation (subject '%s')", c.subject);
    return 2;
  }
  env.result = fopen(result, "w");
  if (!env.result)
    return 2;
  /* The cross-host subjects: enter this role's host first (hosts.h). */
  int rc = bench_hosts_enter(&c, argv[2]);
  if (rc == 0)
    rc = bench_role_run(argv[2], &env);
  else
    atomic_store_explicit(&env.ctl->failed, 1, memory_order_relaxed);
  fclose(env.result);
  return rc < 0 ? 1 : 0;
}

static void default_out(char *out, size_t n)
{
  char ts[32];
  time_t now = time(NULL);
  strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", localtime(&now));
  if (access("bench", F_OK) == 0 && access("bench/out", F_OK) != 0)
    (void)!system("mkdir -p bench/out");
  snprintf(out, n, "%s/%s", access("bench/out", W_OK) == 0 ? "bench/out" : ".", ts);
}

static int parse_wrap(struct orch *o, const char *arg)
{
  const char *eq = strchr(arg, '=');
  if (!eq || (size_t)(eq - arg) >= sizeof o->wrap_role)
    return -EINVAL;
  memcpy(o->wrap_role, arg, (size_t)(eq - arg));
  o->wrap_role[eq - arg] = 0;
  char *cmd = strdup(eq + 1);
  for (char *tok = strtok(cmd, " "); tok && o->wrap_argc < ORCH_MAX_WRAP - 1; tok = strtok(NULL, " "))
    o->wrap_argv[o->wrap_argc++] = tok;
  return o->wrap_argc > 0 ? 0 : -EINVAL;
}

/* Options common to "suite" and "case"; returns 1 if consumed, -1 on error. */
static int orch_opt(struct orch *o, int argc, char **argv, int *i, const char **only)
{
  const char *a = argv[*i];
  if (strcmp(a, "--no-pin") == 0) {
    o->pin = false;
    return 1;
  }
  if (*i + 1 >= argc)
    return 0;
  const char *v = argv[*i + 1];
  if (strcmp(a, "--out") == 0)
    snprintf(o->out, sizeof o->out, "%s", v);
  else if (strcmp(a, "--only") == 0)
    *only = v;
  else if (strcmp(a, "--case-timeout") == 0)
    o->case_timeout_ns = (int64_t)(atof(v) * 1e9);
  else if (strcmp(a, "--runs") == 0) {
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || end == v || n < 1 || n > 20) {
      fprintf(stderr, "myelon-bench: --runs takes 1 to 20, not '%s'\n", v);
      return -1;
    }
    o->runs = (uint32_t)n;
  }
  else if (strcmp(a, "--wrap") == 0) {
    if (parse_wrap(o, v) < 0)
      return -1;
  } else
    return 0;
  (*i)++;
  return 1;
}

static int orch_main(int argc, char **argv, bool single)
{
  static struct orch o;
  o.pin = true;
  o.runs = 1;
  o.case_timeout_ns = INT64_C(90) * 1000000000;
  const char *only = NULL;
  struct bench_case one;
  bench_case_defaults(&one);
  one.capacity = 0; /* 0: the suite's depth for the size */
  int first = single ? 2 : 3;
  if (!single && argc < 3)
    return usage();
  o.suite = single ? "case" : argv[2];
  for (int i = first; i < argc; i++) {
    int r = orch_opt(&o, argc, argv, &i, &only);
    if (r == 0 && single)
      r = bench_case_parse_opt(&one, argc, argv, &i);
    if (r <= 0) {
      fprintf(stderr, "myelon-bench: unknown or bad option '%s'\n", argv[i]);
      return usage();
    }
  }
  if (!o.out[0])
    default_out(o.out, sizeof o.out);
  if (o.wrap_argc)
    o.case_timeout_ns *= 20;
  if (orch_init(&o) < 0) {
    fprintf(stderr, "myelon-bench: cannot prepare %s: %s\n", o.out, strerror(errno));
    return 1;
  }
  bench_clock_init();
  o.clock_cost_ns = bench_clock_cost_ns();
  o.pause_ns = bench_pause_cost_ns();
  o.fence_ns = bench_fence_cost_ns();
  /* A paired case selects (and probes: iceoryx's broker) its pair too. */
  char both[2 * sizeof one.subject + 2];
  snprintf(both, sizeof both, "%s,%s", one.subject, one.pair);
  orch_select(&o, single ? (one.pair[0] ? both : one.subject) : only);
  if (single) {
    const struct bench_subject *s = NULL;
    for (unsigned k = 0; o.subjects[k]; k++)
      if (strcmp(o.subjects[k]->name, one.subject) == 0)
        s = o.subjects[k];
    if (!s || (one.pair[0] && !orch_has(&o, one.pair))) {
      orch_finish(&o); /* records the skip in run.json, removes the temp dir */
      return 1;
    }
    one.capacity = one.capacity ? one.capacity : suite_capacity(one.size);
    if (s->max_capacity && one.capacity > s->max_capacity)
      one.capacity = s->max_capacity;
    orch_add(&o, &one);
  } else if (suite_plan(&o, o.suite) < 0) {
    orch_finish(&o);
    return usage();
  }
  fprintf(stderr, "myelon-bench: %u cases, %d cores%s, results in %s\n", o.ncases, o.ncpu,
          o.pin && o.ncpu >= 2 ? " (pinned)" : "", o.out);
  unsigned failed = orch_run(&o);
  orch_finish(&o);
  fprintf(stderr, "myelon-bench: %u of %u cases failed; run.json written to %s\n", failed, o.ncases, o.out);
  return failed ? 1 : 0;
}

/* The cases of a suite, one id per line, without running anything (no
 * probes either: iceoryx's cases are listed even where RouDi would not
 * start). */
static int plan_main(int argc, char **argv)
{
  static struct orch o;
  if (argc < 3)
    return usage();
  const char *only = NULL;
  o.runs = 1;
  for (int i = 3; i + 1 < argc; i++)
    if (strcmp(argv[i], "--only") == 0)
      only = argv[++i];
    else if (strcmp(argv[i], "--runs") == 0)
      o.runs = (uint32_t)strtoul(argv[++i], NULL, 10);
  o.suite = argv[2];
  o.ncpu = bench_ncpus();
  o.no_probe = true;
  o.cases = calloc(ORCH_MAX_CASES, sizeof *o.cases);
  if (!o.cases)
    return 1;
  orch_select(&o, only);
  int rc = suite_plan(&o, o.suite);
  for (unsigned i = 0; rc == 0 && i < o.ncases; i++) {
    char id[128];
    orch_case_id(&o.cases[i], i, id, sizeof id);
    puts(id);
  }
  free(o.cases);
  return rc < 0 ? usage() : 0;
}

static int list_main(void)
{
  for (const struct bench_subject *const *s = bench_subjects(); *s; s++)
    printf("%-20s %-10s %s%s\n", (*s)->name,
           (*s)->family == BENCH_FAMILY_FLOOR ? "floor" : (*s)->family == BENCH_FAMILY_OURS ? "ours" : "competitor",
           (*s)->transport, (*s)->caps & BENCH_CAP_BROADCAST ? " [broadcast]" : "");
  return 0;
}

int main(int argc, char **argv)
{
  if (argc < 2)
    return usage();
  if (strcmp(argv[1], "role") == 0)
    return role_main(argc, argv);
  if (strcmp(argv[1], "suite") == 0)
    return orch_main(argc, argv, false);
  if (strcmp(argv[1], "case") == 0)
    return orch_main(argc, argv, true);
  if (strcmp(argv[1], "list") == 0)
    return list_main();
  if (strcmp(argv[1], "plan") == 0)
    return plan_main(argc, argv);
  return usage();
}
