/**
 * @file json.h
 * @brief A minimal streaming JSON writer (objects, arrays, scalars) for the
 * result files. Keys are NULL inside arrays. No allocation.
 */
#ifndef MYELON_BENCH_JSON_H
#define MYELON_BENCH_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
  FILE *f;
  int depth;
  bool first[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *f);
void json_obj_begin(struct json *j, const char *key);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_str(struct json *j, const char *key, const char *v);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
/** Numbers print with up to 6 significant decimals; NaN/inf print null. */
void json_f64(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
/** Insert `text`, already valid JSON, as the value of `key`. */
void json_raw(struct json *j, const char *key, const char *text);

#endif /* MYELON_BENCH_JSON_H */
