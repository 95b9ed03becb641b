"""The reference interpreter: runs a graph node by node with each op's NumPy implementation.

It is the `numpy` device and the oracle every other device is tested against; the cpu device
uses it too where its C runner cannot be built, with kernel launches as its step callables.

A call runs a straight-line Python function rendered from the schedule (`render_schedule`):
one line per node, values in local variables, so a small graph costs a few hundred
nanoseconds beyond its nodes' own work, where a loop over a slot list costs microseconds.
With profiling on, `run` walks the same schedule as a loop and times each node instead.
"""

from __future__ import annotations

import time

import numpy as np

from runtime.schedule import Schedule, fresh
from symbolic.optimizer.fgraph import FunctionGraph

# Above this many nodes the schedule runs as a loop: compiling a long straight-line function
# costs more than a call could save, since such graphs do real work per node.
MAX_RENDERED_STEPS = 2000


class NumpyProgram:
    """A schedule run in Python.

    `call(*leaf_values)` computes the graph's results (outputs, then update values) as a
    tuple of fresh arrays (`schedule.fresh`); `run(leaf_values, profile)` does the same,
    timing each node into `profile` when given.
    """

    borrow = False  # settable; the results stay fresh either way (borrowing is a permission)

    def __init__(
        self, fgraph: FunctionGraph, leaves: list, make_step=None, as_value=np.asarray, finish=fresh
    ):
        """`make_step(node)` gives the callable that runs a node (default: its NumPy
        reference); other devices pass their own, with `as_value`, which turns a step's
        result that is not an ndarray into a value, and `finish(results, leaves)`, which makes
        the results fresh (the cuda device keeps its device arrays and copies them itself)."""
        self.schedule = Schedule(fgraph, leaves, make_step)
        self.as_value, self.finish = as_value, finish
        if len(self.schedule.steps) <= MAX_RENDERED_STEPS:
            rendered = build_schedule(self.schedule, as_value)
        else:
            rendered = self._loop
        self.call = lambda *leaf_values: finish(rendered(*leaf_values), leaf_values)

    def _loop(self, *leaf_values, profile=None) -> list[np.ndarray]:
        schedule = self.schedule
        values = [None] * schedule.size
        for s, data in schedule.constants:
            values[s] = data
        for s, v in zip(schedule.leaf_slots, leaf_values):
            values[s] = v
        for k, (perform, ins, outs, _) in enumerate(schedule.steps):
            args = [values[i] for i in ins]
            start = time.perf_counter() if profile is not None else 0.0
            try:
                result = perform(*args)
            except Exception as e:
                raise schedule.fail(k, args, e) from e
            if profile is not None:
                profile.record(schedule.steps[k][3], time.perf_counter() - start)
            if len(outs) == 1:
                values[outs[0]] = self.as_value(result)
            else:
                for s, r in zip(outs, result):
                    values[s] = self.as_value(r)
        return [values[s] for s in schedule.output_slots]

    def run(self, leaf_values, profile=None) -> tuple:
        return self.finish(self._loop(*leaf_values, profile=profile), leaf_values)


def render_schedule(schedule: Schedule) -> str:
    """The schedule as the source of `def schedule(<leaves>)`: slot s is the local `v<s>`,
    step k's callable the global `s<k>`, a constant the global `v<s>`. `k` tracks the running
    step so that an error names its node; an intermediate is deleted after its last reader,
    as the interpreter's garbage collection would not do before the call returns."""
    leaves = [f"v{s}" for s in schedule.leaf_slots]
    lines = [f"def schedule({', '.join(leaves)}):", "    k = 0", "    try:"]
    for k, (_, ins, outs, _) in enumerate(schedule.steps):
        if k:
            lines.append(f"        k = {k}")
        call = f"s{k}({', '.join(f'v{s}' for s in ins)})"
        if len(outs) == 1:
            lines.append(f"        v{outs[0]} = {call}")
        else:
            lines.append(f"        {', '.join(f'v{s}' for s in outs)}, = {call}")
        for s in outs:  # a reduction's NumPy reference may hand back a NumPy scalar
            lines.append(f"        if v{s}.__class__ is not ndarray: v{s} = asarray(v{s})")
        if schedule.dead[k]:
            lines.append(f"        del {', '.join(f'v{s}' for s in schedule.dead[k])}")
    if not schedule.steps:
        lines.append("        pass")
    lines.append("    except Exception as e:")
    lines.append("        raise fail(k, locals(), e) from e")
    outputs = "".join(f"v{s}, " for s in schedule.output_slots)
    lines.append(f"    return ({outputs})")
    return "\n".join(lines) + "\n"


def build_schedule(schedule: Schedule, as_value=np.asarray):
    """The rendered schedule compiled into a function of the leaf values."""
    constants = dict(schedule.constants)

    def fail(k: int, scope: dict, error: Exception) -> Exception:
        ins = schedule.steps[k][1]
        args = [scope[f"v{s}"] if f"v{s}" in scope else constants.get(s) for s in ins]
        return schedule.fail(k, args, error)

    scope = {"ndarray": np.ndarray, "asarray": as_value, "fail": fail}
    scope.update((f"s{k}", step[0]) for k, step in enumerate(schedule.steps))
    scope.update((f"v{s}", data) for s, data in schedule.constants)
    exec(compile(render_schedule(schedule), "<schedule>", "exec"), scope)
    return scope["schedule"]
