"""myelon from Python: shared-memory rings of libdisruptor_mp and libmyelon
through ctypes (standard library) and, for typed messages, msgpack
(Debian's python3-msgpack).

    import myelon
    with myelon.Producer("/orders") as p:              # a framed ring
        p.publish(b"hello", kind=1)
    with myelon.Consumer("/orders", "risk") as c:      # in another process
        m = c.recv(timeout=1.0)                        # None if nothing came
        if m is not None:
            with m:                                    # leased until the block ends
                print(m.kind, bytes(m.data))           # m.data: memoryview into the slot

What is here:
  Producer / Consumer            framed messages (Layer 1) of any length
  TypedProducer / TypedConsumer  msgpack values (Layer 2 wire format: the
                                 C msgpack codec's field tables read them)
  RingProducer / RingConsumer    the raw Layer 0 ring: fixed-size slots
  Scheduler / Worker             the topology (myelon/topology.h): one
                                 scheduler broadcasting steps to N workers,
                                 gathering their answers; C and Python
                                 processes mix freely (same label, same N)
  ring_status(name)              what `dmp-stat --json NAME` shows of a ring
  Error                          a library error: .code, .name, .detail

Waiting. Every receive and publish takes `timeout` in seconds (None: wait
without a deadline). The wait happens in C with the GIL released, in
slices of at most 50 ms, so Ctrl-C (KeyboardInterrupt) and other signal
handlers run within about 50 ms. Calls that never wait (publishing into
free space, taking a message that is there, releasing one) keep the GIL:
handing it over and back could cost another thread's switch interval.
How a wait waits is the ring's wait strategy: `wait='block'` (the default:
spin briefly, then sleep in the kernel until woken), 'spin' (poll: the
lowest latency, one busy core), 'yield' (poll, yielding the CPU between
polls) or 'sleep'; `spins` polls before a block/yield/sleep waiter backs
off (disruptor_mp/wait.h).

Receiving copies. Consumer.recv_bytes() and Consumer.recv_into(buffer) do
in one C call what recv() + bytes(m.data) + release() do in three: the
fastest way to get a message out of the ring into Python objects.

Leases. A received Message's `data` is a read-only memoryview into the
ring slot (zero-copy) or into the consumer's reassembly buffer, valid until
the message is released (`m.release()`, the end of a `with m:` block, or
the next recv()). After that, using `data` raises ValueError. Slices and
other views made from `data` share its lease: do not keep them past the
release (copy with bytes() what must outlive it).

Threads: one thread per producer or consumer object, as in C. Objects are
closed by close(), by their `with` block, or when garbage-collected.
"""
import ctypes
import errno as _errno
import json as _json
import time as _time

from . import _ffi

__all__ = ['Error', 'Producer', 'Consumer', 'Message', 'TypedProducer', 'TypedConsumer', 'RingProducer',
           'RingConsumer', 'Scheduler', 'Worker', 'StepMessage', 'ring_status', 'version']

_SLICE = 0.05  # seconds: the longest single wait in C, so that signals are seen
_SLICE_NS = int(_SLICE * 1e9)
_SLICE_C = ctypes.c_int64(_SLICE_NS)
_EAGAIN = -_errno.EAGAIN
_ETIMEDOUT = -_errno.ETIMEDOUT
_WAITS = {'block': 0, 'spin': 1, 'yield': 2, 'sleep': 3}  # enum dmp_wait_kind (disruptor_mp/wait.h)
_SPINS_MAX = 1000000  # DMP_WAIT_SPINS' upper bound (disruptor_mp/env.h)

# bound once: an attribute lookup per call is measurable on the hot path.
# The raw_* bindings take ctypes instances of the exact C types (_ffi._raw)
_try_publish = _ffi.raw_try_publish
_try_recv = _ffi.raw_try_recv
_recv = _ffi.raw_recv
_try_recv_into = _ffi.raw_try_recv_into
_recv_into = _ffi.raw_recv_into
_memoryview_at = _ffi.memoryview_at
_c_size_t = ctypes.c_size_t
_c_int64 = ctypes.c_int64
_c_void_p = ctypes.c_void_p
_KINDS = tuple(ctypes.c_uint8(k) for k in range(256))
_ZERO_NS = ctypes.c_int64(0)
_PyBUF_READ = _ffi.PyBUF_READ
_monotonic_ns = _time.monotonic_ns


class Error(Exception):
    """A negative return code of libdisruptor_mp or libmyelon.

    code    the code (negative: -errno or -DMP_E_* / -MYELON_E_*)
    name    its name ("ETIMEDOUT", "OWNERDEAD", "CODEC" ...)
    detail  the library's thread-local detail (dmp_last_error()) after the
            failing call; may be "" for hot-path calls, which record none
    """

    def __init__(self, where, code):
        self.code = code
        self.name = _ffi.myelon_err_name(code).decode()
        self.detail = (_ffi.dmp_last_error() or b'').decode(errors='replace')
        text = _ffi.myelon_strerror(code).decode()
        super().__init__('%s: %s (%s)%s' % (where, text, self.name, ': ' + self.detail if self.detail else ''))


