"""Shared fixtures: the device list, a seeded generator and a compile-and-call helper."""

from __future__ import annotations

import numpy as np
import pytest

import symbolic as S

# Every device a compiled function can run on; adding one ("cpu", "cuda") is one line here.
DEVICES = ["numpy"]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def run(outputs, inputs_values: dict, device: str):
    """Compile `outputs` over the variables keyed in `inputs_values` and call it on the values."""
    inputs = list(inputs_values)
    f = S.compile(inputs, outputs, device=device)
    return f(*inputs_values.values())
