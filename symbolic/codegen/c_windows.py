"""C loops for the sliding-window kernels: im2col, col2im, max pooling and its gradient.

The calling convention is docs/kernels.md ("columns", "pool"). The window geometry follows
symbolic/windows.py: window (a, b) covers the rows r = SH·a + i − PH (i < KH) and the columns
q = SW·b + j − PW (j < KW) of the input; positions outside it are padding (zeros for the
columns, −∞ for max pooling). The stride and padding are constants of the kernel; im2col and
col2im read the window size (from the filters' shape) at run time, pooling has it as constants
too, so its small window loops unroll.

Each kernel walks the (N, C) planes, so every thread works on whole planes, small enough to
stay in the caches. Column layouts:
- batch outermost, cols[n, (c, i, j), a, b]: a window row b = 0 … OW−1 reads one input row;
  with SW = 1 the run is contiguous on both sides and copies (or adds) as one vector loop.
- batch innermost, cols[(c, i, j), a, b, n]: the input channel is first transposed to
  (H, W, N) in a scratch buffer (unless x is so already), then the run over (b, n) is
  contiguous on both sides with SW = 1. col2im adds into such a buffer and transposes it out.
  Where the scratch cannot be allocated, the same loops read (or add to) x's own strides.
col2im adds the windows in the order of NumPy's reference (window offset (i, j) outermost,
from a zero start), so its sums are the reference's bit for bit.
"""

from __future__ import annotations

from string import Template

from symbolic.codegen.cprinter import ctype
from symbolic.codegen.kernel import ColumnsKernel, PoolKernel

# The windows b whose column q = SW·b + j − PW lies in [0, W) are b0 ≤ b < b1.
COLUMN_RANGE = """\
const int64_t lo = PW - j, hi = W + PW - j;
const int64_t b0 = lo <= 0 ? 0 : (lo + SW - 1) / SW;
int64_t b1 = hi <= 0 ? 0 : (hi + SW - 1) / SW;
b1 = b1 > OW ? OW : b1 < b0 ? b0 : b1;"""

IM2COL_BATCH_OUTER = """\
SYM_PARALLEL_FOR(N * C * KH * KW * OH * OW)
for (int64_t p = 0; p < N * C; p++) {
    const $T *plane = x + (p / C) * sn + (p % C) * sc;
    for (int64_t i = 0; i < KH; i++) {
        for (int64_t j = 0; j < KW; j++) {
$RANGE
            $T *to = cols + ((p * KH + i) * KW + j) * OH * OW;
            for (int64_t a = 0; a < OH; a++) {
                $T *d = to + a * OW;
                const int64_t r = a * SH + i - PH;
                if (r < 0 || r >= H) {
                    for (int64_t b = 0; b < OW; b++) d[b] = 0;
                    continue;
                }
                for (int64_t b = 0; b < b0; b++) d[b] = 0;
                const int64_t base = r * sh + (j - PW) * sw, step = SW * sw;
                if (step == 1) {
                    #pragma omp simd
                    for (int64_t b = b0; b < b1; b++) d[b] = plane[base + b];
                } else {
                    #pragma omp simd
                    for (int64_t b = b0; b < b1; b++) d[b] = plane[base + b * step];
                }
                for (int64_t b = b1; b < OW; b++) d[b] = 0;
            }
        }
    }
}"""

