"""The NCCL binding against a stand-in library (nccl_stand_in.py): what each call passes
(types, operations, stream, the unique id from rank 0, the non-blocking config), the polled
creation and its timeout, errors, groups, and the wait's timeout and abort. The real libnccl
on GPUs is not exercised here (no GPU in CI)."""

from __future__ import annotations

import numpy as np
import pytest
from nccl_stand_in import ROOT_ID, FakeNccl

from runtime.distributed import mpi, nccl
from runtime.distributed.mpi import DistributedError


def communicator(library, world=None, done=lambda: True):
    return nccl.NcclCommunicator(world, stream=77, stream_done=done, library=library)


def names(library) -> list[str]:
    return [name for name, _ in library.calls]


class World:
    """Rank `rank` of 2, whose other rank answers where it is (or not)."""

    size, waiting_in = 2, "no collective (computing)"

    def __init__(self, rank=1, answer="rank(s) 0 did not answer"):
        self.rank, self.answer, self.asked = rank, answer, []

    def broadcast(self, buffer, root, what):
        assert root == 0 and len(buffer) == nccl.UNIQUE_ID_BYTES
        return np.frombuffer(ROOT_ID, np.uint8).copy()

    def read_notices(self, what):
        assert self.waiting_in == what  # what another rank asking would be told

    def whereabouts(self, what):
        self.asked.append(what)
        return [self.answer]


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
    library = FakeNccl()
    communicator(library, World())
    assert "ncclGetUniqueId" not in names(library)  # only rank 0 draws it
    assert library.init == (2, ROOT_ID, 1)


def test_creation_is_non_blocking_and_polled_until_every_rank_joined():
    library = FakeNccl(pending_polls=3)
    comm = communicator(library, World())
    # NCCL 2.14's ncclConfig_t header: size_t size, unsigned magic, unsigned version, int blocking
    assert library.config == (24, 0xCAFEBEEF, 21400, 0)
    assert names(library).count("ncclCommGetAsyncError") == 4  # 3 in progress, then success
    assert comm.has_avg


def test_creation_times_out_naming_the_ranks_that_did_not_join(monkeypatch):
    monkeypatch.setattr(mpi, "_timeout", 0.05)
    library, world = FakeNccl(pending_polls=None), World()
    with pytest.raises(
        DistributedError,
        match=r"rank 1: the creation of the NCCL communicator of 2 ranks on the GPU timed out "
        r"after 0.05 s; the NCCL communicator was aborted; rank\(s\) 0 did not answer",
    ):
        communicator(library, world)
    assert names(library)[-1] == "ncclCommAbort"
    assert world.waiting_in == "no collective (computing)"  # restored after the wait


def test_old_nccl_has_no_average():
    comm = communicator(FakeNccl(version=2708))  # 2.7.8: no ncclAvg
    assert not comm.has_avg
    with pytest.raises(DistributedError, match="has no ncclAvg"):
        comm.allreduce(1, 1, 4, "float32", "mean")


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


def test_wait_raises_an_asynchronous_error_naming_where_the_others_are():
    world = World(rank=0, answer="rank 1 waits in bucket 1")
    library = FakeNccl()
    comm = communicator(library, world, done=lambda: False)
    library.async_error = 6
    with pytest.raises(
        DistributedError,
        match="rank 0: bucket 0 failed: ncclRemoteError .*aborted; rank 1 waits in bucket 1",
    ):
        comm.wait("bucket 0")
    assert "ncclCommAbort" in names(library) and world.asked == ["bucket 0"]
    with pytest.raises(DistributedError, match="aborted after an earlier failure"):
        comm.allreduce(1, 1, 4, "float32")
