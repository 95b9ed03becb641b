/* The Runner as a Python type: construction from the tables runtime/native.py packs, the
 * call methods, and the module. It follows the other runner_*.c files in one translation unit
 * (native.py joins them), so everything here is static, as there. */

static PyObject *Runner_call(Runner *r, PyObject *const *args, Py_ssize_t n) {
    return run(r, args, n, NULL, NULL);
}

/* call_donating(donated, *leaves): call(*leaves), where the donor steps (from first_donor on)
 * may write the leaves in the tuple `donated` in place (runtime/gemm_updates.py). */
static PyObject *Runner_call_donating(Runner *r, PyObject *const *args, Py_ssize_t n) {
    if (n < 1 || !PyTuple_Check(args[0]))
        return PyErr_Format(PyExc_TypeError, "call_donating(donated, *leaves): donated is a "
                            "tuple of leaves");
    return run(r, args + 1, n - 1, NULL, PyTuple_GET_SIZE(args[0]) ? args[0] : NULL);
}

static PyObject *Runner_timed(Runner *r, PyObject *const *args, Py_ssize_t n) {
    if (n < 1 || !PyArray_Check(args[0]) || PyArray_TYPE((PyArrayObject *)args[0]) != NPY_DOUBLE ||
        PyArray_SIZE((PyArrayObject *)args[0]) != r->n_steps ||
        !PyArray_ISCARRAY((PyArrayObject *)args[0]))
        return PyErr_Format(PyExc_TypeError, "timed(times, *leaves): times is a float64 array "
                            "of one entry per step");
    return run(r, args + 1, n - 1, (double *)PyArray_DATA((PyArrayObject *)args[0]), NULL);
}

/* The int64 entries of a bytes object (their count in *n), or NULL with an exception set. */
static const int64_t *int64s(PyObject *table, Py_ssize_t *n) {
    if (!PyBytes_Check(table) || PyBytes_GET_SIZE(table) % sizeof(int64_t)) {
        PyErr_SetString(PyExc_TypeError, "a table is bytes of int64 values");
        return NULL;
    }
    *n = PyBytes_GET_SIZE(table) / (Py_ssize_t)sizeof(int64_t);
    return (const int64_t *)PyBytes_AS_STRING(table);
}

/* 0 when the n entries lie in [low, high), else -1 with a ValueError naming `what`. */
static int check_range(const int64_t *v, Py_ssize_t n, int64_t low, int64_t high,
                       const char *what) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (v[i] < low || v[i] >= high) {
            PyErr_Format(PyExc_ValueError, "runner table: %s %lld out of [%lld, %lld)", what,
                         (long long)v[i], (long long)low, (long long)high);
            return -1;
        }
    }
    return 0;
}

static int init_step(Runner *r, Step *st, PyObject *spec) {
    PyObject *address;
    if (!PyArg_ParseTuple(spec, "OOOOO", &address, &st->callable, &st->planner, &st->writer,
                          &st->table))
        return -1;
    Py_INCREF(st->callable), Py_INCREF(st->planner), Py_INCREF(st->writer);
    Py_INCREF(st->table);
    st->key_len = -1;
    st->fn = (kernel_fn)PyLong_AsVoidPtr(address);
    Py_ssize_t n;
    const int64_t *t = int64s(st->table, &n);
    if (PyErr_Occurred() || !t) return -1;
    if (n < 3 || check_range(t, 3, 0, n, "count") < 0) return -1;
    st->n_in = t[0], st->n_out = t[1], st->n_dead = t[2];
    if (n != 3 + 2 * st->n_in + 2 * st->n_out + st->n_dead) {
        PyErr_SetString(PyExc_ValueError, "runner table: a step's table has the wrong length");
        return -1;
    }
    st->ins = t + 3, st->outs = st->ins + st->n_in, st->dead = st->outs + st->n_out;
    st->dies = st->dead + st->n_dead, st->result_of = st->dies + st->n_in;
    if (check_range(st->ins, st->n_in + st->n_out + st->n_dead, 0, r->n_slots, "slot") < 0 ||
        check_range(st->dies, st->n_in, 0, 2, "flag") < 0 ||
        check_range(st->result_of, st->n_out, -1, r->n_outputs, "result") < 0)
        return -1;
    r->max_pool += st->n_out;
    return 0;
}

