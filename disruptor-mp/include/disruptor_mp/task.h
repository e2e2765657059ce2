/**
 * @file task.h
 * @brief A library-run thread and its owner's handle: start that waits for
 * the thread's set-up, a stop flag, an end state with its error and detail,
 * and a join with a timeout. Both event processors are built on it
 * (processor.h here, `myelon/framed_processor.h` in libmyelon), and so is
 * any long-running loop a layer above wants to run the same way.
 *
 *     static int setup(struct dmp_task *t, void *user)      // on the thread, pinned
 *     {
 *       return dmp_consumer_attach(&my->cc, &my->c);       // < 0: the start fails
 *     }
 *     static enum dmp_processor_state run(struct dmp_task *t, void *user)
 *     {
 *       while (!dmp_task_stop_requested(t)) {
 *         int64_t n = dmp_consumer_wait(my->c, DMP_PROCESSOR_STOP_SLICE_NS);
 *         if (n < 0 && n != -ETIMEDOUT)
 *           return dmp_task_fail(t, (int)n, "consumer '%s': %s", my->id, dmp_strerror((int)n));
 *         ...
 *       }
 *       return DMP_PROCESSOR_STOPPED;
 *     }
 *
 * The thread names itself, pins itself (affinity.h, for `role`), calls
 * `setup`, reports its outcome to dmp_task_start() (which returns only
 * then), calls `run` if setup succeeded and `teardown` in any case, then
 * ends. `run`'s return value is the end state: DMP_PROCESSOR_STOPPED,
 * DMP_PROCESSOR_RETURNED, or DMP_PROCESSOR_FAILED after dmp_task_fail().
 * A FAILED without dmp_task_fail(), or a value that is no end state, ends
 * the task FAILED with -EPROTO and a detail naming the mistake (never a
 * failure with error 0).
 *
 * Threads: the callbacks run on the task's thread only; dmp_task_stop(),
 * dmp_task_state() and dmp_task_stop_requested() are safe from any
 * thread; the others belong to one owner thread.
 */
#ifndef DISRUPTOR_MP_TASK_H
#define DISRUPTOR_MP_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include <disruptor_mp/affinity.h>
#include <disruptor_mp/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The longest a waiting processor (or task loop that follows this rule)
 * takes to notice a stop. */
#define DMP_PROCESSOR_STOP_SLICE_NS INT64_C(10000000) /* 10 ms */
/** Longest thread name (Linux's limit, without the terminating NUL). */
#define DMP_PROCESSOR_NAME_MAX 15

/** Why a task's (or a processor's) thread ended, or that it has not. */
enum dmp_processor_state {
  DMP_PROCESSOR_RUNNING = 0,  /**< set up, running */
  DMP_PROCESSOR_STOPPED = 1,  /**< stopped by its owner */
  DMP_PROCESSOR_RETURNED = 2, /**< its handler asked to end */
  DMP_PROCESSOR_FAILED = 3,   /**< an error: dmp_task_error() */
};

struct dmp_task;

struct dmp_task_config {
  /** Thread name, 1..DMP_PROCESSOR_NAME_MAX characters; required (copied). */
  const char *thread_name;
  /** Pinning role and CPU list, as dmp_affinity_pin_role() (NULL: the
   * role's environment variable, then DMP_PROCESS_CPUS). Copied. */
  enum dmp_role role;
  const char *cpus;
  /** On the thread, pinned, before dmp_task_start() returns: < 0 fails the
   * start with that code and dmp_last_error() as its detail. Optional. */
  int (*setup)(struct dmp_task *t, void *user);
  /** On the thread after a successful setup: the loop. Required. */
  enum dmp_processor_state (*run)(struct dmp_task *t, void *user);
  /** On the thread after run (or a failed setup). Optional. */
  void (*teardown)(struct dmp_task *t, void *user);
  void *user;
};

/**
 * Start the thread and wait until its setup has run (blocking for as long
 * as pinning and `setup` take).
 * @return 0 and `*out`; on failure `*out` is NULL, no thread is left and:
 *   -EINVAL (NULL argument, no `run`), -DMP_E_BADCONFIG (thread name),
 *   what `setup` or pinning returned (detail: the thread's
 *   dmp_last_error(), set on the caller's thread), -EAGAIN/-ENOMEM.
 */
DMP_API int dmp_task_start(const struct dmp_task_config *cfg, struct dmp_task **out);

/** For `run`: true once dmp_task_stop() was called. Thread-safe. */
DMP_API bool dmp_task_stop_requested(const struct dmp_task *t);

/**
 * For `run`: record why the task fails (code, and a detail formatted as
 * printf) and return DMP_PROCESSOR_FAILED, for `run` to return.
 */
DMP_API enum dmp_processor_state dmp_task_fail(struct dmp_task *t, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Ask the thread to end; returns at once; idempotent; NULL ok. Thread-safe. */
DMP_API void dmp_task_stop(struct dmp_task *t);

/**
 * Wait until the thread has ended, at most `timeout_ns` (DMP_FOREVER: no
 * bound). Does not stop it; may be called again after -ETIMEDOUT.
 * @return 0 if it ended without failing; its error if it failed;
 *         -ETIMEDOUT if still running; -EINVAL for NULL.
 */
DMP_API int dmp_task_join(struct dmp_task *t, int64_t timeout_ns);

/** The state (DMP_PROCESSOR_*); DMP_PROCESSOR_FAILED for NULL. Thread-safe. */
DMP_API enum dmp_processor_state dmp_task_state(const struct dmp_task *t);

/** The error that ended the thread, 0 if none (yet); -EINVAL for NULL. */
DMP_API int dmp_task_error(const struct dmp_task *t);

/** The failure's detail ("" unless failed); valid until dmp_task_close(). */
DMP_API const char *dmp_task_error_detail(const struct dmp_task *t);

/** Stop, join without a bound, free. NULL ok. Not from the task's thread. */
DMP_API void dmp_task_close(struct dmp_task *t);

#ifdef __cplusplus
}
#endif

#endif /* DISRUPTOR_MP_TASK_H */
