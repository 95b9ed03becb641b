"""f.source is the source compiled, f.dump writes files that build as written, and the
reproduction it writes with inputs reruns the kernels against the NumPy reference."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

import symbolic as S
from runtime.build import find_c_compiler
from runtime.cuda.build import find_nvcc
from symbolic.codegen.notes import strip_notes

pytestmark = pytest.mark.skipif(find_c_compiler() is None, reason="no C compiler")


def every_kind(device: str):
    """A function with a kernel of each kind: elementwise, rows, reduction, gather, scatter
    (the cuda device runs gathers and scatters on the host), and a BLAS product."""
    x, i = S.matrix("x"), S.vector("i", dtype="int64")
    w = S.shared(np.linspace(-1, 1, 12).reshape(4, 3).astype(np.float32), name="W")
    outputs = [
        S.nnet.softmax(S.exp(x) * 2),
        S.sum(x * x, axis=1),
        x[i],
        S.inc_subtensor(x[i], 1.0),
        S.dot(x, w),
    ]
    return S.compile([x, i], outputs, device=device)


def example_inputs():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((5, 4)).astype(np.float32), np.array([0, 2, -1, 2])]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_source_is_the_translation_unit_compiled(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(tmp_path))
    x = S.vector("x")
    f = S.compile([x], S.tanh(x) * 2 + S.sum(x), device="cpu")
    compiled = {sha256(p.read_text()) for p in tmp_path.rglob("*.c")}
    assert sha256(f.source) in compiled
    assert f.source.startswith("#include <math.h>")
    for kernel in f.kernels:  # each kernel alone, after its note, is in the unit
        assert kernel.source in f.source


def test_a_kernel_note_names_its_nodes_and_user_lines():
    x = S.vector("x")
    y = S.tanh(x) * 2  # the fused node's location
    line = sys._getframe().f_lineno - 1
    f = S.compile([x], y, device="cpu")
    (kernel,) = f.kernels
    ids = S.debugprint(f, file="str")
    head = kernel.source.splitlines()[:2]
    assert head[0] == f"// {kernel.name} computes:"
    assert f"test_dump.py:{line} (test_a_kernel_note_names_its_nodes_and_user_lines)" in head[1]
    op_line = ids.splitlines()[0]  # "fused_tanh_mul [id A] float32(?,)"
    assert head[1].startswith(f"//   {op_line} from ")
    assert "/" not in head[1].split(" from ")[1]  # no directory: equal on every machine
    steps = [line for line in kernel.source.splitlines() if " s0 = " in line or " s1 = " in line]
    assert [s.rsplit("// ", 1)[1] for s in steps] == ["tanh", "mul"]


def test_a_fused_kernel_names_the_line_of_each_member():
    x = S.vector("x")
    a = S.exp(x)  # the first member's line
    first = sys._getframe().f_lineno - 1
    y = S.tanh(a) + 1  # the other members' line
    f = S.compile([x], y, device="cpu")
    (kernel,) = f.kernels
    where = kernel.source.splitlines()[1].split(" from ")[1]
    this = "test_a_fused_kernel_names_the_line_of_each_member"
    assert where == f"test_dump.py:{first} ({this}), test_dump.py:{first + 2} ({this})"


def test_moving_user_code_finds_the_library_built_before(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(tmp_path))
    x = S.vector("x")
    f = S.compile([x], S.exp(x) + 1, device="cpu")
    libraries = set(tmp_path.rglob("*.so"))
    g = S.compile([x], S.exp(x) + 1, device="cpu")  # the same graph built on another line
    assert g.source != f.source and strip_notes(g.source) == strip_notes(f.source)
    assert set(tmp_path.rglob("*.so")) == libraries  # nothing was compiled again
    value = np.linspace(-2, 2, 7).astype(np.float32)
    np.testing.assert_allclose(g(value), np.exp(value) + 1, rtol=1e-6)


def test_dumped_c_files_build_as_written(tmp_path):
    f = every_kind("cpu")
    assert {k.description.kind for k in f.kernels} == {
        "elementwise",
        "rows",
        "reduction",
        "gather",
        "scatter",
    }
    paths = f.dump(str(tmp_path))
    assert (tmp_path / "module.c").read_text() == f.source
    sources = [p for p in paths if p.endswith(".c")]
    assert len(sources) == len(f.kernels) + 1
    for path in sources:  # the plain command a user would type
        run([find_c_compiler(), "-c", "-O2", "-fopenmp", "-o", path + ".o", path])
    run(["sh", str(tmp_path / "build.sh")])  # the runtime's own commands
    assert (tmp_path / "module.so").exists()
    commands = (tmp_path / "build.sh").read_text().splitlines()[3:]
    readme = (tmp_path / "README.md").read_text()
    assert all(command in readme for command in commands[: len(commands) - len(f.kernels)])


@pytest.mark.skipif(find_nvcc() is None, reason="nvcc is not installed")
def test_dumped_cuda_files_build_with_nvcc(tmp_path):
    f = every_kind("cuda")
    assert {k.description.kind for k in f.kernels} == {"elementwise", "rows", "reduction"}
    paths = f.dump(str(tmp_path))
    assert (tmp_path / "module.cu").read_text() == f.source
    sources = [p for p in paths if p.endswith(".cu")]
    assert len(sources) == len(f.kernels) + 1
    for path in sources:
        run([find_nvcc(), "-cubin", "-arch=sm_90", "-o", path + ".cubin", path])


def test_reproduction_reruns_the_kernels_against_the_reference(tmp_path):
    f = every_kind("cpu")
    f.dump(str(tmp_path), example_inputs())
    manifest = json.loads((tmp_path / "launches.json").read_text())
    assert [launch["kernel"] for launch in manifest["launches"]] == [k.name for k in f.kernels]
    done = run([sys.executable, str(tmp_path / "reproduce.py")])
    assert "all kernels agree" in done.stdout
    for kernel in f.kernels:
        assert f"{kernel.name}" in done.stdout
    # a wrong reference value is caught
    softmax = next(launch for launch in manifest["launches"] if launch["kind"] == "rows")
    path = tmp_path / softmax["expected"][0]
    np.save(path, np.load(path) + 0.5)
    failed = subprocess.run(
        [sys.executable, str(tmp_path / "reproduce.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1 and "DIFFERS" in failed.stdout


def test_cuda_reproduction_is_written_and_compiles(tmp_path):
    f = every_kind("cuda")
    f.dump(str(tmp_path), example_inputs())
    script = (tmp_path / "reproduce.py").read_text()
    compile(script, "reproduce.py", "exec")
    manifest = json.loads((tmp_path / "launches.json").read_text())
    assert manifest["target"] == "cuda" and manifest["library"] == "module.cubin"
    assert {launch["symbol"] for launch in manifest["launches"]} <= {k.name for k in f.kernels}
    np.testing.assert_array_equal(np.load(tmp_path / "inputs" / "1.npy"), example_inputs()[1])


def run(argv: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_a_function_without_kernels_dumps_a_readme(tmp_path):
    x = S.matrix("x")
    f = S.compile([x], x.T, device="cpu")
    assert f.kernels == [] and f.source == ""
    (path,) = f.dump(str(tmp_path))
    assert path.endswith("README.md")
