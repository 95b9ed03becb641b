"""check: every node also runs by its NumPy reference; a kernel that computes something else
raises CheckError naming the node, its kernel and the worst element, on every device."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import symbolic as S
from runtime import cpu_backend
from runtime.check_mode import CheckError, relative_tolerance
from runtime.cuda import function as cuda_function
from symbolic.elemwise import sub
from symbolic.fused import Step


def mlp_step(device: str):
    """One SGD step of a small MLP with a loop over its rows: dots, fused kernels, a softmax
    (a rows kernel), reductions, a scan, updates."""
    rng = np.random.default_rng(0)
    W = S.shared(rng.standard_normal((4, 5)).astype(np.float32), name="W")
    x, y = S.matrix("x"), S.vector("y", dtype="int64")
    p = S.nnet.softmax(S.tanh(x @ W) * 2)
    cost = S.nnet.categorical_crossentropy(p, y).mean()
    running, _ = S.scan(lambda row, total: total + row.max(), sequences=p, outputs_info=cost)
    updates = [(W, W - 0.1 * S.grad(cost, W))]
    f = S.compile([x, y], [cost, running], updates=updates, device=device, check=True)
    return f, W, (rng.standard_normal((3, 4)).astype(np.float32), np.array([0, 4, 2]))


def test_a_correct_function_passes_and_matches_numpy(each_device):
    f, W, args = mlp_step(each_device)
    ref, W_ref, _ = mlp_step("numpy")
    for _ in range(2):
        for got, want in zip(f(*args), ref(*args)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(W.get_value(), W_ref.get_value(), rtol=1e-5, atol=1e-6)


def _mul_becomes_sub(describe):
    """`describe` with every elementwise kernel's mul computing sub instead (a codegen bug)."""
    sub_op = sub(S.scalar("a"), S.scalar("b")).owner.op

    def corrupted(node):
        kernel = describe(node)
        if kernel is None or kernel.kind != "elementwise":
            return kernel
        steps = tuple(
            Step(sub_op, s.args) if s.op.name == "mul" else s for s in kernel.program.steps
        )
        return dataclasses.replace(kernel, program=dataclasses.replace(kernel.program, steps=steps))

    return corrupted


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_a_wrong_kernel_is_named_with_its_worst_element(device, monkeypatch, request):
    if device == "cuda":
        request.getfixturevalue("gpu")
    for module in (cpu_backend, cuda_function):
        monkeypatch.setattr(module, "describe", _mul_becomes_sub(module.describe))
    x, y, z = S.vector("x"), S.vector("y"), S.vector("z")
    W = S.shared(np.zeros(4, np.float32), name="W")
    out = S.exp(z) @ z  # a first node that is right (z apart: siblings of x would fuse)
    f = S.compile([x, y, z], [out, x * y + 1], updates=[(W, W + z)], device=device, check=True)
    xv = np.array([1, 2, 3, 4], np.float32)
    yv = np.array([1, 1, 1, 5], np.float32)  # x·y + 1 = [2, 3, 4, 21], x − y + 1 = [1, 2, 3, 0]
    with pytest.raises(CheckError) as caught:
        f(xv, yv, xv)
    error, message = caught.value, str(caught.value)
    assert isinstance(error, AssertionError)
    assert error.node.op.name == "fused_mul_add"
    kernel = next(k.name for k in f.kernels if "fused_mul_add" in k.name)
    assert error.kernel == kernel and f"(kernel {kernel})" in message
    assert "fused node computing: mul, add" in message
    assert "worst element at index [3]: got 0.0, expected 21.0" in message
    assert "test_check_mode.py" in message  # the user's line
    np.testing.assert_array_equal(W.get_value(), 0)  # no update was applied


def test_integer_kernels_are_compared_exactly(monkeypatch):
    monkeypatch.setattr(cpu_backend, "describe", _mul_becomes_sub(cpu_backend.describe))
    n = S.vector("n", dtype="int64")
    f = S.compile([n], n * 3 + 1, device="cpu", check=True)
    with pytest.raises(CheckError, match="index \\[1\\]: got 0, expected 7 \\(compared exactly\\)"):
        f(np.array([1, 2]))


def test_numpy_is_its_own_reference():
    x = S.vector("x")
    f = S.compile([x], S.exp(x) * 2, device="numpy", check=True)
    np.testing.assert_array_equal(f(np.array([0.0], np.float32)), [2.0])


def test_tolerances_follow_the_dtype_and_the_op():
    x = S.vector("x", dtype="float64")
    fused = S.compile([x], S.exp(x) * 2 + 1, device="cpu").fgraph.nodes[0]
    total = S.compile([x], x.sum(), device="cpu").fgraph.nodes[0]
    args = [np.zeros(10_000)]
    eps64, eps32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
    assert relative_tolerance(fused, np.dtype("float64"), args) == 16 * 3 * eps64  # 3 members
    assert relative_tolerance(fused, np.dtype("float32"), args) == 16 * 3 * eps32
    assert relative_tolerance(total, np.dtype("float64"), args) == 16 * 100 * eps64  # √10⁴


def test_with_nan_guard_a_nan_both_make_is_reported_by_the_guard():
    x = S.vector("x")
    f = S.compile([x], S.log(x) * 2, device="cpu", check=True, nan_guard=True)
    with pytest.raises(FloatingPointError, match="nan_guard: fused_log_mul"):
        f(np.array([-1.0], np.float32))


def test_a_wrong_kernel_inside_a_loop_step_is_found_at_its_step(monkeypatch):
    monkeypatch.setattr(cpu_backend, "describe", _mul_becomes_sub(cpu_backend.describe))
    x, h0 = S.matrix("x"), S.vector("h0")
    hs, _ = S.scan(lambda x_t, h: S.tanh(h * x_t + 1), sequences=x, outputs_info=h0)
    f = S.compile([x, h0], hs, device="cpu", check=True)
    with pytest.raises(CheckError) as caught:
        f(np.full((3, 2), 2, np.float32), np.ones(2, np.float32))
    message = str(caught.value)
    assert message.startswith("scan on inputs")  # the loop's node, then its step, then the kernel
    assert "scan: step 0 of 3" in message and "fused node computing: mul, add, tanh" in message
