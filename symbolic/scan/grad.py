"""Backpropagation through time: the gradient of a Scan node is a Scan node running backwards.

Forward, step t maps (x[t], s[t], w) to (s[t+1], y[t]). Backward, from t = n−1 down to 0, step
t receives λ = ∂L/∂s[t+1] (the carry from step t+1 plus the gradient of the stacked state's row
t) and ∂L/∂y[t], and runs the step's vector–Jacobian product: it hands ∂L/∂x[t] out as row t,
∂L/∂s[t] on as the next carry (the last one is the initial state's gradient), and its share of
∂L/∂w, since every step reads w.

What keeps the backward loop lean:
- Residuals. The backward step needs forward values (sigmoid outputs, tanh(c)…). Those that
  are more than views of what the loop reads are computed by the forward loop, as extra
  stacked outputs of a second Scan node with the same inputs and inner graph (the optimizer
  merges the two), and the backward step reads them as sequences instead of recomputing the
  forward step. Values that read non-sequences only are computed once, outside the loop.
- Shares of ∂L/∂w summed outside. A share aᵀ·b (the gradient of W in h @ W) is not added up
  step by step: the loop stacks b (a is usually stacked already), and one matrix product of
  all steps' rows follows the loop. A share sum_to(g, w) (a bias) stacks g and sums it once.
  Other shares are added into an accumulator the backward loop carries (its last value only).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from symbolic import dtypes
from symbolic.alloc import BroadcastTo, SumTo, zeros_like
from symbolic.elemwise import Cast, Elemwise, add, cast
from symbolic.graph import Constant, Variable, clone_replace, tensor
from symbolic.indexing import set_subtensor
from symbolic.linalg import MatMul
from symbolic.scan.parts import LoopParts, dependence, frontier
from symbolic.scan.residuals import ADJOINT, FIXED, PER_STEP, stored_values
from symbolic.shape import (
    DimShuffle,
    MakeVector,
    Reshape,
    Size,
    dim,
    dimshuffle,
    reshape,
    static_int,
)


class Share(NamedTuple):
    """How one step's share of ∂L/∂w is summed over the steps:
    "dot": x @ y (x = aᵀ and operands (a, y) when `transposed`), as one product of the
        stacked rows, then sum_to `shape` when given;
    "sum_to": sum_to(g, shape), operands (g,), as sum_to of the stacked g;
    "add": added into an accumulator by the loop (operands: the share itself)."""

    kind: str
    operands: tuple
    shape: Variable | None = None
    transposed: bool = False


def is_zero(v: Variable) -> bool:
    """Structurally zero: a zero constant, broadcast or cast (as zeros_like builds it)."""
    if isinstance(v, Constant):
        return not v.data.any()
    node = v.owner
    return node is not None and isinstance(node.op, (BroadcastTo, Cast)) and is_zero(node.inputs[0])


def add_terms(v: Variable) -> list[Variable]:
    """The summands of v's tree of additions, in order, zeros left out."""
    terms, stack = [], [v]
    while stack:
        x = stack.pop()
        node = x.owner
        if node is not None and isinstance(node.op, Elemwise) and node.op.name == "add":
            stack.extend(reversed(node.inputs))
        elif not is_zero(x):
            terms.append(x)
    return terms


def total(values: list[Variable]) -> Variable:
    result = values[0]
    for v in values[1:]:
        result = add(result, v)
    return result


