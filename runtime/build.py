"""C source → shared library loaded with ctypes, through the content-hash cache.

    lib = build_library(source)        # compiles on a miss, loads the cached library on a hit
    lib.k0_exp(sizes, strides, data)

A hit runs no compiler: the toolchain's answers are cached too (runtime/toolchain.py), so
loading a cached library in a new process costs a stat, two hashes and a dlopen.
"""

from __future__ import annotations

import _ctypes
import ctypes
import dataclasses
import os
import shlex
import warnings
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from runtime import cache
from runtime.errors import CompileError
from runtime.toolchain import (
    Toolchain,
    find_c_compiler,
    likely_toolchain,
    machine_fingerprint,
    recorded_toolchain,
    remember,
    toolchain,
)
from symbolic.codegen.notes import strip_notes

__all__ = [
    "DEFAULT_FLAGS",
    "CompileError",
    "NoCompilerError",
    "build_library",
    "build_library_of",
    "build_python_extension",
    "build_shared_object",
    "compile_commands",
    "find_c_compiler",
    "resolve_cpu_device",
    "toolchain_flags",
]

# Flags a caller may change (they are part of the key). See docs/kernels.md, "Building".
# -O2 with -O3's cost model for the vectorizer: the kernels' loops are `omp simd` loops, which
# -O2 vectorizes as -O3 does, and the cost model vectorizes the tile copies too; -O3's other
# loop passes (versioning, peeling, unswitching) cost a fifth of the compile time of a module
# and made no kernel measurably faster. -march=native is safe in a cache because the key holds
# the machine's CPU. -fwrapv: integer overflow wraps as in NumPy. -fno-math-errno,
# -fno-trapping-math: libm calls and float selects in loops vectorize (NumPy never reads errno
# nor traps); no -ffast-math, so NaN and Inf behave as IEEE says. -mprefer-vector-width=512:
# on an AVX-512 CPU gcc still prefers 256-bit vectors for -march=native, so glibc's vector math
# ran its 8-lane functions; with 512 it calls the 16-lane ones (tanh over 2^16 float32 elements
# 45 → 23 µs on one core here); on CPUs without AVX-512 the flag changes nothing.
DEFAULT_FLAGS = (
    "-O2",
    "-fvect-cost-model=dynamic",
    "-march=native",
    "-mprefer-vector-width=512",
    "-fwrapv",
    "-fno-math-errno",
    "-fno-trapping-math",
)

# Flags every build needs: a position-independent shared library in the dialect codegen writes.
REQUIRED_FLAGS = ("-shared", "-fPIC", "-std=c11")

# What a user without a compiler should do, in the errors and the warning below.
INSTALL_HINT = (
    "install a C compiler (Debian/Ubuntu: `apt install gcc`; Fedora: `dnf install gcc`; "
    "macOS: `xcode-select --install`) or set $CC to one"
)

T = TypeVar("T")

# key → library while a Function uses it, so a second build in a process is free; a library no
# one uses is closed (`load`), so compiling many functions and dropping them frees their code.
_LOADED: weakref.WeakValueDictionary[str, ctypes.CDLL] = weakref.WeakValueDictionary()
_warned_no_compiler = False


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
    return _with_toolchain(lambda tools: _build(source, tuple(flags), tools, rebuild=False)[1])


def build_python_extension(source: str, flags: Sequence[str] = DEFAULT_FLAGS) -> Path:
    """`build_shared_object` for a CPython extension module: linked without `-z defs`, since
    the interpreter that loads it defines the Python API it calls."""

    def build(tools: Toolchain) -> Path:
        kept = tuple(f for f in tools.link_flags if f != "-Wl,-z,defs")
        tools = dataclasses.replace(tools, link_flags=kept)
        return _build(source, tuple(flags), tools, rebuild=False)[1]

    return _with_toolchain(build)


def build_library(source: str, flags: Sequence[str] = DEFAULT_FLAGS, units: int = 1) -> ctypes.CDLL:
    """`build_shared_object`, then load the library with ctypes.

    `units` > 1 says the source splits into that many translation units (the
    `SYMBOLIC_UNITS` guards of docs/kernels.md): it is compiled by up to that many compiler
    processes at once, one per core this process may use, then linked.

    A cached library that fails to load (damaged in a way its digest did not catch) is
    rebuilt once; a fresh build that still fails to load raises `CompileError`.
    """
    flags = _with_units(tuple(flags), units)
    return _with_toolchain(lambda tools: _build_and_load(source, flags, tools)[0])


