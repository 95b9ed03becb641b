"""`f.dump(directory, inputs=None)`: a function's generated source as files that build as written.

    module.c            the whole source, exactly as compiled (`f.source`)
    symbolic_prelude.h  the includes and helpers every kernel needs
    k3_exp.c …          each kernel alone (`f.kernels[i].source`) after `#include` of the header
    build.sh            the compile commands the runtime used; README.md says the same in words
    (CUDA: module.cu, symbolic_prelude.cuh, k0_….cu, nvcc's commands)

With `inputs`, the kernels' launches on them are saved too (runtime/reproduce.py) with a script
that reruns them and compares with the NumPy reference: a reproduction to attach to a report.
"""

from __future__ import annotations

import os
import shlex

SUFFIX = {"c": ".c", "cuda": ".cu"}
HEADER = {"c": "symbolic_prelude.h", "cuda": "symbolic_prelude.cuh"}
DEFAULT_ARCH = "sm_90"  # the architecture a CUDA dump builds for when no GPU says otherwise


def dump(f, directory: str, inputs=None) -> list[str]:
    """Write `f`'s source files, build script and README into `directory` (and with `inputs`,
    a reproduction: see runtime/reproduce.py); returns the paths written."""
    os.makedirs(directory, exist_ok=True)
    sources = f._sources
    if not f.kernels:
        return [_write(directory, "README.md", "This function has no generated kernels.\n")]
    target = sources.target
    suffix, header = SUFFIX[target], HEADER[target]
    module = "module" + suffix
    guard = "SYMBOLIC_PRELUDE_" + header.rpartition(".")[2].upper()
    prelude = f"#ifndef {guard}\n#define {guard}\n{sources.render_prelude()}#endif\n"
    paths = [
        _write(directory, k.name + suffix, f'#include "{header}"\n\n{k.source}') for k in f.kernels
    ]
    paths += [_write(directory, module, f.source), _write(directory, header, prelude)]
    commands, flags = _commands_c(sources, module) if target == "c" else _commands_cuda(f, module)
    kernel_commands = [[*flags, "-o", _output(k.name, target), k.name + suffix] for k in f.kernels]
    script = ["#!/bin/sh", "set -e", 'cd "$(dirname "$0")"']
    script += [shlex.join(argv) for stage in commands for argv in stage]
    script += [shlex.join(argv) for argv in kernel_commands]
    paths.append(_write(directory, "build.sh", "\n".join(script) + "\n", executable=True))
    paths.append(_write(directory, "README.md", _readme(f, module, commands, kernel_commands)))
    if inputs is not None:
        from runtime.reproduce import write_reproduction

        paths += write_reproduction(f, directory, inputs, module, commands)
    return paths


def _output(name: str, target: str) -> str:
    return name + (".o" if target == "c" else ".cubin")


def _commands_c(sources, module: str) -> tuple[list, list[str]]:
    """(the stages of commands building module.so as the runtime did; the command that
    compiles one kernel file to an object, without its `-o output file`)."""
    from runtime.build import compile_commands, toolchain_flags
    from runtime.cpu_backend import kernel_flags

    units, flags = len(sources.named), kernel_flags()
    commands = compile_commands(module, "module.so", flags, units)
    compiler, compile_flags, _ = toolchain_flags(flags, 1)
    kept = [flag for flag in compile_flags if flag != "-shared"]  # an object, not a library
    return commands, [*shlex.split(compiler), *kept, "-c"]


def _commands_cuda(f, module: str) -> tuple[list, list[str]]:
    """`_commands_c` for nvcc, for the GPU the function ran on (DEFAULT_ARCH before its first
    call, or without a GPU)."""
    from runtime.cuda.build import NVCC_FLAGS, find_nvcc, nvcc_command

    device = f._program.context.device  # None until the first call builds the kernels
    arch = DEFAULT_ARCH if device is None else "sm_{}{}".format(*device.driver.compute_capability)
    nvcc = find_nvcc() or "nvcc"
    command = nvcc_command(nvcc, arch, module, "module.cubin", NVCC_FLAGS)
    return [[command]], command[: command.index("-o")]


def _readme(f, module: str, commands: list, kernel_commands: list) -> str:
    target = f._sources.target
    built = "module.so" if target == "c" else "module.cubin"
    lines = [
        f"# Generated source of a `{f.device}` function",
        "",
        f"`{module}` is the whole source exactly as the runtime compiled it (`f.source`). The",
        "runtime built it into the library with (`./build.sh` runs every command here):",
        "",
        "```sh",
        *[shlex.join(argv) for stage in commands for argv in stage],
        "```",
        "",
        f"Each kernel is also a file of its own ({', '.join(k.name for k in f.kernels)}) that",
        f"includes the shared `{HEADER[target]}` and builds alone, for example:",
        "",
        "```sh",
        shlex.join(kernel_commands[0]),
        "```",
        "",
        "Each kernel opens with a comment naming the graph nodes it computes (`S.debugprint(f)`",
        "shows the ids) and the lines of user code that built them. Those `//` lines at column 0",
        "are left out of the compile cache's key, so moving user code finds the library built",
        f"before. `{built}`'s calling convention: docs/kernels.md of the symbolic project.",
        "",
    ]
    return "\n".join(lines)


def _write(directory: str, name: str, text: str, executable: bool = False) -> str:
    path = os.path.join(directory, name)
    with open(path, "w") as out:
        out.write(text)
    if executable:
        os.chmod(path, 0o755)
    return path