/* Runner(table, constants, steps, fail, borrow): the tables are described at the structs;
 * steps are (kernel address or 0, callable, planner or None, writer or None, table). */
static int Runner_init(Runner *r, PyObject *args, PyObject *kwargs) {
    PyObject *steps;
    int borrow;
    if (r->steps || r->table) {
        PyErr_SetString(PyExc_TypeError, "a Runner is initialized once");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "SO!OOp", &r->table, &PyTuple_Type, &r->constants, &steps,
                          &r->fail, &borrow))
        return -1;
    Py_INCREF(r->table), Py_INCREF(r->constants), Py_INCREF(r->fail);
    r->borrow = borrow;
    Py_ssize_t n;
    const int64_t *t = int64s(r->table, &n);
    if (!t) return -1;
    r->n_constants = PyTuple_GET_SIZE(r->constants);
    if (n < 4 || n != 4 + t[1] + t[2] + r->n_constants || t[0] < 0 || t[1] < 0 ||
        t[3] < 0 || t[3] > t[2]) {
        PyErr_SetString(PyExc_ValueError, "runner table: wrong length or counts");
        return -1;
    }
    r->n_slots = t[0], r->n_leaves = t[1], r->n_results = t[2], r->n_outputs = t[3];
    r->leaf_slots = t + 4, r->result_slots = r->leaf_slots + r->n_leaves;
    r->constant_slots = r->result_slots + r->n_results;
    if (check_range(r->leaf_slots, n - 4, 0, r->n_slots, "slot") < 0) return -1;
    for (Py_ssize_t i = 0; i < r->n_constants; i++) {
        if (!PyArray_Check(PyTuple_GET_ITEM(r->constants, i))) {
            PyErr_SetString(PyExc_TypeError, "constants must be NumPy arrays");
            return -1;
        }
    }
    if (!(r->kept = PyMem_Calloc((size_t)r->n_outputs + 1, sizeof(PyObject *)))) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *fast = PySequence_Fast(steps, "steps must be a sequence");
    if (!fast) return -1;
    r->n_steps = PySequence_Fast_GET_SIZE(fast);
    r->steps = PyMem_Calloc((size_t)r->n_steps + 1, sizeof(Step));
    for (Py_ssize_t k = 0; r->steps && k < r->n_steps; k++) {
        if (init_step(r, &r->steps[k], PySequence_Fast_GET_ITEM(fast, k)) < 0) {
            r->n_steps = k + 1;  /* what dealloc frees */
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    if (!r->steps) {
        PyErr_NoMemory();
        return -1;
    }
    r->first_donor = r->n_steps;
    return 0;
}

static void Runner_dealloc(Runner *r) {
    for (Py_ssize_t k = 0; r->steps && k < r->n_steps; k++) {
        Step *st = &r->steps[k];
        Py_XDECREF(st->callable), Py_XDECREF(st->planner), Py_XDECREF(st->writer);
        Py_XDECREF(st->table), Py_XDECREF(st->plan);
        PyMem_Free(st->key);
    }
    for (Py_ssize_t j = 0; r->kept && j < r->n_outputs; j++) Py_XDECREF(r->kept[j]);
    PyMem_Free(r->steps), PyMem_Free(r->kept);
    Py_XDECREF(r->table), Py_XDECREF(r->constants), Py_XDECREF(r->fail);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyObject *Runner_get_borrow(Runner *r, void *closure) {
    return PyBool_FromLong(r->borrow);
}

static int Runner_set_borrow(Runner *r, PyObject *value, void *closure) {
    int on = value ? PyObject_IsTrue(value) : 0;
    if (on < 0) return -1;
    r->borrow = on;
    return 0;
}

static PyObject *Runner_get_first_donor(Runner *r, void *closure) {
    return PyLong_FromSsize_t(r->first_donor);
}

static int Runner_set_first_donor(Runner *r, PyObject *value, void *closure) {
    Py_ssize_t k = value ? PyLong_AsSsize_t(value) : -1;
    if (k == -1 && PyErr_Occurred()) return -1;
    if (k < 0 || k > r->n_steps) {
        PyErr_SetString(PyExc_ValueError, "first_donor is a step index, or the step count");
        return -1;
    }
    r->first_donor = k;
    return 0;
}

static PyObject *Runner_get_counts(Runner *r, void *closure) {
    PyObject *counts = PyDict_New();
    for (int k = 0; counts && k < 4; k++) {
        PyObject *n = PyLong_FromSsize_t(r->counts[k]);
        if (!n || PyDict_SetItemString(counts, COUNT_NAMES[k], n) < 0) Py_CLEAR(counts);
        Py_XDECREF(n);
    }
    return counts;
}

static PyMethodDef Runner_methods[] = {
    {"call", (PyCFunction)(void (*)(void))Runner_call, METH_FASTCALL,
     "call(*leaves): the results (outputs, then update values) as a tuple of fresh arrays"},
    {"call_donating", (PyCFunction)(void (*)(void))Runner_call_donating, METH_FASTCALL,
     "call_donating(donated, *leaves): call(*leaves), the donor steps writing the donated "
     "leaves in place"},
    {"timed", (PyCFunction)(void (*)(void))Runner_timed, METH_FASTCALL,
     "timed(times, *leaves): call(*leaves), adding each step's seconds to times[k]"},
    {"loop", (PyCFunction)Runner_loop, METH_VARARGS,
     "loop(n, reverse, sequences, states, fixed, rows, failed, wrong_shape): the schedule as "
     "a loop's step, run n times (runner_loop.c); the states after the last step"},
    {NULL},
};

static PyGetSetDef Runner_getset[] = {
    {"borrow", (getter)Runner_get_borrow, (setter)Runner_set_borrow,
     "outputs may be written in place by the next call", NULL},
    {"first_donor", (getter)Runner_get_first_donor, (setter)Runner_set_first_donor,
     "the steps from this index on may write donated leaves in place", NULL},
    {"counts", (getter)Runner_get_counts, NULL,
     "where planned outputs came from so far: in_place, reused, pooled, allocated", NULL},
    {NULL},
};

static PyTypeObject RunnerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "symbolic_runner.Runner",
    .tp_doc = "A compiled schedule run in one call (runtime/runner.c)",
    .tp_basicsize = sizeof(Runner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Runner_init,
    .tp_dealloc = (destructor)Runner_dealloc,
    .tp_methods = Runner_methods,
    .tp_getset = Runner_getset,
};

static PyMethodDef module_functions[] = {
    {"concatenate", (PyCFunction)(void (*)(void))concatenate_into, METH_FASTCALL,
     "concatenate(axis, *inputs, out): the inputs side by side along axis, written into out"},
    {"bind_blas", bind_blas, METH_VARARGS,
     "bind_blas(sgemm, dgemm, wide, sgemm_compute, dgemm_compute): the CBLAS functions the "
     "product kernels call"},
    {"gemm_kernels", gemm_kernels, METH_NOARGS,
     "gemm_kernels(): the addresses of the product kernels (float32, float64, then packed)"},
    {NULL},
};

static struct PyModuleDef runner_module = {
    PyModuleDef_HEAD_INIT, "symbolic_runner", "See runtime/native.py.", -1, module_functions,
};

#ifndef SYMBOLIC_RUNNER_DIGEST
#define SYMBOLIC_RUNNER_DIGEST ""
#endif

PyMODINIT_FUNC PyInit_symbolic_runner(void) {
    import_array();
    if (PyType_Ready(&RunnerType) < 0) return NULL;
    PyObject *module = PyModule_Create(&runner_module);
    if (!module) return NULL;
    /* the digest of the sources it was built from, where setup.py built it (runner_source.py) */
    if (PyModule_AddStringConstant(module, "SOURCE_DIGEST", SYMBOLIC_RUNNER_DIGEST) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&RunnerType);
    if (PyModule_AddObject(module, "Runner", (PyObject *)&RunnerType) < 0) {
        Py_DECREF(&RunnerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
