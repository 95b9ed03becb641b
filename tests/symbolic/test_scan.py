"""S.scan: what the loops compute, on every device, against loops written in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S


def compiled(inputs, outputs, device, updates=None):
    return S.compile(inputs, outputs, updates=updates, device=device)


def close(got, want) -> None:
    """Against a loop written in NumPy: the same operations, maybe in another order."""
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_scan_cumulative_sum_matches_numpy(device, rng):
    x = S.matrix("x", "float64")
    out, updates = S.scan(lambda x_t, acc: acc + x_t, sequences=x, outputs_info=S.zeros_like(x[0]))
    data = rng.standard_normal((6, 3))
    assert updates == {}
    close(compiled([x], out, device)(data), np.cumsum(data, 0))


def test_scan_several_sequences_states_and_mapped_outputs(device, rng):
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    a, b = S.vector("a", "float64"), S.vector("b", "float64")
    w = S.vector("w", "float64")

    def step(x_t, y_t, s1, s2, w):  # outputs in the order of outputs_info: s1, mapped, s2
        return s1 * S.tanh(x_t) + s2, x_t * y_t + w, s2 * 0.5 + y_t

    (o1, o2, o3), _ = S.scan(step, [x, y], [a, None, b], non_sequences=[w])
    values = [rng.standard_normal((4, 3)), rng.standard_normal((5, 3))] + [
        rng.standard_normal(3) for _ in range(3)
    ]
    got = compiled([x, y, a, b, w], [o1, o2, o3], device)(*values)
    xv, yv, s1, s2, wv = values
    want = [[], [], []]
    for t in range(4):  # the shorter sequence sets the number of steps
        s1, s2, mapped = s1 * np.tanh(xv[t]) + s2, s2 * 0.5 + yv[t], xv[t] * yv[t] + wv
        for k, v in enumerate([s1, mapped, s2]):
            want[k].append(v)
    for g, w_ in zip(got, want):
        close(g, np.array(w_))


def test_scan_n_steps_without_sequences(device):
    a = S.vector("a", "float64")
    n = S.scalar("n", "int64")
    powers, _ = S.scan(lambda p, a: p * a, outputs_info=S.ones_like(a), non_sequences=a, n_steps=n)
    got = compiled([a, n], powers, device)(np.array([2.0, 3.0]), 4)
    np.testing.assert_array_equal(got, [[2, 3], [4, 9], [8, 27], [16, 81]])
    fixed, _ = S.scan(lambda p: p + 1, outputs_info=S.zeros((2,), "int64"), n_steps=3)
    np.testing.assert_array_equal(compiled([], fixed, device)(), [[1, 1], [2, 2], [3, 3]])


def test_scan_n_steps_shorter_than_the_sequence(device, rng):
    x = S.vector("x", "float64")
    out, _ = S.scan(
        lambda x_t, acc: acc + x_t, sequences=x, outputs_info=S.constant(0.0, "float64"), n_steps=3
    )
    data = rng.standard_normal(5)
    close(compiled([x], out, device)(data), np.cumsum(data[:3]))


def test_scan_single_output_is_a_variable_several_are_a_list():
    x = S.matrix("x")
    one, _ = S.scan(lambda x_t: x_t * 2, sequences=x)
    two, _ = S.scan(lambda x_t: (x_t * 2, x_t + 1), sequences=x)
    assert isinstance(one, S.Variable)
    assert isinstance(two, list) and len(two) == 2
    assert one.type.shape == (None, None) and two[1].ndim == 2


def test_scan_static_shapes_of_outputs():
    x = S.tensor("x", "float32", (7, 3))
    h0 = S.tensor("h0", "float32", (3,))
    hs, _ = S.scan(lambda x_t, h: h + x_t, sequences=x, outputs_info=h0)
    assert hs.type.shape == (7, 3)


def test_scan_reads_shared_variables_and_outer_expressions(device, rng):
    w = S.shared(rng.standard_normal((3, 3)), name="W")
    scale = S.scalar("scale", "float64")
    x = S.matrix("x", "float64")
    shrunk = scale * 0.5  # built outside: computed once and read by every step
    hs, _ = S.scan(lambda x_t, h: S.tanh(h @ w) * shrunk + x_t, x, S.zeros((3,), "float64"))
    data = rng.standard_normal((4, 3))
    h, want = np.zeros(3), []
    for t in range(4):
        h = np.tanh(h @ w.get_value()) * 1.5 + data[t]
        want.append(h)
    close(compiled([x, scale], hs, device)(data, 3.0), np.array(want))


def test_scan_updates_thread_through_the_steps(device, rng):
    count = S.shared(np.array(0, np.int64), name="count")
    total = S.shared(np.zeros(3), name="total")
    x = S.matrix("x", "float64")

    def step(x_t):
        return x_t * 2, {count: count + 1, total: total * 0.5 + x_t}

    doubled, updates = S.scan(step, sequences=x)
    assert list(updates) == [count, total]
    f = compiled([x], doubled, device, updates=updates)
    data = rng.standard_normal((5, 3))
    f(data)
    f(data)
    want = np.zeros(3)
    for _ in range(2):
        for t in range(5):
            want = want * 0.5 + data[t]
    assert count.get_value() == 10
    close(total.get_value(), want)


def test_scan_step_return_forms():
    x = S.matrix("x")
    s = S.shared(np.zeros(2, np.float32), name="s")
    for returned in [
        lambda x_t: (x_t, []),
        lambda x_t: (x_t, {}),
        lambda x_t: ([x_t], {s: s + x_t}),
        lambda x_t: ({s: s + x_t}, x_t),
    ]:
        out, updates = S.scan(returned, sequences=x)
        assert isinstance(out, S.Variable) and out.ndim == 2
        assert list(updates) in ([], [s])


def test_scan_step_returning_only_updates(device):
    state = S.shared(np.array(1.0), name="state")
    outputs, updates = S.scan(lambda: [(state, state * 3.0)], n_steps=4)
    assert outputs == []
    compiled([], [], device, updates=updates)()
    assert state.get_value() == 81.0


def test_scan_failed_call_changes_no_shared_variable(device):
    total = S.shared(np.zeros(2), name="total")
    x = S.matrix("x", "float64")
    n = S.scalar("n", "int64")
    _, updates = S.scan(lambda x_t: {total: total + x_t}, sequences=x, n_steps=n)
    f = compiled([x, n], [], device, updates=updates)
    with pytest.raises(ValueError, match="fewer than n_steps"):
        f(np.ones((2, 2)), 3)
    np.testing.assert_array_equal(total.get_value(), [0, 0])


class Stream(S.SharedVariable):
    """A state with a default update, as a random stream's state may carry."""

    __slots__ = ("default_update",)


