/**
 * @file journal.h
 * @brief The journal: a ring's stream on disk. File format (versions 1
 * and 2), CRC32C, pure parsers, the writer (io_uring or pwrite) and the
 * reader.
 *
 * A journal is a sequence of *parts*, regular files named `<base>.0001`,
 * `<base>.0002`, ... (a new part when the current one reaches the rotation
 * size). Each part is a file header followed by records. All integers are
 * native endianness (journals are read on the host that wrote them, like
 * the rings; a journal from a host of the other endianness fails the magic
 * check instead of being misread).
 *
 * File header: 256 bytes at offset 0 of every part.
 *
 *   offset size  field
 *   ------ ----  ------------------------------------------------------------
 *   0      8     magic           MYELON_JOURNAL_MAGIC, the bytes "MYELJRNL"
 *   8      4     version         1 for a slot ring's journal, 2 for a byte
 *                                ring's (MYELON_JOURNAL_F_BYTES; see below)
 *   12     4     header_size     256; records start here
 *   16     4     kind            0 raw (Layer 0 events), 1 framed (Layer 1 messages)
 *   20     4     frame_format    framed: 0 compact, 1 aligned, 2 bytes
 *                                (MYELON_FRAME_BYTES, version 2 only); raw: 0
 *   24     4     slot_size       the recorded ring's slot size (both kinds);
 *                                byte ring: its block
 *   28     4     slot_align      the recorded ring's slot alignment; byte
 *                                ring: its block
 *   32     4     frame_capacity  framed: payload bytes per frame; raw: 0;
 *                                byte ring: the largest record payload it
 *                                took (raw: dmp_consumer_bytes_max(); framed:
 *                                the largest message, that minus 16)
 *   36     4     flags           MYELON_JOURNAL_F_*; unknown bits are rejected
 *   40     8     ring_capacity   slots of the recorded ring; byte ring: its
 *                                size in bytes (what DMP_RING_BYTES's
 *                                `capacity` takes)
 *   48     8     ring_epoch      creation epoch of the recorded ring
 *   56     8     type_tag        the recorded ring's Layer 0 type tag
 *   64     8     created_ns      CLOCK_REALTIME when this part was created
 *   72     8     recording_id    random, the same in every part of one journal
 *   80     4     part            1-based index of this part (= its file suffix)
 *   84     4     ring_backend    0 POSIX shm, 1 mmap file (informational)
 *   88     40    reserved        zero
 *   128    124   ring_name       NUL-terminated, NUL-padded (informational;
 *                                longer names are cut, F_NAME_CUT is set)
 *   252    4     header_crc      CRC32C of bytes [0, 252)
 *
 * Version 2 (a journal of a byte ring, disruptor_mp/bytes.h) has the same
 * layout; it differs in what fields 20-47 mean (above) and in the flag
 * MYELON_JOURNAL_F_BYTES, which a version 2 header always has and a
 * version 1 header never has. Its geometry is checked on parse: block a
 * power of two in [16, 4096] with slot_align = slot_size, ring bytes a
 * power of two of at least two blocks, largest record at most half the
 * ring minus 16 (framed: 32) and at most DMP_BYTES_MAX_RECORD. A journal
 * of a slot ring is still written as version 1, so readers of version 1
 * (libmyelon before 0.5) read it as before; they refuse a version 2 file
 * with MYELON_E_JVERSION at open (their check: version != 1), never
 * misreading a byte ring's records as slots.
 *
 * Record: a 48-byte header, the payload, zero padding to a multiple of 8
 * (so every record starts 8-byte aligned; its size is
 * myelon_journal_record_size(len)).
 *
 *   offset size  field
 *   ------ ----  ------------------------------------------------------------
 *   0      4     magic           MYELON_JOURNAL_RECORD_MAGIC, the bytes "MYRC"
 *                                (what the reader's resync scans for)
 *   4      4     header_crc      CRC32C of header bytes [8, 48)
 *   8      4     len             payload bytes, <= MYELON_JOURNAL_MAX_PAYLOAD
 *   12     1     kind            framed: the message kind; raw: 0
 *   13     1     flags           MYELON_JREC_F_*; unknown bits are rejected
 *   14     2     reserved        zero
 *   16     8     seq             raw: the ring sequence of the event;
 *                                framed: the message's ordinal in the recording
 *   24     8     realtime_ns     CLOCK_REALTIME when the recorder took it (the
 *                                recorder stamps each batch of events it finds
 *                                waiting once: they were all there by then)
 *   32     8     mono_ns         CLOCK_MONOTONIC at the same moment (pacing)
 *   40     4     data_crc        CRC32C of the payload
 *   44     4     msg_id          framed: the Layer 1 message id; raw: 0
 *   48     len   payload         raw: the whole slot (slot_size bytes);
 *                                framed: the reassembled message;
 *                                byte ring, raw: the record's payload (0 ..
 *                                frame_capacity bytes; seq = its first
 *                                block's sequence); byte ring, framed: the
 *                                message (the frame header is not kept)
 *
 * Two checksums, so that a damaged length is never trusted: the header CRC
 * vouches for `len` before the reader uses it. A record whose header is
 * valid but whose payload runs past the end of the last part, or a tail
 * too short for a header that starts like one (or all zero bytes: space a
 * crash left unwritten), is a *torn tail* (MYELON_E_TORN): the writer
 * crashed while appending, and every record before it is intact. Anything
 * else that fails a check is *corrupted* (MYELON_E_JCORRUPT); the reader
 * reports where and either stops there or resynchronises at the next
 * 8-aligned offset that holds a whole valid record.
 *
 * CRC32C is the Castagnoli polynomial (reflected 0x82F63B78, initial and
 * final XOR 0xFFFFFFFF): CRC32C("123456789") = 0xE3069283. The SSE4.2
 * instruction is used when the CPU has it, the table-driven software
 * version otherwise; both give the same value for every input.
 *
 * Everything that parses bytes (myelon_journal_header_parse(),
 * myelon_journal_record_parse()) is a pure function of its arguments, safe
 * on arbitrary input (fuzzed by fuzz/fuzz_journal.c).
 */
