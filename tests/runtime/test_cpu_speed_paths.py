"""The cpu device's fast paths give the NumPy oracle's values: bool inputs read as bytes (so
`where` over a ReLU mask vectorizes), rows of contiguous elements read with unit strides, and
the OpenMP wait policy the runtime sets for BLAS."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np
import pytest

import symbolic as S


@pytest.mark.parametrize("shape", [(256, 1024), (3, 5), (0, 4)])
def test_where_over_a_bool_mask_matches_numpy(device, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    x[..., :1] = np.nan  # NaN where the mask is false must not leak through
    mask = rng.random(shape) < 0.5
    m, v = S.matrix("m", dtype="bool"), S.matrix("v")
    f = S.compile([m, v], S.where(m, v, np.float32(0.0)), device=device)
    np.testing.assert_array_equal(f(mask, x), np.where(mask, x, np.float32(0.0)))
    # a transposed mask takes the strided path
    np.testing.assert_array_equal(f(mask.T.copy().T, x), np.where(mask, x, np.float32(0.0)))


def test_rows_of_slices_broadcasts_and_transposes_match_numpy(device):
    rng = np.random.default_rng(2)
    z, b = rng.standard_normal((6, 40)).astype(np.float32), rng.standard_normal(10, np.float32)
    x, y, v = S.matrix("x"), S.matrix("y"), S.vector("v")
    f = S.compile([x, y, v], S.tanh(x * y + v) * x, device=device)
    slices = z[:, :10], z[:, 20:30]  # rows of 10 contiguous floats, 40 apart: unit strides
    want = np.tanh(slices[0] * slices[1] + b) * slices[0]
    np.testing.assert_allclose(f(*slices, b), want, rtol=4e-7, atol=1e-7)
    transposed = z[:10, :6].T, z[:10, 6:12].T  # rows of floats 40 apart: through tile buffers
    want = np.tanh(transposed[0] * transposed[1] + b[:6]) * transposed[0]
    np.testing.assert_allclose(f(*transposed, b[:6]), want, rtol=4e-7, atol=1e-7)
    if device == "cpu":  # a row of unit stride is read in place, any other through a buffer
        assert "q0 = t0 == 1 ? p0 + a0 + start : b0;" in f.kernels[0].source
        assert (
            "if (t0 != 1) load_tile_f32(b0, p0 + a0 + start * t0, len, t0);" in f.kernels[0].source
        )


def test_bool_inputs_in_fused_logic_match_numpy(device):
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 300, 300)) < 0.5
    x, y = S.matrix("x", dtype="bool"), S.matrix("y", dtype="bool")
    f = S.compile([x, y], [x & ~y, S.cast(x, "float32") + y], device=device)
    got_and, got_sum = f(a, b)
    np.testing.assert_array_equal(got_and, a & ~b)
    np.testing.assert_array_equal(got_sum, a.astype(np.float32) + b)


def test_bool_inputs_are_read_as_bytes():
    m, v = S.matrix("m", dtype="bool"), S.matrix("v")
    f = S.compile([m, v], S.where(m, v, np.float32(0.0)), device="cpu")
    (kernel,) = f.kernels
    assert "const uint8_t *restrict p0" in kernel.source
    assert "const bool *" not in kernel.source


def test_openmp_is_passive_only_around_the_library_load(monkeypatch, use_blas):
    """Passive where NumPy's OpenBLAS runs the products (its threads would contend with
    spinning ones); libgomp's default where MKL shares the kernels' threads."""
    from runtime.cpu_backend import passive_openmp

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    if platform.machine() == "x86_64" and sys.platform == "linux":
        use_blas("mkl")
        with passive_openmp():
            assert "OMP_WAIT_POLICY" not in os.environ
    use_blas("openblas")
    with passive_openmp():
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice wins
    with passive_openmp():
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
