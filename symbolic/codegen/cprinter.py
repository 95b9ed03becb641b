"""Scalar C code: one statement per step of an elementwise program, printed from sympy.

Each step's sympy form (its scalar op's, with the operands converted to the dtype the op
computes in) is printed by a C99 code printer that knows that dtype: float32 spells `expf`,
`log1pf`, float64 `exp`, `log1p`. Where C's operators or libm do not give NumPy's result
(NaN-propagating maximum, floor division and modulo, sigmoid in its stable form) the form names
a helper from `prelude.py` instead, `NAME_<suffix>(…)`, e.g. `floordiv_i64(a, b)`.

C's own rules do the rest: integer arithmetic narrower than `int` is computed in `int` and
wraps when stored (as NumPy's does); int32/int64 arithmetic wraps too, because kernels are built
with `-fwrapv` (docs/kernels.md); a value stored in a `bool` is 1 when nonzero, so `+` and `*`
on booleans are NumPy's logical or/and.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp
from sympy.codegen.ast import float32, float64, real
from sympy.printing.c import C99CodePrinter

from symbolic import dtypes
from symbolic.elemwise import Cast, compute_dtypes
from symbolic.fused import FusedElemwise, sympy_cast

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


# Helpers of prelude.py, as sympy functions: the steps whose C meaning they carry (below).
maximum_fn, minimum_fn = sp.Function("maximum"), sp.Function("minimum")
floordiv_fn, mod_fn = sp.Function("floordiv"), sp.Function("mod")
log1mexp_fn = sp.Function("log1mexp")

# op name -> the form printed instead of the op's sympy form, and why
STEP_FORMS = {
    # sympy's Max/Min sort their arguments and print as fmax/fmin, which drop NaN; NumPy's
    # maximum propagates NaN and, on a tie of ±0, returns its second argument
    "maximum": maximum_fn,
    "minimum": minimum_fn,
    "relu": lambda a: maximum_fn(a, 0),
    "clip": lambda a, lo, hi: minimum_fn(maximum_fn(a, lo), hi),
    # NumPy's floor division and modulo (sign of the divisor; 0 for an integer zero divisor)
    "floor_div": floordiv_fn,
    "mod": mod_fn,
    # one call instead of a Piecewise with two libm calls in each branch
    "log1mexp": log1mexp_fn,
}

# sympy function name -> prelude helper stem, for every dtype the function is used with
HELPERS = {
    "maximum": "maximum",
    "minimum": "minimum",
    "floordiv": "floordiv",
    "mod": "mod",
    "log1mexp": "log1mexp",
    "sigmoid_fn": "sigmoid",
    "softplus_fn": "softplus",
}
BITWISE = {"bitwise_and": "&", "bitwise_or": "|"}


class ScalarPrinter(C99CodePrinter):
    """A C99 printer for expressions computed in one dtype (float32 prints `expf`, …)."""

    def __init__(self, dtype: str):
        alias = {"float32": float32, "float64": float64}.get(dtype, float64)
        # order "none": operands print in the program's order, not sympy's sorted one
        super().__init__({"type_aliases": {real: alias}, "math_macros": {}, "order": "none"})
        self.dtype = dtype
        self.is_float = dtypes.is_float(dtype)

    def _print_Symbol(self, expr):
        return expr.name

    def _print_Function(self, expr):
        name = type(expr).__name__
        args = [self._print(a) for a in expr.args]
        if name in HELPERS:
            return f"{HELPERS[name]}_{suffix(self.dtype)}({', '.join(args)})"
        if name.startswith("cast_"):
            return _print_cast(name[len("cast_") :], args[0])
        if name in BITWISE:
            return f"({args[0]} {BITWISE[name]} {args[1]})"
        if name == "invert":  # ~ on integers, logical not on bool (NumPy's invert of a bool)
            return f"(!{args[0]})" if self.dtype == "bool" else f"(({ctype(self.dtype)})~{args[0]})"
        if name in ("isnan", "isinf"):
            return f"{name}({args[0]})" if self.is_float else f"((void){args[0]}, false)"
        if name == "round":  # half to even: rint in the default rounding mode
            return self._print_math(expr, "rint") if self.is_float else args[0]
        return super()._print_Function(expr)

    def _print_math(self, expr, cname: str) -> str:
        f = "f" if self.dtype == "float32" else ""
        return f"{cname}{f}({self._print(expr.args[0])})"

    def _print_floor(self, expr):
        return self._print_math(expr, "floor") if self.is_float else self._print(expr.args[0])

    def _print_ceiling(self, expr):
        return self._print_math(expr, "ceil") if self.is_float else self._print(expr.args[0])

    def _print_Abs(self, expr):
        if self.is_float:
            return self._print_math(expr, "fabs")
        a = self._print(expr.args[0])
        return a if self.dtype in ("bool", "uint8") else f"({a} < 0 ? -{a} : {a})"

    def _print_sign(self, expr):
        a = self._print(expr.args[0])
        if self.is_float:
            return f"sign_{suffix(self.dtype)}({a})"
        if self.dtype == "bool":  # NumPy has no sign of booleans; the identity is the meaning
            return a
        if self.dtype == "uint8":  # never negative (and `a < 0` is a compiler warning)
            return f"({a} > 0)"
        return f"(({a} > 0) - ({a} < 0))"

    def _print_Pow(self, expr):
        base, exp = expr.args
        b = self._print(base)
        if exp == 2:  # square: one multiply, as NumPy's (and on booleans the value itself)
            return b if self.dtype == "bool" else f"({b} * {b})"
        if not self.is_float:
            return f"ipow_{suffix(self.dtype)}({b}, {self._print(exp)})"
        return super()._print_Pow(expr)

    def _print_Mul(self, expr):  # on booleans NumPy's * is logical and
        if self.dtype == "bool":
            return "(" + " && ".join(self._print(a) for a in expr.args) + ")"
        return super()._print_Mul(expr)

    def _print_Add(self, expr):  # on booleans NumPy's + is logical or
        if self.dtype == "bool":
            return "(" + " || ".join(self._print(a) for a in expr.args) + ")"
        return super()._print_Add(expr)

    def _print_Piecewise(self, expr):
        (value, cond), (other, _) = expr.args
        return f"({self._print(cond)} ? {self._print(value)} : {self._print(other)})"

    def _print_Relational(self, expr):
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[expr.rel_op]
        return f"({self._print(expr.lhs)} {op} {self._print(expr.rhs)})"


def _print_cast(to: str, arg: str) -> str:
    return f"({ctype(to)}){arg}" if arg.isidentifier() else f"({ctype(to)})({arg})"


@functools.cache
def printer(dtype: str) -> ScalarPrinter:
    return ScalarPrinter(dtype)


def convert(expr: sp.Basic, dtype: str, to: str) -> sp.Basic:
    """`expr` of `dtype` as a value of dtype `to`, as NumPy's astype converts it."""
    if dtype == to:
        return expr
    if to == "bool":
        return sp.Ne(expr, 0)
    if dtypes.is_float(dtype) and to in ("int8", "int16", "uint8"):
        # NumPy (on x86-64) goes through int32 and keeps the low bits: 300.0 → int8 44
        expr = sympy_cast("int32")(expr)
    return sympy_cast(to)(expr)


