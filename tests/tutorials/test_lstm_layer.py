"""layers.lstm: its hidden states against an LSTM written out in NumPy, and its initial
weights."""

from __future__ import annotations

import numpy as np

import symbolic as S
from layers import lstm


def numpy_lstm(x: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The hidden state after every step, gates in the order i, f, g, o, from h = c = 0."""
    n = Wh.shape[0]
    h = c = np.zeros((x.shape[1], n))
    states = []
    for x_t in x:
        z = x_t @ Wx + h @ Wh + b
        i, f, o = (1 / (1 + np.exp(-z[:, k * n : (k + 1) * n])) for k in (0, 1, 3))
        c = f * c + i * np.tanh(z[:, 2 * n : 3 * n])
        h = o * np.tanh(c)
        states.append(h)
    return np.stack(states)


def test_lstm_hidden_states_match_numpy(device):
    rng = np.random.default_rng(0)
    x = S.tensor3("x")
    hidden, params = lstm(x, 3, 5, rng, "lstm")
    for p in params:  # away from the initial values, so that every gate's block counts
        p.set_value(p.get_value() + rng.normal(0, 0.3, p.get_value().shape).astype(np.float32))
    sequence = rng.standard_normal((6, 4, 3)).astype(np.float32)  # 6 steps, batch 4
    expected = numpy_lstm(sequence, *(p.get_value().astype(np.float64) for p in params))
    got = S.compile([x], hidden, device=device)(sequence)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_lstm_initial_weights():
    n_in, n = 7, 6
    _, (Wx, Wh, b) = lstm(S.tensor3("x"), n_in, n, np.random.default_rng(1), "l", forget_bias=2.0)
    assert Wx.get_value().shape == (n_in, 4 * n) and Wh.get_value().shape == (n, 4 * n)
    for block in np.split(Wh.get_value(), 4, axis=1):  # each gate's block is orthogonal
        np.testing.assert_allclose(block.T @ block, np.eye(n), atol=1e-5)
    expected_bias = np.zeros(4 * n)
    expected_bias[n : 2 * n] = 2.0  # the forget gate's block only
    np.testing.assert_array_equal(b.get_value(), expected_bias)
