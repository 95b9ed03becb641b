"""max_pool2d, avg_pool2d and sum_pool2d against loops over windows; gradients, ties, errors."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run

import symbolic as S


def pool_loops(x, size, stride, padding, kind, include_pad=True, ceil=False):
    """Each window's max, mean or sum, found by slicing the real (unpadded) part of each window;
    with `ceil` the partial windows at the far edges too (each starting before the end of the
    input), whose part past the padded input is never counted."""
    (kh, kw), (sh, sw), (ph, pw) = size, stride, padding
    n, c, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if ceil:
        oh, ow = (-(-(h + 2 * ph - kh) // sh) + 1, -(-(w + 2 * pw - kw) // sw) + 1)
        oh, ow = oh - ((oh - 1) * sh >= h + ph), ow - ((ow - 1) * sw >= w + pw)
    out = np.zeros((n, c, oh, ow))
    for a in range(oh):
        for b in range(ow):
            r0, c0 = a * sh - ph, b * sw - pw
            window = x[:, :, max(r0, 0) : r0 + kh, max(c0, 0) : c0 + kw]
            if kind == "max":
                out[:, :, a, b] = window.max(axis=(2, 3))
            else:
                inside = (min(r0 + kh, h + ph) - r0) * (min(c0 + kw, w + pw) - c0)
                count = inside if include_pad else window.shape[2] * window.shape[3]
                count = 1 if kind == "sum" else count
                out[:, :, a, b] = window.sum(axis=(2, 3)) / count
    return out


# (id, size, stride, padding)
WINDOWS = [
    ("tiles", (2, 2), (2, 2), (0, 0)),
    ("tiles_floor", (3, 3), (3, 3), (0, 0)),
    ("overlap", (3, 2), (1, 1), (0, 0)),
    ("stride_padding", (3, 2), (2, 1), (1, 1)),
    ("gaps_padding", (2, 3), (3, 4), (1, 2)),
]
IDS = [w[0] for w in WINDOWS]
POOLS = [
    ("max", lambda x, *a, **k: S.nnet.max_pool2d(x, *a, **k), {}),
    ("avg", lambda x, *a, **k: S.nnet.avg_pool2d(x, *a, **k), {}),
    ("avg_exclude_pad", lambda x, *a, **k: S.nnet.avg_pool2d(x, *a, count_include_pad=False, **k),
     {"include_pad": False}),
    ("sum", lambda x, *a, **k: S.nnet.sum_pool2d(x, *a, **k), {}),
]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pool", POOLS, ids=[p[0] for p in POOLS])
@pytest.mark.parametrize("window", WINDOWS, ids=IDS)
def test_pool_matches_loops(window, pool, dtype, device, rng):
    _, size, stride, padding = window
    name, fn, extra = pool
    x = S.tensor4("x", dtype)
    xv = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    out = run(fn(x, size, stride, padding), {x: xv}, device)
    want = pool_loops(xv.astype(np.float64), size, stride, padding, name[:3], **extra)
    assert out.dtype == np.dtype(dtype) and out.shape == want.shape
    tol = 1e-6 if dtype == "float32" else 1e-14  # absolute too: a sum may cancel
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


def test_pool_stride_defaults_to_size(device, rng):
    x = S.tensor4("x", "float64")
    xv = rng.standard_normal((1, 2, 6, 9))
    out = run([S.nnet.max_pool2d(x, 3), S.nnet.avg_pool2d(x, (2, 3))], {x: xv}, device)
    np.testing.assert_array_equal(out[0], pool_loops(xv, (3, 3), (3, 3), (0, 0), "max"))
    np.testing.assert_allclose(out[1], pool_loops(xv, (2, 3), (2, 3), (0, 0), "avg"))


def test_pool_static_shape_and_dtypes():
    x = S.tensor("x", "float32", (None, 20, 24, 24))
    assert S.nnet.max_pool2d(x, 2).type.shape == (None, 20, 12, 12)
    assert S.nnet.avg_pool2d(x, 3, stride=2, padding=1).type.shape == (None, 20, 12, 12)
    i = S.tensor("i", "int16", (1, 1, 4, 4))
    assert S.nnet.max_pool2d(i, 2).dtype == "int16"
    assert S.nnet.avg_pool2d(i, 2).dtype == "float32"


def test_max_pool_of_integers_pads_below_every_value(device):
    i = S.tensor4("i", "int8")
    v = np.full((1, 1, 2, 2), -128, np.int8)
    out = run(S.nnet.max_pool2d(i, 2, stride=1, padding=1), {i: v}, device)
    np.testing.assert_array_equal(out, np.full((1, 1, 3, 3), -128, np.int8))


@pytest.mark.parametrize("pool", POOLS, ids=[p[0] for p in POOLS])
@pytest.mark.parametrize("window", WINDOWS, ids=IDS)
def test_pool_gradients_match_finite_differences(window, pool, rng):
    _, size, stride, padding = window
    fn = pool[1]
    # distinct values well apart, so a step of eps never changes which value is a maximum
    xv = rng.permutation(2 * 2 * 7 * 8).reshape(2, 2, 7, 8) * 0.1
    S.verify_grad(lambda x: fn(x, size, stride, padding), [xv])


@pytest.mark.parametrize("pool", POOLS, ids=[p[0] for p in POOLS])
@pytest.mark.parametrize("window", WINDOWS[2:4], ids=IDS[2:4])
def test_pool_second_derivatives_match_finite_differences(window, pool, rng):
    _, size, stride, padding = window
    fn = pool[1]

    def grad_of_cube(x):
        g = S.grad(S.sum(fn(x, size, stride, padding) ** 3), x)
        return S.sum(g * g)

    xv = rng.permutation(2 * 7 * 8).reshape(1, 2, 7, 8) * 0.1 - 5
    S.verify_grad(grad_of_cube, [xv])


def test_max_pool_gradient_goes_to_the_first_maximum(device):
    """Ties: the first maximal position of each window in row-major order gets all of g."""
    x = S.tensor4("x", "float64")
    xv = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 2.0, 2.0]]]])
    cost = S.sum(S.nnet.max_pool2d(x, 2, stride=1) * S.constant(np.array([[1.0, 10.0]] * 2)))
    got = run(S.grad(cost, x), {x: xv}, device)
    # windows at (0,0), (0,1), (1,0), (1,1): firsts at (0,1), (0,1), (1,0), (1,2)
    want = np.array([[[[0.0, 11.0, 0.0], [1.0, 0.0, 10.0], [0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(got, want)


def test_max_pool_gradient_of_infinite_values_is_exact(device):
    x, g = S.tensor4("x", "float64"), S.tensor4("g", "float64")
    xv = np.array([[[[1.0, 2.0], [0.0, 4.0]]]])
    gv = np.array([[[[np.inf]]]])
    got = run(S.vjp(S.nnet.max_pool2d(x, 2), x, g), {x: xv, g: gv}, device)
    np.testing.assert_array_equal(got, [[[[0.0, 0.0], [0.0, np.inf]]]])


def test_max_pool_window_with_nan_pools_to_nan_and_passes_no_gradient(device):
    x = S.tensor4("x", "float64")
    xv = np.array([[[[1.0, np.nan, 5.0, 2.0]]]])
    pooled = S.nnet.max_pool2d(x, (1, 2))
    value, grad = run([pooled, S.grad(S.sum(pooled), x)], {x: xv}, device)
    np.testing.assert_array_equal(value, [[[[np.nan, 5.0]]]])
    np.testing.assert_array_equal(grad, [[[[0.0, 0.0, 1.0, 0.0]]]])


def test_pool_gradients_on_every_device_match_numpy(device, rng):
    x = S.tensor4("x", "float64")
    xv = rng.standard_normal((2, 3, 7, 8))
    cost = S.sum(S.sin(S.nnet.max_pool2d(x, 3, 2, 1))) + S.sum(S.nnet.avg_pool2d(x, 2, 1, 1) ** 2)
    cost += S.sum(S.cos(S.nnet.sum_pool2d(x, (2, 3), 2, 1)))
    want = run(S.grad(cost, x), {x: xv}, "numpy")
    np.testing.assert_allclose(run(S.grad(cost, x), {x: xv}, device), want, rtol=1e-12)


# (id, static input shape, arguments, error, words in the message)
ERRORS = [
    ("ndim", (None, 8, 8), (2,), {}, ValueError, ["must be 4-d"]),
    ("too_small", (None, 1, 2, 8), (3,), {}, ValueError, ["3×3", "(None, 1, 2, 8)"]),
    ("padding", (None, 1, 8, 8), (2,), {"padding": 2}, ValueError, ["padding (2, 2)", "(2, 2)"]),
    ("size_zero", (None, 1, 8, 8), (0,), {}, ValueError, ["size"]),
    ("stride_float", (None, 1, 8, 8), (2,), {"stride": 0.5}, TypeError, ["stride"]),
]


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d", "sum_pool2d"])
@pytest.mark.parametrize("case", ERRORS, ids=[e[0] for e in ERRORS])
def test_pool_static_errors_name_the_shapes(case, name):
    _, shape, args, kwargs, error, words = case
    x = S.tensor("x", "float32", shape)
    with pytest.raises(error) as info:
        getattr(S.nnet, name)(x, *args, **kwargs)
    assert name in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_pool_runtime_error_names_the_line(device):
    x = S.tensor4("x")
    f = S.compile([x], S.nnet.max_pool2d(x, 3), device=device)
    with pytest.raises(ValueError) as info:
        f(np.zeros((1, 1, 2, 2), np.float32))
    assert "3×3" in str(info.value) and "test_pool.py" in str(info.value)


def test_sum_pool_gradient_matches_finite_differences(rng):
    xv = rng.random((1, 2, 5, 6))
    S.verify_grad(lambda x: S.nnet.sum_pool2d(x, (2, 3), (1, 2), (1, 1)) ** 2, [xv])


CEIL_WINDOWS = [  # (id, size, stride, padding) leaving partial windows at the far edges of 7×8
    ("tiles", (2, 3), (2, 3), (0, 0)),
    ("overlap", (3, 3), (2, 3), (0, 0)),
    ("gaps", (2, 2), (3, 3), (0, 0)),
    ("padding", (3, 2), (2, 3), (1, 1)),
]


@pytest.mark.parametrize("pool", POOLS, ids=[p[0] for p in POOLS])
@pytest.mark.parametrize("window", CEIL_WINDOWS, ids=[w[0] for w in CEIL_WINDOWS])
def test_pool_ceil_mode_keeps_partial_windows(window, pool, device, rng):
    _, size, stride, padding = window
    name, fn, extra = pool
    x = S.tensor("x", "float64", (2, 3, 7, 8))
    xv = rng.standard_normal((2, 3, 7, 8))
    pooled = fn(x, size, stride, padding, ceil_mode=True)
    want = pool_loops(xv, size, stride, padding, name[:3], ceil=True, **extra)
    assert pooled.type.shape == want.shape
    np.testing.assert_allclose(run(pooled, {x: xv}, device), want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("pool", POOLS, ids=[p[0] for p in POOLS])
def test_pool_ceil_mode_gradients_match_finite_differences(pool, rng):
    _, fn, _ = pool
    xv = rng.standard_normal((1, 2, 5, 7))
    S.verify_grad(lambda x: fn(x, (2, 3), (2, 2), (1, 0), ceil_mode=True) ** 2, [xv])
