"""The helpers every C translation unit starts with: NumPy's scalar semantics where C differs.

Each helper is written once as a template over the dtype (`T` its C type, `S` its suffix) and
instantiated per dtype, so `floordiv_i64`, `floordiv_u8`, `floordiv_f32` … all exist and the
scalar printer can name any of them. `QUALIFIER` is `static inline` in C; a CUDA printer puts
`__device__` in front of the same text.
"""

from __future__ import annotations

import re

from symbolic.codegen.cprinter import CTYPES

# Threads. A loop runs on OpenMP's threads when its work, elements × the cost of one element
# (parallel_weight), reaches SYM_PARALLEL_MIN. Waking sleeping threads (OMP_WAIT_POLICY=PASSIVE,
# runtime/cpu_backend.py) costs 2–4 µs here. Where the products run on another library's
# threads (NumPy's OpenBLAS), those spin between calls and a threaded kernel contends with them:
# PARALLEL_MIN, 2**23 (the MLP's 1024×1024 SGD update, 2**21 elements of weight 2, ran threaded
# at 28 ms a step, on one thread at 17), keeps all but the largest loops on one thread. Where
# they share the kernels' threads (MKL on GNU OpenMP, runtime/blas.py), nothing contends and a
# loop of 2**17 weighted elements, ~30 µs on one core, already gains from two: the runtime
# builds with -DSYM_PARALLEL_MIN=SHARED_POOL_PARALLEL_MIN then.
PARALLEL_MIN = 1 << 23
SHARED_POOL_PARALLEL_MIN = 1 << 17
# the cost of a call of these next to an arithmetic operation (vectorized libm: exp, tanh, … take
# 10–20 times an add per element); everything else weighs 1
EXPENSIVE_OPS = frozenset(
    "exp exp2 log log2 log10 log1p expm1 sin cos tan arcsin arccos arctan sinh cosh tanh "
    "arctanh sigmoid softplus erf erfc pow log1mexp".split()
)
EXPENSIVE_WEIGHT = 16


def parallel_weight(program) -> int:
    """The cost of one element of a fused program (symbolic/fused.py), for the loop's
    threading condition: one per step, EXPENSIVE_WEIGHT per transcendental."""
    if program is None:
        return 1
    return max(
        1, sum(EXPENSIVE_WEIGHT if step.op.name in EXPENSIVE_OPS else 1 for step in program.steps)
    )


