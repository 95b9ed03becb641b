"""S.nnet.conv2d against a naive loop, its gradients against finite differences, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run

import symbolic as S


def conv_loops(x, w, stride, padding):
    """The cross-correlation written as loops over output positions, in float64."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for a in range(oh):
        for b in range(ow):
            patch = xp[:, :, a * sh : a * sh + kh, b * sw : b * sw + kw]
            for k in range(o):
                out[:, k, a, b] = (patch * w[k]).sum(axis=(1, 2, 3))
    return out


# (id, input shape, filter shape, stride, padding)
CASES = [
    ("plain", (2, 3, 7, 8), (4, 3, 3, 2), (1, 1), (0, 0)),
    ("stride", (2, 3, 7, 8), (4, 3, 3, 2), (2, 3), (0, 0)),
    ("padding", (2, 3, 7, 8), (4, 3, 3, 2), (1, 1), (2, 1)),
    ("stride_padding_floor", (2, 2, 9, 6), (3, 2, 4, 3), (3, 2), (1, 2)),
    ("one_by_one", (3, 5, 4, 4), (2, 5, 1, 1), (1, 1), (0, 0)),
    ("whole_image", (2, 1, 5, 5), (6, 1, 5, 5), (1, 1), (0, 0)),
    ("gaps", (1, 2, 8, 8), (2, 2, 2, 2), (3, 3), (0, 0)),
]
IDS = [c[0] for c in CASES]

# conv2d keeps the columns batch outermost when its input is a graph input (data) and batch
# innermost when the input is computed: both layouts run every test.
LAYOUTS = {"data": lambda x: x, "computed": lambda x: x * 1}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_matches_loops(case, dtype, layout, device, rng):
    _, xs, ws, stride, padding = case
    x, w = S.tensor4("x", dtype), S.tensor4("w", dtype)
    xv, wv = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    out = run(S.nnet.conv2d(LAYOUTS[layout](x), w, stride, padding), {x: xv, w: wv}, device)
    want = conv_loops(xv.astype(np.float64), wv.astype(np.float64), stride, padding)
    assert out.dtype == np.dtype(dtype) and out.shape == want.shape
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


def test_conv2d_int_stride_and_padding_mean_both_axes(device, rng):
    x, w = S.tensor4("x", "float64"), S.tensor4("w", "float64")
    xv, wv = rng.standard_normal((1, 2, 6, 7)), rng.standard_normal((3, 2, 3, 3))
    out = run(S.nnet.conv2d(x, w, stride=2, padding=1), {x: xv, w: wv}, device)
    np.testing.assert_allclose(out, conv_loops(xv, wv, (2, 2), (1, 1)), rtol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv2d_static_shape(layout):
    x = LAYOUTS[layout](S.tensor("x", "float32", (None, 3, 28, 28)))
    w = S.tensor("w", "float32", (20, 3, 5, 5))
    assert S.nnet.conv2d(x, w).type.shape == (None, 20, 24, 24)
    assert S.nnet.conv2d(x, w, stride=2, padding=(1, 2)).type.shape == (None, 20, 13, 14)


def test_conv2d_picks_the_layout_from_its_input():
    x, w = S.tensor4("x"), S.tensor4("w")
    for layout, batch_inner in (("data", False), ("computed", True)):
        cols = S.nnet.conv2d(LAYOUTS[layout](x), w)
        im2col = [n for n in S.graph.toposort([cols]) if n.op.name == "im2col"]
        assert [n.op.batch_inner for n in im2col] == [batch_inner]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_gradients_match_finite_differences(case, layout, rng):
    _, xs, ws, stride, padding = case
    S.verify_grad(
        lambda x, w: S.nnet.conv2d(LAYOUTS[layout](x), w, stride, padding),
        [rng.standard_normal(xs), rng.standard_normal(ws)],
    )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES[1:4], ids=IDS[1:4])
