"""The one module that imports PyCUDA, and only when a cuda function first runs.

`PyCudaDriver` is the small surface the rest of the cuda runtime uses: memory from a pool, copies
and launches on one stream, modules from cubins, cuBLAS (runtime/cuda/blas.py) on the same
stream, and a second stream with events for collectives. It works in the primary context of
its GPU (under mpiexec the one `local_rank()` picks), the one CuPy and PyTorch use, so arrays
pass between them without copies. Another object with the same methods
(the tests' host emulation) can stand in for it: see `runtime.cuda.device.use_driver`.
"""

from __future__ import annotations

import atexit

import numpy as np

from runtime.cuda import blas
from runtime.cuda.build import build_cubin_of


def enter_primary_context(cuda) -> None:
    """Make the primary context of this process's GPU current, for good (the context CuPy,
    PyTorch and NCCL use on that device): under mpiexec GPU local_rank() mod the GPU count
    (one GPU per rank on each machine), else PyCUDA's choice ($CUDA_DEVICE, else the first
    that works)."""
    from runtime.distributed.mpi import world

    w = world()
    if w is None:
        import pycuda.autoprimaryctx  # noqa: F401  (retains and pushes the primary context)

        return
    cuda.init()
    context = cuda.Device(w.local_rank % cuda.Device.count()).retain_primary_context()
    context.push()
    atexit.register(context.pop)


class PyCudaDriver:
    """The GPU through PyCUDA. Raises ImportError or RuntimeError (caught by
    runtime.cuda.device, which says what is missing) where there is none."""

    def __init__(self):
        import pycuda.driver as cuda

        enter_primary_context(cuda)
        from pycuda.tools import DeviceMemoryPool

        self._cuda = cuda
        device = cuda.Context.get_device()
        self.name = device.name()
        self.compute_capability = device.compute_capability()
        self.multiprocessors = device.get_attribute(cuda.device_attribute.MULTIPROCESSOR_COUNT)
        self.stream = cuda.Stream()
        self.stream_handle = int(self.stream.handle)
        self._pool = DeviceMemoryPool()
        self._blas = None
        self._communication = None  # the collectives' stream, made on first use

    # ---- memory -------------------------------------------------------------------------------

    def allocate(self, nbytes: int):
        """Device memory of at least `nbytes` (from the pool; back to it when the returned
        object is garbage): `int(allocation)` is its address, 256-byte aligned."""
        return self._pool.allocate(max(int(nbytes), 1))

    def upload(self, ptr: int, host: np.ndarray) -> None:
        """Copy a C-contiguous host array to `ptr`, in stream order (the host array may be
        reused as soon as this returns: pageable memory is staged by the driver)."""
        self._cuda.memcpy_htod_async(ptr, host, self.stream)

    def download(self, host: np.ndarray, ptr: int) -> None:
        """Copy to a C-contiguous host array, in stream order; valid after `synchronize`."""
        self._cuda.memcpy_dtoh_async(host, ptr, self.stream)

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        self._cuda.memcpy_dtod_async(dst, src, nbytes, self.stream)

    def fill_zero(self, ptr: int, nbytes: int) -> None:
        self._cuda.memset_d8_async(ptr, 0, nbytes, self.stream)

    def synchronize(self) -> None:
        """Wait for everything queued on the stream."""
        self.stream.synchronize()

    def synchronize_context(self) -> None:
        """Wait for everything queued in the context, by us or by CuPy and PyTorch."""
        self._cuda.Context.synchronize()

    def wait_for_foreign_stream(self, handle) -> None:
        """Order our stream after work another library queued on stream `handle` (the
        `stream` entry of a `__cuda_array_interface__`): 1 and 2 are the default streams,
        which a blocking stream such as ours already waits for; others sync the context."""
        if handle not in (None, 1, 2, self.stream_handle):
            self.synchronize_context()

    # ---- streams and events (collectives: runtime/cuda/collectives.py) -----------------------

    def communication_stream(self) -> int:
        """The handle of a second stream, for collectives (made on first use)."""
        if self._communication is None:
            self._communication = self._cuda.Stream()
        return int(self._communication.handle)

    def _stream(self, handle: int):
        return self.stream if handle == self.stream_handle else self._communication

    def record_event(self, stream: int):
        """An event recorded on stream `stream` (a handle): done when the work queued there
        before it is (cuEventRecord)."""
        event = self._cuda.Event(self._cuda.event_flags.DISABLE_TIMING)
        event.record(self._stream(stream))
        return event

    def wait_event(self, stream: int, event) -> None:
        """Work queued on `stream` from now on waits for `event`; the host does not
        (cuStreamWaitEvent)."""
        self._stream(stream).wait_for_event(event)

    def event_done(self, event) -> bool:
        return event.query()

    def stream_done(self, stream: int) -> bool:
        return self._stream(stream).is_done()

    # ---- code ---------------------------------------------------------------------------------

    @property
    def arch(self) -> str:
        major, minor = self.compute_capability
        return f"sm_{major}{minor}"

    def build_module(self, render, structure: str | None = None):
        """The module of the source `render()` gives, compiled for this GPU (nvcc → cubin,
        cached by content; found by `structure` without rendering when it was built before)."""
        return self._cuda.module_from_buffer(build_cubin_of(structure, render, self.arch))

    def function(self, module, name: str, param_bytes: int):
        """Kernel `name` of `module`, prepared to take `param_bytes` of parameters."""
        fn = module.get_function(name)
        fn.prepare(f"{param_bytes}s")
        return fn

    def launch(self, fn, grid: int, block: int, params: bytes) -> None:
        """Queue one launch of `fn` on the stream; no synchronization."""
        fn.prepared_async_call((grid, 1, 1), (block, 1, 1), self.stream, params)

    # ---- cuBLAS -------------------------------------------------------------------------------

    def gemm(self, dtype: str, *args, **scalars) -> None:
        """cuBLAS {S,D}gemmStridedBatched on the stream (arguments: blas.Cublas.gemm)."""
        if self._blas is None:
            self._blas = blas.Cublas(self.stream_handle)
        self._blas.gemm(dtype, *args, **scalars)
