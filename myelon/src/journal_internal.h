/* Internal to libmyelon: the on-disk structs of the journal format
 * (documented byte by byte in include/myelon/journal.h) pinned with static
 * assertions, and helpers shared by the writer, reader, recorder and
 * replayer. */
#ifndef MYELON_JOURNAL_INTERNAL_H
#define MYELON_JOURNAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <myelon/journal.h>

#include "internal.h" /* myelon_impl_clock_ns, MYELON_OPEN_BEGIN */

struct jfile_header {
  uint64_t magic;
  uint32_t version;
  uint32_t header_size;
  uint32_t kind;
  uint32_t frame_format;
  uint32_t slot_size;
  uint32_t slot_align;
  uint32_t frame_capacity;
  uint32_t flags;
  uint64_t ring_capacity;
  uint64_t ring_epoch;
  uint64_t type_tag;
  int64_t created_ns;
  uint64_t recording_id;
  uint32_t part;
  uint32_t ring_backend;
  uint8_t reserved[40];
  char ring_name[MYELON_JOURNAL_NAME_MAX + 1];
  uint32_t header_crc;
};

_Static_assert(sizeof(struct jfile_header) == MYELON_JOURNAL_HEADER_SIZE, "file header is 256 bytes");
_Static_assert(offsetof(struct jfile_header, flags) == 36, "flags at 36");
_Static_assert(offsetof(struct jfile_header, ring_capacity) == 40, "ring_capacity at 40");
_Static_assert(offsetof(struct jfile_header, recording_id) == 72, "recording_id at 72");
_Static_assert(offsetof(struct jfile_header, part) == 80, "part at 80");
_Static_assert(offsetof(struct jfile_header, reserved) == 88, "reserved at 88");
_Static_assert(offsetof(struct jfile_header, ring_name) == 128, "ring_name at 128");
_Static_assert(offsetof(struct jfile_header, header_crc) == 252, "header_crc is the last word");

struct jrec_header {
  uint32_t magic;
  uint32_t header_crc;
  uint32_t len;
  uint8_t kind;
  uint8_t flags;
  uint16_t reserved;
  uint64_t seq;
  int64_t realtime_ns;
  int64_t mono_ns;
  uint32_t data_crc;
  uint32_t msg_id;
};

_Static_assert(sizeof(struct jrec_header) == MYELON_JOURNAL_RECORD_HEADER, "record header is 48 bytes");
_Static_assert(offsetof(struct jrec_header, len) == 8, "header CRC covers [8, 48)");
_Static_assert(offsetof(struct jrec_header, seq) == 16, "seq at 16");
_Static_assert(offsetof(struct jrec_header, data_crc) == 40, "data_crc at 40");
_Static_assert(offsetof(struct jrec_header, msg_id) == 44, "msg_id at 44");

/* Kind and frame format that the header's version allows (journal.c). */
bool jnl_formats_ok(uint32_t kind, uint32_t frame_format, uint32_t flags);

/* A random 64-bit value (getrandom, with a clock-based fallback). */
uint64_t jnl_random64(void);

#endif /* MYELON_JOURNAL_INTERNAL_H */
