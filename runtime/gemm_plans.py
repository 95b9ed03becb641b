"""Which of a product's equivalent forms runs: measured once per shape class and machine, and
remembered beside the compiled libraries (as FFTW's wisdom and ATLAS's tuning are).

A product C = op(A)·op(B) can reach BLAS in several forms that compute the same sums
(runtime/runner_steps.py builds each one's Launch):
  flags  operands read where they lie, a transposed one with BLAS's transpose flag; only an
         operand BLAS cannot read at all (no contiguous axis) is copied first. The rule before
         plans, and the default.
  copy   every operand not stored as row-major rows (transposed, or rows of a wider array)
         copied C-contiguous first: the copy is paid, but the gemm reads rows with no flag.
  swap   Cᵀ = op(B)ᵀ·op(A)ᵀ into a scratch matrix, transposed into C (runner_blas.c,
         gemm_swapped): inside the library the same sums as a differently oriented gemm.
A form is a candidate only where it differs from the others: copy where some operand is read
transposed or strided, swap for plain products (not gemm updates, whose β·z would have to be
transposed too, nor packed ones, whose packed B is fixed on the right) with M, N > 1.

`SYMBOLIC_GEMM_PLANS` (read at each new plan):
  measure     (the default) a product whose shape class has no plan yet is timed in every
              candidate form (`measure`; another form replaces flags only where it is faster
              by MARGIN in every round, `fastest`) when that fits what is left of its
              function's budget (BUDGET_S in all; judged by an estimate at ESTIMATE_FLOPS,
              then by a timed call); the others get flags, marked "default".
  exhaustive  the same without the budget: fills the cache once (say after installing a new
              BLAS), and every later process reads the choices instead of measuring.
  off         flags for every product, no measurement and no cache (the behaviour before plans).
  flags, copy, swap  that form wherever it is a candidate (for tests and diagnosis).
A defaulted product is not refined in the background (threads timing gemms beside the user's
would disturb both on a small machine): the next function, or process, that meets its shape
class with budget left measures it. Choices do not change values beyond rounding: each form sums
the same products, in the order its gemm blocks them (so two processes measuring afresh may
round differently; a cached choice, or `off`, gives the same bits every run).

The cache: `gemm-plans-<machine>.json` in runtime/cache.py's directory, one per machine key
(CPU model, BLAS library and the file it loaded, its threads); shape class → form. Written
atomically after each measurement; a file that does not parse, or names another machine, is
ignored (and replaced at the next write).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ENVIRONMENT = "SYMBOLIC_GEMM_PLANS"
FORMS = ("flags", "copy", "swap")
MODES = ("measure", "exhaustive", "off", *FORMS)
BUDGET_S = 0.005  # measurement time per compiled function
ESTIMATE_FLOPS = 2e10  # a conservative gemm rate on a small machine, to skip what will not fit
REPEAT = 3  # timed rounds per form, after a warm-up round
MARGIN = 0.1  # another form replaces flags only when faster by this share of its time


def mode() -> str:
    """The planning mode `SYMBOLIC_GEMM_PLANS` names (see the module); "measure" when unset."""
    wanted = os.environ.get(ENVIRONMENT, "").strip().lower() or "measure"
    if wanted not in MODES:
        raise ValueError(f"{ENVIRONMENT}={wanted!r}: choose one of {', '.join(MODES)}")
    return wanted


@dataclass
class Budget:
    """Seconds of measurement left to one compiled function's products."""

    seconds: float = field(default_factory=lambda: BUDGET_S)


@dataclass
class Choice:
    """The form a product's shape class runs in, and how it was chosen: "measured" (now),
    "cached" (measured before, read from the cache), "default" (not measured: flags) or
    "forced" (SYMBOLIC_GEMM_PLANS named it)."""

    shape_class: str
    form: str
    how: str
    seconds: dict = field(default_factory=dict)  # form → least seconds, where measured

    def __str__(self) -> str:
        return f"{self.shape_class}: {self.form} ({self.how})"


def shape_class(kind: str, dtype: str, batch: tuple, sizes: tuple, operands: tuple) -> str:
    """The key of a product's plan: its kind (gemm, update, packed), dtype, batch shape,
    M×N×K and how each operand lies (runner_steps.operand_layout: n as stored, t transposed,
    s strided rows, c copied)."""
    m, n, k = sizes
    batched = "x".join(map(str, batch)) or "-"
    return f"{kind} {dtype} batch {batched} {m}x{n}x{k} {'/'.join(operands)}"


class FormChooser:
    """Picks the form of each new layout of one product node (GemmStep's planner calls
    `choose`); `kernel` is its runner kernel as a ctypes function, for timing, and `choices`
    what was picked, in order (f.profile prints them)."""

    __slots__ = ("kernel", "budget", "choices")

    def __init__(self, kernel, budget: Budget):
        self.kernel, self.budget, self.choices = kernel, budget, []

    def choose(self, key: str, launches: dict, arrays, flops: float):
        """The Launch among `launches` (form → Launch, flags first) to run for shape class
        `key`, whose gemm costs `flops`."""
        choice = self._choice(key, launches, arrays, flops)
        self.choices.append(choice)
        return launches[choice.form]

    def _choice(self, key: str, launches: dict, arrays, flops: float) -> Choice:
        wanted = mode()
        if wanted == "off" or len(launches) == 1:
            return Choice(key, "flags", "default")
        if wanted in FORMS:
            return Choice(key, wanted if wanted in launches else "flags", "forced")
        cached = known_plans().get(key)
        if cached in launches:
            return Choice(key, cached, "cached")
        rounds = (REPEAT + 1) * len(launches)
        if wanted == "measure" and rounds * flops / ESTIMATE_FLOPS > self.budget.seconds:
            return Choice(key, "flags", "default")
        rounds = measure(launches, arrays, self.budget, wanted == "exhaustive")
        if rounds is None:
            return Choice(key, "flags", "default")
        form = fastest(rounds)
        remember(key, form)
        return Choice(key, form, "measured", {f: min(t) for f, t in rounds.items()})


