"""What every C-family kernel language shares: the kernel signature, pointers, loads, and the
scalar code of an element; a language is a subclass that changes attributes (and, where its
loops differ, the loop skeletons). `c.py` is the C (OpenMP) one.
"""

from __future__ import annotations

from symbolic.codegen.cprinter import ctype, render_constants, render_program
from symbolic.codegen.prelude import PRAGMAS, UNITS, render_helpers, render_vector_math
from symbolic.fused import FusedElemwise

INDENT = "    "


def block(header: str, body: list[str], footer: str = "}") -> list[str]:
    """`header {`, the body indented one level, `}`."""
    return [header + " {", *[INDENT + line if line else line for line in body], footer]


def if_else(condition: str, then: list[str], otherwise: list[str]) -> list[str]:
    """`if (condition) { then } else { otherwise }`."""
    return block(f"if ({condition})", then, "} else {") + block("", otherwise)[1:]


class CStyleLanguage:
    """Spellings of a C-family kernel language (defaults: C11)."""

    target = "c"
    includes = ("<math.h>", "<stdbool.h>", "<stdint.h>")
    restrict = "restrict"
    helper_qualifier = "static inline"
    kernel_prefix = ""  # e.g. 'extern "C" __global__' for CUDA
    pragmas = PRAGMAS  # loop-pragma macros (SYM_PARALLEL_FOR, …); empty where unused
    vector_math = render_vector_math()  # libmvec declarations, opt-in; empty where unused

    # ---- pieces of text -----------------------------------------------------------------------

    def signature(self, name: str) -> str:
        params = "const int64_t *sizes, const int64_t *strides, char **data"
        return f"{self.kernel_prefix}void {name}({params})"

    def pointer(self, name: str, dtype: str, arg: int, const: bool) -> str:
        """`const float *restrict p0 = (const float *)data[0];`"""
        # bool inputs are read as bytes (NumPy stores 0/1): gcc does not vectorize a loop
        # that loads _Bool (a relu mask in `where` ran 20x slower), and `const bool x = p[i]`
        # still gives 0/1
        t = f"const {self.input_ctype(dtype)}" if const else ctype(dtype)
        return f"{t} *{self.restrict} {name} = ({t} *)data[{arg}];"

    def input_ctype(self, dtype: str) -> str:
        """The C type an input of `dtype` is read as (bool as bytes, see `pointer`)."""
        return "uint8_t" if dtype == "bool" else ctype(dtype)

    def libm(self, fn: str, dtype: str) -> str:
        """The libm name of `fn` in `dtype`: expf for float32, exp for float64."""
        return fn + ("f" if dtype == "float32" else "")

    def render_prelude(self) -> str:
        lines = [f"#include {h}" for h in self.includes]
        parts = ["\n".join(lines) + "\n", self.vector_math, self.pragmas, UNITS]
        return "\n".join(parts) + "\n" + render_helpers(self.helper_qualifier)

    # ---- the scalar code of one element --------------------------------------------------------

    def program_setup(self, program: FusedElemwise | None, dtypes_in, scalars) -> list[str]:
        """Constants and the inputs of static rank 0, once per call, before any loop."""
        lines = render_constants(program) if program is not None else []
        for k, (dtype, scalar) in enumerate(zip(dtypes_in, scalars)):
            if scalar:
                lines.append(f"const {ctype(dtype)} x{k} = *(const {ctype(dtype)} *)data[{k}];")
        return lines

    def element(self, program: FusedElemwise | None, dtypes_in, scalars, load) -> tuple:
        """The statements computing one element, with `load(k)` the C expression reading input
        k there. Returns (lines, [(C name, dtype) of each program output]); with no program the
        one input is the value."""
        lines = [
            f"const {ctype(d)} x{k} = {load(k)};"
            for k, (d, scalar) in enumerate(zip(dtypes_in, scalars))
            if not scalar
        ]
        if program is None:
            return lines, [("x0", dtypes_in[0])]
        body, steps = render_program(program, [f"x{k}" for k in range(len(dtypes_in))])
        return lines + body, [steps[k] for k in program.outputs]
