"""The canonicalize rules: identities removed, one normal form for negation, division,
constants, casts, powers and shape plumbing, so later phases match fewer spellings.

Conventions every rule keeps (each checks its own guard, by static types only):
- shape: a replacement never changes the matched node's static shape. An identity element
  (`x * 1`, `x + 0`, …) is removed only when the node's shape is x's own, so a constant that
  broadcasts x to a bigger shape (`x * ones((3, 4))` with x of shape (4,)) stays.
- dtype: a rule that returns x itself may leave the engine to cast it back (x + 0.0 with an
  integer x is exactly float(x)); a rule that computes anew (neg, square, …) requires its operands
  to have the node's dtype already, since wrap-around in a narrower dtype would change values.
- NaN/Inf: x − x → 0 and x * 0 → 0 only for integers (for floats Inf − Inf and NaN * 0 are
  NaN). x / x has no rule: 0/0 is NaN even for integers (true division gives floats), and a
  guarded form (where(x != 0, 1, nan) plus Inf checks) costs more than the division itself.
- Floats are reassociated when constants are folded ((x + c1) + c2 → x + (c1 + c2)), as Theano
  does: exact for integers (wrap-around is modular), within rounding for floats. The sign of a
  zero is not kept (x + 0 → x turns x + 0 = +0 for x = −0 into −0).
"""

from __future__ import annotations

import numpy as np

from symbolic import dtypes
from symbolic.alloc import ones_like, zeros_like
from symbolic.elemwise import (
    Cast,
    Elemwise,
    add,
    mul,
    neg,
    reciprocal,
    sqrt,
    square,
    sub,
    true_div,
)
from symbolic.graph import Constant, Variable, constant
from symbolic.optimizer.pattern import C, P, Rule, V
from symbolic.optimizer.rules.slices import SLICES
from symbolic.reduction import Reduce
from symbolic.scalar_ops import SCALAR_OPS
from symbolic.shape import Reshape, dimshuffle, static_entries


def is_constant(v: Variable) -> bool:
    return isinstance(v, Constant)


def not_constant(v: Variable) -> bool:
    return not isinstance(v, Constant)


def same_shape(z: Variable, x: Variable) -> bool:
    """z has x's static shape: dropping the other operand cannot shrink the result."""
    return z.type.shape == x.type.shape


def in_dtype(z: Variable, *xs: Variable) -> bool:
    """Every x already has z's dtype, and it is not bool (neg/sub of bool raise in NumPy)."""
    return z.dtype != "bool" and all(x.dtype == z.dtype for x in xs)


def known(shape: tuple) -> bool:
    return None not in shape


# ---- identities -----------------------------------------------------------------------------


def identity(z: Variable, x: Variable, **_) -> Variable | None:
    return x if same_shape(z, x) else None


def integer_zeros(z: Variable, x: Variable, **_) -> Variable | None:
    exact = not dtypes.is_float(x.dtype) and not dtypes.is_float(z.dtype)
    return zeros_like(x, z.dtype) if exact and same_shape(z, x) else None


def float_pow(build):
    def guarded(z: Variable, x: Variable, **_) -> Variable | None:
        ok = dtypes.is_float(z.dtype) and in_dtype(z, x) and same_shape(z, x)
        return build(x) if ok else None

    return guarded


def pow_zero(z: Variable, x: Variable, **_) -> Variable | None:
    return ones_like(x, z.dtype) if z.dtype != "bool" and same_shape(z, x) else None


DOUBLE_NEG = Rule(
    "double_neg",
    P("neg", P("neg", V("x")), name="z"),
    lambda z, x: x if z.dtype != "bool" else None,
    "−(−x) = x (exact, also under integer wrap-around)",
)

