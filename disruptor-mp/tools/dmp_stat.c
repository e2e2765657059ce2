/* dmp-stat: show the rings of this machine - producer position, each
 * consumer's position, lag and liveness, and the shared-memory counters and
 * distinct errors - once, as JSON, or refreshed like top; remove rings whose
 * producer is dead. Read-only except for --gc. See dmp-stat(1) (dmp-stat.1
 * next to this file) for the options and the exit codes. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <disruptor_mp/disruptor_mp.h>

#include "http.h"
#include "prom.h"
#include "tool_cli.h"
#include "tool_clock.h"
#include "tool_parse.h"

/* Exit status (tool_cli.h): 0 ok; 1 nothing found, no such ring, a segment
 * that cannot be read (permission, owner) or removed; 2 usage; 3 a segment
 * is damaged (corrupt, truncated, another layout version). */
#define MAX_ARGS 64

struct opts {
  bool json, gc, dry_run, shm, watch, clear, group, prometheus, listen;
  struct http_listen addr; /* --listen */
  double interval;
  long count; /* refreshes with --watch; 0 = until interrupted */
  const char *dirs[MAX_ARGS], *files[MAX_ARGS], *names[MAX_ARGS];
  int n_dirs, n_files, n_names;
};

/* One ring (or orphaned counters segment) to show, and its inspector. */
struct target {
  enum dmp_backend backend;
  enum dmp_segment_kind kind;
  char name[PATH_MAX];
  struct dmp_inspect *in; /* kept across --watch refreshes */
  bool seen;
  bool named; /* named on the command line (NAME, --file): missing is an error */
};

struct targets {
  struct target *v;
  size_t n, cap;
};

static int prom_refresh(const struct opts *o, struct targets *t, FILE *f);

/* DMP_INSPECT_ALLOW_GROUP with --group: rings of other users shared with
 * one of our groups (config.h, "Permissions"); otherwise our own only. */
static uint32_t inspect_flags;

static volatile sig_atomic_t stop;
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_stop(int sig)
{
  (void)sig;
  stop = 1;
}

/* A segment truncated under us while we copy from its mapping raises
 * SIGBUS; turn that into an error for this ring instead of a crash. */
