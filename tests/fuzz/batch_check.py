"""Checking random graphs in batches: K graphs compiled as one function, failures isolated.

A C compile costs a good part of a second per function, so a batch of graphs is compiled as one
function whose outputs are every graph's values, the gradients of every graph's cost
Σ out·r (r a fixed random array) with respect to its float inputs, and the costs themselves.
Values and gradients are compared with the NumPy oracle (device "numpy", optimize=False);
gradients of float64 graphs also with central finite differences of the oracle's costs along a
random direction. When a batch fails, its graphs are checked one by one to find the failing one.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass

import numpy as np
from random_graphs import Graph, random_graph
from terms import eps

import symbolic as S
from symbolic.graph import clone_replace, graph_inputs, toposort

FD_STEP = 1e-5  # central differences: truncation O(h²·f‴), rounding O(cost error / h)
DEADLINE_S = 300  # per batch and device: far above a loaded machine's worst batch (~40 s)


@dataclass
class Output:
    graph: int  # index in the batch
    label: str
    tolerance: float  # absolute; for gradients, relative to the graph's scale (see mismatches)
    gradient: bool = False


class Batch:
    """One function's worth of graphs: inputs, values and labelled outputs."""

    def __init__(self, graphs: list[Graph]):
        self.graphs = graphs
        self.inputs = [v for g in graphs for v in g.inputs]
        self.values = [a for g in graphs for a in g.values]
        self.outputs, self.labels, costs, self.cost_tolerances = [], [], [], []
        for k, g in enumerate(graphs):
            rng = np.random.default_rng(g.seed + 1)
            cost, cost_tolerance = S.constant(np.zeros((), g.float_dtype)), 0.0
            for j, (out, tol, mag) in enumerate(zip(g.outputs, g.tolerances, g.magnitudes)):
                self.outputs.append(out)
                self.labels.append(Output(k, f"output {j}", tol))
                if out.dtype.startswith("float"):
                    shape = g.output_shapes[j]
                    r = rng.standard_normal(shape).astype(out.dtype)
                    cost = cost + (out * S.constant(r)).sum()
                    spread = float(np.abs(r).sum())
                    cost_tolerance += spread * (tol + (1 + np.prod(shape)) * eps(out.dtype) * mag)
            costs.append(cost)
            self.cost_tolerances.append(cost_tolerance)
        self.wrt = [(k, i) for k, g in enumerate(graphs) for i in g.float_inputs]
        wrt_vars = [graphs[k].inputs[i] for k, i in self.wrt]
        gradients = (
            S.grad(sum(costs[1:], costs[0]), wrt_vars, disconnected="ignore") if wrt_vars else []
        )
        for (k, i), gradient in zip(self.wrt, gradients):
            tol = 64 * eps(graphs[k].precision) * len(graphs[k].steps)
            self.outputs.append(gradient)
            self.labels.append(Output(k, f"gradient of x{i}", tol, gradient=True))
        self.outputs += costs
        self.labels += [Output(k, "cost", t) for k, t in enumerate(self.cost_tolerances)]

    def compile(self, device: str, optimize: bool):
        # a random graph need not read every input it drew
        return S.compile(
            self.inputs, self.outputs, device=device, optimize=optimize, on_unused_input="ignore"
        )


def term_scales(batch: Batch) -> dict[int, float]:
    """Per gradient output (by its index among the outputs), the largest magnitude of the
    values it is computed from (every float value of its graph, on the oracle).

    A gradient can be far smaller than the terms it adds up: random weights of both signs
    over equal elements, or a function that is constant in exact arithmetic
    (logsumexp(log_softmax(x)) is 0, tan(arctan(t)) − t too); its rounding is that of its
    terms, and each term is computed from those values."""
    n_out = len(batch.outputs) - len(batch.graphs) - len(batch.wrt)
    values: dict[int, S.Variable] = {}
    sources: dict[int, list[int]] = {}
    for w in range(len(batch.wrt)):
        index = n_out + w
        nodes = toposort([batch.outputs[index]])
        found = [v for n in nodes for v in n.outputs if v.dtype.startswith("float")]
        values.update((id(v), v) for v in found)
        sources[index] = [id(v) for v in found]
    if not values:
        return {}
    run = dict(device="numpy", optimize=False, on_unused_input="ignore")
    keys = list(values)
    got = S.compile(batch.inputs, [values[k] for k in keys], **run)(*batch.values)
    largest = {}
    for k, v in zip(keys, got):
        v = np.abs(np.asarray(v, np.float64))
        largest[k] = float(np.max(v[np.isfinite(v)], initial=0.0))
    return {index: max((largest[k] for k in ids), default=0.0) for index, ids in sources.items()}


