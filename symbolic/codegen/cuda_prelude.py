"""What every CUDA module starts with besides the scalar helpers of prelude.py: the one kernel
parameter, vector loads, the grid-stride loop and the block-wide combination of states.

The calling convention these serve is docs/kernels.md ("CUDA"): a kernel takes one struct by
value, `SymArgs<N>`, holding what the C kernels take through three pointers: the sizes of the
iteration space, the element strides of its N arguments and their base pointers.
"""

from __future__ import annotations

BLOCK = 256  # threads per block: every kernel is written for any multiple of 32 up to this
MAX_RANK = 8  # strides per argument in SymArgs (elementwise kernels merge axes down to this)
SIZES = 9  # int64 entries of SymArgs.sizes: ndim and 8 sizes, or a reduction's launch
STATE_BYTES = 16  # the most a reduction's per-row state takes (the two-pass scratch entry)

PRELUDE = f"""\
#define SYM_BLOCK {BLOCK}
#define SYM_MAX_RANK {MAX_RANK}
#define SYM_SIZES {SIZES}
#define SYM_STATE_BYTES {STATE_BYTES}

/* The one parameter of every kernel, passed by value (no copy to the device per call). */
template <int N> struct SymArgs {{
    int64_t sizes[SYM_SIZES];
    int64_t strides[N * SYM_MAX_RANK];
    char *data[N];
}};

/* V elements of T moved by one load or store of V * sizeof(T) bytes (16 at most). */
template <typename T, int V> struct alignas(sizeof(T) * V) SymVec {{
    T v[V];
}};

__device__ __forceinline__ bool sym_aligned(const void *p, int bytes) {{
    return (uintptr_t)p % bytes == 0;
}}

/* body(i) for every i in [start, n), spread over the grid. 32-bit indices while n < 2^31: the
   runtime launches at most 2^16 blocks, so i + step stays below 2^32. */
template <typename F>
static __device__ __forceinline__ void sym_grid_loop(int64_t start, int64_t n, F body) {{
    if (n < ((int64_t)1 << 31)) {{
        const uint32_t step = gridDim.x * blockDim.x;
        for (uint32_t i = (uint32_t)start + blockIdx.x * blockDim.x + threadIdx.x; i < (uint32_t)n;
             i += step)
            body(i);
    }} else {{
        const int64_t step = (int64_t)gridDim.x * blockDim.x;
        for (int64_t i = start + (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
            body(i);
    }}
}}

/* fold(value(i), i) for i = start, start + step, ... < stop, in order: four values are read
   before any is folded, so four loads per thread are in flight (one would leave most of the
   memory bandwidth idle: it takes many bytes in flight to cover the latency). */
template <typename V, typename F>
static __device__ __forceinline__ void sym_fold(int64_t i, int64_t stop, int64_t step, V value,
                                                F fold) {{
    for (; i + 3 * step < stop; i += 4 * step) {{
        const auto v0 = value(i), v1 = value(i + step), v2 = value(i + 2 * step);
        const auto v3 = value(i + 3 * step);
        fold(v0, i), fold(v1, i + step), fold(v2, i + 2 * step), fold(v3, i + 3 * step);
    }}
    for (; i < stop; i += step) fold(value(i), i);
}}

/* The state held by the lane `mask` away, moved as 32-bit words. */
template <typename S> static __device__ __forceinline__ S sym_shfl_xor(const S &s, int mask) {{
    static_assert(sizeof(S) % 4 == 0, "a state is made of whole 32-bit words");
    unsigned in[sizeof(S) / 4], out[sizeof(S) / 4];
    memcpy(in, &s, sizeof(S));
#pragma unroll
    for (int w = 0; w < (int)(sizeof(S) / 4); w++)
        out[w] = __shfl_xor_sync(0xffffffffu, in[w], mask);
    S r;
    memcpy(&r, out, sizeof(S));
    return r;
}}

/* Every thread's state combined: over the whole block (row layout: the block reads one row)
   or over the warps for each lane (column layout: lane l reads row l, the warps split it).
   Each thread gets the total of its row. `combine` is associative and commutative up to
   rounding; `states` is the block's scratch of SYM_BLOCK states. */
template <typename S, typename F>
static __device__ __forceinline__ S sym_block_combine(S st, F combine, bool column, S *states) {{
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    if (!column) {{
#pragma unroll
        for (int mask = 16; mask > 0; mask /= 2) combine(st, sym_shfl_xor(st, mask));
    }}
    if (column || lane == 0) states[column ? threadIdx.x : warp] = st;
    __syncthreads();
    S total = states[column ? lane : 0];
    for (int w = 1; w < warps; w++) combine(total, states[column ? w * 32 + lane : w]);
    __syncthreads(); /* states[] is written again by the next row group */
    return total;
}}

/* logsumexp and the softmax rows keep (m, s): m the largest value seen (NaN skipped), s the sum
   of e^(x - shift(m)), shift(m) = m where finite, else 0 (a row of -inf sums to 0, +inf stays
   +inf, as the C kernels' two passes give). A new m rescales s; a zero s stays zero. */
template <typename T> static __device__ __forceinline__ T sym_shift(T m) {{
    return isfinite(m) ? m : (T)0;
}}
__device__ __forceinline__ double sym_rescale(double s, double from, double to) {{
    return (s == 0 || from == to) ? s : s * exp(from - to);
}}
"""