#ifndef MYELON_JOURNAL_H
#define MYELON_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <myelon/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MYELON_JOURNAL_MAGIC UINT64_C(0x4c4e524a4c45594d) /**< "MYELJRNL" as little-endian bytes */
/** The newest format this library reads and writes: 2, a byte ring's
 * journal (MYELON_JOURNAL_F_BYTES). A slot ring's journal is written as
 * MYELON_JOURNAL_VERSION_SLOTS. */
#define MYELON_JOURNAL_VERSION 2u
/** The version of a slot ring's journal (the only one before 0.5). */
#define MYELON_JOURNAL_VERSION_SLOTS 1u
#define MYELON_JOURNAL_HEADER_SIZE 256u
#define MYELON_JOURNAL_NAME_MAX 123u /**< ring name bytes kept, without the NUL */
#define MYELON_JOURNAL_RECORD_MAGIC UINT32_C(0x4352594d) /**< "MYRC" as little-endian bytes */
#define MYELON_JOURNAL_RECORD_HEADER 48u
#define MYELON_JOURNAL_ALIGN 8u
#define MYELON_JOURNAL_MAX_PAYLOAD (UINT32_C(1) << 30) /**< 1 GiB: larger records are refused */
#define MYELON_JOURNAL_MAX_PARTS 9999u /**< suffixes .0001 .. .9999 */

/** What a journal holds. */
enum myelon_journal_kind {
  MYELON_JOURNAL_RAW = 0,    /**< Layer 0 events: each payload is one whole slot (byte ring: one record) */
  MYELON_JOURNAL_FRAMED = 1, /**< Layer 1 messages: each payload is one message */
};

/* File header flags. */
#define MYELON_JOURNAL_F_NON_GATING 0x1u /**< recorded by a non-gating consumer: may have gaps */
#define MYELON_JOURNAL_F_NAME_CUT 0x2u   /**< ring_name was longer than MYELON_JOURNAL_NAME_MAX */
#define MYELON_JOURNAL_F_BYTES 0x4u     /**< recorded from a byte ring (DMP_RING_BYTES or MYELON_FRAME_BYTES): version 2 */
#define MYELON_JOURNAL_F_KNOWN (MYELON_JOURNAL_F_NON_GATING | MYELON_JOURNAL_F_NAME_CUT | MYELON_JOURNAL_F_BYTES)

