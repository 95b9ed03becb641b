"""The rewrite engine: fixed points, merging, constant folding, casts, termination, depth, order.

Toy rules defined here drive `rewrite_to_fixed_point` directly, so these tests do not depend on
the production rule sets.
"""

import numpy as np
import pytest

import symbolic as S
from symbolic.graph import Constant, toposort
from symbolic.optimizer.pattern import C, P, Rule, V
from symbolic.optimizer.rewriter import RewriteLog, fold_constants, rewrite_to_fixed_point


def neg(v):
    return -v


DOUBLE_NEG = Rule("double_neg", P("neg", P("neg", V("x"))), lambda x: x, "--x = x")
SIN_TO_NEG = Rule("sin_to_neg", P("sin", V("x")), lambda x: -x, "toy: sin(x) -> -x")
EXP_TO_NEG_NEG = Rule(
    "exp_to_neg_neg", P("exp", V("x")), lambda x: neg(neg(x)), "toy: exp(x) -> --x"
)
SUB_SELF = Rule("sub_self", P("sub", V("x"), V("x")), lambda x: S.zeros_like(x), "x - x = 0")
MUL_ONE = Rule("mul_one", P("mul", V("x"), C(1)), lambda x: x, "x * 1 = x (toy: no shape check)")


def rewrite(outputs, rules=(), fold=None, log=None):
    log = RewriteLog() if log is None else log
    single = not isinstance(outputs, list)
    out = rewrite_to_fixed_point([outputs] if single else outputs, list(rules), log, fold=fold)
    return out[0] if single else out


def names(outputs) -> list[str]:
    return [node.op.name for node in toposort(outputs if isinstance(outputs, list) else [outputs])]


def value(expr, inputs, *args):
    return S.compile(inputs, expr, device="numpy", optimize=False)(*args)


x = S.vector("x")
y = S.vector("y")


# ---- rules applied to a fixed point ---------------------------------------------------------


def test_rewrite_removes_double_negation():
    assert rewrite(neg(neg(x)), [DOUBLE_NEG]) is x


def test_rewrite_without_rules_or_duplicates_returns_the_same_graph():
    expr = S.exp(x) + S.log(y)
    assert rewrite(expr) is expr


def test_rewrite_rule_output_enables_another_rule():
    log = RewriteLog()
    assert rewrite(-S.sin(x), [SIN_TO_NEG, DOUBLE_NEG], log=log) is x  # -sin x -> --x -> x
    assert log.items() == [("sin_to_neg", 1), ("double_neg", 1)]


def test_rewrite_replacement_is_itself_rewritten():
    log = RewriteLog()
    assert rewrite(S.exp(x), [EXP_TO_NEG_NEG, DOUBLE_NEG], log=log) is x
    assert "double_neg" in log


def test_rewrite_child_rewrite_enables_parent_rule():
    expr = S.exp(x) - S.sin(S.sin(x))  # after the toy rules: --x - --x -> x - x -> zeros
    out = rewrite(expr, [EXP_TO_NEG_NEG, SIN_TO_NEG, DOUBLE_NEG, SUB_SELF])
    assert "sub" not in names(out)
    np.testing.assert_array_equal(value(out, [x], [1.0, 2.0]), [0.0, 0.0])


def test_rewrite_result_is_a_fixed_point():
    rules = [EXP_TO_NEG_NEG, SIN_TO_NEG, DOUBLE_NEG, SUB_SELF]
    once = rewrite([S.exp(S.sin(x)) * y, S.sin(-y)], rules)
    log = RewriteLog()
    again = rewrite(once, rules, log=log)
    assert len(log) == 0
    assert all(a is b for a, b in zip(again, once))


def test_rewrite_declining_builder_lets_the_next_rule_fire():
    declined = []
    decline = Rule("decline", P("sin", V("x")), lambda x: declined.append(x), "toy: declines")
    log = RewriteLog()
    assert rewrite(-S.sin(x), [decline, SIN_TO_NEG, DOUBLE_NEG], log=log) is x
    assert declined and "decline" not in log


# ---- merging: equal nodes and equal constants become one -------------------------------------


