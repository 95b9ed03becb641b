"""The reference interpreter: runs a graph node by node with each op's NumPy implementation.

It is the `numpy` device and the oracle every other device is tested against.
"""

from __future__ import annotations

import time

import numpy as np

from runtime.errors import node_error
from symbolic.graph import Constant
from symbolic.optimizer.fgraph import FunctionGraph


class NumpyProgram:
    """A schedule of (perform, input slots, output slots) over a flat list of value slots."""

    def __init__(self, fgraph: FunctionGraph, leaves: list, make_step=None):
        """`make_step(node)` gives the callable that runs a node (default: its NumPy
        reference); other devices pass their own."""
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

    def run(self, leaf_values: list, profile=None) -> list[np.ndarray]:
        values = [None] * self.size
        for s, data in self.constants:
            values[s] = data
        for s, v in zip(self.leaf_slots, leaf_values):
            values[s] = v
        for perform, ins, outs, node in self.steps:
            args = [values[i] for i in ins]
            start = time.perf_counter() if profile is not None else 0.0
            try:
                result = perform(*args)
            except Exception as e:
                raise node_error(node, args, e) from e
            if profile is not None:
                profile.record(node, time.perf_counter() - start)
            if len(outs) == 1:
                values[outs[0]] = np.asarray(result)
            else:
                for s, r in zip(outs, result):
                    values[s] = np.asarray(r)
        return [values[s] for s in self.output_slots]
