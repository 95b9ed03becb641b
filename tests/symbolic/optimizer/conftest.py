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


def make_inputs(spec, rng, signed: bool = False, int_bound: int = 5):
    """Symbolic inputs and values for a list of (dtype, static shape): unknown axes get length
    3; floats have magnitudes in [0.5, 2) (so sqrt and reciprocal are ordinary), with a random
    sign when `signed`; integers lie in [−int_bound, int_bound]."""
    variables, values = [], []
    for i, (dtype, shape) in enumerate(spec):
        variables.append(S.tensor(f"x{i}", dtype, shape))
        concrete = tuple(3 if d is None else d for d in shape)
        if dtype.startswith("float"):
            sign = rng.choice([-1.0, 1.0], concrete) if signed else 1.0
            values.append((sign * rng.uniform(0.5, 2.0, concrete)).astype(dtype))
        else:
            values.append(rng.integers(-int_bound, int_bound + 1, concrete).astype(dtype))
    return variables, values


def check_values(variables, values, expr, device="numpy", rtol=1e-6):
    """The optimized graph on `device` computes what the unoptimized one does on numpy."""
    fast = S.compile(variables, expr, device=device)(*values)
    plain = S.compile(variables, expr, device="numpy", optimize=False)(*values)
    assert fast.dtype == plain.dtype and fast.shape == plain.shape
    if plain.dtype.kind == "f":
        np.testing.assert_allclose(fast, plain, rtol=rtol)
    else:
        np.testing.assert_array_equal(fast, plain)
