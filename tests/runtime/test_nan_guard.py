"""nan_guard: NaN or ±Inf made anywhere in a call raises FloatingPointError at the node that
made it (op, debugprint id, user line, input ranges), on every device, before any update."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

import symbolic as S
from runtime.errors import member_ops
from runtime.function import Function
from runtime.nan_guard import GuardedProgram, NonFiniteError
from symbolic.fused import FusedElemwise


def here() -> str:
    """This file and the caller's line, as a node built there names its location."""
    return f"{__file__}:{sys._getframe(1).f_lineno}"


def test_log_of_a_negative_mid_graph_names_its_node(each_device):
    x = S.matrix("x")
    W = S.shared(np.eye(3, dtype=np.float32), name="W")
    h = x @ W
    y, line = S.log(h), here()
    f = S.compile([x], (y @ W).sum(), updates=[(W, W * 2)], device=each_device, nan_guard=True)
    good = np.full((2, 3), 2, np.float32)
    assert f(good) == pytest.approx(6 * np.log(2), rel=1e-6)
    W.set_value(np.eye(3, dtype=np.float32))
    bad = good.copy()
    bad[1, 2] = -1
    with pytest.raises(FloatingPointError) as caught:
        f(bad)
    message = str(caught.value)
    assert caught.value.node.op.name == "log"
    assert "nan_guard: log" in message and "1 nan" in message
    assert f"built at {line}" in message
    assert "[id " in message  # as S.debugprint(f) prints the node
    assert "0: float32[2, 3]: min -1.0, max 2.0, 0 nan, 0 +inf, 0 -inf" in message
    np.testing.assert_array_equal(W.get_value(), np.eye(3))  # the update was not applied


def test_the_node_id_is_debugprints():
    x = S.vector("x")
    f = S.compile([x], S.exp(S.sqrt(x) @ S.sqrt(x)), device="numpy", nan_guard=True)
    with pytest.raises(FloatingPointError) as caught:
        f(np.array([-1.0, 1.0], np.float32))
    line = next(row for row in S.debugprint(f, file="str").splitlines() if "sqrt" in row)
    assert line.lstrip("│├└─ ") in str(caught.value)


@pytest.mark.parametrize(
    "build, value, found",
    [
        (lambda x: 1 / (x - 1), 1.0, "1 +inf"),  # 1/0
        (lambda x: S.exp(x * 100), 2.0, "1 +inf"),  # exp overflows float32
        (lambda x: -S.exp(x * 100), 2.0, "1 -inf"),
        (lambda x: S.sqrt(3 - x), 4.0, "1 nan"),
    ],
)
def test_inf_and_nan_made_by_a_fused_node_name_its_members(each_device, build, value, found):
    x = S.vector("x")
    f = S.compile([x], build(x) * 2, device=each_device, nan_guard=True)
    f(np.array([0.5, 0.25], np.float32))  # finite: no error
    with pytest.raises(FloatingPointError) as caught:
        f(np.array([0.5, value], np.float32))
    node = caught.value.node
    assert isinstance(node.op, FusedElemwise)  # the whole expression is one fused kernel
    members = ", ".join(step.op.name for step in node.op.steps)
    assert f"fused node computing: {members}" in str(caught.value)
    assert found in str(caught.value)
    if each_device != "numpy":
        assert f"(kernel {f.kernels[0].name})" in str(caught.value)


def test_the_first_node_that_makes_nan_is_reported(each_device):
    x = S.vector("x")
    a = S.log(x)  # NaN here, carried by every later node
    b = S.exp(a.sum()) * x
    f = S.compile([x], [b, S.tanh(b).mean()], device=each_device, nan_guard=True)
    with pytest.raises(FloatingPointError) as caught:
        f(np.array([-1.0, 2.0], np.float32))
    first = caught.value.node  # log, or a fused node (log then the sum) starting with it
    assert (member_ops(first.op) or [first.op.name])[0] == "log"


def test_nan_in_an_input_or_a_shared_value_names_it(each_device):
    x, n = S.vector("x"), S.vector("n", dtype="int64")
    W = S.shared(np.ones(2, np.float32), name="W")
    f = S.compile([n, x], W * x + n, updates=[(W, W + 1)], device=each_device, nan_guard=True)
    with pytest.raises(FloatingPointError, match=r"input 'x' \(position 1\) holds .*1 nan"):
        f(np.array([1, 2]), np.array([np.nan, 1], np.float32))
    W.set_value(np.array([np.inf, 1], np.float32))
    with pytest.raises(FloatingPointError, match="shared variable 'W' holds .*1 [+]inf"):
        f(np.array([1, 2]), np.array([1, 1], np.float32))
    np.testing.assert_array_equal(W.get_value(), [np.inf, 1])


def test_integer_values_are_not_checked(each_device):
    x, n = S.vector("x"), S.vector("n", dtype="int64")
    outputs = [S.argmax(x), x.shape[0] + n, x * 2]
    f = S.compile([x, n], outputs, device=each_device, nan_guard=True)
    f(np.array([1.0, 2.0], np.float32), np.array([3, 4]))
    checked = [(node and node.op.name, i) for node, i in f._program.guard.slots]
    assert checked == [(None, 0), ("mul", 0)]  # x (input 0), x * 2: not n, argmax, the shape


