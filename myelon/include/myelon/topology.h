/**
 * @file topology.h
 * @brief A fixed topology: one scheduler broadcasting steps to N workers
 * over one framed ring, each worker answering on its own response ring,
 * with rendezvous and a gather that names late and dead workers.
 *
 *                       request ring (broadcast, framed)
 *     scheduler  ──────────────────────────────────────►  worker 0 .. N-1
 *     (producer)                                          (consumers "w0".."w<N-1>")
 *         ▲
 *         └──────  response ring i (framed)  ◄──────────  worker i (producer)
 *                  (consumer "s")
 *
 * Or, with `responses = MYELON_RESPONSES_ONE_RING`, every worker answers
 * on one shared ring:
 *
 *     scheduler  ◄──────  gather ring (framed, multi-producer)  ◄──────  worker 0 .. N-1
 *     (consumer "s")                                              (producers)
 *
 * Ring names come from a transport layout (transport_layout.h): the
 * request ring is the layout's request ring, worker i's response ring is the
 * layout's response ring of rank i, the one-ring shape's ring is the
 * layout's gather ring (myelon_layout_gather_name()). Every process builds the same
 * struct myelon_topology_config (same label, prefix, workers, depths,
 * backend, frame settings) and so finds the same rings.
 *
 * Start-up, in any order (attaches retry until the ring exists, bounded):
 *   scheduler: myelon_scheduler_create()      creates the request ring
 *              myelon_scheduler_rendezvous()  waits for "w0".."w<N-1>" on the
 *                                             ring's consumer table, then attaches
 *                                             to every response ring; a timeout
 *                                             is an error naming the missing workers
 *   worker i:  myelon_worker_attach_timeout(i) creates response ring i, then
 *                                             attaches to the request ring as "w<i>"
 * The scheduler refuses to broadcast before a successful rendezvous, so no
 * worker can miss a step.
 *
 * One response ring or N (`responses` in the configuration). With
 * MYELON_RESPONSES_PER_WORKER (the default) each worker creates its own
 * response ring, as above. With MYELON_RESPONSES_ONE_RING the *scheduler*
 * creates one multi-producer framed ring (DMP_RING_MULTI_PRODUCER,
 * disruptor_mp/producer.h, "Many producers"), the gather ring, in
 * myelon_scheduler_create(), before the request ring, and is its first
 * producer (it never publishes there: its entry keeps the ring alive while
 * workers come and go) and its consumer "s"; each worker joins it as a
 * producer (myelon_producer_attach()) in myelon_worker_attach(). The
 * worker API is the same on both shapes: a worker cannot tell them apart
 * except by its configuration. What each costs:
 *  - N rings: no contention between workers (each claims on its own
 *    ring); the gather polls up to N rings, and parks on one at a time.
 *  - One ring: the gather reads one ring (one consumer polls once and
 *    parks once, whoever answers); every answer claims with a CAS on the
 *    ring's shared claim counter and moves its shared cursor (cache lines
 *    bounce between workers, disruptor_mp/producer.h), answers interleave,
 *    and a message may take at most the ring's depth in frames (a longer
 *    one is refused with -MYELON_E_TOOBIG; the default depth of 256
 *    frames of 1024 bytes holds 256 KiB). Answers the gather reads ahead
 *    of the step it gathers (a later step's) are copied out of the ring
 *    (the ring cannot stay leased for one worker while the others are
 *    read), up to MYELON_GATHER_HELD_MAX per worker (more are dropped and
 *    counted as `stale`). A worker that is stopped (SIGSTOP) between the
 *    claim and the publish of an answer holds back every answer claimed
 *    after it: those workers show as late until it resumes. A worker that
 *    dies there leaves a hole that the gather's wait publishes as a
 *    *tombstone* (within the ring's liveness period, 50 ms by default)
 *    and steps over; the worker is reported dead. The ring does not tell
 *    producers apart: the envelope's worker index is trusted (a message
 *    naming another worker counts as that worker's; on N rings it is
 *    `malformed`).
 * Everything else holds on both: answers per step, stale answers dropped,
 * `skipped` kept for the next gather, late vs dead named, a restarted
 * worker re-attaching (a new producer entry on the gather ring), and no
 * ring left behind by myelon_scheduler_close() even when workers died (the
 * last producer to leave the gather ring removes it: the scheduler's
 * close, or a worker's close after the scheduler is gone).
 *
 * A step: the scheduler broadcasts a request carrying a step number, each
 * worker receives it and answers with the same step number, the scheduler
 * gathers all N answers (myelon_scheduler_gather()). Liveness: a worker is
 * *dead* when the kernel released its locks (its process exited or
 * crashed): the OFD lock of its consumer entry on the request ring, or of
 * its response ring's producer (one ring: its consumer entry "w<i>" on the
 * request ring, held by the same process as its producer entry on the
 * gather ring; an entry that is no longer attached counts as gone too). A
 * stopped or slow worker is *late*, never dead. Every wait is bounded by
 * the caller's timeout.
 *
 * Wire format. Every message of a topology is a Layer 1 framed message
 * (frame.h; its kind byte is the application's) whose bytes start with a
 * 16-byte step envelope, native endianness:
 *
 *   offset size field
 *   0      4    magic   MYELON_STEP_REQUEST ("MYRQ") or MYELON_STEP_RESPONSE ("MYRS")
 *   4      4    worker  request: MYELON_STEP_ALL; response: the worker's index
 *   8      8    step    the step number, chosen by the scheduler
 *   16     ...  body    the application's bytes (msgpack, a view struct, ...)
 *
 * The envelope keeps the body's alignment: with MYELON_FRAME_ALIGNED a
 * single-frame body is 16-byte aligned in the slot.
 *
 * Byte rings. With `format` MYELON_FRAME_BYTES (and `ring_bytes`) every
 * ring of the session, the request ring and each worker's response ring,
 * is a byte ring (framed.h, frame.h): every step message is one record,
 * never cut into frames, written with one copy (or in place: claims and
 * typed values) and read in place, 16-byte aligned; a message takes up to
 * half the ring less MYELON_BYTES_OVERHEAD, envelope included. Everything
 * above holds on them as on slot rings (rendezvous, gathers, late and
 * dead workers, restarts, cleanup). Per-worker response rings only: one
 * gather ring on byte rings is not supported in this version (untested),
 * so MYELON_RESPONSES_ONE_RING is refused (-MYELON_E_FORMAT). The shape is
 * in each ring's segment: a worker of another format than the
 * scheduler's is refused (-MYELON_E_FORMAT, the detail names both shapes),
 * and so is a response ring of another format at the rendezvous.
 *
 * Typed messages: *_value() functions encode a value with a Layer 2 codec
 * (codec.h) straight into the ring slot behind the envelope when it fits in
 * one frame; receivers decode the body with myelon_codec_decode() or view
 * it in place with a Layer 3 view codec (view.h). The framed handles are
 * reachable too (myelon_scheduler_requests(), ...), for a caller that
 * manages its own envelope.
 *
 * Handles are process-local and used from one thread at a time.
 */
