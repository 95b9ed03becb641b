"""The window kernels' C source (im2col, col2im, max pooling and its gradient): which nodes get
one, that every variant compiles with warnings as errors, and golden files for two of them.
Their values are checked against the NumPy references in tests/runtime/test_window_kernels.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kernel_nodes import check_golden, named
from test_c import compile_c

import symbolic as S
from symbolic.codegen.c import render_kernel, render_module
from symbolic.codegen.kernel import ColumnsKernel, PoolKernel, describe
from symbolic.conv import Col2im, Im2col
from symbolic.pool import MaxPool2d, MaxPool2dGrad
from symbolic.shape import shape_of

GOLDEN = Path(__file__).parent / "golden"
# (size, stride, padding, ceil_mode): tiles (the unclipped code), then every clipped case
POOL_WINDOWS = [
    ((2, 2), (2, 2), (0, 0), False),
    ((3, 2), (1, 2), (1, 0), False),
    ((2, 3), (2, 2), (0, 0), True),
]


def window_nodes(dtype: str) -> list:
    """Both column layouts of im2col and col2im with a stride and padding, and max pooling
    and its gradient over each of POOL_WINDOWS, of x and of x plus a shift per plane (whose
    gradient node sums the shift's gradient too)."""
    x = S.tensor4("x", dtype)
    shape = shape_of(x)
    nodes = []
    for batch_inner in (True, False):
        cols = Im2col((2, 1), (1, 2), batch_inner)(x, shape)
        nodes += [cols.owner, Col2im((2, 1), (1, 2), batch_inner)(cols, shape, shape).owner]
    shift = S.tensor("shift", dtype, (1, None, 1, 1))
    for size, stride, padding, ceil in POOL_WINDOWS:
        for shifts in [(), (shift,)]:
            pooled = MaxPool2d(size, stride, padding, ceil)(x, *shifts)
            sums = bool(shifts)  # the gradient of a shift also sums the shift's gradient
            grad = MaxPool2dGrad(size, stride, padding, ceil, sums)(x, pooled, pooled, *shifts)
            nodes += [pooled.owner, (grad[0] if sums else grad).owner]
    return nodes


def test_window_nodes_describe_to_columns_and_pool_kernels():
    kinds = [type(describe(n)) for n in window_nodes("float32")]
    assert kinds == [ColumnsKernel] * 4 + [PoolKernel] * 12
    described = [describe(n) for n in window_nodes("float64")[4:8]]
    assert [(d.shifted, d.sums_shift) for d in described] == [
        (False, False),
        (False, False),
        (True, False),
        (True, True),
    ]


def test_window_nodes_of_other_dtypes_have_no_kernel():
    """Integers, and a gradient whose dtype differs from the input's, run the reference."""
    x, g = S.tensor4("x", "int32"), S.tensor4("g", "float32")
    pooled = S.nnet.max_pool2d(x, 2)
    assert describe(pooled.owner) is None
    assert describe(MaxPool2dGrad((2, 2), (2, 2), (0, 0))(x, pooled, g).owner) is None
    assert describe(Im2col((1, 1), (0, 0))(x, shape_of(x)).owner) is None


@pytest.mark.parametrize(
    "flags", [("-O0", "-fopenmp"), ("-O2", "-fopenmp"), ("-O2",)], ids=["O0", "O2", "no_openmp"]
)
def test_window_kernels_compile(tmp_path, flags):
    nodes = window_nodes("float32") + window_nodes("float64")
    compile_c(render_module(named(nodes)), tmp_path, flags)


@pytest.mark.parametrize(
    "name, node",
    [
        ("max_pool2d_grad_float32", lambda: window_nodes("float32")[5]),
        ("max_pool2d_shifted_float32", lambda: window_nodes("float32")[6]),
        ("max_pool2d_grad_shift_sums_float32", lambda: window_nodes("float32")[7]),
        ("im2col_batch_inner_float32", lambda: window_nodes("float32")[0]),
    ],
)
def test_golden_window_kernels(name, node):
    n = node()
    check_golden(GOLDEN / f"{name}.c", render_kernel(describe(n), f"k0_{n.op.name}"))
