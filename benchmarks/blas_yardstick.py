"""The BLAS yardstick of a workload: how fast the BLAS we call runs the very products the
workload's step computes, and what share of that rate the whole step reaches.

The cpu device hands every matrix product to NumPy's matmul (runtime/runner_steps.py), so
NumPy's BLAS is the one measured. The products are recorded from one call of our own step
(shapes, strides, so transposed operands stay transposed, and batch axes), then each is timed
alone with np.matmul on operands of the same layout, into a preallocated output. The step's
FLOPs are those of its products (2·m·n·k per matrix); its achieved fraction is the time the
products take alone over the step's time: 100% would mean the step does nothing but BLAS at
that BLAS's speed.
"""

from __future__ import annotations

import contextlib
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
    from runtime import runner_steps
    from symbolic.linalg import MatMul

    seen: list[Product] = []
    planner, writer = runner_steps.WRITERS[MatMul]

    def record(a, b, *out):
        seen.append(Product(a.shape, _order(a), b.shape, _order(b), a.dtype.name))
        return np.matmul(a, b, *out)

    runner_steps.WRITERS[MatMul] = (planner, lambda op, module: record)
    try:
        yield seen
    finally:
        runner_steps.WRITERS[MatMul] = (planner, writer)


def _operand(shape: tuple, order: tuple, dtype: str, rng) -> np.ndarray:
    """An array of `shape` laid out in memory with its axes in `order` (a transposed view)."""
    stored = rng.random(tuple(shape[axis] for axis in order)).astype(dtype)
    return stored.transpose(np.argsort(order))


def product_seconds(product: Product, repeat: int) -> float:
    """Median seconds of np.matmul on operands laid out as in the step."""
    rng = np.random.default_rng(0)
    a = _operand(product.a_shape, product.a_order, product.dtype, rng)
    b = _operand(product.b_shape, product.b_order, product.dtype, rng)
    out = np.matmul(a, b)
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def blas_library() -> str:
    """The BLAS NumPy calls and its kernel set (threadpoolctl's `architecture`)."""
    try:
        import threadpoolctl
    except ImportError:
        return "unknown BLAS (threadpoolctl is not installed)"
    infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} kernels, "
        f"{i.get('num_threads')} threads"
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
