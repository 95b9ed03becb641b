/* A compiled function's whole schedule in one call from Python (see runtime/native.py).
 *
 * A Runner holds the schedule as data: value slots, and steps that are a generated kernel (a
 * C function pointer, docs/kernels.md), a NumPy call writing outputs the runner provides (a
 * matrix product through NumPy's BLAS, a concatenation), a view of an input (basic indexing,
 * transposes: the runner makes the view from the offset, shape and strides its plan gives),
 * or any other Python callable (advanced indexing, reshapes).
 * `call(*leaves)` puts the leaves (inputs, then shared values) in their slots, runs the
 * steps in order, drops each value after its last reader, and returns the results (outputs,
 * then update values) as a tuple.
 *
 * Planning stays in Python (runtime/cpu_backend.py): what a kernel launch needs besides its
 * data pointers (and what outputs a product writes) depends only on its inputs' shapes and
 * strides, so a step keeps the plan of the last layout it saw and asks the Python planner
 * only when the layout changes. A call with the layouts of the call before runs no Python
 * code but the Python steps.
 *
 * Memory. A value is ours alone when only its slot holds a reference to it and it owns its
 * data (a view keeps its base alive, so the base is not ours alone). Such a value returns,
 * when it dies, to a pool of the call; a planned output takes, in this order: the buffer of an
 * input that dies at this step and is ours alone, where the plan allows it (elementwise,
 * same dtype, shape and strides: the kernels read element i of every input before they write
 * element i of any output); the array the last call returned for this output, when the
 * caller has dropped it (only our reference to it is left) or borrows outputs; a pooled
 * array of its dtype and shape; fresh memory. Leaves and constants never die
 * and are never ours alone, so they are never written. A result that is not ours alone (a
 * leaf, a constant, a view, a value returned twice) is copied, so results are fresh.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

typedef void (*kernel_fn)(const int64_t *sizes, const int64_t *strides, char **data);

/* Kernels touching at least this many elements run with the GIL released: the release and
 * the reacquisition cost ~0.2 µs, a tenth of the time such a kernel takes at the least. */
#define RELEASE_GIL_ELEMENTS (1 << 15)

/* Pointer lists up to this length live on the C stack; longer ones are allocated. */
#define ON_STACK 32

typedef struct {
    kernel_fn fn;           /* a generated kernel, or NULL */
    PyObject *callable;     /* the step's Python callable (a planned step's NumPy reference) */
    PyObject *planner;      /* planned steps: planner(*inputs) -> plan tuple or None; or None */
    PyObject *writer;       /* planned steps without a kernel: writer(*inputs, *outputs) */
    PyObject *table;        /* int64 bytes [n_in, n_out, n_dead, ins, outs, dead, dies,
                               result_of] that the pointers below read */
    Py_ssize_t n_in, n_out, n_dead;
    const int64_t *ins, *outs, *dead;  /* slots; `dead`: those whose last reader this step is */
    const int64_t *dies;    /* per input: 1 when its slot is in `dead` */
    const int64_t *result_of;  /* per output: the result position it is first returned at, or -1 */
    PyObject *plan;         /* planned steps: the plan of the last layout (NULL before any) */
    int64_t *key;           /* that layout: per input ndim, shape, strides */
    Py_ssize_t key_len;
} Step;

typedef struct {
    PyObject_HEAD
    PyObject *table;        /* int64 bytes [n_slots, n_leaves, n_results, n_outputs, leaf slots,
                               result slots (outputs, then update values), constant slots] */
    Py_ssize_t n_slots, n_leaves, n_results, n_outputs, n_constants, n_steps, max_pool;
    const int64_t *leaf_slots, *result_slots, *constant_slots;
    PyObject *constants;    /* a tuple of arrays, one per constant slot */
    Step *steps;
    PyObject *fail;         /* fail(k, inputs, error) -> the exception to raise instead */
    int borrow;             /* outputs may be written in place by the next call */
    PyObject **kept;        /* the outputs the last call returned (n_outputs) */
    Py_ssize_t counts[4];   /* planned outputs so far: in place, reused, pooled, allocated */
    Py_ssize_t first_donor; /* the steps from here on may write donated leaves (n_steps: none) */
} Runner;

enum { IN_PLACE, REUSED, POOLED, ALLOCATED };
static const char *COUNT_NAMES[] = {"in_place", "reused", "pooled", "allocated"};

