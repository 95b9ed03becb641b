"""Generated CUDA: every kernel kind renders from the descriptions the C printer renders,
compiles with nvcc for sm_90, and is stable byte for byte.

Values are the runtime's tests' subject (tests/runtime/test_cuda_*.py run the kernels on a GPU,
or on the host emulation of tests/cuda_host.h); here the source is: all ~580 kernels of the
C tests compile at once, split over a few nvcc processes with the optimizers off (the front
end's checks are the point; ~10 s), and the kernel kinds compile with the runtime's own flags.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kernel_nodes import (
    check_golden,
    elementwise_nodes,
    golden_kernels,
    named,
    reduction_nodes,
    row_nodes,
)

import symbolic as S
from runtime.cuda.build import NVCC_FLAGS, find_nvcc, nvcc_command
from symbolic.codegen.cuda import arity, render_kernel, render_module
from symbolic.codegen.kernel import describe

GOLDEN = Path(__file__).parent / "golden"
NVCC = find_nvcc()
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on the PATH")
# the front end's checks, warnings as errors; no optimization (a tenth of the time)
CHECK_FLAGS = ("-std=c++17", "-Xcicc", "-O0", "-Xptxas", "-O0", "--Werror", "all-warnings")


def compile_cuda(modules: list[str], tmp_path: Path, flags=CHECK_FLAGS) -> None:
    """Compile each module to a cubin for sm_90, all at once; fail with nvcc's messages."""

    def one(i: int) -> subprocess.CompletedProcess:
        source = tmp_path / f"kernels{i}.cu"
        source.write_text(modules[i])
        argv = nvcc_command(NVCC, "sm_90", source, tmp_path / f"kernels{i}.cubin", flags)
        return subprocess.run(argv, capture_output=True, text=True)

    with ThreadPoolExecutor(len(modules)) as pool:
        results = list(pool.map(one, range(len(modules))))
    for result in results:
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def processes() -> int:
    return max(1, min(4, len(os.sched_getaffinity(0))))


@needs_nvcc
def test_every_kernel_compiles_with_nvcc(tmp_path):
    nodes = elementwise_nodes() + reduction_nodes() + row_nodes()
    kernels = named(nodes)
    assert len(kernels) > 500
    n = processes()
    compile_cuda([render_module(kernels[i::n]) for i in range(n)], tmp_path)


@needs_nvcc
def test_kernel_kinds_compile_with_the_runtime_flags(tmp_path):
    """Optimized as the runtime builds them, exact and fast math."""
    kernels = named(reduction_nodes()[::4] + row_nodes()[::3] + elementwise_nodes()[::97])
    fast = named(elementwise_nodes()[::149] + row_nodes()[:2])
    compile_cuda(
        [render_module(kernels), render_module(fast, fast_math=True)],
        tmp_path,
        (*NVCC_FLAGS, "--Werror", "all-warnings"),
    )


def test_kernels_take_one_argument_struct_of_their_arity():
    x, y = S.vector("x"), S.vector("y")
    add = describe((x + y).owner)
    assert arity(add) == 3 and "(const SymArgs<3> args)" in render_kernel(add, "k")
    total = describe(S.sum(S.matrix("m"), axis=1).owner)
    assert arity(total) == 3  # input, output, the two-pass scratch
    assert 'extern "C" __global__' in render_kernel(total, "k")


def test_exact_math_unless_fast_math_is_asked():
    x, d = S.vector("x"), S.vector("d", dtype="float64")
    kernel = describe(S.optimize(S.exp(x) + S.sin(x) + S.tanh(x)).owner)
    exact, fast = render_kernel(kernel, "k"), render_kernel(kernel, "k", fast_math=True)
    assert "expf(" in exact and "__expf" not in exact and "__sinf" not in exact
    assert "__expf(" in fast and "__sinf(" in fast
    assert "tanhf(" in fast  # no intrinsic: stays exact
    double = render_kernel(describe(S.exp(d).owner), "k", fast_math=True)
    assert "exp(x0)" in double and "__exp" not in double  # intrinsics are float32 only


def test_vector_width_is_sixteen_bytes_over_the_widest_argument():
    b, f, d = S.vector("b", dtype="bool"), S.vector("f"), S.vector("d", dtype="float64")
    assert "SymVec<float, 4>" in render_kernel(describe(S.exp(f).owner), "k")
    where = render_kernel(describe(S.where(b, f, f).owner), "k")
    assert "SymVec<uint8_t, 4>" in where and "sym_aligned(p0, 4)" in where
    assert "SymVec<double, 2>" in render_kernel(describe((f + d).owner), "k")
    assert "SymVec<int8_t, 16>" in render_kernel(
        describe(S.vector(dtype="int8").__neg__().owner), "k"
    )


def test_source_is_deterministic():
    def build():
        x, y = S.vector("x"), S.vector("y", dtype="float64")
        outs = S.optimize([S.tanh(x) * 2.5 + y, S.logsumexp(x * y, axis=0), S.argmax(x, axis=0)])
        return render_module([(f"k{i}", describe(o.owner)) for i, o in enumerate(outs)])

    assert build() == build()


@pytest.mark.parametrize(
    "name", ["e1_fused_float32", "sum_prologue_float64", "softmax_float32", "argmax_int32"]
)
def test_golden_kernels(name):
    kernel, function = golden_kernels()[name]
    check_golden(GOLDEN / f"{name}.cu", render_kernel(kernel, function))