def _check(where, rc):
    if rc < 0:
        raise Error(where, rc)
    return rc


def version():
    """(libdisruptor_mp version, libmyelon version) the package runs against."""
    return _ffi.dmp_version().decode(), _ffi.myelon_version().decode()


def _name(v, what):
    if isinstance(v, str):
        v = v.encode()
    if not isinstance(v, bytes):
        raise TypeError('%s must be str or bytes, not %s' % (what, type(v).__name__))
    return v


def _ns(timeout):
    """Seconds (None: no deadline) to the deadline in ns, or None."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError('timeout must be a number of seconds or None, not %s' % type(timeout).__name__)
    if timeout < 0:
        raise ValueError('timeout must be >= 0 (None waits without a deadline)')
    return int(timeout * 1e9)


def _wait_strategy(ws, wait, spins):
    """Fill a struct dmp_wait_strategy from the wait= and spins= arguments."""
    if wait is not None:
        if wait not in _WAITS:
            raise ValueError("wait must be 'block', 'spin', 'yield' or 'sleep'")
        ws.kind = _WAITS[wait]
    if spins is not None:
        if isinstance(spins, bool) or not isinstance(spins, int) or not 1 <= spins <= _SPINS_MAX:
            raise ValueError('spins must be an int in 1..%d' % _SPINS_MAX)
        ws.spins = spins


def _timeout_ok(timeout):
    """The common timeouts, checked without a call (_ns() says what is wrong with the rest)."""
    return timeout is None or ((type(timeout) is float or type(timeout) is int) and timeout >= 0)


def _sliced(call, timeout):
    """Call `call(slice_ns)` until it returns something other than
    -ETIMEDOUT or the timeout has passed; each C wait is at most _SLICE, and
    between two the interpreter runs signal handlers (Ctrl-C)."""
    total = _ns(timeout)
    end = None if total is None else _time.monotonic_ns() + total
    while True:
        left = _SLICE_NS if end is None else min(_SLICE_NS, max(0, end - _time.monotonic_ns()))
        rc = call(left)
        if rc != -_errno.ETIMEDOUT or (end is not None and _time.monotonic_ns() >= end):
            return rc


class _Handle:
    """A C handle and its close function; closed at most once."""
    _close_fn = None

    def __init__(self):
        self._h = ctypes.c_void_p()

    def _live(self):
        if not self._h:
            raise ValueError('%s is closed' % type(self).__name__)
        return self._h

    @property
    def closed(self):
        return not self._h

    def close(self):
        if self._h:
            h, self._h = self._h, ctypes.c_void_p()
            type(self)._close_fn(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _kind(kind):
    if isinstance(kind, bool) or not isinstance(kind, int) or not 0 <= kind <= 255:
        raise ValueError('kind must be an int in 0..255')
    return kind


def _buffer(data):
    """A C pointer and length for a bytes-like object (kept alive by the caller)."""
    if type(data) is bytes:  # ctypes passes a pointer to the object's own buffer: no copy
        return data, len(data)
    if isinstance(data, str):
        raise TypeError('data must be bytes-like, not str (encode it)')
    mv = memoryview(data)  # TypeError for what has no buffer
    if not mv.c_contiguous:
        raise ValueError('data must be C-contiguous')
    n = mv.nbytes
    if mv.readonly:
        buf = ctypes.c_char_p(mv.tobytes()) if n else None  # one copy: ctypes wants a writable buffer to point at
        return buf, n
    return (ctypes.c_char * n).from_buffer(mv.cast('B')) if n else None, n


# ---- Layer 1: framed messages ------------------------------------------------------

_FRAME_COMPACT = 0  # enum myelon_frame_format: MYELON_FRAME_COMPACT
_FRAME_BYTES = 2  # MYELON_FRAME_BYTES
_FRAME_AUTO = 3  # MYELON_FRAME_AUTO: a consumer takes the ring's format


def _ring_bytes(ring_bytes):
    """Check a ring_bytes argument: None (slot rings) or a positive int
    (the library checks that it is a power of two it can take)."""
    if ring_bytes is not None and (isinstance(ring_bytes, bool) or not isinstance(ring_bytes, int)
                                   or ring_bytes <= 0):
        raise ValueError('ring_bytes must be None (slot rings) or a ring size in bytes, not %r' % (ring_bytes,))
    return ring_bytes


class Producer(_Handle):
    """Creates framed ring `name` (POSIX shm "/name", or a file path with
    backend="mmap") and publishes messages of any length up to max_message.

    capacity       frames in the ring (a power of two; default 1024)
    frame_capacity payload bytes per frame (default 1024)
    wait_consumers create() returns once this many consumers attached ...
    wait_timeout   ... or raises Error ETIMEDOUT after this many seconds
    wait, spins    how publish() waits for space in a full ring (see above)
    ring_bytes     None (default): a ring of `capacity` frames; a power of two:
                   a byte ring (MYELON_FRAME_BYTES) of that many bytes, every
                   message one record, whole, up to half the ring less 32
                   bytes (capacity and frame_capacity are then not used;
                   consumers attach as to any framed ring)
    """
    _close_fn = _ffi.myelon_producer_close

    def __init__(self, name, *, capacity=None, frame_capacity=None, max_message=None, backend='shm',
                 wait_consumers=0, wait_timeout=5.0, wait=None, spins=None, ring_bytes=None):
        super().__init__()
        cfg = _ffi.FramedProducerConfig()
        _ffi.myelon_producer_config_init(ctypes.byref(cfg))
        if _ring_bytes(ring_bytes) is not None:
            cfg.format = _FRAME_BYTES
            cfg.ring_bytes = ring_bytes
        cfg.ring.name = _name(name, 'name')
        cfg.ring.backend = _backend(backend)
        if capacity is not None:
            cfg.ring.capacity = capacity
        if frame_capacity is not None:
            cfg.frame_capacity = frame_capacity
        if max_message is not None:
            cfg.max_message = max_message
        cfg.ring.wait_consumers = wait_consumers
        cfg.ring.wait_timeout_ns = _ns(wait_timeout) if wait_timeout is not None else _ffi.DMP_FOREVER
        _wait_strategy(cfg.ring.wait, wait, spins)
        _check('myelon_producer_create', _ffi.myelon_producer_create(ctypes.byref(cfg), ctypes.byref(self._h)))

    def publish(self, data, kind=0, timeout=None):
        """Publish `data` (bytes-like) as one message of `kind` (0..255),
        waiting up to `timeout` seconds for ring space (None: no deadline).
        Raises Error (ETIMEDOUT when the ring stayed full)."""
        h = self._h
        if not h:
            self._live()
        if type(data) is bytes and type(kind) is int and 0 <= kind <= 255 and (
                timeout is None or ((type(timeout) is float or type(timeout) is int) and timeout >= 0)):
            # the common case, checked inline: bytes are passed without a copy
            buf, n = data, len(data)
        else:
            kind = _kind(kind)
            buf, n = _buffer(data)
            _ns(timeout)  # a bad timeout is refused even when no wait is needed
        rc = _try_publish(h, buf, _c_size_t(n), _KINDS[kind])  # space is usually there: one call, the GIL kept
        if rc == 0:
            return
        if rc == _EAGAIN:
            rc = _sliced(lambda t: _ffi.myelon_producer_publish(h, buf, n, kind, t), timeout)
        _check('myelon_producer_publish', rc)

    def wait_for_consumers(self, n, timeout=5.0):
        """Wait until `n` consumers are attached (Error ETIMEDOUT otherwise)."""
        ring = _ffi.myelon_producer_ring(self._live())
        _check('dmp_producer_wait_for_consumers', _ffi.dmp_producer_wait_for_consumers(ring, n, _ns(timeout)))


def _backend(b):
    if b not in ('shm', 'mmap'):
        raise ValueError("backend must be 'shm' or 'mmap'")
    return 0 if b == 'shm' else 1


class Message:
    """One received message, leased from its consumer until release()."""
    __slots__ = ('kind', 'msg_id', 'zero_copy', '_data', '_owner', '__weakref__')

    def __init__(self, owner, msg):
        self._owner = owner
        self.kind = msg.kind
        self.msg_id = getattr(msg, 'msg_id', 0)
        self.zero_copy = msg.zero_copy
        self._data = _memoryview_at(msg.data, msg.len, _PyBUF_READ) if msg.len else memoryview(b'')

    @property
    def data(self):
        """Read-only memoryview of the message bytes; raises ValueError after release."""
        if self._owner is None:
            raise ValueError('message was released')
        return self._data

    def bytes(self):
        """A copy of the message bytes (valid for ever)."""
        return bytes(self.data)

    def __len__(self):
        return self.data.nbytes

    @property
    def released(self):
        return self._owner is None

    def release(self):
        """Hand the slot back (the memoryview becomes unusable). Idempotent."""
        owner, self._owner = self._owner, None
        if owner is not None:
            self._data.release()
            owner._release_msg(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class Consumer(_Handle):
    """Attaches consumer `id` to framed ring `name`, retrying for up to
    `attach_timeout` seconds while the ring does not exist yet.

    start   'latest' (default: messages published after the attach) or 'oldest'
    wait, spins  how receives wait for a message (see above)
    byte_ring    None (default): whatever the ring is (MYELON_FRAME_AUTO);
                 True: it must be a byte ring (a Producer with ring_bytes,
                 MYELON_FRAME_BYTES); False: it must be a ring of frames
    """
    _close_fn = _ffi.myelon_consumer_close
    _BUF = 65536  # recv_bytes()'s buffer; a longer message is read from its lease

    def __init__(self, name, id, *, backend='shm', start='latest', attach_timeout=5.0, max_message=None,
                 wait=None, spins=None, byte_ring=None):
        super().__init__()
        self._msg = None
        self._m = _ffi.Msg()  # preallocated: one per consumer, not one per message
        self._mp = _c_void_p(ctypes.addressof(self._m))
        self._buf = None
        cfg = _ffi.FramedConsumerConfig()
        _ffi.myelon_consumer_config_init(ctypes.byref(cfg))
        if byte_ring is not None and byte_ring not in (False, True):
            raise ValueError('byte_ring must be None, True or False, not %r' % (byte_ring,))
        cfg.format = _FRAME_AUTO if byte_ring is None else _FRAME_BYTES if byte_ring else _FRAME_COMPACT
        cfg.ring.name = _name(name, 'name')
        cfg.ring.id = _name(id, 'id')
        cfg.ring.backend = _backend(backend)
        if start not in ('latest', 'oldest'):
            raise ValueError("start must be 'latest' or 'oldest'")
        cfg.ring.start = 0 if start == 'latest' else 1
        if max_message is not None:
            cfg.max_message = max_message
        _wait_strategy(cfg.ring.wait, wait, spins)
        t = _ns(attach_timeout)
        _check('myelon_consumer_attach_timeout',
               _ffi.myelon_consumer_attach_timeout(ctypes.byref(cfg), _ffi.DMP_FOREVER if t is None else t,
                                                   ctypes.byref(self._h)))

    def recv(self, timeout=None):
        """The next message, leased (see Message), or None if `timeout`
        seconds passed without one (None: wait without a deadline). Releases
        the previous message first. Raises Error (OWNERDEAD: the producer
        is gone and everything it published was read)."""
        h = self._h
        if not h:
            self._live()
        if self._msg is not None:
            self._msg.release()
        if not _timeout_ok(timeout):
            _ns(timeout)  # a bad timeout is refused even when no wait is needed
        mp = self._mp
        rc = _try_recv(h, mp)  # a message is often there: one call, the GIL kept
        if rc == _EAGAIN:
            rc = self._wait(_recv, (h, mp), timeout)
        if rc:
            if rc == _ETIMEDOUT:
                return None
            _check('myelon_consumer_recv', rc)
        self._msg = Message(self, self._m)
        return self._msg

    @staticmethod
    def _wait(fn, args, timeout):
        """fn(*args, slice_ns) until it returns something other than
        -ETIMEDOUT or `timeout` (seconds, None: none) has passed (_sliced()
        without a closure per call)."""
        if timeout is None:
            while True:
                rc = fn(*args, _SLICE_C)
                if rc != _ETIMEDOUT:
                    return rc
        end = _monotonic_ns() + _ns(timeout)
        while True:
            left = end - _monotonic_ns()
            rc = fn(*args, _SLICE_C if left > _SLICE_NS else _c_int64(left if left > 0 else 0))
            if rc != _ETIMEDOUT or left <= _SLICE_NS:
                return rc

    def recv_into(self, buffer, timeout=None):
        """Copy the next message into `buffer` (a writable bytes-like object,
        e.g. a bytearray reused from call to call) and release it: one C
        call. Returns (nbytes, kind), or None if `timeout` seconds passed
        without a message. A message longer than the buffer raises Error
        TOOBIG and is consumed (size the buffer to max_message to avoid it)."""
        h = self._live()
        self._release_current()
        if not _timeout_ok(timeout):
            _ns(timeout)
        mv = memoryview(buffer)
        if mv.readonly:
            raise TypeError('recv_into needs a writable buffer')
        if not mv.c_contiguous:
            raise ValueError('buffer must be C-contiguous')
        cap = mv.nbytes
        # keeps the buffer exported (it cannot be resized) while C writes to it
        arr = (ctypes.c_char * cap).from_buffer(mv.cast('B')) if cap else None
        rc = self._take_into(h, _c_void_p(ctypes.addressof(arr)) if cap else None, _c_size_t(cap), timeout)
        del arr
        if rc is None:
            return None
        m = self._m
        if rc == 1:
            n = m.len
            _ffi.myelon_consumer_release(h)
            err = Error('myelon_consumer_recv_into', _TOOBIG)
            err.detail = 'a message of %d bytes does not fit the %d-byte buffer (it was consumed)' % (n, cap)
            err.args = ('myelon_consumer_recv_into: %s' % err.detail,)
            raise err
        return m.len, m.kind

    def recv_bytes(self, timeout=None):
        """The next message as (bytes, kind), copied out of the ring and
        released in one C call, or None if `timeout` seconds passed without
        one. The fastest way to get a message into a Python object."""
        h = self._h
        if not h:
            self._live()
        if self._msg is not None:
            self._msg.release()
        if not (timeout is None or ((type(timeout) is float or type(timeout) is int) and timeout >= 0)):
            _ns(timeout)
        if self._buf is None:
            self._buf = (ctypes.c_char * self._BUF)()
            self._bufview = memoryview(self._buf).cast('B')
            self._bufp = _c_void_p(ctypes.addressof(self._buf))
            self._bufcap = _c_size_t(self._BUF)
        # _take_into(), inlined: this is the hot path
        rc = _try_recv_into(h, self._bufp, self._bufcap, self._mp, _ZERO_NS)  # there already: no GIL hand-off
        if rc:
            if rc == _EAGAIN:
                rc = self._wait(_recv_into, (h, self._bufp, self._bufcap, self._mp), timeout)
            if rc < 0:
                if rc == _ETIMEDOUT or rc == _EAGAIN:
                    return None
                _check('myelon_consumer_recv_into', rc)
            if rc == 1:  # longer than the buffer: still leased, copy it from the ring
                m = self._m
                data = ctypes.string_at(m.data, m.len)
                _ffi.myelon_consumer_release(h)
                return data, m.kind
        m = self._m
        return self._bufview[:m.len].tobytes(), m.kind

    def _take_into(self, h, buf, cap, timeout):
        """myelon_consumer_recv_into(): 0 (copied), 1 (leased, too long),
        None (timeout); raises Error."""
        mp = self._mp
        rc = _try_recv_into(h, buf, cap, mp, _ZERO_NS)  # there already: no GIL hand-off
        if rc == _EAGAIN:
            rc = self._wait(_recv_into, (h, buf, cap, mp), timeout)
        if rc < 0:
            if rc == _ETIMEDOUT or rc == _EAGAIN:  # EAGAIN: a zero slice only looks
                return None
            _check('myelon_consumer_recv_into', rc)
        return rc

    @property
    def max_message(self):
        """The largest message this consumer accepts (bytes)."""
        return _ffi.myelon_consumer_max_message(self._live())

    def __iter__(self):
        """Messages until the producer is gone (each released at the next step)."""
        while True:
            try:
                m = self.recv()
            except Error as e:
                if e.name == 'OWNERDEAD':
                    return
                raise
            yield m

    def _release_current(self):
        if self._msg is not None:
            self._msg.release()

    def _release_msg(self, msg):
        if msg is self._msg:
            self._msg = None
            if self._h:
                _ffi.myelon_consumer_release(self._h)

    def close(self):
        self._release_current()
        super().close()


# ---- Layers 2: msgpack-typed messages --------------------------------------------------


def _msgpack():
    try:
        import msgpack
    except ImportError as e:  # pragma: no cover
        raise ImportError('typed messages need msgpack (Debian: apt-get install python3-msgpack)') from e
    return msgpack


class TypedProducer(Producer):
    """A framed producer whose messages are msgpack values: the wire form of
    libmyelon's msgpack codec (a C consumer with a field table reads a dict
    whose keys are its field names; myelon/msgpack_codec.h)."""

    def publish(self, value, kind=0, timeout=None):
        """Encode `value` (dict, list, str, int, float, bool, bytes, None)
        and publish it. TypeError for a value msgpack cannot encode (nothing
        is published)."""
        super().publish(_msgpack().packb(value, use_bin_type=True), kind, timeout)


class TypedConsumer(Consumer):
    """A framed consumer that decodes each message as one msgpack value."""

    def recv(self, timeout=None):
        """(value, kind) of the next message, or None on timeout. The value is
        decoded straight from the ring slot and owns its data (the slot is
        released before returning). A message that is not valid msgpack
        raises Error CODEC (it is consumed: the next recv() goes on)."""
        m = super().recv(timeout)
        if m is None:
            return None
        try:
            value = _msgpack().unpackb(m.data, raw=False)
        except Exception as e:
            raise _codec_error(e) from None
        finally:
            m.release()
        return value, m.kind

    def __iter__(self):
        while True:
            try:
                r = self.recv()
            except Error as e:
                if e.name == 'OWNERDEAD':
                    return
                raise
            yield r


def _codec_error(e):
    err = Error('msgpack decode', _CODEC)
    err.detail = str(e)
    err.args = ('msgpack decode: %s (CODEC): %s' % (_ffi.myelon_strerror(_CODEC).decode(), e),)
    return err


def _find_code(name):
    # libmyelon's codes start at MYELON_ERR_BASE (8192; myelon/error.h)
    for code in range(-8192, -8192 - 256, -1):
        if _ffi.myelon_err_name(code).decode() == name:
            return code
    raise RuntimeError('error code %s not found' % name)


_CODEC = _find_code('CODEC')
_TOOBIG = _find_code('TOOBIG')


# ---- Layer 0: the raw ring ----------------------------------------------------------


class RingProducer(_Handle):
    """Creates a raw Layer 0 ring of `capacity` slots of `slot_size` bytes.
    type_tag: 0 (no check) or the tag C peers use (DMP_DECLARE_TYPED)."""
    _close_fn = _ffi.dmp_producer_close

    def __init__(self, name, slot_size, capacity=1024, *, type_tag=0, slot_align=8, backend='shm',
                 wait_consumers=0, wait_timeout=5.0, wait=None, spins=None):
        super().__init__()
        cfg = _ffi.ProducerConfig()
        _ffi.dmp_producer_config_init(ctypes.byref(cfg))
        cfg.name = _name(name, 'name')
        cfg.backend = _backend(backend)
        cfg.capacity = capacity
        cfg.slot_size = slot_size
        cfg.slot_align = slot_align
        cfg.type_tag = type_tag
        cfg.wait_consumers = wait_consumers
        cfg.wait_timeout_ns = _ns(wait_timeout) if wait_timeout is not None else _ffi.DMP_FOREVER
        _wait_strategy(cfg.wait, wait, spins)
        self.slot_size = slot_size
        _check('dmp_producer_create', _ffi.dmp_producer_create(ctypes.byref(cfg), ctypes.byref(self._h)))

    def publish(self, data, timeout=None):
        """Copy `data` (at most slot_size bytes; the rest of the slot is
        zeroed) into the next slot and publish it; returns its sequence."""
        h = self._live()
        buf, n = _buffer(data)
        if n > self.slot_size:
            raise ValueError('%d bytes do not fit a %d-byte slot' % (n, self.slot_size))
        slot = ctypes.c_void_p()
        rc = _ffi.dmp_producer_try_claim_fn(h, ctypes.byref(slot))
        if rc == -_errno.EAGAIN:
            rc = _sliced(lambda t: _ffi.dmp_producer_claim_timeout(h, ctypes.byref(slot), t), timeout)
        _check('dmp_producer_claim_timeout', rc)
        if n:
            ctypes.memmove(slot, buf, n)
        ctypes.memset(slot.value + n, 0, self.slot_size - n)
        return _ffi.dmp_producer_publish_fn(h)


class RingConsumer(_Handle):
    """Attaches consumer `id` to raw ring `name`; recv() gives a leased
    memoryview of one slot (slot_size bytes) and its sequence."""
    _close_fn = _ffi.dmp_consumer_close

    def __init__(self, name, id, *, type_tag=0, backend='shm', start='latest', attach_timeout=5.0, wait=None,
                 spins=None):
        super().__init__()
        self._msg = None
        cfg = _ffi.ConsumerConfig()
        _ffi.dmp_consumer_config_init(ctypes.byref(cfg))
        cfg.name = _name(name, 'name')
        cfg.id = _name(id, 'id')
        cfg.backend = _backend(backend)
        cfg.type_tag = type_tag
        if start not in ('latest', 'oldest'):
            raise ValueError("start must be 'latest' or 'oldest'")
        cfg.start = 0 if start == 'latest' else 1
        _wait_strategy(cfg.wait, wait, spins)
        t = _ns(attach_timeout)
        _check('dmp_consumer_attach_timeout',
               _ffi.dmp_consumer_attach_timeout(ctypes.byref(cfg), _ffi.DMP_FOREVER if t is None else t,
                                                ctypes.byref(self._h)))
        self.slot_size = _ffi.dmp_consumer_slot_size(self._h)

    def recv(self, timeout=None):
        """(sequence, Message) of the next event, or None on timeout. The
        Message's data is the slot, leased until release() or the next recv()."""
        h = self._live()
        if self._msg is not None:
            self._msg.release()
        ev, seq = ctypes.c_void_p(), ctypes.c_int64()
        rc = _ffi.dmp_consumer_try_peek_fn(h, ctypes.byref(ev), ctypes.byref(seq))
        if rc == -_errno.EAGAIN:
            rc = _sliced(lambda t: _ffi.dmp_consumer_peek_timeout(h, ctypes.byref(ev), ctypes.byref(seq), t), timeout)
        if rc == -_errno.ETIMEDOUT:
            return None
        _check('dmp_consumer_peek_timeout', rc)
        m = _ffi.Msg(data=ev.value, len=self.slot_size, kind=0, msg_id=0, zero_copy=True)
        self._msg = Message(self, m)
        return seq.value, self._msg

    def _release_msg(self, msg):
        if msg is self._msg:
            self._msg = None
            if self._h:
                _ffi.dmp_consumer_release_fn(self._h)

    def close(self):
        if self._msg is not None:
            self._msg.release()
        super().close()


