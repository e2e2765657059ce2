"""ctypes declarations of the two C libraries (internal to the package).

The structs below mirror the C headers field by field; tests/python
compares every size and offset with what the C compiler says
(tests/python/layout_dump.c), so a header change that is not carried here
fails a test instead of corrupting memory.

The libraries are found, in this order: the directory in $MYELON_LIBDIR;
the directory `meson install` put them in (_paths.py, written at install
time); the dynamic loader's default search (ld.so.conf, LD_LIBRARY_PATH).
"""
import ctypes
import os

from ctypes import (POINTER, Structure, c_bool, c_char, c_char_p, c_int, c_int32, c_int64, c_size_t,
                    c_uint8, c_uint32, c_uint64, c_void_p)

try:
    from . import _paths
    _INSTALLED_LIBDIR = _paths.LIBDIR
except ImportError:  # running from the source tree
    _INSTALLED_LIBDIR = None


def _load(soname):
    dirs = [d for d in (os.environ.get('MYELON_LIBDIR'), _INSTALLED_LIBDIR) if d]
    for d in dirs:
        for sub in ('', 'subprojects/disruptor-mp', 'subprojects/myelon'):
            path = os.path.join(d, sub, soname)
            if os.path.exists(path):
                return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(soname, mode=ctypes.RTLD_GLOBAL)


# libdisruptor_mp first: libmyelon's DT_NEEDED then resolves to it by soname.
dmp = _load('libdisruptor_mp.so.0')
myelon = _load('libmyelon.so.0')

# Two handles on each library, chosen per function. ctypes.CDLL releases the
# GIL around every call and takes it back after; in a process with other
# Python threads, taking it back can wait for the holder's switch interval
# (sys.getswitchinterval(), 5 ms by default). Every call that can wait
# (claims and receives with a timeout, attach, create, rendezvous) goes
# through the CDLL handle so that other threads run meanwhile; the calls
# that never wait (try_*, publish, release: a few loads and stores in
# shared memory) go through the PyDLL handle (dmp_nowait, myelon_nowait),
# which keeps the GIL and so costs no hand-off. Same library, dlopen()ed
# twice: the loader returns the one already loaded.
dmp_nowait = ctypes.PyDLL(dmp._name, mode=ctypes.RTLD_GLOBAL)
myelon_nowait = ctypes.PyDLL(myelon._name, mode=ctypes.RTLD_GLOBAL)

DMP_ID_MAX = 31
DMP_FOREVER = -1


class WaitStrategy(Structure):
    _fields_ = [('kind', c_int), ('spins', c_uint32), ('sleep_ns', c_uint32), ('liveness_ms', c_uint32),
                ('reserved', c_uint32 * 4)]


class ProducerConfig(Structure):
    _fields_ = [('backend', c_int), ('name', c_char_p), ('capacity', c_uint64), ('slot_size', c_uint32),
                ('slot_align', c_uint32), ('max_consumers', c_uint32), ('type_tag', c_uint64), ('mode', c_uint32),
                ('flags', c_uint32), ('share_gid', c_uint32), ('wait', WaitStrategy), ('wait_consumers', c_uint32),
                ('wait_timeout_ns', c_int64), ('cpus', c_char_p), ('max_producers', c_uint32),
                ('reserved32', c_uint32), ('reserved', c_uint64 * 7)]


class ConsumerConfig(Structure):
    _fields_ = [('backend', c_int), ('name', c_char_p), ('id', c_char_p), ('slot_size', c_uint32),
                ('slot_align', c_uint32), ('type_tag', c_uint64), ('start', c_int), ('flags', c_uint32),
                ('wait', WaitStrategy), ('cpus', c_char_p), ('reserved', c_uint64 * 8)]


class FramedProducerConfig(Structure):
    _fields_ = [('ring', ProducerConfig), ('format', c_int), ('frame_capacity', c_uint32),
                ('max_message', c_size_t), ('ring_bytes', c_uint64), ('reserved', c_uint64 * 7)]


