"""Indexing, set_subtensor and inc_subtensor against NumPy.

On the cpu device integer-array indexing runs the generated gather kernel and set/inc_subtensor
the scatter kernel (docs/kernels.md); `run_kernel` checks that they do.
"""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from harness import run

import symbolic as S
from symbolic.codegen.prelude import PARALLEL_MIN
from symbolic.indexing import IncSubtensor, Subtensor

IDX = np.array([0, 2, 2, -1])
LABELS = np.array([1, 0, 3, 3, 2])


def kinds(f) -> set:
    return {k.description.kind for k in f.kernels}


def compile_kernel(inputs, outputs, device: str, kind: str):
    """S.compile, checking on the cpu device that it made a `kind` ("gather", "scatter")
    kernel."""
    f = S.compile(inputs, outputs, device=device)
    if device == "cpu":
        assert kind in kinds(f), [k.name for k in f.kernels]
    return f


@contextmanager
def kernels_only(device: str):
    """On the cpu device, fail where a gather or scatter node runs its NumPy reference instead
    of its kernel (a missing plan, or a kernel that reports a bad index it does not have)."""
    if device != "cpu":
        yield
        return
    basic = Subtensor.perform

    def subtensor(op, *arrays):
        assert op.name != "advanced_subtensor", "the gather ran its NumPy reference"
        return basic(op, *arrays)

    def inc_subtensor(op, *arrays):
        raise AssertionError(f"the scatter {op.name} ran its NumPy reference")

    with mock.patch.object(Subtensor, "perform", subtensor):
        with mock.patch.object(IncSubtensor, "perform", inc_subtensor):
            yield


def run_kernel(outputs, inputs_values: dict, device: str, kind: str):
    """`run`; on the cpu device, every gather and scatter must run its kernel."""
    f = compile_kernel(list(inputs_values), outputs, device, kind)
    with kernels_only(device):
        return f(*inputs_values.values())


# (id, index applied to both the symbolic tensor and the (4, 5) / (5, 4) NumPy array)
# fmt: off
BASIC = [
    ("int", lambda x: x[1]), ("negative_int", lambda x: x[-1]), ("int_int", lambda x: x[1, 2]),
    ("slice", lambda x: x[1:3]), ("slice_open", lambda x: x[2:]), ("slice_neg", lambda x: x[-3:-1]),
    ("slice_step", lambda x: x[::2]), ("reverse", lambda x: x[::-1]),
    ("reverse_cols_step", lambda x: x[:, ::-2]), ("neg_step_bounds", lambda x: x[3:0:-1]),
    ("column", lambda x: x[:, 0]), ("row_slice_col", lambda x: x[1:, -1]),
    ("none_front", lambda x: x[None]), ("none_middle", lambda x: x[:, None, 1:3]),
    ("int_none", lambda x: x[2, None]), ("empty_slice", lambda x: x[3:1]),
    ("slice_past_end", lambda x: x[2:10]),
]
# fmt: on


@pytest.mark.parametrize("index", [b[1] for b in BASIC], ids=[b[0] for b in BASIC])
def test_basic_index_matches_numpy(index, device, rng):
    x = S.matrix("x", "float64")
    v = rng.standard_normal((4, 5))
    out = run(index(x), {x: v}, device)
    np.testing.assert_array_equal(out, index(v))
    assert np.shape(out) == np.shape(index(v))


@pytest.mark.parametrize("index", [b[1] for b in BASIC[:12]], ids=[b[0] for b in BASIC[:12]])
def test_basic_index_of_static_shape_matches_numpy(index, device, rng):
    x = S.tensor("x", "float32", (4, 5))
    v = rng.standard_normal((4, 5)).astype(np.float32)
    out = run(index(x), {x: v}, device)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, index(v))


def test_symbolic_scalar_index(device, rng):
    x, i = S.matrix("x", "float64"), S.tensor("i", "int64", ())
    v = rng.standard_normal((4, 5))
    f = S.compile([x, i], [x[i], x[:, i], x[i:]], device=device)
    for k in (0, 3, -2):
        for out, ref in zip(f(v, k), [v[k], v[:, k], v[k:]]):
            np.testing.assert_array_equal(out, ref)


def test_integer_array_index_with_repeats(device, rng):
    x, idx = S.matrix("x", "float64"), S.vector("idx", "int64")
    v = rng.standard_normal((4, 5))
    out = run_kernel([x[idx], x[:, idx]], {x: v, idx: IDX}, device, "gather")
    np.testing.assert_array_equal(out[0], v[IDX])
    np.testing.assert_array_equal(out[1], v[:, IDX])


