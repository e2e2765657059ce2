/* The bridge's wire format: encoders and the one parser every received
 * message goes through (bridge.h, "Wire format"). The parser is the
 * ingress's first line against a hostile peer that got past the transport
 * (an --insecure link, a peer holding a valid key): it checks every byte it
 * uses and never reads past the buffer (fuzz/fuzz_bridge_wire.c). */
#include "bridge_internal.h"

#include <errno.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
  uint32_t v = 0;
  for (int i = 0; i < 4; i++)
    v |= (uint32_t)p[i] << (8 * i);
  return v;
}

static uint64_t get64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

void bridge_put_header(uint8_t *p, enum myelon_bridge_msg_type type)
{
  p[0] = 'M';
  p[1] = 'Y';
  p[2] = 'B';
  p[3] = MYELON_BRIDGE_WIRE_VERSION;
  p[4] = (uint8_t)type;
  p[5] = p[6] = p[7] = 0;
}

size_t bridge_encode_hello(uint8_t *p, const struct myelon_bridge_wire *w)
{
  memset(p, 0, MYELON_BRIDGE_HELLO_SIZE);
  bridge_put_header(p, MYELON_BRIDGE_HELLO);
  put32(p + 8, w->format);
  put32(p + 12, w->frame_capacity);
  put64(p + 16, w->ring_capacity);
  put64(p + 24, w->max_message);
  put64(p + 32, w->type_tag);
  put64(p + 40, w->epoch);
  put32(p + 48, w->window);
  put32(p + 52, w->slot_align); /* a raw ring's; zero for a framed ring */
  return MYELON_BRIDGE_HELLO_SIZE;
}

size_t bridge_encode_seq(uint8_t *p, enum myelon_bridge_msg_type type, uint64_t seq)
{
  bridge_put_header(p, type);
  put64(p + 8, seq);
  return MYELON_BRIDGE_SEQ_SIZE;
}

void bridge_encode_data_header(uint8_t *p, uint64_t seq, uint8_t kind)
{
  memset(p, 0, MYELON_BRIDGE_DATA_HEADER);
  bridge_put_header(p, MYELON_BRIDGE_DATA);
  put64(p + 8, seq);
  p[16] = kind;
}

size_t bridge_encode_refuse(uint8_t *p, const char *reason)
{
  size_t n = strlen(reason);
  if (n > MYELON_BRIDGE_REASON_MAX)
    n = MYELON_BRIDGE_REASON_MAX;
  bridge_put_header(p, MYELON_BRIDGE_REFUSE);
  memcpy(p + MYELON_BRIDGE_HEADER, reason, n);
  return MYELON_BRIDGE_HEADER + n;
}

void bridge_encode_batch_header(uint8_t *p, uint64_t first, uint32_t count)
{
  memset(p, 0, MYELON_BRIDGE_BATCH_HEADER);
  bridge_put_header(p, MYELON_BRIDGE_BATCH);
  put64(p + 8, first);
  put32(p + 16, count);
}

size_t bridge_encode_record(uint8_t *p, const void *data, uint32_t len, uint8_t kind)
{
  memset(p, 0, MYELON_BRIDGE_RECORD_HEADER);
  put32(p, len);
  p[4] = kind;
  if (len)
    memcpy(p + MYELON_BRIDGE_RECORD_HEADER, data, len);
  return MYELON_BRIDGE_RECORD_HEADER + len;
}

int bridge_batch_record(const struct myelon_bridge_wire *w, size_t *off, uint8_t *kind, const uint8_t **data,
                        size_t *len)
{
  if (w->type != MYELON_BRIDGE_BATCH || *off > w->len || w->len - *off < MYELON_BRIDGE_RECORD_HEADER)
    return -EPROTO;
  const uint8_t *p = w->payload + *off;
  uint32_t n = get32(p);
  if (n > w->len - *off - MYELON_BRIDGE_RECORD_HEADER)
    return -EPROTO;
  *kind = p[4];
  *data = p + MYELON_BRIDGE_RECORD_HEADER;
  *len = n;
  *off += MYELON_BRIDGE_RECORD_HEADER + n;
  return 0;
}

static bool pow2(uint64_t v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

/* A byte ring's geometry as a HELLO states it (bytes.h): a block of
 * MYELON_BRIDGE_MIN_BLOCK .. MYELON_BRIDGE_MAX_BLOCK, a ring of at least
 * two blocks (both powers of two), and a largest record within half of it. */
static bool byte_ring_ok(uint32_t block, uint64_t ring_bytes, uint64_t max_message)
{
  return pow2(block) && block >= MYELON_BRIDGE_MIN_BLOCK && block <= MYELON_BRIDGE_MAX_BLOCK && pow2(ring_bytes) &&
         ring_bytes / 2 >= block && max_message <= ring_bytes / 2;
}

static bool all_zero(const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0)
      return false;
  return true;
}

