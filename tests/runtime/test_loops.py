"""Loops on the cpu device (runtime/loops.py): where the C runner is built, a loop's steps run
in one call of it (runtime/runner_loop.c), with the stacked rows written in place and memory
reused from step to step; values are the NumPy oracle's either way."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S
from runtime import native
from runtime.cpu_backend import PlannedStep
from runtime.loops import MIN_STEPS_TO_COPY, Loop, NativeLoop

needs_runner = pytest.mark.skipif(native.header_dirs() is None, reason="no Python/NumPy headers")


def loops_of(f) -> list[Loop]:
    return [step for step, *_ in f._program.schedule.steps if isinstance(step, Loop)]


def lstm(x, h0, wx, wh):
    n = h0.type.shape[1]

    def step(x_t, h, c):
        z = x_t @ wx + h @ wh
        i, f, g = S.sigmoid(z[:, :n]), S.sigmoid(z[:, n : 2 * n]), S.tanh(z[:, 2 * n : 3 * n])
        c = f * c + i * g
        return S.sigmoid(z[:, 3 * n :]) * S.tanh(c), c

    (hs, cs), _ = S.scan(step, sequences=[x], outputs_info=[h0, h0])
    return hs, cs


def lstm_outputs(rng):
    x, h0 = S.tensor3("x", "float64"), S.tensor("h0", "float64", (None, 3))
    wx = S.shared(rng.standard_normal((4, 12)) * 0.5, name="Wx")
    wh = S.shared(rng.standard_normal((3, 12)) * 0.5, name="Wh")
    hs, cs = lstm(x, h0, wx, wh)
    cost = (hs**2).sum() + cs[-1].sum()
    return [x, h0], [cost, hs, *S.grad(cost, [wx, wh, h0])]


def assert_oracle(f, oracle, values) -> None:
    for got, want in zip(f(*values), oracle(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@needs_runner
def test_loops_with_a_specialized_step_run_in_the_runner(rng):
    inputs, outputs = lstm_outputs(rng)
    f = S.compile(inputs, outputs, device="cpu")
    oracle = S.compile(inputs, outputs, device="numpy")
    for batch in (2, 5):
        assert_oracle(
            f, oracle, (rng.standard_normal((6, batch, 4)), rng.standard_normal((batch, 3)))
        )
    loops = loops_of(f)
    assert len(loops) == 2 and any(loop.op.reverse for loop in loops)  # forward and backward
    for loop in loops:
        assert len(loop.steps) == 2
        assert all(isinstance(step, NativeLoop) for step in loop.steps.values())
        for step in loop.steps.values():  # products, kernels, slices, W.T, concatenations
            assert all(isinstance(s, PlannedStep) for s, *_ in step.program.schedule.steps)


@needs_runner
def test_stacked_rows_are_written_in_place_and_memory_is_reused_across_steps(rng):
    x = S.tensor3("x", "float64")
    w = S.shared(rng.standard_normal((3, 3)), name="W")
    hs, _ = S.scan(lambda x_t, h: S.tanh(h @ w + x_t), sequences=x, outputs_info=x[0])
    f = S.compile([x], hs, device="cpu")
    counts = []
    for steps in (4, 40):
        data = rng.standard_normal((steps, 2, 3))
        h, want = data[0], []
        for t in range(steps):
            h = np.tanh(h @ w.get_value() + data[t])
            want.append(h)
        np.testing.assert_allclose(f(data), want, rtol=1e-12)
        (loop,) = loops_of(f)
        (step,) = [s for s in loop.steps.values() if isinstance(s, NativeLoop)]
        counts.append(dict(step.runner.counts))
    (first, second) = counts
    # every step's h is its row of hs, written there by the kernel computing it
    assert second["reused"] - first["reused"] == 40
    # the product of each step takes a buffer a step before freed: 40 steps allocate no more
    # than one step does
    assert second["allocated"] - first["allocated"] <= 2


@needs_runner
def test_loop_outputs_of_every_kind_match_the_oracle(rng):
    """Rows of a sequence, a state passed through, a view, a constant, one value returned
    twice: whatever the step's value is, its row is right."""
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    s0 = S.vector("s0", "float64")

    def step(x_t, y_t, s, carried):
        new = S.tanh(s * x_t) + y_t
        twice = new * 2
        return new, carried, x_t, new[1:], S.constant(np.ones(3)), twice, twice

    outputs, _ = S.scan(step, [x, y], [s0, s0, None, None, None, None, None])
    f = S.compile([x, y, s0], outputs, device="cpu")
    oracle = S.compile([x, y, s0], outputs, device="numpy")
    values = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    assert_oracle(f, oracle, values)
    assert_oracle(f, oracle, values)  # the second call reuses the first call's rows
    (loop,) = loops_of(f)
    assert all(isinstance(step, NativeLoop) for step in loop.steps.values())


