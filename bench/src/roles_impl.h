/**
 * @file roles_impl.h
 * @brief What roles.c shares with roles_ab.c: the ping-pong exchange, the
 * open sequences of each role, and result helpers. Not used elsewhere.
 */
#ifndef MYELON_BENCH_ROLES_IMPL_H
#define MYELON_BENCH_ROLES_IMPL_H

#include <string.h>

#include "tool_hist.h"
#include "json.h"
#include "roles.h"

#define ROLE_TIMEOUT_NS (INT64_C(60) * 1000000000)

static inline void put_word(void *buf, unsigned i, uint64_t v) { memcpy((uint8_t *)buf + 8 * i, &v, 8); }

static inline uint64_t get_word(const void *buf, unsigned i)
{
  uint64_t v;
  memcpy(&v, (const uint8_t *)buf + 8 * i, 8);
  return v;
}

/** One side of a ping-pong: the client's two channels and buffers. */
struct pp {
  struct role_env *e;
  void *tx, *rx, *out, *in;
  uint64_t n, errors;
};

/** One round trip: number the message, send it, wait for the echo. */
static inline int exchange(struct pp *p)
{
  const struct bench_subject *s = p->e->s;
  size_t len = p->e->c->size;
  put_word(p->out, 0, ++p->n);
  int rc = s->send(p->tx, p->out, len);
  if (rc == 0)
    rc = s->recv(p->rx, p->in, len);
  if (get_word(p->in, 0) != p->n)
    p->errors++;
  return rc;
}

struct bench_chan role_chan(const struct role_env *e, unsigned dir);
/** Log, raise the case's failure flag, return a negative errno. */
int role_failed(struct role_env *e, const char *what, int rc);
/** A payload buffer filled with the pattern (NULL if out of memory). */
void *role_buffer(size_t len);
void role_emit_latency(struct json *j, const char *key, const struct tool_hist *h);

/* Open sequences; `barrier`: also wait at the case's start barrier. */
int role_client_open(struct pp *p, bool barrier);
int role_server_open(struct role_env *e, void **tx, void **rx, bool barrier);
int role_producer_open(struct role_env *e, void **tx, bool barrier);
int role_consumer_open(struct role_env *e, void **rx, bool barrier);
/** Server side of `n` exchanges: receive, send the same bytes back. */
int role_echo(struct role_env *e, void *tx, void *rx, void *buf, uint64_t n);

/** Exit status of a role that measured fine but hung closing its transport
 * (the orchestrator keeps its results and notes it). */
#define ROLE_EXIT_CLOSE_HUNG 3
/** Call once the role's results are out: from now on the role exits with
 * ROLE_EXIT_CLOSE_HUNG if closing takes longer than 10 s. */
void role_closing(void);

/** The paired A/B workloads (roles_ab.c). */
int role_ab_run(const char *name, struct role_env *env);
/** The paired gather (roles_ab_gather.c). */
int role_ab_gather_run(const char *name, struct role_env *env);
/** The paired many-writer round trips (roles_ab_gather_rtt.c). */
int role_ab_gather_rtt_run(const char *name, struct role_env *env);

#endif /* MYELON_BENCH_ROLES_IMPL_H */
