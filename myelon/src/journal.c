/* Journal format (journal.h): pure encoders and parsers of the file header
 * and of records, and part file names. Nothing here does I/O, allocates or
 * touches thread-local state except the error detail of the encoders'
 * callers; the parsers are safe on arbitrary bytes (fuzz/fuzz_journal.c). */
#include "journal_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <disruptor_mp/bytes.h>
#include <disruptor_mp/config.h>
#include <disruptor_mp/error.h>
#include <disruptor_mp/layout.h>
#include <myelon/error.h>
#include <myelon/frame.h>

uint64_t jnl_random64(void)
{
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
    v = (uint64_t)myelon_impl_clock_ns(CLOCK_REALTIME) * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)myelon_impl_clock_ns(CLOCK_MONOTONIC);
  return v ? v : 1;
}

int myelon_journal_part_path(const char *base, uint32_t part, char *out, size_t outlen)
{
  if (!base || !out || part == 0 || part > MYELON_JOURNAL_MAX_PARTS)
    return -EINVAL;
  int n = snprintf(out, outlen, "%s.%04u", base, part);
  if (n < 0 || (size_t)n >= outlen)
    return -ENAMETOOLONG;
  return 0;
}

/* ---- file header ------------------------------------------------------- */

/* Kind and frame format as the version allows them (journal.h): version 1
 * (a slot ring) frame formats 0 and 1; version 2 (F_BYTES) raw with 0,
 * framed with MYELON_FRAME_BYTES only. */
bool jnl_formats_ok(uint32_t kind, uint32_t frame_format, uint32_t flags)
{
  if (kind != MYELON_JOURNAL_RAW && kind != MYELON_JOURNAL_FRAMED)
    return false;
  if (!(flags & MYELON_JOURNAL_F_BYTES))
    return frame_format <= MYELON_FRAME_ALIGNED;
  return frame_format == (kind == MYELON_JOURNAL_FRAMED ? (uint32_t)MYELON_FRAME_BYTES : 0u);
}

int myelon_journal_header_encode(const struct myelon_journal_info *info, void *buf)
{
  if (!info || !buf || info->part == 0 || (info->flags & ~MYELON_JOURNAL_F_KNOWN) ||
      !jnl_formats_ok((uint32_t)info->kind, info->frame_format, info->flags))
    return -EINVAL;
  struct jfile_header h;
  memset(&h, 0, sizeof h);
  h.magic = MYELON_JOURNAL_MAGIC;
  /* A slot ring's journal stays version 1, which readers before 0.5 read. */
  h.version = info->flags & MYELON_JOURNAL_F_BYTES ? MYELON_JOURNAL_VERSION : MYELON_JOURNAL_VERSION_SLOTS;
  h.header_size = MYELON_JOURNAL_HEADER_SIZE;
  h.kind = (uint32_t)info->kind;
  h.frame_format = info->frame_format;
  h.slot_size = info->slot_size;
  h.slot_align = info->slot_align;
  h.frame_capacity = info->frame_capacity;
  h.flags = info->flags;
  h.ring_capacity = info->ring_capacity;
  h.ring_epoch = info->ring_epoch;
  h.type_tag = info->type_tag;
  h.created_ns = info->created_ns;
  h.recording_id = info->recording_id;
  h.part = info->part;
  h.ring_backend = info->ring_backend;
  size_t n = strnlen(info->ring_name, sizeof info->ring_name);
  if (n > MYELON_JOURNAL_NAME_MAX)
    n = MYELON_JOURNAL_NAME_MAX;
  memcpy(h.ring_name, info->ring_name, n);
  h.header_crc = myelon_crc32c(0, &h, offsetof(struct jfile_header, header_crc));
  memcpy(buf, &h, sizeof h);
  return 0;
}

static int header_fail(int rc, const char *what)
{
  dmp_error_set("myelon_journal_header_parse", "%s", what);
  return rc;
}

/* Fields a valid CRC does not vouch for: a writer of another build could
 * still have written nonsense. */
static bool pow2(uint64_t v)
{
  return v && !(v & (v - 1));
}

/* A byte ring's geometry (version 2, journal.h): what Layer 0 could have
 * created, and a largest record within it. */
