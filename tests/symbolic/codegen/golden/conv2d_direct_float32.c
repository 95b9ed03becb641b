#ifndef SYM_CONTRACT
#if defined(__GNUC__) && !defined(__clang__)
#define SYM_CONTRACT __attribute__((optimize("fp-contract=fast")))
#else
#define SYM_CONTRACT /* clang contracts a * b + c within a statement by default */
#endif
#endif
SYM_CONTRACT void k0_conv2d_direct(const int64_t *sizes, const int64_t *strides, char **data) {
    const int64_t N = sizes[0], C = sizes[1], H = sizes[2], W = sizes[3];
    const int64_t O = sizes[4], KH = sizes[5], KW = sizes[6], OH = sizes[7], OW = sizes[8];
    const int64_t SH = 1, SW = 1, PH = 1, PW = 2;
    const int64_t sn = strides[0], sc = strides[1], sh = strides[2], sw = strides[3];
    const int64_t ws0 = strides[4], ws1 = strides[5], ws2 = strides[6], ws3 = strides[7];
    const float *restrict x = (const float *)data[0];
    const float *restrict w = (const float *)data[1];
    float *restrict out = (float *)data[2];
    typedef float vec __attribute__((vector_size(64)));
    enum { VL = 16, OB = 8, GB = 8, TASKS = 16, AB = 4 };
    const int64_t K = C * KH * KW, OBS = (O + OB - 1) / OB, GBS = (O + GB - 1) / GB;
    (void)OBS, (void)GBS;
    const int64_t OWV = (OW + VL - 1) / VL * VL, HP = (OH - 1) * SH + KH;
    const int64_t WP = ((OWV - 1) * SW + KW + VL - 1) / VL * VL;
    float *xp = (float *)aligned_alloc(64, (size_t)(N * C * HP * WP) * sizeof(float));
    float *wt = (float *)malloc((size_t)(OBS * OB * K) * sizeof(float));
    if (xp && wt) {
        SYM_PARALLEL_FOR(N * C * HP * WP)
        for (int64_t p = 0; p < N * C; p++) {
            const float *src = x + (p / C) * sn + (p % C) * sc;
            float *dst = xp + p * HP * WP;
            for (int64_t r = 0; r < HP; r++) {
                const int64_t q0 = r - PH;
                for (int64_t q = 0; q < WP; q++) {
                    const int64_t s = q - PW;
                    dst[r * WP + q] = q0 >= 0 && q0 < H && s >= 0 && s < W ? src[q0 * sh + s * sw] : 0;
                }
            }
        }
        /* the filters as wt[block][(c, i, j)][OB], zeros past O */
        for (int64_t o = 0; o < OBS * OB; o++)
            for (int64_t e = 0; e < K; e++)
                wt[((o / OB) * K + e) * OB + o % OB] = o < O
                    ? w[o * ws0 + (e / (KH * KW)) * ws1 + (e / KW % KH) * ws2 + (e % KW) * ws3] : 0;
        SYM_PARALLEL_FOR(N * O * OH * OW * K)
        for (int64_t t = 0; t < N * OBS; t++) {
            const int64_t n = t / OBS, o0 = t % OBS * OB;
            const float *img = xp + n * C * HP * WP, *wb = wt + (o0 / OB) * K * OB;
            for (int64_t a = 0; a < OH; a++) {
                for (int64_t b0 = 0; b0 < OW; b0 += VL) {
                    vec acc0 = {0};
                    vec acc1 = {0};
                    vec acc2 = {0};
                    vec acc3 = {0};
                    vec acc4 = {0};
                    vec acc5 = {0};
                    vec acc6 = {0};
                    vec acc7 = {0};
                    for (int64_t c = 0; c < C; c++) {
                        for (int64_t i = 0; i < KH; i++) {
                            const float *row = img + (c * HP + a * SH + i) * WP + b0 * SW;
                            const float *f = wb + (c * KH + i) * KW * OB;
                            for (int64_t j = 0; j < KW; j++, f += OB) {
                                vec v; __builtin_memcpy(&v, row + j, sizeof v);
                                acc0 += f[0] * v;
                                acc1 += f[1] * v;
                                acc2 += f[2] * v;
                                acc3 += f[3] * v;
                                acc4 += f[4] * v;
                                acc5 += f[5] * v;
                                acc6 += f[6] * v;
                                acc7 += f[7] * v;
                            }
                        }
                    }
                    const int64_t lanes = OW - b0 < VL ? OW - b0 : VL;
                    float *to = out + ((n * O + o0) * OH + a) * OW + b0;
                    if (o0 + 0 < O) { if (lanes == VL) __builtin_memcpy(to + 0 * OH * OW, &acc0, sizeof(vec)); else __builtin_memcpy(to + 0 * OH * OW, &acc0, (size_t)lanes * sizeof(float)); }
                    if (o0 + 1 < O) { if (lanes == VL) __builtin_memcpy(to + 1 * OH * OW, &acc1, sizeof(vec)); else __builtin_memcpy(to + 1 * OH * OW, &acc1, (size_t)lanes * sizeof(float)); }
                    if (o0 + 2 < O) { if (lanes == VL) __builtin_memcpy(to + 2 * OH * OW, &acc2, sizeof(vec)); else __builtin_memcpy(to + 2 * OH * OW, &acc2, (size_t)lanes * sizeof(float)); }
                    if (o0 + 3 < O) { if (lanes == VL) __builtin_memcpy(to + 3 * OH * OW, &acc3, sizeof(vec)); else __builtin_memcpy(to + 3 * OH * OW, &acc3, (size_t)lanes * sizeof(float)); }
                    if (o0 + 4 < O) { if (lanes == VL) __builtin_memcpy(to + 4 * OH * OW, &acc4, sizeof(vec)); else __builtin_memcpy(to + 4 * OH * OW, &acc4, (size_t)lanes * sizeof(float)); }
                    if (o0 + 5 < O) { if (lanes == VL) __builtin_memcpy(to + 5 * OH * OW, &acc5, sizeof(vec)); else __builtin_memcpy(to + 5 * OH * OW, &acc5, (size_t)lanes * sizeof(float)); }
                    if (o0 + 6 < O) { if (lanes == VL) __builtin_memcpy(to + 6 * OH * OW, &acc6, sizeof(vec)); else __builtin_memcpy(to + 6 * OH * OW, &acc6, (size_t)lanes * sizeof(float)); }
                    if (o0 + 7 < O) { if (lanes == VL) __builtin_memcpy(to + 7 * OH * OW, &acc7, sizeof(vec)); else __builtin_memcpy(to + 7 * OH * OW, &acc7, (size_t)lanes * sizeof(float)); }
                }
            }
        }
    } else {
        SYM_PARALLEL_FOR(N * O * OH * OW * K)
        for (int64_t p = 0; p < N * O; p++) {
            const int64_t n = p / O, o = p % O;
            for (int64_t a = 0; a < OH; a++) {
                for (int64_t b = 0; b < OW; b++) {
                    float s = 0;
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t i = 0; i < KH; i++)
                            for (int64_t j = 0; j < KW; j++) {
                                const int64_t r = a * SH + i - PH, q = b * SW + j - PW;
                                if (r >= 0 && r < H && q >= 0 && q < W)
                                    s += w[o * ws0 + c * ws1 + i * ws2 + j * ws3]
                                        * x[n * sn + c * sc + r * sh + q * sw];
                            }
                    out[p * OH * OW + a * OW + b] = s;
                }
            }
        }
    }
    free(xp);
    free(wt);
}
