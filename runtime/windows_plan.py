"""Launch plans for the window kernels (docs/kernels.md, "columns", "pool", "direct").

A plan is the kernel's sizes {N, C, H, W, …}, the element strides of its (N, C, H, W) inputs,
the output's shape, and per input a function giving the array the kernel reads (None: the
input itself). None where the kernel cannot take the call (a stride that is not a whole number
of elements, shapes that do not agree with the op's geometry): the node's NumPy reference then
runs, and raises NumPy's or the op's own error where there is one.

A columns plan depends on the values of the shape vectors (the filters' shape gives the window
size), not only on the layouts, so its steps key their plans by those values too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from symbolic.conv import check_channels
from symbolic.conv_direct import output_shape
from symbolic.windows import check_fits


class WindowSpace(NamedTuple):
    sizes: list
    strides: list
    out_shapes: list
    views: list | None


def _element_strides(arrays) -> list | None:
    """The element strides of each array, or None when one is not a whole number of elements."""
    strides = []
    for a in arrays:
        if any(s % a.itemsize for s in a.strides):
            return None
        strides += [s // a.itemsize for s in a.strides]
    return strides


def _same(a: np.ndarray) -> np.ndarray:
    return a


def columns_space(op, arrays) -> WindowSpace | None:
    """im2col: data = {x, filter shape, cols}; col2im: data = {cols, input shape, filter shape,
    x}; sizes = {N, C, H, W, KH, KW, OH, OW}; strides: im2col's x (cols is contiguous both
    ways: col2im reads a contiguous copy of any other)."""
    im2col = op.name == "im2col"
    fshape = tuple(int(v) for v in arrays[1 if im2col else 2])
    shape = arrays[0].shape if im2col else tuple(int(v) for v in arrays[1])
    if len(shape) != 4 or len(fshape) != 4:
        return None
    try:
        check_channels(shape, fshape)
        check_fits(op.name, shape, fshape[2:], op.padding)
    except ValueError:
        return None
    geometry = op.sizes(shape, fshape)
    sizes = [*shape, *fshape[2:], geometry["oh"], geometry["ow"]]
    if im2col:
        strides = _element_strides(arrays[:1])
        if strides is None:
            return None
        return WindowSpace(sizes, strides, [op.columns_shape(geometry)], None)
    cols = arrays[0]
    if cols.shape != op.columns_shape(geometry):
        return None
    views = None if cols.flags.c_contiguous else [np.ascontiguousarray, _same, _same]
    return WindowSpace(sizes, [], [shape], views)


def pool_space(op, arrays) -> WindowSpace | None:
    """max_pool2d: data = {x, shift?, out}; max_pool2d_grad: data = {x, pooled, g, shift?,
    out, the shift's gradient?}; sizes = {N, C, H, W, OH, OW, then the shift's NS, CS where
    its gradient is summed}; strides: each input's (N, C, H, W), the shift's 0 on the axes
    it is broadcast along."""
    x = arrays[0]
    shifted = len(arrays) == (2 if op.name == "max_pool2d" else 4)
    if x.ndim != 4:
        return None
    try:
        pooled = op.pooled_shape(x.shape)
    except ValueError:
        return None
    if any(a.shape != pooled for a in arrays[1 : len(arrays) - shifted]):
        return None
    strides = _element_strides(arrays[: len(arrays) - shifted])
    if strides is None:
        return None
    if shifted:
        shift = arrays[-1]
        fits = shift.shape[2:] == (1, 1) and all(s in (1, n) for s, n in zip(shift.shape, x.shape))
        shift_strides = _element_strides([shift]) if fits else None
        if shift_strides is None:
            return None
        strides += [0 if n == 1 else s for n, s in zip(shift.shape, shift_strides)]
    sizes = [*x.shape, *pooled[2:]]
    if op.name == "max_pool2d":
        return WindowSpace(sizes, strides, [pooled], None)
    if not op.sums_shift:
        return WindowSpace(sizes, strides, [x.shape], None)
    shift = arrays[-1].shape  # its gradient: (N or 1, C or 1, 1, 1), sizes NS and CS
    return WindowSpace([*sizes, *shift[:2]], strides, [x.shape, shift], None)


def direct_space(op, arrays) -> WindowSpace | None:
    """conv2d_direct: data = {x, w, out}; conv2d_filter_grad: data = {x, g, w, dw}; sizes =
    {N, C, H, W, O, KH, KW, OH, OW}; strides: x's (N, C, H, W), then w's (forward) or g's
    (gradient)."""
    x, w = arrays[0], arrays[-1]
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        return None
    try:
        check_fits(op.name, x.shape, w.shape[2:], op.padding)
    except ValueError:
        return None
    out = output_shape(x.shape, w.shape, op.stride, op.padding)
    forward = op.name == "conv2d_direct"
    if not forward and arrays[1].shape != out:
        return None
    strides = _element_strides([x, w] if forward else arrays[:2])
    if strides is None:
        return None
    sizes = [*x.shape, *w.shape[:1], *w.shape[2:], *out[2:]]
    return WindowSpace(sizes, strides, [out if forward else w.shape], None)