/* Record flags. */
#define MYELON_JREC_F_GAP 0x1u /**< events or messages were lost just before this record */
#define MYELON_JREC_F_KNOWN (MYELON_JREC_F_GAP)

/** The file header, as read or to be written (see the table above). */
struct myelon_journal_info {
  enum myelon_journal_kind kind;
  uint32_t frame_format;   /**< enum myelon_frame_format (framed) */
  uint32_t slot_size;      /**< byte ring: its block */
  uint32_t slot_align;     /**< byte ring: its block */
  uint32_t frame_capacity; /**< framed; byte ring: its largest record payload (framed: message) */
  uint32_t flags;          /**< MYELON_JOURNAL_F_*; F_BYTES: written as version 2 */
  uint64_t ring_capacity;  /**< slots; byte ring: bytes */
  uint64_t ring_epoch;
  uint64_t type_tag;
  int64_t created_ns;
  uint64_t recording_id;
  uint32_t part;           /**< 1-based */
  uint32_t ring_backend;   /**< enum dmp_backend */
  char ring_name[MYELON_JOURNAL_NAME_MAX + 1];
};

/** One record: its metadata and payload. From the parser and the reader,
 * `data` points into their buffer; to the writer, it is the caller's. */
struct myelon_journal_record {
  const void *data;
  uint32_t len;
  uint8_t kind;
  uint8_t flags;        /**< MYELON_JREC_F_* */
  uint32_t msg_id;
  uint64_t seq;
  int64_t realtime_ns;
  int64_t mono_ns;
  uint32_t part;        /**< reader: the part it came from (1-based) */
  uint64_t offset;      /**< reader: its byte offset in that part */
};

/* ---- CRC32C ------------------------------------------------------------ */

/**
 * CRC32C of `len` bytes, continuing `crc` (0 to start): crc32c(crc32c(0, a),
 * b) == crc32c(0, a || b). Uses SSE4.2 when the CPU has it. Pure, thread-safe.
 */
MYELON_API uint32_t myelon_crc32c(uint32_t crc, const void *buf, size_t len);

/** The table-driven software CRC32C (same results as myelon_crc32c()). */
MYELON_API uint32_t myelon_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/** True if myelon_crc32c() uses the CPU's CRC32 instruction. */
MYELON_API bool myelon_crc32c_hw(void);

/* ---- format: pure encoders and parsers ---------------------------------- */

/** Bytes a record with a payload of `len` bytes takes: 48 + len rounded up to 8. */
static inline uint64_t myelon_journal_record_size(uint64_t len)
{
  return (MYELON_JOURNAL_RECORD_HEADER + len + (MYELON_JOURNAL_ALIGN - 1)) & ~(uint64_t)(MYELON_JOURNAL_ALIGN - 1);
}

/**
 * Write the 256-byte file header for `info` into `buf`, version 2 if
 * `info->flags` has MYELON_JOURNAL_F_BYTES, else version 1. Pure.
 * @return 0, or -EINVAL for NULL, an unknown kind or flags, part 0, or a
 *         frame format the version does not have (MYELON_FRAME_BYTES
 *         needs F_BYTES and framed; F_BYTES framed needs it).
 */
MYELON_API int myelon_journal_header_encode(const struct myelon_journal_info *info, void *buf);

/**
 * Parse and validate a file header from `len` bytes at `buf`. Pure; any
 * bytes are safe.
 * @return 0 and `*out`;
 *  -MYELON_E_TORN     fewer than 256 bytes, and those are a prefix of a header
 *                     (a part whose creation was cut short);
 *  -MYELON_E_JVERSION the magic is right but the version is not 1 or 2;
 *  -MYELON_E_JCORRUPT anything else: not a journal, bad size, CRC, kind,
 *                     format, flags, part, unterminated name, nonzero reserved,
 *                     a version that disagrees with F_BYTES, a byte ring's
 *                     geometry out of its bounds;
 *  -EINVAL            NULL `buf` or `out`.
 */
MYELON_API int myelon_journal_header_parse(const void *buf, size_t len, struct myelon_journal_info *out);

