"""Which C files make the runner (runtime/runner*.c) and the digest of their text.

Imports nothing beyond the standard library: setup.py reads the digest at install time, when
it compiles the runner into `runtime.symbolic_runner`, and runtime/native.py compares it at
run time, so a runner compiled from other sources (an editable install whose C changed since)
is never loaded; native.py then builds the current sources into the cache instead.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# One translation unit, in this order (runner_module.c includes them the same way).
RUNNER_FILES = ("runner.c", "runner_views.c", "runner_loop.c", "runner_blas.c", "runner_type.c")
RUNNER_SOURCES = tuple(Path(__file__).with_name(name) for name in RUNNER_FILES)


def runner_digest(sources=RUNNER_SOURCES) -> str:
    """sha256 of the sources' names and text."""
    digest = hashlib.sha256()
    for path in sources:
        data = Path(path).read_bytes()
        digest.update(f"{Path(path).name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()
