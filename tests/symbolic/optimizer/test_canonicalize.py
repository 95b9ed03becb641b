"""The canonicalize rules, from one table: each expression, the ops its rewritten form must and
must not contain, and its values equal to the unoptimized graph (compiled with every phase,
fusion included). A second table holds forms that must NOT be rewritten: broadcasting
constants, float x − x and x * 0, lossy casts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import check_values, make_inputs

import symbolic as S
from symbolic.alloc import SumTo
from symbolic.elemwise import Cast
from symbolic.graph import toposort
from symbolic.optimizer.rewriter import RewriteLog, fold_constants, rewrite_to_fixed_point
from symbolic.optimizer.rules import CANONICALIZE
from symbolic.shape import DimShuffle, shape_of

V = ("float32", (None,))  # a float vector of unknown length
M = ("float32", (None, None))
T34 = ("float32", (3, 4))
T3 = ("float32", (None, None, None))
I = ("int32", (None,))  # noqa: E741 - an integer vector
I8 = ("int8", (None,))


def canonical(expr, log=None):
    """expr after merging, constant folding and the canonicalize phase (before fusion, whose
    fused nodes would hide the names these tests look for)."""
    log = log if log is not None else RewriteLog()
    out = rewrite_to_fixed_point([expr], [], log, fold=fold_constants)
    return rewrite_to_fixed_point(out, CANONICALIZE, log, fold=fold_constants)[0]


def canonical_ops(expr) -> list[str]:
    return [node.op.name for node in toposort([canonical(expr)])]


# (id, input spec, expression builder, ops present (each exactly as often as listed), ops absent)
REWRITTEN = [
    ("mul_by_one", [V], lambda x: x * 1, [], ["mul"]),
    ("one_mul", [V], lambda x: 1 * x, [], ["mul"]),
    (
        "mul_by_one_float64_const",
        [V],
        lambda x: x * S.constant(1.0, "float64"),
        ["cast_float64"],
        ["mul"],
    ),
    ("add_zero", [V], lambda x: x + 0, [], ["add"]),
    ("zero_add", [V], lambda x: 0 + x, [], ["add"]),
    ("sub_zero", [V], lambda x: x - 0, [], ["sub"]),
    ("div_by_one", [V], lambda x: x / 1, [], ["true_div"]),
    ("div_by_one_int", [I], lambda i: i / 1, ["cast_float32"], ["true_div"]),
    ("pow_one", [V], lambda x: x**1, [], ["pow"]),
    ("double_neg", [V], lambda x: S.neg(-x), [], ["neg"]),
    ("double_neg_int", [I8], lambda i: S.neg(-i), [], ["neg"]),
    ("sub_self_int", [I], lambda i: i - i, ["broadcast_to"], ["sub"]),
    ("mul_by_zero_int", [I], lambda i: i * 0, ["broadcast_to"], ["mul"]),
    ("pow_zero", [V], lambda x: x**0, ["broadcast_to"], ["pow"]),
    ("pow_two", [V], lambda x: x**2, ["square"], ["pow"]),
    ("pow_two_int", [I], lambda i: i**2, ["square"], ["pow"]),
    ("pow_half", [V], lambda x: x**0.5, ["sqrt"], ["pow"]),
    ("pow_minus_one", [V], lambda x: x**-1, ["reciprocal"], ["pow"]),
    ("add_neg", [V, V], lambda x, y: x + (-y), ["sub"], ["neg", "add"]),
    ("neg_add", [V, V], lambda x, y: (-y) + x, ["sub"], ["neg", "add"]),
    ("sub_neg", [V, V], lambda x, y: x - (-y), ["add"], ["neg", "sub"]),
    ("mul_neg_neg", [V, V], lambda x, y: (-x) * (-y), ["mul"], ["neg"]),
    ("mul_neg_neg_int", [I8, I8], lambda x, y: (-x) * (-y), ["mul"], ["neg"]),
    ("div_neg_neg", [V, V], lambda x, y: (-x) / (-y), ["true_div"], ["neg"]),
    ("mul_minus_one", [V], lambda x: x * -1, ["neg"], ["mul"]),
    ("zero_sub", [V], lambda x: 0 - x, ["neg"], ["sub"]),
    (
        "mul_reciprocal",
        [V, V],
        lambda x, y: x * S.reciprocal(y),
        ["true_div"],
        ["mul", "reciprocal"],
    ),
    ("mul_one_over", [V, V], lambda x, y: x * (1 / y), ["true_div"], ["mul"]),
    ("fold_add", [V], lambda x: (x + 1) + 2, ["add"], []),
    ("fold_add_left", [V], lambda x: 2 + (1 + x), ["add"], []),
    ("fold_mul", [V], lambda x: (x * 2) * 3, ["mul"], []),
    ("fold_mul_int", [I], lambda i: (3 * i) * 5, ["mul"], []),
    ("cast_to_same_dtype", [V], lambda x: Cast("float32")(x), [], ["cast_float32"]),
    (
        "cast_roundtrip",
        [V],
        lambda x: S.cast(S.cast(x, "float64"), "float32"),
        [],
        ["cast_float64", "cast_float32"],
    ),
    (
        "cast_int8_int32_float32",
        [I8],
        lambda i: S.cast(S.cast(i, "int32"), "float32"),
        ["cast_float32"],
        ["cast_int32"],
    ),
    ("transpose_twice", [M], lambda m: m.T.T, [], ["dimshuffle"]),
    (
        "dimshuffle_added_then_dropped",
        [M],
        lambda m: m.dimshuffle("x", 0, 1).dimshuffle(1, 2),
        [],
        ["dimshuffle"],
    ),
    ("dimshuffle_chain", [M], lambda m: m.T.dimshuffle(0, "x", 1), ["dimshuffle"], []),
    ("identity_dimshuffle", [M], lambda m: DimShuffle((0, 1), 2)(m), [], ["dimshuffle"]),
    ("merge_reshapes", [T34], lambda t: t.reshape((-1,)).reshape((2, 6)), ["reshape"], []),
    (
        "merge_reshapes_symbolic",
        [M],
        lambda m: m.reshape((-1,)).reshape((m.shape[1], -1)),
        ["reshape"],
        [],
    ),
    ("useless_reshape", [T34], lambda t: t.reshape((3, 4)), [], ["reshape"]),
    ("sum_of_sums", [T3], lambda t: t.sum(axis=1).sum(axis=0), ["sum"], ["dimshuffle"]),
    (
        "sum_of_sums_keep_inner",
        [T3],
        lambda t: t.sum(axis=1, keepdims=True).sum(axis=(0, 1)),
        ["sum"],
        ["dimshuffle"],
    ),
    (
        "sum_of_sums_keep_outer",
        [T3],
        lambda t: t.sum(axis=0).sum(axis=1, keepdims=True),
        ["sum", "dimshuffle"],
        [],
    ),
    (
        "sum_of_sums_keep_both",
        [T3],
        lambda t: t.sum(axis=2, keepdims=True).sum(axis=0, keepdims=True),
        ["sum"],
        ["dimshuffle"],
    ),
    (
        "sum_of_sums_keep_inner_only",
        [T3],
        lambda t: t.sum(axis=2, keepdims=True).sum(axis=0),
        ["sum", "dimshuffle"],
        [],
    ),
    ("sum_of_sums_int", [("int8", (None, None))], lambda i: i.sum(axis=0).sum(), ["sum"], []),
    ("static_shape", [T34], lambda t: t.shape, [], ["shape"]),
    ("static_size", [T34], lambda t: t.mean(axis=1), [], ["size"]),
    ("useless_sum_to", [T34, T34], lambda t, u: SumTo()(t, shape_of(u)), [], ["sum_to"]),
    ("useless_broadcast_to", [T34], lambda t: S.broadcast_to(t, (3, 4)), [], ["broadcast_to"]),
    ("sum_to_own_shape", [V], lambda x: SumTo()(x, shape_of(x)), [], ["sum_to"]),
    ("broadcast_to_own_shape", [M], lambda m: S.broadcast_to(m, m.shape), [], ["broadcast_to"]),
    (
        "join_slice_gradients",
        [M, M],
        lambda m, g: sliced_into_zeros(m, g, [(0, 1), (1, 2), (2, None)]),
        ["concatenate"],
        ["inc_subtensor", "add"],
    ),
]


def sliced_into_zeros(m, g, bounds):
    """Σ_k inc_subtensor(zeros_like(m)[:, a:b], g[:, a:b]): the gradient of m's column slices."""
    terms = [S.inc_subtensor(S.zeros_like(m)[:, a:b], g[:, a:b] * 2.0) for a, b in bounds]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