#ifndef MYELON_TOPOLOGY_H
#define MYELON_TOPOLOGY_H

#include <assert.h> /* static_assert in C11 (a keyword in C++) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/wait.h>
#include <myelon/export.h>
#include <myelon/framed.h>
#include <myelon/transport_layout.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Worker count                                                           */
/* ---------------------------------------------------------------------- */

#define MYELON_WORKERS_MIN 2u  /**< like the original (2..=8) ... */
/* MYELON_WORKERS_MAX (64, transport_layout.h): a gather reports workers as a 64-bit mask */

/** A validated worker count: build it with myelon_workers_make() only. */
struct myelon_workers {
  uint32_t n;
};

/**
 * Validate `n` as a worker count.
 * @return 0 and `*out`; -EINVAL (NULL); -MYELON_E_TOPOLOGY ("worker count
 *         9 is not in 2..64").
 */
MYELON_API int myelon_workers_make(uint32_t n, struct myelon_workers *out);

/**
 * Check a worker index against a count (an unvalidated count fails too).
 * @return 0; -MYELON_E_TOPOLOGY ("worker index 8 is out of range for 8
 *         workers (0..7)").
 */
MYELON_API int myelon_workers_check_index(struct myelon_workers w, uint32_t index);

/**
 * Deterministic id of worker `index`: "w<index>" (its consumer id on the
 * request ring; also myelon_layout_worker_id()).
 * @return its length; -MYELON_E_TOPOLOGY (bad index); -EINVAL; -ENOSPC
 *         (needs MYELON_LAYOUT_ID_MAX bytes).
 */