def test_constant_index_array(device, rng):
    x = S.matrix("x", "float64")
    v = rng.standard_normal((4, 5))
    out = run_kernel(x[S.constant(IDX)], {x: v}, device, "gather")
    np.testing.assert_array_equal(out, v[IDX])


def test_arange_labels_picks_one_per_row(device, rng):
    x, labels = S.matrix("x", "float64"), S.vector("labels", "int64")
    v = rng.standard_normal((5, 4))
    out = run_kernel(x[S.arange(x.shape[0]), labels], {x: v, labels: LABELS}, device, "gather")
    np.testing.assert_array_equal(out, v[np.arange(5), LABELS])


def test_set_subtensor_slice(device, rng):
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    vx, vy = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    out, same_x = run_kernel([S.set_subtensor(x[1:3], y), x], {x: vx, y: vy}, device, "scatter")
    ref = vx.copy()
    ref[1:3] = vy
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(same_x, vx)  # functional: x itself is unchanged


def test_set_subtensor_broadcasts_value(device, rng):
    x = S.matrix("x", "float64")
    vx = rng.standard_normal((4, 5))
    out = run_kernel(S.set_subtensor(x[:, 1], 0.0), {x: vx}, device, "scatter")
    ref = vx.copy()
    ref[:, 1] = 0
    np.testing.assert_array_equal(out, ref)


def test_set_subtensor_arange_labels(device, rng):
    x, labels = S.matrix("x", "float64"), S.vector("labels", "int64")
    vx = rng.standard_normal((5, 4))
    out = run_kernel(
        S.set_subtensor(x[S.arange(5), labels], -1.0), {x: vx, labels: LABELS}, device, "scatter"
    )
    ref = vx.copy()
    ref[np.arange(5), LABELS] = -1
    np.testing.assert_array_equal(out, ref)


def test_inc_subtensor_slice(device, rng):
    x, y = S.matrix("x", "float64"), S.vector("y", "float64")
    vx, vy = rng.standard_normal((4, 5)), rng.standard_normal(5)
    out = run_kernel(S.inc_subtensor(x[::-2], y), {x: vx, y: vy}, device, "scatter")
    ref = vx.copy()
    ref[::-2] += vy
    np.testing.assert_allclose(out, ref, rtol=1e-15)


def test_inc_subtensor_repeated_indices_accumulate(device, rng):
    x, y, idx = S.matrix("x", "float64"), S.matrix("y", "float64"), S.vector("idx", "int64")
    vx, vy = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    out = run_kernel(S.inc_subtensor(x[idx], y), {x: vx, y: vy, idx: IDX}, device, "scatter")
    ref = vx.copy()
    np.add.at(ref, IDX, vy)
    np.testing.assert_allclose(out, ref, rtol=1e-14)


def test_inc_subtensor_repeated_pairs_accumulate(device):
    x = S.matrix("x", "float64")
    rows, cols = np.array([0, 0, 1, 0]), np.array([1, 1, 2, 1])
    target = x[S.constant(rows), S.constant(cols)]
    out = run_kernel(S.inc_subtensor(target, 1.0), {x: np.zeros((2, 3))}, device, "scatter")
    ref = np.zeros((2, 3))
    np.add.at(ref, (rows, cols), 1.0)
    np.testing.assert_array_equal(out, ref)


def test_index_keeps_dtype(device):
    x = S.vector("x", "int8")
    out = run(x[1:], {x: np.array([1, 2, 3], np.int8)}, device)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, [2, 3])


def test_static_index_out_of_bounds_raises():
    x = S.tensor("x", "float32", (3, 4))
    with pytest.raises((IndexError, ValueError)):
        x[5]


def test_too_many_indices_raises():
    x = S.vector("x")
    with pytest.raises((IndexError, ValueError)):
        x[0, 1]


# ---- gathers and scatters: every index form, dtype and layout ----------------------------------

INDEX_DTYPES = ["int64", "int32", "int16", "int8", "uint8"]
VALUE_DTYPES = ["float32", "float64", "int64", "int32", "int8", "uint8", "bool"]
I3 = np.array([2, -1, 0, 2])  # fits every axis of the (3, 4, 5) tensor, counts from the end

