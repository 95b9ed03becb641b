"""Matrix products and gemm on the cpu device: the C runner calls NumPy's own BLAS directly.

NumPy's wheels carry OpenBLAS (numpy.libs/libscipy_openblas64_-*.so) with CBLAS under ILP64
names (`scipy_cblas_sgemm64_`: 64-bit integers). We load that library with ctypes (the one
NumPy already loaded: same threads, same OPENBLAS_NUM_THREADS / OMP_NUM_THREADS), look up
sgemm and dgemm, and pass their addresses in each plan to `blas_gemm` (runtime/blas_gemm.c),
which the runner calls like a generated kernel: no Python, no NumPy temporaries, alpha, beta,
transposes and leading dimensions as BLAS takes them. Where no CBLAS symbol loads, or the
shim does not build, products run as before (np.matmul writing the runner's output).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import struct
from pathlib import Path

import numpy as np

from runtime.cpu_backend import Launch, PlannedStep
from runtime.layout import blas_layout, element_strides
from symbolic.gemm import BLAS_DTYPES, Gemm
from symbolic.linalg import MatMul

# (symbol prefix, suffix, integer width): NumPy's ILP64 OpenBLAS, then a plain LP64 CBLAS
SYMBOLS = (
    ("scipy_cblas_", "64_", 64),
    ("cblas_", "64_", 64),
    ("scipy_cblas_", "", 32),
    ("cblas_", "", 32),
)
INT32_MAX = 2**31 - 1


class Cblas:
    """sgemm and dgemm of one loaded CBLAS: their addresses and integer width."""

    def __init__(self, path: str, functions: dict, width: int):
        self.path, self.functions, self.width = path, functions, width

    def __repr__(self) -> str:
        return f"<cblas {Path(self.path).name} int{self.width}>"


def numpy_blas_paths() -> list[str]:
    """The OpenBLAS libraries NumPy's wheel ships (numpy.libs beside the package)."""
    site = Path(np.__file__).resolve().parent
    found = []
    for folder in (site.parent / "numpy.libs", site / ".dylibs", site / "_core"):
        found += sorted(glob.glob(str(folder / "*openblas*.so*")))
        found += sorted(glob.glob(str(folder / "*openblas*.dylib")))
    return found


@functools.cache
def find_cblas() -> Cblas | None:
    """NumPy's CBLAS sgemm/dgemm, or None where no library exports them."""
    for path in numpy_blas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, width in SYMBOLS:
            try:
                functions = {
                    dtype: ctypes.cast(
                        getattr(lib, f"{prefix}{name}{suffix}"), ctypes.c_void_p
                    ).value
                    for dtype, name in (("float32", "sgemm"), ("float64", "dgemm"))
                }
            except AttributeError:
                continue
            return Cblas(path, functions, width)
    return None


def gemm_shim():
    """The address of blas_gemm (runtime/blas_gemm.c) and its ctypes function, built once per
    cache directory (so a warm cache holds it, as it holds the kernels); None where it cannot
    be built."""
    from runtime.cache import cache_dir

    return _gemm_shim_in(cache_dir())


@functools.cache
def _gemm_shim_in(directory):
    from runtime.build import CompileError, NoCompilerError, build_library

    try:
        library = build_library(Path(__file__).with_name("blas_gemm.c").read_text())
    except (CompileError, NoCompilerError, OSError):
        return None
    fn = library.blas_gemm
    fn.restype, fn.argtypes = None, [ctypes.c_void_p] * 3
    return ctypes.cast(fn, ctypes.c_void_p).value, fn


def double_bits(value: float) -> int:
    return struct.unpack("<q", struct.pack("<d", value))[0]


def operand(x: np.ndarray, trans: bool) -> tuple:
    """(view function or None, transpose flag, ld) for op(x) as BLAS reads it: x where lies
    (its transpose flag from its strides), or a C-contiguous copy of op(x)."""
    a = x.T if trans else x
    item = a.itemsize
    if all(s % item == 0 for s in a.strides):
        found = blas_layout(*a.shape, a.strides[0] // item, a.strides[1] // item)
        if found is not None:
            return None, found[0] == "T", found[1]
    copy = (lambda v: np.ascontiguousarray(v.T)) if trans else np.ascontiguousarray
    return copy, False, max(a.shape[1], 1)


def plan_blas(blas: Cblas, fn, node, arrays) -> Launch | None:
    """The launch of blas_gemm for a gemm (Z, X, Y) or a product (X, Y) of two matrices;
    None where the reference must run (a cast, an empty or misaligned product, Z that does
    not broadcast into the product: the reference gives the value or the error)."""
    op, out = node.op, node.outputs[0].type
    z, (x, y) = (arrays[0], arrays[1:]) if isinstance(op, Gemm) else (None, arrays)
    tx, ty = (op.trans_x, op.trans_y) if isinstance(op, Gemm) else (False, False)
    if any(a.dtype != out.dtype or a.ndim != 2 for a in (x, y)) or out.dtype not in BLAS_DTYPES:
        return None
    (m, k), (k2, n) = (x.shape[::-1] if tx else x.shape), (y.shape[::-1] if ty else y.shape)
    limit = INT32_MAX if blas.width == 32 else 2**62
    if k != k2 or 0 in (m, n, k) or max(m, n, k, x.size, y.size) > limit:
        return None
    view_x, op_a, lda = operand(x, tx)
    view_y, op_b, ldb = operand(y, ty)
    zs, inplace, views = (0, 0), [-1], [view_x, view_y]
    if z is not None:
        if z.dtype != out.dtype or z.ndim > 2 or np.broadcast_shapes(z.shape, (m, n)) != (m, n):
            return None
        if any(s % z.itemsize for s in z.strides):
            return None
        zs = element_strides(z, (m, n))
        inplace, views = [0 if z.shape == (m, n) else -1], [None, *views]
    sizes = [
        blas.functions[out.dtype],
        out.dtype == "float64",
        blas.width,
        z is not None,
        op_a,
        op_b,
        m,
        n,
        k,
        lda,
        ldb,
        *zs,
        double_bits(op.alpha if z is not None else 1.0),
        double_bits(op.beta if z is not None else 0.0),
    ]
    keep = None if all(v is None for v in views) else [v or (lambda a: a) for v in views]
    return Launch(
        fn, [int(s) for s in sizes], [], [(m, n)], [out.dtype], keep, len(arrays), inplace
    )


class BlasStep(PlannedStep):
    """A gemm or a product of two matrices, which the C runner runs as one blas_gemm call."""

    __slots__ = ("address",)

    def __init__(self, node, blas: Cblas, shim):
        address, fn = shim
        super().__init__(node, fn, functools.partial(plan_blas, blas))
        self.address = address

    def native_spec(self) -> tuple:
        """(blas_gemm's address, reference, planner, writer) for runner.c."""
        return self.address, self.node.op.perform, self.native_plan, None


def blas_step(node) -> BlasStep | None:
    """The BLAS step of a gemm or 2-d product, or None (no CBLAS, no shim, or another node)."""
    op = node.op
    if not (
        isinstance(op, Gemm)
        or (isinstance(op, MatMul) and node.inputs[0].ndim == 2 == node.inputs[1].ndim)
    ):
        return None
    blas = find_cblas()
    shim = gemm_shim() if blas is not None else None
    return None if shim is None else BlasStep(node, blas, shim)
