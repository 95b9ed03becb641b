"""Cuda functions' bucketed all-reduces through NCCL, on the cuda host emulation with a
stand-in libnccl (nccl_stand_in.py) and a stand-in world of 2 ranks whose other rank holds the
same values: the values against the numpy device, the order of copies, events, stream waits,
NCCL calls and kernels, groups, mean without ncclAvg, faults, and the helper kernels under
nvcc. The real GPU and libnccl are
not exercised here."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from nccl_stand_in import FakeNccl, StreamLog

import symbolic as S
import symbolic.distributed as D
from runtime.cuda.collectives import use_nccl
from runtime.cuda.device import use_driver
from runtime.distributed import mpi
from runtime.distributed.mpi import DistributedError
from symbolic.distributed import ops

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="no g++ for the emulation")


class Done:
    def Test(self) -> bool:
        return True


class PairWorld:
    """Rank 0 of 2, as the buckets (of either device) and the communicator see it; the other
    rank holds the same values, so a sum doubles them (MPI's part, for the numpy device)."""

    rank, size, local_rank, waiting_in = 0, 2, 0, "no collective (computing)"

    def __init__(self):
        self.signatures = []

    def check_signature(self, signature, what):
        self.signatures.append(signature)

    def broadcast(self, buffer, root, what):
        return buffer

    def read_notices(self, what):
        pass

    def whereabouts(self, what):
        return ["rank 1 waits in no collective (computing)"]

    def allreduce(self, buffer, op):
        if op == "sum":
            buffer *= 2
        return Done()

    def wait(self, requests, what, test=None):
        assert test is None or test()


def model(op: str, bucket_bytes: int):
    """A two-layer net's training step with its gradients all-reduced, and its parameters."""
    rng = np.random.default_rng(0)
    shapes = {"w1": (3, 5), "b1": (5,), "w2": (5, 2)}
    params = [
        S.shared(rng.standard_normal(s).astype(np.float32), name=n) for n, s in shapes.items()
    ]
    x = S.matrix("x")
    cost = S.sum((S.dot(S.tanh(S.dot(x, params[0]) + params[1]), params[2])) ** 2)
    grads = D.allreduce(S.grad(cost, params), op=op, bucket_bytes=bucket_bytes)
    updates = [(p, p - 0.01 * g) for p, g in zip(params, grads)]
    return x, cost, grads, updates, params


def oracle(op: str, x_value) -> tuple:
    """Outputs and new parameters of one step on the numpy device (its all-reduces over the
    same stand-in world)."""
    x, cost, grads, updates, params = model(op, 24)
    outputs = S.compile([x], [cost, *grads], updates=updates, device="numpy")(x_value)
    return outputs, [p.get_value() for p in params]


@pytest.fixture
def pair(monkeypatch):
    """(the stand-in libnccl, the logging driver): rank 0 of 2 on the emulated GPU."""
    library = FakeNccl(size=2)
    world = PairWorld()
    monkeypatch.setattr(ops, "peers", lambda: world)
    with use_driver(StreamLog(library.log)), use_nccl(library):
        yield library, world


def step(op: str, bucket_bytes: int = 24):
    x, cost, grads, updates, params = model(op, bucket_bytes)
    return S.compile([x], [cost, *grads], updates=updates, device="cuda"), params


X = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)