/* ---- small helpers ------------------------------------------------------------------------ */

static int ours_alone(PyObject *v) {
    if (!PyArray_CheckExact(v) || Py_REFCNT(v) != 1) return 0;
    int need = NPY_ARRAY_OWNDATA | NPY_ARRAY_WRITEABLE | NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED;
    return (PyArray_FLAGS((PyArrayObject *)v) & need) == need;
}

static int same_layout(PyArrayObject *a, int type_num, int ndim, const int64_t *dims) {
    if (PyArray_DESCR(a)->type_num != type_num || PyArray_NDIM(a) != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (PyArray_DIMS(a)[d] != dims[d]) return 0;
    return 1;
}

/* The byte range [lo, hi) an array's elements lie in. */
static void extent(PyArrayObject *a, char **lo, char **hi) {
    char *low = PyArray_BYTES(a), *high = low + PyArray_ITEMSIZE(a);
    for (int d = 0; d < PyArray_NDIM(a); d++) {
        npy_intp step = PyArray_STRIDES(a)[d] * (PyArray_DIMS(a)[d] - 1);
        if (PyArray_DIMS(a)[d] == 0) { high = low; break; }
        if (step < 0) low += step; else high += step;
    }
    *lo = low, *hi = high;
}

static int overlaps(PyArrayObject *a, PyArrayObject *b) {
    char *a0, *a1, *b0, *b1;
    extent(a, &a0, &a1), extent(b, &b0, &b1);
    return a0 < b1 && b0 < a1 && a0 < a1 && b0 < b1;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- one call's state ----------------------------------------------------------------------- */

typedef struct {
    PyObject **values;      /* per slot: a strong reference, or NULL */
    PyObject **pool;        /* arrays ours alone, free for reuse */
    Py_ssize_t n_pool;
    PyObject **reuse;       /* per output, the last call's array when it may be written (in a
                               loop: the row of the stacked output this step writes) */
    int rows_first;         /* `reuse` before in place: a loop's row written saves a copy */
    PyObject *donated;      /* NULL, or a tuple of leaves the donor steps may write in place */
} Call;

/* Whether v is one of the call's donated leaves. */
static int is_donated(Call *c, PyObject *v) {
    for (Py_ssize_t i = 0; c->donated && i < PyTuple_GET_SIZE(c->donated); i++)
        if (PyTuple_GET_ITEM(c->donated, i) == v) return 1;
    return 0;
}

static void release(Runner *r, Call *c, PyObject *v) {
    if (c->n_pool < r->max_pool && ours_alone(v)) c->pool[c->n_pool++] = v;
    else Py_DECREF(v);
}

/* A new reference to an array for output j of the step's plan: see the file's comment. */
static PyObject *output_array(Runner *r, Step *st, Call *c, PyObject **inputs, Py_ssize_t j,
                              PyArray_Descr *descr, int ndim, const int64_t *dims,
                              int64_t inplace) {
    Py_ssize_t result = st->result_of[j];
    PyObject *offered = result >= 0 ? c->reuse[result] : NULL;
    if (offered && !same_layout((PyArrayObject *)offered, descr->type_num, ndim, dims))
        offered = NULL;
    /* inplace ≤ −2: input −2 − inplace, which may also be a donated leaf (a gemm update) */
    int donor = inplace <= -2;
    if (donor) inplace = -2 - inplace;
    if (donor && is_donated(c, inputs[inplace]) &&
        same_layout((PyArrayObject *)inputs[inplace], descr->type_num, ndim, dims)) {
        Py_INCREF(inputs[inplace]);
        r->counts[IN_PLACE]++;
        return inputs[inplace];
    }
    if (!(offered && c->rows_first) && inplace >= 0 && st->dies[inplace] &&
        ours_alone(inputs[inplace]) &&
        same_layout((PyArrayObject *)inputs[inplace], descr->type_num, ndim, dims)) {
        for (Py_ssize_t k = 0; k < j; k++)  /* one output per input buffer */
            if (c->values[st->outs[k]] == inputs[inplace]) goto not_in_place;
        Py_INCREF(inputs[inplace]);
        r->counts[IN_PLACE]++;
        return inputs[inplace];
    }
not_in_place:
    if (offered) {
        c->reuse[result] = NULL;
        r->counts[REUSED]++;
        return offered;
    }
    for (Py_ssize_t k = 0; k < c->n_pool; k++) {
        if (same_layout((PyArrayObject *)c->pool[k], descr->type_num, ndim, dims)) {
            PyObject *found = c->pool[k];
            c->pool[k] = c->pool[--c->n_pool];
            r->counts[POOLED]++;
            return found;
        }
    }
    npy_intp shape[NPY_MAXDIMS];
    for (int d = 0; d < ndim; d++) shape[d] = (npy_intp)dims[d];
    Py_INCREF(descr);
    r->counts[ALLOCATED]++;
    return PyArray_NewFromDescr(&PyArray_Type, descr, ndim, shape, NULL, NULL, 0, NULL);
}

/* The layout key of the step's inputs into `key` (room for `cap`); its length, or -1. */
static Py_ssize_t layout_key(Step *st, PyObject **inputs, int64_t *key, Py_ssize_t cap) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < st->n_in; i++) {
        PyArrayObject *a = (PyArrayObject *)inputs[i];
        int nd = PyArray_NDIM(a);
        if (n + 1 + 2 * nd > cap) return -1;
        key[n++] = nd;
        for (int d = 0; d < nd; d++) key[n++] = PyArray_DIMS(a)[d];
        for (int d = 0; d < nd; d++) key[n++] = PyArray_STRIDES(a)[d];
    }
    return n;
}

