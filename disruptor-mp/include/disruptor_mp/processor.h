/**
 * @file processor.h
 * @brief An event processor: a thread of the library's that attaches a
 * consumer and calls a function for every event (the original's
 * AutoConsumer, `handle_events_with`).
 *
 *     static int on_tick(const void *ev, int64_t seq, bool end_of_batch, void *user)
 *     {
 *       book_apply(user, ev);
 *       if (end_of_batch)
 *         book_flush(user);   // once per batch, not per event
 *       return 0;             // nonzero stops the processor after this event
 *     }
 *
 *     struct dmp_processor_config pc;
 *     dmp_processor_config_init(&pc);
 *     pc.consumer.name = "/ticks";
 *     pc.consumer.id = "book";
 *     pc.fn = on_tick;
 *     pc.user = &book;
 *     pc.cpus = "3";          // optional (affinity.h)
 *     struct dmp_processor *proc;
 *     int rc = dmp_processor_start(&pc, &proc);   // attached when it returns 0
 *     ...
 *     dmp_processor_stop(proc);
 *     rc = dmp_processor_join(proc, SECOND);      // 0, or what ended it (-DMP_E_OWNERDEAD, ...)
 *     dmp_processor_close(proc);
 *
 * The thread (named `thread_name`, default "dmp-" and the id, at most 15
 * characters) is pinned per affinity.h, then attaches, then loops: it takes
 * every event published so far (at most `batch_max`) as one batch, calls
 * `fn` for each in order with `end_of_batch` true exactly on the batch's
 * last event (the original always passed false), and releases the whole
 * batch with one store after it; with nothing published it waits with the
 * consumer's wait strategy (`consumer.wait`, DMP_WAIT...).
 *
 * It ends, and closes its consumer (an IDLE entry: a later start with the
 * same id resumes after the last event released; add DMP_CONSUMER_DURABLE
 * to `consumer.flags` so the producer keeps those events meanwhile), when
 *  - dmp_processor_stop() is called (state DMP_PROCESSOR_STOPPED): after
 *    the current batch if busy, within DMP_PROCESSOR_STOP_SLICE_NS if
 *    waiting;
 *  - `fn` returns nonzero (DMP_PROCESSOR_RETURNED): that event counts as
 *    processed, and with it the batch up to it is released;
 *  - an error ends the consumer (DMP_PROCESSOR_FAILED): -DMP_E_OWNERDEAD
 *    once the producer died and every event it published was processed
 *    (noticed within the wait strategy's liveness period, 50 ms by
 *    default), -DMP_E_EVICTED, -ENOMEM. The thread never ends silently: the
 *    code is dmp_processor_error() and dmp_processor_join()'s value, and
 *    the detail (what dmp_last_error() said on the thread) is
 *    dmp_processor_error_detail().
 *
 * Threads: `fn` runs on the processor's thread only. The handle's
 * functions may be called from any one owner thread; stop, is_running,
 * state, sequence and count are also safe from other threads and from `fn`.
 */
#ifndef DISRUPTOR_MP_PROCESSOR_H
#define DISRUPTOR_MP_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <disruptor_mp/config.h>
#include <disruptor_mp/consumer.h>
#include <disruptor_mp/export.h>
#include <disruptor_mp/task.h>

