"""The optimizer: every phase, in order, in one function."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from symbolic.graph import Variable
from symbolic.optimizer.rewriter import RewriteLog, fold_constants, rewrite_to_fixed_point


def optimize_graph(
    outputs: Sequence[Variable], log: RewriteLog | None = None, lower=None
) -> list[Variable]:
    """The outputs rewritten by every phase: merge → constant folding → canonicalize →
    stabilize → specialize → loops → slices lifted above elementwise nodes
    (slice_lift.py) → fuse. Each phase runs to a fixed point; merging of equal
    nodes and constants happens inside every pass. The loops phase optimizes the inner graph
    of every scan with these same phases (symbolic/scan/rewrite.py). `lower(outputs)`, where
    given, is a device's own rewrite of the outputs just before fusion (the cpu and cuda
    devices' gemm updates, runtime/gemm_updates.py)."""
    from symbolic.optimizer.fusion import fuse
    from symbolic.optimizer.rules import SPECIALIZE
    from symbolic.optimizer.slice_lift import lift_slices
    from symbolic.scan.rewrite import optimize_loops

    log = log if log is not None else RewriteLog()
    with collector_paused():
        outputs = stabilize_graph(outputs, log)
        outputs = rewrite_to_fixed_point(outputs, SPECIALIZE, log, fold=fold_constants)
        outputs = optimize_loops(outputs, log)
        if lower is not None:
            outputs = lower(outputs)
        return fuse(lift_slices(outputs, log), log)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector: rewriting allocates many small objects and
    frees few until it ends, so the collector's scans cost about a quarter of the time and
    find nothing. Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def stabilize_graph(outputs: Sequence[Variable], log: RewriteLog | None = None) -> list[Variable]:
    """The phases up to stabilize: what S.grad applies to a cost before differentiating it, so
    that the gradient of a naive formula (log(sigmoid(x))) is the gradient of its stable form."""
    from symbolic.optimizer.rules import CANONICALIZE, STABILIZE

    log = log if log is not None else RewriteLog()
    outputs = rewrite_to_fixed_point(outputs, [], log)  # merge
    outputs = rewrite_to_fixed_point(outputs, [], log, fold=fold_constants)
    outputs = rewrite_to_fixed_point(outputs, CANONICALIZE, log, fold=fold_constants)
    return rewrite_to_fixed_point(outputs, STABILIZE, log, fold=fold_constants)


def optimize(outputs):
    """The optimized form of a variable or a list of variables, for inspection and tests:
    `S.debugprint(S.optimize(cost))`."""
    single = isinstance(outputs, Variable)
    result = optimize_graph([outputs] if single else list(outputs))
    return result[0] if single else result