# Integer helpers. Floor division and modulo as NumPy's: the quotient rounds toward −∞, the
# remainder takes the divisor's sign, a zero divisor gives 0, and MIN / −1 wraps to MIN
# (computed in unsigned arithmetic, as C's MIN / −1 traps). Powers by squaring, wrapping;
# a negative exponent (an error in NumPy) gives the truncated value (0 unless |base| = 1).
SIGNED = """\
QUALIFIER T floordiv_S(T a, T b) {
    if (b == 0) return 0;
    if (b == -1) return (T)(0 - (U)a);
    T q = a / b;
    return (T)(q - ((a % b != 0) & ((a < 0) != (b < 0))));
}
QUALIFIER T mod_S(T a, T b) {
    if (b == 0 || b == -1) return 0;
    T r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? (T)(r + b) : r;
}
QUALIFIER T ipow_S(T a, T b) {
    if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
    U r = 1, x = (U)a;
    for (; b; b >>= 1, x *= x) if (b & 1) r *= x;
    return (T)r;
}
"""
UNSIGNED = """\
QUALIFIER T floordiv_S(T a, T b) { return b == 0 ? 0 : (T)(a / b); }
QUALIFIER T mod_S(T a, T b) { return b == 0 ? 0 : (T)(a % b); }
QUALIFIER T ipow_S(T a, T b) {
    unsigned r = 1, x = a;
    for (; b; b >>= 1, x *= x) if (b & 1) r *= x;
    return (T)r;
}
"""
ORDER = """\
QUALIFIER T maximum_S(T a, T b) { return a > b ? a : b; }
QUALIFIER T minimum_S(T a, T b) { return a < b ? a : b; }
"""
# NumPy's maximum/minimum of floats: a NaN in either argument is the result; on a tie (±0)
# the second argument, as NumPy's
FLOAT_ORDER = """\
QUALIFIER T maximum_S(T a, T b) { return (a > b || a != a) ? a : b; }
QUALIFIER T minimum_S(T a, T b) { return (a < b || a != a) ? a : b; }
"""
# Float helpers, F the libm suffix ("f" for float32). floordiv/mod are NumPy's npy_divmod:
# fmod gives the exact remainder; the quotient (a − mod) / b is then exact up to rounding and
# is floored and corrected; signed zeros and b = 0 follow IEEE as NumPy's do.
FLOAT = """\
QUALIFIER T mod_S(T a, T b) {
    T m = fmodF(a, b);
    if (!b) return m;
    if (m) { if ((b < 0) != (m < 0)) m += b; }
    else m = copysignF((T)0, b);
    return m;
}
QUALIFIER T floordiv_S(T a, T b) {
    if (!b) return a / b;
    T m = fmodF(a, b);
    T d = (a - m) / b;
    if (m && ((b < 0) != (m < 0))) d -= 1;
    if (!d) return copysignF((T)0, a / b);
    T f = floorF(d);
    return (d - f > (T)0.5) ? f + 1 : f;
}
QUALIFIER T sign_S(T a) { return a > 0 ? 1 : a < 0 ? -1 : a == 0 ? 0 : a; }
/* Branch-free so loops over them vectorize: both sides are computed, then one is selected. */
/* σ(x) = 1 / (1 + e^−x) for x ≥ 0, e^x / (1 + e^x) below: e^−|x| never overflows */
QUALIFIER T sigmoid_S(T a) {
    T e = expF(-fabsF(a));
    T p = 1 / (1 + e), q = e / (1 + e);
    return a >= 0 ? p : q;
}
/* log(1 + e^x) = max(x, 0) + log1p(e^−|x|): no overflow, NaN stays NaN */
QUALIFIER T softplus_S(T a) {
    T t = log1pF(expF(-fabsF(a)));
    return a > 0 ? a + t : t;
}
/* log(1 − e^x): log(−expm1 x) near 0, log1p(−e^x) below −log 2 */
QUALIFIER T log1mexp_S(T a) {
    T p = logF(-expm1F(a)), q = log1pF(-expF(a));
    return a > -LN2 ? p : q;
}
"""
LN2 = "0.693147180559945309417232121458176568"

# Loop pragmas. Without OpenMP a parallel loop is an ordinary loop; `omp simd` still applies
# under -fopenmp-simd and is ignored by compilers that know neither. SYM_PREFETCH asks for a
# cache line: a hint (it never faults, even past an array's end, and changes no value).
PRAGMAS = f"""\
#define SYM_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP)
#ifndef SYM_PARALLEL_MIN
#define SYM_PARALLEL_MIN {PARALLEL_MIN}
#endif
#define SYM_PARALLEL_FOR(work) SYM_PRAGMA(omp parallel for if ((work) >= SYM_PARALLEL_MIN) schedule(static))
#else
#define SYM_PARALLEL_FOR(work)
#endif
#if defined(__GNUC__)
#define SYM_PREFETCH(p) __builtin_prefetch(p)
#else
#define SYM_PREFETCH(p) ((void)(p))
#endif
"""

# Translation units: the runtime may compile a module as N units by N compiler processes at
# once (-DSYMBOLIC_UNITS=N -DSYMBOLIC_UNIT=u) and link them; each kernel is guarded to one unit.
# Compiling the file as it is gives every kernel.
UNITS = """\
#ifndef SYMBOLIC_UNITS
#define SYMBOLIC_UNITS 1
#define SYMBOLIC_UNIT 0
#endif
"""


