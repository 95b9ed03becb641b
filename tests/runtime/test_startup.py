"""Time to a first result: what `import symbolic` and a warm compile leave out, and the parts
of a cold build that make it shorter (one function per distinct kernel, parallel units)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symbolic as S
from runtime import build, cache

pytestmark = pytest.mark.usefixtures("cache_home")  # every test starts cold

ROOT = Path(__file__).resolve().parents[2]

# A small training step: fused kernels, reductions, a softmax row kernel and repeated updates
TRAIN = """
import sys
import numpy as np
import symbolic as S
rng = np.random.default_rng(0)
W1 = S.shared(rng.standard_normal((6, 5)).astype(np.float32), name="W1")
W2 = S.shared(rng.standard_normal((5, 3)).astype(np.float32), name="W2")
x, y = S.matrix("x"), S.vector("y", dtype="int64")
h = S.nnet.relu(x @ W1)
cost = S.nnet.categorical_crossentropy(S.nnet.softmax(h @ W2), y).mean()
gW1, gW2 = S.grad(cost, [W1, W2])
f = S.compile([x, y], cost, updates=[(W1, W1 - 0.1 * gW1), (W2, W2 - 0.1 * gW2)], device="cpu")
value = f(rng.standard_normal((4, 6)).astype(np.float32), np.array([0, 1, 2, 1]))
rendered = "symbolic.codegen.c" in sys.modules
print(repr(float(value)), "sympy" in sys.modules, len(f.kernels), rendered, "subprocess" in sys.modules)
"""


def kernel_sources() -> list[Path]:
    """The kernel modules in the cache (the C runner's extension is built there too)."""
    return [p for p in cache.cache_dir().glob("*.c") if "PyInit_" not in p.read_text()]


def _python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_symbolic_imports_neither_sympy_nor_networkx():
    out = _python("import sys, symbolic; print('sympy' in sys.modules, 'networkx' in sys.modules)")
    assert out == "False False"


def test_graph_and_fused_expressions_still_import_them_when_asked():
    x = S.vector("x")
    f = S.compile([x], S.exp(x) * 2 + 1, device="numpy")
    assert f.graph.number_of_nodes() > 0  # networkx, imported here
    (node,) = f.fgraph.nodes
    assert str(node.op.expressions[0]).count("x0") == 1  # sympy, imported here


def test_warm_compile_renders_no_source_and_gives_the_same_value():
    cold = _python(TRAIN).split()
    warm = _python(TRAIN).split()
    assert cold[1] == "False"  # C is spelled from a table, without sympy
    assert cold[3] == "True" and warm[3] == "False"  # only the cold build rendered C
    assert warm[4] == "False"  # nor ran a compiler (subprocess is imported to run one)
    assert warm[0] == cold[0] and warm[2] == cold[2]
    assert len(list((cache.cache_dir() / "index").iterdir())) == 1


def test_kernel_sources_are_rendered_when_read():
    x = S.vector("x")
    y = S.tanh(x) + 1
    f = S.compile([x], y, device="cpu")
    g = S.compile([x], y, device="cpu")  # the library by its structure key
    assert g.kernels[0].source == f.kernels[0].source
    assert "tanhf" in g.kernels[0].source and g.kernels[0].name in g.kernels[0].source


@pytest.mark.parametrize("damage", ["garbled", "points nowhere"])
def test_damaged_index_renders_and_is_rewritten(damage):
    x = S.vector("x")
    v = np.linspace(-2, 2, 7, dtype=np.float32)
    expected = S.compile([x], S.exp(x) * 3, device="cpu")(v)
    (index,) = (cache.cache_dir() / "index").iterdir()
    index.write_text("not a key" if damage == "garbled" else "0" * 64)
    build._LOADED.clear()
    np.testing.assert_array_equal(S.compile([x], S.exp(x) * 3, device="cpu")(v), expected)
    assert cache.read_index(index.name) == kernel_sources()[0].stem


def test_equal_kernels_are_built_once_and_shared():
    x, y = S.vector("x"), S.vector("y")
    a, b = S.sum(S.exp(x) * 2), S.sum(S.exp(y) * 2)  # the same kernel on two inputs
    f = S.compile([x, y], [a, b], device="cpu")
    r = S.compile([x, y], [a, b], device="numpy")
    u, v = np.linspace(-1, 1, 5, dtype=np.float32), np.linspace(0, 3, 5, dtype=np.float32)
    for got, want in zip(f(u, v), r(u, v)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    (source,) = kernel_sources()
    functions = source.read_text().count("void k")
    assert len(f.kernels) == functions + 1  # a and b share one function


def test_source_split_into_units_builds_every_kernel(monkeypatch, logged_cc):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    xs = [S.vector(f"x{i}") for i in range(4)]  # inputs apart: siblings of one would fuse
    a, b, c, d = xs
    outs = [S.exp(a) + 1, S.log1p(S.abs(b)) * 2, S.tanh(c) - c, S.sqrt(S.abs(d)) / 3]
    f = S.compile(xs, outs, device="cpu")
    vs = [np.linspace(-2, 2, 9, dtype=np.float32) + i for i in range(4)]
    for got, want in zip(f(*vs), S.compile(xs, outs, device="numpy")(*vs)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    compiles = [line for line in logged_cc.read_text().splitlines() if "-DSYMBOLIC_UNIT=" in line]
    assert sorted(line.split("-DSYMBOLIC_UNIT=")[1][0] for line in compiles) == ["0", "1", "2"]
    # the file as written is also the whole module for anyone compiling it by hand
    (source,) = kernel_sources()
    assert build.build_library(source.read_text()).k0_fused_exp_add is not None


def test_units_are_part_of_the_key(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert build._with_units(("-O3",), 5) == ("-O3", "-DSYMBOLIC_UNITS=2")
    assert build._with_units(("-O3",), 1) == ("-O3",)
