"""The `cpu` device: the graph's kernels compiled from generated C, run in schedule order.

Nodes with a C kernel (see docs/kernels.md) run it on buffers the runtime allocates; the rest
(dot through NumPy's BLAS, basic indexing, reshapes) run their NumPy reference. A node's launch
plan (output shapes, merged axes, strides, which input buffer an output may take) depends
only on its inputs' shapes and strides, so it is computed once per layout (the iteration space
by runtime/launch_plan.py, shared with the cuda device; its packing for ctypes and runner.c
here) and reused on every later call. The schedule runs in C (runtime/native.py: one call
from Python per function call) or, where that extension cannot be built, in Python with a
ctypes call per kernel (`KernelStep.__call__`); both launch the same plans.
"""

from __future__ import annotations

import ctypes
import functools
import os
from contextlib import contextmanager

import numpy as np

from runtime.indexing_plan import plan_gather, plan_scatter
from runtime.kernel_module import KernelModule
from runtime.launch_plan import (
    elementwise_space,
    inplace_sources,
    output_reads,
    reduction_axes,
    reduction_space,
    rows_space,
)
from runtime.loops import node_step, nodes_with_inner
from runtime.memory import keep_freed_memory
from runtime.numpy_backend import NumpyProgram
from runtime.windows_plan import columns_space, direct_space, pool_space
from symbolic.codegen.kernel import describe, structure_key
from symbolic.codegen.prelude import SHARED_POOL_PARALLEL_MIN
from symbolic.optimizer.fgraph import FunctionGraph

# OpenMP threads that spin-wait after a parallel loop (libgomp's default: a few hundred
# thousand spins, then sleep) take a core from another library's threads: with NumPy's
# OpenBLAS running the products, the M1 step ran 48 ms instead of 19 on 2 cores. There the
# kernels' threads are passive: they sleep at once, which costs a few µs per parallel loop.
# Where MKL runs the products on the kernels' own GNU OpenMP threads (runtime/blas.py) there
# is no other pool, and the default is kept: threads that sleep at once must be woken by the
# next loop or product, which on an idle virtual machine (the other vCPU halted) cost R1 38 ms
# a call against 20 with the default, and C1 19 against 8.5. libgomp reads the variable once,
# when it loads with our first library; it is set only around that load, so libraries loaded
# later (PyTorch's own OpenMP) keep their defaults, and a value the user set wins.
WAIT_POLICY = "PASSIVE"


@contextmanager
def passive_openmp():
    """OMP_WAIT_POLICY=PASSIVE while the block runs, unless the user set a policy or the
    products share the kernels' threads (see above)."""
    from runtime.blas import shares_kernel_threads

    if "OMP_WAIT_POLICY" in os.environ or shares_kernel_threads():
        yield
        return
    os.environ["OMP_WAIT_POLICY"] = WAIT_POLICY
    try:
        yield
    finally:
        os.environ.pop("OMP_WAIT_POLICY", None)


def _int64s(values) -> ctypes.Array:
    return (ctypes.c_int64 * len(values))(*values)


class Launch:
    """One kernel call for one layout of its inputs: sizes and strides (docs/kernels.md), the
    outputs' shapes and dtypes, `views` (None, or per input a function giving the array the
    kernel reads, for inputs it cannot stride), and `inplace`: per output, the input whose
    buffer it may take when that input dies (see runner.c), or -1.

    `pieces` (None: one kernel argument per output) lists, per output argument of the kernel,
    (the output it writes into, byte offset there): a kernel whose outputs are views of one
    array (runtime/joined_outputs.py).

    Called (the ctypes path), it allocates fresh outputs; `native` is the same plan as
    runner.c reads it: (int64 bytes [n_sizes, sizes…, n_strides, strides…, then per output
    ndim, shape…, in-place input, then, with pieces, n_pieces, (output, offset)…], output
    dtypes, views)."""

    __slots__ = (
        "fn", "sizes", "strides", "out_shapes", "out_dtypes", "views", "n_in", "pieces", "native"
    )  # fmt: skip

    def __init__(
        self, fn, sizes, strides, out_shapes, out_dtypes, views, n_in, inplace=None, pieces=None
    ):
        self.fn, self.sizes, self.strides = fn, _int64s(sizes), _int64s(strides)
        self.out_shapes, self.out_dtypes = out_shapes, out_dtypes
        self.views, self.n_in, self.pieces = None if views is None else tuple(views), n_in, pieces
        packed = [len(sizes), *sizes, len(strides), *strides]
        for shape, source in zip(out_shapes, inplace or [-1] * len(out_shapes)):
            packed += [len(shape), *shape, source]
        if pieces is not None:
            packed += [len(pieces), *[x for piece in pieces for x in piece]]
        dtypes = tuple(np.dtype(d) for d in out_dtypes)
        self.native = (np.array(packed, np.int64).tobytes(), dtypes, self.views)

    def __call__(self, arrays, outs=None):
        """The outputs for `arrays`: fresh ones, or `outs` (of the planned shapes) written."""
        if self.views is not None:
            arrays = [view(a) for view, a in zip(self.views, arrays)]
        if outs is None:
            outs = [np.empty(s, d) for s, d in zip(self.out_shapes, self.out_dtypes)]
        written = [o.ctypes.data for o in outs]
        if self.pieces is not None:
            written = [outs[j].ctypes.data + offset for j, offset in self.pieces]
        data = (ctypes.c_void_p * (self.n_in + len(written)))(
            *[a.ctypes.data for a in arrays], *written
        )
        self.fn(self.sizes, self.strides, data)
        return outs


