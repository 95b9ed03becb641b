"""The cpu device's window kernels (im2col, col2im, max pooling and its gradient) against the
NumPy references, with the references disabled on the cpu device so that a test fails if a
node falls back to them; gradients also against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S
from symbolic.conv import Col2im, Im2col
from symbolic.pool import MaxPool2d, MaxPool2dGrad
from symbolic.shape import shape_of

WINDOW_OPS = (Im2col, Col2im, MaxPool2d, MaxPool2dGrad)


def compile_both(inputs, outputs, monkeypatch, **kwargs):
    """(the numpy device's function, the cpu device's function, built while the window ops'
    NumPy references raise: its calls run the kernels or fail)."""
    reference = S.compile(inputs, outputs, device="numpy", **kwargs)

    def refuse(self, *arrays):
        raise AssertionError(f"{self.name} ran its NumPy reference on the cpu device")

    with monkeypatch.context() as patch:
        for op in WINDOW_OPS:
            patch.setattr(op, "perform", refuse)
        kernels = S.compile(inputs, outputs, device="cpu", **kwargs)
    return reference, kernels


# (id, input shape, filter shape, stride, padding)
CONVS = [
    ("lenet", (4, 3, 12, 12), (5, 3, 5, 5), (1, 1), (0, 0)),
    ("stride_padding", (2, 3, 9, 10), (4, 3, 3, 3), (2, 1), (1, 2)),
    ("wide_stride", (2, 2, 11, 9), (3, 2, 2, 3), (3, 2), (1, 1)),
    ("padding_past_kernel", (2, 1, 5, 6), (2, 1, 3, 2), (1, 1), (2, 3)),
]


@pytest.mark.parametrize("computed", [True, False], ids=["batch_inner", "batch_outer"])
@pytest.mark.parametrize("case", CONVS, ids=[c[0] for c in CONVS])
def test_conv2d_and_its_gradients_match_numpy(case, computed, monkeypatch, rng):
    """A computed input gives the batch-innermost columns, a graph input the other layout;
    the input gradient is col2im of the columns' gradient."""
    _, xs, ws, stride, padding = case
    x, w = S.tensor4("x", "float32"), S.tensor4("w", "float32")
    h = S.tanh(x) if computed else x
    y = S.nnet.conv2d(h, w, stride, padding)
    outputs = [y, *S.grad(S.sum(S.sin(y)), [x, w])]
    reference, kernels = compile_both([x, w], outputs, monkeypatch)
    values = [rng.standard_normal(xs).astype("float32"), rng.standard_normal(ws).astype("float32")]
    for got, want in zip(kernels(*values), reference(*values)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_filters_of_another_size_with_the_same_input_layout(monkeypatch, rng):
    """The columns' plans depend on the filters' shape, not only on the input's layout."""
    x = S.tensor4("x", "float32")
    w = S.shared(rng.standard_normal((2, 3, 3, 3)).astype("float32"), "w")
    y = S.nnet.conv2d(S.tanh(x), w)
    outputs = [y, S.grad(S.sum(y * y), x)]
    reference, kernels = compile_both([x], outputs, monkeypatch)
    xv = rng.standard_normal((2, 3, 8, 8)).astype("float32")
    for shape in [(2, 3, 3, 3), (2, 3, 5, 2), (2, 3, 3, 3)]:
        w.set_value(rng.standard_normal(shape).astype("float32"))
        for got, want in zip(kernels(xv), reference(xv)):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# (id, size, stride, padding, ceil_mode)
POOLS = [
    ("tiles", (2, 2), (2, 2), (0, 0), False),
    ("tiles_floor", (3, 3), (3, 3), (0, 0), False),
    ("overlap", (3, 2), (1, 1), (0, 0), False),
    ("stride_padding", (3, 2), (2, 1), (1, 1), False),
    ("gaps_padding", (2, 3), (3, 4), (1, 2), False),
    ("ceil", (2, 2), (2, 2), (0, 0), True),
    ("ceil_overlap_padding", (3, 3), (2, 2), (1, 1), True),
]


def special_values(xv: np.ndarray) -> np.ndarray:
    """Ties, a NaN, a plane of −∞ and +∞: the values where the first maximum matters."""
    xv[0, 0, :3, :3] = 1.5
    xv[0, 1, 2, 1] = np.nan
    xv[1, 0] = -np.inf
    xv[1, 1, 3, 4] = np.inf
    return xv


def batch_innermost(xv: np.ndarray) -> np.ndarray:
    """xv with the batch as its contiguous axis (a transposed product's output)."""
    return np.ascontiguousarray(xv.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


@pytest.mark.parametrize("layout", [np.ascontiguousarray, batch_innermost])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", POOLS, ids=[p[0] for p in POOLS])
def test_max_pool_and_its_gradient_match_numpy(case, dtype, layout, monkeypatch, rng):
    """Values and the gradient's positions exactly; sums of overlapping windows within
    rounding (the kernel adds them in another order). The kernels have a loop order for x
    stored batch-innermost."""
    _, size, stride, padding, ceil = case
    x, g = S.tensor4("x", dtype), S.tensor4("g", dtype)
    y = S.nnet.max_pool2d(x, size, stride, padding, ceil)
    gx = S.grad(S.sum(y * g), x)
    reference, kernels = compile_both([x, g], [y, gx], monkeypatch)
    xv = layout(special_values(rng.standard_normal((2, 3, 7, 8)).astype(dtype)))
    gv = rng.standard_normal(reference(xv, np.zeros((1, 1, 1, 1), dtype))[0].shape).astype(dtype)
    (y_got, gx_got), (y_want, gx_want) = kernels(xv, gv), reference(xv, gv)
    np.testing.assert_array_equal(y_got, y_want)
    np.testing.assert_allclose(gx_got, gx_want, rtol=1e-12, atol=1e-6)


def test_pool_reads_any_strides(monkeypatch, rng):
    """A sliced, a transposed and a broadcast input: the kernels take their strides."""
    x, g = S.tensor4("x", "float64"), S.tensor4("g", "float64")
    y = S.nnet.max_pool2d(x, 2)
    outputs = [y, S.grad(S.sum(y * g), x)]
    reference, kernels = compile_both([x, g], outputs, monkeypatch)
    wide = rng.standard_normal((2, 3, 6, 16))
    sliced, transposed = wide[..., ::2], wide[..., :8].transpose(0, 1, 3, 2)
    for xv in [sliced, transposed, np.broadcast_to(wide[:1], wide.shape)]:
        n, c, h, w = xv.shape
        gv = rng.standard_normal((n, c, w // 2, h // 2)).transpose(0, 1, 3, 2)
        for got, want in zip(kernels(xv, gv), reference(xv, gv)):
            np.testing.assert_array_equal(got, want)


def test_conv_pool_gradients_match_finite_differences(monkeypatch, rng):
    """A LeNet-like chain in float64 on the cpu device: S.grad against central differences of
    Σ f(x, w)·r, every entry of the input and the filters."""
    x, w = S.tensor4("x", "float64"), S.tensor4("w", "float64")
    h = S.nnet.max_pool2d(S.nnet.conv2d(S.tanh(x), w, padding=1), 2)
    r = rng.standard_normal((2, 3, 2, 2))  # 3×3 pooled by 2 with the partial windows kept
    cost = S.sum(S.nnet.max_pool2d(S.tanh(h), 2, ceil_mode=True) * r)
    _, f = compile_both([x, w], cost, monkeypatch)
    _, grads = compile_both([x, w], S.grad(cost, [x, w]), monkeypatch)
    values = [rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))]
    analytic = grads(*values)
    eps = 1e-6
    for k, point in enumerate(values):
        numeric = np.zeros(point.shape)
        for i in np.ndindex(point.shape):
            plus, minus = [v.copy() for v in values], [v.copy() for v in values]
            plus[k][i] += eps
            minus[k][i] -= eps
            numeric[i] = (f(*plus) - f(*minus)) / (2 * eps)
        np.testing.assert_allclose(analytic[k], numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", POOLS, ids=[p[0] for p in POOLS])
def test_max_pool_of_conv_plus_bias_matches_numpy(case, monkeypatch, rng):
    """The optimizer pools conv + bias with the bias added as the kernels read (no stored
    sum); a bias of 2**24 rounds neighbours to ties, which the sums decide as NumPy's do."""
    _, size, stride, padding, ceil = case
    x, w, b = S.tensor4("x", "float32"), S.tensor4("w", "float32"), S.vector("b", "float32")
    for computed in (x, S.tanh(x)):  # each column layout
        y = S.nnet.conv2d(computed, w) + b.dimshuffle("x", 0, "x", "x")
        pooled = S.nnet.max_pool2d(y, size, stride, padding, ceil)
        outputs = [pooled, *S.grad(S.sum(S.sin(pooled)), [x, w, b])]
        reference, kernels = compile_both([x, w, b], outputs, monkeypatch)
        assert "add" not in [n.op.name for n in kernels.fgraph.nodes]
        values = [
            rng.standard_normal((2, 2, 9, 10)).astype("float32"),
            rng.standard_normal((3, 2, 2, 3)).astype("float32"),
            np.array([0.5, 2.0**24, -1.0], "float32"),
        ]
        for got, want in zip(kernels(*values), reference(*values)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_max_pool_of_a_sum_that_broadcasts_x_at_run_time(rng):
    """x of static shape (?, ?, 4, 4) holding one channel and a shift of three: the sum has
    three, and the kernels' planner hands the call to the NumPy reference."""
    x, b = S.tensor4("x", "float32"), S.tensor("b", "float32", (1, None, 1, 1))
    y = S.nnet.max_pool2d(x + b, 2)
    outputs = [y, *S.grad(S.sum(y * y), [x, b])]
    values = [rng.standard_normal((2, 1, 4, 4)).astype("float32"), np.ones((1, 3, 1, 1), "float32")]
    want = S.compile([x, b], outputs, device="numpy", optimize=False)(*values)
    for got, expected in zip(S.compile([x, b], outputs, device="cpu")(*values), want):
        np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("shift_shape", [(2, 3, 1, 1), (1, 3, 1, 1), (1, 1, 1, 1)])
def test_shifted_pool_kernels_read_the_shift_per_plane(shift_shape, monkeypatch, rng):
    x, b = S.tensor4("x", "float64"), S.tensor("b", "float64", (None, None, 1, 1))
    op = MaxPool2d((3, 2), (2, 2), (1, 0))
    y = op(x, b)
    outputs = [y, *S.grad(S.sum(S.sin(y)), [x, b])]
    reference, kernels = compile_both([x, b], outputs, monkeypatch)
    xv = rng.standard_normal((2, 3, 7, 6))
    for values in ([xv, rng.standard_normal(shift_shape)], [batch_innermost(xv), xv[:, :, :1, :1]]):
        for got, want in zip(kernels(*values), reference(*values)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_col2im_of_columns_in_another_layout(monkeypatch, rng):
    """col2im of transposed columns reads a contiguous copy of them."""
    cols, x = S.tensor4("cols", "float32"), S.tensor4("x", "float32")
    filters = S.constant(np.array([4, 3, 3, 2]))  # (K, OH, OW, N) = (18, 4, 5, 2) below
    out = Col2im((1, 1), (0, 0), True)(cols.dimshuffle(3, 1, 2, 0), shape_of(x), filters)
    reference, kernels = compile_both([cols, x], out, monkeypatch)
    values = [
        rng.standard_normal((2, 4, 5, 18)).astype("float32"),
        np.zeros((2, 3, 6, 6), "float32"),
    ]
    np.testing.assert_array_equal(kernels(*values), reference(*values))


def test_lenet_step_passes_check_mode(rng):
    """check=True runs the schedule from Python (the kernels' ctypes path) and compares every
    node with its NumPy reference: the window kernels, shifted pools included."""
    x, w, b = S.tensor4("x", "float32"), S.tensor4("w", "float32"), S.vector("b", "float32")
    bias = b.dimshuffle("x", 0, "x", "x")
    h = S.nnet.max_pool2d(S.nnet.conv2d(S.tanh(x), w) + bias, 2)  # (4, 5, 3, 3)
    h = S.nnet.max_pool2d(S.nnet.conv2d(x, w) + bias, 3, 2, 1) + h  # overlapping, padded
    outputs = [h, *S.grad(S.sum(S.sin(h)), [x, w, b])]
    f = S.compile([x, w, b], outputs, device="cpu", check=True)
    kinds = {k.description.kind for k in f.kernels}
    assert {"columns", "pool"} <= kinds
    values = [rng.standard_normal(s).astype("float32") for s in [(4, 3, 8, 8), (5, 3, 3, 3), (5,)]]
    want = S.compile([x, w, b], outputs, device="numpy", optimize=False)(*values)
    for got, expected in zip(f(*values), want):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