def test_merge_equal_subexpressions_built_separately():
    out = rewrite(S.exp(x) + S.exp(x))
    assert names(out) == ["exp", "add"]
    assert out.owner.inputs[0] is out.owner.inputs[1]


def test_merge_across_outputs():
    a, b = rewrite([S.exp(x) * 2, S.exp(x) * 2])
    assert a is b


def test_merge_enables_rules_that_need_the_same_variable_twice():
    out = rewrite(S.exp(x) - S.exp(x), [SUB_SELF])
    assert "sub" not in names(out)


def test_merge_equal_constants():
    c1, c2 = S.constant(np.float32(2.5)), S.constant(np.float32(2.5))
    a, b = rewrite([x + c1, y * c2])
    assert a.owner.inputs[1] is b.owner.inputs[1]


def test_merge_through_equal_constants():
    c1, c2 = S.constant(np.float32(2.5)), S.constant(np.float32(2.5))
    out = rewrite(S.exp(x + c1) * S.exp(x + c2))
    assert names(out) == ["add", "exp", "mul"]


@pytest.mark.parametrize(
    "c2",
    [np.array(2.5, dtype=np.float64), np.float32(3.5), np.array([2.5], dtype=np.float32)],
    ids=["other dtype", "other value", "other shape"],
)
def test_merge_keeps_different_constants_apart(c2):
    c1 = S.constant(np.float32(2.5))
    a, b = rewrite([S.exp(c1), S.exp(S.constant(c2))])
    assert a.owner.inputs[0] is not b.owner.inputs[0]


# ---- constant folding ----------------------------------------------------------------------


def test_fold_constant_graph_becomes_one_constant():
    c = S.constant(np.arange(3, dtype=np.float32))
    expr = S.exp(c * 2 + 1) - c
    log = RewriteLog()
    out = rewrite(expr, fold=fold_constants, log=log)
    assert isinstance(out, Constant) and out.dtype == "float32"
    np.testing.assert_allclose(out.data, np.exp(np.arange(3) * 2 + 1) - np.arange(3), rtol=1e-6)
    assert log["constant_folding"] == 4


def test_fold_stops_at_variables():
    c = S.constant(np.float32(3))
    out = rewrite(x * (c * c), fold=fold_constants)
    assert names(out) == ["mul"]
    assert float(out.owner.inputs[1].data) == 9.0


def test_fold_keeps_big_broadcasts():
    big = S.broadcast_to(S.constant(np.float32(1)), (1000, 1000))
    out = rewrite(big, fold=fold_constants)
    assert names(out) == ["broadcast_to"]


def test_fold_small_broadcast():
    out = rewrite(S.broadcast_to(S.constant(np.float32(1)), (2, 3)), fold=fold_constants)
    assert isinstance(out, Constant)
    np.testing.assert_array_equal(out.data, np.ones((2, 3), np.float32))


def test_fold_leaves_failing_constant_expression_for_run_time():
    bad = S.constant(np.arange(3, dtype=np.float32))[S.constant(5)]  # out of bounds
    out = rewrite(bad, fold=fold_constants)
    assert names(out) == ["subtensor"]
    f = S.compile([x], x + bad, device="numpy")
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.ones(2, np.float32))


# ---- what the engine checks about replacements ------------------------------------------------


def test_replacement_dtype_is_cast_back():
    f32 = V("x", where=lambda v: v.dtype == "float32")
    to_f64 = Rule("to_f64", P("exp", f32), lambda x: S.exp(x.astype("float64")), "toy")
    out = rewrite(S.exp(x), [to_f64])
    assert out.dtype == "float32"
    assert names(out)[-1] == "cast_float32"
    np.testing.assert_allclose(value(out, [x], [0.0, 1.0]), np.exp([0.0, 1.0]), rtol=1e-6)


def test_replacement_changing_ndim_raises():
    total = Rule("to_sum", P("exp", V("x")), lambda x: S.sum(x), "toy: wrong ndim")
    with pytest.raises(AssertionError, match="to_sum changed ndim"):
        rewrite(S.exp(x), [total])


