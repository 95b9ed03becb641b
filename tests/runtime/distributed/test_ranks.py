"""Multi-rank runs: the programs in programs/ launched with `mpiexec -n K` (the MPICH wheel's,
from the `distributed` extra), each under a timeout. One BLAS and OpenMP thread per rank, so
that K ranks share the machine's cores without oversubscribing them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runtime.distributed import monitor

PROGRAMS = Path(__file__).parent / "programs"
REPOSITORY = Path(__file__).resolve().parents[3]
LAUNCH_TIMEOUT_S = 90


def mpiexec() -> str:
    """The mpiexec beside this Python (a virtual environment's), else the one on the PATH."""
    beside = Path(sys.executable).with_name("mpiexec")
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    assert found, 'mpiexec not found: pip install "symbolic[distributed]" (mpi4py, mpich)'
    return found


def launch(
    n_ranks: int | None, program: str | Path, *args, tmpdir: Path | None = None
) -> subprocess.CompletedProcess:
    """Run programs/<program> (or the script at a path) on n_ranks ranks (None: a plain
    process, no mpiexec), with $TMPDIR at `tmpdir` if given."""
    env = dict(os.environ, PYTHONPATH=str(REPOSITORY), OMP_NUM_THREADS="1")
    env.update(OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    command = [sys.executable, str(PROGRAMS / program), *map(str, args)]  # a Path stays itself
    if n_ranks is not None:
        command = [mpiexec(), "-n", str(n_ranks), *command]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S
    )


def check_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory) -> Path:
    """The digits' training images and labels as .npz, written once for every launch."""
    sys.path.insert(0, str(REPOSITORY / "tutorials"))
    import data

    digits = data.load("digits")
    path = tmp_path_factory.mktemp("digits") / "digits.npz"
    x = digits.x_train.reshape(len(digits.x_train), -1).astype(np.float32)
    np.savez(path, x=x, y=digits.y_train.astype(np.int64))
    return path


@pytest.mark.parametrize("n_ranks", [2, 3])
@pytest.mark.parametrize("device", ["numpy", "cpu"])
def test_collectives_values_and_gradients(n_ranks, device, tmp_path):
    result = launch(n_ranks, "collectives.py", device, tmp_path / "trace.json")
    check_ok(result)
    assert "collectives ok" in result.stdout


def train(digits_file, tmp_path, n_ranks, bucket_bytes=25 * 2**20, steps=50) -> list[dict]:
    prefix = tmp_path / f"n{n_ranks}_b{bucket_bytes}"
    check_ok(launch(n_ranks, "train.py", digits_file, "cpu", steps, bucket_bytes, prefix))
    return [json.loads(Path(f"{prefix}.rank{r}.json").read_text()) for r in range(n_ranks or 1)]


def test_training_matches_one_process_on_1_2_3_ranks(digits_file, tmp_path):
    """Same global batch: the loss curve of 1, 2 and 3 ranks (3: uneven shards, 22 + 21 +
    21 rows, and a short last batch) is the single process's, and after every step all ranks
    hold the same parameters."""
    (alone,) = train(digits_file, tmp_path, None)
    assert alone["size"] == 1
    for n_ranks in (1, 2, 3):
        ranks = train(digits_file, tmp_path, n_ranks)
        assert [r["size"] for r in ranks] == [n_ranks] * n_ranks
        np.testing.assert_allclose(ranks[0]["losses"], alone["losses"], rtol=1e-5)
        for other in ranks[1:]:
            assert other["checksums"] == ranks[0]["checksums"]
            assert other["losses"] == ranks[0]["losses"]


def test_bucketed_overlapped_equals_blocking(digits_file, tmp_path):
    """Blocking all-reduces where they stand (bucket_bytes=0), several small buckets, and
    one bucket give the same training run."""
    blocking, small, one = (
        train(digits_file, tmp_path, 2, bucket_bytes, steps=10) for bucket_bytes in (0, 4096, 2**30)
    )
    for run in (small, one):
        np.testing.assert_allclose(run[0]["losses"], blocking[0]["losses"], rtol=1e-6)


# mode → what every rank's error output must contain
FAULTS = {
    "raise": ["rank 1 failed: TypeError: input 'x' (position 0) expects a 1-d"],
    "sleep": ["timed out after 3 s", "rank(s) 1 did not answer"],
    "shapes": ["the ranks run different collectives", "rank 1: ", "float32[5]"],
    "order": ["the ranks run different collectives", "allreduce max", "allreduce sum"],
}


@pytest.mark.parametrize("mode", sorted(FAULTS))
def test_fault_ends_every_rank_with_a_named_error(mode):
    start = time.monotonic()
    result = launch(3, "faults.py", mode)
    assert result.returncode != 0
    assert "finished" not in result.stdout
    for text in FAULTS[mode]:
        assert text in result.stderr, result.stderr
    assert result.stderr.count("failed:") >= 2  # the failing rank and at least one other
    assert time.monotonic() - start < LAUNCH_TIMEOUT_S


def test_killed_rank_ends_the_job(tmp_path):
    result = launch(3, "faults.py", "kill", tmpdir=tmp_path)
    assert result.returncode != 0
    assert "finished" not in result.stdout
    assert "Killed (signal 9)" in result.stdout + result.stderr
    # the rank's watcher names it, and where every rank was
    report = [line for line in result.stderr.splitlines() if "symbolic.distributed:" in line]
    assert len(report) == 1, result.stderr
    assert "rank 1 of 3 (process " in report[0]
    assert "ended without finishing" in report[0] and "while computing" in report[0]
    for other in ("rank 0", "rank 2"):
        assert f"{other} (process " in report[0] and "waiting in bucket 0" in report[0]
    time.sleep(2 * monitor.REPORT_GRACE_S)
    assert not list(tmp_path.iterdir())  # the watchers removed the job's folder


def test_watchers_leave_nothing_after_a_normal_run(tmp_path):
    result = launch(2, "collectives.py", "cpu", tmp_path / "trace.json", tmpdir=tmp_path)
    check_ok(result)
    assert "symbolic.distributed:" not in result.stderr
    deadline = time.monotonic() + 10
    while any(p.name.startswith("symbolic-ranks-") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline, list(tmp_path.iterdir())
        time.sleep(0.05)


@pytest.mark.parametrize(
    "script, arguments",
    [
        ("train_mlp.py", ["--epochs", "2", "--limit", "600"]),
        ("train_lenet.py", ["--epochs", "1", "--limit", "300"]),
    ],
)
def test_tutorial_scripts_train_on_two_ranks(script, arguments):
    """--distributed under mpiexec gives the accuracy of the same run in one process."""
    path = REPOSITORY / "tutorials" / script
    arguments = [*arguments, "--device", "cpu", "--distributed"]
    alone, pair = launch(None, path, *arguments), launch(2, path, *arguments)
    check_ok(alone)
    check_ok(pair)
    assert pair.stdout.count("test accuracy") == 1  # rank 0 speaks for both
    accuracy = alone.stdout.split("test accuracy ")[1].split()[0]
    assert f"test accuracy {accuracy} after" in pair.stdout and "2 ranks" in pair.stdout
