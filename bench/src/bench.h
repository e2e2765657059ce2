/**
 * @file bench.h
 * @brief myelon-bench: shared types of the harness — the case description
 * passed to every process, the subject seam, clocks and small helpers.
 *
 * Process model. One orchestrator (`myelon-bench suite ...`) runs cases one
 * after the other. For each case it forks and re-executes itself
 * (/proc/self/exe) once per role — client and server for ping-pong, producer
 * and consumer(s) for streams — pins each child to its own core when the
 * host has the cores, and waits for them with a deadline. The measuring
 * child writes its result as a JSON object to a file that the orchestrator
 * then folds into run.json.
 *
 * Payload convention. Every message is `size` bytes. Bytes 0..7 hold a
 * nonzero 64-bit message number assigned by the harness (< 2^62); for
 * one-way latency (broadcast, wake-up) bytes 8..15 hold the sender's tick
 * stamp when size >= 16. The rest is a fixed pattern the sender copies in.
 * Every subject copies the payload in on send and out on receive, so the
 * work per message is the same for a socket and for a shared ring. The
 * typed subjects (subj_typed.c) carry these bytes inside a msgpack record
 * whose encoded length is exactly `size` (so they need size >= 33).
 */
#ifndef MYELON_BENCH_H
#define MYELON_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tool_clock.h"

#define BENCH_NAME_MAX 24
#define BENCH_PATH_MAX 256
#define BENCH_MAX_RX 8
#define BENCH_STEP_TIMEOUT_NS (INT64_C(15) * 1000000000) /* one rendezvous step */

/* ---- clock: CPU ticks (TSC on x86-64), converted to ns at the end ------ */

uint64_t bench_ticks(void);
/** Nanoseconds per tick. Set by bench_clock_init() or bench_clock_set(). */
extern double bench_ns_per_tick;
/** Calibrate ticks against CLOCK_MONOTONIC (about 100 ms). */
void bench_clock_init(void);
void bench_clock_set(double ns_per_tick);
/** CLOCK_MONOTONIC ns and a plain sleep: the tools' clock (tool_clock.h). */
static inline int64_t bench_mono_ns(void)
{
  return tool_now_ns();
}
static inline void bench_sleep_ns(int64_t ns)
{
  tool_sleep_ns(ns);
}
/** Cost of one bench_ticks() read, in ns (median of a few tight loops). */
double bench_clock_cost_ns(void);

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define bench_ticks_inline() __rdtsc()
static inline void bench_relax(void) { __builtin_ia32_pause(); }
#else
#define bench_ticks_inline() bench_ticks()
static inline void bench_relax(void) {}
#endif

/* ---- what a case asks for ------------------------------------------------ */

enum bench_workload {
  BENCH_WL_PINGPONG = 0, /* closed-loop RTT, two processes, two channels */
  BENCH_WL_FIXED_RATE,   /* ping-pong on an absolute schedule, CO-corrected */
  BENCH_WL_STREAM,       /* one-way 1 -> 1 throughput */
  BENCH_WL_BROADCAST,    /* one-way 1 -> N, every receiver sees every message */
  BENCH_WL_WAKE,         /* idle receiver CPU%, then wake-up latency per message */
  BENCH_WL_AB_PINGPONG,  /* ping-pong of `subject` and `pair` in alternating blocks */
  BENCH_WL_AB_STREAM,    /* stream of `subject` and `pair` in alternating blocks */
  BENCH_WL_GATHER,       /* one-way N -> 1: `writers` producers into one receiver, aggregate rate */
  BENCH_WL_AB_GATHER,    /* gather of `subject` and stream (or gather) of `pair` in alternating blocks */
  BENCH_WL_AB_GATHER_RTT, /* N writers' requests -> 1 responder, a reply channel per writer; `subject` and
                             `pair` in alternating blocks (roles_ab_gather_rtt.c) */
  BENCH_WL_COUNT
};

