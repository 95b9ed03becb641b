"""Iteration spaces for kernels: broadcast strides and merged axes (see docs/kernels.md).

All strides here are in elements. Merging axes matters for speed: a contiguous (N, M) problem
becomes one flat axis of N·M, which takes the kernels' vectorized fast path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def element_strides(array: np.ndarray, shape: tuple) -> tuple:
    """array's strides (in elements) over `shape` it broadcasts to: 0 on broadcast axes."""
    lead = len(shape) - array.ndim
    out = [0] * lead
    for n, have, stride in zip(shape[lead:], array.shape, array.strides):
        out.append(0 if have == 1 and n != 1 else stride // array.itemsize)
    return tuple(out)


def contiguous_strides(shape: Sequence[int]) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def merge_axes(shape: Sequence[int], strides: Sequence[Sequence[int]]) -> tuple[tuple, list]:
    """(shape, strides) with size-1 axes dropped and neighbouring axes merged wherever every
    argument steps over them as over one axis: stride[d] == stride[d+1] * shape[d+1]."""
    keep = [d for d, n in enumerate(shape) if n != 1]
    shape = [shape[d] for d in keep]
    strides = [[s[d] for d in keep] for s in strides]
    d = len(shape) - 2
    while d >= 0:
        if all(s[d] == s[d + 1] * shape[d + 1] for s in strides):
            shape[d] *= shape[d + 1]
            del shape[d + 1]
            for s in strides:
                s[d] = s[d + 1]
                del s[d + 1]
        d -= 1
    return tuple(shape), strides


def matrix_strides(
    shape: Sequence[int], strides: Sequence[int], outer_axes: Sequence[int], inner_axes
) -> tuple | None:
    """(outer stride, inner stride) of an array of `shape` and element `strides` seen as
    (∏ outer sizes, ∏ inner sizes) without a copy, or None when its strides do not allow it."""
    result = []
    for axes in (outer_axes, inner_axes):
        merged, merged_strides = merge_axes([shape[a] for a in axes], [[strides[a] for a in axes]])
        if len(merged) > 1:
            return None
        result.append(merged_strides[0][0] if merged else 0)
    return tuple(result)


def blas_layout(rows: int, cols: int, s0: int, s1: int) -> tuple[str, int] | None:
    """("N", ld) for a row-major rows×cols matrix with element strides (s0, s1), ("T", ld) for
    a column-major one, None for any other layout (it is copied first). Strides of axes of
    length 1 do not matter."""
    if (cols == 1 or s1 == 1) and (rows == 1 or s0 >= cols >= 1):
        return "N", s0 if rows > 1 else max(cols, 1)
    if (rows == 1 or s0 == 1) and (cols == 1 or s1 >= rows >= 1):
        return "T", s1 if cols > 1 else max(rows, 1)
    return None
