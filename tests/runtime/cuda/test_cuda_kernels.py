"""The CUDA kernels against the NumPy oracle in each of their layouts: elementwise flat with
vector loads, unaligned, strided and broadcast; reductions by rows, by columns and split over
blocks (two passes); row functions on special values. On the GPU, or on its host emulation."""

from __future__ import annotations

import numpy as np
import pytest
from harness import assert_matches_oracle

import symbolic as S


def check(inputs, outputs, values, rtol=None):
    """The cuda function's outputs are the oracle's: within a few ulp, or within `rtol` where
    the order of a long float32 sum or product changes its rounding (the oracle's float32
    pairwise sum is itself off by up to log2(n) ulp; ours adds in float64)."""
    got = S.compile(inputs, outputs, device="cuda")(*values)
    want = S.compile(inputs, outputs, device="numpy")(*values)
    for g, w in zip(got, want):
        assert (g.dtype, g.shape) == (w.dtype, w.shape)
        if rtol is None or w.dtype.kind != "f":
            assert_matches_oracle(g, w, "cuda")
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, equal_nan=True)


def test_elementwise_layouts(gpu, rng):
    x, b, s = S.matrix("x"), S.vector("b"), S.scalar("s")
    i = S.vector("i", dtype="int8")
    X = rng.standard_normal((37, 101), dtype=np.float32)  # 3737: not a multiple of 4
    B = rng.standard_normal(101, dtype=np.float32)
    I8 = rng.integers(-100, 100, 1000).astype(np.int8)
    outputs = [
        S.tanh(x * 2) + S.exp(-x),  # flat, vector loads and a tail
        x + b,  # broadcast: strided
        (x.T * s)[::2],  # transposed, stepped, a rank-0 input
        i * 3 + (i > 0),  # int8: 16 per vector load, wrapping
        S.where(x > 0, x, s),  # a bool intermediate
    ]
    check([x, b, s, i], outputs, [X, B, np.float32(0.5), I8])


def test_elementwise_on_unaligned_device_views(gpu, rng):
    """Device inputs at an offset of one element: no vector loads, same values."""
    x = S.vector("x")
    host = rng.standard_normal(1001, dtype=np.float32)
    view = gpu.to_device(host)[1:]
    f = S.compile([x], S.exp(x) + 1, device="cuda")
    assert_matches_oracle(f(view), np.exp(host[1:]) + 1, "cuda")


REDUCTIONS = ["sum", "prod", "max", "min", "argmax", "argmin", "mean"]


@pytest.mark.parametrize(
    "shape, axis",
    [
        ((40, 300), 1),  # row layout: a block per row
        ((300, 40), 1),  # column layout: short rows, a lane per row
        ((300, 40), 0),  # column layout: strided rows (the columns of the matrix)
        ((1, 20000), 1),  # one long row split over blocks: two passes
        ((20000, 3), 0),  # three long strided rows: columns and two passes
    ],
)
def test_reductions_in_each_layout(gpu, rng, shape, axis):
    x = S.matrix("x")
    X = rng.uniform(0.9, 1.1, shape).astype(np.float32)  # products stay finite
    X.flat[7] = X.max() + 1  # a unique extreme for argmax, a tie for argmin below
    X.flat[11] = X.flat[13] = X.min() - 1
    outputs = [getattr(S, r)(x, axis=axis) for r in REDUCTIONS] + [S.logsumexp(x * 3, axis=axis)]
    check([x], outputs, [X], rtol=2e-5)


@pytest.mark.parametrize("shape, launches", [((40, 300), 1), ((1, 20000), 2), ((20000, 3), 2)])
def test_long_rows_with_few_blocks_are_split_in_two_passes(emulated, rng, shape, launches):
    x = S.matrix("x")
    S.compile([x], S.sum(x, axis=0 if shape[1] == 3 else 1), device="cuda")(
        np.ones(shape, np.float32)
    )
    assert emulated.driver.launches == launches


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the oracle's NaN arithmetic
def test_reductions_of_special_values(gpu):
    x = S.matrix("x")
    inf, nan = np.inf, np.nan
    X = np.array(
        [[1, nan, 2, nan], [-inf, -inf, -inf, -inf], [inf, 1, inf, 0], [3, 3, 1, 1]], np.float32
    )
    outputs = [S.max(x, axis=1), S.min(x, axis=1), S.argmax(x, axis=1), S.argmin(x, axis=1)]
    outputs += [S.logsumexp(x, axis=1), S.sum(x, axis=1), S.any(x > 2, axis=1)]
    check([x], outputs, [X])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("cols", [4, 300])  # the column and the row layout
def test_rows_of_special_values(gpu, rng, cols):
    x, y = S.matrix("x"), S.vector("y", dtype="int64")
    X = rng.standard_normal((6, cols), dtype=np.float32)
    X[1, :] = -np.inf
    X[2, 1] = np.inf
    X[3, 2] = np.nan
    labels = np.array([0, 1, 2, -1, cols - 1, 3])
    outputs = [S.nnet.softmax(x), S.nnet.log_softmax(x)]
    outputs.append(S.nnet.categorical_crossentropy(S.nnet.softmax(x), y))
    check([x, y], outputs, [X, labels])
