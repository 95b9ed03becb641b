"""Which BLAS the cpu device's products should call: every candidate on the products the
training workloads compute, one process, the same threads.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_blas.py [--repeat N]

Candidates: oneMKL (the `mkl` wheel, through its CBLAS, as runtime/blas.py loads it), NumPy's
own OpenBLAS (its `scipy_cblas_sgemm64_`, as runtime/blas.py loads it where MKL is missing),
np.matmul (the same OpenBLAS behind NumPy's ufunc), BLIS (the `blis` wheel's `blis.py.gemm`, if
installed), and PyTorch's `torch.mm` (its MKL, if installed) for reference. Each product is
timed into a preallocated output, its operands laid out as the workload's step has them (T: a
transposed operand), medians of --repeat calls. MKL with a packed B (cblas_sgemm_compute) is
listed for the loop's recurrent products, which runtime/packed_products.py packs.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time

import harness
import numpy as np

# (workload, m, k, n, A transposed, B transposed): the float32 products of one step
SHAPES = [
    ("M1 fwd", 256, 784, 1024, False, False),
    ("M1 fwd", 256, 1024, 1024, False, False),
    ("M1 dX", 256, 1024, 1024, False, True),
    ("M1 dW", 784, 256, 1024, True, False),
    ("M1 dW", 1024, 256, 1024, True, False),
    ("C1 dense", 64, 800, 500, False, False),
    ("C1 conv1 dW", 50, 4096, 500, False, True),
    ("R1 step fwd", 32, 256, 1024, False, False),
    ("R1 step bwd", 32, 1024, 256, False, False),
    ("R1 x@Wx", 1600, 128, 1024, False, False),
    ("R1 dWh", 256, 1600, 1024, True, False),
]
ROW_MAJOR, NO_TRANS, TRANS, PACKED = 101, 111, 112, 151


def median_seconds(call, repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def operands(m, k, n, ta, tb, rng):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b, np.empty((m, n), np.float32)


def cblas_call(address: int, wide: bool):
    i = ctypes.c_int64 if wide else ctypes.c_int
    p, f = ctypes.c_void_p, ctypes.c_float
    fn = ctypes.CFUNCTYPE(
        None, ctypes.c_int, ctypes.c_int, ctypes.c_int, i, i, i, f, p, i, p, i, f, p, i
    )(address)

    def make(m, k, n, ta, tb, a, b, c):
        args = (
            ROW_MAJOR,
            TRANS if ta else NO_TRANS,
            TRANS if tb else NO_TRANS,
            m,
            n,
            k,
            1.0,
            a.ctypes.data,
            a.shape[1],
            b.ctypes.data,
            b.shape[1],
            0.0,
            c.ctypes.data,
            n,
        )
        return lambda: fn(*args)

    return make


def packed_call(library):
    """MKL's product with B packed once, as runtime/packed_products.py packs it for a loop."""
    from runtime.packed_products import PackSpec, pack

    compute = library.cblas_sgemm_compute
    compute.argtypes = [ctypes.c_int] * 6 + [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    compute.argtypes += [ctypes.c_int, ctypes.c_float, ctypes.c_void_p, ctypes.c_int]

    def make(m, k, n, ta, tb, a, b, c):
        spec = PackSpec(0, m, k, n, "float32")
        buffer = pack(b.T if tb else b, spec, lambda shape, dtype: np.empty(shape, dtype))
        packed = buffer.ctypes.data + int(buffer[:8].view(np.int64)[0])  # past the header
        args = (
            ROW_MAJOR,
            TRANS if ta else NO_TRANS,
            PACKED,
            m,
            n,
            k,
            a.ctypes.data,
            a.shape[1],
            packed,
            n,
            0.0,
            c.ctypes.data,
            n,
        )
        return lambda: compute(*args)

    return make


def candidates() -> dict:
    from runtime.blas import load_mkl, load_numpy_openblas

    found = {}
    mkl = load_mkl()
    if mkl is not None:
        found["mkl"] = cblas_call(mkl.sgemm, mkl.wide)
    openblas = load_numpy_openblas()
    if openblas is not None:
        found["openblas"] = cblas_call(openblas.sgemm, openblas.wide)

    def matmul(m, k, n, ta, tb, a, b, c):
        x, y = (a.T if ta else a), (b.T if tb else b)
        return lambda: np.matmul(x, y, out=c)

    found["np.matmul"] = matmul
    try:
        import blis.py

        def with_blis(m, k, n, ta, tb, a, b, c):
            return lambda: blis.py.gemm(a, b, out=c, trans1=ta, trans2=tb, beta=0.0)

        found["blis"] = with_blis
    except ImportError:
        pass
    try:
        import torch

        def with_torch(m, k, n, ta, tb, a, b, c):
            x, y = torch.from_numpy(a), torch.from_numpy(b)
            x, y, out = (x.T if ta else x), (y.T if tb else y), torch.from_numpy(c)
            return lambda: torch.mm(x, y, out=out)

        found["torch.mm"] = with_torch
    except ImportError:
        pass
    if mkl is not None:
        found["mkl packed B"] = packed_call(mkl.library)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    threads = harness.configure_threads(args.threads)
    threads.update(harness.apply_library_threads(args.threads))
    machine = harness.machine()
    print(
        f"machine: {machine['cpu']}, {machine['physical_cores']} cores, load average "
        f"{machine['load_average'][0]:.2f}; threads: {args.threads}"
    )
    libraries = candidates()
    rng = np.random.default_rng(0)
    problems = [(shape, *operands(*shape[1:], rng)) for shape in SHAPES]
    cells = {}
    # one library at a time, a pause between: each has its own thread pool, whose threads
    # spin for a while after a call and would take the cores from the next library's
    for library, make in libraries.items():
        time.sleep(1.0)
        for (name, m, k, n, ta, tb), a, b, c in problems:
            if library == "mkl packed B" and not name.startswith("R1 step"):
                continue
            seconds = median_seconds(make(m, k, n, ta, tb, a, b, c), args.repeat)
            want = (a.T if ta else a) @ (b.T if tb else b)
            wrong = not np.allclose(c, want, rtol=1e-3, atol=1e-2 * np.sqrt(k))
            cells[name, m, k, n, library] = "wrong" if wrong else f"{seconds * 1e6:.0f} µs"
    print(f"{'product':<14}{'m×k×n':>18}  " + "".join(f"{name:>14}" for name in libraries))
    for name, m, k, n, ta, tb in SHAPES:
        shape = f"{m}×{k}×{n}{' Aᵀ' if ta else ''}{' Bᵀ' if tb else ''}"
        row = "".join(f"{cells.get((name, m, k, n, lib), ''):>14}" for lib in libraries)
        print(f"{name:<14}{shape:>18}  {row}")
    print(f"load average at the end: {harness.machine()['load_average'][0]:.2f}")


if __name__ == "__main__":
    main()