/**
 * Encode a record (`rec`'s metadata, `rec->len` bytes at `rec->data`) into
 * `dst` (`cap` bytes). `rec->part` and `rec->offset` are ignored. Pure.
 * @return the bytes written (myelon_journal_record_size(len)); -ENOSPC if
 *         `cap` is too small; -EINVAL for NULL, a payload above
 *         MYELON_JOURNAL_MAX_PAYLOAD or unknown flags.
 */
MYELON_API int myelon_journal_record_encode(void *dst, size_t cap, const struct myelon_journal_record *rec);

/**
 * The 48-byte record header for `rec` whose payload has CRC32C `data_crc`
 * (for writers that copy the payload themselves). Pure.
 * @return 0 or -EINVAL (as myelon_journal_record_encode()).
 */
MYELON_API int myelon_journal_record_header(void *hdr, const struct myelon_journal_record *rec, uint32_t data_crc);

/**
 * Parse and validate the record at the start of `len` bytes at `buf`.
 * Pure; any bytes are safe; never reads beyond `len`.
 * @return the record's size in bytes (> 0, a multiple of 8) and `*out`
 *         (`out->data` points into `buf`; `part` and `offset` are 0);
 *  -MYELON_E_TORN     the bytes end inside the record: fewer than 48 bytes
 *                     that begin like a record (a prefix of the magic, or
 *                     the whole magic), or a valid header whose payload and
 *                     padding need more than `len` bytes;
 *  -MYELON_E_JCORRUPT bad magic, header CRC, length, flags, reserved bits,
 *                     payload CRC or nonzero padding;
 *  -EINVAL            NULL `buf` or `out`.
 */
MYELON_API int myelon_journal_record_parse(const void *buf, size_t len, struct myelon_journal_record *out);

/* ---- writer ------------------------------------------------------------ */

/** How the writer does its I/O. */
enum myelon_journal_io {
  MYELON_JOURNAL_IO_AUTO = 0,   /**< io_uring if built with it and the kernel allows it, else pwrite */
  MYELON_JOURNAL_IO_URING = 1,  /**< io_uring or fail (-EOPNOTSUPP when not built with liburing) */
  MYELON_JOURNAL_IO_PWRITE = 2, /**< synchronous pwrite(2) */
};

/** What a sync flushes. */
enum myelon_journal_writer_sync {
  MYELON_JOURNAL_FDATASYNC = 0, /**< data and the metadata needed to read it (file size) */
  MYELON_JOURNAL_FSYNC = 1,     /**< data and all metadata */
};

/* Writer flags. */
#define MYELON_JOURNAL_W_OVERWRITE 0x1u /**< remove an existing journal of that base first */
#define MYELON_JOURNAL_W_KNOWN (MYELON_JOURNAL_W_OVERWRITE)

struct myelon_journal_writer_config {
  const char *path;          /**< base path: parts are `<path>.0001`, ... ; required */
  struct myelon_journal_info info; /**< header of every part (part, created_ns and
                                        recording_id are filled in by the writer) */
  uint64_t rotate_bytes;     /**< start a new part before one would exceed this size;
                                  0 = never. A record larger than it gets a part of its own */
  enum myelon_journal_io io; /**< default AUTO */
  uint32_t buffer_size;      /**< bytes per write buffer; default 1 MiB, 4 KiB .. 256 MiB */
  uint32_t buffers;          /**< write buffers = most writes in flight; default 8, 2 .. 64 */
  enum myelon_journal_writer_sync sync; /**< what myelon_journal_writer_sync() does; default FDATASYNC */
  uint32_t mode;             /**< permission bits of new parts; default 0600 */
  uint32_t flags;            /**< MYELON_JOURNAL_W_* */
  uint64_t reserved[8]; /**< zero: room for later fields (disruptor_mp/config.h, "Growing a configuration") */
};

/** Counts of a writer. Records are counted whole: a record is *written*
 * when every byte of it and of every record before it reached the file
 * (the page cache), *durable* when a sync covering it completed. */