def test_scan_default_update_of_a_state_read_by_the_step(device):
    state = Stream(np.array(0.0), name="state")
    state.default_update = state + 1.0  # advanced once per step, without being returned
    draws, updates = S.scan(lambda: state * 10.0, n_steps=3)
    assert list(updates) == [state]
    got = compiled([], draws, device, updates=updates)()
    np.testing.assert_array_equal(got, [0, 10, 20])
    assert state.get_value() == 3.0


def test_scan_nested_loops(device, rng):
    x = S.tensor3("x", "float64")

    def outer(m, acc):
        rows, _ = S.scan(
            lambda r, s: s + r * acc.sum(), sequences=m, outputs_info=S.zeros_like(m[0])
        )
        return acc + rows[-1]

    out, _ = S.scan(outer, sequences=x, outputs_info=S.ones_like(x[0, 0]))
    data = rng.standard_normal((3, 4, 2))
    acc, want = np.ones(2), []
    for m in data:
        acc = acc + m.sum(0) * acc.sum()
        want.append(acc)
    close(compiled([x], out, device)(data), np.array(want))


def test_scan_zero_steps_gives_empty_stacks(device):
    h0, n = S.vector("h0", "float64"), S.scalar("n", "int64")
    hs, _ = S.scan(lambda h: h * 2, outputs_info=h0, n_steps=n)
    f = S.compile([h0, n], hs, device=device)
    assert f(np.ones(3), 0).shape == (0, 3)


def test_scan_outputs_stay_fresh_across_calls(device, rng):
    x = S.matrix("x", "float64")
    hs, _ = S.scan(lambda x_t, h: h + x_t, sequences=x, outputs_info=S.zeros_like(x[0]))
    f = compiled([x], [hs, hs[-1] * 2], device)
    first, last = f(np.ones((3, 2)))
    kept = first.copy(), last.copy()
    f(rng.standard_normal((3, 2)))  # reusing buffers must not touch what the caller holds
    np.testing.assert_array_equal(first, kept[0])
    np.testing.assert_array_equal(last, kept[1])


def test_scan_taps_dictionaries(device):
    x = S.vector("x", "float64")
    out, _ = S.scan(
        lambda x_t, s: s + x_t,
        sequences={"input": x, "taps": [0]},
        outputs_info={"initial": S.constant(1.0, "float64"), "taps": [-1]},
    )
    np.testing.assert_array_equal(compiled([x], out, device)(np.array([1.0, 2.0])), [2, 4])
    with pytest.raises(NotImplementedError, match="taps"):
        S.scan(lambda a, b, s: s, sequences=x, outputs_info={"initial": x[0], "taps": [-2]})


def test_scan_reused_buffers_give_the_oracle_on_every_call(device, rng):
    x = S.tensor3("x", "float64")
    hs, _ = S.scan(lambda x_t, h: S.tanh(h + x_t), sequences=x, outputs_info=S.zeros_like(x[0]))
    cost = (hs * hs).sum()  # the stacked rows are an intermediate: their buffer is reused
    outputs = [cost, S.grad(cost, x)]
    f, oracle = compiled([x], outputs, device), compiled([x], outputs, "numpy")
    for _ in range(3):
        data = rng.standard_normal((5, 2, 3))
        for got, want in zip(f(data), oracle(data)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_rows_shared_while_one_array_then_copied():
    from symbolic.scan.loop import Rows, new_buffer

    rows = Rows(3, 2, new_buffer)
    a = np.arange(2.0)
    rows.store(0, [a, a])  # one array: one buffer
    rows.store(1, [a + 1, a + 1])  # two arrays from here on: the second gets its own copy
    rows.store(2, [a + 2, a * 10])
    first, second = rows.result()
    np.testing.assert_array_equal(first, [[0, 1], [1, 2], [2, 3]])
    np.testing.assert_array_equal(second, [[0, 1], [1, 2], [0, 10]])
    assert first is not second
