"""Variables, operation nodes and graph traversal.

A graph is made of `Variable`s and `Apply` nodes (an op applied to input variables, producing
output variables). Both are immutable once built: rewrites build new nodes instead of editing
old ones, so a variable can be shared by many graphs safely.
"""

from __future__ import annotations

import itertools
from collections.abc import Container, Iterable, Sequence
from typing import NamedTuple

import numpy as np

from symbolic import dtypes
from symbolic.operators import TensorOperators
from symbolic.trace import Location, user_location

Shape = tuple  # tuple[int | None, ...]: an int where known, None where not


class TensorType(NamedTuple):
    """What is known at build time: the dtype and the static shape."""

    dtype: str
    shape: Shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple:
        """Theano's pattern: True where the static length is 1."""
        return tuple(d == 1 for d in self.shape)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}({dims}{',' if len(self.shape) == 1 else ''})"


def make_type(dtype, shape: Iterable) -> TensorType:
    shape = tuple(None if d is None else int(d) for d in shape)
    if any(d is not None and d < 0 for d in shape):
        raise ValueError(f"static shape {shape} has a negative dimension")
    return TensorType(dtypes.as_dtype(dtype), shape)


_ids = itertools.count()


class Variable(TensorOperators):
    """A symbolic tensor: an input, a constant, a shared variable, or the output of an `Apply`."""

    __slots__ = ("type", "owner", "index", "name", "location", "uid")

    def __init__(
        self,
        type: TensorType,
        owner: Apply | None = None,
        index: int = 0,
        name: str | None = None,
        location: Location | None = None,
    ):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.location = location
        self.uid = next(_ids)  # creation order: makes every traversal deterministic

    dtype = property(lambda self: self.type.dtype)
    ndim = property(lambda self: self.type.ndim)
    static_shape = property(lambda self: self.type.shape)
    broadcastable = property(lambda self: self.type.broadcastable)  # Theano's spelling

    def __repr__(self) -> str:
        label = self.name or (self.owner.op.name if self.owner else type(self).__name__.lower())
        return f"<{label}: {self.type}>"

    __str__ = __repr__

    def describe(self) -> str:
        """A phrase naming this variable for error messages."""
        where = self.location or (self.owner.location if self.owner else None)
        what = (
            repr(self.name)
            if self.name
            else (f"the output of {self.owner.op.name}" if self.owner else "an unnamed input")
        )
        return f"{what} ({self.type})" + (f", built at {where}" if where else "")


