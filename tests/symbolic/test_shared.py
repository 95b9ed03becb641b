"""Shared variables as Theano made them: borrow, strict, allow_downcast, weakly typed set_value."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S


def test_shared_borrow_keeps_the_array():
    value = np.zeros(3, np.float32)
    borrowed, copied = S.shared(value, borrow=True), S.shared(value)
    value[0] = 1.0
    assert borrowed.get_value(borrow=True) is value
    assert borrowed.get_value()[0] == 1.0 and copied.get_value()[0] == 0.0


def test_shared_borrowed_value_is_updated_by_calls(device):
    value = np.zeros(3, np.float32)
    s = S.shared(value, borrow=True)
    f = S.compile([], [], updates=[(s, s + 1)], device=device)
    f()
    f()
    np.testing.assert_array_equal(s.get_value(), [2, 2, 2])


@pytest.mark.parametrize("number", [1.0, 1, True, [0.5]])
def test_set_value_python_number_takes_the_float32_dtype(number, device):
    flag = S.shared(np.zeros(np.shape(number), np.float32))
    flag.set_value(number)
    assert flag.get_value().dtype == np.float32
    x = S.vector("x")
    f = S.compile([x], x * flag, device=device)
    np.testing.assert_array_equal(
        f(np.ones(2, np.float32)), np.ones(2, np.float32) * np.float32(number)
    )


def test_set_value_float_into_integer_variable_raises():
    count = S.shared(np.int64(0), name="count")
    with pytest.raises(TypeError, match="'count'|count.*expects int64"):
        count.set_value(1.5)
    count.set_value(3)
    assert count.get_value() == 3 and count.get_value().dtype == np.int64


def test_set_value_array_of_other_dtype_raises_unless_allow_downcast():
    plain = S.shared(np.zeros(2, np.float32), name="w")
    with pytest.raises(TypeError, match="w holds 1-d float32"):
        plain.set_value(np.ones(2, np.float64))
    lenient = S.shared(np.zeros(2, np.float32), allow_downcast=True)
    lenient.set_value(np.full(2, 0.1, np.float64))
    assert lenient.get_value().dtype == np.float32
    np.testing.assert_array_equal(lenient.get_value(), np.float32(0.1))


def test_strict_shared_takes_exact_arrays_only():
    s = S.shared(np.zeros(2, np.float32), name="s", strict=True, allow_downcast=True)
    with pytest.raises(TypeError, match="strict"):
        s.set_value([1.0, 2.0])
    with pytest.raises(TypeError, match="float64"):
        s.set_value(np.ones(2))
    s.set_value(np.ones(2, np.float32))
    np.testing.assert_array_equal(s.get_value(), [1, 1])


def test_set_value_wrong_ndim_raises():
    s = S.shared(np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="1-d float32"):
        s.set_value(1.0)


def test_function_takes_python_scalars_into_float32_inputs(device):
    x, p = S.vector("x"), S.scalar("p")
    f = S.compile([x, p], x * p, device=device)
    out = f([1.0, 2.0], 0.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0.5, 1.0])
