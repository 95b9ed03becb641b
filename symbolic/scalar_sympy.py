"""The sympy form of every elementwise operation: its scalar meaning, for fused expressions.

Kept apart from the table in scalar_ops.py so that `import symbolic` does not import sympy
(a quarter of a second): only fused expressions (`FusedElemwise.expressions`) read these
forms, through `ScalarOp.sympy`, which imports this module on first use. The C code of each
op is spelled by codegen/cprinter.py without sympy.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, log1p, log2, log10


class sigmoid_fn(sp.Function):
    """σ(x) = 1 / (1 + e^−x); σ' = σ(1 − σ)."""

    def fdiff(self, argindex=1):
        return self * (1 - self)


class softplus_fn(sp.Function):
    """softplus(x) = log(1 + e^x); softplus' = σ."""

    def fdiff(self, argindex=1):
        return sigmoid_fn(self.args[0])


isnan_fn, isinf_fn, round_fn = sp.Function("isnan"), sp.Function("isinf"), sp.Function("round")
bitand_fn, bitor_fn, invert_fn = (
    sp.Function("bitwise_and"),
    sp.Function("bitwise_or"),
    sp.Function("invert"),
)


def _log1mexp(a):  # the NumPy reference's two branches, printable as C99 (expm1, log1p)
    return sp.Piecewise((sp.log(-expm1(a)), a > -sp.log(2)), (log1p(-sp.exp(a)), True))


# name -> sympy form (a callable on sympy expressions); every name of scalar_ops.SCALAR_OPS
SYMPY_FORMS: dict[str, Callable] = {
    "exp": sp.exp,
    "exp2": exp2,
    "log": sp.log,
    "log2": log2,
    "log10": log10,
    "log1p": log1p,
    "expm1": expm1,
    "sqrt": sp.sqrt,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "arcsin": sp.asin,
    "arccos": sp.acos,
    "arctan": sp.atan,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
    "arctanh": sp.atanh,
    "sigmoid": sigmoid_fn,
    "softplus": softplus_fn,
    "erf": sp.erf,
    "log1mexp": _log1mexp,
    "erfc": sp.erfc,
    "reciprocal": lambda a: 1 / a,
    "neg": lambda a: -a,
    "abs": sp.Abs,
    "square": lambda a: a**2,
    "sign": sp.sign,
    "floor": sp.floor,
    "ceil": sp.ceiling,
    "round": round_fn,
    "relu": lambda a: sp.Max(a, 0),
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "true_div": lambda a, b: a / b,
    "floor_div": lambda a, b: sp.floor(a / b),
    "mod": sp.Mod,
    "pow": lambda a, b: a**b,
    "maximum": sp.Max,
    "minimum": sp.Min,
    "lt": sp.StrictLessThan,
    "le": sp.LessThan,
    "gt": sp.StrictGreaterThan,
    "ge": sp.GreaterThan,
    "eq": sp.Eq,
    "neq": sp.Ne,
    "and": bitand_fn,
    "or": bitor_fn,
    "invert": invert_fn,
    "isnan": isnan_fn,
    "isinf": isinf_fn,
    "where": lambda c, a, b: sp.Piecewise((a, c), (b, True)),
    "clip": lambda a, lo, hi: sp.Min(sp.Max(a, lo), hi),
}
