/* Criterion-side helpers of the fault tests (see fault.h): the role
 * executable's path, progress records, bounded polling, /dev/shm checks. */
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

const char *fr_role_path(void)
{
  static char path[PATH_MAX];
  const char *env = getenv("FAULT_ROLE");
  if (env && *env)
    return env;
  if (path[0] == '\0') {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
      return "fault_role";
    self[n] = '\0';
    snprintf(path, sizeof path, "%s/fault_role", dirname(self));
  }
  return path;
}

struct fr_progress *fr_progress_new(const char *tag, const char **path)
{
  const char *p = ts_tmp_path(tag);
  if (!p)
    return NULL;
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return NULL;
  if (ftruncate(fd, 4096) != 0) {
    close(fd);
    return NULL;
  }
  void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED)
    return NULL;
  struct fr_progress *pr = m;
  atomic_store(&pr->first, -1);
  atomic_store(&pr->last, -1);
  atomic_store(&pr->exit_code, -1);
  if (path)
    *path = p;
  return pr;
}

pid_t fr_spawn(const char *const *args)
{
  char *argv[64];
  int n = 0;
  argv[n++] = (char *)fr_role_path();
  for (; args[n - 1] && n < 63; n++)
    argv[n] = (char *)args[n - 1];
  argv[n] = NULL;
  return ts_spawn(argv);
}

void fr_sleep_ms(int64_t ms)
{
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool fr_wait_for(bool (*pred)(const void *arg), const void *arg, int timeout_ms)
{
  int64_t deadline = ts_now_ns() + (int64_t)ts_timeout_ms(timeout_ms) * 1000000;
  for (;;) {
    if (pred(arg))
      return true;
    if (ts_now_ns() > deadline)
      return false;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

struct phase_arg {
  const struct fr_progress *pr;
  int phase;
  int64_t last;
};

static bool phase_reached(const void *a)
{
  const struct phase_arg *pa = a;
  int ph = atomic_load(&pa->pr->phase);
  return ph >= pa->phase;
}

static bool last_reached(const void *a)
{
  const struct phase_arg *pa = a;
  return atomic_load(&pa->pr->last) >= pa->last || atomic_load(&pa->pr->phase) == FR_PH_DONE;
}

bool fr_wait_phase(const struct fr_progress *pr, int phase, int timeout_ms)
{
  struct phase_arg a = {pr, phase, 0};
  return fr_wait_for(phase_reached, &a, timeout_ms) && atomic_load(&pr->phase) >= phase;
}

bool fr_wait_last(const struct fr_progress *pr, int64_t seq, int timeout_ms)
{
  struct phase_arg a = {pr, 0, seq};
  return fr_wait_for(last_reached, &a, timeout_ms) && atomic_load(&pr->last) >= seq;
}

void fr_touch(const char *path)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0)
    close(fd);
}

int fr_shm_count(const char *prefix)
{
  DIR *d = opendir("/dev/shm");
  if (!d)
    return 0;
  int n = 0;
  size_t len = strlen(prefix);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += strncmp(e->d_name, prefix, len) == 0;
  closedir(d);
  return n;
}

void fr_signal(pid_t pid, int sig)
{
  if (pid > 0)
    kill(pid, sig);
}

const char *fr_num(int64_t v)
{
  static char bufs[64][24];
  static unsigned next;
  char *b = bufs[next++ % 64];
  snprintf(b, sizeof bufs[0], "%lld", (long long)v);
  return b;
}

/* ---- in-process producer and spawned consumers ---------------------------- */

const char *fr_backend_name(enum dmp_backend b)
{
  return b == DMP_BACKEND_MMAP ? "mmap" : "shm";
}

struct fr_ring fr_ring_new(enum dmp_backend backend, const char *tag)
{
  struct fr_ring r = {backend, backend == DMP_BACKEND_MMAP ? ts_tmp_path(tag) : ts_shm_name(tag)};
  return r;
}

struct dmp_producer *fr_producer_new(const struct fr_ring *r, uint64_t capacity)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = r->backend;
  cfg.name = r->name;
  cfg.capacity = capacity;
  cfg.slot_size = FR_SLOT;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  if (rc < 0)
    fprintf(stderr, "fr_producer_new(%s): %s (%s)\n", r->name, dmp_err_name(rc), dmp_last_error());
  return p;
}