/* Store a step's result(s) in its output slots, as base-class arrays. */
static int store_results(Step *st, Call *c, PyObject *result) {
    PyObject *items = result;
    if (st->n_out > 1) {
        items = PySequence_Fast(result, "a step with several outputs must return a sequence");
        Py_DECREF(result);
        if (!items) return -1;
        if (PySequence_Fast_GET_SIZE(items) != st->n_out) {
            PyErr_Format(PyExc_ValueError, "a step returned %zd values for %zd outputs",
                         PySequence_Fast_GET_SIZE(items), st->n_out);
            Py_DECREF(items);
            return -1;
        }
    }
    for (Py_ssize_t j = 0; j < st->n_out; j++) {
        PyObject *v = st->n_out > 1 ? PySequence_Fast_GET_ITEM(items, j) : items;
        if (st->n_out > 1) Py_INCREF(v);
        if (!PyArray_CheckExact(v)) {  /* a NumPy scalar from a reduction, or a subclass */
            PyObject *a = PyArray_FromAny(v, NULL, 0, 0, NPY_ARRAY_ENSUREARRAY, NULL);
            Py_DECREF(v);
            if (!a) { if (st->n_out > 1) Py_DECREF(items); return -1; }
            v = a;
        }
        c->values[st->outs[j]] = v;
    }
    if (st->n_out > 1) Py_DECREF(items);
    return 0;
}

static int run_python(Step *st, Call *c, PyObject **inputs) {
    PyObject *result = PyObject_Vectorcall(st->callable, inputs, (size_t)st->n_in, NULL);
    return result ? store_results(st, c, result) : -1;
}

/* A view step's run (runner_views.c, later in this translation unit). */
static int run_view(Step *st, Call *c, PyObject **inputs, const int64_t *packed);

/* A planned step: outputs from its plan, then the kernel or the writer on them. A plan (from
 * cpu_backend.Launch.native) is (packed int64 bytes, output dtypes, views), packed as
 * [n_sizes, sizes…, n_strides, strides…, then per output: ndim, shape…, in-place input],
 * optionally followed by n_pieces, (output, byte offset)…: the kernel's output arguments as
 * places in the outputs (runtime/joined_outputs.py). */
/* The step's plan for its inputs' layouts in st->plan (the planner asked on a new layout);
 * 0, or -1 with the planner's exception set. */
static int ensure_plan(Step *st, PyObject **inputs) {
    int64_t key_stack[8 * ON_STACK];
    Py_ssize_t len = layout_key(st, inputs, key_stack, 8 * ON_STACK);
    if (len < 0 || !st->plan || len != st->key_len ||
        memcmp(key_stack, st->key, (size_t)len * sizeof(int64_t)) != 0) {
        PyObject *plan = PyObject_Vectorcall(st->planner, inputs, (size_t)st->n_in, NULL);
        if (!plan) return -1;
        Py_XSETREF(st->plan, plan);
        PyMem_Free(st->key);
        st->key = NULL, st->key_len = -1;
        if (len >= 0 && (st->key = PyMem_Malloc((size_t)len * sizeof(int64_t) + 1))) {
            memcpy(st->key, key_stack, (size_t)len * sizeof(int64_t));
            st->key_len = len;
        }
    }
    return 0;
}

