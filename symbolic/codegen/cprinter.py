"""Scalar C code: one statement per step of an elementwise program, from one table of spellings.

A step is a scalar op applied to C names (inputs x0…, constants c0…, earlier steps s0…). Its
operands are first converted to the dtype the op computes in (the op's dtype rule, as in the
NumPy reference), then `SPELLINGS` writes the C expression in that dtype: float32 spells
`expf`, `log1pf`, float64 `exp`, `log1p`. Where C's operators or libm do not give NumPy's
result (NaN-propagating maximum, floor division and modulo, sigmoid in its stable form) the
spelling names a helper from `prelude.py`, `NAME_<suffix>(…)`, e.g. `floordiv_i64(a, b)`.

The meaning of every op is its sympy form (scalar_sympy.py), which fusion and tests read; this
table is only how C says it, so rendering a kernel needs no sympy (whose import is a quarter
of a second of a cold start).

C's own rules do the rest: integer arithmetic narrower than `int` is computed in `int` and
wraps when stored (as NumPy's does); int32/int64 arithmetic wraps too, because kernels are built
with `-fwrapv` (docs/kernels.md); a value stored in a `bool` is 1 when nonzero, so `+` and `*`
on booleans are NumPy's logical or/and.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from symbolic import dtypes
from symbolic.elemwise import Cast, compute_dtypes
from symbolic.fused import FusedElemwise

# dtype -> (C type, the suffix of its helpers in prelude.py)
CTYPES = {
    "bool": ("bool", "b"),
    "uint8": ("uint8_t", "u8"),
    "int8": ("int8_t", "i8"),
    "int16": ("int16_t", "i16"),
    "int32": ("int32_t", "i32"),
    "int64": ("int64_t", "i64"),
    "float32": ("float", "f32"),
    "float64": ("double", "f64"),
}


def ctype(dtype: str) -> str:
    return CTYPES[dtype][0]


def suffix(dtype: str) -> str:
    return CTYPES[dtype][1]


# A spelling: (the operands as C text, already in the dtype the op computes in; that dtype)
# -> the C expression.
Spelling = Callable[[list, str], str]


def _f(dtype: str) -> str:
    """The suffix of libm's names in `dtype`: expf for float32, exp for float64."""
    return "f" if dtype == "float32" else ""


def _libm(stem: str) -> Spelling:
    """A libm function of one argument in the dtype's precision."""
    return lambda a, t: f"{stem}{_f(t)}({a[0]})"


def _helper(stem: str) -> Spelling:
    """A helper of prelude.py for the dtype: maximum_f32(a, b)."""
    return lambda a, t: f"{stem}_{suffix(t)}({', '.join(a)})"


def _floats(spelling: Spelling, otherwise: Spelling) -> Spelling:
    """`spelling` for float dtypes, `otherwise` for bool and integers."""
    return lambda a, t: spelling(a, t) if dtypes.is_float(t) else otherwise(a, t)


def _infix(op: str, bool_op: str | None = None) -> Spelling:
    """`a op b`; on booleans `bool_op` (NumPy's + and * of booleans are or and and)."""
    if bool_op is None:
        return lambda a, t: f"{a[0]}{op}{a[1]}"
    return lambda a, t: f"({a[0]} {bool_op} {a[1]})" if t == "bool" else f"{a[0]}{op}{a[1]}"


def _compare(op: str) -> Spelling:
    return lambda a, t: f"({a[0]} {op} {a[1]})"


def _integer_sign(a: str, t: str) -> str:
    if t == "bool":
        return a
    return f"({a} > 0)" if t == "uint8" else f"(({a} > 0) - ({a} < 0))"


def _identity(a, t) -> str:  # floor, ceil, round of an integer; |b| and square of a bool
    return a[0]


# libm functions of one float argument: op name -> C stem
LIBM = {
    "exp": "exp",
    "exp2": "exp2",
    "log": "log",
    "log2": "log2",
    "log10": "log10",
    "log1p": "log1p",
    "expm1": "expm1",
    "sqrt": "sqrt",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "arctanh": "atanh",
    "erf": "erf",
    "erfc": "erfc",
}

