extern "C" __global__ void __launch_bounds__(SYM_BLOCK) k0_fused_sum(const SymArgs<3> args) {
    const int64_t *sizes = args.sizes, *strides = args.strides;
    char *const *data = args.data;
    const int64_t outer = sizes[0], inner = sizes[1];
    const double c0 = 1.0;
    const double *__restrict__ p0 = (const double *)data[0];
    const int64_t so0 = strides[0], si0 = strides[1];
    double *__restrict__ r = (double *)data[1];
    struct alignas(8) State { double acc; };
    static_assert(sizeof(State) <= SYM_STATE_BYTES, "the two-pass scratch entry");
    const auto combine = [](State &a, const State &b) {
        a.acc += b.acc;
    };
    __shared__ State states[SYM_BLOCK];
    const int64_t parts = sizes[2], phase = sizes[3], split = phase == 0 ? parts : 1;
    const int64_t part = blockIdx.x % split;
    const bool column = sizes[4] != 0;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    /* row layout: the block reads one row; column layout: lane l reads row l of 32,
       the warps split it. A row split in parts has a block per part. */
    const int64_t per = column ? 32 : 1, groups = (outer + per - 1) / per;
    const int64_t first = column ? warp : threadIdx.x;
    const int64_t step = column ? blockDim.x / 32 : blockDim.x;
    const bool leader = column ? warp == 0 : threadIdx.x == 0;
    State *__restrict__ partial = (State *)data[2];
    const int64_t chunk = (inner + parts - 1) / parts, begin = part * chunk;
    const int64_t end = inner - begin < chunk ? inner : begin + chunk;
    for (int64_t group = blockIdx.x / split; group < groups; group += gridDim.x / split) {
        const int64_t o = column ? group * 32 + lane : group;
        State st = {0};
        if (o < outer && phase == 0) {
            const double *__restrict__ q0 = p0 + o * so0;
            const auto value = [&](int64_t i) {
                const double x0 = q0[i * si0];
                const double s0 = x0 - c0;  // sub
                const double s1 = exp(s0);  // exp
                const double s2 = s1*x0;  // mul
                return (double)s2;
            };
            const auto fold = [&](const double v, int64_t i) {
                st.acc += v;
            };
            sym_fold(begin + first, end, step, value, fold);
        } else if (o < outer) {
            for (int64_t j = first; j < parts; j += step) combine(st, partial[o * parts + j]);
        }
        st = sym_block_combine(st, combine, column, states);
        if (o < outer && leader) {
            if (split > 1) partial[o * parts + part] = st;
            else r[o] = (double)(st.acc);
        }
    }
}
