"""The specialize rules: cheaper spellings of canonical forms, chosen for the machine.

They run after canonicalize and stabilize, so they may undo a normal form (x / c becomes a
multiplication) without the earlier phases turning it back. Each rule keeps the matched node's
static shape and dtype (see canonicalize.py for the conventions).

Left to the backends on purpose, with no rule here:
- sum(x * y) and its axis variants: the backend fuses the product into the reduction's prologue
  (a dot-like kernel), which is what a rewrite to `dot` would buy, without reshapes.
- dot with a transposed operand (dot(x.T, y)): the dimshuffle stays in the graph; the BLAS call's
  transpose flags are chosen by the backend from the dimshuffle that produces the operand
  (issue 4), so no marker op or fake rule is needed.
"""

from __future__ import annotations

import numpy as np

from symbolic import dtypes
from symbolic.elemwise import mul, square
from symbolic.graph import Constant, Variable, constant
from symbolic.optimizer.pattern import P, Rule, V
from symbolic.optimizer.rules.canonicalize import in_dtype, same_shape
from symbolic.pool import MaxPool2d, MaxPool2dGrad

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


def plane_constant(var: Variable) -> bool:
    """One value per (n, c) plane of a 4-d tensor: a conv's bias as (1, C, 1, 1)."""
    return var.ndim == 4 and var.type.shape[2:] == (1, 1)


def shifted_pool(op: type, z: Variable, total: Variable, x: Variable, shift: Variable, *rest):
    """The pooling node of z with x + shift as the shifted input (symbolic/pool.py), where
    x + shift has x's shape and dtype (the shift is broadcast, not x). The gradient node
    also sums the shift's gradient (its second output, see shift_gradient)."""
    if not (same_shape(total, x) and in_dtype(total, x, shift)):
        return None
    if op is MaxPool2dGrad:
        return op(**z.owner.op.window, sums_shift=True)(x, *rest, shift)[0]
    return op(**z.owner.op.window)(x, *rest, shift)


def shift_gradient(gx: Variable, like: Variable) -> Variable | None:
    """sum_to(gx, shape(shift)) for gx the first output of a shifted max_pool2d_grad that
    sums its shift's gradient: that second output."""
    node = gx.owner
    if getattr(node.op, "sums_shift", False) and gx is node.outputs[0] and like is node.inputs[3]:
        return node.outputs[1]
    return None


# x + shift with the shift constant over each (n, c) plane, either operand order
SHIFTED = P("add", V("x"), V("shift", where=plane_constant), name="total")

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
    Rule(
        "max_pool_of_shifted",
        P("max_pool2d", SHIFTED, name="z"),
        lambda z, total, x, shift: shifted_pool(MaxPool2d, z, total, x, shift),
        "max_pool(x + b) with b constant per plane pools x, adding b as it reads: the sum "
        "is never stored (same rounding, same values)",
    ),
    Rule(
        "max_pool_grad_of_shifted",
        P("max_pool2d_grad", SHIFTED, V("pooled"), V("g"), name="z"),
        lambda z, total, x, shift, pooled, g: shifted_pool(
            MaxPool2dGrad, z, total, x, shift, pooled, g
        ),
        "max_pool_grad(x + b, …) likewise: the same first maxima, found on the same sums",
    ),
    Rule(
        "shift_gradient_from_max_pool_grad",
        P("sum_to", P("max_pool2d_grad", name="gx"), P("shape", V("like"))),
        shift_gradient,
        "sum_to(max_pool_grad(x, …, b), shape(b)) is the pool gradient's own sum for b: "
        "taken as it writes each plane, no second pass",
    ),
]
