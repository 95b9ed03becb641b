"""The cuda device's program: the graph's schedule with each node on the GPU where it can be.

Values are device arrays or host arrays, and move only where a node needs them elsewhere:
- nodes with a generated kernel (docs/kernels.md) run it on device arrays;
- dot through cuBLAS (float32, float64); sum_to through a sum kernel;
- a gemm update (runtime/gemm_updates.py) through cuBLAS with α and β, into a copy of z;
- reshape, dimshuffle, broadcast_to and basic indexing of a device array are views of it;
- shape and size read the shape only;
- bucketed all-reduces pack device buffers and run over NCCL on a stream of their own
  (runtime/cuda/collectives.py);
- any other node (advanced indexing, join, arange, …) runs its NumPy reference on the host,
  its device inputs copied back first; its result goes to the device when a device node reads it.
Everything else is queued on one stream; nothing here waits for the GPU except a copy to the
host, and `settle` at the end of a call with all-reduces in flight.
The schedule itself is the NumPy interpreter's (runtime/numpy_backend.py) with these steps.
"""

from __future__ import annotations

import numpy as np

from runtime.cuda.array import DeviceArray, NotAViewError, NotContiguousError
from runtime.cuda.collectives import STEPS as COLLECTIVE_STEPS
from runtime.cuda.collectives import CudaCollectives
from runtime.cuda.device import get_device
from runtime.cuda.launch import plan_elementwise, plan_reduction, plan_rows
from runtime.cuda.matmul import fits_gemm_update, gemm_update, matmul
from runtime.distributed.buckets import AllreduceStart
from runtime.gemm_updates import Gemm
from runtime.launch_plan import output_reads, reduction_axes
from runtime.numpy_backend import NumpyProgram
from symbolic.alloc import BroadcastTo, SumTo
from symbolic.graph import Constant
from symbolic.indexing import Subtensor, build_index
from symbolic.linalg import MatMul
from symbolic.shape import DimShuffle, Reshape, Shape, Size


class CudaContext:
    """What the steps of one cuda function share: the device and the module of its kernels,
    made at the first call (compiling only describes the kernels, so it needs no GPU).
    `sync_each` (profiling) makes each step wait for the GPU, so that its time is its own."""

    def __init__(self, sources, sync_each: bool = False):
        self.sources, self.sync_each = sources, sync_each  # sources: a KernelModule
        self.described, self.fast_math = sources.described, sources.fast_math
        self.device = None
        self.kernels: dict = {}
        self.collectives = None  # CudaCollectives, where the function has bucketed all-reduces

    def begin_call(self) -> None:
        if self.collectives is not None:
            self.collectives.begin_call()

    def settle(self) -> None:
        """Wait (under the timeout) for the all-reduces this call started, if any."""
        if self.collectives is not None:
            self.collectives.settle()

    def load(self):
        """The device (`CudaUnavailableError` where there is none), with the kernels built:
        each distinct description once, under the first node's name (`sources.source`)."""
        if self.device is None:
            device = get_device()
            symbols = self.sources.symbols
            if symbols:
                module = device.module(
                    self.sources.named, self.fast_math, lambda: self.sources.source
                )
                self.kernels = {k: device.kernel(module, n, k) for k, n in symbols.items()}
            self.device = device
        return self.device


def on_host(device, values) -> list:
    """The values as host arrays (device arrays copied back, with one wait for all)."""
    moving = [v for v in values if isinstance(v, DeviceArray)]
    if not moving:
        return list(values)
    copied = iter(device.to_host(moving))
    return [next(copied) if isinstance(v, DeviceArray) else v for v in values]


# host values up to this size that a step reads again unchanged (an arange, a size) are not
# copied again: device arrays are never written after their kernel, so the last copy serves
REUSED_BYTES = 1 << 16


