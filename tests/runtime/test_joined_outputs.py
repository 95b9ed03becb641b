"""Fused kernels writing into the concatenation of their outputs (runtime/joined_outputs.py):
when they are made, and that they compute what the unoptimized graph does, through the C
runner, the ctypes path and a loop's steps."""

import numpy as np
import pytest

import symbolic as S
from runtime import native
from runtime.joined_outputs import JoinedElemwise
from symbolic.graph import toposort


def joined_nodes(f):
    return [n for n in toposort(f.fgraph.outputs) if isinstance(n.op, JoinedElemwise)]


def reference(inputs, outputs, values):
    return S.compile(inputs, outputs, device="numpy", optimize=False)(*values)


def pieces(x, y):
    """Three elementwise values of x and y that fuse into one kernel."""
    return [S.tanh(x) * y, S.exp(-x * y), x * x + y]


def close(got, want, dtype="float64"):
    rtol = 4 * np.finfo(dtype).eps * 8  # a few vector-math calls deep
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_a_concatenation_of_one_kernels_outputs_is_written_in_place(axis, dtype, rng):
    x, y = S.tensor3("x", dtype), S.tensor3("y", dtype)
    a, b, c = pieces(x, y)
    out = S.concatenate([b, c, a], axis=axis)  # not in the kernel's own order
    f = S.compile([x, y], out, device="cpu")
    assert len(joined_nodes(f)) == 1
    values = [rng.standard_normal((2, 3, 4)).astype(dtype) for _ in range(2)]
    close(f(*values), reference([x, y], out, values), dtype)
    other = [rng.standard_normal((3, 1, 5)).astype(dtype) for _ in range(2)]  # a new plan
    close(f(*other), reference([x, y], out, other), dtype)


def test_the_kernels_other_outputs_stay_outputs(rng):
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    a, b, c = pieces(x, y)
    outs = [S.concatenate([a, b], axis=1), c * 2, c.sum()]
    f = S.compile([x, y], outs, device="cpu")
    (node,) = joined_nodes(f)
    assert node.op.rest and len(node.outputs) == 1 + len(node.op.rest)  # joined, then the rest
    values = [rng.standard_normal((3, 4)) for _ in range(2)]
    for got, want in zip(f(*values), reference([x, y], outs, values)):
        close(got, want)


@pytest.mark.parametrize(
    "make",
    [
        lambda a, b, c: [S.concatenate([a, b], axis=1), a],  # a piece is also a result
        lambda a, b, c: [S.concatenate([a, b], axis=1), a.sum()],  # and read elsewhere
        lambda a, b, c: [S.concatenate([a, a], axis=1)],  # one output twice
    ],
    ids=["returned", "read-elsewhere", "repeated"],
)
def test_pieces_read_elsewhere_are_not_joined(make, rng):
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    outs = make(*pieces(x, y))
    f = S.compile([x, y], outs, device="cpu")
    assert not joined_nodes(f)
    values = [rng.standard_normal((3, 4)) for _ in range(2)]
    for got, want in zip(f(*values), reference([x, y], outs, values)):
        close(got, want)


def test_a_kernel_joined_twice_runs_once(rng):
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    a, b, c = pieces(x, y)
    d = S.sigmoid(x) * y
    outs = [S.concatenate([a, b], axis=1), S.concatenate([c, d], axis=0)]
    f = S.compile([x, y], outs, device="cpu")
    assert len(joined_nodes(f)) == 1
    values = [rng.standard_normal((3, 4)) for _ in range(2)]
    for got, want in zip(f(*values), reference([x, y], outs, values)):
        close(got, want)


def test_broadcast_inputs_and_a_failed_call(rng):
    x, b = S.matrix("x", "float64"), S.vector("b", "float64")
    out = S.concatenate([S.tanh(x + b), S.sigmoid(x - b)], axis=0)
    f = S.compile([x, b], out, device="cpu")
    assert joined_nodes(f)
    values = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    close(f(*values), reference([x, b], out, values))
    with pytest.raises(ValueError, match="shape|broadcast"):
        f(rng.standard_normal((3, 4)), rng.standard_normal(5))


def test_the_ctypes_path_without_the_runner(monkeypatch, rng):
    monkeypatch.setattr(native, "start_runner_build", lambda: lambda: None)
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    a, b, c = pieces(x, y)
    out = S.concatenate([c, a, b], axis=1)
    f = S.compile([x, y], out, device="cpu")
    assert joined_nodes(f)
    values = [rng.standard_normal((5, 2)) for _ in range(2)]
    close(f(*values), reference([x, y], out, values))


def test_a_loops_backward_step_joins_its_gate_gradients(rng):
    # the LSTM's backward step joins the four gate gradients for the product by Whᵀ: its
    # gradients against finite differences and against the numpy device
    n = 3

    def lstm(x, wx, wh):
        def step(x_t, h, c):
            z = x_t @ wx + h @ wh
            i, f = S.sigmoid(z[:, :n]), S.sigmoid(z[:, n : 2 * n])
            g, o = S.tanh(z[:, 2 * n : 3 * n]), S.sigmoid(z[:, 3 * n :])
            c = f * c + i * g
            return o * S.tanh(c), c

        zeros = S.zeros((x.shape[1], n), "float64")
        (hs, _), _ = S.scan(step, sequences=[x], outputs_info=[zeros, zeros])
        return hs

    values = [
        rng.standard_normal((4, 2, 5)),
        rng.standard_normal((5, 4 * n)) * 0.5,
        rng.standard_normal((n, 4 * n)) * 0.5,
    ]
    x, wx, wh = (S.tensor(f"v{i}", "float64", v.shape) for i, v in enumerate(values))
    cost = (lstm(x, wx, wh) ** 2).sum()
    grads = S.grad(cost, [wx, wh])
    got = S.compile([x, wx, wh], grads, device="cpu")(*values)
    want = reference([x, wx, wh], grads, values)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
    S.verify_grad(lambda x, wx, wh: lstm(x, wx, wh), values)
