"""Shared fixtures: the device list and a seeded generator. `run` lives in harness.py."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run  # noqa: F401  (re-exported: the helper every op table uses)

# Every device a compiled function can run on; adding one ("cpu", "cuda") is one line here.
DEVICES = ["numpy", "cpu"]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
