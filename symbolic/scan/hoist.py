"""Work that does not depend on the step, moved out of the loop.

The first two rewrites change the node S.scan builds, before anything differentiates it, so the
gradient of a hoisted product is itself one large product outside the loop. The third runs in
the optimizer's loop phase (rewrite.py), on every loop, gradients' included.
"""

from __future__ import annotations

from symbolic.graph import Variable, tensor, toposort
from symbolic.linalg import MatMul
from symbolic.scan.parts import LoopParts, dependence, frontier, is_cheap
from symbolic.scan.residuals import FIXED, PER_STEP
from symbolic.shape import DimShuffle, dim, expand_dims, reshape


def step_dependence(parts: LoopParts) -> dict[int, int]:
    sources = {id(v): PER_STEP for v in parts.slices + parts.states}
    sources.update((id(v), FIXED) for v in parts.fixed)
    return dependence(parts.outputs(), sources)


def project(x: Variable, w: Variable) -> Variable:
    """x @ w over the last axis of x, as one matrix product of all rows of x."""
    if x.ndim == 2:
        return MatMul()(x, w)
    rows = reshape(x, [-1, dim(x, x.ndim - 1)])
    return reshape(MatMul()(rows, w), [dim(x, i) for i in range(x.ndim - 1)] + [dim(w, 1)])


def hoist_input_projections(parts: LoopParts) -> None:
    """x[t] @ W for a sequence x and a W every step shares becomes (x @ W)[t]: one product of
    n_steps·batch rows before the loop instead of n_steps small ones (the classic RNN input
    projection). Also for a 1-d x[t] (x[t] @ W is then a row of x @ W)."""
    flags = step_dependence(parts)
    slice_of = {id(v): i for i, v in enumerate(parts.slices)}
    replace = {}
    for node in toposort(parts.outputs()):
        if not isinstance(node.op, MatMul):
            continue
        a, w = node.inputs
        if w.ndim != 2 or flags.get(id(w), 0) & PER_STEP:
            continue
        row = (
            a.owner is not None
            and isinstance(a.owner.op, DimShuffle)
            and a.owner.op.order
            == (
                "x",
                0,
            )
        )
        x_t = a.owner.inputs[0] if row else a
        if id(x_t) not in slice_of or (not row and x_t.ndim < 2):
            continue
        x = parts.sequences[slice_of[id(x_t)]]
        out = node.outputs[0]
        name = f"({x.name or 'seq'} @ {w.name or 'W'})[t]"
        inner = tensor(name, out.dtype, out.type.shape[1:] if row else out.type.shape)
        parts.add_sequence(inner, project(x, parts.outer_of_invariants([w])[0]))
        replace[out] = expand_dims(inner, 0) if row else inner
    parts.substitute(replace)
    parts.drop_unused()


def hoist_invariants(parts: LoopParts) -> None:
    """A value that reads non-sequences only (exp(W), W * 2) is computed once before the loop
    and read by every step as a new non-sequence. Views (W.T) stay in the step: they cost
    nothing."""
    flags = step_dependence(parts)
    fixed = {id(v) for v in parts.fixed}
    found = frontier(parts.outputs(), lambda v: flags.get(id(v), 0) == FIXED)
    hoisted = [v for v in found if not is_cheap(v, fixed)]
    replace = {}
    for v, outer in zip(hoisted, parts.outer_of_invariants(hoisted)):
        inner = tensor(v.name, v.dtype, v.type.shape)
        parts.add_fixed(inner, outer)
        replace[v] = inner
    parts.substitute(replace)
    parts.drop_unused()


def is_transposed_invariant(v: Variable, fixed: set) -> bool:
    """v is W.T for a 2-d non-sequence W (ids in `fixed`)."""
    node = v.owner
    return (
        node is not None
        and isinstance(node.op, DimShuffle)
        and node.op.order == (1, 0)
        and id(node.inputs[0]) in fixed
    )


def hoist_operand_transposes(parts: LoopParts) -> bool:
    """A product that reads the transpose of a non-sequence (g @ W.T: the backward step of
    h @ W) reads it as a non-sequence of its own, so that the device lays it out for BLAS once
    per call (runtime/loops.py makes a loop's product operands contiguous) instead of passing a
    transposed operand at every step: OpenBLAS multiplies (32, 1024) by a transposed
    (1024, 256) 1.4× slower than by a contiguous one. Returns whether anything moved."""
    fixed = {id(v) for v in parts.fixed}
    found = {}
    for node in toposort(parts.outputs()):
        if isinstance(node.op, MatMul):
            for v in node.inputs:
                if is_transposed_invariant(v, fixed):
                    found.setdefault(id(v), v)
    hoisted = list(found.values())
    replace = {}
    for v, outer in zip(hoisted, parts.outer_of_invariants(hoisted)):
        inner = tensor(f"{v.owner.inputs[0].name or 'W'}.T", v.dtype, v.type.shape)
        parts.add_fixed(inner, outer)
        replace[v] = inner
    parts.substitute(replace)
    parts.drop_unused()
    return bool(hoisted)
