"""S.scan's Theano arguments: go_backwards and truncate_gradient (values against loops written
in NumPy, gradients against finite differences and a hand-written truncated BPTT), name,
strict and return_list."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S

RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 3))
H0 = RNG.standard_normal(3)
W = RNG.standard_normal((3, 3)) * 0.5


def step(x_t, h, w):
    return S.tanh(x_t + h @ w)


def numpy_rnn(x, h0, w):
    hs, h = [], h0
    for x_t in x:
        h = np.tanh(x_t + h @ w)
        hs.append(h)
    return np.array(hs)


def inputs():
    return S.matrix("x", "float64"), S.vector("h0", "float64"), S.matrix("w", "float64")


@pytest.mark.parametrize("n_steps", [None, 4])
def test_go_backwards_reads_the_sequence_from_its_end(n_steps, device):
    x, h0, w = inputs()
    hs, _ = S.scan(step, x, h0, non_sequences=w, n_steps=n_steps, go_backwards=True)
    got = S.compile([x, h0, w], hs, device=device)(X, H0, W)
    want = numpy_rnn(X[::-1][: n_steps or len(X)], H0, W)  # Theano: reversed, then n_steps
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_go_backwards_gradient_matches_finite_differences():
    def cost(x, h0, w):
        hs, _ = S.scan(step, x, h0, non_sequences=w, go_backwards=True)
        return (hs * hs).sum() + hs[-1].sum()

    S.verify_grad(cost, [X, H0, W])


def truncated_bptt(x, h0, w, k):
    """∂/∂(x, h0, w) of Σ_t Σ h_t² through the last k steps only, by hand."""
    hs = numpy_rnn(x, h0, w)
    before = np.vstack([h0, hs[:-1]])  # the state each step reads
    n = len(x)
    dx, dw, carry = np.zeros_like(x), np.zeros_like(w), np.zeros_like(h0)
    for t in range(n - 1, max(n - k, 0) - 1, -1):
        da = (carry + 2 * hs[t]) * (1 - hs[t] ** 2)  # through tanh
        dx[t] = da
        dw += np.outer(before[t], da)
        carry = w @ da
    dh0 = carry if k >= n else np.zeros_like(h0)
    return dx, dh0, dw


@pytest.mark.parametrize("k", [0, 1, 3, 6, 9])
def test_truncate_gradient_matches_hand_written_truncated_bptt(k, device):
    x, h0, w = inputs()
    hs, _ = S.scan(step, x, h0, non_sequences=w, truncate_gradient=k)
    cost = (hs * hs).sum()
    grads = S.grad(cost, [x, h0, w], disconnected="ignore")
    f = S.compile([x, h0, w], [hs] + grads, device=device)
    values, *got = f(X, H0, W)
    np.testing.assert_allclose(values, numpy_rnn(X, H0, W), rtol=1e-12)
    for g, want in zip(got, truncated_bptt(X, H0, W, k)):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)


def test_truncate_gradient_minus_one_is_full_bptt():
    x, h0, w = inputs()
    full, _ = S.scan(step, x, h0, non_sequences=w)
    cut, _ = S.scan(step, x, h0, non_sequences=w, truncate_gradient=-1)
    fg = S.compile([x, h0, w], S.grad((full**2).sum(), [x, h0, w]), device="numpy")
    cg = S.compile([x, h0, w], S.grad((cut**2).sum(), [x, h0, w]), device="numpy")
    for a, b in zip(fg(X, H0, W), cg(X, H0, W)):
        np.testing.assert_array_equal(a, b)


def test_truncate_gradient_rejects_bad_values():
    x, h0, w = inputs()
    with pytest.raises(ValueError, match="truncate_gradient"):
        S.scan(step, x, h0, non_sequences=w, truncate_gradient=-2)


def test_name_and_return_list():
    x, h0, w = inputs()
    hs, _ = S.scan(step, x, h0, non_sequences=w, name="rnn_layer", return_list=True)
    assert isinstance(hs, list) and len(hs) == 1
    assert hs[0].owner.op.step_name == "rnn_layer"


def test_strict_refuses_a_captured_shared_variable():
    x, h0, _ = inputs()
    w = S.shared(W, name="w_shared")
    with pytest.raises(ValueError, match="w_shared.*non_sequences"):
        S.scan(lambda x_t, h: S.tanh(x_t + h @ w), x, h0, strict=True)
    hs, _ = S.scan(step, x, h0, non_sequences=w, strict=True)
    got = S.compile([x, h0], hs, device="numpy")(X, H0)
    np.testing.assert_allclose(got, numpy_rnn(X, H0, W), rtol=1e-12)


def test_mode_is_accepted():
    x, h0, w = inputs()
    hs, _ = S.scan(step, x, h0, non_sequences=w, mode="FAST_RUN", profile=False, allow_gc=True)
    np.testing.assert_allclose(
        S.compile([x, h0, w], hs, device="numpy")(X, H0, W), numpy_rnn(X, H0, W), rtol=1e-12
    )