# (id, key(index) applied to a (3, 4, 5) tensor, symbolic and NumPy alike)
# fmt: off
MIXED = [
    ("array", lambda i: (i,)), ("array_middle", lambda i: (slice(None), i)),
    ("array_last", lambda i: (Ellipsis, i)), ("slice_then_array", lambda i: (slice(1, None), i)),
    ("reversed_slice", lambda i: (slice(None, None, -1), i)),
    ("int_next_to_array", lambda i: (slice(None), 1, i)),  # the broadcast axes stay in place
    ("int_apart_from_array", lambda i: (1, slice(None), i)),  # the broadcast axes go first
    ("arrays_apart", lambda i: (i, slice(None), i)),
    ("negative_int", lambda i: (i, -1)), ("newaxis", lambda i: (None, i, slice(None, None, 2))),
    ("two_d_index", lambda i: (i.reshape((2, 2)), slice(1, 3))),
]
# fmt: on


def sample(rng, dtype: str, shape) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("float32", "float64"):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), shape).astype(dtype)


@pytest.mark.parametrize("key", [m[1] for m in MIXED], ids=[m[0] for m in MIXED])
def test_gather_and_scatter_with_basic_indices_match_numpy(key, device, rng):
    x, i = S.tensor3("x", "float64"), S.vector("i", "int64")
    vx = rng.standard_normal((3, 4, 5))
    vy = rng.standard_normal(vx[key(I3)].shape)
    y = S.tensor("y", "float64", (None,) * vy.ndim)
    gathered = run_kernel(x[key(i)], {x: vx, i: I3}, device, "gather")
    np.testing.assert_array_equal(gathered, vx[key(I3)])
    added = run_kernel(S.inc_subtensor(x[key(i)], y), {x: vx, y: vy, i: I3}, device, "scatter")
    ref = vx.copy()
    np.add.at(ref, key(I3), vy)  # I3 repeats 2: both values add there
    np.testing.assert_allclose(added, ref, rtol=1e-15)
    unique = np.array([2, -2, 0, 1])  # NumPy does not say which of repeated sets wins
    put = run_kernel(S.set_subtensor(x[key(i)], y), {x: vx, y: vy, i: unique}, device, "scatter")
    ref = vx.copy()
    ref[key(unique)] = vy
    np.testing.assert_array_equal(put, ref)


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_index_dtypes_gather_and_scatter(index_dtype, device, rng):
    x, idx = S.matrix("x", "float64"), S.vector("idx", index_dtype)
    signed = np.iinfo(index_dtype).min < 0
    values = np.array([-1, 0, -4, 3, 3] if signed else [3, 0, 3, 1], index_dtype)
    vx = rng.standard_normal((4, 5))
    out = run_kernel([x[idx], x[:, idx]], {x: vx, idx: values}, device, "gather")
    np.testing.assert_array_equal(out[0], vx[values])
    np.testing.assert_array_equal(out[1], vx[:, values])
    added = run_kernel(S.inc_subtensor(x[:, idx], 1.0), {x: vx, idx: values}, device, "scatter")
    ref = vx.copy()
    np.add.at(ref, (slice(None), values), 1.0)
    np.testing.assert_array_equal(added, ref)


@pytest.mark.parametrize("dtype", VALUE_DTYPES)
def test_value_dtypes_gather_and_scatter(dtype, device, rng):
    x, v, idx = S.matrix("x", dtype), S.matrix("v", dtype), S.vector("idx", "int32")
    vx, vv = sample(rng, dtype, (4, 5)), sample(rng, dtype, (4, 5))
    values = {x: vx, v: vv, idx: IDX.astype(np.int32)}
    gathered = run_kernel([x[idx], x[idx, 1:]], {x: vx, idx: values[idx]}, device, "gather")
    assert gathered[0].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(gathered[0], vx[IDX])
    np.testing.assert_array_equal(gathered[1], vx[IDX, 1:])
    added = run_kernel(S.inc_subtensor(x[idx], v), values, device, "scatter")
    ref = vx.copy()
    np.add.at(ref, IDX, vv)  # integers wrap; booleans add as logical or
    assert added.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(added, ref)


@pytest.mark.parametrize(
    "dtype, value_dtype, values",
    [
        ("int32", "float64", [2.7, -2.7, 0.5, -0.5]),  # truncated toward zero, as astype
        ("int8", "int64", [300, -129, 127, 1]),  # wrapped
        ("bool", "float64", [0.0, -0.0, 0.25, np.nan]),  # nonzero (NaN too) is True
        ("float32", "float64", [1e-46, 0.1, 3e38, -1e39]),  # rounded, to 0 or ±inf at the ends
    ],
)
@pytest.mark.parametrize("mode", ["set", "inc"])
def test_scatter_converts_values_as_astype(dtype, value_dtype, values, mode, device):
    x, v = S.vector("x", dtype), S.vector("v", value_dtype)
    fn = S.set_subtensor if mode == "set" else S.inc_subtensor
    vx, vv = np.ones(5, dtype), np.array(values, value_dtype)
    where = np.array([4, 0, 2, 1])
    with np.errstate(all="ignore"):
        out = run_kernel(fn(x[S.constant(where)], v), {x: vx, v: vv}, device, "scatter")
        ref = vx.copy()
        if mode == "set":
            ref[where] = vv.astype(dtype)
        else:
            np.add.at(ref, where, vv.astype(dtype))
    np.testing.assert_array_equal(out, ref)


