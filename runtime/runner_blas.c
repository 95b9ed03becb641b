/* Matrix products as runner kernels: C ← A·B through a CBLAS gemm the process loaded
 * (runtime/blas.py finds the library and binds its functions here with bind_blas).
 *
 * A product step's plan (runtime/runner_steps.py, plan_gemm) packs, as a kernel's plan does,
 *   sizes   = [n_batch, batch sizes…, M, N, K, transpose A, transpose B, lda, ldb, swapped]
 *   strides = [per batch axis: byte strides of A, B and C]
 * where A is M×K and B is K×N as BLAS reads them (row major, each either as stored or
 * transposed, with its leading dimension), and C is the planned output: contiguous rows of N.
 * The batch axes (matmul's broadcast leading axes) are walked here, one gemm per matrix.
 * `swapped` (runtime/gemm_plans.py, the form "swap") computes Cᵀ = Bᵀ·Aᵀ instead, into a
 * scratch N×M matrix, then transposes it into C.
 *
 * BLAS libraries differ in the width of their integers: MKL's and the reference CBLAS take
 * int, NumPy's own OpenBLAS (ILP64, its symbols suffixed 64_) takes int64_t; bind_blas says
 * which. */

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm32_fn)(int, int, int, int, int, int, float, const float *, int,
                           const float *, int, float, float *, int);
typedef void (*dgemm32_fn)(int, int, int, int, int, int, double, const double *, int,
                           const double *, int, double, double *, int);
typedef void (*sgemm64_fn)(int, int, int, int64_t, int64_t, int64_t, float, const float *,
                           int64_t, const float *, int64_t, float, float *, int64_t);
typedef void (*dgemm64_fn)(int, int, int, int64_t, int64_t, int64_t, double, const double *,
                           int64_t, const double *, int64_t, double, double *, int64_t);

/* MKL's packed products: B packed once (cblas_?gemm_pack, runtime/packed_products.py), then
 * C = A·B for many A (a loop's steps) without packing B again. */
enum { PACKED = 151 };
typedef void (*sgemm_compute_fn)(int, int, int, int, int, int, const float *, int,
                                 const float *, int, float, float *, int);
typedef void (*dgemm_compute_fn)(int, int, int, int, int, int, const double *, int,
                                 const double *, int, double, double *, int);

static struct {
    void *sgemm, *dgemm;
    int wide;  /* 1: int64_t integers (ILP64) */
    void *sgemm_compute, *dgemm_compute;  /* or NULL: the library packs no operand */
} blas;

/* C ← β·C + α·A·B for the plan's matrix sizes m = [M, N, K, transpose A, transpose B, lda,
 * ldb], at byte offsets into the operands; C has contiguous rows of N. */
static void gemm_one(int is_double, const int64_t *m, char *a, char *b, char *c, double alpha,
                     double beta) {
    int64_t M = m[0], N = m[1], K = m[2], lda = m[5], ldb = m[6];
    int ta = m[3] ? TRANS : NO_TRANS, tb = m[4] ? TRANS : NO_TRANS;
    float fa = (float)alpha, fb = (float)beta;
    if (is_double && blas.wide)
        ((dgemm64_fn)blas.dgemm)(ROW_MAJOR, ta, tb, M, N, K, alpha, (const double *)a, lda,
                                 (const double *)b, ldb, beta, (double *)c, N);
    else if (is_double)
        ((dgemm32_fn)blas.dgemm)(ROW_MAJOR, ta, tb, (int)M, (int)N, (int)K, alpha,
                                 (const double *)a, (int)lda, (const double *)b, (int)ldb, beta,
                                 (double *)c, (int)N);
    else if (blas.wide)
        ((sgemm64_fn)blas.sgemm)(ROW_MAJOR, ta, tb, M, N, K, fa, (const float *)a, lda,
                                 (const float *)b, ldb, fb, (float *)c, N);
    else
        ((sgemm32_fn)blas.sgemm)(ROW_MAJOR, ta, tb, (int)M, (int)N, (int)K, fa,
                                 (const float *)a, (int)lda, (const float *)b, (int)ldb, fb,
                                 (float *)c, (int)N);
}

/* C = A·B as Cᵀ = Bᵀ·Aᵀ: the row-major N×M product whose operands are B and A with their
 * transpose flags flipped (op(B)ᵀ is B read with the other flag, at the same leading
 * dimension), written to `scratch`, then copied transposed into C in 32×32 tiles. Inside the
 * library this is a different gemm (its column-major core sees A first, not B), so its
 * blocking and packing differ: runtime/gemm_plans.py measures whether that pays. */
static void gemm_swapped(int is_double, const int64_t *m, char *a, char *b, char *c,
                         char *scratch) {
    int64_t M = m[0], N = m[1];
    int64_t t[7] = {N, M, m[2], !m[4], !m[3], m[6], m[5]};
    gemm_one(is_double, t, b, a, scratch, 1.0, 0.0);
    for (int64_t i0 = 0; i0 < M; i0 += 32)
        for (int64_t j0 = 0; j0 < N; j0 += 32) {
            int64_t i1 = i0 + 32 < M ? i0 + 32 : M, j1 = j0 + 32 < N ? j0 + 32 : N;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++)
                    if (is_double)
                        ((double *)c)[i * N + j] = ((const double *)scratch)[j * M + i];
                    else
                        ((float *)c)[i * N + j] = ((const float *)scratch)[j * M + i];
        }
}

/* The swapped products' scratch matrix: one per thread, grown to the largest product's and
 * kept (a fresh allocation of that size per call is fresh pages, faulted in on every call);
 * NULL where it cannot be had (the product then runs as stored). */
