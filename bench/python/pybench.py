#!/usr/bin/env python3
"""Python subject of the bench (issue 19): what a Python process gets from
myelon, next to multiprocessing.Queue and multiprocessing.shared_memory
baselines run by the same interpreter.

  pybench.py [--rtt N] [--stream N] [--rounds R] [--c-producer PATH] [--json FILE]

  rtt-64     64-byte ping-pong between this process and a peer interpreter
             (multiprocessing spawn): this one sends a request, the peer
             answers with the same bytes; N round trips after a warm-up,
             each timed (perf_counter_ns). Cases:
               myelon            framed rings, publish() + recv_bytes(),
                                 default wait strategy ('block': spin, then
                                 park on a futex)
               myelon-spin       the same with wait='spin' on both sides
               mp.Queue          two multiprocessing.Queue objects
               shm-spin          multiprocessing.shared_memory: payload in
                                 the segment, a sequence number polled in a
                                 Python loop on each side
               shm-event         the same segment, multiprocessing.Event
                                 (a semaphore) as the handshake
  stream-1k  1 KiB messages into this process, every message's bytes copied
             out as a bytes object: from a C producer (lang-role-c stream,
             with --c-producer) and from a Python peer through myelon
             (recv_bytes()), and through a multiprocessing.Queue.

Pairing. The machine this runs on is usually shared; one run of each case
says little. Every case runs once per round, the order alternating
(forward, then reversed), and the report gives the median over the rounds
of each figure, and the median of the per-round ratio of
multiprocessing.Queue's RTT p50 to myelon's (paired: both from the same
round, minutes apart at most). The load average before and after is
recorded with the results.

Run against a build (no install needed):
  MYELON_LIBDIR=build PYTHONPATH=myelon/python python3 bench/python/pybench.py \\
      --c-producer build/tests/cxx/lang-role-c --json /tmp/python.json
bench/run.sh runs it after the C suite (bench/README.md).
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import time
from multiprocessing import shared_memory

import myelon

PAYLOAD64 = bytes(range(64))
KIB = bytes(1024)
TIMEOUT = 10.0  # seconds: every wait of every case is bounded by it
RTT_CASES = ['myelon', 'myelon-spin', 'mp.Queue', 'shm-spin', 'shm-event']
STREAM_CASES = ['myelon C->py', 'myelon py->py', 'mp.Queue']


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def rtt_summary(ns):
    return {'n': len(ns), 'p50_us': pct(ns, 50) / 1e3, 'p99_us': pct(ns, 99) / 1e3, 'mean_us': statistics.mean(ns) / 1e3}


def spawn(target, *args):
    p = mp.get_context('spawn').Process(target=target, args=args)
    p.start()
    return p


def reap(p):
    """Bounded join; a peer still there is killed (its rings go with it)."""
    p.join(TIMEOUT * 2)
    if p.is_alive():
        p.kill()
        p.join(TIMEOUT)
        raise RuntimeError('peer did not finish')
    if p.exitcode != 0:
        raise RuntimeError('peer exited %s' % p.exitcode)


# ---- rtt-64 ----------------------------------------------------------------------


def myelon_echo(req, rsp, total, wait):
    with myelon.Producer(rsp, capacity=64, wait=wait) as out, \
            myelon.Consumer(req, 'echo', attach_timeout=TIMEOUT, wait=wait) as inp:
        publish, recv = out.publish, inp.recv_bytes
        for _ in range(total):
            r = recv(TIMEOUT)
            if r is None:
                sys.exit('echo peer: no request within %d s' % TIMEOUT)
            publish(r[0], r[1], TIMEOUT)


def rtt_myelon(n, warm, wait):
    tag = 'pyb%d' % os.getpid()
    req, rsp = '/%s-req' % tag, '/%s-rsp' % tag
    ns = []
    clock = time.perf_counter_ns
    with myelon.Producer(req, capacity=64, wait=wait) as out:
        peer = spawn(myelon_echo, req, rsp, n + warm, wait)
        try:
            with myelon.Consumer(rsp, 'client', attach_timeout=TIMEOUT, wait=wait) as inp:
                out.wait_for_consumers(1, timeout=TIMEOUT)
                publish, recv = out.publish, inp.recv_bytes
                for i in range(n + warm):
                    t0 = clock()
                    publish(PAYLOAD64, 1, TIMEOUT)
                    r = recv(TIMEOUT)
                    t1 = clock()
                    if r is None or r[0] != PAYLOAD64:
                        raise RuntimeError('exchange %d: no or wrong answer' % i)
                    if i >= warm:
                        ns.append(t1 - t0)
        finally:
            reap(peer)
    return ns


def queue_echo(qin, qout, total):
    for _ in range(total):
        qout.put(qin.get(timeout=TIMEOUT))


def rtt_queue(n, warm):
    ctx = mp.get_context('spawn')
    qin, qout = ctx.Queue(), ctx.Queue()
    peer = spawn(queue_echo, qin, qout, n + warm)
    ns = []
    clock = time.perf_counter_ns
    try:
        for i in range(n + warm):
            t0 = clock()
            qin.put(PAYLOAD64)
            r = qout.get(timeout=TIMEOUT)
            t1 = clock()
            if r != PAYLOAD64:
                raise RuntimeError('exchange %d: wrong answer' % i)
            if i >= warm:
                ns.append(t1 - t0)
    finally:
        reap(peer)
    return ns


# shared_memory layout: [0:8] request number, [8:16] answer number (native
# uint64, written after the payload; x86 and arm64 keep an aligned 8-byte
# store whole, and Python's own bytecode sequencing orders the two stores
# on x86's TSO), [64:128] request, [128:192] answer.
REQ, RSP = slice(64, 128), slice(128, 192)


def spin_until(ctl, idx, value):
    """Poll ctl[idx] until it is `value`; bounded by TIMEOUT (the clock is
    read every 64 Ki polls, so it costs the loop nothing measurable)."""
    k = 0
    end = time.monotonic() + TIMEOUT
    while ctl[idx] != value:
        k += 1
        if not k & 0xffff and time.monotonic() > end:
            raise RuntimeError('shm peer: nothing within %d s' % TIMEOUT)


def shm_echo(name, total, ev_req, ev_rsp):
    shm = shared_memory.SharedMemory(name)
    try:
        buf = shm.buf
        ctl = buf[:16].cast('Q')
        for i in range(1, total + 1):
            if ev_req is None:
                spin_until(ctl, 0, i)
            else:
                if not ev_req.wait(TIMEOUT):
                    sys.exit('shm peer: no request within %d s' % TIMEOUT)
                ev_req.clear()
            buf[RSP] = bytes(buf[REQ])
            if ev_rsp is None:
                ctl[1] = i
            else:
                ev_rsp.set()
        ctl.release()
        del buf
    finally:
        shm.close()


def rtt_shm(n, warm, event):
    ctx = mp.get_context('spawn')
    shm = shared_memory.SharedMemory('pyb%d-shm' % os.getpid(), create=True, size=4096)
    ev_req, ev_rsp = (ctx.Event(), ctx.Event()) if event else (None, None)
    ns = []
    clock = time.perf_counter_ns
    try:
        buf = shm.buf
        ctl = buf[:16].cast('Q')
        ctl[0] = ctl[1] = 0
        peer = spawn(shm_echo, shm.name, n + warm, ev_req, ev_rsp)
        try:
            for i in range(1, n + warm + 1):
                t0 = clock()
                buf[REQ] = PAYLOAD64
                if event:
                    ev_req.set()
                    if not ev_rsp.wait(TIMEOUT):
                        raise RuntimeError('shm: no answer within %d s' % TIMEOUT)
                    ev_rsp.clear()
                else:
                    ctl[0] = i
                    spin_until(ctl, 1, i)
                r = bytes(buf[RSP])
                t1 = clock()
                if r != PAYLOAD64:
                    raise RuntimeError('exchange %d: wrong answer' % i)
                if i > warm:
                    ns.append(t1 - t0)
        finally:
            reap(peer)
        ctl.release()
        del buf
    finally:
        shm.unlink()  # first: a view still exported after an error makes close() raise
        try:
            shm.close()
        except BufferError:
            pass
    return ns


def run_rtt(case, n, warm):
    if case == 'myelon':
        return rtt_myelon(n, warm, None)
    if case == 'myelon-spin':
        return rtt_myelon(n, warm, 'spin')
    if case == 'mp.Queue':
        return rtt_queue(n, warm)
    if case == 'shm-spin':
        return rtt_shm(n, warm, False)
    if case == 'shm-event':
        return rtt_shm(n, warm, True)
    raise ValueError(case)


# ---- stream-1k --------------------------------------------------------------------


def stream_producer(name, n):
    with myelon.Producer(name, capacity=1024, frame_capacity=1024, wait_consumers=1, wait_timeout=TIMEOUT) as p:
        publish = p.publish
        for _ in range(n):
            publish(KIB, 1, TIMEOUT)


def stream_consume(name, n):
    """msgs/s from the first message to the last, every message copied out."""
    with myelon.Consumer(name, 'bench', attach_timeout=TIMEOUT) as c:
        recv = c.recv_bytes
        if recv(TIMEOUT) is None:
            raise RuntimeError('stream: nothing within %d s' % TIMEOUT)
        t0 = time.perf_counter_ns()
        for got in range(1, n):
            r = recv(TIMEOUT)
            if r is None:
                raise RuntimeError('stream stalled at %d of %d' % (got, n))
        dt = time.perf_counter_ns() - t0
    return (n - 1) / (dt / 1e9)


def stream_python(n):
    name = '/pyb%d-stream' % os.getpid()
    peer = spawn(stream_producer, name, n)
    try:
        return stream_consume(name, n)
    finally:
        reap(peer)


def stream_c(n, role):
    name = '/pyb%d-cstream' % os.getpid()
    peer = subprocess.Popen([role, 'stream', 'produce', name, str(n)])
    try:
        rate = stream_consume(name, n)
    finally:
        try:
            peer.wait(TIMEOUT * 2)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()
    if peer.returncode != 0:
        raise RuntimeError('C producer exited %s' % peer.returncode)
    return rate


def queue_stream_producer(q, n):
    for _ in range(n):
        q.put(KIB)


def stream_queue(n):
    ctx = mp.get_context('spawn')
    q = ctx.Queue(maxsize=1024)
    peer = spawn(queue_stream_producer, q, n)
    try:
        q.get(timeout=TIMEOUT)
        t0 = time.perf_counter_ns()
        for _ in range(n - 1):
            q.get(timeout=TIMEOUT)
        dt = time.perf_counter_ns() - t0
    finally:
        reap(peer)
    return (n - 1) / (dt / 1e9)


def run_stream(case, n, role):
    if case == 'myelon C->py':
        return stream_c(n, role)
    if case == 'myelon py->py':
        return stream_python(n)
    if case == 'mp.Queue':
        return stream_queue(n)
    raise ValueError(case)


# ---- rounds and report ------------------------------------------------------------------


def med(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rtt', type=int, default=5000, help='round trips per RTT run (default 5000)')
    ap.add_argument('--stream', type=int, default=100000, help='messages per stream run (default 100000)')
    ap.add_argument('--rounds', type=int, default=5, help='paired rounds, order alternating (default 5)')
    ap.add_argument('--c-producer', help='lang-role-c (build/tests/cxx/lang-role-c) for the C producer case')
    ap.add_argument('--json', help='also write the results here')
    a = ap.parse_args()
    warm = max(100, a.rtt // 10)
    rtt_cases = list(RTT_CASES)
    stream_cases = [c for c in STREAM_CASES if a.c_producer or c != 'myelon C->py']
    load_before = os.getloadavg()
    rtt_runs = {c: [] for c in rtt_cases}
    stream_runs = {c: [] for c in stream_cases}
    for r in range(a.rounds):
        order = rtt_cases if r % 2 == 0 else rtt_cases[::-1]
        for c in order:
            rtt_runs[c].append(rtt_summary(run_rtt(c, a.rtt, warm)))
        order = stream_cases if r % 2 == 0 else stream_cases[::-1]
        for c in order:
            stream_runs[c].append(run_stream(c, a.stream, a.c_producer))
        print('round %d/%d done (load %.2f)' % (r + 1, a.rounds, os.getloadavg()[0]), file=sys.stderr, flush=True)
    load_after = os.getloadavg()

    rtt = []
    for c in rtt_cases:
        runs = rtt_runs[c]
        rtt.append({'case': c, 'rounds': len(runs), 'n': a.rtt, 'p50_us': med([x['p50_us'] for x in runs]),
                    'p99_us': med([x['p99_us'] for x in runs]), 'mean_us': med([x['mean_us'] for x in runs]),
                    'p50_us_runs': [round(x['p50_us'], 2) for x in runs]})
    stream = []
    for c in stream_cases:
        runs = stream_runs[c]
        stream.append({'case': c, 'rounds': len(runs), 'n': a.stream, 'msgs_per_s': med(runs),
                       'MiB_per_s': med(runs) * 1024 / 2**20, 'msgs_per_s_runs': [round(x) for x in runs]})
    q = [x['p50_us'] for x in rtt_runs['mp.Queue']]
    ratios = {c: med([qq / x['p50_us'] for qq, x in zip(q, rtt_runs[c])]) for c in rtt_cases if c != 'mp.Queue'}

    print('rtt-64 (64 B ping-pong, Python <-> Python; median of %d paired rounds of %d exchanges)' % (a.rounds, a.rtt))
    for x in rtt:
        print('  %-13s p50 %8.1f us  p99 %8.1f us  mean %8.1f us   Queue/this p50 %s' % (
            x['case'], x['p50_us'], x['p99_us'], x['mean_us'],
            '%.1fx' % ratios[x['case']] if x['case'] in ratios else '-'))
    print('stream-1k (1 KiB into a Python consumer, bytes copied out; median of %d rounds of %d)' % (a.rounds,
                                                                                                    a.stream))
    for x in stream:
        print('  %-13s %10.0f msg/s  %8.1f MiB/s' % (x['case'], x['msgs_per_s'], x['MiB_per_s']))
    print('target: mp.Queue RTT p50 / myelon RTT p50 >= 10: myelon %.1fx, myelon-spin %.1fx (load %.2f -> %.2f)' % (
        ratios['myelon'], ratios['myelon-spin'], load_before[0], load_after[0]))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'python': platform.python_version(), 'myelon': myelon.version(), 'cpus': os.cpu_count(),
                       'loadavg_before': load_before, 'loadavg_after': load_after, 'rounds': a.rounds,
                       'rtt': rtt, 'stream': stream, 'queue_over': ratios}, f, indent=1)


if __name__ == '__main__':
    main()
