"""theano.tensor's variable constructors: scalar … tensor5, row, col, their dtype-prefixed forms
(bscalar … dtensor4), the plurals (scalars, fmatrices, …) and TensorType(dtype, broadcastable).

Built from two tables, so every family has every member.
"""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import unsupported
from symbolic.compat.theano.configparser import config

# Theano's dtype letters; c and z (complex64, complex128) have no dtype in symbolic
PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64"}
COMPLEX = {"c": "complex64", "z": "complex128"}

# kind -> broadcastable pattern (True: an axis of length 1, static shape 1 here)
KINDS = {
    "scalar": (),
    "vector": (False,),
    "matrix": (False, False),
    "row": (True, False),
    "col": (False, True),
    "tensor3": (False,) * 3,
    "tensor4": (False,) * 4,
    "tensor5": (False,) * 5,
}
PLURALS = {"matrix": "matrices"}  # the rest add an s


def resolve_dtype(dtype) -> str:
    """Theano's dtype argument: None and "floatX" mean config.floatX."""
    if dtype is None or dtype == "floatX":
        return config.floatX
    if str(dtype).startswith("complex"):
        raise unsupported(f"dtype {dtype!r}", "float32 or float64 (no complex dtypes)")
    return dtype


class TensorType:
    """TensorType(dtype, broadcastable)(name): a symbolic input of that dtype and ndim, its
    broadcastable axes of static length 1."""

    def __init__(self, dtype, broadcastable, name=None, sparse_grad=False):
        self.dtype = resolve_dtype(dtype)
        self.broadcastable = tuple(bool(b) for b in broadcastable)
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.broadcastable)

    def __call__(self, name=None):
        shape = [1 if b else None for b in self.broadcastable]
        return S.tensor(name, self.dtype, shape)

    def __repr__(self) -> str:
        return f"TensorType({self.dtype}, {self.broadcastable})"


def _constructor(kind: str, fixed_dtype: str | None):
    pattern = KINDS[kind]

    def make(name=None, dtype=None):
        return TensorType(fixed_dtype or dtype, pattern)(name)

    make.__name__ = kind if fixed_dtype is None else f"?{kind}"
    make.__doc__ = f"A symbolic {kind} ({fixed_dtype or 'config.floatX unless dtype='})."
    return make


def _plural(single):
    def make(*names, dtype=None):
        """Several at once: names as arguments, one comma-separated string, or a count."""
        if len(names) == 1 and isinstance(names[0], int):
            names = [None] * names[0]
        elif len(names) == 1 and isinstance(names[0], str):
            names = [n.strip() for n in names[0].split(",")]
        elif len(names) == 1 and isinstance(names[0], (list, tuple)):
            names = list(names[0])
        made = [single(n) if dtype is None else single(n, dtype) for n in names]
        return made[0] if len(made) == 1 else made

    return make


def _complex(name: str):
    def make(*args, **kwargs):
        raise unsupported(f"theano.tensor.{name}", "a float32 or float64 tensor")

    return make


def build() -> dict:
    """Every constructor by its Theano name."""
    found = {}
    for kind in KINDS:
        plural = PLURALS.get(kind, kind + "s")
        found[kind] = _constructor(kind, None)
        found[plural] = _plural(found[kind])
        for letter, dtype in PREFIXES.items():
            single = _constructor(kind, dtype)
            single.__name__ = letter + kind
            found[letter + kind] = single
            found[letter + plural] = _plural(single)
        for letter in COMPLEX:
            found[letter + kind] = found[letter + plural] = _complex(letter + kind)
    return found


CONSTRUCTORS = build()
