"""Reductions over axes: sum, prod, max, min, all, any, argmax, argmin, logsumexp, mean, var, std."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.alloc import broadcast_to
from symbolic.elemwise import cast, eq, exp, sqrt, square, sub, true_div, where
from symbolic.graph import TensorType, Variable, as_variable
from symbolic.op import Op
from symbolic.shape import Size, dimshuffle, normalize_axes, shape_of

# kind -> (NumPy reduction, output dtype rule)
REDUCERS = {
    "sum": (np.sum, lambda d: "int64" if dtypes.kind(d) != "f" else d),
    "prod": (np.prod, lambda d: "int64" if dtypes.kind(d) != "f" else d),
    "max": (np.max, lambda d: d),
    "min": (np.min, lambda d: d),
    "all": (np.all, lambda d: "bool"),
    "any": (np.any, lambda d: "bool"),
    "argmax": (np.argmax, lambda d: "int64"),
    "argmin": (np.argmin, lambda d: "int64"),
}


def reduced_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if a in axes else d for a, d in enumerate(shape))
    return tuple(d for a, d in enumerate(shape) if a not in axes)


def reduced_axes(axis, ndim: int) -> tuple:
    """The sorted, non-negative axes a reduction over `axis` covers (None: every axis)."""
    return tuple(range(ndim)) if axis is None else normalize_axes(axis, ndim)


def expand_reduced(g: Variable, ndim: int, axes: tuple) -> Variable:
    """g with the reduced axes put back as broadcastable axes (the keepdims form)."""
    if g.ndim == ndim:
        return g
    rest = iter(range(g.ndim))
    return dimshuffle(g, *["x" if a in axes else next(rest) for a in range(ndim)])


@dataclass(frozen=True)
class Reduce(Op):
    kind: str
    axes: tuple  # sorted, non-negative
    keepdims: bool = False

    @property
    def name(self) -> str:
        return self.kind

    def infer(self, x):
        out = REDUCERS[self.kind][1](x.dtype)
        return [TensorType(out, reduced_shape(x.type.shape, self.axes, self.keepdims))]

    def perform(self, x):
        fn, rule = REDUCERS[self.kind]
        if self.kind.startswith("arg"):
            return _arg_reduce(fn, x, self.axes, self.keepdims)
        out = rule(x.dtype.name)
        extra = {"dtype": out} if self.kind in ("sum", "prod") else {}
        return np.asarray(fn(x, axis=self.axes, keepdims=self.keepdims, **extra), dtype=out)

    def grad(self, inputs, outputs, output_grads):
        x, z, g = inputs[0], outputs[0], output_grads[0]
        if not dtypes.is_float(x.dtype) or self.kind not in ("sum", "prod", "max", "min"):
            return [None]
        g = expand_reduced(g, x.ndim, self.axes)
        if self.kind == "sum":  # d(sum x)/dx_i = 1
            return [broadcast_to(g, shape_of(x))]
        z = expand_reduced(z, x.ndim, self.axes)
        if self.kind in ("max", "min"):  # every position equal to the extreme gets g
            return [where(eq(x, z), g, 0)]
        return [g * _prod_without_self(x, self.axes)]


def _arg_reduce(fn, x, axes, keepdims):
    """argmax/argmin over `axes` (several axes are flattened together, in order)."""
    if len(axes) == 1:
        return np.asarray(fn(x, axis=axes[0], keepdims=keepdims), dtype=np.int64)
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + list(axes)).reshape([x.shape[a] for a in rest] + [-1])
    out = np.asarray(fn(moved, axis=-1), dtype=np.int64)
    return out.reshape(reduced_shape(x.shape, axes, True)) if keepdims else out


def _prod_without_self(x: Variable, axes: tuple) -> Variable:
    """∏_{j≠i} x_j along axes, correct where x has zeros.

    With no zero it is prod/x_i; with exactly one zero it is the product of the others at that
    zero and 0 elsewhere; with two or more zeros it is 0 everywhere.
    """
    is_zero = eq(x, 0)
    zeros = sum(cast(is_zero, "int64"), axes, keepdims=True)
    nonzero_prod = prod(where(is_zero, 1, x), axes, keepdims=True)
    safe_x = where(is_zero, 1, x)
    return where(
        eq(zeros, 0), nonzero_prod / safe_x, where(eq(zeros, 1) & is_zero, nonzero_prod, 0)
    )


def _reduce(kind: str, x, axis, keepdims: bool) -> Variable:
    x = as_variable(x)
    axes = reduced_axes(axis, x.ndim)
    return Reduce(kind, axes, bool(keepdims))(x)


def _accumulated(kind: str, x, axis, keepdims, dtype, acc_dtype) -> Variable:
    """sum or prod as NumPy and Theano take `dtype`: the elements are cast to `acc_dtype` (by
    default `dtype`) and added up in it, and the result is cast to `dtype`."""
    x = as_variable(x)
    accumulate = acc_dtype or dtype
    if accumulate is not None:
        x = cast(x, accumulate)
    total = _reduce(kind, x, axis, keepdims)
    return total if dtype is None else cast(total, dtype)


def _in_float(x, dtype) -> tuple[Variable, str]:
    """x as a mean-like reduction reads it (NumPy's rule): its elements cast to `dtype` when
    given, then computed in that float dtype (float32 for integers and bools)."""
    x = as_variable(x)
    if dtype is not None and x.dtype != dtypes.as_dtype(dtype):
        x = cast(x, dtype)
    return x, dtypes.to_float(x.dtype)


def sum(x, axis=None, keepdims=False, dtype=None, acc_dtype=None):  # noqa: A001 - the NumPy name
    """Σ over `axis` (None: all). Integers and bools sum in int64 unless `dtype` (the result's
    dtype) or `acc_dtype` (the accumulator's, Theano's) says otherwise."""
    return _accumulated("sum", x, axis, keepdims, dtype, acc_dtype)


def prod(x, axis=None, keepdims=False, dtype=None, acc_dtype=None):
    """∏ over `axis` (None: all), with `dtype` and `acc_dtype` as in `sum`."""
    return _accumulated("prod", x, axis, keepdims, dtype, acc_dtype)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce("min", x, axis, keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce("all", x, axis, keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce("any", x, axis, keepdims)


def argmax(x, axis=None, keepdims=False):
    return _reduce("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _reduce("argmin", x, axis, keepdims)


def mean(x, axis=None, keepdims=False, dtype=None, acc_dtype=None):
    """sum / count, computed in float (float32 for integer inputs); with `dtype` (or
    `acc_dtype`) the elements are first cast to it and the result has `dtype` (NumPy's rule)."""
    x, float_dtype = _in_float(x, acc_dtype or dtype)
    axes = reduced_axes(axis, x.ndim)
    total = _reduce("sum", x, axes, keepdims)
    result = true_div(total, cast(Size(axes)(x), float_dtype))
    return result if dtype is None else cast(result, dtype)


def var(x, axis=None, keepdims=False, ddof=0, dtype=None):
    """mean((x − mean(x))²), with `ddof` and `dtype` as NumPy's."""
    x, float_dtype = _in_float(x, dtype)
    axes = reduced_axes(axis, x.ndim)
    centered = sub(x, mean(x, axes, keepdims=True))
    squares = _reduce("sum", square(centered), axes, keepdims)
    count = cast(Size(axes)(x), float_dtype)
    result = true_div(squares, count - ddof if ddof else count)
    return result if dtype is None else cast(result, dtype)


def std(x, axis=None, keepdims=False, ddof=0, dtype=None):
    x, _ = _in_float(x, dtype)
    result = sqrt(var(x, axis, keepdims, ddof))
    return result if dtype is None else cast(result, dtype)


@dataclass(frozen=True)
class LogSumExp(Op):
    """log Σ exp(x), computed as m + log Σ exp(x − m) with m = max x (finite for large x)."""

    axes: tuple
    keepdims: bool = False

    @property
    def name(self) -> str:
        return "logsumexp"

    def infer(self, x):
        dtype = dtypes.to_float(x.dtype)
        return [TensorType(dtype, reduced_shape(x.type.shape, self.axes, self.keepdims))]

    def perform(self, x):
        x = x.astype(dtypes.to_float(x.dtype.name), copy=False)
        if x.size == 0:
            return np.full(reduced_shape(x.shape, self.axes, self.keepdims), -np.inf, x.dtype)
        m = np.max(x, axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=self.axes, keepdims=True)) + m
        return out if self.keepdims else np.squeeze(out, self.axes)

    def grad(self, inputs, outputs, output_grads):
        # d lse / dx = exp(x − lse) = softmax(x)
        x = inputs[0]
        z = expand_reduced(outputs[0], x.ndim, self.axes)
        g = expand_reduced(output_grads[0], x.ndim, self.axes)
        return [g * exp(x - z)]


def logsumexp(x, axis=None, keepdims=False):
    x = as_variable(x)
    axes = reduced_axes(axis, x.ndim)
    return LogSumExp(axes, bool(keepdims))(x)
