"""Matrix products on the cpu device: the runner's product kernel calling a CBLAS gemm
(runtime/runner_blas.c, the library from runtime/blas.py), against the NumPy oracle, with every
layout of the operands BLAS reads in place (as stored, transposed, any leading dimension),
those it copies first, batch axes, and each library the runner can bind."""

from __future__ import annotations

import itertools
import platform
import subprocess
import sys

import numpy as np
import pytest
from harness import assert_gradients_match_differences

import symbolic as S
from runtime import blas, native
from runtime.runner_steps import GemmStep, WriterStep, blas_matrix

pytestmark = pytest.mark.skipif(native.header_dirs() is None, reason="no Python/NumPy headers")

# the mkl wheel exists for these (pyproject.toml installs it there)
MKL_PLATFORM = platform.machine() == "x86_64" and sys.platform == "linux"
LIBRARIES = ["mkl", "openblas", "numpy"] if MKL_PLATFORM else ["openblas", "numpy"]
TOLERANCE = {"float32": 2e-5, "float64": 1e-12}


@pytest.fixture(params=LIBRARIES)
def library(request, use_blas):
    """Products through one library: the runner's kernels bound to it for the test."""
    use_blas(request.param)
    return request.param


def product_steps(f) -> set:
    return {
        type(step).__name__
        for step, _, _, node in f._program.schedule.steps
        if node.op.name == "dot"
    }


def check(inputs, output, *values, dtype):
    f = S.compile(inputs, output, device="cpu")
    oracle = S.compile(inputs, output, device="numpy")
    want = oracle(*values)
    for _ in range(2):  # the second call runs the plans the first one made
        got = f(*values)
        scale = np.abs(want).max() if np.size(want) else 1.0
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE[dtype] * max(scale, 1.0))
    return f


