"""Gemm updates on the cuda device (runtime/gemm_updates.py; runtime/cuda/program.py's
gemm_update_step): an MLP's SGD and momentum steps against the NumPy device, one cuBLAS call
with α and β per update, scalars read where they lie, a failed call that changes no shared
variable, and the step's CUDA source as nvcc builds it. The forms, transposes and dtypes of
one update are tests/runtime/test_gemm_updates.py's, on cuda too."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import symbolic as S
from runtime.cuda import build
from runtime.gemm_updates import Gemm

TOLERANCE = {"float32": 2e-5, "float64": 1e-12}


def gemm_nodes(f) -> list:
    return [n for n in f.fgraph.nodes if isinstance(n.op, Gemm)]


def mlp_step(device, dtype, optimizer, start):
    """A one-hidden-layer classifier's training step over shared copies of `start` (w1, b1,
    w2): SGD p ← p − lr·g, or momentum v ← 0.9·v − lr·g, p ← p + v (the velocity before the
    step)."""
    params = [S.shared(p.copy(), n) for p, n in zip(start, ["w1", "b1", "w2"])]
    x, y, lr = S.matrix("x", dtype), S.vector("y", "int64"), S.scalar("lr", dtype)
    h = S.nnet.relu(S.dot(x, params[0]) + params[1])
    loss = S.nnet.categorical_crossentropy(S.nnet.softmax(S.dot(h, params[2])), y).mean()
    grads = S.grad(loss, params)
    if optimizer == "sgd":
        shared, updates = params, [(p, p - lr * g) for p, g in zip(params, grads)]
    else:
        velocities = [S.shared(np.zeros_like(p), f"v{i}") for i, p in enumerate(start)]
        shared = params + velocities
        updates = [(v, 0.9 * v - lr * g) for v, g in zip(velocities, grads)]
        updates += [(p, p + v) for p, v in zip(params, velocities)]
    return S.compile([x, y, lr], loss, updates=updates, device=device), shared


def mlp_start(dtype, rng) -> list:
    return [
        (rng.standard_normal((6, 8)) * 0.4).astype(dtype),
        np.zeros(8, dtype),
        (rng.standard_normal((8, 3)) * 0.4).astype(dtype),
    ]


# SGD: a gemm per weight matrix (b1's gradient is a sum). Momentum: none, as on the cpu
# device: a gradient is sum_to(xᵀ·g, shape(w)), and the rewrite fuses the sum_to into the gemm
# only when it sums to z's own shape (here z is v, whose shape no rule equates with w's).
MLP_GEMMS = {"sgd": 2, "momentum": 0}


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mlp_steps_match_the_numpy_device(gpu, optimizer, dtype, rng):
    start = mlp_start(dtype, rng)
    x, y = rng.standard_normal((10, 6)).astype(dtype), rng.integers(0, 3, 10)
    lr = np.array(0.3, dtype)
    f, on_gpu = mlp_step("cuda", dtype, optimizer, start)
    g, oracle = mlp_step("numpy", dtype, optimizer, start)
    assert len(gemm_nodes(f)) == MLP_GEMMS[optimizer]
    assert len(gemm_nodes(mlp_step("cpu", dtype, optimizer, start)[0])) == MLP_GEMMS[optimizer]
    for _ in range(4):
        np.testing.assert_allclose(f(x, y, lr), g(x, y, lr), rtol=TOLERANCE[dtype])
        for p, q in zip(on_gpu, oracle):
            want = q.get_value()
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(p.get_value(), want, rtol=0, atol=TOLERANCE[dtype] * scale)


@pytest.mark.parametrize(
    "form, alpha, beta",
    [
        ("sgd", -0.25, 1.0),
        ("ascent", 0.25, 1.0),
        ("no_scale", -1.0, 1.0),
        ("momentum", -0.25, 0.5),
    ],
)
def test_an_update_is_one_cublas_call_with_alpha_and_beta(emulated, form, alpha, beta, rng):
    """α = sign·s and β = mu (or 1) go to cuBLAS as host numbers; the transposed operand is
    read in place: no kernel runs, z is copied and accumulated into by one GEMM."""
    x, g = S.matrix("x"), S.matrix("g")
    w = S.shared(rng.standard_normal((3, 4)).astype("float32"), "w")
    product = S.dot(x.T, g)
    value = {
        "sgd": w - 0.25 * product,
        "ascent": w + product * 0.25,
        "no_scale": w - product,
        "momentum": w * 0.5 - 0.25 * product,
    }[form]
    f = S.compile([x, g], [], updates=[(w, value)], device="cuda")
    xv, gv = rng.standard_normal((5, 3)).astype("float32"), rng.standard_normal((5, 4))
    gv = gv.astype("float32")
    old = w.get_value()
    f(xv, gv)
    want = beta * old + alpha * (xv.T @ gv)
    np.testing.assert_allclose(w.get_value(), want, rtol=1e-5, atol=1e-6)
    assert emulated.driver.launches == 0
    assert emulated.driver.scalars == [dict(alpha=alpha, beta=beta, scalars_on_device=False)]


@pytest.mark.parametrize("decayed", [("lr", "mu"), ("lr",), ("mu",)])
@pytest.mark.parametrize("sign", [-1, 1])
def test_scalars_on_the_device_are_read_there(emulated, sign, decayed, monkeypatch, rng):
    """A learning rate or momentum kept on the device (a shared variable the function decays)
    goes to cuBLAS as a device pointer, the other scalar copied there and −lr made by a
    kernel: nothing waits for the GPU."""
    start = rng.standard_normal((3, 4))

    def make(device):
        x, g = S.matrix("x", "float64"), S.matrix("g", "float64")
        w = S.shared(start.copy(), "w")
        scalars = {"lr": S.shared(np.array(0.5), "lr"), "mu": S.shared(np.array(0.9), "mu")}
        lr, mu = scalars["lr"], scalars["mu"]
        product = lr * S.dot(x.T, g)
        value = mu * w + product if sign > 0 else mu * w - product
        updates = [(w, value)] + [(scalars[name], scalars[name] * 0.5) for name in decayed]
        return S.compile([x, g], [], updates=updates, device=device), w

    (f, w), (oracle, want) = make("cuda"), make("numpy")
    waits = []
    xv, gv = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    for _ in range(3):
        with monkeypatch.context() as m:
            m.setattr(emulated.driver, "synchronize", lambda: waits.append(1))
            f(xv, gv)
        oracle(xv, gv)
        np.testing.assert_allclose(w.get_value(), want.get_value(), rtol=1e-13)
    assert not waits
    assert [s["scalars_on_device"] for s in emulated.driver.scalars] == [
        False,  # the first call reads lr and mu from the host, where they start
        True,
        True,
    ]


def test_a_failed_call_changes_no_shared_variable(gpu, rng):
    start = mlp_start("float32", rng)
    f, shared = mlp_step("cuda", "float32", "sgd", start)
    x, y, lr = rng.standard_normal((10, 6)).astype("float32"), rng.integers(0, 3, 10), 0.3
    f(x, y, lr)  # the shared variables now live on the device
    before = [s.get_value() for s in shared]
    held = shared[0].get_value(borrow=True)  # w1, kept by a caller: it must never change
    with pytest.raises(ValueError, match="dot"):
        f(x[:, :5], y, lr)  # 5 columns where w1 has 6 rows
    for s, old in zip(shared, before):
        np.testing.assert_array_equal(s.get_value(), old)
    f(x, y, lr)
    np.testing.assert_array_equal(held.get(), before[0])


def test_a_gemm_that_fails_after_another_ran_changes_no_shared_variable(emulated, rng):
    x, g = S.matrix("x"), S.matrix("g")
    w = S.shared(rng.standard_normal((3, 4)).astype("float32"), "w")
    v = S.shared(rng.standard_normal((4, 4)).astype("float32"), "v")
    updates = [(w, w - 0.1 * S.dot(x.T, g)), (v, v - 0.1 * S.dot(g.T, g))]
    f = S.compile([x, g], [], updates=updates, device="cuda")
    xv, gv = rng.standard_normal((5, 3)).astype("float32"), rng.standard_normal((5, 4))
    f(xv, gv.astype("float32"))
    v.set_value(rng.standard_normal((2, 3)).astype("float32"))  # not gᵀg's shape
    before = [w.get_value(), v.get_value()]
    gemms = emulated.driver.gemms
    with pytest.raises(ValueError, match="gemm"):
        f(xv, gv.astype("float32"))
    assert emulated.driver.gemms == gemms + 1  # w's update ran, into a copy of w
    for s, old in zip([w, v], before):
        np.testing.assert_array_equal(s.get_value(), old)


def test_a_broadcast_weight_runs_the_reference_and_a_full_one_cublas(emulated, rng):
    """sum_to(x @ y, shape(w)) is one GEMM only where w has the product's shape."""
    x, g = S.matrix("x", "float64"), S.matrix("g", "float64")
    w = S.shared(np.zeros((1, 4)), "w")
    f = S.compile([x, g], [], updates=[(w, w - 0.1 * S.sum_to(S.dot(x.T, g), w))], device="cuda")
    xv, gv = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    f(xv, gv)
    np.testing.assert_allclose(w.get_value(), -0.1 * (xv.T @ gv).sum(0, keepdims=True))
    assert emulated.driver.gemms == 0
    w.set_value(np.ones((3, 4)))
    f(xv, gv)
    np.testing.assert_allclose(w.get_value(), 1 - 0.1 * (xv.T @ gv), rtol=1e-14)
    assert emulated.driver.gemms == 1


