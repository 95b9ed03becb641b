"""The gemm op against NumPy, and the rules that make it: they fire on SGD, momentum, bias and
sum-of-products spellings, keep the values of the unoptimized graph, and decline where Z would
enlarge the result, for integer or mixed dtypes, and where Z is an operand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import symbolic as S
from symbolic.gemm import Gemm, gemm
from symbolic.graph import toposort
from symbolic.shape import shape_of

FLOATS = ("float32", "float64")
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def gemm_nodes(outputs) -> list:
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return [n for n in toposort(S.optimize(outputs)) if isinstance(n.op, Gemm)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("trans_x,trans_y", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (-0.1, 1.0), (2.5, 0.0), (0.5, -0.9)])
def test_gemm_perform_matches_numpy(dtype, trans_x, trans_y, alpha, beta):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    x, y = (a.T if trans_x else a).astype(dtype), (b.T if trans_y else b).astype(dtype)
    z = rng.standard_normal((5, 4)).astype(dtype)
    out = Gemm(alpha, beta, trans_x, trans_y).perform(z, x, y)
    expect = beta * z.astype(np.float64) + alpha * (a.astype(dtype) @ b.astype(dtype))
    assert out.dtype == dtype and out.shape == (5, 4)
    np.testing.assert_allclose(out, expect, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_gemm_broadcasts_z_and_checks_alignment():
    x, y = np.ones((2, 3)), np.ones((3, 4))
    out = Gemm(1.0, 2.0).perform(np.arange(4.0), x, y)
    np.testing.assert_array_equal(out, 3 + 2 * np.arange(4.0)[None, :].repeat(2, 0))
    with pytest.raises(ValueError, match="not aligned"):
        Gemm(1.0, 1.0).perform(np.zeros((2, 4)), x, np.ones((2, 4)))


def test_gemm_refuses_integer_and_mixed_dtypes():
    m32, m64 = S.matrix("a", dtype="float32"), S.matrix("b", dtype="float64")
    with pytest.raises(ValueError, match="share a dtype"):
        gemm(m32, m32, m64)
    im = S.matrix("i", dtype="int32")
    with pytest.raises(ValueError, match="share a dtype"):
        gemm(im, im, im)


def test_gemm_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    values = [rng.standard_normal(s) for s in [(3, 2), (4, 3), (2, 4)]]
    z64, x64, y64 = (S.matrix(n, dtype="float64") for n in "zxy")
    cost = (gemm(z64, x64, y64, alpha=-0.7, beta=1.3, trans_x=True, trans_y=True) ** 2).sum()
    grads = S.compile([z64, x64, y64], S.grad(cost, [z64, x64, y64]), device="numpy")(*values)
    f = S.compile([z64, x64, y64], cost, device="numpy", optimize=False)
    for k, g in enumerate(grads):
        numeric = np.zeros_like(values[k])
        for i in np.ndindex(values[k].shape):
            plus = [v.copy() for v in values]
            minus = [v.copy() for v in values]
            plus[k][i] += 1e-6
            minus[k][i] -= 1e-6
            numeric[i] = (f(*plus) - f(*minus)) / 2e-6
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6)


def compiled_both_ways(inputs, outputs, values):
    # z_is_operand leaves its third input unused
    fast = S.compile(inputs, outputs, device="numpy", on_unused_input="ignore")
    plain = S.compile(inputs, outputs, device="numpy", optimize=False, on_unused_input="ignore")
    return fast, fast(*values), plain(*values)


def matrices(dtype="float32", n=3):
    return [S.matrix(f"m{i}", dtype=dtype) for i in range(n)]


# (id, rule, builder(X, Y, Z) of the expression, shapes of X, Y, Z, flags of the gemm made)
FIRING = [
    (
        "sgd",
        "gemm_sub",
        lambda x, g, w: w - 0.1 * S.dot(x.T, g),
        [(5, 3), (5, 4), (3, 4)],
        (True, False),
    ),
    (
        "sgd_lr_left",
        "gemm_sub",
        lambda x, g, w: w - S.dot(x.T, g) * 0.1,
        [(5, 3), (5, 4), (3, 4)],
        (True, False),
    ),
    (
        "momentum",
        "gemm_sub",
        lambda x, g, v: 0.9 * v - 0.1 * S.dot(x, g),
        [(3, 5), (5, 4), (3, 4)],
        (False, False),
    ),
    (
        "bias",
        "gemm_add",
        lambda x, w, b: S.dot(x, w) + b[0],
        [(5, 3), (3, 4), (1, 4)],
        (False, False),
    ),
    (
        "bias_left",
        "gemm_add",
        lambda x, w, b: b[0] + S.dot(x, w),
        [(5, 3), (3, 4), (1, 4)],
        (False, False),
    ),
    (
        "both_transposed",
        "gemm_add",
        lambda x, y, z: z + S.dot(x.T, y.T),
        [(3, 5), (4, 3), (5, 4)],
        (True, True),
    ),
    (
        "neg_product",
        "gemm_sub",
        lambda x, y, z: -S.dot(x, y) - z,
        [(5, 3), (3, 4), (5, 4)],
        (False, False),
    ),
]


@pytest.mark.parametrize("name,rule,build,shapes,flags", FIRING, ids=[r[0] for r in FIRING])
@pytest.mark.parametrize("dtype", FLOATS)
def test_gemm_rules_fire_and_keep_values(name, rule, build, shapes, flags, dtype):
    rng = np.random.default_rng(2)
    inputs = matrices(dtype)
    values = [rng.standard_normal(s).astype(dtype) for s in shapes]
    expr = build(*inputs)
    f, fast, plain = compiled_both_ways(inputs, expr, values)
    assert rule in dict(f.rewrites)
    (node,) = gemm_nodes(expr)
    assert (node.op.trans_x, node.op.trans_y) == flags
    np.testing.assert_allclose(fast, plain, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_sum_of_products_is_one_chain_of_gemms():
    rng = np.random.default_rng(3)
    a, b, c, d, e, g = matrices(n=6)
    expr = S.dot(a, b) + S.dot(c, d) + S.dot(e, g)
    values = [rng.standard_normal((4, 4)).astype("float32") for _ in range(6)]
    f, fast, plain = compiled_both_ways([a, b, c, d, e, g], expr, values)
    assert dict(f.rewrites)["gemm_add"] == 2 and len(gemm_nodes(expr)) == 2
    np.testing.assert_allclose(fast, plain, rtol=1e-5)


# (id, builder, input (dtype, static shape) specs): none of these may become a gemm
DECLINING = [
    (
        "z_enlarges_result",
        lambda x, y, z: S.dot(x, y) + z,
        [("float32", (4, 2)), ("float32", (2, 1)), ("float32", (4, 5))],
    ),
    (
        "z_3d",
        lambda x, y, z: S.dot(x, y) + z,
        [("float32", (4, 2)), ("float32", (2, 3)), ("float32", (2, 4, 3))],
    ),
    (
        "integers",
        lambda x, y, z: z - S.dot(x, y),
        [("int32", (4, 2)), ("int32", (2, 3)), ("int32", (4, 3))],
    ),
    (
        "mixed_dtypes",
        lambda x, y, z: z - S.dot(x, y),
        [("float32", (4, 2)), ("float32", (2, 3)), ("float64", (4, 3))],
    ),
    (
        "z_is_operand",
        lambda x, y, z: x - S.dot(x, y),
        [("float32", (3, 3)), ("float32", (3, 3)), ("float32", (3, 3))],
    ),
    (
        "batched",
        lambda x, y, z: S.matmul(x, y) + z,
        [("float32", (2, 4, 3)), ("float32", (2, 3, 4)), ("float32", (4, 4))],
    ),
    (
        "broadcasting_scale",
        lambda x, y, z: z - S.dot(x, y) * S.constant(np.full((2, 1, 1), 0.5, "float32")),
        [("float32", (4, 2)), ("float32", (2, 3)), ("float32", (4, 3))],
    ),
]


@pytest.mark.parametrize("name,build,spec", DECLINING, ids=[r[0] for r in DECLINING])
def test_gemm_rules_decline(name, build, spec):
    rng = np.random.default_rng(4)
    inputs = [S.tensor(f"x{i}", d, s) for i, (d, s) in enumerate(spec)]
    values = [rng.integers(-3, 4, s).astype(d) for d, s in spec]
    expr = build(*inputs)
    f, fast, plain = compiled_both_ways(inputs, expr, values)
    assert not {"gemm_add", "gemm_sub"} & dict(f.rewrites).keys()
    assert gemm_nodes(expr) == []
    np.testing.assert_allclose(fast, plain, rtol=1e-6)


def test_product_kept_only_for_its_shape_is_dropped():
    x, w, b = S.matrix("x"), S.matrix("w"), S.vector("b")
    cost = S.nnet.relu(S.dot(x, w) + b).sum()
    graph = S.optimize(S.grad(cost, [w, b]))
    assert [n.op.name for n in toposort(graph)].count("dot") == 1  # gw = xᵀ·g; no forward dot


def test_shape_of_product_only_for_a_leaf_right_operand():
    x, w = S.matrix("x"), S.matrix("w")
    kept = [n.op.name for n in toposort([S.optimize(shape_of(S.dot(x, S.exp(w))))])]
    read = [n.op.name for n in toposort([S.optimize(shape_of(S.dot(S.exp(x), w)))])]
    assert "dot" in kept and "dot" not in read
