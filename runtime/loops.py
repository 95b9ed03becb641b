"""Loops on a compiled device: a Scan node's inner graph compiled once, with the outer graph.

The cpu program describes the kernels of every inner graph along with the outer ones, so one
library holds them all (`nodes_with_inner`), and runs a Scan node as its loop over the inner
schedule, built with the same step maker as the outer schedule (`node_step`): each step is one
call of a rendered straight-line function, whose nodes are C kernels and BLAS calls.
"""

from __future__ import annotations

from collections.abc import Iterator

from runtime.numpy_backend import NumpyProgram
from symbolic.graph import Apply, toposort
from symbolic.optimizer.fgraph import FunctionGraph
from symbolic.scan.op import Scan


def nodes_with_inner(nodes: list[Apply]) -> Iterator[Apply]:
    """The nodes, each followed by the nodes of its inner graph (recursively), in order."""
    for node in nodes:
        yield node
        if isinstance(node.op, Scan):
            yield from nodes_with_inner(toposort(node.op.inner_outputs))


def node_step(node: Apply, make_step):
    """The callable that runs a node without a kernel: a Scan's loop over its inner graph
    compiled with `make_step`, else the op's NumPy reference."""
    op = node.op
    if not isinstance(op, Scan):
        return op.perform
    inner = FunctionGraph(op.inner_inputs, op.inner_outputs)
    step = NumpyProgram(inner, list(op.inner_inputs), make_step).call

    def loop(*arrays):
        outs = op.run(step, arrays)
        return outs[0] if len(outs) == 1 else outs

    return loop