MYELON_API int myelon_workers_id(struct myelon_workers w, uint32_t index, char *out, size_t outlen);

/** Bitmask with one bit per worker (bit i = worker i); 0 for an invalid count. */
MYELON_API uint64_t myelon_workers_mask(struct myelon_workers w);

/* ---------------------------------------------------------------------- */
/* Configuration and the step envelope                                    */
/* ---------------------------------------------------------------------- */

#define MYELON_STEP_REQUEST 0x5152594du  /**< "MYRQ" as little-endian bytes */
#define MYELON_STEP_RESPONSE 0x5352594du /**< "MYRS" */
#define MYELON_STEP_ALL UINT32_MAX       /**< worker field of a broadcast request */
#define MYELON_STEP_HEADER 16u           /**< envelope bytes in front of every body */

/** The step envelope (wire format above). */
struct myelon_step_header {
  uint32_t magic;
  uint32_t worker;
  uint64_t step;
};
static_assert(sizeof(struct myelon_step_header) == MYELON_STEP_HEADER, "step envelope is 16 bytes");

#define MYELON_TOPOLOGY_DEFAULT_RENDEZVOUS_NS INT64_C(15000000000) /**< the original's 15 s */

/** Where workers answer (see "One response ring or N" above). */
enum myelon_responses {
  MYELON_RESPONSES_PER_WORKER = 0, /**< one response ring per worker, created by the worker (default) */
  MYELON_RESPONSES_ONE_RING = 1,   /**< one multi-producer gather ring, created by the scheduler */
};

/** One ring: answers to later steps a gather keeps per worker (copied out
 * of the ring) for the gathers of those steps; more are dropped (`stale`). */
#define MYELON_GATHER_HELD_MAX 16u

struct myelon_topology_config {
  /** Names, depths and backend (transport_layout.h): label required;
   *  `layout.workers` must be 0 (taken from `workers`) or equal to it. */
  struct myelon_layout_config layout;
  struct myelon_workers workers;   /**< required: myelon_workers_make() */
  bool no_responses;               /**< broadcast only, no response rings (the original's shape) */
  enum myelon_frame_format format; /**< every ring; default MYELON_FRAME_COMPACT (0);
                                        MYELON_FRAME_BYTES: byte rings of `ring_bytes` ("Byte rings" above) */
  uint32_t frame_capacity;         /**< payload bytes per frame; default 1024 (not used on byte rings) */
  size_t max_message;              /**< largest body + MYELON_STEP_HEADER; default 16 MiB (byte
                                        rings: at most half the ring less MYELON_BYTES_OVERHEAD) */
  struct dmp_wait_strategy wait;   /**< every ring, both sides; default DMP_WAIT_BLOCK (or DMP_WAIT) */
  /** MYELON_RESPONSES_PER_WORKER (0, default) or MYELON_RESPONSES_ONE_RING;
   * every process of a session must use the same (not with `no_responses`). */
  enum myelon_responses responses;
  uint32_t reserved32;  /**< zero */
  /** With `format` MYELON_FRAME_BYTES: the size in bytes of every ring of
   * the session (request and response rings; a power of two, see framed.h
   * `ring_bytes`); 0 = MYELON_DEFAULT_RING_BYTES. The layout's depths are
   * not used then. Must be 0 with the slot formats. Every process of a
   * session must use the same. */
  uint64_t ring_bytes;
  uint64_t reserved[6]; /**< zero: room for later fields (disruptor_mp/config.h, "Growing a configuration") */
};