# (id, input spec, expression builder, ops that must stay)
KEPT = [
    ("broadcasting_ones", [("float32", (4,))], lambda x: x * S.ones((3, 4)), ["mul"]),
    ("broadcasting_zeros", [("float32", (4,))], lambda x: x + S.zeros((3, 4)), ["add"]),
    ("broadcasting_one_column", [V], lambda x: x * np.ones((2, 1), np.float32), ["mul"]),
    ("broadcasting_pow_two", [V], lambda x: x ** np.full((2, 1), 2, np.float32), ["pow"]),
    ("float_sub_self", [V], lambda x: x - x, ["sub"]),
    ("float_mul_by_zero", [V], lambda x: x * 0, ["mul"]),
    ("float_div_self", [V], lambda x: x / x, ["true_div"]),
    (
        "lossy_cast_roundtrip",
        [("float64", (None,))],
        lambda x: S.cast(S.cast(x, "float32"), "float64"),
        ["cast_float32", "cast_float64"],
    ),
    (
        "lossy_float_to_int",
        [V],
        lambda x: S.cast(S.cast(x, "int32"), "float32"),
        ["cast_int32", "cast_float32"],
    ),
    ("int_pow_half", [I], lambda i: i**0.5, ["pow"]),
    ("neg_in_narrower_dtype", [V, ("uint8", (None,))], lambda x, u: x + (-u), ["neg", "add"]),
    (
        "fold_across_wrapping_dtype",
        [I8],
        lambda i: (i + 100) + S.constant(100, "int64"),
        ["add", "add"],
    ),
    (  # a gap at column 1: not one join
        "slices_with_a_gap",
        [M, M],
        lambda m, g: sliced_into_zeros(m, g, [(0, 1), (2, None)]),
        ["inc_subtensor", "inc_subtensor", "add"],
    ),
    (  # the last slice stops before the end (its size is unknown)
        "slices_short_of_the_end",
        [M, M],
        lambda m, g: sliced_into_zeros(m, g, [(0, 1), (1, 2)]),
        ["inc_subtensor", "inc_subtensor", "add"],
    ),
]