# Tile copies, for C's elementwise kernels (c.py): an argument whose stride along the last axis
# is not 1 goes through a buffer. Out of line and once per dtype: inlined, the compiler
# vectorized each copy of each argument, emulating strided loads lane by lane, a quarter of
# the machine code of the MLP training module. A stride of 0 (a broadcast) is a fill.
TILE_COPIES = """\
QUALIFIER void load_tile_S(T *restrict b, const T *restrict p, int64_t n, int64_t t) {
    if (t == 0) {
        const T v = p[0];
        for (int64_t i = 0; i < n; i++) b[i] = v;
    } else {
        for (int64_t i = 0; i < n; i++) b[i] = p[i * t];
    }
}
QUALIFIER void store_tile_S(T *restrict p, const T *restrict b, int64_t n, int64_t t) {
    for (int64_t i = 0; i < n; i++) p[i * t] = b[i];
}
"""
OUT_OF_LINE = """\
#if defined(__GNUC__)
#define SYM_OUT_OF_LINE __attribute__((noinline, unused))
#else
#define SYM_OUT_OF_LINE
#endif
"""


# the unsigned type a signed one wraps through (int8/int16 widen: their products fit in 32 bits)
UNSIGNED_OF = {"int8": "unsigned", "int16": "unsigned", "int32": "uint32_t", "int64": "uint64_t"}

# glibc's vector math library (libmvec, glibc ≥ 2.35 for all of these): declared `simd`, a libm
# call inside an `omp simd` loop becomes a call on 4 or 8 lanes at once (E1 is bound by exp and
# tanh). Opt-in: the runtime defines SYMBOLIC_LIBMVEC and links -lmvec where glibc has it. The
# vector variants keep IEEE special values (NaN, ±Inf) and are within 4 ulp, no -ffast-math.
VECTOR_MATH_FUNCTIONS = (
    "exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan sinh cosh tanh atanh "
    "erf erfc pow"
).split()


def render_vector_math() -> str:
    decls = []
    for fn in VECTOR_MATH_FUNCTIONS:
        params = 2 if fn == "pow" else 1
        for t, name in (("float", fn + "f"), ("double", fn)):
            decls.append(f"SYM_SIMD {t} {name}({', '.join([t] * params)});")
    guard = (
        "#if defined(SYMBOLIC_LIBMVEC) && defined(__x86_64__) && defined(__GNUC__) && "
        "!defined(__clang__)"
    )
    simd = '#define SYM_SIMD __attribute__((__simd__("notinbranch")))'
    return "\n".join([guard, simd, *decls, "#endif", ""])


def _instantiate(template: str, dtype: str, qualifier: str) -> str:
    t, s = CTYPES[dtype]
    libm = "f" if dtype == "float32" else ""
    text = template.replace("QUALIFIER", qualifier).replace("_S(", f"_{s}(")
    text = text.replace("LN2", LN2 + libm)
    text = re.sub(r"(\w)F\(", rf"\1{libm}(", text)  # fmodF( -> fmodf( or fmod(
    text = re.sub(r"\bT\b", t, text)
    return re.sub(r"\bU\b", UNSIGNED_OF.get(dtype, "unsigned"), text)


def render_tile_copies() -> str:
    """`load_tile_S` and `store_tile_S` for every dtype, out of line (unused ones cost nothing)."""
    copies = [_instantiate(TILE_COPIES, d, "static SYM_OUT_OF_LINE") for d in CTYPES]
    return OUT_OF_LINE + "".join(copies)


def render_helpers(qualifier: str = "static inline") -> str:
    """Every helper for every dtype: unused `static inline` functions cost nothing."""
    parts = []
    for dtype in CTYPES:
        if dtype in ("bool", "uint8"):
            templates = [UNSIGNED, ORDER]
        elif dtype.startswith("int"):
            templates = [SIGNED, ORDER]
        else:
            templates = [FLOAT, FLOAT_ORDER]
        parts += [_instantiate(t, dtype, qualifier) for t in templates]
    return "".join(parts)