def test_broadcast_index_arrays(device, rng):
    x, r, c = S.matrix("x", "float64"), S.matrix("r", "int64"), S.matrix("c", "int64")
    vx = rng.standard_normal((4, 5))
    rows, cols = np.array([[0], [3], [0]]), np.array([[4, -1, 0, 1]])  # repeated pairs
    values = {x: vx, r: rows, c: cols}
    out = run_kernel([x[r, c], x[r, 2], x[1, c]], values, device, "gather")
    for got, want in zip(out, [vx[rows, cols], vx[rows, 2], vx[1, cols]]):
        np.testing.assert_array_equal(got, want)
    added = run_kernel(S.inc_subtensor(x[r, c], 0.5), values, device, "scatter")
    ref = vx.copy()
    np.add.at(ref, (rows, cols), 0.5)
    np.testing.assert_allclose(added, ref, rtol=1e-15)


def test_index_broadcast_by_stride_zero_adds_every_value(device):
    """An index array that is itself a broadcast view (stride 0) targets one element many
    times along a row: the adds must not be vectorized into one."""
    x, v, idx = S.vector("x", "float64"), S.matrix("v", "float64"), S.matrix("idx", "int64")
    index = np.broadcast_to(np.array([[1], [3]]), (2, 6))
    vv = np.arange(12.0).reshape(2, 6)
    out = run_kernel(
        S.inc_subtensor(x[idx], v), {x: np.zeros(4), v: vv, idx: index}, device, "scatter"
    )
    np.testing.assert_array_equal(out, [0, vv[0].sum(), 0, vv[1].sum()])


def test_repeated_set_keeps_the_last_value(device):
    x, v = S.vector("x", "float64"), S.vector("v", "float64")
    where = S.constant(np.array([1, 3, 1, 1]))
    out = run_kernel(
        S.set_subtensor(x[where], v), {x: np.zeros(4), v: [1, 2, 3, 4]}, device, "scatter"
    )
    np.testing.assert_array_equal(out, [0, 4, 0, 2])


def test_non_contiguous_and_broadcast_x(device, rng):
    x, idx = S.matrix("x", "float64"), S.vector("idx", "int64")
    strided = rng.standard_normal((8, 15))[::2, ::-3]  # (4, 5), negative column stride
    broadcast = np.broadcast_to(rng.standard_normal(5), (4, 5))  # row stride 0
    outs = [
        x[idx],
        x[:, idx],
        x.T[idx],
        S.inc_subtensor(x[idx], 1.0),
        S.set_subtensor(x.T[idx, 1], -2.0),
    ]
    for vx in (strided, broadcast):
        got = run_kernel(outs, {x: vx, idx: IDX}, device, "scatter")
        added, put = vx.copy(), vx.T.copy()
        np.add.at(added, IDX, 1.0)
        put[IDX, 1] = -2.0
        for g, want in zip(got, [vx[IDX], vx[:, IDX], vx.T[IDX], added, put]):
            np.testing.assert_array_equal(g, want)


def test_empty_index_arrays_and_empty_x(device, rng):
    x, idx = S.matrix("x", "float64"), S.vector("idx", "int64")
    vx, none = rng.standard_normal((4, 5)), np.zeros(0, np.int64)
    outs = [x[idx], x[:, idx], S.inc_subtensor(x[idx], 1.0), S.set_subtensor(x[idx, 0], 2.0)]
    got = run_kernel(outs, {x: vx, idx: none}, device, "gather")
    for g, want in zip(got, [vx[none], vx[:, none], vx, vx]):
        assert g.shape == want.shape
        np.testing.assert_array_equal(g, want)
    # an empty result with indices: NumPy checks them anyway, so the runtime lets it decide
    empty = np.zeros((0, 5))
    got = run([x[:, idx], S.inc_subtensor(x[:, idx], 1.0)], {x: empty, idx: [4, -5]}, device)
    assert [g.shape for g in got] == [(0, 2), (0, 5)]
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 1 with size 5"):
        run(x[:, idx], {x: empty, idx: [7]}, device)  # NumPy checks indices it never uses


