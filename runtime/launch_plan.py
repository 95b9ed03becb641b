"""Launch planning shared by every backend: a kernel's iteration space for one layout of its
arguments (docs/kernels.md), from their shapes and strides alone.

Elementwise kernels run over the broadcast shape with its axes merged, reductions over
(outer, inner) = (∏ kept sizes, ∏ reduced sizes), row kernels over (rows, cols) with the row
axis last. A `Space` holds the sizes, each argument's element strides, the outputs' shapes and
which inputs must be read from a copy; each backend turns it into its own launch
(runtime/cpu_backend.py packs it for ctypes and runner.c, runtime/cuda/launch.py adds the grid
and the device layout). Arrays here are anything with `shape`, `strides`, `itemsize` and
`ndim`: NumPy arrays and the cuda device's arrays alike.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from runtime.layout import contiguous_strides, element_strides, matrix_strides, merge_axes


class Space(NamedTuple):
    """One kernel launch's iteration space.

    `sizes`: the merged axes (elementwise), (outer, inner) or (rows, cols); `in_strides` and
    `out_strides`: per input and per output, its element strides over `sizes`, flat;
    `copies`: per input, True where no strides over `sizes` describe it, so the kernel reads
    a contiguous copy of it broadcast to `shape` with its axes in `order`.
    """

    sizes: tuple
    in_strides: list
    out_strides: list
    out_shapes: list
    copies: list
    shape: tuple
    order: list


def reduction_axes(op) -> tuple:
    """The axes a reduction kernel's op reduces (a fused reduction keeps them on `reduce`)."""
    return getattr(op, "axes", None) or getattr(getattr(op, "reduce", None), "axes", ())


def inplace_sources(node, arrays, shape) -> list[int]:
    """Per output of an elementwise node, an input whose buffer it may take, or -1: one of
    its dtype that already has the output's shape, C-contiguous, so element i of both lies at
    the same place; each input serves one output at most."""
    taken, sources = set(), []
    for out in node.outputs:
        source = -1
        for i, (a, var) in enumerate(zip(arrays, node.inputs)):
            if (
                i not in taken
                and var.dtype == out.dtype
                and a.shape == shape
                and a.flags.c_contiguous
            ):
                source = i
                taken.add(i)
                break
        sources.append(source)
    return sources


def output_reads(op):
    """Per output of a fused node, the inputs it reads (`FusedElemwise.reads`), where they are
    not all of them; None for any other node (each output reads every input)."""
    reads = getattr(op, "reads", None)
    return None if reads is None or all(len(r) == len(op.input_dtypes) for r in reads) else reads


def elementwise_space(out_ndims: list[int], arrays, reads=None) -> Space | None:
    """The broadcast shape with its axes merged; None where an output has another ndim, or
    (with `reads`: per output, the indices of the inputs it is computed from, as a fused node
    has them) another shape: axes declared of unknown length may broadcast at run time, so
    outputs of one static class can differ (x of (1, 1) beside x + y of (1, 3)), and sibling
    outputs of a fused node may read inputs that do not broadcast together at all (x · s
    beside y · s, x of (2, 3), y of (4, 3)). The node's reference then computes each output
    at its own shape, or raises the error of a node whose inputs do not meet."""
    try:
        shape = np.broadcast_shapes(*[a.shape for a in arrays])
    except ValueError:
        return None
    if any(ndim != len(shape) for ndim in out_ndims):
        return None
    if reads is not None and any(
        np.broadcast_shapes(*[arrays[i].shape for i in read]) != shape for read in reads
    ):
        return None
    strides = [element_strides(a, shape) for a in arrays]
    strides += [contiguous_strides(shape)] * len(out_ndims)
    merged, merged_strides = merge_axes(shape, strides)
    flat = [s for per_arg in merged_strides for s in per_arg]
    split = len(arrays) * len(merged)
    outs = [shape] * len(out_ndims)
    return Space(merged, flat[:split], flat[split:], outs, [False] * len(arrays), shape, None)


def reduction_space(axes, keepdims: bool, arrays) -> Space | None:
    """(outer, inner) over the kept and reduced axes; None when empty (NumPy's reference
    gives the identity or the error)."""
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    kept = [a for a in range(len(shape)) if a not in axes]
    outer = math.prod(shape[a] for a in kept)
    inner = math.prod(shape[a] for a in axes)
    if outer == 0 or inner == 0:
        return None
    strides, copies = [], []
    for a in arrays:
        found = matrix_strides(shape, element_strides(a, shape), kept, axes)
        copies.append(found is None)  # a layout (outer, inner) strides cannot describe
        strides += list(found or (inner, 1))
    out_shape = (
        tuple(1 if a in axes else n for a, n in enumerate(shape))
        if keepdims
        else tuple(shape[a] for a in kept)
    )
    return Space((outer, inner), strides, [1, 0], [out_shape], copies, shape, kept + list(axes))


def rows_space(axis: int, out_ndim: int, arrays) -> Space | None:
    """(rows, cols) with the row axis last; None for another axis, an empty input or labels
    that are not one per row (the reference raises the error)."""
    x = arrays[0]
    if axis != x.ndim - 1 or x.ndim == 0:
        return None
    rows, cols = math.prod(x.shape[:-1]), x.shape[-1]
    if rows == 0 or cols == 0:
        return None
    found = matrix_strides(x.shape, element_strides(x, x.shape), range(x.ndim - 1), [x.ndim - 1])
    strides = list(found or (cols, 1))
    for extra in arrays[1:]:  # the labels of crossentropy_softmax: one per row
        if extra.shape != (rows,):
            return None
        strides += [extra.strides[0] // extra.itemsize, 0]
    out_shape = x.shape if out_ndim == x.ndim else x.shape[:-1]
    out_strides = list(contiguous_strides((rows, cols if out_ndim == x.ndim else 1)))
    copies = [found is None] + [False] * (len(arrays) - 1)
    return Space((rows, cols), strides, out_strides, [out_shape], copies, x.shape, None)
