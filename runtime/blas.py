"""The CBLAS the cpu device's matrix products call from C (runtime/runner_blas.c).

The candidates, fastest here first (benchmarks/README.md has the figures):
  mkl       Intel's oneMKL from the `mkl` wheel (libmkl_rt): 15–70% faster than OpenBLAS on
            this project's training shapes, the small products of a loop's steps most.
  openblas  NumPy's own OpenBLAS (its ILP64 build, symbols `scipy_cblas_*64_`): the library
            np.matmul calls, without the ufunc's call overhead.
  numpy     no library of our own: products run through np.matmul.
`SYMBOLIC_BLAS` names one (an unknown name is an error that lists them); unset, the first
that loads wins. Threads follow each library's own variables (MKL_NUM_THREADS,
OPENBLAS_NUM_THREADS), then OMP_NUM_THREADS, as users of either expect.

MKL runs its threads on GNU OpenMP (libgomp), the runtime our generated kernels use, so that
products and kernels share one pool of threads; with Intel's OpenMP beside it, two pools spin
on the same cores (a loop step's product took 4× as long here). MKL_THREADING_LAYER, where
set, wins. One pool also lets its threads keep libgomp's default wait policy (spin briefly,
then sleep) instead of sleeping at once (runtime/cpu_backend.py, passive_openmp).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

ENVIRONMENT = "SYMBOLIC_BLAS"
CHOICES = ("mkl", "openblas", "numpy")

# MKL_Set_Threading_Layer's codes (mkl_service.h)
MKL_THREADING = {"INTEL": 0, "SEQUENTIAL": 1, "GNU": 3, "TBB": 4}


@dataclass(frozen=True)
class Blas:
    """A loaded CBLAS: its name, how to read a line naming its version (MKL's loads its
    kernels, 11 ms here: read when asked, not on a cold start), the addresses of its gemm, and
    of its packed gemm (cblas_?gemm_compute; 0 where it has none)."""

    name: str
    read_version: Callable[[], str]
    sgemm: int
    dgemm: int
    wide: bool  # int64_t integers (ILP64)
    library: ctypes.CDLL
    sgemm_compute: int = 0
    dgemm_compute: int = 0
    shares_kernel_threads: bool = False  # runs on GNU OpenMP, the generated kernels' pool

    @property
    def version(self) -> str:
        return self.read_version()

    @property
    def packs(self) -> bool:
        """Whether the library can pack an operand once for many products (MKL)."""
        return bool(self.sgemm_compute)


def _address(library: ctypes.CDLL, symbol: str) -> int:
    return ctypes.cast(getattr(library, symbol), ctypes.c_void_p).value


def _library_dirs() -> list[str]:
    """Where pip puts a wheel's shared libraries: the environment's lib (the mkl wheel's data
    files), for a virtual environment and the user scheme too."""
    import site
    import sysconfig

    dirs = [os.path.join(sys.prefix, "lib"), os.path.join(sys.base_prefix, "lib")]
    data = sysconfig.get_paths().get("data")
    if data:
        dirs.append(os.path.join(data, "lib"))
    if site.ENABLE_USER_SITE:
        dirs.append(os.path.join(site.getuserbase(), "lib"))
    return list(dict.fromkeys(dirs))


def load_mkl() -> Blas | None:
    paths = [
        p for d in _library_dirs() for p in sorted(glob.glob(os.path.join(d, "libmkl_rt.so*")))
    ]
    if not paths:
        return None
    library = ctypes.CDLL(paths[-1])
    layer = os.environ.get("MKL_THREADING_LAYER", "").upper()
    if not layer:
        # GNU OpenMP where the system has it (our kernels' runtime), else MKL's own default
        layer = "GNU" if _load_gomp() else "INTEL"
        library.MKL_Set_Threading_Layer(MKL_THREADING[layer])

    def version() -> str:
        text = ctypes.create_string_buffer(256)
        library.MKL_Get_Version_String(text, len(text))
        return text.value.decode(errors="replace").strip()

    sgemm, dgemm, sgemm_compute, dgemm_compute = (
        _address(library, f"cblas_{f}")
        for f in ("sgemm", "dgemm", "sgemm_compute", "dgemm_compute")
    )
    return Blas(
        "mkl", version, sgemm, dgemm, False, library, sgemm_compute, dgemm_compute, layer == "GNU"
    )


def _load_gomp() -> bool:
    """Whether GNU OpenMP loads (loaded here with its default wait policy: MKL and the kernels
    then share its threads, runtime/cpu_backend.py says why that policy)."""
    try:
        ctypes.CDLL("libgomp.so.1")
    except OSError:
        return False
    return True


def load_numpy_openblas() -> Blas | None:
    import numpy as np

    root = os.path.dirname(os.path.dirname(np.__file__))
    paths = sorted(glob.glob(os.path.join(root, "numpy.libs", "libscipy_openblas64_*.so*")))
    if not paths:
        return None
    library = ctypes.CDLL(paths[-1])
    try:
        sgemm, dgemm = (_address(library, f"scipy_cblas_{f}gemm64_") for f in "sd")
    except AttributeError:
        return None
    config = library.scipy_openblas_get_config64_
    config.restype = ctypes.c_char_p
    return Blas(
        "openblas", lambda: config().decode(errors="replace").strip(), sgemm, dgemm, True, library
    )


LOADERS = {"mkl": load_mkl, "openblas": load_numpy_openblas, "numpy": lambda: None}


@functools.cache
def blas() -> Blas | None:
    """The CBLAS products call (`SYMBOLIC_BLAS`, else the first of CHOICES that loads), or
    None for np.matmul."""
    wanted = os.environ.get(ENVIRONMENT, "").strip().lower()
    if wanted and wanted not in LOADERS:
        raise ValueError(f"{ENVIRONMENT}={wanted!r}: choose one of {', '.join(CHOICES)}")
    for name in (wanted,) if wanted else CHOICES:
        try:
            found = LOADERS[name]()
        except OSError:  # a library that is there but does not load (another machine's)
            found = None
        if found is not None or name == "numpy":
            return found
    raise RuntimeError(
        f"{ENVIRONMENT}={wanted}, but that BLAS does not load here"
        + (" (pip install mkl)" if wanted == "mkl" else "")
    )


def shares_kernel_threads() -> bool:
    """Whether the products run on the generated kernels' own OpenMP threads (MKL on GNU
    OpenMP): the kernels' threading threshold and wait policy follow (runtime/cpu_backend.py)."""
    found = blas()
    return found is not None and found.shares_kernel_threads


def describe() -> str:
    """One line: which BLAS the products call."""
    found = blas()
    return "np.matmul (NumPy's BLAS)" if found is None else f"{found.name}: {found.version}"
