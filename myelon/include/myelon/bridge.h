/**
 * @file bridge.h
 * @brief A link that carries one ring (framed, Layer 1, or raw, Layer 0) from host A to host B over ZeroMQ.
 *
 * Library `myelon_bridge` (pkg-config `myelon_bridge`, Requires: myelon
 * libzmq), built only when libzmq is found (-Dbridge=auto|enabled|disabled):
 * programs that never leave the host never link ZeroMQ.
 *
 * On A an *egress* attaches to the local ring as a durable consumer (it
 * gates the producer like any local reader) and sends every message (kind
 * byte, payload, a link sequence number) to B. On B an *ingress* creates a
 * ring of the same geometry and republishes each message into it; B's
 * readers attach to it exactly as they would on A.
 *
 * Framed and raw rings: a framed ring's messages (Layer 1) travel whole,
 * with their kind byte. A raw Layer 0 ring (dmp_producer_create(), no
 * framing) travels slot by slot: each slot is one message of exactly the
 * ring's slot size (Layer 0 records no used length: a slot is all of its
 * bytes, those past what its producer wrote being zero), kind 0. The
 * egress tells the two apart by the ring's type tag: a framed ring's tag
 * is the fingerprint of its frame format and capacity
 * (myelon_frame_tag()); any other tag, 0 included, is a raw ring. The
 * ingress is told which to create (MYELON_BRIDGE_RAW with `slot_size`,
 * `slot_align`, `ring_capacity` and `type_tag`); a mismatch is refused in
 * the handshake (below). Everything else (credit window, acknowledgements,
 * state files, producer restarts, liveness) works the same for both: for
 * a raw ring read "slot" for "message" and "frame". A multi-producer ring
 * (DMP_RING_MULTI_PRODUCER) on A is read like any other (the egress is an
 * ordinary gating consumer): tombstones are stepped over and never sent,
 * the slots its producers published arrive in the ring's order. B's ring
 * is always a single-producer ring (the ingress is its only producer), so
 * producers cannot join it on B.
 *
 * Byte rings (disruptor_mp/bytes.h): a framed MYELON_FRAME_BYTES ring and
 * a raw DMP_RING_BYTES ring travel record by record: each record (one
 * message of 0 B up to the ring's largest) is sent whole in one DATA
 * frame, or several small ones in a BATCH, with its kind byte (framed) or
 * kind 0 (raw: a record is its payload, no framing), never as blocks.
 * The egress tells a byte ring by its segment flag (DMP_SEG_F_BYTES) and
 * a framed one by its type tag (myelon_frame_tag(MYELON_FRAME_BYTES, 0)).
 * The ingress is told which to create: `format` MYELON_FRAME_BYTES (a
 * framed byte ring) or MYELON_BRIDGE_RAW | MYELON_BRIDGE_BYTES (a raw
 * one, with `type_tag`), of `ring_bytes` bytes in blocks of `block`; the
 * HELLO carries the shape (bytes, framed or raw), the ring's bytes, its
 * block, its largest record and its type tag, and a mismatch is refused
 * naming the field ("format: egress ring bytes, ingress ring compact",
 * "ring_bytes: ...", "block: ...", "max_message: ...", "type_tag: ...").
 * Credit, acknowledgements, state files (positions are the ring's
 * blocks), liveness and producer restarts work as for slot rings; a
 * record is at most half its ring, so an egress with a state file can
 * always hold it until acknowledged. Padding records are stepped over
 * and never sent; a record that fails its checks on A (-DMP_E_CORRUPT)
 * is lost for every reader on A too: the egress counts it (`errors`),
 * resynchronises and goes on. A multi-producer byte ring on A (where
 * libdisruptor_mp allows one) is read like any other.
 *
 * Wire compatibility of byte rings: their HELLO has a format an ingress
 * of an earlier version does not know (MYELON_FRAME_BYTES, or
 * MYELON_BRIDGE_FORMAT_RAW_BYTES), so it drops that HELLO as malformed
 * (logged there) and creates nothing; it never takes it for a slot ring.
 * It cannot answer with a REFUSE, so the egress keeps offering its HELLO
 * and, after MYELON_BRIDGE_OLD_PEER_MS without an answer, logs that the
 * ingress may be of an earlier version that does not carry byte rings.
 * An egress of an earlier version refuses a byte ring on A itself.
 *
 * Sockets: the ingress binds a ROUTER, the egress connects a DEALER.
 * DEALER/ROUTER rather than PUSH/PULL: data and acknowledgements share one
 * connection (one heartbeat, one CURVE handshake, one reconnect), and the
 * ROUTER tells the ingress which peer sent what, so it serves one link
 * session at a time and ignores a stale or stray peer. Neither socket
 * drops on a high-water mark here: the DEALER blocks (the egress sees
 * EAGAIN and retries), and the egress never has more than its credit
 * window in flight.
 *
 * Lossless and back-pressured: the egress copies at most `window` messages
 * (and `window_bytes` bytes) out of its ring before B acknowledges them, so
 * the producer on A waits for the egress exactly as for a slow local reader
 * once the window is full. Copies stay in the egress until acknowledged and
 * are resent after a reconnect. Acknowledgements are cumulative and
 * coalesced: the ingress sends one once a quarter of the window (or of its
 * ring's frames, or 256 KiB) was applied since the last, or 1 ms after the
 * oldest message it covers was applied, and at once when PINGed; an egress
 * whose window is full PINGs for it. The egress's `rtt_ns` (stats) is thus
 * the send-to-acknowledgement time, up to that delay more than the link's
 * round trip.
 *
 * Batches: messages the egress took from its ring and has not sent yet (all
 * that accumulated while it was sending, nothing waits to fill a batch) go
 * as one BATCH frame of up to 32 KiB to an ingress that offered it
 * (FEATURES, after its WELCOME); each keeps its own sequence number, so
 * credit, acknowledgements, duplicates after a resend and the state files
 * work per message as for DATA. An ingress of an older version sends no
 * FEATURES and gets only DATA; an older egress ignores FEATURES.
 *
 * Egress crashes: with a state file (`state_path` on the egress) the egress
 * holds its ring slots on A until B acknowledged their message: it reads
 * ahead within the window without releasing (dmp_consumer_release_to()),
 * so its durable position on A moves only with B's acknowledgements (and
 * the window is then also bounded by A's ring). When it attaches, and
 * before each release, it records in the file where A's ring is released
 * to and which link sequence comes next. A restarted egress (after kill -9 too) resumes there: it reads the
 * unacknowledged messages again from A's ring under their old sequence
 * numbers, and the ingress drops those B had applied as duplicates, so B's
 * readers see every message once. A message longer than A's ring cannot be
 * held whole (its last frames need the room its first ones take): its
 * frames are released as they are read, so a crash of the egress before B
 * acknowledged such a message loses that message (logged once by the
 * egress; the ring's capacity is the bound on what is crash-safe). Without
 * a state file the egress releases each slot as it copies the message, and
 * a crash loses what it had in flight (at most `window` messages): a
 * restarted egress resumes after them. Limit: the restarted egress
 * attaches by name, and a producer on A that closes cleanly removes the
 * name (unless its ring has DMP_RING_KEEP): if A's producer ends while
 * the egress is down, what the dead egress had not sent is lost. Keep the
 * producer's ring (DMP_RING_KEEP, removed later by dmp_ring_gc()) where
 * that matters.
 *
 * Resumable: the ingress's WELCOME carries the next sequence it expects; the
 * egress resends from there. With a state file (`state_path`) the ingress
 * records each message before publishing it and, after a restart (kill -9
 * included), checks its old ring's producer cursor to know whether that
 * message made it: no message lost, none applied twice. The restarted
 * ingress creates a new ring (a new epoch): B's readers see a producer
 * restart, as they would if A's producer restarted.
 *
 * Producer restarts on A: when A's producer goes away the egress delivers
 * what it read, then tells the ingress (END), which closes B's ring: B's
 * readers read what was published, then get -DMP_E_OWNERDEAD, as they
 * would on A. The egress then waits for a new producer of the ring (a new
 * epoch), attaches to it and handshakes again; the ingress creates a new
 * ring for it (a new epoch on B), so B's readers attach again exactly as
 * after a local producer restart. With MYELON_BRIDGE_ONCE the egress
 * instead ends (myelon_bridge_run() returns -DMP_E_OWNERDEAD).
 *
 * Handshake: HELLO carries the ring's frame format (or "raw", or a byte
 * ring's shape), frame capacity (raw: slot size and alignment; byte rings:
 * the block), ring capacity (byte rings: its bytes), type tag and the
 * egress's max_message; the ingress refuses a mismatch with a REFUSE that
 * names the field ("format: egress ring raw, ingress ring compact",
 * "slot_size: ...", "slot_align: ...", "ring_capacity: ...",
 * "ring_bytes: ...", "block: ...", "type_tag: ..."), logged on both sides.
 *
 * Liveness: ZeroMQ heartbeats (ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL); the egress
 * drops a silent ingress's connection within `timeout_ms` and ZeroMQ
 * reconnects. On top, an egress with nothing to send PINGs every
 * `heartbeat_ms`, so an ingress that hears nothing from its egress for
 * `timeout_ms` (default 500 ms): no message, and on tcp:// no bytes of one
 * still arriving, in order or not (a message slower to cross than
 * `timeout_ms` does not count as silence, nor does TCP's recovery of a
 * lost segment meanwhile), knows the link, the egress or host A is dead: it closes its ring,
 * and B's readers, once they read what was published, get
 * -DMP_E_OWNERDEAD from their waits, as for a dead local producer. When
 * the link is back the ingress creates a new ring (a new epoch) and resumes
 * after the last message it applied; B's readers attach again, as after a
 * local producer restart. The ingress keeps hearing its link while B's
 * ring is full (a message waiting for room: a slow or stopped reader on
 * B): it answers the egress's PINGs and counts what arrives as life, so a
 * link that falls silent then is silence too, and B's other readers'
 * waits end as above; the message that waited, and what came behind it,
 * are applied in the next ring (the egress sends them again). What arrives
 * meanwhile is held in order, up to the egress's window and 64 more (an
 * egress that overruns its window is no longer heard until there is room,
 * and its link counts as alive). Limit: a message longer than B's whole
 * ring is published in one attempt of up to 10 s, during which the
 * ingress does not read its link (its silence timer starts again after
 * it). The egress PINGs whenever it sent nothing for a heartbeat in a
 * running session, also once A's producer is gone and it waits for B's
 * last acknowledgements. On A, an unreachable B is a consumer that makes
 * no progress: once the window is full the egress reads no further, so
 * A's producer sees the egress's entry stall (liveness.h: the alert after
 * its progress timeout, then -DMP_E_STALLED past grace, per the ring's
 * action), as it would see a hung local reader; a killed egress process is
 * a dead consumer (its kernel lock is gone) like any other.
 *
 * Security: tcp:// uses CurveZMQ unless `insecure` is set: both sides need
 * their own secret key file and the peer's public key file (Z85 text, as
 * written by myelon_bridge_keygen()); the ingress accepts only the client
 * key it was given (a ZAP handler). ipc:// is plain (the file system
 * permissions of the socket guard it).
 *
 * Wire format: myelon_bridge_wire_parse() below; every message is one
 * ZeroMQ frame with an 8-byte header ("MYB", version, type, 3 zero bytes);
 * BATCH and FEATURES are version 1 messages an older peer never receives
 * (BATCH) or ignores (FEATURES).
 *
 * Threading: a handle is used from one thread at a time.
 */