@pytest.mark.parametrize("bad", [4, -5, 1000])
def test_out_of_range_index_raises_index_error_naming_the_node(bad, device, rng):
    x, idx = S.matrix("x", "float64"), S.vector("idx", "int64")
    vx, values = rng.standard_normal((4, 5)), np.array([0, bad, 1])
    message = rf"index {bad} is out of bounds for axis 0 with size 4"
    for expr in [x[idx], x[idx, 1:], S.inc_subtensor(x[idx], 1.0), S.set_subtensor(x[idx], 0.0)]:
        name = expr.owner.op.name
        f = compile_kernel([x, idx], expr, device, "gather" if "adv" in name else "scatter")
        with pytest.raises(IndexError, match=rf"(?s){name} on inputs.*{message}"):
            f(vx, values)


def test_out_of_range_integer_next_to_an_array_raises(device, rng):
    x, idx, k = S.matrix("x", "float64"), S.vector("idx", "int64"), S.scalar("k", "int64")
    vx = rng.standard_normal((4, 5))
    f = compile_kernel([x, idx, k], [x[idx, k], x[idx, 4]], device, "gather")
    np.testing.assert_array_equal(f(vx, IDX, -5)[0], vx[IDX, -5])
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 1 with size 5"):
        f(vx, IDX, 5)
    g = compile_kernel([x, idx], x[idx, 7], device, "gather")
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 1 with size 5"):
        g(vx, IDX)


def test_failed_scatter_changes_no_shared_variable(device):
    w, idx = S.shared(np.zeros((4, 3)), name="w"), S.vector("idx", "int64")
    step = S.compile(
        [idx], w[idx].sum(), updates=[(w, S.inc_subtensor(w[idx], 1.0))], device=device
    )
    step(np.array([0, 0, 3]))
    with pytest.raises(IndexError):
        step(np.array([1, 4]))
    np.testing.assert_array_equal(w.get_value(), [[2, 2, 2], [0, 0, 0], [0, 0, 0], [1, 1, 1]])


def test_large_gather_on_threads_checks_indices(device, rng):
    rows = 2048
    cols = PARALLEL_MIN // rows  # PARALLEL_MIN elements: the gather's rows run on threads
    x, idx = S.matrix("x"), S.vector("idx", "int64")
    vx, order = rng.standard_normal((rows, cols)).astype(np.float32), rng.permutation(rows)
    f = compile_kernel([x, idx], [x[idx], x[idx, ::-1]], device, "gather")
    with kernels_only(device):
        got = f(vx, order)
    for g, want in zip(got, [vx[order], vx[order, ::-1]]):
        np.testing.assert_array_equal(g, want)
    order[rows // 2] = rows
    with pytest.raises(IndexError, match=f"index {rows} is out of bounds"):
        f(vx, order)


# ---- gradients through gathers and scatters: central differences on every device --------------

C = S.constant
# fmt: off
GRADIENTS = [
    ("rows_repeated", lambda x: x[C(IDX)]), ("columns", lambda x: x[:, C(IDX)]),
    ("one_per_row", lambda x: x[S.arange(4), C(LABELS[:4])]),
    ("broadcast", lambda x: x[C(np.array([[0], [3], [0]])), C(np.array([[4, -1, 4]]))]),
    ("slice_and_array", lambda x: x[1:, C(IDX)]), ("int_and_array", lambda x: x[C(IDX), 2]),
    ("set_from_gather", lambda x: S.set_subtensor(x[C(np.array([3, 1]))], x[C(IDX[:2])] * 3.0)),
    # repeated rows (3 and −1 are one row): only the last value written gets a gradient
    ("set_repeated", lambda x: S.set_subtensor(x[C(np.array([1, 3, -1, 1]))], x[C(IDX)] * 3.0)),
]
# fmt: on


@pytest.mark.parametrize("fn", [g[1] for g in GRADIENTS], ids=[g[0] for g in GRADIENTS])
def test_gradient_matches_central_differences(fn, device, rng):
    """S.grad of Σ fn(x)·R against central differences, one element of x at a time: exact up
    to rounding, as these functions are linear in x."""
    value, eps = rng.standard_normal((4, 5)), 1e-3
    x = S.matrix("x", "float64")
    forward = S.compile([x], fn(x), device=device)
    weights = rng.standard_normal(forward(value).shape)
    gradient = compile_kernel([x], S.grad(S.sum(fn(x) * C(weights)), x), device, "scatter")
    with kernels_only(device):
        analytic = gradient(value)
    numeric = np.zeros_like(value)
    for at in np.ndindex(value.shape):
        step = np.zeros_like(value)
        step[at] = eps
        numeric[at] = np.sum((forward(value + step) - forward(value - step)) * weights) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-9, atol=1e-9)