IDENTITIES = [
    Rule("mul_by_one", P("mul", V("x"), C(1), name="z"), identity, "x * 1 = 1 * x = x"),
    Rule("add_zero", P("add", V("x"), C(0), name="z"), identity, "x + 0 = 0 + x = x"),
    Rule("sub_zero", P("sub", V("x"), C(0), name="z"), identity, "x − 0 = x"),
    Rule("div_by_one", P("true_div", V("x"), C(1), name="z"), identity, "x / 1 = x"),
    Rule("pow_one", P("pow", V("x"), C(1), name="z"), identity, "x ** 1 = x"),
    DOUBLE_NEG,
    Rule(
        "sub_self_int",
        P("sub", V("x"), V("x"), name="z"),
        lambda z, x: integer_zeros(z, x) if dtypes.is_integer(x.dtype) else None,
        "x − x = 0 for integers only: for floats Inf − Inf and NaN − NaN are NaN",
    ),
    Rule(
        "mul_by_zero_int",
        P("mul", V("x"), C(0), name="z"),
        integer_zeros,
        "x * 0 = 0 for integers and bools only: for floats NaN * 0 and Inf * 0 are NaN",
    ),
    Rule("pow_zero", P("pow", V("x"), C(0), name="z"), pow_zero, "x ** 0 = 1, even NaN ** 0"),
    Rule(
        "pow_two",
        P("pow", V("x"), C(2), name="z"),
        lambda z, x: square(x) if in_dtype(z, x) and same_shape(z, x) else None,
        "x ** 2 = square(x) (exact: one rounding either way)",
    ),
    Rule(
        "pow_half",
        P("pow", V("x"), C(0.5), name="z"),
        float_pow(sqrt),
        "x ** 0.5 = sqrt(x) for floats (correctly rounded; differs only at −0 and −inf)",
    ),
    Rule(
        "pow_minus_one",
        P("pow", V("x"), C(-1), name="z"),
        float_pow(reciprocal),
        "x ** −1 = reciprocal(x) for floats (NumPy refuses integers to negative powers)",
    ),
]

# ---- normal forms of neg, sub and div: each removes a neg or turns a product into a quotient,
# so the set terminates and no two rules undo each other -------------------------------------


def keep(build, *names):
    """build(**captures) when the captured `names` and the node z share z's dtype."""

    def guarded(z: Variable, **captures) -> Variable | None:
        ok = in_dtype(z, *(captures[n] for n in names))
        return build(**captures) if ok else None

    return guarded


NORMAL_FORMS = [
    Rule(
        "add_neg",
        P("add", V("x"), P("neg", V("y")), name="z"),
        keep(lambda x, y: sub(x, y), "y"),
        "x + (−y) = (−y) + x = x − y",
    ),
    Rule(
        "sub_neg",
        P("sub", V("x"), P("neg", V("y")), name="z"),
        keep(lambda x, y: add(x, y), "y"),
        "x − (−y) = x + y",
    ),
    Rule(
        "mul_neg_neg",
        P("mul", P("neg", V("x")), P("neg", V("y")), name="z"),
        keep(lambda x, y: mul(x, y), "x", "y"),
        "(−x) * (−y) = x * y (also modulo 2^n)",
    ),
    Rule(
        "div_neg_neg",
        P("true_div", P("neg", V("x")), P("neg", V("y")), name="z"),
        keep(lambda x, y: true_div(x, y), "x", "y"),
        "(−x) / (−y) = x / y (floats: an integer neg would wrap before the division)",
    ),
    Rule(
        "mul_minus_one",
        P("mul", V("x"), C(-1), name="z"),
        lambda z, x: neg(x) if in_dtype(z, x) and same_shape(z, x) else None,
        "x * −1 = −x (exact)",
    ),
    Rule(
        "zero_sub",
        P("sub", C(0), V("x"), name="z"),
        lambda z, x: neg(x) if in_dtype(z, x) and same_shape(z, x) else None,
        "0 − x = −x",
    ),
    Rule(
        "mul_reciprocal",
        P("mul", V("x"), P("reciprocal", V("y")), name="z"),
        lambda z, x, y: true_div(x, y) if dtypes.is_float(z.dtype) else None,
        "x * reciprocal(y) = x / y (one rounding instead of two)",
    ),
    Rule(
        "mul_one_over",
        P("mul", V("x"), P("true_div", C(1), V("y")), name="z"),
        lambda z, x, y: true_div(x, y) if dtypes.is_float(z.dtype) else None,
        "x * (1 / y) = x / y (one rounding instead of two)",
    ),
]

