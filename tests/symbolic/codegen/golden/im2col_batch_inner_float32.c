void k0_im2col(const int64_t *sizes, const int64_t *strides, char **data) {
    const int64_t N = sizes[0], C = sizes[1], H = sizes[2], W = sizes[3];
    const int64_t KH = sizes[4], KW = sizes[5], OH = sizes[6], OW = sizes[7];
    const int64_t SH = 2, SW = 1, PH = 1, PW = 2;
    const int64_t sn = strides[0], sc = strides[1], sh = strides[2], sw = strides[3];
    const float *restrict x = (const float *)data[0];
    float *restrict cols = (float *)data[2];
    SYM_PARALLEL_FOR(N * C * KH * KW * OH * OW)
    for (int64_t c = 0; c < C; c++) {
        /* the channel as src[r·th + q·tw + n·tn]: a (H, W, N) copy unless x is batch-innermost */
        float *t = sn == 1 ? NULL : (float *)malloc((size_t)(H * W * N) * sizeof(float));
        const float *src = x + c * sc;
        int64_t th = sh, tw = sw, tn = sn;
        if (t) {
            for (int64_t n = 0; n < N; n++)
                for (int64_t r = 0; r < H; r++)
                    for (int64_t q = 0; q < W; q++) t[(r * W + q) * N + n] = src[n * sn + r * sh + q * sw];
            src = t, th = W * N, tw = N, tn = 1;
        }
        for (int64_t i = 0; i < KH; i++) {
            for (int64_t j = 0; j < KW; j++) {
                const int64_t lo = PW - j, hi = W + PW - j;
                const int64_t b0 = lo <= 0 ? 0 : (lo + SW - 1) / SW;
                int64_t b1 = hi <= 0 ? 0 : (hi + SW - 1) / SW;
                b1 = b1 > OW ? OW : b1 < b0 ? b0 : b1;
                for (int64_t a = 0; a < OH; a++) {
                    float *d = cols + (((c * KH + i) * KW + j) * OH + a) * OW * N;
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
                        const float *s = src + base + b * SW * tw;
                        #pragma omp simd
                        for (int64_t n = 0; n < N; n++) d[b * N + n] = s[n * tn];
                    }
                }
            }
        }
        free(t);
    }
}
