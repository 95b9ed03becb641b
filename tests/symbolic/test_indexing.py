"""Indexing, set_subtensor and inc_subtensor against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run

import symbolic as S

IDX = np.array([0, 2, 2, -1])
LABELS = np.array([1, 0, 3, 3, 2])

# (id, index applied to both the symbolic tensor and the (4, 5) / (5, 4) NumPy array)
# fmt: off
BASIC = [
    ("int", lambda x: x[1]), ("negative_int", lambda x: x[-1]), ("int_int", lambda x: x[1, 2]),
    ("slice", lambda x: x[1:3]), ("slice_open", lambda x: x[2:]), ("slice_neg", lambda x: x[-3:-1]),
    ("slice_step", lambda x: x[::2]), ("reverse", lambda x: x[::-1]),
    ("reverse_cols_step", lambda x: x[:, ::-2]), ("neg_step_bounds", lambda x: x[3:0:-1]),
    ("column", lambda x: x[:, 0]), ("row_slice_col", lambda x: x[1:, -1]),
    ("none_front", lambda x: x[None]), ("none_middle", lambda x: x[:, None, 1:3]),
    ("int_none", lambda x: x[2, None]), ("empty_slice", lambda x: x[3:1]),
    ("slice_past_end", lambda x: x[2:10]),
]
# fmt: on


@pytest.mark.parametrize("index", [b[1] for b in BASIC], ids=[b[0] for b in BASIC])
def test_basic_index_matches_numpy(index, device, rng):
    x = S.matrix("x", "float64")
    v = rng.standard_normal((4, 5))
    out = run(index(x), {x: v}, device)
    np.testing.assert_array_equal(out, index(v))
    assert np.shape(out) == np.shape(index(v))


@pytest.mark.parametrize("index", [b[1] for b in BASIC[:12]], ids=[b[0] for b in BASIC[:12]])
def test_basic_index_of_static_shape_matches_numpy(index, device, rng):
    x = S.tensor("x", "float32", (4, 5))
    v = rng.standard_normal((4, 5)).astype(np.float32)
    out = run(index(x), {x: v}, device)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, index(v))


def test_symbolic_scalar_index(device, rng):
    x, i = S.matrix("x", "float64"), S.tensor("i", "int64", ())
    v = rng.standard_normal((4, 5))
    f = S.compile([x, i], [x[i], x[:, i], x[i:]], device=device)
    for k in (0, 3, -2):
        for out, ref in zip(f(v, k), [v[k], v[:, k], v[k:]]):
            np.testing.assert_array_equal(out, ref)


def test_integer_array_index_with_repeats(device, rng):
    x, idx = S.matrix("x", "float64"), S.vector("idx", "int64")
    v = rng.standard_normal((4, 5))
    out = run([x[idx], x[:, idx]], {x: v, idx: IDX}, device)
    np.testing.assert_array_equal(out[0], v[IDX])
    np.testing.assert_array_equal(out[1], v[:, IDX])


def test_constant_index_array(device, rng):
    x = S.matrix("x", "float64")
    v = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(run(x[S.constant(IDX)], {x: v}, device), v[IDX])


def test_arange_labels_picks_one_per_row(device, rng):
    x, labels = S.matrix("x", "float64"), S.vector("labels", "int64")
    v = rng.standard_normal((5, 4))
    out = run(x[S.arange(x.shape[0]), labels], {x: v, labels: LABELS}, device)
    np.testing.assert_array_equal(out, v[np.arange(5), LABELS])


def test_set_subtensor_slice(device, rng):
    x, y = S.matrix("x", "float64"), S.matrix("y", "float64")
    vx, vy = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    out, same_x = run([S.set_subtensor(x[1:3], y), x], {x: vx, y: vy}, device)
    ref = vx.copy()
    ref[1:3] = vy
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(same_x, vx)  # functional: x itself is unchanged


def test_set_subtensor_broadcasts_value(device, rng):
    x = S.matrix("x", "float64")
    vx = rng.standard_normal((4, 5))
    out = run(S.set_subtensor(x[:, 1], 0.0), {x: vx}, device)
    ref = vx.copy()
    ref[:, 1] = 0
    np.testing.assert_array_equal(out, ref)


def test_set_subtensor_arange_labels(device, rng):
    x, labels = S.matrix("x", "float64"), S.vector("labels", "int64")
    vx = rng.standard_normal((5, 4))
    out = run(S.set_subtensor(x[S.arange(5), labels], -1.0), {x: vx, labels: LABELS}, device)
    ref = vx.copy()
    ref[np.arange(5), LABELS] = -1
    np.testing.assert_array_equal(out, ref)


def test_inc_subtensor_slice(device, rng):
    x, y = S.matrix("x", "float64"), S.vector("y", "float64")
    vx, vy = rng.standard_normal((4, 5)), rng.standard_normal(5)
    out = run(S.inc_subtensor(x[::-2], y), {x: vx, y: vy}, device)
    ref = vx.copy()
    ref[::-2] += vy
    np.testing.assert_allclose(out, ref, rtol=1e-15)


def test_inc_subtensor_repeated_indices_accumulate(device, rng):
    x, y, idx = S.matrix("x", "float64"), S.matrix("y", "float64"), S.vector("idx", "int64")
    vx, vy = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    out = run(S.inc_subtensor(x[idx], y), {x: vx, y: vy, idx: IDX}, device)
    ref = vx.copy()
    np.add.at(ref, IDX, vy)
    np.testing.assert_allclose(out, ref, rtol=1e-14)


def test_inc_subtensor_repeated_pairs_accumulate(device):
    x = S.matrix("x", "float64")
    rows, cols = np.array([0, 0, 1, 0]), np.array([1, 1, 2, 1])
    out = run(
        S.inc_subtensor(x[S.constant(rows), S.constant(cols)], 1.0), {x: np.zeros((2, 3))}, device
    )
    ref = np.zeros((2, 3))
    np.add.at(ref, (rows, cols), 1.0)
    np.testing.assert_array_equal(out, ref)


def test_index_keeps_dtype(device):
    x = S.vector("x", "int8")
    out = run(x[1:], {x: np.array([1, 2, 3], np.int8)}, device)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, [2, 3])


def test_static_index_out_of_bounds_raises():
    x = S.tensor("x", "float32", (3, 4))
    with pytest.raises((IndexError, ValueError)):
        x[5]


def test_too_many_indices_raises():
    x = S.vector("x")
    with pytest.raises((IndexError, ValueError)):
        x[0, 1]