def build_library_of(
    structure: str,
    render: Callable[[], str],
    flags: Sequence[str] = DEFAULT_FLAGS,
    units: int = 1,
) -> ctypes.CDLL:
    """`build_library(render())`, without calling `render` when a library was built for
    `structure` before (in any process sharing the cache directory).

    A second cache level: the key of `structure` (with the flags and toolchain, as every
    key) names a small file holding the key of the source's entry, so a warm start reads
    that, checks the library's digest and loads it: no source is rendered. `structure` must
    determine the source byte for byte, the renderer's own code included
    (symbolic.codegen.kernel.structure_key). A missing, garbled or stale index renders.
    """
    flags = _with_units(tuple(flags), units)
    return _with_toolchain(lambda tools: _build_indexed(structure, render, flags, tools))


def _build_indexed(
    structure: str, render: Callable[[], str], flags: tuple[str, ...], tools: Toolchain
) -> ctypes.CDLL:
    index = cache.key_of("index", structure, *_key_parts(flags, tools)[1])
    known = cache.read_index(index)
    if known is not None:
        loaded = _LOADED.get(known)
        if loaded is not None:
            return loaded
        entry = cache.Entry(cache.cache_dir(), known)
        if entry.is_intact():
            try:
                loaded = load(entry.library)
            except OSError:
                pass  # damaged past its digest: rebuilt from the rendered source below
            else:
                _LOADED[known] = loaded
                return loaded
    loaded, key = _build_and_load(render(), flags, tools)
    if key != known:
        cache.write_index(index, key)
    return loaded


# OpenMP runtimes our libraries link: kept loaded for good once one of them loaded it, since
# closing the last library would unload it under its parked worker threads.
OPENMP_RUNTIMES = ("libgomp.so.1", "libomp.so", "libomp.dylib")


def load(path: Path) -> ctypes.CDLL:
    """dlopen the library at `path` with ctypes; it is closed (dlclose) when the CDLL is
    collected, which is when the last kernel taken from it is (each holds the CDLL): ctypes
    itself never closes a library, so each compiled function would keep its code mapped."""
    library = ctypes.CDLL(str(path))
    for runtime in OPENMP_RUNTIMES:
        try:  # RTLD_NOLOAD: only where already loaded; RTLD_NODELETE: never unloaded
            ctypes.CDLL(runtime, mode=os.RTLD_NOLOAD | os.RTLD_NODELETE)
        except (OSError, AttributeError):  # not loaded, or no such flags on this system
            pass
    closer = weakref.finalize(library, _ctypes.dlclose, library._handle)
    closer.atexit = False  # at exit a daemon thread may still run its code: leave it mapped
    return library


# More compiler processes than this gain little: each repeats the prelude, and the link waits
# for the slowest.
MAX_UNITS = 8


