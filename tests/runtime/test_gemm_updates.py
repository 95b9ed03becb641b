"""Updates β·z ± α·(x @ y) as one gemm on the cpu device (runtime/gemm_updates.py): values
against the NumPy device for every form, transposes, scale and dtype (on the cuda device too,
cuBLAS or its host emulation; its own tests: tests/runtime/cuda/test_cuda_gemm_updates.py);
the weights written in place only where no caller can see it; a failed call changes no shared
variable."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import symbolic as S
from runtime import native
from runtime.gemm_updates import Gemm

pytestmark = pytest.mark.skipif(native.header_dirs() is None, reason="no Python/NumPy headers")

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def gemm_nodes(f) -> list:
    return [n for n in f.fgraph.nodes if isinstance(n.op, Gemm)]


def address(shared) -> int:
    return shared.get_value(borrow=True).__array_interface__["data"][0]


@pytest.fixture(params=["cpu", "cuda"])
def gemm_device(request) -> str:
    """The devices that lower updates to gemm: cuda on its GPU or host emulation (`gpu`)."""
    if request.param == "cuda":
        request.getfixturevalue("gpu")
    return request.param


def run_both(make, values, steps=2, device="cpu"):
    """The same updates compiled for `device` and numpy, from equal shared values, run `steps`
    times: the function and its shared variables' values after each step must agree."""
    results = []
    for on in (device, "numpy"):
        inputs, shared, updates = make()
        f = S.compile(inputs, [], updates=updates, device=on)
        history = []
        for _ in range(steps):
            f(*values)
            history.append([s.get_value() for s in shared])
        results.append((f, history))
    (f, got), (_, want) = results
    for step_got, step_want in zip(got, want):
        for g, w in zip(step_got, step_want):
            scale = max(1.0, float(np.abs(w).max()))
            np.testing.assert_allclose(g, w, rtol=0, atol=TOLERANCE[str(w.dtype)] * scale)
    return f


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", ["sgd", "ascent", "no_scale", "momentum", "scaled_first"])
def test_every_form_of_update_is_one_gemm_with_the_oracles_values(dtype, form, gemm_device, rng):
    def make():
        x, g, lr = S.matrix("x", dtype), S.matrix("g", dtype), S.scalar("lr", dtype)
        w = S.shared(np.linspace(-1, 1, 12).reshape(3, 4).astype(dtype), "w")
        product = S.dot(x.T, g)
        value = {
            "sgd": w - lr * product,
            "ascent": w + product * lr,
            "no_scale": w - product,
            "momentum": w * 0.9 - lr * product,
            "scaled_first": lr * product + w,
        }[form]
        return [x, g] + ([] if form == "no_scale" else [lr]), [w], [(w, value)]

    values = [rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 4)).astype(dtype)]
    values += [] if form == "no_scale" else [np.array(0.1, dtype)]
    f = run_both(make, values, device=gemm_device)
    (node,) = gemm_nodes(f)
    assert node.op.scaled == (form == "momentum")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ta, tb", list(itertools.product([False, True], repeat=2)))
def test_every_transpose_of_the_operands(ta, tb, dtype, gemm_device, rng):
    start = rng.standard_normal((4, 6)).astype(dtype)

    def make():
        a, b = S.matrix("a", dtype), S.matrix("b", dtype)
        w = S.shared(start.copy(), "w")
        x, y = (a.T if ta else a), (b.T if tb else b)
        return [a, b], [w], [(w, w - 0.5 * S.dot(x, y))]

    a = rng.standard_normal((3, 4) if ta else (4, 3)).astype(dtype)
    b = rng.standard_normal((6, 3) if tb else (3, 6)).astype(dtype)
    assert len(gemm_nodes(run_both(make, [a, b], device=gemm_device))) == 1


@pytest.mark.parametrize("rows", [1, 3])
def test_a_broadcast_weights_sum_to_is_still_right(rows, gemm_device, rng):
    """sum_to(x @ y, shape(w)): one gemm where w has the product's shape; a weight of one row
    (broadcast over the product's 3) sums it first, which gemm cannot: the reference runs."""
    start = rng.standard_normal((rows, 4))

    def make():
        x, g = S.matrix("x", "float64"), S.matrix("g", "float64")
        w = S.shared(start.copy(), "w")
        return [x, g], [w], [(w, w - 0.1 * S.sum_to(S.dot(x.T, g), w))]

    f = run_both(make, [rng.standard_normal((5, 3)), rng.standard_normal((5, 4))], 2, gemm_device)
    assert len(gemm_nodes(f)) == 1


def test_the_weights_are_updated_where_they_lie_when_nobody_else_holds_them(rng):
    x, g = S.matrix("x"), S.matrix("g")
    w = S.shared(rng.standard_normal((3, 4)).astype("float32"), "w")
    f = S.compile([x, g], [], updates=[(w, w - 0.1 * S.dot(x.T, g))], device="cpu")
    xv, gv = rng.standard_normal((5, 3)).astype("float32"), rng.standard_normal((5, 4))
    gv = gv.astype("float32")
    where = address(w)
    want = w.get_value() - np.float32(0.1) * (xv.T @ gv)
    f(xv, gv)
    assert address(w) == where  # in place
    np.testing.assert_allclose(w.get_value(), want, rtol=1e-6, atol=1e-6)
    held = w.get_value(borrow=True)  # a caller keeps the old array: it must not change
    kept = held.copy()
    f(xv, gv)
    np.testing.assert_array_equal(held, kept)
    assert w.get_value(borrow=True) is not held
    np.testing.assert_allclose(
        w.get_value(), kept - np.float32(0.1) * (xv.T @ gv), rtol=1e-6, atol=1e-6
    )
    del held
    view = w.get_value(borrow=True)[1:]  # a view keeps the array alive too
    kept = view.copy()
    f(xv, gv)
    np.testing.assert_array_equal(view, kept)