def scan_grad(op, inputs, outputs, output_grads) -> list[Variable | None]:
    node = outputs[0].owner
    fwd = LoopParts.of(node)
    back = LoopParts(fwd.n_steps, reverse=not fwd.reverse)
    seeds, adjoints, carries = _seeds(fwd, output_grads, back)
    if not seeds:
        return [None] * len(inputs)
    gradient = _step_gradients(fwd, seeds)
    new_carries = [gradient(fwd.states[k]) for k, _, _ in carries]
    slice_grads = [gradient(v) for v in fwd.slices]
    shares = [[] if gradient(w) is None else add_terms(gradient(w)) for w in fwd.fixed]

    sources = {id(v): PER_STEP for v in fwd.slices + fwd.states}
    sources.update((id(v), FIXED) for v in fwd.fixed)
    sources.update((id(v), ADJOINT) for v in adjoints)
    known = [g for g in new_carries + slice_grads if g is not None]
    flags = dependence(known + [t for terms in shares for t in terms], sources)
    shares = [[_split_share(t, flags) for t in terms] for terms in shares]
    stacked_needs = [g for g in slice_grads if g is not None]
    stacked_needs += [v for ss in shares for s in ss if s.kind != "add" for v in s.operands]
    looped = known + [s.operands[0] for ss in shares for s in ss if s.kind == "add"]
    looped += stacked_needs

    # the forward values the backward step reads: stored by the forward loop, or hoisted
    free = {id(v) for v in fwd.slices + fwd.fixed}  # states before a step are residuals
    edge = frontier(looped, lambda v: not flags.get(id(v), 0) & ADJOINT)
    split = stored_values(fwd, flags, free, edge)
    replace = {v: split.value(v) for v in edge}
    for inner, outer in split.hoisted:
        back.add_fixed(inner, outer)
    stacks = _forward_stacks(op, node, fwd, [v for v, _ in split.stored])
    for v, inner in split.stored:
        back.add_sequence(inner, stacks[id(v)])
    for v, x in zip(fwd.slices, fwd.sequences):
        back.add_sequence(v, x[: fwd.n_steps])
        stacks[id(v)] = back.sequences[-1]
    back.fixed += fwd.fixed
    back.outer_fixed += fwd.outer_fixed
    renamed = dict(zip(map(id, looped), clone_replace(looped, replace)))

    def inner(v: Variable) -> Variable:
        return renamed.get(id(v), v)

    # the backward loop: carries, accumulators, then the stacked values it hands out
    accumulators = _add_states(back, fwd, carries, new_carries, shares, inner)
    emitted: dict[int, int] = {}
    for v in stacked_needs:
        if id(v) not in stacks and id(inner(v)) not in emitted:
            emitted[id(inner(v))] = len(back.mapped)
            back.mapped.append(inner(v))
    back.drop_unused()
    results = back.node(f"grad of {op.step_name}", op.step_location).outputs
    n_back_states = len(back.states)

    def stacked(v: Variable) -> Variable:
        found = stacks.get(id(v))
        return found if found is not None else results[n_back_states + emitted[id(inner(v))]]

    # the gradients of the node's inputs: n_steps, sequences, initial states, non-sequences
    grads: list[Variable | None] = [None] * len(inputs)
    s, k_states = len(fwd.slices), len(fwd.states)
    for i, (x, g) in enumerate(zip(fwd.sequences, slice_grads)):
        if g is not None:
            grads[1 + i] = _rows_into(x, stacked(g), fwd.n_steps)
    for c, ((k, _, _), g) in enumerate(zip(carries, new_carries)):
        if g is not None:
            grads[1 + s + k] = results[c]
    for j, (w, ss) in enumerate(zip(fwd.outer_fixed, shares)):
        pieces = [results[accumulators[j]]] if j in accumulators else []
        pieces += [_summed(share, stacked, fwd) for share in ss if share.kind != "add"]
        if pieces:
            grads[1 + s + k_states + j] = cast(total(pieces), w.dtype)
    return grads


def _add_states(back: LoopParts, fwd: LoopParts, carries, new_carries, shares, inner) -> dict:
    """The backward loop's states: one carry per float state (λ), then one accumulator per
    non-sequence with shares added step by step. Returns {non-sequence index: state index}."""
    for (_, carry, start), g in zip(carries, new_carries):
        back.states.append(carry)
        back.initials.append(start)
        back.new_states.append(zeros_like(carry) if g is None else cast(inner(g), carry.dtype))
        back.stacked.append(False)
    accumulators = {}
    for j, (w, ss) in enumerate(zip(fwd.fixed, shares)):
        added = [inner(s.operands[0]) for s in ss if s.kind == "add"]
        if added:
            acc = tensor(f"d({w.name})", w.dtype, w.type.shape)
            accumulators[j] = len(back.states)
            back.states.append(acc)
            back.initials.append(zeros_like(fwd.outer_fixed[j]))
            back.new_states.append(cast(add(acc, total(added)), acc.dtype))
            back.stacked.append(False)
    return accumulators


def _seeds(fwd: LoopParts, output_grads, back: LoopParts):
    """The backward step's adjoint placeholders and the seeds of its vector–Jacobian product.

    Returns (seeds {inner output: its gradient}, adjoint placeholders, carries), where each
    carry is (state index, placeholder of λ, its value entering the first backward step);
    the placeholders of the rows of output gradients are added to `back` as sequences."""
    seeds: dict = {}
    adjoints, carries = [], []

    def seed(var: Variable, g: Variable) -> None:
        seeds[var] = add(seeds[var], g) if var in seeds else g

    for k, (before, after) in enumerate(zip(fwd.states, fwd.new_states)):
        if not dtypes.is_float(before.dtype):
            continue
        g = output_grads[k]
        carry = tensor(f"d({before.name})", before.dtype, before.type.shape)
        adjoints.append(carry)
        value = carry
        if fwd.stacked[k] and not is_zero(g):
            row = tensor(f"d({before.name})[t]", g.dtype, g.type.shape[1:])
            back.add_sequence(row, g)
            adjoints.append(row)
            value = add(carry, row)
        start = g if not fwd.stacked[k] and not is_zero(g) else zeros_like(fwd.initials[k])
        carries.append((k, carry, start))
        seed(after, value)
    for m, (y, g) in enumerate(zip(fwd.mapped, output_grads[len(fwd.states) :])):
        if dtypes.is_float(y.dtype) and not is_zero(g):
            row = tensor(f"d(output{m})[t]", g.dtype, g.type.shape[1:])
            back.add_sequence(row, g)
            adjoints.append(row)
            seed(y, row)
    return seeds, adjoints, carries


