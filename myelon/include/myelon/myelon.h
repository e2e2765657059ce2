/**
 * @file myelon.h
 * @brief Umbrella header of libmyelon: message transport for processes on
 * one host, built on libdisruptor_mp (Layer 0).
 *
 * Including this header also includes <disruptor_mp/disruptor_mp.h>, so
 * every Layer 0 type seen through it *is* the Layer 0 type: a
 * `struct dmp_consumer *` obtained here can be handed to any dmp_ function
 * and vice versa. libmyelon never copies or wraps those types.
 *
 * Layer plan (one header per concept; only the ones listed as present exist):
 *
 * | layer    | header (planned)    | what                                            |
 * |----------|---------------------|-------------------------------------------------|
 * | L0       | disruptor_mp/...h   | the raw ring: present (libdisruptor_mp)         |
 * | -        | myelon/version.h    | library version: present                        |
 * | L1       | myelon/frame.h      | framing and fragmentation of variable-length    |
 * |          |                     | payloads; bounded reassembly that detects       |
 * |          |                     | truncated or interleaved messages               |
 * | L2       | myelon/codec.h      | a small codec interface; msgpack-c as the       |
 * |          |                     | shipped codec (encode into a frame, decode into |
 * |          |                     | an owned value)                                 |
 * | L3       | myelon/view.h       | validated zero-copy views: in-place msgpack     |
 * |          |                     | objects and fixed-layout structs checked for    |
 * |          |                     | size, alignment and a type fingerprint          |
 * | topology | myelon/topology.h   | one scheduler broadcasting to N workers with    |
 * |          |                     | rendezvous and response rings; the transport    |
 * |          |                     | layout for one engine and N runners             |
 *
 * Conventions are those of disruptor_mp: functions return `int` (>= 0
 * success or a count, < 0 a negated errno or a library code), cold-path
 * failures leave a human-readable detail in a thread-local string, and
 * no function prints or aborts on bad input.
 */
#ifndef MYELON_H
#define MYELON_H

#include <disruptor_mp/disruptor_mp.h>

#include <myelon/export.h>
#include <myelon/version.h>
#include <myelon/error.h>
#include <myelon/frame.h>
#include <myelon/framed.h>

#endif /* MYELON_H */