class Constant(Variable):
    """A value fixed at build time; its data is read-only."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray, name: str | None = None):
        data = np.array(data)  # a private copy
        data.setflags(write=False)
        super().__init__(make_type(data.dtype, data.shape), name=name)
        self.data = data

    def __repr__(self) -> str:
        text = np.array2string(self.data, threshold=6, precision=4)
        return f"<constant {text}: {self.type}>" if self.name is None else super().__repr__()


class SharedVariable(Variable):
    """State that lives between calls of compiled functions (weights, counters, RNG state).

    Its dtype and ndim are fixed at creation; its shape may change through `set_value`, so the
    static shape is unknown (None) on every axis. `strict` and `allow_downcast` say what
    `set_value` accepts (see `shared`).
    """

    __slots__ = ("_value", "strict", "allow_downcast")

    def __init__(
        self,
        value: np.ndarray,
        name: str | None = None,
        borrow: bool = False,
        strict: bool = False,
        allow_downcast: bool | None = None,
    ):
        value = np.asarray(value) if borrow else np.array(value)
        type = make_type(value.dtype, (None,) * value.ndim)
        super().__init__(type, name=name, location=user_location())
        self._value = value
        self.strict = bool(strict)
        self.allow_downcast = allow_downcast

    def get_value(self, borrow: bool = False) -> np.ndarray:
        return self._value if borrow else self._value.copy()

    def set_value(self, value, borrow: bool = False) -> None:
        """Replace the value; with `borrow` an array of the right dtype is kept, not copied.

        A Python number or list takes the variable's dtype (weakly typed, as `x * 0.5`: a
        float goes into a float32 variable, never into an integer one); an array must have
        the variable's dtype, unless the variable was made with `allow_downcast=True`, which
        casts any numeric array. A `strict` variable takes arrays of its exact dtype only.
        """
        self._value = self._converted(value, borrow)

    def _converted(self, value, borrow: bool) -> np.ndarray:
        what = f"shared variable {self.name or '(unnamed)'}"
        if isinstance(value, (np.ndarray, np.generic)):
            array = np.asarray(value) if borrow else np.array(value)
            if array.dtype.name != self.dtype and self.allow_downcast and not self.strict:
                array = array.astype(self.dtype)
        elif self.strict:
            raise TypeError(f"{what} is strict: it takes {self.dtype} arrays only, got {value!r}")
        else:
            try:
                array = dtypes.weak_value(value, self.dtype)
            except TypeError as e:
                raise TypeError(f"{what}: {e}") from None
        if array.dtype.name != self.dtype or array.ndim != self.ndim:
            raise TypeError(
                f"{what} holds {self.ndim}-d {self.dtype} values; got a {array.ndim}-d "
                f"{array.dtype.name} array"
                + ("" if array.ndim != self.ndim else f" (cast it with .astype({self.dtype!r}))")
            )
        return array


class Apply:
    """One application of an op: `outputs = op(*inputs)`."""

    # `location`: where the user built it; `member_locations`: for a node that fusion made of
    # several, where each of those was built (distinct, in order), else empty.
    __slots__ = ("op", "inputs", "outputs", "location", "member_locations")

    def __init__(self, op, inputs: Sequence[Variable], output_types: Sequence[TensorType]):
        self.op = op
        self.inputs = tuple(inputs)
        self.location = user_location()
        self.member_locations: tuple = ()
        self.outputs = tuple(Variable(t, self, i) for i, t in enumerate(output_types))

    def __repr__(self) -> str:
        return f"{self.op.name}({', '.join(map(repr, self.inputs))})"


# ---- constructors -------------------------------------------------------------------------


def tensor(name: str | None = None, dtype="float32", shape: Iterable = ()) -> Variable:
    """A symbolic input with a static shape (None = unknown, 1 = broadcastable)."""
    return Variable(make_type(dtype, shape), name=name, location=user_location())


def scalar(name=None, dtype="float32"):
    return tensor(name, dtype, ())


def vector(name=None, dtype="float32"):
    return tensor(name, dtype, (None,))


def matrix(name=None, dtype="float32"):
    return tensor(name, dtype, (None, None))


def tensor3(name=None, dtype="float32"):
    return tensor(name, dtype, (None,) * 3)


def tensor4(name=None, dtype="float32"):
    return tensor(name, dtype, (None,) * 4)


def constant(value, dtype=None, name: str | None = None) -> Constant:
    """A constant tensor. Python floats become float32 unless `dtype` says otherwise."""
    if dtype is None:
        if is_python_scalar(value):
            dtype = dtypes.weak_scalar_dtype(value, [])
        else:
            dtype = dtypes.as_dtype(np.asarray(value).dtype)
    return Constant(_cast_exactly(value, dtypes.as_dtype(dtype)), name=name)


def shared(
    value,
    name: str | None = None,
    borrow: bool = False,
    strict: bool = False,
    allow_downcast: bool | None = None,
) -> SharedVariable:
    """State that lives between calls: `W = S.shared(np.zeros((784, 10), np.float32), "W")`.

    Parameters
    ----------
    value : the initial value; its dtype and ndim are the variable's for good.
    name : shown in errors and printed graphs.
    borrow : keep `value` itself (an ndarray) instead of a copy, as `set_value(v, borrow=True)`:
        writes to the array are then seen by the variable and the other way round.
    strict : `set_value` then takes arrays of exactly the variable's dtype only (no Python
        numbers, no casts).
    allow_downcast : True lets `set_value` cast arrays of any numeric dtype into the
        variable's (float64 data into a float32 variable); None or False: arrays must have its
        dtype already.
    """
    if not borrow or not isinstance(value, np.ndarray):
        value = np.asarray(value)
    dtypes.as_dtype(value.dtype)
    return SharedVariable(value, name, borrow, strict, allow_downcast)


def is_python_scalar(value) -> bool:
    """A Python bool, int or float (weakly typed), not a NumPy scalar (np.float64 is a float)."""
    return isinstance(value, (bool, int, float)) and not isinstance(value, np.generic)


def _cast_exactly(value, dtype: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.name == dtype:
        return array
    cast = array.astype(dtype)
    if dtypes.kind(dtype) != "f" and not np.array_equal(cast, array):
        raise OverflowError(f"value {value!r} does not fit in {dtype}")
    return cast


def as_variable(value, partners: Sequence[Variable] = ()) -> Variable:
    """A variable as is; a Python number as a weakly typed constant (dtype from `partners`)."""
    if isinstance(value, Variable):
        return value
    if is_python_scalar(value):  # weak: the partners decide the dtype
        dtype = dtypes.weak_scalar_dtype(value, [p.dtype for p in partners])
        return Constant(_cast_exactly(value, dtype))
    if isinstance(value, (np.ndarray, np.generic, list, tuple)):
        return constant(np.asarray(value))
    raise TypeError(f"cannot turn {type(value).__name__} {value!r} into a symbolic tensor")


# ---- traversal ----------------------------------------------------------------------------


def toposort(
    outputs: Iterable[Variable], stop: Iterable[Variable] = (), stop_ids: Container[int] = ()
) -> list[Apply]:
    """The Apply nodes the outputs depend on, each after its inputs' owners.

    Iterative (graphs can be 10,000 nodes deep) and deterministic: inputs are visited in order.
    Variables in `stop`, and those whose id is in `stop_ids` (any container: a memo's dict
    is used as is, not copied), are treated as leaves. Linear in nodes + edges: each node is
    expanded once and each edge pushed once.
    """
    stopped = {id(v) for v in stop}
    order: list[Apply] = []
    seen: set[int] = set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            var, expanded = stack.pop()
            node = var.owner
            if node is None or id(var) in stopped or id(var) in stop_ids:
                continue
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((var, True))
            stack.extend((i, False) for i in reversed(node.inputs))
    return order


def graph_inputs(outputs: Iterable[Variable]) -> list[Variable]:
    """The leaf variables (no owner) the outputs depend on, in a deterministic order."""
    outputs = list(outputs)
    leaves, seen = [], set()
    for v in outputs + [i for node in toposort(outputs) for i in node.inputs]:
        if v.owner is None and id(v) not in seen:
            seen.add(id(v))
            leaves.append(v)
    return leaves


def clone_replace(
    outputs: Sequence[Variable], replace: dict, memo: dict[int, Variable] | None = None
) -> list[Variable]:
    """The outputs rebuilt with variables substituted: `replace` maps old → new variable.

    Nodes downstream of a replaced variable are rebuilt through their op (so types are inferred
    again); untouched sub-graphs are shared, not copied. `memo` (id(old variable) → its
    result), when given, is read and extended: calls that share it, with the same `replace`,
    walk each node once in all (the caller keeps the old variables alive).
    """
    memo = {} if memo is None else memo
    memo.update((id(old), new) for old, new in replace.items())
    for node in toposort(outputs, stop_ids=memo):
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            rebuilt = node
        else:
            rebuilt = node.op.make_node(*new_inputs)
            rebuilt.location = node.location  # where the user built it, for error messages
        for old, new in zip(node.outputs, rebuilt.outputs):
            memo[id(old)] = new
    return [memo.get(id(o), o) for o in outputs]
