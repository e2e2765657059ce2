/**
 * @file orch.c
 * @brief Runs the plan: one case at a time, each as freshly exec'd child
 * processes pinned to distinct cores; every wait bounded; names removed
 * after every case whatever happened (see orch.h).
 */
#define _GNU_SOURCE
#include "orch.h"
#include "ctl.h"
#include "hosts.h"
#include "json.h"
#include "roles.h"
#include "roudi.h"
#include "sysinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROLES (1 + BENCH_MAX_RX)
#define FAIL_GRACE_NS (INT64_C(3) * 1000000000)

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
  (void)sig;
  interrupted = 1;
}

static int mkdir_p(const char *path)
{
  char buf[2 * BENCH_PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
      *p = '/';
    }
  return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int orch_init(struct orch *o)
{
  o->ncpu = bench_ncpus();
  o->tty = isatty(STDERR_FILENO);
  o->t_start = bench_mono_ns();
  ssize_t n = readlink("/proc/self/exe", o->self, sizeof o->self - 1);
  if (n <= 0)
    return -errno;
  o->self[n] = 0;
  char sub[BENCH_PATH_MAX + 16];
  snprintf(sub, sizeof sub, "%s/cases", o->out);
  if (mkdir_p(sub) < 0)
    return -errno;
  snprintf(o->tmpbase, sizeof o->tmpbase, "/tmp/myelon-bench-XXXXXX");
  if (!mkdtemp(o->tmpbase))
    return -errno;
  bench_roudi_setup(o->out);
  /* SIGCHLD stays blocked: the wait loop takes it with sigtimedwait. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  struct sigaction sa = {.sa_handler = on_interrupt};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  o->cases = calloc(ORCH_MAX_CASES, sizeof *o->cases);
  return o->cases ? 0 : -ENOMEM;
}

static bool listed(const char *list, const char *name)
{
  if (!list)
    return true;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return true;
    p += len + (comma ? 1 : 0);
  }
  return false;
}

void orch_select(struct orch *o, const char *only)
{
  unsigned k = 0;
  for (const struct bench_subject *const *s = bench_subjects(); *s && k < BENCH_MAX_SUBJECTS; s++) {
    if (!listed(only, (*s)->name) || (!only && ((*s)->caps & BENCH_CAP_OPTIN)))
      continue;
    char why[256] = "";
    if (!o->no_probe && (*s)->probe && (*s)->probe(why, sizeof why) < 0) {
      if (o->nskipped < BENCH_MAX_SUBJECTS) {
        o->skipped[o->nskipped].name = (*s)->name;
        snprintf(o->skipped[o->nskipped].why, sizeof o->skipped[0].why, "%s", why);
        o->nskipped++;
      }
      fprintf(stderr, "myelon-bench: skipping %s: %s\n", (*s)->name, why);
      continue;
    }
    o->subjects[k++] = *s;
  }
  o->subjects[k] = NULL;
}

bool orch_has(const struct orch *o, const char *name)
{
  for (unsigned i = 0; o->subjects[i]; i++)
    if (strcmp(o->subjects[i]->name, name) == 0)
      return true;
  return false;
}

static void base36(uint64_t v, char *out, size_t n)
{
  char tmp[16];
  int k = 0;
  do {
    tmp[k++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    v /= 36;
  } while (v && k < 15);
  size_t i = 0;
  while (k > 0 && i + 1 < n)
    out[i++] = tmp[--k];
  out[i] = 0;
}

void orch_add(struct orch *o, const struct bench_case *c)
{
  if (o->ncases >= ORCH_MAX_CASES)
    return;
  struct bench_case *d = &o->cases[o->ncases];
  *d = *c;
  char pid36[8], n36[8];
  base36((uint64_t)getpid(), pid36, sizeof pid36);
  base36(o->ncases, n36, sizeof n36);
  snprintf(d->tag, sizeof d->tag, "mb%sx%s", pid36, n36);
  snprintf(d->tmpdir, sizeof d->tmpdir, "%s/%s", o->tmpbase, d->tag);
  o->ncases++;
}

/* ---- progress -------------------------------------------------------------- */

static void progress(const struct orch *o, const struct bench_case *c, const char *state)
{
  int secs = (int)((bench_mono_ns() - o->t_start) / 1000000000);
  char size[16];
  snprintf(size, sizeof size, c->size >= 1024 ? "%lluK" : "%llu", (unsigned long long)(c->size >= 1024 ? c->size / 1024 : c->size));
  if (o->tty)
    fprintf(stderr, "\r\033[K[%3u/%3u] %-10s %-8s %6sB %-5s %s  %3ds%s", o->done + 1, o->ncases,
            bench_workload_name(c->workload), c->subject, size, bench_wait_name(c->wait), state, secs,
            o->failed ? "  (failures)" : "");
  else if (strcmp(state, "running") != 0)
    fprintf(stderr, "[%3u/%3u] %-10s %-8s %6sB %-5s %s  %3ds\n", o->done + 1, o->ncases,
            bench_workload_name(c->workload), c->subject, size, bench_wait_name(c->wait), state, secs);
}

/* ---- one case -------------------------------------------------------------- */

struct role_plan {
  const char *role;
  unsigned idx;
  int core;
  pid_t pid;
  int status;
  bool reaped;
  char result[BENCH_PATH_MAX + 64];
};

static unsigned plan_roles(const struct orch *o, const struct bench_case *c, struct role_plan *r)
{
  bool pp = c->workload == BENCH_WL_PINGPONG || c->workload == BENCH_WL_FIXED_RATE ||
            c->workload == BENCH_WL_AB_PINGPONG || c->workload == BENCH_WL_AB_GATHER_RTT;
  unsigned n = 0;
  r[n++] = (struct role_plan){.role = pp ? "client" : "producer", .core = 0};
  /* ab_gather_rtt: writer 0 and the responder where a ping-pong has them,
   * the other writers on cores 2.. when the host has them, else on core 0
   * with writer 0: the responder, which every round trip passes through,
   * keeps its core, and the placement is the same in every run (left
   * unpinned, the scheduler put the second writer beside writer 0 in one
   * run and beside the responder in the next: its RTT p50 moved 0.7 ->
   * 20 us between runs with nothing else changed). */
  if (c->workload == BENCH_WL_AB_GATHER_RTT)
    for (unsigned i = 1; i < c->writers; i++)
      r[n++] = (struct role_plan){.role = "client", .idx = i, .core = (int)c->writers + 1 <= o->ncpu ? (int)i + 1 : 0};
  if (c->workload == BENCH_WL_GATHER) /* producers on cores 0 .. N-1, the consumer after them */
    for (unsigned i = 1; i < c->writers; i++)
      r[n++] = (struct role_plan){.role = "producer", .idx = i, .core = (int)i % o->ncpu};
  /* ab_gather: producer 0 and the consumer where a 1 -> 1 stream has them
   * (cores 0 and 1: the pair's single-producer blocks run as a stream
   * does); the other writers on cores 2.. when the host has them, else
   * unpinned (the scheduler places them). */
  bool abg = c->workload == BENCH_WL_AB_GATHER, abg_fits = (int)c->writers + 1 <= o->ncpu;
  if (abg)
    for (unsigned i = 1; i < c->writers; i++)
      r[n++] = (struct role_plan){.role = "producer", .idx = i, .core = abg_fits ? (int)i + 1 : -1};
  unsigned rx = pp ? 1 : c->receivers;
  for (unsigned i = 0; i < rx; i++)
    r[n++] = (struct role_plan){.role = pp ? "server" : "consumer", .idx = i,
                                .core = (int)(c->workload == BENCH_WL_GATHER ? c->writers : 1 + i) % o->ncpu};
  for (unsigned i = 0; i < n; i++) {
    if (!o->pin || o->ncpu < 2)
      r[i].core = -1;
    snprintf(r[i].result, sizeof r[i].result, "%s/%s.%s%u.json", c->tmpdir, c->tag, r[i].role, r[i].idx);
  }
  return n;
}

static pid_t spawn(const struct orch *o, const struct bench_case *c, struct role_plan *r, unsigned nroles, int ctlfd)
{
  static char store[16][BENCH_PATH_MAX + 16];
  char *argv[64];
  int argc = 0;
  if (strcmp(o->wrap_role, r->role) == 0 || strcmp(o->wrap_role, "all") == 0)
    for (int i = 0; i < o->wrap_argc; i++)
      argv[argc++] = o->wrap_argv[i];
  static char nums[4][32];
  snprintf(nums[0], sizeof nums[0], "%u", r->idx);
  snprintf(nums[1], sizeof nums[1], "%d", ctlfd);
  snprintf(nums[2], sizeof nums[2], "%.9f", bench_ns_per_tick);
  snprintf(nums[3], sizeof nums[3], "%u", nroles);
  char *fixed[] = {(char *)o->self, "role", (char *)r->role, "--idx", nums[0], "--ctl-fd", nums[1],
                   "--tick-ns", nums[2], "--nroles", nums[3], "--result", r->result};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    argv[argc++] = fixed[i];
  bench_case_to_argv(c, argv, argc, store);
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
    signal(SIGINT, SIG_IGN); /* the orchestrator decides when children die */
    bench_pin(r->core);
    execvp(argv[0], argv);
    _exit(127);
  }
  return pid;
}

static void kill_all(struct role_plan *r, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    if (r[i].pid > 0 && !r[i].reaped)
      kill(r[i].pid, SIGKILL);
  for (unsigned i = 0; i < n; i++)
    if (r[i].pid > 0 && !r[i].reaped) {
      waitpid(r[i].pid, &r[i].status, 0);
      r[i].reaped = true;
    }
}

#define EXIT_CLOSE_HUNG 3 /* ROLE_EXIT_CLOSE_HUNG: results fine, close hung */

static unsigned reap(struct role_plan *r, unsigned n, bool *any_failed)
{
  unsigned left = 0;
  for (unsigned i = 0; i < n; i++) {
    if (r[i].reaped)
      continue;
    if (waitpid(r[i].pid, &r[i].status, WNOHANG) == r[i].pid) {
      r[i].reaped = true;
      int code = WIFEXITED(r[i].status) ? WEXITSTATUS(r[i].status) : -1;
      if (code != 0 && code != EXIT_CLOSE_HUNG)
        *any_failed = true;
    } else {
      left++;
    }
  }
  return left;
}

/* Wait for every role; returns "" or why the case failed. */
static const char *wait_roles(const struct orch *o, const struct bench_case *c, struct role_plan *r, unsigned n,
                              struct bench_ctl *ctl)
{
  int64_t deadline = bench_deadline(o->case_timeout_ns);
  bool any_failed = false, grace = false;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  while (reap(r, n, &any_failed) > 0) {
    if (any_failed && !grace) { /* let the others notice and exit */
      atomic_store_explicit(&ctl->failed, 1, memory_order_relaxed);
      int64_t g = bench_deadline(FAIL_GRACE_NS);
      deadline = g < deadline ? g : deadline;
      grace = true;
    }
    int64_t left = deadline - bench_mono_ns();
    if (interrupted || left <= 0) {
      kill_all(r, n);
      return interrupted ? "interrupted" : any_failed ? "a role failed (others killed)" : "timed out";
    }
    if (left > 1000000000)
      left = 1000000000;
    struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
    sigtimedwait(&set, NULL, &ts);
    progress(o, c, "running");
  }
  if (any_failed)
    return "a role exited with an error (see stderr)";
  for (unsigned i = 0; i < n; i++)
    if (WIFEXITED(r[i].status) && WEXITSTATUS(r[i].status) == EXIT_CLOSE_HUNG)
      fprintf(stderr, "\nmyelon-bench: %s %s: the %s hung closing its transport (exited after 10 s)\n",
              bench_workload_name(c->workload), c->subject, r[i].role);
  return "";
}

static char *slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = len > 0 ? malloc((size_t)len + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  if (buf) {
    buf[len] = 0;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
      buf[--len] = 0;
  }
  fclose(f);
  return buf;
}

void orch_case_id(const struct bench_case *c, unsigned i, char *out, size_t n)
{
  snprintf(out, n, "%03u-%s-%s-%llu-%s%s", i, bench_workload_name(c->workload), c->subject,
           (unsigned long long)c->size, bench_wait_name(c->wait), c->receivers > 1 ? "-n" : "");
  if (c->receivers > 1)
    snprintf(out + strlen(out), n - strlen(out), "%u", c->receivers);
  if (c->writers > 1)
    snprintf(out + strlen(out), n - strlen(out), "-w%u", c->writers);
  if (c->rate)
    snprintf(out + strlen(out), n - strlen(out), "-r%llu", (unsigned long long)c->rate);
  if (c->pair[0])
    snprintf(out + strlen(out), n - strlen(out), "-vs-%s", c->pair);
  if (c->series[0])
    snprintf(out + strlen(out), n - strlen(out), "-%s", c->series);
  if (c->rep)
    snprintf(out + strlen(out), n - strlen(out), "-rep%u", c->rep);
}

static void write_params(struct json *j, const struct bench_case *c, const struct bench_subject *s)
{
  json_str(j, "workload", bench_workload_name(c->workload));
  json_str(j, "subject", c->subject);
  if (c->pair[0])
    json_str(j, "pair", c->pair);
  json_str(j, "family", s->family == BENCH_FAMILY_FLOOR ? "floor" : s->family == BENCH_FAMILY_OURS ? "ours" : "competitor");
  json_str(j, "transport", s->transport);
  static const char *const layers[] = {"raw", "framed", "typed", "view"};
  json_str(j, "layer", layers[s->layer]);
  json_u64(j, "size", c->size);
  json_u64(j, "count", c->count);
  json_u64(j, "warmup", c->warmup);
  json_u64(j, "capacity", c->capacity);
  json_u64(j, "receivers", c->receivers);
  json_u64(j, "writers", c->writers);
  json_str(j, "wait", bench_wait_name(c->wait));
  json_u64(j, "rate", c->rate);
  json_u64(j, "rep", c->rep);
  json_str(j, "series", c->series);
  if (c->workload == BENCH_WL_WAKE) {
    json_i64(j, "idle_ns", c->idle_ns);
    json_i64(j, "gap_ns", c->gap_ns);
  }
}

static void write_case(const struct orch *o, const struct bench_case *c, unsigned i, struct role_plan *r,
                       unsigned n, const char *why, double wall_s)
{
  char id[128], path[BENCH_PATH_MAX + 160];
  orch_case_id(c, i, id, sizeof id);
  snprintf(path, sizeof path, "%s/cases/%s.json", o->out, id);
  FILE *f = fopen(path, "w");
  if (!f)
    return;
  struct json j;
  json_init(&j, f);
  json_obj_begin(&j, NULL);
  json_str(&j, "id", id);
  write_params(&j, c, bench_subject_find(c->subject));
  json_arr_begin(&j, "cores");
  for (unsigned k = 0; k < n; k++)
    json_i64(&j, NULL, r[k].core);
  json_arr_end(&j);
  json_str(&j, "status", why[0] ? "failed" : "ok");
  json_str(&j, "note", why);
  json_f64(&j, "wall_s", wall_s);
  json_obj_begin(&j, "results");
  for (unsigned k = 0; k < n; k++) {
    char key[32];
    snprintf(key, sizeof key, "%s%u", r[k].role, r[k].idx);
    char *text = slurp(r[k].result);
    if (text)
      json_raw(&j, key, text);
    free(text);
  }
  json_obj_end(&j);
  json_obj_end(&j);
  fclose(f);
}

/* Remove the case's private dir and whatever the subject may have left. */
static void clean_case(const struct bench_case *c)
{
  const struct bench_subject *s = bench_subject_find(c->subject);
  if (s && s->cleanup)
    s->cleanup(c);
  const struct bench_subject *b = c->pair[0] ? bench_subject_find(c->pair) : NULL;
  if (b && b->cleanup) { /* subject B of a paired case lives under tag + "b" */
    struct bench_case cb = *c;
    snprintf(cb.tag, sizeof cb.tag, "%.22sb", c->tag);
    b->cleanup(&cb);
  }
  DIR *d = opendir(c->tmpdir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
        unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
  }
  rmdir(c->tmpdir);
}

/* /dev/shm entries whose name starts with the case's tag must not survive. */
static unsigned shm_leftovers(const struct bench_case *c)
{
  unsigned n = 0;
  DIR *d = opendir("/dev/shm");
  if (!d)
    return 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, c->tag, strlen(c->tag)) == 0) {
      fprintf(stderr, "\nmyelon-bench: leftover /dev/shm/%s after case %s (removed)\n", e->d_name, c->tag);
      unlinkat(dirfd(d), e->d_name, 0);
      n++;
    }
  closedir(d);
  return n;
}

