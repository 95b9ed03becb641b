"""The BLAS yardstick of a workload: how fast the BLAS we call runs the very products the
workload's step computes, and what share of that rate the whole step reaches.

The cpu device's runner calls a CBLAS gemm from C (runtime/blas.py says which library;
np.matmul where none loads), so that library is the one measured. The products are recorded
from one call of our own step (shapes, strides, so transposed operands stay transposed, and
batch axes), then each is timed alone through the runner's own product kernel (a ctypes call of
it, ~1 µs) on operands of the same layout, into a preallocated output. The step's
FLOPs are those of its products (2·m·n·k per matrix); its achieved fraction is the time the
products take alone over the step's time: 100% would mean the step does nothing but BLAS at
that BLAS's speed.
"""

from __future__ import annotations

import contextlib
import ctypes
import statistics
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Product:
    a_shape: tuple
    a_order: tuple  # the axes of a, from the largest stride to the smallest
    b_shape: tuple
    b_order: tuple
    dtype: str

    @property
    def flops(self) -> float:
        batch = np.broadcast_shapes(self.a_shape[:-2], self.b_shape[:-2])
        m, k, n = self.a_shape[-2], self.a_shape[-1], self.b_shape[-1]
        return 2.0 * m * n * k * float(np.prod(batch, dtype=np.float64))


def _order(array: np.ndarray) -> tuple:
    return tuple(sorted(range(array.ndim), key=lambda axis: -array.strides[axis]))


@contextlib.contextmanager
def recording():
    """Every product the cpu device runs while inside, as a list of Products (functions
    compiled inside record theirs)."""
    from runtime import gemm_updates, loops, runner_steps
    from symbolic.linalg import MatMul

    seen: list[Product] = []
    planner, writer = runner_steps.WRITERS[MatMul]
    kernels = runner_steps.gemm_kernels

    def record(a, b, *out):
        seen.append(Product(a.shape, _order(a), b.shape, _order(b), a.dtype.name))
        if not out:
            return np.matmul(a, b)
        # computed by our own kernel: NumPy's OpenBLAS threads would spin for a while after
        # each call and slow down whatever runs next, the timing of the products included
        product_call(a, b, out[0], kernels)()
        return None

    # products recorded run through np.matmul (a Python call the recorder sees), loops' too
    # (no packed operands), and updates' (no gemm updates: the same products as dots)
    packing, lowering = loops.packing_available, gemm_updates.lower_gemm_updates
    runner_steps.WRITERS[MatMul] = (planner, lambda op, module: record)
    runner_steps.gemm_kernels = lambda module: None
    loops.packing_available = lambda: False
    gemm_updates.lower_gemm_updates = lambda expressions, n_updates: expressions
    try:
        yield seen
    finally:
        runner_steps.WRITERS[MatMul] = (planner, writer)
        runner_steps.gemm_kernels = kernels
        loops.packing_available = packing
        gemm_updates.lower_gemm_updates = lowering


def product_call(a: np.ndarray, b: np.ndarray, out: np.ndarray, gemm_kernels=None):
    """A call computing a @ b into out as the cpu device's runner does: its product kernel
    through the CBLAS it binds (`gemm_kernels`: runner_steps.gemm_kernels), else np.matmul."""
    from runtime import native, runner_steps

    module = native.runner_module()
    gemm_kernels = gemm_kernels or runner_steps.gemm_kernels
    kernels = gemm_kernels(module) if module is not None else None
    launch = runner_steps.gemm_launch(a, b, a.dtype.name) if kernels else None
    if launch is None:
        return lambda: np.matmul(a, b, out=out)
    kernel = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
        kernels[a.dtype.name]
    )
    if launch.views is not None:
        a, b = (view(x) for view, x in zip(launch.views, (a, b)))
    data = (ctypes.c_void_p * 3)(a.ctypes.data, b.ctypes.data, out.ctypes.data)
    return lambda: kernel(launch.sizes, launch.strides, data)


def _operand(shape: tuple, order: tuple, dtype: str, rng) -> np.ndarray:
    """An array of `shape` laid out in memory with its axes in `order` (a transposed view)."""
    stored = rng.random(tuple(shape[axis] for axis in order)).astype(dtype)
    return stored.transpose(np.argsort(order))


def product_seconds(product: Product, repeat: int) -> float:
    """Median seconds of the product alone (product_call) on operands laid out as in the
    step."""
    rng = np.random.default_rng(0)
    a = _operand(product.a_shape, product.a_order, product.dtype, rng)
    b = _operand(product.b_shape, product.b_order, product.dtype, rng)
    # not np.matmul(a, b): NumPy's OpenBLAS threads would spin through the timing below
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = np.empty((*batch, a.shape[-2], b.shape[-1]), product.dtype)
    call = product_call(a, b, out)
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def blas_library() -> str:
    """The BLAS our products call, and every BLAS loaded with its kernel set and threads
    (threadpoolctl's `architecture`)."""
    from runtime.blas import describe as ours

    try:
        import threadpoolctl
    except ImportError:
        return f"ours: {ours()}; threadpoolctl is not installed"
    infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return f"ours: {ours()}; loaded: " + "; ".join(
        f"{i.get('internal_api')} {i.get('version')}"
        + (f" {i.get('architecture')} kernels" if i.get("architecture") else "")
        + f", {i.get('num_threads')} threads"
        for i in infos
    )


def yardstick(products: list[Product], step_seconds: float, repeat: int) -> dict:
    """The products' FLOPs, their time alone, the BLAS rate on them, the step's share."""
    flops = sum(p.flops for p in products)
    alone = sum(product_seconds(p, repeat) for p in products)
    return {
        "products": len(products),
        "gflop": flops / 1e9,
        "blas_seconds": alone,
        "blas_gflops": flops / alone / 1e9 if alone else 0.0,
        "step_gflops": flops / step_seconds / 1e9,
        "fraction": alone / step_seconds,
    }


def describe(name: str, result: dict) -> str:
    return (
        f"  {name}: {result['products']} products, {result['gflop']:.3f} GFLOP per step; "
        f"BLAS alone on them {result['blas_seconds'] * 1e3:.2f} ms = "
        f"{result['blas_gflops']:.0f} GFLOP/s; the step {result['step_gflops']:.0f} GFLOP/s = "
        f"{result['fraction']:.0%} of it"
    )
