"""Shapes of forward values recomputed from their operands' shapes, for the backward step.

A gradient often reads only the shape of a forward value (`sum_to(g, shape(x))` in every
elementwise gradient). Storing that shape per step would make the forward step materialize x,
which fusion would otherwise keep in registers; recomputing it from the shapes of x's operands
costs a few integer operations. `ShapeOf(rule)` does that for the ops below; `shape_rule(v)`
gives the rule and the operands for v's node, or None where there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic.elemwise import Cast, Elemwise
from symbolic.graph import TensorType, Variable
from symbolic.indexing import Subtensor, build_index
from symbolic.linalg import MatMul
from symbolic.op import Op
from symbolic.shape import DimShuffle, Size

# rule -> (output shape from the operands' shapes and extra values, one line of why)
RULES = {
    "broadcast": (lambda p, *s: np.broadcast_shapes(*map(tuple, s)), "elementwise: NumPy's rule"),
    "index": (
        lambda p, s, *d: np.broadcast_to(np.empty((), bool), tuple(s))[build_index(p, d)].shape,
        "basic indexing, applied to a zero-strided view of that shape (no data is touched)",
    ),
    "matmul": (
        lambda p, a, b: (*np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2])), a[-2], b[-1]),
        "a @ b: broadcast batch axes, then rows of a and columns of b",
    ),
    "dimshuffle": (
        lambda p, s: tuple(1 if a == "x" else s[a] for a in p),
        "the axes in their new order, 1 for a new axis",
    ),
    "size": (lambda p, s: (int(np.prod([s[a] for a in p])),), "x.shape[axes], multiplied"),
}


@dataclass(frozen=True)
class ShapeOf(Op):
    rule: str
    params: tuple = ()
    ndim: int = 0  # entries of the shape computed

    @property
    def name(self) -> str:
        return f"shape_of_{self.rule}"

    def infer(self, *inputs):
        shape = () if self.rule == "size" else (self.ndim,)
        return [TensorType("int64", shape)]

    def perform(self, *arrays):
        shape = RULES[self.rule][0](self.params, *arrays)
        return np.array(shape[0] if self.rule == "size" else shape, dtype=np.int64)

    def grad(self, inputs, outputs, output_grads):
        return [None] * len(inputs)


def shape_rule(v: Variable, shape_of) -> tuple[ShapeOf, list[Variable]] | None:
    """(the op computing v's shape, what it reads: its operands' shapes, then index values);
    `shape_of(x)` gives the shape node of an operand x."""
    node = v.owner
    if node is None:
        return None
    op = node.op
    if isinstance(op, (Elemwise, Cast)):
        return ShapeOf("broadcast", (), v.ndim), [shape_of(i) for i in node.inputs]
    if isinstance(op, Subtensor) and all(e[0] != "array" for e in op.spec):
        x, *dynamic = node.inputs
        return ShapeOf("index", op.spec, v.ndim), [shape_of(x), *dynamic]
    if isinstance(op, MatMul):
        return ShapeOf("matmul", (), v.ndim), [shape_of(i) for i in node.inputs]
    if isinstance(op, DimShuffle):
        return ShapeOf("dimshuffle", op.order, v.ndim), [shape_of(node.inputs[0])]
    return None


def size_rule(v: Variable, shape_of) -> tuple[ShapeOf, list[Variable]] | None:
    """For v = size(x, axes): the op computing it from x's shape, and x's shape."""
    node = v.owner
    if node is None or not isinstance(node.op, Size):
        return None
    return ShapeOf("size", node.op.axes), [shape_of(node.inputs[0])]
