/* A loop run by the runner: the schedule of one step of a Scan, run n times in C (see
 * runtime/loops.py, NativeLoop). It follows runner.c in one translation unit.
 *
 * Runner.loop(n, reverse, sequences, states, fixed, rows, failed, wrong_shape): step t (t = 0 …
 * n−1, or n−1 … 0 with reverse) runs the schedule on the leaves (row t of each sequence, the
 * states, the non-sequences); its results are the states after the step, then the mapped
 * outputs. rows[j] is None, or the (n, …) array whose row t receives result j: the row is
 * offered to the node computing result j as its output (a planned step writes it there
 * directly) and the value is copied into it otherwise. A state's next value is its row where
 * it has one, else the result itself. Returns the states after the last step.
 *
 * Memory lives for the whole loop: a step's dead intermediates, and results nothing keeps, go
 * to a pool the later steps take their outputs from (the states of two steps back, typically),
 * so a loop of T steps allocates what one step needs, not T times that.
 *
 * failed(t, error) gives the exception to raise from a step's error (naming the step);
 * wrong_shape(t, j, value) the one to raise when result j does not have the shape of its
 * state or of its rows (states keep their shape from step to step, as Scan requires).
 */

/* Row t of a (n, …) array: a view keeping the array alive. */
static PyObject *row_of(PyArrayObject *a, npy_intp t) {
    return view_of(a, PyArray_NDIM(a) - 1, PyArray_DIMS(a) + 1, PyArray_STRIDES(a) + 1,
                   t * PyArray_STRIDES(a)[0]);
}

static int same_shape(PyArrayObject *a, PyArrayObject *b) {
    return PyArray_NDIM(a) == PyArray_NDIM(b) &&
           PyArray_CompareLists(PyArray_DIMS(a), PyArray_DIMS(b), PyArray_NDIM(a));
}

/* 0 when every item of the tuple is an array (with at least `rows` entries along axis 0 where
 * rows ≥ 0; exactly `rows`, writeable and C-contiguous where `exact`), or None where
 * `none_ok`; else -1 with an error naming the item. */
static int check_arrays(PyObject *items, const char *what, npy_intp rows, int exact,
                        int none_ok) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); i++) {
        PyObject *v = PyTuple_GET_ITEM(items, i);
        if (none_ok && v == Py_None) continue;
        if (!PyArray_Check(v)) {
            PyErr_Format(PyExc_TypeError, "loop: %s %zd is a %.100s, not a NumPy array", what, i,
                         Py_TYPE(v)->tp_name);
            return -1;
        }
        PyArrayObject *a = (PyArrayObject *)v;
        if (rows < 0) continue;
        npy_intp length = PyArray_NDIM(a) ? PyArray_DIMS(a)[0] : -1;
        if (length < rows || (exact && length != rows)) {
            PyErr_Format(PyExc_ValueError, "loop: %s %zd has %zd rows for %zd steps", what, i,
                         (Py_ssize_t)length, (Py_ssize_t)rows);
            return -1;
        }
        if (exact && !PyArray_ISCARRAY(a)) {  /* kernels write rows as C-contiguous arrays */
            PyErr_Format(PyExc_ValueError, "loop: %s %zd is not a writeable C-contiguous array",
                         what, i);
            return -1;
        }
    }
    return 0;
}

