"""Every collective's values and gradients on every rank against NumPy computed from all
ranks' inputs (each rank can make every rank's data: it is seeded by the rank), plus finite
differences of the global cost. Run under mpiexec -n K; prints "collectives ok" on rank 0.

usage: collectives.py DEVICE
"""

import sys

import numpy as np

import symbolic as S
import symbolic.distributed as D
from runtime.distributed.buckets import IN_PLACE_BYTES
from symbolic.distributed.ops import ReduceScatter

device = sys.argv[1]
me, n = D.rank(), D.size()
assert D.local_rank() == me  # one machine: every rank is local


def data(r: int, shape, salt: int = 0) -> np.ndarray:
    return np.random.default_rng(100 * r + salt).standard_normal(shape)


def total(value: float) -> float:
    """The sum over ranks of a number (a blocking all-reduce)."""
    s = S.scalar("s", "float64")
    return float(S.compile([s], D.allreduce(s, "sum", bucket_bytes=0), device=device)(value))


def lowest_holder(values: list, extreme) -> np.ndarray:
    """Per element, the lowest rank whose value is the extreme one."""
    stacked = np.stack(values)
    return np.argmax(stacked == extreme(stacked, axis=0), axis=0)


# (name, build(x), this rank's input, the expected output, the expected gradient of
#  Σ output·w_r summed over ranks, given every rank's w)
shape = (3, 4)
xs = [data(r, shape) for r in range(n)]
lengths = [r + 1 for r in range(n)]  # allgather: uneven lengths on axis 0
rows = [data(r, (lengths[r], 2)) for r in range(n)]
offset = sum(lengths[:me])
CASES = [
    ("sum", lambda x: D.allreduce(x, "sum"), xs[me], sum(xs), lambda ws: sum(ws)),
    ("mean", lambda x: D.allreduce(x, "mean"), xs[me], sum(xs) / n, lambda ws: sum(ws) / n),
    (
        "max",
        lambda x: D.allreduce(x, "max"),
        xs[me],
        np.max(xs, axis=0),
        lambda ws: np.where(lowest_holder(xs, np.max) == me, sum(ws), 0),
    ),
    (
        "min",
        lambda x: D.allreduce(x, "min", bucket_bytes=0),
        xs[me],
        np.min(xs, axis=0),
        lambda ws: np.where(lowest_holder(xs, np.min) == me, sum(ws), 0),
    ),
    (
        "allgather",
        lambda x: D.allgather(x, axis=0),
        rows[me],
        np.concatenate(rows),
        lambda ws: sum(ws)[offset : offset + lengths[me]],
    ),
    (
        "allgather axis 1",
        lambda x: D.allgather(x, axis=1),
        xs[me],
        np.concatenate(xs, axis=1),
        lambda ws: sum(ws)[:, 4 * me : 4 * me + 4],
    ),
    (
        f"broadcast from {n - 1}",
        lambda x: D.broadcast(x, root=n - 1),
        xs[me],
        xs[n - 1],
        lambda ws: sum(ws) if me == n - 1 else 0 * ws[0],
    ),
]

