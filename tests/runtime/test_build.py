"""Building C source into loaded libraries: calls, cache hits, concurrency, damage, errors."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from runtime import build, cache, toolchain

ADD = "int add(int a, int b) { return a + b; }\n"
VALUE = "int value(void) { return VALUE; }\n"

# An elementwise kernel in the calling convention of docs/kernels.md, written as codegen
# writes the flat path: expf declared `omp declare simd` so that the loop calls glibc's
# vector expf (libmvec) instead of the scalar one.
EXP_KERNEL = """
#include <math.h>
#include <stdint.h>
#pragma omp declare simd notinbranch
float expf(float);
void k0_exp(const int64_t *sizes, const int64_t *strides, char **data) {
    (void)strides;
    const int64_t n = sizes[1];
    const float *restrict x = (const float *)data[0];
    float *restrict y = (float *)data[1];
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
}
"""


pytestmark = pytest.mark.usefixtures("cache_home")  # every test starts cold


def _forget_process_state(monkeypatch) -> None:
    """What a new process would not know: loaded libraries and probed toolchains."""
    monkeypatch.setattr(build, "_LOADED", {})
    monkeypatch.setattr(toolchain, "_TOOLCHAINS", {})


def _runs(log: Path) -> list[str]:
    return log.read_text().splitlines()


def _compiles(log: Path) -> list[str]:
    """The log lines that built a cache entry (probes build in a temporary directory)."""
    return [line for line in _runs(log) if os.environ["SYMBOLIC_CACHE_DIR"] in line]


def test_build_library_calls_the_compiled_function():
    lib = build.build_library(ADD)
    assert lib.add(2, 40) == 42


def test_kernel_convention_matches_numpy_with_nan_and_inf():
    x = np.array([0.0, 1.0, -1.0, 88.0, -104.0, 89.0, np.nan, np.inf, -np.inf] * 37, np.float32)
    y = np.empty_like(x)
    sizes = (ctypes.c_int64 * 2)(1, x.size)
    strides = (ctypes.c_int64 * 2)(1, 1)
    data = (ctypes.c_char_p * 2)(x.ctypes.data, y.ctypes.data)
    build.build_library(EXP_KERNEL).k0_exp(sizes, strides, data)
    with np.errstate(over="ignore"):
        expected = np.exp(x)
    np.testing.assert_allclose(y, expected, rtol=1e-6)  # nan == nan, inf == inf, overflow → inf
    tools = toolchain.toolchain(toolchain.find_c_compiler())
    if "-lmvec" in tools.link_flags:  # the point of the flags: the loop reached vector expf
        assert b"_ZGV" in build.build_shared_object(EXP_KERNEL).read_bytes()


def test_cache_entry_holds_library_source_and_digest(cache_home):
    path = build.build_shared_object(ADD)
    key = path.stem
    assert path == cache_home / f"{key}.so"
    assert (cache_home / f"{key}.c").read_text() == ADD
    digest, name = (cache_home / f"{key}.sha256").read_text().split()
    assert (digest, name) == (cache.file_sha256(path), path.name)
    leftovers = [p.name for p in cache_home.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_cache_hit_runs_no_compiler(logged_cc, monkeypatch):
    assert build.build_library(ADD).add(1, 2) == 3
    first = _runs(logged_cc)
    assert len(_compiles(logged_cc)) == 1
    _forget_process_state(monkeypatch)
    assert build.build_library(ADD).add(3, 4) == 7
    assert _runs(logged_cc) == first  # not even `cc --version` or a probe


def test_cache_hit_in_a_new_process_runs_no_compiler(logged_cc):
    build.build_shared_object(ADD)
    first = _runs(logged_cc)
    script = f"from runtime.build import build_library; print(build_library({ADD!r}).add(5, 6))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "11"
    assert _runs(logged_cc) == first


def test_different_flags_make_different_entries():
    one = build.build_shared_object(VALUE, ("-O2", "-DVALUE=1"))
    two = build.build_shared_object(VALUE, ("-O2", "-DVALUE=2"))
    assert one != two and one.exists() and two.exists()
    assert build.build_library(VALUE, ("-O2", "-DVALUE=1")).value() == 1
    assert build.build_library(VALUE, ("-O2", "-DVALUE=2")).value() == 2
    assert build.build_shared_object(VALUE, ("-O2", "-DVALUE=1")) == one


def test_cc_with_arguments_is_honoured(monkeypatch):
    monkeypatch.setenv("CC", f"{shutil.which('cc') or shutil.which('gcc')} -DVALUE=7")
    assert build.build_library(VALUE, ()).value() == 7


def _build_in_child(source: str, barrier, results) -> None:
    barrier.wait()  # all processes reach the cache at the same moment
    try:
        results.put(("ok", build.build_library(source).work(10)))
    except BaseException as error:  # reported to the parent, which fails the test
        results.put(("error", repr(error)))


def test_eight_processes_building_the_same_source_all_succeed(cache_home):
    # enough functions that the compile takes a while, so the processes overlap
    bodies = "".join(f"static int f{i}(int x) {{ return x * {i} + {i}; }}\n" for i in range(100))
    calls = " + ".join(f"f{i}(x)" for i in range(100))
    source = f"{bodies}int work(int x) {{ return {calls}; }}\n"
    expected = sum(10 * i + i for i in range(100))
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(8), context.Queue()
    children = [
        context.Process(target=_build_in_child, args=(source, barrier, results)) for _ in range(8)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert outcomes == [("ok", expected)] * 8
    assert [child.exitcode for child in children] == [0] * 8
    (library,) = cache_home.glob("*.so")
    assert cache.Entry(cache_home, library.stem).is_intact()
    assert [p.name for p in cache_home.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_library_is_detected_and_rebuilt(damage, logged_cc, monkeypatch):
    path = build.build_shared_object(ADD)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 3])
    else:  # same size, garbage in the middle
        middle = len(data) // 2
        path.write_bytes(data[:middle] + b"\xff" * 64 + data[middle + 64 :])
    _forget_process_state(monkeypatch)
    assert build.build_library(ADD).add(20, 22) == 42
    assert len(_compiles(logged_cc)) == 2
    assert cache.Entry(path.parent, path.stem).is_intact()


def test_library_that_fails_to_load_is_rebuilt(logged_cc):
    path = build.build_shared_object(ADD)
    entry = cache.Entry(path.parent, path.stem)
    path.write_bytes(b"not a shared library")  # with a digest that matches: dlopen must catch it
    entry.digest.write_text(f"{cache.file_sha256(path)}  {path.name}\n")
    assert entry.is_intact()
    assert build.build_library(ADD).add(1, 1) == 2
    assert len(_compiles(logged_cc)) == 2
    assert entry.is_intact() and path.read_bytes() != b"not a shared library"


def test_build_directories_are_private(cache_home):
    build.build_shared_object(ADD)
    assert stat.S_IMODE(os.stat(cache_home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache_home / "toolchains").st_mode) == 0o700


def test_xdg_cache_home_is_honoured(monkeypatch, tmp_path):
    monkeypatch.delenv("SYMBOLIC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = build.build_shared_object(ADD)
    assert path.parent == tmp_path / "xdg" / "symbolic"


def test_compile_error_has_compiler_output_and_kept_source(cache_home):
    broken = "int broken(void) { return missing_name; }\n"
    with pytest.raises(build.CompileError) as caught:
        build.build_library(broken)
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    assert "missing_name" in message and "error" in message  # the compiler's own words
    source = caught.value.source_path
    assert str(source) in message
    assert source.parent == cache_home and source.read_text() == broken
    assert not source.with_suffix(".so").exists()
    assert [p.name for p in cache_home.iterdir() if p.name.startswith(".")] == []


def test_undefined_function_fails_at_build_not_at_load():
    source = "double undefined_fn(double); double f(double x) { return undefined_fn(x); }\n"
    tools = toolchain.toolchain(toolchain.find_c_compiler())
    if "-Wl,-z,defs" in tools.link_flags:
        with pytest.raises(build.CompileError, match="undefined_fn"):
            build.build_library(source)
    else:  # a linker without -z defs: the loader reports it, still as a CompileError
        with pytest.raises(build.CompileError, match="does not load"):
            build.build_library(source)


def test_missing_compiler_found_as_none(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert toolchain.find_c_compiler() is None
    monkeypatch.delenv("CC")
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc or clang on it
    assert toolchain.find_c_compiler() is None


def test_resolve_cpu_device_with_a_compiler():
    assert build.find_c_compiler() is not None
    assert build.resolve_cpu_device("cpu") == "cpu"
    assert build.resolve_cpu_device("auto") == "cpu"
    assert build.resolve_cpu_device("numpy") == "numpy"


def test_resolve_cpu_device_without_a_compiler(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.warns(RuntimeWarning, match="numpy|NumPy") as caught:
        assert build.resolve_cpu_device("auto") == "numpy"
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per process, not one per compile
        assert build.resolve_cpu_device("auto") == "numpy"
    with pytest.raises(RuntimeError, match=r"apt install gcc.*\$CC"):
        build.resolve_cpu_device("cpu")
    assert build.resolve_cpu_device("numpy") == "numpy"
    with pytest.raises(build.NoCompilerError, match="no-such-cc"):
        build.build_library(ADD)


def test_probe_record_is_reused_and_rewritten_when_garbled(logged_cc, monkeypatch, cache_home):
    build.build_shared_object(ADD)
    (record,) = (cache_home / "toolchains").glob("*.json")
    runs = len(_runs(logged_cc))
    record.write_text("{ not json")
    _forget_process_state(monkeypatch)
    assert build.build_library(ADD).add(2, 2) == 4  # probes again, the library itself is a hit
    assert len(_runs(logged_cc)) > runs and len(_compiles(logged_cc)) == 1
    assert toolchain._read_record(record, str(logged_cc.parent / "bin" / "logcc")) is not None


def test_rebuilding_an_entry_gives_the_same_bytes(monkeypatch):
    # concurrent builders publish digests and libraries in any interleaving; that is harmless
    # because the bytes depend only on the key (the source is compiled from its cache path)
    path = build.build_shared_object(ADD)
    first = path.read_bytes()
    path.unlink()
    _forget_process_state(monkeypatch)
    assert build.build_shared_object(ADD).read_bytes() == first


@pytest.mark.skipif(sys.platform != "linux", reason="the probe is skipped on Linux only")
def test_first_build_on_linux_is_the_probe(logged_cc, cache_home):
    assert build.build_library(ADD).add(1, 1) == 2
    runs = _runs(logged_cc)
    assert len(runs) == 2 and "--version" in runs[0]  # the version, then the build: no probes
    (record,) = (cache_home / "toolchains").glob("*.json")
    compiler = toolchain.find_c_compiler()
    assert toolchain._read_record(record, compiler) == toolchain._probe(compiler)


def test_a_wrong_likely_toolchain_is_probed_and_built_again(logged_cc, monkeypatch):
    compiler = toolchain.find_c_compiler()
    wrong = toolchain.Toolchain(compiler, "a version", ("-fno-such-flag",), ("-lm",))
    monkeypatch.setattr(build, "likely_toolchain", lambda cc: wrong)
    assert build.build_library(ADD).add(2, 3) == 5
    assert toolchain.recorded_toolchain(compiler) == toolchain._probe(compiler)
    assert any("-fno-such-flag" in line for line in _runs(logged_cc))
    _forget_process_state(monkeypatch)
    assert build.build_library(ADD).add(2, 3) == 5  # the record now, not the guess


def test_compile_error_stands_after_one_probe(monkeypatch):
    probes = []  # on Linux the probe runs after the build with the likely toolchain failed
    monkeypatch.setattr(build, "toolchain", lambda cc: probes.append(cc) or toolchain._probe(cc))
    with pytest.raises(build.CompileError, match="missing_name"):
        build.build_library("int broken(void) { return missing_name; }\n")
    assert len(probes) == 1
