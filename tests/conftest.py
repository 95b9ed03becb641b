"""Shared fixtures: the device list and a seeded generator. `run` lives in harness.py.

The cuda device's tests run where PyCUDA and a GPU are present and are skipped elsewhere, with
the reason. `pytest --cuda-host` runs them on the host emulation of tests/cuda_host.py instead
(slow: each function's kernels are compiled by g++; for checking kernels without a GPU).
`pytest tests/fuzz --fuzz N --fuzz-seed S` checks N random graphs from seed S (tests/fuzz).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from harness import run  # noqa: F401  (re-exported: the helper every op table uses)

from runtime.cuda.device import CudaUnavailableError, get_device


def pytest_addoption(parser):
    parser.addoption(
        "--cuda-host",
        action="store_true",
        help="run the cuda device's tests on the host emulation where there is no GPU",
    )
    parser.addoption(
        "--fuzz",
        type=int,
        default=int(os.environ["SYMBOLIC_FUZZ"]) if os.environ.get("SYMBOLIC_FUZZ") else None,
        help="tests/fuzz: check N random graphs per device (default: the CI batch; also "
        "$SYMBOLIC_FUZZ)",
    )
    parser.addoption(
        "--fuzz-seed", type=int, default=0, help="tests/fuzz: the seed of the first random graph"
    )


def _gpu_missing() -> str | None:
    """Why cuda functions cannot run here, or None (a GPU is present)."""
    try:
        get_device()
    except CudaUnavailableError as error:
        return str(error).split(". The function")[0]
    return None


GPU_MISSING = _gpu_missing()


def pytest_collection_modifyitems(config, items):
    if GPU_MISSING is None or config.getoption("--cuda-host"):
        return
    skip = pytest.mark.skip(reason=f"no GPU: {GPU_MISSING}")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


# Every device a compiled function can run on; adding one is one line here. cuda's tests are
# marked `cuda` (`-m cuda` selects them, `-m "not cuda"` leaves them out).
DEVICES = ["numpy", "cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    if request.param == "cuda" and GPU_MISSING is not None:  # --cuda-host: emulate the GPU
        from cuda_host import HostDriver

        from runtime.cuda.device import use_driver

        with use_driver(HostDriver()):
            yield request.param
        return
    yield request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
