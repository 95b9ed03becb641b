"""Every elementwise op against NumPy: values and output dtypes (docs/semantics.md)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from harness import run

import symbolic as S

F = ("float32", "float64")
FI = F + ("int32",)  # float-only ops that also accept integers (they compute in float32)
NUM = F + ("int32", "int8")  # ops that keep an integer dtype
INTS = ("int32", "int8", "uint8")
LOGIC = ("bool", "int32", "uint8")


@dataclass(frozen=True)
class Domain:
    """Where inputs are drawn: uniform on [lo, hi]; `signed` flips a random sign;
    `discrete` draws integers (so ties and equalities happen)."""

    lo: float = -3.0
    hi: float = 3.0
    signed: bool = False
    discrete: bool = False


STD = Domain()
POS = Domain(0.1, 5.0)
UNIT = Domain(-0.9, 0.9)
NONZERO = Domain(0.5, 3.0, signed=True)
TIES = Domain(-3, 3, discrete=True)


@dataclass(frozen=True)
class Op:
    name: str
    fn: Callable  # symbolic
    ref: Callable  # NumPy
    dtypes: tuple = F
    domains: tuple = (STD,)  # one per argument
    out: str = "same"  # "same": promoted inputs; "float": float-only op; "bool"; or a dtype
    rtol: float = 1.0  # multiplies the dtype's base tolerance
    bool_args: tuple = ()  # argument positions that are always bool (where's condition)

    @property
    def arity(self) -> int:
        return len(self.domains)


def erf_ref(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def erfc_ref(x):
    return np.vectorize(math.erfc, otypes=[np.float64])(x)


def sigmoid_ref(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


# fmt: off
OPS = [
    Op("exp", S.exp, np.exp, FI, out="float"),
    Op("exp2", S.exp2, np.exp2, FI, out="float"),
    Op("log", S.log, np.log, FI, (POS,), out="float"),
    Op("log2", S.log2, np.log2, F, (POS,)),
    Op("log10", S.log10, np.log10, F, (POS,)),
    Op("log1p", S.log1p, np.log1p, F, (Domain(-0.9, 3.0),)),
    Op("expm1", S.expm1, np.expm1, F),
    Op("sqrt", S.sqrt, np.sqrt, FI, (Domain(0.0, 5.0),), out="float"),
    Op("square", S.square, np.square, NUM),
    Op("abs", S.abs, np.abs, NUM),
    Op("sign", S.sign, np.sign, NUM, (TIES,)),
    Op("floor", S.floor, np.floor, F),
    Op("ceil", S.ceil, np.ceil, F),
    Op("round", S.round, np.round, F, (Domain(-5, 5),)),
    Op("sin", S.sin, np.sin, FI, out="float"),
    Op("cos", S.cos, np.cos, F),
    Op("tan", S.tan, np.tan, F, (Domain(-1.2, 1.2),), rtol=3),
    Op("arcsin", S.arcsin, np.arcsin, F, (UNIT,)),
    Op("arccos", S.arccos, np.arccos, F, (UNIT,)),
    Op("arctan", S.arctan, np.arctan, F),
    Op("sinh", S.sinh, np.sinh, F),
    Op("cosh", S.cosh, np.cosh, F),
    Op("tanh", S.tanh, np.tanh, FI, out="float"),
    Op("arctanh", S.arctanh, np.arctanh, F, (UNIT,), rtol=3),
    Op("sigmoid", S.sigmoid, sigmoid_ref, FI, (Domain(-8, 8),), out="float"),
    Op("softplus", S.softplus, lambda x: np.logaddexp(0, x), F, (Domain(-8, 8),)),
    Op("erf", S.erf, erf_ref, F),
    Op("erfc", S.erfc, erfc_ref, F, rtol=3),
    Op("maximum", S.maximum, np.maximum, NUM, (TIES, TIES)),
    Op("minimum", S.minimum, np.minimum, NUM, (TIES, TIES)),
    Op("where", S.where, np.where, NUM, (STD, STD, STD), bool_args=(0,)),
    Op("clip", lambda x: S.clip(x, -1, 2), lambda x: np.clip(x, -1, 2), NUM),
    Op("pow", S.pow, np.power, F, (POS, STD)),
    Op("isnan", lambda x: S.isnan(S.log(x)), lambda x: np.isnan(np.log(x)), F, out="bool"),
    Op("isinf", lambda x: S.isinf(1 / x), lambda x: np.isinf(1 / x), F, (TIES,), out="bool"),
    Op("cast_int32", lambda x: S.cast(x, "int32"), lambda x: x.astype(np.int32), F, out="int32"),
    Op("cast_float64", lambda x: S.cast(x, "float64"), lambda x: x.astype(np.float64), INTS,
       out="float64"),
    Op("astype_int8", lambda x: x.astype("int8"), lambda x: x.astype(np.int8), F, out="int8"),
    Op("add", operator.add, operator.add, NUM + ("uint8",), (STD, STD)),
    Op("sub", operator.sub, operator.sub, NUM, (STD, STD)),
    Op("mul", operator.mul, operator.mul, NUM, (STD, STD)),
    Op("truediv", operator.truediv, operator.truediv, FI, (STD, NONZERO), out="float"),
    Op("floordiv", operator.floordiv, operator.floordiv, NUM, (Domain(-5, 5), NONZERO)),
    Op("mod", operator.mod, operator.mod, NUM, (Domain(-5, 5), NONZERO)),
    Op("pow_op", operator.pow, operator.pow, F, (POS, STD)),
    Op("neg", operator.neg, operator.neg, NUM),
    Op("abs_builtin", abs, abs, NUM),
    Op("lt", operator.lt, operator.lt, NUM, (TIES, TIES), out="bool"),
    Op("le", operator.le, operator.le, NUM, (TIES, TIES), out="bool"),
    Op("gt", operator.gt, operator.gt, NUM, (TIES, TIES), out="bool"),
    Op("ge", operator.ge, operator.ge, NUM, (TIES, TIES), out="bool"),
    Op("eq", S.eq, np.equal, NUM, (TIES, TIES), out="bool"),
    Op("neq", S.neq, np.not_equal, NUM, (TIES, TIES), out="bool"),
    Op("and", operator.and_, operator.and_, LOGIC, (Domain(0, 7), Domain(0, 7))),
    Op("or", operator.or_, operator.or_, LOGIC, (Domain(0, 7), Domain(0, 7))),
    Op("invert", operator.invert, operator.invert, LOGIC, (Domain(0, 7),)),
    Op("relu", S.nnet.relu, lambda x: np.maximum(x, 0), F),
]
# fmt: on

SHAPES = {
    1: [(), (5,), (3, 4), (2, 3, 4), (0, 3)],
    2: [((), ()), ((5,), (5,)), ((3, 1), (1, 4)), ((5,), (2, 5)), ((), (3, 4)), ((0, 3), (3,))],
    3: [((), (), ()), ((4,), (4,), (4,)), ((3, 1), (1, 4), ()), ((2, 3), (3,), (2, 1))],
}
BASE_RTOL = {"float32": 2e-6, "float64": 1e-12}


def sample(rng, domain: Domain, dtype: str, shape) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in F and not domain.discrete:
        x = rng.uniform(domain.lo, domain.hi, shape)
    else:  # integers: the integral points of the domain that the dtype can hold
        info = np.iinfo(dtype) if dtype not in F else None
        lo = math.ceil(domain.lo) if info is None else max(math.ceil(domain.lo), info.min)
        hi = math.floor(domain.hi)
        x = rng.integers(lo, hi + 1, shape)
    if domain.signed:
        x = x * np.where(rng.random(shape) < 0.5, -1, 1) if dtype != "uint8" else x
    return np.asarray(x).astype(dtype)


def promote(*dtypes: str) -> str:
    """Reference promotion (docs/semantics.md): an int never widens a float; ints as NumPy 2."""
    floats = [d for d in dtypes if d in F]
    if floats:
        return "float64" if "float64" in floats else "float32"
    return np.result_type(*dtypes).name


def expected_dtype(op: Op, arg_dtypes: list) -> str:
    data = [d for i, d in enumerate(arg_dtypes) if i not in op.bool_args]
    if op.out == "same":
        return promote(*data)
    if op.out == "float":
        d = promote(*data)
        return d if d in F else "float32"
    return op.out


def check(out, ref, dtype: str, rtol_factor: float = 1.0) -> None:
    out = np.asarray(out)
    assert out.dtype == np.dtype(dtype), f"dtype {out.dtype}, expected {dtype}"
    assert out.shape == np.shape(ref)
    if dtype in BASE_RTOL:
        tol = BASE_RTOL[dtype] * rtol_factor * 5
        np.testing.assert_allclose(out, np.asarray(ref, np.float64), rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(out, ref)


def cases():
    for op in OPS:
        for dtype in op.dtypes:
            for shapes in SHAPES[op.arity]:
                shapes = shapes if op.arity > 1 else (shapes,)
                label = "-".join(str(s).replace(" ", "") for s in shapes)
                yield pytest.param(op, dtype, shapes, id=f"{op.name}-{dtype}-{label}")


@pytest.mark.parametrize("op,dtype,shapes", list(cases()))
def test_elemwise_matches_numpy(op, dtype, shapes, device, rng):
    arg_dtypes = ["bool" if i in op.bool_args else dtype for i in range(op.arity)]
    values = [sample(rng, d, t, s) for d, t, s in zip(op.domains, arg_dtypes, shapes)]
    xs = [S.tensor(f"x{i}", t, s) for i, (t, s) in enumerate(zip(arg_dtypes, shapes))]
    out = run(op.fn(*xs), dict(zip(xs, values)), device)
    with np.errstate(all="ignore"):
        ref = op.ref(*values)
    check(out, ref, expected_dtype(op, arg_dtypes), op.rtol)


@pytest.mark.parametrize("shapes", [((3, 1), (1, 4)), ((5,), (2, 5)), ((1,), (3, 1))], ids=str)
def test_elemwise_broadcasts_unknown_length_one_axes(shapes, device, rng):
    # a None axis that is 1 at run time broadcasts as in NumPy
    a, b = (S.tensor(n, "float64", (None,) * len(s)) for n, s in zip("ab", shapes))
    va, vb = (rng.standard_normal(s) for s in shapes)
    check(run(a * b - a, {a: va, b: vb}, device), va * vb - va, "float64")


# (left dtype, right dtype, expected dtype of left + right): tensor-with-tensor promotion
PROMOTIONS = [
    ("int8", "uint8", "int16"),
    ("bool", "int8", "int8"),
    ("int32", "int64", "int64"),
    ("uint8", "uint8", "uint8"),
    ("float32", "int64", "float32"),
    ("int64", "float32", "float32"),
    ("float32", "float64", "float64"),
    ("int8", "float64", "float64"),
    ("bool", "float32", "float32"),
]


@pytest.mark.parametrize("left,right,expected", PROMOTIONS, ids=lambda v: str(v))
def test_add_promotes_dtypes(left, right, expected, device, rng):
    a, b = S.vector("a", left), S.vector("b", right)
    va, vb = sample(rng, Domain(0, 5), left, (4,)), sample(rng, Domain(0, 5), right, (4,))
    check(run(a + b, {a: va, b: vb}, device), va.astype(np.float64) + vb, expected)


# (input dtype, expression, NumPy reference, expected dtype): Python numbers are weak
WEAK = [
    ("float32", lambda x: x * 0.5, lambda x: x * 0.5, "float32"),
    ("float32", lambda x: 2 - x, lambda x: 2 - x, "float32"),
    ("float32", lambda x: 1 / x, lambda x: 1 / x, "float32"),
    ("float32", lambda x: 2.0**x, lambda x: 2.0**x, "float32"),
    ("float64", lambda x: x + 1, lambda x: x + 1, "float64"),
    ("int8", lambda x: x + 1, lambda x: x + 1, "int8"),
    ("int8", lambda x: 3 * x, lambda x: 3 * x, "int8"),
    ("int32", lambda x: x * 0.5, lambda x: x * 0.5, "float32"),
    ("uint8", lambda x: x + 2, lambda x: x + 2, "uint8"),
    ("bool", lambda x: x + 1, lambda x: x.astype(np.int64) + 1, "int64"),
    ("bool", lambda x: x * 1.5, lambda x: x * 1.5, "float32"),
    ("int32", lambda x: x / 2, lambda x: x / 2, "float32"),
    ("int32", lambda x: S.exp(x), lambda x: np.exp(x), "float32"),
    ("bool", lambda x: S.sqrt(x), lambda x: np.sqrt(x), "float32"),
    ("int8", lambda x: x // 2, lambda x: x // 2, "int8"),
    ("float32", lambda x: x > 0.5, lambda x: x > 0.5, "bool"),
]


@pytest.mark.parametrize(
    "dtype,fn,ref,expected", WEAK, ids=[f"{w[0]}-{i}" for i, w in enumerate(WEAK)]
)
def test_python_number_is_weak(dtype, fn, ref, expected, device, rng):
    x = S.vector("x", dtype)
    v = sample(rng, Domain(1, 4), dtype, (5,))
    check(run(fn(x), {x: v}, device), ref(v), expected)


def test_integer_true_division_gives_float32(device):
    a, b = S.vector("a", "int32"), S.vector("b", "int32")
    va, vb = np.array([7, -7, 1], np.int32), np.array([2, 2, 3], np.int32)
    check(run(a / b, {a: va, b: vb}, device), va / vb, "float32")


def test_floordiv_and_mod_follow_divisor_sign(device):
    a, b = S.vector("a", "int32"), S.vector("b", "int32")
    va, vb = np.array([7, -7, 7, -7], np.int32), np.array([2, 2, -2, -2], np.int32)
    out = run([a // b, a % b], {a: va, b: vb}, device)
    np.testing.assert_array_equal(out[0], [3, -4, -4, 3])
    np.testing.assert_array_equal(out[1], [1, 1, -1, -1])


def test_round_half_to_even(device):
    x = S.vector("x", "float64")
    v = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5])
    check(run(S.round(x), {x: v}, device), [0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 4.0], "float64")


def test_isnan_isinf_on_special_values(device):
    x = S.vector("x", "float32")
    v = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0], np.float32)
    nan, inf = run([S.isnan(x), S.isinf(x)], {x: v}, device)
    np.testing.assert_array_equal(nan, [True, False, False, False, False])
    np.testing.assert_array_equal(inf, [False, True, True, False, False])


def test_logic_ops_on_bool_are_logical(device):
    a, b = S.vector("a", "bool"), S.vector("b", "bool")
    va, vb = np.array([True, True, False, False]), np.array([True, False, True, False])
    out = run([a & b, a | b, ~a], {a: va, b: vb}, device)
    for o, ref in zip(out, [va & vb, va | vb, ~va]):
        check(o, ref, "bool")


def test_where_with_comparison_condition(device, rng):
    x = S.matrix("x")
    v = rng.standard_normal((3, 4)).astype(np.float32)
    check(run(S.where(x > 0, x, 0.0), {x: v}, device), np.where(v > 0, v, 0), "float32")
