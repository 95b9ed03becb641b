"""The cpu device's call path in C: runtime/runner.c, a CPython extension that runs a compiled
function's whole schedule in one call from Python (its opening comment says how, and how it
reuses memory).

The extension is fixed source (runtime/runner_source.py lists its files). setup.py compiles
it at install time into `runtime.symbolic_runner`, so a first compile in an empty cache does
not pay for it (0.45 s of a cold start here). Where that module is missing, fails to import
(built against another NumPy) or was built from other sources (an editable install whose C
changed since), the same source is built with the system C compiler against Python's and
NumPy's C headers, once per compiler, machine, Python and NumPy (their versions are part of
the source, so of the cache key), and cached like every library. Where the headers are
missing or the build fails, `runner_module()` is None and the cpu device runs its schedule in
Python instead (numpy_backend.NumpyProgram), one ctypes call per kernel; both launch the
plans of cpu_backend.py, so the two differ in speed and memory reuse, never in values.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
import threading
import warnings
from collections.abc import Callable

import numpy as np

from runtime.cpu_backend import PlannedStep
from runtime.runner_source import RUNNER_SOURCES, runner_digest
from runtime.schedule import Schedule
from symbolic.optimizer.fgraph import FunctionGraph

# One translation unit: the call (runner.c), views and concatenations (runner_views.c), a loop's
# steps (runner_loop.c), matrix products through a CBLAS (runner_blas.c), then the Python type
# and module built on them (runner_type.c).
MODULE_NAME = "symbolic_runner"  # runner.c's PyInit_symbolic_runner

# -O1: the runner is glue (pointer chasing, calls into NumPy), where -O3 gains nothing
# measurable and doubles the build (0.45 s of CPU instead of 0.25 here), which a cold start pays.
RUNNER_FLAGS = ("-O1",)

_MODULE = None  # the loaded module; False where it cannot be built; None before the first try
_LOCK = threading.Lock()


def header_dirs() -> list[str] | None:
    """The include directories of Python's and NumPy's C headers, or None where either is
    missing (Python's come in a separate package on many systems: python3-dev)."""
    paths = sysconfig.get_paths()
    python = [d for d in dict.fromkeys([paths.get("include"), paths.get("platinclude")]) if d]
    if not any(os.path.exists(os.path.join(d, "Python.h")) for d in python):
        return None
    numpy_dir = np.get_include()
    if not os.path.exists(os.path.join(numpy_dir, "numpy", "arrayobject.h")):
        return None
    return [*python, numpy_dir]


def runner_module():
    """The runner extension: the one setup.py compiled at install time where it was built
    from the current sources, else built or found in the cache on first use; None where it
    cannot be built (warned once when the compiler fails, silent where headers are missing)."""
    global _MODULE
    with _LOCK:
        if _MODULE is None:
            _MODULE = installed_runner() or _build_and_import() or False
    return _MODULE or None


def installed_runner():
    """runtime.symbolic_runner, compiled by setup.py, when its sources are the ones here."""
    try:
        from runtime import symbolic_runner
    except ImportError:  # not built at install time, or against another NumPy
        return None
    if getattr(symbolic_runner, "SOURCE_DIGEST", None) != runner_digest(RUNNER_SOURCES):
        return None  # an editable install whose C changed since
    return symbolic_runner


def start_runner_build() -> Callable[[], object]:
    """`runner_module`, started on a thread when it is not loaded yet, so that its build on a
    cold cache overlaps the compile of a function's kernels; returns the function that
    waits for it. The toolchain is probed first, here, so the two builds probe it once."""
    global _MODULE
    if _MODULE is None:
        installed = installed_runner()  # loads at once: no compiler run
        if installed is not None:
            with _LOCK:
                _MODULE = installed
    if _MODULE is not None:
        return runner_module
    from runtime.build import find_c_compiler
    from runtime.toolchain import toolchain

    compiler = find_c_compiler()
    if compiler is not None:
        toolchain(compiler)
    thread = threading.Thread(target=runner_module, name="symbolic runner build", daemon=True)
    thread.start()

    def wait():
        thread.join()
        return runner_module()

    return wait


def _build_and_import():
    from runtime.build import CompileError, NoCompilerError, build_python_extension

    dirs = header_dirs()
    if dirs is None:
        return None
    versions = (
        f"Python {sys.version.split()[0]} ({sys.implementation.cache_tag}), NumPy {np.__version__}"
    )
    source = f"/* {versions} */\n" + "\n".join(p.read_text() for p in RUNNER_SOURCES)
    try:
        path = build_python_extension(source, (*RUNNER_FLAGS, *[f"-I{d}" for d in dirs]))
        loader = importlib.machinery.ExtensionFileLoader(MODULE_NAME, str(path))
        spec = importlib.util.spec_from_file_location(MODULE_NAME, path, loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except NoCompilerError:
        return None
    except (CompileError, ImportError, OSError) as error:
        warnings.warn(
            "the cpu device's C call path did not build, so its functions run their schedule "
            f"in Python (slower calls, no buffer reuse): {error}",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return module


class NativeProgram:
    """A schedule run by the C runner.

    `call(*leaf_values)` gives the results (outputs, then update values) as a tuple of
    fresh arrays, `run(leaf_values, profile)` the same with each node's time recorded.
    `borrow` (settable): the outputs of a call may be written in place by the next one.
    `memory` counts where the planned outputs (of kernels and matrix products) came from,
    over every call so far: `in_place` (an input's buffer), `reused` (the last call's output,
    dropped by the caller or borrowed), `pooled` (a dead intermediate's buffer) and
    `allocated` (new memory).
    """

    def __init__(self, fgraph: FunctionGraph, leaves: list, make_step, module):
        self.schedule = schedule = Schedule(fgraph, leaves, make_step)
        results, n_outputs = schedule.output_slots, schedule.n_outputs
        first_result: dict = {}  # slot → the first output position it is returned at
        for position, s in enumerate(results[:n_outputs]):
            first_result.setdefault(s, position)
        steps = []
        for (step, ins, outs, _), dead in zip(schedule.steps, schedule.dead):
            spec = step.native_spec() if isinstance(step, PlannedStep) else (0, step, None, None)
            dies = [s in dead for s in ins]
            table = [len(ins), len(outs), len(dead), *ins, *outs, *dead, *dies]
            steps.append((*spec, _table(table + [first_result.get(s, -1) for s in outs])))
        slots, constants = zip(*schedule.constants) if schedule.constants else ((), ())
        table = [schedule.size, len(schedule.leaf_slots), len(results), n_outputs]
        table += [*schedule.leaf_slots, *results, *slots]
        constants = tuple(np.asarray(c) for c in constants)
        self._runner = module.Runner(_table(table), constants, steps, schedule.fail, False)
        self.call = self._runner.call
        self.call_donating = self._runner.call_donating  # (donated leaves, *leaves)

    @property
    def first_donor(self) -> int:
        """The steps from this index on (gemm updates) may write donated leaves in place."""
        return self._runner.first_donor

    @first_donor.setter
    def first_donor(self, k: int) -> None:
        self._runner.first_donor = k

    @property
    def borrow(self) -> bool:
        return self._runner.borrow

    @borrow.setter
    def borrow(self, value: bool) -> None:
        self._runner.borrow = value

    @property
    def memory(self) -> dict:
        return self._runner.counts

    def run(self, leaf_values, profile=None) -> tuple:
        if profile is None:
            return self.call(*leaf_values)
        times = np.zeros(len(self.schedule.steps))
        results = self._runner.timed(times, *leaf_values)
        for (step, _, _, node), seconds in zip(self.schedule.steps, times):
            profile.record(node, float(seconds))
            if hasattr(step, "plan_choices"):  # a product: the forms it runs in
                profile.plans[node] = list(step.plan_choices())
        return results


def _table(values) -> bytes:
    """A runner table: the values as native int64 bytes (runner.c reads them in place)."""
    return np.array(values, np.int64).tobytes()