/** Defaults everywhere but the two fields that name a session, required
 * afterwards: `layout.label` and `workers` (myelon_workers_make()).
 * `cfg` must not be NULL. */
MYELON_API void myelon_topology_config_init(struct myelon_topology_config *cfg);

/** A received step message: a request (worker side) or a response
 * (scheduler side). `data` is valid until the next receive or release on
 * the same ring. */
struct myelon_step_msg {
  uint64_t step;
  uint32_t worker;   /**< response: who answered; request: the receiving worker */
  uint8_t kind;      /**< the framed message's kind */
  const void *data;  /**< the body (after the envelope) */
  size_t len;        /**< body bytes */
  bool zero_copy;    /**< `data` points into the ring slot */
};

/* ---------------------------------------------------------------------- */
/* Scheduler                                                              */
/* ---------------------------------------------------------------------- */

struct myelon_scheduler;

/**
 * Validate `cfg`, derive the layout and create the request ring (its
 * consumer table has exactly one entry per worker); with
 * MYELON_RESPONSES_ONE_RING first the gather ring (a multi-producer ring
 * of `layout.response_depth` frames, a producer table of 2N + 1 entries,
 * the scheduler attached as its consumer "s").
 * Does not wait.
 * @return 0 and `*out`; -EINVAL (NULL); -MYELON_E_TOPOLOGY (bad worker
 *         count, layout or worker mismatch: detail names the field);
 *         -MYELON_E_FORMAT (MYELON_RESPONSES_ONE_RING with
 *         MYELON_FRAME_BYTES, or a bad format);
 *         errors of myelon_producer_create() (-DMP_E_INUSE: a live
 *         scheduler owns this session's request ring; one ring: or live
 *         workers of an earlier scheduler still hold its gather ring;
 *         -DMP_E_BADCONFIG: a `ring_bytes` Layer 0 refuses); -ENOMEM.
 */
MYELON_API int myelon_scheduler_create(const struct myelon_topology_config *cfg, struct myelon_scheduler **out);

/**
 * Rendezvous: wait until every worker "w0".."w<N-1>" is attached to the
 * request ring and alive, then attach to every response ring (consumer
 * "s", from the oldest event). Blocking, at most `timeout_ns` in all
 * (DMP_FOREVER: no deadline). May be called again after a failure, and
 * after a worker restarted: a restarted worker takes its id over on the
 * request ring (resuming after the last step it released) and the
 * scheduler re-attaches to its new response ring.
 * @return 0; -ETIMEDOUT: the detail names every missing worker ("2 of 4
 *         workers not attached to '/my...p' after 1000 ms: w1, w3"), or
 *         the worker whose response ring did not appear;
 *         -DMP_E_OWNERDEAD: a worker attached and died (named);
 *         -MYELON_E_FORMAT: a response ring of another format (byte ring
 *         vs slots, named); errors of myelon_consumer_attach() for a
 *         response ring.
 */
MYELON_API int myelon_scheduler_rendezvous(struct myelon_scheduler *s, int64_t timeout_ns);

/** Detach from the response rings (removing those whose worker died:
 * dmp_ring_gc()), then close and remove the request ring; workers see
 * -DMP_E_OWNERDEAD once they have read everything. One ring: close and
 * remove the gather ring too (its creator; workers still joined keep
 * their mapping until their close). NULL ok. */
