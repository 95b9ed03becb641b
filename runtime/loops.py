"""Loops on a compiled device: a Scan node run as a Python loop over its compiled step.

The cpu program describes the kernels of every inner graph along with the outer ones, so one
library holds them all (`nodes_with_inner`), and runs a Scan node as a `Loop` (`node_step`):
each step is one call of a rendered straight-line function whose nodes are C kernels and BLAS
calls.

A step's inputs have the same shapes at every step of a call (rows of one sequence, states
checked after each step, non-sequences), so when a loop starts it knows them all. It then
compiles its step again from the inner graph as it was before optimization, with those shapes
static and its small integer non-sequences (the shapes a gradient step reads) as constants:
with every shape known, the optimizer drops the sum_to nodes that broadcasting might have
needed and fuses across them (the LSTM's backward step goes from 40 nodes and 12 kernels to 4
nodes and 1). Each signature is compiled once per function (its library is cached like any
other); past MAX_SIGNATURES a loop runs its generic step.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import numpy as np

from runtime.numpy_backend import NumpyProgram
from symbolic.graph import Apply, Variable, clone_replace, constant, tensor, toposort
from symbolic.optimizer.fgraph import FunctionGraph
from symbolic.scan.op import Scan, inner_roles

MAX_SIGNATURES = 8  # specialized steps per loop; more distinct shapes run the generic step
MAX_CONSTANT = 8  # integer non-sequences of up to this many entries become constants

_probe = [object()]
SOLE_REFERENCE = sys.getrefcount(_probe[0])  # the count of an object only a list slot holds


def nodes_with_inner(nodes: list[Apply]) -> Iterator[Apply]:
    """The nodes, each followed by the nodes of its inner graph (recursively), in order."""
    for node in nodes:
        yield node
        if isinstance(node.op, Scan):
            yield from nodes_with_inner(toposort(node.op.inner_outputs))


class RowBuffers:
    """The stacked outputs of a loop, kept from one call to the next and reused when nothing
    else holds them any more (no output handed to the caller, no view of one): a fresh
    buffer of megabytes is mapped from the system on every call and costs a page fault per
    4 KiB as the loop first writes it, which costs more than the loop's own copies
    (36 ms against 4 ms for the stacked values of a T=50 LSTM step)."""

    def __init__(self):
        self.kept: dict[int, np.ndarray] = {}

    def __call__(self, j: int, shape: tuple, dtype) -> np.ndarray:
        if j in self.kept:
            buffer = self.kept[j]
            if (
                buffer.shape == shape
                and buffer.dtype == dtype
                and sys.getrefcount(self.kept[j]) == SOLE_REFERENCE + 1  # self.kept, buffer
            ):
                return buffer
        self.kept[j] = np.empty(shape, dtype)
        return self.kept[j]


def is_small_integer(v: Variable) -> bool:
    """A non-sequence a step may be specialized on: an integer vector or scalar of a few
    entries, such as a shape."""
    size = 1 if v.ndim == 0 else v.type.shape[0]
    return (
        v.dtype in ("int64", "int32") and v.ndim <= 1 and size is not None and size <= MAX_CONSTANT
    )


class Loop:
    """A Scan node on a compiled device. `build(fgraph, leaves)` compiles a graph into a
    program (the device's own builder, so nested loops and kernels work the same way)."""

    def __init__(self, node: Apply, make_step: Callable, build: Callable):
        self.op: Scan = node.op
        self.build = build
        inner = FunctionGraph(self.op.inner_inputs, self.op.inner_outputs)
        self.generic = NumpyProgram(inner, list(self.op.inner_inputs), make_step).call
        self.steps: dict[tuple, Callable] = {}
        self.buffers = RowBuffers()
        _, _, fixed = inner_roles(self.op)
        start = len(self.op.inner_inputs) - len(fixed)
        self.constant_positions = [start + i for i, v in enumerate(fixed) if is_small_integer(v)]

    def __call__(self, *arrays):
        outs = self.op.run(self.step_for(arrays), arrays, self.buffers)
        return outs[0] if len(outs) == 1 else outs

    def step_for(self, arrays) -> Callable:
        s = self.op.n_sequences
        shapes = tuple(a.shape[1:] if i < s else a.shape for i, a in enumerate(arrays[1:]))
        values = tuple(tuple(np.ravel(arrays[1 + i]).tolist()) for i in self.constant_positions)
        key = (shapes, values)
        step = self.steps.get(key)
        if step is None:
            step = self.generic
            if len(self.steps) < MAX_SIGNATURES:
                try:
                    step = self.specialize(*key)
                except Exception:  # inputs the step cannot take: the generic step says why
                    pass
            self.steps[key] = step
        return step

    def specialize(self, shapes: tuple, values: tuple) -> Callable:
        """The step compiled for inner inputs of these shapes (and these constant values)."""
        from symbolic.optimizer.phases import optimize_graph

        inputs = [tensor(v.name, v.dtype, shape) for v, shape in zip(self.op.inner_inputs, shapes)]
        replace = dict(zip(self.op.inner_inputs, inputs))
        for i, value in zip(self.constant_positions, values):
            inner = self.op.inner_inputs[i]
            replace[inner] = constant(np.array(value, inner.dtype).reshape(shapes[i]))
        outputs = optimize_graph(clone_replace(list(self.op.source_outputs), replace))
        program, _ = self.build(FunctionGraph(inputs, outputs), inputs)
        return program.call


def node_step(node: Apply, make_step: Callable, build: Callable) -> Callable:
    """The callable that runs a node without a kernel: a Scan as a `Loop` whose generic step
    runs what `make_step` gives each inner node and whose specialized steps `build` compiles;
    any other node as its op's NumPy reference."""
    if isinstance(node.op, Scan):
        return Loop(node, make_step, build)
    return node.op.perform
