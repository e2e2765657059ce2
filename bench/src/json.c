/* Streaming JSON writer (see json.h). */
#include "json.h"

#include <math.h>

void json_init(struct json *j, FILE *f)
{
  j->f = f;
  j->depth = 0;
  j->first[0] = true;
}

static void put_string(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch == '\n')
      fputs("\\n", f);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

/* Comma, indentation and key before a value. */
static void lead(struct json *j, const char *key)
{
  if (!j->first[j->depth])
    fputc(',', j->f);
  j->first[j->depth] = false;
  if (j->depth > 0) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
      fputs("  ", j->f);
  }
  if (key) {
    put_string(j->f, key);
    fputs(": ", j->f);
  }
}

static void open_(struct json *j, const char *key, char ch)
{
  lead(j, key);
  fputc(ch, j->f);
  if (j->depth + 1 < JSON_MAX_DEPTH)
    j->depth++;
  j->first[j->depth] = true;
}

static void close_(struct json *j, char ch)
{
  bool empty = j->first[j->depth];
  if (j->depth > 0)
    j->depth--;
  if (!empty) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
      fputs("  ", j->f);
  }
  fputc(ch, j->f);
  if (j->depth == 0)
    fputc('\n', j->f);
}

void json_obj_begin(struct json *j, const char *key) { open_(j, key, '{'); }
void json_obj_end(struct json *j) { close_(j, '}'); }
void json_arr_begin(struct json *j, const char *key) { open_(j, key, '['); }
void json_arr_end(struct json *j) { close_(j, ']'); }

void json_str(struct json *j, const char *key, const char *v)
{
  lead(j, key);
  if (v)
    put_string(j->f, v);
  else
    fputs("null", j->f);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
  lead(j, key);
  fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
  lead(j, key);
  fprintf(j->f, "%lld", (long long)v);
}

void json_f64(struct json *j, const char *key, double v)
{
  lead(j, key);
  if (isfinite(v))
    fprintf(j->f, "%.6g", v);
  else
    fputs("null", j->f);
}

void json_bool(struct json *j, const char *key, bool v)
{
  lead(j, key);
  fputs(v ? "true" : "false", j->f);
}

void json_raw(struct json *j, const char *key, const char *text)
{
  lead(j, key);
  fputs(text, j->f);
}
