"""Products by a loop's non-sequence, with that matrix packed once per run of the loop.

A recurrent step multiplies by the same weights at every step (h @ Wh forward, dz @ Whᵀ
backward). A gemm copies ("packs") its operands into the blocked layout its kernel reads on
every call; for a (32, 256) @ (256, 1024) step that copy is a quarter of the call. MKL can
pack B once (cblas_?gemm_pack) and multiply many A by the packed B (cblas_?gemm_compute):
measured here (2 threads) 74 → 54 µs for that product, 90 → 57 µs for (32, 1024) @ (1024, 256)
with the transposed weights.

So where the library packs (runtime/blas.py: MKL), a loop's specialized step (runtime/loops.py)
has each 2-d product whose right operand is a non-sequence rewritten as `PackedMatMul(a, b,
packed)`, `packed` a new non-sequence the loop makes from b before its first step (`pack`).
The node's NumPy reference computes a @ b from b itself, so every path but the runner's
kernel (runner_blas.c, gemm_packed; planned by runner_steps.plan_packed_gemm) ignores the
packed bytes.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

import numpy as np

from symbolic.graph import Variable, tensor, toposort
from symbolic.linalg import MatMul
from symbolic.op import Op

# CBLAS's codes (mkl_cblas.h)
ROW_MAJOR, NO_TRANS, TRANS, B_MATRIX = 101, 111, 112, 162
# the packed matrix starts this many bytes into its buffer at the least (after the header),
# aligned to it: MKL reads packed data fastest from 64-byte boundaries
ALIGN = 64
PACKED_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class PackedMatMul(Op):
    """a @ b for 2-d a and b, with `packed` holding b packed by the BLAS (see the module)."""

    @property
    def name(self) -> str:
        return "packed_dot"

    def infer(self, a, b, packed):
        return MatMul().infer(a, b)

    def perform(self, a, b, packed):
        return MatMul().perform(a, b)


@dataclass(frozen=True)
class PackSpec:
    """A packed non-sequence: the position of b among the step's inputs, and the product's
    sizes (the packed layout depends on all three)."""

    position: int
    m: int
    k: int
    n: int
    dtype: str


def _packable(node, fixed: dict) -> bool:
    if not isinstance(node.op, MatMul):
        return False
    a, b = node.inputs
    return (
        id(b) in fixed
        and a.ndim == b.ndim == 2
        and a.dtype == b.dtype
        and a.dtype in PACKED_DTYPES
        and a.type.shape[0] is not None
        and None not in b.type.shape
        and 0 not in (a.type.shape[0], *b.type.shape)
    )


def pack_products(inputs: list, outputs: list, first_fixed: int):
    """The step's outputs with every 2-d product by a non-sequence (inputs[first_fixed:])
    reading that matrix packed: (outputs, the new packed inputs, their PackSpecs). One packed
    input per matrix and row count, shared by the products that read it."""
    fixed = {id(v): i for i, v in enumerate(inputs) if i >= first_fixed}
    memo: dict[int, Variable] = {}
    packed: dict[tuple, tuple[Variable, PackSpec]] = {}
    for node in toposort(outputs):
        new_inputs = [memo.get(id(v), v) for v in node.inputs]
        if _packable(node, fixed):
            a, b = new_inputs
            (k, n), m = b.type.shape, a.type.shape[0]
            key = (id(b), m)
            if key not in packed:
                variable = tensor(f"{b.name or 'b'}_packed", "uint8", (None,))
                packed[key] = variable, PackSpec(fixed[id(b)], m, k, n, b.dtype)
            rebuilt = PackedMatMul().make_node(a, b, packed[key][0])
        elif any(x is not y for x, y in zip(new_inputs, node.inputs)):
            rebuilt = node.op.make_node(*new_inputs)
        else:
            continue
        rebuilt.location = node.location
        for old, new in zip(node.outputs, rebuilt.outputs):
            memo[id(old)] = new
    variables = [v for v, _ in packed.values()]
    specs = [spec for _, spec in packed.values()]
    return [memo.get(id(o), o) for o in outputs], variables, specs


@functools.cache
def _functions(library, dtype: str):
    """The library's pack_get_size and pack for `dtype`, typed for ctypes (once each)."""
    prefix = "cblas_sgemm" if dtype == "float32" else "cblas_dgemm"
    size = getattr(library, f"{prefix}_pack_get_size")
    size.restype = ctypes.c_size_t
    size.argtypes = [ctypes.c_int] * 4
    pack = getattr(library, f"{prefix}_pack")
    scalar = ctypes.c_float if dtype == "float32" else ctypes.c_double
    pack.argtypes = [ctypes.c_int] * 6 + [scalar, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    pack.restype = None
    return size, pack


def pack(b: np.ndarray, spec: PackSpec, allocate) -> np.ndarray:
    """b packed for products of `spec`'s sizes, in `allocate(shape, dtype)`'s buffer: a
    header (the int64 offset of the packed matrix), then the matrix at a 64-byte boundary."""
    from runtime.blas import blas
    from runtime.runner_steps import blas_matrix

    if b.shape != (spec.k, spec.n) or b.dtype != spec.dtype:
        raise ValueError(
            f"a loop's packed operand has shape {b.shape} and dtype {b.dtype}, but its step "
            f"was specialized for {(spec.k, spec.n)} and {spec.dtype}"
        )
    layout = blas_matrix(b)
    if layout is None:
        b = np.ascontiguousarray(b)
        layout = blas_matrix(b)
    transposed, lead = layout
    size, pack_into = _functions(blas().library, spec.dtype)
    need = size(B_MATRIX, spec.m, spec.n, spec.k)
    buffer = allocate((need + 2 * ALIGN,), np.uint8)
    start = buffer.ctypes.data
    offset = ALIGN + (-(start + ALIGN)) % ALIGN
    buffer[:8].view(np.int64)[0] = offset
    pack_into(
        ROW_MAJOR,
        B_MATRIX,
        TRANS if transposed else NO_TRANS,
        spec.m,
        spec.n,
        spec.k,
        1.0,
        b.ctypes.data,
        lead,
        start + offset,
    )
    return buffer


def packing_available() -> bool:
    """Whether loops pack their operands: the BLAS can (MKL) and the C runner, whose kernel
    reads them, is built."""
    from runtime.blas import blas
    from runtime.native import runner_module

    found = blas()
    return found is not None and found.packs and runner_module() is not None
