"""Indexing: x[...] with basic slices, integers, None and integer arrays; set/inc_subtensor.

An index is kept as a static `spec` (one entry per index item) plus the symbolic pieces as extra
inputs of the op, so `x[i:j]` with symbolic i, j is one node. Spec entries:
  ("newaxis",)                  None in the index
  ("int", k)                    an integer; k is the value, or DYN for the next input
  ("slice", start, stop, step)  each an int, None (absent) or DYN
  ("array",)                    an integer tensor (advanced indexing), the next input
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.alloc import arange, sum_to, zeros_like
from symbolic.elemwise import broadcast_shapes, eq, where
from symbolic.graph import TensorType, Variable, as_variable, constant
from symbolic.op import Op
from symbolic.shape import reshape, shape_of, static_int

DYN = "$"


def parse_index(x: Variable, key) -> tuple[tuple, list[Variable]]:
    """(spec, dynamic inputs) for x[key], with Ellipsis expanded."""
    key = key if isinstance(key, tuple) else (key,)
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if used > x.ndim:
        raise IndexError(f"too many indices for {x.describe()}: {used} for {x.ndim} axes")
    expanded = []
    for k in key:
        expanded.extend([slice(None)] * (x.ndim - used) if k is Ellipsis else [k])
    spec, inputs = [], []

    def piece(v):
        if v is None:
            return None
        if isinstance(v, (int, np.integer)):
            return int(v)
        inputs.append(_integer_scalar(as_variable(v)))
        return DYN

    for k in expanded:
        if k is None:
            spec.append(("newaxis",))
        elif isinstance(k, slice):
            spec.append(("slice", piece(k.start), piece(k.stop), piece(k.step)))
        elif isinstance(k, (int, np.integer)):
            spec.append(("int", int(k)))
        else:
            v = as_variable(k) if isinstance(k, Variable) else constant(np.asarray(k))
            if v.dtype == "bool" or dtypes.is_float(v.dtype):
                raise IndexError(
                    f"index {v.describe()}: only integer indices are supported "
                    "(for boolean masks use S.where)"
                )
            inputs.append(v)
            spec.append(("int", DYN) if v.ndim == 0 else ("array",))
    return tuple(spec), inputs


def _integer_scalar(v: Variable) -> Variable:
    if v.ndim != 0 or not (dtypes.is_integer(v.dtype) or v.dtype == "bool"):
        raise IndexError(f"slice bounds must be integer scalars, got {v.describe()}")
    return v


def build_index(spec: tuple, dynamic) -> tuple:
    """The NumPy index tuple for a spec and the values of its dynamic inputs."""
    values = iter(dynamic)

    def get(v):
        return int(next(values)) if v == DYN else v

    index = []
    for entry in spec:
        tag = entry[0]
        if tag == "newaxis":
            index.append(None)
        elif tag == "int":
            index.append(get(entry[1]))
        elif tag == "slice":
            index.append(slice(get(entry[1]), get(entry[2]), get(entry[3])))
        else:
            index.append(next(values))
    return tuple(index)


def indexed_shape(shape: tuple, spec: tuple, dynamic: list[Variable]) -> tuple:
    """The static shape of x[index], following NumPy's basic and advanced indexing rules."""
    inputs, axes = iter(dynamic), iter(range(len(shape)))
    advanced = any(e[0] == "array" for e in spec)
    out, adv_shapes, adv_positions = [], [], []
    for pos, entry in enumerate(spec):
        tag = entry[0]
        if tag == "newaxis":
            out.append(1)
            continue
        size = shape[next(axes)]
        if tag == "slice":
            bounds = [static_int(next(inputs)) if b == DYN else b for b in entry[1:]]
            known = all(b is not None for b, e in zip(bounds, entry[1:]) if e == DYN)
            out.append(_slice_length(size, *bounds) if known else None)
        elif tag == "int":
            if entry[1] == DYN:
                next(inputs)
            elif size is not None and not -size <= entry[1] < size:
                raise IndexError(f"index {entry[1]} is out of bounds for an axis of size {size}")
            if advanced:  # an integer next to arrays is a 0-d advanced index
                adv_shapes.append(())
                adv_positions.append((pos, len(out)))
        else:
            adv_shapes.append(next(inputs).type.shape)
            adv_positions.append((pos, len(out)))
    out.extend(shape[a] for a in axes)
    if not adv_shapes:
        return tuple(out)
    adv = broadcast_shapes("advanced indexing", adv_shapes)
    spec_positions = [p for p, _ in adv_positions]
    adjacent = spec_positions[-1] - spec_positions[0] + 1 == len(spec_positions)
    insert_at = adv_positions[0][1] if adjacent else 0
    return tuple(out[:insert_at]) + adv + tuple(out[insert_at:])


