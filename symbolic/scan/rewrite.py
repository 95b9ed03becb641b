"""The optimizer's loop phase: every Scan node of a graph, merged, pruned and optimized inside.

- merge: nodes that run the same inner graph on the same inputs (a loop and the copy its
  gradient made with extra stacked outputs, see grad.py) become one node with all their
  outputs, so the forward loop runs once;
- prune: outputs nothing reads are dropped, then the states no remaining output needs, then
  the inputs no remaining output reads (a gradient nobody asked for is never computed);
- optimize: the inner graph goes through every phase of the optimizer (`optimize_graph`, so
  nested loops too), once per compiled function.
Run after specialize and before fusion (see phases.py); nodes are visited in topological order
and rebuilt on their inputs' new forms.
"""

from __future__ import annotations

from collections.abc import Sequence

from symbolic.graph import Variable, graph_inputs, toposort
from symbolic.optimizer.rewriter import RewriteLog
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
    from symbolic.optimizer.phases import optimize_graph

    first_node = group[0]
    parts = LoopParts.of(first_node.op.make_node(*inputs))
    k = len(parts.states)
    # merge: the union of the mapped outputs; sources[j] lists the old outputs of output j
    sources = [[o] for o in first_node.outputs]
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
    # prune: keep what is read, and the states what is kept needs
    keep = [j for j, olds in enumerate(sources) if any(id(o) in used for o in olds)]
    states = {j for j in keep if j < k}
    while True:
        roots = [parts.new_states[j] for j in sorted(states)] + [
            parts.mapped[j - k] for j in keep if j >= k
        ]
        leaves = {id(v) for v in graph_inputs(roots)}
        needed = states | {j for j, v in enumerate(parts.states) if id(v) in leaves}
        if needed == states:
            break
        states = needed
    kept_states = sorted(states)
    kept_mapped = [j for j in keep if j >= k]
    if len(kept_states) + len(kept_mapped) < len(sources):
        log.record("scan_prune")
    parts.states = [parts.states[j] for j in kept_states]
    parts.initials = [parts.initials[j] for j in kept_states]
    parts.stacked = [parts.stacked[j] for j in kept_states]
    parts.new_states = [parts.new_states[j] for j in kept_states]
    parts.mapped = [parts.mapped[j - k] for j in kept_mapped]
    source = parts.outputs()
    parts.set_outputs(optimize_graph(source, log))
    # mapped outputs the optimizer made equal are stacked once
    kept, k_kept = kept_states + kept_mapped, len(kept_states)
    at, first = {}, []  # id(output) -> its position among the unique ones; their first index
    for m, y in enumerate(parts.mapped):
        if id(y) not in at:
            at[id(y)] = len(first)
            first.append(m)
    place = list(range(k_kept)) + [k_kept + at[id(y)] for y in parts.mapped]
    source = source[:k_kept] + [source[k_kept + m] for m in first]
    parts.mapped = [parts.mapped[m] for m in first]
    parts.drop_unused(also=source)
    op = first_node.op
    new = parts.node(op.step_name, op.step_location, source)
    new.location = first_node.location
    mapping = {}
    for p, j in zip(place, kept):
        for old in sources[j]:
            mapping[id(old)] = new.outputs[p]
    return mapping
