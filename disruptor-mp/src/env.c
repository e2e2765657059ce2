/* Environment tunables (env.h): strict parsing of the operators' defaults.
 * Nothing is cached: each config_init, create and attach reads what the
 * environment holds then (cold paths only). */
#include "internal.h"
#include "env_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The value of `var`, or NULL when unset or empty (empty counts as unset). */
static const char *env_value(const char *var)
{
  const char *v = getenv(var);
  return v && *v ? v : NULL;
}

/* Plain decimal digits in lo..hi: no sign, space, suffix or base prefix. */
static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
  uint64_t v = 0;
  size_t i = 0;
  for (; s[i]; i++) {
    if (s[i] < '0' || s[i] > '9' || i >= 10)
      return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (i == 0 || v < lo || v > hi)
    return false;
  *out = (uint32_t)v;
  return true;
}

static const struct {
  const char *word;
  enum dmp_wait_kind kind;
} wait_words[] = {
  {"block", DMP_WAIT_BLOCK}, {"spin", DMP_WAIT_SPIN}, {"yield", DMP_WAIT_YIELD}, {"sleep", DMP_WAIT_SLEEP},
};

static bool parse_wait(const char *s, enum dmp_wait_kind *out)
{
  for (size_t i = 0; i < sizeof wait_words / sizeof wait_words[0]; i++)
    if (strcmp(s, wait_words[i].word) == 0) {
      *out = wait_words[i].kind;
      return true;
    }
  return false;
}

/* The numeric tunables and their ranges (env.h's table). */
static const struct {
  const char *var;
  uint32_t lo, hi;
} numeric[] = {
  {DMP_ENV_WAIT_SPINS, 1, DMP_ENV_SPINS_MAX},
  {DMP_ENV_WAIT_SLEEP_NS, 1, 1000000000u},
  {DMP_ENV_WAIT_LIVENESS_MS, 1, DMP_WAIT_LIVENESS_MAX_MS},
  {DMP_ENV_DISCOVERY_POLL_MS, 1, DMP_ENV_DISCOVERY_POLL_MAX_MS},
};

static const char *const cpu_vars[] = {
  DMP_ENV_PRODUCER_CPUS, DMP_ENV_CONSUMER_CPUS, DMP_ENV_PROCESSOR_CPUS, DMP_ENV_PROCESS_CPUS,
};

int dmp_impl_env_check(const char *fn)
{
  const char *v = env_value(DMP_ENV_WAIT);
  enum dmp_wait_kind k;
  if (v && !parse_wait(v, &k)) {
    dmp_impl_set_error(fn, "%s='%s': not one of block, spin, yield, sleep", DMP_ENV_WAIT, v);
    return -DMP_E_BADCONFIG;
  }
  for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
    uint32_t n;
    v = env_value(numeric[i].var);
    if (v && !parse_u32(v, numeric[i].lo, numeric[i].hi, &n)) {
      dmp_impl_set_error(fn, "%s='%s': not a decimal number in %u..%u", numeric[i].var, v, numeric[i].lo,
                         numeric[i].hi);
      return -DMP_E_BADCONFIG;
    }
  }
  for (size_t i = 0; i < sizeof cpu_vars / sizeof cpu_vars[0]; i++) {
    v = env_value(cpu_vars[i]);
    int rc = v ? dmp_impl_cpulist_check(v, cpu_vars[i], fn) : 0;
    if (rc < 0)
      return rc;
  }
  return 0;
}

int dmp_env_check(void)
{
  return dmp_impl_env_check(NULL);
}

enum dmp_wait_kind dmp_impl_env_wait_kind(void)
{
  const char *v = env_value(DMP_ENV_WAIT);
  enum dmp_wait_kind k;
  return v && parse_wait(v, &k) ? k : DMP_WAIT_BLOCK;
}

uint32_t dmp_impl_env_u32(const char *var, uint32_t lo, uint32_t hi, uint32_t dflt)
{
  const char *v = env_value(var);
  uint32_t n;
  return v && parse_u32(v, lo, hi, &n) ? n : dflt;
}

int64_t dmp_impl_env_discovery_poll_ns(int64_t dflt_ns)
{
  uint32_t ms = dmp_impl_env_u32(DMP_ENV_DISCOVERY_POLL_MS, 1, DMP_ENV_DISCOVERY_POLL_MAX_MS, 0);
  return ms ? (int64_t)ms * 1000000 : dflt_ns;
}