def mismatches(batch: Batch, got: list, want: list, terms: dict | None = None) -> list[str]:
    """One line per output of `got` that differs from the oracle's `want` beyond tolerance;
    `terms` (from term_scales) widens a gradient's tolerance to the scale of what it is
    computed from."""
    # A gradient is a sum of terms that may cancel (a softmax's sum to zero): its rounding is
    # that of the terms, so it is compared at the scale of its graph's cost and largest gradient.
    scale = [1e-30] * len(batch.graphs)
    for label, w in zip(batch.labels, want):
        w = np.asarray(w)
        if (label.gradient or label.label == "cost") and w.dtype.kind == "f":
            finite = np.abs(w[np.isfinite(w)])
            scale[label.graph] = max(scale[label.graph], float(np.max(finite, initial=0)))
    lines = []
    for index, (label, g, w) in enumerate(zip(batch.labels, got, want)):
        g, w = np.asarray(g), np.asarray(w)
        where = f"seed {batch.graphs[label.graph].seed}: {label.label}"
        if g.dtype != w.dtype or g.shape != w.shape:
            lines.append(
                f"{where}: got {g.dtype}{list(g.shape)}, the oracle {w.dtype}{list(w.shape)}"
            )
            continue
        if w.dtype.kind not in "fc":
            if not np.array_equal(g, w):
                at = np.argwhere(g != w)[0]
                lines.append(
                    f"{where}: at {tuple(at)} got {g[tuple(at)]}, the oracle {w[tuple(at)]}"
                )
            continue
        tol = label.tolerance * (scale[label.graph] if label.gradient else 1)
        if terms is not None and index in terms:
            tol = max(tol, label.tolerance * terms[index])
        with np.errstate(invalid="ignore"):
            excess = np.abs(g.astype(np.float64) - w) - tol
        excess = np.where(np.isnan(g) & np.isnan(w), 0, excess)
        excess = np.where(np.isnan(excess), np.inf, excess)
        if np.any(excess > 0):
            at = np.unravel_index(np.argmax(excess), w.shape)
            lines.append(
                f"{where}: at {at} got {g[at]!r}, the oracle {w[at]!r} (tolerance {tol:.3g})"
            )
    return lines


def finite_difference_mismatches(batch: Batch, oracle, want: list) -> list[str]:
    """Each float64 graph's gradient along a random direction against central differences."""
    rng = np.random.default_rng(batch.graphs[0].seed + 7)
    n_out = len(batch.outputs) - len(batch.graphs)
    gradients = dict(zip(batch.wrt, want[n_out - len(batch.wrt) : n_out]))
    directions, plus, minus = {}, list(batch.values), list(batch.values)
    offset = np.cumsum([0] + [len(g.inputs) for g in batch.graphs])
    for k, i in batch.wrt:
        value = np.asarray(batch.values[offset[k] + i])
        if batch.graphs[k].float_dtype != "float64" or value.dtype != np.float64:
            continue
        d = rng.standard_normal(value.shape)
        directions[(k, i)] = d
        plus[offset[k] + i] = value + FD_STEP * d
        minus[offset[k] + i] = value - FD_STEP * d
    if not directions:
        return []
    numeric = (np.array(oracle(*plus)[n_out:]) - np.array(oracle(*minus)[n_out:])) / (2 * FD_STEP)
    lines = []
    for k, g in enumerate(batch.graphs):
        terms = [
            np.sum(gradients[(k, i)] * directions[(k, i)])
            for i in g.float_inputs
            if (k, i) in directions
        ]
        if not terms:
            continue
        analytic = float(np.sum(terms))
        size = sum(
            np.abs(gradients[(k, i)] * directions[(k, i)]).sum()
            for i in g.float_inputs
            if (k, i) in directions
        )
        tol = 1e-5 * size + 2 * batch.cost_tolerances[k] / FD_STEP + 1e-9
        if not abs(numeric[k] - analytic) <= tol:
            lines.append(
                f"seed {g.seed}: gradient along a random direction {analytic!r}, finite differences {numeric[k]!r} (tolerance {tol:.3g})"
            )
    return lines


