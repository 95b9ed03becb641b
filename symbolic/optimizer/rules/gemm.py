"""The gemm rules: a sum of a scaled matrix product and a scaled term becomes one gemm node.

    W − lr·dot(Xᵀ, G)        → gemm(W, X, G, α=−lr, β=1, trans_x)       (SGD)
    μ·v − lr·dot(X, G)       → gemm(v, X, G, α=−lr, β=μ)                (momentum)
    dot(X, W) + b            → gemm(b, X, W, α=1, β=1)                  (bias: Z broadcasts)
    dot(A, B) + dot(C, D)    → gemm(dot(A, B), C, D, α=1, β=1)          (sums of products)

They run in the specialize phase, after S.grad has differentiated the graph, so gemm's own
gradient is never needed by the training graphs they rewrite. A transposed operand (a
dimshuffle(1, 0)) becomes a flag: BLAS reads it in place. They decline for integer or mixed
dtypes, for Z of more than two axes or statically larger than the product (it would enlarge
the result: BLAS could not write it), and where Z is X or Y (a backend may write the result
into Z's buffer, which BLAS must not read as an operand at the same time).
"""

from __future__ import annotations

from symbolic.gemm import BLAS_DTYPES, Gemm
from symbolic.graph import Constant, Variable
from symbolic.optimizer.pattern import P, Rule, V, constant_value
from symbolic.shape import MakeVector, dim


def scaled_term(var: Variable) -> tuple[float, Variable]:
    """var as (c, x) with var = c·x: x * c for a one-element constant c, −x, or var itself."""
    node = var.owner
    if node is None:
        return 1.0, var
    if node.op.name == "neg":
        return -1.0, node.inputs[0]
    if node.op.name == "mul" and len(node.inputs) == 2:
        for x, c in (node.inputs, node.inputs[::-1]):
            value = constant_value(c) if isinstance(c, Constant) else None
            if value is not None and c.data.size == 1 and c.ndim <= x.ndim == var.ndim:
                return float(value), x
    return 1.0, var


def untransposed(var: Variable) -> tuple[Variable, bool]:
    """(x, True) where var = xᵀ of a matrix x (a dimshuffle(1, 0)), else (var, False)."""
    node = var.owner
    if node is not None and node.op.name == "dimshuffle" and node.op.order == (1, 0):
        return node.inputs[0], True
    return var, False


def matrix_product(var: Variable) -> tuple | None:
    """(x, y, trans_x, trans_y) where var = op(x)·op(y) is a product of two matrices."""
    node = var.owner
    if node is None or node.op.name != "dot" or not var.ndim == 2 == node.inputs[0].ndim:
        return None
    if node.inputs[1].ndim != 2:
        return None
    (x, tx), (y, ty) = untransposed(node.inputs[0]), untransposed(node.inputs[1])
    return x, y, tx, ty


def enlarges(z: Variable, product: Variable) -> bool:
    """Whether Z statically has more axes or a longer axis than the product it is added to."""
    if z.ndim > product.ndim:
        return True
    pairs = zip(reversed(z.type.shape), reversed(product.type.shape))
    return any(a is not None and a != 1 and b == 1 for a, b in pairs)


def gemm_of_terms(out: Variable, terms: list[tuple[float, Variable]]) -> Variable | None:
    """out = s1·t1 + s2·t2 as a gemm: the later product term is op(X)·op(Y), the other Z."""
    for (alpha, p), (beta, z) in (terms[::-1], terms):
        found = matrix_product(p)
        if found is None:
            continue
        x, y, tx, ty = found
        if out.dtype not in BLAS_DTYPES:
            return None
        same_dtype = out.dtype == z.dtype == x.dtype == y.dtype == p.dtype
        # β = 0 would let BLAS skip Z, where 0·Z is NaN for an infinite or NaN Z
        if not same_dtype or enlarges(z, p) or z is x or z is y or beta == 0:
            continue
        return Gemm(alpha, beta, tx, ty)(z, x, y)
    return None


def gemm_add(out: Variable, a: Variable, b: Variable) -> Variable | None:
    return gemm_of_terms(out, [scaled_term(a), scaled_term(b)])


def gemm_sub(out: Variable, a: Variable, b: Variable) -> Variable | None:
    scale, term = scaled_term(b)
    return gemm_of_terms(out, [scaled_term(a), (-scale, term)])


def product_shape(x: Variable, y: Variable) -> Variable | None:
    # Only for a dense layer's product (y a graph input or shared weights): reading x's rows
    # keeps x alive until the shape is taken, which costs nothing where x's gradient reads it
    # anyway, but lengthens the life of large intermediates elsewhere (im2col columns).
    if x.ndim != 2 or y.ndim != 2 or y.owner is not None:
        return None
    return MakeVector()(dim(x, 0), dim(y, 1))


GEMM: list[Rule] = [
    Rule(
        "gemm_add",
        P("add", V("a"), V("b"), name="out"),
        gemm_add,
        "β·Z + α·op(X)·op(Y) = gemm(Z, X, Y, α, β): bias additions, sums of products, one BLAS call",
    ),
    Rule(
        "gemm_sub",
        P("sub", V("a"), V("b"), name="out"),
        gemm_sub,
        "β·Z − α·op(X)·op(Y) = gemm(Z, X, Y, −α, β): SGD and momentum updates, one BLAS call",
    ),
    Rule(
        "shape_of_product",
        P("shape", P("dot", V("x"), V("y"))),
        product_shape,
        "shape(x·W) = (rows of x, columns of W) for a leaf W: a dense layer's product that a "
        "gemm replaced is not kept for its shape alone",
    ),
]
