/* Private helpers shared by transport_layout.c, topology.c and
 * topology_scheduler.c. Not installed. */
#ifndef MYELON_TOPOLOGY_INTERNAL_H
#define MYELON_TOPOLOGY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/producer.h>
#include <myelon/topology.h>

#include "internal.h" /* TOPO_FAIL, myelon_impl_now_ns */

/* "w1, w3, w5..w9" into out (outlen >= 8), " ..." when it runs out of room. */
void myelon_impl_format_ranks(char *out, size_t outlen, const uint32_t *ranks, size_t n);

/* Wait until consumers "w0".."w<n-1>" are attached to `p`; on timeout the
 * detail lists the missing ones: "[fn] 1 of 4 <what> not attached ...". */
int myelon_impl_wait_ids(struct dmp_producer *p, uint32_t n, int64_t timeout_ns, const char *fn, const char *what);

/* Format the workers of bitmask `mask` ("w1, w3") into out. */
void myelon_impl_format_mask(char *out, size_t outlen, uint64_t mask);

/* Time left until `deadline` (ns, >= 0), or DMP_FOREVER for no deadline (-1). */
int64_t myelon_impl_left(int64_t deadline);

/* Deadline for a relative timeout (DMP_FOREVER stays -1). */
int64_t myelon_impl_deadline(int64_t timeout_ns);

/* Validate a topology configuration and derive its layout (cold). */
int myelon_impl_topology_layout(const struct myelon_topology_config *cfg, struct myelon_layout *out,
                                const char *fn);

/* One side's outgoing ring (the scheduler's requests, a worker's
 * responses) with what publishing a step message needs. */
struct myelon_impl_out {
  struct myelon_producer *p; /* NULL: none (a worker without responses) */
  size_t frame_room;         /* largest message that travels in one frame (a byte ring: max_message) */
  size_t max_message;        /* largest message, envelope included */
  void *scratch;             /* envelope + body of multi-frame messages */
  size_t scratch_cap;
  uint8_t *claimed;          /* zero-copy claim in progress: the envelope's slot bytes */
  size_t claimed_max;        /* body bytes claimed */
  bool bytes;                /* a MYELON_FRAME_BYTES ring: one record per message, claims keep their room */
};

/* Create the framed producer of `o` on `name` (capacity `depth`, a
 * consumer table of `consumers` entries) with the topology's frames;
 * `max_producers` nonzero: a multi-producer ring with that table. */
int myelon_impl_out_create(struct myelon_impl_out *o, const struct myelon_topology_config *cfg, const char *name,
                           uint64_t depth, uint32_t consumers, uint32_t max_producers);

/* Join the multi-producer ring `name` as one more framed producer of `o`;
 * `wait`: retry while the ring does not exist yet, until `deadline`
 * (myelon_impl_deadline(); DMP_FOREVER: none). */
int myelon_impl_out_attach(struct myelon_impl_out *o, const struct myelon_topology_config *cfg, const char *name,
                           bool wait, int64_t deadline);

/* Ring `name` (`what`: "request ring", ...) is a byte ring where `format`
 * says slots, or the other way round: set a detail under `fn` naming both
 * shapes and return true. False (no detail set) when the shapes agree or
 * the ring cannot be inspected. Cold: opens and maps the segment. */
bool myelon_impl_explain_shape(enum dmp_backend backend, const char *name, enum myelon_frame_format format,
                               const char *what, const char *fn);

/* Close the producer and free the scratch buffer. */
void myelon_impl_out_close(struct myelon_impl_out *o);

/* Publish envelope `h` + `len` bytes of `data` as one message: in place
 * through a one-frame claim, or through the scratch buffer. */
int myelon_impl_publish_bytes(struct myelon_impl_out *o, const struct myelon_step_header *h, const void *data,
                              size_t len, uint8_t kind, int64_t timeout_ns, const char *fn);

/* Encode `value` with `codec` behind envelope `h` and publish it: straight
 * into a claimed slot when the codec knows the size and it fits in one
 * frame, else through the scratch buffer (grown up to max_message). */
struct myelon_codec;
int myelon_impl_publish_value(struct myelon_impl_out *o, const struct myelon_step_header *h,
                              const struct myelon_codec *codec, const void *value, uint8_t kind, int64_t timeout_ns,
                              const char *fn);

/* Zero-copy step message: claim room for `max_len` body bytes, then commit. */
int myelon_impl_claim(struct myelon_impl_out *o, size_t max_len, void **body, int64_t timeout_ns, const char *fn);
int myelon_impl_commit(struct myelon_impl_out *o, const struct myelon_step_header *h, size_t len, uint8_t kind,
                       const char *fn);
/* Drop the open zero-copy claim without publishing (myelon_producer_abort()). */
int myelon_impl_abort(struct myelon_impl_out *o, const char *fn);

/* Close a consumer; if its ring's producer is dead, remove the stale ring
 * (dmp_ring_gc(): never a live one) since no one else will. */
void myelon_impl_close_consumer(struct myelon_consumer *c, enum dmp_backend backend);

/* Parse a received message as a step envelope into `out`. -MYELON_E_MALFORMED
 * (short or wrong magic), with no detail (a hot-path outcome). */
int myelon_impl_parse_step(const struct myelon_msg *m, uint32_t magic, struct myelon_step_msg *out);

/* Producer table of the gather ring: the scheduler, every worker, and as
 * many again for restarts that overlap a dying incarnation. */
#define MYELON_IMPL_GATHER_PRODUCERS(n) (2u * (n) + 1u)

/* ---- the one-ring shape (topology_one_ring.c) ---------------------------------- */

struct myelon_impl_one_ring;

/* Create the gather ring of layout `l` (the scheduler is its creator
 * producer and its consumer "s"). */
int myelon_impl_one_ring_open(const struct myelon_topology_config *cfg, const struct myelon_layout *l,
                              struct myelon_impl_one_ring **out, const char *fn);

/* Detach, close the scheduler's producer entry and remove the ring unless
 * live workers still hold it (dmp_ring_gc()); free what is held. NULL ok. */
void myelon_impl_one_ring_close(struct myelon_impl_one_ring *o);

/* The gather ring's framed consumer. */
struct myelon_consumer *myelon_impl_one_ring_consumer(struct myelon_impl_one_ring *o);

/* What a one-ring gather needs from the scheduler. */
struct myelon_impl_gather_ctx {
  struct dmp_producer *requests; /* the request ring: worker liveness */
  uint32_t workers;
  int64_t *liveness_due;         /* the scheduler's check cadence, kept across calls */
};

/* Gather step `step` from the gather ring into `*g` (as
 * myelon_scheduler_gather(), without the verdict). 0; -ECANCELED (`fn`
 * stopped it); -ENOMEM (an answer to hold could not be copied); errors of
 * the ring. */
int myelon_impl_one_ring_gather(struct myelon_impl_one_ring *o, const struct myelon_impl_gather_ctx *ctx,
                                uint64_t step, int64_t timeout_ns, myelon_response_fn fn, void *user,
                                struct myelon_gather *g);

/* How often a gather looks at the pending workers' liveness. */
#define MYELON_IMPL_CHECK_NS INT64_C(5000000) /* 5 ms */

#endif /* MYELON_TOPOLOGY_INTERNAL_H */
