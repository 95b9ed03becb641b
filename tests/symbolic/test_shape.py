"""Shape operations and allocation against NumPy, and shape errors the static shapes prove."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run

import symbolic as S

# (id, symbolic fn, NumPy reference, input shapes); inputs are float32 with unknown static shape
# fmt: off
SHAPE_OPS = [
    ("reshape", lambda x: S.reshape(x, (4, 6)), lambda x: x.reshape(4, 6), [(2, 3, 4)]),
    ("reshape_minus1", lambda x: x.reshape((-1, 4)), lambda x: x.reshape(-1, 4), [(2, 3, 4)]),
    ("reshape_minus1_middle", lambda x: S.reshape(x, (2, -1, 2)),
     lambda x: x.reshape(2, -1, 2), [(2, 3, 4)]),
    ("reshape_to_scalar", lambda x: S.reshape(x, ()), lambda x: x.reshape(()), [(1, 1)]),
    ("reshape_symbolic", lambda x: S.reshape(x, (x.shape[0], -1)),
     lambda x: x.reshape(x.shape[0], -1), [(2, 3, 4)]),
    ("reshape_symbolic_product", lambda x: x.reshape((x.shape[0] * x.shape[1], x.shape[2])),
     lambda x: x.reshape(6, 4), [(2, 3, 4)]),
    ("transpose", S.transpose, np.transpose, [(2, 3, 4)]),
    ("transpose_axes", lambda x: S.transpose(x, (1, 2, 0)),
     lambda x: np.transpose(x, (1, 2, 0)), [(2, 3, 4)]),
    ("transpose_method", lambda x: x.transpose(2, 0, 1), lambda x: x.transpose(2, 0, 1),
     [(2, 3, 4)]),
    ("T", lambda x: x.T, lambda x: x.T, [(3, 4)]),
    ("dimshuffle_x0", lambda x: x.dimshuffle("x", 0), lambda x: x[None, :], [(5,)]),
    ("dimshuffle_0x", lambda x: x.dimshuffle(0, "x"), lambda x: x[:, None], [(5,)]),
    ("dimshuffle_1x0", lambda x: x.dimshuffle(1, "x", 0), lambda x: x.T[:, None, :], [(3, 4)]),
    ("dimshuffle_function", lambda x: S.dimshuffle(x, 1, 0), lambda x: x.T, [(3, 4)]),
    ("flatten", S.flatten, lambda x: x.reshape(-1), [(2, 3, 4)]),
    ("flatten_ndim2", lambda x: x.flatten(ndim=2), lambda x: x.reshape(2, -1), [(2, 3, 4)]),
    ("flatten_ndim3", lambda x: S.flatten(x, ndim=3), lambda x: x.reshape(2, 3, -1),
     [(2, 3, 4, 5)]),
    ("concatenate_0", lambda a, b: S.concatenate([a, b]), lambda a, b: np.concatenate([a, b]),
     [(2, 3), (4, 3)]),
    ("concatenate_1", lambda a, b: S.concatenate([a, b], axis=1),
     lambda a, b: np.concatenate([a, b], axis=1), [(2, 3), (2, 5)]),
    ("concatenate_neg", lambda a, b, c: S.concatenate([a, b, c], axis=-1),
     lambda a, b, c: np.concatenate([a, b, c], axis=-1), [(2, 1), (2, 2), (2, 3)]),
    ("stack_0", lambda a, b: S.stack([a, b]), lambda a, b: np.stack([a, b]), [(2, 3), (2, 3)]),
    ("stack_1", lambda a, b: S.stack([a, b], axis=1), lambda a, b: np.stack([a, b], axis=1),
     [(2, 3), (2, 3)]),
    ("stack_neg", lambda a, b: S.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], -1),
     [(2, 3), (2, 3)]),
    ("broadcast_to", lambda x: S.broadcast_to(x, (2, 3, 4)),
     lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    ("broadcast_to_symbolic", lambda x, y: S.broadcast_to(x, (y.shape[0], 4)),
     lambda x, y: np.broadcast_to(x, (y.shape[0], 4)), [(4,), (6,)]),
    ("expand_dims_0", lambda x: S.expand_dims(x, 0), lambda x: np.expand_dims(x, 0), [(3, 4)]),
    ("expand_dims_neg", lambda x: S.expand_dims(x, -1), lambda x: np.expand_dims(x, -1),
     [(3, 4)]),
    ("squeeze_axis", lambda x: S.squeeze(x, 1), lambda x: np.squeeze(x, 1), [(3, 1, 4)]),
    ("zeros_like", S.zeros_like, np.zeros_like, [(3, 4)]),
    ("ones_like", S.ones_like, np.ones_like, [(2, 5)]),
    ("zeros_symbolic", lambda x: S.zeros((x.shape[0], 4)),
     lambda x: np.zeros((x.shape[0], 4), np.float32), [(3, 2)]),
    ("ones_symbolic", lambda x: S.ones((x.shape[1], x.shape[0])),
     lambda x: np.ones((x.shape[1], x.shape[0]), np.float32), [(3, 2)]),
    ("full_symbolic", lambda x: S.full((2, x.shape[0]), 7.5),
     lambda x: np.full((2, x.shape[0]), 7.5, np.float32), [(3,)]),
    ("arange_symbolic", lambda x: S.arange(x.shape[0]).astype("float32"),
     lambda x: np.arange(x.shape[0], dtype=np.float32), [(4, 2)]),
    ("shape", lambda x: x.shape, lambda x: np.array(x.shape), [(2, 3, 4)]),
    ("shape_entry", lambda x: x.shape[1], lambda x: np.array(x.shape[1]), [(2, 3, 4)]),
]
# fmt: on


@pytest.mark.parametrize("fn,ref,shapes", [r[1:] for r in SHAPE_OPS], ids=[r[0] for r in SHAPE_OPS])
def test_shape_op_matches_numpy(fn, ref, shapes, device, rng):
    xs = [S.tensor(f"x{i}", "float32", (None,) * len(s)) for i, s in enumerate(shapes)]
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    out = np.asarray(run(fn(*xs), dict(zip(xs, values)), device))
    expected = np.asarray(ref(*values))
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype or (out.dtype.kind == expected.dtype.kind == "i")
    np.testing.assert_array_equal(out, expected)


def test_squeeze_drops_static_ones(device, rng):
    x = S.tensor("x", "float32", (3, 1, 4, 1))
    v = rng.standard_normal((3, 1, 4, 1)).astype(np.float32)
    np.testing.assert_array_equal(run(S.squeeze(x), {x: v}, device), v.squeeze())


# (id, expression, NumPy value): allocation with explicit dtypes
# fmt: off
ALLOCS = [
    ("zeros", lambda: S.zeros((2, 3)), np.zeros((2, 3), np.float32)),
    ("zeros_int", lambda: S.zeros((4,), dtype="int32"), np.zeros(4, np.int32)),
    ("ones", lambda: S.ones((3,)), np.ones(3, np.float32)),
    ("ones_f64", lambda: S.ones((2, 2), dtype="float64"), np.ones((2, 2))),
    ("full", lambda: S.full((2, 3), 4.0, dtype="float64"), np.full((2, 3), 4.0)),
    ("full_int8", lambda: S.full((3,), 5, dtype="int8"), np.full(3, 5, np.int8)),
    ("arange", lambda: S.arange(5), np.arange(5)),
    ("arange_start_stop_step", lambda: S.arange(2, 11, 3), np.arange(2, 11, 3)),
    ("arange_negative_step", lambda: S.arange(5, 0, -2), np.arange(5, 0, -2)),
    ("arange_float", lambda: S.arange(0.0, 1.0, 0.25, dtype="float32"),
     np.arange(0.0, 1.0, 0.25, dtype=np.float32)),
    ("eye", lambda: S.eye(3), np.eye(3, dtype=np.float32)),
    ("eye_rect_k", lambda: S.eye(3, 4, k=1, dtype="float64"), np.eye(3, 4, k=1)),
    ("one_hot", lambda: S.one_hot(S.constant(np.array([0, 2, 1, 2])), 3),
     np.eye(3, dtype=np.float32)[[0, 2, 1, 2]]),
]
# fmt: on


@pytest.mark.parametrize("fn,expected", [a[1:] for a in ALLOCS], ids=[a[0] for a in ALLOCS])
def test_alloc_matches_numpy(fn, expected, device):
    out = S.compile([], fn(), device=device)()
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype or (out.dtype.kind == expected.dtype.kind == "i")
    np.testing.assert_array_equal(out, expected)


def test_like_keeps_dtype(device):
    x = S.vector("x", "int8")
    v = np.array([1, 2, 3], np.int8)
    zeros, ones = run([S.zeros_like(x), S.ones_like(x)], {x: v}, device)
    assert zeros.dtype == np.int8 and ones.dtype == np.int8
    np.testing.assert_array_equal(zeros + 2 * ones, [2, 2, 2])


def test_one_hot_of_input_labels(device):
    y = S.vector("y", "int64")
    out = run(S.one_hot(y, 4), {y: np.array([3, 0, 0])}, device)
    np.testing.assert_array_equal(out, np.eye(4)[[3, 0, 0]])


def test_symbolic_shape_changes_per_call(device, rng):
    x = S.matrix("x")
    f = S.compile([x], S.zeros((x.shape[0], 4)) + x.sum(), device=device)
    for n in (1, 3, 7):
        v = rng.standard_normal((n, 2)).astype(np.float32)
        out = f(v)
        assert out.shape == (n, 4)
        np.testing.assert_allclose(out, np.full((n, 4), v.sum()), rtol=1e-5)


def test_ndim_and_dtype_attributes():
    x = S.tensor("x", "int16", (None, 3, 1))
    assert x.ndim == 3 and np.dtype(x.dtype) == np.int16
    assert x.dimshuffle(0, "x", 1, 2).ndim == 4
    assert x.flatten(ndim=2).ndim == 2
    assert S.stack([x, x]).ndim == 4


def test_static_shape_mismatch_names_both_shapes():
    a = S.tensor("a", "float32", (3,))
    b = S.tensor("b", "float32", (4,))
    with pytest.raises(ValueError) as err:
        a + b
    assert "3" in str(err.value) and "4" in str(err.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda a, b: S.concatenate([a, b], axis=0),  # (2,3) with (3,4): axis 1 differs
        lambda a, b: S.stack([a, b]),
        lambda a, b: S.reshape(a, (5,)),  # 6 elements cannot become 5
    ],
    ids=["concatenate", "stack", "reshape"],
)
def test_static_shape_errors_raise_at_build(build):
    a, b = S.tensor("a", "float32", (2, 3)), S.tensor("b", "float32", (3, 4))
    with pytest.raises(ValueError):
        build(a, b)


def test_broadcastable_static_one_broadcasts(device, rng):
    t = S.tensor("t", "float32", (None, 1, 2, 2))
    u = S.tensor("u", "float32", (None, 3, 2, 2))
    vt = rng.standard_normal((2, 1, 2, 2)).astype(np.float32)
    vu = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(run(t + u, {t: vt, u: vu}, device), vt + vu, rtol=1e-6)
