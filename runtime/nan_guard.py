"""nan_guard: every float value a call computes is checked for NaN and ±Inf as it is made.

`S.compile(..., nan_guard=True)` runs the schedule with each step wrapped (`NanGuard.wrap`):
after a node runs, its float outputs are checked, and the first one holding NaN or ±Inf
raises `NonFiniteError` (a `FloatingPointError`) naming the node as `S.debugprint` prints
it, its op (with the member ops of a fused node), the line of user code that built it, and
the range of each of its inputs. The call's arguments and shared values are checked before
anything runs (as Theano's NanGuardMode does): a NaN handed in is the caller's, so it is
reported as such, never blamed on the first node that reads it. Constants are not checked
(an explicit `-inf` is a choice), nor are integer and bool values (they cannot hold NaN).

The check raises inside the call, so it stops before updates are applied: no shared variable
changes. The cuda device checks on the GPU and reads its flags once per call
(runtime/cuda/nan_guard.py); the checks here run on host arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runtime.errors import NodeNames
from runtime.function import input_label
from symbolic.graph import Constant, SharedVariable, Variable


class NonFiniteError(FloatingPointError):
    """NaN or ±Inf where nan_guard found it; `node` is the node that made it (None for an
    input or shared value)."""

    node = None


def is_checked(var: Variable) -> bool:
    """Whether nan_guard checks the values of `var`: floats only."""
    return np.dtype(var.dtype).kind == "f"


def all_finite(value) -> bool:
    return bool(np.isfinite(value).all())


def value_range(value) -> str:
    """dtype, shape, and the range of an argument: min and max of its finite values, then
    how many NaN and ±Inf it holds."""
    if not hasattr(value, "dtype"):
        return repr(value)
    a = np.asarray(value)
    head = f"{a.dtype}{list(a.shape)}:"
    if a.size == 0:
        return f"{head} empty"
    if a.dtype.kind != "f":
        return f"{head} min {a.min()!s}, max {a.max()!s}"
    finite = a[np.isfinite(a)]
    # !s: a float32 as NumPy prints it (its shortest repr), not widened to a Python float
    span = f"min {finite.min()!s}, max {finite.max()!s}" if finite.size else "no finite value"
    counts = f"{np.count_nonzero(np.isnan(a))} nan, {np.count_nonzero(np.isposinf(a))} +inf"
    return f"{head} {span}, {counts}, {np.count_nonzero(np.isneginf(a))} -inf"


def inputs_lines(node, args: Sequence) -> list[str]:
    """One line per input of the node: its range, and whether it is a constant."""
    return [
        f"    {i}: {value_range(a)}{' (constant)' if isinstance(v, Constant) else ''}"
        for i, (v, a) in enumerate(zip(node.inputs, args))
    ]


class NanGuard:
    """The checks of one compiled function.

    `wrap(node, step, kernel)` gives the step that runs `step` then checks the node's float
    outputs; `check_leaves(values)` checks a call's arguments and shared values; `names`
    names the nodes in messages. Each checked value has a slot (leaves first, then each
    node's float outputs in schedule order: `slots` holds (node or None, output or position)),
    which a device that checks asynchronously flags (runtime/cuda/nan_guard.py).
    """

    def __init__(self, names: NodeNames, leaves: Sequence[Variable]):
        self.names, self.leaves, self.slots = names, list(leaves), []
        self.leaf_slots = [
            self._slot(None, p) if is_checked(v) else -1 for p, v in enumerate(leaves)
        ]

    def _slot(self, node, index: int) -> int:
        self.slots.append((node, index))
        return len(self.slots) - 1

    def wrap(self, node, step, kernel: str | None = None):
        checked = [(i, self._slot(node, i)) for i, v in enumerate(node.outputs) if is_checked(v)]
        if not checked:
            return step
        single = len(node.outputs) == 1

        def guarded(*args):
            result = step(*args)
            values = (result,) if single else result
            for i, slot in checked:
                if not self.finite(values[i], slot):
                    raise self.output_error(node, i, values[i], args, kernel)
            return result

        return guarded

    def finite(self, value, slot: int) -> bool:
        """Whether `value` holds no NaN nor ±Inf (True where a device records it in `slot`
        to be read later)."""
        return all_finite(value)

    def check_leaves(self, values: Sequence) -> None:
        """A NonFiniteError naming the first argument or shared value that holds NaN or ±Inf."""
        for position, (slot, value) in enumerate(zip(self.leaf_slots, values)):
            if slot >= 0 and not self.finite(value, slot):
                raise self.leaf_error(position, value)

    def leaf_label(self, position: int) -> str:
        var = self.leaves[position]
        if isinstance(var, SharedVariable):
            return f"shared variable {var.name!r}"
        return input_label(var, position)

    def leaf_error(self, position: int, value) -> NonFiniteError:
        return NonFiniteError(f"nan_guard: {self.leaf_label(position)} holds {value_range(value)}")

    def output_error(
        self, node, i: int, value, args: Sequence, kernel: str | None = None
    ) -> NonFiniteError:
        what = f"output {i} of " if len(node.outputs) > 1 else ""
        ran = f" (kernel {kernel})" if kernel else ""
        lines = [
            f"nan_guard: {what}{node.op.name}{ran} made {value_range(value)}",
            self.names.describe(node, i),
            "  inputs:",
            *inputs_lines(node, args),
        ]
        error = NonFiniteError("\n".join(lines))
        error.node = node
        return error


class GuardedProgram:
    """A program whose calls check their leaf values first (`NanGuard.check_leaves`); its
    steps were built wrapped. Anything else is the wrapped program's."""

    def __init__(self, program, guard: NanGuard):
        self.__dict__["_program"], self.__dict__["guard"] = program, guard

    def call(self, *leaf_values):
        self.guard.check_leaves(leaf_values)
        return self._program.call(*leaf_values)

    def run(self, leaf_values, profile=None):
        self.guard.check_leaves(leaf_values)
        return self._program.run(leaf_values, profile)

    def __getattr__(self, name):
        return getattr(self._program, name)

    def __setattr__(self, name, value):  # `borrow`, set by Function
        setattr(self._program, name, value)
