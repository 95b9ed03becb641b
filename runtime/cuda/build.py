"""CUDA source → cubin with nvcc, through the same content-hash cache as the C libraries.

An entry is `<key>.cubin`, `<key>.cu` (its source, kept for reading) and `<key>.sha256`, in
the cache directory of runtime/cache.py; the key is a hash of the source, the flags, the GPU
architecture and nvcc's version. Cubins, not PTX: a driver loads PTX only up to the ISA it
knows, and a cubin built for the GPU's own sm_XY needs no JIT at load time.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runtime import cache
from runtime.errors import CompileError
from symbolic.codegen.notes import strip_notes

# IEEE arithmetic as the C kernels: no contraction of a*b + c into one rounding (NumPy rounds
# twice), exact division and square root, denormals kept. `fast_math` changes the source, not
# these flags (cuda.py spells the intrinsics), so the source shows what runs.
NVCC_FLAGS = ("-O3", "-std=c++17", "--fmad=false", "-prec-div=true", "-prec-sqrt=true")


@dataclass(frozen=True)
class CubinEntry(cache.Entry):
    """A cache entry whose library is a cubin and whose source is CUDA."""

    LIBRARY_SUFFIX = ".cubin"
    SOURCE_SUFFIX = ".cu"


def find_nvcc() -> str | None:
    """nvcc from $CUDA_HOME/bin, /usr/local/cuda/bin or the PATH, or None."""
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and os.access(os.path.join(root, "bin", "nvcc"), os.X_OK):
            return os.path.join(root, "bin", "nvcc")
    return shutil.which("nvcc")


@functools.cache
def nvcc_version(nvcc: str) -> str:
    return subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout.strip()


def nvcc_command(nvcc: str, arch: str, source: Path, output: Path, flags=NVCC_FLAGS) -> list[str]:
    return [nvcc, "-cubin", f"-arch={arch}", *flags, "-o", str(output), str(source)]


def _nvcc() -> str:
    nvcc = find_nvcc()
    if nvcc is None:
        raise CompileError("nvcc was not found (set $CUDA_HOME or put it on the PATH)", Path())
    return nvcc


def build_cubin(source: str, arch: str, flags=NVCC_FLAGS) -> bytes:
    """The cubin of `source` for `arch` (e.g. "sm_90"): from the cache, or built by nvcc.

    Raises `CompileError` with nvcc's output and the path of the source it kept.
    """
    return _build(source, arch, flags)[0].library.read_bytes()


def build_cubin_of(structure: str | None, render, arch: str, flags=NVCC_FLAGS) -> bytes:
    """`build_cubin(render())`, without calling `render` when a cubin was built for
    `structure` before (codegen.kernel.structure_key: a key that determines the source), as
    runtime.build.build_library_of does for C: a warm start renders no CUDA."""
    if structure is None:
        return build_cubin(render(), arch, flags)
    nvcc = _nvcc()
    index = cache.key_of("index", "cuda", structure, arch, shlex.join(flags), nvcc_version(nvcc))
    known = cache.read_index(index)
    if known is not None:
        entry = CubinEntry(cache.cache_dir(), known)
        if entry.is_intact():
            return entry.library.read_bytes()
    entry, key = _build(render(), arch, flags)
    if key != known:
        cache.write_index(index, key)
    return entry.library.read_bytes()


def _build(source: str, arch: str, flags) -> tuple[CubinEntry, str]:
    nvcc = _nvcc()
    key = cache.key_of(strip_notes(source), "cuda", arch, shlex.join(flags), nvcc_version(nvcc))
    entry = CubinEntry(cache.cache_dir(), key)
    if entry.is_intact():
        return entry, key
    cache.remove_stale_temporaries(entry.directory)
    cache.write_atomic(entry.source, source.encode())
    built = cache.temp_path(entry.library)
    try:
        argv = nvcc_command(nvcc, arch, entry.source, built, flags)
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0 or not built.exists():
            output = (result.stdout + result.stderr).strip()
            raise CompileError(
                f"nvcc failed (exit status {result.returncode}) on {entry.source}\n"
                f"  command: {shlex.join(argv)}\n{output}",
                entry.source,
                output,
            )
        entry.publish(built)
    finally:
        built.unlink(missing_ok=True)
    return entry, key
