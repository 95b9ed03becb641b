"""What every C-family kernel language shares: the kernel signature, pointers, loads, the scalar
code of an element and the set-up each kernel kind starts with; a language is a subclass that
changes attributes and writes the loop skeletons of its machine. `c.py` is the C (OpenMP) one,
`cuda.py` the CUDA one: both render the same descriptions (`kernel.py`).
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
    pragmas = PRAGMAS  # loop-pragma macros (SYM_PARALLEL_FOR, …); empty where unused
    vector_math = render_vector_math()  # libmvec declarations, opt-in; empty where unused
    units = UNITS  # the SYMBOLIC_UNITS guards' defaults; empty where a module is one unit

    # ---- one kernel ---------------------------------------------------------------------------

    def render(self, kernel, name: str) -> str:
        """The source of the kernel function `name` computing `kernel`."""
        render_kind = getattr(self, f"render_{kernel.kind}", None)  # render_elementwise, …
        if render_kind is None:
            raise NotImplementedError(f"no {self.target} kernel for the kind {kernel.kind!r}")
        body = [*self.bind_arguments(kernel), *render_kind(kernel)]
        return "\n".join(block(self.signature(name, kernel), body)) + "\n"

    def signature(self, name: str, kernel) -> str:
        return f"void {name}(const int64_t *sizes, const int64_t *strides, char **data)"

    def bind_arguments(self, kernel) -> list[str]:
        """Statements giving `sizes`, `strides` and `data` where the signature does not."""
        return []

    # ---- pieces of text -----------------------------------------------------------------------

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
        parts = ["\n".join(lines) + "\n", self.vector_math, self.pragmas, self.units]
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

    # ---- what each kind of kernel starts with -------------------------------------------------

    def elementwise_setup(self, k) -> tuple[list[str], list[int]]:
        """(the statements before the loops: sizes, constants, pointers p<arg>; the arguments
        read or written per element: the inputs not of rank 0, then the outputs)."""
        program, scalars = k.program, k.scalar_inputs
        n_in = len(program.input_dtypes)
        outs = [n_in + j for j in range(len(k.output_dtypes))]
        args = [a for a in range(n_in) if not scalars[a]] + outs
        lines = [
            "const int64_t ndim = sizes[0];",
            "const int64_t *shape = sizes + 1;",
            "int64_t n = 1;",
            "for (int64_t d = 0; d < ndim; d++) n *= shape[d];",
            "if (n == 0) return;",
            *self.program_setup(program, program.input_dtypes, scalars),
            *[self.pointer(f"p{a}", program.input_dtypes[a], a, True) for a in args if a < n_in],
            *[self.pointer(f"p{a}", d, a, False) for a, d in zip(outs, k.output_dtypes)],
        ]
        return lines, args

    def elementwise_body(self, k, load, store) -> list[str]:
        """One element: `load(a)` reads input a, `store(a, value)` writes output a."""
        n_in = len(k.program.input_dtypes)
        element, outs = self.element(k.program, k.program.input_dtypes, k.scalar_inputs, load)
        return element + [store(n_in + j, name) for j, (name, _) in enumerate(outs)]

    def unit_strides(self, args: list[int]) -> str:
        """The condition that every argument in `args` steps by one element over ndim 1."""
        return " && ".join(f"strides[{a}] == 1" for a in args)

    def reduction_setup(self, k) -> tuple[list[str], list[int]]:
        """(the statements before the loops: sizes, prologue constants, pointers p<a> with
        their outer and inner strides so<a>, si<a>, the output r; the non-scalar inputs)."""
        n_in, scalars = len(k.input_dtypes), k.scalar_inputs
        args = [a for a in range(n_in) if not scalars[a]]
        lines = [
            "const int64_t outer = sizes[0], inner = sizes[1];",
            *self.program_setup(k.prologue, k.input_dtypes, scalars),
            *[self.pointer(f"p{a}", k.input_dtypes[a], a, True) for a in args],
            *[
                f"const int64_t so{a} = strides[{2 * a}], si{a} = strides[{2 * a + 1}];"
                for a in args
            ],
            self.pointer("r", k.output_dtype, n_in, False),
        ]
        return lines, args

    def rows_setup(self, k) -> list[str]:
        """The statements before the loops of a row kernel: sizes, the logits p0 with strides
        so, sc, the labels p1 with stride sl (crossentropy), the output r."""
        labels = k.function == "crossentropy_softmax"
        return [
            "const int64_t rows = sizes[0], cols = sizes[1];",
            self.pointer("p0", k.input_dtypes[0], 0, True),
            "const int64_t so = strides[0], sc = strides[1];",
            *(
                [self.pointer("p1", k.input_dtypes[1], 1, True), "const int64_t sl = strides[2];"]
                if labels
                else []
            ),
            self.pointer("r", k.output_dtype, 2 if labels else 1, False),
        ]

    @staticmethod
    def reduction_of(k) -> str:
        """The reduction `k` computes, with max/min of booleans as any/all (the same values)."""
        if k.value_dtype == "bool" and k.reduction in ("max", "min"):
            return "any" if k.reduction == "max" else "all"
        return k.reduction
