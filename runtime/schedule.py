"""A graph's schedule: its nodes in order over a flat list of value slots, and when each value
dies. Every way of running a graph reads this one description: the reference interpreter
renders it as Python (numpy_backend.py), the cpu device hands it to its C runner (native.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runtime.errors import node_error
from symbolic.graph import Constant
from symbolic.optimizer.fgraph import FunctionGraph


class Schedule:
    """Slots, steps and lifetimes of a graph's values.

    Attributes: `size` (number of slots), `leaf_slots` (the leaves given to a call: inputs,
    then shared values), `constants` ((slot, array) pairs), `steps` ((callable, input slots,
    output slots, node), in order), `output_slots` (the results: outputs, then update values),
    `n_outputs`, and `dead`: per step, the slots whose last reader (or writer, for a value
    nobody reads) it is. Leaves, constants and results never die.
    """

    def __init__(self, fgraph: FunctionGraph, leaves: Sequence, make_step=None):
        """`make_step(node)` gives the callable that runs a node (default: its NumPy
        reference)."""
        make_step = make_step or (lambda node: node.op.perform)
        slot = {}
        for v in fgraph.variables():
            slot[id(v)] = len(slot)
        self.size = len(slot)
        self.leaf_slots = [slot[id(v)] for v in leaves]
        self.constants = [
            (slot[id(v)], v.data) for v in fgraph.variables() if isinstance(v, Constant)
        ]
        self.steps = [
            (
                make_step(node),
                [slot[id(i)] for i in node.inputs],
                [slot[id(o)] for o in node.outputs],
                node,
            )
            for node in fgraph.nodes
        ]
        self.output_slots = [slot[id(v)] for v in fgraph.outputs]
        self.n_outputs = len(fgraph.outputs) - len(fgraph.update_targets)
        self.dead = self._dead_slots()

    def _dead_slots(self) -> list[list[int]]:
        kept = set(self.leaf_slots) | set(self.output_slots) | {s for s, _ in self.constants}
        last_use = {}
        for k, (_, ins, outs, _) in enumerate(self.steps):
            for s in (*ins, *outs):
                last_use[s] = k
        dead: list[list[int]] = [[] for _ in self.steps]
        for s, k in sorted(last_use.items()):
            if s not in kept:
                dead[k].append(s)
        return dead

    def fail(self, k: int, args: Sequence, error: Exception) -> Exception:
        """The error of step `k` on `args`, naming its node (see errors.node_error)."""
        return node_error(self.steps[k][3], args, error)


def fresh(results: Sequence[np.ndarray], leaves: Sequence[np.ndarray]) -> tuple:
    """The results, each copied where it is a leaf, a view or read-only memory, or a result
    returned before: what a call hands out never aliases its inputs, the shared values, a
    constant, or another result. (runner.c gives the same guarantee by reference counts.)"""
    seen = {id(a) for a in leaves}
    out = []
    for a in results:
        if id(a) in seen or not a.flags.owndata or not a.flags.writeable:
            a = a.copy()
        seen.add(id(a))
        out.append(a)
    return tuple(out)
