"""Shape queries and shape changes: shape, reshape, dimshuffle and the functions built on them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from symbolic import dtypes
from symbolic.graph import Constant, TensorType, Variable, as_variable, constant
from symbolic.op import Op

# ---- static values: what is known about integer variables at build time ----------------


def static_int(var: Variable) -> int | None:
    """The value of a scalar integer variable when it is known at build time."""
    if isinstance(var, Constant) and var.ndim == 0:
        return int(var.data)
    if var.owner is not None and isinstance(var.owner.op, Size):
        return var.owner.op.static_size(var.owner.inputs[0])
    return None


def static_entries(vec: Variable) -> tuple:
    """What is known of each entry of a 1-d integer variable (None where unknown)."""
    if isinstance(vec, Constant):
        return tuple(int(v) for v in vec.data)
    if vec.owner is not None:
        op, inputs = vec.owner.op, vec.owner.inputs
        if isinstance(op, Shape):
            return inputs[0].type.shape
        if isinstance(op, MakeVector):
            return tuple(static_int(i) for i in inputs)
    n = vec.type.shape[0]
    return (None,) * n if n is not None else ()


# ---- ops --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape(Op):
    """x.shape as an int64 vector."""

    def infer(self, x):
        return [TensorType("int64", (x.ndim,))]

    def perform(self, x):
        return np.array(x.shape, dtype=np.int64)

    def grad(self, inputs, outputs, output_grads):
        return [None]


@dataclass(frozen=True)
class Size(Op):
    """The product of x's sizes along `axes`, an int64 scalar (x.shape[i] when axes = (i,))."""

    axes: tuple

    def static_size(self, x: Variable) -> int | None:
        dims = [x.type.shape[a] for a in self.axes]
        return None if None in dims else math.prod(dims)

    def infer(self, x):
        return [TensorType("int64", ())]

    def perform(self, x):
        return np.array(math.prod(x.shape[a] for a in self.axes), dtype=np.int64)

    def grad(self, inputs, outputs, output_grads):
        return [None]


@dataclass(frozen=True)
class MakeVector(Op):
    """A 1-d int64 vector from integer scalars: the symbolic form of a shape tuple."""

    @property
    def name(self) -> str:
        return "make_vector"

    def infer(self, *items):
        for i in items:
            if i.ndim != 0 or not (dtypes.is_integer(i.dtype) or i.dtype == "bool"):
                raise TypeError(f"a shape entry must be an integer scalar, got {i.describe()}")
        return [TensorType("int64", (len(items),))]

    def perform(self, *items):
        return np.array([int(i) for i in items], dtype=np.int64)

    def grad(self, inputs, outputs, output_grads):
        return [None] * len(inputs)


def dim(x: Variable, axis: int) -> Variable:
    """x.shape[axis] as an int64 scalar, constant when the static shape knows it."""
    known = x.type.shape[axis]
    return constant(known, "int64") if known is not None else Size((axis % x.ndim,))(x)


def shape_of(x: Variable) -> Variable:
    """x.shape as an int64 vector."""
    return Shape()(x)


def as_shape(shape) -> Variable:
    """A shape given as ints, integer scalars or a 1-d integer variable, as an int64 vector."""
    if isinstance(shape, Variable):
        if shape.ndim != 1:
            raise TypeError(f"a shape must be a 1-d integer vector, got {shape.describe()}")
        return shape
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    items = list(shape)
    if all(isinstance(i, (int, np.integer)) for i in items):
        return constant(np.array(items, dtype=np.int64))
    return MakeVector()(
        *[as_variable(i) if isinstance(i, Variable) else constant(int(i), "int64") for i in items]
    )


