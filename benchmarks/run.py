"""The CPU backend's benchmark suite: our compiled functions against NumPy, numexpr, PyTensor,
JAX and PyTorch, side by side in one process (G1 in fresh child processes).

    python benchmarks/run.py [--device cpu|numpy|cuda] [--only E1,E2,M1,C1,R1,O1,G1]
                             [--repeat N]   (--only M2,C2,R2: M1, C1, R1 at other shapes)
                             [--threads 2] [--json out.json]

Prints the machine, the thread settings, and a table: our median time, the target and whether
it is met (M2, C2, R2: no slower than the fastest peer), and for each peer its median time and the ratio peer/ours (above 1: we are faster).
A peer that is not installed is reported as such. Every result is checked against a float64
NumPy reference before it is timed; a wrong result is reported instead of a time.
Workloads (float32; medians over --repeat calls after one warm-up call): see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import blas_yardstick
import harness

PEERS = ("numpy", "numexpr", "pytensor", "jax", "torch")
# Targets of the CPU backend issue, in seconds per call (G1: to the first result).
TARGETS = {
    "E1": 25e-3,
    "E2": 5e-3,
    "M1": 14.5e-3,
    "C1": 14e-3,
    "R1": 28e-3,
    "O1": 3e-6,
    "O1 trusted": 1.5e-6,
    "G1 cold": 0.5,
    "G1 warm": 0.1,
}
# Other shapes of M1, C1 and R1, run only when named in --only; each one's target is to be no
# slower than the fastest peer (a target of None).
VARIANTS = ("M2", "C2", "R2")
DEFAULT_ONLY = ("E1", "E2", "M1", "C1", "R1", "O1", "G1")
WORKLOADS = DEFAULT_ONLY + VARIANTS
# How close each result must be to the float64 reference (relative, absolute).
TOLERANCES = {
    "E1": (1e-3, 1e-4),
    "E2": (1e-4, 1e-3),
    "M1": (1e-3, 1e-3),
    "C1": (1e-3, 1e-3),
    "O1": (0, 0),
    "R1": (1e-3, 1e-6),  # gradients of up to 0.03, accumulated over 50 steps in float32
}
TOLERANCES.update({"M2": TOLERANCES["M1"], "C2": TOLERANCES["C1"], "R2": TOLERANCES["R1"]})
# Workloads whose products are timed alone against the whole step (blas_yardstick.py)
YARDSTICK = ("M1", "C1", "R1") + VARIANTS
# XLA's CPU backend reads no thread-count flag offline; see harness.configure_threads.
XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"


def check(result, reference, tolerance) -> str | None:
    """None when the result matches the reference, else a short description of the mismatch."""
    import numpy as np

    got = np.asarray(result, dtype=np.float64)
    rtol, atol = tolerance
    if got.shape != np.shape(reference):
        return f"wrong shape {got.shape}, expected {np.shape(reference)}"
    if not np.allclose(got, reference, rtol=rtol, atol=atol, equal_nan=True):
        return f"wrong values: max abs error {np.max(np.abs(got - reference)):.3g}"
    return None


def time_one(build, inputs, reference, tolerance, repeat: int, per_call: bool, result=None):
    """Median seconds per call of what `build` returns, or a string saying why there is none.
    `result` turns what a call returns into what is compared with the reference."""
    try:
        fn = build(*inputs)
    except ImportError:
        return "not installed"
    except harness.NotApplicable:
        return "n/a"
    except Exception as e:  # report it and go on with the other peers
        return f"error: {type(e).__name__}: {str(e).splitlines()[0][:60] if str(e) else ''}"
    try:
        value = fn()  # also the warm-up (JIT compiles here)
        wrong = check(value if result is None else result(value), reference, tolerance)
        if wrong:
            return wrong
        if per_call:
            return harness.median_call_time(fn, repeat)
        return harness.median_time(fn, repeat)
    except Exception as e:
        return f"error: {type(e).__name__}: {str(e).splitlines()[0][:60] if str(e) else ''}"


def run_in_process(name: str, spec: dict, device: str, repeat: int) -> dict:
    inputs = spec["inputs"]()
    reference = spec["reference"](*inputs)
    tolerance = TOLERANCES[name.split()[0]]
    per_call, result = spec.get("per_call", False), spec.get("result")
    row = {"workload": name, "size": spec["size"], "target_s": TARGETS.get(name)}

    def ours(*args):
        return spec["ours"](device, *args)

    row["ours_s"] = time_one(ours, inputs, reference, tolerance, repeat, per_call, result)
    if name in YARDSTICK and device == "cpu" and isinstance(row["ours_s"], float):
        row["blas"] = blas_share(ours, inputs, row["ours_s"], repeat)
    row["peers"] = {
        peer: time_one(spec["peers"][peer], inputs, reference, tolerance, repeat, per_call, result)
        if peer in spec["peers"]
        else "n/a"
        for peer in PEERS
    }
    del inputs
    return row


def blas_share(ours, inputs, step_seconds: float, repeat: int) -> dict:
    """The products one call of our step computes, timed alone (blas_yardstick.py)."""
    with blas_yardstick.recording() as products:
        ours(*inputs)()
    return blas_yardstick.yardstick(products, step_seconds, repeat)


def run_cold(device: str, threads: int, repeat: int) -> list[dict]:
    """G1: two rows, cold and warm cache, each child process checked against the reference."""
    import bench_cold
    import bench_mlp

    reference = bench_mlp.mlp_reference(*bench_mlp.mlp_inputs())
    results = {}
    for peer in ("ours",) + PEERS:
        if peer != "ours" and peer not in bench_cold.PEERS:
            results[peer] = "n/a"
        elif not bench_cold.installed(peer):
            results[peer] = "not installed"
        else:
            try:
                results[peer] = bench_cold.measure(peer, device, threads, repeat)
            except Exception as e:
                results[peer] = f"error: {str(e)[:80]}"
    rows = []
    for kind in ("cold", "warm"):

        def pick(r, kind=kind):
            if isinstance(r, str):
                return r
            wrong = check(r[kind]["loss"], reference, TOLERANCES["M1"])
            return wrong or r[kind]["first_result_s"]

        rows.append(
            {
                "workload": f"G1 {kind}",
                "size": f"{bench_mlp.M1['size']}; new process, {kind} compile cache",
                "target_s": TARGETS[f"G1 {kind}"],
                "ours_s": pick(results["ours"]),
                "peers": {p: pick(results[p]) for p in PEERS},
                "detail": {p: r[kind] for p, r in results.items() if not isinstance(r, str)},
            }
        )
    return rows


def fmt(t) -> str:
    if t is None:  # no fixed target: the fastest peer's time
        return "<= peers"
    if not isinstance(t, float):
        return str(t)
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.2f} µs"


def finish(row: dict) -> dict:
    """Adds the ratios peer/ours and whether the target is met (with no target: whether we are
    no slower than the fastest peer that has a time)."""
    ours = row["ours_s"]
    peer_times = [t for t in row["peers"].values() if isinstance(t, float)]
    target = row["target_s"] if row["target_s"] is not None else min(peer_times, default=None)
    row["met"] = ours <= target if isinstance(ours, float) and target is not None else None
    row["ratios"] = {
        p: t / ours
        for p, t in row["peers"].items()
        if isinstance(t, float) and isinstance(ours, float)
    }
    return row


def print_table(rows: list[dict], peers=PEERS) -> None:
    head = f"{'workload':<11}{'ours':>11}{'target':>11}{'met':>5}  "
    print(head + "".join(f"{p:<22}" for p in peers))
    for r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        cells = []
        for p in peers:
            t = r["peers"][p]
            cell = f"{fmt(t)} ({r['ratios'][p]:.2f}x)" if p in r["ratios"] else fmt(t)
            cells.append(f"{cell[:21]:<22}")
        print(
            f"{r['workload']:<11}{fmt(r['ours_s'])[:10]:>11}{fmt(r['target_s']):>11}{met:>5}  "
            + "".join(cells)
        )
    long = [
        (r["workload"], p, t)
        for r in rows
        for p, t in [("ours", r["ours_s"])] + list(r["peers"].items())
        if isinstance(t, str) and len(t) > 21
    ]
    for workload, p, t in long:
        print(f"  {workload} {p}: {t}")


def in_process_workloads() -> dict:
    """The workloads timed in this process: each name in --only → its (row name, spec) pairs.
    Imports the bench modules (and NumPy): call after harness.configure_threads."""
    import bench_conv
    import bench_elementwise
    import bench_lstm
    import bench_mlp
    import bench_overhead

    return {
        "E1": [("E1", bench_elementwise.E1)],
        "E2": [("E2", bench_elementwise.E2)],
        "M1": [("M1", bench_mlp.M1)],
        "M2": [("M2", bench_mlp.M2)],
        "C1": [("C1", bench_conv.C1)],
        "C2": [("C2", bench_conv.C2)],
        "O1": [("O1", bench_overhead.O1), ("O1 trusted", bench_overhead.O1_TRUSTED)],
        "R1": [("R1", bench_lstm.R1)],
        "R2": [("R2", bench_lstm.R2)],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "numpy", "auto", "cuda"))
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_ONLY),
        help=f"comma-separated workloads of {','.join(WORKLOADS)}",
    )
    parser.add_argument("--repeat", type=int, default=10, help="timed calls per measurement")
    parser.add_argument(
        "--cold-repeat", type=int, default=3, help="G1: fresh processes per measurement"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}")

    os.environ.setdefault("XLA_FLAGS", XLA_FLAGS)  # before JAX loads; a user's own flags win
    threads = harness.configure_threads(args.threads)  # before NumPy and the peers load
    threads.update(harness.configure_pytensor())
    in_process = in_process_workloads()
    threads.update(harness.apply_library_threads(args.threads))
    if args.device == "cuda":
        import bench_cuda

        return run_cuda([w for w in only if w in bench_cuda.WORKLOADS], args)  # the rest: cpu
    machine = harness.machine()
    print(
        f"machine: {machine['cpu']}, {machine['physical_cores']} cores, "
        f"{machine['logical_cpus']} logical CPUs, load average {machine['load_average'][0]:.2f}; "
        f"python {machine['python']}; cc {machine['cc']}"
    )
    print("threads: " + ", ".join(f"{k}={v}" for k, v in threads.items()))
    versions = harness.versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"device={args.device}; medians of {args.repeat} calls after a warm-up call\n")
    rows = []
    for w in only:
        if w == "G1":
            rows += [finish(r) for r in run_cold(args.device, args.threads, args.cold_repeat)]
        else:
            for name, spec in in_process[w]:
                rows.append(finish(run_in_process(name, spec, args.device, args.repeat)))
                print(f"  {name} done", file=sys.stderr, flush=True)
    print_table(rows)
    shares = [(r["workload"], r["blas"]) for r in rows if "blas" in r]
    if shares:
        print(f"\nBLAS yardstick ({blas_yardstick.blas_library()}); our product kernel")
        print("alone on each product of the step, laid out as in the step:")
        for name, share in shares:
            print(blas_yardstick.describe(name, share))
    machine["load_average_at_end"] = os.getloadavg()
    print(f"load average at the end: {machine['load_average_at_end'][0]:.2f}")
    print("\nsizes:")
    for r in rows:
        print(f"  {r['workload']}: {r['size']}")
    result = {
        "benchmark": "cpu_backend",
        "device": args.device,
        "repeat": args.repeat,
        "machine": machine,
        "threads": threads,
        "versions": versions,
        "rows": rows,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return result


def run_cuda(only: list[str], args) -> dict:
    """The GPU suite (bench_cuda.py): same table, peers CuPy and PyTorch."""
    import bench_cuda

    info, rows = bench_cuda.run_suite(only, args.repeat, check)
    print(f"gpu: {info['gpu']}; device-to-device copy {info['copy_bandwidth_GBps']:.0f} GB/s")
    print(f"device=cuda; {args.repeat} calls per measurement, timed to the GPU's end\n")
    rows = [finish(r) for r in rows]
    print_table(rows, bench_cuda.PEERS)
    for r in rows:
        if "bandwidth_share" in r:
            print(f"  {r['workload']}: {r['bandwidth_share']:.0%} of the copy bandwidth")
    result = {"benchmark": "cuda_backend", "device": "cuda", **info, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return result


if __name__ == "__main__":
    main()
