"""Elementwise fusion: which nodes fuse, and that fused graphs compute what unfused ones do."""

import numpy as np
import pytest
import sympy as sp
from conftest import both_ways, op_names, optimized_ops
from harness import assert_matches_oracle

import symbolic as S
import symbolic.distributed as D
from symbolic.elemwise import Cast, Elemwise
from symbolic.fused import FusedElemwise, FusedReduce, sympy_cast
from symbolic.graph import toposort
from symbolic.optimizer import fusion
from symbolic.optimizer.fusion import MAX_KERNEL_ARGS, WINDOW, fuse
from symbolic.optimizer.phases import optimize_graph
from symbolic.optimizer.rewriter import RewriteLog
from symbolic.scalar_ops import sigmoid_fn


def fused_nodes(outputs):
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return [n for n in toposort(outputs) if n.op.name.startswith("fused")]


def the_expression(x, y):
    return S.tanh(x * y + S.exp(-x)) * S.sigmoid(y) + 0.5 * x * x


# ---- what fuses -------------------------------------------------------------------------------


def test_fusion_expression_is_one_node():
    x, y = S.matrix("x"), S.matrix("y")
    (name,) = optimized_ops(the_expression(x, y))
    assert name.startswith("fused")


def test_fusion_lone_elementwise_node_stays():
    x, W = S.matrix("x"), S.matrix("W")
    assert optimized_ops(S.exp(x)) == ["exp"]
    assert optimized_ops(S.dot(S.exp(x), W)) == ["exp", "dot"]


def test_fusion_cast_is_a_member():
    i = S.vector("i", dtype="int32")
    (name,) = optimized_ops(S.cast(i, "float64") * 2.0 + 1.0)
    assert name.startswith("fused_cast")


def test_fusion_broadcasting_inputs_and_smaller_members_fuse():
    # exp(b) is per column; it is fused (recomputed per element) because only the group reads it
    x, b = S.matrix("x"), S.vector("b")
    assert len(optimized_ops(x * S.exp(b) + b)) == 1


def test_fusion_smaller_member_read_outside_stays_apart():
    # a group's outputs share one iteration space: exp(b), an output of shape (M,), is not
    # fused with the (N, M) mul that also reads it
    x, b = S.matrix("x"), S.vector("b")
    eb = S.exp(b)
    assert not fused_nodes(S.optimize([x * eb, eb]))


def test_fusion_multi_output_group():
    # exp(x) feeds a dot and the group: the fused node hands it out as a second output
    x, y, W = S.matrix("x"), S.matrix("y"), S.matrix("W")
    a = S.exp(x)
    d, e = S.optimize([S.dot(a, W), a * y + 1.0])
    (node,) = fused_nodes([d, e])
    assert len(node.outputs) == 2
    assert d.owner.inputs[0].owner is node and e.owner is node


def test_fusion_member_that_is_a_graph_output_is_an_output():
    x = S.matrix("x")
    a = S.exp(x)
    outs = S.optimize([a, S.sin(a) * 2.0])
    (node,) = fused_nodes(outs)
    assert [o.owner for o in outs] == [node, node]


def test_fusion_convex_no_cycle_through_dot():
    # a = exp(x); b = dot(a, W); c = a + b: fusing a and c would make a cycle through the dot
    x, W = S.matrix("x"), S.matrix("W")
    a = S.exp(x)
    assert optimized_ops(a + S.dot(a, W)) == ["exp", "dot", "add"]


def test_fusion_convex_longer_detour_fuses_the_tail():
    # the tail c = dot(a, W) * 2 and d = a + c fuse; a stays apart (path a → dot → c → d)
    x, W = S.matrix("x"), S.matrix("W")
    a = S.exp(x)
    names = optimized_ops(a + S.dot(a, W) * 2.0)
    assert names[:2] == ["exp", "dot"] and len(names) == 3 and names[2].startswith("fused")


def test_fusion_groups_that_reach_each_other_through_other_nodes_are_not_both_fused(rng):
    # {a1, a2} and {b1, b2} are each convex, but as two fused nodes each would wait on the
    # other: a1 → dot → b2 and b1 → dot → a2. One of them stays unfused.
    x, z, W = (S.matrix(n, "float64") for n in "xzW")
    a1, b1 = S.exp(x), S.exp(z)
    outputs = [a1 * S.dot(b1, W), b1 * S.dot(a1, W)]
    names = optimized_ops(outputs)
    assert sum(n.startswith("fused") for n in names) == 1 and names.count("dot") == 2
    values = [rng.standard_normal((3, 3)) for _ in range(3)]
    for got, want in zip(*both_ways([x, z, W], outputs, values)):
        assert_matches_oracle(got, want, "cpu")