@pytest.mark.parametrize("name,spec,build,present,absent", REWRITTEN, ids=[r[0] for r in REWRITTEN])
def test_canonicalize_rewritten_form(name, spec, build, present, absent, rng):
    variables, _ = make_inputs(spec, rng, signed=False, int_bound=5)
    expr = build(*variables)
    new = canonical(expr)
    ops = [node.op.name for node in toposort([new])]
    for op in present:  # each listed op, exactly as many times as listed
        assert ops.count(op) == present.count(op), ops
    for op in absent:
        assert op not in ops, ops
    assert new.type == expr.type or (new.ndim == expr.ndim and new.dtype == expr.dtype)


@pytest.mark.parametrize("name,spec,build,present,absent", REWRITTEN, ids=[r[0] for r in REWRITTEN])
def test_canonicalize_values_equal_unoptimized(name, spec, build, present, absent, rng, device):
    variables, values = make_inputs(spec, rng, signed=False, int_bound=5)
    check_values(variables, values, build(*variables), device=device)


@pytest.mark.parametrize("name,spec,build,kept", KEPT, ids=[r[0] for r in KEPT])
def test_canonicalize_unsafe_forms_kept(name, spec, build, kept, rng, device):
    variables, values = make_inputs(spec, rng, signed=False, int_bound=5)
    expr = build(*variables)
    new = canonical(expr)
    ops = [node.op.name for node in toposort([new])]
    for op in set(kept):
        assert ops.count(op) >= kept.count(op), ops
    assert new.type.shape == expr.type.shape
    check_values(variables, values, expr, device=device)


