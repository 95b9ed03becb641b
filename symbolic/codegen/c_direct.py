"""C loops for the direct convolution and its filters' gradient (docs/kernels.md, "direct").

conv2d_direct: out[n, o, a, b] = Σ_{c,i,j} w[o, c, i, j] · xp[n, c, SH·a + i, SW·b + j];
conv2d_filter_grad: dw[o, c, i, j] = Σ_{n,a,b} g[n, o, a, b] · xp[n, c, SH·a + i, SW·b + j],
with xp the input padded by PH rows and PW columns of zeros (symbolic/conv_direct.py).

Both first copy the input into a zero-padded scratch image per (n, c): HP = (OH − 1)·SH + KH
rows of WP = (OWV − 1)·SW + KW columns rounded up to a whole vector, OWV being OW rounded up
to whole vectors. The scratch buffers are 64-byte aligned, so their rows start on a cache
line: a vector load that straddles two lines costs two (the filters' gradient of C2's first
layer: 7.5 → 5.6 ms on one core with aligned rows of g and of the input). Every vector
of VL windows along a row then reads inside the scratch, with no bounds test: padding and the
last partial vector of a row read zeros. The vectors are GCC vector types (64 bytes, one
AVX-512 register; two AVX2 ones): the accumulators stay in registers, as written.

- forward: a task is an image and a block of OB filters; for every vector of windows (a,
  b0 … b0 + VL − 1) OB accumulators sum over (c, i, j): one load of the input shared by OB
  multiply-adds. The filters are first copied as wt[block][(c, i, j)][OB] (zeros past O) so
  that a block's OB weights of one position are adjacent.
- filters' gradient: a task is a block of GB filters and a part of the batch (the batch is
  cut into NP parts where the blocks alone make fewer than TASKS tasks: LeNet's 20 filters
  make 3). For each image it copies the block's g to gt, rows padded to OWV with zeros (the
  lanes past OW then multiply zeros), then, AB rows of windows at a time (their g and input
  rows stay in L1), for each weight position (c, i, j) adds over those windows, in GB
  registers, g's vectors times the input's: one load of the input shared by GB
  multiply-adds. Each task keeps its sums per lane; the lanes and the parts are added in
  order at the end.
Where the scratch cannot be allocated, or g's rows are not contiguous (the gradient), both run
plain loops over the strides (same sums, same order within each output, no vectors).
"""

from __future__ import annotations

from string import Template

from symbolic.codegen.cprinter import ctype
from symbolic.codegen.kernel import DirectConvKernel

VECTOR_BYTES = 64
FORWARD_BLOCK = 8  # OB: 8 accumulators and a shared load: 8 multiply-adds per 9 loads
GRAD_BLOCK = 8  # GB: a vector of the input shared by 8 multiply-adds into registers
GRAD_ROWS = 4  # AB: rows of windows per pass of the filters' gradient (L1 blocking)
GRAD_TASKS = 16  # the filters' gradient splits the batch until it has this many tasks

# Pads x[n, c] into xp[(n·C + c)·HP·WP …]: zeros around and past the input.
PAD_INPUT = """\
SYM_PARALLEL_FOR(N * C * HP * WP)
for (int64_t p = 0; p < N * C; p++) {
    const $T *src = x + (p / C) * sn + (p % C) * sc;
    $T *dst = xp + p * HP * WP;
    for (int64_t r = 0; r < HP; r++) {
        const int64_t q0 = r - PH;
        for (int64_t q = 0; q < WP; q++) {
            const int64_t s = q - PW;
            dst[r * WP + q] = q0 >= 0 && q0 < H && s >= 0 && s < W ? src[q0 * sh + s * sw] : 0;
        }
    }
}"""

