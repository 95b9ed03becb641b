"""Gradients of naive formulas are those of their stable forms, finite where the naive ones
overflow: S.grad differentiates the stabilized cost."""

import numpy as np
import pytest

import symbolic as S

HARD = np.array([-1000.0, -30.0, -1e-6, 0.0, 1e-6, 30.0, 1000.0])
LABELS = np.array([0, 2])

# (id, naive cost of a vector x, the same cost written stably)
CASES = [
    ("log_sigmoid", lambda x: S.log(S.sigmoid(x)).sum(), lambda x: (-S.softplus(-x)).sum()),
    (
        "log_one_minus_sigmoid",
        lambda x: S.log(1 - S.sigmoid(x)).sum(),
        lambda x: (-S.softplus(x)).sum(),
    ),
    ("log_one_plus_exp", lambda x: S.log(1 + S.exp(x)).sum(), lambda x: S.softplus(x).sum()),
    ("log_sum_exp", lambda x: S.log(S.sum(S.exp(x))), lambda x: S.logsumexp(x)),
    (
        "log_softmax",
        lambda x: S.log(S.nnet.softmax(x)).sum(),
        lambda x: S.nnet.log_softmax(x).sum(),
    ),
    (
        "crossentropy",
        lambda x: S.nnet.categorical_crossentropy(
            S.nnet.softmax(S.reshape(x[:6], (2, 3))), LABELS
        ).sum(),
        lambda x: -S.nnet.log_softmax(S.reshape(x[:6], (2, 3)))[S.arange(2), LABELS].sum(),
    ),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,naive,stable", CASES, ids=[c[0] for c in CASES])
def test_grad_of_naive_formula_is_finite_and_right(name, naive, stable, dtype):
    x = S.vector("x", dtype)
    values = HARD.astype(dtype)
    got_cost, got_grad = S.compile([x], [naive(x), S.grad(naive(x), x)])(values)
    cost = stable(x)
    want_cost, want_grad = S.compile([x], [cost, S.grad(cost, x)], optimize=False)(values)
    assert np.isfinite(got_cost) and np.all(np.isfinite(got_grad))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got_cost, want_cost, rtol=rtol)
    np.testing.assert_allclose(got_grad, want_grad, rtol=rtol, atol=rtol)


def test_grad_of_naive_formula_overflows_without_stabilization():
    # the oracle above is meaningful: the naive gradient really breaks on these inputs
    x = S.vector("x", "float32")
    sig = S.sigmoid(x)
    by_hand = (1 / sig) * sig * (1 - sig)  # d log σ / dx written out
    values = S.compile([x], by_hand, optimize=False)(HARD.astype("float32"))
    assert not np.all(np.isfinite(values))
