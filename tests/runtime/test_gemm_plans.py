"""Products' forms (runtime/gemm_plans.py): every form the planner can choose gives the NumPy
oracle's values and finite-difference gradients; measured choices are cached on disk and read
back, a corrupt or foreign cache file is ignored, f.profile names each product's form, and
planning off runs every product as stored (the rule before plans). No assertion here depends
on which form is faster."""

from __future__ import annotations

import json
import platform
import sys

import numpy as np
import pytest
from harness import assert_gradients_match_differences

import symbolic as S
from runtime import gemm_plans, native
from runtime.gemm_plans import FORMS
from runtime.packed_products import packing_available
from runtime.runner_steps import GemmStep

pytestmark = pytest.mark.skipif(native.header_dirs() is None, reason="no Python/NumPy headers")

MKL_PLATFORM = platform.machine() == "x86_64" and sys.platform == "linux"
TOLERANCE = {"float32": 2e-5, "float64": 1e-12}


@pytest.fixture(params=["mkl", "openblas"] if MKL_PLATFORM else ["openblas"])
def library(request, use_blas):
    use_blas(request.param)
    return request.param


@pytest.fixture
def plans_home(monkeypatch, tmp_path):
    """A fresh directory for the plans' cache file (the compiled libraries stay loaded), and
    no plans read before."""
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(gemm_plans, "_known", {})
    return tmp_path / "cache"


def plan_mode(monkeypatch, wanted: str) -> None:
    monkeypatch.setenv(gemm_plans.ENVIRONMENT, wanted)


def choices(f) -> list:
    """Every product step's choices so far, in schedule order."""
    steps = [step for step, _, _, _ in f._program.schedule.steps]
    return [c for step in steps if isinstance(step, GemmStep) for c in step.plan_choices()]


def stored_transposed(rng, shape, dtype):
    """An array of `shape` whose last two axes are swapped in memory."""
    stored = rng.standard_normal((*shape[:-2], shape[-1], shape[-2])).astype(dtype)
    return np.swapaxes(stored, -1, -2)


def layouts(rng, dtype):
    """(a, b) pairs in every way BLAS meets them: as stored, transposed, rows of a wider
    array, not readable (copied), single rows and columns, and broadcast batches."""
    x = rng.standard_normal((9, 14)).astype(dtype)
    return [
        (rng.standard_normal((5, 7)).astype(dtype), rng.standard_normal((7, 6)).astype(dtype)),
        (stored_transposed(rng, (5, 7), dtype), stored_transposed(rng, (7, 6), dtype)),
        (x[1:6, 2:9], x[:7, 8:14]),  # windows: strided rows
        (x[::2, ::2], x[:7:1, ::2][:, :6]),  # no contiguous axis: copied
        (x[:1, :7], stored_transposed(rng, (7, 6), dtype)),  # one row
        (x[:5, :7], x[:7, :1]),  # one column
        (stored_transposed(rng, (3, 5, 7), dtype), x[:7, :6]),  # a batch by one matrix
        (x[:5, :7], stored_transposed(rng, (2, 7, 6), dtype)),
    ]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_form_gives_the_oracle(library, monkeypatch, form, dtype, rng):
    plan_mode(monkeypatch, form)
    a, b = S.tensor3("a", dtype), S.tensor3("b", dtype)
    f = S.compile([a, b], S.matmul(a, b), device="cpu")
    ran = set()
    for x, y in layouts(rng, dtype):
        x, y = x.reshape((1,) * (3 - x.ndim) + x.shape), y.reshape((1,) * (3 - y.ndim) + y.shape)
        for _ in range(2):  # the second call runs the plan the first one made
            got = f(x, y)
            np.testing.assert_allclose(got, np.matmul(x, y), rtol=0, atol=TOLERANCE[dtype] * 10)
        ran.add(choices(f)[-1].form)
    assert ran == {form, "flags"}  # flags where the form is not a candidate (or is flags)
    assert {c.how for c in choices(f)} == {"forced"}


