"""The cpu device's call path: the C runner (runtime/runner.c) and its Python fallback give the
NumPy oracle's values, never write an input or a shared value, hand out fresh outputs (or
borrowed ones, as documented), and reuse memory by liveness where the runner runs."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import symbolic as S
from runtime import native
from runtime.native import NativeProgram
from runtime.numpy_backend import NumpyProgram
from runtime.runner_source import runner_digest


@pytest.fixture(params=["c", "python"])
def call_path(request, monkeypatch) -> str:
    """Compile cpu functions with the C runner, or with the Python fallback as where the
    extension cannot be built."""
    if request.param == "python":
        monkeypatch.setattr(native, "_MODULE", False)
    return request.param


def _compile(call_path, inputs, outputs, **options):
    f = S.compile(inputs, outputs, device="cpu", **options)
    assert isinstance(f._program, NativeProgram if call_path == "c" else NumpyProgram)
    return f


def _mlp_step():
    """A two-layer step: dots feeding fused kernels (in place), softmax rows, updates."""
    rng = np.random.default_rng(0)
    W1 = S.shared(rng.standard_normal((5, 8)).astype(np.float32), name="W1")
    W2 = S.shared(rng.standard_normal((8, 3)).astype(np.float32), name="W2")
    x, y = S.matrix("x"), S.vector("y", dtype="int64")
    p = S.nnet.softmax(S.nnet.relu(x @ W1) @ W2)
    cost = S.nnet.categorical_crossentropy(p, y).mean()
    g1, g2 = S.grad(cost, [W1, W2])
    updates = [(W1, W1 - 0.1 * g1), (W2, W2 - 0.1 * g2)]
    batch = rng.standard_normal((6, 5)).astype(np.float32), np.array([0, 1, 2, 1, 0, 2])
    return [x, y], [cost, p], updates, (W1, W2), batch


def test_the_c_runner_runs_cpu_functions_where_headers_exist():
    x = S.vector("x")
    f = S.compile([x], x + 1, device="cpu")
    assert isinstance(f._program, NativeProgram) == (native.header_dirs() is not None)


def test_training_steps_match_the_oracle_and_leave_inputs_alone(call_path):
    inputs, outputs, updates, params, (xv, yv) = _mlp_step()
    f = _compile(call_path, inputs, outputs, updates=updates)
    start = [p.get_value() for p in params]
    ref_params = [S.shared(v.copy()) for v in start]
    ref = S.compile(
        inputs,
        outputs,
        updates=[(r, e) for r, (_, e) in zip(ref_params, updates)],
        device="numpy",
        givens=list(zip(params, ref_params)),
    )
    x_before, y_before = xv.copy(), yv.copy()
    for _ in range(3):
        for got, want in zip(f(xv, yv), ref(xv, yv)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        for p, r in zip(params, ref_params):
            np.testing.assert_allclose(p.get_value(), r.get_value(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(xv, x_before)
    np.testing.assert_array_equal(yv, y_before)


def test_a_dying_intermediate_is_written_in_place():
    x = S.matrix("x")
    W = S.shared(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), name="W")
    f = S.compile([x], S.tanh(x @ W) * 2 + 1, device="cpu")  # dot, then one fused kernel
    v = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    before = (v.copy(), W.get_value())
    for _ in range(2):
        np.testing.assert_allclose(f(v), np.tanh(v @ before[1]) * 2 + 1, rtol=1e-6)
    if isinstance(f._program, NativeProgram):  # the fused kernel writes the dot's buffer
        assert f._program.memory == {"in_place": 2, "reused": 0, "pooled": 0, "allocated": 2}
    np.testing.assert_array_equal(v, before[0])
    np.testing.assert_array_equal(W.get_value(), before[1])


def test_inputs_shared_values_and_constants_are_never_written_in_place():
    x = S.vector("x")
    W = S.shared(np.arange(4.0, dtype=np.float32), name="W")
    c = S.constant(np.full(4, 3.0, np.float32))
    f = S.compile([x], [S.exp(x) + 1, W * 2, c - 1], device="cpu")
    v = np.ones(4, np.float32)
    a, b, d = f(v)
    np.testing.assert_allclose(a, np.exp(v) + 1, rtol=1e-6)
    np.testing.assert_array_equal(b, np.arange(4.0) * 2)
    np.testing.assert_array_equal(d, np.full(4, 2.0))
    np.testing.assert_array_equal(v, np.ones(4))
    np.testing.assert_array_equal(W.get_value(), np.arange(4.0))
    if isinstance(f._program, NativeProgram):
        assert f._program.memory["in_place"] == 0


def test_dead_intermediates_are_reused_so_a_long_chain_needs_two_buffers():
    x = S.matrix("x")
    W = S.shared(np.eye(4, dtype=np.float32)[::-1].copy(), name="W")  # square: one shape
    h = x
    for _ in range(6):  # each product needs a buffer while its input lives: two in turn
        h = S.nnet.softmax(h @ W)
    f = S.compile([x], h, device="cpu")
    v = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(f(v), S.compile([x], h, device="numpy")(v), rtol=1e-6)
    if isinstance(f._program, NativeProgram):
        assert f._program.memory == {"in_place": 0, "reused": 0, "pooled": 10, "allocated": 2}


def test_fresh_outputs_never_alias_each_other_inputs_or_updates(call_path):
    x = S.vector("x")
    acc = S.shared(np.zeros(3, np.float32), name="acc")
    y = S.exp(x) + 1
    f = _compile(call_path, [x], [y, y, x, acc + x], updates=[(acc, acc + x)])
    v = np.ones(3, np.float32)
    outs = f(v)
    arrays = [*outs, v, acc.get_value(borrow=True)]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)
    for out in outs:
        out[...] = -7  # writing the outputs changes nothing the function holds
    np.testing.assert_array_equal(v, np.ones(3))
    np.testing.assert_allclose(acc.get_value(), np.ones(3))


def test_an_output_the_caller_dropped_is_written_again_and_one_it_holds_is_not():
    x = S.vector("x")
    f = S.compile([x], S.exp(x) + 1, device="cpu")
    v = np.linspace(0, 1, 5, dtype=np.float32)
    held = f(v)
    again = f(v)  # `held` is the caller's: not written
    assert not np.shares_memory(again, held)
    np.testing.assert_allclose(held, np.exp(v) + 1, rtol=1e-6)
    address = again.ctypes.data
    del again  # now only the function refers to it
    third = f(v * 2)
    np.testing.assert_allclose(third, np.exp(v * 2) + 1, rtol=1e-6)
    if isinstance(f._program, NativeProgram):
        assert third.ctypes.data == address and f._program.memory["reused"] == 1
    np.testing.assert_allclose(held, np.exp(v) + 1, rtol=1e-6)


def test_borrowed_outputs_are_overwritten_by_the_next_call_only(call_path):
    x = S.vector("x")
    W = S.shared(np.ones(3, np.float32), name="W")
    f = _compile(call_path, [x], [S.exp(x) * W, x.sum()], borrow_outputs=True)
    first = f(np.zeros(3, np.float32))
    kept = first[0].copy()
    second = f(np.ones(3, np.float32))
    np.testing.assert_allclose(second[0], np.exp(np.ones(3)), rtol=1e-6)
    if call_path == "c":
        assert second[0] is first[0]  # written in place: the first result is gone
        assert f._program.memory["reused"] == 2  # both outputs
    else:
        np.testing.assert_array_equal(first[0], kept)  # the fallback hands out fresh arrays
    assert not np.shares_memory(second[0], W.get_value(borrow=True))
    f.borrow_outputs = False
    third = f(np.ones(3, np.float32))
    assert third[0] is not second[0] and not np.shares_memory(third[0], second[0])


def test_a_borrowed_output_fed_back_as_input_is_not_written_during_the_call(call_path):
    x = S.vector("x", "float64")
    f = _compile(call_path, [x], S.sqrt(x + 1) * 2, borrow_outputs=True)
    v, want = np.arange(5.0), np.arange(5.0)
    for _ in range(4):
        v = f(v)  # the last output is this call's input
        want = np.sqrt(want + 1) * 2
        np.testing.assert_allclose(v, want, rtol=1e-12)


def test_a_failed_call_changes_no_shared_variable(call_path):
    W = S.shared(np.array([1.0, 2.0]), name="W")
    x = S.matrix("x", "float64")
    f = _compile(call_path, [x], S.exp(W).sum(), updates=[(W, W + S.dot(x, W))])
    with pytest.raises(ValueError, match="matmul|dot"):
        f(np.ones((2, 3)))
    np.testing.assert_array_equal(W.get_value(), [1.0, 2.0])
    f(np.ones((2, 2)))
    np.testing.assert_array_equal(W.get_value(), [4.0, 5.0])


def test_trusted_calls_give_the_checked_values(call_path):
    x, y = S.matrix("x"), S.vector("y")
    expr = [S.tanh(x * y) + 1, (x * y).sum(axis=0)]
    checked = _compile(call_path, [x, y], expr)
    trusted = _compile(call_path, [x, y], expr, trust_input=True)
    rng = np.random.default_rng(0)
    for shape in [(3, 4), (1, 4), (5, 4)]:  # each layout plans once, then is reused
        a, b = rng.standard_normal(shape, np.float32), rng.standard_normal(4, np.float32)
        for got, want in zip(trusted(a, b), checked(a, b)):
            np.testing.assert_array_equal(got, want)
        for got, want in zip(trusted(a.T.copy().T, b), checked(a, b)):  # Fortran order
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_trusted_call_with_a_list_raises_instead_of_crashing():
    x = S.vector("x")
    f = S.compile([x], x + 1, device="cpu", trust_input=True)
    with pytest.raises((TypeError, AttributeError)):
        f([1.0, 2.0])


def test_calls_from_threads_with_other_shapes_get_their_own_values(call_path):
    x = S.matrix("x", "float64")
    f = _compile(call_path, [x], S.exp(S.tanh(x) * 2).sum(axis=1) + 1)
    sizes, errors = [(2, 3), (300, 400), (17, 1)], []

    def work(shape):
        v = np.random.default_rng(shape[0]).standard_normal(shape)
        want = np.exp(np.tanh(v) * 2).sum(axis=1) + 1
        try:
            for _ in range(30):
                np.testing.assert_allclose(f(v), want, rtol=1e-12)
        except AssertionError as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in sizes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_the_installed_runner_is_the_one_built_from_these_sources(monkeypatch):
    # setup.py compiles it at install time wherever the headers are (pip install -e . too)
    monkeypatch.setattr(native, "_MODULE", None)
    installed = native.installed_runner()
    assert (installed is not None) == (native.header_dirs() is not None)
    if installed is not None:
        assert installed.SOURCE_DIGEST == runner_digest(), "stale: pip install -e . rebuilds it"
        assert native.runner_module() is installed


def test_a_stale_installed_runner_is_not_loaded(monkeypatch, cache_home):
    # an editable install whose C changed since: the current sources are built in the cache
    monkeypatch.setattr(native, "runner_digest", lambda sources: "other sources")
    assert native.installed_runner() is None
    module = native.runner_module()
    if module is None:  # no headers: nothing to build from
        assert native.header_dirs() is None
    else:
        assert module.__name__ == native.MODULE_NAME  # loaded from the cache


def test_without_headers_the_runner_is_not_built(monkeypatch):
    monkeypatch.setattr(native, "_MODULE", None)
    monkeypatch.setattr(native, "installed_runner", lambda: None)
    monkeypatch.setattr(native, "header_dirs", lambda: None)
    assert native.runner_module() is None
    x = S.vector("x")
    f = S.compile([x], S.exp(x) + 1, device="cpu")
    assert isinstance(f._program, NumpyProgram)
    np.testing.assert_allclose(f(np.ones(2, np.float32)), np.exp(1.0) + 1, rtol=1e-6)


def test_a_runner_that_fails_to_build_warns_and_falls_back(monkeypatch, tmp_path, cache_home):
    broken = tmp_path / "runner.c"
    broken.write_text("this is not C\n")
    monkeypatch.setattr(native, "RUNNER_SOURCES", (broken,))
    with pytest.warns(RuntimeWarning, match="C call path did not build"):
        assert native.runner_module() is None


def test_the_runner_refuses_tables_that_name_slots_it_does_not_have():
    module = native.runner_module()
    if module is None:  # nothing to check without the extension: say so
        assert native.header_dirs() is None
        return
    ok = native._table([2, 1, 1, 1, 0, 1])  # 2 slots, leaf 0, result 1, no constants

    def fail(k, inputs, error):
        return error

    def step(*table):
        return (0, np.negative, None, None, native._table(table))

    runner = module.Runner(ok, (), [step(1, 1, 0, 0, 1, 0, -1)], fail, False)  # slot 0 → 1
    np.testing.assert_array_equal(runner.call(np.ones(2))[0], [-1.0, -1.0])
    with pytest.raises(ValueError, match="slot"):
        module.Runner(native._table([2, 1, 1, 1, 0, 5]), (), [], fail, False)
    with pytest.raises(ValueError, match="slot"):
        module.Runner(ok, (), [step(1, 1, 0, 0, 7, 0, -1)], fail, False)
    with pytest.raises(ValueError, match="length"):
        module.Runner(ok, (), [step(1, 1, 0, 0)], fail, False)
