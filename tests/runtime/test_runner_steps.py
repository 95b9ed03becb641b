"""Nodes without a kernel that the C runner runs itself (runtime/runner_steps.py): views it
makes from a planned offset, shape and strides, and concatenations and products NumPy writes
into outputs it provides; all give the NumPy oracle's values and fresh results."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S
from runtime import native
from runtime.runner_steps import ViewStep, WriterStep

pytestmark = pytest.mark.skipif(native.header_dirs() is None, reason="no Python/NumPy headers")


def step_types(f) -> dict[str, set]:
    found: dict[str, set] = {}
    for step, _, _, node in f._program.schedule.steps:
        found.setdefault(node.op.name, set()).add(type(step).__name__)
    return found


def assert_oracle(inputs, outputs, *values) -> S.Function:
    f = S.compile(inputs, outputs, device="cpu")
    oracle = S.compile(inputs, outputs, device="numpy")
    for _ in range(2):  # the second call runs the plans the first one made
        for got, want in zip(f(*values), oracle(*values)):
            np.testing.assert_allclose(got, want, rtol=1e-13)  # sums may add in another order
    return f


def test_views_are_made_by_the_runner_and_give_the_oracle(rng):
    x = S.tensor3("x", "float64")
    views = [
        x[1:, ::-1, 0],
        x[:, None, 2, 1:3],
        x.dimshuffle(2, "x", 0, 1),
        x[::2].T,
        (x * 2)[1, ::-2].T,  # a view of an intermediate keeps it alive
    ]
    outputs = [v * 3 for v in views] + [x[1:].dimshuffle(1, 0, 2)]
    f = assert_oracle([x], outputs, rng.standard_normal((4, 5, 3)))
    types = step_types(f)
    assert types["subtensor"] == types["dimshuffle"] == {ViewStep.__name__}


def test_a_view_returned_is_a_fresh_array(rng):
    x = S.matrix("x", "float64")
    f = S.compile([x], [x[1:, ::2], x.T], device="cpu")
    data = rng.standard_normal((3, 4))
    for out in f(data):
        assert not np.shares_memory(out, data)
        out[...] = 0
    np.testing.assert_array_equal(f(data)[1], data.T)


def test_an_index_giving_one_element_runs_the_reference(rng):
    x = S.matrix("x", "float64")
    f = assert_oracle([x], [x[1, 2] * 2, x[-1, -1]], rng.standard_normal((3, 4)))
    assert (
        ViewStep.__name__ in step_types(f)["subtensor"]
    )  # planned: no view fits, the reference ran


def test_concatenations_are_written_into_planned_outputs(rng):
    a, b = S.matrix("a", "float64"), S.matrix("b", "float64")
    joined = S.concatenate([S.exp(a), b, a * 2], axis=1)
    f = assert_oracle([a, b], [joined.sum(), S.concatenate([a, b]) + 1], *[
        rng.standard_normal((3, 2)) for _ in range(2)
    ])  # fmt: skip
    assert step_types(f)["concatenate"] == {WriterStep.__name__}


def test_concatenations_that_cast_or_do_not_join_run_the_reference(rng):
    a, i = S.matrix("a", "float64"), S.matrix("i", "int64")
    assert_oracle(
        [a, i],
        S.concatenate([a, i], axis=1),
        rng.standard_normal((2, 2)),
        np.ones((2, 3), np.int64),
    )
    b = S.matrix("b", "float64")
    f = S.compile([a, b], S.concatenate([a, b]), device="cpu")
    with pytest.raises(ValueError, match="concatenate"):
        f(np.ones((2, 3)), np.ones((3, 2)))


def test_the_runners_concatenate_fills_its_output_or_says_why():
    concatenate = native.runner_module().concatenate
    a, b = np.arange(6.0).reshape(2, 3), np.arange(4.0).reshape(2, 2)[:, ::-1]
    out = np.empty((2, 5))
    assert concatenate(1, a, b, out) is None
    np.testing.assert_array_equal(out, np.concatenate([a, b], axis=1))
    with pytest.raises(ValueError, match="input 1 does not fit"):
        concatenate(1, a, np.ones((3, 2)), out)
    with pytest.raises(ValueError, match="fill 3 of 5 entries along axis 1"):
        concatenate(1, a, out)
    with pytest.raises(TypeError, match="an axis of out"):
        concatenate(2, a, b, out)


def test_concatenations_along_any_axis_of_strided_inputs(rng):
    x, y = S.tensor3("x", "float64"), S.tensor3("y", "float64")
    outputs = [S.concatenate([x, y.dimshuffle(0, 2, 1)], axis=2) * 2, S.concatenate([x, x])]
    values = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 3))
    f = assert_oracle([x, y], outputs, *values)
    assert step_types(f)["concatenate"] == {WriterStep.__name__}