def operand(rng, shape, transposed, dtype):
    """An array of `shape`, stored transposed (its last two axes swapped in memory) or not."""
    if not transposed:
        return rng.standard_normal(shape).astype(dtype)
    stored = rng.standard_normal((*shape[:-2], shape[-1], shape[-2])).astype(dtype)
    return np.swapaxes(stored, -1, -2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_transpose_and_edge_shape_gives_the_oracle(library, dtype, rng):
    a, b = S.matrix("a", dtype), S.matrix("b", dtype)
    f = check([a, b], S.dot(a, b), np.ones((2, 3), dtype), np.ones((3, 4), dtype), dtype=dtype)
    assert product_steps(f) == {"numpy": {WriterStep.__name__}}.get(library, {GemmStep.__name__})
    for (m, k, n), ta, tb in itertools.product(
        [(3, 4, 5), (1, 4, 5), (3, 1, 5), (3, 4, 1), (1, 1, 1), (1, 7, 1), (33, 65, 17)],
        (False, True),
        (False, True),
    ):
        x, y = operand(rng, (m, k), ta, dtype), operand(rng, (k, n), tb, dtype)
        np.testing.assert_allclose(f(x, y), x @ y, rtol=0, atol=TOLERANCE[dtype] * 10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_operands_blas_cannot_read_are_copied_first(library, dtype, rng):
    a, b = S.matrix("a", dtype), S.matrix("b", dtype)
    f = S.compile([a, b], S.dot(a, b), device="cpu")
    x = rng.standard_normal((6, 8)).astype(dtype)
    y = rng.standard_normal((8, 10)).astype(dtype)
    cases = [
        (x[::2], y),  # rows every other row: still read in place (leading dimension 16)
        (x[:, ::2], y[::2]),  # neither axis contiguous: copied
        (x[::-1], y[:, ::-1]),  # negative steps: copied
        (np.broadcast_to(x[:1], (3, 8)), y),  # a zero step: copied
        (x[1:4, 2:6], y[2:6, 3:]),  # a window inside a larger array: read in place
    ]
    for u, v in cases:
        np.testing.assert_allclose(f(u, v), u @ v, rtol=0, atol=TOLERANCE[dtype] * 20)


def test_batch_axes_broadcast_like_matmul(library, rng):
    t, m = S.tensor3("t", "float64"), S.matrix("m", "float64")
    u = S.tensor3("u", "float64")
    check(
        [t, m],
        S.matmul(t, m),
        rng.standard_normal((4, 3, 5)),
        rng.standard_normal((5, 2)),
        dtype="float64",
    )
    check(
        [t, u],
        S.matmul(t, u),
        rng.standard_normal((4, 3, 5)),
        rng.standard_normal((1, 5, 2)),
        dtype="float64",
    )
    w = S.tensor4("w", "float64")
    stored = rng.standard_normal((2, 3, 6, 4))
    check(
        [w, t],
        S.matmul(w, t),
        stored.swapaxes(1, 0)[:, :, 1:5],
        rng.standard_normal((2, 4, 2)),
        dtype="float64",
    )


def test_other_dtypes_and_casts_run_numpys_matmul(library, rng):
    i, j = S.matrix("i", "int64"), S.matrix("j", "int64")
    check(
        [i, j],
        S.dot(i, j),
        rng.integers(-5, 5, (3, 4)),
        rng.integers(-5, 5, (4, 2)),
        dtype="float64",
    )
    a, d = S.matrix("a", "float32"), S.matrix("d", "float64")
    check(
        [a, d],
        S.dot(a, d),
        rng.standard_normal((3, 4)).astype("float32"),
        rng.standard_normal((4, 2)),
        dtype="float64",
    )


def test_mismatched_shapes_name_the_product(library):
    a, b = S.matrix("a"), S.matrix("b")
    f = S.compile([a, b], S.dot(a, b) * 2, device="cpu")
    with pytest.raises(ValueError, match="dot"):
        f(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))


def test_gradients_of_products_match_finite_differences(library, rng):
    x, w, v = S.matrix("x", "float64"), S.matrix("w", "float64"), S.matrix("v", "float64")
    loss = S.sum(S.tanh(S.dot(x, w)) @ v.T)
    f = S.compile([x, w, v], S.grad(loss, [x, w, v]), device="cpu")
    cost = S.compile([x, w, v], loss, device="cpu")
    values = [rng.standard_normal(s) for s in [(3, 4), (4, 5), (2, 5)]]
    assert_gradients_match_differences(f, cost, values)


def test_products_inside_a_loop_use_the_kernel(library, rng):
    h0, w = S.vector("h0", "float64"), S.matrix("w", "float64")
    h, _ = S.scan(
        lambda h, w: S.tanh(S.dot(h[None, :], w)[0]),
        outputs_info=[h0],
        non_sequences=[w],
        n_steps=6,
    )
    check([h0, w], h, rng.standard_normal(4), rng.standard_normal((4, 4)) / 2, dtype="float64")


@pytest.mark.parametrize(
    "shape, strides, expected",
    [
        ((3, 4), (16, 4), (0, 4)),  # as stored
        ((3, 4), (4, 12), (1, 3)),  # transposed
        ((3, 4), (32, 4), (0, 8)),  # rows of a wider array
        ((1, 4), (0, 4), (0, 4)),  # one row: its step does not matter
        ((3, 1), (4, 0), (0, 1)),  # one column
        ((3, 4), (8, 8), None),  # neither axis contiguous
        ((3, 4), (4, 4), None),  # rows overlap
    ],
)
def test_how_blas_reads_a_matrix(shape, strides, expected):
    x = np.lib.stride_tricks.as_strided(np.zeros(64, np.float32), shape, strides)
    assert blas_matrix(x) == expected


def test_the_default_library_and_a_bad_choice(monkeypatch):
    found = blas.blas()
    if MKL_PLATFORM:  # a dependency there: products run on MKL unless the user chose
        assert found is not None and found.name == "mkl", blas.describe()
    monkeypatch.setenv(blas.ENVIRONMENT, "atlas")
    blas.blas.cache_clear()
    try:
        with pytest.raises(ValueError, match="SYMBOLIC_BLAS='atlas': choose one of mkl"):
            blas.blas()
    finally:
        monkeypatch.delenv(blas.ENVIRONMENT)
        blas.blas.cache_clear()


def test_threads_follow_the_librarys_variable():
    """MKL_NUM_THREADS=1 gives one thread: MKL reports it (in a new process, where the
    variable is read at load)."""
    if not MKL_PLATFORM:
        pytest.skip("no mkl wheel for this platform")
    code = (
        "from runtime import blas; b = blas.blas(); print(b.name, b.library.MKL_Get_Max_Threads())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "MKL_NUM_THREADS": "1"},
        check=True,
    )
    assert out.stdout.split() == ["mkl", "1"]


def test_kernels_thread_sooner_where_products_share_their_threads(use_blas, rng):
    """Under MKL on GNU OpenMP the kernels are built with the lower threading threshold, so a
    tanh over 2^16 elements (weighted 2^20) runs threaded; its values are NumPy's."""
    from runtime.cpu_backend import kernel_flags
    from symbolic.codegen.prelude import PARALLEL_MIN, SHARED_POOL_PARALLEL_MIN

    use_blas("openblas")
    assert not any(flag.startswith("-DSYM_PARALLEL_MIN") for flag in kernel_flags())
    if MKL_PLATFORM:
        use_blas("mkl")
        assert f"-DSYM_PARALLEL_MIN={SHARED_POOL_PARALLEL_MIN}" in kernel_flags()
    assert SHARED_POOL_PARALLEL_MIN < PARALLEL_MIN
    x = S.matrix("x", "float64")
    f = S.compile([x], S.tanh(x) * 2, device="cpu")
    assert "SYM_PARALLEL_FOR((n) * 17)" in f.kernels[0].source
    v = rng.standard_normal((256, 256))
    np.testing.assert_allclose(f(v), np.tanh(v) * 2, rtol=1e-15)
