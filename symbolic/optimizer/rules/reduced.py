"""A reduction as the stabilize rules see it, however the user spelled it.

Construction already gives one form for the axes (sorted, non-negative, `axis=None` is every
axis), for methods (`x.sum()` is `S.sum(x)`) and for `mean` (`sum(x) / n`). What is left are the
ways a reduced result is put back against its input, all of which mean the same:

    reduce(x, axes, keepdims=True)            x.sum(1, keepdims=True)
    dimshuffle(reduce(x, axes), back)         x.sum(1).dimshuffle(0, "x")
    reduce(x, axes) over leading axes         S.sum(x) or x.sum(0) beside x: broadcasting pads
                                              the missing axes in front, where they were
    any of these divided by a scalar d        mean: the sum over the count

`reduced` reads every one of them into a `Reduced`, so each rule matches one form. It looks at
a fixed number of nodes, so a rule that calls it stays O(1) per node. It reads rather than
rewrites: turning dimshuffle(reduce(x)) into a keepdims reduction would compute the reduction
twice wherever its own result is used too (the gradients of max and logsumexp put their
forward result back with a dimshuffle).
"""

from __future__ import annotations

from dataclasses import dataclass

from symbolic.graph import Variable
from symbolic.shape import DimShuffle, dimshuffle

# the float reductions whose result is constant along the axes they reduce
REDUCTIONS = frozenset({"sum", "prod", "max", "min", "logsumexp"})


def put_back_order(axes: tuple, ndim: int) -> tuple:
    """The dimshuffle order that puts reduced `axes` back, as broadcastable axes, into a
    result of `ndim` axes."""
    rest = iter(range(ndim - len(axes)))
    return tuple("x" if a in axes else next(rest) for a in range(ndim))


def is_scalar_like(d: Variable, ndim: int) -> bool:
    """d has every static axis of size 1 and no more axes than `ndim`: it broadcasts nothing."""
    return d.ndim <= ndim and all(n == 1 for n in d.type.shape)


@dataclass(frozen=True)
class Reduced:
    """v = [put back](reduce(x, axes, keepdims)) [/ divisor]."""

    x: Variable
    kind: str
    axes: tuple  # axes of x, sorted, non-negative
    keepdims: bool  # the reduction's own flag
    back: tuple | None  # the order of the dimshuffle that puts the reduced axes back, if any
    divisor: Variable | None  # d of reduce(x) / d (mean's count), None when not divided

    @property
    def lines_up(self) -> bool:
        """Whether the result broadcasts against x with each reduced axis in its place."""
        return self.keepdims or self.back is not None or self.axes == tuple(range(len(self.axes)))

    def put_back(self, y: Variable) -> Variable:
        """y, a reduction of x over the same axes with the same keepdims, put back as v was
        (the divisor is the caller's)."""
        return y if self.back is None else dimshuffle(y, *self.back)


def reduced(v: Variable, kinds=REDUCTIONS) -> Reduced | None:
    """v read as a `Reduced` of a reduction whose name is in `kinds` (a name or a set), or None."""
    kinds = {kinds} if isinstance(kinds, str) else kinds
    back = divisor = None
    for _ in range(3):  # at most a division and a dimshuffle around the reduction
        node = v.owner
        if node is None:
            return None
        if node.op.name in kinds:
            break
        if divisor is None and node.op.name == "true_div":
            v, divisor = node.inputs
            if not is_scalar_like(divisor, v.ndim):
                return None
        elif back is None and isinstance(node.op, DimShuffle):
            back, v = node.op.order, node.inputs[0]
        else:
            return None
    else:
        return None
    op = node.op
    if back is not None and (op.keepdims or back != put_back_order(op.axes, len(back))):
        return None
    return Reduced(node.inputs[0], op.name, op.axes, op.keepdims, back, divisor)
