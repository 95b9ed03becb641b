void k0_softmax(const int64_t *sizes, const int64_t *strides, char **data) {
    const int64_t rows = sizes[0], cols = sizes[1];
    const float *restrict p0 = (const float *)data[0];
    const int64_t so = strides[0], sc = strides[1];
    float *restrict r = (float *)data[1];
    SYM_PARALLEL_FOR((rows * cols) * 16)
    for (int64_t o = 0; o < rows; o++) {
        const float *restrict q = p0 + o * so;
        float m = -INFINITY;
        int nan = 0;
        if (sc == 1) {
            #pragma omp simd reduction(max:m) reduction(|:nan)
            for (int64_t j = 0; j < cols; j++) {
                const float v = (float)q[j];
                m = v > m ? v : m;
                nan |= v != v;
            }
        } else {
            #pragma omp simd reduction(max:m) reduction(|:nan)
            for (int64_t j = 0; j < cols; j++) {
                const float v = (float)q[j * sc];
                m = v > m ? v : m;
                nan |= v != v;
            }
        }
        if (nan) m = NAN;
        float *restrict y = r + o * cols;
        double acc = 0;
        for (int64_t b = 0; b < cols; b += 1024) {
            const int64_t end = cols - b < 1024 ? cols : b + 1024;
            float part = 0;
            if (sc == 1) {
                #pragma omp simd reduction(+:part)
                for (int64_t j = b; j < end; j++) {
                    const float v = (float)q[j];
                    const float e = expf(v - m);
                    y[j] = e;
                    part += e;
                }
            } else {
                #pragma omp simd reduction(+:part)
                for (int64_t j = b; j < end; j++) {
                    const float v = (float)q[j * sc];
                    const float e = expf(v - m);
                    y[j] = e;
                    part += e;
                }
            }
            acc += part;
        }
        const float total = (float)acc;
        #pragma omp simd
        for (int64_t j = 0; j < cols; j++) y[j] = y[j] / total;
    }
}