static int run_planned(Runner *r, Step *st, Call *c, PyObject **inputs) {
    if (ensure_plan(st, inputs) < 0) return -1;
    PyObject *plan = st->plan;
    if (plan == Py_None) return run_python(st, c, inputs);  /* no plan fits: NumPy's reference */
    const int64_t *packed = (const int64_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 0));
    if (!st->fn && st->writer == Py_None) return run_view(st, c, inputs, packed);
    Py_INCREF(plan);  /* kept while the step runs: Python code here may re-plan the step */
    PyObject *dtypes = PyTuple_GET_ITEM(plan, 1), *views = PyTuple_GET_ITEM(plan, 2);
    Py_ssize_t n_args = st->n_in + st->n_out, done = 0;
    const int64_t *sizes = packed + 1, *strides = sizes + packed[0] + 1, *out = strides + strides[-1];
    /* after the outputs, optionally: the kernel's output arguments as (output, byte offset) */
    const int64_t *pieces = out;
    for (Py_ssize_t j = 0; j < st->n_out; j++) pieces += pieces[0] + 2;
    Py_ssize_t plan_len = PyBytes_GET_SIZE(PyTuple_GET_ITEM(plan, 0)) / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t n_pieces = pieces < packed + plan_len ? (Py_ssize_t)*pieces++ : -1;
    Py_ssize_t n_data = n_pieces < 0 ? n_args : st->n_in + n_pieces;
    int viewed = 0;
    PyObject *args_stack[ON_STACK], **args = args_stack;
    char *data_stack[ON_STACK], **data = data_stack;
    if (n_args > ON_STACK || n_data > ON_STACK) {
        args = PyMem_Calloc((size_t)n_args, sizeof(PyObject *));
        data = PyMem_Malloc((size_t)(n_data > n_args ? n_data : n_args) * sizeof(char *));
        if (!args || !data) { PyErr_NoMemory(); goto fail; }
    }
    viewed = views != Py_None;  /* views copy inputs the kernel cannot stride */
    for (Py_ssize_t i = 0; i < st->n_in; i++) {  /* borrowed references unless viewed */
        args[i] = viewed ? PyObject_CallOneArg(PyTuple_GET_ITEM(views, i), inputs[i]) : inputs[i];
        if (!args[i]) goto fail;
        done = i + 1;
    }
    npy_intp work = 0;
    for (Py_ssize_t j = 0; j < st->n_out; j++) {
        int ndim = (int)out[0];
        PyArray_Descr *descr = (PyArray_Descr *)PyTuple_GET_ITEM(dtypes, j);
        PyObject *o = output_array(r, st, c, inputs, j, descr, ndim, out + 1, out[1 + ndim]);
        if (!o) goto fail;
        c->values[st->outs[j]] = args[st->n_in + j] = o;  /* the slot owns it */
        out += ndim + 2;
    }
    for (Py_ssize_t k = 0; k < n_args; k++) {
        data[k] = PyArray_BYTES((PyArrayObject *)args[k]);
        npy_intp size = PyArray_SIZE((PyArrayObject *)args[k]);
        work = size > work ? size : work;
    }
    for (Py_ssize_t k = 0; k < n_pieces; k++)  /* outputs that are views of one array */
        data[st->n_in + k] =
            PyArray_BYTES((PyArrayObject *)args[st->n_in + pieces[2 * k]]) + pieces[2 * k + 1];
    if (!st->fn) {  /* NumPy writes the outputs (a matrix product through its BLAS) */
        PyObject *none = PyObject_Vectorcall(st->writer, args, (size_t)n_args, NULL);
        if (!none) goto fail;
        Py_DECREF(none);
    } else if (work >= RELEASE_GIL_ELEMENTS) {
        Py_BEGIN_ALLOW_THREADS
        st->fn(sizes, strides, data);
        Py_END_ALLOW_THREADS
    } else {
        st->fn(sizes, strides, data);
    }
    for (Py_ssize_t k = 0; viewed && k < st->n_in; k++) Py_DECREF(args[k]);
    if (args != args_stack) PyMem_Free(args), PyMem_Free(data);
    Py_DECREF(plan);
    return 0;