static const char *run_case(struct orch *o, unsigned i, double *wall_s)
{
  struct bench_case *c = &o->cases[i];
  struct role_plan r[MAX_ROLES];
  unsigned n = plan_roles(o, c, r);
  progress(o, c, "running");
  int64_t t0 = bench_mono_ns();
  if (mkdir(c->tmpdir, 0700) < 0)
    return "cannot create the case's temp dir";
  static char hosts_why[320];
  char why_h[256];
  if (bench_hosts_mode(c) && bench_hosts_create(c, why_h, sizeof why_h) < 0) {
    snprintf(hosts_why, sizeof hosts_why, "cannot make the two hosts: %s", why_h);
    *wall_s = (double)(bench_mono_ns() - t0) / 1e9;
    write_case(o, c, i, r, 0, hosts_why, *wall_s);
    clean_case(c);
    return hosts_why;
  }
  struct bench_ctl *ctl;
  int ctlfd = bench_ctl_create(&ctl);
  if (ctlfd < 0) {
    bench_hosts_destroy();
    return "cannot create the control block";
  }
  for (unsigned k = 0; k < n; k++)
    r[k].pid = spawn(o, c, &r[k], n, ctlfd);
  const char *why = wait_roles(o, c, r, n, ctl);
  *wall_s = (double)(bench_mono_ns() - t0) / 1e9;
  write_case(o, c, i, r, n, why, *wall_s);
  munmap(ctl, 4096);
  close(ctlfd);
  bench_hosts_destroy(); /* the hosts' namespaces, veth pair and /dev/shm go with their holders */
  clean_case(c);
  if (shm_leftovers(c) && !why[0])
    why = "left names in /dev/shm";
  return why;
}

