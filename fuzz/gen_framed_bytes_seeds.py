#!/usr/bin/env python3
# Usage: python3 fuzz/gen_framed_bytes_seeds.py fuzz/corpus/bytes
# Seeds of fuzz_bytes's Layer 1 mode (byte 2 bit 2): a framed byte ring's
# blocks as an honest producer writes them (records with an aligned SINGLE
# frame each, a padding record at the ring's end), and a few broken ones.
import struct, sys
out = sys.argv[1]
BLOCK, NBLK = 32, 32

def rec(seq, msg, msg_id, kind=7, frame_flags=3, total=None, rlen=None, rkind=1):
    frame = struct.pack('<IBBHII', len(msg), kind, frame_flags, 0, msg_id, len(msg) if total is None else total) + msg
    hdr = struct.pack('<IHHq', len(frame) if rlen is None else rlen, rkind, 0, seq)
    body = hdr + frame
    nb = (len(body) + BLOCK - 1) // BLOCK
    return body + b'\0' * (nb * BLOCK - len(body)), nb

def ring(msgs, mode, bad=None, limit=None, aborted=()):
    # mode bit 1 (a multi-producer ring): the per-block markers follow the
    # blocks, as bytes_multi.c stores them: DATA(seq) on a record's (and a
    # padding's) first block, TOMB on its inner blocks; the records listed
    # in `aborted` are all TOMB (an aborted or a dead producer's claim).
    img = bytearray(BLOCK * NBLK)
    marks = [0] * NBLK
    seq, mid = 0, 1
    for i, m in enumerate(msgs):
        kw = bad.get(i, {}) if bad else {}
        body, nb = rec(seq, m, mid, **kw)
        if seq % NBLK + nb > NBLK:  # padding to the ring's end
            pad = NBLK - seq % NBLK
            img[(seq % NBLK) * BLOCK:(seq % NBLK) * BLOCK + 16] = struct.pack('<IHHq', pad * BLOCK - 16, 2, 0, seq)
            for b in range(pad):
                marks[(seq + b) % NBLK] = -(seq + b + 1) if b or i in aborted else seq + 1
            seq += pad
            body, nb = rec(seq, m, mid, **kw)
        o = (seq % NBLK) * BLOCK
        img[o:o + len(body)] = body
        for b in range(nb):
            marks[(seq + b) % NBLK] = -(seq + b + 1) if b or i in aborted else seq + 1
        seq += nb
        mid += 1
    cursor = seq - 1
    pro = bytes([1, 4, mode]) + struct.pack('<qq', cursor, cursor + NBLK - 1 if limit is None else limit) + struct.pack('<H', 0)
    tail = b''.join(struct.pack('<q', x) for x in marks) if mode & 2 else b''
    return pro + bytes(img) + tail

msgs = [bytes(range(n % 256)) * 1 for n in (0, 1, 8, 40, 100, 7, 64, 200, 3)]
msgs = [bytes((j * 7 + n) & 255 for j in range(n)) for n in (0, 1, 8, 40, 100, 7, 64, 200, 3)]
seeds = {
    'framed-recv': ring(msgs, 4 | (0 << 3)),
    'framed-into': ring(msgs, 4 | (1 << 3) | 64),
    'framed-batch': ring(msgs, 4 | (2 << 3)),
    'framed-mixed-small-max': ring(msgs, 4 | (3 << 3) | 32),
    'framed-lossy': ring(msgs[:6], 5 | (3 << 3), limit=NBLK - 1),
    'framed-bad-frames': ring(msgs, 4 | (2 << 3), bad={1: {'frame_flags': 1}, 3: {'total': 5}, 5: {'rlen': 4000}, 6: {'rkind': 9}}),
    # Layer 1 on a multi-producer byte ring (bit 1): records published by
    # their first block's marker, an aborted record's blocks tombstones.
    'framed-multi-recv': ring(msgs, 4 | 2 | (0 << 3), aborted=(2,)),
    'framed-multi-batch': ring(msgs, 4 | 2 | (2 << 3), aborted=(4, 7)),
    'framed-multi-mixed': ring(msgs, 4 | 2 | (3 << 3), aborted=(0,)),
    'framed-multi-lossy': ring(msgs[:6], 4 | 2 | 1 | (3 << 3), limit=NBLK - 1, aborted=(3,)),
}
for k, v in seeds.items():
    open(f'{out}/{k}', 'wb').write(v)
    print(k, len(v))