#ifndef MYELON_BRIDGE_H
#define MYELON_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <myelon/framed.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Messages in flight (bounded by MYELON_BRIDGE_DEFAULT_WINDOW_BYTES too):
 * the egress waits one link round trip per window, so a small window caps
 * a stream of small messages (64 gave 0.21-0.24x plain ZeroMQ's 64 B
 * stream in the bench). Kept below libzmq's default receive high-water
 * mark (1000 messages), so that an ingress whose ring is full still reads
 * ZeroMQ's heartbeats. */
#define MYELON_BRIDGE_DEFAULT_WINDOW 512u
#define MYELON_BRIDGE_DEFAULT_WINDOW_BYTES (32u << 20)   /**< bytes in flight (at least one message) */
#define MYELON_BRIDGE_DEFAULT_HEARTBEAT_MS 100
#define MYELON_BRIDGE_DEFAULT_TIMEOUT_MS 500             /**< a silent peer is dropped after this */
#define MYELON_BRIDGE_NEXT_ANY UINT64_MAX                /**< WELCOME: the ingress takes whatever comes first */
/** cfg.flags: the egress ends when A's producer is gone (myelon_bridge_run()
 * returns -DMP_E_OWNERDEAD once everything was acknowledged) instead of
 * waiting for the ring's next producer. */