@needs_runner
def test_a_step_failing_in_the_runner_names_the_step_and_changes_nothing(rng):
    table = S.shared(rng.standard_normal((4, 2)), name="table")
    picks = S.vector("picks", "int64")

    def pick(i, acc):
        return acc + table[i]

    total, _ = S.scan(pick, sequences=picks, outputs_info=S.zeros((2,), "float64"))
    f = S.compile([picks], total[-1], updates=[(table, table * 2)], device="cpu")
    before = table.get_value()
    np.testing.assert_allclose(f(np.array([0, 3, 1])), before[[0, 3, 1]].sum(0), rtol=1e-12)
    table.set_value(before)
    with pytest.raises(IndexError, match=r"step 2 of 3 of the step function 'pick'"):
        f(np.array([0, 1, 9]))
    np.testing.assert_array_equal(table.get_value(), before)
    (loop,) = loops_of(f)
    assert all(isinstance(step, NativeLoop) for step in loop.steps.values())


def test_without_the_runner_loops_run_their_steps_from_python(rng, monkeypatch):
    monkeypatch.setattr(native, "_MODULE", False)
    inputs, outputs = lstm_outputs(rng)
    f = S.compile(inputs, outputs, device="cpu")
    oracle = S.compile(inputs, outputs, device="numpy")
    assert_oracle(f, oracle, (rng.standard_normal((6, 2, 4)), rng.standard_normal((2, 3))))
    for loop in loops_of(f):
        assert not any(isinstance(step, NativeLoop) for step in loop.steps.values())


@needs_runner
def test_the_runner_loop_refuses_inputs_that_do_not_fit_the_step(rng):
    x = S.matrix("x", "float64")
    hs, _ = S.scan(lambda x_t, h: h + x_t, sequences=x, outputs_info=x[0])
    f = S.compile([x], hs, device="cpu")
    f(np.ones((3, 2)))
    (loop,) = loops_of(f)
    (step,) = loop.steps.values()
    row, none = np.ones(2), lambda *a: None
    with pytest.raises(TypeError, match="takes 2 leaves"):
        step.runner.loop(3, False, (), (row,), (), (np.ones((3, 2)),), none, none)
    with pytest.raises(ValueError, match="sequence 0 has 2 rows for 3 steps"):
        step.runner.loop(3, False, (np.ones((2, 2)),), (row,), (), (np.ones((3, 2)),), none, none)
    with pytest.raises(ValueError, match="stacked output 0 has 4 rows for 3 steps"):
        step.runner.loop(3, False, (np.ones((3, 2)),), (row,), (), (np.ones((4, 2)),), none, none)


