"""The stabilize rules: naive formulas rewritten into ops that stay finite and accurate.

They run after canonicalize, so constants sit on the right of commutative ops (`x + 1`; the
patterns match both orders anyway) and `1 - x` stays `sub(1, x)`. Every rule declines unless
its captured variables are floats (integer wrap-around would make the identities false) and
its matched constants have only size-1 axes, so the replacement has the matched node's shape:
a constant never broadcasts the expression it is folded into. The rules over reductions read
them through `reduced` (reduced.py), which sees every spelling of a reduction put back against
its input (keepdims, a dimshuffle, broadcasting over leading axes, a mean) as one form.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from symbolic import dtypes
from symbolic.elemwise import (
    add,
    erfc,
    exp,
    expm1,
    log,
    log1mexp,
    log1p,
    mul,
    neg,
    sigmoid,
    softplus,
    sub,
)
from symbolic.graph import Constant, Variable, constant
from symbolic.nnet import crossentropy_softmax, log_softmax, softmax
from symbolic.optimizer.pattern import C, P, Rule, V, match
from symbolic.optimizer.rules.canonicalize import DOUBLE_NEG
from symbolic.optimizer.rules.reduced import is_scalar_like, reduced
from symbolic.reduction import logsumexp
from symbolic.reduction import max as reduce_max
from symbolic.shape import Shape, Size

NOT_FLOAT = frozenset({"y", "r"})  # captures that are integer by design: labels, row indices


def rule(name: str, pattern, build, math: str) -> Rule:
    """A Rule guarded as described above; a name on the pattern's root still reaches `build`."""

    def guarded(out: Variable, **captures) -> Variable | None:
        if not dtypes.is_float(out.dtype):
            return None
        if pattern.name is not None:
            captures[pattern.name] = out
        for key, var in captures.items():
            if key.startswith("c_"):
                if any(d != 1 for d in var.type.shape):
                    return None
            elif key not in NOT_FLOAT and not dtypes.is_float(var.dtype):
                return None
        new = build(**captures)
        return new if new is not None and new.ndim == out.ndim else None

    return Rule(name, dataclasses.replace(pattern, name="out"), guarded, math)


def one(name: str = "c_1"):
    return C(1, name=name)


def negate(x: Variable) -> Variable:
    """−x, without stacking negations: −(−y) is y and a constant is negated in place."""
    if x.owner is not None and x.owner.op.name == "neg":
        return x.owner.inputs[0]
    if isinstance(x, Constant):
        return constant(-x.data, x.dtype)
    return neg(x)


def log_softmax_over(x: Variable, axes: tuple) -> Variable:
    """log_softmax over one axis (the op) or several: y − logsumexp(y) with y = x − max x over
    the axes, exact for the largest entries as the op is."""
    if len(axes) == 1:
        return log_softmax(x, axes[0])
    y = sub(x, reduce_max(x, axes, keepdims=True))
    return sub(y, logsumexp(y, axes, keepdims=True))


def is_max_shifted(y: Variable, axes: tuple) -> bool:
    """Whether y = x − max x over `axes` (kept): the form log_softmax_over builds."""
    node = y.owner
    if node is None or node.op.name != "sub":
        return False
    found = reduced(node.inputs[1], "max")
    return found is not None and found.x is node.inputs[0] and found.axes == axes and found.keepdims


def softmax_over(x: Variable, axes: tuple) -> Variable:
    """softmax over one axis (the op) or several (e to the log_softmax_over)."""
    return softmax(x, axes[0]) if len(axes) == 1 else exp(log_softmax_over(x, axes))


def build_softmax(x: Variable, e: Variable, s: Variable) -> Variable | None:
    """e^x / Σ e^x = softmax(x) over the sum's axes; over a mean, e^x / (Σ e^x / d) =
    softmax(x) · d."""
    found = reduced(s, "sum")
    if found is None or found.x is not e or not found.lines_up:
        return None
    out = softmax_over(x, found.axes)
    return out if found.divisor is None else mul(out, found.divisor)