class FramedConsumerConfig(Structure):
    _fields_ = [('ring', ConsumerConfig), ('format', c_int), ('frame_capacity', c_uint32),
                ('max_message', c_size_t), ('reserved', c_uint64 * 8)]


class Msg(Structure):
    _fields_ = [('data', c_void_p), ('len', c_size_t), ('kind', c_uint8), ('msg_id', c_uint32),
                ('zero_copy', c_bool)]


class ConsumerStat(Structure):
    _fields_ = [('id', c_char * (DMP_ID_MAX + 1)), ('index', c_uint32), ('state', c_int), ('liveness', c_int),
                ('gating', c_bool), ('durable', c_bool), ('non_gating', c_bool), ('pid', c_int32),
                ('generation', c_uint32), ('attached_ns', c_uint64), ('position', c_int64), ('consumed', c_uint64),
                ('lag', c_int64)]


class RingStat(Structure):
    """The leading fields of struct dmp_ring_stat (the library fills it; only
    this prefix is read, through the pointer dmp_inspect_sample() returns)."""
    _fields_ = [('backend', c_int), ('name', c_char_p), ('epoch', c_uint64), ('created_ns', c_uint64),
                ('capacity', c_uint64), ('slot_size', c_uint32), ('slot_align', c_uint32),
                ('max_consumers', c_uint32), ('flags', c_uint32), ('type_tag', c_uint64), ('total_size', c_uint64),
                ('owner_pid', c_int32), ('producer_alive', c_bool), ('removed', c_bool), ('position', c_int64),
                ('published', c_uint64), ('min_gating', c_int64), ('full', c_bool), ('sampled_ns', c_int64),
                ('n_consumers', c_uint32), ('consumers', POINTER(ConsumerStat)), ('counters_rc', c_int),
                ('counters_error', c_char_p)]