@dataclass(frozen=True)
class Reshape(Op):
    ndim: int

    def infer(self, x, shape):
        entries = static_entries(shape)
        if len(entries) != self.ndim:
            raise ValueError(f"reshape: the target shape must have {self.ndim} entries")
        if entries.count(-1) > 1:
            raise ValueError(f"reshape: at most one -1 in the target shape {entries}")
        known_in = None if None in x.type.shape else math.prod(x.type.shape)
        if -1 in entries and known_in is not None and None not in entries:
            rest = math.prod(e for e in entries if e != -1)
            if rest == 0 or known_in % rest:
                raise ValueError(f"reshape: cannot reshape {x.type.shape} into {entries}")
            entries = tuple(known_in // rest if e == -1 else e for e in entries)
        entries = tuple(None if e == -1 else e for e in entries)
        if known_in is not None and None not in entries and math.prod(entries) != known_in:
            raise ValueError(f"reshape: cannot reshape {x.type.shape} into {entries}")
        return [TensorType(x.dtype, entries)]

    def perform(self, x, shape):
        return x.reshape(tuple(shape))

    def grad(self, inputs, outputs, output_grads):
        return [reshape(output_grads[0], shape_of(inputs[0])), None]


def reshape(x, shape) -> Variable:
    """x with a new shape (one entry may be -1); entries may be symbolic."""
    x, shape = as_variable(x), as_shape(shape)
    return Reshape(shape.type.shape[0])(x, shape)


@dataclass(frozen=True)
class DimShuffle(Op):
    """Theano's dimshuffle: reorder axes, insert broadcastable ones ('x'), drop size-1 ones."""

    order: tuple  # entries: input axis numbers and 'x'
    input_ndim: int

    @property
    def name(self) -> str:
        return "dimshuffle"

    @cached_property
    def dropped(self) -> tuple:
        return tuple(a for a in range(self.input_ndim) if a not in self.order)

    @cached_property
    def kept_order(self) -> tuple:  # the transposition of the axes that remain
        kept = [a for a in range(self.input_ndim) if a not in self.dropped]
        return tuple(kept.index(a) for a in self.order if a != "x")

    @cached_property
    def new_axes(self) -> tuple:
        return tuple(i for i, a in enumerate(self.order) if a == "x")

    def infer(self, x):
        axes = [a for a in self.order if a != "x"]
        if (
            x.ndim != self.input_ndim
            or len(set(axes)) != len(axes)
            or any(not 0 <= a < x.ndim for a in axes)
        ):
            raise ValueError(f"dimshuffle{self.order}: not a valid order for {x.ndim}-d input")
        for a in self.dropped:
            if x.type.shape[a] not in (1, None):
                raise ValueError(
                    f"dimshuffle{self.order} drops axis {a} of {x.type}, "
                    f"which has size {x.type.shape[a]}, not 1"
                )
        shape = tuple(1 if a == "x" else x.type.shape[a] for a in self.order)
        return [TensorType(x.dtype, shape)]

    def perform(self, x):
        if self.dropped:
            x = np.squeeze(x, self.dropped)
        return np.expand_dims(np.transpose(x, self.kept_order), self.new_axes)

    def grad(self, inputs, outputs, output_grads):
        # undo: drop the inserted axes, transpose back, re-insert the dropped ones
        kept = [a for a in self.order if a != "x"]
        inverse = tuple(kept.index(a) if a in kept else "x" for a in range(self.input_ndim))
        g = dimshuffle(output_grads[0], *[i for i, a in enumerate(self.order) if a != "x"])
        return [dimshuffle(g, *inverse)]


def dimshuffle(x, *order) -> Variable:
    """`x.dimshuffle("x", 0)` adds a leading broadcastable axis; numbers reorder the axes."""
    x = as_variable(x)
    if len(order) == 1 and isinstance(order[0], (list, tuple)):
        order = tuple(order[0])
    order = tuple(a if a == "x" else int(a) for a in order)
    if order == tuple(range(x.ndim)):
        return x
    return DimShuffle(order, x.ndim)(x)


def transpose(x, axes: Sequence[int] | None = None) -> Variable:
    """Permute the axes (reverse them by default), as np.transpose."""
    x = as_variable(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    return dimshuffle(x, *axes)


def normalize_axes(axis, ndim: int) -> tuple:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a {ndim}-d tensor")
    return tuple(sorted(a % ndim for a in axes))


def expand_dims(x, axis) -> Variable:
    """Insert broadcastable axes at the positions `axis` of the result, as np.expand_dims."""
    x = as_variable(x)
    axis = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    new = normalize_axes(axis, x.ndim + len(axis))
    rest = iter(range(x.ndim))
    return dimshuffle(x, *["x" if i in new else next(rest) for i in range(x.ndim + len(new))])


def squeeze(x, axis=None) -> Variable:
    """Drop size-1 axes: the given ones, or by default every axis statically known to be 1."""
    x = as_variable(x)
    drop = (
        normalize_axes(axis, x.ndim)
        if axis is not None
        else tuple(a for a, d in enumerate(x.type.shape) if d == 1)
    )
    return dimshuffle(x, *[a for a in range(x.ndim) if a not in drop])


def flatten(x, ndim: int = 1) -> Variable:
    """Theano's flatten: keep the first ndim−1 axes and merge the rest into one."""
    x = as_variable(x)
    if not 1 <= ndim <= max(x.ndim, 1):
        raise ValueError(f"flatten(ndim={ndim}) of a {x.ndim}-d tensor")
    kept = [dim(x, a) for a in range(ndim - 1)]
    return reshape(x, kept + [-1])
