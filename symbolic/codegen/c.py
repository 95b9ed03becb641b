"""C source for kernel descriptions: loops with OpenMP threads and `omp simd` vector lanes.

The calling convention (signature, sizes, strides) is docs/kernels.md. Loops are written for the
vectorizer: restrict pointers, a unit-stride copy of every inner loop (the common case, which
then needs no gathers), `omp simd` with explicit reductions. Outer loops run on OpenMP threads
when the kernel's work, its elements weighted by their cost (`prelude.parallel_weight`),
reaches SYM_PARALLEL_MIN (prelude.py says which value, and why).
"""

from __future__ import annotations

import numpy as np

from symbolic.codegen.c_direct import CDirect
from symbolic.codegen.c_indexing import CIndexing
from symbolic.codegen.c_windows import CWindows
from symbolic.codegen.cprinter import CTYPES, ctype, literal
from symbolic.codegen.cstyle import CStyleLanguage, block, if_else
from symbolic.codegen.kernel import (
    ElementwiseKernel,
    ReductionKernel,
    RowKernel,
    accumulator_dtype,
)
from symbolic.codegen.prelude import EXPENSIVE_WEIGHT, parallel_weight, render_tile_copies
from symbolic.dtypes import is_float

HELPER_SUFFIX = {c: sfx for c, sfx in CTYPES.values()}  # C type -> suffix of its helpers
SUM_BLOCK = 1024  # float32 terms per partial sum (see CRenderer.sum_loop)
# An elementwise kernel's tiles: TILE elements, fewer where the tile buffers of all its
# arguments would take more than TILE_BYTES of a thread's stack (64 float64 arguments: 128)
TILE, TILE_BYTES = 1024, 1 << 16


def tile_length(arg_dtypes) -> int:
    row = sum(np.dtype(d).itemsize for d in arg_dtypes)
    tile = TILE
    while tile > 16 and tile * row > TILE_BYTES:
        tile //= 2
    return tile


def weighted(work: str, weight: int) -> str:
    """The work of a loop for SYM_PARALLEL_FOR: its element count times an element's cost."""
    return work if weight == 1 else f"({work}) * {weight}"


