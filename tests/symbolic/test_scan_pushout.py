"""Accumulations pushed out of loops (symbolic/scan/pushout.py): the loop with the rewrite
against the loop as built (the numpy device, optimize=False), the rewrite's firing and
declining, and gradients through it against finite differences."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import symbolic as S
from symbolic.graph import toposort
from symbolic.scan.op import Scan
from symbolic.scan.parts import LoopParts

TOLERANCE = {"float32": 2e-5, "float64": 1e-12}  # relative: the sums run in another order


def fired(f) -> int:
    return dict(f.rewrites).get("scan_pushout", 0)


def loops(f) -> list:
    """The Scan nodes of f's optimized graph."""
    return [n for n in toposort(f.fgraph.outputs) if isinstance(n.op, Scan)]


def against_unrewritten(inputs, outputs, values, updates=None, dtype="float64"):
    """Compile on cpu (optimized) and on numpy as built; equal within the dtype's rounding.
    Returns the optimized function."""
    results = []
    for device, optimize in (("cpu", True), ("numpy", False)):
        for shared in updates or {}:
            shared.set_value(np.zeros_like(shared.get_value()))
        f = S.compile(inputs, outputs, updates=updates, device=device, optimize=optimize)
        results.append([np.asarray(r) for r in f(*values)])
        results[-1] += [np.array(s.get_value()) for s in (updates or {})]
        if optimize:
            optimized = f
    rtol = TOLERANCE[dtype]
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
    return optimized


def rnn_with_statistics(dtype: str, static: bool = False):
    """An RNN whose step also adds hᵀ·h' and the bias-like Σ_batch h' into shared accumulators
    (carried states, last value only). `static`: every shape but the steps' is declared."""
    x = S.tensor("x", dtype, (None, 2, 3) if static else (None,) * 3)
    w, u = (
        S.tensor(name, dtype, shape if static else (None, None))
        for name, shape in (("w", (3, 4)), ("u", (4, 4)))
    )
    h0 = S.tensor("h0", dtype, (2, 4) if static else (None, None))
    outer = S.shared(np.zeros((4, 4), dtype), "outer")
    total = S.shared(np.zeros(4, dtype), "total")

    def step(x_t, h):
        new = S.tanh(x_t @ w + h @ u)
        return new, {outer: outer + h.T @ new, total: total + new.sum(0) + 0.5}

    hs, updates = S.scan(step, x, h0)
    return [x, w, u, h0], hs, updates


def rnn_inputs(dtype: str = "float64") -> list:
    """x (steps, batch, in), w (in, hidden), u (hidden, hidden), h0 (batch, hidden)."""
    return [
        S.tensor3("x", dtype),
        S.matrix("w", dtype),
        S.matrix("u", dtype),
        S.matrix("h0", dtype),
    ]


