"""Input arrays for the random graphs, in every memory layout a caller may pass.

Values are the same whatever the layout; what differs is how they lie in memory: contiguous,
Fortran order, transposed, reversed, strided (every other element of a larger array) and
broadcast (`np.broadcast_to`: stride 0 and read-only).
"""

from __future__ import annotations

import numpy as np

LAYOUTS = ("contiguous", "fortran", "transposed", "reversed", "strided", "broadcast")


def draw_values(rng: np.random.Generator, shape: tuple, dtype: str, lo: float, hi: float):
    """Uniform values in [lo, hi] (integers: the integers in it)."""
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, shape).astype(dtype)
    return rng.uniform(lo, hi, shape).astype(dtype)


def in_layout(rng: np.random.Generator, values: np.ndarray, layout: str) -> np.ndarray:
    """`values` laid out as `layout` says (a layout that needs more axes gives the array back)."""
    if values.ndim == 0:
        return values[()] if layout == "contiguous" else values
    if layout == "fortran":
        return np.asfortranarray(values)
    if layout == "transposed" and values.ndim >= 2:
        return np.ascontiguousarray(values.T).T
    if layout == "reversed":
        return np.ascontiguousarray(values[::-1])[::-1]
    if layout == "strided":
        axis = int(rng.integers(values.ndim))
        wide = list(values.shape)
        wide[axis] *= 2
        big = np.zeros(wide, values.dtype)
        every_other = tuple(
            slice(None, None, 2) if a == axis else slice(None) for a in range(values.ndim)
        )
        big[every_other] = values
        return big[every_other]
    if layout == "broadcast":  # one row (or column) repeated: the values change accordingly
        axis = int(rng.integers(values.ndim))
        return np.broadcast_to(np.take(values, [0], axis=axis), values.shape)
    return values


def draw_leaf(rng: np.random.Generator, shape: tuple, dtype: str, lo: float, hi: float):
    """An input array of `shape` in a random layout."""
    layout = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    return in_layout(rng, draw_values(rng, shape, dtype, lo, hi), layout)
