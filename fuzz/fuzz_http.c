/* Fuzz target: the request-head parser of dmp-stat --listen
 * (http_parse_request(), disruptor-mp/tools/http.c), fed whatever a
 * hostile local client could send. Input: the bytes of the request, in an
 * exact-size allocation so that reading past them is caught. Oracle: the
 * answer is one of the documented ones; a parsed request has a path that
 * starts with '/' and fits, a short upper-case method, HTTP/1.0 or 1.1;
 * every prefix of an accepted head asks for more (0) or fails, never
 * succeeds on bytes it has not seen. */
#include "fuzz.h"

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 2 * HTTP_MAX_REQUEST)
    return 0;
  char *buf = malloc(size ? size : 1);
  FUZZ_CHECK(buf != NULL);
  memcpy(buf, data, size);
  struct http_request req;
  int rc = http_parse_request(buf, size, &req);
  FUZZ_CHECK(rc == 1 || rc == 0 || rc == -400 || rc == -414 || rc == -431 || rc == -505);
  FUZZ_CHECK(rc != -431 || size >= HTTP_MAX_REQUEST);
  if (rc == 1) {
    FUZZ_CHECK(req.path[0] == '/' && strlen(req.path) <= HTTP_MAX_TARGET);
    size_t m = strlen(req.method);
    FUZZ_CHECK(m > 0 && m < sizeof req.method);
    for (size_t i = 0; i < m; i++)
      FUZZ_CHECK(req.method[i] >= 'A' && req.method[i] <= 'Z');
    FUZZ_CHECK(req.minor == 0 || req.minor == 1);
    /* The head ended before `size`: a cut just before its last byte is
     * incomplete (the blank line is not there yet). */
    size_t cut = size;
    while (cut > 0 && http_parse_request(buf, cut - 1, &req) == 1)
      cut--;
    FUZZ_CHECK(cut > 0);
  }
  free(buf);
  return 0;
}
