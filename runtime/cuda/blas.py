"""cuBLAS through its C API (ctypes): strided batched GEMM in float32 and float64.

cuBLAS is column-major; our arrays are row-major. A row-major matrix is the column-major
storage of its transpose, so C = A B is computed as Cᵀ = Bᵀ Aᵀ: B goes first and the roles of
M and N swap (runtime/cuda/matmul.py works out the operands; this module only calls).
α and β (C ← α·op(A)·op(B) + β·C) are host numbers, read when the call is queued, or device
addresses of 0-d values (cuBLAS's device pointer mode), read when the GEMM runs.
"""

from __future__ import annotations

import ctypes

from runtime.nvidia_library import find_nvidia_library

OP = {"N": 0, "T": 1}  # cublasOperation_t
POINTER_MODE = {False: 0, True: 1}  # cublasPointerMode_t: α, β on the host (0) or device (1)
LIBRARY_NAMES = ("libcublas.so.13", "libcublas.so.12", "libcublas.so")


def find_cublas() -> str:
    """The path or name of libcublas: NVIDIA's wheel (cuda.pathfinder) first, then the system."""
    return find_nvidia_library("cublas", LIBRARY_NAMES, "install nvidia-cublas or the CUDA toolkit")


class Cublas:
    """One cuBLAS handle whose work goes to the stream `stream_handle`."""

    def __init__(self, stream_handle: int):
        self.lib = ctypes.CDLL(find_cublas())
        self.handle = ctypes.c_void_p()
        self._check(self.lib.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")
        self._check(
            self.lib.cublasSetStream_v2(self.handle, ctypes.c_void_p(stream_handle)),
            "cublasSetStream",
        )
        i, ll, p = ctypes.c_int, ctypes.c_longlong, ctypes.c_void_p
        args = [p, i, i, i, i, i, p, p, i, ll, p, i, ll, p, p, i, ll, i]
        self.functions = {}
        for dtype, name, scalar in (
            ("float32", "cublasSgemmStridedBatched", ctypes.c_float),
            ("float64", "cublasDgemmStridedBatched", ctypes.c_double),
        ):
            fn = getattr(self.lib, name)
            fn.argtypes, fn.restype = args, ctypes.c_int
            self.functions[dtype] = (fn, scalar)
        self.scalars_on_device = False  # the handle's pointer mode

    @staticmethod
    def _check(status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"{what} failed with cuBLAS status {status}")

    def gemm(
        self,
        dtype,
        op_a,
        op_b,
        m,
        n,
        k,
        a,
        lda,
        stride_a,
        b,
        ldb,
        stride_b,
        c,
        ldc,
        stride_c,
        batch,
        alpha=1.0,
        beta=0.0,
        scalars_on_device=False,
    ):
        """C[i] = α·op(A[i]) op(B[i]) + β·C[i] for i < batch, column-major, C of m × n with
        leading dimension ldc; op is "N" or "T"; pointers are device addresses; α and β are
        numbers, or the device addresses of 0-d values of `dtype` where `scalars_on_device`."""
        fn, scalar = self.functions[dtype]
        if scalars_on_device != self.scalars_on_device:
            mode = POINTER_MODE[scalars_on_device]
            self._check(self.lib.cublasSetPointerMode_v2(self.handle, mode), "cublasSetPointerMode")
            self.scalars_on_device = scalars_on_device
        if scalars_on_device:
            alpha, beta = ctypes.c_void_p(alpha), ctypes.c_void_p(beta)
        else:
            alpha, beta = ctypes.byref(scalar(alpha)), ctypes.byref(scalar(beta))
        status = fn(
            self.handle,
            OP[op_a],
            OP[op_b],
            m,
            n,
            k,
            alpha,
            a,
            lda,
            stride_a,
            b,
            ldb,
            stride_b,
            beta,
            c,
            ldc,
            stride_c,
            batch,
        )
        self._check(status, f"cublas gemm ({dtype}, m={m} n={n} k={k} batch={batch})")
