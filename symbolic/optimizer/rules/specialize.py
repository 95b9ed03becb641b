"""The specialize rules: cheaper spellings of canonical forms, chosen for the machine.

They run after canonicalize and stabilize, so they may undo a normal form (x / c becomes a
multiplication) without the earlier phases turning it back. Each rule keeps the matched node's
static shape and dtype (see canonicalize.py for the conventions).

Left to the backends on purpose, with no rule here:
- sum(x * y) and its axis variants: the backend fuses the product into the reduction's prologue
  (a dot-like kernel), which is what a rewrite to `dot` would buy, without reshapes.
- dot with a transposed operand (dot(x.T, y)) alone: the dimshuffle stays in the graph and the
  backend's BLAS call reads the view with a transpose flag. Inside a gemm (rules/gemm.py) the
  transpose becomes the node's flag.
"""

from __future__ import annotations

import numpy as np

from symbolic import dtypes
from symbolic.elemwise import mul, square
from symbolic.graph import Constant, Variable, constant
from symbolic.optimizer.pattern import P, Rule, V
from symbolic.optimizer.rules.canonicalize import in_dtype, same_shape
from symbolic.optimizer.rules.gemm import GEMM

MAX_POWER = 8  # x**8 is three squarings; beyond that pow's single call is about as cheap


def div_by_constant(z: Variable, x: Variable, c: Variable) -> Variable | None:
    """x / c → x * (1/c), with 1/c rounded once in z's dtype (exact when c is a power of 2,
    else within one rounding of the quotient, as Theano accepts). Declines where 1/c would
    overflow though c is nonzero (tiny subnormal c), since x * inf ≠ x / c there."""
    if not (isinstance(c, Constant) and dtypes.is_float(c.dtype) and dtypes.is_float(z.dtype)):
        return None
    data = c.data.astype(z.dtype)
    with np.errstate(all="ignore"):
        inverse = np.divide(np.ones((), z.dtype), data)
    if np.any(np.isinf(inverse) & (data != 0)):
        return None
    return mul(x, constant(inverse, z.dtype))


def power(x: Variable, n: int) -> Variable:
    """x ** n (n ≥ 1) by squaring: x**6 = square(square(x) * x). Iterative on n's bits."""
    result = x
    for bit in bin(n)[3:]:  # after the leading 1: square, then multiply by x on a 1 bit
        result = square(result)
        if bit == "1":
            result = mul(result, x)
    return result


def small_power(z: Variable, x: Variable, n: Variable) -> Variable | None:
    if not (isinstance(n, Constant) and n.ndim <= x.ndim and same_shape(z, x)):
        return None
    values = np.unique(n.data)
    if values.size != 1 or not in_dtype(z, x):
        return None
    value = values[0]
    if value != np.round(value) or not 3 <= value <= MAX_POWER:
        return None
    return power(x, int(value))


SPECIALIZE: list[Rule] = [
    Rule(
        "drop_stop_gradient",
        P("stop_gradient", V("x")),
        lambda x: x,
        "stop_gradient(x) = x once the gradients are built (they run stabilize, never specialize)",
    ),
    Rule(
        "drop_gradient_gate",
        P("stop_gradient", V("x"), V("keep")),
        lambda x, keep: x,
        "stop_gradient(x, keep) = x once the gradients are built (the gate acts on them only)",
    ),
    Rule(
        "div_by_constant",
        P("true_div", V("x"), V("c"), name="z"),
        div_by_constant,
        "x / c = x * (1/c) for float constants c: a multiply is several times cheaper",
    ),
    Rule(
        "small_integer_power",
        P("pow", V("x"), V("n"), name="z"),
        small_power,
        "x ** n = products of squares for integer n in 3..8 (exact for integers, within a "
        "few roundings for floats)",
    ),
    *GEMM,
]