# ---- constants: moved right, and folded through add/mul trees -------------------------------


def constant_right(z: Variable, x: Variable, c: Variable) -> Variable | None:
    if z.owner.inputs[0] is not c:  # already x ∘ c: declining here is what terminates
        return None
    return z.owner.op(x, c)


def fold_into(name: str, ufunc):
    """(x ∘ c1) ∘ c2 → x ∘ (c1 ∘ c2), with c1 ∘ c2 computed in z's dtype, as the node does."""

    def build(z: Variable, inner: Variable, x: Variable, c1: Variable, c2: Variable):
        if inner.dtype != z.dtype:  # the inner node wraps/rounds in another dtype: keep it
            return None
        with np.errstate(all="ignore"):
            data = ufunc(c1.data.astype(z.dtype), c2.data.astype(z.dtype))
        if data.size > max(c1.data.size, c2.data.size):  # never grow a constant by broadcasting
            return None
        return Elemwise(SCALAR_OPS[name])(x, constant(data, z.dtype))

    return build


def fold_rule(name: str, ufunc, symbol: str) -> Rule:
    c1, c2 = V("c1", where=is_constant), V("c2", where=is_constant)
    pattern = P(name, P(name, V("x", where=not_constant), c1, name="inner"), c2, name="z")
    math = f"(x {symbol} c1) {symbol} c2 = x {symbol} (c1 {symbol} c2): exact for integers"
    return Rule(f"fold_{name}_constants", pattern, fold_into(name, ufunc), math)


CONSTANTS = [
    Rule(
        f"{name}_constant_right",
        P(name, V("x", where=not_constant), V("c", where=is_constant), name="z"),
        constant_right,
        f"c {symbol} x = x {symbol} c: one spelling, so equal nodes merge",
    )
    for name, symbol in (("add", "+"), ("mul", "*"))
] + [fold_rule("add", np.add, "+"), fold_rule("mul", np.multiply, "*")]

# ---- casts ----------------------------------------------------------------------------------


def lossless(src: str, dst: str) -> bool:
    """Every value of dtype src is exactly representable in dst."""
    if src == dst or src == "bool":
        return True
    if dst == "bool" or (dtypes.is_float(src) and not dtypes.is_float(dst)):
        return False
    if dtypes.is_float(src):
        return np.dtype(dst).itemsize >= np.dtype(src).itemsize
    if dtypes.is_integer(dst):
        return bool(np.can_cast(src, dst, "safe"))
    info = np.iinfo(src)  # an integer into a float: its magnitude bits fit the mantissa
    return info.bits - (info.min < 0) <= np.finfo(dst).nmant + 1


def merge_casts(z: Variable, y: Variable) -> Variable | None:
    if y.owner is None or not isinstance(y.owner.op, Cast):
        return None
    x = y.owner.inputs[0]
    if not lossless(x.dtype, y.dtype):  # cast(cast(x, float32), float64) rounds: keep it
        return None
    return x if x.dtype == z.dtype else Cast(z.dtype)(x)


CASTS = [
    rule
    for d in dtypes.DTYPES
    for rule in (
        Rule(
            "cast_to_same_dtype",
            P(f"cast_{d}", V("x", where=lambda x, d=d: x.dtype == d)),
            lambda x: x,
            "cast(x, dtype(x)) = x",
        ),
        Rule(
            "cast_of_lossless_cast",
            P(f"cast_{d}", V("y"), name="z"),
            merge_casts,
            "cast(cast(x, a), b) = cast(x, b) when x → a is exact (float32 → float64 → float32)",
        ),
    )
]

# ---- shapes: dimshuffles, reshapes, sums, static shape queries -----------------------------


def merge_dimshuffles(z: Variable, y: Variable) -> Variable | None:
    inner = y.owner.op
    order = tuple("x" if a == "x" else inner.order[a] for a in z.owner.op.order)
    return dimshuffle(y.owner.inputs[0], *order)  # the identity order gives the input itself


