"""Gemm, as BLAS and Theano have it: β·Z + α·op(X)·op(Y), op a transpose or not.

The optimizer makes it (symbolic/optimizer/rules/gemm.py) from SGD and momentum updates,
bias additions and sums of products, so a backend runs one BLAS call with transpose flags
instead of a product, a transposed copy and an elementwise pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic.alloc import sum_to
from symbolic.elemwise import broadcast_shapes, mul
from symbolic.graph import TensorType, Variable, constant
from symbolic.op import Op
from symbolic.shape import transpose

BLAS_DTYPES = ("float32", "float64")  # what sgemm and dgemm compute


@dataclass(frozen=True)
class Gemm(Op):
    """gemm(Z, X, Y) = β·Z + α·op(X)·op(Y) for matrices X and Y of one float dtype, op(X) = Xᵀ
    when `trans_x`. Z (at most 2-d, the same dtype) broadcasts with the product as in
    NumPy, so the result is exactly the elementwise expression it replaces."""

    alpha: float
    beta: float
    trans_x: bool = False
    trans_y: bool = False

    @property
    def name(self) -> str:
        return "gemm"

    def infer(self, z, x, y):
        if x.ndim != 2 or y.ndim != 2 or z.ndim > 2:
            raise ValueError(
                f"gemm: X and Y must be matrices and Z at most 2-d, got {z.ndim}-d Z, "
                f"{x.ndim}-d X, {y.ndim}-d Y"
            )
        if not z.dtype == x.dtype == y.dtype or z.dtype not in BLAS_DTYPES:
            raise ValueError(
                f"gemm: Z, X, Y must share a dtype in {BLAS_DTYPES}, got "
                f"{z.dtype}, {x.dtype}, {y.dtype}"
            )
        (m, k1), (k2, n) = self.operand_shape(x, self.trans_x), self.operand_shape(y, self.trans_y)
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError(f"gemm: op(X) of shape {(m, k1)} and op(Y) of {(k2, n)} not aligned")
        return [TensorType(z.dtype, broadcast_shapes("gemm", [z.type.shape, (m, n)]))]

    @staticmethod
    def operand_shape(v: Variable, trans: bool) -> tuple:
        rows, cols = v.type.shape
        return (cols, rows) if trans else (rows, cols)

    def perform(self, z, x, y):
        a, b = (x.T if self.trans_x else x), (y.T if self.trans_y else y)
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"gemm: op(X) of shape {a.shape} and op(Y) of {b.shape} not aligned")
        product = np.matmul(a, b)
        dtype = product.dtype.type
        # the same roundings as the expression it replaces: β·Z + (α·P), each product once
        scaled = product if self.alpha == 1 else dtype(self.alpha) * product
        return (z if self.beta == 1 else dtype(self.beta) * z) + scaled

    def grad(self, inputs, outputs, output_grads):
        # out = β·Z + α·A·B with A = op(X), B = op(Y):
        # dZ = β·sum_to(g), dA = α·g·Bᵀ, dB = α·Aᵀ·g, then op undone on dA and dB
        from symbolic.linalg import matmul

        z, x, y = inputs
        g = output_grads[0]
        a = transpose(x) if self.trans_x else x
        b = transpose(y) if self.trans_y else y
        scale = mul(g, constant(np.asarray(self.alpha, g.dtype)))
        ga, gb = matmul(scale, transpose(b)), matmul(transpose(a), scale)
        gz = sum_to(mul(g, constant(np.asarray(self.beta, g.dtype))), z)
        return [
            gz,
            transpose(ga) if self.trans_x else ga,
            transpose(gb) if self.trans_y else gb,
        ]


def gemm(z, x, y, alpha: float = 1.0, beta: float = 1.0, trans_x=False, trans_y=False):
    """β·z + α·op(x)·op(y) as one node (BLAS's gemm), op the transpose where asked."""
    return Gemm(float(alpha), float(beta), bool(trans_x), bool(trans_y))(z, x, y)