static void on_sigbus(int sig)
{
  if (bus_armed)
    siglongjmp(bus_jmp, 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void usage(FILE *f)
{
  fprintf(f,
          "usage: dmp-stat [OPTIONS] [NAME...]\n"
          "Show disruptor_mp rings: producer, consumers (position, lag, liveness), counters, errors.\n"
          "With no NAME, --file or --dir, every ring in /dev/shm is shown.\n\n"
          "  NAME               a POSIX shared-memory ring (\"ring0\" or \"/ring0\")\n"
          "  -f, --file PATH    an mmap ring file (repeatable)\n"
          "  -d, --dir DIR      every mmap ring file in DIR (repeatable)\n"
          "  -s, --shm          also every ring in /dev/shm (with --file/--dir)\n"
          "  -j, --json         one JSON document per refresh\n"
          "  -p, --prometheus   OpenMetrics text (for node_exporter's textfile collector)\n"
          "      --listen HOST:PORT  with --prometheus: serve it at http://HOST:PORT/metrics\n"
          "                     (loopback only: 127.0.0.1, localhost, [::1]; PORT 0: any)\n"
          "  -w, --watch [SEC]  refresh every SEC seconds (default 1) until interrupted\n"
          "  -n, --count N      with --watch: stop after N refreshes\n"
          "  -g, --group        also show other users' rings shared with one of our groups\n"
          "      --gc           remove rings (and counters) whose producer is dead\n"
          "      --dry-run      with --gc: only say what would be removed\n"
          "  -h, --help         this text\n"
          "  -V, --version      the library version\n\n"
          "SEC is a decimal number of seconds or has a unit: 500ms, 2s, 1m.\n"
          "exit: 0 ok, 1 failure (nothing found, no such ring, unreadable, --gc failed),\n"
          "      2 usage error, 3 a segment is damaged (corrupt, truncated, other layout)\n");
}

/* A --watch interval: more than 0, at most a day. */
static bool parse_interval(struct tool_cli *cli, const char *s, double *out)
{
  int64_t ns;
  if (!tool_cli_duration(cli, s, INT64_C(1000000000), INT64_C(1000000), INT64_C(86400000000000), &ns))
    return false;
  *out = (double)ns / 1e9;
  return true;
}

/* "--watch 2" as well as "--watch=2": a separate word after --watch that
 * starts like a number is its interval and must be a valid one (so
 * "--watch 0" is refused, not taken for a ring named 0). */
static bool looks_numeric(const char *s)
{
  return (s[0] >= '0' && s[0] <= '9') || s[0] == '.';
}

static int take_option(struct tool_cli *cli, struct opts *o, int c, int argc, char **argv)
{
  switch (c) {
  case 'f':
  case 'd':
    if ((c == 'f' ? o->n_files : o->n_dirs) >= MAX_ARGS)
      return tool_cli_usage_error(cli, "too many %s options (at most %d)", cli->opt, MAX_ARGS);
    if (c == 'f')
      o->files[o->n_files++] = optarg;
    else
      o->dirs[o->n_dirs++] = optarg;
    return 0;
  case 's': o->shm = true; return 0;
  case 'g': o->group = true; return 0;
  case 'j': o->json = true; return 0;
  case 'p': o->prometheus = true; return 0;
  case 'L': {
    char why[160];
    if (!http_listen_parse(optarg, &o->addr, why, sizeof why)) {
      tool_cli_refuse(cli, "%s", why);
      return tool_cli_bad_value(cli, optarg);
    }
    o->listen = true;
    return 0;
  }
  case 'w': {
    o->watch = true;
    const char *v = optarg;
    if (!v && optind < argc && looks_numeric(argv[optind]))
      v = argv[optind++];
    if (v && !parse_interval(cli, v, &o->interval))
      return tool_cli_bad_value(cli, v);
    return 0;
  }
  case 'n': {
    uint64_t n;
    if (!tool_cli_u64(cli, optarg, 1, LONG_MAX, &n))
      return tool_cli_bad_value(cli, optarg);
    o->count = (long)n;
    return 0;
  }
  case 'G': o->gc = true; return 0;
  case 'D': o->dry_run = true; return 0;
  default: return tool_cli_usage_error(cli, "unhandled option %s", cli->opt);
  }
}

static int parse_args(int argc, char **argv, struct opts *o)
{
  static const struct option longs[] = {
    {"file", required_argument, 0, 'f'}, {"dir", required_argument, 0, 'd'}, {"shm", no_argument, 0, 's'},
    {"json", no_argument, 0, 'j'},       {"watch", optional_argument, 0, 'w'}, {"count", required_argument, 0, 'n'},
    {"gc", no_argument, 0, 'G'},         {"dry-run", no_argument, 0, 'D'},   {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},    {"group", no_argument, 0, 'g'},
    {"prometheus", no_argument, 0, 'p'}, {"listen", required_argument, 0, 'L'}, {0, 0, 0, 0}};
  static struct tool_cli cli;
  tool_cli_init(&cli, "dmp-stat", "dmp-stat (disruptor_mp) " DMP_VERSION_STRING, usage, "f:d:sjpw::n:ghV", longs);
  o->interval = 1.0;
  int c, rc;
  while ((c = tool_cli_next(&cli, argc, argv)) != TOOL_CLI_END) {
    if (c == TOOL_CLI_EXIT)
      return cli.status == TOOL_EXIT_OK ? -1 : cli.status;
    if ((rc = take_option(&cli, o, c, argc, argv)) != 0)
      return rc;
  }
  for (int i = optind; i < argc; i++) {
    if (o->n_names >= MAX_ARGS)
      return tool_cli_usage_error(&cli, "too many names (at most %d)", MAX_ARGS);
    o->names[o->n_names++] = argv[i];
  }
  if (o->dry_run && !o->gc)
    return tool_cli_usage_error(&cli, "--dry-run needs --gc");
  if (o->gc && (o->watch || o->prometheus || o->listen))
    return tool_cli_usage_error(&cli, "--gc cannot be combined with --watch, --prometheus or --listen");
  if (o->json && o->prometheus)
    return tool_cli_usage_error(&cli, "--json and --prometheus are two formats: choose one");
  if (o->listen && !o->prometheus)
    return tool_cli_usage_error(&cli, "--listen serves the --prometheus format: give both");
  if (o->prometheus && o->watch)
    return tool_cli_usage_error(&cli, "--prometheus samples once (or on every scrape with --listen): not with --watch");
  if (o->n_files == 0 && o->n_dirs == 0 && o->n_names == 0)
    o->shm = true;
  o->clear = o->watch && !o->json && isatty(STDOUT_FILENO);
  return 0;
}

/* ---- targets ------------------------------------------------------------------ */

static struct target *target_find(struct targets *t, enum dmp_backend b, const char *name)
{
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i].backend == b && strcmp(t->v[i].name, name) == 0)
      return &t->v[i];
  return NULL;
}

