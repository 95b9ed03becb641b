"""benchmarks/run.py's shape variants M2, C2 and R2: the M1, C1 and R1 builders at other sizes,
each checked against its float64 reference the way run.py checks it before timing."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
VARIANT_SHAPES = {  # x's shape and every parameter's, from the sizes the README gives
    "M2": ((128, 512), [(512, 2048), (2048,), (2048, 512), (512,), (512, 10), (10,)]),
    "C2": (
        (64, 3, 32, 32),
        [(32, 3, 5, 5), (32,), (64, 32, 3, 3), (64,), (2304, 256), (256,), (256, 10), (10,)],
    ),
    "R2": ((50, 64, 128), [(128, 1280), (320, 1280), (1280,)]),
}
ORIGINAL_SHAPES = {  # M1, C1 and R1 as they were before the variants
    "M1": ((256, 784), [(784, 1024), (1024,), (1024, 1024), (1024,), (1024, 10), (10,)]),
    "C1": (
        (64, 1, 28, 28),
        [(20, 1, 5, 5), (20,), (50, 20, 5, 5), (50,), (800, 500), (500,), (500, 10), (10,)],
    ),
    "R1": ((50, 32, 128), [(128, 1024), (256, 1024), (1024,)]),
}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    """benchmarks/run.py, loaded with benchmarks/harness.py as its `harness` (the tests' own
    harness.py holds that module name in this process, and gets it back afterwards)."""
    sys.path.insert(0, str(BENCHMARKS))
    tests_harness = sys.modules.pop("harness", None)
    try:
        sys.modules["harness"] = _load("harness", BENCHMARKS / "harness.py")
        yield _load("bench_run", BENCHMARKS / "run.py")
    finally:
        sys.modules.pop("harness")
        if tests_harness is not None:
            sys.modules["harness"] = tests_harness
        sys.path.remove(str(BENCHMARKS))


def _spec(bench, name: str) -> dict:
    ((row, spec),) = bench.in_process_workloads()[name]
    assert row == name
    return spec


@pytest.mark.parametrize("name", sorted(VARIANT_SHAPES) + sorted(ORIGINAL_SHAPES))
def test_workload_inputs_have_its_sizes(bench, name):
    x_shape, param_shapes = {**VARIANT_SHAPES, **ORIGINAL_SHAPES}[name]
    params, x, _ = _spec(bench, name)["inputs"]()
    assert x.shape == x_shape and x.dtype == np.float32
    assert [p.shape for p in params] == param_shapes


@pytest.mark.parametrize("name", sorted(VARIANT_SHAPES))
def test_variant_matches_its_float64_reference(bench, name):
    """Our step on the cpu device, and the NumPy peer where the workload has one, pass run.py's
    check against the reference (a time comes back, not a description of what is wrong)."""
    spec = _spec(bench, name)
    inputs = spec["inputs"]()
    reference = spec["reference"](*inputs)
    builders = {"ours": lambda *args: spec["ours"]("cpu", *args)}
    if "numpy" in spec["peers"]:
        builders["numpy"] = spec["peers"]["numpy"]
    for who, build in builders.items():
        got = bench.time_one(
            build, inputs, reference, bench.TOLERANCES[name], 1, False, spec.get("result")
        )
        assert isinstance(got, float), f"{name} {who}: {got}"


def test_variants_run_only_when_named(bench):
    assert set(bench.VARIANTS) <= set(bench.WORKLOADS)
    assert not set(bench.VARIANTS) & set(bench.DEFAULT_ONLY)
    assert set(bench.VARIANTS) <= set(bench.YARDSTICK)
    with pytest.raises(SystemExit):  # a name run.py does not know is refused before any run
        bench.main(["--only", "M2,M9"])


def test_row_without_target_is_met_when_no_peer_is_faster(bench):
    def row(ours, peers):
        return bench.finish({"ours_s": ours, "target_s": None, "peers": peers})

    assert row(1.0, {"numpy": 2.0, "torch": 1.5, "jax": "not installed"})["met"] is True
    assert row(1.0, {"numpy": 2.0, "torch": 0.9})["met"] is False
    assert row(1.0, {"jax": "not installed"})["met"] is None  # no peer to compare with


def test_conv_sizes_that_pool_an_odd_map_are_refused(bench):
    import bench_conv

    odd = bench_conv.ConvNet(batch=2, image=(3, 32, 32), convs=((8, 3), (8, 3)), hidden=16)
    with pytest.raises(ValueError, match="odd 13×13"):
        _ = odd.params
