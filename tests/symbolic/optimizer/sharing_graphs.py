"""Graphs with heavy sharing of subexpressions, and their gradients, for the sharing tests.

Run as a script (`python sharing_graphs.py ladder 20`, `dag 4`, `mutual`), it compiles one of
them on the numpy and cpu devices, checks both against the unoptimized numpy oracle and prints
how many fused groups were split because they needed each other, and the peak memory: the tests
run it in a child process under a memory cap and a timeout, since a regression here does not
fail, it grows until the machine runs out of memory.
"""

from __future__ import annotations

import random
import sys

import numpy as np

import symbolic as S

# The steps of the ladder, each combining the two previous rungs p and q.
LADDER_STEPS = [
    lambda p, q: S.tanh(p) * q,
    lambda p, q: S.exp(-p * p) + q,
    lambda p, q: S.maximum(p, q) * 0.5,
    lambda p, q: S.sigmoid(p - q),
    lambda p, q: S.where(p > q, p, q * q),
]
UNARY = [S.exp, S.tanh, S.sigmoid, lambda x: S.log(S.abs(x) + 1), lambda x: x**2, lambda x: -x]
BINARY = [
    lambda a, b: a * b,
    lambda a, b: S.maximum(a, b),
    lambda a, b: S.where(a > b, a, b),
    lambda a, b: a - b,
    lambda a, b: S.abs(a) ** S.sigmoid(b),
    lambda a, b: S.sum(a) * b,  # a reduction between groups: they can end up needing each other
]


def ladder(n: int):
    """x_{k+1} = f_k(x_k, x_{k-1}) over a matrix A and a vector v: every rung is read twice."""
    A, v = S.matrix("A"), S.vector("v")
    p, q = A * v, A
    for k in range(n):
        p, q = LADDER_STEPS[k % len(LADDER_STEPS)](p, q), p
    return [A, v], p


def random_dag(depth: int, seed: int, width: int = 6):
    """A random expression of `depth` levels over A and v; each level's nodes read the level
    below and any earlier level, so subexpressions are reused many times."""
    rng = random.Random(seed)
    A, v = S.matrix("A"), S.vector("v")
    levels = [[A, v, A * v]]
    for _ in range(depth):
        below, earlier = levels[-1], [x for level in levels for x in level]
        levels.append(
            [
                rng.choice(UNARY)(rng.choice(below))
                if rng.random() < 0.3
                else rng.choice(BINARY)(rng.choice(below), rng.choice(earlier))
                for _ in range(width)
            ]
        )
    expr = levels[-1][0]
    for x in levels[-1][1:]:
        expr = expr * 0.5 + x
    return [A, v], expr


def mutual():
    """G1 = {exp(x), exp(x)·Σtanh(y)} and G2 = {tanh(y), tanh(y)·Σexp(x)} are each convex, but
    G1 needs Σtanh(y), which needs G2, which needs Σexp(x), which needs G1."""
    x, y = S.vector("x"), S.vector("y")
    a, c = S.exp(x), S.tanh(y)
    return [x, y], [c * S.sum(a), a * S.sum(c)]


def with_gradient(inputs, expr) -> list:
    return [expr, *S.grad(S.sum(expr), inputs)]


def check_devices(inputs, outputs, devices=("numpy", "cpu")) -> None:
    """Compile on each device and compare with the unoptimized numpy oracle."""
    rng = np.random.default_rng(0)
    shapes = [(3, 4) if x.ndim == 2 else (4,) for x in inputs]
    values = [rng.uniform(0.5, 1.5, shape).astype(np.float32) for shape in shapes]
    want = S.compile(inputs, outputs, device="numpy", optimize=False)(*values)
    for device in devices:
        got = S.compile(inputs, outputs, device=device)(*values)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=device)


def main(argv: list[str]) -> None:
    import resource

    from symbolic.optimizer.phases import optimize_graph
    from symbolic.optimizer.rewriter import RewriteLog

    if argv[0] == "mutual":
        inputs, outputs = mutual()
    else:
        build = ladder if argv[0] == "ladder" else lambda seed: random_dag(5, seed)
        inputs, expr = build(int(argv[1]))
        outputs = with_gradient(inputs, expr)
    log = RewriteLog()
    optimize_graph(outputs, log)
    check_devices(inputs, outputs)
    with open("/proc/self/status") as f:
        address_space = int(f.read().split("VmPeak:")[1].split()[0]) // 1024
    resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print("ok", log["fuse_split_mutual_dependency"], f"{resident} MB resident,", end=" ")
    print(f"{address_space} MB address space")


if __name__ == "__main__":
    main(sys.argv[1:])