static int bytes_geometry(const struct jfile_header *h)
{
  uint64_t block = h->slot_size, ring = h->ring_capacity;
  if (!pow2(block) || block < DMP_BYTES_MIN_BLOCK || block > DMP_MAX_SLOT_ALIGN || h->slot_align != block)
    return header_fail(-MYELON_E_JCORRUPT, "byte ring: block is not a power of two in [16, 4096] (= slot_align)");
  if (!pow2(ring) || ring < 2 * block)
    return header_fail(-MYELON_E_JCORRUPT, "byte ring: size is not a power of two of at least two blocks");
  uint64_t over = DMP_BYTES_HEADER + (h->kind == MYELON_JOURNAL_FRAMED ? MYELON_FRAME_ALIGNED_HEADER : 0);
  if ((uint64_t)h->frame_capacity + over > ring / 2 || h->frame_capacity > DMP_BYTES_MAX_RECORD)
    return header_fail(-MYELON_E_JCORRUPT, "byte ring: largest record is larger than half the ring");
  return 0;
}

static int header_fields(const struct jfile_header *h)
{
  if (h->header_size != MYELON_JOURNAL_HEADER_SIZE)
    return header_fail(-MYELON_E_JCORRUPT, "header size is not 256");
  if (h->flags & ~MYELON_JOURNAL_F_KNOWN)
    return header_fail(-MYELON_E_JCORRUPT, "unknown header flags");
  bool bytes = h->flags & MYELON_JOURNAL_F_BYTES;
  if (bytes != (h->version == MYELON_JOURNAL_VERSION))
    return header_fail(-MYELON_E_JCORRUPT, "version and the byte-ring flag disagree (version 2 is a byte ring's)");
  if (!jnl_formats_ok(h->kind, h->frame_format, h->flags))
    return header_fail(-MYELON_E_JCORRUPT, "unknown kind or frame format");
  if (h->part == 0 || h->part > MYELON_JOURNAL_MAX_PARTS)
    return header_fail(-MYELON_E_JCORRUPT, "part number out of range");
  if (h->ring_backend > DMP_BACKEND_MMAP)
    return header_fail(-MYELON_E_JCORRUPT, "unknown ring backend");
  size_t n = strnlen(h->ring_name, sizeof h->ring_name);
  if (n == sizeof h->ring_name)
    return header_fail(-MYELON_E_JCORRUPT, "ring name is not terminated");
  for (size_t i = n; i < sizeof h->ring_name; i++)
    if (h->ring_name[i])
      return header_fail(-MYELON_E_JCORRUPT, "ring name is not NUL-padded");
  for (size_t i = 0; i < sizeof h->reserved; i++)
    if (h->reserved[i])
      return header_fail(-MYELON_E_JCORRUPT, "reserved header bytes are not zero");
  if (bytes)
    return bytes_geometry(h);
  if (h->kind == MYELON_JOURNAL_FRAMED &&
      (h->frame_capacity < MYELON_FRAME_MIN_CAPACITY || h->frame_capacity > MYELON_FRAME_MAX_CAPACITY))
    return header_fail(-MYELON_E_JCORRUPT, "frame capacity out of range");
  return 0;
}

static bool version_known(uint32_t v)
{
  return v == MYELON_JOURNAL_VERSION_SLOTS || v == MYELON_JOURNAL_VERSION;
}

int myelon_journal_header_parse(const void *buf, size_t len, struct myelon_journal_info *out)
{
  if (!buf || !out)
    return -EINVAL;
  const uint64_t magic = MYELON_JOURNAL_MAGIC;
  size_t cmp = len < sizeof magic ? len : sizeof magic;
  if (memcmp(buf, &magic, cmp) != 0)
    return header_fail(-MYELON_E_JCORRUPT, "not a journal (bad magic)");
  if (len < MYELON_JOURNAL_HEADER_SIZE) {
    if (len >= 12) { /* the version is there: a newer format is not "torn" */
      uint32_t version;
      memcpy(&version, (const uint8_t *)buf + 8, 4);
      if (!version_known(version))
        return header_fail(-MYELON_E_JVERSION, "unsupported journal version");
    }
    return header_fail(-MYELON_E_TORN, "file ends inside its header");
  }
  struct jfile_header h;
  memcpy(&h, buf, sizeof h);
  if (!version_known(h.version)) {
    dmp_error_set("myelon_journal_header_parse", "journal version %u, this library reads versions 1 to %u",
                  h.version, MYELON_JOURNAL_VERSION);
    return -MYELON_E_JVERSION;
  }
  if (myelon_crc32c(0, &h, offsetof(struct jfile_header, header_crc)) != h.header_crc)
    return header_fail(-MYELON_E_JCORRUPT, "header checksum mismatch");
  int rc = header_fields(&h);
  if (rc < 0)
    return rc;
  memset(out, 0, sizeof *out);
  out->kind = (enum myelon_journal_kind)h.kind;
  out->frame_format = h.frame_format;
  out->slot_size = h.slot_size;
  out->slot_align = h.slot_align;
  out->frame_capacity = h.frame_capacity;
  out->flags = h.flags;
  out->ring_capacity = h.ring_capacity;
  out->ring_epoch = h.ring_epoch;
  out->type_tag = h.type_tag;
  out->created_ns = h.created_ns;
  out->recording_id = h.recording_id;
  out->part = h.part;
  out->ring_backend = h.ring_backend;
  memcpy(out->ring_name, h.ring_name, sizeof out->ring_name);
  return 0;
}

