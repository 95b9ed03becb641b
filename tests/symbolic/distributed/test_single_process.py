"""symbolic.distributed in a process that mpiexec did not start: rank 0 of 1, where every
collective is the identity (so one script runs either way), and the compile-time planning of
buckets, which is the same on every rank count. Multi-rank runs: tests/runtime/distributed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import symbolic as S
import symbolic.distributed as D
from runtime.collectives import plan_collectives
from runtime.distributed.buckets import AllreduceStart, AllreduceWait
from symbolic.distributed.ops import ReduceScatter

DEVICES = ["numpy", "cpu"]


def test_import_leaves_mpi_alone():
    """mpi4py is imported only under mpiexec: the package works without it."""
    import os
    import subprocess
    import sys

    from runtime.distributed.mpi import LAUNCH_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARIABLES}
    code = "import sys, symbolic as S; S.distributed.rank(); print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_plain_process_is_rank_0_of_1():
    assert (D.rank(), D.size(), D.local_rank()) == (0, 1, 0)
    D.barrier()
    assert S.distributed is D


# (name, build(x)): in one process each is the identity, and so is its gradient
IDENTITIES = [
    ("allreduce sum", lambda x: D.allreduce(x, "sum")),
    ("allreduce mean", lambda x: D.allreduce(x, "mean")),
    ("allreduce max", lambda x: D.allreduce(x, "max")),
    ("allreduce min blocking", lambda x: D.allreduce(x, "min", bucket_bytes=0)),
    ("allgather", lambda x: D.allgather(x, axis=1)),
    ("broadcast", lambda x: D.broadcast(x, root=0)),
    ("reduce_scatter", lambda x: ReduceScatter(0)(x, x.shape[0])),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, build", IDENTITIES, ids=[n for n, _ in IDENTITIES])
def test_collective_is_the_identity_in_one_process(name, build, device, rng):
    x = S.matrix("x", dtype="float64")
    value = rng.standard_normal((3, 4))
    out = build(x)
    f = S.compile([x], [out, S.grad((out * np.arange(12.0).reshape(3, 4)).sum(), x)], device=device)
    result, gradient = f(value)
    np.testing.assert_array_equal(result, value)
    np.testing.assert_array_equal(gradient, np.arange(12.0).reshape(3, 4))
    S.verify_grad(lambda v: build(v) ** 2, [value])


def test_allreduce_of_a_list_is_one_op_with_a_list_out():
    a, b = S.vector("a"), S.matrix("b", dtype="float64")
    out = D.allreduce([a, b], "sum")
    assert isinstance(out, list) and out[0].owner is out[1].owner
    assert [o.type for o in out] == [a.type, b.type]
    assert D.allreduce([]) == []


def test_mean_is_the_sum_times_one_over_size():
    """So the scaling fuses into the kernel that reads the mean."""
    a, b = S.vector("a"), S.matrix("b", dtype="float64")
    out = D.allreduce([a, b], "mean")
    assert [o.type for o in out] == [a.type, b.type]
    sums = [o.owner.inputs[0] for o in out]
    assert sums[0].owner is sums[1].owner and sums[0].owner.op.reduce == "sum"
    assert [o.owner.inputs[1].owner.op.name for o in out] == ["one_over_size"] * 2


@pytest.mark.parametrize(
    "call, error, text",
    [
        (lambda x: D.allreduce(x, "prod"), ValueError, "op must be one of"),
        (lambda x: D.allreduce(x, bucket_bytes=-1), ValueError, "bucket_bytes"),
        (lambda x: D.allreduce(S.cast(x, "int32"), "mean"), TypeError, "mean needs float"),
        (lambda x: D.allgather(x, axis=2), ValueError, "axis 2 is out of range"),
        (lambda x: D.broadcast(x, root=1), ValueError, "root must be a rank from 0 to 0"),
        (lambda x: D.broadcast_shared([x]), TypeError, "takes shared variables"),
    ],
)
def test_bad_arguments_raise_naming_them(call, error, text):
    with pytest.raises(error, match=text):
        call(S.matrix("x"))


@pytest.mark.parametrize(
    "n_items, batch_size, n_ranks, expected",
    [
        (10, 4, 1, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),
        (10, 4, 2, [[[0, 1], [2, 3]], [[4, 5], [6, 7]], [[8], [9]]]),
        # 3 ranks: the first (rows mod 3) ranks get a row more; a short last batch of 2 rows
        # leaves rank 2 without a row
        (10, 8, 3, [[[0, 1, 2], [3, 4, 5], [6, 7]], [[8], [9], []]]),
    ],
)
def test_shard_splits_each_global_batch_in_rank_order(
    n_items, batch_size, n_ranks, expected, monkeypatch
):
    import symbolic.distributed.group as group

    monkeypatch.setattr(group, "size", lambda: n_ranks)
    parts = []
    for r in range(n_ranks):
        monkeypatch.setattr(group, "rank", lambda r=r: r)
        parts.append([rows.tolist() for rows in D.shard(n_items, batch_size)])
    if n_ranks == 1:
        assert parts[0] == expected
        return
    for step, want in enumerate(expected):
        assert [parts[r][step] for r in range(n_ranks)] == want
        assert sorted(sum(want, [])) == list(
            range(step * batch_size, step * batch_size + len(sum(want, [])))
        )


def training_step(bucket_bytes: int, device: str):
    rng = np.random.default_rng(0)
    x = S.matrix("x")
    params, h = [], x
    for i, (n_in, n_out) in enumerate([(5, 7), (7, 6), (6, 3)]):
        W = S.shared(rng.standard_normal((n_in, n_out)).astype(np.float32), name=f"W{i}")
        b = S.shared(np.zeros(n_out, np.float32), name=f"b{i}")
        params += [W, b]
        h = S.tanh(h @ W + b)
    cost = (h**2).mean()
    grads = D.allreduce(S.grad(cost, params), "mean", bucket_bytes=bucket_bytes)
    updates = [(p, p - 0.1 * g) for p, g in zip(params, grads)]
    f = S.compile([x], D.allreduce(cost, bucket_bytes=bucket_bytes), updates=updates, device=device)
    return f, params


@pytest.mark.parametrize("device", DEVICES)
def test_bucketed_schedule_gives_the_blocking_values(device, rng):
    batches = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(3)]
    runs = []
    for bucket_bytes in (0, 40, 2**20):
        f, params = training_step(bucket_bytes, device)
        losses = [float(f(b)) for b in batches]
        runs.append((losses, [p.get_value() for p in params]))
    for losses, values in runs[1:]:
        np.testing.assert_allclose(losses, runs[0][0], rtol=1e-6)
        for v, want in zip(values, runs[0][1]):
            np.testing.assert_allclose(v, want, rtol=1e-6)


def test_buckets_fill_in_the_order_gradients_are_ready():
    f, params = training_step(40, "numpy")  # 40 bytes: a bucket closes at its 10th float
    f(np.ones((4, 5), np.float32))
    nodes = f.fgraph.nodes
    starts = [k for k, n in enumerate(nodes) if isinstance(n.op, AllreduceStart)]
    waits = [k for k, n in enumerate(nodes) if isinstance(n.op, AllreduceWait)]
    assert len(starts) == len(waits) == 7  # 6 gradients and the cost
    assert max(starts) < min(waits)  # every tensor is handed over before any wait
    buckets = nodes[starts[0]].op.buckets
    sizes = [bucket.nbytes for bucket in buckets.history]  # the mean is a sum: one kind
    assert {bucket.key for bucket in buckets.history} == {("sum", "float32", 40)}
    assert all(s >= 40 for s in sizes[:-1]) and sum(sizes) == 4 * (35 + 7 + 42 + 6 + 18 + 3 + 1)
    # backward order: the last layer's weight gradient goes first, the first layer's last
    shapes = [shape for b in buckets.history for shape in b.shapes]
    assert shapes.index((6, 3)) < shapes.index((7, 6)) < shapes.index((5, 7))


def test_function_with_buckets_pickles():
    f, params = training_step(40, "numpy")
    g = pickle.loads(pickle.dumps(f))
    x = np.ones((4, 5), np.float32)
    np.testing.assert_allclose(g(x), f(x), rtol=1e-6)


def test_starts_may_take_only_values_no_other_node_reads():
    """The gradients (read by their start alone) may be reduced in place; an input, and a
    value another output also reads, may not. A pickle from before the flags takes none."""
    x = S.matrix("x")
    doubled = x * 2
    outs = D.allreduce([S.tanh(x), doubled, x], "sum")
    f = S.compile([x], [*outs, doubled], device="numpy")
    (buckets,) = {id(n.op.buckets): n.op.buckets for n in starts_of(f)}.values()
    taken = {
        n.inputs[0].owner.op.name if n.inputs[0].owner else "x": buckets.may_take[n.op.index]
        for n in starts_of(f)
    }
    assert taken == {"tanh": True, "mul": False, "x": False}
    old = pickle.loads(pickle.dumps(buckets))
    old.__setstate__(buckets.__getstate__()[:3])
    assert old.may_take == [False] * 3 and old.keys == buckets.keys


def test_a_bucket_waited_for_at_once_needs_no_progress_thread():
    """Where the waits follow the last start at once (one bucket), no thread moves it on;
    where compute runs between them, a thread does."""
    f, _ = training_step(2**20, "numpy")
    assert not starts_of(f)[0].op.buckets.compute_after_last_start
    x = S.vector("x")
    (total,) = D.allreduce([x * 2], "sum")
    f = S.compile([x], [total, S.exp(x) ** 3], device="numpy")
    assert starts_of(f)[0].op.buckets.compute_after_last_start


def starts_of(f) -> list:
    return [n for n in f.fgraph.nodes if isinstance(n.op, AllreduceStart)]


def test_debugprint_shows_the_collectives():
    f, _ = training_step(0, "numpy")
    text = S.debugprint(f, file=None)
    assert "allreduce_sum" in text and "one_over_size" in text
    f, _ = training_step(2**20, "numpy")
    text = S.debugprint(f, file=None)
    assert "allreduce_sum_start" in text and "allreduce_sum_wait" in text


def test_graph_without_collectives_is_left_as_it_is():
    x = S.vector("x")
    f = S.compile([x], S.exp(x), device="numpy")
    assert plan_collectives(f.fgraph) is f.fgraph


def test_timeout_is_settable_and_checked(monkeypatch):
    from runtime.distributed import mpi

    monkeypatch.setattr(mpi, "_timeout", None)
    monkeypatch.setenv(mpi.TIMEOUT_VARIABLE, "7.5")
    assert D.timeout() == 7.5
    D.set_timeout(2)
    assert D.timeout() == 2.0
    with pytest.raises(ValueError, match="positive number of seconds"):
        D.set_timeout(0)
