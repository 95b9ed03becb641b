"""The GPU suite (`run.py --device cuda`): E1, E2, M1, O1 on device-resident data, against CuPy
and PyTorch (eager, and torch.compile where it works offline), with the device-to-device copy
bandwidth measured in the same run as the yardstick of E1 and E2.

Every call is timed to its end on the GPU: `repeat` calls are queued, then one synchronization,
divided by `repeat` (M1 synchronizes after each step: it returns the loss). Inputs live on the
device before timing; every result is checked against a float64 NumPy reference first.
"""

from __future__ import annotations

import functools
import time

import numpy as np
from bench_elementwise import e1_reference, e2_reference
from bench_mlp import LR, mlp_graph, mlp_inputs, mlp_reference, mlp_torch

E1_SIZE = 2**26
E2_SHAPE = (8192, 8192)
M1_BATCH = 1024
PEERS = ("cupy", "torch", "torch.compile")
TOLERANCES = {"E1": (1e-3, 1e-4), "E2": (1e-4, 1e-3), "M1": (1e-3, 1e-3), "O1": (0, 0)}
CALLS_PER_REPEAT = {"O1": 1000}  # calls of microseconds: enough of them to time


def synchronize() -> None:
    from runtime.cuda.device import get_device

    get_device().driver.synchronize_context()  # the primary context: ours, CuPy's, PyTorch's


def to_numpy(x) -> np.ndarray:
    if hasattr(x, "get"):  # ours, CuPy
        return np.asarray(x.get())
    if hasattr(x, "detach"):  # PyTorch
        return x.detach().cpu().numpy()
    return np.asarray(x)


def gpu_time(fn, repeat: int, sync_each: bool = False) -> float:
    """Seconds per call, to the end of the GPU's work."""
    fn()
    synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
        if sync_each:
            synchronize()
    synchronize()
    return (time.perf_counter() - start) / repeat


def copy_bandwidth(repeat: int) -> float:
    """Bytes per second of a device-to-device copy of E1's input (read + write)."""
    from runtime.cuda.device import get_device

    device = get_device()
    src = device.to_device(np.ones(E1_SIZE, np.float32))
    dst = device.empty(src.shape, src.dtype)
    seconds = gpu_time(lambda: device.driver.copy(dst.ptr, src.ptr, src.nbytes), repeat)
    return 2 * src.nbytes / seconds


# ---- the workloads: (inputs on the host, reference, ours, peers) ----------------------------


def e1_inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal(E1_SIZE, dtype=np.float32), rng.standard_normal(
        E1_SIZE, dtype=np.float32
    )


def e1_ours(x, y):
    import symbolic as S
    from runtime.cuda.device import get_device

    sx, sy = S.vector("x"), S.vector("y")
    f = S.compile(
        [sx, sy], S.tanh(sx * sy + S.exp(-sx)) * S.sigmoid(sy) + 0.5 * sx * sx, device="cuda"
    )
    f.device_outputs = True
    dx, dy = get_device().to_device(x), get_device().to_device(y)
    return lambda: f(dx, dy)


def e1_torch(x, y, compiled=False):
    import torch

    def fn(x, y):
        return torch.tanh(x * y + torch.exp(-x)) * torch.sigmoid(y) + 0.5 * x * x

    fn = torch.compile(fn) if compiled else fn
    tx, ty = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
    return lambda: fn(tx, ty)


def e1_cupy(x, y):
    import cupy as cp

    cx, cy = cp.asarray(x), cp.asarray(y)
    return lambda: cp.tanh(cx * cy + cp.exp(-cx)) * (1 / (1 + cp.exp(-cy))) + 0.5 * cx * cx


def e2_inputs():
    return (np.random.default_rng(0).standard_normal(E2_SHAPE, dtype=np.float32),)


def e2_ours(x):
    import symbolic as S
    from runtime.cuda.device import get_device

    sx = S.matrix("x")
    f = S.compile([sx], S.logsumexp(sx, axis=1), device="cuda")
    f.device_outputs = True
    dx = get_device().to_device(x)
    return lambda: f(dx)


def e2_torch(x, compiled=False):
    import torch

    fn = (
        torch.compile(lambda x: torch.logsumexp(x, 1))
        if compiled
        else (lambda x: torch.logsumexp(x, 1))
    )
    tx = torch.from_numpy(x).cuda()
    return lambda: fn(tx)


def e2_cupy(x):
    import cupy as cp

    cx = cp.asarray(x)

    def run():
        m = cx.max(axis=1, keepdims=True)
        return m[:, 0] + cp.log(cp.exp(cx - m).sum(axis=1))

    return run


def m1_inputs():
    params, _, _ = mlp_inputs()
    rng = np.random.default_rng(1)
    x = rng.random((M1_BATCH, params[0].shape[0]), dtype=np.float32)
    labels = rng.integers(0, params[-1].shape[0], M1_BATCH).astype(np.int64)
    return params, x, labels