def _fn(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


P, PP = c_void_p, POINTER(c_void_p)

# errors (both libraries share one error space)
dmp_strerror = _fn(dmp, 'dmp_strerror', c_char_p, c_int)
dmp_err_name = _fn(dmp, 'dmp_err_name', c_char_p, c_int)
dmp_last_error = _fn(dmp, 'dmp_last_error', c_char_p)
myelon_strerror = _fn(myelon, 'myelon_strerror', c_char_p, c_int)
myelon_err_name = _fn(myelon, 'myelon_err_name', c_char_p, c_int)
dmp_version = _fn(dmp, 'dmp_version', c_char_p)
myelon_version = _fn(myelon, 'myelon_version', c_char_p)

# Layer 0
dmp_producer_config_init = _fn(dmp, 'dmp_producer_config_init', None, POINTER(ProducerConfig))
dmp_consumer_config_init = _fn(dmp, 'dmp_consumer_config_init', None, POINTER(ConsumerConfig))
dmp_producer_create = _fn(dmp, 'dmp_producer_create', c_int, POINTER(ProducerConfig), PP)
dmp_producer_close = _fn(dmp, 'dmp_producer_close', None, P)
dmp_producer_claim_timeout = _fn(dmp, 'dmp_producer_claim_timeout', c_int, P, PP, c_int64)
dmp_producer_try_claim_fn = _fn(dmp_nowait, 'dmp_producer_try_claim_fn', c_int, P, PP)
dmp_producer_publish_fn = _fn(dmp_nowait, 'dmp_producer_publish_fn', c_int64, P)
dmp_producer_abort_fn = _fn(dmp_nowait, 'dmp_producer_abort_fn', None, P)
dmp_producer_wait_for_consumers = _fn(dmp, 'dmp_producer_wait_for_consumers', c_int, P, c_uint32, c_int64)
dmp_consumer_attach_timeout = _fn(dmp, 'dmp_consumer_attach_timeout', c_int, POINTER(ConsumerConfig), c_int64, PP)
dmp_consumer_close = _fn(dmp, 'dmp_consumer_close', None, P)
dmp_consumer_peek_timeout = _fn(dmp, 'dmp_consumer_peek_timeout', c_int, P, PP, POINTER(c_int64), c_int64)
dmp_consumer_try_peek_fn = _fn(dmp_nowait, 'dmp_consumer_try_peek_fn', c_int, P, PP, POINTER(c_int64))
dmp_consumer_release_fn = _fn(dmp_nowait, 'dmp_consumer_release_fn', None, P)
dmp_consumer_slot_size = _fn(dmp, 'dmp_consumer_slot_size', c_uint32, P)
dmp_inspect_open = _fn(dmp, 'dmp_inspect_open', c_int, c_int, c_char_p, PP)
dmp_inspect_sample = _fn(dmp, 'dmp_inspect_sample', c_int, P, POINTER(POINTER(RingStat)))
dmp_inspect_close = _fn(dmp, 'dmp_inspect_close', None, P)
dmp_peer_state_name = _fn(dmp, 'dmp_peer_state_name', c_char_p, c_int)

# Layer 1
myelon_producer_config_init = _fn(myelon, 'myelon_producer_config_init', None, POINTER(FramedProducerConfig))
myelon_consumer_config_init = _fn(myelon, 'myelon_consumer_config_init', None, POINTER(FramedConsumerConfig))
myelon_producer_create = _fn(myelon, 'myelon_producer_create', c_int, POINTER(FramedProducerConfig), PP)
myelon_producer_close = _fn(myelon, 'myelon_producer_close', None, P)
myelon_producer_publish = _fn(myelon, 'myelon_producer_publish', c_int, P, c_void_p, c_size_t, c_uint8, c_int64)
myelon_producer_ring = _fn(myelon, 'myelon_producer_ring', P, P)
myelon_producer_max_message = _fn(myelon, 'myelon_producer_max_message', c_size_t, P)
myelon_consumer_attach_timeout = _fn(myelon, 'myelon_consumer_attach_timeout', c_int,
                                     POINTER(FramedConsumerConfig), c_int64, PP)
myelon_consumer_close = _fn(myelon, 'myelon_consumer_close', None, P)
myelon_consumer_recv = _fn(myelon, 'myelon_consumer_recv', c_int, P, POINTER(Msg), c_int64)
myelon_consumer_release = _fn(myelon_nowait, 'myelon_consumer_release', None, P)

# topology
class LayoutConfig(Structure):
    _fields_ = [('label', c_char_p), ('prefix', c_char_p), ('workers', c_uint32), ('request_depth', c_uint64),
                ('response_depth', c_uint64), ('backend', c_int), ('dir', c_char_p), ('reserved', c_uint64 * 8)]


class Workers(Structure):
    _fields_ = [('n', c_uint32)]


class TopologyConfig(Structure):
    _fields_ = [('layout', LayoutConfig), ('workers', Workers), ('no_responses', c_bool), ('format', c_int),
                ('frame_capacity', c_uint32), ('max_message', c_size_t), ('wait', WaitStrategy),
                ('responses', c_int), ('reserved32', c_uint32), ('ring_bytes', c_uint64), ('reserved', c_uint64 * 6)]


class StepMsg(Structure):
    _fields_ = [('step', c_uint64), ('worker', c_uint32), ('kind', c_uint8), ('data', c_void_p), ('len', c_size_t),
                ('zero_copy', c_bool)]


class Gather(Structure):
    _fields_ = [('answered', c_uint64), ('dead', c_uint64), ('late', c_uint64), ('skipped', c_uint64),
                ('stale', c_uint32), ('malformed', c_uint32)]


RESPONSE_FN = ctypes.CFUNCTYPE(c_int, POINTER(StepMsg), c_void_p)

myelon_topology_config_init = _fn(myelon, 'myelon_topology_config_init', None, POINTER(TopologyConfig))
myelon_workers_make = _fn(myelon, 'myelon_workers_make', c_int, c_uint32, POINTER(Workers))
myelon_scheduler_create = _fn(myelon, 'myelon_scheduler_create', c_int, POINTER(TopologyConfig), PP)
myelon_scheduler_rendezvous = _fn(myelon, 'myelon_scheduler_rendezvous', c_int, P, c_int64)
myelon_scheduler_close = _fn(myelon, 'myelon_scheduler_close', None, P)
myelon_scheduler_broadcast = _fn(myelon, 'myelon_scheduler_broadcast', c_int, P, c_uint64, c_void_p, c_size_t,
                                 c_uint8, c_int64)
myelon_scheduler_gather = _fn(myelon, 'myelon_scheduler_gather', c_int, P, c_uint64, c_int64, RESPONSE_FN,
                              POINTER(Gather), c_void_p)
myelon_worker_attach_timeout = _fn(myelon, 'myelon_worker_attach_timeout', c_int, POINTER(TopologyConfig),
                                   c_uint32, c_int64, PP)
myelon_worker_close = _fn(myelon, 'myelon_worker_close', None, P)
myelon_worker_recv = _fn(myelon, 'myelon_worker_recv', c_int, P, POINTER(StepMsg), c_int64)
myelon_worker_release = _fn(myelon, 'myelon_worker_release', None, P)
myelon_worker_respond = _fn(myelon, 'myelon_worker_respond', c_int, P, c_uint64, c_void_p, c_size_t, c_uint8,
                            c_int64)

# non-waiting first attempts (the Python fast path: one call when data or space is there)
myelon_producer_try_publish = _fn(myelon_nowait, 'myelon_producer_try_publish', c_int, P, c_void_p, c_size_t, c_uint8)
myelon_consumer_try_recv = _fn(myelon_nowait, 'myelon_consumer_try_recv', c_int, P, POINTER(Msg))

myelon_consumer_recv_into = _fn(myelon, 'myelon_consumer_recv_into', c_int, P, c_void_p, c_size_t, POINTER(Msg),
                                c_int64)
myelon_consumer_max_message = _fn(myelon, 'myelon_consumer_max_message', c_size_t, P)


def _raw(lib, name, restype):
    """The hot path's bindings: no argtypes. With argtypes, ctypes runs
    each argument through its type's from_param() on every call, which on
    this path costs more than the C function (about 1 us for the five
    arguments of myelon_consumer_recv_into, half of it for one
    POINTER(Msg)). Without, ctypes passes ctypes instances as they are, so
    the package passes only instances of exactly the C parameter types
    (c_void_p, c_size_t, c_uint8, c_int64), and bytes for `const void *`
    (a pointer to the object's buffer), all built by the package itself.
    lib[name] makes a new function object: the argtypes of the checked
    binding of the same symbol above stay."""
    f = lib[name]
    f.restype = restype
    f.argtypes = None
    return f


# (c_void_p handle, bytes or c_void_p data, c_size_t len, c_uint8 kind)
raw_try_publish = _raw(myelon_nowait, 'myelon_producer_try_publish', c_int)
# (c_void_p handle, c_void_p buf, c_size_t cap, c_void_p msg, c_int64 timeout_ns): one call per received
# message; wait (CDLL: the GIL is released) or, with timeout 0, only look (PyDLL: the GIL is kept)
raw_recv_into = _raw(myelon, 'myelon_consumer_recv_into', c_int)
raw_try_recv_into = _raw(myelon_nowait, 'myelon_consumer_recv_into', c_int)
# (c_void_p handle, c_void_p msg) / (..., c_int64 timeout_ns): the leased receive
raw_try_recv = _raw(myelon_nowait, 'myelon_consumer_try_recv', c_int)
raw_recv = _raw(myelon, 'myelon_consumer_recv', c_int)

# a read-only memoryview of C memory without a ctypes array type in between
# (Python's C API; ctypes.pythonapi is a PyDLL: the GIL is kept)
PyBUF_READ = 0x100
memoryview_at = ctypes.pythonapi.PyMemoryView_FromMemory
memoryview_at.restype = ctypes.py_object
memoryview_at.argtypes = [c_void_p, ctypes.c_ssize_t, c_int]
