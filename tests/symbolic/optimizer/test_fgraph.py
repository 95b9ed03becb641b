"""The FunctionGraph (clients, replace, networkx view) and the optimizer's compile() plumbing:
`f.rewrites`, `f.graph`, `optimize=False`, `S.optimize`, updates and givens."""

import numpy as np
import pytest

import symbolic as S
from symbolic.graph import Variable, toposort
from symbolic.optimizer.fgraph import FunctionGraph


def names(outputs) -> list[str]:
    return [node.op.name for node in toposort(outputs if isinstance(outputs, list) else [outputs])]


def graph_ops(f) -> list[str]:
    """The op names of a compiled function's graph, in the graph's own order."""
    return [d["op"] for _, d in f.graph.nodes(data=True) if d["kind"] == "op"]


x = S.vector("x")
y = S.vector("y")


# ---- clients ------------------------------------------------------------------------------


def test_clients_lists_readers_in_topological_order():
    e = S.exp(x)
    total = e + y
    product = total * e
    fg = FunctionGraph([x, y], [product])
    assert fg.clients(e) == [(total.owner, 0), (product.owner, 1)]
    assert fg.clients(x) == [(e.owner, 0)]
    assert fg.clients(product) == []  # an output nobody reads


def test_clients_of_a_variable_read_twice_by_one_node():
    fg = FunctionGraph([x], [x * x])
    node = fg.outputs[0].owner
    assert fg.clients(x) == [(node, 0), (node, 1)]


# ---- replace ------------------------------------------------------------------------------


def test_replace_rebuilds_consumers_and_drops_dead_nodes():
    e = S.exp(x)
    fg = FunctionGraph([x, y], [S.log(e) + y, e * 2])
    new = fg.replace({e: S.sin(x)})
    assert [names(o) for o in new.outputs] == [["sin", "log", "add"], ["sin", "mul"]]
    assert "exp" not in [n.op.name for n in new.nodes]
    assert new.inputs == fg.inputs
    assert [n.op.name for n in fg.nodes] == ["exp", "log", "add", "mul"]  # the old one is intact


def test_replace_an_input_everywhere():
    fg = FunctionGraph([x], [S.exp(x) + x])
    z = S.vector("z")
    new = fg.replace({x: z})
    assert all(x not in n.inputs for n in new.nodes)
    assert new.clients(z) == [(new.nodes[0], 0), (new.nodes[1], 1)]


def test_replace_an_output_itself():
    e = S.exp(x)
    new = FunctionGraph([x], [e]).replace({e: -x})
    assert names(new.outputs) == ["neg"]


def test_replace_keeps_update_targets():
    w = S.shared(np.zeros(3, np.float32), name="w")
    fg = FunctionGraph([x], [S.exp(x), w + x], [w])
    assert fg.replace({x: S.vector("z")}).update_targets == [w]


@pytest.mark.parametrize(
    "new",
    [S.vector("d", dtype="float64"), S.matrix("m"), S.vector("i", dtype="int32")],
    ids=["dtype", "ndim", "kind"],
)
def test_replace_checks_types(new):
    fg = FunctionGraph([x], [S.exp(x)])
    with pytest.raises(TypeError, match="cannot replace"):
        fg.replace({x: new})


def test_replace_result_clients_are_fresh():
    e = S.exp(x)
    fg = FunctionGraph([x], [e + 1])
    assert len(fg.clients(e)) == 1  # built and cached before the replace
    new = fg.replace({e: S.sin(x)})
    assert new.clients(e) == []


# ---- the networkx view ----------------------------------------------------------------------


def build_function_graph():
    a = S.vector("a")
    w = S.shared(np.ones(3, np.float32), name="w")
    h = S.exp(a) * S.constant(np.float32(2))
    return FunctionGraph([a], [h.sum(), w - h], [w])


def test_to_networkx_node_attributes():
    g = build_function_graph().to_networkx()
    variables = [d for _, d in g.nodes(data=True) if d["kind"] == "variable"]
    ops = [d for _, d in g.nodes(data=True) if d["kind"] == "op"]
    assert [d["op"] for d in ops] == ["exp", "mul", "sum", "sub"]
    assert [d["role"] for d in variables] == [
        "input",
        "intermediate",
        "constant",
        "intermediate",
        "output",
        "shared",
        "output",
    ]
    by_role = {d["role"]: d for d in variables}
    assert by_role["input"] == {
        "kind": "variable",
        "dtype": "float32",
        "shape": (None,),
        "name": "a",
        "role": "input",
    }
    assert by_role["constant"]["shape"] == () and by_role["output"]["dtype"] == "float32"
    assert by_role["shared"]["name"] == "w"


def test_to_networkx_edges_carry_positions():
    fg = build_function_graph()
    g = fg.to_networkx()
    sub = fg.outputs[1].owner
    w, h = sub.inputs
    assert g.edges[w, sub]["position"] == 0 and g.edges[h, sub]["position"] == 1
    assert g.edges[sub, fg.outputs[1]]["position"] == 0
    assert set(g.predecessors(sub)) == {w, h}


def test_to_networkx_is_acyclic_and_complete():
    import networkx as nx

    fg = build_function_graph()
    g = fg.to_networkx()
    assert nx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == len(fg.variables()) + len(fg.nodes)


