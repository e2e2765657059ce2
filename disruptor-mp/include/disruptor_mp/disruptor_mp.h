/**
 * @file disruptor_mp.h
 * @brief Umbrella header of libdisruptor_mp (Layer 0): a Disruptor-style
 * ring, one producer broadcasting to N consumers across processes, over
 * POSIX shared memory or a memory-mapped file.
 *
 * Concepts, one header each:
 *  - error.h      error codes, dmp_strerror(), dmp_last_error()
 *  - layout.h     the shared-memory byte layout
 *  - config.h     producer and consumer configuration
 *  - wait.h       wait strategies (spin, yield, sleep, futex block)
 *  - producer.h   create a ring, claim and publish
 *  - consumer.h   attach by id, peek/release, batch processing
 *  - bytes.h      byte rings: variable-length records on the same ring
 *  - discovery.h  list consumers from the in-segment table
 *  - liveness.h   required consumers: managed claims, stall alerts, eviction
 *  - name.h       name validation and portable unique names
 *  - typed.h      type-checked wrappers for a struct
 *  - counters.h   shared-memory counters and the distinct-error log
 *  - inspect.h    read-only inspection of rings, and removal of stale ones
 */
#ifndef DISRUPTOR_MP_H
#define DISRUPTOR_MP_H

#include <disruptor_mp/version.h>
#include <disruptor_mp/error.h>
#include <disruptor_mp/layout.h>
#include <disruptor_mp/config.h>
#include <disruptor_mp/wait.h>
#include <disruptor_mp/producer.h>
#include <disruptor_mp/consumer.h>
#include <disruptor_mp/bytes.h>
#include <disruptor_mp/discovery.h>
#include <disruptor_mp/liveness.h>
#include <disruptor_mp/name.h>
#include <disruptor_mp/typed.h>
#include <disruptor_mp/counters.h>
#include <disruptor_mp/inspect.h>
#include <disruptor_mp/env.h>
#include <disruptor_mp/affinity.h>
#include <disruptor_mp/task.h>
#include <disruptor_mp/processor.h>

#endif /* DISRUPTOR_MP_H */
