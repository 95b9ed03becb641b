"""Matrix products on the GPU: operand layouts and batch strides for cuBLAS's strided GEMM.

cuBLAS reads column-major matrices. A row-major m×k matrix A (strides (s, 1)) is, read
column-major, Aᵀ with leading dimension s; a column-major one (strides (1, s), e.g. a
transposed view) is A itself, so it is read transposed ("T"). With C = A B row-major, cuBLAS
computes Cᵀ = Bᵀ Aᵀ: B is its first operand and the roles of m and n swap. Transposed views
(the backward pass's Aᵀ dC) thus need no copy. A gemm update (runtime/gemm_updates.py)
is the same call with α and β, accumulating into a copy of z.
"""

from __future__ import annotations

import numpy as np

from runtime.layout import merge_axes

BLAS_DTYPES = ("float32", "float64")
INT32_MAX = 2**31 - 1


def blas_layout(rows: int, cols: int, s0: int, s1: int) -> tuple[str, int] | None:
    """("N", ld) for a row-major rows×cols matrix with element strides (s0, s1), ("T", ld) for
    a column-major one, None for any other layout (it is copied first). Strides of axes of
    length 1 do not matter."""
    if (cols == 1 or s1 == 1) and (rows == 1 or s0 >= cols >= 1):
        return "N", s0 if rows > 1 else max(cols, 1)
    if (rows == 1 or s0 == 1) and (cols == 1 or s1 >= rows >= 1):
        return "T", s1 if cols > 1 else max(rows, 1)
    return None


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


def matmul(device, a, b):
    """a @ b on the device for float32/float64 operands of one dtype (ndim ≥ 2, batch axes
    broadcast); None where cuBLAS does not apply (the caller computes it on the host)."""
    if a.dtype != b.dtype or a.dtype.name not in BLAS_DTYPES:
        return None
    m, k = a.shape[-2:]
    k2, n = b.shape[-2:]
    if k != k2 or max(m, n, k) > INT32_MAX:
        return None  # the host reference raises NumPy's error, or handles the size
    batch_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out_shape = (*batch_shape, m, n)
    if k == 0:
        return device.zeros(out_shape, a.dtype)
    out = device.empty(out_shape, a.dtype)
    if out.size:
        _gemm(device, a, b, out, batch_shape)
    return out


def fits_gemm_update(z, x, y) -> bool:
    """Whether α·(x @ y) + β·z is one cuBLAS call: 2-d float32/float64 operands of one dtype,
    none empty, and z of the product's shape (a broadcast weight's sum_to is not)."""
    if not (x.dtype == y.dtype == z.dtype) or z.dtype.name not in BLAS_DTYPES:
        return False
    if x.ndim != 2 or y.ndim != 2 or z.ndim != 2:
        return False
    (m, k), (k2, n) = x.shape, y.shape
    return k == k2 and z.shape == (m, n) and 0 not in (m, n, k) and max(m, n, k) <= INT32_MAX


def gemm_update(device, z, x, y, alpha, beta, scalars_on_device: bool = False):
    """A new array α·(x @ y) + β·z, for operands that `fits_gemm_update`: z copied on the
    device, then one cuBLAS call accumulating into the copy (α, β: blas.Cublas.gemm's)."""
    out = device.copy(z)
    _gemm(device, x, y, out, (), alpha=alpha, beta=beta, scalars_on_device=scalars_on_device)
    return out


def _gemm(device, a, b, out, batch_shape, **scalars) -> None:
    """out ← α·(a @ b) + β·out (α = 1, β = 0 unless `scalars` says) by one strided GEMM: out
    is C-contiguous and of the (non-empty) product's shape, a and b read in place where
    cuBLAS can."""
    (m, k), n = a.shape[-2:], b.shape[-1]
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
        **scalars,
    )