@pytest.mark.usefixtures("cache_home")
@pytest.mark.skipif(build.find_nvcc() is None, reason="nvcc is not on the PATH")
def test_the_mlp_steps_cuda_source_builds_with_nvcc():
    """Compiling for cuda needs no GPU: the step has its gemm nodes, and the module of its
    kernels (and the runtime's helpers, negative_<dtype> included) is what nvcc builds."""
    from runtime.cuda.device import utility_kernels
    from symbolic.codegen.cuda import render_module

    f, _ = mlp_step("cuda", "float32", "sgd", mlp_start("float32", np.random.default_rng(0)))
    assert len(gemm_nodes(f)) == 2 and f.kernels
    assert build.build_cubin(f.source, "sm_90")[:4] == b"\x7fELF"
    helpers = list(utility_kernels().items())
    assert {"negative_float32", "negative_float64"} <= {name for name, _ in helpers}
    assert build.build_cubin(render_module(helpers), "sm_90")[:4] == b"\x7fELF"


class FakeCublas:
    """libcublas's functions that blas.Cublas calls, recording (name, arguments)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append((name, args))
            return 0

        return call


def test_cublas_sets_the_pointer_mode_the_scalars_need(monkeypatch):
    """α and β by reference from the host, or as device addresses in device pointer mode
    (cublasSetPointerMode_v2 only where the mode changes): what the GPU's cuBLAS is given."""
    from runtime.cuda import blas

    lib = FakeCublas()
    monkeypatch.setattr(blas, "find_cublas", lambda: "libcublas")
    monkeypatch.setattr(blas.ctypes, "CDLL", lambda path: lib)
    cublas = blas.Cublas(0)
    operands = ("N", "T", 4, 3, 2, 11, 4, 0, 12, 3, 0, 13, 4, 0, 1)
    cublas.gemm("float32", *operands)  # a plain product: α = 1, β = 0
    cublas.gemm("float64", *operands, alpha=-0.5, beta=0.9)
    cublas.gemm("float64", *operands, alpha=0xA0, beta=0xB0, scalars_on_device=True)
    cublas.gemm("float64", *operands, alpha=0xA8, beta=0xB8, scalars_on_device=True)
    cublas.gemm("float32", *operands, alpha=2.0, beta=1.0)
    calls = [(name, args) for name, args in lib.calls if "Create" not in name]
    names = [name.removeprefix("cublas") for name, _ in calls]
    assert names == [
        "SetStream_v2",
        "SgemmStridedBatched",
        "DgemmStridedBatched",
        "SetPointerMode_v2",
        "DgemmStridedBatched",
        "DgemmStridedBatched",
        "SetPointerMode_v2",
        "SgemmStridedBatched",
    ]
    assert [args[1] for name, args in calls if "PointerMode" in name] == [1, 0]

    def scalars(args):  # α is argument 6, β argument 13
        return [a.value if isinstance(a, ctypes.c_void_p) else a._obj.value for a in args[6::7]]

    gemms = [args for name, args in calls if "gemm" in name]
    assert [scalars(args) for args in gemms] == [
        [1.0, 0.0],
        [-0.5, 0.9],
        [0xA0, 0xB0],
        [0xA8, 0xB8],
        [2.0, 1.0],
    ]