def _step_gradients(fwd: LoopParts, seeds: dict):
    """v ↦ the gradient of one step with respect to inner input v (None where it is zero)."""
    from symbolic.gradient import backprop

    wrt = [v for v in fwd.slices + fwd.states + fwd.fixed if dtypes.is_float(v.dtype)]
    found = dict(zip(map(id, wrt), backprop(seeds, wrt, (), "ignore")))

    def gradient(v: Variable) -> Variable | None:
        g = found.get(id(v))
        return None if g is None or is_zero(g) else g

    return gradient


def _split_share(term: Variable, flags: dict) -> Share:
    def varies(v: Variable) -> bool:
        return bool(flags.get(id(v), 0) & (PER_STEP | ADJOINT))

    shape, value = None, term
    if value.owner is not None and isinstance(value.owner.op, SumTo):
        value, shape = value.owner.inputs
        if varies(shape):
            return Share("add", (term,))
    node = value.owner
    if node is not None and isinstance(node.op, MatMul) and value.ndim == 2:
        x, y = node.inputs
        if x.ndim == 2 and y.ndim == 2 and varies(x) and varies(y):
            swapped = x.owner is not None and isinstance(x.owner.op, DimShuffle)
            if swapped and x.owner.op.order == (1, 0):
                return Share("dot", (x.owner.inputs[0], y), shape, True)
            return Share("dot", (x, y), shape)
    if shape is not None and varies(value):
        return Share("sum_to", (value,), shape)
    return Share("add", (term,))


def _summed(share: Share, stacked, fwd: LoopParts) -> Variable:
    """A share of ∂L/∂w summed over all steps, outside the loop."""
    shape = None if share.shape is None else fwd.outer_of_invariants([share.shape])[0]
    if share.kind == "sum_to":  # sum_to sums the new leading axis of the stacked rows too
        return SumTo()(stacked(share.operands[0]), shape)
    xs, ys = map(stacked, share.operands)
    if share.transposed:  # Σ_t a[t]ᵀ y[t] = (rows of a)ᵀ (rows of y)
        left = dimshuffle(reshape(xs, [-1, dim(xs, 2)]), 1, 0)
    else:  # Σ_t x[t] y[t] = [x[0] x[1] …] (rows of y)
        left = reshape(dimshuffle(xs, 1, 0, 2), [dim(xs, 1), -1])
    product = MatMul()(left, reshape(ys, [-1, dim(ys, 2)]))
    return product if shape is None else SumTo()(product, shape)


def _forward_stacks(op, node, fwd: LoopParts, residuals: list[Variable]) -> dict:
    """{id(v): the stacked values of v} for the residuals: outputs the node has already, the
    rest as extra outputs of an augmented copy of the node."""
    stacks, extra = {}, []
    outputs = {
        id(after): node.outputs[k] for k, after in enumerate(fwd.new_states) if fwd.stacked[k]
    }
    outputs.update((id(y), node.outputs[len(fwd.states) + m]) for m, y in enumerate(fwd.mapped))
    for v in residuals:
        if id(v) in outputs:
            stacks[id(v)] = outputs[id(v)]
        else:
            extra.append(v)
    if extra:
        augmented = dataclasses.replace(op, inner_outputs=op.inner_outputs + tuple(extra))
        rows = augmented.make_node(*node.inputs).outputs[len(op.inner_outputs) :]
        stacks.update(zip(map(id, extra), rows))
    return stacks


def _length(x: Variable) -> Variable | None:
    """x's number of rows as a graph: the first entry of the shape a reshape made x with."""
    node = x.owner
    if node is not None and isinstance(node.op, Reshape):
        shape = node.inputs[1].owner
        if shape is not None and isinstance(shape.op, MakeVector):
            return shape.inputs[0]
    return None


def _same_count(a: Variable, b: Variable) -> bool:
    """Two integer scalars that are equal: the same variable, equal constants, or the same
    size of the same tensor."""
    if a is b or (static_int(a) is not None and static_int(a) == static_int(b)):
        return True
    na, nb = a.owner, b.owner
    return (
        na is not None
        and nb is not None
        and isinstance(na.op, Size)
        and na.op == nb.op
        and na.inputs[0] is nb.inputs[0]
    )


def _rows_into(x: Variable, rows: Variable, n_steps: Variable) -> Variable:
    """The gradient of sequence x from those of its first n_steps rows: zeros below them,
    unless x has exactly n_steps rows."""
    owner = n_steps.owner
    if owner is not None and isinstance(owner.op, Size) and owner.op.axes == (0,):
        if owner.inputs[0] is x:
            return rows
    length = _length(x)
    if x.type.shape[0] is not None and x.type.shape[0] == static_int(n_steps):
        return rows
    if length is not None and _same_count(length, n_steps):
        return rows
    return set_subtensor(zeros_like(x)[:n_steps], rows)
