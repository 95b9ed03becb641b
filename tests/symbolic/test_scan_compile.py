"""How a scan is built and compiled: hoisting out of the loop, the optimizer's loop phase,
debugprint, errors that name the step, pickling, and the generated code of the inner graph."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import symbolic as S
from symbolic.codegen.notes import strip_notes
from symbolic.graph import toposort
from symbolic.scan import Scan


def loops_of(outputs) -> list:
    return [
        n
        for n in toposort(outputs if isinstance(outputs, list) else [outputs])
        if isinstance(n.op, Scan)
    ]


def inner_ops(node) -> list[str]:
    return [n.op.name for n in toposort(list(node.op.inner_outputs))]


def rnn(x, w, u, h0):
    hs, _ = S.scan(lambda x_t, h: S.tanh(x_t @ w + h @ u), x, h0)
    return hs


def test_scan_hoists_the_input_projection():
    x, h0 = S.tensor3("x"), S.matrix("h0")
    w = S.shared(np.ones((4, 5), np.float32), name="W")
    u = S.shared(np.ones((5, 5), np.float32), name="U")
    (node,) = loops_of(rnn(x, w, u, h0))
    assert inner_ops(node).count("dot") == 1  # h @ U stays; x[t] @ W is one product before
    projection = node.inputs[1]
    assert any(n.op.name == "dot" and w in n.inputs for n in toposort([projection]))


def test_scan_hoists_values_that_read_only_non_sequences(device, rng):
    x = S.matrix("x", "float64")
    w = S.matrix("w", "float64")
    hs, _ = S.scan(lambda x_t, h: h @ S.exp(w) + x_t, x, x[0])
    (node,) = loops_of(hs)
    assert "exp" not in inner_ops(node)
    xv, wv = rng.standard_normal((4, 3)), rng.standard_normal((3, 3)) * 0.1
    h, want = xv[0], []
    for t in range(4):
        h = h @ np.exp(wv) + xv[t]
        want.append(h)
    got = S.compile([x, w], hs, device=device)(xv, wv)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_scan_gradient_merges_the_forward_loops_and_prunes(device):
    x, h0 = S.tensor3("x"), S.matrix("h0")
    w = S.shared(np.ones((4, 5), np.float32), name="W")
    u = S.shared(np.ones((5, 5), np.float32) * 0.1, name="U")
    hs = rnn(x, w, u, h0)
    cost = (hs**2).sum()
    f = S.compile([x, h0], [cost, *S.grad(cost, [w, u])], device=device)
    assert ("scan_merge", 1) in f.rewrites
    forward = [n for n in loops_of(f.fgraph.outputs) if not n.op.reverse]
    assert len(forward) == 1  # the loop of the cost and the loop storing residuals are one
    g = S.compile([x, h0], S.grad(cost, w), device=device)
    backward = [n for n in loops_of(g.fgraph.outputs) if n.op.reverse]
    # the gradient of h0 is not asked for: nothing of it remains once pruned
    assert ("scan_prune", 1) in g.rewrites or len(backward[0].outputs) <= 3


def rnn_bptt(x, w, u, h0, seed):
    """The loss Σ hs·seed of rnn and its gradients of (W, U, h0), by hand in NumPy."""
    hs, h = [], h0
    for t in range(len(x)):
        h = np.tanh(x[t] @ w + h @ u)
        hs.append(h)
    dw, du, carry = np.zeros_like(w), np.zeros_like(u), np.zeros_like(h0)
    for t in reversed(range(len(x))):
        dz = (carry + seed[t]) * (1 - hs[t] ** 2)
        before = hs[t - 1] if t else h0
        dw, du, carry = dw + x[t].T @ dz, du + before.T @ dz, dz @ u.T
    return (np.stack(hs) * seed).sum(), dw, du, carry


@pytest.mark.parametrize("steps", [3, 9])
def test_the_backward_loop_reads_the_transposed_weights_as_a_non_sequence(steps, device, rng):
    """dh = dz @ U.T: the loop phase hoists U.T out of the backward step (the cpu device
    then hands BLAS a contiguous copy); values and gradients stay the hand-written BPTT's."""
    x, h0 = S.tensor3("x", "float64"), S.matrix("h0", "float64")
    w, u = S.matrix("w", "float64"), S.matrix("u", "float64")
    seed = S.tensor3("seed", "float64")
    cost = (rnn(x, w, u, h0) * seed).sum()
    f = S.compile([x, w, u, h0, seed], [cost, *S.grad(cost, [w, u, h0])], device=device)
    assert ("scan_hoist_transposes", 1) in f.rewrites
    (backward,) = [n for n in loops_of(f.fgraph.outputs) if n.op.reverse]
    assert "dimshuffle" not in inner_ops(backward)
    transposes = [v for v in backward.inputs if v.owner and v.owner.op.name == "dimshuffle"]
    assert [v.owner.inputs[0] for v in transposes] == [u]
    values = [
        rng.standard_normal((steps, 2, 4)),
        rng.standard_normal((4, 5)) * 0.5,
        rng.standard_normal((5, 5)) * 0.5,
        rng.standard_normal((2, 5)),
        rng.standard_normal((steps, 2, 5)),
    ]
    for got, want in zip(f(*values), rnn_bptt(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    S.verify_grad(lambda w, u, h0: (rnn(S.constant(values[0]), w, u, h0) ** 2).sum(), values[1:4])


def test_scan_inner_graph_is_optimized_and_its_kernels_are_generated():
    x, h0 = S.tensor3("x"), S.matrix("h0")
    w = S.shared(np.ones((4, 5), np.float32), name="W")
    u = S.shared(np.ones((5, 5), np.float32), name="U")
    f = S.compile([x, h0], rnn(x, w, u, h0) * 2, device="cpu")
    (node,) = loops_of(f.fgraph.outputs)
    assert any(name.startswith("fused") for name in inner_ops(node))
    assert any("fused" in k.name for k in f.kernels)  # the inner step's kernel is in f.kernels
    again = S.compile([x, h0], rnn(x, w, u, h0) * 2, device="cpu")
    # same graph, same bytes but for the notes' line numbers (which the cache key leaves out)
    assert strip_notes(again.source) == strip_notes(f.source)


def test_debugprint_shows_the_inner_graph(capsys):
    x, h0 = S.tensor3("x"), S.matrix("h0")
    w = S.shared(np.ones((4, 5), np.float32), name="W")
    u = S.shared(np.ones((5, 5), np.float32), name="U")
    text = S.debugprint(rnn(x, w, u, h0), file="str")
    head, inner = text.split("inner graph of scan", 1)
    assert head.startswith("scan [id A]")
    assert "'<lambda>'" in inner.splitlines()[0] and "test_scan_compile.py" in inner
    assert "tanh" in inner and "'h0[t-1]'" in inner and "'(x @ W)[t]'" in inner
    compiled = S.debugprint(S.compile([x, h0], rnn(x, w, u, h0)), file="str")
    assert "inner graph of scan" in compiled and "fused" in compiled


def test_scan_state_shape_mismatch_is_caught_at_build_time():
    h0 = S.tensor("h0", "float32", (3,))
    w = S.tensor("w", "float32", (3, 4))

    def grow(h):
        return h @ w

    with pytest.raises(
        ValueError, match=r"'grow'.*shape \(4,\).*outputs_info\[0\] has shape \(3,\)"
    ):
        S.scan(grow, outputs_info=h0, n_steps=2)
    with pytest.raises(TypeError, match=r"float64.*float32.*astype\('float32'\)"):
        S.scan(lambda h: S.cast(h, "float64"), outputs_info=h0, n_steps=2)
    with pytest.raises(TypeError, match="2 axes against 1"):
        S.scan(lambda h: S.outer(h, h), outputs_info=h0, n_steps=2)


def test_scan_errors_in_the_step_name_it():
    x = S.matrix("x")

    def broken(x_t):
        return S.dot(x_t, S.tensor("v", "float32", (7,)))

    with pytest.raises(
        ValueError, match=r"step function 'broken' \(defined at .*test_scan_compile"
    ):
        S.scan(broken, sequences=x)
    with pytest.raises(ValueError, match="n_steps is required"):
        S.scan(lambda h: h, outputs_info=S.zeros((2,)))
    with pytest.raises(ValueError, match="returned 1 outputs, but outputs_info has 2"):
        S.scan(lambda x_t, a, b: x_t, sequences=x, outputs_info=[x[0], x[0]])
    with pytest.raises(ValueError, match="built inside the step"):
        S.scan(lambda x_t: x_t + S.vector("fresh"), sequences=x)


def test_scan_runtime_errors_name_the_step_and_the_line(device):
    x, w = S.matrix("x"), S.matrix("w")

    def mix(x_t, h):
        return S.dot(h * x_t, w)  # h has 3 entries, w 4 rows: fails when it runs

    f = S.compile([x, w], S.scan(mix, x, S.zeros((3,)))[0], device=device)
    with pytest.raises(ValueError) as error:
        f(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32))
    message = str(error.value)
    assert "scan" in message and "step 0 of 2" in message and "'mix'" in message
    assert "dot" in message and "in mix" in message  # the line inside the step


def test_scan_state_changing_shape_at_run_time_is_an_error(device):
    h0 = S.vector("h0")
    f = S.compile(
        [h0], S.scan(lambda h: S.concatenate([h, h]), outputs_info=h0, n_steps=2)[0], device=device
    )
    with pytest.raises(ValueError, match=r"returned state 0 of shape \(4,\) at step 0"):
        f(np.ones(2, np.float32))


def test_scan_function_pickles(device, rng, tmp_path):
    x = S.matrix("x", "float64")
    w = S.shared(rng.standard_normal((3, 3)) * 0.5, name="W")
    hs, _ = S.scan(lambda x_t, h: S.tanh(h @ w + x_t), x, S.zeros((3,), "float64"))
    cost = hs.sum()
    f = S.compile([x], [cost, S.grad(cost, w)], device=device)
    data = rng.standard_normal((4, 3))
    g = pickle.loads(pickle.dumps(f))
    for a, b in zip(f(data), g(data)):
        np.testing.assert_array_equal(a, b)


def test_cpu_loop_compiles_its_step_for_the_shapes_it_meets(rng):
    from runtime.loops import Loop

    x, h0 = S.tensor3("x", "float64"), S.matrix("h0", "float64")
    w = S.shared(rng.standard_normal((4, 5)) * 0.5, name="W")
    u = S.shared(rng.standard_normal((5, 5)) * 0.5, name="U")
    cost = (rnn(x, w, u, h0) ** 2).sum()
    outputs = [cost, *S.grad(cost, [w, u])]
    f = S.compile([x, h0], outputs, device="cpu")
    oracle = S.compile([x, h0], outputs, device="numpy")
    for batch in (3, 2):  # a second batch size is a second signature
        values = rng.standard_normal((6, batch, 4)), rng.standard_normal((batch, 5))
        for got, want in zip(f(*values), oracle(*values)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    loops = [step for step, *_ in f._program.schedule.steps if isinstance(step, Loop)]
    assert len(loops) == 2
    for loop in loops:
        assert len(loop.steps) == 2 and all(s is not loop.generic for s in loop.steps.values())
