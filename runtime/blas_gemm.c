/* gemm and matrix products through a CBLAS sgemm/dgemm whose address the caller passes: the
 * C runner calls this as it calls a generated kernel (docs/kernels.md), so a product runs no
 * Python and makes no NumPy temporary. runtime/blas.py finds the CBLAS functions (NumPy's own
 * OpenBLAS) and plans each call.
 *
 * sizes = [cblas function, is double, integer width (32 or 64), has Z, op(A), op(B), m, n, k,
 *          lda, ldb, Z's element strides (2), α and β as the bits of doubles]
 * data  = [Z (when has Z), A, B, C]: C is m × n, C-contiguous. C = β·Z + α·op(A)·op(B); Z is
 * copied into C first (Z broadcasts, its strides may be 0) unless it already is C's buffer.
 */
#include <stdint.h>
#include <string.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm64)(int, int, int, int64_t, int64_t, int64_t, float, const float *,
                        int64_t, const float *, int64_t, float, float *, int64_t);
typedef void (*dgemm64)(int, int, int, int64_t, int64_t, int64_t, double, const double *,
                        int64_t, const double *, int64_t, double, double *, int64_t);
typedef void (*sgemm32)(int, int, int, int32_t, int32_t, int32_t, float, const float *,
                        int32_t, const float *, int32_t, float, float *, int32_t);
typedef void (*dgemm32)(int, int, int, int32_t, int32_t, int32_t, double, const double *,
                        int32_t, const double *, int32_t, double, double *, int32_t);

static double as_double(int64_t bits) {
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

#define COPY_Z(T)                                                                     \
    do {                                                                              \
        const T *zt = (const T *)z;                                                   \
        T *ct = (T *)c;                                                               \
        for (int64_t i = 0; i < m; i++)                                               \
            for (int64_t j = 0; j < n; j++) ct[i * n + j] = zt[i * zs0 + j * zs1];    \
    } while (0)

void blas_gemm(const int64_t *sizes, const int64_t *strides, char **data) {
    (void)strides;
    const int64_t is_double = sizes[1], width = sizes[2], has_z = sizes[3];
    const int op_a = sizes[4] ? TRANS : NO_TRANS, op_b = sizes[5] ? TRANS : NO_TRANS;
    const int64_t m = sizes[6], n = sizes[7], k = sizes[8], lda = sizes[9], ldb = sizes[10];
    const int64_t zs0 = sizes[11], zs1 = sizes[12];
    const double alpha = as_double(sizes[13]), beta = as_double(sizes[14]);
    const char *z = has_z ? data[0] : NULL, *a = data[has_z], *b = data[has_z + 1];
    char *c = data[has_z + 2];
    if (has_z && beta != 0.0 && z != c) {
        size_t item = is_double ? sizeof(double) : sizeof(float), row = (size_t)n * item;
        if (zs1 == 1) {  /* rows of Z are contiguous (a matrix, or a bias vector repeated) */
            for (int64_t i = 0; i < m; i++)
                memcpy(c + (size_t)i * row, z + i * zs0 * (int64_t)item, row);
        } else if (is_double) COPY_Z(double);
        else COPY_Z(float);
    }
    void *fn = (void *)(intptr_t)sizes[0];
    if (width == 64 && is_double)
        ((dgemm64)fn)(ROW_MAJOR, op_a, op_b, m, n, k, alpha, (const double *)a, lda,
                      (const double *)b, ldb, beta, (double *)c, n);
    else if (width == 64)
        ((sgemm64)fn)(ROW_MAJOR, op_a, op_b, m, n, k, (float)alpha, (const float *)a, lda,
                      (const float *)b, ldb, (float)beta, (float *)c, n);
    else if (is_double)
        ((dgemm32)fn)(ROW_MAJOR, op_a, op_b, (int32_t)m, (int32_t)n, (int32_t)k, alpha,
                      (const double *)a, (int32_t)lda, (const double *)b, (int32_t)ldb, beta,
                      (double *)c, (int32_t)n);
    else
        ((sgemm32)fn)(ROW_MAJOR, op_a, op_b, (int32_t)m, (int32_t)n, (int32_t)k, (float)alpha,
                      (const float *)a, (int32_t)lda, (const float *)b, (int32_t)ldb,
                      (float)beta, (float *)c, (int32_t)n);
}