static int target_add(enum dmp_backend b, const char *name, enum dmp_segment_kind kind, void *user)
{
  struct targets *t = user;
  struct target *x = target_find(t, b, name);
  if (!x) {
    if (t->n == t->cap) {
      size_t cap = t->cap ? t->cap * 2 : 16;
      struct target *more = realloc(t->v, cap * sizeof *more);
      if (!more)
        return 1;
      t->v = more;
      t->cap = cap;
    }
    x = &t->v[t->n++];
    memset(x, 0, sizeof *x);
    x->backend = b;
    snprintf(x->name, sizeof x->name, "%s", name);
  }
  x->kind = kind;
  x->seen = true;
  return 0;
}

/* (Re)collect what to show; inspectors of targets that went away close. */
static int collect(const struct opts *o, struct targets *t)
{
  int err = 0;
  for (size_t i = 0; i < t->n; i++)
    t->v[i].seen = false;
  if (o->shm && dmp_inspect_list(DMP_BACKEND_SHM, NULL, target_add, t) < 0) {
    fprintf(stderr, "dmp-stat: %s\n", dmp_last_error());
    err = 1;
  }
  for (int i = 0; i < o->n_dirs; i++)
    if (dmp_inspect_list(DMP_BACKEND_MMAP, o->dirs[i], target_add, t) < 0) {
      fprintf(stderr, "dmp-stat: %s\n", dmp_last_error());
      err = 1;
    }
  for (int i = 0; i < o->n_names; i++) {
    char name[PATH_MAX];
    snprintf(name, sizeof name, "%s%s", o->names[i][0] == '/' ? "" : "/", o->names[i]);
    if (target_add(DMP_BACKEND_SHM, name, DMP_SEGMENT_RING, t) == 0)
      target_find(t, DMP_BACKEND_SHM, name)->named = true;
  }
  for (int i = 0; i < o->n_files; i++)
    if (target_add(DMP_BACKEND_MMAP, o->files[i], DMP_SEGMENT_RING, t) == 0)
      target_find(t, DMP_BACKEND_MMAP, o->files[i])->named = true;
  size_t keep = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (t->v[i].seen)
      t->v[keep++] = t->v[i];
    else
      dmp_inspect_close(t->v[i].in);
  }
  t->n = keep;
  return err;
}

/* ---- sampling ------------------------------------------------------------------ */

static int guarded_sample(struct dmp_inspect *in, const struct dmp_ring_stat **st)
{
  if (sigsetjmp(bus_jmp, 1)) {
    bus_armed = 0;
    dmp_error_set("dmp-stat", "the segment shrank while it was being read (SIGBUS)");
    return -DMP_E_CORRUPT;
  }
  bus_armed = 1;
  int rc = dmp_inspect_sample(in, st);
  bus_armed = 0;
  return rc;
}

/* Sample a target; if its name now refers to another segment (or none), or
 * the segment changed under us, reopen it once. -ENOENT: it vanished. On
 * failure the detail is in dmp_last_error(). */
static int sample(struct target *x, const struct dmp_ring_stat **st)
{
  int rc;
  if (!x->in && (rc = dmp_inspect_open_flags(x->backend, x->name, inspect_flags, &x->in)) < 0)
    return rc;
  rc = guarded_sample(x->in, st);
  if (rc == 0 && !(*st)->removed)
    return 0;
  dmp_inspect_close(x->in);
  x->in = NULL;
  if ((rc = dmp_inspect_open_flags(x->backend, x->name, inspect_flags, &x->in)) < 0)
    return rc;
  return guarded_sample(x->in, st);
}

/* ---- formatting ------------------------------------------------------------------ */

static const char *clock_text(uint64_t realtime_ns, char *buf, size_t len)
{
  time_t secs = (time_t)(realtime_ns / 1000000000u);
  struct tm tm;
  if (realtime_ns == 0 || !localtime_r(&secs, &tm)) {
    snprintf(buf, len, "-");
    return buf;
  }
  char day[32];
  strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(buf, len, "%s.%03u", day, (unsigned)(realtime_ns / 1000000u % 1000u));
  return buf;
}

/* A JSON string: quotes, escapes, and \u00XX for control and non-ASCII
 * bytes, so whatever a corrupted segment holds still makes valid JSON. */
