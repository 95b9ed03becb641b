/* Views the runner makes itself, and the copy of a concatenation into its planned output.
 * It follows runner.c in one translation unit (see runtime/native.py). */

/* A view of a's memory from `offset` bytes on, keeping a alive. */
static PyObject *view_of(PyArrayObject *a, int ndim, const npy_intp *shape,
                         const npy_intp *strides, npy_intp offset) {
    PyArray_Descr *descr = PyArray_DESCR(a);
    Py_INCREF(descr);
    PyObject *view = PyArray_NewFromDescr(&PyArray_Type, descr, ndim, (npy_intp *)shape,
                                          (npy_intp *)strides, PyArray_BYTES(a) + offset,
                                          PyArray_FLAGS(a) & NPY_ARRAY_WRITEABLE, NULL);
    if (!view) return NULL;
    Py_INCREF(a);
    if (PyArray_SetBaseObject((PyArrayObject *)view, (PyObject *)a) < 0) {
        Py_DECREF(view);
        return NULL;
    }
    return view;
}

/* A view step (a planned step with neither kernel nor writer): its output is a view of input
 * 0, whose place in it the plan gives as int64 bytes [offset, ndim, shape…, strides…]. */
static int run_view(Step *st, Call *c, PyObject **inputs, const int64_t *packed) {
    int ndim = (int)packed[1];
    npy_intp shape[NPY_MAXDIMS], strides[NPY_MAXDIMS];
    for (int d = 0; d < ndim; d++) shape[d] = packed[2 + d], strides[d] = packed[2 + ndim + d];
    PyObject *view = view_of((PyArrayObject *)inputs[0], ndim, shape, strides, packed[0]);
    if (!view) return -1;
    c->values[st->outs[0]] = view;
    return 0;
}

/* concatenate(axis, *inputs, out): the inputs copied side by side along `axis` into out, the
 * output the runner planned (runner_steps.py: same dtype, shapes that join). A C function, so
 * that a concatenation inside a loop's step runs no Python (its writer is a functools.partial
 * binding the axis). */
static PyObject *concatenate_into(PyObject *module, PyObject *const *args, Py_ssize_t n) {
    long axis = n >= 3 ? PyLong_AsLong(args[0]) : -1;
    if (PyErr_Occurred()) return NULL;
    PyArrayObject *out = n >= 3 && PyArray_Check(args[n - 1]) ? (PyArrayObject *)args[n - 1] : NULL;
    int ndim = out ? PyArray_NDIM(out) : 0;
    if (!out || axis < 0 || axis >= ndim)
        return PyErr_Format(PyExc_TypeError, "concatenate(axis, *inputs, out): an axis of out");
    npy_intp at = 0;
    for (Py_ssize_t k = 1; k < n - 1; k++) {
        PyArrayObject *x = PyArray_Check(args[k]) ? (PyArrayObject *)args[k] : NULL;
        int fits = x && PyArray_NDIM(x) == ndim && at + PyArray_DIMS(x)[axis] <= PyArray_DIMS(out)[axis];
        for (int d = 0; fits && d < ndim; d++)
            fits = d == axis || PyArray_DIMS(x)[d] == PyArray_DIMS(out)[d];
        if (!fits)
            return PyErr_Format(PyExc_ValueError, "concatenate: input %zd does not fit its place "
                                "in the output", k - 1);
        PyObject *place = view_of(out, ndim, PyArray_DIMS(x), PyArray_STRIDES(out),
                                  at * PyArray_STRIDES(out)[axis]);
        int status = place ? PyArray_CopyInto((PyArrayObject *)place, x) : -1;
        Py_XDECREF(place);
        if (status < 0) return NULL;
        at += PyArray_DIMS(x)[axis];
    }
    if (at != PyArray_DIMS(out)[axis])
        return PyErr_Format(PyExc_ValueError, "concatenate: the inputs fill %zd of %zd entries "
                            "along axis %ld", (Py_ssize_t)at, (Py_ssize_t)PyArray_DIMS(out)[axis], axis);
    Py_RETURN_NONE;
}
