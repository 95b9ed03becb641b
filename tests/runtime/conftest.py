"""Fixtures for the build and cache tests: a cold cache, and a $CC that logs its runs."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from runtime import build, native, toolchain


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
