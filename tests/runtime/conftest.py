"""Fixtures for the build and cache tests (a cold cache, and a $CC that logs its runs) and for
the cuda runtime's: the real GPU where there is one, else the host emulation of
tests/cuda_host.py (kernels compiled by g++), so those tests run everywhere."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from runtime import build, native, toolchain
from runtime.cuda.device import CudaUnavailableError, get_device, use_driver


@pytest.fixture
def cache_home(monkeypatch, tmp_path) -> Path:
    """A fresh cache directory and empty in-process memos: the test starts cold."""
    home = tmp_path / "cache"
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(home))
    monkeypatch.setattr(build, "_LOADED", {})
    monkeypatch.setattr(toolchain, "_TOOLCHAINS", {})
    monkeypatch.setattr(build, "_warned_no_compiler", False)
    monkeypatch.setattr(native, "_MODULE", None)  # the C runner is found again (installed or here)
    return home


@pytest.fixture
def logged_cc(monkeypatch, tmp_path, cache_home) -> Path:
    """$CC is a wrapper that logs each run's arguments, one line each, then runs cc."""
    real = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    log = tmp_path / "cc.log"
    log.touch()
    wrapper = tmp_path / "bin" / "logcc"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    return log


@pytest.fixture
def gpu():
    """The cuda Device the test's functions run on (its `driver` counts launches and GEMMs
    on the emulation)."""
    try:
        yield get_device()
        return
    except CudaUnavailableError:
        pass
    if shutil.which("g++") is None:
        pytest.skip("no GPU, and no g++ to emulate one")
    from cuda_host import HostDriver

    with use_driver(HostDriver()) as device:
        yield device


@pytest.fixture(params=["numpy", "cpu", "cuda"])
def each_device(request) -> str:
    """Every device, cuda included: on the GPU where there is one, else on the host emulation
    (see `gpu`)."""
    if request.param == "cuda":
        request.getfixturevalue("gpu")
    return request.param


@pytest.fixture
def use_blas(monkeypatch):
    """use_blas(name): products of functions compiled after it call that library
    (runtime/blas.py's SYMBOLIC_BLAS: mkl, openblas or numpy), for the test only."""
    from runtime import blas, runner_steps

    def rebind():
        blas.blas.cache_clear()
        runner_steps.gemm_kernels.cache_clear()

    def use(name: str) -> None:
        monkeypatch.setenv(blas.ENVIRONMENT, name)
        rebind()

    yield use
    monkeypatch.delenv(blas.ENVIRONMENT, raising=False)
    rebind()
