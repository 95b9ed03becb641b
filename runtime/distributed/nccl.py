"""NCCL for device buffers: its C API through ctypes (as runtime/cuda/blas.py binds cuBLAS).

One GPU per rank: the caller makes GPU `local_rank() % device_count` current before creating
the communicator (NCCL binds a communicator to the current device). Rank 0 draws the unique
id (ncclGetUniqueId); it reaches the other ranks over MPI (runtime/distributed/mpi.py, so
under its timeout). Collectives are enqueued on a communication stream of their own, so they
run beside the compute stream; `wait` polls that stream's completion and NCCL's asynchronous
error state, reads MPI abort notices between polls, and after the timeout aborts the
communicator (ncclCommAbort) and raises naming the collective. Several collectives between
`group()`'s start and end are fused by NCCL into one launch (a bucket).

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


class UniqueId(ctypes.Structure):
    _fields_ = [("internal", ctypes.c_char * UNIQUE_ID_BYTES)]


def find_nccl() -> str:
    """The path or name of libnccl: NVIDIA's wheel (nvidia-nccl-cu12/-cu13), else the system's."""
    return find_nvidia_library("nccl", LIBRARY_NAMES, "pip install nvidia-nccl-cu12")


def load_nccl() -> ctypes.CDLL:
    """libnccl with the argument types of the functions used here."""
    lib = ctypes.CDLL(find_nccl())
    p, i, size = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    signatures = {
        "ncclGetUniqueId": [ctypes.POINTER(UniqueId)],
        "ncclCommInitRank": [ctypes.POINTER(p), i, UniqueId, i],
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
    single process). Pointers given to the collectives are device addresses.
    """

    def __init__(self, world, stream: int, stream_done: Callable[[], bool], library=None):
        self.lib = library if library is not None else load_nccl()
        self.world, self.stream, self.stream_done = world, stream, stream_done
        self.rank = 0 if world is None else world.rank
        self.size = 1 if world is None else world.size
        unique = UniqueId()
        if self.rank == 0:
            self._check(self.lib.ncclGetUniqueId(ctypes.byref(unique)), "ncclGetUniqueId")
        if self.size > 1:  # rank 0's id, to every rank, over MPI (under the timeout)
            raw = np.frombuffer(bytes(unique), np.uint8)  # all 128 bytes (.internal stops at a 0)
            raw = world.broadcast(raw.copy(), 0, "the broadcast of NCCL's unique id")
            unique = UniqueId.from_buffer_copy(raw.tobytes())
        self.comm = ctypes.c_void_p()
        self._check(
            self.lib.ncclCommInitRank(ctypes.byref(self.comm), self.size, unique, self.rank),
            "ncclCommInitRank",
        )

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            name = RESULTS[status] if 0 <= status < len(RESULTS) else f"status {status}"
            detail = self.lib.ncclGetErrorString(status)
            detail = detail.decode() if isinstance(detail, bytes) else str(detail)
            raise DistributedError(f"rank {self.rank}: {what} failed: {name} ({detail})")

    # ---- collectives (enqueued on the communication stream) -------------------------------

    def allreduce(self, send: int, recv: int, count: int, dtype, op: str = "sum") -> None:
        """recv[:count] = op over ranks of send[:count] (send == recv: in place)."""
        status = self.lib.ncclAllReduce(
            send, recv, count, _dtype(dtype), OPS[op], self.comm, self.stream
        )
        self._check(status, f"ncclAllReduce ({op}, {count} {dtype})")

    def allgather(self, send: int, recv: int, count: int, dtype) -> None:
        """recv = every rank's send[:count], in rank order (equal counts on every rank)."""
        status = self.lib.ncclAllGather(send, recv, count, _dtype(dtype), self.comm, self.stream)
        self._check(status, f"ncclAllGather ({count} {dtype})")

    def broadcast(self, send: int, recv: int, count: int, dtype, root: int) -> None:
        status = self.lib.ncclBroadcast(
            send, recv, count, _dtype(dtype), root, self.comm, self.stream
        )
        self._check(status, f"ncclBroadcast (from {root}, {count} {dtype})")

    def reduce(self, send: int, recv: int, count: int, dtype, root: int) -> None:
        """The sum over ranks into recv on the root."""
        status = self.lib.ncclReduce(
            send, recv, count, _dtype(dtype), OPS["sum"], root, self.comm, self.stream
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

    def wait(self, what: str) -> None:
        """Until the communication stream is done; raises (after aborting the communicator)
        on an NCCL error, another rank's abort notice, or the timeout."""
        limit = timeout()
        deadline, pause = time.monotonic() + limit, 2e-5
        state = ctypes.c_int(0)
        while not self.stream_done():
            self._check(
                self.lib.ncclCommGetAsyncError(self.comm, ctypes.byref(state)),
                "ncclCommGetAsyncError",
            )
            if state.value not in (0, 7):  # neither success nor in progress
                self.abort()
                self._check(state.value, what)
            if self.world is not None:
                try:
                    self.world.read_notices(what)
                except DistributedError:
                    self.abort()
                    raise
            if time.monotonic() > deadline:
                self.abort()
                raise DistributedError(
                    f"rank {self.rank}: {what} on the GPU timed out after {limit:g} s; "
                    "the NCCL communicator was aborted"
                )
            time.sleep(pause)
            pause = min(2 * pause, 1e-3)

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
