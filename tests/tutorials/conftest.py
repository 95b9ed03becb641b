"""Fixtures for the tutorial tests: the tutorials folder on sys.path, and the real data sets.

The tutorial scripts and notebooks import their helpers (`data`, `layers`, `training`) as
top-level modules from their own folder, as `python tutorials/train_mlp.py` does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
TUTORIALS = REPOSITORY / "tutorials"
sys.path.insert(0, str(TUTORIALS))


def real_data_directory(name: str) -> Path | None:
    """The folder of data set `name`'s IDX files: under $SYMBOLIC_DATA, else the first
    `shared/data` folder beside the repository or above it; None when there is none."""
    roots = [Path(os.environ["SYMBOLIC_DATA"])] if os.environ.get("SYMBOLIC_DATA") else []
    roots += [parent / "shared" / "data" for parent in REPOSITORY.parents]
    for root in roots:
        if (root / name / "t10k-labels-idx1-ubyte.gz").is_file():
            return root / name
    return None


def real_data_or_skip(name: str) -> Path:
    folder = real_data_directory(name)
    if folder is None:
        pytest.skip(f"{name} IDX files not found (set SYMBOLIC_DATA to their parent folder)")
    return folder


@pytest.fixture(params=["mnist", "fashion-mnist"])
def real_data(request) -> tuple[str, Path]:
    """(name, folder) of a real IDX data set; the test skips, saying why, when it is absent."""
    return request.param, real_data_or_skip(request.param)


@pytest.fixture
def mnist_folder() -> Path:
    """The folder of the real MNIST files; the test skips, saying why, when it is absent."""
    return real_data_or_skip("mnist")
