"""The `gpu` fixture: the real GPU where there is one, else the host emulation of
tests/cuda_host.py (kernels compiled by g++), so the cuda runtime's tests run everywhere."""

from __future__ import annotations

import shutil

import pytest

from runtime.cuda.device import CudaUnavailableError, get_device, use_driver


@pytest.fixture
def gpu():
    """The cuda Device the test's functions run on (its `driver` counts launches and GEMMs
    on the emulation)."""
    try:
        yield get_device()
        return
    except CudaUnavailableError:
        pass
    if shutil.which("g++") is None:
        pytest.skip("no GPU, and no g++ to emulate one")
    from cuda_host import HostDriver

    with use_driver(HostDriver()) as device:
        yield device


@pytest.fixture
def emulated(gpu):
    """The host emulation only: for tests that count launches or GEMMs."""
    if not hasattr(gpu.driver, "launches"):
        pytest.skip("counts launches on the host emulation only")
    return gpu
