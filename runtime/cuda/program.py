"""The cuda device's program: the graph's schedule with each node on the GPU where it can be.

Values are device arrays or host arrays, and move only where a node needs them elsewhere:
- nodes with a generated kernel (docs/kernels.md) run it on device arrays;
- dot through cuBLAS (float32, float64); sum_to through a sum kernel;
- reshape, dimshuffle, broadcast_to and basic indexing of a device array are views of it;
- shape and size read the shape only;
- any other node (advanced indexing, join, arange, …) runs its NumPy reference on the host,
  its device inputs copied back first; its result goes to the device when a device node reads it.
Everything is queued on one stream; nothing here waits for the GPU except a copy to the host.
"""

from __future__ import annotations

import time

import numpy as np

from runtime.cpu_backend import reduction_axes
from runtime.cuda.array import DeviceArray, NotAViewError, NotContiguousError
from runtime.cuda.device import get_device
from runtime.cuda.launch import plan_elementwise, plan_reduction, plan_rows
from runtime.cuda.matmul import matmul
from runtime.errors import node_error
from symbolic.alloc import BroadcastTo, SumTo
from symbolic.codegen.cuda import render_module
from symbolic.graph import Constant
from symbolic.indexing import Subtensor, build_index
from symbolic.linalg import MatMul
from symbolic.shape import DimShuffle, Reshape, Shape, Size


def on_host(device, values) -> list:
    """The values as host arrays (device arrays copied back, with one wait for all)."""
    moving = [v for v in values if isinstance(v, DeviceArray)]
    if not moving:
        return list(values)
    copied = iter(device.to_host(moving))
    return [next(copied) if isinstance(v, DeviceArray) else v for v in values]


def host_step(node):
    """Run the node's NumPy reference on host copies of its inputs."""

    def run(device, args):
        return node.op.perform(*on_host(device, args))

    return run


