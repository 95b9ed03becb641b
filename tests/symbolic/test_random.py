"""S.RandomStream: fresh draws per call, re-seeding, devices agreeing, distributions, errors.

The seeds are fixed, so every statistical bound below is checked on one known sample: it
cannot flake. The bounds are still loose (several standard errors) so that a change of
generator keeps them meaningful.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import symbolic as S


def draws(seed: int = 7):
    """A stream and one draw of each kind, sized from an input."""
    rng = S.RandomStream(seed)
    x = S.matrix("x")
    outputs = [
        rng.uniform(x.shape, low=-2.0, high=3.0),
        rng.normal((x.shape[0], 5), mean=1.0, std=0.5),
        rng.binomial(x.shape, p=0.3),
        rng.binomial((4,), p=0.5, n=10, dtype="float64"),
    ]
    return rng, x, outputs


X = np.zeros((3, 4), np.float32)


def test_two_calls_draw_different_values(device):
    _, x, outputs = draws()
    f = S.compile([x], outputs, device=device)
    first, second = f(X), f(X)
    for a, b in zip(first[:2], second[:2]):
        assert a.shape == b.shape and not np.any(a == b)


def test_reseeding_reproduces_the_draws(device):
    rng, x, outputs = draws()
    f = S.compile([x], outputs, device=device)
    before = [f(X) for _ in range(3)]
    rng.seed(7)
    after = [f(X) for _ in range(3)]
    for call_before, call_after in zip(before, after):
        for a, b in zip(call_before, call_after):
            np.testing.assert_array_equal(a, b)
    rng.seed(8)
    assert not np.any(f(X)[0] == before[0][0])


def test_every_device_draws_the_numpy_values(device):
    rng, x, outputs = draws()
    f_numpy = S.compile([x], outputs, device="numpy")
    f_other = S.compile([x], outputs, device=device)
    want = [f_numpy(X) for _ in range(2)]
    rng.seed(7)
    for expected in want:
        for got, value in zip(f_other(X), expected):
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, value)


def test_draws_of_one_stream_differ_from_each_other(device):
    rng = S.RandomStream(0)
    a, b = rng.uniform((1000,)), rng.uniform((1000,))
    va, vb = S.compile([], [a, b], device=device)()
    assert not np.any(va == vb)


def test_draws_have_their_dtypes_and_shapes():
    rng = S.RandomStream(0)
    n = S.scalar("n", "int64")
    assert rng.uniform((2, 3)).type == S.TensorType("float32", (2, 3))
    assert rng.normal((n, 3), dtype="float64").type == S.TensorType("float64", (None, 3))
    assert rng.binomial(4).type == S.TensorType("int64", (4,))
    assert rng.binomial((2,), dtype="float32").dtype == "float32"


def test_distributions_have_their_moments_and_ranges(device):
    rng = S.RandomStream(123)
    size = (200_000,)
    outputs = [
        rng.uniform(size, low=-1.0, high=3.0, dtype="float64"),
        rng.normal(size, mean=2.0, std=3.0, dtype="float64"),
        rng.binomial(size, p=0.3),
        rng.binomial(size, p=0.25, n=8),
    ]
    u, z, b, k = S.compile([], outputs, device=device)()
    # standard errors of the mean: 0.0026, 0.0067, 0.0010, 0.0027
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1) < 0.02
    assert abs(z.mean() - 2) < 0.05 and abs(z.std() - 3) < 0.05
    assert set(np.unique(b)) == {0, 1} and abs(b.mean() - 0.3) < 0.01
    assert k.min() >= 0 and k.max() <= 8 and abs(k.mean() - 2) < 0.02


def test_parameters_may_be_tensors_that_broadcast(device):
    rng = S.RandomStream(5)
    low = S.vector("low", "float64")
    u = rng.uniform((1000, 3), low=low, high=low + 1, dtype="float64")
    lows = np.array([-10.0, 0.0, 10.0])
    value = S.compile([low], u, device=device)(lows)
    assert np.all((value >= lows) & (value < lows + 1))


def test_a_user_update_of_the_state_wins(device):
    rng = S.RandomStream(1)
    u = rng.uniform((5,))
    (state,) = rng.states
    f = S.compile([], u, updates=[(state, state)], device=device)
    np.testing.assert_array_equal(f(), f())
    g = S.compile([], u, device=device)
    assert [t for t, _ in g.updates] == [state]


def test_a_failed_call_leaves_the_state_alone(device):
    rng = S.RandomStream(2)
    x = S.matrix("x")
    f = S.compile([x], S.dot(x + rng.uniform(x.shape), x), device=device)
    (state,) = rng.states
    before = state.get_value()
    with pytest.raises(ValueError):
        f(np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(state.get_value(), before)
    f(np.zeros((3, 3), np.float32))
    assert not np.array_equal(state.get_value(), before)


def test_draws_are_disconnected_from_gradients():
    rng = S.RandomStream(0)
    mean, x = S.scalar("mean", "float64"), S.vector("x", "float64")
    z = rng.normal((3,), mean=mean, dtype="float64")
    with pytest.raises(ValueError, match="does not depend on"):
        S.grad(S.sum(z), mean)
    zero = S.grad(S.sum(z), mean, disconnected="ignore")
    assert S.compile([mean], zero, device="numpy")(1.0) == 0
    gx = S.grad(S.sum(x * z), x)  # d(x·z)/dx = z, the same draw
    f = S.compile([x, mean], [gx, z], device="numpy")
    g, value = f(np.ones(3), 0.0)
    np.testing.assert_array_equal(g, value)


def test_a_pickled_function_continues_the_stream():
    rng = S.RandomStream(3)
    f = S.compile([], rng.uniform((4,)), device="numpy")
    f()
    copy = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(copy(), f())


# (id, builder, error, words)
ERRORS = [
    ("seed", lambda: S.RandomStream(-1), ValueError, ["non-negative"]),
    ("int_uniform", lambda: S.RandomStream(0).uniform((2,), dtype="int32"), TypeError, ["int32"]),
    ("broadcast", lambda: S.RandomStream(0).uniform((2, 3), low=np.zeros(4)), ValueError,
     ["low", "(4,)", "(2, 3)"]),
]  # fmt: skip


@pytest.mark.parametrize("case", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_raise_clear_errors(case):
    _, build, error, words = case
    with pytest.raises(error) as info:
        build()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "draw,words",
    [
        (lambda rng, v: rng.binomial((3,), p=v), ["binomial: p", "[0, 1]"]),
        (lambda rng, v: rng.normal((3,), std=v), ["normal: std"]),
    ],
    ids=["p", "std"],
)
def test_parameters_out_of_range_fail_at_run_time(draw, words, device):
    v = S.scalar("v", "float64")
    f = S.compile([v], draw(S.RandomStream(0), v), device=device)
    with pytest.raises(ValueError) as info:
        f(-0.5)
    for word in words:
        assert word in str(info.value)


def test_multinomial_rows_count_n_draws_with_the_row_frequencies(device):
    p = S.matrix("p")
    rng = S.RandomStream(5)
    f = S.compile([p], [rng.multinomial(p), rng.multinomial(p, n=4)], device=device)
    pvals = np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]], np.float32)
    draws = [f(pvals) for _ in range(400)]
    one_hot = np.array([d[0] for d in draws])
    assert one_hot.dtype == np.int64 and set(np.unique(one_hot)) <= {0, 1}
    np.testing.assert_array_equal(one_hot.sum(axis=2), 1)
    np.testing.assert_allclose(one_hot.mean(axis=0), pvals, atol=0.08)
    np.testing.assert_array_equal(np.array([d[1] for d in draws]).sum(axis=2), 4)
    again = S.compile([p], rng.multinomial(p), device="numpy")
    rng.seed(5)
    first = again(pvals)
    rng.seed(5)
    np.testing.assert_array_equal(again(pvals), first)