@pytest.mark.parametrize("op, version", [("mean", 22703), ("sum", 22703), ("mean", 2708)])
def test_values_match_the_numpy_device(pair, op, version):
    library, world = pair
    library.version = version  # 2.7.8: no ncclAvg, a sum divided on the device
    expected, expected_params = oracle(op, X)
    if op == "sum":  # the oracle's own check: the other rank's gradients are added
        alone, _ = oracle("mean", X)
        np.testing.assert_allclose(expected[1], 2 * alone[1], rtol=1e-6)
    f, params = step(op)
    checked = len(world.signatures)
    for got, want in zip(f(X), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for p, want in zip(params, expected_params):
        np.testing.assert_allclose(p.get_value(), want, rtol=1e-5, atol=1e-6)
    reductions = [args[4] for name, args in library.calls if name == "ncclAllReduce"]
    assert len(reductions) == 2  # 24-byte buckets: w2's gradient (40 bytes), then b1's and w1's
    # a mean is a sum (ncclSum, 0) times 1/size, which fuses into the update's kernel
    assert set(reductions) == {0}
    assert len(world.signatures) - checked == 2  # the first call checks each bucket


def test_all_reduce_runs_after_its_producers_and_before_its_consumers(pair):
    library, _ = pair
    f, _ = step("mean")
    f(X)
    log = library.log
    reductions = [k for k, (name, _) in enumerate(log) if name == "ncclAllReduce"]
    for k in reductions:
        send, _, count = log[k][1][:3]
        inside = range(send, send + 4 * count)  # float32
        # the communication stream waited for an event recorded on the compute stream after
        # the copies that packed the bucket
        waited = max(i for i in range(k) if log[i][:1] == ("wait",) and log[i][1][0] == "comm")
        event = log[waited][1][1]
        recorded = log.index(("record", ("compute", event)))
        copies = [
            i for i, (name, args) in enumerate(log[:k]) if name == "copy" and args[0] in inside
        ]
        assert copies and max(copies) < recorded < waited < k
        # the compute stream waits for an event recorded after the all-reduce, before any
        # kernel reads the bucket
        done = next(i for i in range(k, len(log)) if log[i][0] == "record")
        assert log[done][1][0] == "comm"
        resumed = log.index(("wait", ("compute", log[done][1][1])))
        readers = [
            i
            for i, (name, args) in enumerate(log)
            if i > max(copies) and name == "launch" and any(a in inside for a in args)
        ]
        assert readers and min(readers) > resumed > done


def test_buckets_started_together_are_one_group(pair):
    library, _ = pair
    a, b = S.vector("a"), S.vector("b", "float64")
    f = S.compile([a, b], D.allreduce([a, b], op="sum", bucket_bytes=1), device="cuda")
    va, vb = np.arange(3, dtype=np.float32), np.arange(4, dtype=np.float64)
    got = f(va, vb)
    np.testing.assert_array_equal(got[0], 2 * va)
    np.testing.assert_array_equal(got[1], 2 * vb)
    calls = [name for name, _ in library.calls if name.startswith(("ncclGroup", "ncclAllReduce"))]
    assert calls == ["ncclGroupStart", "ncclAllReduce", "ncclAllReduce", "ncclGroupEnd"]


def test_an_asynchronous_error_names_the_bucket_and_changes_no_shared_variable(pair):
    library, _ = pair
    f, params = step("mean", bucket_bytes=1 << 20)
    f(X)
    before = [p.get_value() for p in params]
    library.async_error = 6  # ncclRemoteError
    with pytest.raises(
        DistributedError,
        match=r"rank 0: bucket 0 \(allreduce sum of 3 float32 tensors, 120 bytes\) of the "
        r"function compiled at .*test_nccl_schedule.py:\d+ in model failed: ncclRemoteError .*aborted; "
        r"rank 1 waits in",
    ):
        f(X)
    for p, value in zip(params, before):
        np.testing.assert_array_equal(p.get_value(), value)


def test_a_call_after_a_failed_one_runs_only_its_own_buckets(pair):
    library, _ = pair
    a = S.vector("a")
    f = S.compile([a], D.allreduce(a * 3, op="sum", bucket_bytes=1), device="cuda")
    library.fail = {"ncclAllReduce": 4}  # ncclInvalidArgument, as the bucket is enqueued
    with pytest.raises(DistributedError, match="ncclAllReduce .* ncclInvalidArgument"):
        f(np.ones(2, np.float32))
    library.fail = {}
    enqueued = len(library.calls)
    np.testing.assert_array_equal(f(np.arange(2, dtype=np.float32)), [0, 6])
    assert [name for name, _ in library.calls[enqueued:]].count("ncclAllReduce") == 1


def test_a_bucket_that_never_finishes_times_out(pair, monkeypatch):
    library, _ = pair
    monkeypatch.setattr(mpi, "_timeout", 0.05)
    f, _ = step("sum", bucket_bytes=1 << 20)
    monkeypatch.setattr(StreamLog, "event_done", lambda self, event: False)
    with pytest.raises(DistributedError, match=r"bucket 0 \(allreduce sum .* timed out after"):
        f(X)
    assert library.calls[-1][0] == "ncclCommAbort"


def test_the_device_kernels_of_the_nccl_path_build_with_nvcc(cache_home):
    """The runtime's helper module (copies, and the division of a mean where NCCL has no
    ncclAvg) as nvcc compiles it for a GPU."""
    from runtime.cuda import build
    from runtime.cuda.device import utility_kernels
    from symbolic.codegen.cuda import render_module

    if build.find_nvcc() is None:
        pytest.skip("nvcc is not on the PATH")
    kernels = list(utility_kernels().items())
    assert {"divide_float32", "divide_float64"} <= {name for name, _ in kernels}
    assert build.build_cubin(render_module(kernels), "sm_90")[:4] == b"\x7fELF"
