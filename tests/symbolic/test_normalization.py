"""S.nnet.batch_norm: the training and inference forms against NumPy, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run

import symbolic as S

EPS = 1e-5


def channel_axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


def per_channel(v, ndim: int):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_numpy(x, gamma, beta, mean, var):
    mean, var, gamma, beta = (per_channel(v, x.ndim) for v in (mean, var, gamma, beta))
    return (x - mean) / np.sqrt(var + EPS) * gamma + beta


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 2), (5, 3, 4)], ids=["2d", "4d", "3d"])
def test_batch_norm_training_uses_batch_statistics_and_updates_running(shape, device, rng):
    xv = rng.standard_normal(shape) * 2 + 1
    gv, bv = rng.standard_normal(3), rng.standard_normal(3)
    r_mean, r_var = rng.standard_normal(3), rng.random(3) + 0.5
    running_mean, running_var = S.shared(r_mean.copy(), "rm"), S.shared(r_var.copy(), "rv")
    x = S.tensor("x", "float64", (None,) * len(shape))
    g, b = S.vector("g", "float64"), S.vector("b", "float64")
    out, updates = S.nnet.batch_norm(x, g, b, running_mean, running_var, momentum=0.2)
    f = S.compile([x, g, b], out, updates=updates, device=device)
    got = f(xv, gv, bv)
    axes = channel_axes(len(shape))
    mean, var = xv.mean(axis=axes), xv.var(axis=axes)
    np.testing.assert_allclose(got, batch_norm_numpy(xv, gv, bv, mean, var), rtol=1e-12)
    np.testing.assert_allclose(running_mean.get_value(), 0.8 * r_mean + 0.2 * mean, rtol=1e-12)
    unbiased = xv.var(axis=axes, ddof=1)
    np.testing.assert_allclose(running_var.get_value(), 0.8 * r_var + 0.2 * unbiased, rtol=1e-12)


def test_batch_norm_inference_uses_running_statistics(device, rng):
    xv = rng.standard_normal((4, 3, 2, 2))
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    gv, bv = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = S.shared(mean, "rm"), S.shared(var, "rv")
    x = S.tensor4("x", "float64")
    out, updates = S.nnet.batch_norm(x, S.constant(gv), S.constant(bv), rm, rv, training=False)
    assert updates == []
    np.testing.assert_allclose(
        run(out, {x: xv}, device), batch_norm_numpy(xv, gv, bv, mean, var), rtol=1e-12
    )


def test_batch_norm_without_gamma_beta_or_running_statistics(device, rng):
    xv = rng.standard_normal((8, 4)).astype(np.float32)
    x = S.matrix("x")
    out, updates = S.nnet.batch_norm(x)
    assert updates == [] and out.dtype == "float32"
    got = run(out, {x: xv}, device)
    np.testing.assert_allclose(got.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(got.var(axis=0), 1 / (1 + EPS / xv.var(axis=0)), rtol=1e-5)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 2)], ids=["2d", "4d"])
def test_batch_norm_gradients_flow_through_the_batch_statistics(shape, rng):
    def normalized(x, g, b):
        out, _ = S.nnet.batch_norm(x, g, b)
        return out * S.tanh(out)  # a nonlinear head: Σ out alone has zero gradient in x

    S.verify_grad(normalized, [rng.standard_normal(shape), rng.random(shape[1]) + 0.5,
                               rng.standard_normal(shape[1])])  # fmt: skip


def test_batch_norm_inference_gradients(rng):
    rm, rv = S.shared(rng.standard_normal(3)), S.shared(rng.random(3) + 0.5)

    def normalized(x, g, b):
        return S.nnet.batch_norm(x, g, b, rm, rv, training=False)[0] ** 2

    S.verify_grad(normalized, [rng.standard_normal((4, 3)), rng.random(3), rng.random(3)])


# (id, build, words)
ERRORS = [
    ("ndim", lambda x, v: S.nnet.batch_norm(S.vector("x")), ["axis 1"]),
    ("gamma", lambda x, v: S.nnet.batch_norm(x, S.tensor("g", shape=(4,))), ["gamma", "3"]),
    ("gamma_ndim", lambda x, v: S.nnet.batch_norm(x, S.matrix("g")), ["gamma"]),
    ("one_running", lambda x, v: S.nnet.batch_norm(x, running_mean=v), ["both"]),
    ("inference", lambda x, v: S.nnet.batch_norm(x, training=False), ["running_mean"]),
]


@pytest.mark.parametrize("case", ERRORS, ids=[e[0] for e in ERRORS])
def test_batch_norm_errors(case):
    _, build, words = case
    x, v = S.tensor("x", "float32", (None, 3, 5, 5)), S.shared(np.zeros(3, np.float32))
    with pytest.raises(ValueError) as info:
        build(x, v)
    assert "batch_norm" in str(info.value)
    for word in words:
        assert word in str(info.value)
