/* Helpers of the counters tests: see cnt.h. */
#include "cnt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void cnt_fini(void)
{
  ts_kill_children();
  ts_cleanup();
}

const char *cnt_backend_name(enum dmp_backend b)
{
  return b == DMP_BACKEND_SHM ? "shm" : "mmap";
}

const char *cnt_name(enum dmp_backend b, const char *tag)
{
  const char *n = b == DMP_BACKEND_SHM ? ts_shm_name(tag) : ts_tmp_path(tag);
  cr_assert(ne(ptr, (void *)n, NULL), "out of test names");
  return n;
}

const char *cnt_file(const char *tag)
{
  return cnt_name(DMP_BACKEND_MMAP, tag);
}

const char *cnt_fs_path(enum dmp_backend b, const char *name, bool counters)
{
  static char bufs[8][600];
  static unsigned next;
  char *buf = bufs[next++ % 8];
  if (b == DMP_BACKEND_SHM)
    snprintf(buf, sizeof bufs[0], "/dev/shm/%s%s", name[0] == '/' ? name + 1 : name, counters ? ".cnt" : "");
  else
    snprintf(buf, sizeof bufs[0], "%s%s", name, counters ? ".cnt" : "");
  return buf;
}

bool cnt_exists(enum dmp_backend b, const char *name, bool counters)
{
  return access(cnt_fs_path(b, name, counters), F_OK) == 0;
}

struct dmp_producer *cnt_producer(enum dmp_backend b, const char *name, uint64_t capacity, uint32_t max_consumers,
                                  uint32_t flags)
{
  struct dmp_producer_config cfg;
  dmp_producer_config_init(&cfg);
  cfg.backend = b;
  cfg.name = name;
  cfg.capacity = capacity;
  cfg.slot_size = 8;
  cfg.max_consumers = max_consumers;
  cfg.flags = flags;
  struct dmp_producer *p = NULL;
  int rc = dmp_producer_create(&cfg, &p);
  cr_assert(eq(int, rc, 0), "create %s ring '%s': %s (%s)", cnt_backend_name(b), name, dmp_err_name(rc),
            dmp_last_error());
  return p;
}

pid_t cnt_spawn(const char *role, enum dmp_backend b, const char *name, ...)
{
  char *argv[48];
  int n = 0;
  argv[n++] = (char *)ts_helper("CNT_ROLE");
  argv[n++] = (char *)role;
  argv[n++] = "--backend";
  argv[n++] = (char *)cnt_backend_name(b);
  argv[n++] = "--name";
  argv[n++] = (char *)name;
  va_list ap;
  va_start(ap, name);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && n < 47)
    argv[n++] = (char *)a;
  va_end(ap);
  argv[n] = NULL;
  pid_t pid = ts_spawn(argv);
  cr_assert(lt(int, 0, pid), "cannot spawn cnt_role %s: %s", role, strerror(errno));
  return pid;
}

void cnt_await(const char *path, const char *what)
{
  cr_assert(ts_wait_path(path, CNT_WAIT_MS), "%s: %s did not appear within %d ms", what, path, CNT_WAIT_MS);
}

void cnt_touch(const char *path)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cr_assert(ge(int, fd, 0), "cannot create %s: %s", path, strerror(errno));
  close(fd);
}

void cnt_expect_exit(pid_t pid, int want, const char *who)
{
  int st = ts_wait(pid, CNT_WAIT_MS);
  cr_assert(eq(int, st, want), "%s exited with %d, want %d (-1 = killed after %d ms)", who, st, want, CNT_WAIT_MS);
}

void cnt_kill(pid_t pid)
{
  kill(pid, SIGKILL);
  int st = ts_wait(pid, CNT_WAIT_MS);
  cr_assert(eq(int, st, 128 + SIGKILL), "child %d ended with %d, not by SIGKILL", (int)pid, st);
}

const struct dmp_counter_stat *cnt_stat_record(const struct dmp_ring_stat *s, uint32_t type, const char *label)
{
  for (uint32_t i = 0; i < s->n_counters; i++)
    if (s->counters[i].type == type && strcmp(s->counters[i].label, label) == 0)
      return &s->counters[i];
  return NULL;
}

uint64_t cnt_stat_value(const struct dmp_ring_stat *s, uint32_t type, const char *label)
{
  const struct dmp_counter_stat *c = cnt_stat_record(s, type, label);
  cr_assert(ne(ptr, (void *)c, NULL), "no counter %s{%s} in '%s' (%u records, counters rc %s: %s)",
            dmp_counter_type_name(type), label, s->name, s->n_counters, dmp_err_name(s->counters_rc),
            s->counters_error);
  return c->value;
}

const struct dmp_consumer_stat *cnt_stat_consumer(const struct dmp_ring_stat *s, const char *id)
{
  for (uint32_t i = 0; i < s->n_consumers; i++)
    if (strcmp(s->consumers[i].id, id) == 0)
      return &s->consumers[i];
  return NULL;
}

uint64_t cnt_value(const struct dmp_counters *set, uint32_t type, const char *label)
{
  uint64_t v = 0;
  int rc = dmp_counters_value(set, type, label, &v);
  cr_assert(eq(int, rc, 0), "no counter %s{%s}: %s", dmp_counter_type_name(type), label, dmp_err_name(rc));
  return v;
}

