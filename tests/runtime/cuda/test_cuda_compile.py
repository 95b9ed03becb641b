"""Compiling for cuda needs no GPU: kernels are rendered for reading; only calls need one."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symbolic as S
from runtime.cuda import device as cuda_device
from runtime.cuda.device import CudaUnavailableError


def test_compiles_and_dumps_cuda_kernels_anywhere(tmp_path):
    x = S.matrix("x")
    f = S.compile([x], S.nnet.softmax(S.exp(x) * 2), device="cuda")
    assert f.device == "cuda"
    assert [(k.name, k.target) for k in f.kernels] == [
        ("k0_fused_exp_mul", "cuda"),
        ("k1_softmax", "cuda"),
    ]
    assert f.source.count('extern "C" __global__') == 2
    paths = f.dump(str(tmp_path))
    names = [p.rsplit("/", 1)[1] for p in paths]
    assert names[:2] == ["k0_fused_exp_mul.cu", "k1_softmax.cu"] and "module.cu" in names
    assert (tmp_path / "k1_softmax.cu").read_text().endswith(f.kernels[1].source)
    assert (tmp_path / "module.cu").read_text() == f.source


def test_calling_without_a_gpu_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(cuda_device, "_state", {"device": None, "failure": "no GPU (test)"})
    x = S.vector("x")
    f = S.compile([x], x + 1, device="cuda")
    with pytest.raises(CudaUnavailableError, match="cannot run here: no GPU.*f.kernels"):
        f(np.ones(3, np.float32))


@pytest.mark.parametrize("gpu", [True, False])
def test_auto_picks_cuda_only_where_a_gpu_answers(monkeypatch, gpu):
    monkeypatch.setattr(cuda_device, "available", lambda: gpu)
    x = S.vector("x")
    f = S.compile([x], x * 2, device="auto")
    assert f.device == ("cuda" if gpu else "cpu")


def test_fast_math_spells_intrinsics_and_survives_pickling():
    x = S.vector("x")
    exact = S.compile([x], S.exp(x) * 2, device="cuda")
    fast = S.compile([x], S.exp(x) * 2, device="cuda", fast_math=True)
    assert "__expf(" in fast.source and "__expf(" not in exact.source
    again = pickle.loads(pickle.dumps(fast))
    assert again.fast_math and again.source == fast.source


def test_pickled_cuda_function_keeps_its_kernels():
    x = S.matrix("x")
    f = S.compile([x], S.logsumexp(x * 3, axis=1), device="cuda")
    g = pickle.loads(pickle.dumps(f))
    assert g.device == "cuda" and g.source == f.source


def test_auto_asks_for_a_gpu_without_importing_sympy():
    """Resolving "auto" loads the cuda runtime's device module, which must stay light: a warm
    cpu start imports no sympy (tests/runtime/test_startup.py)."""
    code = (
        "import sys; from symbolic.compiler import _resolve_device; "
        "print(_resolve_device('auto') in ('cuda', 'cpu', 'numpy'), 'sympy' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.split() == ["True", "False"], done.stderr


def test_source_is_the_file_nvcc_builds(gpu, monkeypatch, tmp_path):
    built = []
    build_module = gpu.driver.build_module

    def recording(render, structure=None):
        built.append(render())
        return build_module(lambda: built[-1], structure)

    monkeypatch.setattr(gpu.driver, "build_module", recording)
    monkeypatch.setattr(gpu, "_modules", {})  # no module built earlier in this process
    x = S.matrix("x")
    f = S.compile([x], S.nnet.softmax(S.exp(x) * 3), device="cuda")
    value = np.arange(6, dtype=np.float32).reshape(2, 3) / 6
    want = np.exp(np.exp(value) * 3)
    np.testing.assert_allclose(f(value), want / want.sum(1, keepdims=True), rtol=1e-5)
    assert f.source in built
    assert f.source.count("computes:") == 2
    f.dump(str(tmp_path))  # for the architecture of the GPU it ran on
    arch = "sm_{}{}".format(*gpu.driver.compute_capability)
    assert f"-arch={arch} " in (tmp_path / "build.sh").read_text()
