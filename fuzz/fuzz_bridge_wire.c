/* Fuzz target: one ZeroMQ message as the bridge's ingress or egress
 * receives it from the network (a hostile peer past the transport: an
 * --insecure link, or one holding a valid key), through
 * myelon_bridge_wire_parse() (src/bridge/wire.c).
 *
 * Input: the message bytes, copied into an exact-size allocation so that
 * reading past it is caught.
 * Oracle: an accepted message is canonical: encoding what was parsed gives
 * the input back byte for byte (so nothing was read that the parse did not
 * check, and padding is zero); a DATA payload and a REFUSE reason lie inside
 * the input; a BATCH's records, walked with bridge_batch_record(), lie
 * inside it, fill it exactly and encode it again; a reason is printable ASCII of at most MYELON_BRIDGE_REASON_MAX
 * bytes; a HELLO names a slot frame format (slot_align 0), a raw ring (slot
 * size > 0, a power-of-two slot_align) or a byte ring, framed or raw (a
 * power-of-two block of 16 .. 4096, a power-of-two ring of at least two
 * blocks, a largest record within half of it, slot_align 0); a rejected
 * message leaves the output untouched. */
#include "fuzz.h"

#include <errno.h>

#include <myelon/bridge.h>

#include "bridge_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *buf = malloc(size ? size : 1);
  FUZZ_CHECK(buf != NULL);
  memcpy(buf, data, size);
  struct myelon_bridge_wire w, before;
  memset(&w, 0xa5, sizeof w);
  before = w;
  int rc = myelon_bridge_wire_parse(buf, size, &w);
  if (rc != 0) {
    FUZZ_CHECK(memcmp(&w, &before, sizeof w) == 0);
    free(buf);
    return 0;
  }
  uint8_t out[MYELON_BRIDGE_HEADER + MYELON_BRIDGE_REASON_MAX + MYELON_BRIDGE_HELLO_SIZE];
  switch (w.type) {
  case MYELON_BRIDGE_HELLO:
    FUZZ_CHECK(size == MYELON_BRIDGE_HELLO_SIZE);
    if (w.format == MYELON_BRIDGE_FORMAT_RAW)
      FUZZ_CHECK(w.frame_capacity > 0 && w.slot_align > 0 && (w.slot_align & (w.slot_align - 1)) == 0);
    else if (w.format == MYELON_FRAME_BYTES || w.format == MYELON_BRIDGE_FORMAT_RAW_BYTES)
      FUZZ_CHECK(w.slot_align == 0 && w.frame_capacity >= MYELON_BRIDGE_MIN_BLOCK &&
                 w.frame_capacity <= MYELON_BRIDGE_MAX_BLOCK && (w.frame_capacity & (w.frame_capacity - 1)) == 0 &&
                 w.ring_capacity / 2 >= w.frame_capacity && (w.ring_capacity & (w.ring_capacity - 1)) == 0 &&
                 w.max_message <= w.ring_capacity / 2);
    else
      FUZZ_CHECK((w.format == MYELON_FRAME_COMPACT || w.format == MYELON_FRAME_ALIGNED) && w.slot_align == 0);
    FUZZ_CHECK(bridge_encode_hello(out, &w) == size && memcmp(out, buf, size) == 0);
    break;
  case MYELON_BRIDGE_WELCOME:
  case MYELON_BRIDGE_ACK:
    FUZZ_CHECK(bridge_encode_seq(out, w.type, w.seq) == size && memcmp(out, buf, size) == 0);
    break;
  case MYELON_BRIDGE_FEATURES: /* type + feature bits, ACK's shape */
    FUZZ_CHECK(bridge_encode_seq(out, w.type, w.seq) == size && memcmp(out, buf, size) == 0);
    break;
  case MYELON_BRIDGE_END: /* type + the ended epoch, ACK's shape */
    FUZZ_CHECK(bridge_encode_seq(out, w.type, w.epoch) == size && memcmp(out, buf, size) == 0);
    break;
  case MYELON_BRIDGE_RESYNC:
  case MYELON_BRIDGE_PING:
    FUZZ_CHECK(size == MYELON_BRIDGE_HEADER);
    bridge_put_header(out, w.type);
    FUZZ_CHECK(memcmp(out, buf, size) == 0);
    break;
  case MYELON_BRIDGE_REFUSE: {
    FUZZ_CHECK(w.reason == (const char *)buf + MYELON_BRIDGE_HEADER);
    FUZZ_CHECK(w.reason_len <= MYELON_BRIDGE_REASON_MAX && w.reason_len + MYELON_BRIDGE_HEADER == size);
    char text[MYELON_BRIDGE_REASON_MAX + 1];
    memcpy(text, w.reason, w.reason_len);
    text[w.reason_len] = '\0';
    FUZZ_CHECK(strlen(text) == w.reason_len); /* printable: no NUL inside */
    FUZZ_CHECK(bridge_encode_refuse(out, text) == size && memcmp(out, buf, size) == 0);
    break;
  }
  case MYELON_BRIDGE_DATA:
    FUZZ_CHECK(w.payload == buf + MYELON_BRIDGE_DATA_HEADER && w.len + MYELON_BRIDGE_DATA_HEADER == size);
    FUZZ_CHECK(w.seq != MYELON_BRIDGE_NEXT_ANY);
    bridge_encode_data_header(out, w.seq, w.kind);
    FUZZ_CHECK(memcmp(out, buf, MYELON_BRIDGE_DATA_HEADER) == 0);
    break;
  case MYELON_BRIDGE_BATCH: {
    /* Its records, walked as the ingress walks them, encode it again. */
    FUZZ_CHECK(w.payload == buf + MYELON_BRIDGE_BATCH_HEADER && w.len + MYELON_BRIDGE_BATCH_HEADER == size);
    FUZZ_CHECK(w.window > 0 && w.seq + (w.window - 1) < MYELON_BRIDGE_NEXT_ANY);
    uint8_t *again = malloc(size);
    FUZZ_CHECK(again != NULL);
    bridge_encode_batch_header(again, w.seq, w.window);
    size_t off = 0, at = MYELON_BRIDGE_BATCH_HEADER;
    for (uint32_t i = 0; i < w.window; i++) {
      uint8_t kind;
      const uint8_t *data;
      size_t n;
      FUZZ_CHECK(bridge_batch_record(&w, &off, &kind, &data, &n) == 0);
      FUZZ_CHECK(data >= w.payload && n <= w.len && data + n <= w.payload + w.len);
      FUZZ_CHECK(at + MYELON_BRIDGE_RECORD_HEADER + n <= size);
      at += bridge_encode_record(again + at, data, (uint32_t)n, kind);
    }
    FUZZ_CHECK(off == w.len && at == size && memcmp(again, buf, size) == 0);
    uint8_t kind;
    const uint8_t *data;
    size_t n;
    FUZZ_CHECK(bridge_batch_record(&w, &off, &kind, &data, &n) == -EPROTO); /* nothing past the last */
    free(again);
    break;
  }
  default:
    FUZZ_CHECK(!"parse accepted an unknown type");
  }
  free(buf);
  return 0;
}
