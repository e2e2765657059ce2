/**
 * @file typed.h
 * @brief Layers 2-3 on the framed transport: publish values, receive
 * owned values (Layer 2) or zero-copy views (Layer 3).
 *
 * Producer. myelon_typed_producer_publish() encodes a value and publishes it as one
 * message. When the codec can tell the encoded size up front and it fits
 * in one frame, the value is encoded straight into the claimed ring slot
 * (myelon_producer_claim / myelon_producer_commit: no copy at all); otherwise it is encoded
 * once into a reusable producer-side buffer (grown on demand, never above
 * max_message) and published with myelon_producer_publish(). Either way a value the
 * codec refuses is reported *before* anything is claimed or published:
 * consumers see nothing. On a MYELON_FRAME_BYTES ring one frame holds
 * every message up to the ring's largest; there the library's msgpack
 * codecs (whose size pass would be a whole encode) encode into the
 * producer buffer and publish the exact length with one copy, because a
 * claimed record keeps the room it was claimed with (myelon_producer_claim()).
 *
 * Consumer. myelon_typed_consumer_recv() returns an owned value (decode); a message
 * that fails to decode is reported as -MYELON_E_CODEC for that message
 * only: it is consumed and the next call continues with the next message.
 * myelon_typed_consumer_recv_view() validates in place and fills a view (view.h)
 * that is valid until the next receive or myelon_typed_consumer_release().
 *
 *     struct order *o; uint8_t kind;
 *     if (myelon_typed_consumer_recv(c, (void **)&o, &kind, 1000000000) == 0) {
 *       use(o); myelon_codec_free(&codec, o);
 *     }
 *
 * One thread per producer and per consumer, like the framed layer.
 */
#ifndef MYELON_TYPED_H
#define MYELON_TYPED_H

#include <stddef.h>
#include <stdint.h>

#include <myelon/codec.h>
#include <myelon/export.h>
#include <myelon/framed.h>
#include <myelon/view.h>

