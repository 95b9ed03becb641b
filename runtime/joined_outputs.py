"""Fused kernels that write their outputs straight into the concatenation of them.

The backward step of an LSTM computes the gradients of its four gates in one kernel and joins
them, `concatenate([di, df, dg, do], axis=1)`, for the product by Whᵀ: four arrays written, read
again and copied, every step. When the pieces of a concatenation are outputs of one fused
kernel that nothing else reads, the cpu device runs that kernel on views of the joined array
instead: output k is the joined array from offset o_k along the axis, with the joined array's
strides (the kernels take any output strides), so the pieces are written once, in place, and
the concatenation costs nothing. In a loop the joined array is the row of the stacked output
the runner offers (runtime/runner_loop.c), so the gradients land where the weight gradients'
product after the loop reads them.

`join_outputs` makes the `JoinedElemwise` nodes (after fusion, on the cpu device); the
compiler calls it before it schedules gemm updates, whose order it then keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.cpu_backend import Launch
from runtime.launch_plan import elementwise_space, inplace_sources, output_reads
from runtime.layout import contiguous_strides, element_strides, merge_axes
from symbolic.fused import FusedElemwise, Typed
from symbolic.graph import Apply
from symbolic.join import Join
from symbolic.op import Op
from symbolic.optimizer.fgraph import FunctionGraph


@dataclass(frozen=True)
class JoinedElemwise(Op):
    """A fused kernel whose outputs `pieces` (in that order) are joined along `axis`: outputs
    (the joined array, then the kernel's other outputs in their order)."""

    fused: FusedElemwise
    pieces: tuple  # indices of the fused node's outputs, in the order they are joined
    axis: int

    @property
    def name(self) -> str:
        return self.fused.name + "_joined"

    @property
    def rest(self) -> list[int]:
        """The fused outputs that stay outputs of their own."""
        return [k for k in range(len(self.fused.outputs)) if k not in self.pieces]

    def kernel_node(self, inputs) -> Apply:
        """The fused node on these inputs: what the kernel computes, output by output."""
        return self.fused.make_node(*inputs)

    def infer(self, *inputs):
        types = self.fused.infer(*inputs)
        joined = Join(self.axis).infer(*[Typed(types[k]) for k in self.pieces])[0]
        return [joined] + [types[k] for k in self.rest]

    def perform(self, *arrays):
        outs = self.fused.perform(*arrays)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        joined = np.concatenate([outs[k] for k in self.pieces], axis=self.axis)
        return [joined] + [outs[k] for k in self.rest]

    def grad(self, inputs, outputs, output_grads):
        raise NotImplementedError("joined kernels are made after differentiation")


def _joinable(node: Apply, fgraph: FunctionGraph, results: set) -> tuple | None:
    """(fused node, piece indices) where `node` concatenates outputs of one fused node that
    only it reads, each once; else None."""
    if not isinstance(node.op, Join) or len(node.inputs) < 2:
        return None
    owner = node.inputs[0].owner
    if owner is None or not isinstance(owner.op, FusedElemwise):
        return None
    pieces = []
    for v in node.inputs:
        if v.owner is not owner or v.index in pieces or id(v) in results:
            return None
        if v.dtype != node.outputs[0].dtype or len(fgraph.clients(v)) != 1:
            return None
        pieces.append(v.index)
    return owner, tuple(pieces)


def join_outputs(fgraph: FunctionGraph) -> FunctionGraph:
    """The graph with each concatenation of a fused kernel's own outputs made one
    `JoinedElemwise` node (the same graph, unchanged, where there is none)."""
    results = {id(v) for v in fgraph.outputs}
    mapping, owners = {}, set()
    for node in fgraph.nodes:
        found = _joinable(node, fgraph, results)
        if found is None or id(found[0]) in owners:  # one joined node per kernel: it runs once
            continue
        owner, pieces = found
        owners.add(id(owner))
        joined = JoinedElemwise(owner.op, pieces, node.op.axis).make_node(*owner.inputs)
        joined.location = owner.location
        mapping[node.outputs[0]] = joined.outputs[0]
        for k, out in zip(joined.op.rest, joined.outputs[1:]):
            mapping[owner.outputs[k]] = out
    return fgraph.replace(mapping) if mapping else fgraph


def plan_joined(fn, node, arrays) -> Launch | None:
    """The fused kernel's launch with its joined outputs as views of one array (the Launch's
    `pieces`: per kernel output, the output it lies in and its byte offset there); None where
    the fused node's own plan has none (the reference computes and joins)."""
    op: JoinedElemwise = node.op
    kernel = op.kernel_node(node.inputs)
    space = elementwise_space([o.ndim for o in kernel.outputs], arrays, output_reads(op.fused))
    if space is None:
        return None
    shape, axis, n = space.shape, op.axis, len(op.pieces)
    joined = (*shape[:axis], shape[axis] * n, *shape[axis + 1 :])
    item = np.dtype(node.outputs[0].dtype).itemsize
    step = shape[axis] * contiguous_strides(joined)[axis] * item  # bytes from piece to piece
    rest = {k: j for j, k in enumerate(op.rest, start=1)}
    out_strides, pieces = [], []
    for k in range(len(kernel.outputs)):
        if k in rest:
            out_strides.append(contiguous_strides(shape))
            pieces.append((rest[k], 0))
        else:  # a view of the joined array, op.pieces.index(k) pieces along the axis
            out_strides.append(contiguous_strides(joined))
            pieces.append((0, op.pieces.index(k) * step))
    strides = [element_strides(a, shape) for a in arrays] + out_strides
    merged, merged_strides = merge_axes(shape, strides)
    sizes = [len(merged), *merged]
    flat = [s for per_arg in merged_strides for s in per_arg]
    sources = inplace_sources(kernel, arrays, shape)
    inplace = [-1] + [sources[k] for k in op.rest]
    out_shapes = [joined] + [shape] * len(op.rest)
    dtypes = [o.dtype for o in node.outputs]
    return Launch(fn, sizes, flat, out_shapes, dtypes, None, len(arrays), inplace, pieces)