static char *swap_scratch(size_t bytes) {
    static _Thread_local char *scratch;
    static _Thread_local size_t size;
    if (bytes > size) {
        char *grown = realloc(scratch, bytes);
        if (!grown) return NULL;
        scratch = grown, size = bytes;
    }
    return scratch;
}

/* The batch axes walked as an odometer: one gemm per index. */
static void gemm_batched(int is_double, const int64_t *sizes, const int64_t *strides,
                         char **data) {
    int64_t n_batch = sizes[0], index[NPY_MAXDIMS] = {0};
    const int64_t *batch = sizes + 1, *matrix = batch + n_batch;
    char *a = data[0], *b = data[1], *c = data[2];
    size_t out_bytes = (size_t)(matrix[0] * matrix[1]) * (is_double ? 8 : 4);
    char *scratch = matrix[7] ? swap_scratch(out_bytes) : NULL;
    for (;;) {
        if (scratch)
            gemm_swapped(is_double, matrix, a, b, c, scratch);
        else
            gemm_one(is_double, matrix, a, b, c, 1.0, 0.0);
        int64_t d = n_batch - 1;
        for (; d >= 0; d--) {
            const int64_t *s = strides + 3 * d;
            if (++index[d] < batch[d]) {
                a += s[0], b += s[1], c += s[2];
                break;
            }
            a -= s[0] * (batch[d] - 1), b -= s[1] * (batch[d] - 1), c -= s[2] * (batch[d] - 1);
            index[d] = 0;
        }
        if (d < 0) return;
    }
}

static void gemm_f32(const int64_t *sizes, const int64_t *strides, char **data) {
    gemm_batched(0, sizes, strides, data);
}

static void gemm_f64(const int64_t *sizes, const int64_t *strides, char **data) {
    gemm_batched(1, sizes, strides, data);
}

/* A gemm update (runtime/gemm_updates.py): out ← β·z + α·x·y with α = sign·s and β = mu
 * (or 1). sizes = [M, N, K, transpose x, transpose y, ldx, ldy, sign, scaled]; data = [z, x,
 * y, s, (mu,) out], z and out contiguous M×N. Where out is not z itself (z not donated, nor
 * dying), z is copied into it first. */
static void gemm_update(int is_double, const int64_t *m, char **data) {
    int scaled = (int)m[8];
    char *z = data[0], *out = data[4 + scaled];
    double s = is_double ? *(const double *)data[3] : *(const float *)data[3];
    double mu = !scaled ? 1.0 : is_double ? *(const double *)data[4] : *(const float *)data[4];
    if (out != z) memcpy(out, z, (size_t)(m[0] * m[1]) * (is_double ? 8 : 4));
    gemm_one(is_double, m, data[1], data[2], out, (double)m[7] * s, mu);
}

static void gemm_update_f32(const int64_t *sizes, const int64_t *strides, char **data) {
    gemm_update(0, sizes, data);
}

static void gemm_update_f64(const int64_t *sizes, const int64_t *strides, char **data) {
    gemm_update(1, sizes, data);
}

/* C = A·B with B packed: sizes = [M, N, K, transpose A, lda]; data = [A, B, packed B, C].
 * The packed operand is a byte array whose first int64 is the offset of the packed matrix
 * (aligned for the library) from its start; B itself is not read. */
static void gemm_packed(int is_double, const int64_t *m, char **data) {
    const char *packed = data[2] + ((const int64_t *)data[2])[0];
    int M = (int)m[0], N = (int)m[1], K = (int)m[2], lda = (int)m[4];
    int ta = m[3] ? TRANS : NO_TRANS;
    if (is_double)
        ((dgemm_compute_fn)blas.dgemm_compute)(ROW_MAJOR, ta, PACKED, M, N, K,
                                               (const double *)data[0], lda,
                                               (const double *)packed, N, 0.0,
                                               (double *)data[3], N);
    else
        ((sgemm_compute_fn)blas.sgemm_compute)(ROW_MAJOR, ta, PACKED, M, N, K,
                                               (const float *)data[0], lda,
                                               (const float *)packed, N, 0.0f,
                                               (float *)data[3], N);
}

static void gemm_packed_f32(const int64_t *sizes, const int64_t *strides, char **data) {
    gemm_packed(0, sizes, data);
}

static void gemm_packed_f64(const int64_t *sizes, const int64_t *strides, char **data) {
    gemm_packed(1, sizes, data);
}

static void *address(unsigned long long a) { return (void *)(uintptr_t)a; }

/* bind_blas(sgemm, dgemm, wide, sgemm_compute, dgemm_compute): the functions the product
 * kernels call (addresses; the last two 0 where the library packs no operand). */
static PyObject *bind_blas(PyObject *module, PyObject *args) {
    unsigned long long s, d, sc, dc;
    int wide;
    if (!PyArg_ParseTuple(args, "KKpKK", &s, &d, &wide, &sc, &dc)) return NULL;
    blas.sgemm = address(s), blas.dgemm = address(d), blas.wide = wide;
    blas.sgemm_compute = address(sc), blas.dgemm_compute = address(dc);
    Py_RETURN_NONE;
}

/* gemm_kernels(): the addresses of the product kernels: float32, float64, then with a packed
 * operand float32, float64, then the gemm updates float32, float64. */
static PyObject *gemm_kernels(PyObject *module, PyObject *unused) {
    return Py_BuildValue("KKKKKK", (unsigned long long)(uintptr_t)gemm_f32,
                         (unsigned long long)(uintptr_t)gemm_f64,
                         (unsigned long long)(uintptr_t)gemm_packed_f32,
                         (unsigned long long)(uintptr_t)gemm_packed_f64,
                         (unsigned long long)(uintptr_t)gemm_update_f32,
                         (unsigned long long)(uintptr_t)gemm_update_f64);
}
