"""C loops for gather and scatter kernels: advanced indexing, set_subtensor, inc_subtensor.

The calling convention is docs/kernels.md ("gather", "scatter"). Both kernels walk the indexed
space, the shape of x[index], row by row (its last axis is the row). The element at a point of
that space lives in x (the gather's source, the scatter's output) at

    offset + Σ_d point_d · stride_d + Σ_k j_k · s_k

where the strides step over the basic slices (0 on the axes the integer indices make), and j_k
is the value of index k there, counted from the end when negative as NumPy counts, on an axis of
size n_k and stride s_k. An index outside [−n_k, n_k) raises the status cell and stands for 0, so
no access leaves the array; the runtime then raises NumPy's IndexError.

Where no index moves along the row (x[idx] of a matrix: each row is one row of x) the offset is
computed once per row and the row is a plain copy that vectorizes.
"""

from __future__ import annotations

from symbolic.codegen.cprinter import convert, ctype
from symbolic.codegen.cstyle import block, if_else
from symbolic.codegen.kernel import GatherKernel, ScatterKernel


class CIndexing:
    """The gather and scatter loops of the C renderer (a mixin of a CStyleLanguage)."""

    # ---- gather -------------------------------------------------------------------------------

    def render_gather(self, k: GatherKernel) -> list[str]:
        """data = {x, i_0 … i_{m−1}, out, status}; strides over the space for each but status."""
        m = len(k.index_dtypes)
        indices, out = list(range(1, m + 1)), m + 1
        t = self.input_ctype(k.dtype)  # bool is copied as bytes
        lines = [
            *self.space_setup("sizes[0]", "sizes + 1", True),
            f"const {t} *{self.restrict} p0 = (const {t} *)data[0] + shape[ndim];",
            *self.index_setup(indices, k.index_dtypes),
            f"{t} *{self.restrict} p{out} = ({t} *)data[{out}];",
            *self.status_setup(out + 1),
            *self.count("n", "ndim", "shape"),
            "if (n == 0) return;",
        ]
        copy = if_else(
            f"t0 == 1 && t{out} == 1",
            self.row("#pragma omp simd", [f"p{out}[a{out} + i] = p0[off + i];"]),
            self.row("#pragma omp simd", [f"p{out}[a{out} + i * t{out}] = p0[off + i * t0];"]),
        )
        fixed = [*self.index_offsets(indices, "a0", lambda a: f"a{a}"), *block("if (!bad)", copy)]
        moving = self.row(
            "#pragma omp simd reduction(|:bad)",
            [
                *self.index_offsets(indices, "a0 + i * t0", lambda a: f"a{a} + i * t{a}"),
                f"p{out}[a{out} + i * t{out}] = p0[off];",
            ],
        )
        body = self.row_body(indices, fixed, moving, atomic=True)
        args = [0, *indices, out]
        return lines + self.rows("ndim", "shape", "strides", args, body, "n", parallel=True)

    # ---- scatter ------------------------------------------------------------------------------

    def render_scatter(self, k: ScatterKernel) -> list[str]:
        """data = {x, v, i_0 … i_{m−1}, out, status}; strides: x's over the copy space, then
        v's, each index's and out's over the indexed space."""
        m = len(k.index_dtypes)
        indices, out = list(range(2, m + 2)), m + 2
        t = ctype(k.dtype)
        value = convert("w", k.value_dtype, k.dtype)
        store = f"= {value}" if k.mode == "set" else f"+= {value}"
        load = f"const {ctype(k.value_dtype)} w = p1[a1 + i * t1];"
        lines = [
            "const int64_t cdim = sizes[0];",
            "const int64_t *cshape = sizes + 1;",
            *self.space_setup("sizes[1 + cdim]", "sizes + 2 + cdim", m > 0),
            "const int64_t *space = strides + cdim;",
            self.pointer("p0", k.dtype, 0, True),
            self.pointer("p1", k.value_dtype, 1, True),
            *self.index_setup(indices, k.index_dtypes),
            f"{t} *{self.restrict} p{out} = ({t} *)data[{out}];",
            *self.status_setup(out + 1),
            *block(
                f"if ((const void *)p0 != (const void *)p{out})",
                [
                    "/* out = x, unless the runtime passed x itself (in place) */",
                    *self.copy(t, out),
                ],
            ),
            f"{t} *{self.restrict} y = p{out} + shape[ndim];",
            *self.count("n", "ndim", "shape"),
            "if (n == 0) return;",
        ]
        # One thread, rows in order: repeated indices write (or add) in the order NumPy does.
        # A row whose target moves along it (t != 0) has distinct targets and vectorizes; one
        # whose target stands still (an index broadcast by stride 0) must not.
        fixed = [
            *self.index_offsets(indices, f"a{out}", lambda a: f"a{a}"),
            *block(
                "if (!bad)",
                if_else(
                    f"t{out} != 0",
                    self.row("#pragma omp simd", [load, f"y[off + i * t{out}] {store};"]),
                    self.row(None, [load, f"y[off] {store};"]),
                ),
            ),
        ]
        moving = self.row(
            None,
            [
                *self.index_offsets(indices, f"a{out} + i * t{out}", lambda a: f"a{a} + i * t{a}"),
                load,
                f"y[off] {store};",
            ],
        )
        body = self.row_body(indices, fixed, moving, atomic=False)
        args = [1, *indices, out]
        return lines + self.rows("ndim", "shape", "space", args, body, "n", parallel=False)

    def copy(self, t: str, out: int) -> list[str]:
        """out (contiguous) = x over the copy space: x's shape with mergeable axes merged."""
        row = if_else(
            "t0 == 1",
            self.row("#pragma omp simd", ["q[i] = p0[a0 + i];"]),
            self.row("#pragma omp simd", ["q[i] = p0[a0 + i * t0];"]),
        )
        body = [f"{t} *{self.restrict} q = p{out} + o * inner;", *row]
        rows = self.rows("cdim", "cshape", "strides", [0], body, "total", parallel=True)
        return [*self.count("total", "cdim", "cshape"), *block("if (total > 0)", rows)]

    # ---- shared pieces ------------------------------------------------------------------------

    def space_setup(self, rank: str, shape: str, indexed: bool) -> list[str]:
        """The indexed space: its rank, its shape, then the offset of its origin and (where
        there are indices) the axes they index, (size, stride) each."""
        axes = ["const int64_t *axes = shape + ndim + 1;"] if indexed else []
        return [f"const int64_t ndim = {rank};", f"const int64_t *shape = {shape};", *axes]

    def index_setup(self, indices: list[int], index_dtypes) -> list[str]:
        """Pointers to the indices, and each one's axis: its size nA and stride sA."""
        lines = []
        for j, (a, dtype) in enumerate(zip(indices, index_dtypes)):
            lines.append(self.pointer(f"p{a}", dtype, a, True))
            lines.append(f"const int64_t n{a} = axes[{2 * j}], s{a} = axes[{2 * j + 1}];")
        return lines

    def status_setup(self, arg: int) -> list[str]:
        return [f"int64_t *status = (int64_t *)data[{arg}];", "*status = 0;"]

    def index_offsets(self, indices: list[int], start: str, at) -> list[str]:
        """`off` = start + Σ j_A · s_A, index A read at `at(A)` and counted from the end when
        negative; an index out of range sets `bad` and counts as 0."""
        lines = [f"int64_t off = {start};"]
        for a in indices:
            lines += [
                f"int64_t j{a} = (int64_t)p{a}[{at(a)}];",
                f"j{a} += j{a} < 0 ? n{a} : 0;",
                f"const int ok{a} = (uint64_t)j{a} < (uint64_t)n{a};",
                f"bad |= !ok{a};",
                f"off += (ok{a} ? j{a} : 0) * s{a};",
            ]
        return lines

    def row(self, pragma: str | None, body: list[str]) -> list[str]:
        """A loop along one row of the space: `i` runs over it."""
        return ([pragma] if pragma else []) + block("for (int64_t i = 0; i < inner; i++)", body)

    def row_body(self, indices: list[int], fixed, moving, atomic: bool) -> list[str]:
        """A row: `fixed` where no index moves along it, else `moving`; then the status."""
        steady = " && ".join(f"t{a} == 0" for a in indices)
        lines = ["int bad = 0;", *(if_else(steady, fixed, moving) if steady else fixed)]
        flag = ["#pragma omp atomic write"] if atomic else []  # rows may run on threads
        return lines + block("if (bad)", [*flag, "*status = 1;"])

    def count(self, name: str, rank: str, shape: str) -> list[str]:
        """`name` = the number of elements of a space."""
        return [
            f"int64_t {name} = 1;",
            f"for (int64_t d = 0; d < {rank}; d++) {name} *= {shape}[d];",
        ]

    def rows(self, rank, shape, strides, args, body, count, parallel: bool) -> list[str]:
        """`body` for each row o of a space of `rank` ≥ 1 axes and `count` > 0 elements: `aA`
        is where argument A's row starts and `tA` its step along the row, from
        `strides[p * rank + d]` for the p-th of `args`. The row index is decomposed into the
        other axes (no carried odometer, so threads may take any row)."""
        lines = [f"const int64_t inner = {shape}[{rank} - 1], outer = {count} / inner;"]
        if parallel:
            lines.append(f"SYM_PARALLEL_FOR({count})")
        offsets = ", ".join(f"a{a} = 0" for a in args)
        decompose = [
            f"const int64_t at = rest % {shape}[d];",
            f"rest /= {shape}[d];",
            *[f"a{a} += at * {strides}[{p} * {rank} + d];" for p, a in enumerate(args)],
        ]
        steps = [
            f"const int64_t t{a} = {strides}[{p} * {rank} + {rank} - 1];"
            for p, a in enumerate(args)
        ]
        loop = [
            f"int64_t rest = o, {offsets};",
            *block(f"for (int64_t d = {rank} - 2; d >= 0; d--)", decompose),
            *steps,
            *body,
        ]
        return lines + block("for (int64_t o = 0; o < outer; o++)", loop)
