"""2-d max and average pooling over the last two axes of (N, C, H, W) tensors.

Windows follow symbolic/windows.py (floor rule, or partial edge windows kept with `ceil_mode`;
stride defaults to the window size). Every
NumPy reference here walks the kh·kw offsets of a window, each offset a strided view of the
whole tensor, so the work is kh·kw NumPy passes over the output whatever the window count (the
cpu device's kernels for max pooling: symbolic/codegen/c_windows.py).

- max: padding counts as −∞ (never the maximum of a window, which always holds one real
  value since padding < size). The gradient goes to the first maximal position of each window
  in row-major order (ties: the first), found from the input and the pooled output;
  `max_pool2d_grad` scatters it there and `max_pool2d_gather`, its adjoint, reads values from
  there, so second derivatives exist (zero with respect to the input through the choice of
  positions, which is piecewise constant). A window holding NaN pools to NaN and passes no
  gradient.
- max of a shifted input: max_pool2d and max_pool2d_grad take an optional last input, a
  `shift` constant over each (n, c) plane (a conv's bias, shape (1, C, 1, 1)), and pool
  x + shift as if it were their input. The optimizer makes max_pool2d(x + bias) and its
  gradient so (rules/specialize.py), and the sum x + bias is then never stored: the kernels
  add it as they read x. x + shift is rounded as the sum was, so values and the positions
  of the maxima are the unshifted ops' on the stored sum. The gradient node also gives the
  shift's gradient (`sums_shift`: its gradient summed over the planes that share a shift
  value), so the bias gradient needs no pass of its own over the input gradient.
- average: the window sum divided by the window size kh·kw, padded zeros included
  (`count_include_pad=True`, PyTorch's default), or by the number of real values in the window
  (`count_include_pad=False`); sum: the window sum itself (an average with divisor 1). Linear: its gradient spreads g / count over each window
  (`avg_pool2d_grad`), whose own gradient is the average pool again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.alloc import SumTo, broadcast_to
from symbolic.graph import TensorType, Variable, as_variable
from symbolic.op import Op
from symbolic.shape import shape_of, static_entries
from symbolic.windows import (
    as_pair,
    check_fits,
    cropped,
    output_length,
    overhang,
    padded,
    window_slice,
)

SPATIAL = (2, 3)


@dataclass(frozen=True)
class Pool2d(Op):
    """The window parameters every pooling op shares, and the geometry built from them."""

    size: tuple
    stride: tuple
    padding: tuple
    ceil_mode: bool = False  # keep the partial windows at the far edges

    @property
    def window(self) -> dict:
        """The geometry, to build a related pooling op with."""
        return dict(
            size=self.size, stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode
        )

    def pooled_shape(self, shape: tuple) -> tuple:
        check_fits(self.name, shape, self.size, self.padding)
        lengths = zip(shape[2:], self.size, self.stride, self.padding)
        return tuple(shape[:2]) + tuple(output_length(*args, self.ceil_mode) for args in lengths)

    def extra(self, shape: tuple) -> tuple:
        """The entries the windows reach past the padded spatial axes of `shape` (ceil_mode)."""
        if not self.ceil_mode:
            return (0, 0)
        pooled = self.pooled_shape(shape)[2:]
        geometry = zip(shape[2:], self.size, self.stride, self.padding, pooled)
        return tuple(overhang(*args) for args in geometry)

    def windows(self, xp: np.ndarray, pooled_shape: tuple) -> Iterator[np.ndarray]:
        """For each offset (i, j) of a window in row-major order, the view of the padded xp at
        that offset of every window: xp[:, :, sh·a + i, sw·b + j] over (a, b)."""
        oh, ow = pooled_shape[2:]
        for i in range(self.size[0]):
            rows = window_slice(i, self.stride[0], oh)
            for j in range(self.size[1]):
                yield xp[:, :, rows, window_slice(j, self.stride[1], ow)]

    def padded_like(self, x: np.ndarray, value) -> np.ndarray:
        return padded(x, SPATIAL, self.padding, value, self.extra(x.shape))

    def padded_zeros(self, shape: tuple, dtype) -> np.ndarray:
        """Zeros of `shape` (N, C, H, W) with the padding (and overhang) added to H and W."""
        (ph, pw), (eh, ew), (n, c, h, w) = self.padding, self.extra(shape), shape
        return np.zeros((n, c, h + 2 * ph + eh, w + 2 * pw + ew), dtype)

    def cropped(self, gx: np.ndarray, shape: tuple) -> np.ndarray:
        """The inverse of `padded_zeros`: the (N, C, H, W) part of gx."""
        return cropped(gx, SPATIAL, self.padding, self.extra(shape))

    def first_maxima(self, x: np.ndarray, pooled: np.ndarray) -> Iterator[np.ndarray]:
        """For each offset of a window (row-major), the mask of the windows whose first
        maximum is there: the first offset where x equals the window's max, `pooled`.

        Plain ufuncs only: masked ones (copyto(where=), putmask) are 10-40× slower on these
        strided views. For booleans, hit > taken is hit and not taken."""
        taken = None
        for view in self.windows(self.padded_like(x, lowest(x.dtype)), pooled.shape):
            hit = np.equal(view, pooled)
            yield hit if taken is None else np.greater(hit, taken)
            taken = hit if taken is None else np.logical_or(taken, hit)

    @property
    def overlapping(self) -> bool:
        return self.stride[0] < self.size[0] or self.stride[1] < self.size[1]

    def counts(self, shape: tuple, dtype, include_pad: bool) -> np.ndarray | float:
        """The divisor of each window of an average: kh·kw, or the real (unpadded) positions
        it covers; an overhang (ceil_mode) is never counted."""
        if not any(self.extra(shape)) and (include_pad or not any(self.padding)):
            return float(self.size[0] * self.size[1])
        ones = np.ones((1, 1) + tuple(shape[2:]), dtype)
        inside = padded(ones, SPATIAL, self.padding, 1 if include_pad else 0)
        counted = padded(inside, SPATIAL, (0, 0), 0, self.extra(ones.shape))
        return sum(self.windows(counted, self.pooled_shape(ones.shape)))


def masked(values: np.ndarray, mask: np.ndarray, out=None) -> np.ndarray:
    """values where mask holds, else 0: a product (one fast pass) unless a value is not
    finite (∞·0 is NaN), then np.where."""
    if values.dtype.kind != "f" or np.isfinite(values).all():
        return np.multiply(values, mask, out=out)
    chosen = np.where(mask, values, 0)
    if out is None:
        return chosen
    out[...] = chosen
    return out


def lowest(dtype) -> float | int:
    """The padding value of max pooling: below every value of the dtype."""
    return -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min


def shifted(x: np.ndarray, shift: tuple) -> np.ndarray:
    """x + shift[0] where a shift is given (see the module's text), else x."""
    return x + shift[0] if shift else x


def check_shift(op: str, x: Variable, shift: tuple) -> None:
    """A shift is one value per (n, c) plane of x, in x's dtype."""
    for s in shift:
        if s.ndim != 4 or s.type.shape[2:] != (1, 1) or s.dtype != x.dtype:
            raise ValueError(
                f"{op}: the shift must be {x.dtype} of shape (N or 1, C or 1, 1, 1), got "
                f"{s.describe()}"
            )


@dataclass(frozen=True)
class MaxPool2d(Pool2d):
    @property
    def name(self) -> str:
        return "max_pool2d"

    def infer(self, x, *shift):
        check_shift(self.name, x, shift)
        return [TensorType(x.dtype, self.pooled_shape(x.type.shape))]

    def perform(self, x, *shift):
        x = shifted(x, shift)
        views = self.windows(self.padded_like(x, lowest(x.dtype)), self.pooled_shape(x.shape))
        out = next(views).copy()
        for view in views:
            np.maximum(out, view, out=out)
        return out

    def grad(self, inputs, outputs, output_grads):
        x, pooled, g = inputs[0], outputs[0], output_grads[0]
        if len(inputs) == 1:
            return [MaxPool2dGrad(**self.window)(x, pooled, g)]
        return MaxPool2dGrad(**self.window, sums_shift=True)(x, pooled, g, inputs[1])


@dataclass(frozen=True)
class MaxPool2dGrad(Pool2d):
    """g scattered to the first maximal position of each window of x (+ shift) (whose maxima
    are `pooled`); windows that overlap add up. With `sums_shift`, a second output: that
    gradient summed to the shift's shape (the gradient of the shift, a conv's bias)."""

    sums_shift: bool = False

    @property
    def name(self) -> str:
        return "max_pool2d_grad"

    def infer(self, x, pooled, g, *shift):
        check_shift(self.name, x, shift)
        if self.sums_shift and not shift:
            raise ValueError(f"{self.name}: sums_shift needs a shift input")
        gx = TensorType(g.dtype, x.type.shape)
        return [gx, TensorType(g.dtype, shift[0].type.shape)] if self.sums_shift else [gx]

    def perform(self, x, pooled, g, *shift):
        x = shifted(x, shift)
        gx = self.padded_zeros(x.shape, g.dtype)
        for first, view in zip(self.first_maxima(x, pooled), self.windows(gx, g.shape)):
            if self.overlapping:
                view += masked(g, first)
            else:  # each position in one window at most: assign
                masked(g, first, out=view)
        gx = self.cropped(gx, x.shape)
        if not self.sums_shift:
            return gx
        summed = SumTo().perform(gx, shift[0].shape)
        return [gx, summed.copy() if summed is gx else summed]  # two arrays, never one twice

    def grad(self, inputs, outputs, output_grads):
        x, pooled = inputs[:2]
        x = x + inputs[3] if len(inputs) > 3 else x
        v = output_grads[0]
        if self.sums_shift:  # the sum's gradient: its output gradient broadcast back
            v = v + broadcast_to(output_grads[1], shape_of(outputs[0]))
        gather = MaxPool2dGather(**self.window)
        return [None, None, gather(x, pooled, v), *[None] * len(inputs[3:])]


@dataclass(frozen=True)
class MaxPool2dGather(Pool2d):
    """v (shape of x) read at the first maximal position of each window of x (whose maxima are
    `pooled`): the adjoint of max_pool2d_grad in its last argument."""

    @property
    def name(self) -> str:
        return "max_pool2d_gather"

    def infer(self, x, pooled, v):
        return [TensorType(v.dtype, pooled.type.shape)]

    def perform(self, x, pooled, v):
        out = np.zeros(pooled.shape, v.dtype)
        views = self.windows(self.padded_like(v, 0), pooled.shape)
        for first, view in zip(self.first_maxima(x, pooled), views):
            out += masked(view, first)  # one nonzero term per window
        return out

    def grad(self, inputs, outputs, output_grads):
        x, pooled, _ = inputs
        scatter = MaxPool2dGrad(**self.window)
        return [None, None, scatter(x, pooled, output_grads[0])]


@dataclass(frozen=True)
class AvgPool2d(Pool2d):
    count_include_pad: bool = True
    summed: bool = False  # the window sums, undivided (sum_pool2d)

    @property
    def name(self) -> str:
        return "sum_pool2d" if self.summed else "avg_pool2d"

    def infer(self, x):
        return [TensorType(dtypes.to_float(x.dtype), self.pooled_shape(x.type.shape))]

    def perform(self, x):
        x = x.astype(dtypes.to_float(x.dtype.name), copy=False)
        views = self.windows(self.padded_like(x, 0), self.pooled_shape(x.shape))
        total = next(views).copy()
        for view in views:
            total += view
        if not self.summed:
            total /= self.counts(x.shape, x.dtype, self.count_include_pad)
        return total

    def grad(self, inputs, outputs, output_grads):
        x, g = inputs[0], output_grads[0]
        spread = AvgPool2dGrad(
            **self.window, count_include_pad=self.count_include_pad, summed=self.summed
        )
        return [spread(g, shape_of(x))]


@dataclass(frozen=True)
class AvgPool2dGrad(Pool2d):
    """g (pooled shape) / count spread evenly over each window, giving `input_shape`."""

    count_include_pad: bool = True
    summed: bool = False

    @property
    def name(self) -> str:
        return "sum_pool2d_grad" if self.summed else "avg_pool2d_grad"

    def infer(self, g, input_shape):
        return [TensorType(g.dtype, static_entries(input_shape))]

    def perform(self, g, input_shape):
        shape = tuple(int(n) for n in input_shape)
        share = g if self.summed else g / self.counts(shape, g.dtype, self.count_include_pad)
        gx = self.padded_zeros(shape, g.dtype)
        for view in self.windows(gx, g.shape):
            view += share
        return self.cropped(gx, shape)

    def grad(self, inputs, outputs, output_grads):
        pool = AvgPool2d(
            **self.window, count_include_pad=self.count_include_pad, summed=self.summed
        )
        return [pool(output_grads[0]), None]


def _window(op: str, x, size, stride, padding) -> tuple[Variable, tuple, tuple, tuple]:
    x = as_variable(x)
    if x.ndim != 4:
        raise ValueError(
            f"{op}: the input must be 4-d (batch, channels, rows, columns), got {x.describe()}"
        )
    size = as_pair(size, "size", op, 1)
    stride = size if stride is None else as_pair(stride, "stride", op, 1)
    padding = as_pair(padding, "padding", op, 0)
    if padding[0] >= size[0] or padding[1] >= size[1]:
        raise ValueError(f"{op}: padding {padding} must be smaller than the window {size}")
    return x, size, stride, padding


def max_pool2d(x, size, stride=None, padding=0, ceil_mode: bool = False) -> Variable:
    """The maximum of each size×size window over the last two axes of (N, C, H, W) x.

    Parameters
    ----------
    x : (N, C, H, W) tensor.
    size : int or (rows, columns) window.
    stride : int or pair; None (the default) means `size`: windows that tile without overlap.
    padding : int or pair of −∞ rows/columns on both sides, smaller than `size`.
    ceil_mode : keep the partial windows at the far edges (Theano's ignore_border=False):
        OH = ⌈(H + 2·padding − size) / stride⌉ + 1 (see symbolic/windows.py).

    Returns
    -------
    (N, C, OH, OW) with OH = ⌊(H + 2·padding − size) / stride⌋ + 1. The gradient goes to the
    first maximal position of each window (row-major).
    """
    x, size, stride, padding = _window("max_pool2d", x, size, stride, padding)
    return MaxPool2d(size, stride, padding, bool(ceil_mode))(x)


def avg_pool2d(
    x, size, stride=None, padding=0, count_include_pad: bool = True, ceil_mode: bool = False
) -> Variable:
    """The mean of each size×size window over the last two axes of (N, C, H, W) x.

    Parameters as `max_pool2d`; padding adds zeros. `count_include_pad` (default True, as
    PyTorch): divide by size·size, padded zeros included; False: by the number of real values
    in the window. A partial window of `ceil_mode` counts only what it covers of the padded
    input. Integer input gives float32.
    """
    x, size, stride, padding = _window("avg_pool2d", x, size, stride, padding)
    return AvgPool2d(size, stride, padding, bool(ceil_mode), bool(count_include_pad))(x)


def sum_pool2d(x, size, stride=None, padding=0, ceil_mode: bool = False) -> Variable:
    """The sum of each size×size window over the last two axes of (N, C, H, W) x (padding adds
    zeros; parameters as `max_pool2d`). Integer input gives float32."""
    x, size, stride, padding = _window("sum_pool2d", x, size, stride, padding)
    return AvgPool2d(size, stride, padding, bool(ceil_mode), summed=True)(x)
