/* The subjects compiled into this build (competitors are optional). */
#include "bench.h"

#include <string.h>

static const struct bench_subject *const all[] = {
    &bench_subj_floor,
    &bench_subj_floor2,
    &bench_subj_dmp_shm,
    &bench_subj_dmp_mmap,
    &bench_subj_dmp_poll,
    &bench_subj_dmp_lean,
    &bench_subj_dmp_nocnt,
    &bench_subj_dmp_mp,
    &bench_subj_dmp_mark,
    &bench_subj_dmp_markarr,
    &bench_subj_dmp_markhyb,
    &bench_subj_dmp_bytes,
    &bench_subj_framed_shm,
    &bench_subj_framed_bytes,
    &bench_subj_framed_mmap,
    &bench_subj_framed_shm_al,
    &bench_subj_framed_mmap_al,
    &bench_subj_framed_frag,
    &bench_subj_framed_poll,
    &bench_subj_framed_batch,
    &bench_subj_framed_bytes_batch,
    &bench_subj_msgpack_shm,
    &bench_subj_msgpack_mmap,
    &bench_subj_view_shm,
    &bench_subj_view_mmap,
    &bench_subj_view_tree_shm,
    &bench_subj_view_lazy_shm,
    &bench_subj_msgpack_shm_batch,
    &bench_subj_view_shm_batch,
#ifdef BENCH_HAVE_ICEORYX
    &bench_subj_iox,
#endif
#ifdef BENCH_HAVE_ZMQ
    &bench_subj_zmq,
#endif
#ifdef BENCH_HAVE_NNG
    &bench_subj_nng,
#endif
#ifdef BENCH_HAVE_BRIDGE
    &bench_subj_bridge_curve,
    &bench_subj_bridge_tcp,
    &bench_subj_framed_egress,
#endif
#ifdef BENCH_HAVE_ZMQ
    &bench_subj_zmq_curve,
    &bench_subj_zmq_tcp,
#endif
#ifdef BENCH_HAVE_NNG
    &bench_subj_nng_tcp,
#endif
    &bench_subj_uds,
    &bench_subj_pipe,
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