def test_an_infinite_constant_is_reported_where_it_reaches_a_value(each_device):
    x = S.vector("x")
    masked = S.where(x > 0, x, -np.inf)  # a mask: -inf stands where x ≤ 0
    f = S.compile([x], masked + 1, device=each_device, nan_guard=True)
    np.testing.assert_array_equal(f(np.array([1.0, 3.0], np.float32)), [2, 4])
    with pytest.raises(FloatingPointError, match="1 -inf") as caught:
        f(np.array([-1.0, 3.0], np.float32))
    assert "where" in member_ops(caught.value.node.op)


def test_nan_inside_a_loop_body_names_the_scan_node(each_device):
    h0 = S.vector("h0")
    hs, _ = S.scan(lambda h: S.log(h - 1), outputs_info=h0, n_steps=3)
    f = S.compile([h0], hs, device=each_device, nan_guard=True)
    assert np.isfinite(f(np.array([100.0], np.float32))).all()  # 4.6, 1.28, -1.27
    with pytest.raises(FloatingPointError) as caught:
        f(np.array([3.0], np.float32))  # log(2) = 0.69, then log(-0.31): NaN at step 1
    message = str(caught.value)
    assert message.startswith("scan on inputs")  # the loop's node, its step, the inner node
    assert "step 1 of 3" in message
    # cpu compiles the step again (optimized, fused); numpy and cuda run the inner graph
    assert "fused node computing: sub, log" in message or "nan_guard: log" in message


def test_off_by_default_with_no_cost():
    x = S.vector("x")
    for device in ("numpy", "cpu"):
        f = S.compile([x], S.log(x), device=device)
        assert not isinstance(f._program, GuardedProgram)
        assert np.isnan(f(np.array([-1.0], np.float32)))[0]
        guarded = S.compile([x], S.log(x), device=device, nan_guard=True)
        assert isinstance(guarded._program, GuardedProgram)
    assert Function.__call__ is type(f).__call__  # the call path itself is the usual one


def test_cuda_checks_on_the_device_and_reads_once_per_call(gpu, monkeypatch):
    x = S.vector("x")
    W = S.shared(np.ones(3, np.float32), name="W")
    outputs = [(S.log(x) + W).sum(), S.exp(x)]
    plain = S.compile([x], outputs, updates=[(W, W + 1)], device="cuda")
    f = S.compile([x], outputs, updates=[(W, W + 1)], device="cuda", nan_guard=True)
    v = np.array([1, 2, 3], np.float32)
    plain(v), f(v)  # W is on the device from now on
    reads = []
    monkeypatch.setattr(gpu.driver, "download", _counted(gpu.driver.download, reads))
    plain(v)
    plain_reads = len(reads)
    if hasattr(gpu.driver, "launches"):
        launches = gpu.driver.launches
    f(v)
    assert len(reads) - plain_reads == plain_reads + 1  # the outputs, then the flags once
    if hasattr(gpu.driver, "launches"):  # a flag per float value on the device: W, 3 nodes
        assert gpu.driver.launches - launches == len(plain.kernels) + 4
    before = W.get_value()
    with pytest.raises(NonFiniteError, match="nan_guard: fused_sum"):
        f(np.array([1, -2, 3], np.float32))
    np.testing.assert_array_equal(W.get_value(), before)


def _counted(download, reads: list):
    def counted(host, ptr):
        reads.append(host.nbytes)
        return download(host, ptr)

    return counted


def test_a_pickled_function_keeps_its_guard_and_profiles_with_it():
    x = S.vector("x")
    f = S.compile([x], S.log(x) * 2, device="cpu", nan_guard=True, profile=True)
    for g in (f, pickle.loads(pickle.dumps(f))):
        assert g.nan_guard
        np.testing.assert_allclose(g(np.array([1.0], np.float32)), [0.0])
        with pytest.raises(FloatingPointError, match="nan_guard: fused_log_mul"):
            g(np.array([-1.0], np.float32))
    assert sum(f.profile.calls.values()) == 1  # the good call; the failed one stopped first


def test_cuda_says_so_when_a_flag_does_not_come_back(gpu, monkeypatch):
    from runtime.cuda import debug_modes

    x = S.vector("x")
    f = S.compile([x], S.log(x) * 2, device="cuda", nan_guard=True)
    monkeypatch.setattr(debug_modes, "all_finite", lambda value: True)  # the run again: clean
    with pytest.raises(FloatingPointError, match="not when the call ran again") as caught:
        f(np.array([-1.0], np.float32))  # the flag on the GPU is set
    assert caught.value.node.op.name == "fused_log_mul"


def test_the_flag_kernels_build_with_nvcc(cache_home):
    from runtime.cuda import build
    from runtime.cuda.debug_modes import nonfinite_kernel
    from symbolic.codegen.cuda import render_module

    if build.find_nvcc() is None:
        pytest.skip("nvcc is not on the PATH")
    kernels = [(f"nonfinite_{d}", nonfinite_kernel(d)) for d in ("float32", "float64")]
    assert build.build_cubin(render_module(kernels), "sm_90")[:4] == b"\x7fELF"
