"""Suite python: the `myelon` package (myelon/python) against the C libraries.

Run by meson test (tests/python/meson.build), which sets:
  MYELON_LIBDIR       the build directory (the package loads the libraries from it)
  PYTHONPATH          myelon/python in the source tree
  MYELON_TEST_ROLE    tests/cxx's lang-role-c: the C peer (raw, framed, typed)
  MYELON_TEST_LAYOUT  layout-dump: sizes and offsets of the mirrored C structs
  MYELON_TEST_TOPO    topo-role: a C scheduler or worker of a topology
  DMP_STAT            the dmp-stat tool (ring status is compared with its --json)

Cross-language cases run the C peer in its own process; the Python side is
this process (or a child interpreter for Ctrl-C). Every wait is bounded;
every test checks that it left nothing in /dev/shm.
"""
import ctypes
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest

import myelon

ROLE = os.environ['MYELON_TEST_ROLE']
M64 = (1 << 64) - 1
COUNT = 400


def mix(x):
    """lang_role.c's mix()."""
    x &= M64
    x ^= x >> 33
    x = (x * 0xff51afd7ed558ccd) & M64
    x ^= x >> 33
    return x


def framed_payload(i):
    """lang_role.c's framed_len() and framed_fill()."""
    n = (i * 131) % 3001
    m = mix(i)
    return bytes((m + k) & 0xff for k in range(n))


def order(i):
    """lang_role.c's order_make(), as the dict its msgpack codec reads."""
    n = i % 5
    return {'id': i, 'px': 100.0 + 0.25 * i, 'qty': i * 7, 'buy': bool(i & 1), 'sym': 'S%d' % (i % 1000),
            'fills': [i - k for k in range(n)]}


def type_tag(name, size):
    """dmp_type_tag() (disruptor_mp/typed.h): FNV-1a-64 of the name, then the size."""
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    for i in range(8):
        h = ((h ^ ((size >> (8 * i)) & 0xff)) * 0x100000001b3) & M64
    return h or 1