MYELON_API void myelon_scheduler_close(struct myelon_scheduler *s);

/**
 * Broadcast step `step`'s request: envelope + `len` body bytes, frame kind
 * `kind`, waiting up to `timeout_ns` for ring space (DMP_FOREVER: none).
 * A body that fits in one frame is written in place (one copy); on a
 * byte ring every body is.
 * @return 0; -ETIMEDOUT (the ring stayed full: the detail names the
 *         workers holding it back); -DMP_E_OWNERDEAD (one of those is
 *         dead, named); -MYELON_E_TOPOLOGY (no successful rendezvous yet);
 *         -MYELON_E_TOOBIG; -ENOMEM; -EINVAL.
 */
MYELON_API int myelon_scheduler_broadcast(struct myelon_scheduler *s, uint64_t step, const void *data, size_t len,
                                          uint8_t kind, int64_t timeout_ns);

struct myelon_codec;

/**
 * Typed broadcast: encode `value` with `codec` (codec.h) as the body.
 * Encoded straight into the ring slot when the codec can tell the size and
 * it fits in one frame; otherwise through a reusable scheduler buffer.
 * @return as myelon_scheduler_broadcast(), or -MYELON_E_CODEC (nothing
 *         published).
 */
MYELON_API int myelon_scheduler_broadcast_value(struct myelon_scheduler *s, uint64_t step,
                                                const struct myelon_codec *codec, const void *value, uint8_t kind,
                                                int64_t timeout_ns);

/**
 * Zero-copy broadcast, step 1: room for a body of up to `max_len` bytes
 * (<= frame capacity - MYELON_STEP_HEADER) in one frame, waiting up to
 * `timeout_ns`. Write the body at `*body`, then myelon_scheduler_commit()
 * (or myelon_scheduler_abort() to send nothing). On a byte ring any body
 * up to the largest message, and the record keeps `max_len` bytes
 * whatever is committed (framed.h, myelon_producer_claim()).
 * @return 0; -EINVAL (`max_len` above one frame, or a claim already open);
 *         -MYELON_E_TOOBIG (above max_message: on a byte ring, the
 *         ring's largest); otherwise as myelon_scheduler_broadcast().
 */
MYELON_API int myelon_scheduler_claim(struct myelon_scheduler *s, size_t max_len, void **body, int64_t timeout_ns);

/** Step 2: publish the claimed body (`len` <= max_len) as step `step`. */
MYELON_API int myelon_scheduler_commit(struct myelon_scheduler *s, uint64_t step, size_t len, uint8_t kind);

/** Step 2, instead of myelon_scheduler_commit(): drop the open claim;
 * workers see nothing of it (myelon_producer_abort()).
 * @return 0; -EINVAL (NULL, or no claim open: nothing changes). */
MYELON_API int myelon_scheduler_abort(struct myelon_scheduler *s);

/** What a gather saw. Worker sets are bitmasks (bit i = worker i). */
struct myelon_gather {
  uint64_t answered;  /**< answered this step (delivered to the callback) */
  uint64_t dead;      /**< found dead before answering */
  uint64_t late;      /**< alive, no answer by the deadline */
  uint64_t skipped;   /**< answered a *later* step first (kept for the next gather) */
  uint32_t stale;     /**< answers to earlier steps, dropped (one ring: also those beyond MYELON_GATHER_HELD_MAX) */
  uint32_t malformed; /**< messages without a valid envelope or framing, dropped */
};

/** Called once per answer; `resp` (and its body) is valid during the call.
 * Return 0 to go on, nonzero to stop the gather (-ECANCELED). */
typedef int (*myelon_response_fn)(const struct myelon_step_msg *resp, void *user);

