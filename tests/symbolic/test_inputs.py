"""S.In and keyword calls: defaults, names, per-input downcasting, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import symbolic as S


def denoiser(device):
    x, corruption = S.vector("x"), S.scalar("corruption")
    f = S.compile([x, S.In(corruption, value=0.2)], x * (1 - corruption), device=device)
    return f


def test_in_default_is_used_when_the_argument_is_left_out(device):
    f = denoiser(device)
    np.testing.assert_allclose(f(np.ones(2, np.float32)), np.float32(0.8))


def test_in_argument_by_keyword_or_position(device):
    f = denoiser(device)
    ones = np.ones(2, np.float32)
    np.testing.assert_allclose(f(ones, corruption=0.5), 0.5)
    np.testing.assert_allclose(f(ones, 0.5), 0.5)
    np.testing.assert_allclose(f(x=ones, corruption=np.float32(0.25)), 0.75)


def test_keyword_calls_work_without_in(device):
    a, b = S.scalar("a"), S.scalar("b")
    f = S.compile([a, b], a - b, device=device)
    assert f(b=1.0, a=3.0) == 2.0
    assert f(3.0, b=1.0) == 2.0


def test_in_name_overrides_the_variable_name():
    x = S.vector("x")
    f = S.compile([S.In(x, name="data")], x + 1, device="numpy")
    np.testing.assert_array_equal(f(data=[1.0]), [2.0])
    with pytest.raises(TypeError, match="no input named 'x'; data"):
        f(x=[1.0])


@pytest.mark.parametrize(
    "args,kwargs,message",
    [
        ((), {}, "'x' \\(position 0\\) is missing and has no default"),
        (([1.0],), {"y": 1}, "no input named 'y'"),
        (([1.0],), {"x": [1.0]}, "'x' \\(position 0\\) is given twice"),
        (([1.0], 0.1, 3), {}, "takes 2 inputs \\(x, corruption\\), got 3"),
    ],
)
def test_bad_arguments_raise_naming_the_input(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        denoiser("numpy")(*args, **kwargs)


def test_in_default_is_checked_at_compile_time():
    n = S.scalar("n", dtype="int64")
    with pytest.raises(TypeError, match="'n'.*expects int64"):
        S.compile([S.In(n, value=0.5)], n * 2, device="numpy")


def test_in_allow_downcast_is_per_input():
    x, y = S.vector("x"), S.vector("y")
    f = S.compile([S.In(x, allow_downcast=True), y], x + y, device="numpy")
    np.testing.assert_array_equal(f(np.ones(1), np.ones(1, np.float32)), [2.0])
    with pytest.raises(TypeError, match="'y' \\(position 1\\) expects float32"):
        f(np.ones(1), np.ones(1))


def test_function_with_in_pickles_with_its_defaults():
    f = pickle.loads(pickle.dumps(denoiser("cpu")))
    np.testing.assert_allclose(f(np.ones(2, np.float32)), np.float32(0.8))
    np.testing.assert_allclose(f(np.ones(2, np.float32), corruption=0.5), 0.5)
