#!/usr/bin/env python3
"""Python subject of the bench (issue 19): what a Python process gets from
myelon, next to multiprocessing.Queue run by the same interpreter.

  pybench.py [--rtt N] [--stream N] [--c-producer PATH] [--json FILE]

  rtt-64     64-byte ping-pong between two Python processes: this one
             publishes a request on one framed ring, the peer (a child
             interpreter) answers on another; N round trips after a warm-up,
             p50/p99 of the round-trip time. Same with two
             multiprocessing.Queue objects.
  stream-1k  1 KiB messages into this process: from a child Python producer
             (myelon.Producer), from a C producer (lang-role-c stream, with
             --c-producer), and through a multiprocessing.Queue; messages/s
             with every message's bytes copied out (bytes(m.data)).

Run against a build (no install needed):
  MYELON_LIBDIR=build PYTHONPATH=myelon/python python3 bench/python/pybench.py \\
      --c-producer build/tests/cxx/lang-role-c
The figures depend on the machine and its load: bench/README.md says where
each published figure came from.
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

import myelon

PAYLOAD64 = bytes(range(64))
KIB = bytes(1024)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def summary(name, ns):
    return {'case': name, 'n': len(ns), 'p50_us': pct(ns, 50) / 1e3, 'p99_us': pct(ns, 99) / 1e3,
            'mean_us': statistics.mean(ns) / 1e3}


# ---- rtt-64, myelon ---------------------------------------------------------------

def echo_peer(req, rsp, total):
    with myelon.Producer(rsp) as out, myelon.Consumer(req, 'echo', attach_timeout=10) as inp:
        for _ in range(total):
            m = inp.recv(timeout=10)
            if m is None:
                sys.exit('echo peer: no request within 10 s')
            with m:
                out.publish(m.data, kind=m.kind, timeout=10)


def rtt_myelon(n, warm):
    tag = 'pyb%d' % os.getpid()
    req, rsp = '/%s-req' % tag, '/%s-rsp' % tag
    ns = []
    with myelon.Producer(req, capacity=64) as out:
        peer = mp.get_context('spawn').Process(target=echo_peer, args=(req, rsp, n + warm))
        peer.start()
        with myelon.Consumer(rsp, 'client', attach_timeout=10) as inp:
            out.wait_for_consumers(1, timeout=10)
            for i in range(n + warm):
                t0 = time.perf_counter_ns()
                out.publish(PAYLOAD64, kind=1, timeout=10)
                m = inp.recv(timeout=10)
                if m is None:
                    raise RuntimeError('no answer within 10 s')
                m.release()
                if i >= warm:
                    ns.append(time.perf_counter_ns() - t0)
        peer.join(20)
    return summary('rtt-64 myelon (Python <-> Python)', ns)


# ---- rtt-64, multiprocessing.Queue --------------------------------------------------

def queue_peer(qin, qout, total):
    for _ in range(total):
        qout.put(qin.get(timeout=10))


def rtt_queue(n, warm):
    ctx = mp.get_context('spawn')
    qin, qout = ctx.Queue(), ctx.Queue()
    peer = ctx.Process(target=queue_peer, args=(qin, qout, n + warm))
    peer.start()
    ns = []
    for i in range(n + warm):
        t0 = time.perf_counter_ns()
        qin.put(PAYLOAD64)
        qout.get(timeout=10)
        if i >= warm:
            ns.append(time.perf_counter_ns() - t0)
    peer.join(20)
    return summary('rtt-64 multiprocessing.Queue', ns)


# ---- stream-1k ---------------------------------------------------------------------

def stream_producer(name, n):
    with myelon.Producer(name, capacity=1024, frame_capacity=1024, wait_consumers=1, wait_timeout=10) as p:
        for _ in range(n):
            p.publish(KIB, kind=1, timeout=10)


def stream_consume(name, n, start_peer):
    with myelon.Consumer(name, 'bench', attach_timeout=10) as c:
        got, t0 = 0, None
        while got < n:
            m = c.recv(timeout=10)
            if m is None:
                raise RuntimeError('stream stalled at %d of %d' % (got, n))
            if t0 is None:
                t0 = time.perf_counter_ns()
            bytes(m.data)
            m.release()
            got += 1
        dt = time.perf_counter_ns() - t0
    start_peer.join(20) if hasattr(start_peer, 'join') else start_peer.wait(20)
    return (n - 1) / (dt / 1e9)


def stream_python(n):
    name = '/pyb%d-stream' % os.getpid()
    peer = mp.get_context('spawn').Process(target=stream_producer, args=(name, n))
    peer.start()
    rate = stream_consume(name, n, peer)
    return {'case': 'stream-1k myelon (Python producer -> Python consumer)', 'n': n, 'msgs_per_s': rate,
            'MiB_per_s': rate * 1024 / 2**20}


def stream_c(n, role):
    name = '/pyb%d-cstream' % os.getpid()
    peer = subprocess.Popen([role, 'stream', 'produce', name, str(n)])
    rate = stream_consume(name, n, peer)
    if peer.returncode != 0:
        raise RuntimeError('C producer exited %s' % peer.returncode)
    return {'case': 'stream-1k myelon (C producer -> Python consumer)', 'n': n, 'msgs_per_s': rate,
            'MiB_per_s': rate * 1024 / 2**20}


def queue_stream_producer(q, n):
    for _ in range(n):
        q.put(KIB)


def stream_queue(n):
    ctx = mp.get_context('spawn')
    q = ctx.Queue(maxsize=1024)
    peer = ctx.Process(target=queue_stream_producer, args=(q, n))
    peer.start()
    q.get(timeout=10)
    t0 = time.perf_counter_ns()
    for _ in range(n - 1):
        q.get(timeout=10)
    dt = time.perf_counter_ns() - t0
    peer.join(20)
    rate = (n - 1) / (dt / 1e9)
    return {'case': 'stream-1k multiprocessing.Queue', 'n': n, 'msgs_per_s': rate, 'MiB_per_s': rate * 1024 / 2**20}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rtt', type=int, default=20000, help='round trips per RTT case (default 20000)')
    ap.add_argument('--stream', type=int, default=200000, help='messages per stream case (default 200000)')
    ap.add_argument('--c-producer', help='lang-role-c (build/tests/cxx/lang-role-c) for the C producer case')
    ap.add_argument('--json', help='also write the results here')
    a = ap.parse_args()
    warm = max(100, a.rtt // 10)
    results = [rtt_myelon(a.rtt, warm), rtt_queue(a.rtt, warm), stream_python(a.stream)]
    if a.c_producer:
        results.append(stream_c(a.stream, a.c_producer))
    results.append(stream_queue(a.stream))
    for r in results:
        if 'p50_us' in r:
            print('%-45s n=%-7d p50 %8.1f us  p99 %8.1f us  mean %8.1f us' % (r['case'], r['n'], r['p50_us'],
                                                                              r['p99_us'], r['mean_us']))
        else:
            print('%-45s n=%-7d %10.0f msg/s  %8.1f MiB/s' % (r['case'], r['n'], r['msgs_per_s'], r['MiB_per_s']))
    ratio = results[1]['p50_us'] / results[0]['p50_us']
    print('rtt-64 p50: multiprocessing.Queue / myelon = %.1fx (target >= 10x)' % ratio)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'python': sys.version.split()[0], 'cpus': os.cpu_count(),
                       'loadavg': os.getloadavg(), 'results': results, 'queue_over_myelon_p50': ratio}, f, indent=1)


if __name__ == '__main__':
    main()