def to_device(node, context):
    """A function giving a step's arguments as device arrays: host arrays copied (each
    constant of the node once, a small value again only when it changed)."""
    constant = [isinstance(v, Constant) for v in node.inputs]
    uploaded: dict = {}  # argument position -> (what was copied, its device array)

    def convert(args) -> list:
        device, out = context.device, []
        for i, a in enumerate(args):
            if a.__class__ is not DeviceArray:
                last = uploaded.get(i)
                if constant[i]:
                    if last is None:
                        last = uploaded[i] = (None, device.to_device(a))
                    a = last[1]
                else:
                    a = np.asarray(a)
                    seen = (a.dtype, a.shape, a.tobytes()) if a.nbytes <= REUSED_BYTES else None
                    if seen is None or last is None or last[0] != seen:
                        last = (seen, device.to_device(a))
                        if seen is not None:
                            uploaded[i] = last
                    a = last[1]
            out.append(a)
        return out

    return convert


def host_step(node, context, perform=None):
    """The node's NumPy reference (or `perform`) on host copies of its inputs."""
    perform = perform or node.op.perform
    return lambda *args: perform(*on_host(context.device, args))


def kernel_step(node, description, context):
    """A generated kernel, planned per input layout; the NumPy reference where no plan fits
    (an empty reduction, a softmax over another axis than the last)."""
    plans: dict = {}
    planner, fallback = planner_of(node, description.kind), host_step(node, context)
    convert = to_device(node, context)

    def run(*args):
        args = convert(args)
        key = tuple((a.shape, a.strides) for a in args)
        launch = plans.get(key, False)
        if launch is False:
            launch = plans[key] = planner(context.kernels[description], args)
        if launch is None:
            return fallback(*args)
        outs = launch(args)
        return outs[0] if len(outs) == 1 else outs

    return run


def planner_of(node, kind: str):
    """The launch planner for `node`'s kernel, closed over what it needs of the node."""
    op, outs = node.op, node.outputs
    if kind == "elementwise":
        types, reads = [o.type for o in outs], output_reads(op)
        return lambda kernel, args: plan_elementwise(kernel, types, args, reads)
    if kind == "reduction":
        keepdims = getattr(getattr(op, "reduce", op), "keepdims", False)
        axes, dtype = reduction_axes(op), outs[0].dtype
        return lambda kernel, args: plan_reduction(kernel, axes, keepdims, dtype, args)
    axis = getattr(op, "axis", node.inputs[0].ndim - 1)
    return lambda kernel, args: plan_rows(kernel, axis, outs[0].ndim, outs[0].dtype, args)


def matmul_step(node, context):
    fallback, convert = host_step(node, context), to_device(node, context)

    def run(*args):
        a, b = convert(args)
        out = matmul(context.device, a, b)
        return fallback(a, b) if out is None else out

    return run


def gemm_update_step(node, context):
    """sign·s·(x @ y) + mu·z (or + z) as one cuBLAS call with α = sign·s and β = mu (or 1),
    accumulating into a device copy of z: a failed call changes no shared variable, and a
    caller holding z's old array never sees it change. α and β are host numbers where s and
    mu are host values (constants, inputs: read without a copy), else device pointers (cuBLAS
    reads them when the GEMM runs: nothing waits for the GPU). The NumPy reference where one
    call cannot do it (a broadcast weight's sum_to, an empty product; as the cpu device)."""
    fallback, convert = host_step(node, context), to_device(node, context)
    sign = node.op.sign

    def run(z, x, y, s, mu=None):
        if not fits_gemm_update(z, x, y):
            return fallback(z, x, y, s, *([] if mu is None else [mu]))
        device = context.device
        z, x, y = convert((z, x, y))
        if s.__class__ is not DeviceArray and mu.__class__ is not DeviceArray:
            beta = 1.0 if mu is None else float(mu)
            return gemm_update(device, z, x, y, sign * float(s), beta)
        alpha, beta = device_scalars(device, z.dtype, sign, s, mu)
        return gemm_update(device, z, x, y, alpha.ptr, beta.ptr, scalars_on_device=True)

    return run