unsigned orch_run(struct orch *o)
{
  for (unsigned i = 0; i < o->ncases && !interrupted; i++) {
    double wall;
    const char *why = run_case(o, i, &wall);
    if (why[0]) {
      o->failed++;
      if (o->tty)
        fputc('\n', stderr);
      fprintf(stderr, "myelon-bench: case %u (%s %s %llu B) failed: %s\n", i,
              bench_workload_name(o->cases[i].workload), o->cases[i].subject,
              (unsigned long long)o->cases[i].size, why);
    }
    progress(o, &o->cases[i], why[0] ? "FAILED" : "done");
    o->done++;
  }
  if (o->tty)
    fputc('\n', stderr);
  return o->failed;
}

/* ---- run.json ---------------------------------------------------------------- */

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int is_json(const struct dirent *e)
{
  size_t n = strlen(e->d_name);
  return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

static void write_meta(struct json *j, const struct orch *o)
{
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
  json_obj_begin(j, "meta");
  json_str(j, "schema", "myelon-bench/1");
  json_str(j, "suite", o->suite);
  json_str(j, "date", date);
  json_f64(j, "duration_s", (double)(bench_mono_ns() - o->t_start) / 1e9);
  json_bool(j, "pinned", o->pin && o->ncpu >= 2);
  bench_sysinfo_host(j, o->clock_cost_ns, o->pause_ns, o->fence_ns);
  bench_sysinfo_build(j);
  json_arr_begin(j, "subjects");
  for (unsigned i = 0; o->subjects[i]; i++)
    json_str(j, NULL, o->subjects[i]->name);
  json_arr_end(j);
  json_arr_begin(j, "skipped");
  for (unsigned i = 0; i < o->nskipped; i++) {
    json_obj_begin(j, NULL);
    json_str(j, "subject", o->skipped[i].name);
    json_str(j, "reason", o->skipped[i].why);
    json_obj_end(j);
  }
  json_arr_end(j);
  json_u64(j, "cases_planned", o->ncases);
  json_u64(j, "cases_failed", o->failed);
  json_bool(j, "interrupted", interrupted != 0);
  json_obj_end(j);
}

static void write_run(const struct orch *o)
{
  char path[BENCH_PATH_MAX + 32], dir[BENCH_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/run.json", o->out);
  snprintf(dir, sizeof dir, "%s/cases", o->out);
  FILE *f = fopen(path, "w");
  if (!f)
    return;
  struct json j;
  json_init(&j, f);
  json_obj_begin(&j, NULL);
  write_meta(&j, o);
  json_arr_begin(&j, "cases");
  struct dirent **list;
  int n = scandir(dir, &list, is_json, by_name);
  for (int i = 0; i < n; i++) {
    char file[BENCH_PATH_MAX + 300];
    snprintf(file, sizeof file, "%s/%s", dir, list[i]->d_name);
    char *text = slurp(file);
    if (text)
      json_raw(&j, NULL, text);
    free(text);
    free(list[i]);
  }
  if (n >= 0)
    free(list);
  json_arr_end(&j);
  json_obj_end(&j);
  fclose(f);
}

void orch_finish(struct orch *o)
{
  bench_hosts_destroy();
  bench_roudi_stop();
  write_run(o);
  rmdir(o->tmpbase);
  free(o->cases);
  o->cases = NULL;
}