def m1_ours(params, x, labels):
    import symbolic as S
    from runtime.cuda.device import get_device

    inputs, cost, updates = mlp_graph(params)
    f = S.compile(inputs, cost, updates=updates, device="cuda")
    dx, dy = get_device().to_device(x), get_device().to_device(labels)
    return lambda: f(dx, dy)  # the loss comes back to the host: one wait per step


def o1_ours(x):
    import symbolic as S
    from runtime.cuda.device import get_device

    sx = S.vector("x")
    f = S.compile([sx], sx + 1, device="cuda", trust_input=True)
    f.device_outputs = True
    dx = get_device().to_device(x)
    return lambda: f(dx)


def o1_torch(x):
    import torch

    tx = torch.from_numpy(x).cuda()
    return lambda: tx + 1


def o1_cupy(x):
    import cupy as cp

    cx = cp.asarray(x)
    return lambda: cx + 1


def compiled(builder):
    return functools.partial(builder, compiled=True)


def on_gpu(builder):
    return functools.partial(builder, device="cuda")


WORKLOADS = {
    "E1": (
        e1_inputs,
        e1_reference,
        e1_ours,
        {"cupy": e1_cupy, "torch": e1_torch, "torch.compile": compiled(e1_torch)},
    ),
    "E2": (
        e2_inputs,
        e2_reference,
        e2_ours,
        {"cupy": e2_cupy, "torch": e2_torch, "torch.compile": compiled(e2_torch)},
    ),
    "M1": (
        m1_inputs,
        mlp_reference,
        m1_ours,
        {"torch": on_gpu(mlp_torch), "torch.compile": compiled(on_gpu(mlp_torch))},
    ),
    "O1": (
        lambda: (np.ones(1, np.float32),),
        lambda x: x + 1,
        o1_ours,
        {"cupy": o1_cupy, "torch": o1_torch},
    ),
}
SIZES = {
    "E1": f"{E1_SIZE} float32 elements (2**26), two inputs, on the device",
    "E2": f"{E2_SHAPE[0]}x{E2_SHAPE[1]} float32, reduce axis 1, on the device",
    "M1": f"MLP 784-1024-1024-10, batch {M1_BATCH}, SGD lr {LR}; state and batch on the device",
    "O1": "1-element float32 vector on the device, x + 1, trust_input, device output",
}
BYTES = {"E1": 3 * 4 * E1_SIZE, "E2": 4 * E2_SHAPE[0] * E2_SHAPE[1]}  # moved per call


def measure(name: str, repeat: int, check) -> dict:
    """Our time and each peer's (or why there is none) for one workload."""
    make_inputs, reference, ours, peers = WORKLOADS[name]
    inputs = make_inputs()
    want = reference(*inputs)
    builders = {"ours": ours, **peers}
    row = {"workload": name, "size": SIZES[name], "peers": {}}
    for who in ("ours", *PEERS):
        if who not in builders:
            result = "n/a"
        else:
            try:
                fn = builders[who](*inputs)
                wrong = check(to_numpy(fn()), want, TOLERANCES[name])
                calls = repeat * CALLS_PER_REPEAT.get(name, 1)
                result = wrong or gpu_time(fn, calls, sync_each=name == "M1")
            except ImportError:
                result = "not installed"
            except Exception as e:  # report it and go on
                result = (
                    f"error: {type(e).__name__}: {str(e).splitlines()[0][:60] if str(e) else ''}"
                )
        if who == "ours":
            row["ours_s"] = result
        else:
            row["peers"][who] = result
    return row


def run_suite(only, repeat: int, check) -> tuple[dict, list[dict]]:
    """(the GPU and the copy bandwidth, the rows with targets) for the workloads in `only`."""
    from runtime.cuda.device import get_device

    device = get_device()
    bandwidth = copy_bandwidth(repeat)
    info = {"gpu": device.driver.name, "copy_bandwidth_GBps": bandwidth / 1e9}
    rows = []
    for name in only:
        row = measure(name, repeat, check)
        if name in BYTES:  # E1 ≥ 90% of the copy bandwidth, E2 ≥ 80%
            row["target_s"] = BYTES[name] / ((0.9 if name == "E1" else 0.8) * bandwidth)
            if isinstance(row["ours_s"], float):
                row["bandwidth_share"] = BYTES[name] / row["ours_s"] / bandwidth
        elif name == "M1":  # ≤ PyTorch eager
            torch_s = row["peers"].get("torch")
            row["target_s"] = torch_s if isinstance(torch_s, float) else float("nan")
        else:  # O1 ≤ 15 µs
            row["target_s"] = 15e-6
        rows.append(row)
    return info, rows