static void json_str(const char *s)
{
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p < 0x20 || *p > 0x7e)
      printf("\\u%04x", *p);
    else
      putchar(*p);
  }
  putchar('"');
}

/* Printable copy of a string read from shared memory (for the table view). */
static const char *safe(const char *s, char *buf, size_t len)
{
  size_t i = 0;
  for (; s[i] && i + 1 < len; i++)
    buf[i] = (s[i] >= 0x20 && s[i] <= 0x7e) ? s[i] : '?';
  buf[i] = '\0';
  return buf;
}

/* ---- human output ------------------------------------------------------------------ */

static void print_consumers(const struct dmp_ring_stat *s)
{
  if (s->n_consumers == 0) {
    printf("  no consumers\n");
    return;
  }
  printf("  %-24s %5s %8s %-6s %-8s %14s %14s %10s\n", "CONSUMER", "ENTRY", "PID", "STATE", "LIVENESS", "POSITION",
         "CONSUMED", "LAG");
  for (uint32_t i = 0; i < s->n_consumers; i++) {
    const struct dmp_consumer_stat *c = &s->consumers[i];
    char id[DMP_ID_MAX + 1];
    printf("  %-24s %5u %8d %-6s %-8s %14" PRId64 " %14" PRIu64 " %10" PRId64 "%s\n", safe(c->id, id, sizeof id),
           c->index, (int)c->pid, c->state == DMP_ENTRY_ACTIVE ? "active" : "idle", dmp_peer_state_name(c->liveness),
           c->position, c->consumed, c->lag, c->durable ? "  durable" : c->non_gating ? "  non-gating" : "");
  }
}

static void print_counters(const struct dmp_ring_stat *s)
{
  char t1[40], t2[40], label[DMP_COUNTER_LABEL_MAX + 1], text[DMP_COUNTERS_TEXT_MAX + 1];
  if (s->counters_rc == -ENOENT) {
    printf("  no counters segment\n");
    return;
  }
  if (s->counters_rc < 0) {
    printf("  counters unreadable: %s\n", s->counters_error);
    return;
  }
  printf("  counters: %u of %u records, owner pid %d %s, created %s%s\n", s->n_counters, s->counters_capacity,
         (int)s->counters_pid, s->counters_owner_alive ? "alive" : "dead", clock_text(s->counters_created_ns, t1, sizeof t1),
         s->counters_stale ? "  [STALE: an older incarnation of the ring]" : "");
  if (s->registrations_failed)
    printf("  registrations refused (region full): %" PRIu64 "\n", s->registrations_failed);
  for (uint32_t i = 0; i < s->n_counters; i++) {
    const struct dmp_counter_stat *c = &s->counters[i];
    printf("    %4u %-20s %-24s %16" PRIu64 "  pid %d %s\n", c->index, dmp_counter_type_name(c->type),
           safe(c->label, label, sizeof label), c->value, (int)c->owner_pid, c->owner_alive ? "alive" : "gone");
  }
  if (s->n_errors || s->errors_dropped)
    printf("  distinct errors: %u%s\n", s->n_errors, s->errors_dropped ? " (log full, some dropped)" : "");
  for (uint32_t i = 0; i < s->n_errors; i++) {
    const struct dmp_error_stat *e = &s->errors[i];
    printf("    %6" PRIu64 "x %-10s first %s  last %s  %s\n", e->count, e->code ? dmp_err_name(e->code) : "-",
           clock_text(e->first_ns, t1, sizeof t1), clock_text(e->last_ns, t2, sizeof t2),
           safe(e->text, text, sizeof text));
  }
}

/* A byte ring's largest record (bytes.h): half the ring less the header. */
static uint64_t byte_ring_max(const struct dmp_ring_stat *s)
{
  uint64_t half = s->capacity / 2 * s->slot_size - DMP_BYTES_HEADER;
  return half < DMP_BYTES_MAX_RECORD ? half : DMP_BYTES_MAX_RECORD;
}

