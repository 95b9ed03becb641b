"""The cuda device's NCCL path rank against rank: programs/ run on 2 ranks with their cuda
functions on the host emulation and a stand-in libnccl that reduces over MPI
(programs/on_emulated_gpus.py). Real GPUs and libnccl are not exercised here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_ranks import check_ok, digits_file, launch  # noqa: F401  (digits_file: a fixture)

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="no g++ for the emulation")


def test_collectives_values_and_gradients_on_emulated_gpus(tmp_path):
    """Every collective's values, gradients and finite differences, buckets against blocking,
    the profile and the trace (programs/collectives.py) on device="cuda"."""
    result = launch(2, "on_emulated_gpus.py", "collectives.py", "cuda", tmp_path / "trace.json")
    check_ok(result)
    assert "collectives ok" in result.stdout


def test_training_on_emulated_gpus_matches_one_process(digits_file, tmp_path):  # noqa: F811
    """5 steps of the MLP on 2 emulated GPUs give one process's losses, and both ranks hold
    the same parameters after every step."""
    steps, bucket_bytes = 5, 4096  # small buckets: several per step
    alone = tmp_path / "alone"
    check_ok(launch(None, "train.py", digits_file, "cpu", steps, bucket_bytes, alone))
    pair = tmp_path / "pair"
    arguments = ("train.py", digits_file, "cuda", steps, bucket_bytes, pair)
    check_ok(launch(2, "on_emulated_gpus.py", *arguments))
    (expected,) = [json.loads(Path(f"{alone}.rank0.json").read_text())]
    ranks = [json.loads(Path(f"{pair}.rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["size"] == 2
    np.testing.assert_allclose(ranks[0]["losses"], expected["losses"], rtol=1e-5)
    assert ranks[1]["checksums"] == ranks[0]["checksums"]
