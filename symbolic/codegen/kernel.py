"""Kernel descriptions: what one node of the optimized graph computes, free of any language.

`describe(node)` reads a node and returns one of eight small frozen descriptions, or None for a
node the runtime runs itself (dot, basic indexing, reshape, …: NumPy, BLAS, or views). The C printer
(`c.py`) and, later, a CUDA printer render the same descriptions; docs/kernels.md is the calling
convention their source follows. Equal nodes give equal descriptions, so equal source.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from dataclasses import dataclass

from symbolic import dtypes
from symbolic.conv import Col2im, Im2col
from symbolic.conv_direct import DirectConv2d, DirectConv2dFilterGrad
from symbolic.elemwise import Cast, Elemwise
from symbolic.fused import FusedElemwise, FusedReduce, Ref, Step
from symbolic.graph import Apply, TensorType, Variable
from symbolic.indexing import DYN, IncSubtensor, Subtensor
from symbolic.nnet import CrossentropySoftmax, LogSoftmax, Softmax
from symbolic.pool import MaxPool2d, MaxPool2dGrad
from symbolic.reduction import LogSumExp, Reduce
from symbolic.scalar_ops import ScalarOp


@dataclass(frozen=True)
class ElementwiseKernel:
    """Outputs computed element by element by a scalar program over broadcast inputs."""

    program: FusedElemwise  # steps over the inputs x0, x1, … and inlined constants c0, c1, …
    scalar_inputs: tuple  # of bool: inputs of static rank 0, loaded once outside the loop
    output_dtypes: tuple  # of str

    kind = "elementwise"


@dataclass(frozen=True)
class ReductionKernel:
    """One output per `outer` index: `kind` over `inner` values, each value computed from the
    inputs by the prologue program (or, with no prologue, the single input itself)."""

    reduction: str  # sum prod max min argmax argmin all any logsumexp
    prologue: FusedElemwise | None
    input_dtypes: tuple  # of str
    scalar_inputs: tuple  # of bool, as in ElementwiseKernel
    output_dtype: str

    kind = "reduction"

    @property
    def value_dtype(self) -> str:
        """The dtype of the values reduced (the prologue's output, or the input's)."""
        if self.prologue is None:
            return self.input_dtypes[0]
        typed = [Variable(TensorType(d, ())) for d in self.input_dtypes]
        return self.prologue.infer(*typed)[0].dtype


@dataclass(frozen=True)
class RowKernel:
    """A function of whole rows: softmax and log_softmax write a row per row, and
    crossentropy_softmax one value per row from the row and its integer label."""

    function: str  # softmax log_softmax crossentropy_softmax
    input_dtypes: tuple  # of str: the logits' (then the labels')
    output_dtype: str

    kind = "rows"


@dataclass(frozen=True)
class GatherKernel:
    """x[index] for an index with integer arrays: each output element reads the element of x
    that the basic slices and the integer indices (broadcast together, as NumPy's) pick."""

    dtype: str  # x's and the output's
    index_dtypes: tuple  # of str: each integer index (arrays, and integers as 0-d arrays) in order

    kind = "gather"


@dataclass(frozen=True)
class ScatterKernel:
    """A copy of x with x[index] set to v (mode "set") or increased by v (mode "inc"); repeated
    indices write in order (the last value stays) or add up (as np.add.at)."""

    mode: str  # set inc
    dtype: str  # x's and the output's
    value_dtype: str  # v's, converted to dtype as NumPy's astype converts
    index_dtypes: tuple  # of str, as in GatherKernel

    kind = "scatter"


@dataclass(frozen=True)
class ColumnsKernel:
    """im2col (every window of an (N, C, H, W) input as a column) or col2im (its adjoint: the
    columns added back to the input positions they came from), in one column layout."""

    function: str  # im2col col2im
    dtype: str  # the input's and the output's
    stride: tuple
    padding: tuple
    batch_inner: bool  # columns (C·kh·kw, OH, OW, N); else (N, C·kh·kw, OH, OW)

    kind = "columns"


@dataclass(frozen=True)
class DirectConvKernel:
    """conv2d of an (N, C, H, W) input with (O, C, KH, KW) filters computed from the windows
    in place (no columns), or the filters' gradient from the input and the output's gradient."""

    function: str  # conv2d_direct conv2d_filter_grad
    dtype: str  # every input's and the output's
    stride: tuple
    padding: tuple

    kind = "direct"


@dataclass(frozen=True)
class PoolKernel:
    """Max pooling of an (N, C, H, W) input over a static window, or its gradient: the pooled
    gradient scattered to the first maximal position of each window; of the input plus a
    shift constant per (n, c) plane where `shifted` (symbolic/pool.py)."""

    function: str  # max_pool2d max_pool2d_grad
    dtype: str  # every input's and the output's
    size: tuple
    stride: tuple
    padding: tuple
    ceil_mode: bool
    shifted: bool
    sums_shift: bool = False  # a second output: the gradient summed to the shift's shape

    kind = "pool"


# the float dtypes the window kernels are written for; others run their NumPy reference
WINDOW_DTYPES = ("float32", "float64")


def single_step_program(op, input_dtypes: tuple) -> FusedElemwise:
    """A lone Elemwise or Cast as a one-step program: one code path for fused and unfused."""
    refs = tuple(Ref("x", i) for i in range(len(input_dtypes)))
    return FusedElemwise(tuple(input_dtypes), (), (Step(op, refs),), (0,))


def _scalars(node: Apply) -> tuple:
    return tuple(v.ndim == 0 for v in node.inputs)


def describe(
    node: Apply,
) -> ElementwiseKernel | ReductionKernel | RowKernel | GatherKernel | ScatterKernel | None:
    """The kernel computing `node`, or None when no generated kernel computes it."""
    op, in_dtypes = node.op, tuple(v.dtype for v in node.inputs)
    out_dtypes = tuple(v.dtype for v in node.outputs)
    if isinstance(op, FusedElemwise):
        return ElementwiseKernel(op, _scalars(node), out_dtypes)
    if isinstance(op, (Elemwise, Cast)):
        return ElementwiseKernel(single_step_program(op, in_dtypes), _scalars(node), out_dtypes)
    if isinstance(op, (Reduce, LogSumExp)):
        return ReductionKernel(_reduction(op), None, in_dtypes, _scalars(node), out_dtypes[0])
    if isinstance(op, FusedReduce):
        return ReductionKernel(
            _reduction(op.reduce), op.program, in_dtypes, _scalars(node), out_dtypes[0]
        )
    if isinstance(op, (Softmax, LogSoftmax, CrossentropySoftmax)):
        return RowKernel(op.name, in_dtypes, out_dtypes[0])
    if isinstance(op, Subtensor) and op.name == "advanced_subtensor":
        indices = _index_dtypes(op.spec, in_dtypes[1:])
        return None if indices is None else GatherKernel(in_dtypes[0], indices)
    if isinstance(op, IncSubtensor):
        indices = _index_dtypes(op.spec, in_dtypes[2:])
        return None if indices is None else ScatterKernel(op.mode, *in_dtypes[:2], indices)
    return _describe_windows(node, in_dtypes, out_dtypes)


def _describe_windows(node: Apply, in_dtypes: tuple, out_dtypes: tuple):
    """The columns or pooling kernel of `node`, where its tensors share one float dtype."""
    op, dtype = node.op, out_dtypes[0]
    tensors = in_dtypes[:1] if isinstance(op, (Im2col, Col2im)) else in_dtypes
    if dtype not in WINDOW_DTYPES or any(d != dtype for d in tensors):
        return None
    if isinstance(op, (Im2col, Col2im)):
        return ColumnsKernel(op.name, dtype, op.stride, op.padding, op.batch_inner)
    if isinstance(op, (DirectConv2d, DirectConv2dFilterGrad)):
        return DirectConvKernel(op.name, dtype, op.stride, op.padding)
    if isinstance(op, (MaxPool2d, MaxPool2dGrad)):
        shifted = len(node.inputs) == (2 if isinstance(op, MaxPool2d) else 4)
        sums = getattr(op, "sums_shift", False)
        window = (op.size, op.stride, op.padding, op.ceil_mode)
        return PoolKernel(op.name, dtype, *window, shifted, sums)
    return None


def _index_dtypes(spec: tuple, dynamic_dtypes: tuple) -> tuple | None:
    """The dtype of each integer index of `spec` (see symbolic/indexing.py), in order: a constant
    integer is an int64 0-d array. None when a slice bound is symbolic: the launch plan is made
    once per layout, and such a bound changes the output's shape from call to call."""
    if any(e[0] == "slice" and DYN in e[1:] for e in spec):
        return None
    dynamic = iter(dynamic_dtypes)  # with static slices, each dynamic input is an index
    return tuple(
        "int64" if e[0] == "int" and e[1] != DYN else next(dynamic)
        for e in spec
        if e[0] in ("int", "array")
    )


def _reduction(op) -> str:
    return "logsumexp" if isinstance(op, LogSumExp) else op.kind


def accumulator_dtype(reduction: str, value_dtype: str, output_dtype: str) -> str:
    """The dtype a reduction accumulates in.

    float32 sums (and the sum inside logsumexp) accumulate in float64: exact for the first
    2^29 terms of like sign and rounded once at the end, more accurate than NumPy's pairwise
    float32 sum and as fast (a sum is bound by memory). Everything else accumulates in the
    output dtype (integer sums and products in int64, NumPy's rule), so overflow happens where
    NumPy's does.
    """
    if reduction in ("sum", "logsumexp") and dtypes.is_float(output_dtype):
        return "float64"
    if reduction in ("all", "any"):
        return "bool"
    if reduction in ("argmax", "argmin"):
        return value_dtype
    return output_dtype


def structure_key(named_kernels) -> str | None:
    """A key that determines the C module rendered from `named_kernels` ((name, description)
    pairs), computed without rendering it: the descriptions
    written out field by field, and a digest of the code that renders them. None when a
    description holds a value `_canonical` cannot write out; the caller then renders.
    """
    try:
        text = _canonical(tuple(named_kernels))
    except TypeError:
        return None
    return hashlib.sha256(f"{renderer_digest()}\n{text}".encode()).hexdigest()


def _canonical(value) -> str:
    """Every field of `value`, recursively, as deterministic text: equal text, equal source.

    Not pickle: a pickled op carries its cached properties (the sympy expressions fusion
    computed), which differ between processes. Not repr: reprs leave out parameters.
    """
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, ScalarOp):  # identified by its name, as it pickles
        return f"ScalarOp:{value.name}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ",".join(
            f"{f.name}={_canonical(getattr(value, f.name))}" for f in dataclasses.fields(value)
        )
        return f"{type(value).__module__}.{type(value).__qualname__}({fields})"
    if isinstance(value, tuple):  # NamedTuples (Step, Ref) keep their class name
        return f"{type(value).__qualname__}({','.join(map(_canonical, value))})"
    raise TypeError(f"no canonical text for {type(value).__name__}")


@functools.cache
def renderer_digest() -> str:
    """sha256 of the `symbolic` package's source: the code that renders C.

    The whole package rather than codegen alone: the dtype rules and fused programs elsewhere
    in it decide the source too. Reading it costs about 3 ms, once a process.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                data = f.read()
            digest.update(f"{os.path.relpath(path, root)}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()