IM2COL_BATCH_INNER = """\
SYM_PARALLEL_FOR(N * C * KH * KW * OH * OW)
for (int64_t c = 0; c < C; c++) {
    /* the channel as src[r·th + q·tw + n·tn]: a (H, W, N) copy unless x is batch-innermost */
    $T *t = sn == 1 ? NULL : ($T *)malloc((size_t)(H * W * N) * sizeof($T));
    const $T *src = x + c * sc;
    int64_t th = sh, tw = sw, tn = sn;
    if (t) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t r = 0; r < H; r++)
                for (int64_t q = 0; q < W; q++) t[(r * W + q) * N + n] = src[n * sn + r * sh + q * sw];
        src = t, th = W * N, tw = N, tn = 1;
    }
    for (int64_t i = 0; i < KH; i++) {
        for (int64_t j = 0; j < KW; j++) {
$RANGE
            for (int64_t a = 0; a < OH; a++) {
                $T *d = cols + (((c * KH + i) * KW + j) * OH + a) * OW * N;
                const int64_t r = a * SH + i - PH;
                if (r < 0 || r >= H) {
                    for (int64_t e = 0; e < OW * N; e++) d[e] = 0;
                    continue;
                }
                for (int64_t e = 0; e < b0 * N; e++) d[e] = 0;
                for (int64_t e = b1 * N; e < OW * N; e++) d[e] = 0;
                const int64_t base = r * th + (j - PW) * tw;
                if (tn == 1 && SW * tw == N) {  /* the run over (b, n) is contiguous */
                    #pragma omp simd
                    for (int64_t e = b0 * N; e < b1 * N; e++) d[e] = src[base + e];
                    continue;
                }
                for (int64_t b = b0; b < b1; b++) {
                    const $T *s = src + base + b * SW * tw;
                    #pragma omp simd
                    for (int64_t n = 0; n < N; n++) d[b * N + n] = s[n * tn];
                }
            }
        }
    }
    free(t);
}"""

COL2IM_BATCH_OUTER = """\
SYM_PARALLEL_FOR(N * C * KH * KW * OH * OW)
for (int64_t p = 0; p < N * C; p++) {
    $T *o = out + p * H * W;
    for (int64_t e = 0; e < H * W; e++) o[e] = 0;
    for (int64_t i = 0; i < KH; i++) {
        for (int64_t j = 0; j < KW; j++) {
$RANGE
            const $T *from = cols + ((p * KH + i) * KW + j) * OH * OW;
            for (int64_t a = 0; a < OH; a++) {
                const int64_t r = a * SH + i - PH;
                if (r < 0 || r >= H) continue;
                const $T *d = from + a * OW;
                const int64_t base = r * W + j - PW;
                #pragma omp simd
                for (int64_t b = b0; b < b1; b++) o[base + b * SW] += d[b];
            }
        }
    }
}"""

COL2IM_BATCH_INNER = """\
SYM_PARALLEL_FOR(N * C * KH * KW * OH * OW)
for (int64_t c = 0; c < C; c++) {
    /* sums acc[r·ah + q·aw + n·an]: a (H, W, N) buffer, transposed out at the end, or out */
    $T *t = ($T *)malloc((size_t)(H * W * N) * sizeof($T));
    $T *acc = t ? t : out + c * H * W;
    const int64_t ah = t ? W * N : W, aw = t ? N : 1, an = t ? 1 : C * H * W;
    for (int64_t n = 0; n < (t ? 1 : N); n++)
        for (int64_t e = 0; e < H * W * (t ? N : 1); e++) acc[n * an + e] = 0;
    for (int64_t i = 0; i < KH; i++) {
        for (int64_t j = 0; j < KW; j++) {
$RANGE
            for (int64_t a = 0; a < OH; a++) {
                const int64_t r = a * SH + i - PH;
                if (r < 0 || r >= H) continue;
                const $T *d = cols + (((c * KH + i) * KW + j) * OH + a) * OW * N;
                const int64_t base = r * ah + (j - PW) * aw;
                if (an == 1 && SW * aw == N) {  /* the run over (b, n) is contiguous */
                    #pragma omp simd
                    for (int64_t e = b0 * N; e < b1 * N; e++) acc[base + e] += d[e];
                    continue;
                }
                for (int64_t b = b0; b < b1; b++) {
                    $T *s = acc + base + b * SW * aw;
                    #pragma omp simd
                    for (int64_t n = 0; n < N; n++) s[n * an] += d[b * N + n];
                }
            }
        }
    }
    if (t) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t e = 0; e < H * W; e++) out[(n * C + c) * H * W + e] = t[e * N + n];
        free(t);
    }
}"""