struct myelon_journal_writer_stats {
  uint64_t appended;      /**< records accepted by myelon_journal_writer_append() */
  uint64_t written;       /**< records fully written (in order) */
  uint64_t durable;       /**< records covered by a completed sync */
  uint64_t bytes_appended;
  uint64_t bytes_written;
  uint64_t syncs;         /**< syncs completed */
  uint32_t parts;         /**< parts created */
  uint32_t in_flight;     /**< writes submitted and not yet retired */
  uint64_t write_errors;  /**< failed writes or syncs */
  int error;              /**< first error (negated errno), 0 if none; sticky */
  const char *backend;    /**< "io_uring" (registered buffers, WRITE_FIXED), "io_uring-unregistered"
                               (the kernel refused to register them, e.g. the memlock limit:
                               plain WRITE from the same buffers) or "pwrite"; a static string */
  uint64_t reserved[4]; /**< zeroed by the library: room for later fields (ABI 0.1 keeps this size) */
};

struct myelon_journal_writer;

/** Defaults for every field but `path`, which is required. `cfg` must
 * not be NULL. */
MYELON_API void myelon_journal_writer_config_init(struct myelon_journal_writer_config *cfg);

/**
 * Create a journal at `cfg->path` (its first part, header written) and
 * set up the I/O: with io_uring, `buffers` buffers registered with the
 * ring (io_uring_register_buffers) and written with IORING_OP_WRITE_FIXED.
 * @return 0 and `*out`; -EINVAL / -DMP_E_BADCONFIG (bad field, named in
 *         dmp_last_error()); -EEXIST (a journal of that base exists and
 *         MYELON_JOURNAL_W_OVERWRITE is not set); -EOPNOTSUPP (IO_URING
 *         requested but unavailable); -errno from open/write.
 */
MYELON_API int myelon_journal_writer_open(const struct myelon_journal_writer_config *cfg,
                                          struct myelon_journal_writer **out);

/**
 * Append one record: copy it into the current buffer; a full buffer is
 * submitted as one write. Blocks only when every buffer is in flight, until
 * the oldest write completes (the bound on writes in flight). Never
 * blocks on a sync. One thread at a time.
 * @return 0; -EINVAL (NULL, payload too big, unknown flags); or the
 *         writer's sticky error (e.g. -ENOSPC, -EFBIG, -EIO): after a
 *         write failed, nothing more is appended and the stats say how
 *         many records were not written.
 */
MYELON_API int myelon_journal_writer_append(struct myelon_journal_writer *w, const struct myelon_journal_record *rec);

/** Submit the partly filled buffer (if any) and reap completed writes,
 * without waiting. @return 0 or the sticky error. */
MYELON_API int myelon_journal_writer_flush(struct myelon_journal_writer *w);

/**
 * Start a sync without waiting for it (io_uring: an FSYNC with IOSQE_IO_DRAIN,
 * which starts only after every write submitted before it completed; pwrite:
 * a plain fdatasync/fsync, which blocks). At most one sync is in flight; a
 * call while one is still running does nothing.
 *
 * Durability guarantee: when a sync completes without error, every record
 * whose write was submitted before the sync was (that is, every record
 * appended before this call) survives a crash of the process or of the
 * machine; `durable` in the stats counts them. Records appended later may
 * or may not survive; after a crash the reader reports the part they were
 * in as torn (or corrupted, where a later write completed before an
 * earlier one: the reader's skip mode recovers what follows).
 * @return 0 or the sticky error.
 */
MYELON_API int myelon_journal_writer_sync_start(struct myelon_journal_writer *w);

/**
 * Flush, wait for every write, then sync (blocking): on return 0, every
 * record appended so far is durable. @return 0 or the sticky error.
 */
MYELON_API int myelon_journal_writer_sync(struct myelon_journal_writer *w);

/** Reap completions without waiting. @return 0 or the sticky error. */
MYELON_API int myelon_journal_writer_poll(struct myelon_journal_writer *w);

/** Current counts. Both arguments must be valid. */
MYELON_API void myelon_journal_writer_stats(const struct myelon_journal_writer *w,
                                            struct myelon_journal_writer_stats *st);

/**
 * Flush, wait for every write (no sync: call myelon_journal_writer_sync() first
 * for durability), close the parts and free the writer. `final` (may be
 * NULL) receives the last counts: `appended - written` records were not
 * written. Accepts NULL `w` (returns 0).
 * @return 0, or the first write error.
 */
MYELON_API int myelon_journal_writer_close(struct myelon_journal_writer *w,
                                           struct myelon_journal_writer_stats *final);

/* ---- reader ------------------------------------------------------------ */

