/* The message types the codec targets decode into, shared with the seed
 * generator (gen_seeds.c) so the seeds are real encodings of them. */
#ifndef MYELON_FUZZ_TYPES_H
#define MYELON_FUZZ_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include <myelon/msgpack_codec.h>
#include <myelon/view.h>

#define FZ_N 4

struct fz_leg {
  int32_t qty;
  double px;
  char venue[8];
};

struct fz_blob {
  uint8_t data[6];
  uint16_t len;
};

struct fz_order {
  bool live;
  int8_t i8;
  int16_t i16;
  int32_t i32;
  int64_t id;
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  float f32;
  double px;
  char sym[16];
  uint8_t tag[8];
  uint32_t tag_len;
  int32_t qty[FZ_N];
  uint32_t n_qty;
  char names[FZ_N][8];
  uint8_t n_names;
  struct fz_blob blobs[FZ_N];
  uint64_t n_blobs;
  struct fz_leg main_leg;
  struct fz_leg legs[FZ_N];
  uint16_t n_legs;
};

static const struct myelon_mp_field fz_leg_fields[] = {
  MYELON_MP_NUM(struct fz_leg, qty),
  MYELON_MP_NUM(struct fz_leg, px),
  MYELON_MP_STR(struct fz_leg, venue),
};
static const struct myelon_mp_struct fz_leg_desc = MYELON_MP_STRUCT(struct fz_leg, fz_leg_fields);

static const struct myelon_mp_field fz_order_fields[] = {
  MYELON_MP_NUM(struct fz_order, live),
  MYELON_MP_NUM(struct fz_order, i8),
  MYELON_MP_NUM(struct fz_order, i16),
  MYELON_MP_NUM(struct fz_order, i32),
  MYELON_MP_NUM(struct fz_order, id),
  MYELON_MP_NUM(struct fz_order, u8),
  MYELON_MP_NUM(struct fz_order, u16),
  MYELON_MP_NUM(struct fz_order, u32),
  MYELON_MP_NUM(struct fz_order, u64),
  MYELON_MP_NUM(struct fz_order, f32),
  MYELON_MP_NUM(struct fz_order, px),
  MYELON_MP_STR(struct fz_order, sym),
  MYELON_MP_BIN(struct fz_order, tag, tag_len),
  MYELON_MP_NUM_ARRAY(struct fz_order, qty, n_qty),
  MYELON_MP_STR_ARRAY(struct fz_order, names, n_names),
  MYELON_MP_BIN_ARRAY(struct fz_order, blobs, n_blobs, struct fz_blob, data, len),
  MYELON_MP_MAP(struct fz_order, main_leg, fz_leg_desc),
  MYELON_MP_MAP_ARRAY(struct fz_order, legs, n_legs, fz_leg_desc),
};
static const struct myelon_mp_struct fz_order_desc = MYELON_MP_STRUCT(struct fz_order, fz_order_fields);
static const struct myelon_mp_type fz_order_type = MYELON_MP_TYPE_DESC(fz_order_desc);

/** The fixed-layout struct of fuzz_fixed_view.c (16-byte aligned). */
struct fz_tick {
  _Alignas(16) int64_t ts;
  double px;
  uint32_t qty;
  uint8_t side;
};
#define FZ_TICK_LAYOUT "i64 ts; f64 px; u32 qty; u8 side"

#endif /* MYELON_FUZZ_TYPES_H */