/* ---- records ----------------------------------------------------------- */

int myelon_journal_record_header(void *hdr, const struct myelon_journal_record *rec, uint32_t data_crc)
{
  if (!hdr || !rec || rec->len > MYELON_JOURNAL_MAX_PAYLOAD || (rec->flags & ~MYELON_JREC_F_KNOWN))
    return -EINVAL;
  struct jrec_header h = {
      .magic = MYELON_JOURNAL_RECORD_MAGIC,
      .len = rec->len,
      .kind = rec->kind,
      .flags = rec->flags,
      .seq = rec->seq,
      .realtime_ns = rec->realtime_ns,
      .mono_ns = rec->mono_ns,
      .data_crc = data_crc,
      .msg_id = rec->msg_id,
  };
  h.header_crc = myelon_crc32c(0, (const uint8_t *)&h + 8, sizeof h - 8);
  memcpy(hdr, &h, sizeof h);
  return 0;
}

int myelon_journal_record_encode(void *dst, size_t cap, const struct myelon_journal_record *rec)
{
  if (!dst || !rec || (rec->len && !rec->data))
    return -EINVAL;
  if (rec->len > MYELON_JOURNAL_MAX_PAYLOAD || (rec->flags & ~MYELON_JREC_F_KNOWN))
    return -EINVAL;
  uint64_t size = myelon_journal_record_size(rec->len);
  if (size > cap)
    return -ENOSPC;
  int rc = myelon_journal_record_header(dst, rec, myelon_crc32c(0, rec->data, rec->len));
  if (rc < 0)
    return rc;
  uint8_t *d = dst;
  if (rec->len)
    memcpy(d + MYELON_JOURNAL_RECORD_HEADER, rec->data, rec->len);
  memset(d + MYELON_JOURNAL_RECORD_HEADER + rec->len, 0, size - MYELON_JOURNAL_RECORD_HEADER - rec->len);
  return (int)size;
}

/* Could `len` bytes at `p` be the start of a record cut short? Only if
 * they agree with the magic as far as they go. */
static bool magic_prefix(const uint8_t *p, size_t len)
{
  const uint32_t magic = MYELON_JOURNAL_RECORD_MAGIC;
  return memcmp(p, &magic, len < 4 ? len : 4) == 0;
}

int myelon_journal_record_parse(const void *buf, size_t len, struct myelon_journal_record *out)
{
  if (!buf || !out)
    return -EINVAL;
  const uint8_t *p = buf;
  if (len < MYELON_JOURNAL_RECORD_HEADER)
    return magic_prefix(p, len) ? -MYELON_E_TORN : -MYELON_E_JCORRUPT;
  struct jrec_header h;
  memcpy(&h, p, sizeof h);
  if (h.magic != MYELON_JOURNAL_RECORD_MAGIC)
    return -MYELON_E_JCORRUPT;
  if (myelon_crc32c(0, p + 8, sizeof h - 8) != h.header_crc)
    return -MYELON_E_JCORRUPT;
  if (h.len > MYELON_JOURNAL_MAX_PAYLOAD || (h.flags & ~MYELON_JREC_F_KNOWN) || h.reserved != 0)
    return -MYELON_E_JCORRUPT;
  uint64_t size = myelon_journal_record_size(h.len);
  if (size > len)
    return -MYELON_E_TORN; /* the header vouches for the length: the rest is missing */
  const uint8_t *data = p + MYELON_JOURNAL_RECORD_HEADER;
  if (myelon_crc32c(0, data, h.len) != h.data_crc)
    return -MYELON_E_JCORRUPT;
  for (uint64_t i = MYELON_JOURNAL_RECORD_HEADER + h.len; i < size; i++)
    if (p[i])
      return -MYELON_E_JCORRUPT;
  *out = (struct myelon_journal_record){
      .data = data,
      .len = h.len,
      .kind = h.kind,
      .flags = h.flags,
      .msg_id = h.msg_id,
      .seq = h.seq,
      .realtime_ns = h.realtime_ns,
      .mono_ns = h.mono_ns,
  };
  return (int)size;
}
