/**
 * @file ctl.h
 * @brief The control block shared by the processes of one case: a 4 KiB
 * memfd the orchestrator creates and every role inherits (by fd number on
 * its command line), so no name is left anywhere if a case is killed.
 *
 * It carries only coordination, never messages: a start barrier (every
 * role opens its channels, then waits for all), a count of receivers that
 * are done (a sender closes only after, so transports that drop queued
 * messages on close lose nothing), a failure flag that makes the other
 * roles give up early, and a step count for lock-step paired streams.
 */
#ifndef MYELON_BENCH_CTL_H
#define MYELON_BENCH_CTL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct bench_ctl {
  _Atomic uint32_t ready;   /* roles past their opens */
  _Atomic uint32_t rx_done; /* receivers that have everything */
  _Atomic uint32_t failed;  /* a role failed: the others stop waiting */
  _Atomic uint32_t step;    /* paired streams: blocks the consumer has finished */
  _Atomic uint32_t left;    /* gather: writers other than the first that have closed */
  _Atomic uint32_t arrived; /* ab_gather: writer arrivals at the start of a many-writer block */
  _Atomic uint64_t block_t0; /* ab_stream, ab_gather: tick at which the (first) writer started the current block */
};

/** Set by roles of the cross-host subjects (hosts.c): bench_ctl_wait_step()
 * then sleeps 20 us between polls instead of spinning, so that the
 * processes and threads a bridge or ZeroMQ needs get the core. */
extern bool bench_ctl_polite;

/** Create the block; returns the fd (inheritable) or -errno. */
int bench_ctl_create(struct bench_ctl **out);
/** Map the block from an inherited fd. */
int bench_ctl_map(int fd, struct bench_ctl **out);
/** Arrive and wait until `n` roles have arrived (bounded); 0 or -ETIMEDOUT,
 * -ECANCELED when another role failed. */
int bench_ctl_barrier(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns);
/** Wait until ctl->step >= `n` (bounded, spinning); 0, -ETIMEDOUT, -ECANCELED. */
int bench_ctl_wait_step(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns);
/** The same, sleeping 20 us between polls whatever bench_ctl_polite says
 * (an idle writer of ab_gather must leave the core to the others). */
int bench_ctl_wait_step_sleeping(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns);
/** ab_gather: a writer arrived at a block / wait (spinning, bounded) until
 * `n` arrivals in all have been counted. */
void bench_ctl_arrive(struct bench_ctl *ctl);
int bench_ctl_wait_arrived(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns);
/** Wait until `n` receivers are done (bounded); 0, -ETIMEDOUT or -ECANCELED. */
int bench_ctl_wait_done(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns);
/** Gather: a writer closed its channel / wait until `n` have. */
void bench_ctl_left(struct bench_ctl *ctl);
int bench_ctl_wait_left(struct bench_ctl *ctl, uint32_t n, int64_t timeout_ns);

#endif /* MYELON_BENCH_CTL_H */
