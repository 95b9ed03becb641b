"""The layers of the tutorial models against NumPy written directly."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run
from numpy.lib.stride_tricks import sliding_window_view

import symbolic as S
from layers import conv_pool, conv_pool_length


def conv_then_pool_reference(x, W, b, padding):
    """relu(conv2d(x, W) + b), then 2×2 max-pooling: the textbook order, in float64."""
    x = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (padding,) * 2, (padding,) * 2])
    windows = sliding_window_view(x, W.shape[2:], axis=(2, 3))  # (N, C, OH, OW, kh, kw)
    z = np.maximum(np.einsum("ncabij,ocij->noab", windows, W) + b[None, :, None, None], 0)
    n, c, h, w = z.shape
    z = z[:, :, : h // 2 * 2, : w // 2 * 2]  # the floor rule: a last odd row is dropped
    return z.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


@pytest.mark.parametrize("rows, padding", [(9, 0), (8, 2)])
def test_conv_pool_matches_conv_relu_then_pool(device, rows, padding):
    """Bias and ReLU after the pooling give what they give before it; the size rule holds."""
    rng = np.random.default_rng(0)
    x = S.tensor4("x")
    y, (W, b) = conv_pool(x, 3, 4, 3, rng, "conv", padding, activation=S.nnet.relu)
    b.set_value(rng.standard_normal(4).astype(np.float32))
    images = rng.standard_normal((2, 3, rows, rows + 1)).astype(np.float32)
    got = run(y, {x: images}, device)
    want = conv_then_pool_reference(images, W.get_value(), b.get_value(), padding)
    length = [conv_pool_length(n, 3, padding) for n in (rows, rows + 1)]
    assert got.shape == (2, 4, *length) == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv_pool_initializes_he_normal_weights_and_zero_bias():
    _, (W, b) = conv_pool(S.tensor4("x"), 20, 50, 5, np.random.default_rng(0), "conv1")
    weights = W.get_value()
    assert weights.shape == (50, 20, 5, 5) and weights.dtype == np.float32
    assert W.name == "conv1.W" and b.name == "conv1.b"
    np.testing.assert_allclose(weights.std(), np.sqrt(2 / 500), rtol=0.05)
    np.testing.assert_array_equal(b.get_value(), np.zeros(50, np.float32))
