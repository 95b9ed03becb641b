"""Pickled compiled functions: same values, own shared state, and no compiler run on load."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np

import symbolic as S


def _train_step(device: str):
    """A small training step: a shared weight, an update, two outputs, a fused kernel."""
    x = S.matrix("x")
    W = S.shared(np.full((3, 2), 0.5, np.float32), name="W")
    loss = S.mean(S.square(S.tanh(S.dot(x, W)) - 1))
    (gW,) = S.grad(loss, [W])
    return S.compile(
        [x], [loss, S.exp(x).sum(axis=1)], updates=[(W, W - 0.1 * gW)], device=device
    ), W


def test_pickled_function_gives_equal_results_with_its_own_state(device, rng):
    f, W = _train_step(device)
    g = pickle.loads(pickle.dumps(f))
    v = rng.standard_normal((4, 3)).astype(np.float32)
    for _ in range(3):  # the same trajectory, each on its own W
        for a, b in zip(f(v), g(v)):
            np.testing.assert_array_equal(a, b)
    ((W2, _),) = g.updates
    assert W2 is not W and W2.name == "W"
    np.testing.assert_array_equal(W2.get_value(), W.get_value())
    W.set_value(np.zeros((3, 2), np.float32))
    assert not np.array_equal(W2.get_value(), W.get_value())
    assert g.device == f.device and g.rewrites == f.rewrites
    assert [k.source for k in g.kernels] == [k.source for k in f.kernels]


def test_functions_of_one_pickle_share_their_shared_variables(device):
    count = S.shared(np.int64(0), name="count")
    step = S.compile([], count, updates=[(count, count + 1)], device=device)
    read = S.compile([], count + 0, device=device)
    step2, read2 = pickle.loads(pickle.dumps((step, read)))
    step2()
    step2()
    assert int(read2()) == 2 and int(read()) == 0
    step3 = pickle.loads(pickle.dumps(step))  # another pickle: another counter
    step3()
    assert int(read2()) == 2


def test_pickle_keeps_options_and_user_graphs(device):
    x = S.vector("x", "float64")
    y = S.log1p(S.exp(x))
    f = S.compile([x], [y], device=device, trust_input=True, profile=True)
    g = pickle.loads(pickle.dumps(f))
    assert g.trust_input and g.profile is not None and isinstance(g(np.ones(2)), list)
    assert len(g.outputs) == 1 and g.outputs[0].owner.op.name == y.owner.op.name
    assert g.inputs[0].name == "x" and g.inputs[0].type == x.type


def test_deep_graph_pickles_without_recursion():
    # device numpy: the encoding is the same on every device, and 3,000 C kernels build slowly
    x = S.scalar("x", "float64")
    y = x
    for i in range(3000):  # deeper than the recursion limit if pickled as nested objects
        y = S.sin(y) if i % 2 else y * 1.0001
    f = S.compile([x], y, device="numpy", optimize=False)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_allclose(g(0.5), f(0.5), rtol=1e-12)


LOAD_AND_CALL = """
import pickle, sys
import numpy as np
f = pickle.load(open(sys.argv[1], "rb"))
v = np.load(sys.argv[2])
np.save(sys.argv[3], f(v)[0])
np.save(sys.argv[4], f.updates[0][0].get_value())
"""


def test_new_process_loads_pickle_from_warm_cache_without_compiling(logged_cc, tmp_path, rng):
    f, W = _train_step("cpu")
    assert f.kernels  # there is a C library to find
    paths = [tmp_path / name for name in ("f.pkl", "v.npy", "loss.npy", "W.npy")]
    paths[0].write_bytes(pickle.dumps(f))
    v = rng.standard_normal((4, 3)).astype(np.float32)
    np.save(paths[1], v)
    compiled = logged_cc.read_text()
    assert compiled  # building f ran the compiler
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_CALL, *map(str, paths)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    assert logged_cc.read_text() == compiled  # not even a probe ran
    np.testing.assert_array_equal(np.load(paths[2]), f(v)[0])
    np.testing.assert_array_equal(np.load(paths[3]), W.get_value())
