"""What every benchmark shares: thread settings, the machine's description, and timing.

`configure_threads` must run before NumPy, PyTorch or JAX is imported: their thread pools
read the environment once, when they load.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import time


class NotApplicable(Exception):
    """A builder's way to say the measurement does not exist for it (reported as "n/a")."""


def configure_threads(n: int) -> dict:
    """Pin every library to `n` threads; returns exactly what was set, for the report.

    The environment variables are read by OpenMP (our kernels, PyTorch), OpenBLAS and MKL (NumPy,
    PyTorch), numexpr and XLA. XLA has no offline thread-count flag: its pools are sized by the
    CPUs the process may run on, so the process (and every child it starts) is restricted to `n`
    CPUs with sched_setaffinity when the machine has more. The library calls (torch, numexpr)
    are made by `apply_library_threads` once those libraries are imported.
    """
    settings = {
        "OMP_NUM_THREADS": str(n),
        "OPENBLAS_NUM_THREADS": str(n),
        "MKL_NUM_THREADS": str(n),
        "NUMEXPR_NUM_THREADS": str(n),
        "NUMEXPR_MAX_THREADS": str(n),
    }
    os.environ.update(settings)
    report = dict(settings)
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) > n:
        os.sched_setaffinity(0, allowed[:n])
    report["cpu_affinity"] = sorted(os.sched_getaffinity(0))
    report["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "")
    return report


def configure_pytensor() -> dict:
    """PyTensor's C backend, linked to the system OpenBLAS (`libopenblas-dev`) when there is one.

    The issue's anchors are PyTensor's C backend ("PyTensor C with OpenBLAS linked by hand");
    PyTensor 3 picks Numba by itself when Numba is installed, and a pip-installed PyTensor finds
    no BLAS, so both are set here. A user's own `linker` or `blas__ldflags` in PYTENSOR_FLAGS wins.
    """
    import ctypes.util

    flags = [f for f in os.environ.get("PYTENSOR_FLAGS", "").split(",") if f]
    if not any(f.startswith("linker=") for f in flags):
        flags.append("linker=cvm")
    if not any(f.startswith("blas__ldflags") for f in flags) and ctypes.util.find_library(
        "openblas"
    ):
        flags.append("blas__ldflags=-lopenblas")
    os.environ["PYTENSOR_FLAGS"] = ",".join(flags)
    return {"PYTENSOR_FLAGS": os.environ["PYTENSOR_FLAGS"]}


def apply_library_threads(n: int) -> dict:
    """The per-library thread calls that no environment variable covers; returns what was set."""
    done = {}
    try:
        import torch

        torch.set_num_threads(n)
        torch.set_num_interop_threads(1)  # a single-op eager step gains nothing from interop
        done["torch.set_num_threads"] = n
        done["torch.set_num_interop_threads"] = 1
    except (ImportError, RuntimeError):
        pass
    try:
        import numexpr

        numexpr.set_num_threads(n)
        done["numexpr.set_num_threads"] = n
    except ImportError:
        pass
    return done


def machine() -> dict:
    """CPU model and core counts from /proc/cpuinfo, the C compiler, Python and library versions."""
    model, cores = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            physical = "0"
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name":
                    model = value
                elif key == "physical id":
                    physical = value
                elif key == "core id":
                    cores.add((physical, value))
    except OSError:
        pass
    return {
        "cpu": model,
        "load_average": os.getloadavg(),  # other work on the machine skews every number
        "logical_cpus": os.cpu_count(),
        "physical_cores": len(cores) or None,
        "cc": shutil.which(os.environ.get("CC", "cc")),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def versions() -> dict:
    """Installed version of each library compared, or "not installed"."""
    out = {}
    for name in ("numpy", "numexpr", "pytensor", "jax", "torch"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = "not installed"
    return out


def median_time(fn, repeat: int, warmup: int = 1) -> float:
    """Median wall time of one call, in seconds; the warm-up calls are not counted."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_call_time(fn, repeat: int, budget_s: float = 0.05) -> float:
    """Median time of one call for functions of microseconds: each sample times a loop of calls
    sized to take about `budget_s`, so the clock's own cost is spread over many calls."""
    for _ in range(100):
        fn()
    start = time.perf_counter()
    for _ in range(100):
        fn()
    loops = max(100, int(budget_s / max((time.perf_counter() - start) / 100, 1e-9)))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - start) / loops)
    return statistics.median(times)


def finish(result: dict, path: str | None) -> dict:
    """Write `result` as JSON to `path` when one is given; returns the result."""
    if path:
        with open(path, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return result
