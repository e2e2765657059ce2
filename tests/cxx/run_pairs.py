#!/usr/bin/env python3
"""C and C++ peers on one ring, in separate processes: for every layer
(raw Layer 0 ring, framed messages, msgpack-typed values; the framed and
typed ones also on a framed byte ring, MYELON_FRAME_BYTES) each pair of
producer and consumer builds of tests/cxx/lang_role.c exchanges COUNT
values, and the consumer checks every one (lang_role.c says how).

  run_pairs.py COUNT C_ROLE CXX17_ROLE CXX20_ROLE [HPP17_ROLE HPP20_ROLE]

HPP*_ROLE: hpp_role.cpp, the same peer written against <myelon/myelon.hpp>
(C++17 and C++20 builds), paired with the C peer both ways.

Fails if any role exits non-zero, a run exceeds its bound, or a segment
of this test is left in /dev/shm.
"""
import os
import subprocess
import sys

count = sys.argv[1]
roles = {'c': sys.argv[2], 'c++17': sys.argv[3], 'c++20': sys.argv[4]}
pairs = [('c', 'c++17'), ('c++17', 'c'), ('c', 'c++20'), ('c++20', 'c'), ('c++20', 'c++17')]
if len(sys.argv) > 6:
    roles.update({'hpp17': sys.argv[5], 'hpp20': sys.argv[6]})
    pairs += [('c', 'hpp17'), ('hpp17', 'c'), ('c', 'hpp20'), ('hpp20', 'c')]
prefix = 'lang%d-' % os.getpid()
failed = []
n = 0
for layer in ('raw', 'framed', 'typed', 'framed-bytes', 'typed-bytes'):
    for prod, cons in pairs:
        n += 1
        name = '/%s%d' % (prefix, n)
        # consumer first: it retries its attach until the producer has created the ring
        c = subprocess.Popen([roles[cons], layer, 'consume', name, count])
        p = subprocess.Popen([roles[prod], layer, 'produce', name, count])
        rcs = []
        for proc in (p, c):
            try:
                rcs.append(proc.wait(timeout=60))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rcs.append('timeout')
        ok = rcs == [0, 0]
        print('%-6s %-6s -> %-6s producer %s consumer %s %s' % (layer, prod, cons, rcs[0], rcs[1], 'ok' if ok else 'FAIL'))
        if not ok:
            failed.append((layer, prod, cons))
left = [f for f in os.listdir('/dev/shm') if prefix in f]
if left:
    print('left in /dev/shm:', left)
    for f in left:
        os.unlink(os.path.join('/dev/shm', f))
print('%d runs, %d failed' % (n, len(failed)))
sys.exit(1 if failed or left else 0)