def unshifted(z: Variable, axes: tuple) -> Variable | None:
    """x where z = x − m or x + m (m on either side of the +), z has x's shape and m is
    constant along `axes`: a finite constant of size 1 on those axes (a scalar, a bias per
    row), or a reduction of x over those axes (and maybe others) put back against x (max,
    mean, …)."""
    node = z.owner
    if node is None or node.op.name not in ("sub", "add"):
        return None
    pairs = [node.inputs] if node.op.name == "sub" else [node.inputs, node.inputs[::-1]]
    for x, m in pairs:
        if x.type.shape != z.type.shape:
            continue
        if isinstance(m, Constant):
            padded = (1,) * (x.ndim - m.ndim) + m.data.shape
            if all(padded[a] == 1 for a in axes) and np.all(np.isfinite(m.data)):
                return x
            continue
        found = reduced(m)
        if found is not None and found.x is x and found.lines_up and set(axes) <= set(found.axes):
            return x
    return None


def build_shift_free(fn):
    """softmax(x − m) → softmax(x) (and log_softmax) for m constant along the axis: both are
    invariant to such a shift, and subtract the maximum themselves."""

    def build(z: Variable, s: Variable) -> Variable | None:
        axis = s.owner.op.axis
        x = unshifted(z, (axis,))
        return None if x is None else fn(x, axis)

    return build


def build_logsumexp(s: Variable) -> Variable | None:
    """log Σ e^x = logsumexp(x), put back as the sum was; log(Σ e^x / d) = logsumexp(x) − log d."""
    found = reduced(s, "sum")
    if found is None or found.x.owner is None or found.x.owner.op.name != "exp":
        return None
    x = found.x.owner.inputs[0]
    lse = found.put_back(logsumexp(x, found.axes, found.keepdims))
    return lse if found.divisor is None else sub(lse, log(found.divisor))


def scaled(v: Variable) -> tuple[Variable, Variable | None]:
    """(u, d) where v = u · d (either order) with d a scalar; (v, None) otherwise."""
    node = v.owner
    if node is not None and node.op.name == "mul":
        for u, d in (node.inputs, node.inputs[::-1]):
            if u.type.shape == v.type.shape and is_scalar_like(d, u.ndim):
                return u, d
    return v, None


def build_log_softmax(s: Variable) -> Variable | None:
    """log softmax(x) = log_softmax(x); log(softmax(x) · d) = log_softmax(x) + log d for a
    scalar d (e^x / mean e^x is softmax(x) · n), also over several axes, where softmax_over
    wrote softmax as e^(log-softmax form)."""
    u, d = scaled(s)
    node = u.owner
    if node is not None and node.op.name == "softmax":
        out = log_softmax(node.inputs[0], node.op.axis)
    elif node is not None and node.op.name == "exp" and d is not None:
        out = node.inputs[0]
    else:
        return None
    return out if d is None else add(out, log(d))


def build_log_softmax_from_lse(x: Variable, lse: Variable) -> Variable | None:
    """x − logsumexp(x) = log_softmax(x), the logsumexp put back against x; x − (logsumexp(x)
    − c) = log_softmax(x) + c for a scalar c (log mean e^x is logsumexp(x) − log n). Over
    several axes, declined where x is already shifted by its maximum (log_softmax_over's form,
    which would otherwise be rewritten again)."""
    node, c = lse.owner, None
    if node is not None and node.op.name == "sub" and is_scalar_like(node.inputs[1], x.ndim):
        lse, c = node.inputs
    found = reduced(lse, "logsumexp")
    if found is None or found.x is not x or not found.lines_up or found.divisor is not None:
        return None
    if len(found.axes) > 1 and is_max_shifted(x, found.axes):
        return None
    out = log_softmax_over(x, found.axes)
    return out if c is None else add(out, c)