@pytest.mark.parametrize("form", FORMS)
def test_gemm_updates_in_every_form_match_numpy(library, monkeypatch, form, rng):
    """A training step whose weight update is a gemm update reading x transposed (dW = xᵀ·g):
    the update's forms (flags, copy; swap is not one of its candidates) against the numpy
    device's step, over three steps."""
    plan_mode(monkeypatch, form)
    values = [rng.standard_normal((8, 5)), rng.standard_normal((8, 3))]
    results = {}
    for device in ("cpu", "numpy"):
        x, t = S.matrix("x", "float64"), S.matrix("t", "float64")
        w = S.shared(np.arange(15.0).reshape(5, 3) / 15, "w")
        loss = S.sum((S.dot(x, w) - t) ** 2)
        f = S.compile([x, t], loss, updates=[(w, w - 0.01 * S.grad(loss, w))], device=device)
        results[device] = [float(f(*values)) for _ in range(3)] + [w.get_value()]
        if device == "cpu":
            kinds = {c.shape_class.split()[0]: c.form for c in choices(f)}
            assert kinds["update"] == ("copy" if form == "copy" else "flags")
    for got, want in zip(results["cpu"], results["numpy"]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("form", ["flags", "copy"])
def test_packed_products_in_every_form_match_numpy(use_blas, monkeypatch, form, rng):
    """A loop multiplying a transposed initial state by packed weights (MKL packs; the state
    is read transposed at the first step: the copy form copies it)."""
    if not MKL_PLATFORM:
        pytest.skip("only MKL packs an operand")
    use_blas("mkl")
    assert packing_available()
    plan_mode(monkeypatch, form)
    h0, w = S.matrix("h0", "float64"), S.matrix("w", "float64")
    h, _ = S.scan(lambda h, w: S.tanh(S.dot(h, w)), outputs_info=[h0], non_sequences=[w], n_steps=4)
    values = [stored_transposed(rng, (3, 4), "float64"), rng.standard_normal((4, 4)) / 2]
    got = S.compile([h0, w], h, device="cpu")(*values)
    want = S.compile([h0, w], h, device="numpy")(*values)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("form", FORMS)
def test_gradients_in_every_form_match_finite_differences(library, monkeypatch, form, rng):
    plan_mode(monkeypatch, form)
    x, w, v = S.matrix("x", "float64"), S.matrix("w", "float64"), S.matrix("v", "float64")
    loss = S.sum(S.tanh(S.dot(x.T, w)) @ v.T)
    grads = S.compile([x, w, v], S.grad(loss, [x, w, v]), device="cpu")
    cost = S.compile([x, w, v], loss, device="cpu")
    values = [rng.standard_normal(s) for s in [(4, 3), (4, 5), (2, 5)]]
    assert_gradients_match_differences(grads, cost, values)
    assert form in {c.form for c in choices(grads)}


def measured_product(rng):
    """A function of one product with three candidate forms, and its inputs."""
    a, b = S.matrix("a", "float64"), S.matrix("b", "float64")
    f = S.compile([a, b], S.dot(a, b), device="cpu", profile=True)
    return f, (rng.standard_normal((6, 4)), stored_transposed(rng, (4, 5), "float64"))


def test_measured_choices_are_cached_and_read_back(library, monkeypatch, plans_home, rng):
    plan_mode(monkeypatch, "exhaustive")  # measured whatever the machine's load
    f, values = measured_product(rng)
    np.testing.assert_allclose(f(*values), values[0] @ values[1], rtol=1e-12)
    (choice,) = choices(f)
    assert choice.how == "measured" and set(choice.seconds) == set(FORMS)
    assert choice.form in FORMS and all(s > 0 for s in choice.seconds.values())
    (path,) = plans_home.glob("gemm-plans-*.json")
    content = json.loads(path.read_text())
    assert content["plans"] == {choice.shape_class: choice.form}
    assert content["machine"]["blas"] == library

    gemm_plans.forget_known_plans()  # as a new process: read from the file
    g, _ = measured_product(rng)
    np.testing.assert_allclose(g(*values), values[0] @ values[1], rtol=1e-12)
    assert [(c.form, c.how) for c in choices(g)] == [(choice.form, "cached")]


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"machine": {"cpu": "another"}, "plans": {}}'],
)
def test_a_corrupt_or_foreign_cache_is_ignored(library, monkeypatch, plans_home, rng, content):
    plan_mode(monkeypatch, "exhaustive")
    path, described = gemm_plans.plans_path()
    path.write_bytes(content)
    path.chmod(0o600)
    f, values = measured_product(rng)
    np.testing.assert_allclose(f(*values), values[0] @ values[1], rtol=1e-12)
    (choice,) = choices(f)
    assert choice.how == "measured"  # nothing was read from the file
    rewritten = json.loads(path.read_text())
    assert rewritten == {"machine": described, "plans": {choice.shape_class: choice.form}}


