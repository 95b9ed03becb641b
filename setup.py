"""The C runner (runtime/runner_module.c), compiled at install time into
runtime.symbolic_runner: fixed code that every cpu function uses, so a first compile in a new
cache does not pay for it. Optional: where it does not build (no Python headers), the package
builds it into its cache on first use, or runs without it (runtime/native.py). The rest of
the package's metadata is in pyproject.toml."""

import os
import sys

from setuptools import Extension, setup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime.runner_source import runner_digest  # noqa: E402


def runner_extension() -> Extension:
    import numpy

    return Extension(
        "runtime.symbolic_runner",
        sources=["runtime/runner_module.c"],
        include_dirs=[numpy.get_include()],
        define_macros=[("SYMBOLIC_RUNNER_DIGEST", f'"{runner_digest()}"')],
        extra_compile_args=["-O1"],  # glue code: see RUNNER_FLAGS in runtime/native.py
        optional=True,
    )


setup(ext_modules=[runner_extension()])
