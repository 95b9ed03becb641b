"""Making tensors of a given shape: broadcast_to and its adjoint sum_to, zeros, arange, eye…"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.elemwise import cast, eq
from symbolic.graph import TensorType, Variable, as_variable, constant
from symbolic.op import Op
from symbolic.shape import as_shape, expand_dims, shape_of, static_entries, static_int


@dataclass(frozen=True)
class BroadcastTo(Op):
    """x broadcast to `shape` (np.broadcast_to); its gradient sums back with sum_to."""

    @property
    def name(self) -> str:
        return "broadcast_to"

    def infer(self, x, shape):
        target = static_entries(shape)
        if x.ndim > len(target):
            raise ValueError(f"broadcast_to: cannot broadcast {x.type} to {len(target)} dims")
        padded = (1,) * (len(target) - x.ndim) + x.type.shape
        for have, want in zip(padded, target):
            if have not in (1, None) and want is not None and have != want:
                raise ValueError(f"broadcast_to: cannot broadcast {x.type.shape} to {target}")
        out = tuple(
            w if w is not None else (h if h not in (1, None) else None)
            for h, w in zip(padded, target)
        )
        return [TensorType(x.dtype, out)]

    def perform(self, x, shape):
        return np.broadcast_to(x, tuple(shape))

    def grad(self, inputs, outputs, output_grads):
        return [sum_to(output_grads[0], inputs[0]), None]


@dataclass(frozen=True)
class SumTo(Op):
    """g summed over the axes on which it was broadcast to reach its shape from `shape`."""

    @property
    def name(self) -> str:
        return "sum_to"

    def infer(self, g, shape):
        return [TensorType(g.dtype, static_entries(shape))]

    def perform(self, g, shape):
        shape = tuple(shape)
        if g.shape == shape:
            return g
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
        )
        out = g.sum(axis=axes, keepdims=True, dtype=g.dtype)
        return out.reshape(shape)

    def grad(self, inputs, outputs, output_grads):
        return [broadcast_to(output_grads[0], shape_of(inputs[0])), None]


def broadcast_to(x, shape) -> Variable:
    """x broadcast to `shape` (entries may be symbolic), as np.broadcast_to."""
    return BroadcastTo()(as_variable(x), as_shape(shape))


def sum_to(g: Variable, like: Variable) -> Variable:
    """g summed down to like's shape: the adjoint of broadcasting `like` to g's shape."""
    same = g.type.shape == like.type.shape and None not in g.type.shape
    return g if same else SumTo()(g, shape_of(like))


def full(shape, fill_value, dtype=None) -> Variable:
    """A tensor of `shape` filled with `fill_value` (a Python number is weakly typed)."""
    value = fill_value if isinstance(fill_value, Variable) else constant(fill_value, dtype)
    if dtype is not None:
        value = cast(value, dtype)
    return broadcast_to(value, shape)


def alloc(value, *shape) -> Variable:
    """`value` (a number or a tensor) broadcast to `shape`, each entry an int or an integer
    scalar: `S.alloc(0.0, n, 3)`; Theano's spelling of `full(shape, value)` for tensors too."""
    return full(shape, value)


def zeros(shape, dtype="float32") -> Variable:
    return full(shape, 0, dtype)


def ones(shape, dtype="float32") -> Variable:
    return full(shape, 1, dtype)


def zeros_like(x, dtype=None) -> Variable:
    x = as_variable(x)
    return full(shape_of(x), 0, dtype or x.dtype)


def ones_like(x, dtype=None) -> Variable:
    x = as_variable(x)
    return full(shape_of(x), 1, dtype or x.dtype)


@dataclass(frozen=True)
class ARange(Op):
    dtype: str

    def infer(self, start, stop, step):
        values = [
            static_int(v) if dtypes.kind(v.dtype) != "f" else None for v in (start, stop, step)
        ]
        n = None if None in values else len(range(*values))
        return [TensorType(self.dtype, (n,))]

    def perform(self, start, stop, step):
        return np.arange(start, stop, step, dtype=self.dtype)

    def grad(self, inputs, outputs, output_grads):
        return [None, None, None]


def arange(start, stop=None, step=1, dtype=None) -> Variable:
    """Evenly spaced values in [start, stop), as np.arange; bounds may be symbolic."""
    if stop is None:
        start, stop = 0, start
    args = [as_variable(a) if isinstance(a, Variable) else constant(a) for a in (start, stop, step)]
    if dtype is None:
        dtype = dtypes.promote(*[a.dtype for a in args])
        dtype = "int64" if dtypes.kind(dtype) != "f" else dtype
    return ARange(dtypes.as_dtype(dtype))(*args)


@dataclass(frozen=True)
class Eye(Op):
    dtype: str

    def infer(self, n, m, k):
        return [TensorType(self.dtype, (static_int(n), static_int(m)))]

    def perform(self, n, m, k):
        return np.eye(int(n), int(m), int(k), dtype=self.dtype)

    def grad(self, inputs, outputs, output_grads):
        return [None, None, None]


def eye(n, m=None, k=0, dtype="float32") -> Variable:
    """An n×m matrix with ones on diagonal k, as np.eye."""
    n = as_variable(n) if isinstance(n, Variable) else constant(n, "int64")
    m = n if m is None else as_variable(m) if isinstance(m, Variable) else constant(m, "int64")
    k = as_variable(k) if isinstance(k, Variable) else constant(k, "int64")
    return Eye(dtypes.as_dtype(dtype))(n, m, k)


def one_hot(indices, n, dtype="float32") -> Variable:
    """one_hot(y, n)[..., j] = (y[...] == j), as a `dtype` tensor with a new last axis."""
    indices = as_variable(indices)
    return cast(eq(expand_dims(indices, -1), arange(n)), dtype)
