"""Loops on a compiled device: a Scan node's inner graph compiled once, with the outer graph.

The cpu program describes the kernels of every inner graph along with the outer ones, so one
library holds them all (`nodes_with_inner`), and runs a Scan node as its loop over the inner
schedule (`node_step`): each step is one call of a rendered straight-line function whose
nodes are C kernels and BLAS calls.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import numpy as np

from runtime.numpy_backend import NumpyProgram
from symbolic.graph import Apply, toposort
from symbolic.optimizer.fgraph import FunctionGraph
from symbolic.scan.op import Scan

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


def node_step(node: Apply, make_step: Callable) -> Callable:
    """The callable that runs a node without a kernel: a Scan's loop over its inner graph,
    whose nodes run what `make_step` gives them; else the op's NumPy reference."""
    op = node.op
    if not isinstance(op, Scan):
        return op.perform
    inner = FunctionGraph(op.inner_inputs, op.inner_outputs)
    step = NumpyProgram(inner, list(op.inner_inputs), make_step).call
    buffers = RowBuffers()

    def loop(*arrays):
        outs = op.run(step, arrays, buffers)
        return outs[0] if len(outs) == 1 else outs

    return loop