#ifdef __cplusplus
extern "C" {
#endif

struct myelon_typed_producer;
struct myelon_typed_consumer;

/* ---------------------------------------------------------------------- */
/* Producer                                                               */
/* ---------------------------------------------------------------------- */

/**
 * Create a framed ring (myelon_producer_create()) and a typed producer on
 * it that encodes with `codec` (copied; its functions and user data must
 * outlive the producer).
 * @return 0 and `*out`; -EINVAL (NULL, codec without encode); errors of
 *         myelon_producer_create(); -ENOMEM.
 */
MYELON_API int myelon_typed_producer_create(const struct myelon_producer_config *cfg, const struct myelon_codec *codec,
                                            struct myelon_typed_producer **out);

/** Close the ring and free the producer. NULL ok. */
MYELON_API void myelon_typed_producer_close(struct myelon_typed_producer *tp);

/** The framed producer underneath (for myelon_producer_ring(), liveness ...). */
MYELON_API struct myelon_producer *myelon_typed_producer_framed(struct myelon_typed_producer *tp);

/**
 * Encode `value` and publish it as one message of `kind`, waiting up to
 * `timeout_ns` (DMP_FOREVER: no deadline) for ring space. Blocking.
 * @return 0; -MYELON_E_CODEC (nothing published; detail "codec encode: ...");
 *         -MYELON_E_TOOBIG (encoded size above max_message; nothing
 *         published); -ETIMEDOUT and other errors of myelon_producer_publish();
 *         -ENOMEM; -EINVAL.
 *
 * Codec contract: if `size` and `encode` disagree for a value that is
 * encoded into a claimed slot (encode fails, or needs more than `size`
 * said), the claim is aborted (myelon_producer_abort()): nothing is published,
 * consumers see nothing, encode_errors counts it, and -MYELON_E_CODEC is
 * returned with the detail naming the codec.
 */
MYELON_API int myelon_typed_producer_publish(struct myelon_typed_producer *tp, const void *value, uint8_t kind,
                                             int64_t timeout_ns);

/**
 * As myelon_typed_producer_publish() without waiting: -EAGAIN if the message does
 * not fit in the ring now (see myelon_producer_try_publish()). Always encodes into
 * the producer buffer first.
 */
MYELON_API int myelon_typed_producer_try_publish(struct myelon_typed_producer *tp, const void *value, uint8_t kind);

/**
 * Liveness-managed publish (enable liveness on myelon_producer_ring() of
 * the framed producer first): encode into the producer buffer, then
 * myelon_producer_publish_managed(). Codec errors come first and publish nothing.
 * @return 0; codec errors as myelon_typed_producer_publish(); errors of
 *         myelon_producer_publish_managed() (-DMP_E_STARTUP, -DMP_E_STALLED, ...),
 *         with `*failed_frame` as there.
 */
MYELON_API int myelon_typed_producer_publish_managed(struct myelon_typed_producer *tp, const void *value, uint8_t kind,
                                                     int64_t timeout_ns, uint64_t *failed_frame);

/**
 * Encode `n` values and publish them as `n` messages of `kind`, in order,
 * with the framed layer's batch publish (myelon_producer_publish_batch():
 * one cursor update per run of single-frame messages instead of one per
 * message). Every value is encoded first, back to back into the producer
 * buffer (grown on demand: the batch's encoded bytes in all), so a value
 * the codec refuses, or one above max_message, publishes nothing of the
 * batch. The encoded bytes are copied into the slots once (unlike
 * myelon_typed_producer_publish(), which encodes in place). Waits with the
 * ring's wait strategy while the ring is full, up to `timeout_ns` in all
 * (DMP_FOREVER: no deadline). One producer thread; blocking only while the
 * ring is full.
 *
 * @param tp        the producer
 * @param values    `n` pointers to values (may be NULL when `n` is 0)
 * @param n         their count; 0 publishes nothing and returns 0
 * @param kind      the message kind of every message
 * @param timeout_ns how long to wait for space in all
 * @param published out, may be NULL: how many were published (n on
 *                  success; on -ETIMEDOUT the first that many)
 * @return 0; -MYELON_E_CODEC or -MYELON_E_TOOBIG (a value failed to encode
 *         or is above max_message: nothing published, the detail names
 *         the value's index); -ENOMEM (nothing published); -ETIMEDOUT and
 *         the other errors of myelon_producer_publish_batch(); -EINVAL
 *         (NULL `tp`, NULL `values` with `n` above 0).
 */
MYELON_API int myelon_typed_producer_publish_batch(struct myelon_typed_producer *tp, const void *const *values, size_t n,
                                                   uint8_t kind, int64_t timeout_ns, size_t *published);

/** Publish bytes as they are, bypassing the codec (myelon_producer_publish()). */
MYELON_API int myelon_typed_producer_publish_raw(struct myelon_typed_producer *tp, const void *data, size_t len, uint8_t kind,
                                                 int64_t timeout_ns);

/** Producer counters (process-local, for tests and monitoring). */
struct myelon_typed_producer_stats {
  uint64_t published;     /**< values published (raw publishes not counted) */
  uint64_t zero_copy;     /**< of which encoded straight into the ring slot */
  uint64_t encode_errors; /**< values the codec refused */
  uint64_t reserved[4]; /**< zeroed by the library: room for later fields (ABI 0.1 keeps this size) */
};

/** Copy the counters. NULL ok (zeros). */
MYELON_API void myelon_typed_producer_stats(const struct myelon_typed_producer *tp,
                                            struct myelon_typed_producer_stats *out);

/* ---------------------------------------------------------------------- */
/* Consumer                                                               */
/* ---------------------------------------------------------------------- */

/**
 * Attach to a framed ring: one attempt (myelon_consumer_attach()); does
 * not wait. `codec` (copied) decodes owned values; it may be NULL for a
 * consumer that only uses views.
 * @return 0 and `*out`; -EINVAL; errors of the framed attach; -ENOMEM.
 */
MYELON_API int myelon_typed_consumer_attach(const struct myelon_consumer_config *cfg,
                                            const struct myelon_codec *codec, struct myelon_typed_consumer **out);

/**
 * As myelon_typed_consumer_attach(), retrying until the ring exists for up
 * to `timeout_ns` (DMP_FOREVER: no deadline; myelon_consumer_attach_timeout()).
 * Blocking only in that retry.
 * @return as myelon_typed_consumer_attach(), or -ETIMEDOUT.
 */
MYELON_API int myelon_typed_consumer_attach_timeout(const struct myelon_consumer_config *cfg,
                                                    const struct myelon_codec *codec, int64_t timeout_ns,
                                                    struct myelon_typed_consumer **out);

/** Detach and free. Views of this consumer must not be used afterwards. NULL ok. */
MYELON_API void myelon_typed_consumer_close(struct myelon_typed_consumer *c);

/** The framed consumer underneath. Do not receive or release through it
 * while views of the typed consumer are in use. */
MYELON_API struct myelon_consumer *myelon_typed_consumer_framed(struct myelon_typed_consumer *c);

/**
 * Receive and decode the next message, waiting up to `timeout_ns`.
 * `*value` is owned by the caller (myelon_codec_free()); `kind` may be NULL.
 * @return 0; -MYELON_E_CODEC (this message did not decode: it is consumed,
 *         counted in myelon_typed_consumer_decode_errors(), and the next call goes
 *         on with the stream); -ETIMEDOUT; -DMP_E_OWNERDEAD; the framing
 *         errors of myelon_consumer_recv() (-MYELON_E_TRUNCATED ...);
 *         -ENOMEM; -EINVAL (NULL, or no codec).
 */
MYELON_API int myelon_typed_consumer_recv(struct myelon_typed_consumer *c, void **value, uint8_t *kind, int64_t timeout_ns);

/** As myelon_typed_consumer_recv() without waiting: -EAGAIN if no message is complete. */
MYELON_API int myelon_typed_consumer_try_recv(struct myelon_typed_consumer *c, void **value, uint8_t *kind);

/** One delivered message of myelon_typed_consumer_process() / _process_view(). */
struct myelon_typed_msg {
  int status;      /**< 0, or this message's error (-MYELON_E_CODEC, -MYELON_E_TRUNCATED, ...) */
  uint8_t kind;    /**< valid when status is 0 */
  uint32_t msg_id; /**< valid when status is 0 */
  size_t len;      /**< encoded bytes; valid when status is 0 */
  /** process: the decoded value, freed after the callback returns unless
   *  the callback takes it by setting this to NULL; process_view: the
   *  caller's view object, valid during the callback only. NULL on error. */
  void *value;
};

/** Callback of the process functions: nonzero stops after this message. */
typedef int (*myelon_typed_fn)(struct myelon_typed_msg *m, void *user);

/**
 * Deliver every message complete now (at most `max`; 0 = no limit) without
 * waiting: decode each and call `fn`; a message that fails to decode or
 * to reassemble is delivered too, with `status` < 0, and the stream goes on.
 * @return messages delivered (failed ones included), or -EINVAL.
 */
MYELON_API int64_t myelon_typed_consumer_process(struct myelon_typed_consumer *c, myelon_typed_fn fn, size_t max, void *user);

/**
 * Receive the next message as a zero-copy view: `vc->access` validates it
 * in place and fills `view` (the codec's view type, e.g. struct
 * myelon_mp_view). The view is valid until the next receive or release on
 * this consumer (view.h, "Lifetime").
 * @return 0; the access error (e.g. -MYELON_E_CODEC, -MYELON_E_VIEW,
 *         -ENOBUFS; the message is consumed and counted, the stream goes
 *         on); as myelon_typed_consumer_recv() otherwise.
 */
MYELON_API int myelon_typed_consumer_recv_view(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc, void *view,
                                               uint8_t *kind, int64_t timeout_ns);

/** As myelon_typed_consumer_recv_view() without waiting (-EAGAIN). */
MYELON_API int myelon_typed_consumer_try_recv_view(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc,
                                                   void *view, uint8_t *kind);

/**
 * As myelon_typed_consumer_process(), delivering views: for each message `view` is
 * filled and passed as `m->value`; it is released when the callback
 * returns. The fastest receive path: no copy, no allocation.
 */
MYELON_API int64_t myelon_typed_consumer_process_view(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc,
                                                      void *view, myelon_typed_fn fn, size_t max, void *user);

/** The most messages one myelon_typed_consumer_recv_batch() or
 * myelon_typed_consumer_recv_view_batch() call delivers, whatever `max`
 * says. */
#define MYELON_TYPED_BATCH_MAX 64u

/**
 * Receive up to `max` messages at once (at most MYELON_TYPED_BATCH_MAX),
 * waiting up to `timeout_ns` for the first (as myelon_typed_consumer_recv());
 * the rest are those complete now (myelon_consumer_recv_batch(): the slots
 * go back with one cursor update for the whole batch). Each is decoded into
 * `msgs[i]`: `status` 0 and `value` owned by the caller (myelon_codec_free()),
 * or a decode error in `status` (-MYELON_E_CODEC, counted in
 * myelon_typed_consumer_decode_errors(); `value` NULL) - a message that
 * does not decode is delivered with its status and the batch goes on.
 * A framing error is never mixed with messages: the batch stops before it
 * and the next call returns it. Ends the previous lease. One consumer
 * thread; blocking only while no message is complete.
 *
 * @return the number of entries filled (1..max); -ETIMEDOUT (-EAGAIN when
 *         `timeout_ns` is 0); -DMP_E_OWNERDEAD; the framing errors of
 *         myelon_consumer_recv_batch(); -EINVAL (NULL `c` or `msgs`, `max`
 *         0, or no codec).
 */
MYELON_API int myelon_typed_consumer_recv_batch(struct myelon_typed_consumer *c, struct myelon_typed_msg *msgs, size_t max,
                                                int64_t timeout_ns);

/**
 * As myelon_typed_consumer_recv_batch(), delivering zero-copy views: message
 * i is validated in place by `vc->access` into the view at `views + i *
 * view_size` (the codec's view type, e.g. struct myelon_mp_lazy_view;
 * `view_size` is its sizeof), and `msgs[i].value` points at it, or is NULL
 * with `status` the access error (counted in
 * myelon_typed_consumer_decode_errors(); the batch goes on). All the views
 * of a batch stay valid until the next receive or release on this consumer
 * (view.h, "Lifetime"). No copy, no allocation.
 *
 * The views of a batch live side by side, so the codec's views must not
 * share state: the msgpack tree view codec (myelon_mp_view_codec_init(),
 * one node arena reused by every access) is refused with -EINVAL; the
 * lazy view (myelon_mp_lazy_codec_init()) and the fixed-layout views keep
 * everything in the view itself.
 *
 * @return as myelon_typed_consumer_recv_batch(); -EINVAL also for a NULL
 *         `vc`, `vc->access` or `views`, a `view_size` of 0, or the tree
 *         view codec (nothing received).
 */
MYELON_API int myelon_typed_consumer_recv_view_batch(struct myelon_typed_consumer *c, const struct myelon_view_codec *vc,
                                                     void *views, size_t view_size, struct myelon_typed_msg *msgs,
                                                     size_t max, int64_t timeout_ns);

/** End the current lease (the view's message is released). NULL ok. */
MYELON_API void myelon_typed_consumer_release(struct myelon_typed_consumer *c);

/** Messages that failed to decode or validate so far. */
MYELON_API uint64_t myelon_typed_consumer_decode_errors(const struct myelon_typed_consumer *c);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_TYPED_H */
