"""Generated C: every kernel kind renders, compiles with the system C compiler, and is stable.

Values are checked by the runtime's tests (kernels run against the NumPy oracle); here the
source itself is the subject: it compiles for every scalar op and dtype, with and without
OpenMP, and a few representative kernels match their golden files byte for byte.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from kernel_nodes import (
    check_golden,
    elementwise_nodes,
    golden_kernels,
    named,
    reduction_nodes,
    row_nodes,
    tensor,
)

import symbolic as S
from symbolic import dtypes
from symbolic.codegen.c import render_kernel, render_module
from symbolic.codegen.cprinter import SPELLINGS, literal, render_step
from symbolic.codegen.kernel import (
    ElementwiseKernel,
    GatherKernel,
    ReductionKernel,
    RowKernel,
    ScatterKernel,
    describe,
)
from symbolic.elemwise import Cast, Elemwise
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


def indexing_nodes():
    """Gathers of every dtype by every index dtype, and set/inc scatters with mixed dtypes."""
    nodes = []
    for dtype in dtypes.DTYPES:
        x = tensor(dtype, 2)
        for index in ("int64", "int32", "uint8", "int8", "int16"):
            nodes.append(x[tensor(index)].owner)
        nodes.append(x[1:, tensor("int64")].owner)
        for mode in (S.set_subtensor, S.inc_subtensor):
            nodes.append(mode(x[tensor("int32"), 2], tensor(dtype)).owner)
            nodes.append(mode(x[::2], S.scalar(dtype=dtype)).owner)  # basic: no index at all
    nodes.append(S.inc_subtensor(tensor("int8", 2)[tensor("int64")], tensor("float32")).owner)
    nodes.append(S.set_subtensor(tensor("bool", 2)[tensor("int64")], tensor("float64")).owner)
    return nodes


def module(nodes) -> str:
    return render_module(named(nodes))


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


def test_gathers_and_scatters_compile(tmp_path):
    """All of them without optimization (the compiler's checks); a few more at -O2 below."""
    nodes = indexing_nodes()
    kinds = {type(describe(n)) for n in nodes}
    assert kinds == {GatherKernel, ScatterKernel}
    compile_c(module(nodes), tmp_path, ("-O0", "-fopenmp"))


@pytest.mark.parametrize("flags", [("-O2",), ("-O2", "-fopenmp-simd", "-DSYMBOLIC_LIBMVEC")])
def test_module_compiles_without_openmp_and_with_vector_math(tmp_path, flags):
    nodes = elementwise_nodes()[::23] + reduction_nodes()[::9] + row_nodes()[:2]
    nodes += indexing_nodes()[::7]
    compile_c(module(nodes), tmp_path, flags)


def test_nodes_without_a_kernel_describe_to_none():
    x, i = S.matrix("x"), S.vector("i", dtype="int64")
    k = S.scalar("k", dtype="int64")
    # basic indexing is a view; a symbolic slice bound changes the shape from call to call
    for expr in [S.dot(x, x), x[1:, 0], x[k], x[k:, i], x.reshape((-1,)), x.T]:
        assert describe(expr.owner) is None, expr.owner.op.name


def test_fused_and_single_nodes_give_the_kinds_of_the_contract():
    x = S.matrix("x")
    assert describe(S.exp(x).owner).program.steps[0].op.name == "exp"
    assert describe(S.optimize(S.exp(x) * x + 1).owner).kind == "elementwise"
    fused = describe(S.optimize(S.sum(S.exp(x) * 2, axis=1)).owner)
    assert (fused.kind, fused.reduction, fused.value_dtype) == ("reduction", "sum", "float32")
    assert describe(S.nnet.softmax(x).owner).kind == "rows"
    i, k = S.vector("i", dtype="int32"), S.scalar("k", dtype="int16")
    # integers next to arrays are 0-d indices: constants as int64, symbolic ones in their dtype
    assert describe(x[i, 2].owner) == GatherKernel("float32", ("int32", "int64"))
    assert describe(x[k, i].owner) == GatherKernel("float32", ("int16", "int32"))
    inc = describe(S.inc_subtensor(x[i], S.vector("v", dtype="float64")).owner)
    assert inc == ScatterKernel("inc", "float32", "float64", ("int32",))
    assert describe(S.set_subtensor(x[1:3], 0.0).owner) == ScatterKernel(
        "set", "float32", "float32", ()
    )


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


@pytest.mark.parametrize(
    "name", ["e1_fused_float32", "sum_prologue_float64", "softmax_float32", "logsumexp_float32"]
)
def test_golden_kernels(name):
    kernel, function = golden_kernels()[name]
    check_golden(GOLDEN / f"{name}.c", render_kernel(kernel, function))


def test_golden_gather_one_per_row_float32():
    x, labels = S.matrix("x"), S.vector("labels", dtype="int64")
    node = x[S.arange(x.shape[0]), labels].owner
    check_golden(
        GOLDEN / "gather_rows_float32.c", render_kernel(describe(node), "k0_advanced_subtensor")
    )


def test_a_kernels_parallel_weight_counts_its_transcendentals():
    from symbolic.codegen.prelude import EXPENSIVE_WEIGHT, parallel_weight

    x, y = S.vector("x"), S.vector("y")
    f = S.compile([x, y], S.exp(x) * y + S.tanh(y), device="cpu")
    (kernel,) = f.kernels
    weight = 2 * EXPENSIVE_WEIGHT + 2  # exp, tanh, mul, add
    assert f"SYM_PARALLEL_FOR((n) * {weight})" in kernel.source
    assert parallel_weight(None) == 1
