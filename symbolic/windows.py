"""Sliding-window geometry shared by conv2d and the pooling ops.

A kh×kw window slides over the two spatial axes of an (N, C, H, W) tensor padded by (ph, pw) on
each side, (sh, sw) positions per step. There are OH = ⌊(H + 2·ph − kh) / sh⌋ + 1 rows of
windows (the floor rule of PyTorch and cuDNN: a window that would run past the padded edge is
dropped), and OW columns likewise. Window (a, b) covers the padded rows sh·a … sh·a + kh − 1.

Pooling may instead keep the partial windows at the far edge (`ceil_mode`, Theano's
ignore_border=False): OH = ⌈(H + 2·ph − kh) / sh⌉ + 1, less one where the last window would
start past the input (in the right padding only), so every window holds a real value. The
rows those windows reach beyond the padded input are `overhang` entries added at the end.
"""

from __future__ import annotations

import numpy as np

from symbolic.graph import Variable


def as_pair(value, what: str, op: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as (for the rows, for the columns), each at least `minimum`."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        rows, cols = pair
    except (TypeError, ValueError):
        rows = cols = None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (rows, cols)):
        raise TypeError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
    if rows < minimum or cols < minimum:
        raise ValueError(f"{op}: {what} must be at least {minimum}, got {value!r}")
    return int(rows), int(cols)


def output_length(
    n: int | None, k: int | None, stride: int, padding: int, ceil_mode: bool = False
) -> int | None:
    """How many windows of length k fit along an axis of length n (None where unknown); with
    `ceil_mode` partial windows at the far edge count too (see the module's text)."""
    if n is None or k is None:
        return None
    if not ceil_mode:
        return (n + 2 * padding - k) // stride + 1
    count = -(-(n + 2 * padding - k) // stride) + 1
    return count - 1 if (count - 1) * stride >= n + padding else count


def overhang(n: int, k: int, stride: int, padding: int, count: int) -> int:
    """How far `count` windows reach past the padded axis of length n (0 when they fit)."""
    return max(0, (count - 1) * stride + k - (n + 2 * padding))


def check_fits(op: str, x: Variable | tuple, kernel, padding) -> None:
    """Raise ValueError when the (padded) spatial size of x is known and smaller than the window.

    `x` is a variable (its static shape is checked) or a concrete shape; `kernel` entries may be
    None (unknown)."""
    shape = x.type.shape if isinstance(x, Variable) else tuple(x)
    for n, k, p in zip(shape[-2:], kernel, padding):
        if n is not None and k is not None and n + 2 * p < k:
            raise ValueError(
                f"{op}: the {kernel[0]}×{kernel[1]} window does not fit in an input of "
                f"shape {shape} padded by {padding}"
            )


def window_slice(offset: int, stride: int, count: int) -> slice:
    """The positions offset, offset + stride, … of `count` consecutive windows along an axis."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def padded(x: np.ndarray, axes: tuple, padding: tuple, value=0, extra=(0, 0)) -> np.ndarray:
    """x with padding[k] entries of `value` before and after axis axes[k], and extra[k] more
    after (x itself when none)."""
    if not any(padding) and not any(extra):
        return x
    shape = list(x.shape)
    inner = [slice(None)] * x.ndim
    for axis, p, e in zip(axes, padding, extra):
        inner[axis] = slice(p, p + shape[axis])
        shape[axis] += 2 * p + e
    out = np.full(shape, value, x.dtype)
    out[tuple(inner)] = x
    return out


def cropped(xp: np.ndarray, axes: tuple, padding: tuple, extra=(0, 0)) -> np.ndarray:
    """The inverse of `padded`: xp without its padding (a view)."""
    inner = [slice(None)] * xp.ndim
    for axis, p, e in zip(axes, padding, extra):
        inner[axis] = slice(p, xp.shape[axis] - p - e)
    return xp[tuple(inner)]
