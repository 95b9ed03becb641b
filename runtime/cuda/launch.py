"""Launch plans: from the arguments' shapes and strides to a kernel's SymArgs, grid and outputs.

A plan depends only on the layouts of its arguments (shapes, strides), so each node computes it
once per layout and reuses it (the same scheme as the cpu device). The iteration spaces are
those of docs/kernels.md: merged axes for elementwise kernels, (outer, inner) for reductions,
(rows, cols) for row kernels; the CUDA launch adds the layout, the split of long rows and the
grid (docs/kernels.md, "CUDA").
"""

from __future__ import annotations

import math

import numpy as np

from runtime.layout import as_matrix_view, contiguous_strides, element_strides, merge_axes
from symbolic.codegen.cuda_prelude import BLOCK, MAX_RANK, STATE_BYTES
from symbolic.graph import TensorType

MAX_GRID = 65535  # blocks per launch (the prelude's 32-bit index loop counts on ≤ 2^16)
BLOCKS_PER_SM = 16  # elementwise: enough resident blocks to hide memory latency, no more
FILL_BLOCKS_PER_SM = 4  # reductions: rows are split over blocks until this many run
VALUES_PER_THREAD = 32  # a part of a split row gives each thread at least this many values
COLUMN_BELOW = 128  # rows shorter than this are read one per lane (the column layout)


class Launch:
    """The launches of one kernel on fixed layouts: `grids` holds (blocks, packed sizes and
    strides) per launch; `prepare` makes inputs fit the strides (views, contiguous copies);
    `scratch` is the bytes of the two-pass scratch (None: the kernel takes none)."""

    __slots__ = ("kernel", "grids", "prepare", "out_shapes", "out_dtypes", "scratch")

    def __init__(self, kernel, grids, out_shapes, out_dtypes, prepare=None, scratch=None):
        self.kernel, self.grids, self.prepare, self.scratch = kernel, grids, prepare, scratch
        self.out_shapes, self.out_dtypes = out_shapes, out_dtypes

    def __call__(self, arrays, outs=None) -> list:
        """The outputs, new (or `outs`: contiguous device arrays of the planned shapes)."""
        device = self.kernel.device
        if self.prepare is not None:
            arrays = [prepare(a) for prepare, a in zip(self.prepare, arrays)]
        if outs is None:
            outs = [device.empty(s, d) for s, d in zip(self.out_shapes, self.out_dtypes)]
        pointers = [a.ptr for a in arrays] + [o.ptr for o in outs]
        work = None
        if self.scratch is not None:
            work = device.empty((self.scratch,), np.uint8) if self.scratch else None
            pointers.append(work.ptr if work is not None else 0)
        for grid, layout in self.grids:
            self.kernel.launch(grid, layout, pointers)
        return outs  # `work` goes back to the pool; later work on the stream comes after


def _blocks(kernel, wanted: int, per_sm: int) -> int:
    return max(1, min(wanted, MAX_GRID, kernel.device.multiprocessors * per_sm))


