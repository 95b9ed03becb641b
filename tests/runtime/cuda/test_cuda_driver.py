"""PyCudaDriver against a stand-in for PyCUDA's API (the names and argument orders of PyCUDA
2026.1's driver, tools and autoprimaryctx): every call the driver makes is one PyCUDA has, the
cubin it loads is nvcc's, and a launch passes the packed SymArgs on our stream. Kernels do not
run here (tests/cuda_host.py runs them); this checks the seam that only a GPU exercises."""

from __future__ import annotations

import ctypes
import sys
import types

import numpy as np
import pytest

import symbolic as S
from runtime.cuda import build
from runtime.cuda import device as cuda_device
from runtime.cuda.device import param_bytes


class Allocation:
    def __init__(self, size):
        self.buffer = np.zeros(size, np.uint8)

    def __int__(self):
        return self.buffer.ctypes.data


def fake_pycuda(calls: list) -> dict:
    """Modules named as PyCUDA's, each function with PyCUDA's positional parameters."""
    driver = types.ModuleType("pycuda.driver")

    class Device:
        def name(self):
            return "stand-in"

        def compute_capability(self):
            return (9, 0)

        def get_attribute(self, attribute):
            assert attribute == "MULTIPROCESSOR_COUNT"
            return 132

    class Context:
        @staticmethod
        def get_device():
            return Device()

        @staticmethod
        def synchronize():
            calls.append(("context synchronize",))

    class Stream:
        handle = 0x5EED

        def __init__(self, flags=0):
            pass

        def synchronize(self):
            calls.append(("stream synchronize",))

    class Function:
        def prepare(self, arg_types):
            self.arg_format = "".join(arg_types)

        def prepared_async_call(self, grid, block, stream, *args):
            assert isinstance(grid, tuple) and isinstance(block, tuple) and len(args) == 1
            assert self.arg_format == f"{len(args[0])}s"
            calls.append(("launch", grid, block, stream, len(args[0])))

    class Module:
        def get_function(self, name):
            calls.append(("get_function", name))
            return Function()

    def module_from_buffer(buffer, options=None, message_handler=None):
        calls.append(("module_from_buffer", bytes(buffer[:4])))
        return Module()

    def memcpy_htod_async(dest, src, stream=None):
        ctypes.memmove(int(dest), src.ctypes.data, src.nbytes)

    def memcpy_dtoh_async(dest, src, stream=None):
        ctypes.memmove(dest.ctypes.data, int(src), dest.nbytes)

    def memcpy_dtod_async(dest, src, size, stream=None):
        ctypes.memmove(int(dest), int(src), size)

    def memset_d8_async(dest, data, size, stream=None):
        ctypes.memset(int(dest), data, size)

    driver.__dict__.update(
        Context=Context,
        Stream=Stream,
        device_attribute=types.SimpleNamespace(MULTIPROCESSOR_COUNT="MULTIPROCESSOR_COUNT"),
        module_from_buffer=module_from_buffer,
        memcpy_htod_async=memcpy_htod_async,
        memcpy_dtoh_async=memcpy_dtoh_async,
        memcpy_dtod_async=memcpy_dtod_async,
        memset_d8_async=memset_d8_async,
    )
    tools = types.ModuleType("pycuda.tools")
    tools.DeviceMemoryPool = type(
        "DeviceMemoryPool", (), {"allocate": lambda self, n: Allocation(n)}
    )
    package = types.ModuleType("pycuda")
    package.driver, package.tools = driver, tools
    return {
        "pycuda": package,
        "pycuda.driver": driver,
        "pycuda.tools": tools,
        "pycuda.autoprimaryctx": types.ModuleType("pycuda.autoprimaryctx"),
    }


@pytest.mark.skipif(build.find_nvcc() is None, reason="nvcc is not on the PATH")
@pytest.mark.usefixtures("cache_home")
def test_a_call_loads_nvccs_cubin_and_launches_on_our_stream(monkeypatch):
    calls: list = []
    for name, module in fake_pycuda(calls).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(cuda_device, "_state", {"device": None, "failure": None})
    x = S.vector("x")
    f = S.compile([x], x + 1, device="cuda")
    out = f(np.ones(10, np.float32))
    assert out.shape == (10,) and out.dtype == np.float32  # values: the kernel did not run
    assert ("module_from_buffer", b"\x7fELF") in calls
    assert ("get_function", "k0_add") in calls
    launches = [c for c in calls if c[0] == "launch"]
    assert len(launches) == 1
    _, grid, block, stream, size = launches[0]
    assert grid == (1, 1, 1) and block == (256, 1, 1) and size == param_bytes(3)
    assert stream.handle == 0x5EED
    assert calls[-1] == ("stream synchronize",)  # one wait, after the output's copy
