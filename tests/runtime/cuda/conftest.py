"""The `emulated` fixture (the `gpu` fixture, tests/runtime/conftest.py, on the host emulation
only)."""

from __future__ import annotations

import pytest


@pytest.fixture
def emulated(gpu):
    """The host emulation only: for tests that count launches or GEMMs."""
    if not hasattr(gpu.driver, "launches"):
        pytest.skip("counts launches on the host emulation only")
    return gpu
