"""The stabilize rules, from one table: each naive formula, the op it becomes, its values on
ordinary inputs (equal to the unoptimized graph) and where the naive form overflows or cancels
(finite and equal to a stable float64 reference), in float32 and float64, and its gradient
(equal to finite differences, and finite where the naive form overflows)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import symbolic as S
from symbolic.graph import toposort
from symbolic.optimizer.rewriter import RewriteLog, fold_constants, rewrite_to_fixed_point
from symbolic.optimizer.rules import CANONICALIZE, STABILIZE

DTYPES = ["float32", "float64"]
LABELS = np.array([2, 0, 1])


def stabilized(expr, log=None):
    """expr after the phases up to stabilize (before fusion, so it can still be differentiated)."""
    log = log if log is not None else RewriteLog()
    out = [expr]
    for rules in ([], CANONICALIZE, STABILIZE):
        out = rewrite_to_fixed_point(out, rules, log, fold=fold_constants)
    return out[0]


def stabilized_ops(expr) -> list[str]:
    return [node.op.name for node in toposort([stabilized(expr)])]


def sigmoid(x):
    return np.where(
        x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x)))
    )


def softplus(x):
    return np.logaddexp(0, x)


def log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def log1mexp(x):
    return np.where(x > -np.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def erfc(x):
    return np.vectorize(math.erfc)(x)


def xent(x):
    return -log_softmax(x)[np.arange(len(x)), LABELS]


def softmax_naive(x, axis=1):
    return S.exp(x) / S.exp(x).sum(axis=axis, keepdims=True)


VEC = (5,)
MAT = (3, 4)
ORDINARY = (-3.0, 3.0)
BIG = np.array([[1000.0, 0.0, -1000.0, 5.0], [-1000.0, -1000.0, 0.0, 1.0], [3.0, 2.0, 1.0, 0.0]])
HUGE = np.array([[1e4, 0.0, -1e4, 5.0], [-1e4, 1e4, 0.0, 1.0], [3.0, 2.0, 1.0, 1e4]])

# (id, naive expression of x, the op it must become, shape, ordinary domain,
#  hard inputs where the naive form overflows or loses precision, float64 reference)
# fmt: off
RULES = [
    ("log1p", lambda x: S.log(1 + x), "log1p", VEC, (-0.5, 0.5),
     [1e-10, -1e-10, 1e-20, 3e-8, 0.0], np.log1p),
    ("log1p_right", lambda x: S.log(x + 1), "log1p", VEC, (-0.5, 0.5), [1e-10], np.log1p),
    ("log1p_neg", lambda x: S.log(1 - x), "log1p", VEC, (-0.5, 0.5),
     [1e-10, -1e-10, 1e-20, 3e-8, 0.0], lambda x: np.log1p(-x)),
    ("expm1", lambda x: S.exp(x) - 1, "expm1", VEC, ORDINARY,
     [1e-10, -1e-10, 1e-20, 3e-8, 0.0], np.expm1),
    ("expm1_add", lambda x: S.add(S.exp(x), S.constant(-1.0, x.dtype)), "expm1", VEC, ORDINARY,
     [1e-10, -1e-10, 1e-20, 3e-8, 0.0], np.expm1),
    ("log_exp", lambda x: S.log(S.exp(x)), None, VEC, ORDINARY,
     [1000.0, -1000.0, 200.0, 1e4, 0.0], lambda x: x),
    ("log_sigmoid", lambda x: S.log(S.sigmoid(x)), "softplus", VEC, ORDINARY,
     [-1000.0, -200.0, -50.0, 1000.0, 0.0], lambda x: -softplus(-x)),
    ("log_one_minus_sigmoid", lambda x: S.log(1 - S.sigmoid(x)), "softplus", VEC, ORDINARY,
     [1000.0, 200.0, 50.0, -1000.0, 0.0], lambda x: -softplus(x)),
    ("one_minus_sigmoid", lambda x: 1 - S.sigmoid(x), "sigmoid", VEC, ORDINARY,
     [40.0, 30.0, 80.0, -1000.0, 1000.0], lambda x: sigmoid(-x)),
    ("sigmoid_from_reciprocal", lambda x: 1 / (1 + S.exp(-x)), "sigmoid", VEC, ORDINARY,
     [-1000.0, -100.0, -50.0, 1000.0, 0.0], sigmoid),
    ("sigmoid_from_power", lambda x: (1 + S.exp(-x)) ** -1, "sigmoid", VEC, ORDINARY,
     [-1000.0, -100.0, -50.0, 1000.0, 0.0], sigmoid),
    ("sigmoid_from_quotient", lambda x: S.exp(x) / (1 + S.exp(x)), "sigmoid", VEC, ORDINARY,
     [1000.0, 100.0, -1000.0, 90.0, 0.0], sigmoid),
    ("softplus_from_log", lambda x: S.log(1 + S.exp(x)), "softplus", VEC, ORDINARY,
     [1000.0, 100.0, -1000.0, -50.0, 0.0], softplus),
    ("softplus_from_log1p", lambda x: S.log1p(S.exp(x)), "softplus", VEC, ORDINARY,
     [1000.0, 100.0, -1000.0, -50.0, 0.0], softplus),
    ("log1mexp_from_log1p", lambda x: S.log1p(-S.exp(x)), "log1mexp", VEC, (-3.0, -0.1),
     [-1e-10, -1e-6, -1e-3, -50.0, -1000.0], log1mexp),
    ("log1mexp_from_expm1", lambda x: S.log(-S.expm1(x)), "log1mexp", VEC, (-3.0, -0.1),
     [-50.0, -40.0, -1000.0, -1e-10, -1.0], log1mexp),
    ("log1mexp_from_log", lambda x: S.log(1 - S.exp(x)), "log1mexp", VEC, (-3.0, -0.1),
     [-1e-10, -50.0, -1000.0, -1e-5, -1.0], log1mexp),
    ("softmax", softmax_naive, "softmax", MAT, ORDINARY, BIG,
     lambda x: np.exp(log_softmax(x))),
    ("softmax_axis0", lambda x: softmax_naive(x, 0), "softmax", MAT, ORDINARY, BIG,
     lambda x: np.exp(log_softmax(x, 0))),
    ("softmax_dimshuffle", lambda x: S.exp(x) / S.exp(x).sum(axis=1).dimshuffle(0, "x"),
     "softmax", MAT, ORDINARY, BIG, lambda x: np.exp(log_softmax(x))),
    ("softmax_shifted", lambda x: softmax_naive(x - x.max(axis=1, keepdims=True)), "softmax",
     MAT, ORDINARY, HUGE, lambda x: np.exp(log_softmax(x))),
    ("log_softmax", lambda x: S.log(S.nnet.softmax(x)), "log_softmax", MAT, ORDINARY, BIG,
     log_softmax),
    ("log_softmax_shifted", lambda x: S.nnet.log_softmax(x - x.max(axis=1, keepdims=True)),
     "log_softmax", MAT, ORDINARY, HUGE, log_softmax),
    ("log_softmax_naive", lambda x: S.log(softmax_naive(x)), "log_softmax", MAT, ORDINARY, BIG,
     log_softmax),
    ("logsumexp", lambda x: S.log(S.exp(x).sum(axis=1)), "logsumexp", MAT, ORDINARY, BIG,
     lambda x: x.max(1) + np.log(np.exp(x - x.max(1, keepdims=True)).sum(1))),
    ("logsumexp_keepdims", lambda x: S.log(S.exp(x).sum(axis=0, keepdims=True)), "logsumexp",
     MAT, ORDINARY, BIG, lambda x: (x - log_softmax(x, 0))[:1]),
    ("log_softmax_from_logsumexp", lambda x: x - S.logsumexp(x, axis=1, keepdims=True),
     "log_softmax", MAT, ORDINARY, HUGE, log_softmax),
    ("log_softmax_from_naive_logsumexp",
     lambda x: x - S.log(S.exp(x).sum(axis=1, keepdims=True)), "log_softmax", MAT, ORDINARY,
     BIG, log_softmax),
    ("crossentropy_indexed", lambda x: -S.log(S.nnet.softmax(x))[S.arange(x.shape[0]), LABELS],
     "crossentropy_softmax", MAT, ORDINARY, HUGE, xent),
    ("crossentropy_categorical",
     lambda x: S.nnet.categorical_crossentropy(S.nnet.softmax(x), LABELS),
     "crossentropy_softmax", MAT, ORDINARY, HUGE, xent),
    ("crossentropy_naive_softmax",
     lambda x: S.nnet.categorical_crossentropy(softmax_naive(x), LABELS),
     "crossentropy_softmax", MAT, ORDINARY, HUGE, xent),
    ("crossentropy_onehot",
     lambda x: S.nnet.categorical_crossentropy(
         S.nnet.softmax(x), S.constant(np.eye(4)[LABELS], x.dtype)),
     "log_softmax", MAT, ORDINARY, HUGE, xent),
    ("erfc", lambda x: 1 - S.erf(x), "erfc", VEC, ORDINARY, [5.0, 6.0, 8.0, -5.0, 0.0], erfc),
    ("erfc_neg", lambda x: 1 + S.erf(x), "erfc", VEC, ORDINARY, [-5.0, -6.0, -8.0, 5.0, 0.0],
     lambda x: erfc(-x)),
    ("neg_erfc", lambda x: S.erf(x) - 1, "erfc", VEC, ORDINARY, [5.0, 6.0, 8.0, -5.0, 0.0],
     lambda x: -erfc(x)),
]
# fmt: on
IDS = [r[0] for r in RULES]
# rows whose naive form gives the right value anyway: their rules only simplify, or only an
# intermediate overflows (1 / (1 + inf) = 0)
ALREADY_STABLE = {
    "softmax_shifted",
    "log_softmax_shifted",
    "log_softmax_from_logsumexp",
    "sigmoid_from_reciprocal",
    "sigmoid_from_power",
}
NAIVE_OPS = {"exp", "log", "true_div"}  # what no stabilized form may keep at its root


def build(row, dtype):
    _, fn, _, shape, *_ = row
    x = S.tensor("x", dtype, (None,) * len(shape))
    return x, fn(x)


def hard_input(row, dtype):
    return np.asarray(row[5], dtype=np.float64).astype(dtype)


def tolerance(dtype):  # relative, down to the smallest normal number: hard values can be tiny
    rtol = 2e-5 if dtype == "float32" else 1e-11
    return dict(rtol=rtol, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row", RULES, ids=IDS)
def test_stabilize_rewritten_form(row, dtype):
    x, expr = build(row, dtype)
    ops = stabilized_ops(expr)
    expected = row[2]
    if expected is None:  # the whole expression folds away
        assert ops == []
    else:
        assert expected in ops, ops
        assert ops[-1] not in NAIVE_OPS, ops


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row", RULES, ids=IDS)
def test_stabilize_ordinary_values_equal_unoptimized(row, dtype, rng, device):
    x, expr = build(row, dtype)
    value = rng.uniform(*row[4], row[3]).astype(dtype)
    fast = S.compile([x], expr, device=device)(value)
    plain = S.compile([x], expr, device="numpy", optimize=False)(value)
    assert fast.dtype == plain.dtype == np.dtype(dtype)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast, plain, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row", RULES, ids=IDS)
def test_stabilize_hard_values_finite_and_right(row, dtype, device):
    x, expr = build(row, dtype)
    value = hard_input(row, dtype)
    out = S.compile([x], expr, device=device)(value)
    expected = row[6](value.astype(np.float64))
    assert out.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(out)), out
    np.testing.assert_allclose(out, expected, **tolerance(dtype))


@pytest.mark.parametrize(
    "row", [r for r in RULES if r[0] not in ALREADY_STABLE], ids=lambda r: r[0]
)
def test_stabilize_hard_values_break_the_naive_form(row):
    """The table's hard inputs are hard: unoptimized, float32 or float64 gets one wrong."""
    wrong = False
    for dtype in DTYPES:
        x, expr = build(row, dtype)
        value = hard_input(row, dtype)
        with np.errstate(all="ignore"):
            plain = S.compile([x], expr, device="numpy", optimize=False)(value)
        expected = row[6](value.astype(np.float64))
        wrong |= not np.allclose(plain, expected, **tolerance(dtype), equal_nan=False)
    assert wrong


