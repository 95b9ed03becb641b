"""Accumulations pushed out of a loop: a state that only adds up per-step terms is summed once,
after the loop, from the terms stacked by the loop.

A carried state (its last value only) whose step is `acc + t1 + t2 + …`, where no term reads
`acc` and nothing else in the step reads `acc`, ends at `acc0 + Σ_steps t1 + Σ_steps t2 + …`.
The loop instead hands each term out as a stacked output, and the sums are taken after it:
- a product a[t]ᵀ·b[t] or x[t]·y[t] of per-step matrices: one matrix product of all steps'
  rows (Σ_t a[t]ᵀ b[t] = (rows of a)ᵀ (rows of b)), as backpropagation's weight gradients;
- sum_to(g[t], shape): one sum_to of the stacked g (a bias gradient: one reduction over steps
  and batch);
- any other per-step term: one sum over the steps' axis;
- a term no step changes: n_steps times its value, computed once.
Only floating-point states are rewritten: the sums run in another order, so results agree to
rounding, not bit for bit. The state's initial value is added last.
"""

from __future__ import annotations

from dataclasses import dataclass

from symbolic import dtypes
from symbolic.elemwise import Cast, add, cast, mul
from symbolic.graph import Variable
from symbolic.reduction import sum as reduce_sum
from symbolic.scan.grad import Share, _split_share, _summed, add_terms, total
from symbolic.scan.parts import LoopParts, dependence
from symbolic.scan.residuals import FIXED, PER_STEP


@dataclass
class Accumulation:
    """One pushed-out state: its initial value and how each of its terms is summed."""

    initial: Variable  # of the state's dtype
    shares: list  # of Share; kind "add": a per-step term, "fixed": a term no step changes


@dataclass
class Pushout:
    """What `push_out` took out of a loop: the removed states' positions (among the states it
    was given) and, per state, its accumulation; `extras` per-step values appended to the
    loop's mapped outputs, in order; `outside` the loop's n_steps and non-sequences (inner and
    outer), to rebuild invariant values after the loop."""

    removed: list[int]
    accumulations: list[Accumulation]
    extras: list[Variable]
    outside: LoopParts

    def finals(self, rows: list[Variable]) -> list[Variable]:
        """The removed states' values after the loop, given `rows`, the stacked outer values of
        `extras`."""
        at = {id(v): r for v, r in zip(self.extras, rows)}

        def stacked(v: Variable) -> Variable:
            return at[id(v)]

        finals = []
        for acc in self.accumulations:
            pieces = [_summed_over_steps(s, stacked, self.outside) for s in acc.shares]
            finals.append(cast(add(acc.initial, total(pieces)), acc.initial.dtype))
        return finals


def push_out(parts: LoopParts) -> Pushout:
    """Remove from `parts` every carried state that only accumulates terms not reading it,
    and append the terms' per-step operands to its mapped outputs."""
    k = len(parts.states)
    sources = {id(v): PER_STEP for v in parts.slices}
    sources.update((id(v), FIXED) for v in parts.fixed)
    # each state also sets a bit of its own: one walk finds who reads which
    sources.update((id(v), PER_STEP | _bit(j)) for j, v in enumerate(parts.states))
    flags = dependence(parts.outputs(), sources)
    readers = 0  # the states some output other than a state's own accumulation reads
    candidates = {}
    for j in range(k):
        terms = _accumulated_terms(parts, j, flags)
        if terms is None:
            readers |= flags.get(id(parts.new_states[j]), 0)
        else:
            candidates[j] = terms
            for t in terms:
                readers |= flags.get(id(t), 0)
    for y in parts.mapped:
        readers |= flags.get(id(y), 0)
    removed = [j for j in candidates if not readers & _bit(j)]
    outside = LoopParts(parts.n_steps, fixed=list(parts.fixed), outer_fixed=list(parts.outer_fixed))
    result = Pushout(removed, [], [], outside)
    seen = set()
    for j in removed:
        shares = [_share(t, flags) for t in candidates[j]]
        result.accumulations.append(Accumulation(parts.initials[j], shares))
        for share in shares:
            for v in share.operands if share.kind != "fixed" else ():
                if id(v) not in seen:
                    seen.add(id(v))
                    result.extras.append(v)
    gone = set(removed)
    keep = [j for j in range(k) if j not in gone]
    parts.states = [parts.states[j] for j in keep]
    parts.initials = [parts.initials[j] for j in keep]
    parts.stacked = [parts.stacked[j] for j in keep]
    parts.new_states = [parts.new_states[j] for j in keep]
    parts.mapped = parts.mapped + result.extras
    return result


def _bit(j: int) -> int:
    """State j's flag, above PER_STEP, FIXED and ADJOINT."""
    return 8 << j


def _accumulated_terms(parts: LoopParts, j: int, flags: dict) -> list[Variable] | None:
    """The terms state j adds to itself each step (its own value left out), or None when its
    step is not such a sum: it is stacked, not floating-point, read twice, or a term
    broadcasts it to a larger shape."""
    acc, new = parts.states[j], parts.new_states[j]
    if parts.stacked[j] or not dtypes.is_float(acc.dtype):
        return None
    if new.owner is not None and isinstance(new.owner.op, Cast):
        new = new.owner.inputs[0]  # cast(acc + …): the sum is cast once, after the loop
    terms = add_terms(new)
    own = [t for t in terms if t is acc]
    others = [t for t in terms if t is not acc]
    if len(own) != 1 or not others:
        return None
    for t in others:
        if flags.get(id(t), 0) & _bit(j) or t.ndim > acc.ndim:
            return None
        pad = (None,) * (acc.ndim - t.ndim) + t.type.shape
        if any(a == 1 and b != 1 for a, b in zip(acc.type.shape, pad)):
            return None  # the sum would be larger than the state
    return others


def _share(term: Variable, flags: dict) -> Share:
    if not flags.get(id(term), 0) & PER_STEP:
        return Share("fixed", (term,))
    return _split_share(term, flags)


def _summed_over_steps(share: Share, stacked, parts: LoopParts) -> Variable:
    """Σ over all steps of one term, outside the loop."""
    if share.kind == "fixed":  # the same value every step
        value = parts.outer_of_invariant(share.operands[0])
        return mul(cast(parts.n_steps, value.dtype), value)
    if share.kind == "add":
        return reduce_sum(stacked(share.operands[0]), axis=0)
    return _summed(share, stacked, parts)
