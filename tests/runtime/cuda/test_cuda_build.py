"""nvcc → cubin through the content-hash cache: built once, found again without nvcc, found by
the descriptions' key without rendering, and a failure that says what nvcc said."""

from __future__ import annotations

import pytest

import symbolic as S
from runtime.build import CompileError
from runtime.cuda import build
from symbolic.codegen.cuda import render_module
from symbolic.codegen.kernel import describe, structure_key

pytestmark = [
    pytest.mark.usefixtures("cache_home"),
    pytest.mark.skipif(build.find_nvcc() is None, reason="nvcc is not on the PATH"),
]


def named_kernels():
    x = S.vector("x")
    return [("k0_exp", describe(S.exp(x).owner))]


def test_cubin_is_built_once_and_then_read_from_the_cache(monkeypatch):
    source = render_module(named_kernels())
    cubin = build.build_cubin(source, "sm_90")
    assert cubin[:4] == b"\x7fELF"
    monkeypatch.setattr(build, "nvcc_command", lambda *a: pytest.fail("nvcc ran again"))
    assert build.build_cubin(source, "sm_90") == cubin


def test_a_warm_build_renders_no_source():
    kernels = named_kernels()
    structure = structure_key([("cuda", False), *kernels])
    rendered = []

    def render():
        rendered.append(1)
        return render_module(kernels)

    first = build.build_cubin_of(structure, render, "sm_90")
    assert build.build_cubin_of(structure, render, "sm_90") == first and len(rendered) == 1


def test_nvcc_errors_name_the_kept_source():
    bad = 'extern "C" __global__ void k(int *p) { p[0] = undefined_name; }\n'
    with pytest.raises(CompileError, match="(?s)nvcc failed.*undefined_name") as info:
        build.build_cubin(bad, "sm_90")
    assert info.value.source_path.read_text() == bad
