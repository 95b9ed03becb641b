"""benchmarks/blas_yardstick.py records the products a cpu step computes, as laid out there."""

import sys
from pathlib import Path

import numpy as np

import symbolic as S

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import blas_yardstick  # noqa: E402


def test_products_are_recorded_with_their_layout_and_timed():
    x, w = S.matrix("x"), S.matrix("w")
    xv = np.ones((4, 3), np.float32)
    wv = np.ones((5, 3), np.float32)
    with blas_yardstick.recording() as products:
        f = S.compile([x, w], S.tanh(x @ w.T), device="cpu")
        got = f(xv, wv)
    np.testing.assert_allclose(got, np.tanh(xv @ wv.T), rtol=1e-6)
    (product,) = products
    assert (product.a_shape, product.b_shape) == ((4, 3), (3, 5))
    assert product.a_order == (0, 1) and product.b_order == (1, 0)  # wᵀ stays a transposed view
    assert product.flops == 2 * 4 * 5 * 3
    a = blas_yardstick._operand(
        product.b_shape, product.b_order, "float32", np.random.default_rng(0)
    )
    assert a.shape == (3, 5) and a.strides == (4, 12)
    result = blas_yardstick.yardstick(products, step_seconds=1.0, repeat=3)
    assert result["products"] == 1 and result["gflop"] == 120 / 1e9
    assert 0 < result["fraction"] < 1


def test_a_loops_products_are_recorded_at_every_step():
    x, w = S.tensor3("x"), S.matrix("w")
    hs, _ = S.scan(lambda x_t, h, w: S.tanh(x_t + h @ w), x, x[0], non_sequences=[w])
    xv = np.ones((5, 2, 3), np.float32)
    wv = np.eye(3, dtype=np.float32) / 2
    with blas_yardstick.recording() as products:
        f = S.compile([x, w], hs, device="cpu")
        f(xv, wv)
    assert [(p.a_shape, p.b_shape) for p in products] == [((2, 3), (3, 3))] * 5


def test_the_products_of_gemm_updates_are_recorded():
    x, g = S.matrix("x"), S.matrix("g")
    w = S.shared(np.ones((3, 4), np.float32), "w")
    with blas_yardstick.recording() as products:
        f = S.compile([x, g], [], updates=[(w, w - 0.1 * S.dot(x.T, g))], device="cpu")
        f(np.ones((5, 3), np.float32), np.ones((5, 4), np.float32))
    assert [(p.a_shape, p.b_shape) for p in products] == [((3, 5), (5, 4))]
