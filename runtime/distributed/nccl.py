"""NCCL for device buffers: its C API through ctypes (as runtime/cuda/blas.py binds cuBLAS).

One GPU per rank: the caller makes GPU `local_rank() % device_count` current before creating
the communicator (NCCL binds a communicator to the current device). Rank 0 draws the unique
id (ncclGetUniqueId); it reaches the other ranks over MPI (runtime/distributed/mpi.py, so
under its timeout). The communicator is made non-blocking (ncclCommInitRankConfig with
config.blocking = 0), so that its creation, which waits for every rank to join, is polled like
any other wait. Collectives are enqueued on a communication stream of their own, so they run
beside the compute stream. Every wait (`wait`, and any call NCCL answers with ncclInProgress)
polls NCCL's asynchronous error state and reads MPI abort notices; on an error or after the
timeout it aborts the communicator (ncclCommAbort) and raises naming the collective, this rank
and where the other ranks are (runtime/distributed/mpi.py asks them). Several collectives
between `group()`'s start and end are fused by NCCL into one launch.

The library loads only when a communicator is made, so this module imports without GPUs;
`library` accepts a stand-in object with the same functions (the tests use one).
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from runtime.distributed.mpi import DistributedError, timeout
from runtime.nvidia_library import find_nvidia_library

UNIQUE_ID_BYTES = 128  # NCCL_UNIQUE_ID_BYTES
# ncclDataType_t per NumPy dtype (nccl.h); bool travels as uint8
DTYPES = {
    "int8": 0,
    "uint8": 1,
    "bool": 1,
    "int32": 2,
    "uint32": 3,
    "int64": 4,
    "uint64": 5,
    "float16": 6,
    "float32": 7,
    "float64": 8,
}
OPS = {"sum": 0, "prod": 1, "max": 2, "min": 3, "mean": 4}  # ncclRedOp_t; mean is ncclAvg
AVG_VERSION = 21000  # ncclAvg came with NCCL 2.10 (version codes: major·10⁴ + minor·100 + patch)
SUCCESS, IN_PROGRESS = 0, 7  # the ncclResult_t values a wait tells apart
RESULTS = (  # ncclResult_t, by value
    "ncclSuccess",
    "ncclUnhandledCudaError",
    "ncclSystemError",
    "ncclInternalError",
    "ncclInvalidArgument",
    "ncclInvalidUsage",
    "ncclRemoteError",
    "ncclInProgress",
    "ncclTimeout",
)
LIBRARY_NAMES = ("libnccl.so.2", "libnccl.so")
CONFIG_MAGIC = 0xCAFEBEEF  # NCCL_API_MAGIC: marks a config made by NCCL_CONFIG_INITIALIZER
CONFIG_VERSION = 21400  # NCCL_VERSION(2, 14, 0): the version whose layout Config mirrors


class UniqueId(ctypes.Structure):
    _fields_ = [("internal", ctypes.c_char * UNIQUE_ID_BYTES)]


class Config(ctypes.Structure):
    """ncclConfig_t as NCCL 2.14 laid it out (size, magic, version, blocking). NCCL copies the
    first `size` bytes of the caller's config and gives the fields that later versions added
    (cgaClusterSize, minCTAs, …, appended at the end) their defaults when `version` predates
    them, so this prefix is valid for every NCCL from 2.14 on (the nvidia-nccl-cu12 and -cu13
    wheels ship 2.18 and later)."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("magic", ctypes.c_uint),
        ("version", ctypes.c_uint),
        ("blocking", ctypes.c_int),
    ]

    @classmethod
    def non_blocking(cls) -> Config:
        """NCCL_CONFIG_INITIALIZER's header fields, with blocking = 0."""
        return cls(ctypes.sizeof(cls), CONFIG_MAGIC, CONFIG_VERSION, 0)


def find_nccl() -> str:
    """The path or name of libnccl: NVIDIA's wheel (nvidia-nccl-cu12/-cu13), else the system's."""
    return find_nvidia_library("nccl", LIBRARY_NAMES, "pip install nvidia-nccl-cu12")


