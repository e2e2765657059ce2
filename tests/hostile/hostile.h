/**
 * @file hostile.h
 * @brief Shared definitions of the hostile-peer suite (suite 'hostile'):
 * the roles' exit codes, the scribble target classes, the stream kinds and
 * the deterministic content of each stream.
 *
 * Three executables take part in one scenario (test_hostile.c drives it):
 *   hostile_role producer|consumer   a real participant on a real ring;
 *   hostile_scribbler                maps the LIVE ring (and its counters
 *                                    segment) read-write and writes
 *                                    seeded random values over it.
 * Both take --mmap for a ring on the MMAP backend (the name is then the
 * ring file's path); without it the ring is a POSIX shm segment.
 * What must hold: every participant ends (normally or with a clean error
 * return), none is killed by a signal, none hangs (the driver's watchdog
 * kills it, prints where it was and fails the test), and under the
 * sanitizer build no report is written.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stdint.h>

/* Exit codes of hostile_role. Everything else (1 included: ASan's default,
 * 128 + n: killed by signal n) fails the scenario. */
#define HX_OK 0        /**< the whole stream was handled */
#define HX_SETUP 2     /**< create/attach refused (a clean error: header scribbled) */
#define HX_STOPPED 3   /**< a call returned an error and the role stopped (OWNERDEAD, STALLED, ...) */
#define HX_GAVE_UP 4   /**< no progress within the role's own bound (every call returned) */
#define HX_ENDLESS 5   /**< a consumer was handed 20 times more than was ever published:
                            an endless stream of stale slots (fails the scenario) */
#define HX_IDENTITY 6  /**< the ring's epoch or type tag changed under an attached consumer
                            (fails: they are read once, at attach) */
#define HX_USAGE 64    /**< bad arguments (a bug in the test) */

/** Is `code` an allowed exit status of a role? */
static inline int hx_clean_exit(int code)
{
  return code == HX_OK || code == HX_SETUP || code == HX_STOPPED || code == HX_GAVE_UP;
}

/* Scribble target classes (bit mask, hostile_scribbler --targets). */
#define HT_HEADER 0x01u   /**< segment header: magic, geometry, epoch, fingerprint, ready, ... */
#define HT_CONTROL 0x02u  /**< producer cursor, waiter counts, table seq/hwm, gate limit */
#define HT_TABLE 0x04u    /**< consumer-table entries: cursor, state, flags, pid, generation, id */
#define HT_SLOTS 0x08u    /**< random bytes anywhere in the slots */
#define HT_FRAMES 0x10u   /**< Layer 1 frame header fields (len, kind, flags, frag, msg_id, total) */
#define HT_COUNTERS 0x20u /**< the counters companion segment <name>.cnt */
#define HT_ALL 0x3fu      /**< every class a single-producer ring has */
/* Multi-producer rings only (kind mp; layout.h, "Many producers"): */
#define HT_PRODUCERS 0x40u /**< producer-table entries (intent, state, pid, ...), mp_claim, mp_tombstones */
#define HT_MARKERS 0x80u   /**< the per-slot publish markers (data / tombstone / other laps) */
#define HT_N_CLASSES 8

/** Stream kinds (the --kind argument of both executables). HK_MP: the
 * raw stream on a multi-producer ring written by two producer processes
 * (the creator and one that attaches), each event carrying its ring
 * sequence and checksum. HK_BYTES: the framed stream's messages
 * (hostile_msg_len/byte) as records of a byte ring (DMP_RING_BYTES; the
 * scribbler's HT_FRAMES then hits record header fields). HK_FBYTES: the
 * framed stream on a framed byte ring (MYELON_FRAME_BYTES, frame.h): one
 * record per message, the frame header inside the record's payload; the
 * scribbler's HT_FRAMES hits the record header (length, kind, reserved,
 * seq) and the frame header behind it (len, kind, flags, frag, msg_id,
 * total) alike. */
enum hk_kind { HK_RAW, HK_COMPACT, HK_ALIGNED, HK_TYPED, HK_MP, HK_BYTES, HK_FBYTES };

/* Raw (Layer 0) stream: event i carries i and ts_checksum(i). */
#define HOSTILE_RAW_SLOT 64u
struct hostile_event {
  int64_t seq;
  uint64_t sum;
  uint8_t pad[HOSTILE_RAW_SLOT - 16];
};

/* Framed stream: message i has hostile_msg_len(i) bytes, byte j is
 * hostile_msg_byte(i, j), the first 8 bytes (when present) hold i. */
#define HOSTILE_FRAME_CAP 48u /* small: most messages take several frames */
static inline uint32_t hostile_msg_len(uint64_t i)
{
  return (uint32_t)((i * 37u) % 301u);
}
static inline uint8_t hostile_msg_byte(uint64_t i, uint32_t j)
{
  return (uint8_t)(i * 131u + j * 7u + 1u);
}

#endif /* HOSTILE_H */
