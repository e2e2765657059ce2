/* Internal to libmyelon_bridge: the wire encoders (wire.c). */
#ifndef MYELON_BRIDGE_INTERNAL_H
#define MYELON_BRIDGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <myelon/bridge.h>

void bridge_put_header(uint8_t *p, enum myelon_bridge_msg_type type);
size_t bridge_encode_hello(uint8_t *p, const struct myelon_bridge_wire *w);
size_t bridge_encode_seq(uint8_t *p, enum myelon_bridge_msg_type type, uint64_t seq);
void bridge_encode_data_header(uint8_t *p, uint64_t seq, uint8_t kind);
size_t bridge_encode_refuse(uint8_t *p, const char *reason);
void bridge_encode_batch_header(uint8_t *p, uint64_t first, uint32_t count);
size_t bridge_encode_record(uint8_t *p, const void *data, uint32_t len, uint8_t kind);
/* The record at `*off` of a parsed BATCH (an offset into w->payload, 0 for
 * the first), moving `*off` to the next one. 0, or -EPROTO past the end. */
int bridge_batch_record(const struct myelon_bridge_wire *w, size_t *off, uint8_t *kind, const uint8_t **data,
                        size_t *len);

#endif
