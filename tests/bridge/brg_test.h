/* Helpers of the bridge tests (suite 'bridge'; brg_test.c): spawning the
 * tool and the roles (frm_role and brg_reader for framed rings, brg_raw
 * for raw ones) as real processes with bounded waits, reading their
 * status and reports, and inspecting rings as dmp-stat does. They assert
 * with criterion: called from a test only. */
#ifndef BRG_TEST_H
#define BRG_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FCAP 1024u
#define CAP_DEFAULT 64u
/* Ring capacity (frames, or slots) of A's and B's rings: 64 (64 KiB,
 * smaller than most "big" messages), or larger where a test needs every
 * message to fit the ring (an egress holds a message in A's ring until B
 * acknowledged it). */
extern uint32_t CAP;
#define CHILD_MS 90000
/* The rings' shape (test_bytes.c, the sweep): SHAPE_BYTES makes the framed
 * helpers use framed byte rings (MYELON_FRAME_BYTES, of bytes_ring_bytes()
 * bytes: the mixed and big profiles' 4 MiB messages fit one record) and the
 * raw helpers raw byte rings (DMP_RING_BYTES of RAW_RING_BYTES, records of
 * 16 .. RAW_RECORD_MAX bytes). Reset to SHAPE_SLOTS by the suites' .fini. */
enum brg_shape { SHAPE_SLOTS, SHAPE_BYTES };
extern enum brg_shape SHAPE;
#define RAW_RECORD_MAX 40000u
#define RAW_RING_BYTES 131072u
/* The framed byte ring frm_role creates for the mixed and big profiles
 * with CAP frames of FCAP bytes (frm_bytes_ring()). */
uint64_t bytes_ring_bytes(void);
/* Raw rings (brg_raw): slot size and type tag of A's and B's rings. */
#define RAW_SLOT 200u
#define RAW_TAG UINT64_C(4242424242)

/* An argv under construction. */
struct av {
  char *v[64];
  int n;
  char buf[64][256];
};

void av_add(struct av *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void av_tool(struct av *a, const char *out, const char *err);
pid_t spawn(struct av *a);

/* Framed rings: frm_role producer, brg_reader (reader_id: brg_reader --id,
 * for several readers on one ring; NULL: "reader"). */
pid_t reader_id(const char *ring, const char *id, const char *profile, uint64_t seed, int count, const char *report);
/* reader_id() with brg_reader --events FILE. */
pid_t reader_id_events(const char *ring, const char *id, const char *profile, uint64_t seed, int count,
                       const char *report, const char *events);
pid_t producer_ex(const char *ring, const char *profile, uint64_t seed, int count, int waitc, const char *ready,
                  int ready_at);
pid_t producer(const char *ring, const char *profile, uint64_t seed, int count);
pid_t reader_ex2(const char *ring, const char *profile, uint64_t seed, int count, const char *report,
                 const char *events, int end, int flags);
pid_t reader_ex(const char *ring, const char *profile, uint64_t seed, int count, const char *report,
                const char *events, int end);
pid_t reader(const char *ring, const char *profile, uint64_t seed, int count, const char *report);

/* Raw rings: brg_raw producer and reader (RAW_SLOT, RAW_TAG, CAP slots).
 * flags of the producer: 1 --mp (a multi-producer ring), 2 --abort-every=7
 * (tombstones). end and flags of the reader as reader_ex2()'s. */
pid_t raw_producer_ex(const char *ring, uint64_t seed, int count, int waitc, const char *ready, int ready_at,
                      int flags);
pid_t raw_producer(const char *ring, uint64_t seed, int count);
pid_t raw_reader_ex(const char *ring, uint64_t seed, int count, const char *report, const char *events, int end,
                    int flags);
pid_t raw_reader(const char *ring, uint64_t seed, int count, const char *report);
/* The ingress options of a raw ring like brg_raw's (NULL-terminated). */
extern const char *const raw_ingress_args[];

struct side {
  const char *out, *err;
  pid_t pid;
};

/* myelon-bridge ingress / egress; extra: NULL-terminated list of further
 * arguments. once: --once. */
struct side ingress(const char *ring, const char *ep, const char *const *extra);
struct side egress_mode(const char *ring, const char *ep, const char *const *extra, bool once);
struct side egress(const char *ring, const char *ep, const char *const *extra);
void stop(struct side *s);
void keygen(const char *prefix);

char *slurp(const char *path);
bool wait_for_text(const char *path, const char *text, int timeout_ms);
int free_port(void);
const char *ipc_ep(void);
const char *tcp_ep(void);
int64_t ring_position(const char *ring);
uint32_t ring_consumers(const char *ring);
long ingress_next(const struct side *in);
bool wait_applied(const struct side *in, long k, int ms);

/* brg_reader's and brg_raw's report fields. */
struct report {
  unsigned long received, dup, lost, bad, attaches;
};

struct report read_report(const char *path);
int64_t realtime_ms(void);
/* The end of a stream A -> B: waits (reader_ms, scaled) for B's reader `rd`
 * and asserts it exited 0 having read every one of `count` messages once,
 * in order and intact, attaching at least `min_attaches` times; then that
 * the producer `pr` and the egress `eg` exit 0 (bounded). */
void expect_stream_done(pid_t rd, int reader_ms, const char *report, int count, unsigned long min_attaches, pid_t pr,
                        const struct side *eg, const struct side *in);
/* Starts the egress of `ring` (eg_extra names its --state file) and kills
 * it (SIGKILL) with messages in flight, twice: once the ingress applied 30
 * messages, then 30 more, with the ingress stopped (SIGSTOP) for 300 ms + the
 * slack before each kill so the egress sent a window B never applied.
 * Returns a third egress, started with the same options and left running. */
struct side egress_killed_twice(const char *ring, const char *ep, const char *const *eg_extra, struct side *in);
int64_t first_ownerdead(const char *events, int64_t since_ms);
/* One refused handshake: A's ring (raw, or framed with `framed_a`; of
 * SHAPE), an ingress with `ing_extra`; the egress exits 1 naming the field
 * (`egress_says`), the ingress logs `ingress_says`, nothing reaches B's
 * ring, nothing stays on A's. */
void expect_refused(bool framed_a, const char *const *ing_extra, const char *egress_says, const char *ingress_says);
/* kill -9 the ingress three times mid-stream (each time after it applied at
 * least 40 messages itself), restarting it with its --state file, on a
 * stream of `count` "big" messages: B's reader (5 ms a message, so that
 * the stream outlasts the kills), which follows each new ring, counts
 * every message once. */
void ingress_killed_thrice(int count);

#endif