fail:
    for (Py_ssize_t k = 0; viewed && k < done && k < st->n_in; k++) Py_DECREF(args[k]);
    if (args != args_stack) PyMem_Free(args), PyMem_Free(data);
    Py_DECREF(plan);
    return -1;
}

/* The pending exception, normalized, with its traceback attached. */
typedef struct { PyObject *type, *error, *traceback; } Pending;

static Pending fetch_pending(void) {
    Pending e;
    PyErr_Fetch(&e.type, &e.error, &e.traceback);
    PyErr_NormalizeException(&e.type, &e.error, &e.traceback);
    if (e.traceback) PyException_SetTraceback(e.error, e.traceback);
    return e;
}

/* Raise `explained` (a new reference, or NULL where the call making it failed) from the
 * fetched exception e; keep e where explained is not an exception. */
static void raise_explained(Pending e, PyObject *explained) {
    if (explained && PyExceptionInstance_Check(explained)) {
        Py_INCREF(e.error);
        PyException_SetCause(explained, e.error);  /* raise explained from error */
        PyException_SetContext(explained, e.error);
        PyErr_SetObject((PyObject *)Py_TYPE(explained), explained);
        Py_DECREF(explained);
        Py_XDECREF(e.type), Py_XDECREF(e.traceback);
    } else if (explained) {  /* the explanation must be an exception: keep the original */
        Py_DECREF(explained);
        PyErr_Restore(e.type, e.error, e.traceback);
    } else {  /* the explanation itself failed: its exception is pending */
        Py_XDECREF(e.type), Py_XDECREF(e.error), Py_XDECREF(e.traceback);
    }
}

/* Replace the pending exception by fail(k, inputs, error), raised from it. */
static void explain_failure(Runner *r, Py_ssize_t k, PyObject **inputs) {
    Pending e = fetch_pending();
    Step *st = &r->steps[k];
    PyObject *args = PyTuple_New(st->n_in);
    if (args) {
        for (Py_ssize_t i = 0; i < st->n_in; i++) {
            PyObject *v = inputs[i] ? inputs[i] : Py_None;
            Py_INCREF(v);
            PyTuple_SET_ITEM(args, i, v);
        }
    }
    PyObject *explained = args ? PyObject_CallFunction(r->fail, "nOO", k, args, e.error) : NULL;
    Py_XDECREF(args);
    raise_explained(e, explained);
}

/* The result at position j: the value itself when it is ours alone (or the last call's array,
 * which this call wrote), else a copy. */
static PyObject *fresh(PyObject *v, PyObject *reused) {
    if (v == reused || ours_alone(v)) {
        Py_INCREF(v);
        return v;
    }
    return PyArray_NewCopy((PyArrayObject *)v, NPY_CORDER);
}

/* Every step in order on the call's slots (the leaves and constants in theirs), each value
 * dropped after its last reader; 0, or -1 with the failing step's error explained. */
/* Before the first donor step: plan every donor step (all their inputs exist by then, and
 * none reads another's output). Where one has no plan (its NumPy reference would run, and
 * could fail after another wrote a leaf), none writes in place this call. */
static void plan_donors(Runner *r, Call *c) {
    for (Py_ssize_t k = r->first_donor; k < r->n_steps; k++) {
        Step *st = &r->steps[k];
        PyObject *inputs[ON_STACK];
        if (st->planner == Py_None || st->n_in > ON_STACK) { c->donated = NULL; return; }
        for (Py_ssize_t i = 0; i < st->n_in; i++) inputs[i] = c->values[st->ins[i]];
        if (ensure_plan(st, inputs) < 0) PyErr_Clear();  /* raised again when the step runs */
        if (!st->plan || st->plan == Py_None) { c->donated = NULL; return; }
    }
}