#define MYELON_BRIDGE_ONCE 0x1u
/** cfg.flags, ingress only: create a raw Layer 0 ring (`slot_size`,
 * `slot_align`, `ring_capacity`, `type_tag`) and carry it slot by slot;
 * `format`, `frame_capacity` and `max_message` are not used. An egress
 * needs no flag (it reads the kind from its ring) and refuses this one. */
#define MYELON_BRIDGE_RAW 0x2u
/** cfg.flags, ingress only, with MYELON_BRIDGE_RAW: the raw ring is a byte
 * ring (DMP_RING_BYTES, `ring_bytes`, `block`, `type_tag`) carried record
 * by record. A framed byte ring needs no flag: `format`
 * MYELON_FRAME_BYTES. */
#define MYELON_BRIDGE_BYTES 0x4u
/** An egress whose HELLO (of a byte ring) had no answer this long logs
 * that its ingress may be of an earlier version (bridge.h, "Wire
 * compatibility of byte rings"). */
#define MYELON_BRIDGE_OLD_PEER_MS 3000

struct myelon_bridge_config {
  const char *endpoint;        /**< egress: connect to; ingress: bind to (tcp://host:port or ipc://path); required */
  const char *ring;            /**< the local ring's name; required */
  /* Egress. */
  const char *consumer_id;     /**< durable consumer id on the ring; default "bridge" */
  uint32_t window;             /**< messages in flight; default MYELON_BRIDGE_DEFAULT_WINDOW */
  size_t window_bytes;         /**< bytes in flight; default MYELON_BRIDGE_DEFAULT_WINDOW_BYTES */
  int64_t attach_timeout_ns;   /**< how long open waits for the ring to exist; default 5 s */
  /* Ingress: the ring it creates (the egress's must match). */
  enum myelon_frame_format format; /**< default MYELON_FRAME_COMPACT */
  uint32_t frame_capacity;     /**< default MYELON_DEFAULT_FRAME_CAPACITY */
  uint64_t ring_capacity;      /**< frames (raw: slots); default MYELON_DEFAULT_RING_CAPACITY */
  size_t max_message;          /**< default MYELON_DEFAULT_MAX_MESSAGE (egress: the largest it forwards; raw
                                    rings: not used) */
  const char *state_path;      /**< ingress: file recording the last applied message (resume after a restart);
                                    egress: file recording how far A's ring is released, which makes the egress
                                    hold A's slots until B acknowledged them (lossless across an egress crash);
                                    NULL: memory only */
  uint32_t wait_readers;       /**< publish nothing before this many readers attached to the new ring; default 0 */
  /* Both. */
  const char *secret_key_file; /**< this side's CURVE secret key (Z85); required on tcp:// unless insecure */
  const char *peer_key_file;   /**< the other side's CURVE public key (Z85); required likewise */
  bool insecure;               /**< plain TCP (no CURVE) on tcp:// */
  int heartbeat_ms;            /**< default MYELON_BRIDGE_DEFAULT_HEARTBEAT_MS */
  int timeout_ms;              /**< default MYELON_BRIDGE_DEFAULT_TIMEOUT_MS */
  bool quiet;                  /**< do not log refusals and protocol errors to stderr */
  uint64_t flags;              /**< MYELON_BRIDGE_ONCE (egress), MYELON_BRIDGE_RAW (ingress); default 0 */
  /* Ingress with MYELON_BRIDGE_RAW: the raw ring it creates. */
  uint32_t slot_size;          /**< bytes per slot, 1 .. DMP_MAX_SLOT_SIZE; required with MYELON_BRIDGE_RAW */
  uint32_t slot_align;         /**< power of two <= DMP_MAX_SLOT_ALIGN; 0: DMP_DEFAULT_SLOT_ALIGN */
  uint64_t type_tag;           /**< the raw ring's type tag; 0 = none (as A's ring's must be) */
  /* Ingress of a byte ring (format MYELON_FRAME_BYTES, or MYELON_BRIDGE_RAW | MYELON_BRIDGE_BYTES). */
  uint64_t ring_bytes;         /**< the ring's bytes, a power of two; 0: MYELON_DEFAULT_RING_BYTES (must match A's) */
  uint32_t block;              /**< the ring's block, a power of two 16 .. DMP_MAX_SLOT_ALIGN; 0:
                                    DMP_BYTES_DEFAULT_BLOCK (must match A's) */
  uint32_t reserved32;         /**< zero */
  uint64_t reserved[3];        /**< zero */
};

