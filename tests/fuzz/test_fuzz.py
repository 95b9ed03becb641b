"""Random graphs over the whole op library (random_graphs.py) against the NumPy oracle and
central finite differences, on every device, optimized and not.

CI checks a fixed batch of seeds; `pytest tests/fuzz --fuzz N --fuzz-seed S` (or
SYMBOLIC_FUZZ=N) checks graphs S .. S+N−1, and a failure prints the one-line command that
checks the failing graph alone.
"""

from __future__ import annotations

import pytest
from batch_check import isolate

BATCH = 25  # graphs compiled as one function
# (device, optimize) -> graphs checked in CI; with --fuzz N, N graphs (cuda: one in 50, since
# the host emulation compiles every kernel with g++)
CI_GRAPHS = {
    ("numpy", False): 400,  # the oracle itself, against finite differences
    ("numpy", True): 400,
    ("cpu", True): 200,
    ("cpu", False): 100,
    ("cuda", True): 5,
    ("cuda", False): 3,
}


def _count(config, option: tuple) -> int:
    """Graphs checked on (device, optimize): the CI batch, or --fuzz N (cuda: one in 50)."""
    n = config.getoption("--fuzz")
    if n is None:
        return CI_GRAPHS[option]
    return max(n // 50, 1) if option[0] == "cuda" else n


def _batches(config, option: tuple) -> list[list[int]]:
    first, count = config.getoption("--fuzz-seed"), _count(config, option)
    size = 5 if option[0] == "cuda" else BATCH  # the emulation builds big batches slowly
    seeds = list(range(first, first + count))
    return [seeds[i : i + size] for i in range(0, count, size)]


def pytest_generate_tests(metafunc):
    if "seeds" not in metafunc.fixturenames:
        return
    cases = [
        pytest.param(
            device, optimize, seeds, id=f"{device}-{'opt' if optimize else 'noopt'}-{seeds[0]}"
        )
        for device, optimize in CI_GRAPHS
        for seeds in _batches(metafunc.config, (device, optimize))
    ]
    metafunc.parametrize("device, optimize, seeds", cases)


def test_random_graphs_match_oracle_and_finite_differences(device, optimize, seeds):
    """numpy without optimization is the oracle: it is checked against finite differences."""
    reports = isolate(seeds, device, optimize, gradients=(device, optimize) == ("numpy", False))
    assert not reports, "\n\n".join(reports)
