"""The nodes whose kernels the codegen tests render: every scalar op over every dtype its
dtype rule accepts, every cast, every reduction and row function (shared by test_c.py and
test_cuda.py)."""

from __future__ import annotations

import os

import symbolic as S
from symbolic import dtypes
from symbolic.codegen.kernel import describe
from symbolic.elemwise import Cast, Elemwise
from symbolic.nnet import CrossentropySoftmax, LogSoftmax, Softmax
from symbolic.reduction import REDUCERS, LogSumExp, Reduce
from symbolic.scalar_ops import SCALAR_OPS


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


def named(nodes) -> list:
    """(k<i>_<op>, description) for each node, as the runtimes name them."""
    return [(f"k{i}_{n.op.name}", describe(n)) for i, n in enumerate(nodes)]


def golden_kernels() -> dict:
    """{file stem: (description, kernel name)}: representative kernels whose source is kept as
    golden files (<stem>.c for C, <stem>.cu for CUDA), so a diff shows what a change did."""
    x, y = S.vector("x"), S.vector("y")
    e1 = S.tanh(x * y + S.exp(-x)) * S.sigmoid(y) + 0.5 * x * x
    d = S.matrix("x", dtype="float64")
    return {
        "e1_fused_float32": (describe(S.optimize(e1).owner), "k0_e1"),
        "sum_prologue_float64": (
            describe(S.optimize(S.sum(S.exp(d - 1.0) * d, axis=1)).owner),
            "k0_fused_sum",
        ),
        "softmax_float32": (describe(S.nnet.softmax(S.matrix("x")).owner), "k0_softmax"),
        "logsumexp_float32": (describe(S.logsumexp(S.matrix("x"), axis=1).owner), "k0_logsumexp"),
        "argmax_int32": (
            describe(S.argmax(S.matrix("x", dtype="int32"), axis=1).owner),
            "k0_argmax",
        ),
    }


def check_golden(path, source: str) -> None:
    """`source` equals the golden file at `path` (SYMBOLIC_UPDATE_GOLDEN=1 rewrites it)."""
    if os.environ.get("SYMBOLIC_UPDATE_GOLDEN") == "1":
        path.write_text(source)
    assert path.exists(), f"no golden file {path}: run with SYMBOLIC_UPDATE_GOLDEN=1"
    assert source == path.read_text(), f"{path.name} changed; SYMBOLIC_UPDATE_GOLDEN=1 rewrites it"
