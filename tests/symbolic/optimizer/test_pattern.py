"""Patterns and rules as data: P/V/C matching, captures, predicates, declining builders.

These tests use toy rules defined here, not the production rule sets, so they test the
matcher alone.
"""

import operator

import numpy as np
import pytest

import symbolic as S
from symbolic.optimizer.pattern import COMMUTATIVE, C, P, Rule, V, constant_value, match

x = S.vector("x")
y = S.vector("y")
two = S.constant(np.float32(2))


# ---- P and V: op names and captures ---------------------------------------------------------


def test_p_matches_by_op_name_and_captures_inputs():
    captures = match(P("add", V("a"), V("b")), x + y, {})
    assert captures == {"a": x, "b": y}


def test_p_rejects_other_ops_and_leaves():
    assert match(P("add", V("a"), V("b")), x * y, {}) is None
    assert match(P("add", V("a"), V("b")), x, {}) is None  # an input has no op


def test_p_without_sub_patterns_matches_any_inputs():
    assert match(P("exp"), S.exp(x + y), {}) == {}


def test_p_with_wrong_arity_does_not_match():
    assert match(P("add", V("a")), x + y, {}) is None


def test_p_name_captures_the_matched_variable():
    e = S.exp(x)
    assert match(P("exp", V("a"), name="whole"), e, {}) == {"a": x, "whole": e}


def test_nested_patterns_capture_deep_variables():
    expr = S.log(S.exp(-x))
    assert match(P("log", P("exp", P("neg", V("a")))), expr, {}) == {"a": x}
    assert match(P("log", P("exp", P("sin", V("a")))), expr, {}) is None


def test_v_matches_any_variable():
    for var in (x, x + y, two):
        assert match(V("a"), var, {}) == {"a": var}
    assert match(V(), x, {}) == {}  # anonymous: matches, captures nothing


# ---- the same name twice binds the same variable ----------------------------------------------


def test_same_name_twice_matches_the_same_variable():
    assert match(P("sub", V("a"), V("a")), x - x, {}) == {"a": x}


def test_same_name_twice_rejects_different_variables():
    assert match(P("sub", V("a"), V("a")), x - y, {}) is None


def test_same_name_twice_rejects_equal_but_distinct_nodes():
    # exp(x) built twice is two nodes until the rewriter merges them: the matcher goes by identity
    assert match(P("sub", V("a"), V("a")), S.exp(x) - S.exp(x), {}) is None


def test_existing_captures_constrain_the_match():
    assert match(V("a"), x, {"a": x}) == {"a": x}
    assert match(V("a"), y, {"a": x}) is None


# ---- commutative ops match both orders -------------------------------------------------------

COMMUTATIVE_BUILDERS = [
    ("add", operator.add),
    ("mul", operator.mul),
    ("maximum", S.maximum),
    ("minimum", S.minimum),
]


@pytest.mark.parametrize(
    "name, build", COMMUTATIVE_BUILDERS, ids=[n for n, _ in COMMUTATIVE_BUILDERS]
)
def test_commutative_op_matches_both_orders(name, build):
    assert name in COMMUTATIVE
    pattern = P(name, V("a"), C(2))
    assert match(pattern, build(x, two), {}) == {"a": x}
    assert match(pattern, build(two, x), {}) == {"a": x}


@pytest.mark.parametrize("name, build", [("sub", operator.sub), ("true_div", operator.truediv)])
def test_noncommutative_op_matches_one_order(name, build):
    assert name not in COMMUTATIVE
    pattern = P(name, V("a"), C(2))
    assert match(pattern, build(x, two), {}) == {"a": x}
    assert match(pattern, build(two, x), {}) is None


def test_commutative_retry_drops_captures_of_the_failed_order():
    # first order binds a = neg(x) then fails on the second argument; the swap must start afresh
    pattern = P("add", V("a"), P("neg", V("a")))
    assert match(pattern, -x + x, {}) == {"a": x}
    assert match(pattern, x + -x, {}) == {"a": x}
    assert match(pattern, -x + y, {}) is None


