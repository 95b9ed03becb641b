"""Building graphs: constructors, static shapes, dtypes, constants, shared variables, identity."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from harness import run

import symbolic as S

# (constructor, ndim)
CONSTRUCTORS = [(S.scalar, 0), (S.vector, 1), (S.matrix, 2), (S.tensor3, 3), (S.tensor4, 4)]
DTYPES = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("make,ndim", CONSTRUCTORS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_constructor_default_float32(make, ndim):
    x = make("x")
    assert x.ndim == ndim
    assert np.dtype(x.dtype) == np.float32
    assert x.name == "x"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make,ndim", CONSTRUCTORS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_constructor_dtype_round_trips(make, ndim, dtype, device):
    x = make("x", dtype=dtype)
    assert np.dtype(x.dtype) == np.dtype(dtype)
    value = np.ones((2,) * ndim, dtype)
    out = run(x, {x: value}, device)
    assert out.dtype == np.dtype(dtype) and out.shape == value.shape
    np.testing.assert_array_equal(out, value)


def test_unsupported_dtype_raises():
    with pytest.raises(TypeError):
        S.vector("x", dtype="complex64")


def test_tensor_static_shape_checked_on_call(device):
    t = S.tensor("t", dtype="float32", shape=(None, 1, 28, 28))
    assert t.ndim == 4 and np.dtype(t.dtype) == np.float32
    f = S.compile([t], t.sum(axis=(1, 2, 3)), device=device)
    v = np.ones((3, 1, 28, 28), np.float32)
    np.testing.assert_array_equal(f(v), np.full(3, 784.0, np.float32))
    np.testing.assert_array_equal(f(np.ones((5, 1, 28, 28), np.float32)), np.full(5, 784.0))
    with pytest.raises(ValueError):
        f(np.ones((3, 2, 28, 28), np.float32))


def test_tensor_static_one_broadcasts_against_known_axis():
    t = S.tensor("t", "float32", (None, 1, 28, 28))
    u = S.tensor("u", "float32", (None, 3, 28, 28))
    assert (t + u).ndim == 4
    with pytest.raises(ValueError):
        t + S.tensor("w", "float32", (None, 3, 27, 28))


@pytest.mark.parametrize(
    "value,dtype",
    [
        (np.array([1, 2], np.int8), "int8"),
        (np.array([[1.5]], np.float64), "float64"),
        (np.float32(2.5), "float32"),
        (np.array([True, False]), "bool"),
        (3.25, "float32"),
    ],
    ids=["int8", "float64", "np_float32", "bool", "python_float"],
)
def test_constant_dtype_and_value(value, dtype, device):
    c = S.constant(value)
    assert np.dtype(c.dtype) == np.dtype(dtype)
    out = S.compile([], c, device=device)()
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, np.asarray(value, dtype))


def test_constant_pi_in_expression(device):
    x = S.vector("x")
    c = S.constant(np.pi)
    out = run(x * c, {x: np.array([1.0, 2.0], np.float32)}, device)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [np.pi, 2 * np.pi], rtol=1e-6)


def test_constant_is_copied_at_build(device):
    data = np.array([1.0, 2.0])
    c = S.constant(data)
    data[0] = 100.0
    np.testing.assert_array_equal(S.compile([], c * 1, device=device)(), [1.0, 2.0])


def test_shared_attributes_and_symbolic_shape(device):
    W = S.shared(np.zeros((784, 10), np.float32), name="W")
    assert W.name == "W" and np.dtype(W.dtype) == np.float32 and W.ndim == 2
    np.testing.assert_array_equal(S.compile([], W.shape, device=device)(), [784, 10])


def test_shared_get_value_is_a_copy():
    init = np.arange(3.0)
    W = S.shared(init, name="W")
    init[0] = 50.0  # the caller's array is not the shared storage
    value = W.get_value()
    value[1] = 99.0
    np.testing.assert_array_equal(W.get_value(), [0.0, 1.0, 2.0])


def test_shared_set_value_copies_and_may_change_shape(device):
    W = S.shared(np.zeros(3, np.float32), name="W")
    new = np.arange(5, dtype=np.float32)
    W.set_value(new)
    new[0] = 42.0
    np.testing.assert_array_equal(W.get_value(), np.arange(5))
    np.testing.assert_array_equal(S.compile([], W * 2, device=device)(), np.arange(5) * 2)


@pytest.mark.parametrize(
    "value",
    [np.zeros(3, np.float64), np.zeros(3, np.int32), np.zeros((3, 1), np.float32), np.float32(1.0)],
    ids=["float64", "int32", "2d", "0d"],
)
def test_shared_set_value_wrong_dtype_or_ndim_raises(value):
    W = S.shared(np.zeros(3, np.float32), name="weights_W")
    with pytest.raises(TypeError, match="weights_W"):
        W.set_value(value)
    np.testing.assert_array_equal(W.get_value(), np.zeros(3))


def test_eq_operator_keeps_identity():
    x, y = S.vector("x"), S.vector("x")
    assert (x == x) is True
    assert (x == y) is False
    assert x != y
    table = {x: 1, y: 2}
    assert table[x] == 1 and table[y] == 2
    assert len({x, y, x}) == 2
    assert x in [y, x] and S.vector("z") not in [x, y]


def test_elementwise_eq_is_a_function(device):
    x, y = S.vector("x", "int32"), S.vector("y", "int32")
    vx, vy = np.array([1, 2, 3], np.int32), np.array([1, 0, 3], np.int32)
    eq, neq = run([S.eq(x, y), S.neq(x, y)], {x: vx, y: vy}, device)
    np.testing.assert_array_equal(eq, [True, False, True])
    np.testing.assert_array_equal(neq, [False, True, False])


def test_variables_are_unchanged_by_building_on_them(device):
    x = S.vector("x", "float64")
    y = x * 2
    _ = S.exp(y) + y  # more graph on top of y
    np.testing.assert_array_equal(run(y, {x: np.array([1.0, 2.0])}, device), [2.0, 4.0])


def test_built_node_records_this_file_and_line(device):
    a, b = S.matrix("a"), S.matrix("b")
    line = inspect.currentframe().f_lineno + 1
    c = S.dot(a, b)
    f = S.compile([a, b], c, device=device)
    with pytest.raises(Exception) as err:
        f(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    assert f"test_graph.py:{line}" in str(err.value), str(err.value)


def test_deep_chain_builds_and_runs(device):
    x = S.tensor("x", "float64", ())
    y = x
    for _ in range(3000):
        y = y + 1.0
    assert float(run(y, {x: 0.5}, device)) == 3000.5


def test_variables_are_true_except_comparison_results():
    x, y, z = S.vector("x"), S.vector("y"), S.vector("z")
    assert x and S.exp(x) and S.shared(np.zeros(2)) and S.constant(0.0)
    assert (x or y) is x
    for comparison in (x < y, x <= y, x > y, x >= y, S.eq(x, y), S.neq(x, y)):
        with pytest.raises(TypeError, match="no truth value"):
            bool(comparison)
    with pytest.raises(TypeError, match="a < b < c"):
        x < y < z  # noqa: B015 - the chain must raise


def test_broadcastable_is_true_where_the_static_length_is_one():
    t = S.tensor("t", "float32", (None, 1, 3, 1))
    assert t.broadcastable == (False, True, False, True) == t.type.broadcastable
    assert S.shared(np.zeros((1, 2))).broadcastable == (False, False)
