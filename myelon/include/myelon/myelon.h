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
 * Layers (one header per concept):
 *
 * | layer    | header                 | what                                         |
 * |----------|------------------------|----------------------------------------------|
 * | L0       | disruptor_mp/...h      | the raw ring (libdisruptor_mp)               |
 * | -        | myelon/version.h       | library version                              |
 * | L1       | myelon/frame.h         | framing and fragmentation of variable-length |
 * |          |                        | payloads; bounded reassembly that detects    |
 * |          |                        | truncated or interleaved messages            |
 * | L1       | myelon/framed.h        | framed producer / consumer over a ring       |
 * | L2       | myelon/codec.h         | the codec interface (encode into a frame,    |
 * |          |                        | decode into an owned value)                  |
 * | L2       | myelon/msgpack_codec.h | msgpack-c codec, bounded in-place parser,    |
 * |          |                        | field tables for C structs                   |
 * | L3       | myelon/view.h          | validated zero-copy views: in-place msgpack  |
 * |          |                        | trees and fixed-layout structs checked for   |
 * |          |                        | size, alignment and a type fingerprint;      |
 * |          |                        | leases that expose use after release         |
 * | L2-L3    | myelon/typed.h         | typed producer / consumer: publish values,   |
 * |          |                        | receive owned values or views                |
 * | topology | myelon/transport_      | ring names for one scheduler and N workers from |
 * |          |   layout.h             | a session label: compact hashed tag,         |
 * |          |                        | portable lengths, worker rendezvous          |
 * | topology | myelon/topology.h      | one scheduler broadcasting steps to N        |
 * |          |                        | workers, rendezvous, per-worker response     |
 * |          |                        | rings, a gather naming late / dead workers   |
 * | journal  | myelon/journal.h       | a ring's stream on disk: versioned format,   |
 * |          |                        | CRC32C, io_uring/pwrite writer, reader that  |
 * |          |                        | reports torn tails and corrupted records     |
 * | journal  | myelon/record.h        | recorder (gating or not) and replayer        |
 * |          |                        | (original pacing, a rate, or flat out)       |
 *
 * libmyelon depends on msgpack-c (pkg-config `msgpack` or `msgpack-c`);
 * this header includes <msgpack.h> through msgpack_codec.h.
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
#include <myelon/codec.h>
#include <myelon/msgpack_codec.h>
#include <myelon/view.h>
#include <myelon/typed.h>
#include <myelon/transport_layout.h>
#include <myelon/topology.h>
#include <myelon/journal.h>
#include <myelon/record.h>
#include <myelon/framed_processor.h>

#endif /* MYELON_H */