# op name -> its C spelling; every name of scalar_ops.SCALAR_OPS has one
SPELLINGS: dict[str, Spelling] = {
    **{name: _libm(stem) for name, stem in LIBM.items()},
    # stable forms of prelude.py: σ and softplus through e^−|x|, log(1 − e^x) in two branches
    "sigmoid": _helper("sigmoid"),
    "softplus": _helper("softplus"),
    "log1mexp": _helper("log1mexp"),
    "reciprocal": lambda a, t: f"{'1.0F' if t == 'float32' else '1.0'}/{a[0]}",
    "neg": lambda a, t: a[0] if t == "bool" else f"-{a[0]}",  # a bool −b ≠ 0 is b
    "abs": _floats(
        _libm("fabs"),
        lambda a, t: a[0] if t in ("bool", "uint8") else f"({a[0]} < 0 ? -{a[0]} : {a[0]})",
    ),
    "square": lambda a, t: a[0] if t == "bool" else f"({a[0]} * {a[0]})",  # one multiply
    # no sign of booleans in NumPy (the identity is the meaning); uint8 is never negative (and
    # `a < 0` on it is a compiler warning)
    "sign": _floats(_helper("sign"), lambda a, t: _integer_sign(a[0], t)),
    "floor": _floats(_libm("floor"), _identity),
    "ceil": _floats(_libm("ceil"), _identity),
    "round": _floats(_libm("rint"), _identity),  # half to even: rint, default rounding mode
    # NaN-propagating (fmax/fmin drop NaN); on a tie of ±0 the second argument, as NumPy's
    "relu": lambda a, t: f"maximum_{suffix(t)}({a[0]}, 0)",
    "maximum": _helper("maximum"),
    "minimum": _helper("minimum"),
    "clip": lambda a, t: f"minimum_{suffix(t)}(maximum_{suffix(t)}({a[0]}, {a[1]}), {a[2]})",
    "add": _infix(" + ", "||"),
    "sub": _infix(" - ", "||"),  # a bool a − b ≠ 0 is a or b
    "mul": _infix("*", "&&"),
    "true_div": _infix("/"),
    # NumPy's floor division and modulo: sign of the divisor, 0 for an integer zero divisor
    "floor_div": _helper("floordiv"),
    "mod": _helper("mod"),
    "pow": _floats(lambda a, t: f"pow{_f(t)}({a[0]}, {a[1]})", _helper("ipow")),
    "lt": _compare("<"),
    "le": _compare("<="),
    "gt": _compare(">"),
    "ge": _compare(">="),
    "eq": _compare("=="),
    "neq": _compare("!="),
    "and": _compare("&"),
    "or": _compare("|"),
    # ~ on integers, logical not on bool (NumPy's invert of a bool)
    "invert": lambda a, t: f"(!{a[0]})" if t == "bool" else f"(({ctype(t)})~{a[0]})",
    "isnan": _floats(lambda a, t: f"isnan({a[0]})", lambda a, t: f"((void){a[0]}, false)"),
    "isinf": _floats(lambda a, t: f"isinf({a[0]})", lambda a, t: f"((void){a[0]}, false)"),
    "where": lambda a, t: f"({a[0]} ? {a[1]} : {a[2]})",
}


def convert(name: str, dtype: str, to: str) -> str:
    """The C value `name` of `dtype` as a value of dtype `to`, as NumPy's astype converts it."""
    if dtype == to:
        return name
    if to == "bool":
        return f"({name} != 0)"
    if dtypes.is_float(dtype) and to in ("int8", "int16", "uint8"):
        # NumPy (on x86-64) goes through int32 and keeps the low bits: 300.0 → int8 44
        name = f"(int32_t){name}"
    return f"({ctype(to)}){name}" if name.isidentifier() else f"({ctype(to)})({name})"


def render_step(op, names: list, arg_dtypes: list) -> tuple[str, str]:
    """(the C expression of one step on operands `names` of `arg_dtypes`, its output dtype)."""
    if isinstance(op, Cast):
        return convert(names[0], arg_dtypes[0], op.dtype), op.dtype
    compute, out = compute_dtypes(op.scalar_op, arg_dtypes)
    operands = [convert(n, d, c) for n, d, c in zip(names, arg_dtypes, compute)]
    return SPELLINGS[op.name](operands, compute[-1]), out


def literal(dtype: str, value) -> str:
    """A C literal of exactly this value in this dtype."""
    value = np.asarray(value, dtype).item()
    if dtype == "bool":
        return "true" if value else "false"
    if dtypes.is_float(dtype):
        if value != value:
            return "NAN"
        if value in (float("inf"), float("-inf")):
            return "INFINITY" if value > 0 else "-INFINITY"
        text = str(np.dtype(dtype).type(value))  # the shortest decimal that reads back exactly
        text = text if any(c in text for c in ".en") else text + ".0"
        return text + ("f" if dtype == "float32" else "")
    info = np.iinfo(dtype)
    if dtype in ("int32", "int64") and value == info.min:  # −2^31 is not a literal: 2^31 is one
        return f"({literal(dtype, value + 1)} - 1)"
    return f"INT64_C({value})" if dtype == "int64" else str(value)


def render_program(program: FusedElemwise, input_names: list[str]) -> tuple[list[str], list]:
    """The statements of `program`, one `const T sK = …;  // op` per step, reading the inputs by the
    given C names and the constants as c0, c1, … (see `render_constants`).

    Returns the lines and, per step, (its C name, its dtype).
    """
    known = {
        "x": list(zip(input_names, program.input_dtypes)),
        "c": [(f"c{j}", d) for j, (d, _) in enumerate(program.constants)],
        "s": [],
    }
    lines = []
    for k, (op, refs) in enumerate(program.steps):
        names, arg_dtypes = zip(*[known[r.kind][r.index] for r in refs])
        text, out = render_step(op, list(names), list(arg_dtypes))
        lines.append(f"const {ctype(out)} s{k} = {text};  // {op.name}")
        known["s"].append((f"s{k}", out))
    return lines, known["s"]


def render_constants(program: FusedElemwise) -> list[str]:
    """`const T cJ = literal;` for the program's inlined constants."""
    return [
        f"const {ctype(d)} c{j} = {literal(d, np.frombuffer(data, d)[0])};"
        for j, (d, data) in enumerate(program.constants)
    ]