@needs_runner
@pytest.mark.parametrize("steps", [3, MIN_STEPS_TO_COPY])
def test_products_of_a_long_loop_read_a_contiguous_copy_of_a_transposed_operand(
    steps, rng, use_blas
):
    """With a BLAS that packs no operand (NumPy's OpenBLAS), a transposed non-sequence a
    product reads is copied contiguous once per call when the loop is long enough to pay for
    the copy; values are the oracle's either way."""
    use_blas("openblas")
    x, w = S.tensor3("x", "float64"), S.matrix("w", "float64")
    hs, _ = S.scan(lambda x_t, h, wt: S.tanh(h @ wt + x_t), x, x[0], non_sequences=[w.T])
    f = S.compile([x, w], hs, device="cpu")
    oracle = S.compile([x, w], hs, device="numpy")
    (loop,) = loops_of(f)
    copies = []
    for _ in range(2):  # the second call copies new values into the first call's copy
        values = rng.standard_normal((steps, 2, 3)), rng.standard_normal((3, 3))
        assert_oracle(f, oracle, values)
        copies.append([id(a) for a in loop.copies.kept.values()])
    assert copies[0] == copies[1] and len(copies[0]) == (steps >= MIN_STEPS_TO_COPY)
    (step,) = loop.steps.values()
    (product,) = [s for s, *_ in step.program.schedule.steps if s.node.op.name == "dot"]
    (layout,) = product.plans  # one plan: the layout the operands had at every step
    operand_strides = layout[1][1]
    assert operand_strides == ((24, 8) if steps >= MIN_STEPS_TO_COPY else (8, 24))


@needs_runner
def test_a_contiguous_copy_the_step_hands_out_is_not_written_by_the_next_call(rng):
    x, w = S.tensor3("x", "float64"), S.matrix("w", "float64")

    def step(x_t, h, last, wt):
        return S.tanh(h @ wt + x_t), wt

    (hs, last), _ = S.scan(step, x, [x[0], w], non_sequences=[w.T])
    f = S.compile([x, w], [hs, last[-1]], device="cpu")
    oracle = S.compile([x, w], [hs, last[-1]], device="numpy")
    first = (rng.standard_normal((MIN_STEPS_TO_COPY, 3, 3)), rng.standard_normal((3, 3)))
    kept = f(*first)
    assert_oracle(f, oracle, (rng.standard_normal((MIN_STEPS_TO_COPY, 3, 3)), first[1] * 2))
    np.testing.assert_array_equal(kept[1], first[1].T)


def residual_loop(reverse: bool):
    """h ← tanh(h·W + x_t), stacked, with the state before each step as a second stacked output
    (what a backward loop reads as a residual), run forwards or backwards."""
    from symbolic.graph import tensor
    from symbolic.scan.parts import LoopParts

    x, h0 = S.tensor3("x", "float64"), S.matrix("h0", "float64")
    w = S.matrix("w", "float64")
    x_t, h = tensor("x[t]", "float64", (None, 3)), S.matrix("h", "float64")
    w_in = tensor("W", "float64", (None, None))
    parts = LoopParts(x.shape[0], reverse=reverse)
    parts.add_sequence(x_t, x)
    parts.states, parts.initials, parts.stacked = [h], [h0], [True]
    parts.new_states = [S.tanh(h @ w_in + x_t)]
    parts.add_fixed(w_in, w)
    parts.mapped = [h]  # the state before the step
    after, before = parts.node().outputs
    return [x, h0, w], [after, before]


@needs_runner
@pytest.mark.parametrize("reverse", [False, True])
def test_the_states_before_the_steps_share_the_states_stack(reverse, rng):
    inputs, outputs = residual_loop(reverse)
    f = S.compile(inputs, outputs, device="cpu")
    oracle = S.compile(inputs, outputs, device="numpy")
    values = [rng.standard_normal(shape) for shape in ((5, 2, 3), (2, 3), (3, 3))]
    after, before = f(*values)
    assert_oracle(f, oracle, values)
    (loop,) = loops_of(f)
    (step,) = [s for s in loop.steps.values() if isinstance(s, NativeLoop)]
    assert step.previous == {1: 0}
    # one buffer of n + 1 rows: the state before a step is the state after the step before
    if reverse:
        np.testing.assert_array_equal(before[:-1], after[1:])
    else:
        np.testing.assert_array_equal(before[1:], after[:-1])
    # a second call on other values while the caller holds the first results
    again = f(*[v * 0.5 for v in values])
    assert not np.shares_memory(again[0], after)
    np.testing.assert_array_equal(f(*values)[1], before)
