/**
 * @file http.h
 * @brief The small HTTP/1.x server behind `dmp-stat --listen` (not
 * installed): one connection at a time, GET and HEAD only, every read and
 * write bounded in bytes and in time, loopback addresses only.
 *
 * Enough for a Prometheus scrape of /metrics, nothing more: no keep-alive
 * (every response closes its connection), no request body, no chunked
 * encoding. A client that is slow, silent, or sends more than
 * HTTP_MAX_REQUEST bytes of request head costs the server at most
 * HTTP_IO_TIMEOUT_MS and is answered 408, 431 or 400.
 */
#ifndef DMP_STAT_HTTP_H
#define DMP_STAT_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define HTTP_MAX_REQUEST 8192 /* request line + headers */
#define HTTP_MAX_TARGET 1024
#define HTTP_IO_TIMEOUT_MS 2000

struct http_request {
  char method[16];
  char path[HTTP_MAX_TARGET + 1]; /* the target up to '?' */
  int minor;                      /* HTTP/1.<minor> */
};

/**
 * Parse a request head from the first `len` bytes of `buf` (no terminating
 * NUL needed; any byte may appear). A pure function, for the server and
 * for the tests that feed it hostile input.
 * @return 1 and `*req` for a whole, valid head; 0 when more bytes are
 * needed (no blank line yet, fewer than HTTP_MAX_REQUEST bytes); or the
 * HTTP status to answer, negated: -400 malformed, -414 target too long,
 * -431 head too long, -505 not HTTP/1.0 or 1.1.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/** Where to listen: "127.0.0.1:PORT", "localhost:PORT" or "[::1]:PORT";
 * PORT 0 lets the kernel choose. */
struct http_listen {
  char host[64];
  unsigned port;
  int family; /* AF_INET or AF_INET6 */
};

/** Parse a --listen argument; false (with the reason in `why`) for
 * anything but a loopback address and a port 0..65535. */
bool http_listen_parse(const char *s, struct http_listen *out, char *why, size_t why_len);

/** Writes the /metrics body into `f`; returns the Content-Type. */
typedef const char *http_render_fn(FILE *f, void *user);

/**
 * Bind and listen (the chosen port is written back into `l->port`).
 * @return the socket, or -errno.
 */
int http_open(struct http_listen *l);

/** Serve one connection after another until `*stop` is set (checked at
 * least every 250 ms). Returns 0, or -errno if accept() fails for good. */
int http_serve(int fd, http_render_fn *render, void *user, volatile sig_atomic_t *stop);

#endif /* DMP_STAT_HTTP_H */
