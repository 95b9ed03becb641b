"""The debugging modes of `compile` (nan_guard, check) as wrappers of a schedule's steps.

Every device runs a graph as a schedule of steps, one callable per node (runtime/schedule.py).
A debugging mode wraps each step: the check runs right after the node, on its inputs and
outputs, so a failure names the node that made the bad value, before any later node reads it.
With a mode on, the cpu device runs its schedule from Python (runtime/cpu_backend.py's ctypes
path, the same kernels and launch plans as its C runner) so that every step can be wrapped;
with both off nothing here is built and the call path is the usual one.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.check_mode import StepChecker
from runtime.errors import NodeNames
from runtime.nan_guard import GuardedProgram, NanGuard
from runtime.numpy_backend import NumpyProgram
from symbolic.graph import Variable
from symbolic.optimizer.fgraph import FunctionGraph
from symbolic.scan.op import Scan


class DebugModes:
    """The modes one function was compiled with: `guard` (NanGuard or None) and `checker`
    (StepChecker or None). `wrap(node, step, kernel)` gives a node's checked step (`kernel`:
    the name of its entry in `f.kernels`, if any); `program(p)` the program whose calls check
    their arguments and shared values too."""

    def __init__(
        self, guard: NanGuard | None, checker: StepChecker | None, check_leaves: bool = True
    ):
        self.guard, self.checker, self.check_leaves = guard, checker, check_leaves

    @classmethod
    def of(
        cls, fgraph: FunctionGraph, leaves: Sequence[Variable], nan_guard: bool, check: bool
    ) -> DebugModes | None:
        """The modes asked for, or None when both are off (no cost: nothing is wrapped)."""
        if not (nan_guard or check):
            return None
        names = NodeNames(fgraph.outputs)
        return cls(
            NanGuard(names, leaves) if nan_guard else None,
            StepChecker(names) if check else None,
        )

    def wrap(self, node, step, kernel: str | None = None):
        # the comparison first: a kernel that makes a NaN the reference does not is a codegen
        # bug, reported as a mismatch; a NaN both make is the graph's, reported by nan_guard
        if self.checker is not None:
            step = self.checker.wrap(node, step, kernel)
        if self.guard is not None:
            step = self.guard.wrap(node, step, kernel)
        return step

    guarded_program = GuardedProgram  # how this device's calls run the guard

    def program(self, program):
        if self.guard is None or not self.check_leaves:
            return program
        return self.guarded_program(program, self.guard)

    def for_loop_step(self) -> DebugModes:
        """The modes of a loop's compiled step: its nodes wrapped the same way; its inputs
        are the loop's, checked where they were made."""
        return DebugModes(self.guard, self.checker, check_leaves=False)

    def numpy_step(self, node):
        """The numpy device's step of `node`, wrapped (a loop's: see `reference_step`)."""
        return self.wrap(node, self.reference_step(node))

    def reference_step(self, node):
        """The node's NumPy reference; for a loop, its steps run with the inner nodes
        wrapped, so a NaN made inside a scan's body names the inner node (and the step)."""
        if not isinstance(node.op, Scan):
            return node.op.perform
        op = node.op
        inner = FunctionGraph(op.inner_inputs, op.inner_outputs)
        body = NumpyProgram(inner, list(op.inner_inputs), self.numpy_step).call

        def loop(*arrays):
            outs = op.run(body, arrays)
            return outs[0] if len(outs) == 1 else outs

        return loop