def test_canonicalize_every_rule_fires_in_the_table(rng):
    log = RewriteLog()
    for _, spec, build, _, _ in REWRITTEN:
        canonical(build(*make_inputs(spec, rng, signed=False, int_bound=5)[0]), log)
    assert {rule.name for rule in CANONICALIZE} <= set(log.counts)


def test_canonicalize_broadcasting_constant_keeps_shape():
    x = S.tensor("x", "float32", (4,))
    f = S.compile([x], x * S.ones((3, 4)), device="numpy")
    out = f(np.arange(4, dtype=np.float32))
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(out, np.broadcast_to(np.arange(4, dtype=np.float32), (3, 4)))


def test_canonicalize_float_nan_inf_semantics_kept():
    x = S.vector("x")
    values = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    f = S.compile([x], [x - x, x * 0], device="numpy")
    diff, prod = f(values)
    np.testing.assert_array_equal(diff, [np.nan, np.nan, np.nan, 0.0])
    np.testing.assert_array_equal(prod, [np.nan, np.nan, np.nan, 0.0])


def test_canonicalize_constant_moves_right():
    x = S.vector("x")
    node = canonical(3 + x).owner
    assert node.op.name == "add" and node.inputs[0] is x


def test_canonicalize_folded_constant_value():
    x = S.vector("x")
    node = canonical(2 * ((x * 3) * 5)).owner
    assert node.op.name == "mul" and node.inputs[0] is x
    np.testing.assert_array_equal(node.inputs[1].data, 30)


def test_canonicalize_long_neg_chain_does_not_recurse(device):
    x = S.vector("x")
    expr = x
    for i in range(2000):  # −(e * 1) repeated: 1,000 negations cancel in pairs, the * 1 vanish
        expr = -expr if i % 2 else expr * 1
    assert S.optimize(expr) is x
    values = np.array([1.0, -2.0, 3.5], np.float32)
    check_values([x], [values], expr, device=device)


def test_canonicalize_long_add_chain_folds_to_one_add(device):
    x = S.vector("x", dtype="int64")
    expr = x
    for _ in range(2000):
        expr = 1 + expr
    assert canonical_ops(expr) == ["add"]
    check_values([x], [np.array([1, -2, 3], np.int64)], expr, device=device)


def test_canonicalize_rule_names_in_rewrites():
    x = S.vector("x")
    f = S.compile([x], S.neg(-x) * 1 + 0, device="numpy")
    names = [name for name, _ in f.rewrites]
    assert {"double_neg", "mul_by_one", "add_zero"} <= set(names)
    assert S.optimize(S.neg(-x) * 1 + 0) is x


def test_canonicalize_rules_have_math():
    for rule in CANONICALIZE:
        assert rule.math and "\n" not in rule.math, rule.name


def test_reciprocal_values_and_gradient(rng):
    x = S.vector("x", dtype="float64")
    values = rng.uniform(0.5, 2.0, 5)
    np.testing.assert_allclose(S.compile([x], S.reciprocal(x))(values), 1 / values)
    S.verify_grad(S.reciprocal, [values])
    i = S.vector("i", dtype="int32")
    assert S.reciprocal(i).dtype == "float32"