/** Defaults for every field; `endpoint` and `ring` are required. */
MYELON_API void myelon_bridge_config_init(struct myelon_bridge_config *cfg);

struct myelon_bridge;

/**
 * Start an egress: read the geometry of ring `cfg->ring` (either frame
 * format, or a raw ring: its type tag tells; waiting up to
 * `attach_timeout_ns` for it to exist with a live producer) and connect
 * to `cfg->endpoint`. It attaches to the ring as
 * durable consumer `cfg->consumer_id` only once the ingress accepted the
 * handshake, so a refused link leaves no consumer entry on the ring.
 * @return 0 and `*out`; -EINVAL (bad or missing field, with the detail in
 *         myelon_bridge_last_error()); -EACCES (key files missing or not
 *         valid keys); -ENOENT, -DMP_E_OWNERDEAD (no ring, or no live
 *         producer, in time); -EPROTO
 *         (ZeroMQ refused the endpoint or an option); with `state_path`,
 *         -EINVAL (a file that is not an egress state file, or damaged:
 *         the detail says so) or -errno (it cannot be opened or created).
 */
MYELON_API int myelon_bridge_egress_open(const struct myelon_bridge_config *cfg, struct myelon_bridge **out);

/**
 * Start an ingress: create ring `cfg->ring` with the configured geometry
 * (a framed ring, or with MYELON_BRIDGE_RAW a raw one; after recovering
 * the last applied sequence from `state_path`, if set) and bind
 * `cfg->endpoint`.
 * @return 0 and `*out`; -EINVAL, -EACCES as above; errors of
 *         myelon_producer_create() (raw: dmp_producer_create()); -EPROTO
 *         (bind failed: address in use ...).
 */
