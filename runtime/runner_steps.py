"""Nodes without a kernel that the C runner (runtime/runner.c) still runs without Python code:
products (a CBLAS gemm called from C, runner_blas.c; NumPy's BLAS where runtime/blas.py found
none) and concatenations (runner_views.c) written into outputs the runner
provides (so they come from its memory planning, as kernels' outputs do, and a loop's rows
can be written in place), and views (basic indexing, transposes) the runner makes itself from
a planned offset, shape and strides. Like a kernel's launch, each plan depends only on the layouts of the node's inputs
(cpu_backend.PlannedStep keeps one per layout); where no plan fits, the node's NumPy
reference runs.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np
from numpy.lib.array_utils import byte_bounds

from runtime.cpu_backend import Launch, PlannedStep
from runtime.gemm_plans import Budget, FormChooser
from runtime.gemm_updates import Gemm
from runtime.packed_products import PackedMatMul
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


def blas_matrix(x: np.ndarray) -> tuple[int, int] | None:
    """How BLAS reads the last two axes of `x` (rows × columns) in place: (transposed, leading
    dimension in elements), or None where neither axis is contiguous (a copy is needed). An
    axis of length 1 has no step to respect."""
    rows, cols = x.shape[-2:]
    if any(s % x.itemsize for s in x.strides[-2:]):
        return None
    row_step, col_step = (s // x.itemsize for s in x.strides[-2:])
    if cols == 1 or col_step == 1:  # rows contiguous: as stored
        lead = max(cols, 1) if rows == 1 else row_step
        if lead >= max(cols, 1):
            return 0, lead
    if rows == 1 or row_step == 1:  # columns contiguous: transposed
        lead = max(rows, 1) if cols == 1 else col_step
        if lead >= max(rows, 1):
            return 1, lead
    return None


def blas_layouts(matrices, form: str = "flags") -> tuple[list, list[bool]]:
    """Per matrix, how BLAS reads it ((transposed, leading dimension), blas_matrix) and
    whether it is copied C-contiguous first (then read as stored): where BLAS cannot read it,
    and in the form "copy" (runtime/gemm_plans.py) wherever it is not stored as rows."""
    layouts = [blas_matrix(x) for x in matrices]
    copied = [
        layout is None or (form == "copy" and operand_layout(x, layout) != "n")
        for layout, x in zip(layouts, matrices)
    ]
    layouts = [
        (0, x.shape[-1]) if copy else layout for layout, x, copy in zip(layouts, matrices, copied)
    ]
    return layouts, copied


def operand_layout(x: np.ndarray, layout: tuple[int, int] | None) -> str:
    """How an operand lies, for a plan's shape class: n as stored rows, t transposed (+ s
    where its leading dimension is wider: rows of a larger array), c not readable (copied)."""
    if layout is None:
        return "c"
    transposed, lead = layout
    rows, cols = x.shape[-2:]
    return ("t" if transposed else "n") + (
        "s" if lead > max(rows if transposed else cols, 1) else ""
    )


def copy_views(copied: list[bool]) -> list | None:
    """A Launch's views: a contiguous copy of each input marked, the others as they are."""
    return [np.ascontiguousarray if c else _same for c in copied] if any(copied) else None


def choose_form(chooser, kind: str, arrays, operands, batch, sizes, make, swaps: bool):
    """The Launch of the form `chooser` (gemm_plans.FormChooser) picks among the candidates
    for a product of the node's inputs `arrays`, whose matrices BLAS reads are `operands`
    (`make(form)` gives a form's Launch): copy where one of them is read transposed or
    strided, swap where `swaps` and M, N > 1 (runtime/gemm_plans.py says why)."""
    from runtime.gemm_plans import shape_class

    lying = [operand_layout(x, blas_matrix(x)) for x in operands]
    launches = {"flags": make("flags")}
    if any(name not in ("n", "c") for name in lying):
        launches["copy"] = make("copy")
    m, n, k = sizes
    if swaps and m > 1 and n > 1:
        launches["swap"] = make("swap")
    key = shape_class(kind, operands[0].dtype.name, batch, sizes, lying)
    flops = 2.0 * m * n * k * int(np.prod(batch, dtype=np.int64))
    return chooser.choose(key, launches, arrays, flops)