static void print_ring(const struct dmp_ring_stat *s)
{
  char when[40];
  printf("ring %s (%s)%s\n", s->name, dmp_backend_name(s->backend), s->removed ? "  [removed]" : "");
  printf("  epoch %016" PRIx64 "  created %s  capacity %" PRIu64 " x %u B  max consumers %u\n", s->epoch,
         clock_text(s->created_ns, when, sizeof when), s->capacity, s->slot_size, s->max_consumers);
  printf("  producer pid %d %s  position %" PRId64 "  published %" PRIu64 "%s\n", (int)s->owner_pid,
         s->producer_alive ? "alive" : "DEAD", s->position, s->published,
         s->full ? "  FULL: blocked by its slowest consumer" : "");
  if (s->flags & DMP_SEG_F_BYTES)
    printf("  byte ring: %" PRIu64 " bytes in blocks of %u B (positions and lags in blocks), records up to %" PRIu64
           " B\n", s->capacity * s->slot_size, s->slot_size, byte_ring_max(s));
  if (s->max_producers)
    printf("  multi-producer: %u of %u producers alive  claimed %" PRId64 "  tombstones %" PRIu64 "\n",
           s->producers_alive, s->max_producers, s->claimed, s->tombstones);
  print_consumers(s);
  print_counters(s);
}

/* ---- JSON output -------------------------------------------------------------------- */

static void json_consumers(const struct dmp_ring_stat *s)
{
  printf("\"consumers\":[");
  for (uint32_t i = 0; i < s->n_consumers; i++) {
    const struct dmp_consumer_stat *c = &s->consumers[i];
    printf("%s{\"id\":", i ? "," : "");
    json_str(c->id);
    printf(",\"index\":%u,\"state\":\"%s\",\"liveness\":\"%s\",\"pid\":%d,\"generation\":%u,\"gating\":%s,"
           "\"durable\":%s,\"non_gating\":%s,\"position\":%" PRId64 ",\"consumed\":%" PRIu64 ",\"lag\":%" PRId64 "}",
           c->index, c->state == DMP_ENTRY_ACTIVE ? "active" : "idle", dmp_peer_state_name(c->liveness), (int)c->pid,
           c->generation, c->gating ? "true" : "false", c->durable ? "true" : "false",
           c->non_gating ? "true" : "false", c->position, c->consumed, c->lag);
  }
  printf("]");
}

static void json_counters(const struct dmp_ring_stat *s)
{
  printf("\"counters\":{\"present\":%s", s->counters_rc == 0 ? "true" : "false");
  if (s->counters_rc < 0) {
    if (s->counters_rc != -ENOENT) {
      printf(",\"error\":");
      json_str(s->counters_error);
    }
    printf("}");
    return;
  }
  printf(",\"stale\":%s,\"pid\":%d,\"owner_alive\":%s,\"created_ns\":%" PRIu64 ",\"capacity\":%u,"
         "\"errors_dropped\":%" PRIu64 ",\"registrations_failed\":%" PRIu64 ",\"records\":[",
         s->counters_stale ? "true" : "false", (int)s->counters_pid, s->counters_owner_alive ? "true" : "false",
         s->counters_created_ns, s->counters_capacity, s->errors_dropped, s->registrations_failed);
  for (uint32_t i = 0; i < s->n_counters; i++) {
    const struct dmp_counter_stat *c = &s->counters[i];
    printf("%s{\"id\":%u,\"type\":\"%s\",\"type_id\":%u,\"label\":", i ? "," : "", c->index,
           dmp_counter_type_name(c->type), c->type);
    json_str(c->label);
    printf(",\"value\":%" PRIu64 ",\"owner_pid\":%d,\"owner_alive\":%s,\"registrations\":%u}", c->value,
           (int)c->owner_pid, c->owner_alive ? "true" : "false", c->registrations);
  }
  printf("],\"errors\":[");
  for (uint32_t i = 0; i < s->n_errors; i++) {
    const struct dmp_error_stat *e = &s->errors[i];
    printf("%s{\"code\":\"%s\",\"code_value\":%d,\"count\":%" PRIu64 ",\"first_ns\":%" PRIu64 ",\"last_ns\":%" PRIu64
           ",\"pid\":%d,\"text\":",
           i ? "," : "", e->code ? dmp_err_name(e->code) : "", (int)e->code, e->count, e->first_ns, e->last_ns,
           (int)e->pid);
    json_str(e->text);
    printf("}");
  }
  printf("]}");
}

