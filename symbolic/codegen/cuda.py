"""CUDA source for kernel descriptions: the same descriptions `c.py` renders, laid on a grid.

The calling convention is docs/kernels.md ("CUDA"). Elementwise kernels are grid-stride loops:
contiguous arguments move through 16-byte vector loads and stores where every pointer is
aligned, other layouts decompose each flat index into offsets; indices are 32-bit while the
size allows. Reductions and rows fold values into per-thread states (cuda_states.py) merged by
warp shuffles and shared memory; a long row with few rows is split over blocks and merged by a
second launch. Math is exact (`expf`) unless the renderer is made with `fast_math`, which
spells the float32 functions that have one as the GPU's approximate intrinsics (`__expf`).
"""

from __future__ import annotations

import re

from symbolic.codegen.cprinter import ctype
from symbolic.codegen.cstyle import CStyleLanguage, block
from symbolic.codegen.cuda_prelude import PRELUDE
from symbolic.codegen.cuda_states import State, online_state, reduction_state
from symbolic.codegen.kernel import ElementwiseKernel, ReductionKernel, RowKernel

VECTOR_BYTES = 16  # the widest load or store one thread issues

# float32 functions with a fast approximate intrinsic (CUDA programming guide, "Intrinsic
# functions"): used only when the user asks for fast math
FAST_INTRINSICS = ("expf", "exp10f", "logf", "log2f", "log10f", "sinf", "cosf", "tanf", "powf")
_FAST = re.compile(r"\b(" + "|".join(FAST_INTRINSICS) + r")\(")


def arity(kernel) -> int:
    """The number of base pointers the kernel takes: its inputs, its outputs and, for a
    reduction, the scratch of its two-pass launches."""
    if kernel.kind == "elementwise":
        return len(kernel.program.input_dtypes) + len(kernel.output_dtypes)
    if kernel.kind == "reduction":
        return len(kernel.input_dtypes) + 2
    return len(kernel.input_dtypes) + 1