def test_fusion_argument_budget_splits_groups(device):
    xs = [S.vector(f"x{i}") for i in range(100)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    nodes = fused_nodes(S.optimize(total))
    assert len(nodes) > 1
    assert all(len(n.inputs) + len(n.outputs) <= MAX_KERNEL_ARGS for n in nodes)
    values = [np.full(3, i, np.float32) for i in range(100)]
    fast, plain = both_ways(xs, total, values, device=device)
    assert_matches_oracle(fast, plain, device)


def test_fusion_scalar_constants_are_inlined():
    x = S.matrix("x")
    (node,) = fused_nodes(S.optimize(S.exp(x * 0.5) + 2.0))
    assert node.inputs == (x,)
    assert [d for d, _ in node.op.constants] == ["float32", "float32"]


def test_fusion_inlined_constants_keep_the_sign_of_zero():
    x = S.vector("x")
    outs = [1.0 / (S.exp(x) * 0.0), 1.0 / (S.exp(x) * -0.0)]
    # fused apart (together they are siblings reading x): ops that differ only in the sign of
    # a zero constant must not compare equal
    ((a,), (b,)) = (fuse([out], RewriteLog()) for out in outs)
    assert a.owner.op != b.owner.op
    fast = S.compile([x], [a, b], device="numpy", optimize=False)(np.ones(2, np.float32))
    np.testing.assert_array_equal(fast, [[np.inf] * 2, [-np.inf] * 2])


# ---- siblings: groups that read one input ----------------------------------------------------


def test_fusion_siblings_reading_one_input_are_one_node(rng, device):
    # the gate group and the lone sigmoid(-z) read z and feed nothing of each other's: one
    # kernel reads z once and writes both
    z, c = S.matrix("z"), S.matrix("c")
    outs = [S.sigmoid(z) * c + S.tanh(c), S.sigmoid(-z)]
    log = RewriteLog()
    optimized = optimize_graph(outs, log)
    (node,) = fused_nodes(optimized)
    assert [o.owner for o in optimized] == [node, node] and log["fuse_siblings"] == 1
    values = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(2)]
    for got, want in zip(*both_ways([z, c], outs, values, device=device)):
        assert_matches_oracle(got, want, device)


def test_fusion_lone_siblings_are_one_node():
    x = S.matrix("x")
    outs = S.optimize([S.exp(x), S.sin(x), S.cos(x) > 0])
    (node,) = fused_nodes(outs)
    assert node.inputs == (x,) and len(node.outputs) == 3


def test_fusion_siblings_with_a_path_between_them_stay_apart(rng):
    # exp(x) and sin(x) + … both read x, but exp(x) → dot → add: one kernel for both would
    # have to run before and after the dot
    x, W = S.matrix("x", "float64"), S.matrix("W", "float64")
    out = S.sin(x) + S.dot(S.exp(x), W)
    names = optimized_ops(out)
    assert names[:2] == ["exp", "dot"] and len(names) == 3 and names[2].startswith("fused")
    values = [rng.standard_normal((3, 3)) for _ in range(2)]
    assert_matches_oracle(*both_ways([x, W], out, values), "cpu")


def test_fusion_siblings_meet_only_in_their_own_iteration_space():
    # a shared scalar or bias does not make siblings: x·s and y·s, or x + b and y + b, may
    # have different shapes at run time (each its own kernel); outputs of another class than
    # the shared input's (exp(v) beside the (N, M) v + x) are not siblings either
    s, b, v = S.scalar("s"), S.vector("b"), S.vector("v")
    x, y = S.matrix("x"), S.matrix("y")
    assert not fused_nodes(S.optimize([x * s, y * s]))
    assert not fused_nodes(S.optimize([x + b, y + b]))
    assert not fused_nodes(S.optimize([S.exp(v), x + v]))


def test_fusion_siblings_keep_reduction_prologues():
    # exp(x) read only by a sum stays that sum's prologue rather than joining its sibling
    x = S.matrix("x")
    outs = S.optimize([S.sum(S.exp(x), axis=1), S.tanh(x) * 2.0, S.sin(x)])
    names = op_names(outs)
    assert "fused_sum" in names and sum(n.startswith("fused_") for n in names) == 2


