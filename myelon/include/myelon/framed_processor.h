/**
 * @file framed_processor.h
 * @brief A framed event processor: a thread of the library's that attaches
 * a Layer 1 consumer and calls a handler for every whole message (the
 * Layer 0 twin is disruptor_mp/processor.h).
 *
 *     static int on_order(const struct myelon_msg *m, bool end_of_batch, void *user)
 *     {
 *       book_apply(user, m->data, m->len, m->kind);  // m->data valid during the call
 *       if (end_of_batch)
 *         book_flush(user);
 *       return 0;                                   // nonzero stops after this message
 *     }
 *
 *     struct myelon_processor_config pc;
 *     myelon_processor_config_init(&pc);
 *     pc.consumer.ring.name = "/orders";
 *     pc.consumer.ring.id = "book";
 *     pc.fn = on_order;
 *     pc.user = &book;
 *     struct myelon_processor *proc;
 *     int rc = myelon_processor_start(&pc, &proc);  // attached when it returns 0
 *     ...
 *     myelon_processor_close(proc);                 // stop, join, free
 *
 * The thread is named (`thread_name`, default "myelon-" and the id, at most
 * 15 characters), pinned as a processor (`cpus`, else DMP_PROCESSOR_CPUS,
 * else DMP_PROCESS_CPUS: disruptor_mp/affinity.h), then attaches and
 * delivers messages in batches. Each message is released after its
 * handler returns (Layer 1 leases one message at a time). `end_of_batch`
 * is true on the batch_max-th message of a batch and whenever no further
 * frame is published at the moment the message is handed over ("nothing
 * more is waiting: flush now"); a message followed only by the published
 * frames of a message still being written gets false, and the next
 * complete message ends that batch. Messages lost to bad frames are counted
 * (myelon_processor_errors()) and skipped, as myelon_consumer_process() does.
 *
 * It ends (closing its consumer: the id resumes on the next start; add
 * DMP_CONSUMER_DURABLE to `consumer.ring.flags` to lose nothing meanwhile)
 * on myelon_processor_stop() (DMP_PROCESSOR_STOPPED; within
 * DMP_PROCESSOR_STOP_SLICE_NS when waiting), when the handler returns
 * nonzero (DMP_PROCESSOR_RETURNED), or on an error of the ring
 * (DMP_PROCESSOR_FAILED: -DMP_E_OWNERDEAD once everything published was
 * delivered, -DMP_E_EVICTED), which myelon_processor_join() returns and
 * myelon_processor_error_detail() explains. It never ends silently.
 *
 * Threads: the handler runs on the processor's thread only; stop,
 * is_running, state, count and errors may be called from any thread.
 */
#ifndef MYELON_FRAMED_PROCESSOR_H
#define MYELON_FRAMED_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/processor.h>
#include <myelon/export.h>
#include <myelon/framed.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Handler of a framed processor: `m` (and m->data) is valid during the
 * call only. Return 0 to go on, nonzero to stop after this message. */
typedef int (*myelon_handler_fn)(const struct myelon_msg *m, bool end_of_batch, void *user);

struct myelon_processor_config {
  /** The Layer 1 consumer: `ring.name`, `ring.id` required; `ring.cpus`
   * must stay NULL (the thread is pinned by `cpus` below). */
  struct myelon_consumer_config consumer;
  myelon_handler_fn fn;     /**< required */
  void *user;               /**< passed to `fn` */
  const char *cpus;         /**< CPU list; NULL: DMP_PROCESSOR_CPUS, DMP_PROCESS_CPUS, else not pinned */
  const char *thread_name;  /**< 1..15 characters; NULL: "myelon-" + the id, cut to 15 */
  size_t batch_max;         /**< most messages per batch; 0 (default): no limit */
  int64_t attach_timeout_ns; /**< retry the attach this long (myelon_consumer_attach_timeout()); 0: once */
  uint64_t reserved[8];      /**< zero: room for later fields (disruptor_mp/config.h, "Growing a configuration") */
};

struct myelon_processor;

/** Defaults (the consumer's as myelon_consumer_config_init()). Required
 * afterwards: `consumer.ring.name`, `consumer.ring.id`, `fn`. */
MYELON_API void myelon_processor_config_init(struct myelon_processor_config *cfg);

/**
 * Start: spawn the thread, which pins itself, attaches and reports back;
 * returns once it has (bounded by `attach_timeout_ns` plus one attach).
 * @return 0 and `*out`; on failure `*out` is NULL, no thread is left, and:
 *   -EINVAL NULL argument or `fn`; -DMP_E_BADCONFIG bad `thread_name`,
 *   `consumer.ring.cpus` set, a bad CPU list or environment variable
 *   (disruptor_mp/env.h); every error of myelon_consumer_attach() /
 *   _timeout(); -EAGAIN, -ENOMEM. dmp_last_error() says more.
 */
MYELON_API int myelon_processor_start(const struct myelon_processor_config *cfg, struct myelon_processor **out);

/** Ask the thread to end. Returns at once; idempotent; NULL ok. */
MYELON_API void myelon_processor_stop(struct myelon_processor *p);

/** Wait until the thread has ended, at most `timeout_ns` (DMP_FOREVER: no
 * bound). @return 0 (stopped, or the handler returned nonzero), the error
 * that ended it, -ETIMEDOUT (still running), -EINVAL (NULL). */
MYELON_API int myelon_processor_join(struct myelon_processor *p, int64_t timeout_ns);

/** True while the thread runs. */
MYELON_API bool myelon_processor_is_running(const struct myelon_processor *p);

/** Why the thread ended, or DMP_PROCESSOR_RUNNING. FAILED for NULL. */
MYELON_API enum dmp_processor_state myelon_processor_state(const struct myelon_processor *p);

/** The error that ended the thread, 0 if none (yet). */
MYELON_API int myelon_processor_error(const struct myelon_processor *p);

/** What went wrong ("" unless FAILED); valid until myelon_processor_close(). */
MYELON_API const char *myelon_processor_error_detail(const struct myelon_processor *p);

/** Messages handed to `fn` so far. */
MYELON_API uint64_t myelon_processor_count(const struct myelon_processor *p);

/** Messages lost to bad frames so far (myelon_consumer_errors()). */
MYELON_API uint64_t myelon_processor_errors(const struct myelon_processor *p);

/** Stop, wait for the thread without a bound (it ends after the message in
 * hand), free. NULL ok. Not from `fn`. */
MYELON_API void myelon_processor_close(struct myelon_processor *p);

#ifdef __cplusplus
}
#endif

#endif /* MYELON_FRAMED_PROCESSOR_H */
