"""Matrix products on the GPU: operand layouts and batch strides for cuBLAS's strided GEMM.

cuBLAS reads column-major matrices. A row-major m×k matrix A (strides (s, 1)) is, read
column-major, Aᵀ with leading dimension s; a column-major one (strides (1, s), e.g. a
transposed view) is A itself, so it is read transposed ("T"). With C = A B row-major, cuBLAS
computes Cᵀ = Bᵀ Aᵀ: B is its first operand and the roles of m and n swap. Transposed views
(the backward pass's Aᵀ dC) thus need no copy.
"""

from __future__ import annotations

import numpy as np

from runtime.layout import blas_layout, merge_axes

BLAS_DTYPES = ("float32", "float64")
INT32_MAX = 2**31 - 1


def _operand(device, x, batch_shape, copy: bool = False) -> tuple:
    """(x as cuBLAS reads it, op, ld, batch strides in elements): x broadcast over the batch
    axes, copied to C order where its layout is not one cuBLAS reads (or `copy` asks)."""
    x = x.broadcast_to((*batch_shape, *x.shape[-2:]))
    item = x.itemsize
    found = None
    if not copy and all(s % item == 0 for s in x.strides):
        found = blas_layout(*x.shape[-2:], x.strides[-2] // item, x.strides[-1] // item)
    if found is None:
        x = device.contiguous(x)
        found = blas_layout(*x.shape[-2:], x.strides[-2] // item, x.strides[-1] // item)
    return x, *found, [s // item for s in x.strides[:-2]]


def matmul(device, a, b, alpha: float = 1.0, beta: float = 0.0, out=None):
    """a @ b on the device for float32/float64 operands of one dtype (ndim ≥ 2, batch axes
    broadcast), or α·a @ b + β·out into a given C-contiguous `out` (gemm); None where cuBLAS
    does not apply (the caller computes it on the host)."""
    if a.dtype != b.dtype or a.dtype.name not in BLAS_DTYPES:
        return None
    m, k = a.shape[-2:]
    k2, n = b.shape[-2:]
    if k != k2 or max(m, n, k) > INT32_MAX:
        return None  # the host reference raises NumPy's error, or handles the size
    batch_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out_shape = (*batch_shape, m, n)
    if k == 0:
        return device.zeros(out_shape, a.dtype) if out is None else None
    out = device.empty(out_shape, a.dtype) if out is None else out
    if out.size == 0:
        return out
    a, op_a, lda, batch_a = _operand(device, a, batch_shape)
    b, op_b, ldb, batch_b = _operand(device, b, batch_shape)
    merged, (stride_a, stride_b) = merge_axes(batch_shape, [batch_a, batch_b])
    if len(merged) > 1:  # batch axes that do not step as one: both in C order
        a, op_a, lda, batch_a = _operand(device, a, batch_shape, copy=True)
        b, op_b, ldb, batch_b = _operand(device, b, batch_shape, copy=True)
        merged, (stride_a, stride_b) = merge_axes(batch_shape, [batch_a, batch_b])
    batch = out.size // (m * n)
    device.driver.gemm(
        a.dtype.name,
        op_b,
        op_a,
        n,
        m,
        k,
        b.ptr,
        ldb,
        stride_b[0] if stride_b else 0,
        a.ptr,
        lda,
        stride_a[0] if stride_a else 0,
        out.ptr,
        n,
        m * n,
        batch,
        alpha,
        beta,
    )
    return out


def gemm(device, op, z, x, y):
    """β·z + α·op(x)·op(y) (a symbolic.gemm.Gemm `op`) on the device: z copied into a new
    C-contiguous output (it broadcasts), then one cuBLAS call with β; None where cuBLAS does
    not apply (the caller computes it on the host)."""
    a = x.transpose((1, 0)) if op.trans_x else x
    b = y.transpose((1, 0)) if op.trans_y else y
    if a.shape[1] != b.shape[0] or z.dtype != a.dtype or 0 in (*a.shape, *b.shape):
        return None
    shape = (a.shape[0], b.shape[1])
    try:
        if np.broadcast_shapes(z.shape, shape) != shape:
            return None  # z enlarges the result: the host reference computes it
    except ValueError:
        return None  # the host reference raises the error
    out = device.copy(z.broadcast_to(shape))
    return matmul(device, a, b, op.alpha, op.beta, out)
