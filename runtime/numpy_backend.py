"""The reference interpreter: runs a graph node by node with each op's NumPy implementation.

It is the `numpy` device and the oracle every other device is tested against. Other devices
reuse its schedule with their own step callables (`make_step`).

A call runs a straight-line Python function rendered from the schedule (`render_schedule`):
one line per node, values in local variables, so a small graph costs a few hundred
nanoseconds beyond its nodes' own work, where a loop over a slot list costs microseconds.
With profiling on, `run` walks the same schedule as a loop and times each node instead.
"""

from __future__ import annotations

import time

import numpy as np

from runtime.errors import node_error
from symbolic.graph import Constant
from symbolic.optimizer.fgraph import FunctionGraph

# Above this many nodes the schedule runs as a loop: compiling a long straight-line function
# costs more than a call could save, since such graphs do real work per node.
MAX_RENDERED_STEPS = 2000


class NumpyProgram:
    """A schedule of (perform, input slots, output slots) over a flat list of value slots.

    `call(*leaf_values)` computes the graph's outputs, in order, as a tuple of arrays;
    `run(leaf_values, profile)` does the same, timing each node into `profile` when given.
    """

    def __init__(self, fgraph: FunctionGraph, leaves: list, make_step=None, as_value=np.asarray):
        """`make_step(node)` gives the callable that runs a node (default: its NumPy
        reference); other devices pass their own, and `as_value`, which turns a step's result
        that is not an ndarray into a value (the cuda device keeps its device arrays)."""
        make_step = make_step or (lambda node: node.op.perform)
        self.as_value = as_value
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
        if len(self.steps) <= MAX_RENDERED_STEPS:
            self.call = build_schedule(self)
        else:
            self.call = lambda *leaf_values: tuple(self.run(leaf_values))

    def run(self, leaf_values, profile=None) -> list[np.ndarray]:
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
                values[outs[0]] = self.as_value(result)
            else:
                for s, r in zip(outs, result):
                    values[s] = self.as_value(r)
        return [values[s] for s in self.output_slots]

    def fail(self, k: int, scope: dict, error: Exception) -> Exception:
        """The error of step `k` of the rendered schedule, naming its node (see node_error)."""
        _, ins, _, node = self.steps[k]
        constants = dict(self.constants)
        args = [scope[f"v{s}"] if f"v{s}" in scope else constants.get(s) for s in ins]
        return node_error(node, args, error)


def render_schedule(program: NumpyProgram) -> str:
    """The schedule as the source of `def schedule(<leaves>)`: slot s is the local `v<s>`,
    step k's callable the global `s<k>`, a constant the global `v<s>`. `k` tracks the running
    step so that an error names its node; an intermediate is deleted after its last reader,
    as the interpreter's garbage collection would not do before the call returns."""
    leaves = [f"v{s}" for s in program.leaf_slots]
    kept = set(program.leaf_slots) | set(program.output_slots)
    kept |= {s for s, _ in program.constants}
    last_use = {}
    for k, (_, ins, outs, _) in enumerate(program.steps):
        for s in (*ins, *outs):
            last_use[s] = k
    lines = [f"def schedule({', '.join(leaves)}):", "    k = 0", "    try:"]
    for k, (_, ins, outs, _) in enumerate(program.steps):
        if k:
            lines.append(f"        k = {k}")
        call = f"s{k}({', '.join(f'v{s}' for s in ins)})"
        if len(outs) == 1:
            lines.append(f"        v{outs[0]} = {call}")
        else:
            lines.append(f"        {', '.join(f'v{s}' for s in outs)}, = {call}")
        for s in outs:  # a reduction's NumPy reference may hand back a NumPy scalar
            lines.append(f"        if v{s}.__class__ is not ndarray: v{s} = asarray(v{s})")
        dead = sorted({s for s in (*ins, *outs) if last_use[s] == k and s not in kept})
        if dead:
            lines.append(f"        del {', '.join(f'v{s}' for s in dead)}")
    if not program.steps:
        lines.append("        pass")
    lines.append("    except Exception as e:")
    lines.append("        raise fail(k, locals(), e) from e")
    outputs = "".join(f"v{s}, " for s in program.output_slots)
    lines.append(f"    return ({outputs})")
    return "\n".join(lines) + "\n"


def build_schedule(program: NumpyProgram):
    """The rendered schedule compiled into a function of the leaf values."""
    scope = {"ndarray": np.ndarray, "asarray": program.as_value, "fail": program.fail}
    scope.update((f"s{k}", step[0]) for k, step in enumerate(program.steps))
    scope.update((f"v{s}", data) for s, data in program.constants)
    exec(compile(render_schedule(program), "<schedule>", "exec"), scope)
    return scope["schedule"]
