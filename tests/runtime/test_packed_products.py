"""Products by a loop's non-sequence read it packed once per run of the loop where the BLAS
packs (MKL; runtime/packed_products.py): values and gradients against the NumPy oracle and
finite differences, every layout of the packed matrix, new values at every call, and the
plain products that stay where packing does not apply."""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest

import symbolic as S
from runtime import native
from runtime.loops import Loop
from runtime.packed_products import PackSpec, pack

pytestmark = [
    pytest.mark.skipif(native.header_dirs() is None, reason="no Python/NumPy headers"),
    pytest.mark.skipif(
        not (platform.machine() == "x86_64" and sys.platform == "linux"),
        reason="MKL (the BLAS that packs) is a dependency on x86-64 Linux only",
    ),
]


@pytest.fixture(autouse=True)
def mkl(use_blas):
    use_blas("mkl")


def loops_of(f) -> list[Loop]:
    return [s for s, *_ in f._program.schedule.steps if isinstance(s, Loop)]


def product_kinds(loop: Loop) -> list[str]:
    (step,) = loop.steps.values()
    return sorted(
        s.node.op.name for s, *_ in step.program.schedule.steps if s.node.op.name.endswith("dot")
    )


def rnn(dtype, w_of=lambda w: w):
    """h_t = tanh(x_t + h_{t-1} @ w_of(w)), and the gradients of Σ h·r."""
    x, w, r = S.tensor3("x", dtype), S.matrix("w", dtype), S.tensor3("r", dtype)
    hs, _ = S.scan(
        lambda x_t, h, w: S.tanh(x_t + h @ w), x, S.zeros_like(x[0]), non_sequences=[w_of(w)]
    )
    loss = S.sum(hs * r)
    return [x, w, r], [loss, *S.grad(loss, [x, w])]


def check(inputs, outputs, values, rtol):
    f = S.compile(inputs, outputs, device="cpu")
    oracle = S.compile(inputs, outputs, device="numpy")
    for got, want in zip(f(*values), oracle(*values)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    return f, oracle


def values(rng, steps, batch, n, dtype, w=None):
    return [
        rng.standard_normal((steps, batch, n)).astype(dtype),
        (rng.standard_normal((n, n)) / np.sqrt(n)).astype(dtype) if w is None else w,
        rng.standard_normal((steps, batch, n)).astype(dtype),
    ]


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-4), ("float64", 1e-11)])
def test_forward_and_backward_products_read_the_weights_packed(dtype, rtol, rng):
    inputs, outputs = rnn(dtype)
    f, oracle = check(inputs, outputs, values(rng, 9, 4, 16, dtype), rtol)
    forward, backward = sorted(loops_of(f), key=lambda loop: loop.op.reverse)
    assert product_kinds(forward) == ["packed_dot"]  # h @ w
    assert product_kinds(backward) == ["packed_dot"]  # dz @ wᵀ (wᵀ a non-sequence)
    kept = [id(b) for b in forward.packed.kept.values()]
    for _ in range(2):  # new weights at every call: packed again, into the same buffer
        vs = values(rng, 9, 4, 16, dtype)
        for got, want in zip(f(*vs), oracle(*vs)):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    assert [id(b) for b in forward.packed.kept.values()] == kept


def test_gradients_match_finite_differences(rng):
    inputs, outputs = rnn("float64")
    f = S.compile(inputs, outputs, device="cpu")
    x, w, r = values(rng, 5, 3, 4, "float64")
    _, _, gw = f(x, w, r)
    numeric = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        up, down = w.copy(), w.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        numeric[index] = (f(x, up, r)[0] - f(x, down, r)[0]) / 2e-6
    np.testing.assert_allclose(gw, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("layout", ["transposed", "strided", "reversed"])
def test_any_layout_of_the_weights_is_packed(layout, rng):
    of = {
        "transposed": lambda w: w.T,
        "strided": lambda w: w[:, ::2],  # neither axis contiguous: copied, then packed
        "reversed": lambda w: w[::-1],
    }[layout]
    dtype = "float32"
    x, w = S.tensor3("x", dtype), S.matrix("w", dtype)
    n = 6
    hs, _ = S.scan(
        lambda x_t, h, w: S.tanh(x_t + h @ w), x, S.zeros_like(x[0]), non_sequences=[of(w)]
    )
    vs = [
        rng.standard_normal((8, 3, n)).astype(dtype),
        rng.standard_normal((2 * n, 2 * n)).astype(dtype)[
            :n, : (2 * n if layout == "strided" else n)
        ],
    ]
    f, _ = check([x, w], hs, vs, 2e-5)
    (loop,) = loops_of(f)
    assert product_kinds(loop) == ["packed_dot"]


def test_a_batch_of_another_size_packs_for_its_own_rows(rng):
    inputs, outputs = rnn("float64")
    f = S.compile(inputs, outputs, device="cpu")
    oracle = S.compile(inputs, outputs, device="numpy")
    for batch in (4, 7, 1, 4):
        vs = values(rng, 6, batch, 5, "float64")
        for got, want in zip(f(*vs), oracle(*vs)):
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)
    forward = next(loop for loop in loops_of(f) if not loop.op.reverse)
    specs = sorted(spec.m for packs in forward.pack_specs.values() for spec in packs)
    assert specs == [1, 4, 7]


def test_short_loops_and_products_that_are_not_packed(rng):
    x, h0 = S.tensor3("x", "float64"), S.matrix("h0", "float64")
    w, v = S.matrix("w", "float64"), S.vector("v", "float64")

    def step(x_t, h, w, v):
        left = w @ h  # the non-sequence on the left: a plain product
        varying = h @ x_t.T  # no non-sequence: a plain product
        return S.tanh(left + varying[:, :1] + h @ w + v)

    hs, _ = S.scan(step, x, h0, non_sequences=[w, v])
    for steps in (1, 2, 0):
        vs = [
            rng.standard_normal((steps, 3, 3)),
            rng.standard_normal((3, 3)),
            rng.standard_normal((3, 3)) / 2,
            rng.standard_normal(3),
        ]
        f, _ = check([x, h0, w, v], [hs], vs, 1e-11)
    (loop,) = loops_of(f)
    assert product_kinds(loop) == ["dot", "dot", "packed_dot"]


def test_a_packed_operand_of_another_shape_is_refused():
    spec = PackSpec(position=0, m=4, k=3, n=5, dtype="float32")
    with pytest.raises(ValueError, match=r"shape \(5, 3\).*specialized for \(3, 5\)"):
        pack(np.ones((5, 3), np.float32), spec, lambda shape, dtype: np.empty(shape, dtype))


def test_without_a_packing_blas_products_stay_plain(rng, use_blas):
    use_blas("openblas")
    inputs, outputs = rnn("float64")
    f, _ = check(inputs, outputs, values(rng, 9, 4, 6, "float64"), 1e-11)
    for loop in loops_of(f):
        assert product_kinds(loop) == ["dot"]
