void k0_max_pool2d_grad(const int64_t *sizes, const int64_t *strides, char **data) {
    const int64_t N = sizes[0], C = sizes[1], H = sizes[2], W = sizes[3];
    const int64_t OH = sizes[4], OW = sizes[5];
    const int64_t SH = 2, SW = 2, PH = 0, PW = 0;
    const int64_t sn = strides[0], sc = strides[1], sh = strides[2], sw = strides[3];
    const float *restrict x = (const float *)data[0];
    const float *restrict pooled = (const float *)data[1];
    const float *restrict g = (const float *)data[2];
    float *restrict out = (float *)data[3];
    if (sn == 1 && N > 1) {
        for (int64_t e = 0; e < N * C * H * W; e++) out[e] = 0;
        SYM_PARALLEL_FOR(N * C * H * W)
        for (int64_t c = 0; c < C; c++) {
            for (int64_t a = 0; a < OH; a++) {
                for (int64_t b = 0; b < OW; b++) {
                    const int64_t r0 = a * SH - PH, q0 = b * SW - PW;
                    #pragma omp simd
                    for (int64_t n = 0; n < N; n++) {
                        const float *plane = x + n + c * sc;
                        const float *mp = pooled + n * strides[4] + c * strides[5];
                        const float *gp = g + n * strides[8] + c * strides[9];
                        float *o = out + (n * C + c) * H * W;
                        const float m = mp[a * strides[6] + b * strides[7]];
                        const float gv = gp[a * strides[10] + b * strides[11]];
                        int at = -1;
                        at = (plane[(r0 + 1) * sh + (q0 + 1) * sw]) == m ? 3 : at;
                        at = (plane[(r0 + 1) * sh + (q0 + 0) * sw]) == m ? 2 : at;
                        at = (plane[(r0 + 0) * sh + (q0 + 1) * sw]) == m ? 1 : at;
                        at = (plane[(r0 + 0) * sh + (q0 + 0) * sw]) == m ? 0 : at;
                        o[(r0 + 0) * W + q0 + 0] = at == 0 ? gv : 0;
                        o[(r0 + 0) * W + q0 + 1] = at == 1 ? gv : 0;
                        o[(r0 + 1) * W + q0 + 0] = at == 2 ? gv : 0;
                        o[(r0 + 1) * W + q0 + 1] = at == 3 ? gv : 0;
                    }
                }
            }
        }
    } else {
        SYM_PARALLEL_FOR(N * C * H * W)
        for (int64_t p = 0; p < N * C; p++) {
            const int64_t n = p / C, c = p % C;
            const float *plane = x + n * sn + c * sc;
            const float *mp = pooled + n * strides[4] + c * strides[5];
            const float *gp = g + n * strides[8] + c * strides[9];
            float *o = out + p * H * W;
            for (int64_t e = 0; e < H * W; e++) o[e] = 0;
            for (int64_t a = 0; a < OH; a++) {
                if (sw == 1 && strides[7] == 1 && strides[11] == 1) {
                    #pragma omp simd
                    for (int64_t b = 0; b < OW; b++) {
                        const int64_t r0 = a * SH - PH, q0 = b * SW - PW;
                        const float m = mp[a * strides[6] + b * 1];
                        const float gv = gp[a * strides[10] + b * 1];
                        int at = -1;
                        at = (plane[(r0 + 1) * sh + (q0 + 1) * 1]) == m ? 3 : at;
                        at = (plane[(r0 + 1) * sh + (q0 + 0) * 1]) == m ? 2 : at;
                        at = (plane[(r0 + 0) * sh + (q0 + 1) * 1]) == m ? 1 : at;
                        at = (plane[(r0 + 0) * sh + (q0 + 0) * 1]) == m ? 0 : at;
                        o[(r0 + 0) * W + q0 + 0] = at == 0 ? gv : 0;
                        o[(r0 + 0) * W + q0 + 1] = at == 1 ? gv : 0;
                        o[(r0 + 1) * W + q0 + 0] = at == 2 ? gv : 0;
                        o[(r0 + 1) * W + q0 + 1] = at == 3 ? gv : 0;
                    }
                } else {
                    #pragma omp simd
                    for (int64_t b = 0; b < OW; b++) {
                        const int64_t r0 = a * SH - PH, q0 = b * SW - PW;
                        const float m = mp[a * strides[6] + b * strides[7]];
                        const float gv = gp[a * strides[10] + b * strides[11]];
                        int at = -1;
                        at = (plane[(r0 + 1) * sh + (q0 + 1) * sw]) == m ? 3 : at;
                        at = (plane[(r0 + 1) * sh + (q0 + 0) * sw]) == m ? 2 : at;
                        at = (plane[(r0 + 0) * sh + (q0 + 1) * sw]) == m ? 1 : at;
                        at = (plane[(r0 + 0) * sh + (q0 + 0) * sw]) == m ? 0 : at;
                        o[(r0 + 0) * W + q0 + 0] = at == 0 ? gv : 0;
                        o[(r0 + 0) * W + q0 + 1] = at == 1 ? gv : 0;
                        o[(r0 + 1) * W + q0 + 0] = at == 2 ? gv : 0;
                        o[(r0 + 1) * W + q0 + 1] = at == 3 ? gv : 0;
                    }
                }
            }
        }
    }
}