def load_nccl() -> ctypes.CDLL:
    """libnccl with the argument types of the functions used here."""
    lib = ctypes.CDLL(find_nccl())
    p, i, size = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    signatures = {
        "ncclGetUniqueId": [ctypes.POINTER(UniqueId)],
        "ncclGetVersion": [ctypes.POINTER(i)],
        "ncclCommInitRankConfig": [ctypes.POINTER(p), i, UniqueId, i, ctypes.POINTER(Config)],
        "ncclCommDestroy": [p],
        "ncclCommAbort": [p],
        "ncclCommGetAsyncError": [p, ctypes.POINTER(i)],
        "ncclAllReduce": [p, p, size, i, i, p, p],
        "ncclAllGather": [p, p, size, i, p, p],
        "ncclBroadcast": [p, p, size, i, i, p, p],
        "ncclReduce": [p, p, size, i, i, i, p, p],
        "ncclGroupStart": [],
        "ncclGroupEnd": [],
    }
    for name, argtypes in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, ctypes.c_int
    lib.ncclGetErrorString.argtypes, lib.ncclGetErrorString.restype = [i], ctypes.c_char_p
    return lib


class NcclCommunicator:
    """All ranks of the MPI job as one NCCL communicator, on the current GPU.

    `stream`: the communication stream's handle (a CUstream as int); `stream_done()`: whether
    everything enqueued on it has finished (cuStreamQuery). `world`: the MPI World (None: a
    single process). Pointers given to the collectives are device addresses. `has_avg`:
    whether "mean" is NCCL's own (ncclAvg, NCCL ≥ 2.10); without it, sum and scale.
    """

    def __init__(self, world, stream: int, stream_done: Callable[[], bool], library=None):
        self.lib = library if library is not None else load_nccl()
        self.world, self.stream, self.stream_done = world, stream, stream_done
        self.rank = 0 if world is None else world.rank
        self.size = 1 if world is None else world.size
        self.comm = ctypes.c_void_p()
        version = ctypes.c_int(0)
        self._check(self.lib.ncclGetVersion(ctypes.byref(version)), "ncclGetVersion")
        self.version = version.value
        self.has_avg = self.version >= AVG_VERSION
        unique = UniqueId()
        if self.rank == 0:
            self._check(self.lib.ncclGetUniqueId(ctypes.byref(unique)), "ncclGetUniqueId")
        if self.size > 1:  # rank 0's id, to every rank, over MPI (under the timeout)
            raw = np.frombuffer(bytes(unique), np.uint8)  # all 128 bytes (.internal stops at a 0)
            raw = world.broadcast(raw.copy(), 0, "the broadcast of NCCL's unique id")
            unique = UniqueId.from_buffer_copy(raw.tobytes())
        config = Config.non_blocking()
        what = f"the creation of the NCCL communicator of {self.size} ranks"
        status = self.lib.ncclCommInitRankConfig(
            ctypes.byref(self.comm), self.size, unique, self.rank, ctypes.byref(config)
        )
        self._check(status, what)  # ncclInProgress: polled until every rank has joined

    def _check(self, status: int, what: str) -> None:
        """Raise on an error status; poll until NCCL has settled where it says ncclInProgress
        (a non-blocking communicator may answer any call so)."""
        if status == IN_PROGRESS and self.comm:
            self._poll(what, lambda: True)
        elif status != SUCCESS:
            raise DistributedError(f"rank {self.rank}: {what} failed: {self._explain(status)}")

    def _explain(self, status: int) -> str:
        name = RESULTS[status] if 0 <= status < len(RESULTS) else f"status {status}"
        detail = self.lib.ncclGetErrorString(status)
        detail = detail.decode() if isinstance(detail, bytes) else str(detail)
        return f"{name} ({detail})"

    def _handle(self) -> ctypes.c_void_p:
        if not self.comm:
            raise DistributedError(
                f"rank {self.rank}: the NCCL communicator was aborted after an earlier failure"
            )
        return self.comm

    # ---- collectives (enqueued on the communication stream) -------------------------------

    def allreduce(self, send: int, recv: int, count: int, dtype, op: str = "sum") -> None:
        """recv[:count] = op over ranks of send[:count] (send == recv: in place)."""
        if op == "mean" and not self.has_avg:
            raise DistributedError(
                f"rank {self.rank}: NCCL {self.version} has no ncclAvg (2.10 and later do); "
                "sum, then scale"
            )
        status = self.lib.ncclAllReduce(
            send, recv, count, _dtype(dtype), OPS[op], self._handle(), self.stream
        )
        self._check(status, f"ncclAllReduce ({op}, {count} {dtype})")

    def allgather(self, send: int, recv: int, count: int, dtype) -> None:
        """recv = every rank's send[:count], in rank order (equal counts on every rank)."""
        status = self.lib.ncclAllGather(
            send, recv, count, _dtype(dtype), self._handle(), self.stream
        )
        self._check(status, f"ncclAllGather ({count} {dtype})")

    def broadcast(self, send: int, recv: int, count: int, dtype, root: int) -> None:
        status = self.lib.ncclBroadcast(
            send, recv, count, _dtype(dtype), root, self._handle(), self.stream
        )
        self._check(status, f"ncclBroadcast (from {root}, {count} {dtype})")

    def reduce(self, send: int, recv: int, count: int, dtype, root: int) -> None:
        """The sum over ranks into recv on the root."""
        status = self.lib.ncclReduce(
            send, recv, count, _dtype(dtype), OPS["sum"], root, self._handle(), self.stream
        )
        self._check(status, f"ncclReduce (to {root}, {count} {dtype})")

    @contextmanager
    def group(self):
        """The collectives enqueued inside run as one fused launch."""
        self._check(self.lib.ncclGroupStart(), "ncclGroupStart")
        try:
            yield
        finally:
            self._check(self.lib.ncclGroupEnd(), "ncclGroupEnd")

    # ---- waiting and ending ---------------------------------------------------------------

    def wait(self, what: str, done: Callable[[], bool] | None = None) -> None:
        """Until `done()` (default: the communication stream is idle), polled as `_poll` says."""
        self._poll(what, done or self.stream_done)

    def _poll(self, what: str, done: Callable[[], bool]) -> None:
        """Until NCCL's state is ncclSuccess and `done()`; raises after aborting the
        communicator on an NCCL error, another rank's abort notice, or the timeout."""
        limit = timeout()
        deadline, pause = time.monotonic() + limit, 2e-5
        w, state = self.world, ctypes.c_int(0)
        saved = w.waiting_in if w is not None else None
        if w is not None:
            w.waiting_in = what  # what this rank answers when another asks where it is
        try:
            while True:
                status = self.lib.ncclCommGetAsyncError(self._handle(), ctypes.byref(state))
                if status != SUCCESS:
                    self._fail(what, f"failed: ncclCommGetAsyncError: {self._explain(status)}")
                if state.value not in (SUCCESS, IN_PROGRESS):
                    self._fail(what, f"failed: {self._explain(state.value)}")
                if state.value == SUCCESS and done():
                    return
                if w is not None:
                    try:
                        w.read_notices(what)
                    except DistributedError:
                        self.abort()
                        raise
                if time.monotonic() > deadline:
                    self._fail(what, f"on the GPU timed out after {limit:g} s")
                time.sleep(pause)
                pause = min(2 * pause, 1e-3)
        finally:
            if w is not None:
                w.waiting_in = saved

    def _fail(self, what: str, how: str) -> None:
        """Abort the communicator and raise, naming where the other ranks are."""
        self.abort()
        lines = [f"rank {self.rank}: {what} {how}; the NCCL communicator was aborted"]
        if self.world is not None:
            lines += self.world.whereabouts(what)
        raise DistributedError("; ".join(lines))

    def abort(self) -> None:
        if self.comm:
            self.lib.ncclCommAbort(self.comm)
            self.comm = ctypes.c_void_p()

    def close(self) -> None:
        if self.comm:
            self._check(self.lib.ncclCommDestroy(self.comm), "ncclCommDestroy")
            self.comm = ctypes.c_void_p()


def _dtype(dtype) -> int:
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise TypeError(f"NCCL cannot carry {name} tensors")
    return DTYPES[name]