def test_a_cached_plan_for_another_shape_is_not_used(library, monkeypatch, plans_home, rng):
    plan_mode(monkeypatch, "exhaustive")
    path, described = gemm_plans.plans_path()
    other = "gemm float64 batch - 7x5x4 n/t"
    path.write_text(json.dumps({"machine": described, "plans": {other: "swap", "x": "bogus"}}))
    path.chmod(0o600)
    f, values = measured_product(rng)
    f(*values)
    assert [c.how for c in choices(f)] == ["measured"]
    assert json.loads(path.read_text())["plans"][other] == "swap"  # kept beside the new one


def test_products_over_the_budget_get_the_default(library, monkeypatch, plans_home, rng):
    plan_mode(monkeypatch, "measure")
    monkeypatch.setattr(gemm_plans, "BUDGET_S", 0.0)
    f, values = measured_product(rng)
    np.testing.assert_allclose(f(*values), values[0] @ values[1], rtol=1e-12)
    assert [(c.form, c.how) for c in choices(f)] == [("flags", "default")]
    assert not list(plans_home.glob("gemm-plans-*.json"))  # nothing measured, nothing cached


@pytest.mark.parametrize(
    "rounds, form",
    [
        ({"flags": [1.0, 1.1, 1.0], "copy": [0.5, 0.6, 0.5], "swap": [0.7, 0.7, 0.7]}, "copy"),
        ({"flags": [1.0, 1.0, 1.0], "swap": [0.95, 0.5, 0.5]}, "flags"),  # not in every round
        ({"flags": [9.0, 1.0, 1.0], "swap": [0.8, 1.0, 0.9]}, "flags"),  # a stall of flags
        ({"flags": [0.3, 0.3, 0.3], "copy": [0.5, 0.5, 0.5]}, "flags"),
    ],
)
def test_another_form_wins_only_by_the_margin_in_every_round(rounds, form):
    assert gemm_plans.fastest(rounds) == form


def test_the_profile_names_each_products_form(library, monkeypatch, plans_home, rng):
    plan_mode(monkeypatch, "swap")
    f, values = measured_product(rng)
    f(*values)
    (choice,) = f.profile.plans.values()
    assert [(c.form, c.how) for c in choice] == [("swap", "forced")]
    printed = str(f.profile)
    assert "dot at " in printed and "6x5x4 n/t: swap (forced)" in printed


def test_planning_off_runs_every_product_as_stored(library, monkeypatch, plans_home, rng):
    plan_mode(monkeypatch, "off")
    f, values = measured_product(rng)
    for x, y in layouts(rng, "float64"):
        if x.ndim == y.ndim == 2:
            np.testing.assert_allclose(f(x, y), x @ y, rtol=0, atol=1e-11)
    assert {(c.form, c.how) for c in choices(f)} == {("flags", "default")}
    assert not list(plans_home.glob("gemm-plans-*.json"))


def test_an_unknown_mode_is_an_error_naming_the_variable(library, monkeypatch, rng):
    plan_mode(monkeypatch, "patient")
    f, values = measured_product(rng)
    with pytest.raises(ValueError, match="SYMBOLIC_GEMM_PLANS='patient': choose one of measure"):
        f(*values)
