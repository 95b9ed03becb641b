"""Slices lifted above elementwise nodes (symbolic/optimizer/slice_lift.py): where they are and
are not lifted, and that the lifted graph computes what the unoptimized one does."""

import numpy as np
import pytest
from conftest import both_ways

import symbolic as S
from symbolic.graph import toposort
from symbolic.optimizer.rewriter import RewriteLog
from symbolic.optimizer.slice_lift import lift_slices, operand_spec

H = 4


def gates(z):
    """An LSTM step's gate activations and new state from z of 4·H columns."""
    i, f = S.sigmoid(z[:, :H]), S.sigmoid(z[:, H : 2 * H])
    g, o = S.tanh(z[:, 2 * H : 3 * H]), S.sigmoid(z[:, 3 * H :])
    return o * S.tanh(f + i * g)


def static_inputs():
    x = S.tensor("x", "float64", (3, 4 * H))
    h = S.tensor("h", "float64", (3, 4 * H))
    b = S.tensor("b", "float64", (4 * H,))
    return x, h, b


def values(rng, *vs):
    return [rng.standard_normal(v.type.shape) for v in vs]


def assert_close(got, want):
    """Generated code's vector math is within 4 ulp of libm per call; a gate chains five calls."""
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def lifted(outputs):
    outputs = outputs if isinstance(outputs, list) else [outputs]
    log = RewriteLog()
    return lift_slices(outputs, log), log


def test_lstm_gate_slices_are_lifted_through_a_chain_of_additions(rng):
    x, h, b = static_inputs()
    out = gates(x + h + b)
    (new,), log = lifted(out)
    assert "lift_slices" in log
    # no node computes the whole z any more: every addition is of slices
    adds = [n for n in toposort([new]) if n.op.name == "add"]
    assert adds and all(n.outputs[0].type.shape[1] == H for n in adds)
    # after every phase the additions join the gate kernel: one kernel in all
    names = [n.op.name for n in toposort([S.optimize(out)])]
    assert len([n for n in names if n.startswith("fused")]) == 1
    fast, plain = both_ways([x, h, b], out, values(rng, x, h, b), device="cpu")
    assert_close(fast, plain)


def test_lifted_graph_on_the_numpy_device_equals_the_unoptimized_one(rng):
    x, h, b = static_inputs()
    out = gates(S.exp(x) * h - b)
    fast, plain = both_ways([x, h, b], out, values(rng, x, h, b))
    np.testing.assert_array_equal(fast, plain)


@pytest.mark.parametrize(
    "make",
    [
        lambda z: [gates(z), (z * z).sum()],  # z is also read whole
        lambda z: [z[:, : 3 * H] * 2, z[:, H:] * 3],  # the slices overlap: work done twice
        lambda z: [z[0] * 2, z[1] * 3],  # an integer index drops an axis
    ],
    ids=["read-whole", "overlapping", "integer-index"],
)
def test_slices_stay_below_where_lifting_would_cost(make, rng):
    x, h, b = static_inputs()
    outs = make(x + h)
    new, log = lifted(outs)
    assert "lift_slices" not in log
    whole = [n for n in toposort(new) if n.op.name == "add" and n.inputs[0] is x]
    assert len(whole) == 1 and whole[0].inputs[1] is h
    fast, plain = both_ways([x, h], outs, values(rng, x, h), device="cpu")
    for got, want in zip(fast, plain):
        assert_close(got, want)


def test_a_result_is_never_lifted():
    x, h, _ = static_inputs()
    z = x + h
    _, log = lifted([z, z[:, :H] * 2])
    assert "lift_slices" not in log


def test_unknown_lengths(rng):
    # a sliced axis of unknown length may broadcast at run time: not lifted
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    _, log = lifted((x + y)[:, :2] * 2)
    assert "lift_slices" not in log
    # known on the sliced axis, unknown elsewhere: the sizes cannot prove two slices disjoint
    x, y = S.tensor("x", "float64", (None, 6)), S.tensor("y", "float64", (None, 6))
    z = x + y
    _, one = lifted(z[:, :2] * 2)
    _, two = lifted([z[:, :2] * 2, z[:, 2:] * 3])
    assert "lift_slices" in one and "lift_slices" not in two
    out = S.tanh((x * y)[:, 1:3])
    fast, plain = both_ways([x, y], out, [rng.standard_normal((3, 6))] * 2, device="cpu")
    assert_close(fast, plain)


def test_broadcast_operands_keep_their_broadcast_axis(rng):
    x = S.tensor("x", "float64", (3, 8))
    column = S.tensor("c", "float64", (3, 1))
    row = S.tensor("r", "float64", (8,))
    z = x * column + row + 1.5
    outs = [S.exp(z[:, :4]), S.tanh(z[:, 4:])]
    _, log = lifted(outs)
    assert "lift_slices" in log
    args = [rng.standard_normal(v.type.shape) for v in (x, column, row)]
    fast, plain = both_ways([x, column, row], outs, args, device="cpu")
    for got, want in zip(fast, plain):
        assert_close(got, want)


def test_operand_spec_of_broadcast_and_unknown_axes():
    out = S.tensor("z", "float64", (3, 8))
    spec = (("slice", None, None, None), ("slice", 2, 4, None))
    assert operand_spec(spec, S.tensor("r", "float64", (8,)), out) == (("slice", 2, 4, None),)
    assert operand_spec(spec, S.tensor("c", "float64", (3, 1)), out) == ()
    assert operand_spec(spec, S.tensor("u", "float64", (3, None)), out) is None


def test_gradient_through_lifted_slices_matches_finite_differences(rng):
    x, h, b = static_inputs()
    S.verify_grad(
        lambda x, h, b: gates(x + h + b), values(rng, x, h, b), rng=np.random.default_rng(1)
    )


def test_a_long_chain_under_slices_lifts_in_one_pass():
    # a chain far deeper than Python's recursion limit: decisions and rebuild are iterative
    x = S.tensor("x", "float64", (2, 6))
    z = x
    for _ in range(3000):
        z = z * 1.0001 + x
    (new_a, new_b), log = lifted([z[:, :3] * 2, z[:, 3:] * 3])
    assert "lift_slices" in log
    widths = {n.outputs[0].type.shape for n in toposort([new_a, new_b]) if n.op.name == "add"}
    assert widths == {(2, 3)}
