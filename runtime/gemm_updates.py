"""Updates of the form z ← β·z + α·(x @ y) as one BLAS gemm, in place where nothing can tell.

An SGD step ends in `W − lr·dot(xᵀ, g)` for every weight matrix: a product writing dW, then
a kernel reading W and dW and writing a new W, three passes over a matrix that gemm makes in
one (C ← β·C + α·A·B with C the weights: their new value is accumulated where they lie).
Momentum's `v ← μ·v − lr·g` is the same form with β = μ.

The cpu and cuda devices lower such update values to `Gemm` nodes (`lower_gemm_updates`,
before they schedule the graph; cuBLAS has the same α, β and transposes: on cuda a Gemm is one
cuBLAS call into a device copy of z, runtime/cuda/program.py). On the cpu device a Gemm
computes into a fresh output (z copied in first) unless it may
write z itself: z is a shared variable whose new value it is, that value is only a result, no
other result is z, no other node reads z after it, and, at call time, nothing but the shared
variable holds z's array (the Function checks its reference count, so a caller holding the old
value, `get_value(borrow=True)` included, never sees it change). The runner runs such steps
last, after planning them all, so a call that fails changes no shared variable
(runtime/runner.c, "donated" leaves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic.alloc import SumTo
from symbolic.graph import Variable, constant, toposort
from symbolic.linalg import MatMul
from symbolic.op import Op
from symbolic.optimizer.fgraph import FunctionGraph

FLOATS = ("float32", "float64")


@dataclass(frozen=True)
class Gemm(Op):
    """sign·s·sum_to(x @ y, z.shape) + (mu·z, or z without mu): Theano's Gemm with
    α = sign·s and β = mu (or 1), for 2-d x, y and z. Inputs (z, x, y, s[, mu]), s and mu
    0-d. Made after differentiation, so it has no gradient."""

    sign: int  # +1 or −1
    scaled: bool  # whether mu (β) is an input

    @property
    def name(self) -> str:
        return "gemm"

    def infer(self, z, x, y, s, mu=None):
        return [z.type]

    def perform(self, z, x, y, s, mu=None):
        product = SumTo().perform(np.matmul(x, y), z.shape)  # a broadcast weight's sum
        base = z if mu is None else mu * z
        return (base + (self.sign * s) * product).astype(z.dtype, copy=False)

    def grad(self, inputs, outputs, output_grads):
        raise NotImplementedError("gemm is made after differentiation and has no gradient rule")


def _owner(v: Variable, name: str):
    return v.owner if v.owner is not None and v.owner.op.name == name else None


def _scalar(v: Variable, dtype: str) -> bool:
    return v.ndim == 0 and v.dtype == dtype


def _product(t: Variable, z: Variable, single):
    """(x, y) where t is dot(x, y) or sum_to(dot(x, y), shape(z)) of 2-d operands of z's
    dtype, each read only there; else None."""
    node = _owner(t, "sum_to")
    if node is not None:
        shape = _owner(node.inputs[1], "shape")
        if shape is None or shape.inputs[0] is not z or not single(t):
            return None
        t = node.inputs[0]
    node = _owner(t, "dot")
    if node is None or not isinstance(node.op, MatMul) or not single(t):
        return None
    x, y = node.inputs
    if not (x.ndim == y.ndim == 2 and x.dtype == y.dtype == z.dtype):
        return None
    return x, y


def _scaled(t: Variable, dtype: str, single):
    """(the product term, its 0-d scale or None) of t = term·s, s·term or term."""
    node = _owner(t, "mul")
    if node is not None and len(node.inputs) == 2 and single(t):
        a, b = node.inputs
        if _scalar(b, dtype) and b.ndim < a.ndim:
            return a, b
        if _scalar(a, dtype) and a.ndim < b.ndim:
            return b, a
    return t, None


def match_update(value: Variable, single):
    """Gemm's inputs (z, x, y, s, mu) and sign for value = β·z ± α·(x @ y), or None."""
    node = value.owner
    if node is None or node.op.name not in ("add", "sub") or len(node.inputs) != 2:
        return None
    dtype = value.dtype
    if dtype not in FLOATS or value.ndim != 2:
        return None
    orders = [(0, 1), (1, 0)] if node.op.name == "add" else [(0, 1)]
    for zi, ti in orders:
        base, term = node.inputs[zi], node.inputs[ti]
        product_term, s = _scaled(term, dtype, single)
        z, mu = _scaled(base, dtype, single)
        if z.type != value.type:
            continue
        operands = _product(product_term, z, single)
        if operands is None:
            continue
        sign = -1 if node.op.name == "sub" else 1
        one = constant(np.array(1, dtype))
        return (z, *operands, s if s is not None else one, mu), sign
    return None


def lower_gemm_updates(expressions: list, n_updates: int) -> list:
    """The expressions (outputs, then the values of `n_updates` updates; before fusion) with
    each update value that matches β·z ± α·(x @ y) computed by a Gemm node."""
    if not n_updates:
        return expressions
    clients: dict[int, int] = {}
    for node in toposort(expressions):
        for v in node.inputs:
            clients[id(v)] = clients.get(id(v), 0) + 1
    for v in expressions:
        clients[id(v)] = clients.get(id(v), 0) + 1

    def single(v: Variable) -> bool:
        return clients.get(id(v), 0) == 1

    lowered = list(expressions)
    for j in range(len(expressions) - n_updates, len(expressions)):
        value = expressions[j]
        found = match_update(value, single) if single(value) else None
        if found is not None:
            (z, x, y, s, mu), sign = found
            lowered[j] = Gemm(sign, mu is not None)(*[z, x, y, s] + ([] if mu is None else [mu]))
    return lowered


def schedule_donors(fgraph: FunctionGraph) -> list[bool]:
    """Per update target, whether its Gemm may write the target's array in place (see the
    module); those Gemm nodes are moved to the end of `fgraph.nodes`, after every node that
    can fail (nothing reads their outputs, so the order stays topological)."""
    n_updates = len(fgraph.update_targets)
    values = fgraph.outputs[len(fgraph.outputs) - n_updates :]
    results = [id(v) for v in fgraph.outputs]
    candidates = [
        value.owner
        for target, value in zip(fgraph.update_targets, values)
        if value.owner is not None
        and isinstance(value.owner.op, Gemm)
        and value.owner.inputs[0] is target  # the new value of z itself
        and id(target) not in results  # z returned: it must keep its old value
        and results.count(id(value)) == 1
        and not fgraph.clients(value)
    ]
    # a donor's z is read by no other gemm that runs last with it
    reads = {id(v) for node in candidates for v in node.inputs[1:]}
    last = [node for node in candidates if id(node.inputs[0]) not in reads]
    donor_ids = {id(node) for node in last}
    fgraph.nodes = [n for n in fgraph.nodes if id(n) not in donor_ids] + last
    return [value.owner is not None and id(value.owner) in donor_ids for value in values]
