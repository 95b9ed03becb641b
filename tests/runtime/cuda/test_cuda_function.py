"""Functions on the cuda device: cuBLAS products, state that stays on the device, inputs and
outputs as device arrays, nodes that run on the host, and all-or-nothing updates."""

from __future__ import annotations

import numpy as np
import pytest
from harness import assert_matches_oracle

import symbolic as S
from runtime.cuda.array import DeviceArray


def test_matmul_goes_through_cublas_for_every_layout(emulated, rng):
    a, b, t = S.matrix("a"), S.matrix("b"), S.tensor3("t")
    d = S.matrix("d", dtype="float64")
    A = rng.standard_normal((30, 20), dtype=np.float32)
    B = rng.standard_normal((20, 10), dtype=np.float32)
    T = rng.standard_normal((4, 20, 30), dtype=np.float32)
    D = rng.standard_normal((20, 20))
    outputs = [a @ b, a.T @ a, b.T @ a.T, S.matmul(t, a), a[0] @ b, d @ d.T]
    values = [A, B, T, D]
    got = S.compile([a, b, t, d], outputs, device="cuda")(*values)
    want = S.compile([a, b, t, d], outputs, device="numpy")(*values)
    assert emulated.driver.gemms == len(outputs)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_gemm_goes_through_cublas_with_alpha_and_beta(emulated, rng):
    z, x, g, b = S.matrix("z"), S.matrix("x"), S.matrix("g"), S.vector("b")
    outputs = [z - 0.1 * (x.T @ g), 0.9 * z - 0.5 * (x.T @ g), x @ z + b, x @ z + g @ z.T]
    values = [rng.standard_normal(s).astype(np.float32) for s in [(20, 20), (30, 20), (30, 20)]]
    values.append(rng.standard_normal(20).astype(np.float32))
    f = S.compile([z, x, g, b], outputs, device="cuda")
    assert dict(f.rewrites)["gemm_sub"] == 2 and dict(f.rewrites)["gemm_add"] == 2
    got = f(*values)
    want = S.compile([z, x, g, b], outputs, device="numpy", optimize=False)(*values)
    assert emulated.driver.gemms == 5  # one per gemm node, and the product a sum starts from
    for a, w in zip(got, want):
        np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-5)


def train_step(device, params, x, y):
    """One SGD step of a small softmax-regression MLP over shared copies of `params`."""
    shared = [S.shared(p.copy(), f"p{i}") for i, p in enumerate(params)]
    sx, sy = S.matrix("x"), S.vector("y", dtype="int64")
    h = S.nnet.relu(sx @ shared[0] + shared[1])
    cost = S.nnet.categorical_crossentropy(S.nnet.softmax(h @ shared[2]), sy).mean()
    grads = S.grad(cost, shared)
    f = S.compile(
        [sx, sy], cost, updates=[(p, p - 0.5 * g) for p, g in zip(shared, grads)], device=device
    )
    return f, shared


def test_training_keeps_state_on_the_device_and_matches_numpy(gpu, rng):
    params = [
        rng.standard_normal((12, 16)).astype(np.float32) * 0.3,
        np.zeros(16, np.float32),
        rng.standard_normal((16, 5)).astype(np.float32) * 0.3,
    ]
    x = rng.random((20, 12), dtype=np.float32)
    y = rng.integers(0, 5, 20)
    f, on_gpu = train_step("cuda", params, x, y)
    g, on_host = train_step("numpy", params, x, y)
    for _ in range(3):
        np.testing.assert_allclose(f(x, y), g(x, y), rtol=1e-5)
    assert all(isinstance(p.get_value(borrow=True), DeviceArray) for p in on_gpu)
    for p, q in zip(on_gpu, on_host):
        assert isinstance(p.get_value(), np.ndarray)
        np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=1e-4, atol=1e-6)
    # a cpu function reads the device-resident values; set_value puts host values back
    read = S.compile([], on_gpu[1] * 1, device="cpu")
    np.testing.assert_allclose(read(), on_host[1].get_value(), rtol=1e-4, atol=1e-6)
    on_gpu[1].set_value(np.ones(16, np.float32))
    f(x, y)
    assert isinstance(on_gpu[1].get_value(borrow=True), DeviceArray)


def test_a_failed_call_changes_no_state(gpu, rng):
    w = S.shared(np.ones((3, 4), np.float32), "w")
    x = S.matrix("x")
    f = S.compile([x], (x @ w).sum(), updates=[(w, w * 2)], device="cuda")
    f(np.ones((2, 3), np.float32))
    before = w.get_value()
    with pytest.raises(ValueError, match="dot"):
        f(np.ones((2, 5), np.float32))  # 5 != 3
    np.testing.assert_array_equal(w.get_value(), before)


def test_device_inputs_and_outputs(gpu, rng):
    x = S.vector("x")
    host = rng.standard_normal(100, dtype=np.float32)
    f = S.compile([x], [x * 2, S.sum(x)], device="cuda")
    f.device_outputs = True
    doubled, total = f(gpu.to_device(host))
    assert isinstance(doubled, DeviceArray) and "data" in doubled.__cuda_array_interface__
    np.testing.assert_allclose(doubled.get(), host * 2)
    np.testing.assert_allclose(total.get(), host.sum(), rtol=1e-6)
    f.device_outputs = False
    with pytest.raises(
        TypeError, match="'x' \\(position 0\\) expects float32, got a device array of float64"
    ):
        f(gpu.to_device(host.astype(np.float64)))


def test_outputs_never_alias_inputs_state_or_each_other(gpu, rng):
    x, w = S.vector("x"), S.shared(np.arange(4, dtype=np.float32), "w")
    f = S.compile([x], [x, x, w, w.T], updates=[(w, w + 1)], device="cuda")
    f(np.ones(4, np.float32))  # w now lives on the device
    f.device_outputs = True
    value = gpu.to_device(np.ones(4, np.float32))
    outs = f(value)
    owners = {id(o.owner) for o in outs} | {id(value.owner), id(w.get_value(borrow=True).owner)}
    assert len(owners) == 6


def test_nodes_without_a_kernel_run_on_the_host(gpu, rng):
    x, i = S.matrix("x"), S.vector("i", dtype="int64")
    X = rng.standard_normal((5, 6), dtype=np.float32)
    rows = np.array([4, 0, 2])
    outputs = [
        S.exp(x)[i] * 2,
        S.concatenate([x, x * 3], axis=0).sum(axis=0),
        S.arange(x.shape[0]) + 1,
    ]
    got = S.compile([x, i], outputs, device="cuda")(X, rows)
    want = S.compile([x, i], outputs, device="numpy")(X, rows)
    for g, w in zip(got, want):
        assert_matches_oracle(g, w, "cuda")


def test_profile_times_each_node(gpu):
    x = S.vector("x")
    f = S.compile([x], S.exp(x).sum(), device="cuda", profile=True)
    f(np.ones(10, np.float32))
    assert {name for name, *_ in f.profile.rows()} >= {"exp", "sum"} or len(f.profile.rows()) >= 1