# Pooling walks the (n, c) planes, a row of windows (a, b = 0 … OW−1) as its vector loop,
# written twice: for a unit column stride (the usual case: constant strides, which vectorize)
# and for any. $PLANE sets up a plane, $WINDOW computes window (a, b).
POOL_PLANES = """\
SYM_PARALLEL_FOR(N * C * H * W)
for (int64_t p = 0; p < N * C; p++) {
    const int64_t n = p / C, c = p % C;
    const $T *plane = x + n * sn + c * sc;
$PLANE
    for (int64_t a = 0; a < OH; a++) {
        if ($UNIT) {
$ROW_UNIT
        } else {
$ROW_ANY
        }
    }
$AFTER
}"""

POOL_ROW = """\
$SIMD
for (int64_t b = 0; b < OW; b++) {
    const int64_t r0 = a * SH - PH, q0 = b * SW - PW;
$WINDOW
}"""

# x batch-innermost (sn = 1: the transposed output of a product, conv2d's batch-inner
# layout): the vector loop runs over the batch, which x holds contiguously, the windows
# (c, a, b) outside it. Its lanes write different planes, so overlapping windows are safe.
POOL_BATCH = """\
$BEFORE
SYM_PARALLEL_FOR(N * C * H * W)
for (int64_t c = 0; c < C; c++) {
    for (int64_t a = 0; a < OH; a++) {
        for (int64_t b = 0; b < OW; b++) {
            const int64_t r0 = a * SH - PH, q0 = b * SW - PW;
            #pragma omp simd
            for (int64_t n = 0; n < N; n++) {
                const $T *plane = x + n + c * sc;
$WINDOW
            }
        }
    }
}"""

# The shift's gradient (max_pool2d_grad with sums_shift): the input gradient summed, in
# float64, over the planes that share a shift value. The plane loop takes each plane's sum
# while the plane is in cache (`sums`); the batch loop, or a failed allocation, reads the
# planes again here.
PLANE_SUM = """\
if (sums) {
    double total = 0;
    #pragma omp simd reduction(+:total)
    for (int64_t e = 0; e < H * W; e++) total += o[e];
    sums[p] = total;
}"""

SHIFT_SUMS = """\
const int64_t NS = sizes[6], CS = sizes[7];
for (int64_t m = 0; m < NS * CS; m++) {
    const int64_t n0 = NS > 1 ? m / CS : 0, n1 = NS > 1 ? n0 + 1 : N;
    const int64_t c0 = CS > 1 ? m % CS : 0, c1 = CS > 1 ? c0 + 1 : C;
    double total = 0;
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t c = c0; c < c1; c++) {
            const int64_t p = n * C + c;
            if (sums) {
                total += sums[p];
                continue;
            }
            #pragma omp simd reduction(+:total)
            for (int64_t e = 0; e < H * W; e++) total += out[p * H * W + e];
        }
    }
    shift_grad[m] = ($T)total;
}
free(sums);"""


# The maximum of each window; NaN wins (np.maximum's rule), padding is −∞ (never the max).
# A select and a flag, not branches: which value wins is data, which branches mispredict.
MAX_WINDOW = """\
$T m = -INFINITY;
int nan = 0;
$POSITIONS
$OUT = nan ? NAN : m;"""

# g goes to the first position of each window (row-major, padding included as −∞) that
# equals the window's maximum; a maximum first met in the padding passes no gradient. The
# position is found by selects from the last to the first, and every position of the window
# then gets g or 0: no data-dependent branch. Windows that overlap add up (a row of windows
# overlapping along it is no vector loop).
MAX_GRAD_PLANE = """\
const $T *mp = pooled + n * strides[4] + c * strides[5];
const $T *gp = g + n * strides[8] + c * strides[9];
$T *o = out + p * H * W;
for (int64_t e = 0; e < H * W; e++) o[e] = 0;"""

MAX_GRAD_WINDOW = """\
const $T m = mp[a * strides[6] + b * $MS];
const $T gv = gp[a * strides[10] + b * $GS];
int at = -1;
$FIND
$SCATTER"""