int fr_publish(struct dmp_producer *p, int64_t n, uint64_t token, bool managed, int64_t timeout_ns)
{
  for (int64_t i = 0; i < n; i++) {
    void *slot;
    int rc = managed ? dmp_producer_claim_managed(p, &slot, timeout_ns)
                     : dmp_producer_claim_timeout(p, &slot, timeout_ns);
    if (rc < 0)
      return rc;
    fr_payload_fill(slot, FR_SLOT, p->claim_end - 1, token);
    dmp_producer_publish(p);
  }
  return 0;
}

pid_t fr_consumer(const struct fr_ring *r, const char *id, struct fr_progress **pr, const char *const *extra)
{
  const char *path = NULL;
  *pr = fr_progress_new(id, &path);
  if (!*pr)
    return -1;
  const char *args[48] = {"consumer", "--backend", fr_backend_name(r->backend), "--name", r->name, "--id", id,
                          "--progress", path, "--timeout-ms", fr_num(ts_timeout_ms(20000)), NULL};
  int n = 0;
  while (args[n])
    n++;
  for (int i = 0; extra && extra[i] && n < 47; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  return fr_spawn(args);
}

pid_t fr_consumer_ready(const struct fr_ring *r, const char *id, struct fr_progress **pr,
                        const char *const *extra)
{
  pid_t pid = fr_consumer(r, id, pr, extra);
  if (pid <= 0 || !fr_wait_phase(*pr, FR_PH_READY, 10000))
    return -1;
  if (atomic_load(&(*pr)->phase) == FR_PH_DONE && atomic_load(&(*pr)->exit_code) != 0) {
    fprintf(stderr, "consumer '%s' failed: %s\n", id, (*pr)->msg);
    return -1;
  }
  return pid;
}

pid_t fr_producer(const struct fr_ring *r, struct fr_progress **pr, const char *const *extra)
{
  const char *path = NULL;
  *pr = fr_progress_new("prod", &path);
  if (!*pr)
    return -1;
  const char *args[48] = {"producer", "--backend", fr_backend_name(r->backend), "--name", r->name,
                          "--progress", path, "--timeout-ms", fr_num(ts_timeout_ms(20000)),
                          "--capacity", "64", "--slot", fr_num(FR_SLOT), NULL};
  int n = 0;
  while (args[n])
    n++;
  for (int i = 0; extra && extra[i] && n < 47; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  pid_t pid = fr_spawn(args);
  if (pid <= 0 || !fr_wait_phase(*pr, FR_PH_READY, 10000))
    return -1;
  if (atomic_load(&(*pr)->phase) == FR_PH_DONE && atomic_load(&(*pr)->exit_code) != 0) {
    fprintf(stderr, "producer on '%s' failed: %s\n", r->name, (*pr)->msg);
    return -1;
  }
  return pid;
}

void fr_alert_record(const struct dmp_liveness_alert *alert, void *user)
{
  struct fr_alerts *al = user;
  if (al->n >= FR_MAX_ALERTS)
    return;
  snprintf(al->a[al->n].id, sizeof al->a[0].id, "%s", alert->consumer_id);
  al->a[al->n].last_sequence = alert->last_sequence;
  al->a[al->n].stalled_ns = alert->stalled_ns;
  al->a[al->n].at_ns = ts_now_ns();
  al->a[al->n].dead = alert->dead;
  al->a[al->n].evicted = alert->evicted;
  al->n++;
}

int fr_alerts_for(const struct fr_alerts *al, const char *id)
{
  int n = 0;
  for (int i = 0; i < al->n; i++)
    n += strcmp(al->a[i].id, id) == 0;
  return n;
}