static void json_ring(const struct dmp_ring_stat *s)
{
  printf("{\"name\":");
  json_str(s->name);
  printf(",\"backend\":\"%s\",\"epoch\":\"%016" PRIx64 "\",\"created_ns\":%" PRIu64 ",\"capacity\":%" PRIu64
         ",\"slot_size\":%u,\"slot_align\":%u,\"max_consumers\":%u,\"type_tag\":\"%016" PRIx64 "\",\"removed\":%s,"
         "\"producer\":{\"pid\":%d,\"alive\":%s,\"position\":%" PRId64 ",\"published\":%" PRIu64
         ",\"min_gating\":%" PRId64 ",\"full\":%s},",
         dmp_backend_name(s->backend), s->epoch, s->created_ns, s->capacity, s->slot_size, s->slot_align, s->max_consumers,
         s->type_tag, s->removed ? "true" : "false", (int)s->owner_pid, s->producer_alive ? "true" : "false",
         s->position, s->published, s->min_gating, s->full ? "true" : "false");
  if (s->flags & DMP_SEG_F_BYTES)
    printf("\"byte_ring\":{\"bytes\":%" PRIu64 ",\"block\":%u,\"max_record\":%" PRIu64 "},", s->capacity * s->slot_size,
           s->slot_size, byte_ring_max(s));
  if (s->max_producers)
    printf("\"multi_producer\":{\"max_producers\":%u,\"alive\":%u,\"claimed\":%" PRId64 ",\"tombstones\":%" PRIu64 "},",
           s->max_producers, s->producers_alive, s->claimed, s->tombstones);
  json_consumers(s);
  putchar(',');
  json_counters(s);
  putchar('}');
}

/* ---- one refresh ------------------------------------------------------------------- */

struct failure {
  enum dmp_backend backend;
  char name[PATH_MAX];
  int rc;
  char detail[256];
};

struct report {
  struct failure fails[MAX_ARGS];
  int n_fails, n_dropped, shown, orphans;
  bool failed;  /* no such ring, unreadable: exit 1 */
  bool missing; /* a ring named on the command line does not exist */
  bool damaged; /* corrupt, truncated, another layout: exit 3 */
};

static bool is_damage(int rc)
{
  return rc == -DMP_E_CORRUPT || rc == -DMP_E_LAYOUT;
}

static void note_failure(struct report *r, const struct target *x, int rc)
{
  if (rc == -ENOENT && !x->named)
    return; /* listed, then removed before we read it: not an error, not shown */
  if (is_damage(rc))
    r->damaged = true;
  else
    r->failed = true;
  r->missing = r->missing || rc == -ENOENT;
  if (r->n_fails == MAX_ARGS) {
    r->n_dropped++;
    return;
  }
  struct failure *f = &r->fails[r->n_fails++];
  f->backend = x->backend;
  snprintf(f->name, sizeof f->name, "%s", x->name);
  f->rc = rc;
  snprintf(f->detail, sizeof f->detail, "%s", rc == -ENOENT ? "no such ring" : dmp_last_error());
}

static void show_targets(const struct opts *o, struct targets *t, struct report *r)
{
  bool first = true;
  for (size_t i = 0; i < t->n; i++) {
    struct target *x = &t->v[i];
    if (x->kind != DMP_SEGMENT_RING) {
      r->orphans++;
      continue;
    }
    const struct dmp_ring_stat *st;
    int rc = sample(x, &st);
    if (rc < 0) {
      note_failure(r, x, rc);
      continue;
    }
    r->shown++;
    if (st->counters_rc < 0 && st->counters_rc != -ENOENT) {
      /* its counters segment is unreadable: the ring is shown, but exit 1 or 3 */
      if (is_damage(st->counters_rc))
        r->damaged = true;
      else
        r->failed = true;
    }
    if (o->json) {
      if (!first)
        putchar(',');
      json_ring(st);
    } else {
      print_ring(st);
      putchar('\n');
    }
    first = false;
  }
}

