"""Compile-speed benchmark: how long the optimizer takes on long chains and on an MLP.

    python benchmarks/compile_speed.py [--sizes 250 2000 10000] [--repeat 3] [--json out.json]

Workloads
- chain N: y = x, then N elementwise ops applied in turn (sin, *1.0001, cos, +0.5, tanh, …),
  float32 vector input. We time `S.optimize` (the optimizer alone) and `S.compile` on the
  `numpy` device; JAX and PyTensor (when installed) compile the same chain with jit/function.
- mlp: the training graph of a 784-1024-1024-10 ReLU MLP with softmax cross-entropy, its
  gradients and SGD updates; we time `S.optimize` of the cost, gradients and updates.
Reports the median of `--repeat` runs, in seconds, and the ratio of peers to us. The targets
are for the optimizer alone. The peers' times include their code generation and compilation
(XLA, C), which our `numpy`-device compile does not do, so those ratios are not equal work:
they say how long a user waits, not whose optimizer is faster.
"""

from __future__ import annotations

import argparse
import platform

from bench_mlp import mlp_graph, mlp_inputs
from harness import finish, median_time

import symbolic as S

STEPS = [
    lambda y: S.sin(y),
    lambda y: y * 1.0001,
    lambda y: S.cos(y),
    lambda y: y + 0.5,
    lambda y: S.tanh(y),
    lambda y: S.exp(-y),
]
TARGETS = {250: 0.2, 2000: 1.0, 10000: 5.0, "mlp": 0.2}  # seconds, the optimizer alone


def build_chain(n: int):
    x = S.vector("x")
    y = x
    for i in range(n):
        y = STEPS[i % len(STEPS)](y)
    return x, y


def build_mlp():
    """The M1 training graph's outputs: the cost and every updated parameter."""
    _, cost, updates = mlp_graph(mlp_inputs()[0])
    return [cost] + [value for _, value in updates]


def jax_chain(n: int):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    fns = [
        jnp.sin,
        lambda y: y * 1.0001,
        jnp.cos,
        lambda y: y + 0.5,
        jnp.tanh,
        lambda y: jnp.exp(-y),
    ]

    def f(y):
        for i in range(n):
            y = fns[i % len(fns)](y)
        return y

    x = jnp.ones(16, jnp.float32)
    return lambda: jax.jit(f).lower(x).compile()


def pytensor_chain(n: int):
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        return None
    fns = [pt.sin, lambda y: y * 1.0001, pt.cos, lambda y: y + 0.5, pt.tanh, lambda y: pt.exp(-y)]

    def compile_it():
        x = pt.vector("x", dtype="float32")
        y = x
        for i in range(n):
            y = fns[i % len(fns)](y)
        pytensor.function([x], y)

    return compile_it


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 2000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", action="store_true", help="also time JAX and PyTensor")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        x, y = build_chain(n)
        row = {
            "workload": f"chain {n}",
            "optimize_s": median_time(lambda y=y: S.optimize(y), args.repeat),
            "compile_s": median_time(
                lambda x=x, y=y: S.compile([x], y, device="numpy"), args.repeat
            ),
            "target_s": TARGETS.get(n),
        }
        if args.peers:
            for peer, make in (("jax", jax_chain), ("pytensor", pytensor_chain)):
                job = make(n)
                try:
                    row[f"{peer}_s"] = median_time(job, 1) if job else "not installed"
                except RecursionError:
                    row[f"{peer}_s"] = "RecursionError"
        rows.append(row)
    mlp = build_mlp()
    rows.append(
        {
            "workload": "mlp train graph",
            "optimize_s": median_time(lambda: S.optimize(mlp), args.repeat),
            "target_s": TARGETS["mlp"],
        }
    )
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, python "
        f"{platform.python_version()}, median of {args.repeat}"
    )
    print(f"{'workload':<18}{'optimize s':>12}{'compile s':>12}{'target s':>10}  peers")
    for r in rows:
        peers = "  ".join(
            f"{k[:-2]} {v:.3f}s ({v / r['compile_s']:.1f}x)"
            if isinstance(v, float)
            else f"{k[:-2]} {v}"
            for k, v in r.items()
            if k in ("jax_s", "pytensor_s")
        )
        compile_s = f"{r['compile_s']:.3f}" if "compile_s" in r else "-"
        print(
            f"{r['workload']:<18}{r['optimize_s']:>12.3f}{compile_s:>12}"
            f"{r['target_s']:>10}  {peers}"
        )
    result = {"benchmark": "compile_speed", "rows": rows}
    return finish(result, args.json)


if __name__ == "__main__":
    main()
