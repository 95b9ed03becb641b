"""Reductions against NumPy: every axis form, keepdims, dtypes, and numerically hard inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from harness import run

import symbolic as S


def logsumexp_ref(x, axis=None, keepdims=False):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


@dataclass(frozen=True)
class Red:
    name: str
    fn: Callable
    ref: Callable
    dtypes: tuple
    out: str  # "same", "float" (float-only: ints compute in float32), "int" (some int), "bool"
    axes: tuple = (None, 0, 1, -1, (0, 2), (2, 0), (-1, -2))
    domain: tuple = (-3, 3)


ARG_AXES = (None, 0, 1, -1)
# fmt: off
REDUCTIONS = [
    Red("sum", S.sum, np.sum, ("float32", "float64", "int32"), "same"),
    Red("prod", S.prod, np.prod, ("float32", "float64", "int32"), "same", domain=(-2, 2)),
    Red("mean", S.mean, np.mean, ("float32", "float64", "int32"), "float"),
    Red("var", S.var, np.var, ("float32", "float64", "int32"), "float"),
    Red("std", S.std, np.std, ("float32", "float64", "int32"), "float"),
    Red("max", S.max, np.max, ("float32", "float64", "int32", "uint8"), "same"),
    Red("min", S.min, np.min, ("float32", "float64", "int32", "uint8"), "same"),
    Red("logsumexp", S.logsumexp, logsumexp_ref, ("float32", "float64"), "same"),
    Red("argmax", S.argmax, np.argmax, ("float32", "int32"), "int", ARG_AXES),
    Red("argmin", S.argmin, np.argmin, ("float32", "int32"), "int", ARG_AXES),
    Red("all", S.all, np.all, ("bool", "int32"), "bool", domain=(0, 4)),
    Red("any", S.any, np.any, ("bool", "float32"), "bool", domain=(0, 4)),
]
# fmt: on


def sample(rng, red: Red, dtype: str, shape=(2, 3, 4)) -> np.ndarray:
    lo, hi = red.domain
    if dtype == "bool":
        return rng.random(shape) < 0.8
    if dtype.startswith("float") and red.name not in ("all", "any"):
        return rng.uniform(lo, hi, shape).astype(dtype)
    lo = max(lo, 0) if dtype == "uint8" else lo
    values = rng.integers(lo, hi + 1, shape)
    if red.name == "prod":  # keep |product| small enough for int32 (2**24)
        values = np.where(np.abs(values) > 1, values, 1)
    return values.astype(dtype)


def check(out, ref, red: Red, dtype: str) -> None:
    out = np.asarray(out)
    assert out.shape == np.shape(ref)
    if red.out == "bool":
        assert out.dtype == np.bool_
    elif red.out == "int":
        assert np.issubdtype(out.dtype, np.integer), out.dtype
    else:
        expected = dtype if (dtype.startswith("float") or red.out == "same") else "float32"
        if red.out == "same" and red.name in ("sum", "prod") and not dtype.startswith("float"):
            assert np.issubdtype(out.dtype, np.integer), out.dtype  # width: NumPy's or ours
        else:
            assert out.dtype == np.dtype(expected), f"dtype {out.dtype}, expected {expected}"
    tol = 2e-5 if out.dtype == np.float32 else 1e-11
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)


def cases():
    for red in REDUCTIONS:
        for dtype in red.dtypes:
            for axis in red.axes:
                for keep in (False, True):
                    ids = f"{red.name}-{dtype}-axis{axis}-keep{keep}".replace(" ", "")
                    yield pytest.param(red, dtype, axis, keep, id=ids)


@pytest.mark.parametrize("red,dtype,axis,keepdims", list(cases()))
def test_reduction_matches_numpy(red, dtype, axis, keepdims, device, rng):
    v = sample(rng, red, dtype)
    x = S.tensor3("x", dtype)
    out = run(red.fn(x, axis=axis, keepdims=keepdims), {x: v}, device)
    check(out, red.ref(v, axis=axis, keepdims=keepdims), red, dtype)


METHODS = ["sum", "mean", "max", "min", "prod", "argmax", "argmin", "var", "std"]


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, True), (0, False)], ids=str)
def test_reduction_method_matches_function(name, axis, keepdims, device, rng):
    x = S.matrix("x", "float64")
    v = rng.uniform(0.5, 1.5, (3, 4))
    out = run(getattr(x, name)(axis=axis, keepdims=keepdims), {x: v}, device)
    ref = getattr(np, name)(v, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    assert np.shape(out) == np.shape(ref)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logsumexp_large_inputs_stay_finite(dtype, device):
    x = S.matrix("x", dtype)
    v = np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1000.0]], dtype)
    out = run(S.logsumexp(x, axis=1), {x: v}, device)
    assert np.all(np.isfinite(out))
    ref = logsumexp_ref(v, axis=1)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    total = run(S.logsumexp(x), {x: v}, device)
    np.testing.assert_allclose(total, 1000 + np.log(2 + np.exp(-1)), rtol=1e-6)


def test_var_std_ddof(device, rng):
    x = S.vector("x", "float64")
    v = rng.standard_normal(7)
    out = run([S.var(x, ddof=1), S.std(x, ddof=1)], {x: v}, device)
    np.testing.assert_allclose(out, [np.var(v, ddof=1), np.std(v, ddof=1)], rtol=1e-12)


def test_reduction_of_runtime_shaped_input(device, rng):
    # the number of elements averaged over is only known at run time
    x = S.matrix("x", "float64")
    f = S.compile([x], S.mean(x, axis=0), device=device)
    for shape in [(2, 3), (5, 1), (1, 4)]:
        v = rng.standard_normal(shape)
        np.testing.assert_allclose(f(v), v.mean(axis=0), rtol=1e-12)


def test_argmax_ties_pick_first(device):
    x = S.matrix("x", "float32")
    v = np.array([[1, 3, 3], [2, 2, 0]], np.float32)
    out = run([S.argmax(x, axis=1), S.argmin(x, axis=1), S.argmax(x)], {x: v}, device)
    np.testing.assert_array_equal(out[0], [1, 0])
    np.testing.assert_array_equal(out[1], [0, 2])
    assert int(out[2]) == 1


def test_reduction_axis_out_of_range_raises():
    x = S.matrix("x")
    with pytest.raises((ValueError, IndexError)):
        S.sum(x, axis=2)


def test_reduction_of_empty_axis(device):
    x = S.matrix("x", "float64")
    v = np.zeros((0, 3))
    out = run([S.sum(x), S.sum(x, axis=0), S.prod(x, axis=0), S.any(x, axis=0)], {x: v}, device)
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_array_equal(out[1], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(out[2], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(out[3], [False, False, False])


# ---- dtype= and acc_dtype= (NumPy's and Theano's) ------------------------------------------

DTYPE_CASES = [  # (method, input dtype, dtype=)
    ("sum", "float32", "float64"),
    ("sum", "float64", "float32"),
    ("sum", "float32", "int64"),
    ("sum", "int8", "int32"),
    ("sum", "bool", "float32"),
    ("prod", "int16", "float64"),
    ("mean", "float64", "float32"),
    ("mean", "int32", "float64"),
    ("mean", "float32", "int64"),
    ("var", "float64", "float32"),
    ("std", "int64", "float64"),
]


@pytest.mark.parametrize("method,src,dtype", DTYPE_CASES)
def test_reduction_dtype_matches_numpy(method, src, dtype, device):
    values = (np.arange(12).reshape(3, 4) * 0.75 - 2).astype(src)
    x = S.matrix("x", dtype=src)
    got = run(getattr(x, method)(axis=1, dtype=dtype), {x: values}, device)
    want = getattr(np, method)(values, axis=1, dtype=dtype)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_sum_acc_dtype_accumulates_wider_then_casts(device):
    values = np.full(300, 100, np.int8)  # 30000 overflows int8 but not int32
    x = S.vector("x", dtype="int8")
    got = run(S.sum(x, dtype="int16", acc_dtype="int32"), {x: values}, device)
    assert got.dtype == np.int16 and got == 30000


def test_mean_dtype_float32_of_float64_is_computed_in_float32(device):
    values = np.linspace(0, 1, 7)
    x = S.vector("x", dtype="float64")
    got = run(x.mean(dtype="float32"), {x: values}, device)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.mean(values.astype(np.float32)), rtol=1e-6)


def test_sum_dtype_gradient_flows_back_in_the_input_dtype():
    x = S.vector("x")
    g = S.grad(S.sum(x, dtype="float64"), x)
    assert g.dtype == "float32"
    np.testing.assert_array_equal(S.compile([x], g, device="numpy")(np.ones(3, np.float32)), 1)
