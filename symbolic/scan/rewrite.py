"""The optimizer's loop phase: every Scan node of a graph, merged, pruned and optimized inside.

- merge: nodes that run the same inner graph on the same inputs (a loop and the copy its
  gradient made with extra stacked outputs, see grad.py) become one node with all their
  outputs, so the forward loop runs once;
- prune: outputs nothing reads are dropped, then the states no remaining output needs, then
  the inputs no remaining output reads (a gradient nobody asked for is never computed);
- hoist: transposes of non-sequences that products read become non-sequences (hoist.py);
- optimize: the inner graph goes through every phase of the optimizer (`optimize_graph`, so
  nested loops too), once per compiled function.
Run after specialize and before fusion (see phases.py); nodes are visited in topological order
and rebuilt on their inputs' new forms.
"""

from __future__ import annotations

from collections.abc import Sequence

from symbolic.graph import Variable, graph_inputs, toposort
from symbolic.optimizer.rewriter import RewriteLog
from symbolic.scan.hoist import hoist_operand_transposes
from symbolic.scan.op import Scan
from symbolic.scan.parts import LoopParts


def optimize_loops(outputs: Sequence[Variable], log: RewriteLog) -> list[Variable]:
    order = toposort(outputs)
    loops = [node for node in order if isinstance(node.op, Scan)]
    if not loops:
        return list(outputs)
    used = {id(v) for node in order for v in node.inputs} | {id(v) for v in outputs}
    groups: dict[tuple, list] = {}
    for node in loops:
        groups.setdefault(_merge_key(node), []).append(node)
    memo: dict[int, Variable] = {}
    rebuilt: dict[int, dict] = {}  # id(first node of a group) -> {id(old output): new}
    for node in order:
        inputs = [memo.get(id(i), i) for i in node.inputs]
        if isinstance(node.op, Scan):
            group = groups[_merge_key(node)]
            if id(group[0]) not in rebuilt:
                rebuilt[id(group[0])] = _rebuild(group, inputs, used, log)
            memo.update(rebuilt[id(group[0])])
        elif any(a is not b for a, b in zip(inputs, node.inputs)):
            for old, new in zip(node.outputs, node.op.make_node(*inputs).outputs):
                memo[id(old)] = new
    return [memo.get(id(o), o) for o in outputs]


def _merge_key(node) -> tuple:
    op = node.op
    states = tuple(map(id, op.inner_outputs[: op.n_states]))
    return (
        tuple(map(id, op.inner_inputs)),
        states,
        op.n_sequences,
        op.stacked,
        op.reverse,
        tuple(map(id, node.inputs)),
    )


def _rebuild(group: list, inputs: list, used: set, log: RewriteLog) -> dict:
    """The group as one pruned, optimized node on `inputs`: {id(old output): new output}."""
    parts, sources = _merged(group, inputs, log)
    kept = _pruned(parts, sources, used, log)
    if hoist_operand_transposes(parts):
        log.record("scan_hoist_transposes")
    new, place = _optimized(parts, len(parts.states), group[0], log)
    mapping = {}
    for p, j in zip(place, kept):
        for old in sources[j]:
            mapping[id(old)] = new.outputs[p]
    return mapping


def _merged(group: list, inputs: list, log: RewriteLog) -> tuple[LoopParts, list]:
    """The parts of one loop with the union of the group's mapped outputs, and for each of
    its outputs the group's old outputs it stands for."""
    parts = LoopParts.of(group[0].op.make_node(*inputs))
    k = len(parts.states)
    sources = [[o] for o in group[0].outputs]
    position = {id(y): m for m, y in enumerate(parts.mapped)}
    for node in group[1:]:
        log.record("scan_merge")
        for j, out in enumerate(node.outputs):
            if j < k:
                sources[j].append(out)
                continue
            y = node.op.inner_outputs[j]
            if id(y) not in position:
                position[id(y)] = len(parts.mapped)
                parts.mapped.append(y)
                sources.append([])
            sources[k + position[id(y)]].append(out)
    return parts, sources


def _pruned(parts: LoopParts, sources: list, used: set, log: RewriteLog) -> list[int]:
    """Keep the outputs something reads and the states they need; returns the kept outputs'
    old positions (states, then mapped outputs), the parts cut down to them."""
    k = len(parts.states)
    keep = [j for j, olds in enumerate(sources) if any(id(o) in used for o in olds)]
    states = {j for j in keep if j < k}
    while True:
        roots = [parts.new_states[j] for j in sorted(states)]
        roots += [parts.mapped[j - k] for j in keep if j >= k]
        leaves = {id(v) for v in graph_inputs(roots)}
        needed = states | {j for j, v in enumerate(parts.states) if id(v) in leaves}
        if needed == states:
            break
        states = needed
    kept_states, kept_mapped = sorted(states), [j for j in keep if j >= k]
    if len(kept_states) + len(kept_mapped) < len(sources):
        log.record("scan_prune")
    parts.states = [parts.states[j] for j in kept_states]
    parts.initials = [parts.initials[j] for j in kept_states]
    parts.stacked = [parts.stacked[j] for j in kept_states]
    parts.new_states = [parts.new_states[j] for j in kept_states]
    parts.mapped = [parts.mapped[j - k] for j in kept_mapped]
    return kept_states + kept_mapped


def _optimized(parts: LoopParts, n_states: int, first, log: RewriteLog):
    """The node of the parts with its inner graph optimized (keeping the graph as it was, as
    the op's `source`), and where each kept output went: mapped outputs the optimizer made
    equal are stacked once."""
    from symbolic.optimizer.phases import optimize_graph

    source = parts.outputs()
    parts.set_outputs(optimize_graph(source, log))
    at, first_of = {}, []  # id(output) -> its place among the distinct ones; their first index
    for m, y in enumerate(parts.mapped):
        if id(y) not in at:
            at[id(y)] = len(first_of)
            first_of.append(m)
    place = list(range(n_states)) + [n_states + at[id(y)] for y in parts.mapped]
    source = source[:n_states] + [source[n_states + m] for m in first_of]
    parts.mapped = [parts.mapped[m] for m in first_of]
    parts.drop_unused(also=source)
    new = parts.node(first.op.step_name, first.op.step_location, source)
    new.location = first.location
    return new, place
