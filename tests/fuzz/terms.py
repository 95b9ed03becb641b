"""Terms of a random graph: a symbolic variable with its shape, a bound on its values and a bound
on the rounding error a device may show on it, and the error model that updates those bounds.

Error model: a device and the oracle may round differently at every op. An op f with argument
errors e_i adds at most Σ L_i·e_i (L_i the Lipschitz bound of f in argument i over the
arguments' intervals) plus its own rounding, ulps·eps·|f|. Reductions of n elements add
n·eps·Σ|x| (summation order differs between devices), the tolerance that accounts for
cancellation: it grows with the magnitude of the summed terms, not with the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic.graph import Variable


@dataclass(frozen=True)
class Term:
    var: Variable
    shape: tuple
    lo: float
    hi: float
    err: float = 0.0  # bound on |device − oracle| of every element

    @property
    def dtype(self) -> str:
        return self.var.dtype

    @property
    def kind(self) -> str:
        return np.dtype(self.dtype).kind

    @property
    def magnitude(self) -> float:
        return max(abs(self.lo), abs(self.hi))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def eps(dtype: str) -> float:
    """The rounding unit of a float dtype; integers and bools are exact."""
    return float(np.finfo(dtype).eps) if np.dtype(dtype).kind == "f" else 0.0


def _grid(lo: float, hi: float, count: int) -> np.ndarray:
    return np.unique(np.concatenate([np.linspace(lo, hi, count), [lo, hi]]))


def image(fn, intervals: list[tuple], integer: bool) -> tuple[float, float, list[float]]:
    """(lo, hi, Lipschitz bounds) of `fn` over the box `intervals`, sampled on a grid (widened
    by a margin: the grid may miss an extremum between its points)."""
    count = 257 if len(intervals) == 1 else 33
    axes = [_grid(lo, hi, count) for lo, hi in intervals]
    if integer:
        axes = [np.unique(np.round(a)) for a in axes]
    mesh = np.meshgrid(*axes, indexing="ij")
    with np.errstate(all="ignore"):
        values = np.asarray(fn(*mesh), np.float64)
    lo, hi = float(values.min()), float(values.max())
    margin = 0.05 * (hi - lo) + 1e-6
    slopes = []
    for axis, a in enumerate(axes):
        if len(a) < 2:
            slopes.append(0.0)
            continue
        steps = np.diff(values, axis=axis) / np.expand_dims(
            np.diff(a), [i for i in range(len(axes)) if i != axis]
        )
        slopes.append(2.0 * float(np.abs(steps).max()))
    return lo - margin, hi + margin, slopes


def reduced_count(shape: tuple, axis) -> int:
    """How many elements each output element of a reduction over `axis` combines."""
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))
