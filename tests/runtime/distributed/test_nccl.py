"""The NCCL binding against a stand-in library: what each call passes (types, operations,
stream, the unique id from rank 0), its errors, groups, and the wait's timeout and abort.
The real libnccl on GPUs is not exercised here (no GPU in CI)."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from runtime.distributed import mpi, nccl
from runtime.distributed.mpi import DistributedError

ROOT_ID = bytes(range(128))


class FakeNccl:
    """libnccl for one process on the host: pointers are host addresses; every call is
    recorded; `fail` maps a function name to the status it returns."""

    def __init__(self, fail=None, async_error=0):
        self.calls, self.fail, self.async_error = [], fail or {}, async_error

    def __getattr__(self, name):
        if not name.startswith("nccl"):
            raise AttributeError(name)

        def call(*args):
            self.calls.append((name, args))
            return getattr(self, "_" + name, lambda *a: 0)(*args) or self.fail.get(name, 0)

        return call

    def _ncclGetUniqueId(self, unique):
        ctypes.memmove(ctypes.addressof(unique._obj), ROOT_ID, len(ROOT_ID))

    def _ncclCommInitRank(self, comm, size, unique, rank):
        comm._obj.value = 0xC0FFEE
        self.init = (size, bytes(unique), rank)

    def _ncclAllReduce(self, send, recv, count, dtype, op, comm, stream):
        if send != recv:  # one rank: the sum is the input (in place: nothing to do)
            ctypes.memmove(recv, send, count * 4)

    def _ncclCommGetAsyncError(self, comm, state):
        state._obj.value = self.async_error

    def ncclGetErrorString(self, status):
        return b"explained"


def communicator(library, world=None, done=lambda: True):
    return nccl.NcclCommunicator(world, stream=77, stream_done=done, library=library)


def names(library) -> list[str]:
    return [name for name, _ in library.calls]


def test_module_imports_and_reports_a_missing_library(monkeypatch):
    import runtime.nvidia_library as found

    monkeypatch.setattr(found.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(nccl, "LIBRARY_NAMES", ("libnccl-not-here.so",))
    with pytest.raises(OSError, match="pip install nvidia-nccl-cu12"):
        nccl.find_nccl()


def test_single_rank_communicator_reduces_on_its_stream():
    library = FakeNccl()
    comm = communicator(library)
    assert library.init == (1, ROOT_ID, 0)
    send, recv = np.arange(6, dtype=np.float32), np.zeros(6, np.float32)
    comm.allreduce(send.ctypes.data, recv.ctypes.data, 6, "float32", "mean")
    np.testing.assert_array_equal(recv, send)
    name, args = library.calls[-1]
    assert name == "ncclAllReduce" and args[2:5] == (6, 7, 4) and args[6] == 77
    comm.wait("an all-reduce")
    comm.close()
    assert names(library)[-1] == "ncclCommDestroy"


def test_other_ranks_take_rank_0s_unique_id():
    class World:  # rank 1 of 2: the broadcast brings rank 0's id
        rank, size = 1, 2

        def broadcast(self, buffer, root, what):
            assert root == 0 and len(buffer) == nccl.UNIQUE_ID_BYTES
            return np.frombuffer(ROOT_ID, np.uint8).copy()

    library = FakeNccl()
    communicator(library, World())
    assert "ncclGetUniqueId" not in names(library)  # only rank 0 draws it
    assert library.init == (2, ROOT_ID, 1)


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda c: c.allgather(1, 2, 3, "int64"), ("ncclAllGather", (1, 2, 3, 4))),
        (lambda c: c.broadcast(1, 2, 3, "float64", 0), ("ncclBroadcast", (1, 2, 3, 8, 0))),
        (lambda c: c.reduce(1, 2, 3, "int32", 1), ("ncclReduce", (1, 2, 3, 2, 0, 1))),
    ],
)
def test_collectives_pass_types_and_roots(call, expected):
    library = FakeNccl()
    call(communicator(library))
    name, args = library.calls[-1]
    assert (name, args[: len(expected[1])]) == expected


def test_group_fuses_and_closes_even_on_error():
    library = FakeNccl()
    comm = communicator(library)
    with pytest.raises(TypeError, match="cannot carry complex64"):
        with comm.group():
            comm.allreduce(1, 1, 4, "float32")
            comm.allreduce(2, 2, 4, "complex64")
    assert names(library)[-3:] == ["ncclGroupStart", "ncclAllReduce", "ncclGroupEnd"]


def test_error_status_names_the_call_and_result():
    comm = communicator(FakeNccl(fail={"ncclAllReduce": 4}))
    with pytest.raises(
        DistributedError,
        match=r"ncclAllReduce \(max, 5 float32\) failed: ncclInvalidArgument \(explained\)",
    ):
        comm.allreduce(1, 1, 5, "float32", "max")


def test_wait_times_out_and_aborts(monkeypatch):
    monkeypatch.setattr(mpi, "_timeout", 0.05)
    library = FakeNccl()
    comm = communicator(library, done=lambda: False)
    with pytest.raises(DistributedError, match="bucket 3 on the GPU timed out after 0.05 s"):
        comm.wait("bucket 3")
    assert names(library)[-1] == "ncclCommAbort"


def test_wait_raises_an_asynchronous_error():
    library = FakeNccl(async_error=6)
    comm = communicator(library, done=lambda: False)
    with pytest.raises(DistributedError, match="bucket 0 failed: ncclRemoteError"):
        comm.wait("bucket 0")
    assert "ncclCommAbort" in names(library)