@pytest.mark.parametrize("row", RULES, ids=IDS)
def test_stabilize_gradient_matches_finite_differences(row, rng):
    fn, shape, domain = row[1], row[3], row[4]
    point = rng.uniform(*domain, shape)
    S.verify_grad(lambda x: stabilized(fn(x)), [point])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row", RULES, ids=IDS)
def test_stabilize_gradient_finite_on_hard_inputs(row, dtype, device):
    x, expr = build(row, dtype)
    cost = stabilized(expr).sum()
    g = S.compile([x], S.grad(cost, x), device=device)(hard_input(row, dtype))
    assert g.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(g)), g


def test_stabilize_rules_have_unique_names_and_math():
    names = [r.name for r in STABILIZE]
    assert len(names) == len(set(names))
    assert all(r.math and "\n" not in r.math for r in STABILIZE)


def test_stabilize_rules_are_logged_by_name():
    x = S.vector("x", "float64")
    f = S.compile([x], S.log(1 + S.exp(x)) + S.log(S.sigmoid(x)), device="numpy")
    assert "softplus_from_log" in dict(f.rewrites)
    assert "log_sigmoid" in dict(f.rewrites)


def test_stabilize_every_rule_fires_in_the_table():
    """Each rule of STABILIZE fires on some row of the table above (a rule without a test
    would show here)."""
    log = RewriteLog()
    for row in RULES:
        for dtype in DTYPES:
            stabilized(build(row, dtype)[1], log)
    assert {r.name for r in STABILIZE} - set(log.counts) == set()


# Theano's idiom: labels as an input, the rows counted by the labels, the sign outside the mean
THEANO_COSTS = {
    "neg_mean_of_log_softmax_rows": lambda x, y: (
        -S.mean(S.log(S.nnet.softmax(x))[S.arange(y.shape[0]), y])
    ),
    "neg_sum_of_log_softmax_rows": lambda x, y: (
        -S.nnet.log_softmax(x)[S.arange(y.shape[0]), y].sum()
    ),
}


@pytest.mark.parametrize("name", list(THEANO_COSTS))
def test_stabilize_theano_crossentropy_idiom(name, device):
    x, y = S.matrix("x"), S.vector("y", dtype="int64")
    cost = THEANO_COSTS[name](x, y)
    assert "crossentropy_softmax" in stabilized_ops(cost)
    f = S.compile([x, y], cost, device=device)
    logits = HUGE.astype("float32")
    got = f(logits, LABELS)
    want = xent(HUGE).mean() if "mean" in name else xent(HUGE).sum()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # labels that are not one per row: an error naming the op, not a read past the labels
    with pytest.raises(ValueError, match="crossentropy_softmax"):
        f(logits, LABELS[:2])