FORWARD = """\
/* the filters as wt[block][(c, i, j)][OB], zeros past O */
for (int64_t o = 0; o < OBS * OB; o++)
    for (int64_t e = 0; e < K; e++)
        wt[((o / OB) * K + e) * OB + o % OB] = o < O
            ? w[o * ws0 + (e / (KH * KW)) * ws1 + (e / KW % KH) * ws2 + (e % KW) * ws3] : 0;
SYM_PARALLEL_FOR(N * O * OH * OW * K)
for (int64_t t = 0; t < N * OBS; t++) {
    const int64_t n = t / OBS, o0 = t % OBS * OB;
    const $T *img = xp + n * C * HP * WP, *wb = wt + (o0 / OB) * K * OB;
    for (int64_t a = 0; a < OH; a++) {
        for (int64_t b0 = 0; b0 < OW; b0 += VL) {
$ZERO
            for (int64_t c = 0; c < C; c++) {
                for (int64_t i = 0; i < KH; i++) {
                    const $T *row = img + (c * HP + a * SH + i) * WP + b0 * SW;
                    const $T *f = wb + (c * KH + i) * KW * OB;
                    for (int64_t j = 0; j < KW; j++, f += OB) {
$LOAD
$UPDATE
                    }
                }
            }
            const int64_t lanes = OW - b0 < VL ? OW - b0 : VL;
            $T *to = out + ((n * O + o0) * OH + a) * OW + b0;
$STORE
        }
    }
}"""

FORWARD_LOOPS = """\
SYM_PARALLEL_FOR(N * O * OH * OW * K)
for (int64_t p = 0; p < N * O; p++) {
    const int64_t n = p / O, o = p % O;
    for (int64_t a = 0; a < OH; a++) {
        for (int64_t b = 0; b < OW; b++) {
            $T s = 0;
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < KH; i++)
                    for (int64_t j = 0; j < KW; j++) {
                        const int64_t r = a * SH + i - PH, q = b * SW + j - PW;
                        if (r >= 0 && r < H && q >= 0 && q < W)
                            s += w[o * ws0 + c * ws1 + i * ws2 + j * ws3]
                                * x[n * sn + c * sc + r * sh + q * sw];
                    }
            out[p * OH * OW + a * OW + b] = s;
        }
    }
}"""

FILTER_GRAD = """\
SYM_PARALLEL_FOR(N * O * OH * OW * K)
for (int64_t t = 0; t < GBS * NP; t++) {
    const int64_t o0 = t / NP * GB, used = O - o0 < GB ? O - o0 : GB;
    const int64_t n0 = t % NP * N / NP, n1 = (t % NP + 1) * N / NP;
    /* g[n, o0 … o0 + GB − 1] as gt[k][a][b < OWV], zeros past OW and past O; the task's
       sums acc[(e, k)][lane] */
    $T *gt = gts + t * GB * OH * OWV, *acc = accs + t * K * GB * VL;
    for (int64_t e = 0; e < K * GB * VL; e++) acc[e] = 0;
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t k = 0; k < GB; k++) {
            const $T *src = g + n * gs0 + (o0 + k) * gs1;  /* gs3 = 1 on this path */
            for (int64_t a = 0; a < OH; a++) {
                $T *dst = gt + (k * OH + a) * OWV;
                const int64_t filled = k < used ? OW : 0;
                #pragma omp simd
                for (int64_t b = 0; b < filled; b++) dst[b] = src[a * gs2 + b];
                for (int64_t b = filled; b < OWV; b++) dst[b] = 0;
            }
        }
        /* AB rows of windows at a time, so that their g and input rows stay in L1 while
           every weight position (c, i, j) passes over them */
        for (int64_t a0 = 0; a0 < OH; a0 += AB) {
            const int64_t a1 = a0 + AB < OH ? a0 + AB : OH;
            for (int64_t e = 0; e < K; e++) {
                const int64_t c = e / (KH * KW), i = e / KW % KH, j = e % KW;
$GRAD_ZERO
                for (int64_t a = a0; a < a1; a++) {
                    const $T *row = xp + ((n * C + c) * HP + a * SH + i) * WP + j;
                    const $T *gr = gt + a * OWV;
                    for (int64_t b0 = 0; b0 < OWV; b0 += VL) {
$GRAD_LOAD
$GRAD_UPDATE
                    }
                }
$GRAD_KEEP
            }
        }
    }
}
/* each weight: its lanes summed over the NP parts of the batch, in order */
for (int64_t o = 0; o < O; o++)
    for (int64_t e = 0; e < K; e++) {
        $T s = 0;
        for (int64_t part = 0; part < NP; part++) {
            const $T *acc = accs + ((o / GB * NP + part) * K + e) * GB * VL + o % GB * VL;
            for (int64_t l = 0; l < VL; l++) s += acc[l];
        }
        out[o * K + e] = s;
    }"""

