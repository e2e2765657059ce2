/**
 * @file orch.h
 * @brief The orchestrator: runs cases one at a time (spawn, pin, bounded
 * wait, cleanup), shows progress, and writes the results directory:
 *
 *   <out>/run.json          meta (host, build, suite, skips) + every case
 *   <out>/cases/<id>.json   one file per case (params, status, results)
 *   <out>/roudi.log/.toml   iceoryx's broker, when it ran
 */
#ifndef MYELON_BENCH_ORCH_H
#define MYELON_BENCH_ORCH_H

#include <stdbool.h>
#include <stdint.h>

#include "bench.h"

#define ORCH_MAX_CASES 4096
#define ORCH_MAX_WRAP 16
#define BENCH_MAX_SUBJECTS 32

struct orch {
  char out[BENCH_PATH_MAX];
  char tmpbase[128]; /* short: case dirs and socket paths go below it */
  char self[BENCH_PATH_MAX];
  const char *suite;
  int ncpu;
  bool pin, tty;
  bool no_probe; /* plan only: select subjects without probing them */
  int64_t case_timeout_ns;
  uint32_t runs; /* --runs N: the main ladder (ping-pong and stream) N times; 1 by default */
  double clock_cost_ns, pause_ns, fence_ns;
  /* --wrap ROLE=CMD: run that role under CMD (e.g. valgrind) */
  char wrap_role[16];
  char *wrap_argv[ORCH_MAX_WRAP];
  int wrap_argc;
  /* subjects selected (NULL-terminated) and skipped with reasons */
  const struct bench_subject *subjects[BENCH_MAX_SUBJECTS + 1];
  struct {
    const char *name;
    char why[256];
  } skipped[BENCH_MAX_SUBJECTS];
  unsigned nskipped;
  /* the plan */
  struct bench_case *cases;
  unsigned ncases;
  /* progress */
  unsigned done, failed;
  int64_t t_start;
};

/** Prepare `o->out` (created), the temp dir and signal handling. */
int orch_init(struct orch *o);
/** Probe the subjects named in `only` (comma list; NULL = all compiled in),
 * filling o->subjects and o->skipped. */
void orch_select(struct orch *o, const char *only);
/** True if `name` is among the selected subjects. */
bool orch_has(const struct orch *o, const char *name);
/** Append a case to the plan (its tag and tmpdir are filled in). */
void orch_add(struct orch *o, const struct bench_case *c);
/** The case's id ("017-stream-dmp-shm-64-spin..."), also its file name. */
void orch_case_id(const struct bench_case *c, unsigned i, char *out, size_t n);
/** Run the plan; returns the number of failed cases. */
unsigned orch_run(struct orch *o);
/** Write run.json, stop RouDi, remove temp files. */
void orch_finish(struct orch *o);

/** Build the plan of suite "quick" or "full"; -1 for an unknown name. */
int suite_plan(struct orch *o, const char *name);
/** Ring/queue depth used for a payload size (upstream's table). */
uint64_t suite_capacity(uint64_t size);

#endif /* MYELON_BENCH_ORCH_H */
