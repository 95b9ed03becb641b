"""The cpu device's direct convolution kernels (conv2d_direct, conv2d_filter_grad) against
their NumPy references, with the references disabled on the cpu device so that a test fails
if a node falls back to them; gradients also against central finite differences; the loops
that run where the scratch cannot be allocated; and conv2d's choice between the two forms."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import symbolic as S
from runtime.build import build_library
from runtime.windows_plan import direct_space
from symbolic.codegen.c import C
from symbolic.codegen.kernel import DirectConvKernel
from symbolic.conv_direct import DIRECT_MAX_CHANNELS, DirectConv2d, DirectConv2dFilterGrad

DIRECT_OPS = (DirectConv2d, DirectConv2dFilterGrad)

# (id, input shape, filter shape, stride, padding): channels 1, 3 and 5, batch 1 and odd
# sizes, windows wider than a vector row, filters that fill no whole block
CASES = [
    ("lenet_first", (3, 1, 28, 28), (20, 1, 5, 5), (1, 1), (0, 0)),
    ("rgb", (2, 3, 13, 11), (9, 3, 5, 5), (1, 1), (0, 0)),
    ("five_channels_batch_one", (1, 5, 9, 7), (3, 5, 3, 2), (1, 1), (1, 2)),
    ("strides_padding", (3, 3, 10, 21), (4, 3, 3, 3), (2, 3), (1, 1)),
    ("padding_past_kernel", (2, 1, 5, 6), (2, 1, 3, 2), (1, 1), (2, 3)),
    ("wide_rows", (2, 2, 5, 40), (17, 2, 2, 9), (1, 1), (0, 4)),
]
IDS = [c[0] for c in CASES]


def refused(monkeypatch):
    """A context in which the direct ops' NumPy references raise."""

    def refuse(self, *arrays):
        raise AssertionError(f"{self.name} ran its NumPy reference on the cpu device")

    patch = monkeypatch.context()
    context = patch.__enter__()
    for op in DIRECT_OPS:
        context.setattr(op, "perform", refuse)
    return patch


def compile_both(inputs, outputs, monkeypatch):
    """(the numpy device's function, the cpu device's function whose direct nodes cannot run
    their NumPy references)."""
    reference = S.compile(inputs, outputs, device="numpy")
    patch = refused(monkeypatch)
    try:
        kernels = S.compile(inputs, outputs, device="cpu")
    finally:
        patch.__exit__(None, None, None)
    return reference, kernels


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_direct_conv2d_and_its_gradients_match_numpy(case, dtype, monkeypatch, rng):
    _, xs, ws, stride, padding = case
    x, w = S.tensor4("x", dtype), S.tensor4("w", dtype)
    y = DirectConv2d(stride, padding)(x, w)  # any channel count, chosen by conv2d or not
    outputs = [y, *S.grad(S.sum(S.sin(y)), [x, w])]
    reference, kernels = compile_both([x, w], outputs, monkeypatch)
    values = [rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)]
    # float32 sums of up to N·OH·OW products, in another order than NumPy's
    tol = 1e-5 if dtype == "float32" else 1e-12
    for got, want in zip(kernels(*values), reference(*values)):
        assert got.dtype == np.dtype(dtype) and got.shape == want.shape
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