def test_nonterminating_rule_pair_raises():
    there = Rule("exp_to_log", P("exp", V("x")), lambda x: S.log(x), "toy")
    back = Rule("log_to_exp", P("log", V("x")), lambda x: S.exp(x), "toy")
    with pytest.raises(RuntimeError, match="does not terminate"):
        rewrite(S.exp(x), [there, back])


def test_rule_returning_its_input_unchanged_does_not_count():
    same = Rule("same", P("exp", V("x")), lambda x, **_: None, "toy")
    identity = Rule("identity", P("exp", V("x"), name="e"), lambda x, e: e, "toy")
    log = RewriteLog()
    out = rewrite(S.exp(x), [same, identity], log=log)
    assert names(out) == ["exp"] and len(log) == 0


# ---- depth and memory ------------------------------------------------------------------------


@pytest.mark.parametrize("depth, left", [(10_000, []), (10_001, ["neg"])])
def test_rewrite_chain_of_ten_thousand_without_recursion_error(depth, left):
    expr = x
    for _ in range(depth):
        expr = -expr
    out = rewrite(expr, [DOUBLE_NEG])
    assert names(out) == left


def test_rewrite_deep_mixed_chain_with_folding():
    expr = x
    for i in range(10_000):
        expr = S.sin(expr) if i % 2 else expr * S.constant(np.float32(1))
    out = rewrite(expr, [MUL_ONE], fold=fold_constants)
    assert names(out) == ["sin"] * 5000


def test_rewrite_many_replacements_keep_distinct_inputs():
    # Replacements are dropped once rewritten: the engine must not confuse a new variable with
    # a collected one (ids are reused), which would wire one output to another's input.
    exp_to_log_sin = Rule("exp_to_log_sin", P("exp", V("x")), lambda x: S.log(S.sin(x)), "toy")
    xs = [S.vector(f"x{i}") for i in range(3000)]
    outs = rewrite([S.exp(v) for v in xs], [exp_to_log_sin, SIN_TO_NEG])  # exp(v) -> log(-v)
    for v, out in zip(xs, outs):
        assert names(out) == ["neg", "log"]
        assert out.owner.inputs[0].owner.inputs[0] is v


# ---- determinism and the log --------------------------------------------------------------


def build_graph():
    a, b = S.vector("a"), S.matrix("b")
    c = S.constant(np.float32(2)) * S.constant(np.float32(3))
    h = S.exp(a * c) + S.sin(S.exp(a * c))
    return [S.log(h + b).sum(axis=0), neg(neg(h)), S.exp(a) - S.exp(a)]


def test_rewrite_is_deterministic():
    rules = [EXP_TO_NEG_NEG, SIN_TO_NEG, DOUBLE_NEG, SUB_SELF]
    runs = [rewrite(build_graph(), rules, fold=fold_constants) for _ in range(2)]
    graph = build_graph()
    runs += [rewrite(graph, rules, fold=fold_constants) for _ in range(2)]
    texts = {S.debugprint(r, file="str") for r in runs}
    assert len(texts) == 1
    assert len({tuple(names(r)) for r in runs}) == 1


def test_log_lists_rules_in_first_fired_order_with_counts():
    rules = [SIN_TO_NEG, DOUBLE_NEG]
    log = RewriteLog()
    rewrite([neg(neg(x)), neg(neg(y)), -S.sin(x)], rules, log=log)
    assert log.items() == [("double_neg", 3), ("sin_to_neg", 1)]
    log = RewriteLog()
    rewrite([-S.sin(x), neg(neg(x)), neg(neg(y))], rules, log=log)
    assert log.items() == [("sin_to_neg", 1), ("double_neg", 3)]
    assert list(log) == log.items() and len(log) == 2
    assert log["double_neg"] == 3 and log["missing"] == 0
    assert "sin_to_neg" in log and "missing" not in log
    assert "double_neg" in str(log) and "double_neg×3" in repr(log)


def test_log_accumulates_over_rewrites():
    log = RewriteLog()
    rewrite(neg(neg(x)), [DOUBLE_NEG], log=log)
    rewrite(neg(neg(y)), [DOUBLE_NEG], log=log)
    assert log.items() == [("double_neg", 2)]
