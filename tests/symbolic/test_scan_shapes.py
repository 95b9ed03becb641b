"""The shape rules the backward step uses (symbolic/scan/shapes.py) against NumPy's shapes."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S
from symbolic.scan.shapes import shape_rule, size_rule
from symbolic.shape import Size, shape_of

X = S.tensor("x", "float64", (None, None, None))
Y = S.tensor("y", "float64", (None, None))
CASES = {
    "broadcast": (lambda x, y: x * y, [(4, 1, 3), (5, 1)]),
    "index": (lambda x, y: x[1:, None, ::2, 0], [(4, 5, 3), (1, 1)]),
    "matmul": (lambda x, y: S.matmul(x, y), [(2, 4, 3), (3, 6)]),
    "dimshuffle": (lambda x, y: x.dimshuffle(2, "x", 0), [(4, 1, 3), (1, 1)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_shape_rule_matches_the_computed_shape(case, rng):
    fn, shapes = CASES[case]
    v = fn(X, Y)
    op, reads = shape_rule(v, shape_of)
    assert op.rule == case
    values = [rng.standard_normal(s) for s in shapes]
    # every case takes both inputs, and some read one only
    want = S.compile([X, Y], v, device="numpy", on_unused_input="ignore")(*values).shape
    got = S.compile([X, Y], op(*reads), device="numpy", on_unused_input="ignore")(*values)
    np.testing.assert_array_equal(got, want)


def test_size_rule_multiplies_the_axes(rng):
    v = Size((0, 2))(X)
    op, reads = size_rule(v, shape_of)
    assert S.compile([X], op(*reads), device="numpy")(np.zeros((4, 5, 3))) == 12


def test_ops_without_a_rule_have_none():
    assert shape_rule(X.sum(axis=0), shape_of) is None
    assert size_rule(X, shape_of) is None
