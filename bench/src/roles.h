/**
 * @file roles.h
 * @brief The child processes of a case ("roles") and how a case travels to
 * them on the command line.
 *
 *   workload     roles (core)                       measures
 *   pingpong     client (0), server (1)             RTT per exchange, at the client
 *   fixed_rate   client (0), server (1)             RTT and CO-corrected RTT
 *   stream       producer (0), consumer (1)         msgs/s at both ends
 *   broadcast    producer (0), consumer i (1 + i)   msgs/s, one-way latency per consumer
 *   wake         producer (0), consumer (1)         idle CPU%, one-way wake-up latency
 *   ab_pingpong  client (0), server (1)             RTT of subject and pair, interleaved
 *   ab_stream    producer (0), consumer (1)         per-block rates of subject and pair
 *   gather       producer i (i), consumer (N)       aggregate msgs/s, one-way latency
 *   ab_gather    producer 0 (0), consumer (1),      per-block rates of subject (N writers) and
 *                producer i (1 + i, or unpinned)    pair (N writers, or producer 0 alone)
 *   ab_gather_rtt client 0 (0), server (1),         per-writer RTT and per-block aggregate round
 *                client i (1 + i, or unpinned)      trips/s of subject and pair (N writers each)
 */
#ifndef MYELON_BENCH_ROLES_H
#define MYELON_BENCH_ROLES_H

#include <stdio.h>

#include "bench.h"
#include "ctl.h"

struct role_env {
  const struct bench_case *c;
  const struct bench_subject *s;
  struct bench_ctl *ctl;
  unsigned idx;      /* consumer index */
  unsigned nroles;   /* processes in the case (barrier size) */
  FILE *result;      /* where the measuring role writes its JSON object */
};

/** Messages of the untimed ("bare") ping-pong phase that follows the timed
 * one: its mean RTT carries no per-message clock read. */
uint64_t bench_bare_count(const struct bench_case *c);

/** Run role `name` ("client", "server", "producer", "consumer"). Returns 0,
 * or a negative errno after logging what failed. */
int bench_role_run(const char *name, struct role_env *env);

/** Append the case's options to argv from index `argc` (the values are
 * formatted into `store`, which needs 14 entries); returns the new argc and
 * NULL-terminates argv. */
int bench_case_to_argv(const struct bench_case *c, char **argv, int argc, char (*store)[BENCH_PATH_MAX + 16]);
/** Parse one case option at argv[*i] (advancing *i past its value).
 * Returns 1 if it was a case option, 0 if not, -EINVAL on a bad value. */
int bench_case_parse_opt(struct bench_case *c, int argc, char **argv, int *i);
/** Defaults for a case (size 64, count 10000, capacity 4096, ...). */
void bench_case_defaults(struct bench_case *c);

#endif /* MYELON_BENCH_ROLES_H */
