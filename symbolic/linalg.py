"""Linear algebra: matmul (batched, broadcasting) and dot, outer, batched_dot, tensordot on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.alloc import sum_to
from symbolic.elemwise import broadcast_shapes, mul
from symbolic.graph import TensorType, Variable, as_variable
from symbolic.op import Op
from symbolic.shape import Size, dim, dimshuffle, expand_dims, flatten, reshape, squeeze, transpose


def swap_last(x: Variable) -> Variable:
    """x with its last two axes exchanged."""
    order = list(range(x.ndim))
    order[-2:] = order[-1], order[-2]
    return dimshuffle(x, *order)


@dataclass(frozen=True)
class MatMul(Op):
    """a @ b for a, b of ndim ≥ 2: matrix products over the last two axes, the rest broadcast.

    Named "dot" in graphs, as in Theano: every dot, matmul and tensordot becomes one.
    """

    @property
    def name(self) -> str:
        return "dot"

    def infer(self, a, b):
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError("matmul op needs ndim ≥ 2; use S.matmul for vectors")
        k1, k2 = a.type.shape[-1], b.type.shape[-2]
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError(
                f"dot: shapes {a.type.shape} and {b.type.shape} not aligned: "
                f"{k1} (last axis of the first) != {k2} (axis -2 of the second)"
            )
        try:
            batch = broadcast_shapes("matmul", [a.type.shape[:-2], b.type.shape[:-2]])
        except ValueError:
            raise ValueError(
                f"dot: the batch axes of shapes {a.type.shape} and "
                f"{b.type.shape} cannot be broadcast together"
            ) from None
        shape = batch + (a.type.shape[-2], b.type.shape[-1])
        return [TensorType(dtypes.promote(a.dtype, b.dtype), shape)]

    def perform(self, a, b):
        dtype = dtypes.promote(a.dtype.name, b.dtype.name)
        return np.matmul(a.astype(dtype, copy=False), b.astype(dtype, copy=False))

    def grad(self, inputs, outputs, output_grads):
        # C = A B  ⇒  dA = dC Bᵀ, dB = Aᵀ dC (summed over broadcast batch axes)
        a, b = inputs
        g = output_grads[0]
        ga, gb = MatMul()(g, swap_last(b)), MatMul()(swap_last(a), g)
        if a.ndim == b.ndim == 2:  # no batch axes: g·bᵀ has a's shape and aᵀ·g has b's
            return [
                ga if dtypes.is_float(a.dtype) else None,
                gb if dtypes.is_float(b.dtype) else None,
            ]
        return [
            sum_to(ga, a) if dtypes.is_float(a.dtype) else None,
            sum_to(gb, b) if dtypes.is_float(b.dtype) else None,
        ]


def matmul(a, b) -> Variable:
    """a @ b with NumPy's rules: 1-d operands are promoted to matrices and the axis removed."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have at least one axis (use * for scalars)")
    a2 = expand_dims(a, 0) if a.ndim == 1 else a
    b2 = expand_dims(b, -1) if b.ndim == 1 else b
    out = MatMul()(a2, b2)
    if b.ndim == 1:
        out = squeeze(out, -1)
    if a.ndim == 1:
        out = squeeze(out, -1 if b.ndim == 1 else -2)
    return out


def dot(a, b) -> Variable:
    """np.dot: a product for scalars, matmul up to 2-d, else a sum over a's last and b's
    second-to-last axis."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, [[a.ndim - 1], [b.ndim - 2 if b.ndim > 1 else 0]])


def outer(a, b) -> Variable:
    """The outer product of the flattened a and b."""
    return mul(expand_dims(flatten(a), 1), expand_dims(flatten(b), 0))


def batched_dot(a, b) -> Variable:
    """Theano's batched_dot: dot of a[i] and b[i] for each i along the first axis."""
    a, b = as_variable(a), as_variable(b)
    a3 = expand_dims(a, 1) if a.ndim == 2 else a
    b3 = expand_dims(b, 2) if b.ndim == 2 else b
    out = MatMul()(a3, b3)
    if b.ndim == 2:
        out = squeeze(out, -1)
    if a.ndim == 2:
        out = squeeze(out, 1)
    return out


def tensordot(a, b, axes=2) -> Variable:
    """Sum of products over a's `axes[0]` and b's `axes[1]` (or the last/first `axes`), as
    np.tensordot: transposed and reshaped to one matrix product."""
    a, b = as_variable(a), as_variable(b)
    if isinstance(axes, int):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    axes_a, axes_b = [x % a.ndim for x in axes_a], [x % b.ndim for x in axes_b]
    if len(axes_a) != len(axes_b):
        raise ValueError(f"tensordot: {axes_a} and {axes_b} must pair up")
    for i, j in zip(axes_a, axes_b):
        n, m = a.type.shape[i], b.type.shape[j]
        if n is not None and m is not None and n != m:
            raise ValueError(
                f"tensordot: shapes {a.type.shape} and {b.type.shape} differ on "
                f"the summed axes {i} and {j}: {n} != {m}"
            )
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    a2 = reshape(transpose(a, free_a + axes_a), [Size(tuple(free_a))(a), Size(tuple(axes_a))(a)])
    b2 = reshape(transpose(b, axes_b + free_b), [Size(tuple(axes_b))(b), Size(tuple(free_b))(b)])
    out_shape = [dim(a, i) for i in free_a] + [dim(b, j) for j in free_b]
    return reshape(MatMul()(a2, b2), out_shape)
