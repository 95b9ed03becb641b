"""Dtypes and the promotion rules (see docs/semantics.md).

Integers promote among themselves as in NumPy 2; an integer meeting a float takes the float's
dtype (as JAX does), so `float32 + int64` stays `float32`. Python scalars are weak: they take the
dtype of the tensor they meet when the kinds agree.
"""

from __future__ import annotations

import numpy as np

DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64")
FLOATS = ("float32", "float64")
INTEGERS = ("uint8", "int8", "int16", "int32", "int64")
DEFAULT_FLOAT = "float32"


def as_dtype(dtype) -> str:
    """Normalize anything NumPy understands as a dtype to one of `DTYPES`."""
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise TypeError(f"unsupported dtype {name!r}; supported: {', '.join(DTYPES)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOATS


def is_integer(dtype: str) -> bool:
    return dtype in INTEGERS


def kind(dtype: str) -> str:
    """'b' for bool, 'i' for integers (signed or not), 'f' for floats."""
    return "b" if dtype == "bool" else "f" if dtype in FLOATS else "i"


def promote(*dtypes: str) -> str:
    """The dtype of an elementwise result over tensors of these dtypes."""
    floats = [d for d in dtypes if d in FLOATS]
    if floats:  # an integer operand never widens a float result
        return "float64" if "float64" in floats else "float32"
    return np.result_type(*dtypes).name


def to_float(dtype: str) -> str:
    """The dtype a float-only operation computes in: floats stay, the rest become float32."""
    return dtype if dtype in FLOATS else DEFAULT_FLOAT


def weak_scalar_dtype(value, partners: list[str]) -> str:
    """The dtype a Python bool/int/float takes next to tensors of dtypes `partners`.

    Weak typing: `x * 0.5` stays float32, `i + 1` keeps i's integer dtype.
    """
    value_kind = (
        "b"
        if isinstance(value, (bool, np.bool_))
        else ("i" if isinstance(value, (int, np.integer)) else "f")
    )
    if not partners:
        return {"b": "bool", "i": "int64", "f": DEFAULT_FLOAT}[value_kind]
    best = promote(*partners)
    order = "bif"
    if order.index(value_kind) <= order.index(kind(best)):
        return best
    return DEFAULT_FLOAT if value_kind == "f" else "int64"


def can_cast_safely(src: str, dst: str) -> bool:
    return bool(np.can_cast(src, dst, "safe"))


def weak_value(value, dtype: str) -> np.ndarray:
    """A Python number or nested list of them as an array of `dtype` (weak typing: the target
    decides the dtype), or TypeError: floats never go into integer or bool targets and integers
    must fit."""
    try:
        array = np.asarray(value)
    except Exception as e:
        raise TypeError(f"cannot turn {type(value).__name__} into an array") from e
    if array.dtype.kind not in "biuf" or (array.dtype.kind == "f" and kind(dtype) != "f"):
        raise TypeError(f"expects {dtype}, got {type(value).__name__} of {array.dtype} values")
    cast = array.astype(dtype)
    if kind(dtype) != "f" and not np.array_equal(cast, array):
        raise TypeError(f"values do not fit in {dtype}")
    return cast
