"""Every elementwise op's gradient rule (scalar_ops.py) against sympy's derivative of the op's
own sympy form (scalar_sympy.py), at sample points inside the op's domain.

One row per op of the scalar table; a new op without a row fails `test_every_scalar_op_has_a_row`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp

import symbolic as S
from symbolic.elemwise import Elemwise
from symbolic.scalar_ops import SCALAR_OPS


@dataclass(frozen=True)
class Row:
    """Where the rule is checked: one (lo, hi) per argument (or "bool" for a condition, which
    has no gradient); `signed` arguments take a random sign (magnitude in [lo, hi])."""

    domains: tuple
    signed: tuple = ()


ANY = (-3.0, 3.0)
NO_GRADIENT = None  # comparisons, predicates, bitwise ops: no gradient rule to check
# fmt: off
ROWS = {
    "exp": Row((ANY,)), "exp2": Row((ANY,)), "expm1": Row((ANY,)),
    "log": Row(((0.1, 5.0),)), "log2": Row(((0.1, 5.0),)), "log10": Row(((0.1, 5.0),)),
    "log1p": Row(((-0.9, 5.0),)), "log1mexp": Row(((-5.0, -0.01),)),
    "sqrt": Row(((0.1, 5.0),)), "reciprocal": Row(((0.2, 3.0),), signed=(0,)),
    "sin": Row((ANY,)), "cos": Row((ANY,)), "tan": Row(((-1.4, 1.4),)),
    "arcsin": Row(((-0.95, 0.95),)), "arccos": Row(((-0.95, 0.95),)), "arctan": Row((ANY,)),
    "sinh": Row((ANY,)), "cosh": Row((ANY,)), "tanh": Row((ANY,)),
    "arctanh": Row(((-0.95, 0.95),)), "sigmoid": Row(((-20.0, 20.0),)),
    "softplus": Row(((-20.0, 20.0),)), "erf": Row((ANY,)), "erfc": Row((ANY,)),
    "neg": Row((ANY,)), "abs": Row(((0.1, 3.0),), signed=(0,)), "square": Row((ANY,)),
    "relu": Row(((0.1, 3.0),), signed=(0,)),
    # steps: the derivative is 0 away from them
    "sign": Row(((0.1, 3.0),), signed=(0,)), "floor": Row((ANY,)), "ceil": Row((ANY,)),
    "round": Row((ANY,)),
    "add": Row((ANY, ANY)), "sub": Row((ANY, ANY)), "mul": Row((ANY, ANY)),
    "true_div": Row((ANY, (0.2, 3.0)), signed=(1,)),
    "floor_div": Row((ANY, (0.2, 3.0)), signed=(1,)),
    "mod": Row((ANY, (0.2, 3.0)), signed=(1,)),
    "pow": Row(((0.1, 3.0), ANY)),
    "maximum": Row((ANY, ANY)), "minimum": Row((ANY, ANY)),
    "where": Row(("bool", ANY, ANY)), "clip": Row((ANY, (-2.0, 0.0), (0.0, 2.0))),
    "lt": NO_GRADIENT, "le": NO_GRADIENT, "gt": NO_GRADIENT, "ge": NO_GRADIENT,
    "eq": NO_GRADIENT, "neq": NO_GRADIENT, "and": NO_GRADIENT, "or": NO_GRADIENT,
    "invert": NO_GRADIENT, "isnan": NO_GRADIENT, "isinf": NO_GRADIENT,
}
# fmt: on
# the sympy functions of scalar_sympy.py that NumPy does not know, for lambdify
NUMPY_OF_SYMPY = {
    "sigmoid_fn": SCALAR_OPS["sigmoid"].numpy,
    "softplus_fn": SCALAR_OPS["softplus"].numpy,
}


def test_every_scalar_op_has_a_row():
    assert set(ROWS) == set(SCALAR_OPS), f"rows missing: {set(SCALAR_OPS) - set(ROWS)}"


def test_ops_without_a_row_of_domains_have_no_gradient_rule():
    for name, row in ROWS.items():
        assert (row is NO_GRADIENT) == (SCALAR_OPS[name].grad is None), name


def sympy_derivatives(name: str, row: Row, points: list[np.ndarray]) -> list:
    """∂op/∂x_i of the op's sympy form at `points`, for each argument i (None: a condition).

    Step functions (floor, and the floor inside Mod) have an unevaluated derivative that is 0
    away from the steps; `rewrite(sp.floor)` spells Mod as x − y·floor(x/y)."""
    symbols = sp.symbols(f"a0:{len(row.domains)}", real=True)
    args = [s > 0 if d == "bool" else s for s, d in zip(symbols, row.domains)]
    form = SCALAR_OPS[name].sympy(*args).rewrite(sp.floor)
    derivatives = []
    for s, d in zip(symbols, row.domains):
        if d == "bool":
            derivatives.append(None)
            continue
        derivative = sp.diff(form, s).replace(
            lambda e: isinstance(e, (sp.Derivative, sp.Subs, sp.DiracDelta)), lambda e: 0
        )
        fn = sp.lambdify(symbols, derivative, modules=[NUMPY_OF_SYMPY, "numpy"])
        derivatives.append(np.broadcast_to(fn(*points), points[0].shape))
    return derivatives


def sample(row: Row, rng: np.random.Generator) -> list[np.ndarray]:
    points = []
    for i, d in enumerate(row.domains):
        if d == "bool":
            points.append(rng.uniform(-1, 1, 16))  # the condition is a0 > 0
            continue
        x = rng.uniform(*d, 16)
        points.append(x * rng.choice([-1.0, 1.0], 16) if i in row.signed else x)
    return points


@pytest.mark.parametrize("name", [n for n, r in ROWS.items() if r is not NO_GRADIENT])
def test_gradient_rule_matches_sympy_derivative(name, rng):
    row = ROWS[name]
    points = sample(row, rng)
    if name in ("floor", "ceil", "round", "floor_div", "mod"):  # keep away from the steps
        assert np.all(np.abs(points[0] - np.round(points[0])) > 1e-6)
    inputs = [
        S.vector(f"a{i}", "bool" if d == "bool" else "float64") for i, d in enumerate(row.domains)
    ]
    values = [p > 0 if d == "bool" else p for p, d in zip(points, row.domains)]
    op = Elemwise(SCALAR_OPS[name])
    out = op(*inputs)
    rule = op.grad(inputs, [out], [S.ones_like(out)])
    connected = [(g, i) for i, g in enumerate(rule) if g is not None]
    got = S.compile(inputs, [g for g, _ in connected], device="numpy")(*values)
    want = sympy_derivatives(name, row, points)
    assert [i for _, i in connected] == [i for i, w in enumerate(want) if w is not None]
    for g, (_, i) in zip(got, connected):
        np.testing.assert_allclose(g, want[i], rtol=1e-12, atol=1e-12, err_msg=f"{name} d/da{i}")
