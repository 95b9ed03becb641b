"""Launch plans: from the arguments' shapes and strides to a kernel's SymArgs, grid and outputs.

A plan depends only on the layouts of its arguments (shapes, strides), so each node computes it
once per layout and reuses it (the same scheme as the cpu device). The iteration spaces are
the shared ones of runtime/launch_plan.py (docs/kernels.md): merged axes for elementwise
kernels, (outer, inner) for reductions, (rows, cols) for row kernels; the CUDA launch adds the
layout, the split of long rows and the grid (docs/kernels.md, "CUDA").
"""

from __future__ import annotations

import math

import numpy as np

from runtime.launch_plan import elementwise_space, reduction_space, rows_space
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


def plan_elementwise(kernel, out_types, arrays, reads=None) -> Launch | None:
    """The flat or strided launch over the broadcast shape; None where the outputs do not
    take that shape (see `elementwise_space`) or more than MAX_RANK axes remain after
    merging."""
    space = elementwise_space([t.ndim for t in out_types], arrays, reads)
    if space is None or len(space.sizes) > MAX_RANK:
        return None
    merged = space.sizes
    grid = _blocks(kernel, -(-math.prod(merged) // (BLOCK * 4)), BLOCKS_PER_SM)
    layout = kernel.pack_layout([len(merged), *merged], space.in_strides + space.out_strides)
    return Launch(kernel, [(grid, layout)], space.out_shapes, [t.dtype for t in out_types])


def plan_reduction(kernel, axes, keepdims: bool, out_dtype, arrays) -> Launch | None:
    """(outer, inner) over the kept and reduced axes, one or two passes; None when empty
    (NumPy's reference gives the identity or the error)."""
    space = reduction_space(axes, keepdims, arrays)
    if space is None:
        return None
    (outer, inner), shape, order = space.sizes, space.shape, space.order
    prepare = [
        (lambda x: x.device.contiguous(x.broadcast_to(shape).transpose(order)))
        if copy
        else (lambda x: x.broadcast_to(shape))
        for copy in space.copies
    ]
    inner_strides = [space.in_strides[2 * i + 1] for i, a in enumerate(arrays) if a.ndim]
    column = inner < COLUMN_BELOW or any(s not in (0, 1) for s in inner_strides)
    per, readers = (32, BLOCK // 32) if column else (1, BLOCK)
    groups = -(-outer // per)
    parts, fill = 1, kernel.device.multiprocessors * FILL_BLOCKS_PER_SM
    if groups < fill:
        parts = max(1, min(-(-fill // groups), inner // (readers * VALUES_PER_THREAD)))
    strides = space.in_strides + space.out_strides
    grids = []
    for phase in (0, 1) if parts > 1 else (0,):
        split = parts if phase == 0 else 1
        blocks = min(groups, MAX_GRID // split) * split
        grids.append((blocks, kernel.pack_layout([outer, inner, parts, phase, column], strides)))
    scratch = outer * parts * STATE_BYTES if parts > 1 else 0
    return Launch(kernel, grids, space.out_shapes, [out_dtype], prepare, scratch)


def plan_rows(kernel, axis: int, out_ndim: int, out_dtype, arrays) -> Launch | None:
    """(rows, cols) with the row axis last; None for another axis or an empty input."""
    space = rows_space(axis, out_ndim, arrays)
    if space is None:
        return None
    prepare = None
    if space.copies[0]:  # rows the strides cannot describe: a contiguous copy
        prepare = [lambda a: a.device.contiguous(a)] + [lambda a: a] * (len(arrays) - 1)
    rows, cols = space.sizes
    column = cols < COLUMN_BELOW
    groups = -(-rows // (32 if column else 1))
    layout = kernel.pack_layout([rows, cols, 1, 0, column], space.in_strides)
    return Launch(kernel, [(min(groups, MAX_GRID), layout)], space.out_shapes, [out_dtype], prepare)


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
