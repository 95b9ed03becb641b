"""Graphs that share subexpressions heavily compile in bounded time and memory, and every
unit of fusion is built once (symbolic/optimizer/fusion.py)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sharing_graphs as graphs

import symbolic as S
from symbolic.optimizer import fusion
from symbolic.optimizer.phases import optimize_graph
from symbolic.optimizer.rewriter import RewriteLog

SCRIPT = Path(graphs.__file__)
ADDRESS_SPACE = 1 << 30  # a normal compile of these graphs maps ~160 MB (one BLAS thread)
TIMEOUT_S = 240  # they compile in ~10 s on one busy core, C compiler included


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.mark.parametrize(
    "graph, split",
    [("mutual", True), ("dag 4", True), ("ladder 20", False)],
)
def test_sharing_graphs_compile_within_a_memory_cap(graph, split):
    """Fusion once grouped nodes into convex groups that needed each other (`mutual`, `dag 4`)
    and then grew its stack without bound; they are split now, and the values are right."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(S.__file__).parents[1]), env.get("PYTHONPATH", "")]
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *graph.split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_cap_memory,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    status, splits = done.stdout.split()[:2]
    assert status == "ok" and (int(splits) > 0) == split, done.stdout


def test_only_the_smaller_of_two_groups_that_need_each_other_is_split():
    """Finding the units walks no cycle (only `fuse`'s rebuild would), so this runs in process."""
    _, outputs = graphs.mutual()
    z = S.vector("z")  # not y: a reader of y would join G2 as its sibling
    outputs.append(S.exp(z) * 3 + 1)  # a group of its own, needing neither: kept
    grouper, log = fusion._Grouper(outputs), RewriteLog()
    unit_of = fusion._units(grouper, log)
    units = fusion._distinct(unit_of)
    order, cyclic = fusion._topological(fusion._reads(grouper, unit_of, units))
    assert not cyclic and len(order) == len(units)
    assert log["fuse_split_mutual_dependency"] == 1
    assert log["fuse_elemwise"] == 2


def test_independent_groups_are_not_split():
    x, y = S.vector("x"), S.vector("y")
    log = RewriteLog()
    optimize_graph([S.exp(x) * S.tanh(x) + 1, S.sum(S.sigmoid(y) * y)], log)
    assert "fuse_split_mutual_dependency" not in log


# ---- the walks are linear: count the work, not the time ---------------------------------------


def count_builds(monkeypatch, outputs) -> tuple[int, int]:
    """(units fuse built, distinct units it found) for the optimized outputs."""
    built, units = [], []
    real_build, real_units = fusion._build, fusion._units
    monkeypatch.setattr(
        fusion, "_build", lambda unit, *rest: built.append(unit) or real_build(unit, *rest)
    )
    monkeypatch.setattr(
        fusion, "_units", lambda *args: units.append(found := real_units(*args)) or found
    )
    optimize_graph(outputs)
    return len(built), len({id(u) for u in units[0]})


@pytest.mark.parametrize("seed", [1, 3])  # no groups to split: safe in process
def test_fuse_builds_each_unit_once(monkeypatch, seed):
    inputs, expr = graphs.random_dag(5, seed)
    built, units = count_builds(monkeypatch, graphs.with_gradient(inputs, expr))
    assert built == units


class TooMuchWork(Exception):
    pass


def python_calls(fn, limit: int = 10**8) -> int:
    """The number of Python function calls `fn()` makes: a measure of work that does not
    depend on the machine's speed or load. Past `limit` calls, raises TooMuchWork (so that
    exponential work fails fast instead of running on)."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"
        if calls > limit:
            raise TooMuchWork(f"more than {limit} Python calls")

    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def test_optimizer_work_grows_linearly_on_the_ladder():
    work = []
    for n in (40, 80, 160):
        inputs, expr = graphs.ladder(n)
        outputs = graphs.with_gradient(inputs, expr)
        work.append(python_calls(lambda outputs=outputs: optimize_graph(outputs)))
    ratios = [b / a for a, b in zip(work, work[1:])]
    assert all(r < 2.3 for r in ratios), ratios  # quadratic work would give ~4 per doubling


def scan_with_ladder_step(n: int):
    """A loop whose step is a ladder of n rungs, and its cost."""
    xs, h0, w = S.matrix("xs"), S.vector("h0"), S.vector("w")

    def step(x, h, w):
        p, q = x * h, h * w
        for k in range(n):
            p, q = graphs.LADDER_STEPS[k % len(graphs.LADDER_STEPS)](p, q), p
        return p

    hs, _ = S.scan(step, sequences=[xs], outputs_info=[h0], non_sequences=[w])
    return [xs, h0, w], S.sum(hs[-1])


def test_scan_gradient_work_grows_linearly_with_the_step():
    """The backward step's shapes are resolved once each: shapes of a ladder's rungs read the
    two rungs before, which took exponential work when each was resolved afresh."""
    work = []
    for n in (5, 10, 20):
        (_, h0, w), cost = scan_with_ladder_step(n)
        grad = lambda cost=cost, h0=h0, w=w: S.grad(cost, [w, h0])  # noqa: E731
        work.append(python_calls(grad, limit=20 * (work[-1] if work else 10**5)))
    ratios = [b / a for a, b in zip(work, work[1:])]
    assert all(r < 2.5 for r in ratios), ratios


def test_scan_building_work_grows_linearly_with_a_step_that_updates_state():
    """Which captured values read an updated shared variable is found in one walk, not one
    walk per value."""
    work = []
    for n in (10, 20, 40):
        xs = S.vector("xs")
        total = S.shared(np.float32(0), "total")

        def step(x, n=n, total=total):
            p, q = x * total, x
            for k in range(n):
                p, q = graphs.LADDER_STEPS[k % len(graphs.LADDER_STEPS)](p, q), p
            return p, {total: total + p}

        work.append(python_calls(lambda step=step, xs=xs: S.scan(step, sequences=[xs])))
    ratios = [b / a for a, b in zip(work, work[1:])]
    assert all(r < 2.5 for r in ratios), ratios