# ---- topology --------------------------------------------------------------------


_RESPONSES = {'per_worker': 0, 'one_ring': 1}  # enum myelon_responses


def _topology_config(label, workers, prefix, backend, request_depth, response_depth, responses='per_worker',
                     ring_bytes=None):
    if responses not in _RESPONSES:
        raise ValueError("responses must be 'per_worker' (a response ring per worker) or 'one_ring' "
                         "(one multi-producer gather ring), not %r" % (responses,))
    _ring_bytes(ring_bytes)
    cfg = _ffi.TopologyConfig()
    _ffi.myelon_topology_config_init(ctypes.byref(cfg))
    cfg.responses = _RESPONSES[responses]
    if ring_bytes is not None:  # every ring a MYELON_FRAME_BYTES ring of that many bytes
        cfg.format = _FRAME_BYTES
        cfg.ring_bytes = ring_bytes
    cfg.layout.label = _name(label, 'label')
    if prefix is not None:
        cfg.layout.prefix = _name(prefix, 'prefix')
    cfg.layout.backend = _backend(backend)
    if request_depth is not None:
        cfg.layout.request_depth = request_depth
    if response_depth is not None:
        cfg.layout.response_depth = response_depth
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise TypeError('workers must be a worker count (int)')
    _check('myelon_workers_make', _ffi.myelon_workers_make(workers, ctypes.byref(cfg.workers)))
    return cfg