for name, build, value, expected, expected_grad in CASES:
    x = S.tensor("x", "float64", (None, None))
    out = build(x)
    weights = [data(r, expected.shape, salt=1) for r in range(n)]
    cost = (out * weights[me]).sum()
    f = S.compile([x], [out, S.grad(cost, x)], device=device)
    result, gradient = f(value)
    np.testing.assert_allclose(result, expected, rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(gradient, expected_grad(weights), rtol=1e-12, err_msg=name)
    # finite differences of the global cost Σ_r cost_r along a random direction per rank
    direction = data(me, value.shape, salt=2)
    global_cost = S.compile([x], cost, device=device)
    eps = 1e-6
    numeric = (
        total(global_cost(value + eps * direction)) - total(global_cost(value - eps * direction))
    ) / (2 * eps)
    analytic = total(float((gradient * direction).sum()))
    np.testing.assert_allclose(numeric, analytic, rtol=1e-6, err_msg=f"{name}: finite differences")

# a list is one op; its buckets (bucket_bytes=64: several) give what the blocking op gives
a, b = S.tensor("a", "float64", (None, None)), S.vector("b", "float64")
for reduce in ("sum", "mean", "max", "min"):
    outs = [
        S.compile([a, b], D.allreduce([a, b, a * 2], reduce, bucket_bytes=size), device=device)(
            xs[me], xs[me][0]
        )
        for size in (0, 64, 2**20)
    ]
    for got in outs[1:]:
        for g, want in zip(got, outs[0]):
            np.testing.assert_allclose(g, want, rtol=1e-12, err_msg=f"bucketed {reduce}")

# tensors of IN_PLACE_BYTES or more that only their all-reduce reads are reduced in their own
# memory (tanh(big), the gradient); one another output reads too (doubled) and an input (big)
# are not: every way gives the blocking op's values, and the updates see the reduced gradient
big = S.tensor("big", "float64", (None, None))
value = data(me, (256, 160))
assert value.nbytes >= IN_PLACE_BYTES
doubled = big * 2
for reduce in ("sum", "mean"):
    outs = []
    for size in (0, 64, 2**20):
        W = S.shared(data(0, (256, 160), salt=3), name="W")
        grad = D.allreduce(S.grad((S.tanh(W * big) ** 2).sum(), W), reduce, bucket_bytes=size)
        reduced = D.allreduce([S.tanh(big), doubled, big], reduce, bucket_bytes=size)
        step = S.compile([big], [*reduced, doubled], updates=[(W, W - 0.1 * grad)], device=device)
        outs.append([*step(value), *step(value), W.get_value()])
    np.testing.assert_array_equal(outs[0][3], 2 * value)
    for got in outs[1:]:
        for g, want in zip(got, outs[0]):
            np.testing.assert_allclose(g, want, rtol=1e-12, err_msg=f"in place {reduce}")

# round trips: this rank's part of a gather is its input; a reduce-scatter of a gather is n·x
x = S.tensor("x", "float64", (None, None))
gathered = D.allgather(x, axis=1)
back = ReduceScatter(1)(gathered, x.shape[1])
part, again = S.compile([x], [gathered[:, 4 * me : 4 * me + 4], back], device=device)(xs[me])
np.testing.assert_array_equal(part, xs[me])
np.testing.assert_allclose(again, n * xs[me], rtol=1e-12)
root_value = S.compile([x], D.broadcast(D.broadcast(x, 0), n - 1), device=device)(xs[me])
np.testing.assert_array_equal(root_value, xs[0])

# shared variables take the root's values, whatever shape they held
W = S.shared(data(me, (me + 1, 2)), name="W")
D.broadcast_shared([W], root=0)
np.testing.assert_array_equal(W.get_value(), data(0, (1, 2)))
# the profile splits compute from communication; the trace holds every rank's nodes and buckets
x = S.tensor("x", "float64", (None, None))
grads = D.allreduce(S.grad((S.tanh(x) ** 2).sum(), [x]), "mean", bucket_bytes=64)
f = S.compile([x], grads, device=device, profile=True)
f(xs[me])
assert "hidden by overlap" in str(f.profile) and f.profile.communication_seconds > 0
trace_path = sys.argv[2] if len(sys.argv) > 2 else None
if trace_path:
    f.profile.trace(trace_path)
D.barrier()
if me == 0:
    if trace_path:
        import json

        events = json.load(open(trace_path))["traceEvents"]
        assert {e["pid"] for e in events} == set(range(n))
        assert any(e["name"].startswith("bucket 0: allreduce sum") for e in events)
        assert any(e["name"] == "tanh" or e["name"].startswith("fused") for e in events)
    print("collectives ok", flush=True)
