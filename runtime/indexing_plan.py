"""Launch plans for the gather and scatter kernels (docs/kernels.md, "gather", "scatter").

A plan depends only on the layout of the node's inputs (shapes and strides) and its static index
spec: the basic slices become an offset and strides, each integer index an axis (size, stride)
of x; the values of the indices are read by the kernel, which checks them. Where NumPy would
decide something the kernel cannot (index arrays that do not broadcast, a value that does not fit
the indexed shape, indices checked over an empty result) there is no plan, and the node runs its
NumPy reference, which raises NumPy's own errors.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from runtime.layout import contiguous_strides, element_strides, merge_axes
from symbolic.indexing import DYN


@dataclass
class IndexedSpace:
    """x[index] as the kernels see it: the indexed shape, where its origin lies in x, x's
    strides over it (0 along the axes the indices make), and for each integer index its
    argument (a position among the node's inputs, or a constant 0-d array), its strides over
    the space and the (size, stride) of the axis of x it indexes."""

    shape: tuple
    offset: int
    strides: list
    index_args: list
    index_strides: list
    axes: list


def indexed_space(spec, shape, strides, arrays, first: int) -> IndexedSpace | None:
    """The space of x[index] for x of `shape` and element `strides`; the index's dynamic
    inputs are arrays[first:]. None where NumPy must decide (see the module's docstring)."""
    dynamic = iter(range(first, len(arrays)))
    basic_shape, basic_strides, offset = [], [], 0
    index_args, axes, positions = [], [], []  # positions: (spec position, basic axes before)
    axis = 0
    for pos, entry in enumerate(spec):
        if entry[0] == "newaxis":
            basic_shape.append(1)
            basic_strides.append(0)
            continue
        n, s = shape[axis], strides[axis]
        axis += 1
        if entry[0] == "slice":  # kernel.describe gives no kernel for symbolic bounds
            start, stop, step = slice(*entry[1:]).indices(n)
            length = len(range(start, stop, step))
            offset += start * s if length else 0
            basic_shape.append(length)
            basic_strides.append(step * s)
            continue
        const = entry[0] == "int" and entry[1] != DYN  # an integer is a 0-d index array
        index_args.append(np.array(entry[1], np.int64) if const else next(dynamic))
        axes.append((n, s))
        positions.append((pos, len(basic_shape)))
    basic_shape += shape[axis:]
    basic_strides += strides[axis:]
    values = [a if isinstance(a, np.ndarray) else arrays[a] for a in index_args]
    try:
        broadcast = np.broadcast_shapes(*[v.shape for v in values])
    except ValueError:
        return None
    # NumPy puts the broadcast axes where the indices stand when they stand together, else first
    adjacent = positions and positions[-1][0] - positions[0][0] == len(positions) - 1
    at = positions[0][1] if adjacent else 0
    space = (*basic_shape[:at], *broadcast, *basic_shape[at:])
    if values and np.prod(broadcast) > 0 and (0 in space or any(n == 0 for n, _ in axes)):
        return None  # NumPy checks every index, even where it then reads nothing
    x_strides = [*basic_strides[:at], *[0] * len(broadcast), *basic_strides[at:]]
    after = len(basic_shape) - at
    index_strides = [[*[0] * at, *element_strides(v, broadcast), *[0] * after] for v in values]
    return IndexedSpace(space, offset, x_strides, index_args, index_strides, axes)


def merged(shape: tuple, strides: list) -> tuple[list, list]:
    """[rank, *shape] and the flat strides, axes merged; a space of no axes becomes one of
    one element (the kernels want rank ≥ 1)."""
    shape, strides = merge_axes(shape, strides)
    if not shape:
        shape, strides = (1,), [[0] for _ in strides]
    return [len(shape), *shape], [s for per_arg in strides for s in per_arg]


def plan_gather(fn, node, arrays) -> IndexLaunch | None:
    """data = {x, indices…, out, status}; sizes = {ndim, shape…, origin, (n_k, s_k)…}."""
    x = arrays[0]
    space = indexed_space(node.op.spec, x.shape, element_strides(x, x.shape), arrays, 1)
    if space is None:
        return None
    out_strides = contiguous_strides(space.shape)
    sizes, strides = merged(space.shape, [space.strides, *space.index_strides, out_strides])
    sizes += [space.offset, *[v for axis in space.axes for v in axis]]
    return IndexLaunch(fn, node, sizes, strides, [0, *space.index_args], space.shape, x.dtype)


def plan_scatter(fn, node, arrays) -> IndexLaunch | None:
    """data = {x, v, indices…, out, status}; sizes = {cdim, cshape…, ndim, shape…, origin,
    (n_k, s_k)…}: the copy space of out = x, then the indexed space of out[index]."""
    x, v = arrays[0], arrays[1]
    target = contiguous_strides(x.shape)
    space = indexed_space(node.op.spec, x.shape, target, arrays, 2)
    if space is None:
        return None
    try:
        if np.broadcast_shapes(v.shape, space.shape) != space.shape:
            return None
    except ValueError:
        return None
    copy_sizes, copy_strides = merged(x.shape, [element_strides(x, x.shape), target])
    value = element_strides(v, space.shape)
    sizes, strides = merged(space.shape, [value, *space.index_strides, space.strides])
    sizes = [*copy_sizes, *sizes, space.offset, *[n for axis in space.axes for n in axis]]
    strides = copy_strides[: copy_sizes[0]] + strides  # x's; out's are contiguous
    return IndexLaunch(fn, node, sizes, strides, [0, 1, *space.index_args], x.shape, x.dtype)


class IndexLaunch:
    """One gather or scatter call: the kernel's arguments (node inputs by position, constant
    indices as arrays), a fresh output, and the status cell, read after the call. An index out
    of range runs the node's NumPy reference instead, which raises NumPy's IndexError."""

    __slots__ = ("fn", "node", "sizes", "strides", "args", "out_shape", "out_dtype")

    def __init__(self, fn, node, sizes, strides, args, out_shape, out_dtype):
        self.fn, self.node, self.args = fn, node, args
        self.sizes = (ctypes.c_int64 * len(sizes))(*sizes)
        self.strides = (ctypes.c_int64 * len(strides))(*strides)
        self.out_shape, self.out_dtype = out_shape, out_dtype

    def __call__(self, arrays):
        args = [a if isinstance(a, np.ndarray) else arrays[a] for a in self.args]
        out = np.empty(self.out_shape, self.out_dtype)
        status = ctypes.c_int64()  # one per call: calls may run at once on Python threads
        pointers = [a.ctypes.data for a in args] + [out.ctypes.data, ctypes.addressof(status)]
        self.fn(self.sizes, self.strides, (ctypes.c_void_p * len(pointers))(*pointers))
        if status.value:
            return [self.node.op.perform(*arrays)]
        return [out]
