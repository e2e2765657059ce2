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

#endif