enum bench_wait { BENCH_WAIT_SPIN = 0, BENCH_WAIT_YIELD, BENCH_WAIT_BLOCK, BENCH_WAIT_COUNT };

const char *bench_workload_name(enum bench_workload w);
/** Does a case of workload `w` have several writers on one channel (gather,
 * ab_gather, and ab_gather_rtt's requests)? Subjects that open different
 * sockets for it ask this (bench_chan_gathers() for one channel). */
static inline bool bench_workload_gathers(enum bench_workload w)
{
  return w == BENCH_WL_GATHER || w == BENCH_WL_AB_GATHER || w == BENCH_WL_AB_GATHER_RTT;
}
const char *bench_wait_name(enum bench_wait w);
int bench_wait_parse(const char *s, enum bench_wait *out);
int bench_workload_parse(const char *s, enum bench_workload *out);

/** One case: everything every process of the case needs to know. It travels
 * to the children on their command line (bench_case_to_argv). */
struct bench_case {
  enum bench_workload workload;
  char subject[32];
  char pair[32];      /* ab_* workloads: subject B (A is `subject`) */
  uint64_t size;      /* payload bytes */
  uint64_t count;     /* measured messages */
  uint64_t warmup;    /* unmeasured messages sent first */
  uint64_t capacity;  /* ring slots / queue depth where the subject has one */
  uint32_t receivers; /* broadcast consumers (1 otherwise) */
  uint32_t writers;   /* gather: producer processes (1 otherwise) */
  enum bench_wait wait;
  uint64_t rate;      /* fixed-rate: messages per second */
  int64_t idle_ns;    /* wake: idle window before the first message */
  int64_t gap_ns;     /* wake: pause between messages */
  uint32_t rep;       /* repetition of the same case (the report takes medians) */
  char series[16];    /* a group of cases run back to back (e.g. "waits"); "" = main */
  char tag[BENCH_NAME_MAX]; /* unique per case: base of every name */
  char tmpdir[BENCH_PATH_MAX]; /* private dir for sockets, fifos, files */
};

/** Which channel of a case, as seen by a subject. */
struct bench_chan {
  const struct bench_case *c;
  unsigned dir;       /* 0: client -> server (ping, stream); 1: server -> client (pong);
                         ab_gather_rtt: 1 + w, the responder -> writer w (one channel per writer) */
  unsigned writer;    /* gather: which producer (0 creates the channel, the others join it) */
  char name[BENCH_NAME_MAX + 8]; /* tag + direction, a valid segment name */
};

/** Does channel `ch` have several writers? In ab_gather_rtt only the
 * requests (dir 0) do; each reply channel (dir 1 + w) has one writer and
 * one reader, as a ping-pong's pong. */
static inline bool bench_chan_gathers(const struct bench_chan *ch)
{
  return bench_workload_gathers(ch->c->workload) && ch->dir == 0;
}

/* ---- the subject seam ---------------------------------------------------
 *
 * A subject is a transport under test. It implements one direction of
 * message passing; the workloads build ping-pong from two channels.
 *
 * Contract of every operation: blocking (busy-spinning where the transport
 * allows, with `c->wait` where the subject supports wait strategies),
 * bounded only by the orchestrator's case deadline, returning 0 or a
 * negative errno. `send` copies `len` bytes in and publishes them; `recv`
 * waits for the next message and copies `len` bytes out. `tx_ready` waits
 * (bounded) until `n` receivers are connected, so nothing is lost at
 * start-up by transports that drop messages nobody receives.
 *
 * Adding a subject: write subj_<name>.c with one `struct bench_subject`,
 * list it in subjects.c, and keep the payload convention above — a
 * zero-copy layer still writes the payload on send and reads it on receive,
 * so its numbers stay comparable (subj_framed.c and subj_typed.c do so for
 * myelon's Layers 1-3).
 */
enum bench_family { BENCH_FAMILY_FLOOR = 0, BENCH_FAMILY_OURS, BENCH_FAMILY_COMPETITOR };

