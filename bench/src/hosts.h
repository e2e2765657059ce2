/**
 * @file hosts.h
 * @brief Two "hosts" on one machine for the cross-host subjects (issue 17:
 * the ZeroMQ bridge against plain ZeroMQ and nng over TCP).
 *
 * A host is a process ("holder") in network, IPC and mount namespaces of
 * its own, with a private tmpfs on /dev/shm, so each host has its own
 * rings; host A and host B are joined by a veth pair (va 10.219.0.1/24 in
 * A, vb 10.219.0.2/24 in B) created directly inside the two namespaces:
 * nothing is added to the machine's own network namespace and no traffic
 * leaves the pair. The orchestrator makes both hosts before a case whose
 * subject (or pair) has BENCH_CAP_HOSTS or BENCH_CAP_HOSTS_LOCAL and
 * SIGKILLs the holders after it, whatever happened: the namespaces, the
 * veth pair and the tmpfs go with their last process (the roles and the
 * bridge processes they start die with their parents, PR_SET_PDEATHSIG).
 *
 * Each role process then enters its host (setns) before it opens anything:
 *   BENCH_CAP_HOSTS        client / producer on A, server / consumer on B,
 *                          unpinned (a host is the whole machine: the
 *                          bridge processes and ZeroMQ's I/O threads need
 *                          cores beside the role)
 *   BENCH_CAP_HOSTS_LOCAL  every role on A, pinned as usual (the subject
 *                          itself starts what runs on B)
 *
 * CURVE keys for both hosts (Z85, one line, as `myelon-bridge keygen`
 * writes them: a.key / a.pub, b.key / b.pub) are made in the case's temp
 * dir with the hosts. Needs root; without it, or where namespaces are
 * refused, bench_hosts_probe() says why and the subjects are skipped.
 */
#ifndef MYELON_BENCH_HOSTS_H
#define MYELON_BENCH_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bench.h"

enum bench_host { BENCH_HOST_A = 0, BENCH_HOST_B = 1 };

/** 0: the case needs no hosts; BENCH_CAP_HOSTS or BENCH_CAP_HOSTS_LOCAL
 * (from its subject or pair). */
unsigned bench_hosts_mode(const struct bench_case *c);

/** Can hosts be made here (root, namespaces allowed, `ip` present)? 0, or
 * -1 with the reason in `why`. Cached per process. */
int bench_hosts_probe(char *why, size_t n);

/** Orchestrator: make both hosts for case `c` (bounded, 10 s per step);
 * 0, or -1 with the reason in `why` and nothing left behind. */
int bench_hosts_create(const struct bench_case *c, char *why, size_t n);
/** Orchestrator: end the hosts of the last bench_hosts_create() (SIGKILL
 * and reap the holders). Harmless when there are none. */
void bench_hosts_destroy(void);

/** Role process: enter the host of role `role` (see above); 0 or -errno. */
int bench_hosts_enter(const struct bench_case *c, const char *role);

/** The host the calling role entered (A when it entered none). */
enum bench_host bench_hosts_current(void);
/** Host `h`'s address on the veth ("10.219.0.1" / "10.219.0.2"). */
const char *bench_hosts_addr(enum bench_host h);
/** Path of host `h`'s key file (`secret`: h.key, else h.pub). */
void bench_hosts_key(const struct bench_case *c, enum bench_host h, bool secret, char *out, size_t n);
/** A TCP port for channel `dir` of subject `base`'s copy in case `c` (the
 * paired subject B, whose tag ends in 'b', gets its own). */
unsigned bench_hosts_port(const struct bench_case *c, unsigned base, unsigned dir);

/** The myelon-bridge tool of this build ("" when it was not built). */
const char *bench_bridge_tool(void);

/** Start `argv` (argv[0] the program) in host `h` (a child of the caller
 * that dies with it, unpinned, stdout and stderr appended to `log`):
 * 0 and `*pid`, or -errno. */
int bench_hosts_spawn(const struct bench_case *c, enum bench_host h, char *const argv[], const char *log, pid_t *pid);
/** SIGTERM `pid`, wait up to 3 s, then SIGKILL; reaped either way.
 * Returns its exit status as waitpid() gave it, -1 if it had to be killed. */
int bench_hosts_stop(pid_t pid);
/** Has `pid` (a child) exited? Then its status is logged with `what`. */
bool bench_hosts_exited(pid_t pid, const char *what);

#endif /* MYELON_BENCH_HOSTS_H */