static int run_steps(Runner *r, Call *c, double *times) {
    for (Py_ssize_t k = 0; k < r->n_steps; k++) {
        Step *st = &r->steps[k];
        if (k == r->first_donor && c->donated) plan_donors(r, c);
        double start = times ? now() : 0.0;
        PyObject *inputs_stack[ON_STACK], **inputs = inputs_stack;
        if (st->n_in > ON_STACK && !(inputs = PyMem_Malloc((size_t)st->n_in * sizeof(PyObject *)))) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < st->n_in; i++) inputs[i] = c->values[st->ins[i]];
        int status = st->planner != Py_None ? run_planned(r, st, c, inputs)
                                            : run_python(st, c, inputs);
        if (status < 0) explain_failure(r, k, inputs);
        if (inputs != inputs_stack) PyMem_Free(inputs);
        if (status < 0) return -1;
        for (Py_ssize_t i = 0; i < st->n_dead; i++) {
            PyObject *v = c->values[st->dead[i]];
            c->values[st->dead[i]] = NULL;
            if (v) release(r, c, v);
        }
        if (times) times[k] += now() - start;
    }
    return 0;
}

static PyObject *run(Runner *r, PyObject *const *leaves, Py_ssize_t n_leaves, double *times,
                     PyObject *donated) {
    if (n_leaves != r->n_leaves)
        return PyErr_Format(PyExc_TypeError, "the schedule takes %zd leaves, got %zd",
                            r->n_leaves, n_leaves);
    PyObject *stack[3 * ON_STACK], **memory = stack, *result = NULL;
    size_t need = (size_t)(r->n_slots + r->max_pool + 2 * r->n_outputs);
    if (need > 3 * ON_STACK && !(memory = PyMem_Malloc(need * sizeof(PyObject *))))
        return PyErr_NoMemory();
    memset(memory, 0, need * sizeof(PyObject *));
    Call c = {memory, memory + r->n_slots, 0, memory + r->n_slots + r->max_pool, 0, donated};
    PyObject **reused = c.reuse + r->n_outputs;  /* what `reuse` held before steps took it */
    for (Py_ssize_t i = 0; i < r->n_leaves; i++) {
        if (!PyArray_Check(leaves[i])) {  /* trust_input skips conversion, not this */
            PyErr_Format(PyExc_TypeError, "leaf %zd is a %.100s, not a NumPy array", i,
                         Py_TYPE(leaves[i])->tp_name);
            goto done;
        }
        Py_INCREF(leaves[i]);
        c.values[r->leaf_slots[i]] = leaves[i];
    }
    for (Py_ssize_t i = 0; i < r->n_constants; i++) {
        PyObject *constant = PyTuple_GET_ITEM(r->constants, i);
        Py_INCREF(constant);
        c.values[r->constant_slots[i]] = constant;
    }
    for (Py_ssize_t j = 0; j < r->n_outputs; j++) {  /* last call's outputs we may write */
        PyObject *kept = r->kept[j];
        r->kept[j] = NULL;
        if (kept && !r->borrow && Py_REFCNT(kept) > 1) Py_CLEAR(kept);  /* the caller's now */
        for (Py_ssize_t i = 0; kept && r->borrow && i < r->n_leaves; i++)  /* read again */
            if (overlaps((PyArrayObject *)leaves[i], (PyArrayObject *)kept)) Py_CLEAR(kept);
        reused[j] = c.reuse[j] = kept;
    }
    if (run_steps(r, &c, times) < 0) goto done;
    result = PyTuple_New(r->n_results);
    for (Py_ssize_t j = 0; result && j < r->n_results; j++) {
        PyObject *v = c.values[r->result_slots[j]];
        /* a donated leaf written in place is the caller's own array, returned as it is */
        PyObject *out = is_donated(&c, v) ? (Py_INCREF(v), v)
                                          : fresh(v, j < r->n_outputs ? reused[j] : NULL);
        if (!out) Py_CLEAR(result);
        else PyTuple_SET_ITEM(result, j, out);
    }
    if (result) {
        for (Py_ssize_t j = 0; j < r->n_outputs; j++) {
            PyObject *out = PyTuple_GET_ITEM(result, j);
            Py_INCREF(out);
            Py_XSETREF(r->kept[j], out);
        }
    }
done:
    for (Py_ssize_t s = 0; s < r->n_slots; s++) Py_XDECREF(c.values[s]);
    for (Py_ssize_t k = 0; k < c.n_pool; k++) Py_DECREF(c.pool[k]);
    for (Py_ssize_t j = 0; j < r->n_outputs; j++) Py_XDECREF(c.reuse[j]);
    if (memory != stack) PyMem_Free(memory);
    return result;
}