def test_commutative_nested_pattern_matches_both_orders():
    pattern = P("log", P("add", C(1), V("a")))
    assert match(pattern, S.log(1 + x), {}) == {"a": x}
    assert match(pattern, S.log(x + 1), {}) == {"a": x}


# ---- C: constants whose every element equals a value ----------------------------------------

ONES_MATCHED = [
    ("float32 scalar", np.float32(1)),
    ("float64 matrix", np.ones((2, 3))),
    ("int64 vector", np.ones(4, dtype=np.int64)),
    ("bool true", np.array(True)),
]
ONES_NOT_MATCHED = [
    ("mixed", np.array([1.0, 2.0], dtype=np.float32)),
    ("other value", np.full((2, 2), 2.0)),
    ("nearly one", np.float32(1 + 1e-6)),
    ("empty", np.ones((0,), dtype=np.float32)),
]


@pytest.mark.parametrize("label, data", ONES_MATCHED, ids=[n for n, _ in ONES_MATCHED])
def test_c_matches_constant_whose_every_element_equals_value(label, data):
    c = S.constant(data)
    assert match(C(1), c, {}) == {}
    assert match(C(1, name="one"), c, {}) == {"one": c}


@pytest.mark.parametrize("label, data", ONES_NOT_MATCHED, ids=[n for n, _ in ONES_NOT_MATCHED])
def test_c_rejects_other_constants(label, data):
    assert match(C(1), S.constant(data), {}) is None


def test_c_rejects_non_constants():
    assert match(C(1), x, {}) is None
    assert match(C(1), S.ones_like(x), {}) is None  # ones at run time, but not a Constant


def test_constant_value_is_the_shared_element_or_none():
    assert constant_value(S.constant(np.full((2, 2), 3.0))) == 3.0
    assert constant_value(S.constant(np.array([1.0, 2.0]))) is None
    assert constant_value(x) is None


# ---- where predicates -------------------------------------------------------------------------


def test_v_where_predicate_filters_variables():
    is_f64 = V("a", where=lambda v: v.dtype == "float64")
    assert match(is_f64, S.vector("d", dtype="float64"), {}) is not None
    assert match(is_f64, x, {}) is None


def test_p_where_predicate_sees_the_matched_output():
    matrix_exp = P("exp", V("a"), where=lambda v: v.ndim == 2)
    assert match(matrix_exp, S.exp(S.matrix("m")), {}) is not None
    assert match(matrix_exp, S.exp(x), {}) is None


def test_where_predicate_on_static_shape():
    scalar_like = V("c", where=lambda v: all(d == 1 for d in v.type.shape))
    pattern = P("mul", V("a"), scalar_like)
    assert match(pattern, x * S.tensor("s", shape=(1,)), {}) is not None
    assert match(pattern, x * y, {}) is None


# ---- Rule: the builder gets the captures and may decline --------------------------------------


def test_rule_builder_gets_captures_as_keywords():
    seen = {}

    def build(a, b):
        seen.update(a=a, b=b)
        return a

    rule = Rule("first", P("add", V("a"), V("b")), build, "a + b -> a (a toy)")
    assert rule.apply(x + y) is x
    assert seen == {"a": x, "b": y}


def test_rule_does_not_call_builder_without_a_match():
    def build(a):
        raise AssertionError("the builder must not run")

    rule = Rule("never", P("exp", V("a")), build, "toy")
    assert rule.apply(S.log(x)) is None


def test_rule_builder_returning_none_declines():
    rule = Rule("decline", P("exp", V("a")), lambda a: None, "toy: always declines")
    assert rule.apply(S.exp(x)) is None


def test_rule_is_data():
    rule = Rule("double_neg", P("neg", P("neg", V("x"))), lambda x: x, "--x = x")
    assert rule.pattern.op == "neg"
    assert rule.pattern.args[0].args[0].name == "x"
    assert rule.math == "--x = x"
    with pytest.raises(AttributeError):
        rule.name = "other"  # frozen