def plan_elementwise(kernel, out_types, arrays) -> Launch | None:
    """The flat or strided launch over the broadcast shape; None where the outputs do not
    take that shape or more than MAX_RANK axes remain after merging."""
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    if any(t.ndim != len(shape) for t in out_types):
        return None
    strides = [element_strides(a, shape) for a in arrays]
    strides += [contiguous_strides(shape)] * len(out_types)
    merged, merged_strides = merge_axes(shape, strides)
    if len(merged) > MAX_RANK:
        return None
    flat = [s for per_arg in merged_strides for s in per_arg]
    n = math.prod(merged)
    grid = _blocks(kernel, -(-n // (BLOCK * 4)), BLOCKS_PER_SM)
    layout = kernel.pack_layout([len(merged), *merged], flat)
    return Launch(kernel, [(grid, layout)], [shape] * len(out_types), [t.dtype for t in out_types])


def plan_reduction(kernel, axes, keepdims: bool, out_dtype, arrays) -> Launch | None:
    """(outer, inner) over the kept and reduced axes, one or two passes; None when empty
    (NumPy's reference gives the identity or the error)."""
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    kept = [a for a in range(len(shape)) if a not in axes]
    outer = math.prod(shape[a] for a in kept)
    inner = math.prod(shape[a] for a in axes)
    if outer == 0 or inner == 0:
        return None
    prepare, strides, inner_strides = [], [], []
    order = kept + list(axes)
    for a in arrays:
        found = as_matrix_view(a.broadcast_to(shape), kept, axes)
        if found is None:  # a layout the (outer, inner) strides cannot describe: copy it
            prepare.append(
                lambda x, s=shape: x.device.contiguous(x.broadcast_to(s).transpose(order))
            )
            found = (inner, 1)
        else:
            prepare.append(lambda x, s=shape: x.broadcast_to(s))
        strides += list(found)
        if a.ndim:
            inner_strides.append(found[1])
    strides += [1, 0]
    column = inner < COLUMN_BELOW or any(s not in (0, 1) for s in inner_strides)
    per, readers = (32, BLOCK // 32) if column else (1, BLOCK)
    groups = -(-outer // per)
    parts, fill = 1, kernel.device.multiprocessors * FILL_BLOCKS_PER_SM
    if groups < fill:
        parts = max(1, min(-(-fill // groups), inner // (readers * VALUES_PER_THREAD)))
    grids = []
    for phase in (0, 1) if parts > 1 else (0,):
        split = parts if phase == 0 else 1
        blocks = min(groups, MAX_GRID // split) * split
        grids.append((blocks, kernel.pack_layout([outer, inner, parts, phase, column], strides)))
    out_shape = (
        tuple(1 if a in axes else n for a, n in enumerate(shape))
        if keepdims
        else tuple(shape[a] for a in kept)
    )
    scratch = outer * parts * STATE_BYTES if parts > 1 else 0
    return Launch(kernel, grids, [out_shape], [out_dtype], prepare, scratch)


def plan_rows(kernel, axis: int, out_ndim: int, out_dtype, arrays) -> Launch | None:
    """(rows, cols) with the row axis last; None for another axis or an empty input."""
    x = arrays[0]
    if axis != x.ndim - 1 or x.ndim == 0:
        return None
    rows, cols = math.prod(x.shape[:-1]), x.shape[-1]
    if rows == 0 or cols == 0:
        return None
    found = as_matrix_view(x, list(range(x.ndim - 1)), [x.ndim - 1])
    prepare = None
    if found is None:
        prepare = [lambda a: a.device.contiguous(a)] + [lambda a: a] * (len(arrays) - 1)
        found = (cols, 1)
    strides = list(found)
    for extra in arrays[1:]:  # the labels of crossentropy_softmax: one per row
        if extra.ndim != 1:
            return None
        strides += [extra.strides[0] // extra.itemsize, 0]
    column = cols < COLUMN_BELOW
    groups = -(-rows // (32 if column else 1))
    layout = kernel.pack_layout([rows, cols, 1, 0, column], strides)
    out_shape = x.shape if out_ndim == x.ndim else x.shape[:-1]
    return Launch(kernel, [(min(groups, MAX_GRID), layout)], [out_shape], [out_dtype], prepare)


class UtilityKernel:
    """A runtime helper kernel (device.utility_kernels) with its plans per layout."""

    __slots__ = ("kernel", "plans")

    def __init__(self, kernel):
        self.kernel, self.plans = kernel, {}

    def run(self, device, arrays, axes=None) -> list:
        """copy_<dtype>: arrays[0] as a new contiguous array; sum_<dtype>: arrays[0] summed
        over `axes`, keeping them (size 1)."""
        key = (axes, *[(a.shape, a.strides) for a in arrays])
        launch = self.plans.get(key)
        if launch is None:
            description, dtype = self.kernel.description, arrays[0].dtype
            if description.kind == "elementwise":
                out = TensorType(dtype.name, (None,) * arrays[0].ndim)
                launch = plan_elementwise(self.kernel, [out], arrays)
            else:
                launch = plan_reduction(self.kernel, axes, True, dtype, arrays)
            self.plans[key] = launch
        return launch(arrays)