def plan_elementwise(fn, node, arrays) -> Launch | None:
    space = elementwise_space([o.ndim for o in node.outputs], arrays, output_reads(node.op))
    if space is None:
        return None
    sizes, outs = [len(space.sizes), *space.sizes], node.outputs
    out_dtypes = [o.dtype for o in outs]
    inplace = inplace_sources(node, arrays, space.shape)
    strides = space.in_strides + space.out_strides
    return Launch(fn, sizes, strides, space.out_shapes, out_dtypes, None, len(arrays), inplace)


def plan_reduction(fn, node, arrays) -> Launch | None:
    keepdims = getattr(getattr(node.op, "reduce", node.op), "keepdims", False)
    space = reduction_space(reduction_axes(node.op), keepdims, arrays)
    if space is None:
        return None
    shape, order = space.shape, space.order
    views = [
        (lambda x: np.ascontiguousarray(np.broadcast_to(x, shape).transpose(order)))
        if copy
        else (lambda x: np.broadcast_to(x, shape))
        for copy in space.copies
    ]
    strides = space.in_strides + space.out_strides
    out = [node.outputs[0].dtype]
    return Launch(fn, space.sizes, strides, space.out_shapes, out, views, len(arrays))


def plan_rows(fn, node, arrays) -> Launch | None:
    x = arrays[0]
    space = rows_space(getattr(node.op, "axis", x.ndim - 1), node.outputs[0].ndim, arrays)
    if space is None or space.copies[0]:  # rows the strides cannot describe: the reference
        return None
    strides = space.in_strides + space.out_strides
    out = [node.outputs[0].dtype]
    return Launch(fn, space.sizes, strides, space.out_shapes, out, None, len(arrays))


def plan_windows(space_of, fn, node, arrays) -> Launch | None:
    space = space_of(node.op, arrays)
    if space is None:
        return None
    out = [o.dtype for o in node.outputs]
    return Launch(fn, space.sizes, space.strides, space.out_shapes, out, space.views, len(arrays))


# The kinds whose launches runner.c makes itself (their plans are `Launch`es that depend on
# the inputs' layouts alone).
RUNNER_KINDS = ("elementwise", "reduction", "rows", "pool", "direct")

PLANNERS = {
    "elementwise": plan_elementwise,
    "reduction": plan_reduction,
    "rows": plan_rows,
    "gather": plan_gather,
    "scatter": plan_scatter,
    "columns": functools.partial(plan_windows, columns_space),
    "pool": functools.partial(plan_windows, pool_space),
    "direct": functools.partial(plan_windows, direct_space),
}


class PlannedStep:
    """A node run on outputs planned per input layout; its NumPy reference where no plan
    fits. `planner(fn, node, arrays)` gives the Launch of a layout (or None)."""

    __slots__ = ("node", "fn", "planner", "plans")

    def __init__(self, node, fn, planner):
        self.node, self.fn, self.planner, self.plans = node, fn, planner, {}

    def key(self, arrays) -> tuple:
        """What the plan depends on: the inputs' layouts."""
        return tuple((a.shape, a.strides) for a in arrays)

    def plan(self, arrays) -> Launch | None:
        key = self.key(arrays)
        launch = self.plans.get(key, False)
        if launch is False:
            launch = self.plans[key] = self.planner(self.fn, self.node, arrays)
        return launch

    def native_plan(self, *arrays) -> tuple | None:
        """The plan for these inputs as runner.c reads it (`Launch.native`), or None."""
        launch = self.plan(arrays)
        return None if launch is None else launch.native