def counts_rows(n: Variable, x: Variable) -> bool:
    """Whether n is x.shape[0]: a constant equal to the static size, Size((0,))(x), or
    shape(x)[0]."""
    if isinstance(n, Constant):
        return n.data.ndim == 0 and x.type.shape[0] is not None and int(n.data) == x.type.shape[0]
    node = n.owner
    if node is None:
        return False
    if isinstance(node.op, Size):
        return node.op.axes == (0,) and node.inputs[0] is x
    if node.op.name == "subtensor" and node.op.spec == (("int", 0),):
        src = node.inputs[0].owner
        return src is not None and isinstance(src.op, Shape) and src.inputs[0] is x
    return False


def is_row_range(r: Variable, x: Variable) -> bool:
    """Whether r is arange(x.shape[0]): built by arange, or folded into a constant."""
    if isinstance(r, Constant):
        n = x.type.shape[0]
        return n is not None and r.data.shape == (n,) and bool(np.all(r.data == np.arange(n)))
    found = match(P("arange", C(0), V("n"), C(1)), r, {})
    return found is not None and counts_rows(found["n"], x)


def build_crossentropy(x: Variable, r: Variable, y: Variable, sm: Variable, picked: Variable):
    """−log softmax(x)[arange(n), y] for the rows of a matrix, softmax over its last axis."""
    if x.ndim != 2 or sm.owner.op.axis != 1 or y.ndim != 1 or dtypes.kind(y.dtype) not in "iu":
        return None
    if picked.owner.op.spec != (("array",), ("array",)):
        return None
    # arange(y.shape[0]) is the idiom too (Theano's): it counts the rows when the labels are
    # one per row; crossentropy_softmax raises where they are not (NumPy would pick the first
    # len(y) rows of x)
    if not (is_row_range(r, x) or is_row_range(r, sm) or is_row_range(r, y)):
        return None
    return crossentropy_softmax(x, y)


def build_log_likelihood(**captures) -> Variable | None:
    """log softmax(x)[arange(n), y]: the negated crossentropy of the rows."""
    xent = build_crossentropy(**captures)
    return None if xent is None else neg(xent)


def rows(source):
    """The pattern source[r, y], r = arange(x.shape[0]) checked by the builder."""
    return P("advanced_subtensor", source, V("r"), V("y"), name="picked")


