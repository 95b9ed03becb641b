"""The system C compiler: which one, what it is, and which optional flags it supports.

Finding out costs compiler runs (`--version`, a few probe builds), so the answer is kept in
memory and, per compiler binary and machine, in the cache directory: a new process that loads
a library already in the cache runs no compiler at all. Where nothing is recorded yet, Linux
skips the probe builds: the first real build uses the answer they give on Linux
(`likely_toolchain`), and its success is the probe (runtime/build.py).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runtime import cache

if TYPE_CHECKING:
    import subprocess

# Compilers tried in order when $CC is not set: `cc` is the system's choice; the others cover
# systems that ship one under its own name only.
FALLBACK_COMPILERS = ("cc", "gcc", "clang")

# A tiny library that uses OpenMP's runtime: it builds only where the compiler knows -fopenmp
# and the runtime library (libgomp, libomp) is installed.
_OPENMP_PROBE = """
#include <omp.h>
int probe(int n) {
    int s = 0;
#pragma omp parallel for reduction(+ : s)
    for (int i = 0; i < n; i++) s += i;
    return s + omp_get_max_threads();
}
"""
_PLAIN_PROBE = "#include <math.h>\ndouble probe(double x) { return exp(x); }\n"


def find_c_compiler() -> str | None:
    """The absolute path of the C compiler to use, or None when there is none.

    `$CC` when set (a program on the PATH or a path, maybe with arguments, as in
    `CC="ccache gcc"`; when its program does not exist there is no compiler: we never silently
    use another one than the user asked for), else the first of `cc`, `gcc`, `clang` on the
    PATH. The answer is a command line: split it with `shlex.split`.
    """
    words = shlex.split(os.environ.get("CC", ""))
    if words:
        program = shutil.which(words[0])
        return shlex.join([program, *words[1:]]) if program else None
    for name in FALLBACK_COMPILERS:
        found = shutil.which(name)
        if found:
            return found
    return None


@functools.cache
def machine_fingerprint() -> str:
    """The architecture and, where readable, the CPU model and feature flags.

    Part of every key because `-march=native` makes code for this CPU: a cache directory
    shared between machines (an NFS home) must not hand one CPU's code to another.
    """
    parts = [platform.machine()]
    try:
        with open("/proc/cpuinfo") as f:
            wanted = ("model name", "flags", "Features", "CPU part")
            seen: dict[str, str] = {}
            for line in f:
                name, _, value = line.partition(":")
                name = name.strip()
                if name in wanted and name not in seen:
                    seen[name] = value.strip()
            parts += [f"{k}={seen[k]}" for k in sorted(seen)]
    except OSError:
        pass
    return "\n".join(parts)


@dataclass(frozen=True)
class Toolchain:
    """A compiler and what to add to every build with it."""

    compiler: str  # the command line find_c_compiler gave
    version: str  # its `--version` output: part of every key
    compile_flags: tuple[str, ...]  # optional flags it supports (-fopenmp or -fopenmp-simd)
    link_flags: tuple[str, ...]  # after the source: libraries, and -z defs where supported


_TOOLCHAINS: dict[tuple, Toolchain] = {}


PROBE_VERSION = 2  # bump when _probe learns something new, so saved answers are probed again


def toolchain(compiler: str) -> Toolchain:
    """The toolchain of `compiler`, probed once per binary and machine, then read back."""
    found = recorded_toolchain(compiler)
    if found is None:
        found = _probe(compiler)
        remember(found)
    return found


def recorded_toolchain(compiler: str) -> Toolchain | None:
    """The toolchain of `compiler` this process knows or the cache directory records (no
    compiler runs), or None."""
    identity = _identity(compiler)
    found = _TOOLCHAINS.get(identity)
    if found is None:
        found = _read_record(_record_path(identity), compiler)
        if found is not None:
            _TOOLCHAINS[identity] = found
    return found


def remember(found: Toolchain) -> None:
    """Record a toolchain that was probed, or that built a library (build.py)."""
    identity = _identity(found.compiler)
    record = _record_path(identity)
    record.parent.mkdir(mode=0o700, exist_ok=True)
    cache.write_atomic(record, json.dumps(asdict(found), indent=1).encode())
    _TOOLCHAINS[identity] = found


def likely_toolchain(compiler: str) -> Toolchain | None:
    """What `_probe` finds on Linux (glibc's vector math on x86-64 with glibc 2.35 or newer),
    asking the compiler only its version: one compiler run instead of four. None elsewhere.

    Unverified: build.py builds with it and records it once a build succeeds, so the first
    build is the probe; a failed build probes, and builds again where the probe differs.
    """
    if sys.platform != "linux":
        return None
    version = _run([*shlex.split(compiler), "--version"]).stdout.strip()
    mvec = platform.machine() == "x86_64" and _glibc_version() >= (2, 35)
    return _toolchain_of(compiler, version, ("-fopenmp",), mvec, z_defs=True)


def _identity(compiler: str) -> tuple:
    program = shlex.split(compiler)[0]
    stat = os.stat(program)
    return (PROBE_VERSION, compiler, os.path.realpath(program), stat.st_mtime_ns, stat.st_size)


def _record_path(identity: tuple) -> Path:
    return cache.cache_dir() / "toolchains" / f"{cache.key_of(*map(str, identity))}.json"


def _glibc_version() -> tuple[int, ...]:
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
        return tuple(int(p) for p in version.split(".")) if name == "glibc" else ()
    except (ValueError, OSError):
        return ()


def _read_record(record: Path, compiler: str) -> Toolchain | None:
    try:
        data = json.loads(cache.read_trusted(record) or b"")  # flags we compile with: ours only
        found = Toolchain(
            compiler=data["compiler"],
            version=data["version"],
            compile_flags=tuple(data["compile_flags"]),
            link_flags=tuple(data["link_flags"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or garbled: probe again
    return found if found.compiler == compiler else None


def _toolchain_of(compiler, version, openmp: tuple, mvec: bool, z_defs: bool) -> Toolchain:
    """The toolchain with the OpenMP flags `openmp`, glibc's vector math if `mvec`, and
    `-Wl,-z,defs` if `z_defs`: an undefined symbol (a misspelt math function) then fails at
    link time, with the linker's message, instead of at dlopen."""
    # -DSYMBOLIC_LIBMVEC: the prelude's simd declarations (docs/kernels.md, "Building")
    compile_flags = (*openmp, "-DSYMBOLIC_LIBMVEC") if mvec else openmp
    link_flags = ("-lm", *(["-lmvec"] if mvec else []), *(["-Wl,-z,defs"] if z_defs else []))
    return Toolchain(compiler, version, compile_flags, link_flags)


def _probe(compiler: str) -> Toolchain:
    version = _run([*shlex.split(compiler), "--version"]).stdout.strip()
    # -fopenmp gives threads and `omp simd`; without its runtime, -fopenmp-simd still honours
    # `#pragma omp simd` and `declare simd` (the vector math below), with no library to link.
    openmp: tuple[str, ...] = ()
    for flags in (("-fopenmp",), ("-fopenmp-simd",)):
        if _builds(compiler, _OPENMP_PROBE if flags == ("-fopenmp",) else _PLAIN_PROBE, flags):
            openmp = flags
            break
    # glibc's vector math library: loops over expf/tanhf/... call its SIMD variants when the
    # generated source declares them `omp declare simd` (it keeps NaN/Inf semantics, unlike
    # -ffast-math). -print-file-name answers a bare name when the library is absent.
    found = _run([*shlex.split(compiler), "-print-file-name=libmvec.so"]).stdout.strip()
    mvec = os.path.isabs(found) and os.path.exists(found)
    with_mvec = _toolchain_of(compiler, version, openmp, mvec, z_defs=False)
    z_defs = _builds(
        compiler, _PLAIN_PROBE, with_mvec.compile_flags, (*with_mvec.link_flags, "-Wl,-z,defs")
    )
    return _toolchain_of(compiler, version, openmp, mvec, z_defs)


def _builds(compiler: str, source: str, flags=(), link_flags=("-lm",)) -> bool:
    import tempfile  # here and in _run: a warm start runs no compiler and needs neither

    with tempfile.TemporaryDirectory(prefix="symbolic-probe-") as tmp:
        src, lib = Path(tmp, "probe.c"), Path(tmp, "probe.so")
        src.write_text(source)
        argv = [*shlex.split(compiler), "-shared", "-fPIC", *flags, "-o", str(lib), str(src)]
        return _run([*argv, *link_flags]).returncode == 0


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    import subprocess

    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as error:  # not executable after all: report as a failed run
        return subprocess.CompletedProcess(argv, 127, "", str(error))