def measure(launches: dict, arrays, budget: Budget, unlimited: bool) -> dict | None:
    """Each form's seconds per round on the product's own inputs, or None where measuring
    would pass the budget. Each form writes outputs allocated once (as the runner reuses its
    buffers) and makes its copies at every call (as the runner does).

    The form flags runs once first, uncharged: a first call bears costs the product's own
    first run would bear otherwise (MKL starts its threads there, tens of ms). A second call
    of it, charged, says whether the rest fits what is left of the budget: a warm-up round of
    every form, then REPEAT rounds interleaving the forms, so that a drift of the machine's
    speed falls on all of them; all charged, the warm-up dropped, and the measurement given up
    once the budget is spent (on a busy machine a call can wait for a core for a time slice,
    milliseconds). `fastest` compares the rounds."""
    outs = {
        form: [np.empty(s, d) for s, d in zip(launch.out_shapes, launch.out_dtypes)]
        for form, launch in launches.items()
    }
    launches["flags"](arrays, outs["flags"])
    times: dict = {form: [] for form in launches}
    probe = _timed(launches["flags"], arrays, outs["flags"], budget)
    if not unlimited and (REPEAT + 1) * len(launches) * probe > budget.seconds:
        return None
    for _ in range(REPEAT + 1):
        for form, launch in launches.items():
            times[form].append(_timed(launch, arrays, outs[form], budget))
            if not unlimited and budget.seconds < 0:
                return None  # a busy machine: what was spent is lost, but no more
    return {form: t[1:] for form, t in times.items()}


def _timed(launch, arrays, outs, budget: Budget) -> float:
    """Seconds of one call of `launch`, charged to `budget`."""
    start = time.perf_counter()
    launch(arrays, outs)
    elapsed = time.perf_counter() - start
    budget.seconds -= elapsed
    return elapsed


def fastest(rounds: dict) -> str:
    """The form to run, given each form's seconds round by round: flags, unless another form
    was faster than it by MARGIN in every round (the fastest such, by its least time). A
    round's forms ran back to back, so a stall of the machine that lands on flags in one
    round does not make another form the winner: noise alone leaves the default in place."""
    flags = rounds["flags"]
    winners = [
        form
        for form, times in rounds.items()
        if all(t < (1 - MARGIN) * f for t, f in zip(times, flags))
    ]
    return min(winners, key=lambda form: min(rounds[form]), default="flags")


# --- the cache on disk ---------------------------------------------------------------------

_known: dict = {}  # cache file → its plans, read once per process


def machine() -> dict:
    """What a plan depends on besides the shape: the CPU, the BLAS (its file: a new version
    is a new file, or a new size and time) and the threads it runs. Read from files and the
    environment, not from the library: asking MKL its thread count loads its kernels."""
    from runtime.blas import blas

    found = blas()
    library = getattr(found.library, "_name", "") if found is not None else ""
    try:
        st = os.stat(library)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = ""
    variables = ("MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    threads = {v: os.environ[v] for v in variables if v in os.environ}
    threads["cpus"] = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0)
    return {
        "cpu": _cpu_model(),
        "blas": found.name if found is not None else "numpy",
        "library": f"{library} {stamp}",
        "threads": threads,
    }


@functools.cache
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{platform.machine()} {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def plans_path() -> tuple[Path, dict]:
    """This machine's cache file (in runtime/cache.py's directory) and its machine key."""
    from runtime.cache import cache_dir

    described = machine()
    return cache_dir() / _file_name(json.dumps(described, sort_keys=True)), described


@functools.cache
def _file_name(described: str) -> str:
    from runtime.cache import key_of

    return f"gemm-plans-{key_of(described)[:16]}.json"


def known_plans() -> dict:
    """Shape class → form, as this machine's cache file holds them (read once per process)."""
    path, described = plans_path()
    if path not in _known:
        _known[path] = read_plans(path, described)
    return _known[path]


def read_plans(path: Path, described: dict) -> dict:
    """The plans in `path`, or {} where it is absent, not ours alone (cache.read_trusted),
    does not parse, or was written for another machine."""
    from runtime.cache import read_trusted

    data = read_trusted(path)
    try:
        content = json.loads(data) if data else {}
    except (UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(content, dict) or content.get("machine") != described:
        return {}
    plans = content.get("plans")
    if not isinstance(plans, dict):
        return {}
    return {k: v for k, v in plans.items() if isinstance(k, str) and v in FORMS}


def remember(key: str, form: str) -> None:
    """Record a measured choice in memory and in the cache file (merged with what another
    process may have written since this one read it; written atomically)."""
    from runtime.cache import write_atomic

    path, described = plans_path()
    plans = known_plans()
    plans[key] = form
    merged = {**read_plans(path, described), **plans}
    content = {"machine": described, "plans": dict(sorted(merged.items()))}
    try:
        write_atomic(path, json.dumps(content, indent=1).encode())
    except OSError:
        pass  # a read-only cache directory: the choice still holds in this process


def forget_known_plans() -> None:
    """Drop what this process read from cache files (they are read again when next needed)."""
    _known.clear()