def device_scalars(device, dtype, sign: int, s, mu) -> tuple:
    """(α = sign·s, β = mu or 1) as 0-d device arrays, one of s and mu being on the device:
    a host value is copied there (a 0-d copy, queued), −s of a device s is a kernel
    (device.utility's negative_<dtype>)."""
    if s.__class__ is not DeviceArray:
        alpha = device.to_device(np.asarray(sign * s, dtype))
    elif sign < 0:
        alpha = device.utility(f"negative_{dtype.name}").run(device, [s])[0]
    else:
        alpha = s
    if mu.__class__ is DeviceArray:
        return alpha, mu
    return alpha, device.to_device(np.asarray(1 if mu is None else mu, dtype))


def sum_to_step(node, context):
    """g summed over the axes broadcasting added (SumTo.perform's axes), on the device."""
    fallback = host_step(node, context)

    def run(g, shape):
        device = context.device
        shape = tuple(int(n) for n in on_host(device, [shape])[0])
        if g.__class__ is not DeviceArray or g.shape == shape:
            return fallback(g, shape)
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
        )
        if g.size == 0:
            return device.zeros(shape, g.dtype)
        return device.utility(f"sum_{g.dtype.name}").run(device, [g], axes)[0].reshape(shape)

    return run


def _dimshuffle(op: DimShuffle, x: DeviceArray) -> DeviceArray:
    return x.squeeze(op.dropped).transpose(op.kept_order).expand_dims(op.new_axes)


def _reshape(device, x: DeviceArray, shape) -> DeviceArray:
    try:
        return x.reshape(shape)
    except NotContiguousError:
        return device.contiguous(x).reshape(shape)


# op class -> the view of a device array it computes (the other inputs on the host)
VIEWS = {
    Reshape: lambda device, op, x, shape: _reshape(device, x, tuple(shape)),
    DimShuffle: lambda device, op, x: _dimshuffle(op, x),
    BroadcastTo: lambda device, op, x, shape: x.broadcast_to(tuple(shape)),
    Subtensor: lambda device, op, x, *dynamic: x[build_index(op.spec, dynamic)],
}


def view_step(node, context):
    """A view of a device input (a host input stays on the host)."""
    view, fallback = VIEWS[type(node.op)], host_step(node, context)

    def run(x, *rest):
        rest = on_host(context.device, rest)
        if x.__class__ is not DeviceArray:
            return fallback(x, *rest)
        try:
            return view(context.device, node.op, x, *rest)
        except NotAViewError:
            return fallback(x, *rest)

    return run


def shape_step(node, context):
    """shape and size read only the shape, which a device array has on the host."""
    return node.op.perform


STEPS = {MatMul: matmul_step, Gemm: gemm_update_step, SumTo: sum_to_step}
STEPS.update({Shape: shape_step, Size: shape_step})
STEPS.update((op, view_step) for op in VIEWS)
STEPS.update(COLLECTIVE_STEPS)


def as_value(result):
    """A step's result as a value: device arrays as they are, anything else as an ndarray (a
    reference may hand back a NumPy scalar)."""
    return result if result.__class__ is DeviceArray else np.asarray(result)


def build_program(
    fgraph, leaves: list, described: list, context: CudaContext, debug=None
) -> NumpyProgram:
    """The schedule with the cuda step of each node (the kernel of `described`'s nodes),
    each wrapped in the checks of `debug` (runtime/debug_modes.py) when given."""
    by_node = {id(node): (name, kernel) for name, node, kernel in described}
    if any(isinstance(node.op, AllreduceStart) for node in fgraph.nodes):
        context.collectives = CudaCollectives(fgraph, context)

    def make_step(node):
        name, description = by_node.get(id(node), (None, None))
        if description is not None:
            step = kernel_step(node, description, context)
        elif debug is not None and type(node.op) not in STEPS:  # a loop's inner nodes checked
            step = host_step(node, context, debug.reference_step(node))
        else:
            step = STEPS.get(type(node.op), host_step)(node, context)
        if debug is not None:
            step = debug.wrap(node, step, name)
        if not context.sync_each:
            return step

        def timed(*args):  # profiling: the step's time is its GPU work's
            result = step(*args)
            context.device.driver.synchronize()
            return result

        return timed

    # results stay as they are: CudaFunction makes them fresh on the device or the host
    return NumpyProgram(fgraph, leaves, make_step, as_value, finish=lambda results, _: results)
