"""The GPU as the cuda runtime sees it: one driver, one stream, arrays in and out, copies.

`get_device()` makes the device on first use (importing PyCUDA then, never at import time) and
raises `CudaUnavailableError`, saying what is missing, where there is no GPU. `use_driver`
puts another driver in its place for a block (the tests run kernels on a host emulation).
"""

from __future__ import annotations

import functools
import math
import struct
from contextlib import contextmanager

import numpy as np

from runtime.cuda.array import DeviceArray, c_strides, from_interface
from symbolic.codegen.cuda_prelude import BLOCK, MAX_RANK, SIZES
from symbolic.codegen.kernel import ElementwiseKernel, ReductionKernel, single_step_program
from symbolic.dtypes import DTYPES, is_float
from symbolic.elemwise import Cast, Elemwise
from symbolic.scalar_ops import SCALAR_OPS

INSTALL_HINT = "pip install 'symbolic[cuda]' on a machine with an NVIDIA GPU and its driver"


class CudaUnavailableError(RuntimeError):
    """There is no GPU (or no PyCUDA) to run a cuda function on."""


_state: dict = {"device": None, "failure": None}


def get_device() -> Device:
    """The process's GPU device, made on first use; `CudaUnavailableError` where none."""
    device = _state["device"]
    if device is not None:
        return device
    if _state["failure"] is None:
        try:
            from runtime.cuda.driver import PyCudaDriver

            _state["device"] = Device(PyCudaDriver())
            return _state["device"]
        except ImportError as error:
            _state["failure"] = f"PyCUDA cannot be imported ({error}); {INSTALL_HINT}"
        except Exception as error:  # no driver library, no GPU, a driver too old
            _state["failure"] = f"no usable GPU ({type(error).__name__}: {error})"
    raise CudaUnavailableError(
        f'device="cuda" cannot run here: {_state["failure"]}. The function was compiled '
        "and its kernels can be read: f.kernels, f.source, f.dump(directory)."
    )


def available() -> bool:
    """Whether cuda functions can run in this process (PyCUDA imports and a GPU answers)."""
    try:
        get_device()
    except CudaUnavailableError:
        return False
    return True


@contextmanager
def use_driver(driver):
    """Run cuda functions on `driver` (an object with PyCudaDriver's methods) in the block."""
    saved = dict(_state)
    _state.update(device=Device(driver), failure=None)
    try:
        yield _state["device"]
    finally:
        _state.update(saved)


