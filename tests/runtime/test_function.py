"""Compiled functions: outputs, updates, givens, input checking, runtime errors, aliasing."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import symbolic as S


def test_single_output_returns_array_list_returns_list(device):
    x = S.vector("x", "float64")
    single = S.compile([x], x * 2, device=device)
    many = S.compile([x], [x * 2, x + 1], device=device)
    v = np.array([1.0, 2.0])
    out = single(v)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [2.0, 4.0])
    both = many(v)
    assert isinstance(both, list) and len(both) == 2
    np.testing.assert_array_equal(both[0], [2.0, 4.0])
    np.testing.assert_array_equal(both[1], [2.0, 3.0])


@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
def test_updates_apply_after_call(as_dict, device):
    W = S.shared(np.array([1.0, 2.0]), name="W")
    count = S.shared(np.int64(0), name="count")
    x = S.vector("x", "float64")
    pairs = [(W, W - 0.5 * x), (count, count + 1)]
    f = S.compile([x], S.sum(W * x), updates=dict(pairs) if as_dict else pairs, device=device)
    out = f(np.array([1.0, 1.0]))
    np.testing.assert_allclose(out, 3.0)  # computed from the old W
    np.testing.assert_allclose(W.get_value(), [0.5, 1.5])
    f(np.array([2.0, 0.0]))
    np.testing.assert_allclose(W.get_value(), [-0.5, 1.5])
    assert int(count.get_value()) == 2


def test_updates_read_values_from_before_the_call(device):
    A = S.shared(np.array([1.0]), name="A")
    B = S.shared(np.array([2.0]), name="B")
    swap = S.compile([], [A + 0, B + 0], updates=[(A, B), (B, A)], device=device)
    a, b = swap()
    np.testing.assert_array_equal([a, b], [[1.0], [2.0]])
    np.testing.assert_array_equal(A.get_value(), [2.0])
    np.testing.assert_array_equal(B.get_value(), [1.0])
    swap()
    np.testing.assert_array_equal([A.get_value(), B.get_value()], [[1.0], [2.0]])


def test_update_without_outputs(device):
    acc = S.shared(np.zeros(2, np.float32), name="acc")
    x = S.vector("x")
    f = S.compile([x], [], updates=[(acc, acc + x)], device=device)
    f(np.array([1, 2], np.float32))
    f(np.array([3, 4], np.float32))
    np.testing.assert_array_equal(acc.get_value(), [4, 6])
    assert acc.get_value().dtype == np.float32


def test_update_with_wrong_dtype_raises():
    W = S.shared(np.zeros(2, np.float32), name="W")
    with pytest.raises(TypeError):
        S.compile([], [], updates=[(W, S.cast(W, "float64") + 1)])


@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
def test_givens_substitute_variables(as_dict, device):
    x, y = S.vector("x", "float64"), S.vector("y", "float64")
    W = S.shared(np.array([1.0, 2.0, 3.0]), name="W")
    pairs = [(x, W * 2)]
    f = S.compile([y], x + y, givens=dict(pairs) if as_dict else pairs, device=device)
    np.testing.assert_array_equal(f(np.array([1.0, 1.0, 1.0])), [3.0, 5.0, 7.0])


def test_inputs_accept_python_numbers_lists_and_safe_casts(device):
    s, v, m = S.tensor("s", "float32", ()), S.vector("v", "float64"), S.vector("m", "int32")
    f = S.compile([s, v, m], [s * 2, v + 1, m * 2], device=device)
    out = f(1.5, [1, 2], np.array([1, 2], np.int8))
    assert out[0].dtype == np.float32 and float(out[0]) == 3.0
    assert out[1].dtype == np.float64
    np.testing.assert_array_equal(out[1], [2.0, 3.0])
    assert out[2].dtype == np.int32
    np.testing.assert_array_equal(out[2], [2, 4])
    np.testing.assert_array_equal(f(2.0, np.array([1.0], np.float32), [3])[2], [6])


def test_python_floats_into_integer_input_raise():
    i = S.vector("counts", "int32")
    f = S.compile([i], i * 2)
    with pytest.raises(TypeError, match="counts"):
        f([1.5, 2.5])


def _two_input_function():
    first = S.matrix("first")
    weights = S.vector("weights")
    return S.compile([first, weights], S.dot(first, weights), device="numpy")


def test_call_with_wrong_count_raises():
    f = _two_input_function()
    with pytest.raises(TypeError):
        f(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError):
        f(np.ones((2, 2), np.float32), np.ones(2, np.float32), np.ones(2, np.float32))


@pytest.mark.parametrize(
    "bad,error",
    [
        (np.ones(2, np.float64), TypeError),
        (np.ones(2, np.int64), TypeError),
        (np.ones((2, 1), np.float32), (TypeError, ValueError)),
        (np.array(["a", "b"]), TypeError),
    ],
    ids=["float64_into_float32", "int64_into_float32", "wrong_ndim", "strings"],
)
def test_bad_input_names_input_and_position(bad, error):
    f = _two_input_function()
    with pytest.raises(error) as err:
        f(np.ones((2, 2), np.float32), bad)
    message = str(err.value)
    assert "weights" in message, message
    assert re.search(r"\b[12]\b", message), f"no position in {message!r}"


def test_static_shape_conflict_raises_value_error():
    t = S.tensor("images", "float32", (None, 1, 4, 4))
    f = S.compile([t], t * 2)
    with pytest.raises(ValueError, match="images"):
        f(np.ones((2, 3, 4, 4), np.float32))


def test_runtime_shape_error_names_op_and_this_line(device):
    a, b = S.matrix("a"), S.matrix("b")
    line = inspect.currentframe().f_lineno + 1
    product = S.dot(a, b)
    f = S.compile([a, b], product.sum(), device=device)
    with pytest.raises(Exception) as err:
        f(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    message = str(err.value)
    assert "dot" in message or "matmul" in message, message
    assert f"test_function.py:{line}" in message, message


def test_runtime_broadcast_error_names_op_and_this_line(device):
    a, b = S.vector("a"), S.vector("b")
    line = inspect.currentframe().f_lineno + 1
    total = a + b
    f = S.compile([a, b], total, device=device)
    with pytest.raises(Exception) as err:
        f(np.ones(3, np.float32), np.ones(4, np.float32))
    assert f"test_function.py:{line}" in str(err.value), str(err.value)


def test_failed_call_leaves_shared_unchanged(device):
    W = S.shared(np.array([1.0, 2.0]), name="W")
    b = S.shared(np.array([5.0]), name="b")
    x = S.matrix("x", "float64")
    updates = [(W, W + 1), (b, b + S.dot(x, W).sum())]
    f = S.compile([x], W.sum(), updates=updates, device=device)
    with pytest.raises(Exception, match="dot"):
        f(np.ones((2, 3)))  # dot fails: (2, 3) with (2,)
    np.testing.assert_array_equal(W.get_value(), [1.0, 2.0])
    np.testing.assert_array_equal(b.get_value(), [5.0])
    f(np.ones((1, 2)))  # a good call still works and applies both
    np.testing.assert_array_equal(W.get_value(), [2.0, 3.0])
    np.testing.assert_array_equal(b.get_value(), [8.0])


def test_outputs_do_not_alias_shared_values(device):
    W = S.shared(np.array([1.0, 2.0]), name="W")
    f = S.compile([], [W, W.T], device=device)
    for out in f():
        out[...] = -1.0
    np.testing.assert_array_equal(W.get_value(), [1.0, 2.0])
    np.testing.assert_array_equal(f()[0], [1.0, 2.0])


def test_outputs_do_not_alias_inputs(device):
    x = S.vector("x", "float64")
    f = S.compile([x], [x, x.reshape((2, 2)), x[1:]], device=device)
    v = np.arange(4.0)
    for out in f(v):
        out[...] = -1.0
    np.testing.assert_array_equal(v, np.arange(4.0))


def test_outputs_do_not_alias_constants(device):
    c = S.constant(np.array([1.0, 2.0]))
    f = S.compile([], c, device=device)
    out = f()
    out[0] = 7.0  # writable, and a fresh copy every call
    np.testing.assert_array_equal(f(), [1.0, 2.0])


def test_update_value_not_aliased_with_output(device):
    W = S.shared(np.array([1.0, 2.0]), name="W")
    f = S.compile([], W * 2, updates=[(W, W * 2)], device=device)
    out = f()
    out[0] = 100.0
    np.testing.assert_array_equal(W.get_value(), [2.0, 4.0])


def test_missing_input_raises_naming_it():
    x, missing = S.vector("x"), S.vector("missing_y")
    with pytest.raises(Exception, match="missing_y"):
        S.compile([x], x + missing)


def test_function_is_reusable_with_new_shapes(device, rng):
    x = S.matrix("x", "float64")
    f = S.compile([x], S.exp(x).sum(axis=1), device=device)
    for shape in [(2, 3), (4, 1), (1, 5)]:
        v = rng.standard_normal(shape)
        np.testing.assert_allclose(f(v), np.exp(v).sum(axis=1), rtol=1e-12)


def test_optimize_false_gives_same_values(device, rng):
    x = S.matrix("x", "float64")
    expr = S.log(S.exp(x) + 1.0) * 2 - x * 0 + S.sum(x * 1)
    v = rng.standard_normal((3, 2))
    fast = S.compile([x], expr, device=device)(v)
    slow = S.compile([x], expr, device=device, optimize=False)(v)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    np.testing.assert_allclose(fast, np.log(np.exp(v) + 1) * 2 + v.sum(), rtol=1e-12)


def test_profile_counts_calls_and_time_per_node(device):
    x = S.vector("x")
    f = S.compile([x], (S.exp(x) @ S.exp(x)), device=device, profile=True)
    for _ in range(3):
        f(np.ones(4, np.float32))
    rows = f.profile.rows()
    assert rows and all(calls == 3 and seconds >= 0 for _, _, calls, seconds in rows)
    assert "dot" in [op for op, *_ in rows]
    assert "dot" in str(f.profile) and "calls" in str(f.profile)


def test_profile_is_none_unless_asked(device):
    x = S.vector("x")
    assert S.compile([x], x + 1, device=device).profile is None


# ---- the fast call path and trust_input ----------------------------------------------------


def test_trust_input_keyword_and_attribute_give_the_checked_results(device, rng):
    x = S.matrix("x")
    W = S.shared(np.ones((3, 2), np.float32), name="W")
    expr = S.tanh(S.dot(x, W)) + 1
    checked = S.compile([x], expr, device=device)
    trusted = S.compile([x], expr, device=device, trust_input=True)
    assert checked.trust_input is False and trusted.trust_input is True
    v = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(trusted(v), checked(v))
    checked.trust_input = True
    np.testing.assert_array_equal(checked(v), trusted(v))
    checked.trust_input = False  # and back: the checks apply again
    with pytest.raises(TypeError, match="'x' \\(position 0\\)"):
        checked(v.astype(np.float64))


def test_trusted_calls_keep_outputs_fresh_and_updates_applied(device):
    acc = S.shared(np.zeros(2, np.float32), name="acc")
    x = S.vector("x")
    f = S.compile([x], [x, acc], updates=[(acc, acc + x)], device=device, trust_input=True)
    v = np.array([1, 2], np.float32)
    out, old = f(v)
    assert out is not v and not np.shares_memory(out, v)
    np.testing.assert_array_equal(old, [0, 0])
    np.testing.assert_array_equal(f(v)[1], [1, 2])
    np.testing.assert_array_equal(acc.get_value(), [2, 4])


@pytest.mark.parametrize("trust", [False, True])
def test_output_that_is_an_input_is_copied(device, trust):
    x = S.vector("x")
    f = S.compile([x], x, device=device, trust_input=trust)
    v = np.array([1, 2], np.float32)
    out = f(v)
    np.testing.assert_array_equal(out, v)
    assert not np.shares_memory(out, v)


def test_fast_check_refuses_what_the_full_check_refuses(device):
    t = S.tensor("t", shape=(None, 3))
    f = S.compile([t], t * 2, device=device)
    np.testing.assert_array_equal(f(np.ones((2, 3), np.float32)), np.full((2, 3), 2))
    with pytest.raises(ValueError, match="static shape"):
        f(np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="2-d"):
        f(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="cannot be cast safely"):
        f(np.ones((2, 3), np.float64))
    with pytest.raises(TypeError, match="takes 1 inputs"):
        f(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32))


def test_inputs_of_other_byte_order_or_array_subclasses_are_converted(device):
    x = S.vector("x", "float64")
    f = S.compile([x], x * 2 + 1, device=device)
    swapped = np.array([1.5, -2.0, 3.25], ">f8")
    np.testing.assert_array_equal(f(swapped), [4.0, -3.0, 7.5])
    masked = np.ma.masked_array([1.0, 2.0], mask=[False, True])
    out = f(masked)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, [3.0, 5.0])  # the data, as np.asarray reads it


def test_function_of_no_inputs_and_one_constant_output(device):
    f = S.compile([], S.constant(np.arange(3.0)), device=device)
    first = f()
    first[0] = 7.0  # a fresh array each call: writing to it changes nothing
    np.testing.assert_array_equal(f(), [0.0, 1.0, 2.0])


def test_long_schedule_runs_as_a_loop_with_the_same_values(device, rng, monkeypatch):
    from runtime import numpy_backend

    x = S.vector("x", "float64")
    expr = S.sum(S.exp(x)) * S.max(x) + S.dot(x, x)
    v = rng.standard_normal(5)
    expected = S.compile([x], expr, device=device)(v)
    monkeypatch.setattr(numpy_backend, "MAX_RENDERED_STEPS", 0)
    np.testing.assert_allclose(S.compile([x], expr, device=device)(v), expected, rtol=1e-12)


def test_rendered_schedule_frees_intermediates_and_names_failing_node(device):
    x, y = S.vector("x", "float64"), S.vector("y", "float64")
    f = S.compile([x, y], S.exp(S.dot(x, y)) + S.sum(x), device=device)
    from runtime.numpy_backend import render_schedule

    source = render_schedule(f._program.schedule)
    assert "del " in source  # the dot's operands die once it has run
    with pytest.raises(ValueError, match="(?s)dot.*test_function.py"):
        f(np.ones(2), np.ones(3))
