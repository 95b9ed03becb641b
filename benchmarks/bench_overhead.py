"""O1: the cost of calling a compiled function, f(x) = x + 1 on a one-element float32 array.

Two rows: the default call (inputs checked and converted), and the trusted call that skips the
checks (`trust_input`, as PyTensor names it). A peer or a version of ours without a trusted
path reports "n/a" in the second row. Run alone (`python benchmarks/bench_overhead.py`), it
prints the best time per call of each variant, the variants timed in turn: steadier than
medians on a shared machine.
"""

from __future__ import annotations

import inspect

import numpy as np
from harness import NotApplicable


def o1_inputs() -> tuple[np.ndarray]:
    return (np.ones(1, np.float32),)


def o1_reference(x) -> np.ndarray:
    return x + 1


def _ours(device: str, x, trusted: bool):
    import symbolic as S

    sx = S.vector("x")
    if trusted and "trust_input" in inspect.signature(S.compile).parameters:
        f = S.compile([sx], sx + 1, device=device, trust_input=True)
    else:
        f = S.compile([sx], sx + 1, device=device)
        if trusted:
            if not hasattr(f, "trust_input"):
                raise NotApplicable("our Function has no trust_input")
            f.trust_input = True
    return lambda: f(x)


def o1_ours(device: str, x):
    return _ours(device, x, trusted=False)


def o1_ours_trusted(device: str, x):
    return _ours(device, x, trusted=True)


def o1_numpy(x):
    return lambda: x + 1  # the floor: one ufunc call, no compiled-function machinery


def _pytensor(x, trusted: bool):
    import pytensor
    import pytensor.tensor as pt

    px = pt.vector("x", dtype="float32")
    f = pytensor.function([px], px + np.float32(1))
    f.trust_input = trusted
    return lambda: f(x)


def o1_pytensor(x):
    return _pytensor(x, trusted=False)


def o1_pytensor_trusted(x):
    return _pytensor(x, trusted=True)


def o1_jax(x):
    import jax

    f = jax.jit(lambda x: x + 1)
    jx = jax.device_put(x)
    return lambda: f(jx).block_until_ready()


def o1_torch(x):
    import torch

    tx = torch.from_numpy(x)
    return lambda: tx + 1


def _not_applicable(x):
    raise NotApplicable("no trusted-input call")


O1 = {
    "inputs": o1_inputs,
    "reference": o1_reference,
    "ours": o1_ours,
    "peers": {"numpy": o1_numpy, "pytensor": o1_pytensor, "jax": o1_jax, "torch": o1_torch},
    "per_call": True,
    "size": "1-element float32 vector, x + 1",
}
O1_TRUSTED = {
    "inputs": o1_inputs,
    "reference": o1_reference,
    "ours": o1_ours_trusted,
    "peers": {
        "numpy": _not_applicable,
        "pytensor": o1_pytensor_trusted,
        "jax": _not_applicable,
        "torch": _not_applicable,
    },
    "per_call": True,
    "size": "1-element float32 vector, x + 1, trust_input=True",
}


def best_interleaved(rounds: int = 40, number: int = 2000) -> dict:
    """Best time per call of each O1 variant, the variants timed in turn `rounds` times: on a
    loaded machine the best of many short samples moves far less than a median."""
    import timeit

    x = o1_inputs()[0]
    builders = {
        "numpy": lambda: o1_numpy(x),
        "ours": lambda: o1_ours("cpu", x),
        "ours trusted": lambda: o1_ours_trusted("cpu", x),
        "pytensor": lambda: o1_pytensor(x),
        "pytensor trusted": lambda: o1_pytensor_trusted(x),
        "torch": lambda: o1_torch(x),
    }
    calls = {}
    for name, build in builders.items():
        try:
            calls[name] = build()
        except ImportError:
            pass  # a peer that is not installed is left out
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(best[name], timeit.timeit(call, number=number) / number)
    return best


if __name__ == "__main__":  # python benchmarks/bench_overhead.py
    import harness

    harness.configure_threads(2)
    harness.configure_pytensor()
    for name, seconds in best_interleaved().items():
        print(f"{name:18s} {seconds * 1e6:6.2f} µs per call (best of 40 rounds of 2000)")