#ifdef __cplusplus
extern "C" {
#endif

/* DMP_PROCESSOR_STOP_SLICE_NS (the longest a waiting processor takes to
 * notice a stop), DMP_PROCESSOR_NAME_MAX and enum dmp_processor_state come
 * from task.h: a processor is a task (task.h) whose loop is the one below. */

struct dmp_processor_config {
  /** The consumer the thread attaches: `name` and `id` required; `start`,
   * `flags`, `wait` ... as for dmp_consumer_attach(); `cpus` must be NULL
   * (the thread is pinned as a processor: `cpus` below). */
  struct dmp_consumer_config consumer;
  dmp_event_fn fn;          /**< called for every event; required */
  void *user;               /**< passed to `fn` */
  /** CPU list for the thread; NULL (default): DMP_PROCESSOR_CPUS, then
   * DMP_PROCESS_CPUS, else not pinned (affinity.h). */
  const char *cpus;
  /** Thread name, 1..15 characters; NULL (default): "dmp-" + the id, cut to 15. */
  const char *thread_name;
  /** Most events in one batch (and so between two releases); 0 (default):
   * everything published, at most one ring. */
  size_t batch_max;
  /** How long the start may wait for the ring to exist and have a live
   * producer (dmp_consumer_attach_timeout()); 0 (default): one attempt. */
  int64_t attach_timeout_ns;
  uint64_t reserved[8]; /**< zero: room for later fields (config.h, "Growing a configuration") */
};

struct dmp_processor;

/** Fill `cfg` with the defaults (the consumer's as dmp_consumer_config_init()).
 * Required afterwards: `consumer.name`, `consumer.id`, `fn`. */
DMP_API void dmp_processor_config_init(struct dmp_processor_config *cfg);

/**
 * Start a processor: spawn its thread, which pins itself, attaches and
 * reports back; returns once it has (blocking for at most
 * `attach_timeout_ns` plus the attach itself). The strings of `cfg` are
 * copied.
 * @return 0 and `*out` (running, attached); on failure `*out` is NULL, no
 *   thread is left and: -EINVAL NULL argument or `fn`;
 *   -DMP_E_BADCONFIG bad `thread_name`, `consumer.cpus` set, a bad CPU list
 *   or environment variable (env.h; the detail names it); every error of
 *   dmp_consumer_attach() / _timeout(); -EAGAIN, -ENOMEM no thread.
 */
DMP_API int dmp_processor_start(const struct dmp_processor_config *cfg, struct dmp_processor **out);

/** Ask the thread to end (see the file comment for when it does). Returns
 * at once; idempotent; NULL ok. Thread-safe. */
DMP_API void dmp_processor_stop(struct dmp_processor *p);

/**
 * Wait until the thread has ended, at most `timeout_ns` (DMP_FOREVER: no
 * bound; the thread ends within one batch of `fn` calls after a stop).
 * Does not stop it. Call again after -ETIMEDOUT as often as needed.
 * @return 0 if it ended by stop or by `fn`; its error if it failed
 *         (-DMP_E_OWNERDEAD, ...); -ETIMEDOUT if still running; -EINVAL NULL.
 */
DMP_API int dmp_processor_join(struct dmp_processor *p, int64_t timeout_ns);

/** True while the thread runs (state DMP_PROCESSOR_RUNNING). Thread-safe. */
DMP_API bool dmp_processor_is_running(const struct dmp_processor *p);

/** The state (DMP_PROCESSOR_*). Thread-safe. DMP_PROCESSOR_FAILED for NULL. */
DMP_API enum dmp_processor_state dmp_processor_state(const struct dmp_processor *p);

/** The error that ended the thread, 0 if none (yet). Thread-safe. */
DMP_API int dmp_processor_error(const struct dmp_processor *p);

/** The thread's dmp_last_error() when it failed ("" otherwise); valid
 * until dmp_processor_close(). Thread-safe once the state is not RUNNING. */
DMP_API const char *dmp_processor_error_detail(const struct dmp_processor *p);

/** Sequence of the last event released (-1 before the first, or where the
 * resumed position was). Thread-safe; read from `fn` it is the sequence
 * before the current batch. -EINVAL for NULL. */
DMP_API int64_t dmp_processor_sequence(const struct dmp_processor *p);

/** Events passed to `fn` so far by this handle. Thread-safe. */
DMP_API uint64_t dmp_processor_count(const struct dmp_processor *p);

/**
 * Stop, wait for the thread without a bound (it ends within one batch of
 * `fn` calls, or DMP_PROCESSOR_STOP_SLICE_NS if waiting) and free the
 * handle. NULL ok. Not from `fn`.
 */
DMP_API void dmp_processor_close(struct dmp_processor *p);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_PROCESSOR_H */
