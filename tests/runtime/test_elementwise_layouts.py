"""Elementwise kernels give the NumPy oracle's values in every memory layout: contiguous,
broadcast along any axis, transposed, reversed, sliced, across tile boundaries (docs/kernels.md:
one loop over tiles of the last axis, strided arguments through tile buffers)."""

from __future__ import annotations

import numpy as np
import pytest
from harness import assert_matches_oracle

import symbolic as S


def _layouts():
    """(label, x, y): x and y broadcast together; x of shape (7, 2500), y of any broadcastable
    shape and layout. 2500 columns cross two tile boundaries."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((7, 2500)).astype(np.float32)
    other = rng.standard_normal((2500, 7)).astype(np.float32)
    return [
        ("contiguous", base, base[::-1].copy()),
        ("row broadcast", base, base[0]),  # a bias: stride 0 on the outer axis
        ("column broadcast", base, base[:, :1]),  # stride 0 on the inner axis
        ("transposed", base, other.T),
        ("reversed", base[:, ::-1], base),
        ("every other column", rng.standard_normal((7, 5000)).astype(np.float32)[:, ::2], base),
        ("scalar", base, np.float32(0.25)),
    ]


@pytest.mark.parametrize("label, xv, yv", _layouts(), ids=lambda v: v if isinstance(v, str) else "")
def test_fused_elementwise_matches_numpy_in_every_layout(device, label, xv, yv):
    x, y = S.matrix("x"), S.tensor("y", shape=(None,) * np.ndim(yv))
    outs = [S.exp(x * 0.5 - y), S.maximum(x, y) > 0]  # two outputs, one of them bool
    f = S.compile([x, y], outs, device=device)
    for got, expected in zip(f(xv, yv), S.compile([x, y], outs, device="numpy")(xv, yv)):
        assert_matches_oracle(got, expected, device)


def test_kernel_with_many_arguments_uses_shorter_tiles_and_matches_numpy(device):
    rng = np.random.default_rng(1)
    xs = [S.matrix(f"x{i}", dtype="float64") for i in range(40)]
    total = xs[0]
    for v in xs[1:]:
        total = total * 0.5 + S.sin(v)
    values = [rng.standard_normal((3, 700)).T for _ in xs]  # transposed: all buffered
    f = S.compile(xs, total, device=device)
    # the sum cancels: each step's rounding is relative to the magnitude of its terms
    magnitude = np.abs(values[0])
    for v in values[1:]:
        magnitude = magnitude * 0.5 + np.abs(np.sin(v))
    want = S.compile(xs, total, device="numpy")(*values)
    assert_matches_oracle(f(*values), want, device, scale=magnitude)


def test_fused_outputs_broadcast_at_run_time_keep_their_own_shapes(device):
    # Both outputs are (?, ?) matrices, so they fuse into one kernel; at run time x is (1, 1)
    # and y (1, 3), and exp(x) must stay (1, 1) while exp(x) + y is (1, 3).
    x, y = S.matrix("x"), S.matrix("y")
    outs = [S.exp(x), S.exp(x) + y]
    f = S.compile([x, y], outs, device=device)
    assert any(op.startswith("fused") for _, op in f.graph.nodes(data="op") if op)
    xv, yv = np.full((1, 1), 0.5, np.float32), np.arange(3, dtype=np.float32).reshape(1, 3)
    for got, expected in zip(f(xv, yv), [np.exp(xv), np.exp(xv) + yv]):
        assert got.shape == expected.shape
        assert_matches_oracle(got, expected, device)


def test_fused_outputs_whose_inputs_do_not_broadcast_together_keep_their_own_shapes(device):
    # x · exp(v) and y · exp(v) are (?, ?) matrices of one kernel; at run time v is (1, 3),
    # x (2, 3) and y (4, 3): no one shape holds all three, and each output keeps its own
    x, y, v = S.matrix("x"), S.matrix("y"), S.matrix("v")
    outs = [x * S.exp(v), y * S.exp(v)]
    f = S.compile([x, y, v], outs, device=device)
    assert any(op.startswith("fused") for _, op in f.graph.nodes(data="op") if op)
    xv, yv = np.ones((2, 3), np.float32), np.full((4, 3), 2.0, np.float32)
    vv = np.arange(3, dtype=np.float32).reshape(1, 3)
    for got, expected in zip(f(xv, yv, vv), [xv * np.exp(vv), yv * np.exp(vv)]):
        assert got.shape == expected.shape
        assert_matches_oracle(got, expected, device)