MYELON_API int myelon_bridge_ingress_open(const struct myelon_bridge_config *cfg, struct myelon_bridge **out);

/**
 * Run the link for up to `timeout_ns` (bounded; 0 = one pass).
 * @return 0 when the time is up; -ECONNREFUSED (egress: the ingress refused
 *         the handshake; the detail names the field); -EACCES (egress: the
 *         CURVE handshake failed: wrong key on either side);
 *         -DMP_E_OWNERDEAD (egress with MYELON_BRIDGE_ONCE: the producer on
 *         A is gone and every message it published was acknowledged); other negative errno on a
 *         failure of the local ring or of ZeroMQ.
 */
MYELON_API int myelon_bridge_run(struct myelon_bridge *b, int64_t timeout_ns);

struct myelon_bridge_stats {
  uint64_t messages;      /**< egress: acknowledged; ingress: applied to the ring */
  uint64_t bytes;         /**< payload bytes of those */
  uint64_t in_flight;     /**< egress: copied, not yet acknowledged */
  uint64_t next_seq;      /**< egress: next sequence to assign; ingress: next expected */
  uint64_t rtt_ns;        /**< egress: last send-to-ack time of an acknowledged message */
  uint64_t handshakes;    /**< WELCOMEs (egress: received; ingress: sent) */
  uint64_t refused;       /**< ingress: HELLOs refused; egress: REFUSE received */
  uint64_t rejected;      /**< ingress: malformed or stray messages dropped */
  uint64_t duplicates;    /**< ingress: DATA already applied (resent after a reconnect), skipped */
  uint64_t errors;        /**< egress: messages of its ring lost on A (truncated, malformed) */
  bool connected;         /**< a WELCOME'd session is running */
};