/**
 * Gather every worker's answer to step `step`, in arrival order, waiting
 * up to `timeout_ns` in all (DMP_FOREVER: until each worker answers or is
 * dead). Answers to earlier steps are dropped (`stale`), so a gather can
 * follow one that timed out. `fn` may be NULL; `out` may be NULL.
 * Blocking: parks on one pending worker's ring at a time (one ring: on
 * the gather ring), checking the others' liveness every few milliseconds
 * (5 ms). One ring: a worker found gone is reported dead once the gather
 * has read everything claimed on the ring up to that moment (so an answer
 * it published before it died still counts), or at the deadline, and
 * messages of workers already settled are kept for the next gather (as
 * their rings keep them on the N-ring shape). The check's cadence is
 * kept across calls: a caller that gathers with short timeouts, or polls
 * with 0, still learns of a dead worker within a few calls' worth of those
 * milliseconds.
 * @return 0 (all answered); -DMP_E_OWNERDEAD (some worker is dead);
 *         else -ETIMEDOUT (some worker is late); else -MYELON_E_TOPOLOGY
 *         (some worker skipped this step). The detail names them:
 *         "step 12: dead: w1; late: w3 (no answer after 500 ms)".
 *         -ECANCELED (`fn` stopped it); -MYELON_E_TOPOLOGY also without
 *         response rings or rendezvous; -ENOMEM (one ring: an answer to a
 *         later step could not be copied to be held; it is lost); -EINVAL.
 */
MYELON_API int myelon_scheduler_gather(struct myelon_scheduler *s, uint64_t step, int64_t timeout_ns,
                                       myelon_response_fn fn, struct myelon_gather *out, void *user);

/** Liveness snapshot of the workers (bitmasks). */
struct myelon_workers_status {
  uint64_t attached; /**< has an ACTIVE entry on the request ring */
  uint64_t dead;     /**< attached entry whose holder is gone, or response ring producer gone
                          (one ring: or, after a rendezvous, no longer attached) */
  uint64_t reserved[4]; /**< zeroed by the library: room for later fields (ABI 0.1 keeps this size) */
};

/** Read the request ring's consumer table and the response rings (cold:
 * a few system calls per worker). @return 0; -EINVAL. */
MYELON_API int myelon_scheduler_status(struct myelon_scheduler *s, struct myelon_workers_status *out);

/** The derived layout (names, depths, backend). */
MYELON_API const struct myelon_layout *myelon_scheduler_layout(const struct myelon_scheduler *s);

/** The worker count. */
MYELON_API struct myelon_workers myelon_scheduler_workers(const struct myelon_scheduler *s);

/** The framed producer of the request ring. */
MYELON_API struct myelon_producer *myelon_scheduler_requests(struct myelon_scheduler *s);

/** The framed consumer of worker `index`'s response ring; NULL before the
 * rendezvous, without response rings or for a bad index. One ring: the
 * gather ring's consumer for every valid index (from create on). */
MYELON_API struct myelon_consumer *myelon_scheduler_responses(struct myelon_scheduler *s, uint32_t index);

/* ---------------------------------------------------------------------- */
/* Worker                                                                 */
/* ---------------------------------------------------------------------- */

struct myelon_worker;

/**
 * Become worker `index`: create its response ring (unless no_responses;
 * one ring: join the scheduler's gather ring as a producer), then attach
 * to the request ring as "w<index>" - one attempt, as
 * myelon_consumer_attach(): the scheduler must have created the rings.
 * Does not wait. A failed attach leaves no response ring behind.
 * @return 0 and `*out`; -EINVAL; -MYELON_E_TOPOLOGY (bad configuration or
 *         index, named); -MYELON_E_FORMAT (the request ring is a byte
 *         ring and `cfg` says slots, or the other way round: the detail
 *         names both; MYELON_RESPONSES_ONE_RING with MYELON_FRAME_BYTES);
 *         -DMP_E_INUSE (a live worker `index` owns the
 *         response ring); -DMP_E_IDINUSE (a live worker `index` is
 *         attached); -ENOENT (no request ring, or no gather ring, yet);
 *         other errors of myelon_producer_create() /
 *         myelon_producer_attach() / myelon_consumer_attach(); -ENOMEM.
 */
