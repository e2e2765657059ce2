/* The request parser of dmp-stat --listen (disruptor-mp/tools/http.c), fed
 * hostile input directly: every answer is one of the documented ones, a
 * head is never read past its length or past HTTP_MAX_REQUEST, and a
 * valid request still parses wherever it is cut. Random inputs (seeded,
 * reproducible) come from mutating valid requests. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

TestSuite(http_parse, .timeout = 60);

static int parse(const char *s)
{
  struct http_request r;
  return http_parse_request(s, strlen(s), &r);
}

Test(http_parse, valid_requests_parse_and_give_method_path_and_version)
{
  struct http_request r;
  const char *s = "GET /metrics?name=x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n";
  cr_assert(eq(int, http_parse_request(s, strlen(s), &r), 1));
  cr_assert(eq(str, r.method, "GET"));
  cr_assert(eq(str, r.path, "/metrics"));
  cr_assert(eq(int, r.minor, 1));
  s = "HEAD / HTTP/1.0\n\n";
  cr_assert(eq(int, http_parse_request(s, strlen(s), &r), 1));
  cr_assert(eq(str, r.method, "HEAD"));
  cr_assert(eq(int, r.minor, 0));
}

Test(http_parse, an_incomplete_head_asks_for_more_at_every_cut)
{
  const char *s = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t n = strlen(s);
  struct http_request r;
  for (size_t cut = 0; cut < n; cut++)
    cr_assert(eq(int, http_parse_request(s, cut, &r), 0), "cut at %zu", cut);
  cr_assert(eq(int, http_parse_request(s, n, &r), 1));
}

Test(http_parse, malformed_heads_get_their_status)
{
  static const struct {
    const char *s;
    int want;
  } cases[] = {
      {"\r\n\r\n", -400},
      {"get / HTTP/1.1\r\n\r\n", -400},
      {"GET\r\n\r\n", -400},
      {"GET  / HTTP/1.1\r\n\r\n", -400},
      {"GET metrics HTTP/1.1\r\n\r\n", -400},
      {"GET / HTTP/1.1 \r\n\r\n", -400},
      {"GET / HTTP/1.12\r\n\r\n", -400},
      {"GET / HTTX/1.1\r\n\r\n", -400},
      {"GET / HTTP/2.0\r\n\r\n", -505},
      {"GET / HTTP/1.9\r\n\r\n", -505},
      {"GET / HTTP/1.1\r\nnocolon\r\n\r\n", -400},
      {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", -400},
      {"GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", -400},
      {"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", -400},
      {"GET /\x7f HTTP/1.1\r\n\r\n", -400},
      {"VERYLONGMETHODNAMEXX / HTTP/1.1\r\n\r\n", -400},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    cr_assert(eq(int, parse(cases[i].s), cases[i].want), "case %zu: '%s'", i, cases[i].s);
  /* NUL inside the head (strlen would stop there: give the length). */
  static const char nul[] = "GET /\0x HTTP/1.1\r\n\r\n";
  struct http_request r;
  cr_assert(eq(int, http_parse_request(nul, sizeof nul - 1, &r), -400));
}

Test(http_parse, long_targets_and_long_heads_are_refused_without_reading_past_the_bound)
{
  /* A static buffer, not malloc: gcc 12 with ASan (-Warray-bounds) took
   * the unchecked malloc result for a zero-sized object. */
  static char s[5 + HTTP_MAX_TARGET + sizeof " HTTP/1.1\r\n\r\n"];
  memcpy(s, "GET /", 5);
  memset(s + 5, 'a', HTTP_MAX_TARGET);
  memcpy(s + 5 + HTTP_MAX_TARGET, " HTTP/1.1\r\n\r\n", sizeof " HTTP/1.1\r\n\r\n");
  cr_assert(eq(int, parse(s), -414));
  /* A head with no end: "more" until the bound, then 431, whatever follows. */
  size_t big = HTTP_MAX_REQUEST + 100;
  char *h = malloc(big);
  memset(h, 'x', big);
  memcpy(h, "GET / HTTP/1.1\r\nX: ", 19);
  struct http_request r;
  cr_assert(eq(int, http_parse_request(h, HTTP_MAX_REQUEST - 1, &r), 0));
  cr_assert(eq(int, http_parse_request(h, HTTP_MAX_REQUEST, &r), -431));
  memcpy(h + HTTP_MAX_REQUEST + 10, "\r\n\r\n", 4); /* an end beyond the bound does not count */
  cr_assert(eq(int, http_parse_request(h, big, &r), -431));
  free(h);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

Test(http_parse, mutated_requests_give_only_documented_answers)
{
  static const char *const seeds[] = {"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", "HEAD / HTTP/1.0\n\n",
                                      "GET /metrics?x=y HTTP/1.1\r\nAccept: text/plain\r\nX: \t1\r\n\r\n"};
  char buf[256];
  struct http_request r;
  for (int iter = 0; iter < 200000; iter++) {
    const char *seed = seeds[rng() % 3];
    size_t n = strlen(seed);
    memcpy(buf, seed, n);
    for (int k = (int)(rng() % 4) + 1; k > 0 && n > 0; k--) {
      size_t at = rng() % n;
      switch (rng() % 3) {
      case 0: buf[at] = (char)(rng() & 0xff); break;          /* flip a byte */
      case 1: n = at; break;                                   /* truncate */
      default:
        if (n < sizeof buf) { /* insert a byte */
          memmove(buf + at + 1, buf + at, n - at);
          buf[at] = (char)(rng() & 0xff);
          n++;
        }
      }
    }
    /* Exactly n bytes, in a heap block of that size, so that reading past
     * the length is caught by ASan (the asan setup runs this suite). */
    char *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    memset(&r, 0x55, sizeof r);
    int rc = http_parse_request(exact, n, &r);
    free(exact);
    cr_assert(rc == 0 || rc == 1 || rc == -400 || rc == -414 || rc == -505, "iteration %d: %d", iter, rc);
    if (rc == 1) {
      cr_assert(r.path[0] == '/' && strlen(r.path) <= HTTP_MAX_TARGET, "iteration %d", iter);
      cr_assert(strcmp(r.method, "") != 0 && strlen(r.method) < sizeof r.method, "iteration %d", iter);
    }
  }
}