FILTER_GRAD_LOOPS = """\
SYM_PARALLEL_FOR(N * O * OH * OW * K)
for (int64_t e = 0; e < O * K; e++) {
    const int64_t o = e / K, c = e / (KH * KW) % C, i = e / KW % KH, j = e % KW;
    $T s = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t a = 0; a < OH; a++)
            for (int64_t b = 0; b < OW; b++) {
                const int64_t r = a * SH + i - PH, q = b * SW + j - PW;
                if (r >= 0 && r < H && q >= 0 && q < W)
                    s += g[n * gs0 + o * gs1 + a * gs2 + b * gs3]
                        * x[n * sn + c * sc + r * sh + q * sw];
            }
    out[e] = s;
}"""


def indented(text: str, columns: int) -> str:
    return "\n".join(" " * columns + line for line in text.splitlines())


# The products and sums contract to fused multiply-adds: C11 mode (-std=c11) turns GCC's
# contraction off, and the loops then issue a multiply and an add for each, twice the
# arithmetic (the filters' gradient of C2's first layer: 6.5 → 4.7 ms on one core). The
# results differ from unfused ones only in rounding, as the sums' order already does.
CONTRACT = """\
#ifndef SYM_CONTRACT
#if defined(__GNUC__) && !defined(__clang__)
#define SYM_CONTRACT __attribute__((optimize("fp-contract=fast")))
#else
#define SYM_CONTRACT /* clang contracts a * b + c within a statement by default */
#endif
#endif
"""


