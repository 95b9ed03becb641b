"""Compile cost on graphs with heavy sharing: it must grow linearly with the graph.

    python benchmarks/bench_sharing.py [--sizes 1250 2500 5000 10000] [--repeat 3]
                                       [--device numpy] [--json out.json]

Workloads, each of n elementwise nodes over float32 inputs, compiled with its gradient:
- ladder n: x_{k+1} = f_k(x_k, x_{k-1}) with f_k cycling through mul, add, maximum, sub:
  every node is read by the next two, the most sharing a graph of n nodes can have with two
  inputs per node. The cost is sum(x_n) and its gradient with respect to the two first rungs.
- chain n: compile_speed.py's chain (each node reads only the previous one) and its gradient.
For each, the median `S.compile` time over --repeat calls (after a warm-up call), the peak
memory Python allocated during one more compile (tracemalloc, not timed), and each size's
ratio to the size before it: ~2 per doubling is linear, ~4 quadratic.
"""

from __future__ import annotations

import argparse
import tracemalloc

from compile_speed import build_chain
from harness import finish, machine, median_time

import symbolic as S
from symbolic.graph import toposort

RUNGS = [lambda p, q: p * q, lambda p, q: p + q, S.maximum, lambda p, q: p - q]


def build_ladder(n: int):
    """(inputs, the last rung): n nodes, each combining the two before it."""
    a, b = S.vector("a"), S.vector("b")
    p, q = b, a
    for k in range(n):
        p, q = RUNGS[k % len(RUNGS)](p, q), p
    return [a, b], p


def with_gradient(inputs, y) -> list:
    return [y, *S.grad(S.sum(y), inputs)]


def workload(kind: str, n: int):
    if kind == "ladder":
        inputs, y = build_ladder(n)
    else:
        x, y = build_chain(n)
        inputs = [x]
    return inputs, with_gradient(inputs, y)


def peak_mb(fn) -> float:
    """The peak of memory allocated by Python objects while `fn()` runs, in MB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def measure(kind: str, n: int, device: str, repeat: int) -> dict:
    inputs, outputs = workload(kind, n)
    compile_once = lambda: S.compile(inputs, outputs, device=device)  # noqa: E731
    return {
        "workload": kind,
        "n": n,
        "graph_nodes": len(toposort(outputs)),
        "compile_s": median_time(compile_once, repeat),
        "peak_mb": peak_mb(compile_once),
    }


def with_ratios(rows: list[dict]) -> list[dict]:
    """Each row with its time and memory ratio to the previous size of the same workload."""
    previous: dict[str, dict] = {}
    for row in rows:
        before = previous.get(row["workload"])
        if before is not None:
            row["time_ratio"] = row["compile_s"] / before["compile_s"]
            row["memory_ratio"] = row["peak_mb"] / before["peak_mb"]
            row["size_ratio"] = row["n"] / before["n"]
        previous[row["workload"]] = row
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1250, 2500, 5000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="numpy")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    rows = with_ratios(
        [
            measure(kind, n, args.device, args.repeat)
            for kind in ("ladder", "chain")
            for n in args.sizes
        ]
    )
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['logical_cpus']} logical CPUs, load average "
        f"{info['load_average'][0]:.2f}; python {info['python']}; device={args.device}; "
        f"compile time: median of {args.repeat}"
    )
    print(
        f"{'workload':<10}{'n':>7}{'nodes':>8}{'compile s':>11}{'peak MB':>9}"
        f"{'time ×':>8}{'memory ×':>10}"
    )
    for r in rows:
        ratios = f"{r['time_ratio']:>8.2f}{r['memory_ratio']:>10.2f}" if "time_ratio" in r else ""
        print(
            f"{r['workload']:<10}{r['n']:>7}{r['graph_nodes']:>8}{r['compile_s']:>11.3f}"
            f"{r['peak_mb']:>9.1f}{ratios}"
        )
    result = {"benchmark": "sharing", "machine": info, "device": args.device, "rows": rows}
    return finish(result, args.json)


if __name__ == "__main__":
    main()
