"""Random draws inside a scan step: fresh values at every step and every call, the stream's
state threaded through the loop by its default update, re-seeding reproducing the draws, and
the cpu loop drawing what the numpy one does."""

from __future__ import annotations

import numpy as np

import symbolic as S


def noisy_rnn(seed: int = 3):
    """h_t = tanh(x_t + h_{t−1}) · mask_t, a dropout-like mask drawn at each step."""
    rng = S.RandomStream(seed)
    x = S.matrix("x")

    def step(x_t, h):
        return S.tanh(x_t + h) * (rng.uniform(h.shape) > 0.5)

    hs, updates = S.scan(step, sequences=[x], outputs_info=[S.zeros((5,))])
    return rng, x, hs, updates


X = np.ones((6, 5), np.float32)


def masks(values: np.ndarray) -> np.ndarray:
    return values != 0


def test_each_step_and_each_call_draws_anew(device):
    _, x, hs, updates = noisy_rnn()
    f = S.compile([x], hs, updates=updates, device=device)
    first, second = masks(f(X)), masks(f(X))
    assert len({row.tobytes() for row in first}) > 1  # the steps do not share one mask
    assert not np.array_equal(first, second)  # the state advanced between the calls


def test_reseeding_reproduces_the_loop(device):
    rng, x, hs, updates = noisy_rnn()
    f = S.compile([x], hs, updates=updates, device=device)
    before = [f(X) for _ in range(2)]
    rng.seed(3)
    for want in before:
        np.testing.assert_array_equal(f(X), want)


def test_cpu_loop_draws_what_numpy_draws(device):
    rng, x, hs, updates = noisy_rnn()
    oracle = S.compile([x], hs, updates=updates, device="numpy")
    want = [oracle(X) for _ in range(2)]
    rng.seed(3)
    f = S.compile([x], hs, updates=updates, device=device)
    for expected in want:
        np.testing.assert_allclose(f(X), expected, rtol=1e-6)


def test_the_loop_advances_the_stream_without_its_updates_given(device):
    # S.compile applies a random state's value after the loop by itself: the next call's
    # draws go on from where the loop stopped, rather than repeating shifted by one step
    _, x, hs, updates = noisy_rnn()
    given = S.compile([x], hs, updates=updates, device=device)
    want = [given(X) for _ in range(2)]
    _, x, hs, _ = noisy_rnn()
    implied = S.compile([x], hs, device=device)
    for expected in want:
        np.testing.assert_array_equal(implied(X), expected)