MYELON_API int myelon_worker_attach(const struct myelon_topology_config *cfg, uint32_t index,
                                    struct myelon_worker **out);

/**
 * As myelon_worker_attach(), retrying the request ring's attach until the
 * scheduler has created it, for at most `timeout_ns` (DMP_FOREVER: no
 * deadline; as myelon_consumer_attach_timeout()). Blocking only in that retry.
 * @return as myelon_worker_attach(), or -ETIMEDOUT (no request ring).
 */
MYELON_API int myelon_worker_attach_timeout(const struct myelon_topology_config *cfg, uint32_t index,
                                            int64_t timeout_ns, struct myelon_worker **out);

/** Detach from the request ring (removing it if the scheduler died) and
 * close (remove) the response ring (one ring: leave the gather ring,
 * removing it if no live producer is left, i.e. the scheduler is gone).
 * NULL ok. */
MYELON_API void myelon_worker_close(struct myelon_worker *w);

/**
 * Receive the next request, waiting up to `timeout_ns`.
 * @return 0 and `*m` (valid until the next receive or
 *         myelon_worker_release()); -ETIMEDOUT; -DMP_E_OWNERDEAD (the
 *         scheduler is gone and everything was read); -MYELON_E_MALFORMED
 *         (a message without a request envelope: consumed, the stream goes
 *         on); framing errors of myelon_consumer_recv(); -EINVAL.
 */
MYELON_API int myelon_worker_recv(struct myelon_worker *w, struct myelon_step_msg *m, int64_t timeout_ns);

/** As myelon_worker_recv() without waiting: -EAGAIN if nothing is complete. */
MYELON_API int myelon_worker_try_recv(struct myelon_worker *w, struct myelon_step_msg *m);

/** Release the last request received (its slot may be reused). NULL ok. */
MYELON_API void myelon_worker_release(struct myelon_worker *w);

/**
 * Answer step `step`: envelope + `len` body bytes, waiting up to
 * `timeout_ns` for ring space.
 * @return 0; -ETIMEDOUT (the scheduler does not read its response ring);
 *         -MYELON_E_TOPOLOGY (no response ring); -MYELON_E_TOOBIG;
 *         -ENOMEM; -EINVAL.
 */
MYELON_API int myelon_worker_respond(struct myelon_worker *w, uint64_t step, const void *data, size_t len,
                                     uint8_t kind, int64_t timeout_ns);

/** Typed answer: `value` encoded with `codec` (see myelon_scheduler_broadcast_value()). */
MYELON_API int myelon_worker_respond_value(struct myelon_worker *w, uint64_t step, const struct myelon_codec *codec,
                                           const void *value, uint8_t kind, int64_t timeout_ns);

/** Zero-copy answer, step 1 (see myelon_scheduler_claim()). */
MYELON_API int myelon_worker_claim(struct myelon_worker *w, size_t max_len, void **body, int64_t timeout_ns);

/** Zero-copy answer, step 2. */
MYELON_API int myelon_worker_commit(struct myelon_worker *w, uint64_t step, size_t len, uint8_t kind);

/** Zero-copy answer, instead of step 2: drop the open claim (see
 * myelon_scheduler_abort()). */
MYELON_API int myelon_worker_abort(struct myelon_worker *w);

/** This worker's index. */
MYELON_API uint32_t myelon_worker_index(const struct myelon_worker *w);

/** The framed consumer of the request ring. */
MYELON_API struct myelon_consumer *myelon_worker_requests(struct myelon_worker *w);

/** The framed producer of this worker's response ring (NULL without;
 * one ring: its producer handle on the gather ring). */
MYELON_API struct myelon_producer *myelon_worker_responses(struct myelon_worker *w);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_TOPOLOGY_H */
