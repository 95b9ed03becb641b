"""Loops on a compiled device: a Scan node run over its compiled step.

The cpu program describes the kernels of every inner graph along with the outer ones, so one
library holds them all (`nodes_with_inner`), and runs a Scan node as a `Loop` (`node_step`).
Where the C runner is built, a loop with a specialized step (below) runs all its steps in one
call of the runner (`NativeLoop`, runtime/runner_loop.c): no Python between steps, each
stacked output's row written in place by the node that computes it. Otherwise each step is a
call, from Python, of the step's schedule (its C kernels and BLAS calls).

A step's inputs have the same shapes at every step of a call (rows of one sequence, states
checked after each step, non-sequences), so when a loop starts it knows them all. It then
compiles its step again from the inner graph as it was before optimization, with those shapes
static and its small integer non-sequences (the shapes a gradient step reads) as constants:
with every shape known, the optimizer drops the sum_to nodes that broadcasting might have
needed and fuses across them (the LSTM's backward step goes from 40 nodes and 12 kernels to 4
nodes and 1). Each signature is compiled once per function (its library is cached like any
other); past MAX_SIGNATURES a loop runs its generic step.

Where the BLAS packs operands (MKL), a product by a non-sequence reads it packed, once per
run of the loop (runtime/packed_products.py). Elsewhere a long loop (MIN_STEPS_TO_COPY) makes
the non-sequences its products read contiguous before its first step: BLAS multiplies by a
transposed operand (dz @ W.T, which the loop phase hoists as a non-sequence of its own) more
slowly than by a contiguous copy, at every step.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator

import numpy as np

from runtime.numpy_backend import NumpyProgram
from runtime.packed_products import pack, pack_products, packing_available
from symbolic.graph import Apply, Variable, clone_replace, constant, tensor, toposort
from symbolic.linalg import MatMul
from symbolic.optimizer.fgraph import FunctionGraph
from symbolic.scan.loop import check_lengths, state_shape_error, step_error
from symbolic.scan.op import Scan, inner_roles

MAX_SIGNATURES = 8  # specialized steps per loop; more distinct shapes run the generic step
MAX_CONSTANT = 8  # integer non-sequences of up to this many entries become constants
# A loop of at least this many steps gets a contiguous copy of each non-sequence a product
# reads that is not contiguous (a transpose): a (256, 1024) copy costs 0.25 ms here, about what
# six steps of a (32, 1024) @ (1024, 256) product lose to BLAS's transposed path.
MIN_STEPS_TO_COPY = 8

_probe = [object()]
SOLE_REFERENCE = sys.getrefcount(_probe[0])  # the count of an object only a list slot holds


def nodes_with_inner(nodes: list[Apply]) -> Iterator[Apply]:
    """The nodes, each followed by the nodes of its inner graph (recursively), in order."""
    for node in nodes:
        yield node
        if isinstance(node.op, Scan):
            yield from nodes_with_inner(toposort(node.op.inner_outputs))


class RowBuffers:
    """The stacked outputs of a loop, kept from one call to the next and reused when nothing
    else holds them any more (no output handed to the caller, no view of one): a fresh
    buffer of megabytes is mapped from the system on every call and costs a page fault per
    4 KiB as the loop first writes it, which costs more than the loop's own copies
    (36 ms against 4 ms for the stacked values of a T=50 LSTM step)."""

    def __init__(self):
        self.kept: dict[int, np.ndarray] = {}

    def __call__(self, j: int, shape: tuple, dtype) -> np.ndarray:
        if j in self.kept:
            buffer = self.kept[j]
            if (
                buffer.shape == shape
                and buffer.dtype == dtype
                and sys.getrefcount(self.kept[j]) == SOLE_REFERENCE + 1  # self.kept, buffer
            ):
                return buffer
        self.kept[j] = np.empty(shape, dtype)
        return self.kept[j]


def is_small_integer(v: Variable) -> bool:
    """A non-sequence a step may be specialized on: an integer vector or scalar of a few
    entries, such as a shape."""
    size = 1 if v.ndim == 0 else v.type.shape[0]
    return (
        v.dtype in ("int64", "int32") and v.ndim <= 1 and size is not None and size <= MAX_CONSTANT
    )


def product_operands(outputs: list[Variable]) -> set[int]:
    """The ids of the variables a matrix product under `outputs` reads."""
    return {id(v) for node in toposort(outputs) if isinstance(node.op, MatMul) for v in node.inputs}


def contiguous_at(arrays: tuple, positions: list[int], allocate: Callable) -> tuple:
    """The arrays with those at `positions` C-contiguous: copied, where they are not, into
    `allocate(position, shape, dtype)` (RowBuffers: last call's copy when nothing holds it)."""
    arrays = list(arrays)
    for i in positions:
        if not arrays[i].flags.c_contiguous:
            copy = allocate(i, arrays[i].shape, arrays[i].dtype)
            np.copyto(copy, arrays[i])
            arrays[i] = copy
    return tuple(arrays)


class Loop:
    """A Scan node on a compiled device. `build(fgraph, leaves)` compiles a graph into a
    program (the device's own builder, so nested loops and kernels work the same way)."""

    def __init__(self, node: Apply, make_step: Callable, build: Callable):
        self.op: Scan = node.op
        self.build = build
        inner = FunctionGraph(self.op.inner_inputs, self.op.inner_outputs)
        self.generic = NumpyProgram(inner, list(self.op.inner_inputs), make_step).call
        self.steps: dict[tuple, Callable] = {}
        self.pack_specs: dict[tuple, list] = {}  # per step: the operands it takes packed
        self.buffers = RowBuffers()
        self.copies = RowBuffers()  # contiguous copies of operands, reused as rows are
        self.packed = RowBuffers()  # packed operands, likewise
        _, _, fixed = inner_roles(self.op)
        self.first_fixed = start = len(self.op.inner_inputs) - len(fixed)
        self.constant_positions = [start + i for i, v in enumerate(fixed) if is_small_integer(v)]
        self.packs_products = packing_available()
        operands = product_operands(self.op.inner_outputs)
        self.operand_positions = [1 + start + i for i, v in enumerate(fixed) if id(v) in operands]

    def __call__(self, *arrays):
        step, packs = self.step_for(arrays)
        if self.operand_positions and int(arrays[0]) >= MIN_STEPS_TO_COPY:
            packed = {1 + spec.position for spec in packs}
            copied = [p for p in self.operand_positions if p not in packed]
            arrays = contiguous_at(arrays, copied, self.copies)
        if packs:  # the packed operands follow the non-sequences
            made = [
                pack(arrays[1 + spec.position], spec, functools.partial(self.packed, i))
                for i, spec in enumerate(packs)
            ]
            arrays = (*arrays, *made)
        if isinstance(step, NativeLoop) and int(arrays[0]) > 0:
            outs = step.run(arrays, self.buffers)
        else:  # the generic step, or zero steps (run_loop gives the empty stacks)
            outs = self.op.run(step, arrays, self.buffers)
        return outs[0] if len(outs) == 1 else outs

    def step_for(self, arrays) -> tuple[Callable, list]:
        """The step for these outer inputs, and the PackSpecs of the operands it takes packed."""
        s = self.op.n_sequences
        shapes = tuple(a.shape[1:] if i < s else a.shape for i, a in enumerate(arrays[1:]))
        values = tuple(tuple(np.ravel(arrays[1 + i]).tolist()) for i in self.constant_positions)
        key = (shapes, values)
        if key not in self.steps:
            step, packs = self.generic, []
            if len(self.steps) < MAX_SIGNATURES:
                try:
                    step, packs = self.specialize(*key)
                except Exception:  # inputs the step cannot take: the generic step says why
                    pass
            self.steps[key], self.pack_specs[key] = step, packs
        return self.steps[key], self.pack_specs[key]

    def specialize(self, shapes: tuple, values: tuple) -> tuple[Callable, list]:
        """The step compiled for inner inputs of these shapes (and these constant values),
        and the PackSpecs of the packed operands it takes after its non-sequences."""
        from symbolic.optimizer.phases import optimize_graph

        inputs = [tensor(v.name, v.dtype, shape) for v, shape in zip(self.op.inner_inputs, shapes)]
        replace = dict(zip(self.op.inner_inputs, inputs))
        for i, value in zip(self.constant_positions, values):
            inner = self.op.inner_inputs[i]
            replace[inner] = constant(np.array(value, inner.dtype).reshape(shapes[i]))
        outputs = optimize_graph(clone_replace(list(self.op.source_outputs), replace))
        packs = []
        if self.packs_products:
            outputs, packed_inputs, packs = pack_products(inputs, outputs, self.first_fixed)
            inputs = inputs + packed_inputs
        program, _ = self.build(FunctionGraph(inputs, outputs), inputs)
        return NativeLoop.of(self.op, program, outputs, inputs) or program.call, packs


class NativeLoop:
    """A specialized step whose steps the C runner runs, all in one call (runner_loop.c).

    Each stacked output gets its buffer (n_steps, static shape of the output) before the loop
    starts, so the runner offers row t to the node computing the output at step t, which
    writes it there (a kernel's or product's output); other values are copied into the row.
    Outputs that are one value of the step (sum_to returning its input) share one buffer, as
    with run_loop. Called, it is the step itself (run_loop's step, for zero steps)."""

    def __init__(self, op: Scan, program, outputs: list, inputs: list):
        self.op, self.program, self.runner, self.step = op, program, program._runner, program.call
        k = op.n_states
        self.stacked = [j for j in range(k) if op.stacked[j]] + list(range(k, len(outputs)))
        first: dict = {}
        self.owner = {j: first.setdefault(id(outputs[j]), j) for j in self.stacked}
        self.types = [v.type for v in outputs]
        # a stacked output that is a state before the step (a residual of the backward loop)
        # shares the state's own stack, one row apart: {output: state}
        states = inputs[op.n_sequences : op.n_sequences + k]
        state_of = {id(v): i for i, v in enumerate(states)}
        self.previous = {}
        for j in self.stacked:
            i = state_of.get(id(outputs[j]))
            if j >= k and i is not None and op.stacked[i] and self.owner.get(i) == i:
                self.previous[j] = i

    def __call__(self, *values):
        return self.step(*values)

    @classmethod
    def of(cls, op: Scan, program, outputs: list, inputs: list) -> NativeLoop | None:
        """The loop of this step (its inner `inputs` and `outputs`), or None where the runner
        cannot run it: no C runner, or a stacked output whose shape is not static."""
        if getattr(program, "_runner", None) is None:
            return None
        loop = cls(op, program, outputs, inputs)
        return None if any(None in loop.types[j].shape for j in loop.stacked) else loop

    def run(self, arrays, allocate: Callable) -> list[np.ndarray]:
        """The Scan's outputs (see symbolic/scan/op.py), as `Scan.run` gives them;
        `allocate(position, shape, dtype)` gives the buffer of the stacked output at
        `position` (RowBuffers)."""
        op, n = self.op, int(arrays[0])
        s, k = op.n_sequences, op.n_states
        sequences, states, fixed = arrays[1 : 1 + s], arrays[1 + s : 1 + s + k], arrays[1 + s + k :]
        check_lengths(op, n, sequences)
        rows: list = [None] * len(self.types)
        shared = {k: j for j, k in self.previous.items()}
        for position, j in enumerate(self.stacked):
            if self.owner[j] != j or j in self.previous:
                continue
            shape, dtype = self.types[j].shape, self.types[j].dtype
            if j not in shared:
                rows[j] = allocate(position, (n, *shape), dtype)
                continue
            # n + 1 rows: the state after step t at row t + 1 (t − 1 when reversed), so the
            # rows of the states before the steps are the same memory one row apart and the
            # runner copies only the initial state into them (runner_loop.c)
            both = allocate(position, (n + 1, *shape), dtype)
            after, before = (both[:-1], both[1:]) if op.reverse else (both[1:], both[:-1])
            rows[j], rows[shared[j]] = after, before

        def failed(t: int, error: Exception) -> Exception:
            return step_error(op, t, n, error)

        def wrong_shape(t: int, j: int, value: np.ndarray) -> Exception:
            if j < k and value.shape != states[j].shape:
                return state_shape_error(op, t, j, value.shape, states[j].shape)
            return ValueError(
                f"scan: {op.describe_step()} returned output {j} of shape {value.shape} at "
                f"step {t}, but its rows have shape {rows[self.owner[j]].shape[1:]}"
            )

        final = self.runner.loop(
            n, op.reverse, tuple(sequences), tuple(states), tuple(fixed), tuple(rows),
            failed, wrong_shape,
        )  # fmt: skip
        found = iter(rows[self.owner[j]] for j in self.stacked)
        outputs = [next(found) if op.stacked[j] else final[j] for j in range(k)]
        return outputs + list(found)


def node_step(node: Apply, make_step: Callable, build: Callable) -> Callable:
    """The callable that runs a node without a kernel: a Scan as a `Loop` whose generic step
    runs what `make_step` gives each inner node and whose specialized steps `build` compiles;
    any other node as its op's NumPy reference."""
    if isinstance(node.op, Scan):
        return Loop(node, make_step, build)
    return node.op.perform