/** Which layer of ours a subject measures (BENCH_LAYER_RAW for everything
 * that is not ours). The report groups the layer figures by it. */
enum bench_layer { BENCH_LAYER_RAW = 0, BENCH_LAYER_FRAMED, BENCH_LAYER_TYPED, BENCH_LAYER_VIEW };

#define BENCH_CAP_BROADCAST 0x1u    /* one tx, several rx, each sees every message */
#define BENCH_CAP_WAIT 0x2u         /* honours c->wait (spin, yield, block) */
#define BENCH_CAP_OPTIN 0x4u        /* diagnostic: runs only when named with --only */
#define BENCH_CAP_AB_ONLY 0x8u      /* selected by default, but only planned in paired A/B cases */
#define BENCH_CAP_QUICK_SHORT 0x10u /* a variant: the quick suite runs it on a short ladder only */
#define BENCH_CAP_GATHER 0x20u      /* N writers, one receiver (tx_open with ch->writer > 0 joins) */
#define BENCH_CAP_HOSTS 0x40u       /* across two hosts (hosts.h): client/producer on A, server/consumer on B */
#define BENCH_CAP_HOSTS_LOCAL 0x80u /* needs the two hosts, every role on A (hosts.h) */

struct bench_subject {
  const char *name;      /* e.g. "dmp-shm" */
  const char *transport; /* what it runs over, for the report */
  enum bench_family family;
  enum bench_layer layer;
  unsigned caps;
  uint64_t max_capacity; /* queue depth limit of the transport, 0 = none */
  uint64_t min_size;     /* smallest payload it can carry, 0 = any (suites skip smaller sizes) */
  /** Orchestrator, once per run: can this subject run here? 0, or -1 with
   * a reason in `why` (the subject's cases are then skipped). May be NULL. */
  int (*probe)(char *why, size_t n);
  int (*tx_open)(const struct bench_chan *ch, void **tx);
  int (*tx_ready)(void *tx, unsigned n, int64_t timeout_ns);
  int (*send)(void *tx, const void *buf, size_t len);
  /** Publish whatever `send` has collected (a batching subject); called at
   * the end of a stream and of every A/B block. May be NULL. */
  int (*flush)(void *tx);
  void (*tx_close)(void *tx);
  int (*rx_open)(const struct bench_chan *ch, unsigned idx, void **rx);
  int (*recv)(void *rx, void *buf, size_t len);
  void (*rx_close)(void *rx);
  /** Orchestrator, after every case: remove whatever names the case could
   * have left behind (a killed child never closes). May be NULL. */
  void (*cleanup)(const struct bench_case *c);
};

const struct bench_subject *bench_subject_find(const char *name);
/** NULL-terminated list of the subjects compiled in. */
const struct bench_subject *const *bench_subjects(void);

