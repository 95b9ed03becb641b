"""C source → shared library loaded with ctypes, through the content-hash cache.

    lib = build_library(source)        # compiles on a miss, loads the cached library on a hit
    lib.k0_exp(sizes, strides, data)

A hit runs no compiler: the toolchain's answers are cached too (runtime/toolchain.py), so
loading a cached library in a new process costs a stat, two hashes and a dlopen.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import subprocess
import warnings
from collections.abc import Sequence
from pathlib import Path

from runtime import cache
from runtime.toolchain import find_c_compiler, machine_fingerprint, toolchain

__all__ = [
    "DEFAULT_FLAGS",
    "CompileError",
    "NoCompilerError",
    "build_library",
    "build_shared_object",
    "find_c_compiler",
    "resolve_cpu_device",
]

# Flags a caller may change (they are part of the key). No -ffast-math: NaN/Inf must follow
# IEEE. -fno-math-errno is safe (nothing reads errno) and lets math calls vectorize.
# -march=native is safe in a cache because the key holds the machine's CPU.
# -fwrapv: integer overflow wraps as in NumPy. -fno-math-errno, -fno-trapping-math: libm calls
# and float selects in loops vectorize (NumPy never reads errno nor traps); no -ffast-math, so
# NaN and Inf behave as IEEE says. See docs/kernels.md, "Building".
DEFAULT_FLAGS = ("-O3", "-march=native", "-fwrapv", "-fno-math-errno", "-fno-trapping-math")

# Flags every build needs: a position-independent shared library in the dialect codegen writes.
REQUIRED_FLAGS = ("-shared", "-fPIC", "-std=c11")

# What a user without a compiler should do, in the errors and the warning below.
INSTALL_HINT = (
    "install a C compiler (Debian/Ubuntu: `apt install gcc`; Fedora: `dnf install gcc`; "
    "macOS: `xcode-select --install`) or set $CC to one"
)

_LOADED: dict[str, ctypes.CDLL] = {}  # key → library, so a second build in a process is free
_warned_no_compiler = False


class CompileError(RuntimeError):
    """The C compiler rejected a source; the message has its output and the source's path."""

    def __init__(self, message: str, source_path: Path, output: str = ""):
        super().__init__(message)
        self.source_path = source_path
        self.output = output


class NoCompilerError(RuntimeError):
    """There is no C compiler to build with."""


def resolve_cpu_device(requested: str) -> str:
    """The device to use for `requested` as far as the C compiler decides it.

    "cpu" stays "cpu" when a compiler is found and raises `NoCompilerError` (a RuntimeError
    saying what to install) when not; "auto" becomes "cpu", or "numpy" with one warning per
    process when there is no compiler. Other devices pass through unchanged.
    """
    global _warned_no_compiler
    if requested not in ("cpu", "auto") or find_c_compiler() is not None:
        return "cpu" if requested == "auto" else requested
    if requested == "cpu":
        raise NoCompilerError(f'device="cpu" needs a C compiler and none was found: {_why()}')
    if not _warned_no_compiler:
        _warned_no_compiler = True
        warnings.warn(
            f'no C compiler found, so device="auto" runs on the NumPy interpreter (slow): {_why()}',
            RuntimeWarning,
            stacklevel=2,
        )
    return "numpy"


def _why() -> str:
    cc = os.environ.get("CC")
    looked = f"$CC={cc!r} names no program" if cc else "no cc, gcc or clang on the PATH"
    return f"{looked}; {INSTALL_HINT}"


def build_shared_object(source: str, flags: Sequence[str] = DEFAULT_FLAGS) -> Path:
    """Compile `source` into a shared library in the cache, or find it there; its path.

    Raises `CompileError` (with the compiler's output and the path of the source it tried,
    which is kept for reading) when the compiler fails, `NoCompilerError` when there is none.
    """
    return _build(source, tuple(flags), rebuild=False)[1]


def build_library(source: str, flags: Sequence[str] = DEFAULT_FLAGS) -> ctypes.CDLL:
    """`build_shared_object`, then load the library with ctypes.

    A cached library that fails to load (damaged in a way its digest did not catch) is
    rebuilt once; a fresh build that still fails to load raises `CompileError`.
    """
    flags = tuple(flags)
    entry, path = _build(source, flags, rebuild=False)
    loaded = _LOADED.get(entry.key)
    if loaded is not None:
        return loaded
    try:
        loaded = ctypes.CDLL(str(path))
    except OSError:
        entry, path = _build(source, flags, rebuild=True)
        try:
            loaded = ctypes.CDLL(str(path))
        except OSError as error:
            raise CompileError(
                f"the library built from {entry.source} does not load: {error}", entry.source
            ) from None
    _LOADED[entry.key] = loaded
    return loaded


def _build(source: str, flags: tuple[str, ...], rebuild: bool) -> tuple[cache.Entry, Path]:
    compiler = find_c_compiler()
    if compiler is None:
        raise NoCompilerError(f"cannot build C source: {_why()}")
    tools = toolchain(compiler)
    compile_flags = (*REQUIRED_FLAGS, *flags, *tools.compile_flags)
    key = cache.key_of(
        source,
        shlex.join(compile_flags),
        shlex.join(tools.link_flags),
        tools.compiler,
        tools.version,
        machine_fingerprint(),
    )
    entry = cache.Entry(cache.cache_dir(), key)
    if not rebuild and (entry.key in _LOADED or entry.is_intact()):
        return entry, entry.library
    # The source goes to its final name first: the compiler reads it there (every process
    # compiles the same path, so the library's bytes do not depend on a temporary name), and
    # it stays for the user to read whether or not the build succeeds.
    cache.remove_stale_temporaries(entry.directory)
    cache.write_atomic(entry.source, source.encode())
    built = cache.temp_path(entry.library)
    argv = [*shlex.split(compiler), *compile_flags, "-o", str(built), str(entry.source)]
    argv += tools.link_flags
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not built.exists():
            output = (done.stderr + done.stdout).strip()
            raise CompileError(
                f"the C compiler failed (exit status {done.returncode}) on {entry.source}\n"
                f"  command: {shlex.join(argv)}\n{output}",
                entry.source,
                output,
            )
        entry.publish(built)
    finally:
        built.unlink(missing_ok=True)
    return entry, entry.library