/* Reader flags. */
#define MYELON_JOURNAL_SKIP_CORRUPT 0x1u /**< after reporting a corrupted record, resume at the next valid one */
#define MYELON_JOURNAL_R_KNOWN (MYELON_JOURNAL_SKIP_CORRUPT)

struct myelon_journal_reader;

/** Counts of a reader. */
struct myelon_journal_reader_stats {
  uint64_t records;       /**< records delivered */
  uint64_t corrupt;       /**< corrupted regions reported */
  uint64_t skipped_bytes; /**< bytes passed over by resynchronisation */
  uint32_t parts;         /**< parts found */
  bool torn;              /**< the journal ended in a torn tail */
  uint64_t reserved[4]; /**< zeroed by the library: room for later fields (ABI 0.1 keeps this size) */
};

/**
 * Open a journal: `path` is the base of parts `<path>.0001`, `.0002`, ...
 * (consecutive, same recording id), or the path of one part file.
 * Reads and validates the first part's header.
 * @return 0 and `*out`; -EINVAL (NULL, unknown flags); -ENOENT; -EACCES
 *         etc.; the errors of myelon_journal_header_parse() for the first
 *         part (detail in dmp_last_error()); -ENOMEM.
 */
MYELON_API int myelon_journal_reader_open(const char *path, uint32_t flags, struct myelon_journal_reader **out);

/** The first part's header. Valid until close. */
MYELON_API const struct myelon_journal_info *myelon_journal_reader_info(const struct myelon_journal_reader *r);

/**
 * Read the next record. `rec->data` points into the reader's buffer and
 * stays valid until the next call on this reader.
 * @return 1 and `*rec`; 0 at the clean end of the journal;
 *  -MYELON_E_TORN      the last part ends inside a record: every whole
 *                      record before it was delivered; returned again by
 *                      later calls;
 *  -MYELON_E_JCORRUPT  a corrupted record (or part header, or a part of
 *                      another recording) at myelon_journal_reader_where(); the
 *                      detail names part and offset. Without
 *                      MYELON_JOURNAL_SKIP_CORRUPT it is returned again by
 *                      later calls; with it, the next call resumes at the
 *                      next valid record (possibly in a later part);
 *  -EINVAL, -ENOMEM, -EIO and other errors of pread(2).
 */
MYELON_API int myelon_journal_reader_next(struct myelon_journal_reader *r, struct myelon_journal_record *rec);

/** Where the last record returned, or the last problem reported, is:
 * its part (1-based) and byte offset in that part. Both out-pointers may
 * be NULL. */
MYELON_API void myelon_journal_reader_where(const struct myelon_journal_reader *r, uint32_t *part, uint64_t *offset);

/**
 * Position the reader so that myelon_journal_reader_next() returns the first
 * record whose sequence is >= `seq` (parts whose successor starts at or
 * before `seq` are skipped by their first record; within a part the scan
 * is linear). @return 0 (also when no such record exists: next() then
 * returns 0 or the problem that ended the journal), or an error of
 * myelon_journal_reader_next() met on the way (stop mode).
 */
MYELON_API int myelon_journal_reader_seek_seq(struct myelon_journal_reader *r, uint64_t seq);

/** As myelon_journal_reader_seek_seq(), by `realtime_ns` (the first record taken
 * at or after that CLOCK_REALTIME time). */
MYELON_API int myelon_journal_reader_seek_time(struct myelon_journal_reader *r, int64_t realtime_ns);

/** Back to the first record of the first part. @return 0 or an I/O error. */
MYELON_API int myelon_journal_reader_rewind(struct myelon_journal_reader *r);

/** Current counts. */
MYELON_API void myelon_journal_reader_stats(const struct myelon_journal_reader *r,
                                            struct myelon_journal_reader_stats *st);

/** Close the files and free the reader. Accepts NULL. */
MYELON_API void myelon_journal_reader_close(struct myelon_journal_reader *r);

/**
 * Path of part `part` of journal `base` ("<base>.%04u") into `out`.
 * @return 0, -EINVAL (part 0 or above MYELON_JOURNAL_MAX_PARTS), -ENAMETOOLONG.
 */
MYELON_API int myelon_journal_part_path(const char *base, uint32_t part, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_JOURNAL_H */
