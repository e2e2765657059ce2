/* The HTTP/1.x server of dmp-stat --listen (see http.h): a request-head
 * parser that is a pure function over bytes, and a sequential server in
 * which every read and write has a deadline. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- parsing ------------------------------------------------------------- */

/* End of the head (just past the blank line), or 0 if there is none yet.
 * Accepts CRLF and bare LF line ends, as RFC 9112 section 2.2 allows. */
static size_t head_end(const char *buf, size_t len)
{
  for (size_t i = 0; i + 1 < len; i++) {
    if (buf[i] != '\n')
      continue;
    if (buf[i + 1] == '\n')
      return i + 2;
    if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

/* The start of the line after the one at s (which ends in '\n' before e). */
static const char *next_line(const char *s, const char *e)
{
  return (const char *)memchr(s, '\n', (size_t)(e - s)) + 1;
}

/* One line [s, e) without its line end. */
static size_t line_len(const char *s, const char *e)
{
  const char *nl = memchr(s, '\n', (size_t)(e - s));
  size_t n = (size_t)((nl ? nl : e) - s);
  return n && s[n - 1] == '\r' ? n - 1 : n;
}

static int parse_request_line(const char *s, size_t n, struct http_request *req)
{
  size_t i = 0, m = 0;
  while (i < n && s[i] >= 'A' && s[i] <= 'Z' && m + 1 < sizeof req->method)
    req->method[m++] = s[i++];
  req->method[m] = '\0';
  if (m == 0 || i >= n || s[i] != ' ')
    return -400;
  size_t t0 = ++i;
  while (i < n && s[i] > ' ' && s[i] < 0x7f)
    i++;
  size_t tlen = i - t0;
  if (tlen == 0 || s[t0] != '/' || i >= n || s[i] != ' ')
    return tlen > HTTP_MAX_TARGET ? -414 : -400;
  if (tlen > HTTP_MAX_TARGET)
    return -414;
  const char *q = memchr(s + t0, '?', tlen);
  size_t plen = q ? (size_t)(q - (s + t0)) : tlen;
  memcpy(req->path, s + t0, plen);
  req->path[plen] = '\0';
  i++;
  if (n - i != 8 || memcmp(s + i, "HTTP/", 5) != 0 || s[i + 6] != '.' || s[i + 5] < '0' || s[i + 5] > '9' ||
      s[i + 7] < '0' || s[i + 7] > '9')
    return -400;
  if (s[i + 5] != '1' || (s[i + 7] != '0' && s[i + 7] != '1'))
    return -505;
  req->minor = s[i + 7] - '0';
  return 1;
}

/* A header line: a token, ':', then visible characters, spaces or tabs. */
static bool header_ok(const char *s, size_t n)
{
  size_t i = 0;
  while (i < n && s[i] > ' ' && s[i] < 0x7f && s[i] != ':')
    i++;
  if (i == 0 || i >= n || s[i] != ':')
    return false;
  for (i++; i < n; i++)
    if ((unsigned char)s[i] < ' ' ? s[i] != '\t' : s[i] == 0x7f)
      return false;
  return true;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
  size_t end = head_end(buf, len < HTTP_MAX_REQUEST ? len : HTTP_MAX_REQUEST);
  if (end == 0)
    return len >= HTTP_MAX_REQUEST ? -431 : 0;
  const char *s = buf, *e = buf + end;
  size_t n = line_len(s, e);
  int rc = parse_request_line(s, n, req);
  if (rc < 0)
    return rc;
  /* Every line of [buf, end) ends in '\n': head_end() found its last one. */
  for (s = next_line(s, e); s < e; s = next_line(s, e)) {
    n = line_len(s, e);
    if (n == 0)
      break; /* the blank line */
    if (!header_ok(s, n))
      return -400;
  }
  return 1;
}

bool http_listen_parse(const char *s, struct http_listen *out, char *why, size_t why_len)
{
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s) {
    snprintf(why, why_len, "HOST:PORT, e.g. 127.0.0.1:9464");
    return false;
  }
  size_t hlen = (size_t)(colon - s);
  char host[64];
  if (hlen >= sizeof host) {
    snprintf(why, why_len, "host too long");
    return false;
  }
  memcpy(host, s, hlen);
  host[hlen] = '\0';
  const char *p = colon + 1;
  unsigned long port = 0;
  if (!*p || strlen(p) > 5) {
    snprintf(why, why_len, "a port 0..65535 after the ':'");
    return false;
  }
  for (; *p; p++) {
    if (*p < '0' || *p > '9') {
      snprintf(why, why_len, "a port 0..65535 after the ':'");
      return false;
    }
    port = port * 10 + (unsigned long)(*p - '0');
  }
  if (port > 65535) {
    snprintf(why, why_len, "a port 0..65535 after the ':'");
    return false;
  }
  struct in_addr a4;
  if (strcmp(host, "localhost") == 0) {
    snprintf(out->host, sizeof out->host, "127.0.0.1");
    out->family = AF_INET;
  } else if (strcmp(host, "[::1]") == 0) {
    snprintf(out->host, sizeof out->host, "::1");
    out->family = AF_INET6;
  } else if (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) {
    snprintf(out->host, sizeof out->host, "%s", host);
    out->family = AF_INET;
  } else {
    /* Metrics name every ring and process of the host and there is no
     * authentication: never on a routable address. */
    snprintf(why, why_len, "a loopback address (127.0.0.0/8, localhost or [::1]): the metrics are served "
                           "without authentication");
    return false;
  }
  out->port = (unsigned)port;
  return true;
}

/* ---- serving -------------------------------------------------------------- */

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_open(struct http_listen *l)
{
  int fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (l->family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)l->port);
    inet_pton(AF_INET, l->host, &a->sin_addr);
    sl = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)l->port);
    a->sin6_addr = in6addr_loopback;
    sl = sizeof *a;
  }
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  l->port = ntohs(l->family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return fd;
}

