"""The cpu device's fast paths give the NumPy oracle's values: bool inputs read as bytes (so
`where` over a ReLU mask vectorizes), and the OpenMP wait policy the runtime sets for BLAS."""

from __future__ import annotations

import os

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
    assert "const uint8_t *restrict p0" in f.source
    assert "const bool *" not in f.source


def test_openmp_is_passive_only_around_the_library_load(monkeypatch):
    from runtime.cpu_backend import passive_openmp

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with passive_openmp():
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice wins
    with passive_openmp():
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
