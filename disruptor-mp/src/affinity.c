/* CPU pinning of the roles (affinity.h): a strict parser for CPU lists,
 * the precedence configuration > role variable > DMP_PROCESS_CPUS, and
 * sched_setaffinity(2) checked by reading the mask back (the kernel
 * silently drops CPUs outside the thread's cpuset when some remain, and a
 * pinning that is not what was asked for must be an error). */
#include "internal.h"
#include "env_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(DMP_CPU_LIMIT == CPU_SETSIZE, "DMP_CPU_LIMIT is glibc's CPU_SETSIZE");

/* Set once a thread runs as an event processor (processor.c, libmyelon's
 * framed processor): the consumer it attaches must not re-pin it per
 * DMP_CONSUMER_CPUS. Thread-local: only that thread reads or writes it. */
static _Thread_local bool processor_thread;

/* One number of a CPU list: digits, below DMP_CPU_LIMIT. */
static const char *parse_cpu(const char *p, int *cpu, const char **why)
{
  if (*p < '0' || *p > '9') {
    *why = "expected a CPU number";
    return NULL;
  }
  long v = 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    v = v * 10 + (*p - '0');
    if (v >= DMP_CPU_LIMIT) {
      *why = "CPU number at or above the limit of 1024";
      return NULL;
    }
  }
  *cpu = (int)v;
  return p;
}

/* "3", "0-3", "0,2,4-7": the kernel's list format, nothing else. */
static bool cpulist_parse(const char *s, cpu_set_t *set, const char **why)
{
  CPU_ZERO(set);
  if (!*s) {
    *why = "empty CPU list";
    return false;
  }
  const char *p = s;
  for (;;) {
    int a, b;
    if (!(p = parse_cpu(p, &a, why)))
      return false;
    b = a;
    if (*p == '-' && !(p = parse_cpu(p + 1, &b, why)))
      return false;
    if (b < a) {
      *why = "descending range";
      return false;
    }
    for (int c = a; c <= b; c++)
      CPU_SET(c, set);
    if (*p == '\0')
      return true;
    if (*p != ',') {
      *why = "unexpected character (a list is like 0,2,4-7)";
      return false;
    }
    p++;
  }
}

int dmp_impl_cpulist_check(const char *s, const char *what, const char *fn)
{
  cpu_set_t set;
  const char *why = NULL;
  if (cpulist_parse(s, &set, &why))
    return 0;
  dmp_impl_set_error(fn, "%s='%s': %s", what, s, why);
  return -DMP_E_BADCONFIG;
}

static int first_missing(const cpu_set_t *want, const cpu_set_t *got)
{
  for (int c = 0; c < DMP_CPU_LIMIT; c++)
    if (CPU_ISSET(c, want) && !CPU_ISSET(c, got))
      return c;
  return -1;
}

static int apply(const char *cpus, const char *what, const char *fn)
{
  cpu_set_t want, old, got;
  const char *why = NULL;
  if (!cpulist_parse(cpus, &want, &why)) {
    dmp_impl_set_error(fn, "%s='%s': %s", what, cpus, why);
    return -DMP_E_BADCONFIG;
  }
  if (sched_getaffinity(0, sizeof old, &old) != 0)
    {
    int e = errno;
    dmp_impl_set_error(fn, "sched_getaffinity: %s", strerror(e));
    return -e;
  }
  if (sched_setaffinity(0, sizeof want, &want) != 0) {
    int e = errno;
    if (e != EINVAL)
      return dmp_impl_set_error(fn, "%s='%s': sched_setaffinity: %s", what, cpus, strerror(e)), -e;
    dmp_impl_set_error(fn, "%s='%s': none of these CPUs is available to this thread (offline, or outside "
                       "its cpuset)", what, cpus);
    return -DMP_E_BADCONFIG;
  }
  if (sched_getaffinity(0, sizeof got, &got) != 0 || !CPU_EQUAL(&got, &want)) {
    int missing = first_missing(&want, &got);
    /* Put the thread back as it was: a refused pinning changes nothing. */
    (void)sched_setaffinity(0, sizeof old, &old);
    dmp_impl_set_error(fn, "%s='%s': CPU %d is not available to this thread (offline, or outside its cpuset)",
                       what, cpus, missing);
    return -DMP_E_BADCONFIG;
  }
  return 0;
}

int dmp_affinity_apply(const char *cpus, const char *what)
{
  if (!cpus)
    return DMP_FAIL(-EINVAL, "cpus is NULL");
  return apply(cpus, what ? what : "cpus", NULL);
}

const char *dmp_affinity_role_variable(enum dmp_role role)
{
  switch (role) {
  case DMP_ROLE_PRODUCER:
    return DMP_ENV_PRODUCER_CPUS;
  case DMP_ROLE_CONSUMER:
    return DMP_ENV_CONSUMER_CPUS;
  case DMP_ROLE_PROCESSOR:
    return DMP_ENV_PROCESSOR_CPUS;
  }
  return NULL;
}

int dmp_impl_pin_role(enum dmp_role role, const char *cpus, const char *fn)
{
  const char *var = dmp_affinity_role_variable(role);
  if (!var) {
    dmp_impl_set_error(fn, "role %d is not a dmp_role", (int)role);
    return -EINVAL;
  }
  if (role == DMP_ROLE_PROCESSOR)
    processor_thread = true;
  else if (processor_thread)
    return 0; /* pinned (or deliberately not) as a processor */
  const char *what = "cfg.cpus";
  if (!cpus) {
    cpus = getenv(var);
    what = var;
    if (!cpus || !*cpus) {
      cpus = getenv(DMP_ENV_PROCESS_CPUS);
      what = DMP_ENV_PROCESS_CPUS;
    }
    if (!cpus || !*cpus)
      return 0;
  }
  int rc = apply(cpus, what, fn);
  return rc < 0 ? rc : 1;
}

int dmp_affinity_pin_role(enum dmp_role role, const char *cpus)
{
  return dmp_impl_pin_role(role, cpus, NULL);
}