def test_to_networkx_insertion_order_is_deterministic():
    def summary(g):
        keys = ("kind", "op", "dtype", "shape", "role", "name")
        return [tuple(d.get(k) for k in keys) for _, d in g.nodes(data=True)]

    first, second = build_function_graph().to_networkx(), build_function_graph().to_networkx()
    assert summary(first) == summary(second)
    fg = build_function_graph()
    assert summary(fg.to_networkx()) == summary(fg.to_networkx())


def test_variables_lists_inputs_first():
    fg = FunctionGraph([y, x], [x + S.exp(y)])
    assert fg.variables()[:2] == [y, x]


# ---- compile(): the optimizer as users see it ---------------------------------------------
# What the rule sets and fusion make of a graph is theirs to test; here the compiled graph is
# compared with `S.optimize` of the same expressions, so these tests hold whatever rules exist.


def redundant(a):
    """exp(a) built twice and a product of constants: something for merge and folding."""
    c = S.constant(np.float32(2)) * S.constant(np.float32(3))
    return S.exp(a) * c + S.exp(a)


AS_BUILT = ["exp", "mul", "mul", "exp", "add"]


def test_compile_records_rewrites(device):
    f = S.compile([x], redundant(x), device=device)
    rewrites = list(f.rewrites)
    assert rewrites and all(isinstance(n, str) and c >= 1 for n, c in rewrites)
    assert "constant_folding" in dict(rewrites)  # folding runs before every rule set


def test_compile_graph_is_the_optimized_graph(device):
    f = S.compile([x], redundant(x), device=device)
    assert graph_ops(f) == names(S.optimize(redundant(x)))
    assert len(graph_ops(f)) < len(AS_BUILT)


def test_compile_without_optimize_keeps_graph_as_built(device):
    expr = redundant(x)
    f = S.compile([x], expr, device=device, optimize=False)
    assert graph_ops(f) == names(expr) == AS_BUILT
    assert list(f.rewrites) == []


def test_compile_optimized_and_plain_agree(device):
    values = np.array([0.0, 1.0, -2.0], np.float32)
    fast = S.compile([x], redundant(x), device=device)(values)
    plain = S.compile([x], redundant(x), device=device, optimize=False)(values)
    np.testing.assert_allclose(fast, plain, rtol=1e-6)
    np.testing.assert_allclose(fast, 7 * np.exp(values), rtol=1e-6)


def test_compile_debugprint_shows_optimized_graph(device):
    text = S.debugprint(S.compile([x], redundant(x), device=device), file="str")
    assert text == S.debugprint(S.optimize(redundant(x)), file="str")
    assert text != S.debugprint(redundant(x), file="str")


def test_compile_twice_gives_the_same_graph(device):
    first, second = (S.compile([x], redundant(x), device=device) for _ in range(2))
    assert S.debugprint(first, file="str") == S.debugprint(second, file="str")
    assert list(first.rewrites) == list(second.rewrites)


def test_optimize_a_variable_returns_a_variable():
    out = S.optimize(redundant(x))
    assert isinstance(out, Variable)
    assert len(names(out)) < len(AS_BUILT)


def test_optimize_a_list_returns_a_list_merged_across_outputs():
    outs = S.optimize([S.exp(x), S.exp(x) + 1])
    assert isinstance(outs, list) and len(outs) == 2
    assert all(isinstance(o, Variable) for o in outs)
    assert len(toposort(outs)) < 3  # the two exp nodes became one (or one group)


def test_optimize_leaves_its_argument_unchanged():
    expr = redundant(x)
    S.optimize(expr)
    assert names(expr) == AS_BUILT


def test_compile_updates_with_optimization(device):
    values = np.array([0.5, -1.0, 2.0], np.float32)
    results = []
    for optimize in (True, False):
        w = S.shared(np.ones(3, np.float32), name="w")
        step = S.compile(
            [x],
            redundant(x).sum(),
            updates=[(w, w - redundant(x) * S.constant(np.float32(0.1)))],
            device=device,
            optimize=optimize,
        )
        outs = [step(values), step(values)]
        results.append((outs, w.get_value()))
    (fast_outs, fast_w), (plain_outs, plain_w) = results
    np.testing.assert_allclose(fast_outs, plain_outs, rtol=1e-6)
    np.testing.assert_allclose(fast_w, 1 - 2 * 0.1 * 7 * np.exp(values), rtol=1e-5)
    np.testing.assert_allclose(fast_w, plain_w, rtol=1e-6)


def test_compile_update_graph_is_optimized_with_the_outputs(device):
    w = S.shared(np.ones(3, np.float32), name="w")
    f = S.compile([x], S.exp(x).sum(), updates=[(w, w - redundant(x))], device=device)
    assert graph_ops(f) == names(S.optimize([S.exp(x).sum(), w - redundant(x)]))
    assert f.fgraph.update_targets == [w]
    assert "update w <-" in S.debugprint(f, file="str")


def test_compile_givens_with_optimization(device):
    z = S.vector("z")
    values = np.array([0.0, 1.0], np.float32)
    f = S.compile([z], redundant(x), givens={x: z * 2}, device=device)
    g = S.compile([z], redundant(x), givens={x: z * 2}, device=device, optimize=False)
    np.testing.assert_allclose(f(values), g(values), rtol=1e-6)
    np.testing.assert_allclose(f(values), 7 * np.exp(2 * values), rtol=1e-6)
    assert graph_ops(f) == names(S.optimize(redundant(z * 2)))
    assert graph_ops(g) == names(redundant(z * 2))