def test_conv2d_second_derivatives_match_finite_differences(case, layout, rng):
    """The gradients are graphs of im2col, col2im and dot, which differentiate again."""
    _, xs, ws, stride, padding = case

    def grad_of_square(x, w):
        y = S.nnet.conv2d(LAYOUTS[layout](x), w, stride, padding)
        gx, gw = S.grad(S.sum(y**2), [x, w])
        return S.sum(gx * gx) + S.sum(gw * S.sin(gw))

    S.verify_grad(grad_of_square, [rng.standard_normal(xs), rng.standard_normal(ws)])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv2d_gradients_on_every_device_match_numpy(layout, device, rng):
    x, w = S.tensor4("x", "float64"), S.tensor4("w", "float64")
    cost = S.sum(S.tanh(S.nnet.conv2d(LAYOUTS[layout](x), w, (2, 1), (1, 1))))
    grads = S.grad(cost, [x, w])
    values = {x: rng.standard_normal((2, 3, 7, 6)), w: rng.standard_normal((4, 3, 3, 3))}
    want = run(grads, values, "numpy")
    for got, expected in zip(run(grads, values, device), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batch_inner", [True, False])
def test_im2col_and_col2im_are_adjoint(batch_inner, rng):
    """<im2col(x), c> = <x, col2im(c)>: the identity the input gradient rests on."""
    from symbolic.conv import Col2im, Im2col

    x, c = S.tensor4("x", "float64"), S.tensor4("c", "float64")
    shape = S.constant(np.array([4, 3, 3, 2]))
    im2col = Im2col((2, 1), (1, 1), batch_inner)
    col2im = Col2im((2, 1), (1, 1), batch_inner)
    xv = rng.standard_normal((2, 3, 7, 6))
    cols = run(im2col(x, shape), {x: xv}, "numpy")
    cv = rng.standard_normal(cols.shape)
    back = run(col2im(c, S.constant(np.array(xv.shape)), shape), {c: cv}, "numpy")
    np.testing.assert_allclose(np.sum(cols * cv), np.sum(xv * back), rtol=1e-12)


# (id, input static shape, filter static shape, kwargs, error, words in the message)
STATIC_ERRORS = [
    ("channels", (None, 3, 28, 28), (20, 1, 5, 5), {}, ValueError, ["3 channels", "take 1"]),
    ("too_small", (None, 1, 4, 28), (20, 1, 5, 5), {}, ValueError, ["5×5", "(None, 1, 4, 28)"]),
    ("input_ndim", (None, 28, 28), (20, 1, 5, 5), {}, ValueError, ["input must be 4-d"]),
    ("filters_ndim", (None, 1, 28, 28), (20, 5, 5), {}, ValueError, ["filters must be 4-d"]),
    ("stride_zero", (None, 1, 28, 28), (2, 1, 5, 5), {"stride": 0}, ValueError, ["stride"]),
    ("stride_float", (None, 1, 28, 28), (2, 1, 5, 5), {"stride": 1.5}, TypeError, ["stride"]),
    ("padding_neg", (None, 1, 28, 28), (2, 1, 5, 5), {"padding": -1}, ValueError, ["padding"]),
    ("stride_triple", (None, 1, 28, 28), (2, 1, 5, 5), {"stride": (1, 1, 1)}, TypeError, []),
]


@pytest.mark.parametrize("case", STATIC_ERRORS, ids=[c[0] for c in STATIC_ERRORS])
def test_conv2d_static_errors_name_the_shapes(case):
    _, xs, ws, kwargs, error, words = case
    x, w = S.tensor("x", "float32", xs), S.tensor("w", "float32", ws)
    with pytest.raises(error) as info:
        S.nnet.conv2d(x, w, **kwargs)
    assert "conv2d" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_conv2d_runtime_channel_mismatch_names_the_line(device):
    x = S.tensor4("x")
    w = S.shared(np.zeros((2, 3, 3, 3), np.float32), "w")
    f = S.compile([x], S.nnet.conv2d(x, w), device=device)  # the line the error names
    with pytest.raises(ValueError) as info:
        f(np.zeros((1, 2, 5, 5), np.float32))
    message = str(info.value)
    # three input channels in the filters: the direct convolution (conv_direct.py) runs
    assert "conv2d_direct" in message and "2 channels" in message and "(2, 3, 3, 3)" in message
    assert "test_conv.py" in message


def true_convolution(x, w):
    """Σ_ij x[a − i, b − j] w[i, j] over every overlap ("full"), written directly, float64."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h + kh - 1, wd + kw - 1))
    for i in range(kh):
        for j in range(kw):
            out[:, :, i : i + h, j : j + wd] += np.einsum("nchw,oc->nohw", x, w[:, :, i, j])
    return out


@pytest.mark.parametrize("padding", ["valid", "full", "half"])
def test_conv2d_named_paddings_and_flip_match_true_convolution(padding, device, rng):
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    full = true_convolution(x, w)
    trim = {"valid": 2, "full": 0, "half": 1}[padding]  # rows/columns cut from each side
    want = full[:, :, trim : full.shape[2] - trim, trim : full.shape[3] - trim]
    xs, ws = S.tensor4("x", "float64"), S.shared(w)  # shared filters: kh, kw from the value
    got = run(S.nnet.conv2d(xs, ws, padding=padding, flip=True), {xs: x}, device)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_conv2d_flip_false_is_the_cross_correlation(rng):
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 2, 3))
    xs, ws = S.tensor4("x", "float64"), S.tensor4("w", "float64")
    flipped = S.compile([xs, ws], S.nnet.conv2d(xs, ws, flip=True), device="numpy")
    plain = S.compile([xs, ws], S.nnet.conv2d(xs, ws), device="numpy")
    np.testing.assert_allclose(flipped(x, w), plain(x, w[:, :, ::-1, ::-1]), rtol=1e-12)


def test_conv2d_named_padding_gradient_matches_finite_differences(rng):
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 3, 2))
    S.verify_grad(
        lambda a, b: S.nnet.conv2d(a, b, padding="full", flip=True, filter_shape=w.shape), [x, w]
    )


def test_conv2d_named_padding_needs_the_kernel_size():
    x, w = S.tensor4("x"), S.tensor4("w")
    with pytest.raises(ValueError, match="filter_shape"):
        S.nnet.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="padding must be"):
        S.nnet.conv2d(x, w, padding="wide", filter_shape=(1, 1, 3, 3))