class CRenderer(CIndexing, CWindows, CDirect, CStyleLanguage):
    """C11 with OpenMP pragmas (ignored without -fopenmp)."""

    includes = (*CStyleLanguage.includes, "<stdlib.h>")  # malloc: the window kernels' scratch

    def render_prelude(self) -> str:
        return super().render_prelude() + render_tile_copies()

    def render_module(self, kernels, notes: dict | None = None) -> str:
        """The prelude, then each kernel inside `#if` guards that let the runtime compile the
        file as SYMBOLIC_UNITS translation units at once, kernel i in unit i % SYMBOLIC_UNITS
        (prelude.UNITS; without the macros the file is one unit with every kernel), after
        its note (notes.py) where `notes` has one."""
        notes = notes or {}
        guarded = [
            f"\n#if {i} % SYMBOLIC_UNITS == SYMBOLIC_UNIT\n"
            f"{notes.get(n, '')}{self.render(k, n)}#endif\n"
            for i, (n, k) in enumerate(kernels)
        ]
        return self.render_prelude() + "".join(guarded)

    # ---- elementwise ----------------------------------------------------------------------------

    def render_elementwise(self, k: ElementwiseKernel) -> list[str]:
        """One vector loop for every layout. The iteration space is cut into tiles along its
        last axis (a contiguous problem is one long row), the threads share the tiles, and an
        argument whose stride along that axis is not 1 (a broadcast, a transpose, a reversed
        view) goes through a buffer: copied in before the loop, or out after it for an output,
        by the prelude's out-of-line `load_tile_*` / `store_tile_*`. So the compiler
        vectorizes one unit-stride loop per kernel: a second, strided copy of the loop, like
        copies inlined in every kernel, made it emulate strided vector loads lane by lane,
        most of the compile time of a module."""
        lines, args = self.elementwise_setup(k)
        n_in = len(k.program.input_dtypes)
        dtype_of = [*k.program.input_dtypes, *k.output_dtypes]
        ctype_of = [*map(self.input_ctype, k.program.input_dtypes), *map(ctype, k.output_dtypes)]
        tile = tile_length([dtype_of[a] for a in args])
        steps = ", ".join(f"t{a} = ndim ? strides[{a} * ndim + ndim - 1] : 1" for a in args)
        lines += [
            "/* tiles of the last axis; the other axes are decomposed from the outer index */",
            "const int64_t inner = ndim ? shape[ndim - 1] : 1;",
            f"const int64_t tiles = (inner + {tile - 1}) / {tile};",
            f"const int64_t {steps};",
            f"SYM_PARALLEL_FOR({weighted('n', parallel_weight(k.program))})",
        ]
        offsets = ", ".join(f"a{a} = 0" for a in args)
        decompose = [
            "const int64_t at = rest % shape[d];",
            "rest /= shape[d];",
            *[f"a{a} += at * strides[{a} * ndim + d];" for a in args],
        ]
        body = [
            f"int64_t rest = o / tiles, {offsets};",
            *block("for (int64_t d = ndim - 2; d >= 0; d--)", decompose),
            f"const int64_t start = o % tiles * {tile};",
            f"const int64_t len = inner - start < {tile} ? inner - start : {tile};",
        ]
        for a in args:
            const = "const " if a < n_in else ""
            body += [
                f"{ctype_of[a]} b{a}[{tile}];",
                f"{const}{ctype_of[a]} *{self.restrict} q{a} = t{a} == 1 ? p{a} + a{a} + start : b{a};",
            ]

        def copy(a: int) -> str:  # input: its buffer from strided elements; output: back
            at, sfx = f"p{a} + a{a} + start * t{a}", HELPER_SUFFIX[ctype_of[a]]
            if a < n_in:
                return f"if (t{a} != 1) load_tile_{sfx}(b{a}, {at}, len, t{a});"
            return f"if (t{a} != 1) store_tile_{sfx}({at}, b{a}, len, t{a});"

        outputs = args[len(args) - len(k.output_dtypes) :]
        element = self.elementwise_body(
            k, lambda a: f"q{a}[i]", lambda a, value: f"q{a}[i] = {value};"
        )
        body += [copy(a) for a in args if a < n_in]
        body += ["#pragma omp simd", *block("for (int64_t i = 0; i < len; i++)", element)]
        body += [copy(a) for a in outputs]
        return lines + block("for (int64_t o = 0; o < n / inner * tiles; o++)", body)

    # ---- reductions -------------------------------------------------------------------------

    def render_reduction(self, k: ReductionKernel) -> list[str]:
        scalars = k.scalar_inputs
        reduction, value_dtype = self.reduction_of(k), k.value_dtype
        lines, args = self.reduction_setup(k)
        lines.append(f"SYM_PARALLEL_FOR({weighted('outer * inner', parallel_weight(k.prologue))})")
        starts = [
            f"const {self.input_ctype(k.input_dtypes[a])} *{self.restrict} q{a} = p{a} + o * so{a};"
            for a in args
        ]

        def loop(pragma: str | None, update: list[str], start="0", stop="inner") -> list[str]:
            """The inner loop over the reduced values: `update` reads the value as `v`."""
            unit = " && ".join(f"si{a} == 1" for a in args)

            def one(index) -> list[str]:
                element, outs = self.element(
                    k.prologue, k.input_dtypes, scalars, lambda a: f"q{a}[{index(a)}]"
                )
                name, dtype = outs[0]
                inner = block(
                    f"for (int64_t i = {start}; i < {stop}; i++)",
                    [*element, f"const {ctype(dtype)} v = {name};", *update],
                )
                return ([pragma] if pragma else []) + inner

            if not unit:
                return one(lambda a: "i")
            return if_else(unit, one(lambda a: "i"), one(lambda a: f"i * si{a}"))

        body = starts + self.reduce_row(reduction, k, value_dtype, loop, args)
        return lines + block("for (int64_t o = 0; o < outer; o++)", body)

    def prefetch_next_row(self, k: ReductionKernel, args: list[int]) -> list[str]:
        """Statements asking for the block [b, end) of the next row of each contiguous input:
        it streams in while this row's exps are computed (bound by arithmetic), so the next
        row's max pass reads cache instead of waiting on memory."""
        lines = []
        for a in args:
            t = self.input_ctype(k.input_dtypes[a])
            stride = f"(int64_t)(64 / sizeof({t}))"  # one request per 64-byte cache line
            lines += block(
                f"if (si{a} == 1 && o + 1 < outer)",
                [f"for (int64_t l = b; l < end; l += {stride}) SYM_PREFETCH(q{a} + so{a} + l);"],
            )
        return lines

    def reduce_row(
        self, reduction: str, k: ReductionKernel, value_dtype: str, loop, args: list[int]
    ) -> list[str]:
        """The statements reducing one row into r[o], given the inner-loop builder."""
        acc_dtype = accumulator_dtype(reduction, value_dtype, k.output_dtype)
        acc, out = ctype(acc_dtype), ctype(k.output_dtype)
        if reduction == "sum" and is_float(acc_dtype):
            sums = self.sum_loop(k.output_dtype, loop, lambda acc: [f"{acc} += v;"], "inner")
            return [*sums, f"r[o] = ({out})acc;"]
        if reduction in ("sum", "prod"):
            op, init = ("+", 0) if reduction == "sum" else ("*", 1)
            return [
                f"{acc} acc = {init};",
                *loop(f"#pragma omp simd reduction({op}:acc)", [f"acc {op}= v;"]),
                f"r[o] = ({out})acc;",
            ]
        if reduction in ("all", "any"):
            op, init = ("&", 1) if reduction == "all" else ("|", 0)
            return [
                f"int acc = {init};",
                *loop(f"#pragma omp simd reduction({op}:acc)", [f"acc {op}= v != 0;"]),
                "r[o] = acc;",
            ]
        if reduction in ("max", "min"):
            return [*self.extreme(reduction, value_dtype, "acc", loop), "r[o] = acc;"]
        if reduction in ("argmax", "argmin"):
            better = "v > best" if reduction == "argmax" else "v < best"
            if is_float(value_dtype):  # the first NaN wins, as in NumPy
                better += " || (v != v && best == best)"
            return [
                f"{ctype(value_dtype)} best = 0;",
                "int64_t at = 0;",
                *loop(None, block(f"if (i == 0 || {better})", ["best = v;", "at = i;"])),
                "r[o] = at;",
            ]
        if reduction == "logsumexp":  # m + log Σ e^(x − m), m = max x (0 where not finite)
            t = k.output_dtype
            exp, log = self.libm("exp", t), self.libm("log", t)
            convert = [f"const {out} w = ({out})v;"]
            # the max skips a NaN (w > m is false), whose term e^(NaN − m) then makes the sum
            # and the result NaN: no NaN flag in the max loop
            return [
                *self.extreme("max", t, "m", loop, convert, nan=False),
                f"const {out} shift = isfinite(m) ? m : 0;",
                *self.sum_loop(
                    t,
                    loop,
                    lambda acc: [*convert, f"{acc} += {exp}(w - shift);"],
                    "inner",
                    self.prefetch_next_row(k, args),
                ),
                f"r[o] = {log}(({out})acc) + shift;",
            ]
        raise NotImplementedError(f"no C kernel for the reduction {reduction!r}")

    def sum_loop(self, dtype: str, loop, update, stop: str, prefetch=()) -> list[str]:
        """`acc` = the sum of the terms `update(name)` adds to `name`, over the loop up to `stop`.

        float32 is blocked: partial sums of SUM_BLOCK terms in float32 (a vector loop of 8 lanes
        adds 128 terms per lane) go into a float64 total, as accurate as NumPy's pairwise sum
        and as fast as a float32 loop (a float64 accumulator would halve the lanes and stop
        glibc's vector exp from being used). `prefetch`: statements run before each block."""
        if dtype != "float32":
            return [
                f"{ctype(dtype)} acc = 0;",
                *loop("#pragma omp simd reduction(+:acc)", update("acc")),
            ]
        blocked = [
            f"const int64_t end = {stop} - b < {SUM_BLOCK} ? {stop} : b + {SUM_BLOCK};",
            *prefetch,
            "float part = 0;",
            *loop("#pragma omp simd reduction(+:part)", update("part"), "b", "end"),
            "acc += part;",
        ]
        return [
            "double acc = 0;",
            *block(f"for (int64_t b = 0; b < {stop}; b += {SUM_BLOCK})", blocked),
        ]

    def extreme(self, kind: str, dtype: str, name: str, loop, convert=(), nan=True) -> list[str]:
        """`name` = max or min of the values, NaN if any is NaN (NumPy's max/min); with
        `nan=False` NaNs are skipped (the max of the others, or ∓INFINITY)."""
        cmp = ">" if kind == "max" else "<"
        value = "w" if convert else "v"
        update = [*convert, f"{name} = {value} {cmp} {name} ? {value} : {name};"]
        if not is_float(dtype):
            info = np.iinfo(dtype)
            start = literal(dtype, info.min if kind == "max" else info.max)
            return [
                f"{ctype(dtype)} {name} = {start};",
                *loop(f"#pragma omp simd reduction({kind}:{name})", update),
            ]
        start = "-INFINITY" if kind == "max" else "INFINITY"
        if not nan:
            return [
                f"{ctype(dtype)} {name} = {start};",
                *loop(f"#pragma omp simd reduction({kind}:{name})", update),
            ]
        return [
            f"{ctype(dtype)} {name} = {start};",
            "int nan = 0;",
            *loop(
                f"#pragma omp simd reduction({kind}:{name}) reduction(|:nan)",
                [*update, f"nan |= {value} != {value};"],
            ),
            f"if (nan) {name} = NAN;",
        ]

    # ---- rows -------------------------------------------------------------------------------

    def render_rows(self, k: RowKernel) -> list[str]:
        t, x = k.output_dtype, k.input_dtypes[0]
        out = ctype(t)
        exp, log = self.libm("exp", t), self.libm("log", t)
        # every kind exponentiates each element once
        work = weighted("rows * cols", EXPENSIVE_WEIGHT)
        lines = [*self.rows_setup(k), f"SYM_PARALLEL_FOR({work})"]

        def loop(pragma: str | None, update: list[str], start="0", stop="cols") -> list[str]:
            """A loop over the row's columns; `update` reads the value as `v` (and index j)."""

            def one(index: str) -> list[str]:
                head = [pragma] if pragma else []
                return head + block(
                    f"for (int64_t j = {start}; j < {stop}; j++)",
                    [f"const {out} v = ({out})q[{index}];", *update],
                )

            return if_else("sc == 1", one("j"), one("j * sc"))

        body = [
            f"const {self.input_ctype(x)} *{self.restrict} q = p0 + o * so;",
            *self.extreme("max", t, "m", loop),
        ]
        row = f"{out} *{self.restrict} y = r + o * cols;"
        if k.function == "softmax":
            body += [
                row,
                *self.sum_loop(
                    t,
                    loop,
                    lambda acc: [f"const {out} e = {exp}(v - m);", "y[j] = e;", f"{acc} += e;"],
                    "cols",
                ),
                f"const {out} total = ({out})acc;",
                "#pragma omp simd",
                "for (int64_t j = 0; j < cols; j++) y[j] = y[j] / total;",
            ]
        else:
            body += [
                *self.sum_loop(t, loop, lambda acc: [f"{acc} += {exp}(v - m);"], "cols"),
                f"const {out} lse = {log}(({out})acc);",
            ]
            if k.function == "log_softmax":
                body += [row, *loop("#pragma omp simd", ["y[j] = (v - m) - lse;"])]
            else:  # −log softmax(x)[y]: lse − (x_y − m); a label past either end gives NaN
                body += [
                    "int64_t label = (int64_t)p1[o * sl];",
                    "if (label < 0) label += cols;",
                    f"r[o] = (label >= 0 && label < cols) ? lse - (({out})q[label * sc] - m) : NAN;",
                ]
        return lines + block("for (int64_t o = 0; o < rows; o++)", body)


C = CRenderer()


def render_kernel(kernel, name: str) -> str:
    """The C function `name` computing `kernel` (a description from `kernel.describe`)."""
    return C.render(kernel, name)


def render_module(kernels, notes: dict | None = None) -> str:
    """One translation unit: includes and helpers once, then each (name, kernel) in order,
    each after its note in `notes` ({name: comment}, see notes.py) if any."""
    return C.render_module(kernels, notes)