# fmt: off
STABILIZE: list[Rule] = [
    # logarithms and exponentials near 0
    rule("softplus_from_log", P("log", P("add", P("exp", V("x")), one())),
         lambda x, c_1: softplus(x), "log(1 + e^x) = softplus(x): no overflow of e^x"),
    rule("log1p", P("log", P("add", V("x"), one())),
         lambda x, c_1: log1p(x), "log(1 + x) = log1p(x): exact for tiny x"),
    rule("log1p_neg", P("log", P("sub", one(), V("x"))),
         lambda x, c_1: log1p(negate(x)), "log(1 − x) = log1p(−x): exact for tiny x"),
    rule("expm1", P("sub", P("exp", V("x")), one()),
         lambda x, c_1: expm1(x), "e^x − 1 = expm1(x): exact for tiny x"),
    rule("expm1_add", P("add", P("exp", V("x")), C(-1, name="c_1")),
         lambda x, c_1: expm1(x), "e^x + (−1) = expm1(x): exact for tiny x"),
    rule("log_exp", P("log", P("exp", V("x"))),
         lambda x: x, "log(e^x) = x: e^x overflows long before x does"),
    rule("softplus_from_log1p", P("log1p", P("exp", V("x"))),
         lambda x: softplus(x), "log1p(e^x) = softplus(x): no overflow of e^x"),
    rule("log1mexp_from_log1p", P("log1p", P("neg", P("exp", V("x")))),
         lambda x: log1mexp(x), "log1p(−e^x) = log1mexp(x): accurate for x near 0"),
    rule("log1mexp_from_expm1", P("log", P("neg", P("expm1", V("x")))),
         lambda x: log1mexp(x), "log(−expm1(x)) = log1mexp(x): accurate for x ≪ 0"),
    # the sigmoid family
    rule("log_sigmoid", P("log", P("sigmoid", V("x"))),
         lambda x: neg(softplus(negate(x))), "log σ(x) = −softplus(−x): finite for x ≪ 0"),
    # log(1 − σ(x)) = −softplus(x) needs no rule of its own: one_minus_sigmoid, then log_sigmoid
    rule("one_minus_sigmoid", P("sub", one(), P("sigmoid", V("x"))),
         lambda x, c_1: sigmoid(negate(x)), "1 − σ(x) = σ(−x): no cancellation for x ≫ 0"),
    rule("sigmoid_from_reciprocal", P("true_div", one("c_n"), P("add", P("exp", V("x")), one())),
         lambda x, c_n, c_1: sigmoid(negate(x)), "1 / (1 + e^−x) = σ(x): no overflow"),
    rule("sigmoid_from_reciprocal_op", P("reciprocal", P("add", P("exp", V("x")), one())),
         lambda x, c_1: sigmoid(negate(x)), "reciprocal(1 + e^−x) = σ(x): no overflow"),
    rule("sigmoid_from_quotient",
         P("true_div", P("exp", V("x"), name="e"), P("add", V("e"), one())),
         lambda x, e, c_1: sigmoid(x), "e^x / (1 + e^x) = σ(x): no inf / inf"),
    # the softmax family
    rule("softmax", P("true_div", P("exp", V("x"), name="e"), V("s")),
         build_softmax, "e^x / Σ_axes e^x (put back) = softmax(x, axes): max-shifted"),
    rule("softmax_shift", P("softmax", V("z"), name="s"), build_shift_free(softmax),
         "softmax(x − m) = softmax(x) for m constant along the axis (max x, a constant, …)"),
    rule("log_softmax_shift", P("log_softmax", V("z"), name="s"), build_shift_free(log_softmax),
         "log_softmax(x − m) = log_softmax(x) for m constant along the axis"),
    rule("log_softmax", P("log", V("s")), build_log_softmax,
         "log softmax(x) = log_softmax(x) (scaled by n: + log n)"),
    rule("logsumexp", P("log", V("s")), build_logsumexp,
         "log Σ e^x = logsumexp(x) = m + log Σ e^(x − m): no overflow (a mean: − log n)"),
    rule("log_softmax_from_logsumexp", P("sub", V("x"), V("lse")),
         build_log_softmax_from_lse,
         "x − logsumexp(x, axes) (put back) = log_softmax(x, axes): exact at the maximum"),
    # no negation in the patterns: −mean(log p[i, y_i]) negates outside the mean, and the
    # negation a cost does write cancels with the one these make (double_neg)
    rule("crossentropy_from_log_softmax", rows(P("log_softmax", V("x"), name="sm")),
         build_log_likelihood, "log_softmax(x)[i, y_i] = −crossentropy_softmax(x, y)"),
    rule("crossentropy_from_softmax", P("log", rows(P("softmax", V("x"), name="sm"))),
         build_log_likelihood, "log(softmax(x)[i, y_i]) = −crossentropy_softmax(x, y)"),
    DOUBLE_NEG,
    # erf complements
    rule("erfc", P("sub", one(), P("erf", V("x"))),
         lambda x, c_1: erfc(x), "1 − erf(x) = erfc(x): no cancellation for x ≫ 0"),
    rule("erfc_neg", P("add", P("erf", V("x")), one()),
         lambda x, c_1: erfc(negate(x)), "1 + erf(x) = erfc(−x): no cancellation for x ≪ 0"),
    rule("neg_erfc", P("sub", P("erf", V("x")), one()),
         lambda x, c_1: neg(erfc(x)), "erf(x) − 1 = −erfc(x): no cancellation for x ≫ 0"),
]
# fmt: on
