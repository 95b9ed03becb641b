"""Gradients of every differentiable op against central finite differences, in float64."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from harness import run

import symbolic as S

EPS = 1e-6


@dataclass(frozen=True)
class Grad:
    name: str
    fn: Callable  # symbolic: float64 variables -> expression
    shapes: tuple  # one static shape per differentiated input
    domain: tuple = (-2.0, 2.0)  # (lo, hi) or (lo, hi, "signed"): magnitude in [lo, hi]
    rtol: float = 1e-5
    static: bool = True  # False: inputs get an all-None static shape


def C(value, dtype=None):
    return S.constant(np.asarray(value, dtype))


IDX = C([0, 2, 2, 1], "int64")  # repeated index: gradients must accumulate
LABELS = C([1, 0, 3], "int64")
ONEHOT = C(np.eye(4)[[1, 0, 3]], "float64")
COND = C(np.random.default_rng(1).random((3, 4)) < 0.5)
TARGETS = C(np.random.default_rng(2).uniform(0.1, 0.9, (3, 4)), "float64")
AWAY0 = (0.2, 2.0, "signed")
POS = (0.2, 3.0)
M, V = ((3, 4),), ((5,),)

# fmt: off
ELEMWISE = [
    Grad("exp", S.exp, M), Grad("exp2", S.exp2, M), Grad("log", S.log, M, POS),
    Grad("log2", S.log2, M, POS), Grad("log10", S.log10, M, POS),
    Grad("log1p", S.log1p, M, (-0.5, 2.0)), Grad("expm1", S.expm1, M),
    Grad("sqrt", S.sqrt, M, POS), Grad("square", S.square, M), Grad("abs", S.abs, M, AWAY0),
    Grad("sign", S.sign, M, AWAY0), Grad("floor", S.floor, M), Grad("ceil", S.ceil, M),
    Grad("round", S.round, M), Grad("sin", S.sin, M), Grad("cos", S.cos, M),
    Grad("tan", S.tan, M, (-1.2, 1.2)), Grad("arcsin", S.arcsin, M, (-0.8, 0.8)),
    Grad("arccos", S.arccos, M, (-0.8, 0.8)), Grad("arctan", S.arctan, M),
    Grad("sinh", S.sinh, M), Grad("cosh", S.cosh, M), Grad("tanh", S.tanh, M),
    Grad("arctanh", S.arctanh, M, (-0.8, 0.8)), Grad("sigmoid", S.sigmoid, M, (-6, 6)),
    Grad("softplus", S.softplus, M, (-6, 6)), Grad("erf", S.erf, M), Grad("erfc", S.erfc, M),
    Grad("maximum", S.maximum, (M[0], M[0])), Grad("minimum", S.minimum, (M[0], M[0])),
    Grad("maximum_bcast", S.maximum, ((3, 1), (1, 4))),
    Grad("where", lambda a, b: S.where(COND, a, b), (M[0], M[0])),
    Grad("clip", lambda x: S.clip(x, -1.0, 1.0), M, (-1.9, 1.9)),
    Grad("pow", S.pow, (M[0], M[0]), POS), Grad("pow_op", lambda a, b: a**b, (M[0], M[0]), POS),
    Grad("pow_const", lambda x: x**3, M), Grad("rpow", lambda x: 2.0**x, M),
    Grad("add_bcast", lambda a, b: a + b, ((3, 1), (1, 4))),
    Grad("sub_bcast", lambda a, b: a - b, ((5,), (2, 5))),
    Grad("mul_bcast", lambda a, b: a * b, ((), (3, 4))),
    Grad("div", lambda a, b: a / b, ((3, 4), (4,)), AWAY0),
    Grad("rdiv", lambda x: 1.0 / x, M, AWAY0),
    Grad("mod", lambda a, b: a % b, (M[0], M[0]), (0.3, 0.9)),
    Grad("floordiv", lambda a, b: a // b, (M[0], M[0]), (0.3, 0.9)),
    Grad("reused_input", lambda x: x * S.sin(x) + S.sum(x) * x, M),  # gradients accumulate
    Grad("neg", lambda x: -x, M), Grad("abs_builtin", abs, M, AWAY0),
    Grad("mul_runtime_bcast", lambda a, b: a * b, ((3, 1), (1, 4)), static=False),
    Grad("relu", S.nnet.relu, M, AWAY0), Grad("nnet_sigmoid", S.nnet.sigmoid, M),
    Grad("nnet_softplus", S.nnet.softplus, M),
    Grad("cast_float64", lambda x: S.cast(x, "float64") * 1.5, M),
]

REDUCTIONS = [
    Grad(f"{name}-axis{axis}-keep{keep}".replace(" ", ""),
         lambda x, f=f, axis=axis, keep=keep: f(x, axis=axis, keepdims=keep),
         ((2, 3, 4),), (0.5, 1.5, "signed") if name == "prod" else (-2.0, 2.0))
    for name, f in [("sum", S.sum), ("prod", S.prod), ("mean", S.mean), ("var", S.var),
                    ("std", S.std), ("max", S.max), ("min", S.min), ("logsumexp", S.logsumexp)]
    for axis, keep in [(None, False), (1, False), (-1, True), ((0, 2), False), ((0, 2), True)]
] + [  # reduced lengths known only at run time
    Grad(f"{name}-runtime-shape", lambda x, f=f: f(x, axis=0), ((3, 4),), static=False)
    for name, f in [("mean", S.mean), ("var", S.var), ("max", S.max), ("logsumexp", S.logsumexp)]
]

SHAPE_OPS = [
    Grad("reshape", lambda x: S.reshape(x, (4, 6)), ((2, 3, 4),)),
    Grad("reshape_minus1", lambda x: x.reshape((3, -1)), ((2, 3, 4),)),
    Grad("transpose", S.transpose, ((2, 3, 4),)),
    Grad("transpose_axes", lambda x: S.transpose(x, (1, 2, 0)), ((2, 3, 4),)),
    Grad("T", lambda x: x.T, M),
    Grad("dimshuffle", lambda x: x.dimshuffle(1, "x", 0), M),
    Grad("flatten", S.flatten, ((2, 3, 4),)),
    Grad("flatten_ndim2", lambda x: x.flatten(ndim=2), ((2, 3, 4),)),
    Grad("concatenate", lambda a, b: S.concatenate([a, b], axis=1), ((2, 3), (2, 4))),
    Grad("stack", lambda a, b: S.stack([a, b], axis=1), ((2, 3), (2, 3))),
    Grad("broadcast_to", lambda x: S.broadcast_to(x, (3, 4)), ((3, 1),)),
    Grad("broadcast_to_new_axes", lambda x: S.broadcast_to(x, (2, 3, 4)), ((4,),)),
    Grad("expand_dims", lambda x: S.expand_dims(x, 1), M),
    Grad("squeeze", S.squeeze, ((3, 1, 4),)),
]

LINALG = [
    Grad("dot_vv", S.dot, ((4,), (4,))), Grad("dot_mv", S.dot, ((3, 4), (4,))),
    Grad("dot_vm", S.dot, ((4,), (4, 3))), Grad("dot_mm", S.dot, ((2, 3), (3, 4))),
    Grad("method_dot", lambda a, b: a.dot(b), ((2, 3), (3, 4))),
    Grad("matmul_mm", S.matmul, ((2, 3), (3, 4))),
    Grad("matmul_batched", S.matmul, ((2, 3, 4), (2, 4, 5))),
    Grad("matmul_bcast_batch", S.matmul, ((1, 3, 4), (2, 4, 5))),
    Grad("matmul_3d_2d", lambda a, b: a @ b, ((2, 3, 4), (4, 5))),
    Grad("matmul_vm", S.matmul, ((4,), (2, 4, 3))),
    Grad("outer", S.outer, ((3,), (4,))),
    Grad("batched_dot", S.batched_dot, ((2, 3, 4), (2, 4, 5))),
    Grad("tensordot_1", lambda a, b: S.tensordot(a, b, 1), ((2, 3), (3, 4))),
    Grad("tensordot_2", lambda a, b: S.tensordot(a, b, 2), ((2, 3, 4), (3, 4, 5))),
    Grad("tensordot_pairs", lambda a, b: S.tensordot(a, b, ([0, 2], [1, 0])),
         ((3, 2, 4), (4, 3, 5))),
]

INDEXING = [
    Grad("slice", lambda x: x[1:3], ((4, 5),)), Grad("column", lambda x: x[:, 0], ((4, 5),)),
    Grad("reverse", lambda x: x[::-1], ((4, 5),)), Grad("element", lambda x: x[1, 2], ((4, 5),)),
    Grad("newaxis", lambda x: x[None, 1:], ((4, 5),)),
    Grad("int_array_repeated", lambda x: x[IDX], ((4, 5),)),
    Grad("arange_labels", lambda x: x[S.arange(3), LABELS], ((3, 4),)),
    Grad("set_subtensor", lambda x, y: S.set_subtensor(x[1:3], y), ((4, 5), (2, 5))),
    Grad("inc_subtensor", lambda x, y: S.inc_subtensor(x[1:3], y), ((4, 5), (2, 5))),
    Grad("inc_subtensor_repeated", lambda x, y: S.inc_subtensor(x[IDX], y), ((4, 5), (4, 5))),
    Grad("set_subtensor_labels", lambda x, y: S.set_subtensor(x[S.arange(3), LABELS], y),
         ((3, 4), (3,))),
]

NNET = [
    Grad("softmax", S.nnet.softmax, M), Grad("softmax_axis0", lambda x: S.nnet.softmax(x, 0), M),
    Grad("log_softmax", S.nnet.log_softmax, M),
    Grad("cce_labels", lambda x: S.nnet.categorical_crossentropy(S.nnet.softmax(x), LABELS), M),
    Grad("cce_onehot", lambda x: S.nnet.categorical_crossentropy(S.nnet.softmax(x), ONEHOT), M),
    Grad("bce", lambda x: S.nnet.binary_crossentropy(S.nnet.sigmoid(x), TARGETS), M),
    Grad("bce_probs", lambda p: S.nnet.binary_crossentropy(p, TARGETS), M, (0.1, 0.9)),
]
# fmt: on

TABLE = ELEMWISE + REDUCTIONS + SHAPE_OPS + LINALG + INDEXING + NNET


def sample(rng, domain, shape) -> np.ndarray:
    x = rng.uniform(domain[0], domain[1], shape)
    if len(domain) > 2:
        x *= np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return x


def numeric_grads(forward, values, R):
    """Central differences of sum(forward(*values) * R), one element at a time."""
    grads = []
    for k, v in enumerate(values):
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            plus, minus = [a.copy() for a in values], [a.copy() for a in values]
            plus[k][idx] += EPS
            minus[k][idx] -= EPS
            g[idx] = (np.sum(forward(*plus) * R) - np.sum(forward(*minus) * R)) / (2 * EPS)
        grads.append(g)
    return grads


def check_grad(fn, values, device, rng, rtol=1e-5, static=True):
    xs = [
        S.tensor(f"x{i}", "float64", v.shape if static else (None,) * v.ndim)
        for i, v in enumerate(values)
    ]
    out = fn(*xs)
    forward = S.compile(xs, out, device=device)
    R = rng.standard_normal(np.shape(forward(*values)))
    cost = S.sum(out * S.constant(R))
    symbolic = run(S.grad(cost, xs), dict(zip(xs, values)), device)
    for i, (g, n) in enumerate(zip(symbolic, numeric_grads(forward, values, R))):
        assert np.shape(g) == n.shape, f"gradient {i} has shape {np.shape(g)}, expected {n.shape}"
        np.testing.assert_allclose(g, n, rtol=rtol, atol=rtol, err_msg=f"input {i}")


@pytest.mark.parametrize("case", TABLE, ids=lambda c: c.name)
def test_grad_matches_finite_differences(case, device, rng):
    values = [sample(rng, case.domain, s) for s in case.shapes]
    check_grad(case.fn, values, device, rng, case.rtol, case.static)


@pytest.mark.parametrize(
    "fn,shapes",
    [
        (lambda x: S.sin(x) * S.exp(x), [(3,)]),
        (lambda x: S.nnet.softmax(x), [(2, 3)]),
        (lambda a, b: S.dot(a, b).sum(axis=0), [(2, 3), (3,)]),
    ],
    ids=["sin_exp", "softmax", "dot_sum"],
)
def test_verify_grad_accepts_correct_gradients(fn, shapes, rng):
    S.verify_grad(fn, [rng.standard_normal(s) for s in shapes])


def test_verify_grad_rejects_mismatch():
    # floor' = 0 symbolically, but floor jumps at the integers the points sit on
    with pytest.raises(Exception, match="(?i)grad"):
        S.verify_grad(lambda x: S.floor(x) * 3.0, [np.array([1.0, 2.0, -1.0])])


@pytest.mark.parametrize(
    "cost,exact",
    [
        (lambda x: S.sum(x**3), lambda v: np.diag(6 * v)),
        (lambda x: S.sum(S.tanh(x)), lambda v: np.diag(-2 * np.tanh(v) * (1 - np.tanh(v) ** 2))),
        (lambda x: S.sum(x) ** 2, lambda v: np.full((4, 4), 2.0)),
        (S.logsumexp, lambda v: np.diag(softmax(v)) - np.outer(softmax(v), softmax(v))),
    ],
    ids=["cube", "tanh", "square_of_sum", "logsumexp"],
)
def test_hessian_matches_finite_differences(cost, exact, device, rng):
    x = S.tensor("x", "float64", shape=(4,))
    v = rng.uniform(-1, 1, 4)
    H = run(S.hessian(cost(x), x), {x: v}, device)
    grad = S.compile([x], S.grad(cost(x), x), device=device)
    numeric = np.stack([(grad(v + EPS * e) - grad(v - EPS * e)) / (2 * EPS) for e in np.eye(4)])
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, exact(v), rtol=1e-10, atol=1e-12)


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def test_jacobian_of_unknown_length_raises():
    x = S.vector("x", "float64")
    with pytest.raises(ValueError):
        S.jacobian(S.tanh(x), x)


def test_grad_wrt_shared_variables(device, rng):
    W = S.shared(rng.standard_normal((3, 2)), name="W")
    b = S.shared(np.zeros(2), name="b")
    x, y = S.matrix("x", "float64"), S.vector("y", "int64")
    logp = S.nnet.log_softmax(S.dot(x, W) + b)
    cost = -S.mean(logp[S.arange(x.shape[0]), y])
    gW, gb = S.grad(cost, [W, b])
    vx, vy = rng.standard_normal((4, 3)), np.array([0, 1, 1, 0])
    p = np.exp(vx @ W.get_value())
    p /= p.sum(axis=1, keepdims=True)
    delta = (p - np.eye(2)[vy]) / 4
    outW, outb = run([gW, gb], {x: vx, y: vy}, device)
    np.testing.assert_allclose(outW, vx.T @ delta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outb, delta.sum(axis=0), rtol=1e-10, atol=1e-12)


def test_jacobian_matches_finite_differences(device, rng):
    x = S.tensor("x", "float64", shape=(3,))
    expr = S.tanh(x) * S.sum(x**2)
    v = rng.uniform(-1, 1, 3)
    J = run(S.jacobian(expr, x), {x: v}, device)
    f = S.compile([x], expr, device=device)
    numeric = np.stack([(f(v + EPS * e) - f(v - EPS * e)) / (2 * EPS) for e in np.eye(3)], 1)
    assert J.shape == (3, 3)
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-8)


def test_vjp_equals_transposed_jacobian_product(device, rng):
    x = S.tensor("x", "float64", shape=(3,))
    u = S.tensor("u", "float64", shape=(2,))
    A = rng.standard_normal((2, 3))
    y = S.tanh(S.dot(S.constant(A), x))
    (g,) = S.vjp([y], [x], [u])
    v, cot = rng.standard_normal(3), rng.standard_normal(2)
    expected = A.T @ ((1 - np.tanh(A @ v) ** 2) * cot)
    np.testing.assert_allclose(run(g, {x: v, u: cot}, device), expected, rtol=1e-10)


def test_second_derivative_grad_of_grad(device, rng):
    x = S.vector("x", "float64")
    g = S.grad(S.sum(S.sin(x) * x**2), x)  # 2x sin x + x^2 cos x
    gg = S.grad(S.sum(g), x)  # diagonal Hessian: 2 sin + 4x cos - x^2 sin
    v = rng.uniform(-2, 2, 5)
    expected = 2 * np.sin(v) + 4 * v * np.cos(v) - v**2 * np.sin(v)
    np.testing.assert_allclose(run(gg, {x: v}, device), expected, rtol=1e-10, atol=1e-12)


def test_grad_returns_structure_of_wrt(device):
    x, y = S.vector("x", "float64"), S.vector("y", "float64")
    cost = S.sum(x * y)
    single = S.grad(cost, x)
    pair = S.grad(cost, [x, y])
    assert isinstance(pair, (list, tuple)) and len(pair) == 2
    vx, vy = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    np.testing.assert_allclose(run(single, {x: vx, y: vy}, device), vy)
    gx, gy = run(list(pair), {x: vx, y: vy}, device)
    np.testing.assert_allclose(gx, vy)
    np.testing.assert_allclose(gy, vx)


def test_grad_consider_constant_stops_gradient(device, rng):
    x = S.vector("x", "float64")
    z = x * x
    g = S.grad(S.sum(z * x), x, consider_constant=[z])  # z held fixed: d/dx = z = x^2
    v = rng.standard_normal(4)
    np.testing.assert_allclose(run(g, {x: v}, device), v**2, rtol=1e-12)


def test_grad_disconnected_raise_names_variable():
    x, unused = S.vector("x", "float64"), S.matrix("unused_y", "float64")
    with pytest.raises(Exception, match="unused_y"):
        S.grad(S.sum(x), unused)
    with pytest.raises(Exception, match="unused_y"):
        S.grad(S.sum(x), [x, unused], disconnected="raise")


@pytest.mark.parametrize("mode", ["ignore", "warn"])
def test_grad_disconnected_gives_zeros_of_shape(mode, device):
    x, unused = S.vector("x", "float64"), S.matrix("unused_y", "float64")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gx, gy = S.grad(S.sum(x * 2), [x, unused], disconnected=mode)
    named = [w for w in caught if "unused_y" in str(w.message)]
    assert len(named) == (1 if mode == "warn" else 0), [str(w.message) for w in caught]
    vx, vy = np.ones(3), np.ones((2, 5))
    outx, outy = run([gx, gy], {x: vx, unused: vy}, device)
    np.testing.assert_array_equal(outx, [2.0, 2.0, 2.0])
    assert outy.shape == (2, 5)
    np.testing.assert_array_equal(outy, 0.0)


def test_grad_integer_wrt_raises_type_error_naming_it():
    x, labels = S.vector("x", "float64"), S.vector("labels_i", "int64")
    with pytest.raises(TypeError, match="labels_i"):
        S.grad(S.sum(x * labels), labels)


def test_grad_non_scalar_cost_raises():
    x = S.vector("x", "float64")
    with pytest.raises((TypeError, ValueError)):
        S.grad(x * 2, x)


def test_grad_ties_follow_semantics(device):
    x, y = S.vector("x", "float64"), S.vector("y", "float64")
    vx, vy = np.array([1.0, 3.0, 3.0, 0.0]), np.array([1.0, 0.0, 4.0, 2.0])
    out = run(
        S.grad(S.max(x) + S.sum(S.maximum(x, y)) + S.sum(S.nnet.relu(x)), [x, y]),
        {x: vx, y: vy},
        device,
    )
    # max: every tied position; maximum: x where x >= y; relu'(0) = 0
    np.testing.assert_array_equal(out[0], [0 + 1 + 1, 1 + 1 + 1, 1 + 0 + 1, 0 + 0 + 0])
    np.testing.assert_array_equal(out[1], [0, 0, 1, 1])


def test_grad_float32_keeps_dtype(device, rng):
    x = S.matrix("x")
    g = S.grad(S.sum(S.tanh(x) * 0.5), x)
    v = rng.standard_normal((2, 3)).astype(np.float32)
    out = run(g, {x: v}, device)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 0.5 * (1 - np.tanh(v.astype(np.float64)) ** 2), rtol=1e-5)


def test_stop_gradient_blocks_one_path(device):
    x = S.vector("x")
    cost = (S.stop_gradient(x) * x).sum()  # d/dx of c·x with c = x held constant
    g = S.grad(cost, x)
    values = np.array([1.0, -2.0, 3.0], np.float32)
    value, gx = S.compile([x], [cost, g], device=device)(values)
    np.testing.assert_allclose(value, np.sum(values * values))
    np.testing.assert_allclose(gx, values)


def test_stop_gradient_alone_disconnects_unless_zeros():
    x = S.vector("x")
    with pytest.raises(ValueError, match="does not depend on 'x'"):
        S.grad(S.stop_gradient(x).sum(), x)
    g = S.grad(S.stop_gradient(x, zeros=True).sum(), x)
    np.testing.assert_array_equal(S.compile([x], g, device="numpy")(np.ones(2, np.float32)), 0)