class CDirect:
    """The direct convolution loops of the C renderer (a mixin of a CStyleLanguage)."""

    def render(self, kernel, name: str) -> str:
        text = super().render(kernel, name)
        return CONTRACT + text if kernel.kind == "direct" else text

    def signature(self, name: str, kernel) -> str:
        text = super().signature(name, kernel)
        return f"SYM_CONTRACT {text}" if kernel.kind == "direct" else text

    def render_direct(self, k: DirectConvKernel) -> list[str]:
        """data = {x, w, out} (conv2d_direct) or {x, g, w, dw} (conv2d_filter_grad, w read
        for its shape only); sizes = {N, C, H, W, O, KH, KW, OH, OW}; strides: x's (N, C, H,
        W) element strides, then w's (forward) or g's (N, O, OH, OW) (gradient)."""
        t = ctype(k.dtype)
        forward = k.function == "conv2d_direct"
        vl = VECTOR_BYTES // {"float32": 4, "float64": 8}[k.dtype]
        second = "ws" if forward else "gs"
        lines = [
            "const int64_t N = sizes[0], C = sizes[1], H = sizes[2], W = sizes[3];",
            "const int64_t O = sizes[4], KH = sizes[5], KW = sizes[6], OH = sizes[7], "
            "OW = sizes[8];",
            f"const int64_t SH = {k.stride[0]}, SW = {k.stride[1]}, PH = {k.padding[0]}, "
            f"PW = {k.padding[1]};",
            "const int64_t sn = strides[0], sc = strides[1], sh = strides[2], sw = strides[3];",
            f"const int64_t {second}0 = strides[4], {second}1 = strides[5], "
            f"{second}2 = strides[6], {second}3 = strides[7];",
            self.pointer("x", k.dtype, 0, True),
            self.pointer("w" if forward else "g", k.dtype, 1, True),
            self.pointer("out", k.dtype, 2 if forward else 3, False),
            f"typedef {t} vec __attribute__((vector_size({VECTOR_BYTES})));",
            f"enum {{ VL = {vl}, OB = {FORWARD_BLOCK}, GB = {GRAD_BLOCK}, TASKS = {GRAD_TASKS}, "
            f"AB = {GRAD_ROWS} }};",
            "const int64_t K = C * KH * KW, OBS = (O + OB - 1) / OB, GBS = (O + GB - 1) / GB;",
            "(void)OBS, (void)GBS;",
            "const int64_t OWV = (OW + VL - 1) / VL * VL, HP = (OH - 1) * SH + KH;",
            "const int64_t WP = ((OWV - 1) * SW + KW + VL - 1) / VL * VL;",
            f"{t} *xp = ({t} *)aligned_alloc(64, (size_t)(N * C * HP * WP) * sizeof({t}));",
        ]
        if forward:
            lines.append(f"{t} *wt = ({t} *)malloc((size_t)(OBS * OB * K) * sizeof({t}));")
        else:
            lines += [
                "/* the batch in NP parts, so that a few blocks of filters still make enough tasks",
                "   for the threads (TASKS); each task sums its part, the parts are added last */",
                "const int64_t NP = GBS == 0 || GBS >= TASKS || N <= 1 ? 1 "
                ": (TASKS + GBS - 1) / GBS < N ? (TASKS + GBS - 1) / GBS : N;",
                f"{t} *gts = ({t} *)aligned_alloc(64, (size_t)(GBS * NP * GB * OH * OWV) * sizeof({t}));",
                f"{t} *accs = ({t} *)aligned_alloc(64, (size_t)(GBS * NP * K * GB * VL) * sizeof({t}));",
            ]
        load = (
            "vec v; __builtin_memcpy(&v, row + j, sizeof v);"
            if k.stride[1] == 1
            else "vec v; for (int64_t l = 0; l < VL; l++) v[l] = row[j + l * SW];"
        )
        if forward:
            accs = range(FORWARD_BLOCK)
            vectors = Template(FORWARD).substitute(
                T=t,
                ZERO=indented("\n".join(f"vec acc{m} = {{0}};" for m in accs), 12),
                LOAD=indented(load, 24),
                UPDATE=indented("\n".join(f"acc{m} += f[{m}] * v;" for m in accs), 24),
                STORE=indented(
                    "\n".join(
                        f"if (o0 + {m} < O) {{ if (lanes == VL) __builtin_memcpy(to + {m} * OH * OW, "
                        f"&acc{m}, sizeof(vec)); else __builtin_memcpy(to + {m} * OH * OW, "
                        f"&acc{m}, (size_t)lanes * sizeof({t})); }}"
                        for m in accs
                    ),
                    12,
                ),
            )
            loops, scratch = FORWARD_LOOPS, "xp && wt"
        else:
            grads = range(GRAD_BLOCK)
            vectors = Template(FILTER_GRAD).substitute(
                T=t,
                GRAD_ZERO=indented(
                    "\n".join(
                        f"vec acc{m}; __builtin_memcpy(&acc{m}, acc + (e * GB + {m}) * VL, "
                        "sizeof(vec));"
                        for m in grads
                    ),
                    16,
                ),
                GRAD_LOAD=indented(
                    load.replace("row + j", "row + b0 * SW").replace(
                        "row[j + l * SW]", "row[(b0 + l) * SW]"
                    ),
                    24,
                ),
                GRAD_UPDATE=indented(
                    "\n".join(
                        f"{{ vec gv; __builtin_memcpy(&gv, gr + {m} * OH * OWV + b0, sizeof gv); "
                        f"acc{m} += gv * v; }}"
                        for m in grads
                    ),
                    24,
                ),
                GRAD_KEEP=indented(
                    "\n".join(
                        f"__builtin_memcpy(acc + (e * GB + {m}) * VL, &acc{m}, sizeof(vec));"
                        for m in grads
                    ),
                    16,
                ),
            )
            loops, scratch = FILTER_GRAD_LOOPS, "xp && gts && accs && gs3 == 1"
        pad = Template(PAD_INPUT).substitute(T=t)
        text = (
            f"if ({scratch}) {{\n{indented(pad, 4)}\n{indented(vectors, 4)}\n}} else {{\n"
            f"{indented(Template(loops).substitute(T=t), 4)}\n}}\nfree(xp);"
            + ("\nfree(wt);" if forward else "\nfree(gts);\nfree(accs);")
        )
        return lines + text.splitlines()