def plan_gemm(chooser, node, arrays) -> Launch | None:
    """A @ b as BLAS gemm calls (runner_blas.c reads the plan) in the form `chooser` picks
    (runtime/gemm_plans.py), operands that BLAS cannot read in place copied first; None where
    NumPy's matmul must run (other dtypes, empty or mismatched shapes: the reference raises)."""
    a, b = arrays
    dtype = node.outputs[0].type.dtype
    launch = gemm_launch(a, b, dtype, "flags", chooser.kernel)
    if launch is None:
        return None

    def make(form: str) -> Launch:
        return gemm_launch(a, b, dtype, form, chooser.kernel)

    batch, sizes = launch.out_shapes[0][:-2], (a.shape[-2], b.shape[-1], a.shape[-1])
    return choose_form(chooser, "gemm", arrays, arrays, batch, sizes, make, swaps=True)


def gemm_launch(a: np.ndarray, b: np.ndarray, dtype: str, form="flags", fn=None) -> Launch | None:
    """The Launch of a @ b with output dtype `dtype` in the form `form` (runtime/
    gemm_plans.py; `fn`: the kernel as a ctypes function, for timing), or None (see
    plan_gemm)."""
    arrays = a, b
    if (
        dtype not in ("float32", "float64")
        or a.dtype != dtype
        or b.dtype != dtype
        or a.ndim < 2
        or b.ndim < 2
        or a.shape[-1] != b.shape[-2]
        or 0 in a.shape
        or 0 in b.shape
    ):
        return None
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return None
    layouts, copied = blas_layouts(arrays, form)
    (m, k), n = a.shape[-2:], b.shape[-1]
    item = a.itemsize
    strides = []
    for axis in range(len(batch)):
        for x, copy in zip(arrays, copied):  # a broadcast operand steps 0 along the axis
            offset = axis - len(batch) + x.ndim - 2
            stepping = offset >= 0 and x.shape[offset] != 1
            strides.append(_batch_stride(x, offset, copy) if stepping else 0)
        strides.append(item * n * m * int(np.prod(batch[axis + 1 :], dtype=np.int64)))
    (ta, lda), (tb, ldb) = layouts
    sizes = [len(batch), *batch, m, n, k, ta, tb, lda, ldb, int(form == "swap")]
    return Launch(fn, sizes, strides, [(*batch, m, n)], [dtype], copy_views(copied), 2)


def plan_packed_gemm(chooser, node, arrays) -> Launch | None:
    """The kernel's plan for a @ b with b packed (runner_blas.c, gemm_packed), a copied first
    where BLAS cannot read it in place (or in the form copy): None where a is not of the shape
    the packed b was made for (the reference runs)."""
    a, b, packed = arrays
    out = node.outputs[0].type.dtype
    spec_m = node.outputs[0].type.shape[0]
    if a.dtype != out or b.dtype != out or a.ndim != 2 or b.ndim != 2 or a.shape[0] != spec_m:
        return None
    if a.shape[1] != b.shape[0] or packed.dtype != np.uint8 or packed.ndim != 1:
        return None
    (m, k), n = a.shape, b.shape[1]

    def make(form: str) -> Launch:
        ([layout], [copied]) = blas_layouts([a], form)  # a broadcast initial state is copied
        views = copy_views([copied, False, False])
        return Launch(chooser.kernel, [m, n, k, *layout], [], [(m, n)], [out], views, 3)

    return choose_form(chooser, "packed", arrays, [a], (), (m, n, k), make, swaps=False)


