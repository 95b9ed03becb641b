"""E1 (a fused elementwise expression) and E2 (row logsumexp), for us and every peer.

Each builder takes the float32 NumPy inputs and returns a call that computes the result into a
fresh array and returns it (JAX blocks until it is ready, so every peer does the same work).
A builder raises ImportError when its library is missing.
"""

from __future__ import annotations

import numpy as np

E1_SIZE = 2**24
E2_SHAPE = (4096, 4096)


def e1_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal(E1_SIZE, dtype=np.float32),
        rng.standard_normal(E1_SIZE, dtype=np.float32),
    )


def e1_reference(x, y) -> np.ndarray:
    x, y = x.astype(np.float64), y.astype(np.float64)
    return np.tanh(x * y + np.exp(-x)) / (1 + np.exp(-y)) + 0.5 * x * x


def e1_ours(device: str, x, y):
    import symbolic as S

    sx, sy = S.vector("x"), S.vector("y")
    f = S.compile(
        [sx, sy], S.tanh(sx * sy + S.exp(-sx)) * S.sigmoid(sy) + 0.5 * sx * sx, device=device
    )
    return lambda: f(x, y)


def e1_numpy(x, y):
    # sigmoid as 1/(1+exp(-y)): NumPy has no sigmoid; this is what a NumPy user writes
    return lambda: np.tanh(x * y + np.exp(-x)) * (1 / (1 + np.exp(-y))) + 0.5 * x * x


def e1_numexpr(x, y):
    import numexpr

    expr = "tanh(x*y + exp(-x)) * (1 / (1 + exp(-y))) + 0.5*x*x"
    return lambda: numexpr.evaluate(expr, local_dict={"x": x, "y": y})


def e1_pytensor(x, y):
    import pytensor
    import pytensor.tensor as pt

    px, py = pt.vector("x", dtype="float32"), pt.vector("y", dtype="float32")
    z = pt.tanh(px * py + pt.exp(-px)) * pt.sigmoid(py) + np.float32(0.5) * px * px
    f = pytensor.function([px, py], z)
    return lambda: f(x, y)


def e1_jax(x, y):
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda x, y: jnp.tanh(x * y + jnp.exp(-x)) * jax.nn.sigmoid(y) + 0.5 * x * x)
    jx, jy = jax.device_put(x), jax.device_put(y)
    return lambda: f(jx, jy).block_until_ready()


def e1_torch(x, y):
    import torch

    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    return lambda: torch.tanh(tx * ty + torch.exp(-tx)) * torch.sigmoid(ty) + 0.5 * tx * tx


def e2_inputs(seed: int = 0) -> tuple[np.ndarray]:
    return (np.random.default_rng(seed).standard_normal(E2_SHAPE, dtype=np.float32),)


def e2_reference(x) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=1)
    return m + np.log(np.exp(x - m[:, None]).sum(axis=1))


def e2_ours(device: str, x):
    import symbolic as S

    sx = S.matrix("x")
    f = S.compile([sx], S.logsumexp(sx, axis=1), device=device)
    return lambda: f(x)


def e2_numpy(x):
    def run():
        m = x.max(axis=1, keepdims=True)  # the stable form: subtract the row max
        return m[:, 0] + np.log(np.exp(x - m).sum(axis=1))

    return run


def e2_numexpr(x):
    import numexpr

    def run():  # numexpr does the exp pass; its reductions are single-threaded and slow
        m = x.max(axis=1, keepdims=True)
        e = numexpr.evaluate("exp(x - m)", local_dict={"x": x, "m": m})
        return m[:, 0] + np.log(e.sum(axis=1))

    return run


def e2_pytensor(x):
    import pytensor
    import pytensor.tensor as pt

    px = pt.matrix("x", dtype="float32")
    f = pytensor.function([px], pt.logsumexp(px, axis=1))
    return lambda: f(x)


def e2_jax(x):
    import jax

    f = jax.jit(lambda x: jax.nn.logsumexp(x, axis=1))
    jx = jax.device_put(x)
    return lambda: f(jx).block_until_ready()


def e2_torch(x):
    import torch

    tx = torch.from_numpy(x)
    return lambda: torch.logsumexp(tx, 1)


E1 = {
    "inputs": e1_inputs,
    "reference": e1_reference,
    "ours": e1_ours,
    "peers": {
        "numpy": e1_numpy,
        "numexpr": e1_numexpr,
        "pytensor": e1_pytensor,
        "jax": e1_jax,
        "torch": e1_torch,
    },
    "size": f"{E1_SIZE} float32 elements (2**24), two inputs",
}
E2 = {
    "inputs": e2_inputs,
    "reference": e2_reference,
    "ours": e2_ours,
    "peers": {
        "numpy": e2_numpy,
        "numexpr": e2_numexpr,
        "pytensor": e2_pytensor,
        "jax": e2_jax,
        "torch": e2_torch,
    },
    "size": f"{E2_SHAPE[0]}x{E2_SHAPE[1]} float32, reduce axis 1",
}
