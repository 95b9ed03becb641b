void k0_advanced_subtensor(const int64_t *sizes, const int64_t *strides, char **data) {
    const int64_t ndim = sizes[0];
    const int64_t *shape = sizes + 1;
    const int64_t *axes = shape + ndim + 1;
    const float *restrict p0 = (const float *)data[0] + shape[ndim];
    const int64_t *restrict p1 = (const int64_t *)data[1];
    const int64_t n1 = axes[0], s1 = axes[1];
    const int64_t *restrict p2 = (const int64_t *)data[2];
    const int64_t n2 = axes[2], s2 = axes[3];
    float *restrict p3 = (float *)data[3];
    int64_t *status = (int64_t *)data[4];
    *status = 0;
    int64_t n = 1;
    for (int64_t d = 0; d < ndim; d++) n *= shape[d];
    if (n == 0) return;
    const int64_t inner = shape[ndim - 1], outer = n / inner;
    SYM_PARALLEL_FOR(n)
    for (int64_t o = 0; o < outer; o++) {
        int64_t rest = o, a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int64_t d = ndim - 2; d >= 0; d--) {
            const int64_t at = rest % shape[d];
            rest /= shape[d];
            a0 += at * strides[0 * ndim + d];
            a1 += at * strides[1 * ndim + d];
            a2 += at * strides[2 * ndim + d];
            a3 += at * strides[3 * ndim + d];
        }
        const int64_t t0 = strides[0 * ndim + ndim - 1];
        const int64_t t1 = strides[1 * ndim + ndim - 1];
        const int64_t t2 = strides[2 * ndim + ndim - 1];
        const int64_t t3 = strides[3 * ndim + ndim - 1];
        int bad = 0;
        if (t1 == 0 && t2 == 0) {
            int64_t off = a0;
            int64_t j1 = (int64_t)p1[a1];
            j1 += j1 < 0 ? n1 : 0;
            const int ok1 = (uint64_t)j1 < (uint64_t)n1;
            bad |= !ok1;
            off += (ok1 ? j1 : 0) * s1;
            int64_t j2 = (int64_t)p2[a2];
            j2 += j2 < 0 ? n2 : 0;
            const int ok2 = (uint64_t)j2 < (uint64_t)n2;
            bad |= !ok2;
            off += (ok2 ? j2 : 0) * s2;
            if (!bad) {
                if (t0 == 1 && t3 == 1) {
                    #pragma omp simd
                    for (int64_t i = 0; i < inner; i++) {
                        p3[a3 + i] = p0[off + i];
                    }
                } else {
                    #pragma omp simd
                    for (int64_t i = 0; i < inner; i++) {
                        p3[a3 + i * t3] = p0[off + i * t0];
                    }
                }
            }
        } else {
            #pragma omp simd reduction(|:bad)
            for (int64_t i = 0; i < inner; i++) {
                int64_t off = a0 + i * t0;
                int64_t j1 = (int64_t)p1[a1 + i * t1];
                j1 += j1 < 0 ? n1 : 0;
                const int ok1 = (uint64_t)j1 < (uint64_t)n1;
                bad |= !ok1;
                off += (ok1 ? j1 : 0) * s1;
                int64_t j2 = (int64_t)p2[a2 + i * t2];
                j2 += j2 < 0 ? n2 : 0;
                const int ok2 = (uint64_t)j2 < (uint64_t)n2;
                bad |= !ok2;
                off += (ok2 ? j2 : 0) * s2;
                p3[a3 + i * t3] = p0[off];
            }
        }
        if (bad) {
            #pragma omp atomic write
            *status = 1;
        }
    }
}
