"""What a CUDA reduction keeps per thread, and how two such states merge: one row of this table
per reduction, each a monoid (an identity, a step that adds one value, an associative merge).

A thread folds its share of a row into a state; the block merges its threads' states (warp
shuffles, then shared memory), and a row split over several blocks merges the blocks' states in
a second pass. The values are the C kernels' (docs/kernels.md): the same accumulator dtypes, the
same NaN rules, the same first index on ties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic.codegen.cprinter import ctype, literal
from symbolic.codegen.kernel import accumulator_dtype
from symbolic.dtypes import is_float


@dataclass(frozen=True)
class State:
    """A reduction's per-thread state as C++ text. `update` folds the value `v` (of dtype
    `value`) at index `i` into `st`; `combine` merges `b` into `a`; `result` is the output's
    value computed from `st`."""

    value: str  # the dtype v is read as
    members: str  # the struct's fields
    identity: str  # its initializer: the state of no values
    update: tuple  # of statements
    combine: tuple  # of statements
    result: str


def extreme_state(kind: str, dtype: str) -> State:
    """max or min; floats propagate NaN (a NaN, once held, is never replaced)."""
    t, cmp = ctype(dtype), ">" if kind == "max" else "<"
    if is_float(dtype):
        start = "-INFINITY" if kind == "max" else "INFINITY"
        take = lambda x, y: f"({x} {cmp} {y} || {x} != {x})"  # noqa: E731
    else:
        info = np.iinfo(dtype)
        start = literal(dtype, info.min if kind == "max" else info.max)
        take = lambda x, y: f"({x} {cmp} {y})"  # noqa: E731
    return State(
        dtype,
        f"{t} acc;",
        f"{{{start}}}",
        (f"if {take('v', 'st.acc')} st.acc = v;",),
        (f"if {take('b.acc', 'a.acc')} a.acc = b.acc;",),
        "st.acc",
    )


def arg_extreme_state(kind: str, dtype: str) -> State:
    """argmax or argmin: the first index of the extreme; the first NaN wins, as in NumPy.
    `at` < 0 marks no value yet; on a tie between two states the lower index wins."""
    cmp = ">" if kind == "argmax" else "<"
    if is_float(dtype):
        better = lambda x, y: f"({x} {cmp} {y} || ({x} != {x} && {y} == {y}))"  # noqa: E731
        same = lambda x, y: f"({x} == {y} || ({x} != {x} && {y} != {y}))"  # noqa: E731
    else:
        better = lambda x, y: f"{x} {cmp} {y}"  # noqa: E731
        same = lambda x, y: f"{x} == {y}"  # noqa: E731
    wins = f"{better('b.best', 'a.best')} || ({same('b.best', 'a.best')} && b.at < a.at)"
    return State(
        dtype,
        f"{ctype(dtype)} best; int64_t at;",
        "{0, -1}",
        (f"if (st.at < 0 || {better('v', 'st.best')}) {{ st.best = v; st.at = i; }}",),
        (f"if (b.at >= 0 && (a.at < 0 || {wins})) a = b;",),
        "st.at",
    )


def online_state(dtype: str, exp: str, result: str = "") -> State:
    """(m, s) of logsumexp and the softmax rows: s = Σ e^(x − shift(m)) (cuda_prelude.py); a
    value above m moves m and rescales s; two states rescale to the larger m and add."""
    t = ctype(dtype)
    return State(
        dtype,
        f"{t} m; double s;",
        "{-INFINITY, 0}",
        (
            "if (v > st.m) { st.s = sym_rescale(st.s, sym_shift(st.m), sym_shift(v)); st.m = v; }",
            f"st.s += {exp}(v - sym_shift(st.m));",
        ),
        (
            f"const {t} m = b.m > a.m ? b.m : a.m;",
            "a.s = sym_rescale(a.s, sym_shift(a.m), sym_shift(m)) "
            "+ sym_rescale(b.s, sym_shift(b.m), sym_shift(m));",
            "a.m = m;",
        ),
        result,
    )


def accumulate_state(op: str, value: str, acc: str, identity: str, term: str = "v") -> State:
    """acc = acc op term, in the accumulator dtype `acc`."""
    return State(
        value,
        f"{ctype(acc)} acc;",
        f"{{{identity}}}",
        (f"st.acc {op}= {term};",),
        (f"a.acc {op}= b.acc;",),
        "st.acc",
    )


def reduction_state(reduction: str, value_dtype: str, output_dtype: str, libm) -> State:
    """The state of `reduction` over values of `value_dtype` giving `output_dtype`;
    `libm(fn, dtype)` spells a math function."""
    acc = accumulator_dtype(reduction, value_dtype, output_dtype)
    out = ctype(output_dtype)
    states = {
        "sum": lambda: accumulate_state("+", value_dtype, acc, "0"),
        "prod": lambda: accumulate_state("*", value_dtype, acc, "1"),
        # all: 1 while every value is nonzero; any: 0 until one is
        "all": lambda: accumulate_state("&", value_dtype, "int32", "1", "(v != 0)"),
        "any": lambda: accumulate_state("|", value_dtype, "int32", "0", "(v != 0)"),
        "max": lambda: extreme_state("max", value_dtype),
        "min": lambda: extreme_state("min", value_dtype),
        "argmax": lambda: arg_extreme_state("argmax", value_dtype),
        "argmin": lambda: arg_extreme_state("argmin", value_dtype),
        # shift(m) + log Σ e^(x − shift(m)), in the output dtype as the C kernel computes it
        "logsumexp": lambda: online_state(
            output_dtype,
            libm("exp", output_dtype),
            f"{libm('log', output_dtype)}(({out})st.s) + sym_shift(st.m)",
        ),
    }
    if reduction not in states:
        raise NotImplementedError(f"no CUDA kernel for the reduction {reduction!r}")
    return states[reduction]()
