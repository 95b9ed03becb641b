"""Stand-ins for libnccl and for the GPU's streams, on host memory (the cuda host emulation's),
so that the NCCL path of cuda functions runs without a GPU.

`FakeNccl` records every call in `log` (shared with a `StreamLog` driver, so the test sees one
timeline); its all-reduce is carried out at once, which is stream order on the emulation
(every kernel has finished when the host goes on): over MPI when given the world's
communicator (`mpi_comm`), else as if every other rank held the same values (a sum is the
size times the input). `pending_polls` says how many polls a non-blocking creation stays
ncclInProgress (None: forever), `async_error` what the state becomes after that.
"""

from __future__ import annotations

import ctypes
import itertools

import numpy as np
from cuda_host import HostDriver

from runtime.distributed import nccl

ROOT_ID = bytes(range(128))
DTYPES = {code: np.dtype(name) for name, code in nccl.DTYPES.items() if name != "bool"}
IN_PROGRESS = 7
NO_MEMORY = 1 << 16  # "pointers" below this are not addresses


class FakeNccl:
    """libnccl for the host (see the module's docstring); `fail` maps a function name to the
    status it returns."""

    def __init__(
        self, fail=None, async_error=0, version=22703, pending_polls=0, size=1, mpi_comm=None
    ):
        self.log, self.fail, self.async_error = [], fail or {}, async_error
        self.version, self.pending_polls, self.size, self.mpi_comm = (
            version,
            pending_polls,
            size,
            mpi_comm,
        )
        self.polls = 0

    @property
    def calls(self) -> list:
        return [entry for entry in self.log if entry[0].startswith("nccl")]

    def __getattr__(self, name):
        if not name.startswith("nccl"):
            raise AttributeError(name)

        def call(*args):
            self.log.append((name, args))
            return getattr(self, "_" + name, lambda *a: 0)(*args) or self.fail.get(name, 0)

        return call

    def _ncclGetVersion(self, version):
        version._obj.value = self.version

    def _ncclGetUniqueId(self, unique):
        ctypes.memmove(ctypes.addressof(unique._obj), ROOT_ID, len(ROOT_ID))

    def _ncclCommInitRankConfig(self, comm, size, unique, rank, config):
        comm._obj.value = 0xC0FFEE
        c = config._obj
        self.init = (size, bytes(unique), rank)
        self.config = (c.size, c.magic, c.version, c.blocking)
        return IN_PROGRESS  # non-blocking: the creation goes on, polled

    def _ncclAllReduce(self, send, recv, count, dtype, op, comm, stream):
        if send < NO_MEMORY:  # the binding's own tests pass small numbers, not memory
            return
        dtype = DTYPES[dtype]
        data = np.ctypeslib.as_array((ctypes.c_uint8 * (count * dtype.itemsize)).from_address(send))
        values = data.view(dtype).copy()
        if self.mpi_comm is not None:
            from mpi4py import MPI

            ops = {0: MPI.SUM, 2: MPI.MAX, 3: MPI.MIN, 4: MPI.SUM}
            self.mpi_comm.Allreduce(MPI.IN_PLACE, values, ops[op])
            size = self.mpi_comm.Get_size()
        else:  # every other rank holds the same values
            size = self.size
            values = values * size if op in (0, 4) else values  # sum, avg: Σ over ranks
        if op == 4:  # ncclAvg
            values = values / dtype.type(size)
        ctypes.memmove(recv, values.ctypes.data, values.nbytes)

    def _ncclCommGetAsyncError(self, comm, state):
        self.polls += 1
        if self.pending_polls is None or self.polls <= self.pending_polls:
            state._obj.value = IN_PROGRESS
        else:
            state._obj.value = self.async_error

    def ncclGetErrorString(self, status):
        return b"explained"


class StreamLog(HostDriver):
    """The host emulation, logging copies, launches (with the pointers they pass), events
    and stream waits into `log` (a FakeNccl's, for one timeline)."""

    COMPUTE, COMMUNICATION = "compute", "comm"

    def __init__(self, log: list):
        super().__init__()
        self.log, self.events = log, itertools.count()

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        self.log.append(("copy", (dst, nbytes)))
        super().copy(dst, src, nbytes)

    def launch(self, fn, grid: int, block: int, params: bytes) -> None:
        n = (len(params) // 8) if params else 0
        pointers = np.frombuffer(params, np.uint64, count=n).tolist()
        self.log.append(("launch", tuple(pointers)))
        super().launch(fn, grid, block, params)

    def record_event(self, stream):
        event = next(self.events)
        self.log.append(("record", (self._name(stream), event)))
        return event

    def wait_event(self, stream, event) -> None:
        self.log.append(("wait", (self._name(stream), event)))

    def _name(self, stream) -> str:
        return self.COMMUNICATION if stream == self.communication_stream() else self.COMPUTE