class Base(unittest.TestCase):
    n = 0

    def setUp(self):
        Base.n += 1
        self.tag = 'py%d-%d' % (os.getpid(), Base.n)
        self.name = '/' + self.tag
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        left = [f for f in os.listdir('/dev/shm') if self.tag in f]
        for f in left:
            os.unlink(os.path.join('/dev/shm', f))
        self.assertEqual(left, [], 'left in /dev/shm')

    def role(self, layer, what, count=COUNT):
        p = subprocess.Popen([ROLE, layer, what, self.name, str(count)], stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def finish(self, p, timeout=60):
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            self.fail('C peer did not finish in %d s: %s' % (timeout, err))
        self.assertEqual(p.returncode, 0, 'C peer failed: %s' % err)


class Layout(unittest.TestCase):
    def test_ctypes_mirrors_match_the_c_structs(self):
        from myelon import _ffi
        d = json.loads(subprocess.run([os.environ['MYELON_TEST_LAYOUT']], check=True, capture_output=True,
                                      text=True, timeout=30).stdout)
        for name, v in d.items():
            T = getattr(_ffi, name)
            for f, off in v['fields'].items():
                self.assertEqual(getattr(T, f).offset, off, '%s.%s' % (name, f))
            if name == 'RingStat':  # a prefix of the C struct
                self.assertLessEqual(ctypes.sizeof(T), v['size'], name)
            else:
                self.assertEqual(ctypes.sizeof(T), v['size'], name)


class Framed(Base):
    def test_c_producer_to_python_consumer(self):
        p = self.role('framed', 'produce')
        with myelon.Consumer(self.name, 'lang', attach_timeout=10) as c:
            for i in range(COUNT):
                m = c.recv(timeout=10)
                self.assertIsNotNone(m, 'message %d did not come' % i)
                with m:
                    self.assertEqual(m.kind, i % 251)
                    self.assertEqual(bytes(m.data), framed_payload(i), 'message %d' % i)
                self.assertTrue(m.released)
            self.finish(p)
            # the producer closed: everything was read, so the next receive says so
            with self.assertRaises(myelon.Error) as e:
                c.recv(timeout=10)
            self.assertEqual(e.exception.name, 'OWNERDEAD')

    def test_python_producer_to_c_consumer(self):
        c = self.role('framed', 'consume')
        with myelon.Producer(self.name, capacity=64, wait_consumers=1, wait_timeout=10) as p:
            for i in range(COUNT):
                p.publish(framed_payload(i), kind=i % 251, timeout=10)
            self.finish(c)

    def test_memoryview_of_a_released_message_raises(self):
        with myelon.Producer(self.name) as p, myelon.Consumer(self.name, 'r') as c:
            p.publish(b'abc' * 100, kind=3)
            p.publish(bytearray(b'second'), kind=4)
            m = c.recv(timeout=5)
            view = m.data
            self.assertEqual(bytes(view[:3]), b'abc')
            self.assertTrue(view.readonly)
            m2 = c.recv(timeout=5)  # the next receive releases the first message
            self.assertTrue(m.released)
            with self.assertRaises(ValueError):
                bytes(view)
            with self.assertRaises(ValueError):
                m.data
            self.assertEqual((m2.kind, m2.bytes()), (4, b'second'))
            m2.release()
            m2.release()  # idempotent

    def test_receive_times_out_with_none_within_bounds(self):
        with myelon.Producer(self.name), myelon.Consumer(self.name, 'r') as c:
            t0 = time.monotonic()
            self.assertIsNone(c.recv(timeout=0.3))
            took = time.monotonic() - t0
            self.assertGreaterEqual(took, 0.29)
            self.assertLess(took, 5.0)
            self.assertIsNone(c.recv(timeout=0))

    def test_blocking_receive_releases_the_gil(self):
        with myelon.Producer(self.name) as p, myelon.Consumer(self.name, 'r') as c:
            got = []
            t = threading.Thread(target=lambda: got.append(c.recv(timeout=20)))
            t.start()
            spins, end = 0, time.monotonic() + 0.5
            while time.monotonic() < end:  # runs only if the receiving thread let go of the GIL
                spins += 1
            p.publish(b'wake', kind=1)
            t.join(20)
            self.assertFalse(t.is_alive())
            self.assertGreater(spins, 1000)
            self.assertEqual(got[0].bytes(), b'wake')
            got[0].release()

    def test_ctrl_c_interrupts_a_blocking_receive(self):
        code = ('import myelon, sys\n'
                'c = myelon.Consumer(sys.argv[1], "cc", attach_timeout=10)\n'
                'print("ready", flush=True)\n'
                'try:\n'
                '    c.recv()\n'
                'except KeyboardInterrupt:\n'
                '    c.close()\n'
                '    print("interrupted", flush=True)\n'
                '    sys.exit(3)\n')
        with myelon.Producer(self.name):
            child = subprocess.Popen([sys.executable, '-c', code, self.name], stdout=subprocess.PIPE, text=True)
            self.procs.append(child)
            self.assertEqual(child.stdout.readline().strip(), 'ready')
            time.sleep(0.2)  # let it block in recv()
            t0 = time.monotonic()
            child.send_signal(signal.SIGINT)
            out, _ = child.communicate(timeout=10)
            self.assertLess(time.monotonic() - t0, 5.0)
            self.assertEqual((child.returncode, out.strip()), (3, 'interrupted'))


class Typed(Base):
    def test_c_producer_to_recv_bytes_and_recv_into_with_each_wait_strategy(self):
        # recv_bytes() and recv_into(): one C call per message (wait, copy,
        # release); every wait strategy the constructor takes carries the stream
        for wait, recv in (('spin', 'bytes'), ('yield', 'into'), ('sleep', 'bytes'), ('block', 'into')):
            with self.subTest(wait=wait):
                p = self.role('framed', 'produce')
                buf = bytearray(4000)  # the C peer's messages are at most 3000 bytes
                with myelon.Consumer(self.name, 'lang', attach_timeout=10, wait=wait, spins=64) as c:
                    for i in range(COUNT):
                        if recv == 'bytes':
                            r = c.recv_bytes(timeout=10)
                            self.assertIsNotNone(r, 'message %d did not come' % i)
                            data, kind = r
                            self.assertIs(type(data), bytes)
                        else:
                            r = c.recv_into(buf, timeout=10)
                            self.assertIsNotNone(r, 'message %d did not come' % i)
                            data, kind = bytes(buf[:r[0]]), r[1]
                        self.assertEqual((kind, data), (i % 251, framed_payload(i)), 'message %d' % i)
                    self.finish(p)
                    with self.assertRaises(myelon.Error) as e:
                        c.recv_bytes(timeout=10)
                    self.assertEqual(e.exception.name, 'OWNERDEAD')

    def test_recv_bytes_and_recv_into_release_as_they_copy(self):
        big = bytes(range(256)) * 400  # 100 KiB: longer than recv_bytes()'s own buffer
        with myelon.Producer(self.name, capacity=256) as p, myelon.Consumer(self.name, 'r') as c:
            self.assertEqual(c.max_message, 16 << 20)
            for i in range(1000):  # four times the ring: each call must have released its slot
                p.publish(b'm%d' % i, kind=i % 256, timeout=0)
                self.assertEqual(c.recv_bytes(timeout=5), (b'm%d' % i, i % 256))
            p.publish(big, kind=7, timeout=5)
            self.assertEqual(c.recv_bytes(timeout=5), (big, 7))
            p.publish(b'', kind=1, timeout=5)
            self.assertEqual(c.recv_bytes(timeout=5), (b'', 1))
            buf = bytearray(8)
            p.publish(b'abc', kind=2, timeout=5)
            self.assertEqual(c.recv_into(buf, timeout=5), (3, 2))
            self.assertEqual(bytes(buf[:3]), b'abc')
            p.publish(b'0123456789', kind=3, timeout=5)  # does not fit: raised, consumed
            with self.assertRaises(myelon.Error) as e:
                c.recv_into(buf, timeout=5)
            self.assertEqual(e.exception.name, 'TOOBIG')
            self.assertIn('10 bytes', e.exception.detail)
            p.publish(b'next', kind=4, timeout=5)
            self.assertEqual(c.recv_bytes(timeout=5), (b'next', 4))
            # a leased message is released by the next copying receive
            p.publish(b'lease', kind=5, timeout=5)
            p.publish(b'copy', kind=6, timeout=5)
            m = c.recv(timeout=5)
            self.assertEqual(c.recv_bytes(timeout=5), (b'copy', 6))
            self.assertTrue(m.released)
            t0 = time.monotonic()
            self.assertIsNone(c.recv_bytes(timeout=0.2))
            self.assertIsNone(c.recv_into(buf, timeout=0))
            self.assertIsNone(c.recv_bytes(timeout=0))
            took = time.monotonic() - t0
            self.assertGreaterEqual(took, 0.19)
            self.assertLess(took, 5.0)

    def test_a_blocking_recv_bytes_releases_the_gil(self):
        with myelon.Producer(self.name) as p, myelon.Consumer(self.name, 'r', wait='spin') as c:
            got = []
            t = threading.Thread(target=lambda: got.append(c.recv_bytes(timeout=20)))
            t.start()
            spins, end = 0, time.monotonic() + 0.5
            while time.monotonic() < end:  # runs only if the receiving thread let go of the GIL
                spins += 1
            p.publish(b'wake', kind=1)
            t.join(20)
            self.assertFalse(t.is_alive())
            self.assertGreater(spins, 1000)
            self.assertEqual(got, [(b'wake', 1)])

    def test_c_typed_producer_to_python_consumer(self):
        p = self.role('typed', 'produce')
        with myelon.TypedConsumer(self.name, 'lang', attach_timeout=10) as c:
            for i in range(COUNT):
                r = c.recv(timeout=10)
                self.assertIsNotNone(r, 'value %d did not come' % i)
                value, kind = r
                self.assertEqual(kind, 7)
                self.assertEqual(value, order(i))
            self.finish(p)

    def test_python_typed_producer_to_c_consumer(self):
        c = self.role('typed', 'consume')
        with myelon.TypedProducer(self.name, capacity=64, wait_consumers=1, wait_timeout=10) as p:
            for i in range(COUNT):
                p.publish(order(i), kind=7, timeout=10)
            self.finish(c)

    def test_python_to_python_across_processes(self):
        code = ('import myelon, sys\n'
                'with myelon.TypedProducer(sys.argv[1], wait_consumers=1, wait_timeout=10) as p:\n'
                '    for i in range(200):\n'
                '        p.publish({"i": i, "b": bytes([i % 256]) * i, "l": [i, "x"]}, kind=i % 3, timeout=10)\n')
        child = subprocess.Popen([sys.executable, '-c', code, self.name])
        self.procs.append(child)
        with myelon.TypedConsumer(self.name, 'py', attach_timeout=10) as c:
            got = [r for _, r in zip(range(200), c)]
        self.assertEqual(child.wait(30), 0)
        self.assertEqual([v['i'] for v, _ in got], list(range(200)))
        self.assertEqual(got[150], ({'i': 150, 'b': bytes([150]) * 150, 'l': [150, 'x']}, 0))

    def test_bytes_that_are_not_msgpack_raise_codec_and_the_stream_goes_on(self):
        with myelon.Producer(self.name) as p, myelon.TypedConsumer(self.name, 'r') as c:
            p.publish(b'\xc1', kind=1)  # 0xc1: reserved, never valid msgpack
            p.publish(myelon._msgpack().packb([1, 2]), kind=2)
            with self.assertRaises(myelon.Error) as e:
                c.recv(timeout=5)
            self.assertEqual(e.exception.name, 'CODEC')
            self.assertEqual(c.recv(timeout=5), ([1, 2], 2))

    def test_a_value_msgpack_cannot_encode_publishes_nothing(self):
        with myelon.TypedProducer(self.name) as p, myelon.TypedConsumer(self.name, 'r') as c:
            with self.assertRaises(TypeError):
                p.publish({'x': object()})
            p.publish('next')
            self.assertEqual(c.recv(timeout=5), ('next', 0))


class FramedBytes(Base):
    """Producer(ring_bytes=...) and Consumer(byte_ring=True): framed and
    typed messages on a framed byte ring (MYELON_FRAME_BYTES), against the C
    peer's framed-bytes / typed-bytes layers (a 64 KiB byte ring) and in
    one process."""
    RING = 65536  # lang_role.c's LANG_RING_BYTES

    def test_c_producer_to_python_consumer(self):
        p = self.role('framed-bytes', 'produce')
        with myelon.Consumer(self.name, 'lang', attach_timeout=10, byte_ring=True) as c:
            for i in range(COUNT):
                m = c.recv(timeout=10)
                self.assertIsNotNone(m, 'message %d did not come' % i)
                with m:
                    self.assertEqual(m.kind, i % 251)
                    self.assertTrue(m.zero_copy, 'message %d: a byte ring delivers every message whole' % i)
                    self.assertEqual(bytes(m.data), framed_payload(i), 'message %d' % i)
            self.finish(p)
            with self.assertRaises(myelon.Error) as e:
                c.recv(timeout=10)
            self.assertEqual(e.exception.name, 'OWNERDEAD')

    def test_python_producer_to_c_consumer(self):
        c = self.role('framed-bytes', 'consume')
        with myelon.Producer(self.name, ring_bytes=self.RING, wait_consumers=1, wait_timeout=10) as p:
            for i in range(COUNT):
                p.publish(framed_payload(i), kind=i % 251, timeout=10)
            self.finish(c)

    def test_c_typed_producer_to_python_consumer(self):
        p = self.role('typed-bytes', 'produce')
        with myelon.TypedConsumer(self.name, 'lang', attach_timeout=10, byte_ring=True) as c:
            for i in range(COUNT):
                r = c.recv(timeout=10)
                self.assertIsNotNone(r, 'value %d did not come' % i)
                self.assertEqual(r, (order(i), 7))
            self.finish(p)

    def test_python_typed_producer_to_c_consumer(self):
        c = self.role('typed-bytes', 'consume')
        with myelon.TypedProducer(self.name, ring_bytes=self.RING, wait_consumers=1, wait_timeout=10) as p:
            for i in range(COUNT):
                p.publish(order(i), kind=7, timeout=10)
            self.finish(c)

    def test_every_size_to_the_largest_round_trips_and_one_more_is_toobig(self):
        largest = 4096 // 2 - 32  # half the ring less the record's 32 bytes (README)
        with myelon.Producer(self.name, ring_bytes=4096) as p, \
                myelon.Consumer(self.name, 'r', byte_ring=True) as c:
            for n in list(range(0, 70)) + [1000, largest - 1, largest]:
                data = bytes((n + k) & 0xff for k in range(n))
                p.publish(data, kind=n % 256, timeout=5)
                self.assertEqual(c.recv_bytes(timeout=5), (data, n % 256), 'size %d' % n)
            with self.assertRaises(myelon.Error) as e:
                p.publish(b'x' * (largest + 1), timeout=5)
            self.assertEqual(e.exception.name, 'TOOBIG')
            p.publish(b'after', kind=2, timeout=5)
            self.assertEqual(c.recv_bytes(timeout=5), (b'after', 2))

    def test_a_consumer_that_names_no_shape_reads_either(self):
        """byte_ring left out (MYELON_FRAME_AUTO): the consumer takes the
        ring's format, a byte ring or a ring of frames, typed too."""
        for shape in ({'ring_bytes': 4096}, {}):
            with myelon.Producer(self.name, **shape) as p, \
                    myelon.Consumer(self.name, 'r') as c:
                p.publish(b'x' * 1500, kind=3, timeout=5)  # several frames on a ring of frames
                self.assertEqual(c.recv_bytes(timeout=5), (b'x' * 1500, 3), shape)
            with myelon.TypedProducer(self.name, **shape) as p, \
                    myelon.TypedConsumer(self.name, 't') as c:
                p.publish(order(1), kind=7, timeout=5)
                self.assertEqual(c.recv(timeout=5), (order(1), 7), shape)

    def test_shapes_that_do_not_match_are_refused(self):
        for bad in (0, -4096, 4096.0, True, '4096'):
            with self.assertRaises(ValueError):
                myelon.Producer(self.name, ring_bytes=bad)
        with self.assertRaises(ValueError):
            myelon.Consumer(self.name, 'r', byte_ring='yes')
        with self.assertRaises(myelon.Error) as e:
            myelon.Producer(self.name, ring_bytes=5000)  # not a power of two
        self.assertEqual(e.exception.name, 'BADCONFIG')
        with myelon.Producer(self.name, ring_bytes=4096):
            with self.assertRaises(myelon.Error) as e:  # a consumer of frames on a byte ring
                myelon.Consumer(self.name, 'r', attach_timeout=0, byte_ring=False)
            self.assertEqual(e.exception.name, 'FORMAT')
        with myelon.Producer(self.name):
            with self.assertRaises(myelon.Error) as e:  # and the other way round
                myelon.Consumer(self.name, 'r', attach_timeout=0, byte_ring=True)
            self.assertEqual(e.exception.name, 'FORMAT')


class Raw(Base):
    TICK = struct.Struct('<qdQ')  # struct lang_tick: int64 n, double px, uint64 check

    def test_c_raw_producer_to_python_consumer(self):
        p = self.role('raw', 'produce')
        with myelon.RingConsumer(self.name, 'lang', attach_timeout=10) as c:
            self.assertEqual(c.slot_size, 24)
            for i in range(COUNT):
                r = c.recv(timeout=10)
                self.assertIsNotNone(r, 'event %d did not come' % i)
                seq, m = r
                with m:
                    self.assertEqual((seq,) + self.TICK.unpack(m.data), (i, i, 0.5 * i, mix(i)))
            self.finish(p)

    def test_python_raw_producer_to_c_consumer_with_the_c_type_tag(self):
        c = self.role('raw', 'consume')
        tag = type_tag('struct lang_tick', 24)
        with myelon.RingProducer(self.name, 24, 64, type_tag=tag, wait_consumers=1, wait_timeout=10) as p:
            for i in range(COUNT):
                self.assertEqual(p.publish(self.TICK.pack(i, 0.5 * i, mix(i)), timeout=10), i)
            self.finish(c)

    def test_a_consumer_built_for_another_type_is_refused(self):
        with myelon.RingProducer(self.name, 24, type_tag=type_tag('struct lang_tick', 24)):
            with self.assertRaises(myelon.Error) as e:
                myelon.RingConsumer(self.name, 'x', type_tag=12345)
            self.assertEqual(e.exception.name, 'MISMATCH')
            self.assertNotEqual(e.exception.detail, '')


class Status(Base):
    def test_ring_status_says_what_dmp_stat_json_says(self):
        with myelon.Producer(self.name, capacity=128) as p, myelon.Consumer(self.name, 'risk') as c:
            for i in range(5):
                p.publish(b'x' * i, kind=1)
            for i in range(3):
                c.recv(timeout=5).release()
            st = myelon.ring_status(self.name)
            out = subprocess.run([os.environ['DMP_STAT'], '--json', self.name], check=True, capture_output=True,
                                 text=True, timeout=30).stdout
            ring = json.loads(out)['rings'][0]
            for k in ('name', 'backend', 'epoch', 'capacity', 'slot_size', 'slot_align', 'max_consumers',
                      'type_tag', 'removed'):
                self.assertEqual(st[k], ring[k], k)
            for k in ('pid', 'alive', 'position', 'published', 'min_gating', 'full'):
                self.assertEqual(st['producer'][k], ring['producer'][k], 'producer.' + k)
            self.assertEqual(len(st['consumers']), 1)
            for k, v in st['consumers'][0].items():
                self.assertEqual(v, ring['consumers'][0][k], 'consumer.' + k)
            self.assertEqual(st['capacity'], 128)
            self.assertEqual(st['producer']['published'], 5)
            self.assertEqual(st['consumers'][0]['id'], 'risk')
            self.assertEqual(st['consumers'][0]['liveness'], 'alive')

    def test_status_of_a_missing_ring_raises_enoent(self):
        with self.assertRaises(myelon.Error) as e:
            myelon.ring_status(self.name)
        self.assertEqual(e.exception.name, 'ENOENT')


class BadInput(Base):
    def test_wrong_types_raise_type_or_value_errors(self):
        with self.assertRaises(TypeError):
            myelon.Producer(123)
        with self.assertRaises(ValueError):
            myelon.Producer(self.name, backend='tcp')
        with myelon.Producer(self.name) as p:
            with self.assertRaises(TypeError):
                p.publish('text is not bytes')
            with self.assertRaises(TypeError):
                p.publish(12)
            for kind in (-1, 256, 1.5, True):
                with self.assertRaises(ValueError):
                    p.publish(b'x', kind=kind)
            with self.assertRaises(TypeError):
                p.publish(b'x', timeout='soon')
            with self.assertRaises(ValueError):
                p.publish(b'x', timeout=-1)
            with myelon.Consumer(self.name, 'r') as c:
                p.publish(b'x')
                with self.assertRaises(TypeError):
                    c.recv(timeout='soon')  # refused although a message is there
            with self.assertRaises(TypeError):
                myelon.Consumer(self.name, None)
            with self.assertRaises(ValueError):
                myelon.Consumer(self.name, 'r', start='middle')
            with myelon.Consumer(self.name, 'r2') as c:
                p.publish(b'x')
                with self.assertRaises(TypeError):
                    c.recv_bytes(timeout='soon')
                with self.assertRaises(TypeError):
                    c.recv_into(b'read-only', timeout=1)
                with self.assertRaises(TypeError):
                    c.recv_into(None, timeout=1)
                with self.assertRaises(ValueError):
                    c.recv_into(memoryview(bytearray(8))[::2], timeout=1)
                self.assertEqual(c.recv_bytes(timeout=1), (b'x', 0))  # nothing was consumed by the refusals
            for bad in (dict(wait='busy'), dict(wait=1), dict(spins=0), dict(spins=True), dict(spins=10**7),
                        dict(spins=2.5)):
                with self.assertRaises(ValueError, msg=str(bad)):
                    myelon.Consumer(self.name, 'r3', **bad)
                with self.assertRaises(ValueError, msg=str(bad)):
                    myelon.Producer(self.name + 'w', **bad)

    def test_library_errors_carry_code_name_and_detail(self):
        with self.assertRaises(myelon.Error) as e:
            myelon.Producer('no slash and far too long for a segment name' * 3)
        self.assertLess(e.exception.code, 0)
        self.assertEqual(e.exception.name, 'BADNAME')
        self.assertIn('name', e.exception.detail)
        with self.assertRaises(myelon.Error) as e:
            myelon.Producer(self.name, capacity=12)
        self.assertEqual(e.exception.name, 'BADCONFIG')
        self.assertIn('capacity', e.exception.detail)
        with self.assertRaises(myelon.Error) as e:
            myelon.Consumer(self.name, 'r', attach_timeout=0.2)
        self.assertIn(e.exception.name, ('ENOENT', 'ETIMEDOUT'))
        with self.assertRaises(myelon.Error) as e:
            myelon.Consumer(self.name, 'bad id!', attach_timeout=0.2)
        self.assertIn('id', e.exception.detail)

    def test_closed_handles_raise(self):
        p = myelon.Producer(self.name)
        c = myelon.Consumer(self.name, 'r')
        p.publish(b'one', kind=1)
        m = c.recv(timeout=5)
        c.close()
        self.assertTrue(m.released)  # closing the consumer released its message
        with self.assertRaises(ValueError):
            m.data
        with self.assertRaises(ValueError):
            c.recv(timeout=1)
        with self.assertRaises(ValueError):
            c.recv_bytes(timeout=1)
        with self.assertRaises(ValueError):
            c.recv_into(bytearray(8), timeout=1)
        c.close()  # idempotent
        p.close()
        with self.assertRaises(ValueError):
            p.publish(b'x')
        p.close()

    def test_a_message_larger_than_max_message_raises_toobig(self):
        with myelon.Producer(self.name, max_message=4096) as p:
            with self.assertRaises(myelon.Error) as e:
                p.publish(bytes(5000))
            self.assertEqual(e.exception.name, 'TOOBIG')
        with myelon.RingProducer(self.name + 'r', 8) as r:
            with self.assertRaises(ValueError):
                r.publish(bytes(9))


class Topology(unittest.TestCase):
    """A topology's rings are named from a prefix (unique per test: the
    leftover check looks for it) and a hash of the label. Every test runs
    on both shapes: a response ring per worker here, one gather ring in
    TopologyOneRing (the C peers get MYELON_TEST_RESPONSES), and on byte
    rings in TopologyBytes (MYELON_TEST_RING_BYTES)."""
    n = 0
    responses = 'per_worker'
    ring_bytes = None

    def setUp(self):
        Topology.n += 1
        self.prefix = 'q%05x%x' % (os.getpid() & 0xfffff, Topology.n % 16)  # 7 alphanumerics, the most allowed
        self.label = 'py-topology-%d-%d' % (os.getpid(), Topology.n)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        left = [f for f in os.listdir('/dev/shm') if f.startswith(self.prefix)]
        for f in left:
            os.unlink(os.path.join('/dev/shm', f))
        self.assertEqual(left, [], 'left in /dev/shm')

    def c_role(self, *args):
        p = subprocess.Popen([os.environ['MYELON_TEST_TOPO']] + [str(a) for a in args], stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ, MYELON_TEST_PREFIX=self.prefix,
                                                 MYELON_TEST_RESPONSES=self.responses,
                                                 MYELON_TEST_RING_BYTES=str(self.ring_bytes or '')))
        self.procs.append(p)
        return p

    def finish(self, p):
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        self.assertEqual(p.returncode, 0, err)

    def shape(self):  # what every process of this test's topology passes alike
        return dict(prefix=self.prefix, responses=self.responses, ring_bytes=self.ring_bytes)

    @staticmethod
    def answer(worker, body):
        return b'%d:' % worker + bytes(reversed(body))

    def test_python_scheduler_drives_c_workers(self):
        ws = [self.c_role('worker', self.label, 2, i) for i in range(2)]
        with myelon.Scheduler(self.label, 2, **self.shape()) as s:
            s.rendezvous(timeout=20)
            for step in range(1, 31):
                body = b'step-%d' % step
                s.broadcast(step, body, kind=step % 200, timeout=10)
                got = sorted(s.gather(step, timeout=20))
                self.assertEqual(got, [(w, step % 200 + 1, self.answer(w, body)) for w in range(2)])
        for w in ws:  # the scheduler closed: each worker reads OWNERDEAD and exits 0
            self.finish(w)

    def test_python_worker_answers_a_c_scheduler(self):
        sched = self.c_role('scheduler', self.label, 2, 30)
        other = self.c_role('worker', self.label, 2, 1)  # worker 1 in C, worker 0 here
        steps = []
        with myelon.Worker(self.label, 2, 0, attach_timeout=20, **self.shape()) as w:
            while True:
                try:
                    m = w.recv(timeout=20)
                except myelon.Error as e:
                    self.assertEqual(e.name, 'OWNERDEAD')
                    break
                self.assertIsNotNone(m, 'no request within 20 s')
                with m:
                    step, kind, body = m.step, m.kind, m.bytes()
                steps.append(step)
                w.respond(step, self.answer(0, body), kind=kind + 1, timeout=10)
        self.assertEqual(steps, list(range(1, 31)))
        self.finish(sched)
        self.finish(other)

    def test_a_missing_worker_is_named_by_the_rendezvous(self):
        with myelon.Scheduler(self.label, 2, **self.shape()) as s:
            with myelon.Worker(self.label, 2, 0, **self.shape()):
                with self.assertRaises(myelon.Error) as e:
                    s.rendezvous(timeout=0.3)
                self.assertEqual(e.exception.name, 'ETIMEDOUT')
                self.assertIn('w1', e.exception.detail)
            with self.assertRaises(myelon.Error):
                myelon.Scheduler(self.label, 1, **self.shape())  # below the minimum

    def test_an_unknown_response_shape_is_refused(self):  # a Python-side check: no ring is made
        with self.assertRaises(ValueError):
            myelon.Scheduler(self.label, 2, prefix=self.prefix, responses='gather')
        with self.assertRaises(ValueError):
            myelon.Worker(self.label, 2, 0, prefix=self.prefix, responses=1)


