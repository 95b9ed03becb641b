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
    assert [p.rsplit("/", 1)[1] for p in paths] == ["k0_fused_exp_mul.cu", "k1_softmax.cu"]
    assert (tmp_path / "k1_softmax.cu").read_text() == f.kernels[1].source


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