const struct dmp_ring_stat *cnt_sample(enum dmp_backend b, const char *name, struct dmp_inspect **in)
{
  int rc = dmp_inspect_open(b, name, in);
  cr_assert(eq(int, rc, 0), "inspect '%s': %s (%s)", name, dmp_err_name(rc), dmp_last_error());
  const struct dmp_ring_stat *s = NULL;
  rc = dmp_inspect_sample(*in, &s);
  cr_assert(eq(int, rc, 0), "sample '%s': %s (%s)", name, dmp_err_name(rc), dmp_last_error());
  return s;
}

char *cnt_slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  cr_assert(ne(ptr, buf, NULL));
  if (f) {
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
      n += got;
      if (cap - n - 1 == 0) {
        cap *= 2;
        buf = realloc(buf, cap);
        cr_assert(ne(ptr, buf, NULL));
      }
    }
    fclose(f);
  }
  buf[n] = '\0';
  return buf;
}

long long cnt_report_int(const char *report, const char *key)
{
  char pat[64];
  snprintf(pat, sizeof pat, "%s=", key);
  const char *at = strstr(report, pat);
  cr_assert(ne(ptr, (void *)at, NULL), "no '%s' in report '%s'", key, report);
  return strtoll(at + strlen(pat), NULL, 10);
}

int cnt_stat_run(char **out, char **err, const char *const *args)
{
  const char *out_path = cnt_file("stdout"), *err_path = cnt_file("stderr");
  char *argv[64];
  int n = 0;
  argv[n++] = (char *)ts_helper("DMP_STAT");
  for (; args[n - 1] && n < 63; n++)
    argv[n] = (char *)args[n - 1];
  argv[n] = NULL;
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(ge(int, pid, 0), "fork: %s", strerror(errno));
  if (pid == 0) {
    int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
      _exit(126);
    execv(argv[0], argv);
    _exit(127);
  }
  int st = ts_wait(pid, CNT_WAIT_MS);
  cr_assert(ne(int, st, -1), "dmp-stat did not finish within %d ms", CNT_WAIT_MS);
  *out = cnt_slurp(out_path);
  *err = cnt_slurp(err_path);
  return st;
}

/* ---- a minimal JSON checker -------------------------------------------------- */

static const char *ws(const char *p)
{
  while (*p == ' ' || *p == '\t' || *p == '\r')
    p++;
  return p;
}

static const char *j_value(const char *p, int depth);

static const char *j_string(const char *p)
{
  if (*p++ != '"')
    return NULL;
  for (; *p && *p != '"'; p++) {
    if ((unsigned char)*p < 0x20)
      return NULL;
    if (*p == '\\') {
      p++;
      if (*p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
            return NULL;
        p += 4;
      } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
        return NULL;
      }
    }
  }
  return *p == '"' ? p + 1 : NULL;
}

static const char *j_digits(const char *p)
{
  const char *s = p;
  while (*p >= '0' && *p <= '9')
    p++;
  return p == s ? NULL : p;
}

static const char *j_number(const char *p)
{
  if (*p == '-')
    p++;
  if (!(p = j_digits(p)))
    return NULL;
  if (*p == '.' && !(p = j_digits(p + 1)))
    return NULL;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    p = j_digits(p);
  }
  return p;
}

static const char *j_seq(const char *p, char close, bool object, int depth)
{
  p = ws(p + 1);
  if (*p == close)
    return p + 1;
  for (;;) {
    if (object) {
      if (!(p = j_string(ws(p))))
        return NULL;
      p = ws(p);
      if (*p++ != ':')
        return NULL;
    }
    if (!(p = j_value(ws(p), depth + 1)))
      return NULL;
    p = ws(p);
    if (*p == close)
      return p + 1;
    if (*p++ != ',')
      return NULL;
  }
}

static const char *j_value(const char *p, int depth)
{
  if (depth > 64)
    return NULL;
  p = ws(p);
  switch (*p) {
  case '{': return j_seq(p, '}', true, depth);
  case '[': return j_seq(p, ']', false, depth);
  case '"': return j_string(p);
  case 't': return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
  case 'f': return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
  case 'n': return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
  default: return j_number(p);
  }
}

int cnt_json_count(const char *s)
{
  int n = 0;
  while (*ws(s)) {
    const char *end = j_value(s, 0);
    if (!end)
      return -1;
    end = ws(end);
    if (*end != '\n' && *end != '\0')
      return -1;
    n++;
    s = *end ? end + 1 : end;
    while (*s == '\n')
      s++;
  }
  return n;
}

char *cnt_json_object(const char *doc, const char *start)
{
  const char *p = strstr(doc, start);
  cr_assert(ne(ptr, (void *)p, NULL), "no '%s' in JSON:\n%s", start, doc);
  const char *q = p;
  int depth = 0;
  for (; *q; q++) {
    if (*q == '"') {
      q = j_string(q);
      cr_assert(ne(ptr, (void *)q, NULL), "bad string in JSON after '%s'", start);
      q--;
    } else if (*q == '{' || *q == '[') {
      depth++;
    } else if ((*q == '}' || *q == ']') && --depth == 0) {
      break;
    }
  }
  cr_assert(eq(int, depth, 0), "unbalanced JSON after '%s'", start);
  size_t len = (size_t)(q - p) + 1;
  char *obj = malloc(len + 1);
  cr_assert(ne(ptr, obj, NULL));
  memcpy(obj, p, len);
  obj[len] = '\0';
  return obj;
}

void cnt_json_has(const char *json, const char *needle)
{
  cr_assert(ne(ptr, strstr(json, needle), NULL), "expected %s in:\n%s", needle, json);
}