class StepMessage(Message):
    """A received request (Worker.recv()): step, kind and data, leased."""
    __slots__ = ('step', 'worker')

    def __init__(self, owner, msg):
        super().__init__(owner, msg)
        self.step = msg.step
        self.worker = msg.worker


class Scheduler(_Handle):
    """The scheduler of topology `label` with `workers` workers (2..64):
    creates the request ring; rendezvous() waits for every worker; then
    broadcast() a step and gather() the answers. Every process of one
    topology passes the same label, workers, prefix, backend and
    `responses`: 'per_worker' (default, a response ring per worker) or
    'one_ring' (every worker answers on one multi-producer gather ring the
    scheduler creates; topology.h, MYELON_RESPONSES_ONE_RING), and
    `ring_bytes`: None (default, rings of fixed frames) or a power of two:
    every ring is a byte ring (MYELON_FRAME_BYTES) of that many bytes and
    a message may take up to half of it less 48 bytes (per_worker only; a
    worker of the other format is refused with Error FORMAT)."""
    _close_fn = _ffi.myelon_scheduler_close

    def __init__(self, label, workers, *, prefix=None, backend='shm', request_depth=None, response_depth=None,
                 responses='per_worker', ring_bytes=None):
        super().__init__()
        self.workers = workers
        cfg = _topology_config(label, workers, prefix, backend, request_depth, response_depth, responses,
                               ring_bytes)
        _check('myelon_scheduler_create', _ffi.myelon_scheduler_create(ctypes.byref(cfg), ctypes.byref(self._h)))

    def rendezvous(self, timeout=15.0):
        """Wait until every worker is attached and alive (Error ETIMEDOUT
        naming the missing ones after `timeout` seconds)."""
        h = self._live()
        _check('myelon_scheduler_rendezvous',
               _sliced(lambda t: _ffi.myelon_scheduler_rendezvous(h, t), timeout))

    def broadcast(self, step, data, kind=0, timeout=None):
        """Send step `step`'s request (`data`: bytes-like body) to every worker."""
        h = self._live()
        kind = _kind(kind)
        buf, n = _buffer(data)
        _check('myelon_scheduler_broadcast',
               _sliced(lambda t: _ffi.myelon_scheduler_broadcast(h, step, buf, n, kind, t), timeout))

    def gather(self, step, timeout=10.0):
        """Every worker's answer to `step`, in arrival order, as a list of
        (worker, kind, bytes). Raises Error if a worker is dead (OWNERDEAD),
        late (ETIMEDOUT) or skipped the step; its `.gather` then says who
        (bitmasks answered, dead, late, skipped) and `.answers` has what came.
        One C call of at most `timeout` seconds: Ctrl-C is seen when it returns."""
        h = self._live()
        answers = []

        def on_answer(msg, user):
            m = msg.contents
            answers.append((m.worker, m.kind, ctypes.string_at(m.data, m.len) if m.len else b''))
            return 0

        g = _ffi.Gather()
        cb = _ffi.RESPONSE_FN(on_answer)
        t = _ns(timeout)
        rc = _ffi.myelon_scheduler_gather(h, step, _ffi.DMP_FOREVER if t is None else t, cb, ctypes.byref(g), None)
        if rc < 0:
            err = Error('myelon_scheduler_gather', rc)
            err.gather = {'answered': g.answered, 'dead': g.dead, 'late': g.late, 'skipped': g.skipped}
            err.answers = answers
            raise err
        return answers


