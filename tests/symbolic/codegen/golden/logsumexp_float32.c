void k0_logsumexp(const int64_t *sizes, const int64_t *strides, char **data) {
    const int64_t outer = sizes[0], inner = sizes[1];
    const float *restrict p0 = (const float *)data[0];
    const int64_t so0 = strides[0], si0 = strides[1];
    float *restrict r = (float *)data[1];
    SYM_PARALLEL_FOR(outer * inner)
    for (int64_t o = 0; o < outer; o++) {
        const float *restrict q0 = p0 + o * so0;
        float m = -INFINITY;
        if (si0 == 1) {
            #pragma omp simd reduction(max:m)
            for (int64_t i = 0; i < inner; i++) {
                const float x0 = q0[i];
                const float v = x0;
                const float w = (float)v;
                m = w > m ? w : m;
            }
        } else {
            #pragma omp simd reduction(max:m)
            for (int64_t i = 0; i < inner; i++) {
                const float x0 = q0[i * si0];
                const float v = x0;
                const float w = (float)v;
                m = w > m ? w : m;
            }
        }
        const float shift = isfinite(m) ? m : 0;
        double acc = 0;
        for (int64_t b = 0; b < inner; b += 1024) {
            const int64_t end = inner - b < 1024 ? inner : b + 1024;
            if (si0 == 1 && o + 1 < outer) {
                for (int64_t l = b; l < end; l += (int64_t)(64 / sizeof(float))) SYM_PREFETCH(q0 + so0 + l);
            }
            float part = 0;
            if (si0 == 1) {
                #pragma omp simd reduction(+:part)
                for (int64_t i = b; i < end; i++) {
                    const float x0 = q0[i];
                    const float v = x0;
                    const float w = (float)v;
                    part += expf(w - shift);
                }
            } else {
                #pragma omp simd reduction(+:part)
                for (int64_t i = b; i < end; i++) {
                    const float x0 = q0[i * si0];
                    const float v = x0;
                    const float w = (float)v;
                    part += expf(w - shift);
                }
            }
            acc += part;
        }
        r[o] = logf((float)acc) + shift;
    }
}
