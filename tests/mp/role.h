/**
 * @file role.h
 * @brief Internals of dmp_role (the multiprocess tests' helper executable):
 * its options, exit-code reporting and the two roles. See dmp_role.c.
 */
#ifndef MP_ROLE_H
#define MP_ROLE_H

#include <stdbool.h>
#include <stdint.h>

#include <disruptor_mp/disruptor_mp.h>

#include "mp_payload.h"
#include "support.h"

#define MS (INT64_C(1000000))
#define MAX_LEASED 4096 /* events peeked before one release (peek api) */

enum claim_mode { CLAIM_TIMEOUT, CLAIM_TRY, CLAIM_COPY, CLAIM_TRYCOPY };
enum read_api { API_PEEK, API_PEEKT, API_PROCESS, API_COPY };

struct opts {
  bool producer;
  enum dmp_backend backend;
  const char *name;
  int64_t timeout_ms;
  struct dmp_wait_strategy wait;
  const char *report_file; /* "key=value" lines written before exiting */
  const char *ready_file;  /* producer: after --ready-at events; consumer: before final wait */
  int64_t count;
  uint32_t slot;
  /* producer */
  uint64_t capacity;
  uint32_t align;
  uint32_t wait_consumers; /* cfg.wait_consumers */
  uint32_t rendezvous;     /* dmp_producer_wait_for_consumers() after create */
  char *wait_ids;          /* dmp_producer_wait_for_ids(), comma separated */
  const char *created_file;
  int64_t ready_at;
  int64_t delay_ms, hold_ms;
  int64_t pace_every, pace_us;
  uint32_t batch, publish_every;
  enum claim_mode claim;
  bool no_drain, no_wakeups;
  /* consumer */
  const char *id;
  int64_t first; /* expected first sequence; -1 = whatever the ring hands out */
  int64_t last;  /* stop after this sequence; -1 = after --count events */
  enum dmp_start start;
  bool durable, forget, expect_ownerdead, until_ownerdead;
  int64_t attach_timeout_ms; /* 0: plain dmp_consumer_attach() */
  int64_t ownerdead_wait_ms;
  int64_t slow_every, slow_us;
  int64_t settle_us; /* pause between attach and the first read */
  enum read_api api;
  const char *attach_file;
};

/** "[dmp_role <role> <name|id>]": the prefix of every message. */
extern const char *role_name;

/** Print "[role] message" with one write (children share stderr) and
 * return `code`. */
int fail_msg(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define FAIL(code, ...) return fail_msg((code), __VA_ARGS__)

int64_t remaining_ns(int64_t deadline);
void sleep_us(int64_t us);
/** Create an empty marker file (NULL: nothing). 0 or MP_EX_IO. */
int touch(const char *path);
/** Write "key=value" lines (NULL path: nothing). 0 or MP_EX_IO. */
int write_report(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** The roles: each returns the process exit code (enum mp_exit). */
int run_producer(const struct opts *o);
int run_consumer(const struct opts *o);

#endif /* MP_ROLE_H */
