/**
 * @file affinity.h
 * @brief CPU pinning of the roles: producer, consumer, event processor.
 *
 * Every role's configuration has `cpus`: a CPU list in the kernel's list
 * format (cpuset(7)): "3", "0-3", "0,2,4-7". The first of these that is
 * set decides where the role's thread runs:
 *
 *   1. the configuration's `cpus` (dmp_producer_config, dmp_consumer_config,
 *      dmp_processor_config; libmyelon's configurations carry them in `ring`);
 *   2. the role's variable: DMP_PRODUCER_CPUS, DMP_CONSUMER_CPUS or
 *      DMP_PROCESSOR_CPUS;
 *   3. the process-wide fallback DMP_PROCESS_CPUS;
 *
 * and when none is set the thread is left as it is. The CPUs are applied
 * with sched_setaffinity(2) to the calling thread in dmp_producer_create()
 * and dmp_consumer_attach() (before the segment is opened, so the pages the
 * thread touches first are faulted in from the right node), and to the
 * processor's own thread in dmp_processor_start(), before it attaches.
 * The thread stays pinned when the handle is closed, and also when the
 * call fails later for another reason.
 *
 * A processor thread is pinned once, as a processor: the consumer it
 * attaches does not apply DMP_CONSUMER_CPUS on top (and a processor
 * configuration's `consumer.cpus` must stay NULL).
 *
 * Refused with -DMP_E_BADCONFIG, the thread's affinity unchanged, and
 * dmp_last_error() naming the field or variable and its value: a list that
 * does not parse (empty, spaces, signs, a descending range), a CPU number
 * at or above DMP_CPU_LIMIT, or a CPU this thread may not run on (offline,
 * or outside its cpuset / the affinity the process was started with:
 * "allowed: 0-1" says which are).
 */
#ifndef DISRUPTOR_MP_AFFINITY_H
#define DISRUPTOR_MP_AFFINITY_H

#include <disruptor_mp/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The roles that may be pinned. */
enum dmp_role {
  DMP_ROLE_PRODUCER = 0,
  DMP_ROLE_CONSUMER = 1,
  DMP_ROLE_PROCESSOR = 2,
};

/** CPU numbers must be below this (glibc's CPU_SETSIZE). */
#define DMP_CPU_LIMIT 1024

/**
 * Pin the calling thread to the CPU list `cpus`. `what` names the source in
 * the error detail (a field or variable name; NULL: "cpus").
 * Cold path; one sched_getaffinity and one sched_setaffinity call.
 * @return 0; -EINVAL if `cpus` is NULL; -DMP_E_BADCONFIG as in the file
 *         comment (the affinity is then unchanged); other -errno from the
 *         system.
 */
DMP_API int dmp_affinity_apply(const char *cpus, const char *what);

/**
 * Pin the calling thread as `role` would be: `cpus` if not NULL, else the
 * role's variable, else DMP_PROCESS_CPUS (the precedence above). For a
 * thread of the program's own that plays a role without a handle, or a
 * framework's event loop. DMP_ROLE_PROCESSOR also marks the thread as a
 * processor's: producer and consumer roles on it then leave its affinity
 * alone.
 * @return 1 pinned, 0 nothing set (thread unchanged), -EINVAL for an
 *         unknown role, -DMP_E_BADCONFIG as dmp_affinity_apply().
 */
DMP_API int dmp_affinity_pin_role(enum dmp_role role, const char *cpus);

/** The environment variable of `role` ("DMP_PRODUCER_CPUS", ...), NULL for
 * an unknown role. */
DMP_API const char *dmp_affinity_role_variable(enum dmp_role role);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_AFFINITY_H */