def plan_gemm_update(chooser, node, arrays) -> Launch | None:
    """The kernel's plan for a gemm update (runner_blas.c, gemm_update; runtime/
    gemm_updates.py) in the form `chooser` picks: its output may take z's buffer where z is
    donated or dies. None where the reference must run: z not contiguous, x @ y not of z's
    shape (the update's sum_to)."""
    z, x, y, *scalars = arrays
    dtype = node.outputs[0].type.dtype
    if dtype not in ("float32", "float64") or any(a.dtype != dtype for a in arrays):
        return None
    if z.ndim != 2 or x.ndim != 2 or y.ndim != 2 or any(a.ndim != 0 for a in scalars):
        return None
    (m, k), n = x.shape, y.shape[1]
    if y.shape[0] != k or z.shape != (m, n) or 0 in (m, n, k) or not z.flags.c_contiguous:
        return None

    def make(form: str) -> Launch:
        ((ta, lda), (tb, ldb)), copied = blas_layouts([x, y], form)
        views = copy_views([False, *copied, *[False] * len(scalars)])
        sizes = [m, n, k, ta, tb, lda, ldb, node.op.sign, int(node.op.scaled)]
        # output 0 may take input 0's buffer: donated (a shared variable's) or dying (−2 − 0)
        return Launch(chooser.kernel, sizes, [], [z.shape], [dtype], views, len(arrays), [-2])

    return choose_form(chooser, "update", arrays, [x, y], (), (m, n, k), make, swaps=False)


def _same(x):
    return x


def _batch_stride(x: np.ndarray, axis: int, copied: bool) -> int:
    """x's byte step along a batch axis (that of its contiguous copy where it is copied)."""
    if not copied:
        return x.strides[axis]
    return x.itemsize * int(np.prod(x.shape[axis + 1 :], dtype=np.int64))


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


class GemmStep(PlannedStep):
    """A matrix product the C runner computes with the CBLAS runtime/blas.py loaded (with a
    packed operand: runtime/packed_products.py), in the form its FormChooser picks per layout
    (runtime/gemm_plans.py) within its function's measurement `budget`."""

    __slots__ = ("address",)

    def __init__(self, node, address: int, planner, budget: Budget):
        kernel = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
        super().__init__(node, FormChooser(kernel(address), budget), planner)
        self.address = address

    def native_spec(self) -> tuple:
        return self.address, self.node.op.perform, self.native_plan, None

    def plan_choices(self) -> list:
        """The forms chosen so far, one gemm_plans.Choice per layout (f.profile prints them)."""
        return self.fn.choices


@functools.cache
def gemm_kernels(module) -> dict | None:
    """dtype → the runner's product kernel for it, bound to the CBLAS runtime/blas.py loads;
    None where it loads none (products then run through np.matmul)."""
    from runtime.blas import blas

    found = blas()
    if found is None:
        return None
    module.bind_blas(found.sgemm, found.dgemm, found.wide, found.sgemm_compute, found.dgemm_compute)
    f32, f64, packed_f32, packed_f64, update_f32, update_f64 = module.gemm_kernels()
    kernels = {"float32": f32, "float64": f64}
    kernels.update({("update", "float32"): update_f32, ("update", "float64"): update_f64})
    if found.packs:
        kernels.update({("packed", "float32"): packed_f32, ("packed", "float64"): packed_f64})
    return kernels


def runner_step(node, module, budget: Budget | None = None) -> PlannedStep | None:
    """The step the C runner (the extension `module`) runs a node without a kernel as, or
    None (a Python call); a product's forms are measured within `budget` (one per compiled
    function: runtime/gemm_plans.py)."""
    packed = isinstance(node.op, PackedMatMul)
    update = isinstance(node.op, Gemm)
    kernels = gemm_kernels(module) if packed or update or isinstance(node.op, MatMul) else None
    dtype = node.outputs[0].dtype
    budget = budget or Budget()
    if kernels and update:
        return GemmStep(node, kernels["update", dtype], plan_gemm_update, budget)
    if kernels and packed and ("packed", dtype) in kernels:
        return GemmStep(node, kernels["packed", dtype], plan_packed_gemm, budget)
    if kernels and not packed and dtype in kernels:
        return GemmStep(node, kernels[dtype], plan_gemm, budget)
    if type(node.op) in WRITERS:
        return WriterStep(node, module)
    return ViewStep(node) if is_view(node) else None
