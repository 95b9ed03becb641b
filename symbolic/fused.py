"""Fused operations: a group of elementwise nodes as one node, optionally ending in a reduction.

A `FusedElemwise` carries its group as a small program: the member steps in topological order
(each an `Elemwise` or `Cast` op and the arguments it reads) and which steps are the group's
outputs. An argument is a `Ref`: `("x", i)` the node's input i, `("c", j)` the program's scalar
constant j (0-d constants are inlined, so they cost no kernel argument), `("s", k)` the value of
step k. `perform` runs the steps with the members' own NumPy references, so a fused graph
computes exactly what the unfused one does, dtype rules included. The scalar meaning, the
members' sympy forms composed, is built only when asked (`expressions`), so compiling does not
pay for it.

A `FusedReduce` is a reduction (sum, prod, max, min, logsumexp) that carries the elementwise
program computing its input as a prologue: `sum(exp(x − m))` is one node.

Both are frozen dataclasses: equal groups compare equal, so equal nodes merge.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from symbolic.elemwise import Cast, compute_dtypes
from symbolic.graph import TensorType
from symbolic.op import Op

if TYPE_CHECKING:
    import sympy as sp

NAME_STEPS = 3  # a fused op's name lists this many member ops, then the member count


class Ref(NamedTuple):
    """An argument of a step: kind "x" (an input), "c" (a constant) or "s" (a step's value)."""

    kind: str
    index: int


class Step(NamedTuple):
    op: Op  # an Elemwise or a Cast
    args: tuple  # of Ref


class Typed:
    """Just enough of a Variable (its type) for an op's `infer`."""

    __slots__ = ("type",)

    def __init__(self, type: TensorType):
        self.type = type

    dtype = property(lambda self: self.type.dtype)
    ndim = property(lambda self: self.type.ndim)


@functools.cache
def sympy_cast(dtype: str) -> type[sp.Function]:
    """The sympy function standing for a conversion to `dtype`, e.g. cast_float64(x)."""
    import sympy as sp  # here, not at the top: `import symbolic` does not import sympy

    return sp.Function(f"cast_{dtype}")


def _short_name(op: Op) -> str:
    return "cast" if isinstance(op, Cast) else op.name


@dataclass(frozen=True)
class FusedElemwise(Op):
    input_dtypes: tuple  # of str: the inputs' dtypes (the program's dtype rules depend on them)
    constants: tuple  # of (dtype, bytes): the inlined 0-d constants, bit-exact (−0.0 ≠ 0.0)
    steps: tuple  # of Step, in topological order
    outputs: tuple  # of step indices: the values the group hands out

    @property
    def name(self) -> str:
        names = [_short_name(s.op) for s in self.steps[:NAME_STEPS]]
        extra = f"_{len(self.steps)}" if len(self.steps) > NAME_STEPS else ""
        return "fused_" + "_".join(names) + extra

    # ---- types ------------------------------------------------------------------------------

    def infer(self, *inputs):
        got = tuple(i.dtype for i in inputs)
        if got != self.input_dtypes:
            raise TypeError(f"{self.name} takes inputs of dtypes {self.input_dtypes}, got {got}")
        known = {
            "x": [i.type for i in inputs],
            "c": [TensorType(d, ()) for d, _ in self.constants],
            "s": [],
        }
        for op, args in self.steps:
            known["s"].append(op.infer(*[Typed(known[a.kind][a.index]) for a in args])[0])
        return [known["s"][k] for k in self.outputs]

    # ---- the NumPy reference ------------------------------------------------------------------

    @functools.cached_property
    def _constant_arrays(self) -> list[np.ndarray]:
        return [np.frombuffer(data, dtype).reshape(()) for dtype, data in self.constants]

    @functools.cached_property
    def _release(self) -> list[list[int]]:
        """For each step, the step values no later step (nor output) reads: freed after it."""
        last = {}
        for k, (_, args) in enumerate(self.steps):
            for a in args:
                if a.kind == "s":
                    last[a.index] = k
        for k in self.outputs:
            last[k] = len(self.steps)
        release = [[] for _ in self.steps]
        for k, at in last.items():
            if at < len(self.steps):
                release[at].append(k)
        return release

    @functools.cached_property
    def reads(self) -> tuple[tuple[int, ...], ...]:
        """Per output, the indices of the inputs it is computed from (its shape is theirs
        broadcast, which may be less than all inputs broadcast)."""
        reached: list[frozenset] = []
        for _, args in self.steps:
            found = set()
            for a in args:
                if a.kind == "x":
                    found.add(a.index)
                elif a.kind == "s":
                    found |= reached[a.index]
            reached.append(frozenset(found))
        return tuple(tuple(sorted(reached[k])) for k in self.outputs)

    def run_steps(self, arrays) -> list[np.ndarray]:
        """The outputs' values: every step run with its op's own NumPy reference."""
        values = {"x": arrays, "c": self._constant_arrays, "s": [None] * len(self.steps)}
        computed = values["s"]
        for k, (op, args) in enumerate(self.steps):
            computed[k] = op.perform(*[values[a.kind][a.index] for a in args])
            for done in self._release[k]:
                computed[done] = None
        return [computed[k] for k in self.outputs]

    def perform(self, *arrays):
        outs = self.run_steps(arrays)
        return outs[0] if len(outs) == 1 else outs

    def grad(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            f"the op {self.name} (FusedElemwise) has no gradient rule: fusion runs after grad, "
            "so differentiate the unoptimized graph"
        )

    # ---- the scalar meaning -----------------------------------------------------------------

    @functools.cached_property
    def input_symbols(self) -> tuple[sp.Symbol, ...]:
        import sympy as sp

        return tuple(sp.Symbol(f"x{i}") for i in range(len(self.input_dtypes)))

    @functools.cached_property
    def expressions(self) -> tuple[sp.Expr, ...]:
        """Each output as a sympy expression of `input_symbols` (x0, x1, …)."""
        return self.expressions_of(self.input_symbols)

    def expressions_of(self, symbols) -> tuple[sp.Expr, ...]:
        """Each output as a sympy expression of the given input symbols.

        The members' forms are composed unevaluated, so the expression is the program as it
        runs: sympy's automatic simplifications (0·x → 0, x − x → 0) do not hold for inf and
        nan. A change of dtype shows as a cast function (cast_float64(x0)): explicit casts and
        the implicit ones an op applies to its operands (exp of an int32 computes in float32);
        a conversion to bool is x ≠ 0. Subexpressions the members share are shared objects.
        """
        import sympy as sp

        values = [sp.sympify(a.item()) for a in self._constant_arrays]
        known = {"x": list(symbols), "c": values, "s": []}
        types = {"x": list(self.input_dtypes), "c": [d for d, _ in self.constants], "s": []}
        with sp.evaluate(False):
            for op, args in self.steps:
                exprs = [known[a.kind][a.index] for a in args]
                in_dtypes = [types[a.kind][a.index] for a in args]
                if isinstance(op, Cast):
                    known["s"].append(_convert(exprs[0], in_dtypes[0], op.dtype))
                    types["s"].append(op.dtype)
                    continue
                compute, out = compute_dtypes(op.scalar_op, in_dtypes)
                exprs = [_convert(e, d, c) for e, d, c in zip(exprs, in_dtypes, compute)]
                known["s"].append(_apply(op.scalar_op, exprs))
                types["s"].append(out)
        return tuple(known["s"][k] for k in self.outputs)


def _convert(expr: sp.Basic, dtype: str, to: str) -> sp.Basic:
    import sympy as sp

    if dtype == to:
        return expr
    return sp.Ne(expr, 0) if to == "bool" else sympy_cast(to)(expr)


def _apply(scalar_op, exprs) -> sp.Basic:
    """The scalar op's sympy form; where sympy has no meaning for it (arithmetic on booleans),
    an undefined function named after the op."""
    try:
        return scalar_op.sympy(*exprs)
    except TypeError:
        import sympy as sp

        return sp.Function(scalar_op.name)(*exprs)


@dataclass(frozen=True)
class FusedReduce(Op):
    """A reduction (`Reduce` of kind sum/prod/max/min, or `LogSumExp`) of a fused program's
    single output: the program is the reduction's prologue, so no intermediate is stored."""

    program: FusedElemwise
    reduce: Op

    @property
    def name(self) -> str:
        return "fused_" + self.reduce.name

    @property
    def expression(self) -> sp.Expr:
        """The prologue's sympy expression: the value reduced, per element."""
        return self.program.expressions[0]

    def infer(self, *inputs):
        return self.reduce.infer(Typed(self.program.infer(*inputs)[0]))

    def perform(self, *arrays):
        return self.reduce.perform(self.program.run_steps(arrays)[0])

    def grad(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            f"the op {self.name} (FusedReduce) has no gradient rule: fusion runs after grad, "
            "so differentiate the unoptimized graph"
        )
