#ifndef SYM_CONTRACT
#if defined(__GNUC__) && !defined(__clang__)
#define SYM_CONTRACT __attribute__((optimize("fp-contract=fast")))
#else
#define SYM_CONTRACT /* clang contracts a * b + c within a statement by default */
#endif
#endif
SYM_CONTRACT void k0_conv2d_filter_grad(const int64_t *sizes, const int64_t *strides, char **data) {
    const int64_t N = sizes[0], C = sizes[1], H = sizes[2], W = sizes[3];
    const int64_t O = sizes[4], KH = sizes[5], KW = sizes[6], OH = sizes[7], OW = sizes[8];
    const int64_t SH = 1, SW = 1, PH = 1, PW = 2;
    const int64_t sn = strides[0], sc = strides[1], sh = strides[2], sw = strides[3];
    const int64_t gs0 = strides[4], gs1 = strides[5], gs2 = strides[6], gs3 = strides[7];
    const float *restrict x = (const float *)data[0];
    const float *restrict g = (const float *)data[1];
    float *restrict out = (float *)data[3];
    typedef float vec __attribute__((vector_size(64)));
    enum { VL = 16, OB = 8, GB = 8, TASKS = 16, AB = 4 };
    const int64_t K = C * KH * KW, OBS = (O + OB - 1) / OB, GBS = (O + GB - 1) / GB;
    (void)OBS, (void)GBS;
    const int64_t OWV = (OW + VL - 1) / VL * VL, HP = (OH - 1) * SH + KH;
    const int64_t WP = ((OWV - 1) * SW + KW + VL - 1) / VL * VL;
    float *xp = (float *)aligned_alloc(64, (size_t)(N * C * HP * WP) * sizeof(float));
    /* the batch in NP parts, so that a few blocks of filters still make enough tasks
       for the threads (TASKS); each task sums its part, the parts are added last */
    const int64_t NP = GBS == 0 || GBS >= TASKS || N <= 1 ? 1 : (TASKS + GBS - 1) / GBS < N ? (TASKS + GBS - 1) / GBS : N;
    float *gts = (float *)aligned_alloc(64, (size_t)(GBS * NP * GB * OH * OWV) * sizeof(float));
    float *accs = (float *)aligned_alloc(64, (size_t)(GBS * NP * K * GB * VL) * sizeof(float));
    if (xp && gts && accs && gs3 == 1) {
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
        SYM_PARALLEL_FOR(N * O * OH * OW * K)
        for (int64_t t = 0; t < GBS * NP; t++) {
            const int64_t o0 = t / NP * GB, used = O - o0 < GB ? O - o0 : GB;
            const int64_t n0 = t % NP * N / NP, n1 = (t % NP + 1) * N / NP;
            /* g[n, o0 … o0 + GB − 1] as gt[k][a][b < OWV], zeros past OW and past O; the task's
               sums acc[(e, k)][lane] */
            float *gt = gts + t * GB * OH * OWV, *acc = accs + t * K * GB * VL;
            for (int64_t e = 0; e < K * GB * VL; e++) acc[e] = 0;
            for (int64_t n = n0; n < n1; n++) {
                for (int64_t k = 0; k < GB; k++) {
                    const float *src = g + n * gs0 + (o0 + k) * gs1;  /* gs3 = 1 on this path */
                    for (int64_t a = 0; a < OH; a++) {
                        float *dst = gt + (k * OH + a) * OWV;
                        const int64_t filled = k < used ? OW : 0;
                        #pragma omp simd
                        for (int64_t b = 0; b < filled; b++) dst[b] = src[a * gs2 + b];
                        for (int64_t b = filled; b < OWV; b++) dst[b] = 0;
                    }
                }
                /* AB rows of windows at a time, so that their g and input rows stay in L1 while
                   every weight position (c, i, j) passes over them */
                for (int64_t a0 = 0; a0 < OH; a0 += AB) {
                    const int64_t a1 = a0 + AB < OH ? a0 + AB : OH;
                    for (int64_t e = 0; e < K; e++) {
                        const int64_t c = e / (KH * KW), i = e / KW % KH, j = e % KW;
                        vec acc0; __builtin_memcpy(&acc0, acc + (e * GB + 0) * VL, sizeof(vec));
                        vec acc1; __builtin_memcpy(&acc1, acc + (e * GB + 1) * VL, sizeof(vec));
                        vec acc2; __builtin_memcpy(&acc2, acc + (e * GB + 2) * VL, sizeof(vec));
                        vec acc3; __builtin_memcpy(&acc3, acc + (e * GB + 3) * VL, sizeof(vec));
                        vec acc4; __builtin_memcpy(&acc4, acc + (e * GB + 4) * VL, sizeof(vec));
                        vec acc5; __builtin_memcpy(&acc5, acc + (e * GB + 5) * VL, sizeof(vec));
                        vec acc6; __builtin_memcpy(&acc6, acc + (e * GB + 6) * VL, sizeof(vec));
                        vec acc7; __builtin_memcpy(&acc7, acc + (e * GB + 7) * VL, sizeof(vec));
                        for (int64_t a = a0; a < a1; a++) {
                            const float *row = xp + ((n * C + c) * HP + a * SH + i) * WP + j;
                            const float *gr = gt + a * OWV;
                            for (int64_t b0 = 0; b0 < OWV; b0 += VL) {
                                vec v; __builtin_memcpy(&v, row + b0 * SW, sizeof v);
                                { vec gv; __builtin_memcpy(&gv, gr + 0 * OH * OWV + b0, sizeof gv); acc0 += gv * v; }
                                { vec gv; __builtin_memcpy(&gv, gr + 1 * OH * OWV + b0, sizeof gv); acc1 += gv * v; }
                                { vec gv; __builtin_memcpy(&gv, gr + 2 * OH * OWV + b0, sizeof gv); acc2 += gv * v; }
                                { vec gv; __builtin_memcpy(&gv, gr + 3 * OH * OWV + b0, sizeof gv); acc3 += gv * v; }
                                { vec gv; __builtin_memcpy(&gv, gr + 4 * OH * OWV + b0, sizeof gv); acc4 += gv * v; }
                                { vec gv; __builtin_memcpy(&gv, gr + 5 * OH * OWV + b0, sizeof gv); acc5 += gv * v; }
                                { vec gv; __builtin_memcpy(&gv, gr + 6 * OH * OWV + b0, sizeof gv); acc6 += gv * v; }
                                { vec gv; __builtin_memcpy(&gv, gr + 7 * OH * OWV + b0, sizeof gv); acc7 += gv * v; }
                            }
                        }
                        __builtin_memcpy(acc + (e * GB + 0) * VL, &acc0, sizeof(vec));
                        __builtin_memcpy(acc + (e * GB + 1) * VL, &acc1, sizeof(vec));
                        __builtin_memcpy(acc + (e * GB + 2) * VL, &acc2, sizeof(vec));
                        __builtin_memcpy(acc + (e * GB + 3) * VL, &acc3, sizeof(vec));
                        __builtin_memcpy(acc + (e * GB + 4) * VL, &acc4, sizeof(vec));
                        __builtin_memcpy(acc + (e * GB + 5) * VL, &acc5, sizeof(vec));
                        __builtin_memcpy(acc + (e * GB + 6) * VL, &acc6, sizeof(vec));
                        __builtin_memcpy(acc + (e * GB + 7) * VL, &acc7, sizeof(vec));
                    }
                }
            }
        }
        /* each weight: its lanes summed over the NP parts of the batch, in order */
        for (int64_t o = 0; o < O; o++)
            for (int64_t e = 0; e < K; e++) {
                float s = 0;
                for (int64_t part = 0; part < NP; part++) {
                    const float *acc = accs + ((o / GB * NP + part) * K + e) * GB * VL + o % GB * VL;
                    for (int64_t l = 0; l < VL; l++) s += acc[l];
                }
                out[o * K + e] = s;
            }
    } else {
        SYM_PARALLEL_FOR(N * O * OH * OW * K)
        for (int64_t e = 0; e < O * K; e++) {
            const int64_t o = e / K, c = e / (KH * KW) % C, i = e / KW % KH, j = e % KW;
            float s = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t a = 0; a < OH; a++)
                    for (int64_t b = 0; b < OW; b++) {
                        const int64_t r = a * SH + i - PH, q = b * SW + j - PW;
                        if (r >= 0 && r < H && q >= 0 && q < W)
                            s += g[n * gs0 + o * gs1 + a * gs2 + b * gs3]
                                * x[n * sn + c * sc + r * sh + q * sw];
                    }
            out[e] = s;
        }
    }
    free(xp);
    free(gts);
    free(accs);
}
