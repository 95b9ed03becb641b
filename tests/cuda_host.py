"""A stand-in for the GPU in tests: PyCudaDriver's methods on host memory.

Modules are the generated CUDA source compiled by g++ with cuda_host.h (every CUDA thread a
host thread), and cuBLAS is NumPy reading the same column-major operands (α and β from the
host or, in device pointer mode, from "device" memory), checking the arguments as cuBLAS
does. So the cuda runtime (plans, launches, cuBLAS operands, state) runs end to end against
the NumPy oracle where no GPU is lent:

    with use_driver(HostDriver()):
        f(x)   # a function compiled with device="cuda"
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

HEADER = Path(__file__).with_name("cuda_host.h")
KERNEL = re.compile(
    r'extern "C" __global__ void __launch_bounds__\(SYM_BLOCK\) (\w+)\(const SymArgs<(\d+)> args\)'
)
_BUILT: dict = {}  # source digest -> library, for the whole test session


def host_compiler() -> str | None:
    return shutil.which("g++")


class HostAllocation:
    """Host memory standing for device memory: `int()` is its 256-byte aligned address."""

    __slots__ = ("buffer", "address")

    def __init__(self, nbytes: int):
        self.buffer = np.zeros(nbytes + 256, np.uint8)
        self.address = -self.buffer.ctypes.data % 256 + self.buffer.ctypes.data

    def __int__(self) -> int:
        return self.address


class HostDriver:
    """Runs cuda functions on the host (see the module's docstring)."""

    name = "host emulation"
    compute_capability = (9, 0)
    multiprocessors = 2  # small grids: each CUDA thread costs a host thread
    stream_handle = None

    def __init__(self):
        self.launches = 0
        self.gemms = 0
        self.scalars: list[dict] = []  # each GEMM's α, β and pointer mode (none: 1, 0, host)

    def allocate(self, nbytes: int) -> HostAllocation:
        return HostAllocation(max(int(nbytes), 1))

    def upload(self, ptr: int, host: np.ndarray) -> None:
        assert host.flags.c_contiguous
        ctypes.memmove(ptr, host.ctypes.data, host.nbytes)

    def download(self, host: np.ndarray, ptr: int) -> None:
        assert host.flags.c_contiguous
        ctypes.memmove(host.ctypes.data, ptr, host.nbytes)

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        ctypes.memmove(dst, src, nbytes)

    def fill_zero(self, ptr: int, nbytes: int) -> None:
        ctypes.memset(ptr, 0, nbytes)

    def synchronize(self) -> None:
        pass

    synchronize_context = synchronize

    def wait_for_foreign_stream(self, handle) -> None:
        pass

    # every launch and copy has finished when it returns: events are done when recorded
    def communication_stream(self) -> int:
        return 1

    def record_event(self, stream) -> None:
        return None

    def wait_event(self, stream, event) -> None:
        pass

    def event_done(self, event) -> bool:
        return True

    def stream_done(self, stream) -> bool:
        return True

    def build_module(self, render, structure=None):
        source = render()
        digest = hashlib.sha256(source.encode()).hexdigest()
        if digest not in _BUILT:
            _BUILT[digest] = build_host_module(source)
        return _BUILT[digest]

    def function(self, module, name: str, param_bytes: int):
        fn = getattr(module, f"launch_{name}")
        fn.argtypes, fn.restype = [ctypes.c_uint, ctypes.c_uint, ctypes.c_char_p], None
        fn.param_bytes = param_bytes
        return fn

    def launch(self, fn, grid: int, block: int, params: bytes) -> None:
        assert len(params) == fn.param_bytes, (len(params), fn.param_bytes)
        assert 1 <= grid <= 65535 and block % 32 == 0
        self.launches += 1
        fn(grid, block, params)

    def gemm(
        self, dtype, op_a, op_b, m, n, k, a, lda, sa, b, ldb, sb, c, ldc, sc, batch, **scalars
    ):
        """cuBLAS's column-major C[i] = α·op(A[i]) op(B[i]) + β·C[i], with its argument checks;
        α and β as blas.Cublas.gemm takes them (numbers, or addresses of 0-d values)."""
        self.gemms += 1
        self.scalars.append(scalars)
        item = np.dtype(dtype).itemsize
        rows_a, cols_a = (m, k) if op_a == "N" else (k, m)
        rows_b, cols_b = (k, n) if op_b == "N" else (n, k)
        assert min(m, n, k, batch) >= 1, (m, n, k, batch)
        assert lda >= rows_a and ldb >= rows_b and ldc >= m, (lda, ldb, ldc, rows_a, rows_b, m)
        alpha, beta = scalars.get("alpha", 1.0), scalars.get("beta", 0.0)
        if scalars.get("scalars_on_device", False):  # pointer mode device: read them now
            alpha, beta = (_column_major(p, 1, 1, 1, dtype)[0, 0] for p in (alpha, beta))
        alpha, beta = np.dtype(dtype).type(alpha), np.dtype(dtype).type(beta)
        for i in range(batch):
            A = _column_major(a + i * sa * item, rows_a, cols_a, lda, dtype)
            B = _column_major(b + i * sb * item, rows_b, cols_b, ldb, dtype)
            C = _column_major(c + i * sc * item, m, n, ldc, dtype)
            product = alpha * ((A if op_a == "N" else A.T) @ (B if op_b == "N" else B.T))
            C[...] = product if beta == 0 else product + beta * C  # β = 0: C is not read


def _column_major(ptr: int, rows: int, cols: int, ld: int, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    count = ld * (cols - 1) + rows
    flat = np.ctypeslib.as_array((ctypes.c_uint8 * (count * dtype.itemsize)).from_address(ptr))
    return np.lib.stride_tricks.as_strided(
        flat.view(dtype), (rows, cols), (dtype.itemsize, ld * dtype.itemsize)
    )


def build_host_module(source: str) -> ctypes.CDLL:
    """The generated module with a host launcher `launch_<name>(grid, block, params)` per
    kernel, compiled by g++ (C++20, the CUDA keywords from cuda_host.h)."""
    launchers = [
        f'extern "C" void launch_{name}(unsigned grid, unsigned block, const char *params) {{\n'
        f"    SymArgs<{n}> args;\n"
        "    memcpy(&args, params, sizeof(args));\n"
        f"    sym_host_launch(grid, block, [&] {{ {name}(args); }});\n"
        "}\n"
        for name, n in KERNEL.findall(source)
    ]
    directory = Path(tempfile.mkdtemp(prefix="symbolic-cuda-host-"))
    path, library = directory / "module.cu", directory / "module.so"
    path.write_text(source + "\n" + "".join(launchers))
    argv = [
        host_compiler() or "g++",
        "-std=c++20",
        "-O1",
        "-pthread",
        "-shared",
        "-fPIC",
        "-w",
        "-include",
        str(HEADER),
        "-x",
        "c++",
        str(path),
        "-o",
        str(library),
    ]
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    return ctypes.CDLL(str(library))
