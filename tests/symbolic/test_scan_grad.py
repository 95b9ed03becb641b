"""Backpropagation through time: S.grad of a scan against finite differences (S.verify_grad,
float64, small sizes), and the gradients of every device against the numpy device."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S

H = 3  # hidden size of the LSTM cell


def close_to_oracle(got, want, device: str) -> None:
    """Equal on numpy; elsewhere within rounding: a gradient sums many products, and generated
    code rounds tanh and sigmoid differently from NumPy (cancellation leaves 1e-12 relative)."""
    if device == "numpy":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)


def rnn(x, w, u, h0):
    hs, _ = S.scan(lambda x_t, h, w, u: S.tanh(x_t @ w + h @ u), x, h0, non_sequences=[w, u])
    return hs


def lstm(x, wx, wh, b, h0, c0):
    def step(x_t, h, c):
        z = x_t @ wx + h @ wh + b
        i, f = S.sigmoid(z[:, :H]), S.sigmoid(z[:, H : 2 * H])
        g, o = S.tanh(z[:, 2 * H : 3 * H]), S.sigmoid(z[:, 3 * H :])
        c = f * c + i * g
        return o * S.tanh(c), c

    (hs, cs), _ = S.scan(step, x, [h0, c0])
    return hs.sum(0) * 0.3 + cs[-1] * hs[-1]


def cumulative_sum(x):
    out, _ = S.scan(lambda x_t, acc: acc + x_t, x, S.zeros_like(x[0]))
    return out


def several(x, y, a, b, w):
    def step(x_t, y_t, s1, s2, w):
        return s1 * S.sin(x_t) + s2 @ w, s2 * y_t + s1 * 0.5, (x_t * s2) @ w

    (o1, o2, o3), _ = S.scan(step, [x, y], [a, b, None], non_sequences=[w])
    return o1.sum(0) + (o2**2).sum(0) + o3.sum()


def last_state_only(x, w):
    hs, _ = S.scan(lambda x_t, h: S.tanh(h @ w) * x_t, x, x[0])
    return hs[-1]


def shorter_loop(x, w):  # three steps over a sequence of five: the last rows get zeros
    hs, _ = S.scan(lambda x_t, h: S.tanh(h * w + x_t), x, x[0] * 0, n_steps=3)
    return hs


def nested(x):
    def outer(m, acc):
        rows, _ = S.scan(lambda r, s: s * S.tanh(r) + r, m, S.zeros_like(m[0]))
        return acc * 0.5 + rows[-1]

    out, _ = S.scan(outer, x, S.zeros_like(x[0, 0]))
    return out


def carried_history(x):
    """A float shared variable the step updates and reads: its values before each step are
    stored for the backward loop."""
    s = S.shared(np.full(3, 0.5), name="s")
    out, _ = S.scan(lambda x_t: (S.sin(x_t * s), {s: s * 0.9 + x_t}), x)
    return out


def second_derivative(x, w, h0):
    hs, _ = S.scan(lambda x_t, h: S.tanh(x_t @ w + h @ w), x, h0)
    return S.grad((hs**2).sum(), w)


def normal(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale


CASES = {
    "rnn_tanh": (
        rnn,
        lambda r: [
            normal(r, 5, 2, 4),
            normal(r, 4, 3, scale=0.5),
            normal(r, 3, 3, scale=0.5),
            normal(r, 2, 3),
        ],
    ),
    "lstm": (
        lstm,
        lambda r: [
            normal(r, 4, 2, 5),
            normal(r, 5, 4 * H, scale=0.5),
            normal(r, H, 4 * H, scale=0.5),
            normal(r, 4 * H, scale=0.1),
            normal(r, 2, H),
            normal(r, 2, H),
        ],
    ),
    "cumulative_sum": (cumulative_sum, lambda r: [normal(r, 5, 3)]),
    "several": (
        several,
        lambda r: [normal(r, 4, 3), normal(r, 5, 3), normal(r, 3), normal(r, 3), normal(r, 3, 3)],
    ),
    "last_state_only": (last_state_only, lambda r: [normal(r, 5, 3), normal(r, 3, 3)]),
    "shorter_loop": (shorter_loop, lambda r: [normal(r, 5, 2), normal(r, 2)]),
    "nested": (nested, lambda r: [normal(r, 3, 4, 2)]),
    "carried_history": (carried_history, lambda r: [normal(r, 4, 3)]),
    "second_derivative": (
        second_derivative,
        lambda r: [normal(r, 4, 2, 3), normal(r, 3, 3, scale=0.5), normal(r, 2, 3)],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_scan_gradient_matches_finite_differences(case, rng):
    fn, points = CASES[case]
    S.verify_grad(fn, points(rng))


@pytest.mark.parametrize("case", ["rnn_tanh", "lstm", "several", "nested", "second_derivative"])
def test_scan_gradient_on_every_device_matches_numpy(case, device, rng):
    fn, points = CASES[case]
    values = points(rng)
    inputs = [S.tensor(f"x{i}", "float64", v.shape) for i, v in enumerate(values)]
    cost = (fn(*inputs) * S.constant(rng.standard_normal(1))).sum()
    grads = S.grad(cost, inputs)
    want = S.compile(inputs, grads, device="numpy")(*values)
    got = S.compile(inputs, grads, device=device)(*values)
    for g, w in zip(got, want):
        close_to_oracle(g, w, device)


def test_scan_gradient_of_shared_weights(device, rng):
    """Shared variables read inside the step get the gradient an explicit input would."""
    w_value, x_value = normal(rng, 3, 3, scale=0.5), normal(rng, 4, 3)
    x = S.matrix("x", "float64")
    w = S.shared(w_value, name="W")
    hs, _ = S.scan(lambda x_t, h: S.tanh(h @ w + x_t), x, S.zeros((3,), "float64"))
    got = S.compile([x], S.grad((hs**2).sum(), w), device=device)(x_value)
    explicit = S.matrix("w", "float64")
    hs2, _ = S.scan(lambda x_t, h, v: S.tanh(h @ v + x_t), x, S.zeros((3,), "float64"), explicit)
    want = S.compile([x, explicit], S.grad((hs2**2).sum(), explicit), device="numpy")(
        x_value, w_value
    )
    close_to_oracle(got, want, device)


def test_scan_gradient_is_a_backward_scan():
    x, w = S.matrix("x", "float64"), S.matrix("w", "float64")
    hs, _ = S.scan(lambda x_t, h: S.tanh(h @ w + x_t), x, x[0])
    gw = S.grad(hs.sum(), w)
    loops = [n for n in S.graph.toposort([gw]) if n.op.name == "scan"]
    assert any(n.op.reverse for n in loops) and any(not n.op.reverse for n in loops)


def test_scan_gradient_of_an_integer_state_is_none(device):
    x = S.vector("x", "float64")
    (vals, counts), _ = S.scan(
        lambda x_t, s, k: (s * x_t, k + 1), x, [S.constant(1.0, "float64"), S.constant(0)]
    )
    cost = (vals * S.cast(counts, "float64")).sum()
    got = S.compile([x], S.grad(cost, x), device=device)(np.array([2.0, 3.0]))
    # vals = [x0, x0 x1], counts = [1, 2]: cost = x0 + 2 x0 x1
    np.testing.assert_allclose(got, [1 + 2 * 3.0, 2 * 2.0])


def scaled_rnn(x, u, w, h0):
    """h ← tanh(h·U + x_t)·w: its gradient reads t = tanh(…) (for w) and 1 − t·t (for U)."""
    hs, _ = S.scan(lambda x_t, h, u, w: S.tanh(h @ u + x_t) * w, x, h0, non_sequences=[u, w])
    return hs


def test_backward_loop_recomputes_arithmetic_on_stored_values(rng):
    # 1 − t·t is computed by the backward step from the stored t, not stored beside it
    x, u = S.matrix("x", "float64"), S.matrix("u", "float64")
    w, h0 = S.vector("w", "float64"), S.vector("h0", "float64")
    grads = S.grad(scaled_rnn(x, u, w, h0).sum(), [u, w])
    loops = [n for n in S.graph.toposort(grads) if n.op.name == "scan" and not n.op.reverse]
    # the loop as written, and its copy with the stored values as extra outputs
    plain, augmented = sorted(loops, key=lambda n: len(n.outputs))
    stored = augmented.op.inner_outputs[len(plain.op.inner_outputs) :]
    assert sorted(v.owner.op.name if v.owner else "state" for v in stored) == ["state", "tanh"]
    points = [normal(rng, 5, 3), normal(rng, 3, 3, scale=0.5), normal(rng, 3), normal(rng, 3)]
    S.verify_grad(lambda x, u, w, h0: scaled_rnn(x, u, w, h0), points)
