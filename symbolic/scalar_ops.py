"""Every elementwise operation, defined once: NumPy reference, derivative, dtype rule.

The NumPy function is the reference; the sympy form (the scalar meaning fused expressions are
composed of) is in scalar_sympy.py, imported on first use of `ScalarOp.sympy` so that
`import symbolic` does not import sympy; its C spelling is in codegen/cprinter.py; the
derivative is written with tensor ops so gradients are graphs. `x` are the inputs, `z` the
output and `g` the output gradient; each rule returns one gradient per input (before the
Elemwise wrapper sums broadcast axes away and casts back to the input's dtype).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import symbolic as S  # the tensor functions the derivatives use, looked up at call time
from symbolic import dtypes


def _erf(a):  # NumPy has no erf; math.erf is exact, and the reference need not be fast
    return np.frompyfunc(math.erf, 1, 1)(a)


def _erfc(a):
    return np.frompyfunc(math.erfc, 1, 1)(a)


def _softplus(a):  # log(1 + e^x) without overflow
    return np.logaddexp(np.zeros((), a.dtype), a)


def _log1mexp(a):  # log(1 − e^x) for x < 0: log(−expm1 x) near 0, log1p(−e^x) far from it
    return np.where(a > -LN2, np.log(-np.expm1(a)), np.log1p(-np.exp(a)))


def _sigmoid(a):  # 1 / (1 + e^−x) for x ≥ 0, e^x / (1 + e^x) for x < 0: e^−|x| cannot overflow
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


# dtype rules: input dtypes -> (the dtype(s) inputs are cast to before computing, output dtype)
def _float(ins):
    d = dtypes.to_float(dtypes.promote(*ins))
    return d, d


def _same(ins):
    d = dtypes.promote(*ins)
    return d, d


def _compare(ins):
    return dtypes.promote(*ins), "bool"


def _predicate(ins):
    return ins[0], "bool"


def _logical(ins):
    d = dtypes.promote(*ins)
    if dtypes.is_float(d):
        raise TypeError(f"logical/bitwise operations need bool or integer operands, got {ins}")
    return d, d


def _where(ins):  # the condition is read as bool; the branches promote
    d = dtypes.promote(*ins[1:])
    return ("bool", d, d), d


@dataclass(frozen=True)
class ScalarOp:
    name: str
    nin: int
    numpy: Callable
    grad: Callable | None  # (x: list, z, g) -> list of gradients, None for no gradient
    dtype_rule: Callable = _float

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self):  # by name: the table's lambdas do not pickle
        return scalar_op, (self.name,)

    @property
    def sympy(self) -> Callable:
        """The sympy form: a callable on sympy expressions (imports sympy on first use)."""
        from symbolic.scalar_sympy import SYMPY_FORMS

        return SYMPY_FORMS[self.name]


def scalar_op(name: str) -> ScalarOp:
    return SCALAR_OPS[name]


def zero(x):
    return S.zeros_like(x)


LN2, LN10, TWO_OVER_SQRT_PI = math.log(2), math.log(10), 2 / math.sqrt(math.pi)
U = {  # unary float functions: name -> (numpy, derivative)
    "exp": (np.exp, lambda x, z, g: [g * z]),
    "exp2": (np.exp2, lambda x, z, g: [g * z * LN2]),
    "log": (np.log, lambda x, z, g: [g / x[0]]),
    "log2": (np.log2, lambda x, z, g: [g / (x[0] * LN2)]),
    "log10": (np.log10, lambda x, z, g: [g / (x[0] * LN10)]),
    "log1p": (np.log1p, lambda x, z, g: [g / (x[0] + 1)]),
    "expm1": (np.expm1, lambda x, z, g: [g * (z + 1)]),
    "sqrt": (np.sqrt, lambda x, z, g: [g * 0.5 / z]),
    "sin": (np.sin, lambda x, z, g: [g * S.cos(x[0])]),
    "cos": (np.cos, lambda x, z, g: [-g * S.sin(x[0])]),
    "tan": (np.tan, lambda x, z, g: [g * (z * z + 1)]),
    "arcsin": (np.arcsin, lambda x, z, g: [g / S.sqrt(1 - x[0] * x[0])]),
    "arccos": (np.arccos, lambda x, z, g: [-g / S.sqrt(1 - x[0] * x[0])]),
    "arctan": (np.arctan, lambda x, z, g: [g / (x[0] * x[0] + 1)]),
    "sinh": (np.sinh, lambda x, z, g: [g * S.cosh(x[0])]),
    "cosh": (np.cosh, lambda x, z, g: [g * S.sinh(x[0])]),
    "tanh": (np.tanh, lambda x, z, g: [g * (1 - z * z)]),
    "arctanh": (np.arctanh, lambda x, z, g: [g / (1 - x[0] * x[0])]),
    # σ' = σ(1 − σ), with 1 − σ(x) written σ(−x): no cancellation for x ≫ 0
    "sigmoid": (_sigmoid, lambda x, z, g: [g * z * S.sigmoid(-x[0])]),
    "softplus": (_softplus, lambda x, z, g: [g * S.sigmoid(x[0])]),
    "erf": (_erf, lambda x, z, g: [g * TWO_OVER_SQRT_PI * S.exp(-x[0] * x[0])]),
    # log1mexp(x) = log(1 − e^x); d/dx = −e^x / (1 − e^x) = −1 / expm1(−x)
    "log1mexp": (_log1mexp, lambda x, z, g: [-g / S.expm1(-x[0])]),
    "erfc": (_erfc, lambda x, z, g: [-g * TWO_OVER_SQRT_PI * S.exp(-x[0] * x[0])]),
    "reciprocal": (np.reciprocal, lambda x, z, g: [-g * z * z]),  # d(1/x) = −z²
}
SAME_UNARY = {  # unary functions that keep the dtype
    "neg": (np.negative, lambda x, z, g: [-g]),
    "abs": (np.abs, lambda x, z, g: [g * S.sign(x[0])]),
    "square": (np.square, lambda x, z, g: [g * 2 * x[0]]),
    "sign": (np.sign, lambda x, z, g: [zero(x[0])]),
    "floor": (np.floor, lambda x, z, g: [zero(x[0])]),
    "ceil": (np.ceil, lambda x, z, g: [zero(x[0])]),
    "round": (np.round, lambda x, z, g: [zero(x[0])]),  # half to even
    "relu": (
        lambda a: np.maximum(a, 0),
        lambda x, z, g: [S.where(x[0] > 0, g, 0)],
    ),  # relu'(0) = 0
}
BINARY = {  # name -> (numpy, derivative, dtype rule)
    "add": (np.add, lambda x, z, g: [g, g], _same),
    "sub": (np.subtract, lambda x, z, g: [g, -g], _same),
    "mul": (np.multiply, lambda x, z, g: [g * x[1], g * x[0]], _same),
    "true_div": (
        np.true_divide,
        lambda x, z, g: [g / x[1], -g * z / x[1]],
        _float,
    ),
    "floor_div": (
        np.floor_divide,
        lambda x, z, g: [zero(x[0]), zero(x[1])],
        _same,
    ),
    "mod": (np.mod, lambda x, z, g: [g, -g * S.floor_div(x[0], x[1])], _same),
    # d(x^y) = y x^(y−1) dx + x^y log(x) dy
    "pow": (
        np.power,
        lambda x, z, g: [g * x[1] * x[0] ** (x[1] - 1), g * z * S.log(x[0])],
        _same,
    ),
    # the larger input takes the gradient; on a tie it goes to x
    "maximum": (
        np.maximum,
        lambda x, z, g: [S.where(x[0] >= x[1], g, 0), S.where(x[0] < x[1], g, 0)],
        _same,
    ),
    "minimum": (
        np.minimum,
        lambda x, z, g: [S.where(x[0] <= x[1], g, 0), S.where(x[0] > x[1], g, 0)],
        _same,
    ),
    "lt": (np.less, None, _compare),
    "le": (np.less_equal, None, _compare),
    "gt": (np.greater, None, _compare),
    "ge": (np.greater_equal, None, _compare),
    "eq": (np.equal, None, _compare),
    "neq": (np.not_equal, None, _compare),
    "and": (np.bitwise_and, None, _logical),
    "or": (np.bitwise_or, None, _logical),
}
SCALAR_OPS = {
    **{n: ScalarOp(n, 1, f, d, _float) for n, (f, d) in U.items()},
    **{n: ScalarOp(n, 1, f, d, _same) for n, (f, d) in SAME_UNARY.items()},
    **{n: ScalarOp(n, 2, f, d, r) for n, (f, d, r) in BINARY.items()},
    "invert": ScalarOp("invert", 1, np.invert, None, _logical),
    "isnan": ScalarOp("isnan", 1, np.isnan, None, _predicate),
    "isinf": ScalarOp("isinf", 1, np.isinf, None, _predicate),
    # where(c, a, b): the gradient goes to a where c holds, to b elsewhere
    "where": ScalarOp(
        "where",
        3,
        np.where,
        lambda x, z, g: [None, S.where(x[0], g, 0), S.where(x[0], 0, g)],
        _where,
    ),
    # clip(x, lo, hi) = min(max(x, lo), hi): the gradient goes where each argument is selected
    "clip": ScalarOp(
        "clip",
        3,
        np.clip,
        lambda x, z, g: [
            S.where((x[0] >= x[1]) & (x[0] <= x[2]), g, 0),
            S.where(x[0] < x[1], g, 0),
            S.where(x[0] > x[2], g, 0),
        ],
        _same,
    ),
}


def __getattr__(name: str):
    """The sympy functions (sigmoid_fn, …) that used to live here, from scalar_sympy."""
    if name.endswith("_fn"):
        from symbolic import scalar_sympy

        return getattr(scalar_sympy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