@contextlib.contextmanager
def deadline(seconds: int, what: str):
    """TimeoutError naming `what` if the block runs longer than `seconds` (a hang found by a
    graph is reported with its reproduction instead of stopping the run)."""

    def expire(signum, frame):
        raise TimeoutError(f"{what} did not finish in {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def on_device(device: str):
    """cuda runs on the host emulation where there is no GPU (tests/cuda_host.py)."""
    if device != "cuda":
        yield
        return
    from runtime.cuda.device import CudaUnavailableError, get_device, use_driver

    try:
        get_device()
    except CudaUnavailableError:
        from cuda_host import HostDriver

        with use_driver(HostDriver()):
            yield
        return
    yield


def check(graphs: list[Graph], device: str, optimize: bool, gradients: bool = True) -> list[str]:
    """Mismatch lines of the batch on (device, optimize); with `gradients`, also the finite
    difference check on the oracle. An error anywhere (building the gradients, compiling,
    calling) or a hang is a mismatch line too."""
    try:
        with on_device(device), deadline(DEADLINE_S, f"checking on {device}"):
            return _check(graphs, device, optimize, gradients)
    except Exception as error:  # noqa: BLE001 (any error is a finding; it is reported)
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return [f"seeds {[g.seed for g in graphs]}: {type(error).__name__}: {first}"]


def _check(graphs: list[Graph], device: str, optimize: bool, gradients: bool) -> list[str]:
    batch = Batch(graphs)
    oracle = batch.compile("numpy", optimize=False)
    want = oracle(*batch.values)
    lines = [
        f"seed {graphs[label.graph].seed}: the oracle's {label.label} is not finite"
        for label, w in zip(batch.labels, want)
        if not np.all(np.isfinite(w))
    ]
    lines += finite_difference_mismatches(batch, oracle, want) if gradients else []
    if device == "numpy" and not optimize:
        return lines
    got = batch.compile(device, optimize)(*batch.values)
    found = mismatches(batch, got, want)
    if any(" gradient of " in line for line in found):  # rare: at its terms' scale, again
        found = mismatches(batch, got, want, term_scales(batch))
    return lines + found


def isolate(seeds: list[int], device: str, optimize: bool, gradients: bool = True) -> list[str]:
    """Failure reports of the graphs of `seeds` checked as one batch, each failing graph found
    by checking them one by one, with a one-line reproduction and the graph's steps."""
    graphs = [random_graph(s) for s in seeds]
    if not check(graphs, device, optimize, gradients):
        return []
    reports = []
    for g in graphs:
        lines = check([g], device, optimize, gradients)
        lines = [
            line for line in lines if "finite differences" not in line or _verify_grad_fails(g)
        ]
        if lines:
            reports.append(_report(g, device, optimize, lines))
    if not reports:
        lines = check(graphs, device, optimize, gradients)
        reports.append(
            f"seeds {seeds[0]}..{seeds[-1]} fail together on {device} (optimize={optimize}), none alone:\n  "
            + "\n  ".join(lines)
            + f"\n  reproduce: python -m pytest tests/fuzz --fuzz {len(seeds)} --fuzz-seed {seeds[0]}"
        )
    return reports


def _verify_grad_fails(g: Graph) -> bool:
    """S.verify_grad's verdict on the graph's first float output: the directional check may
    cross a step of floor or a comparison; element-wise differences confirm it or not."""
    out = next(o for o in g.outputs if o.dtype.startswith("float"))
    used = {id(v) for v in graph_inputs([out])}
    floats = [
        i for i in g.float_inputs if id(g.inputs[i]) in used and g.values[i].dtype == np.float64
    ]
    points = [np.asarray(g.values[i], np.float64) for i in floats]
    constants = {
        v: S.constant(np.asarray(a))
        for i, (v, a) in enumerate(zip(g.inputs, g.values))
        if i not in floats
    }

    def fn(*xs):
        replace = {**constants, **{g.inputs[i]: x for i, x in zip(floats, xs)}}
        return clone_replace([out], replace)[0]

    try:
        S.verify_grad(fn, points)
    except (AssertionError, ValueError):  # ValueError: connected through integers only
        return True
    return False


def _report(g: Graph, device: str, optimize: bool, lines: list[str]) -> str:
    steps = "\n    ".join(g.steps)
    return (
        f"graph seed {g.seed} ({g.float_dtype}) on {device} (optimize={optimize}):\n  "
        + "\n  ".join(lines)
        + f"\n  reproduce: python -m pytest tests/fuzz --fuzz 1 --fuzz-seed {g.seed}\n  graph:\n    {steps}"
    )
