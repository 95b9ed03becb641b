"""compile's Theano options: allow_input_downcast, on_unused_input, name, mode."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S


def test_allow_input_downcast_lets_float64_into_float32_inputs(device):
    x = S.matrix("x")
    f = S.compile([x], x * 2, allow_input_downcast=True, device=device)
    out = f(np.full((2, 2), 0.1))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.float32(0.1) * 2)


def test_without_allow_input_downcast_float64_is_refused(device):
    x = S.matrix("x")
    f = S.compile([x], x * 2, device=device)
    with pytest.raises(TypeError, match="'x' \\(position 0\\) expects float32"):
        f(np.ones((2, 2)))


def test_unused_input_raises_by_default():
    x, unused = S.vector("x"), S.vector("unused")
    with pytest.raises(ValueError, match="input 1 of compile \\('unused'.*not used"):
        S.compile([x, unused], x + 1, device="numpy")


def test_unused_input_warn_and_ignore(device):
    x, unused = S.vector("x"), S.vector("unused")
    with pytest.warns(UserWarning, match="'unused'"):
        f = S.compile([x, unused], x + 1, on_unused_input="warn", device=device)
    g = S.compile([x, unused], x + 1, on_unused_input="ignore", device=device)
    for h in (f, g):
        np.testing.assert_array_equal(h([1.0], [5.0]), [2.0])


def test_input_used_only_through_givens_counts_as_used():
    index = S.scalar("index", dtype="int64")
    data = S.shared(np.arange(6, dtype=np.float32))
    x = S.vector("x")
    f = S.compile([index], x.sum(), givens={x: data[index * 2 : (index + 1) * 2]}, device="numpy")
    assert f(1) == 5.0


def test_on_unused_input_rejects_unknown_actions():
    x = S.vector("x")
    with pytest.raises(ValueError, match="on_unused_input"):
        S.compile([x], x, on_unused_input="maybe")


def test_name_and_modes():
    x = S.vector("x")
    f = S.compile([x], S.exp(S.log(x)), name="identity", device="numpy", mode="FAST_COMPILE")
    assert f.name == "identity"
    assert any(d.get("op") == "log" for _, d in f.graph.nodes(data=True))  # not optimized
    g = S.compile([x], S.exp(S.log(x)), device="numpy", mode="FAST_RUN")
    np.testing.assert_allclose(g([2.0]), [2.0])
    assert S.compile([x], x + 1, device="numpy", mode="DebugMode").check
    assert S.compile([x], x + 1, device="numpy", mode="NanGuardMode").nan_guard
    with pytest.raises(NotImplementedError, match="ProfileMode"):
        S.compile([x], x, mode="ProfileMode")