def test_fusion_siblings_leave_a_collective_operand_alone():
    # exp(x) runs while the all-reduce of x·2 is in flight, not in x·2's kernel before it
    x = S.vector("x")
    (total,) = D.allreduce([x * 2.0], "sum")
    assert not fused_nodes(S.optimize([total, S.exp(x)]))
    assert len(fused_nodes(S.optimize([x * 2.0, S.exp(x)]))) == 1


def test_fusion_siblings_within_the_argument_budget(rng, device):
    # 70 products x·y_k: 71 inputs and 70 outputs cannot share one kernel
    x = S.matrix("x")
    ys = [S.matrix(f"y{k}") for k in range(70)]
    outs = [x * y for y in ys]
    nodes = fused_nodes(S.optimize(outs))
    assert len(nodes) >= 3 and sum(len(n.outputs) for n in nodes) == 70
    assert all(len(n.inputs) + len(n.outputs) <= MAX_KERNEL_ARGS for n in nodes)
    values = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(71)]
    for got, want in zip(*both_ways([x, *ys], outs, values, device=device)):
        assert_matches_oracle(got, want, device)


# ---- reduction prologues ---------------------------------------------------------------------


def test_fusion_reduce_prologue_sum_exp():
    x = S.matrix("x")
    m = S.max(x, axis=1, keepdims=True)
    out = S.sum(S.exp(x - m), axis=1)
    assert optimized_ops(out) == ["max", "fused_sum"]


@pytest.mark.parametrize(
    "reduce, name",
    [
        (lambda e: S.sum(e, axis=0), "fused_sum"),
        (lambda e: S.prod(e, axis=1, keepdims=True), "fused_prod"),
        (lambda e: S.max(e), "fused_max"),
        (lambda e: S.min(e, axis=1), "fused_min"),
        (lambda e: S.logsumexp(e, axis=1), "fused_logsumexp"),
    ],
)
def test_fusion_reduce_prologue_kinds(rng, reduce, name, device):
    x, y = S.matrix("x"), S.matrix("y")
    out = reduce(S.tanh(x) * y + 0.25)
    assert optimized_ops(out) == [name]
    values = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(2)]
    fast, plain = both_ways([x, y], out, values, device=device)
    np.testing.assert_allclose(fast, plain, rtol=1e-6)


def test_fusion_reduce_prologue_needs_a_sole_reader():
    x = S.matrix("x")
    e = S.exp(x) * 2.0
    names = op_names(S.optimize([S.sum(e), e + 1.0]))
    assert "fused_sum" not in names and "sum" in names


def test_fusion_reduce_prologue_expression():
    x = S.matrix("x")
    (node,) = toposort([S.optimize(S.sum(S.exp(x) * 3.0, axis=1))])
    assert isinstance(node.op, FusedReduce)
    (x0,) = node.op.program.input_symbols
    assert sp.expand(node.op.expression - sp.Float(3.0) * sp.exp(x0)) == 0


# ---- values: fused equals unfused --------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fusion_values_equal_unfused(rng, dtype, device):
    x, y = S.matrix("x", dtype=dtype), S.matrix("y", dtype=dtype)
    out = the_expression(x, y)
    values = [rng.standard_normal((5, 7)).astype(dtype) for _ in range(2)]
    fast, plain = both_ways([x, y], out, values, device=device)
    assert fast.dtype == plain.dtype == dtype
    assert_matches_oracle(fast, plain, device)


def test_fusion_values_equal_unfused_integers(rng, device):
    i, j = S.matrix("i", dtype="int32"), S.vector("j", dtype="int8")
    out = (i * 3 + j) // 2 - i % 3 + S.abs(j)
    values = [rng.integers(-50, 50, (4, 6)).astype("int32"), rng.integers(1, 9, 6).astype("int8")]
    fast, plain = both_ways([i, j], out, values, device=device)
    assert len(fused_nodes(S.optimize(out))) == 1
    assert fast.dtype == plain.dtype
    assert_matches_oracle(fast, plain, device)


def test_fusion_values_equal_unfused_mixed_dtypes_and_casts(rng, device):
    i, x = S.vector("i", dtype="int32"), S.matrix("x")
    out = S.exp(i) * x + S.cast(i, "float64") - S.where(x > 0, x, 0.0)
    values = [rng.integers(-3, 3, 6).astype("int32"), rng.standard_normal((3, 6)).astype("f4")]
    fast, plain = both_ways([i, x], out, values, device=device)
    assert fast.dtype == plain.dtype == "float64"
    assert_matches_oracle(fast, plain, device, precision="float32")  # exp(i) is float32