def merge_reshapes(z: Variable, x: Variable, shape: Variable, **_) -> Variable | None:
    try:  # the merged node may prove statically what the chain hid: then keep the chain
        return Reshape(z.owner.op.ndim)(x, shape)
    except ValueError:
        return None


def merge_sums(z: Variable, inner: Variable, x: Variable) -> Variable | None:
    """sum_a(sum_b(x)) = sum_{a ∪ b}(x): the outer axes mapped back to x's axes."""
    op_b, op_a = inner.owner.op, z.owner.op
    left = range(x.ndim) if op_b.keepdims else [i for i in range(x.ndim) if i not in op_b.axes]
    a_axes = {list(left)[a] for a in op_a.axes}
    union = tuple(sorted(a_axes | set(op_b.axes)))
    dropped = (set() if op_b.keepdims else set(op_b.axes)) | (set() if op_a.keepdims else a_axes)
    if dropped == set(union):
        return Reduce("sum", union, False)(x)
    total = Reduce("sum", union, True)(x)
    return dimshuffle(total, *[i for i in range(x.ndim) if i not in dropped])


def static_shape(x: Variable) -> Variable | None:
    return constant(np.array(x.type.shape, np.int64)) if known(x.type.shape) else None


def static_size(z: Variable, x: Variable) -> Variable | None:
    size = z.owner.op.static_size(x)
    return None if size is None else constant(size, "int64")


def already_shaped(x: Variable, shape: Variable) -> Variable | None:
    return x if known(x.type.shape) and static_entries(shape) == x.type.shape else None


SHAPES = [
    Rule(
        "merge_dimshuffles",
        P("dimshuffle", P("dimshuffle", name="y"), name="z"),
        merge_dimshuffles,
        "dimshuffle(dimshuffle(x, o1), o2) = dimshuffle(x, [o1[i] for i in o2])",
    ),
    Rule(
        "identity_dimshuffle",
        P("dimshuffle", V("x"), name="z"),
        lambda z, x: x if z.owner.op.order == tuple(range(x.ndim)) else None,
        "dimshuffle(x, 0, 1, …, n−1) = x",
    ),
    Rule(
        "merge_reshapes",
        P("reshape", P("reshape", V("x"), V()), V("shape"), name="z"),
        merge_reshapes,
        "reshape(reshape(x, s1), s2) = reshape(x, s2): same elements, same order",
    ),
    Rule(
        "useless_reshape",
        P("reshape", V("x"), V("shape")),
        already_shaped,
        "reshape(x, s) = x when x's static shape is fully known and equals s",
    ),
    Rule(
        "merge_sums",
        P("sum", P("sum", V("x"), name="inner"), name="z"),
        merge_sums,
        "sum over a of (sum over b of x) = one sum over a ∪ b (axes mapped, keepdims kept)",
    ),
    Rule("static_shape", P("shape", V("x")), static_shape, "shape(x) = its static shape"),
    Rule("static_size", P("size", V("x"), name="z"), static_size, "size(x) = its static size"),
    Rule(
        "useless_sum_to",
        P("sum_to", V("x"), V("shape")),
        already_shaped,
        "sum_to(x, s) = x when x's static shape is fully known and equals s",
    ),
    Rule(
        "useless_broadcast_to",
        P("broadcast_to", V("x"), V("shape")),
        already_shaped,
        "broadcast_to(x, s) = x when x's static shape is fully known and equals s",
    ),
    Rule(
        "sum_to_own_shape",
        P("sum_to", V("x"), P("shape", V("x"))),
        lambda x: x,
        "sum_to(x, shape(x)) = x",
    ),
    Rule(
        "broadcast_to_own_shape",
        P("broadcast_to", V("x"), P("shape", V("x"))),
        lambda x: x,
        "broadcast_to(x, shape(x)) = x",
    ),
]

CANONICALIZE: list[Rule] = IDENTITIES + NORMAL_FORMS + CONSTANTS + CASTS + SHAPES + SLICES