MYELON_API int myelon_bridge_wire_parse(const void *buf, size_t len, struct myelon_bridge_wire *out)
{
  if (buf == NULL || out == NULL || len < MYELON_BRIDGE_HEADER)
    return -EPROTO;
  const uint8_t *p = buf;
  if (p[0] != 'M' || p[1] != 'Y' || p[2] != 'B' || p[3] != MYELON_BRIDGE_WIRE_VERSION || !all_zero(p + 5, 3))
    return -EPROTO;
  struct myelon_bridge_wire w;
  memset(&w, 0, sizeof w);
  w.type = (enum myelon_bridge_msg_type)p[4];
  switch (p[4]) {
  case MYELON_BRIDGE_HELLO:
    if (len != MYELON_BRIDGE_HELLO_SIZE)
      return -EPROTO;
    w.format = get32(p + 8);
    w.frame_capacity = get32(p + 12);
    w.slot_align = get32(p + 52);
    w.ring_capacity = get64(p + 16);
    w.max_message = get64(p + 24);
    if (w.format == MYELON_BRIDGE_FORMAT_RAW) {
      /* A raw ring: frame_capacity is its slot size. */
      if (w.frame_capacity == 0 || w.slot_align == 0 || (w.slot_align & (w.slot_align - 1)) != 0)
        return -EPROTO;
    } else if (w.format == MYELON_FRAME_BYTES || w.format == MYELON_BRIDGE_FORMAT_RAW_BYTES) {
      /* A byte ring: frame_capacity is its block, ring_capacity its bytes
       * (bytes.h: both powers of two, at least two blocks), and no record
       * is larger than half of it. */
      if (!byte_ring_ok(w.frame_capacity, w.ring_capacity, w.max_message) || w.slot_align != 0)
        return -EPROTO;
    } else if ((w.format != MYELON_FRAME_COMPACT && w.format != MYELON_FRAME_ALIGNED) || w.slot_align != 0) {
      return -EPROTO;
    }
    w.type_tag = get64(p + 32);
    w.epoch = get64(p + 40);
    w.window = get32(p + 48);
    break;
  case MYELON_BRIDGE_WELCOME:
  case MYELON_BRIDGE_ACK:
    if (len != MYELON_BRIDGE_SEQ_SIZE)
      return -EPROTO;
    w.seq = get64(p + 8);
    break;
  case MYELON_BRIDGE_FEATURES:
    if (len != MYELON_BRIDGE_SEQ_SIZE)
      return -EPROTO;
    w.seq = get64(p + 8); /* bits we do not know are the peer's to offer: ignored, not refused */
    break;
  case MYELON_BRIDGE_END:
    if (len != MYELON_BRIDGE_SEQ_SIZE)
      return -EPROTO;
    w.epoch = get64(p + 8);
    break;
  case MYELON_BRIDGE_RESYNC:
  case MYELON_BRIDGE_PING:
    if (len != MYELON_BRIDGE_HEADER)
      return -EPROTO;
    break;
  case MYELON_BRIDGE_REFUSE:
    if (len - MYELON_BRIDGE_HEADER > MYELON_BRIDGE_REASON_MAX)
      return -EPROTO;
    for (size_t i = MYELON_BRIDGE_HEADER; i < len; i++)
      if (p[i] < 0x20 || p[i] > 0x7e)
        return -EPROTO;
    w.reason = (const char *)p + MYELON_BRIDGE_HEADER;
    w.reason_len = len - MYELON_BRIDGE_HEADER;
    break;
  case MYELON_BRIDGE_DATA:
    if (len < MYELON_BRIDGE_DATA_HEADER || !all_zero(p + 17, 7))
      return -EPROTO;
    w.seq = get64(p + 8);
    if (w.seq == MYELON_BRIDGE_NEXT_ANY)
      return -EPROTO;
    w.kind = p[16];
    w.payload = p + MYELON_BRIDGE_DATA_HEADER;
    w.len = len - MYELON_BRIDGE_DATA_HEADER;
    break;
  case MYELON_BRIDGE_BATCH: {
    if (len < MYELON_BRIDGE_BATCH_HEADER || !all_zero(p + 20, 4))
      return -EPROTO;
    w.seq = get64(p + 8);
    w.window = get32(p + 16);
    /* Every message's sequence (seq .. seq + count - 1) below NEXT_ANY. */
    if (w.window == 0 || w.seq >= MYELON_BRIDGE_NEXT_ANY - w.window + 1)
      return -EPROTO;
    size_t off = MYELON_BRIDGE_BATCH_HEADER;
    for (uint32_t i = 0; i < w.window; i++) {
      if (len - off < MYELON_BRIDGE_RECORD_HEADER || !all_zero(p + off + 5, 3))
        return -EPROTO;
      uint32_t n = get32(p + off);
      if (n > len - off - MYELON_BRIDGE_RECORD_HEADER)
        return -EPROTO;
      off += MYELON_BRIDGE_RECORD_HEADER + n;
    }
    if (off != len)
      return -EPROTO;
    w.payload = p + MYELON_BRIDGE_BATCH_HEADER;
    w.len = len - MYELON_BRIDGE_BATCH_HEADER;
    break;
  }
  default:
    return -EPROTO;
  }
  *out = w;
  return 0;
}