def test_a_failed_call_changes_no_shared_variable(rng):
    x, g, i = S.matrix("x"), S.matrix("g"), S.vector("i", "int64")
    w = S.shared(rng.standard_normal((3, 4)).astype("float32"), "w")
    v = S.shared(rng.standard_normal((4, 4)).astype("float32"), "v")
    f = S.compile(
        [x, g, i],
        S.sum(x[i]),  # fails for an index out of bounds
        updates=[(w, w - 0.1 * S.dot(x.T, g)), (v, v - 0.1 * S.dot(g.T, g))],
        device="cpu",
    )
    xv, gv = rng.standard_normal((5, 3)).astype("float32"), rng.standard_normal((5, 4))
    gv = gv.astype("float32")
    before = [w.get_value(), v.get_value()]
    with pytest.raises(IndexError):
        f(xv, gv, np.array([7]))
    for s, old in zip([w, v], before):
        np.testing.assert_array_equal(s.get_value(), old)
    # the second weight has a shape its product cannot fit: the reference raises at the last
    # step; the first weight's gemm, planned to run in place, must not have written it
    v.set_value(rng.standard_normal((2, 3)).astype("float32"))
    before = [w.get_value(), v.get_value()]
    with pytest.raises(ValueError):
        f(xv, gv, np.array([0]))
    for s, old in zip([w, v], before):
        np.testing.assert_array_equal(s.get_value(), old)


def test_a_weight_also_returned_keeps_its_old_value_in_the_output(rng):
    x, g = S.matrix("x"), S.matrix("g")
    w = S.shared(rng.standard_normal((3, 4)).astype("float32"), "w")
    f = S.compile([x, g], w * 1, updates=[(w, w - 0.1 * S.dot(x.T, g))], device="cpu")
    old = w.get_value()
    out = f(
        rng.standard_normal((5, 3)).astype("float32"), rng.standard_normal((5, 4)).astype("float32")
    )
    np.testing.assert_array_equal(out, old)
    assert not np.array_equal(w.get_value(), old)


def test_momentum_whose_velocity_the_weights_read(rng):
    start = rng.standard_normal((3, 4))

    def make():
        x, g = S.matrix("x", "float64"), S.matrix("g", "float64")
        w = S.shared(start.copy(), "w")
        v = S.shared(np.zeros((3, 4)), "v")
        velocity = 0.9 * v - 0.1 * S.dot(x.T, g)
        return [x, g], [w, v], [(v, velocity), (w, w + velocity)]

    f = run_both(make, [rng.standard_normal((5, 3)), rng.standard_normal((5, 4))], steps=3)
    assert not gemm_nodes(f)  # v's new value is read twice: it stays one fused kernel


def test_products_read_elsewhere_are_not_computed_twice(rng):
    x, g = S.matrix("x"), S.matrix("g")
    w = S.shared(rng.standard_normal((3, 4)).astype("float32"), "w")
    grad = S.dot(x.T, g)
    f = S.compile([x, g], S.sum(grad), updates=[(w, w - 0.1 * grad)], device="cpu")
    assert not gemm_nodes(f)


def test_the_mlp_step_updates_its_weights_with_gemm_in_place(rng):
    x, y = S.matrix("x"), S.vector("y", "int64")
    w1 = S.shared((rng.standard_normal((6, 8)) * 0.3).astype("float32"), "w1")
    w2 = S.shared((rng.standard_normal((8, 3)) * 0.3).astype("float32"), "w2")
    h = S.nnet.relu(S.dot(x, w1))
    loss = S.nnet.categorical_crossentropy(S.nnet.softmax(S.dot(h, w2)), y).mean()
    grads = S.grad(loss, [w1, w2])
    updates = [(p, p - 0.5 * g) for p, g in zip([w1, w2], grads)]
    f = S.compile([x, y], loss, updates=updates, device="cpu")
    oracle_w = [w1.get_value(), w2.get_value()]
    assert len(gemm_nodes(f)) == 2
    xv, yv = rng.standard_normal((10, 6)).astype("float32"), rng.integers(0, 3, 10)
    places = [address(w1), address(w2)]
    oracle = S.compile([x, y], loss, updates=updates, device="numpy")
    got = [float(f(xv, yv)) for _ in range(3)]
    assert [address(w1), address(w2)] == places
    cpu_w = [w1.get_value(), w2.get_value()]
    w1.set_value(oracle_w[0]), w2.set_value(oracle_w[1])
    want = [float(oracle(xv, yv)) for _ in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for a, b in zip(cpu_w, [w1.get_value(), w2.get_value()]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
