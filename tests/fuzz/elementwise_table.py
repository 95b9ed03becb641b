"""The elementwise ops the random graphs draw from, each with the domain its argument is kept in.

A domain is where the op's value and derivative are finite and well conditioned, so that both the
NumPy oracle and central finite differences are meaningful there (log of positives, arcsin
inside (−1, 1), exp small enough not to overflow float32). An argument whose interval leaves
the domain is first squashed into it by a smooth map (see `random_graphs.squash`).

`ulps`: the op's rounding error, in units of the output's eps (libm and vector math are within
4 ulp; basic arithmetic is correctly rounded). `smooth=False`: a step or kink (floor, sign,
comparisons): rounding differences just below a step may flip its result, so its error does not
propagate linearly (the generator keeps arguments away from steps where it can).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import symbolic as S
from symbolic.scalar_ops import SCALAR_OPS

BIG = 1e3  # the interval every argument is kept in: no overflow in float32, even squared twice


@dataclass(frozen=True)
class Elementwise:
    name: str  # the scalar op's name in symbolic.scalar_ops (its NumPy function bounds intervals)
    fn: Callable  # the public function building it
    domains: tuple  # one (lo, hi) per argument
    ulps: float = 4.0
    smooth: bool = True
    integer_ok: bool = False  # also drawn for integer arguments (same dtype out)

    @property
    def numpy(self) -> Callable:
        return SCALAR_OPS[self.name].numpy


ANY = (-BIG, BIG)
POSITIVE = (0.1, BIG)
SMALL = (-8.0, 8.0)  # e^8 ≈ 3e3
UNIT = (-0.95, 0.95)  # arcsin, arctanh: derivatives stay below 1/(1 − 0.95²) ≈ 10
DIVISOR = (0.5, 4.0)

# fmt: off
UNARY = [
    Elementwise("exp", S.exp, (SMALL,)),
    Elementwise("exp2", S.exp2, (SMALL,)),
    Elementwise("expm1", S.expm1, (SMALL,)),
    Elementwise("log", S.log, (POSITIVE,)),
    Elementwise("log2", S.log2, (POSITIVE,)),
    Elementwise("log10", S.log10, (POSITIVE,)),
    Elementwise("log1p", S.log1p, ((-0.9, BIG),)),
    Elementwise("log1mexp", S.log1mexp, ((-8.0, -0.05),)),
    Elementwise("sqrt", S.sqrt, (POSITIVE,)),
    Elementwise("reciprocal", S.reciprocal, (DIVISOR,)),
    Elementwise("sin", S.sin, ((-10.0, 10.0),)),
    Elementwise("cos", S.cos, ((-10.0, 10.0),)),
    Elementwise("tan", S.tan, ((-1.3, 1.3),)),
    Elementwise("arcsin", S.arcsin, (UNIT,)),
    Elementwise("arccos", S.arccos, (UNIT,)),
    Elementwise("arctan", S.arctan, (ANY,)),
    Elementwise("sinh", S.sinh, (SMALL,)),
    Elementwise("cosh", S.cosh, (SMALL,)),
    Elementwise("tanh", S.tanh, (ANY,)),
    Elementwise("arctanh", S.arctanh, (UNIT,)),
    Elementwise("sigmoid", S.sigmoid, (ANY,)),
    Elementwise("softplus", S.softplus, (ANY,)),
    Elementwise("erf", S.erf, ((-5.0, 5.0),)),
    Elementwise("erfc", S.erfc, ((-5.0, 5.0),)),
    Elementwise("neg", S.neg, (ANY,), ulps=0, integer_ok=True),
    Elementwise("abs", S.abs, (ANY,), ulps=0, integer_ok=True),
    Elementwise("square", S.square, ((-30.0, 30.0),), ulps=1, integer_ok=True),
    Elementwise("relu", S.nnet.relu, (ANY,), ulps=0),
    Elementwise("sign", S.sign, (ANY,), ulps=0, smooth=False, integer_ok=True),
    Elementwise("floor", S.floor, (ANY,), ulps=0, smooth=False),
    Elementwise("ceil", S.ceil, (ANY,), ulps=0, smooth=False),
    Elementwise("round", S.round, (ANY,), ulps=0, smooth=False),
]
BINARY = [
    Elementwise("add", S.add, (ANY, ANY), ulps=1, integer_ok=True),
    Elementwise("sub", S.sub, (ANY, ANY), ulps=1, integer_ok=True),
    Elementwise("mul", S.mul, ((-30.0, 30.0), (-30.0, 30.0)), ulps=1, integer_ok=True),
    Elementwise("true_div", S.true_div, (ANY, DIVISOR), ulps=1),
    Elementwise("pow", S.pow, ((0.2, 4.0), (-2.0, 2.0))),
    Elementwise("maximum", S.maximum, (ANY, ANY), ulps=0, integer_ok=True),
    Elementwise("minimum", S.minimum, (ANY, ANY), ulps=0, integer_ok=True),
    Elementwise("floor_div", S.floor_div, (ANY, DIVISOR), ulps=0, smooth=False, integer_ok=True),
    Elementwise("mod", S.mod, (ANY, DIVISOR), ulps=1, smooth=False, integer_ok=True),
]
COMPARISONS = [S.lt, S.le, S.gt, S.ge, S.eq, S.neq]  # bool results; eq/neq on integers only
# fmt: on
