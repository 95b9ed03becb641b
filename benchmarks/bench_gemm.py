"""The BLAS yardstick of M1: sgemm GFLOP/s of the CBLAS the cpu device calls (NumPy's own
OpenBLAS, runtime/blas.py), on the products one M1 step computes, and the fraction of it M1
achieves (the FLOPs of its products over its whole step time).

M1's step computes, per layer a → b at batch B: the forward product B×a·a×b, the weight
gradient a×B·B×b (Xᵀ·G) and, above the first layer, the input gradient B×b·b×a (G·Wᵀ).
"""

from __future__ import annotations

import ctypes
import statistics
import time

import numpy as np
from bench_mlp import BATCH, SIZES

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def m1_products() -> list[tuple]:
    """(m, n, k, transpose A, transpose B) of each product of one M1 step."""
    out = []
    for layer, (a, b) in enumerate(zip(SIZES, SIZES[1:])):
        out.append((BATCH, b, a, False, False))  # X·W
        out.append((a, b, BATCH, True, False))  # Xᵀ·G
        if layer > 0:
            out.append((BATCH, a, b, False, True))  # G·Wᵀ
    return out


def m1_flops() -> float:
    return float(sum(2 * m * n * k for m, n, k, _, _ in m1_products()))


def sgemm_function():
    """NumPy's CBLAS sgemm as a ctypes function, with its integer type; None where none loads."""
    from runtime.blas import find_cblas

    blas = find_cblas()
    if blas is None:
        return None
    integer = ctypes.c_int64 if blas.width == 64 else ctypes.c_int32
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_int] * 3, *[integer] * 3, ctypes.c_float,
                          ctypes.c_void_p, integer, ctypes.c_void_p, integer, ctypes.c_float,
                          ctypes.c_void_p, integer)(blas.functions["float32"])  # fmt: skip
    return fn, blas


def sgemm_seconds(fn, product, repeat: int) -> float:
    """Median seconds of one sgemm of `product` (m, n, k, trans A, trans B), β = 0."""
    m, n, k, ta, tb = product
    rng = np.random.default_rng(0)
    a = rng.random((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.random((n, k) if tb else (k, n), dtype=np.float32)
    c = np.empty((m, n), np.float32)
    args = (ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, m, n, k, 1.0,
            a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1], 0.0, c.ctypes.data, n)  # fmt: skip
    fn(*args)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def blas_architecture() -> str:
    """The BLAS kernel set in use (threadpoolctl's `architecture`), with its library."""
    try:
        import threadpoolctl
    except ImportError:
        return "unknown (threadpoolctl is not installed)"
    infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} "
        f"{i.get('num_threads')} threads ({i.get('filepath', '').rsplit('/', 1)[-1]})"
        for i in infos
    )


def blas_yardstick(m1_seconds: float | None, repeat: int) -> dict | None:
    """sgemm GFLOP/s over M1's products and M1's achieved fraction of it; None without BLAS."""
    found = sgemm_function()
    if found is None:
        return None
    fn, blas = found
    seconds = sum(sgemm_seconds(fn, p, repeat) for p in m1_products())
    flops = m1_flops()
    result = {
        "library": blas.path,
        "architecture": blas_architecture(),
        "m1_gflop": flops / 1e9,
        "sgemm_seconds": seconds,
        "sgemm_gflops": flops / seconds / 1e9,
    }
    if isinstance(m1_seconds, float):
        result["m1_gflops"] = flops / m1_seconds / 1e9
        result["m1_fraction"] = seconds / m1_seconds
    return result


def describe(result: dict | None) -> str:
    if result is None:
        return "blas: no CBLAS sgemm loads (products run through np.matmul)"
    line = (
        f"blas: {result['architecture']}\n"
        f"M1 products: {result['m1_gflop']:.2f} GFLOP per step; sgemm alone on them "
        f"{result['sgemm_seconds'] * 1e3:.1f} ms = {result['sgemm_gflops']:.0f} GFLOP/s"
    )
    if "m1_fraction" in result:
        line += (
            f"; M1 {result['m1_gflops']:.0f} GFLOP/s = {result['m1_fraction']:.0%} of sgemm's rate"
        )
    return line
