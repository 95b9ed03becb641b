"""The ops the stabilize rules produce are stable by construction, values and gradients, in
float32 and float64; and the rules decline where their identity would not hold."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S
from symbolic.graph import toposort

DTYPES = ["float32", "float64"]
EXTREME = np.array([-1000.0, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1000.0])


def ops(expr) -> list[str]:
    return [node.op.name for node in toposort([S.optimize(expr)])]


def value_and_grad(fn, value, dtype):
    x = S.tensor("x", dtype, (None,) * value.ndim)
    out = fn(x)
    f = S.compile([x], [out, S.grad(out.sum(), x)], device="numpy", optimize=False)
    return f(value.astype(dtype))


def log1mexp_ref(x):
    return np.where(x > -np.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


# (id, op, float64 reference value, float64 reference derivative, inputs)
# fmt: off
STABLE_OPS = [
    ("sigmoid", S.sigmoid, lambda x: np.exp(-np.logaddexp(0, -x)),
     lambda x: np.exp(-np.logaddexp(0, -x) - np.logaddexp(0, x)), EXTREME),
    ("softplus", S.softplus, lambda x: np.logaddexp(0, x), lambda x: np.exp(-np.logaddexp(0, -x)),
     EXTREME),
    ("log1mexp", S.log1mexp, log1mexp_ref, lambda x: -1 / np.expm1(-x),
     np.array([-1000.0, -50.0, -1.0, -0.7, -0.69, -1e-3, -1e-10, -1e-30])),
]
# fmt: on


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,ref,dref,points", STABLE_OPS, ids=[r[0] for r in STABLE_OPS])
def test_stable_op_values_and_gradients_finite_and_right(name, fn, ref, dref, points, dtype):
    out, g = value_and_grad(fn, points, dtype)
    x = points.astype(dtype).astype(np.float64)
    tol = dict(rtol=1e-5 if dtype == "float32" else 1e-12, atol=np.finfo(dtype).tiny)
    assert out.dtype == g.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(g))
    with np.errstate(all="ignore"):  # the references evaluate both branches of np.where
        expected, dexpected = ref(x), dref(x)
    np.testing.assert_allclose(out, expected, **tol)
    np.testing.assert_allclose(g, dexpected, **tol)


def test_stable_op_sigmoid_softplus_at_the_limits():
    big = np.array([-1000.0, 1000.0], np.float32)
    s, _ = value_and_grad(S.sigmoid, big, "float32")
    sp, _ = value_and_grad(S.softplus, big, "float32")
    np.testing.assert_array_equal(s, [0.0, 1.0])
    np.testing.assert_array_equal(sp, [0.0, 1000.0])


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "log1mexp"])
def test_stable_op_gradient_matches_finite_differences(name, rng):
    fn = getattr(S, name)
    point = rng.uniform(-4, -0.1, 6) if name == "log1mexp" else rng.uniform(-4, 4, 6)
    S.verify_grad(fn, [point])


def test_stable_op_log1mexp_second_derivative(rng):
    S.verify_grad(lambda x: S.grad(S.log1mexp(x).sum(), x), [rng.uniform(-4, -0.1, 5)])


LOGITS = np.array([[1e4, 0.0, -1e4, 5.0], [-1e4, 1e4, 0.0, 1.0], [3.0, 2.0, 1.0, 1e4]])
LABELS = np.array([2, 1, 0])


def softmax_ref(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def lse_ref(x):
    return x.max(1) + np.log(np.exp(x - x.max(1, keepdims=True)).sum(1))


# (id, function of x, float64 reference of the value, of the gradient of its sum)
# fmt: off
SOFTMAX_FAMILY = [
    ("softmax", S.nnet.softmax, softmax_ref, lambda x: np.zeros_like(x)),
    ("log_softmax", S.nnet.log_softmax, lambda x: x - lse_ref(x)[:, None],
     lambda x: 1 - 4 * softmax_ref(x)),
    ("logsumexp", lambda x: S.logsumexp(x, axis=1), lse_ref, softmax_ref),
    ("crossentropy_softmax", lambda x: S.nnet.crossentropy_softmax(x, LABELS),
     lambda x: lse_ref(x) - x[np.arange(3), LABELS],
     lambda x: softmax_ref(x) - np.eye(4)[LABELS]),
]
# fmt: on


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,ref,dref", SOFTMAX_FAMILY, ids=[r[0] for r in SOFTMAX_FAMILY])
def test_stable_op_softmax_family_finite_on_huge_logits(name, fn, ref, dref, dtype):
    out, g = value_and_grad(fn, LOGITS, dtype)
    x = LOGITS.astype(dtype).astype(np.float64)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(g))
    tol = dict(rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)
    np.testing.assert_allclose(out, ref(x), **tol)
    np.testing.assert_allclose(g, dref(x), **tol)


def test_stable_op_crossentropy_softmax_matches_naive_and_finite_differences(rng):
    x = S.matrix("x", "float64")
    y = S.vector("y", "int64")
    v, labels = rng.normal(size=(5, 3)), np.array([0, 2, 1, 1, 0])
    fused = S.compile([x, y], S.nnet.crossentropy_softmax(x, y), device="numpy", optimize=False)
    naive = S.compile(
        [x, y],
        -S.log(S.exp(x) / S.exp(x).sum(axis=1, keepdims=True))[S.arange(x.shape[0]), y],
        device="numpy",
        optimize=False,
    )
    np.testing.assert_allclose(fused(v, labels), naive(v, labels), rtol=1e-12)
    S.verify_grad(lambda x: S.nnet.crossentropy_softmax(x, labels), [v])


def test_stable_op_crossentropy_softmax_rejects_bad_operands():
    with pytest.raises(TypeError, match="crossentropy_softmax"):
        S.nnet.crossentropy_softmax(S.vector("x"), S.vector("y", "int64"))
    with pytest.raises(TypeError, match="crossentropy_softmax"):
        S.nnet.crossentropy_softmax(S.matrix("x"), S.vector("y"))


def test_stabilize_naive_gradients_compile_to_equal_values(rng):
    """The user's path: differentiate the naive graph, then compile; optimized or not, the
    gradient has the same values on ordinary inputs."""
    x = S.matrix("x", "float64")
    y = np.array([1, 0, 3])
    cost = (
        S.nnet.categorical_crossentropy(S.nnet.softmax(x), y).sum()
        + S.log(1 + S.exp(x)).sum()
        + S.log(S.sigmoid(x)).sum()
        + S.log(S.exp(x).sum(axis=1)).sum()
    )
    g = S.grad(cost, x)
    v = rng.normal(size=(3, 4))
    fast = S.compile([x], [cost, g], device="numpy")(v)
    plain = S.compile([x], [cost, g], device="numpy", optimize=False)(v)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, rtol=1e-10)


# expressions the rules must leave alone: (id, expression, the op that must remain)
def declines():
    v = S.vector("v", "float64")
    m = S.matrix("m", "float64")
    i = S.vector("i", "int32")
    y = S.vector("y", "int64")
    ones_row = S.constant(np.ones((1, 1)))
    twos = S.constant(np.full(3, 1.0))
    sm0 = S.nnet.softmax(m, axis=0)
    return [
        ("constant_broadcasts_x", S.log(v + ones_row), "log"),
        ("constant_of_full_shape", S.log(S.tensor("w", "float64", (None,)) + twos), "log"),
        ("integer_operand", S.log(1 - i), "log"),
        ("softmax_over_axis0_rows_picked", -S.log(sm0)[S.arange(m.shape[0]), y], "log_softmax"),
        ("not_every_row", -S.log(S.nnet.softmax(m))[S.arange(2), y], "log_softmax"),
        ("shifted_arange", -S.log(S.nnet.softmax(m))[S.arange(1, 4), y], "log_softmax"),
        ("sum_over_other_axis", S.exp(m) / S.exp(m).sum(axis=0, keepdims=True)[:, :1], "exp"),
        ("sum_of_other_exp", S.exp(m) / S.exp(2 * m).sum(axis=1, keepdims=True), "exp"),
        ("softmax_shift_by_min", S.nnet.softmax(m - m.min(axis=0, keepdims=True)), "min"),
        ("lse_of_other_tensor", m - S.logsumexp(2 * m, axis=0, keepdims=True), "logsumexp"),
        ("lse_two_axes", m - S.logsumexp(m, axis=(0, 1), keepdims=True), "logsumexp"),
    ]


DECLINE_IDS = [d[0] for d in declines()]


@pytest.mark.parametrize("k", range(len(DECLINE_IDS)), ids=DECLINE_IDS)
def test_stabilize_declines_where_unsound(k):
    _, expr, kept = declines()[k]
    names = ops(expr)
    assert any(kept in n for n in names), names
    assert "crossentropy_softmax" not in names