def step_form(op, args: list[sp.Symbol], arg_dtypes: list[str]) -> tuple[sp.Basic, str, str]:
    """(the step's sympy form, the dtype it is printed in, its output dtype)."""
    with sp.evaluate(False):
        if isinstance(op, Cast):
            return convert(args[0], arg_dtypes[0], op.dtype), op.dtype, op.dtype
        compute, out = compute_dtypes(op.scalar_op, arg_dtypes)
        operands = [convert(a, d, c) for a, d, c in zip(args, arg_dtypes, compute)]
        form = STEP_FORMS.get(op.name, op.scalar_op.sympy)
        return form(*operands), compute[-1], out


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
    """The statements of `program`, one `const T sK = …;` per step, reading the inputs by the
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
        form, printed_in, out = step_form(op, [sp.Symbol(n) for n in names], list(arg_dtypes))
        lines.append(f"const {ctype(out)} s{k} = {printer(printed_in).doprint(form)};")
        known["s"].append((f"s{k}", out))
    return lines, known["s"]


def render_constants(program: FusedElemwise) -> list[str]:
    """`const T cJ = literal;` for the program's inlined constants."""
    return [
        f"const {ctype(d)} c{j} = {literal(d, np.frombuffer(data, d)[0])};"
        for j, (d, data) in enumerate(program.constants)
    ]