class CudaRenderer(CStyleLanguage):
    """CUDA C++ for nvcc (sm_70 and later)."""

    target = "cuda"
    includes = ("<math.h>", "<stdint.h>", "<string.h>")
    restrict = "__restrict__"
    helper_qualifier = "__device__ __forceinline__"
    pragmas = ""
    vector_math = ""
    units = ""

    def __init__(self, fast_math: bool = False):
        self.fast_math = fast_math

    def render(self, kernel, name: str) -> str:
        text = super().render(kernel, name)
        return _FAST.sub(r"__\1(", text) if self.fast_math else text

    def render_prelude(self) -> str:
        text = super().render_prelude() + "\n" + PRELUDE
        return _FAST.sub(r"__\1(", text) if self.fast_math else text

    def render_module(self, kernels, notes: dict | None = None) -> str:
        """The prelude, then each (name, kernel) in order, after its note if `notes` has
        one: one file for nvcc."""
        notes = notes or {}
        return self.render_prelude() + "".join(
            f"\n{notes.get(n, '')}{self.render(k, n)}" for n, k in kernels
        )

    def signature(self, name: str, kernel) -> str:
        return (
            'extern "C" __global__ void __launch_bounds__(SYM_BLOCK) '
            f"{name}(const SymArgs<{arity(kernel)}> args)"
        )

    def bind_arguments(self, kernel) -> list[str]:
        return [
            "const int64_t *sizes = args.sizes, *strides = args.strides;",
            "char *const *data = args.data;",
        ]

    # ---- elementwise ----------------------------------------------------------------------------

    def render_elementwise(self, k: ElementwiseKernel) -> list[str]:
        lines, args = self.elementwise_setup(k)
        n_in = len(k.program.input_dtypes)
        read = {a: self.input_ctype(k.program.input_dtypes[a]) for a in args if a < n_in}
        read.update((n_in + j, ctype(d)) for j, d in enumerate(k.output_dtypes))
        width = VECTOR_BYTES // max(_itemsize(t) for t in read.values())

        def loop(start: str, stop: str, index: str, body: list[str]) -> list[str]:
            return block(f"sym_grid_loop({start}, {stop}, [&](auto {index})", body, "});")

        def vec(a: int) -> str:
            return f"SymVec<{read[a]}, {width}>"

        vector = [
            *[f"const {vec(a)} v{a} = ((const {vec(a)} *)p{a})[j];" for a in args if a < n_in],
            *[f"{vec(a)} v{a};" for a in args if a >= n_in],
            "#pragma unroll",
            *block(
                f"for (int u = 0; u < {width}; u++)",
                self.elementwise_body(k, lambda a: f"v{a}.v[u]", lambda a, x: f"v{a}.v[u] = {x};"),
            ),
            *[f"(({vec(a)} *)p{a})[j] = v{a};" for a in args if a >= n_in],
        ]
        aligned = " && ".join(f"sym_aligned(p{a}, {width * _itemsize(read[a])})" for a in args)
        lines += [
            f"/* contiguous and aligned: {width} elements a thread through vector loads */",
            "int64_t start = 0;",
            *block(
                f"if (ndim == 1 && {self.unit_strides(args)} && {aligned})",
                [f"start = n / {width} * {width};", *loop("0", f"n / {width}", "j", vector)],
            ),
        ]
        # the rest, or all of it: each element's offsets from its flat index, the last axis
        # fastest (contiguous data takes no step of the loop over d)
        decompose = [
            "const auto size = (decltype(i))shape[d];",
            "const auto at = rest % size;",
            "rest /= size;",
            *[f"a{a} += at * strides[{a} * ndim + d];" for a in args],
        ]
        strided = [
            "auto rest = i;",
            f"int64_t {', '.join(f'a{a} = 0' for a in args)};",
            *block("for (int64_t d = ndim - 1; d > 0; d--)", decompose),
            *[f"a{a} += rest * strides[{a} * ndim];" for a in args],
            *self.elementwise_body(k, lambda a: f"p{a}[a{a}]", lambda a, x: f"p{a}[a{a}] = {x};"),
        ]
        lines.append("/* the rest: offsets from the flat index, the last axis fastest */")
        return lines + loop("start", "n", "i", strided)

    # ---- reductions and rows: per-thread states merged over the block -------------------------

    def grid_of_rows(self, state: State, rows: str, split: bool) -> list[str]:
        """The state type, its merge, the block's scratch, and where this block's rows and
        this thread's values lie (the layouts of docs/kernels.md, "CUDA"); with `split`, the
        parts a row is split into and the phase of the two-pass launch."""
        combine = block(
            "const auto combine = [](State &a, const State &b)", list(state.combine), "};"
        )
        launch = [
            "const int64_t parts = sizes[2], phase = sizes[3], split = phase == 0 ? parts : 1;",
            "const int64_t part = blockIdx.x % split;",
        ]
        return [
            f"struct alignas(8) State {{ {state.members} }};",
            'static_assert(sizeof(State) <= SYM_STATE_BYTES, "the two-pass scratch entry");',
            *combine,
            "__shared__ State states[SYM_BLOCK];",
            *(launch if split else []),
            "const bool column = sizes[4] != 0;",
            "const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;",
            "/* row layout: the block reads one row; column layout: lane l reads row l of 32,",
            "   the warps split it."
            + (" A row split in parts has a block per part. */" if split else " */"),
            f"const int64_t per = column ? 32 : 1, groups = ({rows} + per - 1) / per;",
            "const int64_t first = column ? warp : threadIdx.x;",
            "const int64_t step = column ? blockDim.x / 32 : blockDim.x;",
        ]

    def fold(
        self, state: State, element: list[str], value: str, start: str, stop: str
    ) -> list[str]:
        """Fold the values at start, start + step, … < stop into `st`: `element` (statements
        reading index i) computes `value` there; sym_fold keeps four loads in flight."""
        t = ctype(state.value)
        return [
            *block("const auto value = [&](int64_t i)", [*element, f"return ({t}){value};"], "};"),
            *block(f"const auto fold = [&](const {t} v, int64_t i)", list(state.update), "};"),
            f"sym_fold({start}, {stop}, step, value, fold);",
        ]

    def render_reduction(self, k: ReductionKernel) -> list[str]:
        lines, args = self.reduction_setup(k)
        n_in = len(k.input_dtypes)
        state = reduction_state(self.reduction_of(k), k.value_dtype, k.output_dtype, self.libm)
        lines += [
            *self.grid_of_rows(state, "outer", split=True),
            "const bool leader = column ? warp == 0 : threadIdx.x == 0;",
            f"State *{self.restrict} partial = (State *)data[{n_in + 1}];",
            "const int64_t chunk = (inner + parts - 1) / parts, begin = part * chunk;",
            "const int64_t end = inner - begin < chunk ? inner : begin + chunk;",
        ]
        element, outs = self.element(
            k.prologue, k.input_dtypes, k.scalar_inputs, lambda a: f"q{a}[i * si{a}]"
        )
        starts = [
            f"const {self.input_ctype(k.input_dtypes[a])} *{self.restrict} q{a} = p{a} + o * so{a};"
            for a in args
        ]
        values = self.fold(state, element, outs[0][0], "begin + first", "end")
        merge = "for (int64_t j = first; j < parts; j += step) combine(st, partial[o * parts + j]);"
        body = [
            "const int64_t o = column ? group * 32 + lane : group;",
            f"State st = {state.identity};",
            *block("if (o < outer && phase == 0)", [*starts, *values], "} else if (o < outer) {"),
            f"    {merge}",
            "}",
            "st = sym_block_combine(st, combine, column, states);",
            *block(
                "if (o < outer && leader)",
                [
                    "if (split > 1) partial[o * parts + part] = st;",
                    f"else r[o] = ({ctype(k.output_dtype)})({state.result});",
                ],
            ),
        ]
        return lines + block(
            "for (int64_t group = blockIdx.x / split; group < groups; group += gridDim.x / split)",
            body,
        )

    def render_rows(self, k: RowKernel) -> list[str]:
        t = k.output_dtype
        out = ctype(t)
        exp, log = self.libm("exp", t), self.libm("log", t)
        state = online_state(t, exp)
        lines = [*self.rows_setup(k), *self.grid_of_rows(state, "rows", split=False)]
        values = self.fold(state, [], "q[i * sc]", "first", "cols")
        # the sums of a row whose maximum is not finite are NaN, as in the C kernels' two passes
        finish = [f"const {out} m = st.m;", "const double total = isfinite(m) ? st.s : NAN;"]
        each = "for (int64_t j = first; j < cols; j += step)"
        if k.function == "softmax":
            finish += [
                f"const {out} t = ({out})total;",
                f"{out} *{self.restrict} y = r + o * cols;",
                "#pragma unroll 4",
                f"{each} y[j] = {exp}(({out})q[j * sc] - m) / t;",
            ]
        elif k.function == "log_softmax":
            finish += [
                f"const {out} lse = {log}(({out})total);",
                f"{out} *{self.restrict} y = r + o * cols;",
                "#pragma unroll 4",
                f"{each} y[j] = (({out})q[j * sc] - m) - lse;",
            ]
        else:  # −log softmax(x)[y]: lse − (x_y − m); a label past either end gives NaN
            finish += [
                f"const {out} lse = {log}(({out})total);",
                "int64_t label = (int64_t)p1[o * sl];",
                "if (label < 0) label += cols;",
                *block(
                    "if (column ? warp == 0 : threadIdx.x == 0)",
                    [
                        "r[o] = (label >= 0 && label < cols) ? "
                        f"lse - (({out})q[label * sc] - m) : NAN;"
                    ],
                ),
            ]
        body = [
            "const int64_t o = column ? group * 32 + lane : group;",
            f"const {self.input_ctype(k.input_dtypes[0])} *{self.restrict} q = p0 + o * so;",
            f"State st = {state.identity};",
            *block("if (o < rows)", values),
            "st = sym_block_combine(st, combine, column, states);",
            *block("if (o < rows)", finish),
        ]
        return lines + block(
            "for (int64_t group = blockIdx.x; group < groups; group += gridDim.x)", body
        )


def _itemsize(ctype_name: str) -> int:
    return {"bool": 1, "uint8_t": 1, "int8_t": 1, "int16_t": 2, "int32_t": 4, "float": 4}.get(
        ctype_name, 8
    )


CUDA = CudaRenderer()
CUDA_FAST_MATH = CudaRenderer(fast_math=True)


def renderer(fast_math: bool = False) -> CudaRenderer:
    return CUDA_FAST_MATH if fast_math else CUDA


def render_kernel(kernel, name: str, fast_math: bool = False) -> str:
    """The CUDA kernel `name` computing `kernel` (a description from `kernel.describe`)."""
    return renderer(fast_math).render(kernel, name)


def render_module(kernels, fast_math: bool = False, notes: dict | None = None) -> str:
    """One file for nvcc: the prelude once, then each (name, kernel) in order, each after
    its note in `notes` ({name: comment}, see notes.py) if any."""
    return renderer(fast_math).render_module(kernels, notes)
