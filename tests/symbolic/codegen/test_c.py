"""Generated C: every kernel kind renders, compiles with the system C compiler, and is stable.

Values are checked by the runtime's tests (kernels run against the NumPy oracle); here the
source itself is the subject: it compiles for every scalar op and dtype, with and without
OpenMP, and a few representative kernels match their golden files byte for byte.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import symbolic as S
from symbolic import dtypes
from symbolic.codegen.c import render_kernel, render_module
from symbolic.codegen.cprinter import SPELLINGS, literal, render_step
from symbolic.codegen.kernel import ElementwiseKernel, ReductionKernel, RowKernel, describe
from symbolic.elemwise import Cast, Elemwise
from symbolic.nnet import CrossentropySoftmax, LogSoftmax, Softmax
from symbolic.reduction import REDUCERS, LogSumExp, Reduce
from symbolic.scalar_ops import SCALAR_OPS
from symbolic.scalar_sympy import SYMPY_FORMS

GOLDEN = Path(__file__).parent / "golden"
FLAGS = ["-std=c11", "-fwrapv", "-Wall", "-Werror", "-Wno-unknown-pragmas"]
OPTIMIZED = ("-O2", "-fopenmp")


def compile_c(source: str, tmp_path: Path, flags=OPTIMIZED) -> None:
    """Compile `source` to an object file with the system C compiler; fail with its message."""
    path = tmp_path / "kernels.c"
    path.write_text(source)
    cmd = ["cc", *FLAGS, *flags, "-c", str(path), "-o", str(tmp_path / "kernels.o")]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]


def tensor(dtype, ndim=1):
    return S.tensor(dtype=dtype, shape=(None,) * ndim)


def elementwise_nodes():
    """Every scalar op over every dtype its dtype rule accepts, every cast, some mixed dtypes."""
    nodes = []
    for op in SCALAR_OPS.values():
        for dtype in dtypes.DTYPES:
            ins = ["bool", dtype, dtype] if op.name == "where" else [dtype] * op.nin
            try:
                nodes.append(Elemwise(op).make_node(*map(tensor, ins)))
            except TypeError:  # e.g. bitwise ops on floats
                continue
    for src in dtypes.DTYPES:
        for dst in dtypes.DTYPES:
            nodes.append(Cast(dst).make_node(tensor(src)))
    mixed = [("add", "int8", "uint8"), ("mul", "float32", "int64"), ("lt", "uint8", "int8")]
    for name, a, b in mixed:
        nodes.append(Elemwise(SCALAR_OPS[name]).make_node(tensor(a), tensor(b)))
    return nodes


def reduction_nodes():
    nodes = [Reduce(k, (1,)).make_node(tensor(d, 2)) for k in REDUCERS for d in dtypes.DTYPES]
    nodes += [LogSumExp((1,)).make_node(tensor(d, 2)) for d in dtypes.DTYPES]
    x, i = S.matrix("x"), S.matrix("i", dtype="int16")
    for expr in [
        S.sum(S.exp(x - 1.0), axis=1),
        S.max(x * 2 + 1, axis=0),
        S.min(S.abs(x), axis=1),
        S.prod(x * 0.5, axis=1),
        S.logsumexp(x * 3, axis=1),
        S.sum(i // 3 + i % 5, axis=1),
        S.sum(x * S.scalar("s"), axis=1),  # a rank-0 input of the prologue
    ]:
        nodes.append(S.optimize(expr).owner)
    return nodes


def row_nodes():
    nodes = []
    for d in ("float32", "float64", "int32"):
        nodes += [Softmax(1).make_node(tensor(d, 2)), LogSoftmax(1).make_node(tensor(d, 2))]
        for labels in ("int64", "uint8"):
            nodes.append(CrossentropySoftmax().make_node(tensor(d, 2), tensor(labels)))
    return nodes


def module(nodes) -> str:
    return render_module([(f"k{i}_{n.op.name}", describe(n)) for i, n in enumerate(nodes)])


def test_every_scalar_op_and_dtype_compiles(tmp_path):
    """All ~500 kernels in one translation unit, without optimization: the compiler's checks
    (types, warnings as errors) in a few seconds; -O2 takes ~20 s for this many."""
    nodes = elementwise_nodes()
    assert all(isinstance(describe(n), ElementwiseKernel) for n in nodes)
    assert len(nodes) > 400
    compile_c(module(nodes), tmp_path, ("-O0", "-fopenmp"))


def test_float32_kernels_compile_optimized(tmp_path):
    """Every other float32 op at -O2 with OpenMP (all of them take ~7 s)."""
    nodes = [
        n
        for n in elementwise_nodes()
        if {v.dtype for v in n.inputs} <= {"float32", "bool"} and not isinstance(n.op, Cast)
    ][::2]
    compile_c(module(nodes), tmp_path)


def test_reductions_and_rows_compile(tmp_path):
    reductions, rows = reduction_nodes(), row_nodes()
    assert all(isinstance(describe(n), ReductionKernel) for n in reductions)
    assert all(isinstance(describe(n), RowKernel) for n in rows)
    compile_c(module(reductions + rows), tmp_path)


@pytest.mark.parametrize("flags", [("-O2",), ("-O2", "-fopenmp-simd", "-DSYMBOLIC_LIBMVEC")])
def test_module_compiles_without_openmp_and_with_vector_math(tmp_path, flags):
    nodes = elementwise_nodes()[::23] + reduction_nodes()[::9] + row_nodes()[:2]
    compile_c(module(nodes), tmp_path, flags)


def test_nodes_without_a_kernel_describe_to_none():
    x, i = S.matrix("x"), S.vector("i", dtype="int64")
    for expr in [S.dot(x, x), x[i], x.reshape((-1,)), x.T]:
        assert describe(expr.owner) is None, expr.owner.op.name


def test_fused_and_single_nodes_give_the_kinds_of_the_contract():
    x = S.matrix("x")
    assert describe(S.exp(x).owner).program.steps[0].op.name == "exp"
    assert describe(S.optimize(S.exp(x) * x + 1).owner).kind == "elementwise"
    fused = describe(S.optimize(S.sum(S.exp(x) * 2, axis=1)).owner)
    assert (fused.kind, fused.reduction, fused.value_dtype) == ("reduction", "sum", "float32")
    assert describe(S.nnet.softmax(x).owner).kind == "rows"


def test_source_is_deterministic():
    """The same graph built twice gives the same bytes (names, order, constants)."""

    def build():
        x, y = S.vector("x"), S.vector("y", dtype="float64")
        outs = S.optimize([S.tanh(x) * 2.5 + y, S.logsumexp(x * y, axis=0)])
        return module([o.owner for o in outs])

    assert build() == build()


@pytest.mark.parametrize(
    "dtype, value, text",
    [
        ("float32", 0.1, "0.1f"),
        ("float32", -0.0, "-0.0f"),
        ("float32", 3.0, "3.0f"),
        ("float32", np.inf, "INFINITY"),
        ("float64", -np.inf, "-INFINITY"),
        ("float64", np.nan, "NAN"),
        ("float64", 1e-300, "1e-300"),
        ("int64", np.iinfo(np.int64).min, "(INT64_C(-9223372036854775807) - 1)"),
        ("int32", np.iinfo(np.int32).min, "(-2147483647 - 1)"),
        ("uint8", 255, "255"),
        ("bool", True, "true"),
    ],
)
def test_literals_are_exact(dtype, value, text):
    assert literal(dtype, value) == text


def test_float32_literals_read_back_exactly():
    values = np.random.default_rng(0).standard_normal(200).astype(np.float32) * 1e3
    for v in values:
        assert np.float32(literal("float32", v)[:-1]) == v


def test_steps_print_in_their_dtype():
    x, d, i = S.vector("x"), S.vector("d", dtype="float64"), S.vector("i", dtype="int32")
    src = render_kernel(describe(S.optimize(S.exp(x) + S.log1p(d)).owner), "k")
    assert "expf(x0)" in src and "log1p(x1)" in src and "(double)s0" in src
    src = render_kernel(describe((i // i).owner), "k")
    assert "floordiv_i32(x0, x1)" in src
    src = render_kernel(describe(S.maximum(x, 0.5).owner), "k")
    assert "maximum_f32(x0, x1)" in src  # NaN-propagating, not fmaxf


def test_every_scalar_op_has_one_c_spelling_and_one_sympy_form():
    assert set(SPELLINGS) == set(SCALAR_OPS) == set(SYMPY_FORMS)


@pytest.mark.parametrize(
    "op, arg_dtypes, text, out",
    [
        (Elemwise(SCALAR_OPS["add"]), ["bool", "bool"], "(x0 || x1)", "bool"),  # or
        (Elemwise(SCALAR_OPS["mul"]), ["bool", "bool"], "(x0 && x1)", "bool"),  # and
        (Elemwise(SCALAR_OPS["add"]), ["int8", "uint8"], "(int16_t)x0 + (int16_t)x1", "int16"),
        (Elemwise(SCALAR_OPS["exp"]), ["int32"], "expf((float)x0)", "float32"),
        (Elemwise(SCALAR_OPS["where"]), ["float32"] * 3, "((x0 != 0) ? x1 : x2)", "float32"),
        (Elemwise(SCALAR_OPS["abs"]), ["int16"], "(x0 < 0 ? -x0 : x0)", "int16"),
        (Elemwise(SCALAR_OPS["pow"]), ["int64", "int64"], "ipow_i64(x0, x1)", "int64"),
        (Elemwise(SCALAR_OPS["pow"]), ["float64", "float32"], "pow(x0, (double)x1)", "float64"),
        (Elemwise(SCALAR_OPS["reciprocal"]), ["float32"], "1.0F/x0", "float32"),
        (Elemwise(SCALAR_OPS["invert"]), ["uint8"], "((uint8_t)~x0)", "uint8"),
        (Elemwise(SCALAR_OPS["isnan"]), ["int32"], "((void)x0, false)", "bool"),
        (Cast("int8"), ["float32"], "(int8_t)((int32_t)x0)", "int8"),  # NumPy's, via int32
        (Cast("bool"), ["float64"], "(x0 != 0)", "bool"),
    ],
)
def test_steps_spell_numpy_semantics_in_c(op, arg_dtypes, text, out):
    names = [f"x{i}" for i in range(len(arg_dtypes))]
    assert render_step(op, names, arg_dtypes) == (text, out)


def golden(name: str, source: str) -> None:
    path = GOLDEN / f"{name}.c"
    if os.environ.get("SYMBOLIC_UPDATE_GOLDEN") == "1":
        path.write_text(source)
    assert path.exists(), f"no golden file {path}: run with SYMBOLIC_UPDATE_GOLDEN=1"
    assert source == path.read_text(), f"{name} changed; SYMBOLIC_UPDATE_GOLDEN=1 rewrites it"


def test_golden_e1_fused_elementwise_float32():
    x, y = S.vector("x"), S.vector("y")
    z = S.tanh(x * y + S.exp(-x)) * S.sigmoid(y) + 0.5 * x * x
    golden("e1_fused_float32", render_kernel(describe(S.optimize(z).owner), "k0_e1"))


def test_golden_sum_with_prologue_float64():
    x = S.matrix("x", dtype="float64")
    node = S.optimize(S.sum(S.exp(x - 1.0) * x, axis=1)).owner
    golden("sum_prologue_float64", render_kernel(describe(node), "k0_fused_sum"))


def test_golden_softmax_rows_float32():
    node = S.nnet.softmax(S.matrix("x")).owner
    golden("softmax_float32", render_kernel(describe(node), "k0_softmax"))


def test_golden_logsumexp_float32():
    node = S.logsumexp(S.matrix("x"), axis=1).owner
    golden("logsumexp_float32", render_kernel(describe(node), "k0_logsumexp"))