/* Wait until `fd` is ready for `events` or the deadline passes. */
static bool wait_fd(int fd, short events, int64_t deadline)
{
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return false;
    struct pollfd p = {fd, events, 0};
    int rc = poll(&p, 1, (int)left);
    if (rc > 0)
      return true;
    if (rc < 0 && errno != EINTR)
      return false;
  }
}

static void send_all(int fd, const char *p, size_t n, int64_t deadline)
{
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, POLLOUT, deadline))
        return;
    } else {
      return;
    }
  }
}

static const char *reason(int status)
{
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 414: return "URI Too Long";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 505: return "HTTP Version Not Supported";
  default: return "Error";
  }
}

static void respond(int fd, int status, const char *type, const char *body, size_t len, bool head_only,
                    int64_t deadline)
{
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
                   reason(status), type, len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
  send_all(fd, head, (size_t)n, deadline);
  if (!head_only)
    send_all(fd, body, len, deadline);
}

static void respond_text(int fd, int status, const char *text, int64_t deadline)
{
  respond(fd, status, "text/plain; charset=utf-8", text, strlen(text), false, deadline);
}

/* Read the head within the deadline; 1 parsed, or the status to answer
 * (negated), or 0 when the client went away. */
static int read_request(int fd, struct http_request *req, int64_t deadline)
{
  char buf[HTTP_MAX_REQUEST];
  size_t len = 0;
  for (;;) {
    ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
    if (r > 0) {
      len += (size_t)r;
      int rc = http_parse_request(buf, len, req);
      if (rc != 0)
        return rc;
    } else if (r == 0) {
      return 0;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_fd(fd, POLLIN, deadline))
        return -408;
    } else {
      return 0;
    }
  }
}

static void handle(int fd, http_render_fn *render, void *user)
{
  int64_t deadline = now_ms() + HTTP_IO_TIMEOUT_MS;
  struct http_request req;
  int rc = read_request(fd, &req, deadline);
  if (rc == 0)
    return;
  if (rc < 0) {
    respond_text(fd, -rc, reason(-rc), deadline);
    return;
  }
  bool head_only = strcmp(req.method, "HEAD") == 0;
  if (!head_only && strcmp(req.method, "GET") != 0) {
    respond_text(fd, 405, "only GET and HEAD\n", deadline);
    return;
  }
  if (strcmp(req.path, "/") == 0) {
    respond(fd, 200, "text/plain; charset=utf-8", "dmp-stat: metrics at /metrics\n", 31, head_only, deadline);
    return;
  }
  if (strcmp(req.path, "/metrics") != 0) {
    respond_text(fd, 404, "not found: the metrics are at /metrics\n", deadline);
    return;
  }
  char *body = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&body, &len);
  const char *type = f ? render(f, user) : NULL;
  if (!f || fclose(f) != 0 || !type) {
    respond_text(fd, 500, "could not render the metrics\n", deadline);
    free(body);
    return;
  }
  respond(fd, 200, type, body, len, head_only, deadline);
  free(body);
}

int http_serve(int fd, http_render_fn *render, void *user, volatile sig_atomic_t *stop)
{
  while (!*stop) {
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, 250);
    if (rc < 0 && errno != EINTR)
      return -errno;
    if (rc <= 0)
      continue;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE) {
        /* out of descriptors: the pending connection stays queued and poll()
         * would report it at once again; wait instead of spinning */
        nanosleep(&(struct timespec){0, 100000000}, NULL);
        continue;
      }
      return -errno;
    }
    handle(c, render, user);
    /* Half-close, then drain briefly, so that unread request bytes do not
     * turn the close into a reset that destroys the response in flight. */
    shutdown(c, SHUT_WR);
    char sink[512];
    int64_t until = now_ms() + 100;
    while (wait_fd(c, POLLIN, until) && recv(c, sink, sizeof sink, 0) > 0)
      ;
    close(c);
  }
  return 0;
}