static void show_trailer(const struct opts *o, const struct targets *t, const struct report *r)
{
  if (o->json) {
    printf("],\"orphans\":[");
    bool first = true;
    for (size_t i = 0; i < t->n; i++)
      if (t->v[i].kind == DMP_SEGMENT_COUNTERS) {
        printf("%s{\"ring\":", first ? "" : ",");
        json_str(t->v[i].name);
        printf(",\"backend\":\"%s\"}", dmp_backend_name(t->v[i].backend));
        first = false;
      }
    printf("],\"errors\":[");
    for (int i = 0; i < r->n_fails; i++) {
      const struct failure *f = &r->fails[i];
      printf("%s{\"name\":", i ? "," : "");
      json_str(f->name);
      printf(",\"backend\":\"%s\",\"code\":\"%s\",\"error\":", dmp_backend_name(f->backend), dmp_err_name(f->rc));
      json_str(f->detail);
      printf("}");
    }
    printf("],\"rings_shown\":%d}\n", r->shown);
    return;
  }
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i].kind == DMP_SEGMENT_COUNTERS)
      printf("orphaned counters of %s (%s): the ring is gone; 'dmp-stat --gc' removes them\n", t->v[i].name,
             dmp_backend_name(t->v[i].backend));
  for (int i = 0; i < r->n_fails; i++) {
    const struct failure *f = &r->fails[i];
    if (f->rc == -ENOENT)
      fprintf(stderr, "dmp-stat: %s (%s): no such ring\n", f->name, dmp_backend_name(f->backend));
    else
      fprintf(stderr, "dmp-stat: %s (%s): %s: %s\n", f->name, dmp_backend_name(f->backend), dmp_err_name(f->rc),
              f->detail);
  }
  if (r->n_dropped)
    fprintf(stderr, "dmp-stat: %d more failures not shown\n", r->n_dropped);
  if (r->shown == 0 && r->n_fails == 0 && r->orphans == 0)
    printf("no rings found\n");
}

/* Set by a refresh that found a named ring missing: --watch then ends after
 * its first refresh instead of watching a typo forever. */
static bool named_missing;

static int refresh(const struct opts *o, struct targets *t)
{
  if (o->prometheus)
    return prom_refresh(o, t, stdout);
  struct report *r = calloc(1, sizeof *r);
  if (!r)
    return TOOL_EXIT_FAILURE;
  r->failed = collect(o, t) != 0;
  if (o->json) {
    printf("{\"dmp_stat\":1,\"version\":\"%s\",\"time_ns\":%" PRIu64 ",\"rings\":[", DMP_VERSION_STRING,
           (uint64_t)tool_realtime_ns());
  } else if (o->watch) {
    char when[40];
    printf("dmp-stat  %s  every %g s (Ctrl-C quits)\n\n", clock_text((uint64_t)tool_realtime_ns(), when, sizeof when),
           o->interval);
  }
  show_targets(o, t, r);
  show_trailer(o, t, r);
  named_missing = r->missing;
  int status = r->damaged                   ? TOOL_EXIT_DAMAGED
               : r->failed || r->shown == 0 ? TOOL_EXIT_FAILURE
                                            : TOOL_EXIT_OK;
  free(r);
  return status;
}

/* ---- Prometheus ------------------------------------------------------------------ */

/* Sample every ring and write OpenMetrics text to `f`. Returns the exit
 * status a plain refresh would have. */
static int prom_refresh(const struct opts *o, struct targets *t, FILE *f)
{
  bool failed = collect(o, t) != 0, damaged = false;
  struct prom_ring *rings = calloc(t->n ? t->n : 1, sizeof *rings);
  if (!rings)
    return TOOL_EXIT_FAILURE;
  size_t n = 0, shown = 0;
  for (size_t i = 0; i < t->n; i++) {
    struct target *x = &t->v[i];
    if (x->kind != DMP_SEGMENT_RING)
      continue;
    const struct dmp_ring_stat *st = NULL;
    int rc = sample(x, &st);
    if (rc == -ENOENT && !x->named)
      continue; /* listed, then removed */
    rings[n] = (struct prom_ring){x->name, x->backend, rc < 0 ? NULL : st, rc};
    if (rc < 0) {
      damaged = damaged || is_damage(rc);
      failed = failed || !is_damage(rc);
      if (f == stdout) /* not on every scrape of --listen: dmp_ring_up says it */
        fprintf(stderr, "dmp-stat: %s (%s): %s\n", x->name, dmp_backend_name(x->backend),
                rc == -ENOENT ? "no such ring" : dmp_last_error());
    } else {
      shown++;
    }
    n++;
  }
  prom_write(f, rings, n);
  free(rings);
  return damaged ? TOOL_EXIT_DAMAGED : failed || shown == 0 ? TOOL_EXIT_FAILURE : TOOL_EXIT_OK;
}

struct serve_ctx {
  const struct opts *o;
  struct targets *t;
};

static const char *render_metrics(FILE *f, void *user)
{
  struct serve_ctx *c = user;
  prom_refresh(c->o, c->t, f);
  return PROM_CONTENT_TYPE;
}

