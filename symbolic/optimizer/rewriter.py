"""Apply rule sets to a graph to a fixed point, merging equal nodes as it goes.

Nodes are immutable, so a rewrite rebuilds the graph bottom-up in one pass: each node is rebuilt
on its inputs' rewritten forms, merged with an equal node already built (same op, same inputs),
then offered to the rules for its op; a replacement is rewritten in turn before it is used.
Every pass is linear in the graph size and iterative, so depth never meets Python's recursion
limit. Passes repeat until no rule fires.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from symbolic.elemwise import cast
from symbolic.graph import Apply, Constant, Variable
from symbolic.optimizer.pattern import Rule

MAX_PASSES = 8
SMALL_CONSTANT = 1 << 14  # constants up to this many bytes are merged by value


class RewriteLog:
    """Which rules fired, in the order they first fired, with counts."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def record(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def items(self) -> list[tuple[str, int]]:
        return list(self.counts.items())

    def __iter__(self):
        return iter(self.items())

    def __len__(self) -> int:
        return len(self.counts)

    def __getitem__(self, name: str) -> int:
        return self.counts.get(name, 0)

    def __contains__(self, name: str) -> bool:
        return name in self.counts

    def __repr__(self) -> str:
        return "RewriteLog(" + ", ".join(f"{k}×{v}" for k, v in self.counts.items()) + ")"

    def __str__(self) -> str:
        width = max((len(k) for k in self.counts), default=4)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.counts.items())


class Rewriter:
    """One bottom-up pass of rule application with merging (hash-consing) of equal nodes."""

    def __init__(self, rules: Sequence[Rule], log: RewriteLog, fold=None):
        self.by_op: dict[str | None, list[Rule]] = {}
        for rule in rules:
            self.by_op.setdefault(rule.pattern.op, []).append(rule)
        self.log = log
        self.fold = fold  # optional: var -> Constant | None (constant folding)
        self.memo: dict[int, Variable] = {}  # id(old variable) -> its rewritten form
        # Keys are ids, so every keyed variable is kept alive here: a replacement dropped
        # after use would otherwise be collected and its id reused by a new variable.
        self.keyed: list[Variable] = []
        self.done: set[int] = set()  # ids of variables already in rewritten form
        self.nodes: dict[tuple, Apply] = {}  # (op, input ids) -> node, for merging
        self.constants: dict[tuple, Constant] = {}
        self.fired = 0
        self.budget = 0

    def rewrite(self, outputs: Sequence[Variable]) -> list[Variable]:
        self.budget = 1000 + 20 * len(outputs)
        for out in outputs:
            self._visit(out)
        return [self.memo[id(o)] for o in outputs]

    def _visit(self, root: Variable) -> None:
        stack: list[tuple] = [(root, None)]
        while stack:
            var, pending = stack.pop()
            key = id(var)
            if pending is not None:  # var was replaced: take its replacement's rewritten form
                self._finish(var, self.memo[id(pending)])
                continue
            if key in self.memo:
                continue
            if key in self.done:
                self.memo[key] = var
                continue
            node = var.owner
            if node is None:
                self._finish(var, self._leaf(var))
                continue
            missing = [i for i in node.inputs if id(i) not in self.memo]
            if missing:
                stack.append((var, None))
                stack.extend((i, None) for i in reversed(missing))
                continue
            new = self._rebuild(node).outputs[var.index]
            replacement = self._apply_rules(new)
            if replacement is None:
                for old, out in zip(node.outputs, new.owner.outputs if new.owner else [new]):
                    self._finish(old, out)
            else:
                stack.append((var, replacement))
                stack.append((replacement, None))

    def _finish(self, old: Variable, new: Variable) -> None:
        self.memo[id(old)] = new
        self.keyed.append(old)
        self.done.add(id(new))

    def _leaf(self, var: Variable) -> Variable:
        if not isinstance(var, Constant) or var.data.nbytes > SMALL_CONSTANT:
            return var
        key = (var.dtype, var.data.shape, var.data.tobytes())
        return self.constants.setdefault(key, var)

    def _rebuild(self, node: Apply) -> Apply:
        inputs = [self.memo[id(i)] for i in node.inputs]
        key = (node.op, tuple(id(i) for i in inputs))
        known = self.nodes.get(key)
        if known is not None:
            return known
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            location, node = node.location, node.op.make_node(*inputs)
            node.location = location  # where the user built it, for error messages
        self.nodes[key] = node
        return node

    def _apply_rules(self, var: Variable) -> Variable | None:
        if self.fold is not None:
            folded = self.fold(var)
            if folded is not None:
                self.log.record("constant_folding")
                return self._leaf(folded)
        op_name = var.owner.op.name
        for rule in self.by_op.get(op_name, []) + self.by_op.get(None, []):
            out = rule.apply(var)
            if out is None or out is var:
                continue
            if out.ndim != var.ndim:
                raise AssertionError(f"rule {rule.name} changed ndim: {var.type} -> {out.type}")
            if out.dtype != var.dtype:
                out = cast(out, var.dtype)
            self.log.record(rule.name)
            self.fired += 1
            if self.fired > self.budget + 50 * len(self.memo):
                raise RuntimeError(f"rewriting does not terminate; last rule: {rule.name}")
            return out
        return None


def rewrite_to_fixed_point(
    outputs: Sequence[Variable], rules: Sequence[Rule], log: RewriteLog, fold=None
) -> list[Variable]:
    """Apply `rules` (and `fold`, if given) until none fires; equal nodes are merged."""
    outputs = list(outputs)
    for _ in range(MAX_PASSES):
        rewriter = Rewriter(rules, log, fold)
        outputs = rewriter.rewrite(outputs)
        if rewriter.fired == 0:
            break
    return outputs


def fold_constants(var: Variable, max_bytes: int = SMALL_CONSTANT) -> Constant | None:
    """var as a Constant when every input is constant and the result is small."""
    node = var.owner
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if getattr(node.op, "communicates", False):  # a collective runs at call time, on all ranks
        return None
    size = 1
    for d in var.type.shape:
        size = size * d if d is not None else max_bytes + 1
    if size * np.dtype(var.dtype).itemsize > max_bytes:
        return None
    try:
        with np.errstate(all="ignore"):
            result = node.op.perform(*[i.data for i in node.inputs])
    except Exception:
        return None  # leave it to fail at run time, where the error names the user's line
    result = result[var.index] if isinstance(result, (list, tuple)) else result
    return Constant(np.asarray(result, dtype=var.dtype))
