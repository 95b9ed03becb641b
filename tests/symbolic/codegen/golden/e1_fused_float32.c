void k0_e1(const int64_t *sizes, const int64_t *strides, char **data) {
    const int64_t ndim = sizes[0];
    const int64_t *shape = sizes + 1;
    int64_t n = 1;
    for (int64_t d = 0; d < ndim; d++) n *= shape[d];
    if (n == 0) return;
    const float c0 = 0.5f;
    const float *restrict p0 = (const float *)data[0];
    const float *restrict p1 = (const float *)data[1];
    float *restrict p2 = (float *)data[2];
    /* tiles of the last axis; the other axes are decomposed from the outer index */
    const int64_t inner = ndim ? shape[ndim - 1] : 1;
    const int64_t tiles = (inner + 1023) / 1024;
    const int64_t t0 = ndim ? strides[0 * ndim + ndim - 1] : 1, t1 = ndim ? strides[1 * ndim + ndim - 1] : 1, t2 = ndim ? strides[2 * ndim + ndim - 1] : 1;
    SYM_PARALLEL_FOR((n) * 55)
    for (int64_t o = 0; o < n / inner * tiles; o++) {
        int64_t rest = o / tiles, a0 = 0, a1 = 0, a2 = 0;
        for (int64_t d = ndim - 2; d >= 0; d--) {
            const int64_t at = rest % shape[d];
            rest /= shape[d];
            a0 += at * strides[0 * ndim + d];
            a1 += at * strides[1 * ndim + d];
            a2 += at * strides[2 * ndim + d];
        }
        const int64_t start = o % tiles * 1024;
        const int64_t len = inner - start < 1024 ? inner - start : 1024;
        float b0[1024];
        const float *restrict q0 = t0 == 1 ? p0 + a0 + start : b0;
        float b1[1024];
        const float *restrict q1 = t1 == 1 ? p1 + a1 + start : b1;
        float b2[1024];
        float *restrict q2 = t2 == 1 ? p2 + a2 + start : b2;
        if (t0 != 1) load_tile_f32(b0, p0 + a0 + start * t0, len, t0);
        if (t1 != 1) load_tile_f32(b1, p1 + a1 + start * t1, len, t1);
        #pragma omp simd
        for (int64_t i = 0; i < len; i++) {
            const float x0 = q0[i];
            const float x1 = q1[i];
            const float s0 = x0*x1;  // mul
            const float s1 = -x0;  // neg
            const float s2 = expf(s1);  // exp
            const float s3 = s0 + s2;  // add
            const float s4 = tanhf(s3);  // tanh
            const float s5 = sigmoid_f32(x1);  // sigmoid
            const float s6 = s4*s5;  // mul
            const float s7 = x0*c0;  // mul
            const float s8 = s7*x0;  // mul
            const float s9 = s6 + s8;  // add
            q2[i] = s9;
        }
        if (t2 != 1) store_tile_f32(p2 + a2 + start * t2, b2, len, t2);
    }
}