def _slice_length(size, start, stop, step):
    if step == 0:
        raise ValueError("slice step cannot be zero")
    if size is not None:
        return len(range(*slice(start, stop, step).indices(size)))
    if (start, stop, step) == (None, None, None) or (start, stop, step) == (None, None, 1):
        return size
    return None


@dataclass(frozen=True)
class Subtensor(Op):
    spec: tuple

    @property
    def name(self) -> str:
        return "advanced_subtensor" if any(e[0] == "array" for e in self.spec) else "subtensor"

    def infer(self, x, *dynamic):
        return [TensorType(x.dtype, indexed_shape(x.type.shape, self.spec, list(dynamic)))]

    def perform(self, x, *dynamic):
        return x[build_index(self.spec, dynamic)]

    def grad(self, inputs, outputs, output_grads):
        x, dynamic = inputs[0], inputs[1:]
        gx = IncSubtensor(self.spec, "inc")(zeros_like(x), output_grads[0], *dynamic)
        return [gx] + [None] * len(dynamic)


@dataclass(frozen=True)
class IncSubtensor(Op):
    """x with x[index] set to v (mode "set") or increased by v (mode "inc").

    Repeated integer-array indices accumulate in "inc" mode, as np.add.at.
    """

    spec: tuple
    mode: str

    @property
    def name(self) -> str:
        return f"{self.mode}_subtensor"

    def infer(self, x, v, *dynamic):
        target = indexed_shape(x.type.shape, self.spec, list(dynamic))
        if v.ndim > len(target):
            raise ValueError(
                f"{self.name}: value of shape {v.type.shape} does not fit "
                f"the indexed shape {target}"
            )
        broadcast_shapes(self.name, [target, v.type.shape])
        return [x.type]

    def perform(self, x, v, *dynamic):
        index = build_index(self.spec, dynamic)
        out = x.copy()
        v = v.astype(x.dtype, copy=False)
        if self.mode == "set":
            out[index] = v
        elif any(e[0] == "array" for e in self.spec):
            np.add.at(out, index, v)
        else:
            out[index] += v
        return out

    def grad(self, inputs, outputs, output_grads):
        x, v, dynamic = inputs[0], inputs[1], inputs[2:]
        g = output_grads[0]
        gx = (
            g
            if self.mode == "inc"
            else IncSubtensor(self.spec, "set")(g, constant(0, g.dtype), *dynamic)
        )
        gv = None
        if dtypes.is_float(v.dtype):
            g_at = Subtensor(self.spec)(g, *dynamic)
            if self.mode == "set" and any(e[0] == "array" for e in self.spec):
                g_at = where(_last_writes(self.spec, x, dynamic), g_at, 0)
            gv = sum_to(g_at, v)
        return [gx if dtypes.is_float(x.dtype) else None, gv] + [None] * len(dynamic)


def _last_writes(spec: tuple, x: Variable, dynamic) -> Variable:
    """True at each position of x[index] whose value set_subtensor keeps: with repeated
    integer-array indices the last write (in C order) wins, and earlier ones get no gradient."""
    positions = Subtensor(spec)(zeros_like(x, "int64"), *dynamic)
    positions = reshape(arange(positions.size, dtype="int64"), shape_of(positions))
    written = IncSubtensor(spec, "set")(zeros_like(x, "int64"), positions, *dynamic)
    return eq(Subtensor(spec)(written, *dynamic), positions)


def getitem(x: Variable, key) -> Variable:
    spec, dynamic = parse_index(x, key)
    if all(e == ("slice", None, None, None) for e in spec):
        return x
    return Subtensor(spec)(x, *dynamic)


def _indexed(target: Variable, fn: str):
    node = target.owner
    if node is None or not isinstance(node.op, Subtensor):
        raise TypeError(f"{fn} needs an indexed tensor such as x[1:3], got {target.describe()}")
    return node.op.spec, node.inputs[0], node.inputs[1:]


def set_subtensor(target: Variable, value) -> Variable:
    """A copy of `x` with x[index] replaced by value, for target = x[index]."""
    spec, x, dynamic = _indexed(target, "set_subtensor")
    return IncSubtensor(spec, "set")(x, as_variable(value, [x]), *dynamic)


def inc_subtensor(target: Variable, value) -> Variable:
    """A copy of `x` with value added at x[index], for target = x[index]."""
    spec, x, dynamic = _indexed(target, "inc_subtensor")
    return IncSubtensor(spec, "inc")(x, as_variable(value, [x]), *dynamic)
