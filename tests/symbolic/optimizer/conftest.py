"""Helpers for rewrite tests: what an expression becomes, and its values both ways."""

import numpy as np
import pytest

import symbolic as S
from symbolic.graph import toposort


def op_names(outputs) -> list[str]:
    """The names of the ops that compute `outputs`, in topological order."""
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return [node.op.name for node in toposort(outputs)]


def optimized_ops(expr) -> list[str]:
    """The op names of `expr` after every optimizer phase."""
    return op_names(S.optimize(expr))


def both_ways(inputs, outputs, values, device="numpy"):
    """(optimized on `device`, unoptimized on the numpy oracle) results of the same graph."""
    fast = S.compile(inputs, outputs, device=device)(*values)
    plain = S.compile(inputs, outputs, device="numpy", optimize=False)(*values)
    return fast, plain


@pytest.fixture
def rng():
    return np.random.default_rng(0)