/* Per-subject definitions (subjects.c collects them). */
extern const struct bench_subject bench_subj_floor;
extern const struct bench_subject bench_subj_floor2;
extern const struct bench_subject bench_subj_dmp_shm;
extern const struct bench_subject bench_subj_dmp_mmap;
extern const struct bench_subject bench_subj_dmp_poll;
extern const struct bench_subject bench_subj_dmp_lean;
extern const struct bench_subject bench_subj_dmp_nocnt;
extern const struct bench_subject bench_subj_dmp_mp;
extern const struct bench_subject bench_subj_dmp_mark;
extern const struct bench_subject bench_subj_dmp_markarr;
extern const struct bench_subject bench_subj_dmp_markhyb;
extern const struct bench_subject bench_subj_dmp_bytes;
extern const struct bench_subject bench_subj_framed_shm;
extern const struct bench_subject bench_subj_framed_bytes;
extern const struct bench_subject bench_subj_framed_mmap;
extern const struct bench_subject bench_subj_framed_shm_al;
extern const struct bench_subject bench_subj_framed_mmap_al;
extern const struct bench_subject bench_subj_framed_frag;
extern const struct bench_subject bench_subj_framed_poll;
extern const struct bench_subject bench_subj_framed_batch;
extern const struct bench_subject bench_subj_framed_bytes_batch;
extern const struct bench_subject bench_subj_msgpack_shm;
extern const struct bench_subject bench_subj_msgpack_mmap;
extern const struct bench_subject bench_subj_view_shm;
extern const struct bench_subject bench_subj_view_mmap;
extern const struct bench_subject bench_subj_view_tree_shm;
extern const struct bench_subject bench_subj_view_lazy_shm;
extern const struct bench_subject bench_subj_msgpack_shm_batch;
extern const struct bench_subject bench_subj_view_shm_batch;
extern const struct bench_subject bench_subj_uds;
extern const struct bench_subject bench_subj_pipe;
extern const struct bench_subject bench_subj_zmq;
extern const struct bench_subject bench_subj_nng;
extern const struct bench_subject bench_subj_iox;
extern const struct bench_subject bench_subj_bridge_curve;
extern const struct bench_subject bench_subj_bridge_tcp;
extern const struct bench_subject bench_subj_framed_egress;
extern const struct bench_subject bench_subj_zmq_curve;
extern const struct bench_subject bench_subj_zmq_tcp;
extern const struct bench_subject bench_subj_nng_tcp;

/* ---- helpers -------------------------------------------------------------- */

/** Print a message to stderr prefixed with the process role. */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern const char *bench_role_name;
/** Fill `buf` with the payload pattern. */
void bench_fill(void *buf, size_t len);
/** Copy `len` bytes as libdisruptor_mp copies a byte ring's record: its
 * exported dmp_bytes_copy() (bytes.h; REP MOVSB from 1 MiB on where the
 * CPU has ERMS, glibc's memcpy below). The floors copy with it, so that no
 * subject's copy routine is faster than the floor's. */
void bench_copy(void *dst, const void *src, size_t len);

/** qsort() comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);
/** The median of v[0..n) (0 for n 0); sorts v in place. */
double bench_median(double *v, unsigned n);
/** Messages per second of a block of `n` messages that ran from tick t0
 * to tick t1 (0 when the ticks say nothing). */
double bench_block_rate(uint64_t n, uint64_t t0, uint64_t t1);
struct json;
/** The most blocks bench_emit_block_pairs() takes (more are ignored). */
#define BENCH_PAIR_BLOCKS_MAX 128u
/** Emit a paired case's blocks into the open JSON object `j`: "pairs"
 * (each block's rate of subject a and of b), "a_UNIT_per_s" /
 * "b_UNIT_per_s" (their medians), "ratio_a_over_b" (the median of the
 * per-block ratios) with "ratio_min" / "ratio_max", and each subject's
 * 90th-percentile block ("a_p90_UNIT_per_s", "b_p90_UNIT_per_s",
 * "ratio_p90": the least disturbed tenth left out, as a maximum is one
 * lucky block). `unit` is "msgs" or "rts". */
void bench_emit_block_pairs(struct json *j, const char *unit, const double *a, const double *b, unsigned nb);
/** A deadline `ns` from now (monotonic ns); bench_mono_ns() >= it when passed. */
static inline int64_t bench_deadline(int64_t ns) { return bench_mono_ns() + ns; }

/** Create POSIX shm `name` (O_EXCL, 0600) of `len` bytes, mapped shared and
 * populated: 0 and `*map`, or -errno with nothing left behind (the floors). */
int bench_shm_create(const char *name, size_t len, uint8_t **map);
/** Map existing POSIX shm `name` once it exists with at least `len` bytes,
 * retrying every 200 us until `deadline` (bench_mono_ns()): 0 and `*map`,
 * -ETIMEDOUT, or -errno of the mmap. */
int bench_shm_open_wait(const char *name, size_t len, int64_t deadline, uint8_t **map);
/** Pin the calling process to `core` (no-op when core < 0). */
int bench_pin(int core);
int bench_ncpus(void);

#endif /* MYELON_BENCH_H */
