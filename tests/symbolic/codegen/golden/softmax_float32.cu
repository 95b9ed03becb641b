extern "C" __global__ void __launch_bounds__(SYM_BLOCK) k0_softmax(const SymArgs<2> args) {
    const int64_t *sizes = args.sizes, *strides = args.strides;
    char *const *data = args.data;
    const int64_t rows = sizes[0], cols = sizes[1];
    const float *__restrict__ p0 = (const float *)data[0];
    const int64_t so = strides[0], sc = strides[1];
    float *__restrict__ r = (float *)data[1];
    struct alignas(8) State { float m; double s; };
    static_assert(sizeof(State) <= SYM_STATE_BYTES, "the two-pass scratch entry");
    const auto combine = [](State &a, const State &b) {
        const float m = b.m > a.m ? b.m : a.m;
        a.s = sym_rescale(a.s, sym_shift(a.m), sym_shift(m)) + sym_rescale(b.s, sym_shift(b.m), sym_shift(m));
        a.m = m;
    };
    __shared__ State states[SYM_BLOCK];
    const bool column = sizes[4] != 0;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    /* row layout: the block reads one row; column layout: lane l reads row l of 32,
       the warps split it. */
    const int64_t per = column ? 32 : 1, groups = (rows + per - 1) / per;
    const int64_t first = column ? warp : threadIdx.x;
    const int64_t step = column ? blockDim.x / 32 : blockDim.x;
    for (int64_t group = blockIdx.x; group < groups; group += gridDim.x) {
        const int64_t o = column ? group * 32 + lane : group;
        const float *__restrict__ q = p0 + o * so;
        State st = {-INFINITY, 0};
        if (o < rows) {
            const auto value = [&](int64_t i) {
                return (float)q[i * sc];
            };
            const auto fold = [&](const float v, int64_t i) {
                if (v > st.m) { st.s = sym_rescale(st.s, sym_shift(st.m), sym_shift(v)); st.m = v; }
                st.s += expf(v - sym_shift(st.m));
            };
            sym_fold(first, cols, step, value, fold);
        }
        st = sym_block_combine(st, combine, column, states);
        if (o < rows) {
            const float m = st.m;
            const double total = isfinite(m) ? st.s : NAN;
            const float t = (float)total;
            float *__restrict__ y = r + o * cols;
            #pragma unroll 4
            for (int64_t j = first; j < cols; j += step) y[j] = expf((float)q[j * sc] - m) / t;
        }
    }
}
