"""Products and gemm through NumPy's CBLAS from the C runner (runtime/blas.py, blas_gemm.c),
against the NumPy reference: every transpose, alpha and beta, both float dtypes, strided,
transposed and broadcast operands, an MLP training step, and a failed call that must leave
every shared variable as it was."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import symbolic as S
from runtime.blas import BlasStep, find_cblas, gemm_shim, numpy_blas_paths, plan_blas
from symbolic.gemm import Gemm, gemm
from symbolic.linalg import MatMul

TOLERANCE = {"float32": 2e-5, "float64": 1e-12}

if not numpy_blas_paths():
    pytest.skip("this NumPy ships no OpenBLAS library to call", allow_module_level=True)


@pytest.fixture(scope="module")
def blas():
    found = find_cblas()
    assert found is not None, f"no CBLAS gemm in {numpy_blas_paths()}"
    assert gemm_shim() is not None
    return found


def launch_of(blas, op, arrays):
    """The BLAS launch of a gemm (or product) node of `op` on these arrays, or None."""
    variables = [S.tensor(f"v{i}", a.dtype, (None,) * a.ndim) for i, a in enumerate(arrays)]
    node = op.make_node(*variables)
    return plan_blas(blas, gemm_shim()[1], node, arrays)


def run_launch(launch, arrays):
    (out,) = launch(arrays)  # the ctypes path: the same shim the runner calls
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("trans_x,trans_y", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (-0.1, 1.0), (2.0, 0.5), (0.3, -1.0)])
def test_blas_gemm_every_flag_matches_reference(blas, dtype, trans_x, trans_y, alpha, beta):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5) if trans_x else (5, 7)).astype(dtype)
    y = rng.standard_normal((6, 7) if trans_y else (7, 6)).astype(dtype)
    z = rng.standard_normal((5, 6)).astype(dtype)
    op = Gemm(alpha, beta, trans_x, trans_y)
    launch = launch_of(blas, op, [z, x, y])
    assert launch is not None and launch.views is None  # transposes read in place
    out = run_launch(launch, [z, x, y])
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(out, op.perform(z, x, y), rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "z_shape", [(6,), (1, 6), (5, 1), (), (5, 6)], ids=["vector", "row", "column", "scalar", "full"]
)
def test_blas_gemm_broadcasts_z(blas, z_shape):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((4, 6))
    z = np.asarray(rng.standard_normal(z_shape))
    op = Gemm(1.0, 1.0)
    out = run_launch(launch_of(blas, op, [z, x, y]), [z, x, y])
    np.testing.assert_allclose(out, z + x @ y, rtol=1e-12)


def strided_operands(rng, dtype):
    base = rng.standard_normal((12, 14)).astype(dtype)
    yield "sliced_rows", base[::2, :7], base[:7, ::2]
    yield "sliced_columns", base[:5, ::2], base[1:8, 3:9]
    yield "fortran", np.asfortranarray(base[:5, :7]), np.asfortranarray(base[:7, :6])
    yield "transposed_views", base[:7, :5].T, base[:6, :7].T
    yield "negative_strides", base[::-1, :7][:5], base[:7, ::-1][:, :6]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blas_product_of_strided_operands(blas, dtype):
    rng = np.random.default_rng(2)
    for name, x, y in strided_operands(rng, dtype):
        launch = launch_of(blas, MatMul(), [x, y])
        assert launch is not None, name
        out = run_launch(launch, [x, y])
        tol = TOLERANCE[dtype]
        np.testing.assert_allclose(out, x @ y, rtol=tol, atol=tol, err_msg=name)


def test_blas_declines_what_it_cannot_write(blas):
    x, y = np.ones((3, 4)), np.ones((4, 2))
    assert launch_of(blas, Gemm(1.0, 1.0), [np.ones((3, 2)), x[:1], y]) is None  # Z enlarges
    assert launch_of(blas, Gemm(1.0, 1.0), [np.ones((3, 2)), x, np.ones((3, 2))]) is None
    assert (
        launch_of(blas, Gemm(1.0, 1.0), [np.ones((3, 0)), np.ones((3, 4)), np.ones((4, 0))]) is None
    )


def compiled_pair(inputs, outputs, updates=None):
    cpu = S.compile(inputs, outputs, updates=updates, device="cpu")
    ref = S.compile(inputs, outputs, updates=updates, device="numpy")
    return cpu, ref


def test_cpu_device_runs_gemm_through_blas_on_views():
    x, g, z = S.matrix("x"), S.matrix("g"), S.matrix("z")
    expr = [z - 0.1 * S.dot(x.T, g), S.dot(x, z) + z[0]]
    cpu, ref = compiled_pair([x, g, z], expr)
    rng = np.random.default_rng(3)
    base = rng.standard_normal((20, 12)).astype("float32")
    for xv, gv, zv in [
        (base[:6, :4], base[:6, 4:8], base[6:10, 4:8]),  # sliced views
        (base[:4, :6].T.copy(), base[::2, :4][:6], np.asfortranarray(base[:4, 8:12])),
    ]:
        for a, b in zip(cpu(xv, gv, zv), ref(xv, gv, zv)):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_runner_plans_gemm_and_products_as_blas_steps():
    from runtime import native
    from runtime.runner_steps import runner_step

    module = native.runner_module()
    assert module is not None, "the C runner does not build here"
    z, x, y = S.matrix("z"), S.matrix("x"), S.matrix("y")
    for var in (gemm(z, x, y, 0.5, 1.0, True), S.dot(x, y)):
        assert isinstance(runner_step(var.owner, module), BlasStep)


def test_gemm_z_buffer_taken_in_place_keeps_values():
    x, y, a = S.matrix("x"), S.matrix("y"), S.matrix("a")
    z = S.exp(a)  # an intermediate that dies at the gemm: its buffer may hold the result
    expr = [z + S.dot(x, y), S.dot(x, y) + S.exp(a) * 2.0 + a.sum()]
    cpu, ref = compiled_pair([x, y, a], expr)
    rng = np.random.default_rng(4)
    values = [rng.standard_normal(s).astype("float32") for s in [(5, 3), (3, 4), (5, 4)]]
    for _ in range(2):
        for got, want in zip(cpu(*values), ref(*values)):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def mlp_step(sizes, lr, rng):
    x, labels = S.matrix("x"), S.vector("y", dtype="int64")
    params = []
    for a, b in zip(sizes, sizes[1:]):
        params.append(S.shared((rng.standard_normal((a, b)) / np.sqrt(a)).astype("float32")))
        params.append(S.shared(np.zeros(b, "float32")))
    h = x
    for i in range(0, len(params), 2):
        h = S.dot(h, params[i]) + params[i + 1]
        if i < len(params) - 2:
            h = S.nnet.relu(h)
    cost = S.nnet.categorical_crossentropy(S.nnet.softmax(h), labels).mean()
    grads = S.grad(cost, params)
    updates = [(p, p - lr * g) for p, g in zip(params, grads)]
    return [x, labels], cost, grads, updates, params


@pytest.mark.parametrize("device", ["cpu", "numpy"])
def test_mlp_training_step_matches_numpy_device(device):
    results = {}
    for dev in (device, "numpy"):
        rng = np.random.default_rng(5)
        inputs, cost, grads, updates, params = mlp_step((20, 16, 12, 5), 0.1, rng)
        f = S.compile(inputs, [cost, *grads], updates=updates, device=dev)
        assert "gemm_sub" in dict(f.rewrites) and "gemm_add" in dict(f.rewrites)
        x = rng.random((8, 20)).astype("float32")
        labels = rng.integers(0, 5, 8)
        outs = [f(x, labels) for _ in range(3)]
        results[dev] = outs, [p.get_value() for p in params]
    (got, got_params), (want, want_params) = results[device], results["numpy"]
    for step_got, step_want in zip(got, want):
        for a, b in zip(step_got, step_want):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(got_params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("device", ["cpu", "numpy"])
def test_failed_call_changes_no_shared_variable(device):
    rng = np.random.default_rng(6)
    w = S.shared(rng.standard_normal((4, 3)).astype("float32"), "w")
    v = S.shared(np.ones((4, 3), "float32"), "v")
    x, g, other = S.matrix("x"), S.matrix("g"), S.matrix("other")
    check = S.dot(other, x)  # misaligned below: this node fails
    f = S.compile(
        [x, g, other],
        check.sum(),
        updates=[(w, w - 0.1 * S.dot(x.T, g)), (v, 0.9 * v - 0.1 * S.dot(x.T, g))],
        device=device,
    )
    assert dict(f.rewrites)["gemm_sub"] == 2
    before = w.get_value(), v.get_value()
    xv, gv = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    with pytest.raises(Exception, match="dot|shape|align"):
        f(xv.astype("float32"), gv.astype("float32"), np.ones((2, 5), "float32"))
    np.testing.assert_array_equal(w.get_value(), before[0])
    np.testing.assert_array_equal(v.get_value(), before[1])
    f(xv.astype("float32"), gv.astype("float32"), np.ones((2, 6), "float32"))
    assert not np.array_equal(w.get_value(), before[0])
