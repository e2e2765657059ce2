/* Ring names and cleanup shared by the subjects built on our rings
 * (subj_dmp.c, subj_framed.c, subj_typed.c). */
#ifndef BENCH_SUBJ_RINGS_H
#define BENCH_SUBJ_RINGS_H

#include <stddef.h>

#include <disruptor_mp/config.h>

#include "bench.h"

/** Name of case `c`'s ring for direction `dir` (0 out, 1 back) on backend
 * `b`: "<tag>p<dir>" in /dev/shm, "<tmpdir>/<tag>p<dir>" for mmap. */
void subj_ring_name(const struct bench_case *c, unsigned dir, enum dmp_backend b, char *out, size_t n);

/** Remove both rings of case `c` (and their counters) once their producers
 * are dead: a killed producer leaves them behind. Never a live ring. */
void subj_rings_gc(const struct bench_case *c, enum dmp_backend b);

struct myelon_producer;
/** The framed producer of a `framed-*` subject's send end (subj_framed.c),
 * for subjects built on it (subj_bridge.c). */
struct myelon_producer *subj_framed_producer(void *tx);
/** The byte ring's size of `framed-bytes` (subj_framed.c), for
 * `framed-bytes-batch` (subj_framed_batch.c). */
uint64_t subj_framed_ring_bytes(const struct bench_case *c);

#endif
