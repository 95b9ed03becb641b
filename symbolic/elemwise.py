"""Elementwise operations: a scalar op from `scalar.SCALAR_OPS` lifted to broadcasting tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import symbolic as S
from symbolic import dtypes
from symbolic.graph import TensorType, Variable, as_variable
from symbolic.op import Op
from symbolic.scalar_ops import SCALAR_OPS, ScalarOp


def broadcast_shapes(op_name: str, shapes: list[tuple]) -> tuple:
    """NumPy broadcasting over static shapes; raises when known sizes conflict."""
    ndim = max(map(len, shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded):
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            shown = " and ".join(str(TensorType("", s).shape) for s in shapes)
            raise ValueError(f"{op_name}: shapes {shown} cannot be broadcast together")
        out.append(known.pop() if known else None if None in dims else 1)
    return tuple(out)


def compute_dtypes(scalar_op: ScalarOp, in_dtypes: list[str]) -> tuple[tuple, str]:
    """(the dtype each input is cast to, the output dtype)."""
    compute, out = scalar_op.dtype_rule(in_dtypes)
    if isinstance(compute, str):
        compute = (compute,) * len(in_dtypes)
    return compute, out


@dataclass(frozen=True)
class Elemwise(Op):
    scalar_op: ScalarOp

    @property
    def name(self) -> str:
        return self.scalar_op.name

    def infer(self, *inputs):
        if len(inputs) != self.scalar_op.nin:
            raise TypeError(f"{self.name} takes {self.scalar_op.nin} inputs, got {len(inputs)}")
        _, out = compute_dtypes(self.scalar_op, [i.dtype for i in inputs])
        return [TensorType(out, broadcast_shapes(self.name, [i.type.shape for i in inputs]))]

    def perform(self, *arrays):
        compute, out = compute_dtypes(self.scalar_op, [a.dtype.name for a in arrays])
        args = [a.astype(d, copy=False) for a, d in zip(arrays, compute)]
        with np.errstate(all="ignore"):  # inf/nan follow IEEE semantics, as in generated code
            return np.asarray(self.scalar_op.numpy(*args)).astype(out, copy=False)

    def grad(self, inputs, outputs, output_grads):
        raw = self.scalar_op.grad(list(inputs), outputs[0], output_grads[0])
        return [None if g is None else S.sum_to(g, x) for g, x in zip(raw, inputs)]


def operands(args) -> list[Variable]:
    """Variables as they are; Python numbers weakly typed by the variables beside them."""
    partners = [a for a in args if isinstance(a, Variable)]
    return [as_variable(a, partners) for a in args]


def _function(name: str):
    op = Elemwise(SCALAR_OPS[name])

    def apply(*args):
        return op(*operands(args))

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"Elementwise {name}, with NumPy broadcasting."
    return apply


# one public function per scalar op, named as in NumPy where NumPy has the name
(
    exp,
    exp2,
    log,
    log2,
    log10,
    log1p,
    expm1,
    sqrt,
    sin,
    cos,
    tan,
    arcsin,
    arccos,
    arctan,
    sinh,
    cosh,
    tanh,
    arctanh,
    sigmoid,
    softplus,
    erf,
    erfc,
    neg,
    abs,
    square,
    sign,
    floor,
    ceil,
    round,
    relu,
    add,
    sub,
    mul,
    true_div,
    floor_div,
    mod,
    pow,
    maximum,
    minimum,
    lt,
    le,
    gt,
    ge,
    eq,
    neq,
    and_,
    or_,
    invert,
    isnan,
    isinf,
    where,
    clip,
) = map(
    _function,
    (
        "exp exp2 log log2 log10 log1p expm1 sqrt sin cos tan arcsin arccos arctan sinh cosh tanh "
        "arctanh sigmoid softplus erf erfc neg abs square sign floor ceil round relu add sub mul "
        "true_div floor_div mod pow maximum minimum lt le gt ge eq neq and or invert isnan isinf "
        "where clip"
    ).split(),
)
log1mexp = _function("log1mexp")  # log(1 − e^x), stable for x < 0 (made by the stabilize rules)
reciprocal = _function("reciprocal")  # 1/x (made from x**-1 by the canonicalize rules)


@dataclass(frozen=True)
class Cast(Op):
    dtype: str

    @property
    def name(self) -> str:
        return f"cast_{self.dtype}"

    def infer(self, x):
        return [TensorType(self.dtype, x.type.shape)]

    def perform(self, x):
        return x.astype(self.dtype)

    def grad(self, inputs, outputs, output_grads):
        x = inputs[0]
        return [cast(output_grads[0], x.dtype) if dtypes.is_float(x.dtype) else None]


def cast(x, dtype) -> Variable:
    """`x` converted to `dtype` (NumPy's astype); a no-op when the dtype already matches."""
    x, dtype = as_variable(x), dtypes.as_dtype(dtype)
    return x if x.dtype == dtype else Cast(dtype)(x)
