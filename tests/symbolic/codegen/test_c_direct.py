"""The direct convolution kernels' C source (conv2d_direct, conv2d_filter_grad): which nodes
get one, that every variant compiles with warnings as errors, and a golden file. Their values
are checked against the NumPy references in tests/runtime/test_direct_conv.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from kernel_nodes import check_golden, named
from test_c import compile_c

import symbolic as S
from symbolic.codegen.c import render_kernel, render_module
from symbolic.codegen.kernel import DirectConvKernel, describe
from symbolic.conv_direct import DirectConv2d, DirectConv2dFilterGrad

GOLDEN = Path(__file__).parent / "golden"


def direct_nodes(dtype: str) -> list:
    """The forward and the filters' gradient, with a unit column stride (vector loads) and
    with another (lane by lane), padded."""
    x, w, g = (S.tensor4(name, dtype) for name in "xwg")
    nodes = []
    for stride in [(1, 1), (2, 3)]:
        nodes.append(DirectConv2d(stride, (1, 2))(x, w).owner)
        nodes.append(DirectConv2dFilterGrad(stride, (1, 2))(x, g, w).owner)
    return nodes


def test_direct_nodes_describe_to_direct_kernels():
    described = [describe(n) for n in direct_nodes("float64")]
    assert [type(d) for d in described] == [DirectConvKernel] * 4
    assert [d.function for d in described[:2]] == ["conv2d_direct", "conv2d_filter_grad"]


def test_direct_nodes_of_other_dtypes_have_no_kernel():
    """Integers, and filters of another dtype than the input's, run the reference."""
    x, w = S.tensor4("x", "int32"), S.tensor4("w", "float32")
    assert describe(DirectConv2d((1, 1), (0, 0))(x, x).owner) is None
    assert describe(DirectConv2d((1, 1), (0, 0))(S.tensor4("x", "float64"), w).owner) is None


@pytest.mark.parametrize(
    "flags", [("-O0", "-fopenmp"), ("-O2", "-fopenmp"), ("-O2",)], ids=["O0", "O2", "no_openmp"]
)
def test_direct_kernels_compile(tmp_path, flags):
    nodes = direct_nodes("float32") + direct_nodes("float64")
    compile_c(render_module(named(nodes)), tmp_path, flags)


@pytest.mark.parametrize("index", [0, 1], ids=["conv2d_direct", "conv2d_filter_grad"])
def test_golden_direct_kernels(index):
    n = direct_nodes("float32")[index]
    name = f"{n.op.name}_float32"
    check_golden(GOLDEN / f"{name}.c", render_kernel(describe(n), f"k0_{n.op.name}"))