def values(rng, dtype: str, steps: int = 5):
    return [
        rng.standard_normal((steps, 2, 3)).astype(dtype),
        rng.standard_normal((3, 4)).astype(dtype),
        (rng.standard_normal((4, 4)) * 0.4).astype(dtype),
        rng.standard_normal((2, 4)).astype(dtype),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_accumulators_of_an_rnn_are_summed_after_the_loop(dtype, rng):
    inputs, hs, updates = rnn_with_statistics(dtype)
    f = against_unrewritten(inputs, [hs], values(rng, dtype), updates, dtype)
    assert fired(f) == 2
    loop = loops(f)[0]
    assert loop.op.n_states == 1  # only the recurrence h is left in the loop


def test_reverse_loop(rng):
    """A loop running from the last step down: the sums do not depend on the order."""
    inputs, hs, updates = rnn_with_statistics("float64")
    loop = hs.owner
    parts = LoopParts.of(loop)
    parts.reverse = True
    backwards = parts.node("step").outputs
    f = against_unrewritten(inputs, backwards, values(rng, "float64"))
    assert fired(f) == 2


def test_zero_steps_keep_the_initial_value(rng):
    """With no step the sums are empty (a stacked output's rows need a static shape then)."""
    inputs, hs, updates = rnn_with_statistics("float64", static=True)
    outer = next(s for s in updates if s.name == "outer")
    f = S.compile(inputs, hs, updates=updates, device="cpu")
    assert fired(f) == 2
    outer.set_value(np.full((4, 4), 3.0))
    f(*values(rng, "float64", steps=0))
    np.testing.assert_array_equal(outer.get_value(), np.full((4, 4), 3.0))


def test_nonlinear_accumulation_declines(rng):
    """acc·0.9 + term, and a state the step reads elsewhere, stay in the loop."""
    x, w, u, h0 = rnn_inputs()
    decayed = S.shared(np.zeros((4, 4)), "decayed")
    read = S.shared(np.zeros((4, 4)), "read")

    def step(x_t, h):
        new = S.tanh(x_t @ w + h @ u + read[0])
        return new, {decayed: decayed * 0.9 + h.T @ new, read: read + h.T @ new}

    hs, updates = S.scan(step, x, h0)
    f = against_unrewritten([x, w, u, h0], [hs], values(rng, "float64"), updates)
    assert fired(f) == 0


def load_tutorial_layers():
    path = Path(__file__).resolve().parents[2] / "tutorials" / "layers.py"
    spec = importlib.util.spec_from_file_location("tutorial_layers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lstm_backward_loop_keeps_only_the_recurrence(rng):
    """The tutorial LSTM's gradients: every weight gradient is summed outside the backward
    loop, which carries only dh and dc."""
    layers = load_tutorial_layers()
    x, readout = S.tensor3("x"), S.tensor3("readout")
    hidden, params = layers.lstm(x, 3, 4, np.random.default_rng(1), "lstm")
    loss = (hidden * readout).sum()
    data = [rng.standard_normal(shape).astype("float32") for shape in ((6, 2, 3), (6, 2, 4))]
    f = against_unrewritten(
        [x, readout], [loss, *S.grad(loss, [*params, x])], data, None, "float32"
    )
    backward = next(n for n in loops(f) if n.op.reverse)
    assert backward.op.n_states == 2
    assert not any(backward.op.stacked)


def sliced_rnn(x, w, u, h0):
    """The step reads a slice of u: the gradient of u is added into an accumulator."""
    hs, _ = S.scan(lambda x_t, h: S.tanh(x_t @ w + h @ u[:, :4]), x, h0)
    return (hs**2).sum()


def test_gradient_accumulator_is_pushed_out_of_the_backward_loop(rng):
    x, w, u, h0 = rnn_inputs()
    cost = sliced_rnn(x, w, u, h0)
    points = values(rng, "float64")
    points[2] = rng.standard_normal((4, 6)) * 0.4
    f = against_unrewritten([x, w, u, h0], S.grad(cost, [w, u, h0, x]), points)
    assert fired(f) == 1
    backward = next(n for n in loops(f) if n.op.reverse)
    assert backward.op.n_states == 1  # the carry dh only


def test_gradient_through_pushed_out_accumulations_matches_finite_differences(rng):
    points = values(rng, "float64", steps=3)
    points[2] = rng.standard_normal((4, 6)) * 0.4
    S.verify_grad(sliced_rnn, points)

    def second_order(x, w, u, h0):  # differentiates the rewritten gradient once more
        return S.grad(sliced_rnn(x, w, u, h0), u) * u

    S.verify_grad(second_order, points)


def test_wider_terms_are_summed_before_the_cast(rng):
    """A float32 accumulator of float64 terms: the step casts acc + t back each time, the
    pushed-out sum once."""
    x = S.tensor3("x", "float64")
    acc = S.shared(np.zeros((2, 3), "float32"), "acc")
    hs, updates = S.scan(
        lambda x_t, h: (h * 0.5 + x_t, {acc: (acc + x_t * 2).astype("float32")}), x, x[0]
    )
    f = against_unrewritten([x], [hs], [rng.standard_normal((4, 2, 3))], updates, "float32")
    assert fired(f) == 1
