"""The reduction rules of stabilize read a reduction put back against its input in any
spelling (symbolic/optimizer/rules/reduced.py), and decline what only looks alike: a shift
not constant along the axis, or a reduction whose axes do not line up with its input's."""

import numpy as np
import pytest

import symbolic as S

# (static shape of x, the shift, the softmax axis, whether softmax_shift may drop it)
# fmt: off
SHIFTS = [
    ((3, 4), np.array([[1.0], [2.0], [3.0]]), 1, True),  # a bias per row: constant along axis 1
    ((3, 4), np.array([1.0, 2.0, 3.0, 4.0]), 0, True),  # a bias per column, along axis 0
    ((3, 4), np.array([1.0, 2.0, 3.0, 4.0]), 1, False),  # varies along the axis
    ((None, None), np.array([[1.0], [2.0], [3.0]]), 1, False),  # may broadcast x's rows
    ((3, 4), np.array([[np.inf]]), 1, False),  # softmax(x − inf) is NaN
]
# fmt: on


@pytest.mark.parametrize("shape,shift,axis,drops", SHIFTS)
def test_softmax_shift_drops_only_constants_along_its_axis(shape, shift, axis, drops):
    x = S.tensor("x", "float64", shape)
    f = S.compile([x], S.nnet.softmax(x - shift, axis), device="numpy")
    plain = S.compile([x], S.nnet.softmax(x - shift, axis), device="numpy", optimize=False)
    value = np.resize([1000.0, -1000.0, 0.0, 5.0, -3.0, 80.0, -80.0], (3, 4))
    assert ("softmax_shift" in dict(f.rewrites)) == drops
    with np.errstate(invalid="ignore"):  # inf − inf in the unoptimized reference
        np.testing.assert_allclose(f(value), plain(value), rtol=1e-12)


# formulas of a (3, 3) x that look like a rule's but whose reduction does not line up with x
# fmt: off
MISALIGNED = {
    "sum_over_last_axis_broadcast_over_rows": ("softmax", lambda x: S.exp(x) / S.exp(x).sum(1)),
    "sum_put_back_on_the_other_axis":
        ("softmax", lambda x: S.exp(x) / S.exp(x).sum(1).dimshuffle("x", 0)),
    "logsumexp_broadcast_over_rows":
        ("log_softmax_from_logsumexp", lambda x: x - S.logsumexp(x, axis=1)),
    "shift_by_a_max_over_the_other_axis":
        ("softmax_shift", lambda x: S.nnet.softmax(x - x.max(0, keepdims=True), 1)),
}
# fmt: on


@pytest.mark.parametrize("name", list(MISALIGNED))
def test_rules_decline_reductions_that_do_not_line_up(name):
    rule, formula = MISALIGNED[name]
    x = S.tensor("x", "float64", (3, 3))
    f = S.compile([x], formula(x), device="numpy")
    plain = S.compile([x], formula(x), device="numpy", optimize=False)
    value = np.arange(9.0).reshape(3, 3) / 4
    assert rule not in dict(f.rewrites)
    np.testing.assert_allclose(f(value), plain(value), rtol=1e-12)