class Device:
    """Arrays, copies and modules on one driver's stream."""

    def __init__(self, driver):
        self.driver = driver
        self.stream_handle = driver.stream_handle
        self.multiprocessors = driver.multiprocessors
        self._modules: dict = {}
        self._utilities: dict = {}

    # ---- arrays -------------------------------------------------------------------------------

    def empty(self, shape, dtype) -> DeviceArray:
        """A new C-contiguous array from the pool (its memory is not set)."""
        dtype = np.dtype(dtype)
        shape = tuple(shape)
        allocation = self.driver.allocate(math.prod(shape) * dtype.itemsize)
        strides = c_strides(shape, dtype.itemsize)
        return DeviceArray(int(allocation), shape, dtype, strides, allocation, self, True)

    def copy(self, a: DeviceArray) -> DeviceArray:
        """A new contiguous copy of `a`."""
        if not a.is_contiguous:
            return self.contiguous(a)
        out = self.empty(a.shape, a.dtype)
        if out.nbytes:
            self.driver.copy(out.ptr, a.ptr, out.nbytes)
        return out

    def to_device(self, host) -> DeviceArray:
        """A device copy of a host array."""
        host = np.asarray(host)
        if not host.flags.c_contiguous:  # (np.ascontiguousarray would make a 0-d array 1-d)
            host = host.copy(order="C")
        out = self.empty(host.shape, host.dtype)
        if host.nbytes:
            self.driver.upload(out.ptr, host)
        return out

    def from_interface(self, obj) -> DeviceArray:
        """The memory of an object with `__cuda_array_interface__`, without a copy, ordered
        after the work its producer queued on its stream."""
        stream = obj.__cuda_array_interface__.get("stream")
        if stream is not None:
            self.driver.wait_for_foreign_stream(stream)
        return from_interface(obj, self)

    def to_host(self, arrays) -> list[np.ndarray]:
        """New host arrays with the values of `arrays`: every copy queued, then one wait."""
        out = []
        for a in arrays:
            if a.size and not a.is_contiguous:
                a = self.contiguous(a)
            host = np.empty(a.shape, a.dtype)
            if host.nbytes:
                self.driver.download(host, a.ptr)
            out.append(host)
        self.driver.synchronize()
        return out

    def contiguous(self, a: DeviceArray) -> DeviceArray:
        """`a` itself when C-contiguous, else a contiguous copy (a copy kernel)."""
        if a.is_contiguous:
            return a
        return self.utility(f"copy_{a.dtype.name}").run(self, [a])[0]

    def zeros(self, shape, dtype) -> DeviceArray:
        out = self.empty(shape, dtype)
        if out.nbytes:
            self.driver.fill_zero(out.ptr, out.nbytes)
        return out

    # ---- code ---------------------------------------------------------------------------------

    def module(self, named_kernels: list, fast_math: bool = False, render=None):
        """The module of the (name, description) pairs, built once per process and device;
        a warm start finds its cubin by the descriptions' key, without rendering CUDA.
        `render`: gives the source to build (default: the pairs without notes)."""
        from symbolic.codegen.kernel import structure_key

        structure = structure_key([("cuda", fast_math), *named_kernels])
        key = structure or tuple(named_kernels)
        module = self._modules.get((key, fast_math))
        if module is None:
            if render is None:

                def render() -> str:
                    from symbolic.codegen.cuda import render_module

                    return render_module(named_kernels, fast_math)

            module = self.driver.build_module(render, structure)
            self._modules[(key, fast_math)] = module
        return module

    def kernel(self, module, name: str, description) -> KernelFunction:
        from symbolic.codegen.cuda import arity

        n = arity(description)
        fn = self.driver.function(module, name, param_bytes(n))
        return KernelFunction(self, fn, n, description)

    def utility(self, name: str):
        """A runtime helper kernel: copy_<dtype> (to contiguous), sum_<dtype> (SumTo),
        divide_<dtype> (by a 0-d array) or negative_<dtype> (a gemm update's α on the device)."""
        found = self._utilities.get(name)
        if found is None:
            from runtime.cuda.launch import UtilityKernel

            module = self.module(list(utility_kernels().items()))
            found = UtilityKernel(self.kernel(module, name, utility_kernels()[name]))
            self._utilities[name] = found
        return found


@functools.cache
def utility_kernels() -> dict:
    """{name: description}: an identity (copy) and a sum keeping the dtype, for every dtype;
    for float dtypes, x / s with s 0-d (an all-reduce mean where NCCL has no ncclAvg) and −x
    (α = −s of a gemm update whose s is on the device, runtime/cuda/program.py)."""
    kernels = {}
    divide, negative = Elemwise(SCALAR_OPS["true_div"]), Elemwise(SCALAR_OPS["neg"])
    for dtype in DTYPES:
        program = single_step_program(Cast(dtype), (dtype,))
        kernels[f"copy_{dtype}"] = ElementwiseKernel(program, (False,), (dtype,))
        kernels[f"sum_{dtype}"] = ReductionKernel("sum", None, (dtype,), (False,), dtype)
        if is_float(dtype):
            program = single_step_program(divide, (dtype, dtype))
            kernels[f"divide_{dtype}"] = ElementwiseKernel(program, (False, True), (dtype,))
            program = single_step_program(negative, (dtype,))
            kernels[f"negative_{dtype}"] = ElementwiseKernel(program, (False,), (dtype,))
    return kernels


def param_bytes(n: int) -> int:
    """sizeof(SymArgs<n>): SIZES sizes, n × MAX_RANK strides, n pointers, all 8 bytes."""
    return 8 * (SIZES + n * MAX_RANK + n)


class KernelFunction:
    """One loaded kernel: packs SymArgs<n> and launches it on the device's stream."""

    __slots__ = ("device", "fn", "n", "description", "_pointers")

    def __init__(self, device: Device, fn, n: int, description):
        self.device, self.fn, self.n, self.description = device, fn, n, description
        self._pointers = struct.Struct(f"<{n}Q")

    def pack_layout(self, sizes, strides) -> bytes:
        """The sizes and strides part of the parameter, padded to its fixed length."""
        sizes = [int(s) for s in sizes] + [0] * (SIZES - len(sizes))
        strides = [int(s) for s in strides] + [0] * (self.n * MAX_RANK - len(strides))
        return struct.pack(f"<{SIZES + self.n * MAX_RANK}q", *sizes, *strides)

    def launch(self, grid: int, layout: bytes, pointers) -> None:
        params = layout + self._pointers.pack(*pointers)
        self.device.driver.launch(self.fn, grid, BLOCK, params)