class Worker(_Handle):
    """Worker `index` of topology `label` (see Scheduler): creates its
    response ring (or, with responses='one_ring', joins the scheduler's
    gather ring), attaches to the request ring (retrying up to
    `attach_timeout` seconds while the scheduler has not created it)."""
    _close_fn = _ffi.myelon_worker_close

    def __init__(self, label, workers, index, *, prefix=None, backend='shm', request_depth=None,
                 response_depth=None, attach_timeout=15.0, responses='per_worker', ring_bytes=None):
        super().__init__()
        self._msg = None
        self.index = index
        cfg = _topology_config(label, workers, prefix, backend, request_depth, response_depth, responses,
                               ring_bytes)
        t = _ns(attach_timeout)
        _check('myelon_worker_attach_timeout',
               _ffi.myelon_worker_attach_timeout(ctypes.byref(cfg), index, _ffi.DMP_FOREVER if t is None else t,
                                                 ctypes.byref(self._h)))

    def recv(self, timeout=None):
        """The next request as a StepMessage (leased until release() or the
        next recv()), or None on timeout. Error OWNERDEAD: the scheduler is
        gone and every request was read."""
        h = self._live()
        if self._msg is not None:
            self._msg.release()
        m = _ffi.StepMsg()
        rc = _sliced(lambda t: _ffi.myelon_worker_recv(h, ctypes.byref(m), t), timeout)
        if rc == -_errno.ETIMEDOUT:
            return None
        _check('myelon_worker_recv', rc)
        self._msg = StepMessage(self, m)
        return self._msg

    def respond(self, step, data, kind=0, timeout=None):
        """Answer step `step` with `data` (bytes-like)."""
        h = self._live()
        kind = _kind(kind)
        buf, n = _buffer(data)
        _check('myelon_worker_respond', _sliced(lambda t: _ffi.myelon_worker_respond(h, step, buf, n, kind, t), timeout))

    def _release_msg(self, msg):
        if msg is self._msg:
            self._msg = None
            if self._h:
                _ffi.myelon_worker_release(self._h)

    def close(self):
        if self._msg is not None:
            self._msg.release()
        super().close()