/** Counters of the link. @return 0, or -EINVAL for NULL. */
MYELON_API int myelon_bridge_stats(const struct myelon_bridge *b, struct myelon_bridge_stats *out);

/** The last error's detail ("" if none), valid until the next call on `b`;
 * for NULL, the detail of this thread's last failed open (the handle is gone). */
MYELON_API const char *myelon_bridge_last_error(const struct myelon_bridge *b);

/** Close: the ingress's ring is closed (its readers then see the producer
 * gone), the egress's consumer detached (durable: it keeps its place). NULL ok. */
MYELON_API void myelon_bridge_close(struct myelon_bridge *b);

/**
 * Write a new CURVE key pair: `prefix`.key (secret, mode 0600) and
 * `prefix`.pub (public), one Z85 line each. Refuses to overwrite.
 * @return 0, -EEXIST, -ENOTSUP (libzmq without CURVE), or -errno.
 */
MYELON_API int myelon_bridge_keygen(const char *prefix);

/* ---- Wire format (exposed for the fuzz target and for tests) ---- */

enum myelon_bridge_msg_type {
  MYELON_BRIDGE_HELLO = 1,   /**< egress -> ingress: geometry */
  MYELON_BRIDGE_WELCOME = 2, /**< ingress -> egress: next sequence expected */
  MYELON_BRIDGE_REFUSE = 3,  /**< ingress -> egress: reason text naming the field */
  MYELON_BRIDGE_DATA = 4,    /**< egress -> ingress: one message (raw ring: one slot) */
  MYELON_BRIDGE_ACK = 5,     /**< ingress -> egress: every sequence below `seq` applied */
  MYELON_BRIDGE_RESYNC = 6,  /**< ingress -> egress: no session with you: send HELLO */
  MYELON_BRIDGE_PING = 7,    /**< egress -> ingress: alive (nothing else to send); answered by an ACK */
  MYELON_BRIDGE_END = 8,     /**< egress -> ingress: A's producer of epoch `epoch` is gone, all of it sent */
  MYELON_BRIDGE_BATCH = 9,   /**< egress -> ingress: consecutive messages `seq` .. `seq` + `window` - 1 in one
                                  frame (sent only to an ingress whose FEATURES named MYELON_BRIDGE_FEATURE_BATCH) */
  MYELON_BRIDGE_FEATURES = 10, /**< ingress -> egress, after its WELCOME: `seq` holds MYELON_BRIDGE_FEATURE_* bits
                                    (an egress that knows none ignores it, as any message it cannot parse) */
};