def _with_units(flags: tuple[str, ...], units: int) -> tuple[str, ...]:
    """`flags` with the number of units to compile in parallel, as a define: part of the key,
    since the units' code is linked in another order than one unit's."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    n = min(units, cores, MAX_UNITS)
    return (*flags, f"-DSYMBOLIC_UNITS={n}") if n > 1 else flags


def _units(compile_flags: tuple[str, ...]) -> int:
    for flag in compile_flags:
        if flag.startswith("-DSYMBOLIC_UNITS="):
            return int(flag.partition("=")[2])
    return 1


def _with_toolchain(build: Callable[[Toolchain], T]) -> T:
    """`build(toolchain)` with the C compiler's toolchain.

    Where no toolchain is recorded for the compiler yet, the first build is the probe: it
    runs with what the probe builds find on Linux (`likely_toolchain`: one `--version` run
    instead of four compiler runs, a tenth of a second of a cold start), and its success
    records that toolchain. A build that fails then is probed for: when the probe finds
    other flags, it builds again with them; else the failure stands.
    """
    compiler = find_c_compiler()
    if compiler is None:
        raise NoCompilerError(f"cannot build C source: {_why()}")
    tools = recorded_toolchain(compiler)
    if tools is not None:
        return build(tools)
    guess = likely_toolchain(compiler)
    if guess is None:
        return build(toolchain(compiler))
    try:
        result = build(guess)
    except CompileError:
        probed = toolchain(compiler)
        if probed == guess:
            raise
        return build(probed)
    remember(guess)
    return result


def _build_and_load(
    source: str, flags: tuple[str, ...], tools: Toolchain
) -> tuple[ctypes.CDLL, str]:
    entry, path = _build(source, flags, tools, rebuild=False)
    loaded = _LOADED.get(entry.key)
    if loaded is not None:
        return loaded, entry.key
    try:
        loaded = load(path)
    except OSError:
        entry, path = _build(source, flags, tools, rebuild=True)
        try:
            loaded = load(path)
        except OSError as error:
            raise CompileError(
                f"the library built from {entry.source} does not load: {error}", entry.source
            ) from None
    _LOADED[entry.key] = loaded
    return loaded, entry.key


def _key_parts(flags: tuple[str, ...], tools: Toolchain):
    """(the compile flags, the parts of every key besides the source: flags, compiler,
    machine)."""
    compile_flags = (*REQUIRED_FLAGS, *flags, *tools.compile_flags)
    parts = (
        shlex.join(compile_flags),
        shlex.join(tools.link_flags),
        tools.compiler,
        tools.version,
        machine_fingerprint(),
    )
    return compile_flags, parts


def _build(
    source: str, flags: tuple[str, ...], tools: Toolchain, rebuild: bool
) -> tuple[cache.Entry, Path]:
    compile_flags, parts = _key_parts(flags, tools)
    compiler = tools.compiler
    key = cache.key_of(strip_notes(source), *parts)  # a note's line numbers build nothing
    entry = cache.Entry(cache.cache_dir(), key)
    if not rebuild and (entry.key in _LOADED or entry.is_intact()):
        return entry, entry.library
    # The source goes to its final name first: the compiler reads it there (every process
    # compiles the same path, so the library's bytes do not depend on a temporary name), and
    # it stays for the user to read whether or not the build succeeds.
    cache.remove_stale_temporaries(entry.directory)
    cache.write_atomic(entry.source, source.encode())
    built = cache.temp_path(entry.library)
    objects = [
        cache.temp_path(entry.library.with_suffix(f".{u}.o")) for u in range(_units(compile_flags))
    ]
    try:
        for stage in _commands(
            compiler, compile_flags, tools.link_flags, entry.source, built, objects
        ):
            _run_compiler(stage, entry.source)
        if not built.exists():
            raise CompileError(f"the C compiler wrote no library for {entry.source}", entry.source)
        entry.publish(built)
    finally:
        built.unlink(missing_ok=True)
        for o in objects:
            o.unlink(missing_ok=True)
    return entry, entry.library


def compile_commands(
    source: str, library: str, flags: Sequence[str] = DEFAULT_FLAGS, units: int = 1
) -> list[list[list[str]]]:
    """The compiler command lines `build_library(…, flags, units)` runs to build the file
    `source` into `library`, in stages (the commands of a stage run at once): one command, or
    with several units one compile per unit (objects `library`.<unit>.o), then the link."""
    compiler, compile_flags, link_flags = toolchain_flags(flags, units)
    objects = [f"{library}.{u}.o" for u in range(_units(compile_flags))]
    return _commands(compiler, compile_flags, link_flags, source, library, objects)


def toolchain_flags(
    flags: Sequence[str] = DEFAULT_FLAGS, units: int = 1
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(the C compiler, its compile flags, its link flags) as `build_library(…, flags,
    units)` uses them."""
    flags = _with_units(tuple(flags), units)
    return _with_toolchain(
        lambda tools: (tools.compiler, _key_parts(flags, tools)[0], tools.link_flags)
    )


def _commands(compiler: str, compile_flags, link_flags, source, library, objects) -> list:
    """The stages of commands building `source` into `library` (see `compile_commands`)."""
    cc, source, library = shlex.split(compiler), str(source), str(library)
    if len(objects) == 1:
        return [[[*cc, *compile_flags, "-o", library, source, *link_flags]]]
    compiles = [  # the units at once, then one link in unit order
        [*cc, *compile_flags, f"-DSYMBOLIC_UNIT={u}", "-c", "-o", str(o), source]
        for u, o in enumerate(objects)
    ]
    link = [*cc, *compile_flags, "-o", library, *map(str, objects), *link_flags]
    return [compiles, [link]]


def _run_compiler(commands: list[list[str]], source: Path) -> None:
    """Run the compiler command lines at once; `CompileError` with the first failure's output."""
    import subprocess  # here: a warm start runs no compiler and does not import it

    running = [
        (argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for argv in commands
    ]
    failures = []
    for argv, process in running:
        output = process.communicate()[0].strip()
        if process.returncode != 0:
            failures.append((argv, process.returncode, output))
    if failures:
        argv, status, output = failures[0]
        raise CompileError(
            f"the C compiler failed (exit status {status}) on {source}\n"
            f"  command: {shlex.join(argv)}\n{output}",
            source,
            output,
        )
