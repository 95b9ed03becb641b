"""Nodes without a kernel that the C runner (runtime/runner.c) still runs without Python code:
products (NumPy's BLAS) and concatenations (runner_views.c) written into outputs the runner
provides (so they come from its memory planning, as kernels' outputs do, and a loop's rows
can be written in place), and views (basic indexing, transposes) the runner makes itself from
a planned offset, shape and strides. Like a kernel's launch, each plan depends only on the layouts of the node's inputs
(cpu_backend.PlannedStep keeps one per layout); where no plan fits, the node's NumPy
reference runs.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.array_utils import byte_bounds

from runtime.cpu_backend import Launch, PlannedStep
from symbolic.indexing import Subtensor
from symbolic.join import Join
from symbolic.linalg import MatMul
from symbolic.shape import DimShuffle


def plan_matmul(fn, node, arrays) -> Launch | None:
    """The output of a @ b for NumPy's BLAS to write: its shape, or None where the reference
    must run (a cast, or shapes that do not match: the reference raises)."""
    a, b = arrays
    out = node.outputs[0].type
    if a.dtype != out.dtype or b.dtype != out.dtype or a.shape[-1] != b.shape[-2]:
        return None
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return None
    return Launch(None, [], [], [(*batch, a.shape[-2], b.shape[-1])], [out.dtype], None, 2)


def plan_concatenate(fn, node, arrays) -> Launch | None:
    """The output of concatenate: its shape, or None where the reference must run (a cast,
    or shapes that do not join: the reference raises)."""
    out, axis = node.outputs[0].type, node.op.axis
    first = arrays[0].shape
    for a in arrays:
        if a.dtype != out.dtype or a.ndim != len(first):
            return None
        if a.shape[:axis] != first[:axis] or a.shape[axis + 1 :] != first[axis + 1 :]:
            return None
    shape = (*first[:axis], sum(a.shape[axis] for a in arrays), *first[axis + 1 :])
    return Launch(None, [], [], [shape], [out.dtype], None, len(arrays))


# op type → (planner, the writer(*inputs, *outputs) of a node's op, given the runner module).
# Both are C functions, so that a loop's step runs no Python: np.matmul is a ufunc, whose
# outputs may be passed by position; the runner's concatenate takes the axis first.
WRITERS = {
    MatMul: (plan_matmul, lambda op, module: np.matmul),
    Join: (plan_concatenate, lambda op, module: functools.partial(module.concatenate, op.axis)),
}


class WriterStep(PlannedStep):
    """A node NumPy (or the runner) computes into outputs the C runner provides (WRITERS)."""

    __slots__ = ("writer",)

    def __init__(self, node, module):
        planner, make_writer = WRITERS[type(node.op)]
        super().__init__(node, None, planner)
        self.writer = make_writer(node.op, module)

    def native_spec(self) -> tuple:
        return 0, self.node.op.perform, self.native_plan, self.writer


class ViewPlan:
    """Where a view lies in its input: `native` is what runner.c reads (its run_view)."""

    __slots__ = ("native",)

    def __init__(self, offset: int, shape: tuple, strides: tuple):
        packed = np.array([offset, len(shape), *shape, *strides], np.int64).tobytes()
        self.native = (packed, None, None)


def plan_view(fn, node, arrays) -> ViewPlan | None:
    """The view the node's reference makes of its input, as an offset, shape and strides;
    None where the reference gives no view inside the input (a NumPy scalar: x[0, 1])."""
    x = arrays[0]
    out = node.op.perform(*arrays)
    if not isinstance(out, np.ndarray) or out.dtype != x.dtype:
        return None
    low, high = byte_bounds(x)
    out_low, out_high = byte_bounds(out)
    if out.size and not low <= out_low <= out_high <= high:
        return None
    offset = out.__array_interface__["data"][0] - x.__array_interface__["data"][0]
    return ViewPlan(offset, out.shape, out.strides)


def is_view(node) -> bool:
    """Whether a node gives a view of its one input, placed by that input's layout alone:
    dimshuffle, and basic indexing with constant bounds (symbolic bounds are values)."""
    op = node.op
    return isinstance(op, DimShuffle) or (
        isinstance(op, Subtensor) and len(node.inputs) == 1 and op.name == "subtensor"
    )


class ViewStep(PlannedStep):
    """A node whose output the C runner makes as a view of its input (see plan_view)."""

    __slots__ = ()

    def __init__(self, node):
        super().__init__(node, None, plan_view)

    def native_spec(self) -> tuple:
        return 0, self.node.op.perform, self.native_plan, None


def runner_step(node, module) -> PlannedStep | None:
    """The step the C runner (the extension `module`) runs a node without a kernel as, or
    None (a Python call)."""
    from runtime.blas import blas_step  # gemm and 2-d products: one CBLAS call from C

    step = blas_step(node)
    if step is not None:
        return step
    if type(node.op) in WRITERS:
        return WriterStep(node, module)
    return ViewStep(node) if is_view(node) else None
