"""D1: data-parallel scaling of M1's training step (bench_mlp.py) at global batch 1024.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_distributed.py \
        [--steps 30] [--bucket-mb 25] [--device cpu|cuda] [--json d1.json]

T1: one process, one thread, pinned to core 0 (taskset), batch 1024. T2: two ranks
(`mpiexec -n 2 -bind-to core`), one thread each, 512 rows each, gradients all-reduced (mean:
the halves are equal). Efficiency = T1 / (2·T2) (1: perfect scaling; target ≥ 0.90). The
peer in the same run: PyTorch (eager, one thread) alone and under DistributedDataParallel on
gloo, the same model, rows and threads. Times are medians of --steps steps after 3 warm-up
steps, on rank 0 (every step ends in an all-reduce, so the ranks move together). Ours also
reports, from a profiled run, how long its buckets were in flight per step, how much of that
ran beside compute and how long it waited; and T2 with one blocking all-reduce after the
backward pass (bucket_bytes=0), whose difference from T2 is the time the buckets saved (by
overlap, and by reducing large gradients in place where the blocking op packs them).

`--device cuda` (a machine with two GPUs or more): the same on GPUs, one per rank (a rank's
GPU is its local rank), all-reduces over NCCL; the batch is copied from the host at every step
by ours and by the peer (PyTorch DDP on its nccl backend), so both do the same work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GLOBAL_BATCH = 1024
WARMUP = 3


# ---- one process's measurement (run as a child: alone, or a rank under mpiexec) -----------


def child(kind: str, steps: int, bucket_mb: float, device: str = "cpu") -> dict:
    import harness

    harness.configure_threads(1)
    import numpy as np
    from bench_mlp import mlp_inputs

    ranks, rank = int(os.environ.get("PMI_SIZE", "1")), int(os.environ.get("PMI_RANK", "0"))
    params, _, _ = mlp_inputs()
    rng = np.random.default_rng(1)
    x = rng.random((GLOBAL_BATCH, 784), dtype=np.float32)
    labels = rng.integers(0, 10, GLOBAL_BATCH).astype(np.int64)
    rows = slice(rank * GLOBAL_BATCH // ranks, (rank + 1) * GLOBAL_BATCH // ranks)
    x, labels = x[rows], labels[rows]
    make = ours_step if kind == "ours" else torch_step
    step, extra = make(params, x, labels, bucket_mb, device)
    times = []
    for k in range(WARMUP + steps):
        start = time.perf_counter()
        loss = step()
        if k >= WARMUP:
            times.append(time.perf_counter() - start)
    result = {"median_s": statistics.median(times), "loss": float(loss), "rows": len(x)}
    result["cpus"] = sorted(os.sched_getaffinity(0))
    result.update(extra())
    return result


def ours_step(params, x, labels, bucket_mb: float, device: str):
    from bench_mlp import LR, mlp_graph

    import symbolic as S
    import symbolic.distributed as D

    def build(profile: bool):
        inputs, cost, updates = mlp_graph(params)
        shared = [p for p, _ in updates]
        grads = D.allreduce(S.grad(cost, shared), op="mean", bucket_bytes=int(bucket_mb * 2**20))
        updates = [(p, p - LR * g) for p, g in zip(shared, grads)]
        return S.compile(inputs, cost, updates=updates, device=device, profile=profile)

    f = build(False)

    def overlap() -> dict:
        """Communication per step and the part hidden by compute, from a profiled copy."""
        profiled = build(True)
        for _ in range(WARMUP):
            profiled(x, labels)
        p = profiled.profile
        p.communication_seconds = p.exposed_seconds = p.compute_seconds = 0.0
        n = 10
        for _ in range(n):
            profiled(x, labels)
        return {
            "communication_ms": p.communication_seconds / n * 1e3,
            "hidden_ms": p.hidden_seconds / n * 1e3,
            "waited_ms": p.exposed_seconds / n * 1e3,
            "buckets": len(p.last_buckets),
        }

    return (lambda: f(x, labels)), overlap


def torch_step(params, x, labels, bucket_mb: float, device: str):
    import torch
    import torch.nn.functional as F
    from bench_mlp import LR

    torch.set_num_threads(1)
    local_rank = int(os.environ.get("MPI_LOCALRANKID", os.environ.get("PMI_RANK", "0")))
    target = torch.device(f"cuda:{local_rank}" if device == "cuda" else "cpu")
    layers = []
    for i in range(0, len(params), 2):
        linear = torch.nn.Linear(*params[i].shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[i].T.copy()))
            linear.bias.copy_(torch.from_numpy(params[i + 1]))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).to(target)
    ranks = int(os.environ.get("PMI_SIZE", "1"))
    if ranks > 1:
        import torch.distributed as dist

        dist.init_process_group(
            "nccl" if device == "cuda" else "gloo",
            init_method="tcp://127.0.0.1:29517",
            rank=int(os.environ["PMI_RANK"]),
            world_size=ranks,
        )
        model = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=bucket_mb)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    tx, ty = torch.from_numpy(x), torch.from_numpy(labels)

    def run():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(tx.to(target)), ty.to(target))
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the GPU, as ours returns the loss on the host

    return run, dict


# ---- the driver ---------------------------------------------------------------------------


def launch(kind: str, ranks: int, steps: int, bucket_mb: float, device: str = "cpu") -> dict:
    """T1 (ranks=1: a plain process on core 0) or T2 (mpiexec, one core per rank)."""
    me = [sys.executable, str(Path(__file__)), "--child", kind]
    me += ["--steps", str(steps), "--bucket-mb", str(bucket_mb), "--device", device]
    if ranks == 1:
        command = ["taskset", "-c", "0", *me]
    else:
        mpiexec = Path(sys.executable).with_name("mpiexec")
        mpiexec = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
        command = [mpiexec, "-n", str(ranks), "-bind-to", "core", *me]
    env = dict(os.environ, PYTHONPATH=f"{HERE.parent}{os.pathsep}{HERE}")
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stdout}\n{out.stderr}")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[0])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=["ours", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--bucket-mb", type=float, default=25.0, help="all-reduce bucket size")
    parser.add_argument("--peers", default="torch", help="'torch' or 'none'")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.child:
        result = child(args.child, args.steps, args.bucket_mb, args.device)
        if int(os.environ.get("PMI_RANK", "0")) == 0:
            print(json.dumps(result), flush=True)
        return result

    import harness

    report = {"machine": harness.machine(), "versions": harness.versions(), "results": {}}
    print(f"machine: {report['machine']}")
    kinds = ["ours"] + (["torch"] if args.peers == "torch" else [])
    for kind in kinds:
        t1 = launch(kind, 1, args.steps, args.bucket_mb, args.device)
        t2 = launch(kind, 2, args.steps, args.bucket_mb, args.device)
        efficiency = t1["median_s"] / (2 * t2["median_s"])
        report["results"][kind] = {"T1": t1, "T2": t2, "efficiency": efficiency}
        if kind == "ours":  # the same two ranks with one blocking all-reduce after the backward
            blocking = launch(kind, 2, args.steps, 0, args.device)
            report["results"][kind]["T2 blocking"] = blocking
            t2["saved_ms"] = (blocking["median_s"] - t2["median_s"]) * 1e3
        line = (
            f"{kind:<6} T1 {t1['median_s'] * 1e3:8.2f} ms   T2 {t2['median_s'] * 1e3:8.2f} ms   "
            f"efficiency {efficiency:.3f} (target ≥ 0.90)"
        )
        if "hidden_ms" in t2:
            line += (
                f"\n       in flight {t2['communication_ms']:.2f} ms/step in {t2['buckets']} "
                f"bucket(s): {t2['hidden_ms']:.2f} beside compute, {t2['waited_ms']:.2f} waited "
                f"for; T2 with one blocking all-reduce {blocking['median_s'] * 1e3:.2f} ms "
                f"(the buckets saved {t2['saved_ms']:.2f} ms/step)"
            )
        print(line, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
