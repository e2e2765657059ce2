/**
 * @file typed_fixture.h
 * @brief Shared fixture of the typed tests (suite 'typed') and their role
 * executable: a representative message struct with every field kind the
 * msgpack field tables support, its codec, a deterministic filler, an
 * equality check that explains the first difference, a checker for
 * zero-copy msgpack views of it, fixed-layout structs, and ring configs.
 *
 * Nothing here uses Criterion, so typed_role links it too; functions
 * report a mismatch as false plus a reason.
 */
#ifndef TYPED_FIXTURE_H
#define TYPED_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <myelon/myelon.h>

/** Largest payload of struct tf_order: a few frames at 1 KiB, many at 256 B. */
#define TF_PAYLOAD_MAX 6000u

struct tf_point {
  double x;
  double y;
  char label[12];
};

struct tf_blob {
  uint8_t data[16];
  uint16_t len;
};

/** The representative struct: integers of every width and sign, bool,
 * float, double, strings, bytes, arrays of each, a nested map and an array
 * of nested maps, plus a variable payload that decides the frame count. */
struct tf_order {
  int64_t id;
  uint64_t seq;
  int32_t qty;
  uint8_t flags;
  int8_t delta;
  int16_t shift;
  uint16_t port;
  _Bool active;
  float ratio;
  double px;
  char sym[16];
  uint8_t tag[32];
  uint32_t tag_len;
  int32_t levels[8];
  uint32_t n_levels;
  double weights[4];
  uint8_t n_weights;
  char notes[3][24];
  uint32_t n_notes;
  struct tf_blob blobs[3];
  uint32_t n_blobs;
  struct tf_point origin;
  struct tf_point path[4];
  uint32_t n_path;
  uint8_t payload[TF_PAYLOAD_MAX];
  uint32_t payload_len;
};

extern const struct myelon_mp_struct tf_point_desc;
extern const struct myelon_mp_struct tf_order_desc;
extern const struct myelon_mp_type tf_order_type;

/** The msgpack codec of struct tf_order (aborts if the table is rejected). */
void tf_codec(struct myelon_codec *c);

/** splitmix64 step (deterministic pseudo-random numbers). */
uint64_t tf_rand(uint64_t *state);

/** Fill `o` from `seed`: every field set, arrays at random counts (seeded),
 * `payload_len` payload bytes. Same seed and length, same value. */
void tf_fill(struct tf_order *o, uint64_t seed, uint32_t payload_len);

/** Field-by-field comparison; on a difference false and `why`. */
bool tf_equal(const struct tf_order *a, const struct tf_order *b, char *why, size_t n);

/** Check a msgpack view tree of a tf_order against `o`: every field equal,
 * and every str/bin pointer inside [lo, lo + len). */
bool tf_view_equal(const msgpack_object *root, const struct tf_order *o, const void *lo, size_t len, char *why,
                   size_t n);

/** Fixed-layout structs: two different types of equal size, and one that
 * needs 16-byte alignment. */
struct tf_tick {
  int64_t ts;
  double px;
  uint32_t qty;
  uint32_t venue;
};
struct tf_other {
  int64_t a;
  int64_t b;
  int64_t c;
};
struct tf_vec {
  _Alignas(16) float v[4];
};

void tf_tick_type(struct myelon_fixed_type *t);
void tf_other_type(struct myelon_fixed_type *t);
void tf_vec_type(struct myelon_fixed_type *t);

/** Framed producer config (ring capacity `slots`, SHM name / mmap path
 * given by the caller); with MYELON_FRAME_BYTES a byte ring of
 * tf_ring_bytes(frame_cap, slots) bytes. */
struct myelon_producer_config tf_pcfg(enum dmp_backend b, const char *name, enum myelon_frame_format fmt,
                                      uint32_t frame_cap, uint64_t slots);

/** Bytes of the MYELON_FRAME_BYTES ring tf_pcfg() makes in place of a
 * slot ring of `slots` frames of `frame_cap` bytes: a power of two of at
 * least the frames' bytes plus a byte ring's 32 per message, and at least
 * 32 KiB (so that every tf_order travels whole). */
uint64_t tf_ring_bytes(uint32_t frame_cap, uint64_t slots);

/** Consumer config for the ring of `pc`, as `id`. */
struct myelon_consumer_config tf_ccfg(const struct myelon_producer_config *pc, const char *id);

/** Payload lengths of message `i` in the multiprocess stream: a mix of
 * single-frame and multi-frame sizes. */
uint32_t tf_stream_len(uint64_t i);

#endif /* TYPED_FIXTURE_H */