def test_fusion_values_equal_unfused_broadcasting_and_multi_output(rng, device):
    x, b, W = S.matrix("x"), S.vector("b"), S.matrix("W")
    a = S.exp(b) * x
    outs = [S.dot(a, W), S.sigmoid(a + b), a]
    values = [rng.standard_normal(s).astype("f4") for s in [(4, 3), (3,), (3, 2)]]
    fast, plain = both_ways([x, b, W], outs, values, device=device)
    for f, p in zip(fast, plain):
        assert_matches_oracle(f, p, device)


# ---- the fused op --------------------------------------------------------------------------------


def test_fusion_sympy_expression_is_the_composition():
    x, y = S.matrix("x"), S.matrix("y")
    (node,) = fused_nodes(S.optimize(the_expression(x, y)))
    sym = dict(zip(node.inputs, node.op.input_symbols))
    sx, sy = sym[x], sym[y]
    expected = sp.tanh(sx * sy + sp.exp(-sx)) * sigmoid_fn(sy) + sp.Float(0.5) * sx * sx
    (got,) = node.op.expressions
    assert sp.expand(got - expected) == 0


def test_fusion_sympy_shows_casts_where_the_dtype_changes():
    i, x = S.vector("i", dtype="int32"), S.vector("x")
    (node,) = fused_nodes(S.optimize(S.exp(i) * x + S.cast(i, "float64")))
    sym = dict(zip(node.inputs, node.op.input_symbols))
    si, sx = sym[i], sym[x]
    f32, f64 = sympy_cast("float32"), sympy_cast("float64")
    (got,) = node.op.expressions
    assert sp.expand(got - (f64(sp.exp(f32(si)) * sx) + f64(si))) == 0
    assert got.has(f32(si))


def test_fusion_sympy_keeps_ieee_meaning():
    # composed unevaluated: x * 0 is not 0 (inf and nan), and a bool conversion is x != 0
    x, i = S.vector("x"), S.vector("i", dtype="int32")
    (node,) = fused_nodes(S.optimize(S.where(i, x * 0.0, 1.0) + 1.0))
    sym = dict(zip(node.inputs, node.op.input_symbols))
    (got,) = node.op.expressions
    assert got.has(sp.Ne(sym[i], 0)) and any(
        isinstance(e, sp.Mul) and sym[x] in e.args for e in sp.preorder_traversal(got)
    )


def test_fusion_grad_of_fused_node_names_the_op():
    x = S.vector("x")
    out = S.optimize(S.exp(x) * 2.0)
    with pytest.raises(NotImplementedError, match=out.owner.op.name):
        S.grad(S.sum(out), x)


def test_fusion_equal_groups_compare_equal_and_merge():
    x = S.matrix("x")
    a, b = S.optimize([S.exp(x) * 2.0, S.exp(x) * 2.0])
    assert a.owner.op == b.owner.op and hash(a.owner.op) == hash(b.owner.op)
    assert isinstance(a.owner.op, FusedElemwise)


def test_fusion_deterministic_names():
    def build():
        x, y = S.matrix("x"), S.matrix("y")
        z = the_expression(x, y)
        return [z, S.sum(S.exp(z - z.max(axis=1, keepdims=True)), axis=1), S.dot(z, y) * 2.0 + z]

    outs = build()
    first = op_names(S.optimize(outs))
    assert op_names(S.optimize(outs)) == first
    assert op_names(S.optimize(build())) == first


def test_fusion_log_records_groups():
    x = S.matrix("x")
    log = RewriteLog()
    optimize_graph([the_expression(x, x), S.sum(S.exp(x) + 1.0, axis=0)], log)
    assert log["fuse_elemwise"] == 1 and log["fuse_reduce_prologue"] == 1


def build_mlp_training_graph(rng, sizes=(784, 1024, 1024, 10)):
    """cost and SGD-updated parameters of a ReLU MLP with softmax cross-entropy."""
    x, y = S.matrix("x"), S.vector("y", dtype="int64")
    params, h = [], x
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        W = S.shared((rng.standard_normal((a, b)) * 0.05).astype(np.float32), f"W{k}")
        c = S.shared((rng.standard_normal(b) * 0.05).astype(np.float32), f"b{k}")
        params += [W, c]
        h = h @ W + c
        if k < len(sizes) - 2:
            h = S.nnet.relu(h)
    cost = S.nnet.categorical_crossentropy(S.nnet.softmax(h), y).mean()
    grads = S.grad(cost, params)
    return [x, y], [cost] + [p - 0.1 * g for p, g in zip(params, grads)]


