"""check: every node a device runs is run again by its NumPy reference and compared.

`S.compile(..., check=True)` wraps each step (runtime/debug_modes.py): the node runs as the
device runs it (its generated kernel, BLAS, a view…), then `op.perform` runs on the same input
values, and the first output that differs beyond the node's tolerance raises `CheckError`
(an `AssertionError`) naming the node, its kernel (the name of its entry in `f.kernels`) and
the worst element: its index, the value the device gave and the reference's. For hunting
codegen bugs: the values compared are each node's own, so an error points at the kernel that
made it, not at the first output that shows it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from runtime.errors import NodeNames
from symbolic.elemwise import Cast, Elemwise
from symbolic.fused import FusedElemwise

# A node's relative tolerance, in units of its dtype's epsilon. An elementwise op is within a
# few ulp of NumPy's (the C library and NumPy's loops round differently), compounding over the
# member ops of a fused node; a node that sums (a reduction, a product, a softmax row) adds its
# terms in another order, an error that grows like √(terms) for rounding that is random.
ELEMENTWISE_ULPS = 16  # per member op
SUMMING_ULPS = 16  # × √(the size of its largest input, a bound on the terms of one sum)
FAST_MATH_ULPS = 4096  # cuda's __expf and kin: "a few ulp" near 0, more far from it


class CheckError(AssertionError):
    """A node's value on the device differs from its NumPy reference beyond tolerance;
    `node` is the node, `kernel` the name of its kernel (or None)."""

    node = None
    kernel = None


def is_elementwise(op) -> bool:
    return isinstance(op, (Elemwise, Cast, FusedElemwise))


def relative_tolerance(node, dtype: np.dtype, args: Sequence, fast_math: bool = False) -> float:
    """How far (relative) a float output of `node` may be from the reference (see the table)."""
    eps = float(np.finfo(dtype).eps)
    if is_elementwise(node.op):
        members = len(getattr(node.op, "steps", ())) or 1
        ulps = ELEMENTWISE_ULPS * members
    else:
        terms = max([int(np.size(a)) for a in args] + [1])
        ulps = SUMMING_ULPS * math.sqrt(terms)
    if fast_math and dtype == np.float32:
        ulps = max(ulps, FAST_MATH_ULPS)
    return ulps * eps


def worst_element(got: np.ndarray, want: np.ndarray, rtol: float, scale: float):
    """(index, excess) of the element furthest beyond |got − want| ≤ rtol·(|want| + scale);
    equal NaNs and infinities agree, a NaN against a number is infinitely far."""
    g, w = got.astype(np.float64), want.astype(np.float64)
    agree = (g == w) | (np.isnan(g) & np.isnan(w))
    with np.errstate(invalid="ignore", over="ignore"):
        excess = np.abs(g - w) - rtol * (np.abs(w) + scale)
    excess = np.where(agree, -np.inf, np.nan_to_num(excess, nan=np.inf))
    flat = int(np.argmax(excess))
    return np.unravel_index(flat, got.shape), float(excess.flat[flat])


class StepChecker:
    """`wrap(node, step, kernel)` gives the step that also runs the node's reference and
    compares; `names` names the nodes in messages. `to_host(values)` gives a step's values as host arrays (the cuda device's are on
    the GPU); `fast_math` widens float32 tolerances (cuda's approximate intrinsics)."""

    def __init__(self, names: NodeNames, to_host: Callable | None = None, fast_math: bool = False):
        self.names = names
        self.to_host = to_host or (lambda values: list(values))
        self.fast_math = fast_math

    def wrap(self, node, step, kernel: str | None = None):
        single = len(node.outputs) == 1
        reference = node.op.perform

        def checked(*args):
            result = step(*args)
            host_args = self.to_host(args)
            expected = reference(*host_args)
            got = self.to_host((result,) if single else result)
            want = (expected,) if single else expected
            for i, (g, w) in enumerate(zip(got, want)):
                self.compare(node, kernel, i, np.asarray(g), np.asarray(w), host_args)
            return result

        return checked

    def compare(self, node, kernel, i: int, got, want, args) -> None:
        """A CheckError where output `i` of `node` is not the reference's `want`."""
        if got.shape != want.shape or got.dtype != want.dtype:
            found = f"{got.dtype}{list(got.shape)}, the reference {want.dtype}{list(want.shape)}"
            raise self.error(node, kernel, i, f"the device gave {found}")
        exact = got.dtype.kind not in "fc"
        if np.array_equal(got, want, equal_nan=not exact):  # one pass: the common case
            return
        rtol = 0.0 if exact else relative_tolerance(node, got.dtype, args, self.fast_math)
        if exact:
            scale = 0.0
        elif is_elementwise(node.op):
            scale = 1.0  # values near 0: a few ulp of 1
        else:  # a sum that cancels: a few ulp of its largest terms
            finite = np.abs(want[np.isfinite(want)])
            scale = float(finite.max()) if finite.size else 0.0
        index, excess = worst_element(got, want, rtol, scale)
        if excess > 0:
            where = list(map(int, index))
            allowed = (
                "compared exactly"
                if exact
                else f"tolerance {rtol:.3g} relative, {rtol * scale:.3g} absolute"
            )
            found = f"worst element at index {where}: got {got[index]!s}, expected {want[index]!s}"
            raise self.error(node, kernel, i, f"{found} ({allowed})")

    def error(self, node, kernel, i: int, found: str) -> CheckError:
        what = f"output {i} of " if len(node.outputs) > 1 else ""
        ran = f"kernel {kernel}" if kernel else "the device's step"
        lines = [
            f"check: {what}{node.op.name} ({ran}) differs from the NumPy reference",
            self.names.describe(node, i),
            f"  {found}",
        ]
        error = CheckError("\n".join(lines))
        error.node, error.kernel = node, kernel
        return error
