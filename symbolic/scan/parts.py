"""The pieces of a loop before it becomes a Scan node, and the graph queries loops need.

`LoopParts` pairs every inner input with the outer value that feeds it: sequence slices with
sequences, states with their initial values, non-sequences with their outer values. S.scan,
the loop-invariant hoisting and the gradient all build loops this way and then call `node()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from symbolic.graph import Constant, Variable, clone_replace, graph_inputs, toposort
from symbolic.indexing import Subtensor
from symbolic.scan.op import Scan, inner_roles
from symbolic.shape import DimShuffle, MakeVector, Reshape, Shape, Size


@dataclass
class LoopParts:
    n_steps: Variable
    slices: list = field(default_factory=list)  # inner: x[t]
    sequences: list = field(default_factory=list)  # outer: x
    states: list = field(default_factory=list)  # inner: h[t-1]
    initials: list = field(default_factory=list)  # outer: h0
    stacked: list = field(default_factory=list)  # per state: keep every step's value
    new_states: list = field(default_factory=list)  # inner: h[t]
    fixed: list = field(default_factory=list)  # inner non-sequences
    outer_fixed: list = field(default_factory=list)  # outer non-sequences
    mapped: list = field(default_factory=list)  # inner: outputs not fed back
    reverse: bool = False

    @classmethod
    def of(cls, node) -> LoopParts:
        """The parts of an existing Scan node."""
        op: Scan = node.op
        slices, states, fixed = inner_roles(op)
        s, k = op.n_sequences, op.n_states
        outer = list(node.inputs[1:])
        return cls(
            node.inputs[0],
            slices,
            outer[:s],
            states,
            outer[s : s + k],
            list(op.stacked),
            list(op.inner_outputs[:k]),
            fixed,
            outer[s + k :],
            list(op.inner_outputs[k:]),
            op.reverse,
        )

    def outputs(self) -> list[Variable]:
        return self.new_states + self.mapped

    def set_outputs(self, outputs: list[Variable]) -> None:
        k = len(self.new_states)
        self.new_states, self.mapped = list(outputs[:k]), list(outputs[k:])

    def substitute(self, replace: dict) -> None:
        """Replace inner variables (old → new) in every inner output."""
        if replace:
            self.set_outputs(clone_replace(self.outputs(), replace))

    def drop_unused(self, also: list[Variable] = ()) -> None:
        """Forget the sequences and non-sequences no inner output (nor `also`) reads."""
        used = {id(v) for v in graph_inputs(self.outputs() + list(also))}
        keep = [i for i, v in enumerate(self.slices) if id(v) in used]
        self.slices = [self.slices[i] for i in keep]
        self.sequences = [self.sequences[i] for i in keep]
        keep = [i for i, v in enumerate(self.fixed) if id(v) in used]
        self.fixed = [self.fixed[i] for i in keep]
        self.outer_fixed = [self.outer_fixed[i] for i in keep]

    def add_fixed(self, inner: Variable, outer: Variable) -> None:
        self.fixed.append(inner)
        self.outer_fixed.append(outer)

    def add_sequence(self, inner: Variable, outer: Variable) -> None:
        self.slices.append(inner)
        self.sequences.append(outer)

    def outer_of_invariants(self, variables: list[Variable], memo: dict | None = None):
        """Inner values that depend only on non-sequences, rebuilt outside the loop. Calls
        that share a `memo` (while these parts do not change) rebuild each inner node once."""
        return clone_replace(variables, dict(zip(self.fixed, self.outer_fixed)), memo)

    def node(self, step_name: str = "step", step_location=None, source: tuple = ()):
        op = Scan(
            tuple(self.slices + self.states + self.fixed),
            tuple(self.outputs()),
            len(self.slices),
            tuple(self.stacked),
            self.reverse,
            step_name,
            step_location,
            tuple(source),
        )
        return op.make_node(self.n_steps, *self.sequences, *self.initials, *self.outer_fixed)


# ---- graph queries ------------------------------------------------------------------------

# Ops whose output is a view or a shape of their input: as cheap to recompute as to store.
VIEW_OPS = (DimShuffle, Reshape, Shape, Size, MakeVector)


def is_view(op) -> bool:
    """A view or shape of the input (basic indexing included; advanced indexing copies)."""
    if isinstance(op, Subtensor):
        return all(entry[0] != "array" for entry in op.spec)
    return isinstance(op, VIEW_OPS)


def dependence(outputs: list[Variable], sources: dict) -> dict[int, int]:
    """For every variable under `outputs` (by id): the OR of the bit flags `sources` gives the
    variables it depends on (sources maps id(variable) → flags)."""
    flags = dict(sources)
    for node in toposort(outputs):
        f = 0
        for i in node.inputs:
            f |= flags.get(id(i), 0)
        for o in node.outputs:
            flags[id(o)] = flags.get(id(o), 0) | f
    return flags


def frontier(outputs: list[Variable], inside) -> list[Variable]:
    """The variables `inside` accepts that leave the region it defines: read by a node whose
    outputs it rejects, or among `outputs`. In topological order, each once."""
    found, seen = [], set()

    def add(v):
        if id(v) not in seen and inside(v):
            seen.add(id(v))
            found.append(v)

    for node in toposort(outputs):
        if not inside(node.outputs[0]):
            for i in node.inputs:
                add(i)
    for v in outputs:
        add(v)
    return found


def is_cheap(var: Variable, leaves: set) -> bool:
    """A constant, one of `leaves` (ids), or views and shapes of those: not worth storing."""
    stack, seen = [var], set()
    while stack:
        v = stack.pop()
        if isinstance(v, Constant) or id(v) in leaves or id(v) in seen:
            continue
        seen.add(id(v))
        if v.owner is None or not is_view(v.owner.op):
            return False
        stack.extend(v.owner.inputs)
    return True