class TopologyOneRing(Topology):
    responses = 'one_ring'


class TopologyBytes(Topology):
    ring_bytes = 1 << 16

    def test_large_steps_cross_whole(self):  # up to the ring's largest: half of it less 48 bytes
        ws = [self.c_role('worker', self.label, 2, i) for i in range(2)]
        with myelon.Scheduler(self.label, 2, prefix=self.prefix, ring_bytes=self.ring_bytes) as s:
            s.rendezvous(timeout=20)
            for step, n in enumerate([0, 1, 4096, self.ring_bytes // 2 - 48 - 4], 1):  # room for "1:" in answers
                body = bytes((step * 7 + i) % 251 for i in range(n))
                s.broadcast(step, body, timeout=10)
                got = sorted(s.gather(step, timeout=20))
                self.assertEqual(got, [(w, 1, self.answer(w, body)) for w in range(2)])
            with self.assertRaises(myelon.Error) as e:
                s.broadcast(9, bytes(self.ring_bytes // 2 - 48 + 1), timeout=1)
            self.assertEqual(e.exception.name, 'TOOBIG')
        for w in ws:
            self.finish(w)

    def test_a_worker_on_slot_rings_is_refused(self):
        with myelon.Scheduler(self.label, 2, prefix=self.prefix, ring_bytes=self.ring_bytes):
            with self.assertRaises(myelon.Error) as e:
                myelon.Worker(self.label, 2, 0, prefix=self.prefix, attach_timeout=5)
            self.assertEqual(e.exception.name, 'FORMAT')
            self.assertIn('is a byte ring', e.exception.detail)
        with self.assertRaises(ValueError):
            myelon.Scheduler(self.label, 2, prefix=self.prefix, ring_bytes=0)


class Readme(unittest.TestCase):
    def test_the_readme_python_snippet_runs_as_written(self):
        import re
        readme = open(os.path.join(os.path.dirname(__file__), '..', '..', 'README.md')).read()
        section = readme[readme.index('### From Python'):]
        code = re.search(r'```python\n(.*?)```', section, re.S).group(1)
        r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "1 b'hello'\n0\n(b'again', 3)\n2 ABC 101.5\n")
        left = [f for f in os.listdir('/dev/shm') if 'orders-py' in f or 'fills-py' in f]
        self.assertEqual(left, [])


if __name__ == '__main__':
    unittest.main()