def test_fusion_mlp_training_graph_in_a_handful_of_fused_nodes(rng, device):
    inputs, outs = build_mlp_training_graph(rng)
    optimized = S.optimize(outs)
    nodes = toposort(optimized)
    fused = [n for n in nodes if n.op.name.startswith("fused")]
    lone = [n for n in nodes if isinstance(n.op, (Elemwise, Cast))]
    # forward bias+relu per hidden layer, the loss scaling, the softmax gradient, one update
    # per parameter (the six updates share no edge, so they stay six kernels)
    assert 6 <= len(fused) <= 16 and len(lone) <= 10
    assert all(u.owner.op.name.startswith("fused") for u in optimized[1:])
    values = [rng.standard_normal((8, 784)).astype(np.float32), rng.integers(0, 10, 8)]
    fast, plain = both_ways(inputs, outs, values, device=device)
    for f, p in zip(fast, plain):
        np.testing.assert_allclose(f, p, rtol=1e-6, atol=1e-7)


def test_fusion_long_chain_has_no_recursion_limit():
    x = S.vector("x")
    y = x
    for k in range(3_000):  # deeper than the recursion limit
        y = S.sin(y) if k % 2 else y * 1.0001
    (out,) = fuse([y], RewriteLog())
    fused = [n for n in toposort([out]) if n.op.name.startswith("fused")]
    # one group spans at most WINDOW + 1 positions: the chain becomes two kernels
    assert [len(n.op.steps) for n in fused] == [WINDOW + 1, 3_000 - WINDOW - 1]
    assert len(toposort([out])) == 2
    value = np.linspace(-1, 1, 5).astype(np.float32)
    fast = S.compile([x], out, device="numpy", optimize=False)(value)
    plain = S.compile([x], y, device="numpy", optimize=False)(value)
    np.testing.assert_array_equal(fast, plain)


def _random_elementwise_graph(rng, n: int):
    """n elementwise nodes over two vectors, each reading two of the six values before it,
    with a sum (not fusable into a group) every fifth, so paths leave groups and come back."""
    x, y = S.vector("x"), S.vector("y")
    values = [x, y]
    for k in range(n):
        a = values[rng.integers(max(0, len(values) - 6), len(values))]
        b = values[rng.integers(max(0, len(values) - 6), len(values))]
        if k % 5 == 4:
            values.append(S.sum(a) * b)
        else:
            values.append([S.tanh(a) * b, a + b, S.maximum(a, b), S.exp(-a * a)][k % 4])
    return [x, y], values[-6:]


@pytest.mark.parametrize("seed", range(6))
def test_windowed_groups_are_convex_and_within_the_window(monkeypatch, seed):
    # A small window makes graphs of ~80 nodes exercise the windowed bitsets. Every merge the
    # grouper tries is decided again from whole ancestor sets: it must merge exactly when the
    # union spans <= WINDOW positions and no outside node is both an ancestor and a descendant
    # of members (the graph's vectors share one shape and need few arguments, so nothing else
    # can refuse a merge).
    monkeypatch.setattr(fusion, "WINDOW", 12)
    inputs, outputs = _random_elementwise_graph(np.random.default_rng(seed), 80)
    grouper = fusion._Grouper(outputs)
    ancestors = [set() for _ in grouper.nodes]
    for i, producers in enumerate(grouper.producers):
        for p in producers:
            ancestors[i] |= ancestors[p] | {p}

    def mergeable(members: set) -> bool:
        outside_ancestors = set().union(*(ancestors[m] for m in members)) - members
        convex = not any(ancestors[x] & members for x in outside_ancestors)
        return convex and max(members) - min(members) <= 12

    decisions = []
    try_merge = grouper._try_merge

    def checked_merge(a, b):
        expected = mergeable(set(a.members) | set(b.members))
        merged = try_merge(a, b)
        decisions.append((merged is not None, expected))
        return merged

    grouper._try_merge = checked_merge
    grouper.groups()
    assert decisions and all(got == want for got, want in decisions)
    assert {want for _, want in decisions} == {True, False}
    fused = fuse(outputs, RewriteLog())
    rng = np.random.default_rng(seed)
    args = [rng.uniform(-1, 1, 5).astype(np.float32) for _ in inputs]
    run = dict(device="numpy", optimize=False, on_unused_input="ignore")
    got = S.compile(inputs, fused, **run)(*args)
    want = S.compile(inputs, outputs, **run)(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
