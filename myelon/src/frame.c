/* Layer 1 frames: sizes, type tag, parse and write. Layout in frame.h. */
#include "frame_bytes.h"
#include "internal.h"
#include <myelon/error.h>
#include <myelon/frame.h>

#include <disruptor_mp/error.h>
#include <errno.h>
#include <string.h>


uint32_t myelon_frame_header_size(enum myelon_frame_format fmt)
{
  switch (fmt) {
  case MYELON_FRAME_COMPACT:
    return MYELON_FRAME_COMPACT_HEADER;
  case MYELON_FRAME_ALIGNED:
  case MYELON_FRAME_BYTES: /* an aligned frame inside each record */
    return MYELON_FRAME_ALIGNED_HEADER;
  case MYELON_FRAME_AUTO: /* resolved to one of the above at attach (framed_consumer.c) */
    break;
  }
  return 0;
}

static uint32_t round_up(uint32_t x, uint32_t a)
{
  return (x + a - 1) & ~(a - 1);
}

int myelon_frame_slot(enum myelon_frame_format fmt, uint32_t capacity, uint32_t *slot_size, uint32_t *slot_align)
{
  uint32_t hdr = myelon_frame_header_size(fmt);
  if (hdr == 0)
    return dmp_error_set("myelon_frame_slot", fmt == MYELON_FRAME_AUTO
                                                  ? "MYELON_FRAME_AUTO is for consumers: a ring is made with a format"
                                                  : "unknown frame format %d",
                         (int)fmt),
           -MYELON_E_FORMAT;
  if (fmt == MYELON_FRAME_BYTES)
    return dmp_error_set("myelon_frame_slot", "MYELON_FRAME_BYTES: a byte ring has no slots (frame.h)"),
           -MYELON_E_FORMAT;
  if (capacity < MYELON_FRAME_MIN_CAPACITY || capacity > MYELON_FRAME_MAX_CAPACITY)
    return dmp_error_set("myelon_frame_slot", "frame capacity %u is not in %u..%u", capacity,
                         MYELON_FRAME_MIN_CAPACITY, MYELON_FRAME_MAX_CAPACITY),
           -MYELON_E_FORMAT;
  uint32_t align = fmt == MYELON_FRAME_ALIGNED ? 16u : 4u;
  *slot_size = hdr + round_up(capacity, align);
  *slot_align = align;
  return 0;
}

uint64_t myelon_frame_tag(enum myelon_frame_format fmt, uint32_t capacity)
{
  /* FNV-1a-64 of a format name and the capacity; never 0. */
  const char *name = fmt == MYELON_FRAME_ALIGNED ? "myelon.frame.aligned.v1"
                     : fmt == MYELON_FRAME_BYTES  ? "myelon.frame.bytes.v1"
                                                  : "myelon.frame.compact.v1";
  if (fmt == MYELON_FRAME_BYTES)
    capacity = 0; /* records have no fixed size */
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (const char *s = name; *s; s++)
    h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
  for (int i = 0; i < 4; i++)
    h = (h ^ ((capacity >> (8 * i)) & 0xff)) * UINT64_C(0x100000001b3);
  return h ? h : 1;
}

uint64_t myelon_frame_count(enum myelon_frame_format fmt, uint32_t capacity, uint64_t len)
{
  if (len <= capacity || fmt == MYELON_FRAME_BYTES)
    return 1;
  if (fmt == MYELON_FRAME_COMPACT) {
    uint64_t rest = len - (capacity - MYELON_FRAME_TOTAL_PREFIX);
    return 1 + (rest + capacity - 1) / capacity;
  }
  return (len + capacity - 1) / capacity;
}

static uint32_t load_u32(const uint8_t *p)
{
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

int myelon_frame_parse(enum myelon_frame_format fmt, uint32_t capacity, const void *slot,
                       struct myelon_frame_view *out)
{
  const uint8_t *s = slot;
  struct myelon_frame_header h;
  if (fmt == MYELON_FRAME_BYTES) { /* the consumer's own check (frame_bytes.h) */
    uint32_t total;
    if (myelon_impl_bytes_frame(s, (size_t)capacity + MYELON_FRAME_ALIGNED_HEADER, &h, &total) < 0)
      return -MYELON_E_MALFORMED;
    *out = (struct myelon_frame_view){s + MYELON_FRAME_ALIGNED_HEADER, h.len, h.kind, h.flags, h.frag, h.msg_id, total};
    return 0;
  }
  memcpy(&h, s, sizeof h); /* one copy: the peer may change the slot under us */
  uint32_t hdr = myelon_frame_header_size(fmt);
  if (hdr == 0)
    return -MYELON_E_FORMAT;
  if (h.flags & ~MYELON_FLAGS_KNOWN)
    return -MYELON_E_MALFORMED;
  if (h.msg_id == 0 || h.len > capacity)
    return -MYELON_E_MALFORMED;
  if ((h.flags & MYELON_FLAG_START) && h.frag != 0)
    return -MYELON_E_MALFORMED; /* a first frame (SINGLE too) is fragment 0 */
  out->data = s + hdr;
  out->len = h.len;
  out->kind = h.kind;
  out->flags = h.flags;
  out->frag = h.frag;
  out->msg_id = h.msg_id;
  out->total = 0;
  bool single = (h.flags & MYELON_FLAG_SINGLE) == MYELON_FLAG_SINGLE;
  if (fmt == MYELON_FRAME_BYTES && !single)
    return -MYELON_E_MALFORMED; /* a record is a whole message */
  if (fmt != MYELON_FRAME_COMPACT) {
    out->total = load_u32(s + MYELON_FRAME_COMPACT_HEADER);
  } else if (single) {
    out->total = h.len;
  } else if (h.flags & MYELON_FLAG_START) {
    if (h.len < MYELON_FRAME_TOTAL_PREFIX)
      return -MYELON_E_MALFORMED;
    out->total = load_u32(out->data);
    out->data += MYELON_FRAME_TOTAL_PREFIX;
    out->len -= MYELON_FRAME_TOTAL_PREFIX;
  }
  if (out->total && out->total < out->len)
    return -MYELON_E_MALFORMED;
  if (single && out->total != out->len)
    return -MYELON_E_MALFORMED;
  return 0;
}

void myelon_frame_write(enum myelon_frame_format fmt, void *slot, const void *data, uint32_t len, uint8_t kind,
                        uint8_t flags, uint16_t frag, uint32_t msg_id, uint64_t total)
{
  uint8_t *s = slot;
  uint8_t *payload = s + myelon_frame_header_size(fmt);
  uint32_t wire_len = len;
  uint32_t total32 = (uint32_t)total;
  if (fmt != MYELON_FRAME_COMPACT) {
    memcpy(s + MYELON_FRAME_COMPACT_HEADER, &total32, sizeof total32);
  } else if ((flags & MYELON_FLAG_SINGLE) == MYELON_FLAG_START) {
    memcpy(payload, &total32, sizeof total32);
    payload += MYELON_FRAME_TOTAL_PREFIX;
    wire_len += MYELON_FRAME_TOTAL_PREFIX;
  }
  if (len)
    memcpy(payload, data, len);
  struct myelon_frame_header h = {.len = wire_len, .kind = kind, .flags = flags, .frag = frag, .msg_id = msg_id};
  memcpy(s, &h, sizeof h);
}
