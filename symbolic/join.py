"""Joining tensors along an axis: concatenate and stack."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.elemwise import add, cast
from symbolic.graph import TensorType, Variable, as_variable, constant
from symbolic.op import Op
from symbolic.shape import dim, expand_dims, normalize_axes


@dataclass(frozen=True)
class Join(Op):
    axis: int

    @property
    def name(self) -> str:
        return "concatenate"

    def infer(self, *xs):
        if not xs:
            raise ValueError("concatenate needs at least one tensor")
        ndim = xs[0].ndim
        if any(x.ndim != ndim for x in xs) or not 0 <= self.axis < ndim:
            raise ValueError(
                f"concatenate on axis {self.axis}: inputs "
                f"{[str(x.type) for x in xs]} must have one ndim > axis"
            )
        shape = []
        for a, dims in enumerate(zip(*[x.type.shape for x in xs])):
            if a == self.axis:
                shape.append(None if None in dims else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise ValueError(
                    f"concatenate on axis {self.axis}: sizes differ on axis {a}: "
                    f"{[x.type.shape for x in xs]}"
                )
            shape.append(known.pop() if known else None)
        return [TensorType(dtypes.promote(*[x.dtype for x in xs]), tuple(shape))]

    def perform(self, *xs):
        return np.concatenate(xs, axis=self.axis).astype(
            dtypes.promote(*[x.dtype.name for x in xs]), copy=False
        )

    def grad(self, inputs, outputs, output_grads):
        g, grads, start = output_grads[0], [], constant(0, "int64")
        for x in inputs:
            stop = add(start, dim(x, self.axis))
            piece = g[(slice(None),) * self.axis + (slice(start, stop),)]
            grads.append(cast(piece, x.dtype) if dtypes.is_float(x.dtype) else None)
            start = stop
        return grads


def concatenate(tensors, axis: int = 0) -> Variable:
    """Join tensors along an existing axis, as np.concatenate."""
    tensors = [as_variable(t) for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    return Join(normalize_axes(axis, tensors[0].ndim)[0])(*tensors)


def stack(tensors, axis: int = 0) -> Variable:
    """Join tensors along a new axis, as np.stack."""
    tensors = [as_variable(t) for t in tensors]
    axis = normalize_axes(axis, tensors[0].ndim + 1)[0]
    return concatenate([expand_dims(t, axis) for t in tensors], axis)
