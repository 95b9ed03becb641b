"""Finding an NVIDIA shared library (cuBLAS, NCCL) to bind with ctypes: NVIDIA's wheel through
cuda.pathfinder first, then the system's library path."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Sequence


def find_nvidia_library(name: str, file_names: Sequence[str], install_hint: str) -> str:
    """The path or file name of lib`name` that loads; OSError with `install_hint` if none."""
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib

        return load_nvidia_dynamic_lib(name).abs_path
    except Exception:  # not installed, or no wheel of this library: look on the system
        pass
    found = ctypes.util.find_library(name)
    for candidate in ([found] if found else []) + list(file_names):
        try:
            ctypes.CDLL(candidate)
            return candidate
        except OSError:
            continue
    raise OSError(f"lib{name} was not found; {install_hint}")
