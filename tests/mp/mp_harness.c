/* Shared helpers of the multiprocess tests: see mp_harness.h. */
#include "mp_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

static struct dmp_producer *owned_producer;

const char *mp_backend_name(enum dmp_backend backend)
{
  return backend == DMP_BACKEND_SHM ? "shm" : "mmap";
}

void mp_ring_init(struct mp_ring *r, enum dmp_backend backend, const char *tag)
{
  r->backend = backend;
  r->name = backend == DMP_BACKEND_SHM ? ts_shm_name(tag) : ts_tmp_path(tag);
  cr_assert_not_null(r->name, "no %s name for tag %s", mp_backend_name(backend), tag);
}

static bool path_exists(enum dmp_backend backend, const char *name, const char *suffix)
{
  char full[PATH_MAX];
  if (backend == DMP_BACKEND_MMAP) {
    snprintf(full, sizeof full, "%s%s", name, suffix);
    return access(full, F_OK) == 0;
  }
  snprintf(full, sizeof full, "%s%s%s", name[0] == '/' ? "" : "/", name, suffix);
  int fd = shm_open(full, O_RDONLY, 0);
  if (fd < 0)
    return false;
  close(fd);
  return true;
}

bool mp_ring_exists(const struct mp_ring *r)
{
  return path_exists(r->backend, r->name, "");
}

void mp_assert_ring_gone(const struct mp_ring *r, const char *why)
{
  cr_expect(!mp_ring_exists(r), "%s segment '%s' still exists %s", mp_backend_name(r->backend),
            r->name, why);
  cr_expect(!path_exists(r->backend, r->name, DMP_COUNTERS_SUFFIX),
            "%s counters segment '%s%s' still exists %s", mp_backend_name(r->backend), r->name,
            DMP_COUNTERS_SUFFIX, why);
}

const char *mp_file(const char *tag)
{
  const char *p = ts_tmp_path(tag);
  cr_assert_not_null(p, "no temp path");
  return p;
}

void mp_cmd_init(struct mp_cmd *c, const char *role, const struct mp_ring *r)
{
  memset(c, 0, sizeof *c);
  const char *exe = ts_helper("DMP_ROLE");
  cr_assert(exe[0] != '\0', "DMP_ROLE is not set (meson.build passes the dmp_role path)");
  snprintf(c->who, sizeof c->who, "%s", role);
  mp_cmd_add(c, exe, NULL);
  mp_cmd_add(c, role, NULL);
  mp_cmd_add(c, "--backend", "%s", mp_backend_name(r->backend));
  mp_cmd_add(c, "--name", "%s", r->name);
  mp_cmd_add(c, "--timeout-ms", "%d", ts_timeout_ms(MP_CHILD_MS));
}

static void push(struct mp_cmd *c, const char *s)
{
  cr_assert_lt(c->argc, 95, "command line too long");
  snprintf(c->store[c->argc], sizeof c->store[0], "%s", s);
  c->argv[c->argc] = c->store[c->argc];
  c->argc++;
  c->argv[c->argc] = NULL;
}

void mp_cmd_add(struct mp_cmd *c, const char *opt, const char *fmt, ...)
{
  push(c, opt);
  if (!fmt)
    return;
  char val[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(val, sizeof val, fmt, ap);
  va_end(ap);
  push(c, val);
  if (strcmp(opt, "--id") == 0)
    snprintf(c->who, sizeof c->who, "consumer %.32s", val);
}

pid_t mp_cmd_spawn(struct mp_cmd *c)
{
  pid_t pid = ts_spawn(c->argv);
  cr_assert_gt(pid, 0, "spawning %s failed: %s", c->who, strerror(errno));
  return pid;
}

void mp_producer_cmd(struct mp_cmd *c, const struct mp_ring *r, uint64_t capacity, uint32_t slot,
                     int64_t count)
{
  mp_cmd_init(c, "producer", r);
  mp_cmd_add(c, "--capacity", "%" PRIu64, capacity);
  mp_cmd_add(c, "--slot", "%u", slot);
  mp_cmd_add(c, "--count", "%" PRId64, count);
}

void mp_consumer_cmd(struct mp_cmd *c, const struct mp_ring *r, const char *id, int64_t count)
{
  mp_cmd_init(c, "consumer", r);
  mp_cmd_add(c, "--id", "%s", id);
  mp_cmd_add(c, "--count", "%" PRId64, count);
}

void mp_expect_ok(pid_t pid, const char *who)
{
  int rc = ts_wait(pid, ts_timeout_ms(MP_REAP_MS));
  cr_expect_eq(rc, 0, "%s (pid %d) exited %d: %s", who, (int)pid, rc, mp_exit_name(rc));
}

void mp_expect_all_ok(const pid_t *pids, mp_who *who, int n)
{
  for (int i = 0; i < n; i++)
    mp_expect_ok(pids[i], who[i]);
}

int64_t mp_report(const char *path, const char *key)
{
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "report %s missing: %s", path, strerror(errno));
  char line[128];
  size_t klen = strlen(key);
  long long v = 0;
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
      v = strtoll(line + klen + 1, NULL, 10);
      found = true;
    }
  fclose(f);
  cr_assert(found, "report %s has no %s", path, key);
  return v;
}

struct dmp_producer *mp_create(const struct mp_ring *r, uint64_t capacity, uint32_t slot)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r->backend;
  cfg.name = r->name;
  cfg.capacity = capacity;
  cfg.slot_size = slot;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  cr_assert_eq(rc, 0, "dmp_producer_create(%s %s): %d %s (%s)", mp_backend_name(r->backend),
               r->name, rc, dmp_err_name(rc), dmp_last_error());
  cr_assert_not_null(p);
  owned_producer = p;
  return p;
}

void mp_close(struct dmp_producer *p)
{
  if (p == owned_producer)
    owned_producer = NULL;
  dmp_producer_close(p);
}

void mp_publish(struct dmp_producer *p, int64_t *seq, int64_t n, uint32_t slot)
{
  int64_t timeout = (int64_t)ts_timeout_ms(10000) * 1000000;
  for (int64_t i = 0; i < n; i++) {
    void *s = NULL;
    int rc = dmp_producer_claim_timeout(p, &s, timeout);
    cr_assert_eq(rc, 0, "claim of seq %" PRId64 ": %d %s", *seq, rc, dmp_err_name(rc));
    mp_fill(s, slot, *seq);
    int64_t last = dmp_producer_publish(p);
    cr_assert_eq(last, *seq, "publish returned %" PRId64 ", expected %" PRId64, last, *seq);
    (*seq)++;
  }
}

void mp_wait_active(struct dmp_producer *p, const char *id, uint32_t min_generation)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(MP_CHILD_MS) * 1000000;
  struct dmp_consumer_info info;
  for (;;) {
    int rc = dmp_producer_consumer_info(p, id, &info);
    if (rc == 0 && info.state == DMP_ENTRY_ACTIVE && info.alive && info.generation >= min_generation)
      return;
    cr_assert(rc == 0 || rc == -ENOENT, "dmp_producer_consumer_info(%s): %d %s", id, rc,
              dmp_err_name(rc));
    cr_assert_lt(ts_now_ns(), deadline, "consumer %s never became ACTIVE (rc %d state %d gen %u)",
                 id, rc, rc == 0 ? (int)info.state : -1, rc == 0 ? info.generation : 0);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

void mp_fini(void)
{
  if (owned_producer) {
    dmp_producer_close(owned_producer);
    owned_producer = NULL;
  }
  ts_kill_children();
  ts_cleanup();
}