class KernelStep(PlannedStep):
    """A node with a generated C kernel (`fn`, loaded with ctypes)."""

    __slots__ = ()

    def __init__(self, node, fn, kind: str):
        super().__init__(node, fn, PLANNERS[kind])

    def native_spec(self) -> tuple:
        """(kernel address, reference, planner, writer) for runner.c."""
        address = ctypes.cast(self.fn, ctypes.c_void_p).value
        return address, self.node.op.perform, self.native_plan, None

    def __call__(self, *arrays):  # the ctypes path
        launch = self.plan(arrays)
        if launch is None:
            return self.node.op.perform(*arrays)
        outs = launch(arrays)
        return outs[0] if len(outs) == 1 else outs


class ColumnsStep(KernelStep):
    """An im2col or col2im kernel: its plan depends on the values of its shape vectors (the
    filters' shape gives the window size) as well as on the layouts, so the schedule calls it
    in Python, which keys the plans by both."""

    __slots__ = ()

    def key(self, arrays) -> tuple:
        return super().key(arrays) + tuple(tuple(a.tolist()) for a in arrays[1:])


def build_cpu_program(fgraph: FunctionGraph, leaves: list, debug=None):
    """The schedule with a C kernel for every node that has one, all built as one library,
    run by the C runner (runtime/native.py) where it builds, else by the Python interpreter;
    returns (program, the KernelModule of its kernels). With `debug` (runtime/debug_modes.py)
    every step is wrapped in its checks, so the schedule runs in Python."""
    from runtime import native
    from runtime.joined_outputs import JoinedElemwise, join_outputs, plan_joined

    keep_freed_memory()
    fgraph = join_outputs(fgraph)  # kernels writing into a concatenation of their outputs
    described = []
    for i, node in enumerate(nodes_with_inner(fgraph.nodes)):  # loops' inner nodes too
        joined = isinstance(node.op, JoinedElemwise)
        kernel = describe(node.op.kernel_node(node.inputs) if joined else node)
        if kernel is not None:
            described.append((f"k{i}_{node.op.name}", node, kernel))
    # Equal descriptions render the same function but for its name: the library holds each
    # once, under the first node's name (the MLP has 9 distinct kernels among 16), so the C
    # compiler does half the work.
    sources = KernelModule("c", described, fgraph)
    steps = {}
    runner = native.start_runner_build()  # compiles, on a cold cache, while the kernels do
    if described:
        with passive_openmp():
            library = build_module(sources)
        for _, node, kernel in described:
            fn = getattr(library, sources.symbols[kernel])
            fn.restype = None
            fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
            step = (ColumnsStep if kernel.kind == "columns" else KernelStep)(node, fn, kernel.kind)
            if isinstance(node.op, JoinedElemwise):
                step.planner = plan_joined
            # a gather's or scatter's launch passes constant indices and a status cell
            # (runtime/indexing_plan.py), which runner.c does not: the runner calls it back
            steps[id(node)] = step if kernel.kind in RUNNER_KINDS else step.__call__

    build, kernel_of = build_cpu_program, {id(node): name for name, node, _ in described}
    if debug is not None:  # a loop's compiled steps are checked too
        build = functools.partial(build_cpu_program, debug=debug.for_loop_step())

    def make_step(node):
        step = steps.get(id(node)) or node_step(node, make_step, build)
        return step if debug is None else debug.wrap(node, step, kernel_of.get(id(node)))

    if debug is not None:  # every step wrapped in its checks: the schedule runs in Python
        return debug.program(NumpyProgram(fgraph, leaves, make_step)), sources
    module = runner()
    if module is None:
        return NumpyProgram(fgraph, leaves, make_step), sources
    from runtime.gemm_plans import Budget
    from runtime.runner_steps import runner_step  # products, concatenations and views

    budget = Budget()  # the products' measurements share one per function
    for node in fgraph.nodes:
        step = None if id(node) in steps else runner_step(node, module, budget)
        if step is not None:
            steps[id(node)] = step
    return native.NativeProgram(fgraph, leaves, make_step, module), sources


def build_module(module: KernelModule) -> ctypes.CDLL:
    """The library of the module's source (`module.source`, rendered on a miss). A module
    built before is found by the key of its descriptions, without rendering its source."""
    from runtime.build import build_library, build_library_of

    def render() -> str:
        return module.source

    structure, units = structure_key(module.named), len(module.named)  # see render_module
    flags = kernel_flags()
    if structure is None:
        return build_library(render(), flags, units=units)
    return build_library_of(structure, render, flags, units=units)


def kernel_flags() -> tuple[str, ...]:
    """The kernels' compiler flags: the defaults, with the lower threading threshold where the
    products run on the kernels' own OpenMP threads (symbolic/codegen/prelude.py says why)."""
    from runtime.blas import shares_kernel_threads
    from runtime.build import DEFAULT_FLAGS

    if shares_kernel_threads():
        return (*DEFAULT_FLAGS, f"-DSYM_PARALLEL_MIN={SHARED_POOL_PARALLEL_MIN}")
    return DEFAULT_FLAGS