#define MYELON_BRIDGE_WIRE_VERSION 1u
#define MYELON_BRIDGE_HEADER 8u       /**< "MYB", version, type, 3 zero bytes */
#define MYELON_BRIDGE_HELLO_SIZE 56u
#define MYELON_BRIDGE_SEQ_SIZE 16u    /**< WELCOME, ACK and END: header + u64 */
#define MYELON_BRIDGE_DATA_HEADER 24u /**< header + u64 seq + kind + 7 zero bytes, then the payload */
#define MYELON_BRIDGE_REASON_MAX 200u
/** BATCH: header + u64 first seq + u32 count + 4 zero bytes, then `count`
 * records back to back to the end of the frame. */
#define MYELON_BRIDGE_BATCH_HEADER 24u
#define MYELON_BRIDGE_RECORD_HEADER 8u /**< a BATCH record: u32 length, kind, 3 zero bytes, then the payload */
/** FEATURES bit: the ingress applies BATCH messages. */
#define MYELON_BRIDGE_FEATURE_BATCH 0x1u
/** HELLO's format of a raw Layer 0 ring (frame formats are 0, 1 and 2:
 * MYELON_FRAME_BYTES is a framed byte ring). */
#define MYELON_BRIDGE_FORMAT_RAW 0xffu
/** HELLO's format of a raw byte ring (DMP_RING_BYTES without framing). */
#define MYELON_BRIDGE_FORMAT_RAW_BYTES 0xfeu
/** A byte ring's smallest block (DMP_BYTES_MIN_BLOCK). */
#define MYELON_BRIDGE_MIN_BLOCK 16u
/** A byte ring's largest block (DMP_MAX_SLOT_ALIGN). */
#define MYELON_BRIDGE_MAX_BLOCK 4096u

/** One parsed wire message; pointers point into the parsed buffer. */
struct myelon_bridge_wire {
  enum myelon_bridge_msg_type type;
  /* HELLO. format: a myelon_frame_format, MYELON_BRIDGE_FORMAT_RAW or
   * MYELON_BRIDGE_FORMAT_RAW_BYTES; frame_capacity: a raw ring's slot size,
   * a byte ring's block; slot_align: a raw ring's (0 for any other);
   * ring_capacity: frames, slots, or a byte ring's bytes */
  uint32_t format, frame_capacity, window, slot_align;
  uint64_t ring_capacity, max_message, type_tag, epoch; /* epoch: HELLO, END */
  /* WELCOME, ACK, DATA; BATCH: its first message's; FEATURES: the feature bits. BATCH's message count is
   * in `window` */
  uint64_t seq;
  /* DATA (BATCH: payload and len are its records, kind is 0) */
  uint8_t kind;
  const uint8_t *payload;
  size_t len;
  /* REFUSE: printable ASCII, not terminated */
  const char *reason;
  size_t reason_len;
};

/**
 * Parse and validate one wire message (all integers little-endian).
 * Checks the magic, version, type, exact size per type, zero padding, a
 * known frame format (or raw, with a slot size > 0 and a power-of-two
 * alignment; a byte ring, framed or raw, with a power-of-two block of
 * 16 .. DMP_MAX_SLOT_ALIGN, a power-of-two ring of at least two blocks and
 * a largest record below half of it), a printable REFUSE reason of at most
 * MYELON_BRIDGE_REASON_MAX bytes, and that a BATCH's records (at least
 * one, sequence numbers below MYELON_BRIDGE_NEXT_ANY) fill it exactly;
 * never reads past `len`.
 * @return 0 and `*out`, or -EPROTO (anything else; nothing of it is used).
 */
MYELON_API int myelon_bridge_wire_parse(const void *buf, size_t len, struct myelon_bridge_wire *out);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_BRIDGE_H */