# the batch-innermost loop's planes: those of window (a, b)'s lane n
MAX_GRAD_BATCH_PLANE = """\
const $T *mp = pooled + n * strides[4] + c * strides[5];
const $T *gp = g + n * strides[8] + c * strides[9];
$T *o = out + (n * C + c) * H * W;"""


def indented(text: str, columns: int) -> str:
    return "\n".join(" " * columns + line for line in text.splitlines())


class CWindows:
    """The columns and pooling loops of the C renderer (a mixin of a CStyleLanguage)."""

    def render_columns(self, k: ColumnsKernel) -> list[str]:
        """data = {x, filter shape, cols} (im2col) or {cols, input shape, filter shape, x}
        (col2im); sizes = {N, C, H, W, KH, KW, OH, OW}; strides: x's (N, C, H, W) element
        strides (im2col; cols and col2im's output are contiguous)."""
        t = ctype(k.dtype)
        im2col = k.function == "im2col"
        lines = [
            "const int64_t N = sizes[0], C = sizes[1], H = sizes[2], W = sizes[3];",
            "const int64_t KH = sizes[4], KW = sizes[5], OH = sizes[6], OW = sizes[7];",
            *self.geometry(k.stride, k.padding),
        ]
        if im2col:
            lines += [
                "const int64_t sn = strides[0], sc = strides[1], sh = strides[2], sw = strides[3];",
                self.pointer("x", k.dtype, 0, True),
                self.pointer("cols", k.dtype, 2, False),
            ]
            template = IM2COL_BATCH_INNER if k.batch_inner else IM2COL_BATCH_OUTER
        else:
            lines += [
                self.pointer("cols", k.dtype, 0, True),
                self.pointer("out", k.dtype, 3, False),
            ]
            template = COL2IM_BATCH_INNER if k.batch_inner else COL2IM_BATCH_OUTER
        column_range = "\n".join(" " * 12 + line for line in COLUMN_RANGE.splitlines())
        return lines + Template(template).substitute(T=t, RANGE=column_range).splitlines()

    def render_pool(self, k: PoolKernel) -> list[str]:
        """data = {x, shift?, out} (max_pool2d) or {x, pooled, g, shift?, out}
        (max_pool2d_grad); sizes = {N, C, H, W, OH, OW}; strides: each input's (N, C, H, W)
        element strides. The window positions are written out one by one (the window is a
        constant); the shift, one value per plane, is added to every value read."""
        t = ctype(k.dtype)
        grad = k.function == "max_pool2d_grad"
        shift = (3 if grad else 1) if k.shifted else None
        out = (4 if grad else 2) if k.shifted else (3 if grad else 1)
        lines = [
            "const int64_t N = sizes[0], C = sizes[1], H = sizes[2], W = sizes[3];",
            "const int64_t OH = sizes[4], OW = sizes[5];",
            *self.geometry(k.stride, k.padding),
            "const int64_t sn = strides[0], sc = strides[1], sh = strides[2], sw = strides[3];",
            self.pointer("x", k.dtype, 0, True),
            *([self.pointer("shift", k.dtype, shift, True)] if k.shifted else []),
            *([self.pointer("pooled", k.dtype, 1, True)] if grad else []),
            *([self.pointer("g", k.dtype, 2, True)] if grad else []),
            self.pointer("out", k.dtype, out, False),
        ]
        plane_shift = (
            [f"const {t} s = shift[n * strides[{4 * shift}] + c * strides[{4 * shift + 1}]];"]
            if k.shifted
            else []
        )
        # without padding and partial windows every window lies inside the input
        clipped = any(k.padding) or k.ceil_mode
        positions = [(i, j) for i in range(k.size[0]) for j in range(k.size[1])]

        def inside(i: int, j: int) -> str:
            return f"r0 + {i} >= 0 && r0 + {i} < H && q0 + {j} >= 0 && q0 + {j} < W"

        def value(i: int, j: int, column_stride: str) -> str:
            read = f"plane[(r0 + {i}) * sh + (q0 + {j}) * {column_stride}]"
            read += " + s" if k.shifted else ""
            return f"({inside(i, j)}) ? {read} : -INFINITY" if clipped else read

        def window(column_strides: tuple, batch: bool) -> str:
            """Window (a, b), reading x's columns `column_strides[0]` apart (and pooled's and
            g's the others), writing one output plane per lane in the batch loop."""
            if not grad:
                updates = [
                    f"{{ const {t} v = {value(i, j, column_strides[0])}; m = v > m ? v : m; "
                    "nan |= v != v; }"
                    for i, j in positions
                ]
                target = "out[((n * C + c) * OH + a) * OW + b]" if batch else "o[a * OW + b]"
                return Template(MAX_WINDOW).substitute(
                    T=t, POSITIONS="\n".join(updates), OUT=target
                )
            overlapping = k.stride[0] < k.size[0] or k.stride[1] < k.size[1]
            find = [
                f"at = ({value(i, j, column_strides[0])}) == m ? {n} : at;"
                for n, (i, j) in reversed(list(enumerate(positions)))
            ]
            scatter = []
            for n, (i, j) in enumerate(positions):
                store = f"o[(r0 + {i}) * W + q0 + {j}] {'+=' if overlapping else '='} "
                store += f"at == {n} ? gv : 0;"
                scatter.append(f"if ({inside(i, j)}) {store}" if clipped else store)
            body = Template(MAX_GRAD_WINDOW).substitute(
                T=t,
                MS=column_strides[1],
                GS=column_strides[2],
                FIND="\n".join(find),
                SCATTER="\n".join(scatter),
            )
            return (Template(MAX_GRAD_BATCH_PLANE).substitute(T=t) + "\n" if batch else "") + body

        if grad:
            # windows (a, b) and (a, b') write one position only if they overlap
            simd = k.stride[1] >= k.size[1]
            # x's, pooled's and g's column strides
            any_strides = ("sw", "strides[7]", "strides[11]")
            unit = "sw == 1 && strides[7] == 1 && strides[11] == 1"
            plane = Template(MAX_GRAD_PLANE).substitute(T=t)
            before = "for (int64_t e = 0; e < N * C * H * W; e++) out[e] = 0;"
        else:
            if not clipped:
                lines.append("(void)H, (void)W;  /* every window lies inside: no bounds read */")
            simd = not clipped
            unit, any_strides = "sw == 1", ("sw",)
            plane, before = "$T *o = out + p * OH * OW;".replace("$T", t), ""
        rows = {
            name: indented(
                Template(POOL_ROW).substitute(
                    SIMD="#pragma omp simd" if simd else "",
                    WINDOW=indented(window(strides, False), 4),
                ),
                12,
            )
            for name, strides in (("ROW_UNIT", ("1",) * 3), ("ROW_ANY", any_strides))
        }
        batch = Template(POOL_BATCH).substitute(
            T=t,
            BEFORE=before,
            WINDOW=indented("\n".join([*plane_shift, window(any_strides, True)]), 16),
        )
        sums = grad and k.sums_shift
        planes = Template(POOL_PLANES).substitute(
            T=t,
            PLANE=indented("\n".join([*plane_shift, plane]), 4),
            UNIT=unit,
            AFTER=indented(PLANE_SUM, 4) if sums else "",
            **rows,
        )
        if sums:
            lines += [
                self.pointer("shift_grad", k.dtype, out + 1, False),
                "double *sums = NULL;  /* each plane's sum of the gradient, see PLANE_SUM */",
            ]
            planes = "sums = (double *)malloc((size_t)(N * C) * sizeof(double));\n" + planes
        text = (
            f"if (sn == 1 && N > 1) {{\n{indented(batch, 4)}\n}} else {{\n"
            f"{indented(planes, 4)}\n}}\n" + (Template(SHIFT_SUMS).substitute(T=t) if sums else "")
        )
        return lines + [line for line in text.splitlines() if line.strip()]

    @staticmethod
    def geometry(stride: tuple, padding: tuple) -> list[str]:
        return [
            f"const int64_t SH = {stride[0]}, SW = {stride[1]}, PH = {padding[0]}, "
            f"PW = {padding[1]};"
        ]
