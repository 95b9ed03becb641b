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
        def __init__(self, ordinal=0):
            self.ordinal = ordinal

        @staticmethod
        def count():
            return 2

        def retain_primary_context(self):
            return PrimaryContext(self.ordinal)

        def name(self):
            return "stand-in"

        def compute_capability(self):
            return (9, 0)

        def get_attribute(self, attribute):
            assert attribute == "MULTIPROCESSOR_COUNT"
            return 132

    class PrimaryContext:
        def __init__(self, ordinal):
            self.ordinal = ordinal

        def push(self):
            calls.append(("push", self.ordinal))

        def pop(self):
            calls.append(("pop", self.ordinal))

    class Context:
        @staticmethod
        def get_device():
            return Device()

        @staticmethod
        def synchronize():
            calls.append(("context synchronize",))

    streams = iter([0x5EED, 0xC0])

    class Stream:
        def __init__(self, flags=0):
            self.handle = next(streams)

        def synchronize(self):
            calls.append(("stream synchronize",))

        def wait_for_event(self, event):
            calls.append(("wait", self.handle, event))

        def is_done(self):
            return True

    class Event:
        def __init__(self, flags=0):
            assert flags == "DISABLE_TIMING"

        def record(self, stream=None):
            calls.append(("record", stream.handle, self))

        def query(self):
            return True

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
        Event=Event,
        event_flags=types.SimpleNamespace(DISABLE_TIMING="DISABLE_TIMING"),
        Device=Device,
        init=lambda flags=0: calls.append(("init",)),
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


def test_under_mpiexec_the_local_rank_picks_the_gpu_and_events_order_the_streams(monkeypatch):
    """Local rank 3 on a machine with 2 GPUs takes GPU 1's primary context (popped at exit);
    the collectives' stream waits for an event of the compute stream, and back."""
    from runtime.cuda.driver import PyCudaDriver
    from runtime.distributed import mpi

    calls: list = []
    for name, module in fake_pycuda(calls).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(mpi, "_launched", True)
    monkeypatch.setattr(mpi, "_world", types.SimpleNamespace(local_rank=3))
    at_exit: list = []
    monkeypatch.setattr("runtime.cuda.driver.atexit.register", at_exit.append)
    driver = PyCudaDriver()
    assert calls == [("init",), ("push", 1)]
    at_exit[0]()
    assert calls[-1] == ("pop", 1)
    communication = driver.communication_stream()
    assert communication == 0xC0 and driver.communication_stream() == communication  # made once
    ready = driver.record_event(driver.stream_handle)
    driver.wait_event(communication, ready)
    done = driver.record_event(communication)
    driver.wait_event(driver.stream_handle, done)
    assert calls[-4:] == [
        ("record", 0x5EED, ready),
        ("wait", 0xC0, ready),
        ("record", 0xC0, done),
        ("wait", 0x5EED, done),
    ]
    assert driver.event_done(done) and driver.stream_done(communication)