def kernel_step(node, kernel, planner):
    """A generated kernel, planned per input layout; the NumPy reference where no plan fits
    (an empty reduction, a softmax over another axis than the last)."""
    plans: dict = {}
    fallback = host_step(node)

    def run(device, args):
        args = [device.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
        key = tuple((a.shape, a.strides) for a in args)
        launch = plans.get(key, False)
        if launch is False:
            launch = plans[key] = planner(kernel, args)
        if launch is None:
            return fallback(device, args)
        outs = launch(args)
        return outs[0] if len(outs) == 1 else outs

    return run


def planner_of(node, kind: str):
    """The launch planner for `node`'s kernel, closed over what it needs of the node."""
    op, outs = node.op, node.outputs
    if kind == "elementwise":
        return lambda kernel, args: plan_elementwise(kernel, [o.type for o in outs], args)
    if kind == "reduction":
        keepdims = getattr(getattr(op, "reduce", op), "keepdims", False)
        axes, dtype = reduction_axes(op), outs[0].dtype
        return lambda kernel, args: plan_reduction(kernel, axes, keepdims, dtype, args)
    axis = getattr(op, "axis", node.inputs[0].ndim - 1)
    return lambda kernel, args: plan_rows(kernel, axis, outs[0].ndim, outs[0].dtype, args)


def matmul_step(node):
    fallback = host_step(node)

    def run(device, args):
        a, b = [device.to_device(x) if isinstance(x, np.ndarray) else x for x in args]
        out = matmul(device, a, b)
        return fallback(device, [a, b]) if out is None else out

    return run


def sum_to_step(node):
    """g summed over the axes broadcasting added (SumTo.perform's axes), on the device."""
    fallback = host_step(node)

    def run(device, args):
        g, shape = args[0], tuple(int(n) for n in on_host(device, [args[1]])[0])
        if not isinstance(g, DeviceArray) or g.shape == shape:
            return fallback(device, [g, shape])
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


def view_step(node):
    """A view of a device input (a host input stays on the host)."""
    view, fallback = VIEWS[type(node.op)], host_step(node)

    def run(device, args):
        x, rest = args[0], on_host(device, args[1:])
        if not isinstance(x, DeviceArray):
            return fallback(device, [x, *rest])
        try:
            return view(device, node.op, x, *rest)
        except NotAViewError:
            return fallback(device, [x, *rest])

    return run


def shape_step(node):
    """shape and size read only the shape, which a device array has on the host."""
    return lambda device, args: node.op.perform(*args)


STEPS = {MatMul: matmul_step, SumTo: sum_to_step, Shape: shape_step, Size: shape_step}
STEPS.update((op, view_step) for op in VIEWS)


class CudaProgram:
    """The schedule over value slots (as runtime.numpy_backend.NumpyProgram), run on the GPU.

    Built lazily: compiling the function renders the kernels only; the first call loads the
    device (raising `CudaUnavailableError` where there is none), builds the module and the
    steps. `run(leaf_values)` gives the graph's outputs, device or host arrays.
    """

    def __init__(self, fgraph, leaves: list, described: list, fast_math: bool):
        slot: dict = {}
        for v in fgraph.variables():
            slot[id(v)] = len(slot)
        self.size = len(slot)
        self.leaf_slots = [slot[id(v)] for v in leaves]
        self.constants = [
            (slot[id(v)], v.data) for v in fgraph.variables() if isinstance(v, Constant)
        ]
        self.output_slots = [slot[id(v)] for v in fgraph.outputs]
        self.schedule = [
            (node, [slot[id(i)] for i in node.inputs], [slot[id(o)] for o in node.outputs])
            for node in fgraph.nodes
        ]
        self.described, self.fast_math = described, fast_math
        kept = {*self.leaf_slots, *self.output_slots, *(s for s, _ in self.constants)}
        last = {}
        for k, (_, ins, outs) in enumerate(self.schedule):
            for s in (*ins, *outs):
                last[s] = k
        # after step k, the intermediates no later step reads go back to the pool
        self.release = [[] for _ in self.schedule]
        for s, k in last.items():
            if s not in kept:
                self.release[k].append(s)
        self.device = None
        self.steps = None

    def build(self):
        """The device, the module of the kernels (each distinct description once) and the
        step callables."""
        device = get_device()
        symbols: dict = {}
        for name, _, kernel in self.described:
            symbols.setdefault(kernel, name)
        kernels = {}
        if symbols:
            module = device.module(
                render_module([(n, k) for k, n in symbols.items()], self.fast_math)
            )
            kernels = {k: device.kernel(module, n, k) for k, n in symbols.items()}
        by_node = {id(node): kernel for _, node, kernel in self.described}
        steps = []
        for node, _, _ in self.schedule:
            description = by_node.get(id(node))
            if description is not None:
                planner = planner_of(node, description.kind)
                steps.append(kernel_step(node, kernels[description], planner))
            else:
                steps.append(STEPS.get(type(node.op), host_step)(node))
        # constants go to the device once, where a kernel or a product reads them
        constants = dict(self.constants)
        self.device_constants = {
            s: device.to_device(constants[s])
            for node, ins, _ in self.schedule
            if id(node) in by_node or isinstance(node.op, MatMul)
            for s in ins
            if s in constants
        }
        self.device, self.steps = device, steps
        return device

    def run(self, leaf_values, profile=None) -> list:
        """The graph's outputs from the leaves' values; with `profile`, each step is timed to
        its end on the GPU (a wait after each step)."""
        device = self.device or self.build()
        values = [None] * self.size
        for s, data in self.constants:
            values[s] = self.device_constants.get(s, data)
        for s, v in zip(self.leaf_slots, leaf_values):
            values[s] = v
        for step, (node, ins, outs), release in zip(self.steps, self.schedule, self.release):
            args = [values[s] for s in ins]
            start = time.perf_counter() if profile is not None else 0.0
            try:
                result = step(device, args)
                if profile is not None:
                    device.driver.synchronize()
            except Exception as e:
                raise node_error(node, args, e) from e
            if profile is not None:
                profile.record(node, time.perf_counter() - start)
            if len(outs) == 1:
                values[outs[0]] = _value(result)
            else:
                for s, r in zip(outs, result):
                    values[s] = _value(r)
            for s in release:
                values[s] = None
        return [values[s] for s in self.output_slots]


def _value(result):
    """A step's result as a value: device arrays as they are, anything else as an ndarray (a
    reference may hand back a NumPy scalar)."""
    cls = result.__class__
    return result if cls is DeviceArray or cls is np.ndarray else np.asarray(result)