# ---- ring status --------------------------------------------------------------------


_ENTRY_STATES = {1: 'active', 2: 'idle'}


def ring_status(name, backend='shm'):
    """One sample of ring `name` as a dict, with the keys `dmp-stat --json
    NAME` prints for a ring (name, backend, epoch, capacity, slot_size,
    producer {pid, alive, position, published, min_gating, full},
    consumers [{id, index, state, liveness, pid, ...}], counters {present}).
    Read-only: takes no lock, changes nothing. Raises Error (ENOENT ...)."""
    insp = ctypes.c_void_p()
    _check('dmp_inspect_open', _ffi.dmp_inspect_open(_backend(backend), _name(name, 'name'), ctypes.byref(insp)))
    try:
        sp = ctypes.POINTER(_ffi.RingStat)()
        _check('dmp_inspect_sample', _ffi.dmp_inspect_sample(insp, ctypes.byref(sp)))
        s = sp.contents
        out = {
            'name': s.name.decode(), 'backend': backend, 'epoch': '%016x' % s.epoch, 'created_ns': s.created_ns,
            'capacity': s.capacity, 'slot_size': s.slot_size, 'slot_align': s.slot_align,
            'max_consumers': s.max_consumers, 'type_tag': '%016x' % s.type_tag, 'removed': s.removed,
            'producer': {'pid': s.owner_pid, 'alive': s.producer_alive, 'position': s.position,
                         'published': s.published, 'min_gating': s.min_gating, 'full': s.full},
            'consumers': [], 'counters': {'present': s.counters_rc == 0},
        }
        for i in range(s.n_consumers):
            c = s.consumers[i]
            out['consumers'].append({
                'id': c.id.decode(), 'index': c.index, 'state': _state_name(c.state),
                'liveness': _ffi.dmp_peer_state_name(c.liveness).decode(), 'pid': c.pid,
                'generation': c.generation, 'gating': c.gating, 'durable': c.durable, 'non_gating': c.non_gating,
                'position': c.position, 'consumed': c.consumed, 'lag': c.lag})
        return out
    finally:
        _ffi.dmp_inspect_close(insp)


def _state_name(st):
    return _ENTRY_STATES.get(st, str(st))


def ring_status_json(name, backend='shm'):
    """ring_status() as one line of JSON."""
    return _json.dumps(ring_status(name, backend))
