"""max_pool2d and max_pool2d_grad of a shifted input (x + a shift constant per plane, the form
the optimizer gives max_pool2d(conv + bias)): the same values and gradients as the ops on the
stored sum, gradients by finite differences, and the error for a shift of another shape."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run

import symbolic as S
from symbolic.pool import MaxPool2d, MaxPool2dGrad

# (id, size, stride, padding, ceil_mode)
WINDOWS = [
    ("tiles", (2, 2), (2, 2), (0, 0), False),
    ("overlap_padding", (3, 2), (1, 2), (1, 1), False),
    ("ceil", (2, 3), (2, 2), (0, 0), True),
]


@pytest.mark.parametrize("window", WINDOWS, ids=[w[0] for w in WINDOWS])
def test_shifted_max_pool_is_max_pool_of_the_sum(window, device, rng):
    """Values and the gradients with respect to x and the shift, with ties that only the
    rounding of x + shift makes (a shift of 2**24 rounds neighbours to one float32)."""
    _, size, stride, padding, ceil = window
    x, b = S.tensor4("x", "float32"), S.tensor("b", "float32", (1, None, 1, 1))
    r = S.tensor4("r", "float32")
    op = MaxPool2d(size, stride, padding, ceil)
    shifted, summed = op(x, b), op(x + b)
    xv = rng.standard_normal((2, 3, 7, 8)).astype("float32")
    bv = np.array([0.0, 2.0**24, -1.5], "float32").reshape(1, 3, 1, 1)
    rv = rng.standard_normal(run(summed, {x: xv, b: bv}, "numpy").shape).astype("float32")
    outputs = [[y, *S.grad(S.sum(y * r), [x, b])] for y in (shifted, summed)]
    values = {x: xv, b: bv, r: rv}
    for got, want in zip(run(outputs[0], values, device), run(outputs[1], values, "numpy")):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("window", WINDOWS, ids=[w[0] for w in WINDOWS])
def test_shifted_max_pool_gradients_match_finite_differences(window, rng):
    _, size, stride, padding, ceil = window
    S.verify_grad(
        lambda x, b: MaxPool2d(size, stride, padding, ceil)(x, b),
        [rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((2, 2, 1, 1))],
    )


def test_shifted_max_pool_second_derivatives_match_finite_differences(rng):
    """The shifted max_pool2d_grad differentiates with respect to g: a gather at the same
    maxima (its derivative with respect to x and the shift is zero almost everywhere)."""
    xv, bv = rng.standard_normal((1, 2, 4, 5)), rng.standard_normal((1, 2, 1, 1))

    def grad_of_pool(g):
        x = S.constant(xv)
        gx = S.vjp(MaxPool2d((2, 2), (1, 1), (0, 0))(x, S.constant(bv)), x, g)
        return S.sum(gx * S.sin(gx))

    S.verify_grad(grad_of_pool, [rng.standard_normal((1, 2, 3, 4))])


@pytest.mark.parametrize(
    "shape, dtype",
    [((1, None, 1, None), "float32"), ((None,), "float32"), ((1, None, 1, 1), "float64")],
)
def test_shift_of_another_shape_or_dtype_is_refused(shape, dtype):
    x, b = S.tensor4("x", "float32"), S.tensor("b", dtype, shape)
    with pytest.raises(ValueError, match="max_pool2d: the shift must be float32"):
        MaxPool2d((2, 2), (2, 2), (0, 0))(x, b)


def test_shift_gradient_differentiates_again(rng):
    """The gradient node's second output (the shift's gradient) passes its own gradient back:
    broadcast over the planes and gathered at the maxima."""
    xv, bv = rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((1, 2, 1, 1))

    def grad_of_shift_gradient(g):
        b = S.constant(bv)
        gb = S.vjp(MaxPool2d((2, 2), (1, 1), (0, 0))(S.constant(xv), b), b, g)
        return gb * S.sin(gb)

    S.verify_grad(grad_of_shift_gradient, [rng.standard_normal((2, 2, 3, 4))])


def test_summing_the_shift_gradient_needs_a_shift():
    x = S.tensor4("x", "float32")
    pooled = MaxPool2d((2, 2), (2, 2), (0, 0))(x)
    with pytest.raises(ValueError, match="max_pool2d_grad: sums_shift needs a shift input"):
        MaxPool2dGrad((2, 2), (2, 2), (0, 0), sums_shift=True)(x, pooled, pooled)