def test_direct_kernels_read_any_strides(monkeypatch, rng):
    """Inputs that are views (a transposed batch, every other column of g)."""
    x, g = S.tensor4("x", "float32"), S.tensor4("g", "float32")
    w = S.tensor4("w", "float32")
    op = DirectConv2d((1, 2), (1, 0))
    outputs = [op(x, w), DirectConv2dFilterGrad((1, 2), (1, 0))(x, g[:, :, :, ::2], w)]
    reference, kernels = compile_both([x, w, g], outputs, monkeypatch)
    xv = rng.standard_normal((7, 3, 6, 5)).astype("float32").transpose(2, 1, 0, 3)
    wv = rng.standard_normal((4, 3, 3, 2)).astype("float32")
    gv = rng.standard_normal((6, 4, 7, 4)).astype("float32")  # output (6, 4, 7, 2)
    for got, want in zip(kernels(xv, wv, gv), reference(xv, wv, gv)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def central_differences(f, values, k, eps=1e-6):
    numeric = np.zeros(values[k].shape)
    for i in np.ndindex(values[k].shape):
        plus, minus = [v.copy() for v in values], [v.copy() for v in values]
        plus[k][i] += eps
        minus[k][i] -= eps
        numeric[i] = (f(*plus) - f(*minus)) / (2 * eps)
    return numeric


@pytest.mark.parametrize("case", [CASES[2], CASES[3]], ids=[IDS[2], IDS[3]])
def test_direct_gradients_match_finite_differences(case, monkeypatch, rng):
    """float64 on the cpu device: S.grad of Σ sin(conv2d(x, w))·r against central
    differences, every entry of the input and the filters; then the second derivatives
    (the filters' gradient differentiated, both its inputs)."""
    _, xs, ws, stride, padding = case
    x, w = S.tensor4("x", "float64"), S.tensor4("w", "float64")
    y = DirectConv2d(stride, padding)(x, w)
    r = rng.standard_normal(DirectConv2d(stride, padding).perform(np.zeros(xs), np.zeros(ws)).shape)
    cost = S.sum(S.sin(y) * r)
    gx, gw = S.grad(cost, [x, w])
    second = S.sum(gw * S.cos(gw)) + S.sum(gx * gx)
    values = [rng.standard_normal(xs), rng.standard_normal(ws)]
    for f_cost, grads in ((cost, [gx, gw]), (second, S.grad(second, [x, w]))):
        _, f = compile_both([x, w], f_cost, monkeypatch)
        _, g = compile_both([x, w], grads, monkeypatch)
        analytic = g(*values)
        for k in range(2):
            numeric = central_differences(f, values, k)
            np.testing.assert_allclose(analytic[k], numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("function", ["conv2d_direct", "conv2d_filter_grad"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loops_without_scratch_match_numpy(function, dtype, rng):
    """Where the scratch cannot be allocated the kernels run their plain loops: built here
    with allocators that always fail, called with the plan the cpu device would make."""
    stride, padding = (2, 1), (1, 2)
    kernel = DirectConvKernel(function, dtype, stride, padding)
    failing = "#define malloc(size) ((void *)0)\n#define aligned_alloc(a, size) ((void *)0)\n"
    source = C.render_prelude() + failing + C.render(kernel, "k")
    fn = build_library(source).k
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 2)).astype(dtype)
    forward = DirectConv2d(stride, padding)
    if function == "conv2d_direct":
        op, arrays = forward, [x, w]
    else:
        g = rng.standard_normal(forward.perform(x, w).shape).astype(dtype)
        op, arrays = DirectConv2dFilterGrad(stride, padding), [x, g, w]
    space = direct_space(op, arrays)
    out = np.full(space.out_shapes[0], np.nan, dtype)
    sizes = (ctypes.c_int64 * len(space.sizes))(*space.sizes)
    strides = (ctypes.c_int64 * len(space.strides))(*space.strides)
    data = (ctypes.c_void_p * (len(arrays) + 1))(*[a.ctypes.data for a in [*arrays, out]])
    fn.restype, fn.argtypes = None, [ctypes.c_void_p] * 3
    fn(sizes, strides, data)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, op.perform(*arrays), rtol=tol, atol=tol)


def test_conv2d_chooses_direct_for_data_with_few_channels():
    """Direct for a graph input whose channels (from x, the filters, or shared filters'
    value) number at most DIRECT_MAX_CHANNELS; im2col for more, for unknown channels, for a
    computed input and for mixed dtypes."""

    def ops(y):
        return {n.op.name for n in S.graph.toposort([y])} & {"conv2d_direct", "im2col"}

    few, many = DIRECT_MAX_CHANNELS, DIRECT_MAX_CHANNELS + 1
    w4 = S.tensor4("w", "float32")
    assert ops(S.nnet.conv2d(S.tensor("x", "float32", (None, few, 8, 8)), w4)) == {"conv2d_direct"}
    assert ops(S.nnet.conv2d(S.tensor4("x"), S.tensor("w", "float32", (2, 1, 3, 3)))) == {
        "conv2d_direct"
    }
    shared = S.shared(np.zeros((2, few, 3, 3), np.float32), "w")
    assert ops(S.nnet.conv2d(S.tensor4("x"), shared)) == {"conv2d_direct"}
    assert ops(S.nnet.conv2d(S.tensor("x", "float32", (None, many, 8, 8)), w4)) == {"im2col"}
    assert ops(S.nnet.conv2d(S.tensor4("x"), w4)) == {"im2col"}
    computed = S.tanh(S.tensor("x", "float32", (None, 1, 8, 8)))
    assert ops(S.nnet.conv2d(computed, w4)) == {"im2col"}
    mixed = S.tensor("x", "float64", (None, 1, 8, 8))
    assert ops(S.nnet.conv2d(mixed, w4)) == {"im2col"}


def test_filter_grad_rejects_a_gradient_of_another_shape():
    x, w = np.zeros((2, 1, 6, 6)), np.zeros((3, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d_filter_grad.*\(2, 3, 5, 4\)"):
        DirectConv2dFilterGrad((1, 1), (0, 0)).perform(x, np.zeros((2, 3, 5, 4)), w)
