"""S.nnet activations, softmax family and cross-entropies against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run

import symbolic as S


def softmax_ref(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_ref(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


LABELS = np.array([2, 0, 1])
TARGETS = np.array([[0.2, 0.9, 0.5, 0.0], [1.0, 0.3, 0.7, 0.1], [0.5, 0.5, 0.0, 1.0]])

# (id, symbolic fn of x (3, 4), NumPy reference of the float64 value)
# fmt: off
FUNCTIONS = [
    ("relu", S.nnet.relu, lambda x: np.maximum(x, 0)),
    ("sigmoid", S.nnet.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    ("softplus", S.nnet.softplus, lambda x: np.logaddexp(0, x)),
    ("softmax", S.nnet.softmax, softmax_ref),
    ("softmax_axis0", lambda x: S.nnet.softmax(x, axis=0), lambda x: softmax_ref(x, 0)),
    ("softmax_axis1", lambda x: S.nnet.softmax(x, 1), lambda x: softmax_ref(x, 1)),
    ("log_softmax", S.nnet.log_softmax, log_softmax_ref),
    ("log_softmax_axis0", lambda x: S.nnet.log_softmax(x, axis=0),
     lambda x: log_softmax_ref(x, 0)),
    ("cce_labels", lambda x: S.nnet.categorical_crossentropy(S.nnet.softmax(x), LABELS),
     lambda x: -np.log(softmax_ref(x)[np.arange(3), LABELS])),
    ("cce_onehot", lambda x: S.nnet.categorical_crossentropy(
        S.nnet.softmax(x), np.eye(4)[LABELS].astype(np.float32)),
     lambda x: -np.log(softmax_ref(x)[np.arange(3), LABELS])),
    ("bce", lambda x: S.nnet.binary_crossentropy(S.nnet.sigmoid(x), S.cast(TARGETS, x.dtype)),
     lambda x: -(TARGETS * np.log(1 / (1 + np.exp(-x)))
                 + (1 - TARGETS) * np.log(1 - 1 / (1 + np.exp(-x))))),
]
# fmt: on


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn,ref", [f[1:] for f in FUNCTIONS], ids=[f[0] for f in FUNCTIONS])
def test_nnet_matches_numpy(fn, ref, dtype, device, rng):
    x = S.matrix("x", dtype)
    v = rng.uniform(-4, 4, (3, 4)).astype(dtype)
    out = run(fn(x), {x: v}, device)
    expected = ref(v.astype(np.float64))
    assert out.dtype == np.dtype(dtype)
    assert out.shape == expected.shape
    tol = 2e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


def test_softmax_rows_sum_to_one(device, rng):
    x = S.tensor3("x", "float64")
    out = run(S.nnet.softmax(x), {x: rng.standard_normal((2, 3, 5))}, device)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(out > 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_of_large_logits_is_finite(dtype, device):
    x = S.matrix("x", dtype)
    v = np.array([[1000.0, 1001.0, 999.0], [-1000.0, 0.0, 1000.0]], dtype)
    soft, logsoft = run([S.nnet.softmax(x), S.nnet.log_softmax(x)], {x: v}, device)
    assert np.all(np.isfinite(soft)) and np.all(np.isfinite(logsoft))
    np.testing.assert_allclose(soft, softmax_ref(v.astype(np.float64)), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(logsoft, log_softmax_ref(v.astype(np.float64)), rtol=1e-5)


def test_crossentropy_labels_as_input(device, rng):
    x, y = S.matrix("x", "float64"), S.vector("y", "int64")
    v = rng.standard_normal((3, 4))
    p = S.nnet.softmax(x)
    by_label = S.nnet.categorical_crossentropy(p, y)
    by_onehot = S.nnet.categorical_crossentropy(p, S.one_hot(y, 4).astype("float64"))
    a, b = run([by_label, by_onehot], {x: v, y: LABELS}, device)
    expected = -np.log(softmax_ref(v)[np.arange(3), LABELS])
    np.testing.assert_allclose(a, expected, rtol=1e-12)
    np.testing.assert_allclose(b, expected, rtol=1e-12)


def test_binary_crossentropy_of_probabilities(device, rng):
    p, t = S.matrix("p", "float64"), S.matrix("t", "float64")
    vp = rng.uniform(0.05, 0.95, (3, 4))
    out = run(S.nnet.binary_crossentropy(p, t), {p: vp, t: TARGETS}, device)
    ref = -(TARGETS * np.log(vp) + (1 - TARGETS) * np.log(1 - vp))
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_relu_int_keeps_dtype(device):
    x = S.vector("x", "int32")
    out = run(S.nnet.relu(x), {x: np.array([-2, 0, 3], np.int32)}, device)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [0, 0, 3])


def test_sigmoid_softplus_extremes_finite(device):
    x = S.vector("x", "float32")
    v = np.array([-100.0, -30.0, 0.0, 30.0, 100.0], np.float32)
    sig, sp = run([S.nnet.sigmoid(x), S.nnet.softplus(x)], {x: v}, device)
    assert np.all(np.isfinite(sig)) and np.all(np.isfinite(sp))
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-v.astype(np.float64))), rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(sp, np.logaddexp(0, v.astype(np.float64)), rtol=1e-5, atol=1e-30)


# ---- dropout ----------------------------------------------------------------------------


def test_dropout_zeroes_with_probability_p_and_scales_the_rest(device):
    x = S.matrix("x")
    f = S.compile([x], S.nnet.dropout(x, 0.25, S.RandomStream(4)), device=device)
    v = np.full((400, 500), 3.0, np.float32)
    out = f(v)
    kept = out != 0
    np.testing.assert_array_equal(out[kept], np.float32(3.0) * np.float32(1 / 0.75))
    assert abs(kept.mean() - 0.75) < 0.005  # the standard error is 0.0010
    assert abs(out.mean() - 3.0) < 0.02  # the expected value is kept
    assert not np.array_equal(f(v) != 0, kept)  # a new mask per call


def test_dropout_masks_agree_across_devices(device):
    rng = S.RandomStream(9)
    x = S.matrix("x", "float64")
    out = S.nnet.dropout(x, 0.5, rng)
    v = np.arange(12.0).reshape(3, 4)
    want = S.compile([x], out, device="numpy")(v)
    rng.seed(9)
    np.testing.assert_array_equal(S.compile([x], out, device=device)(v), want)


def test_dropout_gradient_is_the_mask_times_the_scale(device):
    x = S.matrix("x", "float64")
    out = S.nnet.dropout(x, 0.2, S.RandomStream(1))
    f = S.compile([x], [out, S.grad(S.sum(out), x)], device=device)
    value, grad = f(np.ones((20, 30)))
    np.testing.assert_array_equal(grad, value)  # d(x·m/(1−p))/dx = m/(1−p) = value at x = 1


def test_dropout_with_a_symbolic_probability(device):
    x, p = S.vector("x", "float64"), S.scalar("p", "float64")
    f = S.compile([x, p], S.nnet.dropout(x, p, S.RandomStream(2)), device=device)
    out = f(np.ones(10_000), 0.5)
    assert set(np.unique(out)) == {0.0, 2.0}
    np.testing.assert_array_equal(f(np.ones(100), 0.0), np.ones(100))


def test_dropout_deterministic_and_p_zero_are_the_identity():
    x, rng = S.matrix("x"), S.RandomStream(0)
    assert S.nnet.dropout(x, 0.5, rng, deterministic=True) is x
    assert S.nnet.dropout(x, 0.0, rng) is x
    assert rng.states == []


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_p_outside_0_1(p):
    with pytest.raises(ValueError, match="p must be in"):
        S.nnet.dropout(S.matrix("x"), p, S.RandomStream(0))


def test_dropout_needs_floats():
    with pytest.raises(TypeError, match="float tensor"):
        S.nnet.dropout(S.matrix("x", "int32"), 0.5, S.RandomStream(0))


def test_leaky_relu_matches_numpy_and_finite_differences(device):
    x = S.vector("x", "float64")
    xv = np.array([-2.0, -0.5, 0.5, 3.0])
    got = S.compile([x], S.nnet.leaky_relu(x, 0.1), device=device)(xv)
    np.testing.assert_allclose(got, np.where(xv > 0, xv, 0.1 * xv), rtol=1e-15)
    S.verify_grad(lambda v: S.nnet.leaky_relu(v, 0.1), [xv])