/* --listen: serve /metrics until SIGINT or SIGTERM. */
static int serve(struct opts *o, struct targets *t)
{
  int fd = http_open(&o->addr);
  if (fd < 0) {
    fprintf(stderr, "dmp-stat: cannot listen on %s port %u: %s\n", o->addr.host, o->addr.port, strerror(-fd));
    return TOOL_EXIT_FAILURE;
  }
  printf("dmp-stat: serving http://%s%s%s:%u/metrics\n", o->addr.family == AF_INET6 ? "[" : "", o->addr.host,
         o->addr.family == AF_INET6 ? "]" : "", o->addr.port);
  fflush(stdout);
  struct serve_ctx ctx = {o, t};
  int rc = http_serve(fd, render_metrics, &ctx, &stop);
  close(fd);
  if (rc < 0) {
    fprintf(stderr, "dmp-stat: serving stopped: %s\n", strerror(-rc));
    return TOOL_EXIT_FAILURE;
  }
  return TOOL_EXIT_OK;
}

/* ---- garbage collection ------------------------------------------------------------- */

/* What --gc would do with a target, without doing it. */
static const char *gc_preview(struct target *x)
{
  if (x->kind == DMP_SEGMENT_COUNTERS)
    return "would-remove";
  const struct dmp_ring_stat *st;
  int rc = sample(x, &st);
  if (rc < 0)
    return rc == -ENOENT ? "gone" : "error";
  return st->producer_alive ? "kept" : "would-remove";
}

static int run_gc(const struct opts *o, struct targets *t)
{
  int err = collect(o, t), removed = 0;
  if (o->json)
    printf("{\"dmp_stat\":1,\"gc\":[");
  for (size_t i = 0; i < t->n; i++) {
    struct target *x = &t->v[i];
    int rc = 0;
    const char *what = o->dry_run ? gc_preview(x) : NULL;
    if (!what) {
      rc = dmp_ring_gc(x->backend, x->name);
      what = rc == 1 ? "removed" : rc == 0 ? "kept" : rc == -ENOENT ? "gone" : "error";
    }
    /* A listed ring that vanished since the listing is "gone" (someone
     * else removed it: nothing to do); one named on the command line that
     * does not exist is a failure, as in a plain run: "no such ring". */
    const char *detail = NULL;
    if (strcmp(what, "gone") == 0 && x->named) {
      what = "error";
      detail = "no such ring";
    } else if (strcmp(what, "error") == 0) {
      detail = dmp_last_error();
    }
    removed += rc == 1;
    err |= detail != NULL;
    if (o->json) {
      printf("%s{\"name\":", i ? "," : "");
      json_str(x->name);
      printf(",\"backend\":\"%s\",\"result\":\"%s\"", dmp_backend_name(x->backend), what);
      if (detail) {
        printf(",\"error\":");
        json_str(detail);
      }
      printf("}");
    } else if (detail) {
      fprintf(stderr, "dmp-stat: %s (%s): %s\n", x->name, dmp_backend_name(x->backend), detail);
    } else {
      printf("%-12s %s (%s)%s\n", what, x->name, dmp_backend_name(x->backend),
             strcmp(what, "kept") == 0 ? ": its producer is alive" : "");
    }
  }
  if (o->json)
    printf("],\"removed\":%d}\n", removed);
  else if (t->n == 0)
    printf("no rings found\n");
  return err || t->n == 0 ? TOOL_EXIT_FAILURE : TOOL_EXIT_OK;
}

/* ---- main ---------------------------------------------------------------------------- */

static void pause_for(double seconds)
{
  struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
  while (!stop && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void install_handlers(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_sigbus;
  sigaction(SIGBUS, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
  static struct opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc != 0)
    return rc < 0 ? TOOL_EXIT_OK : rc; /* -1: --help or --version printed */
  inspect_flags = o.group ? DMP_INSPECT_ALLOW_GROUP : 0;
  install_handlers();
  struct targets t = {NULL, 0, 0};
  int status = 0;
  if (o.listen) {
    status = serve(&o, &t);
    for (size_t i = 0; i < t.n; i++)
      dmp_inspect_close(t.v[i].in);
    free(t.v);
    return status;
  }
  for (long i = 0; !stop; i++) {
    if (o.clear)
      printf("\033[H\033[2J");
    status = o.gc ? run_gc(&o, &t) : refresh(&o, &t);
    if (fflush(stdout) != 0 || ferror(stdout))
      return TOOL_EXIT_FAILURE;
    if (!o.watch || (o.count && i + 1 >= o.count) || (i == 0 && named_missing))
      break;
    pause_for(o.interval);
  }
  for (size_t i = 0; i < t.n; i++)
    dmp_inspect_close(t.v[i].in);
  free(t.v);
  return status;
}