static PyObject *Runner_loop(Runner *r, PyObject *args) {
    Py_ssize_t n;
    int reverse;
    PyObject *sequences, *initial, *fixed, *rows, *failed, *wrong_shape;
    if (!PyArg_ParseTuple(args, "npO!O!O!O!OO", &n, &reverse, &PyTuple_Type, &sequences,
                          &PyTuple_Type, &initial, &PyTuple_Type, &fixed, &PyTuple_Type, &rows,
                          &failed, &wrong_shape))
        return NULL;
    Py_ssize_t n_seq = PyTuple_GET_SIZE(sequences), n_states = PyTuple_GET_SIZE(initial);
    if (n < 0 || n_seq + n_states + PyTuple_GET_SIZE(fixed) != r->n_leaves ||
        PyTuple_GET_SIZE(rows) != r->n_results || r->n_results != r->n_outputs ||
        n_states > r->n_results)
        return PyErr_Format(PyExc_TypeError, "loop: the step takes %zd leaves and gives %zd "
                            "results, none of them updates", r->n_leaves, r->n_results);
    if (check_arrays(sequences, "sequence", n, 0, 0) < 0 ||
        check_arrays(initial, "state", -1, 0, 0) < 0 || check_arrays(fixed, "input", -1, 0, 0) < 0 ||
        check_arrays(rows, "stacked output", n, 1, 1) < 0)
        return NULL;
    /* slots, pool, the rows offered, the rows of this step, states, next states */
    size_t need = (size_t)(r->n_slots + r->max_pool + 2 * r->n_results + 2 * n_states);
    PyObject **memory = PyMem_Calloc(need ? need : 1, sizeof(PyObject *)), *result = NULL;
    if (!memory) return PyErr_NoMemory();
    Call c = {memory, memory + r->n_slots, 0, memory + r->n_slots + r->max_pool, 1, NULL};
    PyObject **dest = c.reuse + r->n_results, **states = dest + r->n_results;
    PyObject **next = states + n_states;
    for (Py_ssize_t j = 0; j < n_states; j++) {
        states[j] = PyTuple_GET_ITEM(initial, j);
        Py_INCREF(states[j]);
    }
    for (Py_ssize_t i = 0; i < r->n_constants; i++) {  /* constants never die: set once */
        PyObject *constant = PyTuple_GET_ITEM(r->constants, i);
        Py_INCREF(constant);
        c.values[r->constant_slots[i]] = constant;
    }
    const int64_t *seq_slots = r->leaf_slots, *state_slots = seq_slots + n_seq;
    const int64_t *fixed_slots = state_slots + n_states;
    for (Py_ssize_t step = 0; step < n; step++) {
        npy_intp t = reverse ? n - 1 - step : step;
        for (Py_ssize_t i = 0; i < n_seq; i++) {
            PyObject *row = row_of((PyArrayObject *)PyTuple_GET_ITEM(sequences, i), t);
            if (!row) goto done;
            c.values[seq_slots[i]] = row;
        }
        for (Py_ssize_t j = 0; j < n_states; j++) {
            Py_INCREF(states[j]);
            c.values[state_slots[j]] = states[j];
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fixed); i++) {
            PyObject *v = PyTuple_GET_ITEM(fixed, i);
            Py_INCREF(v);
            c.values[fixed_slots[i]] = v;
        }
        for (Py_ssize_t j = 0; j < r->n_results; j++) {
            PyObject *stacked = PyTuple_GET_ITEM(rows, j);
            if (stacked == Py_None) continue;
            if (!(dest[j] = row_of((PyArrayObject *)stacked, t))) goto done;
            Py_INCREF(dest[j]);
            c.reuse[j] = dest[j];
        }
        if (run_steps(r, &c, NULL) < 0) {
            Pending e = fetch_pending();
            raise_explained(e, PyObject_CallFunction(failed, "nO", (Py_ssize_t)t, e.error));
            goto done;
        }
        for (Py_ssize_t j = 0; j < r->n_results; j++) {
            PyArrayObject *v = (PyArrayObject *)c.values[r->result_slots[j]];
            PyArrayObject *row = (PyArrayObject *)dest[j];
            if ((j < n_states && !same_shape(v, (PyArrayObject *)states[j])) ||
                (row && !same_shape(v, row))) {
                PyObject *error = PyObject_CallFunction(wrong_shape, "nnO", (Py_ssize_t)t, j, v);
                if (error) PyErr_SetObject((PyObject *)Py_TYPE(error), error);
                Py_XDECREF(error);
                goto done;
            }
            /* a row already holding the value (the stack of a state's values before the
             * steps shares the state's own: runtime/loops.py) is not copied onto itself */
            if (row && row != v && PyArray_BYTES(row) != PyArray_BYTES(v) &&
                PyArray_CopyInto(row, v) < 0)
                goto done;
            if (j < n_states) {
                next[j] = row ? (PyObject *)row : (PyObject *)v;
                Py_INCREF(next[j]);
            }
        }
        /* the step's values go back to the pool (the results nothing keeps) or are dropped */
        for (Py_ssize_t s = 0; s < r->n_slots; s++) {
            PyObject *v = c.values[s];
            c.values[s] = NULL;
            if (v) release(r, &c, v);
        }
        for (Py_ssize_t i = 0; i < r->n_constants; i++) {
            PyObject *constant = PyTuple_GET_ITEM(r->constants, i);
            Py_INCREF(constant);
            c.values[r->constant_slots[i]] = constant;
        }
        for (Py_ssize_t j = 0; j < r->n_results; j++) {
            Py_CLEAR(c.reuse[j]);
            Py_CLEAR(dest[j]);
        }
        for (Py_ssize_t j = 0; j < n_states; j++) {  /* the old state may serve a later step */
            PyObject *old = states[j];
            states[j] = next[j];
            next[j] = NULL;
            release(r, &c, old);
        }
    }
    if ((result = PyTuple_New(n_states))) {
        for (Py_ssize_t j = 0; j < n_states; j++) {
            PyTuple_SET_ITEM(result, j, states[j]);
            states[j] = NULL;
        }
    }
done:
    for (Py_ssize_t s = 0; s < r->n_slots; s++) Py_XDECREF(c.values[s]);
    for (Py_ssize_t k = 0; k < c.n_pool; k++) Py_DECREF(c.pool[k]);
    for (Py_ssize_t j = 0; j < r->n_results; j++) Py_XDECREF(c.reuse[j]), Py_XDECREF(dest[j]);
    for (Py_ssize_t j = 0; j < n_states; j++) Py_XDECREF(states[j]), Py_XDECREF(next[j]);
    PyMem_Free(memory);
    return result;
}
