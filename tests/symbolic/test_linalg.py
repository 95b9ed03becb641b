"""dot, matmul, outer, batched_dot and tensordot against NumPy; static shape errors."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run

import symbolic as S

# (id, symbolic fn, NumPy reference, input shapes)
# fmt: off
PRODUCTS = [
    ("dot_vv", S.dot, np.dot, [(4,), (4,)]),
    ("dot_mv", S.dot, np.dot, [(3, 4), (4,)]),
    ("dot_vm", S.dot, np.dot, [(4,), (4, 3)]),
    ("dot_mm", S.dot, np.dot, [(2, 3), (3, 4)]),
    ("dot_method", lambda a, b: a.dot(b), np.dot, [(2, 3), (3, 4)]),
    ("matmul_mm", S.matmul, np.matmul, [(2, 3), (3, 4)]),
    ("matmul_operator", lambda a, b: a @ b, np.matmul, [(2, 3), (3, 4)]),
    ("matmul_vv", S.matmul, np.matmul, [(4,), (4,)]),
    ("matmul_mv", S.matmul, np.matmul, [(3, 4), (4,)]),
    ("matmul_vm", S.matmul, np.matmul, [(4,), (4, 3)]),
    ("matmul_batched", S.matmul, np.matmul, [(2, 3, 4), (2, 4, 5)]),
    ("matmul_3d_2d", S.matmul, np.matmul, [(2, 3, 4), (4, 5)]),
    ("matmul_2d_3d", S.matmul, np.matmul, [(3, 4), (2, 4, 5)]),
    ("matmul_bcast_batch", S.matmul, np.matmul, [(1, 3, 4), (2, 4, 5)]),
    ("matmul_4d_bcast", S.matmul, np.matmul, [(2, 1, 3, 4), (3, 4, 2)]),
    ("matmul_vec_batched", S.matmul, np.matmul, [(4,), (2, 4, 3)]),
    ("outer", S.outer, np.outer, [(3,), (4,)]),
    ("batched_dot", S.batched_dot, lambda a, b: np.einsum("bij,bjk->bik", a, b),
     [(2, 3, 4), (2, 4, 5)]),
    ("batched_dot_vectors", S.batched_dot, lambda a, b: np.einsum("bi,bi->b", a, b),
     [(3, 4), (3, 4)]),
    ("tensordot_0", lambda a, b: S.tensordot(a, b, 0), lambda a, b: np.tensordot(a, b, 0),
     [(2, 3), (4,)]),
    ("tensordot_1", lambda a, b: S.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1),
     [(2, 3), (3, 4)]),
    ("tensordot_2", lambda a, b: S.tensordot(a, b, 2), lambda a, b: np.tensordot(a, b, 2),
     [(2, 3, 4), (3, 4, 5)]),
    ("tensordot_default", S.tensordot, np.tensordot, [(2, 3, 4), (3, 4)]),
    ("tensordot_pairs", lambda a, b: S.tensordot(a, b, ([0, 2], [1, 0])),
     lambda a, b: np.tensordot(a, b, ([0, 2], [1, 0])), [(3, 2, 4), (4, 3, 5)]),
    ("tensordot_pair_ints", lambda a, b: S.tensordot(a, b, (1, 0)),
     lambda a, b: np.tensordot(a, b, (1, 0)), [(2, 3), (3, 5)]),
]
# fmt: on


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn,ref,shapes", [p[1:] for p in PRODUCTS], ids=[p[0] for p in PRODUCTS])
@pytest.mark.parametrize("static", [True, False], ids=["static", "dynamic"])
def test_product_matches_numpy(fn, ref, shapes, dtype, static, device, rng):
    xs = [S.tensor(f"x{i}", dtype, s if static else (None,) * len(s)) for i, s in enumerate(shapes)]
    values = [rng.standard_normal(s).astype(dtype) for s in shapes]
    out = run(fn(*xs), dict(zip(xs, values)), device)
    expected = ref(*[v.astype(np.float64) for v in values])
    assert out.dtype == np.dtype(dtype)
    assert out.shape == np.shape(expected)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "left,right,expected",
    [
        ("float32", "float64", "float64"),
        ("int32", "float32", "float32"),
        ("int32", "int32", "int32"),
        ("int8", "int16", "int16"),
    ],
    ids=str,
)
def test_dot_promotes_dtypes(left, right, expected, device):
    a, b = S.matrix("a", left), S.matrix("b", right)
    va, vb = np.arange(6).reshape(2, 3).astype(left), np.arange(12).reshape(3, 4).astype(right)
    out = run(S.dot(a, b), {a: va, b: vb}, device)
    assert out.dtype == np.dtype(expected)
    np.testing.assert_array_equal(out, va.astype(np.int64) @ vb.astype(np.int64))


@pytest.mark.parametrize(
    "build,shapes",
    [
        (S.dot, [(2, 3), (4, 5)]),
        (S.matmul, [(2, 3), (4, 5)]),
        (S.dot, [(3,), (4,)]),
        (S.matmul, [(2, 2, 3), (3, 3, 4)]),
        (S.batched_dot, [(2, 3, 4), (3, 4, 5)]),
        (lambda a, b: S.tensordot(a, b, 1), [(2, 3), (4, 5)]),
    ],
    ids=["dot", "matmul", "dot_vv", "matmul_batch", "batched_dot", "tensordot"],
)
def test_static_shape_mismatch_raises_naming_shapes(build, shapes):
    a, b = (S.tensor(n, "float32", s) for n, s in zip("ab", shapes))
    with pytest.raises(ValueError) as err:
        build(a, b)
    message = str(err.value)
    for s in shapes:
        for d in s:
            assert str(d) in message, f"{d} of {s} not in {message!r}"
