"""The Scan op: a loop whose body is an inner graph, run once per step.

Outer inputs, in order: `n_steps` (an integer scalar), the sequences (read along axis 0: step t
sees `seq[t]`), the initial values of the recurrent states, and the non-sequences (read whole by
every step). The inner graph has one input per sequence slice, per state (its value before the
step) and per non-sequence, in the same order, and one output per state (its value after the
step) followed by the mapped outputs (values computed by every step and not fed back).

Outer outputs: for each state, its values after every step stacked along a new axis 0
(`stacked`) or only its value after the last step (a carried state: shared-variable updates,
gradient accumulators); then each mapped output stacked along a new axis 0. With `reverse` the
steps run from t = n_steps − 1 down to 0; step t still reads `seq[t]` and writes row t.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.graph import SharedVariable, TensorType, Variable
from symbolic.op import Op
from symbolic.shape import static_int
from symbolic.trace import Location


def merge_shapes(a: tuple, b: tuple) -> tuple:
    """Two static shapes of one value: each entry known where either knows it."""
    return tuple(x if x is not None else y for x, y in zip(a, b))


@dataclass(frozen=True, eq=False)  # compared by identity: the inner graph has no value equality
class Scan(Op):
    inner_inputs: tuple  # of Variable: sequence slices, states before the step, non-sequences
    inner_outputs: tuple  # of Variable: states after the step, then the mapped outputs
    n_sequences: int
    stacked: tuple  # of bool, one per state: all steps' values (True) or the last one only
    reverse: bool = False
    step_name: str = "step"  # the user's step function, for messages
    step_location: Location | None = None
    # the inner outputs as they were before the optimizer ran (empty: as they are); a device
    # may compile the step again from them once the shapes of its inputs are known
    source: tuple = ()

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def name(self) -> str:
        return "scan"

    @property
    def n_states(self) -> int:
        return len(self.stacked)

    @property
    def n_mapped(self) -> int:
        return len(self.inner_outputs) - self.n_states

    @property
    def n_nonsequences(self) -> int:
        return len(self.inner_inputs) - self.n_sequences - self.n_states

    def carried_updates(self, node) -> list[tuple]:
        """(shared variable, its value after the loop) for each shared variable the step
        updates: a state whose initial value is the variable and whose last value only is
        kept (S.scan's `updates`; S.compile applies those of random streams by itself)."""
        s = 1 + self.n_sequences  # after n_steps and the sequences
        return [
            (node.inputs[s + j], node.outputs[j])
            for j, stacked in enumerate(self.stacked)
            if not stacked and isinstance(node.inputs[s + j], SharedVariable)
        ]

    def inner_roots(self) -> list[tuple[str, Variable]]:
        """(heading, inner output) pairs, for debugprint."""
        s, k = self.n_sequences, self.n_states
        states = [
            (f"state {before.name or j} after the step <-", after)
            for j, (before, after) in enumerate(
                zip(self.inner_inputs[s : s + k], self.inner_outputs[:k])
            )
        ]
        mapped = [(f"output {m} <-", y) for m, y in enumerate(self.inner_outputs[k:])]
        return states + mapped

    def describe_step(self) -> str:
        where = f" (defined at {self.step_location})" if self.step_location else ""
        return f"the step function {self.step_name!r}{where}"

    # ---- types ------------------------------------------------------------------------------

    def infer(self, n_steps, *outer):
        if len(outer) != len(self.inner_inputs):
            raise TypeError(f"scan takes {len(self.inner_inputs) + 1} inputs, got {len(outer) + 1}")
        if n_steps.ndim != 0 or not dtypes.is_integer(n_steps.dtype):
            raise TypeError(f"scan: n_steps must be an integer scalar, got {n_steps.describe()}")
        s = self.n_sequences
        for k, (x, inner) in enumerate(zip(outer, self.inner_inputs)):
            ndim = inner.ndim + (1 if k < s else 0)
            if x.dtype != inner.dtype or x.ndim != ndim:
                raise TypeError(
                    f"scan input {k + 1} ({x.describe()}) must be a {ndim}-d {inner.dtype} tensor"
                )
        steps = static_int(n_steps)
        types = []
        for k, out in enumerate(self.inner_outputs):
            if k < self.n_states:
                shape = merge_shapes(self.inner_inputs[s + k].type.shape, out.type.shape)
                stacked = self.stacked[k]
            else:
                shape, stacked = out.type.shape, True
            types.append(TensorType(out.dtype, ((steps,) + shape) if stacked else shape))
        return types

    # ---- running ----------------------------------------------------------------------------

    @functools.cached_property
    def _reference_step(self):
        """The inner graph on the NumPy interpreter, built on first use (the numpy device)."""
        from runtime.numpy_backend import NumpyProgram
        from symbolic.optimizer.fgraph import FunctionGraph

        inner = FunctionGraph(self.inner_inputs, self.inner_outputs)
        return NumpyProgram(inner, list(self.inner_inputs)).call

    def perform(self, *arrays):
        outs = self.run(self._reference_step, arrays)
        return outs[0] if len(outs) == 1 else outs

    def run(self, step, arrays, allocate=None) -> list[np.ndarray]:
        """The loop (see loop.py): `step(*inner input values)` gives the inner outputs' values;
        `allocate(j, shape, dtype)` the buffer of stacked output j (default: a new one)."""
        from symbolic.scan.loop import run_loop

        return run_loop(self, step, arrays, allocate)

    # ---- gradient ---------------------------------------------------------------------------

    def grad(self, inputs, outputs, output_grads):
        from symbolic.scan.grad import scan_grad

        return scan_grad(self, inputs, outputs, output_grads)

    # ---- pickling: the inner graph as flat entries (see runtime/serialize.py) ---------------

    @property
    def source_outputs(self) -> tuple:
        return self.source or self.inner_outputs

    def __reduce__(self):
        from runtime.serialize import encode_graph

        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        graphs = [fields.pop(name) for name in ("inner_inputs", "inner_outputs", "source")]
        entries, at = encode_graph(list(graphs[0]), [v for g in graphs for v in g])
        return _rebuild_scan, (fields, entries, at, tuple(map(len, graphs)))


def _rebuild_scan(fields: dict, entries: list, at: list, lengths: tuple) -> Scan:
    from runtime.serialize import decode_graph

    variables = decode_graph(entries)
    found, graphs = iter(variables[i] for i in at), []
    for n in lengths:
        graphs.append(tuple(next(found) for _ in range(n)))
    inner_inputs, inner_outputs, source = graphs
    return Scan(inner_inputs, inner_outputs, **fields, source=source)


def inner_roles(op: Scan) -> tuple[list, list, list]:
    """(sequence slices, states before the step, non-sequences) of the inner graph."""
    s, k = op.n_sequences, op.n_states
    ins = list(op.inner_inputs)
    return ins[:s], ins[s : s + k], ins[s + k :]
