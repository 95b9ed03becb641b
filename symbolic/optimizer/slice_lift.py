"""Slices lifted above elementwise nodes: z = a + b read only as z[:, :H], z[:, H:2H], … becomes
a[:, :H] + b[:, :H], …, so the slices' readers fuse with the addition and z is never written.

An LSTM step computes z = x[t]·Wx + h·Wh + b and reads it only as its four gate slices. As
written, one kernel adds the three terms into z and a second reads z's slices for the gates: z
goes through memory once for nothing, and the addition, too small to be worth a second thread,
runs on one. With the slices on the operands (views: nothing is copied) the addition joins the
gate kernel.

A node is lifted when every reader of its output is a slice with constant bounds (no integer
index: the rank stays), its output is not a result, and the slices do not cover an element twice
(their sizes add up to at most the output's, shapes static; an unknown shape allows one slice),
so no element is computed twice. An operand of lower rank or with a broadcast axis (a bias row)
keeps that axis whole. Lifting a node gives its operands slice readers, so a chain of additions
lifts as one: the decisions are made in reverse topological order (every reader is decided before
the node it reads), then the graph is rebuilt in topological order, each node once: linear in
nodes + edges.
"""

from __future__ import annotations

from symbolic.graph import Variable, toposort
from symbolic.indexing import Subtensor
from symbolic.optimizer.fusion import is_elementwise
from symbolic.optimizer.rewriter import RewriteLog

FULL = ("slice", None, None, None)


def constant_slices(node) -> tuple | None:
    """The spec of a Subtensor node of constant slices only (None where it is anything else)."""
    if not isinstance(node.op, Subtensor) or len(node.inputs) != 1:
        return None
    for entry in node.op.spec:
        if entry[0] != "slice" or not all(b is None or isinstance(b, int) for b in entry[1:]):
            return None
    return node.op.spec


def operand_spec(spec: tuple, operand: Variable, out: Variable) -> tuple | None:
    """The slices of an elementwise operand that give `spec` of the output: the same entry on
    each axis, a whole axis where the operand broadcasts (missing or of length 1 where the
    output's is not); None where that cannot be told statically."""
    entries = spec + (FULL,) * (out.ndim - len(spec))
    lead = out.ndim - operand.ndim
    sliced = []
    for axis, size in enumerate(operand.type.shape):
        entry, out_size = entries[lead + axis], out.type.shape[lead + axis]
        if entry == FULL:
            sliced.append(entry)
        elif size is None:
            return None  # broadcast or not: unknown
        else:
            sliced.append(FULL if size == 1 and out_size != 1 else entry)
    while sliced and sliced[-1] == FULL:
        sliced.pop()
    return tuple(sliced)


def _size(shape: tuple) -> int | None:
    total = 1
    for n in shape:
        if n is None:
            return None
        total *= n
    return total


def _disjoint(out: Variable, readers: list[Variable]) -> bool:
    """The readers' slices cover no element of `out` twice (by size, shapes static)."""
    whole = _size(out.type.shape)
    sizes = [_size(r.type.shape) for r in readers]
    if whole is None or None in sizes:
        return len(readers) == 1
    return sum(sizes) <= whole


def lift_slices(outputs: list[Variable], log: RewriteLog | None = None) -> list[Variable]:
    """The outputs with slices lifted above the elementwise nodes they read (module doc)."""
    nodes = toposort(outputs)
    results = {id(v) for v in outputs}
    whole_readers: dict[int, int] = {}  # id(v) → readers that need all of v
    slice_readers: dict[int, dict] = {}  # id(v) → {spec: an output of that slice, or None}
    lifted: set[int] = set()
    for node in reversed(nodes):
        spec = constant_slices(node)
        if spec is not None:
            slice_readers.setdefault(id(node.inputs[0]), {})[spec] = node.outputs[0]
            continue
        out = node.outputs[0]
        specs = slice_readers.get(id(out), {}) if is_elementwise(node) else {}
        operand_specs = [[operand_spec(s, a, out) for a in node.inputs] for s in specs]
        if (
            specs
            and id(out) not in results
            and not whole_readers.get(id(out))
            and _disjoint(out, [r for r in specs.values() if r is not None])
            and all(None not in row for row in operand_specs)
        ):
            lifted.add(id(out))
            for row in operand_specs:
                for a, s in zip(node.inputs, row):
                    slice_readers.setdefault(id(a), {}).setdefault(s, None)
        else:
            for a in node.inputs:
                whole_readers[id(a)] = whole_readers.get(id(a), 0) + 1
    if not lifted:
        return list(outputs)
    if log is not None:
        log.record("lift_slices")

    new: dict[int, Variable] = {}
    pieces: dict[tuple, Variable] = {}  # (id(v), spec) → v's slice in the new graph

    def current(v: Variable) -> Variable:
        return new.get(id(v), v)

    def piece(v: Variable, spec: tuple) -> Variable:
        key = (id(v), spec)
        if key not in pieces:
            existing = slice_readers[id(v)].get(spec)  # v's own slice, where v is unchanged
            if not spec:
                pieces[key] = current(v)
            elif existing is not None and id(v) not in new:
                pieces[key] = existing
            else:
                pieces[key] = Subtensor(spec)(current(v))
        return pieces[key]

    for node in nodes:
        out = node.outputs[0]
        spec = constant_slices(node)
        if spec is not None and id(node.inputs[0]) in lifted:
            new[id(out)] = piece(node.inputs[0], spec)
        elif id(out) in lifted:  # its slices, built from its operands' slices
            for s in slice_readers[id(out)]:
                operands = [piece(a, operand_spec(s, a, out)) for a in node.inputs]
                built = node.op.make_node(*operands)
                built.location = node.location
                pieces[(id(out), s)] = built.outputs[0]
        elif any(id(i) in new for i in node.inputs):
            built = node.op.make_node(*map(current, node.inputs))
            built.location = node.location
            new.update((id(o), b) for o, b in zip(node.outputs, built.outputs))
    return [current(v) for v in outputs]
