/* The subjects compiled into this build (competitors are optional). */
#include "bench.h"

#include <string.h>

static const struct bench_subject *const all[] = {
    &bench_subj_floor,
    &bench_subj_dmp_shm,
    &bench_subj_dmp_mmap,
    &bench_subj_dmp_poll,
    &bench_subj_dmp_lean,
#ifdef BENCH_HAVE_ICEORYX
    &bench_subj_iox,
#endif
#ifdef BENCH_HAVE_ZMQ
    &bench_subj_zmq,
#endif
#ifdef BENCH_HAVE_NNG
    &bench_subj_nng,
#endif
    &bench_subj_uds,
    &bench_subj_pipe,
    /* Future subjects: myelon's framed (Layer 1), msgpack (Layer 2) and
     * zero-copy typed (Layer 3) on both backends — see the seam in bench.h. */
    NULL,
};

const struct bench_subject *const *bench_subjects(void) { return all; }

const struct bench_subject *bench_subject_find(const char *name)
{
  for (const struct bench_subject *const *s = all; *s; s++)
    if (strcmp((*s)->name, name) == 0)
      return *s;
  return NULL;
}
