"""Seeded random graphs over the whole op library, with their inputs and output tolerances.

`random_graph(seed)` draws a graph from `np.random.default_rng(seed)` alone, so a seed is a
complete reproduction. A graph is a pool of terms: it starts from a few inputs of broadcastable
shapes (every rank pattern, dims of 1 declared or not) and applies a few random steps (the
methods named in STEPS, from steps_values.py and steps_shapes.py), each to a term of the pool,
adding the result.
Arguments are kept inside each op's domain (elementwise_table.py) by squashing them smoothly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from elementwise_table import BIG
from leaves import draw_leaf
from steps_shapes import ShapeSteps
from steps_values import ValueSteps
from terms import Term, eps

import symbolic as S

MAX_SIZE = 240  # elements per term: graphs stay small, so a batch compiles and runs fast


@dataclass
class Graph:
    seed: int
    inputs: list  # variables, in the order of `values`
    values: list  # the arrays passed (any layout)
    outputs: list  # variables: the last term, plus the last float term when it is not float
    tolerances: list  # absolute tolerance on each output, from the error model
    magnitudes: list  # a bound on |value| of each output
    output_shapes: list
    steps: list = field(default_factory=list)  # one line per step, for reports
    float_dtype: str = "float64"
    precision: str = "float64"  # the narrowest float dtype of any term: gradients carry its error

    @property
    def float_inputs(self) -> list[int]:
        return [i for i, v in enumerate(self.inputs) if v.dtype.startswith("float")]


class GraphBuilder(ValueSteps, ShapeSteps):
    """Draws one graph from its seed."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.float_dtype = "float64" if self.rng.random() < 0.7 else "float32"
        self.inputs, self.values, self.pool, self.steps = [], [], [], []

    # ---- drawing helpers ----
    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def leaf(self, shape: tuple, dtype: str | None = None, lo=-2.0, hi=2.0) -> Term:
        dtype = dtype or self.float_dtype
        value = draw_leaf(self.rng, shape, dtype, lo, hi)
        declared = tuple(d if self.rng.random() < 0.3 or d == 1 else None for d in shape)
        if self.rng.random() < 0.2:  # a dim of 1 left undeclared: broadcast found at run time
            declared = tuple(None if d == 1 else d for d in declared)
        name = f"x{len(self.inputs)}"
        var = S.tensor(name, dtype, declared)
        self.inputs.append(var)
        self.values.append(value)
        if np.dtype(dtype).kind in "iub":
            lo, hi = (0.0, 1.0) if dtype == "bool" else (np.ceil(lo), np.floor(hi))
        text = f"input {name}: {dtype}{list(shape)} declared {list(declared)}, {_layout(value)}"
        return self.add(Term(var, shape, lo, hi), text)

    def add(self, term: Term, text: str) -> Term:
        assert term.var.ndim == len(term.shape), text
        self.pool.append(term)
        self.steps.append(f"t{len(self.pool) - 1} = {text}  # {term.dtype}{list(term.shape)}")
        return term

    def name(self, term: Term) -> str:
        return f"t{self.pool.index(term)}"

    def recent(self, kinds: str = "fiub") -> Term | None:
        """A term of the pool, the newest ones likelier."""
        options = [t for t in self.pool if t.kind in kinds]
        if not options:
            return None
        weights = np.arange(1, len(options) + 1, dtype=float) ** 2
        return options[int(self.rng.choice(len(options), p=weights / weights.sum()))]

    def squash(self, t: Term, lo: float, hi: float) -> Term:
        """t mapped smoothly into [lo, hi]: lo + (hi − lo)·σ(t); an unbounded side is first
        brought near: 30·tanh(t/30) for (−BIG, BIG), lo + softplus(30·tanh(t/30)) for
        (lo, BIG). Integers by a modulo into the integer range."""
        if lo <= t.lo and t.hi <= hi:
            return t
        if t.kind in "iub":
            if t.kind == "b":
                t = self.converted(t, "int32")
            first = -8 if lo <= -BIG else int(np.ceil(lo))
            span = 17 if lo <= -BIG else int(max(1, min(hi - lo, 8)))
            squashed = Term(t.var % span + first, t.shape, first, first + span - 1)
            return self.add(squashed, f"{self.name(t)} % {span} + {first}")
        x, unit = t.var, 8 * eps(t.dtype)
        if lo <= -BIG:
            var = S.tanh(x * (1 / 30)) * 30
            squashed = Term(var, t.shape, -30.0, 30.0, t.err + unit * 30)
            return self.add(squashed, f"30 tanh({self.name(t)} / 30)")
        if hi >= BIG:
            var = S.softplus(S.tanh(x * (1 / 30)) * 30) + lo
            err = t.err + unit * (abs(lo) + 31)
            squashed = Term(var, t.shape, lo, lo + 31, err)
            return self.add(squashed, f"softplus(30 tanh({self.name(t)} / 30)) + {lo}")
        width = hi - lo
        var = S.sigmoid(x) * width + lo
        err = width * t.err / 4 + unit * max(abs(lo), abs(hi))
        return self.add(Term(var, t.shape, lo, hi, err), f"{lo} + {width} sigmoid({self.name(t)})")

    def converted(self, t: Term, dtype: str) -> Term:
        """t cast to `dtype` (exactly: bools and small integers)."""
        return self.add(Term(S.cast(t.var, dtype), t.shape, t.lo, t.hi), f"cast({self.name(t)})")

    def partner(self, shape: tuple) -> Term:
        """A term broadcastable with `shape` (from the pool, or a new input)."""
        options = [t for t in self.pool if _broadcasts(t.shape, shape) and t.kind != "b"]
        if options and self.rng.random() < 0.6:
            return self.pick(options)
        return self.leaf(
            tuple(
                d if self.rng.random() < 0.7 else 1
                for d in shape[int(self.rng.integers(len(shape) + 1)) :]
            )
        )

    # ---- keeping terms small ----
    def shrink(self, t: Term) -> Term:
        """t summed over its first axes until it has at most MAX_SIZE elements."""
        while t.size > MAX_SIZE:
            n = t.shape[0]
            err = n * (t.err + n * eps(t.dtype) * t.magnitude)
            var = S.cast(t.var, "int32").sum(axis=0) if t.kind == "b" else t.var.sum(axis=0)
            t = self.add(Term(var, t.shape[1:], n * t.lo, n * t.hi, err), f"{self.name(t)}.sum(0)")
        return t

    # ---- the whole graph ----
    def build(self) -> Graph:
        rank = int(self.rng.choice(4, p=[0.1, 0.3, 0.35, 0.25]))
        base = tuple(int(d) for d in self.rng.integers(1, 5, rank))
        for _ in range(int(self.rng.integers(1, 4))):
            shape = tuple(
                d if self.rng.random() < 0.7 else 1
                for d in base[int(self.rng.integers(rank + 1)) :]
            )
            dtype = self.pick([self.float_dtype] * 4 + ["int32", "int64", "int8"])
            lo, hi = self.pick([(-2.0, 2.0), (0.1, 3.0), (-5.0, 5.0)])
            self.leaf(shape, dtype, lo, hi)
        for _ in range(int(self.rng.integers(3, 10))):
            for _attempt in range(10):
                step = self.pick(STEPS)
                t = self.recent()
                if t.size > MAX_SIZE:
                    t = self.shrink(t)
                if getattr(self, step)(t) is not None:
                    break
        last = self.pool[-1]
        outputs = (
            [last] if last.kind == "f" else [last] + [t for t in self.pool if t.kind == "f"][-1:]
        )
        return Graph(
            self.seed,
            self.inputs,
            self.values,
            outputs=[o.var for o in outputs],
            tolerances=[_tolerance(o) for o in outputs],
            magnitudes=[o.magnitude for o in outputs],
            output_shapes=[o.shape for o in outputs],
            steps=self.steps,
            float_dtype=self.float_dtype,
            precision="float32" if any(t.dtype == "float32" for t in self.pool) else "float64",
        )


# step name -> weight: elementwise steps are the most common
STEPS = ["unary"] * 6 + ["binary"] * 5 + ["compare_where", "clip", "cast"] + ["reduce"] * 3 + [
    "softmax", "layout", "layout", "reshape", "basic_index", "advanced_index", "set_or_inc",
    "product", "join", "broadcast",
]  # fmt: skip


def random_graph(seed: int) -> Graph:
    """The graph drawn from `seed`."""
    return GraphBuilder(seed).build()


def _tolerance(t: Term) -> float:
    """Twice the error bound: the device and the oracle may each be off by it."""
    return 2.0 * t.err + 4.0 * eps(t.dtype) * t.magnitude


def _broadcasts(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _layout(value) -> str:
    if np.ndim(value) == 0:
        return "scalar"
    if value.strides and 0 in value.strides:
        return "broadcast"
    if value.flags.c_contiguous:
        return "contiguous"
    return "fortran" if value.flags.f_contiguous else f"strides {value.strides}"
