"""The specialize rules, from one table: each expression, the ops its rewritten form must and
must not contain, and its values equal to the unoptimized graph (compiled with every phase,
fusion included); then the forms that must stay as they are."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import check_values, make_inputs

import symbolic as S
from symbolic.graph import toposort
from symbolic.optimizer.rewriter import RewriteLog, fold_constants, rewrite_to_fixed_point
from symbolic.optimizer.rules import CANONICALIZE, SPECIALIZE, STABILIZE

V = ("float32", (None,))
V64 = ("float64", (None,))
I = ("int32", (None,))  # noqa: E741 - an integer vector
M = ("float32", (None, None))
IMAGES = ("float32", (None, None, 6, 6))  # (N, C, H, W)
PLANE_SHIFT = ("float32", (1, None, 1, 1))  # one value per channel: a conv's bias


def specialized(expr, log=None):
    """expr after every rewriting phase up to specialize (before fusion, whose fused nodes
    would hide the names these tests look for)."""
    log = log if log is not None else RewriteLog()
    out = [expr]
    for rules in ([], CANONICALIZE, STABILIZE, SPECIALIZE):
        out = rewrite_to_fixed_point(out, rules, log, fold=fold_constants)
    return out[0]


# (id, input spec, expression builder, ops present (each exactly as often as listed), absent)
REWRITTEN = [
    ("div_by_two", [V], lambda x: x / 2.0, ["mul"], ["true_div"]),
    ("div_by_three", [V], lambda x: x / 3.0, ["mul"], ["true_div"]),
    ("div_by_three_float64", [V64], lambda x: x / 3.0, ["mul"], ["true_div"]),
    (
        "div_by_constant_vector",
        [V],
        lambda x: x / np.array([2.0, 4.0, 5.0], np.float32),
        ["mul"],
        ["true_div"],
    ),
    ("div_int_by_float_constant", [I], lambda i: i / 4.0, ["mul"], ["true_div"]),
    ("pow_three", [V], lambda x: x**3, ["square", "mul"], ["pow"]),
    ("pow_four", [V], lambda x: x**4, ["square", "square"], ["pow", "mul"]),
    ("pow_five_int", [I], lambda i: i**5, ["square", "square", "mul"], ["pow"]),
    ("pow_six", [V], lambda x: x**6, ["square", "square", "mul"], ["pow"]),
    ("pow_seven", [V], lambda x: x**7, ["square", "square", "mul", "mul"], ["pow"]),
    ("pow_eight", [V64], lambda x: x**8, ["square", "square", "square"], ["pow", "mul"]),
    (
        "pow_three_vector_constant",
        [("float32", (3,))],
        lambda x: x ** np.full(3, 3.0, np.float32),
        ["square", "mul"],
        ["pow"],
    ),
    ("stop_gradient", [V], lambda x: S.exp(S.stop_gradient(x)), ["exp"], ["stop_gradient"]),
    (
        "gradient_gate",
        [V],
        lambda x: S.exp(S.stop_gradient(x, keep=S.constant(True))),
        ["exp"],
        ["stop_gradient"],
    ),
    (
        "max_pool_of_shifted",
        [IMAGES, PLANE_SHIFT],
        lambda x, b: S.nnet.max_pool2d(b + x, 2),
        ["max_pool2d"],
        ["add"],
    ),
    (
        "max_pool_grad_of_shifted",
        [IMAGES, PLANE_SHIFT],
        lambda x, b: S.grad(S.sum(S.sin(S.nnet.max_pool2d(x + b, 2, 1, 1))), x),
        ["max_pool2d", "max_pool2d_grad"],
        ["add"],
    ),
    (  # one sum_to stays: sin's gradient summed to the pooled shape (the same shape)
        "shift_gradient_from_max_pool_grad",
        [IMAGES, PLANE_SHIFT],
        lambda x, b: S.grad(S.sum(S.sin(S.nnet.max_pool2d(x + b, 2))), b),
        ["max_pool2d", "max_pool2d_grad", "sum_to"],
        ["add"],
    ),
]

# (id, input spec, expression builder, ops that must stay)
KEPT = [
    ("div_by_variable", [V, V], lambda x, y: x / y, ["true_div"]),
    ("int_div_by_int_constant", [I], lambda i: i / 2, ["true_div"]),
    ("div_by_subnormal", [V], lambda x: x / S.constant(np.float32(1e-45)), ["true_div"]),
    ("pow_nine", [V], lambda x: x**9, ["pow"]),
    ("pow_fractional", [V], lambda x: x**2.5, ["pow"]),
    ("pow_mixed_exponents", [V], lambda x: x ** np.array([3.0, 4.0, 3.0], np.float32), ["pow"]),
    ("pow_broadcasting_exponent", [V], lambda x: x ** np.full((2, 1), 3.0, np.float32), ["pow"]),
    ("pow_in_wider_dtype", [I], lambda i: i ** S.constant(3.0, "float32"), ["pow"]),
    ("pow_exponent_may_broadcast", [V], lambda x: x ** np.full(3, 3.0, np.float32), ["pow"]),
    ("sum_of_product", [M, M], lambda x, y: (x * y).sum(axis=1), ["mul", "sum"]),
    ("dot_transposed", [M, M], lambda x, y: S.dot(x.T, y), ["dimshuffle", "dot"]),
    ("max_pool_of_a_full_sum", [IMAGES, IMAGES], lambda x, y: S.nnet.max_pool2d(x + y, 2), ["add"]),
    (
        "max_pool_of_a_row_shift",
        [IMAGES, ("float32", (1, 1, 6, 1))],
        lambda x, b: S.nnet.max_pool2d(x + b, 2),
        ["add"],
    ),
    (
        "max_pool_of_a_shift_that_broadcasts_x",
        [("float32", (None, 1, 6, 6)), PLANE_SHIFT],
        lambda x, b: S.nnet.max_pool2d(x + b, 2),
        ["add"],
    ),
]


@pytest.mark.parametrize("name,spec,build,present,absent", REWRITTEN, ids=[r[0] for r in REWRITTEN])
def test_specialize_rewritten_form(name, spec, build, present, absent, rng):
    variables, _ = make_inputs(spec, rng, signed=True, int_bound=4)
    expr = build(*variables)
    new = specialized(expr)
    ops = [node.op.name for node in toposort([new])]
    for op in present:
        assert ops.count(op) == present.count(op), ops
    for op in absent:
        assert op not in ops, ops
    assert new.dtype == expr.dtype and new.type.shape == expr.type.shape


@pytest.mark.parametrize("name,spec,build,present,absent", REWRITTEN, ids=[r[0] for r in REWRITTEN])
def test_specialize_values_equal_unoptimized(name, spec, build, present, absent, rng, device):
    variables, values = make_inputs(spec, rng, signed=True, int_bound=4)
    check_values(variables, values, build(*variables), rtol=5e-6, device=device)


@pytest.mark.parametrize("name,spec,build,kept", KEPT, ids=[r[0] for r in KEPT])
def test_specialize_forms_kept(name, spec, build, kept, rng, device):
    variables, values = make_inputs(spec, rng, signed=True, int_bound=4)
    expr = build(*variables)
    ops = [node.op.name for node in toposort([specialized(expr)])]
    for op in set(kept):
        assert ops.count(op) >= kept.count(op), ops
    check_values(variables, values, expr, device=device)


def test_specialize_reciprocal_constant_rounded_in_result_dtype():
    x = S.vector("x", dtype="float64")
    node = specialized(x / 3.0).owner
    assert node.op.name == "mul" and node.inputs[1].dtype == "float64"
    assert node.inputs[1].data == 1 / 3.0


def test_specialize_div_by_zero_constant_keeps_ieee_values(device):
    x = S.vector("x")
    values = np.array([1.0, -1.0, 0.0, np.nan], np.float32)
    check_values([x], [values], x / 0.0, device=device)


def test_specialize_every_rule_fires_in_the_table(rng):
    log = RewriteLog()
    for _, spec, build, _, _ in REWRITTEN:
        specialized(build(*make_inputs(spec, rng, signed=True, int_bound=4)[0]), log)
    assert {rule.name for rule in SPECIALIZE} <= set(log.counts)


def test_specialize_rule_names_in_rewrites():
    x = S.vector("x")
    f = S.compile([x], x**3 / 2.0, device="numpy")
    names = [name for name, _ in f.rewrites]
    assert {"small_integer_power", "div_by_constant"} <= set(names)


def test_specialize_rules_have_math():
    for rule in SPECIALIZE:
        assert rule.math and "\n" not in rule.math, rule.name
